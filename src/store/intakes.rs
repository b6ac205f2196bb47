//! `intakes`: the record an agent works on, drafted by the IVR (status `draft`); the one
//! [`IntakeRecord`] and its row mapping, which the desk's queries (`desk.rs`, `worklist.rs`)
//! share; the `intake_search` row every write of title, description or solution keeps.

use sqlx::Any;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;

use super::codec::{
    category_from, dtmf_from_text, dtmf_to_text, get, language_from, priority_from,
};
use super::{Store, StoreError};
use crate::domain::{
    AgentId, CallId, Category, CustomerId, DtmfMode, IntakeId, Language, Priority,
};

/// Where an intake is in its life (`intakes.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeStatus {
    /// Written by the IVR; no agent has seen it yet.
    Draft,
    /// An agent is working on it.
    Open,
    /// Solved.
    Resolved,
    /// Handed to a higher level.
    Escalated,
    /// Closed without further work.
    Closed,
}

impl IntakeStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntakeStatus::Draft => "draft",
            IntakeStatus::Open => "open",
            IntakeStatus::Resolved => "resolved",
            IntakeStatus::Escalated => "escalated",
            IntakeStatus::Closed => "closed",
        }
    }

    /// The status with this stored name, e.g. `draft`.
    pub fn parse(s: &str) -> Option<IntakeStatus> {
        use IntakeStatus::*;
        [Draft, Open, Resolved, Escalated, Closed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What the IVR learned, to be stored as a draft.
#[derive(Debug, Clone)]
pub struct NewIntake {
    /// The call it came from (`None` for intakes opened by hand).
    pub call_id: Option<CallId>,
    /// The identified customer.
    pub customer_id: Option<CustomerId>,
    /// The caller's number (E.164 or raw).
    pub caller: Option<String>,
    /// Chosen category, `Unclassified` when skipped or failed.
    pub category: Category,
    /// Chosen priority, `None` when skipped.
    pub priority: Option<Priority>,
    /// Language served.
    pub language: Option<Language>,
    /// The menu path as digits/steps, e.g. `lang=2,cat=1,prio=3` (format set by the IVR).
    pub ivr_path: String,
    /// DTMF modes used.
    pub dtmf_mode: Vec<DtmfMode>,
    /// Free text.
    pub description: Option<String>,
    /// Epoch ms; also the initial `updated_at`.
    pub created_at: i64,
}

/// A stored intake with every column: the IVR's draft as read back and the desk's working record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeRecord {
    /// `intakes.id`.
    pub id: IntakeId,
    /// The call it came from.
    pub call_id: Option<CallId>,
    /// The linked customer.
    pub customer_id: Option<CustomerId>,
    /// The caller's number.
    pub caller: Option<String>,
    /// Category.
    pub category: Category,
    /// Priority 1..=5.
    pub priority: Option<Priority>,
    /// Language served.
    pub language: Option<Language>,
    /// IVR path.
    pub ivr_path: String,
    /// DTMF modes as stored (comma list); [`IntakeRecord::dtmf_modes`] parses them.
    pub dtmf_mode: Option<String>,
    /// Status.
    pub status: IntakeStatus,
    /// Current support level 1..=3.
    pub level: u8,
    /// Short title.
    pub title: Option<String>,
    /// Problem description.
    pub description: Option<String>,
    /// Solution, once resolved.
    pub solution: Option<String>,
    /// `phone`, `email` or `desk`.
    pub channel: String,
    /// The intake this draft was merged into (closed by "continue").
    pub merged_into: Option<IntakeId>,
    /// Who changed it last.
    pub updated_by: Option<AgentId>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
    /// Epoch ms of the resolution.
    pub resolved_at: Option<i64>,
    /// `FL-2026-00042` (`None` only for a row from before migration 7 until the backfill).
    pub ticket_no: Option<String>,
    /// The agent who claimed it.
    pub owner_id: Option<AgentId>,
    /// Epoch ms of the claim.
    pub claimed_at: Option<i64>,
    /// The second-level group or third-level vendor it is with; `None` at the first level.
    pub group_name: Option<String>,
    /// What its owner is doing with an escalated intake (`None`: nobody works it).
    pub work_state: Option<WorkState>,
    /// Epoch ms of the first response by an agent (the SLA's response clock stops).
    pub responded_at: Option<i64>,
}

/// What the owner of an escalated intake is doing with it (`intakes.work_state`, migration 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkState {
    /// Being worked on.
    InProgress,
    /// Waiting for the customer's answer: the SLA's resolution clock is paused.
    WaitingCustomer,
    /// Waiting for the vendor (third level or a supplier).
    WaitingVendor,
}

