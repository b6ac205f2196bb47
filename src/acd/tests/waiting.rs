//! Waiting callers: estimated wait on scripted scenarios, announcement cadence, callback offers.

use super::*;
use crate::acd::{CallbackReason, Position};
use crate::domain::Category::{Hardware, Service, Software, Unclassified};

fn secs(s: u64) -> Option<Duration> {
    Some(Duration::from_secs(s))
}

fn announces(outputs: &[AcdOutput]) -> Vec<(String, usize, Option<Duration>)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AcdOutput::Announce {
                entry,
                place,
                estimate,
            } => Some((entry.to_string(), *place, *estimate)),
            _ => None,
        })
        .collect()
}

fn callbacks(outputs: &[AcdOutput]) -> Vec<(String, CallbackReason)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AcdOutput::OfferCallback { entry, reason } => Some((entry.to_string(), *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn estimate_from_busy_agents_and_default_handling_time() {
    // Before any data a call takes 240 s (talk + wrap-up).
    let mut sim = Sim::new(AcdConfig::default());
    sim.login("h1", &[Hardware]);
    sim.login("h2", &[Hardware]);
    sim.login("s1", &[Software]);
    sim.acd
        .set_not_ready(sim.now, &aid("s1"), "break".into())
        .unwrap();
    for c in ["c1", "c2"] {
        let (offer, _, _) = one_offer(&sim.call(c, Hardware, 3));
        sim.acd.offer_answered(sim.now, offer).unwrap();
    }
    sim.advance(60);
    // Both hardware agents free in 240 - 60 = 180 s.
    assert_eq!(
        announces(&sim.call("c3", Hardware, 3)),
        [("c3".into(), 1, secs(180))]
    );
    // Second in line: the other agent, also at 180 s.
    assert_eq!(
        announces(&sim.call("c4", Hardware, 3)),
        [("c4".into(), 2, secs(180))]
    );
    // Third: the first agent again after serving c3: 180 + 240.
    assert_eq!(
        announces(&sim.call("c5", Hardware, 3)),
        [("c5".into(), 3, secs(420))]
    );
    // A not-ready agent is assumed back after one handling time.
    assert_eq!(
        announces(&sim.call("s", Software, 3)),
        [("s".into(), 1, secs(240))]
    );
    // A priority-1 caller is first in line.
    assert_eq!(
        announces(&sim.call("vip", Hardware, 1)),
        [("vip".into(), 1, secs(180))]
    );
    // Later, the busy agents' remaining time shrinks: at 100 s they need 140 s more.
    sim.advance(100);
    assert_eq!(
        sim.acd.position(sim.now, &eid("c5")),
        Some(Position {
            place: 4,
            estimate: secs(380)
        })
    );
    // Unclassified callers compete with everyone the pool serves: all four hardware callers
    // and the software caller are ahead (five entries, three agents).
    sim.call("u", Unclassified, 3);
    assert_eq!(
        sim.acd.position(sim.now, &eid("u")).map(|p| p.place),
        Some(6)
    );
    assert_eq!(sim.acd.position(sim.now, &eid("nope")), None);
}

#[test]
fn estimate_learns_handling_time_per_category() {
    let mut sim = Sim::new(AcdConfig {
        wrapup_secs: 30,
        ..AcdConfig::default()
    });
    sim.login("h", &[Hardware, Software]);
    let (offer, _, _) = one_offer(&sim.call("c1", Hardware, 3));
    sim.acd.offer_answered(sim.now, offer).unwrap();
    sim.advance(100);
    sim.acd.call_ended(sim.now, &aid("h")).unwrap();
    sim.advance(130); // wrap-up ends: hardware handling time is now 130 s
    sim.advance(200);
    let (offer, _, _) = one_offer(&sim.call("c2", Hardware, 3));
    sim.acd.offer_answered(sim.now, offer).unwrap();
    sim.advance(210);
    assert_eq!(
        announces(&sim.call("c3", Hardware, 3)),
        [("c3".into(), 1, secs(120))]
    );
    sim.advance(220);
    assert_eq!(
        announces(&sim.call("c4", Hardware, 3)),
        [("c4".into(), 2, secs(240))]
    );
    // Software has no data: the agent's current (hardware) call frees them in 110 s, then the
    // two hardware callers ahead take 130 s each.
    assert_eq!(
        announces(&sim.call("s", Software, 3)),
        [("s".into(), 3, secs(370))]
    );
    // A call running past the average is assumed to need a tenth of it still.
    sim.advance(400);
    assert_eq!(
        sim.acd.position(sim.now, &eid("c3")).unwrap().estimate,
        secs(13)
    );
}

#[test]
fn announce_at_entry_then_every_interval() {
    let mut sim = Sim::new(AcdConfig::default()); // every 30 s
    sim.login("n", &[Service]);
    sim.acd
        .set_not_ready(sim.now, &aid("n"), "meeting".into())
        .unwrap();
    sim.drain();
    assert_eq!(announces(&sim.call("c1", Service, 3)).len(), 1);
    assert!(announces(&sim.advance(29)).is_empty());
    assert_eq!(announces(&sim.advance(30)).len(), 1);
    assert!(announces(&sim.advance(59)).is_empty());
    assert_eq!(announces(&sim.advance(60)).len(), 1);
    // A driver that wakes late announces once and keeps the cadence.
    sim.acd.handle_timeout(sim.at(200));
    assert_eq!(announces(&sim.drain()).len(), 1);
    assert_eq!(sim.acd.poll_timeout(), Some(sim.at(210)));
    // No announcement while the caller's agent rings.
    sim.now = sim.at(200);
    sim.acd.set_available(sim.now, &aid("n")).unwrap();
    assert_eq!(offers(&sim.drain()).len(), 1);
    let out = sim.advance(214);
    assert!(
        announces(&out).is_empty(),
        "the beat at 210 is skipped: {out:?}"
    );
    // The ring times out at 215; the caller waits again and hears the beat at 240.
    assert_eq!(announces(&sim.advance(240)).len(), 1);
}

#[test]
fn callback_offered_when_nobody_serves_and_after_max_wait() {
    let cfg = AcdConfig {
        announce_interval_secs: 0,
        ..AcdConfig::default() // max wait 300 s
    };
    let mut sim = Sim::new(cfg);
    // Nobody at all: place 1, no estimate, callback offered.
    let out = sim.call("alone", Hardware, 3);
    assert_eq!(announces(&out), [("alone".into(), 1, None)]);
    assert_eq!(
        callbacks(&out),
        [("alone".into(), CallbackReason::NobodyServes)]
    );
    sim.acd
        .remove(sim.now, &eid("alone"), crate::acd::RemoveReason::Callback)
        .unwrap();

    // An agent who serves the queue is busy: no callback offer at entry.
    sim.login("h", &[Hardware]);
    let (offer, _, _) = one_offer(&sim.call("c0", Hardware, 3));
    sim.acd.offer_answered(sim.now, offer).unwrap();
    let out = sim.call("c1", Hardware, 3);
    assert!(callbacks(&out).is_empty());
    assert_eq!(sim.acd.poll_timeout(), Some(sim.at(300)));
    assert!(callbacks(&sim.advance(299)).is_empty());
    assert_eq!(
        callbacks(&sim.advance(300)),
        [("c1".into(), CallbackReason::WaitedTooLong)]
    );
    assert!(callbacks(&sim.advance(1000)).is_empty(), "only once");

    // The last agent serving the queue logs out: the waiting caller is told.
    sim.acd.call_ended(sim.now, &aid("h")).unwrap();
    sim.acd
        .set_not_ready(sim.now, &aid("h"), "home".into())
        .unwrap();
    sim.drain();
    sim.acd.agent_logout(sim.now, &aid("h")).unwrap();
    assert_eq!(
        callbacks(&sim.drain()),
        [("c1".into(), CallbackReason::NobodyServes)]
    );
    sim.login("s", &[Service]);
    sim.acd
        .set_not_ready(sim.now, &aid("s"), "x".into())
        .unwrap();
    sim.acd.agent_logout(sim.now, &aid("s")).unwrap();
    assert!(callbacks(&sim.drain()).is_empty(), "once per reason");
    assert_eq!(sim.acd.poll_timeout(), None);
}
