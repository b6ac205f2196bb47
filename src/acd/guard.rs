//! A drop guard for a bridged agent (thin I/O): if the call task ends without telling the queue
//! engine that the agent's call is over (a panic unwinds it, the task is aborted), dropping the
//! guard does, so the agent cannot stay `on_call` forever.

use crate::domain::AgentId;

use super::AcdHandle;

/// Ends `agent`'s call in the queue engine when dropped while armed; the call task disarms it
/// once it has reported the end itself.
#[derive(Debug)]
pub struct OnCallGuard {
    armed: Option<(AcdHandle, AgentId)>,
}

impl OnCallGuard {
    /// Armed for `agent`, who is on a call.
    pub fn new(acd: AcdHandle, agent: AgentId) -> Self {
        Self {
            armed: Some((acd, agent)),
        }
    }

    /// The call's end has been reported: dropping does nothing from now on.
    pub fn disarm(&mut self) {
        self.armed = None;
    }
}

impl Drop for OnCallGuard {
    fn drop(&mut self) {
        let Some((acd, agent)) = self.armed.take() else {
            return;
        };
        // Drop cannot await: the report goes out on a task of its own.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                tracing::warn!(%agent, "agent leg dropped while bridged: ending the agent's call");
                rt.spawn(async move {
                    if let Err(e) = acd.call_ended(agent.clone()).await {
                        tracing::warn!(error = %e, %agent, "cannot end the agent's call in the queue engine");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(%agent, "agent leg dropped while bridged outside a runtime: the agent stays on_call");
            }
        }
    }
}
