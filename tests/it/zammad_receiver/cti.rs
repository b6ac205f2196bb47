//! The generic CTI endpoint, POST /api/v1/cti/:token (config/routes/integration_cti.rb), fields
//! from https://docs.zammad.org/en/latest/api/generic-cti/{newcall,answer,hangup}-event.html in
//! JSON, form or multipart encoding; the caller log's order of events; reject and dial answers.

use std::collections::BTreeMap;

use axum::http::{StatusCode, request::Parts};
use serde_json::{Value, json};

use super::encoding::{form_pairs, mime, multipart_pairs};
use super::handler::{Ctx, Handled, Reply, UNPROCESSABLE, cti_err, header};
use super::receiver::{CallLog, State};
use super::{CtiEncoding, CtiEvent, CtiEventKind, Direction, HangupCause, ZammadConfig};

/// What Zammad answers for an unexpected exception when the caller is not an admin
/// (app/controllers/application_controller/handles_errors.rb, `humanize_error`).
const ERROR_ID: &str = "Error ID zRcvr1: Please contact your administrator.";

/// A CTI field: one value, or the repeated `user[]`.
enum CtiVal {
    One(String),
    List(Vec<String>),
}

type CtiFields = BTreeMap<String, CtiVal>;

pub(crate) fn cti(
    cfg: &ZammadConfig,
    st: &mut State,
    ctx: &mut Ctx,
    parts: &Parts,
    token: &str,
    body: &[u8],
) -> Handled {
    // check_token: 401 with the controller's own body.
    if token != cfg.cti_token {
        ctx.flag(
            "cti.token",
            "the token in the CTI URL is not the one Zammad shows for the endpoint",
        );
        return Err(cti_err(
            StatusCode::UNAUTHORIZED,
            "Invalid token, please contact your admin!",
        ));
    }
    if parts.uri.query().is_some_and(|q| !q.is_empty()) {
        ctx.flag(
            "cti.query",
            "fields in the URL: Zammad documents JSON (recommended) or form-data bodies only",
        );
    }
    let ct = header(&parts.headers, "content-type").unwrap_or("");
    let (fields, encoding) = match mime(ct).as_str() {
        "application/json" => (cti_json(ctx, body)?, CtiEncoding::Json),
        "application/x-www-form-urlencoded" => {
            let pairs = std::str::from_utf8(body)
                .map_err(|e| e.to_string())
                .and_then(form_pairs);
            (cti_pairs(ctx, pairs)?, CtiEncoding::FormUrlEncoded)
        }
        "multipart/form-data" => (
            cti_pairs(ctx, multipart_pairs(ct, body))?,
            CtiEncoding::Multipart,
        ),
        _ => {
            // Rails would see no fields at all, so the direction check fails first.
            ctx.flag(
                "cti.content_type",
                format!("Content-Type {ct:?}: send application/json (recommended) or form data"),
            );
            return Err(cti_err(UNPROCESSABLE, "Invalid direction!"));
        }
    };
    cti_event(cfg, st, ctx, fields, encoding)
}

fn cti_json(ctx: &mut Ctx, body: &[u8]) -> Result<CtiFields, Reply> {
    let obj = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        Ok(other) => {
            ctx.flag(
                "cti.json",
                format!("the body must be a JSON object, got {other}"),
            );
            return Err(cti_err(UNPROCESSABLE, "Invalid direction!"));
        }
        Err(e) => {
            // Rails answers a body it cannot parse with 400 Bad Request.
            ctx.flag("cti.json", format!("the body is not JSON: {e}"));
            return Err(cti_err(StatusCode::BAD_REQUEST, "Bad Request"));
        }
    };
    let mut fields = CtiFields::new();
    for (k, v) in obj {
        match v {
            Value::String(s) => {
                fields.insert(k, CtiVal::One(s));
            }
            Value::Array(items) if items.iter().all(Value::is_string) => {
                let list = items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect();
                fields.insert(k, CtiVal::List(list));
            }
            Value::Number(n) => {
                ctx.flag(
                    "cti.type",
                    format!("{k} is the number {n}; the documented values are strings"),
                );
                fields.insert(k, CtiVal::One(n.to_string()));
            }
            other => ctx.flag(
                "cti.type",
                format!("{k} is {other}; the documented values are strings"),
            ),
        }
    }
    Ok(fields)
}

fn cti_pairs(
    ctx: &mut Ctx,
    pairs: Result<Vec<(String, String)>, String>,
) -> Result<CtiFields, Reply> {
    let pairs = pairs.map_err(|e| {
        ctx.flag("cti.form", format!("the form body cannot be read: {e}"));
        cti_err(StatusCode::BAD_REQUEST, "Bad Request")
    })?;
    let mut fields = CtiFields::new();
    for (k, v) in pairs {
        if k == "user[]" {
            match fields
                .entry("user".into())
                .or_insert_with(|| CtiVal::List(Vec::new()))
            {
                CtiVal::List(list) => list.push(v),
                CtiVal::One(_) => ctx.flag("cti.form", "both user and user[] sent"),
            }
        } else {
            match fields.entry(k) {
                std::collections::btree_map::Entry::Occupied(e) => ctx.flag(
                    "cti.form",
                    format!("{} sent more than once (only user[] repeats)", e.key()),
                ),
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(CtiVal::One(v));
                }
            }
        }
    }
    Ok(fields)
}

/// One value of `key`, flagging a list.
fn cti_text(ctx: &mut Ctx, fields: &CtiFields, key: &str) -> Option<String> {
    match fields.get(key)? {
        CtiVal::One(s) => Some(s.clone()),
        CtiVal::List(_) => {
            ctx.flag("cti.type", format!("{key} must be one value, not a list"));
            None
        }
    }
}

