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

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

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
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => args.url = value,
            "--tokens" => args.tokens = value,
            "--out" => args.out = value,
            "--seconds" => args.seconds = value.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--parallel" => {
                args.parallel = value.parse().map_err(|e| format!("--parallel: {e}"))?
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
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

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
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
    let mut req = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => {
            let _ = welcomed.send(false);
            shared
                .borrow_mut()
                .errors
                .push(format!("{agent}: bad url: {e}"));
            return;
        }
    };
    match HeaderValue::from_str(&format!("Bearer {token}")) {
        Ok(v) => {
            req.headers_mut().insert("authorization", v);
        }
        Err(e) => {
            let _ = welcomed.send(false);
            shared
                .borrow_mut()
                .errors
                .push(format!("{agent}: bad token: {e}"));
            return;
        }
    }
    let mut ws = match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => ws,
        Err(e) => {
            let _ = welcomed.send(false);
            shared
                .borrow_mut()
                .errors
                .push(format!("{agent}: connect: {e}"));
            return;
        }
    };
    let hello = r#"{"v":1,"type":"hello","last_seq":null,"epoch":null}"#;
    if let Err(e) = ws.send(Message::Text(hello.into())).await {
        let _ = welcomed.send(false);
        shared
            .borrow_mut()
            .errors
            .push(format!("{agent}: hello: {e}"));
        return;
    }
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(args))
}

async fn run(args: Args) -> Result<(), String> {
    let tokens =
        std::fs::read_to_string(&args.tokens).map_err(|e| format!("{}: {e}", args.tokens))?;
    let shared = Rc::new(RefCell::new(Shared::default()));
    let gate = Rc::new(Semaphore::new(args.parallel.max(1)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.seconds);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("signal: {e}"))?;
    let (mut ok, mut failed) = (0u64, 0u64);
    while ok + failed < n {
        tokio::select! {
            r = rx.recv() => match r {
                Some(true) => ok += 1,
                Some(false) => failed += 1,
                None => break,
            },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = term.recv() => break,
        }
    }
    {
        let mut sh = shared.borrow_mut();
        sh.connected = ok;
        sh.failed = failed;
    }
    println!("connected {ok} {failed}");
    let _ = std::io::stdout().flush();
    tokio::select! {
        _ = tokio::time::sleep_until(deadline) => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
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
