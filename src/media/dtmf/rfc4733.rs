//! RFC 4733 telephone-event receiver: one digit per event, reported at its first packet; no I/O.

use std::time::{Duration, Instant};

use super::event_to_digit;

/// Events remembered to recognise late redundant packets.
const HISTORY: usize = 4;
/// How long an event is remembered after its last packet.
const FORGET_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
struct Seen {
    timestamp: u32,
    code: u8,
    /// Largest duration seen so far, in timestamp units.
    duration: u16,
    ended: bool,
    last: Instant,
}

/// Turns telephone-event payloads into digits (the caller has already filtered by payload type).
///
/// RFC 4733 §2.3: all packets of one event carry the event's start timestamp, so the
/// timestamp identifies the event. The digit is reported at the first packet seen for a
/// new timestamp (start, update or end: §2.5.2.2 says a lost start must not lose the digit),
/// and never again for updates, the three redundant end packets (§2.5.1.4) or retransmissions.
#[derive(Debug, Clone, Default)]
pub struct Rfc4733Receiver {
    seen: Vec<Seen>,
}

impl Rfc4733Receiver {
    /// A receiver with no events seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one telephone-event payload; `Some(digit)` when a new key press starts.
    pub fn on_packet(&mut self, now: Instant, rtp_timestamp: u32, payload: &[u8]) -> Option<char> {
        // §2.3: event (8) | E (1) R (1) volume (6) | duration (16). Extra bytes are ignored.
        let &[code, flags, d0, d1, ..] = payload else {
            return None;
        };
        let ended = flags & 0x80 != 0;
        let duration = u16::from_be_bytes([d0, d1]);
        self.seen
            .retain(|s| now.saturating_duration_since(s.last) < FORGET_AFTER);

        if let Some(s) = self.seen.iter_mut().find(|s| s.timestamp == rtp_timestamp) {
            s.duration = s.duration.max(duration);
            s.ended |= ended;
            s.last = now;
            return None;
        }
        // §2.5.1.3: an event longer than the 16-bit duration continues in a new segment
        // whose timestamp is the old one plus its duration; that is the same key press.
        let continuation = self.seen.iter().any(|s| {
            !s.ended
                && s.code == code
                && s.timestamp.wrapping_add(u32::from(s.duration)) == rtp_timestamp
        });
        if self.seen.len() == HISTORY {
            self.seen.remove(0);
        }
        self.seen.push(Seen {
            timestamp: rtp_timestamp,
            code,
            duration,
            ended,
            last: now,
        });
        if continuation {
            None
        } else {
            event_to_digit(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: u8, end: bool, duration: u16) -> [u8; 4] {
        let [d0, d1] = duration.to_be_bytes();
        [code, if end { 0x80 | 10 } else { 10 }, d0, d1]
    }

    /// A full event as a phone sends it: start, updates every 20 ms, three end packets.
    fn event_packets(code: u8, updates: u16) -> Vec<[u8; 4]> {
        let mut v: Vec<[u8; 4]> = (0..=updates).map(|i| ev(code, false, i * 160)).collect();
        v.extend([ev(code, true, (updates + 1) * 160); 3]);
        v
    }

    #[test]
    fn one_digit_per_event_reported_at_start() {
        let t0 = Instant::now();
        let mut r = Rfc4733Receiver::new();
        let mut got = Vec::new();
        for (i, (code, ts)) in [(5u8, 1000u32), (5, 3000), (11, 5000), (12, 7000)]
            .into_iter()
            .enumerate()
        {
            for (j, p) in event_packets(code, 5).iter().enumerate() {
                let now = t0 + Duration::from_millis((i * 500 + j * 20) as u64);
                if let Some(d) = r.on_packet(now, ts, p) {
                    got.push((d, j));
                }
            }
        }
        assert_eq!(got, [('5', 0), ('5', 0), ('#', 0), ('A', 0)]);
    }

    #[test]
    fn event_with_only_end_packets_is_reported_once() {
        let t0 = Instant::now();
        let mut r = Rfc4733Receiver::new();
        assert_eq!(r.on_packet(t0, 4242, &ev(7, true, 800)), Some('7'));
        assert_eq!(r.on_packet(t0, 4242, &ev(7, true, 800)), None);
        assert_eq!(
            r.on_packet(t0 + Duration::from_millis(40), 4242, &ev(7, true, 800)),
            None
        );
    }

    #[test]
    fn late_retransmission_of_an_older_event_is_not_a_new_digit() {
        let t0 = Instant::now();
        let mut r = Rfc4733Receiver::new();
        assert_eq!(r.on_packet(t0, 100, &ev(1, false, 0)), Some('1'));
        assert_eq!(r.on_packet(t0, 900, &ev(2, false, 0)), Some('2'));
        assert_eq!(r.on_packet(t0, 100, &ev(1, true, 640)), None);
    }

    #[test]
    fn ignores_non_digit_events_and_malformed_payloads() {
        let t0 = Instant::now();
        let mut r = Rfc4733Receiver::new();
        assert_eq!(r.on_packet(t0, 1, &ev(16, false, 0)), None, "flash");
        assert_eq!(r.on_packet(t0, 2, &ev(70, true, 0)), None);
        for len in 0..4 {
            assert_eq!(r.on_packet(t0, 3, &[9u8, 0, 0, 0][..len]), None);
        }
        assert_eq!(
            r.on_packet(t0, 3, &[9, 0, 0, 0]),
            Some('9'),
            "a short payload is not remembered"
        );
    }

    #[test]
    fn long_event_segments_are_one_press() {
        let t0 = Instant::now();
        let mut r = Rfc4733Receiver::new();
        assert_eq!(r.on_packet(t0, 10_000, &ev(0, false, 0)), Some('0'));
        assert_eq!(r.on_packet(t0, 10_000, &ev(0, false, 0xFFFF)), None);
        // §2.5.1.3: the next segment starts at timestamp + 0xFFFF.
        assert_eq!(r.on_packet(t0, 10_000 + 0xFFFF, &ev(0, false, 160)), None);
        assert_eq!(r.on_packet(t0, 10_000 + 0xFFFF, &ev(0, true, 320)), None);
    }

    #[test]
    fn same_timestamp_much_later_is_a_new_press() {
        let t0 = Instant::now();
        let mut r = Rfc4733Receiver::new();
        assert_eq!(r.on_packet(t0, 0, &ev(3, true, 800)), Some('3'));
        assert_eq!(
            r.on_packet(t0 + Duration::from_secs(6), 0, &ev(3, false, 0)),
            Some('3')
        );
    }
}
