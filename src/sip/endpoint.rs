//! The SIP driver (I/O): one tokio task owns the sans-IO core, sockets feed it, call tasks command it.
//!
//! No lock is held across `.await`; every channel is bounded. A full new-call channel or
//! `set_accepting(false)` answers new INVITEs with 503 + Retry-After.
//!
//! Leg events are never dropped: of a leg's 32 slots the last `RESERVED_SLOTS` are kept for
//! the events a leg has at most one of unread at a time (ACK, re-INVITE, ringing, answer, its
//! end). The only event a peer can repeat without bound, INFO, is refused with 500 +
//! Retry-After while the call task is that far behind (`Core::busy_legs`), so the phone hears
//! of it instead of the digit vanishing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::api::{
    Binding, CallLeg, Command, CommandKind, DigestChallenge, IncomingCall, LegEvent, LegId,
    RegistrationEvent, SipConfig, SipCredential, SipError, TrustedProxy,
};
use super::core::{Core, CoreEvent, NewCall, Peer};
use super::outgoing::{OutEvent, OutLeg, OutgoingCall, OutgoingInvite};
use super::pike::RateLimits;
use super::registrar::CredTable;
use super::stats::{SipLive, SipStats, SipStatsSnapshot, inc};
use super::transaction::Timers;
use super::transport::{
    ConnCounts, ConnTable, INBOUND_CAPACITY, NetIn, StreamSettings, stream, tcp, tls, udp,
};
use super::uas_register::worth_telling;

/// Capacity of the command channel from call tasks.
const COMMAND_CAPACITY: usize = 1024;
/// Capacity of one leg's event channel.
const LEG_EVENTS: usize = 32;
/// Slots of a leg's channel that only the events it has at most one of unread may use:
/// `Acked`/`Ringing`, `Answered`, `ReInvite` (the next comes only after this one is answered)
/// and the last event. Past this, INFOs are refused.
const RESERVED_SLOTS: usize = 4;
/// Capacity of the registration-event broadcast (a lagging receiver skips, it never blocks us).
const REGISTRATION_EVENTS: usize = 1024;

#[derive(Debug)]
struct Shared {
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    /// The SIP over TLS listener, when one is configured.
    tls_addr: Option<SocketAddr>,
    /// Open TCP/TLS connections and what the caps refused or cut.
    conns: Arc<ConnTable>,
    stats: Arc<SipStats>,
    accepting: AtomicBool,
    /// Newest binding per extension, written by the SIP task only (never held across await).
    bindings: Mutex<HashMap<String, Binding>>,
    registrations: broadcast::Sender<RegistrationEvent>,
    creds: watch::Sender<Arc<CredTable>>,
    /// Commands to the SIP task (new outgoing calls).
    cmd_tx: mpsc::Sender<Command>,
    /// Where the trunk registration stands (written by the SIP task).
    trunk_state: Mutex<super::trunk_register::TrunkRegState>,
    /// Settings the SIP task applies as they change (rate limits, T1).
    tuning: watch::Sender<Tuning>,
}

/// Settings that may change after start.
#[derive(Debug, Clone, PartialEq)]
struct Tuning {
    rate_limits: RateLimits,
    timers: Timers,
}

/// Handle to the running SIP endpoint; cheap to clone.
#[derive(Debug, Clone)]
pub struct SipEndpoint {
    shared: Arc<Shared>,
}

impl SipEndpoint {
    /// Binds UDP and TCP, spawns the socket tasks and the SIP task; new calls arrive on the receiver.
    pub async fn start(
        cfg: SipConfig,
        shutdown: CancellationToken,
    ) -> Result<(SipEndpoint, mpsc::Receiver<IncomingCall>), SipError> {
        Self::start_with(cfg, StreamSettings::default(), shutdown).await
    }

