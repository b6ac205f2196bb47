//! Outgoing calls (UAC) to agents' phones on top of `Core` (no I/O).
//!
//! RFC 3261 §17.1.1 INVITE client transaction, §12.1.2 UAC dialog, §13.2.2.4 ACK for 2xx (sent
//! here, again for each retransmitted 2xx), §9.1 CANCEL (only after a provisional response; a
//! 200 that crosses our CANCEL is ACKed and BYEd). Once answered, the call is an ordinary `Leg`
//! in `Phase::Confirmed`, so BYE, re-INVITE and INFO behave exactly as on inbound calls.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::api::{CommandKind, EndReason, LegId};
use super::build;
use super::core::{Core, CoreEvent, Peer, TimerRef, TxKey};
use super::dialog::Dialog;
use super::leg::{Leg, Phase};
use super::message::{self, Method, SipMsg};
use super::outgoing::OutEvent;
use super::transaction::invite_client::{IctEvent, InviteClientTx};

/// Whether we want the call cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelState {
    No,
    /// Asked before any provisional response: sent when one arrives (§9.1).
    Wanted,
    Sent,
}

/// An outgoing INVITE and its client transaction, until the transaction ends.
pub(crate) struct OutCall {
    pub(crate) peer: Peer,
    pub(crate) local: SocketAddr,
    pub(crate) local_ip: IpAddr,
    pub(crate) invite: SipMsg,
    /// The INVITE as parts, to send it again answering a digest challenge.
    pub(crate) parts: Box<super::uac_request::InviteParts>,
    /// Credentials for one challenge (taken when used: a second challenge ends the call).
    pub(crate) auth: Option<super::outgoing::TrunkAuth>,
    pub(crate) branch: String,
    pub(crate) ict: InviteClientTx,
    pub(crate) cancel: CancelState,
    pub(crate) ringing: bool,
    /// Our ACK for the 2xx (resent for every 2xx retransmission).
    pub(crate) ack: Option<Vec<u8>>,
    /// A terminal event was reported (or the call continues as a `Leg`).
    pub(crate) finished: bool,
}

impl Core {
    /// A response to one of our INVITEs.
    pub(crate) fn on_out_response(&mut self, now: Instant, id: LegId, code: u16, msg: &SipMsg) {
        let ua = self.ua.clone();
        let Some(call) = self.out.get_mut(&id) else {
            return;
        };
        let ack = (code >= 300).then(|| non_2xx_ack(&call.invite, msg, &ua));
        if let (401 | 407, Some(a)) = (code, &ack)
            && self.retry_with_auth(now, id, code, msg, a.clone())
        {
            return;
        }
        let Some(call) = self.out.get_mut(&id) else {
            return;
        };
        call.ict.handle_response(now, code, ack);
        self.flush_out(now, id, Some(msg));
    }

    /// Drains the transaction of an outgoing call and acts on what it reports.
    pub(crate) fn flush_out(&mut self, now: Instant, id: LegId, msg: Option<&SipMsg>) {
        let Some(call) = self.out.get_mut(&id) else {
            return;
        };
        let peer = call.peer.clone();
        let mut out = Vec::new();
        while let Some(b) = call.ict.poll_transmit() {
            out.push(b);
        }
        let mut events = Vec::new();
        while let Some(ev) = call.ict.poll_event() {
            events.push(ev);
        }
        let next = call.ict.poll_timeout();
        for b in out {
            self.send(&peer, b);
        }
        self.schedule(TimerRef::Out(id), next);
        for ev in events {
            match ev {
                IctEvent::Response(code) if code < 200 => self.out_provisional(now, id, code),
                IctEvent::Response(code) if code < 300 => {
                    if let Some(m) = msg {
                        self.out_answered(now, id, m);
                    }
                }
                IctEvent::Response(code) => {
                    self.out_finish(id, code, build::reason(code).to_string());
                }
                IctEvent::Timeout => self.out_finish(id, 408, "Request Timeout".into()),
                IctEvent::Terminated => {
                    if let Some(call) = self.out.remove(&id) {
                        self.out_branches.remove(&call.branch);
                    }
                    self.schedule(TimerRef::Out(id), None);
                }
            }
        }
    }

    fn out_provisional(&mut self, now: Instant, id: LegId, code: u16) {
        let Some(call) = self.out.get_mut(&id) else {
            return;
        };
        let ring = code >= 180 && !call.ringing && call.cancel == CancelState::No;
        call.ringing |= ring;
        let cancel = call.cancel == CancelState::Wanted;
        if ring {
            self.events.push_back(CoreEvent::Out(id, OutEvent::Ringing));
        }
        if cancel {
            self.send_cancel(now, id);
        }
    }

