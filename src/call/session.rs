//! The call session loop: answer, run the IVR over the RTP leg, store the intake, hold, end.
//!
//! One task, one `select!` loop: SIP leg events, RTP datagrams and one timer (the earliest of the
//! RTP pacer, the IVR timeout, the hold limit and the dead-peer check). No locks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::{CallId, DtmfMode};
use crate::events::EventKind;
use crate::ivr::{Ivr, IvrAction, IvrOutcome};
use crate::media::dtmf::{DtmfMerger, parse_info_body};
use crate::media::g711::G711;
use crate::media::prompts::Playback;
use crate::media::sdp::{self, SessionOffer};
use crate::sip::{CallLeg, IncomingCall, LegEvent, SipTransport};
use crate::store::{CallEnd, CallTransport, HangupBy, NewCall, NewIntake, Outcome, now_ms};

use super::media::{Inbound, MediaLeg};
use super::{CallContext, CallerIdentity};

/// Where the call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the menu.
    Ivr,
    /// The IVR is done; the "connecting" prompt plays.
    Connecting,
    /// Hold music until a queue (a later issue) connects or the wait limit ends the call.
    Hold { until: Instant },
    /// The polite goodbye plays; then we hang up.
    Goodbye,
}

/// How the call ended, for `calls.outcome` / `hangup_by` / `end_reason`.
struct Ending {
    outcome: Outcome,
    hangup_by: Option<HangupBy>,
    reason: String,
}

impl Ending {
    fn by_caller(outcome: Outcome, reason: &str) -> Ending {
        Ending {
            outcome,
            hangup_by: Some(HangupBy::Caller),
            reason: reason.to_owned(),
        }
    }
    fn by_server(outcome: Outcome, reason: &str) -> Ending {
        Ending {
            outcome,
            hangup_by: Some(HangupBy::Server),
            reason: reason.to_owned(),
        }
    }
}

pub(super) struct Session {
    ctx: Arc<CallContext>,
    id: CallId,
    leg: CallLeg,
    media: MediaLeg,
    ivr: Ivr,
    merger: DtmfMerger,
    phase: Phase,
    playback: Option<Playback>,
    /// Set when the IVR finished (the intake is stored by then).
    ivr_done: bool,
    frame: Vec<u8>,
    sdp_version: u64,
    sdp_session: u64,
    local_ip: std::net::IpAddr,
    /// The last SDP answer we gave (offered again for a re-INVITE without SDP).
    answer: sdp::Answer,
    /// The language of the last prompt the IVR asked for (the goodbye uses it too).
    language: crate::domain::Language,
}

