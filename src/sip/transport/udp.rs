//! UDP transport (I/O): bind with 4 MiB buffers, read datagrams, feed the SIP task.

use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{NetIn, UDP_BUFFER_BYTES};
use crate::sip::core::Peer;
use crate::sip::stats::{SipStats, inc};

/// Binds the UDP socket with large kernel buffers.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // The kernel may clamp these (net.core.rmem_max); a smaller buffer is not an error.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(UDP_BUFFER_BYTES);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// Reads datagrams until shutdown. A full inbound channel drops the datagram (UDP peers
/// retransmit) and counts it.
pub(crate) async fn run_reader(
    socket: Arc<UdpSocket>,
    max: usize,
    tx: mpsc::Sender<NetIn>,
    stats: Arc<SipStats>,
    shutdown: CancellationToken,
) {
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut buf = vec![0u8; 65_536];
    loop {
        let res = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let (n, from) = match res {
            Ok(v) => v,
            // ICMP port unreachable etc. surface here on some systems: keep reading.
            Err(_) => continue,
        };
        let data = &buf[..n];
        if !data.is_empty() && data.iter().all(|b| *b == b'\r' || *b == b'\n') {
            continue; // keep-alive CRLFs on UDP need no answer
        }
        let peer = Peer::Udp(from);
        let msg = if n > max {
            NetIn::TooLarge {
                peer,
                head: data.to_vec(),
            }
        } else {
            NetIn::Message {
                peer,
                local,
                bytes: data.to_vec(),
            }
        };
        if tx.try_send(msg).is_err() {
            inc(&stats.parse_errors_dropped);
        }
    }
}
