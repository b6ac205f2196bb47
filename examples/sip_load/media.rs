//! The load client's media for `--rtp on`: one UDP socket per call on 127.0.0.1 that sends
//! PCMU frames every 20 ms (paced by the server's own `RtpSender`) to the address the server's
//! SDP answer names, and counts the RTP the server sends back, and among it the frames it sent
//! (they start with [`MARK`]: an agent phone echoed them through the bridge). With `--srtp` each
//! packet is protected after `build` and unprotected before `parse` (`firstline::media::srtp`).
//! [`EchoLeg`] is an agent phone's side (`--mode agents`): every packet back to the server.

use std::net::{IpAddr, SocketAddr};

use std::cell::Cell;

use firstline::media::rtp::{RtpPacket, RtpSender};
use firstline::media::srtp::SrtpSession;
use tokio::net::UdpSocket;
use tokio::time::sleep_until;

/// PCMU payload type (RFC 3551 §6).
const PCMU: u8 = 0;
/// What every frame we send starts with; the rest is PCMU silence (µ-law 0xFF is zero). The
/// server's prompts and hold music never start so (µ-law, not text).
pub(crate) const MARK: &[u8; 16] = b"firstline-echo!\0";

/// One 20 ms PCMU frame: [`MARK`], then silence.
fn frame() -> [u8; 160] {
    let mut f = [0xFF; 160];
    f[..MARK.len()].copy_from_slice(MARK);
    f
}

/// Media counters of a whole run (every call or phone adds to them).
#[derive(Debug, Default)]
pub(crate) struct MediaStats {
    /// RTP packets sent.
    pub(crate) sent: Cell<u64>,
    /// PCMU packets received (after unprotecting, with SRTP).
    pub(crate) received: Cell<u64>,
    /// Of those, our own frames coming back (echoed by an agent phone through the bridge).
    pub(crate) echoed: Cell<u64>,
    /// Packets that failed to unprotect (authentication, replay, malformed).
    pub(crate) srtp_errors: Cell<u64>,
    /// Calls (or answered INVITEs) whose media was SRTP.
    pub(crate) srtp_calls: Cell<u64>,
}

impl MediaStats {
    /// The counters as JSON fields.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "rtp_sent": self.sent.get(),
            "rtp_received": self.received.get(),
            "rtp_echoed": self.echoed.get(),
            "srtp_errors": self.srtp_errors.get(),
            "srtp_calls": self.srtp_calls.get(),
        })
    }
}

fn add(c: &Cell<u64>, n: u64) {
    c.set(c.get() + n);
}

/// Unprotects `packet` in place when there is SRTP: the plain length, or `None` (counted).
fn open(srtp: Option<&mut SrtpSession>, packet: &mut [u8], stats: &MediaStats) -> Option<usize> {
    match srtp {
        None => Some(packet.len()),
        Some(s) => match s.unprotect(packet) {
            Ok(n) => Some(n),
            Err(_) => {
                add(&stats.srtp_errors, 1);
                None
            }
        },
    }
}

/// The bytes to send for the plain packet `rtp`: itself, or protected into `sealed`.
fn seal<'a>(
    srtp: Option<&mut SrtpSession>,
    rtp: &'a [u8],
    sealed: &'a mut Vec<u8>,
) -> Result<&'a [u8], String> {
    match srtp {
        None => Ok(rtp),
        Some(s) => {
            s.protect(rtp, sealed)
                .map_err(|e| format!("SRTP protect: {e}"))?;
            Ok(sealed)
        }
    }
}

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

    /// Starts sending to `remote` now (protected by `srtp`, if any).
    pub(crate) fn start(self, remote: SocketAddr, srtp: Option<SrtpSession>) -> RtpLeg {
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
            srtp,
            frame: frame(),
            out: Vec::with_capacity(200),
            sealed: Vec::with_capacity(220),
            buf: vec![0u8; 2048],
            received: 0,
            echoed: 0,
        }
    }

    /// An agent phone's echo of whatever the server sends to this socket.
    pub(crate) fn echo(self, remote: SocketAddr, srtp: Option<SrtpSession>) -> EchoLeg {
        EchoLeg {
            sock: self.sock,
            remote,
            srtp,
            sealed: Vec::with_capacity(220),
            buf: vec![0u8; 2048],
        }
    }
}

/// A call's running RTP stream.
pub(crate) struct RtpLeg {
    sock: UdpSocket,
    remote: SocketAddr,
    sender: RtpSender,
    srtp: Option<SrtpSession>,
    frame: [u8; 160],
    out: Vec<u8>,
    sealed: Vec<u8>,
    buf: Vec<u8>,
    received: u64,
    echoed: u64,
}

impl RtpLeg {
    /// Sends the frames that are due, or takes one packet from the server (cancel safe).
    pub(crate) async fn step(&mut self, stats: &MediaStats) -> Result<(), String> {
        let due = self.sender.poll_timeout();
        tokio::select! {
            _ = sleep_until(due.into()) => {
                for _ in 0..self.sender.due(std::time::Instant::now()) {
                    self.out.clear();
                    self.sender.build(&self.frame, false, &mut self.out);
                    let wire = seal(self.srtp.as_mut(), &self.out, &mut self.sealed)?;
                    (self.sock.send_to(wire, self.remote).await)
                        .map_err(|e| format!("RTP send: {e}"))?;
                    add(&stats.sent, 1);
                }
            }
            r = self.sock.recv_from(&mut self.buf) => {
                let (n, _) = r.map_err(|e| format!("RTP receive: {e}"))?;
                let Some(packet) = self.buf.get_mut(..n) else { return Ok(()) };
                let Some(n) = open(self.srtp.as_mut(), packet, stats) else { return Ok(()) };
                let Some(p) = packet.get(..n).and_then(|b| RtpPacket::parse(b).ok()) else {
                    return Ok(());
                };
                if p.payload_type == PCMU {
                    self.received += 1;
                    add(&stats.received, 1);
                    if p.payload.starts_with(MARK) {
                        self.echoed += 1;
                        add(&stats.echoed, 1);
                    }
                }
            }
        }
        Ok(())
    }

    /// PCMU packets received from the server so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Of those, our own frames echoed back.
    pub(crate) fn echoed(&self) -> u64 {
        self.echoed
    }
}

/// An agent phone's media: what the server sends comes back to it, re-protected under the
/// phone's key with SRTP.
pub(crate) struct EchoLeg {
    sock: UdpSocket,
    remote: SocketAddr,
    srtp: Option<SrtpSession>,
    sealed: Vec<u8>,
    buf: Vec<u8>,
}

impl EchoLeg {
    /// Takes one packet and sends it back (a step cancelled during the send loses that one
    /// packet, as the network might).
    pub(crate) async fn step(&mut self, stats: &MediaStats) -> Result<(), String> {
        let (n, _) =
            (self.sock.recv_from(&mut self.buf).await).map_err(|e| format!("RTP receive: {e}"))?;
        let Some(packet) = self.buf.get_mut(..n) else {
            return Ok(());
        };
        let Some(n) = open(self.srtp.as_mut(), packet, stats) else {
            return Ok(());
        };
        let Some(plain) = packet.get(..n) else {
            return Ok(());
        };
        if RtpPacket::parse(plain).is_err() {
            return Ok(());
        }
        add(&stats.received, 1);
        let wire = seal(self.srtp.as_mut(), plain, &mut self.sealed)?;
        (self.sock.send_to(wire, self.remote).await).map_err(|e| format!("RTP send: {e}"))?;
        add(&stats.echoed, 1);
        Ok(())
    }
}
