//! The write-behind journal: the call path hands its records and the event stream hands its
//! events to one writer task, which commits them in order, many per transaction (group commit),
//! so no call ever waits on the database and nothing handed in is dropped.
//!
//! A write is queued in memory at once ([`Journal::write`] never waits). The writer takes
//! whatever has queued up (up to [`MAX_BATCH`] writes) and commits it in one transaction; while
//! that commits the next batch queues, so the batch grows with the load and a commit costs one
//! disk sync for hundreds of calls. A batch that fails because the database is busy, locked or
//! unreachable is retried with back-off, forever, in order: the writes wait in memory, counted in
//! [`JournalStats::pending`] (the call dispatcher refuses new calls with 503 when too many wait,
//! which bounds that memory). A batch that fails for a write the database refuses (a constraint)
//! is written again one write per transaction, so only that write is lost, and counted.
//! Durability: a write is on disk one commit after it was handed in (docs/durability.md states
//! the bound); [`Journal::synced`] waits for that, for readers who must see their own writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::calls::{finish_call_on, insert_call_on, set_call_answered_on, set_call_ivr_ended_on};
use super::events::append_event_on;
use super::intakes::insert_intake_on;
use super::outbox::{OutboxRoutes, enqueue_intake_on, enqueue_on};
use super::quality::set_call_agent_device_on;
use super::queue::{
    finish_offer_on, insert_voice_message_on, record_offer_on, set_call_connected_on,
    set_call_queued_on, set_call_wait_on,
};
use super::{
    CallEnd, NewCall, NewEvent, NewIntake, NewVoiceMessage, OfferResult, Store, StoreError,
};
use crate::domain::{AgentId, CallId, Category, Device, IntakeId, Language, Priority};

/// The most writes one transaction takes.
pub const MAX_BATCH: usize = 1024;
/// The first wait before a batch that failed for a busy or unreachable database is retried;
/// it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(5);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// One durable fact: a call record change or an event, in the order it happened.
#[derive(Debug, Clone)]
pub enum Write {
    /// A new call row (`in_progress`).
    Call(NewCall),
    /// Our 200 OK was sent.
    Answered { call: CallId, at: i64 },
    /// The IVR ended in `language`.
    IvrEnded {
        call: CallId,
        at: i64,
        language: Language,
    },
    /// The draft intake the IVR produced, under an id chosen by the call.
    Intake { id: IntakeId, intake: NewIntake },
    /// The call continues an existing intake (the caller chose it at the recognition prompt).
    Attach {
        intake: IntakeId,
        call: CallId,
        at: i64,
        /// The caller's IVR path, kept in the intake's history.
        ivr_path: String,
    },
    /// The caller entered a queue with their choice.
    Queued {
        call: CallId,
        at: i64,
        category: Category,
        priority: Option<Priority>,
    },
    /// The call was offered to an agent (their phone rings).
    Offer {
        call: CallId,
        agent: AgentId,
        at: i64,
    },
    /// That offer ended.
    OfferEnded {
        call: CallId,
        agent: AgentId,
        at: i64,
        result: OfferResult,
    },
    /// The agent answered after the caller waited `wait_ms`.
    Connected {
        call: CallId,
        agent: AgentId,
        at: i64,
        wait_ms: i64,
    },
    /// The device of the agent who answered.
    AgentDevice { call: CallId, device: Device },
    /// The caller left the queue without an agent after `wait_ms`.
    Waited { call: CallId, wait_ms: i64 },
    /// A voice message's record, under an id chosen by the call.
    VoiceMessage {
        id: String,
        message: NewVoiceMessage,
    },
    /// A transfer completed: the handing agent's leg, the call's new agent, the intake's note.
    Transferred(Box<super::call_legs::Transfer>),
    /// A transferred call ended: its last agent's leg (after `Ended`).
    LastLeg { call: CallId },
    /// After a transfer to a queue, the next agent answered: their leg starts.
    LegConnected {
        call: CallId,
        agent: AgentId,
        at: i64,
    },
    /// The end of the call (the first end wins).
    Ended { call: CallId, end: CallEnd },
    /// An event of the one stream.
    Event(NewEvent),
}

