//! A strict stand-in for Zammad, the ticket system, inside the test process: the generic CTI
//! endpoint the PBX side calls and the REST calls a helpdesk integration makes (tickets, articles,
//! users), each checked field by field against Zammad's published documentation and source.
//!
//! Zammad cannot be installed on the test machine, so the integration tests run against this
//! receiver. It is written from the docs independently of firstline's adapter: a second reading,
//! so the adapter is held to the documented shapes rather than to its own idea of them. Every
//! deviation becomes a [`Violation`] (answered with the status Zammad would give, where Zammad
//! would refuse); a test ends with `receiver.assert_no_violations()`. docs/zammad.md lists each
//! rule with its source.

// The API is for the adapter's tests; not every item is used by every test.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, request::Parts};
use base64::Engine;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};

use crate::helpers::within;

/// Largest request body read; Zammad's limit is higher, but nothing firstline sends comes close.
const BODY_LIMIT: usize = 1 << 20;

/// What Zammad answers for an unexpected exception when the caller is not an admin
/// (app/controllers/application_controller/handles_errors.rb, `humanize_error`).
const ERROR_ID: &str = "Error ID zRcvr1: Please contact your administrator.";

/// The receiver's setup: tokens, groups and the customers it knows before the test starts.
#[derive(Clone, Debug)]
pub(crate) struct ZammadConfig {
    /// The token in the CTI endpoint's path (`/api/v1/cti/<token>`).
    pub(crate) cti_token: String,
    /// The REST API access token (`Authorization: Token token=<token>` or `Bearer <token>`).
    pub(crate) api_token: String,
    /// Group names, ids 1, 2, … in this order.
    pub(crate) groups: Vec<String>,
    /// Customers known before the test, user ids from 3 on (1 is Zammad's `-`, 2 the API agent).
    pub(crate) customers: Vec<KnownCustomer>,
    /// Caller ids blocked in the CTI settings: a `newCall` in from one is answered with a reject.
    pub(crate) blocked_caller_ids: Vec<String>,
    /// Default caller id for outbound calls: a `newCall` out is answered with a `dial` action.
    pub(crate) outbound_caller_id: Option<String>,
    /// Zammad's `system_id`, the prefix of ticket numbers ("22" gives 22001, 22002, …).
    pub(crate) system_id: String,
    /// The e-mail (and login) of the agent the API token belongs to.
    pub(crate) agent_email: String,
}

impl Default for ZammadConfig {
    fn default() -> Self {
        ZammadConfig {
            cti_token: "cti0TestToken0123456789abcdef".into(),
            api_token: "api0TestToken0123456789abcdef".into(),
            groups: vec!["Users".into(), "Service Desk".into()],
            customers: Vec::new(),
            blocked_caller_ids: Vec::new(),
            outbound_caller_id: None,
            system_id: "22".into(),
            agent_email: "firstline@helpdesk.example".into(),
        }
    }
}

/// A customer the receiver knows from the start.
#[derive(Clone, Debug)]
pub(crate) struct KnownCustomer {
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) firstname: String,
    pub(crate) lastname: String,
}

impl KnownCustomer {
    /// A customer with an e-mail and a phone number (as Zammad stores it, any format).
    pub(crate) fn new(email: &str, phone: &str) -> KnownCustomer {
        KnownCustomer {
            email: email.into(),
            phone: phone.into(),
            firstname: String::new(),
            lastname: String::new(),
        }
    }

    /// The same customer with a name.
    pub(crate) fn named(mut self, firstname: &str, lastname: &str) -> KnownCustomer {
        self.firstname = firstname.into();
        self.lastname = lastname.into();
        self
    }
}

/// One way a request differed from Zammad's documented shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) method: String,
    pub(crate) path: String,
    /// A short code such as `cti.cause` or `ticket.group` (docs/zammad.md lists them).
    pub(crate) rule: &'static str,
    pub(crate) detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} ({} {})",
            self.rule, self.detail, self.method, self.path
        )
    }
}

/// The three generic CTI events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CtiEventKind {
    NewCall,
    Answer,
    Hangup,
}

impl CtiEventKind {
    fn parse(s: &str) -> Option<CtiEventKind> {
        match s {
            "newCall" => Some(CtiEventKind::NewCall),
            "answer" => Some(CtiEventKind::Answer),
            "hangup" => Some(CtiEventKind::Hangup),
            _ => None,
        }
    }

    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CtiEventKind::NewCall => "newCall",
            CtiEventKind::Answer => "answer",
            CtiEventKind::Hangup => "hangup",
        }
    }
}

/// `in` (a customer calls) or `out` (an agent calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    In,
    Out,
}

/// The documented `cause` values of a `hangup`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HangupCause {
    NormalClearing,
    Busy,
    Cancel,
    NoAnswer,
    Congestion,
    NotFound,
    Forwarded,
}

impl HangupCause {
    const ALL: [(&'static str, HangupCause); 7] = [
        ("normalClearing", HangupCause::NormalClearing),
        ("busy", HangupCause::Busy),
        ("cancel", HangupCause::Cancel),
        ("noAnswer", HangupCause::NoAnswer),
        ("congestion", HangupCause::Congestion),
        ("notFound", HangupCause::NotFound),
        ("forwarded", HangupCause::Forwarded),
    ];

    fn parse(s: &str) -> Option<HangupCause> {
        HangupCause::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|&(_, c)| c)
    }

    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        HangupCause::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("", |(n, _)| n)
    }
}

/// How a CTI event's fields were encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CtiEncoding {
    Json,
    FormUrlEncoded,
    Multipart,
}

/// A CTI event the receiver accepted (answered 200), parsed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CtiEvent {
    pub(crate) event: CtiEventKind,
    pub(crate) call_id: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) direction: Direction,
    /// `user` / `user[]`: the agents' real names (empty when not sent).
    pub(crate) user: Vec<String>,
    pub(crate) queue: Option<String>,
    pub(crate) answering_number: Option<String>,
    /// Only on `hangup`; `None` when missing or not a documented value (both are violations).
    pub(crate) cause: Option<HangupCause>,
    pub(crate) encoding: CtiEncoding,
    /// What the receiver answered: `{}`, a reject or a dial action.
    pub(crate) answered: Value,
}

/// A ticket as the receiver holds it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ticket {
    /// Zammad's database id: what `/api/v1/tickets/{id}` and `ticket_id` take.
    pub(crate) id: u64,
    /// The ticket number agents see, a string such as "22001" (not the id).
    pub(crate) number: String,
    pub(crate) title: String,
    pub(crate) group: String,
    /// The customer's login (their e-mail for customers created from an e-mail).
    pub(crate) customer: String,
    pub(crate) customer_id: u64,
    pub(crate) state: String,
    pub(crate) priority: String,
    /// Oldest first.
    pub(crate) articles: Vec<Article>,
    /// The `Idempotency-Key` of the request that created it, if one was sent.
    pub(crate) idempotency_key: Option<String>,
}

/// One article (a phone call, a note, …) of a ticket.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Article {
    pub(crate) id: u64,
    pub(crate) subject: Option<String>,
    pub(crate) body: String,
    /// Zammad's article `type`: `phone` or `note` from firstline.
    pub(crate) kind: String,
    /// `Agent`, `Customer` or `System`.
    pub(crate) sender: String,
    pub(crate) internal: bool,
    pub(crate) content_type: String,
}

/// A user (customer or the API agent) as the receiver holds it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct User {
    pub(crate) id: u64,
    pub(crate) login: String,
    pub(crate) email: String,
    pub(crate) phone: String,
    pub(crate) mobile: String,
    pub(crate) firstname: String,
    pub(crate) lastname: String,
    pub(crate) agent: bool,
}

/// One request as it arrived, in order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Received {
    pub(crate) method: String,
    /// Without the query.
    pub(crate) path: String,
    pub(crate) idempotency_key: Option<String>,
    /// The `From` (or deprecated `X-On-Behalf-Of`) header.
    pub(crate) on_behalf_of: Option<String>,
    /// The status decided (also when the answer was then withheld).
    pub(crate) status: u16,
    /// Answered by [`ZammadReceiver::fail_next`], not processed.
    pub(crate) injected: bool,
    /// Processed, but the connection was closed instead of answering
    /// ([`ZammadReceiver::lose_next`]).
    pub(crate) answer_lost: bool,
}

/// An `Idempotency-Key` whose request was processed successfully more than once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Duplicate {
    pub(crate) key: String,
    pub(crate) method: String,
    pub(crate) path: String,
    /// How many times in all a request with this key was processed with a 2xx answer.
    pub(crate) times: usize,
}

