//! What `CameraRollDomain Media/PhotoData/Photos.sqlite` says of the camera roll's files: their
//! capture date and time zone, original file name, kind and whether they are in "Recently
//! Deleted".
//!
//! The asset table is `ZASSET` since iOS 14 and `ZGENERICASSET` before; its `ZDIRECTORY`
//! (relative to `Media/`, e.g. `DCIM/100APPLE` or `PhotoData/CPLAssets/group103`) and
//! `ZFILENAME` say where the file is. The attributes row (`ZADDITIONALASSETATTRIBUTES`, joined
//! through `ZASSET.ZADDITIONALATTRIBUTES` or back through its own `ZASSET`) holds the original
//! file name and the capture's offset from UTC.

use crate::database::Database;
use crate::error::ExportError;
use crate::time::from_apple_seconds;
use jiff::Timestamp;
use std::collections::HashMap;

pub(crate) const DOMAIN: &str = "CameraRollDomain";
pub(crate) const PHOTOS_DB: &str = "Media/PhotoData/Photos.sqlite";

/// `ZKIND` of a video.
const KIND_VIDEO: i64 = 1;
/// `ZKINDSUBTYPE` of a Live Photo.
const SUBTYPE_LIVE: i64 = 2;

/// One asset row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Asset {
    /// `ZDATECREATED`: when it was taken.
    pub date: Option<Timestamp>,
    /// The capture's offset from UTC in seconds (`ZTIMEZONEOFFSET`), when recorded.
    pub offset: Option<i32>,
    /// `ZORIGINALFILENAME`, when set: the name the file had when it was taken or imported.
    pub original_name: Option<String>,
    pub video: bool,
    pub live: bool,
    /// In "Recently Deleted" (`ZTRASHEDSTATE` = 1).
    pub trashed: bool,
}

/// The assets by path relative to `Media/` (`DCIM/100APPLE/IMG_0001.HEIC`).
#[derive(Debug, Default)]
pub(crate) struct Library {
    pub assets: HashMap<String, Asset>,
}

impl Library {
    pub fn get(&self, media_rel: &str) -> Option<&Asset> {
        self.assets.get(media_rel)
    }

    /// Reads the asset rows; an unknown schema is an [`ExportError::Schema`] naming what is
    /// missing.
    pub fn read(db: &Database) -> Result<Library, ExportError> {
        let asset = db.first_table(&["ZASSET", "ZGENERICASSET"])?;
        let directory = asset.require("ZDIRECTORY")?;
        let filename = asset.require("ZFILENAME")?;
        let date = asset.require("ZDATECREATED")?;
        let kind = asset.require("ZKIND")?;
        let subtype = asset.or_null("ZKINDSUBTYPE");
        let trashed = asset.or_null("ZTRASHEDSTATE");
        let (attr_cols, join) = match db.columns("ZADDITIONALASSETATTRIBUTES")? {
            Some(attrs) => {
                let join = match (asset.has("ZADDITIONALATTRIBUTES"), attrs.has("ZASSET")) {
                    (true, _) => "a.Z_PK = z.ZADDITIONALATTRIBUTES",
                    (false, true) => "a.ZASSET = z.Z_PK",
                    (false, false) => "0",
                };
                let cols = format!(
                    "a.{}, a.{}",
                    attrs.or_null("ZORIGINALFILENAME"),
                    attrs.or_null("ZTIMEZONEOFFSET")
                );
                (
                    cols,
                    format!("LEFT JOIN ZADDITIONALASSETATTRIBUTES a ON {join}"),
                )
            }
            None => ("NULL, NULL".to_string(), String::new()),
        };
        let sql = format!(
            "SELECT z.{directory}, z.{filename}, z.{date}, z.{kind}, z.{subtype}, z.{trashed}, {attr_cols}
             FROM {} z {join}",
            asset.table()
        )
        .replace("z.NULL", "NULL")
        .replace("a.NULL", "NULL");
        let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    text(r.get_ref(0)?),
                    text(r.get_ref(1)?),
                    r.get::<_, Option<f64>>(2).ok().flatten(),
                    r.get::<_, Option<i64>>(3).ok().flatten(),
                    r.get::<_, Option<i64>>(4).ok().flatten(),
                    r.get::<_, Option<i64>>(5).ok().flatten(),
                    text(r.get_ref(6)?),
                    r.get::<_, Option<i64>>(7).ok().flatten(),
                ))
            })
            .map_err(|e| db.err(e))?;
        let mut assets = HashMap::new();
        for row in rows {
            let (dir, name, date, kind, subtype, trashed, original, offset) =
                row.map_err(|e| db.err(e))?;
            let (Some(dir), Some(name)) = (dir, name) else {
                continue;
            };
            let asset = Asset {
                date: date.and_then(from_apple_seconds),
                offset: offset
                    .and_then(|o| i32::try_from(o).ok())
                    .filter(|o| o.abs() < 18 * 3600),
                original_name: original.filter(|n| !n.trim().is_empty()),
                video: kind == Some(KIND_VIDEO),
                live: subtype == Some(SUBTYPE_LIVE),
                trashed: trashed.is_some_and(|t| t != 0),
            };
            assets.insert(format!("{}/{name}", dir.trim_matches('/')), asset);
        }
        Ok(Library { assets })
    }
}

