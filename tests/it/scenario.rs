//! The SIP steps a queue scenario is made of, on the caller's and the agent phone's side: an
//! answered caller, DTMF by SIP INFO, the server's BYE answered, a caller who asks for a
//! callback, a registered agent phone.

use std::time::Duration;

use crate::agent_phone::AgentPhone;
use crate::helpers::{CallRow, TestApp};
use crate::rtp::RtpPeer;
use crate::ua::{SdpAnswer, Ua};

/// An answered caller over UDP offering PCMU + telephone-event.
pub(crate) async fn caller(t: &TestApp) -> (Ua, RtpPeer, SdpAnswer) {
    let mut ua = Ua::udp(t.udp()).await;
    let rtp = RtpPeer::bind().await;
    let (_, ok) = ua
        .call(&crate::ua::sdp_offer(
            rtp.addr(),
            &[(0, "PCMU/8000"), (101, "telephone-event/8000")],
            &[],
        ))
        .await;
    assert_eq!(ok.status(), Some(200), "caller INVITE: {ok:?}");
    let answer = crate::ua::parse_sdp(&ok.body_str()).expect("SDP in 200");
    (ua, rtp, answer)
}

/// A [`caller`] who presses 0 (unclassified) in the IVR, on the way into the queue.
pub(crate) async fn unclassified_caller(t: &TestApp) -> (Ua, RtpPeer, SdpAnswer) {
    let (mut ua, rtp, answer) = caller(t).await;
    press(&mut ua, '0').await;
    (ua, rtp, answer)
}

/// Waits up to `limit` for the server's BYE to the caller (`what` names it when it does not
/// come) and answers it 200.
pub(crate) async fn bye_from_server(ua: &mut Ua, limit: Duration, what: &str) {
    let bye = ua.request("BYE", limit).await.expect(what);
    ua.reply(&bye, 200, "OK").await;
}

/// An unclassified caller who waits in the queue (nobody available), asks for a callback (1
/// opens the waiting options, 1 again asks) and is said goodbye: their ended call.
pub(crate) async fn caller_asks_for_callback(t: &TestApp) -> CallRow {
    let (mut ua, _rtp, _) = unclassified_caller(t).await;
    t.queued(&ua.call_id).await;
    press(&mut ua, '1').await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    press(&mut ua, '1').await;
    bye_from_server(&mut ua, Duration::from_secs(20), "goodbye after callback").await;
    t.ended_call(&ua.call_id).await
}

/// Presses `digit` with SIP INFO (application/dtmf-relay).
pub(crate) async fn press(ua: &mut Ua, digit: char) {
    let body = format!("Signal={digit}\r\nDuration=160\r\n");
    let r = ua
        .in_dialog("INFO", Some("application/dtmf-relay"), &body)
        .await;
    assert_eq!(r.and_then(|r| r.status()), Some(200), "INFO {digit}");
}

/// A phone for a demo extension, registered (the password is `<ext>-sip`).
pub(crate) async fn registered_phone(t: &TestApp, ext: &str) -> AgentPhone {
    let mut phone = AgentPhone::new(t.udp(), ext, &format!("{ext}-sip")).await;
    assert_eq!(phone.register().await, 200, "REGISTER {ext}");
    phone
}
