//! Tests of claims, release, reopen and notes over a fresh database (SQLite, or PostgreSQL
//! with `TEST_DATABASE_URL`): racing claims with one winner, the guards, the group and owner
//! kept by escalations, and the answered calls with their intakes.

use crate::domain::{CallId, Category, IntakeId, Priority};
use crate::store::testing::test_store;
use crate::store::worklist::tests::{T0, agent, escalate, intake};
use crate::store::{IntakeStatus, NewIntake, NoteKind};

#[tokio::test]
async fn two_claims_at_once_have_one_winner_and_release_and_reopen_are_guarded() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let id = intake(&store, "+31201234567", Some(2), T0).await;
    escalate(&store, &id, 1, 2, "Applications", "anna").await;
    let race: Vec<_> = ["eva", "gijs"]
        .into_iter()
        .map(|who| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move {
                store
                    .claim_intake(&id, &agent(who), None, "", T0 + 600)
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for r in race {
        won += usize::from(r.await.unwrap().unwrap());
    }
    assert_eq!(won, 1, "exactly one claim wins");
    let owner = store
        .intake_record(&id)
        .await
        .unwrap()
        .unwrap()
        .owner_id
        .unwrap();
    let other = if owner == agent("eva") {
        agent("gijs")
    } else {
        agent("eva")
    };
    // Release only by the owner the caller saw.
    assert!(
        !store
            .release_intake(&id, &other, &other, "", T0 + 700)
            .await
            .unwrap()
    );
    assert!(
        store
            .release_intake(&id, &owner, &owner, "", T0 + 700)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!((r.owner_id, r.claimed_at), (None, None));

    // Reopen: only a resolved intake, back to escalated at level 2 with its group.
    assert!(
        !store
            .reopen_intake(&id, &other, "again", T0 + 800)
            .await
            .unwrap()
    );
    assert!(
        store
            .resolve_intake(&id, "fixed", &other, T0 + 900)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_intake(&id, &other, None, "", T0 + 950)
            .await
            .unwrap(),
        "final"
    );
    assert!(
        store
            .reopen_intake(&id, &other, "it came back", T0 + 1000)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(
        (r.status, r.level, r.group_name.as_deref(), r.resolved_at),
        (IntakeStatus::Escalated, 2, Some("Applications"), None)
    );
    let notes = store
        .notes_for_intakes(std::slice::from_ref(&id))
        .await
        .unwrap();
    let kinds: Vec<(NoteKind, &str)> = notes[&id]
        .iter()
        .map(|n| (n.kind, n.body.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (NoteKind::Claimed, ""),
            (NoteKind::Released, ""),
            (NoteKind::Reopened, "it came back")
        ]
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn escalations_keep_group_and_owner_coherent() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let id = intake(&store, "+31201234567", Some(2), T0).await;
    let record = |id: IntakeId| {
        let store = store.clone();
        async move {
            let r = store.intake_record(&id).await.unwrap().unwrap();
            (r.level, r.group_name, r.owner_id)
        }
    };
    assert_eq!(record(id.clone()).await, (1, None, None));
    escalate(&store, &id, 1, 2, "Network", "anna").await;
    assert!(
        store
            .claim_intake(&id, &agent("gijs"), None, "", T0 + 600)
            .await
            .unwrap()
    );
    // The owner moves it to the vendor and keeps it.
    escalate(&store, &id, 2, 3, "Cisco", "gijs").await;
    assert_eq!(
        record(id.clone()).await,
        (3, Some("Cisco".into()), Some(agent("gijs")))
    );
    // Back to the first level: no group, nobody's.
    escalate(&store, &id, 3, 1, "first level", "anna").await;
    assert_eq!(record(id.clone()).await, (1, None, None));
    // Someone else's escalation leaves it unclaimed in its new place.
    escalate(&store, &id, 1, 2, "Servers", "anna").await;
    assert!(
        store
            .claim_intake(&id, &agent("gijs"), None, "", T0 + 700)
            .await
            .unwrap()
    );
    escalate(&store, &id, 2, 3, "Dell", "eva").await;
    assert_eq!(record(id.clone()).await, (3, Some("Dell".into()), None));
    // A note goes on a resolved intake (history), never on a closed one.
    assert!(
        store
            .resolve_intake(&id, "Dell replaced the disk", &agent("eva"), T0 + 800)
            .await
            .unwrap()
    );
    assert!(
        store
            .add_note(&id, &agent("eva"), "checked", T0 + 900)
            .await
            .unwrap()
            .is_some()
    );
    sqlx::query("UPDATE intakes SET status = 'closed' WHERE id = $1")
        .bind(id.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    assert!(
        store
            .add_note(&id, &agent("eva"), "late", T0 + 950)
            .await
            .unwrap()
            .is_none()
    );
    let missing = IntakeId::from_string("intake-missing");
    assert!(
        store
            .add_note(&missing, &agent("eva"), "x", T0)
            .await
            .unwrap()
            .is_none()
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn answered_calls_carry_their_intake() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let anna = agent("anna");
    for (call, at) in [("call-a", T0), ("call-b", T0 + 100), ("call-c", T0 + 200)] {
        store
            .insert_call(&crate::store::NewCall {
                id: CallId::from_string(call),
                sip_call_id: format!("{call}@192.0.2.1"),
                caller: "+31201234567".into(),
                caller_name: None,
                customer_id: Some(crate::domain::CustomerId::from_string("cust-demo-01")),
                transport: crate::store::CallTransport::Udp,
                arrived_at: at,
            })
            .await
            .unwrap();
    }
    let draft_a = store
        .insert_intake(&NewIntake {
            call_id: Some(CallId::from_string("call-a")),
            customer_id: None,
            caller: Some("+31201234567".into()),
            category: Category::Hardware,
            priority: Priority::new(2),
            language: None,
            ivr_path: String::new(),
            dtmf_mode: vec![],
            description: None,
            created_at: T0,
        })
        .await
        .unwrap();
    let draft_b = intake(&store, "+31201234567", None, T0 + 100).await;
    sqlx::query("UPDATE intakes SET call_id = 'call-b' WHERE id = $1")
        .bind(draft_b.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    // call-b continued intake a: the attached intake wins over its own draft.
    assert!(
        store
            .merge_intake(
                &draft_b,
                &draft_a,
                Some(&CallId::from_string("call-b")),
                &anna,
                T0 + 150
            )
            .await
            .unwrap()
    );
    store
        .set_call_connected(&CallId::from_string("call-a"), &anna, T0 + 10, 5)
        .await
        .unwrap();
    store
        .set_call_connected(&CallId::from_string("call-b"), &anna, T0 + 110, 5)
        .await
        .unwrap();
    store
        .set_call_connected(&CallId::from_string("call-c"), &agent("bas"), T0 + 210, 5)
        .await
        .unwrap();
    let calls = store.answered_calls(&anna, 10, 0).await.unwrap();
    let shown: Vec<(&str, Option<&str>, Option<&str>)> = calls
        .iter()
        .map(|c| {
            (
                c.call_id.as_str(),
                c.intake.as_ref().map(|i| i.id.as_str()),
                c.customer_name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("call-b", Some(draft_a.as_str()), Some("Anouk de Vries")),
            ("call-a", Some(draft_a.as_str()), Some("Anouk de Vries"))
        ]
    );
    assert_eq!(
        calls[0].intake.as_ref().unwrap().ticket_no.as_deref(),
        Some("FL-2026-00001")
    );
    assert_eq!(store.answered_calls(&anna, 1, 1).await.unwrap().len(), 1);
    guard.cleanup().await;
}
