//! Calls: one tokio task per hotline call owns its SIP leg, its RTP legs (caller and agent),
//! its IVR and its place in the queue.
//!
//! `run` identifies the caller and hands over to `session/` (record, SDP, answer, the IVR, the
//! queue, the agent leg and the bridge); `callback.rs` runs a task per open callback;
//! `phone_offer.rs` is the offer both make an agent's phone. Nothing
//! else touches a call's state.

mod agent_ring;
pub(crate) mod bounds;
pub mod browser;
pub(crate) mod callback;
pub mod click_to_call;
pub(crate) mod dialout;
mod identify;
mod media;
pub mod pacer;
mod phone_offer;
mod rtp_socket;
mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::acd::AcdHandle;
use crate::sip::SipEndpoint;
use tracing::Instrument as _;

use crate::config::CallSection;
use crate::domain::CallId;
use crate::events::EventBus;
use crate::ivr::IvrConfig;
use crate::media::prompts::PromptLibrary;
use crate::sip::IncomingCall;

use crate::store::Store;

pub use identify::{CallerIdentity, identify_caller};

/// New calls are refused (503) while this many writes wait for the journal: the database is
/// away or slower than the calls (a few hundred bytes each: this bounds their memory).
pub const MAX_JOURNAL_PENDING: usize = 50_000;

/// What every call task shares (read-only, or atomics).
pub struct CallContext {
    /// Records, for reads (look-ups go to the read connections).
    pub store: Store,
    /// Where the call path's records go: never waited on (issue 12).
    pub journal: crate::store::Journal,
    /// Prompts decoded once at start.
    pub prompts: Arc<PromptLibrary>,
    /// The IVR menu.
    pub ivr: Arc<IvrConfig>,
    /// Per-call settings.
    pub call: CallSection,
    /// For caller-number normalisation.
    pub default_country_code: String,
    /// The one event stream.
    pub events: EventBus,
    /// Counters.
    pub stats: CallStats,
    /// Cancelled when the server shuts down: calls end politely.
    pub shutdown: CancellationToken,
    /// The queue engine.
    pub acd: AcdHandle,
    /// SIP, for ringing agents' phones.
    pub sip: SipEndpoint,
    /// Where voice messages are written.
    pub recordings_dir: PathBuf,
    /// Tasks that outlive a call (callbacks), drained at shutdown.
    pub tasks: TaskTracker,
    /// Most calls in set-up (before answer) at once; further INVITEs get 503.
    pub max_setting_up: usize,
    /// Agents' extensions and devices, so ringing does not wait on the database.
    pub extensions: ExtensionCache,
    /// Calls whose agent leg is a browser, for the desk's call-control requests.
    pub browser: browser::BrowserCalls,
    /// The browser leg's settings.
    pub webrtc: crate::config::WebrtcSection,
    /// Strict RTP on the caller's and the agent phone's legs (`[media]`).
    pub rtp: crate::media::strict::StrictConfig,
    /// SDES-SRTP on the caller's and the agent phone's legs (`[media] srtp_*`).
    pub srtp: crate::media::srtp::SrtpConfig,
    /// Sends the frames calls build ahead (prompts, hold music), each at its slot.
    pub pacer: pacer::Pacer,
    /// The SIP trunk for callbacks and click-to-call (`[trunk]`), if one is configured.
    pub trunk: Option<Arc<crate::trunk::Trunk>>,
}

impl CallContext {
    /// How the agent takes calls: their device and the SIP extension of their phone (cached for
    /// a minute: ringing must not wait on the database; a device change through the API
    /// forgets the entry at once). `None` when the agent cannot be looked up.
    pub(crate) async fn agent_reach(&self, agent: &crate::domain::AgentId) -> Option<AgentReach> {
        if let Some(cached) = self.extensions.get(agent) {
            return cached;
        }
        match self.store.get_agent(agent).await {
            Ok(row) => {
                let reach = row.map(|r| AgentReach {
                    extension: r.extension,
                    device: r.device,
                });
                self.extensions.put(agent, reach.clone());
                reach
            }
            Err(e) => {
                tracing::warn!(error = %e, %agent, "agent lookup failed");
                None
            }
        }
    }

