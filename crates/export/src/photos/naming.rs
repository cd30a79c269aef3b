//! Output names: `YYYY/MM/<original name>`, a Live Photo's video and an edited version named
//! after their still (`IMG_0001.MOV`, `IMG_0001 (edited).jpg`), and ` (2)`, ` (3)`... when a
//! name is taken, the same number for every file of one photo so they stay together.

use super::scan::Role;
use crate::out::safe_name;

/// `("IMG_0001", ".HEIC")`; no extension gives `""`.
pub(crate) fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// The extension of `path`'s last component, with its dot.
pub(crate) fn ext_of(path: &str) -> &str {
    split_ext(path.rsplit('/').next().unwrap_or(path)).1
}

/// The name of a member whose still (or standalone original) is named `stem` + its extension.
pub(crate) fn member_name(role: Role, stem: &str, original_ext: &str, own_ext: &str) -> String {
    match role {
        Role::Photo | Role::Video => format!("{stem}{original_ext}"),
        Role::LiveVideo => format!("{stem}{own_ext}"),
        Role::Edited => format!("{stem} (edited){own_ext}"),
    }
}

/// The first stem (`stem`, `stem (2)`, `stem (3)`...) under which every one of `members`
/// (role, own extension) is free: `free(name)` says whether a name is free in the folder.
pub(crate) fn free_stem(
    stem: &str,
    original_ext: &str,
    members: &[(Role, String)],
    free: &dyn Fn(&str) -> bool,
) -> String {
    let fits = |s: &str| {
        members
            .iter()
            .all(|(role, ext)| free(&member_name(*role, s, original_ext, ext)))
    };
    if fits(stem) {
        return stem.to_string();
    }
    (2u32..)
        .map(|i| format!("{stem} ({i})"))
        .find(|s| fits(s))
        .unwrap_or_default()
}

/// The file name an original is exported as: Photos.sqlite's original name when it has one
/// (with the file's extension when that name has none), else the file's own name.
pub(crate) fn original_name(file_name: &str, db_name: Option<&str>) -> String {
    let file_name = safe_name(file_name);
    match db_name.map(safe_name) {
        Some(n) if split_ext(&n).1.is_empty() => format!("{n}{}", split_ext(&file_name).1),
        Some(n) => n,
        None => file_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_and_its_companions_share_one_number() {
        let taken = ["IMG_0001.HEIC", "IMG_0001 (2).MOV"];
        let free = |n: &str| !taken.contains(&n);
        let members = [
            (Role::Photo, ".HEIC".to_string()),
            (Role::LiveVideo, ".MOV".to_string()),
            (Role::Edited, ".jpg".to_string()),
        ];
        let stem = free_stem("IMG_0001", ".HEIC", &members, &free);
        assert_eq!(stem, "IMG_0001 (3)");
        assert_eq!(
            member_name(Role::Edited, &stem, ".HEIC", ".jpg"),
            "IMG_0001 (3) (edited).jpg"
        );
        assert_eq!(free_stem("IMG_0002", ".HEIC", &members, &free), "IMG_0002");
    }

    #[test]
    fn original_names_come_from_the_library_and_stay_safe() {
        assert_eq!(
            original_name("5C1A.JPG", Some("IMG_0042.JPG")),
            "IMG_0042.JPG"
        );
        assert_eq!(original_name("5C1A.JPG", Some("holiday")), "holiday.JPG");
        assert_eq!(original_name("IMG_1.HEIC", None), "IMG_1.HEIC");
        assert_eq!(
            original_name("x.JPG", Some("../../etc/passwd")),
            "_.._etc_passwd"
        );
        assert_eq!(split_ext("l7viz.jpg.webp"), ("l7viz.jpg", ".webp"));
        assert_eq!(ext_of("a/FullSizeRender.mov"), ".mov");
    }
}
