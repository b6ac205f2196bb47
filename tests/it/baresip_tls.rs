//! baresip over SIP TLS (issue 11 item 2): as an agent phone it registers over TLS (agents held
//! to TLS), is rung down the connection it registered on and answers, and audio crosses both
//! ways (tones checked by content); as a caller it dials over TLS, walks the IVR with RFC 4733
//! digits, and its intake and a `tls` call record are stored.
//!
//! baresip advertises a non-loopback address in its SDP, so the server (in process), the test's
//! own SIP/RTP peers and baresip share a private network namespace holding `lo` and a veth pair
//! that leads nowhere: nothing can leave the machine (as in `baresip`). The server's SIP listens
//! on the veth address (`SERVER_IP`), so baresip's RTP comes from the address its SDP names, as
//! on a real network (strict RTP accepts only that). The database is SQLite
//! (PostgreSQL on the host's loopback is out of reach from inside).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use firstline::config::DigestSetting;
use sqlx::Row;

use crate::agent_phone::{decode_g711, tone, tone_share};
use crate::helpers::{TestApp, spawn_queue_app_on_sqlite, tool, wait_for, within};
use crate::scenario::unclassified_caller;
use crate::tls_client::cert_files;

/// The namespace's veth address: baresip's SDP address, and where the server's SIP listens.
const SERVER_IP: [u8; 4] = [10, 254, 0, 1];

/// A network namespace with `lo` and a veth pair (10.254.0.1), held open by a small process
/// that ends when the test process is gone.
struct VethNs {
    holder: Child,
}

