//! The agent desk page driven like an agent: sign in, wait for the pop, type, choose an outcome,
//! end wrap-up. Shared by the desk's browser tests (`browser.rs`, `desk_shift.rs`,
//! `desk_levels.rs`). Everything is found by `data-testid` and read from the page (what an agent
//! sees), never from the desk's JavaScript state, except where a test says why.

use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;

use crate::agent_phone::{AgentPhone, PCMU};
use crate::helpers::{TestApp, spawn_queue_app};
use crate::scenario::registered_phone;
use crate::sipp::{SippRun, run_sipp_with};
use crate::webdriver::Browser;

pub(crate) const SECS: Duration = Duration::from_secs(1);

/// The text of `[data-testid=<id>]` (its `textContent`, also when hidden), or null.
const TEXT_OF: &str = "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); \
                       return e ? e.textContent : null;";

/// A queue app whose offers ring long enough for the page to be inspected while ringing, and
/// whose wrap-up lasts until the agent says done.
pub(crate) async fn desk_app() -> TestApp {
    spawn_queue_app(|c| {
        c.acd.ring_timeout_secs = 30;
        c.acd.wrapup_secs = 0;
    })
    .await
}

/// Opens the login page and submits `user` and `password`.
pub(crate) async fn submit_login(b: &Browser, user: &str, password: &str) {
    b.goto("/").await;
    b.until(
        10,
        "the translated login page",
        "const e = document.querySelector('[data-testid=login-submit]'); return e && e.textContent;",
        json!([]),
    )
    .await;
    b.send_keys(&b.testid("login-user").await, user).await;
    b.send_keys(&b.testid("login-password").await, password)
        .await;
    b.click(&b.testid("login-submit").await).await;
}

/// Signs in as `login` (password `<login>-demo`) and waits for the desk's live feed.
pub(crate) async fn sign_in(b: &Browser, login: &str) {
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
        "the desk's feed live",
        "const e = document.querySelector('[data-testid=conn-status]'); \
         return e && e.dataset.state === 'live';",
        json!([]),
    )
    .await;
}

/// Signs in as `login` and waits for the agent state `available`.
pub(crate) async fn sign_in_available(b: &Browser, login: &str) {
    sign_in(b, login).await;
    agent_state(b, "available").await;
}

/// Waits for the top bar to show the agent in `state` (its code: `available`, `wrap_up`, …).
pub(crate) async fn agent_state(b: &Browser, state: &str) {
    b.until(
        10,
        &format!("the agent state `{state}`"),
        "const e = document.querySelector('[data-testid=agent-state]'); \
         return e && e.dataset.state === arguments[0];",
        json!([state]),
    )
    .await;
}

/// Waits for the pop in `phase` (`ringing`, `connected`, `ended`).
pub(crate) async fn pop_in_phase(b: &Browser, phase: &str) {
    b.until(
        15,
        &format!("the pop in phase {phase}"),
        "const ph = document.querySelector('[data-testid=pop-phase]'); \
         return ph && ph.dataset.phase === arguments[0];",
        json!([phase]),
    )
    .await;
}

/// Waits for the save indicator to say the typing is stored.
pub(crate) async fn saved(b: &Browser) {
    b.until(
        10,
        "the saved indicator",
        "const e = document.querySelector('[data-testid=save-status]'); \
         return e && e.dataset.state === 'saved';",
        json!([]),
    )
    .await;
}

/// Waits for the intake in the workspace to have `status`.
pub(crate) async fn intake_status(b: &Browser, status: &str) {
    b.until(
        10,
        &format!("the intake shown as {status}"),
        "const e = document.querySelector('[data-testid=intake-status]'); \
         return e && e.dataset.status === arguments[0];",
        json!([status]),
    )
    .await;
}

