//! Strict RTP against the real server (issue 11 item 1, the "RTP bleed" class of CVE-2017-14099;
//! docs/media-security.md): rogue UDP sources sending RTP to the caller's and the agent phone's
//! ports before and during a call receive none of its audio, while the caller hears the greeting
//! from its start right after the ACK and both sides hear each other; a NATed caller (SDP names
//! 127.0.0.2, packets come from 127.0.0.1) works with symmetric RTP and is not heard by default.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use firstline::media::g711::ulaw_encode;
use firstline::media::strict::RtpSource;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::agent_phone::{AgentPhone, PCMU, decode_g711, tone, tone_share};
use crate::helpers::{
    TestApp, prompts_dir, registered_phone, spawn_app, spawn_queue_app, wait_for, within,
};
use crate::rtp::{RtpPacket, RtpPeer, best_alignment, decode_pcmu, dtmf_pcm, parse_rtp, read_wav};
use crate::scenario::press;
use crate::ua::{SdpAnswer, Ua, parse_sdp, sdp_offer};

const TEL_EVENT: (u8, &str) = (101, "telephone-event/8000");
/// What the rogues play: neither the caller's 1 kHz nor the agent's 440 Hz.
const ROGUE_HZ: f64 = 700.0;

/// A raw UDP source that sends well-formed, in-sequence PCMU (one SSRC, a 700 Hz tone) to
/// `target` every 20 ms, as a scanner that found the port would, and counts what it receives.
struct Rogue {
    stop: CancellationToken,
    task: JoinHandle<usize>,
}

impl Rogue {
    async fn start(target: SocketAddr) -> Rogue {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stop = CancellationToken::new();
        let cancelled = stop.clone();
        let task = tokio::spawn(async move {
            let pcm = tone(ROGUE_HZ, 1.0);
            let mut seq = crate::helpers::random_u64() as u16;
            let mut ts = crate::helpers::random_u64() as u32;
            let ssrc = crate::helpers::random_u64() as u32;
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let (mut received, mut frame) = (0usize, 0usize);
            let mut buf = [0u8; 2048];
            loop {
                tokio::select! {
                    _ = cancelled.cancelled() => break,
                    r = sock.recv_from(&mut buf) => received += usize::from(r.is_ok()),
                    _ = tick.tick() => {
                        let mut p = vec![0x80, if frame == 0 { 0x80 } else { 0 }];
                        p.extend_from_slice(&seq.to_be_bytes());
                        p.extend_from_slice(&ts.to_be_bytes());
                        p.extend_from_slice(&ssrc.to_be_bytes());
                        let at = (frame % 50) * 160;
                        p.extend(pcm[at..at + 160].iter().map(|&s| ulaw_encode(s)));
                        let _ = sock.send_to(&p, target).await;
                        (seq, ts, frame) = (seq.wrapping_add(1), ts.wrapping_add(160), frame + 1);
                    }
                }
            }
            while sock.try_recv_from(&mut buf).is_ok() {
                received += 1;
            }
            received
        });
        Rogue { stop, task }
    }

    /// Stops sending; how many datagrams it received from us.
    async fn finish(self) -> usize {
        self.stop.cancel();
        self.task.await.unwrap()
    }
}

/// Every RTP packet arriving on `sock` during `limit`.
async fn collect(sock: &UdpSocket, limit: Duration) -> Vec<RtpPacket> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
        got.extend(parse_rtp(&buf[..n]));
    }
    got
}

/// The value of `firstline_rtp_dropped_packets_total{reason="<reason>"}`.
async fn dropped(t: &TestApp, reason: &str) -> u64 {
    t.metric(&format!(
        "firstline_rtp_dropped_packets_total{{reason=\"{reason}\"}}"
    ))
    .await
}

/// Asserts `received` starts with the Dutch greeting (from its first word: shift ≤ 100 ms).
pub(crate) fn assert_greeting(received: &[i16], who: &str) {
    let greeting = read_wav(&prompts_dir().join("nl/greeting.wav"));
    let len = greeting.len().min(16_000);
    let (corr, shift) = best_alignment(received, &greeting, len, 8 * 400);
    assert!(
        corr > 0.9,
        "{who}: audio does not match nl/greeting.wav: best correlation {corr:.3} at {shift} samples"
    );
    assert!(
        shift <= 8 * 100,
        "{who}: the greeting's first {} ms were lost",
        shift / 8
    );
}

