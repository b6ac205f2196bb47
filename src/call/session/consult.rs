//! Attended transfer (issue 15): the handing agent asks from the desk to consult a colleague.
//! The caller hears hold music (the handing agent's leg is parked as for a blind transfer,
//! `transfer.rs`) while the colleague's phone rings; once they answer, the two agents talk —
//! RTP relayed between the parked leg and the colleague's — and the handing agent then
//! **completes** (the caller is bridged to the colleague, the handing agent released) or
//! **returns** (the colleague is hung up, the caller back with the handing agent). The handing
//! agent hanging up during the consultation completes it; the colleague hanging up returns it.

use std::net::SocketAddr;

use super::Session;
use crate::call::browser::{BrowserCallError, BrowserCommand};
use crate::domain::Device;
use crate::media::prompts::Playback;
use crate::media::relay::{Relayed, RtpRelay};
use crate::store::OfferResult;

/// The consultation of an attended transfer.
#[derive(Default)]
pub(super) struct Consult {
    /// The colleague answered: the agents talk.
    pub(super) talking: bool,
    a_to_b: Option<RtpRelay>,
    b_to_a: Option<RtpRelay>,
    out: Vec<u8>,
}

impl Session {
    /// Whether the two agents are talking (a consultation after the colleague's answer).
    pub(super) fn consulting(&self) -> bool {
        (self.transfer.as_ref())
            .and_then(|t| t.consult.as_ref())
            .is_some_and(|c| c.talking)
    }

    /// The colleague answered a consultation (`connect_agent` bridged them): the caller stays on
    /// hold, the agents are relayed to each other, and the handing agent's desk keeps the call.
    pub(super) fn consult_begins(&mut self) {
        let call = self.id.clone();
        let (Some(t), Some(b)) = (self.transfer.as_mut(), self.agent.as_mut()) else {
            return;
        };
        let (Some(fa), Some(fb)) = (t.from.format, b.format) else {
            return;
        };
        // The desk of the handing agent keeps the call (complete, return), not the colleague's.
        b.control = None;
        self.browser_cmds = None;
        // The old registration goes first: dropped after the new one, it would remove it.
        drop(t.from.control.take());
        let (reg, rx) = self.ctx.browser.register_phone(call, t.from.agent.clone());
        t.from.control = Some(reg);
        t.from_cmds = Some(rx);
        if let Some(c) = t.consult.as_mut() {
            c.talking = true;
            c.a_to_b = Some(RtpRelay::new(fa, fb, rand::random(), rand::random()));
            c.b_to_a = Some(RtpRelay::new(fb, fa, rand::random(), rand::random()));
        }
        tracing::info!(to = %b.agent, "consultation: the agents talk, the caller on hold");
        // The colleague's desk shows the call connected (they talk to the handing agent).
        self.ctx
            .events
            .publish(crate::events::EventKind::CallConnected {
                call_id: self.id.clone(),
                agent_id: b.agent.clone(),
                waited_ms: 0,
            });
        self.phase = super::Phase::Transferring;
        self.play(Playback::looping(self.ctx.prompts.hold()));
    }

    /// A datagram from the parked (handing) agent's phone: to the colleague while they talk.
    pub(super) fn consult_from_a(&mut self, data: &mut [u8], from: SocketAddr) {
        let (Some(t), Some(b), Some(bs)) = (
            self.transfer.as_mut(),
            self.agent.as_mut(),
            self.agent_socket.as_ref(),
        ) else {
            return;
        };
        let Some(c) = t.consult.as_mut().filter(|c| c.talking) else {
            return;
        };
        if let (Some(p), Some(relay)) = (t.from.accept(&self.ctx, data, from), c.a_to_b.as_mut()) {
            c.out.clear();
            if relay.relay(&p, &mut c.out) != Relayed::Dropped {
                b.send_plain(&c.out, bs);
            }
        }
    }

