//! INVITEs through a SIP trunk on the sans-IO core with simulated time: the URIs and the
//! caller-id a carrier sees, a 407 challenge answered once (ACKed, same Call-ID and From tag,
//! next CSeq, new branch, credentials the challenger accepts), a second challenge and an
//! undialable number ending the call.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::api::LegId;
use super::auth::{Algorithm, expected_response, parse_authorization};
use super::core::{Core, CoreEvent, Peer};
use super::message::{self, SipMsg, StartLine};
use super::outgoing::{OutEvent, OutgoingInvite, TrunkAuth, TrunkRoute};
use super::stats::SipStats;
use super::transaction::Timers;

const TRUNK: &str = "127.0.0.1:5080";
const ID: LegId = 9;

fn local() -> SocketAddr {
    "127.0.0.1:5060".parse().unwrap()
}

fn invite(number: &str, auth: Option<TrunkAuth>) -> (OutgoingInvite, TrunkRoute) {
    let req = OutgoingInvite {
        extension: number.into(),
        trunk: None,
        from_user: "+31201234500".into(),
        from_display: "IT helpdesk".into(),
        sdp: b"v=0\r\n".to_vec(),
        call_info: vec![(
            "P-Asserted-Identity".into(),
            "\"IT helpdesk\" <sip:+31201234500@carrier.example>".into(),
        )],
    };
    let route = TrunkRoute {
        addr: TRUNK.parse().unwrap(),
        domain: "carrier.example".into(),
        auth,
    };
    (req, route)
}

fn core() -> Core {
    Core::new(
        "fl-test".into(),
        Timers::default(),
        Arc::new(SipStats::default()),
    )
}

fn sent(c: &mut Core) -> Vec<SipMsg> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|t| {
            assert_eq!(t.to, Peer::Udp(TRUNK.parse().unwrap()), "all to the trunk");
            message::parse(&t.bytes).unwrap()
        })
        .collect()
}

fn out_events(c: &mut Core) -> Vec<OutEvent> {
    std::iter::from_fn(|| c.poll_event())
        .filter_map(|e| match e {
            CoreEvent::Out(ID, ev) => Some(ev),
            _ => None,
        })
        .collect()
}

