//! The reports and exports over HTTP: a real server on port 0 with the scripted day of
//! `store::reports::tests` (SQLite, or PostgreSQL with `TEST_DATABASE_URL`); roles, ranges,
//! JSON figures, CSV quoting and formula defusing.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::super::auth::hash_token;
use super::super::limit::LoginLimits;
use super::super::{ApiState, AuthConfig};
use super::{DEFAULT_THRESHOLD, router};
use crate::acd::{AcdConfig, AcdService};
use crate::domain::AgentId;
use crate::store::reports::tests::scripted_day;
use crate::store::testing::{TestDbGuard, test_store};
use crate::store::{Store, now_ms};

const SUPERVISOR: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const AGENT: &str = "a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9";

struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    store: Store,
    guard: TestDbGuard,
}

struct Resp {
    status: u16,
    head: String,
    body: String,
}

impl Server {
    async fn start() -> Server {
        let (store, guard) = test_store().await;
        scripted_day(&store).await;
        let later = now_ms() + 3_600_000;
        for (token, agent, role) in [
            (SUPERVISOR, "agent-a", "supervisor"),
            (AGENT, "agent-b", "agent"),
        ] {
            // Sessions take the agent's current role.
            sqlx::query("UPDATE agents SET role = $2 WHERE id = $1")
                .bind(agent)
                .bind(role)
                .execute(store.pool())
                .await
                .unwrap();
            store
                .create_session(
                    &hash_token(token),
                    &AgentId::from_string(agent),
                    role,
                    0,
                    later,
                )
                .await
                .unwrap();
        }
        let stop = CancellationToken::new();
        let acd = AcdService::start(AcdConfig::default(), &TaskTracker::new(), stop.clone());
        let api = ApiState::new(
            store.clone(),
            acd,
            AuthConfig::default(),
            LoginLimits::default(),
        );
        let app =
            router(api, DEFAULT_THRESHOLD).into_make_service_with_connect_info::<SocketAddr>();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let until = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(until.cancelled_owned())
                .await
        });
        Server {
            addr,
            stop,
            store,
            guard,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}\r\n",
            self.addr
        );
        let exchange = async {
            let mut conn = TcpStream::connect(self.addr).await.unwrap();
            conn.write_all(req.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            conn.read_to_end(&mut raw).await.unwrap();
            raw
        };
        let raw = tokio::time::timeout(Duration::from_secs(20), exchange)
            .await
            .expect("the server did not answer in time");
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        Resp {
            status: head[9..12].parse().unwrap(),
            head: head.to_ascii_lowercase(),
            body: body.to_owned(),
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.guard.cleanup().await;
    }
}

