//! Test-side RTP (RFC 3550) and audio: a caller's media socket, DTMF tones, prompt comparison.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use firstline::media::g711::{ulaw_decode, ulaw_encode};
use tokio::net::UdpSocket;

/// One received RTP packet.
#[derive(Debug, Clone)]
pub(crate) struct RtpPacket {
    pub(crate) pt: u8,
    pub(crate) marker: bool,
    pub(crate) seq: u16,
    pub(crate) ts: u32,
    pub(crate) ssrc: u32,
    pub(crate) payload: Vec<u8>,
}

/// Parses an RTP packet (RFC 3550 §5.1), honouring CSRCs, extension and padding.
pub(crate) fn parse_rtp(b: &[u8]) -> Option<RtpPacket> {
    if b.len() < 12 || b[0] >> 6 != 2 {
        return None;
    }
    let cc = (b[0] & 0x0f) as usize;
    let mut off = 12 + 4 * cc;
    if b[0] & 0x10 != 0 {
        let ext = b.get(off + 2..off + 4)?;
        off += 4 + 4 * u16::from_be_bytes([ext[0], ext[1]]) as usize;
    }
    let mut end = b.len();
    if b[0] & 0x20 != 0 {
        end = end.checked_sub(*b.last()? as usize)?;
    }
    Some(RtpPacket {
        pt: b[1] & 0x7f,
        marker: b[1] & 0x80 != 0,
        seq: u16::from_be_bytes([b[2], b[3]]),
        ts: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        payload: b.get(off..end)?.to_vec(),
    })
}

/// The caller's media socket and its sending state.
pub(crate) struct RtpPeer {
    /// Bound on 127.0.0.1:0.
    pub(crate) sock: UdpSocket,
    seq: u16,
    ts: u32,
    ssrc: u32,
    first: bool,
}

impl RtpPeer {
    /// A fresh RTP socket.
    pub(crate) async fn bind() -> RtpPeer {
        RtpPeer {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            seq: crate::helpers::random_u64() as u16,
            ts: crate::helpers::random_u64() as u32,
            ssrc: crate::helpers::random_u64() as u32,
            first: true,
        }
    }

    /// Local address (what an honest SDP offer advertises).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// The next PCMU packet of our stream (the marker on the first), not sent.
    pub(crate) fn next_pcmu(&mut self, frame: &[i16]) -> Vec<u8> {
        let mut p = Vec::with_capacity(12 + frame.len());
        p.push(0x80);
        p.push(if self.first { 0x80 } else { 0 });
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend(frame.iter().map(|&s| ulaw_encode(s)));
        self.first = false;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(frame.len() as u32);
        p
    }

    /// Sends `pcm` in 20 ms frames paced in real time, draining what arrives meanwhile.
    pub(crate) async fn play(&mut self, to: SocketAddr, pcm: &[i16]) -> Vec<RtpPacket> {
        self.play_with(to, pcm, |p| p, |d| parse_rtp(d)).await.1
    }

    /// [`Self::play`] with each packet passed through `seal` before it goes out (e.g. SRTP)
    /// and each datagram that arrives through `open`; what went out and what arrived.
    pub(crate) async fn play_with(
        &mut self,
        to: SocketAddr,
        pcm: &[i16],
        mut seal: impl FnMut(Vec<u8>) -> Vec<u8>,
        mut open: impl FnMut(&mut [u8]) -> Option<RtpPacket>,
    ) -> (Vec<Vec<u8>>, Vec<RtpPacket>) {
        let (mut sent, mut got) = (Vec::new(), Vec::new());
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut buf = [0u8; 2048];
        for frame in pcm.chunks(160) {
            tick.tick().await;
            let mut f = frame.to_vec();
            f.resize(160, 0);
            let wire = seal(self.next_pcmu(&f));
            self.sock.send_to(&wire, to).await.unwrap();
            sent.push(wire);
            while let Ok((n, _)) = self.sock.try_recv_from(&mut buf) {
                got.extend(open(&mut buf[..n]));
            }
        }
        (sent, got)
    }
}

/// DTMF frequency pairs (ITU-T Q.23): (low, high) in Hz.
fn dtmf_freqs(digit: char) -> Option<(f64, f64)> {
    let low = match digit {
        '1' | '2' | '3' | 'A' => 697.0,
        '4' | '5' | '6' | 'B' => 770.0,
        '7' | '8' | '9' | 'C' => 852.0,
        '*' | '0' | '#' | 'D' => 941.0,
        _ => return None,
    };
    let high = match digit {
        '1' | '4' | '7' | '*' => 1209.0,
        '2' | '5' | '8' | '0' => 1336.0,
        '3' | '6' | '9' | '#' => 1477.0,
        _ => 1633.0,
    };
    Some((low, high))
}

