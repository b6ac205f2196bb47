//! Randomised interleavings of arrivals, hang-ups, agent state changes, answers, failures,
//! ring timeouts (issue 3 acceptance) and phones gaining or losing their registration (issue
//! 10); the invariants are checked after every input. A failing run prints its seed: rerun one
//! with `run(seed)`.

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::acd::{AcdError, CallbackReason, CancelReason, FailReason, RemoveReason, Strategy};
use crate::domain::Category::{Hardware, Service, Software, Unclassified};

const SEEDS: u64 = 500;
const STEPS: usize = 300;
const AGENTS: usize = 5;
const CATEGORIES: [Category; 4] = [Hardware, Software, Service, Unclassified];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Served,
    Removed,
}

/// What the test knows from its own inputs and the engine's outputs.
struct Model {
    acd: Acd,
    now: Instant,
    t0: Instant,
    status: HashMap<EntryId, Status>,
    /// Enqueue order (the engine's tie-break for equal arrival times).
    seq: HashMap<EntryId, u64>,
    arrived: HashMap<EntryId, Instant>,
    /// Live offers, from `Offer` / `CancelOffer` outputs and answers.
    offers: HashMap<OfferId, (EntryId, AgentId)>,
    /// Every offer ever made (to try stale answers).
    dead_offers: Vec<OfferId>,
    /// Agent states, followed through `AgentState` outputs (`from` must match).
    states: HashMap<AgentId, AgentState>,
    skills: HashMap<AgentId, Vec<Category>>,
    /// Agents whose device cannot take a call now (as told to the engine).
    unreachable: HashSet<AgentId>,
    /// `require_registration` of this run.
    require: bool,
    next_entry: u64,
    /// Why the current input may cancel an offer (`None`: it must cancel none).
    cancel_reason: Option<CancelReason>,
    stats: Stats,
}

/// What a run exercised, so a run that tests nothing fails.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    offers: u64,
    cancels: u64,
    /// Cancels by reason: ring timeout, agent left, withdrawn.
    cancels_by_reason: [u64; 3],
    answered: u64,
    max_waiting: usize,
    /// Reachability changes told to the engine while `require_registration` was on.
    reach_changes: u64,
}

impl Model {
    fn serves(&self, agent: &AgentId, category: Category) -> bool {
        category == Unclassified || self.skills[agent].contains(&category)
    }

    /// Whether the router may offer `agent` calls.
    fn offerable(&self, agent: &AgentId) -> bool {
        !self.require || !self.unreachable.contains(agent)
    }

    fn state(&self, agent: &AgentId) -> AgentState {
        self.states
            .get(agent)
            .cloned()
            .unwrap_or(AgentState::Offline)
    }

    /// Applies the outputs of one input, checking each against the model; returns the offers
    /// made, in order.
    fn absorb(&mut self) -> Vec<(OfferId, EntryId, AgentId)> {
        let mut made = Vec::new();
        while let Some(out) = self.acd.poll_output() {
            match out {
                AcdOutput::Offer {
                    offer,
                    entry,
                    agent,
                } => {
                    assert_eq!(
                        self.status.get(&entry),
                        Some(&Status::Waiting),
                        "offer of {entry}"
                    );
                    assert!(
                        self.offers
                            .values()
                            .all(|(e, a)| *e != entry && *a != agent),
                        "{entry} or {agent} already in a live offer"
                    );
                    assert!(self.serves(&agent, self.category_of(&entry)));
                    assert!(self.offerable(&agent), "{agent} is unreachable");
                    self.offers.insert(offer, (entry.clone(), agent.clone()));
                    made.push((offer, entry, agent));
                    self.stats.offers += 1;
                }
                AcdOutput::CancelOffer {
                    offer,
                    entry,
                    agent,
                    reason,
                } => {
                    assert_eq!(self.offers.remove(&offer), Some((entry, agent)));
                    assert_eq!(Some(reason), self.cancel_reason, "cancel of {offer}");
                    self.stats.cancels += 1;
                    self.stats.cancels_by_reason[reason as usize] += 1;
                    self.dead_offers.push(offer);
                }
                AcdOutput::AgentState {
                    agent,
                    from,
                    to,
                    at,
                    ..
                } => {
                    assert_eq!(self.state(&agent), from, "from-state of {agent}");
                    assert_eq!(at, self.now);
                    self.states.insert(agent, to);
                }
                AcdOutput::Announce { entry, place, .. } => {
                    assert_eq!(self.status.get(&entry), Some(&Status::Waiting));
                    assert!(place >= 1);
                }
                AcdOutput::OfferCallback { entry, reason } => {
                    assert_eq!(self.status.get(&entry), Some(&Status::Waiting));
                    if reason == CallbackReason::NobodyServes {
                        let cat = self.category_of(&entry);
                        assert!(self.states.iter().all(|(a, s)| {
                            *s == AgentState::Offline || !self.serves(a, cat) || !self.offerable(a)
                        }));
                    }
                }
            }
        }
        made
    }

