//! The backup keybag (`Manifest.plist` `BackupKeyBag`): a TLV list of the password-derivation
//! parameters and the class keys, each wrapped under the key the password derives.
//!
//! Layout (reference §6.1): repeated `tag[4] | len u32 BE | value`; 4-byte values are u32 BE.
//! Header tags come first (`VERS TYPE UUID HMCK WRAP SALT ITER DPWT DPIC DPSL`); every later
//! `UUID` starts a class record (`CLAS WRAP KTYP WPKY [PBKY]`). Records are indexed by `CLAS`,
//! never by position, and a class is passcode-wrapped when `WRAP & 2` (not `== 2`).

use super::EncryptionError;
use super::keys::{ClassKeys, Kek, unwrap_key, wrap_key};
use std::collections::BTreeMap;

// The keybag's integers are big-endian (reference §6.1), unlike the rest of the format.

/// `WRAP` bit: the class key is wrapped under the password-derived key.
const WRAP_PASSCODE: u32 = 2;

/// What turns the backup password into the key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KdfParams {
    /// `SALT` and `ITER`: PBKDF2-HMAC-SHA1, the second round (the only one before iOS 10.2).
    pub salt: Vec<u8>,
    pub iterations: u32,
    /// `DPSL` and `DPIC`: PBKDF2-HMAC-SHA256 over the password, the first round (iOS ≥ 10.2).
    pub dp: Option<(Vec<u8>, u32)>,
}

impl KdfParams {
    /// SHA-256 over the parameters (length-prefixed salts, LE counts): the same digest means
    /// a key derived for one keybag may open the other.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        let (dp_salt, dp_rounds) = self.dp.as_ref().map_or((&[][..], 0), |(s, n)| (&s[..], *n));
        for (salt, rounds) in [(&self.salt[..], self.iterations), (dp_salt, dp_rounds)] {
            h.update((salt.len() as u32).to_le_bytes());
            h.update(salt);
            h.update(rounds.to_le_bytes());
        }
        h.finalize().into()
    }

    /// `kek = PBKDF2-SHA1(PBKDF2-SHA256(password, DPSL, DPIC), SALT, ITER)`; slow by design
    /// (10,000,000 SHA-256 rounds for a real keybag), so callers cache the result.
    pub fn derive(&self, password: &[u8]) -> Kek {
        let mut k1 = [0u8; 32];
        let first: &[u8] = match &self.dp {
            Some((salt, rounds)) => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, *rounds, &mut k1);
                &k1
            }
            None => password,
        };
        let mut kek = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(first, &self.salt, self.iterations, &mut kek);
        Kek(kek)
    }
}

/// One class record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRecord {
    pub uuid: Vec<u8>,
    pub class: u32,
    pub wrap: u32,
    pub key_type: u32,
    /// `WPKY`: the wrapped class key (40 bytes for passcode-wrapped classes).
    pub wrapped: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keybag {
    pub version: u32,
    pub kind: u32,
    pub uuid: Vec<u8>,
    pub kdf: KdfParams,
    /// By `CLAS`.
    pub classes: BTreeMap<u32, ClassRecord>,
}

impl Keybag {
    pub fn parse(bytes: &[u8]) -> Result<Keybag, EncryptionError> {
        let mut header: BTreeMap<[u8; 4], &[u8]> = BTreeMap::new();
        let mut records: Vec<BTreeMap<[u8; 4], &[u8]>> = Vec::new();
        for item in tlv(bytes) {
            let (tag, value) = item?;
            if &tag == b"UUID" && header.contains_key(b"UUID") {
                records.push(BTreeMap::new());
            }
            let target = records.last_mut().unwrap_or(&mut header);
            target.insert(tag, value);
        }
        let salt = required(&header, b"SALT")?.to_vec();
        let iterations = rounds(required(&header, b"ITER")?, "ITER", MAX_ITER)?;
        let dp = match (header.get(b"DPSL"), header.get(b"DPIC")) {
            (Some(s), Some(n)) => Some((s.to_vec(), rounds(n, "DPIC", MAX_DPIC)?)),
            (None, None) => None,
            _ => return Err(bad("DPSL and DPIC must come together")),
        };
        let mut classes = BTreeMap::new();
        for r in &records {
            let record = ClassRecord {
                uuid: required(r, b"UUID")?.to_vec(),
                class: int(required(r, b"CLAS")?, "CLAS")?,
                wrap: int(required(r, b"WRAP")?, "WRAP")?,
                key_type: r.get(b"KTYP").map_or(Ok(0), |v| int(v, "KTYP"))?,
                wrapped: required(r, b"WPKY")?.to_vec(),
            };
            if classes.insert(record.class, record).is_some() {
                return Err(bad("a protection class appears twice"));
            }
        }
        if classes.is_empty() {
            return Err(bad("no class keys"));
        }
        Ok(Keybag {
            version: header.get(b"VERS").map_or(Ok(0), |v| int(v, "VERS"))?,
            kind: header.get(b"TYPE").map_or(Ok(0), |v| int(v, "TYPE"))?,
            uuid: required(&header, b"UUID")?.to_vec(),
            kdf: KdfParams {
                salt,
                iterations,
                dp,
            },
            classes,
        })
    }

