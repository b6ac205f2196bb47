//! The self-test of the CTI endpoint: the documented shapes in all three encodings and Zammad's
//! three kinds of answer; each departure flagged and answered as Zammad would answer it.

use serde_json::json;

use super::{FORM, JSON, event, expect_flags, post_form, post_json, send};
use crate::zammad_receiver::{CtiEncoding, CtiEventKind, Direction, HangupCause, ZammadReceiver};

/// The documented CTI shapes in all three encodings, and Zammad's three kinds of answer.
pub(crate) async fn cti_documented(z: &ZammadReceiver) {
    let new_call = event(
        "newCall",
        "c1",
        json!({"user": ["Alice", "Bob"], "queue": "helpdesk"}),
    );
    assert_eq!(post_json(z, &new_call).await, (200, json!({})));
    let answer = "event=answer&from=493055571600&to=4930111&direction=in&callId=c1\
                  &user%5B%5D=Alice&answeringNumber=alice%40example.com";
    assert_eq!(post_form(z, answer).await, (200, json!({})));
    let fields = [
        ("event", "hangup"),
        ("from", "493055571600"),
        ("to", "4930111"),
        ("direction", "in"),
        ("callId", "c1"),
        ("user[]", "Alice"),
        ("cause", "normalClearing"),
    ];
    let mut multipart: String = fields
        .iter()
        .map(|(k, v)| {
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
        })
        .collect();
    multipart.push_str("--XyZ--\r\n");
    let ct = ("Content-Type", "multipart/form-data; boundary=XyZ");
    let r = send(z.addr(), "POST", &z.cti_path(), &[ct], &multipart).await;
    assert_eq!(r, (200, json!({})));

    // A blocked caller is rejected; an outbound call gets the configured caller id.
    let blocked = event("newCall", "c2", json!({"from": "4930999"}));
    assert_eq!(
        post_json(z, &blocked).await,
        (200, json!({"action": "reject", "reason": "busy"}))
    );
    let hangup = "event=hangup&from=4930999&to=4930111&direction=in&callId=c2&cause=busy";
    assert_eq!(post_form(z, hangup).await.0, 200);
    let out = event(
        "newCall",
        "c3",
        json!({"direction": "out", "to": "492214710334", "user": "Christopher Miller"}),
    );
    let dial = json!({"action": "dial", "caller_id": "496990009111", "number": "492214710334"});
    assert_eq!(post_json(z, &out).await, (200, dial));

    let ev = z.cti_events();
    assert_eq!(ev.len(), 6);
    assert_eq!(
        (ev[0].event, ev[0].direction),
        (CtiEventKind::NewCall, Direction::In)
    );
    assert_eq!(ev[0].user, ["Alice", "Bob"]);
    assert_eq!(
        (ev[0].queue.as_deref(), ev[0].encoding),
        (Some("helpdesk"), CtiEncoding::Json)
    );
    assert_eq!(ev[1].answering_number.as_deref(), Some("alice@example.com"));
    assert_eq!(ev[1].encoding, CtiEncoding::FormUrlEncoded);
    assert_eq!(ev[2].cause, Some(HangupCause::NormalClearing));
    assert_eq!(ev[2].encoding, CtiEncoding::Multipart);
    assert_eq!(ev[4].cause, Some(HangupCause::Busy));
    assert_eq!(
        (ev[5].direction, ev[5].user.as_slice()),
        (Direction::Out, &["Christopher Miller".to_string()][..])
    );
}

/// Each CTI departure is flagged, and answered as Zammad would answer it.
pub(crate) async fn cti_departures(z: &ZammadReceiver) {
    let a = z.addr();
    let r = send(
        a,
        "POST",
        "/api/v1/cti/wrong",
        &[JSON],
        &event("newCall", "x", json!({})),
    )
    .await;
    assert_eq!(
        r,
        (
            401,
            json!({"error": "Invalid token, please contact your admin!"})
        )
    );
    expect_flags(z, &["cti.token"]);
    let text = ("Content-Type", "text/plain");
    let r = send(
        a,
        "POST",
        &z.cti_path(),
        &[text],
        &event("newCall", "x", json!({})),
    )
    .await;
    assert_eq!(r, (422, json!({"error": "Invalid direction!"})));
    expect_flags(z, &["cti.content_type"]);
    let r = post_json(z, &event("newCall", "x", json!({"direction": "inbound"}))).await;
    assert_eq!(r, (422, json!({"error": "Invalid direction!"})));
    expect_flags(z, &["cti.direction"]);
    assert_eq!(post_json(z, &event("ringing", "x", json!({}))).await.0, 422);
    expect_flags(z, &["cti.event"]);
    let r = post_json(z, &event("newCall", "x", json!({"callId": null}))).await;
    assert_eq!(r, (422, json!({"error": "Attribute 'call_id' required!"})));
    expect_flags(z, &["cti.required"]);
    // Zammad's caller log raises on these: callId is unique, answer and hangup need a newCall.
    assert_eq!(
        post_json(z, &event("answer", "never", json!({}))).await.0,
        500
    );
    expect_flags(z, &["cti.order"]);
    assert_eq!(
        post_json(z, &event("newCall", "c1", json!({}))).await.0,
        500
    );
    expect_flags(z, &["cti.order"]);

    // Taken by Zammad, but not the documented shape.
    let r = post_json(
        z,
        &event("newCall", "c4", json!({"caller": "x", "cause": "busy"})),
    )
    .await;
    assert_eq!(r.0, 200);
    expect_flags(z, &["cti.unknown_field", "cti.unknown_field"]);
    assert_eq!(
        post_json(z, &event("hangup", "c4", json!({"cause": "hungUp"})))
            .await
            .0,
        200
    );
    expect_flags(z, &["cti.cause"]);
    assert_eq!(
        post_json(z, &event("newCall", "c5", json!({}))).await.0,
        200
    );
    let r = post_json(
        z,
        &event("hangup", "c5", json!({"direction": "out", "callId2": "c5"})),
    )
    .await;
    assert_eq!(r.0, 200);
    expect_flags(z, &["cti.unknown_field", "cti.cause", "cti.direction"]);
    assert_eq!(post_json(z, &event("answer", "c5", json!({}))).await.0, 200);
    expect_flags(z, &["cti.order"]);
    let path = format!("{}?event=newCall", z.cti_path());
    let body = "event=newCall&event=answer&from=1&to=2&direction=in&callId=c6&callId=c7";
    assert_eq!(send(a, "POST", &path, &[FORM], body).await.0, 200);
    expect_flags(z, &["cti.query", "cti.form", "cti.form"]);
    let r = post_json(
        z,
        &event(
            "newCall",
            "c8",
            json!({"callId": 12345, "user": {"name": "x"}}),
        ),
    )
    .await;
    assert_eq!(r.0, 200);
    expect_flags(z, &["cti.type", "cti.type"]);
}
