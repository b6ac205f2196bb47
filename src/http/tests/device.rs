//! The agents' device setting (`PUT /api/agents/me/device`, `PUT /api/agents/{id}/device`):
//! the queue rule, the refusals (400, 403, 404, 409) and the audit of a supervisor's change.

use super::{TestApi, bearer};
use crate::acd::AgentState;
use crate::domain::{AgentId, Device};

const FEMKE: &str = "agent-demo-femke";
const BAS: &str = "agent-demo-bas";

async fn put_device(api: &TestApi, token: &str, path: &str, device: &str) -> super::Resp {
    let body = serde_json::json!({ "device": device }).to_string();
    api.send(
        "PUT",
        path,
        &[("authorization", &bearer(token))],
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn a_browser_agent_without_extension_takes_calls_and_cannot_switch_to_a_phone() {
    let api = TestApi::start().await;
    let femke = api.token("femke", "femke-demo").await;
    // No extension, but the browser softphone: she enters the queues at sign-in.
    assert_eq!(api.acd_state(FEMKE).await, AgentState::Available);
    let me = api
        .send(
            "GET",
            "/api/me",
            &[("authorization", &bearer(&femke))],
            None,
        )
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["agent"]["device"], "browser");
    assert_eq!(me.json()["agent"]["extension"], serde_json::Value::Null);

    let refused = put_device(&api, &femke, "/api/agents/me/device", "phone").await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.error(), "no phone extension configured");
    assert_eq!(refused.json()["state"], "available");
    let id = AgentId::from_string(FEMKE);
    assert_eq!(
        api.store.agent_device(&id).await.unwrap(),
        Some(Device::Browser)
    );
    // Setting the device she already has is fine.
    let same = put_device(&api, &femke, "/api/agents/me/device", "browser").await;
    assert_eq!(
        (same.status, same.json()["device"].clone()),
        (200, "browser".into())
    );
    api.stop().await;
}

#[tokio::test]
async fn switching_to_the_browser_enters_the_queues_and_back_to_the_phone_keeps_them() {
    let api = TestApi::start().await;
    let id = AgentId::from_string(FEMKE);
    // Femke on a phone she does not have: she signs in without entering the queues.
    assert!(
        api.store
            .set_agent_device(&id, Device::Phone)
            .await
            .unwrap()
    );
    let femke = api.token("femke", "femke-demo").await;
    assert_eq!(api.acd_state(FEMKE).await, AgentState::Offline);

    let resp = put_device(&api, &femke, "/api/agents/me/device", "browser").await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json(), serde_json::json!({ "device": "browser" }));
    assert_eq!(api.acd_state(FEMKE).await, AgentState::Available);
    assert_eq!(
        api.store.agent_device(&id).await.unwrap(),
        Some(Device::Browser)
    );

    // Anna has an extension: she may switch both ways and stays in the queues meanwhile.
    let anna = api.token("anna", "anna-demo").await;
    for device in ["browser", "phone"] {
        let resp = put_device(&api, &anna, "/api/agents/me/device", device).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(resp.json()["device"], device);
        assert_eq!(
            api.acd_state("agent-demo-anna").await,
            AgentState::Available
        );
    }
    api.stop().await;
}

#[tokio::test]
async fn unknown_devices_and_bad_bodies_are_refused() {
    let api = TestApi::start().await;
    let anna = api.token("anna", "anna-demo").await;
    let resp = put_device(&api, &anna, "/api/agents/me/device", "fax").await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert!(
        resp.error().contains("unknown device \"fax\""),
        "{}",
        resp.body
    );
    let h = [("authorization", bearer(&anna))];
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let no_field = api
        .send("PUT", "/api/agents/me/device", &h, Some("{}"))
        .await;
    assert_eq!(no_field.status, 422, "{}", no_field.body);
    let not_json = api
        .send("PUT", "/api/agents/me/device", &h, Some("{\"device\""))
        .await;
    assert_eq!(not_json.status, 400, "{}", not_json.body);
    let anonymous = api
        .send(
            "PUT",
            "/api/agents/me/device",
            &[],
            Some(r#"{"device":"browser"}"#),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        api.store
            .agent_device(&AgentId::from_string("agent-demo-anna"))
            .await
            .unwrap(),
        Some(Device::Phone)
    );
    api.stop().await;
}

#[tokio::test]
async fn a_supervisor_sets_an_agents_device_audited_and_agents_may_not() {
    let api = TestApi::start().await;
    let anna = api.token("anna", "anna-demo").await;
    let path = format!("/api/agents/{BAS}/device");
    let denied = put_device(&api, &anna, &path, "browser").await;
    assert_eq!(denied.status, 403, "{}", denied.body);

    let sanne = api.token("sanne", "sanne-demo").await;
    let resp = put_device(&api, &sanne, &path, "browser").await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let body = resp.json();
    assert_eq!(body["device"], "browser");
    assert_eq!(body["audit"]["action"], "agent_device");
    assert_eq!(body["audit"]["target"], BAS);
    assert_eq!(
        body["audit"]["details"],
        serde_json::json!({ "from": "phone", "to": "browser" })
    );
    let audit = api.store.recent_audit(10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].actor.as_str(), audit[0].action.as_str()),
        ("agent-demo-sanne", "agent_device")
    );
    // Bas is not signed in: he does not enter the queues because of the change.
    assert_eq!(api.acd_state(BAS).await, AgentState::Offline);

    // The agent list shows every agent's device.
    let list = api
        .send(
            "GET",
            "/api/agents",
            &[("authorization", &bearer(&sanne))],
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let list = list.json();
    let device_of = |login: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["agent"]["login"] == login)
            .map(|r| r["agent"]["device"].clone())
    };
    assert_eq!(device_of("bas"), Some("browser".into()));
    assert_eq!(device_of("anna"), Some("phone".into()));
    assert_eq!(device_of("femke"), Some("browser".into()));

    // The refusals of the own route apply here too; unknown agents are 404.
    let femke = put_device(&api, &sanne, "/api/agents/agent-demo-femke/device", "phone").await;
    assert_eq!(femke.status, 409, "{}", femke.body);
    let ghost = put_device(&api, &sanne, "/api/agents/agent-none/device", "phone").await;
    assert_eq!(ghost.status, 404, "{}", ghost.body);
    let bad = put_device(&api, &sanne, &path, "pager").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(api.store.recent_audit(10).await.unwrap().len(), 1);
    api.stop().await;
}
