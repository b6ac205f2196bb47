//! Blind transfer of a bridged call to a named agent (issue 15): asked from the desk, or by a
//! REFER from the agent's phone (RFC 3515). The handing agent's leg is parked (not relayed, kept
//! up) while the caller hears hold music and the target's phone rings outside the queue (the
//! engine has them on a call from the ring: `AcdHandle::start_outbound`); their desk pops the
//! same intake, with everything written so far. The target answers: the caller is bridged to
//! them, the handing agent's phone gets the final NOTIFY (`200 OK`) and BYE and goes to wrap-up,
//! and the journal writes the leg and the intake's `handed_over` note. The target does not
//! answer: the caller goes back to the handing agent (a REFER gets the failure's NOTIFY).

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::agent::AgentCall;
use super::{Phase, Session};
use crate::acd::AgentState;
use crate::call::phone_offer::PhoneOffer;
use crate::call::rtp_socket::RtpSocket;
use crate::domain::{AgentId, Device};
use crate::events::EventKind;
use crate::media::prompts::Playback;
use crate::sip::OutEvent;
use crate::store::{Transfer as TransferRecord, Write, now_ms};

/// How long the target's phone rings before the call goes back.
const RING: Duration = Duration::from_secs(20);

/// A transfer under way.
pub(super) struct Transfer {
    /// The handing agent's leg, parked; `gone` once they hung up.
    pub(super) from: Box<AgentCall>,
    pub(super) from_events: Option<mpsc::Receiver<OutEvent>>,
    pub(super) from_socket: Option<RtpSocket>,
    /// The handing agent's desk commands: an attended transfer's complete or return
    /// (`consult.rs`); refused while a blind one runs.
    pub(super) from_cmds: Option<mpsc::Receiver<crate::call::browser::BrowserCommand>>,
    /// Attended: the handing agent talks to the target first, then completes or returns.
    pub(super) consult: Option<Box<super::consult::Consult>>,
    to: AgentId,
    reason: String,
    /// The handing agent's phone asked with a REFER: it gets NOTIFYs.
    refer: bool,
    /// The target's state before they were rung (restored when they do not answer); `None`
    /// for an agent the queue engine does not route to (a second-level specialist who takes
    /// no queue calls): nothing to reserve or restore.
    before: Option<AgentState>,
    /// When the caller was put on hold (epoch ms): the end of the handing agent's talk.
    parked_at: i64,
    deadline: Instant,
}

/// Why a transfer was not started (the call goes on as it was).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TransferRefused {
    #[error("the call is not connected to you")]
    NotConnected,
    #[error("a transfer of this call is already under way")]
    Busy,
    #[error("the call is already yours")]
    ToSelf,
    #[error("{0} cannot be rung: no registered desk phone")]
    Unreachable(String),
    #[error("{0} cannot take a call now: {1}")]
    TargetBusy(String, String),
    #[error("only calls on a desk phone can be transferred so far")]
    Browser,
}

impl TransferRefused {
    /// The SIP status a REFER's NOTIFY reports for it.
    pub(crate) fn sip_status(&self) -> (u16, &'static str) {
        match self {
            Self::Unreachable(_) => (480, "Temporarily Unavailable"),
            Self::TargetBusy(..) => (486, "Busy Here"),
            _ => (403, "Forbidden"),
        }
    }
}

impl Session {
    /// Hands the bridged call to `to`; `refer`: asked by the agent's phone (REFER).
    pub(crate) async fn start_transfer(
        &mut self,
        to: AgentId,
        reason: String,
        refer: bool,
    ) -> Result<(), TransferRefused> {
        self.hand_over(to, reason, refer, false).await
    }

