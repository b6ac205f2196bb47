//! The supervisor feed's owner task: subscribed to the event stream from its start, it keeps the
//! live model, refreshes it from the queue engine (every second, and after each event that
//! touches queues or agents), and sends numbered `update` frames (at most one per 25 ms) to
//! every supervisor connection, keeping the last 1,000 for resume (docs/supervisor.md). After
//! missed events it rebuilds the model as a fresh feed would and sends a numbered `snapshot`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use serde_json::{Map, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::SupervisorConfig;
use super::live::LiveModel;
use crate::acd::{AcdHandle, EntryKind};
use crate::domain::{AgentId, CustomerId, Device};
use crate::events::{Event, EventBus, EventKind};
use crate::store::{Store, now_ms};

/// Frames kept for resume.
const RING: usize = 1000;
/// Frames a connection may have unsent before it is closed as too slow.
const CONN_QUEUE: usize = 256;
/// Commands waiting for the task.
const CMD_QUEUE: usize = 1024;
/// At most one `update` per this interval (bursts of events are coalesced).
const COALESCE: Duration = Duration::from_millis(25);
/// The queue engine is read at least this often (waited times grow without events).
const ACD_EVERY: Duration = Duration::from_secs(1);
/// Escalations have no event; the day's count is re-read this often.
const ESCALATIONS_EVERY: Duration = Duration::from_secs(10);

/// One serialised server frame, shared by every connection.
#[derive(Debug, Clone)]
pub struct FeedFrame {
    /// Its number (`None`: a reply to one connection).
    pub seq: Option<u64>,
    /// The JSON text.
    pub text: Utf8Bytes,
}

impl FeedFrame {
    fn new(kind: &str, seq: u64, body: Map<String, Value>) -> FeedFrame {
        let mut m = Map::new();
        m.insert("v".into(), Value::from(1));
        m.insert("type".into(), Value::from(kind));
        m.insert("seq".into(), Value::from(seq));
        m.extend(body);
        FeedFrame {
            seq: (kind == "update").then_some(seq),
            text: Value::Object(m).to_string().into(),
        }
    }
}

/// The client's `hello`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHello {
    /// The last `seq` the client saw.
    pub last_seq: Option<u64>,
    /// The server epoch `last_seq` belongs to.
    pub epoch: Option<String>,
}

/// A registered connection: what to send first, then the live frames.
#[derive(Debug)]
pub struct SupervisorConnection {
    /// Identifies the connection (for `disconnect`).
    pub id: u64,
    /// `welcome`, then the missed frames in order or one `snapshot`.
    pub first: Vec<Arc<FeedFrame>>,
    /// Every later frame; closed when the connection fell too far behind.
    pub rx: mpsc::Receiver<Arc<FeedFrame>>,
}

/// Why the feed could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The feed task has stopped (server shutting down).
    #[error("the supervisor feed has stopped")]
    Stopped,
}

enum Cmd {
    Connect {
        hello: FeedHello,
        reply: oneshot::Sender<SupervisorConnection>,
    },
    Disconnect(u64),
    Refresh,
    Sections(oneshot::Sender<Map<String, Value>>),
    /// An agent's name and device as stored.
    Agent(AgentId, String, Device),
    Customer(CustomerId, String),
    Escalations(Vec<crate::store::EscalationCount>),
}

/// Handle to the supervisor feed; cheap to clone.
#[derive(Clone)]
pub struct SupervisorFeed {
    tx: mpsc::Sender<Cmd>,
    epoch: Arc<str>,
    threshold: std::time::Duration,
    /// For `agent_device` events (see [`SupervisorFeed::set_device`]).
    events: EventBus,
    /// How often the feed fell behind the event stream and rebuilt its model.
    repairs: Arc<AtomicU64>,
}

