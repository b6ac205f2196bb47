//! Overload, scaled down for CI (issue 12; the full figure is bench/call-rate's): the real
//! server process with room for 30 calls at once takes a SIPp burst of 3× that (30 calls/s of
//! 3-second callers for 8 s). Every INVITE over the limit gets 503 with Retry-After (SIPp fails
//! the call otherwise) and leaves no record; every call that got its 200 completes normally;
//! `/health` counts what was shed; peak memory stays bounded; the calls placed right after the
//! burst are all served.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use sqlx::Row;
use sqlx::any::AnyPoolOptions;

use crate::helpers::{TestDb, free_port, free_udp_port_pair, http_json, tool, within};
use crate::server_process::Server;

const MAX_CALLS: u64 = 30;

/// Runs SIPp's overload caller against `server`: `calls` at `rate` per second; its exit code
/// (0: every call was either shed with Retry-After or answered and completed).
async fn sipp_burst(server: SocketAddr, dir: &Path, rate: u32, calls: u64) -> Option<i32> {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/sipp/overload_caller.xml"
    );
    let mut cmd = Command::new(tool("sipp"));
    cmd.current_dir(dir)
        .arg(server.to_string())
        .args(["-sf", scenario, "-i", "127.0.0.1"])
        .args(["-p", &free_port().to_string()])
        .args(["-mp", &free_udp_port_pair().to_string()])
        .args(["-r", &rate.to_string(), "-m", &calls.to_string()])
        .args(["-l", &calls.to_string(), "-timeout", "90s", "-nostdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.status())
        .await
        .unwrap()
        .expect("run sipp");
    out.code()
}

async fn health(server: &Server) -> serde_json::Value {
    let (status, json) = http_json(server.http, "GET", "/health", None, None).await;
    assert_eq!(status, 200, "{json}");
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_three_times_capacity_is_shed_at_once_and_service_recovers() {
    within(240, async {
        let db = TestDb::new().await;
        let dir = tempfile::tempdir().unwrap();
        let config = format!("[call]\nmax_calls = {MAX_CALLS}\n");
        let server = Server::start(&db.url, dir.path(), Some(&config)).await;
        let rss_at_start = server.peak_rss_kib();

        const BURST: u64 = 240;
        let code = sipp_burst(server.sip, dir.path(), 30, BURST).await;
        assert_eq!(code, Some(0), "a burst call failed (SIPp logs in {dir:?})");
        let h = health(&server).await;
        let (admitted, shed) = (
            h["calls_total"].as_u64().unwrap(),
            h["calls_shed"].as_u64().unwrap(),
        );
        assert_eq!(admitted + shed, BURST, "{h}");
        assert!(
            shed >= BURST / 3 && admitted >= MAX_CALLS,
            "admitted {admitted}, shed {shed}: {h}"
        );
        // A shed INVITE left no record; every admitted call ended as its caller hung up.
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&db.url)
            .await
            .unwrap();
        let rows = sqlx::query(
            "SELECT COUNT(*) AS n, \
             SUM(CASE WHEN hangup_by = 'caller' AND ended_at IS NOT NULL THEN 1 ELSE 0 END) AS ok \
             FROM calls",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let (n, ok) = (rows.get::<i64, _>("n"), rows.get::<i64, _>("ok"));
        assert_eq!((n as u64, ok as u64), (admitted, admitted), "calls rows");
        pool.close().await;
        let peak = server.peak_rss_kib();
        eprintln!(
            "overload: {BURST} INVITEs, {admitted} answered and completed, {shed} shed with 503; \
             peak RSS {} MiB (at start {} MiB)",
            peak / 1024,
            rss_at_start / 1024
        );
        assert!(peak < 512 * 1024, "peak RSS {peak} KiB during the burst");

        // Right after the burst, callers within capacity are all served: nothing more is shed.
        let code = sipp_burst(server.sip, dir.path(), 10, 20).await;
        assert_eq!(code, Some(0), "a call after the burst failed");
        let after = health(&server).await;
        assert_eq!(after["calls_shed"].as_u64(), Some(shed), "{after}");
        assert_eq!(
            after["calls_total"].as_u64(),
            Some(admitted + 20),
            "{after}"
        );
        drop(server);
        db.drop_db().await;
    })
    .await;
}
