//! A copy of the engine's live state for supervisors and tests (no I/O).

use std::time::{Duration, Instant};

use crate::domain::{AgentId, Category, Priority};

use super::{AgentState, EntryId, EntryKind, OfferId, ReasonCode};

/// Queues and agents at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcdSnapshot {
    /// When the snapshot was taken.
    pub at: Instant,
    /// Hardware, software, service, unclassified, each in service order.
    pub queues: Vec<QueueSnapshot>,
    /// Every agent known since start (offline ones too), by id.
    pub agents: Vec<AgentSnapshot>,
}

/// One category's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// The queue.
    pub category: Category,
    /// Waiting entries, the one to serve first first (offered ones keep their place).
    pub entries: Vec<EntrySnapshot>,
}

/// One waiting entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySnapshot {
    /// The entry.
    pub id: EntryId,
    /// Call or callback.
    pub kind: EntryKind,
    /// Its queue.
    pub category: Category,
    /// As set by the IVR or a supervisor.
    pub priority: Priority,
    /// After ageing.
    pub effective_priority: Priority,
    /// Original arrival.
    pub arrived: Instant,
    /// Time since `arrived`.
    pub waited: Duration,
    /// The offer ringing an agent for it, if any.
    pub offer: Option<OfferId>,
}

/// One agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSnapshot {
    /// The agent.
    pub id: AgentId,
    /// The categories they serve (plus unclassified).
    pub categories: Vec<Category>,
    /// Support level.
    pub level: u8,
    /// Current state.
    pub state: AgentState,
    /// The code of a system reason for the state (`None`: the agent's own words, or none).
    pub reason_code: Option<ReasonCode>,
    /// Whether the router may offer them calls (false: `require_registration` is on and their
    /// device cannot take a call now).
    pub reachable: bool,
    /// When the state was entered.
    pub since: Instant,
    /// Calls answered since the counters were last reset.
    pub calls_handled: u32,
}

impl AcdSnapshot {
    /// The agent with this id.
    pub fn agent(&self, id: &AgentId) -> Option<&AgentSnapshot> {
        self.agents.iter().find(|a| &a.id == id)
    }

    /// The entry with this id, in whichever queue.
    pub fn entry(&self, id: &EntryId) -> Option<&EntrySnapshot> {
        self.entries().find(|e| &e.id == id)
    }

    /// Every waiting entry, queue by queue.
    pub fn entries(&self) -> impl Iterator<Item = &EntrySnapshot> {
        self.queues.iter().flat_map(|q| q.entries.iter())
    }

    /// The ids in one queue, in service order.
    pub fn queue_ids(&self, category: Category) -> Vec<&str> {
        self.queues
            .iter()
            .filter(|q| q.category == category)
            .flat_map(|q| q.entries.iter().map(|e| e.id.as_str()))
            .collect()
    }
}
