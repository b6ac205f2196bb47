//! Browser-call benchmark client (issue 6, `bench/browser-calls`, BENCHMARKS.md): N in-process
//! WebRTC "browsers" for N agents whose device is `browser`. Each agent polls its call
//! (`GET /api/agents/me/call`, Bearer token), answers it when it rings
//! (`POST /api/calls/{id}/webrtc` with an offer from `firstline::webrtc::BrowserPeer`, the peer of
//! `firstline::webrtc::client::SoftphoneClient`), then sends a tone as PCMU every 20 ms (SRTP) and
//! counts what arrives, until SIGTERM/SIGINT or `--seconds`.
//!
//! The media loop is `SoftphoneClient::run`'s without its test conveniences: it does not decode
//! or keep the received audio (`SoftphoneClient` keeps the last 10 s per call and shifts that
//! buffer on every packet, a cost on the cores the server shares), it sends a pre-encoded 1 s
//! tone, and it tracks RTP sequence numbers so that loss on the server → browser hop is
//! measured (expected = highest extended sequence − first + 1, per call).
//!
//! Input: `--tokens FILE`, one `agent_id token` per line. Output on stdout, one line each:
//! - `tick epoch_ms=… answered=… connected=… failed=…` every second;
//! - `mark epoch_ms=… connected=… rx=… tx=… expected=… silent=… min_rx=…` on SIGUSR1: cumulative
//!   packets received (audio), sent, and expected from sequence numbers over all calls; `silent`
//!   is the number of connected calls that received nothing since the previous mark, `min_rx`
//!   the fewest packets one connected call received since then;
//! - `summary {json}` at the end (counts, failures by kind, the first errors).
//!
//! One runtime thread by default (`--threads`): the client shares the 2 cores with the server,
//! and the bench script reports its CPU.
//!
//! `target/release/examples/browser_calls --http 127.0.0.1:PORT --tokens FILE [--seconds 600]
//!  [--threads 1] [--poll-ms 500] [--parallel 8] [--tone-hz 440]`

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use firstline::media::g711::G711;
use firstline::media::rtp::RtpPacket;
use firstline::webrtc::{BrowserPeer, PeerState};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Command-line options.
struct Args {
    http: SocketAddr,
    tokens: String,
    seconds: u64,
    threads: usize,
    poll_ms: u64,
    parallel: usize,
    tone_hz: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut http = None;
    let mut args = Args {
        http: SocketAddr::from(([127, 0, 0, 1], 0)),
        tokens: String::new(),
        seconds: 600,
        threads: 1,
        poll_ms: 500,
        parallel: 8,
        tone_hz: 440.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag}: {e}");
        match flag.as_str() {
            "--http" => http = Some(value.parse().map_err(|e| bad(&e))?),
            "--tokens" => args.tokens = value,
            "--seconds" => args.seconds = value.parse().map_err(|e| bad(&e))?,
            "--threads" => args.threads = value.parse().map_err(|e| bad(&e))?,
            "--poll-ms" => args.poll_ms = value.parse().map_err(|e| bad(&e))?,
            "--parallel" => args.parallel = value.parse().map_err(|e| bad(&e))?,
            "--tone-hz" => args.tone_hz = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    args.http = http.ok_or("--http is required")?;
    if args.tokens.is_empty() || args.threads == 0 || args.parallel == 0 {
        return Err("--tokens is required; --threads and --parallel must be at least 1".into());
    }
    Ok(args)
}

/// One call's counters, written by its media task, read by the reporter.
#[derive(Default)]
struct CallStats {
    connected: AtomicBool,
    /// Audio RTP packets received.
    rx: AtomicU64,
    /// RTP packets sent.
    tx: AtomicU64,
    /// Packets the sequence numbers say were sent to us (highest extended − first + 1).
    expected: AtomicU64,
}

/// Why an agent has no running call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Failure {
    /// No call rang before the end.
    NeverRang,
    /// `GET /api/agents/me/call` answered something unexpected.
    Poll,
    /// The offer could not be made, or the server refused it.
    Offer,
    /// The server's answer could not be applied.
    Answer,
}

