//! `outbound_calls` (migration 15): each dial through the trunk (an automatic callback, a
//! click-to-call from an intake) as a record linked to its intake and callback, and a
//! callback's next dial attempt (`callbacks.retry_at`, `dial_attempts`).
//!
//! The dialling task writes a row when it starts (before the INVITE) and completes it once
//! when the call is over, so nothing on the bridged media path waits on the database; a row a
//! killed server left `in_progress` is closed as `interrupted` at the next start
//! (`Store::close_interrupted_calls`).

use sqlx::any::AnyRow;

use super::codec::get;
use super::{Store, StoreError};
use crate::domain::{AgentId, IntakeId};

/// Why an outbound call was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundKind {
    /// A callback the queue handed to an agent.
    Callback,
    /// An agent asked from an intake.
    ClickToCall,
}

impl OutboundKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Callback => "callback",
            Self::ClickToCall => "click_to_call",
        }
    }
}

/// How an outbound call ended (`outbound_calls.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundOutcome {
    /// The customer answered and talked to the agent.
    Answered,
    /// The customer's phone rang out.
    NoAnswer,
    /// The customer was busy.
    Busy,
    /// The trunk or the customer refused the call.
    Rejected,
    /// The trunk did not answer or the transport failed.
    TrunkFailed,
    /// The agent's phone did not answer.
    AgentNoAnswer,
    /// The agent hung up before the customer answered.
    AgentLeft,
    /// The server stopped during the call.
    Interrupted,
}

impl OutboundOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Rejected => "rejected",
            Self::TrunkFailed => "trunk_failed",
            Self::AgentNoAnswer => "agent_no_answer",
            Self::AgentLeft => "agent_left",
            Self::Interrupted => "interrupted",
        }
    }
}

/// A dial about to start.
#[derive(Debug, Clone)]
pub struct NewOutboundCall {
    /// Why.
    pub kind: OutboundKind,
    /// The intake it is about.
    pub intake: Option<IntakeId>,
    /// The callback it serves.
    pub callback: Option<String>,
    /// The agent who talks.
    pub agent: AgentId,
    /// The customer's number (E.164 as stored).
    pub number: String,
    /// As sent to the trunk.
    pub dialled: Option<String>,
    /// The caller-id presented.
    pub caller_id: Option<String>,
    /// Epoch ms.
    pub started_at: i64,
}

/// What became of a dial, written once at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundEnd {
    /// When the agent's phone answered.
    pub agent_answered_at: Option<i64>,
    /// When the customer answered.
    pub answered_at: Option<i64>,
    /// When it ended.
    pub ended_at: i64,
    /// How.
    pub outcome: OutboundOutcome,
    /// The trunk's final status of a failed dial.
    pub sip_status: Option<u16>,
    /// `agent`, `customer` or `server` for a call that was answered.
    pub hangup_by: Option<&'static str>,
}

/// One stored outbound call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboundCallRow {
    /// `oc-…`, ordered by creation.
    pub id: String,
    /// `callback` or `click_to_call`.
    pub kind: String,
    /// The intake.
    pub intake_id: Option<String>,
    /// The callback.
    pub callback_id: Option<String>,
    /// The agent.
    pub agent_id: Option<String>,
    /// The customer's number.
    pub number: String,
    /// As dialled.
    pub dialled: Option<String>,
    /// Presented caller-id.
    pub caller_id: Option<String>,
    /// Epoch ms.
    pub started_at: i64,
    /// Epoch ms.
    pub agent_answered_at: Option<i64>,
    /// Epoch ms.
    pub answered_at: Option<i64>,
    /// Epoch ms.
    pub ended_at: Option<i64>,
    /// See the migration.
    pub outcome: String,
    /// The trunk's final status of a failed dial.
    pub sip_status: Option<i64>,
    /// Who hung up.
    pub hangup_by: Option<String>,
}

/// A fresh outbound call id, time-ordered (`oc-<ms>-<random>`).
fn new_outbound_id(at: i64) -> String {
    format!("oc-{at:013}-{:08x}", rand::random::<u32>())
}

macro_rules! select_outbound {
    ($where:literal) => {
        concat!(
            "SELECT id, kind, intake_id, callback_id, agent_id, number, dialled, caller_id, \
             started_at, agent_answered_at, answered_at, ended_at, outcome, sip_status, hangup_by \
             FROM outbound_calls ",
            $where
        )
    };
}

