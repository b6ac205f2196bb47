//! The browser agent leg (driver): the WebRTC peer of a call offered to an agent whose device is
//! the browser, the relay between the caller's RTP and the browser's SRTP, the browser-gone rule
//! (no RTP for `media_timeout_ms` → hold, then the grace period) and the quality samples. The
//! desk's requests and hold are in `browser_control.rs`.
//!
//! The peer itself is sans-IO (`crate::webrtc`); the session owns its UDP socket, like the phone
//! leg's RTP socket, and drives it from the same `select!` loop.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::call::rtp_socket::RtpSocket;

use super::{Ending, Phase, Session};
use crate::call::browser::Registration;
use crate::domain::CallId;
use crate::events::EventKind;
use crate::media::g711::G711;
use crate::media::relay::{Relayed, RtpRelay};
use crate::media::rtp::RtpPacket;
use crate::store::{Outcome, QualitySample, QualitySource, now_ms};
use crate::webrtc::{BrowserPeer, PeerState};

/// A decoded 20 ms frame whose mean magnitude exceeds this is speech or tone, not silence
/// (about -40 dBFS).
const VOICED_MEAN: u32 = 300;

/// Most DTMF digits in one request.
pub(crate) const MAX_DIGITS: usize = 32;

/// The browser side of one agent call.
pub(super) struct BrowserLeg {
    /// Keeps the call reachable from the desk; dropped with the leg.
    _registration: Registration,
    pub(super) peer: Option<BrowserPeer>,
    /// The UDP socket's address (bound at the first answer, kept across reconnects).
    pub(super) local: Option<SocketAddr>,
    pub(super) to_browser: Option<RtpRelay>,
    /// Browser → caller; `None` while the server itself talks to the caller (hold music, DTMF),
    /// rebuilt from the caller stream's position afterwards.
    pub(super) to_caller: Option<RtpRelay>,
    pub(super) last_rx: Instant,
    /// The browser is gone (reload, crash): the call waits for it until this instant.
    pub(super) gone_until: Option<Instant>,
    /// The agent pressed Hold.
    pub(super) held: bool,
    /// Hold music is playing to the caller (our sender owns the caller's stream).
    pub(super) music: bool,
    /// The hold state last published (`call_held`): held by the agent or the browser gone.
    pub(super) announced_hold: bool,
    pub(super) muted: bool,
    pub(super) voiced_to_agent_ms: i64,
    pub(super) voiced_from_agent_ms: i64,
    pub(super) next_stats: Instant,
    pub(super) reconnects: u32,
    pub(super) pcm: Vec<i16>,
    /// A muted agent's frames, replaced by this silence (reused, no allocation per packet).
    pub(super) silence: Vec<u8>,
    pub(super) out: Vec<u8>,
}

impl BrowserLeg {
    pub(super) fn new(registration: Registration, now: Instant) -> BrowserLeg {
        BrowserLeg {
            _registration: registration,
            peer: None,
            local: None,
            to_browser: None,
            to_caller: None,
            last_rx: now,
            gone_until: None,
            held: false,
            music: false,
            announced_hold: false,
            muted: false,
            voiced_to_agent_ms: 0,
            voiced_from_agent_ms: 0,
            next_stats: now,
            reconnects: 0,
            pcm: Vec::with_capacity(160),
            silence: Vec::with_capacity(160),
            out: Vec::with_capacity(200),
        }
    }

    /// Whether the caller hears hold music instead of the agent.
    pub(super) fn on_hold(&self) -> bool {
        self.held || self.gone_until.is_some()
    }

    /// The earliest instant the leg needs the loop to wake.
    pub(super) fn poll_timeout(&mut self) -> Option<Instant> {
        let mut t = self.peer.as_mut().and_then(|p| p.poll_timeout());
        if self.peer.is_some() {
            t = Some(t.map_or(self.next_stats, |t| t.min(self.next_stats)));
        }
        if let Some(g) = self.gone_until {
            t = Some(t.map_or(g, |t| t.min(g)));
        }
        t
    }

    /// Relays one caller packet to the browser.
    pub(super) fn relay_to_browser(&mut self, now: Instant, packet: &RtpPacket<'_>, caller: G711) {
        if self.on_hold() {
            return;
        }
        let (Some(relay), Some(peer)) = (self.to_browser.as_mut(), self.peer.as_mut()) else {
            return;
        };
        // Re-stamped in place: the browser's stack builds (and encrypts) the datagram itself.
        // Counted only when handed to the browser leg: a zero shows one-way audio.
        if let Some((_, p)) = relay.restamp(packet)
            && peer.send_rtp(now, &p)
            && packet.payload.len() <= 320
            && voiced(caller, packet.payload, &mut self.pcm)
        {
            self.voiced_to_agent_ms += 20;
        }
    }

    /// The server's quality sample now: the peer's RTCP figures and the voiced-audio counters.
    fn sample(&mut self, call: &CallId, now: Instant) -> Option<QualitySample> {
        let q = self.peer.as_mut()?.quality(now);
        Some(QualitySample {
            call_id: call.clone(),
            at: now_ms(),
            source: QualitySource::Server,
            packets_received: q.packets_received,
            packets_lost: q.packets_lost,
            loss_pct: q.loss_pct,
            jitter_ms: q.jitter_ms,
            rtt_ms: q.rtt_ms,
            voiced_to_agent_ms: Some(self.voiced_to_agent_ms),
            voiced_from_agent_ms: Some(self.voiced_from_agent_ms),
            audio_level: None,
        })
    }

