//! `dump`: one file of a snapshot as its plaintext bytes, or a folder as a `tar` or `zip`
//! stream of its subtree, written to any writer (a pipe included: neither format seeks).
//!
//! Archive members are named by their path from the snapshot's root
//! (`CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.HEIC`), with their mtimes and permission
//! bits. Every folder comes first, by path; then the files, in the order their bytes lie in the
//! packs (not by path: a folder of thousands of small files would fetch each span many times). The files' bytes are read through one span
//! reader planned for the whole subtree, so a folder of thousands of small files costs few
//! requests.

use crate::error::BrowseError;
use crate::files::{FileData, NodeId, NodeKind, SnapshotFiles};
use crate::read::copy_file;
use hearth_format::ChunkId;
use hearth_repo::{Progress, Repository};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    Tar,
    Zip,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpReport {
    pub files: u64,
    pub folders: u64,
    pub bytes: u64,
}

/// How many of the closest existing paths a "not found" error names.
const CLOSEST: usize = 5;

/// The node a user's path names: `Domain/relative/path`, a backup folder file's path
/// (`Manifest.db`), or a Manifest.db file id (40 hex digits).
pub fn locate(files: &SnapshotFiles, path: &str) -> Result<NodeId, BrowseError> {
    if let Some(id) = files.lookup(path) {
        return Ok(id);
    }
    let is_file_id = path.len() == 40 && path.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(id) = is_file_id.then(|| files.by_file_id(path)).flatten() {
        return Ok(id);
    }
    Err(BrowseError::NotFound {
        device: files.device().to_string(),
        path: path.to_string(),
        closest: files.closest(path, CLOSEST),
    })
}

/// Writes the plaintext of the file `node` to `out`; a folder is refused (see [`dump_archive`]).
pub fn dump_file(
    repo: &Repository,
    files: &SnapshotFiles,
    node: NodeId,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<u64, BrowseError> {
    let Some(file) = files.file(node) else {
        return Err(BrowseError::IsAFolder {
            device: files.device().to_string(),
            path: files.path(node),
        });
    };
    let spans = repo.span_reader(&file.chunks)?;
    progress.start("dump", Some(file.size));
    let mut counted = Counted { out, progress };
    let n = copy_file(&spans, file, &files.path(node), &mut counted)?;
    progress.finish();
    Ok(n)
}

/// A writer that reports the bytes written through it.
struct Counted<'a> {
    out: &'a mut dyn Write,
    progress: &'a dyn Progress,
}

impl Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Writes the subtree of `node` (a folder or a single file) as an archive to `out`.
pub fn dump_archive(
    repo: &Repository,
    files: &SnapshotFiles,
    node: NodeId,
    format: ArchiveFormat,
    out: &mut dyn Write,
    progress: &dyn Progress,
) -> Result<DumpReport, BrowseError> {
    let mut nodes: Vec<NodeId> = files
        .walk(node)
        .filter(|&n| n != SnapshotFiles::ROOT)
        .collect();
    let mut chunks: Vec<ChunkId> = Vec::new();
    let mut total = 0;
    for f in nodes.iter().filter_map(|&n| files.file(n)) {
        chunks.extend_from_slice(&f.chunks);
        total += f.size;
    }
    let spans = repo.span_reader(&chunks)?;
    // Folders first, by path; then the files in the order their bytes lie in the packs, so
    // that each span is fetched about once.
    nodes.sort_by_cached_key(|&n| match files.file(n) {
        None => (false, 0),
        Some(f) => (true, spans.first_span(&f.chunks)),
    });
    progress.start("dump", Some(total));
    let mut report = DumpReport::default();
    let mut archive = Archive::new(format, out);
    for n in nodes {
        let path = files.path(n);
        let member = Member {
            path: &path,
            mtime_ns: files.node(n).mtime_ns,
        };
        match &files.node(n).kind {
            NodeKind::Folder(_) => {
                archive.folder(&member)?;
                report.folders += 1;
            }
            NodeKind::File(f) => {
                archive.file(&member, f, |w| copy_file(&spans, f, &path, w))?;
                report.files += 1;
                report.bytes += f.size;
                progress.advance(f.size);
            }
        }
    }
    archive.finish()?;
    progress.finish();
    Ok(report)
}

struct Member<'a> {
    path: &'a str,
    mtime_ns: i128,
}

impl Member<'_> {
    /// Whole seconds since 1970, clamped to what the formats hold from there on.
    fn mtime_secs(&self) -> u64 {
        u64::try_from(self.mtime_ns.div_euclid(1_000_000_000)).unwrap_or(0)
    }
}

