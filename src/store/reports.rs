//! Reports over the stored history (issue 5 point 4): per day and queue, per agent, and the
//! rows of the CSV exports.
//!
//! The SQL only selects rows by epoch-ms ranges (`col >= $1 AND col < $2`), so it reads the same
//! on SQLite and PostgreSQL; local day boundaries come from [`Zone`] and every figure (sums,
//! averages, p90, service level) is computed in Rust (`compute`). Formulas: docs/schema.md.

mod compute;
mod export;
#[cfg(test)]
pub(crate) mod tests;
mod tz;

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::any::AnyRow;

use super::codec::get;
use super::{Store, StoreError};
use compute::{CallFact, EscalationFact, StateChange};

pub use export::{Cell, ExportTable};
pub use tz::{Date, Zone};

/// Longest range a report or export may cover, in days.
pub const MAX_REPORT_DAYS: usize = 366;

/// Local calendar days `first..=last` in a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportRange {
    /// First day (inclusive).
    pub first: Date,
    /// Last day (inclusive).
    pub last: Date,
    /// The zone whose midnights bound the days.
    pub zone: Zone,
}

impl ReportRange {
    /// The range, unless `last` is before `first` or it spans more than [`MAX_REPORT_DAYS`].
    pub fn new(first: Date, last: Date, zone: Zone) -> Option<ReportRange> {
        let span = last.days_since_epoch() - first.days_since_epoch() + 1;
        let max = i64::try_from(MAX_REPORT_DAYS).unwrap_or(i64::MAX);
        (1..=max)
            .contains(&span)
            .then_some(ReportRange { first, last, zone })
    }

    /// Epoch ms of the first day's local midnight (inclusive bound).
    pub fn start_ms(&self) -> i64 {
        self.zone.day_start_ms(self.first)
    }

    /// Epoch ms of the local midnight after the last day (exclusive bound).
    pub fn end_ms(&self) -> i64 {
        self.zone.day_start_ms(self.last.succ())
    }

    /// How many days the range holds.
    pub fn day_count(&self) -> usize {
        let span = self.last.days_since_epoch() - self.first.days_since_epoch() + 1;
        usize::try_from(span).unwrap_or(0)
    }
}

/// The figures of one queue (or of all queues) on one day; formulas in docs/schema.md.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueFigures {
    /// `hardware`, `software`, `service`, `unclassified`, or `all`.
    pub queue: &'static str,
    /// Calls that entered the queue.
    pub offered: u64,
    /// Calls an agent answered.
    pub answered: u64,
    /// Answered with `wait_ms` ≤ the threshold.
    pub answered_within_threshold: u64,
    /// Callers who hung up while waiting (`abandoned_queue`).
    pub abandoned: u64,
    /// Abandoned with `wait_ms` > the threshold.
    pub abandoned_after_threshold: u64,
    /// Callers who left the queue with a callback request.
    pub callbacks: u64,
    /// Callers who left a voice message.
    pub voice_messages: u64,
    /// Calls ended after the maximum wait.
    pub max_wait: u64,
    /// Mean wait of the answered calls.
    pub avg_wait_ms: Option<i64>,
    /// 90th percentile (nearest rank) wait of the answered calls.
    pub p90_wait_ms: Option<i64>,
    /// Mean talk time (`ended_at - connected_at`) of the answered calls.
    pub avg_handle_ms: Option<i64>,
    /// answered within / (answered + abandoned after threshold); `None` when both are 0.
    pub service_level: Option<f64>,
    /// Escalations made that day by target level (`"2"`, `"3"`), by the intake's category.
    pub escalations: BTreeMap<String, u64>,
    /// Returns to the first level that day.
    pub returned: u64,
}

/// One local day of the daily report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayReport {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Every call that arrived that day (queued or not).
    pub calls: u64,
    /// Callers who hung up in the IVR menu.
    pub abandoned_ivr: u64,
    /// The four queues together.
    pub all: QueueFigures,
    /// Per queue, in the order hardware, software, service, unclassified.
    pub queues: Vec<QueueFigures>,
}

/// One agent in the agents report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentFigures {
    /// `agents.id`.
    pub agent_id: String,
    /// Full name.
    pub name: String,
    /// Answered calls connected to this agent in the range.
    pub calls: u64,
    /// Their total talk time.
    pub handle_ms: i64,
    /// Mean talk time.
    pub avg_handle_ms: Option<i64>,
    /// Milliseconds in each state within the range (up to now for a range not yet over).
    pub state_ms: BTreeMap<String, i64>,
}

