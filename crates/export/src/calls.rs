//! The phone's call history (`HomeDomain Library/CallHistoryDB/CallHistory.storedata`, Core
//! Data, table `ZCALLRECORD`) as one CSV file (RFC 4180), oldest call first.
//!
//! Columns: `date_utc` (RFC 3339), `date_local` (the household's time zone), `direction`
//! (`incoming`/`outgoing`, from `ZORIGINATED`), `answered` (`yes`/`no`: `ZANSWERED` for an
//! incoming call, which iOS sets on those only; an outgoing call that lasted), `duration_seconds`
//! (rounded to the second) and `duration` (`H:MM:SS`), `number` (`ZADDRESS`, which iOS 13 and
//! 14 store as a BLOB of UTF-8), `name` (`ZNAME`, else the contact's name in the same
//! snapshot's address book), `service` (`Phone`, `FaceTime Audio`, `FaceTime Video`, or the
//! VoIP app's bundle id), `country` (`ZISO_COUNTRY_CODE`) and `location` (`ZLOCATION`).
//!
//! Output: `--out NAME.csv` (one snapshot) writes that file; a folder gets `calls.csv`.

use crate::SnapshotOut;
use crate::cell;
use crate::contacts::ContactNames;
use crate::error::ExportError;
use crate::report::Tally;
use crate::rfc4180::CsvWriter;
use crate::source::Source;
use crate::time::{from_apple_seconds, local_zone, rfc3339};
use jiff::Timestamp;
use jiff::tz::TimeZone;

pub const DOMAIN: &str = "HomeDomain";
pub const CALL_HISTORY: &str = "Library/CallHistoryDB/CallHistory.storedata";
/// The file a folder export writes.
pub const CALLS_CSV: &str = "calls.csv";

pub const HEADER: [&str; 11] = [
    "date_utc",
    "date_local",
    "direction",
    "answered",
    "duration_seconds",
    "duration",
    "number",
    "name",
    "service",
    "country",
    "location",
];

/// `ZCALLTYPE` of a FaceTime video and a FaceTime audio call (a phone call is 1).
const FACETIME_VIDEO: i64 = 8;
const FACETIME_AUDIO: i64 = 16;

/// One `ZCALLRECORD` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub date: Option<Timestamp>,
    pub outgoing: bool,
    pub answered: bool,
    pub duration: f64,
    pub number: Option<String>,
    pub name: Option<String>,
    pub service: String,
    pub country: Option<String>,
    pub location: Option<String>,
}

/// Exports the snapshot's call history into `out`; counts `calls`.
pub(crate) fn export(
    src: &Source<'_>,
    out: &SnapshotOut,
    tally: &mut Tally,
) -> Result<(), ExportError> {
    tally.add("calls", 0);
    let Some(db) = src.database(DOMAIN, CALL_HISTORY)? else {
        return Ok(());
    };
    let calls = read(&db)?;
    if calls.is_empty() && out.file.is_none() {
        return Ok(());
    }
    let names = ContactNames::load_or_none(src, tally);
    let file = out.file.as_deref().unwrap_or(CALLS_CSV);
    let path = out.dir.root().join(file);
    let zone = local_zone();
    out.dir.replace_with(file, |w| {
        let mut csv = CsvWriter::new(w, &path, &HEADER)?;
        for call in &calls {
            csv.record(&record(call, &names, &zone))?;
        }
        Ok(())
    })?;
    tally.add("calls", calls.len() as u64);
    Ok(())
}

/// Every call of the database, oldest first.
pub fn read(db: &crate::Database) -> Result<Vec<Call>, ExportError> {
    let c = db.table("ZCALLRECORD")?;
    let required = ["ZDATE", "ZDURATION", "ZORIGINATED", "ZADDRESS"];
    for col in required {
        c.require(col)?;
    }
    let sql = format!(
        "SELECT ZDATE, ZDURATION, ZORIGINATED, ZADDRESS, {answered}, {name}, {provider}, \
         {call_type}, {country}, {location} FROM ZCALLRECORD ORDER BY ZDATE, Z_PK",
        answered = c.or_null("ZANSWERED"),
        name = c.or_null("ZNAME"),
        provider = c.or_null("ZSERVICE_PROVIDER"),
        call_type = c.or_null("ZCALLTYPE"),
        country = c.or_null("ZISO_COUNTRY_CODE"),
        location = c.or_null("ZLOCATION"),
    );
    let mut stmt = db.conn().prepare(&sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            let provider = cell::text(r, 6)?;
            let call_type = cell::integer(r, 7)?;
            Ok(Call {
                date: cell::number(r, 0)?.and_then(from_apple_seconds),
                duration: cell::number(r, 1)?.unwrap_or(0.0).max(0.0),
                outgoing: cell::integer(r, 2)?.unwrap_or(0) != 0,
                number: cell::text(r, 3)?.map(|n| n.trim().to_string()),
                answered: cell::integer(r, 4)?.unwrap_or(0) != 0,
                name: cell::text(r, 5)?,
                service: service(provider.as_deref(), call_type),
                country: cell::text(r, 8)?,
                location: cell::text(r, 9)?,
            })
        })
        .map_err(|e| db.err(e))?;
    let mut calls: Vec<Call> = rows.collect::<Result<_, _>>().map_err(|e| db.err(e))?;
    // iOS sets ZANSWERED on incoming calls only; an outgoing call was answered when it lasted.
    for c in calls.iter_mut().filter(|c| c.outgoing) {
        c.answered |= c.duration > 0.0;
    }
    Ok(calls)
}

