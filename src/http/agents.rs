//! The agents' API under `/api` (issue 3 point 3, issue 4 points 1 and 6, issue 10): login
//! and logout with sessions, the signed-in agent and their ACD state, state changes (the
//! second level refused unless configured), and a supervisor's agent list; the device and
//! desk language are `agent_settings.rs`. Request and response shapes: docs/api.md.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::auth::{self, Session, require_role};
use super::error::{ApiError, ApiJson, BODY_LIMIT, not_found};
use super::{ApiState, agent_settings};
use crate::acd::{AcdError, AcdHandle, AcdSnapshot, AgentInfo, AgentState};
use crate::desk::intakes::{DeskError, IntakeOps};
use crate::domain::{AgentId, Category, Device, Language};
use crate::store::{AgentRow, now_ms};

/// Roles that may see every agent.
pub(super) const SUPERVISORS: &[&str] = &["supervisor", "admin"];
/// Longest login name and password accepted (longer ones cannot be valid).
pub(super) const MAX_LOGIN: usize = 128;
const MAX_PASSWORD: usize = 1024;
/// Longest not-ready reason.
const MAX_REASON: usize = 100;

/// The `/api` routes, bodies limited to [`BODY_LIMIT`].
pub(super) fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/me/state", put(set_state))
        .route("/me/password", put(super::password::change_my_password))
        .route("/me/wrapup-done", post(wrapup_done))
        .route("/agents", get(list_agents))
        .route("/agents/me/device", put(agent_settings::set_my_device))
        .route("/agents/me/language", put(agent_settings::set_my_language))
        .route("/agents/{id}/device", put(agent_settings::set_agent_device))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    Router::new().nest("/api", api)
}

#[derive(Deserialize)]
pub struct LoginRequest {
    login: String,
    password: String,
}

/// An agent as the API shows them (never the password hash).
#[derive(Serialize)]
pub(super) struct AgentView {
    id: AgentId,
    name: String,
    login: String,
    role: String,
    extension: Option<String>,
    categories: Vec<Category>,
    level: i64,
    device: Device,
    /// Second-level groups (the inbox).
    groups: Vec<String>,
    /// The desk language chosen (`null`: the browser's).
    language: Option<Language>,
}

impl From<AgentRow> for AgentView {
    fn from(a: AgentRow) -> Self {
        AgentView {
            id: a.id,
            name: a.name,
            login: a.login,
            role: a.role,
            extension: a.extension,
            categories: a.categories,
            level: a.level,
            device: a.device,
            groups: a.groups,
            language: a.language,
        }
    }
}

/// An agent's live state as every view shows it (the desk's one definition, with
/// `reason_code`; docs/api.md "Agent states").
pub(super) use crate::desk::frames::StateView;

/// The agent's live state (`offline` when the queue engine does not know them).
pub(super) fn state_view(snapshot: &AcdSnapshot, id: &AgentId) -> StateView {
    crate::desk::frames::state_of(snapshot, id)
}

/// The name of the agent's live state, for a 409's `state`.
pub(super) fn state_name(snapshot: &AcdSnapshot, id: &AgentId) -> &'static str {
    snapshot
        .agent(id)
        .map_or(AgentState::Offline.name(), |a| a.state.name())
}

#[derive(Serialize)]
struct LoginResponse {
    token: String,
    agent: AgentView,
    expires_at: i64,
}

#[derive(Serialize)]
struct AgentWithState {
    agent: AgentView,
    #[serde(flatten)]
    state: StateView,
}

#[derive(Serialize)]
struct Done {
    status: &'static str,
}

