//! Callback requests in the queue: a task per callback keeps the caller's place (their original
//! arrival), is offered to agents like a call and rings the agent's phone ("Callback +31…").
//! With a trunk (`[trunk] callbacks = "auto"`) the agent's answer dials the customer with the
//! hotline's caller-id and bridges them (`call::dialout`); a dial that finds nobody is tried
//! again after `callback_retry_secs`, up to `callback_attempts` dials, then the callback is
//! `failed`. Without one, the agent hears a short notice and dials by hand (`done`, agent in
//! wrap-up). Open callbacks are re-queued at start, each waiting for its `retry_at`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::CallContext;
use super::agent_ring::{PhoneRing, Rung, ring_phone};
use super::dialout::{self, AgentPhone};
use super::rtp_socket::RtpSocket;
use crate::acd::{
    Entry, EntryId, EntryKind, FailReason, OfferId, OnCallGuard, QueueNotice, RemoveReason,
};
use crate::domain::{AgentId, Category, IntakeId, Language, Priority};
use crate::media::g711::G711;
use crate::media::prompts::Playback;
use crate::media::rtp::RtpSender;
use crate::media::sdp::Direction;
use crate::media::srtp::SrtpSession;

use crate::store::{CallbackRow, NewOutboundCall, OutboundKind, OutboundOutcome, now_ms};
use crate::trunk::{CallbackDial, Trunk};

/// What the callback task needs to know.
#[derive(Debug, Clone)]
pub(crate) struct Callback {
    pub(crate) id: String,
    pub(crate) number: String,
    /// The intake of the call it came from.
    pub(crate) intake: Option<IntakeId>,
    pub(crate) category: Category,
    pub(crate) priority: Option<Priority>,
    /// Epoch ms of the caller's original arrival in the queue.
    pub(crate) queued_at: i64,
    /// Dials through the trunk so far.
    pub(crate) dial_attempts: u32,
    /// Not queued before this (epoch ms): the pause after a dial that found nobody.
    pub(crate) retry_at: Option<i64>,
}

impl From<&CallbackRow> for Callback {
    fn from(r: &CallbackRow) -> Self {
        Callback {
            id: r.id.clone(),
            number: r.number.clone(),
            intake: r.intake_id.clone().map(IntakeId::from_string),
            category: r.category,
            priority: r.priority,
            queued_at: r.queued_at,
            dial_attempts: u32::try_from(r.dial_attempts).unwrap_or(u32::MAX),
            retry_at: r.retry_at,
        }
    }
}

/// Starts the task that queues `cb` and hands it to an agent.
pub(crate) fn spawn(ctx: Arc<CallContext>, cb: Callback) {
    let tasks = ctx.tasks.clone();
    tasks.spawn(run(ctx, cb));
}

async fn run(ctx: Arc<CallContext>, mut cb: Callback) {
    loop {
        if let Some(at) = cb.retry_at {
            let wait = Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                // The row keeps `retry_at`: the next start waits for the rest of the pause.
                _ = ctx.shutdown.cancelled() => return,
            }
        }
        match queue_once(&ctx, &cb).await {
            Offered::Retry { retry_at } => {
                cb.dial_attempts += 1;
                cb.retry_at = Some(retry_at);
            }
            _ => return,
        }
    }
}

/// Queues the callback and offers it until an agent took it (or it must be dialled again).
async fn queue_once(ctx: &Arc<CallContext>, cb: &Callback) -> Offered {
    let waited = Duration::from_millis(u64::try_from(now_ms() - cb.queued_at).unwrap_or(0));
    let now = Instant::now();
    let arrived = now.checked_sub(waited).unwrap_or(now);
    let (tx, mut notices) = mpsc::channel(16);
    let entry_id = EntryId::from_string(cb.id.clone());
    let entry = Entry {
        id: entry_id.clone(),
        category: cb.category,
        priority: cb
            .priority
            .or(Priority::new(3))
            .unwrap_or(Priority::QUESTION),
        arrived,
        kind: EntryKind::Callback,
    };
    if let Err(e) = ctx.acd.enqueue(entry, tx).await {
        tracing::error!(error = %e, callback = %cb.id, "cannot queue callback");
        return Offered::Stopped;
    }
    loop {
        let notice = tokio::select! {
            n = notices.recv() => n,
            _ = ctx.shutdown.cancelled() => None,
        };
        let Some(notice) = notice else {
            // Shutdown: the callback stays pending in the database and is re-queued at start.
            let _ = ctx
                .acd
                .remove(entry_id.clone(), RemoveReason::Abandoned)
                .await;
            return Offered::Stopped;
        };
        if let QueueNotice::Offer { offer, agent } = notice {
            match offer_to(ctx, cb, offer, &agent, &mut notices).await {
                Offered::NotTaken => {}
                Offered::Stopped => {
                    let _ = ctx
                        .acd
                        .remove(entry_id.clone(), RemoveReason::Abandoned)
                        .await;
                    return Offered::Stopped;
                }
                done => return done,
            }
        }
    }
}

