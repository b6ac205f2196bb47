//! Tests of the directory's customer upserts over a fresh database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): insert then update by external id, extra numbers replaced, a number
//! shared through the extra numbers lists candidates, people unseen by a run deactivated and
//! no longer recognised, hand edits leave synced fields alone, and the run history.

use super::*;
use crate::store::CustomerData;
use crate::store::testing::test_store;

const T0: i64 = 1_780_000_000_000;

fn person(id: &str, name: &str, phone: &str, extra: &[&str]) -> DirectoryPerson {
    DirectoryPerson {
        external_id: id.into(),
        name: name.into(),
        department: Some("ICT".into()),
        phone: Some(phone.into()),
        extra_phones: extra
            .iter()
            .map(|n| ((*n).into(), "mobile".into()))
            .collect(),
        ..DirectoryPerson::default()
    }
}

const ALL: SyncedFields = SyncedFields {
    organisation: true,
    department: true,
    email: true,
    phone: true,
    extra_phones: true,
    location: true,
    notes: true,
};

#[tokio::test]
async fn people_are_upserted_by_external_id_with_their_numbers() {
    let (store, guard) = test_store().await;
    let batch = [
        person("u-1", "Ada Lovelace", "+31201110001", &["+31611110001"]),
        person("u-2", "Bob Baker", "+31201110002", &["+31200000000"]),
        person("u-3", "Reception", "+31200000000", &[]),
    ];
    let counts = store
        .upsert_directory_people(&batch, CustomerSource::Ldap, ALL, T0)
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 3,
            updated: 0
        }
    );
    let ada = store
        .find_customer_by_phone("+31611110001")
        .await
        .unwrap()
        .expect("ada by her mobile");
    assert_eq!(ada.name, "Ada Lovelace");
    assert_eq!(ada.department.as_deref(), Some("ICT"));
    // The reception number is Bob's extra number and Reception's main one: candidates.
    assert_eq!(
        store.find_customer_by_phone("+31200000000").await.unwrap(),
        None
    );
    let names: Vec<String> = (store.customers_by_phone("+31200000000").await.unwrap())
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Bob Baker", "Reception"]);

    // The second run renames Ada, drops her mobile and gives her another.
    let mut ada2 = person("u-1", "Ada King", "+31201110001", &["+31622220001"]);
    ada2.department = Some("Research".into());
    let counts = store
        .upsert_directory_people(&[ada2], CustomerSource::Ldap, ALL, T0 + 10)
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            inserted: 0,
            updated: 1
        }
    );
    let again = store.get_customer(&ada.id).await.unwrap().unwrap();
    assert_eq!(again.name, "Ada King");
    assert_eq!(again.department.as_deref(), Some("Research"));
    assert_eq!(again.extra_phones, ["+31622220001"]);
    assert_eq!(
        store.find_customer_by_phone("+31611110001").await.unwrap(),
        None,
        "the dropped mobile no longer identifies her"
    );
    assert_eq!(store.count_customers(false).await.unwrap(), 3);
    guard.cleanup().await;
}

