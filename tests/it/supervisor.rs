//! The supervisor view in headless Chromium (issue 5 acceptance): sanne signs in through the
//! login page and lands on `/supervisor.html`; scripted callers go through the IVR into the
//! queues while agents' phones are registered; the page's figures (waiting per queue, agents by
//! state, the day's offered calls) follow the live state without a reload; raising a waiting
//! caller's priority or moving them to another queue from the page changes who is offered
//! first, and writes an `audit` row; the CSV button downloads the reports API's export; the
//! wallboard has no controls. An agent session cannot open the feed or the actions.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::agent_phone::AgentPhone;
use crate::desk_page::{submit_login, text_of};
use crate::helpers::{TestApp, http_json, spawn_queue_app, within};
use crate::scenario::{caller, press, registered_phone};
use crate::ua::Ua;
use crate::webdriver::Browser;

const SANNE: &str = "agent-demo-sanne";
const ANNA: &str = "agent-demo-anna";
const DIRK: &str = "agent-demo-dirk";
const SECS: Duration = Duration::from_secs(1);

/// A queue app whose offers ring long enough to be checked before they time out.
pub(crate) async fn supervisor_app() -> TestApp {
    spawn_queue_app(|c| {
        c.acd.ring_timeout_secs = 30;
    })
    .await
}

/// A caller who picks English, then `category` (1 hardware, 3 service) and priority 3; waits
/// until the call is queued. The UA (the caller stays on the line while it lives) and the call id.
pub(crate) async fn queued_caller(
    t: &TestApp,
    category: char,
) -> (Ua, crate::rtp::RtpPeer, String) {
    let (mut ua, rtp, _) = caller(t).await;
    for d in ['2', category, '3'] {
        press(&mut ua, d).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let row = t.queued(&ua.call_id).await;
    assert_eq!(row.priority, Some(3), "{row:?}");
    (ua, rtp, row.id)
}

/// A browser in which sanne signed in through the login page: supervisors land on the live
/// view, which goes live.
pub(crate) async fn supervisor_page(t: &TestApp) -> Browser {
    let b = Browser::start(t.app.http_addr()).await;
    submit_login(&b, "sanne", "sanne-demo").await;
    b.until(
        10,
        "the supervisor view after login",
        "return location.pathname === '/supervisor.html'",
        json!([]),
    )
    .await;
    b.until(
        10,
        "the feed live",
        "const e = document.querySelector('[data-testid=conn-status]'); \
         return e && e.textContent === 'live';",
        json!([]),
    )
    .await;
    // Set once: still there at the end only if the page was never reloaded.
    b.exec("window.__sameDocument = true;", json!([])).await;
    b
}

/// Waits until `[data-testid=<id>]` reads `want`.
pub(crate) async fn shows(b: &Browser, id: &str, want: &str) {
    b.until(
        10,
        &format!("{id} showing {want:?}"),
        "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); \
         return e && e.textContent.trim() === arguments[1];",
        json!([id, want]),
    )
    .await;
}

/// Waits until `[data-testid=<id>]` has `data-<attr>` (camelCase, as in `dataset`) `want`.
pub(crate) async fn attr_is(b: &Browser, id: &str, attr: &str, want: &str) {
    b.until(
        10,
        &format!("{id} with data-{attr} {want:?}"),
        "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); \
         return e && e.dataset[arguments[1]] === arguments[2];",
        json!([id, attr, want]),
    )
    .await;
}

/// Clicks `[data-testid=<id>]`, then the confirmation dialog's OK.
async fn act_confirmed(b: &Browser, id: &str) {
    b.click_css(&format!("[data-testid=\"{id}\"]")).await;
    b.until(
        5,
        "the confirmation dialog",
        "return document.querySelector('[data-testid=confirm]').open;",
        json!([]),
    )
    .await;
    b.click(&b.testid("confirm-ok").await).await;
    shows(b, "action-status", "done ✓").await;
}

/// The `audit` rows as `(agent_id, action, target, details)`, oldest first.
async fn audit_rows(t: &TestApp) -> Vec<(String, String, String, Value)> {
    sqlx::query("SELECT agent_id, action, target, details FROM audit ORDER BY at, id")
        .fetch_all(&t.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let details: String = r.try_get("details").unwrap();
            (
                r.try_get("agent_id").unwrap(),
                r.try_get("action").unwrap(),
                r.try_get("target").unwrap(),
                serde_json::from_str(&details).unwrap(),
            )
        })
        .collect()
}

