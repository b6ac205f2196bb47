//! Callback requests in the queue: a task per callback keeps the caller's place (their original
//! arrival), is offered to agents like a call, rings the agent's phone ("Callback +31…"), plays
//! the agent a short notice and hands the callback to them (`callbacks.status = done`, agent in
//! wrap-up to call the customer back). Open callbacks are re-queued at start.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::CallContext;
use super::phone_offer::PhoneOffer;
use crate::acd::{
    Entry, EntryId, EntryKind, FailReason, OfferId, OnCallGuard, QueueNotice, RemoveReason,
};
use crate::domain::{AgentId, Category, Language, Priority};
use crate::media::g711::G711;
use crate::media::prompts::Playback;
use crate::media::rtp::RtpSender;
use crate::media::sdp::Direction;
use crate::media::srtp::SrtpSession;
use crate::sip::{OutEvent, OutgoingInvite};
use crate::store::{CallbackRow, now_ms};

/// What the callback task needs to know.
#[derive(Debug, Clone)]
pub(crate) struct Callback {
    pub(crate) id: String,
    pub(crate) number: String,
    pub(crate) category: Category,
    pub(crate) priority: Option<Priority>,
    /// Epoch ms of the caller's original arrival in the queue.
    pub(crate) queued_at: i64,
}

impl From<&CallbackRow> for Callback {
    fn from(r: &CallbackRow) -> Self {
        Callback {
            id: r.id.clone(),
            number: r.number.clone(),
            category: r.category,
            priority: r.priority,
            queued_at: r.queued_at,
        }
    }
}

/// Starts the task that queues `cb` and hands it to an agent.
pub(crate) fn spawn(ctx: Arc<CallContext>, cb: Callback) {
    let tasks = ctx.tasks.clone();
    tasks.spawn(run(ctx, cb));
}

async fn run(ctx: Arc<CallContext>, cb: Callback) {
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
        return;
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
            return;
        };
        if let QueueNotice::Offer { offer, agent } = notice {
            match offer_to(&ctx, &cb, offer, &agent, &mut notices).await {
                Offered::Taken => return,
                Offered::NotTaken => {}
                Offered::Stopped => {
                    let _ = ctx
                        .acd
                        .remove(entry_id.clone(), RemoveReason::Abandoned)
                        .await;
                    return;
                }
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
    let fail = |reason| async move {
        let _ = ctx.acd.offer_failed(offer, reason).await;
        set_status(ctx, cb, "pending", None).await;
        Offered::NotTaken
    };
    let Some(extension) = ctx.agent_extension(agent).await else {
        return fail(FailReason::Unreachable).await;
    };
    // The same offer a call makes the phone (SRTP per `[media] srtp_agents`), but send-only:
    // the agent only hears a notice.
    let Some(phone) = PhoneOffer::for_phone(&ctx.sip, ctx.srtp, &ctx.stats, agent, &extension)
    else {
        return fail(FailReason::Unreachable).await;
    };
    let ip = IpAddr::from([127, 0, 0, 1]);
    let local_ip = ctx.sip.udp_addr().ip();
    let local_ip = if local_ip.is_unspecified() {
        ip
    } else {
        local_ip
    };
    let Ok(socket) = UdpSocket::bind(SocketAddr::new(local_ip, 0)).await else {
        return fail(FailReason::Unreachable).await;
    };
    let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let sdp = phone.sdp(
        (local_ip, port),
        rand::random::<u32>().into(),
        G711::Pcmu,
        Direction::SendOnly,
    );
    let invite = OutgoingInvite {
        extension,
        trunk: None,
        from_user: cb.number.clone(),
        from_display: format!("Callback {} {}", cb.number, cb.category),
        sdp: sdp.into_bytes(),
        call_info: vec![("X-Firstline-Callback".into(), cb.id.clone())],
    };
    let Ok(mut call) = ctx.sip.invite(invite).await else {
        return fail(FailReason::Unreachable).await;
    };
    // Ring until answer, failure, the queue withdrawing the offer (ring timeout), or shutdown.
    let answer = loop {
        let event = tokio::select! {
            ev = call.events.recv() => ev,
            n = notices.recv() => match n {
                Some(QueueNotice::CancelOffer { offer: o, .. }) if o == offer => {
                    call.leg.cancel().await;
                    set_status(ctx, cb, "pending", None).await;
                    return Offered::NotTaken;
                }
                // Nothing else concerns a callback that is ringing (announcements are not sent).
                Some(_) => continue,
                None => {
                    call.leg.cancel().await;
                    set_status(ctx, cb, "pending", None).await;
                    return Offered::Stopped;
                }
            },
            _ = ctx.shutdown.cancelled() => {
                call.leg.cancel().await;
                set_status(ctx, cb, "pending", None).await;
                return Offered::Stopped;
            }
        };
        match event {
            Some(OutEvent::Answered { sdp }) => break sdp,
            Some(OutEvent::Ringing | OutEvent::Info { .. } | OutEvent::ReInvite { .. }) => {}
            Some(OutEvent::Failed { status, .. }) => {
                let reason = if matches!(status, 486 | 480 | 600 | 603) {
                    FailReason::Rejected
                } else {
                    FailReason::Unreachable
                };
                return fail(reason).await;
            }
            _ => return fail(FailReason::Unreachable).await,
        }
    };
    // The answer is read as on a call: a phone that took none of our mandatory keys (or answered
    // unusable SDP) is hung up and the offer refused.
    let (remote, mut srtp) = match phone.read_answer(answer.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, callback = %cb.id, "agent phone answered the callback with unusable SDP");
            call.leg.hangup().await;
            return fail(FailReason::Rejected).await;
        }
    };
    if ctx.acd.offer_answered(offer).await.is_err() {
        call.leg.hangup().await;
        set_status(ctx, cb, "pending", None).await;
        return Offered::NotTaken;
    }
    // Should this task unwind from here on, the guard still ends the agent's call.
    let mut on_call = OnCallGuard::new(ctx.acd.clone(), agent.clone());
    set_status(ctx, cb, "connected", Some(agent)).await;
    tracing::info!(callback = %cb.id, %agent, "callback handed to agent");
    if let Some(s) = &srtp {
        ctx.stats.count_srtp_leg(true);
        tracing::info!(suite = s.suite().name(), "callback notice is SRTP");
    }
    if let Some(to) = remote.remote {
        let format = (remote.codec, remote.payload_type);
        play_notice(ctx, &socket, to, format, srtp.as_mut()).await;
    }
    call.leg.hangup().await;
    let _ = ctx.acd.call_ended(agent.clone()).await;
    on_call.disarm();
    set_status(ctx, cb, "done", Some(agent)).await;
    Offered::Taken
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
    socket: &UdpSocket,
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
