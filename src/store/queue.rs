//! The queue part of the call record (`calls` queue columns, `call_offers`), `callbacks` and
//! `voice_messages` (issue 3).

use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use super::codec::{category_from, get, priority_from};
use super::{Store, StoreError};
use crate::domain::{AgentId, CallId, Category, IntakeId, Priority};

/// How an offer to an agent's phone ended (`call_offers.result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferResult {
    /// The agent answered.
    Answered,
    /// Rang out (ring timeout).
    NoAnswer,
    /// The phone refused (busy, decline).
    Rejected,
    /// The phone could not be reached (not registered, timeout, transport error).
    Unreachable,
    /// The caller hung up, or the offer was withdrawn.
    Cancelled,
}

impl OfferResult {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OfferResult::Answered => "answered",
            OfferResult::NoAnswer => "no_answer",
            OfferResult::Rejected => "rejected",
            OfferResult::Unreachable => "unreachable",
            OfferResult::Cancelled => "cancelled",
        }
    }
}

/// A callback request to store.
#[derive(Debug, Clone)]
pub struct NewCallback {
    /// The call it came from.
    pub call_id: Option<CallId>,
    /// The caller's intake.
    pub intake_id: Option<IntakeId>,
    /// The number to call back (E.164 where known).
    pub number: String,
    /// Where the caller's phone can be reached over SIP, if known (their Contact URI).
    pub contact: Option<String>,
    /// Queue.
    pub category: Category,
    /// Priority from the IVR.
    pub priority: Option<Priority>,
    /// The original arrival (epoch ms): the callback keeps the caller's place.
    pub queued_at: i64,
    /// When the caller asked (epoch ms).
    pub requested_at: i64,
}

/// A stored callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRow {
    /// `callbacks.id`.
    pub id: String,
    /// The call it came from.
    pub call_id: Option<String>,
    /// The intake.
    pub intake_id: Option<String>,
    /// Number to call.
    pub number: String,
    /// SIP contact, if known.
    pub contact: Option<String>,
    /// Queue.
    pub category: Category,
    /// Priority.
    pub priority: Option<Priority>,
    /// Original arrival, epoch ms.
    pub queued_at: i64,
    /// `pending`, `offered`, `connected`, `done`, `failed`, `cancelled`.
    pub status: String,
    /// Offers made so far.
    pub attempts: i64,
    /// Dials through the trunk made so far.
    pub dial_attempts: i64,
    /// Not queued again before this (epoch ms), after a dial that found nobody.
    pub retry_at: Option<i64>,
}

/// A recorded voice message to store.
#[derive(Debug, Clone)]
pub struct NewVoiceMessage {
    /// The call it was recorded on.
    pub call_id: Option<CallId>,
    /// The intake it describes.
    pub intake_id: Option<IntakeId>,
    /// The WAV file.
    pub path: String,
    /// Length.
    pub duration_ms: i64,
    /// Epoch ms.
    pub created_at: i64,
}

impl Store {
    /// The caller entered a queue.
    pub async fn set_call_queued(
        &self,
        id: &CallId,
        at: i64,
        category: Category,
        priority: Option<Priority>,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer("set_call_queued").await?;
        set_call_queued_on(&mut conn, id, at, category, priority).await
    }

    /// The caller's call was offered to an agent (their phone rings).
    pub async fn record_offer(
        &self,
        id: &CallId,
        agent: &AgentId,
        at: i64,
    ) -> Result<(), StoreError> {
        const OP: &str = "record_offer";
        let mut tx = self.begin_write(OP).await?;
        record_offer_on(&mut tx, id, agent, at).await?;
        tx.commit().await.map_err(StoreError::query(OP))
    }

    /// The open offer of `id` to `agent` ended.
    pub async fn finish_offer(
        &self,
        id: &CallId,
        agent: &AgentId,
        at: i64,
        result: OfferResult,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer("finish_offer").await?;
        finish_offer_on(&mut conn, id, agent, at, result).await
    }

    /// An agent answered: the caller is connected after waiting `wait_ms` in the queue.
    pub async fn set_call_connected(
        &self,
        id: &CallId,
        agent: &AgentId,
        at: i64,
        wait_ms: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer("set_call_connected").await?;
        set_call_connected_on(&mut conn, id, agent, at, wait_ms).await
    }

