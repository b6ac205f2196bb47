//! Call-leg lifecycle on top of `Core`: commands from call tasks, 2xx until ACK, our BYE (no I/O).
//!
//! RFC 3261 §13.3.1.4 (2xx retransmission, AckTimeout), §15 (BYE after ACK), §14.2 (re-INVITE answer).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::api::{Command, CommandKind, EndReason, LegEvent, LegId, ReInviteId};
use super::build::ResponseSpec;
use super::core::{Core, CoreEvent, Peer, TimerRef, TxKey};
use super::dialog::Dialog;
use super::message::SipMsg;
use super::transaction::TxEvent;
use super::transaction::ack_wait::AckWait;

/// Where a leg is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// INVITE received, no final response yet.
    Early,
    /// 2xx sent, waiting for the ACK.
    WaitAck,
    Confirmed,
    /// Our BYE is in flight.
    Terminating,
}

/// One inbound call leg: its INVITE, dialog and state.
pub(crate) struct Leg {
    pub(crate) peer: Peer,
    pub(crate) local: SocketAddr,
    pub(crate) local_ip: IpAddr,
    pub(crate) invite: SipMsg,
    pub(crate) ist: TxKey,
    pub(crate) dialog: Dialog,
    pub(crate) phase: Phase,
    pub(crate) ack_wait: Option<AckWait>,
    pub(crate) ack_cseq: u32,
    pub(crate) reinvite: Option<(ReInviteId, TxKey, SipMsg)>,
    pub(crate) hangup_requested: bool,
    /// The terminal event was already sent to the application.
    pub(crate) reported: bool,
    /// A REFER's implicit subscription is active: its final NOTIFY is still to come.
    pub(crate) refer: bool,
    /// We placed this call (an agent's phone): it may ask for a transfer. A caller may not
    /// send the hotline elsewhere (403).
    pub(crate) may_refer: bool,
}

