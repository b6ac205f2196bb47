//! An attended transfer through the desk, in Chromium (issue 15): a SIPp caller reaches anna's
//! phone; anna types the problem, opens "Transfer the call", picks eva (second level), says why
//! and consults first. Eva's phone rings and her desk — another Chromium — pops the same intake
//! with anna's title; eva answers; anna completes the transfer: her pop ends and her phone is
//! hung up; eva's workspace shows who handed the call over and why; when eva hangs up, the SIPp
//! caller gets its BYE and the call is one answered call with two legs. The next caller in
//! anna's same page finds the transfer panel closed and empty, and a fresh intake.

use std::time::Duration;

use serde_json::json;

use crate::agent_phone::PCMU;
use crate::desk_page::{
    agent_hangs_up, agent_state, anna_at_desk, answer, choose, desk_app, pop_in_phase, saved,
    sign_in, sipp_rings, type_into, value_of,
};
use crate::helpers::within;
use crate::scenario::registered_phone;
use crate::webdriver::Browser;

const SECS: Duration = Duration::from_secs(1);
const EVA: &str = "agent-demo-eva";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anna_hands_a_sipp_caller_to_eva_from_the_desk_and_evas_desk_pops_the_intake() {
    within(
        180,
        Box::pin(async {
            let t = desk_app().await;
            let (mut anna_phone, anna) = anna_at_desk(&t).await;
            let mut eva_phone = registered_phone(&t, "2005").await;
            let eva = Browser::start(t.app.http_addr()).await;
            sign_in(&eva, "eva").await;
            let (cid, sipp, call_id) = sipp_rings(&t, &mut anna_phone, &anna, "+31201234567").await;
            answer(&mut anna_phone, &anna).await;
            type_into(&anna, "intake-title", "Printer jams on tray 2").await;
            saved(&anna).await;
            anna.click(&anna.testid("transfer-open").await).await;
            anna.until(
                10,
                "eva among the transfer targets",
                "return !!document.querySelector(`[data-testid=transfer-to] option[value='${arguments[0]}']`);",
                json!([EVA]),
            )
            .await;
            choose(&anna, "transfer-to", EVA).await;
            type_into(&anna, "transfer-reason", "Printers are Workplace's").await;
            anna.click(&anna.testid("transfer-consult").await).await;
            anna.until(
                10,
                "the consultation under way",
                "return !!document.querySelector('[data-testid=transfer-complete]');",
                json!([]),
            )
            .await;
            // Eva's phone rings; her desk pops the call with the intake anna wrote.
            let inv = eva_phone.invite(10 * SECS).await.expect("eva's phone rings");
            assert_eq!(inv.call.as_deref(), Some(call_id.as_str()));
            eva_phone.ring().await;
            eva.until(
                15,
                "eva's pop with anna's title",
                "const p = document.querySelector('[data-testid=pop]'); \
                 const title = document.querySelector('[data-testid=intake-title]'); \
                 return p && p.dataset.call === arguments[0] && title \
                   && title.value === 'Printer jams on tray 2';",
                json!([call_id]),
            )
            .await;
            assert!(eva_phone.answer(PCMU).await);
            pop_in_phase(&eva, "connected").await;
            // They have spoken: anna hands the caller over.
            anna.click(&anna.testid("transfer-complete").await).await;
            // Anna's part is over: her pop ends and her phone is hung up.
            pop_in_phase(&anna, "ended").await;
            assert!(anna_phone.expect_bye(5 * SECS).await, "anna's phone is hung up");
            eva.until(
                10,
                "the hand-over in eva's history",
                "const h = document.querySelector('[data-testid=intake-notes]'); \
                 return h && h.textContent.includes(arguments[0]);",
                json!(["Printers are Workplace's"]),
            )
            .await;
            agent_hangs_up(&t, &mut eva_phone, &cid, sipp).await;
            t.app.store().synced().await;
            let legs: Vec<(i64, Option<String>)> = sqlx::query_as(
                "SELECT l.seq, l.agent_id FROM call_legs l JOIN calls c ON c.id = l.call_id \
                 WHERE c.sip_call_id = $1 ORDER BY l.seq",
            )
            .bind(cid.clone())
            .fetch_all(&t.pool)
            .await
            .unwrap();
            assert_eq!(
                legs,
                [
                    (1, Some("agent-demo-anna".to_string())),
                    (2, Some(EVA.to_string()))
                ]
            );
            // The next call in anna's same page: nothing of the first one's transfer or intake.
            anna.until(
                10,
                "wrap-up done enabled",
                "const e = document.querySelector('[data-testid=wrapup-btn]'); return e && !e.disabled;",
                json!([]),
            )
            .await;
            anna.click(&anna.testid("wrapup-btn").await).await;
            agent_state(&anna, "available").await;
            let (cid2, sipp2, _) =
                sipp_rings(&t, &mut anna_phone, &anna, "+31201234568").await;
            answer(&mut anna_phone, &anna).await;
            assert_eq!(value_of(&anna, "intake-title").await, "", "a fresh intake");
            assert!(
                anna.try_find("[data-testid=transfer-form]").await.is_none(),
                "the transfer panel starts closed"
            );
            anna.click(&anna.testid("transfer-open").await).await;
            assert_eq!(value_of(&anna, "transfer-reason").await, "", "no reason carried over");
            assert!(
                anna.try_find("[data-testid=transfer-complete]").await.is_none(),
                "no consultation carried over"
            );
            agent_hangs_up(&t, &mut anna_phone, &cid2, sipp2).await;
            anna.quit().await;
            eva.quit().await;
            t.finish().await;
        }),
    )
    .await;
}
