//! What the keys add (`docs/format.md` §4, §4.1, §5.2, §7): ids, the seal of a whole object,
//! a pack, a key file, and the names of sealed files. The master secret is the bytes 0 to 31;
//! each seal's nonce is 24 copies of one letter (the object kind's; `b` for a blob), which no
//! repository ever does: its nonces are random.

use crate::doc::Vector;
use crate::payloads::{self, HOST, T};
use hearth_crypto::{KdfParams, KeyFile, KeyMeta, Keys, MasterKey};
use hearth_format::codec::Reader;
use hearth_format::config::LAYOUT_1_LEN;
use hearth_format::header::HEADER_LEN;
use hearth_format::pack::PACK_TRAILER_LEN;
use hearth_format::{BlobKind, Compression, Config, FileHeader, ObjectKind, PackEntry};

fn master() -> MasterKey {
    MasterKey::from_bytes(std::array::from_fn(|i| i as u8))
}

fn keys() -> Keys {
    master().keys()
}

fn nonce(letter: u8) -> [u8; 24] {
    [letter; 24]
}

const HELLO: &[u8] = b"hello, world\n";

#[test]
fn ids_under_the_master_secret() {
    let v = Vector::new(
        "ids under the master secret",
        &[
            (
                "ad 9e 5d eb cc 3d 3a e1 ab f4 c1 a8 90 01 80 9a a7 41 c8 a0 23 47 85 3c 7e bb 27 d6 02 8b dc 0e",
                "chunk id of the 13 bytes \"hello, world\\n\"",
            ),
            (
                "d8 49 75 58 14 dc ea 4c 21 f1 ce 8e 6c f0 d8 be b4 45 58 de b9 98 04 18 f9 68 bc 1d df b1 14 8d",
                "object id of no bytes",
            ),
            (
                "8d 70 ac 98 3f 05 c7 fe",
                "chunker seed (u64): the first 8 bytes of its subkey",
            ),
        ],
    );
    let keys = keys();
    let ids = [
        keys.chunk_id(HELLO).0.to_vec(),
        keys.object_id(b"").to_vec(),
        keys.chunker_seed().to_le_bytes().to_vec(),
    ];
    v.check(&ids.concat());
    let mut streamed = keys.object_id_hasher();
    streamed.update(b"");
    assert_eq!(*streamed.finalize().as_bytes(), keys.object_id(b""));
}

/// §5.2: file header ‖ nonce ‖ ciphertext ‖ tag, the header being the seal's AAD.
#[test]
fn config_file() {
    let v = Vector::new(
        "config file",
        &[
            ("48 52 54 48 43 01 00 00", "file header: config, layout 1"),
            (
                "43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43",
                "Seal(data key, aad = file header, config payload): nonce",
            ),
            (
                "4d 04 e7 b9 a0 b4 13 dd ea 03 bb ad a2 22 8d 63 7a 72 1f 1c b3 55 4d cd 68 84 06 6b 09 9d 91 27 7b c4 a0 de db 87 cc 24 be 48 0d 46 01 98 b1 f7 43 11 9a 50 23 27 33 e1 a2 7b 4a 3c 48 ff 17 6d 7e 4b 23 8f",
                "ciphertext",
            ),
            ("4d 8e fa 02 7a 6d 71 49 91 c6 73 95 99 1f c1 51", "tag"),
        ],
    );
    let keys = keys();
    let payload = &payloads::config().encode()[..LAYOUT_1_LEN];
    v.check(&keys.seal_layout_with_nonce(nonce(b'C'), ObjectKind::Config, 1, payload));
    let opened = keys.open_object(ObjectKind::Config, &v.bytes());
    assert_eq!(opened.as_deref(), Ok(payload));
    let decoded = Config::decode_layout(payload, 1, || master().content_keys());
    assert_eq!(decoded, Ok(payloads::config()));
}

/// The layout-2 config (§6) of a repository whose master secret is the bytes 0 to 31, as
/// `init` writes it: its content keys are the ones derived from that secret.
#[test]
fn config_file_layout_2() {
    let v = Vector::new(
        "config file, layout 2",
        &[
            ("48 52 54 48 43 02 00 00", "file header: config, layout 2"),
            (
                "43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43",
                "Seal(data key, aad = file header, config payload, layout 2): nonce",
            ),
            (
                "4d 04 e7 b9 a0 b4 13 dd ea 03 bb ad a2 22 8d 63 7a 72 1f 1c b3 55 4d cd 68 84 06 6b 09 9d 91 27 7b c4 a0 de db 87 cc 24 be 48 0d 46 01 98 b1 f7 43 11 9a 50 23 27 33 e1 a2 7b 4a 3c 48 ff 17 6d 7e 4b 23 8f 40 44 a5 08 87 28 4c e4 ea 41 12 12 58 9a 7e af 2e b6 6e d7 f2 4e ce 6c a4 2d 6b 05 9b 6c f4 ae 54 80 5a 1e ed b8 16 74",
                "ciphertext",
            ),
            ("8f fa 14 74 fe 95 20 42 35 10 10 2d 13 cb 6e d8", "tag"),
        ],
    );
    let keys = keys();
    let payload = payloads::config().encode();
    v.check(&keys.seal_object_with_nonce(nonce(b'C'), ObjectKind::Config, &payload));
    let opened = keys.open_object(ObjectKind::Config, &v.bytes());
    assert_eq!(opened.as_deref(), Ok(&payload[..]));
    let stored = Config::decode(&payload).expect("the config decodes");
    assert_eq!(&stored.content, keys.content());
}

