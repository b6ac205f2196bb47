//! Tests of the desk hub's issue-10 frames without sockets: the `device` frame (registration,
//! device switch, snapshot), `offer_missed` only when the agent's phone missed the offer,
//! reasons only where they are reasons (with codes), the pop's absolute times and the
//! welcome's server time.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::acd::{AcdConfig, AcdService, ReasonCode, StateReason};
use crate::config::DeskSection;
use crate::domain::{CallId, Category, CustomerId, Device, Priority};
use crate::events::EventKind;
use crate::store::testing::test_store;
use crate::store::{CallTransport, NewCall, now_ms};

const ANNA: &str = "agent-demo-anna";

struct Hub {
    hub: DeskHub,
    events: EventBus,
    store: Store,
    stop: CancellationToken,
    guard: crate::store::testing::TestDbGuard,
}

async fn start() -> Hub {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let events = EventBus::start(store.start_journal(&tasks, stop.clone()), 1);
    let acd = AcdService::start(AcdConfig::default(), &tasks, stop.clone());
    let ops = IntakeOps::new(store.clone(), DeskSection::default());
    let hub = DeskHub::start(
        &events,
        ops,
        acd,
        store.clone(),
        false,
        &tasks,
        stop.clone(),
    );
    Hub {
        hub,
        events,
        store,
        stop,
        guard,
    }
}

impl Hub {
    async fn connect(&self) -> Connection {
        self.hub
            .connect(AgentId::from_string(ANNA), Hello::default(), true)
            .await
            .unwrap()
    }

    /// A queued call from `caller` (of customer `customer`) that arrived 30 s ago.
    async fn call(&self, caller: &str, customer: Option<&str>) -> CallId {
        let id = CallId::new_random();
        let now = now_ms();
        let call = NewCall {
            id: id.clone(),
            sip_call_id: format!("sip-{id}"),
            caller: caller.to_owned(),
            caller_name: None,
            customer_id: customer.map(CustomerId::from_string),
            transport: CallTransport::Udp,
            arrived_at: now - 30_000,
        };
        self.store.insert_call(&call).await.unwrap();
        self.store
            .set_call_queued(&id, now - 12_000, Category::Hardware, Priority::new(2))
            .await
            .unwrap();
        id
    }

    fn offered(&self, call: &CallId) {
        self.events.publish(EventKind::CallOffered {
            call_id: call.clone(),
            agent_id: AgentId::from_string(ANNA),
        });
    }

    fn offer_ended(&self, call: &CallId, result: &str) {
        self.events.publish(EventKind::OfferEnded {
            call_id: call.clone(),
            agent_id: AgentId::from_string(ANNA),
            result: result.into(),
        });
    }

    fn state(&self, to: &str, reason: StateReason) {
        self.events.publish(EventKind::AgentState {
            agent_id: AgentId::from_string(ANNA),
            from: "available".into(),
            to: to.into(),
            reason: Some(reason),
        });
    }

    async fn stop(self) {
        self.stop.cancel();
        self.guard.cleanup().await;
    }
}

fn json(f: &Frame) -> Value {
    serde_json::from_str(f.text()).unwrap()
}

async fn next(c: &mut Connection) -> Value {
    let f = tokio::time::timeout(Duration::from_secs(5), c.rx.recv())
        .await
        .expect("a frame within 5 s")
        .expect("the connection is open");
    json(&f)
}

/// The next frame, after skipping pops (whose timing is the pop builder's).
async fn next_not_pop(c: &mut Connection) -> Value {
    loop {
        let f = next(c).await;
        if f["type"] != "pop" {
            return f;
        }
    }
}

