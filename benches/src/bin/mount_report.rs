//! Listing and reading through `hearth mount` at real size: a device of about 200,000 files
//! (`HouseholdSpec::real`'s first device, its small files raised to FILES, with one large
//! video) backed up, then mounted by the real `hearth` binary and read through the kernel with
//! std::fs, as any program would.
//!
//! Usage: `cargo build --release -p hearth-cli && cargo run -p hearth-benches --release --bin
//! mount_report -- [FILES [VIDEO_BYTES [WORKDIR]]]` (default 200000 files, a 256 MB video, the
//! system's temporary folder). `HEARTH_BIN` names the binary (default: `hearth` beside this
//! one). Needs FUSE (/dev/fuse, and fusermount when not root).
//!
//! Printed, each on a fresh mount (a new process: nothing cached, in it or in the kernel):
//! - the first listing of the snapshot's folder, which reads the snapshot's file list;
//! - then the largest folder listed by name (`ls -f`), with every entry's attributes
//!   (`ls -l`), and again (from the kernel's cache);
//! - a walk of the whole snapshot (`find -ls`): every folder listed, every entry's attributes;
//! - the mount process's resident memory with the file list loaded;
//! - the two largest files read in order in 128 KiB reads: time, and the mount process's peak
//!   resident memory while reading, against its size.

use hearth_benches::{PASSWORD, backup_household, fresh_repo, load_average};
use hearth_testkit::{HouseholdSpec, generate};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_FILES: usize = 200_000;
const DEFAULT_VIDEO: u64 = 256_000_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files: usize = args
        .first()
        .map_or(DEFAULT_FILES, |a| a.parse().expect("FILES"));
    let video: u64 = args
        .get(1)
        .map_or(DEFAULT_VIDEO, |a| a.parse().expect("VIDEO_BYTES"));
    let tmp = tempfile::tempdir_in(args.get(2).map_or_else(std::env::temp_dir, PathBuf::from))
        .expect("work folder");
    let work = tmp.path();
    println!("load average {:?}", load_average());

    let mut spec = HouseholdSpec::real(1_000_000_000, files);
    spec.devices.truncate(1);
    let d = &mut spec.devices[0];
    d.videos = 1;
    d.video_bytes = video;
    d.small_files = files.saturating_sub(d.files_besides_small());
    let t = Instant::now();
    let household = generate(&spec, &work.join("house")).expect("generating");
    let device = &household.devices[0];
    println!(
        "generated {} files, {:.0} MB, in {:.1} s",
        device.files,
        device.bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let repo = fresh_repo(work);
    backup_household(&repo, &household);
    drop(repo);
    println!("backed up in {:.1} s", t.elapsed().as_secs_f64());

    let mnt = work.join("mnt");
    std::fs::create_dir(&mnt).expect("mount point");
    let latest = mnt.join(&device.name).join("latest");

    // 1. The first listing, and a walk of everything.
    let m = Mount::start(work, &mnt);
    let t = Instant::now();
    let top = std::fs::read_dir(&latest).expect("listing").count();
    let first = t.elapsed();
    println!(
        "first listing of the snapshot's folder ({top} entries, reads the file list): {:.3} s",
        first.as_secs_f64()
    );
    println!(
        "mount process with the file list loaded: {} MiB resident",
        m.status("VmRSS:") / 1024
    );
    let t = Instant::now();
    let walk = walk(&latest);
    println!(
        "walk of the whole snapshot: {} folders, {} files, every entry's attributes: {:.2} s",
        walk.folders,
        walk.files,
        t.elapsed().as_secs_f64()
    );
    let (biggest, entries) = walk.largest_folder.clone();
    m.stop();

    // 2. The largest folder, each way on a fresh mount whose file list is read first.
    let shown = biggest
        .strip_prefix(&latest)
        .unwrap_or(&biggest)
        .display()
        .to_string();
    let fresh = || {
        let m = Mount::start(work, &mnt);
        std::fs::read_dir(&latest).expect("listing").count();
        m
    };
    let m = fresh();
    let t = Instant::now();
    let names = std::fs::read_dir(&biggest).expect("listing").count();
    let plain = t.elapsed();
    m.stop();
    let m = fresh();
    let t = Instant::now();
    let n = list_with_attributes(&biggest);
    let long = t.elapsed();
    let t = Instant::now();
    list_with_attributes(&biggest);
    let again = t.elapsed();
    assert_eq!((n, names), (entries, entries));
    println!(
        "largest folder {shown:?} ({entries} entries), fresh mounts: names only (ls -f) {:.3} s, with attributes (ls -l) {:.3} s, again (kernel's cache) {:.3} s",
        plain.as_secs_f64(),
        long.as_secs_f64(),
        again.as_secs_f64()
    );

    // 3. Files read in order: the mount process's memory while it reads.
    for (path, len) in [walk.second_file.clone(), walk.largest_file.clone()] {
        m.reset_peak();
        let before = m.status("VmRSS:");
        let t = Instant::now();
        let mut f = std::fs::File::open(&path).expect("opening the file");
        let mut buf = vec![0u8; 128 * 1024];
        let mut read = 0u64;
        loop {
            let n = f.read(&mut buf).expect("reading");
            if n == 0 {
                break;
            }
            read += n as u64;
        }
        drop(f);
        let took = t.elapsed();
        assert_eq!(read, len);
        println!(
            "read {:.1} MB in order: {:.2} s ({:.0} MB/s); mount process resident {} MiB before, peak {} MiB while reading",
            read as f64 / 1e6,
            took.as_secs_f64(),
            read as f64 / 1e6 / took.as_secs_f64(),
            before / 1024,
            m.status("VmHWM:") / 1024
        );
    }
    m.stop();
}

