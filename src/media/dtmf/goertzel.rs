//! In-band DTMF detection with Goertzel filters over 8 kHz audio; sans-IO, no I/O.
//!
//! Audio is cut into blocks of 105 samples (13.1 ms; the filters' 76 Hz bins put the
//! neighbouring DTMF frequencies near their nulls). A block names a digit when one row and
//! one column tone stand out (ITU-T Q.24 style checks, below); a press is reported once
//! three consecutive blocks (≈ 39 ms) agree at a steady level, and ends after two blocks
//! (≈ 26 ms) without it, so a held key reports once and a 20 ms blip never does.

use std::f32::consts::PI;

/// Sample rate of the audio pushed in.
const RATE: f32 = 8000.0;
/// Samples per analysis block.
const BLOCK: usize = 105;
/// Row (low group) and column (high group) frequencies in Hz (ITU-T Q.23).
const FREQS: [f32; 8] = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
/// Keypad layout by row and column.
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Smallest tone amplitude accepted (16-bit scale; 300 ≈ -37 dBm0 per tone).
const MIN_AMPLITUDE: f32 = 300.0;
/// Normal twist (column weaker than row) up to 8 dB, as a power ratio.
const MAX_NORMAL_TWIST: f32 = 6.31;
/// Reverse twist (row weaker than column) up to 4 dB, as a power ratio.
const MAX_REVERSE_TWIST: f32 = 2.51;
/// Every other tone of a group must be at least 6 dB below the group's peak.
const MIN_PEAK_RATIO: f32 = 4.0;
/// The two tones must carry at least this share of the block's energy (rejects speech, noise).
const MIN_TONE_SHARE: f32 = 0.6;
/// Consecutive agreeing blocks before a press is reported (3 × 13.1 ms ≈ 39 ms).
const MIN_BLOCKS: usize = 3;
/// Those blocks must lie within 6 dB of each other (a power ratio).
const MAX_LEVEL_SPREAD: f32 = 4.0;
/// Blocks without the digit that end a press (2 × 13.1 ms ≈ 26 ms).
const END_BLOCKS: u8 = 2;

/// Goertzel DTMF detector for one incoming 8 kHz stream; push audio in chunks of any size.
#[derive(Debug, Clone)]
pub struct InbandDetector {
    coeffs: [f32; 8],
    s1: [f32; 8],
    s2: [f32; 8],
    energy: f32,
    filled: usize,
    /// Digit of the current run of agreeing blocks, with their tone energies (newest last).
    candidate: Option<char>,
    run_levels: Vec<f32>,
    /// The press already reported, and how many blocks since it was last heard.
    reported: Option<char>,
    missing: u8,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    /// A detector at the start of a stream.
    pub fn new() -> Self {
        InbandDetector {
            coeffs: FREQS.map(|f| 2.0 * (2.0 * PI * f / RATE).cos()),
            s1: [0.0; 8],
            s2: [0.0; 8],
            energy: 0.0,
            filled: 0,
            candidate: None,
            run_levels: Vec::with_capacity(MIN_BLOCKS),
            reported: None,
            missing: 0,
        }
    }

    /// Feeds 8 kHz samples; returns the digits whose presses were recognised in them.
    pub fn push(&mut self, pcm: &[i16]) -> Vec<char> {
        let mut digits = Vec::new();
        for &sample in pcm {
            let x = f32::from(sample);
            for i in 0..8 {
                let s0 = x + self.coeffs[i] * self.s1[i] - self.s2[i];
                self.s2[i] = self.s1[i];
                self.s1[i] = s0;
            }
            self.energy += x * x;
            self.filled += 1;
            if self.filled == BLOCK {
                let block = self.classify();
                self.s1 = [0.0; 8];
                self.s2 = [0.0; 8];
                self.energy = 0.0;
                self.filled = 0;
                if let Some(d) = self.on_block(block) {
                    digits.push(d);
                }
            }
        }
        digits
    }

