//! A real baresip caller: dials the `firstline` binary and presses digits (RFC 4733).
//!
//! baresip advertises a non-loopback interface address in its SDP, so both run in a private
//! network namespace (`unshare -n`) holding only `lo` and a veth pair that leads nowhere:
//! nothing can leave the machine. The server listens on that address (`SERVER_IP`), so
//! baresip's RTP comes from the address its SDP names, as on a real network (strict RTP accepts
//! only that: docs/media-security.md). The database is a SQLite file the test reads from
//! outside.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::{AnyPool, Row};

use crate::baresip_peer::{Reaped, dtmf_mode_at_end, walk_the_ivr};
use crate::helpers::{prompts_dir, tool, wait_for, within};

/// The namespace's veth address: baresip's SDP address, and where the server listens.
const SERVER_IP: &str = "10.254.0.1";

/// Writes baresip's config dir: no sound card (aufile silence in, /dev/null out), one account.
fn baresip_config(dir: &std::path::Path) {
    let silence = dir.join("silence.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&silence, spec).unwrap();
    for _ in 0..8000 * 60 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    let config = format!(
        "poll_method epoll\nsip_listen 127.0.0.1:0\naudio_player aufile,/dev/null\n\
         audio_source aufile,{}\naudio_alert aufile,/dev/null\nmodule_path /usr/lib/baresip/modules\n\
         module g711.so\nmodule aufile.so\nmodule account.so\nmodule stdio.so\nmodule_app menu.so\n",
        silence.display()
    );
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(
        dir.join("accounts"),
        "\"baresip\" <sip:+31201234502@127.0.0.1>;regint=0\n",
    )
    .unwrap();
    std::fs::write(dir.join("contacts"), "").unwrap();
}

/// Starts `firstline` in a fresh network namespace; returns the child and its UDP SIP port.
async fn start_server_in_netns(db_url: &str) -> (Reaped, u16) {
    let setup = "ip link set lo up && ip link add v0 type veth peer name v1 && \
                 ip addr add 10.254.0.1/24 dev v0 && ip link set v1 up && ip link set v0 up && \
                 exec \"$0\" \"$@\"";
    let mut child = Command::new(tool("unshare"))
        .args(["-n", "sh", "-c", setup, env!("CARGO_BIN_EXE_firstline")])
        .args([
            "--sip-listen",
            &format!("{SERVER_IP}:0"),
            "--http-listen",
            "127.0.0.1:0",
        ])
        .args(["--database-url", db_url])
        .arg("--prompts-dir")
        .arg(prompts_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn unshare + firstline");
    let stdout = child.stdout.take().expect("piped stdout");
    let server = Reaped(child);
    // A thread reads stdout: it hands over the ready line, then keeps draining the pipe.
    let (rx, _lines) = crate::server_process::read_lines(stdout);
    let ready = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .ok()
        .and_then(Result::ok)
        .expect("firstline did not print its ready line within 30 s");
    let port = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("sip_udp="))
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no sip_udp=IP:PORT in {ready:?}"));
    (server, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_caller_presses_digits_and_an_intake_is_stored() {
    within(90, async {
        tool("baresip");
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let (server, port) = start_server_in_netns(&db_url).await;
        let pid = server.0.id();
        let conf = dir.path().join("baresip");
        std::fs::create_dir_all(&conf).unwrap();
        baresip_config(&conf);
        let mut phone = Command::new(tool("nsenter"))
            .arg(format!("--net=/proc/{pid}/ns/net"))
            .arg(tool("baresip"))
            .arg("-4")
            .arg("-f")
            .arg(&conf)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn baresip");
        let mut keys = phone.stdin.take().expect("piped stdin");
        let phone = Reaped(phone);
        tokio::time::sleep(Duration::from_millis(500)).await; // baresip reads stdin once ready
        keys.write_all(format!("/dial sip:hotline@{SERVER_IP}:{port}\n").as_bytes())
            .unwrap();

        let pool = AnyPool::connect(&db_url).await.unwrap();
        let answered = wait_for(Duration::from_secs(15), || async {
            let r = sqlx::query("SELECT id FROM calls WHERE answered_at IS NOT NULL")
                .fetch_optional(&pool)
                .await;
            r.ok()
                .flatten()
                .and_then(|row| row.try_get::<String, _>("id").ok())
        })
        .await
        .expect("baresip's call was not answered within 15 s");
        walk_the_ivr(
            &pool,
            |c| {
                let _ = writeln!(keys, "{c}");
            },
            &answered,
        )
        .await;
        // Hang up; the call record (with the DTMF mode seen) is complete once the call ended.
        let _ = keys.write_all(b"/hangup\n");
        let mode = dtmf_mode_at_end(&pool, &answered).await;
        assert_eq!(
            mode.as_deref(),
            Some("rfc4733"),
            "baresip sends telephone-events"
        );
        let _ = keys.write_all(b"/quit\n");
        pool.close().await;
        drop(phone);
        drop(server);
    })
    .await;
}
