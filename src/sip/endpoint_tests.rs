//! Driver tests over loopback: a tokio UDP socket / TCP stream plays the phone.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::{IncomingCall, LegEvent, SipConfig, SipEndpoint, SipTransport};

const WAIT: Duration = Duration::from_secs(5);

async fn start(
    max: usize,
) -> (
    SipEndpoint,
    tokio::sync::mpsc::Receiver<IncomingCall>,
    CancellationToken,
) {
    let cfg = SipConfig {
        udp_listen: "127.0.0.1:0".parse().unwrap(),
        tcp_listen: "127.0.0.1:0".parse().unwrap(),
        max_message_bytes: max,
        max_pending_calls: 8,
        user_agent: "firstline-test".into(),
    };
    let token = CancellationToken::new();
    let (ep, calls) = SipEndpoint::start(cfg, token.clone()).await.unwrap();
    (ep, calls, token)
}

/// A request from the test phone at `me`; a body gets its Content-Type (SDP, or DTMF relay for
/// INFO). Shared with `endpoint_busy_tests`.
#[allow(clippy::too_many_arguments)]
pub(super) fn request(
    method: &str,
    call: &str,
    branch: &str,
    cseq: u32,
    to_tag: &str,
    proto: &str,
    me: SocketAddr,
    body: &str,
) -> Vec<u8> {
    let to_tag = if to_tag.is_empty() {
        String::new()
    } else {
        format!(";tag={to_tag}")
    };
    let ctype = match (body.is_empty(), method) {
        (true, _) => "",
        (false, "INFO") => "Content-Type: application/dtmf-relay\r\n",
        (false, _) => "Content-Type: application/sdp\r\n",
    };
    format!(
        "{method} sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{proto} {me};branch=z9hG4bK{branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:+31201234567@127.0.0.1>;tag=ph\r\nTo: <sip:100@127.0.0.1>{to_tag}\r\n\
Call-ID: {call}\r\nCSeq: {cseq} {method}\r\nContact: <sip:ann@{me}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub(super) async fn recv_udp(sock: &UdpSocket) -> String {
    let mut buf = vec![0u8; 65_536];
    let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

pub(super) fn to_tag(resp: &str) -> String {
    let to = resp.lines().find(|l| l.starts_with("To:")).unwrap();
    to.split(";tag=").nth(1).unwrap().trim().to_string()
}

#[tokio::test]
async fn udp_call_answer_ack_bye_and_options_and_unknown() {
    let (ep, mut calls, token) = start(8_000).await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = phone.local_addr().unwrap();
    let to = ep.udp_addr();
    phone
        .send_to(
            &request("INVITE", "u1", "i1", 1, "", "UDP", me, "v=0\r\n"),
            to,
        )
        .await
        .unwrap();
    assert!(recv_udp(&phone).await.starts_with("SIP/2.0 100 Trying\r\n"));
    let mut call = timeout(WAIT, calls.recv()).await.unwrap().unwrap();
    assert_eq!(call.transport, SipTransport::Udp);
    assert_eq!(call.remote, me);
    assert_eq!(call.offer.as_deref(), Some(&b"v=0\r\n"[..]));
    assert_eq!(call.local_ip, to.ip());
    call.leg.ringing().await;
    assert!(
        recv_udp(&phone)
            .await
            .starts_with("SIP/2.0 180 Ringing\r\n")
    );
    call.leg.answer(b"v=0\r\no=fl\r\n".to_vec()).await;
    let ok = recv_udp(&phone).await;
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains(&format!(";rport={};received=127.0.0.1", me.port())),
        "{ok}"
    );
    assert!(ok.ends_with("\r\n\r\nv=0\r\no=fl\r\n"));
    let tag = to_tag(&ok);
    phone
        .send_to(&request("ACK", "u1", "a1", 1, &tag, "UDP", me, ""), to)
        .await
        .unwrap();
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(LegEvent::Acked)
    );
    phone
        .send_to(&request("BYE", "u1", "b1", 2, &tag, "UDP", me, ""), to)
        .await
        .unwrap();
    assert!(recv_udp(&phone).await.starts_with("SIP/2.0 200 OK\r\n"));
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(LegEvent::Bye)
    );
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        None,
        "channel closes after Bye"
    );

    phone
        .send_to(&request("OPTIONS", "o1", "o1", 1, "", "UDP", me, ""), to)
        .await
        .unwrap();
    assert!(recv_udp(&phone).await.starts_with("SIP/2.0 200 OK\r\n"));
    phone
        .send_to(&request("FROB", "f1", "f1", 1, "", "UDP", me, ""), to)
        .await
        .unwrap();
    assert!(
        recv_udp(&phone)
            .await
            .starts_with("SIP/2.0 501 Not Implemented\r\n")
    );
    let huge = request("OPTIONS", "h1", "h1", 1, "", "UDP", me, &"x".repeat(10_000));
    phone.send_to(&huge, to).await.unwrap();
    assert!(
        recv_udp(&phone)
            .await
            .starts_with("SIP/2.0 413 Request Entity Too Large\r\n")
    );
    phone.send_to(b"", to).await.unwrap();
    phone.send_to(&[0xde, 0xad, 0xbe, 0xef], to).await.unwrap();
    phone
        .send_to(&request("OPTIONS", "o2", "o2", 1, "", "UDP", me, ""), to)
        .await
        .unwrap();
    assert!(
        recv_udp(&phone).await.starts_with("SIP/2.0 200 OK\r\n"),
        "still serving after junk"
    );
    let stats = ep.stats();
    assert_eq!((stats.calls, stats.too_large_413), (1, 1));
    assert!(stats.parse_errors_dropped >= 2);
    token.cancel();
}