    /// The digit a finished block carries, with the two tones' energy.
    fn classify(&self) -> Option<(char, f32)> {
        // Goertzel power of a sine of amplitude A is (A·N/2)²; ×2/N turns it into block energy.
        let energies: [f32; 8] = std::array::from_fn(|i| {
            let (s1, s2) = (self.s1[i], self.s2[i]);
            (s1 * s1 + s2 * s2 - self.coeffs[i] * s1 * s2) * 2.0 / BLOCK as f32
        });
        let (row, row_e) = peak(&energies[..4])?;
        let (col, col_e) = peak(&energies[4..])?;
        let min_energy = MIN_AMPLITUDE * MIN_AMPLITUDE * BLOCK as f32 / 2.0;
        let strong = row_e >= min_energy && col_e >= min_energy;
        let twist_ok = row_e <= col_e * MAX_NORMAL_TWIST && col_e <= row_e * MAX_REVERSE_TWIST;
        let isolated = |group: &[f32], peak_i: usize, peak_e: f32| {
            group
                .iter()
                .enumerate()
                .all(|(i, &e)| i == peak_i || e * MIN_PEAK_RATIO <= peak_e)
        };
        let clean = isolated(&energies[..4], row, row_e) && isolated(&energies[4..], col, col_e);
        let dominant = row_e + col_e >= MIN_TONE_SHARE * self.energy;
        let key = KEYS.get(row).and_then(|r| r.get(col)).copied()?;
        (strong && twist_ok && clean && dominant).then_some((key, row_e + col_e))
    }

    /// Updates the press state with one block; `Some` when a new press is recognised.
    fn on_block(&mut self, block: Option<(char, f32)>) -> Option<char> {
        match block {
            Some((d, level)) if self.candidate == Some(d) => {
                if self.run_levels.len() == MIN_BLOCKS {
                    self.run_levels.remove(0);
                }
                self.run_levels.push(level);
            }
            Some((d, level)) => {
                self.candidate = Some(d);
                self.run_levels.clear();
                self.run_levels.push(level);
            }
            None => {
                self.candidate = None;
                self.run_levels.clear();
            }
        }
        if let Some(held) = self.reported {
            if block.map(|(d, _)| d) == Some(held) {
                self.missing = 0;
            } else {
                self.missing += 1;
                if self.missing >= END_BLOCKS {
                    self.reported = None;
                }
            }
        }
        let (lo, hi) = self
            .run_levels
            .iter()
            .fold((f32::MAX, 0.0f32), |(lo, hi), &l| (lo.min(l), hi.max(l)));
        let steady = self.run_levels.len() == MIN_BLOCKS && hi <= lo * MAX_LEVEL_SPREAD;
        if self.reported.is_none() && steady {
            self.reported = self.candidate;
            self.missing = 0;
            return self.candidate;
        }
        None
    }
}

