//! The one event stream: every change of state is published once by its owner, given a sequence
//! number, handed to the write-behind journal for `events`, and fanned out to live consumers
//! (the desk hub, the supervisor view, the queue engine's reachability driver).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::acd::StateReason;
use crate::domain::{AgentId, CallId, Category, CustomerId, Device, DtmfMode, IntakeId, Priority};
use crate::store::{Journal, NewEvent, Write, now_ms};

/// How many events a slow live subscriber may lag behind before it must resynchronise.
const LIVE_QUEUE: usize = 4096;

/// What happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A call reached the hotline.
    CallArrived {
        call_id: CallId,
        caller: String,
        customer_id: Option<CustomerId>,
    },
    /// A DTMF digit was accepted (after deduplication).
    Digit {
        call_id: CallId,
        digit: char,
        mode: DtmfMode,
    },
    /// The IVR ended and the draft intake was stored.
    IntakeDrafted {
        call_id: CallId,
        intake_id: IntakeId,
        category: Category,
        priority: Option<Priority>,
    },
    /// The caller entered a queue.
    CallQueued {
        call_id: CallId,
        category: Category,
        priority: Option<Priority>,
    },
    /// The caller was offered to an agent: their phone rings (the screen pop moment).
    CallOffered { call_id: CallId, agent_id: AgentId },
    /// An offer ended without a connection (no answer, rejected, unreachable, the caller left):
    /// the agent's pop is withdrawn.
    OfferEnded {
        call_id: CallId,
        agent_id: AgentId,
        result: String,
    },
    /// The agent answered; caller and agent are bridged.
    CallConnected {
        call_id: CallId,
        agent_id: AgentId,
        waited_ms: i64,
    },
    /// The caller left the queue with a callback request.
    CallbackRequested {
        call_id: CallId,
        callback_id: String,
    },
    /// The caller left a voice message.
    VoiceMessage { call_id: CallId, message_id: String },
    /// The call ended.
    CallEnded { call_id: CallId, outcome: String },
    /// A transfer of the call from `from_agent` to `to_agent` ended: `completed` (the target
    /// answered; the call is theirs, `from_agent`'s part is over) or not (the call went back
    /// to `from_agent`). `to_agent` is `None` for a transfer to a queue (the caller waits there
    /// for whoever answers next).
    CallTransferred {
        call_id: CallId,
        from_agent: AgentId,
        to_agent: Option<AgentId>,
        completed: bool,
    },
    /// A bridged browser call was put on hold or taken off it. `reason` is `agent` (the Hold
    /// button) or `browser_gone` (the agent's browser lost the call: reload, crash, network;
    /// the caller hears hold music until it reconnects or the grace period ends).
    CallHeld {
        call_id: CallId,
        agent_id: AgentId,
        held: bool,
        reason: String,
    },
    /// A call-quality sample for a bridged browser call: `source` is `server` (from the RTCP
    /// the browser sends us) or `browser` (its getStats()). Percent, milliseconds.
    CallQuality {
        call_id: CallId,
        agent_id: AgentId,
        source: String,
        loss_pct: Option<f64>,
        jitter_ms: Option<f64>,
        rtt_ms: Option<f64>,
    },
    /// An agent's state changed (kept by the queue engine). `reason` is the engine's words and,
    /// for system reasons, a code; stored flat as `reason` and `reason_code` (docs/acd.md).
    AgentState {
        agent_id: AgentId,
        from: String,
        to: String,
        #[serde(flatten)]
        reason: Option<StateReason>,
    },
    /// An agent's phone registration changed (from the registrar; only extensions of agents):
    /// registered or not, the newest binding's transport (`udp`, `tcp`), Contact and expiry
    /// (epoch ms). Also sent when a refresh moved the expiry by a quarter lifetime (docs/sip.md).
    PhoneRegistration {
        agent_id: AgentId,
        extension: String,
        registered: bool,
        transport: Option<String>,
        contact: Option<String>,
        expires_at: Option<i64>,
    },
    /// An agent's device was switched (`PUT /api/agents/…/device`).
    AgentDevice { agent_id: AgentId, device: Device },
}