impl std::fmt::Debug for SupervisorFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorFeed")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl SupervisorFeed {
    /// The configured service-level threshold (the reports use the same one).
    pub fn service_level_threshold(&self) -> std::time::Duration {
        self.threshold
    }

    /// Starts the feed task, subscribed to `events` from now on.
    pub fn start(
        cfg: SupervisorConfig,
        events: &EventBus,
        acd: AcdHandle,
        store: Store,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) -> SupervisorFeed {
        let (tx, rx) = mpsc::channel(CMD_QUEUE);
        let epoch: Arc<str> = format!("{:016x}", rand::random::<u64>()).into();
        let threshold = std::time::Duration::from_secs(cfg.service_level_threshold_secs);
        let mut model = LiveModel::new(cfg.clone(), now_ms());
        model.set_require_registration(acd.require_registration());
        let repairs = Arc::new(AtomicU64::new(0));
        let task = FeedTask {
            repairs: repairs.clone(),
            model,
            cfg,
            epoch: epoch.clone(),
            seq: 0,
            ring: VecDeque::new(),
            conns: Vec::new(),
            next_conn: 1,
            acd,
            store,
            tx: tx.downgrade(),
            tasks: tasks.clone(),
            need_acd: true,
            flush_at: None,
            last_flush: Instant::now(),
        };
        tasks.spawn(task.run(rx, events.subscribe(), stop));
        SupervisorFeed {
            tx,
            epoch,
            threshold,
            events: events.clone(),
            repairs,
        }
    }

    /// This server run's epoch (random per process start).
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// How often the feed fell behind the event stream and rebuilt its model.
    pub fn lag_repairs(&self) -> u64 {
        self.repairs.load(Ordering::Relaxed)
    }

    /// Registers a connection: `welcome`, then a replay after `hello.last_seq` or a snapshot.
    pub async fn connect(&self, hello: FeedHello) -> Result<SupervisorConnection, FeedError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Connect { hello, reply }).await?;
        rx.await.map_err(|_| FeedError::Stopped)
    }

    /// Forgets a closed connection.
    pub async fn disconnect(&self, id: u64) {
        // A stopped feed has nothing left to forget.
        let _ = self.send(Cmd::Disconnect(id)).await;
    }

    /// Re-reads the queue engine now (after a supervisor action, which has no event).
    pub fn refresh(&self) {
        // A full queue already holds work that re-reads the engine.
        let _ = self.tx.try_send(Cmd::Refresh);
    }

    /// An agent's device changed (`PUT /api/agents/…/device` calls this after storing it):
    /// published as `agent_device` in the one event stream, which this view, the desk and the
    /// queue engine's reachability follow.
    pub fn set_device(&self, agent: AgentId, device: Device) {
        self.events.publish(EventKind::AgentDevice {
            agent_id: agent,
            device,
        });
    }

    /// The current sections (as a snapshot frame carries them), for `/metrics`.
    pub async fn sections(&self) -> Result<Map<String, Value>, FeedError> {
        let (reply, rx) = oneshot::channel();
        self.send(Cmd::Sections(reply)).await?;
        rx.await.map_err(|_| FeedError::Stopped)
    }

    async fn send(&self, cmd: Cmd) -> Result<(), FeedError> {
        self.tx.send(cmd).await.map_err(|_| FeedError::Stopped)
    }
}

struct Conn {
    id: u64,
    tx: mpsc::Sender<Arc<FeedFrame>>,
}

struct FeedTask {
    model: LiveModel,
    cfg: SupervisorConfig,
    epoch: Arc<str>,
    seq: u64,
    ring: VecDeque<Arc<FeedFrame>>,
    conns: Vec<Conn>,
    next_conn: u64,
    acd: AcdHandle,
    store: Store,
    tx: mpsc::WeakSender<Cmd>,
    tasks: TaskTracker,
    /// The engine must be read before the next update.
    need_acd: bool,
    /// When the next update goes out (`None`: nothing changed).
    flush_at: Option<Instant>,
    last_flush: Instant,
    /// Counted by [`FeedTask::repair`].
    repairs: Arc<AtomicU64>,
}

