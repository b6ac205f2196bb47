//! The intakes API over a real listener: every endpoint, the outcome rule on agent state, and
//! bad input (wrong types, unknown fields, huge bodies, unknown ids) getting clear 4xx JSON.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Resp, TestApi, bearer, cookie};
use crate::acd::{Entry, EntryId, EntryKind, QueueNotice};
use crate::domain::{AgentId, CallId, Category, CustomerId, DtmfMode, Language, Priority};
use crate::store::{CallTransport, NewCall, NewIntake, now_ms};

const ANNA: &str = "agent-demo-anna";

/// A call from Anouk (a known customer) with the draft the IVR wrote; returns the intake id.
async fn draft(api: &TestApi, call: &str) -> String {
    let store = &api.store;
    store
        .insert_call(&NewCall {
            id: CallId::from_string(call),
            sip_call_id: format!("{call}@192.0.2.1"),
            caller: "+31201234567".into(),
            caller_name: None,
            customer_id: Some(CustomerId::from_string("cust-demo-01")),
            transport: CallTransport::Udp,
            arrived_at: now_ms(),
        })
        .await
        .unwrap();
    let id = store
        .insert_intake(&NewIntake {
            call_id: Some(CallId::from_string(call)),
            customer_id: Some(CustomerId::from_string("cust-demo-01")),
            caller: Some("+31201234567".into()),
            category: Category::Software,
            priority: Priority::new(2),
            language: Some(Language::Nl),
            ivr_path: "lang=1,cat=2,prio=2".into(),
            dtmf_mode: vec![DtmfMode::Info],
            description: None,
            created_at: now_ms(),
        })
        .await
        .unwrap();
    id.as_str().to_owned()
}

async fn auth(api: &TestApi) -> String {
    bearer(&api.token("anna", "anna-demo").await)
}

fn ok(resp: Resp) -> Value {
    assert!(
        resp.status == 200 || resp.status == 201,
        "{} {}",
        resp.status,
        resp.body
    );
    resp.json()
}

#[tokio::test]
async fn an_intake_is_edited_escalated_returned_and_resolved() {
    let api = TestApi::start().await;
    let a = auth(&api).await;
    let h = [("authorization", a.as_str())];
    let id = draft(&api, "call-1").await;
    let url = format!("/api/intakes/{id}");

    let v = ok(api.send("GET", &url, &h, None).await);
    assert_eq!(v["caller"], "+31201234567");
    assert_eq!(v["customer_id"], "cust-demo-01");
    assert_eq!(
        (&v["category"], &v["priority"]),
        (&json!("software"), &json!(2))
    );
    assert_eq!(
        (&v["language"], &v["dtmf_mode"]),
        (&json!("nl"), &json!("info"))
    );
    assert_eq!(
        (&v["status"], &v["level"], &v["channel"]),
        (&json!("draft"), &json!(1), &json!("phone"))
    );
    assert_eq!(v["calls"], json!(["call-1"]));

    let body = json!({ "description": "Outlook crashes at start", "priority": 1 }).to_string();
    let v = ok(api.send("PATCH", &url, &h, Some(&body)).await);
    assert_eq!((&v["status"], &v["priority"]), (&json!("open"), &json!(1)));
    assert_eq!(v["description"], "Outlook crashes at start");

    let esc = json!({ "to_level": 2, "target": "Applications", "reason": "Needs a profile reset" });
    let v = ok(api
        .send(
            "POST",
            &format!("{url}/escalate"),
            &h,
            Some(&esc.to_string()),
        )
        .await);
    assert_eq!(
        (&v["status"], &v["level"]),
        (&json!("escalated"), &json!(2))
    );
    let vendor =
        json!({ "to_level": 3, "target": "Microsoft", "reason": "Known bug", "case_ref": "MS-42" });
    let v = ok(api
        .send(
            "POST",
            &format!("{url}/escalate"),
            &h,
            Some(&vendor.to_string()),
        )
        .await);
    assert_eq!(v["escalations"][1]["case_ref"], "MS-42");
    let listed = ok(api
        .send("GET", "/api/intakes?status=escalated", &h, None)
        .await);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], json!(id));

    let back = json!({ "reason": "Fixed by an update; check with the caller" }).to_string();
    let v = ok(api
        .send("POST", &format!("{url}/return"), &h, Some(&back))
        .await);
    assert_eq!((&v["status"], &v["level"]), (&json!("open"), &json!(1)));
    let e = &v["escalations"];
    assert_eq!(e.as_array().unwrap().len(), 3);
    assert_eq!(
        (&e[2]["from_level"], &e[2]["to_level"], &e[2]["returned"]),
        (&json!(3), &json!(1), &json!(true))
    );
    assert_eq!(e[0]["agent_id"], ANNA);

    let solved = json!({ "solution": "Installed the update" }).to_string();
    let v = ok(api
        .send("POST", &format!("{url}/resolve"), &h, Some(&solved))
        .await);
    assert_eq!(
        (&v["status"], &v["solution"]),
        (&json!("resolved"), &json!("Installed the update"))
    );
    let again = api.send("PATCH", &url, &h, Some(r#"{"title":"x"}"#)).await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.error(),
        format!("intake {id} is resolved: it can no longer be changed")
    );

    // The durable record.
    let (status, level, solution): (String, i64, String) =
        sqlx::query_as("SELECT status, level, solution FROM intakes WHERE id = $1")
            .bind(&id)
            .fetch_one(api.store.pool())
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), level, solution.as_str()),
        ("resolved", 1, "Installed the update")
    );
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT from_level, to_level, target, agent_id FROM escalations WHERE intake_id = $1 ORDER BY seq",
    )
    .bind(&id)
    .fetch_all(api.store.pool())
    .await
    .unwrap();
    let moves: Vec<(i64, i64, &str)> = rows.iter().map(|r| (r.0, r.1, r.2.as_str())).collect();
    assert_eq!(
        moves,
        vec![
            (1, 2, "Applications"),
            (2, 3, "Microsoft"),
            (3, 1, "first level")
        ]
    );
    assert!(rows.iter().all(|r| r.3 == ANNA));
    api.stop().await;
}

