//! The SIP layer's public types: configuration, incoming calls, call-leg commands and events.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

/// Internal id of one call leg inside the SIP task.
pub(crate) type LegId = u64;

/// Settings of the SIP endpoint.
#[derive(Debug, Clone)]
pub struct SipConfig {
    /// UDP address to bind (port 0 allowed).
    pub udp_listen: SocketAddr,
    /// TCP address to listen on (port 0 allowed).
    pub tcp_listen: SocketAddr,
    /// Largest message accepted; bigger ones get 413 (default 65 535).
    pub max_message_bytes: usize,
    /// Capacity of the new-call channel; a full channel answers 503.
    pub max_pending_calls: usize,
    /// `Server`/`User-Agent` header value (default `firstline`, no version: RFC 3261 §20.35
    /// warns that a version helps attackers pick known flaws).
    pub user_agent: String,
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            udp_listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            tcp_listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
            max_message_bytes: 65_535,
            max_pending_calls: 256,
            user_agent: "firstline".to_string(),
        }
    }
}

/// Errors starting the SIP endpoint.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    /// A socket could not be bound.
    #[error("cannot bind SIP {transport} socket on {addr}")]
    Bind {
        transport: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// No phone is registered for this extension.
    #[error("extension {extension} has no registered phone")]
    NotRegistered {
        /// The extension asked for.
        extension: String,
    },
    /// The SIP task is gone (shutdown) or too busy to take the request.
    #[error("SIP endpoint unavailable")]
    Unavailable,
}

/// Digest credentials of one agent phone: HA1 values only, never the password (RFC 7616 §3.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipCredential {
    /// SIP user name: the agent's extension (also the AOR user).
    pub extension: String,
    /// The agent (`agents.id`).
    pub agent_id: crate::domain::AgentId,
    /// MD5(extension:realm:password) as hex, if set.
    pub ha1_md5: Option<String>,
    /// SHA-256(extension:realm:password) as hex, if set.
    pub ha1_sha256: Option<String>,
}

/// Which digest challenges a 401 to REGISTER carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DigestChallenge {
    /// SHA-256 then MD5 (RFC 8760 §2.4: most preferred first). The default.
    #[default]
    Sha256AndMd5,
    /// MD5 then SHA-256: for clients that read only the first challenge (SIPp 3.6).
    Md5First,
    /// MD5 only: for clients that fail on any SHA-256 challenge (baresip 1.0 / old libre).
    Md5Only,
}

/// A proxy in front of firstline (Kamailio, an SBC) whose Via lines are believed: a REGISTER
/// from it counts failed authentications against the phone's address (from the Via the proxy
/// received it over), not against the proxy's. `"IP"` matches any port, `"IP:port"` one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedProxy {
    /// Every port of this address.
    Ip(IpAddr),
    /// This address and port only.
    Addr(SocketAddr),
}

impl TrustedProxy {
    /// True when a message from `from` comes from this proxy.
    pub fn matches(&self, from: SocketAddr) -> bool {
        match self {
            Self::Ip(ip) => from.ip() == *ip,
            Self::Addr(a) => from == *a,
        }
    }
}

impl std::str::FromStr for TrustedProxy {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s.parse::<SocketAddr>() {
            Ok(a) => Ok(Self::Addr(a)),
            Err(_) => s.parse::<IpAddr>().map(Self::Ip),
        }
    }
}

/// Where an agent's phone is registered (RFC 3261 §10): the newest binding of its AOR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI the phone registered.
    pub contact: String,
    /// The address the REGISTER came from; INVITEs go there (the flow, RFC 5626-lite).
    pub source: SocketAddr,
    /// The transport the REGISTER came over.
    pub transport: SipTransport,
    /// When the binding expires unless refreshed.
    pub expires_at: Instant,
}