#[tokio::test]
async fn daily_and_agent_reports_for_supervisors_only() {
    let srv = Server::start().await;
    let path = "/api/reports/daily?from=2026-03-02&to=2026-03-02&tz=Europe/Amsterdam";
    let r = srv.get(path, Some(SUPERVISOR)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["from"], "2026-03-02");
    assert_eq!(v["tz"], "Europe/Amsterdam");
    assert_eq!(v["threshold_s"], 20);
    let day = &v["days"][0];
    assert_eq!(day["calls"], 12);
    assert_eq!(day["all"]["service_level"], 0.5);
    assert_eq!(day["queues"][0]["queue"], "hardware");
    assert_eq!(day["queues"][0]["p90_wait_ms"], 45_000);
    assert_eq!(day["queues"][0]["escalations"]["3"], 1);
    assert_eq!(day["queues"][2]["service_level"], Value::Null);

    let r = srv
        .get(
            "/api/reports/agents?from=2026-03-02&to=2026-03-02",
            Some(SUPERVISOR),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["tz"], "Europe/Amsterdam", "the default zone");
    assert_eq!(v["agents"][0]["calls"], 3);
    assert_eq!(v["agents"][0]["state_ms"]["wrap_up"], 60_000);

    for path in [
        "/api/reports/daily?from=2026-03-02&to=2026-03-02",
        "/api/reports/agents?from=2026-03-02&to=2026-03-02",
        "/api/export/calls.csv?from=2026-03-02&to=2026-03-02",
        "/api/export/intakes.csv?from=2026-03-02&to=2026-03-02",
        "/api/export/escalations.csv?from=2026-03-02&to=2026-03-02",
    ] {
        assert_eq!(srv.get(path, Some(AGENT)).await.status, 403, "{path}");
        assert_eq!(srv.get(path, None).await.status, 401, "{path}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn bad_ranges_are_refused_with_422() {
    let srv = Server::start().await;
    for query in [
        "from=2026-03-02",
        "from=2026-03-02&to=2026-03-01",
        "from=2026-02-30&to=2026-03-01",
        "from=2026-03-02&to=2026-03-02&tz=Mars/Olympus",
        "from=2025-01-01&to=2026-01-02",
        "from=2026-03-02&to=2026-03-02&extra=1",
    ] {
        let r = srv
            .get(&format!("/api/reports/daily?{query}"), Some(SUPERVISOR))
            .await;
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        assert!(r.body.contains("\"error\""), "{query}: {}", r.body);
    }
    // 366 days is the longest range.
    let r = srv
        .get(
            "/api/export/calls.csv?from=2025-01-01&to=2026-01-01&tz=UTC",
            Some(SUPERVISOR),
        )
        .await;
    assert_eq!(r.status, 200);
    srv.stop().await;
}

#[tokio::test]
async fn csv_exports_quote_defuse_and_keep_to_the_range() {
    let srv = Server::start().await;
    for sql in [
        "UPDATE calls SET caller_name = 'Jansen, \"Piet\"', end_reason = '=HYPERLINK(\"http://x\")' \
         WHERE id = 'h1'",
        "UPDATE intakes SET title = '@SUM(A1)', description = 'line 1\nline 2' WHERE id = 'in1'",
    ] {
        sqlx::query(sql).execute(srv.store.pool()).await.unwrap();
    }
    let r = srv
        .get(
            "/api/export/calls.csv?from=2026-03-02&to=2026-03-02",
            Some(SUPERVISOR),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.head
            .contains("content-type: text/csv; charset=utf-8; header=present")
    );
    assert!(
        r.head.contains(
            "content-disposition: attachment; filename=\"calls_2026-03-02_2026-03-02.csv\""
        )
    );
    let lines: Vec<&str> = r.body.split("\r\n").collect();
    // Header, 12 calls (not b1 or b2 from the neighbouring days), and the final CRLF.
    assert_eq!(lines.len(), 14, "{}", r.body);
    assert!(lines[0].starts_with("id,arrived_at,arrived_local,caller,caller_name,"));
    assert_eq!(
        lines[1],
        "h1,1772442000000,2026-03-02 10:00:00,'+31201234567,\"Jansen, \"\"Piet\"\"\",,,\
         hardware,3,answered,1772442030000,10000,agent-a,1772442040000,1772442340000,300000,,\
         \"'=HYPERLINK(\"\"http://x\"\")\",,,,,,"
    );
    assert!(lines[0].ends_with(",dtmf_mode,agent_device,loss_pct,jitter_ms,rtt_ms"));
    assert_eq!(lines[13], "");
    assert!(!r.body.contains("b1,") && !r.body.contains("b2,"));

    let r = srv
        .get(
            "/api/export/intakes.csv?from=2026-03-02&to=2026-03-02",
            Some(SUPERVISOR),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains(",'@SUM(A1),\"line 1\nline 2\","),
        "{}",
        r.body
    );
    let r = srv
        .get(
            "/api/export/escalations.csv?from=2026-03-03&to=2026-03-03",
            Some(SUPERVISOR),
        )
        .await;
    assert_eq!(r.status, 200);
    let lines: Vec<&str> = r.body.split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{}", r.body);
    assert!(lines[1].starts_with("e6,in2,2,1772492400001,2026-03-03 00:00:00,software,2,3,0,"));
    srv.stop().await;
}