    fn category_of(&self, entry: &EntryId) -> Category {
        self.acd
            .snapshot(self.now)
            .entry(entry)
            .map_or(Unclassified, |e| e.category)
    }

    /// Every invariant of docs/acd.md, given the offers the last input made.
    fn check(&self, made: &[(OfferId, EntryId, AgentId)]) {
        let snap = self.acd.snapshot(self.now);
        // No entry lost or duplicated.
        let mut seen = HashSet::new();
        for e in snap.entries() {
            assert!(seen.insert(e.id.clone()), "{} twice", e.id);
            assert_eq!(self.status.get(&e.id), Some(&Status::Waiting), "{}", e.id);
            // Offered in the snapshot iff a live offer holds it.
            let live = self.offers.iter().find(|(_, (en, _))| *en == e.id);
            assert_eq!(e.offer, live.map(|(o, _)| *o), "offer of {}", e.id);
        }
        let waiting = self
            .status
            .values()
            .filter(|s| **s == Status::Waiting)
            .count();
        assert_eq!(seen.len(), waiting, "entries lost");
        // Agents: the followed states are the engine's; ringing iff holding one live offer.
        for a in &snap.agents {
            assert_eq!(self.state(&a.id), a.state, "state of {}", a.id);
            let held: Vec<_> = self
                .offers
                .iter()
                .filter(|(_, (_, ag))| *ag == a.id)
                .map(|(o, _)| *o)
                .collect();
            match &a.state {
                AgentState::Ringing { offer } => assert_eq!(held, [*offer], "{}", a.id),
                _ => assert!(held.is_empty(), "{} holds {held:?}", a.id),
            }
            assert_eq!(a.reachable, self.offerable(&a.id), "reachable {}", a.id);
            // No idle agent who may be offered calls next to an offerable entry it serves.
            if a.state == AgentState::Available && a.reachable {
                let idle_next_to = snap
                    .entries()
                    .find(|e| e.offer.is_none() && self.serves(&a.id, e.category));
                assert!(
                    idle_next_to.is_none(),
                    "{} idle next to {idle_next_to:?}",
                    a.id
                );
            }
        }
        // Each offer took the best entry that was offerable for its agent.
        let key = |id: &EntryId| {
            let e = snap.entry(id)?;
            Some((e.effective_priority, e.arrived, self.seq[id]))
        };
        for (i, (offer, entry, agent)) in made.iter().enumerate() {
            if !self.offers.contains_key(offer) {
                continue;
            }
            let Some(mine) = key(entry) else { continue };
            let later: HashSet<&EntryId> = made[i + 1..].iter().map(|(_, e, _)| e).collect();
            for other in snap.entries() {
                let offerable = other.offer.is_none() || later.contains(&other.id);
                if offerable && other.id != *entry && self.serves(agent, other.category) {
                    assert!(
                        mine < key(&other.id).unwrap(),
                        "{agent} got {entry} {mine:?} but {} is better",
                        other.id
                    );
                }
            }
        }
    }

    /// Moves time forward like the owner task: each deadline handled at its own instant.
    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        let mut guard = 0;
        while let Some(deadline) = self.acd.poll_timeout() {
            if deadline > target {
                break;
            }
            guard += 1;
            assert!(guard < 10_000, "handle_timeout makes no progress");
            self.now = self.now.max(deadline);
            self.acd.handle_timeout(self.now);
            self.cancel_reason = Some(CancelReason::RingTimeout);
            let made = self.absorb();
            self.cancel_reason = None;
            self.check(&made);
        }
        self.now = target;
    }
}

fn pick<T: Clone>(rng: &mut StdRng, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[rng.random_range(0..items.len())].clone())
}

