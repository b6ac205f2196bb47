//! `agents`: the people who take calls, with their skills (categories), level, second-level
//! groups and desk language.

use std::collections::HashMap;

use sqlx::any::AnyRow;

use super::codec::{category_from, get, language_from};
use super::sql::names_by_id;
use super::{Store, StoreError};
use crate::domain::{AgentId, Category, Device, Language};
use crate::sip::{SipCredential, ha1_md5, ha1_sha256};

/// A stored agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    /// `agents.id`.
    pub id: AgentId,
    /// Full name.
    pub name: String,
    /// Login for the desk.
    pub login: String,
    /// argon2 PHC string (`$argon2id$v=19$…`).
    pub password_hash: String,
    /// SIP user of the agent's phone.
    pub extension: Option<String>,
    /// The queues the agent serves.
    pub categories: Vec<Category>,
    /// Support level, 1 = first level.
    pub level: i64,
    /// Epoch ms.
    pub created_at: i64,
    /// Desk role: `agent`, `supervisor` or `admin`.
    pub role: String,
    /// How the agent answers hotline calls: their phone or the browser softphone.
    pub device: Device,
    /// The second-level groups the agent belongs to (their inbox), in stored order.
    pub groups: Vec<String>,
    /// The desk language the agent chose; `None`: the browser's.
    pub language: Option<Language>,
    /// False once an admin deactivated the account: no sign-in, no sessions, no phone
    /// registration; the row stays for the history that points at it.
    pub active: bool,
    /// `local` (desk password here) or `ldap` (signs in with directory credentials).
    pub source: String,
}

/// The desk roles, from least to most allowed.
pub const ROLES: &[&str] = &["agent", "supervisor", "admin"];

/// A new agent to store (demo data, `firstline admin create-user`); the password arrives hashed.
#[derive(Debug, Clone)]
pub struct NewAgent {
    /// `agents.id`.
    pub id: AgentId,
    /// Full name.
    pub name: String,
    /// Login for the desk (unique).
    pub login: String,
    /// argon2 PHC string (`crate::password::hash`).
    pub password_hash: String,
    /// SIP user of the agent's phone (unique), if any.
    pub extension: Option<String>,
    /// The queues the agent serves.
    pub categories: Vec<Category>,
    /// Support level, 1 or 2.
    pub level: i64,
    /// One of [`ROLES`].
    pub role: String,
    /// Phone or browser softphone.
    pub device: Device,
    /// Second-level groups (the inbox).
    pub groups: Vec<String>,
}

/// Inserts `a` (created at `now`, epoch ms) inside the caller's transaction. A taken id, login or
/// extension is a constraint violation (`StoreError::is_constraint_violation`).
pub(super) async fn insert_agent(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    a: &NewAgent,
    now: i64,
    op: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO agents (id, name, login, password_hash, extension, categories, level, \
         created_at, role, device, groups) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(a.id.as_str())
    .bind(&a.name)
    .bind(&a.login)
    .bind(&a.password_hash)
    .bind(a.extension.as_deref())
    .bind(categories_to_text(&a.categories))
    .bind(a.level)
    .bind(now)
    .bind(&a.role)
    .bind(a.device.as_str())
    .bind(groups_to_text(&a.groups))
    .execute(&mut **tx)
    .await
    .map_err(StoreError::query(op))?;
    Ok(())
}

/// `SELECT <every column> FROM agents` followed by `$tail`, as one `&'static str`.
macro_rules! select_agents {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, login, password_hash, extension, categories, level, created_at, role, ",
            "device, groups, language, active, source FROM agents",
            $tail
        )
    };
}

/// One agent by id (`$1`).
pub(super) const SELECT_AGENT_BY_ID: &str = select_agents!(" WHERE id = $1");

impl Store {
    /// Stores a new agent; a taken id, login or extension is a constraint violation.
    pub async fn create_agent(&self, a: &NewAgent) -> Result<(), StoreError> {
        const OP: &str = "create_agent";
        let mut tx = self.begin_write(OP).await?;
        insert_agent(&mut tx, a, super::now_ms(), OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))
    }

    /// The agent with this login (for desk sign-in).
    pub async fn agent_by_login(&self, login: &str) -> Result<Option<AgentRow>, StoreError> {
        const OP: &str = "agent_by_login";
        let row = sqlx::query(select_agents!(" WHERE login = $1"))
            .bind(login)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| agent_from_row(&r, OP)).transpose()
    }

    /// One agent by id.
    pub async fn get_agent(&self, id: &AgentId) -> Result<Option<AgentRow>, StoreError> {
        const OP: &str = "get_agent";
        let row = sqlx::query(SELECT_AGENT_BY_ID)
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| agent_from_row(&r, OP)).transpose()
    }

    /// Every agent, by level then name.
    pub async fn list_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        const OP: &str = "list_agents";
        let rows = sqlx::query(select_agents!(" ORDER BY level, name, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| agent_from_row(r, OP)).collect()
    }

    /// The agent's device; `None` when there is no such agent.
    pub async fn agent_device(&self, agent: &AgentId) -> Result<Option<Device>, StoreError> {
        const OP: &str = "agent_device";
        let text: Option<String> = sqlx::query_scalar("SELECT device FROM agents WHERE id = $1")
            .bind(agent.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        text.map(device_from).transpose()
    }

    /// Sets the agent's device; `false` when there is no such agent.
    pub async fn set_agent_device(
        &self,
        agent: &AgentId,
        device: Device,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE agents SET device = $2 WHERE id = $1")
            .bind(agent.as_str())
            .bind(device.as_str())
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("set_agent_device"))?;
        Ok(done.rows_affected() > 0)
    }
}

