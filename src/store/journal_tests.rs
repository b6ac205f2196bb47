//! Tests of the write-behind journal: order, group commit, read-your-writes through `synced`,
//! a stalled writer that loses nothing, and a refused write that loses only itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use sqlx::Connection;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::store::testing::{test_database_url, test_store};
use crate::store::{CallTransport, HangupBy, Outcome, now_ms};

fn new_call(n: usize) -> NewCall {
    NewCall {
        id: CallId::from_string(format!("journal-{n}")),
        sip_call_id: format!("sip-{n}"),
        caller: "+31201234567".into(),
        caller_name: None,
        customer_id: None,
        transport: CallTransport::Udp,
        arrived_at: now_ms(),
    }
}

fn ended(n: usize) -> Write {
    Write::Ended {
        call: CallId::from_string(format!("journal-{n}")),
        end: CallEnd {
            ended_at: now_ms(),
            outcome: Outcome::AbandonedIvr,
            hangup_by: Some(HangupBy::Caller),
            end_reason: Some("BYE".into()),
            dtmf_mode: Vec::new(),
            language: None,
        },
    }
}

fn event(seq: i64) -> Write {
    Write::Event(NewEvent {
        seq,
        at: now_ms(),
        kind: "call_arrived".into(),
        call_id: None,
        agent_id: None,
        payload: "{}".into(),
    })
}

async fn count(store: &Store, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn writes_land_in_order_many_per_transaction() {
    let (store, guard) = test_store().await;
    let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
    let journal = Journal::start(store.clone(), &tasks, stop.clone());
    for n in 0..500 {
        // The end comes right behind the insert: in order, the update finds its row.
        journal.write(Write::Call(new_call(n)));
        journal.write(ended(n));
        journal.write(event(i64::try_from(n).unwrap() + 1));
    }
    journal.synced().await;
    let stats = journal.stats();
    assert_eq!(stats.committed, 1500);
    assert_eq!((stats.pending, stats.failed), (0, 0));
    assert!(
        stats.batches < 1500 && stats.largest_batch > 1,
        "group commit: {stats:?}"
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM calls WHERE outcome = 'abandoned_ivr'"
        )
        .await,
        500
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 500);
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    guard.cleanup().await;
}

#[tokio::test]
async fn a_refused_write_is_lost_alone_and_counted() {
    let (store, guard) = test_store().await;
    let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
    let journal = Journal::start(store.clone(), &tasks, stop.clone());
    journal.write(event(1));
    journal.write(Write::Call(new_call(1)));
    journal.write(event(1)); // the same sequence number twice: refused by the primary key
    journal.write(ended(1));
    journal.write(event(2));
    journal.synced().await;
    let stats = journal.stats();
    assert_eq!((stats.committed, stats.failed), (4, 1), "{stats:?}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 2);
    let call = store
        .get_call(&CallId::from_string("journal-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.outcome, Outcome::AbandonedIvr);
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    guard.cleanup().await;
}

/// Another connection holds the write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an
/// exclusive table lock): writes queue without anyone waiting, nothing is lost, and they land
/// once the lock is released.
#[tokio::test]
async fn a_stalled_writer_keeps_every_write_until_the_lock_is_released() {
    sqlx::any::install_default_drivers();
    let (url, guard) = test_database_url().await;
    let store = Store::connect(&url).await.unwrap();
    let mut blocker = sqlx::AnyConnection::connect(&url).await.unwrap();
    let postgres = url.starts_with("postgres");
    if postgres {
        sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
        sqlx::query("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")
            .execute(&mut blocker)
            .await
            .unwrap();
    } else {
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut blocker)
            .await
            .unwrap();
    }
    let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
    let journal = Journal::start(store.clone(), &tasks, stop.clone());
    let started = std::time::Instant::now();
    for n in 0..50 {
        journal.write(Write::Call(new_call(n)));
    }
    // Handing in never waits, however long the lock is held.
    assert!(started.elapsed() < Duration::from_secs(1));
    let synced = tokio::time::timeout(Duration::from_millis(300), journal.synced()).await;
    assert!(synced.is_err(), "committed through a held lock?");
    assert_eq!(journal.pending(), 50);
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    blocker.close().await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), journal.synced())
        .await
        .expect("the writes land once the lock is gone");
    let stats = journal.stats();
    assert_eq!((stats.committed, stats.failed, stats.pending), (50, 0, 0));
    assert_eq!(count(&store, "SELECT COUNT(*) FROM calls").await, 50);
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    store.close().await;
    guard.cleanup().await;
}

#[tokio::test]
async fn stopping_commits_what_is_queued() {
    let (store, guard) = test_store().await;
    let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
    let journal = Journal::start(store.clone(), &tasks, stop.clone());
    for n in 0..100 {
        journal.write(Write::Call(new_call(n)));
    }
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    assert_eq!(count(&store, "SELECT COUNT(*) FROM calls").await, 100);
    // After the stop a write is refused, counted, and `synced` does not hang.
    journal.write(Write::Call(new_call(100)));
    journal.synced().await;
    assert_eq!(journal.stats().failed, 1);
    guard.cleanup().await;
}

#[tokio::test]
async fn unfinished_calls_are_closed_as_interrupted_with_what_is_known() {
    let (store, guard) = test_store().await;
    let (a, b) = (new_call(1), new_call(2));
    store.insert_call(&a).await.unwrap();
    store.insert_call(&b).await.unwrap();
    store
        .set_call_ivr_ended(&a.id, a.arrived_at + 9_000, Language::En)
        .await
        .unwrap();
    let end = CallEnd {
        ended_at: b.arrived_at + 1_000,
        outcome: Outcome::Cancelled,
        hangup_by: Some(HangupBy::Caller),
        end_reason: None,
        dtmf_mode: Vec::new(),
        language: None,
    };
    store.finish_call(&b.id, &end).await.unwrap();
    assert_eq!(store.close_interrupted_calls(now_ms()).await.unwrap(), 1);
    let a_row = store.get_call(&a.id).await.unwrap().unwrap();
    assert_eq!(a_row.outcome, Outcome::Interrupted);
    assert_eq!(a_row.ended_at, Some(a.arrived_at + 9_000));
    assert_eq!(a_row.hangup_by, Some(HangupBy::Server));
    let b_row = store.get_call(&b.id).await.unwrap().unwrap();
    assert_eq!(b_row.outcome, Outcome::Cancelled);
    // Idempotent: nothing is left open.
    assert_eq!(store.close_interrupted_calls(now_ms()).await.unwrap(), 0);
    guard.cleanup().await;
}
