//! The desk's work lists over `intakes` (issue 10): one filtered, paged, counted list (the
//! intake list, caller history, search and the second-level inbox are all this query), the
//! inbox's counts per group, and the text part of a search parsed once (ticket number, caller
//! number in any format, or words).
//!
//! Every condition is added only when asked for, so each request shape is its own prepared
//! statement and PostgreSQL can plan it with the index it needs (a catch-all
//! `($1 IS NULL OR …)` statement gets a generic plan that cannot). Indexes (migration 7):
//! `intakes_inbox_idx`, `intakes_owner_idx`, `intakes_caller_idx`, `intakes_level_idx`, and
//! from migration 4 `intakes_status_idx`, `intakes_customer_status_idx`. The word search is
//! `LIKE '%word%'` over the narrow `intake_search` table, joined only when a query has words
//! (docs/schema.md argues the cost). The list, its count and the inbox counts read through
//! `Store::read_pool` (read-only connections on SQLite).

use super::codec::get;
use super::intakes::{IntakeRecord, IntakeStatus, intake_from_row, select_intakes};
use super::sql::Sql;
use super::tickets::parse_ticket_no;
use super::{Store, StoreError};
use crate::domain::{AgentId, CustomerId};

/// Whose intakes to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OwnerFilter {
    /// Anyone's or nobody's.
    #[default]
    Any,
    /// Only unclaimed ones.
    Nobody,
    /// Only this agent's.
    Agent(AgentId),
}

/// The order of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IntakeSort {
    /// Newest first (`created_at` descending).
    #[default]
    Newest,
    /// Priority 1 first, none last, then oldest first.
    Priority,
}

/// The text of a search, read once: what the agent typed names a ticket, a caller, or words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextQuery {
    /// A ticket number in its stored form (`FL-2026-00042`).
    Ticket(String),
    /// A caller number in E.164 (typed in any format).
    Caller(String),
    /// Lower-cased words that must all occur in title, description or solution (longest first,
    /// without repeats or words contained in another).
    Words(Vec<String>),
}

impl TextQuery {
    /// Reads `q`: a ticket number (`FL-2026-00042`, `fl-2026-42`, `2026-00042`), else a phone
    /// number (digits and separators only, normalised with `country_code` like the IVR does),
    /// else words. `None` for a blank query.
    pub fn parse(q: &str, country_code: &str) -> Option<TextQuery> {
        let q = q.trim();
        if q.is_empty() {
            return None;
        }
        if let Some(ticket) = parse_ticket_no(q) {
            return Some(TextQuery::Ticket(ticket));
        }
        if is_phone_shaped(q)
            && let Ok(e164) = crate::phone::normalize(q, country_code)
        {
            return Some(TextQuery::Caller(e164.into_string()));
        }
        let mut words: Vec<String> = Vec::new();
        for w in q.to_lowercase().split_whitespace() {
            if !words.iter().any(|seen| seen.contains(w)) {
                words.retain(|seen| !w.contains(seen.as_str()));
                words.push(w.to_owned());
            }
        }
        words.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
        Some(TextQuery::Words(words))
    }
}

/// Only digits and the separators people type in numbers (`+31 (0)20-123.45/67`).
pub(crate) fn is_phone_shaped(q: &str) -> bool {
    q.chars().any(|c| c.is_ascii_digit())
        && q.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.' | '/'))
}

/// `%text%` for `LIKE … ESCAPE '\'`, lower-cased, with `%`, `_` and `\` taken literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Which intakes to list; every field left at its default matches everything.
#[derive(Debug, Clone, Default)]
pub struct IntakeFilter {
    /// Only these statuses (empty: all).
    pub statuses: Vec<IntakeStatus>,
    /// Only this customer's.
    pub customer_id: Option<CustomerId>,
    /// Only at this support level.
    pub level: Option<u8>,
    /// Only with one of these groups or vendors (`Some(vec![])` matches nothing).
    pub groups: Option<Vec<String>>,
    /// Whose.
    pub owner: OwnerFilter,
    /// Only from this caller number (as stored: E.164, or raw when it could not be normalised).
    pub caller: Option<String>,
    /// A ticket number, caller number or words.
    pub text: Option<TextQuery>,
    /// Order.
    pub sort: IntakeSort,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

impl IntakeFilter {
    /// Whether the query has words, which are matched in `intake_search`.
    fn has_words(&self) -> bool {
        matches!(self.text, Some(TextQuery::Words(_)))
    }

