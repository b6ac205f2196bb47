//! The call session loop: answer, run the IVR over the RTP leg, store the intake, queue, ring an
//! agent, bridge, end.
//!
//! One task, one `select!` loop: the caller's SIP leg events and RTP, the queue engine's notices,
//! the agent leg's events and datagrams (a phone's RTP or the browser's ICE/DTLS/SRTP), the
//! desk's requests for a browser call, and one timer (the earliest of the RTP pacer, the IVR
//! timeout, the wait limit, the dead-peer check and the browser peer's timers). No locks. The
//! parts of the loop live in `play.rs` (prompts, IVR, intake), `queue.rs` (waiting,
//! announcements, callback, voice message), `agent.rs` (ringing the agent, the bridge),
//! `browser.rs` (the browser leg's relay, gone rule, quality) and `browser_control.rs` (the
//! desk's requests, hold).

mod agent;
mod browser;
mod browser_control;
mod consult;
mod play;
mod queue;
#[cfg(test)]
mod size_tests;
mod transfer;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::acd::QueueNotice;
use crate::domain::{CallId, Category, CustomerId, DtmfMode, IntakeId, Language, Priority};
use crate::events::EventKind;
use crate::ivr::Ivr;
use crate::media::dtmf::{DtmfMerger, parse_info_body};
use crate::media::prompts::Playback;
use crate::media::sdp::{self, SessionOffer};
use crate::media::srtp::SdesRule;
use crate::sip::{CallLeg, IncomingCall, LegEvent, OutEvent, SipTransport};
use crate::store::{CallEnd, CallTransport, HangupBy, NewCall, Outcome, Write, now_ms};

use self::agent::AgentCall;
use self::queue::Waiting;
use super::media::{Inbound, MediaLeg};
use super::{CallContext, CallerIdentity};

/// Where the call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the menu.
    Ivr,
    /// The IVR is done; the "connecting" prompt plays.
    Connecting,
    /// Waiting in the queue with hold music, until an agent answers or `until` (the wait limit).
    Hold { until: Instant },
    /// Recording a voice message until `until`, `#`, or hang-up.
    Recording { until: Instant },
    /// Connected to an agent; media is relayed.
    Bridged,
    /// Handed over: the caller hears hold music while the target agent's phone rings
    /// (`transfer.rs`); the handing agent's leg is parked.
    Transferring,
    /// A last prompt plays (goodbye, confirmation); then we hang up with this outcome.
    Closing { outcome: Outcome },
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
    fn lost(reason: String) -> Ending {
        Ending {
            outcome: Outcome::Failed,
            hangup_by: None,
            reason,
        }
    }
}

/// What woke the loop.
enum Wake {
    Nothing,
    Digit(char, DtmfMode),
    Timer,
    Shutdown,
    Leg(Option<LegEvent>),
    Notice(Option<QueueNotice>),
    Agent(Option<OutEvent>),
    Browser(Option<crate::call::browser::BrowserCommand>),
    /// The answer to the open-intake lookup for the recognition prompt.
    Known(Option<crate::ivr::KnownIntake>),
    /// The parked agent's SIP leg during a transfer.
    Parked(Option<OutEvent>),
    /// The parked agent's desk during a transfer.
    ParkedCmd(Option<crate::call::browser::BrowserCommand>),
}

pub(super) struct Session {
    ctx: Arc<CallContext>,
    id: CallId,
    caller: CallerIdentity,
    customer_id: Option<CustomerId>,
    leg: CallLeg,
    media: MediaLeg,
    ivr: Ivr,
    merger: DtmfMerger,
    phase: Phase,
    playback: Option<Playback>,
    /// What the caller chose in the IVR (category, priority), once it finished.
    choice: Option<(Category, Option<Priority>)>,
    /// The stored intake, once the IVR finished.
    intake_id: Option<IntakeId>,
    /// The open-intake lookup of the recognition prompt (`play.rs`), never waited for.
    open_lookup: Option<oneshot::Receiver<Option<crate::ivr::KnownIntake>>>,
    /// Who handles the intake the caller chose to ring about: offered the call first.
    prefer: Option<crate::domain::AgentId>,
    /// A voice message being recorded (8 kHz PCM), after the beep.
    recording: Option<Vec<i16>>,
    /// In the queue (after the IVR, until an agent answers or the caller leaves).
    waiting: Option<Waiting>,
    /// The agent leg being rung or bridged.
    agent: Option<Box<AgentCall>>,
    /// Its SIP events (a field of its own so the loop can wait on it beside the agent's RTP).
    agent_events: Option<mpsc::Receiver<OutEvent>>,
    /// Its RTP socket (a phone's RTP, or the browser leg's ICE/DTLS/SRTP datagrams).
    agent_socket: Option<crate::call::rtp_socket::RtpSocket>,
    /// The desk's call-control requests, while a browser agent is rung or bridged.
    browser_cmds: Option<mpsc::Receiver<crate::call::browser::BrowserCommand>>,
    /// A transfer under way (`transfer.rs`).
    transfer: Option<Box<transfer::Transfer>>,
    /// The call was handed to a queue after an agent answered it: the next answer starts a
    /// leg (the call's first connection and wait stay), and leaving the queue is not an
    /// abandoned call.
    requeued: bool,
    /// A transfer completed: the call's last leg is written when it ends.
    handed_over: bool,
    frame: Vec<u8>,
    sdp_version: u64,
    sdp_session: u64,
    local_ip: IpAddr,
    /// The last SDP answer we gave (offered again for a re-INVITE without SDP).
    answer: sdp::Answer,
    /// The language of the last prompt the IVR asked for (later prompts use it too).
    language: Language,
    /// What the caller's re-INVITEs may do with SDES keys (the INVITE's transport decides).
    srtp_rule: SdesRule,
}