    /// Unwraps every passcode-wrapped class key. The first integrity failure means the key
    /// (so the password) is wrong.
    pub fn unlock(&self, kek: &Kek) -> Result<ClassKeys, EncryptionError> {
        let mut keys = BTreeMap::new();
        for r in self
            .classes
            .values()
            .filter(|r| r.wrap & WRAP_PASSCODE != 0)
        {
            let key = unwrap_key(&kek.0, &r.wrapped).map_err(|_| EncryptionError::WrongPassword)?;
            keys.insert(r.class, key);
        }
        if keys.is_empty() {
            return Err(bad("no class key is wrapped with the backup password"));
        }
        Ok(ClassKeys(keys))
    }

    /// The class keys from the first of `keks` that opens this keybag (keys kept from earlier
    /// derivations), or `None`.
    pub fn unlock_any(&self, keks: impl IntoIterator<Item = [u8; 32]>) -> Option<ClassKeys> {
        keks.into_iter().find_map(|k| self.unlock(&Kek(k)).ok())
    }

    /// A backup keybag holding `class_keys`, each wrapped under `kek` (for writing test backups
    /// and for tools that make new encrypted backups). Records are written in descending class
    /// order, as modern devices do, and each is exactly `UUID CLAS WRAP KTYP WPKY`.
    pub fn build(
        uuid: [u8; 16],
        kdf: &KdfParams,
        kek: &Kek,
        class_keys: &ClassKeys,
        hmck: [u8; 40],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        put_int(&mut out, b"VERS", 5);
        put_int(&mut out, b"TYPE", 1);
        put(&mut out, b"UUID", &uuid);
        put(&mut out, b"HMCK", &hmck);
        put_int(&mut out, b"WRAP", 0);
        put(&mut out, b"SALT", &kdf.salt);
        put_int(&mut out, b"ITER", kdf.iterations);
        if let Some((dpsl, dpic)) = &kdf.dp {
            put_int(&mut out, b"DPWT", 1);
            put_int(&mut out, b"DPIC", *dpic);
            put(&mut out, b"DPSL", dpsl);
        }
        for (class, key) in class_keys.0.iter().rev() {
            let mut record_uuid = uuid;
            record_uuid[15] ^= *class as u8;
            put(&mut out, b"UUID", &record_uuid);
            put_int(&mut out, b"CLAS", *class);
            put_int(&mut out, b"WRAP", if *class >= 5 { 3 } else { 2 });
            put_int(&mut out, b"KTYP", 0);
            put(&mut out, b"WPKY", &wrap_key(&kek.0, key));
        }
        out
    }
}

type Tlv<'a> = Result<([u8; 4], &'a [u8]), EncryptionError>;

#[allow(clippy::big_endian_bytes, reason = "keybag integers are big-endian")]
fn tlv(mut bytes: &[u8]) -> impl Iterator<Item = Tlv<'_>> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let Some((head, rest)) = bytes.split_first_chunk::<8>() else {
            bytes = &[];
            return Some(Err(bad("truncated tag")));
        };
        let tag: [u8; 4] = head[..4].try_into().expect("4 bytes");
        let len = u32::from_be_bytes(head[4..].try_into().expect("4 bytes")) as usize;
        if rest.len() < len {
            bytes = &[];
            return Some(Err(bad("a value runs past the end")));
        }
        let (value, rest) = rest.split_at(len);
        bytes = rest;
        Some(Ok((tag, value)))
    })
}

fn required<'a>(
    m: &BTreeMap<[u8; 4], &'a [u8]>,
    tag: &[u8; 4],
) -> Result<&'a [u8], EncryptionError> {
    m.get(tag)
        .copied()
        .ok_or_else(|| EncryptionError::Keybag(format!("missing {}", String::from_utf8_lossy(tag))))
}

#[allow(clippy::big_endian_bytes, reason = "keybag integers are big-endian")]
fn int(v: &[u8], tag: &str) -> Result<u32, EncryptionError> {
    v.try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| EncryptionError::Keybag(format!("{tag} is not a 4-byte integer")))
}