/// The running receiver; dropping it stops the server.
pub(crate) struct ZammadReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ZammadReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    config: ZammadConfig,
    down: AtomicBool,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the record from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct State {
    users: Vec<User>,
    tickets: Vec<Ticket>,
    next_article_id: u64,
    ticket_counter: u64,
    calls: HashMap<String, CallLog>,
    cti_events: Vec<CtiEvent>,
    violations: Vec<Violation>,
    requests: Vec<Received>,
    /// Idempotency key → (method, path, times processed with a 2xx).
    accepted_keys: BTreeMap<String, (String, String, usize)>,
    fail_next: u32,
    fail_status: u16,
    lose_next: u32,
}

/// What the receiver remembers of a call, as Zammad's caller log does (app/models/cti/log.rb).
struct CallLog {
    direction: Direction,
    answered: bool,
    hung_up: bool,
}

impl ZammadReceiver {
    /// Binds 127.0.0.1 on port 0 and serves until dropped.
    pub(crate) async fn start(config: ZammadConfig) -> ZammadReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut state = State {
            next_article_id: 1,
            ..State::default()
        };
        state.users.push(User {
            id: 1,
            login: "-".into(),
            email: String::new(),
            phone: String::new(),
            mobile: String::new(),
            firstname: "-".into(),
            lastname: String::new(),
            agent: false,
        });
        state.users.push(User {
            id: 2,
            login: config.agent_email.clone(),
            email: config.agent_email.clone(),
            phone: String::new(),
            mobile: String::new(),
            firstname: "firstline".into(),
            lastname: "API".into(),
            agent: true,
        });
        for c in &config.customers {
            let id = state.users.len() as u64 + 1;
            state.users.push(User {
                id,
                login: c.email.to_lowercase(),
                email: c.email.clone(),
                phone: c.phone.clone(),
                mobile: String::new(),
                firstname: c.firstname.clone(),
                lastname: c.lastname.clone(),
                agent: false,
            });
        }
        let shared = Arc::new(Shared {
            config,
            down: AtomicBool::new(false),
            state: Mutex::new(state),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        ZammadReceiver { addr, shared, task }
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (the REST API is under `/api/v1/`).
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The generic CTI endpoint with its token, as Zammad shows it in the integration settings.
    pub(crate) fn cti_url(&self) -> String {
        format!("{}{}", self.url(), self.cti_path())
    }

    /// The path part of [`Self::cti_url`].
    pub(crate) fn cti_path(&self) -> String {
        format!("/api/v1/cti/{}", self.shared.config.cti_token)
    }

    /// The REST API token the receiver accepts.
    pub(crate) fn api_token(&self) -> &str {
        &self.shared.config.api_token
    }

    /// The configuration it was started with.
    pub(crate) fn config(&self) -> &ZammadConfig {
        &self.shared.config
    }

    /// Everything that did not match the documented shapes, oldest first.
    pub(crate) fn violations(&self) -> Vec<Violation> {
        self.shared.lock().violations.clone()
    }

    /// The violations so far, clearing them.
    pub(crate) fn take_violations(&self) -> Vec<Violation> {
        std::mem::take(&mut self.shared.lock().violations)
    }

    /// Panics with the list if anything violated the documented shapes.
    #[track_caller]
    pub(crate) fn assert_no_violations(&self) {
        let v = self.violations();
        if !v.is_empty() {
            let list: Vec<String> = v.iter().map(|v| format!("  {v}")).collect();
            panic!(
                "Zammad receiver saw {} violation(s):\n{}",
                v.len(),
                list.join("\n")
            );
        }
    }

    /// The accepted CTI events, in arrival order.
    pub(crate) fn cti_events(&self) -> Vec<CtiEvent> {
        self.shared.lock().cti_events.clone()
    }

    /// The tickets, by id.
    pub(crate) fn tickets(&self) -> Vec<Ticket> {
        self.shared.lock().tickets.clone()
    }

    /// All users: 1 `-`, 2 the API agent, then the configured customers, then created ones.
    pub(crate) fn users(&self) -> Vec<User> {
        self.shared.lock().users.clone()
    }

    /// Every request, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Received> {
        self.shared.lock().requests.clone()
    }

    /// Idempotency keys processed successfully more than once. A retry after an injected failure
    /// or a refused connection is not a duplicate; a retry after a lost answer is.
    pub(crate) fn duplicates(&self) -> Vec<Duplicate> {
        self.shared
            .lock()
            .accepted_keys
            .iter()
            .filter(|(_, (_, _, times))| *times > 1)
            .map(|(key, (method, path, times))| Duplicate {
                key: key.clone(),
                method: method.clone(),
                path: path.clone(),
                times: *times,
            })
            .collect()
    }

    /// Answers the next `n` requests (any endpoint) with `status` and a Zammad-style error body,
    /// without processing them.
    pub(crate) fn fail_next(&self, n: u32, status: u16) {
        let mut st = self.shared.lock();
        st.fail_next = n;
        st.fail_status = status;
    }

    /// Processes the next `n` successful requests, then closes the connection instead of
    /// answering: the caller cannot know the ticket was made (the case idempotency keys are for).
    pub(crate) fn lose_next(&self, n: u32) {
        self.shared.lock().lose_next = n;
    }

    /// While down, new connections are accepted and closed at once, and requests on open
    /// keep-alive connections are answered by closing the connection.
    pub(crate) fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
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

/// The receiver's answer to a user without any identifier (its wording, see docs/zammad.md).
const NO_IDENTIFIER: &str =
    "At least one identifier (firstname, lastname, phone, mobile or email) for user is required.";

/// A status and a JSON body.
type Reply = (StatusCode, Value);
/// `Err` is the early answer of a refused request.
type Handled = Result<Reply, Reply>;

/// The request being checked, collecting its violations.
struct Ctx {
    method: String,
    path: String,
    found: Vec<Violation>,
}

impl Ctx {
    fn flag(&mut self, rule: &'static str, detail: impl Into<String>) {
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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Zammad's REST error body (handles_errors.rb: `error`, and `error_human` where it has one).
fn zerr(status: StatusCode, msg: impl Into<String>) -> Reply {
    let msg = msg.into();
    (status, json!({ "error": msg, "error_human": msg }))
}

/// The CTI controller's own error body: `error` only (integration/cti_controller.rb).
fn cti_err(status: StatusCode, msg: &str) -> Reply {
    (status, json!({ "error": msg }))
}

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

fn route(cfg: &ZammadConfig, st: &mut State, ctx: &mut Ctx, parts: &Parts, body: &[u8]) -> Reply {
    let path = parts.uri.path().to_owned();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let ("POST", ["api", "v1", "cti", token]) = (parts.method.as_str(), segs.as_slice()) {
        return cti(cfg, st, ctx, parts, token, body).unwrap_or_else(|e| e);
    }
    rest(cfg, st, ctx, parts, &segs, body).unwrap_or_else(|e| e)
}

// ---------------------------------------------------------------------------------------------
// Generic CTI: POST /api/v1/cti/:token (config/routes/integration_cti.rb), fields from
// https://docs.zammad.org/en/latest/api/generic-cti/{newcall,answer,hangup}-event.html.

/// A CTI field: one value, or the repeated `user[]`.
enum CtiVal {
    One(String),
    List(Vec<String>),
}

type CtiFields = BTreeMap<String, CtiVal>;

fn cti(
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

// ---------------------------------------------------------------------------------------------
// REST API: https://docs.zammad.org/en/latest/api/ (intro, ticket/index, ticket/articles, user).

const STATES: &[(u64, &str)] = &[
    (1, "new"),
    (2, "open"),
    (3, "pending reminder"),
    (4, "closed"),
    (5, "merged"),
    (6, "removed"),
    (7, "pending close"),
];
const PRIORITIES: &[(u64, &str)] = &[(1, "1 low"), (2, "2 normal"), (3, "3 high")];
const ARTICLE_TYPES: &[(u64, &str)] = &[
    (1, "email"),
    (2, "sms"),
    (3, "chat"),
    (4, "fax"),
    (5, "phone"),
    (6, "twitter status"),
    (7, "twitter direct-message"),
    (8, "facebook feed post"),
    (9, "facebook feed comment"),
    (10, "note"),
    (11, "web"),
    (12, "telegram personal-message"),
];
const SENDERS: &[(u64, &str)] = &[(1, "Agent"), (2, "Customer"), (3, "System")];
const CONTENT_TYPES: &[&str] = &["text/plain", "text/html"];

/// Ticket attributes (api/ticket/index.rst and the ticket payloads in api/intro.rst).
const TICKET_FIELDS: &str = "title group group_id customer customer_id state state_id priority \
    priority_id owner owner_id organization organization_id note pending_time tags mentions \
    article links preferences";
/// Article attributes (api/ticket/articles.rst, creates_ticket_articles.rb).
const ARTICLE_FIELDS: &str = "subject body content_type type type_id internal sender sender_id \
    from to cc reply_to time_unit attachments origin_by origin_by_id preferences subtype";
/// User attributes (api/user.rst and the user payload in api/intro.rst).
const USER_FIELDS: &str = "login firstname lastname email phone mobile fax web department \
    street zip city country address organization organization_id note vip active verified \
    password role_ids roles group_ids groups";
/// Search parameters (api/user.rst; api/intro.rst, "Pagination" and "Sorting").
const SEARCH_PARAMS: &str = "query limit page per_page sort_by order_by expand full";

enum RestRoute {
    CreateTicket,
    ShowTicket(String),
    UpdateTicket(String),
    CreateArticle,
    ArticlesByTicket(String),
    SearchUsers,
    Me,
    CreateUser,
}

fn rest(
    cfg: &ZammadConfig,
    st: &mut State,
    ctx: &mut Ctx,
    parts: &Parts,
    segs: &[&str],
    body: &[u8],
) -> Handled {
    let method = parts.method.as_str();
    let route = match (method, segs) {
        ("POST", ["api", "v1", "tickets"]) => RestRoute::CreateTicket,
        ("GET", ["api", "v1", "tickets", id]) if *id != "search" => {
            RestRoute::ShowTicket((*id).into())
        }
        ("PUT", ["api", "v1", "tickets", id]) => RestRoute::UpdateTicket((*id).into()),
        ("POST", ["api", "v1", "ticket_articles"]) => RestRoute::CreateArticle,
        ("GET", ["api", "v1", "ticket_articles", "by_ticket", id]) => {
            RestRoute::ArticlesByTicket((*id).into())
        }
        ("GET", ["api", "v1", "users", "search"]) => RestRoute::SearchUsers,
        ("GET", ["api", "v1", "users", "me"]) => RestRoute::Me,
        ("POST", ["api", "v1", "users"]) => RestRoute::CreateUser,
        _ => {
            let path = parts.uri.path();
            ctx.flag(
                "rest.route",
                format!(
                    "{method} {path} is not an endpoint this receiver emulates (docs/zammad.md)"
                ),
            );
            return Err(zerr(
                StatusCode::NOT_FOUND,
                format!("No route matches [{method}] {path:?}"),
            ));
        }
    };
    authenticate(cfg, ctx, &parts.headers)?;
    on_behalf_of(st, ctx, &parts.headers)?;
    let query = parts
        .uri
        .query()
        .map(form_pairs)
        .transpose()
        .map_err(|e| {
            ctx.flag(
                "rest.query",
                format!("the query string cannot be read: {e}"),
            );
            zerr(StatusCode::BAD_REQUEST, "Bad Request")
        })?
        .unwrap_or_default();
    let expand = query.iter().any(|(k, v)| k == "expand" && v == "true");
    let obj = if matches!(method, "POST" | "PUT") {
        json_object(ctx, &parts.headers, body)?
    } else {
        Map::new()
    };
    match route {
        RestRoute::CreateTicket => create_ticket(cfg, st, ctx, &obj, expand),
        RestRoute::ShowTicket(id) => {
            let i = find_ticket(st, ctx, &id)?;
            Ok((StatusCode::OK, ticket_json(cfg, st, &st.tickets[i], expand)))
        }
        RestRoute::UpdateTicket(id) => update_ticket(cfg, st, ctx, &id, &obj, expand),
        RestRoute::CreateArticle => create_article(st, ctx, &obj),
        RestRoute::ArticlesByTicket(id) => {
            let i = find_ticket(st, ctx, &id)?;
            let t = &st.tickets[i];
            let list = t.articles.iter().map(|a| article_json(a, t.id)).collect();
            Ok((StatusCode::OK, Value::Array(list)))
        }
        RestRoute::SearchUsers => search_users(st, ctx, &query),
        RestRoute::Me => {
            let me = st
                .users
                .iter()
                .find(|u| u.agent)
                .map(user_json)
                .unwrap_or(Value::Null);
            Ok((StatusCode::OK, me))
        }
        RestRoute::CreateUser => create_user(st, ctx, &obj),
    }
}

/// ApplicationController::Authenticates: no credentials → 403 "Authentication required";
/// credentials that match no user → 401.
fn authenticate(cfg: &ZammadConfig, ctx: &mut Ctx, headers: &HeaderMap) -> Result<(), Reply> {
    let Some(value) = header(headers, "authorization") else {
        ctx.flag(
            "rest.auth",
            "no Authorization header (Zammad wants `Token token=<token>` or `Bearer <token>`)",
        );
        return Err(zerr(StatusCode::FORBIDDEN, "Authentication required"));
    };
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        // Rails' token parser takes `Token token=abc`, `Token token="abc"` and `Token abc`.
        "token" => {
            let token = rest
                .strip_prefix("token=")
                .unwrap_or(rest)
                .trim_matches('"');
            if token == cfg.api_token {
                return Ok(());
            }
            ctx.flag("rest.auth", "the API token is not the configured one");
            Err(zerr(StatusCode::UNAUTHORIZED, "Can't find User for Token"))
        }
        "bearer" => {
            if rest == cfg.api_token {
                return Ok(());
            }
            ctx.flag("rest.auth", "the Bearer token is not the configured one");
            Err(zerr(
                StatusCode::UNAUTHORIZED,
                "The provided token is invalid.",
            ))
        }
        "basic" => {
            ctx.flag("rest.auth", "basic authentication: use the API token");
            Err(zerr(
                StatusCode::UNAUTHORIZED,
                "Invalid BasicAuth credentials",
            ))
        }
        other => {
            ctx.flag(
                "rest.auth",
                format!("Authorization scheme {other:?}: use Token or Bearer"),
            );
            Err(zerr(StatusCode::FORBIDDEN, "Authentication required"))
        }
    }
}

/// ApplicationController::HasUser: `From` (or the deprecated `X-On-Behalf-Of`) names a user by
/// id, login or e-mail; an unknown one → 403.
fn on_behalf_of(st: &State, ctx: &mut Ctx, headers: &HeaderMap) -> Result<(), Reply> {
    if header(headers, "x-on-behalf-of").is_some() {
        ctx.flag(
            "rest.on_behalf_of",
            "X-On-Behalf-Of is deprecated: Zammad asks for the From header",
        );
    }
    let Some(who) = header(headers, "from").or_else(|| header(headers, "x-on-behalf-of")) else {
        return Ok(());
    };
    let who_l = who.trim().to_lowercase();
    let found = st.users.iter().any(|u| {
        u.id.to_string() == who_l
            || u.login.to_lowercase() == who_l
            || (!u.email.is_empty() && u.email.to_lowercase() == who_l)
    });
    if found {
        return Ok(());
    }
    ctx.flag(
        "rest.on_behalf_of",
        format!("no user {who:?} (id, login or e-mail) to act for"),
    );
    Err(zerr(StatusCode::FORBIDDEN, format!("No such user '{who}'")))
}

fn json_object(
    ctx: &mut Ctx,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, Reply> {
    let ct = header(headers, "content-type").unwrap_or("");
    if mime(ct) != "application/json" {
        ctx.flag(
            "rest.content_type",
            format!("Content-Type {ct:?}: Zammad's API takes application/json"),
        );
        return Err(zerr(
            UNPROCESSABLE,
            "this receiver reads only application/json bodies",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => {
            ctx.flag(
                "rest.json",
                format!("the body must be a JSON object, got {other}"),
            );
            Err(zerr(UNPROCESSABLE, "the body must be a JSON object"))
        }
        Err(e) => {
            ctx.flag("rest.json", format!("the body is not JSON: {e}"));
            Err(zerr(StatusCode::BAD_REQUEST, "Bad Request"))
        }
    }
}

/// Flags keys outside `allowed`, a space-separated list (Zammad's `param_cleanup` keeps only
/// the model's attributes and drops the rest silently; the receiver tells).
fn check_fields(
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
    allowed: &str,
    rule: &'static str,
    what: &str,
) {
    for k in obj.keys() {
        if !allowed.split_whitespace().any(|a| a == k) {
            let hint = match k.as_str() {
                "number" => " (the ticket number cannot be set or changed)",
                "type" if what == "ticket" => " (the article type goes in article.type)",
                _ => "",
            };
            ctx.flag(rule, format!("{k} is not a {what} attribute{hint}"));
        }
    }
}

/// A name (`what`) or id (`what_id`) from `table`; `Ok(None)` when neither is given.
fn lookup<'t>(
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
    what: &str,
    rule: &'static str,
    table: &[(u64, &'t str)],
) -> Result<Option<(u64, &'t str)>, Reply> {
    let id_key = format!("{what}_id");
    let (by_name, by_id) = (obj.get(what), obj.get(&id_key));
    if by_name.is_some() && by_id.is_some() {
        ctx.flag(rule, format!("both {what} and {id_key} given; send one"));
    }
    let names: Vec<&str> = table.iter().map(|(_, n)| *n).collect();
    if let Some(v) = by_name {
        let Some(name) = v.as_str() else {
            ctx.flag(
                rule,
                format!("{what} must be a name (one of {names:?}), got {v}"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                format!("No lookup value found for '{what}': {v}"),
            ));
        };
        return match table.iter().find(|(_, n)| *n == name) {
            Some(&(id, n)) => Ok(Some((id, n))),
            None => {
                ctx.flag(rule, format!("{what} {name:?} is not one of {names:?}"));
                Err(zerr(
                    UNPROCESSABLE,
                    format!("No lookup value found for '{what}': {name:?}"),
                ))
            }
        };
    }
    if let Some(v) = by_id {
        let id = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => {
                ctx.flag(
                    rule,
                    format!("{id_key} should be a JSON integer, got the string {s:?}"),
                );
                s.parse().ok()
            }
            _ => None,
        };
        return match id.and_then(|id| table.iter().find(|(i, _)| *i == id)) {
            Some(&(id, n)) => Ok(Some((id, n))),
            None => {
                let ids: Vec<u64> = table.iter().map(|(i, _)| *i).collect();
                ctx.flag(rule, format!("{id_key} {v} is not one of {ids:?}"));
                Err(zerr(
                    UNPROCESSABLE,
                    format!("Invalid value for param '{id_key}': {v}"),
                ))
            }
        };
    }
    Ok(None)
}

fn group_table(cfg: &ZammadConfig) -> Vec<(u64, &str)> {
    cfg.groups
        .iter()
        .enumerate()
        .map(|(i, g)| (i as u64 + 1, g.as_str()))
        .collect()
}

fn check_state_use(ctx: &mut Ctx, state: &str) {
    match state {
        "removed" => ctx.flag("ticket.state", "state removed is inactive in Zammad"),
        "merged" => ctx.flag(
            "ticket.state",
            "state merged is set by merging tickets, not by the API",
        ),
        _ => {}
    }
}

fn opt_string(
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
    key: &str,
    rule: &'static str,
) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => {
            ctx.flag(rule, format!("{key} must be a string, got {other}"));
            Some(other.to_string())
        }
    }
}

fn create_ticket(
    cfg: &ZammadConfig,
    st: &mut State,
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
    expand: bool,
) -> Handled {
    check_fields(ctx, obj, TICKET_FIELDS, "ticket.unknown_field", "ticket");
    let title = match obj.get("title") {
        Some(Value::String(t)) if !t.trim().is_empty() => t.clone(),
        other => {
            ctx.flag(
                "ticket.title",
                format!("title is required (a non-empty string), got {other:?}"),
            );
            return Err(zerr(UNPROCESSABLE, "Title can't be blank"));
        }
    };
    let groups = group_table(cfg);
    let Some((_, group)) = lookup(ctx, obj, "group", "ticket.group", &groups)? else {
        ctx.flag("ticket.group", "group (or group_id) is required");
        return Err(zerr(UNPROCESSABLE, "Group can't be blank"));
    };
    let (_, state) = lookup(ctx, obj, "state", "ticket.state", STATES)?.unwrap_or((1, "new"));
    check_state_use(ctx, state);
    let (_, priority) =
        lookup(ctx, obj, "priority", "ticket.priority", PRIORITIES)?.unwrap_or((2, "2 normal"));
    let article = match obj.get("article") {
        None => None,
        Some(Value::Object(a)) => Some(parse_article(ctx, a, false)?),
        Some(v) => {
            ctx.flag(
                "ticket.article",
                format!("article must be an object, got {v}"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                "Need at least article: { body: \"some text\" }",
            ));
        }
    };
    let Some(customer_id) = resolve_customer(st, ctx, obj)? else {
        ctx.flag(
            "ticket.customer",
            "a ticket needs a customer (customer or customer_id)",
        );
        return Err(zerr(UNPROCESSABLE, "Customer can't be blank"));
    };
    st.ticket_counter += 1;
    let ticket = Ticket {
        id: st.tickets.len() as u64 + 1,
        number: ticket_number(&cfg.system_id, st.ticket_counter),
        title,
        group: group.to_owned(),
        customer: login_of(st, customer_id),
        customer_id,
        state: state.to_owned(),
        priority: priority.to_owned(),
        articles: Vec::new(),
        idempotency_key: None,
    };
    st.tickets.push(ticket);
    let i = st.tickets.len() - 1;
    if let Some(a) = article {
        add_article(st, i, a);
    }
    Ok((
        StatusCode::CREATED,
        ticket_json(cfg, st, &st.tickets[i], expand),
    ))
}

fn update_ticket(
    cfg: &ZammadConfig,
    st: &mut State,
    ctx: &mut Ctx,
    id: &str,
    obj: &Map<String, Value>,
    expand: bool,
) -> Handled {
    let i = find_ticket(st, ctx, id)?;
    check_fields(ctx, obj, TICKET_FIELDS, "ticket.unknown_field", "ticket");
    let title = match obj.get("title") {
        None => None,
        Some(Value::String(t)) if !t.trim().is_empty() => Some(t.clone()),
        Some(other) => {
            ctx.flag(
                "ticket.title",
                format!("title must be a non-empty string, got {other}"),
            );
            return Err(zerr(UNPROCESSABLE, "Title can't be blank"));
        }
    };
    let groups = group_table(cfg);
    let group = lookup(ctx, obj, "group", "ticket.group", &groups)?;
    let state = lookup(ctx, obj, "state", "ticket.state", STATES)?;
    if let Some((_, s)) = state {
        check_state_use(ctx, s);
    }
    let priority = lookup(ctx, obj, "priority", "ticket.priority", PRIORITIES)?;
    let article = match obj.get("article") {
        None => None,
        Some(Value::Object(a)) => Some(parse_article(ctx, a, false)?),
        Some(v) => {
            ctx.flag(
                "ticket.article",
                format!("article must be an object, got {v}"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                "Need at least article: { body: \"some text\" }",
            ));
        }
    };
    let customer_id = resolve_customer(st, ctx, obj)?;
    let customer = customer_id.map(|c| login_of(st, c));
    let t = &mut st.tickets[i];
    if let Some(title) = title {
        t.title = title;
    }
    if let Some((_, g)) = group {
        t.group = g.to_owned();
    }
    if let Some((_, s)) = state {
        t.state = s.to_owned();
    }
    if let Some((_, p)) = priority {
        t.priority = p.to_owned();
    }
    if let (Some(id), Some(login)) = (customer_id, customer) {
        t.customer_id = id;
        t.customer = login;
    }
    if let Some(a) = article {
        add_article(st, i, a);
    }
    Ok((StatusCode::OK, ticket_json(cfg, st, &st.tickets[i], expand)))
}

/// The index of the ticket with database id `id` (a path segment); 404 as Zammad's
/// ActiveRecord::RecordNotFound otherwise.
fn find_ticket(st: &State, ctx: &mut Ctx, id: &str) -> Result<usize, Reply> {
    if let Some(i) = id
        .parse::<u64>()
        .ok()
        .and_then(|n| st.tickets.iter().position(|t| t.id == n))
    {
        return Ok(i);
    }
    let hint = if st.tickets.iter().any(|t| t.number == id) {
        " (that is a ticket number; the API takes the ticket id)"
    } else {
        ""
    };
    ctx.flag(
        "ticket.not_found",
        format!("no ticket with id {id:?}{hint}"),
    );
    Err(zerr(
        StatusCode::NOT_FOUND,
        format!("Couldn't find Ticket with 'id'={id}"),
    ))
}

fn resolve_customer(
    st: &mut State,
    ctx: &mut Ctx,
    obj: &Map<String, Value>,
) -> Result<Option<u64>, Reply> {
    let (by_ref, by_id) = (obj.get("customer"), obj.get("customer_id"));
    if by_ref.is_some() && by_id.is_some() {
        ctx.flag(
            "ticket.customer",
            "both customer and customer_id given; send one",
        );
    }
    if let Some(v) = by_id {
        return match v {
            Value::Number(n) => match n
                .as_u64()
                .and_then(|id| st.users.iter().find(|u| u.id == id))
            {
                Some(u) => {
                    if u.agent || u.id == 1 {
                        ctx.flag(
                            "ticket.customer",
                            format!("customer_id {n} is the API agent or the system user"),
                        );
                    }
                    Ok(Some(u.id))
                }
                None => {
                    ctx.flag("ticket.customer", format!("customer_id {n} is no user"));
                    Err(zerr(
                        UNPROCESSABLE,
                        format!("Invalid value for param 'customer_id': {n}"),
                    ))
                }
            },
            // tickets_controller.rb: "guess:<email>" finds the customer or creates them.
            Value::String(s) if s.starts_with("guess:") => {
                let email = &s["guess:".len()..];
                if !valid_email(email) {
                    ctx.flag(
                        "ticket.customer",
                        format!("customer_id {s:?}: not a valid e-mail"),
                    );
                    return Err(zerr(
                        UNPROCESSABLE,
                        format!("Invalid email '{email}' of customer"),
                    ));
                }
                let found = st
                    .users
                    .iter()
                    .find(|u| u.email.eq_ignore_ascii_case(email))
                    .map(|u| u.id);
                Ok(Some(
                    found.unwrap_or_else(|| add_user(st, email, email, "", "", "")),
                ))
            }
            other => {
                ctx.flag(
                    "ticket.customer",
                    format!("customer_id {other}: an integer id or \"guess:<e-mail>\""),
                );
                Err(zerr(
                    UNPROCESSABLE,
                    format!("Invalid value for param 'customer_id': {other}"),
                ))
            }
        };
    }
    match by_ref {
        None => Ok(None),
        // association_name_to_id_convert: a User is looked up by login, then by e-mail.
        Some(Value::String(s)) => {
            let s_l = s.to_lowercase();
            let found = st
                .users
                .iter()
                .find(|u| u.login.to_lowercase() == s_l)
                .or_else(|| {
                    st.users
                        .iter()
                        .find(|u| !u.email.is_empty() && u.email.to_lowercase() == s_l)
                });
            match found {
                Some(u) => Ok(Some(u.id)),
                None => {
                    let hint = if s.starts_with("guess:") {
                        " (the guess: prefix works in customer_id, not in customer)"
                    } else {
                        " (use customer_id \"guess:<e-mail>\" to create them)"
                    };
                    ctx.flag(
                        "ticket.customer",
                        format!("no user with login or e-mail {s:?}{hint}"),
                    );
                    Err(zerr(
                        UNPROCESSABLE,
                        format!("No lookup value found for 'customer': {s:?}"),
                    ))
                }
            }
        }
        // tickets_controller.rb: a customer object is found by id, e-mail or login, or created.
        Some(Value::Object(c)) => {
            check_fields(
                ctx,
                c,
                &format!("id {USER_FIELDS}"),
                "user.unknown_field",
                "user",
            );
            let email = c.get("email").and_then(Value::as_str).unwrap_or("");
            let login = c.get("login").and_then(Value::as_str).unwrap_or("");
            let by_id = c.get("id").and_then(Value::as_u64);
            let found = st.users.iter().find(|u| {
                by_id == Some(u.id)
                    || (!email.is_empty() && u.email.eq_ignore_ascii_case(email))
                    || (!login.is_empty() && u.login.eq_ignore_ascii_case(login))
            });
            match found {
                Some(u) => Ok(Some(u.id)),
                None => new_user(st, ctx, c).map(Some),
            }
        }
        Some(other) => {
            ctx.flag(
                "ticket.customer",
                format!("customer must be a login/e-mail or an object, got {other}"),
            );
            Err(zerr(
                UNPROCESSABLE,
                format!("No lookup value found for 'customer': {other}"),
            ))
        }
    }
}

fn login_of(st: &State, user_id: u64) -> String {
    st.users
        .iter()
        .find(|u| u.id == user_id)
        .map(|u| u.login.clone())
        .unwrap_or_default()
}

/// An article checked but not stored yet.
struct NewArticle {
    subject: Option<String>,
    body: String,
    kind: &'static str,
    sender: &'static str,
    internal: bool,
    content_type: String,
}

/// CreatesTicketArticles#article_create and the article docs.
fn parse_article(
    ctx: &mut Ctx,
    a: &Map<String, Value>,
    standalone: bool,
) -> Result<NewArticle, Reply> {
    if standalone {
        check_fields(
            ctx,
            a,
            &format!("ticket_id {ARTICLE_FIELDS}"),
            "article.unknown_field",
            "article",
        );
    } else {
        check_fields(ctx, a, ARTICLE_FIELDS, "article.unknown_field", "article");
    }
    let body = match a.get("body") {
        Some(Value::String(b)) => {
            if b.trim().is_empty() {
                ctx.flag("article.body", "the article body is empty");
            }
            b.clone()
        }
        other => {
            ctx.flag(
                "article.body",
                format!("an article needs a body (a string), got {other:?}"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                "Need at least article: { body: \"some text\" }",
            ));
        }
    };
    let (_, kind) = lookup(ctx, a, "type", "article.type", ARTICLE_TYPES)?.unwrap_or((10, "note"));
    if !matches!(kind, "phone" | "note") {
        ctx.flag(
            "article.type",
            format!("type {kind:?}: firstline records calls as phone and remarks as note articles"),
        );
    }
    let (_, sender) = lookup(ctx, a, "sender", "article.sender", SENDERS)?.unwrap_or((1, "Agent"));
    let internal = match a.get("internal") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            ctx.flag(
                "article.internal",
                format!("internal must be true or false, got {other}"),
            );
            matches!(other.as_str(), Some("true"))
        }
    };
    let content_type = match opt_string(ctx, a, "content_type", "article.content_type") {
        None => "text/plain".to_owned(),
        Some(c) => {
            if !CONTENT_TYPES.contains(&c.as_str()) {
                ctx.flag(
                    "article.content_type",
                    format!("content_type {c:?} is not one of {CONTENT_TYPES:?}"),
                );
            }
            c
        }
    };
    let subject = opt_string(ctx, a, "subject", "article.subject");
    if let Some(list) = a.get("attachments") {
        check_attachments(ctx, list)?;
    }
    Ok(NewArticle {
        subject,
        body,
        kind,
        sender,
        internal,
        content_type,
    })
}

fn check_attachments(ctx: &mut Ctx, list: &Value) -> Result<(), Reply> {
    let Some(items) = list.as_array() else {
        ctx.flag("article.attachments", "attachments must be an array");
        return Err(zerr(UNPROCESSABLE, "attachments must be an array"));
    };
    for (index, item) in items.iter().enumerate() {
        for key in ["mime-type", "filename", "data"] {
            if item.get(key).is_none() {
                ctx.flag(
                    "article.attachments",
                    format!("attachment {index} has no {key}"),
                );
                return Err(zerr(
                    UNPROCESSABLE,
                    format!("Attachment needs '{key}' param for attachment with index '{index}'"),
                ));
            }
        }
        let data: String = item["data"]
            .as_str()
            .unwrap_or("")
            .chars()
            .filter(|c| *c != '\r' && *c != '\n')
            .collect();
        if base64::engine::general_purpose::STANDARD
            .decode(data)
            .is_err()
        {
            ctx.flag(
                "article.attachments",
                format!("attachment {index}: data is not base64"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                format!("Invalid base64 for attachment with index '{index}'"),
            ));
        }
    }
    Ok(())
}

fn add_article(st: &mut State, ticket: usize, a: NewArticle) -> Article {
    let article = Article {
        id: st.next_article_id,
        subject: a.subject,
        body: a.body,
        kind: a.kind.to_owned(),
        sender: a.sender.to_owned(),
        internal: a.internal,
        content_type: a.content_type,
    };
    st.next_article_id += 1;
    st.tickets[ticket].articles.push(article.clone());
    article
}

fn create_article(st: &mut State, ctx: &mut Ctx, obj: &Map<String, Value>) -> Handled {
    // ticket_articles_controller.rb: Ticket.find(params[:ticket_id]) comes first.
    let id = match obj.get("ticket_id") {
        None | Some(Value::Null) => {
            ctx.flag("article.ticket_id", "ticket_id is required");
            return Err(zerr(
                StatusCode::NOT_FOUND,
                "Couldn't find Ticket without an ID",
            ));
        }
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => {
            ctx.flag(
                "article.ticket_id",
                format!("ticket_id should be a JSON integer, got the string {s:?}"),
            );
            s.clone()
        }
        Some(other) => {
            ctx.flag(
                "article.ticket_id",
                format!("ticket_id must be an integer, got {other}"),
            );
            other.to_string()
        }
    };
    let i = find_ticket(st, ctx, &id)?;
    let a = parse_article(ctx, obj, true)?;
    let ticket_id = st.tickets[i].id;
    let article = add_article(st, i, a);
    Ok((StatusCode::CREATED, article_json(&article, ticket_id)))
}

fn search_users(st: &State, ctx: &mut Ctx, query: &[(String, String)]) -> Handled {
    for (k, _) in query {
        if !SEARCH_PARAMS.split_whitespace().any(|p| p == k) {
            ctx.flag(
                "user.search",
                format!("{k} is not a documented search parameter"),
            );
        }
    }
    let limit = match query.iter().find(|(k, _)| k == "limit") {
        None => usize::MAX,
        Some((_, v)) => v.parse().unwrap_or_else(|_| {
            ctx.flag("user.search", format!("limit {v:?} is not a number"));
            usize::MAX
        }),
    };
    let Some(q) = query
        .iter()
        .find(|(k, _)| k == "query")
        .map(|(_, v)| v.trim())
        .filter(|q| !q.is_empty())
    else {
        ctx.flag("user.search", "search without a query");
        return Ok((StatusCode::OK, json!([])));
    };
    let found: Vec<Value> = st
        .users
        .iter()
        .filter(|u| u.id > 1 && user_matches(u, q))
        .take(limit)
        .map(user_json)
        .collect();
    Ok((StatusCode::OK, Value::Array(found)))
}

/// Substring match on the user's names, login, e-mail and phones; a `field:` prefix
/// (Elasticsearch syntax) narrows it; phone numbers also match on their digits alone.
fn user_matches(u: &User, q: &str) -> bool {
    let (field, term) = match q.split_once(':') {
        Some((f, t))
            if ["email", "login", "phone", "mobile", "firstname", "lastname"].contains(&f) =>
        {
            (Some(f), t)
        }
        _ => (None, q),
    };
    let term = term.trim().trim_matches('"').to_lowercase();
    // Leading zeros dropped: a national 030… query still matches a stored +49 30….
    let all_digits: String = term.chars().filter(char::is_ascii_digit).collect();
    let digits = all_digits.trim_start_matches('0');
    let phone_like = digits.len() >= 4
        && term
            .chars()
            .all(|c| c.is_ascii_digit() || " +-/()".contains(c));
    let text = |v: &str| !v.is_empty() && v.to_lowercase().contains(&term);
    let phone = |v: &str| {
        let d: String = v.chars().filter(char::is_ascii_digit).collect();
        text(v)
            || (phone_like
                && !d.is_empty()
                && (d.ends_with(digits) || digits.ends_with(d.as_str())))
    };
    match field {
        Some("email") => text(&u.email),
        Some("login") => text(&u.login),
        Some("phone") => phone(&u.phone),
        Some("mobile") => phone(&u.mobile),
        Some("firstname") => text(&u.firstname),
        Some("lastname") => text(&u.lastname),
        _ => {
            text(&u.firstname)
                || text(&u.lastname)
                || text(&u.login)
                || text(&u.email)
                || phone(&u.phone)
                || phone(&u.mobile)
        }
    }
}

fn create_user(st: &mut State, ctx: &mut Ctx, obj: &Map<String, Value>) -> Handled {
    check_fields(ctx, obj, USER_FIELDS, "user.unknown_field", "user");
    let id = new_user(st, ctx, obj)?;
    let u = st
        .users
        .iter()
        .find(|u| u.id == id)
        .map(user_json)
        .unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, u))
}

/// Creates a user from a body (POST /users, or a ticket's customer object).
fn new_user(st: &mut State, ctx: &mut Ctx, obj: &Map<String, Value>) -> Result<u64, Reply> {
    let field = |ctx: &mut Ctx, k: &str| opt_string(ctx, obj, k, "user.type").unwrap_or_default();
    let (firstname, lastname) = (field(ctx, "firstname"), field(ctx, "lastname"));
    let (email, phone, mobile) = (
        field(ctx, "email"),
        field(ctx, "phone"),
        field(ctx, "mobile"),
    );
    let login = field(ctx, "login");
    if [&firstname, &lastname, &email, &phone, &mobile]
        .iter()
        .all(|v| v.trim().is_empty())
    {
        ctx.flag(
            "user.identifier",
            "a user needs a firstname, lastname, phone, mobile or email",
        );
        return Err(zerr(UNPROCESSABLE, NO_IDENTIFIER));
    }
    if !email.is_empty() {
        if !valid_email(&email) {
            ctx.flag("user.email", format!("{email:?} is not a valid e-mail"));
            return Err(zerr(UNPROCESSABLE, format!("Invalid email '{email}'")));
        }
        if st
            .users
            .iter()
            .any(|u| u.email.eq_ignore_ascii_case(&email))
        {
            ctx.flag(
                "user.email_taken",
                format!("a user with e-mail {email:?} exists; search first"),
            );
            return Err(zerr(
                UNPROCESSABLE,
                format!("Email address '{email}' is already used for another user."),
            ));
        }
    }
    let login = if login.is_empty() {
        email.to_lowercase()
    } else {
        login.to_lowercase()
    };
    let id = add_user(st, &login, &email, &phone, &firstname, &lastname);
    if let Some(u) = st.users.iter_mut().find(|u| u.id == id) {
        u.mobile = mobile;
    }
    Ok(id)
}

fn add_user(
    st: &mut State,
    login: &str,
    email: &str,
    phone: &str,
    firstname: &str,
    lastname: &str,
) -> u64 {
    let id = st.users.len() as u64 + 1;
    st.users.push(User {
        id,
        login: if login.is_empty() {
            format!("auto-{id}")
        } else {
            login.to_lowercase()
        },
        email: email.to_owned(),
        phone: phone.to_owned(),
        mobile: String::new(),
        firstname: firstname.to_owned(),
        lastname: lastname.to_owned(),
        agent: false,
    });
    id
}

/// One `@` between a non-empty local part and a dotted domain, no spaces.
fn valid_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Ticket::Number::Increment with Zammad's default settings (min_size 5, no checksum):
/// the system id, zeros, the counter.
fn ticket_number(system_id: &str, counter: u64) -> String {
    let c = counter.to_string();
    let mut number = system_id.to_owned();
    while number.len() + c.len() < 5 {
        number.push('0');
    }
    number + &c
}

fn id_of(table: &[(u64, &str)], name: &str) -> u64 {
    table
        .iter()
        .find(|(_, n)| *n == name)
        .map_or(0, |(i, _)| *i)
}

/// The ticket as Zammad renders it (attributes_with_association_ids; names too with expand).
fn ticket_json(cfg: &ZammadConfig, st: &State, t: &Ticket, expand: bool) -> Value {
    let groups = group_table(cfg);
    let now = now_iso();
    let first = t.articles.first();
    let article_ids: Vec<u64> = t.articles.iter().rev().map(|a| a.id).collect();
    let mut v = json!({
        "id": t.id,
        "group_id": id_of(&groups, &t.group),
        "priority_id": id_of(PRIORITIES, &t.priority),
        "state_id": id_of(STATES, &t.state),
        "organization_id": null,
        "number": t.number,
        "title": t.title,
        "owner_id": 1,
        "customer_id": t.customer_id,
        "note": null,
        "pending_time": null,
        "type": null,
        "article_count": t.articles.len(),
        "create_article_type_id": first.map(|a| id_of(ARTICLE_TYPES, &a.kind)),
        "create_article_sender_id": first.map(|a| id_of(SENDERS, &a.sender)),
        "preferences": {},
        "created_by_id": 2,
        "updated_by_id": 2,
        "created_at": now,
        "updated_at": now,
        "article_ids": article_ids,
        "ticket_time_accounting_ids": [],
    });
    if expand {
        let agent = st.users.iter().find(|u| u.agent).map(|u| u.login.clone());
        let extra = json!({
            "group": t.group,
            "state": t.state,
            "priority": t.priority,
            "customer": t.customer,
            "owner": "-",
            "organization": null,
            "created_by": agent,
            "updated_by": agent,
            "create_article_type": first.map(|a| a.kind.clone()),
            "create_article_sender": first.map(|a| a.sender.clone()),
        });
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
    }
    v
}

/// An article as Zammad renders it (attributes_with_association_names).
fn article_json(a: &Article, ticket_id: u64) -> Value {
    let now = now_iso();
    json!({
        "id": a.id,
        "ticket_id": ticket_id,
        "from": "firstline API",
        "to": "",
        "cc": "",
        "subject": a.subject,
        "body": a.body,
        "content_type": a.content_type,
        "type_id": id_of(ARTICLE_TYPES, &a.kind),
        "type": a.kind,
        "sender_id": id_of(SENDERS, &a.sender),
        "sender": a.sender,
        "internal": a.internal,
        "attachments": [],
        "created_by_id": 2,
        "updated_by_id": 2,
        "created_at": now,
        "updated_at": now,
    })
}

fn user_json(u: &User) -> Value {
    let now = now_iso();
    let role = if u.agent { 2 } else { 3 };
    json!({
        "id": u.id,
        "login": u.login,
        "firstname": u.firstname,
        "lastname": u.lastname,
        "email": u.email,
        "phone": u.phone,
        "mobile": u.mobile,
        "organization_id": null,
        "active": true,
        "verified": false,
        "vip": false,
        "note": "",
        "role_ids": [role],
        "created_at": now,
        "updated_at": now,
    })
}

fn now_iso() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = d.as_secs();
    let (y, m, day) = civil_from_days((s / 86_400) as i64);
    let t = s % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        t / 3600,
        t % 3600 / 60,
        t % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day): H. Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------------------------