/// An extension's registration changed: it gained its first or lost its last binding, its
/// newest binding moved (another contact, transport or source), or a refresh moved the expiry
/// by at least a quarter of its lifetime (see `uas_register::worth_telling`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationEvent {
    /// The extension (AOR user).
    pub extension: String,
    /// The agent whose credentials the extension has (`None`: no longer in the credential table).
    pub agent_id: Option<crate::domain::AgentId>,
    /// The newest binding; `None` when the extension has none left (expired, un-REGISTER,
    /// `Contact: *`, or the TCP connection that carried it closed).
    pub binding: Option<Binding>,
}

impl RegistrationEvent {
    /// True when at least one binding exists now.
    pub fn registered(&self) -> bool {
        self.binding.is_some()
    }
}

/// Signalling transport of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipTransport {
    /// UDP datagrams.
    Udp,
    /// One TCP connection.
    Tcp,
    /// One TLS connection (RFC 3261 §26): the only transport SDES-SRTP keys may come over.
    Tls,
}

impl SipTransport {
    /// The lower-case name (`udp`, `tcp`, `tls`), as events and frames carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            SipTransport::Udp => "udp",
            SipTransport::Tcp => "tcp",
            SipTransport::Tls => "tls",
        }
    }

    /// The transport token of a Via header (RFC 3261 §18.2.1, §26.2: `UDP`, `TCP`, `TLS`).
    pub fn via_token(self) -> &'static str {
        match self {
            SipTransport::Udp => "UDP",
            SipTransport::Tcp => "TCP",
            SipTransport::Tls => "TLS",
        }
    }

    /// The `;transport=` URI parameter for our Contact (none for UDP, the default).
    pub fn uri_param(self) -> &'static str {
        match self {
            SipTransport::Udp => "",
            SipTransport::Tcp => ";transport=tcp",
            SipTransport::Tls => ";transport=tls",
        }
    }
}

/// A parsed name-addr (From, To, P-Asserted-Identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name without quotes.
    pub display: Option<String>,
    /// User part of the URI (a phone number for most callers).
    pub user: Option<String>,
    /// Host part of the URI (empty for `tel:`).
    pub host: String,
    /// The URI as received.
    pub uri: String,
}

/// Identifies one re-INVITE of a leg, to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReInviteId(pub(crate) u64);

/// Why a leg ended from our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Our BYE completed (any answer or timeout).
    Hangup,
    /// We rejected the call before answering (`reject` or `hangup` before answer).
    Rejected,
    /// No ACK for our 2xx within 64·T1 (RFC 3261 §13.3.1.4); a BYE was sent.
    AckTimeout,
    /// The TCP connection carrying the call closed.
    TransportError,
}

/// Something that happened on a call leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    /// ACK for our 2xx.
    Acked,
    /// CANCEL before answer: 200 and 487 already sent. The leg is gone.
    Cancelled,
    /// The remote hung up: 200 already sent. The leg is gone.
    Bye,
    /// INFO in the dialog (DTMF relay): 200 already sent.
    Info {
        /// Content-Type without parameters, lower case.
        content_type: String,
        /// The body.
        body: Vec<u8>,
    },
    /// A re-INVITE: answer it with [`CallLeg::answer_reinvite`].
    ReInvite {
        /// Which re-INVITE.
        id: ReInviteId,
        /// SDP offer, if the re-INVITE carried one.
        offer: Option<Vec<u8>>,
    },
    /// The leg is gone.
    Ended {
        /// Why.
        reason: EndReason,
    },
    /// A REFER (RFC 3515): the phone asks to transfer the call to `target`; 202 and the first
    /// NOTIFY ("100 Trying") were sent. Report the outcome with a final NOTIFY.
    Refer {
        /// The Refer-To target.
        target: NameAddr,
        /// The Referred-By header, if any.
        referred_by: Option<String>,
    },
}

