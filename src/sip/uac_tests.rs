//! Outgoing-call (UAC) scenarios of the sans-IO core with simulated time: timers A/B/D, 2xx ACK,
//! CANCEL before and after a provisional response, a 200 crossing our CANCEL, BYE both ways.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::{Command, CommandKind, EndReason, LegEvent, LegId};
use super::core::{Core, CoreEvent, Peer};
use super::message::{self, SipMsg, StartLine};
use super::outgoing::{OutEvent, OutgoingInvite};
use super::registrar::BindingEntry;
use super::stats::SipStats;
use super::transaction::Timers;

const PHONE: &str = "127.0.0.1:5070";
const ID: LegId = 7;

fn start(now: Instant) -> (Core, SipMsg) {
    let mut c = Core::new(
        "fl-test".into(),
        Timers::default(),
        Arc::new(SipStats::default()),
    );
    let peer = Peer::Udp(PHONE.parse().unwrap());
    let local: SocketAddr = "127.0.0.1:5060".parse().unwrap();
    let b = BindingEntry::for_test(
        "sip:2001@127.0.0.1:5070",
        peer,
        local,
        now + Duration::from_secs(600),
    );
    let req = OutgoingInvite {
        extension: "2001".into(),
        trunk: None,
        from_user: "+31201234567".into(),
        from_display: "+31201234567 hardware".into(),
        sdp: b"v=0\r\n".to_vec(),
        call_info: vec![
            ("X-Firstline-Call".into(), "call-1".into()),
            ("Bad Name".into(), "x".into()),
        ],
    };
    c.start_invite(now, ID, &b, &req);
    let sent = out(&mut c);
    assert_eq!(sent.len(), 1);
    let invite = sent.into_iter().next().unwrap();
    (c, invite)
}

fn out(c: &mut Core) -> Vec<SipMsg> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|t| message::parse(&t.bytes).unwrap())
        .collect()
}

fn events(c: &mut Core) -> Vec<CoreEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn out_events(c: &mut Core) -> Vec<OutEvent> {
    events(c)
        .into_iter()
        .filter_map(|e| match e {
            CoreEvent::Out(ID, ev) => Some(ev),
            CoreEvent::Leg(ID, LegEvent::Bye) => Some(OutEvent::Bye),
            CoreEvent::Leg(ID, LegEvent::Ended { reason }) => Some(OutEvent::Ended { reason }),
            // As the endpoint hands it to the call (`endpoint.rs`).
            CoreEvent::Leg(ID, LegEvent::Refer { target, .. }) => Some(OutEvent::Refer { target }),
            _ => None,
        })
        .collect()
}

/// A response from the phone to `req` (our INVITE, CANCEL or BYE).
fn respond(c: &mut Core, now: Instant, req: &SipMsg, code: u16, tag: Option<&str>, body: &str) {
    let to = req.header("To").unwrap();
    let to = match tag {
        Some(t) if req.to_tag().is_none() => format!("{to};tag={t}"),
        _ => to.to_string(),
    };
    let ctype = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    let text = format!(
        "SIP/2.0 {code} X\r\nVia: {}\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
Contact: <sip:2001@{PHONE}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        req.top_via().unwrap(),
        req.header("From").unwrap(),
        req.call_id().unwrap(),
        req.header("CSeq").unwrap(),
        body.len()
    );
    c.handle_message(
        now,
        Peer::Udp(PHONE.parse().unwrap()),
        "127.0.0.1:5060".parse().unwrap(),
        text.as_bytes(),
    );
}

fn method(m: &SipMsg) -> String {
    match &m.start {
        StartLine::Request { method, .. } => method.as_str().to_string(),
        StartLine::Response { code } => code.to_string(),
    }
}

fn cmd(c: &mut Core, now: Instant, kind: CommandKind) {
    c.handle_command(now, Command { leg: ID, kind });
}

fn run_timers(c: &mut Core, until: Instant) {
    while let Some(at) = c.poll_timeout().filter(|at| *at <= until) {
        c.handle_timeout(at);
    }
}

