//! The scripted caller (`ua.rs`) against the real server: in-band DTMF, prompt audio, symmetric
//! RTP, OPTIONS, unknown methods, hold, BYE both ways, 2xx retransmission.

use std::time::Duration;

use crate::helpers::{TestApp, prompts_dir, spawn_app, spawn_app_with, within};
use crate::rtp::{RtpPeer, best_alignment, decode_pcmu, dtmf_pcm, read_wav, stream_fault};
use crate::ua::{SdpAnswer, Ua, parse_sdp, sdp_offer};

const PCMU: (u8, &str) = (0, "PCMU/8000");
const TEL_EVENT: (u8, &str) = (101, "telephone-event/8000");

/// Places an answered call over UDP with a PCMU-only offer advertising `advertised` (or the
/// real RTP socket); returns the caller, its RTP socket and the server's answer.
async fn answered_call(
    t: &TestApp,
    advertised: Option<std::net::SocketAddr>,
) -> (Ua, RtpPeer, SdpAnswer) {
    let mut ua = Ua::udp(t.udp()).await;
    let rtp = RtpPeer::bind().await;
    let offer = sdp_offer(advertised.unwrap_or(rtp.addr()), &[PCMU], &[]);
    let (prov, ok) = ua.call(&offer).await;
    assert_eq!(ok.status(), Some(200), "INVITE answered with {ok:?}");
    assert!(
        prov.contains(&180),
        "expected 180 Ringing before 200, got {prov:?}"
    );
    assert_eq!(ok.header("content-type"), Some("application/sdp"));
    let answer = parse_sdp(&ok.body_str())
        .unwrap_or_else(|| panic!("no usable SDP in 200: {}", ok.body_str()));
    assert_eq!(
        answer.pts.first(),
        Some(&0),
        "PCMU must be chosen: {answer:?}"
    );
    assert!(
        answer.rtp.ip().is_loopback(),
        "server RTP address {answer:?}"
    );
    (ua, rtp, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inband_tones_make_an_intake() {
    within(60, async {
        let t = spawn_app().await;
        let (mut ua, mut rtp, answer) = answered_call(&t, None).await;
        assert!(
            !answer.rtpmaps.iter().any(|m| m.contains("telephone-event")),
            "not offered: {answer:?}"
        );
        // 2 = English, 1 = hardware, 3 = normal; 100 ms tones, a second between the answers.
        let mut pcm = vec![0i16; 8 * 500];
        for d in ["2", "1", "3"] {
            pcm.extend(dtmf_pcm(d, 100, 100));
            pcm.extend(std::iter::repeat_n(0i16, 8 * 1000));
        }
        let got = rtp.play(answer.rtp, &pcm).await;
        // Each digit cut a prompt short and the next one took over: frames built ahead of the
        // cut were taken back, so the stream runs on without a gap or a repeat.
        if let Some(fault) = stream_fault(&got) {
            panic!("RTP stream fault across the barge-ins: {fault}");
        }
        let intake = t.intake_for(&ua.call_id).await;
        assert_eq!(
            (
                intake.category.as_str(),
                intake.priority,
                intake.language.as_deref()
            ),
            ("hardware", Some(3), Some("en")),
            "{intake:?}"
        );
        assert_eq!(ua.bye().await, Some(200));
        let call = t.ended_call(&ua.call_id).await;
        assert_eq!(call.dtmf_mode.as_deref(), Some("inband"), "{call:?}");
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_hears_the_dutch_greeting() {
    within(60, async {
        let t = spawn_app().await;
        let (mut ua, mut rtp, answer) = answered_call(&t, None).await;
        // Send silence for 3 s (as a phone does) and keep what the server sends meanwhile.
        let got = rtp.play(answer.rtp, &vec![0i16; 8 * 3000]).await;
        assert!(got.len() >= 100, "only {} RTP packets in 3 s", got.len());
        if let Some(fault) = stream_fault(&got) {
            panic!("RTP stream fault: {fault}");
        }
        let received = decode_pcmu(&got);
        let greeting = read_wav(&prompts_dir().join("nl/greeting.wav"));
        let len = greeting.len().min(16_000);
        assert!(len >= 4000, "greeting.wav is only {} samples", greeting.len());
        let (corr, shift) = best_alignment(&received, &greeting, len, 8 * 400);
        assert!(
            corr > 0.9,
            "received audio does not match nl/greeting.wav: best correlation {corr:.3} at {shift} samples"
        );
        assert_eq!(ua.bye().await, Some(200));
        t.finish().await;
    })
    .await;
}

/// With `[media] rtp_source = "symmetric"` (callers behind NAT) the audio follows the caller's
/// RTP once its run is learned; the default (`"sdp"`) is in `rtp_strict`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_follows_the_rtp_source_not_the_sdp_address() {
    within(60, async {
        let t = spawn_app_with(|c| {
            c.media.rtp_source = firstline::media::strict::RtpSource::Symmetric;
        })
        .await;
        let bogus = "127.0.0.9:9".parse().unwrap();
        let (mut ua, mut rtp, answer) = answered_call(&t, Some(bogus)).await;
        let got = rtp.play(answer.rtp, &vec![0i16; 8 * 2000]).await;
        let audio: Vec<_> = got.iter().filter(|p| p.pt == 0).collect();
        assert!(
            audio.len() >= 25,
            "symmetric RTP (RFC 4961): only {} packets reached the socket we send from",
            audio.len()
        );
        assert_eq!(ua.bye().await, Some(200));
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_ping_and_unknown_method() {
    within(30, async {
        let t = spawn_app().await;
        let mut ua = Ua::udp(t.udp()).await;
        let m = ua.build("OPTIONS", None, "");
        ua.send_raw(m.as_bytes()).await;
        let r = ua.final_response("OPTIONS", Duration::from_secs(5)).await.1;
        assert_eq!(
            r.and_then(|r| r.status()),
            Some(200),
            "OPTIONS ping (RFC 3261 §11.2)"
        );
        let m = ua.build("FOO", None, "");
        ua.send_raw(m.as_bytes()).await;
        let r = ua.final_response("FOO", Duration::from_secs(5)).await.1;
        assert_eq!(
            r.and_then(|r| r.status()),
            Some(501),
            "unknown method (RFC 3261 §8.2.1)"
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_unhold_and_caller_bye() {
    within(60, async {
        let t = spawn_app().await;
        let (mut ua, rtp, _answer) = answered_call(&t, None).await;
        for (ours, theirs) in [("a=sendonly", "recvonly"), ("a=sendrecv", "sendrecv")] {
            let offer = sdp_offer(rtp.addr(), &[PCMU], &[ours]);
            let r = ua
                .in_dialog("INVITE", Some("application/sdp"), &offer)
                .await
                .expect("re-INVITE response");
            assert_eq!(r.status(), Some(200), "re-INVITE {ours}: {r:?}");
            let sdp = parse_sdp(&r.body_str()).expect("SDP in re-INVITE 200");
            assert_eq!(sdp.direction, theirs, "RFC 3264 §6.1 answer to {ours}");
            ua.ack().await;
        }
        assert_eq!(ua.bye().await, Some(200));
        let call = t.ended_call(&ua.call_id).await;
        assert_eq!(call.hangup_by.as_deref(), Some("caller"), "{call:?}");
        assert_eq!(call.outcome.as_deref(), Some("abandoned_ivr"), "{call:?}");
        t.finish().await;
    })
    .await;
}

/// RTP from an address other than the caller's own stream is ignored: a stranger's DTMF tones
/// must not answer the caller's menu.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtp_from_a_stranger_is_ignored() {
    within(60, async {
        let t = spawn_app().await;
        let (ua, mut rtp, answer) = answered_call(&t, None).await;
        // The caller's own stream starts first: the server latches onto it.
        rtp.play(answer.rtp, &vec![0i16; 8 * 300]).await;
        // A stranger on another port "presses" 2 (English), 1 (hardware), 3 (normal).
        let mut stranger = RtpPeer::bind().await;
        let mut tones = Vec::new();
        for d in ["2", "1", "3"] {
            tones.extend(dtmf_pcm(d, 100, 100));
            tones.extend(std::iter::repeat_n(0i16, 8 * 600));
        }
        stranger.play(answer.rtp, &tones).await;
        // Then the caller presses 0 (skip): the intake shows only the caller's choice.
        let mut skip = dtmf_pcm("0", 100, 100);
        skip.extend(std::iter::repeat_n(0i16, 8 * 300));
        rtp.play(answer.rtp, &skip).await;
        let intake = t.intake_for(&ua.call_id).await;
        assert_eq!(
            (
                intake.category.as_str(),
                intake.priority,
                intake.language.as_deref()
            ),
            ("unclassified", None, Some("nl")),
            "the stranger's tones must not count: {intake:?}"
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_hangs_up_after_max_wait() {
    within(60, async {
        let t = spawn_app_with(|c| c.call.max_wait_secs = 2).await;
        let mut ua = Ua::udp(t.udp()).await;
        let rtp = RtpPeer::bind().await;
        let (_, ok) = ua
            .call(&sdp_offer(rtp.addr(), &[PCMU, TEL_EVENT], &[]))
            .await;
        assert_eq!(ok.status(), Some(200));
        // `0` skips the rest of the menu: straight to "connecting" and the hold music.
        let r = ua
            .in_dialog(
                "INFO",
                Some("application/dtmf-relay"),
                "Signal=0\r\nDuration=160\r\n",
            )
            .await;
        assert_eq!(r.and_then(|r| r.status()), Some(200));
        let bye = ua
            .request("BYE", Duration::from_secs(30))
            .await
            .expect("server BYE after max_wait_secs");
        ua.reply(&bye, 200, "OK").await;
        let call = t.ended_call(&ua.call_id).await;
        assert_eq!(call.outcome.as_deref(), Some("max_wait"), "{call:?}");
        assert_eq!(call.hangup_by.as_deref(), Some("server"), "{call:?}");
        let intake = t.intake_for(&ua.call_id).await;
        assert_eq!(
            (intake.category.as_str(), intake.priority),
            ("unclassified", None),
            "{intake:?}"
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ok_is_retransmitted_until_ack() {
    within(60, async {
        let t = spawn_app().await;
        let mut ua = Ua::udp(t.udp()).await;
        let rtp = RtpPeer::bind().await;
        ua.send_invite(&sdp_offer(rtp.addr(), &[PCMU], &[])).await;
        let (_, first) = ua.final_response("INVITE", Duration::from_secs(10)).await;
        let first = first.expect("200 OK");
        assert_eq!(first.status(), Some(200));
        // Timer G (RFC 3261 §13.3.1.4): the 200 comes again after T1, 2·T1, … while no ACK.
        let mut copies = 1;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(2500);
        while let Some(m) = ua
            .response(
                "INVITE",
                deadline.saturating_duration_since(tokio::time::Instant::now()),
            )
            .await
        {
            assert_eq!(m.raw, first.raw, "retransmitted 200 differs from the first");
            copies += 1;
        }
        assert!(
            copies >= 2,
            "200 OK seen {copies} time(s) in 2.5 s without ACK"
        );
        ua.learn_dialog(&first);
        ua.ack().await;
        // After the ACK the retransmissions stop (Timer G is cancelled).
        let late = ua.response("INVITE", Duration::from_millis(2200)).await;
        assert!(late.is_none(), "200 still retransmitted after ACK");
        assert_eq!(ua.bye().await, Some(200));
        t.finish().await;
    })
    .await;
}

/// RFC 3264: an offer with no codec we speak (G.722 only) is refused with 488. Nothing is
/// stored for it (issue 11: only an INVITE that passed the SDP checks gets a `calls` row); the
/// refusal is counted in `/health`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_common_codec_gets_488() {
    within(30, async {
        let t = spawn_app().await;
        let mut ua = Ua::udp(t.udp()).await;
        let rtp = RtpPeer::bind().await;
        let offer = sdp_offer(rtp.addr(), &[(9, "G722/8000")], &[]);
        let (_prov, fin) = ua.call(&offer).await;
        assert_eq!(fin.status(), Some(488), "{fin:?}");
        // The count is taken before the 488 is sent, so it is there by now.
        let (_, health) =
            crate::helpers::http_json(t.app.http_addr(), "GET", "/health", None, None).await;
        assert_eq!(health["calls_refused_sdp"], 1, "{health}");
        assert!(
            t.call_row(&ua.call_id).await.is_none(),
            "a refused INVITE left a calls row"
        );
        t.finish().await;
    })
    .await;
}
