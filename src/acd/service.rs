//! The queue engine's owner task (thin I/O): one tokio task owns the [`Acd`], takes commands
//! from a bounded channel, sleeps until the engine's next deadline, and delivers outputs: notices
//! to each entry's caller task (never blocking), agent state changes to the event stream
//! (published by this task itself, so none can be lost between the engine and the event log)
//! and to a broadcast channel.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::domain::{AgentId, Category, Priority};
use crate::events::{EventBus, EventKind};

use super::{
    Acd, AcdConfig, AcdError, AcdOutput, AcdSnapshot, AgentInfo, AgentState, CallbackReason,
    CancelReason, Entry, EntryId, FailReason, OfferId, Position, ReasonCode, RemoveReason,
    StateReason,
};

/// Commands that may wait for the owner task before senders are made to wait.
const COMMAND_QUEUE: usize = 1024;
/// Agent state changes a slow subscriber may lag behind.
const STATE_QUEUE: usize = 1024;

/// What a caller's task must act on while its entry waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueNotice {
    /// Ring this agent's phone; report `offer_answered` / `offer_failed`.
    Offer { offer: OfferId, agent: AgentId },
    /// Stop ringing for this offer; `reason` says whether the agent let it ring out.
    CancelOffer {
        offer: OfferId,
        reason: CancelReason,
    },
    /// Play the caller's place and estimated wait (`None`: nobody serves the queue now).
    Announce {
        place: usize,
        estimate: Option<Duration>,
    },
    /// Offer a callback or a voice message.
    OfferCallback { reason: CallbackReason },
}

/// An agent's state change, for the event store and live views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStateChange {
    /// The agent.
    pub agent: AgentId,
    /// Previous state.
    pub from: AgentState,
    /// New state.
    pub to: AgentState,
    /// Why (login, offered, no answer, a not-ready reason, …).
    pub reason: Option<String>,
    /// The code of a system reason (`None`: the agent's own words, or a transition that needs
    /// none; see [`ReasonCode`]).
    pub reason_code: Option<ReasonCode>,
    /// Wall-clock time of the change.
    pub at: SystemTime,
}

/// A command: runs on the owner task with the engine and the current time.
type Job = Box<dyn FnOnce(&mut Core, Instant) + Send>;

/// Starts the owner task.
#[derive(Debug)]
pub struct AcdService;

impl AcdService {
    /// Spawns the engine's owner task on `tasks`; it ends when `stop` is cancelled or every
    /// handle is dropped. Subscribe to [`AcdHandle::agent_states`] before the first command.
    pub fn start(cfg: AcdConfig, tasks: &TaskTracker, stop: CancellationToken) -> AcdHandle {
        Self::spawn(cfg, None, tasks, stop)
    }

    /// Like [`AcdService::start`], and the owner task publishes every agent state change as an
    /// `agent_state` event on `events` the moment the engine reports it: no channel between
    /// the engine and the event stream that a slow reader could overflow (issue 12, item 7).
    pub fn start_recording(
        cfg: AcdConfig,
        events: EventBus,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) -> AcdHandle {
        Self::spawn(cfg, Some(events), tasks, stop)
    }

    fn spawn(
        cfg: AcdConfig,
        events: Option<EventBus>,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) -> AcdHandle {
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let (states, _) = broadcast::channel(STATE_QUEUE);
        let require_registration = cfg.require_registration;
        let core = Core {
            acd: Acd::new(cfg, now()),
            notices: HashMap::new(),
            states: states.clone(),
            events,
            dropped_notices: 0,
            pruned_at: 0,
        };
        tasks.spawn(run(core, rx, stop));
        AcdHandle {
            tx,
            states,
            require_registration,
        }
    }
}

/// A cheap-clone handle to the owner task. Every method fails with [`AcdError::Stopped`] once
/// the task has ended.
#[derive(Debug, Clone)]
pub struct AcdHandle {
    tx: mpsc::Sender<Job>,
    states: broadcast::Sender<AgentStateChange>,
    require_registration: bool,
}

impl AcdHandle {
    /// `[acd] require_registration`: phone agents are offered calls only while registered.
    pub fn require_registration(&self) -> bool {
        self.require_registration
    }

    /// Whether the router offers calls to an agent with this device and registration (the
    /// engine's rule, for views that show it).
    pub fn offers_calls(&self, device: crate::domain::Device, registered: bool) -> bool {
        super::offered_calls(self.require_registration, device, registered)
    }

    /// Agent state changes from now on.
    pub fn agent_states(&self) -> broadcast::Receiver<AgentStateChange> {
        self.states.subscribe()
    }

