//! Queues and agents over loopback (issue 3): agent phones register with digest auth, callers
//! go through the IVR into the queue, the agent's phone rings and answers, audio is bridged
//! both ways (with PCMU↔PCMA transcoding), ring-no-answer, logout while ringing, priority
//! order, a silent agent phone; each checks the rows the server wrote. Callers who wait
//! (callbacks, voice messages, announcements) are in `queue_waiting`.

use std::process::Stdio;
use std::time::Duration;

use crate::agent_phone::{AgentPhone, Invite, PCMA, PCMU, decode_g711, tone, tone_share};
use crate::helpers::{QueueRow, TestApp, http_json, spawn_queue_app, wait_for, within};
use crate::host::{free_port, tool};
use crate::rtp::RtpPeer;
use crate::scenario::{bye_from_server, caller, press, registered_phone, unclassified_caller};
use crate::ua::{SdpAnswer, Ua};

const ANNA: &str = "agent-demo-anna";
const CHANTAL: &str = "agent-demo-chantal";
const SECS: Duration = Duration::from_secs(1);

/// Waits until `agent` has at least `n` stored state changes; returns their `to` states.
async fn states_to(t: &TestApp, agent: &str, n: usize) -> Vec<String> {
    let got = wait_for(Duration::from_secs(8), || async {
        let s = t.agent_states(agent).await;
        (s.len() >= n).then_some(s)
    })
    .await;
    match got {
        Some(s) => s.into_iter().map(|(_, to, _)| to).collect(),
        None => panic!(
            "{agent}: fewer than {n} agent_state events: {:?}",
            t.agent_states(agent).await
        ),
    }
}

/// Caller presses 0 (unclassified) with anna logged in and her phone answering in `codec`.
async fn bridged(t: &TestApp, codec: (u8, &str)) -> (Ua, RtpPeer, SdpAnswer, AgentPhone, Invite) {
    let mut phone = registered_phone(t, "2001").await;
    t.login("anna").await;
    let (ua, rtp, answer) = unclassified_caller(t).await;
    let inv = phone
        .invite(Duration::from_secs(15))
        .await
        .expect("anna's phone was not rung within 15 s");
    assert!(
        inv.display.contains("+31201234567") && inv.display.contains("unclassified"),
        "From display {:?}",
        inv.display
    );
    let row = t.queue_row(&ua.call_id).await.expect("calls row");
    assert_eq!(
        inv.call.as_deref(),
        Some(row.id.as_str()),
        "X-Firstline-Call"
    );
    assert!(
        inv.offer.pts.contains(&0) && inv.offer.pts.contains(&8),
        "the offer to the phone has PCMU and PCMA: {:?}",
        inv.offer
    );
    phone.ring().await;
    assert!(phone.answer(codec).await, "no ACK for the phone's 200");
    (ua, rtp, answer, phone, inv)
}

/// Caller sends 1 kHz, the agent 440 Hz, for 2 s each at once; asserts each hears the other.
pub(crate) async fn tones_cross(
    rtp: &mut RtpPeer,
    to_server: SdpAnswer,
    phone: &mut AgentPhone,
    inv: &Invite,
    pt: u8,
) {
    // What arrived before the bridge (prompts, hold music) is not part of the check.
    while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
    phone.rtp.drain();
    let (high, low) = (tone(1000.0, 2.0), tone(440.0, 2.0));
    let (caller_got, agent_got) = tokio::join!(
        rtp.play(to_server.rtp, &high),
        phone.rtp.play(inv.offer.rtp, pt, &low),
    );
    for (who, got, want, other) in [
        ("caller", &caller_got, 440.0, 1000.0),
        ("agent", &agent_got, 1000.0, 440.0),
    ] {
        assert!(
            got.len() >= 50,
            "{who} received only {} RTP packets in 2 s",
            got.len()
        );
        if who == "agent" {
            assert!(
                got.iter().all(|p| p.pt == pt),
                "agent got PTs other than {pt}"
            );
        }
        let tail = &got[got.len() - 40..];
        let pcm = decode_g711(tail);
        let (hit, miss) = (tone_share(&pcm, want), tone_share(&pcm, other));
        assert!(
            hit > 0.5 && miss < 0.1,
            "{who} should hear {want} Hz: share {hit:.3} (and {other} Hz: {miss:.3})"
        );
    }
}