#[tokio::test]
async fn udp_cancel_gets_487_and_shutdown_drain_gets_503() {
    let (ep, mut calls, token) = start(65_535).await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = phone.local_addr().unwrap();
    let to = ep.udp_addr();
    phone
        .send_to(&request("INVITE", "c1", "c1", 1, "", "UDP", me, ""), to)
        .await
        .unwrap();
    recv_udp(&phone).await;
    let mut call = timeout(WAIT, calls.recv()).await.unwrap().unwrap();
    phone
        .send_to(&request("CANCEL", "c1", "c1", 1, "", "UDP", me, ""), to)
        .await
        .unwrap();
    let a = recv_udp(&phone).await;
    let b = recv_udp(&phone).await;
    assert!(
        a.starts_with("SIP/2.0 200 OK\r\n") && a.contains("CSeq: 1 CANCEL"),
        "{a}"
    );
    assert!(
        b.starts_with("SIP/2.0 487 Request Terminated\r\n") && b.contains("CSeq: 1 INVITE"),
        "{b}"
    );
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(LegEvent::Cancelled)
    );
    ep.set_accepting(false);
    phone
        .send_to(&request("INVITE", "c2", "c2", 1, "", "UDP", me, ""), to)
        .await
        .unwrap();
    let r = recv_udp(&phone).await;
    assert!(
        r.starts_with("SIP/2.0 503 Service Unavailable\r\n") && r.contains("Retry-After: 5\r\n"),
        "{r}"
    );
    token.cancel();
}

async fn read_response(stream: &mut TcpStream, acc: &mut Vec<u8>) -> String {
    loop {
        if let Some(end) = acc.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&acc[..end + 4]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if acc.len() >= end + 4 + len {
                let msg = String::from_utf8_lossy(&acc[..end + 4 + len]).to_string();
                acc.drain(..end + 4 + len);
                return msg;
            }
        }
        let mut buf = [0u8; 4096];
        let n = timeout(WAIT, stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed");
        acc.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn tcp_garbage_then_invite_on_same_connection_and_keepalive() {
    let (ep, mut calls, token) = start(65_535).await;
    let mut s = TcpStream::connect(ep.tcp_addr()).await.unwrap();
    let me = s.local_addr().unwrap();
    let mut acc = Vec::new();
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    timeout(WAIT, s.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    // Garbage, a request with a broken start line but intact framing, then a valid INVITE.
    s.write_all(b"\x00\x01garbage line\r\n").await.unwrap();
    let mut bad = request("OPTIONS", "g1", "g1", 1, "", "TCP", me, "");
    bad.splice(0..7, b"OPT(ONS".iter().copied());
    s.write_all(&bad).await.unwrap();
    let r = read_response(&mut s, &mut acc).await;
    assert!(
        r.starts_with("SIP/2.0 400 Bad Request (bad start line)\r\n"),
        "{r}"
    );
    s.write_all(&request("INVITE", "t1", "t1", 1, "", "TCP", me, "v=0\r\n"))
        .await
        .unwrap();
    assert!(
        read_response(&mut s, &mut acc)
            .await
            .starts_with("SIP/2.0 100 Trying\r\n")
    );
    let mut call = timeout(WAIT, calls.recv()).await.unwrap().unwrap();
    assert_eq!(call.transport, SipTransport::Tcp);
    call.leg.answer(b"v=0\r\n".to_vec()).await;
    let ok = read_response(&mut s, &mut acc).await;
    assert!(ok.contains(";transport=tcp>"), "{ok}");
    let tag = to_tag(&ok);
    s.write_all(&request("ACK", "t1", "a1", 1, &tag, "TCP", me, ""))
        .await
        .unwrap();
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(LegEvent::Acked)
    );
    call.leg.hangup().await;
    let bye = read_response(&mut s, &mut acc).await;
    assert!(bye.starts_with("BYE sip:ann@"), "{bye}");
    let via = bye.lines().find(|l| l.starts_with("Via:")).unwrap();
    let reply = format!("SIP/2.0 200 OK\r\n{via}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n");
    s.write_all(reply.as_bytes()).await.unwrap();
    let ended = timeout(WAIT, call.events.recv()).await.unwrap();
    assert_eq!(
        ended,
        Some(LegEvent::Ended {
            reason: super::EndReason::Hangup
        })
    );
    // No Content-Length on TCP: 400 naming it, then the connection closes (framing lost).
    let mut nocl = request("OPTIONS", "n1", "n1", 1, "", "TCP", me, "");
    nocl.truncate(nocl.len() - "Content-Length: 0\r\n\r\n".len());
    nocl.extend_from_slice(b"\r\n");
    s.write_all(&nocl).await.unwrap();
    let r = read_response(&mut s, &mut acc).await;
    assert!(
        r.starts_with("SIP/2.0 400 Bad Request (missing Content-Length)\r\n"),
        "{r}"
    );
    let mut rest = Vec::new();
    let n = timeout(WAIT, s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
    token.cancel();
}
