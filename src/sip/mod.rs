//! SIP layer (RFC 3261 over UDP and TCP): the only place that knows rsipstack.
//!
//! Sans-IO cores: `message` (parsed view over `rsipstack::rsip`), `validate`, `build`, `framing`,
//! `transaction/` (§17), `dialog` (§12), `core` + `uas` (method behaviour, call legs).
//! I/O: `transport/` (UDP socket, TCP listener and connections) and `endpoint` (the one task that
//! owns all transaction and dialog state). See docs/sip.md.

mod api;
mod build;
mod core;
mod dialog;
mod endpoint;
mod framing;
mod leg;
mod message;
mod stats;
mod transaction;
mod transport;
mod uas;
mod validate;

#[cfg(test)]
mod core_tests;
#[cfg(test)]
mod endpoint_tests;

pub use api::{
    CallLeg, EndReason, IncomingCall, LegEvent, NameAddr, ReInviteId, SipConfig, SipError,
    SipTransport,
};
pub use endpoint::SipEndpoint;
pub use stats::SipStatsSnapshot;
