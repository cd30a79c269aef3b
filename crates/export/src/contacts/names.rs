//! Who a phone number or e-mail address is, by the same snapshot's address book: how Messages,
//! calls and WhatsApp show senders.

use super::book::{AddressBook, Person, property};
use crate::error::ExportError;
use crate::report::Tally;
use crate::source::Source;
use std::collections::HashMap;

/// Phone numbers compare by their last this many digits, so `+1 (919) 555-0100`, `9195550100`
/// and `+19195550100` are one number (country and trunk prefixes differ in how they are saved).
const PHONE_DIGITS: usize = 9;

#[derive(Debug, Default, Clone)]
pub struct ContactNames {
    by_handle: HashMap<String, String>,
}

impl ContactNames {
    /// The names in the snapshot's address book; empty when it has none.
    pub fn load(src: &Source<'_>) -> Result<Self, ExportError> {
        match AddressBook::open(src)? {
            Some(book) => Ok(Self::of(&book.people()?)),
            None => Ok(Self::default()),
        }
    }

    /// The names of `people`, by their phone numbers and e-mail addresses.
    pub fn of(people: &[Person]) -> Self {
        let mut names = Self::default();
        for p in people {
            let name = display_name(
                p.first.clone(),
                p.last.clone(),
                p.organization.clone(),
                p.nickname.clone(),
            );
            let Some(name) = name else { continue };
            for v in p.of(property::PHONE).chain(p.of(property::EMAIL)) {
                if let Some(handle) = &v.value {
                    names.insert(handle, name.clone());
                }
            }
        }
        names
    }

    /// The names in the snapshot's address book, or none (with a warning saying why) when it
    /// cannot be read: names are a help to the other exports, never a reason to fail them.
    pub fn load_or_none(src: &Source<'_>, tally: &mut Tally) -> Self {
        Self::load(src).unwrap_or_else(|e| {
            tally.warn(format!(
                "shown by number or address, without contact names: {e}"
            ));
            Self::default()
        })
    }

    /// Records that `handle` (a phone number or e-mail address) is `name`; the first name given
    /// for a handle stays.
    pub fn insert(&mut self, handle: &str, name: String) {
        if let Some(key) = normalize_handle(handle) {
            self.by_handle.entry(key).or_insert(name);
        }
    }

    /// The contact's name for `handle`, if the address book has one.
    pub fn name_for(&self, handle: &str) -> Option<&str> {
        self.by_handle
            .get(&normalize_handle(handle)?)
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_handle.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_handle.is_empty()
    }
}

/// How a person is shown: first and last name, else the organisation, else the nickname.
pub fn display_name(
    first: Option<String>,
    last: Option<String>,
    organization: Option<String>,
    nickname: Option<String>,
) -> Option<String> {
    let full: Vec<String> = [first, last]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if !full.is_empty() {
        return Some(full.join(" "));
    }
    [organization, nickname]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
}

/// The key a handle is compared by: an e-mail address in lower case, a phone number by its last
/// [`PHONE_DIGITS`] digits (all of them when shorter, as short codes are); `None` for text with
/// neither.
pub fn normalize_handle(handle: &str) -> Option<String> {
    let handle = handle.trim();
    if handle.contains('@') {
        return Some(handle.to_lowercase());
    }
    let digits: String = handle.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        0 => None,
        n => Some(digits[n.saturating_sub(PHONE_DIGITS)..].to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_number_written_many_ways_is_one_handle() {
        let mut names = ContactNames::default();
        names.insert("+1 (919) 555-0100", "Mum".into());
        for h in [
            "9195550100",
            "+19195550100",
            "(919) 555-0100",
            "1-919-555-0100",
        ] {
            assert_eq!(names.name_for(h), Some("Mum"), "{h}");
        }
        assert_eq!(names.name_for("+1 (919) 555-0101"), None);
        names.insert("Dad@Example.org", "Dad".into());
        assert_eq!(names.name_for("dad@example.org"), Some("Dad"));
        assert_eq!(names.name_for("no digits"), None);
    }

    #[test]
    fn a_person_is_shown_by_name_else_organisation() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(display_name(s("Liz"), None, None, None), s("Liz"));
        assert_eq!(
            display_name(s("This"), s("DFIR"), s("Org"), None),
            s("This DFIR")
        );
        assert_eq!(
            display_name(None, s(" "), s("Apple Inc."), None),
            s("Apple Inc.")
        );
        assert_eq!(display_name(None, None, None, None), None);
    }
}
