//! SDES-SRTP with the test's own SRTP caller (`firstline::media::srtp` as the peer's library):
//! keys over UDP are refused by default; with them allowed (this test only), forged SRTP is
//! dropped, counted and never learned as the source, a replay is refused, the real caller is
//! heard; an SRTP caller bridged to a plain agent phone, and to the browser's DTLS-SRTP leg,
//! hears and is heard (tones by content).

use std::net::SocketAddr;
use std::time::Duration;

use firstline::media::srtp::{CryptoLine, MasterKey, SrtpPolicy, SrtpSession, SrtpSuite};
use firstline::media::strict::RtpSource;

use crate::agent_phone::{PCMU, assert_hears, tone};
use crate::browser_leg::{Browser, my_call};
use crate::helpers::{TestApp, spawn_app_with, spawn_queue_app, wait_for, within};
use crate::rtp::{RtpPacket, RtpPeer, parse_rtp};
use crate::scenario::{press, registered_phone};
use crate::ua::{SdpAnswer, Ua, sdp_offer};

/// An `a=crypto` line with a fresh key of ours; the key.
fn our_key(tag: u32) -> (String, MasterKey) {
    let key = MasterKey::random();
    let line = CryptoLine {
        tag,
        suite: SrtpSuite::AesCm128HmacSha1_80,
        key: key.clone(),
        lifetime: None,
    };
    (format!("a=crypto:{}", line.to_value()), key)
}

/// An answered SRTP caller over UDP whose SDP names `sdp_addr` (RTP/SAVP, PCMU and
/// telephone-event, our key with tag 7): the Ua, the server's SDP, and our session (sending
/// under our key, receiving under the one the server answered).
async fn srtp_caller(t: &TestApp, sdp_addr: SocketAddr) -> (Ua, SdpAnswer, SrtpSession) {
    let (crypto, key) = our_key(7);
    let offer = sdp_offer(
        sdp_addr,
        &[(0, "PCMU/8000"), (101, "telephone-event/8000")],
        &[&crypto],
    );
    let mut ua = Ua::udp(t.udp()).await;
    let (_, ok) = ua.call(&offer.replace("RTP/AVP", "RTP/SAVP")).await;
    assert_eq!(ok.status(), Some(200), "{ok:?}");
    let body = ok.body_str();
    assert!(body.contains(" RTP/SAVP "), "{body}");
    let theirs = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("a=crypto:"))
        .and_then(|v| CryptoLine::parse(v).ok())
        .unwrap_or_else(|| panic!("no key in the answer: {body}"));
    assert_eq!(
        (theirs.tag, theirs.suite),
        (7, SrtpSuite::AesCm128HmacSha1_80)
    );
    assert_ne!(theirs.key, key, "the server sends under its own key");
    let answer = crate::ua::parse_sdp(&body).expect("SDP in 200");
    let session = SrtpSession::new(theirs.suite, &key, &theirs.key, None).unwrap();
    (ua, answer, session)
}

/// Sends `pcm` to `to` in 20 ms PCMU frames paced in real time, protected by `srtp` (`None`:
/// with a random 10-byte tag, as a forger without the key would). Returns what went out and
/// what arrived meanwhile, unprotected (a packet that does not authenticate fails the test).
async fn play_srtp(
    peer: &mut RtpPeer,
    srtp: Option<&mut SrtpSession>,
    to: SocketAddr,
    pcm: &[i16],
) -> (Vec<Vec<u8>>, Vec<RtpPacket>) {
    let srtp = std::cell::RefCell::new(srtp);
    let seal = |plain: Vec<u8>| match srtp.borrow_mut().as_deref_mut() {
        Some(s) => {
            let mut wire = Vec::new();
            s.protect(&plain, &mut wire).unwrap();
            wire
        }
        None => {
            let mut wire = plain;
            wire.extend((0..10).map(|_| crate::helpers::random_u64() as u8));
            wire
        }
    };
    let open = |data: &mut [u8]| {
        let mut s = srtp.borrow_mut();
        let s = s.as_deref_mut().expect("a forger got our audio");
        let len = s
            .unprotect(data)
            .expect("the server's packets authenticate under its key");
        parse_rtp(&data[..len])
    };
    peer.play_with(to, pcm, seal, open).await
}

