//! Device health at the desk (issue 10's acceptance), in headless Chromium: anna's phone
//! registers for 2 s and lapses; her desk shows "Phone not registered" within a few seconds and
//! the next caller is not offered to her; "Available" with a dead phone asks first; when the
//! phone registers again the waiting caller rings at once; a call she lets ring is said in
//! words ("rang for 3 s and was passed on"), and the "not ready" that follows explains itself.

use std::time::Duration;

use serde_json::json;

use crate::agent_phone::AgentPhone;
use crate::desk_page::{agent_state, sign_in_available, text_of};
use crate::helpers::{spawn_queue_app, within};
use crate::registration::register_for;
use crate::scenario::unclassified_caller;
use crate::webdriver::Browser;

const SECS: Duration = Duration::from_secs(1);
const RING_SECS: u64 = 3;

async fn health(b: &Browser, registered: bool, secs: u64) {
    b.until(
        secs,
        &format!("the desk showing the phone registered = {registered}"),
        "const e = document.querySelector('[data-testid=device-health]'); \
         return e && e.dataset.registered === String(arguments[0]);",
        json!([registered]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_phone_shows_on_the_desk_and_gets_no_caller_until_it_registers_again() {
    within(120, Box::pin(async {
        let t = spawn_queue_app(|c| {
            c.acd.ring_timeout_secs = RING_SECS;
            c.acd.wrapup_secs = 0;
        })
        .await;
        t.app.sip().set_register_expires(1, 3600);
        let mut phone = AgentPhone::new(t.udp(), "2001", "2001-sip").await;
        let b = Browser::start(t.app.http_addr()).await;
        sign_in_available(&b, "anna").await;
        health(&b, false, 10).await;
        register_for(&mut phone, "2001-sip", 2).await;
        health(&b, true, 5).await;
        assert!(text_of(&b, "device-health").await.contains("UDP"), "the transport is shown");

        // Never refreshed: the desk says so within a few seconds of the expiry.
        health(&b, false, 8).await;
        assert!(text_of(&b, "device-health").await.contains("Phone not registered"));

        // A caller arrives and waits: anna's dead phone is not rung.
        let (mut caller, _rtp, _) = unclassified_caller(&t).await;
        assert!(phone.invite(3 * SECS).await.is_none(), "no INVITE to an unregistered phone");
        let pop = b.exec("return !!document.querySelector('[data-testid=pop]');", json!([])).await;
        assert_eq!(pop, json!(false), "no pop for an offer that cannot ring");

        // Not ready, then Available again: the desk asks first, with the reason.
        b.click(&b.testid("btn-not-ready").await).await;
        agent_state(&b, "not_ready").await;
        b.click(&b.testid("btn-available").await).await;
        let warning = b
            .until(5, "the warning", "const e = document.querySelector('[data-testid=available-warning]'); return e && e.textContent;", json!([]))
            .await;
        assert!(warning.as_str().unwrap_or("").contains("not registered"), "{warning}");
        b.click(&b.testid("available-anyway").await).await;
        agent_state(&b, "available").await;

        // The phone registers again: the waiting caller rings at once. Anna lets it ring.
        register_for(&mut phone, "2001-sip", 600).await;
        health(&b, true, 10).await;
        let invite = phone.invite(10 * SECS).await.expect("the waiting caller rings anna");
        phone.ring().await;
        let call_id = invite.call.clone().expect("X-Firstline-Call");
        assert!(phone.expect_cancel(Duration::from_secs(RING_SECS + 5)).await, "the ring timeout CANCELs");
        let missed = b
            .until(10, "the missed call in words", "const e = document.querySelector(`[data-testid=\"missed-${arguments[0]}\"]`); return e && e.textContent;", json!([call_id]))
            .await;
        let missed = missed.as_str().unwrap_or_default().to_string();
        assert!(
            missed.contains(&format!("rang for {RING_SECS} s")) && missed.contains("passed on"),
            "{missed:?}"
        );
        agent_state(&b, "not_ready").await;
        let advice = text_of(&b, "state-advice").await;
        assert!(advice.contains("without being answered") && advice.contains("Available"), "{advice:?}");
        let reason = text_of(&b, "agent-reason").await;
        assert_eq!(reason, "a call rang unanswered", "a system reason in words, not a code");

        // The caller gives up; anna is available again: the notices have done their job.
        assert_eq!(caller.bye().await, Some(200), "the caller's BYE");
        b.click(&b.testid("btn-available").await).await;
        agent_state(&b, "available").await;
        let left = b
            .exec("return [!!document.querySelector('[data-kind=missed]'), !!document.querySelector('[data-testid=state-advice]')];", json!([]))
            .await;
        assert_eq!(left, json!([false, false]), "no notice outlives its cause");
        b.quit().await;
        t.finish().await;
    }))
    .await;
}
