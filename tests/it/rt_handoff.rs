//! The hand-off to a real Request Tracker 5 (issue 14; tests/it/rt_fixture.rs): SIPp callers
//! through the IVR to an agent phone, one intake resolved and one escalated to level 2 and then
//! 3, read back from RT over its REST API (queue, priority, requestor, text, comments, status),
//! the ticket numbers on the intakes and the caller's other open RT ticket beside the pop; an
//! RT outage during a call and manual intakes, with a restart of firstline in the middle, after
//! which every ticket arrives once;
//! and a queue RT does not have or a ticket deleted in RT, shown as an error on the intake.

use std::time::Duration;

use firstline::config::Config;
use firstline::integrations::config::{CreateOn, PerCategory, RtTarget};
use serde_json::{Value, json};

use crate::desk_page::sipp_caller;
use crate::helpers::{
    TestApp, TestDb, account, http_json, open_intake, spawn_queue_app, start_on, wait_for, within,
};
use crate::rt_fixture::{ROOT_PASSWORD, Rt};
use crate::scenario::registered_phone;

/// Our queues; RT has `General` already.
const QUEUES: &[&str] = &[
    "Hardware",
    "Software",
    "Service",
    "Workplace",
    "Network",
    "Vendors",
];

fn token_file(rt: &Rt) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), format!("{}\n", rt.token)).unwrap();
    f
}

fn target(rt: &Rt, token: &std::path::Path) -> RtTarget {
    RtTarget {
        name: "rt".into(),
        url: format!("http://{}", rt.addr),
        token_env: None,
        token_file: Some(token.to_owned()),
        user: None,
        password_env: None,
        password_file: None,
        create_on: CreateOn::Intake,
        queues: PerCategory {
            hardware: Some("Hardware".into()),
            software: Some("Software".into()),
            service: Some("Service".into()),
            unclassified: None,
        },
        default_queue: "General".into(),
        group_queues: Default::default(),
        vendor_queue: Some("Vendors".into()),
        priorities: [90, 70, 50, 30, 10],
        placeholder_email: "phone-{number}@callers.invalid".into(),
        ca_file: None,
    }
}

fn with_rt(c: &mut Config, t: RtTarget) {
    c.integrations.retry.first_ms = 100;
    c.integrations.retry.max_ms = 1000;
    c.integrations.rt.push(t);
}

/// Waits until the outbox of `rt` is empty (delivered or dead); the status row.
async fn drained(t: &TestApp, token: &str, secs: u64) -> Value {
    let addr = t.app.http_addr();
    wait_for(Duration::from_secs(secs), || async {
        let (_, st) = http_json(addr, "GET", "/api/admin/integrations", Some(token), None).await;
        (st[0]["pending"] == 0).then(|| st[0].clone())
    })
    .await
    .expect("the RT target's outbox drains")
}

