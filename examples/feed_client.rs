//! Supervisor feed fan-out client (issue 5 benchmark, `bench/supervisor-feed`, BENCHMARKS.md):
//! opens N supervisor WebSockets (`GET /api/supervisor/ws`, `Authorization: Bearer <token>`,
//! docs/supervisor.md; one token may open many sockets), sends `hello`, and timestamps every
//! frame on arrival with the wall clock (`SystemTime`, µs since the epoch; the server stamps
//! `events.at` with the same clock on the same machine).
//!
//! Every connection gets the same numbered `update` frames, so only connection 0 (the
//! *primary*) parses them: it keeps the agents and the waiting callers and writes, per update,
//! the changes it carries (`--changes`, TSV `seq kind key state since_ms`; kinds `agent`
//! (state or `since` changed), `queued` (a call_id appeared in a queue's `callers`), `left` (it
//! disappeared), `in_ivr`). The others find `"type"` and `"seq"` in the text without parsing
//! (the primary checks that this scan agrees with its parse). `--out` gets one line per update
//! per connection: `conn seq recv_epoch_us`.
//!
//! Once every connection has its `welcome` (or failed), prints `connected OK FAILED` on stdout.
//! Runs until SIGTERM or `--seconds`, then writes both files and prints a JSON summary line.
//! One current-thread runtime: the client shares the 2 cores with the server.
//!
//! `target/release/examples/feed_client --url ws://127.0.0.1:PORT/api/supervisor/ws
//!  --token TOKEN --connections 500 --out arrivals.tsv --changes changes.tsv [--seconds 600]
//!  [--parallel 32]`

#[path = "common/ws_bench.rs"]
mod ws_bench;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::rc::Rc;

use futures_util::StreamExt as _;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use ws_bench::{block_on_local, connect_then_wait, each_flag, now_us, number, open_feed};

/// Command-line options.
struct Args {
    url: String,
    token: String,
    connections: u32,
    out: String,
    changes: String,
    seconds: u64,
    parallel: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        token: String::new(),
        connections: 500,
        out: String::new(),
        changes: String::new(),
        seconds: 600,
        parallel: 32,
    };
    each_flag(|flag, value| {
        match flag {
            "--url" => args.url = value,
            "--token" => args.token = value,
            "--out" => args.out = value,
            "--changes" => args.changes = value,
            "--connections" => args.connections = number(flag, &value)?,
            "--seconds" => args.seconds = number(flag, &value)?,
            "--parallel" => args.parallel = number(flag, &value)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
        Ok(())
    })?;
    if args.url.is_empty()
        || args.token.is_empty()
        || args.out.is_empty()
        || args.changes.is_empty()
    {
        return Err("--url, --token, --out and --changes are required".into());
    }
    Ok(args)
}

/// The primary connection's view of the feed, to tell what each update changed.
#[derive(Default)]
struct View {
    /// Agent id → (state, since).
    agents: HashMap<String, (String, Option<i64>)>,
    /// call_ids waiting in any queue.
    waiting: HashSet<String>,
    in_ivr: Option<i64>,
    /// The changes found so far, as TSV lines.
    changes: String,
}

impl View {
    /// Takes in a `snapshot` (`record` false) or an `update` (`record` true: changes noted).
    fn apply(&mut self, frame: &Value, seq: u64, record: bool) {
        if let Some(agents) = frame.get("agents").and_then(Value::as_array) {
            for a in agents {
                let id = a["id"].as_str().unwrap_or("").to_owned();
                let state = a["state"].as_str().unwrap_or("").to_owned();
                let since = a["since"].as_i64();
                let now = (state, since);
                if self.agents.get(&id) != Some(&now) {
                    if record {
                        let since = now.1.map(|s| s.to_string()).unwrap_or_default();
                        let _ = writeln!(self.changes, "{seq}\tagent\t{id}\t{}\t{since}", now.0);
                    }
                    self.agents.insert(id, now);
                }
            }
        }
        if let Some(queues) = frame.get("queues").and_then(Value::as_array) {
            let mut now = HashSet::new();
            for q in queues {
                for c in q["callers"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                    if let Some(id) = c["call_id"].as_str() {
                        now.insert(id.to_owned());
                    }
                }
            }
            if record {
                for id in now.difference(&self.waiting) {
                    let _ = writeln!(self.changes, "{seq}\tqueued\t{id}\t\t");
                }
                for id in self.waiting.difference(&now) {
                    let _ = writeln!(self.changes, "{seq}\tleft\t{id}\t\t");
                }
            }
            self.waiting = now;
        }
        if let Some(n) = frame.get("in_ivr").and_then(Value::as_i64) {
            if record && self.in_ivr != Some(n) {
                let _ = writeln!(self.changes, "{seq}\tin_ivr\t\t{n}\t");
            }
            self.in_ivr = Some(n);
        }
    }
}

