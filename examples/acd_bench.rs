//! Routing-decision latency of the sans-IO queue engine (`firstline::acd::Acd`, no I/O): 200
//! agents, 1,000 entries, timed with `std::time::Instant` (issue 3 benchmark, BENCHMARKS.md).
//!
//! Each round builds a fresh engine, logs in `--agents` agents (a mix of categories) and then:
//! 1. enqueues `--entries` callers one by one (random category and priority). While an agent is
//!    free, the enqueue yields an `Offer`: that is an "enqueue → offer" sample. The offer is then
//!    answered (not timed), so the agent is on a call. Once every agent is busy, the enqueue is an
//!    "enqueue, no offer" sample (no free agent serves it).
//! 2. frees the agents one at a time (call ended, then `wrapup_done`, timed) while entries wait:
//!    each gives an "agent free → offer" sample, answered again untimed, until the queues empty.
//!
//! A sample is the time of the input call plus draining `poll_output` until the `Offer` (or
//! nothing). Prints one JSON line with p50/p99/max in microseconds per kind.
//!
//! `cargo run --release --example acd_bench -- [--agents 200] [--entries 1000] [--rounds 20]`

use std::time::{Duration, Instant};

use firstline::acd::{Acd, AcdConfig, AcdOutput, AgentInfo, Entry, EntryId, EntryKind, OfferId};
use firstline::domain::{AgentId, Category, Priority};

/// A small deterministic PRNG (xorshift64*), so that runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const CATEGORIES: [Category; 3] = [Category::Hardware, Category::Software, Category::Service];

/// Timing samples of one kind, in nanoseconds.
#[derive(Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }
    /// `{"n":…,"p50_us":…,"p99_us":…,"max_us":…}`
    fn json(&mut self) -> String {
        self.0.sort_unstable();
        let q = |p: f64| -> f64 {
            if self.0.is_empty() {
                return 0.0;
            }
            let i = ((self.0.len() - 1) as f64 * p).round() as usize;
            self.0.get(i).copied().unwrap_or(0) as f64 / 1000.0
        };
        format!(
            "{{\"n\":{},\"p50_us\":{:.2},\"p99_us\":{:.2},\"max_us\":{:.2}}}",
            self.0.len(),
            q(0.5),
            q(0.99),
            q(1.0)
        )
    }
}

/// Drains the engine's outputs; returns the offer made, if any.
fn drain(acd: &mut Acd) -> Option<(OfferId, AgentId)> {
    let mut offer = None;
    while let Some(out) = acd.poll_output() {
        if let AcdOutput::Offer {
            offer: o, agent, ..
        } = out
        {
            offer = Some((o, agent));
        }
    }
    offer
}

struct Args {
    agents: usize,
    entries: usize,
    rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        agents: 200,
        entries: 1000,
        rounds: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: usize = value.parse().map_err(|e| format!("{flag} {value}: {e}"))?;
        match flag.as_str() {
            "--agents" => args.agents = n,
            "--entries" => args.entries = n,
            "--rounds" => args.rounds = n,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

/// The timings of all rounds.
#[derive(Default)]
struct Results {
    enqueue_offer: Samples,
    enqueue_no_offer: Samples,
    free_offer: Samples,
    free_no_offer: Samples,
}

/// One round: fresh engine, `agents` logged in, `entries` enqueued, then drained by freeing agents.
fn round(args: &Args, rng: &mut Rng, t0: Instant, res: &mut Results) -> Result<(), String> {
    let cfg = AcdConfig {
        wrapup_secs: 0,
        ..AcdConfig::default()
    };
    let mut now = t0;
    let mut acd = Acd::new(cfg, now);
    let agents: Vec<AgentId> = (0..args.agents)
        .map(|i| AgentId::from_string(format!("agent-{i}")))
        .collect();
    for (i, id) in agents.iter().enumerate() {
        // Agent i serves 1, 2 or 3 categories; a third serve all three.
        let categories = match i % 3 {
            0 => CATEGORIES.to_vec(),
            1 => vec![CATEGORIES[i % 3], CATEGORIES[(i + 1) % 3]],
            _ => vec![CATEGORIES[i % 3]],
        };
        let info = AgentInfo {
            id: id.clone(),
            categories,
            level: 1,
        };
        acd.agent_login(now, info).map_err(|e| e.to_string())?;
    }
    drain(&mut acd);
    let mut on_call: Vec<AgentId> = Vec::new();
    for n in 0..args.entries {
        now += Duration::from_millis(5);
        let category = CATEGORIES[rng.below(3) as usize];
        let priority = Priority::new(1 + rng.below(5) as u8).unwrap_or(Priority::QUESTION);
        let entry = Entry {
            id: EntryId::from_string(format!("call-{n}")),
            category,
            priority,
            arrived: now,
            kind: EntryKind::Call,
        };
        let start = Instant::now();
        acd.enqueue(now, entry).map_err(|e| e.to_string())?;
        let offer = drain(&mut acd);
        let took = start.elapsed();
        match offer {
            Some((offer, agent)) => {
                res.enqueue_offer.push(took);
                acd.offer_answered(now, offer).map_err(|e| e.to_string())?;
                drain(&mut acd);
                on_call.push(agent);
            }
            None => res.enqueue_no_offer.push(took),
        }
    }
    // Free agents in turn (oldest call first) until nobody waits any more.
    let mut i = 0;
    while let Some(agent) = on_call.get(i).cloned() {
        i += 1;
        now += Duration::from_millis(5);
        acd.call_ended(now, &agent).map_err(|e| e.to_string())?;
        drain(&mut acd);
        let start = Instant::now();
        acd.wrapup_done(now, &agent).map_err(|e| e.to_string())?;
        let offer = drain(&mut acd);
        let took = start.elapsed();
        match offer {
            Some((offer, agent)) => {
                res.free_offer.push(took);
                acd.offer_answered(now, offer).map_err(|e| e.to_string())?;
                drain(&mut acd);
                on_call.push(agent);
            }
            None => res.free_no_offer.push(took),
        }
    }
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("acd_bench: {e}");
            std::process::exit(2);
        }
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut res = Results::default();
    let t0 = Instant::now();
    for _ in 0..args.rounds {
        if let Err(e) = round(&args, &mut rng, t0, &mut res) {
            eprintln!("acd_bench: engine refused an input: {e}");
            std::process::exit(1);
        }
    }
    println!(
        "{{\"agents\":{},\"entries\":{},\"rounds\":{},\"enqueue_to_offer\":{},\"enqueue_no_offer\":{},\"agent_free_to_offer\":{},\"agent_free_no_offer\":{},\"wall_s\":{:.2}}}",
        args.agents,
        args.entries,
        args.rounds,
        res.enqueue_offer.json(),
        res.enqueue_no_offer.json(),
        res.free_offer.json(),
        res.free_no_offer.json(),
        t0.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_served_once() {
        let args = Args {
            agents: 10,
            entries: 50,
            rounds: 1,
        };
        let mut res = Results::default();
        round(&args, &mut Rng(1), Instant::now(), &mut res).unwrap();
        // The first 10 enqueues find a free agent (every agent serves one category at least and
        // the three-category agents serve all); every entry is offered exactly once in total.
        let offered = res.enqueue_offer.0.len() + res.free_offer.0.len();
        assert_eq!(offered, 50);
        assert!(res.enqueue_offer.0.len() >= 4);
    }
}