    /// A 2xx: ACK it (§13.2.2.4); the first one creates the dialog and the `Leg`.
    fn out_answered(&mut self, now: Instant, id: LegId, resp: &SipMsg) {
        let ua = self.ua.clone();
        let Some(call) = self.out.get_mut(&id) else {
            return;
        };
        let via_host = SocketAddr::new(call.local_ip, call.local.port()).to_string();
        if let Some(ack) = call.ack.clone() {
            let peer = call.peer.clone();
            inc_retx(self);
            return self.send(&peer, ack);
        }
        let Some(dialog) = Dialog::new_uac(&call.invite, resp) else {
            // A 2xx without a To-tag cannot form a dialog; treat as a failure.
            return self.out_finish(id, 502, "Bad Gateway (2xx without To-tag)".into());
        };
        let ack = dialog.ack(via_host, call.peer.transport(), &ua);
        call.ack = Some(ack.clone());
        call.finished = true;
        let cancelled = call.cancel != CancelState::No;
        let peer = call.peer.clone();
        let leg = Leg {
            peer: peer.clone(),
            local: call.local,
            local_ip: call.local_ip,
            ist: TxKey::of(&call.invite, &Method::Invite),
            invite: call.invite.clone(),
            dialog,
            phase: Phase::Confirmed,
            ack_wait: None,
            ack_cseq: 0,
            reinvite: None,
            hangup_requested: false,
            reported: false,
            refer: false,
            may_refer: true,
        };
        self.send(&peer, ack);
        self.dialogs.insert(leg.dialog.key.clone(), id);
        self.legs.insert(id, leg);
        if cancelled {
            // §9.1: the 200 crossed our CANCEL: the call is up, so end it with BYE.
            self.send_bye(now, id);
        } else {
            let sdp = (!resp.body.is_empty()).then(|| resp.body.clone());
            self.events
                .push_back(CoreEvent::Out(id, OutEvent::Answered { sdp }));
        }
    }

    /// A final failure (non-2xx, timeout, transport): reported once.
    fn out_finish(&mut self, id: LegId, status: u16, reason: String) {
        let Some(call) = self.out.get_mut(&id) else {
            return;
        };
        if call.finished {
            return;
        }
        call.finished = true;
        let ev = if call.cancel == CancelState::No {
            OutEvent::Failed { status, reason }
        } else {
            OutEvent::Ended {
                reason: EndReason::Hangup,
            }
        };
        self.events.push_back(CoreEvent::Out(id, ev));
    }

    /// Commands for an outgoing call that is not answered yet.
    pub(crate) fn out_command(&mut self, now: Instant, id: LegId, kind: CommandKind) {
        let Some(call) = self.out.get_mut(&id) else {
            return;
        };
        if call.finished {
            return;
        }
        if let CommandKind::Cancel | CommandKind::Hangup | CommandKind::Dropped = kind {
            match (
                call.cancel,
                call.ringing
                    || call.ict.state() != super::transaction::invite_client::IctState::Calling,
            ) {
                (CancelState::No, true) => self.send_cancel(now, id),
                (CancelState::No, false) => call.cancel = CancelState::Wanted,
                _ => {}
            }
        }
    }

    /// CANCEL (§9.1): same Request-URI, Call-ID, From, To, CSeq number and Via as the INVITE.
    fn send_cancel(&mut self, now: Instant, id: LegId) {
        let ua = self.ua.clone();
        let Some(call) = self.out.get_mut(&id) else {
            return;
        };
        call.cancel = CancelState::Sent;
        call.ict.cancelled(now);
        let bytes = cancel_request(&call.invite, &ua);
        let peer = call.peer.clone();
        let key = format!("{}|CANCEL", call.branch);
        self.start_client_tx(now, id, peer, key, bytes, true);
        self.flush_out(now, id, None);
    }

    /// Timers of an outgoing call's INVITE transaction.
    pub(crate) fn out_timeout(&mut self, now: Instant, id: LegId) {
        if let Some(call) = self.out.get_mut(&id) {
            call.ict.handle_timeout(now);
        }
        self.flush_out(now, id, None);
    }

    /// A TCP connection closed: unanswered calls over it fail with 503.
    pub(crate) fn out_connection_closed(&mut self, conn: u64) {
        let ids: Vec<LegId> = self
            .out
            .iter()
            .filter(|(_, c)| matches!(c.peer, Peer::Tcp { conn: k, .. } if k == conn))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.out_finish(id, 503, "Service Unavailable (transport error)".into());
            if let Some(call) = self.out.remove(&id) {
                self.out_branches.remove(&call.branch);
            }
            self.schedule(TimerRef::Out(id), None);
        }
    }
}

fn inc_retx(core: &Core) {
    super::stats::inc(&core.stats.retransmissions);
}

/// Copies the INVITE's Request-URI, top Via, Route, From, Call-ID and CSeq number into a
/// request of `method`, with `to` as To (§9.1 CANCEL, §17.1.1.3 ACK for a non-2xx).
fn same_tx_request(invite: &SipMsg, method: &str, to: &str, ua: &str) -> Vec<u8> {
    let uri = match &invite.start {
        message::StartLine::Request { uri, .. } => uri.as_str(),
        message::StartLine::Response { .. } => "",
    };
    let mut s = format!("{method} {uri} SIP/2.0\r\n");
    if let Some(via) = invite.top_via() {
        let _ = write!(s, "Via: {via}\r\n");
    }
    let _ = write!(s, "Max-Forwards: 70\r\n");
    for r in invite.header_list("Route") {
        let _ = write!(s, "Route: {r}\r\n");
    }
    let _ = write!(
        s,
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\nUser-Agent: {ua}\r\nContent-Length: 0\r\n\r\n",
        invite.header("From").unwrap_or(""),
        invite.call_id().unwrap_or(""),
        invite.cseq().map_or(1, |c| c.0),
    );
    s.into_bytes()
}

fn cancel_request(invite: &SipMsg, ua: &str) -> Vec<u8> {
    same_tx_request(invite, "CANCEL", invite.header("To").unwrap_or(""), ua)
}

fn non_2xx_ack(invite: &SipMsg, resp: &SipMsg, ua: &str) -> Vec<u8> {
    same_tx_request(invite, "ACK", resp.header("To").unwrap_or(""), ua)
}