    /// [`SipEndpoint::start`] with SIP over TLS and the TCP/TLS connection limits.
    pub async fn start_with(
        cfg: SipConfig,
        streams: StreamSettings,
        shutdown: CancellationToken,
    ) -> Result<(SipEndpoint, mpsc::Receiver<IncomingCall>), SipError> {
        let bind_err = |transport, addr| {
            move |source| SipError::Bind {
                transport,
                addr,
                source,
            }
        };
        let udp = udp::bind(cfg.udp_listen).map_err(bind_err("UDP", cfg.udp_listen))?;
        let listener = tokio::net::TcpListener::bind(cfg.tcp_listen)
            .await
            .map_err(bind_err("TCP", cfg.tcp_listen))?;
        let udp_addr = udp.local_addr().map_err(bind_err("UDP", cfg.udp_listen))?;
        let tcp_addr = listener
            .local_addr()
            .map_err(bind_err("TCP", cfg.tcp_listen))?;
        let tls_listener = match streams.tls {
            Some((addr, config)) => {
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(bind_err("TLS", addr))?;
                let bound = l.local_addr().map_err(bind_err("TLS", addr))?;
                Some((l, bound, tokio_rustls::TlsAcceptor::from(config)))
            }
            None => None,
        };
        let conns = Arc::new(ConnTable::default());
        let stats = Arc::new(SipStats::default());
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CAPACITY);
        let shared = Arc::new(Shared {
            udp_addr,
            tcp_addr,
            tls_addr: tls_listener.as_ref().map(|(_, a, _)| *a),
            conns: conns.clone(),
            stats: stats.clone(),
            accepting: AtomicBool::new(true),
            bindings: Mutex::new(HashMap::new()),
            registrations: broadcast::channel(REGISTRATION_EVENTS).0,
            creds: watch::channel(Arc::new(CredTable::default())).0,
            cmd_tx: cmd_tx.clone(),
            trunk_state: Mutex::new(super::trunk_register::TrunkRegState::Off),
            tuning: watch::channel(Tuning {
                rate_limits: RateLimits::default(),
                timers: Timers::default(),
            })
            .0,
        });
        let creds_rx = shared.creds.subscribe();
        let tuning_rx = shared.tuning.subscribe();
        let udp = Arc::new(udp);
        let (net_tx, net_rx) = mpsc::channel(INBOUND_CAPACITY);
        let (calls_tx, calls_rx) = mpsc::channel(cfg.max_pending_calls.max(1));
        let max = cfg.max_message_bytes;
        tokio::spawn(udp::run_reader(
            udp.clone(),
            max,
            net_tx.clone(),
            stats.clone(),
            shutdown.clone(),
        ));
        let streams_shared = stream::Shared {
            max_message: max,
            tx: net_tx,
            stats: stats.clone(),
            table: conns,
            shutdown: shutdown.clone(),
        };
        let limits = Arc::new(streams.limits);
        if let Some((l, _, acceptor)) = tls_listener {
            tokio::spawn(tls::run_listener(
                l,
                acceptor,
                limits.clone(),
                streams_shared.clone(),
            ));
        }
        tokio::spawn(tcp::run_listener(listener, limits, streams_shared));
        let driver = Driver {
            core: Core::new(cfg.user_agent, Timers::default(), stats),
            shared: shared.clone(),
            udp,
            conns: HashMap::new(),
            legs: HashMap::new(),
            out_legs: HashMap::new(),
            told: HashMap::new(),
            registered: 0,
            cmd_tx,
            calls_tx,
        };
        tokio::spawn(driver.run(net_rx, cmd_rx, creds_rx, tuning_rx, shutdown));
        Ok((SipEndpoint { shared }, calls_rx))
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.shared.udp_addr
    }

    /// The bound TCP address.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.shared.tcp_addr
    }

    /// The bound SIP over TLS address, when TLS is configured.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.shared.tls_addr
    }

    /// TCP and TLS connections: open now, refused by the caps, cut by deadlines.
    pub fn connections(&self) -> ConnCounts {
        self.shared.conns.counts()
    }

    /// Agent phones must register over TLS (true) or may use any transport (false, default).
    pub fn set_agents_require_tls(&self, yes: bool) {
        self.shared.creds.send_modify(|t| {
            let mut new = (**t).clone();
            new.require_tls = yes;
            *t = Arc::new(new);
        });
    }

    /// Current counters.
    pub fn stats(&self) -> SipStatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// What the SIP layer holds now: transactions, dialogs, connections, registrations. The
    /// connection count is the transport's own (`connections().open`), the one `/metrics` splits
    /// by transport, so the two never disagree.
    pub fn live(&self) -> SipLive {
        let open = self.shared.conns.counts().open;
        SipLive {
            connections: u64::try_from(open).unwrap_or(u64::MAX),
            ..self.shared.stats.live()
        }
    }

    /// Per-source limits on new INVITEs and REGISTERs (`[sip.rate_limit]`).
    pub fn set_rate_limits(&self, limits: RateLimits) {
        self.shared
            .tuning
            .send_modify(|t| t.rate_limits = limits.clone());
    }

    /// RFC 3261 T1 (500 ms by default; §17.1.1.1 allows a smaller value where the round trip is
    /// known to be short). Timers A–J and the 2xx give-up time scale with it; T2 and T4 do not.
    /// Applies to transactions started from now on.
    pub fn set_timer_t1(&self, t1: std::time::Duration) {
        self.shared.tuning.send_modify(|t| {
            t.timers.t1 = t1.clamp(std::time::Duration::from_millis(1), t.timers.t2);
        });
    }

    /// Accept new INVITEs (true) or answer them 503 + Retry-After (false, shutdown drain).
    pub fn set_accepting(&self, yes: bool) {
        self.shared.accepting.store(yes, Ordering::Relaxed);
    }

    /// Replaces the agents' digest credentials (HA1s for realm `firstline`).
    pub fn set_credentials(&self, creds: Vec<SipCredential>) {
        self.replace_creds(None, creds);
    }

    /// Replaces the realm and the credentials computed for it.
    pub fn set_realm_credentials(&self, realm: &str, creds: Vec<SipCredential>) {
        self.replace_creds(Some(realm.to_string()), creds);
    }

    fn replace_creds(&self, realm: Option<String>, creds: Vec<SipCredential>) {
        self.shared.creds.send_modify(|t| {
            let mut new = CredTable::new(realm.or_else(|| t.realm.clone()), creds);
            new.challenge = t.challenge;
            new.expires = t.expires;
            new.trusted_proxies = t.trusted_proxies.clone();
            new.require_tls = t.require_tls;
            *t = Arc::new(new);
        });
    }

    /// Which digest challenges REGISTERs get (default: SHA-256 then MD5, RFC 8760 §2.4).
    pub fn set_digest_challenge(&self, challenge: DigestChallenge) {
        self.shared.creds.send_modify(|t| {
            let mut new = (**t).clone();
            new.challenge = challenge;
            *t = Arc::new(new);
        });
    }

    /// The registration lifetimes accepted: shorter than `min_secs` gets 423 with `Min-Expires`
    /// (RFC 3261 §10.3 step 7), longer than `max_secs` is clamped (defaults 60 and 3600).
    pub fn set_register_expires(&self, min_secs: u64, max_secs: u64) {
        self.shared.creds.send_modify(|t| {
            let mut new = (**t).clone();
            new.expires = Some((min_secs, max_secs));
            *t = Arc::new(new);
        });
    }

    /// Proxies in front of us (Kamailio, an SBC): failed REGISTER authentications through them
    /// count against the phone's address from their Via, not against the proxy (docs/sip.md).
    pub fn set_trusted_proxies(&self, proxies: Vec<TrustedProxy>) {
        self.shared.creds.send_modify(|t| {
            let mut new = (**t).clone();
            new.trusted_proxies = proxies;
            *t = Arc::new(new);
        });
    }

    /// The agent whose credentials an extension has (a REFER's target), from memory.
    pub fn agent_of_extension(&self, extension: &str) -> Option<crate::domain::AgentId> {
        let table = self.shared.creds.borrow();
        table.users.get(extension).map(|c| c.agent_id.clone())
    }

    /// Starts registering to the SIP trunk (refreshed and retried by the SIP task).
    pub async fn register_trunk(&self, reg: super::trunk_register::TrunkRegistration) {
        let _ = self
            .shared
            .cmd_tx
            .send(Command {
                leg: 0,
                kind: CommandKind::RegisterTrunk(Box::new(reg)),
            })
            .await;
    }

    /// Where the trunk registration stands.
    pub fn trunk_registration(&self) -> super::trunk_register::TrunkRegState {
        *self
            .shared
            .trunk_state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The newest registered binding of an extension.
    pub fn binding(&self, extension: &str) -> Option<Binding> {
        let map = self
            .shared
            .bindings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(extension).cloned()
    }

    /// Calls an agent's registered phone (INVITE as UAC to the flow it registered from).
    ///
    /// `Err(NotRegistered)` without a binding; `Err(Unavailable)` when the SIP task is gone.
    pub async fn invite(&self, req: OutgoingInvite) -> Result<OutgoingCall, SipError> {
        let (tx, rx) = oneshot::channel();
        let cmd = Command {
            leg: 0,
            kind: CommandKind::Invite(Box::new(req), tx),
        };
        self.shared
            .cmd_tx
            .send(cmd)
            .await
            .map_err(|_| SipError::Unavailable)?;
        rx.await.map_err(|_| SipError::Unavailable)?
    }

    /// Registration changes from now on (a phone became reachable or unreachable, its binding
    /// moved, or a refresh moved its expiry; see [`RegistrationEvent`]).
    pub fn registrations(&self) -> broadcast::Receiver<RegistrationEvent> {
        self.shared.registrations.subscribe()
    }
}

