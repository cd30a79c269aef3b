//! `CameraRollDomain Media/PhotoData/Photos.sqlite`: one ZASSET row per photo or video, plus
//! the scene classifications and face prints that make the real database large.
//!
//! The columns an exporter reads are iOS 17's: `ZASSET.ZDIRECTORY`/`ZFILENAME` (where the file
//! is, relative to `Media/`), `ZDATECREATED` (Core Data seconds), `ZKIND` (0 photo, 1 video),
//! `ZKINDSUBTYPE` (2 Live Photo, 10 screenshot), `ZPLAYBACKSTYLE`, `ZTRASHEDSTATE` (1 in
//! "Recently Deleted", its file still in DCIM), `ZHASADJUSTMENTS` (an edited version in
//! `PhotoData/Mutations`), `ZUUID`, and `ZADDITIONALASSETATTRIBUTES.ZORIGINALFILENAME` and
//! `ZTIMEZONEOFFSET`, as the real libraries in `shared/fixtures/ios-databases*` have them.

use std::path::Path;

use rand::RngExt;
use rusqlite::{Connection, params};

use super::{RowEdits, close, create, fill, max_rowid};
use crate::content::media::MediaKind;
use crate::content::plists::APPLE_EPOCH;
use crate::content::{Rng, Seeds, text};
use crate::error::{Context, Error};

const SCHEMA: &str = "
CREATE TABLE ZASSET (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFAVORITE INTEGER,
  ZHASADJUSTMENTS INTEGER, ZHEIGHT INTEGER, ZHIDDEN INTEGER, ZKIND INTEGER, ZKINDSUBTYPE INTEGER,
  ZORIENTATION INTEGER, ZPLAYBACKSTYLE INTEGER, ZSAVEDASSETTYPE INTEGER, ZTRASHEDSTATE INTEGER,
  ZWIDTH INTEGER, ZADDITIONALATTRIBUTES INTEGER, ZADDEDDATE TIMESTAMP,
  ZADJUSTMENTTIMESTAMP TIMESTAMP, ZDATECREATED TIMESTAMP, ZDURATION FLOAT, ZLATITUDE FLOAT,
  ZLONGITUDE FLOAT, ZMODIFICATIONDATE TIMESTAMP, ZTRASHEDDATE TIMESTAMP, ZDIRECTORY VARCHAR,
  ZFILENAME VARCHAR, ZUNIFORMTYPEIDENTIFIER VARCHAR, ZUUID VARCHAR);
CREATE TABLE ZADDITIONALASSETATTRIBUTES (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZASSET INTEGER, ZORIGINALFILESIZE INTEGER, ZORIGINALHEIGHT INTEGER, ZORIGINALWIDTH INTEGER,
  ZORIGINALFILENAME VARCHAR, ZTIMEZONENAME VARCHAR, ZTIMEZONEOFFSET INTEGER,
  ZREVERSELOCATIONDATA BLOB);
CREATE TABLE ZSCENECLASSIFICATION (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
  ZASSETATTRIBUTES INTEGER, ZSCENEIDENTIFIER INTEGER, ZCONFIDENCE FLOAT, ZBOUNDINGBOXHEIGHT FLOAT,
  ZBOUNDINGBOXWIDTH FLOAT, ZBOUNDINGBOXX FLOAT, ZBOUNDINGBOXY FLOAT);
CREATE TABLE ZFACEPRINT (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER, ZFACEVERSION INTEGER,
  ZFACE INTEGER, ZDATA BLOB);
CREATE INDEX ZASSET_ZDATECREATED ON ZASSET (ZDATECREATED);
CREATE INDEX ZSCENECLASSIFICATION_ZASSETATTRIBUTES ON ZSCENECLASSIFICATION (ZASSETATTRIBUTES);
";

/// A camera roll item as Photos.sqlite records it.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    /// e.g. `IMG_0042.HEIC`
    pub(crate) filename: String,
    pub(crate) kind: MediaKind,
    pub(crate) bytes: u64,
    /// Unix seconds.
    pub(crate) created: i64,
    /// A Live Photo: a `.MOV` of the same name beside it.
    pub(crate) live: bool,
    /// Has an edited version in `Media/PhotoData/Mutations`.
    pub(crate) edited: bool,
    /// In "Recently Deleted".
    pub(crate) trashed: bool,
}

