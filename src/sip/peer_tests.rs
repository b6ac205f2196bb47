//! A real peer as an agent phone: SIPp registers with digest auth and answers our INVITE
//! (`scripts/test` installs SIPp; a missing peer fails the test). baresip as an agent phone is
//! tested in `tests/it` inside a loopback-only network namespace (it advertises non-loopback
//! addresses). SIPp runs `tests/sipp/agent_register.xml` with `agent_answer.xml` as its
//! out-of-call scenario:
//! it registers with digest auth, we INVITE it, it rings and answers, we hang up.

use std::net::UdpSocket as StdUdp;
use std::time::Duration;

use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::auth;
use super::{
    DigestChallenge, EndReason, OutEvent, OutgoingInvite, SipConfig, SipCredential, SipEndpoint,
};

const WAIT: Duration = Duration::from_secs(10);

fn free_udp_port() -> u16 {
    StdUdp::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn sipp_agent_phone_registers_with_digest_and_answers() {
    let token = CancellationToken::new();
    let cfg = SipConfig {
        udp_listen: "127.0.0.1:0".parse().unwrap(),
        tcp_listen: "127.0.0.1:0".parse().unwrap(),
        ..SipConfig::default()
    };
    let (ep, _calls) = SipEndpoint::start(cfg, token.clone()).await.unwrap();
    ep.set_credentials(vec![SipCredential {
        extension: "2001".into(),
        agent_id: crate::domain::AgentId::from_string("agent-demo-anna"),
        ha1_md5: Some(auth::ha1_md5("2001", "firstline", "2001-sip")),
        ha1_sha256: Some(auth::ha1_sha256("2001", "firstline", "2001-sip")),
    }]);
    // SIPp 3.6 reads only the first challenge and computes MD5 only.
    ep.set_digest_challenge(DigestChallenge::Md5First);
    let mut regs = ep.registrations();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/agent_register.xml");
    let answer = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/agent_answer.xml");
    let mut sipp = std::process::Command::new("sipp")
        .args(["-sf", scenario, "-oocsf", answer])
        .args(["-au", "2001", "-ap", "2001-sip", "-s", "2001"])
        .args(["-i", "127.0.0.1", "-p", &free_udp_port().to_string()])
        .args(["-m", "1", "-nostdin", "-timeout", "30", "-timeout_error"])
        .arg(ep.udp_addr().to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ev = timeout(WAIT, regs.recv()).await.unwrap().unwrap();
    assert_eq!(
        (
            ev.extension.as_str(),
            ev.registered(),
            ev.agent_id.as_ref().map(|a| a.as_str())
        ),
        ("2001", true, Some("agent-demo-anna"))
    );
    let mut call = ep
        .invite(OutgoingInvite {
            extension: "2001".into(),
            trunk: None,
            from_user: "+31201234567".into(),
            from_display: "+31201234567 hardware".into(),
            sdp: b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n".to_vec(),
            call_info: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(OutEvent::Ringing)
    );
    assert!(matches!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(OutEvent::Answered { sdp: Some(_) })
    ));
    call.leg.hangup().await;
    assert_eq!(
        timeout(WAIT, call.events.recv()).await.unwrap(),
        Some(OutEvent::Ended {
            reason: EndReason::Hangup
        })
    );
    let gone = timeout(WAIT, regs.recv()).await.unwrap().unwrap();
    assert!(!gone.registered(), "unregistered with Expires: 0");
    let status = tokio::task::spawn_blocking(move || sipp.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "sipp exit {status:?}");
    token.cancel();
}
