//! Driver tests over loopback: a tokio UDP socket plays an agent phone that registers with
//! digest auth and then answers our INVITE; a wrong password ends in 403.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::auth::{self, Algorithm, Credentials};
use super::{EndReason, OutEvent, OutgoingInvite, SipConfig, SipCredential, SipEndpoint};

const WAIT: Duration = Duration::from_secs(5);

async fn start() -> (SipEndpoint, CancellationToken) {
    let cfg = SipConfig {
        udp_listen: "127.0.0.1:0".parse().unwrap(),
        tcp_listen: "127.0.0.1:0".parse().unwrap(),
        max_message_bytes: 8_000,
        max_pending_calls: 8,
        user_agent: "firstline-test".into(),
    };
    let token = CancellationToken::new();
    let (ep, _calls) = SipEndpoint::start(cfg, token.clone()).await.unwrap();
    ep.set_credentials(vec![SipCredential {
        extension: "2001".into(),
        agent_id: crate::domain::AgentId::from_string("agent-demo-anna"),
        ha1_md5: Some(auth::ha1_md5("2001", "firstline", "2001-sip")),
        ha1_sha256: Some(auth::ha1_sha256("2001", "firstline", "2001-sip")),
    }]);
    // Let the SIP task take the credentials before the first REGISTER.
    tokio::time::sleep(Duration::from_millis(20)).await;
    (ep, token)
}

async fn recv(sock: &UdpSocket) -> String {
    let mut buf = vec![0u8; 65_536];
    let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

fn header<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.lines()
        .filter_map(|l| {
            l.split_once(": ")
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        })
        .map(|(_, v)| v)
        .collect()
}

fn code(msg: &str) -> u16 {
    msg.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn register(me: SocketAddr, cseq: u32, authz: Option<String>) -> String {
    let authz = authz
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKr{cseq};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:2001@127.0.0.1>;tag=reg\r\nTo: <sip:2001@127.0.0.1>\r\nCall-ID: reg-{me}\r\n\
CSeq: {cseq} REGISTER\r\nContact: <sip:2001@{me}>\r\nExpires: 600\r\n{authz}Content-Length: 0\r\n\r\n"
    )
}

fn answer_challenge(resp: &str, password: &str) -> String {
    let ch = header(resp, "WWW-Authenticate")
        .into_iter()
        .find(|v| v.contains("algorithm=MD5"))
        .unwrap();
    let nonce = ch
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let c = Credentials {
        username: "2001".into(),
        realm: "firstline".into(),
        nonce: nonce.into(),
        uri: "sip:127.0.0.1".into(),
        response: String::new(),
        algorithm: Some("MD5".into()),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        cnonce: Some("abc".into()),
    };
    let ha1 = auth::ha1_md5("2001", "firstline", password);
    let r = auth::expected_response(Algorithm::Md5, &ha1, "REGISTER", &c).unwrap();
    format!(
        "Digest username=\"2001\", realm=\"firstline\", nonce=\"{nonce}\", uri=\"sip:127.0.0.1\", \
response=\"{r}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"abc\""
    )
}

/// Sends the phone's answer to a request it received.
async fn reply(sock: &UdpSocket, to: SocketAddr, req: &str, code: u16, tag: &str, body: &str) {
    let h = |n| header(req, n).first().copied().unwrap_or("").to_string();
    let to_hdr = if h("To").contains("tag=") {
        h("To")
    } else {
        format!("{};tag={tag}", h("To"))
    };
    let ctype = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    let me = sock.local_addr().unwrap();
    let msg = format!(
        "SIP/2.0 {code} X\r\nVia: {}\r\nFrom: {}\r\nTo: {to_hdr}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
Contact: <sip:2001@{me}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        h("Via"),
        h("From"),
        h("Call-ID"),
        h("CSeq"),
        body.len()
    );
    sock.send_to(msg.as_bytes(), to).await.unwrap();
}

