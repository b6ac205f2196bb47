//! Tests of customer search, create, edit and numbers over a fresh database with the demo
//! data (SQLite, or PostgreSQL with `TEST_DATABASE_URL`): every typed number form, e-mail and
//! organisation in any case, literal wildcards, and the number rules of a link.

use crate::domain::CustomerId;
use crate::store::testing::test_store;
use crate::store::{CustomerData, CustomerQuery, StoreError};

const T0: i64 = 1_780_000_000_000;

#[tokio::test]
async fn customers_are_searched_created_edited_and_given_numbers() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let names = |q: &'static str| {
        let store = store.clone();
        async move {
            store
                .search_customers(&CustomerQuery::parse(q, "31"), 50, 0)
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("anouk").await, vec!["Anouk de Vries"]);
    assert_eq!(
        names("+31 6 1234 5678").await,
        vec!["Anouk de Vries"],
        "extra number"
    );
    // Issue 10: a number typed in any format finds the customer (issue 4 matched E.164 digits
    // only, so the national form found nobody).
    for typed in [
        "020 1234567",
        "020 123 4567",
        "0201234567",
        "+31 20 123 4567",
        "0031201234567",
        "31201234567",
    ] {
        assert_eq!(names(typed).await, vec!["Anouk de Vries"], "{typed}");
    }
    assert_eq!(names("201234567").await, vec!["Anouk de Vries"]);
    assert_eq!(
        names("06 1234 5678").await,
        vec!["Anouk de Vries"],
        "mobile"
    );
    assert!(
        names("1234").await.contains(&"Anouk de Vries".to_owned()),
        "partial"
    );
    assert_eq!(
        names("A.DEVRIES@zaanwijk").await,
        vec!["Anouk de Vries"],
        "e-mail, any case"
    );
    assert!(
        names("Zaanwijk")
            .await
            .contains(&"Anouk de Vries".to_owned()),
        "organisation"
    );
    assert!(names("%").await.is_empty(), "wildcards are literal");
    assert_eq!(
        store
            .search_customers(&CustomerQuery::parse("", "31"), 3, 0)
            .await
            .unwrap()
            .len(),
        3
    );

    let data = CustomerData {
        name: Some("<script>alert(1)</script>".into()),
        organisation: Some("Acme".into()),
        phone: Some("+31301234599".into()),
        ..CustomerData::default()
    };
    let id = store.insert_customer(&data, T0).await.unwrap();
    let c = store.get_customer(&id).await.unwrap().unwrap();
    assert_eq!(c.name, "<script>alert(1)</script>");
    assert_eq!(
        (c.organisation.as_deref(), c.department),
        (Some("Acme"), None)
    );

    let patch = CustomerData {
        organisation: Some(String::new()),
        email: Some("it@acme.example".into()),
        ..CustomerData::default()
    };
    assert!(store.update_customer(&id, &patch, T0 + 5).await.unwrap());
    let c = store.get_customer(&id).await.unwrap().unwrap();
    assert_eq!(
        (c.organisation, c.email.as_deref()),
        (None, Some("it@acme.example"))
    );
    assert_eq!(
        (c.name.as_str(), c.phone.as_deref(), c.updated_at),
        ("<script>alert(1)</script>", Some("+31301234599"), T0 + 5)
    );
    assert!(
        !store
            .update_customer(&CustomerId::from_string("cust-ghost"), &patch, T0)
            .await
            .unwrap()
    );

    // Numbers: an extra one is added once; the main one and another customer's extra are not.
    assert!(
        store
            .add_customer_number(&id, "+31611112222", "linked", T0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_customer_number(&id, "+31611112222", "linked", T0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_customer_number(&id, "+31301234599", "linked", T0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_customer_number(&id, "+31612345678", "linked", T0)
            .await
            .unwrap(),
        "Anouk's mobile"
    );
    assert_eq!(
        store.get_customer(&id).await.unwrap().unwrap().extra_phones,
        vec!["+31611112222"]
    );
    // A customer without a main number gets it as main number.
    let bare = store
        .insert_customer(
            &CustomerData {
                name: Some("Bare".into()),
                ..CustomerData::default()
            },
            T0,
        )
        .await
        .unwrap();
    assert!(
        store
            .add_customer_number(&bare, "+31688887777", "linked", T0)
            .await
            .unwrap()
    );
    let b = store.get_customer(&bare).await.unwrap().unwrap();
    assert_eq!(
        (b.phone.as_deref(), b.extra_phones.len()),
        (Some("+31688887777"), 0)
    );
    let err: Result<bool, StoreError> = store
        .add_customer_number(
            &CustomerId::from_string("cust-ghost"),
            "+31600000001",
            "x",
            T0,
        )
        .await;
    assert!(!err.unwrap(), "unknown customer: nothing added");
    guard.cleanup().await;
}
