//! Tests of ticket numbers over a fresh database (SQLite, or PostgreSQL with
//! `TEST_DATABASE_URL`): per local calendar year, unique, distinct under concurrent inserts,
//! and the backfill of older rows (oldest first, once).

use crate::domain::IntakeId;
use crate::store::reports::{Date, Zone};
use crate::store::testing::test_store;
use crate::store::worklist::tests::{T0, agent, all, ids, intake};
use crate::store::{IntakeFilter, NewManualIntake, TextQuery, format_ticket_no};

#[tokio::test]
async fn ticket_numbers_count_per_local_year_and_are_unique() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let a = intake(&store, "+31201234567", Some(2), T0).await;
    let b = intake(&store, "+31201234567", Some(2), T0 + 1).await;
    let manual = store
        .insert_manual_intake(&NewManualIntake {
            channel: "desk",
            customer_id: None,
            caller: None,
            agent_id: agent("anna"),
            at: T0 + 2,
        })
        .await
        .unwrap();
    // New Year in Amsterdam is 23:00 UTC: 30 minutes later it is 2027 there, not in UTC.
    let new_year = Zone::CentralEurope.day_start_ms(Date::new(2027, 1, 1).unwrap());
    let late = intake(&store, "+31201234567", None, new_year - 1).await;
    let next = intake(&store, "+31201234567", None, new_year + 1_800_000).await;
    let ticket = |id: IntakeId| {
        let store = store.clone();
        async move { store.intake_record(&id).await.unwrap().unwrap().ticket_no }
    };
    assert_eq!(ticket(a).await.as_deref(), Some("FL-2026-00001"));
    assert_eq!(ticket(b).await.as_deref(), Some("FL-2026-00002"));
    assert_eq!(ticket(manual).await.as_deref(), Some("FL-2026-00003"));
    assert_eq!(ticket(late).await.as_deref(), Some("FL-2026-00004"));
    assert_eq!(ticket(next).await.as_deref(), Some("FL-2027-00001"));
    // The unique index refuses a copied number.
    let dup = sqlx::query(
        "UPDATE intakes SET ticket_no = 'FL-2026-00001' WHERE ticket_no = 'FL-2026-00002'",
    )
    .execute(store.pool())
    .await;
    assert!(dup.is_err(), "duplicate ticket number accepted");
    guard.cleanup().await;
}

#[tokio::test]
async fn concurrent_inserts_get_distinct_numbers() {
    let (store, guard) = test_store().await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { intake(&store, "+31201234567", Some(3), T0 + i).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut numbers: Vec<String> = sqlx::query_scalar("SELECT ticket_no FROM intakes")
        .fetch_all(store.pool())
        .await
        .unwrap();
    numbers.sort();
    let expected: Vec<String> = (1..=20).map(|n| format_ticket_no(2026, n)).collect();
    assert_eq!(numbers, expected);
    guard.cleanup().await;
}

#[tokio::test]
async fn older_rows_are_numbered_once_oldest_first() {
    let (store, guard) = test_store().await;
    let kept = intake(&store, "+31201234567", None, T0).await;
    for (id, at, title) in [
        ("intake-old-2", T0 - 10, "Outlook Crash"),
        ("intake-old-1", T0 - 20, "VPN"),
    ] {
        sqlx::query(
            "INSERT INTO intakes (id, category, ivr_path, status, title, created_at, updated_at) \
             VALUES ($1, 'software', '', 'open', $2, $3, $3)",
        )
        .bind(id)
        .bind(title)
        .bind(at)
        .execute(store.pool())
        .await
        .unwrap();
    }
    assert_eq!(store.backfill_ticket_numbers().await.unwrap(), 2);
    assert_eq!(
        store.backfill_ticket_numbers().await.unwrap(),
        0,
        "idempotent"
    );
    let number = |id: &'static str| {
        let store = store.clone();
        async move {
            let r = store
                .intake_record(&IntakeId::from_string(id))
                .await
                .unwrap()
                .unwrap();
            r.ticket_no.unwrap()
        }
    };
    assert_eq!(number("intake-old-1").await, "FL-2026-00002");
    assert_eq!(number("intake-old-2").await, "FL-2026-00003");
    let first = store.intake_record(&kept).await.unwrap().unwrap();
    assert_eq!(first.ticket_no.as_deref(), Some("FL-2026-00001"));
    // The backfill filled the text the word search reads.
    let found = ids(
        &store,
        IntakeFilter {
            text: TextQuery::parse("outlook", "31"),
            ..all(10)
        },
    )
    .await;
    assert_eq!(found, vec![IntakeId::from_string("intake-old-2")]);
    guard.cleanup().await;
}
