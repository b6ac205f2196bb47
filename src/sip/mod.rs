//! SIP layer (RFC 3261 over UDP, TCP and TLS): the only place that knows rsipstack.
//!
//! Sans-IO cores: `message` (parsed view over `rsipstack::rsip`), `validate`, `build`, `framing`,
//! `pike` (per-source INVITE/REGISTER rates),
//! `transaction/` (§17), `dialog` (§12), `core` + `uas` (method behaviour, call legs).
//! I/O: `transport/` (UDP socket, TCP and TLS listeners, connection caps and deadlines) and
//! `endpoint` (the one task that owns all transaction and dialog state). See docs/sip.md and
//! docs/security.md.

mod api;
mod auth;
mod build;
mod core;
mod dialog;
mod digest_client;
mod endpoint;
mod framing;
mod leg;
mod limiter;
mod message;
mod nonce_counts;
mod outgoing;
mod pike;
mod refer;
mod registrar;
mod stats;
mod transaction;
mod transport;
mod trunk_register;
mod uac;
mod uac_request;
mod uas;
mod uas_register;
mod validate;

#[cfg(test)]
mod core_leak_tests;
#[cfg(test)]
mod core_test_support;
#[cfg(test)]
mod core_tests;
#[cfg(test)]
mod endpoint_busy_tests;
#[cfg(test)]
mod endpoint_tests;
#[cfg(test)]
mod endpoint_uac_tests;
#[cfg(test)]
mod peer_tests;
#[cfg(test)]
mod registrar_digest_tests;
#[cfg(test)]
mod registrar_tests;
#[cfg(test)]
mod tls_core_tests;
#[cfg(test)]
mod trunk_register_tests;
#[cfg(test)]
mod uac_tests;
#[cfg(test)]
mod uac_trunk_tests;
#[cfg(test)]
mod uas_register_tests;

pub use api::{
    Binding, CallLeg, DigestChallenge, EndReason, IncomingCall, LegEvent, NameAddr, ReInviteId,
    RegistrationEvent, SipConfig, SipCredential, SipError, SipTransport, TrustedProxy,
};
pub use auth::{Algorithm as DigestAlgorithm, ha1_md5, ha1_sha256};
pub use endpoint::SipEndpoint;
pub use outgoing::{OutEvent, OutLeg, OutgoingCall, OutgoingInvite, TrunkAuth, TrunkRoute};
pub use pike::{Cidr, CidrError, RateLimits};
pub use stats::{SipLive, SipStatsSnapshot};
pub use transport::{ConnCounts, ConnLimits, StreamSettings};
pub use trunk_register::{TrunkRegState, TrunkRegistration};

/// The entry points for wire data (a datagram or framed message into the sans-IO core, the
/// stream framer, the message parser), public only for the fuzz targets (`examples/fuzz`).
#[doc(hidden)]
pub mod wire {
    pub use super::core::{Core, Peer, Transmit};
    pub use super::framing::{Frame, StreamFramer};
    pub use super::message::{Method, ParseError, SipMsg, StartLine, parse, parse_headers_only};
    pub use super::stats::SipStats;
    pub use super::transaction::Timers;
}
