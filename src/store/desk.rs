//! The desk's side of `intakes` (migration 4): reads of the full [`IntakeRecord`] (level,
//! channel, title, solution; run and mapped in `intakes.rs`); guarded edits, outcomes, manual
//! intakes, calls attached to an intake, listing.
//!
//! Edits that depend on the intake's state are single conditional `UPDATE`s (or a transaction
//! starting with one), so two agents racing on one intake cannot both win; the callers read
//! the record again to say why a guarded update changed nothing.

use super::intakes::{IntakeRecord, IntakeStatus, select_intakes};
use super::{Store, StoreError};
use crate::domain::{AgentId, CallId, Category, CustomerId, IntakeId, Priority};

/// Fields to overwrite; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntakeEdit {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New category.
    pub category: Option<Category>,
    /// New priority.
    pub priority: Option<Priority>,
}

/// Which intakes to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct IntakeFilter {
    /// Only this status.
    pub status: Option<IntakeStatus>,
    /// Only this customer's.
    pub customer_id: Option<CustomerId>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

/// An intake opened by hand (channel `email` or `desk`).
#[derive(Debug, Clone)]
pub struct NewManualIntake {
    /// `email` or `desk`.
    pub channel: &'static str,
    /// The customer, when known.
    pub customer_id: Option<CustomerId>,
    /// Their main number, copied as the intake's caller.
    pub caller: Option<String>,
    /// The agent who opened it.
    pub agent_id: AgentId,
    /// Epoch ms.
    pub at: i64,
}

impl Store {
    /// One intake with its desk columns.
    pub async fn intake_record(&self, id: &IntakeId) -> Result<Option<IntakeRecord>, StoreError> {
        let query = sqlx::query(select_intakes!(" WHERE id = $1")).bind(id.as_str());
        self.fetch_intake(query, "intake_record").await
    }

