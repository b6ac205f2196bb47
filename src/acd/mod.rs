//! The queue engine (ACD): queues per category, agent states and routing, as a pure state
//! machine ([`Acd`], no I/O, no tokio) plus its owner task ([`AcdService`], thin I/O).
//!
//! Callers' tasks enqueue entries and act on [`QueueNotice`]s (dial the offered agent, stop
//! ringing, play position and wait, offer a callback); the desk changes agent states through the
//! same handle. Rules, states and formulas: docs/acd.md (issue 3, points 3, 4, 5, 7 and 8).

mod agents;
mod config;
mod engine;
mod estimate;
mod guard;
mod queue;
mod reach;
mod service;
mod snapshot;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::{Duration, Instant};

use crate::domain::{AgentId, CallId, Category, Priority};

pub use config::{AcdConfig, Strategy};
pub use engine::Acd;
pub use guard::OnCallGuard;
pub use reach::{DeviceHealth, ReachBook, Registration, device_ready, offered_calls};
pub use service::{AcdHandle, AcdService, AgentStateChange, QueueNotice};
pub use snapshot::{AcdSnapshot, AgentSnapshot, EntrySnapshot, QueueSnapshot};

/// One waiting party in a queue: a caller on the line or a callback request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId(String);

impl EntryId {
    /// Wraps any id (e.g. a callback request's id); callers' entries use `From<CallId>`.
    pub fn from_string(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&CallId> for EntryId {
    fn from(id: &CallId) -> Self {
        Self(id.as_str().to_owned())
    }
}

impl From<CallId> for EntryId {
    fn from(id: CallId) -> Self {
        Self::from(&id)
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One attempt to connect an entry to an agent (the agent's phone rings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfferId(u64);

impl OfferId {
    /// The number, unique within one engine's life.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offer-{}", self.0)
    }
}

/// Whether the entry is a caller on the line or a callback request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A caller waiting on the line: gets announcements and callback offers.
    Call,
    /// A callback request: offered to agents like a call, never announced to.
    Callback,
}

/// What to put in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unique among live entries.
    pub id: EntryId,
    /// The queue.
    pub category: Category,
    /// From the IVR; the caller's task uses 3 when the IVR gave none.
    pub priority: Priority,
    /// Original arrival: a callback keeps the caller's place by keeping this time.
    pub arrived: Instant,
    /// Call or callback.
    pub kind: EntryKind,
}

/// Why an entry leaves its queue without being answered by an agent through an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoveReason {
    /// The caller hung up while waiting.
    Abandoned,
    /// The call was answered some other way (e.g. taken over by a supervisor).
    Answered,
    /// The caller chose a callback (the callback is enqueued as a new entry).
    Callback,
    /// The caller chose to leave a voice message.
    VoiceMessage,
}

/// Why an agent's phone did not take an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// Rang until the ring timeout (also what the engine's own timer does).
    NoAnswer,
    /// The phone declined (486/603) or the agent pressed reject.
    Rejected,
    /// No registration, no response, ICMP error, 408.
    Unreachable,
}

impl FailReason {
    /// The not-ready reason the agent gets.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::NoAnswer => "no answer",
            FailReason::Rejected => "rejected",
            FailReason::Unreachable => "unreachable",
        }
    }

    /// The reason code of the not-ready state the agent gets.
    pub fn code(self) -> ReasonCode {
        match self {
            FailReason::NoAnswer => ReasonCode::NoAnswer,
            FailReason::Rejected => ReasonCode::Rejected,
            FailReason::Unreachable => ReasonCode::Unreachable,
        }
    }
}

/// Why an agent is in their state when the system (not the agent's own words) put them there:
/// `not_ready` after a failed offer or a supervisor's action, `offline` after a logout
/// (docs/acd.md). The agent's own not-ready reason has no code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// Not ready: the phone rang until the ring timeout.
    NoAnswer,
    /// Not ready: the phone declined (busy, reject).
    Rejected,
    /// Not ready: the phone could not be reached (not registered, no response, transport error).
    Unreachable,
    /// Not ready or offline: set by a supervisor (the reason text is theirs).
    Supervisor,
    /// Offline: the agent signed out.
    Logout,
}