/// The caller (1 kHz) and anna's phone (440 Hz) talk for 2 s at once; each must hear the other
/// and neither the rogues' 700 Hz.
async fn tones_cross(
    rtp: &mut RtpPeer,
    to_server: SdpAnswer,
    phone: &mut AgentPhone,
    to: SocketAddr,
) {
    while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
    phone.rtp.drain();
    let (high, low) = (tone(1000.0, 2.0), tone(440.0, 2.0));
    let (caller_got, agent_got) =
        tokio::join!(rtp.play(to_server.rtp, &high), phone.rtp.play(to, 0, &low),);
    for (who, got, want, other) in [
        ("caller", &caller_got, 440.0, 1000.0),
        ("agent", &agent_got, 1000.0, 440.0),
    ] {
        assert!(
            got.len() >= 50,
            "{who} received only {} RTP packets in 2 s",
            got.len()
        );
        let pcm = decode_g711(&got[got.len() - 40..]);
        let (hit, miss, rogue) = (
            tone_share(&pcm, want),
            tone_share(&pcm, other),
            tone_share(&pcm, ROGUE_HZ),
        );
        assert!(
            hit > 0.5 && miss < 0.1 && rogue < 0.05,
            "{who} should hear {want} Hz: share {hit:.3} ({other} Hz: {miss:.3}, rogue: {rogue:.3})"
        );
    }
}