#[tokio::test]
async fn phone_registers_with_digest_then_answers_our_invite() {
    let (ep, token) = start().await;
    let mut regs = ep.registrations();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = phone.local_addr().unwrap();
    let server = ep.udp_addr();
    let missing = ep.invite(OutgoingInvite {
        extension: "2001".into(),
        trunk: None,
        from_user: "+31201234567".into(),
        from_display: "+31201234567 hardware".into(),
        sdp: b"v=0\r\n".to_vec(),
        call_info: vec![],
    });
    assert!(matches!(
        missing.await,
        Err(super::SipError::NotRegistered { .. })
    ));

    phone
        .send_to(register(me, 1, None).as_bytes(), server)
        .await
        .unwrap();
    let ch = recv(&phone).await;
    assert_eq!(code(&ch), 401);
    assert_eq!(header(&ch, "WWW-Authenticate").len(), 2);
    let authz = answer_challenge(&ch, "2001-sip");
    phone
        .send_to(register(me, 2, Some(authz)).as_bytes(), server)
        .await
        .unwrap();
    let ok = recv(&phone).await;
    assert_eq!(code(&ok), 200, "{ok}");
    assert_eq!(
        header(&ok, "Contact"),
        vec![format!("<sip:2001@{me}>;expires=600").as_str()]
    );
    let ev = timeout(WAIT, regs.recv()).await.unwrap().unwrap();
    assert_eq!(
        (
            ev.extension.as_str(),
            ev.registered(),
            ev.agent_id.as_ref().map(|a| a.as_str())
        ),
        ("2001", true, Some("agent-demo-anna"))
    );
    let b = ep.binding("2001").unwrap();
    assert_eq!(
        (b.source, b.contact.clone()),
        (me, format!("sip:2001@{me}"))
    );

    let mut call = ep
        .invite(OutgoingInvite {
            extension: "2001".into(),
            trunk: None,
            from_user: "+31201234567".into(),
            from_display: "+31201234567 hardware".into(),
            sdp: b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n".to_vec(),
            call_info: vec![("X-Firstline-Call".into(), "call-42".into())],
        })
        .await
        .unwrap();
    let invite = recv(&phone).await;
    assert!(
        invite.starts_with(&format!("INVITE sip:2001@{me} SIP/2.0")),
        "{invite}"
    );
    assert_eq!(header(&invite, "X-Firstline-Call"), vec!["call-42"]);
    assert!(header(&invite, "From")[0].starts_with("\"+31201234567 hardware\""));
    reply(&phone, server, &invite, 180, "ph", "").await;
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(OutEvent::Ringing)
    );
    reply(&phone, server, &invite, 200, "ph", "v=0 agent\r\n").await;
    let ack = recv(&phone).await;
    assert!(
        ack.starts_with(&format!("ACK sip:2001@{me} SIP/2.0")),
        "{ack}"
    );
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(OutEvent::Answered {
            sdp: Some(b"v=0 agent\r\n".to_vec())
        })
    );
    call.leg.hangup().await;
    let bye = recv(&phone).await;
    assert!(bye.starts_with("BYE "), "{bye}");
    reply(&phone, server, &bye, 200, "ph", "").await;
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(OutEvent::Ended {
            reason: EndReason::Hangup
        })
    );
    assert_eq!(timeout(WAIT, call.events.recv()).await.unwrap(), None);
    token.cancel();
}

#[tokio::test]
async fn wrong_password_gets_401_401_401_then_403() {
    let (ep, token) = start().await;
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = phone.local_addr().unwrap();
    let server = ep.udp_addr();
    phone
        .send_to(register(me, 1, None).as_bytes(), server)
        .await
        .unwrap();
    let mut resp = recv(&phone).await;
    let mut codes = vec![code(&resp)];
    for cseq in 2..5 {
        let authz = answer_challenge(&resp, "wrong");
        phone
            .send_to(register(me, cseq, Some(authz)).as_bytes(), server)
            .await
            .unwrap();
        resp = recv(&phone).await;
        codes.push(code(&resp));
    }
    assert_eq!(codes, vec![401, 401, 401, 403]);
    assert!(!header(&resp, "Retry-After").is_empty());
    assert!(ep.binding("2001").is_none());
    assert_eq!(ep.stats().auth_failures, 4);
    token.cancel();
}
