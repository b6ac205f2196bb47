//! One request served: the accept loop, injected failures and lost answers, the violations a
//! request collects ([`Ctx`]), the routing to the CTI endpoint or the REST API, and Zammad's
//! error bodies.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, request::Parts};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::cti::cti;
use super::receiver::{Shared, State};
use super::rest::rest;
use super::{Received, Violation, ZammadConfig};

/// Largest request body read; Zammad's limit is higher, but nothing firstline sends comes close.
const BODY_LIMIT: usize = 1 << 20;

pub(crate) async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    // Dropping the set (when the receiver aborts this task) aborts the connections too.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if shared.down.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                let shared = shared.clone();
                conns.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req| handle(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// A status and a JSON body.
pub(crate) type Reply = (StatusCode, Value);
/// `Err` is the early answer of a refused request.
pub(crate) type Handled = Result<Reply, Reply>;

/// The request being checked, collecting its violations.
pub(crate) struct Ctx {
    method: String,
    path: String,
    found: Vec<Violation>,
}

impl Ctx {
    pub(crate) fn flag(&mut self, rule: &'static str, detail: impl Into<String>) {
        self.found.push(Violation {
            method: self.method.clone(),
            path: self.path.clone(),
            rule,
            detail: detail.into(),
        });
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "closed by the test")
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, io::Error> {
    if shared.down.load(Ordering::SeqCst) {
        return Err(closed());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), BODY_LIMIT).await;
    let headers = &parts.headers;
    let mut rec = Received {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        idempotency_key: header(headers, "idempotency-key").map(str::to_owned),
        on_behalf_of: header(headers, "from")
            .or_else(|| header(headers, "x-on-behalf-of"))
            .map(str::to_owned),
        status: 0,
        injected: false,
        answer_lost: false,
    };
    let mut st = shared.lock();
    if st.fail_next > 0 {
        st.fail_next -= 1;
        let status =
            StatusCode::from_u16(st.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        rec.status = status.as_u16();
        rec.injected = true;
        st.requests.push(rec);
        let reason = format!(
            "{} (injected by the test)",
            status.canonical_reason().unwrap_or("Error")
        );
        return Ok(json_response(status, &zerr(status, reason).1));
    }
    let mut ctx = Ctx {
        method: rec.method.clone(),
        path: rec.path.clone(),
        found: Vec::new(),
    };
    let (status, answer) = match bytes {
        Ok(b) => route(&shared.config, &mut st, &mut ctx, &parts, &b),
        Err(_) => {
            ctx.flag(
                "rest.body",
                format!("the body is larger than {BODY_LIMIT} bytes"),
            );
            zerr(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
        }
    };
    st.violations.append(&mut ctx.found);
    if status.is_success()
        && let Some(key) = &rec.idempotency_key
    {
        let entry = st
            .accepted_keys
            .entry(key.clone())
            .or_insert_with(|| (rec.method.clone(), rec.path.clone(), 0));
        entry.2 += 1;
        let created = rec.method == "POST" && rec.path == "/api/v1/tickets";
        if created
            && status == StatusCode::CREATED
            && let Some(t) = st.tickets.last_mut()
        {
            t.idempotency_key = Some(key.clone());
        }
    }
    let lose = status.is_success() && st.lose_next > 0;
    if lose {
        st.lose_next -= 1;
    }
    rec.status = status.as_u16();
    rec.answer_lost = lose;
    st.requests.push(rec);
    drop(st);
    if lose {
        return Err(closed());
    }
    let mut resp = json_response(status, &answer);
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        // Zammad repeats the reason in X-Failure on 401 and 403 (handles_errors.rb).
        if let Some(v) = answer["error"]
            .as_str()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            resp.headers_mut().insert("x-failure", v);
        }
    }
    Ok(resp)
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Zammad's REST error body (handles_errors.rb: `error`, and `error_human` where it has one).
pub(crate) fn zerr(status: StatusCode, msg: impl Into<String>) -> Reply {
    let msg = msg.into();
    (status, json!({ "error": msg, "error_human": msg }))
}

/// The CTI controller's own error body: `error` only (integration/cti_controller.rb).
pub(crate) fn cti_err(status: StatusCode, msg: &str) -> Reply {
    (status, json!({ "error": msg }))
}

pub(crate) const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

fn route(cfg: &ZammadConfig, st: &mut State, ctx: &mut Ctx, parts: &Parts, body: &[u8]) -> Reply {
    let path = parts.uri.path().to_owned();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let ("POST", ["api", "v1", "cti", token]) = (parts.method.as_str(), segs.as_slice()) {
        return cti(cfg, st, ctx, parts, token, body).unwrap_or_else(|e| e);
    }
    rest(cfg, st, ctx, parts, &segs, body).unwrap_or_else(|e| e)
}
