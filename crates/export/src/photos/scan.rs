//! Which files of `CameraRollDomain` are photos and videos, and how they belong together.
//!
//! Originals are the media files under `Media/DCIM/` (the camera roll) and
//! `Media/PhotoData/CPLAssets/` (iCloud Photos originals kept on the device). A Live Photo is
//! a still and a `.MOV` of the same name in the same folder (unless Photos.sqlite lists that
//! video as an asset of its own). Edited versions are
//! `Media/PhotoData/Mutations/<the original's folder>/<its name without extension>/Adjustments/FullSizeRender.<ext>`.
//! Nothing else is read: thumbnails, `Metadata`, caches, `.AAE` sidecars and the shared
//! albums of `PhotoCloudSharingData` (other people's photos) stay out.

use std::collections::BTreeMap;

/// Folders (relative to `Media/`) whose media files are originals.
pub(crate) const ORIGINALS: [&str; 2] = ["DCIM", "PhotoData/CPLAssets"];
/// Folder (relative to `Media/`) of edited versions.
pub(crate) const MUTATIONS: &str = "PhotoData/Mutations";

const IMAGE_EXTENSIONS: [&str; 11] = [
    "heic", "heif", "jpg", "jpeg", "png", "gif", "tif", "tiff", "webp", "dng", "avif",
];
const VIDEO_EXTENSIONS: [&str; 4] = ["mov", "mp4", "m4v", "3gp"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A still photo (a Live Photo's still too).
    Photo,
    Video,
    /// A Live Photo's motion part.
    LiveVideo,
    /// An edited version (`FullSizeRender`) of the item's original.
    Edited,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Photo => "photo",
            Role::Video => "video",
            Role::LiveVideo => "live-photo-video",
            Role::Edited => "edited",
        }
    }
}

/// A file of an item: its path relative to `Media/` and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member<T> {
    pub role: Role,
    pub media_rel: String,
    pub file: T,
}

/// One photo or video with the files that go with it; `members[0]` is the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item<T> {
    pub members: Vec<Member<T>>,
}

impl<T> Item<T> {
    pub fn original(&self) -> &Member<T> {
        &self.members[0]
    }
}

pub(crate) enum MediaType {
    Image,
    Video,
}

/// Whether `name` is a photo or a video by its extension (`None`: neither, or hidden junk).
pub(crate) fn media_type(name: &str) -> Option<MediaType> {
    if name.starts_with('.') {
        return None;
    }
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        Some(MediaType::Image)
    } else if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        Some(MediaType::Video)
    } else {
        None
    }
}

/// `(folder, stem)` of a path: `("DCIM/100APPLE", "IMG_0001")`.
fn folder_stem(media_rel: &str) -> (&str, &str) {
    let (folder, name) = media_rel.rsplit_once('/').unwrap_or(("", media_rel));
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    (folder, stem)
}

/// The stills and the videos of one `(folder, stem)`.
type Stills<T> = (Vec<(String, T)>, Vec<(String, T)>);

/// Groups `originals` (paths relative to `Media/` under [`ORIGINALS`], with their files) and
/// `renders` (paths relative to `Media/` under [`MUTATIONS`]) into items, in path order.
/// `own_asset(media_rel)` says whether Photos.sqlite lists a video as an asset of its own
/// (so it is not a Live Photo's motion part even beside a still of the same name).
pub(crate) fn group<T>(
    originals: Vec<(String, T)>,
    renders: Vec<(String, T)>,
    own_asset: &dyn Fn(&str) -> bool,
) -> Vec<Item<T>> {
    let mut by_stem: BTreeMap<(String, String), Stills<T>> = BTreeMap::new();
    for (rel, file) in originals {
        let name = rel.rsplit('/').next().unwrap_or_default();
        let Some(kind) = media_type(name) else {
            continue;
        };
        let (folder, stem) = folder_stem(&rel);
        let key = (folder.to_string(), stem.to_string());
        let slot = by_stem.entry(key).or_default();
        match kind {
            MediaType::Image => slot.0.push((rel, file)),
            MediaType::Video => slot.1.push((rel, file)),
        }
    }
    let mut edits: BTreeMap<(String, String), Vec<(String, T)>> = BTreeMap::new();
    for (rel, file) in renders {
        if let Some(key) = render_of(&rel) {
            edits.entry(key).or_default().push((rel, file));
        }
    }
    let mut items = Vec::new();
    for (key, (images, videos)) in by_stem {
        let mut renders = edits.remove(&key).unwrap_or_default();
        let mut motion = None;
        let mut standalone = Vec::new();
        for (rel, file) in videos {
            match motion.is_none() && !images.is_empty() && !own_asset(&rel) {
                true => motion = Some((rel, file)),
                false => standalone.push((rel, file)),
            }
        }
        let first_image = !images.is_empty();
        for (i, (rel, file)) in images.into_iter().enumerate() {
            let mut members = vec![member(Role::Photo, rel, file)];
            if i == 0 {
                if let Some((rel, file)) = motion.take() {
                    members.push(member(Role::LiveVideo, rel, file));
                }
                members.extend(renders.drain(..).map(|(r, f)| member(Role::Edited, r, f)));
            }
            items.push(Item { members });
        }
        for (rel, file) in standalone {
            let mut members = vec![member(Role::Video, rel, file)];
            if !first_image {
                members.extend(renders.drain(..).map(|(r, f)| member(Role::Edited, r, f)));
            }
            items.push(Item { members });
        }
    }
    items
}

