//! The screen-pop latency histogram: from the routing decision (the `call_offered` event, sent
//! when the INVITE to the agent's phone goes out) to the pop frame queued for the agent's
//! connections. Lock-free counters, read by `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket upper bounds in milliseconds (Prometheus `le`); the last bucket is `+Inf`.
pub const BUCKETS_MS: [u64; 9] = [1, 2, 5, 10, 20, 50, 100, 250, 1000];

/// Cumulative counts per bucket, the sum and the count.
#[derive(Debug, Default)]
pub struct PopLatency {
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

/// A copy of the histogram for exposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopLatencySnapshot {
    /// `(le in ms, cumulative count)` for each finite bucket.
    pub buckets: Vec<(u64, u64)>,
    /// Observations (the `+Inf` bucket).
    pub count: u64,
    /// Sum of all observations in microseconds.
    pub sum_us: u64,
}

impl PopLatency {
    /// Records one pop that took `us` microseconds.
    pub fn observe(&self, us: u64) {
        for (i, le) in BUCKETS_MS.iter().enumerate() {
            if us <= le * 1000 {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The current counts.
    pub fn snapshot(&self) -> PopLatencySnapshot {
        PopLatencySnapshot {
            buckets: (BUCKETS_MS.iter())
                .zip(&self.buckets)
                .map(|(le, c)| (*le, c.load(Ordering::Relaxed)))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// Microseconds since the epoch (the event stream's `at` is epoch milliseconds).
pub(crate) fn now_epoch_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let h = PopLatency::default();
        h.observe(800); // 0.8 ms
        h.observe(7_000); // 7 ms
        h.observe(30_000); // 30 ms
        h.observe(5_000_000); // 5 s: only +Inf
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.sum_us, 5_037_800);
        let le = |ms: u64| s.buckets.iter().find(|(l, _)| *l == ms).map(|(_, c)| *c);
        assert_eq!(le(1), Some(1));
        assert_eq!(le(5), Some(1));
        assert_eq!(le(10), Some(2));
        assert_eq!(le(20), Some(2));
        assert_eq!(le(50), Some(3));
        assert_eq!(le(1000), Some(3));
    }
}
