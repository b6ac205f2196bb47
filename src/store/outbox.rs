//! The transactional outbox (schema 12, docs/integrations.md): one row per event and target,
//! inserted by [`enqueue_on`] inside the transaction of the change it reports, then sent by the
//! target's delivery worker in `seq` order, retried, and moved to `dead` when it cannot be.
//!
//! Which targets take which events is [`OutboxRoutes`], set once at start
//! ([`Store::set_outbox_routes`]); with no targets, nothing is written. A commit that enqueued
//! rows wakes the workers ([`Store::outbox_wake`]).

use std::sync::{Arc, RwLock};

use super::{Store, StoreError};
use crate::domain::IntakeId;

/// The most characters of an error (with the receiver's answer) a row keeps.
pub const MAX_ERROR_CHARS: usize = 2000;

/// Event kinds a target takes: exact names (`intake.resolved`), a family (`intake.*`) or `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindFilter(Vec<String>);

impl KindFilter {
    /// A filter of `patterns`; empty takes everything.
    pub fn new(patterns: &[String]) -> KindFilter {
        KindFilter(patterns.iter().map(|p| p.trim().to_owned()).collect())
    }

    /// Whether `kind` passes.
    pub fn matches(&self, kind: &str) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => kind.starts_with(prefix),
                None => p == kind,
            })
    }
}

/// The configured targets and what each takes.
#[derive(Debug, Clone, Default)]
pub struct OutboxRoutes {
    targets: Vec<(String, KindFilter)>,
}

impl OutboxRoutes {
    /// Routes to `targets` (name, filter).
    pub fn new(targets: Vec<(String, KindFilter)>) -> OutboxRoutes {
        OutboxRoutes { targets }
    }

    /// The targets that take `kind`.
    fn takers<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.targets
            .iter()
            .filter(move |(_, f)| f.matches(kind))
            .map(|(n, _)| n.as_str())
    }

    /// Whether any target takes `kind` (no work at all otherwise).
    pub fn wants(&self, kind: &str) -> bool {
        self.takers(kind).next().is_some()
    }
}

/// The routes and the workers' wake-up, shared by every clone of the store.
#[derive(Debug, Default)]
pub(super) struct OutboxShared {
    routes: RwLock<Arc<OutboxRoutes>>,
    wake: tokio::sync::Notify,
}

/// A row's delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its (next) attempt.
    Pending,
    /// The receiver took it.
    Delivered,
    /// Given up: refused by the receiver, or out of attempts. An admin may retry it.
    Dead,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Result<DeliveryState, StoreError> {
        match s {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "dead" => Ok(DeliveryState::Dead),
            other => Err(StoreError::Corrupt {
                column: "outbox.state",
                value: other.to_owned(),
            }),
        }
    }
}

/// One outbox row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxRow {
    /// Order of delivery within the target.
    pub seq: i64,
    /// The event's id (the idempotency key).
    pub event_id: String,
    /// Target name.
    pub target: String,
    /// `intake.created`, …
    pub kind: String,
    /// The intake or call id.
    pub subject: Option<String>,
    /// The event's data (JSON text).
    #[serde(skip)]
    pub payload: String,
    /// Epoch ms of the change.
    pub created_at: i64,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: i64,
    /// Not before (epoch ms).
    pub next_at: i64,
    /// The last attempt (epoch ms).
    pub last_at: Option<i64>,
    /// The receiver's last HTTP status.
    pub last_status: Option<i64>,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<i64>,
}

type RowTuple = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

macro_rules! select_outbox {
    ($tail:literal) => {
        concat!(
            "SELECT seq, event_id, target, kind, subject, payload, created_at, state, attempts, ",
            "next_at, last_at, last_status, last_error, delivered_at FROM outbox ",
            $tail
        )
    };
}

fn row_from(t: RowTuple) -> Result<OutboxRow, StoreError> {
    Ok(OutboxRow {
        seq: t.0,
        event_id: t.1,
        target: t.2,
        kind: t.3,
        subject: t.4,
        payload: t.5,
        created_at: t.6,
        state: DeliveryState::parse(&t.7)?,
        attempts: t.8,
        next_at: t.9,
        last_at: t.10,
        last_status: t.11,
        last_error: t.12,
        delivered_at: t.13,
    })
}

