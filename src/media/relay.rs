//! RTP relay between two call legs (no I/O): re-stamps each packet for the other leg (our SSRC,
//! the source's sequence numbers and timestamps shifted by a per-source offset), transcodes
//! PCMU↔PCMA when the legs negotiated different codecs, and maps the telephone-event payload
//! type (DTMF pass-through).
//!
//! Sequence numbers are translated, not renumbered (RFC 3550 §7.2): the offset is set when a
//! source starts (its SSRC changes), so our stream continues without a jump, and a packet lost
//! before us stays a gap the far end can count; only the packets the relay itself drops (a
//! payload type the far leg cannot carry) are closed up, so they do not count as loss.

use super::g711::{G711, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode};
use super::rtp::{RtpHeader, RtpPacket, write_rtp};

/// One leg's negotiated media: codec with its payload type, and telephone-event's, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegFormat {
    /// The audio codec.
    pub codec: G711,
    /// Its payload type on this leg.
    pub audio_pt: u8,
    /// telephone-event's payload type on this leg.
    pub event_pt: Option<u8>,
}

/// What the relay did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayed {
    /// Audio written to `out`.
    Audio,
    /// A telephone-event written to `out`.
    Event,
    /// Not forwarded: unknown payload type, or an event the other leg cannot carry.
    Dropped,
}

/// A jump ahead in a source's sequence numbers beyond this is a restarted sender, not loss
/// (RFC 3550 A.1).
const MAX_DROPOUT: u16 = 3000;
/// A packet further behind than this is a restarted sender, not a late one (RFC 3550 A.1).
const MAX_MISORDER: u16 = 100;

/// The stream being relayed: its SSRC and how its numbering maps onto ours.
#[derive(Debug, Clone, Copy)]
struct Source {
    ssrc: u32,
    /// Added to the source's sequence numbers.
    seq_offset: u16,
    /// Added to the source's timestamps.
    ts_offset: u32,
}

/// One direction of a bridge: packets from leg `from` re-stamped for leg `to`.
#[derive(Debug)]
pub struct RtpRelay {
    from: LegFormat,
    to: LegFormat,
    ssrc: u32,
    /// One past the highest sequence number we sent (where a new source continues).
    next_seq: u16,
    /// The current source and the offsets that map its sequence numbers and clock onto ours.
    source: Option<Source>,
    /// The last timestamp we sent, to re-base continuously when the source changes SSRC.
    last_ts: Option<u32>,
    payload: Vec<u8>,
}

impl RtpRelay {
    /// A relay that sends with `ssrc`, starting at sequence `first_seq`.
    pub fn new(from: LegFormat, to: LegFormat, ssrc: u32, first_seq: u16) -> Self {
        RtpRelay {
            from,
            to,
            ssrc,
            next_seq: first_seq,
            source: None,
            last_ts: None,
            payload: Vec::with_capacity(172),
        }
    }

    /// Continues an existing stream: the first relayed packet gets timestamp `next_ts` (so a
    /// leg that heard our prompts sees one continuous stream when the bridge starts).
    pub fn continuing(mut self, next_ts: u32) -> Self {
        self.last_ts = Some(next_ts.wrapping_sub(160));
        self
    }

    /// Where our stream stands: SSRC, next sequence number and next timestamp (to hand the
    /// stream over to another sender, e.g. hold music, without a jump back).
    pub fn position(&self) -> (u32, u16, Option<u32>) {
        (
            self.ssrc,
            self.next_seq,
            self.last_ts.map(|t| t.wrapping_add(160)),
        )
    }

    /// Whether packets of this payload type belong to the `from` leg's negotiated media.
    pub fn accepts(&self, payload_type: u8) -> bool {
        payload_type == self.from.audio_pt || Some(payload_type) == self.from.event_pt
    }

    /// Re-stamps `packet` (from leg `from`) for leg `to`, appending it to `out`.
    pub fn relay(&mut self, packet: &RtpPacket<'_>, out: &mut Vec<u8>) -> Relayed {
        match self.restamp(packet) {
            Some((kind, p)) => {
                let header = RtpHeader {
                    payload_type: p.payload_type,
                    marker: p.marker,
                    sequence: p.sequence,
                    timestamp: p.timestamp,
                    ssrc: p.ssrc,
                };
                write_rtp(out, &header, p.payload);
                kind
            }
            None => Relayed::Dropped,
        }
    }

