//! The three levels at the desk (issue 10's acceptance): anna (first level) escalates a call's
//! intake to Applications; eva (second level, in Applications and Workplace), in her own
//! browser, has no "Available" (she is not a first-level queue member), finds the intake in her
//! group's inbox, claims it, adds an internal note and resolves it with a solution; anna then
//! finds the caller by their number typed in a national format and sees the result in the
//! caller's history, and finds the intake again by its ticket number.

use serde_json::json;
use sqlx::Row;

use crate::agent_phone::AgentPhone;
use crate::desk_page::{
    agent_hangs_up, anna_at_desk, answer, confirmed, desk_app, escalate, resolve, saved, sign_in,
    sipp_rings, text_of, type_into, wrap_up_done,
};
use crate::helpers::{TestApp, within};
use crate::webdriver::Browser;

const ANOUK: &str = "+31201234567";
const EVA: &str = "agent-demo-eva";
/// What eva resolves it with, and anna reads in the history.
const SOLUTION: &str = "Recreated the Outlook profile; mail works again.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_level_claims_notes_and_resolves_and_the_first_level_sees_it_in_the_history() {
    within(
        240,
        Box::pin(async {
            let t = desk_app().await;
            let (mut phone, anna) = anna_at_desk(&t).await;
            // Boxed steps: one future holding them all would not fit the test thread's stack.
            let (intake_id, ticket) = Box::pin(anna_escalates(&t, &mut phone, &anna)).await;
            let eva = Box::pin(eva_claims_notes_and_resolves(&t, &intake_id, &ticket)).await;
            Box::pin(anna_sees_it_in_the_history(&anna, &intake_id, &ticket)).await;
            eva.quit().await;
            anna.quit().await;
            t.finish().await;
        }),
    )
    .await;
}

/// First level: the call, the intake, the escalation to Applications; its id and ticket number.
async fn anna_escalates(t: &TestApp, phone: &mut AgentPhone, anna: &Browser) -> (String, String) {
    // First level: the call, the intake, the escalation to Applications.
    let (cid, sipp, call_id) = sipp_rings(t, phone, anna, ANOUK).await;
    answer(phone, anna).await;
    type_into(anna, "intake-title", "Outlook crashes at start").await;
    type_into(
        anna,
        "intake-description",
        "Since this morning's update; safe mode works.",
    )
    .await;
    saved(anna).await;
    escalate(anna, 2, "Applications", None, "Needs a profile reset").await;
    confirmed(anna, "Escalated to Applications ✓").await;
    let ticket = text_of(anna, "intake-ticket").await;
    assert!(
        ticket.starts_with("FL-") && ticket.len() == "FL-2026-00001".len(),
        "a human ticket number: {ticket:?}"
    );
    agent_hangs_up(t, phone, &cid, sipp).await;
    wrap_up_done(anna).await;
    let intake_id: String = sqlx::query_scalar("SELECT id FROM intakes WHERE call_id = $1")
        .bind(call_id.clone())
        .fetch_one(&t.pool)
        .await
        .unwrap();

    (intake_id, ticket)
}

