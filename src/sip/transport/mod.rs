//! SIP transports (I/O, thin): a UDP socket, and TCP and TLS listeners whose connections are
//! admitted within caps and run under deadlines (`limits`, sans-IO; `stream`).
//!
//! Socket tasks only cut bytes into messages and feed the SIP task through one bounded channel;
//! they never parse beyond framing and never touch transaction state.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::core::Peer;

pub(crate) mod limits;
pub(crate) mod stream;
pub(crate) mod tcp;
pub(crate) mod tls;
pub(crate) mod udp;

pub(crate) use limits::ConnTable;
pub use limits::{ConnCounts, ConnLimits};

/// What socket tasks report to the SIP task.
#[derive(Debug)]
pub(crate) enum NetIn {
    /// One complete message.
    Message {
        peer: Peer,
        local: SocketAddr,
        bytes: Vec<u8>,
    },
    /// Over the size limit; `head` is what could be read of it (for a 413).
    TooLarge { peer: Peer, head: Vec<u8> },
    /// Framing error that may still be answerable with 400 (e.g. missing Content-Length on TCP).
    Bad {
        peer: Peer,
        head: Vec<u8>,
        reason: &'static str,
    },
    /// A TCP or TLS connection is up; responses and requests for it go through `writer`.
    Opened {
        conn: u64,
        writer: mpsc::Sender<Vec<u8>>,
    },
    /// A TCP or TLS connection is gone.
    Closed { conn: u64 },
}

/// Stream transports of the endpoint beyond UDP and TCP's defaults: SIP over TLS and the
/// connection limits (see [`crate::sip::SipEndpoint::start_with`]).
#[derive(Debug, Clone, Default)]
pub struct StreamSettings {
    /// Listen for SIP over TLS here with this rustls configuration (its certificate resolver
    /// is `crate::tls::Certs`, reloaded without a restart).
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// Caps and deadlines of TCP and TLS connections.
    pub limits: ConnLimits,
}

/// Capacity of the channel from all socket tasks to the SIP task.
pub(crate) const INBOUND_CAPACITY: usize = 4096;
/// Capacity of one TCP connection's write queue.
pub(crate) const WRITE_QUEUE: usize = 256;
/// UDP socket buffer size (SO_RCVBUF/SO_SNDBUF).
pub(crate) const UDP_BUFFER_BYTES: usize = 4 << 20;
