//! Registrar scenarios with simulated time: challenge, digest (MD5/SHA-256), stale nonces,
//! failure limiter, binding refresh/expiry/removal, 423, `Contact: *`, no user enumeration.
//! The stricter digest rules (qop, uri, nonce counts), Path and trusted proxies are in
//! `registrar_digest_tests.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::SipCredential;
use super::auth::{self, Algorithm};
use super::core::Peer;
use super::message::{SipMsg, header_param, parse};
use super::registrar::{CredTable, RegReply, Registrar, RegistrarConfig};

const PHONE: &str = "192.0.2.10:5070";

pub(super) fn registrar() -> Registrar {
    let mut r = Registrar::new(RegistrarConfig::default());
    let cred = SipCredential {
        extension: "2001".into(),
        agent_id: crate::domain::AgentId::from_string("agent-demo-anna"),
        ha1_md5: Some(auth::ha1_md5("2001", "firstline", "2001-sip")),
        ha1_sha256: Some(auth::ha1_sha256("2001", "firstline", "2001-sip")),
    };
    r.set_credentials(Arc::new(CredTable::new(None, vec![cred])));
    r
}

pub(super) fn peer() -> Peer {
    Peer::Udp(PHONE.parse().unwrap())
}

pub(super) fn local() -> SocketAddr {
    "127.0.0.1:5060".parse().unwrap()
}

fn register(
    user: &str,
    cseq: u32,
    contact: &str,
    expires: Option<u64>,
    authz: Option<String>,
) -> SipMsg {
    let expires = expires
        .map(|e| format!("Expires: {e}\r\n"))
        .unwrap_or_default();
    let authz = authz
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let contact = if contact.is_empty() {
        String::new()
    } else {
        format!("Contact: {contact}\r\n")
    };
    parse(
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{cseq}\r\n\
From: <sip:{user}@127.0.0.1>;tag=f\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg-1\r\n\
CSeq: {cseq} REGISTER\r\n{contact}{expires}{authz}Content-Length: 0\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap()
}

/// The `WWW-Authenticate` value for `alg` in a 401.
pub(super) fn challenge_for(r: &RegReply, alg: &str) -> String {
    r.extra
        .iter()
        .find(|(n, v)| *n == "WWW-Authenticate" && v.contains(&format!("algorithm={alg},")))
        .map(|(_, v)| v.clone())
        .unwrap()
}

pub(super) fn param(challenge: &str, name: &str) -> String {
    let i = challenge.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    challenge[i..].split('"').next().unwrap().to_string()
}

/// What a phone answers to `challenge` with `password` (RFC 7616 §3.4).
pub(super) fn authorization(user: &str, password: &str, challenge: &str, alg: Algorithm) -> String {
    let nonce = param(challenge, "nonce");
    let ha1 = match alg {
        Algorithm::Md5 => auth::ha1_md5(user, "firstline", password),
        Algorithm::Sha256 => auth::ha1_sha256(user, "firstline", password),
    };
    let c = auth::Credentials {
        username: user.into(),
        realm: "firstline".into(),
        nonce: nonce.clone(),
        uri: "sip:127.0.0.1".into(),
        response: String::new(),
        algorithm: Some(alg.token().into()),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        cnonce: Some("c0ffee".into()),
    };
    let resp = auth::expected_response(alg, &ha1, "REGISTER", &c).unwrap();
    format!(
        "Digest username=\"{user}\", realm=\"firstline\", nonce=\"{nonce}\", uri=\"sip:127.0.0.1\", \
         response=\"{resp}\", algorithm={}, qop=auth, nc=00000001, cnonce=\"c0ffee\"",
        alg.token()
    )
}

/// Registers `contact` for 2001 with a fresh challenge; returns the final reply.
fn login(
    r: &mut Registrar,
    now: Instant,
    cseq: u32,
    contact: &str,
    expires: Option<u64>,
    alg: Algorithm,
) -> RegReply {
    let ch = r.handle(
        now,
        &peer(),
        local(),
        &register("2001", cseq, contact, expires, None),
    );
    assert_eq!(ch.code, 401);
    let a = authorization("2001", "2001-sip", &challenge_for(&ch, alg.token()), alg);
    r.handle(
        now,
        &peer(),
        local(),
        &register("2001", cseq + 1, contact, expires, Some(a)),
    )
}

#[test]
fn challenge_offers_sha256_first_then_md5_with_qop_auth() {
    let mut r = registrar();
    let reply = r.handle(
        Instant::now(),
        &peer(),
        local(),
        &register("2001", 1, "<sip:2001@192.0.2.10:5070>", None, None),
    );
    assert_eq!(reply.code, 401);
    let values: Vec<&String> = reply.extra.iter().map(|(_, v)| v).collect();
    assert_eq!(values.len(), 2);
    assert!(values[0].starts_with("Digest realm=\"firstline\", nonce=\""));
    assert!(values[0].contains("algorithm=SHA-256, qop=\"auth\""));
    assert!(values[1].contains("algorithm=MD5, qop=\"auth\""));
}

#[test]
fn sha256_and_md5_logins_bind_with_clamped_expiry() {
    let t0 = Instant::now();
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let mut r = registrar();
        let ok = login(
            &mut r,
            t0,
            1,
            "<sip:2001@192.0.2.10:5070;transport=tcp>",
            Some(7200),
            alg,
        );
        assert_eq!(ok.code, 200, "{alg:?}");
        assert_eq!(
            ok.extra,
            vec![(
                "Contact",
                "<sip:2001@192.0.2.10:5070;transport=tcp>;expires=3600".to_string()
            )]
        );
        let b = r.lookup("2001").unwrap().public();
        assert_eq!(b.source, PHONE.parse::<SocketAddr>().unwrap());
        assert_eq!(b.expires_at, t0 + Duration::from_secs(3600));
        assert_eq!(r.poll_changed().as_deref(), Some("2001"));
    }
}