/// One random run; panics on the first broken invariant.
fn run(seed: u64) -> Stats {
    let mut rng = StdRng::seed_from_u64(seed);
    let cfg = AcdConfig {
        strategy: pick(
            &mut rng,
            &[
                Strategy::LongestIdle,
                Strategy::RoundRobin,
                Strategy::FewestCalls,
            ],
        )
        .unwrap(),
        ageing_secs: pick(&mut rng, &[0, 30, 120]).unwrap(),
        wrapup_secs: pick(&mut rng, &[0, 10, 30]).unwrap(),
        require_registration: rng.random_bool(0.7),
        ..AcdConfig::default()
    };
    let require = cfg.require_registration;
    let t0 = Instant::now();
    let mut m = Model {
        acd: Acd::new(cfg, t0),
        now: t0,
        t0,
        status: HashMap::new(),
        seq: HashMap::new(),
        arrived: HashMap::new(),
        offers: HashMap::new(),
        dead_offers: Vec::new(),
        states: HashMap::new(),
        skills: HashMap::new(),
        unreachable: HashSet::new(),
        require,
        next_entry: 0,
        cancel_reason: None,
        stats: Stats::default(),
    };
    let agents: Vec<AgentId> = (0..AGENTS).map(|i| aid(&format!("a{i}"))).collect();
    for a in &agents {
        let skills = [Hardware, Software, Service]
            .into_iter()
            .filter(|_| rng.random_bool(0.5))
            .collect();
        m.skills.insert(a.clone(), skills);
    }
    for _ in 0..STEPS {
        step(&mut m, &mut rng, &agents);
        let made = m.absorb();
        m.cancel_reason = None;
        m.check(&made);
        let waiting = m.status.values().filter(|s| **s == Status::Waiting).count();
        m.stats.max_waiting = m.stats.max_waiting.max(waiting);
    }
    m.stats
}

