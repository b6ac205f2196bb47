//! The hand-off to Zammad (issue 14) against the strict stand-in of tests/it/zammad_receiver.rs
//! (Zammad cannot be installed here; docs/zammad.md): a SIPp caller through the IVR to an agent
//! phone gives Zammad's Generic CTI `newCall`, `answer` (with the agent's extension as
//! `answeringNumber`) and `hangup`; the intake becomes a ticket with a `phone` article, moves
//! group on escalation with a note, and closes on resolve; a 400 from Zammad is a dead letter
//! (the intake's next event creates the ticket), a 503 is retried; nothing arrives twice.

use std::time::Duration;

use firstline::config::Config;
use firstline::integrations::config::{CreateOn, PerCategory, ZammadTarget};
use serde_json::{Value, json};

use crate::desk_page::sipp_caller;
use crate::helpers::{TestApp, account, http_json, open_intake, spawn_queue_app, wait_for, within};
use crate::scenario::registered_phone;
use crate::zammad_receiver::{
    CtiEventKind, HangupCause, KnownCustomer, ZammadConfig, ZammadReceiver,
};

fn file(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), format!("{text}\n")).unwrap();
    f
}

async fn receiver() -> ZammadReceiver {
    ZammadReceiver::start(ZammadConfig {
        groups: [
            "Users",
            "Hardware",
            "Software",
            "Service",
            "Workplace",
            "Vendors",
        ]
        .map(String::from)
        .to_vec(),
        customers: vec![
            KnownCustomer::new("a.devries@zaanwijk.example.nl", "+31201234567")
                .named("Anouk", "de Vries"),
        ],
        ..ZammadConfig::default()
    })
    .await
}

fn with_zammad(c: &mut Config, z: &ZammadReceiver, token: &std::path::Path, cti: &std::path::Path) {
    c.integrations.retry.first_ms = 50;
    c.integrations.retry.max_ms = 400;
    c.integrations.zammad.push(ZammadTarget {
        name: "zammad".into(),
        url: z.url(),
        token_env: None,
        token_file: Some(token.to_owned()),
        cti_url_env: None,
        cti_url_file: Some(cti.to_owned()),
        hotline_number: "+31201230000".into(),
        tickets: true,
        create_on: CreateOn::Intake,
        groups: PerCategory {
            hardware: Some("Hardware".into()),
            software: Some("Software".into()),
            service: Some("Service".into()),
            unclassified: None,
        },
        default_group: "Users".into(),
        level2_groups: Default::default(),
        vendor_group: Some("Vendors".into()),
        priorities: ["3 high", "3 high", "2 normal", "2 normal", "1 low"].map(String::from),
        placeholder_email: "phone-{number}@callers.invalid".into(),
        ca_file: None,
    });
}