/// Cuts `text` to [`MAX_ERROR_CHARS`] characters.
pub fn bounded_error(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Inserts one row per target that takes `kind`, in the caller's transaction; returns how
/// many. Every row of the event shares one `event_id`.
pub(super) async fn enqueue_on(
    conn: &mut sqlx::AnyConnection,
    routes: &OutboxRoutes,
    kind: &str,
    subject: Option<&str>,
    payload: &str,
    at: i64,
) -> Result<usize, StoreError> {
    const OP: &str = "outbox_enqueue";
    let event_id = format!("evt-{:016x}", rand::random::<u64>());
    let mut n = 0;
    for target in routes.takers(kind) {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO counters (name, value) VALUES ('outbox', 1) ON CONFLICT (name) \
             DO UPDATE SET value = counters.value + 1 RETURNING value",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::query(OP))?;
        sqlx::query(
            "INSERT INTO outbox (seq, event_id, target, kind, subject, payload, created_at, \
             state, attempts, next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $7)",
        )
        .bind(seq)
        .bind(&event_id)
        .bind(target)
        .bind(kind)
        .bind(subject)
        .bind(payload)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query(OP))?;
        n += 1;
    }
    Ok(n)
}

/// Enqueues an intake event whose data is the intake as it stands in this transaction
/// ([`super::outbox_intake::intake_snapshot_on`]) plus `extra` fields (the escalation), when
/// a target takes `kind`.
pub(super) async fn enqueue_intake_on(
    conn: &mut sqlx::AnyConnection,
    routes: &OutboxRoutes,
    kind: &str,
    id: &IntakeId,
    extra: Option<(&str, serde_json::Value)>,
    at: i64,
) -> Result<usize, StoreError> {
    if !routes.wants(kind) {
        return Ok(0);
    }
    let Some(intake) = super::outbox_intake::intake_snapshot_on(conn, id).await? else {
        return Ok(0);
    };
    let mut data = serde_json::json!({ "intake": intake });
    if let (Some((key, value)), Some(obj)) = (extra, data.as_object_mut()) {
        obj.insert(key.to_owned(), value);
    }
    enqueue_on(conn, routes, kind, Some(id.as_str()), &data.to_string(), at).await
}

impl Store {
    /// Sets which targets take which events (at start, before the first write).
    pub fn set_outbox_routes(&self, routes: OutboxRoutes) {
        let mut slot = self
            .outbox
            .routes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Arc::new(routes);
    }

    /// The current routes.
    pub(crate) fn outbox_routes(&self) -> Arc<OutboxRoutes> {
        self.outbox
            .routes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// [`enqueue_intake_on`] with the current routes, inside a transaction of this store;
    /// `true` when rows were enqueued (wake the workers after the commit).
    pub(super) async fn enqueue_intake_in(
        &self,
        conn: &mut sqlx::AnyConnection,
        kind: &str,
        id: &IntakeId,
        extra: Option<(&str, serde_json::Value)>,
        at: i64,
    ) -> Result<bool, StoreError> {
        let routes = self.outbox_routes();
        Ok(enqueue_intake_on(conn, &routes, kind, id, extra, at).await? > 0)
    }

    /// Commits `tx` and, when it enqueued outbox rows (`queued`), wakes the delivery workers:
    /// the end of every write that reports to the integrations.
    pub(crate) async fn commit_queued(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        queued: bool,
        op: &'static str,
    ) -> Result<(), StoreError> {
        tx.commit().await.map_err(StoreError::query(op))?;
        if queued {
            self.outbox_wake();
        }
        Ok(())
    }

    /// Wakes the delivery workers (after a commit that may have enqueued rows).
    pub(crate) fn outbox_wake(&self) {
        self.outbox.wake.notify_waiters();
    }

    /// Resolves when [`Store::outbox_wake`] is next called (enable it before looking).
    pub fn outbox_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.outbox.wake.notified()
    }

    /// The first `limit` pending rows of `target`, in delivery order (on a reader: the writer
    /// stays free for the calls).
    pub async fn outbox_head(
        &self,
        target: &str,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows: Vec<RowTuple> = sqlx::query_as(select_outbox!(
            "WHERE target = $1 AND state = 'pending' ORDER BY seq LIMIT $2"
        ))
        .bind(target)
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(StoreError::query("outbox_head"))?;
        rows.into_iter().map(row_from).collect()
    }

    /// One row.
    pub async fn outbox_row(&self, seq: i64) -> Result<Option<OutboxRow>, StoreError> {
        let row: Option<RowTuple> = sqlx::query_as(select_outbox!("WHERE seq = $1"))
            .bind(seq)
            .fetch_optional(&self.read)
            .await
            .map_err(StoreError::query("outbox_row"))?;
        row.map(row_from).transpose()
    }