/// One random input; its result is checked against what the model expects.
fn step(m: &mut Model, rng: &mut StdRng, agents: &[AgentId]) {
    let now = m.now;
    let agent = pick(rng, agents).unwrap();
    let state = m.state(&agent);
    let waiting: Vec<EntryId> = {
        let mut w: Vec<_> = m
            .status
            .iter()
            .filter(|(_, s)| **s == Status::Waiting)
            .map(|(e, _)| e.clone())
            .collect();
        w.sort();
        w
    };
    let live: Vec<OfferId> = {
        let mut l: Vec<_> = m.offers.keys().copied().collect();
        l.sort();
        l
    };
    let logged_in = state != AgentState::Offline;
    match rng.random_range(0..100) {
        0..=14 => {
            m.next_entry += 1;
            let id = eid(&format!("e{}", m.next_entry));
            let callback = rng.random_bool(0.2);
            let back = Duration::from_secs(rng.random_range(0..120));
            let arrived = if callback {
                now.checked_sub(back).unwrap_or(now).max(m.t0)
            } else {
                now
            };
            let entry = Entry {
                id: id.clone(),
                category: pick(rng, &CATEGORIES).unwrap(),
                priority: Priority::new(rng.random_range(1..=5)).unwrap(),
                arrived,
                kind: if callback {
                    EntryKind::Callback
                } else {
                    EntryKind::Call
                },
            };
            m.status.insert(id.clone(), Status::Waiting);
            m.seq.insert(id.clone(), m.next_entry);
            m.arrived.insert(id, arrived);
            m.acd.enqueue(now, entry).unwrap();
        }
        15..=21 => {
            if let Some(id) = pick(rng, &waiting) {
                let reason = pick(rng, &[RemoveReason::Abandoned, RemoveReason::Callback]).unwrap();
                let waited = m.acd.remove(now, &id, reason).unwrap();
                m.cancel_reason = Some(CancelReason::Withdrawn);
                assert_eq!(waited, now.saturating_duration_since(m.arrived[&id]));
                m.status.insert(id, Status::Removed);
            }
        }
        22..=29 => {
            let info = AgentInfo {
                id: agent.clone(),
                categories: m.skills[&agent].clone(),
                level: 1,
            };
            let r = m.acd.agent_login(now, info);
            assert_eq!(
                r.is_ok(),
                !logged_in,
                "login {agent} while {state:?}: {r:?}"
            );
        }
        30..=31 => {
            let r = m.acd.agent_logout(now, &agent);
            m.cancel_reason = Some(CancelReason::AgentLeft);
            let ok = logged_in && state != AgentState::OnCall;
            assert_eq!(r.is_ok(), ok, "logout {agent} while {state:?}: {r:?}");
        }
        32..=35 => {
            let r = m.acd.set_not_ready(now, &agent, "break".into());
            let ok = matches!(
                state,
                AgentState::Available | AgentState::NotReady { .. } | AgentState::WrapUp
            );
            assert_eq!(r.is_ok(), ok, "not ready {agent} while {state:?}: {r:?}");
        }
        36..=49 => {
            let r = m.acd.set_available(now, &agent);
            let ok = matches!(
                state,
                AgentState::Available | AgentState::NotReady { .. } | AgentState::WrapUp
            );
            assert_eq!(r.is_ok(), ok, "available {agent} while {state:?}: {r:?}");
        }
        50..=55 => {
            let r = m.acd.wrapup_done(now, &agent);
            assert_eq!(r.is_ok(), state == AgentState::WrapUp, "{state:?}: {r:?}");
        }
        56..=64 => {
            let r = m.acd.call_ended(now, &agent);
            assert_eq!(r.is_ok(), state == AgentState::OnCall, "{state:?}: {r:?}");
        }
        65..=76 => {
            if let Some(offer) = pick(rng, &live) {
                let (entry, agent) = m.offers.remove(&offer).unwrap();
                let waited = m.acd.offer_answered(now, offer).unwrap();
                assert_eq!(waited, now.saturating_duration_since(m.arrived[&entry]));
                m.status.insert(entry, Status::Served);
                m.stats.answered += 1;
                assert_eq!(
                    m.acd.snapshot(now).agent(&agent).unwrap().state,
                    AgentState::OnCall
                );
                m.dead_offers.push(offer);
            }
        }
        77..=80 => {
            if let Some(offer) = pick(rng, &live) {
                let reason = pick(
                    rng,
                    &[
                        FailReason::NoAnswer,
                        FailReason::Rejected,
                        FailReason::Unreachable,
                    ],
                )
                .unwrap();
                m.offers.remove(&offer);
                m.acd.offer_failed(now, offer, reason).unwrap();
                m.dead_offers.push(offer);
            }
        }
        81..=83 => {
            // Stale answers and failures are refused and change nothing.
            let dead = m.dead_offers.clone();
            if let Some(offer) = pick(rng, &dead) {
                let before = m.acd.snapshot(now);
                assert_eq!(
                    m.acd.offer_answered(now, offer),
                    Err(AcdError::UnknownOffer(offer))
                );
                assert_eq!(
                    m.acd.offer_failed(now, offer, FailReason::NoAnswer),
                    Err(AcdError::UnknownOffer(offer))
                );
                assert_eq!(m.acd.snapshot(now), before);
            }
        }
        84..=86 => {
            if let Some(id) = pick(rng, &waiting) {
                let p = Priority::new(rng.random_range(1..=5)).unwrap();
                m.acd.set_priority(now, &id, p).unwrap();
            }
        }
        87..=88 => {
            if let Some(id) = pick(rng, &waiting) {
                let offered = m.offers.values().any(|(e, _)| *e == id);
                let r = m.acd.move_entry(now, &id, pick(rng, &CATEGORIES).unwrap());
                assert_eq!(r.is_ok(), !offered, "{r:?}");
            }
        }
        89..=90 => {
            // A phone registers or its registration lapses (any state, logged in or not).
            let reachable = rng.random_bool(0.7);
            let changed = if reachable {
                m.unreachable.remove(&agent)
            } else {
                m.unreachable.insert(agent.clone())
            };
            if changed && m.require {
                m.stats.reach_changes += 1;
            }
            m.acd.set_reachable(now, &agent, reachable);
        }
        _ => {
            let by = Duration::from_millis(rng.random_range(0..20_000));
            m.advance(by);
        }
    }
}

#[test]
fn random_interleavings_keep_the_invariants() {
    let mut total = Stats::default();
    for seed in 0..SEEDS {
        match std::panic::catch_unwind(|| run(seed)) {
            Ok(s) => {
                total.offers += s.offers;
                total.cancels += s.cancels;
                for (t, n) in total.cancels_by_reason.iter_mut().zip(s.cancels_by_reason) {
                    *t += n;
                }
                total.answered += s.answered;
                total.max_waiting = total.max_waiting.max(s.max_waiting);
                total.reach_changes += s.reach_changes;
            }
            Err(_) => panic!("randomised ACD test failed with seed {seed}"),
        }
    }
    // The runs must have exercised routing, ring timeouts / hang-ups and answers.
    eprintln!("randomised ACD runs: {total:?}");
    assert!(total.offers > SEEDS * 20, "{total:?}");
    assert!(total.cancels > SEEDS, "{total:?}");
    assert!(
        total.cancels_by_reason.iter().all(|n| *n > 0),
        "every cancel reason: {total:?}"
    );
    assert!(total.answered > SEEDS * 5, "{total:?}");
    assert!(total.max_waiting >= 10, "{total:?}");
    assert!(total.reach_changes > SEEDS, "{total:?}");
}
