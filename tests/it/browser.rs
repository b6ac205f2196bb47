//! The agent desk in headless Chromium (issue 4 acceptance): login through the page; a SIPp
//! caller through the IVR and the screen pop while the agent's phone rings; typing saved across a
//! reload; escalation 1 → 2 → 3 checked in `intakes` and `escalations`; an unknown caller linked
//! to a customer from the pop and resolved; "continue this ticket"; escaping of customer data;
//! the login page's errors.

use std::time::Duration;

use serde_json::json;
use sqlx::Row;
use tokio::task::JoinHandle;

use crate::agent_phone::{AgentPhone, PCMU};
use crate::helpers::{TestApp, http_json, spawn_queue_app, within};
use crate::scenario::{registered_phone, unclassified_caller};
use crate::sipp::{SippRun, run_sipp_with};
use crate::webdriver::Browser;

const ANNA: &str = "agent-demo-anna";
/// Anouk de Vries (cust-demo-01)'s main number in the demo data.
const ANOUK: &str = "+31201234567";
/// Jeroen Bakker, found by name from the pop of an unknown caller.
const BAKKER: &str = "cust-demo-02";
/// A number no demo customer has.
const UNKNOWN: &str = "+31209876543";
const SECS: Duration = Duration::from_secs(1);

/// The text of `[data-testid=<id>]` (its `textContent`, also when hidden), or null.
const TEXT_OF: &str = "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); \
                       return e ? e.textContent : null;";

/// A queue app whose offers ring long enough for the page to be inspected while ringing.
async fn desk_app() -> TestApp {
    spawn_queue_app(|c| {
        c.acd.ring_timeout_secs = 30;
        c.acd.wrapup_secs = 30;
    })
    .await
}

/// Opens the login page and submits `user` and `password`.
pub(crate) async fn submit_login(b: &Browser, user: &str, password: &str) {
    b.goto("/").await;
    b.send_keys(&b.testid("login-user").await, user).await;
    b.send_keys(&b.testid("login-password").await, password)
        .await;
    b.click(&b.testid("login-submit").await).await;
}

/// Signs in as `login` through the login page; waits for the desk to show the agent available.
async fn sign_in(b: &Browser, login: &str) {
    submit_login(b, login, &format!("{login}-demo")).await;
    b.until(
        10,
        "the desk after login",
        "return location.pathname === '/desk.html'",
        json!([]),
    )
    .await;
    b.until(
        10,
        "the agent state `available` from the WebSocket",
        "const e = document.querySelector('[data-testid=agent-state]'); \
         return e && e.textContent === 'available';",
        json!([]),
    )
    .await;
}

/// Waits for the pop in `phase` (`ringing`, `connected`).
async fn pop_in_phase(b: &Browser, phase: &str) {
    b.until(
        10,
        &format!("the pop in phase {phase}"),
        "const p = document.querySelector('[data-testid=pop]'); \
         const ph = document.querySelector('[data-testid=pop-phase]'); \
         return p && !p.hidden && ph && ph.dataset.phase === arguments[0];",
        json!([phase]),
    )
    .await;
}

/// Waits for the "saved" indicator after typing.
async fn saved(b: &Browser) {
    b.until(
        5,
        "the saved indicator",
        "const e = document.querySelector('[data-testid=save-status]'); \
         return e && e.textContent.startsWith('saved');",
        json!([]),
    )
    .await;
}

/// Waits for the intake's status to read `status`.
async fn wait_status(b: &Browser, status: &str) {
    b.until(
        10,
        &format!("the intake shown as {status}"),
        "return document.querySelector('[data-testid=intake-status]').textContent === arguments[0];",
        json!([status]),
    )
    .await;
}

