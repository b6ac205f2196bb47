//! Screen-pop latency client (issue 4 benchmark, `bench/pop-latency`, BENCHMARKS.md): opens one
//! desk WebSocket per agent (`GET /api/ws` with `Authorization: Bearer <token>`, docs/protocol.md),
//! sends `hello`, and timestamps every `pop` frame on arrival with the wall clock (`SystemTime`,
//! µs since the epoch). The server stamps `call_offered.at` with the same clock (same machine),
//! so the bench script subtracts the two.
//!
//! Input: `--tokens FILE`, one `agent_id token` per line. Once every connection has its
//! `welcome` (or failed), prints `connected OK FAILED` on stdout. Runs until SIGTERM/SIGINT or
//! `--seconds`, then writes `--out` (TSV: `call_id phase agent_of_the_connection recv_epoch_us
//! seq`, one line per `pop` frame) and prints a JSON summary line on stdout.
//!
//! One current-thread runtime for all connections: pops are rare (a few per second), so one
//! thread keeps the client's share of the 2 cores small and its wake-ups cheap.
//!
//! `target/release/examples/pop_client --url ws://127.0.0.1:PORT/api/ws --tokens FILE
//!  --out pops.tsv [--seconds 600] [--parallel 32]`

#[path = "common/ws_bench.rs"]
mod ws_bench;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use futures_util::StreamExt as _;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use ws_bench::{block_on_local, connect_then_wait, each_flag, now_us, number, open_feed};

/// Command-line options.
struct Args {
    url: String,
    tokens: String,
    out: String,
    seconds: u64,
    parallel: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        tokens: String::new(),
        out: String::new(),
        seconds: 600,
        parallel: 32,
    };
    each_flag(|flag, value| {
        match flag {
            "--url" => args.url = value,
            "--tokens" => args.tokens = value,
            "--out" => args.out = value,
            "--seconds" => args.seconds = number(flag, &value)?,
            "--parallel" => args.parallel = number(flag, &value)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
        Ok(())
    })?;
    if args.url.is_empty() || args.tokens.is_empty() || args.out.is_empty() {
        return Err("--url, --tokens and --out are required".into());
    }
    Ok(args)
}

/// One received `pop` frame.
struct PopRecord {
    call_id: String,
    phase: String,
    agent: String,
    recv_us: u128,
    seq: u64,
}

/// What all connections share (one thread, so `Rc<RefCell>`).
#[derive(Default)]
struct Shared {
    pops: Vec<PopRecord>,
    /// Frames received per `type`.
    types: BTreeMap<String, u64>,
    connected: u64,
    failed: u64,
    /// Connections that ended before the client stopped (server close or error).
    dropped: u64,
    errors: Vec<String>,
}

/// One agent's connection: upgrade, `hello`, then read until the socket ends.
async fn agent_conn(
    url: String,
    agent: String,
    token: String,
    shared: Rc<RefCell<Shared>>,
    gate: Rc<Semaphore>,
    welcomed: tokio::sync::mpsc::UnboundedSender<bool>,
) {
    let connecting = gate.acquire().await;
    let mut ws = match open_feed(&url, &token).await {
        Ok(ws) => ws,
        Err(e) => {
            let _ = welcomed.send(false);
            shared.borrow_mut().errors.push(format!("{agent}: {e}"));
            return;
        }
    };
    let mut connecting = Some(connecting);
    while let Some(msg) = ws.next().await {
        // The arrival time first, before any parsing.
        let recv_us = now_us();
        let text = match msg {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let Ok(frame) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
            continue;
        };
        let kind = frame["type"].as_str().unwrap_or("?").to_owned();
        if kind == "welcome" && connecting.take().is_some() {
            let _ = welcomed.send(true);
        }
        let mut sh = shared.borrow_mut();
        if kind == "pop" {
            sh.pops.push(PopRecord {
                call_id: frame["call_id"].as_str().unwrap_or("").to_owned(),
                phase: frame["phase"].as_str().unwrap_or("").to_owned(),
                agent: agent.clone(),
                recv_us,
                seq: frame["seq"].as_u64().unwrap_or(0),
            });
        }
        if kind == "error" {
            sh.errors.push(format!("{agent}: error frame {text}"));
        }
        *sh.types.entry(kind).or_default() += 1;
    }
    if connecting.is_some() {
        let _ = welcomed.send(false);
        shared
            .borrow_mut()
            .errors
            .push(format!("{agent}: closed before welcome"));
    } else {
        shared.borrow_mut().dropped += 1;
    }
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    block_on_local(run(args))
}

async fn run(args: Args) -> Result<(), String> {
    let tokens =
        std::fs::read_to_string(&args.tokens).map_err(|e| format!("{}: {e}", args.tokens))?;
    let shared = Rc::new(RefCell::new(Shared::default()));
    let gate = Rc::new(Semaphore::new(args.parallel.max(1)));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut n = 0u64;
    for line in tokens.lines() {
        let mut parts = line.split_whitespace();
        let (Some(agent), Some(token)) = (parts.next(), parts.next()) else {
            continue;
        };
        n += 1;
        tokio::task::spawn_local(agent_conn(
            args.url.clone(),
            agent.to_owned(),
            token.to_owned(),
            shared.clone(),
            gate.clone(),
            tx.clone(),
        ));
    }
    drop(tx);
    let (ok, failed) = connect_then_wait(rx, n, args.seconds).await?;
    {
        let mut sh = shared.borrow_mut();
        sh.connected = ok;
        sh.failed = failed;
    }
    let sh = shared.borrow();
    let mut out = String::with_capacity(sh.pops.len() * 80);
    for p in &sh.pops {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            p.call_id, p.phase, p.agent, p.recv_us, p.seq
        ));
    }
    std::fs::write(&args.out, out).map_err(|e| format!("{}: {e}", args.out))?;
    for e in sh.errors.iter().take(20) {
        eprintln!("{e}");
    }
    let types = serde_json::to_string(&sh.types).unwrap_or_default();
    println!(
        "{{\"connections\":{n},\"connected\":{},\"failed\":{},\"dropped\":{},\"errors\":{},\"pops\":{},\"frames\":{types}}}",
        sh.connected,
        sh.failed,
        sh.dropped,
        sh.errors.len(),
        sh.pops.len()
    );
    Ok(())
}