/// Anna's phone is rung for the caller; a rogue aims at its leg's port before it answers.
async fn answer_with_rogue(phone: &mut AgentPhone) -> (SocketAddr, Rogue) {
    let inv = phone
        .invite(Duration::from_secs(15))
        .await
        .expect("anna's phone was not rung within 15 s");
    let rogue = Rogue::start(inv.offer.rtp).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    phone.ring().await;
    assert!(phone.answer(PCMU).await, "no ACK for the phone's 200");
    (inv.offer.rtp, rogue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rogue_before_and_during_the_call_gets_none_of_its_audio() {
    within(90, async {
        let t = spawn_queue_app(|_| {}).await;
        let mut phone = registered_phone(&t, "2001").await;
        t.login("anna").await;
        let mut ua = Ua::udp(t.udp()).await;
        let mut rtp = RtpPeer::bind().await;
        ua.send_invite(&sdp_offer(rtp.addr(), &[PCMU, TEL_EVENT], &[]))
            .await;
        let (_, ok) = ua.final_response("INVITE", Duration::from_secs(10)).await;
        let ok = ok.expect("200 OK");
        assert_eq!(ok.status(), Some(200), "{ok:?}");
        let answer = parse_sdp(&ok.body_str()).expect("SDP in 200");
        // The rogue has found the port and streams before the caller has even ACKed.
        let rogue = Rogue::start(answer.rtp).await;
        let early = collect(&rtp.sock, Duration::from_millis(600)).await;
        assert!(
            early.is_empty(),
            "{} RTP packets before the ACK (a spoofed INVITE would aim them at a victim)",
            early.len()
        );
        ua.learn_dialog(&ok);
        ua.ack().await;
        let acked = Instant::now();
        let mut buf = [0u8; 2048];
        let (n, _) = tokio::time::timeout(Duration::from_secs(2), rtp.sock.recv_from(&mut buf))
            .await
            .expect("no RTP within 2 s of the ACK")
            .unwrap();
        let delay = acked.elapsed();
        // A few ms normally; 500 ms leaves room for a loaded test machine.
        assert!(
            delay < Duration::from_millis(500),
            "first RTP {delay:?} after the ACK"
        );
        let mut heard: Vec<RtpPacket> = parse_rtp(&buf[..n]).into_iter().collect();
        heard.extend(rtp.play(answer.rtp, &vec![0i16; 8 * 2500]).await);
        assert_greeting(&decode_pcmu(&heard), "caller");

        press(&mut ua, '0').await;
        let (to_phone, phone_rogue) = answer_with_rogue(&mut phone).await;
        tones_cross(&mut rtp, answer, &mut phone, to_phone).await;

        let (caller_side, phone_side) = (rogue.finish().await, phone_rogue.finish().await);
        assert_eq!(
            caller_side, 0,
            "the rogue on the caller's port received our RTP"
        );
        assert_eq!(
            phone_side, 0,
            "the rogue on the phone's port received our RTP"
        );
        assert!(dropped(&t, "foreign_source").await >= 100);
        assert_eq!(ua.bye().await, Some(200));
        let row = t.ended_call(&ua.call_id).await;
        assert_eq!(row.outcome.as_deref(), Some("answered"), "{row:?}");
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn natted_caller_works_with_symmetric_rtp() {
    within(90, async {
        let t = spawn_queue_app(|c| c.media.rtp_source = RtpSource::Symmetric).await;
        let mut phone = registered_phone(&t, "2001").await;
        t.login("anna").await;
        // The phone's private address, named in its SDP; its packets leave through the NAT's
        // public address (the RtpPeer on 127.0.0.1).
        let private = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let mut rtp = RtpPeer::bind().await;
        let mut ua = Ua::udp(t.udp()).await;
        let (_, ok) = ua
            .call(&sdp_offer(
                private.local_addr().unwrap(),
                &[PCMU, TEL_EVENT],
                &[],
            ))
            .await;
        assert_eq!(ok.status(), Some(200), "{ok:?}");
        let answer = parse_sdp(&ok.body_str()).expect("SDP in 200");
        let heard = rtp.play(answer.rtp, &vec![0i16; 8 * 3000]).await;
        assert_greeting(&decode_pcmu(&heard), "NATed caller");
        // Once the caller is learned, a rogue cannot take the call over.
        let rogue = Rogue::start(answer.rtp).await;
        press(&mut ua, '0').await;
        let (to_phone, phone_rogue) = answer_with_rogue(&mut phone).await;
        tones_cross(&mut rtp, answer, &mut phone, to_phone).await;
        assert_eq!(
            rogue.finish().await,
            0,
            "the rogue received the caller's RTP"
        );
        assert_eq!(
            phone_rogue.finish().await,
            0,
            "the rogue received the agent's RTP"
        );
        assert!(dropped(&t, "learning").await >= 3, "the caller's run");
        assert_eq!(ua.bye().await, Some(200));
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn natted_caller_is_not_heard_by_default() {
    within(60, async {
        let t = spawn_app().await;
        let private = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let mut rtp = RtpPeer::bind().await;
        let mut ua = Ua::udp(t.udp()).await;
        let (_, ok) = ua
            .call(&sdp_offer(private.local_addr().unwrap(), &[PCMU], &[]))
            .await;
        assert_eq!(ok.status(), Some(200), "{ok:?}");
        let answer = parse_sdp(&ok.body_str()).expect("SDP in 200");
        // The caller "presses" 2, 1, 3 in-band from the NAT's address while the SDP's address
        // listens.
        let mut pcm = vec![0i16; 8 * 300];
        for d in ["2", "1", "3"] {
            pcm.extend(dtmf_pcm(d, 100, 100));
            pcm.extend(std::iter::repeat_n(0i16, 8 * 500));
        }
        let sent = pcm.len() / 160;
        let (natted, signalled) = tokio::join!(
            rtp.play(answer.rtp, &pcm),
            collect(&private, Duration::from_millis(20 * sent as u64 + 200)),
        );
        assert!(
            natted.is_empty(),
            "{} packets went to a source the SDP does not name",
            natted.len()
        );
        // Our audio went where the SDP said, and only there.
        assert_greeting(&decode_pcmu(&signalled), "the SDP's address");
        let drops = wait_for(Duration::from_secs(2), || async {
            let n = dropped(&t, "foreign_source").await;
            (n >= sent as u64).then_some(n)
        })
        .await;
        assert!(
            drops.is_some(),
            "the caller's {sent} packets were not all counted as foreign"
        );
        assert_eq!(ua.bye().await, Some(200));
        let row = t.ended_call(&ua.call_id).await;
        assert_eq!(
            row.dtmf_mode, None,
            "tones from a foreign source counted: {row:?}"
        );
        t.finish().await;
    })
    .await;
}