/// How one offer of a callback ended.
enum Offered {
    /// The agent took it.
    Taken,
    /// Not taken (no answer, refused, withdrawn): wait for the next offer.
    NotTaken,
    /// The server is shutting down: the callback stays pending for the next start.
    Stopped,
    /// The dial found nobody: queue it again from `retry_at` (epoch ms).
    Retry { retry_at: i64 },
}

/// Rings `agent` for the callback, while still listening to the queue (a withdrawn offer stops
/// the ringing) and to shutdown.
async fn offer_to(
    ctx: &Arc<CallContext>,
    cb: &Callback,
    offer: OfferId,
    agent: &AgentId,
    notices: &mut mpsc::Receiver<QueueNotice>,
) -> Offered {
    set_status(ctx, cb, "offered", Some(agent)).await;
    // Dialled for the agent: a two-way call; else the agent only hears a notice.
    let trunk = (ctx.trunk.as_deref()).filter(|t| t.callbacks == CallbackDial::Auto);
    let ring = PhoneRing {
        agent: agent.clone(),
        from_user: cb.number.clone(),
        from_display: format!("Callback {} {}", cb.number, cb.category),
        call_info: vec![("X-Firstline-Callback".into(), cb.id.clone())],
        direction: match trunk {
            Some(_) => Direction::SendRecv,
            None => Direction::SendOnly,
        },
    };
    // Until answer, failure, the queue withdrawing the offer (ring timeout), or shutdown.
    let stop = async {
        loop {
            tokio::select! {
                n = notices.recv() => match n {
                    Some(QueueNotice::CancelOffer { offer: o, .. }) if o == offer => {
                        return Offered::NotTaken;
                    }
                    // Nothing else concerns a callback that is ringing.
                    Some(_) => continue,
                    None => return Offered::Stopped,
                },
                _ = ctx.shutdown.cancelled() => return Offered::Stopped,
            }
        }
    };
    let phone = match ring_phone(ctx, ring, stop).await {
        Rung::Answered(phone) => *phone,
        Rung::Stopped(why) => {
            set_status(ctx, cb, "pending", None).await;
            return why;
        }
        failed => {
            let reason = match failed {
                Rung::Failed(486 | 480 | 488 | 600 | 603) => FailReason::Rejected,
                _ => FailReason::Unreachable,
            };
            let _ = ctx.acd.offer_failed(offer, reason).await;
            set_status(ctx, cb, "pending", None).await;
            return Offered::NotTaken;
        }
    };
    if ctx.acd.offer_answered(offer).await.is_err() {
        phone.leg.hangup().await;
        set_status(ctx, cb, "pending", None).await;
        return Offered::NotTaken;
    }
    // Should this task unwind from here on, the guard still ends the agent's call.
    let mut on_call = OnCallGuard::new(ctx.acd.clone(), agent.clone());
    set_status(ctx, cb, "connected", Some(agent)).await;
    tracing::info!(callback = %cb.id, %agent, "callback handed to agent");
    if let Some(trunk) = trunk {
        let taken = dial(ctx, trunk, cb, agent, phone).await;
        let _ = ctx.acd.call_ended(agent.clone()).await;
        on_call.disarm();
        return taken;
    }
    let mut phone = phone;
    if let Some(to) = phone.answer.remote {
        let format = (phone.answer.codec, phone.answer.payload_type);
        play_notice(ctx, &phone.socket, to, format, phone.srtp.as_mut()).await;
    }
    phone.leg.hangup().await;
    let _ = ctx.acd.call_ended(agent.clone()).await;
    on_call.disarm();
    set_status(ctx, cb, "done", Some(agent)).await;
    Offered::Taken
}