    /// The intake a call is about: the one it was attached to by "continue" (latest), else the
    /// newest intake drafted during it that was not merged away.
    pub async fn intake_record_for_call(
        &self,
        call: &CallId,
    ) -> Result<Option<IntakeRecord>, StoreError> {
        const OP: &str = "intake_record_for_call";
        let attached: Option<String> = sqlx::query_scalar(
            "SELECT intake_id FROM intake_calls WHERE call_id = $1 \
             ORDER BY attached_at DESC, intake_id LIMIT 1",
        )
        .bind(call.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        if let Some(id) = attached {
            return self.intake_record(&IntakeId::from_string(id)).await;
        }
        let query = sqlx::query(select_intakes!(
            " WHERE call_id = $1 AND merged_into IS NULL ORDER BY created_at DESC, id LIMIT 1"
        ))
        .bind(call.as_str());
        self.fetch_intake(query, OP).await
    }

    /// A page of intakes, newest first.
    pub async fn list_intake_records(
        &self,
        filter: &IntakeFilter,
    ) -> Result<Vec<IntakeRecord>, StoreError> {
        let query = sqlx::query(select_intakes!(
            " WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR customer_id = $2) \
             ORDER BY created_at DESC, id LIMIT $3 OFFSET $4"
        ))
        .bind(filter.status.map(IntakeStatus::as_str))
        .bind(filter.customer_id.as_ref().map(CustomerId::as_str))
        .bind(filter.limit.max(0))
        .bind(filter.offset.max(0));
        self.fetch_intakes(query, "list_intake_records").await
    }

    /// A customer's draft, open and escalated intakes (not merged), newest first.
    pub async fn open_intake_records_for_customer(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<IntakeRecord>, StoreError> {
        let query = sqlx::query(select_intakes!(
            " WHERE customer_id = $1 AND status IN ('draft', 'open', 'escalated') \
             ORDER BY created_at DESC, id"
        ))
        .bind(customer.as_str());
        self.fetch_intakes(query, "open_intake_records_for_customer")
            .await
    }

    /// Overwrites the given fields of an editable intake; a draft becomes `open`.
    /// `false` when the intake is missing or resolved/closed.
    pub async fn edit_intake(
        &self,
        id: &IntakeId,
        edit: &IntakeEdit,
        agent: &AgentId,
        at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE intakes SET title = COALESCE($2, title), \
             description = COALESCE($3, description), category = COALESCE($4, category), \
             priority = COALESCE($5, priority), \
             status = CASE WHEN status = 'draft' THEN 'open' ELSE status END, \
             updated_by = $6, updated_at = $7 \
             WHERE id = $1 AND status IN ('draft', 'open', 'escalated')",
        )
        .bind(id.as_str())
        .bind(edit.title.as_deref())
        .bind(edit.description.as_deref())
        .bind(edit.category.map(Category::as_str))
        .bind(edit.priority.map(|p| i32::from(p.get())))
        .bind(agent.as_str())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("edit_intake"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks an editable intake resolved with its solution; `false` when missing or final.
    pub async fn resolve_intake(
        &self,
        id: &IntakeId,
        solution: &str,
        agent: &AgentId,
        at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE intakes SET status = 'resolved', solution = $2, resolved_at = $4, \
             updated_by = $3, updated_at = $4 \
             WHERE id = $1 AND status IN ('draft', 'open', 'escalated')",
        )
        .bind(id.as_str())
        .bind(solution)
        .bind(agent.as_str())
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("resolve_intake"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Links an editable intake (and its call) to a customer; `false` when missing or final.
    pub async fn set_intake_customer(
        &self,
        id: &IntakeId,
        customer: &CustomerId,
        agent: &AgentId,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "set_intake_customer";
        let mut tx = self.begin_write(OP).await?;
        let done = sqlx::query(
            "UPDATE intakes SET customer_id = $2, updated_by = $3, updated_at = $4, \
             status = CASE WHEN status = 'draft' THEN 'open' ELSE status END \
             WHERE id = $1 AND status IN ('draft', 'open', 'escalated')",
        )
        .bind(id.as_str())
        .bind(customer.as_str())
        .bind(agent.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE calls SET customer_id = $2 WHERE customer_id IS NULL AND id = \
             (SELECT call_id FROM intakes WHERE id = $1)",
        )
        .bind(id.as_str())
        .bind(customer.as_str())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(true)
    }

    /// Stores an intake opened by hand: `open`, level 1, unclassified.
    pub async fn insert_manual_intake(
        &self,
        intake: &NewManualIntake,
    ) -> Result<IntakeId, StoreError> {
        let id = IntakeId::new_random();
        sqlx::query(
            "INSERT INTO intakes (id, customer_id, caller, category, ivr_path, status, level, \
             channel, updated_by, created_at, updated_at) \
             VALUES ($1, $2, $3, 'unclassified', '', 'open', 1, $4, $5, $6, $6)",
        )
        .bind(id.as_str())
        .bind(intake.customer_id.as_ref().map(CustomerId::as_str))
        .bind(intake.caller.as_deref())
        .bind(intake.channel)
        .bind(intake.agent_id.as_str())
        .bind(intake.at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("insert_manual_intake"))?;
        Ok(id)
    }

    /// "Continue": attaches `call` to `existing` and closes `draft` as merged into it, in one
    /// transaction. `false` when the draft is missing or no longer a draft/open intake.
    pub async fn merge_intake(
        &self,
        draft: &IntakeId,
        existing: &IntakeId,
        call: Option<&CallId>,
        agent: &AgentId,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "merge_intake";
        let mut tx = self.begin_write(OP).await?;
        let done = sqlx::query(
            "UPDATE intakes SET status = 'closed', merged_into = $2, updated_by = $3, \
             updated_at = $4 WHERE id = $1 AND status IN ('draft', 'open') AND id <> $2",
        )
        .bind(draft.as_str())
        .bind(existing.as_str())
        .bind(agent.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let touched = sqlx::query(concat!(
            "UPDATE intakes SET updated_by = $2, updated_at = $3 WHERE id = $1 AND status IN ",
            "('draft', 'open', 'escalated')"
        ))
        .bind(existing.as_str())
        .bind(agent.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if touched.rows_affected() != 1 {
            // The transaction is rolled back on drop.
            return Ok(false);
        }
        if let Some(call) = call {
            sqlx::query(
                "INSERT INTO intake_calls (intake_id, call_id, attached_at, agent_id) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(existing.as_str())
            .bind(call.as_str())
            .bind(at)
            .bind(agent.as_str())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
        }
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(true)
    }

    /// The ids of every call about an intake: its own call first, then attached ones in order.
    pub async fn intake_call_ids(&self, id: &IntakeId) -> Result<Vec<CallId>, StoreError> {
        const OP: &str = "intake_call_ids";
        let own: Option<Option<String>> =
            sqlx::query_scalar("SELECT call_id FROM intakes WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::query(OP))?;
        let attached: Vec<String> = sqlx::query_scalar(
            "SELECT call_id FROM intake_calls WHERE intake_id = $1 ORDER BY attached_at, call_id",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        Ok(own
            .flatten()
            .into_iter()
            .chain(attached)
            .map(CallId::from_string)
            .collect())
    }

    /// The call the agent answered last (by `connected_at`), if any.
    pub async fn last_answered_call(&self, agent: &AgentId) -> Result<Option<CallId>, StoreError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM calls WHERE agent_id = $1 AND connected_at IS NOT NULL \
             ORDER BY connected_at DESC, id DESC LIMIT 1",
        )
        .bind(agent.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query("last_answered_call"))?;
        Ok(id.map(CallId::from_string))
    }
}

#[cfg(test)]
#[path = "desk_tests.rs"]
mod tests;