impl WorkState {
    /// Every state, in the order the desk offers them.
    pub const ALL: [WorkState; 3] = [
        WorkState::InProgress,
        WorkState::WaitingCustomer,
        WorkState::WaitingVendor,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkState::InProgress => "in_progress",
            WorkState::WaitingCustomer => "waiting_customer",
            WorkState::WaitingVendor => "waiting_vendor",
        }
    }

    /// The state stored as `s`.
    pub fn parse(s: &str) -> Option<WorkState> {
        WorkState::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// Whether the SLA's resolution clock stands still in this state.
    pub fn pauses_sla(self) -> bool {
        self == WorkState::WaitingCustomer
    }
}

impl IntakeRecord {
    /// The DTMF modes used, in stored order; `Corrupt` when the stored list names an unknown mode.
    pub fn dtmf_modes(&self) -> Result<Vec<DtmfMode>, StoreError> {
        dtmf_from_text(self.dtmf_mode.clone(), "intakes.dtmf_mode")
    }
}

/// `SELECT <every column> FROM intakes` followed by `$tail`, as one `&'static str`; run it with
/// `Store::fetch_intake`/`Store::fetch_intakes`, which map rows with [`intake_from_row`].
macro_rules! select_intakes {
    ($tail:literal) => {
        concat!(
            "SELECT id, call_id, customer_id, caller, category, priority, language, ivr_path, ",
            "dtmf_mode, status, level, title, description, solution, channel, merged_into, ",
            "updated_by, created_at, updated_at, resolved_at, ticket_no, owner_id, claimed_at, ",
            "group_name, work_state, responded_at FROM intakes",
            $tail
        )
    };
}
pub(super) use select_intakes;

impl Store {
    /// Stores a draft intake under a fresh id and the next ticket number, in one transaction.
    pub async fn insert_intake(&self, intake: &NewIntake) -> Result<IntakeId, StoreError> {
        const OP: &str = "insert_intake";
        let id = IntakeId::new_random();
        let mut tx = self.begin_write(OP).await?;
        insert_intake_on(&mut tx, self.zone, &id, intake).await?;
        let queued = self
            .enqueue_intake_in(&mut tx, "intake.created", &id, None, intake.created_at)
            .await?;
        self.commit_queued(tx, queued, OP).await?;
        Ok(id)
    }

    /// The intakes drafted during a call, oldest first.
    pub async fn intakes_for_call(
        &self,
        call_id: &CallId,
    ) -> Result<Vec<IntakeRecord>, StoreError> {
        let query = sqlx::query(select_intakes!(
            " WHERE call_id = $1 ORDER BY created_at, id"
        ))
        .bind(call_id.as_str());
        self.fetch_intakes(query, "intakes_for_call").await
    }

    /// The first row of a [`select_intakes!`] query with its values bound, mapped; a failure is
    /// reported against `op`.
    pub(super) async fn fetch_intake(
        &self,
        query: Query<'_, Any, AnyArguments>,
        op: &'static str,
    ) -> Result<Option<IntakeRecord>, StoreError> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(op))?;
        row.map(|r| intake_from_row(&r, op)).transpose()
    }

    /// Every row of a [`select_intakes!`] query with its values bound, mapped; a failure is
    /// reported against `op`.
    pub(super) async fn fetch_intakes(
        &self,
        query: Query<'_, Any, AnyArguments>,
        op: &'static str,
    ) -> Result<Vec<IntakeRecord>, StoreError> {
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(op))?;
        rows.iter().map(|r| intake_from_row(r, op)).collect()
    }
}

