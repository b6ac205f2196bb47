//! Integration tests: the real server on port 0 with real peers (SIPp, baresip, Kamailio, a
//! scripted caller).
//!
//! Run with `scripts/test` (it installs the peers); one binary, `cargo test --test it <filter>`.

// Test code: a failed setup step is a failed test, so `unwrap` is the right reaction here.
#![allow(clippy::unwrap_used)]

mod account;
mod admin_cli;
mod admin_page;
mod agent_phone;
mod baresip;
mod baresip_peer;
mod baresip_tls;
mod browser;
mod browser_leg;
mod callback_srtp;
mod caller_bounds;
mod conn_limits;
mod crash;
mod csv_import;
mod desk_collab;
mod desk_device;
mod desk_dutch;
mod desk_levels;
mod desk_page;
mod desk_screens;
mod desk_shift;
mod desk_transfer;
mod desk_vendor;
mod digest;
mod helpers;
mod host;
mod i18n;
mod kamailio;
mod ldap;
mod ldap_fixture;
mod leaks;
mod malformed;
mod overload;
mod pike;
mod queue;
mod queue_waiting;
mod registration;
mod returning_caller;
mod rt_fixture;
mod rt_handoff;
mod rtp;
mod rtp_strict;
mod scenario;
mod scripted;
mod server_process;
#[path = "../../examples/common/sip_msg.rs"]
mod sip_msg;
mod sipp;
mod softphone;
mod srtp;
mod srtp_udp;
mod stalled_writer;
mod strict_sip;
mod supervisor;
mod supervisor_page;
mod tls;
mod tls_client;
#[path = "../../examples/common/tls_trust.rs"]
mod tls_trust;
mod tones;
mod transfer;
mod trunk;
mod ua;
mod webdriver;
mod webhook_receiver;
mod webhooks;
mod zammad_handoff;
mod zammad_receiver;
