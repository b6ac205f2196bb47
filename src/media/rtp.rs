//! RTP packets (RFC 3550 §5.1) and a 20 ms paced sender for G.711 at 8 kHz; sans-IO, no I/O.
//!
//! [`RtpPacket::parse`] validates everything it reads and never panics on any input.
//! [`RtpSender`] decides *when* frames are due (`poll_timeout`, `due`) and *how* they are
//! numbered (`build`); the driver owns the socket and the timer.

use std::time::{Duration, Instant};

/// Fixed RTP header length without CSRCs (RFC 3550 §5.1).
const FIXED_HEADER: usize = 12;
/// One packet every 20 ms (RFC 3551 §4.5: default packetization for G.711).
pub const FRAME: Duration = Duration::from_millis(20);
/// Samples per 20 ms frame at 8 kHz: the timestamp step per frame (RFC 3551 §4.2).
pub const SAMPLES_PER_FRAME: u32 = 160;
/// Most frames `RtpSender::due` reports at once after a stall; older ones are skipped.
pub const MAX_BURST: usize = 5;

/// Why a datagram is not a valid RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("datagram of {len} bytes is shorter than the RTP fixed header")]
    TooShort {
        /// Length of the datagram.
        len: usize,
    },
    /// Version field is not 2.
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    /// The CSRC list or header extension runs past the end of the datagram.
    #[error("RTP header ({needed} bytes) runs past the datagram ({len} bytes)")]
    HeaderTruncated {
        /// Bytes the header claims.
        needed: usize,
        /// Length of the datagram.
        len: usize,
    },
    /// The padding count is zero or larger than the payload.
    #[error("RTP padding of {padding} bytes does not fit a {available}-byte payload")]
    BadPadding {
        /// The padding count from the last byte.
        padding: usize,
        /// Bytes after the header.
        available: usize,
    },
}

/// The header fields we send and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Marker bit: first packet of a talkspurt for audio (RFC 3551 §4.1).
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp (8 kHz clock for G.711 and telephone-event).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// A parsed RTP packet borrowing its payload from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload without header, CSRCs, extension and padding.
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parses and validates one datagram (RFC 3550 §5.1, §5.3.1; validity checks of App. A.1).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let len = buf.len();
        let Some(fixed) = buf.first_chunk::<FIXED_HEADER>() else {
            return Err(RtpError::TooShort { len });
        };
        let version = fixed[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = fixed[0] & 0x20 != 0;
        let has_extension = fixed[0] & 0x10 != 0;
        let csrc_count = usize::from(fixed[0] & 0x0F);
        let mut header_len = FIXED_HEADER + 4 * csrc_count;
        if has_extension {
            // §5.3.1: 16-bit profile id, 16-bit length in 32-bit words, then the data.
            let ext = buf
                .get(header_len..header_len + 4)
                .ok_or(RtpError::HeaderTruncated {
                    needed: header_len + 4,
                    len,
                })?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            header_len += 4 + 4 * words;
        }
        let body = buf.get(header_len..).ok_or(RtpError::HeaderTruncated {
            needed: header_len,
            len,
        })?;
        let payload = if has_padding {
            // §5.1: the last octet counts the padding octets, itself included.
            let padding = usize::from(body.last().copied().unwrap_or(0));
            if padding == 0 || padding > body.len() {
                return Err(RtpError::BadPadding {
                    padding,
                    available: body.len(),
                });
            }
            &body[..body.len() - padding]
        } else {
            body
        };
        Ok(RtpPacket {
            payload_type: fixed[1] & 0x7F,
            marker: fixed[1] & 0x80 != 0,
            sequence: u16::from_be_bytes([fixed[2], fixed[3]]),
            timestamp: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
            ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
            payload,
        })
    }

    /// The header fields of this packet.
    pub fn header(&self) -> RtpHeader {
        RtpHeader {
            payload_type: self.payload_type,
            marker: self.marker,
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
        }
    }
}

