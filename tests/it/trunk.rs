//! Calls to the outside through a SIP trunk played by SIPp (issue 15): a callback dialled
//! automatically (the agent's phone rings first; when the agent answers, the "customer" at the
//! trunk gets an INVITE with the hotline's caller-id, answered after a digest challenge; the
//! agent hears a ringing tone meanwhile, then both hear each other through SIPp's RTP echo),
//! click-to-call from an intake (only its numbers; refused while on a call), and a trunk that
//! answers busy: the dial is recorded, retried after the configured pause, then given up.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sqlx::Row;

use crate::agent_phone::{AgentPhone, PCMU, assert_hears, tone};
use crate::helpers::{TestApp, http_json, open_intake, spawn_queue_app, wait_for, within};
use crate::host::{free_port, free_udp_port_pair, tool};
use crate::scenario::{caller_asks_for_callback, registered_phone};

const SECS: Duration = Duration::from_secs(1);

/// SIPp as the carrier and the customer behind it (a UAS), until it has taken `calls` calls.
struct SippTrunk {
    addr: SocketAddr,
    run: tokio::task::JoinHandle<std::io::Result<std::process::Output>>,
    dir: tempfile::TempDir,
}

impl SippTrunk {
    async fn start(scenario: &str, calls: u32) -> SippTrunk {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let media = free_udp_port_pair();
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sipp")
            .join(scenario);
        let mut cmd = std::process::Command::new(tool("sipp"));
        cmd.current_dir(dir.path())
            .arg("-sf")
            .arg(file)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mp", &media.to_string(), "-rtp_echo"])
            .args([
                "-m",
                &calls.to_string(),
                "-timeout",
                "90s",
                "-timeout_error",
            ])
            .args(["-nostdin", "-trace_err", "-trace_msg"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let run = tokio::task::spawn_blocking(move || cmd.output());
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        // Listening once its port is taken.
        let bound = wait_for(5 * SECS, || async {
            std::net::UdpSocket::bind(addr).is_err().then_some(())
        })
        .await;
        assert!(bound.is_some(), "SIPp did not bind {addr}");
        SippTrunk { addr, run, dir }
    }

    /// Waits for SIPp to end; panics with its report unless every call passed.
    async fn finish(self) {
        let out = tokio::time::timeout(Duration::from_secs(30), self.run)
            .await
            .expect("SIPp trunk still running 30 s after the test")
            .unwrap()
            .expect("cannot run sipp");
        let mut report = String::from_utf8_lossy(&out.stderr).into_owned();
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            report.push_str(&format!("\n--- {} ---\n", e.file_name().to_string_lossy()));
            report.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
        assert_eq!(out.status.code(), Some(0), "SIPp trunk failed:\n{report}");
    }
}

/// The trunk settings of these tests: SIPp's address, our caller-id, digest credentials.
fn with_trunk(c: &mut firstline::config::Config, trunk: SocketAddr, password_file: &str) {
    c.trunk.address = trunk.to_string();
    c.trunk.caller_id = "+31201234500".into();
    c.trunk.caller_name = "IT helpdesk".into();
    c.trunk.username = "hotline".into();
    c.trunk.password_file = password_file.into();
    c.trunk.ring_timeout_secs = 20;
}

/// SIPp playing `scenario` as the trunk for `calls` calls, and the server dialling through it
/// (the [`with_trunk`] settings, then `tweak`); the directory holds the password file.
async fn trunk_app(
    scenario: &str,
    calls: u32,
    tweak: impl FnOnce(&mut firstline::config::Config),
) -> (SippTrunk, TestApp, tempfile::TempDir) {
    let trunk = SippTrunk::start(scenario, calls).await;
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(&dir);
    let t = spawn_queue_app(|c| {
        with_trunk(c, trunk.addr, &pw);
        tweak(c);
    })
    .await;
    (trunk, t, dir)
}

fn password_file(dir: &tempfile::TempDir) -> String {
    let p = dir.path().join("trunk-password");
    std::fs::write(&p, "s3cret\n").unwrap();
    p.display().to_string()
}

/// The agent answers, hears the ringing tone while the customer's phone rings, then talks:
/// what they say comes back from the customer (SIPp echoes it), and the ringing has stopped.
async fn talk_through(phone: &mut AgentPhone, to: SocketAddr) {
    assert!(
        phone.answer(PCMU).await,
        "the server ACKs the agent's answer"
    );
    let ringing = phone.rtp.play(to, 0, &vec![0i16; 4800]).await;
    assert_hears(
        "the agent while the customer rings",
        &ringing,
        (20, 12),
        425.0,
        800.0,
    );
    // SIPp answers 2 s after its 180; then the agent's 800 Hz comes back through the customer.
    let heard = phone.rtp.play(to, 0, &tone(800.0, 4.0)).await;
    assert_hears(
        "the agent talking to the customer",
        &heard,
        (100, 50),
        800.0,
        425.0,
    );
    assert_eq!(phone.bye().await, Some(200), "the agent hangs up");
}

/// The outbound call rows, oldest first: (kind, outcome, sip_status, hangup_by).
async fn outbound_rows(t: &TestApp) -> Vec<sqlx::any::AnyRow> {
    t.app.store().synced().await;
    sqlx::query(
        "SELECT kind, intake_id, callback_id, agent_id, number, dialled, caller_id, outcome, \
         sip_status, hangup_by, agent_answered_at, answered_at, ended_at \
         FROM outbound_calls ORDER BY started_at, id",
    )
    .fetch_all(&t.pool)
    .await
    .unwrap()
}

/// Waits until `n` outbound calls have ended.
async fn ended_outbound(t: &TestApp, n: usize) -> Vec<sqlx::any::AnyRow> {
    let got = wait_for(15 * SECS, || async {
        let rows = outbound_rows(t).await;
        (rows.len() >= n
            && rows
                .iter()
                .all(|r| r.get::<String, _>("outcome") != "in_progress"))
        .then_some(rows)
    })
    .await;
    got.unwrap_or_else(|| panic!("{n} outbound calls did not end"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_is_dialled_out_through_the_trunk_with_our_caller_id_and_both_hear_each_other() {
    within(120, async {
        let (trunk, t, _dir) = trunk_app("trunk_customer.xml", 1, |_| {}).await;
        let mut phone = registered_phone(&t, "2001").await;
        let token = t.not_ready("anna", "lunch").await;
        let call = caller_asks_for_callback(&t).await;
        assert_eq!(call.outcome.as_deref(), Some("callback"), "{call:?}");
        let cb: String = sqlx::query("SELECT id FROM callbacks")
            .fetch_one(&t.pool)
            .await
            .unwrap()
            .get("id");
        // Anna becoming available is offered the callback: her phone rings first.
        let (status, _) = t.set_state(&token, json!({"state": "available"})).await;
        assert_eq!(status, 200);
        let inv = phone.invite(10 * SECS).await.expect("anna's phone rings");
        assert!(inv.display.starts_with("Callback"), "{:?}", inv.display);
        assert!(
            inv.msg.body_str().contains("a=sendrecv"),
            "a two-way call, not a notice: {}",
            inv.msg.body_str()
        );
        phone.ring().await;
        talk_through(&mut phone, inv.offer.rtp).await;
        trunk.finish().await;
        let rows = ended_outbound(&t, 1).await;
        assert_eq!(rows.len(), 1, "one dial");
        let r = &rows[0];
        assert_eq!(r.get::<String, _>("kind"), "callback");
        assert_eq!(r.get::<Option<String>, _>("callback_id"), Some(cb.clone()));
        assert_eq!(r.get::<String, _>("number"), "+31201234567");
        assert_eq!(
            r.get::<Option<String>, _>("dialled").as_deref(),
            Some("+31201234567")
        );
        assert_eq!(
            r.get::<Option<String>, _>("caller_id").as_deref(),
            Some("+31201234500")
        );
        assert_eq!(r.get::<String, _>("outcome"), "answered");
        assert_eq!(
            r.get::<Option<String>, _>("hangup_by").as_deref(),
            Some("agent")
        );
        let (agent_at, answered_at) = (
            r.get::<Option<i64>, _>("agent_answered_at").unwrap(),
            r.get::<Option<i64>, _>("answered_at").unwrap(),
        );
        assert!(
            agent_at <= answered_at,
            "the agent first, then the customer"
        );
        let intake: Option<String> = sqlx::query("SELECT intake_id FROM callbacks")
            .fetch_one(&t.pool)
            .await
            .unwrap()
            .get("intake_id");
        assert_eq!(
            r.get::<Option<String>, _>("intake_id"),
            intake,
            "linked to the intake"
        );
        let done = t.callback_reaches(&cb, "done", 5 * SECS).await;
        assert_eq!(done.as_deref(), Some("done"));
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_to_call_rings_the_agent_then_dials_the_intakes_customer() {
    within(120, async {
        let (trunk, t, _dir) = trunk_app("trunk_customer.xml", 1, |_| {}).await;
        let mut phone = registered_phone(&t, "2001").await;
        let token = t.not_ready("anna", "paperwork").await;
        let intake = open_intake(
            &t,
            &token,
            json!({"channel": "email", "customer_id": "cust-demo-01", "title": "Printer"}),
        )
        .await;
        let path = format!("/api/intakes/{intake}/call");
        // Only the intake's numbers may be dialled.
        let (status, body) = http_json(
            t.app.http_addr(),
            "POST",
            &path,
            Some(&token),
            Some(json!({"number": "+31999999999"})),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        let (status, body) = http_json(
            t.app.http_addr(),
            "POST",
            &path,
            Some(&token),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["number"], "+31201234567", "the customer's main number");
        let oc = body["id"].as_str().unwrap().to_string();
        let inv = phone.invite(10 * SECS).await.expect("anna's phone rings");
        assert_eq!(inv.display, "Call +31201234567");
        assert_eq!(inv.msg.header("x-firstline-outbound"), Some(oc.as_str()));
        // On a call from the click on: a second click is refused.
        let (status, body) = http_json(
            t.app.http_addr(),
            "POST",
            &path,
            Some(&token),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        phone.ring().await;
        talk_through(&mut phone, inv.offer.rtp).await;
        trunk.finish().await;
        let rows = ended_outbound(&t, 1).await;
        assert_eq!(rows.len(), 1, "the refused clicks dialled nothing");
        let r = &rows[0];
        assert_eq!(r.get::<String, _>("kind"), "click_to_call");
        assert_eq!(
            r.get::<Option<String>, _>("intake_id"),
            Some(intake.clone())
        );
        assert_eq!(r.get::<String, _>("outcome"), "answered");
        let (status, list) = http_json(
            t.app.http_addr(),
            "GET",
            &format!("/api/intakes/{intake}/calls"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(list[0]["id"], oc.as_str());
        assert_eq!(list[0]["outcome"], "answered");
        assert_eq!(list[0]["hangup_by"], "agent");
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_customer_is_recorded_dialled_again_after_the_pause_then_given_up() {
    within(120, async {
        let (trunk, t, _dir) = trunk_app("trunk_busy.xml", 2, |c| {
            c.trunk.callback_attempts = 2;
            c.trunk.callback_retry_secs = 10;
        })
        .await;
        let mut phone = registered_phone(&t, "2001").await;
        let token = t.not_ready("anna", "lunch").await;
        caller_asks_for_callback(&t).await;
        let (status, _) = t.set_state(&token, json!({"state": "available"})).await;
        assert_eq!(status, 200);
        for attempt in 1..=2 {
            let inv = phone
                .invite(25 * SECS)
                .await
                .unwrap_or_else(|| panic!("anna's phone rings for dial {attempt}"));
            assert!(inv.display.starts_with("Callback"), "{:?}", inv.display);
            phone.ring().await;
            assert!(phone.answer(PCMU).await);
            assert!(
                phone.expect_bye(10 * SECS).await,
                "the agent is hung up when the customer is busy (dial {attempt})"
            );
            let rows = ended_outbound(&t, attempt).await;
            let r = &rows[attempt - 1];
            assert_eq!(r.get::<String, _>("outcome"), "busy");
            assert_eq!(r.get::<Option<i64>, _>("sip_status"), Some(486));
            // The callback's row follows the dial's (written after it).
            let cb = wait_for(5 * SECS, || async {
                let cb = sqlx::query("SELECT status, dial_attempts, retry_at FROM callbacks")
                    .fetch_one(&t.pool)
                    .await
                    .ok()?;
                (cb.get::<i64, _>("dial_attempts") == attempt as i64).then_some(cb)
            })
            .await
            .unwrap_or_else(|| panic!("the callback counts dial {attempt}"));
            if attempt == 1 {
                assert_eq!(cb.get::<String, _>("status"), "pending", "tried again");
                let retry_at = cb.get::<Option<i64>, _>("retry_at").unwrap();
                let ended = r.get::<Option<i64>, _>("ended_at").unwrap();
                assert!(
                    (9_000..=11_000).contains(&(retry_at - ended)),
                    "retry after the pause: {} ms",
                    retry_at - ended
                );
            } else {
                assert_eq!(cb.get::<String, _>("status"), "failed", "given up");
            }
        }
        trunk.finish().await;
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_registers_to_the_trunk_answering_its_challenge() {
    within(60, async {
        let (trunk, t, _dir) = trunk_app("trunk_registrar.xml", 1, |c| {
            c.trunk.username = "31201234500".into();
            c.trunk.register = true;
        })
        .await;
        let registered = wait_for(10 * SECS, || async {
            let (_, health) = http_json(t.app.http_addr(), "GET", "/health", None, None).await;
            (health["trunk"]["registration"] == "registered").then_some(health)
        })
        .await;
        assert!(
            registered.is_some(),
            "not registered: {:?}",
            t.app.sip().trunk_registration()
        );
        trunk.finish().await;
        t.finish().await;
    })
    .await;
}
