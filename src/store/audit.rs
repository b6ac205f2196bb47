//! `audit`: one row per supervisor action (migration 5), and the day's figures the supervisor
//! view starts from (calls, voice messages and escalations since a given time).

use sqlx::any::AnyRow;

use super::codec::get;
use super::{Store, StoreError};
use crate::domain::AgentId;

/// An action to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    /// Epoch ms.
    pub at: i64,
    /// The supervisor (or admin) who acted.
    pub actor: AgentId,
    /// `agent_not_ready`, `agent_logout`, `call_priority`, `call_queue`, `agent_device`.
    pub action: String,
    /// The agent or call acted on.
    pub target: String,
    /// A JSON object with the particulars.
    pub details: serde_json::Value,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRow {
    /// `aud-…`.
    pub id: String,
    /// Epoch ms.
    pub at: i64,
    /// Who acted.
    pub actor: AgentId,
    /// What they did.
    pub action: String,
    /// To whom or what.
    pub target: String,
    /// The particulars (a JSON object).
    pub details: serde_json::Value,
}

/// Figures of the day so far, from `calls` (see docs/supervisor.md for each rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCalls {
    /// Calls that entered a queue.
    pub offered: u64,
    /// Calls answered by an agent.
    pub answered: u64,
    /// Calls whose caller hung up while queued.
    pub abandoned: u64,
    /// Answered calls that waited at most the threshold.
    pub answered_within: u64,
    /// Abandoned calls that waited longer than the threshold.
    pub abandoned_after: u64,
}

/// Escalations of the day to one level and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationCount {
    /// 2 or 3.
    pub level: u8,
    /// Group or vendor.
    pub target: String,
    /// How many.
    pub count: u64,
}

impl Store {
    /// Records a supervisor action; returns its id.
    pub async fn append_audit(&self, a: &NewAudit) -> Result<String, StoreError> {
        const OP: &str = "append_audit";
        let mut conn = self.pool.acquire().await.map_err(StoreError::query(OP))?;
        insert_audit(&mut conn, a, OP).await
    }

    /// The latest `limit` audit rows, newest first.
    pub async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        const OP: &str = "recent_audit";
        let rows = sqlx::query(
            "SELECT id, at, agent_id, action, target, details FROM audit \
             ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| audit_from_row(r, OP)).collect()
    }

    /// Calls that arrived at or after `since` (epoch ms), counted against `threshold_ms`.
    pub async fn day_calls(&self, since: i64, threshold_ms: i64) -> Result<DayCalls, StoreError> {
        const OP: &str = "day_calls";
        let row = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN queued_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS offered, \
               COALESCE(SUM(CASE WHEN connected_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS answered, \
               COALESCE(SUM(CASE WHEN outcome = 'abandoned_queue' THEN 1 ELSE 0 END), 0) \
                 AS abandoned, \
               COALESCE(SUM(CASE WHEN connected_at IS NOT NULL AND wait_ms <= $2 \
                 THEN 1 ELSE 0 END), 0) AS answered_within, \
               COALESCE(SUM(CASE WHEN outcome = 'abandoned_queue' AND queued_at IS NOT NULL \
                 AND ended_at - queued_at > $2 THEN 1 ELSE 0 END), 0) AS abandoned_after \
             FROM calls WHERE arrived_at >= $1",
        )
        .bind(since)
        .bind(threshold_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let n = |col: &'static str| -> Result<u64, StoreError> {
            let v: i64 = get(&row, col, OP)?;
            Ok(u64::try_from(v).unwrap_or(0))
        };
        Ok(DayCalls {
            offered: n("offered")?,
            answered: n("answered")?,
            abandoned: n("abandoned")?,
            answered_within: n("answered_within")?,
            abandoned_after: n("abandoned_after")?,
        })
    }

    /// Voice messages left at or after `since`.
    pub async fn voice_messages_since(&self, since: i64) -> Result<u64, StoreError> {
        const OP: &str = "voice_messages_since";
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM voice_messages WHERE created_at >= $1")
                .bind(since)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::query(OP))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Escalations (not returns) at or after `since`, by level and target.
    pub async fn escalations_since(&self, since: i64) -> Result<Vec<EscalationCount>, StoreError> {
        const OP: &str = "escalations_since";
        let rows = sqlx::query(
            "SELECT to_level, target, COUNT(*) AS n FROM escalations \
             WHERE at >= $1 AND returned = 0 GROUP BY to_level, target ORDER BY to_level, target",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter()
            .map(|r| {
                let level: i64 = get(r, "to_level", OP)?;
                let n: i64 = get(r, "n", OP)?;
                Ok(EscalationCount {
                    level: u8::try_from(level).unwrap_or(0),
                    target: get(r, "target", OP)?,
                    count: u64::try_from(n).unwrap_or(0),
                })
            })
            .collect()
    }
}

/// Inserts one audit row on `conn` (a pooled connection or a transaction, so an admin change
/// and its audit row commit together); returns its id.
pub(super) async fn insert_audit(
    conn: &mut sqlx::AnyConnection,
    a: &NewAudit,
    op: &'static str,
) -> Result<String, StoreError> {
    // Ordered like the entries: "newest first" sorts by `at`, then by id, so two entries of
    // one millisecond keep the order they were written in (a process-wide counter; a random
    // suffix keeps ids of two processes apart).
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = format!(
        "aud-{:013x}-{:010x}-{:04x}",
        a.at.max(0),
        n & 0xff_ffff_ffff,
        rand::random::<u16>()
    );
    sqlx::query(
        "INSERT INTO audit (id, at, agent_id, action, target, details) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.as_str())
    .bind(a.at)
    .bind(a.actor.as_str())
    .bind(a.action.as_str())
    .bind(a.target.as_str())
    .bind(a.details.to_string())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query(op))?;
    Ok(id)
}

fn audit_from_row(r: &AnyRow, op: &'static str) -> Result<AuditRow, StoreError> {
    let details: String = get(r, "details", op)?;
    let actor: String = get(r, "agent_id", op)?;
    Ok(AuditRow {
        id: get(r, "id", op)?,
        at: get(r, "at", op)?,
        actor: AgentId::from_string(actor),
        action: get(r, "action", op)?,
        target: get(r, "target", op)?,
        // A row this application wrote is JSON; anything else is shown as a string.
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::String(details)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::test_store;

    #[tokio::test]
    async fn audit_rows_come_back_newest_first() {
        let (store, guard) = test_store().await;
        store.load_demo().await.unwrap();
        let sanne = AgentId::from_string("agent-demo-sanne");
        for (at, action) in [(1000, "agent_logout"), (2000, "call_priority")] {
            store
                .append_audit(&NewAudit {
                    at,
                    actor: sanne.clone(),
                    action: action.into(),
                    target: "x".into(),
                    details: serde_json::json!({ "to": 1 }),
                })
                .await
                .unwrap();
        }
        let rows = store.recent_audit(10).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].action, "call_priority");
        assert_eq!(rows[0].at, 2000);
        assert_eq!(rows[0].details["to"], 1);
        assert_eq!(rows[1].action, "agent_logout");
        assert_eq!(store.recent_audit(1).await.unwrap().len(), 1);
        let day = store.day_calls(0, 20_000).await.unwrap();
        assert_eq!(day, DayCalls::default());
        assert_eq!(store.voice_messages_since(0).await.unwrap(), 0);
        assert!(store.escalations_since(0).await.unwrap().is_empty());
        guard.cleanup().await;
    }
}
