//! Test harness: a fresh database per test, the server on port 0, row polling, the REST and SIP
//! steps a queue scenario starts with. Host plumbing (tools, ports, namespaces) is in `host`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use firstline::app::App;
use firstline::config::Config;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Row};

pub(crate) use crate::host::{Netns, free_port, free_udp_port_pair, tool};
pub(crate) use crate::scenario::{caller, press, registered_phone};

/// Runs `fut` and fails the test if it takes longer than `secs` seconds.
pub(crate) async fn within<F: Future>(secs: u64, fut: F) -> F::Output {
    // Boxed: a scenario's future is large in a debug build, and the test thread's stack is not.
    match tokio::time::timeout(Duration::from_secs(secs), Box::pin(fut)).await {
        Ok(v) => v,
        Err(_) => panic!("scenario did not finish within {secs} s"),
    }
}

/// The `ivr-prompts/` folder of the crate.
pub(crate) fn prompts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ivr-prompts")
}

/// A database that lives as long as one test: a temp SQLite file or a fresh PostgreSQL database.
pub(crate) struct TestDb {
    /// URL handed to the server.
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    /// A new empty database; PostgreSQL when `TEST_DATABASE_URL` is set, SQLite otherwise.
    pub(crate) async fn new() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => TestDb::postgres_at(&admin_url).await,
            _ => TestDb::sqlite(),
        }
    }

    /// A fresh PostgreSQL database whatever the default is: on `TEST_DATABASE_URL`, else on
    /// the machine's server (`postgres://postgres@127.0.0.1:5432/test`); an unreachable server
    /// fails the test.
    pub(crate) async fn postgres() -> TestDb {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_string());
        TestDb::postgres_at(&admin_url).await
    }

    async fn postgres_at(admin_url: &str) -> TestDb {
        sqlx::any::install_default_drivers();
        let name = format!("fl_{:016x}", crate::helpers::random_u64());
        let admin = AnyPool::connect(admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect {admin_url}: {e}"));
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let url = replace_db_name(admin_url, &name);
        TestDb {
            url,
            _dir: None,
            pg_admin: Some((admin_url.to_string(), name)),
        }
    }

    /// True for a PostgreSQL database.
    pub(crate) fn is_postgres(&self) -> bool {
        self.pg_admin.is_some()
    }

    /// A new empty SQLite database in a temp dir.
    pub(crate) fn sqlite() -> TestDb {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        TestDb {
            url,
            _dir: Some(dir),
            pg_admin: None,
        }
    }

    /// Drops the PostgreSQL database (the SQLite temp dir goes with `self`).
    pub(crate) async fn drop_db(mut self) {
        if let Some((admin_url, name)) = self.pg_admin.take() {
            drop_pg_database(&admin_url, &name).await;
        }
    }
}

impl Drop for TestDb {
    /// A test that panicked never reached `drop_db`: drop its PostgreSQL database here, on a
    /// thread with its own runtime (the test's runtime may be unwinding).
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_admin.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_pg_database(&admin_url, &name));
                }
            })
            .join();
        }
    }
}

async fn drop_pg_database(admin_url: &str, name: &str) {
    if let Ok(admin) = AnyPool::connect(admin_url).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&admin).await;
        admin.close().await;
    }
}

/// `postgres://u@h:p/old?x` with the database name replaced.
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// A running server with its own database and a pool to read the rows it writes.
pub(crate) struct TestApp {
    /// The server under test.
    pub(crate) app: App,
    /// Our own connection to the server's database.
    pub(crate) pool: AnyPool,
    db: TestDb,
}

/// Starts the server with the test config.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the server after `tweak` has adjusted the test config.
pub(crate) async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    start_on(TestDb::new().await, tweak).await
}

/// Starts the server on `db` after `tweak` has adjusted the test config.
pub(crate) async fn start_on(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut cfg = Config::for_tests(db.url.clone(), prompts_dir());
    tweak(&mut cfg);
    // Boxed: the server's start is a large future; every test's own future stays small.
    let app = Box::pin(App::start(cfg)).await.expect("App::start");
    let pool = AnyPoolOptions::new()
        .max_connections(2)
        .connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", db.url));
    TestApp { app, pool, db }
}

