//! An in-process WebRTC softphone client (the "browser" of integration tests and of the
//! browser-call benchmark): one UDP socket and one `BrowserPeer` that offers, sends a tone as
//! PCMU every 20 ms and keeps what it hears. Not used by the server itself.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::{BrowserPeer, PeerState, WebrtcError};
use crate::media::g711::G711;
use crate::media::rtp::RtpPacket;

/// The most received audio a client keeps (the last 10 s at 8 kHz).
const KEEP_SAMPLES: usize = 80_000;

/// What a running client has heard and sent so far (shared with whoever started it).
#[derive(Debug, Default)]
pub struct Heard {
    /// Decoded audio received from the server: at least the last 10 s (at most 20 s).
    pub pcm: Vec<i16>,
    /// RTP packets received.
    pub packets: u64,
    /// RTP packets sent.
    pub sent: u64,
    /// The connection came up.
    pub connected: bool,
}

/// A softphone client before it runs: its offer is ready for the server.
pub struct SoftphoneClient {
    peer: BrowserPeer,
    socket: UdpSocket,
    /// Close the connection (DTLS alert) when stopped; `false` vanishes silently, like a
    /// crashed tab or a lost network.
    close_on_stop: bool,
}

impl SoftphoneClient {
    /// Binds a socket on `ip` and makes an offer (PCMU first, PCMA, telephone-event).
    pub async fn new(ip: IpAddr) -> Result<(SoftphoneClient, String), WebrtcError> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(|e| WebrtcError::Rtc(e.to_string()))?;
        let local = socket
            .local_addr()
            .map_err(|e| WebrtcError::Rtc(e.to_string()))?;
        let (peer, offer) = BrowserPeer::offer(Instant::now(), local, local, G711::Pcmu)?;
        Ok((
            SoftphoneClient {
                peer,
                socket,
                close_on_stop: true,
            },
            offer,
        ))
    }

    /// When stopped, goes silent without closing (a crash or a network loss, not a hang-up).
    pub fn vanish_on_stop(mut self) -> SoftphoneClient {
        self.close_on_stop = false;
        self
    }

    /// Applies the server's answer.
    pub fn accept_answer(&mut self, answer_sdp: &str) -> Result<(), WebrtcError> {
        self.peer.accept_answer(Instant::now(), answer_sdp)
    }

    /// Runs until `stop`: sends `tone_hz` (0 = silence) as 20 ms frames, records what arrives.
    pub async fn run(mut self, tone_hz: f64, heard: Arc<Mutex<Heard>>, stop: CancellationToken) {
        let mut buf = vec![0u8; 2048];
        let mut pcm = Vec::with_capacity(160);
        let mut payload = Vec::with_capacity(160);
        let (mut seq, mut ts, mut phase) = (0u16, 0u32, 0f64);
        let mut next_frame = Instant::now();
        loop {
            let now = Instant::now();
            if now >= next_frame {
                next_frame += Duration::from_millis(20);
                if let Some(f) = self.peer.format() {
                    pcm.clear();
                    for _ in 0..160 {
                        let v = if tone_hz > 0.0 {
                            8000.0 * phase.sin()
                        } else {
                            0.0
                        };
                        phase += 2.0 * std::f64::consts::PI * tone_hz / 8000.0;
                        pcm.push(v as i16);
                    }
                    payload.clear();
                    f.codec.encode_into(&pcm, &mut payload);
                    let p = RtpPacket {
                        payload_type: f.audio_pt,
                        marker: seq == 0,
                        sequence: seq,
                        timestamp: ts,
                        ssrc: 0,
                        payload: &payload,
                    };
                    if self.peer.send_rtp(now, &p) {
                        lock(&heard).sent += 1;
                    }
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(160);
                }
            }
            if self.peer.poll_timeout().is_some_and(|t| t <= now) {
                self.peer.handle_timeout(now);
            }
            self.drain(&heard, &mut pcm);
            let wake = self
                .peer
                .poll_timeout()
                .map_or(next_frame, |t| t.min(next_frame));
            tokio::select! {
                _ = stop.cancelled() => break,
                r = self.socket.recv_from(&mut buf) => if let Ok((n, from)) = r {
                    self.peer.handle_datagram(Instant::now(), &buf[..n], from);
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
        }
        if self.close_on_stop {
            self.peer.close();
            self.drain(&heard, &mut pcm);
        }
    }

    fn drain(&mut self, heard: &Mutex<Heard>, pcm: &mut Vec<i16>) {
        let codec = self.peer.format().map_or(G711::Pcmu, |f| f.codec);
        let audio_pt = self.peer.format().map(|f| f.audio_pt);
        while let Some(p) = self.peer.poll_rtp() {
            let mut h = lock(heard);
            h.packets += 1;
            if Some(p.header.payload_type) == audio_pt {
                pcm.clear();
                codec.decode_into(&p.payload, pcm);
                h.pcm.extend_from_slice(pcm);
                // Trimmed in bulk (amortised): the last KEEP_SAMPLES to twice that are kept.
                if h.pcm.len() > 2 * KEEP_SAMPLES {
                    let excess = h.pcm.len() - KEEP_SAMPLES;
                    h.pcm.drain(..excess);
                }
            }
        }
        if self.peer.state() == PeerState::Connected {
            lock(heard).connected = true;
        }
        while let Some((data, to)) = self.peer.poll_transmit() {
            let _ = self.socket.try_send_to(&data, to);
        }
    }
}

fn lock(h: &Mutex<Heard>) -> std::sync::MutexGuard<'_, Heard> {
    h.lock().unwrap_or_else(PoisonError::into_inner)
}