/// An admin's change to the accounts (issue 13): a removed extension loses its binding at once
/// (and tells the application), a new password keeps it until the phone's next REGISTER, which
/// then needs the new password.
#[test]
fn a_removed_extension_loses_its_binding_and_a_new_password_applies_at_the_next_register() {
    let t0 = Instant::now();
    let mut r = registrar();
    let ok = login(
        &mut r,
        t0,
        1,
        "<sip:2001@192.0.2.10:5070>",
        None,
        Algorithm::Sha256,
    );
    assert_eq!(ok.code, 200);
    while r.poll_changed().is_some() {}

    let anna = crate::domain::AgentId::from_string("agent-demo-anna");
    let new_password = SipCredential {
        extension: "2001".into(),
        agent_id: anna.clone(),
        ha1_md5: Some(auth::ha1_md5("2001", "firstline", "new-2001-sip")),
        ha1_sha256: Some(auth::ha1_sha256("2001", "firstline", "new-2001-sip")),
    };
    r.set_credentials(Arc::new(CredTable::new(None, vec![new_password])));
    assert!(
        r.lookup("2001").is_some(),
        "a new password keeps the binding"
    );
    assert_eq!(r.poll_changed(), None);
    let old = login(
        &mut r,
        t0,
        3,
        "<sip:2001@192.0.2.10:5070>",
        None,
        Algorithm::Sha256,
    );
    assert_eq!(old.code, 401, "the old password no longer registers");

    r.set_credentials(Arc::new(CredTable::new(None, vec![])));
    assert!(
        r.lookup("2001").is_none(),
        "a removed extension has no binding"
    );
    assert_eq!(r.poll_changed().as_deref(), Some("2001"));
    assert_eq!(r.agent_of("2001"), None);
}

