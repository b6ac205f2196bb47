//! REGISTER on top of `Core`: stateless answers from the registrar, binding-change events (no I/O).
//!
//! Every answer to REGISTER is sent statelessly (RFC 3261 §8.2.7): a retransmission is simply
//! handled again (the registrar is idempotent), so a registration storm creates no transaction
//! state at all.

use std::net::SocketAddr;
use std::time::Instant;

use super::core::{Core, CoreEvent, Peer};
use super::message::SipMsg;
use super::stats::inc;

impl Core {
    /// RFC 3261 §10.3: authenticate, update bindings, answer.
    pub(crate) fn on_register(
        &mut self,
        now: Instant,
        peer: &Peer,
        local: SocketAddr,
        msg: &SipMsg,
    ) {
        let reply = self.registrar.handle(now, peer, local, msg);
        match reply.code {
            200 => inc(&self.stats.registrations),
            401 | 403 => inc(&self.stats.auth_failures),
            _ => {}
        }
        self.reply_stateless(peer, msg, reply.code, &reply.reason, reply.extra);
        self.registration_events();
    }

    /// Turns the registrar's changed AORs into events with the AOR's newest binding.
    pub(crate) fn registration_events(&mut self) {
        let mut last: Option<String> = None;
        while let Some(aor) = self.registrar.poll_changed() {
            if last.as_deref() == Some(aor.as_str()) {
                continue;
            }
            let binding = self.registrar.lookup(&aor).map(|b| b.public());
            self.events.push_back(CoreEvent::Registration {
                extension: aor.clone(),
                binding,
            });
            last = Some(aor);
        }
    }
}
