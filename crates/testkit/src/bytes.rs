//! The one seeded byte generator of the tests: "some bytes" that are the same on every run and
//! every platform, for a test that needs content but not a household (a blob, a file of a
//! handmade device, garbage written over a cache).
//!
//! It is xorshift64 (Marsaglia's 13/7/17 triple) from `seed × 2⁶⁴/φ | 1`, so any seed, zero
//! included, gives a full-period stream, and nearby seeds give unrelated streams. Fast and
//! plain; not for anything a test relies on being unpredictable. Households take their content
//! from ChaCha8 instead ([`crate::generate`]): their bytes are pinned by benchmarks and must not
//! follow changes here.
//!
//! Three shapes of the same stream:
//! - [`noise`]: every bit of every word, incompressible (photos, packs, garbage);
//! - [`letters`]: one lowercase letter per word, compressible but never one repeated run;
//! - [`mapped`]: one byte per word, made by the caller's function.
//!
//! ```
//! use hearth_testkit::bytes;
//! assert_eq!(bytes::noise(7, 100), bytes::noise(7, 100));
//! assert_ne!(bytes::noise(7, 100), bytes::noise(8, 100));
//! assert!(bytes::letters(1, 50).iter().all(u8::is_ascii_lowercase));
//! ```

/// 2⁶⁴/φ: spreads small seeds over the whole state.
const SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// The stream of 64-bit words from a seed.
#[derive(Debug, Clone)]
pub struct SeededWords(u64);

impl SeededWords {
    pub fn new(seed: u64) -> Self {
        // Odd, so never the all-zero state that xorshift cannot leave.
        SeededWords(seed.wrapping_mul(SPREAD) | 1)
    }
}

impl Iterator for SeededWords {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        Some(x)
    }
}

/// `len` incompressible bytes: the words of `seed`'s stream, little-endian, one after another.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.next_multiple_of(8));
    for word in SeededWords::new(seed) {
        if out.len() >= len {
            break;
        }
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `len` lowercase letters, one per word of `seed`'s stream: text-like bytes that compress
/// (to about 4.7 bits a byte) but hold no repeated run for a deduplicator to find.
pub fn letters(seed: u64, len: usize) -> Vec<u8> {
    mapped(seed, len, |x| b'a' + (x % 26) as u8)
}

/// `len` bytes, `byte(word)` for each word of `seed`'s stream.
pub fn mapped(seed: u64, len: usize, byte: impl Fn(u64) -> u8) -> Vec<u8> {
    SeededWords::new(seed).take(len).map(byte).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream is pinned: tests that store these bytes compare what they stored, and some
    /// count packs or compressed sizes that follow from them.
    #[test]
    fn the_stream_is_pinned() {
        let words: Vec<u64> = SeededWords::new(1).take(3).collect();
        assert_eq!(
            words,
            [
                0xdc1b_77ae_0bf3_4dad,
                0x64f0_eeb9_026e_6076,
                0x7b07_ce91_e590_6136
            ]
        );
        assert_eq!(
            noise(1, 10),
            [0xad, 0x4d, 0xf3, 0x0b, 0xae, 0x77, 0x1b, 0xdc, 0x76, 0x60]
        );
        assert_eq!(letters(1, 3), b"lkk");
        assert_eq!(mapped(1, 2, |x| (x >> 56) as u8), [0xdc, 0x64]);
    }

    #[test]
    fn every_shape_has_the_length_asked_and_follows_its_seed() {
        for len in [0, 1, 7, 8, 9, 1000] {
            assert_eq!(noise(3, len).len(), len);
            assert_eq!(letters(3, len).len(), len);
            assert_eq!(mapped(3, len, |x| x as u8).len(), len);
        }
        assert_eq!(
            noise(3, 9)[..8],
            noise(3, 16)[..8],
            "a prefix of a longer run"
        );
        assert_ne!(noise(0, 64), vec![0; 64], "seed 0 is a stream too");
        assert_ne!(letters(3, 64), letters(4, 64));
    }

    #[test]
    fn noise_is_flat_and_letters_do_not_repeat() {
        let n = noise(5, 1 << 16);
        let mut counts = [0u32; 256];
        n.iter().for_each(|&b| counts[b as usize] += 1);
        assert!(
            counts.iter().all(|&c| (150..370).contains(&c)),
            "{counts:?}"
        );
        let text = letters(5, 1 << 16);
        let first = &text[..32];
        assert_eq!(text.windows(32).filter(|w| w == &first).count(), 1);
    }
}
