//! One digit per key press across RFC 4733, SIP INFO and in-band detection; no I/O.

use std::time::{Duration, Instant};

use crate::domain::DtmfMode;

/// How close two reports of the same digit from different sources must be to count as one.
pub const DEFAULT_WINDOW: Duration = Duration::from_millis(300);

/// Deduplicates digits from the three sources of one call.
///
/// Rules, in order:
/// 1. Once any out-of-band digit (RFC 4733 or INFO) has been seen, in-band detections are
///    ignored for the rest of the call: phones that send events often leak the tones too.
/// 2. The same digit from a *different* source within the window of the last accepted digit
///    is the same key press (a duplicate).
/// 3. Everything else is a new press, including the same digit twice from the same source
///    (each source already reports one digit per press).
///
/// [`modes_seen`](Self::modes_seen) lists the sources that produced accepted digits, in
/// order of first use, for the call record.
#[derive(Debug, Clone)]
pub struct DtmfMerger {
    window: Duration,
    last: Option<(Instant, char, DtmfMode)>,
    out_of_band_seen: bool,
    modes: Vec<DtmfMode>,
}

impl Default for DtmfMerger {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW)
    }
}

impl DtmfMerger {
    /// A merger with the given duplicate window (see [`DEFAULT_WINDOW`]).
    pub fn new(window: Duration) -> Self {
        DtmfMerger {
            window,
            last: None,
            out_of_band_seen: false,
            modes: Vec::new(),
        }
    }

    /// Offers a digit from `source`; `Some(digit)` when it is a new key press.
    pub fn on_digit(&mut self, now: Instant, digit: char, source: DtmfMode) -> Option<char> {
        if source == DtmfMode::Inband && self.out_of_band_seen {
            return None;
        }
        if source != DtmfMode::Inband {
            self.out_of_band_seen = true;
        }
        if let Some((at, last_digit, last_source)) = self.last {
            let duplicate = last_digit == digit
                && last_source != source
                && now.saturating_duration_since(at) <= self.window;
            if duplicate {
                return None;
            }
        }
        self.last = Some((now, digit, source));
        if !self.modes.contains(&source) {
            self.modes.push(source);
        }
        Some(digit)
    }

    /// The sources that produced accepted digits, ordered by first use.
    pub fn modes_seen(&self) -> Vec<DtmfMode> {
        self.modes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DtmfMode::{Inband, Info, Rfc4733};

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn same_press_from_two_sources_counts_once() {
        let t0 = Instant::now();
        let mut m = DtmfMerger::default();
        assert_eq!(m.on_digit(ms(t0, 0), '5', Rfc4733), Some('5'));
        assert_eq!(m.on_digit(ms(t0, 120), '5', Info), None);
        assert_eq!(
            m.on_digit(ms(t0, 1000), '5', Info),
            Some('5'),
            "outside the window"
        );
        assert_eq!(m.modes_seen(), [Rfc4733, Info]);
    }

    #[test]
    fn same_digit_twice_from_one_source_is_two_presses() {
        let t0 = Instant::now();
        let mut m = DtmfMerger::default();
        assert_eq!(m.on_digit(ms(t0, 0), '1', Rfc4733), Some('1'));
        assert_eq!(m.on_digit(ms(t0, 150), '1', Rfc4733), Some('1'));
        assert_eq!(
            m.on_digit(ms(t0, 200), '2', Info),
            Some('2'),
            "a different digit is new"
        );
    }

    #[test]
    fn inband_is_ignored_once_out_of_band_was_seen() {
        let t0 = Instant::now();
        let mut m = DtmfMerger::default();
        assert_eq!(m.on_digit(ms(t0, 0), '3', Inband), Some('3'));
        assert_eq!(
            m.on_digit(ms(t0, 40), '3', Rfc4733),
            None,
            "the same press, seen late"
        );
        assert_eq!(m.on_digit(ms(t0, 2000), '4', Inband), None, "leaked tone");
        assert_eq!(m.on_digit(ms(t0, 2010), '4', Rfc4733), Some('4'));
        assert_eq!(m.modes_seen(), [Inband, Rfc4733]);
    }

    #[test]
    fn inband_only_caller_gets_every_press() {
        let t0 = Instant::now();
        let mut m = DtmfMerger::default();
        let got: String = [(0, '2'), (150, '2'), (900, '#')]
            .iter()
            .filter_map(|&(t, d)| m.on_digit(ms(t0, t), d, Inband))
            .collect();
        assert_eq!(got, "22#");
        assert_eq!(m.modes_seen(), [Inband]);
    }
}