/// What carried the call.
fn service(provider: Option<&str>, call_type: Option<i64>) -> String {
    let facetime = match call_type {
        Some(FACETIME_VIDEO) => "FaceTime Video",
        Some(FACETIME_AUDIO) => "FaceTime Audio",
        _ => "FaceTime",
    };
    match provider {
        Some("com.apple.Telephony") => "Phone".to_string(),
        Some("com.apple.FaceTime") => facetime.to_string(),
        Some(other) => other.to_string(),
        None => match call_type {
            Some(1) => "Phone".to_string(),
            Some(FACETIME_VIDEO | FACETIME_AUDIO) => facetime.to_string(),
            Some(t) => format!("call type {t}"),
            None => String::new(),
        },
    }
}

/// One CSV record of a call (see [`HEADER`]).
pub fn record(call: &Call, names: &ContactNames, zone: &TimeZone) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let seconds = call.duration.round() as u64;
    let name = call
        .name
        .clone()
        .or_else(|| Some(names.name_for(call.number.as_deref()?)?.to_string()));
    vec![
        call.date.map(rfc3339).unwrap_or_default(),
        call.date
            .map(|t| {
                t.to_zoned(zone.clone())
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default(),
        if call.outgoing {
            "outgoing"
        } else {
            "incoming"
        }
        .to_string(),
        if call.answered { "yes" } else { "no" }.to_string(),
        seconds.to_string(),
        format!(
            "{}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        ),
        opt(&call.number),
        name.unwrap_or_default(),
        call.service.clone(),
        opt(&call.country),
        opt(&call.location),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::open;

    #[test]
    fn real_ios14_calls_with_blob_numbers_and_facetime() {
        let db = open(
            "ios-databases/hickman-ios14.3-iphonese/Library/CallHistoryDB/CallHistory.storedata",
            true,
        );
        let calls = read(&db).unwrap();
        assert_eq!(calls.len(), 25);
        assert!(calls.windows(2).all(|w| w[0].date <= w[1].date));
        let total: f64 = calls.iter().map(|c| c.duration).sum();
        assert!((total - 1275.791).abs() < 0.01, "{total}");
        assert_eq!(calls.iter().filter(|c| c.outgoing).count(), 7);
        // 5 incoming calls answered, and the outgoing ones that lasted.
        let answered_in = calls.iter().filter(|c| c.answered && !c.outgoing).count();
        assert_eq!(answered_in, 5);
        assert_eq!(calls.iter().filter(|c| c.answered && c.outgoing).count(), 6);
        let by = |s: &str| calls.iter().filter(|c| c.service == s).count();
        assert_eq!(
            (by("Phone"), by("FaceTime Video"), by("FaceTime Audio")),
            (20, 2, 3)
        );
        assert!(
            calls
                .iter()
                .any(|c| c.number.as_deref() == Some("+19195671775"))
        );
        let first = &calls[0];
        assert_eq!(rfc3339(first.date.unwrap()), "2020-12-18T17:39:01Z");
        let without_wal = open(
            "ios-databases/hickman-ios14.3-iphonese/Library/CallHistoryDB/CallHistory.storedata",
            false,
        );
        assert_eq!(read(&without_wal).unwrap().len(), 23);
    }

    #[test]
    fn a_record_names_the_caller_from_the_address_book() {
        let mut names = ContactNames::default();
        names.insert("(919) 579-0479", "Josh Hickman".into());
        let call = Call {
            date: Some(Timestamp::from_second(1_700_000_000).unwrap()),
            outgoing: false,
            answered: true,
            duration: 3_725.6,
            number: Some("+19195790479".into()),
            name: None,
            service: "Phone".into(),
            country: Some("us".into()),
            location: None,
        };
        let r = record(&call, &names, &TimeZone::UTC);
        assert_eq!(
            r,
            [
                "2023-11-14T22:13:20Z",
                "2023-11-14 22:13:20",
                "incoming",
                "yes",
                "3726",
                "1:02:06",
                "+19195790479",
                "Josh Hickman",
                "Phone",
                "us",
                ""
            ]
        );
    }

    #[test]
    fn a_call_history_of_an_unknown_schema_names_what_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CallHistory.storedata");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE ZCALLRECORD (Z_PK INTEGER PRIMARY KEY, ZDATE TIMESTAMP, ZDURATION FLOAT, ZORIGINATED INTEGER);",
            )
            .unwrap();
        let db = crate::Database::open_copy(
            &path,
            "HomeDomain/Library/CallHistoryDB/CallHistory.storedata",
            "Mum's iPhone",
        )
        .unwrap();
        let err = read(&db).unwrap_err();
        assert!(
            matches!(&err, ExportError::Schema { table, column: Some(c), .. } if table == "ZCALLRECORD" && c == "ZADDRESS"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("column ZADDRESS in table ZCALLRECORD"),
            "{err}"
        );
    }

    #[test]
    fn services_are_named_for_people() {
        assert_eq!(service(Some("com.apple.Telephony"), Some(1)), "Phone");
        assert_eq!(
            service(Some("com.apple.FaceTime"), Some(8)),
            "FaceTime Video"
        );
        assert_eq!(
            service(Some("com.apple.FaceTime"), Some(16)),
            "FaceTime Audio"
        );
        assert_eq!(
            service(Some("net.whatsapp.WhatsApp"), Some(1)),
            "net.whatsapp.WhatsApp"
        );
        assert_eq!(service(None, Some(16)), "FaceTime Audio");
    }
}
