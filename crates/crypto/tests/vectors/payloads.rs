//! The payload of every object kind (`docs/format.md` §3, §6 to §10b), and the file header
//! every object starts with. No keys are involved: these are the bytes a seal encloses.

use crate::doc::Vector;
use hearth_crypto::MasterKey;
use hearth_format::codec::Reader;
use hearth_format::config::LAYOUT_1_LEN;
use hearth_format::entry::{Cipher, Content, Entry, Row, RowState, join_mtime};
use hearth_format::{
    BlobKind, ChunkId, Compression, Config, ContentKeys, DeviceIdentity, DeviceKey, FileHeader,
    IndexSegment, LockInfo, ObjectKind, PackEntry, PackId, PackRecord, PinInfo, Snapshot,
    SnapshotId, SnapshotSummary, Warning,
};

/// 2026-06-02 01:30:00 UTC, in Unix seconds: when the vectors' household backed up.
pub const T: i64 = 1_780_363_800;
pub const HOST: &str = "kitchen-mac";
pub const UDID: &str = "00008110-001A2B3C4D5E6F70";

fn id(byte: u8) -> [u8; 32] {
    [byte; 32]
}

const KINDS: [ObjectKind; 8] = ObjectKind::ALL;

#[test]
fn file_headers() {
    let v = Vector::new(
        "file headers",
        &[
            ("48 52 54 48 43 01 00 00", "config: HRTH, kind C, layout 1"),
            (
                "48 52 54 48 4b 01 00 00",
                "key file: HRTH, kind K, layout 1",
            ),
            ("48 52 54 48 50 01 00 00", "pack: HRTH, kind P, layout 1"),
            (
                "48 52 54 48 49 01 00 00",
                "index segment: HRTH, kind I, layout 1",
            ),
            (
                "48 52 54 48 53 02 00 00",
                "snapshot: HRTH, kind S, layout 2",
            ),
            ("48 52 54 48 4c 01 00 00", "lock: HRTH, kind L, layout 1"),
            (
                "48 52 54 48 44 01 00 00",
                "device key: HRTH, kind D, layout 1",
            ),
            ("48 52 54 48 4e 01 00 00", "pin: HRTH, kind N, layout 1"),
        ],
    );
    // Each kind at the layout issue 14 pinned; a newer layout's header is in its own vectors.
    let pinned = KINDS.map(|kind| {
        let layout = if kind == ObjectKind::Snapshot { 2 } else { 1 };
        FileHeader::encode_layout(kind, layout)
    });
    v.check(&pinned.concat());
    for (i, kind) in KINDS.into_iter().enumerate() {
        assert_eq!(FileHeader::check(v.row(i), kind), Ok(()), "{kind:?}");
    }
}

/// The content keys of the master secret of §15.2 (the bytes 0 to 31): what a layout-1
/// config's reader derives, and what `init` stores in a layout-2 config.
pub fn content_keys() -> ContentKeys {
    MasterKey::from_bytes(std::array::from_fn(|i| i as u8)).content_keys()
}

pub fn config() -> Config {
    Config::new(id(0x11), content_keys())
}

const CONFIG_LAYOUT_1: &[(&str, &str)] = &[
    (
        "11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11",
        "repository id",
    ),
    ("00 40 00 00", "chunk min (u32): 16384"),
    ("00 00 01 00", "chunk average (u32): 65536"),
    ("00 00 04 00", "chunk max (u32): 262144"),
    ("03 00 00 00", "zstd level (i32): 3"),
    ("00 00 00 01", "pack target size (u32): 16777216"),
    ("00 00 08 00", "media chunk min (u32): 524288"),
    ("00 00 10 00", "media chunk average (u32): 1048576"),
    ("00 00 20 00", "media chunk max (u32): 2097152"),
    ("00 20 00 00", "SQLite chunk (u32): 8192"),
];

