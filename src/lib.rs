//! firstline: a telephony server for IT helpdesk hotlines (library root).
//!
//! ```text
//! SIP (UDP/TCP/TLS) ─▶ sip: transport → transactions → dialogs ─▶ IncomingCall
//!                                                              │
//!                      call task (one per call): media leg (RTP), IVR, DTMF merger
//!                              │ IVR done ─▶ store: intake draft ─▶ acd: queue (one owner task)
//!                              ▼                                     │ offer
//!                      agent leg (UAC to the registered phone), RTP bridge
//!   events: one stream ─▶ store (events), desk hub (screen pops), supervisor feed
//!   http: REST API, /api/ws (desk), /api/supervisor/ws, /metrics, pages from web/
//! ```
//!
//! Protocol cores (`sip` transactions and dialogs, `media`, `ivr`, the `acd` engine, the
//! supervisor's live model) are sans-IO; `app` wires the drivers. See docs/architecture.md.

pub mod accounts;
pub mod acd;
pub mod admin;
pub mod config;
pub mod domain;
pub mod ivr;
pub mod media;
pub mod password;
pub mod phone;
pub mod sip;
pub mod sla;
pub mod store;
pub mod tls;
pub mod trunk;

pub mod app;
pub mod call;
pub mod desk;
pub mod directory;
pub mod events;
pub mod http;
pub mod integrations;
pub mod supervisor;
pub mod webrtc;

/// `error: cause: cause…`, for logs and messages that show the whole reason on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
