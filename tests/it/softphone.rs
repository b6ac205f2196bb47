//! The browser softphone (issue 6 acceptance, docs/webrtc.md): a real SIPp caller through the IVR
//! and the queue to an agent who answers in the desk (headless Chromium, fake microphone);
//! audio checked both ways in the browser (getStats) and on the server (`call_quality`); a
//! reload mid-call reconnects; Hang up in the desk, or the caller's BYE, ends the call.
//!
//! Server, SIPp and Chromium run in ONE loopback-only network namespace: WebRTC media is UDP
//! between Chromium and the server, which the socat bridges of the other browser tests cannot
//! carry. The test thread enters the namespace before it starts the server, and
//! `#[tokio::test]` runs a current-thread runtime on that thread, so every socket the server
//! binds is inside. SQLite only: the PostgreSQL server on the host's 127.0.0.1:5432 is not
//! reachable from inside the namespace.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;
use tokio::task::JoinHandle;

use crate::desk_page::{errors_shown, sign_in_available as sign_in, text_of};
use crate::helpers::{Netns, TestApp, spawn_queue_app_on_sqlite, wait_for, within};
use crate::sipp::{SippRun, run_sipp_in};
use crate::webdriver::Browser;

/// The SIPp caller's number (From of tests/sipp/browser_caller*.xml).
const CALLER: &str = "+31201234501";
const ANNA: &str = "agent-demo-anna";
/// Packets the browser must receive/send (on top of what it had) to count as audio flowing:
/// 50 packets are 1 s of G.711 at 20 ms.
const FLOWING: i64 = 50;

/// Everything one softphone scenario runs: the namespace, the server inside it, Chromium.
struct Rig {
    netns: Netns,
    t: TestApp,
    b: Browser,
}

/// Enters a fresh loopback-only namespace, starts the server (demo data; offers ring for 30 s)
/// and Chromium inside it.
async fn rig() -> Rig {
    let netns = Netns::new();
    netns.enter();
    let t = spawn_queue_app_on_sqlite(|c| {
        c.acd.ring_timeout_secs = 30;
        c.acd.wrapup_secs = 30;
    })
    .await;
    let b = Browser::start_in(&netns, t.app.http_addr()).await;
    Rig { netns, t, b }
}

impl Rig {
    /// A SIPp caller (`scenario`, with `-rtp_echo`) in the background, inside the namespace.
    fn caller(&self, scenario: &'static str) -> (String, JoinHandle<SippRun>) {
        let cid = crate::sipp::call_id();
        let (prefix, server, id) = (self.netns.prefix(), self.t.udp(), cid.clone());
        let run = tokio::spawn(async move {
            let limit = Duration::from_secs(100);
            run_sipp_in(&prefix, server, scenario, false, &id, &["-rtp_echo"], limit).await
        });
        (cid, run)
    }

    async fn finish(self) {
        self.b.quit().await;
        self.t.finish().await;
        drop(self.netns);
    }
}

/// Waits up to `secs` for the softphone's status line to read `status`.
async fn phone_status(b: &Browser, secs: u64, status: &str) {
    b.until(
        secs,
        &format!("the softphone status `{status}`"),
        "const e = document.querySelector('[data-testid=phone-status]'); \
         return e && e.dataset.state === arguments[0];",
        json!([status]),
    )
    .await;
}

/// `GET /api/agents/me/call` from the page (the session cookie): the body, or the status.
async fn my_call(b: &Browser) -> Value {
    b.exec(
        "return fetch('/api/agents/me/call', {credentials: 'same-origin'}) \
           .then((r) => (r.status === 200 ? r.json() : {status: r.status}));",
        json!([]),
    )
    .await
}

/// `window.firstlinePhone.stats()` (the page's current peer connection).
async fn stats(b: &Browser) -> Value {
    b.exec("return window.firstlinePhone.stats();", json!([]))
        .await
}

fn count(v: &Value, side: &str, field: &str) -> i64 {
    v[side][field].as_i64().unwrap_or(0)
}

