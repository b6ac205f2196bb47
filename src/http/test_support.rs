//! Test set-up shared by the WebSocket route tests (`ws_tests`, `supervisor_tests`): a fresh
//! database with the demo data, a live event bus and queue engine, a router served on
//! 127.0.0.1 port 0, session tokens as `POST /api/login` stores them, and a tokio-tungstenite
//! client (`open_ws`, `send`, `next`).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::auth::{hash_token, new_token};
use super::limit::LoginLimits;
use super::{ApiState, AuthConfig};
use crate::acd::{AcdConfig, AcdHandle, AcdService};
use crate::domain::AgentId;
use crate::events::EventBus;
use crate::store::testing::{TestDbGuard, test_store};
use crate::store::{Store, now_ms};

/// A client WebSocket to the test server.
pub(super) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The live pieces a router under test is built from.
pub(super) struct Parts {
    pub(super) store: Store,
    pub(super) events: EventBus,
    pub(super) acd: AcdHandle,
    pub(super) tasks: TaskTracker,
    pub(super) stop: CancellationToken,
}

impl Parts {
    /// The API state over this store and queue engine, with default auth and login limits.
    pub(super) fn api(&self) -> ApiState {
        ApiState::new(
            self.store.clone(),
            self.acd.clone(),
            AuthConfig::default(),
            LoginLimits::default(),
        )
    }
}

/// A running server with its store, event bus and queue engine.
pub(super) struct TestServer {
    pub(super) addr: SocketAddr,
    pub(super) store: Store,
    pub(super) events: EventBus,
    pub(super) acd: AcdHandle,
    stop: CancellationToken,
    guard: TestDbGuard,
}

impl TestServer {
    /// A fresh database with the demo data, an event bus and a queue engine; serves the router
    /// `app` builds from them on 127.0.0.1 port 0.
    pub(super) async fn start(app: impl FnOnce(&Parts) -> Router) -> TestServer {
        let (store, guard) = test_store().await;
        store.load_demo().await.unwrap();
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let events = EventBus::start(store.start_journal(&tasks, stop.clone()), 1);
        let acd = AcdService::start(AcdConfig::default(), &tasks, stop.clone());
        let parts = Parts {
            store,
            events,
            acd,
            tasks,
            stop,
        };
        let app = app(&parts);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let until = parts.stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(until.cancelled_owned())
                .await
        });
        TestServer {
            addr,
            store: parts.store,
            events: parts.events,
            acd: parts.acd,
            stop: parts.stop,
            guard,
        }
    }

    /// Stops the server and its tasks and drops the test database.
    pub(super) async fn stop(self) {
        self.stop.cancel();
        self.guard.cleanup().await;
    }

    /// A session token for `agent` with `role`, as `POST /api/login` would store it. Sessions
    /// take the agent's current role, so the agent is given `role` first.
    pub(super) async fn token(&self, agent: &str, role: &str) -> String {
        let token = new_token();
        let now = now_ms();
        sqlx::query("UPDATE agents SET role = $2 WHERE id = $1")
            .bind(agent)
            .bind(role)
            .execute(self.store.pool())
            .await
            .unwrap();
        self.store
            .create_session(
                &hash_token(&token),
                &AgentId::from_string(agent),
                role,
                now,
                now + 3_600_000,
            )
            .await
            .unwrap();
        token
    }

    /// Opens the WebSocket at `path` with extra headers; `Err(status)` when the upgrade is
    /// refused.
    pub(super) async fn open_ws(&self, path: &str, headers: &[(&str, String)]) -> Result<Ws, u16> {
        let mut req = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .unwrap();
        for (k, v) in headers {
            req.headers_mut().insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(ws),
            Err(tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("connect: {e}"),
        }
    }
}

/// Sends `frame` as a text frame.
pub(super) async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

/// The next text frame as JSON (pings and pongs skipped), within 5 s.
pub(super) async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no frame within 5 s")
            .expect("socket closed")
            .expect("socket error");
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}
