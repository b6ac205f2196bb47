//! Tests of the desk's intake queries and escalations (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`), including the guards that make racing agents lose cleanly; customer
//! edits are in `customer_edit_tests.rs`.

use super::*;
use crate::domain::Language;
use crate::store::testing::test_store;
use crate::store::{
    CallTransport, IntakeFilter, IntakeStatus, NewCall, NewEscalation, NewIntake, Store,
};

const T0: i64 = 1_780_000_000_000;
const ANNA: &str = "agent-demo-anna";

fn anna() -> AgentId {
    AgentId::from_string(ANNA)
}

/// Demo agents and customers, call `call-1` from Anouk and its draft intake.
async fn seed(store: &Store) -> IntakeId {
    store.load_demo().await.unwrap();
    add_call(store, "call-1", Some("cust-demo-01")).await;
    draft(store, "call-1", T0 + 1).await
}

async fn add_call(store: &Store, id: &str, customer: Option<&str>) {
    store
        .insert_call(&NewCall {
            id: CallId::from_string(id),
            sip_call_id: format!("{id}@192.0.2.1"),
            caller: "+31201234567".into(),
            caller_name: None,
            customer_id: customer.map(CustomerId::from_string),
            transport: CallTransport::Udp,
            arrived_at: T0,
        })
        .await
        .unwrap();
}

async fn draft(store: &Store, call: &str, at: i64) -> IntakeId {
    store
        .insert_intake(&NewIntake {
            call_id: Some(CallId::from_string(call)),
            customer_id: Some(CustomerId::from_string("cust-demo-01")),
            caller: Some("+31201234567".into()),
            category: Category::Software,
            priority: Priority::new(2),
            language: Some(Language::Nl),
            ivr_path: "lang=1,cat=2,prio=2".into(),
            dtmf_mode: vec![crate::domain::DtmfMode::Info],
            description: None,
            created_at: at,
        })
        .await
        .unwrap()
}

fn escalation(id: &IntakeId, from: u8, to: u8, at: i64) -> NewEscalation {
    NewEscalation {
        intake_id: id.clone(),
        from_level: from,
        to_level: to,
        target: "Network".into(),
        reason: "switch port dead".into(),
        case_ref: None,
        agent_id: anna(),
        at,
        returned: to == 1,
    }
}