/// Layout 2 of the config (§6): layout 1's fields, then the content keys.
#[test]
fn config_payload_layout_2() {
    let mut rows = CONFIG_LAYOUT_1.to_vec();
    rows.push((
        "70 a0 cd ef 0d bb 35 0d 46 2b c4 a0 0e c1 70 82 f9 de 81 f3 87 bf 23 7d f2 d6 00 20 ff 73 16 30",
        "chunk-id key: derived from the master secret of §15.2",
    ));
    rows.push((
        "8d 70 ac 98 3f 05 c7 fe",
        "chunker seed (u64): derived likewise",
    ));
    let v = Vector::new("config payload, layout 2", &rows);
    v.check(&config().encode());
    assert_eq!(Config::decode(&v.bytes()), Ok(config()));
}

/// Layout 1 (before 2027-01): layout 2 without the content keys, which its reader derives
/// from the master secret.
#[test]
fn config_payload() {
    let v = Vector::new("config payload", CONFIG_LAYOUT_1);
    v.check(&config().encode()[..LAYOUT_1_LEN]);
    assert_eq!(
        Config::decode_layout(&v.bytes(), 1, content_keys),
        Ok(config())
    );
}

fn pack_entries() -> Vec<PackEntry> {
    vec![
        PackEntry {
            id: ChunkId(id(0xc1)),
            kind: BlobKind::Data,
            compression: Compression::None,
            offset: 8,
            length: 53,
            raw_length: 13,
        },
        PackEntry {
            id: ChunkId(id(0xc2)),
            kind: BlobKind::Tree,
            compression: Compression::Zstd,
            offset: 61,
            length: 1000,
            raw_length: 4096,
        },
    ]
}

#[test]
fn pack_header_payload() {
    let v = Vector::new(
        "pack header payload",
        &[
            ("02 00 00 00", "entries: 2"),
            (
                "c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1",
                "entry 0: blob id",
            ),
            (
                "00 00 00 00",
                "kind 0 (data), compression 0 (none), reserved",
            ),
            ("08 00 00 00", "offset (u32): 8"),
            ("35 00 00 00", "sealed length (u32): 53"),
            ("0d 00 00 00", "plaintext length (u32): 13"),
            (
                "c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2",
                "entry 1: blob id",
            ),
            (
                "01 01 00 00",
                "kind 1 (tree), compression 1 (zstd), reserved",
            ),
            ("3d 00 00 00", "offset (u32): 61"),
            ("e8 03 00 00", "sealed length (u32): 1000"),
            ("00 10 00 00", "plaintext length (u32): 4096"),
        ],
    );
    v.check(&PackEntry::encode_list(&pack_entries()));
    let bytes = v.bytes();
    let mut r = Reader::new(&bytes);
    assert_eq!(PackEntry::decode_list(&mut r), Ok(pack_entries()));
    assert_eq!(r.finish(), Ok(()));
}

/// A segment listing one pack of 1,205 bytes: the file header, the two blobs of
/// [`pack_entries`], a sealed header of 140 bytes and its 4-byte length.
pub fn index_segment() -> IndexSegment {
    IndexSegment {
        packs: vec![PackRecord {
            pack: PackId(id(0xd1)),
            length: 1205,
            entries: pack_entries(),
        }],
    }
}

#[test]
fn index_segment_payload() {
    let v = Vector::new(
        "index segment payload",
        &[
            ("01 00 00 00", "packs: 1"),
            (
                "d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1 d1",
                "pack 0: pack id",
            ),
            ("b5 04 00 00", "pack length (u32): 1205"),
            ("02 00 00 00", "entries: 2"),
            (
                "c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1",
                "entry 0: blob id",
            ),
            (
                "00 00 00 00",
                "kind 0 (data), compression 0 (none), reserved",
            ),
            ("08 00 00 00", "offset (u32): 8"),
            ("35 00 00 00", "sealed length (u32): 53"),
            ("0d 00 00 00", "plaintext length (u32): 13"),
            (
                "c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2",
                "entry 1: blob id",
            ),
            (
                "01 01 00 00",
                "kind 1 (tree), compression 1 (zstd), reserved",
            ),
            ("3d 00 00 00", "offset (u32): 61"),
            ("e8 03 00 00", "sealed length (u32): 1000"),
            ("00 10 00 00", "plaintext length (u32): 4096"),
        ],
    );
    v.check(&index_segment().encode());
    assert_eq!(IndexSegment::decode(&v.bytes()), Ok(index_segment()));
}