/// Dials the customer for the agent who answered the callback, and decides what comes next: done
/// when they talked; dialled again later (or given up) when nobody answered; offered again at
/// once when the agent left before the customer answered.
async fn dial(
    ctx: &CallContext,
    trunk: &Trunk,
    cb: &Callback,
    agent: &AgentId,
    phone: AgentPhone,
) -> Offered {
    let record = NewOutboundCall {
        kind: OutboundKind::Callback,
        intake: cb.intake.clone(),
        callback: Some(cb.id.clone()),
        agent: agent.clone(),
        number: cb.number.clone(),
        dialled: None,
        caller_id: None,
        started_at: now_ms(),
    };
    let id = match dialout::record_start(ctx, trunk, record).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(error = %e, callback = %cb.id, "cannot record the callback's dial");
            None
        }
    };
    let dialled = dialout::dial_and_bridge(ctx, trunk, phone, id.as_deref(), &cb.number).await;
    match dialled.outcome {
        OutboundOutcome::Answered => {
            set_status(ctx, cb, "done", Some(agent)).await;
            Offered::Taken
        }
        OutboundOutcome::Interrupted => {
            set_status(ctx, cb, "pending", None).await;
            Offered::Stopped
        }
        OutboundOutcome::AgentLeft | OutboundOutcome::AgentNoAnswer => {
            set_status(ctx, cb, "pending", None).await;
            Offered::NotTaken
        }
        _ if cb.dial_attempts + 1 >= trunk.callback_attempts => {
            tracing::info!(callback = %cb.id, attempts = cb.dial_attempts + 1, "callback given up");
            if let Err(e) = ctx.store.give_up_callback(&cb.id, now_ms()).await {
                tracing::warn!(error = %e, callback = %cb.id, "cannot record callback given up");
            }
            Offered::Taken
        }
        _ => {
            let retry_at =
                now_ms() + i64::try_from(trunk.callback_retry.as_millis()).unwrap_or(i64::MAX / 2);
            tracing::info!(callback = %cb.id, retry_at, "callback dial found nobody: tried again later");
            if let Err(e) = ctx.store.retry_callback_at(&cb.id, retry_at).await {
                tracing::warn!(error = %e, callback = %cb.id, "cannot record callback retry");
            }
            Offered::Retry { retry_at }
        }
    }
}

/// Moves the callback to `status` in the database; a failure is logged (the queue engine, not
/// the row, decides who gets the callback next).
async fn set_status(
    ctx: &CallContext,
    cb: &Callback,
    status: &'static str,
    agent: Option<&AgentId>,
) {
    if let Err(e) = ctx
        .store
        .set_callback_status(&cb.id, status, agent, now_ms())
        .await
    {
        tracing::warn!(error = %e, callback = %cb.id, status, "cannot record callback status");
    }
}

/// Plays the "callback request" notice to the agent's phone, paced at 20 ms; protected when the
/// phone's answer took our SDES keys.
async fn play_notice(
    ctx: &CallContext,
    socket: &RtpSocket,
    to: SocketAddr,
    (codec, pt): (G711, u8),
    mut srtp: Option<&mut SrtpSession>,
) {
    let Some(prompt) = ctx.prompts.get(Language::En, "callback_agent") else {
        return;
    };
    let mut playback = Playback::once(prompt);
    let start = Instant::now();
    let mut sender = RtpSender::new(rand::random(), pt, rand::random(), rand::random(), start);
    let (mut out, mut sealed) = (Vec::with_capacity(200), Vec::with_capacity(200));
    loop {
        tokio::time::sleep_until(tokio::time::Instant::from_std(sender.poll_timeout())).await;
        for _ in 0..sender.due(Instant::now()) {
            let Some(frame) = playback.next_frame(codec) else {
                return;
            };
            out.clear();
            sender.build(frame, false, &mut out);
            if let Some(wire) = super::media::protect(srtp.as_deref_mut(), &out, &mut sealed) {
                let _ = socket.try_send_to(wire, to);
            }
        }
    }
}
