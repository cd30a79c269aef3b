//! Set-up shared by the engine's integration tests.
#![allow(dead_code)]

use hearth_crypto::KdfParams;
use hearth_repo::RepoOptions;
use std::path::Path;

/// Options with a cheap KDF and the cache under `dir`.
pub fn options(dir: &Path) -> RepoOptions {
    RepoOptions {
        kdf: KdfParams {
            memory_kib: 64,
            time: 1,
            parallelism: 1,
        },
        cache_root: Some(dir.join("cache")),
        lock_times: Default::default(),
    }
}

/// `n` bytes of a xorshift stream from `seed`, each made from the state by `byte`.
pub fn xorshift_bytes(n: usize, seed: u64, byte: impl Fn(u64) -> u8) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            byte(x)
        })
        .collect()
}

/// A shared lock, taken at once.
pub fn shared(repo: &hearth_repo::Repository) -> hearth_repo::LockGuard {
    repo.lock_shared(std::time::Duration::ZERO, &|_| {})
        .expect("a shared lock")
}

/// The exclusive lock, taken at once.
pub fn exclusive(repo: &hearth_repo::Repository) -> hearth_repo::ExclusiveLock {
    repo.lock_exclusive(std::time::Duration::ZERO, &|_| {})
        .expect("the exclusive lock")
}
