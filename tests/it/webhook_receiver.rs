//! A strict webhook receiver for the integration tests: an HTTP server on 127.0.0.1 that
//! checks every request against docs/integrations.md ("Webhooks"): POST, JSON, the
//! `Firstline-Signature` HMAC-SHA256 over `"{timestamp}.{body}"` with the shared secret, a
//! timestamp near now, `Idempotency-Key` equal to the envelope's `id`, the envelope's fields and
//! the intake's. It answers from a plan (`fail_next`), can be stopped and started again on the
//! same port, and counts each event's accepted deliveries, so tests see duplicates.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{KeyInit, Mac};
use serde_json::Value;

/// One accepted event.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) event: String,
    pub(crate) attempt: u32,
    pub(crate) body: Value,
}

#[derive(Default)]
struct State {
    secret: String,
    public_url: String,
    accepted: Vec<Received>,
    /// Accepted deliveries per idempotency key.
    counts: HashMap<String, u32>,
    /// Every request, refused ones included: (key, status answered).
    requests: Vec<(String, u16)>,
    violations: Vec<String>,
    plan: VecDeque<(u16, String)>,
}

/// The receiver.
pub(crate) struct WebhookReceiver {
    pub(crate) addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

const KINDS: &[&str] = &[
    "intake.created",
    "intake.updated",
    "intake.resolved",
    "intake.escalated",
    "intake.returned",
    "intake.reopened",
    "call.arrived",
    "call.answered",
    "call.ended",
    "callback.requested",
    "voice_message.recorded",
    "ping",
];

fn hex_hmac(secret: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn check(st: &State, headers: &HeaderMap, body: &[u8]) -> Result<Received, String> {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if h("content-type").as_deref() != Some("application/json") {
        return Err(format!("content-type {:?}", h("content-type")));
    }
    let ts = h("firstline-timestamp").ok_or("no Firstline-Timestamp")?;
    let secs: i64 = ts.parse().map_err(|_| format!("timestamp {ts:?}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - secs).abs() > 300 {
        return Err(format!("timestamp {secs} is {} s from now", now - secs));
    }
    let sig = h("firstline-signature").ok_or("no Firstline-Signature")?;
    let want = format!("v1={}", hex_hmac(&st.secret, &ts, body));
    if sig != want {
        return Err(format!("bad signature {sig}"));
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("body not JSON: {e}"))?;
    let id = v["id"].as_str().ok_or("no id")?.to_owned();
    if !(id.starts_with("evt-") && id.len() > 8) {
        return Err(format!("id {id:?}"));
    }
    if h("idempotency-key").as_deref() != Some(id.as_str()) {
        return Err(format!(
            "Idempotency-Key {:?} ≠ id {id}",
            h("idempotency-key")
        ));
    }
    let event = v["event"].as_str().ok_or("no event")?.to_owned();
    if !KINDS.contains(&event.as_str()) || h("firstline-event").as_deref() != Some(event.as_str()) {
        return Err(format!(
            "event {event:?} / header {:?}",
            h("firstline-event")
        ));
    }
    if v["schema_version"] != 1 {
        return Err(format!("schema_version {}", v["schema_version"]));
    }
    let at = v["occurred_at"].as_str().ok_or("no occurred_at")?;
    if !(at.len() == 24 && at.ends_with('Z') && at.as_bytes()[10] == b'T') {
        return Err(format!("occurred_at {at:?}"));
    }
    let data = v["data"].as_object().ok_or("data is not an object")?;
    let attempt: u32 = h("firstline-attempt")
        .and_then(|a| a.parse().ok())
        .ok_or("no Firstline-Attempt")?;
    if event.starts_with("intake.") {
        let i = data
            .get("intake")
            .and_then(Value::as_object)
            .ok_or("no data.intake")?;
        for key in [
            "id",
            "ticket_no",
            "status",
            "category",
            "ivr_path",
            "channel",
        ] {
            if !i.get(key).is_some_and(Value::is_string) {
                return Err(format!("intake.{key} missing: {i:?}"));
            }
        }
        if !i
            .get("level")
            .and_then(Value::as_i64)
            .is_some_and(|l| (1..=3).contains(&l))
        {
            return Err(format!("intake.level {:?}", i.get("level")));
        }
        let url = i.get("url").and_then(Value::as_str).unwrap_or_default();
        if !url.starts_with(&st.public_url) || !url.ends_with(i["id"].as_str().unwrap_or("?")) {
            return Err(format!("intake.url {url:?}"));
        }
        if event == "intake.escalated" {
            let e = data.get("escalation").ok_or("no data.escalation")?;
            if !(e["to_level"].is_i64() && e["target"].is_string() && e["reason"].is_string()) {
                return Err(format!("escalation {e}"));
            }
        }
    } else if event.starts_with("call.") && !data.get("call_id").is_some_and(Value::is_string) {
        return Err(format!("{event} without call_id: {data:?}"));
    }
    Ok(Received {
        event,
        attempt,
        body: v,
    })
}

async fn handle(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<State>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let mut st = state.lock().unwrap();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let received = match check(&st, &headers, &body) {
        Ok(r) => r,
        Err(v) => {
            st.violations.push(v.clone());
            st.requests.push((key, 400));
            return (StatusCode::BAD_REQUEST, v);
        }
    };
    if let Some((status, text)) = st.plan.pop_front() {
        st.requests.push((key, status));
        return (StatusCode::from_u16(status).unwrap(), text);
    }
    st.requests.push((key.clone(), 200));
    *st.counts.entry(key).or_default() += 1;
    st.accepted.push(received);
    (StatusCode::OK, "{\"ok\":true}".to_owned())
}

impl WebhookReceiver {
    /// A receiver on a free port that checks signatures with `secret` and intake links
    /// against `public_url`.
    pub(crate) async fn start(secret: &str, public_url: &str) -> WebhookReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            secret: secret.to_owned(),
            public_url: public_url.to_owned(),
            ..State::default()
        }));
        let mut r = WebhookReceiver {
            addr,
            state,
            server: None,
        };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let app = axum::Router::new()
            .route("/hook", post(handle))
            .with_state(self.state.clone());
        self.server = Some(tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        }));
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Sets where intake links must point (the server's address, known after it started).
    pub(crate) fn expect_public_url(&self, url: &str) {
        self.state.lock().unwrap().public_url = url.to_owned();
    }

    /// Stops listening: connections are refused until [`WebhookReceiver::resume`].
    pub(crate) async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
            let _ = s.await;
        }
    }

    /// Listens again on the same port.
    pub(crate) async fn resume(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// Answers the next `n` valid requests with `status` and `body`.
    pub(crate) fn fail_next(&self, n: usize, status: u16, body: &str) {
        let mut st = self.state.lock().unwrap();
        for _ in 0..n {
            st.plan.push_back((status, body.to_owned()));
        }
    }

    /// What was accepted, in arrival order.
    pub(crate) fn accepted(&self) -> Vec<Received> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// How many requests `key` took (refused attempts included).
    pub(crate) fn attempts_of(&self, key: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(k, _)| k == key)
            .count()
    }

    /// Keys accepted more than once.
    pub(crate) fn duplicates(&self) -> Vec<String> {
        let st = self.state.lock().unwrap();
        st.counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Requests that broke the documented shape.
    pub(crate) fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    /// Waits until `n` events are accepted (at most `secs`), then returns them.
    pub(crate) async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.accepted();
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