async fn login(
    State(st): State<ApiState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    desk: Option<Extension<IntakeOps>>,
    directory: Option<Extension<crate::directory::Directory>>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    // Login CSRF: a browser posting from another site sends its Origin (RFC 6454 §7).
    if auth::origin_matches_host(&headers) == Some(false) {
        return Err(ApiError::Csrf);
    }
    if req.login.is_empty() || req.login.len() > MAX_LOGIN || req.password.len() > MAX_PASSWORD {
        return Err(ApiError::Unprocessable(format!(
            "login must be 1 to {MAX_LOGIN} bytes and password at most {MAX_PASSWORD} bytes"
        )));
    }
    let ip = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    check_limit(&st, ip, &req.login)?;
    // For a directory account's bind, when the local check fails.
    let password = req.password.clone();

    // A deactivated account signs in no more than an unknown one (same work, same answer).
    let row = st
        .store
        .agent_by_login(&req.login)
        .await?
        .filter(|r| r.active);
    let hash = row.as_ref().map(|r| r.password_hash.clone());
    let ok = auth::verify_password(hash, req.password).await?;
    let row = match (ok, row) {
        (true, Some(row)) => row,
        // Not a local account (unknown, or made by the directory): the directory decides when
        // sign-in with directory accounts is on (docs/directory.md).
        (_, local) => match super::directory::after_local_failure(
            &st,
            directory.as_deref(),
            local.is_some(),
            &req.login,
            password,
        )
        .await
        {
            Ok(Some(row)) => row,
            Err(unreachable) => return Ok(unreachable),
            Ok(None) => {
                // Already counted by `check_limit`.
                tracing::info!(login = %req.login.escape_debug(), ?ip, "failed login");
                return Err(ApiError::InvalidCredentials);
            }
        },
    };
    if let Ok(mut limiter) = st.limiter.lock() {
        limiter.record_success(&req.login);
        limiter.refund_ip(ip);
    }

    acd_login(&st.acd, &row, desk.as_deref()).await?;
    let token = auth::new_token();
    let now = now_ms();
    let ttl_ms = i64::try_from(st.auth.session_ttl.as_millis()).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(ttl_ms);
    st.store
        .create_session(
            &auth::hash_token(&token),
            &row.id,
            &row.role,
            now,
            expires_at,
        )
        .await?;
    tracing::info!(agent = %row.id, "agent signed in");
    let cookie = auth::session_cookie(&st.auth, &token);
    let body = LoginResponse {
        token,
        agent: row.into(),
        expires_at,
    };
    Ok((
        [(header::SET_COOKIE, cookie)],
        [auth::no_store()],
        Json(body),
    )
        .into_response())
}

/// 429 when the address or the login has too many recent failures.
/// Checks the limit and counts this attempt as a failure up front (refunded on success), so
/// that a burst of parallel requests cannot all pass the check before any failure is counted.
pub(super) fn check_limit(
    st: &ApiState,
    ip: Option<std::net::IpAddr>,
    login: &str,
) -> Result<(), ApiError> {
    // A poisoned lock only means another request panicked mid-update; the counters stay usable.
    let mut limiter = st.limiter.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    limiter
        .check(now, ip, login)
        .map_err(|retry_after| ApiError::TooManyAttempts { retry_after })?;
    limiter.record_failure(now, ip, login);
    Ok(())
}

/// Logs the agent into the ACD (available) when they take calls; a second session of a
/// logged-in agent is fine.
pub(super) async fn acd_login(
    acd: &AcdHandle,
    row: &AgentRow,
    desk: Option<&IntakeOps>,
) -> Result<(), ApiError> {
    if !takes_calls(row, desk) {
        return Ok(());
    }
    let info = AgentInfo {
        id: row.id.clone(),
        categories: row.categories.clone(),
        level: u8::try_from(row.level.clamp(0, 255)).unwrap_or(u8::MAX),
    };
    match acd.agent_login(info).await {
        Ok(()) | Err(AcdError::AlreadyLoggedIn(_)) => Ok(()),
        Err(e) => Err(acd_error(e, "log in")),
    }
}

/// Only first-level agents with a phone or the browser softphone take hotline calls:
/// supervisors, admins and the second level (unless `[desk] second_level_takes_calls`) sign
/// in to the desk without entering the queues.
fn takes_calls(row: &AgentRow, desk: Option<&IntakeOps>) -> bool {
    row.role == "agent"
        && level_takes_calls(row, desk)
        && (row.extension.is_some() || row.device == Device::Browser)
}

/// What a second-level agent hears when asking to become available.
pub(super) const SECOND_LEVEL_REFUSAL: &str = "second-level agents do not take first-level calls";

/// The first level takes calls; levels 2 and 3 only with `[desk] second_level_takes_calls`.
pub(super) fn level_takes_calls(row: &AgentRow, desk: Option<&IntakeOps>) -> bool {
    row.level <= 1 || desk.is_some_and(IntakeOps::second_level_takes_calls)
}

/// Maps a refusal of the queue engine to 409 (with the agent's state) or 503.
fn acd_error(e: AcdError, request: &str) -> ApiError {
    match e {
        AcdError::Stopped => ApiError::Unavailable,
        AcdError::InvalidTransition { from, .. } => ApiError::Conflict {
            message: format!("cannot {request} while {from}"),
            state: from,
        },
        AcdError::NotLoggedIn(_) | AcdError::UnknownAgent(_) => ApiError::Conflict {
            message: format!("cannot {request} while offline"),
            state: AgentState::Offline.name(),
        },
        other => ApiError::Conflict {
            message: other.to_string(),
            state: "unknown",
        },
    }
}

pub(super) async fn snapshot(acd: &AcdHandle) -> Result<AcdSnapshot, ApiError> {
    acd.snapshot()
        .await
        .map_err(|e| acd_error(e, "read states"))
}

