//! Tests of the desk hub without sockets: a slow connection is cut and resumes without loss;
//! a client too far behind gets a snapshot.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::acd::{AcdConfig, AcdService};
use crate::config::DeskSection;
use crate::events::EventKind;
use crate::store::testing::test_store;

const ANNA: &str = "agent-demo-anna";

async fn hub() -> (
    DeskHub,
    EventBus,
    CancellationToken,
    crate::store::testing::TestDbGuard,
) {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let events = EventBus::start(store.start_journal(&tasks, stop.clone()), 1);
    let acd = AcdService::start(AcdConfig::default(), &tasks, stop.clone());
    let ops = IntakeOps::new(store.clone(), DeskSection::default());
    let hub = DeskHub::start(&events, ops, acd, store, false, &tasks, stop.clone());
    (hub, events, stop, guard)
}

fn state_change(events: &EventBus, n: usize) {
    events.publish(EventKind::AgentState {
        agent_id: AgentId::from_string(ANNA),
        from: "available".into(),
        to: "not_ready".into(),
        reason: Some(format!("r{n}").into()),
    });
}

fn json(f: &Frame) -> serde_json::Value {
    serde_json::from_str(f.text()).unwrap()
}

/// Waits until the hub has numbered `seq` frames for Anna (it reads the bus asynchronously).
async fn settle(hub: &DeskHub, seq: u64) {
    for _ in 0..200 {
        let c = hub
            .connect(AgentId::from_string(ANNA), Hello::default(), true)
            .await
            .unwrap();
        let w = json(&c.welcome);
        hub.disconnect(AgentId::from_string(ANNA), c.id).await;
        if w["seq"].as_u64() >= Some(seq) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("hub never reached seq {seq}");
}

#[tokio::test]
async fn a_slow_connection_is_closed_and_resumes_without_a_gap() {
    let (hub, events, stop, guard) = hub().await;
    let agent = AgentId::from_string(ANNA);
    let mut slow = hub
        .connect(agent.clone(), Hello::default(), true)
        .await
        .unwrap();
    let epoch = json(&slow.welcome)["epoch"].as_str().unwrap().to_owned();
    let total = CONN_QUEUE + 50;
    for n in 1..=total {
        state_change(&events, n);
    }
    settle(&hub, total as u64).await;
    // The hub never blocked: it queued CONN_QUEUE frames, then dropped the connection.
    let mut got = Vec::new();
    while let Some(f) = slow.rx.recv().await {
        got.push(f.seq().unwrap());
    }
    assert_eq!(got, (1..=CONN_QUEUE as u64).collect::<Vec<_>>());
    let last = *got.last().unwrap();
    let resumed = hub
        .connect(
            agent,
            Hello {
                last_seq: Some(last),
                epoch: Some(epoch),
            },
            true,
        )
        .await
        .unwrap();
    assert_eq!(json(&resumed.welcome)["resumed"], true);
    let replay: Vec<u64> = resumed
        .replay_or_snapshot
        .iter()
        .map(|f| f.seq().unwrap())
        .collect();
    assert_eq!(replay, (last + 1..=total as u64).collect::<Vec<_>>());
    let first = json(&resumed.replay_or_snapshot[0]);
    assert_eq!(first["reason"], format!("r{}", last + 1));
    stop.cancel();
    guard.cleanup().await;
}

#[tokio::test]
async fn a_client_beyond_the_ring_gets_a_snapshot() {
    let (hub, events, stop, guard) = hub().await;
    let agent = AgentId::from_string(ANNA);
    let first = hub
        .connect(agent.clone(), Hello::default(), true)
        .await
        .unwrap();
    let epoch = json(&first.welcome)["epoch"].as_str().unwrap().to_owned();
    drop(first);
    let total = RING + 5;
    for n in 1..=total {
        state_change(&events, n);
        if n % 1000 == 0 {
            // Stay within the bus's live queue.
            settle(&hub, n as u64).await;
        }
    }
    settle(&hub, total as u64).await;
    let hello = |last| Hello {
        last_seq: Some(last),
        epoch: Some(epoch.clone()),
    };
    // Frame 5 was pushed out of the ring: a resume after 4 is impossible.
    let old = hub.connect(agent.clone(), hello(4), true).await.unwrap();
    assert_eq!(json(&old.welcome)["resumed"], false);
    let snap = json(&old.replay_or_snapshot[0]);
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["agent"]["reason"], format!("r{total}"));
    // After 5, frames 6.. are all still kept.
    let ok = hub.connect(agent.clone(), hello(5), true).await.unwrap();
    assert_eq!(json(&ok.welcome)["resumed"], true);
    assert_eq!(ok.replay_or_snapshot.len(), RING);
    // A last_seq from the future is not trusted.
    let future = hub.connect(agent, hello(10_000), true).await.unwrap();
    assert_eq!(json(&future.welcome)["resumed"], false);
    stop.cancel();
    guard.cleanup().await;
}

#[test]
fn frames_carry_version_seq_and_flat_fields() {
    let f = Frame::new(
        Some(7),
        &FrameBody::OfferWithdrawn {
            call_id: crate::domain::CallId::from_string("c-1"),
        },
    );
    assert_eq!(
        f.text(),
        r#"{"v":1,"seq":7,"type":"offer_withdrawn","call_id":"c-1"}"#
    );
    let e = Frame::new(
        None,
        &FrameBody::Error {
            reference: Some("r".into()),
            code: "invalid",
            message: "m".into(),
        },
    );
    assert_eq!(
        e.text(),
        r#"{"v":1,"type":"error","ref":"r","code":"invalid","message":"m"}"#
    );
    assert_eq!(e.seq(), None);
}

#[tokio::test]
async fn hold_of_a_browser_call_reaches_that_agents_desk_only() {
    let (hub, events, stop, guard) = hub().await;
    let anna = AgentId::from_string(ANNA);
    let mut desk = hub
        .connect(anna.clone(), Hello::default(), true)
        .await
        .unwrap();
    let mut bas = hub
        .connect(
            AgentId::from_string("agent-demo-bas"),
            Hello::default(),
            true,
        )
        .await
        .unwrap();
    events.publish(EventKind::CallHeld {
        call_id: crate::domain::CallId::from_string("call-1"),
        agent_id: anna,
        held: true,
        reason: "agent".into(),
    });
    let f = tokio::time::timeout(Duration::from_secs(5), desk.rx.recv())
        .await
        .expect("the frame arrives")
        .unwrap();
    let v = json(&f);
    assert_eq!(v["type"], "call_held", "{v}");
    assert_eq!(
        (v["call_id"].as_str(), v["held"].as_bool()),
        (Some("call-1"), Some(true))
    );
    assert_eq!(v["reason"], "agent");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), bas.rx.recv())
            .await
            .is_err(),
        "another agent's desk hears nothing"
    );
    stop.cancel();
    guard.cleanup().await;
}