#[test]
fn too_brief_gets_423_and_zero_removes_and_star_clears() {
    let t0 = Instant::now();
    let mut r = registrar();
    let brief = login(
        &mut r,
        t0,
        1,
        "<sip:2001@192.0.2.10>",
        Some(30),
        Algorithm::Md5,
    );
    assert_eq!(brief.code, 423);
    assert_eq!(brief.extra, vec![("Min-Expires", "60".to_string())]);
    assert!(r.lookup("2001").is_none());
    assert_eq!(
        login(
            &mut r,
            t0,
            3,
            "<sip:2001@192.0.2.10>;expires=120",
            None,
            Algorithm::Md5
        )
        .code,
        200
    );
    assert_eq!(
        login(
            &mut r,
            t0,
            5,
            "<sip:2001@192.0.2.11>",
            Some(600),
            Algorithm::Md5
        )
        .code,
        200
    );
    assert_eq!(r.aor_count(), 1);
    let removed = login(
        &mut r,
        t0,
        7,
        "<sip:2001@192.0.2.11>",
        Some(0),
        Algorithm::Md5,
    );
    assert_eq!(
        removed.extra.len(),
        1,
        "one contact left: {:?}",
        removed.extra
    );
    let bad_star = login(&mut r, t0, 9, "*", Some(60), Algorithm::Md5);
    assert_eq!(bad_star.code, 400);
    let star = login(&mut r, t0, 11, "*", Some(0), Algorithm::Md5);
    assert_eq!((star.code, star.extra.len()), (200, 0));
    assert!(r.lookup("2001").is_none());
}

