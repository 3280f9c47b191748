//! Input mutation without coverage feedback: a seeded generator and libFuzzer-style
//! mutations (bit flips, byte inserts and deletes, truncation, splices of two corpus inputs,
//! interesting integers in binary and in text, format tokens). Everything is derived from
//! the seed, so a run's inputs can be produced again from the seed alone.

/// SplitMix64: tiny, fast, and good enough to pick mutations; no crate needed, and its
/// sequence is fixed by the seed on every platform.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; 0 when `n` is 0, so callers need no special case for empty inputs.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// FNV-1a, to derive a target's own seed from the run's seed and the target's name (so a
/// target's inputs do not depend on which other targets ran before it) and to name saved
/// inputs.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Binary integers at the edges of common widths (libFuzzer's "interesting values").
const INTERESTING: &[u64] = &[
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
];

/// The same edges written as text: the formats here are mostly text, where a number is
/// digits (host ranges, versions, ports, TAP plans, sizes in Packages, timeouts).
const INTERESTING_TEXT: &[&str] = &[
    "0",
    "-1",
    "1",
    "00",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e308",
    "NaN",
];

/// Tokens that delimit or quote something in at least one of the formats: inserted whole,
/// they reach paths that byte-level changes rarely hit.
const TOKENS: &[&[u8]] = &[
    b"\n--8<--\n",
    b"\n",
    b"\r\n",
    b"\t",
    b" ",
    b"[",
    b"]",
    b":",
    b"=",
    b"\"",
    b"'",
    b"\\",
    b"{",
    b"}",
    b",",
    b";",
    b"$$",
    b"$a$",
    b"--",
    b"/*",
    b"*/",
    b"#",
    b"<",
    b">",
    b"&amp;",
    b"<![CDATA[",
    b"]]>",
    b"1..",
    b"ok ",
    b"not ok ",
    b"# SKIP",
    b"# TODO",
    b"Bail out!",
    b"---",
    b"...",
    b"- ",
    b"&a",
    b"*a",
    b"!!",
    b"\n ",
    b"\n .",
    b":children]",
    b":vars]",
    b"[0:9]",
    b"[a:z]",
    b"\xff",
    b"\xc3",
    b"\0",
];

/// A mutated copy of `base`: one to eight mutations stacked, the result cut to `max_len`.
/// `corpus` supplies the other half of splices.
pub fn mutate(rng: &mut Rng, base: &[u8], corpus: &[&[u8]], max_len: usize) -> Vec<u8> {
    let mut data = base.to_vec();
    let count = 1usize << rng.below(4);
    for _ in 0..count {
        mutate_once(rng, &mut data, corpus);
        data.truncate(max_len);
    }
    data
}

/// Applies one mutation chosen at random.
fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[&[u8]]) {
    let len = data.len();
    match rng.below(12) {
        // Flip one bit.
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        // Overwrite one byte.
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = rng.next_u64() as u8;
        }
        // Insert random bytes.
        2 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            data.splice(at..at, bytes);
        }
        // Delete a range.
        3 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(64));
            data.drain(at..at + n);
        }
        // Truncate.
        4 => data.truncate(rng.below(len + 1)),
        // Repeat a chunk of the input in place (long lines, many hosts, deep nesting).
        5 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(64));
            let chunk = data[at..at + n].to_vec();
            let times = 1 + rng.below(16);
            let insert: Vec<u8> = chunk.iter().copied().cycle().take(n * times).collect();
            data.splice(at..at, insert);
        }
        // Copy a chunk from elsewhere in the input over another place.
        6 if len > 1 => {
            let from = rng.below(len);
            let n = 1 + rng.below((len - from).min(32));
            let chunk = data[from..from + n].to_vec();
            let to = rng.below(len);
            let end = (to + n).min(len);
            data.splice(to..end, chunk);
        }
        // Splice: this input's head with another corpus input's tail.
        7 if !corpus.is_empty() => {
            let other = corpus[rng.below(corpus.len())];
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        // An interesting integer, binary, little- or big-endian, over or into the input.
        8 => {
            let value = INTERESTING[rng.below(INTERESTING.len())];
            let width = 1usize << rng.below(4);
            let mut bytes = value.to_le_bytes()[..width].to_vec();
            if rng.below(2) == 1 {
                bytes.reverse();
            }
            let at = rng.below(len + 1);
            let end = if rng.below(2) == 1 {
                (at + width).min(len)
            } else {
                at
            };
            data.splice(at..end, bytes);
        }
        // An interesting number as text, replacing a run of digits if there is one.
        9 => {
            let text = INTERESTING_TEXT[rng.below(INTERESTING_TEXT.len())].as_bytes();
            let digits: Vec<usize> = (0..len).filter(|&i| data[i].is_ascii_digit()).collect();
            if digits.is_empty() {
                let at = rng.below(len + 1);
                data.splice(at..at, text.iter().copied());
            } else {
                let mut start = digits[rng.below(digits.len())];
                let mut end = start;
                while start > 0 && data[start - 1].is_ascii_digit() {
                    start -= 1;
                }
                while end < len && data[end].is_ascii_digit() {
                    end += 1;
                }
                data.splice(start..end, text.iter().copied());
            }
        }
        // A format token.
        10 => {
            let token = TOKENS[rng.below(TOKENS.len())];
            let at = rng.below(len + 1);
            data.splice(at..at, token.iter().copied());
        }
        // Swap two bytes (also the fallback for mutations that need a longer input).
        _ => {
            if len > 1 {
                let (a, b) = (rng.below(len), rng.below(len));
                data.swap(a, b);
            } else {
                data.push(rng.next_u64() as u8);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed gives the same inputs: what makes a failing run reproducible.
    #[test]
    fn a_seed_reproduces_its_inputs() {
        let corpus: &[&[u8]] = &[b"[web]\nweb[01:12].example.com\n", b"1..3\nok 1\n"];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..200)
                .map(|i| mutate(&mut rng, corpus[i % 2], corpus, 1024))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    /// Mutations stay within the length cap and do change inputs, also empty ones.
    #[test]
    fn mutations_change_inputs_within_the_cap() {
        let mut rng = Rng::new(1);
        let corpus: &[&[u8]] = &[b"ok 1 - a\n", b""];
        let mut changed = 0;
        for i in 0..1000 {
            let base = corpus[i % 2];
            let out = mutate(&mut rng, base, corpus, 64);
            assert!(out.len() <= 64, "{} bytes over the cap", out.len());
            changed += usize::from(out != base);
        }
        assert!(changed > 900, "only {changed} of 1000 inputs changed");
    }
}
