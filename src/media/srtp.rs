//! SDES-SRTP for the SIP legs (no I/O): RFC 3711 packets keyed by RFC 4568 `a=crypto` lines.
//!
//! - [`SrtpSession`] protects what we send and unprotects (authenticates, decrypts, refuses
//!   replays) what we receive on one leg, with webrtc-rs's `rtc-srtp` (docs/media-security.md,
//!   "Why rtc-srtp"). Errors come per reason, so the driver counts them
//!   (`firstline_rtp_dropped_packets_total{reason="srtp_auth"|"srtp_replay"}`).
//! - `sdes` (re-exported here): the `a=crypto` line, our offer to an agent's phone, our answer to
//!   a caller, and the policy ([`SrtpPolicy`], keys only over TLS).
//!
//! The relay, strict RTP and the DTMF receiver see only plain RTP: the drivers unprotect first
//! (so strict RTP judges authenticated packets only) and protect last.

mod sdes;
#[cfg(test)]
mod tests;

pub use sdes::{
    CryptoLine, MAX_CRYPTO_LINES, MasterKey, SdesAnswer, SdesError, SdesOffer, SdesRule,
    SrtpConfig, SrtpPolicy, SrtpRefusal, SrtpSuite, answer_offer, is_secure_profile, renegotiate,
};

use rtc::shared::error::Error as RtcError;
use rtc_srtp::context::Context;
use rtc_srtp::crypto::providers::RingCrypto;
use rtc_srtp::option::{srtcp_no_replay_protection, srtp_replay_protection};
use sync_wrapper::SyncWrapper;

use super::strict::DropReason;

/// Packets the receive side's replay window remembers (RFC 3711 §3.3.2 asks for at least 64);
/// wide enough for the reordering of a loaded network.
const REPLAY_WINDOW: usize = 128;

/// Why a packet could not be protected or unprotected, or a session not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// Not an RTP packet, or shorter than its header plus the authentication tag.
    #[error("not an SRTP packet (too short or no RTP header)")]
    Malformed,
    /// The authentication tag does not match: forged, damaged, or another key.
    #[error("SRTP authentication failed")]
    Auth,
    /// A packet index already received (or older than the replay window).
    #[error("SRTP replay")]
    Replay,
    /// The remote key's lifetime (RFC 4568 §6.1) is used up: no more packets under it.
    #[error("SRTP key lifetime exhausted")]
    KeyExpired,
    /// The SRTP library refused (key setup, 2^48 packets sent, …).
    #[error("SRTP: {0}")]
    Crypto(String),
}

impl SrtpError {
    /// The `/metrics` reason a dropped incoming packet is counted under.
    pub fn drop_reason(&self) -> DropReason {
        match self {
            SrtpError::Malformed => DropReason::Malformed,
            SrtpError::Replay => DropReason::SrtpReplay,
            SrtpError::Auth | SrtpError::KeyExpired | SrtpError::Crypto(_) => DropReason::SrtpAuth,
        }
    }

    fn from_rtc(e: RtcError) -> SrtpError {
        match e {
            RtcError::RtpFailedToVerifyAuthTag | RtcError::ErrFailedToVerifyAuthTag => {
                SrtpError::Auth
            }
            RtcError::SrtpSsrcDuplicated(..) => SrtpError::Replay,
            RtcError::ErrTooShortRtp
            | RtcError::SrtpTooSmall(..)
            | RtcError::ErrHeaderSizeInsufficient
            | RtcError::ErrHeaderSizeInsufficientForExtension
            | RtcError::ErrBufferTooSmall => SrtpError::Malformed,
            other => SrtpError::Crypto(other.to_string()),
        }
    }
}

/// One leg's SRTP: our key protects what we send, the peer's key unprotects what it sends
/// (RFC 4568 §6.1: each side sends under the key it wrote in its own SDP).
pub struct SrtpSession {
    suite: SrtpSuite,
    local: MasterKey,
    remote: MasterKey,
    /// `rtc-srtp`'s context is `Send` but not `Sync`; the call task owns it exclusively, so the
    /// wrapper (zero cost, `&mut` access only) keeps `&MediaLeg` futures `Send`.
    tx: SyncWrapper<Context>,
    rx: SyncWrapper<Context>,
    /// Packets the remote key may still protect (RFC 4568 §6.1 lifetime); `None`: no limit
    /// beyond SRTP's own 2^48.
    rx_left: Option<u64>,
}

