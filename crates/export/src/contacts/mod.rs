//! The address book (`HomeDomain Library/AddressBook/AddressBook.sqlitedb`): contacts as vCards,
//! and the names other exports show for phone numbers and e-mail addresses.

mod names;

pub use names::{ContactNames, normalize_handle};
