//! The public types of outgoing calls (UAC) to agents' phones and through a SIP trunk: request,
//! handle, events.

use std::net::SocketAddr;

use tokio::sync::mpsc;

use super::api::{CallLeg, CommandKind, EndReason, ReInviteId};

/// An INVITE to send to an agent's registered phone, or through a trunk.
#[derive(Debug, Clone)]
pub struct OutgoingInvite {
    /// The agent's extension, resolved through the registrar's newest binding; with `trunk`,
    /// the number to dial as the trunk expects it (digits, an optional leading `+`).
    pub extension: String,
    /// User part of our From (e.g. the caller's number).
    pub from_user: String,
    /// Display name of our From (e.g. `+31201234567 hardware`).
    pub from_display: String,
    /// SDP offer.
    pub sdp: Vec<u8>,
    /// Extra headers (e.g. `X-Firstline-Call: call-…`); invalid names or values are skipped.
    pub call_info: Vec<(String, String)>,
    /// Send it to this trunk instead of a registered phone.
    pub trunk: Option<TrunkRoute>,
}

/// Where an INVITE to the outside goes: a SIP trunk (a carrier or the company PBX) over UDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkRoute {
    /// The trunk's signalling address.
    pub addr: SocketAddr,
    /// Host part of the Request-URI, To and From (the trunk's domain, or its address).
    pub domain: String,
    /// Credentials for a 401/407 digest challenge, if the trunk asks (RFC 3261 §22.2).
    pub auth: Option<TrunkAuth>,
}

/// Digest credentials at a trunk. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct TrunkAuth {
    /// The user name the trunk gave us.
    pub username: String,
    /// Its password.
    pub password: String,
}

impl std::fmt::Debug for TrunkAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrunkAuth")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// A started outgoing call: commands and events.
#[derive(Debug)]
pub struct OutgoingCall {
    /// Commands for this leg; dropping every clone cancels (before answer) or hangs up (after).
    pub leg: OutLeg,
    /// Events of this leg; closed after the last one (`Failed`, `Bye` or `Ended`).
    pub events: mpsc::Receiver<OutEvent>,
}

/// Something that happened on an outgoing leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutEvent {
    /// 180 or 183 from the phone (reported once).
    Ringing,
    /// 2xx: the phone answered; our ACK was already sent.
    Answered {
        /// SDP answer, if the 2xx carried one.
        sdp: Option<Vec<u8>>,
    },
    /// The call failed before answer: a final non-2xx, 408 on timeout, 503 on transport error.
    Failed {
        /// SIP status (or 408/503 as above).
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// The phone hung up (BYE): 200 already sent.
    Bye,
    /// A re-INVITE from the phone (e.g. hold): answer with [`OutLeg::answer_reinvite`].
    ReInvite {
        /// Which re-INVITE.
        id: ReInviteId,
        /// Its SDP offer, if any.
        offer: Option<Vec<u8>>,
    },
    /// INFO in the dialog (DTMF relay): 200 already sent.
    Info {
        /// Content-Type without parameters, lower case.
        content_type: String,
        /// The body.
        body: Vec<u8>,
    },
    /// A REFER from the phone (blind transfer, RFC 3515): 202 and the first NOTIFY were sent;
    /// report the outcome with [`OutLeg::notify_transfer`].
    Refer {
        /// The Refer-To target (`user` is the extension or number).
        target: super::api::NameAddr,
    },
    /// The leg ended from our side (`Hangup` also after a completed CANCEL).
    Ended {
        /// Why.
        reason: EndReason,
    },
}

impl OutEvent {
    /// True for the last event of a leg.
    pub(crate) fn is_last(&self) -> bool {
        matches!(self, Self::Failed { .. } | Self::Bye | Self::Ended { .. })
    }
}

/// Commands for one outgoing leg; cheap to clone.
#[derive(Debug, Clone)]
pub struct OutLeg {
    inner: CallLeg,
}

impl OutLeg {
    pub(crate) fn new(inner: CallLeg) -> Self {
        Self { inner }
    }

    /// CANCEL (RFC 3261 §9.1: sent once a provisional response arrived); no-op after answer.
    pub async fn cancel(&self) {
        self.inner.send(CommandKind::Cancel).await;
    }

    /// CANCEL before answer, BYE after.
    pub async fn hangup(&self) {
        self.inner.send(CommandKind::Hangup).await;
    }

    /// 200 OK with SDP to a re-INVITE from the phone.
    pub async fn answer_reinvite(&self, id: ReInviteId, sdp: Vec<u8>) {
        self.inner.answer_reinvite(id, sdp).await;
    }

    /// A final non-2xx to a re-INVITE (e.g. 488).
    pub async fn reject_reinvite(&self, id: ReInviteId, status: u16, reason: &str) {
        self.inner.reject_reinvite(id, status, reason).await;
    }

    /// The progress of the transfer this phone asked for (a NOTIFY with `SIP/2.0 <status>
    /// <reason>`); `last` ends its subscription (a final status).
    pub async fn notify_transfer(&self, status: u16, reason: &str, last: bool) {
        self.inner
            .send(CommandKind::Notify(status, reason.to_string(), last))
            .await;
    }
}
