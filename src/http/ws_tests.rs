//! Tests of `/api/ws`: a real server on 127.0.0.1 port 0 (desk hub, event bus, queue engine,
//! fresh database with the demo data) and a tokio-tungstenite client; calls are driven by
//! publishing the events the call tasks publish.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use super::super::test_support::{TestServer, Ws, next, send};
use crate::config::DeskSection;
use crate::desk::hub::DeskHub;
use crate::desk::intakes::IntakeOps;
use crate::domain::{AgentId, CallId, Category, CustomerId, Priority};
use crate::events::{EventBus, EventKind};
use crate::store::{CallTransport, NewCall, now_ms};

const ANNA: &str = "agent-demo-anna";
const BAS: &str = "agent-demo-bas";

/// The desk routes and hub on a test server.
struct Desk(TestServer);

impl std::ops::Deref for Desk {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.0
    }
}

impl Desk {
    async fn start() -> Desk {
        let server = TestServer::start(|p| {
            let ops = IntakeOps::new(p.store.clone(), DeskSection::default());
            let hub = DeskHub::start(
                &p.events,
                ops,
                p.acd.clone(),
                p.store.clone(),
                false,
                &p.tasks,
                p.stop.clone(),
            );
            super::router(p.api(), hub)
        })
        .await;
        Desk(server)
    }

    async fn stop(self) {
        self.0.stop().await;
    }

    /// Opens `/api/ws` with extra headers; `Err(status)` when the upgrade is refused.
    async fn open(&self, headers: &[(&str, String)]) -> Result<Ws, u16> {
        self.open_ws("/api/ws", headers).await
    }

    /// Connects as `agent` with a Bearer token and says hello; returns the socket and welcome.
    async fn hello(&self, token: &str, hello: Value) -> (Ws, Value) {
        let mut ws = self
            .open(&[("authorization", format!("Bearer {token}"))])
            .await
            .unwrap();
        send(&mut ws, hello).await;
        let welcome = next(&mut ws).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        assert_eq!(welcome["v"], 1);
        (ws, welcome)
    }

    /// A queued call from `caller` (customer `customer`), as the call task leaves it.
    async fn call(&self, caller: &str, customer: Option<&str>) -> CallId {
        let id = CallId::new_random();
        let now = now_ms();
        self.store
            .insert_call(&NewCall {
                id: id.clone(),
                sip_call_id: format!("sip-{id}"),
                caller: caller.to_owned(),
                caller_name: None,
                customer_id: customer.map(CustomerId::from_string),
                transport: CallTransport::Udp,
                arrived_at: now - 30_000,
            })
            .await
            .unwrap();
        self.store
            .set_call_queued(&id, now - 12_000, Category::Hardware, Priority::new(2))
            .await
            .unwrap();
        id
    }
}

/// Proves nothing else is queued for `ws`: a ping's pong is the very next frame.
async fn nothing_pending(ws: &mut Ws) {
    send(ws, json!({"v":1,"type":"ping","ref":"probe"})).await;
    let f = next(ws).await;
    assert_eq!(f["type"], "pong", "unexpected frame {f}");
    assert_eq!(f["ref"], "probe");
}

fn agent_state(events: &EventBus, agent: &str, to: &str, reason: &str) {
    events.publish(EventKind::AgentState {
        agent_id: AgentId::from_string(agent),
        from: "available".into(),
        to: to.into(),
        reason: Some(reason.into()),
    });
}