fn row(file_id: &str, domain: &str, relative_path: &str, flags: i64) -> Row {
    Row {
        file_id: file_id.into(),
        domain: domain.into(),
        relative_path: relative_path.into(),
        flags,
        recorded_size: 0,
        recorded_mtime: 0,
        state: RowState::Ok,
    }
}

fn content(size: u64, mtime_ns: i128, mode: u32, chunk: u8) -> Content {
    Content {
        size,
        mtime_ns,
        mode,
        chunks: vec![ChunkId(id(chunk))],
        cipher: None,
    }
}

const FILE_ID_SMS: &str = "3d0d7e5fb2ce288813306e4d4636395e047a3d28";
const FILE_ID_DCIM: &str = "7c7fba66680ef796b916b067077cc246adacf01d";
const FILE_ID_ORPHAN: &str = "e5a9c3d27b1f4e8a6c0d9b2f3e7a1c5d8b4f6e20";

/// Five entries, sorted by path, one of each shape §9.1 allows: a row with its file, a
/// directory row, a plist, an encrypted backup's Manifest.db, and a blob no row names dated
/// in the year 2400 (a wide mtime).
fn entries() -> Vec<Entry> {
    let sms = Entry {
        path: format!("3d/{FILE_ID_SMS}"),
        row: Some(Row {
            recorded_size: 28_672,
            recorded_mtime: 1_610_659_523,
            ..row(FILE_ID_SMS, "HomeDomain", "Library/SMS/sms.db", 1)
        }),
        content: Some(content(28_672, 1_610_659_523_000_000_000, 0o644, 0xc1)),
    };
    let dcim = Entry {
        path: format!("7c/{FILE_ID_DCIM}"),
        row: Some(Row {
            recorded_mtime: 1_610_000_000,
            ..row(FILE_ID_DCIM, "CameraRollDomain", "Media/DCIM", 2)
        }),
        content: None,
    };
    let info = Entry {
        path: "Info.plist".into(),
        row: None,
        content: Some(content(1234, 1_780_363_790_500_000_000, 0o644, 0xc2)),
    };
    let mut wrapped_key = [0x77; 44];
    wrapped_key[..4].copy_from_slice(&[3, 0, 0, 0]);
    let manifest = Entry {
        path: "Manifest.db".into(),
        row: None,
        content: Some(Content {
            cipher: Some(Cipher {
                wrapped_key,
                pkcs7: false,
            }),
            ..content(4096, 1_780_363_795_000_000_000, 0o600, 0xc3)
        }),
    };
    let orphan = Entry {
        path: format!("e5/{FILE_ID_ORPHAN}"),
        row: None,
        content: Some(content(
            3,
            join_mtime(13_569_465_600, 123_456_789),
            0o644,
            0xc4,
        )),
    };
    vec![sms, dcim, info, manifest, orphan]
}

