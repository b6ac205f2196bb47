//! Second-level agents and the desk's settings over a real listener (issue 10): they are not
//! first-level queue members unless `[desk] second_level_takes_calls`; every agent view
//! carries `groups` and `language`; the desk language is the agent's choice; the lists carry
//! the time zone.

use serde_json::{Value, json};

use super::{TestApi, bearer};
use crate::acd::AgentState;
use crate::config::DeskSection;

const EVA: &str = "agent-demo-eva";

async fn put(api: &TestApi, token: &str, path: &str, body: &str) -> super::Resp {
    let auth = bearer(token);
    api.send("PUT", path, &[("authorization", auth.as_str())], Some(body))
        .await
}

#[tokio::test]
async fn second_level_agents_stay_out_of_the_queues_by_default() {
    let api = TestApi::start().await;
    let login = api.login("eva", "eva-demo").await;
    assert_eq!(login.status, 200);
    let eva = login.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        login.json()["agent"]["groups"],
        json!(["Applications", "Workplace"])
    );
    assert_eq!(
        api.acd_state(EVA).await,
        AgentState::Offline,
        "login did not queue her"
    );
    let r = put(&api, &eva, "/api/me/state", r#"{"state":"available"}"#).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        (r.error(), &r.json()["state"]),
        (
            "second-level agents do not take first-level calls".to_owned(),
            &json!("offline")
        )
    );
    // Not ready does not log her in either.
    let r = put(
        &api,
        &eva,
        "/api/me/state",
        r#"{"state":"not_ready","reason":"lunch"}"#,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // Switching to the browser softphone does not put her in the queues.
    let r = put(
        &api,
        &eva,
        "/api/agents/me/device",
        r#"{"device":"browser"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.acd_state(EVA).await, AgentState::Offline);
    api.stop().await;
}

#[tokio::test]
async fn with_the_setting_second_level_agents_take_calls_like_the_first_level() {
    let desk = DeskSection {
        second_level_takes_calls: true,
        ..DeskSection::default()
    };
    let api = TestApi::with_desk(desk).await;
    let eva = api.token("eva", "eva-demo").await;
    assert_eq!(
        api.acd_state(EVA).await,
        AgentState::Available,
        "login queued her"
    );
    let r = put(
        &api,
        &eva,
        "/api/me/state",
        r#"{"state":"not_ready","reason":"lunch"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put(&api, &eva, "/api/me/state", r#"{"state":"available"}"#).await;
    assert_eq!((r.status, &r.json()["state"]), (200, &json!("available")));
    api.stop().await;
}

#[tokio::test]
async fn agent_views_carry_groups_and_language_and_the_lists_the_time_zone() {
    let api = TestApi::start().await;
    let gijs = api.token("gijs", "gijs-demo").await;
    let auth = bearer(&gijs);
    let h = [("authorization", auth.as_str())];
    let me = api.send("GET", "/api/me", &h, None).await.json();
    assert_eq!(me["agent"]["groups"], json!(["Network", "Servers"]));
    assert_eq!(
        (&me["agent"]["level"], &me["agent"]["language"]),
        (&json!(2), &Value::Null)
    );
    let r = put(
        &api,
        &gijs,
        "/api/agents/me/language",
        r#"{"language":"nl"}"#,
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!({ "language": "nl" })));
    let me = api.send("GET", "/api/me", &h, None).await.json();
    assert_eq!(me["agent"]["language"], "nl");
    let r = put(
        &api,
        &gijs,
        "/api/agents/me/language",
        r#"{"language":null}"#,
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!({ "language": null })));
    for bad in [
        r#"{"language":"de"}"#,
        r#"{"language":1}"#,
        "{}",
        r#"{"language":"nl","x":1}"#,
    ] {
        let r = put(&api, &gijs, "/api/agents/me/language", bad).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    let sanne = api.token("sanne", "sanne-demo").await;
    let list = api
        .send(
            "GET",
            "/api/agents",
            &[("authorization", bearer(&sanne).as_str())],
            None,
        )
        .await
        .json();
    let eva = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"]["login"] == "eva")
        .unwrap();
    assert_eq!(eva["agent"]["groups"], json!(["Applications", "Workplace"]));
    assert!(eva["agent"].get("language").is_some());
    let lists = api.send("GET", "/api/desk/lists", &h, None).await.json();
    assert_eq!(lists["time_zone"], "Europe/Amsterdam");
    assert_eq!(lists["second_level"][0], "Workplace");
    assert_eq!(
        lists["second_level_takes_calls"], false,
        "the desk hides Available from the second level"
    );
    api.stop().await;
}