/// 8 kHz PCM of the digits: each `tone_ms` of dual tone (each tone at about -13 dBFS, sum about
/// -10 dBFS peak) followed by `gap_ms` of silence.
pub(crate) fn dtmf_pcm(digits: &str, tone_ms: usize, gap_ms: usize) -> Vec<i16> {
    let amp = 32767.0 * 10f64.powf(-13.0 / 20.0) * 0.7;
    let mut out = Vec::new();
    for d in digits.chars() {
        let (lo, hi) = dtmf_freqs(d).unwrap_or_else(|| panic!("not a DTMF digit: {d}"));
        for n in 0..tone_ms * 8 {
            let t = n as f64 / 8000.0;
            let v = amp
                * ((2.0 * std::f64::consts::PI * lo * t).sin()
                    + (2.0 * std::f64::consts::PI * hi * t).sin());
            out.push(v.round() as i16);
        }
        out.extend(std::iter::repeat_n(0i16, gap_ms * 8));
    }
    out
}

/// Reads a prompt WAV (8 kHz mono 16-bit) into samples.
pub(crate) fn read_wav(path: &Path) -> Vec<i16> {
    let mut r =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (8000, 1, 16),
        "{}",
        path.display()
    );
    r.samples::<i16>().map(Result::unwrap).collect()
}

/// Decodes PCMU payloads of the packets (PT 0) in order.
pub(crate) fn decode_pcmu(packets: &[RtpPacket]) -> Vec<i16> {
    packets
        .iter()
        .filter(|p| p.pt == 0)
        .flat_map(|p| p.payload.iter().map(|&b| ulaw_decode(b)))
        .collect()
}

/// Best normalised cross-correlation of `reference[..len]` against `received` shifted by
/// 0..=`max_shift` samples; returns (correlation, shift).
pub(crate) fn best_alignment(
    received: &[i16],
    reference: &[i16],
    len: usize,
    max_shift: usize,
) -> (f64, usize) {
    let r = &reference[..len.min(reference.len())];
    let mut best = (f64::MIN, 0);
    for shift in 0..=max_shift {
        let Some(x) = received.get(shift..shift + r.len()) else {
            break;
        };
        let (mut xy, mut xx, mut yy) = (0f64, 0f64, 0f64);
        for (&a, &b) in x.iter().zip(r) {
            let (a, b) = (a as f64, b as f64);
            xy += a * b;
            xx += a * a;
            yy += b * b;
        }
        let c = if xx > 0.0 && yy > 0.0 {
            xy / (xx.sqrt() * yy.sqrt())
        } else {
            0.0
        };
        if c > best.0 {
            best = (c, shift);
        }
    }
    best
}

/// Checks RTP pacing facts of one stream: one SSRC, consecutive sequence numbers, +160
/// timestamps, marker on the first packet. Returns a description of the first fault.
pub(crate) fn stream_fault(packets: &[RtpPacket]) -> Option<String> {
    let first = packets.first()?;
    if !first.marker {
        return Some("first packet has no marker bit".into());
    }
    for w in packets.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if a.ssrc != b.ssrc {
            return Some(format!(
                "SSRC changed {:08x} -> {:08x} at seq {}",
                a.ssrc, b.ssrc, b.seq
            ));
        }
        if b.seq != a.seq.wrapping_add(1) {
            return Some(format!("sequence jumped {} -> {}", a.seq, b.seq));
        }
        if b.pt == 0 && a.pt == 0 && b.ts != a.ts.wrapping_add(160) {
            return Some(format!(
                "timestamp {} -> {} (seq {}), expected +160",
                a.ts, b.ts, b.seq
            ));
        }
        if b.pt == 0 && b.payload.len() != 160 {
            return Some(format!(
                "payload of {} bytes at seq {}",
                b.payload.len(),
                b.seq
            ));
        }
    }
    None
}

#[test]
fn dtmf_tone_has_the_two_frequencies() {
    // Goertzel power at 697+1336 Hz ('2') dominates 770 and 1209 Hz.
    let pcm = dtmf_pcm("2", 100, 0);
    let power = |f: f64| {
        let k = 2.0 * (2.0 * std::f64::consts::PI * f / 8000.0).cos();
        let (mut s1, mut s2) = (0f64, 0f64);
        for &x in &pcm {
            let s0 = x as f64 + k * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - k * s1 * s2
    };
    assert!(power(697.0) > 100.0 * power(770.0));
    assert!(power(1336.0) > 100.0 * power(1209.0));
    assert_eq!(pcm.len(), 800);
}

#[test]
fn alignment_finds_the_shift() {
    let reference: Vec<i16> = (0..4000)
        .map(|i| ((i * 37 % 101) as i16 - 50) * 100)
        .collect();
    let mut received = vec![0i16; 240];
    received.extend(reference.iter().map(|&s| ulaw_decode(ulaw_encode(s))));
    let (c, shift) = best_alignment(&received, &reference, 2000, 800);
    assert_eq!(shift, 240);
    assert!(c > 0.99, "{c}");
}
