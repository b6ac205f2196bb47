//! Several people on one intake (issue 15) over a real listener: a save typed over an old copy
//! of a field is refused with 409 / `edit_conflict` and the other's version (never silently
//! overwritten); a desk watching an intake gets others' changes as they happen; the work state
//! is the owner's to set, over the socket, with clear refusals.

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::desk_feed::{Socket, frame_of, intake_and, intake_and_ack};
use super::worklists::{escalate, intake, ok, post};
use super::{Resp, TestApi, bearer};

async fn patch(api: &TestApi, token: &str, id: &str, body: Value) -> Resp {
    let auth = bearer(token);
    let h = [("authorization", auth.as_str())];
    api.send(
        "PATCH",
        &format!("/api/intakes/{id}"),
        &h,
        Some(&body.to_string()),
    )
    .await
}

async fn desk(api: &TestApi, token: &str) -> Socket {
    let mut req = format!("ws://{}/api/ws", api.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", bearer(token).parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let hello = json!({ "v": 1, "type": "hello", "last_seq": null, "epoch": null });
    ws.send(Message::text(hello.to_string())).await.unwrap();
    frame_of(&mut ws, "snapshot").await;
    ws
}

async fn send(ws: &mut Socket, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

/// The API with an intake anna escalated to Network; eva's and gijs's tokens.
async fn with_network_intake() -> (TestApi, [String; 2], String) {
    let api = TestApi::start().await;
    let anna = api.token("anna", "anna-demo").await;
    let eva = api.token("eva", "eva-demo").await;
    let gijs = api.token("gijs", "gijs-demo").await;
    let id = intake(&api, "+31201234567", true, Some(2), "").await;
    escalate(&api, &anna, &id, "Network").await;
    (api, [eva, gijs], id)
}

#[tokio::test]
async fn a_save_over_an_old_copy_is_refused_with_the_other_version() {
    let (api, [eva, gijs], id) = with_network_intake().await;
    let base = |title: &str| json!({ "title": title });

    // Both start from the title anna left; eva saves first.
    let first = ok(patch(
        &api,
        &eva,
        &id,
        json!({"title": "Switch dead", "base": base("")}),
    )
    .await);
    assert_eq!(first["title"], "Switch dead");
    let r = patch(&api, &gijs, &id, json!({"title": "VPN", "base": base("")})).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (&v["field"], &v["by"]),
        (&json!("title"), &json!("Eva Brouwer")),
        "{v}"
    );
    assert_eq!(
        v["current"]["title"], "Switch dead",
        "the other's version comes with it"
    );
    assert_eq!(
        v["error"],
        "Eva Brouwer changed the title meanwhile; their version is shown"
    );
    // Over the current text it goes through; a description over an old copy does not.
    ok(patch(
        &api,
        &gijs,
        &id,
        json!({"title": "VPN", "base": base("Switch dead")}),
    )
    .await);
    let r = patch(
        &api,
        &eva,
        &id,
        json!({"description": "x", "base": {"description": "not what is stored"}}),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["field"].clone()),
        (409, json!("description"))
    );
    // Malformed bases are refused like any bad field.
    let r = patch(
        &api,
        &eva,
        &id,
        json!({"title": "y", "base": {"owner": "me"}}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = patch(&api, &eva, &id, json!({"title": "y", "base": {"title": 7}})).await;
    assert_eq!(r.status, 422, "{}", r.body);

    // Another group: only configured ones, never the one it is with; it arrives unclaimed.
    ok(post(&api, &gijs, &format!("/api/intakes/{id}/claim"), json!({})).await);
    let path = format!("/api/intakes/{id}/reassign");
    let r = post(
        &api,
        &gijs,
        &path,
        json!({"group": "Nowhere", "reason": "x"}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = post(
        &api,
        &gijs,
        &path,
        json!({"group": "Network", "reason": "x"}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let v = ok(post(
        &api,
        &gijs,
        &path,
        json!({"group": "Applications", "reason": "It is Outlook, not the network"}),
    )
    .await);
    assert_eq!(
        (&v["group"], &v["level"], &v["owner_id"]),
        (&json!("Applications"), &json!(2), &Value::Null),
        "{v}"
    );
    let last = v["notes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["kind"], &last["body"]),
        (
            &json!("reassigned"),
            &json!("Network → Applications: It is Outlook, not the network")
        )
    );
    assert_eq!(
        v["escalations"].as_array().unwrap().last().unwrap()["target"],
        "Applications"
    );
    api.stop().await;
}

#[tokio::test]
async fn a_watching_desk_sees_others_changes_and_the_owner_sets_the_work_state() {
    let (api, [eva, gijs], id) = with_network_intake().await;
    let mut g = desk(&api, &gijs).await;
    send(
        &mut g,
        json!({"v": 1, "type": "watch", "ref": "w1", "intake_id": id}),
    )
    .await;
    assert_eq!(frame_of(&mut g, "ack").await["ref"], "w1");

    // Eva's save reaches gijs's desk as it happens.
    ok(patch(
        &api,
        &eva,
        &id,
        json!({"title": "Switch dead", "base": {"title": ""}}),
    )
    .await);
    let f = frame_of(&mut g, "intake").await;
    assert_eq!((&f["id"], &f["title"]), (&json!(id), &json!("Switch dead")));

    // Gijs, still on the old copy, saves over the socket: refused, with the current intake.
    send(
        &mut g,
        json!({"v": 1, "type": "intake_update", "ref": "u1", "intake_id": id,
               "fields": {"title": "VPN", "base": {"title": ""}}}),
    )
    .await;
    let (current, e) = intake_and(&mut g, "error").await;
    assert_eq!(current["title"], "Switch dead");
    assert_eq!(
        (&e["code"], &e["ref"]),
        (&json!("edit_conflict"), &json!("u1")),
        "{e}"
    );

    // The work state: gijs takes it on by choosing one; eva may not change it then.
    send(
        &mut g,
        json!({"v": 1, "type": "set_work_state", "ref": "s1", "intake_id": id,
               "state": "waiting_customer", "reason": "asked for a photo of the switch"}),
    )
    .await;
    let (f, _) = intake_and_ack(&mut g).await;
    assert_eq!(
        (&f["work_state"], &f["owner_id"]),
        (&json!("waiting_customer"), &json!("agent-demo-gijs"))
    );
    assert_eq!(
        f["notes"].as_array().unwrap().last().unwrap()["body"],
        "waiting_customer: asked for a photo of the switch"
    );
    let mut e_ws = desk(&api, &eva).await;
    send(
        &mut e_ws,
        json!({"v": 1, "type": "set_work_state", "ref": "s2", "intake_id": id, "state": "in_progress"}),
    )
    .await;
    let e = frame_of(&mut e_ws, "error").await;
    assert_eq!(
        (&e["code"], &e["message"]),
        (
            &json!("conflict"),
            &json!("claimed by Gijs Smit: only the owner sets its state")
        )
    );
    send(
        &mut e_ws,
        json!({"v": 1, "type": "set_work_state", "ref": "s3", "intake_id": id, "state": "sleeping"}),
    )
    .await;
    let e = frame_of(&mut e_ws, "error").await;
    assert_eq!(e["ref"], "s3", "{e}");
    assert_ne!(e["code"], "internal", "{e}");
    api.stop().await;
}
