//! What the floors need to know of a local Hearth repository, read straight from its files by
//! the format crate (`docs/format.md`): the keys and chunker, where every blob lives, and the
//! snapshots. Deliberately not `hearth-repo`: the floors must not inherit the costs they are
//! the yardstick for, and this reading is setup, not measured.

use hearth_chunker::{Chunker, ChunkerParams, ContentRules};
use hearth_crypto::{KeyFile, Keys, MasterKey};
use hearth_format::{
    BlobKind, ChunkId, Config, Entry, FileHeader, IndexSegment, ObjectKind, PackEntry, PackId,
    Snapshot, SnapshotId,
};
use hearth_repo::UnsealBuffers;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One sealed blob: which pack file, and its entry there.
#[derive(Clone, Copy)]
pub struct Blob {
    pub pack: PackId,
    pub entry: PackEntry,
}

pub struct Repo {
    pub root: PathBuf,
    pub keys: Keys,
    pub config: Config,
    /// The key file that opened the repository, to time its key derivation.
    pub key_file: KeyFile,
    /// Every indexed blob (the first copy the index names).
    pub blobs: HashMap<ChunkId, Blob>,
    /// Every indexed pack and its length.
    pub packs: Vec<(PackId, u64)>,
    /// Bytes of the index segments.
    pub index_files: Vec<PathBuf>,
    /// Every snapshot, oldest first (device time, then time stored).
    pub snapshots: Vec<(SnapshotId, Snapshot)>,
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn listed(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.len() == 64))
        .collect();
    out.sort();
    out
}

impl Repo {
    pub fn open(root: &Path, password: &[u8]) -> Repo {
        let config_file = read(&root.join("config"));
        let (key_file, master) = listed(&root.join("keys"))
            .iter()
            .filter_map(|p| KeyFile::parse(&read(p)).ok())
            .find_map(|k| k.open(password).ok().map(|m| (k, m)))
            .expect("no key file of the repository opens with HEARTH_PASSWORD");
        let keys = MasterKey::keys(&master);
        let config = Config::decode_layout(
            &keys
                .open_object(ObjectKind::Config, &config_file)
                .expect("opening config"),
            hearth_format::FileHeader::version(&config_file),
            || master.content_keys(),
        )
        .expect("decoding config");
        let keys = keys.with_content(config.content.clone());

        let index_files = listed(&root.join("index"));
        let (mut blobs, mut packs) = (HashMap::new(), Vec::new());
        for path in &index_files {
            let payload = keys
                .open_object(ObjectKind::Index, &read(path))
                .expect("opening an index segment");
            for record in IndexSegment::decode(&payload)
                .expect("an index segment")
                .packs
            {
                packs.push((record.pack, u64::from(record.length)));
                for entry in record.entries {
                    let pack = record.pack;
                    blobs.entry(entry.id).or_insert(Blob { pack, entry });
                }
            }
        }
        packs.sort_by_key(|(p, _)| *p);
        packs.dedup_by_key(|(p, _)| *p);

        let mut snapshots: Vec<(SnapshotId, Snapshot)> = listed(&root.join("snapshots"))
            .iter()
            .map(|path| {
                let bytes = read(path);
                let payload = keys
                    .open_object(ObjectKind::Snapshot, &bytes)
                    .expect("opening a snapshot");
                let name = path.file_name().unwrap().to_string_lossy();
                let snapshot = Snapshot::decode_layout(&payload, FileHeader::version(&bytes))
                    .expect("decoding a snapshot");
                (
                    SnapshotId::from_hex(&name).expect("a snapshot name"),
                    snapshot,
                )
            })
            .collect();
        snapshots.sort_by_key(|(id, s)| (s.time, s.stored_at, *id));
        Repo {
            root: root.to_owned(),
            keys,
            config,
            key_file,
            blobs,
            packs,
            index_files,
            snapshots,
        }
    }

    /// The repository's chunker, as `hearth-repo` builds it from the config (format §6).
    pub fn chunker(&self) -> Chunker {
        let c = &self.config;
        Chunker::with_rules(
            ChunkerParams {
                min: c.chunk_min,
                avg: c.chunk_avg,
                max: c.chunk_max,
                seed: self.keys.chunker_seed(),
            },
            ContentRules {
                media: (c.media_min, c.media_avg, c.media_max),
                sqlite_chunk: c.sqlite_chunk,
            },
        )
    }

    pub fn pack_path(&self, pack: &PackId) -> PathBuf {
        let hex = pack.to_hex();
        self.root.join("packs").join(&hex[..2]).join(hex)
    }

    pub fn blob(&self, id: &ChunkId) -> Blob {
        *self
            .blobs
            .get(id)
            .unwrap_or_else(|| panic!("blob {id} is in no index segment"))
    }

    /// Each device's snapshots, oldest first, by UDID.
    pub fn by_device(&self) -> Vec<(String, Vec<&Snapshot>)> {
        let mut out: Vec<(String, Vec<&Snapshot>)> = Vec::new();
        for (_, s) in &self.snapshots {
            match out.iter_mut().find(|(u, _)| *u == s.device.udid) {
                Some((_, list)) => list.push(s),
                None => out.push((s.device.udid.clone(), vec![s])),
            }
        }
        out
    }
}

/// Opens and joins a snapshot's tree blobs (each `(blob, sealed bytes)`) and decodes the
/// entries: what every command that reads a snapshot must do.
pub fn decode_tree(keys: &Keys, sealed: &[(Blob, Vec<u8>)]) -> Vec<Entry> {
    let mut stream = Vec::new();
    let mut buffers = UnsealBuffers::default();
    for (blob, bytes) in sealed {
        assert_eq!(blob.entry.kind, BlobKind::Tree);
        let plain = buffers
            .unseal(keys, &blob.entry, bytes)
            .expect("a tree blob opens");
        stream.extend_from_slice(plain);
    }
    Entry::decode_all(&stream).expect("a tree decodes")
}
