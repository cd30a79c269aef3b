//! Reading a snapshot's files back as plaintext: whole files in order ([`copy_file`], through a
//! span reader shared by the files of one job) and any range of one file ([`FileReader`], for
//! the mounted view).
//!
//! Invariant: a file reads as the first `size` bytes of its stored chunks, never more; stored
//! bytes shorter than `size` are an error, not a short file.

use crate::error::BrowseError;
use crate::files::FileData;
use hearth_format::ChunkId;
use hearth_repo::{RepoError, Repository, SPAN_MAX, SpanReader};
use std::io::Write;

/// Writes the plaintext of `file` (shown as `path` in errors) to `out`, reading its chunks
/// through `spans` (planned for them, among others).
pub fn copy_file(
    spans: &SpanReader<'_>,
    file: &FileData,
    path: &str,
    out: &mut dyn Write,
) -> Result<u64, BrowseError> {
    let mut left = file.size;
    spans
        .read_blobs(&file.chunks, |blob| {
            let take = (blob.len() as u64).min(left) as usize;
            left -= take as u64;
            out.write_all(&blob[..take])
                .map_err(|e| BrowseError::Write(format!("{path}: {e}")))
        })
        .map_err(|e| match e {
            BrowseError::Repo(source) if source.is_damage() => BrowseError::Damaged {
                path: path.to_string(),
                source,
            },
            other => other,
        })?;
    match left {
        0 => Ok(file.size),
        _ => Err(BrowseError::Short {
            path: path.to_string(),
            stored: file.size - left,
            expected: file.size,
        }),
    }
}

/// One file read at any offset. Reads that go forward (the usual case: a program copying the
/// file) go through a span reader planned for the file's chunks, which fetches neighbouring
/// chunks with one request and keeps at most [`SPAN_MAX`] bytes of them besides the one being
/// read; a read that goes back reads its chunk alone. One chunk is kept between reads.
pub struct FileReader<'r> {
    repo: &'r Repository,
    chunks: Box<[ChunkId]>,
    /// Where each chunk ends in the stored bytes.
    ends: Vec<u64>,
    size: u64,
    /// Made at the first read.
    spans: Option<SpanReader<'r>>,
    /// The first chunk the span reader has not handed out yet.
    next: usize,
    current: Option<(usize, Vec<u8>)>,
}

impl<'r> FileReader<'r> {
    /// A reader of `file`: its chunks' lengths come from the index.
    pub fn open(repo: &'r Repository, file: &FileData) -> Result<Self, BrowseError> {
        let index = repo.cache().reader().map_err(RepoError::from)?;
        let mut ends = Vec::with_capacity(file.chunks.len());
        let mut end = 0u64;
        for id in &file.chunks {
            let loc = index
                .lookup(id)
                .map_err(RepoError::from)?
                .ok_or(RepoError::MissingBlob { blob: *id })?;
            end += u64::from(loc.entry.raw_length);
            ends.push(end);
        }
        Ok(Self {
            repo,
            chunks: file.chunks.clone(),
            ends,
            size: file.size,
            spans: None,
            next: 0,
            current: None,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Fills `buf` from `offset`; fewer bytes only at the end of the file.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, BrowseError> {
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            if at >= self.size {
                break;
            }
            let i = self.ends.partition_point(|&end| end <= at);
            if i == self.chunks.len() {
                return Err(BrowseError::Short {
                    path: format!(
                        "blob {}",
                        self.chunks.last().map_or(String::new(), |c| c.to_hex())
                    ),
                    stored: self.ends.last().copied().unwrap_or(0),
                    expected: self.size,
                });
            }
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            let size = self.size;
            let chunk = self.chunk(i)?;
            let from = (at - start) as usize;
            let until = chunk.len().min((size - start) as usize);
            let n = (until - from).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&chunk[from..from + n]);
            done += n;
        }
        Ok(done)
    }

    /// Chunk `i`'s plaintext, checked against the length the index gives it.
    fn chunk(&mut self, i: usize) -> Result<&[u8], BrowseError> {
        if self.current.as_ref().is_none_or(|(c, _)| *c != i) {
            let id = self.chunks[i];
            let data = if i >= self.next {
                if self.spans.is_none() {
                    self.spans = Some(self.repo.span_reader_within(&self.chunks, SPAN_MAX)?);
                }
                let spans = self.spans.as_ref().expect("made above");
                let mut data = self.current.take().map(|(_, d)| d).unwrap_or_default();
                data.clear();
                spans.read_blobs(&self.chunks[i..=i], |b| {
                    data.extend_from_slice(b);
                    Ok::<_, RepoError>(())
                })?;
                self.next = i + 1;
                data
            } else {
                self.repo.read_blob(&id)?
            };
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            if data.len() as u64 != self.ends[i] - start {
                return Err(RepoError::Corrupt {
                    object: format!("blob {}", id.to_hex()),
                    detail: format!(
                        "{} bytes, the index says {}",
                        data.len(),
                        self.ends[i] - start
                    ),
                }
                .into());
            }
            self.current = Some((i, data));
        }
        Ok(&self.current.as_ref().expect("set above").1)
    }
}
