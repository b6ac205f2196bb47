//! The agent leg: ringing the agent's registered phone when the queue offers the caller, the
//! answer (or not), and the bridge that relays RTP both ways (transcoding where the legs differ),
//! with the same strict RTP as the caller's leg (`media::strict`) and SDES-SRTP as
//! `[media] srtp_agents` asks (`media::srtp`: keys only to a phone registered over TLS).

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use crate::call::rtp_socket::RtpSocket;

mod phone_sdp;

use super::browser::BrowserLeg;
use super::{Ending, Phase, Session};
use crate::acd::{FailReason, OfferId, OnCallGuard};
use crate::call::CallContext;
use crate::call::media::{self, MediaLeg};
use crate::call::phone_offer::PhoneOffer;
use crate::domain::{AgentId, Device};
use crate::events::EventKind;
use crate::media::g711::G711;
use crate::media::relay::{LegFormat, Relayed, RtpRelay};
use crate::media::rtp::RtpPacket;
use crate::media::sdp::Direction;
use crate::media::srtp::{SdesRule, SrtpSession};
use crate::media::strict::{DropReason, StrictConfig, StrictRtp, Verdict};
use crate::sip::{OutEvent, OutLeg, OutgoingInvite};
use crate::store::{OfferResult, Outcome, Write, now_ms};

/// One offer to an agent's phone, and the bridge once it answered.
pub(super) struct AgentCall {
    /// The queue's offer; `None` for a call handed over to this agent (a transfer: rung
    /// directly, outside the queue).
    offer: Option<OfferId>,
    pub(super) agent: AgentId,
    /// The phone's SIP leg (`None` for a browser agent).
    leg: Option<OutLeg>,
    /// The browser leg (`Some` for a browser agent).
    pub(super) browser: Option<BrowserLeg>,
    /// The phone answered and the queue confirmed: media is bridged.
    bridged: bool,
    /// Armed while bridged: ends the agent's call in the queue engine if this leg is dropped
    /// without `end_agent_leg` (a panic in the call task).
    on_call: Option<OnCallGuard>,
    /// The phone's leg has ended (BYE, failure): nothing more to send it.
    gone: bool,
    /// Which source is the phone's media and where ours goes: the address of its answer,
    /// confirmed by its 2xx.
    strict: StrictRtp,
    /// When the phone's RTP last arrived (from the answer on): a phone that vanished without BYE
    /// must not keep the caller bridged to silence.
    pub(super) last_rx: Instant,
    to_agent: Option<RtpRelay>,
    to_caller: Option<RtpRelay>,
    out: Vec<u8>,
    /// Our SDES keys in the INVITE to the phone (if we offered SRTP) and what the phone's
    /// answer and re-INVITEs may do with them.
    phone: PhoneOffer,
    /// The phone's SRTP, once its answer took one of our keys.
    srtp: Option<SrtpSession>,
    /// The SRTP packet being sent.
    sealed: Vec<u8>,
    /// When the agent answered (epoch ms): the start of their leg of the call.
    pub(super) connected_at: i64,
    /// The phone's negotiated media, once answered (to relay to it again after a hold).
    pub(super) format: Option<LegFormat>,
    /// A desk phone's bridged call in the call-control directory (the desk's transfer).
    pub(super) control: Option<crate::call::browser::Registration>,
}

impl AgentCall {
    fn new(
        offer: Option<OfferId>,
        agent: AgentId,
        leg: Option<OutLeg>,
        browser: Option<BrowserLeg>,
        strict: StrictConfig,
    ) -> AgentCall {
        let now = Instant::now();
        AgentCall {
            offer,
            agent,
            leg,
            browser,
            bridged: false,
            on_call: None,
            gone: false,
            strict: StrictRtp::new(strict, None, now),
            last_rx: now,
            to_agent: None,
            to_caller: None,
            out: Vec::with_capacity(200),
            phone: PhoneOffer {
                sdes: None,
                rule: SdesRule::PLAIN,
            },
            srtp: None,
            sealed: Vec::with_capacity(200),
            connected_at: 0,
            format: None,
            control: None,
        }
    }

    pub(super) async fn cancel_leg(&self) {
        if let Some(leg) = &self.leg {
            leg.cancel().await;
        }
    }

    pub(super) async fn hangup_leg(&self) {
        if let Some(leg) = &self.leg {
            leg.hangup().await;
        }
    }