#[test]
fn entry_stream() {
    let v = Vector::new(
        "entry stream",
        &[
            ("03", "entry 0: flags 0x03 (row, content)"),
            (
                "2b 00 33 64 2f 33 64 30 64 37 65 35 66 62 32 63 65 32 38 38 38 31 33 33 30 36 65 34 64 34 36 33 36 33 39 35 65 30 34 37 61 33 64 32 38",
                "path (string): \"3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28\"",
            ),
            (
                "28 00 33 64 30 64 37 65 35 66 62 32 63 65 32 38 38 38 31 33 33 30 36 65 34 64 34 36 33 36 33 39 35 65 30 34 37 61 33 64 32 38",
                "file id (string): \"3d0d7e5fb2ce288813306e4d4636395e047a3d28\"",
            ),
            (
                "0a 00 48 6f 6d 65 44 6f 6d 61 69 6e",
                "domain (string): \"HomeDomain\"",
            ),
            (
                "12 00 00 00 4c 69 62 72 61 72 79 2f 53 4d 53 2f 73 6d 73 2e 64 62",
                "relative path (lstring): \"Library/SMS/sms.db\"",
            ),
            ("01 00 00 00 00 00 00 00", "row flags (i64): 1 (file)"),
            ("00 70 00 00 00 00 00 00", "recorded size (u64): 28672"),
            (
                "c3 b6 00 60 00 00 00 00",
                "recorded mtime (i64): 1610659523",
            ),
            ("00", "row state: 0 (ok)"),
            ("00 70 00 00 00 00 00 00", "size (u64): 28672"),
            (
                "00 de 83 72 4d 36 5a 16",
                "mtime (i64 ns): 1610659523000000000",
            ),
            ("a4 01 00 00", "mode (u32): 0o644"),
            ("01 00 00 00", "chunks: 1"),
            (
                "c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1 c1",
                "chunk 0",
            ),
            ("01", "entry 1: flags 0x01 (row)"),
            (
                "2b 00 37 63 2f 37 63 37 66 62 61 36 36 36 38 30 65 66 37 39 36 62 39 31 36 62 30 36 37 30 37 37 63 63 32 34 36 61 64 61 63 66 30 31 64",
                "path (string): \"7c/7c7fba66680ef796b916b067077cc246adacf01d\"",
            ),
            (
                "28 00 37 63 37 66 62 61 36 36 36 38 30 65 66 37 39 36 62 39 31 36 62 30 36 37 30 37 37 63 63 32 34 36 61 64 61 63 66 30 31 64",
                "file id (string): \"7c7fba66680ef796b916b067077cc246adacf01d\"",
            ),
            (
                "10 00 43 61 6d 65 72 61 52 6f 6c 6c 44 6f 6d 61 69 6e",
                "domain (string): \"CameraRollDomain\"",
            ),
            (
                "0a 00 00 00 4d 65 64 69 61 2f 44 43 49 4d",
                "relative path (lstring): \"Media/DCIM\"",
            ),
            ("02 00 00 00 00 00 00 00", "row flags (i64): 2 (directory)"),
            ("00 00 00 00 00 00 00 00", "recorded size (u64): 0"),
            (
                "80 a6 f6 5f 00 00 00 00",
                "recorded mtime (i64): 1610000000",
            ),
            ("00", "row state: 0 (ok)"),
            ("02", "entry 2: flags 0x02 (content)"),
            (
                "0a 00 49 6e 66 6f 2e 70 6c 69 73 74",
                "path (string): \"Info.plist\"",
            ),
            ("d2 04 00 00 00 00 00 00", "size (u64): 1234"),
            (
                "00 71 b8 47 6f 1f b5 18",
                "mtime (i64 ns): 1780363790500000000",
            ),
            ("a4 01 00 00", "mode (u32): 0o644"),
            ("01 00 00 00", "chunks: 1"),
            (
                "c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2 c2",
                "chunk 0",
            ),
            ("06", "entry 3: flags 0x06 (content, cipher)"),
            (
                "0b 00 4d 61 6e 69 66 65 73 74 2e 64 62",
                "path (string): \"Manifest.db\"",
            ),
            ("00 10 00 00 00 00 00 00", "size (u64): 4096"),
            (
                "00 fe f0 53 70 1f b5 18",
                "mtime (i64 ns): 1780363795000000000",
            ),
            ("80 01 00 00", "mode (u32): 0o600"),
            ("01 00 00 00", "chunks: 1"),
            (
                "c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3 c3",
                "chunk 0",
            ),
            (
                "03 00 00 00 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77 77",
                "wrapped key: class 3 (u32), 40-byte RFC 3394 key",
            ),
            ("00", "padding: 0 (none)"),
            ("0a", "entry 4: flags 0x0a (content, wide mtime)"),
            (
                "2b 00 65 35 2f 65 35 61 39 63 33 64 32 37 62 31 66 34 65 38 61 36 63 30 64 39 62 32 66 33 65 37 61 31 63 35 64 38 62 34 66 36 65 32 30",
                "path (string): \"e5/e5a9c3d27b1f4e8a6c0d9b2f3e7a1c5d8b4f6e20\"",
            ),
            ("03 00 00 00 00 00 00 00", "size (u64): 3"),
            (
                "00 9d cd 28 03 00 00 00",
                "mtime seconds (i64): 13569465600 (2400-01-01)",
            ),
            ("15 cd 5b 07", "mtime nanoseconds (u32): 123456789"),
            ("a4 01 00 00", "mode (u32): 0o644"),
            ("01 00 00 00", "chunks: 1"),
            (
                "c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4 c4",
                "chunk 0",
            ),
        ],
    );
    v.check(&Entry::encode_all(&entries()));
    assert_eq!(Entry::decode_all(&v.bytes()), Ok(entries()));
}