async fn drained(t: &TestApp, token: &str) -> Value {
    let addr = t.app.http_addr();
    wait_for(Duration::from_secs(60), || async {
        let (_, st) = http_json(addr, "GET", "/api/admin/integrations", Some(token), None).await;
        (st[0]["pending"] == 0).then(|| st[0].clone())
    })
    .await
    .expect("the Zammad target's outbox drains")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_reaches_zammads_cti_and_its_intake_becomes_a_ticket() {
    within(120, async {
        let z = receiver().await;
        let (token, cti) = (file(z.api_token()), file(&z.cti_url()));
        let t = spawn_queue_app(|c| with_zammad(c, &z, token.path(), cti.path())).await;
        let addr = t.app.http_addr();
        let sup = account(&t, "sue", "supervisor").await;
        let mut phone = registered_phone(&t, "2001").await;
        let anna = t.login("anna").await;
        let (cid, sipp) = sipp_caller(&t, "+31201234567");
        phone
            .invite(Duration::from_secs(30))
            .await
            .expect("anna's phone rings");
        phone.ring().await;
        assert!(phone.answer(crate::agent_phone::PCMU).await);
        t.intake_for(&cid).await;
        let call = t.call_row(&cid).await.expect("the call's row");
        let intake: String = sqlx::query_scalar("SELECT id FROM intakes WHERE call_id = $1")
            .bind(&call.id)
            .fetch_one(&t.pool)
            .await
            .unwrap();
        let path = format!("/api/intakes/{intake}");
        let (s, v) = http_json(
            addr,
            "PATCH",
            &path,
            Some(&anna),
            Some(json!({"title": "Docking station dead", "description": "No power LED"})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = http_json(
            addr,
            "POST",
            &format!("{path}/escalate"),
            Some(&anna),
            Some(json!({"to_level": 2, "target": "Workplace", "reason": "Swap on site"})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(phone.bye().await, Some(200));
        assert_eq!(sipp.await.unwrap().code, Some(0));
        let (s, v) = http_json(
            addr,
            "POST",
            &format!("{path}/resolve"),
            Some(&anna),
            Some(json!({"solution": "New docking station"})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let status = drained(&t, &sup).await;
        assert_eq!(status["dead"], 0, "{status}");

        z.assert_no_violations();
        let cti_events: Vec<_> = z
            .cti_events()
            .into_iter()
            .filter(|e| e.call_id == call.id.as_str())
            .collect();
        let kinds: Vec<CtiEventKind> = cti_events.iter().map(|e| e.event).collect();
        assert_eq!(
            kinds,
            [
                CtiEventKind::NewCall,
                CtiEventKind::Answer,
                CtiEventKind::Hangup
            ]
        );
        assert!(
            cti_events
                .iter()
                .all(|e| e.from == "+31201234567" && e.to == "+31201230000")
        );
        assert_eq!(cti_events[1].answering_number.as_deref(), Some("2001"));
        assert_eq!(cti_events[1].user, ["Anna Koster"]);
        assert_eq!(cti_events[2].cause, Some(HangupCause::NormalClearing));

        let tickets = z.tickets();
        assert_eq!(tickets.len(), 1, "{tickets:?}");
        let tk = &tickets[0];
        assert!(tk.title.ends_with("] Docking station dead"), "{tk:?}");
        assert_eq!(
            (tk.group.as_str(), tk.state.as_str(), tk.priority.as_str()),
            ("Workplace", "closed", "3 high")
        );
        assert_eq!(tk.customer, "a.devries@zaanwijk.example.nl");
        assert_eq!(tk.articles[0].kind, "phone");
        assert!(
            tk.articles[0].body.contains("Caller number: +31201234567"),
            "{:?}",
            tk.articles[0]
        );
        let notes: Vec<&str> = tk
            .articles
            .iter()
            .filter(|a| a.kind == "note")
            .map(|a| a.body.as_str())
            .collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("Swap on site") && notes[1].contains("New docking station"),
            "{notes:?}"
        );
        assert!(z.duplicates().is_empty(), "{:?}", z.duplicates());
        let (_, v) = http_json(addr, "GET", &path, Some(&anna), None).await;
        assert_eq!(v["tickets"][0]["ticket_no"], tk.number.as_str(), "{v}");
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zammad_refusing_is_a_dead_letter_and_unavailable_is_retried() {
    within(90, async {
        let z = receiver().await;
        let (token, cti) = (file(z.api_token()), file(&z.cti_url()));
        let t = spawn_queue_app(|c| with_zammad(c, &z, token.path(), cti.path())).await;
        let admin = account(&t, "root", "admin").await;
        z.fail_next(1, 400);
        let refused = open_intake(&t, &admin, json!({"channel": "desk", "customer_id": "cust-demo-01", "title": "Refused", "category": "hardware"})).await;
        let status = drained(&t, &admin).await;
        assert_eq!(status["dead"], 1, "{status}");
        let addr = t.app.http_addr();
        let (_, dead) = http_json(addr, "GET", "/api/admin/integrations/zammad/deliveries?state=dead", Some(&admin), None).await;
        assert_eq!(dead[0]["kind"], "intake.created", "{dead}");
        assert_eq!(dead[0]["last_status"], 400, "{dead}");
        assert!(dead[0]["last_error"].as_str().unwrap().contains("Zammad refused to create the ticket"), "{dead}");
        // The intake's next event (its fields saved) creates the ticket after all.
        let (_, v) = http_json(addr, "GET", &format!("/api/intakes/{refused}"), Some(&admin), None).await;
        assert_eq!(v["tickets"][0]["ticket_no"], "22001", "{v}");
        assert!(v["tickets"][0]["error"].is_null(), "{v}");
        z.fail_next(2, 503);
        let retried = open_intake(&t, &admin, json!({"channel": "desk", "customer_id": "cust-demo-01", "title": "Retried", "category": "software"})).await;
        drained(&t, &admin).await;
        let tickets = z.tickets();
        assert_eq!(tickets.len(), 2, "{tickets:?}");
        assert!(tickets[1].title.ends_with("] Retried") && tickets[1].group == "Software", "{tickets:?}");
        let (_, v) = http_json(addr, "GET", &format!("/api/intakes/{retried}"), Some(&admin), None).await;
        assert_eq!(v["tickets"][0]["ticket_no"], tickets[1].number.as_str(), "{v}");
        let (_, st) = http_json(addr, "GET", "/api/admin/integrations", Some(&admin), None).await;
        assert!(st[0]["stats"]["retried"].as_u64().unwrap() >= 2, "two 503s retried: {st}");
        assert!(z.duplicates().is_empty(), "{:?}", z.duplicates());
        z.assert_no_violations();
        t.finish().await;
    })
    .await;
}
