//! UAS behaviour per method, on top of `Core` (no I/O).
//!
//! RFC 3261 §9.2 CANCEL, §12.2.2 in-dialog requests, §13.3.1 INVITE, §14.2 re-INVITE,
//! §15 BYE, §11 OPTIONS; RFC 6086 INFO.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::api::{LegEvent, LegId, ReInviteId};
use super::build::{self, ACCEPT, ResponseSpec};
use super::core::{Core, CoreEvent, NewCall, Peer, ServerEntry, ServerTx, TimerRef, TxKey};
use super::dialog::{CseqCheck, Dialog, DialogKey};
use super::leg::{Leg, Phase};
use super::message::{Method, SipMsg, StartLine};
use super::pike::{Kind, Verdict};
use super::stats::inc;
use super::transaction::invite_server::{InviteServerTx, IstInput};
use super::transaction::non_invite_server::{NistInput, NonInviteServerTx};

fn content_type(msg: &SipMsg) -> String {
    msg.header("Content-Type")
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn sdp_of(msg: &SipMsg) -> Option<Vec<u8>> {
    (content_type(msg) == "application/sdp" && !msg.body.is_empty()).then(|| msg.body.clone())
}

/// The IP to put in Contact/Via/SDP: the socket's, else the request-URI host, else loopback.
pub(crate) fn pick_local_ip(local: SocketAddr, uri: &str) -> IpAddr {
    if !local.ip().is_unspecified() {
        return local.ip();
    }
    build::name_addr(uri)
        .host
        .parse::<IpAddr>()
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

impl Core {
    pub(crate) fn respond_in(
        &mut self,
        now: Instant,
        key: &TxKey,
        msg: &SipMsg,
        spec: &ResponseSpec<'_>,
    ) {
        let Some(entry) = self.server.get_mut(key) else {
            return;
        };
        let bytes = build::response(msg, entry.peer.addr(), spec, &self.ua);
        match &mut entry.tx {
            ServerTx::Invite(t) => {
                t.handle(
                    now,
                    IstInput::Respond {
                        code: spec.code,
                        bytes,
                    },
                );
            }
            ServerTx::NonInvite(t) => t.handle(
                now,
                NistInput::Respond {
                    code: spec.code,
                    bytes,
                },
            ),
        }
        self.flush_server(now, key);
    }

    /// Creates the server transaction for a new request and answers it.
    pub(crate) fn reply_new(
        &mut self,
        now: Instant,
        peer: &Peer,
        key: &TxKey,
        msg: &SipMsg,
        spec: ResponseSpec<'_>,
    ) {
        self.open_tx(peer, key, msg, None);
        if spec.code == 503 {
            inc(&self.stats.unavailable_503);
        }
        self.respond_in(now, key, msg, &spec);
    }

    fn open_tx(&mut self, peer: &Peer, key: &TxKey, msg: &SipMsg, leg: Option<LegId>) {
        let reliable = peer.reliable();
        let tx = if msg.method() == Some(&Method::Invite) {
            ServerTx::Invite(InviteServerTx::new(reliable, self.timers))
        } else {
            ServerTx::NonInvite(NonInviteServerTx::new(reliable, self.timers))
        };
        self.server.insert(
            key.clone(),
            ServerEntry {
                tx,
                peer: peer.clone(),
                leg,
            },
        );
    }

    pub(crate) fn on_new_request(
        &mut self,
        now: Instant,
        peer: Peer,
        local: SocketAddr,
        msg: SipMsg,
        method: Method,
        key: TxKey,
    ) {
        if method == Method::Cancel {
            return self.on_cancel(now, &peer, &msg, &key);
        }
        if let Some(dkey) = DialogKey::of_request(&msg) {
            return self.on_in_dialog(now, &peer, msg, method, key, dkey);
        }
        let limited = match method {
            Method::Invite => Some(Kind::Invite),
            Method::Register => Some(Kind::Register),
            _ => None,
        };
        if let Some(kind) = limited
            && self.rate_limited(now, &peer, &msg, kind)
        {
            return;
        }
        let stateful = method == Method::Invite;
        let spec = match method {
            Method::Invite if !self.admit => {
                let mut s = ResponseSpec::new(503);
                s.extra.push(("Retry-After", "5".into()));
                s
            }
            Method::Invite => return self.new_call(now, peer, local, msg, key),
            Method::Options => options_ok(),
            Method::Register => return self.on_register(now, &peer, local, &msg),
            // RFC 3261 §12.2.2: in-dialog methods outside a dialog.
            Method::Bye | Method::Info | Method::Update | Method::Prack => ResponseSpec::new(481),
            other => not_supported(&other),
        };
        let tag = build::new_tag();
        let spec = ResponseSpec {
            to_tag: Some(&tag),
            ..spec
        };
        if stateful {
            return self.reply_new(now, &peer, &key, &msg, spec);
        }
        // OPTIONS, stray BYEs, unknown methods: answered statelessly (RFC 3261 §8.2.7), so a
        // flood of them makes us keep no transaction (a retransmission is answered again).
        let bytes = build::response(&msg, peer.addr(), &spec, &self.ua);
        self.send(&peer, bytes);
    }

    /// Per-source rate limits (`pike`): true when the request was answered 503 or dropped. The
    /// answer is stateless: a source over its limit makes us keep nothing.
    fn rate_limited(&mut self, now: Instant, peer: &Peer, msg: &SipMsg, kind: Kind) -> bool {
        let (refused, dropped) = match kind {
            Kind::Invite => (
                &self.stats.rate_limited_invite,
                &self.stats.rate_dropped_invite,
            ),
            Kind::Register => (
                &self.stats.rate_limited_register,
                &self.stats.rate_dropped_register,
            ),
        };
        match self.pike.check(now, peer.addr().ip(), kind) {
            Verdict::Pass => false,
            Verdict::Drop => {
                inc(dropped);
                true
            }
            Verdict::Refuse { retry_after } => {
                inc(refused);
                let extra = vec![("Retry-After", retry_after.to_string())];
                self.reply_stateless(peer, msg, 503, "Service Unavailable", extra);
                true
            }
        }
    }

    fn new_call(&mut self, now: Instant, peer: Peer, local: SocketAddr, msg: SipMsg, key: TxKey) {
        let tag = build::new_tag();
        let Some(dialog) = Dialog::new_uas(&msg, &tag) else {
            return inc(&self.stats.parse_errors_dropped);
        };
        let id = self.next_id;
        self.next_id += 1;
        self.open_tx(&peer, &key, &msg, Some(id));
        // RFC 3261 §17.2.1: 100 Trying at once, so the caller stops retransmitting.
        self.respond_in(now, &key, &msg, &ResponseSpec::new(100));
        let uri = match &msg.start {
            StartLine::Request { uri, .. } => uri.clone(),
            StartLine::Response { .. } => String::new(),
        };
        let call = NewCall {
            leg: id,
            sip_call_id: dialog.key.call_id.clone(),
            from: build::name_addr(msg.header("From").unwrap_or("")),
            asserted_identity: msg
                .header_list("P-Asserted-Identity")
                .first()
                .map(|v| build::name_addr(v)),
            to_user: build::uri_user(&uri),
            offer: sdp_of(&msg),
            remote: peer.addr(),
            transport: peer.transport(),
            local_ip: pick_local_ip(local, &uri),
        };
        self.dialogs.insert(dialog.key.clone(), id);
        let ack_cseq = msg.cseq().map_or(0, |c| c.0);
        let local_ip = call.local_ip;
        self.legs.insert(
            id,
            Leg {
                peer,
                local,
                local_ip,
                invite: msg,
                ist: key,
                dialog,
                phase: Phase::Early,
                ack_wait: None,
                ack_cseq,
                reinvite: None,
                hangup_requested: false,
                reported: false,
                refer: false,
                may_refer: false,
            },
        );
        inc(&self.stats.calls);
        self.events.push_back(CoreEvent::NewCall(Box::new(call)));
    }

    /// RFC 3261 §9.2: CANCEL matches the INVITE server transaction by branch.
    fn on_cancel(&mut self, now: Instant, peer: &Peer, msg: &SipMsg, key: &TxKey) {
        let invite_key = TxKey::of(msg, &Method::Invite);
        let Some(entry) = self.server.get(&invite_key) else {
            return self.reply_new(now, peer, key, msg, ResponseSpec::new(481));
        };
        let leg_id = entry.leg;
        let tag = leg_id
            .and_then(|l| self.legs.get(&l))
            .map(|l| l.dialog.key.local_tag.clone());
        let spec = ResponseSpec {
            to_tag: tag.as_deref(),
            ..ResponseSpec::new(200)
        };
        self.reply_new(now, peer, key, msg, spec);
        let Some(id) = leg_id else { return };
        if self.legs.get(&id).is_some_and(|l| l.phase == Phase::Early) {
            self.final_to_invite(now, id, 487, None);
            self.end_leg(id, Some(LegEvent::Cancelled));
        }
    }

    fn on_in_dialog(
        &mut self,
        now: Instant,
        peer: &Peer,
        msg: SipMsg,
        method: Method,
        key: TxKey,
        dkey: DialogKey,
    ) {
        let Some(&id) = self.dialogs.get(&dkey) else {
            // RFC 3261 §12.2.2: no matching dialog → 481.
            return self.reply_new(now, peer, &key, &msg, ResponseSpec::new(481));
        };
        let cseq = msg.cseq().map_or(0, |c| c.0);
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        if leg.dialog.check_remote_cseq(cseq) == CseqCheck::TooLow {
            return self.reply_new(now, peer, &key, &msg, ResponseSpec::new(500));
        }
        let phase = leg.phase;
        match method {
            Method::Bye => {
                self.reply_new(now, peer, &key, &msg, ResponseSpec::new(200));
                // RFC 3261 §15.1.2: a pending re-INVITE still gets its answer (487).
                self.terminate_reinvite(now, id);
                if phase == Phase::Early {
                    // RFC 3261 §15.1.2: answer the pending INVITE with 487.
                    self.final_to_invite(now, id, 487, None);
                }
                if phase != Phase::Terminating {
                    self.end_leg(id, Some(LegEvent::Bye));
                }
            }
            Method::Info if !msg.body.is_empty() && self.busy_legs.contains(&id) => {
                // The call task is behind on its events: refuse rather than lose the digit
                // (the phone may retry), and keep the last slots for BYE, re-INVITE and ACK.
                inc(&self.stats.info_refused_busy);
                let mut spec = ResponseSpec::new(500);
                spec.extra.push(("Retry-After", "1".into()));
                self.reply_new(now, peer, &key, &msg, spec);
            }
            Method::Info => {
                let ctype = content_type(&msg);
                if msg.body.is_empty()
                    || ctype == "application/dtmf-relay"
                    || ctype == "application/dtmf"
                {
                    self.reply_new(now, peer, &key, &msg, ResponseSpec::new(200));
                    if !msg.body.is_empty() {
                        let ev = LegEvent::Info {
                            content_type: ctype,
                            body: msg.body.clone(),
                        };
                        self.events.push_back(CoreEvent::Leg(id, ev));
                    }
                } else {
                    let mut spec = ResponseSpec::new(415);
                    spec.extra.push(("Accept", ACCEPT.into()));
                    self.reply_new(now, peer, &key, &msg, spec);
                }
            }
            Method::Invite => self.on_reinvite(now, peer, msg, key, id),
            Method::Update if msg.body.is_empty() => {
                self.reply_new(now, peer, &key, &msg, ResponseSpec::new(200));
            }
            Method::Update => {
                let spec = ResponseSpec {
                    reason: "Not Implemented (UPDATE with SDP)",
                    ..ResponseSpec::new(501)
                };
                self.reply_new(now, peer, &key, &msg, spec);
            }
            Method::Options => self.reply_new(now, peer, &key, &msg, options_ok()),
            Method::Refer => self.on_refer(now, peer, &msg, &key, id),
            other => self.reply_new(now, peer, &key, &msg, not_supported(&other)),
        }
    }

    /// RFC 3261 §14.2: a re-INVITE goes to the application unless one is already pending.
    fn on_reinvite(&mut self, now: Instant, peer: &Peer, msg: SipMsg, key: TxKey, id: LegId) {
        let Some(leg) = self.legs.get(&id) else {
            return;
        };
        if leg.reinvite.is_some() {
            let mut spec = ResponseSpec::new(500);
            spec.extra
                .push(("Retry-After", (build::random_u64() % 10).to_string()));
            return self.reply_new(now, peer, &key, &msg, spec);
        }
        if leg.phase != Phase::Confirmed || leg.ack_wait.is_some() {
            // Our 2xx is not acknowledged yet (or we are hanging up): the offers would overlap.
            return self.reply_new(now, peer, &key, &msg, ResponseSpec::new(491));
        }
        self.open_tx(peer, &key, &msg, Some(id));
        self.respond_in(now, &key, &msg, &ResponseSpec::new(100));
        let rid = ReInviteId(self.next_id);
        self.next_id += 1;
        let offer = sdp_of(&msg);
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.reinvite = Some((rid, key, msg));
        }
        self.events
            .push_back(CoreEvent::Leg(id, LegEvent::ReInvite { id: rid, offer }));
    }

    /// ACK: for our 2xx it names the dialog (§13.3.1.4); for a non-2xx it matches the INVITE
    /// transaction by branch (§17.2.1).
    pub(crate) fn on_ack(&mut self, now: Instant, msg: &SipMsg) {
        let cseq = msg.cseq().map_or(0, |c| c.0);
        let leg_id = DialogKey::of_request(msg).and_then(|k| self.dialogs.get(&k).copied());
        if let Some(id) = leg_id
            && let Some(leg) = self.legs.get_mut(&id)
            && leg.ack_wait.is_some()
            && leg.ack_cseq == cseq
        {
            leg.ack_wait = None;
            self.schedule(TimerRef::Leg(id), None);
            return self.acked(now, id);
        }
        let key = TxKey::of(msg, &Method::Ack);
        if let Some(ServerEntry {
            tx: ServerTx::Invite(t),
            ..
        }) = self.server.get_mut(&key)
        {
            t.handle(now, IstInput::Ack);
            self.flush_server(now, &key);
        }
    }
}

fn options_ok() -> ResponseSpec<'static> {
    let mut spec = ResponseSpec::new(200);
    spec.extra.push(("Accept", ACCEPT.into()));
    spec
}

/// 405 for methods we know but do not support here, 501 for unknown ones (RFC 3261 §8.2.1).
fn not_supported(method: &Method) -> ResponseSpec<'static> {
    match method {
        Method::Other(_) => ResponseSpec::new(501),
        _ => ResponseSpec::new(405),
    }
}
