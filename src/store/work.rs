//! The second level's work on an escalated intake (migration 13): its work state, the SLA's
//! pauses while waiting for the customer, and the intake's SLA pause history; each change a
//! guarded `UPDATE` plus its history note in one transaction.

use std::collections::HashMap;

use super::codec::get;
use super::intakes::WorkState;
use super::notes::{NoteKind, insert_note, insert_note_by};
use super::{Store, StoreError};
use crate::domain::{AgentId, IntakeId};

/// One pause of an intake's SLA resolution clock (`sla_pauses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPause {
    /// Epoch ms.
    pub started_at: i64,
    /// Epoch ms; `None` while the pause lasts.
    pub ended_at: Option<i64>,
}

/// Why [`Store::set_work_state`] changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkRefusal {
    /// No such intake.
    Missing,
    /// It is not escalated (at the first level, resolved or closed).
    NotEscalated,
    /// Someone else owns it.
    OwnedByOther,
}

/// Ends the intake's pause in progress, if any, at `at` (inside the caller's transaction).
pub(super) async fn end_pause(
    conn: &mut sqlx::AnyConnection,
    id: &IntakeId,
    at: i64,
    op: &'static str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sla_pauses SET ended_at = $2 WHERE intake_id = $1 AND ended_at IS NULL")
        .bind(id.as_str())
        .bind(at)
        .execute(conn)
        .await
        .map_err(StoreError::query(op))?;
    Ok(())
}

/// Attaches `call` to `intake` (a caller who chose their open intake in the IVR), unless
/// either is gone or it is attached already: the journal never fails a batch on it.
pub(super) async fn attach_call_on(
    conn: &mut sqlx::AnyConnection,
    intake: &IntakeId,
    call: &crate::domain::CallId,
    at: i64,
    ivr_path: &str,
) -> Result<(), StoreError> {
    const OP: &str = "attach_call";
    let attached = sqlx::query(
        "INSERT INTO intake_calls (intake_id, call_id, attached_at) SELECT $1, $2, $3 \
         WHERE EXISTS (SELECT 1 FROM intakes WHERE id = $1) \
         AND EXISTS (SELECT 1 FROM calls WHERE id = $2) \
         AND NOT EXISTS (SELECT 1 FROM intake_calls WHERE intake_id = $1 AND call_id = $2)",
    )
    .bind(intake.as_str())
    .bind(call.as_str())
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query(OP))?;
    if attached.rows_affected() == 1 {
        let body = format!("IVR {ivr_path}");
        insert_note_by(conn, intake, None, NoteKind::CalledAgain, &body, at, OP).await?;
    }
    Ok(())
}

impl Store {
    /// The caller's most recently changed open intake (open or escalated: a draft nobody has
    /// touched does not count), by customer or by number; from the read connections, so the
    /// call asking never waits behind a write.
    pub async fn open_intake_for_caller(
        &self,
        customer: Option<&crate::domain::CustomerId>,
        number: &str,
    ) -> Result<Option<crate::ivr::KnownIntake>, StoreError> {
        const OP: &str = "open_intake_for_caller";
        let row: Option<(String, String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT id, category, priority, owner_id FROM intakes \
             WHERE status IN ('open', 'escalated') AND (customer_id = $1 OR caller = $2) \
             ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(customer.map(crate::domain::CustomerId::as_str))
        .bind(number)
        .fetch_optional(&self.read)
        .await
        .map_err(StoreError::query(OP))?;
        let Some((id, category, priority, owner)) = row else {
            return Ok(None);
        };
        Ok(Some(crate::ivr::KnownIntake {
            id: IntakeId::from_string(id),
            category: category.parse().map_err(|_| StoreError::Corrupt {
                column: "intakes.category",
                value: category.clone(),
            })?,
            priority: priority
                .and_then(|p| u8::try_from(p).ok())
                .and_then(crate::domain::Priority::new),
            owner: owner.map(AgentId::from_string),
        }))
    }

    /// Sets the work state of an escalated intake that `agent` owns or nobody owns (then
    /// `agent` claims it), with a `status` note (`body`: the state, then `: reason` when one is
    /// given). Waiting for the customer starts an SLA pause; any other state ends it.
    pub async fn set_work_state(
        &self,
        id: &IntakeId,
        agent: &AgentId,
        state: WorkState,
        reason: &str,
        at: i64,
    ) -> Result<Result<(), WorkRefusal>, StoreError> {
        const OP: &str = "set_work_state";
        let mut tx = self.begin_write(OP).await?;
        let done = sqlx::query(
            "UPDATE intakes SET work_state = $3, \
             claimed_at = CASE WHEN owner_id IS NULL THEN $4 ELSE claimed_at END, \
             owner_id = $2, updated_by = $2, updated_at = $4, \
             responded_at = COALESCE(responded_at, $4) \
             WHERE id = $1 AND status = 'escalated' AND (owner_id IS NULL OR owner_id = $2)",
        )
        .bind(id.as_str())
        .bind(agent.as_str())
        .bind(state.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if done.rows_affected() != 1 {
            let row: Option<(String, Option<String>)> =
                sqlx::query_as("SELECT status, owner_id FROM intakes WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query(OP))?;
            return Ok(Err(match row {
                None => WorkRefusal::Missing,
                Some((status, _)) if status != "escalated" => WorkRefusal::NotEscalated,
                Some(_) => WorkRefusal::OwnedByOther,
            }));
        }
        if state.pauses_sla() {
            sqlx::query(
                "INSERT INTO sla_pauses (intake_id, started_at) SELECT $1, $2 \
                 WHERE NOT EXISTS (SELECT 1 FROM sla_pauses WHERE intake_id = $1 \
                 AND ended_at IS NULL)",
            )
            .bind(id.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
        } else {
            end_pause(&mut tx, id, at, OP).await?;
        }
        let body = if reason.is_empty() {
            state.as_str().to_owned()
        } else {
            format!("{}: {reason}", state.as_str())
        };
        insert_note(&mut tx, id, agent, NoteKind::Status, &body, at, OP).await?;
        let detail = serde_json::json!({
            "work_state": state.as_str(), "reason": reason, "agent_id": agent.as_str(),
        });
        let queued = self
            .enqueue_intake_in(
                &mut tx,
                "intake.updated",
                id,
                Some(("work_state", detail)),
                at,
            )
            .await?;
        self.commit_queued(tx, queued, OP).await?;
        Ok(Ok(()))
    }

    /// The SLA pauses of `ids`, oldest first per intake (one query for a page of intakes).
    pub async fn sla_pauses_for_intakes(
        &self,
        ids: &[IntakeId],
    ) -> Result<HashMap<IntakeId, Vec<SlaPause>>, StoreError> {
        const OP: &str = "sla_pauses_for_intakes";
        self.by_intake(
            "SELECT intake_id, started_at, ended_at FROM sla_pauses WHERE intake_id IN ",
            " ORDER BY intake_id, started_at",
            ids,
            OP,
            |row| {
                let pause = SlaPause {
                    started_at: get(row, "started_at", OP)?,
                    ended_at: get(row, "ended_at", OP)?,
                };
                Ok((
                    IntakeId::from_string(get::<String>(row, "intake_id", OP)?),
                    pause,
                ))
            },
        )
        .await
    }
}

#[cfg(test)]
#[path = "work_tests.rs"]
mod tests;
