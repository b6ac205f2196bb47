//! SIP load client for bench/tls (issue 11's benchmark): calls or registrations at a target
//! rate over UDP, TCP or TLS, since Debian's SIPp has no TLS. Everything on 127.0.0.1, in-flight
//! bounded, ends by itself; prints one JSON line and exits 1 when anything failed.
//!
//! - `--mode call`: INVITE to the hotline (the IVR answers) → 200 → ACK → `--hold-ms` (with
//!   `--rtp on`, PCMU both ways) → BYE, spread over a pool of connections (TCP/TLS: one per
//!   `--calls-per-conn` concurrent calls, like a carrier trunk; UDP: one socket, like SIPp).
//!   Latency is INVITE → 200.
//!   `--queue on` presses 0 by SIP INFO after the ACK (the IVR's way to the queue) and fails a
//!   call whose own frames never come back (no agent echoed them); `--srtp on` offers
//!   `RTP/SAVP` with SDES keys and protects the media (bench/srtp).
//! - `--mode register`: `--accounts` phones (extensions from `--first-ext`, `--password`)
//!   REGISTER with digest auth (`--digest auto|sha256|md5`); latency is first REGISTER → 200.
//! - `--mode agents`: `--accounts` agent phones register the same way, answer the server's
//!   INVITEs (plain or SRTP) and echo the media for `--secs` (or until SIGTERM); prints
//!   `registered N` once all are in, then its summary (sip_load/agent.rs).
//! - `--mode cert --out DIR`: writes DIR/cert.pem and DIR/key.pem (self-signed, 127.0.0.1) for
//!   the server's `[tls]`; the client then trusts exactly it with `--ca DIR/cert.pem`.
//!
//! `target/release/examples/sip_load --server 127.0.0.1:5061 --transport tls --ca cert.pem
//!  --mode call --rate 200 --secs 10 [--hold-ms 1000] [--rtp off] [--calls-per-conn 50]
//!  [--conns N] [--max-inflight 20000] [--timeout-ms 8000] [--accounts 1000] [--first-ext 40001]
//!  [--password bench-sip] [--digest auto] [--srtp off] [--queue off]`

#[path = "common/sip_msg.rs"]
#[allow(dead_code)]
mod sip_msg;
#[path = "common/tls_trust.rs"]
mod tls_trust;
#[path = "common/ws_bench.rs"]
#[allow(dead_code)]
mod ws_bench;

#[path = "sip_load/agent.rs"]
mod agent;
#[path = "sip_load/call.rs"]
mod call;
#[path = "sip_load/dialog.rs"]
mod dialog;
#[path = "sip_load/link.rs"]
mod link;
#[path = "sip_load/media.rs"]
mod media;
#[path = "sip_load/register.rs"]
mod register;
#[path = "sip_load/stats.rs"]
mod stats;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep_until, timeout};

use agent::Phones;
use call::CallPlan;
use dialog::Failure;
use link::{Links, Transport};
use register::{Accounts, DigestChoice};
use stats::Tally;
use tokio_rustls::TlsConnector;
use ws_bench::{block_on_local, each_flag, number};

/// The most connections chosen without `--conns`: under the server's default cap per source
/// address (`[sip.connections] max_per_source`, 64), since every link comes from 127.0.0.1.
const MAX_AUTO_LINKS: usize = 50;

/// The command line.
struct Args {
    mode: String,
    server: Option<SocketAddr>,
    transport: Transport,
    ca: Option<PathBuf>,
    out: Option<PathBuf>,
    rate: f64,
    secs: f64,
    hold: Duration,
    rtp: bool,
    calls_per_conn: usize,
    conns: usize,
    max_inflight: usize,
    timeout: Duration,
    accounts: u64,
    first_ext: u64,
    password: String,
    digest: DigestChoice,
    srtp: bool,
    queue: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        mode: "call".into(),
        server: None,
        transport: Transport::Udp,
        ca: None,
        out: None,
        rate: 100.0,
        secs: 10.0,
        hold: Duration::from_millis(1000),
        rtp: false,
        calls_per_conn: 50,
        conns: 0,
        max_inflight: 20_000,
        timeout: Duration::from_millis(8000),
        accounts: 1000,
        first_ext: 40001,
        password: "bench-sip".into(),
        digest: DigestChoice::Auto,
        srtp: false,
        queue: false,
    };
    each_flag(|flag, v| {
        let ms = |v: &str| number(flag, v).map(Duration::from_millis);
        match flag {
            "--mode" => a.mode = v,
            "--server" => a.server = Some(number(flag, &v)?),
            "--transport" => a.transport = Transport::parse(&v)?,
            "--ca" => a.ca = Some(v.into()),
            "--out" => a.out = Some(v.into()),
            "--rate" => a.rate = number(flag, &v)?,
            "--secs" => a.secs = number(flag, &v)?,
            "--hold-ms" => a.hold = ms(&v)?,
            "--rtp" => a.rtp = on_off(flag, &v)?,
            "--calls-per-conn" => a.calls_per_conn = number(flag, &v)?,
            "--conns" => a.conns = number(flag, &v)?,
            "--max-inflight" => a.max_inflight = number(flag, &v)?,
            "--timeout-ms" => a.timeout = ms(&v)?,
            "--accounts" => a.accounts = number(flag, &v)?,
            "--first-ext" => a.first_ext = number(flag, &v)?,
            "--password" => a.password = v,
            "--digest" => a.digest = DigestChoice::parse(&v)?,
            "--srtp" => a.srtp = on_off(flag, &v)?,
            "--queue" => a.queue = on_off(flag, &v)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
        Ok(())
    })?;
    if !(a.rate > 0.0 && a.secs > 0.0 && a.max_inflight > 0 && a.calls_per_conn > 0) {
        return Err("--rate, --secs, --max-inflight and --calls-per-conn must be > 0".into());
    }
    if (a.srtp || a.queue) && !a.rtp {
        return Err("--srtp on and --queue on need --rtp on".into());
    }
    Ok(a)
}

