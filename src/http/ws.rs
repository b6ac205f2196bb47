//! `GET /api/ws`, the agent desk's WebSocket (docs/protocol.md): session, role and `Origin`
//! checks, then `hello` → `welcome` + replay or snapshot, client actions applied through
//! `IntakeOps` and the queue engine, `ack`/`error` with `ref`. Also `GET /api/voice/{id}`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiState;
use super::agents::{SECOND_LEVEL_REFUSAL, acd_login, level_takes_calls};
use super::auth::{self, Session, require_role};
use super::desk_feed::{customer_changed, intake_changed};
use super::error::ApiError;
use crate::acd::AcdError;
use crate::desk::client::{self, ClientFrame, RateLimit, Refusal, WantedState};
use crate::desk::hub::{Connection, DeskHub, Frame, FrameBody, Hello};
use crate::desk::intakes::DeskError;
use crate::desk::pop;
use crate::domain::AgentId;
use crate::store::now_ms;

/// Roles that may open the desk feed.
const DESK_ROLES: &[&str] = &["agent", "supervisor", "admin"];
/// Roles that may release someone else's claim.
const SUPERVISORS: &[&str] = &["supervisor", "admin"];
/// Client frames per second per connection (bursts up to the same number).
const FRAMES_PER_SEC: u32 = 50;
/// Time to send `hello` after the upgrade.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Server ping and session re-check interval.
const TICK: Duration = Duration::from_secs(30);
/// A connection silent this long (not even a pong) is closed.
const IDLE: Duration = Duration::from_secs(90);
/// Messages over this are a protocol error that closes the socket (over `client::MAX_FRAME` but
/// under this: `bad_frame`, the connection stays).
const MAX_WIRE: usize = 1024 * 1024;
/// Longest not-ready reason (as `PUT /api/me/state`).
const MAX_REASON: usize = 100;

#[derive(Clone)]
struct WsState {
    api: ApiState,
    hub: DeskHub,
}

/// `/api/ws` and `/api/voice/{id}`.
pub(super) fn router(api: ApiState, hub: DeskHub) -> Router {
    let voice = Router::new()
        .route("/api/voice/{id}", get(voice))
        .with_state(api.clone());
    Router::new()
        .route("/api/ws", get(upgrade))
        .with_state(WsState { api, hub })
        .merge(voice)
}