impl Write {
    /// Applies the write on `conn` (inside the batch's transaction). An update that finds no
    /// row (a call whose insert was refused, an end after the first end) is not an error.
    async fn apply(
        &self,
        conn: &mut sqlx::AnyConnection,
        zone: super::Zone,
    ) -> Result<(), StoreError> {
        match self {
            Write::Call(c) => insert_call_on(conn, c).await,
            Write::Answered { call, at } => set_call_answered_on(conn, call, *at).await.map(drop),
            Write::IvrEnded { call, at, language } => {
                set_call_ivr_ended_on(conn, call, *at, *language)
                    .await
                    .map(drop)
            }
            Write::Intake { id, intake } => insert_intake_on(conn, zone, id, intake).await,
            Write::Attach {
                intake,
                call,
                at,
                ivr_path,
            } => super::work::attach_call_on(conn, intake, call, *at, ivr_path).await,
            Write::Queued {
                call,
                at,
                category,
                priority,
            } => set_call_queued_on(conn, call, *at, *category, *priority).await,
            Write::Offer { call, agent, at } => record_offer_on(conn, call, agent, *at).await,
            Write::OfferEnded {
                call,
                agent,
                at,
                result,
            } => finish_offer_on(conn, call, agent, *at, *result).await,
            Write::Connected {
                call,
                agent,
                at,
                wait_ms,
            } => set_call_connected_on(conn, call, agent, *at, *wait_ms).await,
            Write::AgentDevice { call, device } => set_call_agent_device_on(conn, call, *device)
                .await
                .map(drop),
            Write::Waited { call, wait_ms } => set_call_wait_on(conn, call, *wait_ms).await,
            Write::VoiceMessage { id, message } => insert_voice_message_on(conn, id, message).await,
            Write::Transferred(t) => super::call_legs::transferred_on(conn, t).await,
            Write::LegConnected { call, agent, at } => {
                super::call_legs::leg_connected_on(conn, call, agent, *at).await
            }
            Write::Ended { call, end } => finish_call_on(conn, call, end).await.map(drop),
            Write::LastLeg { call } => super::call_legs::last_leg_on(conn, Some(call)).await,
            Write::Event(e) => append_event_on(conn, e).await,
        }
    }

    /// Enqueues, in the same transaction, the integration event this write reports (an intake
    /// drafted by the IVR; a call arriving, answered, ended; a callback; a voice message);
    /// returns how many outbox rows.
    async fn enqueue(
        &self,
        conn: &mut sqlx::AnyConnection,
        routes: &OutboxRoutes,
    ) -> Result<usize, StoreError> {
        match self {
            Write::Intake { id, intake } => {
                enqueue_intake_on(conn, routes, "intake.created", id, None, intake.created_at).await
            }
            Write::Event(e) => {
                let Some(kind) = integration_kind(&e.kind) else {
                    return Ok(0);
                };
                let subject = e.call_id.as_ref().map(CallId::as_str);
                enqueue_on(conn, routes, kind, subject, &e.payload, e.at).await
            }
            _ => Ok(0),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Write::Call(_) => "call",
            Write::Answered { .. } => "answered",
            Write::IvrEnded { .. } => "ivr_ended",
            Write::Intake { .. } => "intake",
            Write::Attach { .. } => "attach",
            Write::Queued { .. } => "queued",
            Write::Offer { .. } => "offer",
            Write::OfferEnded { .. } => "offer_ended",
            Write::Connected { .. } => "connected",
            Write::AgentDevice { .. } => "agent_device",
            Write::Waited { .. } => "waited",
            Write::VoiceMessage { .. } => "voice_message",
            Write::Transferred(_) => "transferred",
            Write::LegConnected { .. } => "leg_connected",
            Write::LastLeg { .. } => "last_leg",
            Write::Ended { .. } => "ended",
            Write::Event(_) => "event",
        }
    }
}

/// The integration event (docs/integrations.md) an event of the stream is, if any.
fn integration_kind(event_kind: &str) -> Option<&'static str> {
    Some(match event_kind {
        "call_arrived" => "call.arrived",
        "call_connected" => "call.answered",
        "call_ended" => "call.ended",
        "callback_requested" => "callback.requested",
        "voice_message" => "voice_message.recorded",
        _ => return None,
    })
}

enum Entry {
    Write(Box<Write>),
    /// Answered once everything queued before it is committed.
    Barrier(oneshot::Sender<()>),
}

/// What the journal has done since start (`/health`, `/metrics`).
#[derive(Debug, Default)]
pub struct JournalStats {
    pending: AtomicUsize,
    peak: AtomicUsize,
    committed: AtomicU64,
    batches: AtomicU64,
    retries: AtomicU64,
    failed: AtomicU64,
    largest_batch: AtomicUsize,
}

/// A copy of [`JournalStats`].
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct JournalSnapshot {
    /// Writes handed in and not yet committed.
    pub pending: usize,
    /// The most that were pending at once.
    pub peak_pending: usize,
    /// Writes committed.
    pub committed: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Batches retried because the database was busy, locked or unreachable.
    pub retries: u64,
    /// Writes the database refused (logged with the error); everything else lands.
    pub failed: u64,
    /// The most writes one transaction took.
    pub largest_batch: usize,
}

