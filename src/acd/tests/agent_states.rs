//! Agent states: valid and refused transitions, the wrap-up timer, and the routing strategies.

use super::*;
use crate::acd::{AcdError, Strategy};
use crate::domain::Category::{Hardware, Service};

#[test]
fn login_makes_available_and_every_change_is_an_output() {
    let mut sim = Sim::new(AcdConfig::default());
    let out = sim.login("a1", &[Hardware]);
    assert_eq!(
        out,
        [AcdOutput::AgentState {
            agent: aid("a1"),
            from: AgentState::Offline,
            to: AgentState::Available,
            reason: Some("login".into()),
            code: None,
            at: sim.at(0),
        }]
    );
    let info = AgentInfo {
        id: aid("a1"),
        categories: vec![Hardware],
        level: 1,
    };
    assert_eq!(
        sim.acd.agent_login(sim.now, info),
        Err(AcdError::AlreadyLoggedIn(aid("a1")))
    );
    sim.acd
        .set_not_ready(sim.now, &aid("a1"), "lunch".into())
        .unwrap();
    assert_eq!(sim.state("a1"), not_ready("lunch"));
    sim.acd.agent_logout(sim.now, &aid("a1")).unwrap();
    assert_eq!(sim.state("a1"), AgentState::Offline);
    assert_eq!(
        sim.acd.set_available(sim.now, &aid("a1")),
        Err(AcdError::NotLoggedIn(aid("a1")))
    );
    assert_eq!(
        sim.acd.agent_logout(sim.now, &aid("zz")),
        Err(AcdError::UnknownAgent(aid("zz")))
    );
    let states: Vec<_> = sim
        .drain()
        .into_iter()
        .filter_map(|o| match o {
            AcdOutput::AgentState { to, .. } => Some(to.name()),
            _ => None,
        })
        .collect();
    assert_eq!(states, ["not_ready", "offline"]);
}

#[test]
fn invalid_transitions_are_refused_and_change_nothing() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("a1", &[Hardware]);
    let (offer, _, _) = one_offer(&sim.call("c1", Hardware, 3));
    let a1 = aid("a1");
    let refused = |from: &'static str, request: &'static str| AcdError::InvalidTransition {
        agent: aid("a1"),
        from,
        request,
    };
    assert_eq!(
        sim.acd.set_available(sim.now, &a1),
        Err(refused("ringing", "become available"))
    );
    assert_eq!(
        sim.acd.set_not_ready(sim.now, &a1, "x".into()),
        Err(refused("ringing", "become not ready"))
    );
    assert_eq!(
        sim.acd.call_ended(sim.now, &a1),
        Err(refused("ringing", "end a call"))
    );
    sim.acd.offer_answered(sim.now, offer).unwrap();
    assert_eq!(
        sim.acd.set_available(sim.now, &a1),
        Err(refused("on_call", "become available"))
    );
    assert_eq!(
        sim.acd.agent_logout(sim.now, &a1),
        Err(refused("on_call", "log out"))
    );
    assert_eq!(
        sim.acd.wrapup_done(sim.now, &a1),
        Err(refused("on_call", "finish wrap-up"))
    );
    assert_eq!(sim.state("a1"), AgentState::OnCall);
    sim.drain();
    // Available → available is a no-op, not an error, and emits nothing.
    sim.acd.call_ended(sim.now, &a1).unwrap();
    sim.acd.wrapup_done(sim.now, &a1).unwrap();
    sim.drain();
    sim.acd.set_available(sim.now, &a1).unwrap();
    assert!(sim.drain().is_empty());
}

#[test]
fn wrapup_timer_then_available() {
    let mut sim = Sim::new(AcdConfig {
        wrapup_secs: 30,
        ..AcdConfig::default()
    });
    sim.login("a1", &[Hardware]);
    sim.advance(5);
    let (offer, _, _) = one_offer(&sim.call("c1", Hardware, 3));
    sim.acd.offer_answered(sim.now, offer).unwrap();
    sim.advance(65);
    sim.acd.call_ended(sim.now, &aid("a1")).unwrap();
    assert_eq!(sim.state("a1"), AgentState::WrapUp);
    assert_eq!(sim.acd.poll_timeout(), Some(sim.at(95)));
    sim.advance(94);
    assert_eq!(sim.state("a1"), AgentState::WrapUp);
    let out = sim.advance(95);
    assert!(out.contains(&AcdOutput::AgentState {
        agent: aid("a1"),
        from: AgentState::WrapUp,
        to: AgentState::Available,
        reason: Some("wrap-up ended".into()),
        code: None,
        at: sim.at(95),
    }));
    assert_eq!(
        sim.acd
            .snapshot(sim.now)
            .agent(&aid("a1"))
            .unwrap()
            .calls_handled,
        1
    );
}

