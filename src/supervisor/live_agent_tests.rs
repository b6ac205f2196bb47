//! The live model's agent facts for issue 10 (no I/O, no clock): the call an agent wraps up
//! with its caller, phone registration and reachability, and reasons only where they are
//! reasons (with their codes).

use std::sync::Arc;

use serde_json::{Value, json};

use super::LiveModel;
use crate::acd::{ReasonCode, StateReason};
use crate::domain::{AgentId, CallId, Category, CustomerId, Device, Priority};
use crate::events::{Event, EventKind};
use crate::supervisor::SupervisorConfig;

/// 2026-01-01 08:00:00 UTC.
const T0: i64 = 1_767_254_400_000;

fn anna() -> AgentId {
    AgentId::from_string("agent-demo-anna")
}

fn apply(m: &mut LiveModel, at: i64, kind: EventKind) {
    m.apply(&Arc::new(Event { seq: 0, at, kind }));
}

fn state(m: &mut LiveModel, at: i64, from: &str, to: &str, reason: Option<StateReason>) {
    let kind = EventKind::AgentState {
        agent_id: anna(),
        from: from.into(),
        to: to.into(),
        reason,
    };
    apply(m, at, kind);
}

fn registration(m: &mut LiveModel, at: i64, registered: bool) {
    let kind = EventKind::PhoneRegistration {
        agent_id: anna(),
        extension: "2001".into(),
        registered,
        transport: registered.then(|| "udp".to_owned()),
        contact: registered.then(|| "sip:2001@192.0.2.10:5070".to_owned()),
        expires_at: registered.then_some(at + 60_000),
    };
    apply(m, at, kind);
}

fn agent(m: &LiveModel) -> Value {
    m.sections()["agents"][0].clone()
}

/// A call from a known customer, answered by Anna.
fn answered_call(m: &mut LiveModel) {
    let c1 = CallId::from_string("c1");
    let kind = EventKind::CallArrived {
        call_id: c1.clone(),
        caller: "+31201234567".into(),
        customer_id: Some(CustomerId::from_string("cust-1")),
    };
    apply(m, T0, kind);
    m.set_customer(&CustomerId::from_string("cust-1"), "Jan Jansen");
    let queued = EventKind::CallQueued {
        call_id: c1.clone(),
        category: Category::Hardware,
        priority: Priority::new(3),
    };
    apply(m, T0 + 1_000, queued);
    let offered = EventKind::CallOffered {
        call_id: c1.clone(),
        agent_id: anna(),
    };
    apply(m, T0 + 2_000, offered);
    state(
        m,
        T0 + 2_000,
        "available",
        "ringing",
        Some("offered".into()),
    );
    let connected = EventKind::CallConnected {
        call_id: c1,
        agent_id: anna(),
        waited_ms: 1_000,
    };
    apply(m, T0 + 4_000, connected);
    state(m, T0 + 4_000, "ringing", "on_call", Some("answered".into()));
}

fn ended(m: &mut LiveModel, at: i64) {
    let kind = EventKind::CallEnded {
        call_id: CallId::from_string("c1"),
        outcome: "answered".into(),
    };
    apply(m, at, kind);
}

#[test]
fn an_agent_in_wrap_up_carries_the_call_and_its_caller_whatever_the_event_order() {
    for end_first in [true, false] {
        let mut m = LiveModel::new(SupervisorConfig::default(), T0);
        answered_call(&mut m);
        let held = EventKind::CallHeld {
            call_id: CallId::from_string("c1"),
            agent_id: anna(),
            held: true,
            reason: "agent".into(),
        };
        apply(&mut m, T0 + 5_000, held);
        let a = agent(&m);
        assert_eq!(a["held"], "agent");
        assert_eq!(
            (&a["call_id"], &a["caller"], &a["customer_name"]),
            (&json!("c1"), &json!("+31201234567"), &json!("Jan Jansen"))
        );
        // The call task's `call_ended` and the engine's `wrap_up` come from different tasks.
        if end_first {
            ended(&mut m, T0 + 60_000);
            state(
                &mut m,
                T0 + 60_001,
                "on_call",
                "wrap_up",
                Some("call ended".into()),
            );
        } else {
            state(
                &mut m,
                T0 + 60_000,
                "on_call",
                "wrap_up",
                Some("call ended".into()),
            );
            ended(&mut m, T0 + 60_001);
        }
        let a = agent(&m);
        assert_eq!(a["state"], "wrap_up");
        assert_eq!(a["held"], Value::Null, "hold belongs to the live call");
        assert_eq!(
            (&a["call_id"], &a["caller"], &a["customer_name"]),
            (&json!("c1"), &json!("+31201234567"), &json!("Jan Jansen")),
            "end first: {end_first}"
        );
        assert_eq!(a["reason"], Value::Null, "'call ended' is not a reason");
        state(
            &mut m,
            T0 + 70_000,
            "wrap_up",
            "available",
            Some("wrap-up done".into()),
        );
        let a = agent(&m);
        assert_eq!((&a["call_id"], &a["caller"]), (&Value::Null, &Value::Null));
    }
}

