//! Tests of the outbox (SQLite, or PostgreSQL with `TEST_DATABASE_URL`): rows only for the
//! targets whose filter takes the kind, written in the transaction of the change (a refused
//! change writes none), the intake's state of that moment, the journal's call events, and the
//! delivery states (dead, requeued, delivered, purged).

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::*;
use crate::domain::{AgentId, CallId, Category, CustomerId, Language, Priority};
use crate::store::testing::test_store;
use crate::store::{IntakeEdit, Journal, NewEscalation, NewEvent, NewIntake, Write};

const T0: i64 = 1_780_000_000_000;

fn routes() -> OutboxRoutes {
    OutboxRoutes::new(vec![
        ("all".into(), KindFilter::new(&[])),
        ("intakes".into(), KindFilter::new(&["intake.*".to_owned()])),
        (
            "ends".into(),
            KindFilter::new(&["call.ended".to_owned(), "intake.resolved".to_owned()]),
        ),
    ])
}

fn intake() -> NewIntake {
    NewIntake {
        call_id: None,
        customer_id: Some(CustomerId::from_string("cust-demo-01")),
        caller: Some("+31201234567".into()),
        category: Category::Hardware,
        priority: Priority::new(1),
        language: Some(Language::En),
        ivr_path: "lang=2,cat=1,prio=1".into(),
        dtmf_mode: vec![],
        description: Some("Screen stays black".into()),
        created_at: T0,
    }
}

async fn kinds(store: &Store, target: &str) -> Vec<String> {
    store
        .outbox_head(target, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect()
}

#[test]
fn filters_take_exact_kinds_families_or_everything() {
    let f = KindFilter::new(&["intake.*".to_owned(), "call.ended".to_owned()]);
    assert!(f.matches("intake.resolved") && f.matches("call.ended"));
    assert!(!f.matches("call.arrived") && !f.matches("intakes"));
    assert!(KindFilter::new(&[]).matches("anything"));
}

#[tokio::test]
async fn changes_enqueue_for_the_targets_that_take_them_in_their_transaction() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    // No routes: nothing is written.
    store.insert_intake(&intake()).await.unwrap();
    assert!(store.outbox_counts().await.unwrap().is_empty());
    store.set_outbox_routes(routes());
    let id = store.insert_intake(&intake()).await.unwrap();
    let anna = AgentId::from_string("agent-demo-anna");
    let edit = IntakeEdit {
        title: Some("Black screen".into()),
        ..IntakeEdit::default()
    };
    assert!(store.edit_intake(&id, &edit, &anna, T0 + 1).await.unwrap());
    let esc = NewEscalation {
        intake_id: id.clone(),
        from_level: 1,
        to_level: 2,
        target: "Workplace".into(),
        reason: "on site".into(),
        case_ref: None,
        agent_id: anna.clone(),
        at: T0 + 2,
        returned: false,
    };
    assert!(store.record_escalation(&esc).await.unwrap().is_some());
    assert!(
        store
            .resolve_intake(&id, "new cable", &anna, T0 + 3)
            .await
            .unwrap()
    );
    // Refused changes (already resolved) enqueue nothing.
    assert!(
        !store
            .resolve_intake(&id, "again", &anna, T0 + 4)
            .await
            .unwrap()
    );
    assert!(store.record_escalation(&esc).await.unwrap().is_none());

    let all = [
        "intake.created",
        "intake.updated",
        "intake.escalated",
        "intake.resolved",
    ];
    let with_quiet: Vec<String> = kinds(&store, "all").await;
    assert_eq!(&with_quiet[..4], all);
    assert_eq!(kinds(&store, "intakes").await[..4], all);
    assert_eq!(kinds(&store, "ends").await[..1], ["intake.resolved"]);

    let rows = store.outbox_head("all", 100).await.unwrap();
    assert!(
        rows.windows(2).all(|w| w[0].seq < w[1].seq),
        "seq follows commit order"
    );
    let resolved = &rows[3];
    assert_eq!(resolved.subject.as_deref(), Some(id.as_str()));
    let v: serde_json::Value = serde_json::from_str(&resolved.payload).unwrap();
    assert_eq!(v["intake"]["status"], "resolved");
    assert_eq!(v["intake"]["title"], "Black screen");
    assert_eq!(v["intake"]["group"], "Workplace");
    assert_eq!(v["intake"]["solution"], "new cable");
    assert_eq!(v["intake"]["customer"]["name"], "Anouk de Vries");
    assert_eq!(v["intake"]["updated_by"]["name"], "Anna Koster");
    let created: serde_json::Value = serde_json::from_str(&rows[0].payload).unwrap();
    assert_eq!(
        created["intake"]["status"], "draft",
        "the state of that moment, not of now"
    );
    let escalated: serde_json::Value = serde_json::from_str(&rows[2].payload).unwrap();
    assert_eq!(escalated["escalation"]["reason"], "on site");
    // One event id across targets.
    let other = store.outbox_head("ends", 1).await.unwrap();
    assert_eq!(other[0].event_id, resolved.event_id);
    guard.cleanup().await;
}

