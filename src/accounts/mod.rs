//! Administration of accounts and escalation targets (issue 13 points 1 and 2): an admin
//! creates, edits, deactivates and reactivates agents, resets their desk password, sets their
//! phone's SIP password, and keeps the second-level groups and third-level vendors. Every
//! change is audited by the store in the same transaction, and takes effect at once:
//!
//! - the registrar's credential table is reloaded (a new SIP password is asked for at the
//!   phone's next REGISTER; a deactivated agent's or a changed extension's binding is dropped);
//! - the queue engine gets a signed-in agent's new queues and level (a removed skill stops new
//!   offers) or logs a deactivated agent out;
//! - sessions end in the store, and the agent's open desk feeds are told (`revoked`) so they
//!   close now rather than at their next periodic check;
//! - the desk's escalation lists are replaced.

pub mod setup;
pub mod validate;

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::acd::{AcdError, AcdHandle, AgentInfo, AgentState};
use crate::desk::frames::Lists;
use crate::desk::intakes::IntakeOps;
use crate::domain::{AgentId, Category, Device};
use crate::sip::SipCredential;
use crate::store::{AgentPatch, AgentRow, NewAgent, Store, StoreError, Target, TargetKind, now_ms};

pub use validate::Invalid;

/// Why an account change is refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field the rules refuse (422).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A taken login or extension, or a change the agent's state forbids now (409).
    #[error("{0}")]
    Conflict(String),
    /// No such agent (404).
    #[error("no such agent")]
    NotFound,
    /// The database.
    #[error(transparent)]
    Store(StoreError),
    /// The queue engine.
    #[error(transparent)]
    Acd(#[from] AcdError),
    /// Hashing a password failed.
    #[error("cannot hash the password")]
    Hash,
    /// A wrong or used setup token.
    #[error("this setup link is not valid (used, or from before a restart)")]
    Forbidden,
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => AccountError::NotFound,
            e if e.is_constraint_violation() => AccountError::Conflict(
                "an agent with that login or extension exists already".into(),
            ),
            e => AccountError::Store(e),
        }
    }
}

/// Where new SIP credentials go (the SIP endpoint's registrar; a recorder in tests).
pub type CredentialSink = Arc<dyn Fn(Vec<SipCredential>) + Send + Sync>;

/// A new account from the admin pages.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Desk login.
    pub login: String,
    /// Full name.
    pub name: String,
    /// Desk password (checked against `crate::password`'s policy, stored hashed).
    pub password: String,
    /// `agent`, `supervisor` or `admin`.
    pub role: String,
    /// 1 or 2.
    pub level: i64,
    /// Queues served.
    pub categories: Vec<Category>,
    /// SIP extension of their phone.
    pub extension: Option<String>,
    /// SIP password of their phone (needs `extension`).
    pub sip_password: Option<String>,
    /// Phone or browser.
    pub device: Device,
    /// Second-level groups.
    pub groups: Vec<String>,
}

/// The account operations; cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    acd: AcdHandle,
    ops: IntakeOps,
    realm: Arc<str>,
    credentials: CredentialSink,
    revoked: broadcast::Sender<AgentId>,
    setup: setup::SetupToken,
}

impl Accounts {
    /// Operations over `store`, telling `acd`, the registrar (through `credentials`, realm
    /// `realm`), the desk feeds (`revoked`) and the intake operations' lists.
    pub fn new(
        store: Store,
        acd: AcdHandle,
        ops: IntakeOps,
        realm: &str,
        credentials: CredentialSink,
        revoked: broadcast::Sender<AgentId>,
    ) -> Accounts {
        Accounts {
            store,
            acd,
            ops,
            realm: Arc::from(realm),
            credentials,
            revoked,
            setup: setup::SetupToken::default(),
        }
    }

    /// Opens the one-time setup when no active admin exists; returns the token for the link.
    pub async fn open_setup_if_needed(&self) -> Result<Option<String>, AccountError> {
        let agents = self.store.list_agents().await?;
        if agents.iter().any(|a| a.active && a.role == "admin") {
            return Ok(None);
        }
        Ok(Some(self.setup.issue()))
    }

    /// Whether the one-time setup is open.
    pub fn setup_pending(&self) -> bool {
        self.setup.pending()
    }

    /// Creates the first admin with the setup token (used up on success). A wrong or used token
    /// is `Forbidden`; so is a setup when an admin exists by now.
    pub async fn complete_setup(
        &self,
        token: &str,
        login: &str,
        name: &str,
        password: String,
    ) -> Result<AgentRow, AccountError> {
        if !self.setup.take(token) {
            return Err(AccountError::Forbidden);
        }
        let agents = self.store.list_agents().await?;
        if agents.iter().any(|a| a.active && a.role == "admin") {
            return Err(AccountError::Forbidden);
        }
        let made = self.create_first_admin(login, name, password).await;
        if made.is_err() {
            self.setup.restore(token);
        }
        made
    }

