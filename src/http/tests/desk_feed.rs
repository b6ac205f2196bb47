//! The desk socket hears of every write (issue 10): a claim made over REST arrives as an
//! `intake` frame on the agent's WebSocket, and the socket's own `claim`, `release`,
//! `add_note` and `reopen` frames answer with the new `intake` frame and `ack`; a
//! second-level agent's `set_state available` is refused.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::worklists::{escalate, intake, ok, post};
use super::{TestApi, bearer};

#[tokio::test]
async fn rest_writes_reach_the_agents_desk_and_ws_frames_claim_note_and_reopen() {
    let api = TestApi::start().await;
    let eva = api.token("eva", "eva-demo").await;
    let anna = api.token("anna", "anna-demo").await;
    let id = intake(&api, "+31201234567", true, Some(2), "Disk full").await;
    escalate(&api, &anna, &id, "Applications").await;
    let mut req = format!("ws://{}/api/ws", api.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", bearer(&eva).parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let hello = json!({ "v": 1, "type": "hello", "last_seq": null, "epoch": null });
    ws.send(Message::text(hello.to_string())).await.unwrap();
    assert_eq!(frame_of(&mut ws, "welcome").await["resumed"], false);
    frame_of(&mut ws, "snapshot").await;

    // A claim over REST shows in the desk socket as an intake frame.
    ok(post(&api, &eva, &format!("/api/intakes/{id}/claim"), json!({})).await);
    let f = frame_of(&mut ws, "intake").await;
    assert_eq!(
        (&f["id"], &f["owner_name"]),
        (&json!(id), &json!("Eva Brouwer"))
    );
    assert!(f["seq"].is_u64());

    // The same actions over the socket: intake frame and ack.
    for (frame, check) in [
        (
            json!({ "type": "add_note", "ref": "n1", "intake_id": id, "body": "Cleaning up" }),
            "note",
        ),
        (
            json!({ "type": "release", "ref": "n2", "intake_id": id }),
            "released",
        ),
        (
            json!({ "type": "claim", "ref": "n3", "intake_id": id, "force": false }),
            "claimed",
        ),
    ] {
        let reference = frame["ref"].clone();
        ws.send(Message::text(frame.to_string())).await.unwrap();
        let (intake, ack) = intake_and_ack(&mut ws).await;
        assert_eq!(ack["ref"], reference);
        let last = intake["notes"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["kind"], check, "{intake}");
    }
    let refused = json!({ "type": "reopen", "ref": "r1", "intake_id": id, "reason": "again" });
    ws.send(Message::text(refused.to_string())).await.unwrap();
    let e = frame_of(&mut ws, "error").await;
    assert_eq!((&e["code"], &e["ref"]), (&json!("conflict"), &json!("r1")));
    ok(post(
        &api,
        &eva,
        &format!("/api/intakes/{id}/resolve"),
        json!({ "solution": "Moved files" }),
    )
    .await);
    assert_eq!(frame_of(&mut ws, "intake").await["status"], "resolved");
    let reopen = json!({ "type": "reopen", "ref": "r2", "intake_id": id, "reason": "Full again" });
    ws.send(Message::text(reopen.to_string())).await.unwrap();
    let (intake, _) = intake_and_ack(&mut ws).await;
    assert_eq!(
        (&intake["status"], &intake["level"]),
        (&json!("escalated"), &json!(2))
    );

    // A second-level agent cannot become available for first-level calls.
    let avail = json!({ "type": "set_state", "ref": "s1", "state": "available" });
    ws.send(Message::text(avail.to_string())).await.unwrap();
    let e = frame_of(&mut ws, "error").await;
    assert_eq!(
        (&e["code"], &e["message"]),
        (
            &json!("conflict"),
            &json!("second-level agents do not take first-level calls")
        )
    );
    api.stop().await;
}

pub(super) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next frame of `kind` within 5 s, skipping others (agent state, pings).
pub(super) async fn frame_of(ws: &mut Socket, kind: &str) -> Value {
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} frame within 5 s"))
            .expect("socket closed")
            .expect("socket error");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

/// The `intake` frame and the `ack` of one action, in either order.
pub(super) async fn intake_and_ack(ws: &mut Socket) -> (Value, Value) {
    intake_and(ws, "ack").await
}

/// The `intake` frame and the `kind` frame (`ack`, or `error` for a refusal that comes with the
/// current intake), in either order; an unexpected `error` fails the test.
pub(super) async fn intake_and(ws: &mut Socket, kind: &str) -> (Value, Value) {
    let (mut intake, mut other) = (None, None);
    while intake.is_none() || other.is_none() {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("no frame within 5 s")
            .expect("socket closed")
            .expect("socket error");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            match v["type"].as_str() {
                Some("intake") => intake = Some(v),
                Some(k) if k == kind => other = Some(v),
                Some("error") => panic!("refused: {v}"),
                _ => {}
            }
        }
    }
    (intake.unwrap_or_default(), other.unwrap_or_default())
}