    /// [`Session::start_transfer`], or with `consult` an attended one (the target's answer
    /// bridges them to the handing agent, not yet to the caller).
    pub(super) async fn hand_over(
        &mut self,
        to: AgentId,
        reason: String,
        refer: bool,
        consult: bool,
    ) -> Result<(), TransferRefused> {
        let Some(a) = self.agent.as_ref().filter(|a| a.is_bridged()) else {
            return Err(TransferRefused::NotConnected);
        };
        if self.phase != Phase::Bridged {
            return Err(TransferRefused::NotConnected);
        }
        if self.transfer.is_some() {
            return Err(TransferRefused::Busy);
        }
        if a.browser.is_some() {
            return Err(TransferRefused::Browser);
        }
        if a.agent == to {
            return Err(TransferRefused::ToSelf);
        }
        let reach = self.ctx.agent_reach(&to).await;
        let extension = match reach {
            Some(r) if r.device == Device::Phone => r.extension,
            _ => None,
        };
        let Some(extension) = extension.filter(|e| self.ctx.sip.binding(e).is_some()) else {
            return Err(TransferRefused::Unreachable(to.to_string()));
        };
        let Some(phone) = PhoneOffer::for_phone(
            &self.ctx.sip,
            self.ctx.srtp,
            &self.ctx.stats,
            &to,
            &extension,
        ) else {
            return Err(TransferRefused::Unreachable(to.to_string()));
        };
        let before = match self.ctx.acd.start_outbound(to.clone()).await {
            Ok(b) => Some(b),
            Err(crate::acd::AcdError::UnknownAgent(_)) => None,
            Err(e) => return Err(TransferRefused::TargetBusy(to.to_string(), e.to_string())),
        };
        // Park the handing agent; the caller hears hold music, continuing our stream.
        let now = Instant::now();
        let Some(mut from) = self.agent.take() else {
            return Err(TransferRefused::NotConnected);
        };
        self.caller_stream_from(&mut from, now);
        tracing::info!(from = %from.agent, %to, refer, "transfer: ringing the target");
        self.transfer = Some(Box::new(Transfer {
            from,
            from_events: self.agent_events.take(),
            from_socket: self.agent_socket.take(),
            from_cmds: self.browser_cmds.take(),
            consult: consult.then(Box::default),
            to: to.clone(),
            reason,
            refer,
            before,
            parked_at: now_ms(),
            deadline: now + RING,
        }));
        self.phase = Phase::Transferring;
        self.play(Playback::looping(self.ctx.prompts.hold()));
        self.ring_phone(None, to, extension, phone).await;
        Ok(())
    }

    /// A REFER from the bridged agent's phone: the Refer-To user is an agent's extension.
    pub(super) async fn on_refer(&mut self, target: crate::sip::NameAddr) {
        let ext = target.user.unwrap_or_default();
        let result = match self.ctx.sip.agent_of_extension(&ext) {
            Some(to) => self.start_transfer(to, String::new(), true).await,
            None => Err(TransferRefused::Unreachable(ext.clone())),
        };
        if let Err(e) = result {
            tracing::info!(error = %e, extension = %ext, "REFER refused");
            let (status, reason) = match &e {
                TransferRefused::Unreachable(_) => {
                    (404, "Not Found (no agent with this extension)")
                }
                other => other.sip_status(),
            };
            if let Some(leg) = self.agent.as_ref().and_then(|a| a.leg()) {
                leg.notify_transfer(status, reason, true).await;
            }
        }
    }

    /// Hands the bridged call to a first-level queue (blind): the agent is released at once
    /// (BYE, wrap-up), the caller waits in `category`'s queue with hold music, keeping their
    /// priority and intake, and whoever answers next gets the pop of the same intake.
    pub(crate) async fn transfer_to_queue(
        &mut self,
        category: crate::domain::Category,
        reason: String,
    ) -> Result<(), TransferRefused> {
        if self.phase != Phase::Bridged || !self.agent.as_ref().is_some_and(|a| a.is_bridged()) {
            return Err(TransferRefused::NotConnected);
        }
        if self.transfer.is_some() {
            return Err(TransferRefused::Busy);
        }
        if self.agent.as_ref().is_some_and(|a| a.browser.is_some()) {
            return Err(TransferRefused::Browser);
        }
        let Some(mut from) = self.take_agent() else {
            return Err(TransferRefused::NotConnected);
        };
        let now = Instant::now();
        self.caller_stream_from(&mut from, now);
        self.release_parked(&mut from).await;
        let at = now_ms();
        self.record_transfer(&from, at, (None, None, Some(category)), reason);
        self.ctx.events.publish(EventKind::CallTransferred {
            call_id: self.id.clone(),
            from_agent: from.agent.clone(),
            to_agent: None,
            completed: true,
        });
        tracing::info!(from = %from.agent, %category, "transferred to a queue");
        self.requeued = true;
        self.handed_over = true;
        let priority = self.choice.and_then(|(_, p)| p);
        self.choice = Some((category, priority));
        let until = now + Duration::from_secs(self.ctx.call.max_wait_secs);
        self.phase = Phase::Hold { until };
        self.play(Playback::looping(self.ctx.prompts.hold()));
        self.enqueue(now).await;
        Ok(())
    }