/// Waits until the page's peer connection has received and sent `FLOWING` more packets than
/// `from` and heard sound (the fake microphone's beep, echoed back by the SIPp caller).
async fn audio_flows(b: &Browser, from: &Value, what: &str) -> Value {
    let (rx0, tx0) = (
        count(from, "inbound", "packetsReceived"),
        count(from, "outbound", "packetsSent"),
    );
    let got = wait_for(Duration::from_secs(20), || async {
        let s = stats(b).await;
        let heard = s["inbound"]["totalAudioEnergy"].as_f64().unwrap_or(0.0) > 0.0
            || s["inbound"]["audioLevel"].as_f64().unwrap_or(0.0) > 0.0;
        let flowing = count(&s, "inbound", "packetsReceived") >= rx0 + FLOWING
            && count(&s, "outbound", "packetsSent") >= tx0 + FLOWING;
        (s["state"] == json!("connected") && flowing && heard).then_some(s)
    })
    .await;
    match got {
        Some(s) => s,
        None => panic!(
            "{what}: audio did not flow both ways within 20 s; before {from}, now {}; page: {}",
            stats(b).await,
            b.body_text().await
        ),
    }
}

/// The largest server-measured voiced milliseconds `(to_agent, from_agent)` of a call so far.
async fn server_voiced(t: &TestApp, call_id: &str) -> (i64, i64) {
    let row = sqlx::query(
        "SELECT MAX(voiced_to_agent_ms) AS to_agent, MAX(voiced_from_agent_ms) AS from_agent \
         FROM call_quality WHERE call_id = $1 AND source = 'server'",
    )
    .bind(call_id.to_string())
    .fetch_one(&t.pool)
    .await
    .unwrap();
    (
        row.try_get::<Option<i64>, _>("to_agent")
            .ok()
            .flatten()
            .unwrap_or(0),
        row.try_get::<Option<i64>, _>("from_agent")
            .ok()
            .flatten()
            .unwrap_or(0),
    )
}

/// Waits until the server's voiced counters of the call both exceed `above`.
async fn server_hears_both_ways(t: &TestApp, call_id: &str, above: (i64, i64), what: &str) {
    let got = wait_for(Duration::from_secs(20), || async {
        let v = server_voiced(t, call_id).await;
        (v.0 > above.0 && v.1 > above.1).then_some(v)
    })
    .await;
    assert!(
        got.is_some(),
        "{what}: the server's voiced counters (to agent, from agent) did not pass {above:?} \
         within 20 s: {:?}",
        server_voiced(t, call_id).await
    );
}

async fn quality_rows(t: &TestApp, call_id: &str, source: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM call_quality WHERE call_id = $1 AND source = $2")
        .bind(call_id.to_string())
        .bind(source.to_string())
        .fetch_one(&t.pool)
        .await
        .unwrap()
}

/// The softphone columns of the `calls` row.
#[derive(Debug)]
struct BrowserCall {
    ended_at: Option<i64>,
    outcome: Option<String>,
    hangup_by: Option<String>,
    agent_device: Option<String>,
    browser_reconnects: i64,
}

async fn browser_call(t: &TestApp, call_id: &str) -> BrowserCall {
    let r = sqlx::query(
        "SELECT ended_at, outcome, hangup_by, agent_device, browser_reconnects \
         FROM calls WHERE id = $1",
    )
    .bind(call_id.to_string())
    .fetch_one(&t.pool)
    .await
    .unwrap();
    BrowserCall {
        ended_at: r.try_get("ended_at").unwrap(),
        outcome: r.try_get("outcome").unwrap(),
        hangup_by: r.try_get("hangup_by").unwrap(),
        agent_device: r.try_get("agent_device").unwrap(),
        browser_reconnects: r.try_get("browser_reconnects").unwrap(),
    }
}

