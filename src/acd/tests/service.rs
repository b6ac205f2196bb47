//! The owner task with tokio's paused clock: notices reach the caller's channel, the ring timer
//! fires, state changes are broadcast, a closed caller channel abandons the entry, stop ends it.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::acd::{AcdError, AcdService, CancelReason, QueueNotice};
use crate::domain::Category::Hardware;

fn entry(id: &str) -> Entry {
    Entry {
        id: eid(id),
        category: Hardware,
        priority: Priority::new(3).unwrap(),
        arrived: tokio::time::Instant::now().into_std(),
        kind: EntryKind::Call,
    }
}

#[tokio::test(start_paused = true)]
async fn service_delivers_notices_times_out_rings_and_stops() {
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    let acd = AcdService::start(AcdConfig::default(), &tasks, stop.clone());
    let mut states = acd.agent_states();
    let start = tokio::time::Instant::now();

    acd.agent_login(AgentInfo {
        id: aid("a1"),
        categories: vec![Hardware],
        level: 1,
    })
    .await
    .unwrap();
    let (tx, mut notices) = mpsc::channel(16);
    acd.enqueue(entry("c1"), tx.clone()).await.unwrap();
    assert_eq!(
        acd.enqueue(entry("c1"), tx).await,
        Err(AcdError::DuplicateEntry(eid("c1")))
    );
    let Some(QueueNotice::Offer { offer, agent }) = notices.recv().await else {
        panic!("expected an offer");
    };
    assert_eq!(agent, aid("a1"));

    // Nobody answers: the paused clock jumps to the ring timeout.
    assert_eq!(
        notices.recv().await,
        Some(QueueNotice::CancelOffer {
            offer,
            reason: CancelReason::RingTimeout
        })
    );
    assert_eq!(start.elapsed(), Duration::from_secs(15));
    assert_eq!(
        acd.offer_answered(offer).await,
        Err(AcdError::UnknownOffer(offer))
    );
    let mut seen = Vec::new();
    while let Ok(change) = states.try_recv() {
        seen.push((change.to.name(), change.reason));
    }
    assert_eq!(
        seen,
        [
            ("available", Some("login".to_owned())),
            ("ringing", Some("offered".to_owned())),
            ("not_ready", Some("no answer".to_owned())),
        ]
    );

    // Position is announced every 30 s from entry; at 30 s the caller's task is gone.
    drop(notices);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let snap = acd.snapshot().await.unwrap();
    assert!(
        snap.entries().next().is_none(),
        "closed channel = abandoned"
    );
    assert_eq!(acd.position(eid("c1")).await, Ok(None));

    stop.cancel();
    tasks.close();
    tasks.wait().await;
    assert_eq!(acd.snapshot().await, Err(AcdError::Stopped));
}

#[tokio::test(start_paused = true)]
async fn the_handle_carries_reachability_and_supervisor_codes() {
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    let acd = AcdService::start(AcdConfig::default(), &tasks, stop.clone());
    assert!(acd.require_registration());
    assert!(!acd.offers_calls(crate::domain::Device::Phone, false));
    assert!(acd.offers_calls(crate::domain::Device::Browser, false));
    let mut states = acd.agent_states();
    acd.set_reachable(aid("a1"), false).await.unwrap();
    acd.agent_login(AgentInfo {
        id: aid("a1"),
        categories: vec![Hardware],
        level: 1,
    })
    .await
    .unwrap();
    let (tx, mut notices) = mpsc::channel(16);
    acd.enqueue(entry("c1"), tx).await.unwrap();
    // The caller hears their place and the options (nobody reachable serves), but no phone rings.
    while let Ok(n) = notices.try_recv() {
        assert!(
            !matches!(n, QueueNotice::Offer { .. }),
            "no offer to an unreachable phone"
        );
    }
    acd.set_reachable(aid("a1"), true).await.unwrap();
    assert!(matches!(
        notices.recv().await,
        Some(QueueNotice::Offer { .. })
    ));
    let login = states.recv().await.unwrap();
    assert_eq!((login.to.name(), login.reason_code), ("available", None));
    assert_eq!(states.recv().await.unwrap().to.name(), "ringing");
    acd.supervisor_logout(aid("a1")).await.unwrap();
    let out = states.recv().await.unwrap();
    assert_eq!(
        (out.to.name(), out.reason_code),
        ("offline", Some(crate::acd::ReasonCode::Supervisor))
    );
    stop.cancel();
}

/// Regression (issue 12, item 7): agent state changes went through a broadcast of 1,024 to a
/// forwarder task, and a burst beyond it was lost from the event log. The owner task now
/// publishes each change itself: more than that many, with nobody reading meanwhile, all
/// arrive, in order.
#[tokio::test]
async fn every_agent_state_change_reaches_the_event_stream() {
    let (store, guard) = crate::store::testing::test_store().await;
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    let events = crate::events::EventBus::start(store.start_journal(&tasks, stop.clone()), 1);
    let mut feed = events.subscribe();
    let acd = AcdService::start_recording(AcdConfig::default(), events, &tasks, stop.clone());
    acd.agent_login(AgentInfo {
        id: aid("a1"),
        categories: vec![Hardware],
        level: 1,
    })
    .await
    .unwrap();
    let rounds = 600;
    for n in 0..rounds {
        acd.set_not_ready(aid("a1"), format!("break {n}"))
            .await
            .unwrap();
        acd.set_available(aid("a1")).await.unwrap();
    }
    let mut seen = Vec::new();
    while let Ok(e) = feed.try_recv() {
        if let crate::events::EventKind::AgentState { to, reason, .. } = &e.kind {
            seen.push((to.clone(), reason.as_ref().map(|r| r.text.clone())));
        }
    }
    assert_eq!(seen.len(), 1 + 2 * rounds, "login and every change");
    assert_eq!(seen[0].0, "available");
    for n in 0..rounds {
        assert_eq!(
            seen[1 + 2 * n],
            ("not_ready".to_owned(), Some(format!("break {n}")))
        );
        assert_eq!(seen[2 + 2 * n].0, "available");
    }
    stop.cancel();
    guard.cleanup().await;
}
