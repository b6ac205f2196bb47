//! `escalations`: every move of an intake between support levels, written together with the
//! intake's new level, status, group and owner in one transaction (migrations 4 and 7).

use std::collections::HashMap;

use sqlx::any::AnyRow;

use super::codec::get;
use super::{Store, StoreError};
use crate::domain::{AgentId, IntakeId};

/// A move to record: an escalation (1→2, 1→3, 2→3) or a return to the first level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEscalation {
    /// The intake.
    pub intake_id: IntakeId,
    /// The level the intake must be at now (the update is refused otherwise).
    pub from_level: u8,
    /// The level after the move.
    pub to_level: u8,
    /// Second-level group, third-level vendor, or `first level` for a return.
    pub target: String,
    /// Why.
    pub reason: String,
    /// The vendor's case reference.
    pub case_ref: Option<String>,
    /// Who moved it.
    pub agent_id: AgentId,
    /// Epoch ms.
    pub at: i64,
    /// True for a return to the first level (the intake becomes `open` again).
    pub returned: bool,
}

/// A stored escalation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationRow {
    /// `esc-…`.
    pub id: String,
    /// The intake.
    pub intake_id: IntakeId,
    /// Level before.
    pub from_level: u8,
    /// Level after.
    pub to_level: u8,
    /// Group or vendor.
    pub target: String,
    /// Why.
    pub reason: String,
    /// Vendor case reference.
    pub case_ref: Option<String>,
    /// Who.
    pub agent_id: AgentId,
    /// Epoch ms.
    pub at: i64,
    /// A return to the first level.
    pub returned: bool,
}