async fn upgrade(
    State(st): State<WsState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.headers = headers;
    let session = match Session::from_request_parts(&mut parts, &st.api).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // A page of another site must not open the desk feed with the agent's cookie (RFC 6454 §7).
    if auth::origin_matches_host(&parts.headers) == Some(false) {
        let body = serde_json::json!({ "error": "WebSocket from another origin refused" });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    if let Err(e) = require_role(&session, DESK_ROLES) {
        return e.into_response();
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let hub = st.hub.clone();
    // Desk frames are a few KiB: small buffers keep 1,000 idle agents at a few MiB instead of
    // ~135 MiB with tungstenite's 128 KiB default read buffer (BENCHMARKS.md, issue 4).
    ws.max_message_size(MAX_WIRE)
        .max_frame_size(MAX_WIRE)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| async move {
            let mut conn = DeskConn {
                socket,
                hub,
                api: st.api,
                agent: session.agent_id.clone(),
                session,
                limit: RateLimit::new(FRAMES_PER_SEC, Instant::now()),
                last_heard: Instant::now(),
            };
            conn.run().await;
        })
}

/// One upgraded desk connection.
struct DeskConn {
    socket: WebSocket,
    hub: DeskHub,
    api: ApiState,
    agent: AgentId,
    session: Session,
    limit: RateLimit,
    last_heard: Instant,
}

/// What the connection loop does next.
enum Step {
    Continue,
    Close(u16, &'static str),
}

impl DeskConn {
    async fn run(&mut self) {
        let Some(hello) = self.await_hello().await else {
            return;
        };
        let pops = self.session.role == "agent";
        let conn = match self.hub.connect(self.agent.clone(), hello, pops).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, agent = %self.agent, "desk connect refused");
                self.close(1011, "desk unavailable").await;
                return;
            }
        };
        let id = conn.id;
        let step = self.serve(conn).await;
        self.hub.disconnect(self.agent.clone(), id).await;
        if let Step::Close(code, reason) = step {
            self.close(code, reason).await;
        }
    }

    /// Waits for `hello`, answering anything else with an error frame.
    async fn await_hello(&mut self) -> Option<Hello> {
        let deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.socket.recv()).await {
                Err(_) => {
                    self.close(1008, "send hello first").await;
                    return None;
                }
                Ok(Some(Ok(msg))) => msg,
                Ok(_) => return None,
            };
            let text = match msg {
                Message::Text(t) => t,
                Message::Close(_) => return None,
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Binary(_) => {
                    self.refuse(Refusal {
                        reference: None,
                        code: "bad_frame",
                        message: "frames are JSON text".into(),
                    })
                    .await;
                    continue;
                }
            };
            match client::parse(text.as_str()) {
                Ok((_, ClientFrame::Hello { last_seq, epoch })) => {
                    return Some(Hello { last_seq, epoch });
                }
                Ok((reference, _)) => {
                    self.refuse(Refusal {
                        reference,
                        code: "invalid",
                        message: "send hello first".into(),
                    })
                    .await;
                }
                Err(refusal) => self.refuse(refusal).await,
            }
        }
    }

    async fn serve(&mut self, mut conn: Connection) -> Step {
        let first = std::iter::once(conn.welcome.clone()).chain(conn.replay_or_snapshot.drain(..));
        for frame in first.collect::<Vec<_>>() {
            if self.send(&frame).await.is_err() {
                return Step::Continue;
            }
        }
        let mut tick = tokio::time::interval(TICK);
        tick.tick().await;
        let mut revoked = self.api.revoked.subscribe();
        loop {
            tokio::select! {
                r = revoked.recv() => {
                    let mine = match r {
                        Ok(agent) => agent == self.session.agent_id,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => false,
                    };
                    if mine && let Some(close) = self.recheck_session().await {
                        return close;
                    }
                },
                frame = conn.rx.recv() => match frame {
                    Some(f) => if self.send(&f).await.is_err() { return Step::Continue },
                    // The hub dropped us: too far behind. The client resumes with last_seq.
                    None => return Step::Close(1013, "too slow; reconnect with last_seq"),
                },
                msg = self.socket.recv() => match msg {
                    Some(Ok(msg)) => {
                        self.last_heard = Instant::now();
                        match self.message(msg).await {
                            Step::Continue => {}
                            close => return close,
                        }
                    }
                    _ => return Step::Continue,
                },
                _ = tick.tick() => {
                    if self.last_heard.elapsed() > IDLE {
                        return Step::Close(1001, "idle");
                    }
                    if let Some(close) = self.recheck_session().await {
                        return close;
                    }
                    if self.socket.send(Message::Ping(Default::default())).await.is_err() {
                        return Step::Continue;
                    }
                }
            }
        }
    }

    /// `Some(close)` when the session has ended (expired, signed out elsewhere, or ended by an
    /// admin: deactivation, password reset) or its role changed.
    fn recheck_session(&self) -> impl std::future::Future<Output = Option<Step>> + Send + 'static {
        let (api, session) = (self.api.clone(), self.session.clone());
        async move { recheck(&api, &session).await }
    }

    async fn message(&mut self, msg: Message) -> Step {
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(_) => return Step::Close(1000, "bye"),
            Message::Ping(_) | Message::Pong(_) => return Step::Continue,
            Message::Binary(_) => {
                self.refuse(Refusal {
                    reference: None,
                    code: "bad_frame",
                    message: "frames are JSON text".into(),
                })
                .await;
                return Step::Continue;
            }
        };
        if !self.limit.allow(Instant::now()) {
            let wait = self.limit.retry_in().as_millis().max(1);
            self.refuse(Refusal {
                reference: None,
                code: "rate_limited",
                message: format!(
                    "more than {FRAMES_PER_SEC} frames per second; frame dropped, retry in {wait} ms"
                ),
            })
            .await;
            return Step::Continue;
        }
        let (reference, frame) = match client::parse(text.as_str()) {
            Ok(parsed) => parsed,
            Err(refusal) => {
                self.refuse(refusal).await;
                return Step::Continue;
            }
        };
        let reply = match self.apply(frame).await {
            Ok(Reply::Ack) => FrameBody::Ack { reference },
            Ok(Reply::Pong) => FrameBody::Pong { reference },
            Err((code, message)) => FrameBody::Error {
                reference,
                code,
                message,
            },
        };
        let _ = self.send(&Frame::new(None, &reply)).await;
        Step::Continue
    }

    async fn apply(&mut self, frame: ClientFrame) -> Result<Reply, (&'static str, String)> {
        let ops = self.hub.ops().clone();
        let agent = self.agent.clone();
        // A link or a new customer changes who the pop shows.
        let refresh_customer = matches!(
            frame,
            ClientFrame::LinkCustomer { .. } | ClientFrame::CreateCustomer { .. }
        );
        let view = match frame {
            ClientFrame::Hello { .. } => {
                return Err(("invalid", "hello was already received".into()));
            }
            ClientFrame::Ping {} => return Ok(Reply::Pong),
            ClientFrame::SetState { state, reason } => {
                self.set_state(state, reason).await?;
                return Ok(Reply::Ack);
            }
            ClientFrame::WrapupDone {} => {
                self.check_outcome().await?;
                let acd = self.hub.acd().clone();
                acd.wrapup_done(agent).await.map_err(acd_refusal)?;
                return Ok(Reply::Ack);
            }
            ClientFrame::IntakeUpdate { intake_id, fields } => {
                ops.update(&agent, &intake_id, fields).await
            }
            ClientFrame::CustomerUpdate {
                customer_id,
                fields,
                ..
            } => {
                let customer = ops
                    .update_customer(&agent, &customer_id, fields)
                    .await
                    .map_err(desk_refusal)?;
                customer_changed(&self.hub, &agent, customer).await;
                return Ok(Reply::Ack);
            }
            ClientFrame::LinkCustomer {
                intake_id,
                customer_id,
            } => ops.link_customer(&agent, &intake_id, &customer_id).await,
            ClientFrame::CreateCustomer { intake_id, fields } => {
                ops.create_customer(&agent, &intake_id, fields).await
            }
            ClientFrame::ContinueIntake {
                intake_id,
                existing_id,
            } => {
                ops.continue_existing(&agent, &intake_id, &existing_id)
                    .await
            }
            ClientFrame::Resolve {
                intake_id,
                solution,
            } => ops.resolve(&agent, &intake_id, &solution).await,
            ClientFrame::Escalate {
                intake_id,
                to_level,
                target,
                reason,
                case_ref,
            } => {
                ops.escalate(
                    &agent,
                    &intake_id,
                    to_level,
                    &target,
                    &reason,
                    case_ref.as_deref(),
                )
                .await
            }
            ClientFrame::ReturnIntake { intake_id, reason } => {
                ops.return_to_first_level(&agent, &intake_id, &reason).await
            }
            ClientFrame::OpenIntake {
                channel,
                customer_id,
            } => {
                ops.open_manual(&agent, &channel, customer_id.as_ref())
                    .await
            }
            ClientFrame::Claim { intake_id, force } => ops.claim(&agent, &intake_id, force).await,
            ClientFrame::Release { intake_id } => {
                let privileged = SUPERVISORS.contains(&self.session.role.as_str());
                ops.release(&agent, &intake_id, privileged).await
            }
            ClientFrame::AddNote { intake_id, body } => ops
                .add_note(&agent, &intake_id, &body)
                .await
                .map(|(_, view)| view),
            ClientFrame::Reopen { intake_id, reason } => {
                ops.reopen(&agent, &intake_id, &reason).await
            }
            ClientFrame::SetWorkState {
                intake_id,
                state,
                reason,
            } => ops.set_work_state(&agent, &intake_id, state, &reason).await,
            ClientFrame::Watch { intake_id } => {
                self.hub.watch(agent, intake_id).await;
                return Ok(Reply::Ack);
            }
        };
        let view = match view {
            Ok(view) => view,
            Err(DeskError::EditConflict(c)) => {
                // The desk gets the other's version with the refusal, to show them side by side.
                intake_changed(&self.hub, &agent, &c.current, false).await;
                return Err(desk_refusal(DeskError::EditConflict(c)));
            }
            Err(e) => return Err(desk_refusal(e)),
        };
        intake_changed(&self.hub, &agent, &view, refresh_customer).await;
        Ok(Reply::Ack)
    }

    async fn set_state(
        &mut self,
        state: WantedState,
        reason: Option<String>,
    ) -> Result<(), (&'static str, String)> {
        let acd = self.hub.acd().clone();
        let id = self.agent.clone();
        let row = self
            .api
            .store
            .get_agent(&id)
            .await
            .map_err(|e| internal(&e))?
            .ok_or(("forbidden", "unknown agent".to_owned()))?;
        let ops = self.hub.ops().clone();
        let attempt = match state {
            WantedState::Available => {
                if !level_takes_calls(&row, Some(&ops)) {
                    return Err(("conflict", SECOND_LEVEL_REFUSAL.to_owned()));
                }
                self.check_outcome().await?;
                acd.set_available(id.clone()).await
            }
            WantedState::NotReady => {
                let reason = reason.unwrap_or_else(|| "break".to_owned());
                let reason = reason.trim();
                if reason.is_empty() || reason.chars().count() > MAX_REASON {
                    return Err((
                        "invalid",
                        format!("reason must be 1 to {MAX_REASON} characters"),
                    ));
                }
                acd.set_not_ready(id.clone(), reason.to_owned()).await
            }
        };
        match attempt {
            // After a server restart the engine knows nobody: log the agent in (when they take
            // calls at all, as at sign-in), then retry.
            Err(AcdError::NotLoggedIn(_) | AcdError::UnknownAgent(_)) => {
                if let Err(e) = acd_login(&acd, &row, Some(&ops)).await {
                    return Err(("conflict", e.to_string()));
                }
                match state {
                    WantedState::Available => acd.set_available(id).await,
                    WantedState::NotReady => Ok(()),
                }
                .map_err(acd_refusal)
            }
            other => other.map_err(acd_refusal),
        }
    }

    /// `[desk] require_outcome`: the intake of the agent's last answered call (from the
    /// database, as the REST API checks it) must be resolved or escalated first.
    async fn check_outcome(&mut self) -> Result<(), (&'static str, String)> {
        if !self.hub.require_outcome() {
            return Ok(());
        }
        match self.hub.ops().outcome_pending(&self.agent).await {
            Ok(None) => Ok(()),
            Ok(Some(intake)) => Err((
                "conflict",
                format!("choose an outcome (resolve or escalate) for intake {intake} first"),
            )),
            Err(e) => Err(desk_refusal(e)),
        }
    }

    async fn send(&mut self, frame: &Frame) -> Result<(), axum::Error> {
        self.socket.send(Message::Text(frame.payload())).await
    }

    async fn refuse(&mut self, r: Refusal) {
        let body = FrameBody::Error {
            reference: r.reference,
            code: r.code,
            message: r.message,
        };
        let _ = self.send(&Frame::new(None, &body)).await;
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
    }
}

