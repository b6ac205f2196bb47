//! A minimal W3C WebDriver client (HTTP/1.1 + JSON written by hand) driving headless Chromium
//! through chromedriver, both inside a loopback-only network namespace.
//!
//! The project rule: a peer that may open other addresses on its own (a browser fetches, resolves
//! and phones home) runs in a netns with only `lo`. UNIX sockets cross network namespaces, so:
//!
//! ```text
//!  netns (lo only)                                        test process
//!  Chromium → 127.0.0.1:<port> → socat → <dir>/http.sock → task → server's 127.0.0.1:<port>
//!  chromedriver :9515 ← socat ← <dir>/wd.sock ←──────────── WebDriver client (UnixStream)
//! ```
//!
//! The inside port equals the server's real port, so `Host`/`Origin` checks see the same
//! host:port. A missing chromium/chromedriver/socat fails the test (never skips).
//!
//! The softphone test instead runs the server itself in the netns ([`Browser::start_in`]):
//! WebRTC media is UDP between Chromium and the server, which no bridge carries.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener, UnixStream};

use crate::helpers::{Netns, tool, wait_for};

/// The key of an element reference in WebDriver JSON (W3C WebDriver §12.1).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver element reference.
#[derive(Debug, Clone)]
pub(crate) struct Element(String);

/// Headless Chromium in its own network namespace, with one WebDriver session.
pub(crate) struct Browser {
    dir: tempfile::TempDir,
    /// `unshare` → `sh` (the leader of its own process group: chromedriver, socat, Chromium).
    netns: Child,
    /// The HTTP bridge to a server outside the netns (none when the server runs inside).
    bridge: Option<tokio::task::JoinHandle<()>>,
    session: String,
    /// `http://127.0.0.1:<server port>`, as Chromium reaches the server.
    pub(crate) base: String,
}

impl Browser {
    /// Starts chromedriver and Chromium in a loopback-only netns that reaches `server`.
    pub(crate) async fn start(server: SocketAddr) -> Browser {
        let (chromedriver, socat) = (tool("chromedriver"), tool("socat"));
        let (unshare, ip) = (tool("unshare"), tool("ip"));
        let dir = tempfile::tempdir().unwrap();
        let http_sock = dir.path().join("http.sock");
        let wd_sock = dir.path().join("wd.sock");
        let bridge = bridge_http(&http_sock, server);
        let port = server.port();
        let script = format!(
            "set -e; {ip} link set lo up; \
             {socat} TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:{http} & \
             {socat} UNIX-LISTEN:{wd},fork TCP:127.0.0.1:9515 & \
             {chromedriver} --port=9515 --log-path={log} & \
             while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -KILL 0",
            // The watchdog loop ends the group even if the test process aborts (no Drop).
            me = std::process::id(),
            ip = ip.display(),
            socat = socat.display(),
            http = http_sock.display(),
            wd = wd_sock.display(),
            chromedriver = chromedriver.display(),
            log = dir.path().join("chromedriver.log").display(),
        );
        let mut cmd = Command::new(unshare);
        cmd.args(["-n", "sh", "-c", &script]);
        Browser::launch(dir, cmd, Some(bridge), port, &[]).await
    }

    /// Starts chromedriver and Chromium inside `netns`, where the server itself runs (the
    /// softphone test: WebRTC media cannot cross the socat bridges). No HTTP bridge: Chromium
    /// reaches `server` directly. Chromium may use loopback candidates in peer connections,
    /// gets a fake microphone (a beep) without a permission prompt, shows host candidates as
    /// plain addresses (no mDNS names) and plays audio without a user gesture.
    pub(crate) async fn start_in(netns: &Netns, server: SocketAddr) -> Browser {
        let (chromedriver, socat) = (tool("chromedriver"), tool("socat"));
        let dir = tempfile::tempdir().unwrap();
        let wd_sock = dir.path().join("wd.sock");
        let script = format!(
            "set -e; \
             {socat} UNIX-LISTEN:{wd},fork TCP:127.0.0.1:9515 & \
             {chromedriver} --port=9515 --log-path={log} & \
             while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -KILL 0",
            me = std::process::id(),
            socat = socat.display(),
            wd = wd_sock.display(),
            chromedriver = chromedriver.display(),
            log = dir.path().join("chromedriver.log").display(),
        );
        let prefix = netns.prefix();
        let mut cmd = Command::new(&prefix[0]);
        cmd.args(&prefix[1..]).args(["sh", "-c", &script]);
        let webrtc = [
            "--allow-loopback-in-peer-connection",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--autoplay-policy=no-user-gesture-required",
        ];
        Browser::launch(dir, cmd, None, server.port(), &webrtc).await
    }

