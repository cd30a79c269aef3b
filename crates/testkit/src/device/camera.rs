//! `CameraRollDomain`: photos and videos in `Media/DCIM/100APPLE`, their thumbnails, and
//! `Media/PhotoData/Photos.sqlite`.
//!
//! Shared photos come from the household pool: pool item `i` has the same kind, length, bytes
//! and capture date (and thumbnail) on every device, under whatever IMG number that device
//! gives it.
//!
//! JPEGs carry a real EXIF block (Make, Model, `DateTimeOriginal`, `CreateDate`,
//! `OffsetTimeOriginal`) with the date Photos.sqlite records; HEICs, PNG screenshots and
//! videos carry none. With [`crate::Extras::live_photos_and_edits`], some HEICs are Live
//! Photos (a `.MOV` of the same name beside), some own photos have an edited version in
//! `Media/PhotoData/Mutations/DCIM/100APPLE/IMG_XXXX/Adjustments/FullSizeRender.jpg`, and some
//! are in "Recently Deleted" (`ZTRASHEDSTATE` = 1, the file still in DCIM).

use rand::RngExt;

use super::writer::{BlobWriter, CLASS_DEFAULT, CLASS_NONE};
use super::{BigDb, Ctx, evenly};
use crate::content::databases::photos::{self, Asset, TIMEZONE_OFFSET};
use crate::content::media::{MediaKind, media_bytes, write_media};
use crate::content::{Seeds, plists};
use crate::error::Error;

pub(crate) const DOMAIN: &str = "CameraRollDomain";
pub(crate) const DCIM: &str = "Media/DCIM/100APPLE";
pub(crate) const PHOTOS_DB: &str = "Media/PhotoData/Photos.sqlite";
pub(crate) const MUTATIONS: &str = "Media/PhotoData/Mutations/DCIM/100APPLE";
const EMPTY_DIRS: &[&str] = &[
    "Media/PhotoData/CPLAssets",
    "Media/PhotoData/Caches/search",
    "Media/PhotoData/MISC",
    "Media/PhotoData/Metadata/DCIM/100APPLE",
    MUTATIONS,
    "Media/PhotoStreamsData",
];
/// Shared photos were taken in the two years from here (2022-06-01), whichever device holds them.
const POOL_EPOCH: i64 = 1_654_041_600;

/// A camera roll item's bytes: where they come from and how long they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MediaSource {
    pub(crate) kind: MediaKind,
    pub(crate) len: u64,
    pub(crate) seeds: Seeds,
    /// When it was taken, Unix seconds, when the source says (a shared photo's date is the
    /// same on every device); else the device's camera roll gives it one.
    pub(crate) taken: Option<i64>,
}

impl MediaSource {
    /// A photo of about `avg` bytes (±50%): 75% HEIC, 15% JPEG, 10% PNG screenshots.
    pub(crate) fn photo(seeds: Seeds, avg: u64) -> Self {
        let mut rng = seeds.label("shape").rng();
        let kind = match rng.random_range(0..20) {
            0..15 => MediaKind::Heic,
            15..18 => MediaKind::Jpeg,
            _ => MediaKind::Png,
        };
        let len = (avg as f64 * rng.random_range(0.5..1.5)) as u64;
        MediaSource {
            kind,
            len: len.max(64),
            seeds,
            taken: None,
        }
    }

    pub(crate) fn video(seeds: Seeds, avg: u64) -> Self {
        let len = (avg as f64 * seeds.label("shape").rng().random_range(0.5..1.5)) as u64;
        MediaSource {
            kind: MediaKind::Mov,
            len: len.max(64),
            seeds,
            taken: None,
        }
    }

    /// Whether this photo is a Live Photo (decided by its bytes' seeds, so a shared photo is
    /// live on every device or on none).
    fn is_live(&self) -> bool {
        self.kind == MediaKind::Heic && self.seeds.label("live").rng().random_range(0..4) == 0
    }

    /// A Live Photo's motion part: a short `.MOV` of the same seeds.
    fn live_video(&self) -> MediaSource {
        MediaSource {
            kind: MediaKind::Mov,
            len: (self.len / 2).max(64),
            seeds: self.seeds.label("live video"),
            taken: self.taken,
        }
    }

    /// Writes the file's bytes at `blob`: JPEGs with an EXIF block dated `created`.
    pub(crate) fn write(&self, blob: &std::path::Path, created: i64) -> Result<(), Error> {
        write_media(blob, self.kind, self.len, self.seeds.label("bytes"))?;
        if self.kind == MediaKind::Jpeg {
            write_exif(blob, created, self.len)?;
        }
        Ok(())
    }

    pub(crate) fn thumbnail(&self) -> Vec<u8> {
        let len = (self.len / 40).clamp(2_048, 65_536) as usize;
        media_bytes(MediaKind::Jpeg, len, self.seeds.label("thumbnail"))
    }
}

