//! Fuzzing on the stable toolchain: a deterministic mutation loop over real messages, one
//! target per wire-data entry point the server runs (docs/security.md, "Fuzzing").
//!
//! ```text
//! cargo run --release --example fuzz -- list
//! cargo run --release --example fuzz -- <target> <inputs> [seed]   # e.g. sip 10000000
//! cargo run --release --example fuzz -- all <inputs> [seed]
//! cargo run --release --example fuzz -- replay <target> <file>
//! ```
//!
//! Input `i` of a run is seed `i` of the corpus, or past the corpus a mutation drawn from an
//! RNG seeded with `(seed, i)`: any input is reproducible on its own. A panic, a failed
//! invariant, or an input that takes more than [`HANG`] is saved under `fuzz-findings/`
//! (`FUZZ_OUT` moves it); an input stuck for good is saved by a watchdog, which then ends the
//! process. `cargo test --example fuzz` (part of `cargo test --all-targets`) runs every target
//! for a short fixed-seed run.

mod corpus;
mod media;
mod mutate;
mod sip;
mod srtp;
mod web;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use mutate::{Input, mutate};

/// An input taking longer than this is a hang.
pub(crate) const HANG: Duration = Duration::from_secs(1);

/// One fuzz target: its seeds, the tokens its format is made of, and the code it drives.
pub(crate) struct Target {
    /// Name on the command line.
    pub(crate) name: &'static str,
    /// What it feeds where, for `list`.
    pub(crate) about: &'static str,
    /// Real inputs to start from.
    pub(crate) seeds: fn() -> Vec<Input>,
    /// Tokens of the format, inserted by the mutator.
    pub(crate) dict: &'static [&'static [u8]],
    /// Runs one input; `Err` is a broken invariant (a panic is caught by the runner).
    pub(crate) run: fn(&Input) -> Result<(), String>,
}

/// Every target; adding one is a line here and a `fn` in its module.
pub(crate) const TARGETS: &[Target] = &[
    sip::UDP,
    sip::STREAM,
    media::SDP,
    media::RTP,
    media::INFO,
    srtp::SRTP,
    web::WS_DESK,
    web::WS_SUPERVISOR,
    web::REST,
];

/// What a run found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    pub(crate) inputs: u64,
    pub(crate) panics: u64,
    pub(crate) failures: u64,
    pub(crate) hangs: u64,
    pub(crate) slowest: Duration,
    pub(crate) elapsed: Duration,
    /// Where findings were saved.
    pub(crate) saved: Vec<PathBuf>,
}

/// Input `i` of a run with `seed`.
fn input_for(t: &Target, seeds: &[Input], seed: u64, i: u64) -> Input {
    match usize::try_from(i).ok().and_then(|i| seeds.get(i)) {
        Some(s) => s.clone(),
        None => {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i);
            mutate(&mut rng, seeds, t.dict)
        }
    }
}

/// The last panic's message and place, kept by the quiet panic hook.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = info.to_string();
        }
    }));
}

/// Where findings go.
fn out_dir() -> PathBuf {
    std::env::var_os("FUZZ_OUT").map_or_else(|| PathBuf::from("fuzz-findings"), PathBuf::from)
}

/// Parts as `u32` big-endian length + bytes, each.
fn encode(input: &Input) -> Vec<u8> {
    let mut out = Vec::new();
    for p in input {
        out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn decode(mut bytes: &[u8]) -> Input {
    let mut parts = Vec::new();
    while bytes.len() >= 4 {
        let n = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let n = n.min(bytes.len() - 4);
        parts.push(bytes[4..4 + n].to_vec());
        bytes = &bytes[4 + n..];
    }
    parts
}

fn save(t: &Target, seed: u64, i: u64, kind: &str, input: &Input, why: &str) -> PathBuf {
    let dir = out_dir();
    let path = dir.join(format!("{}-{seed}-{i}.{kind}.bin", t.name));
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, encode(input)));
    eprintln!(
        "fuzz {}: {kind} at input {i} (seed {seed}): {why}\n  saved to {} ({})",
        t.name,
        path.display(),
        match written {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("not written: {e}"),
        }
    );
    path
}

/// The input being run, for the watchdog.
struct Progress {
    index: AtomicU64,
    /// Nanoseconds since `base` when the current input started; `u64::MAX` between inputs.
    started: AtomicU64,
    done: AtomicBool,
    base: Instant,
}

/// Ends the process when one input runs past `HANG` for good (a loop that never returns
/// cannot be interrupted), after saving that input.
fn watchdog(t: &'static Target, seeds: Vec<Input>, seed: u64, p: Arc<Progress>) {
    std::thread::spawn(move || {
        while !p.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            let started = p.started.load(Ordering::Relaxed);
            if started == u64::MAX {
                continue;
            }
            let now = u64::try_from(p.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            if now.saturating_sub(started) > 10 * u64::try_from(HANG.as_nanos()).unwrap_or(0) {
                let i = p.index.load(Ordering::Relaxed);
                let input = input_for(t, &seeds, seed, i);
                save(t, seed, i, "hang", &input, "still running after 10 s");
                std::process::exit(3);
            }
        }
    });
}

