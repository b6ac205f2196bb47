//! `agents`: the people who take calls, with their skills (categories) and level.

use sqlx::any::AnyRow;

use super::codec::{category_from, get};
use super::{Store, StoreError};
use crate::domain::{AgentId, Category};

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
}

/// `SELECT <every column> FROM agents` followed by `$tail`, as one `&'static str`.
macro_rules! select_agents {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, login, password_hash, extension, categories, level, created_at FROM agents",
            $tail
        )
    };
}

impl Store {
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

    /// Every agent, by level then name.
    pub async fn list_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        const OP: &str = "list_agents";
        let rows = sqlx::query(select_agents!(" ORDER BY level, name, id"))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| agent_from_row(r, OP)).collect()
    }
}

/// `[Hardware, Service]` → `"hardware,service"`.
pub(crate) fn categories_to_text(categories: &[Category]) -> String {
    categories
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn agent_from_row(row: &AnyRow, op: &'static str) -> Result<AgentRow, StoreError> {
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
    })
}
