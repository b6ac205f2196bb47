//! A real baresip for the TLS and SRTP tests: the network namespace it runs in (with the server
//! in process), its config dir, the process (SIP trace and log captured, commands on stdin) and
//! a queue app with a certificate.
//!
//! baresip advertises a non-loopback address in its SDP, so the server, the test's own SIP/RTP
//! peers and baresip share a private network namespace holding `lo` and a veth pair that leads
//! nowhere: nothing can leave the machine. The server's SIP listens on the veth address
//! ([`SERVER_IP`]), so baresip's RTP comes from the address its SDP names, as on a real network
//! (strict RTP accepts only that). The database is SQLite (PostgreSQL on the host's loopback is
//! out of reach from inside).

use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use firstline::config::{Config, DigestSetting};
use sqlx::{AnyPool, Row};

use std::net::SocketAddr;
use std::time::Duration;

use crate::agent_phone::{assert_hears, tone, tone_share};
use crate::helpers::{TestApp, spawn_queue_app_on_sqlite, tool, wait_for};
use crate::rtp::RtpPeer;
use crate::tls_client::cert_files;

/// The namespace's veth address: baresip's SDP address, and where the server's SIP listens.
pub(crate) const SERVER_IP: [u8; 4] = [10, 254, 0, 1];

/// A network namespace with `lo` and a veth pair (10.254.0.1), held open by a small process
/// that ends when the test process is gone.
pub(crate) struct VethNs {
    holder: Child,
}

impl VethNs {
    pub(crate) fn new() -> VethNs {
        let script = format!(
            "set -e; ip link set lo up; ip link add v0 type veth peer name v1; \
             ip addr add 10.254.0.1/24 dev v0; ip link set v1 up; ip link set v0 up; echo ready; \
             while kill -0 {} 2>/dev/null; do sleep 1; done",
            std::process::id()
        );
        let mut holder = Command::new(tool("unshare"))
            .args(["-n", "sh", "-c", &script])
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("unshare -n (needs root): {e}"));
        let out = holder.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        assert_eq!(
            line.trim(),
            "ready",
            "the network namespace did not come up (needs root)"
        );
        VethNs { holder }
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.holder.id())
    }

    /// Moves the calling thread (and what it starts) into the namespace.
    pub(crate) fn enter(&self) {
        let ns = std::fs::File::open(self.path()).unwrap();
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {}: {e}", self.path()));
    }
}

