//! HTTP surface (axum): `/health`, `/ready`, `/metrics`, the REST API under `/api` (login,
//! sessions, agent state, intakes, customers, reports and exports, supervisor actions;
//! docs/api.md), the desk WebSocket `/api/ws` (docs/protocol.md), the supervisor feed
//! `/api/supervisor/ws` (docs/supervisor.md), and the static pages from `web/` for every other path.
//!
//! Layout: `agents`, `intakes`, `intake_list`, `worklists`, `customers`, `reports`,
//! `supervisor` (routes), `ws` (the desk feed and voice messages), `desk_feed` (desk frames
//! after a write, REST or WebSocket), `metrics`, `auth` (tokens, cookie, session extractor,
//! roles, CSRF), `limit` (login rate limit, no I/O), `error` (every failure → status + JSON).
//! The edge: `serve` (HTTP and HTTPS listeners: timeouts, connection cap), `edge` (security
//! headers, HSTS, `Secure` cookies, redirect to HTTPS), `ops` (who may read `/metrics` and the
//! detailed `/health`); docs/security.md.

mod admin;
mod agent_settings;
mod agents;
mod auth;
mod calls;
mod customers;
mod desk_feed;
mod directory;
mod edge;
mod error;
mod intake_list;
mod intakes;
mod integrations;
mod limit;
mod metrics;
mod metrics_conn;
mod metrics_directory;
mod metrics_integrations;
mod metrics_journal;
mod metrics_sla;
mod ops;
mod outbound;
mod password;
mod reports;
mod serve;
mod sla;
mod supervisor;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
mod vendor_cases;
mod worklists;
mod ws;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::acd::AcdHandle;
use crate::call::CallContext;
use crate::sip::SipEndpoint;
use crate::store::Store;

pub use auth::AuthConfig;
pub use edge::{Edge, PlainHttp, Secure};
pub use error::ApiError;
pub use ops::{Net, OpsAccess};
pub use serve::{OpenConns, ServeSettings, serve};

use limit::{LoginLimiter, LoginLimits};

/// What the handlers decode from the wire (REST bodies, the supervisor feed's client frames),
/// public only for the fuzz targets (`examples/fuzz`); the desk's frames are
/// `crate::desk::client::parse`.
#[doc(hidden)]
pub mod wire {
    pub use super::admin::{
        CreateAgentRequest, PasswordRequest, SetupRequest, TargetRequest, UpdateAgentRequest,
    };
    pub use super::agent_settings::{DeviceRequest, LanguageRequest};
    pub use super::agents::{LoginRequest, StateRequest};
    pub use super::calls::{DigitsBody, OnBody, QualityBody, SdpBody, TransferBody};
    pub use super::intakes::{
        ContinueRequest, CustomerRequest, EscalateRequest, NewIntakeRequest, ResolveRequest,
        ReturnRequest,
    };
    pub use super::password::ChangePasswordRequest;
    pub use super::supervisor::{NotReadyBody, PriorityBody, QueueBody, client_reply, parse_hello};
    pub use super::worklists::{ClaimRequest, NoteRequest, ReopenRequest};
}

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct HttpState {
    /// The SIP endpoint, for its addresses and counters.
    pub sip: SipEndpoint,
    /// Call counters.
    pub calls: Arc<CallContext>,
    /// Agents and sessions.
    pub store: Store,
    /// The queue engine, which keeps agent states.
    pub acd: AcdHandle,
    /// Session cookie and lifetime settings.
    pub auth: AuthConfig,
    /// The static pages (`web/`), served for every path no route claims.
    pub web_dir: std::path::PathBuf,
    /// The agent desk's live state and WebSocket feed.
    pub desk: crate::desk::hub::DeskHub,
    /// The supervisor view's live feed.
    pub supervisor: crate::supervisor::SupervisorFeed,
    /// The company directory's sync and sign-in (docs/directory.md).
    pub directory: crate::directory::Directory,
    /// The ticket-system and webhook targets (docs/integrations.md).
    pub integrations: crate::integrations::Integrations,
    /// Security headers, HTTPS redirect and `/metrics` access (`edge`).
    pub edge: Arc<Edge>,
    /// The HTTP listeners' open and refused connections.
    pub http_conns: OpenConns,
    /// The admin operations on accounts, groups and vendors.
    pub accounts: crate::accounts::Accounts,
}