/// The snapshot whose tree is the [`entries`] stream, cut into two blobs.
pub fn snapshot() -> Snapshot {
    Snapshot {
        time: T * 1_000_000,
        stored_at: (T + 95) * 1_000_000,
        host: HOST.into(),
        device: DeviceIdentity {
            udid: UDID.into(),
            name: "Mum's iPhone".into(),
            product_type: "iPhone15,2".into(),
            ios_version: "17.5.1".into(),
            build: "21F90".into(),
        },
        parent: Some(SnapshotId(id(0x5a))),
        tags: vec!["nightly".into()],
        summary: SnapshotSummary {
            files: 5,
            bytes: 34_005,
            files_new: 1,
            files_changed: 1,
            files_unmodified: 3,
            bytes_read: 5333,
            bytes_added: 1237,
        },
        warnings: vec![Warning {
            path: format!("e5/{FILE_ID_ORPHAN}"),
            message: "a blob no Manifest.db row names".into(),
        }],
        tree_len: Entry::encode_all(&entries()).len() as u64,
        tree: vec![ChunkId(id(0xe1)), ChunkId(id(0xe2))],
    }
}

#[test]
fn snapshot_payload() {
    let v = Vector::new(
        "snapshot payload",
        &[
            ("00 b6 de 3f 3b 53 06 00", "time (i64 us): 1780363800000000"),
            (
                "c0 4b 88 45 3b 53 06 00",
                "stored at (i64 us): 1780363895000000",
            ),
            (
                "0b 00 6b 69 74 63 68 65 6e 2d 6d 61 63",
                "host name (string): \"kitchen-mac\"",
            ),
            (
                "19 00 30 30 30 30 38 31 31 30 2d 30 30 31 41 32 42 33 43 34 44 35 45 36 46 37 30",
                "device udid (string): \"00008110-001A2B3C4D5E6F70\"",
            ),
            (
                "0c 00 4d 75 6d 27 73 20 69 50 68 6f 6e 65",
                "device name (string): \"Mum's iPhone\"",
            ),
            (
                "0a 00 69 50 68 6f 6e 65 31 35 2c 32",
                "product type (string): \"iPhone15,2\"",
            ),
            (
                "06 00 31 37 2e 35 2e 31",
                "iOS version (string): \"17.5.1\"",
            ),
            ("05 00 32 31 46 39 30", "build (string): \"21F90\""),
            ("01", "parent: 1 (present)"),
            (
                "5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a",
                "parent id",
            ),
            ("01 00 00 00", "tags: 1"),
            ("07 00 6e 69 67 68 74 6c 79", "tag 0 (string): \"nightly\""),
            ("05 00 00 00 00 00 00 00", "files (u64): 5"),
            ("d5 84 00 00 00 00 00 00", "bytes (u64): 34005"),
            ("01 00 00 00 00 00 00 00", "files new (u64): 1"),
            ("01 00 00 00 00 00 00 00", "files changed (u64): 1"),
            ("03 00 00 00 00 00 00 00", "files unmodified (u64): 3"),
            ("d5 14 00 00 00 00 00 00", "bytes read (u64): 5333"),
            ("d5 04 00 00 00 00 00 00", "bytes added (u64): 1237"),
            ("01 00 00 00", "warnings: 1"),
            (
                "2b 00 65 35 2f 65 35 61 39 63 33 64 32 37 62 31 66 34 65 38 61 36 63 30 64 39 62 32 66 33 65 37 61 31 63 35 64 38 62 34 66 36 65 32 30",
                "warning 0: path (string): \"e5/e5a9c3d27b1f4e8a6c0d9b2f3e7a1c5d8b4f6e20\"",
            ),
            (
                "1f 00 00 00 61 20 62 6c 6f 62 20 6e 6f 20 4d 61 6e 69 66 65 73 74 2e 64 62 20 72 6f 77 20 6e 61 6d 65 73",
                "message (lstring): \"a blob no Manifest.db row names\"",
            ),
            ("7e 02 00 00 00 00 00 00", "tree byte length (u64): 638"),
            ("02 00 00 00", "tree blobs: 2"),
            (
                "e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1 e1",
                "tree blob 0",
            ),
            (
                "e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2 e2",
                "tree blob 1",
            ),
        ],
    );
    v.check(&snapshot().encode());
    assert_eq!(Snapshot::decode(&v.bytes()), Ok(snapshot()));
    // Layout 1 is the same without `stored at` (row 1), and reads its one time as both.
    let mut layout_1 = v.bytes();
    layout_1.drain(8..16);
    let old = Snapshot {
        stored_at: T * 1_000_000,
        ..snapshot()
    };
    assert_eq!(Snapshot::decode_layout(&layout_1, 1), Ok(old));
}

