//! The admin API under `/api/admin` (issue 13 point 1): agents (create, edit, deactivate,
//! reactivate, desk password reset, SIP password), second-level groups and third-level
//! vendors. Changes need the `admin` role; supervisors may read the lists. Every change is
//! audited and in effect at once (`crate::accounts`). Shapes: docs/api.md "Administration".

use axum::extract::{DefaultBodyLimit, Path};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::agents::AgentView;
use super::auth::{Session, require_role};
use super::error::{ApiError, ApiJson, BODY_LIMIT, not_found};
use crate::accounts::{AccountError, Accounts, NewAccount};
use crate::domain::{AgentId, Category, Device};
use crate::store::{AgentPatch, AgentRow, Target, TargetKind};

const ADMINS: &[&str] = &["admin"];
const READERS: &[&str] = &["supervisor", "admin"];
/// The longest id or name a path may carry.
const MAX_PATH_ID: usize = 200;

/// The admin routes; [`Accounts`] reaches the handlers as an extension.
pub(super) fn router(api: ApiState, accounts: Accounts) -> Router {
    let accounts_for_setup = accounts.clone();
    let routes = Router::new()
        .route("/agents", get(list_agents).post(create_agent))
        .route("/agents/{id}", get(get_agent).patch(update_agent))
        .route("/agents/{id}/deactivate", post(deactivate))
        .route("/agents/{id}/reactivate", post(reactivate))
        .route("/agents/{id}/password", put(reset_password))
        .route("/agents/{id}/sip-password", put(set_sip_password))
        .route("/groups", get(list_groups))
        .route("/groups/{name}", put(save_group))
        .route("/vendors", get(list_vendors))
        .route("/vendors/{name}", put(save_vendor))
        .fallback(not_found)
        .layer(Extension(accounts.clone()))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(api);
    let setup = Router::new()
        .route("/api/setup", get(setup_status).post(setup))
        .layer(Extension(accounts_for_setup))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    Router::new().nest("/api/admin", routes).merge(setup)
}

#[derive(Serialize)]
struct SetupStatus {
    /// True while the one-time setup link (printed at start) can create the first admin.
    needed: bool,
}

async fn setup_status(Extension(accounts): Extension<Accounts>) -> Json<SetupStatus> {
    Json(SetupStatus {
        needed: accounts.setup_pending(),
    })
}

/// `POST /api/setup` body: the token from the link and the first admin's account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    token: String,
    login: String,
    name: String,
    password: String,
}

async fn setup(
    Extension(accounts): Extension<Accounts>,
    ApiJson(req): ApiJson<SetupRequest>,
) -> Result<(axum::http::StatusCode, Json<AccountView>), ApiError> {
    let row = accounts
        .complete_setup(&req.token, &req.login, &req.name, req.password)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(row.into())))
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(i) => ApiError::Unprocessable(i.0),
            AccountError::Conflict(message) => ApiError::Conflict {
                message,
                state: "account",
            },
            AccountError::NotFound => ApiError::NotFound,
            AccountError::Store(s) => ApiError::Store(s),
            AccountError::Acd(a) => ApiError::Conflict {
                message: a.to_string(),
                state: "queues",
            },
            AccountError::Hash => ApiError::Unavailable,
            AccountError::Forbidden => ApiError::Forbidden {
                needed: "a valid setup link".into(),
            },
        }
    }
}

/// An account as the admin pages show it.
#[derive(Serialize)]
pub(super) struct AccountView {
    #[serde(flatten)]
    agent: AgentView,
    /// False once deactivated.
    active: bool,
    /// `local` or `ldap`.
    source: String,
}

impl From<AgentRow> for AccountView {
    fn from(a: AgentRow) -> Self {
        AccountView {
            active: a.active,
            source: a.source.clone(),
            agent: AgentView::from(a),
        }
    }
}

fn agent_id(id: &str) -> Result<AgentId, ApiError> {
    if id.is_empty() || id.len() > MAX_PATH_ID {
        return Err(ApiError::NotFound);
    }
    Ok(AgentId::from_string(id))
}

async fn list_agents(
    session: Session,
    axum::extract::State(st): axum::extract::State<ApiState>,
) -> Result<Json<Vec<AccountView>>, ApiError> {
    require_role(&session, READERS)?;
    let rows = st.store.list_agents().await?;
    Ok(Json(rows.into_iter().map(AccountView::from).collect()))
}

async fn get_agent(
    session: Session,
    Extension(accounts): Extension<Accounts>,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    require_role(&session, READERS)?;
    Ok(Json(accounts.get(&agent_id(&id)?).await?.into()))
}

/// `POST /api/admin/agents` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAgentRequest {
    login: String,
    name: String,
    password: String,
    #[serde(default = "default_role")]
    role: String,
    #[serde(default = "default_level")]
    level: i64,
    #[serde(default)]
    categories: Vec<Category>,
    #[serde(default)]
    extension: Option<String>,
    #[serde(default)]
    sip_password: Option<String>,
    #[serde(default)]
    device: Device,
    #[serde(default)]
    groups: Vec<String>,
}

fn default_role() -> String {
    "agent".into()
}

fn default_level() -> i64 {
    1
}

