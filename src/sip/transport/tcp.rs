//! TCP transport (I/O): listener, one reader and one writer task per connection.
//!
//! A bad message never closes the connection while framing is intact (RFC 3261 §18.3); only a
//! lost frame boundary (no Content-Length, runaway header section) does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{NetIn, WRITE_QUEUE};
use crate::sip::core::Peer;
use crate::sip::framing::{Frame, StreamFramer};
use crate::sip::stats::{SipStats, inc};

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// Accepts connections until shutdown.
pub(crate) async fn run_listener(
    listener: TcpListener,
    max: usize,
    tx: mpsc::Sender<NetIn>,
    stats: Arc<SipStats>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        let Ok((stream, addr)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(run_connection(
            stream,
            addr,
            conn,
            max,
            tx.clone(),
            stats.clone(),
            shutdown.clone(),
        ));
    }
}

async fn run_connection(
    stream: TcpStream,
    addr: SocketAddr,
    conn: u64,
    max: usize,
    tx: mpsc::Sender<NetIn>,
    stats: Arc<SipStats>,
    shutdown: CancellationToken,
) {
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (mut rd, mut wr) = stream.into_split();
    let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    if tx
        .send(NetIn::Opened {
            conn,
            writer: wtx.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(bytes) = wrx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let peer = Peer::Tcp { conn, addr };
    let mut framer = StreamFramer::new(max);
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let n = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
        };
        framer.push(&buf[..n]);
        while let Some(frame) = framer.next_frame() {
            let item = match frame {
                Frame::Message(bytes) => NetIn::Message {
                    peer: peer.clone(),
                    local,
                    bytes,
                },
                Frame::Ping => {
                    // RFC 5626 §3.5.1: CRLFCRLF ping → CRLF pong.
                    let _ = wtx.try_send(b"\r\n".to_vec());
                    continue;
                }
                Frame::Garbage => {
                    inc(&stats.parse_errors_dropped);
                    continue;
                }
                Frame::MissingLength(head) => {
                    let bad = NetIn::Bad {
                        peer: peer.clone(),
                        head,
                        reason: "missing Content-Length",
                    };
                    let _ = tx.send(bad).await;
                    break 'read;
                }
                Frame::TooLarge { head, close } => {
                    let _ = tx
                        .send(NetIn::TooLarge {
                            peer: peer.clone(),
                            head,
                        })
                        .await;
                    if close {
                        break 'read;
                    }
                    continue;
                }
                Frame::Close => {
                    inc(&stats.parse_errors_dropped);
                    break 'read;
                }
            };
            // Back-pressure: a slow SIP task slows this connection's reads, never grows memory.
            if tx.send(item).await.is_err() {
                break 'read;
            }
        }
    }
    let _ = tx.send(NetIn::Closed { conn }).await;
    drop(wtx);
    let _ = writer.await;
}
