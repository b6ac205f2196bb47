//! G.711 µ-law (PCMU) and A-law (PCMA) codecs (ITU-T G.711); pure functions, no I/O.
//!
//! Encoding rounds the 16-bit sample to the nearest 14-bit (µ-law) or 13-bit (A-law) value
//! before companding, as sox does; decoding uses 256-entry tables built at compile time.
//! Both directions match sox bit for bit (see the tests).

/// µ-law bias in 14-bit units (G.711 §2: 33).
const ULAW_BIAS: i32 = 33;
/// Largest µ-law magnitude in 14-bit units before the bias (8159).
const ULAW_CLIP: i32 = 8159;

/// A G.711 variant as negotiated in SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum G711 {
    /// µ-law, static RTP payload type 0 (RFC 3551 §6).
    Pcmu,
    /// A-law, static RTP payload type 8 (RFC 3551 §6).
    Pcma,
}

impl G711 {
    /// The static RTP payload type (RFC 3551 §6, table 4).
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    /// The SDP `a=rtpmap` encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            G711::Pcmu => "PCMU",
            G711::Pcma => "PCMA",
        }
    }

    /// Appends one byte per sample to `out`.
    pub fn encode_into(&self, pcm: &[i16], out: &mut Vec<u8>) {
        let f = match self {
            G711::Pcmu => ulaw_encode,
            G711::Pcma => alaw_encode,
        };
        out.extend(pcm.iter().map(|&s| f(s)));
    }

    /// Appends one sample per payload byte to `out`.
    pub fn decode_into(&self, payload: &[u8], out: &mut Vec<i16>) {
        let table = match self {
            G711::Pcmu => &ULAW_TABLE,
            G711::Pcma => &ALAW_TABLE,
        };
        out.extend(payload.iter().map(|&c| table[usize::from(c)]));
    }
}

/// Encodes one 16-bit linear sample as µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    // Round to 14 bits (the µ-law input precision), saturating at the top.
    let mut v = ((i32::from(sample) + 2) >> 2).min(8191);
    let mask = if v < 0 {
        v = -v;
        0x7F
    } else {
        0xFF
    };
    v = v.min(ULAW_CLIP) + ULAW_BIAS;
    // Segment = position of the highest set bit above bit 5 (v is in 33..=8192);
    // 8192 (segment 8) saturates to the top code.
    let seg = (31 - v.leading_zeros() as i32 - 5).max(0);
    let code = if seg > 7 {
        0x7F
    } else {
        (seg << 4) | ((v >> (seg + 1)) & 0x0F)
    };
    (code ^ mask) as u8
}

/// Decodes one µ-law byte to a 16-bit linear sample.
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[usize::from(code)]
}

/// Encodes one 16-bit linear sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    // Round to 13 bits (the A-law input precision), saturating at the top.
    let mut v = ((i32::from(sample) + 4) >> 3).min(4095);
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    // Segment: 0 for v < 32, else the highest set bit minus 4 (v is in 0..=4095).
    let seg = (31 - (v | 1).leading_zeros() as i32 - 4).clamp(0, 7);
    let mantissa = if seg < 2 {
        (v >> 1) & 0x0F
    } else {
        (v >> seg) & 0x0F
    };
    (((seg << 4) | mantissa) ^ mask) as u8
}

/// Decodes one A-law byte to a 16-bit linear sample.
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[usize::from(code)]
}

