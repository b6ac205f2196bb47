//! Callers who wait in the queue (issue 3) while anna is logged in but not ready, or nobody
//! serves: a callback request and a voice message, each stored and linked to the call and its
//! intake; the position and wait announcements; the waiting options offered at once.

use std::time::Duration;

use serde_json::json;
use sqlx::Row;

use crate::agent_phone::{PCMU, decode_g711, tone, tone_share};
use crate::helpers::{TestApp, prompts_dir, spawn_queue_app, within};
use crate::rtp::{best_alignment, read_wav};
use crate::scenario::{bye_from_server, press, registered_phone, unclassified_caller};

const SECS: Duration = Duration::from_secs(1);

/// The id of the intake written for the call `call_id`.
async fn intake_id(t: &TestApp, call_id: &str) -> String {
    sqlx::query("SELECT id FROM intakes WHERE call_id = $1")
        .bind(call_id.to_string())
        .fetch_one(&t.pool)
        .await
        .unwrap()
        .get("id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_request_is_stored_and_linked() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let mut phone = registered_phone(&t, "2001").await;
        let token = t.not_ready("anna", "lunch").await;
        let (mut ua, _rtp, _) = unclassified_caller(&t).await;
        let queued = t.queued(&ua.call_id).await;
        // 1 opens the waiting options, 1 again asks for a callback.
        press(&mut ua, '1').await;
        tokio::time::sleep(SECS).await;
        press(&mut ua, '1').await;
        bye_from_server(&mut ua, 20 * SECS, "goodbye after callback").await;
        let call = t.ended_call(&ua.call_id).await;
        assert_eq!(call.outcome.as_deref(), Some("callback"), "{call:?}");
        assert_eq!(call.hangup_by.as_deref(), Some("server"), "{call:?}");
        let intake = intake_id(&t, &call.id).await;
        let cb = sqlx::query(
            "SELECT id, call_id, intake_id, number, category, queued_at FROM callbacks",
        )
        .fetch_all(&t.pool)
        .await
        .unwrap();
        assert_eq!(cb.len(), 1, "one callback row");
        let cb = &cb[0];
        assert_eq!(
            cb.get::<Option<String>, _>("call_id"),
            Some(call.id.clone())
        );
        assert_eq!(cb.get::<Option<String>, _>("intake_id"), Some(intake));
        assert_eq!(cb.get::<String, _>("number"), "+31201234567");
        assert_eq!(cb.get::<String, _>("category"), "unclassified");
        assert_eq!(
            cb.get::<i64, _>("queued_at"),
            queued.queued_at.unwrap(),
            "original place"
        );
        let cb_id: String = cb.get("id");
        // Anna becoming available is offered the callback.
        let (status, _) = t.set_state(&token, json!({"state": "available"})).await;
        assert_eq!(status, 200);
        let inv = phone
            .invite(10 * SECS)
            .await
            .expect("callback offered to anna");
        assert!(
            inv.display.starts_with("Callback"),
            "display {:?}",
            inv.display
        );
        assert_eq!(inv.msg.header("x-firstline-callback"), Some(cb_id.as_str()));
        phone.ring().await;
        assert!(phone.answer(PCMU).await);
        assert!(
            phone.expect_bye(20 * SECS).await,
            "the notice ends with BYE"
        );
        let done = t.callback_reaches(&cb_id, "done", 5 * SECS).await;
        assert_eq!(done.as_deref(), Some("done"));
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_message_is_recorded_and_linked() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        // A registered phone: an agent whose phone is not registered serves nobody (issue 10).
        let _phone = registered_phone(&t, "2001").await;
        t.not_ready("anna", "lunch").await;
        let (mut ua, mut rtp, answer) = unclassified_caller(&t).await;
        t.queued(&ua.call_id).await;
        press(&mut ua, '1').await;
        tokio::time::sleep(SECS).await;
        while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
        press(&mut ua, '2').await;
        // "Record after the tone" and the beep, then 300 ms of margin.
        let instructions = read_wav(&prompts_dir().join("nl/record_message.wav")).len();
        let beep = read_wav(&prompts_dir().join("beep.wav"));
        let wait_samples = instructions + beep.len() + 8 * 300;
        let heard = decode_g711(&rtp.play(answer.rtp, &vec![0i16; wait_samples]).await);
        let (corr, _) = best_alignment(
            &heard,
            &beep,
            beep.len(),
            heard.len().saturating_sub(beep.len()),
        );
        assert!(corr > 0.9, "no beep heard (best correlation {corr:.3})");
        rtp.play(answer.rtp, &tone(1000.0, 2.0)).await;
        press(&mut ua, '#').await;
        bye_from_server(&mut ua, 15 * SECS, "goodbye after the message").await;
        let call = t.ended_call(&ua.call_id).await;
        assert_eq!(call.outcome.as_deref(), Some("voice_message"), "{call:?}");
        let intake = intake_id(&t, &call.id).await;
        let vm = sqlx::query("SELECT call_id, intake_id, path, duration_ms FROM voice_messages")
            .fetch_all(&t.pool)
            .await
            .unwrap();
        assert_eq!(vm.len(), 1, "one voice message");
        let vm = &vm[0];
        assert_eq!(
            vm.get::<Option<String>, _>("call_id"),
            Some(call.id.clone())
        );
        assert_eq!(vm.get::<Option<String>, _>("intake_id"), Some(intake));
        let path: String = vm.get("path");
        let samples = read_wav(std::path::Path::new(&path));
        let secs = samples.len() as f64 / 8000.0;
        assert!((1.8..3.5).contains(&secs), "message of {secs:.2} s");
        let ms: i64 = vm.get("duration_ms");
        assert!(
            (ms - (secs * 1000.0) as i64).abs() < 100,
            "duration_ms {ms} vs {secs} s"
        );
        let share = tone_share(&samples, 1000.0);
        assert!(
            share > 0.5,
            "the 1 kHz tone is in the message: share {share:.3}"
        );
        let _ = std::fs::remove_file(&path);
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_caller_hears_position_and_estimate() {
    within(60, async {
        let t = spawn_queue_app(|c| c.acd.announce_interval_secs = 3).await;
        // A registered phone: an agent whose phone is not registered serves nobody (issue 10).
        let _phone = registered_phone(&t, "2001").await;
        t.not_ready("anna", "lunch").await;
        let (mut ua, mut rtp, answer) = unclassified_caller(&t).await;
        // "Connecting" (6.7 s), then "you are caller number 1, the wait is about …".
        let heard = decode_g711(&rtp.play(answer.rtp, &vec![0i16; 8000 * 12]).await);
        let intro = read_wav(&prompts_dir().join("nl/position_intro.wav"));
        let (corr, at) = best_alignment(&heard, &intro, 2000, heard.len().saturating_sub(2000));
        assert!(corr > 0.9, "position_intro not heard (best {corr:.3})");
        let one = read_wav(&prompts_dir().join("nl/number_1.wav"));
        let after = heard
            .get(at + intro.len().saturating_sub(800)..)
            .unwrap_or(&[]);
        let (corr1, _) = best_alignment(after, &one, one.len().min(3000), 2400);
        assert!(
            corr1 > 0.9,
            "number_1 does not follow position_intro (best {corr1:.3})"
        );
        let wait_intro = read_wav(&prompts_dir().join("nl/wait_intro.wav"));
        let (corr2, _) =
            best_alignment(&heard, &wait_intro, 2000, heard.len().saturating_sub(2000));
        assert!(
            corr2 > 0.9,
            "wait_intro (estimated wait) not heard (best {corr2:.3})"
        );
        assert_eq!(ua.bye().await, Some(200));
        let call = t.ended_call(&ua.call_id).await;
        assert_eq!(call.outcome.as_deref(), Some("abandoned_queue"), "{call:?}");
        let row = t.queue_row(&ua.call_id).await.unwrap();
        assert!(
            row.wait_ms.is_some_and(|w| w > 3000),
            "abandoned wait recorded: {row:?}"
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_serving_offers_the_options_at_once() {
    within(60, async {
        let t = spawn_queue_app(|_| {}).await;
        let (mut ua, mut rtp, answer) = unclassified_caller(&t).await;
        // "Connecting" (6.7 s), then the options prompt without any key pressed.
        let heard = decode_g711(&rtp.play(answer.rtp, &vec![0i16; 8000 * 10]).await);
        let options = read_wav(&prompts_dir().join("nl/waiting_options.wav"));
        let (corr, _) = best_alignment(&heard, &options, 2000, heard.len().saturating_sub(2000));
        assert!(corr > 0.9, "waiting_options not offered (best {corr:.3})");
        // The options are open: a single 1 asks for the callback.
        press(&mut ua, '1').await;
        bye_from_server(&mut ua, 15 * SECS, "goodbye after callback").await;
        let call = t.ended_call(&ua.call_id).await;
        assert_eq!(call.outcome.as_deref(), Some("callback"), "{call:?}");
        t.finish().await;
    })
    .await;
}
