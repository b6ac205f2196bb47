//! The live model driven by scripted events and engine snapshots (no I/O, no clock).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{CALLERS_SHOWN, LiveModel};
use crate::acd::{
    AcdSnapshot, AgentSnapshot, AgentState, EntryId, EntryKind, EntrySnapshot, QueueSnapshot,
};
use crate::domain::{AgentId, CallId, Category, CustomerId, Device, Priority};
use crate::events::{Event, EventKind};
use crate::store::{DayCalls, EscalationCount};
use crate::supervisor::SupervisorConfig;

/// 2026-01-01 08:00:00 UTC.
const T0: i64 = 1_767_254_400_000;

fn ev(at: i64, kind: EventKind) -> Arc<Event> {
    Arc::new(Event { seq: 0, at, kind })
}

fn call(id: &str) -> CallId {
    CallId::from_string(id)
}

fn anna() -> AgentId {
    AgentId::from_string("agent-demo-anna")
}

fn arrived(m: &mut LiveModel, at: i64, id: &str, caller: &str, customer: Option<&str>) {
    m.apply(&ev(
        at,
        EventKind::CallArrived {
            call_id: call(id),
            caller: caller.into(),
            customer_id: customer.map(CustomerId::from_string),
        },
    ));
}

fn queued(m: &mut LiveModel, at: i64, id: &str) {
    m.apply(&ev(
        at,
        EventKind::CallQueued {
            call_id: call(id),
            category: Category::Hardware,
            priority: Priority::new(2),
        },
    ));
}

fn entry(id: &str, cat: Category, prio: u8, waited_s: u64, base: Instant) -> EntrySnapshot {
    EntrySnapshot {
        id: EntryId::from_string(id),
        kind: EntryKind::Call,
        category: cat,
        priority: Priority::new(prio).unwrap(),
        effective_priority: Priority::new(prio).unwrap(),
        arrived: base,
        waited: Duration::from_secs(waited_s),
        offer: None,
    }
}

#[test]
fn a_scripted_morning_gives_the_reference_figures() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    arrived(&mut m, T0, "c1", "+31201234567", None);
    arrived(&mut m, T0 + 1_000, "c2", "+31612345678", Some("cust-1"));
    arrived(&mut m, T0 + 2_000, "c3", "+31698765432", None);
    assert_eq!(m.sections()["in_ivr"], 3);
    queued(&mut m, T0 + 10_000, "c1");
    queued(&mut m, T0 + 11_000, "c2");
    // A second call_queued for the same call (moved) is not offered twice.
    queued(&mut m, T0 + 12_000, "c2");
    m.apply(&ev(
        T0 + 25_000,
        EventKind::CallConnected {
            call_id: call("c1"),
            agent_id: anna(),
            waited_ms: 15_000,
        },
    ));
    // c2 leaves the queue after 30 s (past the 20 s threshold); c3 hangs up in the IVR.
    m.apply(&ev(
        T0 + 41_000,
        EventKind::CallEnded {
            call_id: call("c2"),
            outcome: "abandoned_queue".into(),
        },
    ));
    m.apply(&ev(
        T0 + 42_000,
        EventKind::CallEnded {
            call_id: call("c3"),
            outcome: "abandoned_ivr".into(),
        },
    ));
    let s = m.sections();
    assert_eq!(s["in_ivr"], 0);
    assert_eq!(
        s["today"],
        json!({
            "offered": 2, "answered": 1, "abandoned": 1, "answered_within_threshold": 1,
            "service_level": 0.5, "threshold_s": 20, "breach": true,
        })
    );
    assert_eq!(s["agents"][0]["id"], "agent-demo-anna");
    assert_eq!(s["agents"][0]["call_id"], "c1");
}

