//! Regression (issue 3 review): a call task that panicked after the answer never reported the
//! call's end and left its agent `on_call` forever; an armed [`OnCallGuard`] reports it when
//! dropped, a disarmed one does nothing.

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::acd::{AcdHandle, AcdService, AgentStateChange, OnCallGuard, QueueNotice};
use crate::domain::Category::Hardware;

/// A running engine with agent `a1` on a call; state changes from then on.
async fn agent_on_call() -> (AcdHandle, broadcast::Receiver<AgentStateChange>) {
    let acd = AcdService::start(
        AcdConfig::default(),
        &TaskTracker::new(),
        CancellationToken::new(),
    );
    acd.agent_login(AgentInfo {
        id: aid("a1"),
        categories: vec![Hardware],
        level: 1,
    })
    .await
    .unwrap();
    let (tx, mut notices) = mpsc::channel(16);
    let entry = Entry {
        id: eid("c1"),
        category: Hardware,
        priority: Priority::new(3).unwrap(),
        arrived: tokio::time::Instant::now().into_std(),
        kind: EntryKind::Call,
    };
    acd.enqueue(entry, tx).await.unwrap();
    let Some(QueueNotice::Offer { offer, .. }) = notices.recv().await else {
        panic!("expected an offer");
    };
    acd.offer_answered(offer).await.unwrap();
    assert_eq!(state(&acd).await, AgentState::OnCall);
    let states = acd.agent_states();
    (acd, states)
}

async fn state(acd: &AcdHandle) -> AgentState {
    acd.snapshot()
        .await
        .unwrap()
        .agent(&aid("a1"))
        .unwrap()
        .state
        .clone()
}

#[tokio::test(start_paused = true)]
async fn a_call_task_that_panics_still_ends_the_agents_call() {
    let (acd, mut states) = agent_on_call().await;
    let guard = OnCallGuard::new(acd.clone(), aid("a1"));
    let task = tokio::spawn(async move {
        let _guard = guard;
        panic!("the call task fails while bridged");
    });
    assert!(task.await.unwrap_err().is_panic());

    let change = tokio::time::timeout(Duration::from_secs(5), states.recv())
        .await
        .expect("the guard reports the call's end")
        .unwrap();
    assert_eq!(
        (change.agent, change.from, change.to),
        (aid("a1"), AgentState::OnCall, AgentState::WrapUp)
    );
    assert_eq!(state(&acd).await, AgentState::WrapUp);
}

#[tokio::test(start_paused = true)]
async fn an_armed_guard_dropped_ends_the_call_and_a_disarmed_one_does_nothing() {
    let (acd, mut states) = agent_on_call().await;
    let mut guard = OnCallGuard::new(acd.clone(), aid("a1"));
    guard.disarm();
    drop(guard);
    // The paused clock moves only once every task is idle: a report would have landed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state(&acd).await, AgentState::OnCall);
    assert!(matches!(
        states.try_recv(),
        Err(broadcast::error::TryRecvError::Empty)
    ));

    drop(OnCallGuard::new(acd.clone(), aid("a1")));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state(&acd).await, AgentState::WrapUp);
    let change = states.try_recv().unwrap();
    assert_eq!(
        (change.from, change.to),
        (AgentState::OnCall, AgentState::WrapUp)
    );
}
