//! Test tones: a sine of a given frequency, and the share of a signal's power at one frequency
//! (Goertzel), to check audio by content rather than by packet counts.

use firstline::media::g711::{alaw_decode, alaw_encode};

/// `secs` seconds of a sine at `freq` Hz, -10 dBFS, 8 kHz.
pub(crate) fn tone(freq: f64, secs: f64) -> Vec<i16> {
    let amp = 32767.0 * 10f64.powf(-10.0 / 20.0);
    (0..(secs * 8000.0) as usize)
        .map(|n| (amp * (2.0 * std::f64::consts::PI * freq * n as f64 / 8000.0).sin()) as i16)
        .collect()
}

/// Share of the signal's power at `freq` (Goertzel, normalised: a pure tone gives about 1,
/// silence or another tone about 0).
pub(crate) fn tone_share(pcm: &[i16], freq: f64) -> f64 {
    let n = pcm.len() as f64;
    if pcm.is_empty() {
        return 0.0;
    }
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / 8000.0).cos();
    let (mut s1, mut s2, mut energy) = (0f64, 0f64, 0f64);
    for &x in pcm {
        let x = x as f64;
        energy += x * x;
        let s0 = x + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    if energy <= 0.0 {
        return 0.0;
    }
    // |X|² ≈ (A·N/2)² and the energy is A²·N/2 for a sine of amplitude A.
    2.0 * power / (n * energy)
}

#[test]
fn tone_share_tells_tones_apart() {
    let a = tone(440.0, 1.0);
    let b = tone(1000.0, 1.0);
    assert!(tone_share(&a, 440.0) > 0.95, "{}", tone_share(&a, 440.0));
    assert!(tone_share(&a, 1000.0) < 0.01, "{}", tone_share(&a, 1000.0));
    assert!(tone_share(&b, 1000.0) > 0.95);
    let through_alaw: Vec<i16> = b.iter().map(|&s| alaw_decode(alaw_encode(s))).collect();
    assert!(tone_share(&through_alaw, 1000.0) > 0.9);
    assert_eq!(tone_share(&[0i16; 800], 1000.0), 0.0);
}