pub(crate) fn file_name(number: u32, kind: MediaKind) -> String {
    format!("IMG_{number:04}.{}", kind.extension())
}

pub(crate) fn thumbnail_path(file_name: &str) -> String {
    format!("Media/PhotoData/Thumbnails/V2/DCIM/100APPLE/{file_name}/5005.JPG")
}

/// Writes a photo or video and its thumbnail; returns the Photos.sqlite asset.
pub(crate) fn write_item(
    w: &mut BlobWriter,
    number: u32,
    src: MediaSource,
    created: i64,
) -> Result<Asset, Error> {
    write_named_item(w, file_name(number, src.kind), src, created)
}

/// [`write_item`] under a file name of its own.
fn write_named_item(
    w: &mut BlobWriter,
    name: String,
    src: MediaSource,
    created: i64,
) -> Result<Asset, Error> {
    w.file(DOMAIN, &format!("{DCIM}/{name}"), CLASS_NONE, |blob| {
        src.write(blob, created)
    })?;
    w.file(DOMAIN, &thumbnail_path(&name), CLASS_DEFAULT, |blob| {
        std::fs::write(blob, src.thumbnail()).map_err(|source| Error::Io {
            path: blob.into(),
            source,
        })
    })?;
    Ok(Asset::new(name, src.kind, src.len, created))
}

/// A photo's companions (with [`crate::Extras::live_photos_and_edits`]): its Live Photo video,
/// an edited version for every sixth own photo, "Recently Deleted" for every ninth.
fn write_companions(
    w: &mut BlobWriter,
    asset: &mut Asset,
    src: MediaSource,
    own: Option<usize>,
) -> Result<(), Error> {
    let stem = asset
        .filename
        .rsplit_once('.')
        .map_or("", |(s, _)| s)
        .to_string();
    let created = asset.created;
    if src.is_live() {
        let video = src.live_video();
        w.file(DOMAIN, &format!("{DCIM}/{stem}.MOV"), CLASS_NONE, |blob| {
            video.write(blob, created)
        })?;
        asset.live = true;
    }
    if let Some(i) = own {
        if i % 6 == 2 {
            let render = MediaSource {
                kind: MediaKind::Jpeg,
                len: (src.len / 2).max(256),
                seeds: src.seeds.label("edited"),
                taken: None,
            };
            let folder = format!("{MUTATIONS}/{stem}/Adjustments");
            w.file(
                DOMAIN,
                &format!("{folder}/FullSizeRender.jpg"),
                CLASS_NONE,
                |blob| render.write(blob, created),
            )?;
            let plist =
                plists::preferences_file(&mut src.seeds.label("adjustments").rng(), created);
            w.bytes(DOMAIN, &format!("{folder}/Adjustments.plist"), &plist)?;
            asset.edited = true;
        }
        asset.trashed = i % 9 == 4;
    }
    Ok(())
}

/// The camera roll: photos (a share from the household pool) and videos, numbered in one
/// sequence, oldest first, then Photos.sqlite describing them.
pub(crate) fn write(w: &mut BlobWriter, ctx: &Ctx) -> Result<(), Error> {
    let spec = ctx.spec;
    let total = spec.photos + spec.videos;
    let shared = (spec.photos as f64 * ctx.shared_fraction).round() as usize;
    let mut rng = ctx.seeds.label("camera roll").rng();
    let first = rng.random_range(1..4_000u32);
    let span = 2 * 365 * 86_400;
    let (mut photo, mut video) = (0, 0);
    let mut assets = Vec::with_capacity(total);
    for j in 0..total {
        let src = if evenly(j, spec.videos, total) {
            video += 1;
            MediaSource::video(
                ctx.seeds.label("video").child(video as u64),
                spec.video_bytes,
            )
        } else {
            photo += 1;
            photo_source(ctx, photo - 1, shared)
        };
        let created =
            w.now() - span + (j as i64 * span / total as i64) + rng.random_range(0..3_600);
        let created = src.taken.unwrap_or(created);
        let mut asset = write_item(w, first + j as u32, src, created)?;
        if spec.extras.live_photos_and_edits && src.kind != MediaKind::Mov {
            let own = (src.taken.is_none()).then_some(photo);
            write_companions(w, &mut asset, src, own)?;
        }
        assets.push(asset);
    }
    if spec.extras.other_videos {
        let seeds = ctx.seeds.label("other videos");
        let now = w.now();
        let names = [
            format!("RPReplay_Final{}.MP4", now - 5 * 86_400),
            format!("IMG_{:04}.m4v", first + total as u32),
        ];
        for (k, name) in names.into_iter().enumerate() {
            let src = MediaSource::video(seeds.child(k as u64), spec.video_bytes);
            let created = now - (k as i64 + 1) * 86_400;
            assets.push(write_named_item(w, name, src, created)?);
        }
    }
    for dir in EMPTY_DIRS {
        w.dir(DOMAIN, dir);
    }
    let (now, target) = (w.now(), ctx.db_target(BigDb::Photos));
    let seeds = ctx.seeds.label("Photos.sqlite");
    w.file(DOMAIN, PHOTOS_DB, CLASS_DEFAULT, |blob| {
        photos::create_db(blob, seeds, target, now, &assets)
    })?;
    let list = plists::preferences_file(&mut rng, now);
    w.bytes(
        DOMAIN,
        "Media/PhotoData/MISC/DCIM_Directory_List.plist",
        &list,
    )?;
    Ok(())
}

