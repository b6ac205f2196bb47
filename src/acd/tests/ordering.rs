//! Queue order: priority first, then arrival; ageing; unclassified callers; callbacks keep
//! their place; supervisor changes.

use super::*;
use crate::acd::AcdError;
use crate::domain::Category::{Hardware, Service, Software, Unclassified};

#[test]
fn priority_first_then_arrival() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.call("c1", Hardware, 4);
    sim.advance(1);
    sim.call("c2", Hardware, 4);
    sim.advance(2);
    sim.call("c3", Hardware, 1);
    sim.advance(3);
    sim.call("c4", Hardware, 4);
    assert_eq!(sim.queue(Hardware), ["c3", "c1", "c2", "c4"]);

    // The first agent gets the priority-1 caller, then FIFO among the priority-4 callers.
    let (offer, entry, _) = one_offer(&sim.login("a1", &[Hardware]));
    assert_eq!(entry, "c3");
    let mut served = vec![entry];
    let mut offer = offer;
    for _ in 0..3 {
        sim.acd.offer_answered(sim.now, offer).unwrap();
        sim.acd.call_ended(sim.now, &aid("a1")).unwrap();
        sim.acd.wrapup_done(sim.now, &aid("a1")).unwrap();
        let (next, entry, agent) = one_offer(&sim.drain());
        assert_eq!(agent, "a1");
        served.push(entry);
        offer = next;
    }
    assert_eq!(served, ["c3", "c1", "c2", "c4"]);
}

#[test]
fn priority_one_overtakes_earlier_priority_four() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("a1", &[Software]);
    let (first, entry, _) = one_offer(&sim.call("busy", Software, 3));
    assert_eq!(entry, "busy");
    sim.acd.offer_answered(sim.now, first).unwrap();
    for (i, name) in ["p4a", "p4b", "p4c"].into_iter().enumerate() {
        sim.advance(10 + i as u64);
        sim.call(name, Software, 4);
    }
    sim.advance(20);
    sim.call("vip", Software, 1);
    sim.advance(30);
    sim.acd.call_ended(sim.now, &aid("a1")).unwrap();
    sim.acd.wrapup_done(sim.now, &aid("a1")).unwrap();
    let (_, entry, _) = one_offer(&sim.drain());
    assert_eq!(entry, "vip");
}

#[test]
fn ageing_lets_a_priority_five_caller_overtake_eventually() {
    // Everyone ages one level per 120 s from their own arrival, down to 1.
    let cfg = AcdConfig {
        ageing_secs: 120,
        ..AcdConfig::default()
    };
    let mut sim = Sim::new(cfg);
    sim.call("old5", Service, 5);
    sim.advance(10);
    sim.call("new3", Service, 3);
    assert_eq!(sim.queue(Service), ["new3", "old5"]);
    // At 250 s old5 has aged two levels to 3: ahead of a priority-3 caller arriving now, still
    // behind new3 (aged to 2).
    sim.advance(250);
    sim.call("fresh3", Service, 3);
    assert_eq!(sim.queue(Service), ["new3", "old5", "fresh3"]);
    let snap = sim.acd.snapshot(sim.now);
    let old = snap.entry(&eid("old5")).unwrap();
    assert_eq!((old.priority.get(), old.effective_priority.get()), (5, 3));
    sim.advance(300);
    sim.call("vip", Service, 1);
    // new3 has aged to 1 as well and arrived earlier than vip.
    assert_eq!(sim.queue(Service), ["new3", "vip", "old5", "fresh3"]);
    // At 480 s old5 has reached 1 and arrived first of all: it overtakes everyone.
    sim.advance(480);
    assert_eq!(sim.queue(Service), ["old5", "new3", "vip", "fresh3"]);
    let (_, entry, _) = one_offer(&sim.login("a1", &[Service]));
    assert_eq!(entry, "old5");
}

#[test]
fn ageing_off_keeps_priority() {
    let cfg = AcdConfig {
        ageing_secs: 0,
        ..AcdConfig::default()
    };
    let mut sim = Sim::new(cfg);
    sim.call("old5", Service, 5);
    sim.advance(1);
    sim.call("new4", Service, 4);
    sim.advance(100_000);
    assert_eq!(sim.queue(Service), ["new4", "old5"]);
}

