//! Per-target delivery counters since start, for `/metrics` and the admin page.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one target.
#[derive(Debug, Default)]
pub(super) struct Stats {
    delivered: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
    lag_ms_sum: AtomicU64,
    lag_ms_max: AtomicU64,
    last_error: Mutex<Option<(i64, String)>>,
    last_delivered_at: AtomicU64,
}

/// A copy of [`Stats`].
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StatsSnapshot {
    /// Rows delivered.
    pub delivered: u64,
    /// Failed attempts that will be retried.
    pub retried: u64,
    /// Rows given up.
    pub dead: u64,
    /// Mean time from the change to its delivery, ms.
    pub mean_lag_ms: u64,
    /// The longest, ms.
    pub max_lag_ms: u64,
    /// The last failure: (epoch ms, error).
    pub last_error: Option<(i64, String)>,
    /// The last delivery (epoch ms; 0: none yet).
    pub last_delivered_at: u64,
}

impl Stats {
    pub(super) fn delivered(&self, lag_ms: i64) {
        let lag = u64::try_from(lag_ms).unwrap_or(0);
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.lag_ms_sum.fetch_add(lag, Ordering::Relaxed);
        self.lag_ms_max.fetch_max(lag, Ordering::Relaxed);
        self.last_delivered_at.store(
            u64::try_from(crate::store::now_ms()).unwrap_or(0),
            Ordering::Relaxed,
        );
    }

    pub(super) fn retried(&self, at: i64, error: &str) {
        self.retried.fetch_add(1, Ordering::Relaxed);
        self.set_error(at, error);
    }

    pub(super) fn dead(&self, at: i64, error: &str) {
        self.dead.fetch_add(1, Ordering::Relaxed);
        self.set_error(at, error);
    }

    fn set_error(&self, at: i64, error: &str) {
        let mut last = self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *last = Some((at, crate::store::outbox::bounded_error(error)));
    }

    pub(super) fn snapshot(&self) -> StatsSnapshot {
        let delivered = self.delivered.load(Ordering::Relaxed);
        StatsSnapshot {
            delivered,
            retried: self.retried.load(Ordering::Relaxed),
            dead: self.dead.load(Ordering::Relaxed),
            mean_lag_ms: self.lag_ms_sum.load(Ordering::Relaxed) / delivered.max(1),
            max_lag_ms: self.lag_ms_max.load(Ordering::Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            last_delivered_at: self.last_delivered_at.load(Ordering::Relaxed),
        }
    }
}