    /// When the target's ringing is given up.
    pub(super) fn transfer_deadline(&self) -> Option<Instant> {
        self.transfer.as_ref().map(|t| t.deadline)
    }

    /// The target's phone rang out.
    pub(super) async fn on_transfer_timer(&mut self, now: Instant) {
        if self.transfer.as_ref().is_some_and(|t| now >= t.deadline)
            && self.agent.as_ref().is_none_or(|a| !a.is_bridged())
        {
            if let Some(a) = self.take_agent() {
                a.cancel_leg().await;
                self.offer_over(&a.agent, crate::store::OfferResult::NoAnswer)
                    .await;
            }
            self.transfer_failed(480, "Temporarily Unavailable (no answer)")
                .await;
        }
    }

    /// The parked agent's SIP leg: a hang-up is noted (the transfer goes on), a re-INVITE
    /// (the phone's own hold) refused, the rest ignored.
    pub(super) async fn on_parked_event(&mut self, ev: Option<OutEvent>) {
        let Some(t) = self.transfer.as_mut() else {
            return;
        };
        match ev {
            Some(OutEvent::ReInvite { id, .. }) => {
                if let Some(leg) = t.from.leg() {
                    leg.reject_reinvite(id, 488, "Not Acceptable Here (on hold for a transfer)")
                        .await;
                }
            }
            Some(OutEvent::Info { .. } | OutEvent::Ringing | OutEvent::Answered { .. }) => {}
            Some(OutEvent::Refer { .. }) => {
                // One transfer at a time: this REFER's subscription ends at once.
                if let Some(leg) = t.from.leg() {
                    leg.notify_transfer(491, "Request Pending", true).await;
                }
            }
            _ => {
                tracing::info!(agent = %t.from.agent, "the handing agent hung up during the transfer");
                t.from.mark_gone();
                t.from_events = None;
                if self.consulting() {
                    // Hanging up during the consultation completes the transfer.
                    self.finish_consult().await;
                }
            }
        }
    }

    /// The target answered and is bridged (`connect_agent`): the hand-over is complete, or
    /// an attended one's consultation begins.
    pub(super) async fn transfer_connected(&mut self, to: AgentId, device: Device) {
        if self.transfer.as_ref().is_some_and(|t| t.consult.is_some()) {
            return self.consult_begins();
        }
        self.complete_transfer(to, device).await;
    }

    /// The call is the target's now: the handing agent is released, the records written.
    pub(super) async fn complete_transfer(&mut self, to: AgentId, device: Device) {
        let Some(t) = self.transfer.take() else {
            return;
        };
        let consulted = t.consult.is_some();
        let Transfer {
            mut from,
            refer,
            reason,
            parked_at,
            ..
        } = *t;
        if refer && let Some(leg) = from.leg() {
            leg.notify_transfer(200, "OK", true).await;
        }
        self.release_parked(&mut from).await;
        let at = now_ms();
        let reason = if reason.is_empty() && refer {
            "transferred from the phone".into()
        } else {
            reason
        };
        // Attended: the handing agent was on the line until they completed it.
        let from_ended_at = if consulted { at } else { parked_at };
        self.record_transfer(
            &from,
            from_ended_at,
            (Some(to.clone()), Some(at), None),
            reason,
        );
        self.ctx.journal.write(Write::AgentDevice {
            call: self.id.clone(),
            device,
        });
        self.ctx.journal.write(Write::OfferEnded {
            call: self.id.clone(),
            agent: to.clone(),
            at,
            result: crate::store::OfferResult::Answered,
        });
        self.ctx.events.publish(EventKind::CallTransferred {
            call_id: self.id.clone(),
            from_agent: from.agent.clone(),
            to_agent: Some(to.clone()),
            completed: true,
        });
        self.ctx.events.publish(EventKind::CallConnected {
            call_id: self.id.clone(),
            agent_id: to.clone(),
            waited_ms: 0,
        });
        self.handed_over = true;
        tracing::info!(from = %from.agent, %to, "transfer complete");
    }

