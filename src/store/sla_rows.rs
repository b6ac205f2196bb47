//! The rows the SLA summaries are computed from (migration 13): open intakes (for `/metrics`
//! and the supervisor view) and intakes resolved in a period (for the report), each with its
//! pauses, in two queries apiece; the timers themselves are computed by `src/sla/`.

use std::collections::HashMap;

use sqlx::any::AnyRow;

use super::codec::get;
use super::work::SlaPause;
use super::{Store, StoreError};
use crate::domain::IntakeId;

/// What the SLA of one intake is computed from, with where it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaRow {
    /// The intake.
    pub id: IntakeId,
    /// Priority 1..=5.
    pub priority: Option<u8>,
    /// Support level now.
    pub level: u8,
    /// Group or vendor now (`None` at the first level).
    pub group_name: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms of the first response.
    pub responded_at: Option<i64>,
    /// Epoch ms of the resolution.
    pub resolved_at: Option<i64>,
    /// Its SLA pauses, oldest first.
    pub pauses: Vec<SlaPause>,
}

/// At most this many rows feed one summary (the newest first); a larger set is cut and said so.
pub const MAX_SLA_ROWS: i64 = 50_000;

fn row_of(r: &AnyRow, op: &'static str) -> Result<SlaRow, StoreError> {
    let priority: Option<i64> = get(r, "priority", op)?;
    let level: i64 = get(r, "level", op)?;
    Ok(SlaRow {
        id: IntakeId::from_string(get::<String>(r, "id", op)?),
        priority: priority.and_then(|p| u8::try_from(p).ok()),
        level: u8::try_from(level).unwrap_or(1),
        group_name: get(r, "group_name", op)?,
        created_at: get(r, "created_at", op)?,
        responded_at: get(r, "responded_at", op)?,
        resolved_at: get(r, "resolved_at", op)?,
        pauses: Vec::new(),
    })
}

impl Store {
    /// Every intake still to be resolved (draft, open, escalated), newest first, at most
    /// [`MAX_SLA_ROWS`], with its pauses.
    pub async fn sla_open_rows(&self) -> Result<Vec<SlaRow>, StoreError> {
        const OP: &str = "sla_open_rows";
        let rows = sqlx::query(
            "SELECT id, priority, level, group_name, created_at, responded_at, resolved_at \
             FROM intakes WHERE status IN ('draft', 'open', 'escalated') \
             ORDER BY created_at DESC LIMIT $1",
        )
        .bind(MAX_SLA_ROWS)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let pauses = sqlx::query(
            "SELECT p.intake_id, p.started_at, p.ended_at FROM sla_pauses p \
             JOIN intakes i ON i.id = p.intake_id \
             WHERE i.status IN ('draft', 'open', 'escalated') ORDER BY p.intake_id, p.started_at",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        with_pauses(&rows, &pauses, OP)
    }

    /// The intakes resolved in `[from, to)` (epoch ms), newest first, at most
    /// [`MAX_SLA_ROWS`], with their pauses.
    pub async fn sla_resolved_rows(&self, from: i64, to: i64) -> Result<Vec<SlaRow>, StoreError> {
        const OP: &str = "sla_resolved_rows";
        let rows = sqlx::query(
            "SELECT id, priority, level, group_name, created_at, responded_at, resolved_at \
             FROM intakes WHERE status = 'resolved' AND resolved_at >= $1 AND resolved_at < $2 \
             ORDER BY resolved_at DESC LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(MAX_SLA_ROWS)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let pauses = sqlx::query(
            "SELECT p.intake_id, p.started_at, p.ended_at FROM sla_pauses p \
             JOIN intakes i ON i.id = p.intake_id WHERE i.status = 'resolved' \
             AND i.resolved_at >= $1 AND i.resolved_at < $2 ORDER BY p.intake_id, p.started_at",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        with_pauses(&rows, &pauses, OP)
    }
}

fn with_pauses(
    rows: &[AnyRow],
    pauses: &[AnyRow],
    op: &'static str,
) -> Result<Vec<SlaRow>, StoreError> {
    let mut by_intake: HashMap<String, Vec<SlaPause>> = HashMap::new();
    for p in pauses {
        by_intake
            .entry(get(p, "intake_id", op)?)
            .or_default()
            .push(SlaPause {
                started_at: get(p, "started_at", op)?,
                ended_at: get(p, "ended_at", op)?,
            });
    }
    rows.iter()
        .map(|r| {
            let mut row = row_of(r, op)?;
            row.pauses = by_intake.remove(row.id.as_str()).unwrap_or_default();
            Ok(row)
        })
        .collect()
}
