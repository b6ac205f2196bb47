//! Desk search and inbox benchmark (issue 10, `bench/desk-search`, BENCHMARKS.md): seeds a
//! database (a fresh SQLite file, or `--database-url postgres://…`) with `--intakes` intakes
//! and `--customers` customers (examples/common/desk_seed.rs), starts the server in-process
//! on 127.0.0.1 port 0 over it, signs in as anna (first level) and eva (second level), and
//! times through the real HTTP API, one keep-alive connection, one request at a time:
//!
//! - `GET /api/search?q=` by kind: `name` (surname, full name, organisation), `number` (a
//!   customer's number typed national, spaced, `+31 …`, `0031…`, `31…`, or partial), `ticket`
//!   (`FL-2026-00042`, `fl-2026-42`, `2026-00042`), `words` (one to three words, some that
//!   match nothing), `long` (200 characters of words);
//! - `GET /api/me/inbox` for eva (`inbox`: her groups; `inbox_group`: one group, unclaimed).
//!
//! Prints `kind n p50 p90 p99 max` in milliseconds per kind, then one JSON line. A database
//! that already holds the intakes is reused (seeding takes a while on PostgreSQL).
//!
//! `target/release/examples/desk_search [--database-url URL] [--intakes 100000]
//!  [--customers 20000] [--requests 200] [--prompts-dir ivr-prompts]`

#[path = "common/desk_seed.rs"]
mod desk_seed;
#[path = "common/ws_bench.rs"]
#[allow(dead_code)]
mod ws_bench;

use std::time::{Duration, Instant};

use firstline::app::App;
use firstline::config::Config;
use firstline::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use desk_seed::{FIRST, LAST, Rng, WORDS, main_number};
use ws_bench::{each_flag, number};

struct Args {
    database_url: Option<String>,
    prompts_dir: String,
    intakes: usize,
    customers: usize,
    requests: usize,
    /// A config file whose `[sla]` the server runs with (the views then carry SLA timers).
    sla_from: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        database_url: None,
        prompts_dir: "ivr-prompts".into(),
        intakes: 100_000,
        customers: 20_000,
        requests: 200,
        sla_from: None,
    };
    each_flag(|flag, value| {
        match flag {
            "--database-url" => args.database_url = Some(value),
            "--prompts-dir" => args.prompts_dir = value,
            "--intakes" => args.intakes = number(flag, &value)?,
            "--customers" => args.customers = number(flag, &value)?,
            "--requests" => args.requests = number(flag, &value)?,
            "--sla-from" => args.sla_from = Some(value),
            _ => return Err(format!("unknown flag {flag}")),
        }
        Ok(())
    })?;
    Ok(args)
}

/// A keep-alive HTTP/1.1 connection that reads `Content-Length` bodies.
struct Http {
    conn: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl Http {
    async fn open(addr: std::net::SocketAddr) -> Result<Http, String> {
        let conn = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        conn.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Http {
            conn,
            host: addr.to_string(),
            buf: Vec::new(),
        })
    }

    /// Sends one request and reads the whole answer: (status, body).
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Result<(u16, String), String> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ));
        } else {
            req.push_str("\r\n");
        }
        self.conn
            .write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status")?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .ok_or_else(|| format!("no Content-Length in {head}"))?;
        while self.buf.len() < head_end + length {
            self.fill().await?;
        }
        let body = String::from_utf8_lossy(&self.buf[head_end..head_end + length]).into_owned();
        self.buf.drain(..head_end + length);
        Ok((status, body))
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self
            .conn
            .read(&mut chunk)
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// `q` for a query string: unreserved characters as they are, the rest percent-encoded.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Ways people type a customer's number `+3185XXXXXXX`.
fn number_forms(e164: &str, rng: &mut Rng) -> String {
    let national = format!("0{}", &e164[3..]);
    match rng.below(6) {
        0 => format!("{} {} {}", &national[..3], &national[3..6], &national[6..]),
        1 => national,
        2 => format!("+31 {} {} {}", &e164[3..5], &e164[5..8], &e164[8..]),
        3 => format!("00{}", &e164[1..]),
        4 => e164[1..].to_owned(),
        _ => e164[e164.len() - 6..].to_owned(),
    }
}

fn report(kind: &str, samples: &mut [Duration]) -> String {
    samples.sort_unstable();
    let q = |p: f64| {
        let i = ((samples.len().saturating_sub(1)) as f64 * p).round() as usize;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{kind:12} n={:5} p50={:7.2} p90={:7.2} p99={:7.2} max={:7.2} ms",
        samples.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );
    format!(
        "\"{kind}\":{{\"n\":{},\"p50_ms\":{:.2},\"p90_ms\":{:.2},\"p99_ms\":{:.2},\"max_ms\":{:.2}}}",
        samples.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    )
}