impl ReasonCode {
    /// The code as frames and events carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::NoAnswer => "no_answer",
            ReasonCode::Rejected => "rejected",
            ReasonCode::Unreachable => "unreachable",
            ReasonCode::Supervisor => "supervisor",
            ReasonCode::Logout => "logout",
        }
    }

    /// Parses a code as [`ReasonCode::as_str`] writes it.
    pub fn parse(s: &str) -> Option<ReasonCode> {
        [
            ReasonCode::NoAnswer,
            ReasonCode::Rejected,
            ReasonCode::Unreachable,
            ReasonCode::Supervisor,
            ReasonCode::Logout,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// Why an agent's state changed, as the event stream keeps it: the engine's words (`login`,
/// `offered`, `no answer`, the agent's or a supervisor's typed text, …) and, for system reasons,
/// a code. Serialised flat as `reason` and `reason_code`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateReason {
    /// The words.
    #[serde(rename = "reason")]
    pub text: String,
    /// Set for system reasons.
    #[serde(rename = "reason_code")]
    pub code: Option<ReasonCode>,
}

impl StateReason {
    /// What a view shows of `reason` in state `state` (`AgentState::name`): the words only for
    /// `not_ready` (the one state whose reason is a reason: not "available (login)"), the code
    /// for `not_ready` and `offline`.
    pub fn shown(
        reason: Option<&StateReason>,
        state: &str,
    ) -> (Option<String>, Option<ReasonCode>) {
        let text = reason
            .filter(|_| state == "not_ready")
            .map(|r| r.text.clone());
        let code = reason
            .and_then(|r| r.code)
            .filter(|_| matches!(state, "not_ready" | "offline"));
        (text, code)
    }
}

impl From<&str> for StateReason {
    /// Words without a code (the agent's own).
    fn from(text: &str) -> Self {
        StateReason {
            text: text.to_owned(),
            code: None,
        }
    }
}

impl From<String> for StateReason {
    /// Words without a code (the agent's own).
    fn from(text: String) -> Self {
        StateReason { text, code: None }
    }
}

/// Why the engine withdrew an offer: only a ring timeout is the agent not answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// The phone rang until the ring timeout.
    RingTimeout,
    /// The agent logged out while their phone rang.
    AgentLeft,
    /// The entry left its queue (the caller hung up, chose a callback, …).
    Withdrawn,
}

/// Why a caller is offered a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackReason {
    /// No logged-in agent serves the caller's queue.
    NobodyServes,
    /// The caller has waited `max_wait_for_callback_secs`.
    WaitedTooLong,
}

/// An agent as the desk logs them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    /// The agent.
    pub id: AgentId,
    /// The queues they serve (every agent also serves `unclassified`).
    pub categories: Vec<Category>,
    /// Support level (1 = first level); shown in snapshots, not used for routing.
    pub level: u8,
}

/// An agent's state, kept by the engine only (issue 3, point 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    /// Not logged in.
    Offline,
    /// Waiting for a call.
    Available,
    /// Reserved: their phone rings for this offer.
    Ringing { offer: OfferId },
    /// Talking to a caller.
    OnCall,
    /// After-call work.
    WrapUp,
    /// Logged in but not taking calls.
    NotReady { reason: String },
}

impl AgentState {
    /// A short name for logs, events and errors.
    pub fn name(&self) -> &'static str {
        match self {
            AgentState::Offline => "offline",
            AgentState::Available => "available",
            AgentState::Ringing { .. } => "ringing",
            AgentState::OnCall => "on_call",
            AgentState::WrapUp => "wrap_up",
            AgentState::NotReady { .. } => "not_ready",
        }
    }
}

/// A waiting entry's place in line and estimated wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based: entries the serving agents would take before this one, plus one.
    pub place: usize,
    /// `None` when no logged-in agent serves the queue.
    pub estimate: Option<Duration>,
}

/// What the engine asks its driver to do, drained with [`Acd::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdOutput {
    /// Ring `agent` for `entry`; report with `offer_answered` or `offer_failed`.
    Offer {
        offer: OfferId,
        entry: EntryId,
        agent: AgentId,
    },
    /// Stop ringing: the ring timed out, the caller left or the agent logged out.
    CancelOffer {
        offer: OfferId,
        entry: EntryId,
        agent: AgentId,
        reason: CancelReason,
    },
    /// Tell a waiting caller their place and estimated wait.
    Announce {
        entry: EntryId,
        place: usize,
        estimate: Option<Duration>,
    },
    /// Offer the caller a callback or a voice message (sent once per reason).
    OfferCallback {
        entry: EntryId,
        reason: CallbackReason,
    },
    /// An agent changed state (stored as an event by the driver). `code` is set for system
    /// reasons of `not_ready` and `offline` (see [`ReasonCode`]).
    AgentState {
        agent: AgentId,
        from: AgentState,
        to: AgentState,
        reason: Option<String>,
        code: Option<ReasonCode>,
        at: Instant,
    },
}

/// A request the engine refuses; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    /// No such agent has ever logged in.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// The agent is offline.
    #[error("agent {0} is not logged in")]
    NotLoggedIn(AgentId),
    /// The agent is already logged in.
    #[error("agent {0} is already logged in")]
    AlreadyLoggedIn(AgentId),
    /// The request is not valid in the agent's current state.
    #[error("agent {agent} cannot {request} while {from}")]
    InvalidTransition {
        agent: AgentId,
        from: &'static str,
        request: &'static str,
    },
    /// No such entry is waiting.
    #[error("unknown queue entry {0}")]
    UnknownEntry(EntryId),
    /// An entry with this id is already queued.
    #[error("queue entry {0} is already queued")]
    DuplicateEntry(EntryId),
    /// The entry is ringing an agent; try again after the offer ends.
    #[error("queue entry {0} is being offered to an agent")]
    EntryOffered(EntryId),
    /// No such offer is live: it timed out, failed, was answered or cancelled (stale input).
    #[error("{0} is not live")]
    UnknownOffer(OfferId),
    /// The owner task has stopped (server shutdown); only from [`AcdHandle`].
    #[error("the queue engine has stopped")]
    Stopped,
}
