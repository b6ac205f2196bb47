//! `directory_syncs`: the history of directory syncs and CSV imports (schema 11), one row per
//! run: when, how it ended, what it changed.

use sqlx::any::AnyRow;

use super::UpsertCounts;
use crate::store::codec::get;
use crate::store::{Store, StoreError};

/// A `directory_syncs` row: one sync or import.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncRun {
    /// `sync-…`.
    pub id: String,
    /// `ldap` or `csv`.
    pub kind: String,
    /// Epoch ms.
    pub started_at: i64,
    /// Epoch ms; `None` while running.
    pub finished_at: Option<i64>,
    /// `running`, `ok` or `failed`.
    pub status: String,
    /// People read from the source.
    pub seen: i64,
    /// New customers.
    pub inserted: i64,
    /// Customers overwritten.
    pub updated: i64,
    /// Customers deactivated (left the directory).
    pub deactivated: i64,
    /// Entries or rows refused (no id or name, a bad number).
    pub rejected: i64,
    /// Why it failed.
    pub error: Option<String>,
}

/// How a run ended, for [`Store::finish_sync_run`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// `None`: ok; `Some(why)`: failed.
    pub error: Option<String>,
    /// People read.
    pub seen: u64,
    /// What the upserts changed.
    pub counts: UpsertCounts,
    /// Customers deactivated.
    pub deactivated: u64,
    /// Entries refused.
    pub rejected: u64,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Records the start of a sync or import (`kind` `ldap` or `csv`); its id.
    pub async fn start_sync_run(&self, kind: &str, at: i64) -> Result<String, StoreError> {
        let id = format!("sync-{:016x}", rand::random::<u64>());
        sqlx::query(
            "INSERT INTO directory_syncs (id, kind, started_at, status) \
             VALUES ($1, $2, $3, 'running')",
        )
        .bind(id.as_str())
        .bind(kind)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("start_sync_run"))?;
        Ok(id)
    }

    /// Records how run `id` ended at `at`.
    pub async fn finish_sync_run(
        &self,
        id: &str,
        at: i64,
        outcome: &SyncOutcome,
    ) -> Result<(), StoreError> {
        let status = if outcome.error.is_some() {
            "failed"
        } else {
            "ok"
        };
        sqlx::query(
            "UPDATE directory_syncs SET finished_at = $2, status = $3, seen = $4, inserted = $5, \
             updated = $6, deactivated = $7, rejected = $8, error = $9 WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .bind(status)
        .bind(to_i64(outcome.seen))
        .bind(to_i64(outcome.counts.inserted))
        .bind(to_i64(outcome.counts.updated))
        .bind(to_i64(outcome.deactivated))
        .bind(to_i64(outcome.rejected))
        .bind(outcome.error.as_deref())
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("finish_sync_run"))?;
        Ok(())
    }

    /// The latest `limit` runs of `kind`, newest first.
    pub async fn recent_sync_runs(
        &self,
        kind: &str,
        limit: u32,
    ) -> Result<Vec<SyncRun>, StoreError> {
        const OP: &str = "recent_sync_runs";
        let rows = sqlx::query(
            "SELECT id, kind, started_at, finished_at, status, seen, inserted, updated, \
             deactivated, rejected, error FROM directory_syncs WHERE kind = $1 \
             ORDER BY started_at DESC, id DESC LIMIT $2",
        )
        .bind(kind)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| run_from_row(r, OP)).collect()
    }
}

fn run_from_row(r: &AnyRow, op: &'static str) -> Result<SyncRun, StoreError> {
    Ok(SyncRun {
        id: get(r, "id", op)?,
        kind: get(r, "kind", op)?,
        started_at: get(r, "started_at", op)?,
        finished_at: get(r, "finished_at", op)?,
        status: get(r, "status", op)?,
        seen: get(r, "seen", op)?,
        inserted: get(r, "inserted", op)?,
        updated: get(r, "updated", op)?,
        deactivated: get(r, "deactivated", op)?,
        rejected: get(r, "rejected", op)?,
        error: get(r, "error", op)?,
    })
}
