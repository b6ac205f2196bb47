//! The supervisor page on the screens it is used on (issue 10, points 4–7), in headless
//! Chromium: at 1400×900 every agent row is in view without scrolling and the keyboard reaches
//! the actions (shortcuts, help overlay, visible focus); the wallboard at 1920×1080 holds 10
//! agents and 4 queues without a scroll bar; every visible text meets WCAG AA contrast,
//! computed from the page's styles. The Dutch page and the feed's facts in words: `words.rs`;
//! the reports after real calls: `reports.rs`. Screenshots go to `target/screenshots/`.

mod checks;
mod reports;
mod words;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::desk_page::text_of;
use crate::helpers::{TestApp, http_json, within};
use crate::supervisor::{queued_caller, shows, supervisor_app, supervisor_page};
use crate::webdriver::Browser;
use checks::{contrast_ok, fits};

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