/// What all connections share (one thread, so `Rc<RefCell>`).
#[derive(Default)]
struct Shared {
    /// (connection, seq, arrival µs) per `update`.
    arrivals: Vec<(u32, u64, u128)>,
    view: View,
    /// Frames received per `type`.
    types: BTreeMap<String, u64>,
    /// Close codes received from the server (e.g. 1013: too slow).
    closes: BTreeMap<u16, u64>,
    /// Primary frames where the text scan and the parse disagreed.
    scan_mismatch: u64,
    bytes: u64,
    dropped: u64,
    errors: Vec<String>,
}

/// `type` and `seq` found in a frame's text without parsing it (no nested object of the feed
/// has a `type` or `seq` key).
fn scan(text: &str) -> (&str, Option<u64>) {
    let kind = text
        .find("\"type\":\"")
        .and_then(|i| {
            let rest = text.get(i + 8..)?;
            rest.find('"').and_then(|j| rest.get(..j))
        })
        .unwrap_or("?");
    let seq = text.find("\"seq\":").and_then(|i| {
        let rest = text.get(i + 6..)?;
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest.get(..end)?.parse().ok()
    });
    (kind, seq)
}

/// One connection: upgrade, `hello`, then read until the socket ends.
async fn feed_conn(
    url: String,
    conn: u32,
    token: Rc<str>,
    shared: Rc<RefCell<Shared>>,
    gate: Rc<Semaphore>,
    welcomed: tokio::sync::mpsc::UnboundedSender<bool>,
) {
    let connecting = gate.acquire().await;
    let fail = |e: String| {
        let _ = welcomed.send(false);
        shared.borrow_mut().errors.push(format!("conn {conn}: {e}"));
    };
    let mut ws = match open_feed(&url, &token).await {
        Ok(ws) => ws,
        Err(e) => return fail(e),
    };
    let mut connecting = Some(connecting);
    while let Some(msg) = ws.next().await {
        // The arrival time first, before any parsing.
        let recv_us = now_us();
        let text = match msg {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(c)) => {
                let code = c.map_or(1005, |c| u16::from(c.code));
                *shared.borrow_mut().closes.entry(code).or_default() += 1;
                break;
            }
            Err(_) => break,
            Ok(_) => continue,
        };
        let (kind, seq) = scan(text.as_str());
        if kind == "welcome" && connecting.take().is_some() {
            let _ = welcomed.send(true);
        }
        let mut sh = shared.borrow_mut();
        sh.bytes += text.len() as u64;
        if conn == 0 && (kind == "snapshot" || kind == "update") {
            match serde_json::from_str::<Value>(text.as_str()) {
                Ok(frame) => {
                    let parsed = frame["seq"].as_u64();
                    if parsed != seq || frame["type"].as_str() != Some(kind) {
                        sh.scan_mismatch += 1;
                    }
                    sh.view.apply(&frame, parsed.unwrap_or(0), kind == "update");
                }
                Err(e) => sh.errors.push(format!("conn 0: bad JSON: {e}")),
            }
        }
        if kind == "update" {
            sh.arrivals.push((conn, seq.unwrap_or(0), recv_us));
        }
        if kind == "error" {
            sh.errors.push(format!("conn {conn}: error frame {text}"));
        }
        *sh.types.entry(kind.to_owned()).or_default() += 1;
    }
    if connecting.is_some() {
        fail("closed before welcome".into());
    } else {
        shared.borrow_mut().dropped += 1;
    }
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    block_on_local(run(args))
}

async fn run(args: Args) -> Result<(), String> {
    let shared = Rc::new(RefCell::new(Shared::default()));
    let gate = Rc::new(Semaphore::new(args.parallel.max(1)));
    let token: Rc<str> = args.token.clone().into();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let n = u64::from(args.connections);
    for conn in 0..args.connections {
        tokio::task::spawn_local(feed_conn(
            args.url.clone(),
            conn,
            token.clone(),
            shared.clone(),
            gate.clone(),
            tx.clone(),
        ));
    }
    drop(tx);
    let (ok, failed) = connect_then_wait(rx, n, args.seconds).await?;
    let sh = shared.borrow();
    let mut out = String::with_capacity(sh.arrivals.len() * 32);
    for (conn, seq, us) in &sh.arrivals {
        let _ = writeln!(out, "{conn}\t{seq}\t{us}");
    }
    std::fs::write(&args.out, out).map_err(|e| format!("{}: {e}", args.out))?;
    std::fs::write(&args.changes, &sh.view.changes)
        .map_err(|e| format!("{}: {e}", args.changes))?;
    for e in sh.errors.iter().take(20) {
        eprintln!("{e}");
    }
    let types = serde_json::to_string(&sh.types).unwrap_or_default();
    let closes = serde_json::to_string(&sh.closes).unwrap_or_default();
    println!(
        "{{\"connections\":{n},\"connected\":{ok},\"failed\":{failed},\"dropped\":{},\"errors\":{},\"updates\":{},\"bytes\":{},\"scan_mismatch\":{},\"closes\":{closes},\"frames\":{types}}}",
        sh.dropped,
        sh.errors.len(),
        sh.arrivals.len(),
        sh.bytes,
        sh.scan_mismatch,
    );
    Ok(())
}
