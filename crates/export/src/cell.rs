//! One SQLite cell read whatever its storage class. Apple's databases do not always store what
//! their schema declares (`CallHistory.storedata` keeps the `VARCHAR`-looking `ZADDRESS` as a
//! BLOB of UTF-8 bytes), and SQLite lets any column hold any class, so exporters read text and
//! numbers through these instead of `row.get::<String>`, which fails on a BLOB.

use rusqlite::Row;
use rusqlite::types::ValueRef;

/// The cell as text: TEXT as is, a BLOB as UTF-8 (invalid bytes replaced), a number written
/// out; `None` for NULL and for empty or blank text.
pub(crate) fn text(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<String>> {
    let s = match row.get_ref(idx)? {
        ValueRef::Null => return Ok(None),
        ValueRef::Text(b) | ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
    };
    Ok((!s.trim().is_empty()).then_some(s))
}

/// The cell as a number: INTEGER or REAL, or TEXT that parses as one; `None` otherwise.
pub(crate) fn number(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<f64>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok()),
        ValueRef::Null | ValueRef::Blob(_) => None,
    }
    .filter(|f| f.is_finite()))
}

/// The cell as an integer (a REAL rounded toward zero); `None` when it is not a number.
pub(crate) fn integer(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<i64>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Integer(i) => Some(i),
        _ => number(row, idx)?.map(|f| f as i64),
    })
}

/// A boolean column: any number but 0 is true; NULL and non-numbers are false.
pub(crate) fn flag(row: &Row<'_>, idx: usize) -> rusqlite::Result<bool> {
    Ok(integer(row, idx)?.is_some_and(|n| n != 0))
}

/// The cell as bytes: a BLOB or TEXT; `None` for NULL, numbers and empty values.
pub(crate) fn bytes(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Vec<u8>>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Blob(b) | ValueRef::Text(b) if !b.is_empty() => Some(b.to_vec()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn every_storage_class_reads_as_text_and_numbers() {
        let db = Connection::open_in_memory().unwrap();
        let row = |sql: &str| -> (Option<String>, Option<f64>, Option<i64>, Option<Vec<u8>>) {
            db.query_row(sql, [], |r| {
                Ok((text(r, 0)?, number(r, 0)?, integer(r, 0)?, bytes(r, 0)?))
            })
            .unwrap()
        };
        let (t, n, i, b) = row("SELECT x'2B3139313935363731373735'");
        assert_eq!(t.as_deref(), Some("+19195671775"));
        assert_eq!((n, i), (None, None));
        assert_eq!(b.as_deref(), Some(&b"+19195671775"[..]));
        assert_eq!(row("SELECT x'FF41'").0.as_deref(), Some("\u{FFFD}A"));
        assert_eq!(row("SELECT NULL"), (None, None, None, None));
        assert_eq!(row("SELECT '  '").0, None);
        let (t, n, i, _) = row("SELECT 546.83");
        assert_eq!(
            (t.as_deref(), n, i),
            (Some("546.83"), Some(546.83), Some(546))
        );
        assert_eq!(row("SELECT '-1234.5'").1, Some(-1234.5));
        assert_eq!(row("SELECT 7").2, Some(7));
        let flag_of = |sql: &str| db.query_row(sql, [], |r| flag(r, 0)).unwrap();
        assert!(flag_of("SELECT 1") && flag_of("SELECT 2.0"));
        assert!(!flag_of("SELECT 0") && !flag_of("SELECT NULL") && !flag_of("SELECT x'01'"));
    }
}
