//! `CameraRollDomain`: photos and videos in `Media/DCIM/100APPLE`, their thumbnails, and
//! `Media/PhotoData/Photos.sqlite`.
//!
//! Shared photos come from the household pool: pool item `i` has the same kind, length and
//! bytes (and thumbnail) on every device, under whatever IMG number that device gives it.

use rand::RngExt;

use super::writer::{BlobWriter, CLASS_DEFAULT, CLASS_NONE};
use super::{BigDb, Ctx, evenly};
use crate::content::databases::photos::{self, Asset};
use crate::content::media::{MediaKind, media_bytes, write_media};
use crate::content::{Seeds, plists};
use crate::error::Error;

pub(crate) const DOMAIN: &str = "CameraRollDomain";
pub(crate) const DCIM: &str = "Media/DCIM/100APPLE";
pub(crate) const PHOTOS_DB: &str = "Media/PhotoData/Photos.sqlite";
const EMPTY_DIRS: &[&str] = &[
    "Media/PhotoData/CPLAssets",
    "Media/PhotoData/Caches/search",
    "Media/PhotoData/MISC",
    "Media/PhotoData/Metadata/DCIM/100APPLE",
    "Media/PhotoData/Mutations/DCIM/100APPLE",
    "Media/PhotoStreamsData",
];

/// A camera roll item's bytes: where they come from and how long they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MediaSource {
    pub(crate) kind: MediaKind,
    pub(crate) len: u64,
    pub(crate) seeds: Seeds,
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
        }
    }

    pub(crate) fn video(seeds: Seeds, avg: u64) -> Self {
        let len = (avg as f64 * seeds.label("shape").rng().random_range(0.5..1.5)) as u64;
        MediaSource {
            kind: MediaKind::Mov,
            len: len.max(64),
            seeds,
        }
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
        write_media(blob, src.kind, src.len, src.seeds.label("bytes"))
    })?;
    w.file(DOMAIN, &thumbnail_path(&name), CLASS_DEFAULT, |blob| {
        std::fs::write(blob, src.thumbnail()).map_err(|source| Error::Io {
            path: blob.into(),
            source,
        })
    })?;
    Ok(Asset {
        filename: name,
        kind: src.kind,
        bytes: src.len,
        created,
    })
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
        assets.push(write_item(w, first + j as u32, src, created)?);
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
        MediaSource::photo(ctx.pool.child(pool_index as u64), ctx.pool_photo_bytes)
    } else {
        MediaSource::photo(
            ctx.seeds.label("photo").child(i as u64),
            ctx.spec.photo_bytes,
        )
    }
}
