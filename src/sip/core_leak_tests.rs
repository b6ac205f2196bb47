//! Regression tests (issue 11) with simulated time: every transaction and dialog is freed on
//! every path (re-INVITE then BYE, CANCEL racing the 200, no ACK), busy legs get their INFOs
//! refused instead of losing events, and per-source limits answer statelessly.

use std::time::{Duration, Instant};

use super::api::{CommandKind, EndReason, LegEvent, LegId};
use super::core::{Core, CoreEvent};
use super::core_test_support::{PHONE, cmd, codes, core, leg_events, local, out, phone, run_until};
use super::pike::RateLimits;

/// A request from the phone; `body` with a Content-Type when not empty.
fn req(
    method: &str,
    call: &str,
    branch: &str,
    cseq: u32,
    to_tag: Option<&str>,
    body: &str,
) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let ctype = if body.is_empty() {
        ""
    } else if method == "INFO" {
        "Content-Type: application/dtmf-relay\r\n"
    } else {
        "Content-Type: application/sdp\r\n"
    };
    let cseq_method = if method == "ACK" { "ACK" } else { method };
    format!(
        "{method} sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{branch};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:+31201234567@127.0.0.1>;tag=ph{call}\r\nTo: <sip:100@127.0.0.1>{to_tag}\r\n\
Call-ID: {call}\r\nCSeq: {cseq} {cseq_method}\r\nContact: <sip:ann@{PHONE}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn send(c: &mut Core, now: Instant, bytes: &[u8]) {
    c.handle_message(now, phone(), local(), bytes);
}