/// Appends a version-2 RTP packet without CSRCs, extension or padding to `buf`.
pub fn write_rtp(buf: &mut Vec<u8>, h: &RtpHeader, payload: &[u8]) {
    buf.reserve(FIXED_HEADER + payload.len());
    buf.push(0x80);
    buf.push((u8::from(h.marker) << 7) | (h.payload_type & 0x7F));
    buf.extend_from_slice(&h.sequence.to_be_bytes());
    buf.extend_from_slice(&h.timestamp.to_be_bytes());
    buf.extend_from_slice(&h.ssrc.to_be_bytes());
    buf.extend_from_slice(payload);
}

/// Paces and numbers one outgoing 20 ms stream (one SSRC, one payload type).
///
/// Frame `n` is due at `start + n × 20 ms`, so late wake-ups never accumulate drift.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    start: Instant,
    /// Index of the next frame slot (sent or skipped frames so far).
    frame: u64,
    talkspurt_start: bool,
}

impl RtpSender {
    /// A stream whose first frame is due at `start`; its first packet carries the marker.
    pub fn new(ssrc: u32, payload_type: u8, first_seq: u16, first_ts: u32, start: Instant) -> Self {
        RtpSender {
            ssrc,
            payload_type,
            sequence: first_seq,
            timestamp: first_ts,
            start,
            frame: 0,
            talkspurt_start: true,
        }
    }

    /// The instant the next frame is due.
    pub fn poll_timeout(&self) -> Instant {
        self.slot(self.frame)
    }

    /// How many frames are due at `now` (at most [`MAX_BURST`]).
    ///
    /// After a longer stall the oldest frames are skipped: their timestamps are consumed
    /// (RFC 3550 §5.1: the timestamp follows the sampling clock) but no sequence numbers.
    pub fn due(&mut self, now: Instant) -> usize {
        let due = self.frames_due(now);
        if due > MAX_BURST as u64 {
            self.skip_frames(due - MAX_BURST as u64);
            MAX_BURST
        } else {
            // `due` is at most MAX_BURST here, so it fits a usize.
            due as usize
        }
    }

    /// How many frames are due by `now + ahead`: those due at `now` as [`Self::due`] counts
    /// them, then the ones whose slots come within `ahead` (built early, sent at their slot by
    /// a pacer).
    pub fn due_within(&mut self, now: Instant, ahead: Duration) -> usize {
        let late = self.due(now);
        let early = self.frames_due(now + ahead) - self.frames_due(now);
        late + usize::try_from(early).unwrap_or(usize::MAX)
    }

    /// Drops every frame due at `now` without sending (a pause, e.g. on hold); returns how many.
    pub fn skip_due(&mut self, now: Instant) -> u64 {
        let due = self.frames_due(now);
        self.skip_frames(due);
        due
    }

    /// Lets one frame slot pass unsent (we are on hold): the timestamp advances, the sequence
    /// number does not, and the next packet sent starts a talkspurt.
    pub fn skip_one(&mut self) {
        self.skip_frames(1);
        self.talkspurt_start = true;
    }

    /// Marks the next packet as the first of a talkspurt (RFC 3551 §4.1: marker bit).
    pub fn set_talkspurt_start(&mut self) {
        self.talkspurt_start = true;
    }

    /// Appends the next packet to `out` and advances sequence (+1) and timestamp (+160).
    pub fn build(&mut self, payload: &[u8], marker: bool, out: &mut Vec<u8>) {
        let header = RtpHeader {
            payload_type: self.payload_type,
            marker: marker || self.talkspurt_start,
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
        };
        write_rtp(out, &header, payload);
        self.talkspurt_start = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(SAMPLES_PER_FRAME);
        self.frame += 1;
    }

    /// The SSRC of this stream.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }

