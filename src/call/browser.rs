//! The directory of calls whose agent leg is a browser: how the HTTP handlers reach the call task
//! that owns such a call (answer with an SDP offer, reconnect, hang up, hold, mute, DTMF).
//!
//! The call task registers when it offers the call to a browser agent and the registration is
//! removed when its guard drops (however the call ends). The map lock is never held across an
//! `.await`: lookups clone the command sender and release it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::domain::{AgentId, CallId};

/// A request from the agent's desk to the call task.
#[derive(Debug)]
pub enum BrowserCommand {
    /// The browser's SDP offer: answers the ringing call, or reconnects a connected one.
    Offer {
        sdp: String,
        reply: oneshot::Sender<Result<String, BrowserCallError>>,
    },
    /// The agent hung up.
    Hangup {
        reply: oneshot::Sender<Result<(), BrowserCallError>>,
    },
    /// Hold on or off (the caller hears hold music while on).
    Hold {
        on: bool,
        reply: oneshot::Sender<Result<(), BrowserCallError>>,
    },
    /// Mute on or off (the agent's audio is not relayed while on).
    Mute {
        on: bool,
        reply: oneshot::Sender<Result<(), BrowserCallError>>,
    },
    /// Digits to send to the caller.
    Dtmf {
        digits: String,
        reply: oneshot::Sender<Result<(), BrowserCallError>>,
    },
    /// Hand the call over to another agent (blind transfer, `call::session::transfer`).
    Transfer {
        to: AgentId,
        reason: String,
        reply: oneshot::Sender<Result<(), BrowserCallError>>,
    },
    /// Hand the call to a first-level queue (blind).
    TransferToQueue {
        category: crate::domain::Category,
        reason: String,
        reply: oneshot::Sender<Result<(), BrowserCallError>>,
    },
    /// Consult a colleague first (attended transfer): the caller on hold, the agents talk.
    Consult {
        to: AgentId,
        reason: String,
        reply: oneshot::Sender<Result<(), BrowserCallError>>,
    },
    /// Hand the consulted call over to the colleague.
    CompleteTransfer {
        reply: oneshot::Sender<Result<(), BrowserCallError>>,
    },
    /// End the consultation (or stop ringing the colleague): back to the caller.
    CancelTransfer {
        reply: oneshot::Sender<Result<(), BrowserCallError>>,
    },
    /// Where the call is (for a reloaded desk).
    Status {
        reply: oneshot::Sender<BrowserCallStatus>,
    },
}

/// Why the call task refused a request.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BrowserCallError {
    /// The call is not in a state for this request.
    #[error("{0}")]
    Conflict(String),
    /// The request itself is unusable (SDP without G.711, bad digits).
    #[error("{0}")]
    Invalid(String),
    /// The call ended meanwhile.
    #[error("the call has ended")]
    Gone,
}

/// What a desk needs to know about its call.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BrowserCallStatus {
    pub call_id: CallId,
    /// `ringing`, `connected`, `held` or `browser_gone`.
    pub state: &'static str,
    pub device: &'static str,
    pub held: bool,
    pub muted: bool,
}

struct Entry {
    agent: AgentId,
    tx: mpsc::Sender<BrowserCommand>,
    /// A browser leg (else a desk phone's call, registered for the desk's transfer).
    browser: bool,
}

/// All calls with a browser agent leg, by call id. Cheap to clone.
#[derive(Clone, Default)]
pub struct BrowserCalls {
    inner: Arc<Mutex<HashMap<CallId, Entry>>>,
}

impl BrowserCalls {
    /// Registers `call` as offered to `agent`; the returned guard removes it when dropped.
    pub(crate) fn register(
        &self,
        call: CallId,
        agent: AgentId,
    ) -> (Registration, mpsc::Receiver<BrowserCommand>) {
        self.register_as(call, agent, true)
    }

    /// Registers a call bridged to `agent`'s desk phone: the desk reaches it for a transfer
    /// (it is not counted as a browser call, nor found by [`BrowserCalls::call_of`]).
    pub(crate) fn register_phone(
        &self,
        call: CallId,
        agent: AgentId,
    ) -> (Registration, mpsc::Receiver<BrowserCommand>) {
        self.register_as(call, agent, false)
    }

    fn register_as(
        &self,
        call: CallId,
        agent: AgentId,
        browser: bool,
    ) -> (Registration, mpsc::Receiver<BrowserCommand>) {
        let (tx, rx) = mpsc::channel(16);
        self.lock().insert(
            call.clone(),
            Entry {
                agent: agent.clone(),
                tx,
                browser,
            },
        );
        (
            Registration {
                calls: self.clone(),
                call,
                agent,
            },
            rx,
        )
    }

    /// The command channel of `call` if `agent` is its agent: `Err(true)` for another agent's
    /// call, `Err(false)` for an unknown or ended call.
    pub fn sender(
        &self,
        call: &CallId,
        agent: &AgentId,
    ) -> Result<mpsc::Sender<BrowserCommand>, bool> {
        let map = self.lock();
        match map.get(call) {
            Some(e) if &e.agent == agent => Ok(e.tx.clone()),
            Some(_) => Err(true),
            None => Err(false),
        }
    }

    /// The call `agent` has with the browser device, if any.
    pub fn call_of(&self, agent: &AgentId) -> Option<(CallId, mpsc::Sender<BrowserCommand>)> {
        self.lock()
            .iter()
            .find(|(_, e)| e.browser && &e.agent == agent)
            .map(|(c, e)| (c.clone(), e.tx.clone()))
    }

    /// How many calls have a browser leg now.
    pub fn len(&self) -> usize {
        self.lock().values().filter(|e| e.browser).count()
    }

    /// Whether no call has a browser leg.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallId, Entry>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps a call in the directory; removes it when dropped (also if the call task panics).
pub(crate) struct Registration {
    calls: BrowserCalls,
    call: CallId,
    agent: AgentId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Only its own entry: after a transfer the call is registered for the next agent.
        let mut map = self.calls.lock();
        if map.get(&self.call).is_some_and(|e| e.agent == self.agent) {
            map.remove(&self.call);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_offered_agent_reaches_the_call_and_the_guard_removes_it() {
        let calls = BrowserCalls::default();
        let (call, anna, bas) = (
            CallId::from_string("c1"),
            AgentId::from_string("anna"),
            AgentId::from_string("bas"),
        );
        let (guard, _rx) = calls.register(call.clone(), anna.clone());
        assert!(calls.sender(&call, &anna).is_ok());
        assert_eq!(calls.sender(&call, &bas).err(), Some(true));
        assert_eq!(calls.call_of(&anna).map(|(c, _)| c), Some(call.clone()));
        assert!(calls.call_of(&bas).is_none());
        drop(guard);
        assert_eq!(calls.sender(&call, &anna).err(), Some(false));
        assert!(calls.is_empty());
    }
}
