//! Test harness: a fresh database per test, the server on port 0, row polling, peer-tool lookup.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use firstline::app::App;
use firstline::config::Config;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Row};

/// Runs `fut` and fails the test if it takes longer than `secs` seconds.
pub(crate) async fn within<F: Future>(secs: u64, fut: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("scenario did not finish within {secs} s"),
    }
}

/// The `ivr-prompts/` folder of the crate.
pub(crate) fn prompts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ivr-prompts")
}

/// Path of a peer tool; panics (never skips) with a hint when it is missing.
pub(crate) fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"] {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("`{name}` is not installed: run scripts/test (it installs the test peers via apt-get)");
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
        sqlx::any::install_default_drivers();
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("fl_{:016x}", crate::helpers::random_u64());
                let admin = AnyPool::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("connect {admin_url}: {e}"));
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                let url = replace_db_name(&admin_url, &name);
                TestDb {
                    url,
                    _dir: None,
                    pg_admin: Some((admin_url, name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    pg_admin: None,
                }
            }
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
    let db = TestDb::new().await;
    let mut cfg = Config::for_tests(db.url.clone(), prompts_dir());
    tweak(&mut cfg);
    let app = App::start(cfg).await.expect("App::start");
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

    /// Stops the server and removes the database.
    pub(crate) async fn finish(self) {
        self.pool.close().await;
        self.app.shutdown().await;
        self.db.drop_db().await;
    }

    /// The `calls` row for a SIP Call-ID, once it exists.
    pub(crate) async fn call_row(&self, sip_call_id: &str) -> Option<CallRow> {
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

/// A port free on 127.0.0.1 for both UDP and TCP a moment ago (SIPp takes `-p 0` as 5060).
pub(crate) fn free_port() -> u16 {
    for _ in 0..50 {
        let Ok(u) = std::net::UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = u.local_addr() else { continue };
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr.port();
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// A UDP port that was free a moment ago (for tools that cannot take port 0).
pub(crate) fn free_udp_port_pair() -> u16 {
    for _ in 0..50 {
        let Ok(a) = std::net::UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = a.local_addr() else { continue };
        let port = addr.port();
        if port % 2 == 0
            && port < 65000
            && std::net::UdpSocket::bind(("127.0.0.1", port + 2)).is_ok()
        {
            return port;
        }
    }
    panic!("no free UDP port pair on 127.0.0.1");
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