enum Archive<'w> {
    Tar(tar::Builder<&'w mut dyn Write>),
    Zip(Box<zip::ZipWriter<zip::write::StreamWriter<&'w mut dyn Write>>>),
}

fn archive_err(path: &str) -> impl Fn(std::fmt::Arguments<'_>) -> BrowseError + '_ {
    move |what| BrowseError::Write(format!("{path}: {what}"))
}

impl<'w> Archive<'w> {
    fn new(format: ArchiveFormat, out: &'w mut dyn Write) -> Self {
        match format {
            ArchiveFormat::Tar => {
                let mut b = tar::Builder::new(out);
                b.mode(tar::HeaderMode::Complete);
                Archive::Tar(b)
            }
            ArchiveFormat::Zip => Archive::Zip(Box::new(zip::ZipWriter::new_stream(out))),
        }
    }

    fn folder(&mut self, m: &Member<'_>) -> Result<(), BrowseError> {
        let err = archive_err(m.path);
        match self {
            Archive::Tar(b) => {
                let mut h = tar_header(m, tar::EntryType::Directory, 0o755, 0);
                b.append_data(&mut h, format!("{}/", m.path), std::io::empty())
                    .map_err(|e| err(format_args!("{e}")))
            }
            Archive::Zip(z) => z
                .add_directory(format!("{}/", m.path), zip_options(m, 0o755, 0))
                .map_err(|e| err(format_args!("{e}"))),
        }
    }

    /// A file member; `body` writes its `f.size` bytes.
    fn file(
        &mut self,
        m: &Member<'_>,
        f: &FileData,
        body: impl FnOnce(&mut dyn Write) -> Result<u64, BrowseError>,
    ) -> Result<(), BrowseError> {
        let err = archive_err(m.path);
        match self {
            Archive::Tar(b) => {
                // The header (and a long name's extension) first, then the bytes straight from
                // the span reader, then the padding to the next 512-byte block.
                let mut h = tar_header(m, tar::EntryType::Regular, f.mode, f.size);
                b.append_data(&mut h, m.path, std::io::empty())
                    .map_err(|e| err(format_args!("{e}")))?;
                let out = b.get_mut();
                body(out)?;
                let pad = (512 - f.size % 512) % 512;
                out.write_all(&[0; 512][..pad as usize])
                    .map_err(|e| err(format_args!("{e}")))
            }
            Archive::Zip(z) => {
                z.start_file(m.path, zip_options(m, f.mode, f.size))
                    .map_err(|e| err(format_args!("{e}")))?;
                body(z.as_mut()).map(drop)
            }
        }
    }

    fn finish(self) -> Result<(), BrowseError> {
        let err = |e: &dyn std::fmt::Display| BrowseError::Write(e.to_string());
        match self {
            Archive::Tar(b) => b.into_inner().map(drop).map_err(|e| err(&e)),
            Archive::Zip(z) => z.finish().map(drop).map_err(|e| err(&e)),
        }
    }
}

fn tar_header(m: &Member<'_>, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode & 0o777);
    h.set_mtime(m.mtime_secs());
    h.set_size(size);
    h
}

/// Extensions of files that are compressed already: stored as they are.
const COMPRESSED: &[&str] = &[
    "heic", "heif", "jpg", "jpeg", "png", "gif", "mov", "mp4", "m4v", "m4a", "mp3", "aac", "caf",
    "zip", "gz", "webp", "avif",
];

fn zip_options(m: &Member<'_>, mode: u32, size: u64) -> zip::write::SimpleFileOptions {
    let ext = m.path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let method = match ext.as_deref().is_some_and(|e| COMPRESSED.contains(&e)) {
        true => zip::CompressionMethod::Stored,
        false => zip::CompressionMethod::Deflated,
    };
    let mut options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .unix_permissions(mode & 0o777)
        .large_file(size >= u64::from(u32::MAX));
    if let Some(t) = zip_time(m.mtime_ns) {
        options = options.last_modified_time(t);
    }
    options
}

/// The local wall-clock time of `mtime_ns`, as zip keeps it (1980 to 2107, two seconds apart).
fn zip_time(mtime_ns: i128) -> Option<zip::DateTime> {
    let secs = i64::try_from(mtime_ns.div_euclid(1_000_000_000)).ok()?;
    let t = jiff::Timestamp::from_second(secs).ok()?;
    let zone = jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
    let d = t.to_zoned(zone).datetime();
    zip::DateTime::from_date_and_time(
        u16::try_from(d.year()).ok()?,
        d.month() as u8,
        d.day() as u8,
        d.hour() as u8,
        d.minute() as u8,
        d.second() as u8,
    )
    .ok()
}