impl TestApp {
    /// SIP over UDP.
    pub(crate) fn udp(&self) -> SocketAddr {
        self.app.sip_udp_addr()
    }

    /// SIP over TCP.
    pub(crate) fn tcp(&self) -> SocketAddr {
        self.app.sip_tcp_addr()
    }

    /// The database URL the server runs on.
    pub(crate) fn db_url(&self) -> &str {
        &self.db.url
    }

    /// Callers waiting in all queues together, from `/metrics` (the ACD's own state).
    pub(crate) async fn waiting(&self) -> u64 {
        waiting_in(&self.metrics().await)
    }

    /// Stops the server, keeps the database, and starts a new server on it after `tweak`.
    pub(crate) async fn restart(self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        self.pool.close().await;
        self.app.shutdown().await;
        start_on(self.db, tweak).await
    }

    /// Stops the server and removes the database.
    pub(crate) async fn finish(self) {
        self.pool.close().await;
        self.app.shutdown().await;
        self.db.drop_db().await;
    }

    /// The `calls` row for a SIP Call-ID, once it exists.
    pub(crate) async fn call_row(&self, sip_call_id: &str) -> Option<CallRow> {
        // The server writes through its journal: read what it has handed in so far.
        self.app.store().synced().await;
        let row = sqlx::query(
            "SELECT id, caller, outcome, dtmf_mode, language, hangup_by, answered_at, ended_at \
             FROM calls WHERE sip_call_id = $1",
        )
        .bind(sip_call_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .ok()??;
        Some(CallRow {
            id: row.try_get("id").ok()?,
            caller: row.try_get("caller").ok(),
            outcome: row.try_get("outcome").ok(),
            dtmf_mode: row.try_get::<Option<String>, _>("dtmf_mode").ok().flatten(),
            language: row.try_get::<Option<String>, _>("language").ok().flatten(),
            hangup_by: row.try_get::<Option<String>, _>("hangup_by").ok().flatten(),
            answered_at: row.try_get::<Option<i64>, _>("answered_at").ok().flatten(),
            ended_at: row.try_get::<Option<i64>, _>("ended_at").ok().flatten(),
        })
    }

    /// Waits up to `limit` for the callback `id` to reach `status`; the status, once it has.
    pub(crate) async fn callback_reaches(
        &self,
        id: &str,
        status: &str,
        limit: Duration,
    ) -> Option<String> {
        wait_for(limit, || async {
            let r = sqlx::query("SELECT status FROM callbacks WHERE id = $1")
                .bind(id.to_owned())
                .fetch_one(&self.pool)
                .await
                .ok()?;
            let s: String = r.get("status");
            (s == status).then_some(s)
        })
        .await
    }

    /// Waits until the call has ended (`ended_at` set, outcome not in progress) and returns it.
    pub(crate) async fn ended_call(&self, sip_call_id: &str) -> CallRow {
        let found = wait_for(Duration::from_secs(10), || async {
            let row = self.call_row(sip_call_id).await?;
            (row.ended_at.is_some() && row.outcome.as_deref() != Some("in_progress")).then_some(row)
        })
        .await;
        match found {
            Some(row) => row,
            None => {
                let last = self.call_row(sip_call_id).await;
                panic!(
                    "call {sip_call_id} did not end in the database within 10 s; last row: {last:?}"
                )
            }
        }
    }

    /// The intakes written for a call.
    pub(crate) async fn intakes_of(&self, call_id: &str) -> Vec<IntakeRow> {
        let rows = sqlx::query(
            "SELECT category, priority, language, ivr_path, dtmf_mode, status \
             FROM intakes WHERE call_id = $1",
        )
        .bind(call_id.to_string())
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default();
        rows.iter()
            .map(|r| IntakeRow {
                category: r.try_get("category").unwrap_or_default(),
                priority: r.try_get::<Option<i64>, _>("priority").ok().flatten(),
                language: r.try_get::<Option<String>, _>("language").ok().flatten(),
                ivr_path: r.try_get::<Option<String>, _>("ivr_path").ok().flatten(),
                dtmf_mode: r.try_get::<Option<String>, _>("dtmf_mode").ok().flatten(),
                status: r.try_get("status").unwrap_or_default(),
            })
            .collect()
    }

    /// Waits for the single intake of the call identified by its SIP Call-ID.
    pub(crate) async fn intake_for(&self, sip_call_id: &str) -> IntakeRow {
        let found = wait_for(Duration::from_secs(10), || async {
            let call = self.call_row(sip_call_id).await?;
            let mut v = self.intakes_of(&call.id).await;
            (v.len() == 1).then(|| v.remove(0))
        })
        .await;
        match found {
            Some(i) => i,
            None => {
                let call = self.call_row(sip_call_id).await;
                panic!("no intake for {sip_call_id} within 10 s; call row: {call:?}")
            }
        }
    }
}

/// One `calls` row (the columns the tests look at).
#[derive(Debug, Clone)]
pub(crate) struct CallRow {
    pub(crate) id: String,
    pub(crate) caller: Option<String>,
    pub(crate) outcome: Option<String>,
    pub(crate) dtmf_mode: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) hangup_by: Option<String>,
    pub(crate) answered_at: Option<i64>,
    pub(crate) ended_at: Option<i64>,
}

