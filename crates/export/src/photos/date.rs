//! A photo's capture date: from Photos.sqlite, else from the file's own metadata (EXIF
//! `DateTimeOriginal` with `OffsetTimeOriginal`, or a QuickTime/MP4 creation date) read with
//! `nom-exif`, else the device's file time.
//!
//! The metadata is read through a seekable reader over the file's stored chunks that hands out
//! at most [`METADATA_READ_MAX`] bytes: a HEIC's or JPEG's EXIF is near its start, and a
//! video's `moov` is reached by seeking over its `mdat`, never by reading it.

use hearth_browse::{FileData, FileReader};
use hearth_repo::Repository;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use nom_exif::{EntryValue, ExifTag, MediaKind, MediaParser, MediaSource, TrackInfoTag};
use std::io::{Read, Seek, SeekFrom};

/// Bytes of a file the metadata reader may hand out in all.
pub(crate) const METADATA_READ_MAX: u64 = 8 << 20;

/// Dates before this are unset fields (QuickTime's 1904, EXIF's zeros), not capture dates.
const PLAUSIBLE_FROM: i64 = 315_532_800; // 1980-01-01

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateSource {
    PhotosDb,
    Exif,
    QuickTime,
    FileTime,
}

impl DateSource {
    pub fn name(self) -> &'static str {
        match self {
            DateSource::PhotosDb => "photos-db",
            DateSource::Exif => "exif",
            DateSource::QuickTime => "quicktime",
            DateSource::FileTime => "file-time",
        }
    }
}

/// When a photo was taken, and the offset from UTC where it was taken, if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capture {
    /// Whole seconds.
    pub time: Timestamp,
    pub offset: Option<Offset>,
    pub source: DateSource,
}

impl Capture {
    pub fn new(time: Timestamp, offset: Option<Offset>, source: DateSource) -> Option<Self> {
        let secs = time.as_second();
        (secs >= PLAUSIBLE_FROM).then(|| Capture {
            time: Timestamp::from_second(secs).unwrap_or(time),
            offset,
            source,
        })
    }

    /// The wall-clock time where it was taken (in `zone` when the offset is not known): what
    /// the `YYYY/MM` folder is named after.
    pub fn wall(&self, zone: &TimeZone) -> DateTime {
        match self.offset {
            Some(o) => o.to_datetime(self.time),
            None => self.time.to_zoned(zone.clone()).datetime(),
        }
    }

    /// `YYYY/MM`.
    pub fn month_folder(&self, zone: &TimeZone) -> String {
        let w = self.wall(zone);
        format!("{:04}/{:02}", w.year(), w.month())
    }

    /// RFC 3339 with the capture's offset (`2021-04-11T15:47:53-05:00`), else in UTC.
    pub fn rfc3339(&self) -> String {
        match self.offset {
            Some(o) => self
                .time
                .to_zoned(TimeZone::fixed(o))
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            None => crate::time::rfc3339(self.time),
        }
    }
}

/// The date the file's own metadata gives, if any. Read failures (a file that is not what its
/// name says, damaged bytes) give `None`: the copy then reports damage, if that was the cause.
pub(crate) fn from_metadata(
    repo: &Repository,
    file: &FileData,
    zone: &TimeZone,
) -> Option<Capture> {
    let reader = BoundedReader::new(FileReader::open(repo, file).ok()?, file.size);
    read_date(reader, zone)
}

/// The capture date in the metadata `reader` gives (a photo's EXIF, a video's `moov`).
fn read_date<R: Read + Seek>(reader: R, zone: &TimeZone) -> Option<Capture> {
    let source = MediaSource::seekable(reader).ok()?;
    let mut parser = MediaParser::new();
    match source.kind() {
        MediaKind::Image => {
            let exif: nom_exif::Exif = parser.parse_exif(source).ok()?.into();
            let value = exif
                .get(ExifTag::DateTimeOriginal)
                .or_else(|| exif.get(ExifTag::CreateDate))?;
            capture_of(value, zone, DateSource::Exif)
        }
        MediaKind::Track => {
            let track = parser.parse_track(source).ok()?;
            capture_of(
                track.get(TrackInfoTag::CreateDate)?,
                zone,
                DateSource::QuickTime,
            )
        }
    }
}

/// A date value of nom-exif as a capture: with its offset, or a wall time read in `zone`.
fn capture_of(value: &EntryValue, zone: &TimeZone, source: DateSource) -> Option<Capture> {
    match value {
        EntryValue::DateTime(t) => {
            let time = Timestamp::from_second(t.timestamp()).ok()?;
            let offset = Offset::from_seconds(t.offset().local_minus_utc()).ok();
            // A QuickTime `mvhd` date is UTC with no zone: say so by having no offset.
            let offset = offset.filter(|o| source == DateSource::Exif || o.seconds() != 0);
            Capture::new(time, offset, source)
        }
        EntryValue::NaiveDateTime(t) => {
            let text = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            let wall: DateTime = text.parse().ok()?;
            let time = zone.to_ambiguous_timestamp(wall).compatible().ok()?;
            Capture::new(time, None, source)
        }
        EntryValue::Text(s) => {
            let wall: DateTime = s
                .trim()
                .replacen(':', "-", 2)
                .replacen(' ', "T", 1)
                .parse()
                .ok()?;
            let time = zone.to_ambiguous_timestamp(wall).compatible().ok()?;
            Capture::new(time, None, source)
        }
        _ => None,
    }
}