    /// The timestamp the next packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp
    }

    fn slot(&self, n: u64) -> Instant {
        self.start + Duration::from_millis(n.saturating_mul(20))
    }

    fn frames_due(&self, now: Instant) -> u64 {
        if now < self.start {
            return 0;
        }
        let elapsed = now.duration_since(self.start).as_millis();
        let slots = u64::try_from(elapsed / 20)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        slots.saturating_sub(self.frame)
    }

    fn skip_frames(&mut self, n: u64) {
        self.frame += n;
        // Timestamps wrap modulo 2^32 (RFC 3550 §5.1), so truncating `n` is exact.
        self.timestamp = self
            .timestamp
            .wrapping_add(SAMPLES_PER_FRAME.wrapping_mul(n as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// V=2, P=1, X=1, CC=1, M=1, PT=0, seq 0x1234, ts 0xDEADBEEF, SSRC 0x01020304, one CSRC,
    /// a one-word extension, payload "abc" and 2 bytes of padding.
    const FULL: [u8; 33] = [
        0xB1, 0x80, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, // fixed
        0x0A, 0x0B, 0x0C, 0x0D, // CSRC
        0xBE, 0xDE, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44, // extension, 1 word
        b'a', b'b', b'c', 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, // payload + padding
    ];

    #[test]
    fn parses_all_header_parts() {
        let p = RtpPacket::parse(&FULL).unwrap();
        assert_eq!(
            p.header(),
            RtpHeader {
                payload_type: 0,
                marker: true,
                sequence: 0x1234,
                timestamp: 0xDEAD_BEEF,
                ssrc: 0x0102_0304
            }
        );
        assert_eq!(p.payload, b"abc\0\0\0\0");
    }

    #[test]
    fn writer_output_parses_back() {
        let h = RtpHeader {
            payload_type: 101,
            marker: false,
            sequence: 7,
            timestamp: 8000,
            ssrc: 42,
        };
        let mut buf = Vec::new();
        write_rtp(&mut buf, &h, &[1, 2, 3]);
        assert_eq!(
            buf,
            [0x80, 101, 0, 7, 0, 0, 0x1F, 0x40, 0, 0, 0, 42, 1, 2, 3]
        );
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!((p.header(), p.payload), (h, &[1u8, 2, 3][..]));
    }

    #[test]
    fn rejects_invalid_headers() {
        assert_eq!(
            RtpPacket::parse(&[0x80; 11]),
            Err(RtpError::TooShort { len: 11 })
        );
        let mut v1 = FULL;
        v1[0] = 0x71;
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::BadVersion(1)));
        let mut zero_pad = FULL;
        zero_pad[32] = 0;
        assert_eq!(
            RtpPacket::parse(&zero_pad),
            Err(RtpError::BadPadding {
                padding: 0,
                available: 9
            })
        );
        let mut huge_pad = FULL;
        huge_pad[32] = 10;
        assert_eq!(
            RtpPacket::parse(&huge_pad),
            Err(RtpError::BadPadding {
                padding: 10,
                available: 9
            })
        );
        let mut many_csrc = FULL;
        many_csrc[0] = 0xAF; // CC=15 needs 72 header bytes
        assert!(matches!(
            RtpPacket::parse(&many_csrc),
            Err(RtpError::HeaderTruncated { .. })
        ));
    }

    #[test]
    fn every_truncation_is_an_error_or_a_shorter_packet() {
        for cut in 0..FULL.len() {
            let r = RtpPacket::parse(&FULL[..cut]);
            if cut < 24 {
                assert!(r.is_err(), "prefix of {cut} bytes parsed as {r:?}");
            } else if let Ok(p) = r {
                assert!(p.payload.len() < 7, "prefix of {cut} bytes");
            }
        }
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut ok = 0;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 64) as usize;
            let mut buf: Vec<u8> = (0..len)
                .map(|i| (x.rotate_left(i as u32 * 5) & 0xFF) as u8)
                .collect();
            if let Some(b) = buf.first_mut() {
                *b = (*b & 0x3F) | 0x80; // mostly version 2, to reach the deeper checks
            }
            if let Ok(p) = RtpPacket::parse(&buf) {
                assert!(p.payload.len() + FIXED_HEADER <= buf.len());
                ok += 1;
            }
        }
        assert!(ok > 0, "the sweep should also produce some valid packets");
    }

    fn parse_all(out: &[Vec<u8>]) -> Vec<RtpHeader> {
        out.iter()
            .map(|b| RtpPacket::parse(b).unwrap().header())
            .collect()
    }

    /// Drives the sender like a driver would: sleep until `poll_timeout() + lateness`, send all due.
    fn run(s: &mut RtpSender, until: Instant, lateness: Duration) -> Vec<Vec<u8>> {
        let mut sent = Vec::new();
        loop {
            let now = s.poll_timeout() + lateness;
            if now >= until {
                return sent;
            }
            for _ in 0..s.due(now) {
                let mut buf = Vec::new();
                s.build(&[0xFF; 160], false, &mut buf);
                sent.push(buf);
            }
        }
    }

    #[test]
    fn fifty_frames_per_second_exactly() {
        let t0 = Instant::now();
        let mut s = RtpSender::new(1, 0, 100, 1000, t0);
        assert_eq!(s.poll_timeout(), t0);
        let sent = run(&mut s, t0 + Duration::from_secs(1), Duration::ZERO);
        assert_eq!(sent.len(), 50);
        let hs = parse_all(&sent);
        assert_eq!(hs[49].sequence, 149);
        assert_eq!(hs[49].timestamp, 1000 + 49 * 160);
        assert_eq!(s.poll_timeout(), t0 + Duration::from_secs(1));
        assert_eq!(s.due(t0 + Duration::from_millis(999)), 0);
    }

    #[test]
    fn no_drift_after_late_wake_ups() {
        let t0 = Instant::now();
        let mut s = RtpSender::new(1, 0, 0, 0, t0);
        // Every wake-up is 13 ms late; after 10 s the stream is still on the 20 ms grid.
        let sent = run(
            &mut s,
            t0 + Duration::from_secs(10),
            Duration::from_millis(13),
        );
        assert_eq!(sent.len(), 500);
        assert_eq!(s.poll_timeout(), t0 + Duration::from_secs(10));
        assert_eq!(s.next_timestamp(), 500 * 160);
    }

    #[test]
    fn long_stall_bursts_at_most_five_and_skips_timestamps() {
        let t0 = Instant::now();
        let mut s = RtpSender::new(9, 8, 10, 0, t0);
        let mut buf = Vec::new();
        assert_eq!(s.due(t0), 1);
        s.build(&[0xD5; 160], false, &mut buf);
        // One second stall: slots 1..=50 are due, only the last five are sent.
        let now = t0 + Duration::from_secs(1);
        assert_eq!(s.due(now), MAX_BURST);
        assert_eq!(s.due(now), MAX_BURST, "due() is idempotent");
        assert_eq!(s.next_timestamp(), 46 * 160);
        assert_eq!(
            s.next_sequence(),
            11,
            "skipped frames consume no sequence numbers"
        );
        for _ in 0..MAX_BURST {
            s.build(&[0xD5; 160], false, &mut buf);
        }
        assert_eq!(s.due(now), 0);
        assert_eq!(s.poll_timeout(), t0 + Duration::from_millis(1020));
    }

    #[test]
    fn sequence_and_timestamp_wrap() {
        let t0 = Instant::now();
        let mut s = RtpSender::new(5, 0, u16::MAX, u32::MAX - 100, t0);
        let sent = run(&mut s, t0 + Duration::from_millis(60), Duration::ZERO);
        let hs = parse_all(&sent);
        let seqs: Vec<u16> = hs.iter().map(|h| h.sequence).collect();
        let tss: Vec<u32> = hs.iter().map(|h| h.timestamp).collect();
        assert_eq!(seqs, [65535, 0, 1]);
        assert_eq!(tss, [u32::MAX - 100, 59, 219]);
        assert!(hs.iter().all(|h| h.ssrc == 5 && h.payload_type == 0));
    }

    #[test]
    fn marker_only_at_talkspurt_starts() {
        let t0 = Instant::now();
        let mut s = RtpSender::new(1, 0, 0, 0, t0);
        let mut sent = run(&mut s, t0 + Duration::from_millis(100), Duration::ZERO);
        // A pause of 200 ms (hold): frames are skipped, then a new talkspurt starts.
        assert_eq!(s.skip_due(t0 + Duration::from_millis(299)), 10);
        s.set_talkspurt_start();
        sent.extend(run(&mut s, t0 + Duration::from_millis(360), Duration::ZERO));
        let hs = parse_all(&sent);
        let markers: Vec<usize> = (0..hs.len()).filter(|&i| hs[i].marker).collect();
        assert_eq!(markers, [0, 5]);
        assert_eq!(hs[5].sequence, 5);
        assert_eq!(
            hs[5].timestamp,
            15 * 160,
            "the pause shows as a timestamp jump"
        );
    }
}