impl VethNs {
    fn new() -> VethNs {
        use std::io::BufRead;
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
    fn enter(&self) {
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

/// Kills and reaps baresip when the test ends, passed or not.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_wav(path: &Path, pcm: &[i16]) {
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
/// `dir/dump` (sndfile), the server's certificate as its CA, one account line.
fn baresip_config(dir: &Path, ca: &Path, source: &Path, account: &str) {
    let dump = dir.join("dump");
    std::fs::create_dir_all(&dump).unwrap();
    let config = format!(
        "poll_method epoll\nsip_listen 127.0.0.1:0\nsip_cafile {ca}\n\
         audio_player aufile,/dev/null\naudio_source aufile,{source}\naudio_alert aufile,/dev/null\n\
         snd_path {dump}\nmodule_path /usr/lib/baresip/modules\n\
         module g711.so\nmodule aufile.so\nmodule sndfile.so\nmodule account.so\nmodule stdio.so\n\
         module_app menu.so\n",
        ca = ca.display(),
        source = source.display(),
        dump = dump.display(),
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("accounts"), format!("{account}\n")).unwrap();
    std::fs::write(dir.join("contacts"), "").unwrap();
}

/// Starts baresip on `conf` (inside the test thread's namespace); its stdin takes commands.
fn baresip(conf: &Path) -> (Reaped, std::process::ChildStdin) {
    let mut child = Command::new(tool("baresip"))
        .arg("-4")
        .arg("-f")
        .arg(conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn baresip");
    let keys = child.stdin.take().expect("piped stdin");
    (Reaped(child), keys)
}

/// A queue app with the certificate in `dir`, MD5 digest (baresip 1.0 fails on SHA-256
/// challenges) and agent phones held to TLS.
async fn tls_app(dir: &Path) -> (TestApp, std::path::PathBuf) {
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

#[tokio::test]
async fn baresip_agent_phone_over_tls_answers_and_audio_crosses_both_ways() {
    let ns = VethNs::new();
    ns.enter();
    within(120, async {
        tool("baresip");
        let dir = tempfile::tempdir().unwrap();
        let (t, ca) = tls_app(dir.path()).await;
        let tls = t.app.sip_tls_addr().expect("SIP over TLS");
        let conf = dir.path().join("baresip");
        std::fs::create_dir_all(&conf).unwrap();
        let source = dir.path().join("440.wav");
        write_wav(&source, &tone(440.0, 60.0));
        let account =
            format!("<sip:2001@{tls};transport=tls>;auth_pass=2001-sip;answermode=auto;regint=600");
        baresip_config(&conf, &ca, &source, &account);
        let (_phone, _keys) = baresip(&conf);

        let binding = wait_for(Duration::from_secs(15), || async {
            t.app.sip().binding("2001")
        })
        .await
        .expect("baresip did not register over TLS within 15 s");
        assert_eq!(binding.transport, firstline::sip::SipTransport::Tls);
        assert_eq!(t.app.sip().connections().open_tls, 1, "one flow");

        t.login("anna").await;
        let (mut ua, mut rtp, answer) = unclassified_caller(&t).await;
        let connected = wait_for(Duration::from_secs(15), || async {
            let row = t.queue_row(&ua.call_id).await?;
            row.connected_at.map(|_| row)
        })
        .await
        .expect("baresip did not answer over its TLS flow within 15 s");
        assert_eq!(connected.agent_id.as_deref(), Some("agent-demo-anna"));
        assert_eq!(
            t.app.sip().connections().open_tls,
            1,
            "rung down the same connection"
        );

        // What arrived before the bridge (prompts, hold music) is not part of the check.
        tokio::time::sleep(Duration::from_millis(500)).await;
        while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
        let heard = rtp.play(answer.rtp, &tone(1000.0, 4.0)).await;
        assert!(
            heard.len() >= 100,
            "the caller got {} RTP packets in 4 s",
            heard.len()
        );
        let pcm = decode_g711(&heard[heard.len() - 50..]);
        let (hit, miss) = (tone_share(&pcm, 440.0), tone_share(&pcm, 1000.0));
        assert!(
            hit > 0.5 && miss < 0.1,
            "the caller should hear baresip's 440 Hz: {hit:.3} (1 kHz: {miss:.3})"
        );
        assert_eq!(ua.bye().await, Some(200));

        // baresip closes its dump of what it heard when the call ends.
        let dump = conf.join("dump");
        let got = wait_for(Duration::from_secs(10), || async {
            let file = std::fs::read_dir(&dump)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with("-dec.wav"))?;
            let mut r = hound::WavReader::open(&file).ok()?;
            let pcm: Vec<i16> = r.samples::<i16>().filter_map(Result::ok).collect();
            (pcm.len() >= 8000 * 3).then_some(pcm)
        })
        .await
        .expect("no dump of what baresip heard");
        let share = best_second(&got, 1000.0);
        assert!(
            share > 0.5,
            "baresip should hear the caller's 1 kHz: {share:.3}"
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test]
async fn baresip_caller_over_tls_walks_the_ivr_and_its_intake_is_stored() {
    let ns = VethNs::new();
    ns.enter();
    within(120, async {
        tool("baresip");
        let dir = tempfile::tempdir().unwrap();
        let (t, ca) = tls_app(dir.path()).await;
        let tls = t.app.sip_tls_addr().expect("SIP over TLS");
        let conf = dir.path().join("baresip");
        std::fs::create_dir_all(&conf).unwrap();
        let silence = dir.path().join("silence.wav");
        write_wav(&silence, &vec![0i16; 8000 * 60]);
        baresip_config(
            &conf,
            &ca,
            &silence,
            "\"baresip\" <sip:+31201234502@10.254.0.1;transport=tls>;regint=0",
        );
        let (_caller, mut keys) = baresip(&conf);
        use std::io::Write as _;
        tokio::time::sleep(Duration::from_millis(500)).await; // baresip reads stdin once ready
        keys.write_all(format!("/dial sip:hotline@{tls};transport=tls\n").as_bytes())
            .unwrap();
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
        .await
        .expect("baresip's call over TLS was not answered within 15 s");
        assert_eq!(answered.1, "tls", "the call record names the transport");
        // 2 = English, 2 = software, 1 = business-critical; a second between the answers.
        for d in ["2", "2", "1"] {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            keys.write_all(format!("/sndcode {d}\n").as_bytes())
                .unwrap();
        }
        let intake = wait_for(Duration::from_secs(10), || async {
            let r =
                sqlx::query("SELECT category, priority, language FROM intakes WHERE call_id = $1")
                    .bind(answered.0.clone())
                    .fetch_optional(&t.pool)
                    .await;
            let row = r.ok().flatten()?;
            Some((
                row.try_get::<String, _>("category").ok()?,
                row.try_get::<Option<i64>, _>("priority").ok()?,
                row.try_get::<Option<String>, _>("language").ok()?,
            ))
        })
        .await
        .expect("no intake for baresip's TLS call within 10 s");
        assert_eq!(
            intake,
            ("software".to_owned(), Some(1), Some("en".to_owned()))
        );
        let _ = keys.write_all(b"/hangup\n/quit\n");
        t.finish().await;
    })
    .await;
}