/// Runs `n` inputs of `t` with `seed`.
pub(crate) fn run(t: &'static Target, n: u64, seed: u64) -> Report {
    quiet_panics();
    let seeds = (t.seeds)();
    assert!(!seeds.is_empty(), "{}: no seeds", t.name);
    let progress = Arc::new(Progress {
        index: AtomicU64::new(0),
        started: AtomicU64::new(u64::MAX),
        done: AtomicBool::new(false),
        base: Instant::now(),
    });
    watchdog(t, seeds.clone(), seed, progress.clone());
    let mut report = Report::default();
    let start = Instant::now();
    for i in 0..n {
        let input = input_for(t, &seeds, seed, i);
        progress.index.store(i, Ordering::Relaxed);
        let t0 = Instant::now();
        progress.started.store(
            u64::try_from(t0.duration_since(progress.base).as_nanos()).unwrap_or(0),
            Ordering::Relaxed,
        );
        let result = catch_unwind(AssertUnwindSafe(|| (t.run)(&input)));
        let took = t0.elapsed();
        progress.started.store(u64::MAX, Ordering::Relaxed);
        report.inputs += 1;
        report.slowest = report.slowest.max(took);
        let finding = match result {
            Ok(Ok(())) => None,
            Ok(Err(why)) => {
                report.failures += 1;
                Some(("invariant", why))
            }
            Err(_) => {
                report.panics += 1;
                let why = LAST_PANIC.lock().map(|s| s.clone()).unwrap_or_default();
                Some(("panic", why))
            }
        };
        let finding = finding.or_else(|| {
            (took > HANG).then(|| {
                report.hangs += 1;
                ("hang", format!("took {took:?}"))
            })
        });
        if let Some((kind, why)) = finding
            && report.saved.len() < 20
        {
            report.saved.push(save(t, seed, i, kind, &input, &why));
        }
    }
    progress.done.store(true, Ordering::Relaxed);
    report.elapsed = start.elapsed();
    report
}

fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

fn usage() -> ! {
    eprintln!(
        "usage: fuzz list | <target> <inputs> [seed] | all <inputs> [seed] | replay <target> <file>"
    );
    std::process::exit(2)
}

fn print(t: &Target, seed: u64, r: &Report) {
    let secs = r.elapsed.as_secs_f64();
    println!(
        "fuzz {}: inputs={} seed={seed} duration={secs:.1}s rate={:.0}/s panics={} invariant_failures={} hangs={} slowest={:.1}ms",
        t.name,
        r.inputs,
        r.inputs as f64 / secs.max(1e-9),
        r.panics,
        r.failures,
        r.hangs,
        r.slowest.as_secs_f64() * 1e3,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: Option<u64>| {
        args.get(i)
            .map(|s| s.replace('_', "").parse::<f64>().ok().map(|v| v as u64))
            .unwrap_or(default)
            .unwrap_or_else(|| usage())
    };
    match args.first().map(String::as_str) {
        Some("list") => {
            for t in TARGETS {
                println!("{:14} {} ({} seeds)", t.name, t.about, (t.seeds)().len());
            }
        }
        Some("replay") => {
            let (Some(t), Some(file)) = (args.get(1).and_then(|n| target(n)), args.get(2)) else {
                usage()
            };
            let input = decode(&std::fs::read(file).unwrap_or_else(|e| {
                eprintln!("{file}: {e}");
                std::process::exit(2)
            }));
            for (i, p) in input.iter().enumerate() {
                println!("part {i}: {:?}", String::from_utf8_lossy(p));
            }
            let t0 = Instant::now();
            let result = (t.run)(&input);
            println!("{result:?} in {:?}", t0.elapsed());
        }
        Some(name) => {
            let (n, seed) = (num(1, None), num(2, Some(1)));
            let chosen: Vec<&'static Target> = if name == "all" {
                TARGETS.iter().collect()
            } else {
                vec![target(name).unwrap_or_else(|| usage())]
            };
            let mut bad = false;
            for t in chosen {
                let r = run(t, n, seed);
                print(t, seed, &r);
                bad |= r.panics + r.failures + r.hangs > 0;
            }
            std::process::exit(i32::from(bad));
        }
        None => usage(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs per target in the test suite (a debug build; about a second each).
    const SHORT: u64 = 3_000;

    fn short_run(name: &str) {
        let t = target(name).expect("a target of that name");
        let r = run(t, SHORT, 20_240_611);
        assert_eq!(
            (r.panics, r.failures, r.hangs),
            (0, 0, 0),
            "{name}: findings saved as {:?}",
            r.saved
        );
        assert_eq!(r.inputs, SHORT);
    }

    #[test]
    fn every_target_has_a_test_below() {
        let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "sip",
                "sip-stream",
                "sdp",
                "rtp",
                "info",
                "srtp",
                "ws-desk",
                "ws-supervisor",
                "rest"
            ]
        );
    }

    #[test]
    fn saved_inputs_read_back() {
        let input: Input = vec![b"a".to_vec(), Vec::new(), vec![0; 300]];
        assert_eq!(decode(&encode(&input)), input);
    }

    #[test]
    fn sip() {
        short_run("sip");
    }
    #[test]
    fn sip_stream() {
        short_run("sip-stream");
    }
    #[test]
    fn sdp() {
        short_run("sdp");
    }
    #[test]
    fn rtp() {
        short_run("rtp");
    }
    #[test]
    fn info() {
        short_run("info");
    }
    #[test]
    fn srtp() {
        short_run("srtp");
    }
    #[test]
    fn ws_desk() {
        short_run("ws-desk");
    }
    #[test]
    fn ws_supervisor() {
        short_run("ws-supervisor");
    }
    #[test]
    fn rest() {
        short_run("rest");
    }
}
