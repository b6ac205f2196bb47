//! Server frames of the desk WebSocket protocol (docs/protocol.md): their bodies, the one-time
//! serialisation shared by every connection, and the agent state as the desk shows it (the
//! REST state routes should show it the same way: `state_of`); no I/O.

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;

use super::intakes::IntakeView;
use super::pop::{CustomerView, Pop};
use crate::acd::{DeviceHealth, ReasonCode, StateReason};
use crate::domain::{AgentId, CallId};

/// The protocol version in every frame's `v`.
pub const PROTOCOL_VERSION: u8 = 1;
/// An agent's state as the desk shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateView {
    /// `offline`, `available`, `ringing`, `on_call`, `wrap_up` or `not_ready`.
    pub state: String,
    /// The words of a `not_ready` state (the agent's, a supervisor's, or the engine's for a
    /// failed offer); `None` in every other state.
    pub reason: Option<String>,
    /// For a system reason of `not_ready` or `offline`: `no_answer`, `rejected`,
    /// `unreachable`, `supervisor`, `logout`; `None` for the agent's own words (docs/protocol.md).
    pub reason_code: Option<ReasonCode>,
    /// Epoch ms the state was entered (`None` when offline).
    pub since: Option<i64>,
}

impl StateView {
    /// The view of an `agent_state` event: state `to` entered at `at` (epoch ms) for `reason`.
    pub fn of_change(to: &str, reason: Option<&StateReason>, at: i64) -> StateView {
        let (reason, reason_code) = StateReason::shown(reason, to);
        StateView {
            state: to.to_owned(),
            reason,
            reason_code,
            since: (to != "offline").then_some(at),
        }
    }
}

/// Why an offer ended without an answer, when it was the agent's phone (`offer_missed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissReason {
    /// Rang until the ring timeout.
    NoAnswer,
    /// Busy or declined.
    Rejected,
    /// Could not be reached (not registered, no response, transport error).
    Unreachable,
}

impl MissReason {
    /// The miss behind an `offer_ended` result (`None`: answered, or cancelled: the caller
    /// hung up or the offer was withdrawn for another reason).
    pub fn of_result(result: &str) -> Option<MissReason> {
        match result {
            "no_answer" => Some(MissReason::NoAnswer),
            "rejected" => Some(MissReason::Rejected),
            "unreachable" => Some(MissReason::Unreachable),
            _ => None,
        }
    }
}

/// The agent in a snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    /// The agent's id.
    pub id: AgentId,
    /// Display name.
    pub name: String,
    /// Live state.
    #[serde(flatten)]
    pub state: StateView,
}

/// Escalation targets in a snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Lists {
    /// Second-level groups.
    pub second_level: Vec<String>,
    /// Third-level vendors and specialists.
    pub third_level: Vec<String>,
}

