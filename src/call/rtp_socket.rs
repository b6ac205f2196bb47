//! A call's UDP media sockets (I/O driver: the caller's RTP, the agent phone's RTP, the browser
//! leg's ICE/DTLS/SRTP): registered with the runtime for reading only; sends are plain
//! non-blocking `sendto`s that never wait and never wake the runtime.
//!
//! `tokio::net::UdpSocket` registers for write readiness too, so every datagram we send makes
//! the kernel signal write space to the runtime's epoll when its buffer is freed: one readiness
//! event per packet for the I/O driver to process, 250,000 a second with 5,000 calls in the
//! IVR (issue 12's profile: `sock_wfree` → epoll wake-ups, `ScheduledIo::wake`). Our sends are
//! fire-and-forget (a frame that finds the buffer full is dropped, late audio is worthless), so
//! nothing ever waits for write space and the registration can be for reads alone. Linux/Unix
//! only (`AsyncFd`), as the server is.

use std::io;
use std::net::SocketAddr;

use std::sync::Mutex;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::pacer::StreamState;

/// One RTP socket: readable through the runtime, writable from any thread.
#[derive(Debug)]
pub(crate) struct RtpSocket {
    fd: AsyncFd<std::net::UdpSocket>,
    /// The pacer's state for the stream sent from here (`call::pacer`).
    pub(super) paced: Mutex<StreamState>,
}

impl RtpSocket {
    /// Binds `addr` (port 0: any free port), non-blocking, registered for reads.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<RtpSocket> {
        let socket = std::net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        // Deprecated as unsound for inner types whose descriptor may change or close while
        // registered (tokio#8587); ours is a `std::net::UdpSocket` the `AsyncFd` owns, whose
        // descriptor lives exactly as long as the registration. The safe constructors all
        // register for writes as well, which is what this type exists to avoid.
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(socket, Interest::READABLE)?;
        Ok(RtpSocket {
            fd,
            paced: Mutex::default(),
        })
    }

    /// The bound address.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// Waits for the next datagram.
    pub(crate) async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            let mut ready = self.fd.readable().await?;
            match ready.try_io(|fd| fd.get_ref().recv_from(buf)) {
                Ok(result) => return result,
                // Readiness was stale: wait again.
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends one datagram now; `WouldBlock` when the socket buffer is full (never waits).
    pub(crate) fn try_send_to(&self, packet: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.fd.get_ref().send_to(packet, to)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sends_and_receives_over_loopback() {
        let a = RtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let b = RtpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        a.try_send_to(b"one", b.local_addr().unwrap()).unwrap();
        a.try_send_to(b"two", b.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        for want in [&b"one"[..], b"two"] {
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], want);
            assert_eq!(from, a.local_addr().unwrap());
        }
    }
}