    /// Relays one caller packet to the agent's phone or browser.
    pub(super) fn relay_to_agent(
        &mut self,
        packet: &RtpPacket<'_>,
        socket: &RtpSocket,
        caller: G711,
    ) {
        let now = Instant::now();
        if let Some(b) = self.browser.as_mut() {
            b.relay_to_browser(now, packet, caller);
            b.transmit(socket);
            return;
        }
        let (Some(relay), Some(to)) = (self.to_agent.as_mut(), self.strict.destination(now)) else {
            return;
        };
        self.out.clear();
        if relay.relay(packet, &mut self.out) == Relayed::Dropped {
            return;
        }
        let Some(wire) = media::protect(self.srtp.as_mut(), &self.out, &mut self.sealed) else {
            return;
        };
        if let Err(e) = socket.try_send_to(wire, to)
            && e.kind() != io::ErrorKind::WouldBlock
        {
            tracing::debug!(error = %e, %to, "RTP to agent failed");
        }
    }

    /// Relays one datagram from the agent's phone to the caller.
    pub(super) fn relay_from_agent(
        &mut self,
        ctx: &CallContext,
        data: &mut [u8],
        from: SocketAddr,
        caller: &mut MediaLeg,
    ) {
        // Nothing is relayed before the phone answered, only authenticated packets (an SRTP
        // leg) of the negotiated payload types count, and only from the phone's source: a
        // stray datagram cannot capture the leg.
        let Some(relay) = self.to_caller.as_mut() else {
            let reason = match RtpPacket::parse(data) {
                Ok(_) => DropReason::BeforeAnswer,
                Err(_) => DropReason::Malformed,
            };
            ctx.stats.count_rtp_drop(reason);
            return;
        };
        let data = match media::unprotect(self.srtp.as_mut(), data) {
            Ok(plain) => plain,
            Err(reason) => {
                ctx.stats.count_rtp_drop(reason);
                return;
            }
        };
        let Ok(packet) = RtpPacket::parse(data) else {
            ctx.stats.count_rtp_drop(DropReason::Malformed);
            return;
        };
        let now = Instant::now();
        if !relay.accepts(packet.payload_type) {
            if self.strict.heard(now, from) {
                self.last_rx = now;
            }
            ctx.stats.count_rtp_drop(DropReason::PayloadType);
            return;
        }
        if let Verdict::Drop(reason) = self.strict.on_packet(now, from, &packet.header()) {
            ctx.stats.count_rtp_drop(reason);
            return;
        }
        self.last_rx = now;
        self.out.clear();
        if relay.relay(&packet, &mut self.out) != Relayed::Dropped {
            caller.send_raw(now, &self.out);
        }
    }
}

impl AgentCall {
    /// A datagram from this agent's phone as plain RTP of its negotiated media from its source
    /// (unprotected on an SRTP leg), for the consult bridge of an attended transfer; `None`
    /// (counted) for anything else.
    pub(super) fn accept<'d>(
        &mut self,
        ctx: &CallContext,
        data: &'d mut [u8],
        from: SocketAddr,
    ) -> Option<RtpPacket<'d>> {
        let format = self.format?;
        let now = Instant::now();
        let types = (format.audio_pt, format.event_pt);
        let srtp = self.srtp.as_mut();
        let packet = media::check_rtp(ctx, srtp, &mut self.strict, types, now, data, from).ok()?;
        self.last_rx = now;
        Some(packet)
    }

    /// Sends one plain RTP packet (already in this phone's format) to the phone.
    pub(super) fn send_plain(&mut self, packet: &[u8], socket: &RtpSocket) {
        let Some(to) = self.strict.destination(Instant::now()) else {
            return;
        };
        if let Some(wire) = media::protect(self.srtp.as_mut(), packet, &mut self.sealed) {
            let _ = socket.try_send_to(wire, to);
        }
    }
}

/// The receive buffer of an agent leg's socket (allocated with the first agent leg: a call
/// that never reaches an agent does not carry it).
const AGENT_BUF: usize = 2048;

/// Waits for a datagram on the agent leg's socket; pending forever when there is none.
pub(super) async fn recv_rtp<'b>(
    socket: Option<&RtpSocket>,
    buf: &'b mut Vec<u8>,
) -> Option<(&'b mut [u8], SocketAddr)> {
    let Some(socket) = socket else {
        return std::future::pending().await;
    };
    if buf.len() < AGENT_BUF {
        buf.resize(AGENT_BUF, 0);
    }
    match socket.recv_from(buf).await {
        Ok((n, from)) => Some((&mut buf[..n], from)),
        Err(e) => {
            tracing::debug!(error = %e, "agent RTP receive error");
            None
        }
    }
}

