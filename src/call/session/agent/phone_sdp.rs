//! The agent phone's SDP on a call: the offer we make it (`call::phone_offer`: keys per
//! `[media] srtp_agents`, only to a phone registered over TLS) and the phone's re-INVITEs (new
//! keys taken, the leg's security fixed). No I/O but the SIP leg's answers.

use std::time::Instant;

use super::super::Session;
use crate::acd::OfferId;
use crate::call::phone_offer::PhoneOffer;
use crate::domain::AgentId;
use crate::media::g711::G711;
use crate::media::sdp::{self, SessionOffer};
use crate::media::srtp;

impl Session {
    /// What to offer the agent's phone on `extension` (`PhoneOffer::for_phone`); `None` when
    /// SRTP is mandatory and the phone is not registered over TLS: it is not rung (logged,
    /// counted, the offer failed as unreachable).
    pub(super) async fn phone_offer(
        &self,
        offer: OfferId,
        agent: &AgentId,
        extension: &str,
    ) -> Option<PhoneOffer> {
        let phone = PhoneOffer::for_phone(
            &self.ctx.sip,
            self.ctx.srtp,
            &self.ctx.stats,
            agent,
            extension,
        );
        if phone.is_none() {
            self.offer_unreachable(offer, agent).await;
        }
        phone
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
        let rule = a.phone.rule;
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
