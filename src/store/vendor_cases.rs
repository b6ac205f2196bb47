//! `vendor_cases` (migration 14): the third level as records. A case is opened with every
//! hand-off to a vendor (in the escalation's transaction), kept up to date (reference, contact,
//! promised response, follow-up date), reminded once per follow-up date, and closed, which
//! returns the intake to its owner at the second level. Each change writes its history note.

use std::collections::HashMap;

use sqlx::any::AnyRow;

use super::codec::get;
use super::notes::{NoteKind, insert_note};
use super::{Store, StoreError};
use crate::domain::{AgentId, IntakeId};

/// One vendor case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VendorCase {
    /// `vc-…`, ordered by creation.
    pub id: String,
    /// The intake it belongs to.
    pub intake_id: IntakeId,
    /// The vendor (a configured third-level target).
    pub vendor: String,
    /// The vendor's reference for it.
    pub case_ref: Option<String>,
    /// Who to talk to at the vendor.
    pub contact: Option<String>,
    /// When the vendor promised to answer (epoch ms).
    pub promised_at: Option<i64>,
    /// When to chase the vendor (epoch ms).
    pub follow_up_at: Option<i64>,
    /// When the reminder for `follow_up_at` was sent.
    pub reminded_at: Option<i64>,
    /// `open` or `closed`.
    pub status: String,
    /// Who opened it.
    pub created_by: Option<AgentId>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms of the closing.
    pub closed_at: Option<i64>,
    /// What the vendor's answer came to (given when closing).
    pub outcome: Option<String>,
}

/// The fields of a case an agent keeps up to date; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorCaseEdit {
    /// New reference.
    pub case_ref: Option<String>,
    /// New contact.
    pub contact: Option<String>,
    /// New promised response (epoch ms).
    pub promised_at: Option<i64>,
    /// New follow-up date (epoch ms); a new date is reminded again.
    pub follow_up_at: Option<i64>,
}

/// A follow-up that is due: whom to remind of which case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueFollowUp {
    /// The case.
    pub case: VendorCase,
    /// The intake's ticket number.
    pub ticket_no: Option<String>,
    /// The intake's owner, else whoever opened the case.
    pub remind: Option<AgentId>,
}

/// `SELECT <every column> FROM vendor_cases` followed by `$tail`, as one `&'static str`.
macro_rules! select_cases {
    ($tail:literal) => {
        concat!(
            "SELECT id, intake_id, vendor, case_ref, contact, promised_at, follow_up_at, ",
            "reminded_at, status, created_by, created_at, closed_at, outcome FROM vendor_cases",
            $tail
        )
    };
}

/// `vc-<at as 12 hex digits><8 random hex digits>`: ids sort by creation time.
fn case_id(at: i64) -> String {
    format!("vc-{:012x}{:08x}", at.max(0), rand::random::<u32>())
}

/// Opens a case for `vendor` on `intake` inside the caller's transaction (an escalation to the
/// third level), with a `vendor` note.
pub(super) async fn open_case_on(
    conn: &mut sqlx::AnyConnection,
    intake: &IntakeId,
    vendor: &str,
    case_ref: Option<&str>,
    agent: &AgentId,
    at: i64,
    op: &'static str,
) -> Result<String, StoreError> {
    let id = case_id(at);
    sqlx::query(
        "INSERT INTO vendor_cases (id, intake_id, vendor, case_ref, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(intake.as_str())
    .bind(vendor)
    .bind(case_ref)
    .bind(agent.as_str())
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query(op))?;
    let body = match case_ref {
        Some(r) => format!("opened with {vendor} ({r})"),
        None => format!("opened with {vendor}"),
    };
    insert_note(conn, intake, agent, NoteKind::Vendor, &body, at, op).await?;
    Ok(id)
}

/// A case with its intake's ticket number and whom to remind: `SELECT … FROM vendor_cases v
/// JOIN intakes i` followed by `$tail`, read with [`follow_up_from_row`].
macro_rules! select_follow_ups {
    ($tail:literal) => {
        concat!(
            "SELECT v.id, v.intake_id, v.vendor, v.case_ref, v.contact, v.promised_at, ",
            "v.follow_up_at, v.reminded_at, v.status, v.created_by, v.created_at, v.closed_at, ",
            "v.outcome, i.ticket_no, COALESCE(i.owner_id, v.created_by) AS remind ",
            "FROM vendor_cases v JOIN intakes i ON i.id = v.intake_id",
            $tail
        )
    };
}