impl Session {
    /// The queue offers this caller to `agent`: ring their phone.
    pub(super) async fn ring_agent(&mut self, offer: OfferId, agent: AgentId) {
        if self.agent.is_some() {
            // The engine never offers one caller twice at once; refuse rather than double-ring.
            tracing::error!(%offer, %agent, "second offer while one is open");
            self.fail_offer(offer, &agent, FailReason::Rejected, OfferResult::Rejected)
                .await;
            return;
        }
        let reach = self.ctx.agent_reach(&agent).await;
        if reach.as_ref().is_some_and(|r| r.device == Device::Browser) {
            self.ring_browser_agent(offer, agent).await;
            return;
        }
        let extension = reach.and_then(|r| r.extension);
        let Some(extension) = extension else {
            self.offer_unreachable(offer, &agent).await;
            return;
        };
        let Some(phone) = self.phone_offer(offer, &agent, &extension).await else {
            return;
        };
        self.ring_phone(Some(offer), agent, extension, phone).await;
    }

    /// Rings `agent`'s phone on `extension` with `phone`'s offer: for the queue's `offer`, or
    /// (`None`) for a call handed over to them.
    pub(super) async fn ring_phone(
        &mut self,
        offer: Option<OfferId>,
        agent: AgentId,
        extension: String,
        phone: PhoneOffer,
    ) {
        let socket = match RtpSocket::bind(SocketAddr::new(self.local_ip, 0)) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot bind agent RTP socket");
                self.ring_failed(offer, &agent).await;
                return;
            }
        };
        let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
        let category = self.choice.map_or("unclassified", |(c, _)| c.as_str());
        let invite = OutgoingInvite {
            extension,
            trunk: None,
            from_user: self.caller.number.clone(),
            from_display: format!("{} {}", self.caller.number, category),
            sdp: (phone.sdp(
                (self.local_ip, port),
                self.sdp_session,
                self.media.codec(),
                Direction::SendRecv,
            ))
            .into_bytes(),
            call_info: {
                let mut h = vec![("X-Firstline-Call".into(), self.id.to_string())];
                if offer.is_none() {
                    h.push(("X-Firstline-Transfer".into(), "1".into()));
                }
                h
            },
        };
        // The INVITE goes out first; the record follows (the ring must not wait on the database).
        let sent = self.ctx.sip.invite(invite).await;
        self.offer_rings(&agent, sent.is_ok()).await;
        match sent {
            Ok(call) => {
                tracing::info!(%agent, ?offer, "ringing agent");
                let strict = self.ctx.rtp;
                let mut a = AgentCall::new(offer, agent, Some(call.leg), None, strict);
                a.phone = phone;
                self.agent = Some(Box::new(a));
                self.agent_events = Some(call.events);
                self.agent_socket = Some(socket);
            }
            Err(e) => {
                tracing::info!(error = %e, %agent, "agent phone unreachable");
                self.ring_failed(offer, &agent).await;
            }
        }
    }

    /// The phone could not be rung at all: the queue's offer fails, or the transfer does.
    async fn ring_failed(&mut self, offer: Option<OfferId>, agent: &AgentId) {
        match offer {
            Some(offer) => self.offer_unreachable(offer, agent).await,
            None => {
                self.offer_over(agent, OfferResult::Unreachable).await;
                self.transfer_failed(480, "Temporarily Unavailable").await;
            }
        }
    }

    /// Rings a browser agent's desk: the pop is the ring; the desk answers with its SDP offer.
    async fn ring_browser_agent(&mut self, offer: OfferId, agent: AgentId) {
        let (registration, rx) = self.ctx.browser.register(self.id.clone(), agent.clone());
        self.offer_rings(&agent, true).await;
        tracing::info!(%agent, %offer, "ringing agent's browser");
        let browser = self.ring_browser(registration, rx);
        let strict = self.ctx.rtp;
        self.agent = Some(Box::new(AgentCall::new(
            Some(offer),
            agent,
            None,
            Some(browser),
            strict,
        )));
    }

    /// The offer rings (`ringing`: the screen-pop moment, `call_offered`) and is recorded.
    async fn offer_rings(&self, agent: &AgentId, ringing: bool) {
        if ringing {
            self.ctx.events.publish(EventKind::CallOffered {
                call_id: self.id.clone(),
                agent_id: agent.clone(),
            });
        }
        self.ctx.journal.write(Write::Offer {
            call: self.id.clone(),
            agent: agent.clone(),
            at: now_ms(),
        });
    }

    /// The agent cannot be rung (no extension, no socket, the INVITE failed at once).
    async fn offer_unreachable(&self, offer: OfferId, agent: &AgentId) {
        self.fail_offer(
            offer,
            agent,
            FailReason::Unreachable,
            OfferResult::Unreachable,
        )
        .await;
    }

    async fn fail_offer(
        &self,
        offer: OfferId,
        agent: &AgentId,
        reason: FailReason,
        result: OfferResult,
    ) {
        if let Err(e) = self.ctx.acd.offer_failed(offer, reason).await {
            tracing::debug!(error = %e, "offer already withdrawn");
        }
        self.offer_over(agent, result).await;
    }

    /// Records how an offer ended and tells the desk (the pop is withdrawn).
    pub(super) async fn offer_over(&self, agent: &AgentId, result: OfferResult) {
        self.ctx.journal.write(Write::OfferEnded {
            call: self.id.clone(),
            agent: agent.clone(),
            at: now_ms(),
            result,
        });
        self.ctx.events.publish(EventKind::OfferEnded {
            call_id: self.id.clone(),
            agent_id: agent.clone(),
            result: result.as_str().to_owned(),
        });
    }

    /// The queue withdrew the offer (ring timeout): stop ringing.
    pub(super) async fn withdraw_offer(&mut self, offer: OfferId, result: OfferResult) {
        if self
            .agent
            .as_ref()
            .is_some_and(|a| a.offer == Some(offer) && !a.bridged)
        {
            self.drop_agent(result).await;
        }
    }

    /// Cancels the ringing agent leg and forgets it.
    async fn drop_agent(&mut self, result: OfferResult) {
        if let Some(a) = self.take_agent() {
            if !a.gone {
                a.cancel_leg().await;
            }
            self.offer_over(&a.agent, result).await;
        }
    }

    /// Something happened on the agent's leg.
    pub(super) async fn on_agent_event(&mut self, ev: Option<OutEvent>) -> Option<Ending> {
        let bridged = self.agent.as_ref().is_some_and(|a| a.bridged);
        if self.consulting()
            && !matches!(
                ev,
                Some(
                    OutEvent::Ringing
                        | OutEvent::Info { .. }
                        | OutEvent::ReInvite { .. }
                        | OutEvent::Answered { .. }
                )
            )
        {
            // The consulted colleague hung up (or a REFER): back to the caller.
            if matches!(ev, Some(OutEvent::Refer { .. })) {
                return None;
            }
            self.agent_gone();
            self.cancel_consult("the colleague hung up").await;
            return None;
        }
        match ev {
            Some(OutEvent::Ringing) | Some(OutEvent::Info { .. }) => None,
            Some(OutEvent::Answered { sdp }) if !bridged => {
                self.agent_answered(sdp.as_deref()).await;
                None
            }
            Some(OutEvent::Answered { .. }) => None,
            Some(OutEvent::ReInvite { id, offer }) => {
                self.answer_agent_reinvite(id, offer.as_deref()).await;
                None
            }
            // Blind transfer from the phone (REFER): to the agent whose extension it names.
            Some(OutEvent::Refer { target }) => {
                self.on_refer(target).await;
                None
            }
            Some(OutEvent::Failed { status, reason }) if !bridged => {
                tracing::info!(status, %reason, "agent phone did not take the call");
                let (fail, result) = match status {
                    486 | 480 | 600 | 603 => (FailReason::Rejected, OfferResult::Rejected),
                    _ => (FailReason::Unreachable, OfferResult::Unreachable),
                };
                self.agent_failed(fail, result).await;
                None
            }
            // The bridged agent hung up: the caller's call ends too.
            Some(OutEvent::Bye) if bridged => {
                self.agent_gone();
                self.leg.hangup().await;
                Some(Ending {
                    outcome: Outcome::Answered,
                    hangup_by: Some(crate::store::HangupBy::Agent),
                    reason: "agent hung up".to_owned(),
                })
            }
            // The bridged agent's leg failed (transport, channel closed): not the agent's doing.
            _ if bridged => {
                self.agent_gone();
                self.leg.hangup().await;
                Some(Ending::by_server(Outcome::Answered, "agent leg failed"))
            }
            // The ringing leg ended without an answer.
            _ => {
                self.agent_failed(FailReason::Unreachable, OfferResult::Unreachable)
                    .await;
                None
            }
        }
    }

    /// The ringing leg is over without a connection: the queue re-offers the caller.
    pub(super) async fn agent_failed(&mut self, fail: FailReason, result: OfferResult) {
        let Some(a) = self.take_agent() else {
            return;
        };
        match a.offer {
            Some(offer) => self.fail_offer(offer, &a.agent, fail, result).await,
            None => {
                self.offer_over(&a.agent, result).await;
                let (status, reason) = match fail {
                    FailReason::Rejected => (486, "Busy Here"),
                    _ => (480, "Temporarily Unavailable"),
                };
                self.transfer_failed(status, reason).await;
            }
        }
    }

    /// Forgets the agent leg (its events and socket too).
    pub(super) fn take_agent(&mut self) -> Option<Box<AgentCall>> {
        self.agent_events = None;
        self.browser_cmds = None;
        let a = self.agent.take();
        // The socket goes with the leg (a browser leg's close alert is sent before: see
        // `end_agent_leg`).
        self.agent_socket = None;
        a
    }

    pub(super) fn agent_gone(&mut self) {
        if let Some(a) = self.agent.as_mut() {
            a.gone = true;
        }
    }

    async fn agent_answered(&mut self, sdp: Option<&[u8]>) {
        let Some(a) = self.agent.as_ref() else {
            return;
        };
        let (answer, srtp) = match a.phone.read_answer(sdp) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "agent phone answered with unusable SDP");
                if let Some(a) = &self.agent {
                    a.hangup_leg().await;
                }
                self.agent_failed(FailReason::Rejected, OfferResult::Rejected)
                    .await;
                return;
            }
        };
        let agent_format = LegFormat {
            codec: answer.codec,
            audio_pt: answer.payload_type,
            event_pt: answer.telephone_event,
        };
        if !self.connect_agent(agent_format).await {
            return;
        }
        let caller_format = self.media.format();
        let (ssrc, seq, ts) = self.media.stream_position();
        if let Some(a) = self.agent.as_mut() {
            let now = Instant::now();
            if let Some(s) = &srtp {
                self.ctx.stats.count_srtp_leg(true);
                tracing::info!(suite = s.suite().name(), "agent phone's media is SRTP");
            }
            a.srtp = srtp;
            a.last_rx = now;
            // The phone's 2xx confirms its leg (we ACK it); its SDP names its media address.
            a.strict.on_sdp(now, answer.remote);
            a.strict.confirm(now);
            a.to_agent = Some(RtpRelay::new(
                caller_format,
                agent_format,
                rand::random(),
                rand::random(),
            ));
            a.to_caller =
                Some(RtpRelay::new(agent_format, caller_format, ssrc, seq).continuing(ts));
        }
    }

    /// The agent answered (phone 200 OK, or the browser's offer): the queue confirms, the call
    /// is bridged and recorded. `false` when the offer was withdrawn meanwhile (the agent's
    /// leg is released).
    pub(super) async fn connect_agent(&mut self, agent_format: LegFormat) -> bool {
        let Some(a) = self.agent.as_ref() else {
            return false;
        };
        let (offer, agent) = (a.offer, a.agent.clone());
        let device = if a.browser.is_some() {
            Device::Browser
        } else {
            Device::Phone
        };
        let waited = match offer {
            // Handed over: the agent was put on the call when they were rung.
            None => std::time::Duration::ZERO,
            Some(offer) => match self.ctx.acd.offer_answered(offer).await {
                Ok(w) => w,
                Err(e) => {
                    // Too late: the ring timeout moved the caller on. Release this phone.
                    tracing::info!(error = %e, "agent answered after the offer was withdrawn");
                    self.drop_agent_after_answer().await;
                    return false;
                }
            },
        };
        if let Some(a) = self.agent.as_mut() {
            a.bridged = true;
            a.on_call = Some(OnCallGuard::new(self.ctx.acd.clone(), agent.clone()));
            a.connected_at = now_ms();
            a.format = Some(agent_format);
            if a.browser.is_none() {
                // The desk reaches a desk phone's call for a transfer.
                let (reg, rx) = (self.ctx.browser).register_phone(self.id.clone(), agent.clone());
                a.control = Some(reg);
                self.browser_cmds = Some(rx);
            }
        }
        // The caller has left the queue: the engine removed the entry when the offer was answered.
        self.waiting = None;
        self.playback = None;
        self.phase = Phase::Bridged;
        if offer.is_none() {
            self.transfer_connected(agent, device).await;
            return true;
        }
        let waited_ms = i64::try_from(waited.as_millis()).unwrap_or(i64::MAX);
        let at = now_ms();
        let call = &self.id;
        if self.requeued {
            // After a transfer to a queue: a new leg; the first connection and wait stay.
            self.ctx.journal.write(Write::LegConnected {
                call: call.clone(),
                agent: agent.clone(),
                at,
            });
        } else {
            self.ctx.journal.write(Write::Connected {
                call: call.clone(),
                agent: agent.clone(),
                at,
                wait_ms: waited_ms,
            });
        }
        self.ctx.journal.write(Write::AgentDevice {
            call: call.clone(),
            device,
        });
        self.ctx.journal.write(Write::OfferEnded {
            call: call.clone(),
            agent: agent.clone(),
            at,
            result: OfferResult::Answered,
        });
        self.ctx.events.publish(EventKind::CallConnected {
            call_id: self.id.clone(),
            agent_id: agent.clone(),
            waited_ms,
        });
        tracing::info!(%agent, waited_ms, %device, codec = ?agent_format.codec, "bridged to agent");
        true
    }

    async fn drop_agent_after_answer(&mut self) {
        if let Some(a) = self.take_agent() {
            a.hangup_leg().await;
            self.offer_over(&a.agent, OfferResult::Cancelled).await;
        }
    }

    /// Ends the agent leg however the call ends: CANCEL while ringing, BYE and wrap-up when bridged.
    pub(super) async fn end_agent_leg(&mut self) {
        if let Some(mut b) = self.agent.as_mut().and_then(|a| a.browser.take()) {
            self.close_browser(&mut b).await;
        }
        let Some(mut a) = self.take_agent() else {
            return;
        };
        if a.bridged {
            if !a.gone {
                a.hangup_leg().await;
            }
            match self.ctx.acd.call_ended(a.agent.clone()).await {
                // A specialist the engine does not route to (a transfer's target).
                Ok(()) | Err(crate::acd::AcdError::UnknownAgent(_)) => {}
                Err(e) => {
                    tracing::warn!(error = %e, agent = %a.agent, "cannot end the agent's call in the queue engine");
                }
            }
            // Reported (or the engine is gone): the guard must not report it again.
            if let Some(g) = a.on_call.as_mut() {
                g.disarm();
            }
        } else {
            if !a.gone {
                a.cancel_leg().await;
            }
            self.offer_over(&a.agent, OfferResult::Cancelled).await;
        }
    }
}