/// Hands writes to the journal's writer task; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<Entry>,
    stats: Arc<JournalStats>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Journal {
    /// Starts the writer task on `store`. When `stop` fires the writer commits everything
    /// queued, then ends (the task tracker waits for it).
    pub fn start(store: Store, tasks: &TaskTracker, stop: CancellationToken) -> Journal {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(JournalStats::default());
        tasks.spawn(run(store, rx, stats.clone(), stop));
        Journal { tx, stats }
    }

    /// Queues `w`; never waits. After the writer stopped (shutdown) the write is counted as
    /// failed and logged.
    pub fn write(&self, w: Write) {
        let pending = self.stats.pending.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.peak.fetch_max(pending, Ordering::Relaxed);
        if let Err(e) = self.tx.send(Entry::Write(Box::new(w))) {
            self.stats.pending.fetch_sub(1, Ordering::Relaxed);
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            if let Entry::Write(w) = e.0 {
                tracing::error!(write = w.name(), "journal stopped; write lost");
            }
        }
    }

    /// Returns once every write handed in before this call is committed (at once when the
    /// writer has stopped). For readers that must see what the call path wrote (the screen
    /// pop, the API); never on the call path.
    pub async fn synced(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Entry::Barrier(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Writes handed in and not yet committed.
    pub fn pending(&self) -> usize {
        self.stats.pending.load(Ordering::Relaxed)
    }

    /// The counters.
    pub fn stats(&self) -> JournalSnapshot {
        let s = &self.stats;
        JournalSnapshot {
            pending: s.pending.load(Ordering::Relaxed),
            peak_pending: s.peak.load(Ordering::Relaxed),
            committed: s.committed.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            largest_batch: s.largest_batch.load(Ordering::Relaxed),
        }
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Entry>,
    stats: Arc<JournalStats>,
    stop: CancellationToken,
) {
    let mut batch: Vec<Box<Write>> = Vec::with_capacity(MAX_BATCH);
    let mut barriers = Vec::new();
    loop {
        let first = tokio::select! {
            e = rx.recv() => e,
            () = stop.cancelled() => {
                // Commit what is queued, then stop: later writes are refused (counted).
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut next = Some(first);
        while let Some(entry) = next.take() {
            match entry {
                Entry::Write(w) => batch.push(w),
                Entry::Barrier(b) => barriers.push(b),
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let n = batch.len();
            commit(&store, &batch, &stats).await;
            batch.clear();
            stats.pending.fetch_sub(n, Ordering::Relaxed);
            stats.largest_batch.fetch_max(n, Ordering::Relaxed);
        }
        for b in barriers.drain(..) {
            let _ = b.send(());
        }
    }
}

/// Commits `batch` in one transaction, retrying while the database is busy or away; when the
/// database refuses the batch, writes it one write per transaction so only the refused ones
/// are lost.
async fn commit(store: &Store, batch: &[Box<Write>], stats: &JournalStats) {
    let Err(e) = commit_retrying(store, batch, stats).await else {
        return;
    };
    if let [w] = batch {
        return refused(w, &e, stats);
    }
    tracing::warn!(error = %crate::error_chain(&e), writes = batch.len(), "journal batch refused; writing one at a time");
    for w in batch {
        if let Err(e) = commit_retrying(store, std::slice::from_ref(w), stats).await {
            refused(w, &e, stats);
        }
    }
}

fn refused(w: &Write, e: &StoreError, stats: &JournalStats) {
    stats.failed.fetch_add(1, Ordering::Relaxed);
    tracing::error!(error = %crate::error_chain(e), write = w.name(), "journal write refused; lost");
}

async fn commit_retrying(
    store: &Store,
    batch: &[Box<Write>],
    stats: &JournalStats,
) -> Result<(), StoreError> {
    let mut wait = RETRY_FIRST;
    loop {
        match commit_once(store, batch).await {
            Ok(()) => {
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats
                    .committed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                return Ok(());
            }
            Err(e) if e.is_transient() => {
                let n = stats.retries.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() {
                    tracing::warn!(error = %crate::error_chain(&e), retries = n + 1, "database busy or away; journal retries");
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
            Err(e) => return Err(e),
        }
    }
}

async fn commit_once(store: &Store, batch: &[Box<Write>]) -> Result<(), StoreError> {
    const OP: &str = "journal";
    let routes = store.outbox_routes();
    let mut tx = store.begin_write(OP).await?;
    let mut enqueued = 0;
    for w in batch {
        w.apply(&mut tx, store.zone).await?;
        enqueued += w.enqueue(&mut tx, &routes).await?;
    }
    tx.commit().await.map_err(StoreError::query(OP))?;
    if enqueued > 0 {
        store.outbox_wake();
    }
    Ok(())
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
