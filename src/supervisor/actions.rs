//! Supervisor actions on the queue engine (an agent not ready or logged out, a waiting caller's
//! priority or queue), each written to `audit` with who, what and when (docs/supervisor.md),
//! and audit rows as the routes answer them: with the actor's and the target's names.
//! [`audit`] is shared with the agents API (a supervisor setting an agent's device).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::acd::{AcdError, AcdHandle, EntryId};
use crate::domain::{AgentId, CallId, Category, Priority};
use crate::store::{AuditRow, NewAudit, Store, StoreError, now_ms};

/// Why an action was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such agent, or no such waiting caller.
    #[error("{0}")]
    NotFound(String),
    /// Not possible in the current state (e.g. the agent is on a call, the caller is ringing).
    #[error("{0}")]
    Conflict(String),
    /// The queue engine has stopped (server shutting down).
    #[error("the queue engine has stopped")]
    Stopped,
    /// The action was applied but could not be audited, or a read failed.
    #[error("cannot write the audit row")]
    Store(#[from] StoreError),
}

impl From<AcdError> for ActionError {
    fn from(e: AcdError) -> Self {
        match e {
            AcdError::UnknownAgent(_) | AcdError::UnknownEntry(_) => {
                ActionError::NotFound(e.to_string())
            }
            AcdError::Stopped => ActionError::Stopped,
            other => ActionError::Conflict(other.to_string()),
        }
    }
}

/// The actions, over the queue engine and the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Actions {
    acd: AcdHandle,
    store: Store,
}

impl Actions {
    /// Actions on `acd`, audited in `store`.
    pub fn new(acd: AcdHandle, store: Store) -> Actions {
        Actions { acd, store }
    }

    /// Sets `agent` not ready with `reason`; returns the audit row's details.
    pub async fn agent_not_ready(
        &self,
        actor: &AgentId,
        agent: &AgentId,
        reason: &str,
    ) -> Result<serde_json::Value, ActionError> {
        self.acd
            .supervisor_not_ready(agent.clone(), reason.to_owned())
            .await?;
        let details = json!({ "reason": reason });
        self.audit(actor, "agent_not_ready", agent.as_str(), details)
            .await
    }

    /// Logs `agent` out of the queues (refused while they are on a call).
    pub async fn agent_logout(
        &self,
        actor: &AgentId,
        agent: &AgentId,
    ) -> Result<serde_json::Value, ActionError> {
        self.acd.supervisor_logout(agent.clone()).await?;
        self.audit(actor, "agent_logout", agent.as_str(), json!({}))
            .await
    }

    /// Sets a waiting caller's priority (1 first, 5 last).
    pub async fn call_priority(
        &self,
        actor: &AgentId,
        call: &CallId,
        priority: Priority,
    ) -> Result<serde_json::Value, ActionError> {
        let entry = EntryId::from(call);
        let snap = self.acd.snapshot().await?;
        let from = snap
            .entry(&entry)
            .map(|e| e.priority.get())
            .ok_or_else(|| ActionError::NotFound(format!("no waiting caller {call}")))?;
        self.acd.set_priority(entry, priority).await?;
        let mut details = json!({ "from": from, "to": priority.get() });
        self.name_caller(call, &mut details).await;
        self.audit(actor, "call_priority", call.as_str(), details)
            .await
    }

    /// Moves a waiting caller to another queue (refused while an agent's phone rings for them).
    pub async fn call_queue(
        &self,
        actor: &AgentId,
        call: &CallId,
        queue: Category,
    ) -> Result<serde_json::Value, ActionError> {
        let entry = EntryId::from(call);
        let snap = self.acd.snapshot().await?;
        let from = snap
            .entry(&entry)
            .map(|e| e.category)
            .ok_or_else(|| ActionError::NotFound(format!("no waiting caller {call}")))?;
        self.acd.move_entry(entry, queue).await?;
        let mut details = json!({ "from": from, "to": queue });
        self.name_caller(call, &mut details).await;
        self.audit(actor, "call_queue", call.as_str(), details)
            .await
    }

    /// Adds `caller` (and `customer_name`, when known) to a call action's details, so the
    /// entry names the caller even after the call is gone.
    async fn name_caller(&self, call: &CallId, details: &mut Value) {
        match crate::desk::pop::caller_of(&self.store, call).await {
            Ok(Some((caller, customer))) => {
                details["caller"] = Value::from(caller);
                if let Some(name) = customer {
                    details["customer_name"] = Value::from(name);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, %call, "cannot name the caller of an action"),
        }
    }

    async fn audit(
        &self,
        actor: &AgentId,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) -> Result<serde_json::Value, ActionError> {
        Ok(audit(&self.store, actor, action, target, details).await?)
    }
}

/// Writes one audit row (`actor` did `action` to `target`) and returns it as the supervisor
/// routes answer it (see [`named`]). Also used by actions outside the queue engine (an agent's
/// device).
pub async fn audit(
    store: &Store,
    actor: &AgentId,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<serde_json::Value, StoreError> {
    let at = now_ms();
    let id = store
        .append_audit(&NewAudit {
            at,
            actor: actor.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            details: details.clone(),
        })
        .await?;
    let row = AuditRow {
        id,
        at,
        actor: actor.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        details,
    };
    Ok(named(store, vec![row]).await?.pop().unwrap_or(Value::Null))
}

/// Audit rows as the supervisor routes answer them: `{id, at, actor, actor_name, action,
/// target, target_name, details}`. `actor_name` is the agent's name; `target_name` the agent's
/// name for agent actions (`agent_…`), the caller recorded in `details.caller` for call actions;
/// `null` when unknown. One read of the agents for the whole list.
pub async fn named(store: &Store, rows: Vec<AuditRow>) -> Result<Vec<Value>, StoreError> {
    let names: HashMap<AgentId, String> = store
        .list_agents()
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let target_name = if r.action.starts_with("agent_") {
                names.get(&AgentId::from_string(r.target.as_str())).cloned()
            } else {
                r.details
                    .get("caller")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            json!({
                "id": r.id, "at": r.at, "actor": r.actor, "actor_name": names.get(&r.actor),
                "action": r.action, "target": r.target, "target_name": target_name,
                "details": r.details,
            })
        })
        .collect())
}
