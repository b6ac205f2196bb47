//! The stricter digest rules with simulated time (RFC 7616 §3.4): no `qop` when it was offered,
//! a digest `uri` that is not the Request-URI, a replayed nonce count, an algorithm not offered;
//! Path (RFC 3327) stored, echoed and used as the route set of our INVITE; failed-auth limits per
//! account and source, behind a plain and a trusted proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::{DigestChallenge, SipCredential, TrustedProxy};
use super::auth::{self, Algorithm};
use super::core::{Core, Peer};
use super::message::{self, SipMsg, StartLine, parse};
use super::outgoing::OutgoingInvite;
use super::registrar::{CredTable, RegReply, Registrar, RegistrarConfig};
use super::registrar_tests::{challenge_for, local, param};
use super::stats::SipStats;
use super::transaction::Timers;

const PHONE: &str = "192.0.2.10:5070";
const PROXY: &str = "192.0.2.50:5060";

fn cred(ext: &str) -> SipCredential {
    let password = format!("{ext}-sip");
    SipCredential {
        extension: ext.into(),
        agent_id: crate::domain::AgentId::from_string(format!("agent-{ext}")),
        ha1_md5: Some(auth::ha1_md5(ext, "firstline", &password)),
        ha1_sha256: Some(auth::ha1_sha256(ext, "firstline", &password)),
    }
}

fn table() -> CredTable {
    CredTable::new(None, vec![cred("2001"), cred("2002")])
}

fn registrar_with(t: CredTable) -> Registrar {
    let mut r = Registrar::new(RegistrarConfig::default());
    r.set_credentials(Arc::new(t));
    r
}

/// One REGISTER as a phone (or a proxy in front of it) sends it.
#[derive(Clone)]
struct Reg {
    user: &'static str,
    ruri: &'static str,
    cseq: u32,
    branch: String,
    /// Via lines below the top one (a proxy's REGISTER carries the phone's).
    below: Vec<String>,
    path: Vec<&'static str>,
    authz: Option<String>,
}

impl Reg {
    fn new(user: &'static str, cseq: u32) -> Self {
        Self {
            user,
            ruri: "sip:127.0.0.1",
            cseq,
            branch: format!("z9hG4bK{user}-{cseq}"),
            below: Vec::new(),
            path: Vec::new(),
            authz: None,
        }
    }