async fn create_agent(
    session: Session,
    Extension(accounts): Extension<Accounts>,
    ApiJson(req): ApiJson<CreateAgentRequest>,
) -> Result<(axum::http::StatusCode, Json<AccountView>), ApiError> {
    require_role(&session, ADMINS)?;
    let account = NewAccount {
        login: req.login,
        name: req.name,
        password: req.password,
        role: req.role,
        level: req.level,
        categories: req.categories,
        extension: req.extension,
        sip_password: req.sip_password.filter(|p| !p.is_empty()),
        device: req.device,
        groups: req.groups,
    };
    let row = accounts.create(&session.agent_id, account).await?;
    Ok((axum::http::StatusCode::CREATED, Json(row.into())))
}

/// `PATCH /api/admin/agents/{id}` body: only the fields to change. `"extension": ""` removes
/// the extension (and the phone's credentials).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgentRequest {
    name: Option<String>,
    login: Option<String>,
    extension: Option<String>,
    categories: Option<Vec<Category>>,
    level: Option<i64>,
    role: Option<String>,
    groups: Option<Vec<String>>,
}

async fn update_agent(
    session: Session,
    Extension(accounts): Extension<Accounts>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateAgentRequest>,
) -> Result<Json<AccountView>, ApiError> {
    require_role(&session, ADMINS)?;
    let patch = AgentPatch {
        name: req.name,
        login: req.login,
        extension: req
            .extension
            .map(|e| crate::accounts::validate::extension(&e))
            .transpose()
            .map_err(AccountError::from)?,
        categories: req.categories,
        level: req.level,
        role: req.role,
        groups: req.groups,
    };
    let row = accounts
        .update(&session.agent_id, &agent_id(&id)?, patch)
        .await?;
    Ok(Json(row.into()))
}

async fn deactivate(
    session: Session,
    Extension(accounts): Extension<Accounts>,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    require_role(&session, ADMINS)?;
    let row = accounts
        .set_active(&session.agent_id, &agent_id(&id)?, false)
        .await?;
    Ok(Json(row.into()))
}

async fn reactivate(
    session: Session,
    Extension(accounts): Extension<Accounts>,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    require_role(&session, ADMINS)?;
    let row = accounts
        .set_active(&session.agent_id, &agent_id(&id)?, true)
        .await?;
    Ok(Json(row.into()))
}

/// `PUT /api/admin/agents/{id}/password` and `…/sip-password` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    password: String,
}

#[derive(Serialize)]
struct PasswordSet {
    status: &'static str,
    /// Sessions of the agent that ended (desk password only).
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions_ended: Option<u64>,
}

async fn reset_password(
    session: Session,
    Extension(accounts): Extension<Accounts>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> Result<Json<PasswordSet>, ApiError> {
    require_role(&session, ADMINS)?;
    let ended = accounts
        .reset_password(&session.agent_id, &agent_id(&id)?, req.password)
        .await?;
    Ok(Json(PasswordSet {
        status: "password set",
        sessions_ended: Some(ended),
    }))
}

async fn set_sip_password(
    session: Session,
    Extension(accounts): Extension<Accounts>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PasswordRequest>,
) -> Result<Json<PasswordSet>, ApiError> {
    require_role(&session, ADMINS)?;
    accounts
        .set_sip_password(&session.agent_id, &agent_id(&id)?, &req.password)
        .await?;
    Ok(Json(PasswordSet {
        status: "SIP password set",
        sessions_ended: None,
    }))
}

/// `PUT /api/admin/groups/{name}` and `/vendors/{name}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRequest {
    /// A vendor's contact; a group's description.
    #[serde(default, alias = "description")]
    contact: Option<String>,
    /// Vendors only.
    #[serde(default)]
    notes: Option<String>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

async fn list_targets(
    st: &ApiState,
    session: &Session,
    kind: TargetKind,
) -> Result<Json<Vec<Target>>, ApiError> {
    require_role(session, READERS)?;
    Ok(Json(st.store.targets(kind).await?))
}

async fn list_groups(
    session: Session,
    axum::extract::State(st): axum::extract::State<ApiState>,
) -> Result<Json<Vec<Target>>, ApiError> {
    list_targets(&st, &session, TargetKind::Group).await
}

async fn list_vendors(
    session: Session,
    axum::extract::State(st): axum::extract::State<ApiState>,
) -> Result<Json<Vec<Target>>, ApiError> {
    list_targets(&st, &session, TargetKind::Vendor).await
}

async fn save(
    session: &Session,
    accounts: &Accounts,
    kind: TargetKind,
    name: String,
    req: TargetRequest,
) -> Result<Json<Target>, ApiError> {
    require_role(session, ADMINS)?;
    if name.len() > MAX_PATH_ID {
        return Err(ApiError::NotFound);
    }
    if kind == TargetKind::Group && req.notes.is_some() {
        return Err(ApiError::Unprocessable(
            "groups have a description, not notes".into(),
        ));
    }
    let t = Target {
        name,
        contact: req.contact,
        notes: req.notes,
        active: req.active,
    };
    Ok(Json(
        accounts.save_target(&session.agent_id, kind, t).await?,
    ))
}

async fn save_group(
    session: Session,
    Extension(accounts): Extension<Accounts>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<TargetRequest>,
) -> Result<Json<Target>, ApiError> {
    save(&session, &accounts, TargetKind::Group, name, req).await
}

async fn save_vendor(
    session: Session,
    Extension(accounts): Extension<Accounts>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<TargetRequest>,
) -> Result<Json<Target>, ApiError> {
    save(&session, &accounts, TargetKind::Vendor, name, req).await
}
