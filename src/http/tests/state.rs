//! Agent state changes through the API, checked against the ACD, and bad bodies.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{TestApi, bearer};
use crate::acd::{AgentState, Entry, EntryId, EntryKind, QueueNotice};
use crate::domain::{AgentId, Category, Priority};

const ANNA: &str = "agent-demo-anna";

#[tokio::test]
async fn not_ready_and_available_are_reflected_in_the_acd() {
    let api = TestApi::start().await;
    let auth = bearer(&api.token("anna", "anna-demo").await);
    let h = [("authorization", auth.as_str())];
    let resp = api
        .send(
            "PUT",
            "/api/me/state",
            &h,
            Some(r#"{"state":"not_ready","reason":"lunch"}"#),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let body = resp.json();
    assert_eq!(body["state"], "not_ready");
    assert_eq!(body["reason"], "lunch");
    assert!(body["since"].is_i64());
    assert_eq!(
        api.acd_state(ANNA).await,
        AgentState::NotReady {
            reason: "lunch".to_owned()
        }
    );
    let me = api.send("GET", "/api/me", &h, None).await.json();
    assert_eq!(
        (&me["state"], &me["reason"]),
        (&"not_ready".into(), &"lunch".into())
    );

    let back = api
        .send("PUT", "/api/me/state", &h, Some(r#"{"state":"available"}"#))
        .await;
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.json()["state"], "available");
    assert_eq!(back.json()["reason"], serde_json::Value::Null);
    assert_eq!(api.acd_state(ANNA).await, AgentState::Available);

    // Nothing to wrap up while available.
    let done = api.send("POST", "/api/me/wrapup-done", &h, None).await;
    assert_eq!(done.status, 409);
    assert_eq!(done.json()["state"], "available");
    api.stop().await;
}

#[tokio::test]
async fn on_a_call_state_changes_and_logout_get_409_and_wrapup_done_ends_wrap_up() {
    let api = TestApi::start().await;
    let auth = bearer(&api.token("anna", "anna-demo").await);
    let h = [("authorization", auth.as_str())];
    // A caller arrives; anna (the only agent) is offered the call and answers.
    let (tx, mut rx) = mpsc::channel(16);
    let entry = Entry {
        id: EntryId::from_string("call-test-1"),
        category: Category::Hardware,
        priority: Priority::new(3).unwrap(),
        arrived: Instant::now(),
        kind: EntryKind::Call,
    };
    api.acd.enqueue(entry, tx).await.unwrap();
    let offer = loop {
        let notice = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if let QueueNotice::Offer { offer, agent } = notice {
            assert_eq!(agent.as_str(), ANNA);
            break offer;
        }
    };
    api.acd.offer_answered(offer).await.unwrap();
    assert_eq!(api.acd_state(ANNA).await, AgentState::OnCall);

    let refused = api
        .send("PUT", "/api/me/state", &h, Some(r#"{"state":"available"}"#))
        .await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.json()["state"], "on_call");
    assert_eq!(refused.error(), "cannot become available while on_call");
    let logout = api.send("POST", "/api/logout", &h, None).await;
    assert_eq!(logout.status, 409);
    assert_eq!(
        logout.error(),
        "cannot log out while on_call: finish the call first"
    );
    // The session is kept.
    assert_eq!(
        api.send("GET", "/api/me", &h, None).await.json()["state"],
        "on_call"
    );

    api.acd
        .call_ended(AgentId::from_string(ANNA))
        .await
        .unwrap();
    assert_eq!(
        api.send("GET", "/api/me", &h, None).await.json()["state"],
        "wrap_up"
    );
    let done = api.send("POST", "/api/me/wrapup-done", &h, None).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["state"], "available");
    assert_eq!(api.acd_state(ANNA).await, AgentState::Available);
    api.stop().await;
}

#[tokio::test]
async fn a_signed_in_agent_unknown_to_the_acd_is_logged_in_again_by_a_state_change() {
    let api = TestApi::start().await;
    let auth = bearer(&api.token("anna", "anna-demo").await);
    let h = [("authorization", auth.as_str())];
    // As after a server restart: the session lives on, the ACD has forgotten anna.
    api.acd
        .agent_logout(AgentId::from_string(ANNA))
        .await
        .unwrap();
    assert_eq!(
        api.send("GET", "/api/me", &h, None).await.json()["state"],
        "offline"
    );
    let resp = api
        .send("PUT", "/api/me/state", &h, Some(r#"{"state":"not_ready"}"#))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["reason"], "break");
    assert_eq!(
        api.acd_state(ANNA).await,
        AgentState::NotReady {
            reason: "break".to_owned()
        }
    );
    api.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_clear_json_errors() {
    let api = TestApi::start().await;
    let auth = bearer(&api.token("anna", "anna-demo").await);
    let h = [("authorization", auth.as_str())];
    let put = |body: &'static str| api.send("PUT", "/api/me/state", &h, Some(body));

    let syntax = put(r#"{"state": "available""#).await;
    assert_eq!(syntax.status, 400, "{}", syntax.body);
    assert!(
        syntax
            .error()
            .contains("Failed to parse the request body as JSON"),
        "{}",
        syntax.body
    );

    let unknown = put(r#"{"state":"busy"}"#).await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert!(
        unknown.error().contains("unknown variant `busy`"),
        "{}",
        unknown.body
    );

    let wrong_type = put(r#"{"state":"not_ready","reason":5}"#).await;
    assert_eq!(wrong_type.status, 422, "{}", wrong_type.body);
    assert!(
        wrong_type.error().contains("invalid type: integer `5`"),
        "{}",
        wrong_type.body
    );

    let empty = put(r#"{"state":"not_ready","reason":"  "}"#).await;
    assert_eq!(empty.status, 422);
    assert_eq!(empty.error(), "reason must be 1 to 100 characters");

    let not_json = api
        .send(
            "PUT",
            "/api/me/state",
            &[h[0], ("content-type", "text/plain")],
            Some("{}"),
        )
        .await;
    assert_eq!(not_json.status, 415);

    let login_types = api
        .send("POST", "/api/login", &[], Some(r#"{"login":5}"#))
        .await;
    assert_eq!(login_types.status, 422, "{}", login_types.body);

    let huge = format!(
        r#"{{"state":"not_ready","reason":"{}"}}"#,
        "x".repeat(100 * 1024)
    );
    let too_big = api.send("PUT", "/api/me/state", &h, Some(&huge)).await;
    assert_eq!(too_big.status, 413, "{}", too_big.body);
    assert_eq!(
        too_big.error(),
        "request body too large (limit 16384 bytes)"
    );

    let nowhere = api.send("GET", "/api/nothing-here", &h, None).await;
    assert_eq!(nowhere.status, 404);
    assert_eq!(nowhere.error(), "not found");
    // Nothing above changed the agent.
    assert_eq!(api.acd_state(ANNA).await, AgentState::Available);
    api.stop().await;
}
