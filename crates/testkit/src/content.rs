//! Content makers: bytes that look like what an iPhone holds, in kind and compressibility.
//!
//! Photos, videos and audio are incompressible random bytes behind a plausible container
//! header; databases are real SQLite files filled with real rows; preferences are real
//! plists. Every maker takes its randomness from a [`Seeds`] value, so the same seed gives the
//! same bytes whatever order files are written in (which lets devices be written in parallel).

pub(crate) mod apps;
pub(crate) mod databases;
pub(crate) mod media;
pub(crate) mod plists;
pub(crate) mod small;
pub(crate) mod text;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The households' random number generator: fast, seedable, identical on every platform.
/// (Tests' ad-hoc bytes come from [`crate::bytes`]; households' bytes never change with it.)
pub(crate) type Rng = ChaCha8Rng;

/// Derives independent seeds from a root seed and a path of labels.
///
/// Invariant: `Seeds::new(s).child(a).child(b)` depends only on `s`, `a` and `b`, never on
/// how many other children were taken before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seeds(u64);

impl Seeds {
    pub(crate) fn new(seed: u64) -> Self {
        Seeds(splitmix(seed ^ 0x6865_6172_7468))
    }

    /// A child seed for a textual label (e.g. "photo").
    pub(crate) fn label(self, label: &str) -> Self {
        self.child(fnv1a(label.as_bytes()))
    }

    /// A child seed for a number (e.g. a photo's index).
    pub(crate) fn child(self, n: u64) -> Self {
        Seeds(splitmix(
            self.0 ^ splitmix(n.wrapping_add(0x9e37_79b9_7f4a_7c15)),
        ))
    }

    pub(crate) fn rng(self) -> Rng {
        Rng::seed_from_u64(self.0)
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_order_independent_and_distinct() {
        let root = Seeds::new(7);
        assert_eq!(root.label("photo").child(3), root.label("photo").child(3));
        assert_ne!(root.label("photo").child(3), root.label("photo").child(4));
        assert_ne!(root.label("photo"), root.label("video"));
        assert_ne!(Seeds::new(7), Seeds::new(8));
    }
}
