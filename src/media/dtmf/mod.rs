//! DTMF digits from the three sources a caller may use, and their deduplication; no I/O.
//!
//! - [`Rfc4733Receiver`]: telephone-event payloads in RTP (RFC 4733 §2.3).
//! - [`parse_info_body`]: SIP INFO bodies (`application/dtmf-relay`, `application/dtmf`).
//! - [`InbandDetector`]: tones in the audio itself (Goertzel, 8 kHz).
//! - [`DtmfMerger`]: one digit per key press across all three, and the modes seen.

mod goertzel;
mod info;
mod merge;
mod rfc4733;

pub use goertzel::{InbandDetector, synthesise};
pub use info::parse_info_body;
pub use merge::{DEFAULT_WINDOW, DtmfMerger};
pub use rfc4733::Rfc4733Receiver;

/// Why a DTMF signal could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    /// The INFO body has a content type we do not read.
    #[error("unsupported DTMF content type {0:?}")]
    UnsupportedContentType(String),
    /// An `application/dtmf-relay` body without a `Signal=` line.
    #[error("DTMF relay body has no Signal line")]
    MissingSignal,
    /// The signal is not one of 0-9, *, #, A-D (or event codes 0-15).
    #[error("invalid DTMF signal {0:?}")]
    InvalidSignal(String),
}

/// The digit for an RFC 4733 §3.2 event code: 0-9, 10 = `*`, 11 = `#`, 12-15 = A-D.
pub fn event_to_digit(code: u8) -> Option<char> {
    match code {
        0..=9 => Some(char::from(b'0' + code)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + code - 12)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_map_to_digits() {
        let all: String = (0..=15).filter_map(event_to_digit).collect();
        assert_eq!(all, "0123456789*#ABCD");
        assert_eq!(event_to_digit(16), None, "flash is not a digit");
        assert_eq!(event_to_digit(255), None);
    }
}