/// The text of `[data-testid=<testid>]` (see [`TEXT_OF`]); empty when there is none.
pub(crate) async fn text_of(b: &Browser, testid: &str) -> String {
    b.exec(TEXT_OF, json!([testid]))
        .await
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The value of the form field `[data-testid=<testid>]`; empty when there is none.
pub(crate) async fn value_of(b: &Browser, testid: &str) -> String {
    b.exec(
        "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); \
         return e ? e.value : '';",
        json!([testid]),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Chooses `value` in the select `[data-testid=<testid>]` by clicking its option.
pub(crate) async fn choose(b: &Browser, testid: &str, value: &str) {
    b.click_css(&format!("[data-testid={testid}] option[value='{value}']"))
        .await;
    b.until(
        5,
        &format!("{testid} = {value}"),
        "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); \
         return e && e.value === arguments[1];",
        json!([testid, value]),
    )
    .await;
}

/// Types `text` into `[data-testid=<testid>]`.
pub(crate) async fn type_into(b: &Browser, testid: &str, text: &str) {
    b.send_keys(&b.testid(testid).await, text).await;
}

/// Resolves the intake in the workspace with `solution`; waits for the confirmation.
pub(crate) async fn resolve(b: &Browser, solution: &str) {
    b.click(&b.testid("outcome-tab-resolve").await).await;
    type_into(b, "resolve-solution", solution).await;
    b.click(&b.testid("resolve-btn").await).await;
    intake_status(b, "resolved").await;
}

/// Escalates the intake in the workspace from the first level; waits for the confirmation.
pub(crate) async fn escalate(
    b: &Browser,
    level: u8,
    target: &str,
    case_ref: Option<&str>,
    reason: &str,
) {
    b.click(&b.testid("outcome-tab-escalate").await).await;
    choose(b, "escalate-level", &level.to_string()).await;
    choose(b, "escalate-target", target).await;
    if let Some(c) = case_ref {
        type_into(b, "escalate-case-ref", c).await;
    }
    type_into(b, "escalate-reason", reason).await;
    b.click(&b.testid("escalate-btn").await).await;
    intake_status(b, "escalated").await;
}

/// Waits for the outcome panel to confirm the outcome with `text` (e.g. "Resolved ✓").
pub(crate) async fn confirmed(b: &Browser, text: &str) {
    b.until(
        10,
        &format!("the confirmation {text:?}"),
        "const e = document.querySelector('[data-testid=outcome-confirmation]'); \
         return e && e.textContent.trim() === arguments[0];",
        json!([text]),
    )
    .await;
}

/// Ends wrap-up from the page and waits for the desk to be idle again.
pub(crate) async fn wrap_up_done(b: &Browser) {
    b.until(
        10,
        "wrap-up done enabled",
        "const e = document.querySelector('[data-testid=wrapup-btn]'); return e && !e.disabled;",
        json!([]),
    )
    .await;
    b.click(&b.testid("wrapup-btn").await).await;
    agent_state(b, "available").await;
    b.until(
        10,
        "the idle desk after wrap-up",
        "return !!document.querySelector('[data-testid=idle]');",
        json!([]),
    )
    .await;
}

/// The error messages on the page now (texts of `[data-kind=error]` and inline errors).
pub(crate) async fn errors_shown(b: &Browser) -> Vec<String> {
    let v = b
        .exec(
            "return [...document.querySelectorAll('[data-kind=error], .inline-error')] \
               .map((e) => e.textContent.trim());",
            json!([]),
        )
        .await;
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
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

/// The phone of `ext` registered and the desk signed in as `login` in a fresh browser.
pub(crate) async fn agent_at_desk(t: &TestApp, ext: &str, login: &str) -> (AgentPhone, Browser) {
    let phone = registered_phone(t, ext).await;
    let b = Browser::start(t.app.http_addr()).await;
    sign_in_available(&b, login).await;
    (phone, b)
}

/// Anna's phone (2001) registered and the desk signed in as anna in a fresh browser.
pub(crate) async fn anna_at_desk(t: &TestApp) -> (AgentPhone, Browser) {
    agent_at_desk(t, "2001", "anna").await
}

/// A SIPp caller from `number` ([`sipp_caller`]) rings the agent's phone, which does not answer
/// yet, and the pop shows the call ringing. The SIP Call-ID, the run, the call's id
/// (X-Firstline-Call).
pub(crate) async fn sipp_rings(
    t: &TestApp,
    phone: &mut AgentPhone,
    b: &Browser,
    number: &str,
) -> (String, JoinHandle<SippRun>, String) {
    let (cid, mut sipp) = sipp_caller(t, number);
    // A caller that gave up (or never got through) ends the wait at once, with its report and
    // where the call got to, instead of a bare timeout.
    let inv = tokio::select! {
        inv = phone.invite(30 * SECS) => inv,
        run = &mut sipp => panic!("the caller ended before the phone rang: {run:?}; call {:?}",
            t.queue_row(&cid).await),
    };
    let Some(inv) = inv else {
        panic!(
            "the agent's phone did not ring in 30 s; call {:?}; queue and agent metrics:\n{}",
            t.queue_row(&cid).await,
            t.metrics()
                .await
                .lines()
                .filter(|l| !l.starts_with('#') && (l.contains("queue") || l.contains("agent")))
                .collect::<Vec<_>>()
                .join("\n")
        );
    };
    phone.ring().await;
    let call_id = inv.call.clone().expect("X-Firstline-Call");
    b.until(
        15,
        "the pop of this call ringing",
        "const p = document.querySelector('[data-testid=pop]'); \
         const ph = document.querySelector('[data-testid=pop-phase]'); \
         return p && p.dataset.call === arguments[0] && ph.dataset.phase === 'ringing';",
        json!([call_id]),
    )
    .await;
    (cid, sipp, call_id)
}

/// The agent's phone answers; the pop shows the call connected.
pub(crate) async fn answer(phone: &mut AgentPhone, b: &Browser) {
    assert!(phone.answer(PCMU).await, "no ACK for the phone's 200");
    pop_in_phase(b, "connected").await;
}

/// The agent's phone hangs up: the server must BYE the SIPp caller, which then exits 0.
pub(crate) async fn agent_hangs_up(
    t: &TestApp,
    phone: &mut AgentPhone,
    cid: &str,
    sipp: JoinHandle<SippRun>,
) {
    assert_eq!(phone.bye().await, Some(200), "the agent phone's BYE");
    let run = sipp.await.expect("the sipp task");
    assert_eq!(run.code, Some(0), "{}", run.report);
    let call = t.ended_call(cid).await;
    assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
    assert_eq!(call.hangup_by.as_deref(), Some("agent"), "{call:?}");
}