#[test]
fn service_level_counts_only_abandons_past_the_threshold() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    assert_eq!(m.sections()["today"]["service_level"], Value::Null);
    assert_eq!(m.sections()["today"]["breach"], false);
    for (i, waited) in [5_000, 19_000, 20_000, 21_000].into_iter().enumerate() {
        let id = format!("a{i}");
        queued(&mut m, T0, &id);
        m.apply(&ev(
            T0 + waited,
            EventKind::CallConnected {
                call_id: call(&id),
                agent_id: anna(),
                waited_ms: waited,
            },
        ));
    }
    // Abandoned after 10 s: not in the denominator.
    queued(&mut m, T0, "b");
    m.apply(&ev(
        T0 + 10_000,
        EventKind::CallEnded {
            call_id: call("b"),
            outcome: "abandoned_queue".into(),
        },
    ));
    let today = &m.sections()["today"];
    assert_eq!(today["answered_within_threshold"], 3);
    assert_eq!(today["abandoned"], 1);
    assert_eq!(today["service_level"], 0.75);
    assert_eq!(today["breach"], true);
}

#[test]
fn engine_snapshot_fills_queues_callers_and_agents() {
    let cfg = SupervisorConfig {
        long_wait_secs: 60,
        ..SupervisorConfig::default()
    };
    let mut m = LiveModel::new(cfg, T0);
    arrived(&mut m, T0, "c1", "+31201234567", Some("cust-1"));
    m.set_customer(&CustomerId::from_string("cust-1"), "Jan Jansen");
    arrived(&mut m, T0, "c2", "+31612345678", None);
    m.set_name(anna(), "Anna de Vries".into());
    let base = Instant::now();
    let at = base + Duration::from_secs(90);
    let mut callback = entry("cb-1", Category::Hardware, 3, 10, base);
    callback.kind = EntryKind::Callback;
    let snap = AcdSnapshot {
        at,
        queues: vec![
            QueueSnapshot {
                category: Category::Hardware,
                entries: vec![
                    entry("c1", Category::Hardware, 1, 90, base),
                    entry("c2", Category::Hardware, 4, 30, base),
                    callback,
                ],
            },
            QueueSnapshot {
                category: Category::Software,
                entries: vec![],
            },
        ],
        agents: vec![AgentSnapshot {
            id: anna(),
            categories: vec![Category::Hardware],
            level: 1,
            state: AgentState::NotReady {
                reason: "lunch".into(),
            },
            reason_code: None,
            reachable: true,
            since: base + Duration::from_secs(30),
            calls_handled: 0,
        }],
    };
    let estimates = HashMap::from([(Category::Hardware, Some(Duration::from_secs(180)))]);
    m.apply_acd(&snap, T0 + 90_000, &estimates);
    let s = m.sections();
    let hw = &s["queues"][0];
    assert_eq!(hw["name"], "hardware");
    assert_eq!(hw["waiting"], 2);
    assert_eq!(hw["longest_wait_ms"], 90_000);
    assert_eq!(hw["estimated_wait_ms"], 180_000);
    assert_eq!(
        hw["by_priority"],
        json!({"1": 1, "2": 0, "3": 0, "4": 1, "5": 0})
    );
    assert_eq!(
        hw["callers"][0],
        json!({"call_id": "c1", "caller": "+31201234567", "customer": "Jan Jansen",
               "priority": 1, "waited_ms": 90_000, "over_threshold": true})
    );
    assert_eq!(hw["callers"][1]["customer"], Value::Null);
    assert_eq!(hw["callers"][1]["over_threshold"], false);
    assert_eq!(s["queues"][1]["waiting"], 0);
    assert_eq!(s["queues"][1]["estimated_wait_ms"], Value::Null);
    assert_eq!(s["queues"][3]["name"], "unclassified");
    assert_eq!(s["callbacks_pending"], 1);
    assert_eq!(
        s["agents"][0],
        json!({"id": "agent-demo-anna", "name": "Anna de Vries", "state": "not_ready",
               "reason": "lunch", "reason_code": null, "since": T0 + 30_000, "call_id": null,
               "caller": null, "customer_name": null, "device": "phone",
               "registered": false, "transport": null, "reachable": false,
               "held": null, "quality": {"server": null, "browser": null}})
    );
    // The same state read 7 ms later keeps its `since`: nothing changed, no update.
    m.take_update();
    let later = AcdSnapshot {
        at: at + Duration::from_millis(7),
        ..snap
    };
    m.apply_acd(&later, T0 + 90_010, &estimates);
    assert_eq!(m.take_update(), None);
}

