//! Media primitives, all sans-IO: G.711, RTP, strict RTP (which source feeds a leg, when we may
//! send), SDES-SRTP for the SIP legs, DTMF (RFC 4733, SIP INFO, in-band), SDP offer/answer for
//! the SIP leg, and the prompt library (WAVs decoded once at start).

pub mod dtmf;
pub mod g711;
pub mod prompts;
pub mod relay;
pub mod rtp;
pub mod sdp;
pub mod srtp;
pub mod strict;
pub mod tone;

#[cfg(test)]
mod strict_tests;