    /// The SIP extension of the agent's phone; `None` when the agent has none.
    pub(crate) async fn agent_extension(&self, agent: &crate::domain::AgentId) -> Option<String> {
        self.agent_reach(agent).await.and_then(|r| r.extension)
    }
}

/// How an agent is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentReach {
    /// Their phone's SIP extension, if they have one.
    pub extension: Option<String>,
    /// Phone or browser.
    pub device: crate::domain::Device,
}

/// A short-lived cache of how agents are reached (looked up on every offer).
#[derive(Debug, Default)]
pub struct ExtensionCache {
    map: std::sync::Mutex<
        std::collections::HashMap<crate::domain::AgentId, (Option<AgentReach>, std::time::Instant)>,
    >,
}

impl ExtensionCache {
    /// How long a looked-up entry is trusted (an edited extension takes effect after this).
    const FRESH: std::time::Duration = std::time::Duration::from_secs(60);

    /// The cached entry (`Some(None)`: no such agent), if fresh.
    pub(crate) fn get(&self, agent: &crate::domain::AgentId) -> Option<Option<AgentReach>> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(agent)
            .filter(|(_, at)| at.elapsed() < Self::FRESH)
            .map(|(reach, _)| reach.clone())
    }

    /// Remembers how an agent is reached.
    pub(crate) fn put(&self, agent: &crate::domain::AgentId, reach: Option<AgentReach>) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(agent.clone(), (reach, std::time::Instant::now()));
    }

    /// Forgets an agent (their device or extension changed).
    pub fn forget(&self, agent: &crate::domain::AgentId) {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(agent);
    }
}

/// Call counters (atomics, read by /health).
#[derive(Debug, Default)]
pub struct CallStats {
    active: AtomicUsize,
    /// Calls between INVITE and answer (record, customer lookup, SDP).
    setting_up: AtomicUsize,
    total: AtomicU64,
    refused: AtomicU64,
    /// RTP datagrams dropped, per reason (strict RTP, malformed, payload type).
    rtp_drops: crate::media::strict::DropCounters,
    /// INVITEs refused for their SDP before any record was written.
    refused_sdp: AtomicU64,
    /// Legs that ran SRTP: the caller's, the agent phone's.
    srtp_legs: [AtomicU64; 2],
    /// Agents' phones not rung because SRTP is mandatory and they are not registered over TLS.
    srtp_agent_skipped: AtomicU64,
}

