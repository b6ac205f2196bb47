//! A scripted day of calls with known answers (issue 5 acceptance): calls answered within and
//! after the threshold, abandoned in the queue and in the IVR, a callback, a voice message,
//! four queues, three agents, escalations and agent state changes, inserted straight into a
//! fresh store (SQLite, or PostgreSQL with `TEST_DATABASE_URL`); every figure is asserted.

use std::collections::BTreeMap;

use super::*;
use crate::store::testing::test_store;

/// 2026-03-02 00:00 in Amsterdam (CET, UTC+1) = 2026-03-01T23:00:00Z.
pub(crate) const T0: i64 = 1_772_406_000_000;
const H: i64 = 3_600_000;
const MIN: i64 = 60_000;
const S: i64 = 1000;
/// The service-level threshold of the script (20 s).
pub(crate) const THRESHOLD_MS: i64 = 20_000;

pub(crate) fn amsterdam(first: &str, last: &str) -> ReportRange {
    ReportRange::new(
        Date::parse(first).unwrap(),
        Date::parse(last).unwrap(),
        Zone::CentralEurope,
    )
    .unwrap()
}

async fn exec(store: &Store, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A queued call: IVR 30 s, then `wait` in the queue; answered calls talk for `talk`.
#[allow(clippy::too_many_arguments)]
async fn call(
    store: &Store,
    id: &str,
    arrived: i64,
    category: Option<&str>,
    outcome: &str,
    wait: Option<i64>,
    talk: Option<i64>,
    agent: Option<&str>,
) {
    let q = |v: Option<&str>| v.map_or("NULL".to_owned(), |s| format!("'{s}'"));
    let n = |v: Option<i64>| v.map_or("NULL".to_owned(), |x| x.to_string());
    let queued = category.map(|_| arrived + 30 * S);
    let connected = talk.and(queued.zip(wait).map(|(q, w)| q + w));
    let ended = match (connected, talk, queued, wait) {
        (Some(c), Some(t), _, _) => c + t,
        (None, _, Some(q), Some(w)) => q + w,
        _ => arrived + 20 * S,
    };
    exec(
        store,
        &format!(
            "INSERT INTO calls (id, sip_call_id, caller, caller_name, customer_id, transport, \
             arrived_at, ended_at, outcome, category, priority, queued_at, wait_ms, agent_id, \
             connected_at) VALUES ('{id}', 'sip-{id}', '+31201234567', NULL, NULL, 'udp', \
             {arrived}, {ended}, '{outcome}', {}, 3, {}, {}, {}, {})",
            q(category),
            n(queued),
            n(wait),
            q(agent),
            n(connected),
        ),
    )
    .await;
}

async fn state(store: &Store, seq: i64, at: i64, agent: &str, from: &str, to: &str) {
    exec(
        store,
        &format!(
            "INSERT INTO events (seq, at, kind, agent_id, payload) VALUES ({seq}, {at}, \
             'agent_state', '{agent}', '{{\"type\":\"agent_state\",\"agent_id\":\"{agent}\",\
             \"from\":\"{from}\",\"to\":\"{to}\",\"reason\":null}}')"
        ),
    )
    .await;
}

#[allow(clippy::too_many_arguments)]
async fn escalation(
    store: &Store,
    id: &str,
    intake: &str,
    seq: i64,
    at: i64,
    from: i64,
    to: i64,
    returned: i64,
) {
    exec(
        store,
        &format!(
            "INSERT INTO escalations (id, intake_id, seq, from_level, to_level, target, reason, \
             agent_id, at, returned) VALUES ('{id}', '{intake}', {seq}, {from}, {to}, \
             'Werkplekbeheer', 'needs a technician', 'agent-a', {at}, {returned})"
        ),
    )
    .await;
}

/// Loads the scripted day (2026-03-02, Amsterdam) plus one call on each neighbouring day.
pub(crate) async fn scripted_day(store: &Store) {
    for (id, name, login) in [
        ("agent-a", "Anna", "anna"),
        ("agent-b", "Bas", "bas"),
        ("agent-c", "Chantal", "chantal"),
    ] {
        exec(
            store,
            &format!(
                "INSERT INTO agents (id, name, login, password_hash, categories, level, \
                 created_at, role) VALUES ('{id}', '{name}', '{login}', 'x', 'hardware', 1, 0, \
                 'agent')"
            ),
        )
        .await;
    }
    let day = T0 + 10 * H;
    let hw = Some("hardware");
    let sw = Some("software");
    call(
        store,
        "h1",
        day,
        hw,
        "answered",
        Some(10 * S),
        Some(300 * S),
        Some("agent-a"),
    )
    .await;
    call(
        store,
        "h2",
        day + MIN,
        hw,
        "answered",
        Some(20 * S),
        Some(120 * S),
        Some("agent-b"),
    )
    .await;
    call(
        store,
        "h3",
        day + 2 * MIN,
        hw,
        "answered",
        Some(45 * S),
        Some(60 * S),
        Some("agent-a"),
    )
    .await;
    call(
        store,
        "h4",
        day + 3 * MIN,
        hw,
        "abandoned_queue",
        Some(30 * S),
        None,
        None,
    )
    .await;
    call(
        store,
        "h5",
        day + 4 * MIN,
        hw,
        "abandoned_queue",
        Some(5 * S),
        None,
        None,
    )
    .await;
    call(
        store,
        "h6",
        day + 5 * MIN,
        hw,
        "callback",
        Some(50 * S),
        None,
        None,
    )
    .await;
    call(
        store,
        "s1",
        day + 6 * MIN,
        sw,
        "answered",
        Some(8 * S),
        Some(200 * S),
        Some("agent-b"),
    )
    .await;
    call(
        store,
        "s2",
        day + 7 * MIN,
        sw,
        "voice_message",
        Some(70 * S),
        None,
        None,
    )
    .await;
    call(
        store,
        "s3",
        day + 8 * MIN,
        sw,
        "max_wait",
        Some(600 * S),
        None,
        None,
    )
    .await;
    let un = Some("unclassified");
    call(
        store,
        "u1",
        day + 9 * MIN,
        un,
        "answered",
        Some(25 * S),
        Some(90_001),
        Some("agent-a"),
    )
    .await;
    call(
        store,
        "i1",
        day + 10 * MIN,
        None,
        "abandoned_ivr",
        None,
        None,
        None,
    )
    .await;
    call(
        store,
        "i2",
        day + 11 * MIN,
        None,
        "cancelled",
        None,
        None,
        None,
    )
    .await;
    // The neighbouring days: 2026-03-01 23:58:20 and 2026-03-03 00:00:00 local.
    call(
        store,
        "b1",
        T0 - 100 * S,
        hw,
        "answered",
        Some(5 * S),
        Some(30 * S),
        Some("agent-b"),
    )
    .await;
    call(
        store,
        "b2",
        T0 + 24 * H,
        hw,
        "answered",
        Some(5 * S),
        Some(30 * S),
        Some("agent-b"),
    )
    .await;

    for (id, call_id, category) in [
        ("in1", "h1", "hardware"),
        ("in2", "s1", "software"),
        ("in3", "h3", "hardware"),
    ] {
        exec(
            store,
            &format!(
                "INSERT INTO intakes (id, call_id, caller, category, priority, status, \
                 created_at, updated_at) VALUES ('{id}', '{call_id}', '+31201234567', \
                 '{category}', 3, 'escalated', {day}, {day})"
            ),
        )
        .await;
    }
    escalation(store, "e1", "in1", 1, day + H, 1, 2, 0).await;
    escalation(store, "e2", "in1", 2, day + 2 * H, 2, 3, 0).await;
    escalation(store, "e3", "in2", 1, day + H, 1, 2, 0).await;
    escalation(store, "e4", "in3", 1, day + H, 1, 2, 0).await;
    escalation(store, "e5", "in3", 2, day + 3 * H, 2, 1, 1).await;
    // The next day: not in the report of 2026-03-02.
    escalation(store, "e6", "in2", 2, T0 + 24 * H + 1, 2, 3, 0).await;

    // Anna: available since the evening before; a call, lunch break, home at 17:00.
    state(store, 1, T0 - H, "agent-a", "offline", "available").await;
    state(store, 2, T0 + 9 * H, "agent-a", "available", "ringing").await;
    state(
        store,
        3,
        T0 + 9 * H + 10 * S,
        "agent-a",
        "ringing",
        "on_call",
    )
    .await;
    state(
        store,
        4,
        T0 + 9 * H + 10 * MIN,
        "agent-a",
        "on_call",
        "wrap_up",
    )
    .await;
    state(
        store,
        5,
        T0 + 9 * H + 11 * MIN,
        "agent-a",
        "wrap_up",
        "not_ready",
    )
    .await;
    state(store, 6, T0 + 12 * H, "agent-a", "not_ready", "available").await;
    state(store, 7, T0 + 17 * H, "agent-a", "available", "offline").await;
    // Bas: 08:00–16:00, and the next morning (outside the range).
    state(store, 8, T0 + 8 * H, "agent-b", "offline", "available").await;
    state(store, 9, T0 + 16 * H, "agent-b", "available", "offline").await;
    state(store, 10, T0 + 25 * H, "agent-b", "offline", "available").await;
}

fn levels(two: u64, three: u64) -> BTreeMap<String, u64> {
    BTreeMap::from([("2".to_owned(), two), ("3".to_owned(), three)])
}

#[allow(clippy::too_many_arguments)]
fn figures(
    queue: &'static str,
    counts: [u64; 8],
    avg_wait_ms: Option<i64>,
    p90_wait_ms: Option<i64>,
    avg_handle_ms: Option<i64>,
    service_level: Option<f64>,
    escalations: BTreeMap<String, u64>,
    returned: u64,
) -> QueueFigures {
    let [
        offered,
        answered,
        within,
        abandoned,
        after,
        callbacks,
        voice_messages,
        max_wait,
    ] = counts;
    QueueFigures {
        queue,
        offered,
        answered,
        answered_within_threshold: within,
        abandoned,
        abandoned_after_threshold: after,
        callbacks,
        voice_messages,
        max_wait,
        avg_wait_ms,
        p90_wait_ms,
        avg_handle_ms,
        service_level,
        escalations,
        returned,
    }
}

#[tokio::test]
async fn daily_report_of_the_scripted_day() {
    let (store, guard) = test_store().await;
    scripted_day(&store).await;
    let days = store
        .daily_report(&amsterdam("2026-03-02", "2026-03-02"), THRESHOLD_MS)
        .await
        .unwrap();
    assert_eq!(days.len(), 1);
    let d = &days[0];
    assert_eq!(d.date, "2026-03-02");
    assert_eq!(d.calls, 12);
    assert_eq!(d.abandoned_ivr, 1);
    // Hardware: SL = 2 within (10 s, 20 s) / (3 answered + 1 abandoned after 20 s).
    let hardware = figures(
        "hardware",
        [6, 3, 2, 2, 1, 1, 0, 0],
        Some(25_000),
        Some(45_000),
        Some(160_000),
        Some(0.5),
        levels(2, 1),
        1,
    );
    let software = figures(
        "software",
        [3, 1, 1, 0, 0, 0, 1, 1],
        Some(8_000),
        Some(8_000),
        Some(200_000),
        Some(1.0),
        levels(1, 0),
        0,
    );
    let service = figures("service", [0; 8], None, None, None, None, levels(0, 0), 0);
    let unclassified = figures(
        "unclassified",
        [1, 1, 0, 0, 0, 0, 0, 0],
        Some(25_000),
        Some(25_000),
        Some(90_001),
        Some(0.0),
        levels(0, 0),
        0,
    );
    assert_eq!(d.queues, vec![hardware, software, service, unclassified]);
    // All queues: waits 8, 10, 20, 25, 45 s (mean 21.6 s, p90 rank 5); talk sums to 770,001 ms.
    let all = figures(
        "all",
        [10, 5, 3, 2, 1, 1, 1, 1],
        Some(21_600),
        Some(45_000),
        Some(154_000),
        Some(0.5),
        levels(3, 1),
        1,
    );
    assert_eq!(d.all, all);
    guard.cleanup().await;
}

#[tokio::test]
async fn days_are_cut_at_local_midnight() {
    let (store, guard) = test_store().await;
    scripted_day(&store).await;
    let days = store
        .daily_report(&amsterdam("2026-03-01", "2026-03-03"), THRESHOLD_MS)
        .await
        .unwrap();
    let dates: Vec<&str> = days.iter().map(|d| d.date.as_str()).collect();
    assert_eq!(dates, ["2026-03-01", "2026-03-02", "2026-03-03"]);
    let calls: Vec<u64> = days.iter().map(|d| d.calls).collect();
    assert_eq!(calls, [1, 12, 1]);
    assert_eq!(days[0].queues[0].answered, 1);
    assert_eq!(days[2].queues[0].avg_wait_ms, Some(5_000));
    assert_eq!(days[2].queues[1].escalations, levels(0, 1));
    // In UTC, b1 (22:58:20Z on 1 March) stays on 1 March, and b2 (23:00Z on 2 March) moves
    // to 2 March.
    let utc = ReportRange::new(
        Date::parse("2026-03-02").unwrap(),
        Date::parse("2026-03-02").unwrap(),
        Zone::Utc,
    )
    .unwrap();
    let days = store.daily_report(&utc, THRESHOLD_MS).await.unwrap();
    assert_eq!(days[0].calls, 13);
    guard.cleanup().await;
}

fn states(pairs: [(&str, i64); 6]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[tokio::test]
async fn agent_report_of_the_scripted_day() {
    let (store, guard) = test_store().await;
    scripted_day(&store).await;
    let range = amsterdam("2026-03-02", "2026-03-02");
    let agents = store.agent_report(&range, T0 + 30 * H).await.unwrap();
    let ids: Vec<&str> = agents.iter().map(|a| a.agent_id.as_str()).collect();
    assert_eq!(ids, ["agent-a", "agent-b", "agent-c"]);
    let anna = &agents[0];
    assert_eq!(anna.name, "Anna");
    // h1 300 s, h3 60 s, u1 90.001 s.
    assert_eq!((anna.calls, anna.handle_ms), (3, 450_001));
    assert_eq!(anna.avg_handle_ms, Some(150_000));
    assert_eq!(
        anna.state_ms,
        states([
            ("offline", 7 * H),
            ("available", 14 * H),
            ("ringing", 10 * S),
            ("on_call", 10 * MIN - 10 * S),
            ("wrap_up", MIN),
            ("not_ready", 2 * H + 49 * MIN),
        ])
    );
    let bas = &agents[1];
    // h2 120 s and s1 200 s; b1 and b2 were connected on the neighbouring days.
    assert_eq!(
        (bas.calls, bas.handle_ms, bas.avg_handle_ms),
        (2, 320_000, Some(160_000))
    );
    assert_eq!(bas.state_ms["available"], 8 * H);
    assert_eq!(bas.state_ms["offline"], 16 * H);
    let chantal = &agents[2];
    assert_eq!(
        (chantal.calls, chantal.handle_ms, chantal.avg_handle_ms),
        (0, 0, None)
    );
    assert_eq!(chantal.state_ms["offline"], 24 * H);
    // Asked at noon, the day so far: Anna's lunch has lasted 2 h 49 min, nothing offline yet.
    let noon = store.agent_report(&range, T0 + 12 * H).await.unwrap();
    assert_eq!(noon[0].state_ms["not_ready"], 2 * H + 49 * MIN);
    assert_eq!(noon[0].state_ms["offline"], 0);
    assert_eq!(noon[0].state_ms.values().sum::<i64>(), 12 * H);
    guard.cleanup().await;
}

#[tokio::test]
async fn exports_cover_the_range_only() {
    let (store, guard) = test_store().await;
    scripted_day(&store).await;
    // h1 was answered in the browser; its worst figures go to the export.
    let h1_id = crate::domain::CallId::from_string("h1");
    store
        .set_call_agent_device(&h1_id, crate::domain::Device::Browser)
        .await
        .unwrap();
    let sample = crate::store::QualitySample {
        call_id: h1_id,
        at: T0 + 10 * H + 60_000,
        source: crate::store::QualitySource::Server,
        packets_received: Some(3_000),
        packets_lost: Some(75),
        loss_pct: Some(2.5),
        jitter_ms: Some(31.0),
        rtt_ms: Some(1.0 / 3.0),
        voiced_to_agent_ms: None,
        voiced_from_agent_ms: None,
        audio_level: None,
    };
    store.record_quality(&sample).await.unwrap();
    let range = amsterdam("2026-03-02", "2026-03-02");
    let calls = store.export_calls(&range).await.unwrap();
    assert_eq!(calls.rows.len(), 12);
    assert_eq!(calls.columns.len(), calls.rows[0].len());
    let h1 = &calls.rows[0];
    assert_eq!(h1[0], Cell::Text("h1".into()));
    assert_eq!(h1[1], Cell::Int(T0 + 10 * H));
    assert_eq!(h1[2], Cell::Text("2026-03-02 10:00:00".into()));
    assert_eq!(h1[15], Cell::Int(300_000), "talk_ms");
    assert_eq!(
        calls.columns[20..],
        ["agent_device", "loss_pct", "jitter_ms", "rtt_ms"]
    );
    let text = |s: &str| Cell::Text(s.into());
    assert_eq!(
        h1[20..],
        [text("browser"), text("2.5"), text("31"), text("0.333")]
    );
    assert_eq!(
        calls.rows[1][20..],
        [Cell::Null, Cell::Null, Cell::Null, Cell::Null]
    );
    let intakes = store.export_intakes(&range).await.unwrap();
    assert_eq!(intakes.rows.len(), 3);
    let escalations = store.export_escalations(&range).await.unwrap();
    let ids: Vec<&Cell> = escalations.rows.iter().map(|r| &r[0]).collect();
    assert_eq!(
        ids,
        [
            &text("e1"),
            &text("e3"),
            &text("e4"),
            &text("e2"),
            &text("e5")
        ]
    );
    guard.cleanup().await;
}

/// Regression (issue 10): the daily report counted only `outcome = 'answered'`, so a caller an
/// agent picked up whose line then dropped (`failed`), or who was still talking, was not
/// "answered" in the report while the live tile counted them.
#[tokio::test]
async fn answered_means_an_agent_picked_up_as_on_the_live_tile() {
    let (store, guard) = test_store().await;
    scripted_day(&store).await;
    let day = T0 + 10 * H;
    let base = store
        .daily_report(&amsterdam("2026-03-02", "2026-03-02"), THRESHOLD_MS)
        .await
        .unwrap()[0]
        .queues[0]
        .answered;
    // Picked up after 5 s, then the line dropped.
    call(
        &store,
        "dropped",
        day + H,
        Some("hardware"),
        "failed",
        Some(5 * S),
        Some(60 * S),
        Some("agent-a"),
    )
    .await;
    // Picked up, still talking: no end, no outcome yet.
    call(
        &store,
        "talking",
        day + 2 * H,
        Some("hardware"),
        "in_progress",
        Some(5 * S),
        Some(60 * S),
        Some("agent-a"),
    )
    .await;
    exec(
        &store,
        "UPDATE calls SET ended_at = NULL WHERE id = 'talking'",
    )
    .await;
    // Failed before anyone picked up: not answered.
    call(
        &store,
        "lost",
        day + 3 * H,
        Some("hardware"),
        "failed",
        Some(5 * S),
        None,
        None,
    )
    .await;
    let hw = &store
        .daily_report(&amsterdam("2026-03-02", "2026-03-02"), THRESHOLD_MS)
        .await
        .unwrap()[0]
        .queues[0];
    assert_eq!(hw.answered, base + 2, "both calls an agent picked up");
    guard.cleanup().await;
}
