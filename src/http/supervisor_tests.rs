//! Tests of the supervisor routes over a real listener (127.0.0.1 port 0, fresh database with the
//! demo data, live event bus, queue engine and feed): the WebSocket with tokio-tungstenite,
//! the actions with a small HTTP/1.1 client; calls are driven by publishing events.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::super::test_support::{TestServer, Ws, next, send};
use crate::acd::{AgentInfo, AgentState, Entry, EntryId, EntryKind};
use crate::domain::{AgentId, CallId, Category, Priority};
use crate::events::EventKind;
use crate::supervisor::{SupervisorConfig, SupervisorFeed};

const ANNA: &str = "agent-demo-anna";
const SANNE: &str = "agent-demo-sanne";

/// The supervisor routes and feed on a test server.
struct Sup(TestServer);

impl std::ops::Deref for Sup {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.0
    }
}

impl Sup {
    async fn start() -> Sup {
        let server = TestServer::start(|p| {
            let feed = SupervisorFeed::start(
                SupervisorConfig::default(),
                &p.events,
                p.acd.clone(),
                p.store.clone(),
                &p.tasks,
                p.stop.clone(),
            );
            super::router(p.api(), feed)
        })
        .await;
        Sup(server)
    }

    async fn stop(self) {
        self.0.stop().await;
    }

    /// Opens the feed; `Err(status)` when the upgrade is refused.
    async fn open(&self, token: &str) -> Result<Ws, u16> {
        let auth = [("authorization", format!("Bearer {token}"))];
        self.open_ws("/api/supervisor/ws", &auth).await
    }

    /// Opens the feed and says hello; returns the socket and the welcome.
    async fn hello(&self, token: &str, last_seq: Value, epoch: Value) -> (Ws, Value) {
        let mut ws = self.open(token).await.unwrap();
        let hello = json!({"v": 1, "type": "hello", "last_seq": last_seq, "epoch": epoch});
        send(&mut ws, hello).await;
        let welcome = next(&mut ws).await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        (ws, welcome)
    }

    /// `POST path` with a JSON body and a Bearer token: (status, JSON body).
    async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.request("POST", token, path, Some(body)).await
    }

    async fn request(
        &self,
        method: &str,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let mut conn = TcpStream::connect(self.addr).await.unwrap();
        conn.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        tokio::time::timeout(Duration::from_secs(10), conn.read_to_string(&mut raw))
            .await
            .unwrap()
            .unwrap();
        let status = raw.get(9..12).unwrap().parse().unwrap();
        let json = raw
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }

    /// Queues a waiting caller with no agent to take it.
    async fn enqueue(
        &self,
        id: &str,
        category: Category,
    ) -> mpsc::Receiver<crate::acd::QueueNotice> {
        let (tx, rx) = mpsc::channel(16);
        let entry = Entry {
            id: EntryId::from_string(id),
            category,
            priority: Priority::new(3).unwrap(),
            arrived: Instant::now(),
            kind: EntryKind::Call,
        };
        self.acd.enqueue(entry, tx).await.unwrap();
        rx
    }
}

/// The next `update` whose `key` satisfies `pred` (updates for other keys skipped).
async fn update_with(ws: &mut Ws, key: &str, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let f = next(ws).await;
        assert_eq!(f["type"], "update", "{f}");
        if f.get(key).is_some_and(&pred) {
            return f;
        }
    }
}

#[tokio::test]
async fn an_agent_cannot_open_the_feed_and_a_supervisor_gets_a_snapshot() {
    let sup = Sup::start().await;
    let agent = sup.token(ANNA, "agent").await;
    assert_eq!(sup.open(&agent).await.err(), Some(403));
    assert_eq!(sup.open("not-a-token").await.err(), Some(401));
    let token = sup.token(SANNE, "supervisor").await;
    let (mut ws, welcome) = sup.hello(&token, Value::Null, Value::Null).await;
    assert_eq!(welcome["resumed"], false);
    assert_eq!(welcome["epoch"].as_str().unwrap().len(), 16);
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["v"], 1);
    assert_eq!(snap["seq"], welcome["seq"]);
    let names: Vec<&str> = snap["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hardware", "software", "service", "unclassified"]);
    assert_eq!(snap["today"]["offered"], 0);
    assert_eq!(snap["today"]["service_level"], Value::Null);
    assert_eq!(snap["today"]["threshold_s"], 20);
    assert_eq!(snap["in_ivr"], 0);
    sup.stop().await;
}