/// What the `/api` handlers share (no SIP or call parts, so tests build it from a store alone).
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) store: Store,
    pub(crate) acd: AcdHandle,
    pub(crate) auth: Arc<AuthConfig>,
    /// Failed-login counters; a std mutex, never held across an await.
    pub(crate) limiter: Arc<Mutex<LoginLimiter>>,
    /// Agents whose sessions an admin ended or changed (deactivation, password reset, role):
    /// their open desk feeds re-check their session at once.
    pub(crate) revoked: tokio::sync::broadcast::Sender<crate::domain::AgentId>,
}

impl ApiState {
    pub(crate) fn new(store: Store, acd: AcdHandle, auth: AuthConfig, limits: LoginLimits) -> Self {
        ApiState {
            store,
            acd,
            auth: Arc::new(auth),
            limiter: Arc::new(Mutex::new(LoginLimiter::new(limits))),
            revoked: tokio::sync::broadcast::channel(64).0,
        }
    }

    /// Uses `revoked` (the admin operations' channel) for the desk feeds' re-checks.
    pub(crate) fn with_revoked(
        mut self,
        revoked: tokio::sync::broadcast::Sender<crate::domain::AgentId>,
    ) -> Self {
        self.revoked = revoked;
        self
    }
}

/// The HTTP routes behind the edge layer (`edge`). Serve them with [`serve`], which tells each
/// request its client's address (the login rate limit, the `/metrics` allow-list) and whether
/// it came over HTTPS.
pub fn router(state: HttpState) -> Router {
    let api = ApiState::new(
        state.store.clone(),
        state.acd.clone(),
        state.auth.clone(),
        LoginLimits::default(),
    )
    .with_revoked(state.accounts.revoked());
    let admin = admin::router(api.clone(), state.accounts.clone());
    let pages = tower_http::services::ServeDir::new(&state.web_dir);
    let desk_ws = ws::router(api.clone(), state.desk.clone());
    let ops = state.desk.ops().clone();
    let intakes = intakes::router(api.clone(), state.desk.clone());
    let customers = customers::router(api.clone(), state.desk.clone());
    let threshold = state.supervisor.service_level_threshold();
    let supervisor = supervisor::router(api.clone(), state.supervisor.clone());
    let metrics = metrics::router(state.clone());
    let directory_api = directory::DirectoryApi {
        directory: state.directory.clone(),
        country_code: state.desk.ops().country_code().to_owned(),
    };
    let directory_login = state.directory.clone();
    let integrations = state.integrations.clone();
    let call_control = state.calls.clone();
    let outbound_hub = state.desk.clone();
    let supervisor_feed = state.supervisor.clone();
    let edge = state.edge.clone();
    let read_store = state.store.clone();
    Router::new()
        .route("/health", get(health))
        .with_state(state)
        .merge(desk_ws)
        .merge(admin)
        .merge(intakes)
        .merge(customers)
        .merge(directory::router(api.clone(), directory_api))
        .merge(integrations::router(api.clone(), integrations))
        .merge(supervisor)
        .merge(metrics)
        .merge(reports::router(api.clone(), threshold))
        .merge(calls::router(api.clone(), call_control.clone()))
        .merge(outbound::router(
            api.clone(),
            call_control.clone(),
            outbound_hub,
        ))
        .merge(
            agents::router(api)
                .layer(axum::Extension(ops))
                .layer(axum::Extension(call_control))
                .layer(axum::Extension(supervisor_feed))
                .layer(axum::Extension(directory_login)),
        )
        .fallback_service(pages)
        .layer(axum::middleware::from_fn_with_state(
            read_store.clone(),
            read_your_writes,
        ))
        .layer(axum::middleware::from_fn_with_state(edge, edge::layer))
}