#[test]
fn bindings_expire_by_timer_and_refresh_extends_them() {
    let t0 = Instant::now();
    let mut r = registrar();
    login(
        &mut r,
        t0,
        1,
        "<sip:2001@192.0.2.10>",
        Some(60),
        Algorithm::Sha256,
    );
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    let t1 = t0 + Duration::from_secs(50);
    login(
        &mut r,
        t1,
        3,
        "<sip:2001@192.0.2.10>",
        Some(60),
        Algorithm::Sha256,
    );
    assert_eq!(r.poll_timeout(), Some(t1 + Duration::from_secs(60)));
    r.handle_timeout(t0 + Duration::from_secs(61));
    assert!(
        r.lookup("2001").is_some(),
        "refreshed binding survives the old deadline"
    );
    while r.poll_changed().is_some() {}
    r.handle_timeout(t1 + Duration::from_secs(60));
    assert!(r.lookup("2001").is_none());
    assert_eq!(r.poll_changed().as_deref(), Some("2001"));
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn expired_nonce_with_right_password_is_stale_not_a_failure() {
    let t0 = Instant::now();
    let mut r = registrar();
    let ch = r.handle(
        t0,
        &peer(),
        local(),
        &register("2001", 1, "<sip:2001@192.0.2.10>", None, None),
    );
    let a = authorization(
        "2001",
        "2001-sip",
        &challenge_for(&ch, "MD5"),
        Algorithm::Md5,
    );
    let late = t0 + Duration::from_secs(301);
    for i in 0..5 {
        let reply = r.handle(
            late,
            &peer(),
            local(),
            &register(
                "2001",
                2 + i,
                "<sip:2001@192.0.2.10>",
                None,
                Some(a.clone()),
            ),
        );
        assert_eq!(reply.code, 401);
        let v = &reply.extra[0].1;
        assert_eq!(
            header_param(&format!("x;{}", v.replace(", ", ";")), "stale"),
            Some("true")
        );
    }
    let wrong = authorization("2001", "guess", &challenge_for(&ch, "MD5"), Algorithm::Md5);
    let reply = r.handle(
        late,
        &peer(),
        local(),
        &register("2001", 9, "<sip:2001@192.0.2.10>", None, Some(wrong)),
    );
    assert!(!reply.extra[0].1.contains("stale"));
}

#[test]
fn three_wrong_passwords_then_403_and_unknown_user_answers_the_same() {
    let t0 = Instant::now();
    for user in ["2001", "9999"] {
        let mut r = registrar();
        let mut codes = Vec::new();
        let mut ch = r.handle(
            t0,
            &peer(),
            local(),
            &register(user, 1, "<sip:x@192.0.2.10>", None, None),
        );
        for i in 0..4 {
            let a = authorization(
                user,
                "wrong",
                &challenge_for(&ch, "SHA-256"),
                Algorithm::Sha256,
            );
            ch = r.handle(
                t0,
                &peer(),
                local(),
                &register(user, 2 + i, "<sip:x@192.0.2.10>", None, Some(a)),
            );
            codes.push(ch.code);
            if ch.code == 403 {
                assert_eq!(ch.extra, vec![("Retry-After", "30".to_string())]);
                break;
            }
        }
        assert_eq!(codes, vec![401, 401, 403], "user {user}");
        // While blocked, the account is refused from this source even with the right password;
        // another account from the same source is not (failures count per account and source).
        let blocked = r.handle(
            t0 + Duration::from_secs(5),
            &peer(),
            local(),
            &register(user, 9, "<sip:x@h>", None, None),
        );
        assert_eq!(blocked.code, 403);
        if user == "9999" {
            let ok = login(&mut r, t0, 30, "<sip:2001@h>", None, Algorithm::Md5);
            assert_eq!(ok.code, 200, "2001 is not locked out by 9999's failures");
            continue;
        }
        assert_eq!(
            login(
                &mut r,
                t0 + Duration::from_secs(31),
                20,
                "<sip:2001@h>",
                None,
                Algorithm::Md5
            )
            .code,
            200
        );
    }
}

#[test]
fn forged_or_foreign_nonce_is_rechallenged_and_wrong_realm_too() {
    let t0 = Instant::now();
    let mut r = registrar();
    let mut other = registrar();
    let ch = other.handle(
        t0,
        &peer(),
        local(),
        &register("2001", 1, "<sip:x@h>", None, None),
    );
    let a = authorization(
        "2001",
        "2001-sip",
        &challenge_for(&ch, "MD5"),
        Algorithm::Md5,
    );
    let reply = r.handle(
        t0,
        &peer(),
        local(),
        &register("2001", 2, "<sip:x@h>", None, Some(a.clone())),
    );
    assert_eq!(reply.code, 401);
    let realm = a.replace("realm=\"firstline\"", "realm=\"evil\"");
    assert_eq!(
        r.handle(
            t0,
            &peer(),
            local(),
            &register("2001", 3, "<sip:x@h>", None, Some(realm))
        )
        .code,
        401
    );
    assert_eq!(r.limiter.len(), 0, "no failure counted");
}

#[test]
fn a_storm_of_bad_registers_keeps_memory_capped() {
    let t0 = Instant::now();
    let mut r = registrar();
    r.limiter.max_entries = 256;
    for i in 0..20_000u32 {
        let ip = std::net::IpAddr::from((0x0a00_0000 + i).to_be_bytes());
        let p = Peer::Udp(SocketAddr::new(ip, 5060));
        let now = t0 + Duration::from_millis(u64::from(i));
        let ch = r.handle(
            now,
            &p,
            local(),
            &register("2001", 1, "<sip:x@h>", None, None),
        );
        let a = authorization("2001", "bad", &challenge_for(&ch, "MD5"), Algorithm::Md5);
        let reply = r.handle(
            now,
            &p,
            local(),
            &register("2001", 2, "<sip:x@h>", None, Some(a)),
        );
        assert_eq!(reply.code, 401);
        assert!(r.limiter.len() <= 256);
    }
    assert_eq!(r.aor_count(), 0);
}

#[test]
fn challenge_order_is_configurable_for_old_clients() {
    let mut r = registrar();
    let mut table = CredTable::new(None, Vec::new());
    table.challenge = super::api::DigestChallenge::Md5Only;
    r.set_credentials(Arc::new(table));
    let reply = r.handle(
        Instant::now(),
        &peer(),
        local(),
        &register("2001", 1, "<sip:x@h>", None, None),
    );
    assert_eq!(reply.extra.len(), 1);
    assert!(reply.extra[0].1.contains("algorithm=MD5"));
}