impl CallStats {
    /// Calls in progress.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
    /// Calls not yet answered (admission control: past `sip.max_pending_calls`, new calls get 503).
    pub fn setting_up(&self) -> usize {
        self.setting_up.load(Ordering::Relaxed)
    }
    /// Calls taken since start.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    /// Calls refused with 503 because `call.max_calls` was reached.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
    /// INVITEs refused with 488 for their SDP (no offer, no codec we speak): counted, not stored.
    pub fn refused_sdp(&self) -> u64 {
        self.refused_sdp.load(Ordering::Relaxed)
    }
    /// RTP packets ignored (unexpected source, unknown payload type, malformed).
    pub fn rtp_ignored(&self) -> u64 {
        self.rtp_drops.total()
    }
    /// RTP packets dropped, per reason.
    pub fn rtp_drops_by_reason(&self) -> crate::media::strict::DropSnapshot {
        self.rtp_drops.snapshot()
    }
    /// Legs that ran SRTP since start: (callers, agents' phones).
    pub fn srtp_legs(&self) -> (u64, u64) {
        (
            self.srtp_legs[0].load(Ordering::Relaxed),
            self.srtp_legs[1].load(Ordering::Relaxed),
        )
    }
    /// Agents' phones skipped for SRTP (mandatory, not registered over TLS).
    pub fn srtp_agent_skipped(&self) -> u64 {
        self.srtp_agent_skipped.load(Ordering::Relaxed)
    }
    pub(crate) fn count_srtp_leg(&self, agent: bool) {
        self.srtp_legs[usize::from(agent)].fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_srtp_agent_skipped(&self) {
        self.srtp_agent_skipped.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_rtp_drop(&self, reason: crate::media::strict::DropReason) {
        self.rtp_drops.count(reason);
    }
    fn enter(&self) -> ActiveGuard<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(self)
    }
}

/// Counts a call as "in set-up" until dropped (after the answer, or when set-up failed).
pub(crate) struct SetupGuard(Arc<CallContext>);

impl SetupGuard {
    /// Counts one more call in set-up.
    pub(crate) fn new(ctx: &Arc<CallContext>) -> Self {
        ctx.stats.setting_up.fetch_add(1, Ordering::Relaxed);
        SetupGuard(ctx.clone())
    }
}

impl Drop for SetupGuard {
    fn drop(&mut self) {
        self.0.stats.setting_up.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Decrements the active-call count when the call task ends, however it ends.
struct ActiveGuard<'a>(&'a CallStats);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The caller's offer negotiated as the call answers it (RFC 3264; SDES-SRTP as
/// `[media] srtp_callers` allows, keys only when the INVITE came over TLS).
fn negotiate_caller(
    ctx: &CallContext,
    transport: crate::sip::SipTransport,
    offer: &[u8],
) -> Result<crate::media::sdp::Answer, crate::media::sdp::SdpError> {
    use crate::media::g711::G711;
    use crate::media::sdp::{self, SessionOffer};
    let rule = ctx
        .srtp
        .caller_rule(transport == crate::sip::SipTransport::Tls);
    SessionOffer::parse(offer)
        .and_then(|o| sdp::negotiate_sdes(&o, &[G711::Pcmu, G711::Pcma], rule))
}

/// Why an INVITE's offer cannot be answered: no SDP, nothing in it we speak, or SRTP the
/// policy refuses.
fn offer_refusal(ctx: &CallContext, incoming: &IncomingCall) -> Option<(&'static str, String)> {
    let Some(offer) = incoming.offer.as_deref() else {
        return Some((
            "Not Acceptable Here (SDP offer required)",
            "no SDP offer".to_owned(),
        ));
    };
    match negotiate_caller(ctx, incoming.transport, offer) {
        Ok(_) => None,
        Err(e) => Some(("Not Acceptable Here", format!("SDP: {e}"))),
    }
}

/// The call task: runs one hotline call from INVITE to hang-up. `setup` is released once the
/// call is answered (or refused).
///
/// An INVITE whose SDP we cannot answer is refused (488) before anything is stored: what an
/// unauthenticated caller sends only becomes a `calls` row once it is a call we can take
/// (issue 11); the refusals are counted (`CallStats::refused_sdp`, `/metrics`).
pub(crate) async fn run(ctx: Arc<CallContext>, incoming: IncomingCall, setup: SetupGuard) {
    if let Some((phrase, why)) = offer_refusal(&ctx, &incoming) {
        ctx.stats.refused_sdp.fetch_add(1, Ordering::Relaxed);
        tracing::info!(sip_call_id = %incoming.sip_call_id, reason = %why, "INVITE refused (488), not recorded");
        incoming.leg.reject(488, phrase).await;
        drop(setup);
        return;
    }
    let _active = ctx.stats.enter();
    let id = CallId::new_random();
    let caller = identify_caller(&incoming, &ctx.default_country_code);
    let span = tracing::info_span!(
        "call",
        call_id = %id,
        caller = %caller.number,
        category = tracing::field::Empty,
    );
    session::Session::run(ctx.clone(), id, caller, incoming, setup)
        .instrument(span)
        .await;
}