impl Asset {
    pub(crate) fn new(filename: String, kind: MediaKind, bytes: u64, created: i64) -> Self {
        Asset {
            filename,
            kind,
            bytes,
            created,
            live: false,
            edited: false,
            trashed: false,
        }
    }
}

/// `ZADDITIONALASSETATTRIBUTES.ZTIMEZONEOFFSET` of every asset: the household lives in
/// London in summer (the EXIF of the kit's JPEGs says `+01:00` too).
pub(crate) const TIMEZONE_OFFSET: i64 = 3600;

pub(crate) const DIRECTORY: &str = "DCIM/100APPLE";

/// Scene classifications the nightly analysis adds for each new photo.
const ANALYSIS_PER_NEW_ASSET: usize = 20;

pub(crate) fn create_db(
    path: &Path,
    seeds: Seeds,
    target: u64,
    now: i64,
    assets: &[Asset],
) -> Result<(), Error> {
    let conn = create(path, SCHEMA)?;
    let mut rng = seeds.rng();
    populate(&conn, &mut rng, target, now, assets).at(path)?;
    close(conn, path)
}

fn populate(
    conn: &Connection,
    rng: &mut Rng,
    target: u64,
    now: i64,
    assets: &[Asset],
) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN")?;
    for a in assets {
        insert_asset(conn, rng, a, now)?;
    }
    conn.execute_batch("COMMIT")?;
    let attributes = max_rowid(conn, "ZADDITIONALASSETATTRIBUTES")?.max(1);
    fill(conn, target, 20, |i| {
        insert_analysis(conn, rng, (i as i64 % attributes) + 1)
    })?;
    Ok(())
}

fn apple_secs(unix: i64) -> f64 {
    (unix - APPLE_EPOCH) as f64
}

/// Inserts an asset and its attributes row; returns the asset's Z_PK.
pub(crate) fn insert_asset(
    conn: &Connection,
    rng: &mut Rng,
    a: &Asset,
    now: i64,
) -> rusqlite::Result<i64> {
    let video = a.kind == MediaKind::Mov;
    let (w, h) = if rng.random_bool(0.7) {
        (4032, 3024)
    } else {
        (3024, 4032)
    };
    // ZKINDSUBTYPE: 2 Live Photo, 10 screenshot; ZPLAYBACKSTYLE: 1 still, 3 live, 4 video.
    let (subtype, playback) = match (video, a.live, a.kind) {
        (true, _, _) => (0, 4),
        (false, true, _) => (2, 3),
        (false, false, MediaKind::Png) => (10, 1),
        _ => (0, 1),
    };
    let trashed = a.trashed.then(|| apple_secs(now - 86_400));
    let adjusted = a.edited.then(|| apple_secs(a.created + 600));
    conn.prepare_cached(
        "INSERT INTO ZASSET (Z_ENT, Z_OPT, ZFAVORITE, ZHIDDEN, ZKIND, ZKINDSUBTYPE, ZHEIGHT, ZWIDTH,
           ZORIENTATION, ZDATECREATED, ZMODIFICATIONDATE, ZADDEDDATE, ZDURATION, ZLATITUDE, ZLONGITUDE,
           ZDIRECTORY, ZFILENAME, ZUNIFORMTYPEIDENTIFIER, ZUUID, ZPLAYBACKSTYLE, ZSAVEDASSETTYPE,
           ZTRASHEDSTATE, ZTRASHEDDATE, ZHASADJUSTMENTS, ZADJUSTMENTTIMESTAMP)
         VALUES (3, 4, ?1, 0, ?2, ?14, ?3, ?4, 1, ?5, ?6, ?5, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?15, 3,
           ?16, ?17, ?18, ?19)",
    )?
    .execute(params![
        rng.random_bool(0.05),
        i64::from(video),
        h,
        w,
        apple_secs(a.created),
        apple_secs(now),
        if video { rng.random_range(3.0..90.0) } else { 0.0 },
        rng.random_range(50.0..56.0),
        rng.random_range(-4.0..1.0),
        DIRECTORY,
        a.filename,
        a.kind.uti(),
        text::uuid(rng),
        subtype,
        playback,
        i64::from(a.trashed),
        trashed,
        i64::from(a.edited),
        adjusted,
    ])?;
    let asset = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO ZADDITIONALASSETATTRIBUTES (Z_ENT, Z_OPT, ZASSET, ZORIGINALFILESIZE, ZORIGINALHEIGHT,
           ZORIGINALWIDTH, ZORIGINALFILENAME, ZTIMEZONENAME, ZTIMEZONEOFFSET, ZREVERSELOCATIONDATA)
         VALUES (1, 2, ?1, ?2, ?3, ?4, ?5, 'Europe/London', ?6, ?7)",
    )?
    .execute(params![
        asset,
        a.bytes as i64,
        h,
        w,
        a.filename,
        TIMEZONE_OFFSET,
        reverse_location(rng)
    ])?;
    let attributes = conn.last_insert_rowid();
    conn.execute(
        "UPDATE ZASSET SET ZADDITIONALATTRIBUTES = ?1 WHERE Z_PK = ?2",
        params![attributes, asset],
    )?;
    Ok(asset)
}

