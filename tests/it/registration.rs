//! A phone whose registration lapses (issue 10 acceptance): two agents signed in, Chantal's
//! phone registered, Anna's registered for 2 s and never refreshed. Anna's desk sees `device`
//! `registered: true`, then — within a second or so of the expiry — `registered: false`
//! (`reachable: false`), and so does the supervisor feed; the next caller is offered to
//! Chantal, not to Anna's dead phone; with Chantal busy, the caller after waits; when Anna's
//! phone registers again she gets that caller at once. Anna stays `available` throughout (no
//! "not ready (unreachable)"), and her desk never hears of a missed offer.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::agent_phone::{AgentPhone, PCMU};
use crate::helpers::{TestApp, http_json, spawn_queue_app, wait_for, within};
use crate::scenario::unclassified_caller;

const ANNA: &str = "agent-demo-anna";
const CHANTAL: &str = "agent-demo-chantal";
const SECS: Duration = Duration::from_secs(1);
/// Anna's registration lifetime.
const SHORT: u64 = 2;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket to `path` with a Bearer token, after `hello`.
async fn open(t: &TestApp, path: &str, token: &str) -> Socket {
    let mut req = format!("ws://{}{path}", t.app.http_addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let hello = json!({"v": 1, "type": "hello", "last_seq": null, "epoch": null});
    ws.send(Message::text(hello.to_string())).await.unwrap();
    ws
}

/// The next JSON frame within `limit`; `what` names it when it does not come.
async fn frame(ws: &mut Socket, limit: Duration, what: &str) -> Value {
    loop {
        let msg = tokio::time::timeout(limit, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no frame within {limit:?} while waiting for {what}"))
            .expect("the socket stays open")
            .unwrap();
        if let Ok(text) = msg.into_text() {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Anna's desk: every frame it got, in order.
pub(crate) struct Desk {
    ws: Socket,
    seen: Vec<Value>,
}

impl Desk {
    /// Opens the desk; returns it and the snapshot.
    pub(crate) async fn open(t: &TestApp, token: &str) -> (Desk, Value) {
        let mut ws = open(t, "/api/ws", token).await;
        let welcome = frame(&mut ws, 5 * SECS, "welcome").await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        assert!(welcome["server_time"].is_i64(), "{welcome}");
        let snap = frame(&mut ws, 5 * SECS, "snapshot").await;
        assert_eq!(snap["type"], "snapshot", "{snap}");
        (
            Desk {
                ws,
                seen: Vec::new(),
            },
            snap,
        )
    }

    /// Reads frames until one satisfies `done` (within `limit`); returns it.
    pub(crate) async fn until(
        &mut self,
        limit: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let end = tokio::time::Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            let f = frame(&mut self.ws, left, what).await;
            self.seen.push(f.clone());
            if done(&f) {
                return f;
            }
        }
    }
}

fn device(registered: bool) -> impl Fn(&Value) -> bool {
    move |f| f["type"] == "device" && f["registered"] == registered
}

/// The supervisor feed as sanne sees it, with Anna's agent object merged from every frame.
struct Feed {
    ws: Socket,
    anna: Map<String, Value>,
}

impl Feed {
    async fn open(t: &TestApp) -> Feed {
        let token = t.login("sanne").await;
        Feed {
            ws: open(t, "/api/supervisor/ws", &token).await,
            anna: Map::new(),
        }
    }

    async fn until(
        &mut self,
        limit: Duration,
        what: &str,
        done: impl Fn(&Map<String, Value>) -> bool,
    ) {
        let end = tokio::time::Instant::now() + limit;
        while !done(&self.anna) {
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            let f = frame(&mut self.ws, left, what).await;
            for a in f["agents"].as_array().into_iter().flatten() {
                if a["id"] == ANNA
                    && let Some(o) = a.as_object()
                {
                    self.anna.extend(o.clone());
                }
            }
        }
    }
}

/// Registers with `Expires: expires`. The test shortened the registrar's minimum just before;
/// until the SIP task has taken that, a short registration gets 423, so it is tried again
/// (up to 5 s).
pub(crate) async fn register_for(phone: &mut AgentPhone, password: &str, expires: u32) {
    let end = tokio::time::Instant::now() + 5 * SECS;
    loop {
        let statuses = phone.register_with(password, 1, expires).await;
        if statuses.last() == Some(&200) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "REGISTER {} for {expires} s: {statuses:?}",
            phone.ext
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn state_of(t: &TestApp, token: &str) -> String {
    let (_, me) = http_json(t.app.http_addr(), "GET", "/api/me", Some(token), None).await;
    me["state"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_registration_is_shown_and_skipped_until_the_phone_registers_again() {
    within(
        90,
        Box::pin(async {
            let t = spawn_queue_app(|c| c.acd.ring_timeout_secs = 10).await;
            t.app.sip().set_register_expires(1, 3600);
            let mut chantal = AgentPhone::new(t.udp(), "2003", "2003-sip").await;
            register_for(&mut chantal, "2003-sip", 600).await;
            let mut anna = AgentPhone::new(t.udp(), "2001", "2001-sip").await;
            let anna_token = t.login("anna").await;
            t.login("chantal").await;
            let (mut desk, snap) = Desk::open(&t, &anna_token).await;
            assert_eq!(
                snap["device"],
                json!({"device": "phone", "registered": false, "transport": null,
                       "contact": null, "expires_at": null, "reachable": false}),
                "{snap}"
            );
            let mut feed = Feed::open(&t).await;

            // Anna's phone registers for 2 s.
            register_for(&mut anna, "2001-sip", SHORT as u32).await;
            let registered_at = Instant::now();
            let up = desk
                .until(5 * SECS, "device registered", device(true))
                .await;
            assert_eq!(
                (&up["transport"], &up["reachable"]),
                (&json!("udp"), &json!(true)),
                "{up}"
            );
            assert!(
                up["contact"].as_str().unwrap().starts_with("sip:2001@"),
                "{up}"
            );
            feed.until(5 * SECS, "anna registered in the feed", |a| {
                a.get("registered") == Some(&json!(true))
                    && a.get("reachable") == Some(&json!(true))
            })
            .await;
            assert_eq!(feed.anna["transport"], "udp");

            // It is never refreshed: the desk hears of the lapse within ~1 s of the expiry.
            let down = desk
                .until(8 * SECS, "device unregistered", device(false))
                .await;
            let lapsed = registered_at.elapsed();
            assert!(
                lapsed >= Duration::from_millis(1500)
                    && lapsed <= Duration::from_millis(SHORT * 1000 + 1500),
                "reported {lapsed:?} after a {SHORT} s registration"
            );
            assert_eq!(
                (&down["reachable"], &down["transport"]),
                (&json!(false), &Value::Null)
            );
            feed.until(5 * SECS, "anna unregistered in the feed", |a| {
                a.get("registered") == Some(&json!(false))
                    && a.get("reachable") == Some(&json!(false))
            })
            .await;
            assert_eq!(
                state_of(&t, &anna_token).await,
                "available",
                "her choice is kept"
            );

            // The next caller is offered to Chantal, never to Anna's dead phone.
            let (mut first, _rtp1, _) = unclassified_caller(&t).await;
            let inv = chantal
                .invite(15 * SECS)
                .await
                .expect("chantal's phone rings");
            chantal.ring().await;
            assert!(chantal.answer(PCMU).await);
            let row = wait_for(5 * SECS, || async {
                t.queue_row(&first.call_id)
                    .await
                    .filter(|r| r.connected_at.is_some())
            })
            .await
            .expect("the first caller is connected");
            assert_eq!(inv.call.as_deref(), Some(row.id.as_str()));
            assert_eq!(
                t.offers_of(&row.id).await,
                [(CHANTAL.to_string(), Some("answered".to_string()))],
                "no offer to anna"
            );

            // Chantal is busy: the next caller waits; Anna's phone registers again and rings.
            let (mut second, _rtp2, _) = unclassified_caller(&t).await;
            let waiting = t.queued(&second.call_id).await;
            assert!(
                t.offers_of(&waiting.id).await.is_empty(),
                "nobody to offer to yet"
            );
            register_for(&mut anna, "2001-sip", 600).await;
            desk.until(5 * SECS, "device registered again", device(true))
                .await;
            let inv = anna
                .invite(10 * SECS)
                .await
                .expect("anna's phone rings at once");
            assert_eq!(inv.call.as_deref(), Some(waiting.id.as_str()));
            anna.ring().await;
            assert!(anna.answer(PCMU).await);
            wait_for(5 * SECS, || async {
                t.queue_row(&second.call_id)
                    .await
                    .filter(|r| r.connected_at.is_some())
            })
            .await
            .expect("the second caller is connected to anna");
            assert_eq!(
                t.offers_of(&waiting.id).await,
                [(ANNA.to_string(), Some("answered".to_string()))]
            );
            let pop = desk
                .until(5 * SECS, "the pop", |f| {
                    f["type"] == "pop" && f["phase"] == "connected"
                })
                .await;
            assert_eq!(pop["call_id"], waiting.id.as_str());
            assert!(
                pop["connected_at"].is_i64() && pop["queued_at"].is_i64(),
                "{pop}"
            );
            // Anna never went not ready, and no missed offer was reported to her.
            assert!(
                !desk.seen.iter().any(|f| f["type"] == "offer_missed"
                    || (f["type"] == "agent_state" && f["state"] == "not_ready")),
                "{:?}",
                desk.seen
            );

            assert_eq!(first.bye().await, Some(200));
            assert!(chantal.expect_bye(5 * SECS).await);
            assert_eq!(second.bye().await, Some(200));
            assert!(anna.expect_bye(5 * SECS).await);
            t.finish().await;
        }),
    )
    .await;
}
