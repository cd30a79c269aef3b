//! No decoder of backup bytes panics, whatever a backup folder holds (issue 14): property
//! lists (binary, XML, and the bounded reader under every plist), the MBFile archives of
//! Manifest.db rows, Info, Manifest and Status.plist, the keybag and the wrapped keys, PKCS#7
//! padding, encrypted files read as a stream or at any offset (an encrypted Manifest.db), file
//! ids and relative paths. Each is fed arbitrary bytes and valid encodings damaged (bits
//! flipped, bytes overwritten, lost or added, lengths and offsets set to anything), and must
//! return `Ok` or `Err`.

use hearth_mobilesync::encryption::{
    CipherFile, ClassKeys, DecryptingReader, KdfParams, Kek, Keybag, WrappedKey, decrypt_in_place,
    encrypt, strip_pkcs7,
};
use hearth_mobilesync::{
    DeviceInfo, FileId, ManifestInfo, MbFile, StatusInfo, check_relative_path, is_plain_udid,
    looks_like_udid, parse_dictionary, parse_plist,
};
use plist::{Dictionary, Value};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// One change to an encoding: a bit flipped, a byte set, a big-endian integer of 1, 2, 4 or 8
/// bytes written (binary plists and keybags store lengths, offsets and counts so), bytes
/// removed or inserted, or the end cut off.
#[derive(Debug, Clone)]
enum Damage {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    SetInt(Index, usize, u64),
    Remove(Index, usize),
    Insert(Index, Vec<u8>),
    Truncate(Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    let int = prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        0u64..300,
        any::<u64>()
    ];
    let width = prop_oneof![Just(1usize), Just(2), Just(4), Just(8)];
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Damage::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Damage::SetByte(i, b)),
        (any::<Index>(), width, int).prop_map(|(i, w, v)| Damage::SetInt(i, w, v)),
        (any::<Index>(), 1usize..24).prop_map(|(i, n)| Damage::Remove(i, n)),
        (any::<Index>(), vec(any::<u8>(), 1..24)).prop_map(|(i, b)| Damage::Insert(i, b)),
        any::<Index>().prop_map(Damage::Truncate),
    ]
}

#[allow(
    clippy::big_endian_bytes,
    reason = "binary plists and keybags are big-endian"
)]
fn apply(bytes: &mut Vec<u8>, d: &Damage) {
    let len = bytes.len();
    match d {
        Damage::FlipBit(i, bit) if len > 0 => bytes[i.index(len)] ^= 1 << bit,
        Damage::SetByte(i, b) if len > 0 => bytes[i.index(len)] = *b,
        Damage::SetInt(i, width, v) if len >= *width => {
            let at = i.index(len - width + 1);
            bytes[at..at + width].copy_from_slice(&v.to_be_bytes()[8 - width..]);
        }
        Damage::Remove(i, n) if len > 0 => {
            let at = i.index(len);
            bytes.drain(at..(at + n).min(len));
        }
        Damage::Insert(i, extra) => {
            let at = i.index(len + 1);
            bytes.splice(at..at, extra.iter().copied());
        }
        Damage::Truncate(i) => bytes.truncate(i.index(len + 1)),
        _ => {}
    }
}

/// `valid`'s bytes, damaged one to four times.
fn damaged(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (valid, vec(damage(), 1..5)).prop_map(|(mut bytes, damage)| {
        damage.iter().for_each(|d| apply(&mut bytes, d));
        bytes
    })
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..400)
}

/// A plist as a backup's host or device writes one, binary or XML.
fn plist_bytes(dict: Dictionary, binary: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let value = Value::Dictionary(dict);
    let written = if binary {
        value.to_writer_binary(&mut out)
    } else {
        value.to_writer_xml(&mut out)
    };
    written.expect("a plist is written to memory");
    out
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,.é-]{0,16}"
}

