//! Registration events of the core with simulated time (no I/O): a binding that is not
//! refreshed is reported gone at its expiry (the core's own timer), a refresh keeps it,
//! un-REGISTER and a closed TCP connection report it at once; and which changes the
//! application hears of (`worth_telling`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::{Binding, SipCredential, SipTransport};
use super::auth::{self, Algorithm};
use super::core::{Core, CoreEvent, Peer};
use super::message::{self, StartLine};
use super::registrar::CredTable;
use super::registrar_tests::authorization;
use super::stats::SipStats;
use super::transaction::Timers;
use super::uas_register::worth_telling;

const PHONE: &str = "192.0.2.10:5070";

fn core() -> Core {
    let mut c = Core::new(
        "firstline-test".into(),
        Timers::default(),
        Arc::new(SipStats::default()),
    );
    let cred = SipCredential {
        extension: "2001".into(),
        agent_id: crate::domain::AgentId::from_string("agent-demo-anna"),
        ha1_md5: Some(auth::ha1_md5("2001", "firstline", "2001-sip")),
        ha1_sha256: None,
    };
    c.registrar
        .set_credentials(Arc::new(CredTable::new(None, vec![cred])));
    c
}

fn local() -> SocketAddr {
    "127.0.0.1:5060".parse().unwrap()
}

fn register(cseq: u32, expires: u64, authz: Option<&str>) -> Vec<u8> {
    let authz = authz
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKr{cseq}\r\n\
From: <sip:2001@127.0.0.1>;tag=f\r\nTo: <sip:2001@127.0.0.1>\r\nCall-ID: reg-1\r\n\
CSeq: {cseq} REGISTER\r\nContact: <sip:2001@{PHONE}>\r\nExpires: {expires}\r\n{authz}\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Status codes of what the core sent, and the MD5 challenge of the last 401.
fn replies(c: &mut Core) -> (Vec<u16>, Option<String>) {
    let mut codes = Vec::new();
    let mut challenge = None;
    while let Some(t) = c.poll_transmit() {
        let msg = message::parse(&t.bytes).unwrap();
        if let StartLine::Response { code } = msg.start {
            codes.push(code);
        }
        challenge = msg
            .headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case("WWW-Authenticate"))
            .map(|h| h.value().to_string())
            .find(|v| v.contains("algorithm=MD5"))
            .or(challenge);
    }
    (codes, challenge)
}

/// An authenticated REGISTER of 2001 from `peer` at `now` (challenge, then the answer).
fn login(c: &mut Core, now: Instant, peer: &Peer, cseq: u32, expires: u64) -> u16 {
    c.handle_message(now, peer.clone(), local(), &register(cseq, expires, None));
    let (codes, challenge) = replies(c);
    assert_eq!(codes, [401]);
    let a = authorization("2001", "2001-sip", &challenge.unwrap(), Algorithm::Md5);
    c.handle_message(
        now,
        peer.clone(),
        local(),
        &register(cseq + 1, expires, Some(&a)),
    );
    let (codes, _) = replies(c);
    codes[0]
}

/// The registration events `(extension, agent, expiry of the newest binding)` since the last call.
fn registrations(c: &mut Core) -> Vec<(String, Option<String>, Option<Instant>)> {
    std::iter::from_fn(|| c.poll_event())
        .filter_map(|e| match e {
            CoreEvent::Registration {
                extension,
                agent,
                binding,
            } => Some((
                extension,
                agent.map(|a| a.as_str().to_owned()),
                binding.map(|b| b.expires_at),
            )),
            _ => None,
        })
        .collect()
}

fn udp() -> Peer {
    Peer::Udp(PHONE.parse().unwrap())
}

const ANNA: Option<&str> = Some("agent-demo-anna");

#[test]
fn an_unrefreshed_binding_is_reported_gone_at_its_expiry() {
    let t0 = Instant::now();
    let mut c = core();
    assert_eq!(login(&mut c, t0, &udp(), 1, 60), 200);
    let expiry = t0 + Duration::from_secs(60);
    let ev = registrations(&mut c);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(
        (ev[0].0.as_str(), ev[0].1.as_deref(), ev[0].2),
        ("2001", ANNA, Some(expiry))
    );
    // The driver sleeps until the core's next deadline: the binding's expiry itself.
    assert_eq!(c.poll_timeout(), Some(expiry));
    c.handle_timeout(expiry - Duration::from_millis(1));
    assert!(registrations(&mut c).is_empty(), "not before its time");
    c.handle_timeout(expiry);
    let ev = registrations(&mut c);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(
        (ev[0].0.as_str(), ev[0].1.as_deref(), ev[0].2),
        ("2001", ANNA, None)
    );
    assert_eq!(c.poll_timeout(), None, "nothing left to time");
}