    async fn create_first_admin(
        &self,
        login: &str,
        name: &str,
        password: String,
    ) -> Result<AgentRow, AccountError> {
        let login = validate::login(login)?;
        crate::password::check_policy(&login, &password)
            .map_err(|e| Invalid(format!("password: {e}")))?;
        let agent = NewAgent {
            id: AgentId::from_string(format!("agent-{:016x}", rand::random::<u64>())),
            name: validate::name(name)?,
            login,
            password_hash: hash(password).await?,
            extension: None,
            categories: vec![],
            level: 1,
            role: "admin".into(),
            device: Device::Phone,
            groups: vec![],
        };
        let row = (self.store)
            .create_agent_audited(&agent, &agent.id, now_ms())
            .await?;
        tracing::info!(agent = %row.id, login = %row.login, "first admin created with the setup link");
        Ok(row)
    }

    /// Creates an account; with a SIP password its phone can register at once.
    pub async fn create(&self, by: &AgentId, a: NewAccount) -> Result<AgentRow, AccountError> {
        let login = validate::login(&a.login)?;
        let extension = match &a.extension {
            Some(e) => validate::extension(e)?,
            None => None,
        };
        if let Some(pw) = &a.sip_password {
            let ext = extension.as_deref().ok_or_else(|| {
                Invalid("SIP password: the agent needs an extension first".into())
            })?;
            validate::sip_password(ext, pw)?;
        }
        crate::password::check_policy(&login, &a.password)
            .map_err(|e| Invalid(format!("password: {e}")))?;
        let groups = self.known_groups(&a.groups).await?;
        let agent = NewAgent {
            id: AgentId::from_string(format!("agent-{:016x}", rand::random::<u64>())),
            name: validate::name(&a.name)?,
            login,
            password_hash: hash(a.password).await?,
            extension,
            categories: a.categories,
            level: validate::level(a.level)?,
            role: validate::role(&a.role)?,
            device: a.device,
            groups,
        };
        let now = now_ms();
        let mut row = self.store.create_agent_audited(&agent, by, now).await?;
        if let Some(pw) = &a.sip_password {
            (self.store)
                .set_sip_password_audited(&row.id, &self.realm, pw, by, now)
                .await?;
            self.reload_credentials().await?;
            row = self.get(&row.id).await?;
        }
        tracing::info!(agent = %row.id, login = %row.login, by = %by, "account created");
        Ok(row)
    }

    /// One account.
    pub async fn get(&self, id: &AgentId) -> Result<AgentRow, AccountError> {
        self.store
            .get_agent(id)
            .await?
            .ok_or(AccountError::NotFound)
    }

    /// Applies `patch` (validated here); returns the account after.
    pub async fn update(
        &self,
        by: &AgentId,
        id: &AgentId,
        mut patch: AgentPatch,
    ) -> Result<AgentRow, AccountError> {
        if let Some(l) = &patch.login {
            patch.login = Some(validate::login(l)?);
        }
        if let Some(n) = &patch.name {
            patch.name = Some(validate::name(n)?);
        }
        if let Some(Some(e)) = &patch.extension {
            patch.extension = Some(validate::extension(e)?);
        }
        if let Some(r) = &patch.role {
            patch.role = Some(validate::role(r)?);
        }
        if let Some(l) = patch.level {
            validate::level(l)?;
        }
        if let Some(g) = &patch.groups {
            patch.groups = Some(self.known_groups(g).await?);
        }
        if by == id && patch.role.as_deref().is_some_and(|r| r != "admin") {
            return Err(AccountError::Conflict(
                "you cannot take the admin role from yourself".into(),
            ));
        }
        let (before, after) = self.store.update_agent(id, &patch, by, now_ms()).await?;
        if before.extension != after.extension {
            self.reload_credentials().await?;
        }
        if before.categories != after.categories || before.level != after.level {
            let level = u8::try_from(after.level).unwrap_or(1);
            let info = AgentInfo {
                id: after.id.clone(),
                categories: after.categories.clone(),
                level,
            };
            self.acd.agent_update(info).await?;
        }
        if before.role != after.role {
            // Sessions read the role at each request; the desk feed re-checks now.
            let _ = self.revoked.send(after.id.clone());
        }
        Ok(after)
    }

