//! Desk hub: the handle to one owner task (`hub_task`) that keeps each agent's desk state
//! (agent state, device health, the offered or active call's pop, the intake being edited) and outbox
//! (numbered frames, the last 1,000 kept for resume), fed by the event bus and by the WebSocket
//! handlers; every frame goes to that agent's connections only (docs/protocol.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use super::frames::{
    AgentView, Frame, FrameBody, Lists, MissReason, PROTOCOL_VERSION, StateView, state_of,
};
use super::hub_task::HubTask;
use super::intakes::IntakeOps;
use super::pop::Pop;
use crate::acd::AcdHandle;
use crate::domain::AgentId;
use crate::events::EventBus;
use crate::store::Store;

/// Frames kept per agent for resume.
pub(super) const RING: usize = 1000;
/// Frames a connection may have unsent before it is closed as too slow.
pub(super) const CONN_QUEUE: usize = 256;
/// Commands waiting for the hub task.
const CMD_QUEUE: usize = 4096;

/// The client's `hello`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello {
    /// The last `seq` the client saw.
    pub last_seq: Option<u64>,
    /// The server epoch that `last_seq` belongs to.
    pub epoch: Option<String>,
}

/// A registered connection: what to send first, then the live feed.
#[derive(Debug)]
pub struct Connection {
    /// Identifies the connection to the hub (for `disconnect`).
    pub id: u64,
    /// The `welcome` frame.
    pub welcome: Arc<Frame>,
    /// The missed frames in order (resume) or one `snapshot`.
    pub replay_or_snapshot: Vec<Arc<Frame>>,
    /// Every later frame; closed when the connection fell too far behind.
    pub rx: mpsc::Receiver<Arc<Frame>>,
}

/// Why the hub could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub task has stopped (server shutting down).
    #[error("the desk hub has stopped")]
    Stopped,
    /// Reading the agent failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// No such agent.
    #[error("unknown agent")]
    UnknownAgent,
}

/// Seed for an agent the hub has not heard of yet (read by the handle, not the task).
#[derive(Debug)]
pub(super) struct Seed {
    pub(super) name: String,
    pub(super) state: StateView,
    /// As stored; the hub keeps the first one it gets and follows `agent_device` events after.
    pub(super) device: crate::domain::Device,
}

pub(super) enum Cmd {
    Connect {
        agent: AgentId,
        hello: Hello,
        seed: Seed,
        pops: bool,
        reply: oneshot::Sender<Connection>,
    },
    Disconnect {
        agent: AgentId,
        conn: u64,
    },
    Publish {
        agent: AgentId,
        body: FrameBody,
    },
    PopBuilt {
        agent: AgentId,
        pop: Box<Pop>,
    },
    /// An intake changed outside any desk (its ticket came back from a ticket system): every
    /// desk showing it gets the new frame.
    Refreshed {
        view: Box<super::intakes::IntakeView>,
        /// The agent who made the change (their desks had the frame already).
        except: Option<AgentId>,
    },
    /// The intake the agent's workspace shows now (`None`: none), so others' changes to it
    /// reach the desk live.
    Watch {
        agent: AgentId,
        intake: Option<crate::domain::IntakeId>,
    },
}

/// Handle to the desk hub; cheap to clone.
#[derive(Clone)]
pub struct DeskHub {
    tx: mpsc::Sender<Cmd>,
    epoch: Arc<str>,
    latency: Arc<super::latency::PopLatency>,
    repairs: Arc<AtomicU64>,
    ops: IntakeOps,
    acd: AcdHandle,
    store: Store,
    require_outcome: bool,
}

impl DeskHub {
    /// The screen-pop latency histogram (routing decision → pop queued for the agent).
    pub fn pop_latency(&self) -> crate::desk::latency::PopLatencySnapshot {
        self.latency.snapshot()
    }

    /// How often the hub fell behind the event stream and rebuilt the desks from their owners.
    pub fn lag_repairs(&self) -> u64 {
        self.repairs.load(Ordering::Relaxed)
    }

