//! The admin API (`/api/admin`, issue 13): roles (agents and supervisors refused changes, 403),
//! an audit row with before/after for every change, 409 for a taken login or extension, 422 for
//! bad fields, and the effects: the registrar gets new credentials, the queue engine a changed
//! agent's queues, a deactivated agent's session ends and they cannot sign in.

use serde_json::{Value, json};

use super::{Resp, TestApi, bearer};
use crate::acd::AgentState;
use crate::domain::{AgentId, Category, Device};
use crate::store::NewAgent;

/// Creates the admin `olga` and returns her token.
async fn admin(api: &TestApi) -> String {
    let agent = NewAgent {
        id: AgentId::from_string("agent-olga"),
        name: "Olga Ops".into(),
        login: "olga".into(),
        password_hash: crate::password::hash("olga-admin-2026").unwrap(),
        extension: None,
        categories: vec![],
        level: 1,
        role: "admin".into(),
        device: Device::Phone,
        groups: vec![],
    };
    api.store.create_agent(&agent).await.unwrap();
    api.token("olga", "olga-admin-2026").await
}

async fn call(api: &TestApi, token: &str, method: &str, path: &str, body: Option<Value>) -> Resp {
    let body = body.map(|b| b.to_string());
    api.send(
        method,
        path,
        &[("authorization", &bearer(token))],
        body.as_deref(),
    )
    .await
}

fn new_agent() -> Value {
    json!({
        "login": "henk", "name": "Henk de Vries", "password": "tulips and windmills",
        "extension": "2042", "sip_password": "henk-phone-77", "categories": ["software"],
        "groups": ["Network"], "level": 1
    })
}

/// The audit rows with this action, newest first.
async fn audits(api: &TestApi, action: &str) -> Vec<crate::store::AuditRow> {
    let rows = api.store.recent_audit(100).await.unwrap();
    rows.into_iter().filter(|r| r.action == action).collect()
}

#[tokio::test]
async fn agents_and_supervisors_are_refused_every_change_and_agents_the_lists_too() {
    let api = TestApi::start().await;
    let anna = api.token("anna", "anna-demo").await;
    let sanne = api.token("sanne", "sanne-demo").await;
    let changes: &[(&str, &str, Option<Value>)] = &[
        ("POST", "/api/admin/agents", Some(new_agent())),
        (
            "PATCH",
            "/api/admin/agents/agent-demo-bas",
            Some(json!({ "level": 2 })),
        ),
        ("POST", "/api/admin/agents/agent-demo-bas/deactivate", None),
        ("POST", "/api/admin/agents/agent-demo-bas/reactivate", None),
        (
            "PUT",
            "/api/admin/agents/agent-demo-bas/password",
            Some(json!({ "password": "a new long password" })),
        ),
        (
            "PUT",
            "/api/admin/agents/agent-demo-bas/sip-password",
            Some(json!({ "password": "new-sip-pass-1" })),
        ),
        ("PUT", "/api/admin/groups/Printers", Some(json!({}))),
        (
            "PUT",
            "/api/admin/vendors/Lenovo",
            Some(json!({ "contact": "0800" })),
        ),
    ];
    for token in [&anna, &sanne] {
        for (method, path, body) in changes {
            let r = call(&api, token, method, path, body.clone()).await;
            assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        }
    }
    for path in [
        "/api/admin/agents",
        "/api/admin/groups",
        "/api/admin/vendors",
    ] {
        assert_eq!(
            call(&api, &anna, "GET", path, None).await.status,
            403,
            "{path}"
        );
        let read = call(&api, &sanne, "GET", path, None).await;
        assert_eq!(read.status, 200, "a supervisor reads {path}: {}", read.body);
    }
    assert!(api.store.recent_audit(100).await.unwrap().is_empty());
    assert!(api.sip_tables.lock().unwrap().is_empty());
    api.stop().await;
}