/// Photo `i` of the device: slot `i` is shared when `evenly` marks it, taking the next pool item.
fn photo_source(ctx: &Ctx, i: usize, shared: usize) -> MediaSource {
    let photos = ctx.spec.photos;
    if evenly(i, shared, photos) {
        let pool_index = (i + 1) * shared / photos - 1;
        let seeds = ctx.pool.child(pool_index as u64);
        let taken = POOL_EPOCH + seeds.label("taken").rng().random_range(0..2 * 365 * 86_400);
        MediaSource {
            taken: Some(taken),
            ..MediaSource::photo(seeds, ctx.pool_photo_bytes)
        }
    } else {
        MediaSource::photo(
            ctx.seeds.label("photo").child(i as u64),
            ctx.spec.photo_bytes,
        )
    }
}

/// Overwrites the start of the JPEG at `path` (`len` bytes) with SOI, an APP1 EXIF block dated
/// `created` (at [`TIMEZONE_OFFSET`]) and the start of a DQT segment, as a camera writes them.
fn write_exif(path: &std::path::Path, created: i64, len: u64) -> Result<(), Error> {
    use std::io::{Seek, Write};
    let header = exif_jpeg_header(created);
    if len < header.len() as u64 + 2 {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
    f.rewind()
        .and_then(|()| f.write_all(&header))
        .map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
}

/// SOI + APP1 `Exif` (little-endian TIFF: IFD0 with Make, Model and the Exif IFD pointer; the
/// Exif IFD with DateTimeOriginal, CreateDate and OffsetTimeOriginal) + the start of a DQT.
pub(crate) fn exif_jpeg_header(created: i64) -> Vec<u8> {
    const ASCII: u16 = 2;
    const LONG: u16 = 4;
    let wall = created + TIMEZONE_OFFSET;
    let (days, secs) = (wall.div_euclid(86_400), wall.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let date = format!(
        "{y:04}:{m:02}:{d:02} {:02}:{:02}:{:02}\0",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    let offset = format!(
        "+{:02}:{:02}\0",
        TIMEZONE_OFFSET / 3600,
        TIMEZONE_OFFSET / 60 % 60
    );
    let (make, model) = ("Apple\0", "iPhone 15 Pro\0");
    // Layout from the TIFF header: IFD0 at 8 (3 entries), the Exif IFD after it (3 entries),
    // then the values.
    let ifd0 = 8u32;
    let exif_ifd = ifd0 + 2 + 3 * 12 + 4;
    let data = exif_ifd + 2 + 3 * 12 + 4;
    let make_at = data;
    let model_at = make_at + make.len() as u32;
    let date_at = model_at + model.len() as u32;
    let created_at = date_at + date.len() as u32;
    let offset_at = created_at + date.len() as u32;
    let mut tiff = b"II\x2A\x00".to_vec();
    tiff.extend_from_slice(&ifd0.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    };
    tiff.extend_from_slice(&3u16.to_le_bytes());
    entry(&mut tiff, 0x010F, ASCII, make.len() as u32, make_at);
    entry(&mut tiff, 0x0110, ASCII, model.len() as u32, model_at);
    entry(&mut tiff, 0x8769, LONG, 1, exif_ifd);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    entry(&mut tiff, 0x9003, ASCII, date.len() as u32, date_at);
    entry(&mut tiff, 0x9004, ASCII, date.len() as u32, created_at);
    entry(&mut tiff, 0x9011, ASCII, offset.len() as u32, offset_at);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    for text in [make, model, &date, &date, &offset] {
        tiff.extend_from_slice(text.as_bytes());
    }
    let segment = 2 + 6 + tiff.len();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    // JPEG segment lengths are big-endian.
    out.extend_from_slice(&[(segment >> 8) as u8, segment as u8]);
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(b"\xFF\xDB\x00\x84\x00");
    out
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_dates_are_the_wall_clock_at_the_offset() {
        // 2021-04-11T20:47:53Z is 21:47:53 at +01:00.
        let h = exif_jpeg_header(1_618_174_073);
        let text = String::from_utf8_lossy(&h);
        assert!(text.contains("2021:04:11 21:47:53\0"), "{text}");
        assert!(text.contains("+01:00\0"));
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(&h[..4], b"\xFF\xD8\xFF\xE1");
        assert_eq!(usize::from(h[4]) * 256 + usize::from(h[5]) + 4 + 5, h.len());
    }
}
