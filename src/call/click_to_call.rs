//! Click-to-call: an agent (first or second level) calls the customer of an intake. Their own
//! phone rings first ("Call +31…"); when they answer, the customer is dialled through the trunk
//! with the hotline's caller-id and both are bridged (`call::dialout`). The agent is on a call
//! in the queue engine from the click until the end, so no queue call is offered meanwhile. The
//! dial is an `outbound_calls` row linked to the intake from the click on.

use std::sync::Arc;
use std::time::Duration;

use super::CallContext;
use super::agent_ring::{PhoneRing, Rung, ring_phone};
use super::dialout::{self, Dialled};
use crate::domain::{AgentId, Device, IntakeId};
use crate::media::sdp::Direction;
use crate::store::{NewOutboundCall, OutboundEnd, OutboundKind, OutboundOutcome, now_ms};

/// How long the agent's own phone may ring before the click is given up.
const AGENT_RING: Duration = Duration::from_secs(30);

/// Why a click-to-call was refused (nothing was dialled, nothing changed).
#[derive(Debug, thiserror::Error)]
pub enum ClickToCallError {
    /// No `[trunk]`.
    #[error("no SIP trunk is configured: calls to the outside are not possible")]
    NoTrunk,
    /// The number is not one the trunk can dial.
    #[error("{0:?} is not a phone number that can be dialled")]
    NotDialable(String),
    /// The agent answers in the browser.
    #[error("click-to-call rings your desk phone first; your device is the browser")]
    NotPhone,
    /// The agent's phone is not registered.
    #[error("your phone is not registered, so it cannot be rung")]
    NotRegistered,
    /// The agent is ringing, on a call, or signed out in the queue engine.
    #[error("you cannot place a call now: {0}")]
    Busy(String),
    /// The record could not be written.
    #[error("cannot record the call")]
    Store(#[from] crate::store::StoreError),
}

/// Starts a call from `agent` to `number` about `intake`; returns the outbound call's id once
/// the agent's phone is being rung.
pub async fn start(
    ctx: &Arc<CallContext>,
    agent: &AgentId,
    intake: Option<IntakeId>,
    number: &str,
) -> Result<String, ClickToCallError> {
    let Some(trunk) = ctx.trunk.clone() else {
        return Err(ClickToCallError::NoTrunk);
    };
    if trunk.dial_string(number).is_none() {
        return Err(ClickToCallError::NotDialable(
            number.chars().take(40).collect(),
        ));
    }
    let reach = ctx.agent_reach(agent).await;
    let extension = match reach {
        Some(r) if r.device == Device::Browser => return Err(ClickToCallError::NotPhone),
        Some(r) => r.extension,
        None => None,
    };
    if extension.is_none_or(|e| ctx.sip.binding(&e).is_none()) {
        return Err(ClickToCallError::NotRegistered);
    }
    let before = ctx
        .acd
        .start_outbound(agent.clone())
        .await
        .map_err(|e| ClickToCallError::Busy(e.to_string()))?;
    let record = NewOutboundCall {
        kind: OutboundKind::ClickToCall,
        intake,
        callback: None,
        agent: agent.clone(),
        number: number.to_string(),
        dialled: None,
        caller_id: None,
        started_at: now_ms(),
    };
    let id = match dialout::record_start(ctx, &trunk, record).await {
        Ok(id) => id,
        Err(e) => {
            let _ = ctx.acd.call_ended(agent.clone()).await;
            return Err(e.into());
        }
    };
    let (task_ctx, agent, number, oc) =
        (ctx.clone(), agent.clone(), number.to_string(), id.clone());
    let span = tracing::info_span!("click_to_call", outbound = %id, %agent);
    ctx.tasks.spawn(tracing::Instrument::instrument(
        async move {
            let guard = crate::acd::OnCallGuard::new(task_ctx.acd.clone(), agent.clone());
            let d = run(&task_ctx, &trunk, &agent, &number, &oc).await;
            tracing::info!(outcome = d.outcome.as_str(), "click-to-call over");
            if d.outcome == OutboundOutcome::AgentNoAnswer {
                // The agent never talked: back as they were, no wrap-up.
                let _ = task_ctx.acd.abort_outbound(agent, before).await;
            } else {
                let _ = task_ctx.acd.call_ended(agent).await;
            }
            let mut guard = guard;
            guard.disarm();
        },
        span,
    ));
    Ok(id)
}

async fn run(
    ctx: &CallContext,
    trunk: &crate::trunk::Trunk,
    agent: &AgentId,
    number: &str,
    id: &str,
) -> Dialled {
    let ring = PhoneRing {
        agent: agent.clone(),
        from_user: number.to_string(),
        from_display: format!("Call {number}"),
        call_info: vec![("X-Firstline-Outbound".into(), id.to_string())],
        direction: Direction::SendRecv,
    };
    let stop = async {
        tokio::select! {
            _ = tokio::time::sleep(AGENT_RING) => OutboundOutcome::AgentNoAnswer,
            _ = ctx.shutdown.cancelled() => OutboundOutcome::Interrupted,
        }
    };
    let (outcome, status) = match ring_phone(ctx, ring, stop).await {
        Rung::Answered(phone) => {
            return dialout::dial_and_bridge(ctx, trunk, *phone, Some(id), number).await;
        }
        Rung::Stopped(outcome) => (outcome, None),
        Rung::Failed(status) => (OutboundOutcome::AgentNoAnswer, Some(status)),
        Rung::Unreachable => (OutboundOutcome::AgentNoAnswer, None),
    };
    let end = OutboundEnd {
        agent_answered_at: None,
        answered_at: None,
        ended_at: now_ms(),
        outcome,
        sip_status: status,
        hangup_by: None,
    };
    dialout::record_end(ctx, id, end).await;
    Dialled {
        outcome,
        sip_status: status,
    }
}
