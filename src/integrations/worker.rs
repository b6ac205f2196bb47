//! One delivery worker per target: takes the target's pending outbox rows in `seq` order and
//! records the outcome the retry policy decides (a run of successes in one write).
//! A row waiting for its retry holds back the target's later rows (per-target order, so a
//! ticket's "resolved" never overtakes its creation); a dead row does not. Wakes on a commit
//! that enqueued rows, a retry coming due, a resume, or once a second. An `intake.updated` with a
//! later one for the same intake already waiting is skipped (the later carries its state): an
//! agent's autosaves while typing do not each reach the ticket system.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::retry::{Decision, Outcome, RetryPolicy};
use super::{Target, TicketChanged};
use crate::store::{OutboxRow, Store, StoreError, now_ms};

/// Rows read per look at the outbox.
const BATCH: i64 = 32;
/// The longest sleep without a wake-up (a missed one costs at most this).
const IDLE: Duration = Duration::from_secs(1);
/// The wait after a commit woke the worker before it looks (added to every delivery's lag).
const SETTLE: Duration = Duration::from_millis(20);

/// Runs `target`'s deliveries until `stop`.
pub(super) async fn run(
    target: Arc<Target>,
    store: Store,
    policy: RetryPolicy,
    on_ticket: Option<TicketChanged>,
    stop: CancellationToken,
) {
    loop {
        // Enabled before the look, so a commit during it still wakes this loop.
        let woken = store.outbox_notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let resumed = target.wake.notified();
        tokio::pin!(resumed);
        resumed.as_mut().enable();
        let wait = if target.paused.load(Ordering::Relaxed) {
            Duration::from_secs(3600)
        } else {
            // A stop mid-attempt leaves the row pending: it is sent again after the restart,
            // which at-least-once delivery allows.
            let stepped = tokio::select! {
                r = step(&target, &store, &policy, on_ticket.as_ref()) => r,
                () = stop.cancelled() => break,
            };
            match stepped {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::warn!(target = %target.name, error = %crate::error_chain(&e), "outbox read failed; trying again");
                    IDLE
                }
            }
        };
        if wait.is_zero() {
            continue;
        }
        let committed = tokio::select! {
            () = stop.cancelled() => break,
            () = &mut woken => true,
            () = &mut resumed => false,
            () = tokio::time::sleep(wait.min(IDLE)) => false,
        };
        if committed {
            // Let the moment pass: the commit that woke us is a call's or an agent's, whose
            // screen pop and next writes come first; what queues meanwhile goes in one look.
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(SETTLE) => {}
            }
        }
    }
}

/// Delivers what is due; returns how long to wait before looking again. Successes are
/// recorded together (one write for a run of them) before a failure is, or at the end.
async fn step(
    target: &Target,
    store: &Store,
    policy: &RetryPolicy,
    on_ticket: Option<&TicketChanged>,
) -> Result<Duration, StoreError> {
    let rows = store.outbox_head(&target.name, BATCH).await?;
    let full = rows.len() as i64 == BATCH;
    let mut done: Vec<i64> = Vec::new();
    let wait = deliver_rows(target, store, policy, &rows, &mut done).await;
    store.outbox_delivered(&done, now_ms()).await?;
    // The desks showing these intakes get their ticket's number (or its error) at once.
    if let Some(notify) = on_ticket.filter(|_| target.adapter.keeps_tickets()) {
        let mut seen: Vec<&str> = Vec::new();
        for row in rows
            .iter()
            .filter(|r| r.kind.starts_with("intake.") && done.contains(&r.seq))
        {
            if let Some(id) = row.subject.as_deref().filter(|id| !seen.contains(id)) {
                seen.push(id);
                notify(id.to_owned());
            }
        }
    }
    Ok(match wait? {
        Some(wait) => wait,
        None if full => Duration::ZERO,
        None => IDLE,
    })
}

/// Delivers `rows` in order, pushing the delivered ones onto `done`; `Some(wait)` when a row
/// is not due yet, is to be retried, or the target was paused.
async fn deliver_rows(
    target: &Target,
    store: &Store,
    policy: &RetryPolicy,
    rows: &[OutboxRow],
    done: &mut Vec<i64>,
) -> Result<Option<Duration>, StoreError> {
    for (n, row) in rows.iter().enumerate() {
        if target.paused.load(Ordering::Relaxed) {
            return Ok(Some(IDLE));
        }
        let now = now_ms();
        if row.next_at > now {
            return Ok(Some(Duration::from_millis(
                u64::try_from(row.next_at - now).unwrap_or(0),
            )));
        }
        if superseded(row, &rows[n + 1..]) {
            // A later save of the same intake is waiting: it carries this one's state too.
            done.push(row.seq);
            continue;
        }
        let mut row = row.clone();
        row.attempts += 1;
        let outcome = target.adapter.deliver(&row, store, &target.name).await;
        let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
        let at = now_ms();
        match policy.decide(attempts, &outcome, rand::random::<f64>()) {
            Decision::Done => {
                done.push(row.seq);
                target.stats.delivered(at - row.created_at);
            }
            Decision::RetryAfter(wait) => {
                store.outbox_delivered(&std::mem::take(done), at).await?;
                let (status, error) = failure(&outcome);
                let next = at + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                store.outbox_retry_at(row.seq, next, status, error).await?;
                target.stats.retried(at, error);
                tracing::warn!(target = %target.name, seq = row.seq, kind = %row.kind, attempts, retry_in_ms = wait.as_millis() as u64, error, "delivery failed; will retry");
                return Ok(Some(wait));
            }
            Decision::Dead => {
                store.outbox_delivered(&std::mem::take(done), at).await?;
                let (status, error) = failure(&outcome);
                store.outbox_dead(row.seq, at, status, error).await?;
                target.stats.dead(at, error);
                tracing::error!(target = %target.name, seq = row.seq, kind = %row.kind, attempts, error, "delivery given up (dead letter)");
                if target.adapter.keeps_tickets()
                    && row.kind.starts_with("intake.")
                    && let Some(intake) = &row.subject
                {
                    store
                        .set_external_ticket_error(intake, &target.name, Some(error), at)
                        .await?;
                }
            }
        }
    }
    Ok(None)
}

/// Whether `row` is an `intake.updated` with a later one for the same intake in `later`.
fn superseded(row: &OutboxRow, later: &[OutboxRow]) -> bool {
    row.kind == "intake.updated"
        && later
            .iter()
            .any(|l| l.kind == "intake.updated" && l.subject == row.subject)
}

fn failure(o: &Outcome) -> (Option<u16>, &str) {
    match o {
        Outcome::Retry { status, error, .. } | Outcome::Refused { status, error } => {
            (*status, error.as_str())
        }
        Outcome::Delivered { status } => (*status, ""),
    }
}