impl Store {
    /// Per local day and queue: offered, answered, abandoned, waits, handling time, service
    /// level (`threshold_ms` bounds "answered within"), escalations by level.
    pub async fn daily_report(
        &self,
        range: &ReportRange,
        threshold_ms: i64,
    ) -> Result<Vec<DayReport>, StoreError> {
        const OP: &str = "daily_report";
        let calls = self
            .rows_in_range(
                "SELECT arrived_at, category, queued_at, outcome, wait_ms, connected_at, \
                 ended_at FROM calls WHERE arrived_at >= $1 AND arrived_at < $2",
                range,
                OP,
            )
            .await?
            .iter()
            .map(|r| {
                Ok(CallFact {
                    arrived_at: get(r, "arrived_at", OP)?,
                    category: get(r, "category", OP)?,
                    queued: get::<Option<i64>>(r, "queued_at", OP)?.is_some(),
                    outcome: get(r, "outcome", OP)?,
                    wait_ms: get(r, "wait_ms", OP)?,
                    connected_at: get(r, "connected_at", OP)?,
                    ended_at: get(r, "ended_at", OP)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let escalations = self
            .rows_in_range(
                "SELECT e.at, i.category, e.to_level, e.returned FROM escalations e \
                 JOIN intakes i ON i.id = e.intake_id WHERE e.at >= $1 AND e.at < $2",
                range,
                OP,
            )
            .await?
            .iter()
            .map(|r| {
                Ok(EscalationFact {
                    at: get(r, "at", OP)?,
                    category: get(r, "category", OP)?,
                    to_level: get(r, "to_level", OP)?,
                    returned: get::<i64>(r, "returned", OP)? != 0,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(compute::daily(range, &calls, &escalations, threshold_ms))
    }

    /// Per agent (every row of `agents`, by name): answered calls connected in the range (a
    /// transferred call counts for each agent who talked on it, with their own talk time), their
    /// talk time, and time in each state from the `agent_state` events, counted up to `now_ms`.
    pub async fn agent_report(
        &self,
        range: &ReportRange,
        now_ms: i64,
    ) -> Result<Vec<AgentFigures>, StoreError> {
        const OP: &str = "agent_report";
        let (start, end) = (range.start_ms(), range.end_ms());
        let agents = sqlx::query("SELECT id, name FROM agents ORDER BY name, id")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        let mut handles: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let answered = self
            .rows_in_range(
                // A transferred call's talk is its legs' (migration 16), each agent their own.
                "SELECT agent_id, connected_at, ended_at FROM calls WHERE connected_at IS NOT NULL \
                 AND agent_id IS NOT NULL AND transfers = 0 AND connected_at >= $1 AND connected_at < $2 \
                 UNION ALL SELECT agent_id, connected_at, ended_at FROM call_legs \
                 WHERE agent_id IS NOT NULL AND connected_at >= $1 AND connected_at < $2",
                range,
                OP,
            )
            .await?;
        for r in answered {
            let connected: i64 = get(&r, "connected_at", OP)?;
            let ended: Option<i64> = get(&r, "ended_at", OP)?;
            let talk = ended.map_or(0, |e| (e - connected).max(0));
            handles
                .entry(get(&r, "agent_id", OP)?)
                .or_default()
                .push(talk);
        }
        // The state each agent was in when the range began: its last change before `start`.
        let mut before: BTreeMap<String, String> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT e.agent_id, e.payload FROM events e WHERE e.kind = 'agent_state' AND e.seq = \
             (SELECT MAX(x.seq) FROM events x WHERE x.kind = 'agent_state' \
              AND x.agent_id = e.agent_id AND x.at < $1)",
        )
        .bind(start)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?
        {
            if let (Some(agent), Some(change)) = (
                get::<Option<String>>(&r, "agent_id", OP)?,
                parse_change(&r, 0, OP)?,
            ) {
                before.insert(agent, change.to);
            }
        }
        let mut changes: BTreeMap<String, Vec<StateChange>> = BTreeMap::new();
        let in_range = self
            .rows_in_range(
                "SELECT agent_id, at, payload FROM events WHERE kind = 'agent_state' \
                 AND at >= $1 AND at < $2 ORDER BY at, seq",
                range,
                OP,
            )
            .await?;
        for r in in_range {
            let at: i64 = get(&r, "at", OP)?;
            if let (Some(agent), Some(change)) = (
                get::<Option<String>>(&r, "agent_id", OP)?,
                parse_change(&r, at, OP)?,
            ) {
                changes.entry(agent).or_default().push(change);
            }
        }
        let until = end.min(now_ms);
        agents
            .iter()
            .map(|r| {
                let id: String = get(r, "id", OP)?;
                let state_ms = compute::time_in_states(
                    before.get(&id).map(String::as_str),
                    changes.get(&id).map_or(&[], Vec::as_slice),
                    start,
                    until,
                );
                let talk = handles.get(&id).map_or(&[][..], Vec::as_slice);
                let name = get(r, "name", OP)?;
                Ok(compute::agent_figures(id, name, talk, state_ms))
            })
            .collect()
    }

    /// Every row of `sql`, run with the range's epoch-ms bounds as `$1` (inclusive) and `$2`
    /// (exclusive); a failure is reported against `op`.
    async fn rows_in_range(
        &self,
        sql: &'static str,
        range: &ReportRange,
        op: &'static str,
    ) -> Result<Vec<AnyRow>, StoreError> {
        sqlx::query(sql)
            .bind(range.start_ms())
            .bind(range.end_ms())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(op))
    }
}

/// The `from`/`to` of an `agent_state` payload; `None` (skipped, logged) when unreadable.
fn parse_change(r: &AnyRow, at: i64, op: &'static str) -> Result<Option<StateChange>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Payload {
        from: String,
        to: String,
    }
    let payload: String = get(r, "payload", op)?;
    match serde_json::from_str::<Payload>(&payload) {
        Ok(p) => Ok(Some(StateChange {
            at,
            from: p.from,
            to: p.to,
        })),
        Err(e) => {
            tracing::warn!(error = %e, "agent_state event without from/to; skipped");
            Ok(None)
        }
    }
}