#[test]
fn invite_carries_display_name_and_safe_extra_headers() {
    let (_, inv) = start(Instant::now());
    assert_eq!(
        inv.header("From").unwrap().split(';').next(),
        Some("\"+31201234567 hardware\" <sip:+31201234567@127.0.0.1:5060>")
    );
    assert_eq!(inv.header("X-Firstline-Call"), Some("call-1"));
    assert!(inv.header("Bad Name").is_none());
    assert!(
        matches!(&inv.start, StartLine::Request { uri, .. } if uri == "sip:2001@127.0.0.1:5070")
    );
    assert_eq!(inv.body, b"v=0\r\n");
}

#[test]
fn timer_a_retransmits_and_timer_b_fails_with_408() {
    let t0 = Instant::now();
    let (mut c, _) = start(t0);
    let mut at = Vec::new();
    while let Some(t) = c.poll_timeout() {
        c.handle_timeout(t);
        for m in out(&mut c) {
            assert_eq!(method(&m), "INVITE");
            at.push((t - t0).as_millis());
        }
    }
    assert_eq!(at, vec![500, 1500, 3500, 7500, 15_500, 31_500]);
    assert_eq!(
        out_events(&mut c),
        vec![OutEvent::Failed {
            status: 408,
            reason: "Request Timeout".into()
        }]
    );
    assert!(c.is_idle());
}

#[test]
fn answer_is_acked_each_time_and_their_bye_ends_the_leg() {
    let t0 = Instant::now();
    let (mut c, inv) = start(t0);
    respond(&mut c, t0, &inv, 180, Some("ph"), "");
    respond(&mut c, t0, &inv, 183, Some("ph"), "");
    assert_eq!(out_events(&mut c), vec![OutEvent::Ringing]);
    respond(&mut c, t0, &inv, 200, Some("ph"), "v=0 answer");
    let acks = out(&mut c);
    assert_eq!(acks.len(), 1);
    assert_eq!(method(&acks[0]), "ACK");
    assert_eq!(acks[0].cseq(), Some((1, "ACK")));
    assert_eq!(acks[0].to_tag(), Some("ph"));
    assert_ne!(
        acks[0].branch(),
        inv.branch(),
        "2xx ACK is its own transaction (§13.2.2.4)"
    );
    assert_eq!(
        out_events(&mut c),
        vec![OutEvent::Answered {
            sdp: Some(b"v=0 answer".to_vec())
        }]
    );
    // The phone did not see our ACK and retransmits its 200: we ACK again, no new event.
    respond(
        &mut c,
        t0 + Duration::from_millis(500),
        &inv,
        200,
        Some("ph"),
        "v=0 answer",
    );
    assert_eq!(
        out(&mut c).iter().map(method).collect::<Vec<_>>(),
        vec!["ACK"]
    );
    assert!(out_events(&mut c).is_empty());
    // Their BYE.
    let bye = format!(
        "BYE sip:firstline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKbye\r\n\
From: {};tag=ph\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        inv.header("To").unwrap(),
        inv.header("From").unwrap(),
        inv.call_id().unwrap()
    );
    c.handle_message(
        t0 + Duration::from_secs(2),
        Peer::Udp(PHONE.parse().unwrap()),
        "127.0.0.1:5060".parse().unwrap(),
        bye.as_bytes(),
    );
    assert_eq!(
        out(&mut c).iter().map(method).collect::<Vec<_>>(),
        vec!["200"]
    );
    assert_eq!(out_events(&mut c), vec![OutEvent::Bye]);
    run_timers(&mut c, t0 + Duration::from_secs(60));
    assert!(c.is_idle());
}

#[test]
fn non_2xx_is_acked_by_the_transaction_and_reported_once() {
    let t0 = Instant::now();
    let (mut c, inv) = start(t0);
    respond(&mut c, t0, &inv, 486, Some("ph"), "");
    let ack = out(&mut c);
    assert_eq!(method(&ack[0]), "ACK");
    assert_eq!(
        ack[0].branch(),
        inv.branch(),
        "non-2xx ACK shares the INVITE branch (§17.1.1.3)"
    );
    respond(
        &mut c,
        t0 + Duration::from_millis(500),
        &inv,
        486,
        Some("ph"),
        "",
    );
    assert_eq!(out(&mut c).len(), 1, "retransmitted 486 ACKed again");
    assert_eq!(
        out_events(&mut c),
        vec![OutEvent::Failed {
            status: 486,
            reason: "Busy Here".into()
        }]
    );
    // Timer D: 32 s later the transaction is gone.
    run_timers(&mut c, t0 + Duration::from_secs(33));
    assert!(c.is_idle());
}

