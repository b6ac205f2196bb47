//! The agent phone's SDP: the SDES keys we offer (`[media] srtp_agents`, only to a phone
//! registered over TLS), our offer, the phone's answer read against our keys, and the phone's
//! re-INVITEs (new keys taken, the leg's security fixed). No I/O but the SIP leg's answers.

use std::net::IpAddr;
use std::time::Instant;

use super::super::Session;
use crate::acd::OfferId;
use crate::domain::AgentId;
use crate::media::g711::G711;
use crate::media::sdp::{self, Answer, SdpError, SessionOffer};
use crate::media::srtp::{self, SdesOffer, SdesRule, SrtpPolicy, SrtpSession};
use crate::sip::SipTransport;

/// Our telephone-event payload type in offers to agents' phones.
const EVENT_PT: u8 = 101;

impl Session {
    /// The keys to offer the agent's phone on `extension` and its rule; `None` when SRTP is
    /// mandatory and the phone is not registered over TLS: it is not rung (logged, counted,
    /// the offer failed as unreachable).
    pub(super) async fn phone_keys(
        &self,
        offer: OfferId,
        agent: &AgentId,
        extension: &str,
    ) -> Option<(Option<SdesOffer>, SdesRule)> {
        // Keys go only down a TLS flow (the INVITE goes to the newest binding's flow).
        let tls =
            (self.ctx.sip.binding(extension)).is_some_and(|b| b.transport == SipTransport::Tls);
        let rule = self.ctx.srtp.agent_rule(tls);
        match (rule.policy, rule.keys_allowed) {
            (SrtpPolicy::Off, _) | (SrtpPolicy::Optional, false) => Some((None, rule)),
            (_, true) => Some((Some(SdesOffer::new()), rule)),
            (SrtpPolicy::Mandatory, false) => {
                tracing::warn!(%agent, %extension, "SRTP is mandatory for agents' phones and this one is not registered over TLS: not rung");
                self.ctx.stats.count_srtp_agent_skipped();
                self.offer_unreachable(offer, agent).await;
                None
            }
        }
    }

    pub(super) async fn answer_agent_reinvite(
        &mut self,
        id: crate::sip::ReInviteId,
        offer: Option<&[u8]>,
    ) {
        let Some(a) = self.agent.as_mut() else {
            return;
        };
        let Some(leg) = a.leg.clone() else {
            return;
        };
        let port = self
            .agent_socket
            .as_ref()
            .and_then(|s| s.local_addr().ok())
            .map_or(0, |s| s.port());
        let rule = a.srtp_rule;
        let srtp = &mut a.srtp;
        match offer.map(|o| {
            SessionOffer::parse(o)
                .and_then(|o| sdp::negotiate_sdes(&o, &[G711::Pcmu, G711::Pcma], rule))
                .and_then(|mut answer| {
                    // New keys are taken; SRTP cannot be turned on or off (488).
                    srtp::renegotiate(srtp.as_mut(), answer.srtp.as_mut())?;
                    Ok(answer)
                })
        }) {
            Some(Ok(answer)) => {
                a.strict.on_sdp(Instant::now(), answer.remote);
                self.sdp_version += 1;
                let body = answer.to_sdp(self.local_ip, port, self.sdp_session, self.sdp_version);
                leg.answer_reinvite(id, body.into_bytes()).await;
            }
            Some(Err(_)) | None => leg.reject_reinvite(id, 488, "Not Acceptable Here").await,
        }
    }
}

/// The phone's 2xx SDP: codec, telephone-event, address, and its SRTP against our keys.
pub(super) fn read_phone_answer(
    sdp: Option<&[u8]>,
    sdes: Option<&SdesOffer>,
    policy: SrtpPolicy,
) -> Result<(Answer, Option<SrtpSession>), SdpError> {
    let o = SessionOffer::parse(sdp.ok_or(SdpError::NoAudio)?)?;
    let answer = sdp::read_answer(&o, &[G711::Pcmu, G711::Pcma])?;
    let audio = o.audio().ok_or(SdpError::NoAudio)?;
    Ok((
        answer,
        phone_srtp(sdes, policy, &audio.protocol, &audio.crypto)?,
    ))
}

/// The phone's answer against our keys: its SRTP session, `None` for plain RTP (we offered
/// none, or best effort and it took none). Mandatory SRTP needs its key; an `RTP/SAVP` answer
/// without one is unusable.
fn phone_srtp(
    sdes: Option<&SdesOffer>,
    policy: SrtpPolicy,
    protocol: &str,
    crypto: &[String],
) -> Result<Option<SrtpSession>, sdp::SdpError> {
    let Some(sdes) = sdes else {
        return Ok(None);
    };
    match sdes.accept(crypto)? {
        None if policy == SrtpPolicy::Mandatory || srtp::is_secure_profile(protocol) => {
            Err(srtp::SrtpRefusal::NoUsableCrypto.into())
        }
        session => Ok(session),
    }
}

/// Our offer to an agent's phone: the caller's codec first (no transcoding when the phone takes
/// it), the other law, and telephone-event for DTMF pass-through; with SDES keys, `RTP/SAVP`
/// when SRTP is mandatory (`true`), else `RTP/AVP` with `a=crypto` (best effort).
pub(super) fn offer_sdp(
    (ip, port): (IpAddr, u16),
    session: u64,
    caller_codec: G711,
    sdes: Option<(&SdesOffer, bool)>,
) -> String {
    let (first, second) = match caller_codec {
        G711::Pcmu => (G711::Pcmu, G711::Pcma),
        G711::Pcma => (G711::Pcma, G711::Pcmu),
    };
    let family = if ip.is_ipv6() { "IP6" } else { "IP4" };
    let profile = match sdes {
        Some((_, true)) => "RTP/SAVP",
        _ => "RTP/AVP",
    };
    let crypto = sdes.map(|(k, _)| k.sdp_attributes()).unwrap_or_default();
    format!(
        "v=0\r\no=firstline {session} 1 IN {family} {ip}\r\ns=firstline\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {port} {profile} {p1} {p2} {EVENT_PT}\r\na=rtpmap:{p1} {n1}/8000\r\na=rtpmap:{p2} {n2}/8000\r\n\
         a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=fmtp:{EVENT_PT} 0-15\r\na=ptime:20\r\na=sendrecv\r\n{crypto}",
        p1 = first.payload_type(),
        p2 = second.payload_type(),
        n1 = first.encoding_name(),
        n2 = second.encoding_name(),
    )
}