#[test]
fn updates_carry_only_changed_sections() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    let first = m.take_update().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "agents",
            "callbacks_pending",
            "escalations_today",
            "in_ivr",
            "queues",
            "today",
            "voice_messages_today"
        ]
    );
    assert_eq!(m.take_update(), None);
    m.apply(&ev(
        T0 + 1,
        EventKind::VoiceMessage {
            call_id: call("c9"),
            message_id: "vm-1".into(),
        },
    ));
    let update = m.take_update().unwrap();
    assert_eq!(update.len(), 1);
    assert_eq!(update["voice_messages_today"], 1);
    m.apply(&ev(
        T0 + 2,
        EventKind::AgentState {
            agent_id: anna(),
            from: "offline".into(),
            to: "available".into(),
            reason: None,
        },
    ));
    let update = m.take_update().unwrap();
    assert_eq!(update.keys().collect::<Vec<_>>(), ["agents"]);
    assert_eq!(update["agents"][0]["state"], "available");
    assert_eq!(update["agents"][0]["since"], T0 + 2);
}

/// With several agents, an update carries only the agent that changed (merged by id).
#[test]
fn updates_carry_only_the_agents_that_changed() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    let state = |m: &mut LiveModel, at: i64, who: &str, to: &str| {
        m.apply(&ev(
            at,
            EventKind::AgentState {
                agent_id: AgentId::from_string(who),
                from: "offline".into(),
                to: to.into(),
                reason: None,
            },
        ));
    };
    state(&mut m, T0 + 1, "agent-a", "available");
    state(&mut m, T0 + 1, "agent-b", "available");
    state(&mut m, T0 + 1, "agent-c", "available");
    let first = m.take_update().unwrap();
    assert_eq!(first["agents"].as_array().map(Vec::len), Some(3));
    state(&mut m, T0 + 2, "agent-b", "not_ready");
    let update = m.take_update().unwrap();
    let agents = update["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "{agents:?}");
    assert_eq!(agents[0]["id"], "agent-b");
    assert_eq!(agents[0]["state"], "not_ready");
}

#[test]
fn a_new_day_starts_from_zero() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    m.set_day(
        DayCalls {
            offered: 10,
            answered: 8,
            abandoned: 2,
            answered_within: 6,
            abandoned_after: 2,
        },
        3,
        vec![EscalationCount {
            level: 2,
            target: "Werkplekbeheer".into(),
            count: 4,
        }],
    );
    let s = m.sections();
    assert_eq!(s["today"]["service_level"], 0.6);
    assert_eq!(s["voice_messages_today"], 3);
    assert_eq!(
        s["escalations_today"],
        json!([{"level": 2, "target": "Werkplekbeheer", "count": 4}])
    );
    // 23:00 UTC is local midnight in Amsterdam (CET, UTC+1): 15.5 hours later, at 23:30 UTC,
    // it is the next day already (a UTC day would still run for half an hour).
    queued(&mut m, T0 + 15 * 3_600_000 + 1_800_000, "late");
    let s = m.sections();
    assert_eq!(s["today"]["offered"], 1);
    assert_eq!(s["today"]["answered"], 0);
    assert_eq!(s["voice_messages_today"], 0);
    assert_eq!(s["escalations_today"], json!([]));
    assert_eq!(
        m.day_start(),
        T0 + 15 * 3_600_000,
        "local midnight, 23:00 UTC"
    );
}

