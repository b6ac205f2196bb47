//! The supervisor view (issue 5): a live model of queues, agents and the day's figures fed by
//! the one event stream and the queue engine (`live`, no I/O), its owner task with numbered
//! frames and resume (`feed`), and the audited supervisor actions (`actions`).
//! Protocol and rules: docs/supervisor.md.

pub mod actions;
pub mod feed;
mod live;
mod live_agents;

use serde::Deserialize;

pub use actions::{ActionError, Actions};
pub use feed::{FeedError, FeedFrame, FeedHello, SupervisorConnection, SupervisorFeed};

/// `[supervisor]` settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisorConfig {
    /// A call answered within this many seconds counts toward the service level.
    pub service_level_threshold_secs: u64,
    /// The service level below which the view shows a breach (0..1).
    pub service_level_target: f64,
    /// A caller waiting longer than this is highlighted.
    pub long_wait_secs: u64,
    /// The zone whose midnight starts "today" (`[desk] time_zone`, set at start; the reports'
    /// default zone too, so the live tiles and the daily report count the same day).
    #[serde(skip)]
    pub zone: crate::store::Zone,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            service_level_threshold_secs: 20,
            service_level_target: 0.8,
            long_wait_secs: 120,
            zone: crate::store::Zone::CentralEurope,
        }
    }
}
