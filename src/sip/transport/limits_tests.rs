//! Admission caps and connection deadlines with simulated time.

use super::*;

const S: Duration = Duration::from_secs(1);

fn limits() -> ConnLimits {
    ConnLimits {
        max_total: 3,
        max_per_source: 2,
        handshake: 5 * S,
        first_message: 10 * S,
        message: 20 * S,
        idle: 60 * S,
        kept_idle: 600 * S,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn caps_count_per_source_and_in_total_and_free_on_drop() {
    let t = Arc::new(ConnTable::default());
    let l = limits();
    let a1 = t.admit(ip("192.0.2.1"), false, &l).unwrap();
    let a2 = t.admit(ip("192.0.2.1"), true, &l).unwrap();
    assert_eq!(
        t.admit(ip("192.0.2.1"), false, &l).unwrap_err(),
        Refusal::PerSource
    );
    let b1 = t.admit(ip("192.0.2.2"), false, &l).unwrap();
    assert_eq!(
        t.admit(ip("192.0.2.3"), false, &l).unwrap_err(),
        Refusal::Total
    );
    let c = t.counts();
    assert_eq!((c.open, c.open_tls), (3, 1));
    assert_eq!((c.refused_per_source, c.refused_total), (1, 1));
    drop(a2);
    assert_eq!(t.counts().open_tls, 0);
    let a3 = t.admit(ip("192.0.2.1"), false, &l).unwrap();
    drop((a1, a3, b1));
    assert_eq!(t.open(), 0);
    assert!(
        t.per_source.lock().unwrap().is_empty(),
        "no empty entries left"
    );
}

#[test]
fn an_ipv6_source_is_its_slash_64_and_mapped_v4_is_v4() {
    let t = Arc::new(ConnTable::default());
    let l = limits();
    let _a = t.admit(ip("2001:db8:1:2::1"), false, &l).unwrap();
    let _b = t.admit(ip("2001:db8:1:2:ffff::9"), false, &l).unwrap();
    assert_eq!(
        t.admit(ip("2001:db8:1:2::77"), false, &l).unwrap_err(),
        Refusal::PerSource,
        "same /64"
    );
    assert_eq!(source_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
}

#[test]
fn tls_handshake_then_first_message_deadlines() {
    let t0 = Instant::now();
    let mut c = ConnClock::new(t0, limits(), true);
    assert_eq!(c.next(false), (t0 + 5 * S, Expired::Handshake));
    assert_eq!(c.expired(t0 + 4 * S, false), None);
    assert_eq!(c.expired(t0 + 5 * S, false), Some(Expired::Handshake));
    c.handshake_done(t0 + 2 * S);
    assert_eq!(c.next(false), (t0 + 12 * S, Expired::FirstMessage));
}

#[test]
fn a_byte_at_a_time_first_message_is_cut_at_its_deadline() {
    let t0 = Instant::now();
    let mut c = ConnClock::new(t0, limits(), false);
    for s in 0..10 {
        c.on_bytes(t0 + s * S);
        assert_eq!(c.expired(t0 + s * S, false), None);
    }
    assert_eq!(c.expired(t0 + 10 * S, false), Some(Expired::FirstMessage));
}

#[test]
fn pings_do_not_count_as_a_first_message() {
    let t0 = Instant::now();
    let mut c = ConnClock::new(t0, limits(), false);
    c.on_ping(t0 + 9 * S);
    assert_eq!(c.expired(t0 + 10 * S, false), Some(Expired::FirstMessage));
}

#[test]
fn after_the_first_message_a_slow_message_and_idleness_are_cut() {
    let t0 = Instant::now();
    let mut c = ConnClock::new(t0, limits(), false);
    c.on_bytes(t0);
    c.on_message(t0 + S);
    assert_eq!(c.next(false), (t0 + 61 * S, Expired::Idle));
    assert_eq!(
        c.next(true),
        (t0 + 601 * S, Expired::Idle),
        "kept: long idle"
    );
    // A second message trickles in from t0+30 s.
    c.on_bytes(t0 + 30 * S);
    c.on_bytes(t0 + 45 * S);
    assert_eq!(c.next(true), (t0 + 50 * S, Expired::Message));
    assert_eq!(c.expired(t0 + 49 * S, true), None);
    assert_eq!(c.expired(t0 + 50 * S, true), Some(Expired::Message));
    // Completed in time: idle counts from it.
    c.on_message(t0 + 49 * S);
    assert_eq!(c.next(false), (t0 + 109 * S, Expired::Idle));
    c.on_ping(t0 + 100 * S);
    assert_eq!(
        c.next(false),
        (t0 + 160 * S, Expired::Idle),
        "a ping keeps it"
    );
}

#[test]
fn what_we_send_decides_whether_a_connection_is_kept() {
    let ok_register = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\n\
CSeq: 2 REGISTER\r\nContent-Length: 0\r\n\r\n";
    let ok_invite = b"SIP/2.0 200 OK\r\ncseq:   1  INVITE\r\n\r\nv=0\r\n";
    let ok_options = b"SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n";
    let challenge = b"SIP/2.0 401 Unauthorized\r\nCSeq: 1 REGISTER\r\n\r\n";
    let body_says_register = b"SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\nCSeq: 1 REGISTER\r\n";
    let request = b"INVITE sip:2001@192.0.2.5 SIP/2.0\r\n\r\n";
    assert!(keeps_connection(ok_register));
    assert!(keeps_connection(ok_invite));
    assert!(keeps_connection(request));
    assert!(!keeps_connection(ok_options));
    assert!(!keeps_connection(challenge));
    assert!(!keeps_connection(body_says_register));
    assert!(!keeps_connection(b"\r\n"), "a pong is not a request");
    assert!(!keeps_connection(b""));
}
