//! Tests of the `/api` routes: a real server on 127.0.0.1 port 0 (with the peer address, as
//! `app.rs` serves it), a fresh database with the demo agents, a live ACD, and a small
//! hand-written HTTP/1.1 client.

mod admin_api;
mod collab;
mod desk_customers;
mod desk_feed;
mod desk_intakes;
mod device;
mod login;
mod second_level;
mod state;
mod worklists;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::limit::LoginLimits;
use super::{ApiState, AuthConfig, admin, agents, customers, intakes, ws};
use crate::acd::{AcdConfig, AcdHandle, AcdService, AgentState};
use crate::config::DeskSection;
use crate::desk::hub::DeskHub;
use crate::desk::intakes::IntakeOps;
use crate::domain::AgentId;
use crate::events::EventBus;
use crate::store::Store;
use crate::store::testing::{TestDbGuard, test_store};

/// A running API with its store, queue engine and desk hub.
struct TestApi {
    addr: SocketAddr,
    store: Store,
    acd: AcdHandle,
    /// Kept alive: the desk hub stops when the event stream closes.
    _events: EventBus,
    /// Every credential table the admin operations handed the registrar, in order.
    sip_tables: std::sync::Arc<std::sync::Mutex<Vec<Vec<crate::sip::SipCredential>>>>,
    /// The escalation lists the desk offers.
    ops: IntakeOps,
    /// The admin operations behind `/api/admin` and `/api/setup`.
    accounts: crate::accounts::Accounts,
    stop: CancellationToken,
    guard: TestDbGuard,
}

impl TestApi {
    async fn start() -> TestApi {
        TestApi::with(LoginLimits::default(), DeskSection::default()).await
    }

    async fn with_limits(limits: LoginLimits) -> TestApi {
        TestApi::with(limits, DeskSection::default()).await
    }

    /// With these `[desk]` settings.
    async fn with_desk(desk: DeskSection) -> TestApi {
        TestApi::with(LoginLimits::default(), desk).await
    }

    async fn with(limits: LoginLimits, desk: DeskSection) -> TestApi {
        let (store, guard) = test_store().await;
        store.load_demo().await.unwrap();
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let acd = AcdService::start(AcdConfig::default(), &tasks, stop.clone());
        let events = EventBus::start(store.start_journal(&tasks, stop.clone()), 1);
        let state = ApiState::new(store.clone(), acd.clone(), AuthConfig::default(), limits);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The whole `/api` as `http::router` merges it (desk routes, the desk WebSocket, the
        // outcome rule too).
        let require_outcome = desk.require_outcome;
        let ops = IntakeOps::new(store.clone(), desk);
        let hub = DeskHub::start(
            &events,
            ops.clone(),
            acd.clone(),
            store.clone(),
            require_outcome,
            &tasks,
            stop.clone(),
        );
        let sip_tables = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorder = sip_tables.clone();
        let accounts = crate::accounts::Accounts::new(
            store.clone(),
            acd.clone(),
            ops.clone(),
            "firstline",
            std::sync::Arc::new(move |t| recorder.lock().unwrap().push(t)),
            tokio::sync::broadcast::channel(64).0,
        );
        store
            .seed_targets(&["Network".into()], &["Dell".into()], 0)
            .await
            .unwrap();
        let state = state.with_revoked(accounts.revoked());
        let app = agents::router(state.clone())
            .layer(axum::Extension(ops.clone()))
            .merge(admin::router(state.clone(), accounts.clone()))
            .merge(intakes::router(state.clone(), hub.clone()))
            .merge(customers::router(state.clone(), hub.clone()))
            .merge(ws::router(state, hub))
            .into_make_service_with_connect_info::<SocketAddr>();
        let until = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(until.cancelled_owned())
                .await
        });
        TestApi {
            addr,
            store,
            acd,
            _events: events,
            sip_tables,
            ops,
            accounts,
            stop,
            guard,
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.guard.cleanup().await;
    }

    /// Sends one request; `headers` are added after `Host` and `Connection: close`.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(body) = body {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                req.push_str("Content-Type: application/json\r\n");
            }
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        req.push_str(body.unwrap_or(""));
        let exchange = async {
            let mut conn = TcpStream::connect(self.addr).await.unwrap();
            // The server may answer (413) and close before reading a large body: keep going.
            let _ = conn.write_all(req.as_bytes()).await;
            let mut raw = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                match conn.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => raw.extend_from_slice(&buf[..n]),
                }
            }
            raw
        };
        let raw = tokio::time::timeout(Duration::from_secs(20), exchange)
            .await
            .expect("the server did not answer in time");
        Resp::parse(&raw)
    }

    /// `POST /api/login`.
    async fn login(&self, login: &str, password: &str) -> Resp {
        let body = serde_json::json!({ "login": login, "password": password }).to_string();
        self.send("POST", "/api/login", &[], Some(&body)).await
    }

    /// Logs in and returns the token (asserting 200).
    async fn token(&self, login: &str, password: &str) -> String {
        let resp = self.login(login, password).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        resp.json()["token"].as_str().unwrap().to_owned()
    }

    async fn acd_state(&self, agent: &str) -> AgentState {
        let snap = self.acd.snapshot().await.unwrap();
        snap.agent(&AgentId::from_string(agent))
            .map_or(AgentState::Offline, |a| a.state.clone())
    }
}

/// A parsed HTTP/1.1 response (Content-Length bodies; `Connection: close`).
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn parse(raw: &[u8]) -> Resp {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no response head in {text:?}"));
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Resp {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }

    /// The `error` message of a JSON error body.
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

fn cookie(token: &str) -> String {
    format!("firstline_session={token}")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