/// Index and value of the largest entry.
fn peak(group: &[f32]) -> Option<(usize, f32)> {
    group
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Synthesises in-band DTMF (8 kHz PCM): each digit 100 ms of its two tones at about -10 dBm0,
/// then 60 ms of silence (ITU-T Q.24 allows ≥ 40 ms each). Characters that are no key are skipped.
pub fn synthesise(digits: &str) -> Vec<i16> {
    const TONE: usize = 800;
    const GAP: usize = 480;
    const AMPLITUDE: f32 = 5000.0;
    let mut out = Vec::with_capacity(digits.len() * (TONE + GAP));
    for d in digits.chars() {
        let Some((r, c)) = (0..16)
            .map(|i| (i / 4, i % 4))
            .find(|&(r, c)| KEYS[r][c] == d)
        else {
            continue;
        };
        let (lo, hi) = (FREQS[r], FREQS[4 + c]);
        out.extend((0..TONE).map(|n| {
            let t = n as f32 / RATE;
            let v = AMPLITUDE * ((2.0 * PI * lo * t).sin() + (2.0 * PI * hi * t).sin());
            v as i16
        }));
        out.extend(std::iter::repeat_n(0, GAP));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::g711::G711;

    /// Per-tone amplitude of about -13 dBm0 (0 dBm0 ≈ 22 656 peak on the 16-bit scale),
    /// so the pair is about -10 dBm0.
    const LEVEL: f32 = 5000.0;

    fn tone(freqs: &[(f32, f32)], ms: usize) -> Vec<f32> {
        (0..ms * 8)
            .map(|n| {
                freqs
                    .iter()
                    .map(|&(f, a)| a * (2.0 * PI * f * n as f32 / RATE).sin())
                    .sum()
            })
            .collect()
    }

    fn key_freqs(digit: char) -> (f32, f32) {
        let (r, c) = (0..16)
            .map(|i| (i / 4, i % 4))
            .find(|&(r, c)| KEYS[r][c] == digit)
            .unwrap();
        (FREQS[r], FREQS[4 + c])
    }

    fn key(digit: char, ms: usize) -> Vec<f32> {
        let (r, c) = key_freqs(digit);
        tone(&[(r, LEVEL), (c, LEVEL)], ms)
    }

    #[test]
    fn synthesised_digits_are_detected() {
        let pcm = synthesise("159#*0D");
        assert_eq!(pcm.len(), 7 * 1280);
        let mut d = InbandDetector::new();
        let got: String = pcm.chunks(160).flat_map(|c| d.push(c)).collect();
        assert_eq!(got, "159#*0D");
        assert!(synthesise("x?").is_empty(), "no key, no tone");
    }

    fn silence(ms: usize) -> Vec<f32> {
        vec![0.0; ms * 8]
    }

    /// Deterministic uniform noise in [-amp, amp].
    fn noise(len: usize, amp: f32, seed: u64) -> Vec<f32> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0) * amp
            })
            .collect()
    }

    fn pcm(signal: &[f32]) -> Vec<i16> {
        signal
            .iter()
            .map(|&v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }

    /// Runs a detector over `audio` in chunks of varying sizes and collects the digits.
    fn detect(audio: &[i16]) -> String {
        let mut d = InbandDetector::new();
        let mut out = String::new();
        let mut rest = audio;
        for size in [1usize, 37, 160, 333, 20].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            out.extend(d.push(chunk));
            rest = tail;
        }
        out
    }

    fn sequence(digits: &str, on_ms: usize, off_ms: usize) -> Vec<f32> {
        let mut v = silence(off_ms);
        for d in digits.chars() {
            v.extend(key(d, on_ms));
            v.extend(silence(off_ms));
        }
        v
    }

    const ALL: &str = "123A456B789C*0#D";

    #[test]
    fn detects_every_digit() {
        assert_eq!(detect(&pcm(&sequence(ALL, 80, 80))), ALL);
    }

    #[test]
    fn detects_every_digit_in_noise_after_ulaw_round_trip() {
        let clean = sequence(ALL, 70, 60);
        let noisy: Vec<f32> = clean
            .iter()
            .zip(noise(clean.len(), 1500.0, 7))
            .map(|(a, b)| a + b)
            .collect();
        for codec in [G711::Pcmu, G711::Pcma] {
            let (mut bytes, mut decoded) = (Vec::new(), Vec::new());
            codec.encode_into(&pcm(&noisy), &mut bytes);
            codec.decode_into(&bytes, &mut decoded);
            assert_eq!(detect(&decoded), ALL, "{codec:?}");
        }
    }

    #[test]
    fn detects_weak_tones_twist_and_frequency_drift() {
        // -25 dBm0 per tone.
        let weak: Vec<f32> = sequence("59", 60, 60)
            .iter()
            .map(|v| v * 1274.0 / LEVEL)
            .collect();
        assert_eq!(detect(&pcm(&weak)), "59");
        // 6 dB normal twist, 3 dB reverse twist, and both tones 1.5 % off.
        let (r, c) = key_freqs('8');
        let mut v = tone(&[(r, LEVEL), (c, LEVEL / 2.0)], 60);
        v.extend(silence(60));
        v.extend(tone(&[(r, LEVEL / 1.41), (c, LEVEL)], 60));
        v.extend(silence(60));
        v.extend(tone(&[(r * 1.015, LEVEL), (c * 0.985, LEVEL)], 60));
        assert_eq!(detect(&pcm(&v)), "888");
    }

    #[test]
    fn rejects_excess_twist() {
        let (r, c) = key_freqs('1');
        // 10 dB normal twist and 6 dB reverse twist are outside Q.24's limits.
        let mut v = tone(&[(r, LEVEL), (c, LEVEL / 3.16)], 100);
        v.extend(silence(60));
        v.extend(tone(&[(r, LEVEL / 2.0), (c, LEVEL)], 100));
        assert_eq!(detect(&pcm(&v)), "");
    }

    #[test]
    fn held_key_reports_once_and_a_50ms_gap_makes_two_presses() {
        assert_eq!(detect(&pcm(&key('7', 1500))), "7");
        let mut v = key('5', 70);
        v.extend(silence(50));
        v.extend(key('5', 70));
        assert_eq!(detect(&pcm(&v)), "55");
        // A different key straight after another is a new press too.
        let mut w = key('1', 80);
        w.extend(key('2', 80));
        assert_eq!(detect(&pcm(&w)), "12");
    }

    #[test]
    fn short_blips_do_not_report_at_any_alignment() {
        for offset in (0..BLOCK).step_by(5) {
            let mut v = vec![0.0; offset];
            v.extend(key('3', 20));
            v.extend(silence(100));
            assert_eq!(detect(&pcm(&v)), "", "offset {offset}");
        }
    }

    #[test]
    fn fifty_ms_presses_report_at_any_alignment() {
        for offset in (0..BLOCK).step_by(5) {
            let mut v = vec![0.0; offset];
            v.extend(key('6', 50));
            v.extend(silence(60));
            assert_eq!(detect(&pcm(&v)), "6", "offset {offset}");
        }
    }

    #[test]
    fn music_and_noise_do_not_report() {
        let chirp: Vec<f32> = (0..16_000)
            .map(|n| {
                let t = n as f32 / RATE;
                // 300 Hz to 3400 Hz over two seconds.
                8000.0 * (2.0 * PI * (300.0 * t + 775.0 * t * t)).sin()
            })
            .collect();
        assert_eq!(detect(&pcm(&chirp)), "", "chirp");
        assert_eq!(
            detect(&pcm(&tone(&[(1000.0, 10_000.0)], 2000))),
            "",
            "1 kHz"
        );
        assert_eq!(detect(&pcm(&noise(16_000, 8000.0, 3))), "", "white noise");
        let c_major = tone(&[(261.6, 4000.0), (329.6, 4000.0), (392.0, 4000.0)], 2000);
        assert_eq!(detect(&pcm(&c_major)), "", "C major chord");
        let a_major = tone(&[(440.0, 4000.0), (554.4, 4000.0), (659.3, 4000.0)], 2000);
        assert_eq!(detect(&pcm(&a_major)), "", "A major chord");
        // A row tone with two column tones at once is not a key.
        let two_cols = tone(&[(697.0, LEVEL), (1209.0, LEVEL), (1336.0, LEVEL)], 500);
        assert_eq!(detect(&pcm(&two_cols)), "", "row with two columns");
    }

    /// The 16-bit mono samples of a PCM WAV file (walks the RIFF chunks to `data`).
    fn wav_samples(bytes: &[u8]) -> Vec<i16> {
        let mut pos = 12;
        while pos + 8 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
            if &bytes[pos..pos + 4] == b"data" {
                let end = (pos + 8 + len).min(bytes.len());
                return bytes[pos + 8..end]
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
            }
            pos += 8 + len + (len & 1);
        }
        panic!("no data chunk");
    }

    #[test]
    fn speech_does_not_report() {
        for (name, wav) in [
            (
                "speech-en",
                &include_bytes!("../../../tests/data/speech-en.wav")[..],
            ),
            (
                "speech-nl",
                &include_bytes!("../../../tests/data/speech-nl.wav")[..],
            ),
        ] {
            let samples = wav_samples(wav);
            assert_eq!(samples.len(), 16_000, "{name}: 2 s at 8 kHz");
            assert_eq!(detect(&samples), "", "{name}");
        }
    }

    #[test]
    fn ivr_prompts_do_not_report() {
        // Present in the real crate (ivr-prompts/ is generated by scripts/); skipped elsewhere.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr-prompts");
        for lang in ["en", "nl"] {
            let Ok(dir) = std::fs::read_dir(root.join(lang)) else {
                continue;
            };
            for entry in dir {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "wav") {
                    let samples = wav_samples(&std::fs::read(&path).unwrap());
                    assert_eq!(detect(&samples), "", "{}", path.display());
                }
            }
        }
    }
}
