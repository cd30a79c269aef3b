//! Creating and opening a repository; its keys.

use crate::error::{DamagedKey, RepoError};
use crate::lock::LockTimes;
use crate::survey::Survey;
use hearth_chunker::{Chunker, ChunkerParams, ContentRules};
use hearth_crypto::{KdfParams, KeyFile, KeyMeta, Keys, MasterKey};
use hearth_format::header::HeaderError;
use hearth_format::{Config, KeyId, ObjectKind};
use hearth_index::IndexCache;
use hearth_storage::{Backend, FileType, PutOutcome};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Clone, Default)]
pub struct RepoOptions {
    /// Argon2id parameters for new key files.
    pub kdf: KdfParams,
    /// Folder under which each repository's cache lives (`<cache root>/<repository id>/`).
    pub cache_root: Option<PathBuf>,
    /// When locks go stale and are given up: the format's times, except in tests.
    pub lock_times: LockTimes,
}

/// An open repository: storage, keys, config and the local index cache.
pub struct Repository {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) keys: Keys,
    pub(crate) config: Config,
    pub(crate) cache: IndexCache,
    pub(crate) master: MasterKey,
    pub(crate) options: RepoOptions,
    pub(crate) key_id: KeyId,
    /// Packs this process found missing from storage: not asked for again.
    pub(crate) gone_packs: Mutex<HashSet<hearth_format::PackId>>,
    /// Index segments and snapshots the last cache update could not read (and skipped).
    pub(crate) unreadable: Mutex<Vec<UnreadableObject>>,
}

/// A repository object that could not be read, and why. It was skipped: every other object
/// works as before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableObject {
    /// `index/<id>` or `snapshots/<id>`.
    pub object: String,
    pub problem: String,
}

#[derive(Debug, Clone)]
pub struct KeySummary {
    pub id: KeyId,
    /// Who made the key file and when; `None` when the file is damaged.
    pub meta: Option<KeyMeta>,
    /// Why the key file cannot be parsed (no password opens it; `key remove` removes it).
    pub damaged: Option<String>,
    pub current: bool,
}

impl Repository {
    /// Creates a repository in an empty backend: the first key file, then config. A location
    /// that holds any repository object is refused ([`Repository::check_can_init`]).
    pub fn init(
        backend: Arc<dyn Backend>,
        password: &[u8],
        options: &RepoOptions,
    ) -> Result<Self, RepoError> {
        check_password(password)?;
        Self::check_can_init(&*backend)?;
        let master = MasterKey::generate();
        let config = Config::new(hearth_crypto::random_bytes(), master.content_keys());
        Self::init_with(backend, master, config, password, options)
    }

    /// Creates a repository that chunks like `like` (`hearth init --like`): its content keys,
    /// chunker sizes and compression (`docs/format.md` §4, §6), with a master secret, keys
    /// and repository id of its own. [`Repository::copy_snapshots`] copies between the two.
    pub fn init_like(
        backend: Arc<dyn Backend>,
        password: &[u8],
        like: &Repository,
        options: &RepoOptions,
    ) -> Result<Self, RepoError> {
        check_password(password)?;
        Self::check_can_init(&*backend)?;
        let config = like.config.like(hearth_crypto::random_bytes());
        Self::init_with(backend, MasterKey::generate(), config, password, options)
    }

    /// The first key file, then `config` (layout 2, with its content keys).
    fn init_with(
        backend: Arc<dyn Backend>,
        master: MasterKey,
        config: Config,
        password: &[u8],
        options: &RepoOptions,
    ) -> Result<Self, RepoError> {
        let keys = master.keys();
        let key_id = write_key_file(&*backend, &master, password, options.kdf)?;
        let sealed = keys.seal_object(ObjectKind::Config, &config.encode());
        if backend.put_if_absent(FileType::Config, "config", &sealed)? == PutOutcome::AlreadyExists
        {
            backend.delete(FileType::Key, &key_id.to_hex())?;
            return Err(RepoError::AlreadyExists {
                location: backend.location(),
            });
        }
        Self::assemble(backend, master, config, options, key_id)
    }

    /// `Ok` when `backend` holds nothing of a repository: no `config` and no object in any
    /// of its folders. Otherwise says what is there; nothing is written either way.
    pub fn check_can_init(backend: &dyn Backend) -> Result<(), RepoError> {
        Survey::of(backend)?.allow_init(backend.location())
    }

    /// Opens a repository with any of its passwords and brings the local cache up to date.
    pub fn open(
        backend: Arc<dyn Backend>,
        password: &[u8],
        options: &RepoOptions,
    ) -> Result<Self, RepoError> {
        let config_file = read_config(&*backend)?;
        let (master, key_id, payload) = unlock(&*backend, password, &config_file)?;
        let layout = hearth_format::FileHeader::version(&config_file);
        // Layout 1 stores no content keys: they are derived from the master secret (§6).
        let config = Config::decode_layout(&payload, layout, || master.content_keys())
            .map_err(|e| RepoError::corrupt("config", e))?;
        Self::assemble(backend, master, config, options, key_id)
    }

