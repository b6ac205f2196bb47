//! Real SIPp callers over loopback (scenarios in tests/sipp/), each checking `calls` and `intakes`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::helpers::{free_port, free_udp_port_pair, spawn_app, spawn_app_with, tool, within};

/// What one SIPp run left behind.
#[derive(Debug)]
pub(crate) struct SippRun {
    pub(crate) code: Option<i32>,
    pub(crate) report: String,
}

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// Runs one SIPp call of `scenario_file` against `server`; the Call-ID will be `call_id`.
async fn run_sipp(server: SocketAddr, scenario_file: &str, tcp: bool, call_id: &str) -> SippRun {
    run_sipp_with(server, scenario_file, tcp, call_id, &[]).await
}

/// `run_sipp` with extra SIPp arguments (e.g. `-rtp_echo`).
pub(crate) async fn run_sipp_with(
    server: SocketAddr,
    scenario_file: &str,
    tcp: bool,
    call_id: &str,
    extra: &[&str],
) -> SippRun {
    let limit = Duration::from_secs(30);
    run_sipp_in(&[], server, scenario_file, tcp, call_id, extra, limit).await
}

/// `run_sipp_with` behind a command `prefix` (e.g. `nsenter --net=…`, see
/// `helpers::Netns::prefix`), SIPp bounded by `limit` (`-timeout`) instead of 30 s. The ports
/// are picked in the calling thread's network namespace, which must be the one SIPp runs in.
pub(crate) async fn run_sipp_in(
    prefix: &[String],
    server: SocketAddr,
    scenario_file: &str,
    tcp: bool,
    call_id: &str,
    extra: &[&str],
    limit: Duration,
) -> SippRun {
    let sipp = tool("sipp");
    let dir = tempfile::tempdir().unwrap();
    let media_port = free_udp_port_pair().to_string();
    let sip_port = free_port().to_string();
    let cid = call_id.replace('%', "%%");
    let timeout = format!("{}s", limit.as_secs().max(1));
    let mut cmd = match prefix.split_first() {
        Some((program, args)) => {
            let mut c = std::process::Command::new(program);
            c.args(args).arg(sipp);
            c
        }
        None => std::process::Command::new(sipp),
    };
    cmd.current_dir(dir.path())
        .arg(server.to_string())
        .args(["-sf"])
        .arg(scenario(scenario_file))
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &sip_port,
            "-mp",
            &media_port,
            "-m",
            "1",
            "-l",
            "1",
        ])
        .args([
            "-timeout",
            &timeout,
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-trace_msg",
        ])
        .args(["-cid_str", &cid])
        .args(["-t", if tcp { "t1" } else { "u1" }])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SIPp bounds itself (`-m 1`, `-timeout`); the blocking wait runs off the runtime.
    let wait = limit + Duration::from_secs(10);
    let out =
        match tokio::time::timeout(wait, tokio::task::spawn_blocking(move || cmd.output())).await {
            Ok(Ok(r)) => r.unwrap_or_else(|e| panic!("cannot run sipp: {e}")),
            _ => panic!("sipp did not exit within {} s", wait.as_secs()),
        };
    let mut report = format!(
        "sipp exit {:?}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    if let Ok(entries) = std::fs::read_dir(dir.path()) {
        for e in entries.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let tail: String = text
                .chars()
                .rev()
                .take(6000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            report.push_str(&format!(
                "\n--- {} (tail) ---\n{tail}",
                e.file_name().to_string_lossy()
            ));
        }
    }
    SippRun {
        code: out.status.code(),
        report,
    }
}

pub(crate) fn call_id() -> String {
    format!(
        "sipp-{:012x}@127.0.0.1",
        crate::helpers::random_u64() & 0xffff_ffff_ffff
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_rfc4733_digits_from_pcap_make_an_intake() {
    within(60, async {
        let t = spawn_app().await;
        let cid = call_id();
        let run = run_sipp(t.udp(), "dtmf_rfc4733.xml", false, &cid).await;
        assert_eq!(run.code, Some(0), "{}", run.report);
        let intake = t.intake_for(&cid).await;
        assert_eq!(intake.category, "service", "{intake:?}");
        assert_eq!(intake.priority, Some(4), "{intake:?}");
        assert_eq!(intake.language.as_deref(), Some("en"), "{intake:?}");
        assert_eq!(intake.status, "draft");
        let path = intake.ivr_path.clone().unwrap_or_default();
        assert!(
            path.contains('2') && path.contains('3') && path.contains('4'),
            "ivr_path {path:?}"
        );
        let call = t.ended_call(&cid).await;
        assert!(call.saw_mode("rfc4733"), "{call:?}");
        assert!(
            !call.saw_mode("inband"),
            "telephone-events must not also count as tones: {call:?}"
        );
        assert_eq!(call.caller.as_deref(), Some("+31201234501"), "{call:?}");
        assert_eq!(call.language.as_deref(), Some("en"), "{call:?}");
        assert!(call.answered_at.is_some(), "{call:?}");
        assert_eq!(call.hangup_by.as_deref(), Some("caller"), "{call:?}");
        t.finish().await;
    })
    .await;
}

async fn info_call(tcp: bool) {
    let t = spawn_app().await;
    let cid = call_id();
    let run = run_sipp(
        if tcp { t.tcp() } else { t.udp() },
        "dtmf_info.xml",
        tcp,
        &cid,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.report);
    let intake = t.intake_for(&cid).await;
    assert_eq!(
        (
            intake.category.as_str(),
            intake.priority,
            intake.language.as_deref()
        ),
        ("service", Some(4), Some("nl")),
        "{intake:?}"
    );
    let call = t.ended_call(&cid).await;
    assert_eq!(call.dtmf_mode.as_deref(), Some("info"), "{call:?}");
    assert_eq!(intake.dtmf_mode.as_deref(), Some("info"), "{intake:?}");
    t.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_info_digits_make_an_intake() {
    within(60, info_call(false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_call_over_tcp_makes_an_intake() {
    within(60, info_call(true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_cancel_before_answer_gets_487_and_no_intake() {
    within(60, async {
        let t = spawn_app_with(|c| c.call.answer_delay_ms = 3000).await;
        let cid = call_id();
        let run = run_sipp(t.udp(), "cancel.xml", false, &cid).await;
        assert_eq!(run.code, Some(0), "{}", run.report);
        let call = t.ended_call(&cid).await;
        assert_eq!(call.outcome.as_deref(), Some("cancelled"), "{call:?}");
        assert_eq!(call.answered_at, None, "{call:?}");
        // The call has ended, so its task is done: an intake would already be there.
        assert!(
            t.intakes_of(&call.id).await.is_empty(),
            "a cancelled call must leave no intake"
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_hangup_mid_menu_is_abandoned_ivr_without_intake() {
    within(60, async {
        let t = spawn_app().await;
        let cid = call_id();
        let run = run_sipp(t.udp(), "hangup_mid_menu.xml", false, &cid).await;
        assert_eq!(run.code, Some(0), "{}", run.report);
        let call = t.ended_call(&cid).await;
        assert_eq!(call.outcome.as_deref(), Some("abandoned_ivr"), "{call:?}");
        assert_eq!(call.hangup_by.as_deref(), Some("caller"), "{call:?}");
        assert_eq!(
            call.language.as_deref(),
            Some("en"),
            "the language digit was taken: {call:?}"
        );
        assert!(
            t.intakes_of(&call.id).await.is_empty(),
            "the IVR did not end: no intake"
        );
        t.finish().await;
    })
    .await;
}
