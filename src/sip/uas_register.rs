//! REGISTER on top of `Core`: stateless answers from the registrar, binding-change events, and
//! the rule for which changes the application hears of (no I/O).
//!
//! Every answer to REGISTER is sent statelessly (RFC 3261 §8.2.7): a retransmission is simply
//! handled again (the registrar is idempotent), so a registration storm creates no transaction
//! state at all.

use std::net::SocketAddr;
use std::time::Instant;

use super::api::Binding;
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
        if self.registrar.requires_tls() && !peer.is_tls() {
            // RFC 3261 §26.2.1 leaves the policy to us: agent phones register over TLS only.
            inc(&self.stats.auth_failures);
            let extra = Vec::new();
            self.reply_stateless(peer, msg, 403, "Forbidden (TLS required)", extra);
            return;
        }
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
                agent: self.registrar.agent_of(&aor),
                binding,
            });
            last = Some(aor);
        }
    }
}

/// Whether the application hears of a change from `told` (the binding it last heard of) to
/// `now_binding` at `now`: registered or not, another contact, transport or source, or a
/// refresh that moves the expiry by at least a quarter of the new lifetime. So a phone that
/// refreshes often is told at most four times per lifetime, and the expiry the application
/// knows is never more than a quarter lifetime early (never in the past while registered).
pub(crate) fn worth_telling(
    told: Option<&Binding>,
    now_binding: Option<&Binding>,
    now: Instant,
) -> bool {
    match (told, now_binding) {
        (None, None) => false,
        (Some(_), None) | (None, Some(_)) => true,
        (Some(old), Some(new)) => {
            if old.contact != new.contact
                || old.transport != new.transport
                || old.source != new.source
            {
                return true;
            }
            let lifetime = new.expires_at.saturating_duration_since(now);
            let moved = if new.expires_at >= old.expires_at {
                new.expires_at - old.expires_at
            } else {
                // Shortened (a shorter Expires): the old expiry would be too late.
                return true;
            };
            moved >= lifetime / 4 && !moved.is_zero()
        }
    }
}
