//! Offers: ring timeout and failures move the caller to the next agent keeping their place;
//! stale answers are refused; a caller leaving or an agent logging out cancels the ringing.

use super::*;
use crate::acd::{AcdError, CancelReason, FailReason, RemoveReason};
use crate::domain::Category::{Hardware, Software};

#[test]
fn ring_timeout_moves_the_caller_to_the_next_agent_keeping_their_place() {
    let mut sim = Sim::new(AcdConfig::default()); // ring timeout 15 s
    sim.login("a1", &[Hardware]);
    sim.advance(10);
    let (offer, entry, agent) = one_offer(&sim.call("c1", Hardware, 3));
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "a1"));
    assert_eq!(sim.state("a1"), AgentState::Ringing { offer });
    sim.advance(11);
    sim.call("c2", Hardware, 3);
    assert_eq!(sim.acd.poll_timeout(), Some(sim.at(25)));

    assert!(
        sim.advance(24)
            .iter()
            .all(|o| !matches!(o, AcdOutput::CancelOffer { .. }))
    );
    let out = sim.advance(25);
    assert_eq!(
        out.first(),
        Some(&AcdOutput::CancelOffer {
            offer,
            entry: eid("c1"),
            agent: aid("a1"),
            reason: CancelReason::RingTimeout,
        })
    );
    assert!(out.contains(&AcdOutput::AgentState {
        agent: aid("a1"),
        from: AgentState::Ringing { offer },
        to: not_ready("no answer"),
        reason: Some("no answer".into()),
        code: Some(crate::acd::ReasonCode::NoAnswer),
        at: sim.at(25),
    }));
    assert_eq!(sim.state("a1"), not_ready("no answer"));
    assert_eq!(sim.queue(Hardware), ["c1", "c2"], "c1 keeps its place");
    let entry = sim.acd.snapshot(sim.now).entry(&eid("c1")).unwrap().clone();
    assert_eq!(entry.offer, None);

    // The next agent gets c1, not c2.
    sim.advance(30);
    let (second, entry, agent) = one_offer(&sim.login("a2", &[Hardware]));
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "a2"));
    assert_ne!(second, offer);

    // The late answer from a1's phone is stale: refused, nothing changes.
    let before = sim.acd.snapshot(sim.now);
    assert_eq!(
        sim.acd.offer_answered(sim.now, offer),
        Err(AcdError::UnknownOffer(offer))
    );
    assert_eq!(
        sim.acd.offer_failed(sim.now, offer, FailReason::Rejected),
        Err(AcdError::UnknownOffer(offer))
    );
    assert_eq!(sim.acd.snapshot(sim.now), before);
    assert!(sim.drain().is_empty());

    let waited = sim.acd.offer_answered(sim.now, second).unwrap();
    assert_eq!(waited, Duration::from_secs(20));
    assert_eq!(sim.state("a2"), AgentState::OnCall);
    assert_eq!(sim.queue(Hardware), ["c2"]);
}

#[test]
fn rejected_or_unreachable_reoffers_at_once() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("a1", &[Software]);
    sim.advance(1);
    sim.login("a2", &[Software]);
    sim.advance(2);
    sim.login("a3", &[Software]);
    sim.advance(5);
    let (o1, _, agent) = one_offer(&sim.call("c1", Software, 3));
    assert_eq!(agent, "a1", "longest idle first");
    sim.acd
        .offer_failed(sim.now, o1, FailReason::Rejected)
        .unwrap();
    let (o2, entry, agent) = one_offer(&sim.drain());
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "a2"));
    assert_eq!(sim.state("a1"), not_ready("rejected"));
    sim.acd
        .offer_failed(sim.now, o2, FailReason::Unreachable)
        .unwrap();
    let (_, _, agent) = one_offer(&sim.drain());
    assert_eq!(agent, "a3");
    assert_eq!(sim.state("a2"), not_ready("unreachable"));
}

#[test]
fn caller_leaving_while_ringing_releases_the_agent_without_penalty() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("a1", &[Hardware]);
    sim.advance(5);
    sim.login("a2", &[Hardware]);
    sim.advance(10);
    let (offer, _, agent) = one_offer(&sim.call("c1", Hardware, 3));
    assert_eq!(agent, "a1");
    sim.advance(14);
    let waited = sim
        .acd
        .remove(sim.now, &eid("c1"), RemoveReason::Abandoned)
        .unwrap();
    assert_eq!(waited, Duration::from_secs(4));
    let out = sim.drain();
    assert_eq!(
        out.first(),
        Some(&AcdOutput::CancelOffer {
            offer,
            entry: eid("c1"),
            agent: aid("a1"),
            reason: CancelReason::Withdrawn,
        })
    );
    assert_eq!(sim.state("a1"), AgentState::Available);
    assert_eq!(sim.acd.poll_timeout(), None, "no ring timer left");
    assert_eq!(
        sim.acd.offer_answered(sim.now, offer),
        Err(AcdError::UnknownOffer(offer))
    );
    // a1 is still the longest idle.
    sim.advance(20);
    let (_, _, agent) = one_offer(&sim.call("c2", Hardware, 3));
    assert_eq!(agent, "a1");
}

#[test]
fn logout_while_ringing_cancels_and_reoffers() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("a1", &[Hardware]);
    sim.advance(1);
    sim.login("a2", &[Hardware]);
    sim.advance(2);
    let (offer, _, _) = one_offer(&sim.call("c1", Hardware, 3));
    sim.acd.agent_logout(sim.now, &aid("a1")).unwrap();
    let out = sim.drain();
    assert!(out.contains(&AcdOutput::CancelOffer {
        offer,
        entry: eid("c1"),
        agent: aid("a1"),
        reason: CancelReason::AgentLeft,
    }));
    let (_, entry, agent) = one_offer(&out);
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "a2"));
    assert_eq!(sim.state("a1"), AgentState::Offline);
}

#[test]
fn one_caller_one_agent_at_a_time() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.call("c1", Hardware, 3);
    sim.call("c2", Hardware, 3);
    sim.call("c3", Hardware, 3);
    let out = sim.login("a1", &[Hardware]);
    assert_eq!(offers(&out).len(), 1, "one agent rings for one caller");
    let out = sim.login("a2", &[Hardware]);
    let (_, entry, _) = one_offer(&out);
    assert_eq!(entry, "c2", "c1 is already ringing a1");
    let snap = sim.acd.snapshot(sim.now);
    let offered: Vec<_> = snap.entries().filter(|e| e.offer.is_some()).collect();
    assert_eq!(offered.len(), 2);
    assert_ne!(offered[0].offer, offered[1].offer);
}
