//! A caller put through about their open intake is reserved for its owner (issue 15): offered
//! to the owner whatever their queues as soon as they are free, to no one else during
//! `prefer_owner_secs`, to anyone after; no reservation for an owner who is not logged in.

use super::*;
use crate::domain::Category::{Hardware, Software};

impl Sim {
    fn call_for(&mut self, entry: &str, category: Category, owner: &str) -> Vec<AcdOutput> {
        let e = Entry {
            id: eid(entry),
            category,
            priority: Priority::new(3).unwrap(),
            arrived: self.now,
            kind: EntryKind::Call,
        };
        self.acd
            .enqueue_preferring(self.now, e, Some(aid(owner)))
            .unwrap();
        self.drain()
    }
}

#[test]
fn the_owner_gets_the_call_even_outside_their_queues() {
    let mut sim = Sim::new(AcdConfig::default()); // prefer_owner_secs 20
    sim.login("first", &[Hardware]);
    sim.advance(1);
    sim.login("owner", &[Software]);
    // The owner, who does not serve Hardware, is offered it; "first" (idle longer) is not.
    let (_, entry, agent) = one_offer(&sim.call_for("c1", Hardware, "owner"));
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "owner"));
}

#[test]
fn a_busy_owner_is_waited_for_then_anyone_may_take_it() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("owner", &[Software]);
    let (offer, _, _) = one_offer(&sim.call("c0", Software, 3));
    sim.acd.offer_answered(sim.now, offer).unwrap();
    sim.drain();
    sim.login("first", &[Hardware]);
    sim.advance(5);
    // The owner is on a call: the caller waits for them, "first" stays idle.
    assert!(offers(&sim.call_for("c1", Hardware, "owner")).is_empty());
    assert_eq!(
        sim.acd.poll_timeout(),
        Some(sim.at(25)),
        "the reservation's end is a deadline"
    );
    assert!(offers(&sim.advance(24)).is_empty());
    // At the end of the reservation anyone serving the queue may take it.
    let (_, entry, agent) = one_offer(&sim.advance(25));
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "first"));
    assert!(
        sim.acd.poll_timeout().is_none_or(|t| t > sim.at(25)),
        "no deadline left in the past"
    );
}

#[test]
fn the_owner_free_again_within_the_window_is_offered_first() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("owner", &[Software]);
    let (offer, _, _) = one_offer(&sim.call("c0", Software, 3));
    sim.acd.offer_answered(sim.now, offer).unwrap();
    sim.drain();
    sim.login("first", &[Hardware]);
    // Another caller in Hardware, not reserved, goes to "first" at once.
    let (_, entry, agent) = one_offer(&sim.call("c2", Hardware, 3));
    assert_eq!((entry.as_str(), agent.as_str()), ("c2", "first"));
    assert!(offers(&sim.call_for("c1", Hardware, "owner")).is_empty());
    sim.advance(8);
    sim.acd.call_ended(sim.now, &aid("owner")).unwrap();
    sim.drain();
    let out = {
        sim.acd.wrapup_done(sim.now, &aid("owner")).unwrap();
        sim.drain()
    };
    let (_, entry, agent) = one_offer(&out);
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "owner"));
}

#[test]
fn no_reservation_for_an_owner_who_is_not_logged_in() {
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("first", &[Hardware]);
    let (_, entry, agent) = one_offer(&sim.call_for("c1", Hardware, "absent"));
    assert_eq!((entry.as_str(), agent.as_str()), ("c1", "first"));
    // Switched off: no reservation either.
    let mut sim = Sim::new(AcdConfig {
        prefer_owner_secs: 0,
        ..AcdConfig::default()
    });
    sim.login("first", &[Hardware]);
    sim.advance(1);
    sim.login("owner", &[Software]);
    let (_, _, agent) = one_offer(&sim.call_for("c1", Hardware, "owner"));
    assert_eq!(agent, "first");
}
