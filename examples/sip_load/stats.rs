//! What a load run counts: attempts, completions with their latency, failures by reason; and
//! the one-line JSON summary the bench scripts read. No I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::dialog::Failure;

/// The tallies of one run.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) started: u64,
    latencies_ms: Vec<f64>,
    failures: BTreeMap<String, u64>,
}

impl Tally {
    /// Records how attempt ended.
    pub(crate) fn record(&mut self, r: Result<Duration, Failure>) {
        match r {
            Ok(d) => self.latencies_ms.push(d.as_secs_f64() * 1000.0),
            Err(f) => *self.failures.entry(f.to_string()).or_default() += 1,
        }
    }

    /// Completed attempts.
    pub(crate) fn ok(&self) -> u64 {
        self.latencies_ms.len() as u64
    }

    /// Failed attempts (never started ones included).
    pub(crate) fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// The summary: counts, rates over `secs`, latency percentiles, failures by reason.
    pub(crate) fn summary(&mut self, secs: f64, extra: serde_json::Value) -> serde_json::Value {
        let mut v = serde_json::json!({
            "started": self.started,
            "ok": self.ok(),
            "failed": self.failed(),
            "secs": (secs * 100.0).round() / 100.0,
            "ok_per_sec": if secs > 0.0 { (self.ok() as f64 / secs * 10.0).round() / 10.0 } else { 0.0 },
            "latency_ms": percentiles(&mut self.latencies_ms),
            "failures": self.failures,
        });
        if let (Some(to), serde_json::Value::Object(from)) = (v.as_object_mut(), extra) {
            to.extend(from);
        }
        v
    }
}

/// p50, p99 and max of a sample (nearest rank), rounded to 0.01 ms; zeros when empty.
fn percentiles(v: &mut [f64]) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| -> f64 {
        let rank = ((q * v.len() as f64).ceil() as usize).saturating_sub(1);
        v.get(rank).map_or(0.0, |x| (x * 100.0).round() / 100.0)
    };
    serde_json::json!({ "p50": at(0.50), "p99": at(0.99), "max": at(1.0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_and_ranks() {
        let mut t = Tally {
            started: 102,
            ..Tally::default()
        };
        for ms in 1..=100 {
            t.record(Ok(Duration::from_millis(ms)));
        }
        t.record(Err(Failure::Timeout("INVITE")));
        t.record(Err(Failure::Status("INVITE", 503)));
        let s = t.summary(10.0, serde_json::json!({ "mode": "call" }));
        assert_eq!(s["ok"], 100);
        assert_eq!(s["failed"], 2);
        assert_eq!(s["ok_per_sec"], 10.0);
        assert_eq!(s["latency_ms"]["p50"], 50.0);
        assert_eq!(s["latency_ms"]["p99"], 99.0);
        assert_eq!(s["latency_ms"]["max"], 100.0);
        assert_eq!(s["failures"]["INVITE_503"], 1);
        assert_eq!(s["failures"]["timeout_INVITE"], 1);
        assert_eq!(s["mode"], "call");
    }
}
