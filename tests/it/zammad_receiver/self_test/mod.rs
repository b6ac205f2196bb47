//! The receiver's self-test, its helpers: a raw HTTP/1.1 client, CTI events and REST calls as
//! the docs show them, and the check that exactly the expected violations were flagged. The
//! phases are in `cti.rs`, `rest_documented.rs`, `rest_departures.rs` and `faults.rs`; the test
//! that runs them, `zammad_receiver_is_strict`, is in the parent's mod.rs.

mod cti;
mod faults;
mod rest_departures;
mod rest_documented;

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::zammad_receiver::ZammadReceiver;

pub(crate) use cti::{cti_departures, cti_documented};
pub(crate) use faults::faults_and_idempotency;
pub(crate) use rest_departures::rest_departures;
pub(crate) use rest_documented::rest_documented;

/// One HTTP/1.1 request with `headers`; (status, JSON answer). Status 0: the connection was
/// closed without an answer.
pub(crate) async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return (0, Value::Null);
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let sent =
        s.write_all(head.as_bytes()).await.is_ok() && s.write_all(body.as_bytes()).await.is_ok();
    let mut raw = Vec::new();
    if !sent || s.read_to_end(&mut raw).await.is_err() {
        return (0, Value::Null);
    }
    crate::helpers::http_response(&raw)
}

pub(crate) const JSON: (&str, &str) = ("Content-Type", "application/json");
pub(crate) const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// A CTI event with the usual numbers, `extra` merged over it (a `null` removes a field).
pub(crate) fn event(event: &str, call_id: &str, extra: Value) -> String {
    let mut v = json!({
        "event": event, "from": "493055571600", "to": "4930111", "direction": "in",
        "callId": call_id
    });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        for (k, x) in e {
            if x.is_null() {
                o.remove(&k);
            } else {
                o.insert(k, x);
            }
        }
    }
    v.to_string()
}

pub(crate) async fn post_json(z: &ZammadReceiver, body: &str) -> (u16, Value) {
    send(z.addr(), "POST", &z.cti_path(), &[JSON], body).await
}

pub(crate) async fn post_form(z: &ZammadReceiver, body: &str) -> (u16, Value) {
    send(z.addr(), "POST", &z.cti_path(), &[FORM], body).await
}

/// A REST call with the API token and, for a body, application/json; `headers` added.
pub(crate) async fn api(
    z: &ZammadReceiver,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, Value) {
    let auth = format!("Token token={}", z.api_token());
    let mut all = vec![("Authorization", auth.as_str()), JSON];
    all.extend_from_slice(headers);
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    send(z.addr(), method, path, &all, &body).await
}

/// Asserts that exactly the violations with `rules` were recorded since the last call.
#[track_caller]
pub(crate) fn expect_flags(z: &ZammadReceiver, rules: &[&str]) {
    let got = z.take_violations();
    let got_rules: Vec<&str> = got.iter().map(|v| v.rule).collect();
    assert_eq!(got_rules, rules, "violations: {got:#?}");
}
