//! firstline: a telephony server for IT helpdesk hotlines (library root).
//!
//! ```text
//! SIP (UDP/TCP) ─▶ sip: transport → transactions → dialogs ─▶ IncomingCall
//!                                                              │
//!                      call task (one per call): media leg (RTP), IVR, DTMF merger
//!                              │ IVR done ─▶ store: intake draft      events: one stream
//!                              ▼
//!                      hold music (queues and agents: next issue)
//! ```
//!
//! Protocol cores (`sip` transactions and dialogs, `media`, `ivr`) are sans-IO; `app` wires the
//! drivers. See docs/architecture.md.

pub mod acd;
pub mod config;
pub mod domain;
pub mod ivr;
pub mod media;
pub mod phone;
pub mod sip;
pub mod store;

pub mod app;
pub mod call;
pub mod desk;
pub mod events;
pub mod http;
pub mod supervisor;
