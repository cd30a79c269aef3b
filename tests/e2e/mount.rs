//! `hearth mount`: a real FUSE mount, read through the kernel with std::fs as any program
//! would, compared with the source backup folders byte for byte; writes refused with EROFS;
//! the process ending cleanly (exit 0, unmounted, its lock gone) on SIGTERM and after
//! `fusermount -u`.
//!
//! These tests need /dev/fuse and fusermount (CI runs as root with both; `.ci/run` installs
//! the `fuse3` package when fusermount is missing). Without them they fail, never skip.

use crate::common;

use common::procs::Proc;
use common::served::{Expect, assert_serves, files_under};
use common::{World, s};
use hearth_testkit::{DayOptions, HouseholdSpec, copy_tree, generate, next_day};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The FUSE programs there are, or a failure that says what to install.
fn require_fuse() -> &'static str {
    assert!(
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: the mount tests need FUSE (load it with `modprobe fuse`; in a \
         container, pass the device in with `--device /dev/fuse`)"
    );
    ["fusermount3", "fusermount"]
        .into_iter()
        .find(|p| Command::new(p).arg("-V").output().is_ok())
        .expect(
            "neither fusermount3 nor fusermount is installed: the mount tests need them \
             (`apt-get install fuse3`; .ci/run installs it)",
        )
}

/// Whether something is mounted at `dir` (canonical), by /proc/self/mountinfo.
fn is_mounted(dir: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_str().unwrap();
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|m| m == dir))
}

/// A running `hearth mount`; if the test fails while it runs, the folder is detached so that
/// the world's folder can be removed.
struct Mounted {
    proc: Option<Proc>,
    dir: PathBuf,
}

impl Mounted {
    fn start(w: &World, dir: &str) -> Mounted {
        let at = w.path(dir);
        std::fs::create_dir_all(&at).unwrap();
        let mut proc = Proc::run(w, "mount", &["mount", s(&at)]);
        let line = proc.wait_for_stdout("read-only at");
        let dir = at.canonicalize().unwrap();
        assert!(line.ends_with(s(&dir)), "{line}");
        assert!(is_mounted(&dir), "{line}, but /proc says otherwise");
        Mounted {
            proc: Some(proc),
            dir,
        }
    }

    /// Waits for the process to end by itself; asserts exit 0 and the folder unmounted.
    fn ended(&mut self, how: &str) -> common::procs::Ended {
        let ended = self.proc.take().unwrap().wait_named(how);
        ended.ok(how);
        assert!(!is_mounted(&self.dir), "{how}: still mounted");
        assert!(ended.stdout.contains("unmounted"), "{}", ended.describe());
        ended
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if is_mounted(&self.dir) {
            let c = std::ffi::CString::new(self.dir.to_str().unwrap()).unwrap();
            // SAFETY: a NUL-terminated path and a valid flag.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    n.sort();
    n
}

/// The errno of a failed file operation.
fn errno<T: std::fmt::Debug>(r: std::io::Result<T>, what: &str) -> i32 {
    r.expect_err(what).raw_os_error().expect("an OS error")
}

#[test]
fn two_devices_two_snapshots_read_through_the_mount_as_their_sources() {
    let fusermount = require_fuse();
    let w = World::with_repo();
    let house = w.path("house");
    let h = generate(&HouseholdSpec::tiny(), &house).unwrap();
    copy_tree(&house, &w.path("day1")).unwrap();
    w.ok(&["backup", s(&house)]);
    next_day(&h, 1, &DayOptions::default()).unwrap();
    w.ok(&["backup", s(&house)]);

    let mut m = Mounted::start(&w, "mnt");
    let mut devices: Vec<&str> = h.devices.iter().map(|d| d.name.as_str()).collect();
    devices.sort();
    assert_eq!(names(&m.dir), devices);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&m.dir), 0o555);

    let mut compared = 0;
    for d in &h.devices {
        let folder = m.dir.join(&d.name);
        let listing = names(&folder);
        assert_eq!(listing.len(), 3, "two snapshots and latest: {listing:?}");
        assert_eq!(listing[2], "latest");
        let (day1, day2) = (folder.join(&listing[0]), folder.join(&listing[1]));
        fn expect(source: &Path) -> Expect<'_> {
            Expect {
                source,
                own_bytes: true,
                mtimes: true,
            }
        }
        let old = w.path("day1").join(&d.udid);
        compared += assert_serves(&day1, &expect(&old));
        compared += assert_serves(&day2, &expect(&d.folder));
        compared += assert_serves(&folder.join("latest"), &expect(&d.folder));