/// The call and agent records after a bridged call of anna.
async fn check_answered(t: &TestApp, sip_call_id: &str, hangup_by: &str) {
    t.ended_call(sip_call_id).await;
    let row = t.queue_row(sip_call_id).await.unwrap();
    assert_eq!(row.outcome.as_deref(), Some("answered"), "{row:?}");
    assert_eq!(row.hangup_by.as_deref(), Some(hangup_by), "{row:?}");
    assert_eq!(row.agent_id.as_deref(), Some(ANNA), "{row:?}");
    assert_eq!(row.category.as_deref(), Some("unclassified"), "{row:?}");
    assert_eq!(row.offers, 1, "{row:?}");
    let (queued, connected) = (row.queued_at.unwrap(), row.connected_at.unwrap());
    let wait = row.wait_ms.expect("wait_ms");
    let offered = row.offered_at.expect("offered_at");
    assert!(queued <= offered && offered <= connected, "{row:?}");
    assert!(
        (connected - queued - wait).abs() < 1000,
        "wait_ms vs times: {row:?}"
    );
    assert_eq!(
        t.offers_of(&row.id).await,
        vec![(ANNA.to_string(), Some("answered".to_string()))]
    );
    // Login, offer, answer, end, wrap-up timer (1 s).
    assert_eq!(
        states_to(t, ANNA, 5).await,
        ["available", "ringing", "on_call", "wrap_up", "available"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_agent_registers_with_digest() {
    within(60, async {
        // SIPp 3.6 reads only the first challenge and computes MD5 only: `md5_first`.
        let t =
            spawn_queue_app(|c| c.sip.digest = firstline::config::DigestSetting::Md5First).await;
        let dir = tempfile::tempdir().unwrap();
        let sipp_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/");
        let child = std::process::Command::new(tool("sipp"))
            .current_dir(dir.path())
            .args(["-sf", &format!("{sipp_dir}agent_register.xml")])
            .args(["-oocsf", &format!("{sipp_dir}agent_answer.xml")])
            .args(["-au", "2001", "-ap", "2001-sip", "-s", "2001"])
            .args(["-i", "127.0.0.1", "-p", &free_port().to_string()])
            .args(["-m", "1", "-nostdin", "-timeout", "30", "-timeout_error"])
            .arg(t.udp().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let bound = wait_for(Duration::from_secs(4), || async {
            t.app.sip().binding("2001")
        })
        .await;
        let bound = bound.expect("SIPp's REGISTER did not create a binding for 2001");
        assert!(bound.source.ip().is_loopback(), "{bound:?}");
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(
            out.status.success(),
            "sipp exit {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            t.app.sip().binding("2001").is_none(),
            "Expires: 0 removes the binding"
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_sip_password_gets_401_then_403() {
    within(30, async {
        let t = spawn_queue_app(|_| {}).await;
        let mut phone = AgentPhone::new(t.udp(), "2002", "2002-sip").await;
        let statuses = phone.register_with("wrong", 3, 3600).await;
        // The challenge, two failures answered with a fresh challenge, the 3rd failure → 403.
        assert_eq!(statuses, [401, 401, 401, 403], "docs/sip.md registrar");
        assert!(t.app.sip().binding("2002").is_none());
        // The right password from a blocked source is refused too for the back-off.
        let mut again = AgentPhone::new(t.udp(), "2002", "2002-sip").await;
        assert_eq!(again.register().await, 403);
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_reaches_agent_and_audio_flows_both_ways() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let (mut ua, mut rtp, answer, mut phone, inv) = bridged(&t, PCMU).await;
        tones_cross(&mut rtp, answer, &mut phone, &inv, 0).await;
        assert_eq!(ua.bye().await, Some(200));
        assert!(
            phone.expect_bye(5 * SECS).await,
            "the caller's BYE must end the agent leg"
        );
        check_answered(&t, &ua.call_id, "caller").await;
        assert_eq!(phone.unregister().await, 200);
        assert!(t.app.sip().binding("2001").is_none());
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_hangs_up_first_and_the_caller_gets_bye() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let (mut ua, mut rtp, answer, mut phone, inv) = bridged(&t, PCMU).await;
        tones_cross(&mut rtp, answer, &mut phone, &inv, 0).await;
        assert_eq!(phone.bye().await, Some(200));
        bye_from_server(&mut ua, 5 * SECS, "caller gets BYE").await;
        check_answered(&t, &ua.call_id, "agent").await;
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcma_agent_phone_is_transcoded() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let (mut ua, mut rtp, answer, mut phone, inv) = bridged(&t, PCMA).await;
        tones_cross(&mut rtp, answer, &mut phone, &inv, 8).await;
        assert_eq!(ua.bye().await, Some(200));
        assert!(phone.expect_bye(5 * SECS).await);
        t.finish().await;
    })
    .await;
}

/// Both agents' phones, anna's token, the caller and anna's offer, ringing and not answered.
struct AnnaRinging {
    anna_token: String,
    anna: AgentPhone,
    chantal: AgentPhone,
    ua: Ua,
    _rtp: RtpPeer,
    first: Invite,
}

/// Anna (2001) and chantal (2003) logged in with their phones registered, anna 100 ms first so
/// she has been idle longest; a caller presses 0 and anna's phone rings.
async fn anna_rings_first(t: &TestApp) -> AnnaRinging {
    let mut anna = registered_phone(t, "2001").await;
    let chantal = registered_phone(t, "2003").await;
    let anna_token = t.login("anna").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    t.login("chantal").await;
    let (ua, _rtp, _answer) = unclassified_caller(t).await;
    let first = anna
        .invite(15 * SECS)
        .await
        .expect("anna's phone rings first");
    anna.ring().await;
    AnnaRinging {
        anna_token,
        anna,
        chantal,
        ua,
        _rtp,
        first,
    }
}

/// After anna's offer has ended: chantal's phone rings for the same caller and answers; the
/// `calls` row once connected.
async fn chantal_answers(t: &TestApp, s: &mut AnnaRinging) -> QueueRow {
    let second = s
        .chantal
        .invite(5 * SECS)
        .await
        .expect("chantal's phone rings next");
    assert_eq!(s.first.call, second.call, "the same caller");
    s.chantal.ring().await;
    assert!(s.chantal.answer(PCMU).await);
    let sip_call_id = &s.ua.call_id;
    wait_for(5 * SECS, || async {
        t.queue_row(sip_call_id)
            .await
            .filter(|r| r.connected_at.is_some())
    })
    .await
    .expect("call connected")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_no_answer_moves_to_next_agent() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        // Anna has been idle longest: her phone rings first and is never answered.
        let mut s = anna_rings_first(&t).await;
        assert!(
            s.anna.expect_cancel(5 * SECS).await,
            "CANCEL after the 2 s ring timeout"
        );
        let row = chantal_answers(&t, &mut s).await;
        assert_eq!(row.offers, 2, "{row:?}");
        assert_eq!(row.agent_id.as_deref(), Some(CHANTAL), "{row:?}");
        assert_eq!(
            t.offers_of(&row.id).await,
            vec![
                (ANNA.to_string(), Some("no_answer".to_string())),
                (CHANTAL.to_string(), Some("answered".to_string()))
            ]
        );
        let states = t.agent_states(ANNA).await;
        assert!(
            states.iter().any(|(from, to, reason)| from == "ringing"
                && to == "not_ready"
                && reason.as_deref() == Some("no answer")),
            "anna's states {states:?}"
        );
        assert_eq!(s.ua.bye().await, Some(200));
        assert!(s.chantal.expect_bye(5 * SECS).await);
        t.finish().await;
    })
    .await;
}

/// Regression (issue 3 review): an agent who logged out while their phone rang was recorded as
/// `no_answer`, as if they had let it ring out; the offer is `cancelled`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_while_ringing_records_the_offer_as_cancelled() {
    within(60, async {
        // A long ring timeout: only the logout can end Anna's ringing.
        let t = spawn_queue_app(|c| c.acd.ring_timeout_secs = 30).await;
        let mut s = anna_rings_first(&t).await;
        let (status, body) = http_json(
            t.app.http_addr(),
            "POST",
            "/api/logout",
            Some(&s.anna_token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            s.anna.expect_cancel(5 * SECS).await,
            "CANCEL when anna logs out"
        );
        let row = chantal_answers(&t, &mut s).await;
        assert_eq!(
            t.offers_of(&row.id).await,
            vec![
                (ANNA.to_string(), Some("cancelled".to_string())),
                (CHANTAL.to_string(), Some("answered".to_string()))
            ]
        );
        assert_eq!(s.ua.bye().await, Some(200));
        assert!(s.chantal.expect_bye(5 * SECS).await);
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_1_overtakes_priority_4() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let mut phone = registered_phone(&t, "2001").await;
        // English, hardware, then the priority digit.
        let mut callers = Vec::new();
        for prio in ['4', '1'] {
            let (mut ua, rtp, _) = caller(&t).await;
            for d in ['2', '1', prio] {
                press(&mut ua, d).await;
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            let row = t.queued(&ua.call_id).await;
            assert_eq!(row.category.as_deref(), Some("hardware"), "{row:?}");
            assert_eq!(row.priority, prio.to_digit(10).map(i64::from), "{row:?}");
            callers.push((ua, rtp, row.id));
        }
        t.login("anna").await;
        let inv = phone.invite(10 * SECS).await.expect("anna's phone rings");
        assert_eq!(
            inv.call.as_deref(),
            Some(callers[1].2.as_str()),
            "priority 1 first"
        );
        phone.ring().await;
        assert!(phone.answer(PCMU).await);
        assert_eq!(callers[1].0.bye().await, Some(200));
        assert!(phone.expect_bye(5 * SECS).await);
        // After the 1 s wrap-up the priority-4 caller is next.
        let inv = phone
            .invite(10 * SECS)
            .await
            .expect("anna's phone rings again");
        assert_eq!(inv.call.as_deref(), Some(callers[0].2.as_str()));
        phone.ring().await;
        // The caller gives up while the phone rings: the server cancels the offer.
        assert_eq!(callers[0].0.bye().await, Some(200));
        assert!(
            phone.expect_cancel(5 * SECS).await,
            "CANCEL when the caller hangs up"
        );
        let a = t.ended_call(&callers[0].0.call_id).await;
        assert_eq!(a.outcome.as_deref(), Some("abandoned_queue"), "{a:?}");
        t.finish().await;
    })
    .await;
}

/// A real SIPp caller goes through the IVR (0 by SIP INFO), waits, and is bridged to the agent's
/// phone. SIPp echoes the RTP it receives (`-rtp_echo`), so the agent's 440 Hz tone coming back
/// to the agent proves audio crossed the bridge in both directions, with its content intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_caller_reaches_agent_and_audio_flows_both_ways() {
    within(90, async {
        let t = spawn_queue_app(|_| {}).await;
        let mut phone = registered_phone(&t, "2001").await;
        t.login("anna").await;
        let cid = crate::sipp::call_id();
        let server = t.udp();
        let sipp = tokio::spawn({
            let cid = cid.clone();
            async move {
                crate::sipp::run_sipp_with(server, "queue_caller.xml", false, &cid, &["-rtp_echo"])
                    .await
            }
        });
        let inv = phone
            .invite(Duration::from_secs(20))
            .await
            .expect("anna's phone rings for the SIPp caller");
        assert!(inv.display.contains("unclassified"), "{:?}", inv.display);
        phone.ring().await;
        assert!(phone.answer(PCMU).await, "no ACK for the phone's 200");
        phone.rtp.drain();
        let echoed = phone.rtp.play(inv.offer.rtp, 0, &tone(440.0, 2.0)).await;
        assert!(
            echoed.len() >= 50,
            "the agent received only {} RTP packets back through the caller",
            echoed.len()
        );
        let pcm = decode_g711(&echoed[echoed.len() - 40..]);
        let (hit, miss) = (tone_share(&pcm, 440.0), tone_share(&pcm, 1000.0));
        assert!(
            hit > 0.5 && miss < 0.1,
            "the agent's tone must come back through the SIPp caller: share {hit:.3}"
        );
        assert!(
            phone.expect_bye(20 * SECS).await,
            "the SIPp caller's BYE ends the agent leg"
        );
        let run = sipp.await.expect("sipp task");
        assert_eq!(run.code, Some(0), "{}", run.report);
        check_answered(&t, &cid, "caller").await;
        t.finish().await;
    })
    .await;
}

/// An agent phone that vanishes without BYE (no RTP any more) must not keep the caller bridged
/// to silence: after `rtp_timeout_secs` the server ends both legs; the call stays `answered`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_agent_phone_ends_the_bridge() {
    within(90, async {
        let t = spawn_queue_app(|c| c.call.rtp_timeout_secs = 12).await;
        let (mut ua, mut rtp, answer, mut phone, _inv) = bridged(&t, PCMU).await;
        // The caller keeps talking; the agent phone sends nothing at all.
        let talk = tone(1000.0, 16.0);
        let (_, bye) = tokio::join!(rtp.play(answer.rtp, &talk), phone.expect_bye(20 * SECS),);
        assert!(bye, "the silent agent leg gets BYE");
        bye_from_server(&mut ua, 5 * SECS, "the caller gets BYE").await;
        let call = t.ended_call(&ua.call_id).await;
        assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
        assert_eq!(call.hangup_by.as_deref(), Some("server"), "{call:?}");
        t.finish().await;
    })
    .await;
}