    /// Sends whatever the peer has queued on the socket. Never waits.
    pub(super) fn transmit(&mut self, socket: &RtpSocket) {
        let Some(peer) = self.peer.as_mut() else {
            return;
        };
        while let Some((data, to)) = peer.poll_transmit() {
            if let Err(e) = socket.try_send_to(&data, to)
                && e.kind() != io::ErrorKind::WouldBlock
            {
                tracing::debug!(error = %e, %to, "datagram to the browser failed");
            }
        }
    }
}

/// Whether a G.711 frame carries sound (speech, tone) rather than silence.
fn voiced(codec: G711, payload: &[u8], pcm: &mut Vec<i16>) -> bool {
    pcm.clear();
    codec.decode_into(payload, pcm);
    if pcm.is_empty() {
        return false;
    }
    let sum: u32 = pcm.iter().map(|s| u32::from(s.unsigned_abs())).sum();
    sum / pcm.len() as u32 > VOICED_MEAN
}

impl Session {
    /// A datagram on the browser leg's socket.
    pub(super) fn on_browser_datagram(&mut self, data: &[u8], from: SocketAddr) {
        let now = Instant::now();
        let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut()) else {
            return;
        };
        let Some(peer) = b.peer.as_mut() else {
            return;
        };
        peer.handle_datagram(now, data, from);
        self.pump_browser(now);
    }

    /// Relays what the browser sent, and sends what the peer queued.
    pub(super) fn pump_browser(&mut self, now: Instant) {
        let talking = self.playback.is_some();
        let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut()) else {
            return;
        };
        let Some(peer) = b.peer.as_mut() else {
            return;
        };
        let format = peer.format();
        while let Some(p) = peer.poll_rtp() {
            b.last_rx = now;
            let (Some(format), Some(relay)) = (format, b.to_caller.as_mut()) else {
                continue;
            };
            if talking || b.held || b.gone_until.is_some() {
                continue;
            }
            let payload: &[u8] = if b.muted && p.header.payload_type == format.audio_pt {
                // Muted: the caller's stream goes on, with silence (no RTP timeout anywhere).
                b.silence.clear();
                b.silence
                    .resize(p.payload.len().min(320), super::play::silence(format.codec));
                &b.silence
            } else {
                &p.payload
            };
            let packet = RtpPacket {
                payload_type: p.header.payload_type,
                marker: p.header.marker,
                sequence: p.header.sequence_number,
                timestamp: p.header.timestamp,
                ssrc: p.header.ssrc,
                payload,
            };
            b.out.clear();
            if relay.relay(&packet, &mut b.out) != Relayed::Dropped
                && self.media.send_raw(now, &b.out)
                && !b.muted
                && packet.payload_type == format.audio_pt
                && packet.payload.len() <= 320
                && voiced(format.codec, packet.payload, &mut b.pcm)
            {
                b.voiced_from_agent_ms += 20;
            }
        }
        if let Some(socket) = self.agent_socket.as_ref() {
            b.transmit(socket);
        }
    }

    /// Timers of the browser leg: the peer's, gone detection and grace, quality samples.
    pub(super) async fn on_browser_timer(&mut self, now: Instant) -> Option<Ending> {
        let bridged = self.phase == Phase::Bridged;
        let media_timeout = Duration::from_millis(self.ctx.webrtc.media_timeout_ms);
        let grace = Duration::from_secs(self.ctx.webrtc.reconnect_grace_secs);
        let stats_every = Duration::from_millis(self.ctx.webrtc.stats_interval_ms);
        let agent_id = self.agent.as_ref().map(|a| a.agent.clone())?;
        let b = self.agent.as_mut().and_then(|a| a.browser.as_mut())?;
        if let Some(peer) = b.peer.as_mut()
            && peer.poll_timeout().is_some_and(|t| t <= now)
        {
            peer.handle_timeout(now);
        }
        let mut sample = None;
        if bridged {
            if let Some(until) = b.gone_until {
                if now >= until {
                    self.leg.hangup().await;
                    return Some(Ending::by_server(
                        Outcome::Answered,
                        "agent's browser did not come back",
                    ));
                }
            } else {
                let failed = b
                    .peer
                    .as_ref()
                    .is_none_or(|p| p.state() == PeerState::Failed);
                if failed || now.duration_since(b.last_rx) > media_timeout {
                    tracing::info!(failed, "browser leg gone; caller on hold");
                    b.gone_until = Some(now + grace);
                    self.refresh_hold(now, "browser_gone");
                    self.pump_browser(now);
                    return None;
                }
            }
            if now >= b.next_stats {
                b.next_stats = now + stats_every;
                sample = b.sample(&self.id, now);
            }
        }
        self.pump_browser(now);
        if let Some(s) = sample {
            self.ctx.events.publish(EventKind::CallQuality {
                call_id: self.id.clone(),
                agent_id,
                source: "server".to_owned(),
                loss_pct: s.loss_pct,
                jitter_ms: s.jitter_ms,
                rtt_ms: s.rtt_ms,
            });
            // Off the media loop: a slow database must not stall the relay.
            let store = self.ctx.store.clone();
            self.ctx.tasks.spawn(async move {
                if let Err(e) = store.record_quality(&s).await {
                    tracing::warn!(error = %e, "cannot store a quality sample");
                }
            });
        }
        None
    }

    /// Final quality sample and close, when the call ends.
    pub(super) async fn close_browser(&mut self, b: &mut BrowserLeg) {
        if let Some(s) = b.sample(&self.id, Instant::now()) {
            if let Some(peer) = b.peer.as_mut() {
                peer.close();
            }
            if let Some(socket) = self.agent_socket.as_ref() {
                b.transmit(socket);
            }
            // Off the call task, like every sample: the call's end never waits on the database.
            let store = self.ctx.store.clone();
            self.ctx.tasks.spawn(async move {
                if let Err(e) = store.record_quality(&s).await {
                    tracing::warn!(error = %e, "cannot store the last quality sample");
                }
            });
        }
    }
}
