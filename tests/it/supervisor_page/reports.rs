//! The reports view after real calls: SIPp callers answered by a registered agent phone (and one
//! caller who gives up); the page's day, queue and agent figures equal `GET /api/reports/daily`
//! and `/api/reports/agents`, the live "answered" tile agrees, and each CSV download shows the
//! number of rows the export really has.

use std::time::Duration;

use serde_json::{Value, json};

use super::checks::{bars_contrast_ok, contrast_ok, csv_records};
use super::{SECS, keys_to, screenshot_path};
use crate::agent_phone::PCMU;
use crate::desk_page::{sipp_caller, text_of};
use crate::helpers::{TestApp, http_json, within};
use crate::scenario::registered_phone;
use crate::supervisor::{queued_caller, shows, supervisor_app, supervisor_page};
use crate::webdriver::Browser;

/// `GET path` with a Bearer token over a fresh connection: the status and the body as text.
async fn http_text(t: &TestApp, path: &str, token: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = t.app.http_addr();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// A count as the English page writes it (no grouping below 1,000).
fn int(v: &Value) -> String {
    v.as_u64().map_or("–".into(), |n| n.to_string())
}

/// A share as the English page writes it: `67%`, or a dash.
fn percent(v: &Value) -> String {
    v.as_f64()
        .map_or("–".into(), |f| format!("{}%", (f * 100.0).round()))
}

/// Milliseconds as the page writes them: m:ss, h:mm:ss from an hour, or a dash.
fn duration(v: &Value) -> String {
    let Some(ms) = v.as_i64() else {
        return "–".into();
    };
    let s = ms.max(0) / 1000;
    let (h, m, ss) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{ss:02}")
    } else {
        format!("{m}:{ss:02}")
    }
}

/// The cell `data-col=<col>` of the row `[data-testid=<row>]`.
async fn cell(b: &Browser, row: &str, col: &str) -> String {
    b.exec(
        "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"] [data-col=\"${arguments[1]}\"]`); \
         return e ? e.textContent.trim() : null;",
        json!([row, col]),
    )
    .await
    .as_str()
    .unwrap_or("(no such cell)")
    .to_string()
}

/// The row's cells against the figures `f` of the daily report.
async fn figures_match(b: &Browser, row: &str, f: &Value) {
    let other = ["callbacks", "voice_messages", "max_wait"]
        .iter()
        .map(|k| f[k].as_u64().unwrap_or(0))
        .sum::<u64>();
    let want = [
        ("offered", int(&f["offered"])),
        ("answered", int(&f["answered"])),
        ("abandoned", int(&f["abandoned"])),
        ("other", other.to_string()),
        ("service_level", percent(&f["service_level"])),
        ("avg_wait", duration(&f["avg_wait_ms"])),
        ("p90_wait", duration(&f["p90_wait_ms"])),
        ("avg_handle", duration(&f["avg_handle_ms"])),
        ("esc_2", int(&f["escalations"]["2"])),
        ("esc_3", int(&f["escalations"]["3"])),
    ];
    for (col, text) in want {
        assert_eq!(cell(b, row, col).await, text, "{row} {col}: {f}");
    }
}