#[tokio::test]
async fn a_draft_reads_back_with_desk_defaults_and_edits_open_it() {
    let (store, guard) = test_store().await;
    let id = seed(&store).await;
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.level, r.channel.as_str()),
        (IntakeStatus::Draft, 1, "phone")
    );
    assert_eq!(r.dtmf_mode.as_deref(), Some("info"));
    assert_eq!(
        (r.title.clone(), r.solution.clone(), r.resolved_at),
        (None, None, None)
    );

    let edit = IntakeEdit {
        description: Some("printer on floor 2 jams".into()),
        priority: Priority::new(1),
        ..IntakeEdit::default()
    };
    assert!(
        store
            .edit_intake(&id, &edit, &anna(), T0 + 5)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(r.status, IntakeStatus::Open);
    assert_eq!(r.description.as_deref(), Some("printer on floor 2 jams"));
    assert_eq!(r.priority, Priority::new(1));
    assert_eq!(r.category, Category::Software, "absent field kept");
    assert_eq!((r.updated_at, r.updated_by), (T0 + 5, Some(anna())));

    assert!(
        store
            .resolve_intake(&id, "cleared the jam", &anna(), T0 + 9)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(r.status, IntakeStatus::Resolved);
    assert_eq!(
        (r.solution.as_deref(), r.resolved_at),
        (Some("cleared the jam"), Some(T0 + 9))
    );
    // Final: neither edited nor resolved again.
    assert!(
        !store
            .edit_intake(&id, &edit, &anna(), T0 + 10)
            .await
            .unwrap()
    );
    assert!(
        !store
            .resolve_intake(&id, "again", &anna(), T0 + 10)
            .await
            .unwrap()
    );
    let missing = IntakeId::from_string("intake-none");
    assert!(
        !store
            .edit_intake(&missing, &edit, &anna(), T0)
            .await
            .unwrap()
    );
    assert_eq!(store.intake_record(&missing).await.unwrap(), None);
    guard.cleanup().await;
}

#[tokio::test]
async fn escalations_move_the_level_once_and_are_kept_in_order() {
    let (store, guard) = test_store().await;
    let id = seed(&store).await;
    let first = store
        .record_escalation(&escalation(&id, 1, 2, T0 + 10))
        .await
        .unwrap();
    assert!(first.unwrap().starts_with("esc-"));
    // A second agent who still saw level 1 loses: nothing is written.
    assert_eq!(
        store
            .record_escalation(&escalation(&id, 1, 3, T0 + 11))
            .await
            .unwrap(),
        None
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!((r.status, r.level), (IntakeStatus::Escalated, 2));

    let mut to_vendor = escalation(&id, 2, 3, T0 + 20);
    to_vendor.target = "Dell".into();
    to_vendor.case_ref = Some("DELL-123".into());
    store.record_escalation(&to_vendor).await.unwrap().unwrap();
    let mut back = escalation(&id, 3, 1, T0 + 30);
    back.target = "first level".into();
    store.record_escalation(&back).await.unwrap().unwrap();
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!((r.status, r.level), (IntakeStatus::Open, 1));

    let rows = store.escalations_for_intake(&id).await.unwrap();
    let moves: Vec<(u8, u8, &str, Option<&str>, bool)> = rows
        .iter()
        .map(|e| {
            (
                e.from_level,
                e.to_level,
                e.target.as_str(),
                e.case_ref.as_deref(),
                e.returned,
            )
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            (1, 2, "Network", None, false),
            (2, 3, "Dell", Some("DELL-123"), false),
            (3, 1, "first level", None, true),
        ]
    );
    assert_eq!(rows[0].agent_id, anna());
    assert_eq!(rows[0].at, T0 + 10);
    guard.cleanup().await;
}

#[tokio::test]
async fn check_constraints_guard_levels_channels_and_escalation_rows() {
    let (store, guard) = test_store().await;
    let id = seed(&store).await;
    for (sql, what) in [
        ("UPDATE intakes SET level = 4 WHERE id = $1", "level 4"),
        ("UPDATE intakes SET level = 0 WHERE id = $1", "level 0"),
        (
            "UPDATE intakes SET channel = 'fax' WHERE id = $1",
            "channel fax",
        ),
    ] {
        let res = sqlx::query(sql)
            .bind(id.as_str())
            .execute(store.pool())
            .await;
        assert!(res.is_err(), "{what} accepted");
    }
    let bad = |from: i32, to: i32, returned: i32, agent: &'static str| {
        let store = store.clone();
        let id = id.clone();
        async move {
            sqlx::query(
                "INSERT INTO escalations (id, intake_id, seq, from_level, to_level, target, \
                 reason, agent_id, at, returned) VALUES ($1, $2, $3, $4, $5, 'x', 'y', $6, 0, $7)",
            )
            .bind(format!("esc-{from}{to}{returned}{agent}"))
            .bind(id.as_str())
            .bind(from * 100 + to * 10 + returned)
            .bind(from)
            .bind(to)
            .bind(agent)
            .bind(returned)
            .execute(store.pool())
            .await
        }
    };
    assert!(bad(1, 2, 0, ANNA).await.is_ok());
    assert!(bad(1, 4, 0, ANNA).await.is_err(), "to_level 4");
    assert!(bad(0, 2, 0, ANNA).await.is_err(), "from_level 0");
    assert!(bad(1, 2, 2, ANNA).await.is_err(), "returned 2");
    assert!(bad(1, 2, 0, "agent-ghost").await.is_err(), "unknown agent");
    // Two moves of one intake cannot share a number.
    let dup = sqlx::query(
        "INSERT INTO escalations (id, intake_id, seq, from_level, to_level, target, reason, \
         agent_id, at, returned) VALUES ('esc-dup', $1, 120, 1, 2, 'x', 'y', $2, 0, 0)",
    )
    .bind(id.as_str())
    .bind(ANNA)
    .execute(store.pool())
    .await;
    assert!(dup.is_err(), "duplicate seq accepted");
    guard.cleanup().await;
}

#[tokio::test]
async fn continue_attaches_the_call_and_closes_the_draft() {
    let (store, guard) = test_store().await;
    let existing = seed(&store).await;
    add_call(&store, "call-2", Some("cust-demo-01")).await;
    let second = draft(&store, "call-2", T0 + 100).await;

    assert!(
        store
            .merge_intake(
                &second,
                &existing,
                Some(&CallId::from_string("call-2")),
                &anna(),
                T0 + 200
            )
            .await
            .unwrap()
    );
    let closed = store.intake_record(&second).await.unwrap().unwrap();
    assert_eq!(closed.status, IntakeStatus::Closed);
    assert_eq!(closed.merged_into, Some(existing.clone()));
    let calls: Vec<String> = store
        .intake_call_ids(&existing)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(calls, vec!["call-1", "call-2"]);
    // The second call is now about the existing intake.
    let for_call = store
        .intake_record_for_call(&CallId::from_string("call-2"))
        .await
        .unwrap();
    assert_eq!(for_call.map(|r| r.id), Some(existing.clone()));
    let for_first = store
        .intake_record_for_call(&CallId::from_string("call-1"))
        .await
        .unwrap();
    assert_eq!(for_first.map(|r| r.id), Some(existing.clone()));
    // A closed draft cannot be merged again; an intake cannot continue itself.
    assert!(
        !store
            .merge_intake(&second, &existing, None, &anna(), T0 + 300)
            .await
            .unwrap()
    );
    assert!(
        !store
            .merge_intake(&existing, &existing, None, &anna(), T0 + 300)
            .await
            .unwrap()
    );
    // Open intakes of the customer: the merged draft is gone.
    let open: Vec<IntakeId> = store
        .open_intake_records_for_customer(&CustomerId::from_string("cust-demo-01"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open, vec![existing]);
    guard.cleanup().await;
}

#[tokio::test]
async fn merge_into_a_resolved_intake_writes_nothing() {
    let (store, guard) = test_store().await;
    let existing = seed(&store).await;
    store
        .resolve_intake(&existing, "done", &anna(), T0 + 2)
        .await
        .unwrap();
    add_call(&store, "call-2", None).await;
    let second = draft(&store, "call-2", T0 + 100).await;
    assert!(
        !store
            .merge_intake(
                &second,
                &existing,
                Some(&CallId::from_string("call-2")),
                &anna(),
                T0 + 200
            )
            .await
            .unwrap()
    );
    let r = store.intake_record(&second).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.merged_into),
        (IntakeStatus::Draft, None),
        "rolled back"
    );
    assert_eq!(store.intake_call_ids(&existing).await.unwrap().len(), 1);
    guard.cleanup().await;
}

