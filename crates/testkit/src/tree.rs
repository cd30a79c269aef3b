//! Folder helpers for tests: list, copy and digest a tree, set a file's mtime.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::content::plists::unix_time;
use crate::error::{Context, Error};

/// Length and lower-case SHA-1 hex of one file.
pub type FileDigest = (u64, String);

/// Every regular file under `dir`, by path relative to `dir` (`/`-separated), with its length
/// and SHA-1. Two folders are byte-identical iff their digests are equal.
pub fn tree_digest(dir: &Path) -> Result<BTreeMap<String, FileDigest>, Error> {
    let mut out = BTreeMap::new();
    walk(dir, "", &mut |rel, path| {
        out.insert(rel.to_owned(), file_digest(path)?);
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f(relative path, absolute path)` for every regular file under `dir`, in name order.
pub(crate) fn walk(
    dir: &Path,
    prefix: &str,
    f: &mut dyn FnMut(&str, &Path) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .at(dir)?
        .collect::<Result<_, _>>()
        .at(dir)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type().at(&path)?;
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), f)?;
        } else if kind.is_file() {
            f(&rel, &path)?;
        }
    }
    Ok(())
}

fn file_digest(path: &Path) -> Result<FileDigest, Error> {
    let mut file = File::open(path).at(path)?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hex::encode(hasher.finalize())))
}

/// Every regular file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).at(&d)? {
            let e = e.at(&d)?;
            let t = e.file_type().at(e.path())?;
            if t.is_dir() {
                dirs.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Copies every file and folder under `src` into `dst` (created if missing), keeping mtimes.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<(), Error> {
    fs::create_dir_all(dst).at(dst)?;
    for entry in fs::read_dir(src).at(src)? {
        let entry = entry.at(src)?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        if entry.file_type().at(&from)?.is_dir() {
            copy_tree(&from, &to)?;
        } else {
            fs::copy(&from, &to).at(&to)?;
            let mtime = fs::metadata(&from).and_then(|m| m.modified()).at(&from)?;
            File::options()
                .write(true)
                .open(&to)
                .and_then(|f| f.set_modified(mtime))
                .at(&to)?;
        }
    }
    Ok(())
}

/// Sets a file's modification time to `secs` after the Unix epoch.
pub fn set_mtime(path: &Path, secs: i64) -> Result<(), Error> {
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(unix_time(secs)))
        .at(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_then_digest_is_identical_and_keeps_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a");
        fs::create_dir_all(src.join("x/y")).unwrap();
        fs::write(src.join("x/y/f"), b"hello").unwrap();
        fs::write(src.join("g"), b"").unwrap();
        set_mtime(&src.join("g"), 1_000_000).unwrap();
        let dst = dir.path().join("b");
        copy_tree(&src, &dst).unwrap();
        let d = tree_digest(&dst).unwrap();
        assert_eq!(d, tree_digest(&src).unwrap());
        assert_eq!(d["x/y/f"].0, 5);
        let m = fs::metadata(dst.join("g")).unwrap().modified().unwrap();
        assert_eq!(m, unix_time(1_000_000));
    }
}