/// What all agents share.
struct Shared {
    calls: Mutex<Vec<Arc<CallStats>>>,
    answered: AtomicU64,
    failures: Mutex<Vec<(Failure, String)>>,
    /// Answer time per call: first `ringing` seen → the server's answer (ms).
    answer_ms: Mutex<Vec<f64>>,
}

impl Shared {
    fn fail(&self, kind: Failure, detail: String) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((kind, detail));
    }

    fn calls(&self) -> Vec<Arc<CallStats>> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// One HTTP/1.1 request with `Connection: close`; the status and the body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .await
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "no status in {:?}",
                text.chars().take(80).collect::<String>()
            )
        })?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_owned()))
}

/// One agent: wait for a ringing call, answer it over WebRTC, run the media until `stop`.
async fn agent(
    args: Arc<Args>,
    name: String,
    token: String,
    shared: Arc<Shared>,
    gate: Arc<Semaphore>,
    tone: Arc<Vec<Vec<u8>>>,
    stop: CancellationToken,
) {
    let call_id = loop {
        let polled = http(args.http, "GET", "/api/agents/me/call", &token, None).await;
        match polled {
            Ok((200, body)) => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if v["state"] == "ringing"
                    && let Some(id) = v["call_id"].as_str()
                {
                    break id.to_owned();
                }
            }
            Ok((204, _)) => {}
            Ok((status, body)) => {
                shared.fail(Failure::Poll, format!("{name}: {status} {body}"));
                return;
            }
            Err(e) => {
                shared.fail(Failure::Poll, format!("{name}: {e}"));
                return;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => {
                shared.fail(Failure::NeverRang, name);
                return;
            }
            _ = tokio::time::sleep(Duration::from_millis(args.poll_ms)) => {}
        }
    };
    let rang = Instant::now();
    let permit = gate.acquire().await;
    let socket = match UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
        Ok(s) => s,
        Err(e) => return shared.fail(Failure::Offer, format!("{name}: bind: {e}")),
    };
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(e) => return shared.fail(Failure::Offer, format!("{name}: local_addr: {e}")),
    };
    let (mut peer, offer) = match BrowserPeer::offer(Instant::now(), local, local, G711::Pcmu) {
        Ok(p) => p,
        Err(e) => return shared.fail(Failure::Offer, format!("{name}: offer: {e}")),
    };
    let path = format!("/api/calls/{call_id}/webrtc");
    let body = serde_json::json!({ "sdp": offer });
    let answer = match http(args.http, "POST", &path, &token, Some(&body)).await {
        Ok((200, b)) => serde_json::from_str::<serde_json::Value>(&b)
            .ok()
            .and_then(|v| v["sdp"].as_str().map(str::to_owned)),
        Ok((status, b)) => {
            return shared.fail(Failure::Offer, format!("{name}: {status} {b}"));
        }
        Err(e) => return shared.fail(Failure::Offer, format!("{name}: {e}")),
    };
    let Some(answer) = answer else {
        return shared.fail(Failure::Answer, format!("{name}: no sdp in the answer"));
    };
    if let Err(e) = peer.accept_answer(Instant::now(), &answer) {
        return shared.fail(Failure::Answer, format!("{name}: {e}"));
    }
    drop(permit);
    shared
        .answer_ms
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(rang.elapsed().as_secs_f64() * 1000.0);
    shared.answered.fetch_add(1, Ordering::Relaxed);
    let stats = Arc::new(CallStats::default());
    shared
        .calls
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(stats.clone());
    media(peer, socket, &tone, &stats, &stop).await;
}