#[tokio::test]
async fn manual_intakes_lists_and_last_answered_call() {
    let (store, guard) = test_store().await;
    let phone = seed(&store).await;
    let manual = store
        .insert_manual_intake(&NewManualIntake {
            channel: "email",
            customer_id: None,
            caller: None,
            agent_id: anna(),
            at: T0 + 50,
        })
        .await
        .unwrap();
    let r = store.intake_record(&manual).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.channel.as_str(), r.category, r.call_id.clone()),
        (IntakeStatus::Open, "email", Category::Unclassified, None)
    );

    let all = |status: Option<IntakeStatus>, customer: Option<&str>, limit, offset| {
        let store = store.clone();
        let filter = IntakeFilter {
            statuses: status.into_iter().collect(),
            customer_id: customer.map(CustomerId::from_string),
            limit,
            offset,
            ..IntakeFilter::default()
        };
        async move {
            store
                .list_intake_records(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        all(None, None, 10, 0).await,
        vec![manual.clone(), phone.clone()]
    );
    assert_eq!(all(None, None, 1, 1).await, vec![phone.clone()]);
    assert_eq!(
        all(Some(IntakeStatus::Draft), None, 10, 0).await,
        vec![phone.clone()]
    );
    assert_eq!(
        all(None, Some("cust-demo-01"), 10, 0).await,
        vec![phone.clone()]
    );
    assert!(
        all(Some(IntakeStatus::Resolved), None, 10, 0)
            .await
            .is_empty()
    );

    assert_eq!(store.last_answered_call(&anna()).await.unwrap(), None);
    add_call(&store, "call-2", None).await;
    store
        .set_call_connected(&CallId::from_string("call-1"), &anna(), T0 + 10, 5)
        .await
        .unwrap();
    store
        .set_call_connected(&CallId::from_string("call-2"), &anna(), T0 + 90, 5)
        .await
        .unwrap();
    assert_eq!(
        store.last_answered_call(&anna()).await.unwrap(),
        Some(CallId::from_string("call-2"))
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn linking_a_customer_sets_intake_and_call() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    add_call(&store, "call-9", None).await;
    let id = draft(&store, "call-9", T0).await;
    let bas = CustomerId::from_string("cust-demo-02");
    assert!(
        store
            .set_intake_customer(&id, &bas, &anna(), T0 + 1)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(
        (r.customer_id, r.status),
        (Some(bas.clone()), IntakeStatus::Open)
    );
    let call = store
        .get_call(&CallId::from_string("call-9"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.customer_id, Some(bas));
    let ghost = store
        .set_intake_customer(&id, &CustomerId::from_string("cust-ghost"), &anna(), T0)
        .await;
    assert!(
        matches!(ghost, Err(ref e) if e.is_constraint_violation()),
        "{ghost:?}"
    );
    guard.cleanup().await;
}
