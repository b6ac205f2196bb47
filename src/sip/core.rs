//! The sans-IO SIP UAS core: parses input, routes it to transactions and dialogs, runs timers (no I/O).
//!
//! `handle_message(now, peer, local, bytes)`, `handle_command(now, cmd)`, `handle_timeout(now)`;
//! outputs through `poll_transmit()` and `poll_event()`, next deadline from `poll_timeout()`.
//! Method-specific behaviour lives in `uas.rs`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use super::api::{Binding, LegEvent, LegId, NameAddr, SipTransport};
use super::build::{self, ResponseSpec};
use super::dialog::DialogKey;
use super::leg::Leg;
use super::message::{self, Method, ParseError, SipMsg, StartLine};
use super::outgoing::OutEvent;
use super::pike::Pike;
use super::registrar::{Registrar, RegistrarConfig};
use super::stats::{SipLive, SipStats, inc};
use super::transaction::invite_server::InviteServerTx;
use super::transaction::non_invite_client::NonInviteClientTx;
use super::transaction::non_invite_server::NonInviteServerTx;
use super::transaction::{Machine, Timers, TxEvent};
use super::uac::OutCall;
use super::validate::{self, Verdict};

/// Where a message came from / goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    Udp(SocketAddr),
    /// A stream connection: plain TCP, or TLS over TCP when `tls` (RFC 3261 §26).
    Tcp {
        conn: u64,
        addr: SocketAddr,
        tls: bool,
    },
}

impl Peer {
    pub(crate) fn addr(&self) -> SocketAddr {
        match self {
            Self::Udp(a) | Self::Tcp { addr: a, .. } => *a,
        }
    }
    pub(crate) fn reliable(&self) -> bool {
        matches!(self, Self::Tcp { .. })
    }
    /// True for a TLS connection.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Self::Tcp { tls: true, .. })
    }
    pub(crate) fn transport(&self) -> SipTransport {
        match self {
            Self::Udp(_) => SipTransport::Udp,
            Self::Tcp { tls: false, .. } => SipTransport::Tcp,
            Self::Tcp { tls: true, .. } => SipTransport::Tls,
        }
    }
}

/// Bytes to send to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub bytes: Vec<u8>,
}

/// A new call for the application (the driver turns it into an `IncomingCall`).
#[derive(Debug, Clone)]
pub(crate) struct NewCall {
    pub(crate) leg: LegId,
    pub(crate) sip_call_id: String,
    pub(crate) from: NameAddr,
    pub(crate) asserted_identity: Option<NameAddr>,
    pub(crate) to_user: Option<String>,
    pub(crate) offer: Option<Vec<u8>>,
    pub(crate) remote: SocketAddr,
    pub(crate) transport: SipTransport,
    pub(crate) local_ip: IpAddr,
}

/// Output events of the core.
#[derive(Debug, Clone)]
pub(crate) enum CoreEvent {
    NewCall(Box<NewCall>),
    /// An event for a leg; `Cancelled`, `Bye` and `Ended` are its last.
    Leg(LegId, LegEvent),
    /// An event for an outgoing leg before it is answered (Ringing, Answered, Failed, Ended).
    Out(LegId, OutEvent),
    /// The bindings of an extension changed; `binding` is its newest one, if any; `agent` the
    /// agent whose credentials the extension has.
    Registration {
        extension: String,
        agent: Option<crate::domain::AgentId>,
        binding: Option<Binding>,
    },
}

/// Server transaction key (RFC 3261 §17.2.3: branch, sent-by, method; ACK matches INVITE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TxKey {
    branch: String,
    sent_by: String,
    method: String,
}

