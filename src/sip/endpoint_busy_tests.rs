//! Regression (issue 11): a leg event is never dropped because the call task is busy. A call
//! task that stops reading gets its INFOs refused (500 + Retry-After) once only the reserved
//! slots are left; the re-INVITE and BYE that follow still reach it, and the re-INVITE is
//! answered (487, RFC 3261 §15.1.2) when the BYE ends the dialog. Over loopback UDP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::endpoint_tests::{recv_udp as recv, request, to_tag};
use super::{LegEvent, SipConfig, SipEndpoint};

const WAIT: Duration = Duration::from_secs(5);

/// A request in the one call of this test.
fn busy(method: &str, branch: &str, cseq: u32, tag: &str, me: SocketAddr, body: &str) -> Vec<u8> {
    request(method, "busy1", branch, cseq, tag, "UDP", me, body)
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
    phone
        .send_to(&busy("INVITE", "i1", 1, "", me, "v=0\r\n"), to)
        .await
        .unwrap();
    assert!(recv(&phone).await.starts_with("SIP/2.0 100 "));
    let mut call = timeout(WAIT, calls.recv()).await.unwrap().unwrap();
    call.leg.answer(b"v=0\r\n".to_vec()).await;
    let ok = recv(&phone).await;
    let tag = to_tag(&ok);
    phone
        .send_to(&busy("ACK", "a1", 1, &tag, me, ""), to)
        .await
        .unwrap();
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(LegEvent::Acked)
    );

    // The call task stops reading: 28 INFOs fit beside the 4 reserved slots, the rest get 500.
    let mut answers = Vec::new();
    for n in 0..40u32 {
        let info = busy(
            "INFO",
            &format!("f{n}"),
            2 + n,
            &tag,
            me,
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
    let info = busy(
        "INFO",
        "f-again",
        50,
        &tag,
        me,
        "Signal=6\r\nDuration=100\r\n",
    );
    phone.send_to(&info, to).await.unwrap();
    assert!(recv(&phone).await.starts_with("SIP/2.0 200 "));

    // Busy again, and then a re-INVITE and a BYE: both reach the task.
    for n in 0..20u32 {
        let info = busy(
            "INFO",
            &format!("g{n}"),
            60 + n,
            &tag,
            me,
            "Signal=7\r\nDuration=100\r\n",
        );
        phone.send_to(&info, to).await.unwrap();
        recv(&phone).await;
    }
    phone
        .send_to(&busy("INVITE", "re1", 90, &tag, me, "v=0\r\n"), to)
        .await
        .unwrap();
    assert!(recv(&phone).await.starts_with("SIP/2.0 100 "));
    phone
        .send_to(&busy("BYE", "b1", 91, &tag, me, ""), to)
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