    /// Queues an entry; `notices` receives what the caller's task must do (capacity 16 is
    /// plenty). Closing it while the entry waits counts as abandoning the queue.
    pub async fn enqueue(
        &self,
        entry: Entry,
        notices: mpsc::Sender<QueueNotice>,
    ) -> Result<(), AcdError> {
        self.enqueue_preferring(entry, notices, None).await
    }

    /// [`AcdHandle::enqueue`], first reserved for `prefer` (`Acd::enqueue_preferring`).
    pub async fn enqueue_preferring(
        &self,
        entry: Entry,
        notices: mpsc::Sender<QueueNotice>,
        prefer: Option<AgentId>,
    ) -> Result<(), AcdError> {
        self.call(move |core, now| {
            let id = entry.id.clone();
            core.acd.enqueue_preferring(now, entry, prefer)?;
            core.notices.insert(id, notices);
            Ok(())
        })
        .await?
    }

    /// Takes an entry out; returns how long it waited.
    pub async fn remove(&self, id: EntryId, reason: RemoveReason) -> Result<Duration, AcdError> {
        self.call(move |core, now| core.acd.remove(now, &id, reason))
            .await?
    }

    /// The agent's phone answered; returns how long the entry waited.
    pub async fn offer_answered(&self, offer: OfferId) -> Result<Duration, AcdError> {
        self.call(move |core, now| core.acd.offer_answered(now, offer))
            .await?
    }

    /// The agent's phone did not take the offer.
    pub async fn offer_failed(&self, offer: OfferId, reason: FailReason) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.offer_failed(now, offer, reason))
            .await?
    }

    /// Logs an agent in (available at once).
    pub async fn agent_login(&self, info: AgentInfo) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.agent_login(now, info))
            .await?
    }

    /// An admin changed a signed-in agent's queues or level (see `Acd::agent_update`); returns
    /// whether they were signed in.
    pub async fn agent_update(&self, info: AgentInfo) -> Result<bool, AcdError> {
        self.call(move |core, now| core.acd.agent_update(now, info))
            .await
    }

    /// Logs an agent out.
    pub async fn agent_logout(&self, id: AgentId) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.agent_logout(now, &id))
            .await?
    }

    /// A supervisor logs an agent out (reason code `supervisor`).
    pub async fn supervisor_logout(&self, id: AgentId) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.supervisor_logout(now, &id))
            .await?
    }

    /// A supervisor sets an agent not ready with their `reason` (reason code `supervisor`).
    pub async fn supervisor_not_ready(&self, id: AgentId, reason: String) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.supervisor_not_ready(now, &id, reason))
            .await?
    }

    /// The agent's device can or cannot take a call now (registration, device switch).
    pub async fn set_reachable(&self, id: AgentId, reachable: bool) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.set_reachable(now, &id, reachable))
            .await
    }

    /// The agent is ready for calls.
    pub async fn set_available(&self, id: AgentId) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.set_available(now, &id))
            .await?
    }

    /// The agent takes a break.
    pub async fn set_not_ready(&self, id: AgentId, reason: String) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.set_not_ready(now, &id, reason))
            .await?
    }

    /// The agent finished after-call work.
    pub async fn wrapup_done(&self, id: AgentId) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.wrapup_done(now, &id))
            .await?
    }

    /// The agent places a call to the outside, or is rung for a call handed over to them: on a
    /// call until [`AcdHandle::call_ended`] or [`AcdHandle::abort_outbound`]. Returns the state
    /// before.
    pub async fn start_outbound(&self, id: AgentId) -> Result<AgentState, AcdError> {
        self.call(move |core, now| core.acd.start_outbound(now, &id))
            .await?
    }

    /// The direct call never connected: the agent goes back to `before`.
    pub async fn abort_outbound(&self, id: AgentId, before: AgentState) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.abort_outbound(now, &id, before))
            .await?
    }

    /// The agent's call ended; wrap-up starts.
    pub async fn call_ended(&self, id: AgentId) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.call_ended(now, &id))
            .await?
    }

    /// A supervisor changes an entry's priority.
    pub async fn set_priority(&self, id: EntryId, priority: Priority) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.set_priority(now, &id, priority))
            .await?
    }

    /// A supervisor moves an entry to another queue.
    pub async fn move_entry(&self, id: EntryId, category: Category) -> Result<(), AcdError> {
        self.call(move |core, now| core.acd.move_entry(now, &id, category))
            .await?
    }

    /// Resets the calls-handled counters (for `fewest_calls`, at local midnight).
    pub async fn reset_call_counts(&self) -> Result<(), AcdError> {
        self.call(|core, _| core.acd.reset_call_counts()).await
    }

    /// Place and estimated wait of an entry (`None`: not queued).
    pub async fn position(&self, id: EntryId) -> Result<Option<Position>, AcdError> {
        self.call(move |core, now| core.acd.position(now, &id))
            .await
    }

    /// The live queues and agents.
    pub async fn snapshot(&self) -> Result<AcdSnapshot, AcdError> {
        self.call(|core, now| core.acd.snapshot(now)).await
    }

    /// Runs `f` on the owner task and returns its answer.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core, Instant) -> T + Send + 'static,
    ) -> Result<T, AcdError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |core, now| {
            // The caller may have given up waiting; nothing to do then.
            let _ = reply.send(f(core, now));
        });
        self.tx.send(job).await.map_err(|_| AcdError::Stopped)?;
        answer.await.map_err(|_| AcdError::Stopped)
    }
}