#[test]
fn a_caller_who_hangs_up_while_ringing_leaves_no_call_on_the_agent() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    let offered = EventKind::CallOffered {
        call_id: CallId::from_string("c1"),
        agent_id: anna(),
    };
    apply(&mut m, T0, offered);
    state(&mut m, T0, "available", "ringing", Some("offered".into()));
    ended(&mut m, T0 + 3_000);
    assert_eq!(agent(&m)["call_id"], Value::Null);
}

#[test]
fn phone_registration_and_reachability_show_per_agent() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    state(&mut m, T0, "offline", "available", Some("login".into()));
    let a = agent(&m);
    assert_eq!(
        (&a["registered"], &a["transport"], &a["reachable"]),
        (&json!(false), &Value::Null, &json!(false)),
        "a phone agent starts unregistered"
    );
    assert_eq!(a["reason"], Value::Null, "available carries no reason");
    registration(&mut m, T0 + 1_000, true);
    let update = m.take_update().unwrap();
    let a = &update["agents"][0];
    assert_eq!(
        (&a["registered"], &a["transport"], &a["reachable"]),
        (&json!(true), &json!("udp"), &json!(true))
    );
    registration(&mut m, T0 + 61_000, false);
    let update = m.take_update().unwrap();
    assert_eq!(
        (
            &update["agents"][0]["registered"],
            &update["agents"][0]["reachable"]
        ),
        (&json!(false), &json!(false))
    );
    // The browser needs no phone: registered is not a question there.
    apply(
        &mut m,
        T0 + 62_000,
        EventKind::AgentDevice {
            agent_id: anna(),
            device: Device::Browser,
        },
    );
    let a = agent(&m);
    assert_eq!(
        (
            &a["device"],
            &a["registered"],
            &a["transport"],
            &a["reachable"]
        ),
        (&json!("browser"), &Value::Null, &Value::Null, &json!(true))
    );
    // With the rule off every agent is reachable.
    m.set_device(anna(), Device::Phone);
    assert_eq!(agent(&m)["reachable"], false);
    m.set_require_registration(false);
    assert_eq!(agent(&m)["reachable"], true);
}

#[test]
fn reasons_show_only_where_they_are_reasons_with_codes_for_the_system_ones() {
    let mut m = LiveModel::new(SupervisorConfig::default(), T0);
    let coded = |text: &str, code| StateReason {
        text: text.into(),
        code: Some(code),
    };
    state(&mut m, T0, "offline", "available", Some("login".into()));
    let seen = |m: &LiveModel| {
        let a = agent(m);
        (
            a["state"].clone(),
            a["reason"].clone(),
            a["reason_code"].clone(),
        )
    };
    assert_eq!(seen(&m), (json!("available"), Value::Null, Value::Null));
    let sup = coded("meeting", ReasonCode::Supervisor);
    state(&mut m, T0 + 1, "available", "not_ready", Some(sup));
    assert_eq!(
        seen(&m),
        (json!("not_ready"), json!("meeting"), json!("supervisor"))
    );
    let missed = coded("no answer", ReasonCode::NoAnswer);
    state(&mut m, T0 + 2, "ringing", "not_ready", Some(missed));
    assert_eq!(
        seen(&m),
        (json!("not_ready"), json!("no answer"), json!("no_answer"))
    );
    state(
        &mut m,
        T0 + 3,
        "not_ready",
        "not_ready",
        Some("lunch".into()),
    );
    assert_eq!(seen(&m), (json!("not_ready"), json!("lunch"), Value::Null));
    let out = coded("logout", ReasonCode::Logout);
    state(&mut m, T0 + 4, "not_ready", "offline", Some(out));
    assert_eq!(seen(&m), (json!("offline"), Value::Null, json!("logout")));
}
