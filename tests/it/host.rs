//! Host plumbing for the peer tests, no server and no database: peer-tool lookup, free ports,
//! and network namespaces (`unshare -n`, `setns(2)`, `nsenter`).

use std::path::PathBuf;

/// Path of a peer tool; panics (never skips) with a hint when it is missing.
pub(crate) fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"] {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("`{name}` is not installed: run scripts/test (it installs the test peers via apt-get)");
}

/// A port free on 127.0.0.1 for both UDP and TCP a moment ago (SIPp takes `-p 0` as 5060).
pub(crate) fn free_port() -> u16 {
    for _ in 0..50 {
        let Ok(u) = std::net::UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = u.local_addr() else { continue };
        if std::net::TcpListener::bind(addr).is_ok() {
            return addr.port();
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// A UDP port that was free a moment ago (for tools that cannot take port 0).
pub(crate) fn free_udp_port_pair() -> u16 {
    for _ in 0..50 {
        let Ok(a) = std::net::UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = a.local_addr() else { continue };
        let port = addr.port();
        if port % 2 == 0
            && port < 65000
            && std::net::UdpSocket::bind(("127.0.0.1", port + 2)).is_ok()
        {
            return port;
        }
    }
    panic!("no free UDP port pair on 127.0.0.1");
}

/// A network namespace with only `lo` (up), held open by a small `unshare -n` process whose
/// watchdog loop ends it when the test process is gone. The browser softphone test runs the
/// server, SIPp and Chromium in one of these (docs/webrtc.md "Tests on loopback only").
pub(crate) struct Netns {
    holder: std::process::Child,
}

impl Netns {
    /// Creates the namespace; returns once `lo` is up in it.
    pub(crate) fn new() -> Netns {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let (unshare, ip) = (tool("unshare"), tool("ip"));
        let script = format!(
            "set -e; {ip} link set lo up; echo ready; \
             while kill -0 {me} 2>/dev/null; do sleep 1; done",
            ip = ip.display(),
            me = std::process::id(),
        );
        let mut holder = std::process::Command::new(unshare)
            .args(["-n", "sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("unshare -n (needs root): {e}"));
        let out = holder.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = holder.kill();
            let status = holder.wait();
            panic!("the network namespace did not come up (needs root): {status:?}");
        }
        Netns { holder }
    }

    /// `/proc/<pid>/ns/net` of the namespace.
    pub(crate) fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.holder.id())
    }

    /// Moves the calling thread into the namespace (setns(2)): every socket it creates from now
    /// on, and every process it starts, is inside. A `#[tokio::test]` (current-thread runtime)
    /// that calls this first runs the whole server in the namespace.
    pub(crate) fn enter(&self) {
        let ns = std::fs::File::open(self.path()).unwrap();
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {} (needs root): {e}", self.path()));
    }

    /// The command prefix that runs a program inside: `nsenter --net=/proc/<pid>/ns/net`.
    pub(crate) fn prefix(&self) -> Vec<String> {
        vec![
            tool("nsenter").display().to_string(),
            format!("--net={}", self.path()),
        ]
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
