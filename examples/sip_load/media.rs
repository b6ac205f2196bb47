//! The load client's media for `--rtp on`: one UDP socket per call on 127.0.0.1 that sends
//! PCMU frames every 20 ms (paced by the server's own `RtpSender`) to the address the server's
//! SDP answer names, and counts the RTP the server sends back. An SRTP leg (`--srtp`, once the
//! server speaks SDES-SRTP) would protect each packet after `build` and unprotect before `parse`.

use std::net::{IpAddr, SocketAddr};

use firstline::media::rtp::{RtpPacket, RtpSender};
use tokio::net::UdpSocket;
use tokio::time::sleep_until;

/// PCMU payload type (RFC 3551 §6).
const PCMU: u8 = 0;
/// One 20 ms frame of PCMU silence (µ-law 0xFF is zero).
const SILENCE: [u8; 160] = [0xFF; 160];

/// A call's RTP socket, bound before the offer names it.
pub(crate) struct RtpSocket {
    sock: UdpSocket,
    local: SocketAddr,
}

impl RtpSocket {
    /// Binds a socket on `ip` port 0.
    pub(crate) async fn bind(ip: IpAddr) -> Result<RtpSocket, String> {
        let sock = (UdpSocket::bind(SocketAddr::new(ip, 0)).await)
            .map_err(|e| format!("RTP socket: {e}"))?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        Ok(RtpSocket { sock, local })
    }

    /// The address the offer names.
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Starts sending to `remote` now.
    pub(crate) fn start(self, remote: SocketAddr) -> RtpLeg {
        let ssrc = rand::random();
        let sender = RtpSender::new(
            ssrc,
            PCMU,
            rand::random(),
            rand::random(),
            std::time::Instant::now(),
        );
        RtpLeg {
            sock: self.sock,
            remote,
            sender,
            out: Vec::with_capacity(200),
            buf: vec![0u8; 2048],
            received: 0,
        }
    }
}

/// A call's running RTP stream.
pub(crate) struct RtpLeg {
    sock: UdpSocket,
    remote: SocketAddr,
    sender: RtpSender,
    out: Vec<u8>,
    buf: Vec<u8>,
    received: u64,
}

impl RtpLeg {
    /// Sends the frames that are due, or takes one packet from the server (cancel safe).
    pub(crate) async fn step(&mut self) -> Result<(), String> {
        let due = self.sender.poll_timeout();
        tokio::select! {
            _ = sleep_until(due.into()) => {
                for _ in 0..self.sender.due(std::time::Instant::now()) {
                    self.out.clear();
                    self.sender.build(&SILENCE, false, &mut self.out);
                    (self.sock.send_to(&self.out, self.remote).await)
                        .map_err(|e| format!("RTP send: {e}"))?;
                }
            }
            r = self.sock.recv_from(&mut self.buf) => {
                let (n, _) = r.map_err(|e| format!("RTP receive: {e}"))?;
                let pcmu = self.buf.get(..n).and_then(|b| RtpPacket::parse(b).ok())
                    .is_some_and(|p| p.payload_type == PCMU);
                self.received += u64::from(pcmu);
            }
        }
        Ok(())
    }

    /// PCMU packets received from the server so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }
}
