//! The work lists over a real listener (issue 10): the intake list's filters, paging headers
//! and 422s, search in every number format and ticket form, claims racing over HTTP, notes,
//! reopen, the inbox and the agent's calls. The helpers serve `desk_feed.rs` too.

use serde_json::{Value, json};

use super::{Resp, TestApi, bearer};
use crate::domain::{AgentId, CallId, Category, CustomerId, DtmfMode, Language, Priority};
use crate::store::{CallTransport, NewCall, NewIntake, now_ms};

/// An IVR draft from `caller` (`customer` when known), with `title` set through the store.
pub(super) async fn intake(
    api: &TestApi,
    caller: &str,
    customer: bool,
    priority: Option<u8>,
    title: &str,
) -> String {
    let id = api
        .store
        .insert_intake(&NewIntake {
            call_id: None,
            customer_id: customer.then(|| CustomerId::from_string("cust-demo-01")),
            caller: Some(caller.into()),
            category: Category::Software,
            priority: priority.and_then(Priority::new),
            language: Some(Language::Nl),
            ivr_path: String::new(),
            dtmf_mode: vec![DtmfMode::Info],
            description: None,
            created_at: now_ms(),
        })
        .await
        .unwrap();
    let edit = crate::store::IntakeEdit {
        title: Some(title.into()),
        ..Default::default()
    };
    let anna = AgentId::from_string("agent-demo-anna");
    assert!(
        api.store
            .edit_intake(&id, &edit, &anna, now_ms())
            .await
            .unwrap()
    );
    // Distinct creation times keep "newest first" unambiguous.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    id.as_str().to_owned()
}

pub(super) fn ok(resp: Resp) -> Value {
    assert!(
        matches!(resp.status, 200 | 201),
        "{} {}",
        resp.status,
        resp.body
    );
    resp.json()
}

pub(super) fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

pub(super) async fn post(api: &TestApi, token: &str, path: &str, body: Value) -> Resp {
    let h = [("authorization", bearer(token))];
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    api.send("POST", path, &h, Some(&body.to_string())).await
}

pub(super) async fn get(api: &TestApi, token: &str, path: &str) -> Resp {
    let auth = bearer(token);
    api.send("GET", path, &[("authorization", auth.as_str())], None)
        .await
}

pub(super) async fn escalate(api: &TestApi, token: &str, id: &str, group: &str) {
    let body = json!({ "to_level": 2, "target": group, "reason": "specialist" });
    ok(post(api, token, &format!("/api/intakes/{id}/escalate"), body).await);
}