/// Round counts above these are refused: Apple writes 10,000,000 (DPIC) and 10,000 (ITER), and
/// the counts are used before anything checks them, so a damaged keybag could otherwise make
/// the key derivation run for hours.
const MAX_DPIC: u32 = 100_000_000;
const MAX_ITER: u32 = 10_000_000;

fn rounds(v: &[u8], tag: &str, max: u32) -> Result<u32, EncryptionError> {
    let n = int(v, tag)?;
    if n > max {
        return Err(EncryptionError::Keybag(format!(
            "{tag} asks for {n} PBKDF2 rounds (at most {max} are accepted)"
        )));
    }
    Ok(n)
}

fn bad(what: &str) -> EncryptionError {
    EncryptionError::Keybag(what.to_string())
}

#[allow(clippy::big_endian_bytes, reason = "keybag integers are big-endian")]
fn put(out: &mut Vec<u8>, tag: &[u8; 4], value: &[u8]) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

#[allow(clippy::big_endian_bytes, reason = "keybag integers are big-endian")]
fn put_int(out: &mut Vec<u8>, tag: &[u8; 4], v: u32) {
    put(out, tag, &v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> KdfParams {
        KdfParams {
            salt: vec![1; 20],
            iterations: 3,
            dp: Some((vec![2; 20], 5)),
        }
    }

    fn class_keys() -> ClassKeys {
        ClassKeys((1..=11).map(|c| (c, [c as u8; 32])).collect())
    }

    #[test]
    fn built_keybag_parses_and_unlocks_with_the_right_password_only() {
        let kdf = params();
        let kek = kdf.derive(b"hunter2");
        let bytes = Keybag::build([7; 16], &kdf, &kek, &class_keys(), [0; 40]);
        let bag = Keybag::parse(&bytes).unwrap();
        assert_eq!(bag.kdf, kdf);
        assert_eq!(bag.uuid, vec![7; 16]);
        assert_eq!(bag.classes.len(), 11);
        assert_eq!(bag.classes[&9].wrap, 3, "keychain classes carry WRAP = 3");
        assert_eq!(
            bag.unlock(&kek).unwrap(),
            class_keys(),
            "WRAP & 2, not == 2"
        );
        let wrong = kdf.derive(b"hunter3");
        assert!(matches!(
            bag.unlock(&wrong),
            Err(EncryptionError::WrongPassword)
        ));
    }

    #[test]
    fn both_pbkdf2_rounds_are_applied() {
        let with_dp = params().derive(b"pw");
        let without = KdfParams {
            dp: None,
            ..params()
        }
        .derive(b"pw");
        assert_ne!(with_dp.0, without.0);
        let mut k1 = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"pw", &[2; 20], 5, &mut k1);
        let mut expect = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(&k1, &[1; 20], 3, &mut expect);
        assert_eq!(with_dp.0, expect);
    }

    #[test]
    fn damaged_keybags_are_errors_not_panics() {
        let kdf = params();
        let kek = kdf.derive(b"x");
        let bytes = Keybag::build([7; 16], &kdf, &kek, &class_keys(), [0; 40]);
        for cut in 0..bytes.len() {
            // Every prefix either parses (a cut between records) or is a clear error.
            if let Err(e) = Keybag::parse(&bytes[..cut]) {
                assert!(matches!(e, EncryptionError::Keybag(_)), "{e}");
            }
        }
        assert!(Keybag::parse(b"garbage!").is_err());
        let mut dup = bytes.clone();
        // One record is UUID(24) CLAS(12) WRAP(12) KTYP(12) WPKY(48) = 108 bytes.
        dup.extend_from_slice(&bytes[bytes.len() - 108..]);
        let e = Keybag::parse(&dup).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
    }

    /// A flipped high byte of a round count would make the derivation run for hours.
    #[test]
    fn absurd_round_counts_are_refused() {
        for (tag, rounds) in [(b"DPIC", MAX_DPIC + 1), (b"ITER", u32::MAX)] {
            let mut kdf = params();
            match tag {
                b"DPIC" => kdf.dp.as_mut().unwrap().1 = rounds,
                _ => kdf.iterations = rounds,
            }
            let bytes = Keybag::build([7; 16], &kdf, &Kek([0; 32]), &class_keys(), [0; 40]);
            let e = Keybag::parse(&bytes).unwrap_err();
            assert!(e.to_string().contains("PBKDF2 rounds"), "{e}");
        }
        let real = KdfParams {
            dp: Some((vec![2; 20], 10_000_000)),
            iterations: 10_000,
            ..params()
        };
        let bytes = Keybag::build([7; 16], &real, &Kek([0; 32]), &class_keys(), [0; 40]);
        assert_eq!(Keybag::parse(&bytes).unwrap().kdf, real);
    }
}