impl Core {
    pub(crate) fn acked(&mut self, now: Instant, id: LegId) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        if leg.phase == Phase::WaitAck {
            leg.phase = Phase::Confirmed;
            let hangup = leg.hangup_requested;
            self.events.push_back(CoreEvent::Leg(id, LegEvent::Acked));
            if hangup {
                self.send_bye(now, id);
            }
        }
    }

    /// Sends a final response to the leg's INVITE (from the Early phase).
    pub(crate) fn final_to_invite(
        &mut self,
        now: Instant,
        id: LegId,
        code: u16,
        sdp: Option<Vec<u8>>,
    ) {
        let Some(leg) = self.legs.get(&id) else {
            return;
        };
        let contact = contact(leg);
        let tag = leg.dialog.key.local_tag.clone();
        let (key, invite) = (leg.ist.clone(), leg.invite.clone());
        let mut spec = ResponseSpec {
            to_tag: Some(&tag),
            ..ResponseSpec::new(code)
        };
        if code < 300 {
            spec.extra.push(("Contact", contact));
        }
        spec.body = sdp.as_deref().map(|b| ("application/sdp", b));
        self.respond_in(now, &key, &invite, &spec);
    }

    /// A command from a call task.
    pub(crate) fn handle_command(&mut self, now: Instant, cmd: Command) {
        let id = cmd.leg;
        let Some(leg) = self.legs.get(&id) else {
            // Not answered yet: an outgoing call (UAC).
            return self.out_command(now, id, cmd.kind);
        };
        let phase = leg.phase;
        match (cmd.kind, phase) {
            (CommandKind::Ringing, Phase::Early) => self.final_to_invite(now, id, 180, None),
            (CommandKind::Answer(sdp), Phase::Early) => self.answer(now, id, sdp),
            (CommandKind::Reject(code, reason), Phase::Early) if (300..700).contains(&code) => {
                let Some(leg) = self.legs.get(&id) else {
                    return;
                };
                let tag = leg.dialog.key.local_tag.clone();
                let (key, invite) = (leg.ist.clone(), leg.invite.clone());
                let mut spec = ResponseSpec {
                    reason: &reason,
                    to_tag: Some(&tag),
                    ..ResponseSpec::new(code)
                };
                if code == 503 {
                    // Overload: tell the phone when to try again (RFC 3261 §21.5.4).
                    spec.extra.push(("Retry-After", "5".into()));
                }
                self.respond_in(now, &key, &invite, &spec);
                self.end_leg(
                    id,
                    Some(LegEvent::Ended {
                        reason: EndReason::Rejected,
                    }),
                );
            }
            (CommandKind::Hangup | CommandKind::Dropped, Phase::Early) => {
                self.final_to_invite(now, id, 480, None);
                self.end_leg(
                    id,
                    Some(LegEvent::Ended {
                        reason: EndReason::Rejected,
                    }),
                );
            }
            (CommandKind::Hangup | CommandKind::Dropped, Phase::WaitAck) => {
                // RFC 3261 §15: wait for the ACK (or its timeout) before the BYE.
                if let Some(leg) = self.legs.get_mut(&id) {
                    leg.hangup_requested = true;
                }
            }
            (CommandKind::Hangup | CommandKind::Dropped, Phase::Confirmed) => {
                self.send_bye(now, id)
            }
            (CommandKind::AnswerReInvite(rid, sdp), Phase::Confirmed) => {
                self.answer_reinvite(now, id, rid, sdp)
            }
            (CommandKind::RejectReInvite(rid, code, reason), Phase::Confirmed)
                if (300..700).contains(&code) =>
            {
                self.reject_reinvite(now, id, rid, code, &reason)
            }
            (CommandKind::Notify(status, reason, last), Phase::Confirmed) => {
                self.send_notify(now, id, status, &reason, last)
            }
            _ => {}
        }
    }

    fn answer(&mut self, now: Instant, id: LegId, sdp: Vec<u8>) {
        self.final_to_invite(now, id, 200, Some(sdp));
        let reliable = self.legs.get(&id).is_some_and(|l| l.peer.reliable());
        let Some(bytes) = self.last_response(id) else {
            return;
        };
        let wait = AckWait::new(now, reliable, self.timers, bytes);
        let next = wait.poll_timeout();
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.phase = Phase::WaitAck;
            leg.ack_wait = Some(wait);
        }
        self.schedule(TimerRef::Leg(id), next);
    }

    /// The 2xx just sent for the leg (the last transmit).
    fn last_response(&self, _id: LegId) -> Option<Vec<u8>> {
        self.transmits.back().map(|t| t.bytes.clone())
    }

    fn answer_reinvite(&mut self, now: Instant, id: LegId, rid: ReInviteId, sdp: Vec<u8>) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        let Some((pending, key, msg)) = leg.reinvite.take() else {
            return;
        };
        if pending != rid {
            leg.reinvite = Some((pending, key, msg));
            return;
        }
        let tcp = leg.peer.reliable();
        let spec = ResponseSpec {
            extra: vec![("Contact", contact(leg))],
            body: Some(("application/sdp", &sdp)),
            ..ResponseSpec::new(200)
        };
        leg.ack_cseq = msg.cseq().map_or(0, |c| c.0);
        self.respond_in(now, &key, &msg, &spec);
        let Some(bytes) = self.last_response(id) else {
            return;
        };
        let wait = AckWait::new(now, tcp, self.timers, bytes);
        let next = wait.poll_timeout();
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.ack_wait = Some(wait);
        }
        self.schedule(TimerRef::Leg(id), next);
    }

    fn reject_reinvite(
        &mut self,
        now: Instant,
        id: LegId,
        rid: ReInviteId,
        code: u16,
        reason: &str,
    ) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        match leg.reinvite.take() {
            Some((pending, key, msg)) if pending == rid => {
                let spec = ResponseSpec {
                    reason,
                    ..ResponseSpec::new(code)
                };
                // The INVITE server transaction retransmits this final response and absorbs the ACK.
                self.respond_in(now, &key, &msg, &spec);
            }
            other => leg.reinvite = other,
        }
    }

    /// 2xx retransmission timer of a leg.
    pub(crate) fn leg_timeout(&mut self, now: Instant, id: LegId) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        let Some(wait) = leg.ack_wait.as_mut() else {
            return;
        };
        wait.handle_timeout(now);
        let mut out = Vec::new();
        while let Some(b) = wait.poll_transmit() {
            out.push(b);
        }
        let timed_out = wait.poll_event() == Some(TxEvent::Timeout);
        let next = wait.poll_timeout();
        let peer = leg.peer.clone();
        for b in out {
            self.send(&peer, b);
        }
        self.schedule(TimerRef::Leg(id), next);
        if timed_out {
            // RFC 3261 §13.3.1.4: no ACK → the session is over; hang up with BYE.
            if let Some(leg) = self.legs.get_mut(&id) {
                leg.ack_wait = None;
                leg.reported = true;
            }
            self.events.push_back(CoreEvent::Leg(
                id,
                LegEvent::Ended {
                    reason: EndReason::AckTimeout,
                },
            ));
            self.send_bye(now, id);
        }
    }

    /// Answers a re-INVITE the application has not answered yet with 487: the dialog is ending
    /// (RFC 3261 §15.1.2). Its transaction then runs to its end (ACK and Timer I, or Timer H).
    pub(crate) fn terminate_reinvite(&mut self, now: Instant, id: LegId) {
        let Some((_, key, msg)) = self.legs.get_mut(&id).and_then(|l| l.reinvite.take()) else {
            return;
        };
        self.respond_in(now, &key, &msg, &ResponseSpec::new(487));
    }

    pub(crate) fn send_bye(&mut self, now: Instant, id: LegId) {
        self.terminate_reinvite(now, id);
        let ua = self.ua.clone();
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        if leg.phase == Phase::Terminating {
            return;
        }
        leg.phase = Phase::Terminating;
        let via_host = SocketAddr::new(leg.local_ip, leg.local.port()).to_string();
        let (branch, bytes) = leg
            .dialog
            .next_request("BYE", via_host, leg.peer.transport(), &ua);
        let peer = leg.peer.clone();
        self.start_client_tx(now, id, peer, branch, bytes, false);
    }

    /// Our BYE got its answer (or timed out).
    pub(crate) fn bye_done(&mut self, now: Instant, id: LegId) {
        self.terminate_reinvite(now, id);
        self.end_leg(
            id,
            Some(LegEvent::Ended {
                reason: EndReason::Hangup,
            }),
        );
    }

    /// Removes a leg and its dialog; `last` is reported unless a terminal event already was.
    pub(crate) fn end_leg(&mut self, id: LegId, last: Option<LegEvent>) {
        let Some(leg) = self.legs.remove(&id) else {
            return;
        };
        self.dialogs.remove(&leg.dialog.key);
        self.schedule(TimerRef::Leg(id), None);
        if let (false, Some(ev)) = (leg.reported, last) {
            self.events.push_back(CoreEvent::Leg(id, ev));
        }
    }

    /// A TCP connection closed: its legs are gone and its transactions can send nothing more.
    pub(crate) fn connection_closed(&mut self, conn: u64) {
        let on_conn = |p: &Peer| matches!(p, Peer::Tcp { conn: c, .. } if *c == conn);
        let legs: Vec<LegId> = self
            .legs
            .iter()
            .filter(|(_, l)| on_conn(&l.peer))
            .map(|(id, _)| *id)
            .collect();
        for id in legs {
            self.end_leg(
                id,
                Some(LegEvent::Ended {
                    reason: EndReason::TransportError,
                }),
            );
        }
        let keys: Vec<TxKey> = self
            .server
            .iter()
            .filter(|(_, e)| on_conn(&e.peer))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.server.remove(&k);
            self.schedule(TimerRef::Server(k), None);
        }
        let branches: Vec<String> = self
            .client
            .iter()
            .filter(|(_, e)| on_conn(&e.peer))
            .map(|(b, _)| b.clone())
            .collect();
        for b in branches {
            self.client.remove(&b);
            self.schedule(TimerRef::Client(b), None);
        }
        self.out_connection_closed(conn);
        self.registrar.connection_closed(conn);
        self.registration_events();
    }

    /// The phase of a leg (tests).
    #[cfg(test)]
    pub(crate) fn leg_phase(&self, id: LegId) -> Option<Phase> {
        self.legs.get(&id).map(|l| l.phase)
    }
}

/// Our Contact (RFC 3261 §8.1.1.8, §12.1.1), with `;transport=tcp` over TCP and
/// `;transport=tls` over TLS (the peer's in-dialog requests then come back over TLS).
pub(crate) fn contact(leg: &Leg) -> String {
    let addr = SocketAddr::new(leg.local_ip, leg.local.port());
    format!("<sip:firstline@{addr}{}>", leg.peer.transport().uri_param())
}