struct Driver {
    core: Core,
    shared: Arc<Shared>,
    udp: Arc<UdpSocket>,
    conns: HashMap<u64, mpsc::Sender<Vec<u8>>>,
    legs: HashMap<LegId, mpsc::Sender<LegEvent>>,
    out_legs: HashMap<LegId, mpsc::Sender<OutEvent>>,
    /// The binding each extension's last `RegistrationEvent` carried.
    told: HashMap<String, Binding>,
    /// Extensions with a binding now (the size of `Shared::bindings`).
    registered: u64,
    cmd_tx: mpsc::Sender<Command>,
    calls_tx: mpsc::Sender<IncomingCall>,
}

impl Driver {
    async fn run(
        mut self,
        mut net_rx: mpsc::Receiver<NetIn>,
        mut cmd_rx: mpsc::Receiver<Command>,
        mut creds_rx: watch::Receiver<Arc<CredTable>>,
        mut tuning_rx: watch::Receiver<Tuning>,
        shutdown: CancellationToken,
    ) {
        loop {
            let deadline = self.core.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                Some(net) = net_rx.recv() => self.on_net(net),
                Some(cmd) = cmd_rx.recv() => self.on_command(cmd),
                _ = sleep => self.core.handle_timeout(Instant::now()),
                Ok(()) = creds_rx.changed() => {
                    let table = creds_rx.borrow_and_update().clone();
                    self.core.registrar.set_credentials(table);
                    self.core.registration_events();
                }
                Ok(()) = tuning_rx.changed() => {
                    let t = tuning_rx.borrow_and_update().clone();
                    self.core.pike.set_limits(t.rate_limits);
                    self.core.timers = t.timers;
                }
            }
            self.flush();
            self.publish_live();
        }
    }

    /// Stores the live counts for `/health` (connections are read from the transport's table).
    fn publish_live(&self) {
        *self
            .shared
            .trunk_state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = self.core.trunk_reg_state();
        self.shared.stats.set_live(SipLive {
            registrations: self.registered,
            ..self.core.live()
        });
    }

    /// Forgets legs whose call task has caught up (or that are gone).
    fn refresh_busy(&mut self) {
        if self.core.busy_legs.is_empty() {
            return;
        }
        let (legs, out) = (&self.legs, &self.out_legs);
        self.core.busy_legs.retain(|id| {
            let room = match (legs.get(id), out.get(id)) {
                (Some(tx), _) => tx.capacity(),
                (None, Some(tx)) => tx.capacity(),
                (None, None) => usize::MAX,
            };
            room <= RESERVED_SLOTS
        });
    }

    fn on_net(&mut self, net: NetIn) {
        let now = Instant::now();
        self.refresh_busy();
        self.core.admit =
            self.shared.accepting.load(Ordering::Relaxed) && self.calls_tx.capacity() > 0;
        match net {
            NetIn::Message { peer, local, bytes } => {
                self.core.handle_message(now, peer, local, &bytes)
            }
            NetIn::TooLarge { peer, head } => {
                self.core.reject_too_large(&peer, &head);
            }
            NetIn::Bad { peer, head, reason } => self.core.reject_bad(&peer, &head, reason),
            NetIn::Opened { conn, writer } => {
                self.conns.insert(conn, writer);
            }
            NetIn::Closed { conn } => {
                self.conns.remove(&conn);
                self.core.connection_closed(conn);
            }
        }
    }

    fn flush(&mut self) {
        // Handling an event can queue more output (a 503 for a refused call): loop until quiet.
        while !self.core.transmits.is_empty() || !self.core.events.is_empty() {
            self.flush_once();
        }
    }

    fn flush_once(&mut self) {
        // Events first: the registrar's binding snapshot (and calls handed to the app) must be
        // in place before the peer sees our answer and acts on it.
        while let Some(ev) = self.core.poll_event() {
            match ev {
                CoreEvent::NewCall(call) => self.offer_call(*call),
                CoreEvent::Leg(id, ev) if self.out_legs.contains_key(&id) => {
                    let out = match ev {
                        LegEvent::Bye => OutEvent::Bye,
                        LegEvent::Info { content_type, body } => {
                            OutEvent::Info { content_type, body }
                        }
                        LegEvent::ReInvite { id, offer } => OutEvent::ReInvite { id, offer },
                        LegEvent::Refer { target, .. } => OutEvent::Refer { target },
                        LegEvent::Ended { reason } => OutEvent::Ended { reason },
                        LegEvent::Acked | LegEvent::Cancelled => continue,
                    };
                    self.out_event(id, out);
                }
                CoreEvent::Out(id, ev) => self.out_event(id, ev),
                CoreEvent::Leg(id, ev) => {
                    let last = matches!(
                        ev,
                        LegEvent::Bye | LegEvent::Cancelled | LegEvent::Ended { .. }
                    );
                    if let Some(tx) = self.legs.get(&id)
                        && deliver(&self.shared.stats, id, tx, ev)
                    {
                        self.core.busy_legs.insert(id);
                    }
                    if last {
                        self.legs.remove(&id);
                    }
                }
                CoreEvent::Registration {
                    extension,
                    agent,
                    binding,
                } => self.on_registration(extension, agent, binding),
            }
        }
        while let Some(t) = self.core.poll_transmit() {
            match t.to {
                Peer::Udp(addr) => {
                    // Non-blocking: with 4 MiB buffers a full socket means overload; UDP peers and
                    // our own timers retransmit.
                    if self.udp.try_send_to(&t.bytes, addr).is_err() {
                        inc(&self.shared.stats.parse_errors_dropped);
                    }
                }
                Peer::Tcp { conn, .. } => {
                    let sent = self
                        .conns
                        .get(&conn)
                        .is_some_and(|w| w.try_send(t.bytes).is_ok());
                    if !sent {
                        inc(&self.shared.stats.parse_errors_dropped);
                    }
                }
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd.kind {
            CommandKind::Invite(req, reply) => self.start_invite(*req, reply),
            CommandKind::RegisterTrunk(reg) => {
                let local = self.shared.udp_addr;
                self.core.register_trunk(Instant::now(), local, *reg);
            }
            kind => self
                .core
                .handle_command(Instant::now(), Command { leg: cmd.leg, kind }),
        }
    }

    fn start_invite(
        &mut self,
        req: OutgoingInvite,
        reply: oneshot::Sender<Result<OutgoingCall, SipError>>,
    ) {
        let binding = match &req.trunk {
            Some(_) => None,
            None => match self.core.registrar.lookup(&req.extension).cloned() {
                Some(b) => Some(b),
                None => {
                    let _ = reply.send(Err(SipError::NotRegistered {
                        extension: req.extension,
                    }));
                    return;
                }
            },
        };
        let id = self.core.next_id;
        self.core.next_id += 1;
        let (ev_tx, ev_rx) = mpsc::channel(LEG_EVENTS);
        self.out_legs.insert(id, ev_tx);
        match (&binding, &req.trunk) {
            (Some(b), _) => self.core.start_invite(Instant::now(), id, b, &req),
            (None, Some(trunk)) => {
                let local = self.shared.udp_addr;
                self.core
                    .start_trunk_invite(Instant::now(), id, local, trunk, &req);
            }
            (None, None) => {}
        }
        let call = OutgoingCall {
            leg: OutLeg::new(CallLeg::new(id, self.cmd_tx.clone())),
            events: ev_rx,
        };
        // A caller that went away drops the OutLeg inside the error, which cancels the call.
        let _ = reply.send(Ok(call));
    }

    fn out_event(&mut self, id: LegId, ev: OutEvent) {
        let last = ev.is_last();
        if let Some(tx) = self.out_legs.get(&id)
            && deliver(&self.shared.stats, id, tx, ev)
        {
            self.core.busy_legs.insert(id);
        }
        if last {
            self.out_legs.remove(&id);
        }
    }

    fn on_registration(
        &mut self,
        extension: String,
        agent_id: Option<crate::domain::AgentId>,
        binding: Option<Binding>,
    ) {
        {
            let mut map = self
                .shared
                .bindings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &binding {
                Some(b) => map.insert(extension.clone(), b.clone()),
                None => map.remove(&extension),
            };
            self.registered = u64::try_from(map.len()).unwrap_or(u64::MAX);
        }
        let told = self.told.get(&extension);
        if !worth_telling(told, binding.as_ref(), Instant::now()) {
            return;
        }
        match &binding {
            Some(b) => self.told.insert(extension.clone(), b.clone()),
            None => self.told.remove(&extension),
        };
        // No receiver is fine: nobody is watching yet.
        let _ = self.shared.registrations.send(RegistrationEvent {
            extension,
            agent_id,
            binding,
        });
    }

    fn offer_call(&mut self, call: NewCall) {
        let (ev_tx, ev_rx) = mpsc::channel(LEG_EVENTS);
        let id = call.leg;
        let incoming = IncomingCall {
            sip_call_id: call.sip_call_id,
            from: call.from,
            asserted_identity: call.asserted_identity,
            to_user: call.to_user,
            offer: call.offer,
            remote: call.remote,
            transport: call.transport,
            local_ip: call.local_ip,
            leg: CallLeg::new(id, self.cmd_tx.clone()),
            events: ev_rx,
        };
        self.legs.insert(id, ev_tx);
        if let Err(e) = self.calls_tx.try_send(incoming) {
            // Admission was checked before the INVITE was handled, so this is a closed receiver.
            drop(e);
            self.legs.remove(&id);
            inc(&self.shared.stats.unavailable_503);
            let cmd = Command {
                leg: id,
                kind: CommandKind::Reject(503, "Service Unavailable".into()),
            };
            self.core.handle_command(Instant::now(), cmd);
        }
    }
}

/// Sends a leg event without waiting; true when the leg's call task is now so far behind that
/// only the reserved slots are left (its INFOs are then refused until it catches up). With that
/// rule a full channel cannot happen; should it, the loss is counted and logged as the bug it is.
fn deliver<T>(stats: &SipStats, leg: LegId, tx: &mpsc::Sender<T>, ev: T) -> bool {
    match tx.try_send(ev) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            inc(&stats.leg_events_lost);
            tracing::error!(leg, "leg event lost: the call task's channel is full");
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {
            // The call already ended and no longer listens.
            tracing::debug!(leg, "leg event after the call ended");
        }
    }
    !tx.is_closed() && tx.capacity() <= RESERVED_SLOTS
}