impl std::fmt::Debug for SrtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpSession")
            .field("suite", &self.suite)
            .field("rx_left", &self.rx_left)
            .finish_non_exhaustive()
    }
}

impl SrtpSession {
    /// A session sending under `local` and receiving under `remote` (master key and salt
    /// each); `remote_lifetime` is the peer's `|lifetime` in packets, if it gave one.
    pub fn new(
        suite: SrtpSuite,
        local: &MasterKey,
        remote: &MasterKey,
        remote_lifetime: Option<u64>,
    ) -> Result<SrtpSession, SrtpError> {
        Ok(SrtpSession {
            suite,
            local: local.clone(),
            remote: remote.clone(),
            tx: SyncWrapper::new(context(suite, local, false)?),
            rx: SyncWrapper::new(context(suite, remote, true)?),
            rx_left: remote_lifetime,
        })
    }

    /// The crypto-suite in use.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// The key we send under (kept across a re-INVITE that keeps the suite).
    pub fn local_key(&self) -> &MasterKey {
        &self.local
    }

    /// Protects one RTP packet (RFC 3711 §3.3): `out` is replaced by the SRTP packet (the
    /// payload encrypted, the authentication tag appended).
    pub fn protect(&mut self, rtp: &[u8], out: &mut Vec<u8>) -> Result<(), SrtpError> {
        let sealed = self
            .tx
            .get_mut()
            .encrypt_rtp(rtp)
            .map_err(SrtpError::from_rtc)?;
        out.clear();
        out.extend_from_slice(&sealed);
        Ok(())
    }

    /// Unprotects one SRTP packet in place (RFC 3711 §3.3): authenticates it, refuses a replay,
    /// decrypts it; the plain RTP packet is `packet[..n]` for the returned `n`. On error the
    /// buffer is unchanged and nothing about the stream was learned from the packet.
    pub fn unprotect(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        if self.rx_left == Some(0) {
            return Err(SrtpError::KeyExpired);
        }
        let plain = self
            .rx
            .get_mut()
            .decrypt_rtp(packet)
            .map_err(SrtpError::from_rtc)?;
        let n = plain.len();
        // The plain packet is the SRTP packet less its tag: it always fits.
        let Some(dst) = packet.get_mut(..n) else {
            return Err(SrtpError::Malformed);
        };
        dst.copy_from_slice(&plain);
        if let Some(left) = self.rx_left.as_mut() {
            *left -= 1;
        }
        Ok(n)
    }

    /// A re-INVITE's answer for this leg (RFC 4568 §7.1.4): a new remote key replaces the
    /// receive side; a new suite replaces both sides (our key in `answer` then is fresh).
    pub fn update(&mut self, answer: &SdesAnswer) -> Result<(), SrtpError> {
        if answer.suite != self.suite || answer.local != self.local {
            *self = SrtpSession::new(
                answer.suite,
                &answer.local,
                &answer.remote,
                answer.remote_lifetime,
            )?;
        } else if answer.remote != self.remote {
            self.rx = SyncWrapper::new(context(self.suite, &answer.remote, true)?);
            self.remote = answer.remote.clone();
            self.rx_left = answer.remote_lifetime;
        }
        Ok(())
    }
}

/// One direction's context: replay protection on the receive side only (RFC 3711 §3.3.2).
/// SRTCP is neither sent nor accepted on the SIP legs (we send no RTCP there).
fn context(suite: SrtpSuite, key: &MasterKey, receive: bool) -> Result<Context, SrtpError> {
    let (master, salt) = key.split();
    let replay = receive.then(|| srtp_replay_protection(REPLAY_WINDOW));
    Context::new(
        master,
        salt,
        suite.profile(),
        replay,
        Some(srtcp_no_replay_protection()),
        &RingCrypto,
    )
    .map_err(|e| SrtpError::Crypto(e.to_string()))
}