#[tokio::test]
async fn people_the_run_did_not_see_are_deactivated_and_not_recognised() {
    let (store, guard) = test_store().await;
    let both = [
        person("u-1", "Ada", "+31201110001", &[]),
        person("u-2", "Bob", "+31201110002", &["+31612220002"]),
    ];
    store
        .upsert_directory_people(&both, CustomerSource::Ldap, ALL, T0)
        .await
        .unwrap();
    // A hand-made customer is never deactivated by a sync.
    let manual = CustomerData {
        name: Some("Walk-in".into()),
        phone: Some("+31209999999".into()),
        ..CustomerData::default()
    };
    store.insert_customer(&manual, T0).await.unwrap();

    let run2 = T0 + 1000;
    store
        .upsert_directory_people(&both[..1], CustomerSource::Ldap, ALL, run2)
        .await
        .unwrap();
    let gone = store
        .deactivate_unseen(CustomerSource::Ldap, run2, run2 + 5)
        .await
        .unwrap();
    assert_eq!(gone, 1);
    for number in ["+31201110002", "+31612220002"] {
        assert_eq!(
            store.find_customer_by_phone(number).await.unwrap(),
            None,
            "{number}"
        );
        assert!(store.customers_by_phone(number).await.unwrap().is_empty());
    }
    let (_, source, active, _) = store.directory_state("u-2").await.unwrap().unwrap();
    assert_eq!((source.as_str(), active), ("ldap", false));
    assert!(
        store
            .find_customer_by_phone("+31209999999")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.count_customers(true).await.unwrap(), 2);
    assert_eq!(store.count_customers(false).await.unwrap(), 3);

    // Bob comes back: active again.
    store
        .upsert_directory_people(&both, CustomerSource::Ldap, ALL, run2 + 10)
        .await
        .unwrap();
    assert!(
        store
            .find_customer_by_phone("+31612220002")
            .await
            .unwrap()
            .is_some()
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn a_hand_edit_keeps_the_synced_fields_and_a_sync_keeps_the_hand_ones() {
    let (store, guard) = test_store().await;
    let fields = SyncedFields {
        department: true,
        phone: true,
        ..SyncedFields::default()
    };
    store
        .upsert_directory_people(
            &[person("u-1", "Ada", "+31201110001", &[])],
            CustomerSource::Csv,
            fields,
            T0,
        )
        .await
        .unwrap();
    let (id, _, _, synced) = store.directory_state("u-1").await.unwrap().unwrap();
    assert_eq!(synced, "name,department,phone");
    let edit = CustomerData {
        name: Some("Someone Else".into()),
        department: Some("Sales".into()),
        notes: Some("prefers e-mail".into()),
        ..CustomerData::default()
    };
    assert!(store.update_customer(&id, &edit, T0 + 1).await.unwrap());
    let c = store.get_customer(&id).await.unwrap().unwrap();
    assert_eq!(c.name, "Ada", "the name is the source's");
    assert_eq!(c.department.as_deref(), Some("ICT"), "synced: kept");
    assert_eq!(
        c.notes.as_deref(),
        Some("prefers e-mail"),
        "not synced: edited"
    );

    // The next import leaves the hand-written notes alone.
    store
        .upsert_directory_people(
            &[person("u-1", "Ada", "+31201110001", &[])],
            CustomerSource::Csv,
            fields,
            T0 + 2,
        )
        .await
        .unwrap();
    let c = store.get_customer(&id).await.unwrap().unwrap();
    assert_eq!(c.notes.as_deref(), Some("prefers e-mail"));
    guard.cleanup().await;
}

#[tokio::test]
async fn runs_are_recorded_with_their_counts_and_errors() {
    let (store, guard) = test_store().await;
    let ok = store.start_sync_run("ldap", T0).await.unwrap();
    let outcome = SyncOutcome {
        seen: 5,
        counts: UpsertCounts {
            inserted: 4,
            updated: 1,
        },
        deactivated: 2,
        rejected: 1,
        error: None,
    };
    store.finish_sync_run(&ok, T0 + 3, &outcome).await.unwrap();
    let bad = store.start_sync_run("ldap", T0 + 10).await.unwrap();
    let failed = SyncOutcome {
        error: Some("bind refused".into()),
        ..SyncOutcome::default()
    };
    store.finish_sync_run(&bad, T0 + 11, &failed).await.unwrap();
    let runs = store.recent_sync_runs("ldap", 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (runs[0].status.as_str(), runs[0].error.as_deref()),
        ("failed", Some("bind refused"))
    );
    assert_eq!(
        (
            runs[1].status.as_str(),
            runs[1].seen,
            runs[1].inserted,
            runs[1].deactivated
        ),
        ("ok", 5, 4, 2)
    );
    assert_eq!(runs[1].finished_at, Some(T0 + 3));
    assert!(store.recent_sync_runs("csv", 10).await.unwrap().is_empty());
    guard.cleanup().await;
}

#[tokio::test]
async fn a_person_given_twice_in_a_batch_counts_once_as_the_last() {
    let (store, guard) = test_store().await;
    let batch = [
        person("u-1", "Ada", "+31201110001", &["+31611110001"]),
        person("u-1", "Ada King", "+31201110001", &["+31622220001"]),
    ];
    let counts = store
        .upsert_directory_people(&batch, CustomerSource::Csv, ALL, T0)
        .await
        .unwrap();
    assert_eq!((counts.inserted, counts.updated), (1, 0));
    let c = store
        .find_customer_by_phone("+31622220001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c.name.as_str(), c.extra_phones.len()), ("Ada King", 1));
    // More than one statement's worth of people, numbers included.
    let many: Vec<DirectoryPerson> = (0..450)
        .map(|i| {
            person(
                &format!("m-{i}"),
                "M",
                &format!("+3130{i:07}"),
                &[&format!("+3160{i:07}")],
            )
        })
        .collect();
    let counts = store
        .upsert_directory_people(&many, CustomerSource::Csv, ALL, T0 + 1)
        .await
        .unwrap();
    assert_eq!(counts.inserted, 450);
    assert!(
        store
            .find_customer_by_phone("+31600000449")
            .await
            .unwrap()
            .is_some()
    );
    guard.cleanup().await;
}