    /// Re-stamps `packet` (from leg `from`) for leg `to` without serialising it (for a leg whose
    /// stack builds the datagram itself, e.g. SRTP to a browser); `None` when it is not
    /// forwarded. The payload is the source's, or the transcoded copy held by the relay.
    pub fn restamp<'a>(&'a mut self, packet: &RtpPacket<'a>) -> Option<(Relayed, RtpPacket<'a>)> {
        let (kind, payload_type) = if packet.payload_type == self.from.audio_pt {
            (Relayed::Audio, Some(self.to.audio_pt))
        } else if Some(packet.payload_type) == self.from.event_pt {
            // RFC 4733 §2.6: without telephone-event on the far leg the event is not sent as RTP.
            (Relayed::Event, self.to.event_pt)
        } else {
            (Relayed::Dropped, None)
        };
        let Some(payload_type) = payload_type else {
            self.dropped(packet);
            return None;
        };
        let source = self.source_of(packet);
        let timestamp = packet.timestamp.wrapping_add(source.ts_offset);
        let sequence = packet.sequence.wrapping_add(source.seq_offset);
        if self.is_newest(sequence) {
            self.next_seq = sequence.wrapping_add(1);
            self.last_ts = Some(timestamp);
        }
        let payload: &[u8] = if kind == Relayed::Audio && self.from.codec != self.to.codec {
            self.payload.clear();
            self.payload.extend(
                packet
                    .payload
                    .iter()
                    .map(|&b| transcode(self.from.codec, self.to.codec, b)),
            );
            &self.payload
        } else {
            packet.payload
        };
        Some((
            kind,
            RtpPacket {
                payload_type,
                marker: packet.marker,
                sequence,
                timestamp,
                ssrc: self.ssrc,
                payload,
            },
        ))
    }

    /// The offsets for `packet`'s source (RFC 3550 §7.2: a translator keeps sequence and
    /// timing). A new source starts just after the last packet we sent (the next sequence
    /// number, the timestamp one 20 ms frame on): a new SSRC, or the same SSRC whose numbering
    /// jumped further than loss or reordering explain (RFC 3550 A.1, a restarted sender).
    fn source_of(&mut self, packet: &RtpPacket<'_>) -> Source {
        match self.source {
            Some(s)
                if s.ssrc == packet.ssrc
                    && !self.is_restart(packet.sequence.wrapping_add(s.seq_offset)) =>
            {
                s
            }
            _ => {
                let start = self
                    .last_ts
                    .map_or(packet.timestamp, |t| t.wrapping_add(160));
                let s = Source {
                    ssrc: packet.ssrc,
                    seq_offset: self.next_seq.wrapping_sub(packet.sequence),
                    ts_offset: start.wrapping_sub(packet.timestamp),
                };
                self.source = Some(s);
                s
            }
        }
    }

    /// Whether our `sequence` is at or past the next one expected (RFC 3550 A.1: modulo 2^16,
    /// within half the space), rather than a late or repeated packet.
    fn is_newest(&self, sequence: u16) -> bool {
        sequence.wrapping_sub(self.next_seq) < 0x8000
    }

    /// Whether our `sequence` is too far from the next one expected to be the same stream:
    /// more than `MAX_DROPOUT` ahead or `MAX_MISORDER` behind (RFC 3550 A.1).
    fn is_restart(&self, sequence: u16) -> bool {
        let ahead = sequence.wrapping_sub(self.next_seq);
        let behind = self.next_seq.wrapping_sub(sequence);
        ahead > MAX_DROPOUT && behind > MAX_MISORDER
    }

    /// A packet of the current source that we do not forward: dropped by us, not lost, so the
    /// packets after it close up (a newer packet only; a late one leaves the numbering alone).
    fn dropped(&mut self, packet: &RtpPacket<'_>) {
        let Some(s) = self.source else { return };
        let sequence = packet.sequence.wrapping_add(s.seq_offset);
        if s.ssrc == packet.ssrc && self.is_newest(sequence) && !self.is_restart(sequence) {
            self.source = Some(Source {
                seq_offset: s.seq_offset.wrapping_sub(1),
                ..s
            });
        }
    }
}