impl Session {
    /// Runs the whole call; every path ends with the call record completed.
    pub(super) async fn run(
        ctx: Arc<CallContext>,
        id: CallId,
        caller: CallerIdentity,
        incoming: IncomingCall,
    ) {
        let IncomingCall {
            sip_call_id,
            offer,
            transport,
            local_ip,
            leg,
            mut events,
            ..
        } = incoming;
        let customer = if caller.normalised {
            match ctx.store.find_customer_by_phone(&caller.number).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "customer lookup failed");
                    None
                }
            }
        } else {
            None
        };
        let customer_id = customer.as_ref().map(|c| c.id.clone());
        let arrived_at = now_ms();
        let new_call = NewCall {
            id: id.clone(),
            sip_call_id: sip_call_id.clone(),
            caller: caller.number.clone(),
            caller_name: caller.display_name.clone(),
            customer_id: customer_id.clone(),
            transport: match transport {
                SipTransport::Udp => CallTransport::Udp,
                SipTransport::Tcp => CallTransport::Tcp,
            },
            arrived_at,
        };
        if let Err(e) = ctx.store.insert_call(&new_call).await {
            // Without a call record nothing could be stored later: refuse the call cleanly.
            tracing::error!(error = %e, "cannot record call; refusing it");
            leg.reject(503, "Service Unavailable").await;
            return;
        }
        ctx.events.publish(EventKind::CallArrived {
            call_id: id.clone(),
            caller: caller.number.clone(),
            customer_id: customer_id.clone(),
        });
        tracing::info!(customer = ?customer_id, "call arrived");

        let (ending, modes, language) =
            match Self::setup(&ctx, &id, offer.as_deref(), local_ip, &leg, &mut events).await {
                Ok(mut session) => {
                    let ending = session.run_loop(&mut events, customer_id, caller).await;
                    (ending, session.merger.modes_seen(), Some(session.language))
                }
                Err(ending) => (ending, Vec::new(), None),
            };
        let end = CallEnd {
            ended_at: now_ms(),
            outcome: ending.outcome,
            hangup_by: ending.hangup_by,
            end_reason: Some(ending.reason.clone()),
            dtmf_mode: modes,
            language,
        };
        if let Err(e) = ctx.store.finish_call(&id, &end).await {
            tracing::error!(error = %e, "cannot complete call record");
        }
        ctx.events.publish(EventKind::CallEnded {
            call_id: id.clone(),
            outcome: ending.outcome.as_str().to_owned(),
        });
        tracing::info!(outcome = ending.outcome.as_str(), reason = %ending.reason, "call ended");
    }

    /// Negotiates SDP, binds RTP, rings, answers. `Err` means the call ended before answer.
    async fn setup(
        ctx: &Arc<CallContext>,
        id: &CallId,
        offer: Option<&[u8]>,
        local_ip: std::net::IpAddr,
        leg: &CallLeg,
        events: &mut tokio::sync::mpsc::Receiver<LegEvent>,
    ) -> Result<Session, Ending> {
        let fail = Ending::by_server;
        let Some(offer) = offer else {
            leg.reject(488, "Not Acceptable Here (SDP offer required)")
                .await;
            return Err(fail(Outcome::Rejected, "no SDP offer"));
        };
        let answer = match SessionOffer::parse(offer)
            .and_then(|o| sdp::negotiate(&o, &[G711::Pcmu, G711::Pcma]))
        {
            Ok(a) => a,
            Err(e) => {
                leg.reject(488, "Not Acceptable Here").await;
                return Err(fail(Outcome::Rejected, &format!("SDP: {e}")));
            }
        };
        let now = Instant::now();
        let media = match MediaLeg::bind(local_ip, &answer, now).await {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "cannot bind RTP socket");
                leg.reject(503, "Service Unavailable").await;
                return Err(fail(Outcome::Failed, "no RTP port"));
            }
        };
        leg.ringing().await;
        if ctx.call.answer_delay_ms > 0 {
            let delay = tokio::time::sleep(Duration::from_millis(ctx.call.answer_delay_ms));
            tokio::pin!(delay);
            loop {
                tokio::select! {
                    _ = &mut delay => break,
                    ev = events.recv() => match ev {
                        Some(LegEvent::Cancelled) => return Err(Ending::by_caller(Outcome::Cancelled, "CANCEL before answer")),
                        Some(LegEvent::Ended { reason }) => return Err(fail(Outcome::Failed, &format!("{reason:?}"))),
                        Some(_) => {}
                        None => return Err(fail(Outcome::Failed, "SIP leg gone")),
                    },
                }
            }
        }
        let sdp_session = rand::random::<u32>() as u64;
        let port = media
            .local_port()
            .map_err(|_| fail(Outcome::Failed, "no RTP port"))?;
        leg.answer(answer.to_sdp(local_ip, port, sdp_session, 1).into_bytes())
            .await;
        if let Err(e) = ctx.store.set_call_answered(id, now_ms()).await {
            tracing::warn!(error = %e, "cannot record answer time");
        }
        let now = Instant::now();
        Ok(Session {
            ctx: ctx.clone(),
            id: id.clone(),
            leg: leg.clone(),
            media,
            ivr: Ivr::new(ctx.ivr.clone(), now),
            merger: DtmfMerger::default(),
            phase: Phase::Ivr,
            playback: None,
            ivr_done: false,
            frame: Vec::with_capacity(160),
            sdp_version: 1,
            sdp_session,
            local_ip,
            answer,
            language: ctx.ivr.default_language(),
        })
    }

    async fn run_loop(
        &mut self,
        events: &mut tokio::sync::mpsc::Receiver<LegEvent>,
        customer_id: Option<crate::domain::CustomerId>,
        caller: CallerIdentity,
    ) -> Ending {
        let mut buf = vec![0u8; 2048];
        let rtp_timeout = Duration::from_secs(self.ctx.call.rtp_timeout_secs.max(1));
        self.drain_ivr(Instant::now(), &customer_id, &caller).await;
        loop {
            let deadline = self.next_deadline();
            let woke = tokio::select! {
                ev = events.recv() => Wake::Leg(ev),
                rx = self.media.recv(&mut buf) => match rx {
                    Ok((data, from)) => {
                        let now = Instant::now();
                        match self.media.on_datagram(&self.ctx, now, data, from) {
                            Inbound::Digit(d, mode) => Wake::Digit(d, mode),
                            Inbound::Nothing => Wake::Nothing,
                        }
                    }
                    Err(e) => {
                        // ICMP port unreachable and friends surface here on Linux: not fatal.
                        tracing::debug!(error = %e, "RTP receive error");
                        Wake::Nothing
                    }
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => Wake::Timer,
                _ = self.ctx.shutdown.cancelled() => Wake::Shutdown,
            };
            let now = Instant::now();
            match woke {
                Wake::Nothing => {}
                Wake::Digit(d, mode) => self.on_digit(now, d, mode),
                Wake::Timer => {
                    self.on_timer(now);
                    if self.media.expects_rtp()
                        && now.duration_since(self.media.last_rx) > rtp_timeout
                        && !matches!(self.phase, Phase::Goodbye)
                    {
                        self.leg.hangup().await;
                        return Ending::by_server(Outcome::Failed, "no RTP from caller");
                    }
                }
                Wake::Shutdown => {
                    self.leg.hangup().await;
                    return Ending::by_server(Outcome::Failed, "server shutdown");
                }
                Wake::Leg(None) => {
                    return Ending {
                        outcome: Outcome::Failed,
                        hangup_by: None,
                        reason: "SIP leg gone".into(),
                    };
                }
                Wake::Leg(Some(ev)) => {
                    if let Some(ending) = self.on_leg_event(now, ev).await {
                        return ending;
                    }
                }
            }
            self.drain_ivr(now, &customer_id, &caller).await;
            if self.phase == Phase::Goodbye && self.playback.is_none() {
                self.leg.hangup().await;
                return Ending::by_server(Outcome::MaxWait, "maximum wait reached");
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut t = self.media.poll_timeout();
        if let Some(ivr) = self.ivr.poll_timeout() {
            t = t.min(ivr);
        }
        if let Phase::Hold { until } = self.phase {
            t = t.min(until);
        }
        t
    }

    fn on_digit(&mut self, now: Instant, digit: char, mode: DtmfMode) {
        let Some(digit) = self.merger.on_digit(now, digit, mode) else {
            return;
        };
        if mode != DtmfMode::Inband {
            self.media.disable_inband();
        }
        tracing::debug!(%digit, %mode, "digit");
        self.ctx.events.publish(crate::events::EventKind::Digit {
            call_id: self.id.clone(),
            digit,
            mode,
        });
        if !self.ivr_done {
            self.ivr.on_digit(now, digit);
        }
    }

    /// Sends due RTP frames, advances playback, fires IVR and hold timers.
    fn on_timer(&mut self, now: Instant) {
        let due = self.media.due(now);
        let codec = self.media.codec();
        for _ in 0..due {
            self.frame.clear();
            let finished = match self.playback.as_mut() {
                Some(p) => match p.next_frame(codec) {
                    Some(f) => {
                        self.frame.extend_from_slice(f);
                        false
                    }
                    None => true,
                },
                None => false,
            };
            if finished {
                self.playback = None;
                self.on_playback_finished(now);
            }
            if self.frame.is_empty() {
                self.frame.resize(160, silence(codec));
            }
            let frame = std::mem::take(&mut self.frame);
            self.media.send_frame(&frame);
            self.frame = frame;
        }
        if self.ivr.poll_timeout().is_some_and(|t| t <= now) {
            self.ivr.on_timeout(now);
        }
        if let Phase::Hold { until } = self.phase
            && now >= until
        {
            self.phase = Phase::Goodbye;
            self.play_prompt("max_wait", self.language());
        }
    }

    fn on_playback_finished(&mut self, now: Instant) {
        match self.phase {
            Phase::Ivr => self.ivr.on_prompt_finished(now),
            Phase::Connecting => {
                let until = now + Duration::from_secs(self.ctx.call.max_wait_secs);
                self.phase = Phase::Hold { until };
                self.playback = Some(Playback::looping(self.ctx.prompts.hold()));
                self.media.talkspurt();
            }
            Phase::Hold { .. } | Phase::Goodbye => {}
        }
    }

    fn language(&self) -> crate::domain::Language {
        self.language
    }

    fn play_prompt(&mut self, name: &str, language: crate::domain::Language) {
        match self.ctx.prompts.get(language, name) {
            Some(p) => {
                self.playback = Some(Playback::once(p));
                self.media.talkspurt();
            }
            None => {
                tracing::error!(prompt = name, %language, "prompt missing");
                self.playback = None;
            }
        }
    }

    /// Carries out what the IVR asked for; stores the intake when it finished.
    async fn drain_ivr(
        &mut self,
        now: Instant,
        customer_id: &Option<crate::domain::CustomerId>,
        caller: &CallerIdentity,
    ) {
        while let Some(action) = self.ivr.poll_action() {
            match action {
                IvrAction::Play { prompt, language } => {
                    self.language = language;
                    self.play_prompt(&prompt, language);
                    if self.playback.is_none() {
                        self.ivr.on_prompt_finished(now);
                    }
                }
                IvrAction::StopPlayback => self.playback = None,
                IvrAction::Finished(outcome) => {
                    self.ivr_done = true;
                    if self.phase == Phase::Ivr {
                        self.phase = Phase::Connecting;
                    }
                    self.store_intake(&outcome, customer_id, caller).await;
                    if self.playback.is_none() {
                        self.on_playback_finished(now);
                    }
                }
            }
        }
    }

    async fn store_intake(
        &self,
        outcome: &IvrOutcome,
        customer_id: &Option<crate::domain::CustomerId>,
        caller: &CallerIdentity,
    ) {
        tracing::Span::current().record("category", outcome.category.as_str());
        let at = now_ms();
        let intake = NewIntake {
            call_id: Some(self.id.clone()),
            customer_id: customer_id.clone(),
            caller: Some(caller.number.clone()),
            category: outcome.category,
            priority: outcome.priority,
            language: Some(outcome.language),
            ivr_path: outcome.path_string(),
            dtmf_mode: self.merger.modes_seen(),
            description: None,
            created_at: at,
        };
        if let Err(e) = self
            .ctx
            .store
            .set_call_ivr_ended(&self.id, at, outcome.language)
            .await
        {
            tracing::error!(error = %e, "cannot record IVR end");
        }
        match self.ctx.store.insert_intake(&intake).await {
            Ok(intake_id) => {
                tracing::info!(intake = %intake_id, category = %outcome.category, priority = ?outcome.priority, "intake drafted");
                self.ctx.events.publish(EventKind::IntakeDrafted {
                    call_id: self.id.clone(),
                    intake_id,
                    category: outcome.category,
                    priority: outcome.priority,
                });
            }
            Err(e) => tracing::error!(error = %e, "cannot store intake"),
        }
    }

    async fn on_leg_event(&mut self, now: Instant, ev: LegEvent) -> Option<Ending> {
        match ev {
            LegEvent::Acked => None,
            LegEvent::Cancelled => Some(Ending::by_caller(Outcome::Cancelled, "CANCEL")),
            LegEvent::Bye => Some(Ending::by_caller(
                if self.ivr_done {
                    Outcome::AbandonedQueue
                } else {
                    Outcome::AbandonedIvr
                },
                "BYE from caller",
            )),
            LegEvent::Info { content_type, body } => {
                match parse_info_body(&content_type, &body) {
                    Ok(d) => self.on_digit(now, d, DtmfMode::Info),
                    Err(e) => tracing::debug!(error = %e, %content_type, "INFO without a digit"),
                }
                None
            }
            LegEvent::ReInvite { id, offer } => {
                let parsed = offer.as_deref().map(|o| {
                    SessionOffer::parse(o).and_then(|o| sdp::negotiate(&o, &[self.media.codec()]))
                });
                self.sdp_version += 1;
                let port = self.media.local_port().unwrap_or(0);
                match parsed {
                    Some(Ok(answer)) => {
                        self.media.renegotiate(&answer);
                        let body =
                            answer.to_sdp(self.local_ip, port, self.sdp_session, self.sdp_version);
                        self.answer = answer;
                        self.leg.answer_reinvite(id, body.into_bytes()).await;
                    }
                    Some(Err(e)) => {
                        tracing::info!(error = %e, "re-INVITE offer not acceptable");
                        self.leg
                            .reject_reinvite(id, 488, "Not Acceptable Here")
                            .await;
                    }
                    None => {
                        // Late-offer re-INVITE: offer what we use now; the ACK carries the answer.
                        let body = self.answer.to_sdp(
                            self.local_ip,
                            port,
                            self.sdp_session,
                            self.sdp_version,
                        );
                        self.leg.answer_reinvite(id, body.into_bytes()).await;
                    }
                }
                None
            }
            LegEvent::Ended { reason } => Some(Ending {
                outcome: Outcome::Failed,
                hangup_by: None,
                reason: format!("{reason:?}"),
            }),
        }
    }
}

enum Wake {
    Nothing,
    Digit(char, DtmfMode),
    Timer,
    Shutdown,
    Leg(Option<LegEvent>),
}

/// One byte of digital silence in the codec.
fn silence(codec: G711) -> u8 {
    match codec {
        G711::Pcmu => 0xFF,
        G711::Pcma => 0xD5,
    }
}
