//! Account administration (issue 13): an admin's changes to an agent — settings, deactivation,
//! a desk password reset, a SIP password — each committed with its audit row (who, what,
//! before/after) in one transaction, so no change goes unrecorded and no record lies.

use serde_json::{Value, json};

use super::agents::{AgentRow, NewAgent, categories_to_text, groups_to_text, insert_agent};
use super::audit::insert_audit;
use super::{NewAudit, Store, StoreError};
use crate::domain::{AgentId, Category};
use crate::sip::{ha1_md5, ha1_sha256};

/// What an admin changes on an agent; `None` leaves a field as it is. Values arrive validated
/// (`crate::accounts`). The device has its own route and rules (`PUT /api/agents/{id}/device`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentPatch {
    /// Full name.
    pub name: Option<String>,
    /// Desk login (unique).
    pub login: Option<String>,
    /// SIP extension; `Some(None)` removes it (and the phone's credentials with it).
    pub extension: Option<Option<String>>,
    /// Queues served.
    pub categories: Option<Vec<Category>>,
    /// Support level 1 or 2.
    pub level: Option<i64>,
    /// `agent`, `supervisor` or `admin`.
    pub role: Option<String>,
    /// Second-level groups.
    pub groups: Option<Vec<String>>,
}

/// An agent as the audit trail shows it: every setting, never a password or HA1.
pub fn agent_audit_view(a: &AgentRow) -> Value {
    json!({
        "name": a.name,
        "login": a.login,
        "extension": a.extension,
        "categories": a.categories.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "level": a.level,
        "role": a.role,
        "device": a.device.as_str(),
        "groups": a.groups,
        "active": a.active,
        "source": a.source,
    })
}

/// `{"before": {…}, "after": {…}}` with only the settings that differ.
fn diff(before: &Value, after: &Value) -> Value {
    let (mut b, mut a) = (serde_json::Map::new(), serde_json::Map::new());
    if let (Some(old), Some(new)) = (before.as_object(), after.as_object()) {
        for (k, v) in new {
            if old.get(k) != Some(v) {
                b.insert(k.clone(), old.get(k).cloned().unwrap_or(Value::Null));
                a.insert(k.clone(), v.clone());
            }
        }
    }
    json!({ "before": b, "after": a })
}