#[test]
fn wrapup_until_done_and_early_done() {
    let cfg = AcdConfig {
        wrapup_secs: 0,
        ..AcdConfig::default()
    };
    let mut sim = Sim::new(cfg);
    sim.login("a1", &[Hardware]);
    let (offer, _, _) = one_offer(&sim.call("c1", Hardware, 3));
    sim.acd.offer_answered(sim.now, offer).unwrap();
    sim.acd.call_ended(sim.now, &aid("a1")).unwrap();
    sim.drain();
    assert_eq!(sim.acd.poll_timeout(), None, "no wrap-up timer");
    sim.advance(3600);
    assert_eq!(sim.state("a1"), AgentState::WrapUp);
    // A waiting caller goes to the agent as soon as they are done.
    sim.call("c2", Hardware, 3);
    sim.acd.wrapup_done(sim.now, &aid("a1")).unwrap();
    let (_, entry, _) = one_offer(&sim.drain());
    assert_eq!(entry, "c2");
}

/// Runs the same script under `strategy` and returns who gets the last call.
///
/// a1 and a2 log in at 0 and 1; c1 (at 2) goes to a1, c2 (at 3) to a2. a2 finishes at 10,
/// a1 at 20; c3 arrives at 30.
fn last_agent(strategy: Strategy) -> String {
    let cfg = AcdConfig {
        strategy,
        ..AcdConfig::default()
    };
    let mut sim = Sim::new(cfg);
    sim.login("a1", &[Service]);
    sim.advance(1);
    sim.login("a2", &[Service]);
    sim.advance(2);
    let (o1, _, first) = one_offer(&sim.call("c1", Service, 3));
    sim.advance(3);
    let (o2, _, second) = one_offer(&sim.call("c2", Service, 3));
    assert_eq!((first.as_str(), second.as_str()), ("a1", "a2"));
    sim.acd.offer_answered(sim.now, o1).unwrap();
    sim.acd.offer_answered(sim.now, o2).unwrap();
    sim.advance(10);
    sim.acd.call_ended(sim.now, &aid("a2")).unwrap();
    sim.acd.wrapup_done(sim.now, &aid("a2")).unwrap();
    sim.advance(20);
    sim.acd.call_ended(sim.now, &aid("a1")).unwrap();
    sim.acd.wrapup_done(sim.now, &aid("a1")).unwrap();
    sim.advance(30);
    one_offer(&sim.call("c3", Service, 3)).2
}

#[test]
fn strategies_pick_different_agents() {
    // Longest idle: a2 has been free since 10, a1 only since 20.
    assert_eq!(last_agent(Strategy::LongestIdle), "a2");
    // Round robin: a1 was offered a call least recently (at 2, a2 at 3).
    assert_eq!(last_agent(Strategy::RoundRobin), "a1");
    // Fewest calls: one each, so the longest idle breaks the tie.
    assert_eq!(last_agent(Strategy::FewestCalls), "a2");
}

#[test]
fn round_robin_rotates_and_fewest_calls_counts() {
    let cfg = AcdConfig {
        strategy: Strategy::RoundRobin,
        ..AcdConfig::default()
    };
    let mut sim = Sim::new(cfg);
    for a in ["a1", "a2", "a3"] {
        sim.login(a, &[Hardware]);
    }
    let mut order = Vec::new();
    for i in 0..6 {
        let (offer, _, agent) = one_offer(&sim.call(&format!("c{i}"), Hardware, 3));
        sim.handle_call(offer, &agent);
        order.push(agent);
    }
    assert_eq!(order, ["a1", "a2", "a3", "a1", "a2", "a3"]);

    let cfg = AcdConfig {
        strategy: Strategy::FewestCalls,
        ..AcdConfig::default()
    };
    let mut sim = Sim::new(cfg);
    sim.login("a1", &[Hardware]);
    for i in 0..3 {
        let (offer, _, _) = one_offer(&sim.call(&format!("c{i}"), Hardware, 3));
        sim.handle_call(offer, "a1");
    }
    sim.advance(100);
    sim.login("a2", &[Hardware]);
    // a2 became available later (longest idle would pick a1) but has handled fewer calls.
    assert_eq!(one_offer(&sim.call("x", Hardware, 3)).2, "a2");
    sim.acd.reset_call_counts();
    assert_eq!(
        sim.acd
            .snapshot(sim.now)
            .agent(&aid("a1"))
            .unwrap()
            .calls_handled,
        0
    );
}

/// An admin's change of a signed-in agent's queues (issue 13): a removed queue stops new offers
/// at once, an added one routes its waiting caller to them; an agent not signed in is untouched.
#[test]
fn an_admin_changes_a_signed_in_agents_queues_and_routing_follows_at_once() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("a1", &[Hardware]);
    let update = |categories| AgentInfo {
        id: aid("a1"),
        categories,
        level: 1,
    };
    assert!(sim.acd.agent_update(sim.now, update(vec![Service])));
    assert!(
        offers(&sim.call("c1", Hardware, 3)).is_empty(),
        "hardware was taken away: no offer"
    );
    assert!(
        sim.acd
            .agent_update(sim.now, update(vec![Service, Hardware]))
    );
    let (_, entry, agent) = one_offer(&sim.drain());
    assert_eq!(
        (entry.as_str(), agent.as_str()),
        ("c1", "a1"),
        "the waiting caller is offered"
    );
    let offline = AgentInfo {
        id: aid("zz"),
        categories: vec![Hardware],
        level: 1,
    };
    assert!(
        !sim.acd.agent_update(sim.now, offline),
        "not signed in: nothing to change"
    );
}