    /// The caller left the queue without an agent (hang-up, callback, message): time waited.
    pub async fn set_call_wait(&self, id: &CallId, wait_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.writer("set_call_wait").await?;
        set_call_wait_on(&mut conn, id, wait_ms).await
    }

    /// Stores a callback request unless the number already has one open (pending, offered or
    /// connected): one open callback per number (issue 11). The partial unique index
    /// `callbacks_one_open_idx` (migration 0008) decides, so two requests at the same moment
    /// cannot both pass, on SQLite or PostgreSQL.
    pub async fn insert_callback_once(
        &self,
        cb: &NewCallback,
    ) -> Result<CallbackInsert, StoreError> {
        const OP: &str = "insert_callback_once";
        // The open one may close between our insert and our look-up: then try once more.
        for _ in 0..2 {
            let id = format!("cb-{:016x}", rand::random::<u64>());
            let inserted = sqlx::query(
                "INSERT INTO callbacks (id, call_id, intake_id, number, contact, category, \
                 priority, queued_at, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id.as_str())
            .bind(cb.call_id.as_ref().map(CallId::as_str))
            .bind(cb.intake_id.as_ref().map(IntakeId::as_str))
            .bind(cb.number.as_str())
            .bind(cb.contact.as_deref())
            .bind(cb.category.as_str())
            .bind(cb.priority.map(|p| i64::from(p.get())))
            .bind(cb.queued_at)
            .bind(cb.requested_at)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query(OP))?
            .rows_affected();
            if inserted > 0 {
                return Ok(CallbackInsert::Stored(id));
            }
            let row = sqlx::query(
                "SELECT id FROM callbacks WHERE number = $1 \
                 AND status IN ('pending', 'offered', 'connected')",
            )
            .bind(cb.number.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
            if let Some(r) = row {
                return Ok(CallbackInsert::AlreadyOpen(get(&r, "id", OP)?));
            }
        }
        Err(StoreError::Conflict(OP))
    }

    /// Voice messages left from calls of `number` since `since` (epoch ms).
    pub async fn voice_messages_from(&self, number: &str, since: i64) -> Result<i64, StoreError> {
        const OP: &str = "voice_messages_from";
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM voice_messages v JOIN calls c ON c.id = v.call_id \
             WHERE c.caller = $1 AND v.created_at >= $2",
        )
        .bind(number)
        .bind(since)
        .fetch_one(&self.read)
        .await
        .map_err(StoreError::query(OP))?;
        get(&row, "n", OP)
    }

    /// Callbacks not yet done, oldest place first (re-queued at start).
    pub async fn open_callbacks(&self) -> Result<Vec<CallbackRow>, StoreError> {
        const OP: &str = "open_callbacks";
        let rows = sqlx::query(
            "SELECT id, call_id, intake_id, number, contact, category, priority, queued_at, status, \
             attempts, dial_attempts, retry_at FROM callbacks WHERE status IN ('pending', 'offered') ORDER BY queued_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| callback_from_row(r, OP)).collect()
    }

    /// Callbacks stored for one call.
    pub async fn callbacks_for_call(&self, id: &CallId) -> Result<Vec<CallbackRow>, StoreError> {
        const OP: &str = "callbacks_for_call";
        let rows = sqlx::query(
            "SELECT id, call_id, intake_id, number, contact, category, priority, queued_at, status, \
             attempts, dial_attempts, retry_at FROM callbacks WHERE call_id = $1 ORDER BY requested_at",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| callback_from_row(r, OP)).collect()
    }

    /// Moves a callback to `status` (`offered` counts an attempt; final states set the agent and time).
    pub async fn set_callback_status(
        &self,
        id: &str,
        status: &'static str,
        agent: Option<&AgentId>,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE callbacks SET status = $2, agent_id = COALESCE($3, agent_id), \
             attempts = attempts + CASE WHEN $2 = 'offered' THEN 1 ELSE 0 END, \
             completed_at = CASE WHEN $2 IN ('done', 'failed', 'cancelled') THEN $4 ELSE completed_at END \
             WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(agent.map(AgentId::as_str))
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("set_callback_status"))?;
        Ok(())
    }

    /// Stores a voice message's record; returns its id.
    pub async fn insert_voice_message(&self, vm: &NewVoiceMessage) -> Result<String, StoreError> {
        let id = new_voice_message_id();
        let mut conn = self.writer("insert_voice_message").await?;
        insert_voice_message_on(&mut conn, &id, vm).await?;
        Ok(id)
    }
}