    /// Starts the hub task, subscribed to `events` from now on.
    pub fn start(
        events: &EventBus,
        ops: IntakeOps,
        acd: AcdHandle,
        store: Store,
        require_outcome: bool,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) -> DeskHub {
        let (tx, rx) = mpsc::channel(CMD_QUEUE);
        let epoch: Arc<str> = format!("{:016x}", rand::random::<u64>()).into();
        let latency = Arc::new(super::latency::PopLatency::default());
        let repairs = Arc::new(AtomicU64::new(0));
        let task = HubTask::new(
            epoch.clone(),
            tx.downgrade(),
            store.clone(),
            ops.clone(),
            tasks.clone(),
            latency.clone(),
            acd.clone(),
            repairs.clone(),
        );
        tasks.spawn(task.run(rx, events.subscribe(), stop));
        DeskHub {
            tx,
            epoch,
            latency,
            repairs,
            ops,
            acd,
            store,
            require_outcome,
        }
    }

    /// This server run's epoch (random per process start).
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// The intake operations.
    pub fn ops(&self) -> &IntakeOps {
        &self.ops
    }

    /// The queue engine.
    pub fn acd(&self) -> &AcdHandle {
        &self.acd
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether an agent needs an outcome on their last call before becoming available.
    pub fn require_outcome(&self) -> bool {
        self.require_outcome
    }

    /// Registers a connection of `agent`; `pops` is false for supervisor/admin connections,
    /// which get no call frames.
    pub async fn connect(
        &self,
        agent: AgentId,
        hello: Hello,
        pops: bool,
    ) -> Result<Connection, HubError> {
        let row = self
            .store
            .get_agent(&agent)
            .await?
            .ok_or(HubError::UnknownAgent)?;
        let state = match self.acd.snapshot().await {
            Ok(snap) => state_of(&snap, &agent),
            Err(_) => return Err(HubError::Stopped),
        };
        let seed = Seed {
            name: row.name,
            state,
            device: row.device,
        };
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Connect {
                agent,
                hello,
                seed,
                pops,
                reply,
            })
            .await
            .map_err(|_| HubError::Stopped)?;
        rx.await.map_err(|_| HubError::Stopped)
    }

    /// Sends `view`, just changed by `by`, to every other desk that shows that intake. Never
    /// waits for the hub: a full hub drops it (the desks see the change with the next frame).
    pub fn changed_by(&self, view: &super::intakes::IntakeView, by: &AgentId) {
        let _ = self.tx.try_send(Cmd::Refreshed {
            view: Box::new(view.clone()),
            except: Some(by.clone()),
        });
    }

    /// Records which intake `agent`'s workspace shows (`None`: none).
    pub async fn watch(&self, agent: AgentId, intake: Option<crate::domain::IntakeId>) {
        // A stopped hub has no desks to keep live.
        let _ = self.tx.send(Cmd::Watch { agent, intake }).await;
    }

    /// Forgets a closed connection.
    pub async fn disconnect(&self, agent: AgentId, conn: u64) {
        // A stopped hub has nothing left to forget.
        let _ = self.tx.send(Cmd::Disconnect { agent, conn }).await;
    }

    /// Re-reads intake `id` and sends it to every desk that shows it (after a ticket system
    /// gave it a ticket number). Never waits for the hub: a full hub drops the refresh.
    pub async fn refresh_intake(&self, id: &crate::domain::IntakeId) {
        match self.ops.view(id).await {
            Ok(view) => {
                let _ = self.tx.try_send(Cmd::Refreshed {
                    view: Box::new(view),
                    except: None,
                });
            }
            Err(e) => {
                tracing::warn!(intake = %id, error = %e, "cannot refresh the intake on the desks")
            }
        }
    }

    /// Sends a numbered frame to every connection of `agent` (and keeps it for resume).
    pub async fn publish_to(&self, agent: AgentId, body: FrameBody) -> Result<(), HubError> {
        self.tx
            .send(Cmd::Publish { agent, body })
            .await
            .map_err(|_| HubError::Stopped)
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "hub_device_tests.rs"]
mod device_tests;

#[cfg(test)]
#[path = "hub_lag_tests.rs"]
mod lag_tests;