    /// Deactivates (`active` false) or reactivates an account. Deactivation is refused for
    /// oneself and while the agent talks to a caller; it ends their sessions and desk feeds,
    /// logs them out of the queues and drops their phone's registration.
    pub async fn set_active(
        &self,
        by: &AgentId,
        id: &AgentId,
        active: bool,
    ) -> Result<AgentRow, AccountError> {
        if !active {
            if by == id {
                return Err(AccountError::Conflict(
                    "you cannot deactivate your own account".into(),
                ));
            }
            let snap = self.acd.snapshot().await?;
            if snap
                .agent(id)
                .is_some_and(|a| a.state == AgentState::OnCall)
            {
                return Err(AccountError::Conflict(
                    "the agent is on a call; deactivate them when it has ended".into(),
                ));
            }
        }
        self.store
            .set_agent_active(id, active, by, now_ms())
            .await?;
        if !active {
            match self.acd.supervisor_logout(id.clone()).await {
                Ok(()) | Err(AcdError::NotLoggedIn(_)) => {}
                Err(AcdError::UnknownAgent(_)) => {}
                Err(e) => {
                    tracing::warn!(agent = %id, error = %e, "deactivated agent not logged out")
                }
            }
            let _ = self.revoked.send(id.clone());
        }
        self.reload_credentials().await?;
        self.get(id).await
    }

    /// Sets a new desk password for the agent (policy checked); their sessions end.
    pub async fn reset_password(
        &self,
        by: &AgentId,
        id: &AgentId,
        password: String,
    ) -> Result<u64, AccountError> {
        let row = self.get(id).await?;
        crate::password::check_policy(&row.login, &password)
            .map_err(|e| Invalid(format!("password: {e}")))?;
        let hash = hash(password).await?;
        let ended = (self.store)
            .reset_agent_password(id, &hash, by, now_ms())
            .await?;
        let _ = self.revoked.send(id.clone());
        Ok(ended)
    }

    /// Sets the SIP password of the agent's phone; it applies at the phone's next REGISTER.
    pub async fn set_sip_password(
        &self,
        by: &AgentId,
        id: &AgentId,
        password: &str,
    ) -> Result<(), AccountError> {
        let row = self.get(id).await?;
        let ext = row.extension.as_deref().ok_or_else(|| {
            AccountError::Conflict("the agent has no extension; set one first".into())
        })?;
        validate::sip_password(ext, password)?;
        (self.store)
            .set_sip_password_audited(id, &self.realm, password, by, now_ms())
            .await?;
        self.reload_credentials().await
    }

    /// Creates or updates a group or vendor; the desk offers the new lists at once. Returns
    /// the target as stored.
    pub async fn save_target(
        &self,
        by: &AgentId,
        kind: TargetKind,
        t: Target,
    ) -> Result<Target, AccountError> {
        let t = Target {
            name: validate::target_name(&t.name)?,
            contact: validate::text("contact", t.contact.as_deref(), 500)?,
            notes: validate::text("notes", t.notes.as_deref(), 2000)?,
            active: t.active,
        };
        self.store.save_target(kind, &t, by, now_ms()).await?;
        self.reload_lists().await?;
        Ok(t)
    }

    /// Reads the groups and vendors into the desk's escalation lists (at start and after a
    /// change).
    pub async fn reload_lists(&self) -> Result<(), AccountError> {
        let active = |ts: Vec<Target>| -> Vec<String> {
            ts.into_iter()
                .filter(|t| t.active)
                .map(|t| t.name)
                .collect()
        };
        let lists = Lists {
            second_level: active(self.store.targets(TargetKind::Group).await?),
            third_level: active(self.store.targets(TargetKind::Vendor).await?),
        };
        self.ops.set_lists(lists);
        Ok(())
    }

    /// The channel on which deactivations, password resets and role changes are told to the
    /// agent's open desk feeds.
    pub fn revoked(&self) -> broadcast::Sender<AgentId> {
        self.revoked.clone()
    }

    /// Hands the registrar the credentials of every active agent.
    async fn reload_credentials(&self) -> Result<(), AccountError> {
        let creds = self.store.sip_credentials().await?;
        (self.credentials)(creds);
        Ok(())
    }

    /// `groups` trimmed, each an existing group (active or not: an inactive one stays on the
    /// agents that have it until an admin removes it).
    async fn known_groups(&self, groups: &[String]) -> Result<Vec<String>, AccountError> {
        let known = self.store.targets(TargetKind::Group).await?;
        let mut out = Vec::with_capacity(groups.len());
        for g in groups.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
            if !known.iter().any(|k| k.name == g) {
                return Err(Invalid(format!("group {g:?} does not exist")).into());
            }
            if !out.iter().any(|o: &String| o == g) {
                out.push(g.to_owned());
            }
        }
        Ok(out)
    }
}

/// argon2 off the async workers.
async fn hash(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || crate::password::hash(&password))
        .await
        .map_err(|_| AccountError::Hash)?
        .map_err(|_| AccountError::Hash)
}