#[tokio::test]
async fn events_become_updates_and_a_resume_misses_nothing() {
    let sup = Sup::start().await;
    let token = sup.token(SANNE, "supervisor").await;
    let (mut ws, welcome) = sup.hello(&token, Value::Null, Value::Null).await;
    let epoch = welcome["epoch"].clone();
    assert_eq!(next(&mut ws).await["type"], "snapshot");

    // An agent signs in: the engine's change reaches the feed as an update within ms.
    sup.acd
        .agent_login(AgentInfo {
            id: AgentId::from_string(ANNA),
            categories: vec![Category::Hardware],
            level: 1,
        })
        .await
        .unwrap();
    sup.events.publish(EventKind::AgentState {
        agent_id: AgentId::from_string(ANNA),
        from: "offline".into(),
        to: "available".into(),
        reason: None,
    });
    let started = Instant::now();
    let f = update_with(&mut ws, "agents", |a| {
        a.as_array()
            .unwrap()
            .iter()
            .any(|a| a["state"] == "available")
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(f["agents"][0]["name"], "Anna Koster");
    sup.events.publish(EventKind::CallArrived {
        call_id: CallId::from_string("call-a"),
        caller: "+31201234567".into(),
        customer_id: None,
    });
    let f = update_with(&mut ws, "in_ivr", |n| n == 1).await;
    let seen = f["seq"].as_u64().unwrap();
    drop(ws);

    // While away: a voice message.
    sup.events.publish(EventKind::VoiceMessage {
        call_id: CallId::from_string("call-a"),
        message_id: "vm-1".into(),
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut ws, welcome) = sup.hello(&token, json!(seen), epoch.clone()).await;
    assert_eq!(welcome["resumed"], true, "{welcome}");
    let mut replayed = Vec::new();
    let last = welcome["seq"].as_u64().unwrap();
    while replayed
        .last()
        .is_none_or(|f: &Value| f["seq"].as_u64() < Some(last))
    {
        replayed.push(next(&mut ws).await);
    }
    let seqs: Vec<u64> = replayed
        .iter()
        .map(|f| f["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, ((seen + 1)..=last).collect::<Vec<_>>());
    assert!(replayed.iter().any(|f| f["voice_messages_today"] == 1));

    // Another epoch (a restart) gets a fresh snapshot instead.
    let (mut ws, welcome) = sup
        .hello(&token, json!(seen), json!("0000000000000000"))
        .await;
    assert_eq!(welcome["resumed"], false);
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["voice_messages_today"], 1);
    sup.stop().await;
}

#[tokio::test]
async fn actions_change_the_queues_and_agents_and_are_audited() {
    let sup = Sup::start().await;
    let token = sup.token(SANNE, "supervisor").await;
    let agent = sup.token(ANNA, "agent").await;
    let _n1 = sup.enqueue("call-1", Category::Hardware).await;
    let _n2 = sup.enqueue("call-2", Category::Hardware).await;
    let snap = sup.acd.snapshot().await.unwrap();
    assert_eq!(snap.queue_ids(Category::Hardware), ["call-1", "call-2"]);

    let path = "/api/supervisor/calls/call-2/priority";
    assert_eq!(sup.post(&agent, path, json!({"priority": 1})).await.0, 403);
    assert_eq!(sup.post(&token, path, json!({"priority": 9})).await.0, 422);
    let (status, body) = sup.post(&token, path, json!({"priority": 1})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"], json!({"from": 3, "to": 1}));
    let snap = sup.acd.snapshot().await.unwrap();
    assert_eq!(snap.queue_ids(Category::Hardware), ["call-2", "call-1"]);

    let (status, body) = sup
        .post(
            &token,
            "/api/supervisor/calls/call-1/queue",
            json!({"queue": "software"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["details"],
        json!({"from": "hardware", "to": "software"})
    );
    let snap = sup.acd.snapshot().await.unwrap();
    assert_eq!(snap.queue_ids(Category::Software), ["call-1"]);
    assert_eq!(snap.queue_ids(Category::Hardware), ["call-2"]);
    let missing = sup
        .post(
            &token,
            "/api/supervisor/calls/call-9/queue",
            json!({"queue": "service"}),
        )
        .await;
    assert_eq!(missing.0, 404);

    sup.acd
        .agent_login(AgentInfo {
            id: AgentId::from_string(ANNA),
            categories: vec![Category::Service],
            level: 1,
        })
        .await
        .unwrap();
    let path = format!("/api/supervisor/agents/{ANNA}/not-ready");
    assert_eq!(sup.post(&agent, &path, json!({"reason": "x"})).await.0, 403);
    let (status, _) = sup.post(&token, &path, json!({"reason": "meeting"})).await;
    assert_eq!(status, 200);
    let state =
        |s: crate::acd::AcdSnapshot| s.agent(&AgentId::from_string(ANNA)).unwrap().state.clone();
    assert_eq!(
        state(sup.acd.snapshot().await.unwrap()),
        AgentState::NotReady {
            reason: "meeting".into()
        }
    );
    let path = format!("/api/supervisor/agents/{ANNA}/logout");
    assert_eq!(sup.post(&token, &path, json!({})).await.0, 200);
    assert_eq!(
        state(sup.acd.snapshot().await.unwrap()),
        AgentState::Offline
    );
    // Logging out twice is a conflict, and not audited.
    assert_eq!(sup.post(&token, &path, json!({})).await.0, 409);

    let (status, audit) = sup
        .request("GET", &token, "/api/supervisor/audit?limit=10", None)
        .await;
    assert_eq!(status, 200);
    let rows = audit["audit"].as_array().unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions.len(), 4);
    for a in [
        "call_priority",
        "call_queue",
        "agent_not_ready",
        "agent_logout",
    ] {
        assert!(actions.contains(&a), "{actions:?}");
    }
    assert!(rows.iter().all(|r| r["actor"] == SANNE));
    assert_eq!(
        sup.request("GET", &agent, "/api/supervisor/audit", None)
            .await
            .0,
        403
    );
    sup.stop().await;
}

/// Issue 10: audit entries name the supervisor and the agent or caller acted on; the feed's
/// agents carry the supervisor's reason code and their phone's registration.
#[tokio::test]
async fn audit_entries_carry_names_and_the_feed_shows_codes_and_registration() {
    let sup = Sup::start().await;
    let token = sup.token(SANNE, "supervisor").await;
    let (mut ws, _) = sup.hello(&token, Value::Null, Value::Null).await;
    assert_eq!(next(&mut ws).await["type"], "snapshot");
    // A waiting caller the store knows (customer Anouk de Vries).
    let call = CallId::new_random();
    sup.store
        .insert_call(&crate::store::NewCall {
            id: call.clone(),
            sip_call_id: format!("sip-{call}"),
            caller: "+31201234567".into(),
            caller_name: None,
            customer_id: Some(crate::domain::CustomerId::from_string("cust-demo-01")),
            transport: crate::store::CallTransport::Udp,
            arrived_at: crate::store::now_ms(),
        })
        .await
        .unwrap();
    let _n = sup.enqueue(call.as_str(), Category::Hardware).await;
    let path = format!("/api/supervisor/calls/{call}/priority");
    let (status, body) = sup.post(&token, &path, json!({"priority": 1})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["details"],
        json!({"from": 3, "to": 1, "caller": "+31201234567", "customer_name": "Anouk de Vries"})
    );
    assert_eq!(
        (&body["actor_name"], &body["target_name"]),
        (&json!("Sanne Visser"), &json!("+31201234567"))
    );

    sup.acd
        .agent_login(AgentInfo {
            id: AgentId::from_string(ANNA),
            categories: vec![Category::Service],
            level: 1,
        })
        .await
        .unwrap();
    let path = format!("/api/supervisor/agents/{ANNA}/not-ready");
    let (status, body) = sup.post(&token, &path, json!({"reason": "lunch"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["actor_name"], &body["target_name"], &body["details"]),
        (
            &json!("Sanne Visser"),
            &json!("Anna Koster"),
            &json!({"reason": "lunch"})
        )
    );
    let (_, audit) = sup
        .request("GET", &token, "/api/supervisor/audit?limit=10", None)
        .await;
    let rows = audit["audit"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["action"], "agent_not_ready", "newest first");
    assert_eq!(rows[0]["target_name"], "Anna Koster");
    assert_eq!(rows[1]["target_name"], "+31201234567");
    assert!(rows.iter().all(|r| r["actor_name"] == "Sanne Visser"));

    // The feed: the supervisor's reason with its code (read from the engine).
    let f = update_with(&mut ws, "agents", |a| {
        a.as_array()
            .unwrap()
            .iter()
            .any(|a| a["reason_code"] == "supervisor")
    })
    .await;
    let anna = f["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == ANNA)
        .unwrap()
        .clone();
    assert_eq!(
        (&anna["state"], &anna["reason"]),
        (&json!("not_ready"), &json!("lunch"))
    );
    assert_eq!(
        (&anna["registered"], &anna["reachable"]),
        (&json!(false), &json!(false))
    );
    // Her phone registers.
    sup.events.publish(EventKind::PhoneRegistration {
        agent_id: AgentId::from_string(ANNA),
        extension: "2001".into(),
        registered: true,
        transport: Some("tcp".into()),
        contact: Some("sip:2001@192.0.2.10".into()),
        expires_at: Some(crate::store::now_ms() + 60_000),
    });
    let f = update_with(&mut ws, "agents", |a| {
        a.as_array()
            .unwrap()
            .iter()
            .any(|a| a["registered"] == true)
    })
    .await;
    let anna = &f["agents"][0];
    assert_eq!(
        (&anna["transport"], &anna["reachable"]),
        (&json!("tcp"), &json!(true))
    );
    sup.stop().await;
}
