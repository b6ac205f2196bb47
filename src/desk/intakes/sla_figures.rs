//! SLA figures per level and group: the open intakes' timers now (the supervisor view and
//! `/metrics`) and the resolved intakes' over a period (the report). One evaluation of the
//! intakes' timers (`views::sla_of`'s policy), tallied by `sla::summarize`, off the runtime's
//! worker threads: a calendar walk per intake is CPU work.

use std::sync::Arc;

use serde::Serialize;

use super::{DeskError, IntakeOps};
use crate::sla::{GroupSla, summarize};
use crate::store::{MAX_SLA_ROWS, SlaRow, now_ms};

/// SLA figures at an instant.
#[derive(Debug, Clone, Serialize)]
pub struct SlaFigures {
    /// Whether `[sla]` has targets at all.
    pub enabled: bool,
    /// Epoch ms the timers were evaluated at.
    pub at: i64,
    /// True when there were more than `MAX_SLA_ROWS` intakes and only the newest were counted.
    pub cut: bool,
    /// Per level and group.
    pub groups: Vec<GroupSla>,
}

/// How long the open intakes' figures are reused: `/metrics` scrapes and every supervisor's
/// page ask for them, and each answer walks the calendar of every open intake.
const OPEN_FIGURES_FOR_MS: i64 = 5_000;

/// The last open-intake figures (a std lock, held only to clone or swap the `Arc`).
#[derive(Debug, Default)]
pub(crate) struct OpenFigures(std::sync::Mutex<Option<Arc<SlaFigures>>>);

impl IntakeOps {
    /// The timers of every open intake now (the same answer for up to 5 s).
    pub async fn sla_open(&self) -> Result<Arc<SlaFigures>, DeskError> {
        let fresh = |f: &Arc<SlaFigures>| now_ms() - f.at < OPEN_FIGURES_FOR_MS;
        let cached = match self.open_figures.0.lock() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(f) = cached.filter(fresh) {
            return Ok(f);
        }
        let rows = if self.sla.enabled() {
            self.store.sla_open_rows().await?
        } else {
            Vec::new()
        };
        let figures = Arc::new(self.figures(rows, now_ms()).await);
        match self.open_figures.0.lock() {
            Ok(mut c) => *c = Some(figures.clone()),
            Err(poisoned) => *poisoned.into_inner() = Some(figures.clone()),
        }
        Ok(figures)
    }

    /// The timers of the intakes resolved in `[from, to)` (epoch ms).
    pub async fn sla_resolved(&self, from: i64, to: i64) -> Result<SlaFigures, DeskError> {
        if !self.sla.enabled() {
            return Ok(self.figures(Vec::new(), now_ms()).await);
        }
        let rows = self.store.sla_resolved_rows(from, to).await?;
        Ok(self.figures(rows, now_ms()).await)
    }

    async fn figures(&self, rows: Vec<SlaRow>, now: i64) -> SlaFigures {
        let policy = self.sla.clone();
        let cut = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= MAX_SLA_ROWS;
        let enabled = policy.enabled();
        let tally = move || {
            summarize(rows.into_iter().filter_map(|r| {
                let view = policy.evaluate_with_pauses(
                    r.priority,
                    (r.created_at, r.responded_at, r.resolved_at),
                    r.pauses.iter().map(|p| (p.started_at, p.ended_at)),
                    now,
                )?;
                Some((r.level, r.group_name, view))
            }))
        };
        // A panic in the tally (a bug) loses these figures, not the caller.
        let groups = tokio::task::spawn_blocking(tally).await.unwrap_or_default();
        SlaFigures {
            enabled,
            at: now,
            cut,
            groups,
        }
    }
}