/// Commands from a call task to the SIP task.
#[derive(Debug)]
pub(crate) enum CommandKind {
    Ringing,
    Answer(Vec<u8>),
    Reject(u16, String),
    Hangup,
    AnswerReInvite(ReInviteId, Vec<u8>),
    RejectReInvite(ReInviteId, u16, String),
    /// A NOTIFY of a REFER's progress: the new call's status line; `true` ends the subscription.
    Notify(u16, String, bool),
    /// CANCEL an outgoing call before answer.
    Cancel,
    /// Start an outgoing call (the driver handles it; `leg` is unused).
    Invite(
        Box<super::outgoing::OutgoingInvite>,
        tokio::sync::oneshot::Sender<Result<super::outgoing::OutgoingCall, SipError>>,
    ),
    /// Register to the SIP trunk (the driver handles it; `leg` is unused).
    RegisterTrunk(Box<super::trunk_register::TrunkRegistration>),
    /// Every `CallLeg` clone was dropped.
    Dropped,
}

/// A command addressed to one leg.
#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) leg: LegId,
    pub(crate) kind: CommandKind,
}

#[derive(Debug)]
struct LegHandle {
    id: LegId,
    tx: mpsc::Sender<Command>,
}

impl Drop for LegHandle {
    fn drop(&mut self) {
        // Best effort: a full channel means the SIP task is busy; the leg then ends by its timers
        // or the remote side.
        let _ = self.tx.try_send(Command {
            leg: self.id,
            kind: CommandKind::Dropped,
        });
    }
}

/// Commands for one call leg; cheap to clone. Dropping the last clone hangs the call up.
#[derive(Debug, Clone)]
pub struct CallLeg {
    inner: Arc<LegHandle>,
}

impl CallLeg {
    pub(crate) fn new(id: LegId, tx: mpsc::Sender<Command>) -> Self {
        Self {
            inner: Arc::new(LegHandle { id, tx }),
        }
    }

    pub(crate) async fn send(&self, kind: CommandKind) {
        // An error means the SIP task has stopped (shutdown); there is nothing left to do.
        let _ = self
            .inner
            .tx
            .send(Command {
                leg: self.inner.id,
                kind,
            })
            .await;
    }

    /// 180 Ringing (100 Trying was already sent by the layer).
    pub async fn ringing(&self) {
        self.send(CommandKind::Ringing).await;
    }

    /// 200 OK with this SDP; retransmitted until ACK.
    pub async fn answer(&self, sdp: Vec<u8>) {
        self.send(CommandKind::Answer(sdp)).await;
    }

    /// A final non-2xx before answer (e.g. 488, 480, 503).
    pub async fn reject(&self, status: u16, reason: &str) {
        self.send(CommandKind::Reject(status, reason.to_string()))
            .await;
    }

    /// BYE after answer (after the ACK, RFC 3261 §15); 480 if not answered yet.
    pub async fn hangup(&self) {
        self.send(CommandKind::Hangup).await;
    }

    /// 200 OK with SDP to a re-INVITE.
    pub async fn answer_reinvite(&self, id: ReInviteId, sdp: Vec<u8>) {
        self.send(CommandKind::AnswerReInvite(id, sdp)).await;
    }

    /// A final non-2xx to a re-INVITE (e.g. 488 when its offer is not acceptable); the session
    /// continues as it was (RFC 3261 §14.2).
    pub async fn reject_reinvite(&self, id: ReInviteId, status: u16, reason: &str) {
        self.send(CommandKind::RejectReInvite(id, status, reason.to_string()))
            .await;
    }
}

/// A new call offered to the application.
#[derive(Debug)]
pub struct IncomingCall {
    /// The SIP Call-ID.
    pub sip_call_id: String,
    /// Parsed From.
    pub from: NameAddr,
    /// First P-Asserted-Identity entry (RFC 3325).
    pub asserted_identity: Option<NameAddr>,
    /// Dialled number (request-URI user).
    pub to_user: Option<String>,
    /// SDP body if Content-Type is application/sdp.
    pub offer: Option<Vec<u8>>,
    /// Where the INVITE came from (signalling).
    pub remote: SocketAddr,
    /// UDP or TCP.
    pub transport: SipTransport,
    /// Local address the INVITE arrived on (for our SDP c= line).
    pub local_ip: IpAddr,
    /// Commands for this leg.
    pub leg: CallLeg,
    /// Events of this leg; closed after the leg is gone.
    pub events: mpsc::Receiver<LegEvent>,
}
