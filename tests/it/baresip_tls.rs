//! baresip over SIP TLS (issue 11 item 2): as an agent phone it registers over TLS (agents held
//! to TLS), is rung down the connection it registered on and answers, and audio crosses both
//! ways (tones checked by content); as a caller it dials over TLS, walks the IVR with RFC 4733
//! digits, and its intake and a `tls` call record are stored.
//!
//! baresip, the server and the test's peers share a network namespace (`baresip_peer`).

use std::time::Duration;

use sqlx::Row;

use crate::agent_phone::{decode_g711, tone, tone_share};
use crate::baresip_peer::{
    VethNs, baresip, baresip_config, best_second, dump_heard, tls_app, write_wav,
};
use crate::helpers::{tool, wait_for, within};
use crate::scenario::unclassified_caller;

#[tokio::test]
async fn baresip_agent_phone_over_tls_answers_and_audio_crosses_both_ways() {
    let ns = VethNs::new();
    ns.enter();
    within(120, async {
        tool("baresip");
        let dir = tempfile::tempdir().unwrap();
        let (t, ca) = tls_app(dir.path(), |_| {}).await;
        let tls = t.app.sip_tls_addr().expect("SIP over TLS");
        let conf = dir.path().join("baresip");
        std::fs::create_dir_all(&conf).unwrap();
        let source = dir.path().join("440.wav");
        write_wav(&source, &tone(440.0, 60.0));
        let account =
            format!("<sip:2001@{tls};transport=tls>;auth_pass=2001-sip;answermode=auto;regint=600");
        baresip_config(&conf, &ca, &source, &account, false);
        let _phone = baresip(&conf);

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
        let got = wait_for(Duration::from_secs(10), || async { dump_heard(&conf, 3) })
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
        let (t, ca) = tls_app(dir.path(), |_| {}).await;
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
            false,
        );
        let mut caller = baresip(&conf);
        tokio::time::sleep(Duration::from_millis(500)).await; // baresip reads stdin once ready
        caller.command(&format!("/dial sip:hotline@{tls};transport=tls"));
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
            caller.command(&format!("/sndcode {d}"));
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
        caller.command("/hangup");
        caller.command("/quit");
        t.finish().await;
    })
    .await;
}