/// Escalates from the page to `level` (2 or 3) and `target`; waits for the new level.
async fn escalate(b: &Browser, level: u8, target: &str, case_ref: Option<&str>, reason: &str) {
    b.click(
        &b.find(&format!(
            "[data-testid=escalate-level] option[value='{level}']"
        ))
        .await,
    )
    .await;
    b.click(
        &b.find(&format!(
            "[data-testid=escalate-target] option[value='{target}']"
        ))
        .await,
    )
    .await;
    // The page keeps what was typed for the last escalation.
    b.exec(
        "document.querySelector('[data-testid=escalate-reason]').value = ''; \
         document.querySelector('[data-testid=escalate-case-ref]').value = '';",
        json!([]),
    )
    .await;
    if let Some(c) = case_ref {
        b.send_keys(&b.testid("escalate-case-ref").await, c).await;
    }
    b.send_keys(&b.testid("escalate-reason").await, reason)
        .await;
    b.click(&b.testid("escalate-btn").await).await;
    wait_status(b, "escalated").await;
    b.until(
        10,
        &format!("the intake at level {level}"),
        "return document.querySelector('[data-testid=intake-level]').textContent === arguments[0];",
        json!([level.to_string()]),
    )
    .await;
}

/// A SIPp caller from `number` in the background (tests/sipp/desk_caller.xml: 2, 1, 2 by SIP
/// INFO, then on the line until the server's BYE); its SIP Call-ID and the run to await.
pub(crate) fn sipp_caller(t: &TestApp, number: &str) -> (String, JoinHandle<SippRun>) {
    let cid = crate::sipp::call_id();
    let (server, number, id) = (t.udp(), number.to_string(), cid.clone());
    let run = tokio::spawn(async move {
        let key = ["-key", "caller", number.as_str()];
        run_sipp_with(server, "desk_caller.xml", false, &id, &key).await
    });
    (cid, run)
}

/// The agent's phone hangs up: the server must BYE the SIPp caller, which then exits 0.
async fn agent_hangs_up(t: &TestApp, phone: &mut AgentPhone, cid: &str, sipp: JoinHandle<SippRun>) {
    assert_eq!(phone.bye().await, Some(200), "the agent phone's BYE");
    let run = sipp.await.expect("the sipp task");
    assert_eq!(run.code, Some(0), "{}", run.report);
    let call = t.ended_call(cid).await;
    assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
    assert_eq!(call.hangup_by.as_deref(), Some("agent"), "{call:?}");
    assert_eq!(call.dtmf_mode.as_deref(), Some("info"), "{call:?}");
    assert_eq!(call.language.as_deref(), Some("en"), "{call:?}");
}

