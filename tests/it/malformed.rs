//! Malformed-input sweep over SIP on UDP and TCP (RFC 3261 §18.3, §8.2.2, §7.3.3): broken
//! messages get 400/413 or nothing, never a crash, and a valid call is served afterwards.

use std::time::Duration;

use crate::helpers::{TestApp, spawn_app, within};
use crate::rtp::RtpPeer;
use crate::ua::{Ua, sdp_offer};

/// What a case may answer: `Must(code)` or `NoneOr(codes)` (nothing, or one of these).
enum Expect {
    Must(u16),
    NoneOr(&'static [u16]),
}

/// A valid INVITE from `ua` (a fresh Call-ID each time).
fn invite(ua: &mut Ua) -> String {
    let sdp = sdp_offer("127.0.0.1:40000".parse().unwrap(), &[(0, "PCMU/8000")], &[]);
    ua.build("INVITE", Some("application/sdp"), &sdp)
}

fn without_header(msg: &str, name: &str) -> String {
    let prefix = format!("{name}:");
    msg.split("\r\n")
        .filter(|l| !l.starts_with(&prefix))
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn with_content_length(msg: &str, len: usize) -> String {
    msg.split("\r\n")
        .map(|l| {
            if l.starts_with("Content-Length:") {
                format!("Content-Length: {len}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// The INVITE with every header that has one in its compact form (RFC 3261 §7.3.3).
fn compact(msg: &str) -> String {
    let mut out = msg.to_string();
    for (long, short) in [
        ("Via:", "v:"),
        ("From:", "f:"),
        ("To:", "t:"),
        ("Call-ID:", "i:"),
        ("Contact:", "m:"),
        ("Content-Length:", "l:"),
        ("Content-Type:", "c:"),
    ] {
        out = out.replace(&format!("\r\n{long}"), &format!("\r\n{short}"));
    }
    out
}

/// Builds the sweep's cases for a transport; `huge` is the size of the oversized message.
fn cases(ua: &mut Ua, huge: usize) -> Vec<(&'static str, Vec<u8>, Expect)> {
    let ok = invite(ua);
    let body_at = ok.find("\r\n\r\n").unwrap() + 4;
    let mut v: Vec<(&'static str, Vec<u8>, Expect)> = vec![
        (
            "truncated INVITE",
            ok.as_bytes()[..body_at / 2].to_vec(),
            Expect::NoneOr(&[400]),
        ),
        (
            "garbage bytes",
            (0..600u32).map(|i| (i * 151 % 251) as u8).collect(),
            Expect::NoneOr(&[400]),
        ),
        ("NUL bytes", vec![0u8; 64], Expect::NoneOr(&[400])),
    ];
    if huge > 65_000 {
        // Over TCP: bigger than any sane SIP message; refused (413/400/513) or dropped.
        let mut big = invite(ua);
        big.push_str(&("a=x-pad:".to_string() + &"z".repeat(huge) + "\r\n"));
        let len = big.len() - (big.find("\r\n\r\n").unwrap() + 4);
        v.push((
            "huge INVITE",
            with_content_length(&big, len).into_bytes(),
            Expect::NoneOr(&[400, 413, 513]),
        ));
    } else {
        // Over UDP a datagram tops out near 64 KB, which a server may accept: an OPTIONS
        // (no dialog left behind) either gets its 200 or is refused; never a crash.
        let body = "z".repeat(huge);
        let big = ua.build("OPTIONS", Some("text/plain"), &body);
        v.push((
            "huge OPTIONS",
            big.into_bytes(),
            Expect::NoneOr(&[200, 400, 413, 513]),
        ));
    }
    v.push((
        "missing Via",
        without_header(&invite(ua), "Via").into_bytes(),
        Expect::NoneOr(&[400]),
    ));
    for h in ["From", "To", "Call-ID", "CSeq"] {
        let name: &'static str = match h {
            "From" => "missing From",
            "To" => "missing To",
            "Call-ID" => "missing Call-ID",
            _ => "missing CSeq",
        };
        v.push((
            name,
            without_header(&invite(ua), h).into_bytes(),
            Expect::Must(400),
        ));
    }
    v
}

/// Sends each case on a fresh UDP socket and checks what comes back.
async fn sweep_udp(t: &TestApp) {
    let mut maker = Ua::udp(t.udp()).await;
    for (name, bytes, expect) in cases(&mut maker, 60_000) {
        let mut ua = Ua::udp(t.udp()).await;
        ua.send_raw(&bytes).await;
        check(name, &mut ua, expect, "UDP").await;
    }
    // Content-Length larger than the datagram: a request SHOULD get 400 (RFC 3261 §18.3).
    let mut ua = Ua::udp(t.udp()).await;
    let m = invite(&mut ua);
    let body = m.len() - (m.find("\r\n\r\n").unwrap() + 4);
    ua.send_raw(with_content_length(&m, body + 50).as_bytes())
        .await;
    check(
        "Content-Length too long (UDP)",
        &mut ua,
        Expect::Must(400),
        "UDP",
    )
    .await;
    // Content-Length shorter than the datagram: the rest is discarded, the request is fine.
    let mut ua = Ua::udp(t.udp()).await;
    let m = ua.build("OPTIONS", Some("text/plain"), "hello, extra bytes");
    ua.send_raw(with_content_length(&m, 5).as_bytes()).await;
    check(
        "Content-Length too short (UDP)",
        &mut ua,
        Expect::Must(200),
        "UDP",
    )
    .await;
}

/// Sends each case on its own TCP connection.
async fn sweep_tcp(t: &TestApp) {
    let mut maker = Ua::tcp(t.tcp()).await;
    for (name, bytes, expect) in cases(&mut maker, 100_000) {
        let mut ua = Ua::tcp(t.tcp()).await;
        ua.send_raw(&bytes).await;
        if name == "truncated INVITE" {
            // On a stream a truncated message is just incomplete; close our side instead.
            continue;
        }
        check(name, &mut ua, expect, "TCP").await;
    }
    // Too short on a stream: the extra bytes are the start of the next (garbage) message.
    let mut ua = Ua::tcp(t.tcp()).await;
    let m = ua.build("OPTIONS", Some("text/plain"), "hello, extra bytes");
    ua.send_raw(with_content_length(&m, 5).as_bytes()).await;
    check(
        "Content-Length too short (TCP)",
        &mut ua,
        Expect::Must(200),
        "TCP",
    )
    .await;
}

async fn check(name: &str, ua: &mut Ua, expect: Expect, proto: &str) {
    let got = ua
        .recv(Duration::from_millis(800))
        .await
        .and_then(|m| m.status());
    match expect {
        Expect::Must(code) => assert_eq!(got, Some(code), "{proto} {name}: expected {code}"),
        Expect::NoneOr(codes) => {
            assert!(
                got.is_none() || codes.contains(&got.unwrap_or(0)),
                "{proto} {name}: answered {got:?}"
            )
        }
    }
}

/// A compact-header INVITE gets the normal 100/180/200, then a clean hang-up.
async fn compact_call(t: &TestApp, tcp: bool) {
    let mut ua = if tcp {
        Ua::tcp(t.tcp()).await
    } else {
        Ua::udp(t.udp()).await
    };
    let rtp = RtpPeer::bind().await;
    let m = ua.build(
        "INVITE",
        Some("application/sdp"),
        &sdp_offer(rtp.addr(), &[(0, "PCMU/8000")], &[]),
    );
    ua.send_raw(compact(&m).as_bytes()).await;
    let (prov, fin) = ua.final_response("INVITE", Duration::from_secs(10)).await;
    let fin = fin.expect("final response to compact INVITE");
    assert_eq!(fin.status(), Some(200), "compact INVITE: {fin:?}");
    assert!(
        prov.contains(&180),
        "compact INVITE provisional responses {prov:?}"
    );
    ua.learn_dialog(&fin);
    ua.ack().await;
    assert_eq!(ua.bye().await, Some(200));
}

/// A normal call with INFO digits: the server still serves calls end to end.
async fn valid_call(t: &TestApp) {
    let mut ua = Ua::udp(t.udp()).await;
    let rtp = RtpPeer::bind().await;
    let (_, ok) = ua
        .call(&sdp_offer(rtp.addr(), &[(0, "PCMU/8000")], &[]))
        .await;
    assert_eq!(ok.status(), Some(200));
    for d in ["1", "2", "5"] {
        let body = format!("Signal={d}\r\nDuration=160\r\n");
        let r = ua
            .in_dialog("INFO", Some("application/dtmf-relay"), &body)
            .await;
        assert_eq!(r.and_then(|r| r.status()), Some(200));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let intake = t.intake_for(&ua.call_id).await;
    assert_eq!(
        (intake.category.as_str(), intake.priority),
        ("software", Some(5)),
        "{intake:?}"
    );
    assert_eq!(ua.bye().await, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sweep_udp_then_valid_call() {
    within(90, async {
        let t = spawn_app().await;
        sweep_udp(&t).await;
        compact_call(&t, false).await;
        valid_call(&t).await;
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sweep_tcp_then_valid_call() {
    within(90, async {
        let t = spawn_app().await;
        sweep_tcp(&t).await;
        compact_call(&t, true).await;
        valid_call(&t).await;
        t.finish().await;
    })
    .await;
}