enum Reply {
    Ack,
    Pong,
}

fn internal(e: &dyn std::error::Error) -> (&'static str, String) {
    tracing::error!(error = %e, "desk action failed");
    ("internal", "internal error".to_owned())
}

fn desk_refusal(e: DeskError) -> (&'static str, String) {
    match e {
        DeskError::NotFound(_) => ("not_found", e.to_string()),
        DeskError::Invalid(m) => ("invalid", m),
        DeskError::Conflict(m) => ("conflict", m),
        DeskError::Forbidden(m) => ("forbidden", m),
        DeskError::EditConflict(_) => ("edit_conflict", e.to_string()),
        DeskError::Store(ref s) => internal(s),
    }
}

fn acd_refusal(e: AcdError) -> (&'static str, String) {
    match e {
        AcdError::InvalidTransition { from, request, .. } => {
            ("conflict", format!("cannot {request} while {from}"))
        }
        AcdError::Stopped => ("conflict", "the server is shutting down".into()),
        other => ("conflict", other.to_string()),
    }
}

/// `GET /api/voice/{id}`: a voice message's WAV, for signed-in desk users.
async fn voice(
    State(st): State<ApiState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_role(&session, DESK_ROLES)?;
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ApiError::NotFound);
    }
    let path = pop::voice_message_path(&st.store, &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::warn!(error = %e, %path, "voice message file unreadable");
        ApiError::NotFound
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("audio/wav")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
#[path = "ws_tests.rs"]
mod tests;

/// See `DeskConn::recheck_session`.
async fn recheck(api: &ApiState, session: &Session) -> Option<Step> {
    match api.store.session(&session.token_hash, now_ms()).await {
        Ok(Some(row)) if row.role == session.role => None,
        Ok(Some(_)) => Some(Step::Close(4001, "role changed; sign in again")),
        Ok(None) => Some(Step::Close(4001, "session expired")),
        Err(e) => {
            tracing::warn!(error = %e, "cannot re-check a desk session");
            None
        }
    }
}