    /// A datagram from the colleague's phone during the consultation: to the handing agent.
    pub(super) fn consult_from_b(&mut self, data: &mut [u8], from: SocketAddr) {
        let (Some(t), Some(b)) = (self.transfer.as_mut(), self.agent.as_mut()) else {
            return;
        };
        let (Some(c), Some(asock)) = (t.consult.as_mut(), t.from_socket.as_ref()) else {
            return;
        };
        if let (Some(p), Some(relay)) = (b.accept(&self.ctx, data, from), c.b_to_a.as_mut()) {
            c.out.clear();
            if relay.relay(&p, &mut c.out) != Relayed::Dropped {
                t.from.send_plain(&c.out, asock);
            }
        }
    }

    /// The handing agent completes: the caller is bridged to the colleague.
    pub(super) async fn finish_consult(&mut self) {
        let Some(to) = self.agent.as_ref().map(|b| b.agent.clone()) else {
            return;
        };
        let caller = self.media.format();
        let (ssrc, seq, ts) = self.media.stream_position();
        let call = self.id.clone();
        if let Some(b) = self.agent.as_mut() {
            // The colleague's audio continues the caller's stream where the music is now.
            b.resume_relay(caller, ssrc, seq, ts);
            let (reg, rx) = self.ctx.browser.register_phone(call, to.clone());
            b.control = Some(reg);
            self.browser_cmds = Some(rx);
        }
        self.playback = None;
        self.phase = super::Phase::Bridged;
        self.complete_transfer(to, Device::Phone).await;
    }

    /// The handing agent returns to the caller (or the colleague left): the colleague is
    /// released, the caller bridged to the handing agent again.
    pub(super) async fn cancel_consult(&mut self, why: &str) {
        if let Some(mut b) = self.take_agent() {
            if b.is_bridged() {
                b.hangup_leg().await;
                b.disarm();
            } else {
                b.cancel_leg().await;
            }
            self.offer_over(&b.agent, OfferResult::Cancelled).await;
        }
        tracing::info!(why, "consultation over: back to the caller");
        self.transfer_failed(487, "Request Terminated").await;
    }

    /// A desk command of the handing agent while the call is being handed over.
    pub(super) async fn on_parked_command(&mut self, cmd: Option<BrowserCommand>) {
        let Some(cmd) = cmd else {
            if let Some(t) = self.transfer.as_mut() {
                t.from_cmds = None;
            }
            return;
        };
        let attended = self.transfer.as_ref().is_some_and(|t| t.consult.is_some());
        let not_now = |what: &str| Err::<(), _>(BrowserCallError::Conflict(what.to_owned()));
        match cmd {
            BrowserCommand::CompleteTransfer { reply } if self.consulting() => {
                self.finish_consult().await;
                let _ = reply.send(Ok(()));
            }
            BrowserCommand::CompleteTransfer { reply } => {
                let _ = reply.send(not_now("the colleague has not answered yet"));
            }
            BrowserCommand::CancelTransfer { reply } if attended => {
                self.cancel_consult("the handing agent returned").await;
                let _ = reply.send(Ok(()));
            }
            BrowserCommand::Hangup { reply } if self.consulting() => {
                // Hanging up during the consultation completes the transfer.
                self.finish_consult().await;
                let _ = reply.send(Ok(()));
            }
            BrowserCommand::Offer { reply, .. } => {
                let _ = reply.send(Err(BrowserCallError::Conflict(
                    "the call is being handed over".to_owned(),
                )));
            }
            BrowserCommand::Hangup { reply }
            | BrowserCommand::CancelTransfer { reply }
            | BrowserCommand::Hold { reply, .. }
            | BrowserCommand::Mute { reply, .. }
            | BrowserCommand::Dtmf { reply, .. }
            | BrowserCommand::Transfer { reply, .. }
            | BrowserCommand::TransferToQueue { reply, .. }
            | BrowserCommand::Consult { reply, .. } => {
                let _ = reply.send(not_now("the call is being handed over"));
            }
            // A reloaded desk learns of it from its frames.
            BrowserCommand::Status { .. } => {}
        }
    }
}