async fn intake_view(t: &TestApp, token: &str, id: &str) -> Value {
    let (s, v) = http_json(
        t.app.http_addr(),
        "GET",
        &format!("/api/intakes/{id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

/// The RT ticket id stored on intake `id`.
async fn ticket_of(t: &TestApp, token: &str, id: &str) -> u64 {
    let v = intake_view(t, token, id).await;
    let tickets = v["tickets"].as_array().cloned().unwrap_or_default();
    assert_eq!(tickets.len(), 1, "one ticket on {id}: {v}");
    assert_eq!(tickets[0]["target"], "rt");
    assert!(tickets[0]["error"].is_null(), "{v}");
    let no = tickets[0]["ticket_no"].as_str().unwrap();
    assert!(
        tickets[0]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("Ticket/Display.html?id={no}"))
    );
    no.parse().unwrap()
}

async fn intake_of_call(t: &TestApp, sip_call_id: &str) -> String {
    t.intake_for(sip_call_id).await;
    let call = t.call_row(sip_call_id).await.expect("the call's row");
    sqlx::query_scalar("SELECT id FROM intakes WHERE call_id = $1")
        .bind(&call.id)
        .fetch_one(&t.pool)
        .await
        .unwrap()
}

fn texts(tx: &[(String, String)], kind: &str) -> Vec<String> {
    tx.iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, t)| t.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_become_rt_tickets_resolved_and_escalated_to_level_three() {
    within(240, async {
        let rt = Rt::start(QUEUES).await;
        // Anouk already has an open ticket in RT: the pop shows it beside our intakes.
        let (s, old) = rt
            .api("POST", "/ticket", Some(json!({"Queue": "Software", "Subject": "Old VPN issue",
                "Requestor": "a.devries@zaanwijk.example.nl", "Content": "from e-mail", "ContentType": "text/plain"})))
            .await;
        assert_eq!(s, 201, "{old}");
        let token = token_file(&rt);
        let tg = target(&rt, token.path());
        let t = spawn_queue_app(|c| with_rt(c, tg)).await;
        let addr = t.app.http_addr();
        let sup = account(&t, "sue", "supervisor").await;
        let mut phone = registered_phone(&t, "2001").await;
        let anna = t.login("anna").await;

        // Call 1, from Anouk (known, with e-mail): resolved at the first level.
        let (cid, sipp) = sipp_caller(&t, "+31201234567");
        phone.invite(Duration::from_secs(30)).await.expect("anna's phone rings");
        phone.ring().await;
        assert!(phone.answer(crate::agent_phone::PCMU).await);
        let first = intake_of_call(&t, &cid).await;
        let path = format!("/api/intakes/{first}");
        let (s, v) = http_json(addr, "PATCH", &path, Some(&anna), Some(json!({"title": "Printer jams", "description": "Tray 2 jams on every job"}))).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = http_json(addr, "POST", &format!("{path}/resolve"), Some(&anna), Some(json!({"solution": "Replaced the pickup roller"}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(phone.bye().await, Some(200));
        assert_eq!(sipp.await.unwrap().code, Some(0));

        // Call 2, from an unknown number: level 2 (Workplace), then level 3 (Dell).
        let (cid, sipp) = sipp_caller(&t, "+31209999999");
        phone.invite(Duration::from_secs(30)).await.expect("anna's phone rings again");
        phone.ring().await;
        assert!(phone.answer(crate::agent_phone::PCMU).await);
        let second = intake_of_call(&t, &cid).await;
        let path = format!("/api/intakes/{second}");
        let (s, v) = http_json(addr, "PATCH", &path, Some(&anna), Some(json!({"title": "Laptop does not boot", "description": "Black screen after the logo"}))).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = http_json(addr, "POST", &format!("{path}/escalate"), Some(&anna), Some(json!({"to_level": 2, "target": "Workplace", "reason": "Needs hands on the device"}))).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = http_json(addr, "POST", &format!("{path}/escalate"), Some(&anna), Some(json!({"to_level": 3, "target": "Dell", "reason": "Mainboard fault under warranty", "case_ref": "DELL-778812"}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(phone.bye().await, Some(200));
        assert_eq!(sipp.await.unwrap().code, Some(0));

        let status = drained(&t, &sup, 90).await;
        assert_eq!(status["dead"], 0, "{status}");

        // The resolved one.
        let id1 = ticket_of(&t, &anna, &first).await;
        let tk = rt.ticket(id1).await;
        let no1 = intake_view(&t, &anna, &first).await["ticket_no"].as_str().unwrap().to_owned();
        assert_eq!(tk["Subject"], format!("[{no1}] Printer jams"));
        assert_eq!(tk["Status"], "resolved");
        assert_eq!(tk["Priority"], "70", "our priority 2");
        assert_eq!(rt.queue_of(id1).await, "Hardware");
        assert_eq!(rt.requestor_emails(id1).await, ["a.devries@zaanwijk.example.nl"]);
        let tx = rt.transactions(id1).await;
        let created = texts(&tx, "Create").join("\n");
        for want in ["Caller number: +31201234567", "IVR choices:", "Call id: call-", "Customer: Anouk de Vries", &format!("/desk.html#intake={first}")] {
            assert!(created.contains(want), "{want:?} in the ticket's text: {created}");
        }
        let comments = texts(&tx, "Comment").join("\n");
        assert!(comments.contains("Replaced the pickup roller") && comments.contains("Anna Koster"), "{comments}");

        // The escalated one, at the vendor.
        let id2 = ticket_of(&t, &anna, &second).await;
        let tk = rt.ticket(id2).await;
        assert!(tk["Subject"].as_str().unwrap().ends_with("] Laptop does not boot"), "{tk}");
        assert_eq!(tk["Status"], "open");
        assert_eq!(rt.queue_of(id2).await, "Vendors");
        assert_eq!(rt.requestor_emails(id2).await, ["phone-31209999999@callers.invalid"]);
        let comments = texts(&rt.transactions(id2).await, "Comment");
        assert_eq!(comments.len(), 2, "{comments:?}");
        assert!(comments[0].contains("level 2") && comments[0].contains("Workplace") && comments[0].contains("Needs hands on the device"), "{comments:?}");
        assert!(comments[1].contains("level 3") && comments[1].contains("Dell") && comments[1].contains("DELL-778812"), "{comments:?}");
        assert_eq!(rt.tickets_in_queue("Vendors").await.len(), 1);
        assert_eq!(rt.tickets_in_queue("Workplace").await.len(), 0, "moved on to the vendor");

        // Beside the pop: Anouk's other open RT ticket (not the one of this intake).
        let (s, v) = http_json(addr, "GET", &format!("/api/intakes/{first}/tickets"), Some(&anna), None).await;
        assert_eq!(s, 200, "{v}");
        let open = &v["open_elsewhere"][0];
        assert_eq!(open["target"], "rt");
        let ids: Vec<&str> = open["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [old["id"].as_str().unwrap()], "{v}");
        assert_eq!(open["tickets"][0]["subject"], "Old VPN issue");
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rt_outage_with_a_restart_delivers_every_ticket_once() {
    within(180, async {
        let mut rt = Rt::start(QUEUES).await;
        let token = token_file(&rt);
        let db = TestDb::new().await;
        let tg = target(&rt, token.path());
        let t = start_on(db, |c| {
            crate::helpers::queue_config(c);
            with_rt(c, tg.clone());
        })
        .await;
        let admin = account(&t, "root", "admin").await;
        rt.stop();
        // A call while RT is down: the caller walks the IVR, Anna answers and resolves.
        let mut phone = registered_phone(&t, "2001").await;
        let anna = t.login("anna").await;
        let (cid, sipp) = sipp_caller(&t, "+31201234568");
        phone.invite(Duration::from_secs(30)).await.expect("anna's phone rings");
        phone.ring().await;
        assert!(phone.answer(crate::agent_phone::PCMU).await);
        let called = intake_of_call(&t, &cid).await;
        let path = format!("/api/intakes/{called}");
        let (s, v) = http_json(t.app.http_addr(), "PATCH", &path, Some(&anna), Some(json!({"title": "Called during the outage"}))).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = http_json(t.app.http_addr(), "POST", &format!("{path}/resolve"), Some(&anna), Some(json!({"solution": "Password reset"}))).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(phone.bye().await, Some(200));
        assert_eq!(sipp.await.unwrap().code, Some(0));
        let mut ids = Vec::new();
        for (n, cat) in ["hardware", "software", "service"].iter().enumerate() {
            let body = json!({"channel": "email", "customer_id": "cust-demo-02", "title": format!("Outage {n}"), "category": cat, "priority": 3});
            ids.push(open_intake(&t, &admin, body).await);
        }
        let (s, v) = http_json(t.app.http_addr(), "POST", &format!("/api/intakes/{}/resolve", ids[0]), Some(&admin), Some(json!({"solution": "Rebooted"}))).await;
        assert_eq!(s, 200, "{v}");
        let t = t
            .restart(|c| {
                crate::helpers::queue_config(c);
                with_rt(c, tg);
            })
            .await;
        let admin = crate::helpers::login_as(&t, "root").await;
        rt.restart().await;
        let status = drained(&t, &admin, 90).await;
        assert_eq!(status["dead"], 0, "{status}");
        for (n, id) in ids.iter().enumerate() {
            let no = intake_view(&t, &admin, id).await["ticket_no"].as_str().unwrap().to_owned();
            let q = crate::rt_fixture::encode(&format!("Subject LIKE '[{no}]'"));
            let (s, found) = rt.api("GET", &format!("/tickets?query={q}"), None).await;
            assert_eq!(s, 200, "{found}");
            assert_eq!(found["count"], 1, "exactly one RT ticket for {no}: {found}");
            let id_rt = ticket_of(&t, &admin, id).await;
            let tk = rt.ticket(id_rt).await;
            assert_eq!(tk["Subject"], format!("[{no}] Outage {n}"));
            assert_eq!(tk["Status"], if n == 0 { "resolved" } else { "new" });
        }
        assert_eq!(rt.queue_of(ticket_of(&t, &admin, &ids[1]).await).await, "Software");
        let no = intake_view(&t, &admin, &called).await["ticket_no"].as_str().unwrap().to_owned();
        let q = crate::rt_fixture::encode(&format!("Subject LIKE '[{no}]'"));
        let (_, found) = rt.api("GET", &format!("/tickets?query={q}"), None).await;
        assert_eq!(found["count"], 1, "the call's intake has one RT ticket: {found}");
        let tk = rt.ticket(ticket_of(&t, &admin, &called).await).await;
        assert_eq!(tk["Subject"], format!("[{no}] Called during the outage"));
        assert_eq!(tk["Status"], "resolved");
        assert_eq!(rt.requestor_emails(tk["id"].as_u64().unwrap()).await, ["j.bakker@zaanwijk.example.nl"]);
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_queue_or_a_deleted_ticket_shows_on_the_intake() {
    within(120, async {
        let rt = Rt::start(QUEUES).await;
        let token = token_file(&rt);
        let mut tg = target(&rt, token.path());
        // "Service" was renamed in RT; the config still says the old name.
        tg.queues.service = Some("IT Service".into());
        let t = spawn_queue_app(|c| with_rt(c, tg)).await;
        let admin = account(&t, "root", "admin").await;
        let addr = t.app.http_addr();
        let lost = open_intake(&t, &admin, json!({"channel": "desk", "customer_id": "cust-demo-01", "title": "Badge", "category": "service"})).await;
        let kept = open_intake(&t, &admin, json!({"channel": "desk", "customer_id": "cust-demo-01", "title": "Monitor", "category": "hardware"})).await;
        let status = drained(&t, &admin, 60).await;
        assert!(status["dead"].as_i64().unwrap() >= 1, "{status}");
        let v = intake_view(&t, &admin, &lost).await;
        let err = v["tickets"][0]["error"].as_str().unwrap_or_default();
        assert!(err.contains("RT has no queue \"IT Service\""), "{v}");
        // The other intake went through; its ticket is then deleted in RT.
        let id = ticket_of(&t, &admin, &kept).await;
        let root = Rt::basic_auth("root", ROOT_PASSWORD);
        let (s, v) = rt.api_as(&root, "DELETE", &format!("/ticket/{id}"), None).await;
        assert_eq!(s, 204, "{v}");
        let (s, v) = http_json(addr, "POST", &format!("/api/intakes/{kept}/resolve"), Some(&admin), Some(json!({"solution": "Swapped"}))).await;
        assert_eq!(s, 200, "{v}");
        let shown = wait_for(Duration::from_secs(30), || async {
            let v = intake_view(&t, &admin, &kept).await;
            v["tickets"][0]["error"].as_str().map(str::to_owned)
        })
        .await
        .expect("the hand-off error shows on the intake");
        assert!(shown.contains(&format!("ticket {id} was deleted in RT")), "{shown}");
        let (_, dead) = http_json(addr, "GET", "/api/admin/integrations/rt/deliveries?state=dead", Some(&admin), None).await;
        assert!(dead.as_array().unwrap().iter().any(|d| d["kind"] == "intake.resolved"), "{dead}");
        t.finish().await;
    })
    .await;
}

/// The desk in Chromium: while Anouk's call rings, the pop lists her other open RT ticket; once
/// RT has created the intake's ticket, the workspace shows it as a link without any typing;
/// resolving it in the desk resolves the RT ticket (with the title typed meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_shows_the_rt_ticket_and_the_callers_open_ones() {
    within(180, async {
        let rt = Rt::start(QUEUES).await;
        let (s, old) = rt
            .api("POST", "/ticket", Some(json!({"Queue": "Service", "Subject": "Badge reader",
                "Requestor": "a.devries@zaanwijk.example.nl", "Content": "by e-mail", "ContentType": "text/plain"})))
            .await;
        assert_eq!(s, 201, "{old}");
        let old_id = old["id"].as_str().unwrap().to_owned();
        let token = token_file(&rt);
        let tg = target(&rt, token.path());
        let t = spawn_queue_app(|c| {
            c.acd.ring_timeout_secs = 30;
            c.acd.wrapup_secs = 0;
            with_rt(c, tg);
        })
        .await;
        let (mut phone, b) = crate::desk_page::anna_at_desk(&t).await;
        let (cid, sipp, _call) = crate::desk_page::sipp_rings(&t, &mut phone, &b, "+31201234567").await;
        b.until(
            30,
            "Anouk's open RT ticket beside the pop",
            "const e = document.querySelector(`[data-testid=\"elsewhere-ticket-${arguments[0]}\"]`); \
             return e && e.textContent.includes('Badge reader');",
            json!([old_id]),
        )
        .await;
        crate::desk_page::answer(&mut phone, &b).await;
        let intake = intake_of_call(&t, &cid).await;
        let admin = account(&t, "root", "admin").await;
        let id = wait_for(Duration::from_secs(30), || async {
            let v = intake_view(&t, &admin, &intake).await;
            v["tickets"][0]["ticket_no"].as_str().map(str::to_owned)
        })
        .await
        .expect("the intake's RT ticket");
        // Nobody typed: the desk hears of the ticket when RT has answered.
        let shown = b
            .until(
                30,
                "the RT ticket's link in the workspace",
                "const e = document.querySelector('[data-testid=external-ticket-link]'); \
                 return e && e.textContent.includes('#' + arguments[0]) && e.getAttribute('href');",
                json!([id]),
            )
            .await;
        crate::desk_page::type_into(&b, "intake-title", "Monitor flickers").await;
        crate::desk_page::saved(&b).await;
        assert!(shown.as_str().unwrap().ends_with(&format!("Ticket/Display.html?id={id}")), "{shown}");
        crate::desk_page::resolve(&b, "Replaced the cable").await;
        crate::desk_page::agent_hangs_up(&t, &mut phone, &cid, sipp).await;
        drained(&t, &admin, 60).await;
        let tk = rt.ticket(id.parse().unwrap()).await;
        assert_eq!(tk["Status"], "resolved", "{tk}");
        assert!(tk["Subject"].as_str().unwrap().ends_with("] Monitor flickers"), "{tk}");
        b.quit().await;
        t.finish().await;
    })
    .await;
}