    fn assemble(
        backend: Arc<dyn Backend>,
        master: MasterKey,
        config: Config,
        options: &RepoOptions,
        key_id: KeyId,
    ) -> Result<Self, RepoError> {
        let cache_path = cache_dir(options, &config).join("index.redb");
        let cache = open_cache(&cache_path)?;
        let repo = Self {
            backend,
            // The config's content keys, whether stored (layout 2) or derived (layout 1).
            keys: master.keys().with_content(config.content.clone()),
            config,
            cache,
            master,
            options: options.clone(),
            key_id,
            gone_packs: Mutex::default(),
            unreadable: Mutex::default(),
        };
        repo.sync_cache()?;
        Ok(repo)
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn cache(&self) -> &IndexCache {
        &self.cache
    }

    pub fn chunker(&self) -> Chunker {
        let c = &self.config;
        let params = ChunkerParams {
            min: c.chunk_min,
            avg: c.chunk_avg,
            max: c.chunk_max,
            seed: self.keys.chunker_seed(),
        };
        let rules = ContentRules {
            media: (c.media_min, c.media_avg, c.media_max),
            sqlite_chunk: c.sqlite_chunk,
        };
        Chunker::with_rules(params, rules)
    }

    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// This repository's folder in this computer's cache: also where notes of this computer
    /// about it are kept (the last check, the overdue devices already reported).
    pub fn cache_folder(&self) -> PathBuf {
        self.cache
            .path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// A file of this process in the cache folder (`<prefix>-<pid>.redb`), for working sets
    /// kept on disk; a killed process's are removed at the next open.
    pub(crate) fn scratch_file(&self, prefix: &str) -> PathBuf {
        self.cache_folder()
            .join(format!("{prefix}-{}.redb", std::process::id()))
    }

    /// The index segments and snapshots that could not be read when the cache was last brought
    /// up to date: they are left out of listings, look-ups and plans until repaired.
    pub fn unreadable_objects(&self) -> Vec<UnreadableObject> {
        self.unreadable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Adds a password: a new key file sealing the same master secret.
    pub fn add_key(&self, password: &[u8]) -> Result<KeyId, RepoError> {
        check_password(password)?;
        write_key_file(&*self.backend, &self.master, password, self.options.kdf)
    }

    pub fn list_keys(&self) -> Result<Vec<KeySummary>, RepoError> {
        let mut out = Vec::new();
        for obj in self.backend.list(FileType::Key)? {
            let bytes = self.backend.get(FileType::Key, &obj.name)?;
            let parsed = KeyFile::parse(&bytes);
            let id = KeyId::from_hex(&obj.name).expect("listed names are ids");
            out.push(KeySummary {
                id,
                damaged: parsed.as_ref().err().map(ToString::to_string),
                meta: parsed.ok().map(|f| f.meta),
                current: id == self.key_id,
            });
        }
        Ok(out)
    }

    /// Removes a password. The last key and the key this session opened with cannot be removed.
    pub fn remove_key(&self, id: &KeyId) -> Result<(), RepoError> {
        let keys = self.list_keys()?;
        if !keys.iter().any(|k| k.id == *id) {
            return Err(RepoError::NoSuchKey(id.to_string()));
        }
        if *id == self.key_id {
            return Err(RepoError::KeyInUse);
        }
        self.backend.delete(FileType::Key, &id.to_hex())?;
        Ok(())
    }

    /// Changes the password this session opened with: add the new key, then remove the old.
    pub fn change_password(&mut self, new_password: &[u8]) -> Result<KeyId, RepoError> {
        let new_id = self.add_key(new_password)?;
        let old = std::mem::replace(&mut self.key_id, new_id);
        self.backend.delete(FileType::Key, &old.to_hex())?;
        Ok(new_id)
    }
}

/// The shared cache; a private one (rebuilt from the repository's index) while another process
/// holds the shared one, so that several commands can run at once.
fn open_cache(path: &Path) -> Result<IndexCache, RepoError> {
    remove_dead_private_caches(path);
    match IndexCache::open(path) {
        Ok(c) => Ok(c),
        Err(hearth_index::IndexError::Busy { .. }) => {
            let private = path.with_file_name(format!("index-{}.redb", std::process::id()));
            Ok(IndexCache::create_private(&private)?)
        }
        Err(hearth_index::IndexError::Db { .. }) => {
            // A corrupt cache is only a cache: start a new one and rebuild it from the objects.
            std::fs::remove_file(path).map_err(|source| RepoError::CacheUnremovable {
                path: path.to_owned(),
                source,
            })?;
            Ok(IndexCache::open(path)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Private caches (`index-<pid>.redb`), prune's live sets (`live-<pid>.redb`) and stats'
/// usage sets (`uses-<pid>.redb`) of processes that were killed.
fn remove_dead_private_caches(shared: &Path) {
    let Some(dir) = shared.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let pid = name.to_str().and_then(|n| {
            let rest = ["index-", "live-", "uses-"]
                .iter()
                .find_map(|p| n.strip_prefix(p))?;
            rest.strip_suffix(".redb")?.parse::<u32>().ok()
        });
        if pid.is_some_and(|p| p != std::process::id() && !crate::lock::pid_alive(p)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn cache_dir(options: &RepoOptions, config: &Config) -> PathBuf {
    let root = options
        .cache_root
        .clone()
        .unwrap_or_else(default_cache_root);
    root.join(hex::encode(config.repository_id))
}

/// `$XDG_CACHE_HOME/hearth`, else `~/.cache/hearth`.
pub fn default_cache_root() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("hearth")
}

fn write_key_file(
    backend: &dyn Backend,
    master: &MasterKey,
    password: &[u8],
    kdf: KdfParams,
) -> Result<KeyId, RepoError> {
    let meta = KeyMeta {
        created: crate::lock::unix_now(),
        host: crate::lock::hostname(),
        user: informational(std::env::var("USER").unwrap_or_default()),
    };
    let file = KeyFile::create(master, password, kdf, meta)?;
    let id = KeyId(hearth_crypto::random_bytes());
    backend.put(FileType::Key, &id.to_hex(), &file)?;
    Ok(id)
}

/// New passwords must not be empty (existing repositories with one still open).
fn check_password(password: &[u8]) -> Result<(), RepoError> {
    if password.is_empty() {
        return Err(RepoError::EmptyPassword);
    }
    Ok(())
}

/// The bytes of `config`, its header checked. A missing config is told apart: nothing here
/// (create one), or a damaged repository whose objects are still there (never `init` it).
fn read_config(backend: &dyn Backend) -> Result<Vec<u8>, RepoError> {
    let bytes = match backend.get(FileType::Config, "config") {
        Ok(b) => b,
        Err(e) if e.is_not_found() => {
            return Err(Survey::of(backend)?.missing_config(backend.location()));
        }
        Err(e) => return Err(e.into()),
    };
    match hearth_format::FileHeader::check(&bytes, ObjectKind::Config) {
        Ok(()) => Ok(bytes),
        // A repository written by a newer Hearth is not damaged: the advice is to upgrade.
        Err(e @ HeaderError::NewerVersion { .. }) => Err(RepoError::corrupt(
            format!("{}/config", backend.location()),
            e,
        )),
        Err(e) => Err(RepoError::ConfigDamaged {
            location: backend.location(),
            detail: e.to_string(),
        }),
    }
}

/// Tries every key file until one opens with `password` and its key opens `config`; returns
/// that key, its id and config's plaintext. When none does, says why: no key files, all of
/// them damaged, a wrong password (naming the damaged ones), or a config no key opens.
fn unlock(
    backend: &dyn Backend,
    password: &[u8],
    config_file: &[u8],
) -> Result<(MasterKey, KeyId, Vec<u8>), RepoError> {
    let listed = backend.list(FileType::Key)?;
    let (mut damaged, mut opened) = (Vec::new(), 0);
    for obj in &listed {
        let bytes = backend.get(FileType::Key, &obj.name)?;
        let file = match KeyFile::parse(&bytes) {
            Ok(f) => f,
            Err(e) => {
                damaged.push(DamagedKey {
                    name: obj.name.clone(),
                    detail: e.to_string(),
                });
                continue;
            }
        };
        let Ok(master) = file.open(password) else {
            continue;
        };
        opened += 1;
        if let Ok(config) = master.keys().open_object(ObjectKind::Config, config_file) {
            let id = KeyId::from_hex(&obj.name).expect("listed names are ids");
            return Ok((master, id, config));
        }
    }
    let location = backend.location();
    Err(match (listed.len(), opened) {
        (0, _) => RepoError::NoKeys { location },
        (_, 1..) => RepoError::ConfigUndecryptable { location, opened },
        (n, 0) if damaged.len() == n => RepoError::KeysDamaged { location, damaged },
        (keys, 0) => RepoError::WrongPassword {
            location,
            keys,
            damaged,
        },
    })
}

/// A key file's user name says who made it, nothing more: at most 255 bytes (cut at a
/// character), so that no environment makes it too long for the format.
fn informational(mut s: String) -> String {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_name_too_long_for_the_format_is_cut_at_a_character() {
        let long = "é".repeat(40_000);
        let cut = informational(long);
        assert!(
            cut.len() <= 255 && cut.chars().all(|c| c == 'é'),
            "{}",
            cut.len()
        );
        assert_eq!(informational("mum".into()), "mum");
    }
}