impl Session {
    /// Runs the whole call; every path ends with the call record completed.
    pub(super) async fn run(
        ctx: Arc<CallContext>,
        id: CallId,
        caller: CallerIdentity,
        incoming: IncomingCall,
        setup_guard: super::SetupGuard,
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
        let customer_id = if caller.normalised {
            match ctx.store.customer_id_by_phone(&caller.number).await {
                Ok(id) => id,
                Err(e) => {
                    tracing::warn!(error = %e, "customer lookup failed");
                    None
                }
            }
        } else {
            None
        };
        let new_call = NewCall {
            id: id.clone(),
            sip_call_id,
            caller: caller.number.clone(),
            caller_name: caller.display_name.clone(),
            customer_id: customer_id.clone(),
            transport: match transport {
                SipTransport::Udp => CallTransport::Udp,
                SipTransport::Tcp => CallTransport::Tcp,
                SipTransport::Tls => CallTransport::Tls,
            },
            arrived_at: now_ms(),
        };
        // Handed to the journal: set-up never waits on the database (issue 12).
        ctx.journal.write(Write::Call(new_call));
        let open_lookup = Self::look_up_open_intake(&ctx, &caller, customer_id.as_ref());
        ctx.events.publish(EventKind::CallArrived {
            call_id: id.clone(),
            caller: caller.number.clone(),
            customer_id: customer_id.clone(),
        });
        tracing::info!(customer = ?customer_id, "call arrived");

        let srtp_rule = ctx.srtp.caller_rule(transport == SipTransport::Tls);
        let setup = Self::setup(
            &ctx,
            &id,
            offer.as_deref(),
            transport,
            local_ip,
            &leg,
            &mut events,
        )
        .await;
        drop(setup_guard);
        let (ending, modes, language, handed_over) = match setup {
            Ok((mut media, answer, sdp_session)) => {
                media.start_clock(Instant::now());
                let mut session = Session {
                    ctx: ctx.clone(),
                    id: id.clone(),
                    caller,
                    customer_id,
                    leg: leg.clone(),
                    media,
                    ivr: Ivr::new(ctx.ivr.clone(), Instant::now()),
                    merger: DtmfMerger::default(),
                    phase: Phase::Ivr,
                    playback: None,
                    choice: None,
                    intake_id: None,
                    open_lookup,
                    prefer: None,
                    recording: None,
                    waiting: None,
                    agent: None,
                    agent_events: None,
                    agent_socket: None,
                    browser_cmds: None,
                    transfer: None,
                    requeued: false,
                    handed_over: false,
                    frame: Vec::with_capacity(160),
                    sdp_version: 1,
                    sdp_session,
                    local_ip,
                    answer,
                    language: ctx.ivr.default_language(),
                    srtp_rule,
                };
                let ending = session.run_loop(&mut events).await;
                session.leave(&ending).await;
                let modes = session.merger.modes_seen();
                (ending, modes, Some(session.language), session.handed_over)
            }
            Err(ending) => (ending, Vec::new(), None, false),
        };
        let end = CallEnd {
            ended_at: now_ms(),
            outcome: ending.outcome,
            hangup_by: ending.hangup_by,
            end_reason: Some(ending.reason.clone()),
            dtmf_mode: modes,
            language,
        };
        ctx.journal.write(Write::Ended {
            call: id.clone(),
            end,
        });
        if handed_over {
            // Only a transferred call has legs (one statement less for every other call).
            ctx.journal.write(Write::LastLeg { call: id.clone() });
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
        transport: SipTransport,
        local_ip: IpAddr,
        leg: &CallLeg,
        events: &mut mpsc::Receiver<LegEvent>,
    ) -> Result<(MediaLeg, sdp::Answer, u64), Ending> {
        let fail = Ending::by_server;
        let Some(offer) = offer else {
            leg.reject(488, "Not Acceptable Here (SDP offer required)")
                .await;
            return Err(fail(Outcome::Rejected, "no SDP offer"));
        };
        let answer = match super::negotiate_caller(ctx, transport, offer) {
            Ok(a) => a,
            Err(e) => {
                leg.reject(488, "Not Acceptable Here").await;
                return Err(fail(Outcome::Rejected, &format!("SDP: {e}")));
            }
        };
        let media =
            match MediaLeg::bind(local_ip, &answer, ctx.rtp, &ctx.pacer, Instant::now()).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "cannot bind RTP socket");
                    leg.reject(503, "Service Unavailable").await;
                    return Err(fail(Outcome::Failed, "no RTP port"));
                }
            };
        if let Some(keys) = &answer.srtp {
            ctx.stats.count_srtp_leg(false);
            tracing::info!(suite = keys.suite.name(), "caller's media is SRTP");
        }
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
        let sdp_session = u64::from(rand::random::<u32>());
        let port = media
            .local_port()
            .map_err(|_| fail(Outcome::Failed, "no RTP port"))?;
        leg.answer(answer.to_sdp(local_ip, port, sdp_session, 1).into_bytes())
            .await;
        ctx.journal.write(Write::Answered {
            call: id.clone(),
            at: now_ms(),
        });
        Ok((media, answer, sdp_session))
    }

    async fn run_loop(&mut self, events: &mut mpsc::Receiver<LegEvent>) -> Ending {
        let mut buf = vec![0u8; 2048];
        let mut agent_buf = Vec::new(); // sized by `agent::recv_rtp` once there is an agent leg
        let mut parked_buf = Vec::new(); // the parked agent's RTP during a consultation
        let rtp_timeout = Duration::from_secs(self.ctx.call.rtp_timeout_secs.max(1));
        self.drain_ivr(Instant::now()).await;
        loop {
            let deadline = self.next_deadline();
            let bridged = self.phase == Phase::Bridged;
            let consulting = self.consulting();
            let (parked_events, parked_cmds, parked_socket) = match self.transfer.as_deref_mut() {
                Some(t) => (
                    t.from_events.as_mut(),
                    t.from_cmds.as_mut(),
                    t.from_socket.as_ref().filter(|_| consulting),
                ),
                None => (None, None, None),
            };
            let woke = tokio::select! {
                ev = events.recv() => Wake::Leg(ev),
                rx = self.media.recv(&mut buf) => match rx {
                    Ok((data, from)) => {
                        let now = Instant::now();
                        if bridged {
                            if let (Some(packet), Some(agent), Some(socket)) = (self.media.accept(&self.ctx, now, data, from), self.agent.as_mut(), self.agent_socket.as_ref()) {
                                agent.relay_to_agent(&packet, socket, self.media.codec());
                            }
                            Wake::Nothing
                        } else {
                            match self.media.on_datagram(&self.ctx, now, data, from, self.recording.as_mut()) {
                                Inbound::Digit(d, mode) => Wake::Digit(d, mode),
                                Inbound::Nothing => Wake::Nothing,
                            }
                        }
                    }
                    Err(e) => {
                        // ICMP port unreachable and friends surface here on Linux: not fatal.
                        tracing::debug!(error = %e, "RTP receive error");
                        Wake::Nothing
                    }
                },
                n = recv_opt(self.waiting.as_mut().map(|w| &mut w.notices)) => Wake::Notice(n),
                ev = recv_opt(self.agent_events.as_mut()) => Wake::Agent(ev),
                ev = recv_opt(parked_events) => Wake::Parked(ev),
                cmd = recv_opt(parked_cmds) => Wake::ParkedCmd(cmd),
                rx = agent::recv_rtp(parked_socket, &mut parked_buf) => {
                    if let Some((data, from)) = rx {
                        self.consult_from_a(data, from);
                    }
                    Wake::Nothing
                }
                cmd = recv_opt(self.browser_cmds.as_mut()) => Wake::Browser(cmd),
                known = play::answer_opt(self.open_lookup.as_mut()) => Wake::Known(known),
                rx = agent::recv_rtp(self.agent_socket.as_ref(), &mut agent_buf) => {
                    let browser = self.agent.as_ref().is_some_and(|a| a.browser.is_some());
                    match (rx, self.agent.as_mut()) {
                        (Some((data, from)), Some(_)) if browser => self.on_browser_datagram(data, from),
                        (Some((data, from)), Some(_)) if consulting => self.consult_from_b(data, from),
                        (Some((data, from)), Some(agent)) => agent.relay_from_agent(&self.ctx, data, from, &mut self.media),
                        _ => {}
                    }
                    Wake::Nothing
                }
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => Wake::Timer,
                _ = self.ctx.shutdown.cancelled() => Wake::Shutdown,
            };
            let now = Instant::now();
            // What the caller hears before the wake-up was handled (after the frames a timer
            // builds: one prompt running into the next is not a change).
            let mut heard = self.audio();
            let flow = match woke {
                Wake::Nothing => None,
                Wake::Known(known) => self.on_open_intake(now, known),
                Wake::Digit(d, mode) => self.on_digit(now, d, mode).await,
                Wake::Timer => {
                    self.on_timer(now);
                    self.on_transfer_timer(now).await;
                    heard = self.audio();
                    let silent = self.media.expects_rtp()
                        && now.duration_since(self.media.last_rx) > rtp_timeout
                        && !matches!(self.phase, Phase::Closing { .. });
                    // A phone that stopped sending; a browser leg has its own rule (held for a
                    // reconnect, `on_browser_timer`).
                    let agent_silent = self.agent.as_ref().is_some_and(|a| {
                        a.browser.is_none()
                            && self.phase == Phase::Bridged
                            && now.duration_since(a.last_rx) > rtp_timeout
                    });
                    // A bridged call was answered, however it ends.
                    let outcome = if self.phase == Phase::Bridged {
                        Outcome::Answered
                    } else {
                        Outcome::Failed
                    };
                    if silent {
                        self.leg.hangup().await;
                        Some(Ending::by_server(outcome, "no RTP from caller"))
                    } else if agent_silent {
                        self.leg.hangup().await;
                        Some(Ending::by_server(outcome, "no RTP from the agent's phone"))
                    } else if let Some(ending) = self.on_browser_timer(now).await {
                        Some(ending)
                    } else {
                        self.on_wait_limits(now).await
                    }
                }
                Wake::Shutdown => {
                    self.leg.hangup().await;
                    Some(Ending::by_server(Outcome::Failed, "server shutdown"))
                }
                Wake::Leg(None) => Some(Ending::lost("SIP leg gone".into())),
                Wake::Leg(Some(ev)) => self.on_leg_event(now, ev).await,
                Wake::Notice(Some(n)) => self.on_notice(n).await,
                Wake::Notice(None) => {
                    // The queue engine stopped (shutdown): keep the caller until we are told.
                    self.waiting = None;
                    None
                }
                Wake::Agent(ev) => self.on_agent_event(ev).await,
                Wake::Parked(ev) => {
                    self.on_parked_event(ev).await;
                    None
                }
                Wake::ParkedCmd(cmd) => {
                    self.on_parked_command(cmd).await;
                    None
                }
                Wake::Browser(cmd) => {
                    let ending = self.on_browser_command(cmd).await;
                    self.pump_browser(now);
                    ending
                }
            };
            if let Some(ending) = flow {
                return ending;
            }
            self.drain_ivr(now).await;
            if self.audio() != heard {
                // The frames built ahead belong to what was playing: the new audio starts now.
                self.media.revoke();
            }
            if let Phase::Closing { outcome } = self.phase
                && self.playback.is_none()
            {
                self.leg.hangup().await;
                let reason = match outcome {
                    Outcome::MaxWait => "maximum wait reached",
                    Outcome::Callback => "callback requested",
                    Outcome::VoiceMessage => "voice message left",
                    _ => "ended by the server",
                };
                return Ending::by_server(outcome, reason);
            }
        }
    }

    /// Whether frames may be built ahead for the pacer: only while the call alone speaks to
    /// the caller (prompts, music, the beep). Not when bridged (the other side's audio may
    /// take any slot) nor while closing (we hang up when the last prompt has been sent).
    fn builds_ahead(&self) -> bool {
        matches!(
            self.phase,
            Phase::Ivr
                | Phase::Connecting
                | Phase::Hold { .. }
                | Phase::Recording { .. }
                | Phase::Transferring
        )
    }

    /// What the caller is hearing: the playback (by identity) and the phase.
    fn audio(&self) -> (Option<u32>, std::mem::Discriminant<Phase>) {
        (
            self.playback.as_ref().map(Playback::id),
            std::mem::discriminant(&self.phase),
        )
    }

    fn next_deadline(&mut self) -> Instant {
        let mut t = match self.phase {
            // Bridged media is paced by the far end; wake only for the dead-peer check (and to
            // play hold music or DTMF to the caller of a browser call).
            Phase::Bridged if self.playback.is_none() => Instant::now() + Duration::from_secs(1),
            _ => self.media.poll_timeout(self.builds_ahead()),
        };
        if let Some(b) = self.agent.as_mut().and_then(|a| a.browser.as_mut())
            && let Some(bt) = b.poll_timeout()
        {
            t = t.min(bt);
        }
        if let Some(ivr) = self.ivr.poll_timeout() {
            t = t.min(ivr);
        }
        if let Phase::Hold { until } | Phase::Recording { until } = self.phase {
            t = t.min(until);
        }
        if let Some(at) = self.transfer_deadline() {
            t = t.min(at);
        }
        t
    }

    async fn on_leg_event(&mut self, now: Instant, ev: LegEvent) -> Option<Ending> {
        match ev {
            LegEvent::Acked => {
                // Confirmed: our RTP may flow now (never before: a spoofed INVITE must not aim
                // a stream at a third party).
                self.media.on_ack(now);
                None
            }
            LegEvent::Cancelled => Some(Ending::by_caller(Outcome::Cancelled, "CANCEL")),
            LegEvent::Bye => Some(self.caller_hung_up(now).await),
            LegEvent::Info { content_type, body } => {
                match parse_info_body(&content_type, &body) {
                    Ok(d) => return self.on_digit(now, d, DtmfMode::Info).await,
                    Err(e) => tracing::debug!(error = %e, %content_type, "INFO without a digit"),
                }
                None
            }
            LegEvent::ReInvite { id, offer } => {
                let codec = [self.media.codec()];
                let parsed = offer.as_deref().map(|o| {
                    SessionOffer::parse(o)
                        .and_then(|o| sdp::negotiate_sdes(&o, &codec, self.srtp_rule))
                        .and_then(|mut a| {
                            // New keys are taken; SRTP cannot be turned on or off (488).
                            self.media.rekey(&mut a)?;
                            Ok(a)
                        })
                });
                self.sdp_version += 1;
                let port = self.media.local_port().unwrap_or(0);
                match parsed {
                    Some(Ok(answer)) => {
                        self.media.renegotiate(now, &answer);
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
            LegEvent::Ended { reason } => Some(Ending::lost(format!("{reason:?}"))),
            // The SIP layer refuses a caller's REFER (403); nothing reaches here.
            LegEvent::Refer { .. } => None,
        }
    }

    /// The caller sent BYE: what that means depends on where the call was.
    async fn caller_hung_up(&mut self, now: Instant) -> Ending {
        match self.phase {
            Phase::Bridged => Ending::by_caller(Outcome::Answered, "BYE from caller"),
            Phase::Transferring => {
                Ending::by_caller(Outcome::Answered, "BYE from caller during a transfer")
            }
            Phase::Recording { .. } => {
                self.save_voice_message(now).await;
                Ending::by_caller(Outcome::VoiceMessage, "BYE from caller after recording")
            }
            Phase::Closing { outcome } => Ending::by_caller(outcome, "BYE from caller"),
            Phase::Ivr => Ending::by_caller(Outcome::AbandonedIvr, "BYE from caller"),
            Phase::Connecting | Phase::Hold { .. } if self.requeued => Ending::by_caller(
                Outcome::Answered,
                "BYE from caller waiting after a transfer to a queue",
            ),
            Phase::Connecting | Phase::Hold { .. } => {
                Ending::by_caller(Outcome::AbandonedQueue, "BYE from caller")
            }
        }
    }

    /// Last words to the queue engine and the agent leg, whatever ended the call.
    async fn leave(&mut self, ending: &Ending) {
        self.end_transfer().await;
        self.end_agent_leg().await;
        if let Some(waiting) = self.waiting.take() {
            let reason = match ending.outcome {
                Outcome::Callback => crate::acd::RemoveReason::Callback,
                Outcome::VoiceMessage => crate::acd::RemoveReason::VoiceMessage,
                _ => crate::acd::RemoveReason::Abandoned,
            };
            waiting.leave(&self.ctx, &self.id, reason).await;
        }
    }
}

/// Receives from an optional channel; pending forever when there is none.
async fn recv_opt<T>(rx: Option<&mut mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