fn follow_up_from_row(r: &AnyRow, op: &'static str) -> Result<DueFollowUp, StoreError> {
    Ok(DueFollowUp {
        case: case_from_row(r, op)?,
        ticket_no: get(r, "ticket_no", op)?,
        remind: get::<Option<String>>(r, "remind", op)?.map(AgentId::from_string),
    })
}

fn case_from_row(r: &AnyRow, op: &'static str) -> Result<VendorCase, StoreError> {
    Ok(VendorCase {
        id: get(r, "id", op)?,
        intake_id: IntakeId::from_string(get::<String>(r, "intake_id", op)?),
        vendor: get(r, "vendor", op)?,
        case_ref: get(r, "case_ref", op)?,
        contact: get(r, "contact", op)?,
        promised_at: get(r, "promised_at", op)?,
        follow_up_at: get(r, "follow_up_at", op)?,
        reminded_at: get(r, "reminded_at", op)?,
        status: get(r, "status", op)?,
        created_by: get::<Option<String>>(r, "created_by", op)?.map(AgentId::from_string),
        created_at: get(r, "created_at", op)?,
        closed_at: get(r, "closed_at", op)?,
        outcome: get(r, "outcome", op)?,
    })
}

impl Store {
    /// One case.
    pub async fn vendor_case(&self, id: &str) -> Result<Option<VendorCase>, StoreError> {
        const OP: &str = "vendor_case";
        let row = sqlx::query(select_cases!(" WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| case_from_row(&r, OP)).transpose()
    }

    /// The cases of each of `intakes`, oldest first (one query for a page of intakes).
    pub async fn vendor_cases_for_intakes(
        &self,
        intakes: &[IntakeId],
    ) -> Result<HashMap<IntakeId, Vec<VendorCase>>, StoreError> {
        const OP: &str = "vendor_cases_for_intakes";
        self.by_intake(
            select_cases!(" WHERE intake_id IN "),
            " ORDER BY created_at, id",
            intakes,
            OP,
            |row| {
                let case = case_from_row(row, OP)?;
                Ok((case.intake_id.clone(), case))
            },
        )
        .await
    }

    /// Changes the given fields of an open case, with a `vendor` note saying what changed
    /// (`summary`); a new follow-up date is reminded again. `false` when missing or closed.
    pub async fn edit_vendor_case(
        &self,
        id: &str,
        edit: &VendorCaseEdit,
        summary: &str,
        agent: &AgentId,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "edit_vendor_case";
        let mut tx = self.begin_write(OP).await?;
        let intake: Option<String> = sqlx::query_scalar(
            "UPDATE vendor_cases SET case_ref = COALESCE($2, case_ref), \
             contact = COALESCE($3, contact), promised_at = COALESCE($4, promised_at), \
             reminded_at = CASE WHEN $5 IS NULL THEN reminded_at ELSE NULL END, \
             follow_up_at = COALESCE($5, follow_up_at) \
             WHERE id = $1 AND status = 'open' RETURNING intake_id",
        )
        .bind(id)
        .bind(edit.case_ref.as_deref())
        .bind(edit.contact.as_deref())
        .bind(edit.promised_at)
        .bind(edit.follow_up_at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        let Some(intake) = intake.map(IntakeId::from_string) else {
            return Ok(false);
        };
        insert_note(&mut tx, &intake, agent, NoteKind::Vendor, summary, at, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(true)
    }

    /// Closes an open case with the vendor's outcome and returns its intake to its owner: the
    /// owner's work state becomes `in_progress`, and an intake at the third level goes back to
    /// the second-level group it came from (when it came from one), with a `vendor` note.
    /// `false` when the case is missing or closed already.
    pub async fn close_vendor_case(
        &self,
        id: &str,
        outcome: &str,
        agent: &AgentId,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "close_vendor_case";
        let mut tx = self.begin_write(OP).await?;
        let closed: Option<(String, String)> = sqlx::query_as(
            "UPDATE vendor_cases SET status = 'closed', closed_by = $2, closed_at = $3, \
             outcome = $4 WHERE id = $1 AND status = 'open' RETURNING intake_id, vendor",
        )
        .bind(id)
        .bind(agent.as_str())
        .bind(at)
        .bind(outcome)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        let Some((intake, vendor)) = closed else {
            return Ok(false);
        };
        let intake = IntakeId::from_string(intake);
        // The group it was with before the vendor: the target of its latest move to level 2.
        let group: Option<String> = sqlx::query_scalar(
            "SELECT target FROM escalations WHERE intake_id = $1 AND to_level = 2 \
             AND returned = 0 ORDER BY seq DESC LIMIT 1",
        )
        .bind(intake.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        sqlx::query(
            "UPDATE intakes SET \
             level = CASE WHEN level = 3 AND $2 IS NOT NULL THEN 2 ELSE level END, \
             group_name = CASE WHEN level = 3 AND $2 IS NOT NULL THEN $2 ELSE group_name END, \
             work_state = CASE WHEN owner_id IS NOT NULL THEN 'in_progress' ELSE NULL END, \
             updated_by = $3, updated_at = $4 \
             WHERE id = $1 AND status = 'escalated'",
        )
        .bind(intake.as_str())
        .bind(group.as_deref())
        .bind(agent.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        let body = format!("{vendor} closed: {outcome}");
        insert_note(&mut tx, &intake, agent, NoteKind::Vendor, &body, at, OP).await?;
        let detail = serde_json::json!({
            "vendor_case": id, "vendor": vendor, "outcome": outcome, "agent_id": agent.as_str(),
        });
        let queued = self
            .enqueue_intake_in(
                &mut tx,
                "intake.updated",
                &intake,
                Some(("vendor_case", detail)),
                at,
            )
            .await?;
        self.commit_queued(tx, queued, OP).await?;
        Ok(true)
    }

    /// Open cases whose follow-up date is at or before `now` and not reminded yet, oldest
    /// follow-up first, at most `limit`.
    pub async fn due_follow_ups(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueFollowUp>, StoreError> {
        const OP: &str = "due_follow_ups";
        let rows = sqlx::query(select_follow_ups!(
            " WHERE v.status = 'open' AND v.follow_up_at <= $1 AND v.reminded_at IS NULL \
                 ORDER BY v.follow_up_at, v.id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| follow_up_from_row(r, OP)).collect()
    }

    /// The earliest follow-up date of an open case not reminded yet.
    pub async fn next_follow_up(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT MIN(follow_up_at) FROM vendor_cases WHERE status = 'open' \
             AND reminded_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query("next_follow_up"))
    }

    /// Marks the reminder of a case's follow-up date `follow_up_at` as sent; `false` when the
    /// date changed meanwhile (the new one is reminded in its turn).
    pub async fn mark_reminded(
        &self,
        id: &str,
        follow_up_at: i64,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "mark_reminded";
        let mut tx = self.begin_write(OP).await?;
        let done = sqlx::query(
            "UPDATE vendor_cases SET reminded_at = $3 WHERE id = $1 AND follow_up_at = $2 \
             AND reminded_at IS NULL",
        )
        .bind(id)
        .bind(follow_up_at)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(done.rows_affected() == 1)
    }

    /// The open cases with a follow-up at or before `now` whose reminder goes to `agent`.
    pub async fn follow_ups_for(
        &self,
        agent: &AgentId,
        now: i64,
    ) -> Result<Vec<DueFollowUp>, StoreError> {
        const OP: &str = "follow_ups_for";
        let rows = sqlx::query(
            select_follow_ups!(
                " WHERE v.status = 'open' AND v.follow_up_at <= $1 \
                 AND COALESCE(i.owner_id, v.created_by) = $2 ORDER BY v.follow_up_at, v.id LIMIT 200"
            ),
        )
        .bind(now)
        .bind(agent.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| follow_up_from_row(r, OP)).collect()
    }
}

#[cfg(test)]
#[path = "vendor_cases_tests.rs"]
mod tests;