#[test]
fn cancel_waits_for_a_provisional_then_487_ends_the_call() {
    let t0 = Instant::now();
    let (mut c, inv) = start(t0);
    cmd(&mut c, t0, CommandKind::Cancel);
    assert!(
        out(&mut c).is_empty(),
        "no CANCEL before a provisional response (§9.1)"
    );
    respond(&mut c, t0, &inv, 100, None, "");
    let cancel = out(&mut c);
    assert_eq!(method(&cancel[0]), "CANCEL");
    assert_eq!(cancel[0].branch(), inv.branch());
    assert_eq!(cancel[0].cseq(), Some((1, "CANCEL")));
    respond(&mut c, t0, &cancel[0], 200, Some("ph"), "");
    respond(&mut c, t0, &inv, 487, Some("ph"), "");
    assert_eq!(
        out(&mut c).iter().map(method).collect::<Vec<_>>(),
        vec!["ACK"]
    );
    assert_eq!(
        out_events(&mut c),
        vec![OutEvent::Ended {
            reason: EndReason::Hangup
        }]
    );
    run_timers(&mut c, t0 + Duration::from_secs(40));
    assert!(c.is_idle());
}

#[test]
fn a_200_crossing_our_cancel_is_acked_then_byed() {
    let t0 = Instant::now();
    let (mut c, inv) = start(t0);
    respond(&mut c, t0, &inv, 180, Some("ph"), "");
    out_events(&mut c);
    cmd(&mut c, t0, CommandKind::Dropped);
    let cancel = out(&mut c);
    assert_eq!(method(&cancel[0]), "CANCEL");
    respond(&mut c, t0, &inv, 200, Some("ph"), "v=0");
    let sent = out(&mut c);
    assert_eq!(
        sent.iter().map(method).collect::<Vec<_>>(),
        vec!["ACK", "BYE"]
    );
    assert_eq!(sent[1].cseq(), Some((2, "BYE")));
    respond(&mut c, t0, &cancel[0], 200, Some("ph"), "");
    assert!(out_events(&mut c).is_empty(), "not reported as answered");
    respond(&mut c, t0, &sent[1], 200, None, "");
    assert_eq!(
        out_events(&mut c),
        vec![OutEvent::Ended {
            reason: EndReason::Hangup
        }]
    );
    run_timers(&mut c, t0 + Duration::from_secs(40));
    assert!(c.is_idle());
}

#[test]
fn our_hangup_after_answer_sends_bye_and_cancel_is_ignored() {
    let t0 = Instant::now();
    let (mut c, inv) = start(t0);
    respond(&mut c, t0, &inv, 200, Some("ph"), "v=0");
    out(&mut c);
    out_events(&mut c);
    cmd(&mut c, t0, CommandKind::Cancel);
    assert!(out(&mut c).is_empty());
    cmd(&mut c, t0, CommandKind::Hangup);
    let bye = out(&mut c);
    assert_eq!(method(&bye[0]), "BYE");
    respond(&mut c, t0, &bye[0], 200, None, "");
    assert_eq!(
        out_events(&mut c),
        vec![OutEvent::Ended {
            reason: EndReason::Hangup
        }]
    );
    run_timers(&mut c, t0 + Duration::from_secs(40));
    assert!(c.is_idle());
}

#[test]
fn no_answer_after_cancel_gives_up_at_64_t1() {
    let t0 = Instant::now();
    let (mut c, inv) = start(t0);
    respond(&mut c, t0, &inv, 180, Some("ph"), "");
    out_events(&mut c);
    cmd(&mut c, t0 + Duration::from_secs(15), CommandKind::Hangup);
    out(&mut c);
    run_timers(&mut c, t0 + Duration::from_secs(48));
    assert_eq!(
        out_events(&mut c),
        vec![OutEvent::Ended {
            reason: EndReason::Hangup
        }]
    );
    assert!(c.is_idle());
}

/// An answered outgoing call (the phone's tag `ph`); the INVITE.
fn answered(t0: Instant) -> (Core, SipMsg) {
    let (mut c, inv) = start(t0);
    respond(&mut c, t0, &inv, 200, Some("ph"), "v=0 answer");
    out(&mut c);
    out_events(&mut c);
    (c, inv)
}