pub fn lock() -> LockInfo {
    LockInfo {
        exclusive: true,
        host: HOST.into(),
        pid: 4242,
        created: T + 60,
        refreshed: T + 360,
    }
}

#[test]
fn lock_payload() {
    let v = Vector::new(
        "lock payload",
        &[
            ("01", "exclusive: 1"),
            (
                "0b 00 6b 69 74 63 68 65 6e 2d 6d 61 63",
                "host (string): \"kitchen-mac\"",
            ),
            ("92 10 00 00", "pid (u32): 4242"),
            ("54 32 1e 6a 00 00 00 00", "created (i64): 1780363860"),
            ("80 33 1e 6a 00 00 00 00", "refreshed (i64): 1780364160"),
        ],
    );
    v.check(&lock().encode());
    assert_eq!(LockInfo::decode(&v.bytes()), Ok(lock()));
}

pub fn device_key() -> DeviceKey {
    DeviceKey {
        udid: UDID.into(),
        created: T + 10,
        kdf_digest: id(0xdd),
        kek: id(0xee),
    }
}

#[test]
fn device_key_payload() {
    let v = Vector::new(
        "device key payload",
        &[
            (
                "19 00 30 30 30 30 38 31 31 30 2d 30 30 31 41 32 42 33 43 34 44 35 45 36 46 37 30",
                "udid (string): \"00008110-001A2B3C4D5E6F70\"",
            ),
            ("22 32 1e 6a 00 00 00 00", "created (i64): 1780363810"),
            (
                "dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd dd",
                "kdf digest",
            ),
            (
                "ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee",
                "kek",
            ),
        ],
    );
    v.check(&device_key().encode());
    assert_eq!(DeviceKey::decode(&v.bytes()), Ok(device_key()));
}

pub fn pin() -> PinInfo {
    PinInfo {
        pinned_at: T + 86_400,
        host: HOST.into(),
    }
}

#[test]
fn pin_payload() {
    let v = Vector::new(
        "pin payload",
        &[
            ("98 83 1f 6a 00 00 00 00", "pinned at (i64): 1780450200"),
            (
                "0b 00 6b 69 74 63 68 65 6e 2d 6d 61 63",
                "host (string): \"kitchen-mac\"",
            ),
        ],
    );
    v.check(&pin().encode());
    assert_eq!(PinInfo::decode(&v.bytes()), Ok(pin()));
}
