//! `call_legs` (migration 16): a transferred call's agents, one row each, so that every agent's
//! talk time is their own while the call is counted once (`calls`). The journal writes a leg
//! when a transfer completes ([`transferred_on`], with the intake's `handed_over` note in the
//! same transaction) and the last leg when the call ends ([`last_leg_on`]).

use sqlx::AnyConnection;

use super::codec::get;
use super::notes::{NoteKind, insert_note};
use super::{Store, StoreError};
use crate::domain::{AgentId, CallId, IntakeId};

/// A completed transfer, as the call task hands it to the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The call.
    pub call: CallId,
    /// Its intake (the note goes there).
    pub intake: Option<IntakeId>,
    /// Who handed it over, and their leg: from their answer to the hand-over.
    pub from: AgentId,
    pub from_connected_at: i64,
    pub from_ended_at: i64,
    /// Who took it, and when they answered; `None` for a transfer to a queue (the next agent's
    /// answer starts the next leg: [`Write::LegConnected`](super::Write)).
    pub to: Option<AgentId>,
    pub to_connected_at: Option<i64>,
    /// The queue it went to, for the history line of a transfer to a queue.
    pub to_queue: Option<crate::domain::Category>,
    /// Why (typed at the desk, or "transferred from the phone").
    pub reason: String,
}

/// One stored leg.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CallLeg {
    /// 1 for the first agent.
    pub seq: i64,
    /// The agent.
    pub agent_id: Option<String>,
    /// Epoch ms.
    pub connected_at: i64,
    /// Epoch ms.
    pub ended_at: Option<i64>,
    /// `transferred` or `ended`.
    pub end_reason: String,
    /// Whom it was handed to.
    pub transferred_to: Option<String>,
}

/// Writes the handing agent's leg, moves the call to the new agent and notes the hand-over in
/// the intake's history.
pub(super) async fn transferred_on(
    conn: &mut AnyConnection,
    t: &Transfer,
) -> Result<(), StoreError> {
    const OP: &str = "transferred";
    let seq: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM call_legs WHERE call_id = $1")
        .bind(t.call.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::query(OP))?;
    sqlx::query(
        "INSERT INTO call_legs (call_id, seq, agent_id, connected_at, ended_at, end_reason, \
         transferred_to) VALUES ($1, $2, $3, $4, $5, 'transferred', $6)",
    )
    .bind(t.call.as_str())
    .bind(seq + 1)
    .bind(t.from.as_str())
    .bind(t.from_connected_at)
    .bind(t.from_ended_at)
    .bind(t.to.as_ref().map(AgentId::as_str))
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query(OP))?;
    sqlx::query(
        "UPDATE calls SET agent_id = $2, transfers = transfers + 1, leg_connected_at = $3 WHERE id = $1",
    )
    .bind(t.call.as_str())
    .bind(t.to.as_ref().map_or(t.from.as_str(), AgentId::as_str))
    .bind(t.to_connected_at)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query(OP))?;
    if let Some(intake) = &t.intake {
        let to = match (&t.to, t.to_queue) {
            (Some(agent), _) => {
                let name: Option<String> =
                    sqlx::query_scalar("SELECT name FROM agents WHERE id = $1")
                        .bind(agent.as_str())
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(StoreError::query(OP))?;
                name.unwrap_or_else(|| agent.to_string())
            }
            (None, Some(queue)) => format!("the {queue} queue"),
            (None, None) => "the queue".to_string(),
        };
        let body = if t.reason.is_empty() {
            format!("to {to}")
        } else {
            format!("to {to}: {}", t.reason)
        };
        insert_note(
            conn,
            intake,
            &t.from,
            NoteKind::HandedOver,
            &body,
            t.to_connected_at.unwrap_or(t.from_ended_at),
            OP,
        )
        .await?;
    }
    Ok(())
}

/// The next agent answered a call transferred to a queue: their leg starts (the call's first
/// connection and wait stay as they were).
pub(super) async fn leg_connected_on(
    conn: &mut AnyConnection,
    call: &CallId,
    agent: &AgentId,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE calls SET agent_id = $2, leg_connected_at = $3 WHERE id = $1")
        .bind(call.as_str())
        .bind(agent.as_str())
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query("leg_connected"))?;
    Ok(())
}

/// The last agent's leg of a transferred call that has ended (none for a call never
/// transferred, nothing twice).
pub(super) async fn last_leg_on(
    conn: &mut AnyConnection,
    call: Option<&CallId>,
) -> Result<(), StoreError> {
    let sql = match call {
        Some(_) => concat!(
            "INSERT INTO call_legs (call_id, seq, agent_id, connected_at, ended_at, end_reason) ",
            "SELECT id, transfers + 1, agent_id, leg_connected_at, ended_at, 'ended' FROM calls ",
            "WHERE id = $1 AND transfers > 0 AND ended_at IS NOT NULL AND leg_connected_at IS NOT NULL ",
            "AND NOT EXISTS (SELECT 1 FROM call_legs l WHERE l.call_id = calls.id AND l.seq = calls.transfers + 1)"
        ),
        None => concat!(
            "INSERT INTO call_legs (call_id, seq, agent_id, connected_at, ended_at, end_reason) ",
            "SELECT id, transfers + 1, agent_id, leg_connected_at, ended_at, 'ended' FROM calls ",
            "WHERE transfers > 0 AND ended_at IS NOT NULL AND leg_connected_at IS NOT NULL ",
            "AND NOT EXISTS (SELECT 1 FROM call_legs l WHERE l.call_id = calls.id AND l.seq = calls.transfers + 1)"
        ),
    };
    let q = sqlx::query(sql);
    let q = match call {
        Some(c) => q.bind(c.as_str()),
        None => q,
    };
    q.execute(&mut *conn)
        .await
        .map_err(StoreError::query("last_leg"))?;
    Ok(())
}

impl Store {
    /// A call's legs in order (empty for a call never transferred).
    pub async fn call_legs(&self, call: &CallId) -> Result<Vec<CallLeg>, StoreError> {
        const OP: &str = "call_legs";
        let rows = sqlx::query(
            "SELECT seq, agent_id, connected_at, ended_at, end_reason, transferred_to \
             FROM call_legs WHERE call_id = $1 ORDER BY seq",
        )
        .bind(call.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter()
            .map(|r| {
                Ok(CallLeg {
                    seq: get(r, "seq", OP)?,
                    agent_id: get(r, "agent_id", OP)?,
                    connected_at: get(r, "connected_at", OP)?,
                    ended_at: get(r, "ended_at", OP)?,
                    end_reason: get(r, "end_reason", OP)?,
                    transferred_to: get(r, "transferred_to", OP)?,
                })
            })
            .collect()
    }
}
