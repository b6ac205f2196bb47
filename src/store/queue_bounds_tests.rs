//! Tests of the store bounds of issue 11 (one open callback per number, voice messages per
//! number and day), on SQLite or on `TEST_DATABASE_URL`'s PostgreSQL.

use super::*;
use crate::store::testing::test_store;
use crate::store::{CallTransport, NewCall};

const T0: i64 = 1_780_000_000_000;

fn callback(call: &str, number: &str) -> NewCallback {
    NewCallback {
        call_id: Some(CallId::from_string(call)),
        intake_id: None,
        number: number.into(),
        contact: None,
        category: Category::Hardware,
        priority: None,
        queued_at: T0,
        requested_at: T0 + 1,
    }
}

async fn call(store: &Store, id: &str, caller: &str) {
    store
        .insert_call(&NewCall {
            id: CallId::from_string(id),
            sip_call_id: format!("{id}@192.0.2.10"),
            caller: caller.into(),
            caller_name: None,
            customer_id: None,
            transport: CallTransport::Udp,
            arrived_at: T0,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn one_open_callback_per_number() {
    let (store, guard) = test_store().await;
    for id in ["c1", "c2", "c3"] {
        call(&store, id, "+31201234567").await;
    }
    let CallbackInsert::Stored(first) = store
        .insert_callback_once(&callback("c1", "+31201234567"))
        .await
        .unwrap()
    else {
        panic!("the first request is stored")
    };
    assert_eq!(
        store
            .insert_callback_once(&callback("c2", "+31201234567"))
            .await
            .unwrap(),
        CallbackInsert::AlreadyOpen(first.clone())
    );
    // Another number is not affected.
    assert!(matches!(
        store
            .insert_callback_once(&callback("c2", "+31207654321"))
            .await
            .unwrap(),
        CallbackInsert::Stored(_)
    ));
    // Once it is done, the number may ask again.
    store
        .set_callback_status(&first, "done", None, T0 + 5)
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_callback_once(&callback("c3", "+31201234567"))
            .await
            .unwrap(),
        CallbackInsert::Stored(_)
    ));
    assert_eq!(store.open_callbacks().await.unwrap().len(), 2);
    guard.cleanup().await;
}

/// On PostgreSQL the one-statement check (INSERT … WHERE NOT EXISTS) let two requests at the
/// same moment both pass (read committed); the partial unique index now decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_requests_from_one_number_store_one_callback() {
    let (store, guard) = test_store().await;
    for i in 0..16 {
        call(&store, &format!("r{i}"), "+31201234567").await;
    }
    let tries = (0..16).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .insert_callback_once(&callback(&format!("r{i}"), "+31201234567"))
                .await
                .unwrap()
        })
    });
    let mut stored = Vec::new();
    let mut already = Vec::new();
    for t in tries {
        match t.await.unwrap() {
            CallbackInsert::Stored(id) => stored.push(id),
            CallbackInsert::AlreadyOpen(id) => already.push(id),
        }
    }
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(already.iter().all(|id| *id == stored[0]), "{already:?}");
    assert_eq!(store.open_callbacks().await.unwrap().len(), 1);
    guard.cleanup().await;
}

#[tokio::test]
async fn voice_messages_are_counted_per_number_and_window() {
    let (store, guard) = test_store().await;
    call(&store, "v1", "+31201234567").await;
    call(&store, "v2", "+31201234567").await;
    call(&store, "v3", "+31209999999").await;
    for (id, at) in [
        ("v1", T0 - 2 * 86_400_000),
        ("v1", T0),
        ("v2", T0 + 10),
        ("v3", T0),
    ] {
        store
            .insert_voice_message(&NewVoiceMessage {
                call_id: Some(CallId::from_string(id)),
                intake_id: None,
                path: format!("/tmp/{id}-{at}.wav"),
                duration_ms: 1000,
                created_at: at,
            })
            .await
            .unwrap();
    }
    let since = T0 - 86_400_000;
    assert_eq!(
        store
            .voice_messages_from("+31201234567", since)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .voice_messages_from("+31209999999", since)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .voice_messages_from("+31200000000", since)
            .await
            .unwrap(),
        0
    );
    guard.cleanup().await;
}