/// What `insert_callback_once` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackInsert {
    /// Stored with this id.
    Stored(String),
    /// The number already has this callback open; nothing was stored.
    AlreadyOpen(String),
}

fn callback_from_row(r: &AnyRow, op: &'static str) -> Result<CallbackRow, StoreError> {
    Ok(CallbackRow {
        id: get(r, "id", op)?,
        call_id: get(r, "call_id", op)?,
        intake_id: get(r, "intake_id", op)?,
        number: get(r, "number", op)?,
        contact: get(r, "contact", op)?,
        category: category_from(get(r, "category", op)?, "callbacks.category")?,
        priority: priority_from(get(r, "priority", op)?, "callbacks.priority")?,
        queued_at: get(r, "queued_at", op)?,
        status: get(r, "status", op)?,
        attempts: get(r, "attempts", op)?,
        dial_attempts: get(r, "dial_attempts", op)?,
        retry_at: get(r, "retry_at", op)?,
    })
}

/// A fresh voice message id (`vm-` and 16 hex digits).
pub fn new_voice_message_id() -> String {
    format!("vm-{:016x}", rand::random::<u64>())
}

/// Sets when the caller entered the queue, with their choice.
pub(super) async fn set_call_queued_on(
    conn: &mut AnyConnection,
    id: &CallId,
    at: i64,
    category: Category,
    priority: Option<Priority>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE calls SET queued_at = $2, category = $3, priority = $4 WHERE id = $1")
        .bind(id.as_str())
        .bind(at)
        .bind(category.as_str())
        .bind(priority.map(|p| i64::from(p.get())))
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query("set_call_queued"))?;
    Ok(())
}

/// Counts an offer on the call and opens its `call_offers` row (two statements: run it inside
/// a transaction).
pub(super) async fn record_offer_on(
    conn: &mut AnyConnection,
    id: &CallId,
    agent: &AgentId,
    at: i64,
) -> Result<(), StoreError> {
    const OP: &str = "record_offer";
    sqlx::query(
        "UPDATE calls SET offers = offers + 1, offered_at = COALESCE(offered_at, $2) WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(at)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query(OP))?;
    sqlx::query("INSERT INTO call_offers (call_id, agent_id, offered_at) VALUES ($1, $2, $3)")
        .bind(id.as_str())
        .bind(agent.as_str())
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query(OP))?;
    Ok(())
}

/// Closes the open offer of `id` to `agent` with its result.
pub(super) async fn finish_offer_on(
    conn: &mut AnyConnection,
    id: &CallId,
    agent: &AgentId,
    at: i64,
    result: OfferResult,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE call_offers SET ended_at = $3, result = $4 \
         WHERE call_id = $1 AND agent_id = $2 AND ended_at IS NULL",
    )
    .bind(id.as_str())
    .bind(agent.as_str())
    .bind(at)
    .bind(result.as_str())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query("finish_offer"))?;
    Ok(())
}

/// Records who took the call, when, and how long the caller waited.
pub(super) async fn set_call_connected_on(
    conn: &mut AnyConnection,
    id: &CallId,
    agent: &AgentId,
    at: i64,
    wait_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE calls SET agent_id = $2, connected_at = $3, wait_ms = $4 WHERE id = $1")
        .bind(id.as_str())
        .bind(agent.as_str())
        .bind(at)
        .bind(wait_ms)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query("set_call_connected"))?;
    Ok(())
}

/// Records the time waited unless one is recorded already.
pub(super) async fn set_call_wait_on(
    conn: &mut AnyConnection,
    id: &CallId,
    wait_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE calls SET wait_ms = $2 WHERE id = $1 AND wait_ms IS NULL")
        .bind(id.as_str())
        .bind(wait_ms)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query("set_call_wait"))?;
    Ok(())
}

/// Stores a voice message's record under `id`.
pub(super) async fn insert_voice_message_on(
    conn: &mut AnyConnection,
    id: &str,
    vm: &NewVoiceMessage,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO voice_messages (id, call_id, intake_id, path, duration_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(vm.call_id.as_ref().map(CallId::as_str))
    .bind(vm.intake_id.as_ref().map(IntakeId::as_str))
    .bind(vm.path.as_str())
    .bind(vm.duration_ms)
    .bind(vm.created_at)
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query("insert_voice_message"))?;
    Ok(())
}

#[cfg(test)]
#[path = "queue_bounds_tests.rs"]
mod bounds_tests;
