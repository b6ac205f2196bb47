//! Web targets: the desk's and the supervisor feed's WebSocket client frames, and the REST
//! bodies decoded by the same `Json` extractor axum runs, into the handlers' own types.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use firstline::desk::client;
use firstline::desk::intakes::{CustomerFields, IntakeFields};
use firstline::http::ApiError;
use firstline::http::wire as rest;
use serde::de::DeserializeOwned;

use crate::Target;
use crate::mutate::Input;

const JSON: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\":\"",
    b",\"",
    b"null",
    b"true",
    b"false",
    b"1e309",
    b"-0",
    b"1.0e-400",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\\u00e9",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":",
    b"\"type\":",
    b"\"ref\":",
    b"\"v\":1",
    b"\"v\":2",
    b"\"intake_id\":\"",
    b"\"customer_id\":\"",
    b"\"fields\":{",
    b"\"priority\":",
    b"\"category\":\"hardware\"",
    b"\"last_seq\":",
    b"\"epoch\":\"",
    b"\"state\":\"not_ready\"",
    b"\"to_level\":",
    b"\"force\":true",
];

/// `desk::client::parse`, as `/api/ws` runs it on every text frame.
pub(crate) const WS_DESK: Target = Target {
    name: "ws-desk",
    about: "desk WebSocket client frames through desk::client::parse (refusals carry a documented code)",
    seeds: desk_seeds,
    dict: JSON,
    run: run_desk,
};

/// The supervisor feed's `hello` and `ping` handling.
pub(crate) const WS_SUPERVISOR: Target = Target {
    name: "ws-supervisor",
    about: "supervisor WebSocket client frames through parse_hello and client_reply (the reply is a JSON frame)",
    seeds: supervisor_seeds,
    dict: JSON,
    run: run_supervisor,
};

/// Every JSON body of the REST API, decoded into every route's body type.
pub(crate) const REST: Target = Target {
    name: "rest",
    about: "REST JSON bodies through axum's Json decoding into each handler's body type, the rejection's ApiError, and IntakeFields::validate",
    seeds: rest_seeds,
    dict: JSON,
    run: run_rest,
};

fn text_seeds(texts: &[&str]) -> Vec<Input> {
    texts.iter().map(|t| vec![t.as_bytes().to_vec()]).collect()
}

/// Frames as `web/desk/store.js` and `web/feed.js` send them (docs/protocol.md).
fn desk_seeds() -> Vec<Input> {
    text_seeds(&[
        r#"{"v":1,"type":"hello","last_seq":41,"epoch":"ab","ref":"h1"}"#,
        r#"{"v":1,"type":"hello","last_seq":null,"epoch":null}"#,
        r#"{"v":1,"type":"ping","ref":"p7"}"#,
        r#"{"v":1,"type":"set_state","state":"not_ready","reason":"lunch"}"#,
        r#"{"v":1,"type":"set_state","state":"available"}"#,
        r#"{"v":1,"type":"wrapup_done"}"#,
        r#"{"v":1,"type":"intake_update","intake_id":"i-1","fields":{"title":"Printer","description":"jams","category":"hardware","priority":2},"ref":"u1"}"#,
        r#"{"v":1,"type":"customer_update","intake_id":"i-1","customer_id":"c-1","fields":{"name":"Ann","email":"ann@example.com","phone":"+31201234567"}}"#,
        r#"{"v":1,"type":"link_customer","intake_id":"i-1","customer_id":"c-2"}"#,
        r#"{"v":1,"type":"create_customer","intake_id":"i-1","fields":{"name":"Bob","organisation":"ACME","department":"IT","location":"B2","notes":"VIP"}}"#,
        r#"{"v":1,"type":"continue_intake","intake_id":"i-1","existing_id":"i-0"}"#,
        r#"{"v":1,"type":"resolve","intake_id":"i-1","solution":"rebooted"}"#,
        r#"{"v":1,"type":"escalate","intake_id":"i-1","to_level":3,"target":"Dell","reason":"disk","case_ref":"C-9"}"#,
        r#"{"v":1,"type":"return_intake","intake_id":"i-1","reason":"not ours"}"#,
        r#"{"v":1,"type":"open_intake","channel":"email","customer_id":"c-1"}"#,
        r#"{"v":1,"type":"claim","intake_id":"i-1","force":true}"#,
        r#"{"v":1,"type":"release","intake_id":"i-1"}"#,
        r#"{"v":1,"type":"add_note","intake_id":"i-1","body":"called back"}"#,
        r#"{"v":1,"type":"reopen","intake_id":"i-1","reason":"back again"}"#,
    ])
}

fn run_desk(input: &Input) -> Result<(), String> {
    // A WebSocket text frame is UTF-8 by the time the handler sees it.
    let text = String::from_utf8_lossy(&input[0]);
    if let Err(r) = client::parse(&text) {
        if !["bad_frame", "unknown_type", "invalid"].contains(&r.code) {
            return Err(format!("refusal code {:?}", r.code));
        }
        if r.reference.as_ref().is_some_and(|s| s.len() > 100) {
            return Err("a ref over 100 bytes is echoed".into());
        }
    }
    Ok(())
}