fn connected(m: &mut LiveModel, at: i64, id: &str) {
    m.apply(&ev(
        at,
        EventKind::CallConnected {
            call_id: call(id),
            agent_id: anna(),
            waited_ms: 5_000,
        },
    ));
}

fn quality(
    at: i64,
    id: &str,
    source: &str,
    loss: f64,
    jitter: f64,
    rtt: Option<f64>,
) -> Arc<Event> {
    ev(
        at,
        EventKind::CallQuality {
            call_id: call(id),
            agent_id: anna(),
            source: source.into(),
            loss_pct: Some(loss),
            jitter_ms: Some(jitter),
            rtt_ms: rtt,
        },
    )
}

fn held(at: i64, id: &str, on: bool, reason: &str) -> Arc<Event> {
    ev(
        at,
        EventKind::CallHeld {
            call_id: call(id),
            agent_id: anna(),
            held: on,
            reason: reason.into(),
        },
    )
}

/// A browser call: quality per source, hold and the browser leaving show on the agent, and go
/// when the call ends; updates carry them as agent deltas.
#[test]
fn hold_and_quality_follow_the_agents_call_and_clear_when_it_ends() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    m.set_device(anna(), Device::Browser);
    m.set_name(anna(), "Anna Koster".into());
    arrived(&mut m, T0, "c1", "+31201234567", None);
    queued(&mut m, T0 + 1_000, "c1");
    connected(&mut m, T0 + 6_000, "c1");
    m.take_update();

    assert!(!m.apply(&quality(T0 + 11_000, "c1", "server", 0.0, 3.2, Some(1.0))));
    let update = m.take_update().unwrap();
    let a = &update["agents"][0];
    assert_eq!(a["device"], "browser");
    assert_eq!(
        a["quality"],
        json!({"server": {"source": "server", "loss_pct": 0.0, "jitter_ms": 3.2, "rtt_ms": 1.0,
                          "at": T0 + 11_000},
               "browser": null})
    );
    // The browser's own figures sit beside the server's; a newer sample replaces the older.
    m.apply(&quality(T0 + 12_000, "c1", "browser", 4.5, 12.0, None));
    m.apply(&quality(
        T0 + 16_000,
        "c1",
        "server",
        1.0,
        40.0,
        Some(350.0),
    ));
    let s = m.sections();
    let q = &s["agents"][0]["quality"];
    assert_eq!(q["browser"]["loss_pct"], 4.5);
    assert_eq!(q["browser"]["rtt_ms"], Value::Null);
    assert_eq!(
        (q["server"]["jitter_ms"].clone(), q["server"]["at"].clone()),
        (json!(40.0), json!(T0 + 16_000))
    );

    // The browser goes away (reload): held with its reason, then back.
    m.apply(&held(T0 + 20_000, "c1", true, "browser_gone"));
    assert_eq!(
        m.take_update().unwrap()["agents"][0]["held"],
        "browser_gone"
    );
    m.apply(&held(T0 + 24_000, "c1", false, "browser_gone"));
    assert_eq!(m.take_update().unwrap()["agents"][0]["held"], Value::Null);
    m.apply(&held(T0 + 30_000, "c1", true, "agent"));
    assert_eq!(m.sections()["agents"][0]["held"], "agent");

    // Events about another call do not touch this one.
    m.apply(&quality(T0 + 31_000, "other", "server", 50.0, 1.0, None));
    m.apply(&held(T0 + 31_000, "other", false, "agent"));
    let s = m.sections();
    assert_eq!(s["agents"][0]["held"], "agent");
    assert_eq!(s["agents"][0]["quality"]["server"]["loss_pct"], 1.0);

    m.apply(&ev(
        T0 + 40_000,
        EventKind::CallEnded {
            call_id: call("c1"),
            outcome: "answered".into(),
        },
    ));
    let update = m.take_update().unwrap();
    let a = &update["agents"][0];
    assert_eq!(a["call_id"], Value::Null);
    assert_eq!(a["held"], Value::Null);
    assert_eq!(a["quality"], json!({"server": null, "browser": null}));
    assert_eq!(a["device"], "browser");
}

