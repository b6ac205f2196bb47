//! Our offer to an agent's phone, one definition for the call's agent leg and a callback's
//! notice: the SDES keys `[media] srtp_agents` gives the phone by the transport it registered
//! over, the offer's SDP, and the phone's answer read against our keys. No I/O.

use std::net::IpAddr;

use crate::domain::AgentId;
use crate::media::g711::G711;
use crate::media::sdp::{self, Answer, Direction, SdpError, SessionOffer};
use crate::media::srtp::{self, SdesOffer, SdesRule, SrtpConfig, SrtpPolicy, SrtpSession};
use crate::sip::{SipEndpoint, SipTransport};

use super::CallStats;

/// Our telephone-event payload type in offers to agents' phones.
const EVENT_PT: u8 = 101;

/// The SRTP side of one offer to an agent's phone: our keys (if any) and what the phone's
/// answer and re-INVITEs may do with them.
#[derive(Debug)]
pub(crate) struct PhoneOffer {
    /// Our SDES keys in the INVITE, if we offer SRTP.
    pub(crate) sdes: Option<SdesOffer>,
    /// The `[media] srtp_agents` policy and whether keys may go to this phone.
    pub(crate) rule: SdesRule,
}

impl PhoneOffer {
    /// The offer for the phone on `extension`; `None` when SRTP is mandatory and the phone is
    /// not registered over TLS: it must not be rung (logged and counted here; the caller fails
    /// the offer as unreachable).
    pub(crate) fn for_phone(
        sip: &SipEndpoint,
        config: SrtpConfig,
        stats: &CallStats,
        agent: &AgentId,
        extension: &str,
    ) -> Option<PhoneOffer> {
        // Keys go only down a TLS flow (the INVITE goes to the newest binding's flow).
        let tls = (sip.binding(extension)).is_some_and(|b| b.transport == SipTransport::Tls);
        let rule = config.agent_rule(tls);
        match (rule.policy, rule.keys_allowed) {
            (SrtpPolicy::Off, _) | (SrtpPolicy::Optional, false) => {
                Some(PhoneOffer { sdes: None, rule })
            }
            (_, true) => Some(PhoneOffer {
                sdes: Some(SdesOffer::new()),
                rule,
            }),
            (SrtpPolicy::Mandatory, false) => {
                tracing::warn!(%agent, %extension, "SRTP is mandatory for agents' phones and this one is not registered over TLS: not rung");
                stats.count_srtp_agent_skipped();
                None
            }
        }
    }

    /// Our offer's SDP: `first` codec first (no transcoding when the phone takes the caller's),
    /// the other law, and telephone-event for DTMF pass-through; with SDES keys, `RTP/SAVP` when
    /// SRTP is mandatory, else `RTP/AVP` with `a=crypto` (best effort). `direction` is
    /// `sendrecv` for a call, `sendonly` for a callback's notice.
    pub(crate) fn sdp(
        &self,
        (ip, port): (IpAddr, u16),
        session: u64,
        first: G711,
        direction: Direction,
    ) -> String {
        let second = match first {
            G711::Pcmu => G711::Pcma,
            G711::Pcma => G711::Pcmu,
        };
        let family = if ip.is_ipv6() { "IP6" } else { "IP4" };
        let profile = match (&self.sdes, self.rule.policy) {
            (Some(_), SrtpPolicy::Mandatory) => "RTP/SAVP",
            _ => "RTP/AVP",
        };
        let crypto = (self.sdes.as_ref())
            .map(SdesOffer::sdp_attributes)
            .unwrap_or_default();
        format!(
            "v=0\r\no=firstline {session} 1 IN {family} {ip}\r\ns=firstline\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
             m=audio {port} {profile} {p1} {p2} {EVENT_PT}\r\na=rtpmap:{p1} {n1}/8000\r\na=rtpmap:{p2} {n2}/8000\r\n\
             a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=fmtp:{EVENT_PT} 0-15\r\na=ptime:20\r\na={dir}\r\n{crypto}",
            p1 = first.payload_type(),
            p2 = second.payload_type(),
            n1 = first.encoding_name(),
            n2 = second.encoding_name(),
            dir = direction.as_str(),
        )
    }

    /// The phone's 2xx SDP: codec, telephone-event, address, and its SRTP against our keys.
    pub(crate) fn read_answer(
        &self,
        sdp: Option<&[u8]>,
    ) -> Result<(Answer, Option<SrtpSession>), SdpError> {
        let o = SessionOffer::parse(sdp.ok_or(SdpError::NoAudio)?)?;
        let answer = sdp::read_answer(&o, &[G711::Pcmu, G711::Pcma])?;
        let audio = o.audio().ok_or(SdpError::NoAudio)?;
        Ok((answer, self.phone_srtp(&audio.protocol, &audio.crypto)?))
    }

    /// The phone's answer against our keys: its SRTP session, `None` for plain RTP (we offered
    /// none, or best effort and it took none). Mandatory SRTP needs its key; an `RTP/SAVP`
    /// answer without one is unusable.
    fn phone_srtp(
        &self,
        protocol: &str,
        crypto: &[String],
    ) -> Result<Option<SrtpSession>, SdpError> {
        let Some(sdes) = &self.sdes else {
            return Ok(None);
        };
        match sdes.accept(crypto)? {
            None if self.rule.policy == SrtpPolicy::Mandatory
                || srtp::is_secure_profile(protocol) =>
            {
                Err(srtp::SrtpRefusal::NoUsableCrypto.into())
            }
            session => Ok(session),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(policy: SrtpPolicy) -> PhoneOffer {
        PhoneOffer {
            sdes: Some(SdesOffer::new()),
            rule: SdesRule {
                policy,
                keys_allowed: true,
            },
        }
    }

    #[test]
    fn mandatory_offer_is_savp_with_keys_and_the_asked_direction() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let sdp = offer(SrtpPolicy::Mandatory).sdp((ip, 4000), 7, G711::Pcma, Direction::SendOnly);
        assert!(sdp.contains("m=audio 4000 RTP/SAVP 8 0 101\r\n"), "{sdp}");
        assert!(
            sdp.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
            "{sdp}"
        );
        assert!(
            sdp.contains("a=sendonly\r\n") && !sdp.contains("sendrecv"),
            "{sdp}"
        );
        let plain = PhoneOffer {
            sdes: None,
            rule: SdesRule::PLAIN,
        };
        let sdp = plain.sdp((ip, 4000), 7, G711::Pcmu, Direction::SendRecv);
        assert!(sdp.contains("m=audio 4000 RTP/AVP 0 8 101\r\n"), "{sdp}");
        assert!(
            sdp.contains("a=sendrecv\r\n") && !sdp.contains("a=crypto"),
            "{sdp}"
        );
    }

    #[test]
    fn a_mandatory_offer_refuses_a_plain_answer() {
        let answer = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                       m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        assert!(
            offer(SrtpPolicy::Mandatory)
                .read_answer(Some(answer))
                .is_err()
        );
        let (a, srtp) = (offer(SrtpPolicy::Optional).read_answer(Some(answer)))
            .expect("best effort takes plain RTP");
        assert_eq!((a.codec, srtp.is_none()), (G711::Pcmu, true));
    }
}
