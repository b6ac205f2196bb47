//! The agent desk in headless Chromium (issue 4 acceptance): login through the page, the screen
//! pop while the agent's phone rings, typing saved across a reload, escalation to level 2 checked
//! in `intakes` and `escalations`; escaping of customer data; the login page's errors.

use std::time::Duration;

use serde_json::json;
use sqlx::Row;

use crate::agent_phone::PCMU;
use crate::helpers::{TestApp, caller, press, registered_phone, spawn_queue_app, within};
use crate::webdriver::Browser;

const ANNA: &str = "agent-demo-anna";
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

/// Signs in as `login` through the login page; waits for the desk to show the agent available.
async fn sign_in(b: &Browser, login: &str) {
    b.goto("/").await;
    let user = b.testid("login-user").await;
    b.send_keys(&user, login).await;
    let pw = b.testid("login-password").await;
    b.send_keys(&pw, &format!("{login}-demo")).await;
    b.click(&b.testid("login-submit").await).await;
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

async fn text_of(b: &Browser, testid: &str) -> String {
    b.exec(TEXT_OF, json!([testid]))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_page_shows_the_servers_error() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let b = Browser::start(t.app.http_addr()).await;
        b.goto("/").await;
        b.send_keys(&b.testid("login-user").await, "anna").await;
        b.send_keys(&b.testid("login-password").await, "wrong")
            .await;
        b.click(&b.testid("login-submit").await).await;
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
        let mut phone = registered_phone(&t, "2001").await;
        let b = Browser::start(t.app.http_addr()).await;
        sign_in(&b, "anna").await;

        // English, hardware, priority 2 (high).
        let (mut ua, _rtp, _) = caller(&t).await;
        for d in ['2', '1', '2'] {
            press(&mut ua, d).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        let inv = phone.invite(15 * SECS).await.expect("anna's phone rings");
        phone.ring().await;

        // The pop is on screen while the phone still rings (it has not answered).
        pop_in_phase(&b, "ringing").await;
        assert_eq!(text_of(&b, "pop-caller").await, "+31201234567");
        assert_eq!(text_of(&b, "customer-name").await, "Anouk de Vries");
        assert_eq!(text_of(&b, "customer-organisation").await, "Gemeente Zaanwijk");
        assert_eq!(text_of(&b, "customer-department").await, "Burgerzaken");
        assert_eq!(text_of(&b, "customer-location").await, "Stadhuis, kamer 2.14");
        assert_eq!(b.value(&b.testid("pop-category").await).await, "hardware");
        assert_eq!(b.value(&b.testid("pop-priority").await).await, "2");
        assert_eq!(text_of(&b, "pop-language").await, "en");
        let call_id = inv.call.clone().expect("X-Firstline-Call");

        assert!(phone.answer(PCMU).await, "no ACK for the phone's 200");
        pop_in_phase(&b, "connected").await;

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
        b.click(&b.find("[data-testid=escalate-level] option[value='2']").await)
            .await;
        b.click(&b.find("[data-testid=escalate-target] option[value='Network']").await)
            .await;
        let reason = "Network printer unreachable from VLAN 20";
        b.send_keys(&b.testid("escalate-reason").await, reason).await;
        b.click(&b.testid("escalate-btn").await).await;
        b.until(
            10,
            "the intake shown as escalated",
            "return document.querySelector('[data-testid=intake-status]').textContent === 'escalated';",
            json!([]),
        )
        .await;
        assert_eq!(text_of(&b, "intake-level").await, "2");
        assert!(
            text_of(&b, "escalation-history").await.contains("Network"),
            "history shows the escalation"
        );

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
        assert_eq!(row.try_get::<i64, _>("level").unwrap(), 2);
        assert_eq!(row.try_get::<String, _>("category").unwrap(), "hardware");
        assert_eq!(row.try_get::<Option<i64>, _>("priority").unwrap(), Some(2));
        let esc = sqlx::query(
            "SELECT from_level, to_level, target, reason, agent_id, at FROM escalations \
             WHERE intake_id = $1",
        )
        .bind(intake_id)
        .fetch_all(&t.pool)
        .await
        .unwrap();
        assert_eq!(esc.len(), 1, "one escalation row");
        let e = &esc[0];
        assert_eq!(e.try_get::<i64, _>("from_level").unwrap(), 1);
        assert_eq!(e.try_get::<i64, _>("to_level").unwrap(), 2);
        assert_eq!(e.try_get::<String, _>("target").unwrap(), "Network");
        assert_eq!(e.try_get::<String, _>("reason").unwrap(), reason);
        assert_eq!(e.try_get::<String, _>("agent_id").unwrap(), ANNA);
        assert!(e.try_get::<i64, _>("at").unwrap() > 1_700_000_000_000, "epoch ms");

        // The caller hangs up; with an outcome recorded, wrap-up can be ended from the page.
        assert_eq!(ua.bye().await, Some(200));
        assert!(phone.expect_bye(5 * SECS).await, "the agent's phone gets BYE");
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
        let mut phone = registered_phone(&t, "2001").await;
        let b = Browser::start(t.app.http_addr()).await;
        sign_in(&b, "anna").await;
        let (mut ua, _rtp, _) = caller(&t).await;
        press(&mut ua, '0').await;
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