#[tokio::test]
async fn keys_over_udp_are_refused_by_default() {
    within(30, async {
        let t = spawn_app_with(|_| {}).await;
        let rtp = RtpPeer::bind().await;
        let (crypto, _) = our_key(1);
        let avp = sdp_offer(rtp.addr(), &[(0, "PCMU/8000")], &[&crypto]);
        // RTP/SAVP over UDP: 488, nothing stored.
        let mut ua = Ua::udp(t.udp()).await;
        let (_, refused) = ua.call(&avp.replace("RTP/AVP", "RTP/SAVP")).await;
        assert_eq!(refused.status(), Some(488), "{refused:?}");
        assert_eq!(t.metric("firstline_calls_refused_sdp_total").await, 1);
        assert!(
            t.call_row(&ua.call_id).await.is_none(),
            "refused, not stored"
        );
        // Best effort (RTP/AVP with a=crypto) over UDP: answered plain, no key of ours.
        let mut ua = Ua::udp(t.udp()).await;
        let (_, ok) = ua.call(&avp).await;
        assert_eq!(ok.status(), Some(200), "{ok:?}");
        let body = ok.body_str();
        assert!(
            body.contains(" RTP/AVP ") && !body.contains("a=crypto"),
            "{body}"
        );
        assert_eq!(ua.bye().await, Some(200));
        assert_eq!(
            t.metric("firstline_srtp_legs_total{leg=\"caller\"}").await,
            0
        );
        t.finish().await;
    })
    .await;
}

/// `firstline_rtp_dropped_packets_total{reason=…}`.
async fn dropped(t: &TestApp, reason: &str) -> u64 {
    t.metric(&format!(
        "firstline_rtp_dropped_packets_total{{reason=\"{reason}\"}}"
    ))
    .await
}