/// One G.711 byte from one law to the other (G.711 Annex A tables would be exact; decoding and
/// re-encoding through linear PCM is within one quantisation step).
fn transcode(from: G711, to: G711, b: u8) -> u8 {
    match (from, to) {
        (G711::Pcmu, G711::Pcma) => alaw_encode(ulaw_decode(b)),
        (G711::Pcma, G711::Pcmu) => ulaw_encode(alaw_decode(b)),
        _ => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PCMU: LegFormat = LegFormat {
        codec: G711::Pcmu,
        audio_pt: 0,
        event_pt: Some(101),
    };
    const PCMA: LegFormat = LegFormat {
        codec: G711::Pcma,
        audio_pt: 8,
        event_pt: Some(96),
    };

    fn packet(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let h = RtpHeader {
            payload_type: pt,
            marker,
            sequence: seq,
            timestamp: ts,
            ssrc,
        };
        write_rtp(&mut v, &h, payload);
        v
    }

    fn relay_one(r: &mut RtpRelay, bytes: &[u8]) -> (Relayed, Vec<u8>) {
        let p = RtpPacket::parse(bytes).unwrap();
        let mut out = Vec::new();
        let kind = r.relay(&p, &mut out);
        (kind, out)
    }

    /// The sequence numbers we send for packets with these source sequence numbers and SSRCs.
    fn relayed_seqs(r: &mut RtpRelay, packets: &[(u8, u16, u32)]) -> Vec<u16> {
        packets
            .iter()
            .filter_map(|&(pt, seq, ssrc)| {
                let ts = u32::from(seq) * 160;
                let (kind, out) = relay_one(r, &packet(pt, seq, ts, ssrc, false, &[0xff; 160]));
                (kind != Relayed::Dropped).then(|| RtpPacket::parse(&out).unwrap().sequence)
            })
            .collect()
    }

    #[test]
    fn restamps_with_own_ssrc_and_starts_at_first_seq() {
        let mut r = RtpRelay::new(PCMU, PCMU, 0xabcd, 65534);
        let mut seqs = Vec::new();
        for i in 0..4u16 {
            let bytes = packet(
                0,
                100 + i,
                8000 + u32::from(i) * 160,
                7,
                i == 0,
                &[0xff; 160],
            );
            let (kind, out) = relay_one(&mut r, &bytes);
            assert_eq!(kind, Relayed::Audio);
            let p = RtpPacket::parse(&out).unwrap();
            assert_eq!(p.ssrc, 0xabcd);
            assert_eq!(p.marker, i == 0);
            assert_eq!(p.payload, &[0xff; 160][..]);
            seqs.push(p.sequence);
        }
        assert_eq!(seqs, vec![65534, 65535, 0, 1], "wraps modulo 2^16");
    }

    #[test]
    fn a_packet_lost_upstream_stays_a_gap() {
        let mut r = RtpRelay::new(PCMU, PCMU, 1, 500);
        // Source packet 102 never arrived; 105 and 106 came swapped.
        let seqs = relayed_seqs(
            &mut r,
            &[
                (0, 100, 7),
                (0, 101, 7),
                (0, 103, 7),
                (0, 104, 7),
                (0, 106, 7),
                (0, 105, 7),
            ],
        );
        assert_eq!(seqs, vec![500, 501, 503, 504, 506, 505]);
        assert_eq!(
            r.position().1,
            507,
            "a late packet does not move the stream back"
        );
    }

    #[test]
    fn a_new_source_continues_our_numbering() {
        let mut r = RtpRelay::new(PCMU, PCMU, 1, 10);
        // The phone restarts its stream with a new SSRC and unrelated numbering; later a loss.
        let seqs = relayed_seqs(
            &mut r,
            &[
                (0, 40_000, 7),
                (0, 40_001, 7),
                (0, 3, 8),
                (0, 4, 8),
                (0, 6, 8),
            ],
        );
        assert_eq!(seqs, vec![10, 11, 12, 13, 15]);
        // The same SSRC jumping far ahead is a restarted sender, not 20,000 lost packets.
        let seqs = relayed_seqs(&mut r, &[(0, 20_006, 8), (0, 20_007, 8)]);
        assert_eq!(seqs, vec![16, 17]);
    }

    #[test]
    fn packets_the_relay_drops_leave_no_gap() {
        let no_events = LegFormat {
            event_pt: None,
            ..PCMA
        };
        let mut r = RtpRelay::new(PCMU, no_events, 1, 0);
        // 101 is a telephone-event the far leg cannot carry, 13 an unknown payload type; 5 is
        // lost upstream and stays a gap.
        let seqs = relayed_seqs(
            &mut r,
            &[
                (0, 1, 7),
                (101, 2, 7),
                (0, 3, 7),
                (13, 4, 7),
                (0, 6, 7),
                (0, 7, 7),
            ],
        );
        assert_eq!(seqs, vec![0, 1, 3, 4]);
    }

    #[test]
    fn transcodes_between_laws() {
        let mut r = RtpRelay::new(PCMU, PCMA, 1, 0);
        let ulaw: Vec<u8> = (0..=255).collect();
        let (_, out) = relay_one(&mut r, &packet(0, 1, 0, 9, false, &ulaw));
        let p = RtpPacket::parse(&out).unwrap();
        assert_eq!(p.payload_type, 8);
        for (u, a) in ulaw.iter().zip(p.payload) {
            let (x, y) = (i32::from(ulaw_decode(*u)), i32::from(alaw_decode(*a)));
            // One A-law step at that level at most (A-law steps are 2^(segment+1) and up to 1024).
            let step = (x.abs() / 16).max(16);
            assert!(
                (x - y).abs() <= step,
                "µ-law {u:#x} → {x}, A-law {a:#x} → {y}"
            );
        }
    }

    #[test]
    fn maps_event_payload_type_and_drops_when_far_leg_has_none() {
        let mut r = RtpRelay::new(PCMU, PCMA, 1, 0);
        let event = [5u8, 0x8a, 0x03, 0x20];
        let (kind, out) = relay_one(&mut r, &packet(101, 1, 0, 9, true, &event));
        assert_eq!(kind, Relayed::Event);
        let p = RtpPacket::parse(&out).unwrap();
        assert_eq!((p.payload_type, p.payload), (96, &event[..]));

        let no_events = LegFormat {
            event_pt: None,
            ..PCMA
        };
        let mut r = RtpRelay::new(PCMU, no_events, 1, 0);
        assert_eq!(
            relay_one(&mut r, &packet(101, 1, 0, 9, true, &event)).0,
            Relayed::Dropped
        );
        assert_eq!(
            relay_one(&mut r, &packet(13, 1, 0, 9, false, &[0])).0,
            Relayed::Dropped
        );
    }

    #[test]
    fn timestamps_keep_source_timing_and_stay_continuous_across_ssrc_change() {
        let mut r = RtpRelay::new(PCMU, PCMU, 1, 0);
        let ts = |bytes: &[u8], r: &mut RtpRelay| {
            RtpPacket::parse(&relay_one(r, bytes).1).unwrap().timestamp
        };
        let a = ts(&packet(0, 1, 1_000, 5, false, &[0; 160]), &mut r);
        let b = ts(&packet(0, 2, 1_480, 5, false, &[0; 160]), &mut r);
        assert_eq!(
            b.wrapping_sub(a),
            480,
            "a 60 ms gap at the source stays 60 ms"
        );
        // The phone restarts its stream (new SSRC, unrelated timestamp): we continue after `b`.
        let c = ts(&packet(0, 1, 4_000_000_000, 6, true, &[0; 160]), &mut r);
        assert_eq!(c.wrapping_sub(b), 160);
        let d = ts(&packet(0, 2, 4_000_000_160, 6, false, &[0; 160]), &mut r);
        assert_eq!(d.wrapping_sub(c), 160);
    }

    #[test]
    fn restamp_gives_what_relay_writes() {
        let payload: Vec<u8> = (0..160u16).map(|i| (i * 7 % 256) as u8).collect();
        for (from, to) in [(PCMU, PCMU), (PCMU, PCMA), (PCMA, PCMU)] {
            let (mut a, mut b) = (
                RtpRelay::new(from, to, 42, 1000),
                RtpRelay::new(from, to, 42, 1000),
            );
            for (seq, pt) in [(7, from.audio_pt), (8, 101), (9, 96), (10, 13)] {
                let bytes = packet(pt, seq, u32::from(seq) * 160, 9, false, &payload);
                let (kind, written) = relay_one(&mut a, &bytes);
                let p = RtpPacket::parse(&bytes).unwrap();
                match b.restamp(&p) {
                    Some((k, r)) => {
                        assert_eq!(k, kind);
                        assert_eq!(RtpPacket::parse(&written).unwrap(), r, "{from:?} -> {to:?}");
                    }
                    None => assert_eq!(kind, Relayed::Dropped),
                }
            }
        }
    }
}