#[tokio::test]
async fn manual_intakes_lists_continue_and_customers_from_the_pop() {
    let api = TestApi::start().await;
    let a = auth(&api).await;
    let h = [("authorization", a.as_str())];
    let body = json!({ "channel": "email", "customer_id": "cust-demo-01", "description": "VPN drops", "category": "service" });
    let created = api
        .send("POST", "/api/intakes", &h, Some(&body.to_string()))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let manual = created.json();
    assert_eq!(
        (&manual["channel"], &manual["status"], &manual["category"]),
        (&json!("email"), &json!("open"), &json!("service"))
    );
    assert_eq!(manual["description"], "VPN drops");

    let lists = ok(api.send("GET", "/api/desk/lists", &h, None).await);
    assert_eq!(
        lists["second_level"],
        json!(["Workplace", "Network", "Applications", "Servers"])
    );
    assert_eq!(lists["third_level"][4], "Telecom provider");

    // A new call continues the manual intake instead of creating a duplicate.
    let fresh = draft(&api, "call-2").await;
    let mine = ok(api
        .send(
            "GET",
            "/api/intakes?customer_id=cust-demo-01&limit=10",
            &h,
            None,
        )
        .await);
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert_eq!(mine[0]["id"], json!(fresh), "newest first");
    let cont = json!({ "existing_id": manual["id"] }).to_string();
    let v = ok(api
        .send(
            "POST",
            &format!("/api/intakes/{fresh}/continue"),
            &h,
            Some(&cont),
        )
        .await);
    assert_eq!(v["id"], manual["id"]);
    assert_eq!(v["calls"], json!(["call-2"]));
    let closed = ok(api
        .send("GET", &format!("/api/intakes/{fresh}"), &h, None)
        .await);
    assert_eq!(closed["status"], "closed");

    // Link the intake of an unknown caller, or create the customer.
    let other = draft(&api, "call-3").await;
    let link = json!({ "customer_id": "cust-demo-02" }).to_string();
    let v = ok(api
        .send(
            "POST",
            &format!("/api/intakes/{other}/customer"),
            &h,
            Some(&link),
        )
        .await);
    assert_eq!(v["customer_id"], "cust-demo-02");
    let third = draft(&api, "call-4").await;
    let make =
        json!({ "fields": { "name": "Eef Jansen", "email": "eef@example.org" } }).to_string();
    let v = ok(api
        .send(
            "POST",
            &format!("/api/intakes/{third}/customer"),
            &h,
            Some(&make),
        )
        .await);
    let new_id = v["customer_id"].as_str().unwrap().to_owned();
    assert!(new_id.starts_with("cust-"), "{new_id}");
    let c = ok(api
        .send("GET", &format!("/api/customers/{new_id}"), &h, None)
        .await);
    assert_eq!(
        (&c["name"], &c["email"]),
        (&json!("Eef Jansen"), &json!("eef@example.org"))
    );
    let both = json!({ "customer_id": "cust-demo-02", "fields": { "name": "X" } }).to_string();
    let r = api
        .send(
            "POST",
            &format!("/api/intakes/{third}/customer"),
            &h,
            Some(&both),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.error(),
        "send either customer_id (link) or fields (create), not both or neither"
    );
    api.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_4xx_json() {
    let api = TestApi::start().await;
    let a = auth(&api).await;
    let h = [("authorization", a.as_str())];
    let id = draft(&api, "call-1").await;
    let url = format!("/api/intakes/{id}");

    // Unknown ids: 404 naming what is missing, on every route.
    for (method, path, body) in [
        ("GET", "/api/intakes/intake-nope".to_owned(), None),
        (
            "PATCH",
            "/api/intakes/intake-nope".to_owned(),
            Some(r#"{"title":"t"}"#),
        ),
        (
            "POST",
            "/api/intakes/intake-nope/resolve".to_owned(),
            Some(r#"{"solution":"s"}"#),
        ),
        (
            "POST",
            "/api/intakes/intake-nope/escalate".to_owned(),
            Some(r#"{"to_level":2,"target":"Network","reason":"r"}"#),
        ),
        (
            "POST",
            "/api/intakes/intake-nope/return".to_owned(),
            Some(r#"{"reason":"r"}"#),
        ),
        (
            "POST",
            "/api/intakes/intake-nope/continue".to_owned(),
            Some(r#"{"existing_id":"intake-x"}"#),
        ),
        (
            "POST",
            "/api/intakes/intake-nope/customer".to_owned(),
            Some(r#"{"customer_id":"cust-demo-01"}"#),
        ),
        (
            "POST",
            format!("{url}/continue"),
            Some(r#"{"existing_id":"intake-x"}"#),
        ),
    ] {
        let r = api.send(method, &path, &h, body).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (404, "intake not found"),
            "{method} {path}"
        );
    }
    let r = api
        .send(
            "POST",
            &format!("{url}/customer"),
            &h,
            Some(r#"{"customer_id":"cust-nope"}"#),
        )
        .await;
    assert_eq!((r.status, r.error().as_str()), (404, "customer not found"));

    // Wrong types and values: 422 with serde's or the rule's message.
    let cases: [(&str, String, &str, &str); 9] = [
        ("PATCH", url.clone(), r#"{"priority":"high"}"#, "priority"),
        ("PATCH", url.clone(), r#"{"priority":9}"#, "priority"),
        (
            "PATCH",
            url.clone(),
            r#"{"category":"printer"}"#,
            "unknown variant `printer`",
        ),
        (
            "PATCH",
            url.clone(),
            r#"{"colour":"red"}"#,
            "unknown field `colour`",
        ),
        (
            "POST",
            format!("{url}/escalate"),
            r#"{"to_level":"two","target":"Network","reason":"r"}"#,
            "to_level",
        ),
        (
            "POST",
            format!("{url}/escalate"),
            r#"{"to_level":2,"target":"Mars","reason":"r"}"#,
            "target \"Mars\" is not a level 2 target",
        ),
        (
            "POST",
            format!("{url}/resolve"),
            r#"{"solution":""}"#,
            "solution must be 1 to 10000 characters",
        ),
        (
            "POST",
            "/api/intakes".to_owned(),
            r#"{"channel":"phone"}"#,
            "channel must be email or desk",
        ),
        (
            "POST",
            "/api/intakes".to_owned(),
            r#"{"channel":"email","description":5}"#,
            "description",
        ),
    ];
    for (method, path, body, needle) in cases {
        let r = api.send(method, &path, &h, Some(body)).await;
        assert_eq!(r.status, 422, "{method} {path} {body}: {}", r.body);
        assert!(
            r.error().contains(needle),
            "{body}: {:?} lacks {needle:?}",
            r.error()
        );
    }
    for query in [
        "limit=abc",
        "limit=500",
        "limit=0",
        "status=pending",
        "offset=-1",
        "sort=id",
    ] {
        let r = api
            .send("GET", &format!("/api/intakes?{query}"), &h, None)
            .await;
        assert_eq!(r.status, 422, "{query}: {}", r.body);
        assert!(!r.error().is_empty());
    }
    let r = api.send("GET", "/api/intakes?limit=500", &h, None).await;
    assert_eq!(r.error(), "limit must be 1 to 200, not 500");

    // Bodies: not JSON 400, too big 413, wrong content type 415.
    let r = api.send("PATCH", &url, &h, Some(r#"{"title": "#)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let huge = json!({ "description": "x".repeat(20_000) }).to_string();
    let r = api.send("PATCH", &url, &h, Some(&huge)).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (413, "request body too large (limit 16384 bytes)")
    );
    let h_text = [
        ("authorization", a.as_str()),
        ("content-type", "text/plain"),
    ];
    assert_eq!(
        api.send("PATCH", &url, &h_text, Some("{}")).await.status,
        415
    );
    // A description just over 10,000 characters fits the body limit but not the rule.
    let long = json!({ "description": "y".repeat(10_001) }).to_string();
    let r = api.send("PATCH", &url, &h, Some(&long)).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (
            422,
            "description must be at most 10000 characters (got 10001)"
        )
    );

    // Sessions: none 401; a cookie write without the CSRF header 403; with it 200.
    assert_eq!(api.send("GET", &url, &[], None).await.status, 401);
    assert_eq!(
        api.send("GET", "/api/desk/lists", &[], None).await.status,
        401
    );
    let token = api.token("anna", "anna-demo").await;
    let c = cookie(&token);
    let r = api
        .send(
            "PATCH",
            &url,
            &[("cookie", c.as_str())],
            Some(r#"{"title":"t"}"#),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = api
        .send(
            "PATCH",
            &url,
            &[("cookie", c.as_str()), ("x-firstline-csrf", "1")],
            Some(r#"{"title":"t"}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Other /api paths still answer the JSON 404.
    let r = api.send("GET", "/api/nothing-here", &h, None).await;
    assert_eq!((r.status, r.error().as_str()), (404, "not found"));
    api.stop().await;
}

#[tokio::test]
async fn an_agent_becomes_available_only_after_choosing_an_outcome() {
    let api = TestApi::start().await;
    let a = auth(&api).await;
    let h = [("authorization", a.as_str())];
    // Anna answers call-1 (queue engine and CDR), then it ends: wrap-up until she says done.
    let id = draft(&api, "call-1").await;
    let (tx, mut rx) = mpsc::channel(16);
    let entry = Entry {
        id: EntryId::from_string("call-1"),
        category: Category::Software,
        priority: Priority::new(2).unwrap(),
        arrived: Instant::now(),
        kind: EntryKind::Call,
    };
    api.acd.enqueue(entry, tx).await.unwrap();
    let offer = loop {
        let notice = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if let QueueNotice::Offer { offer, .. } = notice {
            break offer;
        }
    };
    api.acd.offer_answered(offer).await.unwrap();
    api.store
        .set_call_connected(
            &CallId::from_string("call-1"),
            &AgentId::from_string(ANNA),
            now_ms(),
            1_000,
        )
        .await
        .unwrap();
    api.acd
        .call_ended(AgentId::from_string(ANNA))
        .await
        .unwrap();

    let expected = format!("choose an outcome (resolve or escalate) for intake {id} first");
    let done = api.send("POST", "/api/me/wrapup-done", &h, None).await;
    assert_eq!((done.status, done.error()), (409, expected.clone()));
    assert_eq!(done.json()["state"], "wrap_up");
    let avail = api
        .send("PUT", "/api/me/state", &h, Some(r#"{"state":"available"}"#))
        .await;
    assert_eq!((avail.status, avail.error()), (409, expected));
    // Editing is not an outcome.
    let edit = api
        .send(
            "PATCH",
            &format!("/api/intakes/{id}"),
            &h,
            Some(r#"{"description":"d"}"#),
        )
        .await;
    assert_eq!(edit.status, 200);
    assert_eq!(
        api.send("POST", "/api/me/wrapup-done", &h, None)
            .await
            .status,
        409
    );

    let esc = json!({ "to_level": 2, "target": "Workplace", "reason": "New laptop" }).to_string();
    ok(api
        .send(
            "POST",
            &format!("/api/intakes/{id}/escalate"),
            &h,
            Some(&esc),
        )
        .await);
    let done = api.send("POST", "/api/me/wrapup-done", &h, None).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["state"], "available");
    api.stop().await;
}
