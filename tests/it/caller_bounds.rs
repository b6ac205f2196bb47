//! Issue 11: what an unauthenticated caller can make us store is bounded. One open callback per
//! number (a second request is confirmed but not stored); voice messages capped in length
//! (`[call] max_voice_message_secs`) and per number per day (`max_voice_messages_per_day`: past
//! it, 2 answers "invalid" and the caller stays in the queue).

use std::time::Duration;

use sqlx::Row;

use crate::agent_phone::{decode_g711, tone};
use crate::helpers::{spawn_queue_app, within};
use crate::rtp::{best_alignment, read_wav};
use crate::scenario::{
    bye_from_server, caller_asks_for_callback, press, registered_phone, unclassified_caller,
};

const SECS: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_has_one_open_callback() {
    within(90, async {
        let t = spawn_queue_app(|_| {}).await;
        let _phone = registered_phone(&t, "2001").await;
        t.not_ready("anna", "lunch").await;
        let mut calls = Vec::new();
        for _ in 0..2 {
            calls.push(caller_asks_for_callback(&t).await);
        }
        for call in &calls {
            assert_eq!(call.outcome.as_deref(), Some("callback"), "{call:?}");
        }
        let rows = sqlx::query("SELECT call_id, number FROM callbacks")
            .fetch_all(&t.pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "one open callback for the number");
        assert_eq!(
            rows[0].get::<Option<String>, _>("call_id"),
            Some(calls[0].id.clone())
        );
        t.finish().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_messages_are_capped_in_length_and_per_day() {
    within(120, async {
        let t = spawn_queue_app(|c| {
            c.call.max_voice_message_secs = 2;
            c.call.max_voice_messages_per_day = 1;
        })
        .await;
        let _phone = registered_phone(&t, "2001").await;
        t.not_ready("anna", "lunch").await;
        let instructions = read_wav(&crate::helpers::prompts_dir().join("nl/record_message.wav"));
        let beep = read_wav(&crate::helpers::prompts_dir().join("beep.wav"));

        // The first message: 4 s of tone, cut at 2 s by the server.
        let (mut ua, mut rtp, answer) = unclassified_caller(&t).await;
        t.queued(&ua.call_id).await;
        press(&mut ua, '1').await;
        tokio::time::sleep(SECS).await;
        press(&mut ua, '2').await;
        let wait = instructions.len() + beep.len() + 8 * 300;
        rtp.play(answer.rtp, &vec![0i16; wait]).await;
        rtp.play(answer.rtp, &tone(1000.0, 4.0)).await;
        bye_from_server(&mut ua, 15 * SECS, "goodbye after the message").await;
        let first = t.ended_call(&ua.call_id).await;
        assert_eq!(first.outcome.as_deref(), Some("voice_message"), "{first:?}");
        let vm = sqlx::query("SELECT path, duration_ms FROM voice_messages")
            .fetch_all(&t.pool)
            .await
            .unwrap();
        assert_eq!(vm.len(), 1);
        let ms: i64 = vm[0].get("duration_ms");
        assert!((1000..=2200).contains(&ms), "a 2 s cap, got {ms} ms");
        let _ = std::fs::remove_file(vm[0].get::<String, _>("path"));

        // The same number again: 2 is refused with "invalid", and the caller stays queued.
        let (mut ua, mut rtp, answer) = unclassified_caller(&t).await;
        t.queued(&ua.call_id).await;
        press(&mut ua, '1').await;
        tokio::time::sleep(SECS).await;
        while rtp.sock.try_recv_from(&mut [0u8; 2048]).is_ok() {}
        press(&mut ua, '2').await;
        let invalid = read_wav(&crate::helpers::prompts_dir().join("nl/invalid.wav"));
        let heard = decode_g711(
            &rtp.play(answer.rtp, &vec![0i16; invalid.len() + 8000])
                .await,
        );
        let (corr, _) = best_alignment(
            &heard,
            &invalid,
            invalid.len().min(4000),
            heard.len().saturating_sub(invalid.len().min(4000)),
        );
        assert!(
            corr > 0.9,
            "\"invalid\" not heard (best correlation {corr:.3})"
        );
        assert_eq!(ua.bye().await, Some(200), "still in the call");
        let second = t.ended_call(&ua.call_id).await;
        assert_eq!(
            second.outcome.as_deref(),
            Some("abandoned_queue"),
            "{second:?}"
        );
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM voice_messages")
            .fetch_one(&t.pool)
            .await
            .unwrap()
            .get("n");
        assert_eq!(n, 1, "no second message stored");
        t.finish().await;
    })
    .await;
}
