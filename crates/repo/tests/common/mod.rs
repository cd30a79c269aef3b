//! Set-up shared by the engine's integration tests.

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
    }
}
