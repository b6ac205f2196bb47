//! Regression (issue 11): a leg event is never dropped because the call task is busy. A call
//! task that stops reading gets its INFOs refused (500 + Retry-After) once only the reserved
//! slots are left; the re-INVITE and BYE that follow still reach it, and the re-INVITE is
//! answered (487, RFC 3261 §15.1.2) when the BYE ends the dialog. Over loopback UDP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::{LegEvent, SipConfig, SipEndpoint};

const WAIT: Duration = Duration::from_secs(5);

fn request(
    method: &str,
    branch: &str,
    cseq: u32,
    tag: &str,
    me: SocketAddr,
    ctype: &str,
    body: &str,
) -> Vec<u8> {
    let to_tag = if tag.is_empty() {
        String::new()
    } else {
        format!(";tag={tag}")
    };
    let ctype = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Type: {ctype}\r\n")
    };
    format!(
        "{method} sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:+31201234567@127.0.0.1>;tag=ph\r\nTo: <sip:100@127.0.0.1>{to_tag}\r\n\
Call-ID: busy1\r\nCSeq: {cseq} {method}\r\nContact: <sip:ann@{me}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn recv(sock: &UdpSocket) -> String {
    let mut buf = vec![0u8; 65_536];
    let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

#[tokio::test]
async fn a_busy_call_task_loses_no_event() {
    let cfg = SipConfig {
        udp_listen: "127.0.0.1:0".parse().unwrap(),
        tcp_listen: "127.0.0.1:0".parse().unwrap(),
        ..SipConfig::default()
    };
    let token = CancellationToken::new();
    let (ep, mut calls) = SipEndpoint::start(cfg, token.clone()).await.unwrap();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (me, to) = (phone.local_addr().unwrap(), ep.udp_addr());
    let sdp = "application/sdp";
    phone
        .send_to(&request("INVITE", "i1", 1, "", me, sdp, "v=0\r\n"), to)
        .await
        .unwrap();
    assert!(recv(&phone).await.starts_with("SIP/2.0 100 "));
    let mut call = timeout(WAIT, calls.recv()).await.unwrap().unwrap();
    call.leg.answer(b"v=0\r\n".to_vec()).await;
    let ok = recv(&phone).await;
    let tag = ok
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split(";tag=").nth(1))
        .unwrap()
        .trim()
        .to_string();
    phone
        .send_to(&request("ACK", "a1", 1, &tag, me, "", ""), to)
        .await
        .unwrap();
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(LegEvent::Acked)
    );

    // The call task stops reading: 28 INFOs fit beside the 4 reserved slots, the rest get 500.
    let dtmf = "application/dtmf-relay";
    let mut answers = Vec::new();
    for n in 0..40u32 {
        let info = request(
            "INFO",
            &format!("f{n}"),
            2 + n,
            &tag,
            me,
            dtmf,
            "Signal=5\r\nDuration=100\r\n",
        );
        phone.send_to(&info, to).await.unwrap();
        answers.push(recv(&phone).await);
    }
    let ok_count = answers
        .iter()
        .filter(|a| a.starts_with("SIP/2.0 200 "))
        .count();
    assert_eq!(ok_count, 28);
    assert!(
        answers[28..]
            .iter()
            .all(|a| a.starts_with("SIP/2.0 500 ") && a.contains("Retry-After: 1\r\n"))
    );
    assert_eq!(ep.stats().info_refused_busy, 12);

    // It catches up a little: INFOs are taken again.
    for _ in 0..10 {
        assert!(matches!(
            call.events.recv().await,
            Some(LegEvent::Info { .. })
        ));
    }
    let info = request(
        "INFO",
        "f-again",
        50,
        &tag,
        me,
        dtmf,
        "Signal=6\r\nDuration=100\r\n",
    );
    phone.send_to(&info, to).await.unwrap();
    assert!(recv(&phone).await.starts_with("SIP/2.0 200 "));

    // Busy again, and then a re-INVITE and a BYE: both reach the task.
    for n in 0..20u32 {
        let info = request(
            "INFO",
            &format!("g{n}"),
            60 + n,
            &tag,
            me,
            dtmf,
            "Signal=7\r\nDuration=100\r\n",
        );
        phone.send_to(&info, to).await.unwrap();
        recv(&phone).await;
    }
    phone
        .send_to(&request("INVITE", "re1", 90, &tag, me, sdp, "v=0\r\n"), to)
        .await
        .unwrap();
    assert!(recv(&phone).await.starts_with("SIP/2.0 100 "));
    phone
        .send_to(&request("BYE", "b1", 91, &tag, me, "", ""), to)
        .await
        .unwrap();
    let (x, y) = (recv(&phone).await, recv(&phone).await);
    let mut got = [x, y].map(|r| r.split(' ').nth(1).unwrap_or("").to_string());
    got.sort();
    assert_eq!(
        got,
        ["200".to_string(), "487".to_string()],
        "BYE 200, re-INVITE 487"
    );
    let mut rest = Vec::new();
    while let Some(ev) = timeout(WAIT, call.events.recv()).await.unwrap() {
        rest.push(ev);
    }
    let n = rest.len();
    assert!(matches!(rest[n - 2], LegEvent::ReInvite { .. }), "{rest:?}");
    assert_eq!(rest[n - 1], LegEvent::Bye);
    assert!(
        rest[..n - 2]
            .iter()
            .all(|e| matches!(e, LegEvent::Info { .. }))
    );
    assert_eq!(ep.stats().leg_events_lost, 0);
    token.cancel();
}