fn supervisor_seeds() -> Vec<Input> {
    text_seeds(&[
        r#"{"v":1,"type":"hello","last_seq":12,"epoch":"e1"}"#,
        r#"{"v":1,"type":"hello","last_seq":null,"epoch":null}"#,
        r#"{"v":1,"type":"ping","ref":"k1"}"#,
        r#"{"v":1,"type":"subscribe"}"#,
    ])
}

fn run_supervisor(input: &Input) -> Result<(), String> {
    let text = String::from_utf8_lossy(&input[0]);
    if let Some(h) = rest::parse_hello(&text)
        && h.epoch.as_ref().is_some_and(|e| e.len() > 64)
    {
        return Err("an epoch over 64 bytes is kept".into());
    }
    let reply = rest::client_reply(&text);
    let v: serde_json::Value =
        serde_json::from_str(&reply).map_err(|e| format!("reply is not JSON ({e}): {reply}"))?;
    match v.get("type").and_then(|t| t.as_str()) {
        Some("pong" | "error") => Ok(()),
        _ => Err(format!("reply {reply}")),
    }
}

/// Bodies as docs/api.md and the pages send them.
fn rest_seeds() -> Vec<Input> {
    text_seeds(&[
        r#"{"login":"ann","password":"secret"}"#,
        r#"{"state":"not_ready","reason":"lunch"}"#,
        r#"{"state":"available"}"#,
        r#"{"device":"browser"}"#,
        r#"{"language":"nl"}"#,
        r#"{"language":null}"#,
        r#"{"channel":"email","customer_id":"c-1","title":"VPN","description":"no tunnel","category":"software","priority":3}"#,
        r#"{"title":"Printer","description":"jams","category":"hardware","priority":2}"#,
        r#"{"solution":"replaced toner"}"#,
        r#"{"to_level":2,"target":"Network team","reason":"switch","case_ref":null}"#,
        r#"{"reason":"wrong queue"}"#,
        r#"{"existing_id":"i-9"}"#,
        r#"{"customer_id":"c-3"}"#,
        r#"{"fields":{"name":"Ann","email":"ann@example.com"}}"#,
        r#"{"name":"Ann de Vries","organisation":"Gemeente","department":"ICT","email":"a@b.nl","phone":"0201234567","location":"3.14","notes":""}"#,
        r#"{"force":true}"#,
        r#"{}"#,
        r#"{"body":"rang the user"}"#,
        r#"{"sdp":"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"}"#,
        r#"{"on":true}"#,
        r#"{"digits":"12#"}"#,
        r#"{"packets_received":1500,"packets_lost":-2,"jitter_ms":3.5,"rtt_ms":41.0,"audio_level":0.2}"#,
        r#"{"priority":1}"#,
        r#"{"queue":"service"}"#,
    ])
}

/// `Json::<T>::from_bytes` is what axum's `Json` extractor runs on the body (after the
/// content-type check); a rejection becomes our `ApiError` and its response.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<Option<T>, String> {
    match Json::<T>::from_bytes(body) {
        Ok(Json(v)) => Ok(Some(v)),
        Err(rejection) => {
            let status = ApiError::from(rejection).into_response().status();
            if [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&status) {
                Ok(None)
            } else {
                Err(format!("a bad body answered {status}"))
            }
        }
    }
}

fn run_rest(input: &Input) -> Result<(), String> {
    let b = &input[0];
    decode::<rest::LoginRequest>(b)?;
    decode::<rest::ChangePasswordRequest>(b)?;
    decode::<rest::StateRequest>(b)?;
    decode::<rest::DeviceRequest>(b)?;
    decode::<rest::LanguageRequest>(b)?;
    decode::<rest::NewIntakeRequest>(b)?;
    if let Some(fields) = decode::<IntakeFields>(b)? {
        let _ = fields.validate();
    }
    decode::<rest::ResolveRequest>(b)?;
    decode::<rest::EscalateRequest>(b)?;
    decode::<rest::ReturnRequest>(b)?;
    decode::<rest::ContinueRequest>(b)?;
    decode::<rest::CustomerRequest>(b)?;
    decode::<CustomerFields>(b)?;
    decode::<rest::ClaimRequest>(b)?;
    decode::<rest::NoteRequest>(b)?;
    decode::<rest::ReopenRequest>(b)?;
    decode::<rest::SdpBody>(b)?;
    decode::<rest::OnBody>(b)?;
    decode::<rest::DigitsBody>(b)?;
    decode::<rest::QualityBody>(b)?;
    decode::<rest::NotReadyBody>(b)?;
    decode::<rest::PriorityBody>(b)?;
    decode::<rest::QueueBody>(b)?;
    Ok(())
}
