//! Registration to the SIP trunk on the sans-IO core with simulated time: the first REGISTER, a
//! digest challenge answered once with credentials the challenger accepts, the refresh at 80 %
//! of the granted expiry, a refusal and a trunk that never answers retried a minute later.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::auth::{Algorithm, expected_response, parse_authorization};
use super::core::{Core, Peer};
use super::message::{self, SipMsg};
use super::outgoing::{TrunkAuth, TrunkRoute};
use super::stats::SipStats;
use super::transaction::Timers;
use super::trunk_register::{TrunkRegState, TrunkRegistration};

const TRUNK: &str = "127.0.0.1:5080";

fn local() -> SocketAddr {
    "127.0.0.1:5060".parse().unwrap()
}

fn start(now: Instant) -> (Core, SipMsg) {
    let mut c = Core::new(
        "fl-test".into(),
        Timers::default(),
        Arc::new(SipStats::default()),
    );
    let reg = TrunkRegistration {
        route: TrunkRoute {
            addr: TRUNK.parse().unwrap(),
            domain: "carrier.example".into(),
            auth: Some(TrunkAuth {
                username: "31201234500".into(),
                password: "s3cret".into(),
            }),
        },
        user: "31201234500".into(),
        expires: 600,
    };
    c.register_trunk(now, local(), reg);
    let first = sent(&mut c).pop().expect("a REGISTER");
    (c, first)
}

fn sent(c: &mut Core) -> Vec<SipMsg> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|t| {
            assert_eq!(t.to, Peer::Udp(TRUNK.parse().unwrap()));
            message::parse(&t.bytes).unwrap()
        })
        .collect()
}

fn respond(c: &mut Core, now: Instant, req: &SipMsg, code: u16, extra: &str) {
    let text = format!(
        "SIP/2.0 {code} X\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=reg1\r\nCall-ID: {}\r\nCSeq: {}\r\n\
{extra}Content-Length: 0\r\n\r\n",
        req.top_via().unwrap(),
        req.header("From").unwrap(),
        req.header("To").unwrap(),
        req.call_id().unwrap(),
        req.header("CSeq").unwrap(),
    );
    c.handle_message(
        now,
        Peer::Udp(TRUNK.parse().unwrap()),
        local(),
        text.as_bytes(),
    );
}

fn run_until(c: &mut Core, until: Instant) -> Vec<SipMsg> {
    let mut out = Vec::new();
    while let Some(at) = c.poll_timeout().filter(|at| *at <= until) {
        c.handle_timeout(at);
        out.extend(sent(c));
    }
    out
}

#[test]
fn a_challenge_is_answered_and_the_registration_refreshed_before_it_expires() {
    let t0 = Instant::now();
    let (mut c, first) = start(t0);
    assert!(first.header("Authorization").is_none());
    assert_eq!(
        first.header("To"),
        Some("<sip:31201234500@carrier.example>")
    );
    assert_eq!(first.header("Expires"), Some("600"));
    assert_eq!(c.trunk_reg_state(), TrunkRegState::Trying);
    respond(
        &mut c,
        t0,
        &first,
        401,
        "WWW-Authenticate: Digest realm=\"carrier.example\", nonce=\"n1\", qop=\"auth\"\r\n",
    );
    let again = sent(&mut c)
        .pop()
        .expect("the REGISTER again, with credentials");
    assert_eq!(again.call_id(), first.call_id());
    assert_eq!(again.cseq().map(|c| c.0), Some(2));
    let creds = parse_authorization(again.header("Authorization").unwrap()).unwrap();
    let ha1 = Algorithm::Md5.hash_hex("31201234500:carrier.example:s3cret");
    assert_eq!(
        expected_response(Algorithm::Md5, &ha1, "REGISTER", &creds).as_deref(),
        Some(creds.response.as_str())
    );
    assert_eq!(creds.uri, "sip:carrier.example");
    respond(
        &mut c,
        t0,
        &again,
        200,
        "Contact: <sip:31201234500@127.0.0.1:5060>;expires=300\r\n",
    );
    assert_eq!(c.trunk_reg_state(), TrunkRegState::Registered);
    // Nothing until 80 % of the 300 s granted; then a fresh REGISTER.
    assert!(run_until(&mut c, t0 + Duration::from_secs(239)).is_empty());
    let refresh = run_until(
        &mut c,
        t0 + Duration::from_secs(240) + Duration::from_millis(400),
    );
    assert_eq!(
        refresh.len(),
        1,
        "one refresh (before its first retransmission)"
    );
    assert_eq!(refresh[0].cseq().map(|c| c.0), Some(3));
    assert_eq!(
        refresh[0].call_id(),
        first.call_id(),
        "the same registration"
    );
}

#[test]
fn a_refusal_and_silence_are_failures_retried_a_minute_later() {
    let t0 = Instant::now();
    let (mut c, first) = start(t0);
    respond(&mut c, t0, &first, 403, "");
    assert_eq!(c.trunk_reg_state(), TrunkRegState::Failed(403));
    assert!(run_until(&mut c, t0 + Duration::from_secs(59)).is_empty());
    let retry = run_until(
        &mut c,
        t0 + Duration::from_secs(60) + Duration::from_millis(400),
    );
    assert_eq!(retry.len(), 1, "retried after 60 s");
    // The trunk never answers: retransmissions (timer E), then timer F (64·T1) fails it.
    let t1 = t0 + Duration::from_secs(60);
    let resent = run_until(&mut c, t1 + Duration::from_secs(33));
    assert!(resent.len() >= 5, "retransmitted: {}", resent.len());
    assert_eq!(c.trunk_reg_state(), TrunkRegState::Failed(408));
    // A challenge answered wrongly twice is a failure, not a loop.
    let t2 = t1 + Duration::from_secs(100);
    let next = run_until(&mut c, t2).pop().expect("retried again");
    respond(
        &mut c,
        t2,
        &next,
        401,
        "WWW-Authenticate: Digest realm=\"x\", nonce=\"a\"\r\n",
    );
    let answered = sent(&mut c).pop().expect("answered once");
    respond(
        &mut c,
        t2,
        &answered,
        401,
        "WWW-Authenticate: Digest realm=\"x\", nonce=\"b\"\r\n",
    );
    assert!(sent(&mut c).is_empty(), "not answered twice");
    assert_eq!(c.trunk_reg_state(), TrunkRegState::Failed(401));
}