fn respond(c: &mut Core, now: Instant, req: &SipMsg, code: u16, extra: &str) {
    let text = format!(
        "SIP/2.0 {code} X\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=trunk1\r\nCall-ID: {}\r\nCSeq: {}\r\n\
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

fn method(m: &SipMsg) -> String {
    match &m.start {
        StartLine::Request { method, .. } => method.as_str().to_string(),
        StartLine::Response { code } => code.to_string(),
    }
}

#[test]
fn the_carrier_sees_the_number_and_our_caller_id() {
    let now = Instant::now();
    let mut c = core();
    let (req, route) = invite("+31612345678", None);
    c.start_trunk_invite(now, ID, local(), &route, &req);
    let inv = sent(&mut c).remove(0);
    assert!(
        matches!(&inv.start, StartLine::Request { uri, .. } if uri == "sip:+31612345678@carrier.example"),
        "{:?}",
        inv.start
    );
    assert_eq!(inv.header("To"), Some("<sip:+31612345678@carrier.example>"));
    assert_eq!(
        inv.header("From").unwrap().split(';').next(),
        Some("\"IT helpdesk\" <sip:+31201234500@carrier.example>")
    );
    assert_eq!(
        inv.header("P-Asserted-Identity"),
        Some("\"IT helpdesk\" <sip:+31201234500@carrier.example>")
    );
    assert!(inv.header("Contact").unwrap().contains("@127.0.0.1:5060"));
}

#[test]
fn a_proxy_challenge_is_answered_once_with_credentials_it_accepts() {
    let now = Instant::now();
    let mut c = core();
    let auth = TrunkAuth {
        username: "hotline".into(),
        password: "s3cret".into(),
    };
    let (req, route) = invite("+31612345678", Some(auth));
    c.start_trunk_invite(now, ID, local(), &route, &req);
    let first = sent(&mut c).remove(0);
    respond(
        &mut c,
        now,
        &first,
        407,
        "Proxy-Authenticate: Digest realm=\"carrier.example\", nonce=\"n0nce\", qop=\"auth\", algorithm=MD5\r\n",
    );
    let out = sent(&mut c);
    assert_eq!(
        out.iter().map(method).collect::<Vec<_>>(),
        ["ACK", "INVITE"],
        "the 407 is ACKed, then the INVITE goes again"
    );
    let again = &out[1];
    assert_eq!(again.call_id(), first.call_id());
    assert_eq!(again.from_tag(), first.from_tag());
    assert_eq!(again.cseq().map(|c| c.0), Some(2));
    assert_ne!(again.branch(), first.branch());
    let creds = parse_authorization(again.header("Proxy-Authorization").unwrap()).unwrap();
    let ha1 = Algorithm::Md5.hash_hex("hotline:carrier.example:s3cret");
    assert_eq!(
        expected_response(Algorithm::Md5, &ha1, "INVITE", &creds).as_deref(),
        Some(creds.response.as_str())
    );
    assert!(out_events(&mut c).is_empty(), "no failure reported");
    // A second challenge means the credentials are wrong: the call fails with it.
    respond(
        &mut c,
        now,
        again,
        407,
        "Proxy-Authenticate: Digest realm=\"carrier.example\", nonce=\"other\"\r\n",
    );
    assert_eq!(sent(&mut c).iter().map(method).collect::<Vec<_>>(), ["ACK"]);
    assert!(matches!(
        out_events(&mut c).as_slice(),
        [OutEvent::Failed { status: 407, .. }]
    ));
}

#[test]
fn a_challenge_without_credentials_and_an_undialable_number_fail_at_once() {
    let now = Instant::now();
    let mut c = core();
    let (req, route) = invite("+31612345678", None);
    c.start_trunk_invite(now, ID, local(), &route, &req);
    let first = sent(&mut c).remove(0);
    respond(
        &mut c,
        now,
        &first,
        401,
        "WWW-Authenticate: Digest realm=\"carrier.example\", nonce=\"n\"\r\n",
    );
    assert!(matches!(
        out_events(&mut c).as_slice(),
        [OutEvent::Failed { status: 401, .. }]
    ));
    let mut c = core();
    let (req, route) = invite("sip:evil@elsewhere", None);
    c.start_trunk_invite(now, ID, local(), &route, &req);
    assert!(sent(&mut c).is_empty(), "nothing sent");
    assert!(matches!(
        out_events(&mut c).as_slice(),
        [OutEvent::Failed { status: 484, .. }]
    ));
}

#[test]
fn a_response_from_another_address_is_not_the_trunks() {
    let now = Instant::now();
    let mut c = core();
    let (req, route) = invite("+31612345678", None);
    c.start_trunk_invite(now, ID, local(), &route, &req);
    let inv = sent(&mut c).remove(0);
    // A 486 with the right branch, from elsewhere: dropped, the call still rings.
    let text = format!(
        "SIP/2.0 486 Busy\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=x\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        inv.top_via().unwrap(),
        inv.header("From").unwrap(),
        inv.header("To").unwrap(),
        inv.call_id().unwrap(),
        inv.header("CSeq").unwrap(),
    );
    c.handle_message(
        now,
        Peer::Udp("127.0.0.1:6666".parse().unwrap()),
        local(),
        text.as_bytes(),
    );
    assert!(out_events(&mut c).is_empty(), "not reported");
    assert!(
        std::iter::from_fn(|| c.poll_transmit()).next().is_none(),
        "not ACKed"
    );
    // The same from the trunk ends it.
    respond(&mut c, now, &inv, 486, "");
    assert!(matches!(
        out_events(&mut c).as_slice(),
        [OutEvent::Failed { status: 486, .. }]
    ));
}