/// The next call starts without the last call's figures, and a feed that started during a
/// call learns the call from its first quality sample.
#[test]
fn a_new_call_starts_clean_and_a_late_feed_picks_up_the_call() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    m.apply(&quality(T0 + 1_000, "c7", "browser", 2.0, 5.0, Some(20.0)));
    let s = m.sections();
    assert_eq!(s["agents"][0]["call_id"], "c7");
    assert_eq!(s["agents"][0]["quality"]["browser"]["loss_pct"], 2.0);
    m.apply(&held(T0 + 2_000, "c7", true, "agent"));
    // The engine moves Anna to another call (no end seen for c7): hold and quality go.
    m.apply(&ev(
        T0 + 3_000,
        EventKind::CallOffered {
            call_id: call("c8"),
            agent_id: anna(),
        },
    ));
    let s = m.sections();
    assert_eq!(s["agents"][0]["call_id"], "c8");
    assert_eq!(s["agents"][0]["held"], Value::Null);
    assert_eq!(
        s["agents"][0]["quality"],
        json!({"server": null, "browser": null})
    );
    // An agent state without a call (available) clears them too.
    m.apply(&quality(T0 + 4_000, "c8", "server", 0.0, 1.0, Some(1.0)));
    m.apply(&ev(
        T0 + 5_000,
        EventKind::AgentState {
            agent_id: anna(),
            from: "wrap_up".into(),
            to: "available".into(),
            reason: None,
        },
    ));
    assert_eq!(m.sections()["agents"][0]["quality"]["server"], Value::Null);
}

/// The device comes from the store (names load, sign-in, device routes) and shows as a change.
#[test]
fn a_device_change_is_an_agent_delta() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    m.apply(&ev(
        T0,
        EventKind::AgentState {
            agent_id: anna(),
            from: "offline".into(),
            to: "available".into(),
            reason: None,
        },
    ));
    assert_eq!(m.take_update().unwrap()["agents"][0]["device"], "phone");
    m.set_device(anna(), Device::Browser);
    let update = m.take_update().unwrap();
    assert_eq!(update["agents"][0]["device"], "browser");
    assert_eq!(update["agents"][0]["state"], "available");
    m.set_device(anna(), Device::Browser);
    assert_eq!(m.take_update(), None);
}

#[test]
fn a_long_queue_lists_its_first_callers_and_counts_them_all() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    let base = Instant::now();
    let n = CALLERS_SHOWN + 50;
    let entries = (0..n)
        .map(|i| {
            let prio = if i % 2 == 0 { 2 } else { 5 };
            entry(
                &format!("c{i}"),
                Category::Software,
                prio,
                100 - (i % 100) as u64,
                base,
            )
        })
        .collect();
    let snap = AcdSnapshot {
        at: base + Duration::from_secs(100),
        queues: vec![QueueSnapshot {
            category: Category::Software,
            entries,
        }],
        agents: vec![],
    };
    m.apply_acd(&snap, T0 + 100_000, &HashMap::new());
    let s = m.sections();
    let sw = &s["queues"][1];
    assert_eq!(sw["name"], "software");
    assert_eq!(sw["waiting"], n);
    assert_eq!(sw["callers"].as_array().map(Vec::len), Some(CALLERS_SHOWN));
    assert_eq!(sw["callers"][0]["call_id"], "c0");
    assert_eq!(
        sw["callers"][CALLERS_SHOWN - 1]["call_id"],
        format!("c{}", CALLERS_SHOWN - 1)
    );
    assert_eq!(
        sw["by_priority"],
        json!({"1": 0, "2": n.div_ceil(2), "3": 0, "4": 0, "5": n / 2})
    );
    assert_eq!(sw["longest_wait_ms"], 100_000);
}
