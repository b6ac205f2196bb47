//! Structure-aware mutation of a seed corpus (no I/O): byte flips, cuts, splices, repeated
//! chunks, interesting tokens and numbers, line swaps. Deterministic for a given RNG.
//!
//! An input is a list of parts (datagrams of one exchange, messages of one stream, a content
//! type and a body); most mutations change one part, some add, drop or swap whole parts.

use rand::Rng;
use rand::rngs::StdRng;

/// One fuzz input: the parts a target feeds in turn.
pub(crate) type Input = Vec<Vec<u8>>;

/// Tokens every text parser should survive, inserted or overwritten at random places.
pub(crate) const COMMON: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"\r",
    b"\0",
    b" ",
    b"\t",
    b"\r\n ",
    b":",
    b";",
    b",",
    b"=",
    b"<",
    b">",
    b"\"",
    b"\\",
    b"/",
    b"%",
    b"%00",
    b"\xc3\xa9",
    b"\xf0\x9f\x98\x80",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x80",
    b"\x7f",
];

/// Numbers at type edges, for replacing a run of digits.
const NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1",
    b"127",
    b"128",
    b"255",
    b"256",
    b"65535",
    b"65536",
    b"2147483647",
    b"4294967295",
    b"4294967296",
    b"9223372036854775807",
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999999999999",
    b"1e309",
    b"-0",
    b"00000000000000000001",
    b"1.5",
];

/// Largest part the mutator produces (messages stay under the SIP size limit).
pub(crate) const MAX_PART: usize = 16 * 1024;
/// Most parts in one input.
const MAX_PARTS: usize = 8;

/// A mutated copy of one seed (sometimes spliced with another), with 1 to 8 stacked changes.
pub(crate) fn mutate(rng: &mut StdRng, seeds: &[Input], dict: &[&'static [u8]]) -> Input {
    let mut input = seeds[rng.random_range(0..seeds.len())].clone();
    if input.is_empty() {
        input.push(Vec::new());
    }
    let rounds = 1 << rng.random_range(0..4);
    for _ in 0..rounds {
        let other = &seeds[rng.random_range(0..seeds.len())];
        if rng.random_ratio(1, 12) {
            mutate_parts(rng, &mut input, other);
        } else {
            let i = rng.random_range(0..input.len());
            let donor = other
                .get(rng.random_range(0..other.len().max(1)))
                .map_or(&[][..], Vec::as_slice);
            mutate_bytes(rng, &mut input[i], donor, dict);
        }
    }
    input
}

/// Adds, drops, duplicates or swaps whole parts.
fn mutate_parts(rng: &mut StdRng, input: &mut Input, other: &Input) {
    match rng.random_range(0..4) {
        0 if input.len() < MAX_PARTS => {
            let i = rng.random_range(0..input.len());
            input.insert(i, input[i].clone());
        }
        1 if input.len() > 1 => {
            input.remove(rng.random_range(0..input.len()));
        }
        2 if input.len() > 1 => {
            let (a, b) = (
                rng.random_range(0..input.len()),
                rng.random_range(0..input.len()),
            );
            input.swap(a, b);
        }
        _ if !other.is_empty() && input.len() < MAX_PARTS => {
            let part = other[rng.random_range(0..other.len())].clone();
            input.insert(rng.random_range(0..=input.len()), part);
        }
        _ => {}
    }
}

/// One change to one part's bytes.
fn mutate_bytes(rng: &mut StdRng, data: &mut Vec<u8>, donor: &[u8], dict: &[&'static [u8]]) {
    let len = data.len();
    let at = |rng: &mut StdRng| rng.random_range(0..=len);
    match rng.random_range(0..14) {
        0 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] = rng.random();
        }
        2 | 3 => {
            let token = pick_token(rng, dict);
            let i = at(rng);
            data.splice(i..i, token.iter().copied());
        }
        4 if len > 0 => {
            // Overwrite with a token.
            let token = pick_token(rng, dict);
            let i = rng.random_range(0..len);
            let end = (i + token.len()).min(len);
            data.splice(i..end, token.iter().copied());
        }
        5 if len > 0 => {
            let (a, b) = range(rng, len);
            data.drain(a..b);
        }
        6 if len > 0 => {
            // Duplicate a range somewhere.
            let (a, b) = range(rng, len);
            let chunk = data[a..b].to_vec();
            let i = at(rng);
            data.splice(i..i, chunk);
        }
        7 if !donor.is_empty() => {
            // Splice in a range of another seed.
            let (a, b) = range(rng, donor.len());
            let i = at(rng);
            data.splice(i..i, donor[a..b].iter().copied());
        }
        8 if len > 0 => data.truncate(rng.random_range(0..len)),
        9 => replace_number(rng, data),
        10 => line_op(rng, data),
        11 if len > 0 => {
            // A chunk repeated many times: finds work that grows faster than the input.
            let (a, b) = range(rng, len.min(64));
            let chunk = data[a..b].to_vec();
            let times = rng.random_range(16..1024);
            let i = at(rng);
            let rep: Vec<u8> = chunk
                .iter()
                .copied()
                .cycle()
                .take(chunk.len() * times)
                .collect();
            data.splice(i..i, rep);
        }
        12 if len > 0 => {
            let (a, b) = range(rng, len);
            for c in &mut data[a..b] {
                *c = if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                };
            }
        }
        _ => {
            let i = at(rng);
            let b = *COMMON[rng.random_range(0..COMMON.len())]
                .first()
                .unwrap_or(&0);
            data.insert(i, b);
        }
    }
    data.truncate(MAX_PART);
}