#[tokio::test]
async fn the_journal_enqueues_the_ivr_intake_and_call_events_with_its_batch() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    store.set_outbox_routes(routes());
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    let journal = Journal::start(store.clone(), &tasks, stop.clone());
    let event = |seq: i64, kind: &str| {
        Write::Event(NewEvent {
            seq,
            at: T0 + seq,
            kind: kind.into(),
            call_id: Some(CallId::from_string("call-9")),
            agent_id: None,
            payload: format!("{{\"type\":\"{kind}\",\"call_id\":\"call-9\"}}"),
        })
    };
    journal.write(event(1, "call_arrived"));
    journal.write(event(2, "digit"));
    journal.write(Write::Intake {
        id: IntakeId::from_string("intake-ivr-1"),
        intake: intake(),
    });
    journal.write(event(3, "call_ended"));
    journal.synced().await;
    assert_eq!(
        kinds(&store, "all").await,
        ["call.arrived", "intake.created", "call.ended"]
    );
    assert_eq!(kinds(&store, "intakes").await, ["intake.created"]);
    assert_eq!(kinds(&store, "ends").await, ["call.ended"]);
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    guard.cleanup().await;
}

#[tokio::test]
async fn dead_rows_wait_for_a_retry_and_delivered_ones_are_purged() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    store.set_outbox_routes(routes());
    store.insert_intake(&intake()).await.unwrap();
    let row = store.outbox_head("intakes", 1).await.unwrap().remove(0);
    store
        .outbox_retry_at(row.seq, T0 + 500, Some(503), "busy")
        .await
        .unwrap();
    let again = store.outbox_row(row.seq).await.unwrap().unwrap();
    assert_eq!(
        (again.attempts, again.next_at, again.last_status),
        (1, T0 + 500, Some(503))
    );
    store
        .outbox_dead(row.seq, T0 + 600, Some(400), &"x".repeat(5000))
        .await
        .unwrap();
    assert!(store.outbox_head("intakes", 10).await.unwrap().is_empty());
    let dead = store
        .outbox_list("intakes", DeliveryState::Dead, None, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].last_error.as_ref().unwrap().chars().count() <= MAX_ERROR_CHARS + 1);
    assert!(
        !store.outbox_requeue("all", row.seq, T0).await.unwrap(),
        "another target's row"
    );
    assert!(
        store
            .outbox_requeue("intakes", row.seq, T0 + 700)
            .await
            .unwrap()
    );
    let back = store.outbox_head("intakes", 10).await.unwrap();
    assert_eq!((back[0].attempts, back[0].next_at), (0, T0 + 700));
    store.outbox_delivered(&[row.seq], T0 + 800).await.unwrap();
    let done = store.outbox_row(row.seq).await.unwrap().unwrap();
    assert_eq!((done.state, done.attempts), (DeliveryState::Delivered, 1));
    assert_eq!(
        store.outbox_purge(T0 + 700).await.unwrap(),
        0,
        "kept while young"
    );
    assert_eq!(store.outbox_purge(T0 + 900).await.unwrap(), 1);
    assert!(!store.integration_paused("intakes").await.unwrap());
    store
        .set_integration_paused("intakes", true, "root", T0)
        .await
        .unwrap();
    assert!(store.integration_paused("intakes").await.unwrap());
    guard.cleanup().await;
}
