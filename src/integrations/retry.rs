//! What to do after a delivery attempt, sans-IO: done, retry after a back-off (exponential
//! with jitter, at least what the receiver's `Retry-After` asks), or give up (dead). The worker
//! supplies the attempt count and the random draw, so the policy is tested without time.

use std::time::Duration;

use super::config::RetrySettings;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it (`status`: its HTTP answer, `None` for a no-op such as an
    /// update to a ticket that does not exist yet by configuration).
    Delivered { status: Option<u16> },
    /// Worth trying again: a timeout, no connection, 408, 425, 429 or 5xx.
    Retry {
        status: Option<u16>,
        error: String,
        /// The receiver's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help: the receiver refused the request (another 4xx), or the
    /// ticket system no longer has what the event is about. Kept, dead, with `error`.
    Refused { status: Option<u16>, error: String },
}

impl Outcome {
    /// Refused without an HTTP status: the event cannot be applied (a ticket gone, no intake).
    pub fn refused(error: String) -> Outcome {
        Outcome::Refused {
            status: None,
            error,
        }
    }

    /// Our own database failed while delivering: retried.
    pub fn store_failed(e: &crate::store::StoreError) -> Outcome {
        Outcome::Retry {
            status: None,
            error: format!("database: {}", crate::error_chain(e)),
            retry_after: None,
        }
    }
}

/// What the worker does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Mark delivered.
    Done,
    /// Try again after this wait; later rows of the target wait too (order is kept).
    RetryAfter(Duration),
    /// Mark dead and go on with the next row.
    Dead,
}

/// The back-off of [`RetrySettings`].
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    first: Duration,
    max: Duration,
    max_attempts: u32,
}

impl RetryPolicy {
    /// The policy of `[integrations.retry]`.
    pub fn new(s: &RetrySettings) -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_millis(s.first_ms),
            max: Duration::from_millis(s.max_ms),
            max_attempts: s.max_attempts,
        }
    }

    /// A policy in milliseconds (tests).
    pub fn from_millis(first: u64, max: u64, max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_millis(first),
            max: Duration::from_millis(max),
            max_attempts,
        }
    }

    /// The wait after the `attempts`-th failed attempt: `first · 2^(attempts-1)`, capped at
    /// `max`, then drawn in its upper half by `jitter` ∈ [0, 1) ("equal jitter": no two
    /// senders retry in lock-step, and none retries sooner than half the back-off).
    pub fn delay(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = attempts.saturating_sub(1).min(31);
        let full = self.first.saturating_mul(1u32 << exp).min(self.max);
        let jitter = jitter.clamp(0.0, 1.0);
        full.mul_f64(0.5 + 0.5 * jitter)
    }

    /// The decision after the `attempts`-th attempt (counting this one) ended in `outcome`.
    pub fn decide(&self, attempts: u32, outcome: &Outcome, jitter: f64) -> Decision {
        match outcome {
            Outcome::Delivered { .. } => Decision::Done,
            Outcome::Refused { .. } => Decision::Dead,
            Outcome::Retry { .. } if attempts >= self.max_attempts => Decision::Dead,
            Outcome::Retry { retry_after, .. } => {
                let own = self.delay(attempts, jitter);
                let asked = retry_after.map_or(Duration::ZERO, |d| d.min(self.max));
                Decision::RetryAfter(own.max(asked))
            }
        }
    }
}

/// How an HTTP status ends an attempt: 2xx delivered; 408, 425, 429 and 5xx retried; the
/// rest (other 4xx, redirects, which are not followed) refused.
pub fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered {
            status: Some(status),
        },
        408 | 425 | 429 | 500..=599 => Outcome::Retry {
            status: Some(status),
            error: format!("HTTP {status}: {}", body.trim()),
            retry_after,
        },
        _ => Outcome::Refused {
            status: Some(status),
            error: format!("HTTP {status}: {}", body.trim()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(status: u16) -> Outcome {
        classify(status, "busy", None)
    }

    #[test]
    fn the_back_off_doubles_up_to_the_cap_within_its_upper_half() {
        let p = RetryPolicy::from_millis(1000, 60_000, 10);
        assert_eq!(p.delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(p.delay(1, 1.0), Duration::from_millis(1000));
        assert_eq!(p.delay(2, 0.0), Duration::from_millis(1000));
        assert_eq!(p.delay(4, 1.0), Duration::from_millis(8000));
        // 2^6 s = 64 s is past the cap.
        assert_eq!(p.delay(7, 1.0), Duration::from_secs(60));
        assert_eq!(p.delay(7, 0.0), Duration::from_secs(30));
        // No overflow however many attempts.
        assert_eq!(p.delay(u32::MAX, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn statuses_split_into_delivered_retried_and_refused() {
        assert_eq!(retry(204), Outcome::Delivered { status: Some(204) });
        for s in [408, 425, 429, 500, 502, 503, 504] {
            assert!(matches!(retry(s), Outcome::Retry { .. }), "{s}");
        }
        for s in [301, 400, 401, 403, 404, 409, 413, 422] {
            assert!(matches!(retry(s), Outcome::Refused { .. }), "{s}");
        }
        let Outcome::Refused { error, .. } = classify(400, "  bad field x \n", None) else {
            panic!("400 is refused");
        };
        assert_eq!(error, "HTTP 400: bad field x");
    }

    #[test]
    fn retries_end_dead_after_the_limit_and_respect_retry_after() {
        let p = RetryPolicy::from_millis(100, 10_000, 3);
        assert_eq!(
            p.decide(1, &retry(503), 0.0),
            Decision::RetryAfter(Duration::from_millis(50))
        );
        assert_eq!(
            p.decide(2, &retry(503), 1.0),
            Decision::RetryAfter(Duration::from_millis(200))
        );
        assert_eq!(p.decide(3, &retry(503), 0.5), Decision::Dead);
        assert_eq!(p.decide(1, &retry(400), 0.5), Decision::Dead);
        assert_eq!(p.decide(9, &retry(200), 0.5), Decision::Done);
        let asked = classify(429, "", Some(Duration::from_secs(5)));
        assert_eq!(
            p.decide(1, &asked, 0.0),
            Decision::RetryAfter(Duration::from_secs(5))
        );
        // A Retry-After past the cap is capped.
        let long = classify(503, "", Some(Duration::from_secs(3600)));
        assert_eq!(
            p.decide(1, &long, 0.0),
            Decision::RetryAfter(Duration::from_secs(10))
        );
    }
}