/// A pack of one blob, assembled as §7 lays it out (and as `hearth-repo`'s writer does).
fn pack() -> Vec<u8> {
    let keys = keys();
    let header = FileHeader::encode(ObjectKind::Pack);
    let mut pack = header.to_vec();
    let id = keys.chunk_id(HELLO);
    let aad = PackEntry::blob_aad(&id, BlobKind::Data, Compression::None);
    keys.seal_into_with_nonce(nonce(b'b'), &aad, HELLO, &mut pack);
    let entry = PackEntry {
        id,
        kind: BlobKind::Data,
        compression: Compression::None,
        offset: HEADER_LEN as u32,
        length: (pack.len() - HEADER_LEN) as u32,
        raw_length: HELLO.len() as u32,
    };
    let start = pack.len();
    let list = PackEntry::encode_list(&[entry]);
    keys.seal_into_with_nonce(nonce(b'P'), &header, &list, &mut pack);
    let sealed_len = (pack.len() - start) as u32;
    pack.extend_from_slice(&sealed_len.to_le_bytes());
    pack
}

/// The last `n + 4` bytes of a pack: its sealed header and that header's length `n`.
fn trailer(pack: &[u8]) -> &[u8] {
    let (rest, len) = pack.split_at(pack.len() - PACK_TRAILER_LEN);
    let n = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
    &pack[rest.len() - n..]
}

#[test]
fn pack_file() {
    let v = Vector::new(
        "pack file",
        &[
            ("48 52 54 48 50 01 00 00", "file header: pack, layout 1"),
            (
                "62 62 62 62 62 62 62 62 62 62 62 62 62 62 62 62 62 62 62 62 62 62 62 62",
                "blob 0: Seal(data key, aad = blob id, kind 0, compression 0, \"hello, world\\n\"): nonce",
            ),
            ("c8 a1 db 6f 70 75 24 53 d9 07 36 f0 d9", "ciphertext"),
            ("a6 c2 a1 21 64 52 b0 00 7d 08 3c b0 1a 2a 32 b6", "tag"),
            (
                "50 50 50 50 50 50 50 50 50 50 50 50 50 50 50 50 50 50 50 50 50 50 50 50",
                "pack header: Seal(data key, aad = file header, list<entry>): nonce",
            ),
            (
                "f0 b4 3f 70 44 15 33 1f 60 63 8b bd e7 34 c0 1d 09 ee 25 01 3d 64 4f 70 b2 b2 b1 dc c2 5f c9 20 d4 03 46 89 94 b9 31 2c 8f b3 ce 39 2b 14 d7 6f 00 8a ea 4e",
                "ciphertext",
            ),
            ("23 f1 8c be dc 6b 33 b1 10 b4 e2 75 ba a5 5f 2d", "tag"),
            (
                "5c 00 00 00",
                "trailer: length of the sealed pack header (u32): 92",
            ),
        ],
    );
    v.check(&pack());
    // Read back as a reader does: the trailer, the header it holds, then the blob it names.
    let keys = keys();
    let pack = v.bytes();
    assert_eq!(FileHeader::check(&pack, ObjectKind::Pack), Ok(()));
    let trailer = trailer(&pack);
    let sealed_header = &trailer[..trailer.len() - PACK_TRAILER_LEN];
    let list = keys.open(&FileHeader::encode(ObjectKind::Pack), sealed_header);
    let list = list.expect("the pack header opens");
    let mut r = Reader::new(&list);
    let entries = PackEntry::decode_list(&mut r).expect("the pack header decodes");
    assert_eq!(r.finish(), Ok(()));
    let [e] = entries[..] else {
        panic!("one entry: {entries:?}")
    };
    let blob = &pack[e.offset as usize..e.end() as usize];
    let plain = keys.open(&PackEntry::blob_aad(&e.id, e.kind, e.compression), blob);
    assert_eq!(plain.as_deref(), Ok(HELLO));
    assert_eq!(keys.chunk_id(HELLO), e.id);
    assert_eq!(e.raw_length as usize, HELLO.len());
    assert_eq!(e.end() as usize, pack.len() - trailer.len());
}

const PASSWORD: &[u8] = b"correct horse battery staple";