/// Sends the tone every 20 ms and counts what arrives, until `stop`.
async fn media(
    mut peer: BrowserPeer,
    socket: UdpSocket,
    tone: &[Vec<u8>],
    stats: &CallStats,
    stop: &CancellationToken,
) {
    let mut buf = vec![0u8; 2048];
    let (mut seq, mut ts) = (0u16, 0u32);
    // Receive side: the first and highest extended sequence number.
    let mut first: Option<u64> = None;
    let mut highest = 0u64;
    let mut next_frame = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_frame {
            next_frame += Duration::from_millis(20);
            if let Some(f) = peer.format() {
                let p = RtpPacket {
                    payload_type: f.audio_pt,
                    marker: seq == 0,
                    sequence: seq,
                    timestamp: ts,
                    ssrc: 0,
                    payload: &tone[usize::from(seq) % tone.len()],
                };
                if peer.send_rtp(now, &p) {
                    stats.tx.fetch_add(1, Ordering::Relaxed);
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(160);
                }
            }
        }
        if peer.poll_timeout().is_some_and(|t| t <= now) {
            peer.handle_timeout(now);
        }
        let audio_pt = peer.format().map(|f| f.audio_pt);
        while let Some(p) = peer.poll_rtp() {
            if Some(p.header.payload_type) != audio_pt {
                continue;
            }
            stats.rx.fetch_add(1, Ordering::Relaxed);
            let s = u64::from(p.header.sequence_number);
            let ext = match first {
                None => {
                    first = Some(s);
                    highest = s;
                    s
                }
                // The extended sequence nearest to the highest seen (RFC 3550 A.1, simplified).
                Some(_) => {
                    let base = highest & !0xFFFF;
                    [base.wrapping_sub(0x1_0000), base, base + 0x1_0000]
                        .into_iter()
                        .map(|b| b.wrapping_add(s))
                        .min_by_key(|c| c.abs_diff(highest))
                        .unwrap_or(s)
                }
            };
            if ext > highest {
                highest = ext;
            }
            if let Some(f) = first {
                stats
                    .expected
                    .store(highest.saturating_sub(f) + 1, Ordering::Relaxed);
            }
        }
        if peer.state() == PeerState::Connected {
            stats.connected.store(true, Ordering::Relaxed);
        }
        while let Some((data, to)) = peer.poll_transmit() {
            let _ = socket.try_send_to(&data, to);
        }
        let wake = peer
            .poll_timeout()
            .map_or(next_frame, |t| t.min(next_frame));
        tokio::select! {
            _ = stop.cancelled() => break,
            r = socket.recv_from(&mut buf) => if let Ok((n, from)) = r {
                peer.handle_datagram(Instant::now(), &buf[..n], from);
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
        }
    }
    peer.close();
    while let Some((data, to)) = peer.poll_transmit() {
        let _ = socket.try_send_to(&data, to);
    }
}

/// One second of a `hz` tone as 50 PCMU frames (a whole number of cycles for integer `hz`).
fn tone_frames(hz: f64) -> Vec<Vec<u8>> {
    let mut phase = 0f64;
    (0..50)
        .map(|_| {
            let pcm: Vec<i16> = (0..160)
                .map(|_| {
                    let v = 8000.0 * phase.sin();
                    phase += 2.0 * std::f64::consts::PI * hz / 8000.0;
                    v as i16
                })
                .collect();
            let mut out = Vec::with_capacity(160);
            G711::Pcmu.encode_into(&pcm, &mut out);
            out
        })
        .collect()
}

/// The `mark` line: cumulative counters and, per connected call, what arrived since `prev`.
fn mark(shared: &Shared, prev: &mut Vec<u64>) -> String {
    let calls = shared.calls();
    let (mut connected, mut rx, mut tx, mut expected, mut silent) = (0, 0, 0, 0, 0);
    let mut min_rx = u64::MAX;
    prev.resize(calls.len(), 0);
    for (c, before) in calls.iter().zip(prev.iter_mut()) {
        let r = c.rx.load(Ordering::Relaxed);
        rx += r;
        tx += c.tx.load(Ordering::Relaxed);
        expected += c.expected.load(Ordering::Relaxed);
        if c.connected.load(Ordering::Relaxed) {
            connected += 1;
            let d = r - *before;
            silent += u64::from(d == 0);
            min_rx = min_rx.min(d);
        }
        *before = r;
    }
    let min_rx = if min_rx == u64::MAX { 0 } else { min_rx };
    format!(
        "mark epoch_ms={} connected={connected} rx={rx} tx={tx} expected={expected} \
         silent={silent} min_rx={min_rx}",
        epoch_ms()
    )
}