#[test]
fn unclassified_callers_are_served_by_any_agent_skills_by_list() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("hw", &[Hardware]);
    // A software caller is not offered to a hardware-only agent.
    assert!(offers(&sim.call("sw1", Software, 3)).is_empty());
    let (_, entry, agent) = one_offer(&sim.call("u1", Unclassified, 3));
    assert_eq!((entry.as_str(), agent.as_str()), ("u1", "hw"));
    let (_, entry, agent) = one_offer(&sim.login("sw", &[Software, Service]));
    assert_eq!((entry.as_str(), agent.as_str()), ("sw1", "sw"));
}

#[test]
fn an_agent_takes_the_best_entry_across_its_queues() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.call("hw4", Hardware, 4);
    sim.advance(1);
    sim.call("svc2", Service, 2);
    sim.advance(2);
    sim.call("un2", Unclassified, 2);
    sim.advance(3);
    let (_, entry, _) = one_offer(&sim.login("a1", &[Hardware, Service]));
    assert_eq!(
        entry, "svc2",
        "priority 2 beats 4; earlier arrival beats the later 2"
    );
}

#[test]
fn callback_keeps_the_original_arrival() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.call("early", Hardware, 3);
    sim.advance(10);
    sim.call("later", Hardware, 3);
    sim.advance(20);
    let waited = sim
        .acd
        .remove(sim.now, &eid("early"), crate::acd::RemoveReason::Callback)
        .unwrap();
    assert_eq!(waited, Duration::from_secs(20));
    let callback = Entry {
        id: eid("cb-early"),
        category: Hardware,
        priority: Priority::new(3).unwrap(),
        arrived: sim.at(0),
        kind: EntryKind::Callback,
    };
    sim.acd.enqueue(sim.now, callback).unwrap();
    let out = sim.drain();
    assert!(out.is_empty(), "no announcement to a callback: {out:?}");
    assert_eq!(sim.queue(Hardware), ["cb-early", "later"]);
    let (_, entry, _) = one_offer(&sim.login("a1", &[Hardware]));
    assert_eq!(entry, "cb-early");
}

#[test]
fn supervisor_changes_priority_and_queue() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.call("c1", Software, 3);
    sim.advance(1);
    sim.call("c2", Software, 3);
    sim.acd
        .set_priority(sim.now, &eid("c2"), Priority::new(1).unwrap())
        .unwrap();
    assert_eq!(sim.queue(Software), ["c2", "c1"]);
    sim.login("hw", &[Hardware]);
    sim.acd.move_entry(sim.now, &eid("c1"), Hardware).unwrap();
    let (_, entry, agent) = one_offer(&sim.drain());
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "hw"));
    assert_eq!(
        sim.acd.move_entry(sim.now, &eid("c1"), Service),
        Err(AcdError::EntryOffered(eid("c1")))
    );
    assert_eq!(
        sim.acd
            .set_priority(sim.now, &eid("nope"), Priority::CRITICAL),
        Err(AcdError::UnknownEntry(eid("nope")))
    );
}

#[test]
fn duplicate_and_unknown_entries_are_refused() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.call("c1", Hardware, 3);
    let again = Entry {
        id: eid("c1"),
        category: Service,
        priority: Priority::CRITICAL,
        arrived: sim.now,
        kind: EntryKind::Call,
    };
    assert_eq!(
        sim.acd.enqueue(sim.now, again),
        Err(AcdError::DuplicateEntry(eid("c1")))
    );
    assert_eq!(sim.queue(Hardware), ["c1"]);
    assert_eq!(
        sim.acd
            .remove(sim.now, &eid("c9"), crate::acd::RemoveReason::Abandoned),
        Err(AcdError::UnknownEntry(eid("c9")))
    );
}

#[test]
fn entry_id_from_call_id() {
    let call = crate::domain::CallId::from_string("call-00000000000000ab");
    assert_eq!(EntryId::from(&call).as_str(), "call-00000000000000ab");
    assert_eq!(EntryId::from(call).to_string(), "call-00000000000000ab");
}