    /// The target did not take the call: back to the handing agent (or, when they hung up
    /// meanwhile, the call ends). A REFER gets the failure as its final NOTIFY.
    pub(super) async fn transfer_failed(&mut self, status: u16, reason: &str) {
        let Some(t) = self.transfer.take() else {
            return;
        };
        let Transfer {
            mut from,
            from_events,
            from_socket,
            from_cmds,
            to,
            refer,
            before,
            ..
        } = *t;
        if let Some(before) = before
            && let Err(e) = self.ctx.acd.abort_outbound(to.clone(), before).await
        {
            tracing::debug!(error = %e, agent = %to, "cannot restore the transfer target's state");
        }
        tracing::info!(from = %from.agent, %to, status, reason, "transfer failed: back to the agent");
        self.ctx.events.publish(EventKind::CallTransferred {
            call_id: self.id.clone(),
            from_agent: from.agent.clone(),
            to_agent: Some(to.clone()),
            completed: false,
        });
        if refer && let Some(leg) = from.leg() {
            leg.notify_transfer(status, reason, true).await;
        }
        if from.is_gone() {
            // Nobody to go back to: the call ends (an answered call, ended by the server).
            self.release_parked(&mut from).await;
            self.playback = None;
            self.phase = Phase::Closing {
                outcome: crate::store::Outcome::Answered,
            };
            self.play_prompt("goodbye");
            return;
        }
        // Back to the agent: their relay continues our stream, as at the first bridge.
        let (ssrc, seq, ts) = self.media.stream_position();
        from.resume_relay(self.media.format(), ssrc, seq, ts);
        self.agent = Some(from);
        self.agent_events = from_events;
        self.agent_socket = from_socket;
        self.browser_cmds = from_cmds;
        self.playback = None;
        self.phase = Phase::Bridged;
    }

    /// The caller's stream goes on from where the handing agent's relay left it (hold music,
    /// no sequence jump).
    fn caller_stream_from(&mut self, from: &mut AgentCall, now: Instant) {
        match from.take_caller_relay() {
            Some(relay) => {
                let (_, seq, ts) = relay.position();
                self.media.continue_from(seq, ts, now);
            }
            None => self.media.start_clock(now),
        }
    }

    /// Hands the completed transfer to the journal: the handing agent's leg up to
    /// `from_ended_at`, the new agent (answered at) or queue, the history note.
    fn record_transfer(
        &self,
        from: &AgentCall,
        from_ended_at: i64,
        (to, to_connected_at, to_queue): (
            Option<AgentId>,
            Option<i64>,
            Option<crate::domain::Category>,
        ),
        reason: String,
    ) {
        self.ctx
            .journal
            .write(Write::Transferred(Box::new(TransferRecord {
                call: self.id.clone(),
                intake: self.intake_id.clone(),
                from: from.agent.clone(),
                from_connected_at: from.connected_at,
                from_ended_at,
                to,
                to_connected_at,
                to_queue,
                reason,
            })));
    }

    /// The parked leg's end: BYE (unless gone), and the agent's wrap-up.
    async fn release_parked(&mut self, from: &mut AgentCall) {
        if !from.is_gone() {
            from.hangup_leg().await;
        }
        if let Err(e) = self.ctx.acd.call_ended(from.agent.clone()).await {
            tracing::warn!(error = %e, agent = %from.agent, "cannot end the handing agent's call");
        }
        from.disarm();
    }

    /// The call ends during a transfer (the caller hung up, shutdown): the parked agent is
    /// released, a ringing target restored.
    pub(super) async fn end_transfer(&mut self) {
        let Some(t) = self.transfer.take() else {
            return;
        };
        let Transfer {
            mut from,
            to,
            refer,
            before,
            ..
        } = *t;
        if self.agent.as_ref().is_some_and(|a| !a.is_bridged()) {
            // The target was still ringing: the caller's `end_agent_leg` CANCELs it.
            if let Some(before) = before
                && let Err(e) = self.ctx.acd.abort_outbound(to.clone(), before).await
            {
                tracing::debug!(error = %e, agent = %to, "cannot restore the transfer target's state");
            }
        }
        if refer && let Some(leg) = from.leg() {
            leg.notify_transfer(487, "Request Terminated", true).await;
        }
        self.release_parked(&mut from).await;
    }
}