/// `on` or `off`.
fn on_off(flag: &str, v: &str) -> Result<bool, String> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{flag}: on or off, not {v:?}")),
    }
}

fn main() {
    let code = match parse_args() {
        Err(e) => {
            eprintln!("sip_load: {e}");
            2
        }
        Ok(a) => {
            let clean = Cell::new(false);
            match block_on_local(async { run(a).await.map(|c| clean.set(c)) }) {
                Ok(()) => i32::from(!clean.get()),
                Err(e) => {
                    eprintln!("sip_load: {e}");
                    2
                }
            }
        }
    };
    std::process::exit(code);
}

/// Runs the mode; `Ok(true)` when nothing failed.
async fn run(a: Args) -> Result<bool, String> {
    if a.mode == "cert" {
        let dir = a.out.ok_or("--mode cert needs --out DIR")?;
        tls_trust::write_cert(&dir.join("cert.pem"), &dir.join("key.pem"))?;
        return Ok(true);
    }
    let server = a.server.ok_or("--server ADDR is required")?;
    let tls = match (&a.ca, a.transport) {
        (Some(ca), Transport::Tls) => {
            let pem =
                (std::fs::read_to_string(ca)).map_err(|e| format!("{}: {e}", ca.display()))?;
            Some(tls_trust::connector(&pem)?)
        }
        (None, Transport::Tls) => return Err("--transport tls needs --ca CERT.pem".into()),
        _ => None,
    };
    if a.mode == "agents" {
        return agents(&a, server, tls.as_ref()).await;
    }
    let conns = match (a.conns, a.transport) {
        (n, _) if n > 0 => n,
        (_, Transport::Udp) => 1,
        // Concurrent calls ≈ rate × hold; registrations are short, one link per 50/s.
        _ => {
            let concurrent = match a.mode.as_str() {
                "call" => a.rate * a.hold.as_secs_f64().max(0.05),
                _ => a.rate,
            };
            let n = (concurrent / a.calls_per_conn as f64).ceil().max(1.0) as usize;
            n.min(MAX_AUTO_LINKS)
        }
    };
    let links = Rc::new(Links::open(a.transport, server, conns, tls.as_ref(), None).await?);
    let tally = Rc::new(RefCell::new(Tally::default()));
    let total = (a.rate * a.secs).round() as u64;
    let cap = Arc::new(Semaphore::new(a.max_inflight));
    let start = Instant::now();
    let _sink;
    let mut media: Option<Rc<CallPlan>> = None;
    let job: Rc<dyn Fn(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = _>>>> =
        match a.mode.as_str() {
            "call" => {
                let sink = discard_socket(server)?;
                let plan = Rc::new(CallPlan {
                    hold: a.hold,
                    rtp: a.rtp,
                    sink: sink.local_addr().map_err(|e| e.to_string())?,
                    timeout: a.timeout,
                    srtp: a.srtp,
                    queue: a.queue,
                    media: Default::default(),
                });
                media = Some(plan.clone());
                _sink = sink;
                let links = links.clone();
                Rc::new(move |k| {
                    let (links, plan) = (links.clone(), plan.clone());
                    Box::pin(async move { call::call(&links, k, &plan).await })
                })
            }
            "register" => {
                let acc = accounts(&a);
                let links = links.clone();
                Rc::new(move |k| {
                    let (links, acc) = (links.clone(), acc.clone());
                    Box::pin(async move { register::register(&links, k, &acc).await })
                })
            }
            m => return Err(format!("--mode: call, register, agents or cert, not {m:?}")),
        };
    for k in 0..total {
        sleep_until(start + Duration::from_secs_f64(k as f64 / a.rate)).await;
        tally.borrow_mut().started += 1;
        let Ok(permit) = cap.clone().try_acquire_owned() else {
            tally.borrow_mut().record(Err(Failure::InflightCap));
            continue;
        };
        let (job, tally) = (job.clone(), tally.clone());
        tokio::task::spawn_local(async move {
            let r = job(k).await;
            tally.borrow_mut().record(r);
            drop(permit);
        });
    }
    let offered = start.elapsed().as_secs_f64();
    // Every attempt ends within two transaction timeouts plus the hold.
    let drain = a.timeout * 2 + a.hold + Duration::from_secs(1);
    let all = u32::try_from(a.max_inflight).unwrap_or(u32::MAX);
    let drained = timeout(drain, cap.acquire_many(all)).await.is_ok();
    let ls = &links.stats;
    let mut t = tally.borrow_mut();
    let unfinished = t.started - t.ok() - t.failed();
    for _ in 0..unfinished {
        t.record(Err(Failure::Timeout("run")));
    }
    let mut extra = media.map_or(serde_json::json!({}), |p| p.media.json());
    if let (Some(to), serde_json::Value::Object(from)) = (
        extra.as_object_mut(),
        serde_json::json!({
            "mode": a.mode,
            "transport": a.transport.via().to_lowercase(),
            "rate": a.rate,
            "links": links.len(),
            "unfinished": unfinished,
            "stray": ls.stray.get(),
            "inbox_full": ls.inbox_full.get(),
            "unparsable": ls.unparsable.get(),
            "conns_closed": ls.closed.get(),
        }),
    ) {
        to.extend(from);
    }
    let summary = t.summary(offered, extra);
    println!("{summary}");
    if !drained {
        eprintln!(
            "sip_load: {unfinished} attempts still running after {drain:?}: failed as timeout_run"
        );
    }
    Ok(t.failed() == 0)
}

/// `--mode agents`: registers the phones, answers calls until `--secs` end or SIGTERM, prints
/// the summary; `Ok(true)` when every phone registered and no call failed.
async fn agents(a: &Args, server: SocketAddr, tls: Option<&TlsConnector>) -> Result<bool, String> {
    let phones = Rc::new(Phones::default());
    let until = Instant::now() + Duration::from_secs_f64(a.secs);
    phones.until.set(Some(until));
    let conns = match a.conns {
        0 => (a.accounts as usize)
            .div_ceil(a.calls_per_conn)
            .min(MAX_AUTO_LINKS),
        n => n,
    };
    let hook = agent::on_invite(phones.clone());
    let links = Rc::new(Links::open(a.transport, server, conns, tls, Some(hook)).await?);
    let acc = accounts(a);
    let mut tally = Tally::default();
    let regs: Vec<_> = (0..acc.count)
        .map(|k| {
            let (links, acc) = (links.clone(), acc.clone());
            tokio::task::spawn_local(async move { register::register(&links, k, &acc).await })
        })
        .collect();
    let started = Instant::now();
    for r in regs {
        tally.started += 1;
        tally.record(r.await.unwrap_or(Err(Failure::Link("task".into()))));
    }
    let registered = tally.ok();
    println!("registered {registered} of {}", acc.count);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("signal: {e}"))?;
    tokio::select! {
        _ = sleep_until(until) => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let calls = phones.json();
    let failed = phones.failures.borrow().values().sum::<u64>();
    let mut extra = serde_json::json!({
        "mode": "agents",
        "transport": a.transport.via().to_lowercase(),
        "links": links.len(),
        "conns_closed": links.stats.closed.get(),
        "stray": links.stats.stray.get(),
    });
    if let (Some(to), serde_json::Value::Object(from)) = (extra.as_object_mut(), calls) {
        to.extend(from);
    }
    println!("{}", tally.summary(started.elapsed().as_secs_f64(), extra));
    Ok(tally.failed() == 0 && failed == 0)
}

/// A UDP socket on the server's address family that nobody reads, with a tiny receive buffer:
/// the kernel drops the server's RTP there (as bench/lib.sh's sink does for SIPp).
fn discard_socket(server: SocketAddr) -> Result<std::net::UdpSocket, String> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(server),
        socket2::Type::DGRAM,
        None,
    )
    .map_err(|e| format!("sink socket: {e}"))?;
    let _ = sock.set_recv_buffer_size(4096);
    sock.bind(&SocketAddr::new(server.ip(), 0).into())
        .map_err(|e| format!("sink bind: {e}"))?;
    Ok(sock.into())
}

/// The phones' accounts the command line names (register and agents modes).
fn accounts(a: &Args) -> Rc<Accounts> {
    Rc::new(Accounts::new(
        a.first_ext,
        a.accounts,
        a.password.clone(),
        a.digest,
        a.timeout,
    ))
}
