//! The ringing tone an agent hears while we dial a customer through the trunk (no I/O): 425 Hz,
//! one second on and four off (ETSI ES 201 970 / ITU-T E.180, as in the Netherlands and most of
//! Europe), as 20 ms G.711 frames.

use super::g711::G711;

/// Samples per 20 ms frame at 8 kHz.
const FRAME: usize = 160;
/// Frames in one cadence period (5 s) and of its tone part (1 s).
const PERIOD: u32 = 250;
const ON: u32 = 50;
/// Level: about -13 dBm0, loud enough to hear, far from clipping.
const AMPLITUDE: f32 = 5000.0;

/// An endless ringing tone.
#[derive(Debug, Clone)]
pub struct Ringback {
    frame: u32,
    phase: f32,
    pcm: Vec<i16>,
}

impl Default for Ringback {
    fn default() -> Self {
        Self::new()
    }
}

impl Ringback {
    /// Starts at the beginning of a ring.
    pub fn new() -> Self {
        Ringback {
            frame: 0,
            phase: 0.0,
            pcm: Vec::with_capacity(FRAME),
        }
    }

    /// Appends the next 20 ms (160 bytes) in `codec` to `out`.
    pub fn next_frame(&mut self, codec: G711, out: &mut Vec<u8>) {
        self.pcm.clear();
        if self.frame % PERIOD < ON {
            let step = 2.0 * std::f32::consts::PI * 425.0 / 8000.0;
            for _ in 0..FRAME {
                self.pcm.push((self.phase.sin() * AMPLITUDE) as i16);
                self.phase = (self.phase + step) % (2.0 * std::f32::consts::PI);
            }
        } else {
            self.pcm.resize(FRAME, 0);
        }
        self.frame = self.frame.wrapping_add(1);
        codec.encode_into(&self.pcm, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn energy(frame: &[u8]) -> f64 {
        let mut pcm = Vec::new();
        G711::Pcma.decode_into(frame, &mut pcm);
        pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64
    }

    #[test]
    fn one_second_of_425_hz_then_four_of_silence() {
        let mut r = Ringback::new();
        let frames: Vec<Vec<u8>> = (0..2 * PERIOD)
            .map(|_| {
                let mut out = Vec::new();
                r.next_frame(G711::Pcma, &mut out);
                out
            })
            .collect();
        assert!(frames.iter().all(|f| f.len() == FRAME));
        let on = |i: u32| energy(&frames[i as usize]) > 1.0e6;
        assert!((0..ON).all(on), "the first second rings");
        assert!((ON..PERIOD).all(|i| !on(i)), "then four seconds of silence");
        assert!((PERIOD..PERIOD + ON).all(on), "and it rings again");
        // 425 Hz: about 8.5 cycles per frame, so ~17 sign changes.
        let mut pcm = Vec::new();
        G711::Pcma.decode_into(&frames[3], &mut pcm);
        let crossings = pcm.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((15..=19).contains(&crossings), "{crossings} zero crossings");
    }
}
