//! `sessions`: signed-in desk and API sessions. Only the SHA-256 of a token is stored, so a
//! leaked database does not leak usable tokens.

use super::codec::get;
use super::{Store, StoreError};
use crate::domain::AgentId;

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// Who.
    pub agent_id: AgentId,
    /// `agent`, `supervisor` or `admin`.
    pub role: String,
    /// Epoch ms after which the session is void.
    pub expires_at: i64,
}

impl Store {
    /// Stores a new session under the token's hash.
    pub async fn create_session(
        &self,
        token_hash: &str,
        agent: &AgentId,
        role: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, agent_id, role, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(agent.as_str())
        .bind(role)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("create_session"))?;
        Ok(())
    }

    /// Replaces `agent`'s desk password hash and ends their sessions but `keep` (the one that
    /// changed it), in one transaction; returns how many sessions ended.
    pub async fn change_password(
        &self,
        agent: &AgentId,
        password_hash: &str,
        keep: &str,
    ) -> Result<u64, StoreError> {
        const OP: &str = "change_password";
        let mut tx = self.begin_write(OP).await?;
        let changed = sqlx::query("UPDATE agents SET password_hash = $2 WHERE id = $1")
            .bind(agent.as_str())
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: "agent",
                id: agent.as_str().to_owned(),
            });
        }
        let ended = sqlx::query("DELETE FROM sessions WHERE agent_id = $1 AND token_hash <> $2")
            .bind(agent.as_str())
            .bind(keep)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?
            .rows_affected();
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(ended)
    }

    /// The session for a token hash, if it exists and has not expired at `now`. The role is
    /// the agent's role now, not the one at sign-in: a role change applies at the next request;
    /// a deactivated agent has no session.
    pub async fn session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRow>, StoreError> {
        const OP: &str = "session";
        let row = sqlx::query(
            "SELECT s.agent_id, a.role, s.expires_at FROM sessions s JOIN agents a ON a.id = s.agent_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.active = 1",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        row.map(|r| {
            Ok(SessionRow {
                agent_id: AgentId::from_string(get::<String>(&r, "agent_id", OP)?),
                role: get(&r, "role", OP)?,
                expires_at: get(&r, "expires_at", OP)?,
            })
        })
        .transpose()
    }

    /// Whether the agent has a session that has not expired at `now` (signed in somewhere).
    pub async fn has_session(&self, agent: &AgentId, now: i64) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions WHERE agent_id = $1 AND expires_at > $2",
        )
        .bind(agent.as_str())
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query("has_session"))?;
        Ok(n > 0)
    }

    /// Ends a session (logout).
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("delete_session"))?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("purge_sessions"))?;
        Ok(done.rows_affected())
    }
}