/// The single `audit` row: sanne's `action` on `target`, with `from` and `to` in its details.
async fn one_audit_row(t: &TestApp, action: &str, target: &str, from: Value, to: Value) {
    let audit = audit_rows(t).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    let (actor, done, on, details) = &audit[0];
    assert_eq!(
        (actor.as_str(), done.as_str(), on.as_str()),
        (SANNE, action, target)
    );
    assert_eq!(
        (&details["from"], &details["to"]),
        (&from, &to),
        "{details}"
    );
}

/// `agent` (their `token`) becomes available: their phone is offered `call` first (`why`) and
/// rings.
async fn available_rings(
    t: &TestApp,
    agent: &str,
    token: &str,
    phone: &mut AgentPhone,
    call: &str,
    why: &str,
) {
    let (status, _) = t.set_state(token, json!({"state": "available"})).await;
    assert_eq!(status, 200);
    let inv = phone
        .invite(10 * SECS)
        .await
        .unwrap_or_else(|| panic!("{agent}'s phone rings"));
    assert_eq!(inv.call.as_deref(), Some(call), "{why}");
    phone.ring().await;
}

async fn still_same_document(b: &Browser) {
    let same = b
        .exec("return window.__sameDocument === true;", json!([]))
        .await;
    assert_eq!(same, json!(true), "the page changed live, without a reload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_a_callers_priority_from_the_page_serves_them_first() {
    within(
        120,
        Box::pin(async {
            let t = supervisor_app().await;
            let mut phone = registered_phone(&t, "2001").await;
            let anna = t.not_ready("anna", "meeting").await;
            let b = supervisor_page(&t).await;
            shows(&b, &format!("agent-{ANNA}-state"), "not ready").await;
            shows(&b, &format!("agent-{ANNA}-reason"), "meeting").await;
            shows(&b, "queue-hardware-waiting", "0").await;

            // Two hardware callers with priority 3: by arrival, `first` would be served first.
            let (_ua1, _rtp1, first) = queued_caller(&t, '1').await;
            shows(&b, "queue-hardware-waiting", "1").await;
            let (_ua2, _rtp2, second) = queued_caller(&t, '1').await;
            shows(&b, "queue-hardware-waiting", "2").await;
            shows(&b, "queue-hardware-prio-3", "2").await;
            shows(&b, "queue-software-waiting", "0").await;
            shows(&b, "in-ivr", "0").await;
            shows(&b, "today-offered", "2").await;
            shows(&b, &format!("caller-{first}-priority"), "3 · normal").await;
            attr_is(&b, &format!("caller-{first}-priority"), "priority", "3").await;
            attr_is(&b, &format!("caller-{second}-priority"), "priority", "3").await;
            shows(&b, &format!("caller-{second}-queue"), "Hardware").await;
            let order: Value = b
                .exec(
                    "return [...document.querySelectorAll('[data-testid=caller-row]')] \
                 .map((r) => r.dataset.callId);",
                    json!([]),
                )
                .await;
            assert_eq!(
                order,
                json!([first, second]),
                "service order before the action"
            );

            // The supervisor raises the second caller's priority: 3 → 2.
            act_confirmed(&b, &format!("prio-up-{second}")).await;
            shows(&b, &format!("caller-{second}-priority"), "2 · high").await;
            attr_is(&b, &format!("caller-{second}-priority"), "priority", "2").await;
            shows(&b, "queue-hardware-prio-2", "1").await;
            shows(&b, "queue-hardware-prio-3", "1").await;
            one_audit_row(&t, "call_priority", &second, json!(3), json!(2)).await;

            // Anna becomes available: the raised caller rings her phone first.
            let why = "the raised caller first";
            available_rings(&t, "anna", &anna, &mut phone, &second, why).await;
            shows(&b, &format!("agent-{ANNA}-state"), "ringing").await;
            shows(&b, "agents-count-ringing", "1").await;

            // The CSV button (in the reports view of the same page) downloads the reports API's
            // export of today's calls.
            b.exec("location.hash = '#reports';", json!([])).await;
            b.exec(
                "window.__csv = null; const make = URL.createObjectURL; \
                 URL.createObjectURL = (blob) => { blob.text().then((t) => { window.__csv = t; }); \
                 return make(blob); };",
                json!([]),
            )
            .await;
            b.click(&b.testid("export-btn").await).await;
            let csv = b
                .until(10, "the exported CSV", "return window.__csv;", json!([]))
                .await;
            let csv = csv.as_str().unwrap_or_default();
            assert!(
                csv.starts_with("id,arrived_at,arrived_local,caller,"),
                "{csv:?}"
            );
            b.until(
                10,
                "the download's row count",
                "const e = document.querySelector('[data-testid=export-result]'); \
                 return e && /^calls_.*\\.csv · 2 rows downloaded$/.test(e.textContent);",
                json!([]),
            )
            .await;
            assert_eq!(text_of(&b, "error-msg").await, "", "no error shown");
            still_same_document(&b).await;
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_caller_to_another_queue_from_the_page_serves_them_there() {
    within(
        120,
        Box::pin(async {
            let t = supervisor_app().await;
            let mut phone = registered_phone(&t, "2004").await;
            // Anna serves hardware, dirk only service; both are logged in and not ready.
            t.not_ready("anna", "meeting").await;
            let dirk = t.not_ready("dirk", "meeting").await;
            let b = supervisor_page(&t).await;
            shows(&b, "agents-count-not_ready", "2").await;

            // `early` waits for hardware, then `late` for service: dirk would get `late`.
            let (_ua1, _rtp1, early) = queued_caller(&t, '1').await;
            let (_ua2, _rtp2, late) = queued_caller(&t, '3').await;
            shows(&b, "queue-hardware-waiting", "1").await;
            shows(&b, "queue-service-waiting", "1").await;

            // The supervisor moves `early` to service; they keep their arrival, so come first there.
            b.click_css(&format!("[data-testid=\"move-{early}\"]"))
                .await;
            b.click_css("[data-testid=confirm-queue] option[value='service']")
                .await;
            b.click(&b.testid("confirm-ok").await).await;
            shows(&b, "action-status", "done ✓").await;
            shows(&b, "queue-hardware-waiting", "0").await;
            shows(&b, "queue-service-waiting", "2").await;
            shows(&b, &format!("caller-{early}-queue"), "Service").await;
            attr_is(&b, &format!("caller-{early}-queue"), "queue", "service").await;
            let (from, to) = (json!("hardware"), json!("service"));
            one_audit_row(&t, "call_queue", &early, from, to).await;

            let why = "the moved caller first";
            available_rings(&t, "dirk", &dirk, &mut phone, &early, why).await;
            shows(&b, &format!("agent-{DIRK}-state"), "ringing").await;
            attr_is(&b, &format!("agent-{DIRK}-call"), "callId", &early).await;
            let call = text_of(&b, &format!("agent-{DIRK}-call")).await;
            assert!(
                call.contains("+31201234567") && !call.contains(&early),
                "the call dirk is offered, by its caller (not its id): {call:?}"
            );
            let who = text_of(&b, &format!("caller-{late}-who")).await;
            assert!(
                who.contains("+31201234567"),
                "the caller's number or customer: {who:?}"
            );
            still_same_document(&b).await;
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallboard_shows_the_figures_without_controls() {
    within(
        90,
        Box::pin(async {
            let t = supervisor_app().await;
            t.not_ready("anna", "meeting").await;
            let b = supervisor_page(&t).await;
            b.goto("/supervisor.html?wallboard=1").await;
            shows(&b, "conn-status", "live").await;
            let (_ua, _rtp, id) = queued_caller(&t, '1').await;
            shows(&b, "queue-hardware-waiting", "1").await;
            attr_is(&b, &format!("caller-{id}-priority"), "priority", "3").await;
            let controls = b
                .exec(
                    "return [...document.querySelectorAll('button, select, input')] \
                 .filter((e) => e.offsetParent !== null).length;",
                    json!([]),
                )
                .await;
            assert_eq!(controls, json!(0), "no visible controls on the wallboard");
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}

/// The status line of a WebSocket upgrade of `path` (RFC 6455 §4.1) with a Bearer token.
async fn upgrade_status(addr: SocketAddr, path: &str, token: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(5 * SECS, s.read(&mut buf))
            .await
            .expect("an answer to the upgrade")
            .unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_session_cannot_open_the_supervisor_feed_or_its_actions() {
    within(60, async {
        let t = supervisor_app().await;
        let addr = t.app.http_addr();
        let anna = t.login("anna").await;
        let sanne = t.login("sanne").await;
        assert_eq!(upgrade_status(addr, "/api/supervisor/ws", &anna).await, 403);
        assert_eq!(
            upgrade_status(addr, "/api/supervisor/ws", &sanne).await,
            101,
            "a supervisor may (the 403 above is the role, not the route)"
        );
        let writes = [
            (
                format!("/api/supervisor/agents/{ANNA}/not-ready"),
                json!({"reason": "x"}),
            ),
            (format!("/api/supervisor/agents/{ANNA}/logout"), json!({})),
            (
                "/api/supervisor/calls/call-x/priority".to_string(),
                json!({"priority": 1}),
            ),
            (
                "/api/supervisor/calls/call-x/queue".to_string(),
                json!({"queue": "service"}),
            ),
        ];
        for (path, body) in writes {
            let (status, err) = http_json(addr, "POST", &path, Some(&anna), Some(body)).await;
            assert_eq!(status, 403, "{path}: {err}");
        }
        let (status, _) = http_json(
            addr,
            "GET",
            "/api/supervisor/audit?limit=5",
            Some(&anna),
            None,
        )
        .await;
        assert_eq!(status, 403);
        assert!(audit_rows(&t).await.is_empty(), "nothing was done");
        // Anna is still available: the refused not-ready changed nothing.
        let (_, me) = http_json(addr, "GET", "/api/me", Some(&anna), None).await;
        assert_eq!(me["state"], json!("available"), "{me}");
        t.finish().await;
    })
    .await;
}

/// Real traffic: a SIPp caller goes through the IVR and waits; an agent phone answers when the
/// agent becomes available. The page's figures follow live (waiting count, agents by state,
/// answered, service level), without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_traffic_moves_the_live_figures() {
    within(
        120,
        Box::pin(async {
            let t = supervisor_app().await;
            let mut phone = registered_phone(&t, "2001").await;
            let anna = t.not_ready("anna", "meeting").await;
            let b = supervisor_page(&t).await;
            shows(&b, "conn-status", "live").await;
            shows(&b, "agent-agent-demo-anna-state", "not ready").await;
            shows(&b, "agent-agent-demo-anna-reason", "meeting").await;
            shows(&b, "service-level", "–").await;
            // SIPp: English, hardware, priority 2 by SIP INFO, then on the line.
            let (cid, sipp) = crate::desk_page::sipp_caller(&t, "+31201234567");
            shows(&b, "queue-hardware-waiting", "1").await;
            shows(&b, "today-offered", "1").await;
            // Anna becomes available: her phone rings, she answers.
            let (status, _) = t.set_state(&anna, json!({"state": "available"})).await;
            assert_eq!(status, 200);
            let inv = phone.invite(15 * SECS).await.expect("anna's phone rings");
            phone.ring().await;
            assert!(phone.answer(crate::agent_phone::PCMU).await);
            assert!(inv.display.contains("hardware"), "{:?}", inv.display);
            shows(&b, "queue-hardware-waiting", "0").await;
            shows(&b, "agent-agent-demo-anna-state", "on a call").await;
            shows(&b, "today-answered", "1").await;
            shows(&b, "service-level", "100%").await;
            still_same_document(&b).await;
            // The agent hangs up: the server ends the SIPp call, which exits cleanly.
            assert_eq!(phone.bye().await, Some(200));
            let run = sipp.await.expect("the sipp task");
            assert_eq!(run.code, Some(0), "{}", run.report);
            let call = t.ended_call(&cid).await;
            assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
            shows(&b, "today-answered", "1").await;
            b.quit().await;
            t.finish().await;
        }),
    )
    .await;
}