    /// `target`'s rows in `state`, newest first, before `before_seq` (paging).
    pub async fn outbox_list(
        &self,
        target: &str,
        state: DeliveryState,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows: Vec<RowTuple> = sqlx::query_as(select_outbox!(
            "WHERE target = $1 AND state = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
        ))
        .bind(target)
        .bind(state.as_str())
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.read)
        .await
        .map_err(StoreError::query("outbox_list"))?;
        rows.into_iter().map(row_from).collect()
    }

    /// Rows per target and state: `(target, state, count, oldest created_at)`.
    pub async fn outbox_counts(&self) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT target, state, COUNT(*), MIN(created_at) FROM outbox GROUP BY target, state",
        )
        .fetch_all(&self.read)
        .await
        .map_err(StoreError::query("outbox_counts"))
    }

    /// The attempt failed and will be retried at `next_at`.
    pub async fn outbox_retry_at(
        &self,
        seq: i64,
        next_at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET next_at = $2, last_status = $3, last_error = $4, \
             attempts = attempts + 1, last_at = $5 WHERE seq = $1 AND state = 'pending'",
        )
        .bind(seq)
        .bind(next_at)
        .bind(status.map(i64::from))
        .bind(bounded_error(error))
        .bind(crate::store::now_ms())
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("outbox_retry_at"))?;
        Ok(())
    }

    /// Marks rows delivered, each after one more attempt, in one statement (the worker
    /// collects a run of successes, so a healthy target costs one write per batch).
    pub async fn outbox_delivered(&self, seqs: &[i64], at: i64) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut sql = super::sql::Sql::new(
            "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_at = ",
        );
        sql.int(at)
            .push(", delivered_at = ")
            .int(at)
            .push(", last_status = NULL, last_error = NULL WHERE state = 'pending' AND seq IN ");
        sql.int_list(seqs);
        sql.query()
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("outbox_delivered"))?;
        Ok(())
    }

    /// Gives a row up: it stays, `dead`, with the error, until an admin retries it.
    pub async fn outbox_dead(
        &self,
        seq: i64,
        at: i64,
        status: Option<u16>,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET state = 'dead', last_at = $2, last_status = $3, last_error = $4, \
             attempts = attempts + 1 WHERE seq = $1",
        )
        .bind(seq)
        .bind(at)
        .bind(status.map(i64::from))
        .bind(bounded_error(error))
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("outbox_dead"))?;
        Ok(())
    }

    /// Puts a dead row of `target` back in line for delivery now; `false` when there is no
    /// such dead row. The row keeps its place (`seq`): it goes before everything newer.
    pub async fn outbox_requeue(
        &self,
        target: &str,
        seq: i64,
        at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_at = $3 \
             WHERE seq = $1 AND target = $2 AND state = 'dead'",
        )
        .bind(seq)
        .bind(target)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("outbox_requeue"))?;
        if done.rows_affected() == 1 {
            self.outbox_wake();
        }
        Ok(done.rows_affected() == 1)
    }

    /// Puts every dead row of `target` back in line; returns how many.
    pub async fn outbox_requeue_all(&self, target: &str, at: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_at = $2 \
             WHERE target = $1 AND state = 'dead'",
        )
        .bind(target)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("outbox_requeue_all"))?;
        if done.rows_affected() > 0 {
            self.outbox_wake();
        }
        Ok(done.rows_affected())
    }

    /// Deletes delivered rows delivered before `before` (retention); returns how many.
    pub async fn outbox_purge(&self, before: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM outbox WHERE state = 'delivered' AND delivered_at < $1")
                .bind(before)
                .execute(&self.pool)
                .await
                .map_err(StoreError::query("outbox_purge"))?;
        Ok(done.rows_affected())
    }

    /// Whether `target` was paused by an admin.
    pub async fn integration_paused(&self, target: &str) -> Result<bool, StoreError> {
        let paused: Option<i64> =
            sqlx::query_scalar("SELECT paused FROM integration_state WHERE target = $1")
                .bind(target)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::query("integration_paused"))?;
        Ok(paused == Some(1))
    }

    /// Pauses or resumes `target`, remembered across restarts.
    pub async fn set_integration_paused(
        &self,
        target: &str,
        paused: bool,
        by: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO integration_state (target, paused, changed_by, changed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (target) DO UPDATE SET \
             paused = excluded.paused, changed_by = excluded.changed_by, \
             changed_at = excluded.changed_at",
        )
        .bind(target)
        .bind(i32::from(paused))
        .bind(by)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("set_integration_paused"))?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