struct Walk {
    folders: usize,
    files: usize,
    largest_folder: (PathBuf, usize),
    largest_file: (PathBuf, u64),
    second_file: (PathBuf, u64),
}

fn walk(root: &Path) -> Walk {
    let mut w = Walk {
        folders: 0,
        files: 0,
        largest_folder: (root.to_path_buf(), 0),
        largest_file: (root.to_path_buf(), 0),
        second_file: (root.to_path_buf(), 0),
    };
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        w.folders += 1;
        let mut here = 0;
        for e in std::fs::read_dir(&dir).expect("listing") {
            let e = e.expect("entry");
            let meta = std::fs::symlink_metadata(e.path()).expect("attributes");
            here += 1;
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                w.files += 1;
                let this = (e.path(), meta.len());
                if this.1 > w.largest_file.1 {
                    w.second_file = std::mem::replace(&mut w.largest_file, this);
                } else if this.1 > w.second_file.1 {
                    w.second_file = this;
                }
            }
        }
        if here > w.largest_folder.1 {
            w.largest_folder = (dir, here);
        }
    }
    w
}

/// `ls -l`: the names, and each entry's attributes.
fn list_with_attributes(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("listing") {
        let e = e.expect("entry");
        std::fs::symlink_metadata(e.path()).expect("attributes");
        n += 1;
    }
    n
}

/// A running `hearth mount`.
struct Mount {
    child: Child,
    mnt: PathBuf,
}

impl Mount {
    fn start(work: &Path, mnt: &Path) -> Mount {
        let bin = std::env::var_os("HEARTH_BIN").map_or_else(
            || {
                let me = std::env::current_exe().expect("this binary's path");
                me.with_file_name("hearth")
            },
            PathBuf::from,
        );
        let out = work.join("mount.stdout");
        let child = Command::new(&bin)
            .arg("mount")
            .arg(mnt)
            .env("HEARTH_REPO", work.join("repo"))
            .env("HEARTH_CACHE_DIR", work.join("cache"))
            .env("HEARTH_PASSWORD", std::str::from_utf8(PASSWORD).unwrap())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("stdout file"))
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let start = Instant::now();
        while !std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("read-only at")
        {
            assert!(start.elapsed() < Duration::from_secs(60), "no mount");
            std::thread::sleep(Duration::from_millis(20));
        }
        Mount {
            child,
            mnt: mnt.to_path_buf(),
        }
    }

    /// A `/proc/PID/status` field of the mount process, in KiB.
    fn status(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the mount process's status");
        let line = status.lines().find(|l| l.starts_with(field)).expect(field);
        line[field.len()..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a number")
    }

    /// Resets the mount process's peak resident memory (`VmHWM`) to its current one.
    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5")
            .expect("resetting the peak (Linux >= 4.0, as root or the owner)");
    }

    fn stop(mut self) {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let status = self.child.wait().expect("the mount process ends");
        assert!(status.success(), "hearth mount ended with {status}");
        assert!(
            std::fs::read_dir(&self.mnt)
                .expect("the folder")
                .next()
                .is_none(),
            "unmounted"
        );
    }
}
