//! Tests of vendor cases over a fresh database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): opened by the hand-off to a vendor, kept up to date, reminded once per
//! follow-up date (time passed in, so the schedule is tested without waiting), and closed,
//! which returns the intake to its owner at the second level.

use crate::store::testing::test_store;
use crate::store::worklist::tests::{T0, agent, escalate, intake};
use crate::store::{NoteKind, VendorCaseEdit, WorkState};

const HOUR: i64 = 3_600_000;

#[tokio::test]
async fn a_vendor_case_is_followed_up_once_per_date_and_closing_returns_the_intake() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let id = intake(&store, "+31201234567", Some(2), T0).await;
    escalate(&store, &id, 1, 2, "Workplace", "anna").await;
    let eva = agent("eva");
    assert!(
        store
            .claim_intake(&id, &eva, None, "", T0 + 600)
            .await
            .unwrap()
    );
    escalate(&store, &id, 2, 3, "Dell", "eva").await;
    let cases = store
        .vendor_cases_for_intakes(std::slice::from_ref(&id))
        .await
        .unwrap();
    let case = cases[&id][0].clone();
    assert_eq!(
        (case.vendor.as_str(), case.status.as_str()),
        ("Dell", "open")
    );
    assert_eq!(case.created_by.as_ref(), Some(&eva));

    // Nothing is due before a follow-up date is set.
    assert_eq!(store.next_follow_up().await.unwrap(), None);
    let edit = VendorCaseEdit {
        case_ref: Some("DELL-778812".into()),
        contact: Some("Dell ProSupport, +31 20 674 4000".into()),
        promised_at: Some(T0 + 24 * HOUR),
        follow_up_at: Some(T0 + 48 * HOUR),
    };
    assert!(
        store
            .edit_vendor_case(&case.id, &edit, "case DELL-778812", &eva, T0 + 700)
            .await
            .unwrap()
    );
    assert_eq!(store.next_follow_up().await.unwrap(), Some(T0 + 48 * HOUR));
    assert!(
        store
            .due_follow_ups(T0 + 48 * HOUR - 1, 10)
            .await
            .unwrap()
            .is_empty(),
        "not yet"
    );
    let due = store.due_follow_ups(T0 + 48 * HOUR, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        due[0].remind.as_ref(),
        Some(&eva),
        "the intake's owner is reminded"
    );
    assert_eq!(due[0].case.case_ref.as_deref(), Some("DELL-778812"));
    assert!(
        store
            .mark_reminded(&case.id, T0 + 48 * HOUR, T0 + 48 * HOUR)
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_reminded(&case.id, T0 + 48 * HOUR, T0 + 48 * HOUR)
            .await
            .unwrap(),
        "once"
    );
    assert!(
        store
            .due_follow_ups(T0 + 100 * HOUR, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Still on the owner's list of due follow-ups until the date moves.
    assert_eq!(
        store
            .follow_ups_for(&eva, T0 + 49 * HOUR)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .follow_ups_for(&agent("gijs"), T0 + 49 * HOUR)
            .await
            .unwrap()
            .is_empty()
    );
    // A new date is reminded again; a reminder for the old date is refused.
    let later = VendorCaseEdit {
        follow_up_at: Some(T0 + 72 * HOUR),
        ..VendorCaseEdit::default()
    };
    assert!(
        store
            .edit_vendor_case(&case.id, &later, "chase again", &eva, T0 + 49 * HOUR)
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_reminded(&case.id, T0 + 48 * HOUR, T0 + 49 * HOUR)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .due_follow_ups(T0 + 72 * HOUR, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // Closing returns it to eva at the second level, in Workplace, in progress.
    assert!(
        store
            .close_vendor_case(&case.id, "BIOS update fixed it", &eva, T0 + 80 * HOUR)
            .await
            .unwrap()
    );
    assert!(
        !store
            .close_vendor_case(&case.id, "again", &eva, T0 + 81 * HOUR)
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!((r.level, r.group_name.as_deref()), (2, Some("Workplace")));
    assert_eq!(
        (r.owner_id.as_ref(), r.work_state),
        (Some(&eva), Some(WorkState::InProgress))
    );
    assert!(
        store
            .due_follow_ups(T0 + 100 * HOUR, 10)
            .await
            .unwrap()
            .is_empty(),
        "closed"
    );
    assert!(
        !store
            .edit_vendor_case(&case.id, &later, "x", &eva, T0 + 82 * HOUR)
            .await
            .unwrap()
    );
    let notes = store
        .notes_for_intakes(std::slice::from_ref(&id))
        .await
        .unwrap();
    let vendor: Vec<&str> = notes[&id]
        .iter()
        .filter(|n| n.kind == NoteKind::Vendor)
        .map(|n| n.body.as_str())
        .collect();
    assert_eq!(
        vendor,
        vec![
            "opened with Dell",
            "case DELL-778812",
            "chase again",
            "Dell closed: BIOS update fixed it"
        ]
    );
    let closed = store.vendor_case(&case.id).await.unwrap().unwrap();
    assert_eq!(
        (closed.status.as_str(), closed.outcome.as_deref()),
        ("closed", Some("BIOS update fixed it"))
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn a_case_without_an_owner_reminds_whoever_opened_it() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let id = intake(&store, "+31201234567", Some(3), T0).await;
    // The first level hands it straight to a vendor: nobody owns the intake.
    escalate(&store, &id, 1, 3, "Microsoft", "anna").await;
    let case = store
        .vendor_cases_for_intakes(std::slice::from_ref(&id))
        .await
        .unwrap()[&id][0]
        .clone();
    let edit = VendorCaseEdit {
        follow_up_at: Some(T0 + HOUR),
        ..VendorCaseEdit::default()
    };
    assert!(
        store
            .edit_vendor_case(&case.id, &edit, "chase", &agent("anna"), T0 + 1)
            .await
            .unwrap()
    );
    let due = store.due_follow_ups(T0 + HOUR, 10).await.unwrap();
    assert_eq!(due[0].remind.as_ref(), Some(&agent("anna")));
    // Closing with no level-2 group to go back to keeps it at level 3, unowned.
    assert!(
        store
            .close_vendor_case(
                &case.id,
                "known issue, patch in May",
                &agent("anna"),
                T0 + 2
            )
            .await
            .unwrap()
    );
    let r = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!((r.level, r.work_state), (3, None));
    guard.cleanup().await;
}