/// INVITE, 200, ACK: a confirmed call; returns the leg and our To-tag.
fn confirmed(c: &mut Core, now: Instant, call: &str) -> (LegId, String) {
    send(c, now, &req("INVITE", call, call, 1, None, "v=0\r\n"));
    let leg = match c.poll_event() {
        Some(CoreEvent::NewCall(nc)) => nc.leg,
        other => panic!("no new call: {other:?}"),
    };
    cmd(c, now, leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
    let sent = out(c);
    assert_eq!(codes(&sent), vec![100, 200]);
    let tag = sent[1].to_tag().unwrap().to_string();
    send(
        c,
        now,
        &req("ACK", call, &format!("{call}ack"), 1, Some(&tag), ""),
    );
    assert_eq!(leg_events(c), vec![LegEvent::Acked]);
    (leg, tag)
}

/// Regression: a re-INVITE followed at once by BYE left its server transaction in Proceeding
/// for ever (no timer runs there). The BYE now answers it 487 (RFC 3261 §15.1.2), and its
/// transaction ends by ACK + Timer I, or by Timer H when no ACK comes.
#[test]
fn reinvite_then_bye_answers_the_reinvite_and_frees_everything() {
    let t0 = Instant::now();
    let mut c = core();
    for (i, acks) in [(0, true), (1, false)] {
        let call = format!("rb{i}");
        let (_, tag) = confirmed(&mut c, t0, &call);
        send(
            &mut c,
            t0,
            &req(
                "INVITE",
                &call,
                &format!("{call}re"),
                2,
                Some(&tag),
                "v=0\r\n",
            ),
        );
        assert_eq!(codes(&out(&mut c)), vec![100]);
        assert!(matches!(
            leg_events(&mut c)[..],
            [LegEvent::ReInvite { .. }]
        ));
        send(
            &mut c,
            t0,
            &req("BYE", &call, &format!("{call}bye"), 3, Some(&tag), ""),
        );
        let sent = out(&mut c);
        let mut got = codes(&sent);
        got.sort_unstable();
        assert_eq!(got, vec![200, 487], "BYE answered, re-INVITE terminated");
        assert_eq!(leg_events(&mut c), vec![LegEvent::Bye]);
        if acks {
            send(
                &mut c,
                t0,
                &req("ACK", &call, &format!("{call}re"), 2, Some(&tag), ""),
            );
        }
    }
    assert!(!c.is_idle());
    run_until(&mut c, t0, t0 + Duration::from_secs(33));
    assert!(
        c.is_idle(),
        "server {} legs {}",
        c.server.len(),
        c.legs.len()
    );
    assert_eq!(c.poll_timeout(), None);
}

/// The application answering the re-INVITE after the BYE changes nothing.
#[test]
fn a_late_answer_to_a_terminated_reinvite_is_ignored() {
    let t0 = Instant::now();
    let mut c = core();
    let (leg, tag) = confirmed(&mut c, t0, "late");
    send(
        &mut c,
        t0,
        &req("INVITE", "late", "latere", 2, Some(&tag), "v=0\r\n"),
    );
    out(&mut c);
    let Some(LegEvent::ReInvite { id, .. }) = leg_events(&mut c).pop() else {
        panic!("no re-INVITE")
    };
    send(
        &mut c,
        t0,
        &req("BYE", "late", "latebye", 3, Some(&tag), ""),
    );
    out(&mut c);
    cmd(
        &mut c,
        t0,
        leg,
        CommandKind::AnswerReInvite(id, b"v=0\r\n".to_vec()),
    );
    assert!(out(&mut c).is_empty());
    run_until(&mut c, t0, t0 + Duration::from_secs(33));
    assert!(c.is_idle());
}

/// Our own BYE while a re-INVITE is pending answers it 487 too.
#[test]
fn our_hangup_terminates_a_pending_reinvite() {
    let t0 = Instant::now();
    let mut c = core();
    let (leg, tag) = confirmed(&mut c, t0, "hup");
    send(
        &mut c,
        t0,
        &req("INVITE", "hup", "hupre", 2, Some(&tag), "v=0\r\n"),
    );
    out(&mut c);
    leg_events(&mut c);
    cmd(&mut c, t0, leg, CommandKind::Hangup);
    let sent = out(&mut c);
    assert_eq!(
        codes(&sent),
        vec![487, 0],
        "487 to the re-INVITE, then our BYE"
    );
    run_until(&mut c, t0, t0 + Duration::from_secs(40));
    assert!(c.is_idle());
}

/// CANCEL racing the 200, both ways round: after the 200 it only gets its own 200 and the call
/// goes on to ACK and BYE; before the call task's answer the call is cancelled (487) and the
/// answer that arrives afterwards is ignored. Either way nothing is left.
#[test]
fn cancel_racing_the_200_leaves_nothing_behind() {
    let t0 = Instant::now();
    let mut c = core();
    // The 200 first.
    send(&mut c, t0, &req("INVITE", "cr1", "cr1", 1, None, "v=0\r\n"));
    let Some(CoreEvent::NewCall(nc)) = c.poll_event() else {
        panic!()
    };
    cmd(&mut c, t0, nc.leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
    let tag = out(&mut c)[1].to_tag().unwrap().to_string();
    send(&mut c, t0, &req("CANCEL", "cr1", "cr1", 1, None, ""));
    assert_eq!(codes(&out(&mut c)), vec![200]);
    assert!(
        leg_events(&mut c).is_empty(),
        "an answered call is not cancelled"
    );
    send(&mut c, t0, &req("ACK", "cr1", "cr1ack", 1, Some(&tag), ""));
    send(&mut c, t0, &req("BYE", "cr1", "cr1bye", 2, Some(&tag), ""));
    assert_eq!(leg_events(&mut c), vec![LegEvent::Acked, LegEvent::Bye]);
    // The CANCEL first.
    send(&mut c, t0, &req("INVITE", "cr2", "cr2", 1, None, "v=0\r\n"));
    let Some(CoreEvent::NewCall(nc)) = c.poll_event() else {
        panic!()
    };
    out(&mut c);
    send(&mut c, t0, &req("CANCEL", "cr2", "cr2", 1, None, ""));
    let mut got = codes(&out(&mut c));
    got.sort_unstable();
    assert_eq!(got, vec![200, 487]);
    assert_eq!(leg_events(&mut c), vec![LegEvent::Cancelled]);
    cmd(&mut c, t0, nc.leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
    cmd(&mut c, t0, nc.leg, CommandKind::Dropped);
    assert!(
        out(&mut c).is_empty(),
        "an answer after the CANCEL sends nothing"
    );
    send(&mut c, t0, &req("ACK", "cr2", "cr2", 1, None, ""));
    run_until(&mut c, t0, t0 + Duration::from_secs(33));
    assert!(c.is_idle());
    assert_eq!(c.poll_timeout(), None);
}

/// A peer that never ACKs and never answers our BYE: AckTimeout at 64·T1, then Timer F.
#[test]
fn a_peer_that_never_acks_is_hung_up_and_forgotten() {
    let t0 = Instant::now();
    let mut c = core();
    send(&mut c, t0, &req("INVITE", "na", "na", 1, None, "v=0\r\n"));
    let Some(CoreEvent::NewCall(nc)) = c.poll_event() else {
        panic!()
    };
    cmd(&mut c, t0, nc.leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
    out(&mut c);
    run_until(&mut c, t0, t0 + Duration::from_secs(70));
    assert_eq!(
        leg_events(&mut c),
        vec![LegEvent::Ended {
            reason: EndReason::AckTimeout
        }]
    );
    assert!(c.is_idle());
}

/// With a short T1 (tests, `[sip] timer_t1_ms`) the same ends in a fraction of the time.
#[test]
fn a_short_t1_scales_every_give_up_time() {
    let t0 = Instant::now();
    let mut c = core();
    c.timers.t1 = Duration::from_millis(10);
    send(&mut c, t0, &req("INVITE", "st", "st", 1, None, "v=0\r\n"));
    let Some(CoreEvent::NewCall(nc)) = c.poll_event() else {
        panic!()
    };
    cmd(&mut c, t0, nc.leg, CommandKind::Answer(b"v=0\r\n".to_vec()));
    out(&mut c);
    run_until(&mut c, t0, t0 + Duration::from_millis(1300));
    assert!(c.is_idle(), "AckTimeout and Timer F at 64·T1 = 640 ms each");
}

/// A busy call task: its INFOs get 500 + Retry-After instead of being lost; BYE still arrives.
#[test]
fn infos_to_a_busy_leg_are_refused_and_the_bye_still_arrives() {
    let t0 = Instant::now();
    let mut c = core();
    let (leg, tag) = confirmed(&mut c, t0, "busy");
    let info = |c: &mut Core, n: u32| {
        let body = "Signal=5\r\nDuration=160\r\n";
        send(
            c,
            t0,
            &req("INFO", "busy", &format!("info{n}"), 1 + n, Some(&tag), body),
        );
        out(c)
    };
    let ok = info(&mut c, 1);
    assert_eq!(codes(&ok), vec![200]);
    assert!(matches!(leg_events(&mut c)[..], [LegEvent::Info { .. }]));
    c.busy_legs.insert(leg);
    let refused = info(&mut c, 2);
    assert_eq!(codes(&refused), vec![500]);
    assert_eq!(refused[0].header("Retry-After"), Some("1"));
    assert!(leg_events(&mut c).is_empty());
    assert_eq!(c.stats.snapshot().info_refused_busy, 1);
    send(
        &mut c,
        t0,
        &req("BYE", "busy", "busybye", 10, Some(&tag), ""),
    );
    assert_eq!(codes(&out(&mut c)), vec![200]);
    assert_eq!(leg_events(&mut c), vec![LegEvent::Bye]);
}

/// New INVITEs and REGISTERs past a source's rate are answered 503 statelessly (or dropped),
/// counted, and leave no transaction behind.
#[test]
fn rate_limited_requests_are_answered_statelessly_and_counted() {
    let t0 = Instant::now();
    let mut c = core();
    c.pike.set_limits(RateLimits {
        invite_per_sec: 1,
        invite_burst: 2,
        register_per_sec: 1,
        register_burst: 1,
        exempt: Vec::new(),
        ..RateLimits::default()
    });
    let mut calls = 0;
    let mut codes_seen = Vec::new();
    for i in 0..10 {
        send(
            &mut c,
            t0,
            &req(
                "INVITE",
                &format!("rl{i}"),
                &format!("rl{i}"),
                1,
                None,
                "v=0\r\n",
            ),
        );
        codes_seen.extend(codes(&out(&mut c)));
        while let Some(ev) = c.poll_event() {
            calls += usize::from(matches!(ev, CoreEvent::NewCall(_)));
        }
    }
    assert_eq!(calls, 2);
    assert_eq!(codes_seen, vec![100, 100, 503, 503]);
    let s = c.stats.snapshot();
    assert_eq!((s.rate_limited_invite, s.rate_dropped_invite), (2, 6));
    assert_eq!(
        c.server.len(),
        2,
        "only the admitted INVITEs have transactions"
    );
    for i in 0..3 {
        send(
            &mut c,
            t0,
            &req("REGISTER", "reg", &format!("reg{i}"), 1 + i, None, ""),
        );
    }
    let answered = codes(&out(&mut c));
    assert_eq!(
        answered.iter().filter(|c| **c == 503).count(),
        1,
        "{answered:?}"
    );
    assert_eq!(c.stats.snapshot().rate_limited_register, 1);
    // Retry-After tells when a token is back.
    send(&mut c, t0, &req("INVITE", "rl-x", "rl-x", 1, None, ""));
    assert!(out(&mut c).is_empty(), "still dropped");
    send(
        &mut c,
        t0 + Duration::from_secs(2),
        &req("INVITE", "rl-y", "rl-y", 1, None, "v=0\r\n"),
    );
    assert_eq!(codes(&out(&mut c)), vec![100]);
}

/// A flood of out-of-dialog OPTIONS, stray BYEs and unknown methods used to leave one server
/// transaction each for Timer J (32 s over UDP): now they are answered statelessly.
#[test]
fn out_of_dialog_non_invites_are_answered_and_keep_no_transaction() {
    let mut c = core();
    let t0 = Instant::now();
    for i in 0..1000 {
        let method = ["OPTIONS", "BYE", "SUBSCRIBE", "FROB"][i % 4];
        send(
            &mut c,
            t0,
            &req(method, &format!("o{i}"), &format!("o{i}"), 1, None, ""),
        );
        let want = [200, 481, 405, 501][i % 4];
        assert_eq!(codes(&out(&mut c)), [want], "{method}");
    }
    assert_eq!(c.live().transactions, 0);
    assert!(c.is_idle());
    // A retransmission is answered again, the same way.
    send(&mut c, t0, &req("OPTIONS", "o0", "o0", 1, None, ""));
    assert_eq!(codes(&out(&mut c)), [200]);
}