fn date() -> impl Strategy<Value = SystemTime> {
    (0u64..4_000_000_000).prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

/// Info.plist, Manifest.plist or Status.plist, with some fields set.
fn backup_plist() -> impl Strategy<Value = Vec<u8>> {
    let info = (text(), text(), date(), vec(text(), 0..3)).prop_map(|(name, v, date, apps)| {
        DeviceInfo {
            udid: "00008110-001A2B3C4D5E6F70".into(),
            device_name: name,
            product_type: "iPhone15,2".into(),
            product_version: v,
            last_backup_date: Some(date),
            installed_applications: apps,
            ..DeviceInfo::default()
        }
        .to_plist()
    });
    let manifest = (any::<bool>(), date(), vec(any::<u8>(), 0..64), text()).prop_map(
        |(encrypted, date, keybag, version)| {
            ManifestInfo {
                is_encrypted: encrypted,
                date: Some(date),
                backup_keybag: Some(keybag),
                manifest_key: Some(vec![3; 44]),
                lockdown_product_version: Some(version),
                ..ManifestInfo::default()
            }
            .to_plist()
        },
    );
    let status = (text(), date()).prop_map(|(state, date)| {
        StatusInfo {
            snapshot_state: Some(state),
            date: Some(date),
            is_full_backup: Some(false),
            ..StatusInfo::default()
        }
        .to_plist()
    });
    (prop_oneof![info, manifest, status], any::<bool>())
        .prop_map(|(dict, binary)| plist_bytes(dict, binary))
}

/// Status.plist, binary, its date (1970, so -978,307,200 s from 2001) made `bits`.
#[allow(clippy::big_endian_bytes, reason = "binary plists are big-endian")]
fn binary_date(status: &StatusInfo, bits: u64) -> Vec<u8> {
    let mut binary = plist_bytes(status.to_plist(), true);
    let mut date = vec![0x33];
    date.extend_from_slice(&(-978_307_200f64).to_be_bytes());
    let at = (binary.windows(9).position(|w| w == date)).expect("the date object");
    binary[at + 1..at + 9].copy_from_slice(&bits.to_be_bytes());
    binary
}

fn read_plists(bytes: &[u8]) {
    let path = Path::new("Info.plist");
    let _ = parse_plist(bytes);
    let _ = parse_dictionary(bytes, path);
    let _ = DeviceInfo::from_bytes(bytes, path);
    let _ = ManifestInfo::from_bytes(bytes, path);
    let _ = StatusInfo::from_bytes(bytes, path);
}

fn mbfile() -> impl Strategy<Value = MbFile> {
    let opt_bytes = || proptest::option::of(vec(any::<u8>(), 0..48));
    (
        (
            any::<Option<i64>>(),
            any::<Option<u64>>(),
            any::<Option<u32>>(),
        ),
        (proptest::option::of(text()), opt_bytes(), opt_bytes()),
        proptest::option::of(text()),
    )
        .prop_map(
            |((mtime, size, mode), (path, key, digest), target)| MbFile {
                relative_path: path,
                last_modified: mtime,
                size,
                mode,
                protection_class: Some(3),
                encryption_key: key,
                digest,
                target,
                ..MbFile::default()
            },
        )
}

fn keybag_parts() -> (KdfParams, Kek, ClassKeys) {
    let kdf = KdfParams {
        salt: vec![1; 20],
        iterations: 3,
        dp: Some((vec![2; 20], 5)),
    };
    let keys = ClassKeys((1..=5).map(|c| (c, [c as u8; 32])).collect());
    (kdf, Kek([4; 32]), keys)
}

fn keybag() -> impl Strategy<Value = Vec<u8>> {
    any::<[u8; 16]>().prop_map(|uuid| {
        let (kdf, kek, keys) = keybag_parts();
        Keybag::build(uuid, &kdf, &kek, &keys, [0; 40])
    })
}

/// The keybag, and (if it parses) its unlocking and its parameters' digest: never the slow
/// derivation, whose round counts the parser bounds.
fn read_keybag(bytes: &[u8]) {
    if let Ok(bag) = Keybag::parse(bytes) {
        let (_, kek, _) = keybag_parts();
        let _ = bag.kdf.digest();
        if let Ok(keys) = bag.unlock(&kek) {
            for class in [0, 1, 3, 5] {
                let mut wrapped = [0; WrappedKey::LEN];
                wrapped[..4].copy_from_slice(&u32::to_le_bytes(class));
                let _ = keys.unwrap(&WrappedKey(wrapped));
            }
        }
        let _ = bag.unlock_any([[0; 32], kek.0]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn plists_from_any_bytes(b in bytes(), xml in any::<bool>()) {
        let mut b = b;
        if xml {
            b.splice(0..0, *b"<?xml version=\"1.0\"?><plist><dict><key>");
        } else {
            b.splice(0..0, *b"bplist00");
        }
        read_plists(&b);
    }

    #[test]
    fn plists_damaged(b in damaged(backup_plist())) {
        read_plists(&b);
    }

    /// A plist date is seconds from 2001 as an f64 (binary) or text (XML): any value, NaN,
    /// the infinities and years far from ours included, is read or refused.
    #[test]
    fn plist_dates_of_any_value(
        bits in prop_oneof![any::<u64>(), Just(f64::NAN.to_bits()), Just(f64::INFINITY.to_bits()),
            Just(f64::NEG_INFINITY.to_bits()), Just(1e300f64.to_bits()), Just((-1e300f64).to_bits())],
        year in "-?[0-9]{1,7}",
        text in ".{0,20}",
    ) {
        let status = StatusInfo { date: Some(SystemTime::UNIX_EPOCH), ..StatusInfo::default() };
        read_plists(&binary_date(&status, bits));
        let xml = String::from_utf8(plist_bytes(status.to_plist(), false)).expect("UTF-8");
        for date in [format!("{year}-01-01T00:00:00Z"), text] {
            read_plists(xml.replace("1970-01-01T00:00:00Z", &date).as_bytes());
        }
    }

    #[test]
    fn mbfile_from_any_bytes(b in bytes()) {
        let mut b = b;
        b.splice(0..0, *b"bplist00");
        let _ = MbFile::decode(&b);
    }

    #[test]
    fn mbfile_damaged(b in damaged(mbfile().prop_map(|f| f.encode()))) {
        if let Ok(f) = MbFile::decode(&b) {
            prop_assert_eq!(MbFile::decode(&f.encode()), Ok(f));
        }
    }

    #[test]
    fn keybag_from_any_bytes(b in bytes()) {
        read_keybag(&b);
    }

    #[test]
    fn keybag_damaged(b in damaged(keybag())) {
        read_keybag(&b);
    }

    #[test]
    fn keys_and_padding_from_any_bytes(b in bytes()) {
        let (_, _, keys) = keybag_parts();
        if let Ok(wrapped) = WrappedKey::parse(&b) {
            let _ = keys.unwrap(&wrapped);
        }
        let _ = strip_pkcs7(&b);
        let mut buf = b;
        let _ = decrypt_in_place(&[5; 32], &mut buf);
        let _ = strip_pkcs7(&buf);
    }

    #[test]
    fn names_from_any_text(s in ".{0,60}", hex in "[0-9a-fA-F/.]{0,44}") {
        for s in [&s, &hex] {
            let _ = FileId::parse(s).map(|id| id.blob_path());
            let _ = check_relative_path(s);
            let _ = (is_plain_udid(s), looks_like_udid(s));
        }
    }

    /// An encrypted file as a backup holds it, or damaged: a stream told any length, and
    /// (as the VFS reads an encrypted Manifest.db) read at any offset, told a length the file
    /// may not have.
    #[test]
    fn encrypted_files(
        plain in vec(any::<u8>(), 0..100),
        pkcs7 in any::<bool>(),
        damage in vec(damage(), 0..3),
        claimed in prop_oneof![Just(None), any::<u64>().prop_map(Some), (0u64..120).prop_map(Some)],
        cipher_len in prop_oneof![Just(None), (0u64..10).prop_map(|n| Some(n * 16)), any::<u64>().prop_map(Some)],
        reads in vec((0u64..140, 0usize..70), 1..4),
    ) {
        let key = [6; 32];
        let mut file = encrypt(&key, &plain, pkcs7).unwrap_or_default();
        damage.iter().for_each(|d| apply(&mut file, d));
        let cipher_len = cipher_len.unwrap_or(file.len() as u64);
        if let Ok(reader) = DecryptingReader::new(&file[..], &key, cipher_len, claimed) {
            let _ = reader.take(1 << 12).read_to_end(&mut Vec::new());
        }
        let mut temp = tempfile::tempfile().expect("a temporary file");
        temp.write_all(&file).expect("written");
        if let Ok(cipher) = CipherFile::new(temp, &key, cipher_len.min(1 << 12)) {
            let _ = cipher.plain_len();
            for (offset, len) in reads {
                let _ = cipher.read_at(offset, &mut vec![0; len]);
            }
            let _ = cipher.reader().take(1 << 12).read_to_end(&mut Vec::new());
        }
    }
}
