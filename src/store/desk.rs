//! The desk's side of `intakes` (migration 4): reads of the full [`IntakeRecord`] (level,
//! channel, title, solution; run and mapped in `intakes.rs`); guarded edits, outcomes, manual
//! intakes, calls attached to an intake. Lists are in `worklist.rs`.
//!
//! Edits that depend on the intake's state are single conditional `UPDATE`s (or a transaction
//! starting with one), so two agents racing on one intake cannot both win; the callers read
//! the record again to say why a guarded update changed nothing.

use std::collections::HashMap;

use sqlx::{Any, Transaction};

use super::codec::get;
use super::intakes::{IntakeRecord, search_text, select_intakes, write_search_words};
use super::sql::Sql;
use super::tickets::next_ticket_no;
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
    /// The title the editor started from: the edit is refused (nothing written) when the stored
    /// title is another by now, so a concurrent change is never silently overwritten.
    pub seen_title: Option<String>,
    /// The description the editor started from, checked like `seen_title`.
    pub seen_description: Option<String>,
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
        let mut ids = self
            .intake_ids_for_calls(std::slice::from_ref(call))
            .await?;
        match ids.remove(call) {
            Some(id) => self.intake_record(&id).await,
            None => Ok(None),
        }
    }

    /// The intake each of `calls` is about (the rule of [`Store::intake_record_for_call`]), in
    /// two queries for any number of calls; calls without one are left out.
    pub async fn intake_ids_for_calls(
        &self,
        calls: &[CallId],
    ) -> Result<HashMap<CallId, IntakeId>, StoreError> {
        const OP: &str = "intake_ids_for_calls";
        let mut out = HashMap::new();
        if calls.is_empty() {
            return Ok(out);
        }
        let ids = || calls.iter().map(CallId::as_str);
        let mut attached =
            Sql::new("SELECT call_id, intake_id FROM intake_calls WHERE call_id IN ");
        attached
            .list(ids())
            .push(" ORDER BY call_id, attached_at DESC, intake_id");
        let mut own = Sql::new(
            "SELECT call_id, id AS intake_id FROM intakes WHERE merged_into IS NULL AND call_id IN ",
        );
        own.list(ids())
            .push(" ORDER BY call_id, created_at DESC, id");
        // Attached intakes win: their rows are read first, and the first row per call is kept.
        for sql in [attached, own] {
            let rows = sql
                .query()
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::query(OP))?;
            for row in &rows {
                let call = CallId::from_string(get::<String>(row, "call_id", OP)?);
                let intake = IntakeId::from_string(get::<String>(row, "intake_id", OP)?);
                out.entry(call).or_insert(intake);
            }
        }
        Ok(out)
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
    /// `false` when the intake is missing or resolved/closed, or when a `seen_*` value is not
    /// what is stored any more (the caller reads the record again to say which).
    pub async fn edit_intake(
        &self,
        id: &IntakeId,
        edit: &IntakeEdit,
        agent: &AgentId,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "edit_intake";
        let mut tx = self.begin_write(OP).await?;
        let done = sqlx::query(
            "UPDATE intakes SET title = COALESCE($2, title), \
             description = COALESCE($3, description), category = COALESCE($4, category), \
             priority = COALESCE($5, priority), \
             status = CASE WHEN status = 'draft' THEN 'open' ELSE status END, \
             updated_by = $6, updated_at = $7, responded_at = COALESCE(responded_at, $7) \
             WHERE id = $1 AND status IN ('draft', 'open', 'escalated') \
             AND ($8 IS NULL OR COALESCE(title, '') = $8) \
             AND ($9 IS NULL OR COALESCE(description, '') = $9)",
        )
        .bind(id.as_str())
        .bind(edit.title.as_deref())
        .bind(edit.description.as_deref())
        .bind(edit.category.map(Category::as_str))
        .bind(edit.priority.map(|p| i32::from(p.get())))
        .bind(agent.as_str())
        .bind(at)
        .bind(edit.seen_title.as_deref())
        .bind(edit.seen_description.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if edit.title.is_some() || edit.description.is_some() {
            refresh_search_text(&mut tx, id, OP).await?;
        }
        let queued = self
            .enqueue_intake_in(&mut tx, "intake.updated", id, None, at)
            .await?;
        self.commit_queued(tx, queued, OP).await?;
        Ok(true)
    }

    /// Marks an editable intake resolved with its solution; `false` when missing or final.
    pub async fn resolve_intake(
        &self,
        id: &IntakeId,
        solution: &str,
        agent: &AgentId,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "resolve_intake";
        let mut tx = self.begin_write(OP).await?;
        let done = sqlx::query(
            "UPDATE intakes SET status = 'resolved', solution = $2, resolved_at = $4, \
             updated_by = $3, updated_at = $4, responded_at = COALESCE(responded_at, $4), \
             work_state = NULL \
             WHERE id = $1 AND status IN ('draft', 'open', 'escalated')",
        )
        .bind(id.as_str())
        .bind(solution)
        .bind(agent.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        refresh_search_text(&mut tx, id, OP).await?;
        super::work::end_pause(&mut tx, id, at, OP).await?;
        let queued = self
            .enqueue_intake_in(&mut tx, "intake.resolved", id, None, at)
            .await?;
        self.commit_queued(tx, queued, OP).await?;
        Ok(true)
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
        let queued = self
            .enqueue_intake_in(&mut tx, "intake.updated", id, None, at)
            .await?;
        self.commit_queued(tx, queued, OP).await?;
        Ok(true)
    }

    /// Stores an intake opened by hand: `open`, level 1, unclassified, with the next ticket
    /// number.
    pub async fn insert_manual_intake(
        &self,
        intake: &NewManualIntake,
    ) -> Result<IntakeId, StoreError> {
        const OP: &str = "insert_manual_intake";
        let id = IntakeId::new_random();
        let mut tx = self.begin_write(OP).await?;
        let ticket = next_ticket_no(&mut tx, self.zone, intake.at, OP).await?;
        sqlx::query(
            "INSERT INTO intakes (id, customer_id, caller, category, ivr_path, status, level, \
             channel, updated_by, created_at, updated_at, ticket_no) \
             VALUES ($1, $2, $3, 'unclassified', '', 'open', 1, $4, $5, $6, $6, $7)",
        )
        .bind(id.as_str())
        .bind(intake.customer_id.as_ref().map(CustomerId::as_str))
        .bind(intake.caller.as_deref())
        .bind(intake.channel)
        .bind(intake.agent_id.as_str())
        .bind(intake.at)
        .bind(ticket)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        write_search_words(&mut tx, &id, intake.at, "", OP).await?;
        let queued = self
            .enqueue_intake_in(&mut tx, "intake.created", &id, None, intake.at)
            .await?;
        self.commit_queued(tx, queued, OP).await?;
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
        let Some(record) = self.intake_record(id).await? else {
            return Ok(Vec::new());
        };
        let mut all = self
            .call_ids_for_intakes(std::slice::from_ref(&record))
            .await?;
        Ok(all.remove(id).unwrap_or_default())
    }

    /// The calls of each of `records` (one query for the attached ones): its own call first,
    /// then attached ones in order.
    pub async fn call_ids_for_intakes(
        &self,
        records: &[IntakeRecord],
    ) -> Result<HashMap<IntakeId, Vec<CallId>>, StoreError> {
        const OP: &str = "call_ids_for_intakes";
        let mut out: HashMap<IntakeId, Vec<CallId>> = records
            .iter()
            .map(|r| (r.id.clone(), r.call_id.iter().cloned().collect()))
            .collect();
        if records.is_empty() {
            return Ok(out);
        }
        let mut sql = Sql::new("SELECT intake_id, call_id FROM intake_calls WHERE intake_id IN ");
        sql.list(records.iter().map(|r| r.id.as_str()))
            .push(" ORDER BY intake_id, attached_at, call_id");
        let rows = sql
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        for row in &rows {
            let intake = IntakeId::from_string(get::<String>(row, "intake_id", OP)?);
            let call = CallId::from_string(get::<String>(row, "call_id", OP)?);
            out.entry(intake).or_default().push(call);
        }
        Ok(out)
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

/// Recomputes the intake's search words from the row as it is now, inside the transaction
/// that changed it (which holds the row, so a concurrent edit of another field cannot be
/// lost from them).
async fn refresh_search_text(
    tx: &mut Transaction<'static, Any>,
    id: &IntakeId,
    op: &'static str,
) -> Result<(), StoreError> {
    let (title, description, solution, created_at): (
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
    ) = sqlx::query_as(
        "SELECT title, description, solution, created_at FROM intakes WHERE id = $1",
    )
    .bind(id.as_str())
    .fetch_one(&mut **tx)
    .await
    .map_err(StoreError::query(op))?;
    let text = search_text(
        title.as_deref(),
        description.as_deref(),
        solution.as_deref(),
    );
    write_search_words(tx, id, created_at, &text, op).await
}

#[cfg(test)]
#[path = "desk_tests.rs"]
mod tests;
