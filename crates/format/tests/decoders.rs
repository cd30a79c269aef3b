//! No decoder of repository bytes panics, whatever it is given (issue 14): each is fed arbitrary
//! bytes and valid encodings damaged as storage damages them (bit flips, overwritten bytes,
//! truncation, lost or extra bytes, length and count fields set to anything), and must return
//! `Ok` or `Err`. What a decoder accepts must also encode again to something that decodes to
//! the same value: the cache stores snapshots encoded again (§12), so anything read can be
//! written.
//!
//! The key file's decoder is tested in `hearth-crypto`, the pack trailer's in `hearth-repo`.

use hearth_format::codec::{DecodeError, Reader};
use hearth_format::entry::{Cipher, Content, Entry, Row, RowState, WRAPPED_KEY_LEN, join_mtime};
use hearth_format::{
    BlobKind, ChunkId, Compression, Config, DeviceIdentity, DeviceKey, FileHeader, IndexSegment,
    LockInfo, ObjectKind, PackEntry, PackId, PackRecord, PinInfo, Snapshot, SnapshotId,
    SnapshotSummary, Warning,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

/// One kind of damage to an encoding.
#[derive(Debug, Clone)]
enum Damage {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    /// A little-endian u16 or u32 written over the bytes at an offset: where a length or a
    /// count sits, it now says something else.
    SetU16(Index, u16),
    SetU32(Index, u32),
    Truncate(Index),
    Remove(Index, usize),
    Insert(Index, Vec<u8>),
}

fn edge_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(u32::from(u16::MAX)),
        Just(u32::MAX),
        Just(u32::MAX / 48),
        0u32..1024,
        any::<u32>(),
    ]
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Damage::FlipBit(i, bit)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Damage::SetByte(i, b)),
        (any::<Index>(), edge_u32()).prop_map(|(i, v)| Damage::SetU16(i, v as u16)),
        (any::<Index>(), edge_u32()).prop_map(|(i, v)| Damage::SetU32(i, v)),
        any::<Index>().prop_map(Damage::Truncate),
        (any::<Index>(), 1usize..40).prop_map(|(i, n)| Damage::Remove(i, n)),
        (any::<Index>(), vec(any::<u8>(), 1..40)).prop_map(|(i, b)| Damage::Insert(i, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, d: &Damage) {
    let len = bytes.len();
    match d {
        Damage::FlipBit(i, bit) if len > 0 => bytes[i.index(len)] ^= 1 << bit,
        Damage::SetByte(i, b) => overwrite(bytes, i, &[*b]),
        Damage::SetU16(i, v) => overwrite(bytes, i, &v.to_le_bytes()),
        Damage::SetU32(i, v) => overwrite(bytes, i, &v.to_le_bytes()),
        Damage::Truncate(i) => bytes.truncate(i.index(len + 1)),
        Damage::Remove(i, n) if len > 0 => {
            let start = i.index(len);
            bytes.drain(start..(start + n).min(len));
        }
        Damage::Insert(i, extra) => {
            let at = i.index(len + 1);
            bytes.splice(at..at, extra.iter().copied());
        }
        _ => {}
    }
}

/// Writes `v` over the bytes at a place that holds it whole, if there is one.
fn overwrite(bytes: &mut [u8], i: &Index, v: &[u8]) {
    if let Some(last) = bytes.len().checked_sub(v.len()) {
        let at = i.index(last + 1);
        bytes[at..at + v.len()].copy_from_slice(v);
    }
}

/// A valid encoding from `valid`, damaged one to four times.
fn damaged<T: std::fmt::Debug>(
    valid: impl Strategy<Value = T>,
    encode: fn(&T) -> Vec<u8>,
) -> impl Strategy<Value = Vec<u8>> {
    (valid, vec(damage(), 1..5)).prop_map(move |(value, damage)| {
        let mut bytes = encode(&value);
        damage.iter().for_each(|d| apply(&mut bytes, d));
        bytes
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..600)
}

/// Short text, some of it multi-byte.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/._é-]{0,24}"
}

fn id() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn config() -> impl Strategy<Value = Config> {
    (id(), 64u32..1 << 16, 0u32..4, any::<i32>()).prop_map(|(rid, min, shift, zstd_level)| Config {
        chunk_min: min,
        chunk_avg: min << shift,
        chunk_max: min << (2 * shift),
        zstd_level,
        ..Config::new(
            rid,
            hearth_format::ContentKeys {
                chunk_id_key: rid,
                chunker_seed: u64::from(min),
            },
        )
    })
}

fn pack_entry() -> impl Strategy<Value = PackEntry> {
    (id(), any::<bool>(), any::<bool>(), any::<[u32; 3]>()).prop_map(|(i, tree, zstd, n)| {
        PackEntry {
            id: ChunkId(i),
            kind: if tree { BlobKind::Tree } else { BlobKind::Data },
            compression: if zstd {
                Compression::Zstd
            } else {
                Compression::None
            },
            offset: n[0],
            length: n[1],
            raw_length: n[2],
        }
    })
}

fn index_segment() -> impl Strategy<Value = IndexSegment> {
    let record =
        (id(), any::<u32>(), vec(pack_entry(), 0..4)).prop_map(|(p, length, e)| PackRecord {
            pack: PackId(p),
            length,
            entries: e,
        });
    vec(record, 0..3).prop_map(|packs| IndexSegment { packs })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let device =
        (text(), text(), text(), text(), text()).prop_map(|(u, n, p, i, b)| DeviceIdentity {
            udid: u,
            name: n,
            product_type: p,
            ios_version: i,
            build: b,
        });
    let summary = any::<[u64; 7]>().prop_map(|s| SnapshotSummary {
        files: s[0],
        bytes: s[1],
        files_new: s[2],
        files_changed: s[3],
        files_unmodified: s[4],
        bytes_read: s[5],
        bytes_added: s[6],
    });
    let warning = (text(), text()).prop_map(|(path, message)| Warning { path, message });
    (
        (any::<i64>(), any::<i64>(), text(), device),
        proptest::option::of(id()),
        vec(text(), 0..3),
        summary,
        vec(warning, 0..3),
        (any::<u64>(), vec(id(), 0..3)),
    )
        .prop_map(
            |((time, stored_at, host, device), parent, tags, summary, warnings, tree)| Snapshot {
                time,
                stored_at,
                host,
                device,
                parent: parent.map(SnapshotId),
                tags,
                summary,
                warnings,
                tree_len: tree.0,
                tree: tree.1.into_iter().map(ChunkId).collect(),
            },
        )
}

fn entry() -> impl Strategy<Value = Entry> {
    let row = ((text(), text(), text()), any::<[i64; 3]>(), 0u8..9).prop_map(
        |((file_id, domain, relative_path), n, state)| Row {
            file_id,
            domain,
            relative_path,
            flags: n[0],
            recorded_size: n[1] as u64,
            recorded_mtime: n[2],
            state: RowState::from_byte(state).expect("a row state"),
        },
    );
    let mtime = prop_oneof![
        any::<i64>().prop_map(i128::from),
        (any::<i64>(), 0u32..1_000_000_000).prop_map(|(s, n)| join_mtime(s, n)),
    ];
    let cipher = (any::<[u8; 32]>(), any::<bool>()).prop_map(|(k, pkcs7)| {
        let mut wrapped_key = [0; WRAPPED_KEY_LEN];
        wrapped_key[4..36].copy_from_slice(&k);
        Cipher { wrapped_key, pkcs7 }
    });
    let content = (
        any::<u64>(),
        mtime,
        any::<u32>(),
        vec(id(), 0..3),
        proptest::option::of(cipher),
    )
        .prop_map(|(size, mtime_ns, mode, chunks, cipher)| Content {
            size,
            mtime_ns,
            mode,
            chunks: chunks.into_iter().map(ChunkId).collect(),
            cipher,
        });
    (
        text(),
        proptest::option::of(row),
        proptest::option::of(content),
    )
        .prop_map(|(path, row, content)| Entry { path, row, content })
}

fn lock() -> impl Strategy<Value = LockInfo> {
    (any::<bool>(), text(), any::<u32>(), any::<[i64; 2]>()).prop_map(|(x, host, pid, t)| {
        LockInfo {
            exclusive: x,
            host,
            pid,
            created: t[0],
            refreshed: t[1],
        }
    })
}

fn device_key() -> impl Strategy<Value = DeviceKey> {
    (text(), any::<i64>(), id(), id()).prop_map(|(udid, created, kdf_digest, kek)| DeviceKey {
        udid,
        created,
        kdf_digest,
        kek,
    })
}

fn pin() -> impl Strategy<Value = PinInfo> {
    (any::<i64>(), text()).prop_map(|(pinned_at, host)| PinInfo { pinned_at, host })
}

fn decode_pack_entries(bytes: &[u8]) -> Result<Vec<PackEntry>, DecodeError> {
    let mut r = Reader::new(bytes);
    let entries = PackEntry::decode_list(&mut r)?;
    r.finish()?;
    Ok(entries)
}

/// What `decode` accepts encodes again to bytes that decode to the same value.
fn rereads<T: PartialEq + std::fmt::Debug>(
    decoded: Result<T, DecodeError>,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<(), TestCaseError> {
    if let Ok(value) = decoded {
        prop_assert_eq!(decode(&encode(&value)), Ok(value));
    }
    Ok(())
}

const KINDS: [ObjectKind; 8] = ObjectKind::ALL;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn file_headers(mut b in bytes(), kind in 0usize..8, head in any::<[u8; 8]>(), keep in any::<bool>()) {
        let kind = KINDS[kind];
        if keep {
            b.splice(0..0, FileHeader::encode(kind));
            b[..8].iter_mut().zip(head).for_each(|(x, h)| *x ^= h & 0x03);
        }
        if FileHeader::check(&b, kind).is_ok() {
            prop_assert!((1..=kind.version()).contains(&FileHeader::version(&b)));
        }
    }

    #[test]
    fn config_from_any_bytes(b in bytes()) {
        rereads(Config::decode(&b), Config::encode, Config::decode)?;
    }

    #[test]
    fn config_damaged(b in damaged(config(), Config::encode)) {
        rereads(Config::decode(&b), Config::encode, Config::decode)?;
    }

    #[test]
    fn pack_header_from_any_bytes(b in bytes()) {
        rereads(decode_pack_entries(&b), |e: &Vec<PackEntry>| PackEntry::encode_list(e), decode_pack_entries)?;
    }

    #[test]
    fn pack_header_damaged(b in damaged(vec(pack_entry(), 0..5), |e| PackEntry::encode_list(e))) {
        rereads(decode_pack_entries(&b), |e: &Vec<PackEntry>| PackEntry::encode_list(e), decode_pack_entries)?;
    }

    #[test]
    fn index_segment_from_any_bytes(b in bytes()) {
        rereads(IndexSegment::decode(&b), IndexSegment::encode, IndexSegment::decode)?;
    }

    #[test]
    fn index_segment_damaged(b in damaged(index_segment(), IndexSegment::encode)) {
        rereads(IndexSegment::decode(&b), IndexSegment::encode, IndexSegment::decode)?;
    }

    /// Every layout number, the ones no Hearth wrote included; what any layout reads is
    /// written again in the newest, as the cache does.
    #[test]
    fn snapshot_from_any_bytes(b in bytes(), layout in any::<u8>()) {
        rereads(Snapshot::decode_layout(&b, layout), Snapshot::encode, Snapshot::decode)?;
    }

    #[test]
    fn snapshot_damaged(b in damaged(snapshot(), Snapshot::encode), layout in 0u8..4) {
        rereads(Snapshot::decode_layout(&b, layout), Snapshot::encode, Snapshot::decode)?;
    }

    #[test]
    fn entry_stream_from_any_bytes(b in bytes()) {
        rereads(Entry::decode_all(&b), |e| Entry::encode_all(e), Entry::decode_all)?;
    }

    #[test]
    fn entry_stream_damaged(b in damaged(vec(entry(), 1..4), |e| Entry::encode_all(e))) {
        rereads(Entry::decode_all(&b), |e| Entry::encode_all(e), Entry::decode_all)?;
    }

    #[test]
    fn lock_from_any_bytes(b in bytes()) {
        rereads(LockInfo::decode(&b), LockInfo::encode, LockInfo::decode)?;
    }

    #[test]
    fn lock_damaged(b in damaged(lock(), LockInfo::encode)) {
        rereads(LockInfo::decode(&b), LockInfo::encode, LockInfo::decode)?;
    }

    #[test]
    fn device_key_from_any_bytes(b in bytes()) {
        rereads(DeviceKey::decode(&b), DeviceKey::encode, DeviceKey::decode)?;
    }

    #[test]
    fn device_key_damaged(b in damaged(device_key(), DeviceKey::encode)) {
        rereads(DeviceKey::decode(&b), DeviceKey::encode, DeviceKey::decode)?;
    }

    #[test]
    fn pin_from_any_bytes(b in bytes()) {
        rereads(PinInfo::decode(&b), PinInfo::encode, PinInfo::decode)?;
    }

    #[test]
    fn pin_damaged(b in damaged(pin(), PinInfo::encode)) {
        rereads(PinInfo::decode(&b), PinInfo::encode, PinInfo::decode)?;
    }
}