impl Store {
    /// Records the move and sets the intake's level and status (`escalated`, or `open` for a
    /// return) in one transaction. The intake's group becomes the target (none after a
    /// return); its owner is kept only when the owner moves it up themselves (a return, or
    /// someone else's escalation, leaves it unclaimed in its new place). Returns `None`,
    /// writing nothing, when the intake is missing, resolved or closed, or no longer at
    /// `from_level` (another agent moved it first).
    pub async fn record_escalation(
        &self,
        esc: &NewEscalation,
    ) -> Result<Option<String>, StoreError> {
        const OP: &str = "record_escalation";
        let status = if esc.returned { "open" } else { "escalated" };
        let group = (!esc.returned).then_some(esc.target.as_str());
        let mut tx = self.begin_write(OP).await?;
        // A move within the second level (to another group) names the group it leaves.
        let reassigned_from: Option<Option<String>> = if esc.from_level == esc.to_level {
            sqlx::query_scalar("SELECT group_name FROM intakes WHERE id = $1")
                .bind(esc.intake_id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?
        } else {
            None
        };
        let moved = sqlx::query(
            "UPDATE intakes SET level = $2, status = $3, updated_by = $4, updated_at = $5, \
             group_name = $7, \
             responded_at = COALESCE(responded_at, $5), \
             work_state = CASE WHEN $8 = 0 AND owner_id = $4 AND $2 > $6 \
             THEN (CASE WHEN $2 = 3 THEN 'waiting_vendor' ELSE work_state END) ELSE NULL END, \
             owner_id = CASE WHEN $8 = 0 AND owner_id = $4 AND $2 > $6 THEN owner_id ELSE NULL END, \
             claimed_at = CASE WHEN $8 = 0 AND owner_id = $4 AND $2 > $6 \
             THEN claimed_at ELSE NULL END \
             WHERE id = $1 AND level = $6 AND status IN ('draft', 'open', 'escalated')",
        )
        .bind(esc.intake_id.as_str())
        .bind(i32::from(esc.to_level))
        .bind(status)
        .bind(esc.agent_id.as_str())
        .bind(esc.at)
        .bind(i32::from(esc.from_level))
        .bind(group)
        .bind(i32::from(esc.returned))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if moved.rows_affected() != 1 {
            return Ok(None);
        }
        super::work::end_pause(&mut tx, &esc.intake_id, esc.at, OP).await?;
        let id = format!("esc-{:016x}", rand::random::<u64>());
        sqlx::query(
            "INSERT INTO escalations (id, intake_id, seq, from_level, to_level, target, reason, \
             case_ref, agent_id, at, returned) SELECT $1, $2, \
             COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7, $8, $9, $10 \
             FROM escalations WHERE intake_id = $2",
        )
        .bind(&id)
        .bind(esc.intake_id.as_str())
        .bind(i32::from(esc.from_level))
        .bind(i32::from(esc.to_level))
        .bind(&esc.target)
        .bind(&esc.reason)
        .bind(esc.case_ref.as_deref())
        .bind(esc.agent_id.as_str())
        .bind(esc.at)
        .bind(i32::from(esc.returned))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if let Some(from) = reassigned_from {
            let body = format!(
                "{} → {}: {}",
                from.as_deref().unwrap_or("?"),
                esc.target,
                esc.reason
            );
            super::notes::insert_note(
                &mut tx,
                &esc.intake_id,
                &esc.agent_id,
                super::notes::NoteKind::Reassigned,
                &body,
                esc.at,
                OP,
            )
            .await?;
        }
        if esc.to_level == 3 && !esc.returned {
            super::vendor_cases::open_case_on(
                &mut tx,
                &esc.intake_id,
                &esc.target,
                esc.case_ref.as_deref(),
                &esc.agent_id,
                esc.at,
                OP,
            )
            .await?;
        }
        let (kind, key) = if esc.returned {
            ("intake.returned", "returned")
        } else {
            ("intake.escalated", "escalation")
        };
        let detail = serde_json::json!({
            "id": id, "from_level": esc.from_level, "to_level": esc.to_level,
            "target": esc.target, "reason": esc.reason, "case_ref": esc.case_ref,
            "agent_id": esc.agent_id.as_str(),
        });
        let queued = self
            .enqueue_intake_in(&mut tx, kind, &esc.intake_id, Some((key, detail)), esc.at)
            .await?;
        self.commit_queued(tx, queued, OP).await?;
        Ok(Some(id))
    }

    /// An intake's escalations and returns, oldest first.
    pub async fn escalations_for_intake(
        &self,
        id: &IntakeId,
    ) -> Result<Vec<EscalationRow>, StoreError> {
        let mut all = self
            .escalations_for_intakes(std::slice::from_ref(id))
            .await?;
        Ok(all.remove(id).unwrap_or_default())
    }

    /// The escalations and returns of each of `intakes` (one query), oldest first.
    pub async fn escalations_for_intakes(
        &self,
        intakes: &[IntakeId],
    ) -> Result<HashMap<IntakeId, Vec<EscalationRow>>, StoreError> {
        const OP: &str = "escalations_for_intakes";
        self.by_intake(
            "SELECT id, intake_id, from_level, to_level, target, reason, case_ref, agent_id, at, \
             returned FROM escalations WHERE intake_id IN ",
            " ORDER BY intake_id, seq",
            intakes,
            OP,
            |row| {
                let e = escalation_from_row(row, OP)?;
                Ok((e.intake_id.clone(), e))
            },
        )
        .await
    }
}

fn level_from(value: i64, column: &'static str) -> Result<u8, StoreError> {
    u8::try_from(value)
        .ok()
        .filter(|l| (1..=3).contains(l))
        .ok_or(StoreError::Corrupt {
            column,
            value: value.to_string(),
        })
}

fn escalation_from_row(row: &AnyRow, op: &'static str) -> Result<EscalationRow, StoreError> {
    Ok(EscalationRow {
        id: get(row, "id", op)?,
        intake_id: IntakeId::from_string(get::<String>(row, "intake_id", op)?),
        from_level: level_from(get(row, "from_level", op)?, "escalations.from_level")?,
        to_level: level_from(get(row, "to_level", op)?, "escalations.to_level")?,
        target: get(row, "target", op)?,
        reason: get(row, "reason", op)?,
        case_ref: get(row, "case_ref", op)?,
        agent_id: AgentId::from_string(get::<String>(row, "agent_id", op)?),
        at: get(row, "at", op)?,
        returned: get::<i64>(row, "returned", op)? != 0,
    })
}