fn not_found(id: &AgentId) -> StoreError {
    StoreError::NotFound {
        what: "agent",
        id: id.as_str().to_owned(),
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

async fn agent_in(tx: &mut Tx, id: &AgentId, op: &'static str) -> Result<AgentRow, StoreError> {
    let row = sqlx::query(super::agents::SELECT_AGENT_BY_ID)
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::query(op))?;
    match row {
        Some(r) => super::agents::agent_from_row(&r, op),
        None => Err(not_found(id)),
    }
}

async fn audit_in(
    tx: &mut Tx,
    by: &AgentId,
    now: i64,
    action: &str,
    target: &AgentId,
    details: Value,
    op: &'static str,
) -> Result<(), StoreError> {
    let entry = NewAudit {
        at: now,
        actor: by.clone(),
        action: action.to_owned(),
        target: target.as_str().to_owned(),
        details,
    };
    insert_audit(tx, &entry, op).await.map(drop)
}

impl Store {
    /// Stores a new agent created by `by` on the admin pages, with its audit row; a taken login
    /// or extension is a constraint violation.
    pub async fn create_agent_audited(
        &self,
        a: &NewAgent,
        by: &AgentId,
        now: i64,
    ) -> Result<AgentRow, StoreError> {
        const OP: &str = "create_agent_audited";
        let mut tx = self.begin_write(OP).await?;
        insert_agent(&mut tx, a, now, OP).await?;
        let after = agent_in(&mut tx, &a.id, OP).await?;
        let details = json!({ "after": agent_audit_view(&after) });
        audit_in(&mut tx, by, now, "agent_create", &a.id, details, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(after)
    }

    /// Applies `patch` to the agent; returns the row before and after. A new extension drops
    /// the phone's SIP credentials (they are bound to the extension: set a SIP password again).
    pub async fn update_agent(
        &self,
        id: &AgentId,
        patch: &AgentPatch,
        by: &AgentId,
        now: i64,
    ) -> Result<(AgentRow, AgentRow), StoreError> {
        const OP: &str = "update_agent";
        let mut tx = self.begin_write(OP).await?;
        let before = agent_in(&mut tx, id, OP).await?;
        let p = patch.clone();
        let extension = p.extension.unwrap_or_else(|| before.extension.clone());
        let new_extension = extension != before.extension;
        sqlx::query(
            "UPDATE agents SET name = $2, login = $3, extension = $4, categories = $5, level = $6, \
             role = $7, groups = $8, updated_at = $9, \
             sip_ha1_md5 = CASE WHEN $10 = 1 THEN NULL ELSE sip_ha1_md5 END, \
             sip_ha1_sha256 = CASE WHEN $10 = 1 THEN NULL ELSE sip_ha1_sha256 END \
             WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(p.name.as_ref().unwrap_or(&before.name))
        .bind(p.login.as_ref().unwrap_or(&before.login))
        .bind(extension.as_deref())
        .bind(categories_to_text(
            p.categories.as_ref().unwrap_or(&before.categories),
        ))
        .bind(p.level.unwrap_or(before.level))
        .bind(p.role.as_ref().unwrap_or(&before.role))
        .bind(groups_to_text(p.groups.as_ref().unwrap_or(&before.groups)))
        .bind(now)
        .bind(i64::from(new_extension))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        let after = agent_in(&mut tx, id, OP).await?;
        let mut details = diff(&agent_audit_view(&before), &agent_audit_view(&after));
        if new_extension {
            details["sip_credentials_cleared"] = json!(true);
        }
        audit_in(&mut tx, by, now, "agent_update", id, details, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok((before, after))
    }

    /// Deactivates (`active` false) or reactivates the agent. Deactivation ends every session
    /// of theirs in the same transaction. Returns the row before the change.
    pub async fn set_agent_active(
        &self,
        id: &AgentId,
        active: bool,
        by: &AgentId,
        now: i64,
    ) -> Result<AgentRow, StoreError> {
        const OP: &str = "set_agent_active";
        let mut tx = self.begin_write(OP).await?;
        let before = agent_in(&mut tx, id, OP).await?;
        sqlx::query(
            "UPDATE agents SET active = $2, deactivated_at = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(i64::from(active))
        .bind((!active).then_some(now))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        let mut ended = 0;
        if !active {
            ended = end_sessions(&mut tx, id, OP).await?;
        }
        let action = if active {
            "agent_reactivate"
        } else {
            "agent_deactivate"
        };
        let details = json!({
            "before": { "active": before.active },
            "after": { "active": active },
            "sessions_ended": ended,
        });
        audit_in(&mut tx, by, now, action, id, details, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(before)
    }

    /// An admin sets a new desk password (hashed) for the agent: every session of theirs ends.
    /// Returns how many sessions ended.
    pub async fn reset_agent_password(
        &self,
        id: &AgentId,
        password_hash: &str,
        by: &AgentId,
        now: i64,
    ) -> Result<u64, StoreError> {
        const OP: &str = "reset_agent_password";
        let mut tx = self.begin_write(OP).await?;
        let before = agent_in(&mut tx, id, OP).await?;
        sqlx::query("UPDATE agents SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(before.id.as_str())
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
        let ended = end_sessions(&mut tx, id, OP).await?;
        let details = json!({ "sessions_ended": ended });
        audit_in(&mut tx, by, now, "agent_password_reset", id, details, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(ended)
    }

    /// An admin sets the SIP password of the agent's phone (HA1s for `realm`, user = the
    /// extension); `false` when the agent has no extension (nothing changes).
    pub async fn set_sip_password_audited(
        &self,
        id: &AgentId,
        realm: &str,
        password: &str,
        by: &AgentId,
        now: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "set_sip_password_audited";
        let mut tx = self.begin_write(OP).await?;
        let before = agent_in(&mut tx, id, OP).await?;
        let Some(ext) = before.extension.as_deref() else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE agents SET sip_ha1_md5 = $2, sip_ha1_sha256 = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(ha1_md5(ext, realm, password))
        .bind(ha1_sha256(ext, realm, password))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        let details = json!({ "extension": ext });
        audit_in(&mut tx, by, now, "agent_sip_password", id, details, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(true)
    }
}

async fn end_sessions(tx: &mut Tx, id: &AgentId, op: &'static str) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM sessions WHERE agent_id = $1")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::query(op))?
        .rows_affected())
}