/// Switches the signed-in agent to the browser with the header's selector; waits until stored.
async fn answer_in_browser(rig: &Rig, agent_id: &str) {
    let b = &rig.b;
    b.click_css("[data-testid=device-select] option[value=browser]")
        .await;
    let stored = wait_for(Duration::from_secs(10), || async {
        let d: Option<String> = sqlx::query_scalar("SELECT device FROM agents WHERE id = $1")
            .bind(agent_id.to_string())
            .fetch_optional(&rig.t.pool)
            .await
            .ok()?;
        (d.as_deref() == Some("browser")).then_some(())
    })
    .await;
    assert!(
        stored.is_some(),
        "the device selector must store `browser`; page: {}",
        b.body_text().await
    );
    assert_eq!(b.value(&b.testid("device-select").await).await, "browser");
}

/// The desk rings for the SIPp caller; Answer; connected. The call's id.
async fn ring_and_answer(rig: &Rig, cid: &str) -> String {
    let b = &rig.b;
    phone_status(b, 30, "ringing").await;
    assert_eq!(text_of(b, "phone-caller").await, CALLER);
    assert_eq!(
        text_of(b, "pop-caller").await,
        CALLER,
        "the pop shows the caller"
    );
    let call_id = rig
        .t
        .call_row(cid)
        .await
        .expect("the calls row of the ringing call")
        .id;
    b.click(&b.testid("phone-answer").await).await;
    phone_status(b, 15, "connected").await;
    call_id
}

#[tokio::test]
async fn browser_agent_answers_and_audio_flows_both_ways() {
    // Boxed: the scenario's future is too large for the test thread's stack in debug builds.
    within(
        150,
        Box::pin(async {
            let rig = rig().await;
            let (t, b) = (&rig.t, &rig.b);
            sign_in(b, "anna").await;
            answer_in_browser(&rig, ANNA).await;

            let (cid, sipp) = rig.caller("browser_caller.xml");
            let call_id = ring_and_answer(&rig, &cid).await;

            // Audio both ways, seen by the browser: the caller echoes the fake microphone's beep.
            let first = audio_flows(b, &json!({}), "after answer").await;
            eprintln!("softphone: after answer {first}");
            assert_eq!(first["callId"], json!(call_id), "{first}");
            // ... and by the server: voiced frames each way, stored every stats interval.
            server_hears_both_ways(t, &call_id, (0, 0), "after answer").await;
            let posted = wait_for(Duration::from_secs(10), || async {
                (quality_rows(t, &call_id, "browser").await > 0).then_some(())
            })
            .await;
            assert!(posted.is_some(), "the desk posts its getStats() summary");
            let quality = text_of(b, "phone-quality").await;
            assert!(
                quality.contains("loss") && quality.contains("jitter"),
                "{quality:?}"
            );

            // Hold, mute and the keypad reach the call (as the server reports it to the desk).
            b.click(&b.testid("phone-hold").await).await;
            phone_status(b, 10, "on_hold").await;
            b.click(&b.testid("phone-mute").await).await;
            let call_state = wait_for(Duration::from_secs(10), || async {
                let v = my_call(b).await;
                (v["held"] == json!(true) && v["muted"] == json!(true)).then_some(v)
            })
            .await;
            assert!(call_state.is_some(), "held and muted: {}", my_call(b).await);
            b.click(&b.testid("phone-hold").await).await;
            b.click(&b.testid("phone-mute").await).await;
            phone_status(b, 10, "connected").await;
            let call_state = wait_for(Duration::from_secs(10), || async {
                let v = my_call(b).await;
                (v["held"] == json!(false) && v["muted"] == json!(false)).then_some(v)
            })
            .await;
            assert!(
                call_state.is_some(),
                "resumed, unmuted: {}",
                my_call(b).await
            );
            b.click(&b.testid("phone-key-5").await).await;
            b.click(&b.testid("phone-key-hash").await).await;
            // The clicks' requests finish after the clicks: wait for the server's answers.
            let keys = wait_for(Duration::from_secs(10), || async {
                let k = b
                    .exec("return window.firstlinePhone.keys();", json!([]))
                    .await;
                (k["accepted"].as_str().unwrap_or("").len()
                    + k["refused"].as_str().unwrap_or("").len()
                    >= 2)
                    .then_some(k)
            })
            .await
            .expect("the keypad's requests were answered");
            assert_eq!(
                keys["accepted"], "5#",
                "the server took both digits: {keys}"
            );
            assert_eq!(
                errors_shown(b).await,
                Vec::<String>::new(),
                "no refusal shown"
            );

            // Reload mid-call: the same call survives and the desk takes it back.
            let before = server_voiced(t, &call_id).await;
            eprintln!("softphone: server voiced (to, from agent) before the reload {before:?}");
            b.refresh().await;
            phone_status(b, 20, "connected").await;
            let call = browser_call(t, &call_id).await;
            assert_eq!(
                call.ended_at, None,
                "the call survives the reload: {call:?}"
            );
            let again = audio_flows(b, &json!({}), "after the reload").await;
            eprintln!("softphone: after the reload {again}");
            assert_eq!(again["callId"], json!(call_id), "the same call: {again}");
            server_hears_both_ways(t, &call_id, before, "after the reload").await;
            let call = browser_call(t, &call_id).await;
            eprintln!(
                "softphone: server voiced after the reload {:?}, {call:?}",
                server_voiced(t, &call_id).await
            );
            assert!(call.browser_reconnects >= 1, "{call:?}");

            // Hang up in the desk: the server BYEs the caller, who exits 0.
            b.click(&b.testid("phone-hangup").await).await;
            let run = sipp.await.expect("the sipp task");
            assert_eq!(run.code, Some(0), "{}", run.report);
            phone_status(b, 10, "ended").await;
            let ended = t.ended_call(&cid).await;
            assert_eq!(ended.id, call_id);
            let call = browser_call(t, &call_id).await;
            assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
            assert_eq!(call.hangup_by.as_deref(), Some("agent"), "{call:?}");
            assert_eq!(call.agent_device.as_deref(), Some("browser"), "{call:?}");
            let closed = stats(b).await;
            assert_eq!(closed["state"], json!("closed"), "{closed}");
            rig.finish().await;
        }),
    )
    .await;
}