/// One `intakes` row read with [`select_intakes!`]; a decoding failure is reported against `op`.
pub(super) fn intake_from_row(row: &AnyRow, op: &'static str) -> Result<IntakeRecord, StoreError> {
    let status: String = get(row, "status", op)?;
    let level: i64 = get(row, "level", op)?;
    Ok(IntakeRecord {
        id: IntakeId::from_string(get::<String>(row, "id", op)?),
        call_id: get::<Option<String>>(row, "call_id", op)?.map(CallId::from_string),
        customer_id: get::<Option<String>>(row, "customer_id", op)?.map(CustomerId::from_string),
        caller: get(row, "caller", op)?,
        category: category_from(get(row, "category", op)?, "intakes.category")?,
        priority: priority_from(get(row, "priority", op)?, "intakes.priority")?,
        language: language_from(get(row, "language", op)?, "intakes.language")?,
        ivr_path: get(row, "ivr_path", op)?,
        dtmf_mode: get(row, "dtmf_mode", op)?,
        status: IntakeStatus::parse(&status).ok_or(StoreError::Corrupt {
            column: "intakes.status",
            value: status,
        })?,
        level: u8::try_from(level)
            .ok()
            .filter(|l| (1..=3).contains(l))
            .ok_or(StoreError::Corrupt {
                column: "intakes.level",
                value: level.to_string(),
            })?,
        title: get(row, "title", op)?,
        description: get(row, "description", op)?,
        solution: get(row, "solution", op)?,
        channel: get(row, "channel", op)?,
        merged_into: get::<Option<String>>(row, "merged_into", op)?.map(IntakeId::from_string),
        updated_by: get::<Option<String>>(row, "updated_by", op)?.map(AgentId::from_string),
        created_at: get(row, "created_at", op)?,
        updated_at: get(row, "updated_at", op)?,
        resolved_at: get(row, "resolved_at", op)?,
        ticket_no: get(row, "ticket_no", op)?,
        owner_id: get::<Option<String>>(row, "owner_id", op)?.map(AgentId::from_string),
        claimed_at: get(row, "claimed_at", op)?,
        group_name: get(row, "group_name", op)?,
        work_state: match get::<Option<String>>(row, "work_state", op)? {
            None => None,
            Some(w) => Some(WorkState::parse(&w).ok_or(StoreError::Corrupt {
                column: "intakes.work_state",
                value: w,
            })?),
        },
        responded_at: get(row, "responded_at", op)?,
    })
}

/// Stores (or replaces) the words the search matches for an intake created at `sort_at`, in
/// the caller's transaction (`intake_search`, migration 7).
/// Stores a draft intake under `id` with the next ticket number of its year in `zone` and its
/// search words (several statements: run it inside a transaction).
pub(super) async fn insert_intake_on(
    conn: &mut sqlx::AnyConnection,
    zone: super::Zone,
    id: &IntakeId,
    intake: &NewIntake,
) -> Result<(), StoreError> {
    const OP: &str = "insert_intake";
    let ticket = super::tickets::next_ticket_no(conn, zone, intake.created_at, OP).await?;
    sqlx::query(
        "INSERT INTO intakes (id, call_id, customer_id, caller, category, priority, language, ivr_path, \
         dtmf_mode, status, description, created_at, updated_at, ticket_no) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $11, $11, $12)",
    )
    .bind(id.as_str())
    .bind(intake.call_id.as_ref().map(CallId::as_str))
    .bind(intake.customer_id.as_ref().map(CustomerId::as_str))
    .bind(intake.caller.as_deref())
    .bind(intake.category.as_str())
    .bind(intake.priority.map(|p| i32::from(p.get())))
    .bind(intake.language.map(Language::as_str))
    .bind(&intake.ivr_path)
    .bind(dtmf_to_text(&intake.dtmf_mode))
    .bind(intake.description.as_deref())
    .bind(intake.created_at)
    .bind(ticket)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query(OP))?;
    let words = search_text(None, intake.description.as_deref(), None);
    write_search_words(conn, id, intake.created_at, &words, OP).await
}

pub(super) async fn write_search_words(
    conn: &mut sqlx::AnyConnection,
    id: &IntakeId,
    sort_at: i64,
    words: &str,
    op: &'static str,
) -> Result<(), StoreError> {
    sqlx::query::<Any>(
        "INSERT INTO intake_search (intake_id, sort_at, words) VALUES ($1, $2, $3) \
         ON CONFLICT (intake_id) DO UPDATE SET words = excluded.words",
    )
    .bind(id.as_str())
    .bind(sort_at)
    .bind(words)
    .execute(conn)
    .await
    .map_err(StoreError::query(op))?;
    Ok(())
}

/// What the word search matches: the distinct words of title, description and solution,
/// lower-cased (Unicode, in Rust, so both engines compare the same text), in first-seen order,
/// one space apart. A query word matches when it occurs inside one of them, so a repeated word
/// adds nothing but bytes to scan.
pub fn search_text(
    title: Option<&str>,
    description: Option<&str>,
    solution: Option<&str>,
) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for text in [title, description, solution].into_iter().flatten() {
        for word in text.to_lowercase().split_whitespace() {
            if seen.insert(word.to_owned()) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "intakes_tests.rs"]
mod tests;
