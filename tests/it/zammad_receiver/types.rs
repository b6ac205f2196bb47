//! The receiver's public types: its setup ([`ZammadConfig`], [`KnownCustomer`]) and what it
//! records (violations, CTI events, tickets, articles, users, requests, duplicates).

use serde_json::Value;

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
    pub(crate) fn parse(s: &str) -> Option<CtiEventKind> {
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
    pub(crate) const ALL: [(&'static str, HangupCause); 7] = [
        ("normalClearing", HangupCause::NormalClearing),
        ("busy", HangupCause::Busy),
        ("cancel", HangupCause::Cancel),
        ("noAnswer", HangupCause::NoAnswer),
        ("congestion", HangupCause::Congestion),
        ("notFound", HangupCause::NotFound),
        ("forwarded", HangupCause::Forwarded),
    ];

    pub(crate) fn parse(s: &str) -> Option<HangupCause> {
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
    /// Answered by [`ZammadReceiver::fail_next`](super::ZammadReceiver::fail_next), not processed.
    pub(crate) injected: bool,
    /// Processed, but the connection was closed instead of answering
    /// ([`ZammadReceiver::lose_next`](super::ZammadReceiver::lose_next)).
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
