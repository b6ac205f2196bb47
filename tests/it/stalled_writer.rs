//! The call path does not wait on the database (issue 12): with the store's writer stalled by a
//! lock this test holds, callers are still answered, hear the greeting, choose in the IVR and
//! wait in the queue; nothing of theirs is in the database yet, and every record lands once the
//! lock is released.

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::helpers::{TestApp, spawn_queue_app, wait_for, within};
use crate::rtp::decode_pcmu;
use crate::rtp_strict::assert_greeting;
use crate::scenario::{caller, press};

/// Takes the write lock the server's journal needs: SQLite's single writer lock
/// (`BEGIN IMMEDIATE`), or on PostgreSQL an `EXCLUSIVE` lock on `calls` (reads still pass).
async fn stall(conn: &mut AnyConnection, pg: bool) {
    let sql = if pg {
        "BEGIN; LOCK TABLE calls IN EXCLUSIVE MODE"
    } else {
        "BEGIN IMMEDIATE"
    };
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// How many of the SIP Call-IDs have a `calls` row, read without waiting for the journal.
async fn rows_of(t: &TestApp, sip_call_ids: &[&str]) -> i64 {
    let mut n = 0;
    for id in sip_call_ids {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM calls WHERE sip_call_id = $1")
            .bind(id.to_string())
            .fetch_one(&t.pool)
            .await
            .unwrap();
        n += r.get::<i64, _>("n");
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_are_answered_and_greeted_while_the_writer_is_stalled() {
    within(120, async {
        let t = spawn_queue_app(|_| {}).await;
        let pg = !t.db_url().starts_with("sqlite");
        // A connection of our own (not the test pool), held in a write transaction.
        let mut lock = <AnyConnection as sqlx::Connection>::connect(t.db_url())
            .await
            .unwrap();
        stall(&mut lock, pg).await;
        let committed_before = t.metric("firstline_journal_committed_total").await;

        // Two callers while the writer is stalled: each is answered (INVITE → 200 and ACK),
        // hears the greeting from its first word, presses 0 and waits in the queue.
        let mut calls = Vec::new();
        for _ in 0..2 {
            let (mut ua, mut rtp, answer) = caller(&t).await;
            let heard = rtp.play(answer.rtp, &vec![0i16; 8 * 2500]).await;
            assert_greeting(&decode_pcmu(&heard), "caller during the stall");
            press(&mut ua, '0').await;
            calls.push((ua, rtp, answer));
        }
        let in_queue = wait_for(Duration::from_secs(10), || async {
            (t.waiting().await >= 2).then_some(())
        })
        .await;
        assert!(in_queue.is_some(), "both callers should wait in the queue");
        // Callers in the queue hear something (the hold music), not silence.
        for (_, rtp, answer) in &mut calls {
            let heard = rtp.play(answer.rtp, &[0i16; 8 * 400]).await;
            assert!(
                heard.len() >= 10,
                "a queued caller received {} RTP packets in 400 ms",
                heard.len()
            );
        }

        // Nothing of theirs is stored yet: the records wait in the journal.
        let ids: Vec<String> = calls.iter().map(|(ua, _, _)| ua.call_id.clone()).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(
            rows_of(&t, &id_refs).await,
            0,
            "rows written through the lock"
        );
        assert_eq!(
            t.metric("firstline_journal_committed_total").await,
            committed_before,
            "the journal committed while the writer was stalled"
        );
        assert!(
            t.metric("firstline_journal_pending").await > 0,
            "the callers' records should be pending in the journal"
        );

        // The writer resumes: every record lands (call row, queue entry, the IVR's intake).
        sqlx::raw_sql("COMMIT").execute(&mut lock).await.unwrap();
        for id in &ids {
            let row = t.queued(id).await;
            assert_eq!(row.category.as_deref(), Some("unclassified"), "{row:?}");
            let intake = t.intake_for(id).await;
            assert_eq!(intake.category, "unclassified", "{intake:?}");
        }
        for (mut ua, _, _) in calls {
            assert_eq!(ua.bye().await, Some(200));
            let row = t.ended_call(&ua.call_id).await;
            assert_eq!(row.hangup_by.as_deref(), Some("caller"), "{row:?}");
        }
        assert_eq!(t.metric("firstline_journal_failed_total").await, 0);
        t.finish().await;
    })
    .await;
}
