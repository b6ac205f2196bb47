//! Blind transfer with the intake following the call (issue 15): a caller reaches anna's phone;
//! anna hands the call to the second-level specialist eva, once by a SIP REFER from her phone
//! (202, NOTIFY "100 Trying", then "200 OK", then BYE) and once from the desk (`POST
//! /api/calls/{id}/transfer`), where eva's first "busy" brings the caller back to anna. Eva's
//! desk pops the same intake with what anna wrote; the caller and eva hear each other; the call
//! is one `calls` row with one leg per agent (`call_legs`), each with its own talk time; the
//! intake's history says who handed it over.

use std::time::Duration;

use serde_json::json;
use sqlx::Row;

use crate::agent_phone::{AgentPhone, Invite, PCMU, assert_hears, decode_g711, tone, tone_share};
use crate::helpers::{TestApp, http_json, spawn_queue_app, wait_for, within};
use crate::queue::tones_cross;
use crate::registration::Desk;
use crate::rtp::RtpPeer;
use crate::scenario::{registered_phone, unclassified_caller};
use crate::ua::{SdpAnswer, Ua};

const SECS: Duration = Duration::from_secs(1);
const ANNA: &str = "agent-demo-anna";
const EVA: &str = "agent-demo-eva";

/// The intake's one `handed_over` history line.
async fn handed_over_note(s: &Setup) -> String {
    sqlx::query_scalar(
        "SELECT body FROM intake_notes WHERE intake_id = $1 AND kind = 'handed_over'",
    )
    .bind(s.intake.clone())
    .fetch_one(&s.t.pool)
    .await
    .unwrap()
}

/// The final NOTIFY of a transfer (retransmissions and "100 Trying" skipped): its sipfrag.
async fn final_notify(phone: &mut AgentPhone) -> String {
    loop {
        let (body, state) = phone
            .expect_notify(25 * SECS)
            .await
            .expect("a NOTIFY of the transfer's progress");
        if state.starts_with("terminated") {
            return body;
        }
        assert!(
            body.starts_with("SIP/2.0 1"),
            "a provisional progress: {body}"
        );
    }
}

struct Setup {
    t: TestApp,
    anna: AgentPhone,
    eva: AgentPhone,
    anna_token: String,
    eva_desk: Desk,
    ua: Ua,
    rtp: RtpPeer,
    answer: SdpAnswer,
    inv: Invite,
    intake: String,
}