/// Text from a TEXT or BLOB column (Core Data writes either); `None` for anything else.
fn text(v: rusqlite::types::ValueRef<'_>) -> Option<String> {
    match v {
        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
            Some(String::from_utf8_lossy(t).into_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(rel: &str) -> std::path::PathBuf {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures")
            .join(rel);
        assert!(p.is_file(), "the fixture {} is required", p.display());
        p
    }

    #[test]
    fn reads_the_ios14_zasset_library_with_its_wal() {
        let path = fixture("ios-databases/hickman-ios14.3-iphonese/Media/PhotoData/Photos.sqlite");
        let db = Database::open_copy(&path, "Photos.sqlite", "test").unwrap();
        let lib = Library::read(&db).unwrap();
        assert_eq!(lib.assets.len(), 131);
        let videos = lib.assets.values().filter(|a| a.video).count();
        assert_eq!(videos, 5);
        assert_eq!(lib.assets.values().filter(|a| a.trashed).count(), 3);
        assert_eq!(lib.assets.values().filter(|a| a.live).count(), 1);
        let dcim = lib
            .assets
            .keys()
            .filter(|k| k.starts_with("DCIM/100APPLE/"))
            .count();
        assert_eq!(dcim, 62);
        assert!(lib.assets.values().all(|a| a.date.is_some()));
        // The shared album's 10 rows have no attributes' offset.
        assert_eq!(
            lib.assets.values().filter(|a| a.offset.is_some()).count(),
            121
        );
        let renamed = lib
            .assets
            .iter()
            .filter(|(k, a)| a.original_name.as_deref() != k.rsplit('/').next())
            .count();
        assert_eq!(renamed, 71, "as PROVENANCE.md counts");
    }

    #[test]
    fn reads_the_ios13_zgenericasset_library() {
        let path =
            fixture("ios-databases-extra/hickman-ios13.4.1-iphonese/Media/PhotoData/Photos.sqlite");
        let db = Database::open_copy(&path, "Photos.sqlite", "test").unwrap();
        let lib = Library::read(&db).unwrap();
        assert_eq!(lib.assets.len(), 59);
        assert_eq!(lib.assets.values().filter(|a| a.trashed).count(), 5);
        assert_eq!(lib.assets.values().filter(|a| a.video).count(), 1);
    }

    #[test]
    fn an_unknown_schema_names_the_missing_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Photos.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE ZASSET (Z_PK INTEGER PRIMARY KEY, ZFILENAME TEXT)")
            .unwrap();
        drop(conn);
        let db = Database::open_copy(&path, "Photos.sqlite", "test").unwrap();
        let err = Library::read(&db).unwrap_err();
        assert!(
            err.to_string()
                .contains("column ZDIRECTORY in table ZASSET"),
            "{err}"
        );
        let none = dir.path().join("empty.sqlite");
        rusqlite::Connection::open(&none)
            .unwrap()
            .execute_batch("CREATE TABLE X (a)")
            .unwrap();
        let db = Database::open_copy(&none, "Photos.sqlite", "test").unwrap();
        let err = Library::read(&db).unwrap_err();
        assert!(
            err.to_string().contains("table ZASSET or ZGENERICASSET"),
            "{err}"
        );
    }
}
