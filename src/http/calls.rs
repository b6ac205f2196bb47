//! Call control for the browser softphone (docs/webrtc.md): the desk answers with its SDP offer,
//! reconnects after a reload, hangs up, holds, mutes, sends DTMF and reports call quality. Each
//! request goes to the call task that owns the call, through the browser-call directory.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::ApiState;
use super::auth::Session;
use super::error::{ApiError, ApiJson};
use crate::call::CallContext;
use crate::call::browser::{BrowserCallError, BrowserCommand};
use crate::domain::CallId;
use crate::events::EventKind;
use crate::store::{QualitySample, QualitySource, now_ms};

/// An SDP offer is a few kilobytes; a generous cap still refuses floods.
const SDP_LIMIT: usize = 64 * 1024;

/// How long a request waits for the call task (it answers within milliseconds unless stuck).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The `/api/calls/{id}/…` routes and `/api/agents/me/call`.
pub(super) fn router(state: ApiState, calls: Arc<CallContext>) -> Router {
    Router::new()
        .route("/api/agents/me/call", get(my_call))
        .route("/api/calls/{id}/webrtc", post(offer))
        .route("/api/calls/{id}/hangup", post(hangup))
        .route("/api/calls/{id}/hold", post(hold))
        .route("/api/calls/{id}/mute", post(mute))
        .route("/api/calls/{id}/dtmf", post(dtmf))
        .route("/api/calls/{id}/quality", post(quality))
        .route("/api/calls/{id}/transfer", post(transfer))
        .route("/api/calls/{id}/consult", post(consult))
        .route("/api/calls/{id}/transfer/complete", post(complete))
        .route("/api/calls/{id}/transfer/cancel", post(cancel))
        .route("/api/desk/transfer-targets", get(transfer_targets))
        .layer(Extension(calls))
        .layer(DefaultBodyLimit::max(SDP_LIMIT))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdpBody {
    sdp: String,
}

#[derive(Serialize)]
struct SdpAnswer {
    sdp: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnBody {
    on: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigitsBody {
    digits: String,
}

/// The desk's getStats() summary (all optional: a browser may not report every figure yet).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityBody {
    packets_received: Option<i64>,
    packets_lost: Option<i64>,
    jitter_ms: Option<f64>,
    rtt_ms: Option<f64>,
    audio_level: Option<f64>,
}

/// The command channel of the agent's own call: 403 for another agent's, 404 for none.
fn channel(
    calls: &CallContext,
    session: &Session,
    id: &str,
) -> Result<mpsc::Sender<BrowserCommand>, ApiError> {
    let call = CallId::from_string(id);
    calls
        .browser
        .sender(&call, &session.agent_id)
        .map_err(|other_agent| {
            if other_agent {
                ApiError::Forbidden {
                    needed: "the agent the call is offered to".to_owned(),
                }
            } else {
                ApiError::NotFound
            }
        })
}

/// Sends a command and waits for the call task's reply.
async fn ask<T>(
    tx: mpsc::Sender<BrowserCommand>,
    make: impl FnOnce(oneshot::Sender<Result<T, BrowserCallError>>) -> BrowserCommand,
) -> Result<T, ApiError> {
    let (reply, rx) = oneshot::channel();
    tx.send_timeout(make(reply), REPLY_TIMEOUT)
        .await
        .map_err(|e| match e {
            // The call task is alive but not taking requests: try again, the call is not over.
            mpsc::error::SendTimeoutError::Timeout(_) => ApiError::Unavailable,
            mpsc::error::SendTimeoutError::Closed(_) => ApiError::NotFound,
        })?;
    match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
        Ok(Ok(r)) => r.map_err(|e| match e {
            BrowserCallError::Invalid(m) => ApiError::BadRequest(m),
            BrowserCallError::Conflict(m) => ApiError::Conflict {
                message: m,
                state: "call",
            },
            BrowserCallError::Gone => ApiError::NotFound,
        }),
        // The call ended while the request waited.
        Ok(Err(_)) => Err(ApiError::NotFound),
        Err(_) => Err(ApiError::Unavailable),
    }
}

async fn my_call(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
) -> Result<Response, ApiError> {
    let Some((_, tx)) = calls.browser.call_of(&session.agent_id) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let (reply, rx) = oneshot::channel();
    if tx
        .send_timeout(BrowserCommand::Status { reply }, REPLY_TIMEOUT)
        .await
        .is_err()
    {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
        Ok(Ok(status)) => Ok(Json(status).into_response()),
        Ok(Err(_)) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(_) => Err(ApiError::Unavailable),
    }
}

async fn offer(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SdpBody>,
) -> Result<Json<SdpAnswer>, ApiError> {
    if body.sdp.trim().is_empty() {
        return Err(ApiError::BadRequest("sdp is empty".to_owned()));
    }
    let tx = channel(&calls, &session, &id)?;
    let sdp = ask(tx, |reply| BrowserCommand::Offer {
        sdp: body.sdp,
        reply,
    })
    .await?;
    Ok(Json(SdpAnswer {
        sdp,
        kind: "answer",
    }))
}

async fn hangup(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tx = channel(&calls, &session, &id)?;
    ask(tx, |reply| BrowserCommand::Hangup { reply }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct Target {
    id: String,
    name: String,
    level: i64,
    groups: Vec<String>,
}

/// `GET /api/desk/transfer-targets`: the active agents with a desk phone a call can be handed
/// to (everyone but the asker), by level then name.
async fn transfer_targets(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
) -> Result<Json<Vec<Target>>, ApiError> {
    let mut agents: Vec<Target> = (calls.store.list_agents().await?)
        .into_iter()
        .filter(|a| a.active && a.extension.is_some() && a.id != session.agent_id)
        .filter(|a| a.role == "agent")
        .map(|a| Target {
            id: a.id.to_string(),
            name: a.name,
            level: a.level,
            groups: a.groups,
        })
        .collect();
    agents.sort_by(|a, b| (a.level, &a.name).cmp(&(b.level, &b.name)));
    Ok(Json(agents))
}

/// `{ "to": "<agent id>", "reason": "…" }`: blind transfer to a named agent, or
/// `{ "to_queue": "software", … }` to a first-level queue.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    to_queue: Option<crate::domain::Category>,
    #[serde(default)]
    reason: String,
}

/// The longest reason kept with a transfer (it becomes the intake's history line).
const MAX_REASON: usize = 500;

/// `POST /api/calls/{id}/transfer`: 202 once the target's phone rings (the caller hears hold
/// music; the call comes back if they do not answer); 409 when the call is not the agent's
/// connected call or the target cannot take it; 422 for a bad body.
async fn transfer(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransferBody>,
) -> Result<StatusCode, ApiError> {
    if let (None, Some(category)) = (&body.to, body.to_queue) {
        let reason = body.reason()?;
        let tx = channel(&calls, &session, &id)?;
        ask(tx, |reply| BrowserCommand::TransferToQueue {
            category,
            reason,
            reply,
        })
        .await?;
        return Ok(StatusCode::ACCEPTED);
    }
    let (to, reason) = body.checked()?;
    let tx = channel(&calls, &session, &id)?;
    ask(tx, |reply| BrowserCommand::Transfer { to, reason, reply }).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/calls/{id}/consult` (same body): attended transfer. 202 once the colleague's
/// phone rings; when they answer, the two agents talk while the caller hears hold music, until
/// `…/transfer/complete` or `…/transfer/cancel`.
async fn consult(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransferBody>,
) -> Result<StatusCode, ApiError> {
    let (to, reason) = body.checked()?;
    let tx = channel(&calls, &session, &id)?;
    ask(tx, |reply| BrowserCommand::Consult { to, reason, reply }).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/calls/{id}/transfer/complete`: the consulted colleague takes the caller.
async fn complete(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tx = channel(&calls, &session, &id)?;
    ask(tx, |reply| BrowserCommand::CompleteTransfer { reply }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/calls/{id}/transfer/cancel`: back to the caller; the colleague is released.
async fn cancel(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tx = channel(&calls, &session, &id)?;
    ask(tx, |reply| BrowserCommand::CancelTransfer { reply }).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl TransferBody {
    /// The target agent and the reason, checked.
    fn checked(self) -> Result<(crate::domain::AgentId, String), ApiError> {
        if self.to_queue.is_some() {
            return Err(ApiError::Unprocessable(
                "to and to_queue: one of them, not both".into(),
            ));
        }
        let reason = self.reason()?;
        let to = self.to.as_deref().unwrap_or("").trim();
        if to.is_empty() || to.len() > 100 {
            return Err(ApiError::Unprocessable("to: an agent id".into()));
        }
        Ok((crate::domain::AgentId::from_string(to), reason))
    }

    /// The reason, checked.
    fn reason(&self) -> Result<String, ApiError> {
        if self.reason.chars().count() > MAX_REASON {
            return Err(ApiError::Unprocessable(format!(
                "reason: at most {MAX_REASON} characters"
            )));
        }
        Ok(self.reason.trim().to_string())
    }
}

async fn hold(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OnBody>,
) -> Result<StatusCode, ApiError> {
    toggle(
        &calls,
        &session,
        &id,
        |on, reply| BrowserCommand::Hold { on, reply },
        body.on,
    )
    .await
}

async fn mute(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OnBody>,
) -> Result<StatusCode, ApiError> {
    toggle(
        &calls,
        &session,
        &id,
        |on, reply| BrowserCommand::Mute { on, reply },
        body.on,
    )
    .await
}

/// Hold or mute on/off: the same path to the call task.
async fn toggle(
    calls: &CallContext,
    session: &Session,
    id: &str,
    make: fn(bool, oneshot::Sender<Result<(), BrowserCallError>>) -> BrowserCommand,
    on: bool,
) -> Result<StatusCode, ApiError> {
    let tx = channel(calls, session, id)?;
    ask(tx, |reply| make(on, reply)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn dtmf(
    Extension(calls): Extension<Arc<CallContext>>,
    session: Session,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DigitsBody>,
) -> Result<StatusCode, ApiError> {
    let tx = channel(&calls, &session, &id)?;
    ask(tx, |reply| BrowserCommand::Dtmf {
        digits: body.digits,
        reply,
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A finite, non-negative figure below `max`, or an error naming the field.
fn figure(name: &str, v: Option<f64>, max: f64) -> Result<Option<f64>, ApiError> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 || x > max => Err(ApiError::BadRequest(format!(
            "{name} must be a number from 0 to {max}"
        ))),
        other => Ok(other),
    }
}

async fn quality(
    Extension(calls): Extension<Arc<CallContext>>,
    State(st): State<ApiState>,
    session: Session,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<QualityBody>,
) -> Result<StatusCode, ApiError> {
    // Only the agent of a call in progress reports on it.
    channel(&calls, &session, &id)?;
    let jitter_ms = figure("jitter_ms", body.jitter_ms, 60_000.0)?;
    let rtt_ms = figure("rtt_ms", body.rtt_ms, 60_000.0)?;
    let audio_level = figure("audio_level", body.audio_level, 1.0)?;
    let (received, lost) = (body.packets_received, body.packets_lost);
    // A day of 50 packets/s is 4.3 million: anything past 2^40 is not a real counter.
    let counter_ok = |n: Option<i64>| n.is_none_or(|n| n.unsigned_abs() < 1 << 40);
    if received.is_some_and(|n| n < 0) || !counter_ok(received) || !counter_ok(lost) {
        return Err(ApiError::BadRequest(
            "packets_received and packets_lost must be counts below 2^40".to_owned(),
        ));
    }
    // Lost can be negative in RTCP (duplicates); the percentage is over what was expected.
    let loss_pct = match (received, lost) {
        (Some(r), Some(l)) if r + l.max(0) > 0 => {
            Some(l.max(0) as f64 * 100.0 / (r + l.max(0)) as f64)
        }
        _ => None,
    };
    let call_id = CallId::from_string(id);
    let sample = QualitySample {
        call_id: call_id.clone(),
        at: now_ms(),
        source: QualitySource::Browser,
        packets_received: received,
        packets_lost: lost,
        loss_pct,
        jitter_ms,
        rtt_ms,
        voiced_to_agent_ms: None,
        voiced_from_agent_ms: None,
        audio_level,
    };
    st.store.record_quality(&sample).await?;
    calls.events.publish(EventKind::CallQuality {
        call_id,
        agent_id: session.agent_id,
        source: "browser".to_owned(),
        loss_pct,
        jitter_ms,
        rtt_ms,
    });
    Ok(StatusCode::NO_CONTENT)
}
