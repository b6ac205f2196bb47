//! Regression (issue 12, item 7): a desk hub that fell behind the event stream logged and stayed
//! stale (a withdrawn pop stayed up, a state change never showed, a missed offer never popped).
//! Now it rebuilds its desks from their owners, ends up with the state a fresh hub builds, and
//! sends its connections a numbered snapshot.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::acd::{AcdConfig, AcdService, AgentInfo, Entry, EntryKind};
use crate::config::DeskSection;
use crate::domain::{CallId, Category, DtmfMode, Priority};
use crate::events::EventKind;
use crate::store::testing::{TestDbGuard, test_store};
use crate::store::{CallTransport, NewCall, now_ms};

const ANNA: &str = "agent-demo-anna";
/// The live buffer of the test's event bus: far fewer than a burst sends.
const LIVE: usize = 8;

struct Lagging {
    hub: DeskHub,
    events: EventBus,
    acd: AcdHandle,
    store: Store,
    tasks: TaskTracker,
    stop: CancellationToken,
    guard: TestDbGuard,
}

async fn start() -> Lagging {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let events = EventBus::start_with_capacity(store.start_journal(&tasks, stop.clone()), 1, LIVE);
    let acd = AcdService::start(AcdConfig::default(), &tasks, stop.clone());
    acd.agent_login(AgentInfo {
        id: anna(),
        categories: vec![Category::Hardware],
        level: 1,
    })
    .await
    .unwrap();
    let hub = hub_on(&events, &acd, &store, &tasks, &stop);
    Lagging {
        hub,
        events,
        acd,
        store,
        tasks,
        stop,
        guard,
    }
}

fn hub_on(
    events: &EventBus,
    acd: &AcdHandle,
    store: &Store,
    tasks: &TaskTracker,
    stop: &CancellationToken,
) -> DeskHub {
    let ops = IntakeOps::new(store.clone(), DeskSection::default());
    DeskHub::start(
        events,
        ops,
        acd.clone(),
        store.clone(),
        false,
        tasks,
        stop.clone(),
    )
}

fn anna() -> AgentId {
    AgentId::from_string(ANNA)
}

impl Lagging {
    async fn call(&self) -> CallId {
        let id = CallId::new_random();
        let call = NewCall {
            id: id.clone(),
            sip_call_id: format!("sip-{id}"),
            caller: "+41441234567".into(),
            caller_name: None,
            customer_id: None,
            transport: CallTransport::Udp,
            arrived_at: now_ms() - 20_000,
        };
        self.store.insert_call(&call).await.unwrap();
        id
    }

    /// More events than the live buffer holds, published without yielding: the hub lags.
    fn burst(&self) {
        for n in 0..LIVE * 4 {
            self.events.publish(EventKind::Digit {
                call_id: CallId::from_string(format!("other-{n}")),
                digit: '1',
                mode: DtmfMode::Rfc4733,
            });
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.guard.cleanup().await;
    }
}

fn json(f: &Frame) -> Value {
    serde_json::from_str(f.text()).unwrap()
}

/// Frames until one of type `kind` (5 s at most).
async fn until(c: &mut Connection, kind: &str) -> (Vec<Value>, Value) {
    let mut before = Vec::new();
    loop {
        let f = tokio::time::timeout(Duration::from_secs(5), c.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {kind} frame within 5 s; got {before:?}"))
            .expect("the connection is open");
        let f = json(&f);
        if f["type"] == kind {
            return (before, f);
        }
        before.push(f);
    }
}

/// The snapshot a new connection of Anna gets, without the `since` of the state (which two
/// reads of the engine compute a millisecond apart) and the `seq` frame number.
async fn snapshot_of(hub: &DeskHub) -> Value {
    let c = hub.connect(anna(), Hello::default(), true).await.unwrap();
    let mut s = json(&c.replay_or_snapshot[0]);
    assert_eq!(s["type"], "snapshot");
    s["agent"]["since"] = Value::Null;
    s
}

#[tokio::test]
async fn a_lagging_hub_ends_up_with_the_state_of_a_fresh_one() {
    let t = start().await;
    let mut c = t.hub.connect(anna(), Hello::default(), true).await.unwrap();
    let call = t.call().await;
    t.events.publish(EventKind::CallOffered {
        call_id: call.clone(),
        agent_id: anna(),
    });
    let (_, pop) = until(&mut c, "pop").await;
    assert_eq!(pop["phase"], "ringing");

    // The engine puts Anna on a break; the offer ends; the hub misses both events.
    t.acd.set_not_ready(anna(), "lunch".into()).await.unwrap();
    t.events.publish(EventKind::OfferEnded {
        call_id: call.clone(),
        agent_id: anna(),
        result: "cancelled".into(),
    });
    t.events.publish(EventKind::AgentState {
        agent_id: anna(),
        from: "available".into(),
        to: "not_ready".into(),
        reason: Some("lunch".into()),
    });
    t.burst();

    let (before, snap) = until(&mut c, "snapshot").await;
    assert!(
        before
            .iter()
            .any(|f| f["type"] == "offer_withdrawn" && f["call_id"] == call.as_str()),
        "the softphone is told the offer ended: {before:?}"
    );
    assert!(snap["seq"].as_u64().is_some(), "numbered, kept for resume");
    assert_eq!(snap["agent"]["state"], "not_ready");
    assert_eq!(snap["agent"]["reason"], "lunch");
    assert_eq!(snap["call"], Value::Null);
    assert_eq!(t.hub.lag_repairs(), 1);

    let fresh = hub_on(&t.events, &t.acd, &t.store, &t.tasks, &t.stop);
    assert_eq!(snapshot_of(&t.hub).await, snapshot_of(&fresh).await);
    t.stop().await;
}

#[tokio::test]
async fn an_offer_missed_while_lagging_still_pops() {
    let t = start().await;
    let mut c = t.hub.connect(anna(), Hello::default(), true).await.unwrap();
    let call = t.call().await;
    let (notices, _keep) = tokio::sync::mpsc::channel(16);
    let entry = Entry {
        id: (&call).into(),
        category: Category::Hardware,
        priority: Priority::new(3).unwrap(),
        arrived: std::time::Instant::now(),
        kind: EntryKind::Call,
    };
    // The engine rings Anna; its `call_offered` event is lost in the burst.
    t.acd.enqueue(entry, notices).await.unwrap();
    t.burst();

    let (_, snap) = until(&mut c, "snapshot").await;
    assert_eq!(snap["agent"]["state"], "ringing");
    let (_, pop) = until(&mut c, "pop").await;
    assert_eq!(pop["call_id"], call.as_str());
    assert_eq!(pop["phase"], "ringing");
    t.stop().await;
}
