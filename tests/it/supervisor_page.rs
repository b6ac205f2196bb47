//! The supervisor page on the screens it is used on (issue 10, points 4–7), in headless
//! Chromium: at 1400×900 every agent row is in view without scrolling and the keyboard reaches
//! the actions (shortcuts, help overlay, visible focus); the wallboard at 1920×1080 holds 10
//! agents and 4 queues without a scroll bar; every visible text meets WCAG AA contrast,
//! computed from the page's styles; the Dutch page has no English left; after real calls (SIPp
//! callers answered by a registered agent phone) the reports view shows what
//! `GET /api/reports/daily` says and agrees with the live "answered" tile, and a CSV download
//! shows the number of rows the export really has. Screenshots go to `target/screenshots/`.

mod checks;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::agent_phone::PCMU;
use crate::browser::{sipp_caller, text_of};
use crate::helpers::{TestApp, http_json, within};
use crate::scenario::registered_phone;
use crate::supervisor::{attr_is, queued_caller, shows, supervisor_app, supervisor_page};
use crate::webdriver::Browser;
use checks::{all_dutch, bars_contrast_ok, contrast_ok, csv_records, fits, value_regex};

const SECS: Duration = Duration::from_secs(1);
/// WebDriver key codes (W3C WebDriver §17.4.2).
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const ARROW_DOWN: &str = "\u{E015}";
/// The demo's first-level agents (they take calls and show in the feed once signed in).
const DEMO: [&str; 5] = ["anna", "bas", "chantal", "dirk", "femke"];
/// Agents added for a fuller floor: login, name. They answer in the browser and serve only the
/// service queue, so the test's hardware and software callers keep waiting.
const EXTRA: [(&str, &str); 5] = [
    ("daan", "Daan Mulder"),
    ("lotte", "Lotte Bakker"),
    ("mohamed", "Mohamed El Amrani"),
    ("noor", "Noor Smits"),
    ("thijs", "Thijs de Groot"),
];
const STATES: [&str; 6] = [
    "available",
    "ringing",
    "on_call",
    "wrap_up",
    "not_ready",
    "offline",
];

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/screenshots")
        .join(name)
}

/// Adds the first `n` of [`EXTRA`] as agents (anna's password, `anna-demo`) and signs them in:
/// available. Their ids and tokens.
async fn extra_agents(t: &TestApp, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (login, name) in EXTRA.iter().take(n) {
        let id = format!("agent-test-{login}");
        sqlx::query(
            "INSERT INTO agents (id, name, login, password_hash, extension, categories, level, \
             created_at, role, device) SELECT $1, $2, $3, password_hash, NULL, 'service', 1, \
             created_at, 'agent', 'browser' FROM agents WHERE login = 'anna'",
        )
        .bind(&id)
        .bind(*name)
        .bind(*login)
        .execute(&t.pool)
        .await
        .unwrap();
        let body = json!({"login": login, "password": "anna-demo"});
        let (status, v) =
            http_json(t.app.http_addr(), "POST", "/api/login", None, Some(body)).await;
        assert_eq!(status, 200, "login {login}: {v}");
        out.push((id, v["token"].as_str().unwrap_or_default().to_string()));
    }
    out
}

/// The demo agents signed in and not ready, each with their own reason.
async fn demo_agents_not_ready(t: &TestApp) {
    for (login, reason) in DEMO
        .iter()
        .zip(["lunch", "meeting", "training", "lunch", "break"])
    {
        t.not_ready(login, reason).await;
    }
}

/// Waits until the page lists `n` agents.
async fn agent_rows(b: &Browser, n: usize) {
    b.until(
        10,
        &format!("{n} agent rows"),
        "return document.querySelectorAll('[data-testid=agent-row]').length === arguments[0];",
        json!([n]),
    )
    .await;
}

/// Sends `keys` to the element matching `css` (it gets the focus first).
async fn keys_to(b: &Browser, css: &str, keys: &str) {
    b.send_keys(&b.find(css).await, keys).await;
}

