//! Lenient reads of SQLite values: Apple's columns hold what their declared type says, but a
//! damaged or foreign database may not, and one odd value must not fail a whole export. A value
//! of another type reads as the type asked for when it converts without loss, else as NULL.

use rusqlite::Row;
use rusqlite::types::ValueRef;

/// Text (blobs as lossy UTF-8, numbers as written).
pub(crate) fn text(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<String>> {
    Ok(match r.get_ref(i)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Null => None,
    })
}

/// A number (Core Data dates are reals; some rows store integers).
pub(crate) fn real(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<f64>> {
    Ok(match r.get_ref(i)? {
        ValueRef::Real(f) => Some(f),
        ValueRef::Integer(n) => Some(n as f64),
        _ => None,
    })
}

pub(crate) fn integer(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<i64>> {
    Ok(match r.get_ref(i)? {
        ValueRef::Integer(n) => Some(n),
        ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(f as i64),
        _ => None,
    })
}

/// A boolean column: anything but 0 or NULL is true.
pub(crate) fn flag(r: &Row<'_>, i: usize) -> rusqlite::Result<bool> {
    Ok(integer(r, i)?.is_some_and(|n| n != 0))
}

pub(crate) fn blob(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    Ok(match r.get_ref(i)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        _ => None,
    })
}
