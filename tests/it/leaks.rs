//! Regression (issue 11): every transaction and dialog is freed on every path. Thousands of
//! re-INVITE-then-BYE, CANCEL-races-200 and never-ACK sequences (and callers that vanish
//! mid-call) from raw UDP callers against the real server; then `/health` shows zero
//! transactions and dialogs, no call in progress and no leg event lost.
//!
//! T1 is 20 ms here (`[sip] timer_t1_ms`), so the 64·T1 give-up times are 1.3 s; Timers I and
//! K stay at T4 = 5 s. `LEAK_SEQUENCES` sets the sequences per kind (default 1000).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::helpers::{TestApp, http_json, spawn_app_with, wait_for, within};
use crate::ua::{SipMsg, Ua, sdp_offer};

/// Sequences run at once.
const WORKERS: usize = 24;
const WAIT: Duration = Duration::from_secs(10);

/// Counts of what the races produced (both outcomes must stay leak-free).
#[derive(Default)]
struct Tally {
    reinvite_487: AtomicUsize,
    reinvite_200: AtomicUsize,
    cancel_487: AtomicUsize,
    cancel_200: AtomicUsize,
}

/// A request of the same transaction as `invite` (CANCEL, or ACK for a non-2xx: same
/// Request-URI, Via, From, Call-ID and CSeq number, RFC 3261 §9.1 and §17.1.1.3).
fn same_transaction(invite: &str, method: &str, to: Option<&str>) -> String {
    let head = invite.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let uri = request_line.split(' ').nth(1).unwrap_or("");
    let mut s = format!("{method} {uri} SIP/2.0\r\n");
    for line in lines {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "max-forwards" => s.push_str(&format!("{line}\r\n")),
            "to" => match to {
                Some(t) => s.push_str(&format!("To: {t}\r\n")),
                None => s.push_str(&format!("{line}\r\n")),
            },
            "cseq" => {
                let n = line.split_whitespace().nth(1).unwrap_or("1");
                s.push_str(&format!("CSeq: {n} {method}\r\n"));
            }
            _ => {}
        }
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s
}

/// Next final response to `method`, or a failed test.
async fn final_to(ua: &mut Ua, method: &str) -> SipMsg {
    match ua.final_response(method, WAIT).await {
        (_, Some(m)) => m,
        (_, None) => panic!("no final response to {method} for {}", ua.call_id),
    }
}

/// Call, ACK, re-INVITE and at once BYE: the BYE gets 200; the re-INVITE 487 (the BYE came
/// first) or 200 (the call task answered first), and is ACKed either way.
async fn reinvite_then_bye(server: SocketAddr, sdp: &str, tally: &Tally) {
    let mut ua = Ua::udp(server).await;
    let (_, fin) = ua.call(sdp).await;
    assert_eq!(fin.status(), Some(200), "{fin:?}");
    let re = ua.build("INVITE", Some("application/sdp"), sdp);
    ua.send_raw(re.as_bytes()).await;
    let bye = ua.build("BYE", None, "");
    ua.send_raw(bye.as_bytes()).await;
    let (mut bye_ok, mut re_final) = (None, None);
    let deadline = tokio::time::Instant::now() + WAIT;
    while bye_ok.is_none() || re_final.is_none() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(m) = ua.recv(left).await else {
            panic!("{}: BYE {bye_ok:?}, re-INVITE {re_final:?}", ua.call_id)
        };
        match (m.cseq_method(), m.status()) {
            (Some("BYE"), Some(code)) if code >= 200 => bye_ok = Some(code),
            (Some("INVITE"), Some(code)) if code >= 200 => re_final = Some((code, m)),
            _ => {}
        }
    }
    assert_eq!(bye_ok, Some(200));
    let Some((code, resp)) = re_final else { return };
    match code {
        487 => {
            tally.reinvite_487.fetch_add(1, Ordering::Relaxed);
            let ack = same_transaction(&re, "ACK", resp.header("to"));
            ua.send_raw(ack.as_bytes()).await;
        }
        200 => {
            tally.reinvite_200.fetch_add(1, Ordering::Relaxed);
            ua.ack().await;
        }
        other => panic!("re-INVITE answered {other}"),
    }
}