#[tokio::test]
async fn the_device_frame_follows_registration_and_device_switches() {
    let h = start().await;
    let mut c = h.connect().await;
    let welcome = json(&c.welcome);
    let server_time = welcome["server_time"].as_i64().unwrap();
    assert!((server_time - now_ms()).abs() < 5_000, "{welcome}");
    let snap = json(&c.replay_or_snapshot[0]);
    assert_eq!(
        snap["device"],
        json!({"device": "phone", "registered": false, "transport": null, "contact": null,
               "expires_at": null, "reachable": false}),
        "a phone without a registration is not offered calls"
    );
    let anna = AgentId::from_string(ANNA);
    h.events.publish(EventKind::PhoneRegistration {
        agent_id: anna.clone(),
        extension: "2001".into(),
        registered: true,
        transport: Some("udp".into()),
        contact: Some("sip:2001@192.0.2.10:5070".into()),
        expires_at: Some(1_767_254_460_000),
    });
    let f = next(&mut c).await;
    assert_eq!(f["type"], "device", "{f}");
    assert!(f["seq"].is_u64(), "numbered: {f}");
    assert_eq!(
        (
            &f["device"],
            &f["registered"],
            &f["transport"],
            &f["reachable"]
        ),
        (&json!("phone"), &json!(true), &json!("udp"), &json!(true))
    );
    assert_eq!(f["contact"], "sip:2001@192.0.2.10:5070");
    assert_eq!(f["expires_at"], 1_767_254_460_000_i64);
    h.events.publish(EventKind::AgentDevice {
        agent_id: anna.clone(),
        device: Device::Browser,
    });
    let f = next(&mut c).await;
    assert_eq!(
        (&f["type"], &f["device"]),
        (&json!("device"), &json!("browser"))
    );
    // The same device again is no change; the registration lapsing still is.
    h.events.publish(EventKind::AgentDevice {
        agent_id: anna.clone(),
        device: Device::Browser,
    });
    h.events.publish(EventKind::PhoneRegistration {
        agent_id: anna,
        extension: "2001".into(),
        registered: false,
        transport: None,
        contact: None,
        expires_at: None,
    });
    let f = next(&mut c).await;
    assert_eq!(
        (&f["device"], &f["registered"], &f["reachable"]),
        (&json!("browser"), &json!(false), &json!(true)),
        "the browser takes calls without the phone: {f}"
    );
    // A reload shows the same in its snapshot.
    let again = h.connect().await;
    let snap = json(&again.replay_or_snapshot[0]);
    assert_eq!(
        (&snap["device"]["device"], &snap["device"]["registered"]),
        (&json!("browser"), &json!(false))
    );
    h.stop().await;
}

#[tokio::test]
async fn a_missed_offer_is_told_only_when_the_agents_phone_missed_it() {
    let h = start().await;
    let mut c = h.connect().await;
    // Rang out: withdrawn, then missed with the caller from the pop.
    let call = h.call("+31201234567", Some("cust-demo-01")).await;
    h.offered(&call);
    let pop = next(&mut c).await;
    assert_eq!(pop["type"], "pop");
    tokio::time::sleep(Duration::from_millis(30)).await;
    h.offer_ended(&call, "no_answer");
    assert_eq!(next(&mut c).await["type"], "offer_withdrawn");
    let missed = next(&mut c).await;
    assert_eq!(missed["type"], "offer_missed", "{missed}");
    assert_eq!(missed["call_id"], call.as_str());
    assert_eq!(missed["caller"], "+31201234567");
    assert_eq!(missed["customer_name"], pop["customer"]["name"]);
    assert_eq!(missed["reason"], "no_answer");
    assert!(missed["rang_ms"].as_i64().unwrap() >= 30, "{missed}");
    assert!(missed["at"].as_i64().unwrap() > 0);
    // Could not be reached before any pop: named from the call row, rang 0 ms.
    let unknown = h.call("+31999999999", None).await;
    h.offer_ended(&unknown, "unreachable");
    let missed = next_not_pop(&mut c).await;
    assert_eq!(
        (&missed["type"], &missed["caller"], &missed["customer_name"]),
        (&json!("offer_missed"), &json!("+31999999999"), &Value::Null)
    );
    assert_eq!(
        (&missed["reason"], &missed["rang_ms"]),
        (&json!("unreachable"), &json!(0))
    );
    // The caller hung up while it rang: withdrawn, not missed.
    let gone = h.call("+31201234567", None).await;
    h.offered(&gone);
    h.offer_ended(&gone, "cancelled");
    assert_eq!(next_not_pop(&mut c).await["type"], "offer_withdrawn");
    // Declined: missed. Nothing between the cancel's withdrawal and this one.
    let busy = h.call("+31201234567", None).await;
    h.offered(&busy);
    h.offer_ended(&busy, "rejected");
    assert_eq!(next_not_pop(&mut c).await["type"], "offer_withdrawn");
    let missed = next_not_pop(&mut c).await;
    assert_eq!(
        (&missed["type"], &missed["call_id"], &missed["reason"]),
        (
            &json!("offer_missed"),
            &json!(busy.as_str()),
            &json!("rejected")
        )
    );
    h.stop().await;
}

