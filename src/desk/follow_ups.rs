//! The follow-up reminder task: when an open vendor case's follow-up date comes, its reminder
//! goes once to the intake's owner (else whoever opened the case) as a `follow_up` frame. The
//! store answers what is due at a given instant (tested with simulated time in
//! `store/vendor_cases_tests.rs`); this driver only sleeps until the next date (at most 30 s,
//! woken early when a date changes) and sends.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::frames::FrameBody;
use super::hub::DeskHub;
use crate::store::{Store, now_ms};

/// The longest sleep: a date set by another server (or a clock step) is seen within this.
const MAX_SLEEP_MS: i64 = 30_000;
/// Reminders sent per round; a fuller round goes again at once.
const BATCH: i64 = 100;

/// Runs until `stop`: reminds every due follow-up once.
pub async fn run(store: Store, hub: DeskHub, wake: Arc<Notify>, stop: CancellationToken) {
    loop {
        let now = now_ms();
        let mut full = false;
        match store.due_follow_ups(now, BATCH).await {
            Ok(due) => {
                full = i64::try_from(due.len()).unwrap_or(i64::MAX) >= BATCH;
                for d in due {
                    let Some(follow_up_at) = d.case.follow_up_at else {
                        continue;
                    };
                    match store.mark_reminded(&d.case.id, follow_up_at, now).await {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot mark a follow-up reminded");
                            continue;
                        }
                    }
                    let Some(agent) = d.remind else { continue };
                    tracing::info!(case = %d.case.id, agent = %agent, "vendor follow-up due");
                    let frame = FrameBody::FollowUp {
                        case_id: d.case.id,
                        intake_id: d.case.intake_id,
                        ticket_no: d.ticket_no,
                        vendor: d.case.vendor,
                        case_ref: d.case.case_ref,
                        follow_up_at,
                    };
                    if let Err(e) = hub.publish_to(agent, frame).await {
                        tracing::warn!(error = %e, "follow-up reminder not published");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the due follow-ups"),
        }
        let wait = if full {
            0
        } else {
            match store.next_follow_up().await {
                Ok(Some(next)) => (next - now_ms()).clamp(0, MAX_SLEEP_MS),
                Ok(None) => MAX_SLEEP_MS,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the next follow-up");
                    MAX_SLEEP_MS
                }
            }
        };
        // A date that is due but could not be marked (a failing store) is retried after a
        // pause, not in a tight loop.
        let wait = if wait == 0 && !full { 1_000 } else { wait };
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))) => {}
            () = wake.notified() => {}
            () = stop.cancelled() => break,
        }
    }
}
