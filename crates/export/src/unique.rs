//! File names made unique within one export folder, by the data alone (`Mum.vcf`,
//! `Mum (2).vcf`, ...): the same data gives the same names on every run, so a second export
//! rewrites its files instead of adding numbered copies beside them.

use crate::out::safe_name;
use std::collections::HashSet;

/// `<text>.<ext>` for a name a device wrote (a contact's, a caller's): [`safe_name`], without
/// the dots and spaces it may end with (`Apple Inc.` gives `Apple Inc.vcf`, not
/// `Apple Inc..vcf`; Windows drops a trailing dot).
pub(crate) fn file_name(text: &str, ext: &str) -> String {
    let stem = safe_name(text);
    match stem.trim_end_matches(['.', ' ']) {
        "" => format!("_.{ext}"),
        s => format!("{s}.{ext}"),
    }
}

/// Names given so far, compared without case: a Mac's disk does not tell `Mum.vcf` from
/// `mum.vcf`.
#[derive(Debug, Default)]
pub(crate) struct UniqueNames {
    taken: HashSet<String>,
}

impl UniqueNames {
    /// Names given so far: `names` (for example the export's own `index`).
    pub(crate) fn reserving(names: &[&str]) -> Self {
        Self {
            taken: names.iter().map(|n| n.to_lowercase()).collect(),
        }
    }

    /// `name` if no name given so far is it, else `stem (2).ext`, `stem (3).ext`, ...
    pub(crate) fn take(&mut self, name: &str) -> String {
        match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => self.numbered(stem, &format!(".{ext}")),
            _ => self.numbered(name, ""),
        }
    }

    /// `stem` if no name given so far is it, else `stem (2)`, `stem (3)`, ...: for names that
    /// get several extensions (a conversation's `.html`, `.txt` and `.json`), whose dots are
    /// part of the name (`Mr. Smith`).
    pub(crate) fn take_stem(&mut self, stem: &str) -> String {
        self.numbered(stem, "")
    }

    fn numbered(&mut self, stem: &str, ext: &str) -> String {
        let chosen = std::iter::once(format!("{stem}{ext}"))
            .chain((2..).map(|i| format!("{stem} ({i}){ext}")))
            .find(|n| !self.taken.contains(&n.to_lowercase()))
            .unwrap_or_default();
        self.taken.insert(chosen.to_lowercase());
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_device_text_end_in_their_extension() {
        assert_eq!(file_name("Apple Inc.", "vcf"), "Apple Inc.vcf");
        assert_eq!(file_name("Mum", "vcf"), "Mum.vcf");
        assert_eq!(file_name("...", "vcf"), "_.vcf");
        assert_eq!(
            file_name("2024-05-01 1803 +44 7700 900123", "amr"),
            "2024-05-01 1803 +44 7700 900123.amr"
        );
        assert_eq!(file_name("a/b", "vcf"), "a_b.vcf");
    }

    #[test]
    fn stems_keep_their_dots_and_reserved_names_are_taken() {
        let mut names = UniqueNames::reserving(&["index"]);
        assert_eq!(names.take_stem("Mr. Smith"), "Mr. Smith");
        assert_eq!(names.take_stem("mr. smith"), "mr. smith (2)");
        assert_eq!(names.take_stem("Index"), "Index (2)");
    }

    #[test]
    fn names_are_unique_without_case() {
        let mut names = UniqueNames::default();
        names.take("contacts.vcf");
        assert_eq!(names.take("Mum.vcf"), "Mum.vcf");
        assert_eq!(names.take("mum.vcf"), "mum (2).vcf");
        assert_eq!(names.take("Mum.vcf"), "Mum (3).vcf");
        assert_eq!(names.take("Contacts.vcf"), "Contacts (2).vcf");
        assert_eq!(names.take("README"), "README");
        assert_eq!(names.take("README"), "README (2)");
    }
}