impl Store {
    /// Sets the agent's desk language (`None`: the browser's); `false` when there is no such
    /// agent.
    pub async fn set_agent_language(
        &self,
        agent: &AgentId,
        language: Option<Language>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE agents SET language = $2 WHERE id = $1")
            .bind(agent.as_str())
            .bind(language.map(Language::as_str))
            .execute(&self.pool)
            .await
            .map_err(StoreError::query("set_agent_language"))?;
        Ok(done.rows_affected() > 0)
    }

    /// The names of `agents` (one query); unknown ids are left out.
    pub async fn agent_names(
        &self,
        agents: &[&AgentId],
    ) -> Result<HashMap<AgentId, String>, StoreError> {
        let ids = agents.iter().map(|a| a.as_str());
        let rows = names_by_id(
            self,
            "SELECT id, name FROM agents WHERE id IN ",
            ids,
            "agent_names",
        );
        Ok(rows
            .await?
            .into_iter()
            .map(|(id, name)| (AgentId::from_string(id), name))
            .collect())
    }
}

impl Store {
    /// Digest credentials of every active agent with an extension and at least one HA1 (for the
    /// registrar).
    pub async fn sip_credentials(&self) -> Result<Vec<SipCredential>, StoreError> {
        const OP: &str = "sip_credentials";
        let rows = sqlx::query(
            "SELECT id, extension, sip_ha1_md5, sip_ha1_sha256 FROM agents \
             WHERE active = 1 AND extension IS NOT NULL AND (sip_ha1_md5 IS NOT NULL OR sip_ha1_sha256 IS NOT NULL) \
             ORDER BY extension",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        rows.iter()
            .map(|r| {
                Ok(SipCredential {
                    extension: get(r, "extension", OP)?,
                    agent_id: AgentId::from_string(get::<String>(r, "id", OP)?),
                    ha1_md5: get(r, "sip_ha1_md5", OP)?,
                    ha1_sha256: get(r, "sip_ha1_sha256", OP)?,
                })
            })
            .collect()
    }

    /// Sets the SIP password of an agent's phone: stores MD5 and SHA-256 HA1s for `realm`
    /// (user name = the agent's extension). Returns false when the agent has no extension.
    pub async fn set_agent_sip_password(
        &self,
        agent: &AgentId,
        realm: &str,
        password: &str,
    ) -> Result<bool, StoreError> {
        const OP: &str = "set_agent_sip_password";
        let ext: Option<Option<String>> =
            sqlx::query_scalar("SELECT extension FROM agents WHERE id = $1")
                .bind(agent.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::query(OP))?;
        let Some(Some(ext)) = ext else {
            return Ok(false);
        };
        sqlx::query("UPDATE agents SET sip_ha1_md5 = $1, sip_ha1_sha256 = $2 WHERE id = $3")
            .bind(ha1_md5(&ext, realm, password))
            .bind(ha1_sha256(&ext, realm, password))
            .bind(agent.as_str())
            .execute(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        Ok(true)
    }
}

/// `["Network", "Servers"]` → `"Network,Servers"` (names are trimmed; a comma cannot be in one).
pub(crate) fn groups_to_text(groups: &[String]) -> String {
    groups
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// `[Hardware, Service]` → `"hardware,service"`.
pub(crate) fn categories_to_text(categories: &[Category]) -> String {
    categories
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn agent_from_row(row: &AnyRow, op: &'static str) -> Result<AgentRow, StoreError> {
    let categories: String = get(row, "categories", op)?;
    Ok(AgentRow {
        id: AgentId::from_string(get::<String>(row, "id", op)?),
        name: get(row, "name", op)?,
        login: get(row, "login", op)?,
        password_hash: get(row, "password_hash", op)?,
        extension: get(row, "extension", op)?,
        categories: categories
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| category_from(s.to_owned(), "agents.categories"))
            .collect::<Result<_, _>>()?,
        level: get(row, "level", op)?,
        created_at: get(row, "created_at", op)?,
        role: get(row, "role", op)?,
        device: device_from(get(row, "device", op)?)?,
        groups: get::<String>(row, "groups", op)?
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        language: language_from(get(row, "language", op)?, "agents.language")?,
        active: get::<i64>(row, "active", op)? != 0,
        source: get(row, "source", op)?,
    })
}

fn device_from(text: String) -> Result<Device, StoreError> {
    Device::parse(&text).ok_or(StoreError::Corrupt {
        column: "agents.device",
        value: text,
    })
}