const fn ulaw_decode_const(code: u8) -> i16 {
    let c = !code;
    let mut t = (((c & 0x0F) as i32) << 3) + 0x84;
    t <<= (c & 0x70) >> 4;
    (if c & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

const fn alaw_decode_const(code: u8) -> i16 {
    let c = code ^ 0x55;
    let mut t = ((c & 0x0F) as i32) << 4;
    let seg = (c & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    (if c & 0x80 != 0 { t } else { -t }) as i16
}

/// Builds a decode table at compile time; `ulaw` selects the law.
const fn build_table(ulaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if ulaw {
            ulaw_decode_const(i as u8)
        } else {
            alaw_decode_const(i as u8)
        };
        i += 1;
    }
    table
}

static ULAW_TABLE: [i16; 256] = build_table(true);
static ALAW_TABLE: [i16; 256] = build_table(false);

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values produced with sox 14.4 (`sox -D -t raw -e signed -b 16 … -e u-law`,
    // `-e a-law`, and the reverse for all 256 codes).
    const SOX_ULAW_DECODE: [i16; 256] = [
        -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, -23932, -22908, -21884,
        -20860, -19836, -18812, -17788, -16764, -15996, -15484, -14972, -14460, -13948, -13436,
        -12924, -12412, -11900, -11388, -10876, -10364, -9852, -9340, -8828, -8316, -7932, -7676,
        -7420, -7164, -6908, -6652, -6396, -6140, -5884, -5628, -5372, -5116, -4860, -4604, -4348,
        -4092, -3900, -3772, -3644, -3516, -3388, -3260, -3132, -3004, -2876, -2748, -2620, -2492,
        -2364, -2236, -2108, -1980, -1884, -1820, -1756, -1692, -1628, -1564, -1500, -1436, -1372,
        -1308, -1244, -1180, -1116, -1052, -988, -924, -876, -844, -812, -780, -748, -716, -684,
        -652, -620, -588, -556, -524, -492, -460, -428, -396, -372, -356, -340, -324, -308, -292,
        -276, -260, -244, -228, -212, -196, -180, -164, -148, -132, -120, -112, -104, -96, -88,
        -80, -72, -64, -56, -48, -40, -32, -24, -16, -8, 0, 32124, 31100, 30076, 29052, 28028,
        27004, 25980, 24956, 23932, 22908, 21884, 20860, 19836, 18812, 17788, 16764, 15996, 15484,
        14972, 14460, 13948, 13436, 12924, 12412, 11900, 11388, 10876, 10364, 9852, 9340, 8828,
        8316, 7932, 7676, 7420, 7164, 6908, 6652, 6396, 6140, 5884, 5628, 5372, 5116, 4860, 4604,
        4348, 4092, 3900, 3772, 3644, 3516, 3388, 3260, 3132, 3004, 2876, 2748, 2620, 2492, 2364,
        2236, 2108, 1980, 1884, 1820, 1756, 1692, 1628, 1564, 1500, 1436, 1372, 1308, 1244, 1180,
        1116, 1052, 988, 924, 876, 844, 812, 780, 748, 716, 684, 652, 620, 588, 556, 524, 492, 460,
        428, 396, 372, 356, 340, 324, 308, 292, 276, 260, 244, 228, 212, 196, 180, 164, 148, 132,
        120, 112, 104, 96, 88, 80, 72, 64, 56, 48, 40, 32, 24, 16, 8, 0,
    ];

    const SOX_ALAW_DECODE: [i16; 256] = [
        -5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736, -7552, -7296, -8064, -7808, -6528,
        -6272, -7040, -6784, -2752, -2624, -3008, -2880, -2240, -2112, -2496, -2368, -3776, -3648,
        -4032, -3904, -3264, -3136, -3520, -3392, -22016, -20992, -24064, -23040, -17920, -16896,
        -19968, -18944, -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136, -11008,
        -10496, -12032, -11520, -8960, -8448, -9984, -9472, -15104, -14592, -16128, -15616, -13056,
        -12544, -14080, -13568, -344, -328, -376, -360, -280, -264, -312, -296, -472, -456, -504,
        -488, -408, -392, -440, -424, -88, -72, -120, -104, -24, -8, -56, -40, -216, -200, -248,
        -232, -152, -136, -184, -168, -1376, -1312, -1504, -1440, -1120, -1056, -1248, -1184,
        -1888, -1824, -2016, -1952, -1632, -1568, -1760, -1696, -688, -656, -752, -720, -560, -528,
        -624, -592, -944, -912, -1008, -976, -816, -784, -880, -848, 5504, 5248, 6016, 5760, 4480,
        4224, 4992, 4736, 7552, 7296, 8064, 7808, 6528, 6272, 7040, 6784, 2752, 2624, 3008, 2880,
        2240, 2112, 2496, 2368, 3776, 3648, 4032, 3904, 3264, 3136, 3520, 3392, 22016, 20992,
        24064, 23040, 17920, 16896, 19968, 18944, 30208, 29184, 32256, 31232, 26112, 25088, 28160,
        27136, 11008, 10496, 12032, 11520, 8960, 8448, 9984, 9472, 15104, 14592, 16128, 15616,
        13056, 12544, 14080, 13568, 344, 328, 376, 360, 280, 264, 312, 296, 472, 456, 504, 488,
        408, 392, 440, 424, 88, 72, 120, 104, 24, 8, 56, 40, 216, 200, 248, 232, 152, 136, 184,
        168, 1376, 1312, 1504, 1440, 1120, 1056, 1248, 1184, 1888, 1824, 2016, 1952, 1632, 1568,
        1760, 1696, 688, 656, 752, 720, 560, 528, 624, 592, 944, 912, 1008, 976, 816, 784, 880,
        848,
    ];

    /// (input, sox µ-law, sox A-law): every 257th input plus edges.
    const SOX_ENCODE: [(i16, u8, u8); 271] = [
        (-32768, 0x00, 0x2a),
        (-32767, 0x00, 0x2a),
        (-32635, 0x00, 0x2a),
        (-32511, 0x00, 0x2a),
        (-32254, 0x00, 0x2a),
        (-31997, 0x00, 0x2a),
        (-31740, 0x00, 0x2b),
        (-31483, 0x01, 0x2b),
        (-31226, 0x01, 0x2b),
        (-30969, 0x01, 0x2b),
        (-30712, 0x01, 0x28),
        (-30455, 0x02, 0x28),
        (-30198, 0x02, 0x28),
        (-29941, 0x02, 0x28),
        (-29684, 0x02, 0x29),
        (-29427, 0x03, 0x29),
        (-29170, 0x03, 0x29),
        (-28913, 0x03, 0x29),
        (-28656, 0x03, 0x2e),
        (-28399, 0x04, 0x2e),
        (-28142, 0x04, 0x2e),
        (-27885, 0x04, 0x2e),
        (-27628, 0x04, 0x2f),
        (-27371, 0x05, 0x2f),
        (-27114, 0x05, 0x2f),
        (-26857, 0x05, 0x2f),
        (-26600, 0x05, 0x2c),
        (-26343, 0x06, 0x2c),
        (-26086, 0x06, 0x2c),
        (-25829, 0x06, 0x2c),
        (-25572, 0x06, 0x2d),
        (-25315, 0x07, 0x2d),
        (-25058, 0x07, 0x2d),
        (-24801, 0x07, 0x2d),
        (-24544, 0x07, 0x22),
        (-24287, 0x08, 0x22),
        (-24030, 0x08, 0x22),
        (-23773, 0x08, 0x22),
        (-23516, 0x08, 0x23),
        (-23259, 0x09, 0x23),
        (-23002, 0x09, 0x23),
        (-22745, 0x09, 0x23),
        (-22488, 0x09, 0x20),
        (-22231, 0x0a, 0x20),
        (-21974, 0x0a, 0x20),
        (-21717, 0x0a, 0x20),
        (-21460, 0x0a, 0x21),
        (-21203, 0x0b, 0x21),
        (-20946, 0x0b, 0x21),
        (-20689, 0x0b, 0x21),
        (-20432, 0x0b, 0x26),
        (-20175, 0x0c, 0x26),
        (-19918, 0x0c, 0x26),
        (-19661, 0x0c, 0x26),
        (-19404, 0x0c, 0x27),
        (-19147, 0x0d, 0x27),
        (-18890, 0x0d, 0x27),
        (-18633, 0x0d, 0x27),
        (-18376, 0x0d, 0x24),
        (-18119, 0x0e, 0x24),
        (-17862, 0x0e, 0x24),
        (-17605, 0x0e, 0x24),
        (-17348, 0x0e, 0x25),
        (-17091, 0x0f, 0x25),
        (-16834, 0x0f, 0x25),
        (-16577, 0x0f, 0x25),
        (-16320, 0x0f, 0x3a),
        (-16063, 0x10, 0x3a),
        (-15806, 0x10, 0x3b),
        (-15549, 0x11, 0x3b),
        (-15292, 0x11, 0x38),
        (-15035, 0x12, 0x38),
        (-14778, 0x12, 0x39),
        (-14521, 0x13, 0x39),
        (-14264, 0x13, 0x3e),
        (-14007, 0x14, 0x3e),
        (-13750, 0x14, 0x3f),
        (-13493, 0x15, 0x3f),
        (-13236, 0x15, 0x3c),
        (-12979, 0x16, 0x3c),
        (-12722, 0x16, 0x3d),
        (-12465, 0x17, 0x3d),
        (-12208, 0x17, 0x32),
        (-11951, 0x18, 0x32),
        (-11694, 0x18, 0x33),
        (-11437, 0x19, 0x33),
        (-11180, 0x19, 0x30),
        (-10923, 0x1a, 0x30),
        (-10666, 0x1a, 0x31),
        (-10409, 0x1b, 0x31),
        (-10152, 0x1b, 0x36),
        (-9895, 0x1c, 0x36),
        (-9638, 0x1c, 0x37),
        (-9381, 0x1d, 0x37),
        (-9124, 0x1d, 0x34),
        (-8867, 0x1e, 0x34),
        (-8610, 0x1e, 0x35),
        (-8353, 0x1f, 0x35),
        (-8160, 0x1f, 0x0a),
        (-8159, 0x1f, 0x0a),
        (-8096, 0x1f, 0x0a),
        (-7839, 0x20, 0x0b),
        (-7582, 0x21, 0x08),
        (-7325, 0x22, 0x09),
        (-7068, 0x23, 0x0e),
        (-6811, 0x24, 0x0f),
        (-6554, 0x25, 0x0c),
        (-6297, 0x26, 0x0d),
        (-6040, 0x27, 0x02),
        (-5783, 0x28, 0x03),
        (-5526, 0x29, 0x00),
        (-5269, 0x2a, 0x01),
        (-5012, 0x2b, 0x06),
        (-4755, 0x2c, 0x07),
        (-4498, 0x2d, 0x04),
        (-4241, 0x2e, 0x05),
        (-3984, 0x2f, 0x1a),
        (-3727, 0x31, 0x18),
        (-3470, 0x33, 0x1e),
        (-3213, 0x35, 0x1c),
        (-2956, 0x37, 0x12),
        (-2699, 0x39, 0x10),
        (-2442, 0x3b, 0x16),
        (-2185, 0x3d, 0x14),
        (-1928, 0x3f, 0x6b),
        (-1671, 0x43, 0x6f),
        (-1414, 0x47, 0x63),
        (-1157, 0x4b, 0x67),
        (-900, 0x4f, 0x7e),
        (-643, 0x57, 0x76),
        (-386, 0x5f, 0x42),
        (-129, 0x6f, 0x52),
        (-3, 0x7e, 0xd5),
        (-2, 0xff, 0xd5),
        (-1, 0xff, 0xd5),
        (0, 0xff, 0xd5),
        (1, 0xff, 0xd5),
        (2, 0xfe, 0xd5),
        (3, 0xfe, 0xd5),
        (128, 0xef, 0xdd),
        (385, 0xdf, 0xcd),
        (642, 0xd7, 0xf1),
        (899, 0xcf, 0xf9),
        (1156, 0xcb, 0xe7),
        (1413, 0xc7, 0xe3),
        (1670, 0xc3, 0xef),
        (1927, 0xbf, 0xeb),
        (2184, 0xbd, 0x94),
        (2441, 0xbb, 0x96),
        (2698, 0xb9, 0x90),
        (2955, 0xb7, 0x92),
        (3212, 0xb5, 0x9c),
        (3469, 0xb3, 0x9e),
        (3726, 0xb1, 0x98),
        (3983, 0xaf, 0x9a),
        (4240, 0xae, 0x85),
        (4497, 0xad, 0x84),
        (4754, 0xac, 0x87),
        (5011, 0xab, 0x86),
        (5268, 0xaa, 0x81),
        (5525, 0xa9, 0x80),
        (5782, 0xa8, 0x83),
        (6039, 0xa7, 0x82),
        (6296, 0xa6, 0x8d),
        (6553, 0xa5, 0x8c),
        (6810, 0xa4, 0x8f),
        (7067, 0xa3, 0x8e),
        (7324, 0xa2, 0x89),
        (7581, 0xa1, 0x88),
        (7838, 0xa0, 0x8b),
        (8095, 0x9f, 0x8a),
        (8158, 0x9f, 0x8a),
        (8159, 0x9f, 0x8a),
        (8352, 0x9f, 0xb5),
        (8609, 0x9e, 0xb5),
        (8866, 0x9e, 0xb4),
        (9123, 0x9d, 0xb4),
        (9380, 0x9d, 0xb7),
        (9637, 0x9c, 0xb7),
        (9894, 0x9c, 0xb6),
        (10151, 0x9b, 0xb6),
        (10408, 0x9b, 0xb1),
        (10665, 0x9a, 0xb1),
        (10922, 0x9a, 0xb0),
        (11179, 0x99, 0xb0),
        (11436, 0x99, 0xb3),
        (11693, 0x98, 0xb3),
        (11950, 0x98, 0xb2),
        (12207, 0x97, 0xb2),
        (12464, 0x97, 0xbd),
        (12721, 0x96, 0xbd),
        (12978, 0x96, 0xbc),
        (13235, 0x95, 0xbc),
        (13492, 0x95, 0xbf),
        (13749, 0x94, 0xbf),
        (14006, 0x94, 0xbe),
        (14263, 0x93, 0xbe),
        (14520, 0x93, 0xb9),
        (14777, 0x92, 0xb9),
        (15034, 0x92, 0xb8),
        (15291, 0x91, 0xb8),
        (15548, 0x91, 0xbb),
        (15805, 0x90, 0xbb),
        (16062, 0x90, 0xba),
        (16319, 0x8f, 0xba),
        (16576, 0x8f, 0xa5),
        (16833, 0x8f, 0xa5),
        (17090, 0x8f, 0xa5),
        (17347, 0x8e, 0xa5),
        (17604, 0x8e, 0xa4),
        (17861, 0x8e, 0xa4),
        (18118, 0x8e, 0xa4),
        (18375, 0x8d, 0xa4),
        (18632, 0x8d, 0xa7),
        (18889, 0x8d, 0xa7),
        (19146, 0x8d, 0xa7),
        (19403, 0x8c, 0xa7),
        (19660, 0x8c, 0xa6),
        (19917, 0x8c, 0xa6),
        (20174, 0x8c, 0xa6),
        (20431, 0x8b, 0xa6),
        (20688, 0x8b, 0xa1),
        (20945, 0x8b, 0xa1),
        (21202, 0x8b, 0xa1),
        (21459, 0x8a, 0xa1),
        (21716, 0x8a, 0xa0),
        (21973, 0x8a, 0xa0),
        (22230, 0x8a, 0xa0),
        (22487, 0x89, 0xa0),
        (22744, 0x89, 0xa3),
        (23001, 0x89, 0xa3),
        (23258, 0x89, 0xa3),
        (23515, 0x88, 0xa3),
        (23772, 0x88, 0xa2),
        (24029, 0x88, 0xa2),
        (24286, 0x88, 0xa2),
        (24543, 0x87, 0xa2),
        (24800, 0x87, 0xad),
        (25057, 0x87, 0xad),
        (25314, 0x87, 0xad),
        (25571, 0x86, 0xad),
        (25828, 0x86, 0xac),
        (26085, 0x86, 0xac),
        (26342, 0x86, 0xac),
        (26599, 0x85, 0xac),
        (26856, 0x85, 0xaf),
        (27113, 0x85, 0xaf),
        (27370, 0x85, 0xaf),
        (27627, 0x84, 0xaf),
        (27884, 0x84, 0xae),
        (28141, 0x84, 0xae),
        (28398, 0x84, 0xae),
        (28655, 0x83, 0xae),
        (28912, 0x83, 0xa9),
        (29169, 0x83, 0xa9),
        (29426, 0x83, 0xa9),
        (29683, 0x82, 0xa9),
        (29940, 0x82, 0xa8),
        (30197, 0x82, 0xa8),
        (30454, 0x82, 0xa8),
        (30711, 0x81, 0xa8),
        (30968, 0x81, 0xab),
        (31225, 0x81, 0xab),
        (31482, 0x81, 0xab),
        (31739, 0x80, 0xab),
        (31996, 0x80, 0xaa),
        (32253, 0x80, 0xaa),
        (32510, 0x80, 0xaa),
        (32635, 0x80, 0xaa),
        (32766, 0x80, 0xaa),
        (32767, 0x80, 0xaa),
    ];
    #[test]
    fn decode_tables_match_sox_for_all_codes() {
        for c in 0..=255u8 {
            assert_eq!(
                ulaw_decode(c),
                SOX_ULAW_DECODE[usize::from(c)],
                "µ-law {c:#04x}"
            );
            assert_eq!(
                alaw_decode(c),
                SOX_ALAW_DECODE[usize::from(c)],
                "A-law {c:#04x}"
            );
        }
    }

    #[test]
    fn encoders_match_sox_on_sweep_and_edges() {
        for (x, u, a) in SOX_ENCODE {
            assert_eq!(ulaw_encode(x), u, "µ-law of {x}");
            assert_eq!(alaw_encode(x), a, "A-law of {x}");
        }
    }

    #[test]
    fn well_known_codes() {
        // Silence is 0xFF in µ-law and 0xD5 in A-law (G.711 tables 1a/2a, even bits inverted).
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
    }

    #[test]
    fn every_code_survives_a_round_trip() {
        for c in 0..=255u8 {
            // 0x7F is µ-law "negative zero", which re-encodes as positive zero 0xFF.
            let want = if c == 0x7F { 0xFF } else { c };
            assert_eq!(ulaw_encode(ulaw_decode(c)), want, "µ-law {c:#04x}");
            assert_eq!(alaw_encode(alaw_decode(c)), c, "A-law {c:#04x}");
        }
    }

    #[test]
    fn encoders_are_monotonic_over_all_inputs() {
        let (mut last_u, mut last_a) = (i16::MIN, i16::MIN);
        for x in i16::MIN..=i16::MAX {
            let (u, a) = (ulaw_decode(ulaw_encode(x)), alaw_decode(alaw_encode(x)));
            assert!(u >= last_u && a >= last_a, "not monotonic at {x}");
            (last_u, last_a) = (u, a);
        }
    }

    #[test]
    fn slice_helpers_and_payload_types() {
        let mut bytes = Vec::new();
        G711::Pcmu.encode_into(&[0, 1000, -1000], &mut bytes);
        G711::Pcma.encode_into(&[0], &mut bytes);
        assert_eq!(bytes, vec![0xFF, 0xCE, 0x4E, 0xD5]);
        let mut pcm = Vec::new();
        G711::Pcmu.decode_into(&bytes[..3], &mut pcm);
        assert_eq!(pcm, vec![0, 988, -988]);
        assert_eq!(
            (G711::Pcmu.payload_type(), G711::Pcma.payload_type()),
            (0, 8)
        );
        assert_eq!(
            (G711::Pcmu.encoding_name(), G711::Pcma.encoding_name()),
            ("PCMU", "PCMA")
        );
    }
}