impl TxKey {
    pub(crate) fn of(msg: &SipMsg, method: &Method) -> Self {
        let m = match method {
            Method::Ack => "INVITE",
            other => other.as_str(),
        };
        let mut branch = msg.branch().unwrap_or_default();
        if !branch.starts_with("z9hG4bK") {
            // RFC 2543 peers: fall back to the §17.2.3 identifiers we can use.
            let (n, _) = msg.cseq().unwrap_or((0, ""));
            branch = format!(
                "{branch}|{}|{n}|{}",
                msg.call_id().unwrap_or(""),
                msg.from_tag().unwrap_or("")
            );
        }
        Self {
            branch,
            sent_by: msg.sent_by().unwrap_or_default(),
            method: m.to_string(),
        }
    }
}

pub(crate) enum ServerTx {
    Invite(InviteServerTx),
    NonInvite(NonInviteServerTx),
}

impl ServerTx {
    fn machine(&mut self) -> &mut dyn Machine {
        match self {
            Self::Invite(t) => t,
            Self::NonInvite(t) => t,
        }
    }
}

pub(crate) struct ServerEntry {
    pub(crate) tx: ServerTx,
    pub(crate) peer: Peer,
    pub(crate) leg: Option<LegId>,
}

pub(crate) struct ClientEntry {
    pub(crate) tx: NonInviteClientTx,
    pub(crate) peer: Peer,
    pub(crate) leg: LegId,
    /// A CANCEL (its answer changes nothing; the INVITE's 487 does) rather than a BYE.
    pub(crate) cancel: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TimerRef {
    Server(TxKey),
    Client(String),
    Leg(LegId),
    Out(LegId),
    /// The trunk registration's REGISTER and refresh.
    TrunkReg,
}

/// The UAS core. One owner (the SIP task) drives it.
pub struct Core {
    pub(crate) ua: String,
    pub(crate) timers: Timers,
    pub(crate) stats: Arc<SipStats>,
    /// False once new INVITEs must be refused (shutdown or full call channel).
    pub(crate) admit: bool,
    pub(crate) server: HashMap<TxKey, ServerEntry>,
    pub(crate) client: HashMap<String, ClientEntry>,
    pub(crate) legs: HashMap<LegId, Leg>,
    pub(crate) dialogs: HashMap<DialogKey, LegId>,
    pub(crate) registrar: Registrar,
    /// Outgoing INVITEs until their client transaction ends.
    pub(crate) out: HashMap<LegId, OutCall>,
    /// The registration to the SIP trunk, if one is configured (`trunk_register.rs`).
    pub(crate) trunk_reg: Option<super::trunk_register::TrunkReg>,
    /// INVITE branch → outgoing call.
    pub(crate) out_branches: HashMap<String, LegId>,
    /// Per-source limits on new INVITEs and REGISTERs.
    pub(crate) pike: Pike,
    /// Legs whose call task is behind on its events: their INFOs are refused (500 +
    /// Retry-After) so that the slots left always take the events that must arrive (set by
    /// the driver, which sees the channels).
    pub(crate) busy_legs: HashSet<LegId>,
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    tokens: HashMap<u64, TimerRef>,
    deadlines: HashMap<TimerRef, (Instant, u64)>,
    next_token: u64,
    pub(crate) next_id: u64,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<CoreEvent>,
}

impl Core {
    pub fn new(ua: String, timers: Timers, stats: Arc<SipStats>) -> Self {
        Self {
            ua,
            timers,
            stats,
            admit: true,
            server: HashMap::new(),
            client: HashMap::new(),
            legs: HashMap::new(),
            dialogs: HashMap::new(),
            registrar: Registrar::new(RegistrarConfig::default()),
            out: HashMap::new(),
            out_branches: HashMap::new(),
            trunk_reg: None,
            pike: Pike::default(),
            busy_legs: HashSet::new(),
            heap: BinaryHeap::new(),
            tokens: HashMap::new(),
            deadlines: HashMap::new(),
            next_token: 0,
            next_id: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<CoreEvent> {
        self.events.pop_front()
    }

    /// What the core holds now (`/health`); connections and registrations are the driver's to
    /// fill in (it sees the sockets and keeps the registered extensions).
    pub(crate) fn live(&self) -> SipLive {
        let n = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        SipLive {
            transactions: n(self.server.len() + self.client.len() + self.out.len()),
            dialogs: n(self.dialogs.len()),
            ..SipLive::default()
        }
    }

    #[cfg(test)]
    /// True when no transaction, leg or dialog is left (used by leak tests and shutdown).
    pub(crate) fn is_idle(&self) -> bool {
        self.server.is_empty()
            && self.client.is_empty()
            && self.legs.is_empty()
            && self.dialogs.is_empty()
            && self.out.is_empty()
    }

    pub(crate) fn send(&mut self, to: &Peer, bytes: Vec<u8>) {
        inc(&self.stats.messages_out);
        self.transmits.push_back(Transmit {
            to: to.clone(),
            bytes,
        });
    }

    /// One complete message from a peer (a datagram or a framed TCP message).
    pub fn handle_message(&mut self, now: Instant, peer: Peer, local: SocketAddr, bytes: &[u8]) {
        inc(&self.stats.messages_in);
        match message::parse(bytes) {
            Ok(msg) => match msg.start {
                StartLine::Request { .. } => self.on_request(now, peer, local, msg),
                StartLine::Response { code } => self.on_response(now, &peer, code, &msg),
            },
            Err(e) => self.on_unparsable(&peer, bytes, &e),
        }
    }

    /// 400 when the headers still allow a response, else drop and count.
    fn on_unparsable(&mut self, peer: &Peer, bytes: &[u8], err: &ParseError) {
        let salvage = message::parse_headers_only(bytes);
        match salvage {
            Some(msg) if answerable(&msg) => {
                let reason = format!("Bad Request ({err})");
                self.reply_stateless(peer, &msg, 400, &reason, Vec::new());
            }
            _ => inc(&self.stats.parse_errors_dropped),
        }
    }

    /// 413 for an oversized message whose head is readable; false when nothing could be sent.
    pub fn reject_too_large(&mut self, peer: &Peer, head: &[u8]) -> bool {
        inc(&self.stats.messages_in);
        match message::parse_headers_only(head) {
            Some(msg) if answerable(&msg) && matches!(msg.start, StartLine::Request { .. }) => {
                self.reply_stateless(peer, &msg, 413, build::reason(413), Vec::new());
                true
            }
            _ => {
                inc(&self.stats.parse_errors_dropped);
                false
            }
        }
    }

    /// 400 with `reason` for a framing error whose head is readable (e.g. no Content-Length on TCP).
    pub fn reject_bad(&mut self, peer: &Peer, head: &[u8], reason: &str) {
        inc(&self.stats.messages_in);
        match message::parse_headers_only(head) {
            Some(msg) if answerable(&msg) && matches!(msg.start, StartLine::Request { .. }) => {
                self.reply_stateless(
                    peer,
                    &msg,
                    400,
                    &format!("Bad Request ({reason})"),
                    Vec::new(),
                );
            }
            _ => inc(&self.stats.parse_errors_dropped),
        }
    }

    /// A response without a transaction (parse/validation failures, 413).
    pub(crate) fn reply_stateless(
        &mut self,
        peer: &Peer,
        msg: &SipMsg,
        code: u16,
        reason: &str,
        extra: Vec<(&'static str, String)>,
    ) {
        if msg.method() == Some(&Method::Ack) {
            return;
        }
        match code {
            400 => inc(&self.stats.bad_requests_400),
            413 => inc(&self.stats.too_large_413),
            503 => inc(&self.stats.unavailable_503),
            _ => {}
        }
        let tag = build::new_tag();
        let spec = ResponseSpec {
            code,
            reason,
            to_tag: Some(&tag),
            extra,
            body: None,
        };
        let bytes = build::response(msg, peer.addr(), &spec, &self.ua);
        self.send(peer, bytes);
    }

    fn on_request(&mut self, now: Instant, peer: Peer, local: SocketAddr, msg: SipMsg) {
        match validate::check_request(&msg) {
            Verdict::Ok => {}
            Verdict::Reject {
                code,
                reason,
                extra,
            } => {
                return self.reply_stateless(&peer, &msg, code, &reason, extra);
            }
            Verdict::Drop => return inc(&self.stats.parse_errors_dropped),
        }
        let Some(method) = msg.method().cloned() else {
            return;
        };
        if method == Method::Ack {
            return self.on_ack(now, &msg);
        }
        let key = TxKey::of(&msg, &method);
        if let Some(entry) = self.server.get_mut(&key) {
            // A retransmission: the transaction resends its last response (§17.2.1, §17.2.2).
            inc(&self.stats.retransmissions);
            match &mut entry.tx {
                ServerTx::Invite(t) => {
                    t.handle(
                        now,
                        super::transaction::invite_server::IstInput::Retransmission,
                    );
                }
                ServerTx::NonInvite(t) => {
                    t.handle(
                        now,
                        super::transaction::non_invite_server::NistInput::Retransmission,
                    );
                }
            }
            return self.flush_server(now, &key);
        }
        self.on_new_request(now, peer, local, msg, method, key);
    }

    /// A response: to one of our INVITEs, the trunk REGISTER, or a BYE/CANCEL/NOTIFY of ours.
    /// It counts only from the address the request went to; anything else is dropped as
    /// unmatched (a guessed branch from elsewhere must not answer, cancel or challenge a call).
    fn on_response(&mut self, now: Instant, from: &Peer, code: u16, msg: &SipMsg) {
        let Some(mut branch) = msg.branch() else {
            return inc(&self.stats.parse_errors_dropped);
        };
        let same = |to: &Peer| to.addr() == from.addr();
        // RFC 3261 §17.1.3: a response matches by branch and CSeq method.
        match msg.cseq().map(|c| c.1) {
            Some("INVITE") => {
                return match self.out_branches.get(&branch).copied() {
                    Some(id) if self.out.get(&id).is_some_and(|c| same(&c.peer)) => {
                        self.on_out_response(now, id, code, msg)
                    }
                    _ => inc(&self.stats.parse_errors_dropped),
                };
            }
            Some("REGISTER") if self.trunk_reg.as_ref().is_some_and(|r| r.owns(&branch)) => {
                if !self.trunk_reg.as_ref().is_some_and(|r| r.sent_to(from)) {
                    return inc(&self.stats.parse_errors_dropped);
                }
                return self.on_register_response(now, code, msg);
            }
            Some("CANCEL") => branch.push_str("|CANCEL"),
            _ => {}
        }
        match self.client.get_mut(&branch).filter(|e| same(&e.peer)) {
            Some(entry) => {
                entry.tx.handle_response(now, code);
                self.flush_client(now, &branch);
            }
            None => inc(&self.stats.parse_errors_dropped),
        }
    }

    /// Starts a non-INVITE client transaction in leg `leg`'s dialog (BYE, CANCEL, NOTIFY);
    /// `quiet`: its answer changes nothing (CANCEL, NOTIFY), else it ends the leg (BYE).
    pub(crate) fn start_client_tx(
        &mut self,
        now: Instant,
        leg: LegId,
        peer: Peer,
        key: String,
        bytes: Vec<u8>,
        quiet: bool,
    ) {
        let tx = NonInviteClientTx::new(now, peer.reliable(), self.timers, bytes);
        self.client.insert(
            key.clone(),
            ClientEntry {
                tx,
                peer,
                leg,
                cancel: quiet,
            },
        );
        self.flush_client(now, &key);
    }

    /// Drains a server transaction's output and reschedules it.
    pub(crate) fn flush_server(&mut self, _now: Instant, key: &TxKey) {
        let Some(entry) = self.server.get_mut(key) else {
            return;
        };
        let peer = entry.peer.clone();
        let m = entry.tx.machine();
        let mut out = Vec::new();
        while let Some(b) = m.poll_transmit() {
            out.push(b);
        }
        let mut terminated = false;
        while let Some(ev) = m.poll_event() {
            terminated |= ev == TxEvent::Terminated;
        }
        let next = m.poll_timeout();
        for b in out {
            self.send(&peer, b);
        }
        if terminated {
            self.server.remove(key);
            self.schedule(TimerRef::Server(key.clone()), None);
        } else {
            self.schedule(TimerRef::Server(key.clone()), next);
        }
    }

    /// Drains our client transaction's output; a final answer or timeout finishes the leg's BYE.
    pub(crate) fn flush_client(&mut self, now: Instant, branch: &str) {
        let Some(entry) = self.client.get_mut(branch) else {
            return;
        };
        let peer = entry.peer.clone();
        let leg = entry.leg;
        let cancel = entry.cancel;
        let mut out = Vec::new();
        while let Some(b) = entry.tx.poll_transmit() {
            out.push(b);
        }
        let (mut done, mut terminated) = (false, false);
        while let Some(ev) = entry.tx.poll_event() {
            match ev {
                TxEvent::Final(_) | TxEvent::Timeout => done = true,
                TxEvent::Terminated => terminated = true,
            }
        }
        let next = entry.tx.poll_timeout();
        for b in out {
            self.send(&peer, b);
        }
        if terminated {
            self.client.remove(branch);
        }
        self.schedule(
            TimerRef::Client(branch.to_string()),
            if terminated { None } else { next },
        );
        if done && !cancel {
            self.bye_done(now, leg);
        }
    }

    /// Sets (or clears) the deadline of one timer owner.
    pub(crate) fn schedule(&mut self, r: TimerRef, at: Option<Instant>) {
        if let (Some(at), Some((old, _))) = (at, self.deadlines.get(&r))
            && *old == at
        {
            return;
        }
        if let Some((_, tok)) = self.deadlines.remove(&r) {
            self.tokens.remove(&tok);
        }
        if let Some(at) = at {
            let tok = self.next_token;
            self.next_token += 1;
            self.heap.push(Reverse((at, tok)));
            self.tokens.insert(tok, r.clone());
            self.deadlines.insert(r, (at, tok));
        }
    }

    /// The next instant `handle_timeout` must be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let mut next = None;
        while let Some(Reverse((at, tok))) = self.heap.peek() {
            if self.tokens.contains_key(tok) {
                next = Some(*at);
                break;
            }
            self.heap.pop();
        }
        super::transaction::earliest(&[next, self.registrar.poll_timeout()])
    }

    /// Fires every due timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.registrar.handle_timeout(now);
        self.registration_events();
        while let Some(Reverse((at, tok))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(r) = self.tokens.remove(&tok) else {
                continue;
            };
            self.deadlines.remove(&r);
            let before = self
                .stats
                .messages_out
                .load(std::sync::atomic::Ordering::Relaxed);
            match r {
                TimerRef::Server(key) => {
                    if let Some(e) = self.server.get_mut(&key) {
                        e.tx.machine().handle_timeout(now);
                    }
                    self.flush_server(now, &key);
                }
                TimerRef::Client(branch) => {
                    if let Some(e) = self.client.get_mut(&branch) {
                        e.tx.handle_timeout(now);
                    }
                    self.flush_client(now, &branch);
                }
                TimerRef::Leg(id) => self.leg_timeout(now, id),
                TimerRef::Out(id) => self.out_timeout(now, id),
                TimerRef::TrunkReg => self.register_timeout(now),
            }
            let after = self
                .stats
                .messages_out
                .load(std::sync::atomic::Ordering::Relaxed);
            for _ in before..after {
                inc(&self.stats.retransmissions);
            }
        }
    }
}

/// Enough headers to form a response that the peer can match (RFC 3261 §8.2.6.2).
fn answerable(msg: &SipMsg) -> bool {
    ["Via", "From", "To", "Call-ID", "CSeq"]
        .iter()
        .all(|h| msg.header(h).is_some())
}
