//! `events`: the durable log of the one event stream, read back by sequence number.
//!
//! `seq` is assigned by the application, not the engine (no autoincrement is written the same
//! way in SQLite and PostgreSQL): the event bus numbers each event once, when it is published,
//! so live subscribers and the stored log agree; at start it continues from
//! [`Store::next_event_seq`]. The primary key refuses a number used twice. A reconnecting
//! client resumes with [`Store::events_since`] and its last seen number.

use super::codec::get;
use super::{Store, StoreError};
use crate::domain::{AgentId, CallId};

/// An event to store, already numbered by the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Position in the stream, from 1.
    pub seq: i64,
    /// Epoch ms when it happened.
    pub at: i64,
    /// Event name, e.g. `call_arrived`, `intake_drafted`.
    pub kind: String,
    /// The call it concerns.
    pub call_id: Option<CallId>,
    /// The agent it concerns.
    pub agent_id: Option<AgentId>,
    /// Event details as JSON text.
    pub payload: String,
}

/// A stored event; the same fields as [`NewEvent`].
pub type EventRow = NewEvent;

impl Store {
    /// Stores an event under its sequence number; a number already stored is a constraint
    /// violation ([`StoreError::is_constraint_violation`]).
    pub async fn append_event(&self, event: &NewEvent) -> Result<(), StoreError> {
        let mut conn = self.writer("append_event").await?;
        append_event_on(&mut conn, event).await
    }

    /// Up to `limit` events with `seq > after`, in order; `after = 0` reads from the start.
    pub async fn events_since(&self, after: i64, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        const OP: &str = "events_since";
        let rows = sqlx::query(
            "SELECT seq, at, kind, call_id, agent_id, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter()
            .map(|row| {
                Ok(EventRow {
                    seq: get(row, "seq", OP)?,
                    at: get(row, "at", OP)?,
                    kind: get(row, "kind", OP)?,
                    call_id: get::<Option<String>>(row, "call_id", OP)?.map(CallId::from_string),
                    agent_id: get::<Option<String>>(row, "agent_id", OP)?.map(AgentId::from_string),
                    payload: get(row, "payload", OP)?,
                })
            })
            .collect()
    }

    /// The number the next event gets: one past the highest stored, 1 for an empty log.
    pub async fn next_event_seq(&self) -> Result<u64, StoreError> {
        const OP: &str = "next_event_seq";
        let max: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        // `seq` is never negative (the bus counts up from 1), so this only guards a hand edit.
        u64::try_from(max)
            .map(|m| m + 1)
            .map_err(|_| StoreError::Corrupt {
                column: "events.seq",
                value: max.to_string(),
            })
    }
}

/// Stores one event under its sequence number on `conn`.
pub(super) async fn append_event_on(
    conn: &mut sqlx::AnyConnection,
    event: &NewEvent,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (seq, at, kind, call_id, agent_id, payload) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.seq)
    .bind(event.at)
    .bind(event.kind.as_str())
    .bind(event.call_id.as_ref().map(CallId::as_str))
    .bind(event.agent_id.as_ref().map(AgentId::as_str))
    .bind(event.payload.as_str())
    .execute(&mut *conn)
    .await
    .map_err(StoreError::query("append_event"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::test_store;

    fn event(seq: i64, at: i64, kind: &str) -> NewEvent {
        NewEvent {
            seq,
            at,
            kind: kind.into(),
            call_id: Some(CallId::from_string("call-1")),
            agent_id: None,
            payload: r#"{"caller":"+31201234567","digits":[1,2]}"#.into(),
        }
    }

    #[tokio::test]
    async fn append_and_resume_from_a_sequence_number() {
        let (store, guard) = test_store().await;
        assert_eq!(store.next_event_seq().await.unwrap(), 1);
        store
            .append_event(&event(1, 10, "call_arrived"))
            .await
            .unwrap();
        store.append_event(&event(2, 20, "ivr_step")).await.unwrap();
        let mut agent = event(3, 30, "agent_state");
        agent.call_id = None;
        agent.agent_id = Some(AgentId::from_string("agent-anna"));
        agent.payload = r#"{"from":"offline","to":"available"}"#.into();
        store.append_event(&agent).await.unwrap();
        assert_eq!(store.next_event_seq().await.unwrap(), 4);

        let all = store.events_since(0, 100).await.unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(all[0], event(1, 10, "call_arrived"));
        assert_eq!(all[2], agent);

        let resumed = store.events_since(1, 1).await.unwrap();
        assert_eq!(
            resumed.iter().map(|e| (e.seq, e.at)).collect::<Vec<_>>(),
            vec![(2, 20)]
        );
        assert!(store.events_since(3, 10).await.unwrap().is_empty());
        guard.cleanup().await;
    }

    #[tokio::test]
    async fn a_number_is_stored_once_and_order_follows_seq_not_insertion() {
        let (store, guard) = test_store().await;
        store.append_event(&event(7, 70, "late")).await.unwrap();
        store.append_event(&event(5, 50, "early")).await.unwrap();
        let dup = store
            .append_event(&event(7, 71, "again"))
            .await
            .unwrap_err();
        assert!(dup.is_constraint_violation(), "{dup:?}");
        let kinds: Vec<String> = store
            .events_since(0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec!["early", "late"]);
        assert_eq!(store.next_event_seq().await.unwrap(), 8);
        guard.cleanup().await;
    }
}