/// The text of `[data-testid=<testid>]` (see [`TEXT_OF`]); empty when there is none.
pub(crate) async fn text_of(b: &Browser, testid: &str) -> String {
    b.exec(TEXT_OF, json!([testid]))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Anna's phone (2001) registered and the desk signed in as anna in a fresh browser.
async fn anna_at_desk(t: &TestApp) -> (AgentPhone, Browser) {
    let phone = registered_phone(t, "2001").await;
    let b = Browser::start(t.app.http_addr()).await;
    sign_in(&b, "anna").await;
    (phone, b)
}

/// A SIPp caller from `number` ([`sipp_caller`]) rings anna's phone, which does not answer yet,
/// and the pop shows the call ringing. The SIP Call-ID, the run, the call's id (X-Firstline-Call).
async fn sipp_rings(
    t: &TestApp,
    phone: &mut AgentPhone,
    b: &Browser,
    number: &str,
) -> (String, JoinHandle<SippRun>, String) {
    let (cid, sipp) = sipp_caller(t, number);
    let inv = phone.invite(20 * SECS).await.expect("anna's phone rings");
    phone.ring().await;
    pop_in_phase(b, "ringing").await;
    let call_id = inv.call.clone().expect("X-Firstline-Call");
    (cid, sipp, call_id)
}

/// Anna's phone answers; the pop shows the call connected.
async fn answer(phone: &mut AgentPhone, b: &Browser) {
    assert!(phone.answer(PCMU).await, "no ACK for the phone's 200");
    pop_in_phase(b, "connected").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_page_shows_the_servers_error() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let b = Browser::start(t.app.http_addr()).await;
        submit_login(&b, "anna", "wrong").await;
        let msg = b
            .until(
                10,
                "the login error",
                "return document.querySelector('[data-testid=login-error]').textContent;",
                json!([]),
            )
            .await;
        assert_eq!(msg, json!("invalid login or password"), "docs/api.md 401");
        let shown = b.text(&b.testid("login-error").await).await;
        assert_eq!(
            shown, "invalid login or password",
            "rendered, not only in the DOM"
        );
        assert!(b.url().await.ends_with('/'), "stays on the login page");
        b.quit().await;
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_while_ringing_then_typing_survives_reload_and_escalates() {
    // Boxed: the scenario's future is too large for the test thread's stack in debug builds.
    within(120, Box::pin(async {
        let t = desk_app().await;
        let (mut phone, b) = anna_at_desk(&t).await;

        // A SIPp caller from Anouk de Vries's number: English, hardware, priority 2 (high).
        // The pop is on screen while the phone still rings (it has not answered).
        let (cid, sipp, call_id) = sipp_rings(&t, &mut phone, &b, ANOUK).await;
        assert_eq!(text_of(&b, "pop-caller").await, ANOUK);
        assert_eq!(text_of(&b, "customer-name").await, "Anouk de Vries");
        assert_eq!(text_of(&b, "customer-organisation").await, "Gemeente Zaanwijk");
        assert_eq!(text_of(&b, "customer-department").await, "Burgerzaken");
        assert_eq!(text_of(&b, "customer-location").await, "Stadhuis, kamer 2.14");
        assert_eq!(b.value(&b.testid("pop-category").await).await, "hardware");
        assert_eq!(b.value(&b.testid("pop-priority").await).await, "2");
        assert_eq!(text_of(&b, "pop-language").await, "en");
        assert_eq!(text_of(&b, "pop-dtmf").await, "info", "SIPp pressed by SIP INFO");
        answer(&mut phone, &b).await;

        // Type, wait for the debounced save, reload mid-sentence: the text is still there.
        let first = "Printer on floor 3 shows error E05 and ";
        b.send_keys(&b.testid("intake-description").await, first).await;
        saved(&b).await;
        b.refresh().await;
        pop_in_phase(&b, "connected").await;
        b.until(
            10,
            "the description after the reload",
            "return document.querySelector('[data-testid=intake-description]').value === arguments[0];",
            json!([first]),
        )
        .await;
        let rest = "prints blank pages.";
        b.send_keys(&b.testid("intake-description").await, rest).await;
        saved(&b).await;

        // Escalate to the second level, group Network.
        let reason = "Network printer unreachable from VLAN 20";
        escalate(&b, 2, "Network", None, reason).await;
        assert!(
            text_of(&b, "escalation-history").await.contains("Network"),
            "history shows the escalation"
        );

        // Further, 2 → 3: the vendor with their case reference.
        let (vendor_reason, case_ref) = ("Fuser unit defective, under warranty", "HP-5012-778");
        escalate(&b, 3, "HP", Some(case_ref), vendor_reason).await;
        let history = text_of(&b, "escalation-history").await;
        assert!(
            history.contains("level 1 → 2") && history.contains("level 2 → 3"),
            "the whole history is shown: {history:?}"
        );
        assert!(history.contains(&format!("case {case_ref}")), "{history:?}");

        // What the database keeps.
        let row = sqlx::query(
            "SELECT id, description, status, level, category, priority FROM intakes WHERE call_id = $1",
        )
        .bind(call_id.clone())
        .fetch_one(&t.pool)
        .await
        .unwrap();
        let intake_id: String = row.try_get("id").unwrap();
        let description: Option<String> = row.try_get("description").unwrap();
        assert_eq!(description.as_deref(), Some(format!("{first}{rest}").as_str()));
        assert_eq!(row.try_get::<String, _>("status").unwrap(), "escalated");
        assert_eq!(row.try_get::<i64, _>("level").unwrap(), 3);
        assert_eq!(row.try_get::<String, _>("category").unwrap(), "hardware");
        assert_eq!(row.try_get::<Option<i64>, _>("priority").unwrap(), Some(2));
        let esc = sqlx::query(
            "SELECT seq, from_level, to_level, target, reason, case_ref, agent_id, at, returned \
             FROM escalations WHERE intake_id = $1 ORDER BY seq",
        )
        .bind(intake_id)
        .fetch_all(&t.pool)
        .await
        .unwrap();
        assert_eq!(esc.len(), 2, "one escalation row per move");
        let rows: Vec<_> = esc
            .iter()
            .map(|e| {
                (
                    e.try_get::<i64, _>("seq").unwrap(),
                    e.try_get::<i64, _>("from_level").unwrap(),
                    e.try_get::<i64, _>("to_level").unwrap(),
                    e.try_get::<String, _>("target").unwrap(),
                    e.try_get::<String, _>("reason").unwrap(),
                    e.try_get::<Option<String>, _>("case_ref").unwrap(),
                    e.try_get::<String, _>("agent_id").unwrap(),
                    e.try_get::<i64, _>("returned").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (1, 1, 2, "Network".into(), reason.into(), None, ANNA.into(), 0),
                (2, 2, 3, "HP".into(), vendor_reason.into(), Some(case_ref.into()), ANNA.into(), 0),
            ]
        );
        let at: Vec<i64> = esc.iter().map(|e| e.try_get("at").unwrap()).collect();
        assert!(at[0] > 1_700_000_000_000 && at[0] <= at[1], "epoch ms, in order: {at:?}");

        // The agent hangs up; with an outcome recorded, wrap-up can be ended from the page.
        agent_hangs_up(&t, &mut phone, &cid, sipp).await;
        b.until(
            10,
            "wrap-up done enabled",
            "return !document.querySelector('[data-testid=wrapup-btn]').disabled;",
            json!([]),
        )
        .await;
        b.quit().await;
        t.finish().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_caller_is_linked_to_a_customer_from_the_pop_and_resolved() {
    within(90, Box::pin(async {
        let t = desk_app().await;
        let (mut phone, b) = anna_at_desk(&t).await;

        let (cid, sipp, call_id) = sipp_rings(&t, &mut phone, &b, UNKNOWN).await;
        assert_eq!(text_of(&b, "pop-caller").await, UNKNOWN);
        assert_eq!(text_of(&b, "unknown-caller").await, "Unknown caller");
        answer(&mut phone, &b).await;

        // Find Jeroen Bakker and link this number to him.
        b.send_keys(&b.testid("customer-search").await, "Bakker").await;
        b.click(&b.testid("customer-search-btn").await).await;
        b.click(&b.testid(&format!("link-{BAKKER}")).await).await;
        // Shown live, without a reload (the server's `customer` frame after the link).
        b.until(
            10,
            "the linked customer in the pop",
            "const e = document.querySelector('[data-testid=customer-name]'); \
             return e && e.textContent === 'Jeroen Bakker';",
            json!([]),
        )
        .await;

        // Resolved at the first level, with the solution.
        let solution = "Keyboard cable reseated; all keys work again.";
        b.send_keys(&b.testid("resolve-solution").await, solution).await;
        b.click(&b.testid("resolve-btn").await).await;
        wait_status(&b, "resolved").await;
        assert_eq!(text_of(&b, "intake-level").await, "1");

        let row = sqlx::query(
            "SELECT customer_id, status, level, solution, resolved_at FROM intakes WHERE call_id = $1",
        )
        .bind(call_id.clone())
        .fetch_one(&t.pool)
        .await
        .unwrap();
        assert_eq!(row.try_get::<Option<String>, _>("customer_id").unwrap().as_deref(), Some(BAKKER));
        assert_eq!(row.try_get::<String, _>("status").unwrap(), "resolved");
        assert_eq!(row.try_get::<i64, _>("level").unwrap(), 1);
        assert_eq!(row.try_get::<Option<String>, _>("solution").unwrap().as_deref(), Some(solution));
        assert!(row.try_get::<Option<i64>, _>("resolved_at").unwrap().is_some());
        let phones: Vec<String> =
            sqlx::query_scalar("SELECT customer_id FROM customer_phones WHERE number = $1")
                .bind(UNKNOWN)
                .fetch_all(&t.pool)
                .await
                .unwrap();
        assert_eq!(phones, [BAKKER], "the number now identifies Jeroen Bakker");
        let call_customer: Option<String> =
            sqlx::query_scalar("SELECT customer_id FROM calls WHERE id = $1")
                .bind(call_id.clone())
                .fetch_one(&t.pool)
                .await
                .unwrap();
        assert_eq!(call_customer.as_deref(), Some(BAKKER), "the call is linked too");

        agent_hangs_up(&t, &mut phone, &cid, sipp).await;
        b.quit().await;
        t.finish().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_this_ticket_attaches_the_call_to_the_open_intake() {
    within(90, Box::pin(async {
        let t = desk_app().await;
        // Anouk mailed about her VPN earlier: an open intake, opened by hand.
        let token = t.login("anna").await;
        let (status, existing) = http_json(
            t.app.http_addr(),
            "POST",
            "/api/intakes",
            Some(&token),
            Some(json!({"channel": "email", "customer_id": "cust-demo-01",
                        "description": "VPN drops every hour", "category": "service",
                        "priority": 3})),
        )
        .await;
        assert_eq!(status, 201, "{existing}");
        let existing = existing["id"].as_str().expect("intake id").to_string();

        let (mut phone, b) = anna_at_desk(&t).await;
        let (cid, sipp, call_id) = sipp_rings(&t, &mut phone, &b, ANOUK).await;
        let listed = text_of(&b, &format!("open-intake-{existing}")).await;
        assert!(listed.contains("VPN drops every hour"), "open intakes: {listed:?}");
        answer(&mut phone, &b).await;

        b.click(&b.testid(&format!("continue-{existing}")).await).await;
        b.until(
            10,
            "the existing intake being edited",
            "return document.querySelector('[data-testid=intake-id]').textContent === arguments[0];",
            json!([existing]),
        )
        .await;
        assert_eq!(b.value(&b.testid("intake-description").await).await, "VPN drops every hour");

        let attached = sqlx::query("SELECT intake_id, agent_id FROM intake_calls WHERE call_id = $1")
            .bind(call_id.clone())
            .fetch_all(&t.pool)
            .await
            .unwrap();
        let attached: Vec<(String, Option<String>)> = attached
            .iter()
            .map(|r| (r.try_get("intake_id").unwrap(), r.try_get("agent_id").unwrap()))
            .collect();
        assert_eq!(attached, [(existing.clone(), Some(ANNA.to_string()))]);
        let draft = sqlx::query("SELECT status, merged_into FROM intakes WHERE call_id = $1")
            .bind(call_id.clone())
            .fetch_one(&t.pool)
            .await
            .unwrap();
        assert_eq!(draft.try_get::<String, _>("status").unwrap(), "closed", "no duplicate");
        assert_eq!(
            draft.try_get::<Option<String>, _>("merged_into").unwrap().as_deref(),
            Some(existing.as_str())
        );
        let kept: String = sqlx::query_scalar("SELECT status FROM intakes WHERE id = $1")
            .bind(existing.clone())
            .fetch_one(&t.pool)
            .await
            .unwrap();
        assert_eq!(kept, "open");

        agent_hangs_up(&t, &mut phone, &cid, sipp).await;
        b.quit().await;
        t.finish().await;
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_data_is_shown_as_text() {
    within(90, async {
        let t = desk_app().await;
        let evil = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">";
        let notes = "<b onmouseover=\"window.__xss=3\">bold?</b>";
        sqlx::query("UPDATE customers SET name = $1, notes = $2 WHERE id = 'cust-demo-01'")
            .bind(evil)
            .bind(notes)
            .execute(&t.pool)
            .await
            .unwrap();
        let (mut phone, b) = anna_at_desk(&t).await;
        let (_ua, _rtp, _) = unclassified_caller(&t).await;
        phone.invite(15 * SECS).await.expect("anna's phone rings");
        phone.ring().await;
        pop_in_phase(&b, "ringing").await;
        assert_eq!(text_of(&b, "customer-name").await, evil);
        assert_eq!(text_of(&b, "customer-notes").await, notes);
        let injected = b
            .exec(
                "const c = document.querySelector('[data-testid=customer]'); \
                 return [window.__xss === undefined, c.querySelectorAll('script, img, b').length];",
                json!([]),
            )
            .await;
        assert_eq!(injected, json!([true, 0]), "no markup from customer data");
        b.quit().await;
        t.finish().await;
    })
    .await;
}