        // `latest` is the last snapshot under inodes of its own, listed the same.
        let (a, b) = (day2.join("Manifest.db"), folder.join("latest/Manifest.db"));
        let (ma, mb) = (
            std::fs::metadata(&a).unwrap(),
            std::fs::metadata(&b).unwrap(),
        );
        assert_ne!(ma.ino(), mb.ino());
        assert_eq!((ma.len(), ma.mtime()), (mb.len(), mb.mtime()));
        assert_eq!(files_under(&day2), files_under(&folder.join("latest")));
        assert_eq!(mode(&a), 0o444);
        assert_eq!(mode(&day2.join("HomeDomain")), 0o555);
        assert_eq!(ma.nlink(), 1);
    }
    assert!(compared > 600, "{compared} files compared");

    // Every way of writing fails with EROFS.
    let latest = m.dir.join(&h.devices[0].name).join("latest");
    let existing = latest.join("Manifest.db");
    let rofs = [
        errno(std::fs::write(latest.join("new"), b"x"), "create"),
        errno(
            std::fs::OpenOptions::new().append(true).open(&existing),
            "append",
        ),
        errno(
            std::fs::OpenOptions::new().write(true).open(&existing),
            "open for writing",
        ),
        errno(std::fs::create_dir(latest.join("dir")), "mkdir"),
        errno(std::fs::remove_file(&existing), "unlink"),
        errno(std::fs::rename(&existing, latest.join("moved")), "rename"),
        errno(
            std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)),
            "chmod",
        ),
    ];
    assert_eq!(rofs, [libc::EROFS; 7]);
    assert_eq!(
        errno(std::fs::read(latest.join("no such file")), "missing"),
        libc::ENOENT
    );

    // SIGTERM unmounts and ends the process with 0; its shared lock is gone.
    m.proc.as_ref().unwrap().signal(libc::SIGTERM);
    let ended = m.ended("hearth mount after SIGTERM");
    assert!(
        ended.stderr.contains("SIGTERM: unmounting"),
        "{}",
        ended.stderr
    );
    assert!(common::names(&w.repo().join("locks")).is_empty());

    // Unmounted from outside, it ends by itself with 0 too.
    let mut m = Mounted::start(&w, "mnt");
    let unmount = Command::new(fusermount)
        .arg("-u")
        .arg(&m.dir)
        .output()
        .unwrap();
    assert!(unmount.status.success(), "{fusermount} -u: {unmount:?}");
    m.ended("hearth mount after fusermount -u");
    assert!(common::names(&w.repo().join("locks")).is_empty());
}

#[test]
fn a_prune_waits_while_mounted_and_damaged_data_reads_as_eio_named_on_stderr() {
    require_fuse();
    let w = World::with_repo();
    let house = w.path("house");
    let h = generate(&HouseholdSpec::tiny(), &house).unwrap();
    w.ok(&["backup", s(&house)]);
    let mut m = Mounted::start(&w, "mnt");

    // The mount holds a shared lock: a prune that may not wait fails.
    let prune = w.run(&["--lock-wait", "0", "prune"]);
    assert_ne!(prune.status.code(), Some(0), "{}", common::describe(&prune));

    // The file list is read (and kept) first; then every pack is damaged at each tenth, and
    // the files whose bytes were there no longer read, with EIO (none was read before: the
    // page cache would keep it).
    let latest = m.dir.join(&h.devices[0].name).join("latest");
    let listed = files_under(&latest);
    let (packs, _) = common::pack_files(&w.repo());
    for p in &packs {
        let path = w.repo().join("packs").join(&p[..2]).join(p);
        let mut bytes = std::fs::read(&path).unwrap();
        // At every tenth: whichever device's blobs lie where, some of this device's are hit.
        let len = bytes.len();
        for tenth in 1..10 {
            bytes[len * tenth / 10] ^= 0xff;
        }
        std::fs::write(&path, bytes).unwrap();
    }
    let start = Instant::now();
    let mut failed = Vec::new();
    for rel in listed {
        if let Err(e) = std::fs::read(latest.join(&rel)) {
            assert_eq!(e.raw_os_error(), Some(libc::EIO), "{rel}: {e}");
            failed.push(rel);
        }
    }
    assert!(start.elapsed() < Duration::from_secs(120));
    assert!(
        !failed.is_empty(),
        "a damaged pack leaves some file unreadable"
    );
    m.proc.as_ref().unwrap().signal(libc::SIGINT);
    let ended = m.ended("hearth mount after SIGINT");
    let shown = format!("/{}/latest/{}", h.devices[0].name, failed[0]);
    assert!(
        ended.stderr.contains(&format!("error: {shown}: ")),
        "the damaged file is named on stderr:\n{}",
        ended.stderr
    );
}