#[test]
fn a_refresh_keeps_the_binding_past_its_first_expiry() {
    let t0 = Instant::now();
    let mut c = core();
    login(&mut c, t0, &udp(), 1, 60);
    registrations(&mut c);
    let t1 = t0 + Duration::from_secs(50);
    assert_eq!(login(&mut c, t1, &udp(), 3, 60), 200);
    let ev = registrations(&mut c);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        ev[0].2,
        Some(t1 + Duration::from_secs(60)),
        "the new expiry"
    );
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(60)));
    c.handle_timeout(t0 + Duration::from_secs(61));
    assert!(
        registrations(&mut c).is_empty(),
        "the old deadline passes without a word"
    );
    c.handle_timeout(t1 + Duration::from_secs(60));
    assert_eq!(registrations(&mut c)[0].2, None);
}

#[test]
fn an_unregister_is_reported_at_once() {
    let t0 = Instant::now();
    let mut c = core();
    login(&mut c, t0, &udp(), 1, 600);
    registrations(&mut c);
    assert_eq!(
        login(&mut c, t0 + Duration::from_secs(5), &udp(), 3, 0),
        200
    );
    let ev = registrations(&mut c);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].1.as_deref(), ev[0].2), (ANNA, None));
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn a_closed_tcp_connection_is_reported_at_once() {
    let t0 = Instant::now();
    let mut c = core();
    let tcp = Peer::Tcp {
        conn: 7,
        addr: PHONE.parse().unwrap(),
        tls: false,
    };
    login(&mut c, t0, &tcp, 1, 600);
    registrations(&mut c);
    c.connection_closed(8);
    assert!(registrations(&mut c).is_empty(), "another connection");
    c.connection_closed(7);
    let ev = registrations(&mut c);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].1.as_deref(), ev[0].2), (ANNA, None));
}

fn binding(contact: &str, transport: SipTransport, expires_at: Instant) -> Binding {
    Binding {
        contact: contact.into(),
        source: PHONE.parse().unwrap(),
        transport,
        expires_at,
    }
}

#[test]
fn the_application_hears_of_real_changes_and_of_a_quarter_lifetime_refresh() {
    let now = Instant::now();
    let s = Duration::from_secs;
    let b = |at| binding("sip:2001@h", SipTransport::Udp, at);
    assert!(!worth_telling(None, None, now));
    assert!(
        worth_telling(None, Some(&b(now + s(600))), now),
        "registered"
    );
    assert!(worth_telling(Some(&b(now + s(600))), None, now), "gone");
    // A refresh 60 s later with a 600 s lifetime moves the expiry by 60 s: not yet.
    let told = b(now + s(600));
    let later = now + s(60);
    assert!(!worth_telling(Some(&told), Some(&b(later + s(600))), later));
    // 150 s later: a quarter of the lifetime.
    let later = now + s(150);
    assert!(worth_telling(Some(&told), Some(&b(later + s(600))), later));
    // Same expiry (a retransmission): nothing.
    assert!(!worth_telling(Some(&told), Some(&told), now));
    // A shorter lifetime, another contact or another transport: at once.
    assert!(worth_telling(Some(&told), Some(&b(now + s(100))), now));
    let other = binding("sip:2001@other", SipTransport::Udp, now + s(600));
    assert!(worth_telling(Some(&told), Some(&other), now));
    let tcp = binding("sip:2001@h", SipTransport::Tcp, now + s(600));
    assert!(worth_telling(Some(&told), Some(&tcp), now));
}

#[test]
fn the_application_may_allow_short_registrations() {
    let t0 = Instant::now();
    let mut c = core();
    assert_eq!(
        login(&mut c, t0, &udp(), 1, 2),
        423,
        "below the default 60 s"
    );
    let mut table = CredTable::new(
        None,
        vec![SipCredential {
            extension: "2001".into(),
            agent_id: crate::domain::AgentId::from_string("agent-demo-anna"),
            ha1_md5: Some(auth::ha1_md5("2001", "firstline", "2001-sip")),
            ha1_sha256: None,
        }],
    );
    table.expires = Some((1, 30));
    c.registrar.set_credentials(Arc::new(table));
    assert_eq!(login(&mut c, t0, &udp(), 3, 2), 200);
    assert_eq!(
        registrations(&mut c)[0].2,
        Some(t0 + Duration::from_secs(2))
    );
    assert_eq!(login(&mut c, t0, &udp(), 5, 600), 200);
    assert_eq!(
        registrations(&mut c)[0].2,
        Some(t0 + Duration::from_secs(30)),
        "clamped to the new maximum"
    );
}
