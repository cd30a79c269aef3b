//! Small files: caches, JSON, logs and opaque binary, sized like real app containers
//! (a few hundred bytes to a few tens of KB, log-uniform).

use rand::RngExt;

use super::{Rng, plists, text};

/// The kinds of small file an app container holds, with the extension each gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmallKind {
    Plist,
    Json,
    Log,
    Binary,
}

impl SmallKind {
    pub(crate) fn random(rng: &mut Rng) -> Self {
        match rng.random_range(0..10) {
            0..=2 => SmallKind::Plist,
            3..=5 => SmallKind::Json,
            6 => SmallKind::Log,
            _ => SmallKind::Binary,
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            SmallKind::Plist => "plist",
            SmallKind::Json => "json",
            SmallKind::Log => "log",
            SmallKind::Binary => "",
        }
    }

    pub(crate) fn from_name(name: &str) -> Self {
        match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("plist") => SmallKind::Plist,
            Some("json") => SmallKind::Json,
            Some("log" | "txt") => SmallKind::Log,
            _ => SmallKind::Binary,
        }
    }
}

/// A size between 120 B and 16 KB, log-uniform (median ~1.4 KB, mean ~3 KB).
pub(crate) fn size(rng: &mut Rng) -> usize {
    let exp = rng.random_range((120f64).ln()..(16_000f64).ln());
    exp.exp() as usize
}

/// The bytes of a small file of `kind`, about `len` bytes (plists are as long as they come).
pub(crate) fn bytes(rng: &mut Rng, kind: SmallKind, len: usize, now: i64) -> Vec<u8> {
    match kind {
        SmallKind::Plist => plists::preferences_file(rng, now),
        SmallKind::Json => json(rng, len),
        SmallKind::Log => log(rng, len, now),
        SmallKind::Binary => text::bytes(rng, len),
    }
}

fn json(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut s = String::from("{\"version\":2,\"items\":[");
    while s.len() < len {
        s.push_str(&format!(
            "{{\"id\":\"{}\",\"title\":\"{}\",\"score\":{},\"url\":\"{}\"}},",
            text::uuid(rng),
            text::sentence(rng, 2, 8),
            rng.random_range(0..10_000),
            text::url(rng)
        ));
    }
    s.pop();
    s.push_str("]}");
    s.into_bytes()
}

fn log(rng: &mut Rng, len: usize, now: i64) -> Vec<u8> {
    let mut s = String::new();
    let mut t = now - 86_400;
    while s.len() < len {
        t += rng.random_range(1..600);
        s.push_str(&format!(
            "{t} [{}] {}\n",
            text::hex_token(rng, 4),
            text::sentence(rng, 3, 14)
        ));
    }
    s.into_bytes()
}

/// A nightly edit of a small file: regenerated for structured kinds, a rewritten window
/// (and sometimes a tail) for opaque ones. Always differs from `old`.
pub(crate) fn modify(rng: &mut Rng, name: &str, old: &[u8], now: i64) -> Vec<u8> {
    let kind = SmallKind::from_name(name);
    let mut new = if kind == SmallKind::Binary || old.len() > 64 * 1024 {
        patch(rng, old)
    } else {
        bytes(rng, kind, old.len().max(64), now)
    };
    if new == old {
        new.push(b'\n');
    }
    new
}

fn patch(rng: &mut Rng, old: &[u8]) -> Vec<u8> {
    let mut new = old.to_vec();
    if !new.is_empty() {
        let start = rng.random_range(0..new.len());
        let end = (start + rng.random_range(1..=new.len().div_ceil(4))).min(new.len());
        rand::Rng::fill_bytes(rng, &mut new[start..end]);
    }
    if rng.random_bool(0.5) {
        let tail = rng.random_range(1..512);
        new.extend_from_slice(&text::bytes(rng, tail));
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Seeds;

    #[test]
    fn sizes_and_kinds_are_plausible() {
        let mut rng = Seeds::new(3).rng();
        for _ in 0..200 {
            let n = size(&mut rng);
            assert!((120..16_000).contains(&n));
            let kind = SmallKind::random(&mut rng);
            let b = bytes(&mut rng, kind, n, 1_700_000_000);
            assert!(!b.is_empty());
            assert_ne!(
                modify(
                    &mut rng,
                    &format!("x.{}", kind.extension()),
                    &b,
                    1_700_000_000
                ),
                b
            );
        }
    }
}
