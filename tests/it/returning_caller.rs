//! A caller who rings again about an open intake (issue 15's acceptance): Anouk has an open
//! hardware intake that bas has taken on. She calls (SIPp), chooses English, hears the
//! recognition prompt and presses 1: the call goes to bas — who does not even serve the
//! hardware queue — and not to anna, who does and has been free longer; the call is attached
//! to that intake, whose history notes the IVR path. A caller without an open intake is asked
//! nothing of the kind.

use serde_json::json;
use sqlx::Row;

use crate::helpers::{TestApp, http_json, open_intake, spawn_queue_app, within};
use crate::scenario::registered_phone;
use crate::sipp::{SippRun, call_id, run_sipp_with};

const ANOUK: &str = "+31201234567";
const SECS: std::time::Duration = std::time::Duration::from_secs(1);

fn caller(
    t: &TestApp,
    scenario: &'static str,
    number: &str,
) -> (String, tokio::task::JoinHandle<SippRun>) {
    let cid = call_id();
    let (server, number, id) = (t.udp(), number.to_string(), cid.clone());
    let run = tokio::spawn(async move {
        let key = ["-key", "caller", number.as_str()];
        run_sipp_with(server, scenario, false, &id, &key).await
    });
    (cid, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressing_1_at_the_recognition_prompt_reaches_the_intakes_owner() {
    within(
        120,
        Box::pin(async {
            let t = spawn_queue_app(|c| {
                c.acd.ring_timeout_secs = 30;
                c.ivr.recognized = "recognized".into();
            })
            .await;
            let mut anna_phone = registered_phone(&t, "2001").await;
            let mut bas_phone = registered_phone(&t, "2002").await;
            let anna = t.login("anna").await;
            let bas = t.login("bas").await;
            // Anouk's open hardware intake, taken on by bas.
            let body = json!({"channel": "email", "customer_id": "cust-demo-01",
                              "category": "hardware", "title": "Docking station flickers"});
            let intake = open_intake(&t, &anna, body).await;
            let path = format!("/api/intakes/{intake}/claim");
            let (status, v) = http_json(t.app.http_addr(), "POST", &path, Some(&bas), Some(json!({}))).await;
            assert_eq!(status, 200, "{v}");

            let (cid, sipp) = caller(&t, "recognized_caller.xml", ANOUK);
            let inv = tokio::select! {
                inv = bas_phone.invite(30 * SECS) => inv.expect("bas's phone rings"),
                _ = anna_phone.invite(30 * SECS) => panic!("anna's phone rang: the owner was passed over"),
            };
            bas_phone.ring().await;
            assert!(bas_phone.answer(crate::agent_phone::PCMU).await, "no ACK for bas's 200");
            let call = inv.call.clone().expect("X-Firstline-Call");

            // The call continues the intake; its history notes the way in (the server writes
            // through its journal: read what it has handed in).
            t.app.store().synced().await;
            let attached: Vec<String> = sqlx::query_scalar("SELECT intake_id FROM intake_calls WHERE call_id = $1")
                .bind(call.clone())
                .fetch_all(&t.pool)
                .await
                .unwrap();
            assert_eq!(attached, vec![intake.clone()]);
            let notes = sqlx::query("SELECT kind, body, agent_id FROM intake_notes WHERE intake_id = $1 ORDER BY at, id")
                .bind(intake.clone())
                .fetch_all(&t.pool)
                .await
                .unwrap();
            let last = notes.last().expect("a note");
            assert_eq!(last.try_get::<String, _>("kind").unwrap(), "called_again");
            assert_eq!(last.try_get::<String, _>("body").unwrap(), "IVR language:2>recognized:1");
            assert_eq!(last.try_get::<Option<String>, _>("agent_id").unwrap(), None);
            let drafted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM intakes WHERE call_id = $1")
                .bind(call.clone())
                .fetch_one(&t.pool)
                .await
                .unwrap();
            assert_eq!(drafted, 0, "no second intake for the same problem");
            let offers = t.offers_of(&call).await;
            assert_eq!(offers.len(), 1, "{offers:?}");
            assert_eq!(offers[0].0, "agent-demo-bas");

            assert_eq!(bas_phone.bye().await, Some(200));
            let run = sipp.await.expect("the sipp task");
            assert_eq!(run.code, Some(0), "{}", run.report);
            let row = t.ended_call(&cid).await;
            assert_eq!(row.outcome.as_deref(), Some("answered"), "{row:?}");

            // A number without an open intake walks the menus as always (2, 1, 2).
            let (cid, sipp) = caller(&t, "desk_caller.xml", "+31207770001");
            let inv = anna_phone.invite(30 * SECS).await.expect("anna's phone rings");
            anna_phone.ring().await;
            assert!(anna_phone.answer(crate::agent_phone::PCMU).await);
            let call = inv.call.clone().expect("X-Firstline-Call");
            t.app.store().synced().await;
            let drafted = t.intakes_of(&call).await;
            assert_eq!(drafted.len(), 1, "{drafted:?}");
            assert_eq!(drafted[0].ivr_path.as_deref(), Some("language:2>category:1>priority:2"));
            assert_eq!(anna_phone.bye().await, Some(200));
            assert_eq!(sipp.await.expect("the sipp task").code, Some(0));
            t.ended_call(&cid).await;
            t.finish().await;
        }),
    )
    .await;
}