/// `Read + Seek` over a stored file that hands out at most [`METADATA_READ_MAX`] bytes in all,
/// then fails: a parser led astray by a hostile file cannot read a whole video into memory.
struct BoundedReader<'r> {
    inner: FileReader<'r>,
    size: u64,
    pos: u64,
    handed_out: u64,
}

impl<'r> BoundedReader<'r> {
    fn new(inner: FileReader<'r>, size: u64) -> Self {
        Self {
            inner,
            size,
            pos: 0,
            handed_out: 0,
        }
    }
}

impl Read for BoundedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = METADATA_READ_MAX.saturating_sub(self.handed_out);
        if left == 0 {
            return Err(std::io::Error::other(
                "the metadata reader's byte budget is spent",
            ));
        }
        let want = buf.len().min(left as usize).min(1 << 20);
        let n = self
            .inner
            .read_at(self.pos, &mut buf[..want])
            .map_err(std::io::Error::other)?;
        self.pos += n as u64;
        self.handed_out += n as u64;
        Ok(n)
    }
}

impl Seek for BoundedReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_follow_the_wall_clock_where_the_photo_was_taken() {
        // 2021-04-11 20:47:53 UTC, taken at -05:00: April 11th, 15:47 there.
        let t = Timestamp::from_second(1_618_174_073).unwrap();
        let c = Capture::new(
            t,
            Some(Offset::from_seconds(-5 * 3600).unwrap()),
            DateSource::Exif,
        )
        .unwrap();
        assert_eq!(c.rfc3339(), "2021-04-11T15:47:53-05:00");
        assert_eq!(c.month_folder(&TimeZone::UTC), "2021/04");
        // New Year's Eve in Sydney is still December there.
        let nye = Timestamp::from_second(1_704_027_600).unwrap(); // 2023-12-31T13:00:00Z
        let sydney = Capture::new(
            nye,
            Some(Offset::from_hours(11).unwrap()),
            DateSource::PhotosDb,
        )
        .unwrap();
        assert_eq!(sydney.month_folder(&TimeZone::UTC), "2024/01");
        let later = Capture::new(
            nye,
            Some(Offset::from_hours(-5).unwrap()),
            DateSource::PhotosDb,
        )
        .unwrap();
        assert_eq!(later.month_folder(&TimeZone::UTC), "2023/12");
        let unknown = Capture::new(nye, None, DateSource::FileTime).unwrap();
        assert_eq!(unknown.rfc3339(), "2023-12-31T13:00:00Z");
        assert!(Capture::new(Timestamp::UNIX_EPOCH, None, DateSource::FileTime).is_none());
    }

    /// A QuickTime movie as an iPhone writes it: `ftyp qt`, the `mdat` first (skipped by
    /// seeking), then a `moov` whose `mvhd` holds the creation time (seconds since 1904).
    fn movie(created_unix: u32) -> Vec<u8> {
        fn atom(kind: &[u8], body: &[u8]) -> Vec<u8> {
            let len = u32::try_from(8 + body.len()).unwrap();
            let mut a = len.to_le_bytes().iter().rev().copied().collect::<Vec<u8>>();
            a.extend_from_slice(kind);
            a.extend_from_slice(body);
            a
        }
        let be = |v: u32| v.to_le_bytes().iter().rev().copied().collect::<Vec<u8>>();
        let since_1904 = created_unix + 2_082_844_800;
        let mut mvhd = vec![0u8; 4];
        mvhd.extend(be(since_1904));
        mvhd.extend(be(since_1904));
        mvhd.extend(be(600));
        mvhd.extend(be(600 * 3));
        mvhd.extend([0, 1, 0, 0, 1, 0]);
        mvhd.extend([0u8; 10]);
        for v in [0x10000u32, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000] {
            mvhd.extend(be(v));
        }
        mvhd.extend([0u8; 24]);
        mvhd.extend(be(2));
        let mut out = atom(b"ftyp", b"qt  \0\0\0\0qt  ");
        out.extend(atom(b"mdat", &vec![0xAB; 100_000]));
        out.extend(atom(b"moov", &atom(b"mvhd", &mvhd)));
        out
    }

    #[test]
    fn a_movies_creation_time_comes_from_its_moov_past_the_mdat() {
        let bytes = movie(1_618_174_073);
        let c = read_date(std::io::Cursor::new(bytes), &TimeZone::UTC).unwrap();
        assert_eq!(c.source, DateSource::QuickTime);
        assert_eq!(crate::time::rfc3339(c.time), "2021-04-11T20:47:53Z");
        assert_eq!(c.offset, None, "an mvhd time has no zone");
        assert!(read_date(std::io::Cursor::new(b"not media".to_vec()), &TimeZone::UTC).is_none());
    }

    #[test]
    fn exif_text_dates_read_in_the_zone() {
        let v = EntryValue::Text("2020:07:01 10:00:00".into());
        let c = capture_of(
            &v,
            &TimeZone::fixed(Offset::from_hours(2).unwrap()),
            DateSource::Exif,
        )
        .unwrap();
        assert_eq!(crate::time::rfc3339(c.time), "2020-07-01T08:00:00Z");
        assert_eq!(c.offset, None);
    }
}