/// Second level, in another browser: no Available; the group's inbox; claim, note, resolve.
async fn eva_claims_notes_and_resolves(t: &TestApp, intake_id: &str, ticket: &str) -> Browser {
    // Second level, in another browser: no Available; the group's inbox.
    let eva = Browser::start(t.app.http_addr()).await;
    sign_in(&eva, "eva").await;
    let controls = eva
        .exec(
            "return [!!document.querySelector('[data-testid=btn-available]'), \
                     !!document.querySelector('[data-testid=no-calls-note]')];",
            json!([]),
        )
        .await;
    assert_eq!(
        controls,
        json!([false, true]),
        "a second-level agent has no Available"
    );
    eva.click(&eva.testid("tab-inbox").await).await;
    let row = format!("inbox-intake-{intake_id}");
    eva.until(
        15,
        "the intake in the Applications inbox",
        "return !!document.querySelector(`[data-testid=\"${arguments[0]}\"]`);",
        json!([row]),
    )
    .await;
    let listed = text_of(&eva, &row).await;
    assert!(
        listed.contains(ticket)
            && listed.contains("Outlook crashes at start")
            && listed.contains("Applications"),
        "{listed:?}"
    );
    let groups = text_of(&eva, "inbox-group-Applications").await;
    assert!(
        groups.contains("1 open") && groups.contains("1 unclaimed"),
        "{groups:?}"
    );

    // Open it, claim it, note, resolve.
    eva.click(&eva.testid(&format!("inbox-open-{intake_id}")).await)
        .await;
    eva.until(10, "the intake in eva's workspace", "const e = document.querySelector('[data-testid=intake]'); return e && e.dataset.intake === arguments[0];", json!([intake_id]))
        .await;
    eva.click(&eva.testid("claim-btn").await).await;
    eva.until(10, "eva owns it", "return document.querySelector('[data-testid=intake-owner]').dataset.owner === arguments[0];", json!([EVA]))
        .await;
    let note = "Mail profile was corrupt after the update";
    type_into(&eva, "note-input", note).await;
    eva.click(&eva.testid("note-btn").await).await;
    eva.until(10, "the note in the history", "return document.querySelector('[data-testid=intake-notes]').textContent.includes(arguments[0]);", json!([note]))
        .await;
    resolve(&eva, SOLUTION).await;
    confirmed(&eva, "Resolved ✓").await;

    let stored = sqlx::query("SELECT status, level, solution, owner_id FROM intakes WHERE id = $1")
        .bind(intake_id.to_string())
        .fetch_one(&t.pool)
        .await
        .unwrap();
    assert_eq!(stored.try_get::<String, _>("status").unwrap(), "resolved");
    assert_eq!(stored.try_get::<i64, _>("level").unwrap(), 2);
    assert_eq!(
        stored
            .try_get::<Option<String>, _>("solution")
            .unwrap()
            .as_deref(),
        Some(SOLUTION)
    );
    assert_eq!(
        stored
            .try_get::<Option<String>, _>("owner_id")
            .unwrap()
            .as_deref(),
        Some(EVA)
    );
    let notes: Vec<(String, String)> =
        sqlx::query("SELECT kind, agent_id FROM intake_notes WHERE intake_id = $1 ORDER BY at, id")
            .bind(intake_id.to_string())
            .fetch_all(&t.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.try_get("kind").unwrap(), r.try_get("agent_id").unwrap()))
            .collect();
    assert_eq!(
        notes,
        [
            ("claimed".to_string(), EVA.to_string()),
            ("note".to_string(), EVA.to_string())
        ]
    );

    eva
}

/// The first level finds the caller by a national number and sees the outcome.
async fn anna_sees_it_in_the_history(anna: &Browser, intake_id: &str, ticket: &str) {
    // The first level finds the caller by a national number and sees the outcome.
    anna.click(&anna.testid("tab-search").await).await;
    type_into(anna, "search-q", "020 123 4567").await;
    anna.until(
        10,
        "Anouk found by a national number",
        "return !!document.querySelector('[data-testid=\"search-customer-cust-demo-01\"]');",
        json!([]),
    )
    .await;
    anna.click_css("[data-testid=search-customer-cust-demo-01] button")
        .await;
    let entry = format!("history-{intake_id}");
    anna.until(10, "the intake in the caller's history", "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); return e && e.dataset.status === 'resolved';", json!([entry]))
        .await;
    let shown = text_of(anna, &format!("{entry}-solution")).await;
    assert!(
        shown.contains(SOLUTION),
        "the solution in the history: {shown:?}"
    );

    // And by its ticket number.
    anna.click(&anna.testid("tab-search").await).await;
    // Cleared as a user would (select all, type over), through the input event.
    anna.exec(
        "const e = document.querySelector('[data-testid=search-q]'); e.value = ''; \
         e.dispatchEvent(new Event('input', { bubbles: true }));",
        json!([]),
    )
    .await;
    type_into(anna, "search-q", ticket).await;
    anna.until(
        10,
        "the intake by its ticket number",
        "return !!document.querySelector(`[data-testid=\"search-intake-${arguments[0]}\"]`);",
        json!([intake_id]),
    )
    .await;
}
