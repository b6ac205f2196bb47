//! Desk accounts made by directory sign-in (`agents.source = 'ldap'`, schema 10): created at a
//! person's first sign-in, their name, role and level following the directory afterwards.

use crate::store::codec::get;
use crate::store::{Store, StoreError};

impl Store {
    /// `agents.source` and `agents.active` of the account with this login.
    pub async fn agent_source(&self, login: &str) -> Result<Option<(String, bool)>, StoreError> {
        const OP: &str = "agent_source";
        let row = sqlx::query("SELECT source, active FROM agents WHERE login = $1")
            .bind(login)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        row.map(|r| Ok((get(&r, "source", OP)?, get::<i64>(&r, "active", OP)? == 1)))
            .transpose()
    }

    /// Creates or updates the desk account of a directory user at sign-in (`source = 'ldap'`):
    /// name, role and level follow the directory. `false` when the login belongs to a local
    /// account or a deactivated one (nothing changed).
    pub async fn upsert_directory_agent(
        &self,
        login: &str,
        name: &str,
        role: &str,
        level: i64,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "upsert_directory_agent";
        // A directory account has no local password: a new one gets the hash of 32 random
        // bytes nobody knows (a valid PHC string, so a local check fails quietly), made off the
        // async threads and before the write lock.
        let fresh_hash = if self.agent_source(login).await?.is_none() {
            let secret = format!("{:032x}", rand::random::<u128>());
            let hashed = tokio::task::spawn_blocking(move || crate::password::hash(&secret)).await;
            Some(
                hashed
                    .ok()
                    .and_then(Result::ok)
                    .ok_or(StoreError::Conflict(OP))?,
            )
        } else {
            None
        };
        let mut tx = self.begin_write(OP).await?;
        let existing = sqlx::query("SELECT source, active FROM agents WHERE login = $1")
            .bind(login)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
        match existing {
            Some(r) => {
                let source: String = get(&r, "source", OP)?;
                if source != "ldap" || get::<i64>(&r, "active", OP)? != 1 {
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE agents SET name = $2, role = $3, level = $4, updated_at = $5 \
                     WHERE login = $1",
                )
                .bind(login)
                .bind(name)
                .bind(role)
                .bind(level)
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            }
            None => {
                let agent = crate::store::NewAgent {
                    id: crate::domain::AgentId::from_string(format!(
                        "agent-{:016x}",
                        rand::random::<u64>()
                    )),
                    name: name.to_owned(),
                    login: login.to_owned(),
                    password_hash: fresh_hash.ok_or(StoreError::Conflict(OP))?,
                    extension: None,
                    categories: vec![
                        crate::domain::Category::Hardware,
                        crate::domain::Category::Software,
                        crate::domain::Category::Service,
                    ],
                    level,
                    role: role.to_owned(),
                    device: crate::domain::Device::Phone,
                    groups: Vec::new(),
                };
                crate::store::agents::insert_agent(&mut tx, &agent, at, OP).await?;
                sqlx::query("UPDATE agents SET source = 'ldap', updated_at = $2 WHERE login = $1")
                    .bind(login)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(OP))?;
            }
        }
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(true)
    }
}
