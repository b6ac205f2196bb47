//! Tests of `call_quality`, the quality columns of `calls` and the agents' device, on SQLite or
//! on `TEST_DATABASE_URL`'s PostgreSQL.

use super::*;
use crate::domain::AgentId;
use crate::store::testing::test_store;
use crate::store::{CallTransport, NewCall};

const T0: i64 = 1_780_000_000_000;

async fn call(store: &Store, id: &str) -> CallId {
    store
        .insert_call(&NewCall {
            id: CallId::from_string(id),
            sip_call_id: format!("{id}@192.0.2.10"),
            caller: "+31201234567".into(),
            caller_name: None,
            customer_id: None,
            transport: CallTransport::Udp,
            arrived_at: T0,
        })
        .await
        .unwrap();
    CallId::from_string(id)
}

fn sample(call: &CallId, at: i64, source: QualitySource) -> QualitySample {
    QualitySample {
        call_id: call.clone(),
        at,
        source,
        packets_received: None,
        packets_lost: None,
        loss_pct: None,
        jitter_ms: None,
        rtt_ms: None,
        voiced_to_agent_ms: None,
        voiced_from_agent_ms: None,
        audio_level: None,
    }
}

/// The quality columns of a call: (loss, jitter, rtt, voiced to, voiced from, reconnects).
type Folded = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<i64>,
    Option<i64>,
    i64,
);

async fn folded(store: &Store, id: &CallId) -> Folded {
    let row = sqlx::query(
        "SELECT loss_pct, jitter_ms, rtt_ms, voiced_to_agent_ms, voiced_from_agent_ms, \
         browser_reconnects FROM calls WHERE id = $1",
    )
    .bind(id.as_str())
    .fetch_one(store.pool())
    .await
    .unwrap();
    (
        get(&row, "loss_pct", "t").unwrap(),
        get(&row, "jitter_ms", "t").unwrap(),
        get(&row, "rtt_ms", "t").unwrap(),
        get(&row, "voiced_to_agent_ms", "t").unwrap(),
        get(&row, "voiced_from_agent_ms", "t").unwrap(),
        get(&row, "browser_reconnects", "t").unwrap(),
    )
}

#[tokio::test]
async fn samples_are_kept_in_order_and_the_call_keeps_the_worst() {
    let (store, guard) = test_store().await;
    let id = call(&store, "call-q1").await;
    assert_eq!(folded(&store, &id).await, (None, None, None, None, None, 0));

    let first = QualitySample {
        packets_received: Some(250),
        packets_lost: Some(5),
        loss_pct: Some(2.0),
        jitter_ms: Some(12.5),
        rtt_ms: Some(40.0),
        voiced_to_agent_ms: Some(3_000),
        voiced_from_agent_ms: Some(0),
        ..sample(&id, T0 + 5_000, QualitySource::Server)
    };
    store.record_quality(&first).await.unwrap();
    // A browser sample with only jitter and RTT: worse jitter, better RTT, no loss measured.
    let second = QualitySample {
        jitter_ms: Some(31.0),
        rtt_ms: Some(10.0),
        audio_level: Some(0.25),
        ..sample(&id, T0 + 6_000, QualitySource::Browser)
    };
    store.record_quality(&second).await.unwrap();
    assert_eq!(
        folded(&store, &id).await,
        (Some(2.0), Some(31.0), Some(40.0), Some(3_000), Some(0), 0)
    );
    // Better figures do not replace the worst; the voiced counts follow the latest sample.
    let third = QualitySample {
        loss_pct: Some(0.5),
        jitter_ms: Some(3.0),
        rtt_ms: Some(1.0),
        voiced_to_agent_ms: Some(8_000),
        voiced_from_agent_ms: Some(6_500),
        ..sample(&id, T0 + 10_000, QualitySource::Server)
    };
    store.record_quality(&third).await.unwrap();
    // Not measurements: NaN, infinity and negative values are stored as NULL, change nothing.
    let broken = QualitySample {
        loss_pct: Some(f64::NAN),
        jitter_ms: Some(-2.0),
        rtt_ms: Some(f64::INFINITY),
        ..sample(&id, T0 + 11_000, QualitySource::Browser)
    };
    store.record_quality(&broken).await.unwrap();
    assert_eq!(
        folded(&store, &id).await,
        (
            Some(2.0),
            Some(31.0),
            Some(40.0),
            Some(8_000),
            Some(6_500),
            0
        )
    );
    let worse = QualitySample {
        loss_pct: Some(7.5),
        ..sample(&id, T0 + 15_000, QualitySource::Browser)
    };
    store.record_quality(&worse).await.unwrap();
    assert_eq!(folded(&store, &id).await.0, Some(7.5));

    let stored = store.call_quality(&id).await.unwrap();
    let expected_broken = QualitySample {
        loss_pct: None,
        jitter_ms: None,
        rtt_ms: None,
        ..broken
    };
    assert_eq!(stored, vec![first, second, third, expected_broken, worse]);
    // Another call's samples are its own.
    let other = call(&store, "call-q2").await;
    assert!(store.call_quality(&other).await.unwrap().is_empty());
    guard.cleanup().await;
}

