//! Ringing an agent's registered phone for a call we place (a callback, click-to-call): the
//! offer (`PhoneOffer`: SRTP per `[media] srtp_agents`), the INVITE, and the wait for the answer
//! until a caller-given stop (the queue withdrawing the offer, a timeout, shutdown). One
//! definition for both; the queue's calls ring phones from their own task (`session/agent.rs`).

use std::future::Future;
use std::net::SocketAddr;

use super::CallContext;
use super::dialout::{AgentPhone, media_ip};
use super::phone_offer::PhoneOffer;
use super::rtp_socket::RtpSocket;
use crate::domain::AgentId;
use crate::media::g711::G711;
use crate::media::sdp::Direction;
use crate::sip::{OutEvent, OutgoingInvite};
use crate::store::now_ms;

/// What to ring.
pub(crate) struct PhoneRing {
    /// Whose phone.
    pub(crate) agent: AgentId,
    /// Our From's user part and display name on the phone.
    pub(crate) from_user: String,
    pub(crate) from_display: String,
    /// Extra headers (`X-Firstline-…`).
    pub(crate) call_info: Vec<(String, String)>,
    /// `sendrecv` for a call, `sendonly` for a notice.
    pub(crate) direction: Direction,
}

/// How ringing ended.
pub(crate) enum Rung<T> {
    /// The phone answered with usable SDP.
    Answered(Box<AgentPhone>),
    /// The agent has no registered phone (or it may not be rung: SRTP mandatory over UDP).
    Unreachable,
    /// The phone refused (busy, declined) or failed with this status.
    Failed(u16),
    /// The stop came first; the phone was cancelled.
    Stopped(T),
}

/// Rings `ring.agent`'s phone until it answers, fails, or `stop` resolves.
pub(crate) async fn ring_phone<T>(
    ctx: &CallContext,
    ring: PhoneRing,
    stop: impl Future<Output = T>,
) -> Rung<T> {
    let agent = &ring.agent;
    let Some(extension) = ctx.agent_extension(agent).await else {
        return Rung::Unreachable;
    };
    let Some(phone) = PhoneOffer::for_phone(&ctx.sip, ctx.srtp, &ctx.stats, agent, &extension)
    else {
        return Rung::Unreachable;
    };
    let local_ip = media_ip(ctx);
    let Ok(socket) = RtpSocket::bind(SocketAddr::new(local_ip, 0)) else {
        return Rung::Unreachable;
    };
    let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let sdp = phone.sdp(
        (local_ip, port),
        rand::random::<u32>().into(),
        G711::Pcmu,
        ring.direction,
    );
    let invite = OutgoingInvite {
        extension,
        trunk: None,
        from_user: ring.from_user,
        from_display: ring.from_display,
        sdp: sdp.into_bytes(),
        call_info: ring.call_info,
    };
    let Ok(mut call) = ctx.sip.invite(invite).await else {
        return Rung::Unreachable;
    };
    tokio::pin!(stop);
    let answer = loop {
        let event = tokio::select! {
            ev = call.events.recv() => ev,
            t = &mut stop => {
                call.leg.cancel().await;
                return Rung::Stopped(t);
            }
        };
        match event {
            Some(OutEvent::Answered { sdp }) => break sdp,
            Some(OutEvent::Ringing | OutEvent::Info { .. } | OutEvent::ReInvite { .. }) => {}
            Some(OutEvent::Failed { status, .. }) => return Rung::Failed(status),
            _ => return Rung::Failed(500),
        }
    };
    // Read as on a call: a phone that took none of our mandatory keys (or answered unusable
    // SDP) is hung up.
    match phone.read_answer(answer.as_deref()) {
        Ok((answer, srtp)) => {
            if let Some(s) = &srtp {
                ctx.stats.count_srtp_leg(true);
                tracing::info!(suite = s.suite().name(), "agent leg is SRTP");
            }
            Rung::Answered(Box::new(AgentPhone {
                leg: call.leg,
                events: call.events,
                socket,
                answer,
                srtp,
                rule: phone.rule,
                answered_at: now_ms(),
            }))
        }
        Err(e) => {
            tracing::warn!(error = %e, %agent, "agent phone answered with unusable SDP");
            call.leg.hangup().await;
            Rung::Failed(488)
        }
    }
}