/// A keyed-archive-like blob naming the place a photo was taken.
fn reverse_location(rng: &mut Rng) -> Vec<u8> {
    let mut v = b"bplist00\xd4\x01\x02\x03\x04".to_vec();
    v.extend_from_slice(
        format!("{} Road, {}", text::last_name(rng), text::last_name(rng)).as_bytes(),
    );
    v.extend_from_slice(&text::bytes_in(rng, 200..800));
    v
}

/// One scene classification, and for one in eight a 512-byte face print.
fn insert_analysis(conn: &Connection, rng: &mut Rng, attributes: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO ZSCENECLASSIFICATION (Z_ENT, Z_OPT, ZASSETATTRIBUTES, ZSCENEIDENTIFIER, ZCONFIDENCE,
           ZBOUNDINGBOXHEIGHT, ZBOUNDINGBOXWIDTH, ZBOUNDINGBOXX, ZBOUNDINGBOXY)
         VALUES (40, 1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        attributes,
        rng.random_range(1..2_000_000_000i64),
        rng.random_range(0.0..1.0),
        rng.random_range(0.0..1.0),
        rng.random_range(0.0..1.0),
        rng.random_range(0.0..1.0),
        rng.random_range(0.0..1.0),
    ])?;
    if rng.random_range(0..8) == 0 {
        conn.prepare_cached("INSERT INTO ZFACEPRINT (Z_ENT, Z_OPT, ZFACEVERSION, ZFACE, ZDATA) VALUES (23, 1, 11, ?1, ?2)")?
            .execute(params![attributes, text::bytes(rng, 512)])?;
    }
    Ok(())
}

/// A night's edits: the new assets with their analysis, then `rows` scene rows re-scored.
pub(crate) fn nightly(
    conn: &Connection,
    rng: &mut Rng,
    rows: usize,
    now: i64,
    new_assets: &[Asset],
) -> rusqlite::Result<RowEdits> {
    let tx = conn.unchecked_transaction()?;
    let mut edits = RowEdits::default();
    for a in new_assets {
        insert_asset(conn, rng, a, now)?;
        let attributes = max_rowid(conn, "ZADDITIONALASSETATTRIBUTES")?;
        for _ in 0..ANALYSIS_PER_NEW_ASSET {
            insert_analysis(conn, rng, attributes)?;
        }
        // ZASSET + ZADDITIONALASSETATTRIBUTES + the scene rows (face prints not counted).
        edits.inserted += 2 + ANALYSIS_PER_NEW_ASSET;
    }
    let last = max_rowid(conn, "ZSCENECLASSIFICATION")?.max(1);
    for _ in 0..rows {
        conn.prepare_cached(
            "UPDATE ZSCENECLASSIFICATION SET ZCONFIDENCE = ?1, Z_OPT = Z_OPT + 1 WHERE Z_PK = ?2",
        )?
        .execute(params![
            rng.random_range(0.0..1.0),
            rng.random_range(1..=last)
        ])?;
    }
    edits.updated += rows;
    tx.commit()?;
    Ok(edits)
}
