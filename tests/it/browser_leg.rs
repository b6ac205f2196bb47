//! The browser agent leg end to end without a browser: a scripted SIP caller through the queue to
//! `femke` (device browser), whose "browser" is the in-process WebRTC client
//! (`firstline::webrtc::client`) speaking to the real call-control API. Tones cross both ways;
//! the browser vanishes and reconnects; hold, DTMF, quality samples and the agent's hang-up.
//! (The real-Chromium acceptance test is `softphone.rs`.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use firstline::media::dtmf::InbandDetector;
use firstline::webrtc::client::{Heard, SoftphoneClient};
use serde_json::json;
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use crate::agent_phone::{decode_g711, tone, tone_share};
use crate::helpers::{TestApp, caller, http_json, press, spawn_queue_app, wait_for, within};
use crate::rtp::RtpPeer;

const SECS: Duration = Duration::from_secs(1);

/// A running in-process browser: what it heard, and how to stop it.
pub(crate) struct Browser {
    heard: Arc<Mutex<Heard>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Browser {
    /// Offers to `/api/calls/{call}/webrtc` as `token` and runs the client with a `hz` tone.
    pub(crate) async fn connect(t: &TestApp, token: &str, call: &str, hz: f64) -> Browser {
        Browser::connect_with(t, token, call, hz, false).await
    }

    /// As `connect`; `crash`: stopping it leaves without a word (no DTLS close alert).
    async fn connect_with(t: &TestApp, token: &str, call: &str, hz: f64, crash: bool) -> Browser {
        let (mut client, offer) = SoftphoneClient::new([127, 0, 0, 1].into()).await.unwrap();
        if crash {
            client = client.vanish_on_stop();
        }
        let (status, answer) = http_json(
            t.app.http_addr(),
            "POST",
            &format!("/api/calls/{call}/webrtc"),
            Some(token),
            Some(json!({ "sdp": offer })),
        )
        .await;
        assert_eq!(status, 200, "offer refused: {answer}");
        let sdp = answer["sdp"].as_str().expect("answer sdp");
        assert!(sdp.contains("typ host"), "a host candidate: {sdp}");
        client.accept_answer(sdp).unwrap();
        let heard = Arc::new(Mutex::new(Heard::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(client.run(hz, heard.clone(), stop.clone()));
        Browser { heard, stop, task }
    }

    pub(crate) fn heard(&self) -> (u64, Vec<i16>) {
        let h = self.heard.lock().unwrap();
        (h.packets, h.pcm.clone())
    }

    /// Asserts that the browser got at least 50 packets and hears `want` Hz (not `other`) in
    /// its last 0.8 s.
    pub(crate) fn assert_heard(&self, want: f64, other: f64) {
        let (packets, pcm) = self.heard();
        assert!(packets >= 50, "the browser got only {packets} packets");
        let tail = &pcm[pcm.len().saturating_sub(6400)..];
        let (hit, miss) = (tone_share(tail, want), tone_share(tail, other));
        assert!(
            hit > 0.5 && miss < 0.1,
            "the browser hears {want} Hz: {hit:.3} / {other} Hz: {miss:.3}"
        );
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

/// The agent's call as `GET /api/agents/me/call` shows it.
pub(crate) async fn my_call(t: &TestApp, token: &str) -> Option<serde_json::Value> {
    let (status, v) = http_json(
        t.app.http_addr(),
        "GET",
        "/api/agents/me/call",
        Some(token),
        None,
    )
    .await;
    (status == 200).then_some(v)
}

/// The latest server quality sample of a call: (voiced to agent, voiced from agent) in ms.
async fn voiced(t: &TestApp, call: &str) -> (i64, i64) {
    let row = sqlx::query(
        "SELECT voiced_to_agent_ms, voiced_from_agent_ms FROM call_quality \
         WHERE call_id = $1 AND source = 'server' ORDER BY at DESC LIMIT 1",
    )
    .bind(call)
    .fetch_optional(t.app.store().pool())
    .await
    .unwrap();
    row.map_or((0, 0), |r| {
        (
            r.get::<Option<i64>, _>(0).unwrap_or(0),
            r.get::<Option<i64>, _>(1).unwrap_or(0),
        )
    })
}

/// Plays 1 kHz from the caller for `secs` and checks that the caller hears 440 Hz from the
/// browser and the browser hears 1 kHz.
async fn tones_cross(rtp: &mut RtpPeer, to: std::net::SocketAddr, browser: &Browser) {
    while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
    let got = rtp.play(to, &tone(1000.0, 2.0)).await;
    assert!(got.len() >= 50, "the caller got only {} packets", got.len());
    let caller_pcm = decode_g711(&got[got.len() - 40..]);
    let (hit, miss) = (
        tone_share(&caller_pcm, 440.0),
        tone_share(&caller_pcm, 1000.0),
    );
    assert!(
        hit > 0.5 && miss < 0.1,
        "caller hears the browser's 440 Hz: {hit:.3} / {miss:.3}"
    );
    browser.assert_heard(1000.0, 440.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_agent_talks_holds_reconnects_and_hangs_up() {
    within(90, async {
        let t = spawn_queue_app(|c| {
            c.webrtc.media_timeout_ms = 1000;
            c.webrtc.reconnect_grace_secs = 20;
        })
        .await;
        let token = t.login("femke").await;
        let (mut ua, mut rtp, answer) = caller(&t).await;
        press(&mut ua, '0').await;
        let ringing = wait_for(10 * SECS, || async { my_call(&t, &token).await })
            .await
            .expect("the call rings femke's desk");
        assert_eq!(ringing["state"], "ringing", "{ringing}");
        let call = ringing["call_id"].as_str().unwrap().to_owned();

        // Another agent cannot answer it.
        let bas = t.login("bas").await;
        let (status, _) = http_json(t.app.http_addr(), "POST", &format!("/api/calls/{call}/webrtc"), Some(&bas), Some(json!({"sdp": "v=0"}))).await;
        assert_eq!(status, 403);
        // Garbage SDP is a 400 and the call keeps ringing.
        let (status, body) = http_json(t.app.http_addr(), "POST", &format!("/api/calls/{call}/webrtc"), Some(&token), Some(json!({"sdp": "not sdp"}))).await;
        assert_eq!(status, 400, "{body}");

        let browser = Browser::connect(&t, &token, &call, 440.0).await;
        let connected = wait_for(5 * SECS, || async {
            my_call(&t, &token).await.filter(|c| c["state"] == "connected")
        })
        .await;
        assert!(connected.is_some(), "the call is connected");
        tones_cross(&mut rtp, answer.rtp, &browser).await;
        let (to_agent, from_agent) = wait_for(5 * SECS, || async {
            let v = voiced(&t, &call).await;
            (v.0 > 500 && v.1 > 500).then_some(v)
        })
        .await
        .expect("server samples count voiced audio both ways");
        assert!(to_agent > 500 && from_agent > 500);

        // Hold: the caller hears music, not the browser's tone; then back.
        let hold_path = format!("/api/calls/{call}/hold");
        let hold = |on: bool| http_json(t.app.http_addr(), "POST", &hold_path, Some(&token), Some(json!({"on": on})));
        assert_eq!(hold(true).await.0, 204);
        assert_eq!(my_call(&t, &token).await.unwrap()["state"], "held");
        while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
        let got = rtp.play(answer.rtp, &tone(1000.0, 1.0)).await;
        let pcm = decode_g711(&got[got.len().saturating_sub(25)..]);
        assert!(tone_share(&pcm, 440.0) < 0.1, "no agent audio while held");
        assert!(pcm.iter().any(|s| s.unsigned_abs() > 1000), "hold music plays");
        assert_eq!(hold(false).await.0, 204);
        tones_cross(&mut rtp, answer.rtp, &browser).await;

        // DTMF from the desk reaches the caller as tones.
        let (status, _) = http_json(t.app.http_addr(), "POST", &format!("/api/calls/{call}/dtmf"), Some(&token), Some(json!({"digits": "59"}))).await;
        assert_eq!(status, 204);
        while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
        let got = rtp.play(answer.rtp, &vec![0; 8 * 500]).await;
        let mut det = InbandDetector::new();
        let digits: String = decode_g711(&got).chunks(160).flat_map(|c| det.push(c)).collect();
        assert_eq!(digits, "59", "the caller hears the digits");
        let (status, _) = http_json(t.app.http_addr(), "POST", &format!("/api/calls/{call}/dtmf"), Some(&token), Some(json!({"digits": "5x"}))).await;
        assert_eq!(status, 400);

        // Mute: the caller's stream goes on, silent; unmute brings the tone back.
        let mute_path = format!("/api/calls/{call}/mute");
        let mute = |on: bool| http_json(t.app.http_addr(), "POST", &mute_path, Some(&token), Some(json!({"on": on})));
        assert_eq!(mute(true).await.0, 204);
        while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
        let got = rtp.play(answer.rtp, &tone(1000.0, 1.0)).await;
        assert!(got.len() >= 40, "the muted call keeps sending RTP: {}", got.len());
        let pcm = decode_g711(&got[got.len() - 25..]);
        assert!(pcm.iter().all(|s| s.unsigned_abs() < 100), "muted means silence");
        assert_eq!(mute(false).await.0, 204);
        tones_cross(&mut rtp, answer.rtp, &browser).await;

        // Hold pressed while DTMF tones still play: the caller gets hold music, not silence.
        let (status, _) = http_json(t.app.http_addr(), "POST", &format!("/api/calls/{call}/dtmf"), Some(&token), Some(json!({"digits": "123456789"}))).await;
        assert_eq!(status, 204);
        assert_eq!(hold(true).await.0, 204);
        let (status, _) = http_json(t.app.http_addr(), "POST", &format!("/api/calls/{call}/dtmf"), Some(&token), Some(json!({"digits": "1"}))).await;
        assert_eq!(status, 409, "no DTMF to a caller on hold");
        while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
        let got = rtp.play(answer.rtp, &tone(1000.0, 2.0)).await;
        let pcm = decode_g711(&got[got.len().saturating_sub(50)..]);
        let mut det = InbandDetector::new();
        let heard: String = pcm.chunks(160).flat_map(|c| det.push(c)).collect();
        assert!(heard.is_empty(), "the tones stopped at hold: {heard}");
        assert!(pcm.iter().any(|s| s.unsigned_abs() > 1000), "hold music plays");
        assert_eq!(hold(false).await.0, 204);
        tones_cross(&mut rtp, answer.rtp, &browser).await;

        // The browser vanishes (a reload): the caller is held, then the desk reconnects.
        browser.stop().await;
        let gone = wait_for(5 * SECS, || async {
            my_call(&t, &token).await.filter(|c| c["state"] == "browser_gone")
        })
        .await;
        assert!(gone.is_some(), "the call waits for the browser");
        let browser = Browser::connect(&t, &token, &call, 440.0).await;
        tones_cross(&mut rtp, answer.rtp, &browser).await;

        // The browser's own getStats summary is stored too.
        let (status, _) = http_json(t.app.http_addr(), "POST", &format!("/api/calls/{call}/quality"), Some(&token),
            Some(json!({"packets_received": 990, "packets_lost": 10, "jitter_ms": 4.5, "rtt_ms": 1.2, "audio_level": 0.3}))).await;
        assert_eq!(status, 204);
        let (status, _) = http_json(t.app.http_addr(), "POST", &format!("/api/calls/{call}/quality"), Some(&token),
            Some(json!({"jitter_ms": -1.0}))).await;
        assert_eq!(status, 400);

        // The agent hangs up: the caller gets BYE; the record says who and how.
        let (status, _) = http_json(t.app.http_addr(), "POST", &format!("/api/calls/{call}/hangup"), Some(&token), None).await;
        assert_eq!(status, 204);
        let bye = ua.request("BYE", 5 * SECS).await.expect("the caller gets BYE");
        ua.reply(&bye, 200, "OK").await;
        browser.stop().await;
        t.ended_call(&ua.call_id).await;
        let row = sqlx::query(
            "SELECT outcome, hangup_by, agent_device, browser_reconnects, loss_pct, jitter_ms, rtt_ms \
             FROM calls WHERE id = $1",
        )
        .bind(&call)
        .fetch_one(t.app.store().pool())
        .await
        .unwrap();
        assert_eq!(row.get::<Option<String>, _>(0).as_deref(), Some("answered"));
        assert_eq!(row.get::<Option<String>, _>(1).as_deref(), Some("agent"));
        assert_eq!(row.get::<Option<String>, _>(2).as_deref(), Some("browser"));
        assert_eq!(row.get::<i64, _>(3), 1, "one reconnect");
        let loss = row.get::<Option<f64>, _>(4).expect("loss recorded");
        assert!((0.9..=1.1).contains(&loss), "worst loss is the browser's 1 %: {loss}");
        assert!(row.get::<Option<f64>, _>(5).is_some_and(|j| j >= 4.5));
        assert!(row.get::<Option<f64>, _>(6).is_some());
        assert!(my_call(&t, &token).await.is_none(), "no call any more");
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_never_comes_back_ends_the_call() {
    within(60, async {
        let t = spawn_queue_app(|c| {
            c.webrtc.media_timeout_ms = 1000;
            c.webrtc.reconnect_grace_secs = 2;
        })
        .await;
        let token = t.login("femke").await;
        let (mut ua, _rtp, _answer) = caller(&t).await;
        press(&mut ua, '0').await;
        let call = wait_for(10 * SECS, || async { my_call(&t, &token).await })
            .await
            .expect("rings")["call_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let browser = Browser::connect_with(&t, &token, &call, 440.0, true).await;
        wait_for(5 * SECS, || async {
            my_call(&t, &token)
                .await
                .filter(|c| c["state"] == "connected")
        })
        .await
        .expect("connected");
        // The tab crashes: no close alert, the media just stops. After media_timeout_ms the
        // call waits (hold music), after the grace period it ends.
        browser.stop().await;
        let gone = wait_for(5 * SECS, || async {
            my_call(&t, &token)
                .await
                .filter(|c| c["state"] == "browser_gone")
        })
        .await
        .expect("silence from the browser is noticed");
        assert_eq!(gone["held"], false, "not held by the agent");
        let bye = ua
            .request("BYE", 10 * SECS)
            .await
            .expect("BYE after the grace period");
        ua.reply(&bye, 200, "OK").await;
        let row = t.ended_call(&ua.call_id).await;
        let _ = row;
        let r = sqlx::query("SELECT outcome, end_reason FROM calls WHERE id = $1")
            .bind(&call)
            .fetch_one(t.app.store().pool())
            .await
            .unwrap();
        assert_eq!(r.get::<Option<String>, _>(0).as_deref(), Some("answered"));
        assert_eq!(
            r.get::<Option<String>, _>(1).as_deref(),
            Some("agent's browser did not come back")
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_to_the_browser_takes_effect_at_the_next_offer() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let mut phone = crate::helpers::registered_phone(&t, "2001").await;
        let token = t.login("anna").await;
        // First call: anna's phone rings (her device is the phone); she declines it.
        let (mut ua, _rtp, _) = caller(&t).await;
        press(&mut ua, '0').await;
        phone
            .invite(10 * SECS)
            .await
            .expect("the phone rings first");
        phone.ring().await;
        assert_eq!(ua.bye().await, Some(200), "the caller gives up");
        assert!(
            phone.expect_cancel(5 * SECS).await,
            "the ringing phone is cancelled"
        );
        // She switches to the browser in the desk; the next call rings the desk, not the phone.
        let (status, body) = http_json(
            t.app.http_addr(),
            "PUT",
            "/api/agents/me/device",
            Some(&token),
            Some(json!({"device": "browser"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        t.set_state(&token, json!({"state": "available"})).await;
        let (mut ua, _rtp, _) = caller(&t).await;
        press(&mut ua, '0').await;
        let ringing = wait_for(10 * SECS, || async { my_call(&t, &token).await }).await;
        assert_eq!(
            ringing.expect("the desk rings")["state"],
            "ringing",
            "the browser is rung at once, not after the device cache expires"
        );
        assert!(
            phone.invite(SECS).await.is_none(),
            "the phone does not ring any more"
        );
        assert_eq!(ua.bye().await, Some(200));
        t.finish().await;
    })
    .await;
}

/// The supervisor feed as sanne sees it: femke's agent object, merged from the snapshot and
/// every update (agents are merged by `id`, key by key).
struct Feed {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    femke: serde_json::Map<String, serde_json::Value>,
}

impl Feed {
    async fn open(t: &TestApp) -> Feed {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
        let token = t.login("sanne").await;
        let mut req = format!("ws://{}/api/supervisor/ws", t.app.http_addr())
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let hello = json!({"v": 1, "type": "hello", "last_seq": null, "epoch": null});
        ws.send(Message::text(hello.to_string())).await.unwrap();
        Feed {
            ws,
            femke: serde_json::Map::new(),
        }
    }

    /// Reads frames until femke's merged object satisfies `done` (within `limit`).
    async fn until(
        &mut self,
        limit: Duration,
        done: impl Fn(&serde_json::Map<String, serde_json::Value>) -> bool,
    ) -> serde_json::Value {
        use futures_util::StreamExt;
        let end = tokio::time::Instant::now() + limit;
        while !done(&self.femke) {
            let frame = tokio::time::timeout_at(end, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("feed never showed it; femke is {:?}", self.femke))
                .expect("feed open")
                .unwrap();
            let Ok(text) = frame.into_text() else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            for a in v["agents"].as_array().into_iter().flatten() {
                if a["id"] == "agent-demo-femke"
                    && let Some(o) = a.as_object()
                {
                    for (k, val) in o {
                        self.femke.insert(k.clone(), val.clone());
                    }
                }
            }
        }
        serde_json::Value::Object(self.femke.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_sees_the_device_hold_and_quality_of_a_browser_call() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let mut feed = Feed::open(&t).await;
        let token = t.login("femke").await;
        let femke = feed
            .until(5 * SECS, |a| a.get("state").is_some_and(|s| s == "available"))
            .await;
        assert_eq!(femke["device"], "browser", "{femke}");
        let (mut ua, _rtp, _) = caller(&t).await;
        press(&mut ua, '0').await;
        let call = wait_for(10 * SECS, || async { my_call(&t, &token).await })
            .await
            .expect("rings")["call_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let browser = Browser::connect(&t, &token, &call, 440.0).await;
        // Quality samples every second (Config::for_tests): the server's from RTCP and the ICE
        // round trip, and the desk's getStats summary.
        let (status, _) = http_json(
            t.app.http_addr(),
            "POST",
            &format!("/api/calls/{call}/quality"),
            Some(&token),
            Some(json!({"packets_received": 500, "packets_lost": 0, "jitter_ms": 2.0, "rtt_ms": 1.0})),
        )
        .await;
        assert_eq!(status, 204);
        let femke = feed
            .until(10 * SECS, |a| {
                a.get("quality").is_some_and(|q| {
                    q["server"]["rtt_ms"].is_number() && q["browser"]["jitter_ms"] == 2.0
                })
            })
            .await;
        assert_eq!(femke["state"], "on_call", "{femke}");
        let (status, _) = http_json(
            t.app.http_addr(),
            "POST",
            &format!("/api/calls/{call}/hold"),
            Some(&token),
            Some(json!({"on": true})),
        )
        .await;
        assert_eq!(status, 204);
        let femke = feed
            .until(5 * SECS, |a| a.get("held").is_some_and(|h| h == "agent"))
            .await;
        assert_eq!(femke["held"], "agent");
        assert_eq!(ua.bye().await, Some(200));
        feed.until(10 * SECS, |a| a.get("held").is_some_and(|h| h.is_null()) && a.get("quality").is_some_and(|q| q["server"].is_null()))
            .await;
        browser.stop().await;
        t.finish().await;
    })
    .await;
}