/// An in-dialog request from the phone (CSeq `n`) with `headers`.
fn from_phone(c: &mut Core, now: Instant, inv: &SipMsg, method: &str, n: u32, headers: &str) {
    let text = format!(
        "{method} sip:firstline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{method}{n}\r\n\
From: {};tag=ph\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {n} {method}\r\n{headers}Content-Length: 0\r\n\r\n",
        inv.header("To").unwrap(),
        inv.header("From").unwrap(),
        inv.call_id().unwrap(),
    );
    c.handle_message(
        now,
        Peer::Udp(PHONE.parse().unwrap()),
        "127.0.0.1:5060".parse().unwrap(),
        text.as_bytes(),
    );
}

fn status(m: &SipMsg) -> Option<u16> {
    match &m.start {
        StartLine::Response { code } => Some(*code),
        StartLine::Request { .. } => None,
    }
}

#[test]
fn a_refer_is_accepted_notified_at_once_and_its_outcome_ends_the_subscription() {
    let t0 = Instant::now();
    let (mut c, inv) = answered(t0);
    from_phone(
        &mut c,
        t0,
        &inv,
        "REFER",
        1,
        "Refer-To: <sip:2005@127.0.0.1>\r\n",
    );
    let sent = out(&mut c);
    assert_eq!(
        sent.iter().map(method).collect::<Vec<_>>(),
        ["202", "NOTIFY"]
    );
    let notify = &sent[1];
    assert_eq!(notify.header("Event"), Some("refer"));
    assert_eq!(
        notify.header("Subscription-State"),
        Some("active;expires=60")
    );
    assert_eq!(
        notify.header("Content-Type"),
        Some("message/sipfrag;version=2.0")
    );
    assert_eq!(notify.body, b"SIP/2.0 100 Trying\r\n");
    assert_eq!(notify.call_id(), inv.call_id(), "in the call's dialog");
    let ev = out_events(&mut c);
    assert!(
        matches!(ev.as_slice(), [OutEvent::Refer { target }] if target.user.as_deref() == Some("2005")),
        "{ev:?}"
    );
    // A second REFER while this one runs: 491.
    from_phone(
        &mut c,
        t0,
        &inv,
        "REFER",
        2,
        "Refer-To: <sip:2006@127.0.0.1>\r\n",
    );
    assert_eq!(
        out(&mut c).iter().filter_map(status).collect::<Vec<_>>(),
        [491]
    );
    // The outcome: NOTIFY 200 OK, terminated; then nothing more is sent for it.
    cmd(&mut c, t0, CommandKind::Notify(200, "OK".into(), true));
    let last = out(&mut c);
    assert_eq!(last.len(), 1);
    assert_eq!(
        last[0].header("Subscription-State"),
        Some("terminated;reason=noresource")
    );
    assert_eq!(last[0].body, b"SIP/2.0 200 OK\r\n");
    let (n1, n2) = (notify.cseq().unwrap().0, last[0].cseq().unwrap().0);
    assert!(n2 > n1, "each NOTIFY has the next CSeq");
    cmd(&mut c, t0, CommandKind::Notify(200, "OK".into(), true));
    assert!(out(&mut c).is_empty(), "no subscription left");
}

#[test]
fn refers_we_cannot_take_are_answered_and_change_nothing() {
    let t0 = Instant::now();
    let (mut c, inv) = answered(t0);
    for (n, headers, code) in [
        (1, "", 400),
        (2, "Refer-To: <sip:a@x>\r\nRefer-To: <sip:b@x>\r\n", 400),
        (3, "Refer-To: <http://evil.example/>\r\n", 400),
        (
            4,
            "Refer-To: <sip:2005@127.0.0.1?Replaces=abc%3Bto-tag%3D1%3Bfrom-tag%3D2>\r\n",
            501,
        ),
    ] {
        from_phone(&mut c, t0, &inv, "REFER", n, headers);
        assert_eq!(
            out(&mut c).iter().filter_map(status).collect::<Vec<_>>(),
            [code],
            "{headers:?}"
        );
    }
    assert!(out_events(&mut c).is_empty(), "nothing reached the call");
}
