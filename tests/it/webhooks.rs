//! Signed webhooks end to end (issue 14): a SIPp caller through the IVR to an agent phone, the
//! intake edited, escalated and resolved over the API, every event at a strict receiver
//! exactly once and in order; a receiver that refuses (400: dead letter with its answer, then
//! retried by hand) or fails (503: retried); a receiver that never answers holding up only its
//! own target; a target paused and resumed; and an outage with a
//! restart of firstline in the middle that loses nothing.

use std::time::Duration;

use firstline::config::Config;
use firstline::integrations::config::WebhookTarget;
use serde_json::{Value, json};

use crate::desk_page::sipp_caller;
use crate::helpers::{TestApp, TestDb, http_json, spawn_queue_app, start_on, within};
use crate::scenario::registered_phone;
use crate::webhook_receiver::{Received, WebhookReceiver};

const SECRET: &str = "whsec-test-3f9a0c1d";

/// A webhook target `hook` to `url`, its secret in a file, with fast retries.
fn hook(c: &mut Config, url: &str, secret_file: &std::path::Path) {
    c.integrations.retry.first_ms = 50;
    c.integrations.retry.max_ms = 400;
    c.integrations.webhook.push(WebhookTarget {
        name: "hook".into(),
        url: url.into(),
        secret_env: None,
        secret_file: Some(secret_file.to_owned()),
        events: Vec::new(),
        ca_file: None,
    });
}

fn secret_file() -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), format!("{SECRET}\n")).unwrap();
    f
}

async fn admin_token(t: &TestApp) -> String {
    crate::helpers::account(t, "root", "admin").await
}

/// The kinds received about `subject` (an intake or call id), in arrival order.
fn kinds_of(got: &[Received], subject: &str) -> Vec<String> {
    got.iter()
        .filter(|r| {
            let d = &r.body["data"];
            d["intake"]["id"] == subject || d["call_id"] == subject
        })
        .map(|r| r.event.clone())
        .collect()
}

