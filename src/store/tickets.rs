//! Ticket numbers: `FL-<year>-<5 digits>` per local calendar year (the store's time zone, from
//! `[desk] time_zone`), allocated in the transaction that inserts the intake, and the backfill
//! that numbers rows from before migration 7 at start (idempotent).
//!
//! Allocation is one atomic upsert of the year's row in `counters`
//! (`… ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`): on SQLite
//! the write transaction holds the one writer lock; on PostgreSQL the upsert locks the year's
//! row until commit, so two inserts never read the same value. A rolled-back insert rolls its
//! number back too. The unique index `intakes_ticket_no_idx` guards the rest.

use super::intakes::{search_text, write_search_words};
use super::{Store, StoreError, Zone};
use crate::domain::IntakeId;

/// The number's prefix.
const PREFIX: &str = "FL";
/// Rows numbered per backfill transaction.
const BACKFILL_BATCH: i64 = 500;

/// A row to number: id, created_at, title, description, solution.
type Unnumbered = (String, i64, Option<String>, Option<String>, Option<String>);

/// `FL-2026-00042`.
pub fn format_ticket_no(year: i32, n: i64) -> String {
    format!("{PREFIX}-{year}-{n:05}")
}

/// The ticket number a search text names, in its stored form: `FL-2026-00042`, `fl-2026-42`,
/// `FL 2026 42` and `2026-00042` all read as `FL-2026-00042` (years 2000 to 2099); anything
/// else is `None`.
pub fn parse_ticket_no(text: &str) -> Option<String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("fl")
        .map(|r| r.strip_prefix(['-', ' ']).unwrap_or(r))
        .unwrap_or(&lower);
    let (year, n) = rest.split_once(['-', ' ', '/'])?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if year.len() != 4 || !digits(year) || !digits(n) || n.len() > 9 {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let n: i64 = n.parse().ok()?;
    // A year of this century: `1234 567` is part of a phone number, not a ticket.
    ((2000..=2099).contains(&year) && n > 0).then(|| format_ticket_no(year, n))
}

/// The next ticket number for an intake created at `at` (numbered per calendar year in
/// `zone`), inside the caller's transaction.
pub(super) async fn next_ticket_no(
    conn: &mut sqlx::AnyConnection,
    zone: Zone,
    at: i64,
    op: &'static str,
) -> Result<String, StoreError> {
    let year = zone.date_of(at).year();
    let value: i64 = sqlx::query_scalar(
        "INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) \
         DO UPDATE SET value = counters.value + 1 RETURNING value",
    )
    .bind(format!("ticket:{year}"))
    .fetch_one(&mut *conn)
    .await
    .map_err(StoreError::query(op))?;
    Ok(format_ticket_no(year, value))
}

impl Store {
    /// Numbers every intake without a ticket number (rows from before migration 7), oldest
    /// first, and writes their search words (`intake_search`); returns how many. Safe to run at every start:
    /// a row numbered meanwhile by another process is left alone.
    pub async fn backfill_ticket_numbers(&self) -> Result<usize, StoreError> {
        const OP: &str = "backfill_ticket_numbers";
        let mut done = 0;
        loop {
            let rows: Vec<Unnumbered> = sqlx::query_as(
                "SELECT id, created_at, title, description, solution FROM intakes \
                     WHERE ticket_no IS NULL ORDER BY created_at, id LIMIT $1",
            )
            .bind(BACKFILL_BATCH)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
            if rows.is_empty() {
                return Ok(done);
            }
            let mut tx = self.begin_write(OP).await?;
            for (id, created_at, title, description, solution) in &rows {
                let ticket = next_ticket_no(&mut tx, self.zone, *created_at, OP).await?;
                let text = search_text(
                    title.as_deref(),
                    description.as_deref(),
                    solution.as_deref(),
                );
                let numbered = sqlx::query(
                    "UPDATE intakes SET ticket_no = $2 WHERE id = $1 AND ticket_no IS NULL",
                )
                .bind(id)
                .bind(ticket)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
                if numbered.rows_affected() == 1 {
                    let id = IntakeId::from_string(id.as_str());
                    write_search_words(&mut tx, &id, *created_at, &text, OP).await?;
                }
            }
            tx.commit().await.map_err(StoreError::query(OP))?;
            done += rows.len();
            tracing::info!(numbered = done, "ticket numbers given to older intakes");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_typed_form_reads_as_the_stored_number() {
        for typed in [
            "FL-2026-00042",
            "fl-2026-42",
            "2026-00042",
            " Fl 2026 42 ",
            "FL2026-42",
            "2026/42",
        ] {
            assert_eq!(
                parse_ticket_no(typed).as_deref(),
                Some("FL-2026-00042"),
                "{typed}"
            );
        }
        assert_eq!(
            parse_ticket_no("fl-2027-123456").as_deref(),
            Some("FL-2027-123456")
        );
        for not in [
            "",
            "FL",
            "2026",
            "FL-2026",
            "FL-26-42",
            "2026-0",
            "printer 2026-42",
            "FL-2026-4a",
            "x-2026-42",
            "2026-",
            "FL-2026-1234567890",
        ] {
            assert_eq!(parse_ticket_no(not), None, "{not}");
        }
        assert_eq!(format_ticket_no(2026, 7), "FL-2026-00007");
    }
}

#[cfg(test)]
#[path = "tickets_tests.rs"]
mod store_tests;
