//! Reachability (issue 10, point 3): an agent whose phone cannot take a call is skipped by the
//! router and by estimates, keeps their chosen state, and is offered the next caller as soon as
//! the phone registers again; with `require_registration` off, today's behaviour. Reason codes
//! of system states.

use super::*;
use crate::acd::{CallbackReason, FailReason, ReasonCode};
use crate::domain::Category::{Hardware, Software};

fn callbacks(outputs: &[AcdOutput]) -> Vec<(String, CallbackReason)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AcdOutput::OfferCallback { entry, reason } => Some((entry.to_string(), *reason)),
            _ => None,
        })
        .collect()
}

/// The codes of the agent-state outputs, in order.
fn codes(outputs: &[AcdOutput]) -> Vec<(&'static str, Option<ReasonCode>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AcdOutput::AgentState { to, code, .. } => Some((to.name(), *code)),
            _ => None,
        })
        .collect()
}

fn reachable(sim: &Sim, agent: &str) -> bool {
    sim.acd
        .snapshot(sim.now)
        .agent(&aid(agent))
        .unwrap()
        .reachable
}

#[test]
fn an_unreachable_agent_is_skipped_and_keeps_their_state() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("a1", &[Hardware]);
    sim.advance(1);
    sim.login("a2", &[Hardware]);
    // a1 has been idle the longest, but their phone's registration lapsed.
    sim.acd.set_reachable(sim.now, &aid("a1"), false);
    assert!(sim.drain().is_empty(), "no state change, no output");
    assert_eq!(
        sim.state("a1"),
        AgentState::Available,
        "their choice is kept"
    );
    assert!(!reachable(&sim, "a1"));
    let (_, _, agent) = one_offer(&sim.call("c1", Hardware, 3));
    assert_eq!(agent, "a2");
    // With a2 ringing, the next caller waits rather than ringing a1's dead phone.
    assert!(offers(&sim.call("c2", Hardware, 3)).is_empty());
    assert_eq!(sim.state("a1"), AgentState::Available);
}

#[test]
fn a_phone_that_registers_again_gets_the_next_caller_at_once() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.acd.set_reachable(sim.now, &aid("a1"), false);
    // Told before the login (the driver seeds every agent at start): no offer at login either.
    sim.login("a1", &[Hardware]);
    assert!(offers(&sim.call("c1", Hardware, 3)).is_empty());
    sim.advance(10);
    sim.acd.set_reachable(sim.now, &aid("a1"), true);
    let (_, entry, agent) = one_offer(&sim.drain());
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "a1"));
    assert!(reachable(&sim, "a1"));
    // Telling the same twice changes nothing.
    sim.acd.set_reachable(sim.now, &aid("a1"), true);
    assert!(sim.drain().is_empty());
}

#[test]
fn with_the_setting_off_unreachable_agents_are_offered_as_before() {
    let mut sim = Sim::new(AcdConfig {
        require_registration: false,
        ..AcdConfig::default()
    });
    sim.login("a1", &[Hardware]);
    sim.acd.set_reachable(sim.now, &aid("a1"), false);
    assert!(reachable(&sim, "a1"), "the router would offer them");
    let (offer, _, agent) = one_offer(&sim.call("c1", Hardware, 3));
    assert_eq!(agent, "a1");
    sim.acd
        .offer_failed(sim.now, offer, FailReason::Unreachable)
        .unwrap();
    assert_eq!(sim.state("a1"), not_ready("unreachable"));
}

#[test]
fn unreachable_agents_do_not_count_for_estimates_or_serving() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("h1", &[Hardware]);
    sim.login("h2", &[Hardware]);
    sim.acd
        .set_not_ready(sim.now, &aid("h1"), "break".into())
        .unwrap();
    sim.acd
        .set_not_ready(sim.now, &aid("h2"), "break".into())
        .unwrap();
    sim.drain();
    sim.call("c1", Hardware, 3);
    let two = sim.acd.position(sim.now, &eid("c1")).unwrap();
    sim.acd.set_reachable(sim.now, &aid("h2"), false);
    let one = sim.acd.position(sim.now, &eid("c1")).unwrap();
    assert!(
        one.estimate.is_some() && two.estimate.is_some(),
        "h1 still serves"
    );
    // The last agent who can serve the queue loses their phone: the caller hears the options.
    sim.acd.set_reachable(sim.now, &aid("h1"), false);
    assert_eq!(
        callbacks(&sim.drain()),
        [("c1".to_string(), CallbackReason::NobodyServes)]
    );
    assert_eq!(
        sim.acd.position(sim.now, &eid("c1")).unwrap().estimate,
        None
    );
    // A new caller of that queue hears it at once; another queue is unaffected.
    sim.login("s1", &[Software]);
    sim.acd
        .set_not_ready(sim.now, &aid("s1"), "break".into())
        .unwrap();
    sim.drain();
    assert_eq!(
        callbacks(&sim.call("c2", Hardware, 3)),
        [("c2".to_string(), CallbackReason::NobodyServes)]
    );
    assert!(callbacks(&sim.call("c3", Software, 3)).is_empty());
}

#[test]
fn system_reasons_carry_codes_and_the_agents_own_words_none() {
    let mut sim = Sim::new(AcdConfig::default());
    assert_eq!(codes(&sim.login("a1", &[Hardware])), [("available", None)]);
    let (offer, _, _) = one_offer(&sim.call("c1", Hardware, 3));
    sim.acd
        .offer_failed(sim.now, offer, FailReason::Rejected)
        .unwrap();
    assert_eq!(
        codes(&sim.drain()),
        [("not_ready", Some(ReasonCode::Rejected))]
    );
    let snap = sim.acd.snapshot(sim.now);
    assert_eq!(
        snap.agent(&aid("a1")).unwrap().reason_code,
        Some(ReasonCode::Rejected)
    );
    sim.acd
        .supervisor_not_ready(sim.now, &aid("a1"), "meeting".into())
        .unwrap();
    assert_eq!(
        codes(&sim.drain()),
        [("not_ready", Some(ReasonCode::Supervisor))]
    );
    assert_eq!(sim.state("a1"), not_ready("meeting"));
    sim.acd
        .set_not_ready(sim.now, &aid("a1"), "lunch".into())
        .unwrap();
    assert_eq!(codes(&sim.drain()), [("not_ready", None)]);
    sim.acd.agent_logout(sim.now, &aid("a1")).unwrap();
    assert_eq!(codes(&sim.drain()), [("offline", Some(ReasonCode::Logout))]);
    // Back in: c1 rings them again, and a supervisor logs them out while it rings.
    assert_eq!(offers(&sim.login("a1", &[Hardware])).len(), 1);
    sim.acd.supervisor_logout(sim.now, &aid("a1")).unwrap();
    let out = sim.drain();
    let last = codes(&out).pop();
    assert_eq!(last, Some(("offline", Some(ReasonCode::Supervisor))));
    let snap = sim.acd.snapshot(sim.now);
    assert_eq!(
        snap.agent(&aid("a1")).unwrap().reason_code,
        Some(ReasonCode::Supervisor)
    );
}
