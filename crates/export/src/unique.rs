//! File names made unique within one export folder, by the data alone (`Mum.vcf`,
//! `Mum (2).vcf`, ...): the same data gives the same names on every run, so a second export
//! rewrites its files instead of adding numbered copies beside them.

use std::collections::HashSet;

/// Names given so far, compared without case: a Mac's disk does not tell `Mum.vcf` from
/// `mum.vcf`.
#[derive(Debug, Default)]
pub(crate) struct UniqueNames {
    taken: HashSet<String>,
}

impl UniqueNames {
    /// `name` if no name given so far is it, else `stem (2).ext`, `stem (3).ext`, ...
    pub(crate) fn take(&mut self, name: &str) -> String {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
            _ => (name, String::new()),
        };
        let chosen = std::iter::once(name.to_string())
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
