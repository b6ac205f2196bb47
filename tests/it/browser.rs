//! The agent desk in headless Chromium (issue 4 acceptance, issue 10's desk): login through the
//! page; a SIPp caller through the IVR and the screen pop while the agent's phone rings, in words
//! (language badge, the keypad signalling); typing saved across a reload; an escalation confirmed
//! and the intake read-only after it; an unknown caller linked to a customer from the pop and
//! resolved; "continue this ticket"; escaping of customer data; the login page's errors.

use serde_json::json;
use sqlx::Row;

use crate::desk_page::{
    SECS, agent_hangs_up, anna_at_desk, answer, confirmed, desk_app, escalate, pop_in_phase,
    resolve, saved, sipp_rings, submit_login, text_of, type_into, value_of, wrap_up_done,
};
use crate::helpers::{http_json, spawn_queue_app, within};
use crate::scenario::unclassified_caller;
use crate::webdriver::Browser;

const ANNA: &str = "agent-demo-anna";
/// Anouk de Vries (cust-demo-01)'s main number in the demo data.
const ANOUK: &str = "+31201234567";
/// Jeroen Bakker, found by name from the pop of an unknown caller.
const BAKKER: &str = "cust-demo-02";
/// A number no demo customer has.
const UNKNOWN: &str = "+31209876543";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_page_says_a_wrong_password_in_words() {
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
        assert_eq!(msg, json!("Invalid login or password."), "the 401 in words");
        let shown = b.text(&b.testid("login-error").await).await;
        assert_eq!(
            shown, "Invalid login or password.",
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
        assert_eq!(value_of(&b, "pop-category").await, "hardware");
        assert_eq!(value_of(&b, "pop-priority").await, "2");
        // In words, not codes: the caller's language as a badge, the IVR path and the keypad
        // signalling in the details fold.
        assert_eq!(text_of(&b, "pop-language").await, "English");
        assert_eq!(text_of(&b, "pop-dtmf").await, "SIP INFO", "SIPp pressed by SIP INFO");
        let path = text_of(&b, "pop-ivr-path").await;
        assert!(
            path.contains("Language: pressed 2") && path.contains("Category: pressed 1")
                && path.contains("Priority: pressed 2"),
            "the menu path in words: {path:?}"
        );
        answer(&mut phone, &b).await;

        // Type, wait for the debounced save, reload mid-sentence: the text is still there.
        let first = "Printer on floor 3 shows error E05 and ";
        type_into(&b, "intake-description", first).await;
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
        type_into(&b, "intake-description", rest).await;
        saved(&b).await;

        // Escalate to the second level, group Network: confirmed in words, and read-only now.
        let reason = "Network printer unreachable from VLAN 20";
        escalate(&b, 2, "Network", None, reason).await;
        confirmed(&b, "Escalated to Network ✓").await;
        let history = text_of(&b, "escalation-history").await;
        assert!(history.contains("Network") && history.contains(reason), "{history:?}");
        let readonly = b
            .exec(
                "return [document.querySelector('[data-testid=intake-description]').readOnly,                          !!document.querySelector('[data-testid=escalate-btn]'),                          !!document.querySelector('[data-testid=resolve-btn]')];",
                json!([]),
            )
            .await;
        assert_eq!(readonly, json!([true, false, false]), "a finished intake is read-only");

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
            "SELECT seq, from_level, to_level, target, reason, case_ref, agent_id, at, returned \
             FROM escalations WHERE intake_id = $1 ORDER BY seq",
        )
        .bind(intake_id)
        .fetch_all(&t.pool)
        .await
        .unwrap();
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
        assert_eq!(rows, [(1, 1, 2, "Network".into(), reason.into(), None, ANNA.into(), 0)]);
        let at: i64 = esc[0].try_get("at").unwrap();
        assert!(at > 1_700_000_000_000, "epoch ms: {at}");

        // The agent hangs up; with an outcome recorded, wrap-up ends from the page and the desk
        // is idle again.
        agent_hangs_up(&t, &mut phone, &cid, sipp).await;
        wrap_up_done(&b).await;
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
        assert_eq!(value_of(&b, "intake-title").await, "", "a new intake starts empty");
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
        resolve(&b, solution).await;
        confirmed(&b, "Resolved ✓").await;
        assert_eq!(text_of(&b, "outcome-solution").await, solution);
        let level = b
            .exec("return document.querySelector('[data-testid=intake-level]').dataset.level;", json!([]))
            .await;
        assert_eq!(level, json!("1"));

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
    within(
        90,
        Box::pin(async {
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
            assert!(
                listed.contains("VPN drops every hour"),
                "open intakes: {listed:?}"
            );
            answer(&mut phone, &b).await;

            b.click(&b.testid(&format!("continue-{existing}")).await)
                .await;
            b.until(
                10,
                "the existing intake being edited",
                "const e = document.querySelector('[data-testid=intake]'); \
             return e && e.dataset.intake === arguments[0];",
                json!([existing]),
            )
            .await;
            assert_eq!(
                value_of(&b, "intake-description").await,
                "VPN drops every hour"
            );

            let attached =
                sqlx::query("SELECT intake_id, agent_id FROM intake_calls WHERE call_id = $1")
                    .bind(call_id.clone())
                    .fetch_all(&t.pool)
                    .await
                    .unwrap();
            let attached: Vec<(String, Option<String>)> = attached
                .iter()
                .map(|r| {
                    (
                        r.try_get("intake_id").unwrap(),
                        r.try_get("agent_id").unwrap(),
                    )
                })
                .collect();
            assert_eq!(attached, [(existing.clone(), Some(ANNA.to_string()))]);
            let draft = sqlx::query("SELECT status, merged_into FROM intakes WHERE call_id = $1")
                .bind(call_id.clone())
                .fetch_one(&t.pool)
                .await
                .unwrap();
            assert_eq!(
                draft.try_get::<String, _>("status").unwrap(),
                "closed",
                "no duplicate"
            );
            assert_eq!(
                draft
                    .try_get::<Option<String>, _>("merged_into")
                    .unwrap()
                    .as_deref(),
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
        }),
    )
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
