//! The answers RFC 3261 asks for where firstline used to differ (issue 11, item 7), against the
//! real server over UDP and TCP: conflicting Content-Length → 400, another SIP version → 505, a
//! NUL inside a header value → 400 (and the TCP connection goes on), Max-Forwards: 0 to us (we
//! never forward) → answered normally, an SDP payload type above 127 → 488.

use std::time::Duration;

use crate::helpers::{spawn_app, within};
use crate::ua::{Ua, sdp_offer};

/// The final answer to what `ua` just sent: (status, reason phrase).
async fn answer(ua: &mut Ua) -> Option<(u16, String)> {
    let m = ua.recv(Duration::from_secs(2)).await?;
    let status = m.status()?;
    let reason = m.start.splitn(3, ' ').nth(2).unwrap_or("").to_string();
    Some((status, reason))
}

/// An OPTIONS from `ua` with `edit` applied to its text.
fn options(ua: &mut Ua, edit: impl Fn(&str) -> String) -> Vec<u8> {
    edit(&ua.build("OPTIONS", None, "")).into_bytes()
}

fn add_header(msg: &str, header: &str) -> String {
    msg.replacen("\r\nCall-ID:", &format!("\r\n{header}\r\nCall-ID:"), 1)
}

async fn refused_cases(ua: &mut Ua, proto: &str) {
    // 4 and 0, then 4 bytes: the message is the same whichever value a framer believes.
    let conflicting = options(ua, |m| add_header(m, "Content-Length: 4") + "abcd");
    ua.send_raw(&conflicting).await;
    assert_eq!(
        answer(ua).await,
        Some((400, "Bad Request (conflicting Content-Length)".into())),
        "{proto}: two Content-Length values"
    );

    let nul = options(ua, |m| add_header(m, "Subject: help\0desk"));
    ua.send_raw(&nul).await;
    assert_eq!(
        answer(ua).await.map(|a| a.0),
        Some(400),
        "{proto}: NUL inside a header value"
    );

    let v3 = options(ua, |m| m.replacen(" SIP/2.0\r\n", " SIP/3.0\r\n", 1));
    ua.send_raw(&v3).await;
    assert_eq!(
        answer(ua).await,
        Some((505, "Version Not Supported".into())),
        "{proto}: SIP/3.0"
    );

    // We are the UAS of every request we take and never proxy: Max-Forwards 0 is answered.
    let mf0 = options(ua, |m| m.replacen("Max-Forwards: 70", "Max-Forwards: 0", 1));
    ua.send_raw(&mf0).await;
    assert_eq!(
        answer(ua).await.map(|a| a.0),
        Some(200),
        "{proto}: Max-Forwards 0"
    );

    // The connection (or socket) is still served.
    let fine = options(ua, str::to_string);
    ua.send_raw(&fine).await;
    assert_eq!(
        answer(ua).await.map(|a| a.0),
        Some(200),
        "{proto}: afterwards"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3261_answers_over_udp_and_tcp() {
    within(60, async {
        let t = spawn_app().await;
        let mut udp = Ua::udp(t.udp()).await;
        refused_cases(&mut udp, "UDP").await;
        let mut tcp = Ua::tcp(t.tcp()).await;
        refused_cases(&mut tcp, "TCP").await;
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_type_above_127_is_refused_with_488() {
    within(60, async {
        let t = spawn_app().await;
        let mut ua = Ua::udp(t.udp()).await;
        let sdp = sdp_offer("127.0.0.1:40000".parse().unwrap(), &[(0, "PCMU/8000")], &[]).replacen(
            "RTP/AVP 0",
            "RTP/AVP 0 200",
            1,
        );
        assert!(sdp.contains("RTP/AVP 0 200"), "{sdp}");
        let (_, fin) = ua.call(&sdp).await;
        assert_eq!(
            fin.status(),
            Some(488),
            "{}",
            String::from_utf8_lossy(&fin.raw)
        );
        t.finish().await;
    })
    .await;
}
