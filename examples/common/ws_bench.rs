//! The part the WebSocket bench clients (`pop_client`, `feed_client`) share, included by each
//! with `#[path]` (no example of its own): flag parsing, the wall clock in µs, opening a feed
//! (Bearer token, then a fresh `hello`), one current-thread runtime, and the run's course
//! (wait for every welcome, print `connected OK FAILED`, wait for the deadline or a signal).

use std::fmt::Display;
use std::future::Future;
use std::io::Write as _;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::SinkExt as _;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client WebSocket to the server under test.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Hands each `--flag value` pair of the command line to `take`, in order; stops at the first
/// error (a flag without a value, or what `take` refuses).
pub(crate) fn each_flag(
    mut take: impl FnMut(&str, String) -> Result<(), String>,
) -> Result<(), String> {
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        take(&flag, value)?;
    }
    Ok(())
}

/// `value` parsed as the number `flag` takes.
pub(crate) fn number<T>(flag: &str, value: &str) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    value.parse().map_err(|e| format!("{flag}: {e}"))
}

/// The wall clock in µs since the epoch (the clock the server stamps events with).
pub(crate) fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Opens the WebSocket at `url` with `Authorization: Bearer <token>` and sends a `hello`
/// without resume; the error says which step failed.
pub(crate) async fn open_feed(url: &str, token: &str) -> Result<Ws, String> {
    let mut req = url
        .into_client_request()
        .map_err(|e| format!("bad url: {e}"))?;
    let auth =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| format!("bad token: {e}"))?;
    req.headers_mut().insert("authorization", auth);
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let hello = r#"{"v":1,"type":"hello","last_seq":null,"epoch":null}"#;
    ws.send(Message::Text(hello.into()))
        .await
        .map_err(|e| format!("hello: {e}"))?;
    Ok(ws)
}

/// Runs `run` on one current-thread runtime inside a `LocalSet` (the connections share their
/// state through `Rc<RefCell>`, and one thread keeps the client's share of the cores small).
pub(crate) fn block_on_local(run: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run)
}

/// The run's course once the `n` connections are spawned: counts their reports on `welcomed`
/// (true: welcomed, false: failed) until all are in, `seconds` have passed or SIGTERM comes;
/// prints `connected OK FAILED`; then waits for the deadline, SIGTERM or SIGINT. Returns
/// (OK, FAILED).
pub(crate) async fn connect_then_wait(
    mut welcomed: UnboundedReceiver<bool>,
    n: u64,
    seconds: u64,
) -> Result<(u64, u64), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("signal: {e}"))?;
    let (mut ok, mut failed) = (0u64, 0u64);
    while ok + failed < n {
        tokio::select! {
            r = welcomed.recv() => match r {
                Some(true) => ok += 1,
                Some(false) => failed += 1,
                None => break,
            },
            _ = tokio::time::sleep_until(deadline) => break,
            _ = term.recv() => break,
        }
    }
    println!("connected {ok} {failed}");
    let _ = std::io::stdout().flush();
    tokio::select! {
        _ = tokio::time::sleep_until(deadline) => {}
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok((ok, failed))
}
