//! Claims and reopening (migration 7): who owns an intake, and a resolved intake made
//! editable again, each a guarded `UPDATE` plus its `intake_notes` row in one transaction.
//!
//! The guard names the owner the caller saw (`owner_id IS NULL` or `owner_id = $4`), so two
//! agents claiming at once cannot both win: SQLite runs the two transactions one after the
//! other; on PostgreSQL the second `UPDATE` waits for the first's row lock and then finds the
//! owner changed (read committed re-checks the condition), changing nothing.

use super::notes::{NoteKind, insert_note};
use super::{Store, StoreError};
use crate::domain::{AgentId, IntakeId};

impl Store {
    /// Makes `agent` the owner of an editable intake whose owner is still `seen` (`None`:
    /// unclaimed), with a `claimed` note (`body`: empty, or the owner taken over from).
    /// `false`, writing nothing, when the intake is missing, final, or its owner changed.
    pub async fn claim_intake(
        &self,
        id: &IntakeId,
        agent: &AgentId,
        seen: Option<&AgentId>,
        body: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "claim_intake";
        let sql = match seen {
            None => {
                "UPDATE intakes SET owner_id = $2, claimed_at = $3, updated_by = $2, \
                 updated_at = $3, responded_at = COALESCE(responded_at, $3), \
                 work_state = CASE WHEN status = 'escalated' \
                 THEN COALESCE(work_state, 'in_progress') END WHERE id = $1 AND status IN ('draft', 'open', 'escalated') \
                 AND owner_id IS NULL"
            }
            Some(_) => {
                "UPDATE intakes SET owner_id = $2, claimed_at = $3, updated_by = $2, \
                 updated_at = $3, responded_at = COALESCE(responded_at, $3), \
                 work_state = CASE WHEN status = 'escalated' \
                 THEN COALESCE(work_state, 'in_progress') END WHERE id = $1 AND status IN ('draft', 'open', 'escalated') \
                 AND owner_id = $4"
            }
        };
        let mut tx = self.begin_write(OP).await?;
        let mut query = sqlx::query(sql)
            .bind(id.as_str())
            .bind(agent.as_str())
            .bind(at);
        if let Some(owner) = seen {
            query = query.bind(owner.as_str());
        }
        let done = query
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_note(&mut tx, id, agent, NoteKind::Claimed, body, at, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(true)
    }

    /// Clears the owner of an editable intake still owned by `owner`, with a `released` note
    /// by `by` (`body`: empty, or whose claim a supervisor released). `false`, writing
    /// nothing, when the intake is missing, final, or not owned by `owner` any more.
    pub async fn release_intake(
        &self,
        id: &IntakeId,
        owner: &AgentId,
        by: &AgentId,
        body: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "release_intake";
        let mut tx = self.begin_write(OP).await?;
        let done = sqlx::query(
            "UPDATE intakes SET owner_id = NULL, claimed_at = NULL, updated_by = $3, \
             updated_at = $4 WHERE id = $1 AND status IN ('draft', 'open', 'escalated') \
             AND owner_id = $2",
        )
        .bind(id.as_str())
        .bind(owner.as_str())
        .bind(by.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_note(&mut tx, id, by, NoteKind::Released, body, at, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(true)
    }

    /// Makes a `resolved` intake editable again: `open` at the first level, `escalated` at
    /// level 2 or 3 (back in its group's inbox), `resolved_at` cleared, with a `reopened` note
    /// giving the reason. `false`, writing nothing, when it is missing or not resolved.
    pub async fn reopen_intake(
        &self,
        id: &IntakeId,
        agent: &AgentId,
        reason: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "reopen_intake";
        let mut tx = self.begin_write(OP).await?;
        let done = sqlx::query(
            "UPDATE intakes SET status = CASE WHEN level = 1 THEN 'open' ELSE 'escalated' END, \
             resolved_at = NULL, updated_by = $2, updated_at = $3 \
             WHERE id = $1 AND status = 'resolved'",
        )
        .bind(id.as_str())
        .bind(agent.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_note(&mut tx, id, agent, NoteKind::Reopened, reason, at, OP).await?;
        let detail = serde_json::json!({ "reason": reason, "agent_id": agent.as_str() });
        let queued = self
            .enqueue_intake_in(
                &mut tx,
                "intake.reopened",
                id,
                Some(("reopened", detail)),
                at,
            )
            .await?;
        self.commit_queued(tx, queued, OP).await?;
        Ok(true)
    }
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
