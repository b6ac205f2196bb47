//! `PUT /api/me/password`: an agent changes their own desk password. The current password proves
//! it is them (failures count against the login limits, like sign-in); the new one meets
//! `crate::password`'s policy; the agent's other sessions end (a stolen session or another
//! browser is signed out), this one stays.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::Extension;
use axum::extract::{ConnectInfo, State};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::agents::check_limit;
use super::auth::{self, Session};
use super::error::{ApiError, ApiJson};

/// The longest password we read (argon2 takes any length; this bounds what we hash).
const MAX_READ: usize = 1024;

/// `PUT /api/me/password` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password now.
    pub current: String,
    /// The new one.
    pub new: String,
}

#[derive(Serialize)]
pub(super) struct Changed {
    status: &'static str,
    /// How many of the agent's other sessions were ended.
    other_sessions_ended: u64,
}

/// Checks the current password, then stores the new one and ends the other sessions.
pub(super) async fn change_my_password(
    State(st): State<ApiState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    session: Session,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<Json<Changed>, ApiError> {
    if req.current.len() > MAX_READ || req.new.len() > MAX_READ {
        return Err(ApiError::Unprocessable(format!(
            "passwords are at most {MAX_READ} bytes"
        )));
    }
    if req.new == req.current {
        return Err(ApiError::Unprocessable(
            "the new password must differ from the current one".into(),
        ));
    }
    let row = st
        .store
        .get_agent(&session.agent_id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    crate::password::check_policy(&row.login, &req.new)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let ip = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    check_limit(&st, ip, &row.login)?;
    if !auth::verify_password(Some(row.password_hash.clone()), req.current).await? {
        tracing::info!(agent = %row.id, ?ip, "password change with a wrong current password");
        return Err(ApiError::Unprocessable(
            "the current password is not right".into(),
        ));
    }
    if let Ok(mut limiter) = st.limiter.lock() {
        limiter.record_success(&row.login);
        limiter.refund_ip(ip);
    }
    let new = req.new;
    // argon2 is slow by design: off the async workers.
    let hash = tokio::task::spawn_blocking(move || crate::password::hash(&new))
        .await?
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let ended = st
        .store
        .change_password(&row.id, &hash, &session.token_hash)
        .await?;
    tracing::info!(agent = %row.id, other_sessions_ended = ended, "desk password changed");
    Ok(Json(Changed {
        status: "password changed",
        other_sessions_ended: ended,
    }))
}
