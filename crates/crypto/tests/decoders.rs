//! No decoder of this crate's bytes panics, whatever it is given (issue 14): a key file, read
//! before any password is tried, and a sealed object's file header and seal. Each is fed
//! arbitrary bytes and a valid file damaged (bits flipped, bytes overwritten, lost or added,
//! lengths and parameters set to anything), and must return `Ok` or `Err`.

use hearth_crypto::{KdfParams, KeyFile, KeyMeta, MasterKey};
use hearth_format::ObjectKind;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

fn fast() -> KdfParams {
    KdfParams {
        memory_kib: 64,
        time: 1,
        parallelism: 1,
    }
}

fn key_file(host: &str, user: &str) -> Vec<u8> {
    let meta = KeyMeta {
        created: 1_780_363_700,
        host: host.into(),
        user: user.into(),
    };
    let master = MasterKey::from_bytes([7; 32]);
    KeyFile::create_with(&master, b"pw", fast(), meta, [1; 16], [2; 24]).expect("written")
}

/// Up to four changes: a byte set, a u16 or u32 written (where a length or a parameter sits,
/// it now says something else), bytes removed or inserted, or the file cut short.
fn damaged(mut file: Vec<u8>, changes: &[(Index, u8, u32)]) -> Vec<u8> {
    for (at, how, value) in changes {
        let len = file.len();
        let i = at.index(len.max(1));
        match how % 5 {
            0 if len > 0 => file[i] = *value as u8,
            1 if i + 2 <= len => file[i..i + 2].copy_from_slice(&(*value as u16).to_le_bytes()),
            2 if i + 4 <= len => file[i..i + 4].copy_from_slice(&value.to_le_bytes()),
            3 => {
                let end = (i + (*value as usize % 40) + 1).min(len);
                file.drain(i.min(len)..end);
            }
            4 => file.truncate(i),
            _ => {}
        }
    }
    file
}

fn change() -> impl Strategy<Value = (Index, u8, u32)> {
    let value = prop_oneof![
        Just(0),
        Just(u32::MAX),
        Just(1 << 22),
        0u32..300,
        any::<u32>()
    ];
    (any::<Index>(), any::<u8>(), value)
}

/// A key file that parses has parameters within the limits, so trying a password on it
/// cannot take days or all memory.
fn check_parse(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(parsed) = KeyFile::parse(bytes) {
        let (p, max) = (parsed.params, KdfParams::MAX);
        prop_assert!(p.memory_kib <= max.memory_kib && p.time <= max.time);
        prop_assert!(p.parallelism <= max.parallelism);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn key_file_from_any_bytes(mut bytes in vec(any::<u8>(), 0..200), header in any::<bool>()) {
        if header {
            bytes.splice(0..0, *b"HRTHK\x01\0\0");
        }
        check_parse(&bytes)?;
    }

    #[test]
    fn key_file_damaged(host in "[a-z-]{0,20}", user in "[a-zé]{0,8}", changes in vec(change(), 1..5)) {
        check_parse(&damaged(key_file(&host, &user), &changes))?;
    }

    #[test]
    fn sealed_object_from_any_bytes(bytes in vec(any::<u8>(), 0..200), kind in 0u8..8) {
        let keys = MasterKey::from_bytes([7; 32]).keys();
        let kind = ObjectKind::ALL[usize::from(kind)];
        prop_assert!(keys.open_object(kind, &bytes).is_err());
        let _ = keys.open(&bytes[..bytes.len().min(8)], &bytes);
    }

    #[test]
    fn sealed_object_damaged(payload in vec(any::<u8>(), 0..100), changes in vec(change(), 1..5)) {
        let keys = MasterKey::from_bytes([7; 32]).keys();
        let file = keys.seal_object(ObjectKind::Snapshot, &payload);
        let bad = damaged(file.clone(), &changes);
        let opened = keys.open_object(ObjectKind::Snapshot, &bad);
        prop_assert_eq!(opened.is_ok(), bad == file, "only the file sealed opens");
    }
}
