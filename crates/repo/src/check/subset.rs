//! Which packs `check --read-data-subset` reads: a slice by pack id, or a random sample.

use hearth_format::PackId;

/// Which packs `check` reads (`--read-data`, `--read-data-subset`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ReadData {
    /// Structure only: no pack is read.
    #[default]
    None,
    /// Every pack.
    All,
    /// Slice `n` of `m` (1 ≤ n ≤ m): the packs whose id's first 4 bytes, read as a big-endian
    /// u32 (the first 8 hex digits of the name), leave remainder `n - 1` divided by `m`.
    /// Slices 1/m … m/m together read every pack exactly once.
    Slice { n: u32, m: u32 },
    /// A random sample of about this percentage (0 < p ≤ 100) of the packs, at least one when
    /// there are any; different on every run.
    Percent(f64),
}

impl ReadData {
    /// Parses a `--read-data-subset` value: `N/M` (1 ≤ N ≤ M) or `P%` (0 < P ≤ 100, e.g. `2.5%`).
    pub fn parse_subset(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("`{s}` is not a percentage like 10% or 2.5%"))?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!(
                    "the percentage must be above 0 and at most 100 (got {s})"
                ));
            }
            return Ok(Self::Percent(p));
        }
        let Some((n, m)) = s.split_once('/') else {
            return Err(format!("`{s}` is neither N/M (e.g. 2/5) nor P% (e.g. 10%)"));
        };
        let number = |x: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{s}`: `{x}` is not a whole number (expected N/M, e.g. 2/5)"))
        };
        let (n, m) = (number(n)?, number(m)?);
        if m == 0 {
            return Err(format!("M must be at least 1 (got {s})"));
        }
        if n == 0 || n > m {
            return Err(format!("N must be between 1 and M={m} (got {s})"));
        }
        Ok(Self::Slice { n, m })
    }

    /// Whether `pack` belongs to slice `n` of `m` (1-based; see [`ReadData::Slice`]).
    #[allow(
        clippy::big_endian_bytes,
        reason = "the rule reads the pack name's first 8 hex digits as a number; nothing is stored"
    )]
    pub fn in_slice(pack: &PackId, n: u32, m: u32) -> bool {
        let v = u32::from_be_bytes(pack.0[..4].try_into().expect("4 bytes"));
        m > 0 && v % m == n.wrapping_sub(1)
    }

    /// The packs to read out of `packs`; `seed` drives the [`ReadData::Percent`] sample.
    pub fn select(&self, packs: &[PackId], seed: u64) -> Vec<PackId> {
        match *self {
            Self::None => Vec::new(),
            Self::All => packs.to_vec(),
            Self::Slice { n, m } => packs
                .iter()
                .filter(|p| Self::in_slice(p, n, m))
                .copied()
                .collect(),
            Self::Percent(p) => {
                let mut all = packs.to_vec();
                all.sort_unstable();
                let want = ((all.len() as f64 * p / 100.0).ceil() as usize)
                    .clamp(all.len().min(1), all.len());
                // A partial Fisher–Yates shuffle driven by splitmix64.
                let mut state = seed;
                let mut next = || {
                    state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^ (z >> 31)
                };
                for i in 0..want {
                    let j = i + (next() % (all.len() - i) as u64) as usize;
                    all.swap(i, j);
                }
                all.truncate(want);
                all
            }
        }
    }

    pub fn reads_any(&self) -> bool {
        *self != Self::None
    }
}

impl std::fmt::Display for ReadData {
    /// `none`, `all`, `subset 2/5`, `subset 2.5%`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::All => f.write_str("all"),
            Self::Slice { n, m } => write!(f, "subset {n}/{m}"),
            Self::Percent(p) => write!(f, "subset {p}%"),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::big_endian_bytes,
    reason = "test pack ids are built to match the slice rule's big-endian reading"
)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn packs(n: usize) -> Vec<PackId> {
        (0..n)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..8]
                    .copy_from_slice(&(i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
                id[31] = i as u8;
                PackId(id)
            })
            .collect()
    }

    #[test]
    fn every_pack_is_in_exactly_one_slice() {
        let all = packs(1000);
        for m in [1u32, 2, 3, 5, 7, 16, 64] {
            let mut seen: HashMap<PackId, u32> = HashMap::new();
            for n in 1..=m {
                for p in (ReadData::Slice { n, m }).select(&all, 0) {
                    *seen.entry(p).or_default() += 1;
                }
            }
            assert_eq!(seen.len(), all.len(), "m={m}: every pack is in some slice");
            assert!(
                seen.values().all(|&c| c == 1),
                "m={m}: a pack is in two slices"
            );
        }
    }

    #[test]
    fn slice_rule_reads_the_first_four_bytes_big_endian() {
        let mut id = [0xffu8; 32];
        id[..4].copy_from_slice(&10u32.to_be_bytes());
        let p = PackId(id);
        // 10 % 4 == 2: slice 3 of 4.
        assert!(ReadData::in_slice(&p, 3, 4));
        assert!(!ReadData::in_slice(&p, 1, 4) && !ReadData::in_slice(&p, 2, 4));
        assert!(!ReadData::in_slice(&p, 4, 4));
        assert!(ReadData::in_slice(&p, 1, 1));
        assert!(!ReadData::in_slice(&p, 1, 0));
    }

    #[test]
    fn percent_samples_about_that_share_at_least_one_and_varies_with_the_seed() {
        let all = packs(200);
        let take = |p: f64, seed| ReadData::Percent(p).select(&all, seed);
        assert_eq!(take(10.0, 1).len(), 20);
        assert_eq!(take(2.5, 1).len(), 5);
        assert_eq!(take(100.0, 1).len(), 200);
        assert_eq!(take(0.001, 1).len(), 1, "at least one pack");
        assert!(ReadData::Percent(50.0).select(&[], 1).is_empty());
        let s: HashSet<_> = take(10.0, 1).into_iter().collect();
        assert_eq!(s.len(), 20, "no pack twice");
        assert!(s.iter().all(|p| all.contains(p)));
        assert_ne!(
            take(10.0, 1),
            take(10.0, 2),
            "a different seed, a different sample"
        );
        let full: HashSet<_> = take(100.0, 7).into_iter().collect();
        assert_eq!(full.len(), 200);
    }

    #[test]
    fn none_and_all() {
        let all = packs(5);
        assert!(ReadData::None.select(&all, 0).is_empty());
        assert_eq!(ReadData::All.select(&all, 0), all);
        assert!(!ReadData::None.reads_any() && ReadData::All.reads_any());
    }

    #[test]
    fn subset_arguments_parse_or_say_what_is_wrong() {
        let ok = |s| ReadData::parse_subset(s).unwrap();
        assert_eq!(ok("2/5"), ReadData::Slice { n: 2, m: 5 });
        assert_eq!(ok("1/1"), ReadData::Slice { n: 1, m: 1 });
        assert_eq!(ok("5/5"), ReadData::Slice { n: 5, m: 5 });
        assert_eq!(ok("10%"), ReadData::Percent(10.0));
        assert_eq!(ok("2.5%"), ReadData::Percent(2.5));
        assert_eq!(ok("100%"), ReadData::Percent(100.0));
        let err = |s| ReadData::parse_subset(s).unwrap_err();
        assert!(
            err("1/0").contains("M must be at least 1"),
            "{}",
            err("1/0")
        );
        assert!(err("0/0").contains("M must be at least 1"));
        assert!(
            err("0/3").contains("N must be between 1 and M=3"),
            "{}",
            err("0/3")
        );
        assert!(err("4/3").contains("N must be between 1 and M=3"));
        assert!(err("0%").contains("above 0 and at most 100"));
        assert!(err("100.5%").contains("above 0 and at most 100"));
        assert!(err("-1%").contains("above 0"));
        assert!(err("NaN%").contains("above 0"));
        assert!(err("x%").contains("not a percentage"));
        assert!(err("a/3").contains("not a whole number"));
        assert!(err("-1/3").contains("not a whole number"));
        assert!(err("3").contains("neither N/M"));
        assert!(err("").contains("neither N/M"));
    }

    #[test]
    fn display_names_the_subset() {
        assert_eq!(ReadData::Slice { n: 2, m: 5 }.to_string(), "subset 2/5");
        assert_eq!(ReadData::Percent(2.5).to_string(), "subset 2.5%");
        assert_eq!(ReadData::Percent(100.0).to_string(), "subset 100%");
        assert_eq!(ReadData::All.to_string(), "all");
        assert_eq!(ReadData::None.to_string(), "none");
    }
}
