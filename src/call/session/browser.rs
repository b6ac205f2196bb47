//! The browser agent leg (driver): the WebRTC peer of a call offered to an agent whose device is
//! the browser, the desk's call-control commands, the relay between the caller's RTP and the
//! browser's SRTP, hold (music to the caller), reconnect after a reload, and call quality.
//!
//! The peer itself is sans-IO (`crate::webrtc`); this file owns its UDP socket through the
//! session, like the phone leg's RTP socket, and is driven from the same `select!` loop.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::{Ending, Phase, Session};
use crate::call::browser::{BrowserCallError, BrowserCallStatus, BrowserCommand, Registration};
use crate::domain::CallId;
use crate::events::EventKind;
use crate::media::g711::G711;
use crate::media::prompts::{Playback, Prompt};
use crate::media::relay::{Relayed, RtpRelay};
use crate::media::rtp::RtpPacket;
use crate::store::{HangupBy, Outcome, QualitySample, QualitySource, now_ms};
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
    peer: Option<BrowserPeer>,
    /// The UDP socket's address (bound at the first answer, kept across reconnects).
    local: Option<SocketAddr>,
    to_browser: Option<RtpRelay>,
    /// Browser → caller; `None` while the server itself talks to the caller (hold music, DTMF),
    /// rebuilt from the caller stream's position afterwards.
    to_caller: Option<RtpRelay>,
    pub(super) last_rx: Instant,
    /// The browser is gone (reload, crash): the call waits for it until this instant.
    pub(super) gone_until: Option<Instant>,
    /// The agent pressed Hold.
    held: bool,
    /// Hold music is playing to the caller (our sender owns the caller's stream).
    music: bool,
    /// The hold state last published (`call_held`): held by the agent or the browser gone.
    announced_hold: bool,
    muted: bool,
    voiced_to_agent_ms: i64,
    voiced_from_agent_ms: i64,
    next_stats: Instant,
    reconnects: u32,
    pcm: Vec<i16>,
    out: Vec<u8>,
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
        self.out.clear();
        if relay.relay(packet, &mut self.out) == Relayed::Dropped {
            return;
        }
        // Counted only when handed to the browser leg: a zero shows one-way audio.
        if let Ok(p) = RtpPacket::parse(&self.out)
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
    pub(super) fn transmit(&mut self, socket: &UdpSocket) {
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
    /// Rings the desk of a browser agent: the call waits for the browser's offer (Answer).
    pub(super) fn ring_browser(
        &mut self,
        registration: Registration,
        rx: tokio::sync::mpsc::Receiver<BrowserCommand>,
    ) -> BrowserLeg {
        self.browser_cmds = Some(rx);
        BrowserLeg::new(registration, Instant::now())
    }

    /// A request from the agent's desk.
    pub(super) async fn on_browser_command(
        &mut self,
        cmd: Option<BrowserCommand>,
    ) -> Option<Ending> {
        let Some(cmd) = cmd else {
            self.browser_cmds = None;
            return None;
        };
        let bridged = self.phase == Phase::Bridged;
        match cmd {
            BrowserCommand::Offer { sdp, reply } => {
                let r = self.browser_offer(&sdp).await;
                let _ = reply.send(r);
                None
            }
            BrowserCommand::Hangup { reply } => {
                let _ = reply.send(Ok(()));
                if bridged {
                    self.leg.hangup().await;
                    Some(Ending {
                        outcome: Outcome::Answered,
                        hangup_by: Some(HangupBy::Agent),
                        reason: "agent hung up".to_owned(),
                    })
                } else {
                    // Declined while ringing: the queue moves the caller on.
                    self.agent_failed(
                        crate::acd::FailReason::Rejected,
                        crate::store::OfferResult::Rejected,
                    )
                    .await;
                    None
                }
            }
            BrowserCommand::Hold { on, reply } => {
                let r = if bridged {
                    self.set_agent_hold(on);
                    Ok(())
                } else {
                    Err(BrowserCallError::Conflict(
                        "the call is not connected".to_owned(),
                    ))
                };
                let _ = reply.send(r);
                None
            }
            BrowserCommand::Mute { on, reply } => {
                let r = match self.agent.as_mut().and_then(|a| a.browser.as_mut()) {
                    Some(b) if bridged => {
                        b.muted = on;
                        Ok(())
                    }
                    _ => Err(BrowserCallError::Conflict(
                        "the call is not connected".to_owned(),
                    )),
                };
                let _ = reply.send(r);
                None
            }
            BrowserCommand::Dtmf { digits, reply } => {
                let on_hold = self
                    .agent
                    .as_ref()
                    .and_then(|a| a.browser.as_ref())
                    .is_some_and(BrowserLeg::on_hold);
                let r = if on_hold {
                    Err(BrowserCallError::Conflict(
                        "the caller is on hold".to_owned(),
                    ))
                } else if !bridged {
                    Err(BrowserCallError::Conflict(
                        "the call is not connected".to_owned(),
                    ))
                } else if digits.is_empty()
                    || digits.len() > MAX_DIGITS
                    || !digits.chars().all(|c| "0123456789*#ABCD".contains(c))
                {
                    Err(BrowserCallError::Invalid(format!(
                        "digits must be 1 to {MAX_DIGITS} of 0-9 * # A-D"
                    )))
                } else {
                    self.send_digits_to_caller(&digits);
                    Ok(())
                };
                let _ = reply.send(r);
                None
            }
            BrowserCommand::Status { reply } => {
                if let Some(b) = self.agent.as_ref().and_then(|a| a.browser.as_ref()) {
                    let state = if !bridged {
                        "ringing"
                    } else if b.gone_until.is_some() {
                        "browser_gone"
                    } else if b.held {
                        "held"
                    } else {
                        "connected"
                    };
                    let _ = reply.send(BrowserCallStatus {
                        call_id: self.id.clone(),
                        state,
                        device: "browser",
                        held: b.held,
                        muted: b.muted,
                    });
                }
                None
            }
        }
    }

    /// The browser's offer: answers the ringing call, or reconnects the bridged one.
    async fn browser_offer(&mut self, sdp: &str) -> Result<String, BrowserCallError> {
        let bridged = self.phase == Phase::Bridged;
        if self
            .agent
            .as_ref()
            .and_then(|a| a.browser.as_ref())
            .is_none()
        {
            return Err(BrowserCallError::Gone);
        }
        if self.agent_socket.is_none() {
            let bind = SocketAddr::new(self.ctx.webrtc.bind_ip, 0);
            match UdpSocket::bind(bind).await {
                Ok(s) => self.agent_socket = Some(s),
                Err(e) => {
                    tracing::error!(error = %e, "cannot bind the browser leg's socket");
                    return Err(BrowserCallError::Conflict("no media port".to_owned()));
                }
            }
        }
        let local = self
            .agent_socket
            .as_ref()
            .and_then(|s| s.local_addr().ok())
            .ok_or_else(|| BrowserCallError::Conflict("no media port".to_owned()))?;
        let candidate = SocketAddr::new(self.ctx.webrtc.candidate_ip(), local.port());
        let now = Instant::now();
        let (peer, answer) = BrowserPeer::answer(now, sdp, local, candidate, self.media.codec())
            .map_err(|e| BrowserCallError::Invalid(e.to_string()))?;
        let Some(format) = peer.format() else {
            return Err(BrowserCallError::Invalid("no codec negotiated".to_owned()));
        };
        if !bridged && !self.connect_agent(format).await {
            return Err(BrowserCallError::Conflict(
                "the call was offered to another agent meanwhile".to_owned(),
            ));
        }
        let caller_format = self.media.format();
        let caller_stream = self.media.stream_position();
        let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut()) else {
            return Err(BrowserCallError::Gone);
        };
        if let Some(mut old) = b.peer.replace(peer) {
            // Its close alert goes out on the same socket (the old tab may still listen).
            old.close();
            if let Some(socket) = self.agent_socket.as_ref() {
                while let Some((data, to)) = old.poll_transmit() {
                    let _ = socket.try_send_to(&data, to);
                }
            }
            b.reconnects += 1;
        }
        b.local = Some(local);
        b.last_rx = now;
        b.next_stats = now + Duration::from_millis(self.ctx.webrtc.stats_interval_ms);
        b.to_browser = Some(RtpRelay::new(caller_format, format, 0, rand::random()));
        // Browser → caller continues our stream where it stands (prompts, music or relay).
        let (ssrc, seq, ts) = match b.to_caller.as_ref() {
            Some(r) => r.position(),
            None => (caller_stream.0, caller_stream.1, Some(caller_stream.2)),
        };
        let relay = RtpRelay::new(format, caller_format, ssrc, seq);
        b.to_caller = Some(match ts {
            Some(ts) => relay.continuing(ts),
            None => relay,
        });
        b.gone_until = None;
        if bridged {
            tracing::info!(reconnects = b.reconnects, "browser leg reconnected");
            // Off the media loop: the database must not stall the relay.
            let (store, id) = (self.ctx.store.clone(), self.id.clone());
            self.ctx.tasks.spawn(async move {
                if let Err(e) = store.add_browser_reconnect(&id).await {
                    tracing::warn!(error = %e, "cannot count the reconnect");
                }
            });
        }
        self.refresh_hold(now, "browser_gone");
        Ok(answer)
    }

    /// The agent pressed Hold (or took the caller off hold).
    fn set_agent_hold(&mut self, on: bool) {
        let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut()) else {
            return;
        };
        if b.held == on {
            return;
        }
        b.held = on;
        self.refresh_hold(Instant::now(), "agent");
    }

    /// Starts or stops the hold music to match the leg's state (the agent's Hold, or the
    /// browser gone); the caller's stream passes between the relay and our own sender without
    /// a jump. Publishes `call_held` when the combined state changes (`cause`: why it changed,
    /// for an un-hold; a hold says `browser_gone` while the browser is gone).
    fn refresh_hold(&mut self, now: Instant, cause: &str) {
        let Some(a) = self.agent.as_mut() else {
            return;
        };
        let agent_id = a.agent.clone();
        let Some(b) = a.browser.as_mut() else {
            return;
        };
        let hold = b.on_hold();
        if hold && !b.music {
            // While DTMF tones play our sender already owns the stream: music replaces them.
            if self.playback.is_none() {
                match b.to_caller.take() {
                    Some(relay) => {
                        let (_, seq, ts) = relay.position();
                        self.media.continue_from(seq, ts, now);
                    }
                    None => self.media.start_clock(now),
                }
            }
            b.to_caller = None;
            b.music = true;
            self.playback = Some(Playback::looping(self.ctx.prompts.hold()));
        }
        // Music → relay: the relay continues our sender's stream.
        let resume = !hold && b.music;
        if resume {
            b.music = false;
            self.playback = None;
        }
        if hold != b.announced_hold {
            b.announced_hold = hold;
            let reason = if b.gone_until.is_some() {
                "browser_gone"
            } else if hold {
                "agent"
            } else {
                cause
            };
            tracing::info!(held = hold, reason, "hold");
            self.ctx.events.publish(EventKind::CallHeld {
                call_id: self.id.clone(),
                agent_id,
                held: hold,
                reason: reason.to_owned(),
            });
        }
        if resume {
            self.rebuild_caller_relay();
        }
    }

    /// Our own audio to a bridged caller (DTMF tones) is over: hold music if the call is held
    /// meanwhile, else the agent's audio again.
    pub(super) fn after_server_audio(&mut self, now: Instant) {
        let held = self
            .agent
            .as_ref()
            .and_then(|a| a.browser.as_ref())
            .is_some_and(BrowserLeg::on_hold);
        if held {
            self.refresh_hold(now, "agent");
        } else {
            self.rebuild_caller_relay();
        }
    }

    /// After our own sender spoke to the caller, the relay continues from where it stopped.
    fn rebuild_caller_relay(&mut self) {
        let caller_format = self.media.format();
        let (ssrc, seq, ts) = self.media.stream_position();
        if let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut())
            && let Some(format) = b.peer.as_ref().and_then(|p| p.format())
        {
            b.to_caller = Some(RtpRelay::new(format, caller_format, ssrc, seq).continuing(ts));
        }
    }

    /// Plays DTMF tones to the caller (the agent's audio pauses meanwhile).
    fn send_digits_to_caller(&mut self, digits: &str) {
        let now = Instant::now();
        let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut()) else {
            return;
        };
        if let Some(relay) = b.to_caller.take() {
            let (_, seq, ts) = relay.position();
            self.media.continue_from(seq, ts, now);
        }
        let tones = Prompt::from_samples(crate::media::dtmf::synthesise(digits));
        self.playback = Some(Playback::once(std::sync::Arc::new(tones)));
    }

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
            let silence;
            let payload: &[u8] = if b.muted && p.header.payload_type == format.audio_pt {
                // Muted: the caller's stream goes on, with silence (no RTP timeout anywhere).
                silence = vec![super::play::silence(format.codec); p.payload.len().min(320)];
                &silence
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
                && self.media.send_raw(&b.out)
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
            if let Err(e) = self.ctx.store.record_quality(&s).await {
                tracing::warn!(error = %e, "cannot store the last quality sample");
            }
        }
    }
}