#[tokio::test]
async fn caller_hangs_up_on_a_browser_call() {
    within(
        150,
        Box::pin(async {
            let rig = rig().await;
            let (t, b) = (&rig.t, &rig.b);
            // Femke has no desk phone: the demo data gives her the browser.
            sign_in(b, "femke").await;
            b.until(
                10,
                "the device selector showing the browser",
                "return document.querySelector('[data-testid=device-select]').value === 'browser';",
                json!([]),
            )
            .await;

            let (cid, sipp) = rig.caller("browser_caller_hangup.xml");
            let call_id = ring_and_answer(&rig, &cid).await;
            audio_flows(b, &json!({}), "after answer").await;

            // The caller's BYE (about 8 s after the answer) ends the call in the desk.
            let run = sipp.await.expect("the sipp task");
            assert_eq!(run.code, Some(0), "{}", run.report);
            phone_status(b, 10, "ended").await;
            let closed = stats(b).await;
            assert_eq!(closed["state"], json!("closed"), "the pc is gone: {closed}");
            assert_eq!(
                b.exec(
                    "return document.querySelector('[data-testid=phone-controls]').hidden;",
                    json!([])
                )
                .await,
                json!(true),
                "the in-call buttons are gone"
            );
            let ended = t.ended_call(&cid).await;
            assert_eq!(ended.id, call_id);
            let call = browser_call(t, &call_id).await;
            let q = t.queue_row(&cid).await.expect("the calls row");
            eprintln!(
                "softphone: connected for {} ms before the caller's BYE",
                ended.ended_at.unwrap_or(0) - q.connected_at.unwrap_or(0)
            );
            assert_eq!(call.outcome.as_deref(), Some("answered"), "{call:?}");
            assert_eq!(call.hangup_by.as_deref(), Some("caller"), "{call:?}");
            assert_eq!(call.agent_device.as_deref(), Some("browser"), "{call:?}");
            rig.finish().await;
        }),
    )
    .await;
}