/// The longest an API request waits for the journal before it is served anyway.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// An API request sees what the call path handed to the journal before it arrived (a call that
/// just ended, the intake the IVR just drafted): it waits for the journal's next commit, at most
/// [`SYNC_WAIT`] (a stalled database then shows older data rather than hanging the desk).
/// `/health`, `/metrics`, `/ready` and the static pages do not wait.
async fn read_your_writes(
    State(store): State<crate::store::Store>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if req.uri().path().starts_with("/api/") {
        let _ = tokio::time::timeout(SYNC_WAIT, store.synced()).await;
    }
    next.run(req).await
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    sip_udp: String,
    sip_tcp: String,
    calls_active: usize,
    /// Calls whose agent leg is the browser softphone (ringing or bridged).
    browser_calls: usize,
    calls_total: u64,
    calls_refused: u64,
    /// INVITEs shed under overload with 503 + Retry-After before any record or media: over
    /// `call.max_calls`, `sip.max_pending_calls` or the journal's bound (`calls_refused`), or
    /// while the call dispatcher's queue was full (`sip.unavailable_503`).
    calls_shed: u64,
    rtp_ignored_packets: u64,
    /// INVITEs refused before a call record (no SDP offer, or none we can answer): not stored.
    calls_refused_sdp: u64,
    sip: crate::sip::SipStatsSnapshot,
    /// Live transactions, dialogs, TCP/TLS connections and registered extensions.
    sip_live: crate::sip::SipLive,
    /// HTTP and HTTPS connections: open now, refused at the cap.
    http_connections: HttpConnections,
    /// The write-behind journal: writes waiting, committed, retried, refused.
    journal: crate::store::JournalSnapshot,
    /// Times a live view fell behind the event stream and rebuilt itself from its owners.
    lag_repairs: LagRepairs,
    /// The SIP trunk (docs/trunk.md): configured, and its registration.
    trunk: TrunkHealth,
}

#[derive(Serialize)]
struct TrunkHealth {
    configured: bool,
    /// `off`, `trying`, `registered`, `failed`.
    registration: &'static str,
    /// The status of the last failed registration.
    last_status: Option<u16>,
}

#[derive(Serialize)]
struct LagRepairs {
    desk_hub: u64,
    supervisor_feed: u64,
}

#[derive(Serialize)]
struct HttpConnections {
    open: usize,
    refused: u64,
}

async fn health(State(state): State<HttpState>) -> Json<Health> {
    let stats = &state.calls.stats;
    let sip = state.sip.stats();
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        sip_udp: state.sip.udp_addr().to_string(),
        sip_tcp: state.sip.tcp_addr().to_string(),
        calls_active: stats.active(),
        browser_calls: state.calls.browser.len(),
        calls_total: stats.total(),
        calls_refused: stats.refused(),
        calls_shed: stats.refused() + sip.unavailable_503,
        rtp_ignored_packets: stats.rtp_ignored(),
        calls_refused_sdp: stats.refused_sdp(),
        sip,
        sip_live: state.sip.live(),
        http_connections: HttpConnections {
            open: state.http_conns.get(),
            refused: state.http_conns.refused(),
        },
        journal: state.calls.journal.stats(),
        trunk: {
            let reg = state.sip.trunk_registration();
            TrunkHealth {
                configured: state.calls.trunk.is_some(),
                registration: reg.name(),
                last_status: match reg {
                    crate::sip::TrunkRegState::Failed(s) => Some(s),
                    _ => None,
                },
            }
        },
        lag_repairs: LagRepairs {
            desk_hub: state.desk.lag_repairs(),
            supervisor_feed: state.supervisor.lag_repairs(),
        },
    })
}