impl AgentCall {
    /// Whether the agent answered and is bridged.
    pub(super) fn is_bridged(&self) -> bool {
        self.bridged
    }

    pub(super) fn is_gone(&self) -> bool {
        self.gone
    }

    pub(super) fn mark_gone(&mut self) {
        self.gone = true;
    }

    /// The phone's SIP leg, while it is up.
    pub(super) fn leg(&self) -> Option<&crate::sip::OutLeg> {
        self.leg.as_ref().filter(|_| !self.gone)
    }

    /// Stops relaying to the caller (the caller's stream goes on from this relay's position).
    pub(super) fn take_caller_relay(&mut self) -> Option<RtpRelay> {
        self.to_caller.take()
    }

    /// Relays the phone to the caller again, continuing the caller's stream at `seq`/`ts`.
    pub(super) fn resume_relay(
        &mut self,
        caller: crate::media::relay::LegFormat,
        ssrc: u32,
        seq: u16,
        ts: u32,
    ) {
        if let Some(f) = self.format {
            self.to_caller = Some(RtpRelay::new(f, caller, ssrc, seq).continuing(ts));
        }
    }

    /// The call's end was reported to the queue engine: the guard must not report it again.
    pub(super) fn disarm(&mut self) {
        if let Some(g) = self.on_call.as_mut() {
            g.disarm();
        }
    }
}