#[tokio::test]
async fn the_list_filters_pages_with_link_headers_and_refuses_bad_parameters() {
    let api = TestApi::start().await;
    let anna = api.token("anna", "anna-demo").await;
    let eva = api.token("eva", "eva-demo").await;
    let a = intake(&api, "+31201234567", true, Some(3), "Printer jam").await;
    let b = intake(&api, "+31612345678", true, None, "Outlook crash").await;
    let c = intake(&api, "+31301112233", false, Some(1), "VPN drops").await;
    let d = intake(&api, "anonymous", false, Some(1), "Laptop dock").await;
    escalate(&api, &anna, &a, "Applications").await;
    escalate(&api, &anna, &c, "Network").await;
    ok(post(&api, &eva, &format!("/api/intakes/{a}/claim"), json!({})).await);

    let page = get(&api, &anna, "/api/intakes?status=open,escalated&limit=2").await;
    assert_eq!(page.header("x-total-count"), Some("4"));
    assert_eq!(ids(&page.json()), vec![d.clone(), c.clone()]);
    let link = page.header("link").unwrap().to_owned();
    assert_eq!(
        link,
        "</api/intakes?status=open,escalated&limit=2&offset=2>; rel=\"next\""
    );
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let last = get(&api, &anna, &next).await;
    assert_eq!(ids(&last.json()), vec![b.clone(), a.clone()]);
    assert_eq!(last.header("link"), None, "no page after the last");
    assert_eq!(last.header("x-total-count"), Some("4"));

    let list = |q: &'static str| {
        let (api, anna) = (&api, anna.clone());
        async move { ids(&ok(get(api, &anna, &format!("/api/intakes?{q}")).await)) }
    };
    assert_eq!(list("level=2").await, vec![c.clone(), a.clone()]);
    assert_eq!(list("level=2&group=Network").await, vec![c.clone()]);
    assert_eq!(list("owner=agent-demo-eva").await, vec![a.clone()]);
    assert_eq!(list("owner=none&level=2").await, vec![c.clone()]);
    assert!(list("owner=me").await.is_empty(), "anna owns nothing");
    assert_eq!(
        list("sort=priority").await,
        vec![c.clone(), d.clone(), a.clone(), b.clone()]
    );
    assert_eq!(
        list("caller=020%20123%204567").await,
        vec![a.clone()],
        "national form"
    );
    assert_eq!(
        list("caller=%2B31%206%201234%205678").await,
        vec![b.clone()]
    );
    assert_eq!(
        list("caller=anonymous").await,
        vec![d.clone()],
        "kept as typed"
    );
    assert_eq!(
        list("customer_id=cust-demo-01").await,
        vec![b.clone(), a.clone()]
    );
    assert_eq!(list("q=outlook%20CRASH").await, vec![b.clone()]);
    assert_eq!(list("q=fl-2026-3").await.len(), 1);
    assert_eq!(list("q=0031301112233").await, vec![c.clone()]);
    let mine = ok(get(&api, &eva, "/api/intakes?owner=me").await);
    assert_eq!(ids(&mine), vec![a.clone()]);
    assert_eq!(mine[0]["owner_name"], "Eva Brouwer");
    assert_eq!(mine[0]["group"], "Applications");

    for (q, needle) in [
        ("status=lost", "status must be"),
        ("status=open,nope", "status must be"),
        ("level=0", "level must be 1 to 3"),
        ("level=4", "level must be 1 to 3"),
        ("level=two", "level"),
        ("sort=oldest", "sort must be newest or priority"),
        ("owner=agent%20x", "owner must be"),
        ("limit=0", "limit must be 1 to 200"),
        ("limit=201", "limit must be 1 to 200"),
        ("offset=-1", "offset"),
        ("q=", "q must be 1 to 200"),
        ("group=", "group must be 1 to 200"),
        ("colour=red", "unknown field"),
    ] {
        let r = get(&api, &anna, &format!("/api/intakes?{q}")).await;
        assert_eq!(r.status, 422, "{q}: {}", r.body);
        assert!(r.error().contains(needle), "{q}: {}", r.error());
    }
    let long = format!("/api/intakes?q={}", "a".repeat(201));
    assert_eq!(get(&api, &anna, &long).await.status, 422);
    api.stop().await;
}

#[tokio::test]
async fn search_finds_customers_and_intakes_in_every_form() {
    let api = TestApi::start().await;
    let anna = api.token("anna", "anna-demo").await;
    let id = intake(
        &api,
        "+31201234567",
        true,
        Some(2),
        "Outlook crashes at start",
    )
    .await;
    let ticket: String = sqlx::query_scalar("SELECT ticket_no FROM intakes WHERE id = $1")
        .bind(&id)
        .fetch_one(api.store.pool())
        .await
        .unwrap();
    assert_eq!(ticket, "FL-2026-00001");
    for q in [
        "020%20123%204567",
        "0201234567",
        "%2B31%2020%20123%204567",
        "0031201234567",
        "31201234567",
    ] {
        let found = ok(get(&api, &anna, &format!("/api/search?q={q}")).await);
        let customers = found["customers"].as_array().unwrap();
        assert_eq!(customers.len(), 1, "{q}: {found}");
        assert_eq!(customers[0]["name"], "Anouk de Vries");
        assert_eq!(customers[0]["open_intakes"], 1);
        assert_eq!(customers[0]["extra_phones"], json!(["+31612345678"]));
        assert_eq!(ids(&found["intakes"]), vec![id.clone()], "{q}");
    }
    for q in ["FL-2026-00001", "fl-2026-1", "2026-00001"] {
        let found = ok(get(&api, &anna, &format!("/api/search?q={q}")).await);
        assert_eq!(ids(&found["intakes"]), vec![id.clone()], "{q}");
        assert_eq!(found["intakes"][0]["ticket_no"], "FL-2026-00001");
    }
    let words = ok(get(&api, &anna, "/api/search?q=START%20outlook&limit=5").await);
    assert_eq!(ids(&words["intakes"]), vec![id.clone()]);
    let partial = ok(get(&api, &anna, "/api/search?q=1234%20567").await);
    assert!(
        partial["customers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Anouk de Vries"),
        "a partial number of 4 or more digits: {partial}"
    );
    let org = ok(get(&api, &anna, "/api/search?q=zaanwijk&limit=1").await);
    assert_eq!(org["customers"].as_array().unwrap().len(), 1, "limit");
    for q in ["", "q=", "q=a&limit=0", "q=a&limit=51", "q=a&page=2"] {
        let r = get(&api, &anna, &format!("/api/search?{q}")).await;
        assert_eq!(r.status, 422, "{q}: {}", r.body);
    }
    let long = format!("/api/search?q={}", "x".repeat(201));
    assert_eq!(get(&api, &anna, &long).await.status, 422);
    assert_eq!(
        api.send("GET", "/api/search?q=a", &[], None).await.status,
        401
    );
    api.stop().await;
}