/// What a server frame says (its `type` and fields; docs/protocol.md).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FrameBody {
    /// Answer to `hello`; `server_time` (epoch ms) lets the page correct its clock.
    Welcome {
        epoch: String,
        seq: u64,
        resumed: bool,
        server_time: i64,
    },
    /// The whole desk state (after a `welcome` that did not resume).
    Snapshot {
        agent: AgentView,
        device: DeviceHealth,
        call: Option<Box<Pop>>,
        intake: Option<Box<IntakeView>>,
        lists: Lists,
    },
    /// The agent's state changed.
    AgentState(StateView),
    /// The agent's device or its registration changed.
    Device(DeviceHealth),
    /// An offer to the agent ended without an answer because of their phone: it rang out
    /// (`rang_ms` long), was declined, or could not be reached; the caller was passed on.
    OfferMissed {
        call_id: CallId,
        caller: String,
        customer_name: Option<String>,
        rang_ms: i64,
        reason: MissReason,
        at: i64,
    },
    /// The screen pop (ringing, then connected).
    Pop(Box<Pop>),
    /// The call shown in the pop ended.
    CallEnded { call_id: CallId },
    /// The phone stopped ringing without an answer.
    OfferWithdrawn { call_id: CallId },
    /// A browser call was put on hold or taken off it (`reason`: `agent`, the Hold button in
    /// any of the agent's tabs, or `browser_gone`: the call waits for the desk to reconnect).
    CallHeld {
        call_id: CallId,
        held: bool,
        reason: String,
    },
    /// An intake changed.
    Intake(Box<IntakeView>),
    /// A customer's record changed (edited, linked or created from the pop).
    Customer(CustomerView),
    /// A vendor case's follow-up date has come: chase the vendor (to the intake's owner, else
    /// whoever opened the case; once per date).
    FollowUp {
        case_id: String,
        intake_id: crate::domain::IntakeId,
        ticket_no: Option<String>,
        vendor: String,
        case_ref: Option<String>,
        follow_up_at: i64,
    },
    /// A client frame was applied.
    Ack {
        #[serde(rename = "ref")]
        reference: Option<String>,
    },
    /// A client frame was refused.
    Error {
        #[serde(rename = "ref")]
        reference: Option<String>,
        code: &'static str,
        message: String,
    },
    /// Answer to `ping`.
    Pong {
        #[serde(rename = "ref")]
        reference: Option<String>,
    },
}

impl FrameBody {
    /// Frames about calls, which only agent connections receive.
    fn is_call_frame(&self) -> bool {
        matches!(
            self,
            FrameBody::Pop(_)
                | FrameBody::CallEnded { .. }
                | FrameBody::OfferWithdrawn { .. }
                | FrameBody::OfferMissed { .. }
                | FrameBody::CallHeld { .. }
                | FrameBody::Intake(_)
                | FrameBody::Customer(_)
        )
    }
}

/// A server frame, serialised once and shared by every connection it goes to.
#[derive(Debug)]
pub struct Frame {
    pub(super) seq: Option<u64>,
    pub(super) call_frame: bool,
    text: Utf8Bytes,
}

#[derive(Serialize)]
struct Wire<'a> {
    v: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(flatten)]
    body: &'a FrameBody,
}

impl Frame {
    /// Serialises `body` with `v` and, for numbered frames, `seq`.
    pub fn new(seq: Option<u64>, body: &FrameBody) -> Frame {
        let wire = Wire {
            v: PROTOCOL_VERSION,
            seq,
            body,
        };
        let text = serde_json::to_string(&wire).unwrap_or_else(|e| {
            // Only string-keyed structs are serialised; this is a bug, not a client's fault.
            tracing::error!(error = %e, "cannot encode a desk frame");
            r#"{"v":1,"type":"error","ref":null,"code":"internal","message":"internal error"}"#
                .to_owned()
        });
        Frame {
            seq,
            call_frame: body.is_call_frame(),
            text: text.into(),
        }
    }

    /// The agent sequence number (`None` for per-connection replies).
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        self.text.as_str()
    }

    /// The JSON text as a cheap-to-clone WebSocket payload.
    pub(crate) fn payload(&self) -> Utf8Bytes {
        self.text.clone()
    }
}

/// The agent's live state in an ACD snapshot, with `since` as epoch ms.
pub fn state_of(snap: &crate::acd::AcdSnapshot, id: &AgentId) -> StateView {
    use crate::acd::AgentState;
    let Some(agent) = snap.agent(id) else {
        return StateView {
            state: AgentState::Offline.name().to_owned(),
            reason: None,
            reason_code: None,
            since: None,
        };
    };
    let reason = match &agent.state {
        AgentState::NotReady { reason } => reason.clone(),
        _ => String::new(),
    };
    let reason = StateReason {
        text: reason,
        code: agent.reason_code,
    };
    let ago = snap.at.saturating_duration_since(agent.since);
    let ago_ms = i64::try_from(ago.as_millis()).unwrap_or(i64::MAX);
    let since = crate::store::now_ms().saturating_sub(ago_ms);
    StateView::of_change(agent.state.name(), Some(&reason), since)
}