#[tokio::test]
async fn unauthenticated_wrong_origin_and_wrong_role_are_refused() {
    let desk = Desk::start().await;
    assert_eq!(desk.open(&[]).await.err(), Some(401));
    let bogus = format!("Bearer {}", "ab".repeat(32));
    assert_eq!(
        desk.open(&[("authorization", bogus)]).await.err(),
        Some(401)
    );
    let token = desk.token(ANNA, "agent").await;
    let cookie = format!("firstline_session={token}");
    let evil = [
        ("cookie", cookie.clone()),
        ("origin", "http://evil.example".to_owned()),
    ];
    assert_eq!(desk.open(&evil).await.err(), Some(403));
    let guest = desk.token(BAS, "guest").await;
    assert_eq!(
        desk.open(&[("authorization", format!("Bearer {guest}"))])
            .await
            .err(),
        Some(403)
    );
    // Same origin with the cookie is accepted.
    let same = [
        ("cookie", cookie),
        ("origin", format!("http://{}", desk.addr)),
    ];
    let mut ws = desk.open(&same).await.expect("same-origin cookie accepted");
    send(&mut ws, json!({"v":1,"type":"hello"})).await;
    assert_eq!(next(&mut ws).await["type"], "welcome");
    desk.stop().await;
}

#[tokio::test]
async fn malformed_frames_get_an_error_frame_and_the_connection_survives() {
    let desk = Desk::start().await;
    let token = desk.token(ANNA, "agent").await;
    let mut ws = desk
        .open(&[("authorization", format!("Bearer {token}"))])
        .await
        .unwrap();
    // Before hello: anything else is refused, the socket stays.
    send(&mut ws, json!({"v":1,"type":"ping","ref":"early"})).await;
    let f = next(&mut ws).await;
    assert_eq!(
        (f["type"].as_str(), f["code"].as_str(), f["ref"].as_str()),
        (Some("error"), Some("invalid"), Some("early"))
    );
    send(&mut ws, json!({"v":1,"type":"hello"})).await;
    let welcome = next(&mut ws).await;
    assert_eq!(welcome["resumed"], false);
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["agent"]["id"], ANNA);
    assert_eq!(snap["agent"]["name"], "Anna Koster");
    assert_eq!(snap["call"], Value::Null);

    let cases: Vec<(Message, &str)> = vec![
        (Message::text("{\"type\": \"ping\""), "bad_frame"),
        (Message::text("[]"), "bad_frame"),
        (
            Message::text(r#"{"v":1,"type":"teleport","ref":"t"}"#),
            "unknown_type",
        ),
        (
            Message::text(r#"{"v":1,"type":"set_state","state":42}"#),
            "invalid",
        ),
        (
            Message::text(
                r#"{"v":1,"type":"intake_update","intake_id":"x","fields":{"priority":"high"}}"#,
            ),
            "invalid",
        ),
        (
            Message::text(format!(
                r#"{{"v":1,"type":"ping","pad":"{}"}}"#,
                "x".repeat(70 * 1024)
            )),
            "bad_frame",
        ),
        (Message::binary(vec![1u8, 2, 3]), "bad_frame"),
        (Message::text(r#"{"v":1,"type":"hello"}"#), "invalid"),
    ];
    for (msg, code) in cases {
        let shown = format!("{msg:?}").chars().take(80).collect::<String>();
        ws.send(msg).await.unwrap();
        let f = next(&mut ws).await;
        assert_eq!(f["type"], "error", "{shown}: {f}");
        assert_eq!(f["code"], code, "{shown}: {f}");
        assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Still alive, and the unknown type's ref was echoed above.
    nothing_pending(&mut ws).await;
    desk.stop().await;
}

#[tokio::test]
async fn resume_after_disconnect_replays_exactly_the_missed_frames() {
    let desk = Desk::start().await;
    let token = desk.token(ANNA, "agent").await;
    let (mut ws, welcome) = desk.hello(&token, json!({"v":1,"type":"hello"})).await;
    let epoch = welcome["epoch"].as_str().unwrap().to_owned();
    let start = welcome["seq"].as_u64().unwrap();
    assert_eq!(next(&mut ws).await["type"], "snapshot");

    agent_state(&desk.events, ANNA, "not_ready", "r1");
    let f = next(&mut ws).await;
    assert_eq!(f["type"], "agent_state");
    assert_eq!(f["reason"], "r1");
    assert_eq!(f["seq"].as_u64(), Some(start + 1));
    let last_seen = start + 1;
    ws.close(None).await.unwrap();
    drop(ws);

    // While disconnected: five changes.
    for i in 2..=6 {
        agent_state(&desk.events, ANNA, "not_ready", &format!("r{i}"));
    }
    // Another agent's changes are not Anna's frames.
    agent_state(&desk.events, BAS, "not_ready", "bas");
    // Let the hub take them in before reconnecting (it reads the bus in order).
    tokio::time::sleep(Duration::from_millis(100)).await;

    let (mut ws, welcome) = desk
        .hello(
            &token,
            json!({"v":1,"type":"hello","last_seq":last_seen,"epoch":epoch}),
        )
        .await;
    assert_eq!(welcome["resumed"], true, "{welcome}");
    assert_eq!(welcome["seq"].as_u64(), Some(start + 6));
    for i in 2..=6u64 {
        let f = next(&mut ws).await;
        assert_eq!(f["type"], "agent_state", "{f}");
        assert_eq!(f["seq"].as_u64(), Some(start + i));
        assert_eq!(f["reason"], format!("r{i}"));
    }
    nothing_pending(&mut ws).await;
    // Live frames continue the numbering.
    agent_state(&desk.events, ANNA, "available", "r7");
    assert_eq!(next(&mut ws).await["seq"].as_u64(), Some(start + 7));

    // A stale epoch (server restarted) gets a fresh snapshot with the current state.
    let (mut ws2, welcome) = desk
        .hello(
            &token,
            json!({"v":1,"type":"hello","last_seq":3,"epoch":"0000000000000000"}),
        )
        .await;
    assert_eq!(welcome["resumed"], false);
    let snap = next(&mut ws2).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["agent"]["state"], "available");
    desk.stop().await;
}

#[tokio::test]
async fn the_pop_reaches_only_the_offered_agent_with_customer_and_ivr_choices() {
    let desk = Desk::start().await;
    let anna = desk.token(ANNA, "agent").await;
    let bas = desk.token(BAS, "agent").await;
    let (mut a, _) = desk.hello(&anna, json!({"v":1,"type":"hello"})).await;
    assert_eq!(next(&mut a).await["type"], "snapshot");
    let (mut b, _) = desk.hello(&bas, json!({"v":1,"type":"hello"})).await;
    assert_eq!(next(&mut b).await["type"], "snapshot");

    // Anouk de Vries (demo customer 01) calls; the IVR chose hardware, priority 2.
    let call = desk.call("+31201234567", Some("cust-demo-01")).await;
    let offered = std::time::Instant::now();
    desk.events.publish(EventKind::CallOffered {
        call_id: call.clone(),
        agent_id: AgentId::from_string(ANNA),
    });
    let pop = next(&mut a).await;
    let latency = offered.elapsed();
    assert_eq!(pop["type"], "pop", "{pop}");
    assert_eq!(pop["phase"], "ringing");
    assert_eq!(pop["call_id"], call.as_str());
    assert_eq!(pop["caller"], "+31201234567");
    assert_eq!(pop["customer"]["name"], "Anouk de Vries");
    assert_eq!(pop["customer"]["organisation"], "Gemeente Zaanwijk");
    assert_eq!(pop["customer"]["department"], "Burgerzaken");
    assert_eq!(pop["customer"]["location"], "Stadhuis, kamer 2.14");
    assert_eq!(pop["category"], "hardware");
    assert_eq!(pop["priority"], 2);
    let waited = pop["waited_ms"].as_i64().unwrap();
    assert!((12_000..20_000).contains(&waited), "{waited}");
    assert_eq!(pop["voice_message"], Value::Null);
    eprintln!("pop latency (event → frame): {latency:?}");
    assert!(latency < Duration::from_secs(2), "{latency:?}");

    // Bas sees nothing of it.
    nothing_pending(&mut b).await;

    desk.events.publish(EventKind::CallConnected {
        call_id: call.clone(),
        agent_id: AgentId::from_string(ANNA),
        waited_ms: 12_000,
    });
    let pop = next(&mut a).await;
    assert_eq!(
        (pop["type"].as_str(), pop["phase"].as_str()),
        (Some("pop"), Some("connected"))
    );

    // A reload while connected restores the pop from the snapshot.
    let (mut again, _) = desk.hello(&anna, json!({"v":1,"type":"hello"})).await;
    let snap = next(&mut again).await;
    assert_eq!(snap["call"]["call_id"], call.as_str());
    assert_eq!(snap["call"]["phase"], "connected");
    assert_eq!(snap["call"]["customer"]["name"], "Anouk de Vries");

    desk.events.publish(EventKind::CallEnded {
        call_id: call.clone(),
        outcome: "answered".into(),
    });
    let ended = next(&mut a).await;
    assert_eq!(ended["type"], "call_ended");
    assert_eq!(ended["call_id"], call.as_str());
    nothing_pending(&mut b).await;
    desk.stop().await;
}

#[tokio::test]
async fn a_withdrawn_offer_clears_the_pop_and_supervisors_get_no_pops() {
    let desk = Desk::start().await;
    let anna = desk.token(ANNA, "agent").await;
    let sup = desk.token(BAS, "supervisor").await;
    let (mut a, _) = desk.hello(&anna, json!({"v":1,"type":"hello"})).await;
    next(&mut a).await;
    let (mut s, _) = desk.hello(&sup, json!({"v":1,"type":"hello"})).await;
    next(&mut s).await;

    // An unknown number shared by nobody: no customer, no candidates.
    let call = desk.call("+31999999999", None).await;
    desk.events.publish(EventKind::CallOffered {
        call_id: call.clone(),
        agent_id: AgentId::from_string(ANNA),
    });
    let pop = next(&mut a).await;
    assert_eq!(pop["customer"], Value::Null);
    assert_eq!(pop["candidates"], json!([]));
    desk.events.publish(EventKind::OfferEnded {
        call_id: call.clone(),
        agent_id: AgentId::from_string(ANNA),
        result: "no_answer".into(),
    });
    let gone = next(&mut a).await;
    assert_eq!(gone["type"], "offer_withdrawn");
    assert_eq!(gone["call_id"], call.as_str());
    // A supervisor's connection saw neither frame.
    nothing_pending(&mut s).await;
    // A reload shows no call.
    let (mut again, _) = desk.hello(&anna, json!({"v":1,"type":"hello"})).await;
    assert_eq!(next(&mut again).await["call"], Value::Null);
    desk.stop().await;
}

#[tokio::test]
async fn edits_reach_every_tab_and_survive_a_reload() {
    let desk = Desk::start().await;
    let anna = desk.token(ANNA, "agent").await;
    let call = desk.call("+31201234567", Some("cust-demo-01")).await;
    let draft = desk
        .store
        .insert_intake(&crate::store::NewIntake {
            call_id: Some(call.clone()),
            customer_id: Some(CustomerId::from_string("cust-demo-01")),
            caller: Some("+31201234567".into()),
            category: Category::Hardware,
            priority: Priority::new(2),
            language: Some(crate::domain::Language::Nl),
            ivr_path: "lang=1,cat=1,prio=2".into(),
            dtmf_mode: vec![crate::domain::DtmfMode::Rfc4733],
            description: None,
            created_at: now_ms(),
        })
        .await
        .unwrap();
    let (mut tab1, _) = desk.hello(&anna, json!({"v":1,"type":"hello"})).await;
    next(&mut tab1).await;
    let (mut tab2, _) = desk.hello(&anna, json!({"v":1,"type":"hello"})).await;
    next(&mut tab2).await;
    desk.events.publish(EventKind::CallOffered {
        call_id: call.clone(),
        agent_id: AgentId::from_string(ANNA),
    });
    let pop = next(&mut tab1).await;
    assert_eq!(pop["intake"]["id"], draft.as_str(), "{pop}");
    assert_eq!(pop["ivr_path"], "lang=1,cat=1,prio=2");
    assert_eq!(pop["language"], "nl");
    assert_eq!(pop["dtmf_mode"], "rfc4733");
    assert_eq!(next(&mut tab2).await["type"], "pop");

    send(
        &mut tab1,
        json!({"v":1,"type":"intake_update","ref":"u1","intake_id":draft.as_str(),
               "fields":{"description":"Printer op kamer 2.14 geeft papierstoring"}}),
    )
    .await;
    // The ack (direct) and the intake frame (through the hub) may come in either order.
    let (x, y) = (next(&mut tab1).await, next(&mut tab1).await);
    let (ack, intake) = if x["type"] == "ack" { (x, y) } else { (y, x) };
    assert_eq!(ack["ref"], "u1", "{ack}");
    assert_eq!(intake["type"], "intake", "{intake}");
    assert_eq!(
        intake["description"],
        "Printer op kamer 2.14 geeft papierstoring"
    );
    // The other tab of the same agent gets the change too.
    let other = next(&mut tab2).await;
    assert_eq!(other["type"], "intake");
    assert_eq!(other["seq"], intake["seq"]);

    // A refused action answers an error with the ref; nothing else changes.
    send(
        &mut tab1,
        json!({"v":1,"type":"intake_update","ref":"u2","intake_id":"no-such-intake","fields":{}}),
    )
    .await;
    let err = next(&mut tab1).await;
    assert_eq!(
        (
            err["type"].as_str(),
            err["code"].as_str(),
            err["ref"].as_str()
        ),
        (Some("error"), Some("not_found"), Some("u2")),
        "{err}"
    );

    // A reload shows the typed text in the pop and as the intake being edited.
    let (mut tab3, _) = desk.hello(&anna, json!({"v":1,"type":"hello"})).await;
    let snap = next(&mut tab3).await;
    let typed = "Printer op kamer 2.14 geeft papierstoring";
    assert_eq!(snap["intake"]["description"], typed, "{snap}");
    assert_eq!(snap["call"]["intake"]["description"], typed);
    assert_eq!(snap["call"]["customer"]["name"], "Anouk de Vries");
    desk.stop().await;
}

/// A raw HTTP/1.1 GET; returns the status, the headers (lower-cased) and the body.
async fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

#[tokio::test]
async fn a_voice_message_is_served_to_desk_sessions_only() {
    let desk = Desk::start().await;
    let call = desk.call("+31201234567", Some("cust-demo-01")).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vm.wav");
    let wav = b"RIFF\x24\x00\x00\x00WAVEfmt test bytes".to_vec();
    std::fs::write(&path, &wav).unwrap();
    let id = desk
        .store
        .insert_voice_message(&crate::store::NewVoiceMessage {
            call_id: Some(call),
            intake_id: None,
            path: path.display().to_string(),
            duration_ms: 1000,
            created_at: now_ms(),
        })
        .await
        .unwrap();
    let token = desk.token(ANNA, "agent").await;
    let (status, head, body) = http_get(desk.addr, &format!("/api/voice/{id}"), Some(&token)).await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: audio/wav"), "{head}");
    assert_eq!(body, wav);
    let (status, _, _) = http_get(desk.addr, &format!("/api/voice/{id}"), None).await;
    assert_eq!(status, 401, "no session, no message");
    let (status, _, _) = http_get(desk.addr, "/api/voice/vm-0000000000000000", Some(&token)).await;
    assert_eq!(status, 404);
    let (status, _, _) =
        http_get(desk.addr, "/api/voice/..%2F..%2Fetc%2Fpasswd", Some(&token)).await;
    assert_eq!(status, 404, "ids are checked, never used as paths");
    desk.stop().await;
}