#[tokio::test]
async fn states_carry_reasons_only_where_they_are_reasons() {
    let h = start().await;
    let mut c = h.connect().await;
    h.state("available", "login".into());
    let f = next(&mut c).await;
    assert_eq!(
        (&f["state"], &f["reason"], &f["reason_code"]),
        (&json!("available"), &Value::Null, &Value::Null),
        "not 'available (login)'"
    );
    h.state(
        "not_ready",
        StateReason {
            text: "unreachable".into(),
            code: Some(ReasonCode::Unreachable),
        },
    );
    let f = next(&mut c).await;
    assert_eq!(
        (&f["reason"], &f["reason_code"]),
        (&json!("unreachable"), &json!("unreachable"))
    );
    h.state("not_ready", "lunch".into());
    let f = next(&mut c).await;
    assert_eq!(
        (&f["reason"], &f["reason_code"]),
        (&json!("lunch"), &Value::Null)
    );
    h.state(
        "not_ready",
        StateReason {
            text: "meeting".into(),
            code: Some(ReasonCode::Supervisor),
        },
    );
    let f = next(&mut c).await;
    assert_eq!(f["reason_code"], "supervisor");
    // The snapshot's agent says the same.
    let again = h.connect().await;
    let snap = json(&again.replay_or_snapshot[0]);
    assert_eq!(
        (&snap["agent"]["reason"], &snap["agent"]["reason_code"]),
        (&json!("meeting"), &json!("supervisor"))
    );
    h.stop().await;
}

#[tokio::test]
async fn the_pop_carries_absolute_times_from_queue_to_end() {
    let h = start().await;
    let mut c = h.connect().await;
    let call = h.call("+31201234567", Some("cust-demo-01")).await;
    let before = now_ms();
    h.offered(&call);
    let pop = next(&mut c).await;
    assert_eq!(pop["phase"], "ringing");
    let queued_at = pop["queued_at"].as_i64().unwrap();
    let offered_at = pop["offered_at"].as_i64().unwrap();
    assert!(
        (before - 12_000 - queued_at).abs() < 1_000,
        "queued 12 s ago: {pop}"
    );
    assert!(offered_at >= before && offered_at - before < 5_000, "{pop}");
    assert_eq!(
        (&pop["connected_at"], &pop["ended_at"]),
        (&Value::Null, &Value::Null)
    );
    assert!(
        pop["waited_ms"].as_i64().unwrap() >= 12_000,
        "kept for old clients"
    );
    h.events.publish(EventKind::CallConnected {
        call_id: call.clone(),
        agent_id: AgentId::from_string(ANNA),
        waited_ms: 12_000,
    });
    let pop = next(&mut c).await;
    assert_eq!(pop["phase"], "connected");
    let connected_at = pop["connected_at"].as_i64().unwrap();
    assert!(connected_at >= offered_at);
    assert_eq!(pop["offered_at"], offered_at, "the offer's own time");
    h.events.publish(EventKind::CallEnded {
        call_id: call.clone(),
        outcome: "answered".into(),
    });
    assert_eq!(next(&mut c).await["type"], "call_ended");
    let again = h.connect().await;
    let snap = json(&again.replay_or_snapshot[0]);
    let pop = &snap["call"];
    assert_eq!(pop["phase"], "ended", "{snap}");
    assert_eq!(pop["connected_at"], connected_at);
    assert!(pop["ended_at"].as_i64().unwrap() >= connected_at);
    assert_eq!(pop["queued_at"], queued_at);
    h.stop().await;
}