/// The `data-testid` of the focused element, its outline style and width.
async fn focused(b: &Browser) -> Value {
    b.exec(
        "const e = document.activeElement; const s = getComputedStyle(e); \
         return { testid: e.dataset.testid || e.tagName, row: e.dataset.agentId || null, \
         outline: s.outlineStyle, width: parseFloat(s.outlineWidth) };",
        json!([]),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_at_1400x900_shows_every_agent_and_works_from_the_keyboard() {
    within(
        150,
        Box::pin(async {
            let t = supervisor_app().await;
            demo_agents_not_ready(&t).await;
            extra_agents(&t, 3).await;
            let (_ua1, _rtp1, _) = queued_caller(&t, '1').await;
            let (_ua2, _rtp2, _) = queued_caller(&t, '2').await;
            let b = supervisor_page(&t).await;
            b.set_viewport(1400, 900).await;
            agent_rows(&b, 8).await;
            shows(&b, "queue-hardware-waiting", "1").await;
            shows(&b, "queue-software-waiting", "1").await;
            shows(&b, "agent-agent-demo-anna-reason", "lunch").await;
            // Names, never ids; a reason only where there is one.
            let agents = text_of(&b, "agents").await;
            assert!(agents.contains("Anna Koster") && agents.contains("Daan Mulder"), "{agents}");
            assert!(!agents.contains("agent-"), "no agent ids on the page: {agents}");
            let reasons: Value = b
                .exec(
                    "return [...document.querySelectorAll('[data-testid=agent-row]')] \
                     .filter((r) => r.dataset.state !== 'not_ready') \
                     .map((r) => r.querySelector('[data-testid$=-reason]')).filter(Boolean).length;",
                    json!([]),
                )
                .await;
            assert_eq!(reasons, json!(0), "no reason beside a state that has none");

            fits(&b, "agent-row", 8, "the page at 1400×900").await;
            fits(&b, "queue-hardware", 1, "the page at 1400×900").await;
            contrast_ok(&b, &STATES, "the page").await;
            b.screenshot(&screenshot_path("supervisor-1400x900.png")).await;

            // The keyboard: Tab reaches the controls with a visible focus ring.
            keys_to(&b, "body", TAB).await;
            for _ in 0..4 {
                let f = focused(&b).await;
                assert!(
                    f["outline"] != json!("none") && f["width"].as_f64() >= Some(2.0),
                    "a visible focus: {f}"
                );
                b.send_keys(&b.find(":focus").await, TAB).await;
            }
            // `?` opens the help overlay, Esc closes it.
            keys_to(&b, "body", "?").await;
            b.until(5, "the help overlay", "return document.querySelector('[data-testid=help]').open;", json!([]))
                .await;
            let help = text_of(&b, "help").await;
            assert!(help.contains("Keyboard shortcuts") && help.contains("Set the agent to not ready"), "{help}");
            keys_to(&b, "[data-testid=help-close]", ESCAPE).await;
            b.until(5, "the help closed", "return !document.querySelector('[data-testid=help]').open;", json!([]))
                .await;
            // `a` goes to the agents, ↓ to the next one; `n` on Daan Mulder's row asks, Enter
            // confirms with the typed reason.
            keys_to(&b, "body", "a").await;
            let first = focused(&b).await;
            assert_eq!(first["testid"], json!("agent-row"), "{first}");
            b.send_keys(&b.find(":focus").await, ARROW_DOWN).await;
            let second = focused(&b).await;
            assert!(second["row"] != first["row"] && second["testid"] == json!("agent-row"), "{second}");
            keys_to(&b, "[data-agent-id=agent-test-daan]", "n").await;
            b.until(5, "the confirmation", "return document.querySelector('[data-testid=confirm]').open;", json!([]))
                .await;
            assert_eq!(text_of(&b, "confirm-msg").await, "Set Daan Mulder to not ready?");
            b.exec("document.querySelector('[data-testid=confirm-reason]').value = '';", json!([]))
                .await;
            keys_to(&b, "[data-testid=confirm-reason]", &format!("coaching{ENTER}")).await;
            shows(&b, "action-status", "done ✓").await;
            shows(&b, "agent-agent-test-daan-state", "not ready").await;
            let reason = text_of(&b, "agent-agent-test-daan-reason").await;
            assert!(reason.contains("coaching"), "{reason:?}");
            // The recent action as a sentence, with names.
            b.until(
                10,
                "the action as a sentence",
                "return [...document.querySelectorAll('[data-testid=audit-row]')] \
                 .some((r) => r.textContent.includes('Sanne Visser set Daan Mulder to not ready: coaching'));",
                json!([]),
            )
            .await;
            fits(&b, "agent-row", 8, "the page after the action").await;
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallboard_at_1920x1080_fits_ten_agents_and_four_queues() {
    within(
        150,
        Box::pin(async {
            let t = supervisor_app().await;
            demo_agents_not_ready(&t).await;
            let extra = extra_agents(&t, 5).await;
            // One extra agent not ready, one signed out (offline), three available.
            let (status, _) = t
                .set_state(&extra[3].1, json!({"state": "not_ready", "reason": "coaching"}))
                .await;
            assert_eq!(status, 200);
            let addr = t.app.http_addr();
            let (status, v) = http_json(addr, "POST", "/api/logout", Some(&extra[4].1), None).await;
            assert!(status == 200 || status == 204, "logout: {status} {v}");
            let (_ua1, _rtp1, _) = queued_caller(&t, '1').await;
            let (_ua2, _rtp2, _) = queued_caller(&t, '1').await;
            let (_ua3, _rtp3, _) = queued_caller(&t, '2').await;
            let b = supervisor_page(&t).await;
            b.goto("/supervisor.html?wallboard=1").await;
            shows(&b, "conn-status", "live").await;
            b.set_viewport(1920, 1080).await;
            agent_rows(&b, 10).await;
            shows(&b, "queue-hardware-waiting", "2").await;
            shows(&b, "queue-software-waiting", "1").await;
            shows(&b, &format!("agent-{}-state", extra[4].0), "offline").await;
            let l = fits(&b, "agent-row", 10, "the wallboard at 1920×1080").await;
            for q in ["hardware", "software", "service", "unclassified"] {
                fits(&b, &format!("queue-{q}"), 1, "the wallboard's queues").await;
            }
            fits(&b, "caller-row", 3, "the wallboard's callers").await;
            // Large numbers: readable from across the room.
            let sizes: Value = b
                .exec(
                    "const px = (id) => parseFloat(getComputedStyle(document.querySelector(`[data-testid=${id}]`)).fontSize); \
                     return [px('queue-hardware-waiting'), px('today-answered'), px('service-level')];",
                    json!([]),
                )
                .await;
            for s in sizes.as_array().unwrap() {
                assert!(s.as_f64() >= Some(56.0), "large figures: {sizes} px ({l})");
            }
            let controls = b
                .exec(
                    "return [...document.querySelectorAll('button, select, input, a')] \
                     .filter((e) => e.getClientRects().length > 0).length;",
                    json!([]),
                )
                .await;
            assert_eq!(controls, json!(0), "no controls on the wallboard");
            contrast_ok(&b, &STATES, "the wallboard").await;
            b.screenshot(&screenshot_path("wallboard-1920x1080.png")).await;
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}

/// Every English catalogue value that differs from Dutch (and is no Dutch value at all), as
/// `[key, regex source]` pairs; the number of catalogue files compared.
fn english_words() -> (Value, usize) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/i18n");
    let read = |lang: &str| -> Vec<(String, serde_json::Map<String, Value>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(lang))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, serde_json::from_str(&text).unwrap())
            })
            .collect()
    };
    let (en, nl) = (read("en"), read("nl"));
    let dutch: std::collections::HashSet<&str> = nl
        .iter()
        .flat_map(|(_, m)| m.values().filter_map(Value::as_str))
        .collect();
    let mut out = Vec::new();
    for (file, values) in &en {
        let theirs = nl.iter().find(|(f, _)| f == file).map(|(_, m)| m);
        for (key, v) in values {
            let Some(v) = v.as_str() else { continue };
            let same = theirs.and_then(|m| m.get(key)).and_then(Value::as_str) == Some(v);
            if same || dutch.contains(v) {
                continue;
            }
            if let Some(re) = value_regex(v) {
                out.push(json!([format!("{file}:{key}"), re]));
            }
        }
    }
    (Value::Array(out), en.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dutch_page_shows_every_string_in_dutch() {
    within(
        150,
        Box::pin(async {
            let (english, files) = english_words();
            assert!(files >= 2 && english.as_array().unwrap().len() > 100, "{files} files");
            let t = supervisor_app().await;
            demo_agents_not_ready(&t).await;
            extra_agents(&t, 1).await;
            let (_ua, _rtp, call) = queued_caller(&t, '1').await;
            let b = supervisor_page(&t).await;
            b.set_viewport(1400, 900).await;
            b.click_css("[data-testid=lang-select] option[value='nl']").await;
            b.until(10, "the page in Dutch", "return document.documentElement.lang === 'nl';", json!([]))
                .await;
            shows(&b, "conn-status", "live").await;
            shows(&b, "agent-agent-demo-anna-state", "niet beschikbaar").await;
            shows(&b, &format!("caller-{call}-priority"), "3 · normaal").await;
            // An action, so that the recent actions hold a sentence.
            b.click_css(&format!("[data-testid=\"prio-up-{call}\"]")).await;
            b.until(5, "the confirmation", "return document.querySelector('[data-testid=confirm]').open;", json!([]))
                .await;
            all_dutch(&b, &english, "the confirmation dialog").await;
            b.click(&b.testid("confirm-ok").await).await;
            shows(&b, "action-status", "gedaan ✓").await;
            b.until(
                10,
                "the action as a Dutch sentence",
                "return [...document.querySelectorAll('[data-testid=audit-row]')] \
                 .some((r) => /Sanne Visser wijzigde de prioriteit van (Anouk de Vries · )?\\+31201234567 van 3 naar 2$/ \
                   .test(r.textContent.trim()));",
                json!([]),
            )
            .await;
            all_dutch(&b, &english, "the live view").await;
            b.screenshot(&screenshot_path("supervisor-nl-1400x900.png")).await;
            keys_to(&b, "body", "?").await;
            b.until(5, "the help overlay", "return document.querySelector('[data-testid=help]').open;", json!([]))
                .await;
            all_dutch(&b, &english, "the help overlay").await;
            keys_to(&b, "[data-testid=help-close]", ESCAPE).await;
            keys_to(&b, "body", "r").await;
            b.until(10, "the reports", "return !!document.querySelector('[data-testid=report-loaded]');", json!([]))
                .await;
            b.click(&b.testid("export-btn").await).await;
            b.until(10, "the download", "return !!document.querySelector('[data-testid=export-result]').dataset.rows;", json!([]))
                .await;
            all_dutch(&b, &english, "the reports").await;
            b.exec("window.scrollTo(0, document.body.scrollHeight);", json!([])).await;
            b.screenshot(&screenshot_path("reports-nl-bottom-1400x900.png")).await;
            b.goto("/supervisor.html?wallboard=1").await;
            shows(&b, "conn-status", "live").await;
            attr_is(&b, &format!("caller-{call}-priority"), "priority", "2").await;
            all_dutch(&b, &english, "the wallboard").await;
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}

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

/// Agents in the shapes the feed sends (docs/supervisor.md, issue 10): a call being wrapped up
/// with its caller, system and own reasons (`reason_code`), phone registration. Fed to the page's
/// own model (the module the page runs), so the page renders them as it would from the server.
fn contract_agents(now: i64) -> Value {
    let agent = |id: &str, name: &str, state: &str, extra: Value| {
        let mut a = json!({"id": format!("agent-test-{id}"), "name": name, "state": state,
            "reason": null, "reason_code": null, "since": now - 65_000, "call_id": null,
            "device": "phone", "held": null, "quality": {"server": null, "browser": null},
            "registered": true, "transport": "udp", "reachable": true});
        for (k, v) in extra.as_object().unwrap() {
            a[k] = v.clone();
        }
        a
    };
    json!([
        agent(
            "wim",
            "Wim Wouters",
            "wrap_up",
            json!({"call_id": "call-c1",
            "caller": "+31201234567", "customer_name": "Anouk de Vries", "transport": "tcp"})
        ),
        agent(
            "nina",
            "Nina Peeters",
            "not_ready",
            json!({"reason": "no answer",
            "reason_code": "no_answer", "registered": false, "transport": null, "reachable": false})
        ),
        agent(
            "lars",
            "Lars Janssens",
            "not_ready",
            json!({"reason": "lunch", "device": "browser",
            "registered": null, "transport": null})
        ),
        agent("ada", "Ada Claes", "available", json!({"reason": "login"})),
        agent(
            "sam",
            "Sam Wouters",
            "not_ready",
            json!({"reason": "coaching",
            "reason_code": "supervisor"})
        ),
    ])
}

/// Audit rows with the names and details the feed engineer adds (`actor_name`, `target_name`).
fn contract_audit() -> Value {
    let row = |action: &str, target: &str, target_name: &str, details: Value| {
        json!({"id": "aud-x", "at": 1_764_590_000_000_i64, "actor": "agent-demo-sanne",
            "actor_name": "Sanne Jansen", "action": action, "target": target,
            "target_name": target_name, "details": details})
    };
    json!([
        row(
            "agent_not_ready",
            "agent-demo-anna",
            "Anna Koster",
            json!({"reason": "lunch"})
        ),
        row(
            "call_priority",
            "call-zz",
            "+31201234567",
            json!({"from": 3, "to": 1})
        ),
        row(
            "call_queue",
            "call-zz",
            "+31201234567",
            json!({"from": "hardware", "to": "service"})
        ),
        row("agent_logout", "agent-demo-anna", "Anna Koster", json!({})),
        // Without names: the supervisor is the signed-in one, the agent one the feed knows.
        json!({"id": "aud-y", "at": 1, "actor": "agent-demo-sanne", "action": "agent_not_ready",
            "target": "agent-test-lars", "details": {}}),
    ])
}

const INJECT: &str = "return import('/supervisor/model.js').then((m) => { \
     m.handleFrame({ v: 1, type: 'update', agents: arguments[0] }, () => {}); return true; });";
const SENTENCES: &str =
    "return import('/supervisor/words.js').then((w) => arguments[0].map(w.auditSentence));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_puts_the_feeds_facts_in_words() {
    within(
        120,
        Box::pin(async {
            // Offers ring 2 s: an offer nobody answers makes the agent not ready, "no answer".
            let t = crate::helpers::spawn_queue_app(|_| {}).await;
            let mut phone = registered_phone(&t, "2001").await;
            let b = supervisor_page(&t).await;
            t.login("anna").await;
            let (_ua, _rtp, _) = queued_caller(&t, '1').await;
            phone.invite(10 * SECS).await.expect("anna's phone rings");
            phone.ring().await;
            assert!(phone.expect_cancel(10 * SECS).await, "the offer ends unanswered");
            shows(&b, "agent-agent-demo-anna-state", "not ready").await;
            shows(&b, "agent-agent-demo-anna-reason", "did not answer a call").await;

            let now = b.exec("return Date.now();", json!([])).await.as_i64().unwrap();
            assert_eq!(b.exec(INJECT, json!([contract_agents(now)])).await, json!(true));
            agent_rows(&b, 6).await;
            let call = text_of(&b, "agent-agent-test-wim-call").await;
            assert!(
                call.contains("Anouk de Vries · +31201234567") && call.contains("(wrap-up)"),
                "the call being wrapped up, by its caller: {call:?}"
            );
            attr_is(&b, "agent-agent-test-wim-call", "callId", "call-c1").await;
            shows(&b, "agent-agent-test-nina-reason", "did not answer a call").await;
            shows(&b, "agent-agent-test-lars-reason", "lunch").await;
            shows(&b, "agent-agent-test-sam-reason", "set by a supervisor: coaching").await;
            let phones: Value = b
                .exec(
                    "const row = (id) => document.querySelector(`[data-agent-id=agent-test-${id}]`); \
                     const note = (id) => { const e = row(id).querySelector('[data-testid=agent-phone]'); \
                       return e ? [e.textContent, e.classList.contains('warn')] : null; }; \
                     return { wim: note('wim'), nina: note('nina'), lars: note('lars'), ada: note('ada'), \
                       adaReason: !!row('ada').querySelector('[data-testid$=-reason]') };",
                    json!([]),
                )
                .await;
            assert_eq!(
                phones,
                json!({"wim": ["phone registered (TCP)", false],
                    "nina": ["phone not registered · not offered calls", true],
                    "lars": null, "ada": ["phone registered (UDP)", false], "adaReason": false}),
                "registration in words; no reason beside `available`"
            );
            let english = b.exec(SENTENCES, json!([contract_audit()])).await;
            assert_eq!(
                english,
                json!([
                    "Sanne Jansen set Anna Koster to not ready: lunch",
                    "Sanne Jansen changed the priority of +31201234567 from 3 to 1",
                    "Sanne Jansen moved +31201234567 from Hardware to Service",
                    "Sanne Jansen logged Anna Koster out",
                    "Sanne Visser set Lars Janssens to not ready",
                ])
            );

            b.click_css("[data-testid=lang-select] option[value='nl']").await;
            b.until(10, "the page in Dutch", "return document.documentElement.lang === 'nl';", json!([]))
                .await;
            shows(&b, "agent-agent-test-nina-reason", "nam een gesprek niet op").await;
            shows(&b, "agent-agent-demo-anna-reason", "nam een gesprek niet op").await;
            let call = text_of(&b, "agent-agent-test-wim-call").await;
            assert!(call.contains("(nawerk)"), "{call:?}");
            let dutch = b.exec(SENTENCES, json!([contract_audit()])).await;
            assert_eq!(dutch[0], json!("Sanne Jansen zette Anna Koster op niet beschikbaar: lunch"));
            assert_eq!(
                dutch[1],
                json!("Sanne Jansen wijzigde de prioriteit van +31201234567 van 3 naar 1")
            );
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}