async fn login(http: &mut Http, login: &str) -> Result<String, String> {
    let body = format!(r#"{{"login":"{login}","password":"{login}-demo"}}"#);
    let (status, text) = http.call("POST", "/api/login", None, Some(&body)).await?;
    if status != 200 {
        return Err(format!("login {login}: {status} {text}"));
    }
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    v["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no token".into())
}

async fn run(args: Args) -> Result<(), String> {
    // Without --database-url: a fresh SQLite file, removed at the end.
    let temp = args
        .database_url
        .is_none()
        .then(|| std::env::temp_dir().join(format!("desk-search-{}", std::process::id())));
    let url = match (&args.database_url, &temp) {
        (Some(u), _) => u.clone(),
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            format!("sqlite://{}", dir.join("fl.db").display())
        }
        (None, None) => return Err("no database".into()),
    };
    let store = Store::connect(&url).await.map_err(|e| format!("{e:?}"))?;
    store.load_demo().await.map_err(|e| format!("{e:?}"))?;
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM intakes")
        .fetch_one(store.pool())
        .await
        .map_err(|e| e.to_string())?;
    if usize::try_from(have).unwrap_or(0) < args.intakes {
        let t0 = Instant::now();
        desk_seed::seed(
            &store,
            args.customers,
            args.intakes,
            firstline::store::now_ms(),
        )
        .await?;
        if url.starts_with("postgres") {
            // What autovacuum does soon after a load this size: the planner needs the tables'
            // statistics to pick the index-ordered plans.
            sqlx::query("ANALYZE")
                .execute(store.pool())
                .await
                .map_err(|e| e.to_string())?;
        }
        eprintln!(
            "seeded {} intakes, {} customers in {:.1} s",
            args.intakes,
            args.customers,
            t0.elapsed().as_secs_f64()
        );
    } else {
        eprintln!("reusing {have} intakes");
    }
    let years: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, value FROM counters WHERE name LIKE 'ticket:%'")
            .fetch_all(store.pool())
            .await
            .map_err(|e| e.to_string())?;
    store.close().await;

    let mut cfg = Config::for_tests(url, args.prompts_dir.clone().into());
    cfg.log = "error".into();
    if let Some(path) = &args.sla_from {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let mut file: toml::Table = toml::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        let sla = file.remove("sla").ok_or(format!("{path} has no [sla]"))?;
        cfg.sla = sla.try_into().map_err(|e| format!("{path} [sla]: {e}"))?;
        eprintln!("SLA targets from {path}");
    }
    let app = App::start(cfg).await.map_err(|e| format!("{e:#}"))?;
    let mut http = Http::open(app.http_addr()).await?;
    let anna = login(&mut http, "anna").await?;
    let eva = login(&mut http, "eva").await?;

    let mut rng = Rng(0x000b_e4c4);
    let kinds = [
        "name",
        "number",
        "ticket",
        "words",
        "long",
        "inbox",
        "inbox_group",
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    for round in 0..args.requests + 10 {
        for (k, kind) in kinds.iter().enumerate() {
            let (path, token) = match *kind {
                "name" => {
                    let q = match rng.below(3) {
                        0 => rng.pick(&LAST).to_owned(),
                        1 => format!("{} {}", rng.pick(&FIRST), rng.pick(&LAST)),
                        _ => "gemeente zaanwijk".to_owned(),
                    };
                    (format!("/api/search?q={}", encode(&q)), &anna)
                }
                "number" => {
                    let e164 = main_number(rng.below(args.customers.max(1)));
                    (
                        format!("/api/search?q={}", encode(&number_forms(&e164, &mut rng))),
                        &anna,
                    )
                }
                "ticket" => {
                    let (name, max) = &years[rng.below(years.len())];
                    let year = name.trim_start_matches("ticket:");
                    let n = 1 + rng.below(usize::try_from(*max).unwrap_or(1));
                    let q = match rng.below(3) {
                        0 => format!("FL-{year}-{n:05}"),
                        1 => format!("fl-{year}-{n}"),
                        _ => format!("{year}-{n:05}"),
                    };
                    (format!("/api/search?q={}", encode(&q)), &anna)
                }
                "words" => {
                    let q = match rng.below(5) {
                        0 => "zzqx onbekend".to_owned(),
                        n => (0..n.min(3))
                            .map(|_| rng.pick(&WORDS))
                            .collect::<Vec<_>>()
                            .join(" "),
                    };
                    (format!("/api/search?q={}", encode(&q)), &anna)
                }
                "long" => {
                    // Words up to 200 characters: the longest query the API takes.
                    let mut q = String::new();
                    loop {
                        let w = rng.pick(&WORDS);
                        if q.len() + w.len() + 1 > 200 {
                            break;
                        }
                        q.push_str(w);
                        q.push(' ');
                    }
                    (format!("/api/search?q={}", encode(q.trim())), &anna)
                }
                "inbox" => ("/api/me/inbox".to_owned(), &eva),
                _ => (
                    "/api/me/inbox?group=Applications&owner=none".to_owned(),
                    &eva,
                ),
            };
            let t0 = Instant::now();
            let (status, body) = http.call("GET", &path, Some(token), None).await?;
            let took = t0.elapsed();
            if status != 200 {
                return Err(format!("{path}: {status} {body}"));
            }
            // The first rounds warm caches and statements.
            if round >= 10 {
                samples[k].push(took);
            }
        }
    }
    let parts: Vec<String> = kinds
        .iter()
        .zip(samples.iter_mut())
        .map(|(k, s)| report(k, s))
        .collect();
    println!("{{{}}}", parts.join(","));
    app.shutdown().await;
    if let Some(dir) = temp {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let result = match parse_args() {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!("desk_search: {e}");
        std::process::exit(1);
    }
}
