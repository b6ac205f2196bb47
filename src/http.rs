//! HTTP surface (axum): health now; the agent desk, supervisor feed and REST API come later.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::call::CallContext;
use crate::sip::SipEndpoint;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct HttpState {
    /// The SIP endpoint, for its addresses and counters.
    pub sip: SipEndpoint,
    /// Call counters.
    pub calls: Arc<CallContext>,
}

/// The HTTP routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(health))
        .with_state(state)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    sip_udp: String,
    sip_tcp: String,
    calls_active: usize,
    calls_total: u64,
    calls_refused: u64,
    rtp_ignored_packets: u64,
    sip: crate::sip::SipStatsSnapshot,
}

async fn health(State(state): State<HttpState>) -> Json<Health> {
    let stats = &state.calls.stats;
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        sip_udp: state.sip.udp_addr().to_string(),
        sip_tcp: state.sip.tcp_addr().to_string(),
        calls_active: stats.active(),
        calls_total: stats.total(),
        calls_refused: stats.refused(),
        rtp_ignored_packets: stats.rtp_ignored(),
        sip: state.sip.stats(),
    })
}