fn from_row(r: &AnyRow, op: &'static str) -> Result<OutboundCallRow, StoreError> {
    Ok(OutboundCallRow {
        id: get(r, "id", op)?,
        kind: get(r, "kind", op)?,
        intake_id: get(r, "intake_id", op)?,
        callback_id: get(r, "callback_id", op)?,
        agent_id: get(r, "agent_id", op)?,
        number: get(r, "number", op)?,
        dialled: get(r, "dialled", op)?,
        caller_id: get(r, "caller_id", op)?,
        started_at: get(r, "started_at", op)?,
        agent_answered_at: get(r, "agent_answered_at", op)?,
        answered_at: get(r, "answered_at", op)?,
        ended_at: get(r, "ended_at", op)?,
        outcome: get(r, "outcome", op)?,
        sip_status: get(r, "sip_status", op)?,
        hangup_by: get(r, "hangup_by", op)?,
    })
}

impl Store {
    /// Records a dial that starts now; returns its id.
    pub async fn insert_outbound_call(&self, c: &NewOutboundCall) -> Result<String, StoreError> {
        let id = new_outbound_id(c.started_at);
        sqlx::query(
            "INSERT INTO outbound_calls (id, kind, intake_id, callback_id, agent_id, number, \
             dialled, caller_id, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(c.kind.as_str())
        .bind(c.intake.as_ref().map(IntakeId::as_str))
        .bind(c.callback.as_deref())
        .bind(c.agent.as_str())
        .bind(&c.number)
        .bind(c.dialled.as_deref())
        .bind(c.caller_id.as_deref())
        .bind(c.started_at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("insert_outbound_call"))?;
        Ok(id)
    }

    /// Completes a dial's record (once: a finished row is not changed again).
    pub async fn finish_outbound_call(
        &self,
        id: &str,
        end: &OutboundEnd,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbound_calls SET agent_answered_at = $2, answered_at = $3, ended_at = $4, \
             outcome = $5, sip_status = $6, hangup_by = $7 WHERE id = $1 AND outcome = 'in_progress'",
        )
        .bind(id)
        .bind(end.agent_answered_at)
        .bind(end.answered_at)
        .bind(end.ended_at)
        .bind(end.outcome.as_str())
        .bind(end.sip_status.map(i64::from))
        .bind(end.hangup_by)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("finish_outbound_call"))?;
        Ok(())
    }

    /// One outbound call.
    pub async fn get_outbound_call(&self, id: &str) -> Result<Option<OutboundCallRow>, StoreError> {
        const OP: &str = "get_outbound_call";
        let row = sqlx::query(select_outbound!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| from_row(&r, OP)).transpose()
    }

    /// The outbound calls about one intake, oldest first (at most 200).
    pub async fn outbound_calls_for_intake(
        &self,
        intake: &IntakeId,
    ) -> Result<Vec<OutboundCallRow>, StoreError> {
        const OP: &str = "outbound_calls_for_intake";
        let rows = sqlx::query(select_outbound!(
            "WHERE intake_id = $1 ORDER BY started_at, id LIMIT 200"
        ))
        .bind(intake.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| from_row(r, OP)).collect()
    }

    /// The outbound calls made for one callback, oldest first.
    pub async fn outbound_calls_for_callback(
        &self,
        callback: &str,
    ) -> Result<Vec<OutboundCallRow>, StoreError> {
        const OP: &str = "outbound_calls_for_callback";
        let rows = sqlx::query(select_outbound!(
            "WHERE callback_id = $1 ORDER BY started_at, id LIMIT 200"
        ))
        .bind(callback)
        .fetch_all(&self.read)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| from_row(r, OP)).collect()
    }

    /// A callback's dial found nobody: back to `pending`, queued again from `retry_at`, one
    /// more dial counted.
    pub async fn retry_callback_at(&self, id: &str, retry_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE callbacks SET status = 'pending', retry_at = $2, \
             dial_attempts = dial_attempts + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(retry_at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("retry_callback_at"))?;
        Ok(())
    }

    /// A callback's last dial found nobody: given up (`failed`), the dial counted.
    pub async fn give_up_callback(&self, id: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE callbacks SET status = 'failed', completed_at = $2, retry_at = NULL, \
             dial_attempts = dial_attempts + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("give_up_callback"))?;
        Ok(())
    }
}
