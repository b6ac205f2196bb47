//! Tests of the second level's work over a fresh database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): work states with their notes and SLA pauses, the owner guard, what
//! escalations and outcomes do to the state, and edits refused when the stored text moved on.

use crate::store::testing::test_store;
use crate::store::worklist::tests::{T0, agent, escalate, intake};
use crate::store::{IntakeEdit, NoteKind, SlaPause, WorkRefusal, WorkState};

#[tokio::test]
async fn work_states_pause_the_sla_while_waiting_for_the_customer() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let id = intake(&store, "+31201234567", Some(2), T0).await;
    let eva = agent("eva");
    // At the first level there is no work state to set.
    assert_eq!(
        store
            .set_work_state(&id, &eva, WorkState::InProgress, "", T0 + 1)
            .await
            .unwrap(),
        Err(WorkRefusal::NotEscalated)
    );
    escalate(&store, &id, 1, 2, "Applications", "anna").await;
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(r.work_state, None, "nobody works it yet");
    assert_eq!(
        r.responded_at,
        Some(T0 + 500),
        "the escalation answered the caller"
    );

    // Setting a state on an unclaimed intake claims it.
    store
        .set_work_state(
            &id,
            &eva,
            WorkState::WaitingCustomer,
            "asked for the log",
            T0 + 1_000,
        )
        .await
        .unwrap()
        .unwrap();
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(r.work_state, Some(WorkState::WaitingCustomer));
    assert_eq!(
        (r.owner_id.as_ref(), r.claimed_at),
        (Some(&eva), Some(T0 + 1_000))
    );
    // Waiting again does not start a second pause.
    store
        .set_work_state(&id, &eva, WorkState::WaitingCustomer, "", T0 + 1_500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .set_work_state(&id, &agent("gijs"), WorkState::InProgress, "", T0 + 1_600)
            .await
            .unwrap(),
        Err(WorkRefusal::OwnedByOther)
    );
    store
        .set_work_state(&id, &eva, WorkState::InProgress, "", T0 + 2_000)
        .await
        .unwrap()
        .unwrap();
    store
        .set_work_state(&id, &eva, WorkState::WaitingCustomer, "", T0 + 3_000)
        .await
        .unwrap()
        .unwrap();
    // Resolving ends the pause in progress and the work state.
    assert!(
        store
            .resolve_intake(&id, "fixed", &eva, T0 + 4_000)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(r.work_state, None);
    let pauses = store
        .sla_pauses_for_intakes(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(
        pauses[&id],
        vec![
            SlaPause {
                started_at: T0 + 1_000,
                ended_at: Some(T0 + 2_000)
            },
            SlaPause {
                started_at: T0 + 3_000,
                ended_at: Some(T0 + 4_000)
            },
        ]
    );
    let notes = store
        .notes_for_intakes(std::slice::from_ref(&id))
        .await
        .unwrap();
    let states: Vec<(NoteKind, &str)> = notes[&id]
        .iter()
        .filter(|n| n.kind == NoteKind::Status)
        .map(|n| (n.kind, n.body.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            (NoteKind::Status, "waiting_customer: asked for the log"),
            (NoteKind::Status, "waiting_customer"),
            (NoteKind::Status, "in_progress"),
            (NoteKind::Status, "waiting_customer"),
        ]
    );
    assert_eq!(
        store
            .set_work_state(&id, &eva, WorkState::InProgress, "", T0 + 5_000)
            .await
            .unwrap(),
        Err(WorkRefusal::NotEscalated),
        "a resolved intake has no work state"
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn claims_and_escalations_set_the_work_state() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let id = intake(&store, "+31201234567", Some(3), T0).await;
    escalate(&store, &id, 1, 2, "Applications", "anna").await;
    let eva = agent("eva");
    assert!(
        store
            .claim_intake(&id, &eva, None, "", T0 + 600)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(
        r.work_state,
        Some(WorkState::InProgress),
        "a claim starts the work"
    );
    store
        .set_work_state(&id, &eva, WorkState::WaitingCustomer, "", T0 + 700)
        .await
        .unwrap()
        .unwrap();
    // The owner hands it to a vendor: still theirs, now waiting for the vendor; the pause ends.
    escalate(&store, &id, 2, 3, "Dell", "eva").await;
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(r.work_state, Some(WorkState::WaitingVendor));
    assert_eq!(r.owner_id.as_ref(), Some(&eva));
    let pauses = store
        .sla_pauses_for_intakes(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(pauses[&id].len(), 1);
    assert!(
        pauses[&id][0].ended_at.is_some(),
        "the escalation ended the pause"
    );
    // Someone else's move leaves it unclaimed with no work state.
    let other = intake(&store, "+31201234568", Some(3), T0).await;
    escalate(&store, &other, 1, 2, "Applications", "anna").await;
    assert!(
        store
            .claim_intake(&other, &eva, None, "", T0 + 600)
            .await
            .unwrap()
    );
    escalate(&store, &other, 2, 3, "Dell", "gijs").await;
    let r = store.intake_record(&other).await.unwrap().unwrap();
    assert_eq!((r.work_state, r.owner_id), (None, None));
    guard.cleanup().await;
}

#[tokio::test]
async fn an_edit_from_an_old_copy_of_the_text_is_refused() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let id = intake(&store, "+31201234567", Some(3), T0).await;
    let edit = |title: &str, seen: Option<&str>| IntakeEdit {
        title: Some(title.into()),
        seen_title: seen.map(str::to_owned),
        ..IntakeEdit::default()
    };
    let (anna, eva) = (agent("anna"), agent("eva"));
    // Both desks start from the empty title; Anna saves first.
    assert!(
        store
            .edit_intake(&id, &edit("Printer", Some("")), &anna, T0 + 1)
            .await
            .unwrap()
    );
    assert!(
        !store
            .edit_intake(&id, &edit("VPN", Some("")), &eva, T0 + 2)
            .await
            .unwrap(),
        "Eva's copy is stale: refused"
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(
        (r.title.as_deref(), r.updated_by.as_ref()),
        (Some("Printer"), Some(&anna))
    );
    assert_eq!(
        r.responded_at,
        Some(T0 + 1),
        "the first edit is the response"
    );
    // From the current text it goes through; without a seen value it is not checked.
    assert!(
        store
            .edit_intake(&id, &edit("VPN", Some("Printer")), &eva, T0 + 3)
            .await
            .unwrap()
    );
    assert!(
        store
            .edit_intake(&id, &edit("Mail", None), &anna, T0 + 4)
            .await
            .unwrap()
    );
    let description = IntakeEdit {
        description: Some("slow".into()),
        seen_description: Some("something else".into()),
        ..IntakeEdit::default()
    };
    assert!(
        !store
            .edit_intake(&id, &description, &anna, T0 + 5)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!((r.title.as_deref(), r.description), (Some("Mail"), None));
    guard.cleanup().await;
}