    fn text(&self) -> String {
        let mut s = format!(
            "REGISTER {} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch={}\r\n",
            self.ruri, self.branch
        );
        for v in &self.below {
            s.push_str(&format!("Via: {v}\r\n"));
        }
        for p in &self.path {
            s.push_str(&format!("Path: {p}\r\n"));
        }
        s.push_str(&format!(
            "From: <sip:{u}@127.0.0.1>;tag=f\r\nTo: <sip:{u}@127.0.0.1>\r\nCall-ID: reg-{u}\r\n\
             CSeq: {c} REGISTER\r\nContact: <sip:{u}@10.0.0.7:5070>\r\n",
            u = self.user,
            c = self.cseq
        ));
        if let Some(a) = &self.authz {
            s.push_str(&format!("Authorization: {a}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    }

    fn msg(&self) -> SipMsg {
        parse(self.text().as_bytes()).unwrap()
    }
}

/// What a phone answers to a challenge; every field can be made wrong.
#[derive(Clone)]
struct Answer {
    user: &'static str,
    password: String,
    nonce: String,
    uri: &'static str,
    alg: Algorithm,
    qop: bool,
    nc: &'static str,
}

impl Answer {
    fn to(challenge: &RegReply, user: &'static str, alg: Algorithm) -> Self {
        Self {
            user,
            password: format!("{user}-sip"),
            nonce: param(&challenge_for(challenge, alg.token()), "nonce"),
            uri: "sip:127.0.0.1",
            alg,
            qop: true,
            nc: "00000001",
        }
    }

    fn header(&self) -> String {
        let ha1 = match self.alg {
            Algorithm::Md5 => auth::ha1_md5(self.user, "firstline", &self.password),
            Algorithm::Sha256 => auth::ha1_sha256(self.user, "firstline", &self.password),
        };
        let c = auth::Credentials {
            username: self.user.into(),
            realm: "firstline".into(),
            nonce: self.nonce.clone(),
            uri: self.uri.into(),
            response: String::new(),
            algorithm: Some(self.alg.token().into()),
            qop: self.qop.then(|| "auth".into()),
            nc: Some(self.nc.into()),
            cnonce: Some("c0ffee".into()),
        };
        let resp = auth::expected_response(self.alg, &ha1, "REGISTER", &c).unwrap();
        let qop = if self.qop {
            format!(", qop=auth, nc={}, cnonce=\"c0ffee\"", self.nc)
        } else {
            String::new()
        };
        format!(
            "Digest username=\"{}\", realm=\"firstline\", nonce=\"{}\", uri=\"{}\", \
             response=\"{resp}\", algorithm={}{qop}",
            self.user,
            self.nonce,
            self.uri,
            self.alg.token()
        )
    }
}

fn udp(addr: &str) -> Peer {
    Peer::Udp(addr.parse().unwrap())
}

fn challenge(r: &mut Registrar, now: Instant, peer: &Peer, reg: &Reg) -> RegReply {
    let ch = r.handle(now, peer, local(), &reg.msg());
    assert_eq!(ch.code, 401);
    ch
}

fn send(r: &mut Registrar, now: Instant, peer: &Peer, reg: &Reg, a: &Answer) -> RegReply {
    let mut reg = reg.clone();
    reg.authz = Some(a.header());
    r.handle(now, peer, local(), &reg.msg())
}

fn stale(reply: &RegReply) -> bool {
    reply.code == 401 && reply.extra.iter().all(|(_, v)| v.ends_with(", stale=true"))
}

#[test]
fn a_response_without_qop_is_refused_and_not_counted() {
    let t0 = Instant::now();
    let mut r = registrar_with(table());
    let p = udp(PHONE);
    let ch = challenge(&mut r, t0, &p, &Reg::new("2001", 1));
    let mut a = Answer::to(&ch, "2001", Algorithm::Md5);
    a.qop = false;
    // The right password in the RFC 2069 form: refused, since we offered qop="auth".
    for cseq in 2..6 {
        let reply = send(&mut r, t0, &p, &Reg::new("2001", cseq), &a);
        assert_eq!(reply.code, 401, "cseq {cseq}");
        assert!(!stale(&reply));
    }
    assert!(r.lookup("2001").is_none());
    assert_eq!(
        r.limiter.len(),
        0,
        "not a password failure: never locks out"
    );
    a.qop = true;
    a.nc = "00000000";
    assert_eq!(send(&mut r, t0, &p, &Reg::new("2001", 7), &a).code, 401);
    a.nc = "00000001";
    assert_eq!(send(&mut r, t0, &p, &Reg::new("2001", 8), &a).code, 200);
}

#[test]
fn the_digest_uri_must_name_the_request_uri() {
    let t0 = Instant::now();
    let mut r = registrar_with(table());
    let p = udp(PHONE);
    let ch = challenge(&mut r, t0, &p, &Reg::new("2001", 1));
    let mut a = Answer::to(&ch, "2001", Algorithm::Sha256);
    a.uri = "sip:other.example.org";
    let reply = send(&mut r, t0, &p, &Reg::new("2001", 2), &a);
    assert_eq!(reply.code, 401);
    assert!(r.lookup("2001").is_none());
    // The same URI spelled with its default port is the same URI.
    a.uri = "sip:127.0.0.1:5060";
    assert_eq!(send(&mut r, t0, &p, &Reg::new("2001", 3), &a).code, 200);
}

#[test]
fn a_replayed_nonce_count_is_refused_with_a_fresh_stale_challenge() {
    let t0 = Instant::now();
    let mut r = registrar_with(table());
    let p = udp(PHONE);
    let ch = challenge(&mut r, t0, &p, &Reg::new("2001", 1));
    let mut a = Answer::to(&ch, "2001", Algorithm::Md5);
    let first = Reg::new("2001", 2);
    assert_eq!(send(&mut r, t0, &p, &first, &a).code, 200);
    // A UDP retransmission of that very request (same CSeq, same branch) is answered again.
    let t1 = t0 + Duration::from_secs(2);
    assert_eq!(send(&mut r, t1, &p, &first, &a).code, 200);
    // The same Authorization in a new request is a replay.
    let replay = send(&mut r, t1, &p, &Reg::new("2001", 3), &a);
    assert!(stale(&replay), "{replay:?}");
    assert_ne!(
        param(&challenge_for(&replay, "MD5"), "nonce"),
        a.nonce,
        "a fresh nonce"
    );
    // A phone that counts on is accepted; going back is not.
    a.nc = "00000002";
    assert_eq!(send(&mut r, t1, &p, &Reg::new("2001", 4), &a).code, 200);
    a.nc = "00000002";
    assert!(stale(&send(&mut r, t1, &p, &Reg::new("2001", 5), &a)));
    a.nc = "00000001";
    assert!(stale(&send(&mut r, t1, &p, &Reg::new("2001", 6), &a)));
    // Past the retransmission window even an identical request is a replay.
    a.nc = "00000003";
    let later = Reg::new("2001", 7);
    assert_eq!(send(&mut r, t1, &p, &later, &a).code, 200);
    let t2 = t1 + Duration::from_secs(40);
    assert!(stale(&send(&mut r, t2, &p, &later, &a)));
    assert_eq!(r.limiter.len(), 0, "replays are not password failures");
}

#[test]
fn an_algorithm_that_was_not_offered_is_rechallenged() {
    let t0 = Instant::now();
    let mut t = table();
    t.challenge = DigestChallenge::Md5Only;
    let mut r = registrar_with(t);
    let p = udp(PHONE);
    let ch = challenge(&mut r, t0, &p, &Reg::new("2001", 1));
    let mut a = Answer::to(&ch, "2001", Algorithm::Md5);
    a.alg = Algorithm::Sha256;
    assert_eq!(send(&mut r, t0, &p, &Reg::new("2001", 2), &a).code, 401);
    a.alg = Algorithm::Md5;
    assert_eq!(send(&mut r, t0, &p, &Reg::new("2001", 3), &a).code, 200);
}

#[test]
fn nonce_counts_stay_bounded_under_many_logins() {
    let t0 = Instant::now();
    let mut r = registrar_with(table());
    r.counts.max_entries = 16;
    let p = udp(PHONE);
    for i in 0..200u32 {
        let now = t0 + Duration::from_millis(u64::from(i) * 10);
        let ch = challenge(&mut r, now, &p, &Reg::new("2002", 2 * i + 1));
        let a = Answer::to(&ch, "2002", Algorithm::Sha256);
        assert_eq!(
            send(&mut r, now, &p, &Reg::new("2002", 2 * i + 2), &a).code,
            200
        );
        assert!(r.counts.len() <= 8, "per-user cap");
    }
}

/// A REGISTER as Kamailio forwards it: its own Via on top, the phone's below, a Path.
fn through_proxy(user: &'static str, cseq: u32, phone_ip: &str) -> Reg {
    let mut reg = Reg::new(user, cseq);
    reg.below = vec![format!(
        "SIP/2.0/UDP 10.0.0.7:5070;branch=z9hG4bKp{user}{cseq};rport=5070;received={phone_ip}"
    )];
    reg.path = vec!["<sip:192.0.2.50;lr;received=sip:198.51.100.7:5070>"];
    reg
}

#[test]
fn path_is_stored_echoed_and_becomes_the_route_of_our_invite() {
    let t0 = Instant::now();
    let mut r = registrar_with(table());
    let proxy = udp(PROXY);
    let mut reg = through_proxy("2001", 1, "198.51.100.7");
    reg.path.push("<sip:edge.example.org;lr>");
    let ch = challenge(&mut r, t0, &proxy, &reg);
    let a = Answer::to(&ch, "2001", Algorithm::Sha256);
    reg.cseq = 2;
    let ok = send(&mut r, t0, &proxy, &reg, &a);
    assert_eq!(ok.code, 200);
    assert_eq!(
        ok.extra[1..],
        [
            (
                "Path",
                "<sip:192.0.2.50;lr;received=sip:198.51.100.7:5070>".to_string()
            ),
            ("Path", "<sip:edge.example.org;lr>".to_string()),
            ("Supported", "path".to_string()),
        ],
        "RFC 3327 §5.3: the Path values in order"
    );
    let b = r.lookup("2001").unwrap().clone();
    assert_eq!(b.path.len(), 2);
    assert_eq!(b.peer, proxy, "requests go to the flow: the proxy");

    // Our INVITE to the phone: Request-URI = Contact, Route = Path, sent to the proxy.
    let mut c = Core::new(
        "fl".into(),
        Timers::default(),
        Arc::new(SipStats::default()),
    );
    let req = OutgoingInvite {
        extension: "2001".into(),
        trunk: None,
        from_user: "+31201234567".into(),
        from_display: "caller".into(),
        sdp: b"v=0\r\n".to_vec(),
        call_info: Vec::new(),
    };
    c.start_invite(t0, 9, &b, &req);
    let t = c.poll_transmit().unwrap();
    assert_eq!(t.to, proxy);
    let invite = message::parse(&t.bytes).unwrap();
    assert!(
        matches!(&invite.start, StartLine::Request { uri, .. } if uri == "sip:2001@10.0.0.7:5070")
    );
    assert_eq!(
        invite.header_list("Route"),
        [
            "<sip:192.0.2.50;lr;received=sip:198.51.100.7:5070>",
            "<sip:edge.example.org;lr>"
        ]
    );
}

#[test]
fn wrong_passwords_behind_a_proxy_lock_out_that_account_only() {
    let t0 = Instant::now();
    let mut r = registrar_with(table());
    let proxy = udp(PROXY);
    let bad = through_proxy("2001", 1, "198.51.100.7");
    let mut codes = Vec::new();
    let mut ch = challenge(&mut r, t0, &proxy, &bad);
    for i in 0..3 {
        let mut a = Answer::to(&ch, "2001", Algorithm::Md5);
        a.password = "wrong".into();
        ch = send(
            &mut r,
            t0,
            &proxy,
            &through_proxy("2001", 2 + i, "198.51.100.7"),
            &a,
        );
        codes.push(ch.code);
    }
    assert_eq!(codes, [401, 401, 403]);
    // Another phone behind the same proxy registers.
    let good = through_proxy("2002", 1, "198.51.100.8");
    let ch = challenge(&mut r, t0, &proxy, &good);
    let a = Answer::to(&ch, "2002", Algorithm::Md5);
    assert_eq!(
        send(
            &mut r,
            t0,
            &proxy,
            &through_proxy("2002", 2, "198.51.100.8"),
            &a
        )
        .code,
        200
    );
}

/// Ten failures through an untrusted proxy block it for every phone; through a trusted one they
/// block the phone they came from.
#[test]
fn a_trusted_proxy_is_not_blocked_for_one_phone_trying_many_accounts() {
    for trusted in [false, true] {
        let t0 = Instant::now();
        let mut t = table();
        if trusted {
            t.trusted_proxies = vec![TrustedProxy::Ip("192.0.2.50".parse().unwrap())];
        }
        let mut r = registrar_with(t);
        let proxy = udp(PROXY);
        let mut last = 0;
        for ext in 0..10u32 {
            let user: &'static str = Box::leak(format!("3{ext:03}").into_boxed_str());
            let ch = challenge(&mut r, t0, &proxy, &through_proxy(user, 1, "198.51.100.66"));
            let mut a = Answer::to(&ch, user, Algorithm::Md5);
            a.password = "guess".into();
            last = send(
                &mut r,
                t0,
                &proxy,
                &through_proxy(user, 2, "198.51.100.66"),
                &a,
            )
            .code;
        }
        assert_eq!(last, 403, "the 10th failure from one source blocks it");
        let good = through_proxy("2002", 1, "198.51.100.8");
        let reply = r.handle(t0, &proxy, local(), &good.msg());
        if trusted {
            assert_eq!(reply.code, 401, "other phones behind a trusted proxy go on");
            let a = Answer::to(&reply, "2002", Algorithm::Md5);
            let ok = send(
                &mut r,
                t0,
                &proxy,
                &through_proxy("2002", 2, "198.51.100.8"),
                &a,
            );
            assert_eq!(ok.code, 200);
            let scanner = r.handle(
                t0,
                &proxy,
                local(),
                &through_proxy("2002", 3, "198.51.100.66").msg(),
            );
            assert_eq!(scanner.code, 403, "the scanning phone stays blocked");
        } else {
            assert_eq!(reply.code, 403, "an untrusted proxy is one source");
        }
    }
}

#[test]
fn the_phone_address_behind_a_trusted_proxy_comes_from_its_via() {
    let mut t = table();
    t.trusted_proxies = vec!["192.0.2.50:5060".parse().unwrap()];
    let mut r = registrar_with(t);
    let t0 = Instant::now();
    // Only that port is trusted: from another port of the same host the sender counts.
    let other_port = udp("192.0.2.50:5080");
    for i in 0..3 {
        let ch = challenge(
            &mut r,
            t0,
            &other_port,
            &through_proxy("2001", 1, "198.51.100.7"),
        );
        let mut a = Answer::to(&ch, "2001", Algorithm::Md5);
        a.password = "wrong".into();
        send(
            &mut r,
            t0,
            &other_port,
            &through_proxy("2001", 2 + i, "198.51.100.7"),
            &a,
        );
    }
    let addr: SocketAddr = "192.0.2.50:5060".parse().unwrap();
    let blocked_here = r.handle(
        t0,
        &Peer::Udp(addr),
        local(),
        &through_proxy("2001", 9, "198.51.100.7").msg(),
    );
    assert_eq!(
        blocked_here.code, 401,
        "through the trusted port the phone's own address counts, and it has no failures"
    );
}