impl CallRow {
    /// True when the comma list `dtmf_mode` contains `mode`.
    pub(crate) fn saw_mode(&self, mode: &str) -> bool {
        self.dtmf_mode
            .as_deref()
            .unwrap_or("")
            .split(',')
            .any(|m| m.trim() == mode)
    }
}

/// One `intakes` row.
#[derive(Debug, Clone)]
pub(crate) struct IntakeRow {
    pub(crate) category: String,
    pub(crate) priority: Option<i64>,
    pub(crate) language: Option<String>,
    pub(crate) ivr_path: Option<String>,
    pub(crate) dtmf_mode: Option<String>,
    pub(crate) status: String,
}

/// A random number from the standard library's per-process hash keys and a counter.
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Polls `probe` every 50 ms until it yields `Some` or `limit` passes.
pub(crate) async fn wait_for<T, F, Fut>(limit: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn db_name_is_replaced() {
    assert_eq!(
        replace_db_name("postgres://postgres@127.0.0.1:5432/test", "fl_1"),
        "postgres://postgres@127.0.0.1:5432/fl_1"
    );
    assert_eq!(
        replace_db_name("postgres://h/x?sslmode=disable", "fl_2"),
        "postgres://h/fl_2?sslmode=disable"
    );
}

/// The sum of the `firstline_queue_waiting{queue=…}` samples in a `/metrics` text.
pub(crate) fn waiting_in(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("firstline_queue_waiting{"))
        .filter_map(|l| l.rsplit(' ').next()?.trim().parse::<u64>().ok())
        .sum()
}

/// Starts the server with the demo agents and short queue timers (ring 2 s, wrap-up 1 s, no
/// periodic announcements, no wait limit for the callback offer), then `tweak`.
pub(crate) async fn spawn_queue_app(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|c| {
        queue_config(c);
        tweak(c);
    })
    .await
}