fn key_meta() -> KeyMeta {
    KeyMeta {
        created: T - 100,
        host: HOST.into(),
        user: "mum".into(),
    }
}

/// §4.1 with the default Argon2id parameters (64 MiB, 3 passes, 4 lanes).
#[test]
fn key_file() {
    let v = Vector::new(
        "key file",
        &[
            ("48 52 54 48 4b 01 00 00", "file header: key file, layout 1"),
            ("00 00 01 00", "Argon2id memory (u32): 65536 KiB"),
            ("03 00 00 00", "Argon2id time (u32): 3"),
            ("04 00 00 00", "Argon2id parallelism (u32): 4"),
            (
                "68 65 61 72 74 68 2d 74 65 73 74 2d 73 61 6c 74",
                "salt: \"hearth-test-salt\"",
            ),
            ("b4 31 1e 6a 00 00 00 00", "created (i64): 1780363700"),
            (
                "0b 00 6b 69 74 63 68 65 6e 2d 6d 61 63",
                "host name (string): \"kitchen-mac\"",
            ),
            ("03 00 6d 75 6d", "user name (string): \"mum\""),
            (
                "4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b 4b",
                "Seal(wrap key, aad = every byte above, master secret): nonce",
            ),
            (
                "24 8c cd 89 21 7a 3b 98 c2 01 6c 2e 63 ea 4d b3 10 7c e7 44 19 35 e7 2f 3e b1 36 0e a3 5c 65 3e",
                "ciphertext",
            ),
            ("b5 8b ce 83 23 fc a2 a9 62 ec e1 67 3e 0b 0d 76", "tag"),
        ],
    );
    let salt = *b"hearth-test-salt";
    let params = KdfParams::default();
    let file = KeyFile::create_with(&master(), PASSWORD, params, key_meta(), salt, nonce(b'K'));
    v.check(&file.expect("the key file is written"));
    let parsed = KeyFile::parse(&v.bytes()).expect("the key file parses");
    assert_eq!(parsed.params, params);
    assert_eq!(parsed.meta, key_meta());
    let opened = parsed.open(PASSWORD).expect("the password opens it");
    assert_eq!(opened.keys().object_id(b""), keys().object_id(b""));
}

/// Segments, snapshots and device keys are named by the object id of their whole sealed file
/// (§2), a pack by that of its trailer; a lock's and a pin's names are not theirs, but the id
/// pins their sealed bytes all the same.
#[test]
fn names_of_sealed_files() {
    let v = Vector::new(
        "names of sealed files",
        &[
            (
                "77 00 d5 2a a3 cf d9 bb 95 c2 83 a1 b7 dc a5 1d 48 76 b9 60 ab e9 c8 c0 12 1c db ad 1d fa bc 1d",
                "pack: object id of its sealed header and trailer",
            ),
            (
                "e8 2d 16 73 b0 27 b3 df d8 2b 07 74 0d 0c 9b 57 a7 c5 ea 37 4a b7 31 14 ca 7b cb 0b b8 a2 a2 f4",
                "index segment: object id of its 188-byte file",
            ),
            (
                "fb 6b 16 4e 50 e0 cc f7 c3 37 3f e5 f7 c9 5d 28 52 a6 0d af 34 56 16 5a 65 d9 8c cc 45 75 fd d8",
                "snapshot: object id of its 407-byte file",
            ),
            (
                "45 d1 09 93 fc e9 8b 46 d9 94 5e 3f 45 5b b7 56 80 3a 38 d8 38 c6 5e 4d 47 8a 9a 21 d7 26 35 9a",
                "device key: object id of its 147-byte file",
            ),
            (
                "12 e5 80 84 70 57 3b 28 4f 33 a9 93 e1 fb 35 a0 c4 9f 30 62 1f 85 0a 50 a4 67 cc c4 29 d0 3b a8",
                "lock: object id of its 82-byte file",
            ),
            (
                "db 65 10 cc f4 ca 93 62 60 16 08 00 b0 3f 3d 70 22 24 0e 17 ac 0c 53 58 79 5e b8 63 01 9e 79 b1",
                "pin: object id of its 69-byte file",
            ),
        ],
    );
    let keys = keys();
    let seal = |letter, kind, payload: Vec<u8>| {
        let file = keys.seal_object_with_nonce(nonce(letter), kind, &payload);
        assert_eq!(keys.open_object(kind, &file), Ok(payload), "{kind:?}");
        keys.object_id(&file)
    };
    let names = [
        keys.object_id(trailer(&pack())),
        seal(b'I', ObjectKind::Index, payloads::index_segment().encode()),
        seal(b'S', ObjectKind::Snapshot, payloads::snapshot().encode()),
        seal(b'D', ObjectKind::DeviceKey, payloads::device_key().encode()),
        seal(b'L', ObjectKind::Lock, payloads::lock().encode()),
        seal(b'N', ObjectKind::Pin, payloads::pin().encode()),
    ];
    v.check(&names.concat());
}