fn cti_event(
    cfg: &ZammadConfig,
    st: &mut State,
    ctx: &mut Ctx,
    fields: CtiFields,
    encoding: CtiEncoding,
) -> Handled {
    // Cti::Driver::Base#direction_check comes first: 422 "Invalid direction!".
    let direction = match cti_text(ctx, &fields, "direction").as_deref() {
        Some("in") => Direction::In,
        Some("out") => Direction::Out,
        other => {
            ctx.flag(
                "cti.direction",
                format!("direction {other:?}: must be \"in\" or \"out\""),
            );
            return Err(cti_err(UNPROCESSABLE, "Invalid direction!"));
        }
    };
    // Cti::Log.process: an unknown event raises ArgumentError → 422 with an error id.
    let raw_event = cti_text(ctx, &fields, "event");
    let Some(event) = raw_event.as_deref().and_then(CtiEventKind::parse) else {
        ctx.flag(
            "cti.event",
            format!("event {raw_event:?}: must be newCall, answer or hangup"),
        );
        return Err(cti_err(UNPROCESSABLE, ERROR_ID));
    };
    let allowed: &[&str] = match event {
        CtiEventKind::NewCall => &[
            "event",
            "from",
            "to",
            "direction",
            "callId",
            "user",
            "queue",
        ],
        CtiEventKind::Answer => &[
            "event",
            "from",
            "to",
            "direction",
            "callId",
            "user",
            "answeringNumber",
        ],
        CtiEventKind::Hangup => &[
            "event",
            "from",
            "to",
            "direction",
            "callId",
            "user",
            "answeringNumber",
            "cause",
        ],
    };
    for k in fields.keys() {
        if !allowed.contains(&k.as_str()) {
            ctx.flag(
                "cti.unknown_field",
                format!(
                    "{k} is not a documented field of {} (documented: {allowed:?})",
                    event.as_str()
                ),
            );
        }
    }
    let mut required = |key: &str, column: &str| -> Result<String, Reply> {
        match cti_text(ctx, &fields, key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => {
                ctx.flag(
                    "cti.required",
                    format!("{key} is required on {}", event.as_str()),
                );
                Err(cti_err(
                    UNPROCESSABLE,
                    &format!("Attribute '{column}' required!"),
                ))
            }
        }
    };
    let call_id = required("callId", "call_id")?;
    let from = required("from", "from")?;
    let to = required("to", "to")?;
    if call_id.chars().count() > 250 {
        ctx.flag("cti.call_id", "callId is longer than 250 characters");
        return Err(cti_err(UNPROCESSABLE, ERROR_ID));
    }
    let user = match fields.get("user") {
        None => Vec::new(),
        Some(CtiVal::One(s)) => vec![s.clone()],
        Some(CtiVal::List(v)) => v.clone(),
    };
    let queue = cti_text(ctx, &fields, "queue");
    let answering_number = cti_text(ctx, &fields, "answeringNumber");
    let cause = match event {
        CtiEventKind::Hangup => match cti_text(ctx, &fields, "cause") {
            None => {
                ctx.flag(
                    "cti.cause",
                    "a hangup carries its cause (normalClearing, busy, cancel, …)",
                );
                None
            }
            Some(c) => {
                let parsed = HangupCause::parse(&c);
                if parsed.is_none() {
                    let names: Vec<&str> = HangupCause::ALL.iter().map(|(n, _)| *n).collect();
                    ctx.flag("cti.cause", format!("cause {c:?} is not one of {names:?}"));
                }
                parsed
            }
        },
        _ => None,
    };

    // The caller log (Cti::Log.process): callId is unique per call; answer and hangup need it.
    let mut answered = json!({});
    match event {
        CtiEventKind::NewCall => {
            if st.calls.contains_key(&call_id) {
                ctx.flag(
                    "cti.order",
                    format!("newCall for callId {call_id:?}, which already exists"),
                );
                return Err(cti_err(StatusCode::INTERNAL_SERVER_ERROR, ERROR_ID));
            }
            st.calls.insert(
                call_id.clone(),
                CallLog {
                    direction,
                    answered: false,
                    hung_up: false,
                },
            );
            if direction == Direction::In && cfg.blocked_caller_ids.contains(&from) {
                answered = json!({ "action": "reject", "reason": "busy" });
            } else if direction == Direction::Out
                && let Some(caller_id) = &cfg.outbound_caller_id
            {
                answered = json!({ "action": "dial", "caller_id": caller_id, "number": to });
            }
        }
        CtiEventKind::Answer | CtiEventKind::Hangup => {
            let Some(log) = st.calls.get_mut(&call_id) else {
                ctx.flag(
                    "cti.order",
                    format!(
                        "{} for callId {call_id:?} without a newCall",
                        event.as_str()
                    ),
                );
                return Err(cti_err(StatusCode::INTERNAL_SERVER_ERROR, ERROR_ID));
            };
            if log.direction != direction {
                ctx.flag(
                    "cti.direction",
                    format!(
                        "{} changes the direction of callId {call_id:?}",
                        event.as_str()
                    ),
                );
            }
            if log.hung_up {
                ctx.flag(
                    "cti.order",
                    format!("{} after the hangup of callId {call_id:?}", event.as_str()),
                );
            }
            if event == CtiEventKind::Answer {
                if log.answered {
                    ctx.flag("cti.order", format!("second answer for callId {call_id:?}"));
                }
                log.answered = true;
            } else {
                log.hung_up = true;
            }
        }
    }
    st.cti_events.push(CtiEvent {
        event,
        call_id,
        from,
        to,
        direction,
        user,
        queue,
        answering_number,
        cause,
        encoding,
        answered: answered.clone(),
    });
    Ok((StatusCode::OK, answered))
}
