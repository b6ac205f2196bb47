//! One SIP stream connection (I/O), TCP or TLS alike: a reader that frames messages under the
//! connection's deadlines (`limits::ConnClock`) and a writer fed by the SIP task.
//!
//! A bad message never closes the connection while framing is intact (RFC 3261 §18.3); only a
//! lost frame boundary (no Content-Length, runaway header section), a deadline, or the peer does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::limits::{ConnClock, ConnGuard, ConnTable, keeps_connection};
use super::{NetIn, WRITE_QUEUE};
use crate::sip::core::Peer;
use crate::sip::framing::{Frame, StreamFramer};
use crate::sip::stats::{SipStats, inc};

/// What every connection of a listener shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pub(crate) max_message: usize,
    pub(crate) tx: mpsc::Sender<NetIn>,
    pub(crate) stats: Arc<SipStats>,
    pub(crate) table: Arc<ConnTable>,
    pub(crate) shutdown: CancellationToken,
}

/// Runs one connection until the peer, a deadline, a framing error or shutdown ends it.
/// `clock` has already seen the handshake (if any); `guard` frees the connection's place.
pub(crate) async fn run<S>(
    io: S,
    peer: Peer,
    local: SocketAddr,
    mut clock: ConnClock,
    guard: ConnGuard,
    sh: Shared,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let conn = match &peer {
        Peer::Tcp { conn, .. } => *conn,
        Peer::Udp(_) => return,
    };
    let (mut rd, mut wr) = tokio::io::split(io);
    let (wtx, mut wrx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    if sh
        .tx
        .send(NetIn::Opened {
            conn,
            writer: wtx.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    // Set by the writer once we sent something that makes the connection worth keeping.
    let kept = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let kept = kept.clone();
        async move {
            while let Some(bytes) = wrx.recv().await {
                if !kept.load(Ordering::Relaxed) && keeps_connection(&bytes) {
                    kept.store(true, Ordering::Relaxed);
                }
                if wr.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            let _ = wr.shutdown().await;
        }
    });
    let mut framer = StreamFramer::new(sh.max_message);
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let (at, why) = clock.next(kept.load(Ordering::Relaxed));
        let n = tokio::select! {
            _ = sh.shutdown.cancelled() => break,
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {
                // `kept` may have changed while we slept: ask again before cutting.
                if clock.expired(Instant::now(), kept.load(Ordering::Relaxed)).is_some() {
                    tracing::debug!(conn, peer = %peer.addr(), ?why, "SIP connection cut");
                    sh.table.count_expired(why);
                    break;
                }
                continue;
            }
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
        };
        let now = Instant::now();
        clock.on_bytes(now);
        framer.push(&buf[..n]);
        while let Some(frame) = framer.next_frame() {
            let item = match frame {
                Frame::Message(bytes) => {
                    clock.on_message(now);
                    NetIn::Message {
                        peer: peer.clone(),
                        local,
                        bytes,
                    }
                }
                Frame::Ping => {
                    clock.on_ping(now);
                    // RFC 5626 §3.5.1: CRLFCRLF ping → CRLF pong.
                    let _ = wtx.try_send(b"\r\n".to_vec());
                    continue;
                }
                Frame::Garbage => {
                    inc(&sh.stats.parse_errors_dropped);
                    continue;
                }
                Frame::MissingLength(head) => {
                    let bad = NetIn::Bad {
                        peer: peer.clone(),
                        head,
                        reason: "missing Content-Length",
                    };
                    let _ = sh.tx.send(bad).await;
                    break 'read;
                }
                Frame::TooLarge { head, close } => {
                    clock.on_message(now);
                    let _ = sh
                        .tx
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
                    inc(&sh.stats.parse_errors_dropped);
                    break 'read;
                }
            };
            // Back-pressure: a slow SIP task slows this connection's reads, never grows memory.
            if sh.tx.send(item).await.is_err() {
                break 'read;
            }
        }
    }
    let _ = sh.tx.send(NetIn::Closed { conn }).await;
    drop(wtx);
    let _ = writer.await;
    drop(guard);
}

/// Marks an accepted socket: no Nagle (small SIP messages), and TCP keep-alive so a vanished
/// peer's kept connection is found dead by the kernel (60 s idle, then 5 probes 10 s apart).
pub(crate) fn tune(stream: &tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let ka = socket2::TcpKeepalive::new()
        .with_time(std::time::Duration::from_secs(60))
        .with_interval(std::time::Duration::from_secs(10))
        .with_retries(5);
    let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
}