/// What the owner task owns.
struct Core {
    acd: Acd,
    /// Each queued entry's caller task.
    notices: HashMap<EntryId, mpsc::Sender<QueueNotice>>,
    states: broadcast::Sender<AgentStateChange>,
    /// Where agent state changes are published as events (`start_recording`).
    events: Option<EventBus>,
    /// Notices dropped because a caller task's channel was full.
    dropped_notices: u64,
    /// `Acd::removed_entries` when `notices` was last pruned.
    pruned_at: u64,
}

impl Core {
    /// Delivers every pending output, then forgets the channels of entries that left.
    fn drain(&mut self, now: Instant) {
        while let Some(output) = self.acd.poll_output() {
            match output {
                AcdOutput::Offer {
                    offer,
                    entry,
                    agent,
                } => self.notify(now, &entry, QueueNotice::Offer { offer, agent }),
                AcdOutput::CancelOffer {
                    offer,
                    entry,
                    reason,
                    ..
                } => {
                    self.notify(now, &entry, QueueNotice::CancelOffer { offer, reason });
                }
                AcdOutput::Announce {
                    entry,
                    place,
                    estimate,
                } => self.notify(now, &entry, QueueNotice::Announce { place, estimate }),
                AcdOutput::OfferCallback { entry, reason } => {
                    self.notify(now, &entry, QueueNotice::OfferCallback { reason });
                }
                AcdOutput::AgentState {
                    agent,
                    from,
                    to,
                    reason,
                    code,
                    at,
                } => {
                    let ago = now.saturating_duration_since(at);
                    let wall = SystemTime::now();
                    let change = AgentStateChange {
                        agent,
                        from,
                        to,
                        reason,
                        reason_code: code,
                        at: wall.checked_sub(ago).unwrap_or(wall),
                    };
                    if let Some(events) = &self.events {
                        events.publish(state_event(&change));
                    }
                    // No subscriber is not an error: nobody is listening yet.
                    let _ = self.states.send(change);
                }
            }
        }
        let removed = self.acd.removed_entries();
        if removed != self.pruned_at {
            self.pruned_at = removed;
            let acd = &self.acd;
            self.notices.retain(|id, _| acd.is_queued(id));
        }
    }

    /// Never blocks: a full channel drops the notice (counted); a closed one means the caller's
    /// task is gone, so the entry is abandoned.
    fn notify(&mut self, now: Instant, entry: &EntryId, notice: QueueNotice) {
        let Some(tx) = self.notices.get(entry) else {
            return;
        };
        match tx.try_send(notice) {
            Ok(()) => {}
            Err(TrySendError::Full(notice)) => {
                self.dropped_notices += 1;
                tracing::warn!(%entry, ?notice, dropped = self.dropped_notices, "caller task slow: queue notice dropped");
            }
            Err(TrySendError::Closed(_)) => {
                self.notices.remove(entry);
                if let Ok(waited) = self.acd.remove(now, entry, RemoveReason::Abandoned) {
                    tracing::info!(%entry, ?waited, "caller task gone: queue entry abandoned");
                }
            }
        }
    }
}

/// The `agent_state` event of a change.
fn state_event(c: &AgentStateChange) -> EventKind {
    EventKind::AgentState {
        agent_id: c.agent.clone(),
        from: c.from.name().to_owned(),
        to: c.to.name().to_owned(),
        reason: c.reason.clone().map(|text| StateReason {
            text,
            code: c.reason_code,
        }),
    }
}

async fn run(mut core: Core, mut rx: mpsc::Receiver<Job>, stop: CancellationToken) {
    loop {
        let deadline = core.acd.poll_timeout();
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = sleep_until(deadline) => core.acd.handle_timeout(now()),
            job = rx.recv() => match job {
                Some(job) => job(&mut core, now()),
                None => break,
            },
        }
        core.drain(now());
    }
    tracing::debug!("queue engine stopped");
}

/// The engine's clock: tokio's, so tests can pause and advance it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
