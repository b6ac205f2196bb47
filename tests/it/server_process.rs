//! The server binary as a child process for the tests that need a real process (kill -9,
//! peak memory): started on loopback port 0 with a database and optional config file, its
//! stdout lines kept with the time each was read.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::baresip_peer::Reaped;
use crate::helpers::prompts_dir;

/// Every line a server printed, with the time it was read.
pub(crate) type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

/// Reads the server's stdout on a thread until it closes: the ready line is handed over at once,
/// and every line is kept with the time it was read.
pub(crate) fn read_lines(stdout: std::process::ChildStdout) -> (oneshot::Receiver<String>, Lines) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = oneshot::channel();
    let keep = lines.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("firstline ready")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(line.clone());
            }
            keep.lock().unwrap().push((Instant::now(), line));
        }
    });
    (rx, lines)
}

/// The server binary as a child process, and every line it printed with the time it was read.
pub(crate) struct Server {
    pub(crate) child: Reaped,
    pub(crate) sip: SocketAddr,
    pub(crate) http: SocketAddr,
    pub(crate) lines: Lines,
}

impl Server {
    /// Starts `firstline` on `db_url` in `dir` with `config` as its config file (none: the
    /// defaults), every listener on a loopback port 0; waits for its ready line.
    pub(crate) async fn start(db_url: &str, dir: &Path, config: Option<&str>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_firstline"));
        if let Some(text) = config {
            let path = dir.join("firstline-test.toml");
            std::fs::write(&path, text).unwrap();
            cmd.arg("--config").arg(path);
        }
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FIRSTLINE_")) {
            cmd.env_remove(k);
        }
        let any = "127.0.0.1:0";
        let child = cmd
            .current_dir(dir)
            .args(["--sip-listen", any, "--http-listen", any])
            .args(["--sip-tls-listen", any, "--https-listen", any])
            .args(["--database-url", db_url])
            .arg("--prompts-dir")
            .arg(prompts_dir())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn firstline");
        let mut child = Reaped(child);
        let stdout = child.0.stdout.take().expect("piped stdout");
        let (rx, lines) = read_lines(stdout);
        let ready = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .ok()
            .and_then(Result::ok)
            .expect("firstline did not print its ready line within 60 s");
        let addr = |key: &str| -> SocketAddr {
            ready
                .split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {key}IP:PORT in {ready:?}"))
        };
        Server {
            sip: addr("sip_udp="),
            http: addr("http="),
            child,
            lines,
        }
    }

    /// The intake ids of the "intake drafted" lines read before `before`.
    pub(crate) fn drafted_before(&self, before: Instant) -> Vec<String> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|(at, l)| *at < before && l.contains("intake drafted"))
            .filter_map(|(_, l)| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("intake="))
                    .map(str::to_string)
            })
            .collect()
    }

    /// The peak resident memory so far (`VmHWM`), in KiB.
    pub(crate) fn peak_rss_kib(&self) -> u64 {
        let pid = self.child.0.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
    }

    /// SIGKILL, and the time just before it was sent.
    pub(crate) fn kill_9(mut self) -> Instant {
        let at = Instant::now();
        self.child.0.kill().expect("SIGKILL firstline");
        let status = self.child.0.wait().expect("reap firstline");
        assert!(
            !status.success(),
            "killed server exited cleanly: {status:?}"
        );
        at
    }
}