async fn logout(State(st): State<ApiState>, session: Session) -> Result<Response, ApiError> {
    match st.acd.agent_logout(session.agent_id.clone()).await {
        Ok(()) | Err(AcdError::NotLoggedIn(_) | AcdError::UnknownAgent(_)) => {}
        Err(AcdError::InvalidTransition { from, .. }) => {
            return Err(ApiError::Conflict {
                message: format!("cannot log out while {from}: finish the call first"),
                state: from,
            });
        }
        Err(e) => return Err(acd_error(e, "log out")),
    }
    st.store.delete_session(&session.token_hash).await?;
    tracing::info!(agent = %session.agent_id, "agent signed out");
    let cookie = auth::cleared_cookie(&st.auth);
    let body = Done {
        status: "logged out",
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

#[derive(Serialize)]
struct MeResponse {
    agent: AgentView,
    #[serde(flatten)]
    state: StateView,
    session_expires_at: i64,
}

async fn me(State(st): State<ApiState>, session: Session) -> Result<Json<MeResponse>, ApiError> {
    let row = st
        .store
        .get_agent(&session.agent_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let snap = snapshot(&st.acd).await?;
    Ok(Json(MeResponse {
        state: state_view(&snap, &row.id),
        agent: row.into(),
        session_expires_at: session.expires_at,
    }))
}

/// `PUT /api/me/state` body.
#[derive(Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StateRequest {
    Available,
    NotReady {
        #[serde(default)]
        reason: Option<String>,
    },
}

async fn set_state(
    State(st): State<ApiState>,
    session: Session,
    desk: Option<Extension<IntakeOps>>,
    ApiJson(req): ApiJson<StateRequest>,
) -> Result<Json<StateView>, ApiError> {
    let id = session.agent_id.clone();
    let row = st
        .store
        .get_agent(&id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    // After a server restart the ACD knows nobody: a signed-in agent is logged in again.
    let snap = snapshot(&st.acd).await?;
    if matches!(req, StateRequest::Available) {
        if !level_takes_calls(&row, desk.as_deref()) {
            return Err(ApiError::Conflict {
                message: SECOND_LEVEL_REFUSAL.to_owned(),
                state: state_name(&snap, &id),
            });
        }
        require_outcome(desk.as_deref(), &id, state_name(&snap, &id)).await?;
    }
    if state_name(&snap, &id) == AgentState::Offline.name() {
        acd_login(&st.acd, &row, desk.as_deref()).await?;
    }
    let result = match req {
        StateRequest::Available => st
            .acd
            .set_available(id.clone())
            .await
            .map_err(|e| acd_error(e, "become available")),
        StateRequest::NotReady { reason } => {
            let reason = reason.unwrap_or_else(|| "break".to_owned());
            let reason = reason.trim();
            if reason.is_empty() || reason.chars().count() > MAX_REASON {
                return Err(ApiError::Unprocessable(format!(
                    "reason must be 1 to {MAX_REASON} characters"
                )));
            }
            st.acd
                .set_not_ready(id.clone(), reason.to_owned())
                .await
                .map_err(|e| acd_error(e, "become not ready"))
        }
    };
    result?;
    Ok(Json(state_view(&snapshot(&st.acd).await?, &id)))
}

async fn wrapup_done(
    State(st): State<ApiState>,
    session: Session,
    desk: Option<Extension<IntakeOps>>,
) -> Result<Json<StateView>, ApiError> {
    let id = session.agent_id;
    let snap = snapshot(&st.acd).await?;
    require_outcome(desk.as_deref(), &id, state_name(&snap, &id)).await?;
    st.acd
        .wrapup_done(id.clone())
        .await
        .map_err(|e| acd_error(e, "end wrap-up"))?;
    Ok(Json(state_view(&snapshot(&st.acd).await?, &id)))
}

/// With `[desk] require_outcome`, 409 while the intake of the agent's last answered call is
/// still without an outcome (issue 4 point 5: resolve or escalate before becoming available).
async fn require_outcome(
    desk: Option<&IntakeOps>,
    agent: &AgentId,
    state: &'static str,
) -> Result<(), ApiError> {
    let Some(ops) = desk else {
        return Ok(());
    };
    match ops.outcome_pending(agent).await {
        Ok(None) => Ok(()),
        Ok(Some(intake)) => Err(ApiError::Conflict {
            message: format!("choose an outcome (resolve or escalate) for intake {intake} first"),
            state,
        }),
        Err(DeskError::Store(e)) => Err(ApiError::Store(e)),
        Err(e) => Err(ApiError::Unprocessable(e.to_string())),
    }
}

async fn list_agents(
    State(st): State<ApiState>,
    session: Session,
) -> Result<Json<Vec<AgentWithState>>, ApiError> {
    require_role(&session, SUPERVISORS)?;
    let rows = st.store.list_agents().await?;
    let snap = snapshot(&st.acd).await?;
    let list = rows
        .into_iter()
        .map(|row| AgentWithState {
            state: state_view(&snap, &row.id),
            agent: row.into(),
        })
        .collect();
    Ok(Json(list))
}