impl Drop for VethNs {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Kills and reaps a child process when the test ends, passed or not.
pub(crate) struct Reaped(pub(crate) Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes 8 kHz mono 16-bit PCM as a WAV file.
pub(crate) fn write_wav(path: &Path, pcm: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in pcm {
        w.write_sample(*s).unwrap();
    }
    w.finalize().unwrap();
}

/// baresip's config dir: `source` as its microphone, what it hears dumped as WAV files into
/// `dir/dump` (sndfile), the server's certificate as its CA, one account line; `srtp` loads
/// the SRTP module (before `account.so`, which reads the account's `;mediaenc=`).
pub(crate) fn baresip_config(dir: &Path, ca: &Path, source: &Path, account: &str, srtp: bool) {
    let dump = dir.join("dump");
    std::fs::create_dir_all(&dump).unwrap();
    let config = format!(
        "poll_method epoll\nsip_listen 127.0.0.1:0\nsip_cafile {ca}\n\
         audio_player aufile,/dev/null\naudio_source aufile,{source}\naudio_alert aufile,/dev/null\n\
         snd_path {dump}\nmodule_path /usr/lib/baresip/modules\n\
         module g711.so\nmodule aufile.so\nmodule sndfile.so\n{srtp}module account.so\n\
         module stdio.so\nmodule_app menu.so\n",
        ca = ca.display(),
        source = source.display(),
        dump = dump.display(),
        srtp = if srtp { "module srtp.so\n" } else { "" },
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("accounts"), format!("{account}\n")).unwrap();
    std::fs::write(dir.join("contacts"), "").unwrap();
}

/// A running baresip: commands go to its stdin; its stdout (log and SIP trace, `-s`) is kept.
pub(crate) struct Baresip {
    _child: Reaped,
    keys: ChildStdin,
    log: Arc<Mutex<String>>,
}

impl Baresip {
    /// Sends one menu command (e.g. `/dial sip:…`).
    pub(crate) fn command(&mut self, cmd: &str) {
        let _ = writeln!(self.keys, "{cmd}");
    }

    /// What baresip printed so far (its log and every SIP message sent and received).
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// Starts baresip on `conf` (inside the test thread's namespace) with its SIP trace on.
pub(crate) fn baresip(conf: &Path) -> Baresip {
    let mut child = Command::new(tool("baresip"))
        .args(["-4", "-s", "-f"])
        .arg(conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn baresip");
    let keys = child.stdin.take().expect("piped stdin");
    let out = child.stdout.take().expect("piped stdout");
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    // A thread drains the pipe (baresip blocks on a full one) into the log.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let mut l = sink.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    Baresip {
        _child: Reaped(child),
        keys,
        log,
    }
}

/// A queue app with the certificate in `dir`, MD5 digest (baresip 1.0 fails on SHA-256
/// challenges), agent phones held to TLS and SIP on [`SERVER_IP`], then `tweak`; and the
/// certificate file (baresip's CA).
pub(crate) async fn tls_app(dir: &Path, tweak: impl FnOnce(&mut Config)) -> (TestApp, PathBuf) {
    let (cert, key, _) = cert_files(dir);
    let ca = cert.clone();
    let t = spawn_queue_app_on_sqlite(move |c| {
        c.tls.cert_file = Some(cert);
        c.tls.key_file = Some(key);
        c.sip.digest = DigestSetting::Md5Only;
        c.sip.agents_require_tls = true;
        c.acd.ring_timeout_secs = 15;
        let on = std::net::SocketAddr::from((SERVER_IP, 0));
        (c.sip.udp_listen, c.sip.tcp_listen, c.sip.tls_listen) = (on, on, on);
        tweak(c);
    })
    .await;
    (t, ca)
}

/// The largest share of `freq` in any one-second window of `pcm`.
fn best_second(pcm: &[i16], freq: f64) -> f64 {
    pcm.chunks(8000)
        .filter(|w| w.len() == 8000)
        .map(|w| tone_share(w, freq))
        .fold(0.0, f64::max)
}

/// A caller bridged to baresip (which plays 440 Hz) sends 1 kHz for 4 s from `rtp` to `to` and
/// hears baresip (what arrived before the bridge, prompts and hold music, is not checked).
pub(crate) async fn caller_hears_baresip(rtp: &mut RtpPeer, to: SocketAddr) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
    let heard = rtp.play(to, &tone(1000.0, 4.0)).await;
    assert_hears("the caller", &heard, (100, 50), 440.0, 1000.0);
}

/// baresip heard the caller's 1 kHz (its dump, complete once the call ended).
pub(crate) async fn baresip_heard_the_caller(conf: &Path) {
    let got = wait_for(Duration::from_secs(10), || async { dump_heard(conf, 3) })
        .await
        .expect("no dump of what baresip heard");
    let share = best_second(&got, 1000.0);
    assert!(
        share > 0.5,
        "baresip should hear the caller's 1 kHz: {share:.3}"
    );
}

/// What baresip heard, from its `*-dec.wav` dump (closed when the call ends), once it holds
/// at least `secs` seconds.
fn dump_heard(conf: &Path, secs: usize) -> Option<Vec<i16>> {
    let file = std::fs::read_dir(conf.join("dump"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))?;
    let mut r = hound::WavReader::open(&file).ok()?;
    let pcm: Vec<i16> = r.samples::<i16>().filter_map(Result::ok).collect();
    (pcm.len() >= 8000 * secs).then_some(pcm)
}

/// baresip (the SRTP module loaded when `srtp`) dials the hotline over TLS from `account`,
/// its config in `dir/baresip`, silence as its microphone.
pub(crate) async fn baresip_dials(
    t: &TestApp,
    ca: &Path,
    dir: &Path,
    account: &str,
    srtp: bool,
) -> Baresip {
    let tls = t.app.sip_tls_addr().expect("SIP over TLS");
    let conf = dir.join("baresip");
    std::fs::create_dir_all(&conf).unwrap();
    let silence = dir.join("silence.wav");
    write_wav(&silence, &vec![0i16; 8000 * 60]);
    baresip_config(&conf, ca, &silence, account, srtp);
    let mut caller = baresip(&conf);
    tokio::time::sleep(Duration::from_millis(500)).await; // baresip reads stdin once ready
    caller.command(&format!("/dial sip:hotline@{tls};transport=tls"));
    caller
}

/// The id and transport of the first answered call, within 15 s (the caller's log on failure).
pub(crate) async fn answered_call(t: &TestApp, caller: &Baresip) -> (String, String) {
    let answered = wait_for(Duration::from_secs(15), || async {
        let r = sqlx::query("SELECT id, transport FROM calls WHERE answered_at IS NOT NULL")
            .fetch_optional(&t.pool)
            .await;
        let row = r.ok().flatten()?;
        Some((
            row.try_get::<String, _>("id").ok()?,
            row.try_get::<String, _>("transport").ok()?,
        ))
    })
    .await;
    answered.unwrap_or_else(|| panic!("baresip's call was not answered:\n{}", caller.log()))
}

/// baresip presses 2 (English), 2 (software), 1 (business-critical), a second apart, through
/// `press` (`/sndcode`), and the call's intake in `pool` says so.
pub(crate) async fn walk_the_ivr(pool: &AnyPool, mut press: impl FnMut(&str), call_id: &str) {
    for d in ["2", "2", "1"] {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        press(&format!("/sndcode {d}"));
    }
    let intake = wait_for(Duration::from_secs(10), || async {
        let r = sqlx::query("SELECT category, priority, language FROM intakes WHERE call_id = $1")
            .bind(call_id.to_owned())
            .fetch_optional(pool)
            .await;
        let row = r.ok().flatten()?;
        Some((
            row.try_get::<String, _>("category").ok()?,
            row.try_get::<Option<i64>, _>("priority").ok()?,
            row.try_get::<Option<String>, _>("language").ok()?,
        ))
    })
    .await
    .expect("no intake for baresip's call within 10 s");
    assert_eq!(
        intake,
        ("software".to_owned(), Some(1), Some("en".to_owned()))
    );
}

/// The DTMF modes of the call once it has ended (within 10 s, e.g. of `/hangup`).
pub(crate) async fn dtmf_mode_at_end(pool: &AnyPool, call_id: &str) -> Option<String> {
    wait_for(Duration::from_secs(10), || async {
        let row = sqlx::query("SELECT dtmf_mode, ended_at FROM calls WHERE id = $1")
            .bind(call_id.to_owned())
            .fetch_one(pool)
            .await
            .ok()?;
        row.try_get::<Option<i64>, _>("ended_at").ok()??;
        row.try_get::<Option<String>, _>("dtmf_mode").ok()
    })
    .await
    .expect("the call did not end within 10 s")
}