    /// The join (when there are words) and ` WHERE …` with every condition set.
    fn conditions(&self, sql: &mut Sql) {
        if self.has_words() {
            // `intake_search` has no column named like one of `intakes` but `intake_id`, so
            // the unqualified names of `select_intakes!` stay those of `intakes`.
            sql.push(" JOIN intake_search ON intake_id = id");
        }
        sql.push(" WHERE 1 = 1");
        if !self.statuses.is_empty() {
            sql.push(" AND status IN ")
                .list(self.statuses.iter().map(|s| s.as_str()));
        }
        if let Some(c) = &self.customer_id {
            sql.push(" AND customer_id = ").text(c.as_str());
        }
        if let Some(level) = self.level {
            sql.push(" AND level = ").int(i64::from(level));
        }
        if let Some(groups) = &self.groups {
            sql.push(" AND group_name IN ")
                .list(groups.iter().map(String::as_str));
        }
        match &self.owner {
            OwnerFilter::Any => {}
            OwnerFilter::Nobody => {
                sql.push(" AND owner_id IS NULL");
            }
            OwnerFilter::Agent(a) => {
                sql.push(" AND owner_id = ").text(a.as_str());
            }
        }
        if let Some(caller) = &self.caller {
            sql.push(" AND caller = ").text(caller.as_str());
        }
        match &self.text {
            None => {}
            Some(TextQuery::Ticket(t)) => {
                sql.push(" AND ticket_no = ").text(t.as_str());
            }
            Some(TextQuery::Caller(c)) => {
                sql.push(" AND caller = ").text(c.as_str());
            }
            Some(TextQuery::Words(words)) => {
                for w in words {
                    sql.push(" AND words LIKE ")
                        .text(contains_pattern(w))
                        .push(" ESCAPE '\\'");
                }
            }
        }
    }
}

/// One second-level group's figures for the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCount {
    /// The group.
    pub name: String,
    /// Escalated intakes at level 2 in the group.
    pub open: i64,
    /// Of those, the ones nobody claimed.
    pub unclaimed: i64,
}

impl Store {
    /// A page of intakes matching `filter`, in its order.
    pub async fn list_intake_records(
        &self,
        filter: &IntakeFilter,
    ) -> Result<Vec<IntakeRecord>, StoreError> {
        let mut sql = Sql::new(select_intakes!(""));
        filter.conditions(&mut sql);
        sql.push(match (filter.sort, filter.has_words()) {
            // The same order; with words the search table's own index gives it, so a common
            // word stops at the first page of matches.
            (IntakeSort::Newest, true) => " ORDER BY sort_at DESC, intake_id",
            (IntakeSort::Newest, false) => " ORDER BY created_at DESC, id",
            (IntakeSort::Priority, _) => " ORDER BY COALESCE(priority, 6), created_at, id",
        });
        sql.push(" LIMIT ")
            .int(filter.limit.max(0))
            .push(" OFFSET ")
            .int(filter.offset.max(0));
        const OP: &str = "list_intake_records";
        let rows = sql
            .query()
            .fetch_all(self.read_pool())
            .await
            .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| intake_from_row(r, OP)).collect()
    }

    /// How many intakes match `filter` (its page ignored).
    pub async fn count_intakes(&self, filter: &IntakeFilter) -> Result<i64, StoreError> {
        const OP: &str = "count_intakes";
        let mut sql = Sql::new("SELECT COUNT(*) AS n FROM intakes");
        filter.conditions(&mut sql);
        let row = sql
            .query()
            .fetch_one(self.read_pool())
            .await
            .map_err(StoreError::query(OP))?;
        get(&row, "n", OP)
    }

    /// The inbox figures of `groups`, in that order (zeros for a quiet group): escalated
    /// intakes at level 2 and the unclaimed ones among them.
    pub async fn group_counts(&self, groups: &[String]) -> Result<Vec<GroupCount>, StoreError> {
        const OP: &str = "group_counts";
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(
            "SELECT group_name, COUNT(*) AS open, \
             SUM(CASE WHEN owner_id IS NULL THEN 1 ELSE 0 END) AS unclaimed FROM intakes \
             WHERE status = 'escalated' AND level = 2 AND group_name IN ",
        );
        sql.list(groups.iter().map(String::as_str))
            .push(" GROUP BY group_name");
        let rows = sql
            .query()
            .fetch_all(self.read_pool())
            .await
            .map_err(StoreError::query(OP))?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let name: String = get(row, "group_name", OP)?;
            let open: i64 = get(row, "open", OP)?;
            let unclaimed: i64 = get(row, "unclaimed", OP)?;
            found.push((name, open, unclaimed));
        }
        Ok(groups
            .iter()
            .map(|g| {
                let (open, unclaimed) = found
                    .iter()
                    .find(|(name, ..)| name == g)
                    .map_or((0, 0), |(_, o, u)| (*o, *u));
                GroupCount {
                    name: g.clone(),
                    open,
                    unclaimed,
                }
            })
            .collect())
    }
}

#[cfg(test)]
#[path = "worklist_tests.rs"]
pub(crate) mod tests;