/// INVITE and CANCEL close together (at once, or when the 180 comes, just before the call task
/// sends its 200): 487 and ACK, or the 200 won and the call is ACKed and hung up.
async fn cancel_races_200(server: SocketAddr, sdp: &str, after_ringing: bool, tally: &Tally) {
    let mut ua = Ua::udp(server).await;
    let invite = ua.send_invite(sdp).await;
    let mut early_final = None;
    if after_ringing {
        loop {
            let Some(m) = ua.response("INVITE", WAIT).await else {
                panic!("no answer to INVITE {}", ua.call_id)
            };
            match m.status().unwrap_or(0) {
                s if s >= 200 => early_final = Some(m),
                s if s >= 180 => {}
                _ => continue,
            }
            break;
        }
    }
    let cancel = same_transaction(&invite, "CANCEL", None);
    ua.send_raw(cancel.as_bytes()).await;
    let fin = match early_final {
        Some(m) => m,
        None => final_to(&mut ua, "INVITE").await,
    };
    match fin.status() {
        Some(487) => {
            tally.cancel_487.fetch_add(1, Ordering::Relaxed);
            let ack = same_transaction(&invite, "ACK", fin.header("to"));
            ua.send_raw(ack.as_bytes()).await;
        }
        Some(200) => {
            tally.cancel_200.fetch_add(1, Ordering::Relaxed);
            ua.learn_dialog(&fin);
            ua.ack().await;
            assert_eq!(ua.bye().await, Some(200));
        }
        other => panic!("INVITE after CANCEL answered {other:?}"),
    }
}

/// INVITE, 200, then silence: no ACK, no answer to the server's BYE.
async fn never_ack(server: SocketAddr, sdp: &str) {
    let mut ua = Ua::udp(server).await;
    ua.send_invite(sdp).await;
    let fin = final_to(&mut ua, "INVITE").await;
    assert_eq!(fin.status(), Some(200), "{fin:?}");
}

/// A phone that vanishes mid-call: ACKed, then gone (no RTP, no answer to the BYE).
async fn vanishes(server: SocketAddr, sdp: &str) {
    let mut ua = Ua::udp(server).await;
    let (_, fin) = ua.call(sdp).await;
    assert_eq!(fin.status(), Some(200), "{fin:?}");
}

async fn health(t: &TestApp) -> serde_json::Value {
    http_json(t.app.http_addr(), "GET", "/health", None, None)
        .await
        .1
}

/// Runs `n` sequences of one kind, `WORKERS` at a time.
async fn run_many<F, Fut>(n: usize, kind: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let kind = Arc::new(kind);
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (next, kind) = (next.clone(), kind.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                kind(i).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transaction_and_dialog_is_freed_on_every_path() {
    within(120, async {
        let n: usize = std::env::var("LEAK_SEQUENCES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        let t = spawn_app_with(|c| {
            c.sip.timer_t1_ms = 20;
            c.call.rtp_timeout_secs = 3;
        })
        .await;
        let server = t.udp();
        // One socket takes (and never reads) every call's RTP.
        let sink = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sdp: Arc<str> = sdp_offer(sink.local_addr().unwrap(), &[(0, "PCMU/8000")], &[]).into();
        let tally = Arc::new(Tally::default());
        let started = Instant::now();

        let (s, ty) = (sdp.clone(), tally.clone());
        run_many(n, move |_| {
            let (s, ty) = (s.clone(), ty.clone());
            async move { reinvite_then_bye(server, &s, &ty).await }
        })
        .await;
        let (s, ty) = (sdp.clone(), tally.clone());
        run_many(n, move |i| {
            let (s, ty) = (s.clone(), ty.clone());
            async move { cancel_races_200(server, &s, i % 2 == 1, &ty).await }
        })
        .await;
        let s = sdp.clone();
        run_many(n, move |_| {
            let s = s.clone();
            async move { never_ack(server, &s).await }
        })
        .await;
        let s = sdp.clone();
        run_many(n / 10, move |_| {
            let s = s.clone();
            async move { vanishes(server, &s).await }
        })
        .await;
        let sent = started.elapsed();

        // Timers H/J/L and the 2xx give-up are 64·T1 = 1.3 s, I and K are T4 = 5 s, a vanished
        // caller is noticed after 3 s without RTP: everything must be gone well within 20 s.
        let idle = wait_for(Duration::from_secs(20), || async {
            let h = health(&t).await;
            let live = &h["sip_live"];
            (live["transactions"] == 0 && live["dialogs"] == 0 && h["calls_active"] == 0)
                .then_some(h)
        })
        .await;
        let Some(h) = idle else {
            panic!("SIP state left behind: {}", health(&t).await)
        };
        assert_eq!(h["sip"]["leg_events_lost"], 0, "{h}");
        assert!(
            h["calls_total"].as_u64().unwrap_or(0) >= (3 * n) as u64,
            "{h}"
        );
        let r = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        eprintln!(
            "leaks: {} sequences sent in {:.1} s, idle {:.1} s later; re-INVITE 487/200 {}/{}, \
             CANCEL 487/200 {}/{}",
            3 * n + n / 10,
            sent.as_secs_f64(),
            (started.elapsed() - sent).as_secs_f64(),
            r(&tally.reinvite_487),
            r(&tally.reinvite_200),
            r(&tally.cancel_487),
            r(&tally.cancel_200),
        );
        assert!(
            r(&tally.reinvite_487) > 0,
            "the BYE never beat the re-INVITE's answer"
        );
        assert!(r(&tally.cancel_487) > 0, "no CANCEL arrived before the 200");
        drop(sink);
        t.finish().await;
    })
    .await;
}