#[tokio::test]
async fn two_agents_claim_at_once_and_exactly_one_wins() {
    let api = TestApi::start().await;
    let anna = api.token("anna", "anna-demo").await;
    let eva = api.token("eva", "eva-demo").await;
    let gijs = api.token("gijs", "gijs-demo").await;
    let sanne = api.token("sanne", "sanne-demo").await;
    let id = intake(&api, "+31201234567", true, Some(2), "Share gone").await;
    escalate(&api, &anna, &id, "Applications").await;
    let path = format!("/api/intakes/{id}/claim");
    let (e, g) = tokio::join!(
        post(&api, &eva, &path, json!({})),
        post(&api, &gijs, &path, json!({}))
    );
    let mut statuses = [e.status, g.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", e.body, g.body);
    let (winner, loser, loser_token) = if e.status == 200 {
        ("Eva Brouwer", &g, &gijs)
    } else {
        ("Gijs Smit", &e, &eva)
    };
    assert_eq!(loser.error(), format!("claimed by {winner}"));
    // The loser takes it over with force; the take-over names the previous owner.
    let taken = ok(post(&api, loser_token, &path, json!({ "force": true })).await);
    let note = taken["notes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&note["kind"], &note["body"]),
        (
            &json!("claimed"),
            &json!(format!("taken over from {winner}"))
        )
    );
    // Release: not by someone else; a supervisor may.
    let release = format!("/api/intakes/{id}/release");
    let refused = post(&api, &anna, &release, json!({})).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let bare = api
        .send(
            "POST",
            &release,
            &[("authorization", &bearer(&sanne))],
            None,
        )
        .await;
    assert_eq!(bare.status, 200, "a release needs no body: {}", bare.body);
    assert_eq!(bare.json()["owner_id"], Value::Null);
    // A claim without a body works too; bad bodies are 422s.
    let h = bearer(&eva);
    let plain = api
        .send("POST", &path, &[("authorization", &h)], None)
        .await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(
        post(&api, &eva, &path, json!({ "force": "yes" }))
            .await
            .status,
        422
    );
    assert_eq!(
        post(&api, &eva, &path, json!({ "mine": true }))
            .await
            .status,
        422
    );
    assert_eq!(
        post(&api, &eva, "/api/intakes/intake-none/claim", json!({}))
            .await
            .status,
        404
    );
    api.stop().await;
}

#[tokio::test]
async fn notes_and_reopen_over_http() {
    let api = TestApi::start().await;
    let anna = api.token("anna", "anna-demo").await;
    let id = intake(&api, "+31201234567", true, Some(2), "Teams").await;
    let notes = format!("/api/intakes/{id}/notes");
    let created = post(
        &api,
        &anna,
        &notes,
        json!({ "body": "Asked for a screenshot" }),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let note = created.json();
    assert_eq!(
        (&note["kind"], &note["body"]),
        (&json!("note"), &json!("Asked for a screenshot"))
    );
    assert_eq!(
        (&note["agent_id"], &note["agent_name"]),
        (&json!("agent-demo-anna"), &json!("Anna Koster"))
    );
    assert!(note["id"].as_str().unwrap().starts_with("note-") && note["at"].is_i64());
    for bad in [
        json!({ "body": "  " }),
        json!({}),
        json!({ "body": 5 }),
        json!({ "body": "x".repeat(10_001) }),
    ] {
        let r = post(&api, &anna, &notes, bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    let reopen = format!("/api/intakes/{id}/reopen");
    let early = post(&api, &anna, &reopen, json!({ "reason": "again" })).await;
    assert_eq!(early.status, 409);
    assert!(
        early
            .error()
            .contains("only a resolved intake can be reopened"),
        "{}",
        early.error()
    );
    ok(post(
        &api,
        &anna,
        &format!("/api/intakes/{id}/resolve"),
        json!({ "solution": "Cleared the cache" }),
    )
    .await);
    let history = post(&api, &anna, &notes, json!({ "body": "Caller confirmed" })).await;
    assert_eq!(
        history.status, 201,
        "a note on a resolved intake is history"
    );
    assert_eq!(
        post(&api, &anna, &reopen, json!({ "reason": "" }))
            .await
            .status,
        422
    );
    let v = ok(post(&api, &anna, &reopen, json!({ "reason": "It is back" })).await);
    assert_eq!(
        (&v["status"], &v["resolved_at"]),
        (&json!("open"), &Value::Null)
    );
    let kinds: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["note", "note", "reopened"]);
    assert_eq!(
        post(
            &api,
            &anna,
            "/api/intakes/intake-none/notes",
            json!({ "body": "x" })
        )
        .await
        .status,
        404
    );
    api.stop().await;
}

#[tokio::test]
async fn the_inbox_and_the_agents_calls() {
    let api = TestApi::start().await;
    let anna = api.token("anna", "anna-demo").await;
    let eva = api.token("eva", "eva-demo").await;
    let low = intake(&api, "+31201234567", true, Some(4), "Low").await;
    let urgent = intake(&api, "+31201234567", true, Some(1), "Urgent").await;
    let other = intake(&api, "+31201234567", true, Some(1), "Switch").await;
    escalate(&api, &anna, &low, "Applications").await;
    escalate(&api, &anna, &urgent, "Workplace").await;
    escalate(&api, &anna, &other, "Network").await;
    let inbox = ok(get(&api, &eva, "/api/me/inbox").await);
    assert_eq!(
        inbox["groups"],
        json!([
            { "name": "Applications", "open": 1, "unclaimed": 1 },
            { "name": "Workplace", "open": 1, "unclaimed": 1 }
        ])
    );
    assert_eq!(ids(&inbox["intakes"]), vec![urgent.clone(), low.clone()]);
    let apps = ok(get(&api, &eva, "/api/me/inbox?group=Applications&owner=none").await);
    assert_eq!(ids(&apps["intakes"]), vec![low.clone()]);
    assert!(ids(&ok(get(&api, &eva, "/api/me/inbox?owner=me").await)["intakes"]).is_empty());
    for q in [
        "group=Network",
        "owner=agent-demo-eva",
        "limit=0",
        "level=2",
    ] {
        let r = get(&api, &eva, &format!("/api/me/inbox?{q}")).await;
        assert_eq!(r.status, 422, "{q}: {}", r.body);
    }
    let first = ok(get(&api, &anna, "/api/me/inbox").await);
    assert_eq!(first, json!({ "groups": [], "intakes": [] }));

    // Anna answered call-1; its intake is summarised beside it.
    let call = CallId::from_string("call-1");
    api.store
        .insert_call(&NewCall {
            id: call.clone(),
            sip_call_id: "call-1@192.0.2.1".into(),
            caller: "+31201234567".into(),
            caller_name: None,
            customer_id: Some(CustomerId::from_string("cust-demo-01")),
            transport: CallTransport::Udp,
            arrived_at: now_ms() - 60_000,
        })
        .await
        .unwrap();
    sqlx::query("UPDATE intakes SET call_id = 'call-1' WHERE id = $1")
        .bind(&low)
        .execute(api.store.pool())
        .await
        .unwrap();
    api.store
        .set_call_connected(
            &call,
            &AgentId::from_string("agent-demo-anna"),
            now_ms() - 30_000,
            30_000,
        )
        .await
        .unwrap();
    let calls = ok(get(&api, &anna, "/api/me/calls").await);
    assert_eq!(calls.as_array().unwrap().len(), 1);
    let c = &calls[0];
    assert_eq!(
        (&c["call_id"], &c["customer_name"]),
        (&json!("call-1"), &json!("Anouk de Vries"))
    );
    assert_eq!(c["intake"]["id"], json!(low));
    assert_eq!(
        (&c["intake"]["status"], &c["intake"]["level"]),
        (&json!("escalated"), &json!(2))
    );
    assert!(
        c["intake"]["ticket_no"]
            .as_str()
            .unwrap()
            .starts_with("FL-")
    );
    assert!(
        ok(get(&api, &eva, "/api/me/calls").await)
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        get(&api, &anna, "/api/me/calls?limit=500").await.status,
        422
    );
    api.stop().await;
}