fn pick_token(rng: &mut StdRng, dict: &[&'static [u8]]) -> &'static [u8] {
    if !dict.is_empty() && rng.random_bool(0.6) {
        dict[rng.random_range(0..dict.len())]
    } else if rng.random_bool(0.5) {
        COMMON[rng.random_range(0..COMMON.len())]
    } else {
        NUMBERS[rng.random_range(0..NUMBERS.len())]
    }
}

/// A short range most of the time, sometimes a long one.
fn range(rng: &mut StdRng, len: usize) -> (usize, usize) {
    let a = rng.random_range(0..len);
    let max = if rng.random_bool(0.8) { 16 } else { len };
    let b = (a + rng.random_range(1..=max)).min(len);
    (a, b)
}

/// Replaces one run of ASCII digits with a number at a type edge.
fn replace_number(rng: &mut StdRng, data: &mut Vec<u8>) {
    let starts: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let a = starts[rng.random_range(0..starts.len())];
    let b = a + data[a..].iter().take_while(|c| c.is_ascii_digit()).count();
    let n = NUMBERS[rng.random_range(0..NUMBERS.len())];
    data.splice(a..b, n.iter().copied());
}

/// Swaps, duplicates or drops a line (lines end at `\n`).
fn line_op(rng: &mut StdRng, data: &mut Vec<u8>) {
    let mut lines: Vec<Vec<u8>> = data
        .split_inclusive(|&c| c == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if lines.len() < 2 {
        return;
    }
    let (a, b) = (
        rng.random_range(0..lines.len()),
        rng.random_range(0..lines.len()),
    );
    match rng.random_range(0..3) {
        0 => lines.swap(a, b),
        1 => {
            let l = lines[a].clone();
            lines.insert(b, l);
        }
        _ => {
            lines.remove(a);
        }
    }
    *data = lines.concat();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let seeds: Vec<Input> = vec![vec![b"INVITE sip:a SIP/2.0\r\nl: 0\r\n\r\n".to_vec()]];
        let run = |s| {
            let mut rng = StdRng::seed_from_u64(s);
            (0..200)
                .map(|_| mutate(&mut rng, &seeds, &[b"Via: "]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().flatten().all(|p| p.len() <= MAX_PART));
    }
}