#[tokio::test]
async fn forged_srtp_is_dropped_counted_and_never_learned() {
    within(60, async {
        // Keys over UDP allowed for this test; symmetric RTP, the SDP naming an address that
        // never speaks (a caller behind NAT): only a run of authenticated packets is learned.
        let t = spawn_app_with(|c| {
            c.media.srtp_allow_insecure_keys = true;
            c.media.srtp_callers = SrtpPolicy::Mandatory;
            c.media.rtp_source = RtpSource::Symmetric;
        })
        .await;
        let (mut caller, mut rogue) = (RtpPeer::bind().await, RtpPeer::bind().await);
        let nat: SocketAddr = "127.0.0.2:40000".parse().unwrap();
        let (mut ua, answer, mut ours) = srtp_caller(&t, nat).await;

        // A forger streams in-sequence packets without the key: dropped, counted, not learned
        // (`play_srtp` fails should anything reach it).
        let auth_before = dropped(&t, "srtp_auth").await;
        play_srtp(&mut rogue, None, answer.rtp, &tone(1000.0, 1.0)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let auth = dropped(&t, "srtp_auth").await;
        assert!(auth - auth_before >= 50, "{auth_before} → {auth}");
        assert!(rogue.sock.try_recv_from(&mut [0u8; 2048]).is_err());

        // The real caller's run is learned: it gets the greeting, protected under the
        // server's key.
        let (sent, got) =
            play_srtp(&mut caller, Some(&mut ours), answer.rtp, &tone(1000.0, 1.0)).await;
        assert!(
            got.len() >= 25,
            "the learned caller got {} packets in 1 s",
            got.len()
        );
        assert!(rogue.sock.try_recv_from(&mut [0u8; 2048]).is_err());

        // The caller's next packet tampered with, and a replay of an earlier one: dropped,
        // counted per reason (the replay check comes first, so the tampered one is fresh).
        let replay_before = dropped(&t, "srtp_replay").await;
        let mut tampered = Vec::new();
        ours.protect(&caller.next_pcmu(&[0; 160]), &mut tampered)
            .unwrap();
        tampered[20] ^= 0x40;
        caller.sock.send_to(&tampered, answer.rtp).await.unwrap();
        caller.sock.send_to(&sent[11], answer.rtp).await.unwrap();
        let counted = wait_for(Duration::from_secs(2), || async {
            let (a, r) = (
                dropped(&t, "srtp_auth").await,
                dropped(&t, "srtp_replay").await,
            );
            (a > auth && r > replay_before).then_some(())
        })
        .await;
        assert!(
            counted.is_some(),
            "the tampered and the replayed packet were not counted"
        );
        assert_eq!(
            t.metric("firstline_srtp_legs_total{leg=\"caller\"}").await,
            1
        );
        assert_eq!(ua.bye().await, Some(200));
        t.finish().await;
    })
    .await;
}

#[tokio::test]
async fn srtp_caller_bridged_to_a_plain_phone_hears_and_is_heard() {
    within(60, async {
        // Keys over UDP allowed (the caller's), none offered to phones: a plain phone leg.
        let t = spawn_queue_app(|c| {
            c.media.srtp_allow_insecure_keys = true;
            c.media.srtp_agents = SrtpPolicy::Off;
        })
        .await;
        let mut phone = registered_phone(&t, "2001").await;
        t.login("anna").await;
        let mut caller = RtpPeer::bind().await;
        let (mut ua, answer, mut srtp) = srtp_caller(&t, caller.addr()).await;
        press(&mut ua, '0').await;
        let inv = phone
            .invite(Duration::from_secs(15))
            .await
            .expect("anna's phone was not rung within 15 s");
        let offer = inv.msg.body_str();
        assert!(
            offer.contains(" RTP/AVP ") && !offer.contains("a=crypto"),
            "{offer}"
        );
        phone.ring().await;
        assert!(phone.answer(PCMU).await, "no ACK for the phone's 200");

        // What arrived before the bridge (prompts, hold music) is not part of the check.
        tokio::time::sleep(Duration::from_millis(300)).await;
        play_srtp(&mut caller, Some(&mut srtp), answer.rtp, &vec![0; 1600]).await;
        phone.rtp.drain();
        let (high, low) = (tone(1000.0, 2.0), tone(440.0, 2.0));
        let ((_, caller_got), agent_got) = tokio::join!(
            play_srtp(&mut caller, Some(&mut srtp), answer.rtp, &high),
            phone.rtp.play(inv.offer.rtp, 0, &low),
        );
        assert_hears("the caller", &caller_got, (50, 40), 440.0, 1000.0);
        assert_hears("the agent's phone", &agent_got, (50, 40), 1000.0, 440.0);
        assert_eq!(ua.bye().await, Some(200));
        assert!(phone.expect_bye(Duration::from_secs(5)).await);
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srtp_caller_bridged_to_a_browser_hears_and_is_heard() {
    within(60, async {
        let t = spawn_queue_app(|c| c.media.srtp_allow_insecure_keys = true).await;
        let token = t.login("femke").await;
        let mut caller = RtpPeer::bind().await;
        let (mut ua, answer, mut srtp) = srtp_caller(&t, caller.addr()).await;
        press(&mut ua, '0').await;
        let call = wait_for(Duration::from_secs(10), || async {
            my_call(&t, &token).await
        })
        .await
        .expect("femke's desk rings")["call_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let browser = Browser::connect(&t, &token, &call, 440.0).await;
        wait_for(Duration::from_secs(5), || async {
            my_call(&t, &token)
                .await
                .filter(|c| c["state"] == "connected")
        })
        .await
        .expect("connected");
        // SRTP (SDES) in from the caller, DTLS-SRTP out to the browser, and back.
        play_srtp(&mut caller, Some(&mut srtp), answer.rtp, &vec![0; 2400]).await;
        let (_, got) =
            play_srtp(&mut caller, Some(&mut srtp), answer.rtp, &tone(1000.0, 2.0)).await;
        assert_hears("the caller", &got, (50, 40), 440.0, 1000.0);
        browser.assert_heard(1000.0, 440.0);
        browser.stop().await;
        assert_eq!(ua.bye().await, Some(200));
        t.finish().await;
    })
    .await;
}
