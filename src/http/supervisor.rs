//! The supervisor's HTTP surface (docs/supervisor.md): `GET /api/supervisor/ws` (the live feed:
//! session, role and `Origin` checked, then `hello` → `welcome` + replay or snapshot), the
//! audited actions under `/api/supervisor/…` and `GET /api/supervisor/audit`.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::auth::{self, Session, require_role};
use super::error::{ApiError, ApiJson, BODY_LIMIT};
use crate::domain::{AgentId, CallId, Category, Priority};
use crate::store::now_ms;
use crate::supervisor::{ActionError, Actions, FeedHello, SupervisorConnection, SupervisorFeed};

/// Roles that may open the feed and act.
const SUPERVISORS: &[&str] = &["supervisor", "admin"];
/// Time to send `hello` after the upgrade.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Server ping and session re-check interval.
const TICK: Duration = Duration::from_secs(30);
/// A connection silent this long (not even a pong) is closed.
const IDLE: Duration = Duration::from_secs(90);
/// Client messages are tiny (`hello`, `ping`); anything larger closes the socket.
const MAX_WIRE: usize = 64 * 1024;
/// Longest not-ready reason (as `PUT /api/me/state`).
const MAX_REASON: usize = 100;
/// Longest id accepted in a path.
const MAX_ID: usize = 64;

/// The supervisor routes; `feed` and `actions` reach handlers as extensions.
pub(super) fn router(api: ApiState, feed: SupervisorFeed) -> Router {
    let actions = Actions::new(api.acd.clone(), api.store.clone());
    let routes = Router::new()
        .route("/ws", get(upgrade))
        .route("/agents/{id}/not-ready", post(not_ready))
        .route("/agents/{id}/logout", post(logout))
        .route("/calls/{id}/priority", post(priority))
        .route("/calls/{id}/queue", post(queue))
        .route("/audit", get(audit))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(Extension(feed))
        .layer(Extension(actions))
        .with_state(api);
    Router::new().nest("/api/supervisor", routes)
}

/// A refused or failed supervisor request.
enum SupError {
    Api(ApiError),
    Action(ActionError),
}

impl From<ApiError> for SupError {
    fn from(e: ApiError) -> Self {
        SupError::Api(e)
    }
}

impl From<ActionError> for SupError {
    fn from(e: ActionError) -> Self {
        SupError::Action(e)
    }
}

impl IntoResponse for SupError {
    fn into_response(self) -> Response {
        let status = match &self {
            SupError::Api(_) => return self.into_api().into_response(),
            SupError::Action(ActionError::NotFound(_)) => StatusCode::NOT_FOUND,
            SupError::Action(ActionError::Conflict(_)) => StatusCode::CONFLICT,
            SupError::Action(ActionError::Stopped) => StatusCode::SERVICE_UNAVAILABLE,
            SupError::Action(ActionError::Store(_)) => return self.into_api().into_response(),
        };
        (status, Json(json!({ "error": self.message() }))).into_response()
    }
}

impl SupError {
    fn into_api(self) -> ApiError {
        match self {
            SupError::Api(e) => e,
            SupError::Action(ActionError::Store(e)) => ApiError::Store(e),
            SupError::Action(_) => ApiError::Unavailable,
        }
    }

    fn message(&self) -> String {
        match self {
            SupError::Api(e) => e.to_string(),
            SupError::Action(e) => e.to_string(),
        }
    }
}

