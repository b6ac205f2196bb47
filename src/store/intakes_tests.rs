//! Tests of the `intakes` repository and its CHECK and foreign-key constraints.

use super::*;
use crate::store::testing::test_store;
use crate::store::{CallTransport, NewCall};

const T0: i64 = 1_780_000_000_000;

async fn seed(store: &Store) {
    sqlx::query("INSERT INTO customers (id, name, phone, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
        .bind("cust-a")
        .bind("Anouk de Vries")
        .bind("+31201234567")
        .bind(T0)
        .execute(store.pool())
        .await
        .unwrap();
    store
        .insert_call(&NewCall {
            id: CallId::from_string("call-1"),
            sip_call_id: "abc@192.0.2.1".into(),
            caller: "+31201234567".into(),
            caller_name: None,
            customer_id: Some(CustomerId::from_string("cust-a")),
            transport: CallTransport::Udp,
            arrived_at: T0,
        })
        .await
        .unwrap();
}

fn draft(created_at: i64) -> NewIntake {
    NewIntake {
        call_id: Some(CallId::from_string("call-1")),
        customer_id: Some(CustomerId::from_string("cust-a")),
        caller: Some("+31201234567".into()),
        category: Category::Software,
        priority: Priority::new(2),
        language: Some(Language::Nl),
        ivr_path: "lang=1,cat=2,prio=2".into(),
        dtmf_mode: vec![DtmfMode::Info],
        description: None,
        created_at,
    }
}

#[tokio::test]
async fn draft_is_stored_and_read_back() {
    let (store, guard) = test_store().await;
    seed(&store).await;
    let id = store.insert_intake(&draft(T0 + 20_000)).await.unwrap();
    assert!(id.as_str().starts_with("intake-"));
    let row = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(row.id, id);
    assert_eq!(row.call_id, Some(CallId::from_string("call-1")));
    assert_eq!(row.customer_id, Some(CustomerId::from_string("cust-a")));
    assert_eq!(row.category, Category::Software);
    assert_eq!(row.priority, Priority::new(2));
    assert_eq!(row.language, Some(Language::Nl));
    assert_eq!(row.ivr_path, "lang=1,cat=2,prio=2");
    assert_eq!(row.dtmf_modes().unwrap(), vec![DtmfMode::Info]);
    assert_eq!(row.status, IntakeStatus::Draft);
    assert_eq!((row.created_at, row.updated_at), (T0 + 20_000, T0 + 20_000));
    assert_eq!(
        store
            .intake_record(&IntakeId::from_string("intake-none"))
            .await
            .unwrap(),
        None
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn unclassified_without_priority_or_call() {
    let (store, guard) = test_store().await;
    let intake = NewIntake {
        call_id: None,
        customer_id: None,
        caller: None,
        category: Category::Unclassified,
        priority: None,
        language: None,
        ivr_path: String::new(),
        dtmf_mode: vec![],
        description: Some("opened by hand".into()),
        created_at: T0,
    };
    let id = store.insert_intake(&intake).await.unwrap();
    let row = store.intake_record(&id).await.unwrap().unwrap();
    assert_eq!(
        (row.category, row.priority, row.call_id),
        (Category::Unclassified, None, None)
    );
    assert_eq!(row.description.as_deref(), Some("opened by hand"));
    guard.cleanup().await;
}

#[tokio::test]
async fn intakes_for_call_and_open_for_customer() {
    let (store, guard) = test_store().await;
    seed(&store).await;
    let first = store.insert_intake(&draft(T0 + 1)).await.unwrap();
    let second = store.insert_intake(&draft(T0 + 2)).await.unwrap();
    let resolved = store.insert_intake(&draft(T0 + 3)).await.unwrap();
    sqlx::query("UPDATE intakes SET status = 'resolved' WHERE id = $1")
        .bind(resolved.as_str())
        .execute(store.pool())
        .await
        .unwrap();

    let for_call: Vec<IntakeId> = store
        .intakes_for_call(&CallId::from_string("call-1"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(for_call, vec![first.clone(), second.clone(), resolved]);
    let open: Vec<IntakeId> = store
        .open_intake_records_for_customer(&CustomerId::from_string("cust-a"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(open, vec![second, first], "newest first, resolved left out");
    assert!(
        store
            .intakes_for_call(&CallId::from_string("call-x"))
            .await
            .unwrap()
            .is_empty()
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn unknown_call_or_customer_is_refused() {
    let (store, guard) = test_store().await;
    seed(&store).await;
    let mut bad_call = draft(T0);
    bad_call.call_id = Some(CallId::from_string("call-ghost"));
    let err = store.insert_intake(&bad_call).await.unwrap_err();
    assert!(err.is_constraint_violation(), "{err:?}");
    let mut bad_customer = draft(T0);
    bad_customer.customer_id = Some(CustomerId::from_string("cust-ghost"));
    assert!(
        store
            .insert_intake(&bad_customer)
            .await
            .unwrap_err()
            .is_constraint_violation()
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn check_constraints_guard_category_priority_and_status() {
    let (store, guard) = test_store().await;
    let insert = "INSERT INTO intakes (id, category, priority, status, created_at, updated_at) \
                  VALUES ($1, $2, $3, $4, 0, 0)";
    let cases: [(&str, &str, Option<i32>, &str, bool); 7] = [
        ("i-ok", "hardware", Some(1), "draft", true),
        ("i-ok5", "service", Some(5), "open", true),
        ("i-null", "unclassified", None, "draft", true),
        ("i-cat", "printer", Some(3), "draft", false),
        ("i-p0", "software", Some(0), "draft", false),
        ("i-p6", "software", Some(6), "draft", false),
        ("i-status", "software", Some(3), "pending", false),
    ];
    for (id, category, priority, status, ok) in cases {
        let res = sqlx::query(insert)
            .bind(id)
            .bind(category)
            .bind(priority)
            .bind(status)
            .execute(store.pool())
            .await;
        assert_eq!(res.is_ok(), ok, "{id}: {res:?}");
    }
    guard.cleanup().await;
}

#[test]
fn search_words_are_distinct_lower_cased_and_in_order() {
    use crate::store::search_text;
    assert_eq!(
        search_text(
            Some("Outlook CRASH"),
            Some("outlook crashes,  ÉÉN keer"),
            None
        ),
        "outlook crash crashes, één keer"
    );
    assert_eq!(search_text(None, None, Some("")), "");
    assert_eq!(search_text(Some("a\nb"), None, Some("B c")), "a b c");
}