// Body encodings.

/// The media type of a Content-Type value, lower-case, without parameters.
fn mime(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// `application/x-www-form-urlencoded` pairs (also the query string).
fn form_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(byte.ok_or_else(|| format!("bad percent escape in {s:?}"))?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8"))
}

/// The text fields of a `multipart/form-data` body (what `curl --form` sends).
fn multipart_pairs(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .ok_or("no boundary in the Content-Type")?
        .trim_matches('"');
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_string())?;
    let delimiter = format!("--{boundary}");
    let mut pairs = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            return Ok(pairs);
        }
        let part = part
            .strip_prefix("\r\n")
            .ok_or("a part does not start with CRLF")?;
        let (head, value) = part
            .split_once("\r\n\r\n")
            .ok_or("a part has no blank line")?;
        let name = head
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .and_then(|l| l.split(';').find_map(|p| p.trim().strip_prefix("name=")))
            .ok_or("a part has no name")?
            .trim_matches('"');
        pairs.push((
            name.to_owned(),
            value.strip_suffix("\r\n").unwrap_or(value).to_owned(),
        ));
    }
    Err("no closing boundary".into())
}

// ---------------------------------------------------------------------------------------------
// Self-test: documented requests pass, each departure is flagged.

/// One HTTP/1.1 request with `headers`; (status, JSON answer). Status 0: the connection was
/// closed without an answer.
async fn send(
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
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

const JSON: (&str, &str) = ("Content-Type", "application/json");
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// A CTI event with the usual numbers, `extra` merged over it (a `null` removes a field).
fn event(event: &str, call_id: &str, extra: Value) -> String {
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

async fn post_json(z: &ZammadReceiver, body: &str) -> (u16, Value) {
    send(z.addr(), "POST", &z.cti_path(), &[JSON], body).await
}

async fn post_form(z: &ZammadReceiver, body: &str) -> (u16, Value) {
    send(z.addr(), "POST", &z.cti_path(), &[FORM], body).await
}

/// A REST call with the API token and, for a body, application/json; `headers` added.
async fn api(
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
fn expect_flags(z: &ZammadReceiver, rules: &[&str]) {
    let got = z.take_violations();
    let got_rules: Vec<&str> = got.iter().map(|v| v.rule).collect();
    assert_eq!(got_rules, rules, "violations: {got:#?}");
}

#[tokio::test]
async fn zammad_receiver_is_strict() {
    within(60, async {
        let mut cfg = ZammadConfig::default();
        let ada =
            KnownCustomer::new("ada@example.com", "+49 30 5557 1600").named("Ada", "Lovelace");
        cfg.customers.push(ada);
        cfg.blocked_caller_ids.push("4930999".into());
        cfg.outbound_caller_id = Some("496990009111".into());
        let z = ZammadReceiver::start(cfg).await;
        let token = &z.config().cti_token;
        assert_eq!(
            z.cti_url(),
            format!("http://{}/api/v1/cti/{token}", z.addr())
        );

        cti_documented(&z).await;
        z.assert_no_violations();
        cti_departures(&z).await;
        rest_documented(&z).await;
        z.assert_no_violations();
        rest_departures(&z).await;
        faults_and_idempotency(&z).await;
        z.assert_no_violations();
    })
    .await;
}

/// The documented CTI shapes in all three encodings, and Zammad's three kinds of answer.
async fn cti_documented(z: &ZammadReceiver) {
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
async fn cti_departures(z: &ZammadReceiver) {
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

/// The documented REST calls: search and create users, create, update and annotate tickets.
async fn rest_documented(z: &ZammadReceiver) {
    let (s, found) = api(
        z,
        "GET",
        "/api/v1/users/search?query=%2B493055571600&limit=10",
        &[],
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, &found[0]["email"], &found[0]["id"]),
        (200, &json!("ada@example.com"), &json!(3))
    );
    let (s, found) = api(
        z,
        "GET",
        "/api/v1/users/search?query=030%205557%201600",
        &[],
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, &found[0]["id"]),
        (200, &json!(3)),
        "a national number finds +49 30 …"
    );
    let r = api(
        z,
        "GET",
        "/api/v1/users/search?query=email:nobody@example.com",
        &[],
        Value::Null,
    )
    .await;
    assert_eq!(r, (200, json!([])));
    let bearer = format!("Bearer {}", z.api_token());
    let (s, me) = send(
        z.addr(),
        "GET",
        "/api/v1/users/me",
        &[("Authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!((s, &me["id"]), (200, &json!(2)));
    let grace = json!({
        "firstname": "Grace", "lastname": "Hopper", "email": "grace@example.com",
        "phone": "+1 555 0100"
    });
    let (s, user) = api(z, "POST", "/api/v1/users", &[], grace).await;
    assert_eq!(
        (s, &user["id"], &user["login"]),
        (201, &json!(4), &json!("grace@example.com"))
    );

    let call = json!({
        "title": "Printer on fire",
        "group": "Service Desk",
        "customer_id": "guess:new@example.com",
        "state": "open",
        "priority": "3 high",
        "article": {
            "subject": "Call from +4930555", "body": "It burns.", "type": "phone",
            "sender": "Customer", "internal": false, "content_type": "text/plain"
        }
    });
    let (s, t) = api(
        z,
        "POST",
        "/api/v1/tickets",
        &[("Idempotency-Key", "k-1")],
        call,
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let ids = [
        &t["id"],
        &t["number"],
        &t["group_id"],
        &t["state_id"],
        &t["priority_id"],
        &t["customer_id"],
    ];
    assert_eq!(
        ids,
        [
            &json!(1),
            &json!("22001"),
            &json!(2),
            &json!(2),
            &json!(3),
            &json!(5)
        ]
    );
    let by_ids = json!({
        "title": "VPN", "group_id": 1, "customer": "ada@example.com", "state_id": 1,
        "priority_id": 2
    });
    let (s, t2) = api(z, "POST", "/api/v1/tickets?expand=true", &[], by_ids).await;
    let names = [
        &t2["number"],
        &t2["group"],
        &t2["customer"],
        &t2["priority"],
        &t2["state"],
    ];
    assert_eq!(s, 201);
    assert_eq!(
        names,
        [
            &json!("22002"),
            &json!("Users"),
            &json!("ada@example.com"),
            &json!("2 normal"),
            &json!("new")
        ]
    );
    let close = json!({
        "state": "closed", "article": {"body": "Fire out.", "type": "note", "internal": true}
    });
    let (s, up) = api(z, "PUT", "/api/v1/tickets/1", &[], close).await;
    assert_eq!(
        (s, &up["state_id"], &up["article_count"]),
        (200, &json!(4), &json!(2))
    );
    let note = json!({
        "ticket_id": 2, "body": "<p>Called back</p>", "content_type": "text/html", "type": "phone",
        "internal": false
    });
    let (s, art) = api(
        z,
        "POST",
        "/api/v1/ticket_articles",
        &[("From", "ada@example.com")],
        note,
    )
    .await;
    assert_eq!(
        (s, &art["ticket_id"], &art["type"]),
        (201, &json!(2), &json!("phone"))
    );
    let (s, list) = api(
        z,
        "GET",
        "/api/v1/ticket_articles/by_ticket/1",
        &[],
        Value::Null,
    )
    .await;
    assert_eq!((s, list.as_array().map(Vec::len)), (200, Some(2)));

    let tickets = z.tickets();
    assert_eq!(tickets.len(), 2);
    let t1 = &tickets[0];
    assert_eq!(
        (t1.id, t1.number.as_str(), t1.title.as_str()),
        (1, "22001", "Printer on fire")
    );
    assert_eq!(
        (t1.group.as_str(), t1.customer.as_str()),
        ("Service Desk", "new@example.com")
    );
    assert_eq!(
        (t1.state.as_str(), t1.priority.as_str()),
        ("closed", "3 high")
    );
    assert_eq!(t1.idempotency_key.as_deref(), Some("k-1"));
    let articles: Vec<_> = t1
        .articles
        .iter()
        .map(|a| (a.kind.as_str(), a.sender.as_str(), a.internal))
        .collect();
    assert_eq!(
        articles,
        [("phone", "Customer", false), ("note", "Agent", true)]
    );
    assert_eq!(tickets[1].articles[0].content_type, "text/html");
}

/// Each REST departure is flagged, and answered as Zammad would answer it.
async fn rest_departures(z: &ZammadReceiver) {
    let a = z.addr();
    let ticket = |extra: Value| {
        let mut t = json!({"title": "T", "group": "Users", "customer": "ada@example.com"});
        if let (Some(o), Value::Object(e)) = (t.as_object_mut(), extra) {
            for (k, x) in e {
                if x.is_null() {
                    o.remove(&k);
                } else {
                    o.insert(k, x);
                }
            }
        }
        t
    };
    let plain = ticket(json!({})).to_string();
    let r = send(a, "POST", "/api/v1/tickets", &[JSON], &plain).await;
    let required =
        json!({"error": "Authentication required", "error_human": "Authentication required"});
    assert_eq!(
        r,
        (403, required),
        "Zammad answers a request without credentials with 403"
    );
    expect_flags(z, &["rest.auth"]);
    for bad in ["Token token=nope", "Bearer nope", "Basic Zm9vOmJhcg=="] {
        let r = send(
            a,
            "POST",
            "/api/v1/tickets",
            &[("Authorization", bad), JSON],
            &plain,
        )
        .await;
        assert_eq!(r.0, 401, "{bad}");
        expect_flags(z, &["rest.auth"]);
    }
    let auth = format!("Token token={}", z.api_token());
    let r = send(
        a,
        "POST",
        "/api/v1/tickets",
        &[("Authorization", &auth), FORM],
        "title=T",
    )
    .await;
    assert_eq!(r.0, 422);
    expect_flags(z, &["rest.content_type"]);
    let r = send(
        a,
        "POST",
        "/api/v1/tickets",
        &[("Authorization", &auth), JSON],
        "{title",
    )
    .await;
    assert_eq!(r.0, 400);
    expect_flags(z, &["rest.json"]);

    let refused: [(Value, u16, &str); 11] = [
        (json!({"group": "Sales"}), 422, "ticket.group"),
        (json!({"group": null}), 422, "ticket.group"),
        (json!({"title": null}), 422, "ticket.title"),
        (json!({"priority": "urgent"}), 422, "ticket.priority"),
        (json!({"state": "solved"}), 422, "ticket.state"),
        (
            json!({"customer": "someone@example.com"}),
            422,
            "ticket.customer",
        ),
        (
            json!({"customer": null, "customer_id": 99}),
            422,
            "ticket.customer",
        ),
        (
            json!({"customer": "guess:someone@example.com"}),
            422,
            "ticket.customer",
        ),
        (json!({"customer": null}), 422, "ticket.customer"),
        (
            json!({"article": {"subject": "s", "type": "phone"}}),
            422,
            "article.body",
        ),
        (
            json!({"article": {"body": "b", "type": "call"}}),
            422,
            "article.type",
        ),
    ];
    for (extra, status, rule) in refused {
        let r = api(z, "POST", "/api/v1/tickets", &[], ticket(extra.clone())).await;
        assert_eq!(r.0, status, "{extra}: {}", r.1);
        expect_flags(z, &[rule]);
    }
    let r = api(
        z,
        "POST",
        "/api/v1/tickets",
        &[],
        ticket(json!({"group": "Sales"})),
    )
    .await;
    let lookup = "No lookup value found for 'group': \"Sales\"";
    assert_eq!(r.1, json!({"error": lookup, "error_human": lookup}));
    let r = api(
        z,
        "POST",
        "/api/v1/tickets",
        &[],
        ticket(json!({"article": {"type": "note"}})),
    )
    .await;
    let need = "Need at least article: { body: \"some text\" }";
    assert_eq!(r.1, json!({"error": need, "error_human": need}));
    z.take_violations();

    let before = z.tickets().len();
    let loose = ticket(json!({
        "type": "phone",
        "priority_name": "high",
        "article": {
            "body": "b", "type": "email", "internal": "yes", "content_type": "text/markdown",
            "sender": "Customer"
        }
    }));
    let r = api(z, "POST", "/api/v1/tickets", &[], loose).await;
    assert_eq!(
        r.0, 201,
        "Zammad takes these, but they are not the documented shape"
    );
    let loose_rules = [
        "ticket.unknown_field",
        "ticket.unknown_field",
        "article.type",
        "article.internal",
        "article.content_type",
    ];
    expect_flags(z, &loose_rules);
    assert_eq!(z.tickets().len(), before + 1);

    let r = api(
        z,
        "PUT",
        "/api/v1/tickets/22001",
        &[],
        json!({"state": "open"}),
    )
    .await;
    let missing = "Couldn't find Ticket with 'id'=22001";
    assert_eq!(r, (404, json!({"error": missing, "error_human": missing})));
    let flagged = z.take_violations();
    assert_eq!(flagged.len(), 1);
    assert!(
        flagged[0].detail.contains("ticket number"),
        "{}",
        flagged[0]
    );
    let r = api(
        z,
        "POST",
        "/api/v1/ticket_articles",
        &[],
        json!({"ticket_id": 99, "body": "b"}),
    )
    .await;
    assert_eq!(r.0, 404);
    expect_flags(z, &["ticket.not_found"]);
    let r = api(
        z,
        "POST",
        "/api/v1/ticket_articles",
        &[],
        json!({"body": "b", "type": "note"}),
    )
    .await;
    assert_eq!(r.0, 404);
    expect_flags(z, &["article.ticket_id"]);
    let r = api(
        z,
        "POST",
        "/api/v1/users",
        &[],
        json!({"firstname": "Ada", "email": "ADA@example.com"}),
    )
    .await;
    assert_eq!(r.0, 422);
    expect_flags(z, &["user.email_taken"]);
    let r = api(z, "POST", "/api/v1/users", &[], json!({"login": "x"})).await;
    assert_eq!(r.0, 422);
    expect_flags(z, &["user.identifier"]);
    assert_eq!(
        api(z, "PATCH", "/api/v1/tickets/1", &[], json!({})).await.0,
        404
    );
    expect_flags(z, &["rest.route"]);
    let search = "/api/v1/users/search?query=ada";
    let r = api(
        z,
        "GET",
        search,
        &[("X-On-Behalf-Of", "ada@example.com")],
        Value::Null,
    )
    .await;
    assert_eq!(r.0, 200, "deprecated, still honoured");
    expect_flags(z, &["rest.on_behalf_of"]);
    let r = api(
        z,
        "GET",
        search,
        &[("From", "ghost@example.com")],
        Value::Null,
    )
    .await;
    assert_eq!(r.0, 403);
    expect_flags(z, &["rest.on_behalf_of"]);
}

/// Injected failures, a refused connection and a lost answer; what counts as a duplicate.
async fn faults_and_idempotency(z: &ZammadReceiver) {
    let body = json!({"title": "Retry me", "group": "Users", "customer": "ada@example.com"});
    let k2 = [("Idempotency-Key", "k-2")];
    z.fail_next(2, 503);
    let (s, err) = api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await;
    assert_eq!(
        (s, err["error"].is_string(), err["error_human"].is_string()),
        (503, true, true)
    );
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await.0,
        503
    );
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await.0,
        201
    );
    z.fail_next(1, 400);
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await.0,
        400
    );
    z.set_down(true);
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k2, body.clone()).await.0,
        0
    );
    z.set_down(false);
    assert!(
        z.duplicates().is_empty(),
        "retries after refused attempts are no duplicates"
    );

    // Zammad made the ticket but the answer was lost: the retry makes a second one.
    let k3 = [("Idempotency-Key", "k-3")];
    let count = z.tickets().len();
    z.lose_next(1);
    assert_eq!(
        api(z, "POST", "/api/v1/tickets", &k3, body.clone()).await.0,
        0
    );
    assert_eq!(api(z, "POST", "/api/v1/tickets", &k3, body).await.0, 201);
    assert_eq!(z.tickets().len(), count + 2);
    let dup = Duplicate {
        key: "k-3".into(),
        method: "POST".into(),
        path: "/api/v1/tickets".into(),
        times: 2,
    };
    assert_eq!(z.duplicates(), [dup]);
    let reqs = z.requests();
    assert_eq!(reqs.iter().filter(|r| r.injected).count(), 3);
    assert_eq!(reqs.iter().filter(|r| r.answer_lost).count(), 1);
}