fn checked_id(id: &str) -> Result<&str, ApiError> {
    if id.is_empty() || id.len() > MAX_ID {
        return Err(ApiError::NotFound);
    }
    Ok(id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotReadyBody {
    reason: String,
}

async fn not_ready(
    session: Session,
    Extension(actions): Extension<Actions>,
    Extension(feed): Extension<SupervisorFeed>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NotReadyBody>,
) -> Result<Json<Value>, SupError> {
    require_role(&session, SUPERVISORS)?;
    let agent = AgentId::from_string(checked_id(&id)?);
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(ApiError::Unprocessable(format!(
            "reason must be 1 to {MAX_REASON} characters"
        ))
        .into());
    }
    let audit = actions
        .agent_not_ready(&session.agent_id, &agent, reason)
        .await?;
    feed.refresh();
    Ok(Json(audit))
}

async fn logout(
    session: Session,
    Extension(actions): Extension<Actions>,
    Extension(feed): Extension<SupervisorFeed>,
    Path(id): Path<String>,
) -> Result<Json<Value>, SupError> {
    require_role(&session, SUPERVISORS)?;
    let agent = AgentId::from_string(checked_id(&id)?);
    let audit = actions.agent_logout(&session.agent_id, &agent).await?;
    feed.refresh();
    Ok(Json(audit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityBody {
    priority: u8,
}

async fn priority(
    session: Session,
    Extension(actions): Extension<Actions>,
    Extension(feed): Extension<SupervisorFeed>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PriorityBody>,
) -> Result<Json<Value>, SupError> {
    require_role(&session, SUPERVISORS)?;
    let call = CallId::from_string(checked_id(&id)?);
    let priority = Priority::new(body.priority)
        .ok_or_else(|| ApiError::Unprocessable("priority must be 1 to 5".into()))?;
    let audit = actions
        .call_priority(&session.agent_id, &call, priority)
        .await?;
    feed.refresh();
    Ok(Json(audit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueBody {
    queue: Category,
}

async fn queue(
    session: Session,
    Extension(actions): Extension<Actions>,
    Extension(feed): Extension<SupervisorFeed>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<QueueBody>,
) -> Result<Json<Value>, SupError> {
    require_role(&session, SUPERVISORS)?;
    let call = CallId::from_string(checked_id(&id)?);
    let audit = actions
        .call_queue(&session.agent_id, &call, body.queue)
        .await?;
    feed.refresh();
    Ok(Json(audit))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<u32>,
}

async fn audit(
    session: Session,
    State(api): State<ApiState>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    require_role(&session, SUPERVISORS)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let rows = api.store.recent_audit(limit).await?;
    let rows = crate::supervisor::actions::named(&api.store, rows).await?;
    Ok(Json(json!({ "audit": rows })))
}

async fn upgrade(
    session: Result<Session, ApiError>,
    State(api): State<ApiState>,
    Extension(feed): Extension<SupervisorFeed>,
    headers: axum::http::HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let session = match session {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // A page of another site must not open the feed with the supervisor's cookie (RFC 6454 §7).
    if auth::origin_matches_host(&headers) == Some(false) {
        let body = json!({ "error": "WebSocket from another origin refused" });
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    if let Err(e) = require_role(&session, SUPERVISORS) {
        return e.into_response();
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    // Small buffers, as for the desk: feed frames are small and 500 wallboards add up.
    ws.max_message_size(MAX_WIRE)
        .max_frame_size(MAX_WIRE)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| serve(socket, feed, api, session))
}

async fn serve(mut socket: WebSocket, feed: SupervisorFeed, api: ApiState, session: Session) {
    let Some(hello) = await_hello(&mut socket).await else {
        return;
    };
    let conn = match feed.connect(hello).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "supervisor feed connect refused");
            close(&mut socket, 1011, "feed unavailable").await;
            return;
        }
    };
    let id = conn.id;
    let end = run(&mut socket, conn, &api, &session).await;
    feed.disconnect(id).await;
    if let Some((code, reason)) = end {
        close(&mut socket, code, reason).await;
    }
}

/// Forwards frames until the socket or the feed ends; `Some` is the close to send.
async fn run(
    socket: &mut WebSocket,
    mut conn: SupervisorConnection,
    api: &ApiState,
    session: &Session,
) -> Option<(u16, &'static str)> {
    for frame in conn.first.drain(..) {
        socket.send(Message::Text(frame.text.clone())).await.ok()?;
    }
    let mut last_heard = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    tick.tick().await;
    loop {
        tokio::select! {
            frame = conn.rx.recv() => match frame {
                Some(f) => socket.send(Message::Text(f.text.clone())).await.ok()?,
                // Dropped by the feed for being too slow; the client resumes with last_seq.
                None => return Some((1013, "too slow; reconnect with last_seq")),
            },
            msg = socket.recv() => {
                last_heard = Instant::now();
                match msg {
                    Some(Ok(Message::Text(t))) => {
                        let reply = client_reply(t.as_str());
                        socket.send(Message::Text(reply.into())).await.ok()?;
                    }
                    Some(Ok(Message::Close(_))) => return Some((1000, "bye")),
                    Some(Ok(_)) => {}
                    _ => return None,
                }
            }
            _ = tick.tick() => {
                if last_heard.elapsed() > IDLE {
                    return Some((1001, "idle"));
                }
                match api.store.session(&session.token_hash, now_ms()).await {
                    Ok(Some(_)) => {}
                    Ok(None) => return Some((4001, "session expired")),
                    Err(e) => tracing::warn!(error = %e, "cannot re-check a supervisor session"),
                }
                socket.send(Message::Ping(Default::default())).await.ok()?;
            }
        }
    }
}

/// `ping` → `pong`; anything else after `hello` → `error` (the feed takes no other frames).
pub fn client_reply(text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let reference = parsed
        .as_ref()
        .and_then(|v| v.get("ref"))
        .and_then(Value::as_str)
        .filter(|r| r.len() <= 100)
        .map(str::to_owned);
    let kind = parsed
        .as_ref()
        .and_then(|v| v.get("type"))
        .and_then(Value::as_str);
    match kind {
        Some("ping") => json!({ "v": 1, "type": "pong", "ref": reference }).to_string(),
        Some(_) => json!({ "v": 1, "type": "error", "ref": reference, "code": "unknown_type",
                           "message": "the supervisor feed takes hello and ping only" })
        .to_string(),
        None => json!({ "v": 1, "type": "error", "ref": reference, "code": "bad_frame",
                        "message": "frames are JSON objects with a type" })
        .to_string(),
    }
}

/// Parses `{"v":1,"type":"hello","last_seq":n|null,"epoch":s|null}`.
pub fn parse_hello(text: &str) -> Option<FeedHello> {
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("type")?.as_str()? != "hello" {
        return None;
    }
    Some(FeedHello {
        last_seq: v.get("last_seq").and_then(Value::as_u64),
        epoch: v
            .get("epoch")
            .and_then(Value::as_str)
            .filter(|e| e.len() <= 64)
            .map(str::to_owned),
    })
}

/// Waits for `hello`, answering anything else with an error frame.
async fn await_hello(socket: &mut WebSocket) -> Option<FeedHello> {
    let deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
    loop {
        let msg = match tokio::time::timeout_at(deadline, socket.recv()).await {
            Err(_) => {
                close(socket, 1008, "send hello first").await;
                return None;
            }
            Ok(Some(Ok(msg))) => msg,
            Ok(_) => return None,
        };
        match msg {
            Message::Text(t) => {
                if let Some(hello) = parse_hello(t.as_str()) {
                    return Some(hello);
                }
                let err = json!({ "v": 1, "type": "error", "code": "invalid",
                                  "message": "send hello first" });
                socket
                    .send(Message::Text(err.to_string().into()))
                    .await
                    .ok()?;
            }
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