impl FeedTask {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Cmd>,
        mut events: broadcast::Receiver<Arc<Event>>,
        stop: CancellationToken,
    ) {
        self.load_day().await;
        self.load_names().await;
        self.flush().await;
        let mut acd_tick = tokio::time::interval(ACD_EVERY);
        let mut esc_tick = tokio::time::interval(ESCALATIONS_EVERY);
        loop {
            let flush_at = self.flush_at;
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => self.command(cmd).await,
                    None => break,
                },
                event = events.recv() => match event {
                    Ok(e) => self.event(&e),
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "supervisor feed fell behind the event stream; rebuilding");
                        // From now on; what was missed is read from its owners.
                        events = events.resubscribe();
                        self.repair().await;
                    }
                    Err(RecvError::Closed) => break,
                },
                () = sleep_until(flush_at), if flush_at.is_some() => self.flush().await,
                _ = acd_tick.tick() => self.changed(true),
                _ = esc_tick.tick() => self.read_escalations(),
                () = stop.cancelled() => break,
            }
        }
    }

    /// Rebuilds the model from its owners as a fresh feed does at start (the day's figures and
    /// the agents from the store, queues and agent states from the engine), then sends every
    /// connection a numbered `snapshot` (kept for resume) that the next `update` builds on.
    async fn repair(&mut self) {
        self.repairs.fetch_add(1, Ordering::Relaxed);
        self.model = self.model.rebuilt(now_ms());
        self.load_day().await;
        self.load_names().await;
        self.read_acd().await;
        self.need_acd = false;
        self.flush_at = None;
        self.last_flush = Instant::now();
        // What the snapshot shows is what the next update is compared with.
        let sections = self.model.sections();
        let _ = self.model.take_update();
        self.seq += 1;
        let mut frame = FeedFrame::new("snapshot", self.seq, sections);
        frame.seq = Some(self.seq);
        self.push(Arc::new(frame));
    }

    /// Counts the day so far from the store (the feed starts with the server).
    async fn load_day(&mut self) {
        let since = self.model.day_start();
        let th = i64::try_from(self.cfg.service_level_threshold_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        let day = self.store.day_calls(since, th).await;
        let voice = self.store.voice_messages_since(since).await;
        let esc = self.store.escalations_since(since).await;
        match (day, voice, esc) {
            (Ok(d), Ok(v), Ok(e)) => self.model.set_day(d, v, e),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                tracing::error!(error = %e, "cannot read today's figures; starting from zero");
            }
        }
    }

    async fn load_names(&mut self) {
        match self.store.list_agents().await {
            Ok(agents) => {
                for a in agents {
                    self.model.set_device(a.id.clone(), a.device);
                    self.model.set_name(a.id, a.name);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read agent names"),
        }
    }

    async fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Connect { hello, reply } => {
                // Whatever changed goes out first, so the snapshot is the state at `seq`.
                if self.flush_at.is_some() {
                    self.flush().await;
                }
                let conn = self.connect(hello);
                // The handler may have gone away meanwhile; the connection then just closes.
                if let Err(conn) = reply.send(conn) {
                    self.conns.retain(|c| c.id != conn.id);
                }
            }
            Cmd::Disconnect(id) => self.conns.retain(|c| c.id != id),
            Cmd::Refresh => self.changed(true),
            Cmd::Sections(reply) => {
                let _ = reply.send(self.model.sections());
            }
            Cmd::Agent(id, name, device) => {
                self.model.set_device(id.clone(), device);
                self.model.set_name(id, name);
                self.changed(false);
            }
            Cmd::Customer(id, name) => {
                self.model.set_customer(&id, &name);
                self.changed(false);
            }
            Cmd::Escalations(e) => {
                self.model.set_escalations(e);
                self.changed(false);
            }
        }
    }

    fn event(&mut self, event: &Event) {
        let acd = self.model.apply(event);
        match &event.kind {
            EventKind::CallArrived {
                customer_id: Some(id),
                ..
            } => self.look_up_customer(id.clone()),
            // A sign-in (or an agent not seen before): read the name and device again, so a
            // device changed while the feed could not be told shows from the next sign-in.
            EventKind::AgentState { agent_id, from, .. }
                if from == "offline" || self.model.needs_name(agent_id) =>
            {
                self.look_up_agent(agent_id.clone());
            }
            _ => {}
        }
        self.changed(acd);
    }

    /// Something changed: an update goes out within [`COALESCE`] of the last one.
    fn changed(&mut self, acd: bool) {
        self.need_acd |= acd;
        if self.flush_at.is_none() {
            self.flush_at = Some((self.last_flush + COALESCE).max(Instant::now()));
        }
    }

    async fn flush(&mut self) {
        self.flush_at = None;
        self.last_flush = Instant::now();
        if std::mem::take(&mut self.need_acd) {
            self.read_acd().await;
        }
        if let Some(update) = self.model.take_update() {
            self.seq += 1;
            let frame = Arc::new(FeedFrame::new("update", self.seq, update));
            self.push(frame);
        }
    }

    async fn read_acd(&mut self) {
        let snap = match self.acd.snapshot().await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "queue engine not readable");
                return;
            }
        };
        let wall = now_ms();
        let mut estimates = HashMap::new();
        for q in &snap.queues {
            let last = q.entries.iter().rev().find(|e| e.kind == EntryKind::Call);
            let estimate = match last {
                Some(e) => self
                    .acd
                    .position(e.id.clone())
                    .await
                    .ok()
                    .flatten()
                    .and_then(|p| p.estimate),
                None => None,
            };
            estimates.insert(q.category, estimate);
        }
        self.model.apply_acd(&snap, wall, &estimates);
    }

    /// Keeps `frame` for resume and sends it to every connection; a
    /// connection whose queue is full is dropped (its handler closes the socket with 1013).
    fn push(&mut self, frame: Arc<FeedFrame>) {
        if self.ring.len() >= RING {
            self.ring.pop_front();
        }
        self.ring.push_back(frame.clone());
        self.conns.retain(|c| match c.tx.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(conn = c.id, "supervisor connection too slow; closing it");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    fn connect(&mut self, hello: FeedHello) -> SupervisorConnection {
        let id = self.next_conn;
        self.next_conn += 1;
        let resume_from = match (hello.epoch.as_deref(), hello.last_seq) {
            (Some(e), Some(n)) if *e == *self.epoch => {
                // Every frame after `n` must still be in the ring.
                let oldest = self
                    .ring
                    .front()
                    .and_then(|f| f.seq)
                    .unwrap_or(self.seq + 1);
                (n == self.seq || (n < self.seq && oldest <= n + 1)).then_some(n)
            }
            _ => None,
        };
        let mut welcome = Map::new();
        welcome.insert("epoch".into(), Value::from(self.epoch.to_string()));
        welcome.insert("resumed".into(), Value::from(resume_from.is_some()));
        let mut first = vec![Arc::new(FeedFrame::new("welcome", self.seq, welcome))];
        match resume_from {
            Some(n) => first.extend(
                self.ring
                    .iter()
                    .filter(|f| f.seq.is_some_and(|s| s > n))
                    .cloned(),
            ),
            None => first.push(Arc::new(FeedFrame::new(
                "snapshot",
                self.seq,
                self.model.sections(),
            ))),
        }
        let (tx, rx) = mpsc::channel(CONN_QUEUE);
        self.conns.push(Conn { id, tx });
        SupervisorConnection { id, first, rx }
    }

    fn look_up_customer(&self, id: CustomerId) {
        let Some(tx) = self.tx.upgrade() else { return };
        let store = self.store.clone();
        self.tasks.spawn(async move {
            match store.get_customer(&id).await {
                Ok(Some(c)) => {
                    let _ = tx.send(Cmd::Customer(id, c.name)).await;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read a caller's customer"),
            }
        });
    }

    fn look_up_agent(&self, id: AgentId) {
        let Some(tx) = self.tx.upgrade() else { return };
        let store = self.store.clone();
        self.tasks.spawn(async move {
            match store.get_agent(&id).await {
                Ok(Some(a)) => {
                    let _ = tx.send(Cmd::Agent(id, a.name, a.device)).await;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read an agent's name"),
            }
        });
    }

    fn read_escalations(&self) {
        let Some(tx) = self.tx.upgrade() else { return };
        let (store, since) = (self.store.clone(), self.model.day_start());
        self.tasks.spawn(async move {
            match store.escalations_since(since).await {
                Ok(e) => {
                    let _ = tx.send(Cmd::Escalations(e)).await;
                }
                Err(e) => tracing::warn!(error = %e, "cannot read today's escalations"),
            }
        });
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "feed_lag_tests.rs"]
mod lag_tests;