impl EventKind {
    fn name(&self) -> &'static str {
        match self {
            EventKind::CallArrived { .. } => "call_arrived",
            EventKind::Digit { .. } => "digit",
            EventKind::IntakeDrafted { .. } => "intake_drafted",
            EventKind::CallEnded { .. } => "call_ended",
            EventKind::CallTransferred { .. } => "call_transferred",
            EventKind::CallQueued { .. } => "call_queued",
            EventKind::CallOffered { .. } => "call_offered",
            EventKind::OfferEnded { .. } => "offer_ended",
            EventKind::CallConnected { .. } => "call_connected",
            EventKind::CallbackRequested { .. } => "callback_requested",
            EventKind::VoiceMessage { .. } => "voice_message",
            EventKind::AgentState { .. } => "agent_state",
            EventKind::CallHeld { .. } => "call_held",
            EventKind::CallQuality { .. } => "call_quality",
            EventKind::PhoneRegistration { .. } => "phone_registration",
            EventKind::AgentDevice { .. } => "agent_device",
        }
    }

    fn call_id(&self) -> Option<&CallId> {
        match self {
            EventKind::CallArrived { call_id, .. }
            | EventKind::Digit { call_id, .. }
            | EventKind::IntakeDrafted { call_id, .. }
            | EventKind::CallEnded { call_id, .. }
            | EventKind::CallTransferred { call_id, .. }
            | EventKind::CallQueued { call_id, .. }
            | EventKind::CallOffered { call_id, .. }
            | EventKind::OfferEnded { call_id, .. }
            | EventKind::CallConnected { call_id, .. }
            | EventKind::CallbackRequested { call_id, .. }
            | EventKind::VoiceMessage { call_id, .. }
            | EventKind::CallHeld { call_id, .. }
            | EventKind::CallQuality { call_id, .. } => Some(call_id),
            EventKind::AgentState { .. }
            | EventKind::PhoneRegistration { .. }
            | EventKind::AgentDevice { .. } => None,
        }
    }

    fn agent_id(&self) -> Option<&AgentId> {
        match self {
            EventKind::CallOffered { agent_id, .. }
            | EventKind::OfferEnded { agent_id, .. }
            | EventKind::CallConnected { agent_id, .. }
            | EventKind::CallHeld { agent_id, .. }
            | EventKind::CallTransferred {
                from_agent: agent_id,
                ..
            }
            | EventKind::CallQuality { agent_id, .. }
            | EventKind::AgentState { agent_id, .. }
            | EventKind::PhoneRegistration { agent_id, .. }
            | EventKind::AgentDevice { agent_id, .. } => Some(agent_id),
            _ => None,
        }
    }
}

/// One event with its place in the stream.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Monotonic over the server's life, continuing from the stored log after a restart.
    pub seq: u64,
    /// Epoch milliseconds.
    pub at: i64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Publishes events; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    seq: AtomicU64,
    live: broadcast::Sender<Arc<Event>>,
    journal: Journal,
}

impl EventBus {
    /// An event bus whose events the `journal` stores; sequence numbers continue from
    /// `first_seq`.
    pub fn start(journal: Journal, first_seq: u64) -> EventBus {
        let (live, _) = broadcast::channel(LIVE_QUEUE);
        EventBus {
            inner: Arc::new(Inner {
                seq: AtomicU64::new(first_seq),
                live,
                journal,
            }),
        }
    }

    /// Like [`EventBus::start`], but a slow live subscriber may lag only `live` events behind
    /// before it must resynchronise (tests force a subscriber to lag with a small one).
    pub fn start_with_capacity(journal: Journal, first_seq: u64, live: usize) -> EventBus {
        let mut bus = Self::start(journal, first_seq);
        // Nobody else holds the new bus yet, so its live channel can still be replaced.
        if let Some(inner) = Arc::get_mut(&mut bus.inner) {
            inner.live = broadcast::channel(live.max(1)).0;
        }
        bus
    }

    /// Publishes an event: numbered, handed to the journal (never dropped: the journal keeps
    /// it until it is stored), sent to live subscribers. Never waits.
    pub fn publish(&self, kind: EventKind) {
        let event = Arc::new(Event {
            seq: self.inner.seq.fetch_add(1, Ordering::Relaxed),
            at: now_ms(),
            kind,
        });
        match serde_json::to_string(&event.kind) {
            Ok(payload) => self.inner.journal.write(Write::Event(NewEvent {
                seq: event.seq as i64,
                at: event.at,
                kind: event.kind.name().to_owned(),
                call_id: event.kind.call_id().cloned(),
                agent_id: event.kind.agent_id().cloned(),
                payload,
            })),
            Err(e) => tracing::error!(error = %e, seq = event.seq, "cannot encode event"),
        }
        // No live subscriber is not an error.
        let _ = self.inner.live.send(event);
    }

    /// A live feed of events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.inner.live.subscribe()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::acd::ReasonCode;

    #[test]
    fn agent_state_reasons_are_stored_flat_with_their_code() {
        let kind = EventKind::AgentState {
            agent_id: AgentId::from_string("a"),
            from: "ringing".into(),
            to: "not_ready".into(),
            reason: Some(StateReason {
                text: "no answer".into(),
                code: Some(ReasonCode::NoAnswer),
            }),
        };
        assert_eq!(
            serde_json::to_value(&kind).unwrap(),
            serde_json::json!({"type": "agent_state", "agent_id": "a", "from": "ringing",
                "to": "not_ready", "reason": "no answer", "reason_code": "no_answer"})
        );
        let own = EventKind::AgentState {
            agent_id: AgentId::from_string("a"),
            from: "available".into(),
            to: "not_ready".into(),
            reason: Some("lunch".into()),
        };
        let v = serde_json::to_value(&own).unwrap();
        assert_eq!(
            (&v["reason"], &v["reason_code"]),
            (&serde_json::json!("lunch"), &serde_json::Value::Null)
        );
        let reg = EventKind::PhoneRegistration {
            agent_id: AgentId::from_string("a"),
            extension: "2001".into(),
            registered: false,
            transport: None,
            contact: None,
            expires_at: None,
        };
        assert_eq!(reg.name(), "phone_registration");
        assert_eq!(reg.agent_id().map(AgentId::as_str), Some("a"));
    }
}
