//! Regression (issue 12, item 7): a supervisor feed that fell behind the event stream re-read
//! the queue engine but kept the counters and the calls built from the events it missed (a
//! caller who left the IVR stayed in it, answered calls were never counted). Now it rebuilds
//! its model as a fresh feed does and sends a numbered snapshot.

use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::acd::{AcdConfig, AcdService, AgentInfo};
use crate::domain::{CallId, Category, DtmfMode, Priority};
use crate::store::testing::test_store;
use crate::store::{CallTransport, NewCall};

const ANNA: &str = "agent-demo-anna";
/// The live buffer of the test's event bus: far fewer than a burst sends.
const LIVE: usize = 8;

fn text(f: &FeedFrame) -> Value {
    serde_json::from_str(f.text.as_str()).unwrap()
}

/// Frames until one of type `kind` (5 s at most).
async fn until(c: &mut SupervisorConnection, kind: &str) -> Value {
    let mut seen = Vec::new();
    loop {
        let f = tokio::time::timeout(Duration::from_secs(5), c.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {kind} frame within 5 s; got {seen:?}"))
            .expect("the connection is open");
        let f = text(&f);
        if f["type"] == kind {
            return f;
        }
        seen.push(f);
    }
}

/// The sections of a snapshot, without its number and the agents' `since` (computed from the
/// wall clock at each read of the engine).
fn sections(mut snap: Value) -> Value {
    let m = snap.as_object_mut().unwrap();
    m.remove("seq");
    if let Some(Value::Array(agents)) = m.get_mut("agents") {
        for a in agents {
            a["since"] = Value::Null;
        }
    }
    snap
}

#[tokio::test]
async fn a_lagging_feed_ends_up_with_the_state_of_a_fresh_one() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let events = EventBus::start_with_capacity(store.start_journal(&tasks, stop.clone()), 1, LIVE);
    let acd = AcdService::start(AcdConfig::default(), &tasks, stop.clone());
    let anna = AgentId::from_string(ANNA);
    acd.agent_login(AgentInfo {
        id: anna.clone(),
        categories: vec![Category::Hardware],
        level: 1,
    })
    .await
    .unwrap();
    let start = |events: &EventBus| {
        let cfg = SupervisorConfig::default();
        SupervisorFeed::start(
            cfg,
            events,
            acd.clone(),
            store.clone(),
            &tasks,
            stop.clone(),
        )
    };
    let feed = start(&events);
    let mut c = feed.connect(FeedHello::default()).await.unwrap();

    // A caller in the IVR, seen by the feed.
    let ivr = CallId::new_random();
    events.publish(EventKind::CallArrived {
        call_id: ivr.clone(),
        caller: "+41441111111".into(),
        customer_id: None,
    });
    let update = until(&mut c, "update").await;
    assert_eq!(update["in_ivr"], 1);

    // A call answered by Anna (as stored by its call task) and the IVR caller hanging up: the
    // feed misses every event of it.
    let answered = CallId::new_random();
    let now = now_ms();
    store
        .insert_call(&NewCall {
            id: answered.clone(),
            sip_call_id: format!("sip-{answered}"),
            caller: "+41442222222".into(),
            caller_name: None,
            customer_id: None,
            transport: CallTransport::Udp,
            arrived_at: now - 30_000,
        })
        .await
        .unwrap();
    store
        .set_call_queued(
            &answered,
            now - 20_000,
            Category::Hardware,
            Priority::new(3),
        )
        .await
        .unwrap();
    store
        .set_call_connected(&answered, &anna, now - 15_000, 5_000)
        .await
        .unwrap();
    for kind in [
        EventKind::CallQueued {
            call_id: answered.clone(),
            category: Category::Hardware,
            priority: Priority::new(3),
        },
        EventKind::CallConnected {
            call_id: answered.clone(),
            agent_id: anna.clone(),
            waited_ms: 5_000,
        },
        EventKind::CallEnded {
            call_id: ivr.clone(),
            outcome: "abandoned_ivr".into(),
        },
    ] {
        events.publish(kind);
    }
    for n in 0..LIVE * 4 {
        events.publish(EventKind::Digit {
            call_id: CallId::from_string(format!("other-{n}")),
            digit: '1',
            mode: DtmfMode::Rfc4733,
        });
    }

    let snap = until(&mut c, "snapshot").await;
    assert!(snap["seq"].as_u64().is_some(), "numbered, kept for resume");
    assert_eq!(snap["in_ivr"], 0, "{snap}");
    assert_eq!(snap["today"]["offered"], 1, "{snap}");
    assert_eq!(snap["today"]["answered"], 1, "{snap}");
    assert_eq!(feed.lag_repairs(), 1);

    let fresh = start(&events);
    let first = fresh.connect(FeedHello::default()).await.unwrap().first;
    let fresh_snap = text(&first[1]);
    assert_eq!(fresh_snap["type"], "snapshot");
    assert_eq!(sections(snap), sections(fresh_snap));
    stop.cancel();
    guard.cleanup().await;
}