async fn manual_intake(t: &TestApp, token: &str, title: &str) -> String {
    let body = json!({"channel": "email", "customer_id": "cust-demo-01", "title": title});
    crate::helpers::open_intake(t, token, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_and_its_intake_reach_the_webhook_signed_in_order_once() {
    within(120, async {
        let mut rx = WebhookReceiver::start(SECRET, "").await;
        let secret = secret_file();
        let url = rx.url();
        let t = spawn_queue_app(|c| hook(c, &url, secret.path())).await;
        rx.expect_public_url(&format!("http://{}", t.app.http_addr()));
        let mut phone = registered_phone(&t, "2001").await;
        let anna = t.login("anna").await;
        let (cid, sipp) = sipp_caller(&t, "+31201234567");
        let inv = phone.invite(Duration::from_secs(30)).await.expect("anna's phone rings");
        phone.ring().await;
        assert!(phone.answer(crate::agent_phone::PCMU).await);
        t.intake_for(&cid).await;
        let call_row = t.call_row(&cid).await.expect("the call's row");
        let intake: String = sqlx::query_scalar("SELECT id FROM intakes WHERE call_id = $1")
            .bind(&call_row.id)
            .fetch_one(&t.pool)
            .await
            .unwrap();
        let addr = t.app.http_addr();
        let path = format!("/api/intakes/{intake}");
        let (s, v) = http_json(addr, "PATCH", &path, Some(&anna), Some(json!({"title": "Printer jams", "description": "Tray 2 jams on every job"}))).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = http_json(addr, "POST", &format!("{path}/escalate"), Some(&anna), Some(json!({"to_level": 2, "target": "Workplace", "reason": "Needs a technician on site"}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(phone.bye().await, Some(200));
        let run = sipp.await.unwrap();
        assert_eq!(run.code, Some(0), "the SIPp caller's run: {}", run.report);
        let call = t.ended_call(&cid).await;
        let (s, v) = http_json(addr, "POST", &format!("{path}/resolve"), Some(&anna), Some(json!({"solution": "Replaced the pickup roller"}))).await;
        assert_eq!(s, 200, "{v}");

        // call.arrived, call.answered, call.ended + created, updated, escalated, resolved.
        let got = rx.wait_for(7, 30).await;
        assert_eq!(rx.violations(), Vec::<String>::new());
        assert_eq!(
            kinds_of(&got, &intake),
            ["intake.created", "intake.updated", "intake.escalated", "intake.resolved"]
        );
        assert_eq!(kinds_of(&got, &call.id), ["call.arrived", "call.answered", "call.ended"]);
        assert!(rx.duplicates().is_empty(), "{:?}", rx.duplicates());
        let resolved = got.iter().find(|r| r.event == "intake.resolved").unwrap();
        let i = &resolved.body["data"]["intake"];
        assert_eq!(i["status"], "resolved");
        assert_eq!(i["level"], 2);
        assert_eq!(i["group"], "Workplace");
        assert_eq!(i["title"], "Printer jams");
        assert_eq!(i["solution"], "Replaced the pickup roller");
        assert_eq!(i["category"], "hardware");
        assert_eq!(i["priority"], 2);
        assert_eq!(i["caller"], "+31201234567");
        assert_eq!(i["customer"]["email"], "a.devries@zaanwijk.example.nl");
        assert_eq!(i["updated_by"]["name"], "Anna Koster");
        let esc = got.iter().find(|r| r.event == "intake.escalated").unwrap();
        assert_eq!(esc.body["data"]["escalation"]["reason"], "Needs a technician on site");
        let answered = got.iter().find(|r| r.event == "call.answered").unwrap();
        assert_eq!(answered.body["data"]["agent_id"], "agent-demo-anna");
        let _ = inv;
        rx.stop().await;
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_is_a_dead_letter_a_failing_receiver_is_retried() {
    within(90, async {
        let rx = WebhookReceiver::start(SECRET, "").await;
        let secret = secret_file();
        let url = rx.url();
        // Only edits and resolutions: a manual intake (created, then its fields saved) sends one.
        let t = spawn_queue_app(|c| {
            hook(c, &url, secret.path());
            c.integrations.webhook[0].events =
                vec!["intake.updated".into(), "intake.resolved".into()];
        })
        .await;
        rx.expect_public_url(&format!("http://{}", t.app.http_addr()));
        let addr = t.app.http_addr();
        let admin = admin_token(&t).await;
        let sup = crate::helpers::account(&t, "sue", "supervisor").await;
        let agent = crate::helpers::account(&t, "al", "agent").await;

        rx.fail_next(1, 400, "{\"error\":\"field title not accepted\"}");
        let a = manual_intake(&t, &admin, "First").await;
        // The 400 ends A in the dead letters with the receiver's answer; B then passes.
        rx.fail_next(2, 503, "busy");
        let b = manual_intake(&t, &admin, "Second").await;
        let got = rx.wait_for(1, 20).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body["data"]["intake"]["id"], b.as_str());
        assert_eq!(
            got[0].attempt, 3,
            "two 503s, then accepted on the third attempt"
        );
        let (s, list) = http_json(
            addr,
            "GET",
            "/api/admin/integrations/hook/deliveries?state=dead",
            Some(&sup),
            None,
        )
        .await;
        assert_eq!(s, 200, "{list}");
        let dead = list.as_array().unwrap();
        assert_eq!(dead.len(), 1, "{list}");
        assert_eq!(dead[0]["subject"], a.as_str());
        assert_eq!(dead[0]["last_status"], 400);
        assert!(
            dead[0]["last_error"]
                .as_str()
                .unwrap()
                .contains("field title not accepted"),
            "{list}"
        );
        assert_eq!(dead[0]["event"]["data"]["intake"]["title"], "First");
        let (s, _) = http_json(addr, "GET", "/api/admin/integrations", Some(&agent), None).await;
        assert_eq!(s, 403, "agents do not see the integrations");
        let (s, status) = http_json(addr, "GET", "/api/admin/integrations", Some(&sup), None).await;
        assert_eq!(s, 200);
        assert_eq!(status[0]["dead"], 1, "{status}");
        assert_eq!(status[0]["pending"], 0, "{status}");
        assert!(!status.to_string().contains(SECRET));
        let metrics = t.metrics().await;
        assert!(
            metrics.contains("firstline_integration_dead{target=\"hook\",kind=\"webhook\"} 1"),
            "{metrics}"
        );
        assert!(!metrics.contains(SECRET));

        // Retried by hand: A arrives, once.
        let seq = dead[0]["seq"].as_i64().unwrap();
        let (s, v) = http_json(
            addr,
            "POST",
            &format!("/api/admin/integrations/hook/deliveries/{seq}/retry"),
            Some(&sup),
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let got = rx.wait_for(2, 20).await;
        assert_eq!(got[1].body["data"]["intake"]["id"], a.as_str());
        let key = got[1].body["id"].as_str().unwrap();
        assert_eq!(
            rx.attempts_of(key),
            2,
            "refused once, then accepted after the retry"
        );
        let (s, _) = http_json(
            addr,
            "POST",
            &format!("/api/admin/integrations/hook/deliveries/{seq}/retry"),
            Some(&sup),
            None,
        )
        .await;
        assert_eq!(s, 404, "a delivered row is not dead any more");

        // Paused: nothing goes out; the row waits; resumed: it arrives.
        let (s, _) = http_json(
            addr,
            "POST",
            "/api/admin/integrations/hook/pause",
            Some(&sup),
            None,
        )
        .await;
        assert_eq!(s, 403, "pausing is the admin's");
        let (s, _) = http_json(
            addr,
            "POST",
            "/api/admin/integrations/hook/pause",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(s, 200);
        let c = manual_intake(&t, &admin, "Third").await;
        let waited = crate::helpers::wait_for(Duration::from_secs(5), || async {
            let (_, st) = http_json(addr, "GET", "/api/admin/integrations", Some(&sup), None).await;
            (st[0]["pending"] == 1).then_some(st)
        })
        .await
        .expect("the paused target's row waits");
        assert_eq!(waited[0]["paused"], true);
        assert_eq!(rx.accepted().len(), 2, "nothing is sent while paused");
        let (s, _) = http_json(
            addr,
            "POST",
            "/api/admin/integrations/hook/resume",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(s, 200);
        let got = rx.wait_for(3, 20).await;
        assert_eq!(got[2].body["data"]["intake"]["id"], c.as_str());

        // The test delivery is a signed ping.
        let (s, v) = http_json(
            addr,
            "POST",
            "/api/admin/integrations/hook/test",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!((s, &v["ok"]), (200, &Value::Bool(true)), "{v}");
        let got = rx.wait_for(4, 5).await;
        assert_eq!(got[3].event, "ping");
        assert_eq!(rx.violations(), Vec::<String>::new());
        assert!(rx.duplicates().is_empty());
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_with_a_restart_in_the_middle_loses_nothing() {
    within(120, async {
        let mut rx = WebhookReceiver::start(SECRET, "").await;
        let secret = secret_file();
        let url = rx.url();
        let db = TestDb::new().await;
        let t = start_on(db, |c| {
            c.load_demo = true;
            hook(c, &url, secret.path());
        })
        .await;
        let admin = admin_token(&t).await;
        rx.stop().await;
        let mut ids = Vec::new();
        for n in 0..4 {
            let id = manual_intake(&t, &admin, &format!("Outage {n}")).await;
            let (s, v) = http_json(
                t.app.http_addr(),
                "POST",
                &format!("/api/intakes/{id}/resolve"),
                Some(&admin),
                Some(json!({"solution": "Done"})),
            )
            .await;
            assert_eq!(s, 200, "{v}");
            ids.push(id);
        }
        // firstline restarts while the receiver is still down.
        let t = t
            .restart(|c| {
                c.load_demo = true;
                hook(c, &url, secret.path());
            })
            .await;
        // Links from before the restart name the first server's port: check the host only.
        rx.expect_public_url("http://127.0.0.1:");
        let admin = crate::helpers::login_as(&t, "root").await;
        let late = manual_intake(&t, &admin, "After the restart").await;
        rx.resume().await;
        // A manual intake is created, then its fields are saved (updated).
        let got = rx.wait_for(14, 40).await;
        assert_eq!(
            got.len(),
            14,
            "4 × (created, updated, resolved) + created, updated: {:?}",
            got.iter().map(|r| &r.event).collect::<Vec<_>>()
        );
        for id in &ids {
            assert_eq!(
                kinds_of(&got, id),
                ["intake.created", "intake.updated", "intake.resolved"],
                "{id}"
            );
        }
        assert_eq!(kinds_of(&got, &late), ["intake.created", "intake.updated"]);
        assert!(rx.duplicates().is_empty(), "{:?}", rx.duplicates());
        assert_eq!(rx.violations(), Vec::<String>::new());
        rx.stop().await;
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_holds_up_only_its_own_target() {
    within(90, async {
        // A listener that accepts and never answers, beside a healthy receiver.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_addr = silent.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((sock, _)) = silent.accept().await {
                open.push(sock);
            }
        });
        let rx = WebhookReceiver::start(SECRET, "").await;
        let secret = secret_file();
        let url = rx.url();
        let t = spawn_queue_app(|c| {
            hook(c, &url, secret.path());
            c.integrations.retry.timeout_secs = 1;
            c.integrations.webhook.push(WebhookTarget {
                name: "silent".into(),
                url: format!("http://{silent_addr}/hook"),
                secret_env: None,
                secret_file: Some(secret.path().to_owned()),
                events: Vec::new(),
                ca_file: None,
            });
        })
        .await;
        rx.expect_public_url(&format!("http://{}", t.app.http_addr()));
        let admin = admin_token(&t).await;
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(manual_intake(&t, &admin, &format!("Slow {n}")).await);
        }
        let got = rx.wait_for(6, 20).await;
        assert_eq!(
            got.len(),
            6,
            "the healthy target gets every event while the other hangs"
        );
        for id in &ids {
            assert_eq!(kinds_of(&got, id), ["intake.created", "intake.updated"]);
        }
        let addr = t.app.http_addr();
        let status = crate::helpers::wait_for(Duration::from_secs(20), || async {
            let (_, st) =
                http_json(addr, "GET", "/api/admin/integrations", Some(&admin), None).await;
            let silent = st
                .as_array()?
                .iter()
                .find(|x| x["name"] == "silent")?
                .clone();
            (silent["stats"]["retried"].as_u64()? >= 1).then_some(silent)
        })
        .await
        .expect("the silent target's attempts time out and are retried");
        assert_eq!(status["pending"], 6, "{status}");
        assert!(
            status["stats"]["last_error"][1]
                .as_str()
                .unwrap()
                .contains("no answer in time"),
            "{status}"
        );
        held.abort();
        t.finish().await;
    })
    .await;
}
