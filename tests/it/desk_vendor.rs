//! The third level at the desk (issue 15's acceptance): gijs, a second-level specialist in
//! Chromium, takes on an escalated intake, hands it to a vendor with their case reference (a
//! vendor case opens, the intake is "waiting for the vendor"), records the contact, the
//! vendor's first answer and a follow-up a few seconds ahead; the reminder comes to his desk at
//! that time (the reminder schedule itself is tested with simulated time in
//! `src/store/vendor_cases_tests.rs`), is still there after a reload, and closing the case with
//! its outcome hands the intake back to him in his group, in progress. Logging out while he
//! owns it tells him so first, and it stays his.

use serde_json::json;
use sqlx::Row;

use crate::desk_page::{choose, sign_in, text_of, type_into};
use crate::helpers::{TestApp, http_json, open_intake, spawn_queue_app, within};
use crate::webdriver::Browser;

const REF: &str = "CSCO-SR-694102218";
const CONTACT: &str = "Cisco TAC, +31 20 357 1000";
const ANSWER: &str = "Asked for the output of show tech-support";
const OUTCOME: &str = "Replaced the line card under warranty";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_case_is_recorded_reminded_and_closing_it_hands_the_intake_back() {
    within(
        240,
        Box::pin(async {
            let t = spawn_queue_app(|_| {}).await;
            let id = escalated_to_network(&t).await;
            let gijs = Browser::start(t.app.http_addr()).await;
            sign_in(&gijs, "gijs").await;
            open(&gijs, &id).await;
            gijs.click(&gijs.testid("claim-btn").await).await;
            Box::pin(hand_to_cisco(&t, &gijs, &id)).await;
            let case = Box::pin(record_and_follow_up(&t, &gijs, &id)).await;
            Box::pin(close_hands_it_back(&t, &gijs, &id, &case)).await;
            Box::pin(logging_out_while_owning_it(&t, &gijs, &id)).await;
            gijs.quit().await;
            t.finish().await;
        }),
    )
    .await;
}

async fn escalated_to_network(t: &TestApp) -> String {
    let anna = t.login("anna").await;
    let body = json!({"channel": "email", "priority": 2, "title": "Floor 2 switch down"});
    let id = open_intake(t, &anna, body).await;
    let esc = json!({"to_level": 2, "target": "Network", "reason": "All ports dark"});
    let path = format!("/api/intakes/{id}/escalate");
    let (status, v) = http_json(t.app.http_addr(), "POST", &path, Some(&anna), Some(esc)).await;
    assert_eq!(status, 200, "{v}");
    id
}

async fn open(b: &Browser, id: &str) {
    b.exec("location.hash = '#intake=' + arguments[0];", json!([id]))
        .await;
    b.until(
        10,
        "the intake in the workspace",
        "const e = document.querySelector('[data-testid=intake]'); \
         return e && e.dataset.intake === arguments[0];",
        json!([id]),
    )
    .await;
}

async fn wait_attr(b: &Browser, testid: &str, attr: &str, want: &str) {
    b.until(
        10,
        &format!("{testid} {attr}={want}"),
        "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); \
         return !!e && e.dataset[arguments[1]] === arguments[2];",
        json!([testid, attr, want]),
    )
    .await;
}

