//! Scenario tests of the sans-IO core with simulated time: calls, CANCEL, BYE, timers, leaks.

use std::time::{Duration, Instant};

use super::api::{CommandKind, EndReason, LegEvent, LegId};
use super::core::{Core, CoreEvent};
use super::core_test_support::{
    PHONE, cmd, codes, core, events, leg_events, local, out, phone, run_until,
};
use super::leg::Phase;

/// A request from the phone.
fn req(
    method: &str,
    call: &str,
    branch: &str,
    cseq: u32,
    to_tag: Option<&str>,
    extra: &str,
) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let cseq_method = if method == "ACK" && cseq == 0 {
        "ACK"
    } else {
        method
    };
    format!(
        "{method} sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{branch};rport\r\n\
Max-Forwards: 70\r\nFrom: \"Ann\" <sip:+31201234567@127.0.0.1>;tag=ph{call}\r\nTo: <sip:100@127.0.0.1>{to_tag}\r\n\
Call-ID: {call}\r\nCSeq: {cseq} {cseq_method}\r\nContact: <sip:ann@{PHONE}>\r\n{extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Sends an INVITE and returns the new leg id.
fn invite(c: &mut Core, now: Instant, call: &str) -> LegId {
    c.handle_message(
        now,
        phone(),
        local(),
        &req("INVITE", call, call, 1, None, ""),
    );
    assert_eq!(codes(&out(c)), vec![100]);
    match events(c).as_slice() {
        [CoreEvent::NewCall(nc)] => {
            assert_eq!(nc.from.user.as_deref(), Some("+31201234567"));
            assert_eq!(nc.to_user.as_deref(), Some("100"));
            nc.leg
        }
        other => panic!("expected a new call, got {other:?}"),
    }
}

#[test]
fn answered_call_acked_then_remote_bye() {
    let t0 = Instant::now();
    let mut c = core();
    let leg = invite(&mut c, t0, "a1");
    cmd(&mut c, t0, leg, CommandKind::Ringing);
    cmd(&mut c, t0, leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
    let sent = out(&mut c);
    assert_eq!(codes(&sent), vec![180, 200]);
    let tag = sent[1].to_tag().unwrap().to_string();
    assert_eq!(
        sent[0].to_tag(),
        Some(tag.as_str()),
        "180 and 200 carry the same To-tag"
    );
    assert_eq!(
        sent[1].header("Contact"),
        Some("<sip:firstline@127.0.0.1:5060>")
    );
    assert_eq!(sent[1].body, b"v=0\r\n");
    assert_eq!(sent[1].header("Content-Type"), Some("application/sdp"));
    let t1 = t0 + Duration::from_millis(100);
    c.handle_message(
        t1,
        phone(),
        local(),
        &req("ACK", "a1", "ack1", 1, Some(&tag), ""),
    );
    assert_eq!(leg_events(&mut c), vec![LegEvent::Acked]);
    assert_eq!(c.leg_phase(leg), Some(Phase::Confirmed));
    c.handle_message(
        t1,
        phone(),
        local(),
        &req("BYE", "a1", "bye1", 2, Some(&tag), ""),
    );
    assert_eq!(codes(&out(&mut c)), vec![200]);
    assert_eq!(leg_events(&mut c), vec![LegEvent::Bye]);
    assert!(
        run_until(&mut c, t0, t0 + Duration::from_secs(40)).is_empty(),
        "ACK stopped the 2xx"
    );
    assert!(c.is_idle());
}

#[test]
fn unacked_2xx_is_retransmitted_then_ack_timeout_sends_bye() {
    let t0 = Instant::now();
    let mut c = core();
    let leg = invite(&mut c, t0, "b1");
    cmd(&mut c, t0, leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
    assert_eq!(codes(&out(&mut c)), vec![200]);
    let sent = run_until(&mut c, t0, t0 + Duration::from_secs(32));
    let retx: Vec<u128> = sent
        .iter()
        .filter(|(_, m)| codes(std::slice::from_ref(m)) == [200])
        .map(|(t, _)| *t)
        .collect();
    // RFC 3261 §13.3.1.4: T1, doubling to T2 (500 ms, 1 s, 2 s, 4 s, 4 s …), until 64·T1.
    assert_eq!(&retx[..5], &[500, 1500, 3500, 7500, 11500]);
    assert_eq!(*retx.last().unwrap(), 31500);
    let (bye_at, bye) = sent.last().unwrap();
    assert_eq!(*bye_at, 32_000);
    assert_eq!(bye.method().map(|m| m.as_str()), Some("BYE"));
    assert_eq!(
        leg_events(&mut c),
        vec![LegEvent::Ended {
            reason: EndReason::AckTimeout
        }]
    );
    // The phone answers the BYE; no further event; everything is gone after timer K.
    let mut resp = b"SIP/2.0 200 OK\r\nVia: ".to_vec();
    resp.extend_from_slice(bye.top_via().unwrap().as_bytes());
    resp.extend_from_slice(b"\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n");
    c.handle_message(t0 + Duration::from_secs(33), phone(), local(), &resp);
    assert!(leg_events(&mut c).is_empty());
    run_until(&mut c, t0, t0 + Duration::from_secs(70));
    assert!(c.is_idle());
}

#[test]
fn cancel_before_answer_gives_487_and_ack_absorbs_it() {
    let t0 = Instant::now();
    let mut c = core();
    let leg = invite(&mut c, t0, "c1");
    cmd(&mut c, t0, leg, CommandKind::Ringing);
    out(&mut c);
    c.handle_message(
        t0,
        phone(),
        local(),
        &req("CANCEL", "c1", "c1", 1, None, ""),
    );
    let sent = out(&mut c);
    assert_eq!(codes(&sent), vec![200, 487]);
    assert_eq!(sent[1].cseq(), Some((1, "INVITE")));
    assert_eq!(leg_events(&mut c), vec![LegEvent::Cancelled]);
    let tag = sent[1].to_tag().unwrap().to_string();
    // 487 is retransmitted (timer G) until the ACK, which uses the INVITE's branch.
    let g = run_until(&mut c, t0, t0 + Duration::from_millis(600));
    assert_eq!(
        codes(&g.into_iter().map(|(_, m)| m).collect::<Vec<_>>()),
        vec![487]
    );
    c.handle_message(
        t0 + Duration::from_secs(1),
        phone(),
        local(),
        &req("ACK", "c1", "c1", 1, Some(&tag), ""),
    );
    assert!(out(&mut c).is_empty());
    assert!(run_until(&mut c, t0, t0 + Duration::from_secs(40)).is_empty());
    assert!(c.is_idle());
    // A CANCEL for nothing gets 481.
    c.handle_message(
        t0,
        phone(),
        local(),
        &req("CANCEL", "zz", "zz", 1, None, ""),
    );
    assert_eq!(codes(&out(&mut c)), vec![481]);
}

#[test]
fn method_table_and_admission_control() {
    let t0 = Instant::now();
    let mut c = core();
    let cases: [(&str, Option<&str>, u16); 7] = [
        ("OPTIONS", None, 200),
        ("BYE", Some("nosuch"), 481),
        ("INFO", None, 481),
        ("REGISTER", None, 401),
        ("SUBSCRIBE", None, 405),
        ("MESSAGE", None, 405),
        ("FROB", None, 501),
    ];
    for (i, (m, tag, code)) in cases.iter().enumerate() {
        c.handle_message(
            t0,
            phone(),
            local(),
            &req(m, &format!("m{i}"), &format!("m{i}"), 1, *tag, ""),
        );
        let sent = out(&mut c);
        assert_eq!(codes(&sent), vec![*code], "{m}");
        assert_eq!(
            sent[0].header("Allow"),
            Some("INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REGISTER, REFER")
        );
    }
    c.admit = false;
    c.handle_message(
        t0,
        phone(),
        local(),
        &req("INVITE", "full", "full", 1, None, ""),
    );
    let sent = out(&mut c);
    assert_eq!(codes(&sent), vec![503]);
    assert_eq!(sent[0].header("Retry-After"), Some("5"));
    assert!(events(&mut c).is_empty());
}

#[test]
fn retransmitted_invite_gets_last_provisional_and_info_reaches_the_app() {
    let t0 = Instant::now();
    let mut c = core();
    let leg = invite(&mut c, t0, "d1");
    cmd(&mut c, t0, leg, CommandKind::Ringing);
    out(&mut c);
    c.handle_message(
        t0,
        phone(),
        local(),
        &req("INVITE", "d1", "d1", 1, None, ""),
    );
    assert_eq!(codes(&out(&mut c)), vec![180]);
    assert_eq!(c.stats.snapshot().retransmissions, 1);
    cmd(&mut c, t0, leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
    let tag = out(&mut c)[0].to_tag().unwrap().to_string();
    c.handle_message(
        t0,
        phone(),
        local(),
        &req("ACK", "d1", "a", 1, Some(&tag), ""),
    );
    let info = "Content-Type: application/dtmf-relay\r\n";
    let mut bytes = req("INFO", "d1", "i1", 2, Some(&tag), info);
    bytes.truncate(bytes.len() - "Content-Length: 0\r\n\r\n".len());
    bytes.extend_from_slice(b"Content-Length: 20\r\n\r\nSignal=5\r\nDuration=1");
    c.handle_message(t0, phone(), local(), &bytes);
    assert_eq!(codes(&out(&mut c)), vec![200]);
    let evs = leg_events(&mut c);
    assert_eq!(
        evs.last(),
        Some(&LegEvent::Info {
            content_type: "application/dtmf-relay".into(),
            body: b"Signal=5\r\nDuration=1".to_vec()
        })
    );
    // CSeq lower than the last one seen → 500 (RFC 3261 §12.2.2).
    c.handle_message(
        t0,
        phone(),
        local(),
        &req("INFO", "d1", "i0", 1, Some(&tag), ""),
    );
    assert_eq!(codes(&out(&mut c)), vec![500]);
}

#[test]
fn reinvite_is_offered_and_answered_and_our_bye_times_out() {
    let t0 = Instant::now();
    let mut c = core();
    let leg = invite(&mut c, t0, "e1");
    cmd(&mut c, t0, leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
    let tag = out(&mut c)[0].to_tag().unwrap().to_string();
    c.handle_message(
        t0,
        phone(),
        local(),
        &req("ACK", "e1", "a", 1, Some(&tag), ""),
    );
    leg_events(&mut c);
    let sdp = "Content-Type: application/sdp\r\n";
    let mut re = req("INVITE", "e1", "re", 2, Some(&tag), sdp);
    re.truncate(re.len() - "Content-Length: 0\r\n\r\n".len());
    re.extend_from_slice(b"Content-Length: 9\r\n\r\nv=0 hold\n");
    c.handle_message(t0, phone(), local(), &re);
    assert_eq!(codes(&out(&mut c)), vec![100]);
    let Some(LegEvent::ReInvite { id, offer }) = leg_events(&mut c).pop() else {
        panic!("no re-INVITE")
    };
    assert_eq!(offer.as_deref(), Some(&b"v=0 hold\n"[..]));
    // A second re-INVITE while the first is pending → 500 + Retry-After (§14.2).
    c.handle_message(
        t0,
        phone(),
        local(),
        &req("INVITE", "e1", "re2", 3, Some(&tag), ""),
    );
    assert_eq!(codes(&out(&mut c)), vec![500]);
    cmd(
        &mut c,
        t0,
        leg,
        CommandKind::AnswerReInvite(id, b"v=0 ok\n".to_vec()),
    );
    assert_eq!(codes(&out(&mut c)), vec![200]);
    c.handle_message(
        t0,
        phone(),
        local(),
        &req("ACK", "e1", "a2", 2, Some(&tag), ""),
    );
    assert!(
        leg_events(&mut c).is_empty(),
        "ACK of a re-INVITE is not reported again"
    );
    cmd(&mut c, t0, leg, CommandKind::Hangup);
    let bye = out(&mut c);
    assert_eq!(bye[0].method().map(|m| m.as_str()), Some("BYE"));
    assert_eq!(bye[0].cseq(), Some((1, "BYE")));
    // No answer: timer E retransmits, timer F ends it at 64·T1.
    let sent = run_until(&mut c, t0, t0 + Duration::from_secs(40));
    assert_eq!(
        sent.iter().filter(|(_, m)| m.method().is_some()).count(),
        10
    );
    assert_eq!(
        leg_events(&mut c),
        vec![LegEvent::Ended {
            reason: EndReason::Hangup
        }]
    );
    assert!(c.is_idle());
}

#[test]
fn many_calls_leave_no_state_behind() {
    let t0 = Instant::now();
    let mut c = core();
    for i in 0..50 {
        let call = format!("n{i}");
        let leg = invite(&mut c, t0, &call);
        match i % 4 {
            0 => cmd(
                &mut c,
                t0,
                leg,
                CommandKind::Reject(486, "Busy Here".into()),
            ),
            1 => cmd(&mut c, t0, leg, CommandKind::Hangup),
            2 => c.handle_message(
                t0,
                phone(),
                local(),
                &req("CANCEL", &call, &call, 1, None, ""),
            ),
            _ => {
                cmd(&mut c, t0, leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
                let tag = out(&mut c)[0].to_tag().unwrap().to_string();
                c.handle_message(
                    t0,
                    phone(),
                    local(),
                    &req("ACK", &call, &format!("ak{i}"), 1, Some(&tag), ""),
                );
                c.handle_message(
                    t0,
                    phone(),
                    local(),
                    &req("BYE", &call, &format!("by{i}"), 2, Some(&tag), ""),
                );
            }
        }
        out(&mut c);
        events(&mut c);
    }
    assert!(!c.is_idle(), "transactions wait for their timers");
    run_until(&mut c, t0, t0 + Duration::from_secs(40));
    assert_eq!(
        (
            c.server.len(),
            c.client.len(),
            c.legs.len(),
            c.dialogs.len()
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn malformed_input_sweep_never_panics() {
    let t0 = Instant::now();
    let mut c = core();
    let good = req("OPTIONS", "s", "s", 1, None, "");
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        b"\r\n".to_vec(),
        vec![0xff; 300],
        b"INVITE\r\n\r\n".to_vec(),
        b"SIP/2.0 200\r\n\r\n".to_vec(),
        b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n".to_vec(),
        b"OPTIONS sip:x SIP/3.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: q\r\nCSeq: 1 OPTIONS\r\n\r\n".to_vec(),
        b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 99\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: q\r\nCSeq: 1 OPTIONS\r\n\r\nabc".to_vec(),
    ];
    for cut in (0..good.len()).step_by(7) {
        inputs.push(good[..cut].to_vec());
    }
    for (i, b) in good.iter().enumerate().step_by(5) {
        let mut flipped = good.clone();
        flipped[i] = b.wrapping_add(0x80);
        inputs.push(flipped);
    }
    for input in &inputs {
        c.handle_message(t0, phone(), local(), input);
        out(&mut c);
        events(&mut c);
    }
    // The bad version and the short body were answered 400 naming the problem.
    c.handle_message(t0, phone(), local(), &inputs[7]);
    let sent = std::iter::from_fn(|| c.poll_transmit()).collect::<Vec<_>>();
    let text = String::from_utf8_lossy(&sent[0].bytes).to_string();
    assert!(
        text.starts_with("SIP/2.0 400 Bad Request (Content-Length larger than body)\r\n"),
        "{text}"
    );
    c.handle_message(t0, phone(), local(), &good);
    assert_eq!(
        codes(&out(&mut c)),
        vec![200],
        "still answering after the sweep"
    );
    assert!(c.stats.snapshot().bad_requests_400 >= 2);
    assert!(c.stats.snapshot().parse_errors_dropped >= 4);
}