#[tokio::test]
async fn unknown_calls_are_not_found_and_nothing_is_stored() {
    let (store, guard) = test_store().await;
    let ghost = CallId::from_string("call-none");
    let err = store
        .record_quality(&sample(&ghost, T0, QualitySource::Server))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "call", .. }),
        "{err:?}"
    );
    assert!(store.call_quality(&ghost).await.unwrap().is_empty());
    assert!(matches!(
        store.set_call_agent_device(&ghost, Device::Browser).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.add_browser_reconnect(&ghost).await,
        Err(StoreError::NotFound { .. })
    ));
    guard.cleanup().await;
}

#[tokio::test]
async fn call_device_and_reconnects_are_recorded() {
    let (store, guard) = test_store().await;
    let id = call(&store, "call-q3").await;
    let device = || async {
        sqlx::query_scalar::<_, Option<String>>("SELECT agent_device FROM calls WHERE id = $1")
            .bind("call-q3")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    assert_eq!(device().await, None);
    store
        .set_call_agent_device(&id, Device::Browser)
        .await
        .unwrap();
    assert_eq!(device().await.as_deref(), Some("browser"));
    store.add_browser_reconnect(&id).await.unwrap();
    store.add_browser_reconnect(&id).await.unwrap();
    assert_eq!(folded(&store, &id).await.5, 2);
    guard.cleanup().await;
}

#[tokio::test]
async fn agent_device_defaults_to_phone_and_can_be_switched() {
    let (store, guard) = test_store().await;
    store.load_demo().await.unwrap();
    let anna = AgentId::from_string("agent-demo-anna");
    let femke = AgentId::from_string("agent-demo-femke");
    assert_eq!(
        store.agent_device(&anna).await.unwrap(),
        Some(Device::Phone)
    );
    assert_eq!(
        store.agent_device(&femke).await.unwrap(),
        Some(Device::Browser)
    );
    let row = store.get_agent(&femke).await.unwrap().unwrap();
    assert_eq!((row.device, row.extension), (Device::Browser, None));

    assert!(
        store
            .set_agent_device(&anna, Device::Browser)
            .await
            .unwrap()
    );
    assert_eq!(
        store.agent_device(&anna).await.unwrap(),
        Some(Device::Browser)
    );
    let listed = store.list_agents().await.unwrap();
    let anna_row = listed.iter().find(|a| a.id == anna).unwrap();
    assert_eq!(anna_row.device, Device::Browser);

    let nobody = AgentId::from_string("agent-none");
    assert_eq!(store.agent_device(&nobody).await.unwrap(), None);
    assert!(
        !store
            .set_agent_device(&nobody, Device::Phone)
            .await
            .unwrap()
    );
    // The column refuses anything but the two devices (a hand edit cannot add a third).
    let bad = sqlx::query("UPDATE agents SET device = 'fax' WHERE id = $1")
        .bind(anna.as_str())
        .execute(store.pool())
        .await;
    assert!(bad.is_err());
    guard.cleanup().await;
}

/// Regression: sqlx 0.9's `Any` driver binds a NULL `f64` as PostgreSQL `float4`, so a sample
/// without loss followed by one with loss failed on the connection that prepared the statement
/// with the NULL ("incorrect binary data format in bind parameter 2"). Alternating samples
/// over more rounds than the pool has connections reaches every connection both ways.
#[tokio::test]
async fn samples_with_and_without_figures_alternate_on_every_connection() {
    let (store, guard) = test_store().await;
    let id = call(&store, "call-q4").await;
    for i in 0..30_i32 {
        let figure = (i % 2 == 1).then_some(f64::from(i));
        let s = QualitySample {
            loss_pct: figure,
            jitter_ms: figure,
            rtt_ms: figure,
            audio_level: figure.map(|f| f / 100.0),
            ..sample(&id, T0 + i64::from(i), QualitySource::Browser)
        };
        store.record_quality(&s).await.unwrap();
    }
    let stored = store.call_quality(&id).await.unwrap();
    assert_eq!(stored.len(), 30);
    assert_eq!(
        (stored[0].loss_pct, stored[29].loss_pct),
        (None, Some(29.0))
    );
    assert_eq!(folded(&store, &id).await.0, Some(29.0));
    guard.cleanup().await;
}

/// Migration 6 replaced `calls.hangup_by` to allow `agent`: old values are kept, `agent` is
/// stored and read back, anything else is still refused by the column's CHECK.
#[tokio::test]
async fn hang_up_by_the_agent_is_stored_and_other_values_are_refused() {
    use crate::store::{CallEnd, HangupBy, Outcome};
    let (store, guard) = test_store().await;
    let id = call(&store, "call-q5").await;
    let end = CallEnd {
        ended_at: T0 + 60_000,
        outcome: Outcome::Answered,
        hangup_by: Some(HangupBy::Agent),
        end_reason: Some("hung up in the desk".into()),
        dtmf_mode: Vec::new(),
        language: None,
    };
    assert!(store.finish_call(&id, &end).await.unwrap());
    let row = store.get_call(&id).await.unwrap().unwrap();
    assert_eq!(row.hangup_by, Some(HangupBy::Agent));
    let bad = sqlx::query("UPDATE calls SET hangup_by = 'nobody' WHERE id = $1")
        .bind(id.as_str())
        .execute(store.pool())
        .await;
    assert!(bad.is_err(), "the CHECK constraint is gone");
    guard.cleanup().await;
}