/// The demo agents and the short queue timers of [`spawn_queue_app`].
pub(crate) fn queue_config(c: &mut Config) {
    c.load_demo = true;
    c.acd.ring_timeout_secs = 2;
    c.acd.wrapup_secs = 1;
    c.acd.announce_interval_secs = 0;
    c.acd.max_wait_for_callback_secs = 0;
    // SIPp callers press fixed digits: one ringing again from a number with an open intake
    // would answer the recognition prompt with its category digit. The prompt has its own test
    // (returning_caller.rs), which switches it back on.
    c.ivr.recognized = String::new();
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`); returns the status and
/// the body parsed as JSON (`Null` when it is not JSON).
pub(crate) async fn http_json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let kind = (!body.is_empty()).then_some("application/json");
    http_body(addr, method, path, token, kind, body.as_bytes()).await
}

/// One HTTP/1.1 request with `body` of `content_type` (none: no body type); the status and the
/// JSON answer (`Null` when it is not JSON).
pub(crate) async fn http_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(kind) = content_type {
        head.push_str(&format!("Content-Type: {kind}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    http_response(&raw)
}

/// A raw HTTP/1.1 response read to the end: its status (0 when unreadable) and its body as JSON
/// (`Null` when it is not JSON).
pub(crate) fn http_response(raw: &[u8]) -> (u16, serde_json::Value) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

impl TestApp {
    /// `GET /metrics` as text (headers included).
    pub(crate) async fn metrics(&self) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.app.http_addr();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        String::from_utf8_lossy(&raw).into_owned()
    }

    /// The value of one `/metrics` series, e.g. `firstline_calls_total` or
    /// `firstline_rtp_dropped_packets_total{reason="learning"}`; a missing series fails.
    pub(crate) async fn metric(&self, series: &str) -> u64 {
        let text = self.metrics().await;
        let prefix = format!("{series} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series:?} in /metrics:\n{text}"))
    }

    /// Logs a demo agent in through `POST /api/login` (password `<login>-demo`); their token.
    pub(crate) async fn login(&self, login: &str) -> String {
        let body = serde_json::json!({"login": login, "password": format!("{login}-demo")});
        let (status, json) =
            http_json(self.app.http_addr(), "POST", "/api/login", None, Some(body)).await;
        assert_eq!(status, 200, "login {login}: {json}");
        json["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {json}"))
            .to_string()
    }

    /// `PUT /api/me/state`; returns the status and the state view.
    pub(crate) async fn set_state(
        &self,
        token: &str,
        state: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        http_json(
            self.app.http_addr(),
            "PUT",
            "/api/me/state",
            Some(token),
            Some(state),
        )
        .await
    }

    /// Logs `login` in and makes them not ready for `reason`, so callers wait in their queues
    /// (a logged-in agent serves the queue); their token.
    pub(crate) async fn not_ready(&self, login: &str, reason: &str) -> String {
        let token = self.login(login).await;
        let (status, view) = self
            .set_state(
                &token,
                serde_json::json!({"state": "not_ready", "reason": reason}),
            )
            .await;
        assert_eq!(
            (status, view["state"].as_str()),
            (200, Some("not_ready")),
            "{view}"
        );
        token
    }

    /// The queue columns of the `calls` row for a SIP Call-ID.
    pub(crate) async fn queue_row(&self, sip_call_id: &str) -> Option<QueueRow> {
        // The server writes through its journal: read what it has handed in so far.
        self.app.store().synced().await;
        let row = sqlx::query(
            "SELECT id, category, priority, queued_at, offered_at, offers, agent_id, \
             connected_at, wait_ms, outcome, hangup_by FROM calls WHERE sip_call_id = $1",
        )
        .bind(sip_call_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .ok()??;
        let opt_i = |c: &str| row.try_get::<Option<i64>, _>(c).ok().flatten();
        let opt_s = |c: &str| row.try_get::<Option<String>, _>(c).ok().flatten();
        Some(QueueRow {
            id: row.try_get("id").ok()?,
            category: opt_s("category"),
            priority: opt_i("priority"),
            queued_at: opt_i("queued_at"),
            offered_at: opt_i("offered_at"),
            offers: opt_i("offers").unwrap_or(0),
            agent_id: opt_s("agent_id"),
            connected_at: opt_i("connected_at"),
            wait_ms: opt_i("wait_ms"),
            outcome: opt_s("outcome"),
            hangup_by: opt_s("hangup_by"),
        })
    }

    /// Waits until the call has entered the queue (`queued_at` set).
    pub(crate) async fn queued(&self, sip_call_id: &str) -> QueueRow {
        wait_for(Duration::from_secs(15), || async {
            self.queue_row(sip_call_id)
                .await
                .filter(|r| r.queued_at.is_some())
        })
        .await
        .unwrap_or_else(|| panic!("call {sip_call_id} did not enter the queue within 15 s"))
    }

    /// `(agent_id, result)` of every `call_offers` row of a call, oldest first.
    pub(crate) async fn offers_of(&self, call_id: &str) -> Vec<(String, Option<String>)> {
        sqlx::query(
            "SELECT agent_id, result FROM call_offers WHERE call_id = $1 ORDER BY offered_at",
        )
        .bind(call_id.to_string())
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.try_get("agent_id").unwrap_or_default(),
                r.try_get::<Option<String>, _>("result").ok().flatten(),
            )
        })
        .collect()
    }

    /// The agent's stored state changes `(from, to, reason)`, in order.
    pub(crate) async fn agent_states(
        &self,
        agent_id: &str,
    ) -> Vec<(String, String, Option<String>)> {
        sqlx::query(
            "SELECT payload FROM events WHERE kind = 'agent_state' AND agent_id = $1 ORDER BY seq",
        )
        .bind(agent_id.to_string())
        .fetch_all(&self.pool)
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let p: String = r.try_get("payload").ok()?;
            let v: serde_json::Value = serde_json::from_str(&p).ok()?;
            Some((
                v["from"].as_str()?.to_string(),
                v["to"].as_str()?.to_string(),
                v["reason"].as_str().map(str::to_string),
            ))
        })
        .collect()
    }
}

/// The queue part of a `calls` row.
#[derive(Debug, Clone)]
pub(crate) struct QueueRow {
    pub(crate) id: String,
    pub(crate) category: Option<String>,
    pub(crate) priority: Option<i64>,
    pub(crate) queued_at: Option<i64>,
    pub(crate) offered_at: Option<i64>,
    pub(crate) offers: i64,
    pub(crate) agent_id: Option<String>,
    pub(crate) connected_at: Option<i64>,
    pub(crate) wait_ms: Option<i64>,
    pub(crate) outcome: Option<String>,
    pub(crate) hangup_by: Option<String>,
}

/// A fresh SQLite database, whatever `TEST_DATABASE_URL` says (for tests that run the server
/// inside a network namespace, where the PostgreSQL server on the host's loopback is out of reach).
pub(crate) fn sqlite_db() -> TestDb {
    TestDb::sqlite()
}

/// `spawn_queue_app` on a SQLite database (see [`sqlite_db`]).
pub(crate) async fn spawn_queue_app_on_sqlite(tweak: impl FnOnce(&mut Config)) -> TestApp {
    start_on(sqlite_db(), |c| {
        queue_config(c);
        tweak(c);
    })
    .await
}

/// The desk password of the accounts [`account`] makes.
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Creates a desk account with `role`; its bearer token.
/// Opens an intake by hand (`POST /api/intakes` with `body`); its id.
pub(crate) async fn open_intake(t: &TestApp, token: &str, body: serde_json::Value) -> String {
    let (s, v) = http_json(
        t.app.http_addr(),
        "POST",
        "/api/intakes",
        Some(token),
        Some(body),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

/// Signs `login` (made by [`account`]) in again, e.g. after a restart; its token.
pub(crate) async fn login_as(t: &TestApp, login: &str) -> String {
    let body = serde_json::json!({"login": login, "password": PASSWORD});
    let (status, json) = http_json(t.app.http_addr(), "POST", "/api/login", None, Some(body)).await;
    assert_eq!(status, 200, "{json}");
    json["token"].as_str().unwrap().to_owned()
}

pub(crate) async fn account(t: &TestApp, login: &str, role: &str) -> String {
    let agent = firstline::store::NewAgent {
        id: firstline::domain::AgentId::from_string(format!("agent-{login}")),
        name: login.to_owned(),
        login: login.to_owned(),
        password_hash: firstline::password::hash(PASSWORD).unwrap(),
        extension: None,
        categories: vec![firstline::domain::Category::Hardware],
        level: 1,
        role: role.to_owned(),
        device: firstline::domain::Device::Phone,
        groups: Vec::new(),
    };
    t.app.store().create_agent(&agent).await.unwrap();
    login_as(t, login).await
}