async fn hand_to_cisco(t: &TestApp, b: &Browser, id: &str) {
    b.until(10, "gijs owns it", "return document.querySelector('[data-testid=intake-owner]').dataset.owner === 'agent-demo-gijs';", json!([]))
        .await;
    b.click(&b.testid("outcome-tab-escalate").await).await;
    choose(b, "escalate-target", "Cisco").await;
    type_into(b, "escalate-case-ref", REF).await;
    type_into(
        b,
        "escalate-reason",
        "Line card fault, under support contract",
    )
    .await;
    b.click(&b.testid("escalate-btn").await).await;
    wait_attr(b, "intake-level", "level", "3").await;
    wait_attr(b, "intake-work-state", "state", "waiting_vendor").await;
    let row = sqlx::query("SELECT level, owner_id, work_state FROM intakes WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&t.pool)
        .await
        .unwrap();
    assert_eq!(row.try_get::<i64, _>("level").unwrap(), 3);
    assert_eq!(
        row.try_get::<Option<String>, _>("owner_id")
            .unwrap()
            .as_deref(),
        Some("agent-demo-gijs")
    );
}

/// The contact, the answer and a follow-up 3 s ahead; the reminder arrives. The case id.
async fn record_and_follow_up(t: &TestApp, b: &Browser, id: &str) -> String {
    let case: String = sqlx::query_scalar("SELECT id FROM vendor_cases WHERE intake_id = $1")
        .bind(id.to_string())
        .fetch_one(&t.pool)
        .await
        .unwrap();
    let panel = format!("vendor-case-{case}");
    wait_attr(b, &panel, "status", "open").await;
    assert_eq!(
        text_of(b, "vendor-ref").await,
        REF,
        "the reference typed at the hand-off"
    );
    type_into(b, "vendor-contact-input", CONTACT).await;
    type_into(b, "vendor-answer-input", ANSWER).await;
    b.exec(
        "const d = new Date(Date.now() + 3000); const p = (n) => String(n).padStart(2, '0'); \
         const e = document.querySelector('[data-testid=vendor-follow-up-input]'); \
         e.value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`; \
         e.dispatchEvent(new Event('input', { bubbles: true }));",
        json!([]),
    )
    .await;
    b.click(&b.testid("vendor-save").await).await;
    b.until(10, "the contact on the case", "return document.querySelector('[data-testid=vendor-contact]').textContent === arguments[0];", json!([CONTACT]))
        .await;
    let history = text_of(b, "intake-notes").await;
    assert!(
        history.contains(&format!("Cisco answered: {ANSWER}")),
        "{history:?}"
    );
    let banner = format!("follow-up-{case}");
    b.until(
        15,
        "the follow-up reminder",
        "return !!document.querySelector(`[data-testid=\"${arguments[0]}\"]`);",
        json!([banner]),
    )
    .await;
    let text = text_of(b, &banner).await;
    assert!(text.contains("Cisco") && text.contains(REF), "{text:?}");
    let reminded: Option<i64> =
        sqlx::query_scalar("SELECT reminded_at FROM vendor_cases WHERE id = $1")
            .bind(case.clone())
            .fetch_one(&t.pool)
            .await
            .unwrap();
    assert!(reminded.is_some(), "sent once and marked");
    // Still due after a reload (until the case moves on), and it opens the intake.
    b.refresh().await;
    b.until(
        15,
        "the follow-up after a reload",
        "return !!document.querySelector(`[data-testid=\"${arguments[0]}\"]`);",
        json!([banner]),
    )
    .await;
    b.click_css(&format!(
        "[data-testid=\"{banner}\"] [data-testid=follow-up-open]"
    ))
    .await;
    open(b, id).await;
    case
}

async fn owned_warning(b: &Browser) {
    b.until(
        10,
        "the owned-intakes warning",
        "const e = document.querySelector('[data-testid=logout-owned]'); \
         return !!e && e.dataset.total === '1';",
        json!([]),
    )
    .await;
}

/// Gijs still owns the intake: logging out tells him so first; it stays his.
async fn logging_out_while_owning_it(t: &TestApp, b: &Browser, id: &str) {
    b.click(&b.testid("logout").await).await;
    owned_warning(b).await;
    b.click(&b.testid("logout-stay").await).await;
    assert_eq!(
        b.exec("return location.pathname;", json!([])).await,
        "/desk.html",
        "still signed in"
    );
    b.click(&b.testid("logout").await).await;
    owned_warning(b).await;
    b.click(&b.testid("logout-anyway").await).await;
    b.until(
        10,
        "the login page",
        "return location.pathname === '/';",
        json!([]),
    )
    .await;
    let owner: Option<String> = sqlx::query_scalar("SELECT owner_id FROM intakes WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&t.pool)
        .await
        .unwrap();
    assert_eq!(
        owner.as_deref(),
        Some("agent-demo-gijs"),
        "nothing released behind his back"
    );
}

async fn close_hands_it_back(t: &TestApp, b: &Browser, id: &str, case: &str) {
    type_into(b, "vendor-outcome-input", OUTCOME).await;
    b.click(&b.testid("vendor-close").await).await;
    wait_attr(b, &format!("vendor-case-{case}"), "status", "closed").await;
    wait_attr(b, "intake-level", "level", "2").await;
    wait_attr(b, "intake-work-state", "state", "in_progress").await;
    assert_eq!(text_of(b, "intake-group").await, "Network");
    assert_eq!(text_of(b, "vendor-outcome").await, OUTCOME);
    let history = text_of(b, "intake-notes").await;
    assert!(
        history.contains(&format!("Cisco closed: {OUTCOME}")),
        "{history:?}"
    );
    let row =
        sqlx::query("SELECT level, group_name, owner_id, work_state FROM intakes WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&t.pool)
            .await
            .unwrap();
    assert_eq!(
        row.try_get::<Option<String>, _>("group_name")
            .unwrap()
            .as_deref(),
        Some("Network")
    );
    assert_eq!(
        row.try_get::<Option<String>, _>("work_state")
            .unwrap()
            .as_deref(),
        Some("in_progress")
    );
    assert_eq!(
        row.try_get::<Option<String>, _>("owner_id")
            .unwrap()
            .as_deref(),
        Some("agent-demo-gijs")
    );
    assert!(
        b.exec(
            "return !document.querySelector('[data-kind=follow-up]');",
            json!([])
        )
        .await
            == json!(true),
        "the reminder went with the case"
    );
}