fn member<T>(role: Role, media_rel: String, file: T) -> Member<T> {
    Member {
        role,
        media_rel,
        file,
    }
}

/// The `(folder, stem)` of the original an edited version belongs to:
/// `PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.jpg` →
/// `("DCIM/100APPLE", "IMG_0001")`; `None` for anything that is not a full-size render.
fn render_of(media_rel: &str) -> Option<(String, String)> {
    let rest = media_rel.strip_prefix(MUTATIONS)?.strip_prefix('/')?;
    let (dir, name) = rest.rsplit_once('/')?;
    let stem = name.rsplit_once('.')?.0;
    if stem != "FullSizeRender" || media_type(name).is_none() {
        return None;
    }
    let (original, adjustments) = dir.rsplit_once('/')?;
    if adjustments != "Adjustments" {
        return None;
    }
    let (folder, stem) = original.rsplit_once('/')?;
    Some((folder.to_string(), stem.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<(String, ())> {
        list.iter().map(|p| (p.to_string(), ())).collect()
    }

    fn shape(items: &[Item<()>]) -> Vec<Vec<(Role, &str)>> {
        items
            .iter()
            .map(|i| {
                i.members
                    .iter()
                    .map(|m| (m.role, m.media_rel.as_str()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn live_pairs_edits_and_junk() {
        let originals = paths(&[
            "DCIM/100APPLE/IMG_0001.HEIC",
            "DCIM/100APPLE/IMG_0001.MOV",
            "DCIM/100APPLE/IMG_0002.MOV",
            "DCIM/100APPLE/IMG_0003.JPG",
            "DCIM/100APPLE/IMG_0003.AAE",
            "DCIM/100APPLE/.DS_Store",
            "DCIM/100APPLE/._IMG_0003.JPG",
            "DCIM/100APPLE/IMG_0004.JPG",
            "DCIM/100APPLE/IMG_0004.MOV",
            "PhotoData/CPLAssets/group7/5C1A.JPG",
        ]);
        let renders = paths(&[
            "PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.heic",
            "PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.mov",
            "PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/Adjustments.plist",
            "PhotoData/Mutations/DCIM/100APPLE/IMG_0002/Adjustments/FullSizeRender.mov",
            "PhotoData/Mutations/DCIM/100APPLE/IMG_0009/Adjustments/FullSizeRender.jpg",
        ]);
        // IMG_0004.MOV is a video of its own in Photos.sqlite, not a Live Photo's motion.
        let own = |rel: &str| rel == "DCIM/100APPLE/IMG_0004.MOV";
        let items = group(originals, renders, &own);
        use Role::*;
        assert_eq!(
            shape(&items),
            vec![
                vec![
                    (Photo, "DCIM/100APPLE/IMG_0001.HEIC"),
                    (LiveVideo, "DCIM/100APPLE/IMG_0001.MOV"),
                    (
                        Edited,
                        "PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.heic"
                    ),
                    (
                        Edited,
                        "PhotoData/Mutations/DCIM/100APPLE/IMG_0001/Adjustments/FullSizeRender.mov"
                    ),
                ],
                vec![
                    (Video, "DCIM/100APPLE/IMG_0002.MOV"),
                    (
                        Edited,
                        "PhotoData/Mutations/DCIM/100APPLE/IMG_0002/Adjustments/FullSizeRender.mov"
                    ),
                ],
                vec![(Photo, "DCIM/100APPLE/IMG_0003.JPG")],
                vec![(Photo, "DCIM/100APPLE/IMG_0004.JPG")],
                vec![(Video, "DCIM/100APPLE/IMG_0004.MOV")],
                vec![(Photo, "PhotoData/CPLAssets/group7/5C1A.JPG")],
            ]
        );
    }
}