#[tokio::test]
async fn an_admin_creates_an_agent_whose_phone_can_register_and_every_change_is_audited() {
    let api = TestApi::start().await;
    let olga = admin(&api).await;
    let created = call(&api, &olga, "POST", "/api/admin/agents", Some(new_agent())).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(created.json()["extension"], "2042");
    assert_eq!(created.json()["active"], true);
    assert!(!created.body.contains("password"), "{}", created.body);
    // The registrar got a table with the new phone's credentials.
    let last = api.sip_tables.lock().unwrap().last().cloned().unwrap();
    let henk = last
        .iter()
        .find(|c| c.extension == "2042")
        .expect("2042 in the table");
    let ha1 = crate::sip::ha1_sha256("2042", "firstline", "henk-phone-77");
    assert_eq!(henk.ha1_sha256.as_deref(), Some(ha1.as_str()));
    let create = audits(&api, "agent_create").await;
    assert_eq!(create.len(), 1);
    assert_eq!(create[0].actor.as_str(), "agent-olga");
    assert_eq!(create[0].details["after"]["login"], "henk");
    assert_eq!(audits(&api, "agent_sip_password").await.len(), 1);

    // The new agent signs in and serves software only.
    let henk_token = api.token("henk", "tulips and windmills").await;
    let snap = api.acd.snapshot().await.unwrap();
    let rec = snap.agent(&AgentId::from_string(&id)).unwrap();
    assert!(rec.categories.contains(&Category::Software));
    assert!(!rec.categories.contains(&Category::Hardware));

    // An admin adds hardware: the engine has it at once; the audit shows before and after.
    let path = format!("/api/admin/agents/{id}");
    let body = json!({ "categories": ["software", "hardware"], "level": 2 });
    let edited = call(&api, &olga, "PATCH", &path, Some(body)).await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let snap = api.acd.snapshot().await.unwrap();
    let rec = snap.agent(&AgentId::from_string(&id)).unwrap();
    assert!(rec.categories.contains(&Category::Hardware), "{rec:?}");
    let update = audits(&api, "agent_update").await;
    assert_eq!(
        update[0].details["before"]["categories"],
        json!(["software"])
    );
    assert_eq!(update[0].details["after"]["level"], 2);
    assert!(
        update[0].details["before"].get("name").is_none(),
        "only what changed"
    );

    // Deactivated: the session ends, sign-in is refused, the phone leaves the table.
    let path = format!("/api/admin/agents/{id}/deactivate");
    let off = call(&api, &olga, "POST", &path, None).await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(off.json()["active"], false);
    let me = call(&api, &henk_token, "GET", "/api/me", None).await;
    assert_eq!(me.status, 401, "a deactivated agent's session is over");
    assert_eq!(api.login("henk", "tulips and windmills").await.status, 401);
    let last = api.sip_tables.lock().unwrap().last().cloned().unwrap();
    assert!(last.iter().all(|c| c.extension != "2042"), "{last:?}");
    assert_eq!(api.acd_state(&id).await, AgentState::Offline);
    let deact = audits(&api, "agent_deactivate").await;
    assert_eq!(deact[0].details["sessions_ended"], 1);
    // The history stays: the row is there, listed as inactive.
    let list = call(&api, &olga, "GET", "/api/admin/agents", None).await;
    let henk = (list.json().as_array().unwrap().iter())
        .find(|a| a["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(henk["active"], false);
    api.stop().await;
}

#[tokio::test]
async fn taken_logins_and_extensions_are_409_and_bad_fields_422_with_nothing_stored() {
    let api = TestApi::start().await;
    let olga = admin(&api).await;
    let mut dup_login = new_agent();
    dup_login["login"] = json!("anna");
    let r = call(&api, &olga, "POST", "/api/admin/agents", Some(dup_login)).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let mut dup_ext = new_agent();
    dup_ext["extension"] = json!("2001");
    let r = call(&api, &olga, "POST", "/api/admin/agents", Some(dup_ext)).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = call(
        &api,
        &olga,
        "PATCH",
        "/api/admin/agents/agent-demo-bas",
        Some(json!({ "extension": "2001" })),
    )
    .await;
    assert_eq!(r.status, 409, "an extension taken on edit: {}", r.body);
    for (field, value, says) in [
        ("password", json!("short"), "password"),
        ("extension", json!("20 42"), "extension"),
        ("role", json!("root"), "role"),
        ("level", json!(3), "level"),
        ("groups", json!(["Nope"]), "group"),
        ("sip_password", json!("henk"), "SIP password"),
    ] {
        let mut body = new_agent();
        body[field] = value;
        let r = call(&api, &olga, "POST", "/api/admin/agents", Some(body)).await;
        assert_eq!(r.status, 422, "{field}: {}", r.body);
        assert!(r.body.contains(says), "{field}: {}", r.body);
    }
    let r = call(
        &api,
        &olga,
        "POST",
        "/api/admin/agents",
        Some(json!({ "login": "x" })),
    )
    .await;
    assert_eq!(r.status, 422, "missing fields: {}", r.body);
    let r = call(
        &api,
        &olga,
        "POST",
        "/api/admin/agents/agent-olga/deactivate",
        None,
    )
    .await;
    assert_eq!(r.status, 409, "not oneself: {}", r.body);
    let r = call(&api, &olga, "GET", "/api/admin/agents/agent-nobody", None).await;
    assert_eq!(r.status, 404);
    assert!(api.store.agent_by_login("henk").await.unwrap().is_none());
    assert!(api.store.recent_audit(100).await.unwrap().is_empty());
    api.stop().await;
}

#[tokio::test]
async fn a_password_reset_ends_the_sessions_and_groups_and_vendors_reach_the_desk_lists() {
    let api = TestApi::start().await;
    let olga = admin(&api).await;
    let bas = api.token("bas", "bas-demo").await;
    let path = "/api/admin/agents/agent-demo-bas/password";
    let r = call(
        &api,
        &olga,
        "PUT",
        path,
        Some(json!({ "password": "ocean-lighthouse-2026" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["sessions_ended"], 1);
    assert_eq!(call(&api, &bas, "GET", "/api/me", None).await.status, 401);
    api.token("bas", "ocean-lighthouse-2026").await;
    assert!(
        !audits(&api, "agent_password_reset").await[0]
            .details
            .to_string()
            .contains("lighthouse")
    );

    let r = call(
        &api,
        &olga,
        "PUT",
        "/api/admin/vendors/Lenovo",
        Some(json!({
        "contact": "0800-123", "notes": "contract 42" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &api,
        &olga,
        "PUT",
        "/api/admin/groups/Printers",
        Some(json!({
        "description": "printers and scanners" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &api,
        &olga,
        "PUT",
        "/api/admin/groups/Network",
        Some(json!({ "active": false })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let lists = api.ops.lists();
    assert_eq!(lists.second_level, ["Printers"], "Network is inactive now");
    assert_eq!(lists.third_level, ["Dell", "Lenovo"]);
    let vendors = call(&api, &olga, "GET", "/api/admin/vendors", None)
        .await
        .json();
    assert_eq!(vendors[1]["notes"], "contract 42");
    let r = call(
        &api,
        &olga,
        "PUT",
        "/api/admin/groups/A%2CB",
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 422, "a comma in a group name: {}", r.body);
    assert_eq!(audits(&api, "vendor_create").await.len(), 1);
    let upd = audits(&api, "group_update").await;
    assert_eq!(upd[0].details["before"]["active"], true);
    assert_eq!(upd[0].details["after"]["active"], false);
    api.stop().await;
}

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_once_and_a_wrong_token_nothing() {
    let api = TestApi::start().await;
    let needed = |r: Resp| r.json()["needed"].clone();
    assert_eq!(
        needed(api.send("GET", "/api/setup", &[], None).await),
        json!(false)
    );
    let token = api
        .accounts
        .open_setup_if_needed()
        .await
        .unwrap()
        .expect("no admin yet");
    assert_eq!(
        needed(api.send("GET", "/api/setup", &[], None).await),
        json!(true)
    );
    let body = |token: &str, password: &str| {
        json!({ "token": token, "login": "root-olga", "name": "Olga", "password": password })
            .to_string()
    };
    let wrong = api
        .send(
            "POST",
            "/api/setup",
            &[],
            Some(&body(&"0".repeat(32), "a long admin password")),
        )
        .await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    let weak = api
        .send("POST", "/api/setup", &[], Some(&body(&token, "short")))
        .await;
    assert_eq!(weak.status, 422, "{}", weak.body);
    assert!(
        api.store
            .agent_by_login("root-olga")
            .await
            .unwrap()
            .is_none()
    );
    let made = api
        .send(
            "POST",
            "/api/setup",
            &[],
            Some(&body(&token, "a long admin password")),
        )
        .await;
    assert_eq!(
        made.status, 201,
        "the token survives a refused password: {}",
        made.body
    );
    assert_eq!(made.json()["role"], "admin");
    let olga = api.token("root-olga", "a long admin password").await;
    let list = call(&api, &olga, "GET", "/api/admin/agents", None).await;
    assert_eq!(list.status, 200, "the new admin administers: {}", list.body);
    let again = api
        .send(
            "POST",
            "/api/setup",
            &[],
            Some(&body(&token, "another long password")),
        )
        .await;
    assert_eq!(again.status, 403, "used up: {}", again.body);
    assert_eq!(
        needed(api.send("GET", "/api/setup", &[], None).await),
        json!(false)
    );
    assert_eq!(
        api.accounts.open_setup_if_needed().await.unwrap(),
        None,
        "an admin exists now"
    );
    assert_eq!(audits(&api, "agent_create").await.len(), 1);
    api.stop().await;
}