/// A caller bridged to anna's phone; eva signed in with her phone registered and her desk open;
/// anna has written the problem into the intake.
async fn caller_with_anna() -> Setup {
    let t = spawn_queue_app(|_| {}).await;
    let mut anna = registered_phone(&t, "2001").await;
    let eva = registered_phone(&t, "2005").await;
    let anna_token = t.login("anna").await;
    let eva_token = t.login("eva").await;
    let (eva_desk, _) = Desk::open(&t, &eva_token).await;
    let (ua, rtp, answer) = unclassified_caller(&t).await;
    let inv = anna.invite(15 * SECS).await.expect("anna's phone rings");
    anna.ring().await;
    assert!(anna.answer(PCMU).await);
    let row = wait_for(5 * SECS, || async {
        t.queue_row(&ua.call_id)
            .await
            .filter(|r| r.connected_at.is_some())
    })
    .await
    .expect("the call is connected to anna");
    let intake: String = sqlx::query("SELECT id FROM intakes WHERE call_id = $1")
        .bind(row.id.clone())
        .fetch_one(&t.pool)
        .await
        .unwrap()
        .get("id");
    let (status, body) = http_json(
        t.app.http_addr(),
        "PATCH",
        &format!("/api/intakes/{intake}"),
        Some(&anna_token),
        Some(
            json!({"title": "VPN drops every hour", "description": "Since Monday; laptop HP 840"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    Setup {
        t,
        anna,
        eva,
        anna_token,
        eva_desk,
        ua,
        rtp,
        answer,
        inv,
        intake,
    }
}

/// Eva's phone rings for the call (outside the queue) and her desk pops its intake with anna's
/// text; she answers, and the caller and eva hear each other.
async fn eva_takes_it(s: &mut Setup, call_id: &str) -> Invite {
    let inv = s.eva.invite(10 * SECS).await.expect("eva's phone rings");
    assert_eq!(inv.call.as_deref(), Some(call_id), "X-Firstline-Call");
    assert_eq!(inv.msg.header("x-firstline-transfer"), Some("1"));
    let pop = s
        .eva_desk
        .until(10 * SECS, "eva's pop", |f| {
            f["type"] == "pop" && f["call_id"] == call_id
        })
        .await;
    assert_eq!(pop["intake"]["id"], s.intake.as_str(), "{pop}");
    assert_eq!(pop["intake"]["title"], "VPN drops every hour", "{pop}");
    assert_eq!(pop["intake"]["description"], "Since Monday; laptop HP 840");
    s.eva.ring().await;
    assert!(s.eva.answer(PCMU).await);
    tones_cross(&mut s.rtp, s.answer.clone(), &mut s.eva, &inv, 0).await;
    inv
}

/// The stored call after eva hung up: one call, two legs with their own talk, the history line.
async fn check_records(s: &Setup, call_id: &str) {
    let t = &s.t;
    let call = t.ended_call(&s.ua.call_id).await;
    assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
    t.app.store().synced().await;
    let row = sqlx::query("SELECT agent_id, transfers FROM calls WHERE id = $1")
        .bind(call_id.to_string())
        .fetch_one(&t.pool)
        .await
        .unwrap();
    assert_eq!(
        row.get::<Option<String>, _>("agent_id").as_deref(),
        Some(EVA)
    );
    assert_eq!(row.get::<i64, _>("transfers"), 1);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls")
        .fetch_one(&t.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "a transferred call is one call");
    let legs = sqlx::query(
        "SELECT seq, agent_id, connected_at, ended_at, end_reason, transferred_to FROM call_legs \
         WHERE call_id = $1 ORDER BY seq",
    )
    .bind(call_id.to_string())
    .fetch_all(&t.pool)
    .await
    .unwrap();
    assert_eq!(legs.len(), 2, "one leg per agent");
    let leg = |i: usize, c: &str| legs[i].get::<Option<String>, _>(c);
    assert_eq!(
        (
            leg(0, "agent_id").as_deref(),
            leg(0, "end_reason").as_deref()
        ),
        (Some(ANNA), Some("transferred"))
    );
    assert_eq!(leg(0, "transferred_to").as_deref(), Some(EVA));
    assert_eq!(
        (
            leg(1, "agent_id").as_deref(),
            leg(1, "end_reason").as_deref()
        ),
        (Some(EVA), Some("ended"))
    );
    let talk = |i: usize| {
        legs[i].get::<Option<i64>, _>("ended_at").unwrap() - legs[i].get::<i64, _>("connected_at")
    };
    // Anna talked from her answer to the hand-over; eva from her answer through the 2 s of tones.
    assert!(
        talk(0) > 0 && talk(1) >= 1500,
        "talk {} / {}",
        talk(0),
        talk(1)
    );
    assert!(
        legs[1].get::<i64, _>("connected_at") >= legs[0].get::<Option<i64>, _>("ended_at").unwrap(),
        "the caller was on hold between the two"
    );
    let note = sqlx::query(
        "SELECT agent_id, body FROM intake_notes WHERE intake_id = $1 AND kind = 'handed_over'",
    )
    .bind(s.intake.clone())
    .fetch_all(&t.pool)
    .await
    .unwrap();
    assert_eq!(note.len(), 1, "the hand-over is in the history");
    assert_eq!(
        note[0].get::<Option<String>, _>("agent_id").as_deref(),
        Some(ANNA)
    );
    assert!(
        note[0].get::<String, _>("body").starts_with("to Eva"),
        "{:?}",
        note[0].get::<String, _>("body")
    );
    // The agent report: each agent one handled call with their own talk time.
    let today = time::OffsetDateTime::now_utc().date();
    let (status, report) = http_json(
        t.app.http_addr(),
        "GET",
        &format!("/api/reports/agents?from={today}&to={today}&tz=UTC"),
        Some(&t.login("sanne").await),
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let rows = report["agents"].as_array().cloned().unwrap_or_default();
    for (id, talk_ms) in [(ANNA, talk(0)), (EVA, talk(1))] {
        let r = rows
            .iter()
            .find(|r| r["agent_id"] == id)
            .unwrap_or_else(|| panic!("{id} in the agent report: {report}"));
        assert_eq!(r["calls"], 1, "{id}: {r}");
        assert_eq!(r["handle_ms"], talk_ms, "{id}'s own talk time: {r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refer_from_the_agents_phone_hands_the_call_and_its_intake_to_the_specialist() {
    within(90, async {
        let mut s = caller_with_anna().await;
        let call_id = s.inv.call.clone().expect("X-Firstline-Call");
        assert_eq!(
            s.anna.refer("sip:2005@127.0.0.1").await,
            Some(202),
            "REFER accepted"
        );
        let _eva_inv = eva_takes_it(&mut s, &call_id).await;
        assert_eq!(final_notify(&mut s.anna).await, "SIP/2.0 200 OK");
        assert!(s.anna.expect_bye(5 * SECS).await, "anna's phone is hung up");
        // A REFER to an extension nobody has is refused in its final NOTIFY, the call goes on.
        assert_eq!(s.eva.refer("sip:2999@127.0.0.1").await, Some(202));
        assert!(final_notify(&mut s.eva).await.starts_with("SIP/2.0 404"));
        assert_eq!(s.eva.bye().await, Some(200), "eva hangs up");
        check_records(&s, &call_id).await;
        let _ = &s.anna_token;
        s.t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_transfer_comes_back_when_the_specialist_is_busy_then_reaches_them() {
    within(90, async {
        let mut s = caller_with_anna().await;
        let call_id = s.inv.call.clone().expect("X-Firstline-Call");
        let path = format!("/api/calls/{call_id}/transfer");
        let addr = s.t.app.http_addr();
        // Only the call's own agent may hand it over, to somebody else.
        let eva_token = s.t.login("eva").await;
        let (status, _) = http_json(
            addr,
            "POST",
            &path,
            Some(&eva_token),
            Some(json!({"to": EVA})),
        )
        .await;
        assert_eq!(status, 403);
        let (status, body) = http_json(
            addr,
            "POST",
            &path,
            Some(&s.anna_token),
            Some(json!({"to": ANNA})),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        let transfer = json!({"to": EVA, "reason": "VPN is Network's"});
        let (status, body) = http_json(
            addr,
            "POST",
            &path,
            Some(&s.anna_token),
            Some(transfer.clone()),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        // Eva is busy: the caller comes back to anna, and they hear each other again.
        let _ = s.eva.invite(10 * SECS).await.expect("eva's phone rings");
        s.eva.reject(486, "Busy Here").await;
        let anna_inv = s.inv.clone();
        let answer = s.answer.clone();
        // The bridge back takes a moment; the tones tell.
        let back = wait_for(5 * SECS, || async {
            let row = s.t.queue_row(&s.ua.call_id).await?;
            (row.agent_id.as_deref() == Some(ANNA)).then_some(())
        })
        .await;
        assert!(back.is_some());
        tones_cross(&mut s.rtp, answer, &mut s.anna, &anna_inv, 0).await;
        // Again, and eva answers.
        let (status, body) =
            http_json(addr, "POST", &path, Some(&s.anna_token), Some(transfer)).await;
        assert_eq!(status, 202, "{body}");
        let _eva_inv = eva_takes_it(&mut s, &call_id).await;
        assert!(s.anna.expect_bye(5 * SECS).await, "anna's phone is hung up");
        assert_eq!(s.eva.bye().await, Some(200), "eva hangs up");
        check_records(&s, &call_id).await;
        let note = handed_over_note(&s).await;
        assert_eq!(note, "to Eva Brouwer: VPN is Network's");
        s.t.finish().await;
    })
    .await;
}

/// Anna's and eva's phones play `a` and `b` Hz at once; each hears the other, and the caller,
/// on hold, hears music the whole time (never silence) and neither agent.
async fn agents_talk(s: &mut Setup, eva_inv: &Invite, (a, b): (f64, f64)) {
    while s.rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
    s.anna.rtp.drain();
    s.eva.rtp.drain();
    let (ta, tb) = (tone(a, 2.0), tone(b, 2.0));
    let silence = vec![0i16; 16_000];
    let (anna_got, eva_got, caller_got) = tokio::join!(
        s.anna.rtp.play(s.inv.offer.rtp, 0, &ta),
        s.eva.rtp.play(eva_inv.offer.rtp, 0, &tb),
        s.rtp.play(s.answer.rtp, &silence),
    );
    assert_hears("anna consulting eva", &anna_got, (50, 40), b, a);
    assert_hears("eva consulted by anna", &eva_got, (50, 40), a, b);
    assert!(
        caller_got.len() >= 80,
        "the caller hears hold music: {} packets in 2 s",
        caller_got.len()
    );
    let pcm = decode_g711(&caller_got[caller_got.len() - 40..]);
    assert!(
        tone_share(&pcm, a) < 0.1 && tone_share(&pcm, b) < 0.1,
        "the caller on hold does not hear the agents"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attended_transfer_consults_the_specialist_then_completes_or_returns() {
    within(120, async {
        let mut s = caller_with_anna().await;
        let call_id = s.inv.call.clone().expect("X-Firstline-Call");
        let addr = s.t.app.http_addr();
        let consult = format!("/api/calls/{call_id}/consult");
        let body = json!({"to": EVA, "reason": "second opinion on the VPN"});
        // First consultation: anna returns to the caller; eva is hung up.
        let (status, v) = http_json(addr, "POST", &consult, Some(&s.anna_token), Some(body.clone())).await;
        assert_eq!(status, 202, "{v}");
        let eva_inv = s.eva.invite(10 * SECS).await.expect("eva's phone rings for the consultation");
        s.eva.ring().await;
        assert!(s.eva.answer(PCMU).await);
        agents_talk(&mut s, &eva_inv, (500.0, 1200.0)).await;
        let cancel = format!("/api/calls/{call_id}/transfer/cancel");
        let (status, v) = http_json(addr, "POST", &cancel, Some(&s.anna_token), Some(json!({}))).await;
        assert_eq!(status, 204, "{v}");
        assert!(s.eva.expect_bye(5 * SECS).await, "eva is released");
        let (anna_inv, answer) = (s.inv.clone(), s.answer.clone());
        tones_cross(&mut s.rtp, answer, &mut s.anna, &anna_inv, 0).await;
        // Second: anna completes; the caller is eva's.
        let (status, v) = http_json(addr, "POST", &consult, Some(&s.anna_token), Some(body)).await;
        assert_eq!(status, 202, "{v}");
        let eva_inv = s.eva.invite(10 * SECS).await.expect("eva's phone rings again");
        let complete = format!("/api/calls/{call_id}/transfer/complete");
        let (status, _) = http_json(addr, "POST", &complete, Some(&s.anna_token), Some(json!({}))).await;
        assert_eq!(status, 409, "nothing to complete before eva answers");
        s.eva.ring().await;
        assert!(s.eva.answer(PCMU).await);
        agents_talk(&mut s, &eva_inv, (700.0, 1500.0)).await;
        let (status, v) = http_json(addr, "POST", &complete, Some(&s.anna_token), Some(json!({}))).await;
        assert_eq!(status, 204, "{v}");
        assert!(s.anna.expect_bye(5 * SECS).await, "anna's phone is hung up");
        tones_cross(&mut s.rtp, s.answer.clone(), &mut s.eva, &eva_inv, 0).await;
        assert_eq!(s.eva.bye().await, Some(200), "eva hangs up");
        s.t.ended_call(&s.ua.call_id).await;
        s.t.app.store().synced().await;
        let legs: Vec<(i64, Option<String>, i64, Option<i64>)> = sqlx::query_as(
            "SELECT seq, agent_id, connected_at, ended_at FROM call_legs WHERE call_id = $1 ORDER BY seq",
        )
        .bind(call_id.clone())
        .fetch_all(&s.t.pool)
        .await
        .unwrap();
        assert_eq!(legs.len(), 2, "{legs:?}");
        assert_eq!(legs[0].1.as_deref(), Some(ANNA));
        assert_eq!(legs[1].1.as_deref(), Some(EVA));
        // Attended: anna was on the line until she completed, after eva answered.
        assert!(legs[0].3.unwrap() >= legs[1].2, "{legs:?}");
        s.t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sipp_desk_phone_transfers_blind_by_refer_and_the_caller_talks_to_the_specialist() {
    within(90, async {
        // SIPp 3.6 reads only the first challenge and computes MD5 only.
        let t =
            spawn_queue_app(|c| c.sip.digest = firstline::config::DigestSetting::Md5First).await;
        let mut eva = registered_phone(&t, "2005").await;
        t.login("anna").await;
        let dir = tempfile::tempdir().unwrap();
        let sipp_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sipp/");
        let mut sipp = std::process::Command::new(crate::host::tool("sipp"))
            .current_dir(dir.path())
            .args(["-sf", &format!("{sipp_dir}agent_register_stay.xml")])
            .args(["-oocsf", &format!("{sipp_dir}agent_answer_refer.xml")])
            .args(["-au", "2001", "-ap", "2001-sip", "-s", "2001"])
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &crate::host::free_port().to_string(),
            ])
            .args(["-mp", &crate::host::free_udp_port_pair().to_string()])
            .args(["-m", "1", "-nostdin", "-trace_err", "-trace_msg"])
            .arg(t.udp().to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let bound = wait_for(5 * SECS, || async { t.app.sip().binding("2001") }).await;
        assert!(bound.is_some(), "SIPp's phone registered as 2001");
        let (ua, mut rtp, answer) = unclassified_caller(&t).await;
        // SIPp answers for anna, then REFERs the call to 2005: eva's phone rings.
        let inv = eva.invite(15 * SECS).await.unwrap_or_else(|| {
            let log = std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            panic!("eva's phone did not ring after SIPp's REFER:\n{log}")
        });
        assert_eq!(inv.msg.header("x-firstline-transfer"), Some("1"));
        eva.ring().await;
        assert!(eva.answer(PCMU).await);
        tones_cross(&mut rtp, answer, &mut eva, &inv, 0).await;
        assert_eq!(eva.bye().await, Some(200));
        let call = t.ended_call(&ua.call_id).await;
        assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
        t.app.store().synced().await;
        let legs: Vec<(Option<String>, String)> = sqlx::query_as(
            "SELECT l.agent_id, l.end_reason FROM call_legs l JOIN calls c ON c.id = l.call_id \
             WHERE c.sip_call_id = $1 ORDER BY l.seq",
        )
        .bind(ua.call_id.clone())
        .fetch_all(&t.pool)
        .await
        .unwrap();
        assert_eq!(
            legs,
            [
                (Some(ANNA.to_string()), "transferred".to_string()),
                (Some(EVA.to_string()), "ended".to_string())
            ]
        );
        // What SIPp's phone exchanged: its REFER, the final NOTIFY's sipfrag, our BYE.
        let _ = sipp.kill();
        let _ = sipp.wait();
        let mut log = String::new();
        for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
            log.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
        for seen in [
            "REFER sip:firstline@",
            "Subscription-State: terminated",
            "message/sipfrag",
            "BYE sip:",
        ] {
            assert!(log.contains(seen), "SIPp's log lacks {seen:?}:\n{log}");
        }
        assert!(
            !log.contains("Aborting call") && !log.contains("does not match"),
            "SIPp's phone failed (the last NOTIFY must say 200 OK):\n{log}"
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_handed_to_the_software_queue_reaches_the_next_agent_with_its_intake() {
    within(90, async {
        let mut s = caller_with_anna().await;
        let call_id = s.inv.call.clone().expect("X-Firstline-Call");
        let addr = s.t.app.http_addr();
        let mut chantal = registered_phone(&s.t, "2003").await;
        s.t.login("chantal").await;
        let path = format!("/api/calls/{call_id}/transfer");
        let (status, v) = http_json(
            addr,
            "POST",
            &path,
            Some(&s.anna_token),
            Some(json!({"to": EVA, "to_queue": "software"})),
        )
        .await;
        assert_eq!(status, 422, "one target: {v}");
        let before = s.t.queue_row(&s.ua.call_id).await.expect("the call row");
        let (status, v) = http_json(
            addr,
            "POST",
            &path,
            Some(&s.anna_token),
            Some(json!({"to_queue": "software", "reason": "Office licence"})),
        )
        .await;
        assert_eq!(status, 202, "{v}");
        assert!(s.anna.expect_bye(5 * SECS).await, "anna is released at once");
        // The next free agent of the software queue is rung for the same call and intake.
        let inv = chantal.invite(15 * SECS).await.expect("chantal's phone rings");
        assert_eq!(inv.call.as_deref(), Some(call_id.as_str()));
        chantal.ring().await;
        assert!(chantal.answer(PCMU).await);
        tones_cross(&mut s.rtp, s.answer.clone(), &mut chantal, &inv, 0).await;
        assert_eq!(chantal.bye().await, Some(200));
        let call = s.t.ended_call(&s.ua.call_id).await;
        assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
        s.t.app.store().synced().await;
        let row = s.t.queue_row(&s.ua.call_id).await.unwrap();
        assert_eq!(row.agent_id.as_deref(), Some("agent-demo-chantal"));
        assert_eq!(
            (row.connected_at, row.wait_ms, row.queued_at),
            (before.connected_at, before.wait_ms, before.queued_at),
            "the first answer and wait stay the call's (service level)"
        );
        let legs: Vec<(Option<String>, String, Option<String>)> = sqlx::query_as(
            "SELECT agent_id, end_reason, transferred_to FROM call_legs WHERE call_id = $1 ORDER BY seq",
        )
        .bind(call_id.clone())
        .fetch_all(&s.t.pool)
        .await
        .unwrap();
        assert_eq!(
            legs,
            [
                (Some(ANNA.to_string()), "transferred".to_string(), None),
                (Some("agent-demo-chantal".to_string()), "ended".to_string(), None),
            ]
        );
        let note = handed_over_note(&s).await;
        assert_eq!(note, "to the software queue: Office licence");
        s.t.finish().await;
    })
    .await;
}