    /// Runs `cmd` (a shell that starts socat and chromedriver in a netns) as the leader of its
    /// own process group, waits for chromedriver and opens a session with `extra_args`.
    async fn launch(
        dir: tempfile::TempDir,
        mut cmd: Command,
        bridge: Option<tokio::task::JoinHandle<()>>,
        port: u16,
        extra_args: &[&str],
    ) -> Browser {
        let chromium = tool("chromium");
        let netns = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?} (needs root): {e}"));
        let mut b = Browser {
            dir,
            netns,
            bridge,
            session: String::new(),
            base: format!("http://127.0.0.1:{port}"),
        };
        let ready = wait_for(Duration::from_secs(15), || async {
            // A request that reaches chromedriver before it serves is never answered: retry.
            let probe = b.raw("GET", "/status", None);
            let (status, v) = tokio::time::timeout(Duration::from_millis(500), probe)
                .await
                .ok()?
                .ok()?;
            (status == 200 && v["value"]["ready"] == json!(true)).then_some(())
        })
        .await;
        if ready.is_none() {
            panic!("chromedriver did not become ready: {}", b.log());
        }
        let user_data = b.dir.path().join("profile");
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-default-apps",
            "--window-size=1280,1000",
        ]
        .iter()
        .chain(extra_args)
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", user_data.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": args,
            },
        }}});
        let v = b.cmd("POST", "/session", Some(caps)).await;
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session: {v}"))
            .to_string();
        b
    }

    /// chromedriver's log (for failure messages).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log"))
            .map(|s| {
                s.chars()
                    .rev()
                    .take(3000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One HTTP request to chromedriver over the UNIX socket; status and JSON body.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> std::io::Result<(u16, Value)> {
        match tokio::time::timeout(Duration::from_secs(30), self.exchange(method, path, body)).await
        {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::other(
                "chromedriver did not answer within 30 s",
            )),
        }
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> std::io::Result<(u16, Value)> {
        let mut s = UnixStream::connect(self.dir.path().join("wd.sock")).await?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:9515\r\nConnection: close\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        // chromedriver keeps the connection open despite `Connection: close`: read by length.
        let mut raw = Vec::new();
        let mut buf = [0u8; 16384];
        let body = loop {
            if let Some(body) = complete_body(&raw) {
                break body;
            }
            let n = s.read(&mut buf).await?;
            if n == 0 {
                let text = String::from_utf8_lossy(&raw);
                return Err(std::io::Error::other(format!(
                    "truncated HTTP response: {text:?}"
                )));
            }
            raw.extend_from_slice(&buf[..n]);
        };
        let status = std::str::from_utf8(&raw[..raw.len().min(16)])
            .unwrap_or("")
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// A WebDriver command; its `value`. Panics with the driver's message on an error.
    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self
            .raw(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        if status != 200 {
            panic!(
                "WebDriver {method} {path}: {status} {}",
                v["value"]["message"].as_str().unwrap_or(&v.to_string())
            );
        }
        v["value"].clone()
    }

    fn at(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `path` (relative to the server) or a full URL.
    pub(crate) async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        self.cmd("POST", &self.at("/url"), Some(json!({ "url": url })))
            .await;
    }

    /// The page's current URL.
    pub(crate) async fn url(&self) -> String {
        let v = self.cmd("GET", &self.at("/url"), None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Reloads the page.
    pub(crate) async fn refresh(&self) {
        self.cmd("POST", &self.at("/refresh"), Some(json!({})))
            .await;
    }

    /// The first element matching the CSS selector, if any.
    pub(crate) async fn try_find(&self, css: &str) -> Option<Element> {
        let body = json!({"using": "css selector", "value": css});
        let (status, v) = self
            .raw("POST", &self.at("/element"), Some(body))
            .await
            .ok()?;
        if status != 200 {
            return None;
        }
        v["value"][ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_string()))
    }

    /// The element matching `css`, waiting up to 10 s for it to appear.
    pub(crate) async fn find(&self, css: &str) -> Element {
        match wait_for(Duration::from_secs(10), || self.try_find(css)).await {
            Some(e) => e,
            None => panic!(
                "no element {css} within 10 s; page: {}",
                self.body_text().await
            ),
        }
    }

    /// The element `[data-testid=<id>]`.
    pub(crate) async fn testid(&self, id: &str) -> Element {
        self.find(&format!("[data-testid=\"{id}\"]")).await
    }

    /// Finds `css` and clicks it; when a live page re-renders the element between the two
    /// steps ("stale element reference", §12.4.1), finds it again (a few times, then panics).
    pub(crate) async fn click_css(&self, css: &str) {
        for _ in 0..10 {
            let e = self.find(css).await;
            let (status, v) = self
                .raw(
                    "POST",
                    &self.at(&format!("/element/{}/click", e.0)),
                    Some(json!({})),
                )
                .await
                .unwrap_or_else(|e| panic!("WebDriver click {css}: {e}"));
            if status == 200 {
                return;
            }
            let message = v["value"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !message.contains("stale element") {
                panic!("WebDriver click {css}: {status} {message}");
            }
        }
        panic!("WebDriver click {css}: the element kept going stale");
    }

    /// Clicks an element (W3C WebDriver §12.4.1).
    pub(crate) async fn click(&self, e: &Element) {
        self.cmd(
            "POST",
            &self.at(&format!("/element/{}/click", e.0)),
            Some(json!({})),
        )
        .await;
    }

    /// Types `text` into an element (W3C WebDriver §12.4.3): focus, caret at the end, keys.
    pub(crate) async fn send_keys(&self, e: &Element, text: &str) {
        let path = self.at(&format!("/element/{}/value", e.0));
        self.cmd("POST", &path, Some(json!({ "text": text }))).await;
    }

    /// The element's rendered text.
    pub(crate) async fn text(&self, e: &Element) -> String {
        let v = self
            .cmd("GET", &self.at(&format!("/element/{}/text", e.0)), None)
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The element's `value` property (inputs, selects, textareas).
    pub(crate) async fn value(&self, e: &Element) -> String {
        let path = self.at(&format!("/element/{}/property/value", e.0));
        self.cmd("GET", &path, None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub(crate) async fn exec(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.cmd("POST", &self.at("/execute/sync"), Some(body))
            .await
    }

    /// `document.body.innerText`, for failure messages.
    pub(crate) async fn body_text(&self) -> String {
        let body =
            json!({ "script": "return document.body ? document.body.innerText : ''", "args": [] });
        match self
            .raw("POST", &self.at("/execute/sync"), Some(body))
            .await
        {
            Ok((_, v)) => v["value"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(2000)
                .collect(),
            Err(e) => format!("({e})"),
        }
    }

    /// Waits up to `secs` for `script` to return a truthy value (it runs in the page); the value.
    pub(crate) async fn until(&self, secs: u64, what: &str, script: &str, args: Value) -> Value {
        let got = wait_for(Duration::from_secs(secs), || async {
            let body = json!({ "script": script, "args": args.clone() });
            let (status, v) = self
                .raw("POST", &self.at("/execute/sync"), Some(body))
                .await
                .ok()?;
            let v = v["value"].clone();
            let truthy = status == 200
                && !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0));
            truthy.then_some(v)
        })
        .await;
        match got {
            Some(v) => v,
            None => panic!(
                "{what}: not within {secs} s; page: {}",
                self.body_text().await
            ),
        }
    }

    /// Ends the session (Chromium exits), then stops chromedriver and the bridges.
    pub(crate) async fn quit(mut self) {
        let _ = self.raw("DELETE", &self.at(""), None).await;
        self.session.clear();
    }
}

/// Window size and screenshots (issue 10: the pages must fit the screens agents have).
impl Browser {
    /// Sizes the window so that the page's viewport is `width`×`height` CSS pixels (W3C
    /// WebDriver §11.8.2 Set Window Rect sets the outer size: corrected by what the browser's
    /// own frame takes, after the resize has landed).
    pub(crate) async fn set_viewport(&self, width: u32, height: u32) {
        let want = (width, height);
        let mut outer = want;
        let mut got = (0, 0);
        for _ in 0..5 {
            let rect = json!({ "width": outer.0, "height": outer.1 });
            self.cmd("POST", &self.at("/window/rect"), Some(rect)).await;
            // The resize lands asynchronously: read until two readings agree.
            let mut last = None;
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let v = self
                    .exec("return [window.innerWidth, window.innerHeight];", json!([]))
                    .await;
                let now = (
                    u32::try_from(v[0].as_u64().unwrap_or(0)).unwrap_or(0),
                    u32::try_from(v[1].as_u64().unwrap_or(0)).unwrap_or(0),
                );
                if now == want || last == Some(now) {
                    got = now;
                    break;
                }
                last = Some(now);
            }
            if got == want {
                return;
            }
            outer = (
                (outer.0 + want.0).saturating_sub(got.0),
                (outer.1 + want.1).saturating_sub(got.1),
            );
        }
        panic!("the viewport stays {got:?} instead of {width}×{height}");
    }

    /// Writes a PNG of the viewport to `path` (W3C WebDriver §17.1 Take Screenshot), creating
    /// its directory.
    pub(crate) async fn screenshot(&self, path: &Path) {
        let v = self.cmd("GET", &self.at("/screenshot"), None).await;
        use base64::Engine as _;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("the screenshot is not base64 ({e}): {v}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    /// Kills the netns process group (chromedriver, socat, Chromium), also after a panic.
    fn drop(&mut self) {
        let pgid = self.netns.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.netns.kill();
        let _ = self.netns.wait();
        if let Some(bridge) = &self.bridge {
            bridge.abort();
        }
    }
}

/// Accepts on the UNIX socket `path` and copies each connection to the server's TCP address.
fn bridge_http(path: &Path, server: SocketAddr) -> tokio::task::JoinHandle<()> {
    let listener = UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        while let Ok((mut inside, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outside) = TcpStream::connect(server).await {
                    let _ = tokio::io::copy_bidirectional(&mut inside, &mut outside).await;
                }
            });
        }
    })
}

/// The body of the HTTP/1.1 response in `raw` once all of it has arrived (RFC 9112 §6.3:
/// Content-Length, or chunked up to the last chunk).
fn complete_body(raw: &[u8]) -> Option<Vec<u8>> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let rest = &raw[split + 4..];
    if head.contains("transfer-encoding: chunked") {
        return rest.ends_with(b"0\r\n\r\n").then(|| dechunk(rest));
    }
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (rest.len() >= len).then(|| rest[..len].to_vec())
}

/// The body of a `Transfer-Encoding: chunked` response (RFC 9112 §7.1).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&rest[..eol]);
        let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16) else {
            break;
        };
        let after = &rest[eol + 2..];
        if n == 0 || after.len() < n {
            break;
        }
        out.extend_from_slice(&after[..n]);
        rest = after[n..].strip_prefix(b"\r\n").unwrap_or(&after[n..]);
    }
    out
}

#[test]
fn response_is_complete_by_length() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n";
    assert_eq!(complete_body(&[&head[..], b"{\"a\":"].concat()), None);
    assert_eq!(
        complete_body(&[&head[..], b"{\"a\":1}"].concat()).as_deref(),
        Some(&b"{\"a\":1}"[..])
    );
}

#[test]
fn dechunk_joins_chunks() {
    assert_eq!(
        dechunk(b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"),
        b"{\"a\":1}"
    );
}