fn tick(shared: &Shared) -> String {
    let calls = shared.calls();
    let connected = calls
        .iter()
        .filter(|c| c.connected.load(Ordering::Relaxed))
        .count();
    let failed = shared
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    format!(
        "tick epoch_ms={} answered={} connected={connected} failed={failed}",
        epoch_ms(),
        shared.answered.load(Ordering::Relaxed)
    )
}

fn summary(shared: &Shared, agents: usize) -> serde_json::Value {
    let failures = shared
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let count = |k: Failure| failures.iter().filter(|(f, _)| *f == k).count();
    let mut answer_ms = shared
        .answer_ms
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    answer_ms.sort_by(f64::total_cmp);
    let q = |p: f64| {
        answer_ms
            .get(((answer_ms.len().saturating_sub(1)) as f64 * p).round() as usize)
            .copied()
    };
    let calls = shared.calls();
    let sum = |f: fn(&CallStats) -> u64| calls.iter().map(|c| f(c)).sum::<u64>();
    serde_json::json!({
        "agents": agents,
        "answered": shared.answered.load(Ordering::Relaxed),
        "connected": calls.iter().filter(|c| c.connected.load(Ordering::Relaxed)).count(),
        "rx": sum(|c| c.rx.load(Ordering::Relaxed)),
        "tx": sum(|c| c.tx.load(Ordering::Relaxed)),
        "expected": sum(|c| c.expected.load(Ordering::Relaxed)),
        "never_rang": count(Failure::NeverRang),
        "poll_failed": count(Failure::Poll),
        "offer_failed": count(Failure::Offer),
        "answer_failed": count(Failure::Answer),
        "answer_ms": { "p50": q(0.5), "p99": q(0.99), "max": q(1.0) },
        "errors": failures
            .iter()
            .filter(|(f, _)| *f != Failure::NeverRang)
            .take(10)
            .map(|(f, d)| format!("{f:?}: {d}"))
            .collect::<Vec<_>>(),
    })
}

async fn run(args: Args) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.tokens).map_err(|e| format!("tokens: {e}"))?;
    let agents: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let (a, t) = l.trim().split_once(' ')?;
            Some((a.to_owned(), t.trim().to_owned()))
        })
        .collect();
    let args = Arc::new(args);
    let shared = Arc::new(Shared {
        calls: Mutex::new(Vec::new()),
        answered: AtomicU64::new(0),
        failures: Mutex::new(Vec::new()),
        answer_ms: Mutex::new(Vec::new()),
    });
    let gate = Arc::new(Semaphore::new(args.parallel));
    let tone = Arc::new(tone_frames(args.tone_hz));
    let stop = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (name, token) in &agents {
        tasks.spawn(agent(
            args.clone(),
            name.clone(),
            token.clone(),
            shared.clone(),
            gate.clone(),
            tone.clone(),
            stop.clone(),
        ));
    }
    let signal = |k| tokio::signal::unix::signal(k).map_err(|e| format!("signal handler: {e}"));
    let mut usr1 = signal(tokio::signal::unix::SignalKind::user_defined1())?;
    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut int = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let deadline = tokio::time::sleep(Duration::from_secs(args.seconds));
    tokio::pin!(deadline);
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    let mut prev = Vec::new();
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => println!("{}", mark(&shared, &mut prev)),
            _ = ticks.tick() => println!("{}", tick(&shared)),
        }
    }
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    println!("summary {}", summary(&shared, agents.len()));
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("browser_calls: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => Err(format!("runtime: {e}")),
    };
    if let Err(e) = result {
        eprintln!("browser_calls: {e}");
        std::process::exit(1);
    }
}