/// Downloads the `kind` export from the reports view; the number of rows it says it got.
async fn download(b: &Browser, kind: &str) -> u64 {
    b.click_css(&format!("[data-testid=export-kind] option[value='{kind}']"))
        .await;
    b.click(&b.testid("export-btn").await).await;
    let rows = b
        .until(
            10,
            &format!("the {kind} download"),
            "const e = document.querySelector('[data-testid=export-result]'); \
             return e.textContent.startsWith(arguments[0] + '_') && e.dataset.rows;",
            json!([kind]),
        )
        .await;
    rows.as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_agree_with_the_api_and_the_live_tile_after_real_calls() {
    within(
        180,
        Box::pin(async {
            let t = supervisor_app().await;
            let mut phone = registered_phone(&t, "2001").await;
            let anna = t.not_ready("anna", "meeting").await;
            // A caller who gives up while nobody is ready: abandoned.
            let (mut ua, _rtp, _) = queued_caller(&t, '1').await;
            assert_eq!(ua.bye().await, Some(200), "the waiting caller hangs up");
            let left = t.ended_call(&ua.call_id).await;
            assert_eq!(left.outcome.as_deref(), Some("abandoned_queue"), "{left:?}");
            // Three SIPp callers in a row, each answered on anna's phone and ended by her.
            let (status, _) = t.set_state(&anna, json!({"state": "available"})).await;
            assert_eq!(status, 200);
            for number in ["+31201234567", "+31612345678", "+31209876543"] {
                let (cid, sipp) = sipp_caller(&t, number);
                phone.invite(20 * SECS).await.expect("anna's phone rings");
                phone.ring().await;
                assert!(phone.answer(PCMU).await, "no ACK for the phone's 200");
                tokio::time::sleep(Duration::from_millis(600)).await;
                assert_eq!(phone.bye().await, Some(200), "the agent hangs up");
                let run = sipp.await.expect("the sipp task");
                assert_eq!(run.code, Some(0), "{}", run.report);
                let call = t.ended_call(&cid).await;
                assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
            }
            let b = supervisor_page(&t).await;
            b.set_viewport(1400, 900).await;
            shows(&b, "today-answered", "3").await;
            shows(&b, "today-abandoned", "1").await;
            let live_offered = text_of(&b, "today-offered").await;

            keys_to(&b, "body", "r").await;
            let loaded = b
                .until(
                    10,
                    "the reports",
                    "const e = document.querySelector('[data-testid=report-loaded]'); \
                     return e && [e.dataset.from, e.dataset.to, e.dataset.tz];",
                    json!([]),
                )
                .await;
            let (from, to, tz) = (
                loaded[0].as_str().unwrap().to_string(),
                loaded[1].as_str().unwrap().to_string(),
                loaded[2].as_str().unwrap().to_string(),
            );
            assert_eq!(from, to, "the reports open on today");
            let sanne = t.login("sanne").await;
            let q = format!("from={from}&to={to}&tz={}", tz.replace('+', "%2B"));
            let addr = t.app.http_addr();
            let (status, daily) =
                http_json(addr, "GET", &format!("/api/reports/daily?{q}"), Some(&sanne), None).await;
            assert_eq!(status, 200, "{daily}");
            let day = &daily["days"][0];
            let all = &day["all"];
            assert_eq!((all["answered"].as_u64(), all["abandoned"].as_u64()), (Some(3), Some(1)), "{daily}");
            // The page shows the API's figures: the day, each queue, each agent.
            let row = format!("report-day-{from}");
            assert_eq!(cell(&b, &row, "calls").await, int(&day["calls"]));
            figures_match(&b, &row, all).await;
            for f in daily["days"][0]["queues"].as_array().unwrap() {
                let q = f["queue"].as_str().unwrap();
                figures_match(&b, &format!("report-queue-{q}"), f).await;
            }
            let (status, agents) =
                http_json(addr, "GET", &format!("/api/reports/agents?{q}"), Some(&sanne), None).await;
            assert_eq!(status, 200, "{agents}");
            let anna_fig = agents["agents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["agent_id"] == json!("agent-demo-anna"))
                .expect("anna in the agent report")
                .clone();
            let anna_row = "report-agent-agent-demo-anna";
            assert_eq!(cell(&b, anna_row, "calls").await, "3");
            assert_eq!(cell(&b, anna_row, "calls").await, int(&anna_fig["calls"]));
            assert_eq!(cell(&b, anna_row, "handle").await, duration(&anna_fig["handle_ms"]));
            // The chart is drawn from the same figures.
            let answered_bar = b
                .exec(
                    "const r = document.querySelector('[data-testid=report-days-chart] rect.seg-answered'); \
                     return r ? Number(r.dataset.value) : null;",
                    json!([]),
                )
                .await;
            assert_eq!(answered_bar, all["answered"], "the bar of answered calls");
            // The live tile and the report count "answered" alike, and the page says what it is.
            assert_eq!(text_of(&b, "report-live-answered").await, int(&all["answered"]));
            assert_eq!(live_offered, int(&all["offered"]), "offered: live and report");
            let defs = text_of(&b, "report-definitions").await;
            assert!(defs.contains("Answered") && defs.contains("Service level"), "{defs}");
            bars_contrast_ok(&b, 3).await;
            contrast_ok(&b, &[], "the reports").await;
            b.screenshot(&screenshot_path("reports-1400x900.png")).await;

            // The CSV downloads say how many rows they got: as many as the export really has.
            for (kind, count) in [
                ("calls", "SELECT COUNT(*) FROM calls"),
                ("intakes", "SELECT COUNT(*) FROM intakes"),
            ] {
                let shown = download(&b, kind).await;
                let (status, csv) =
                    http_text(&t, &format!("/api/export/{kind}.csv?{q}"), &sanne).await;
                assert_eq!(status, 200, "{csv}");
                let rows = csv_records(&csv) as u64 - 1;
                let n: i64 = sqlx::query_scalar(count)
                    .fetch_one(&t.pool)
                    .await
                    .unwrap();
                assert_eq!((shown, rows), (n as u64, n as u64), "{kind}: page, export, table");
                let result = text_of(&b, "export-result").await;
                let want = format!("{kind}_{from}_{to}.csv · {n} rows downloaded");
                assert_eq!(result, want);
            }
            assert_eq!(text_of(&b, "error-msg").await, "", "no error shown");
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}
