//! Tests of the `calls` repository, on SQLite or on `TEST_DATABASE_URL`'s PostgreSQL.

use super::*;
use crate::store::testing::test_store;

fn new_call(id: &str, arrived_at: i64) -> NewCall {
    NewCall {
        id: CallId::from_string(id),
        sip_call_id: format!("{id}@192.0.2.10"),
        caller: "+31201234567".into(),
        caller_name: Some("Anouk de Vries".into()),
        customer_id: None,
        transport: CallTransport::Udp,
        arrived_at,
    }
}

const T0: i64 = 1_780_000_000_000;

#[tokio::test]
async fn call_life_cycle_is_recorded() {
    let (store, guard) = test_store().await;
    let id = CallId::from_string("call-1");
    store.insert_call(&new_call("call-1", T0)).await.unwrap();

    let fresh = store.get_call(&id).await.unwrap().unwrap();
    assert_eq!(fresh.outcome, Outcome::InProgress);
    assert_eq!(fresh.arrived_at, T0);
    assert_eq!(fresh.answered_at, None);
    assert_eq!(fresh.transport, CallTransport::Udp);
    assert_eq!(fresh.caller_name.as_deref(), Some("Anouk de Vries"));
    assert!(fresh.dtmf_mode.is_empty());

    store.set_call_answered(&id, T0 + 120).await.unwrap();
    store
        .set_call_ivr_ended(&id, T0 + 30_000, Language::En)
        .await
        .unwrap();
    let end = CallEnd {
        ended_at: T0 + 95_000,
        outcome: Outcome::AbandonedQueue,
        hangup_by: Some(HangupBy::Caller),
        end_reason: Some("BYE".into()),
        dtmf_mode: vec![DtmfMode::Rfc4733, DtmfMode::Inband, DtmfMode::Rfc4733],
        // The language the IVR recorded wins over the one given at the end.
        language: Some(Language::Nl),
    };
    assert!(store.finish_call(&id, &end).await.unwrap());

    let row = store.get_call(&id).await.unwrap().unwrap();
    assert_eq!(row.answered_at, Some(T0 + 120));
    assert_eq!(row.ivr_ended_at, Some(T0 + 30_000));
    assert_eq!(row.ended_at, Some(T0 + 95_000));
    assert_eq!(row.language, Some(Language::En));
    assert_eq!(row.outcome, Outcome::AbandonedQueue);
    assert_eq!(row.hangup_by, Some(HangupBy::Caller));
    assert_eq!(row.end_reason.as_deref(), Some("BYE"));
    assert_eq!(row.dtmf_mode, vec![DtmfMode::Rfc4733, DtmfMode::Inband]);
    let stored: Option<String> = sqlx::query_scalar("SELECT dtmf_mode FROM calls WHERE id = $1")
        .bind("call-1")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some("rfc4733,inband"));
    guard.cleanup().await;
}

#[tokio::test]
async fn a_call_ended_in_the_menu_keeps_the_language_it_was_served_in() {
    let (store, guard) = test_store().await;
    let id = CallId::from_string("call-3");
    store.insert_call(&new_call("call-3", T0)).await.unwrap();
    let end = CallEnd {
        ended_at: T0 + 8_000,
        outcome: Outcome::AbandonedIvr,
        hangup_by: Some(HangupBy::Caller),
        end_reason: Some("BYE".into()),
        dtmf_mode: vec![DtmfMode::Info],
        language: Some(Language::En),
    };
    assert!(store.finish_call(&id, &end).await.unwrap());
    let row = store.get_call(&id).await.unwrap().unwrap();
    assert_eq!((row.language, row.ivr_ended_at), (Some(Language::En), None));
    guard.cleanup().await;
}

#[tokio::test]
async fn first_end_wins_and_unknown_calls_are_not_found() {
    let (store, guard) = test_store().await;
    let id = CallId::from_string("call-2");
    store.insert_call(&new_call("call-2", T0)).await.unwrap();
    let cancel = CallEnd {
        ended_at: T0 + 3_000,
        outcome: Outcome::Cancelled,
        hangup_by: Some(HangupBy::Caller),
        end_reason: Some("CANCEL".into()),
        dtmf_mode: vec![],
        language: None,
    };
    assert!(store.finish_call(&id, &cancel).await.unwrap());
    let late = CallEnd {
        ended_at: T0 + 9_000,
        outcome: Outcome::Failed,
        hangup_by: Some(HangupBy::Server),
        end_reason: None,
        dtmf_mode: vec![DtmfMode::Info],
        language: Some(Language::En),
    };
    assert!(!store.finish_call(&id, &late).await.unwrap());
    let row = store.get_call(&id).await.unwrap().unwrap();
    assert_eq!(
        (row.outcome, row.ended_at, row.dtmf_mode),
        (Outcome::Cancelled, Some(T0 + 3_000), vec![])
    );

    let ghost = CallId::from_string("call-ghost");
    assert!(matches!(
        store.finish_call(&ghost, &late).await,
        Err(StoreError::NotFound { what: "call", .. })
    ));
    assert!(matches!(
        store.set_call_answered(&ghost, T0).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.set_call_ivr_ended(&ghost, T0, Language::Nl).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.get_call(&ghost).await.unwrap(), None);
    guard.cleanup().await;
}

#[tokio::test]
async fn duplicate_id_and_unknown_customer_are_refused() {
    let (store, guard) = test_store().await;
    store.insert_call(&new_call("call-3", T0)).await.unwrap();
    let dup = store
        .insert_call(&new_call("call-3", T0))
        .await
        .unwrap_err();
    assert!(dup.is_constraint_violation(), "{dup:?}");

    let mut orphan = new_call("call-4", T0);
    orphan.customer_id = Some(CustomerId::from_string("cust-nobody"));
    let err = store.insert_call(&orphan).await.unwrap_err();
    assert!(err.is_constraint_violation(), "{err:?}");
    assert_eq!(
        store
            .get_call(&CallId::from_string("call-4"))
            .await
            .unwrap(),
        None
    );
    guard.cleanup().await;
}

#[tokio::test]
async fn raw_unnormalised_caller_and_tcp_are_kept() {
    let (store, guard) = test_store().await;
    let mut call = new_call("call-5", T0);
    call.caller = "anonymous".into();
    call.caller_name = None;
    call.transport = CallTransport::Tcp;
    store.insert_call(&call).await.unwrap();
    let row = store.get_call(&call.id).await.unwrap().unwrap();
    assert_eq!(
        (row.caller.as_str(), row.caller_name, row.transport),
        ("anonymous", None, CallTransport::Tcp)
    );
    guard.cleanup().await;
}

#[test]
fn stored_names_round_trip() {
    use Outcome::*;
    for o in [
        InProgress,
        Cancelled,
        AbandonedIvr,
        AbandonedQueue,
        MaxWait,
        Rejected,
        Failed,
        Answered,
    ] {
        assert_eq!(Outcome::parse(o.as_str()), Some(o));
    }
    assert_eq!(Outcome::AbandonedIvr.as_str(), "abandoned_ivr");
    assert_eq!(Outcome::parse("hung_up"), None);
    assert_eq!(HangupBy::parse("server"), Some(HangupBy::Server));
    assert_eq!(CallTransport::parse("tcp"), Some(CallTransport::Tcp));
    assert_eq!(CallTransport::parse("sctp"), None);
}
