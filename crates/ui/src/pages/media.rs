//! What the Photos and Messages pages share: which snapshots "the household" means, the raw
//! URL of a snapshot's file, and whether the browser can show a file inline.

use crate::error::UiError;
use crate::state::App;
use hearth_export::Source;
use hearth_format::{Snapshot, SnapshotId};

/// Image extensions every browser shows; HEIC, TIFF and DNG are not among them.
const SHOWN_IMAGES: [&str; 6] = ["jpg", "jpeg", "png", "gif", "webp", "avif"];
/// Video extensions a `<video>` may play (an HEVC `.mov` may still not: it keeps a download
/// link beside it).
const VIDEOS: [&str; 3] = ["mov", "mp4", "m4v"];

/// How a page shows a file of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Image,
    Video,
    /// A placeholder with a download link (HEIC and the rest).
    Download,
}

/// How the file named `name` is shown, by its extension.
pub fn shown(name: &str) -> Shown {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match () {
        _ if SHOWN_IMAGES.contains(&ext.as_str()) => Shown::Image,
        _ if VIDEOS.contains(&ext.as_str()) => Shown::Video,
        _ => Shown::Download,
    }
}

/// The extension in capitals, for a placeholder tile ("HEIC").
pub fn ext_label(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_uppercase())
        .unwrap_or_else(|| "FILE".into())
}

/// `/snapshot/HEX/raw/PATH`, each name of `path` percent-encoded.
pub fn raw_url(snapshot: &SnapshotId, path: &str, download: bool) -> String {
    let url = crate::content::snapshot_url(&snapshot.to_hex(), "raw", path);
    match download {
        true => url + "?download=1",
        false => url,
    }
}

/// The snapshot `hex` names, else each device's latest (what `hearth export` reads when no
/// snapshot is named).
pub fn chosen(app: &App, hex: Option<&str>) -> Result<Vec<(SnapshotId, Snapshot)>, UiError> {
    match hex.filter(|h| !h.is_empty()) {
        Some(hex) => Ok(vec![super::snapshot(app, hex)?]),
        None => Ok(hearth_export::latest_of_each_device(app.repo.snapshots()?)),
    }
}

/// An exporter's view of a snapshot, over the file tree the pages keep.
pub fn source<'a>(
    app: &'a App,
    id: SnapshotId,
    snapshot: &Snapshot,
) -> Result<Source<'a>, UiError> {
    let files = app.snapshot_files(id, snapshot)?;
    Ok(Source::new(app.repo, id, snapshot.clone(), files))
}

/// A time the exporters give as the household's local date and time.
pub fn when(t: jiff::Timestamp) -> String {
    crate::format::time(t.as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_urls_encode_each_segment_and_keep_the_slashes() {
        let id = SnapshotId::from_bytes([0xab; 32]);
        let url = raw_url(&id, "CameraRollDomain/Media/DCIM/IMG 1#?.HEIC", false);
        assert_eq!(
            url,
            format!(
                "/snapshot/{}/raw/CameraRollDomain/Media/DCIM/IMG%201%23%3F.HEIC",
                "ab".repeat(32)
            )
        );
        assert!(raw_url(&id, "a/é", true).ends_with("/raw/a/%C3%A9?download=1"));
    }

    #[test]
    fn heic_is_a_download_jpeg_an_image_mov_a_video() {
        assert_eq!(shown("IMG_0001.HEIC"), Shown::Download);
        assert_eq!(shown("IMG_0001.JPG"), Shown::Image);
        assert_eq!(shown("IMG_0001.MOV"), Shown::Video);
        assert_eq!(shown("noext"), Shown::Download);
        assert_eq!(ext_label("a.heic"), "HEIC");
    }
}
