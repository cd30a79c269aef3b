//! `hearth mount`: the household as a read-only FUSE file system (Linux).
//!
//! Mounted without libfuse: as root through the kernel's `/dev/fuse` and `mount(2)`, as a user
//! through the setuid `fusermount3` (or `fusermount`) of the `fuse3` (`fuse`) package.
//!
//! - Inode numbers are computed from where a node is ([`crate::inode`]), so they are stable
//!   for as long as the file system is mounted and nothing is kept per inode.
//! - The tree never changes while mounted, so the kernel may keep names, attributes, folder
//!   listings and file pages for long (an hour, and across opens).
//! - A folder listing is a slice of the folder's sorted children: listing a folder of
//!   200,000 files costs what sending 200,000 names does, once the snapshot's file list is
//!   read (the first time any of its folders is opened).
//! - An open file holds a [`FileReader`]: a program reading it in order reads it through the
//!   repository's span reader, a chunk in memory at a time.
//! - Writes fail with `EROFS` (the mount is read-only, and every write request is refused
//!   too); data that does not read fails with `EIO` and is told to the [`Report`].

use crate::Report;
use crate::attr::{Attr, Kind};
use crate::error::{MountError, errno};
use crate::inode::{Ino, Inodes, ROOT};
use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, MountOption, OpenAccMode, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    Request, SessionACL, SessionUnmounter,
};
use hearth_browse::{BrowseError, FileReader, Household, LATEST, NodeKind, SnapshotFiles};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the kernel may keep names and attributes: the tree does not change while mounted.
const TTL: Duration = Duration::from_secs(3600);

/// The block size programs are told to read in (`cp` and `cat` read at least this much).
const BLOCK_SIZE: u32 = 128 * 1024;

#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Let other users than the one who mounts see the tree (`allow_other`; a user needs
    /// `user_allow_other` in /etc/fuse.conf for it).
    pub allow_other: bool,
    /// Threads that answer the kernel: reads of several files at once wait for the
    /// repository side by side.
    pub threads: usize,
}

impl Default for MountOptions {
    fn default() -> Self {
        Self {
            allow_other: false,
            threads: 4,
        }
    }
}

/// Mounts the household at `dir` (an existing folder) and serves it on threads of its own
/// until it is unmounted, by an [`Unmounter`] or from outside (`fusermount -u`, `umount`).
pub fn mount(
    household: Household<'static>,
    dir: &Path,
    options: &MountOptions,
    report: Arc<dyn Report>,
) -> Result<Mounted, MountError> {
    let bad = |detail: String| MountError::BadMountPoint {
        dir: dir.to_path_buf(),
        detail,
    };
    let dir = dir.canonicalize().map_err(|e| {
        let hint = match e.raw_os_error() {
            // A mount whose process ended without unmounting.
            Some(libc::ENOTCONN) => "; a file system whose program ended is still mounted there: unmount it with `fusermount -u`",
            Some(libc::ENOENT) => "; make the folder first",
            _ => "",
        };
        bad(format!("cannot mount there: {e}{hint}"))
    })?;
    if !dir.is_dir() {
        return Err(bad("is not a folder; give a folder to mount at".into()));
    }
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::FSName("hearth".into()),
        MountOption::Subtype("hearth".into()),
        MountOption::NoDev,
        MountOption::NoSuid,
        MountOption::NoAtime,
        // The kernel checks the permission bits the attributes give: read for everyone
        // it lets in, never write.
        MountOption::DefaultPermissions,
    ];
    config.acl = match options.allow_other {
        true => SessionACL::All,
        false => SessionACL::Owner,
    };
    config.n_threads = Some(options.threads.max(1));
    let fs = HouseholdFs::new(household, report);
    let mut session =
        fuser::Session::new(fs, &dir, &config).map_err(|source| MountError::Mount {
            dir: dir.clone(),
            source,
        })?;
    let unmounter = Unmounter {
        dir: dir.clone(),
        inner: Arc::new(Mutex::new(session.unmount_callable())),
    };
    // Not Session::spawn: it would take the mount away from the unmounter.
    let thread = std::thread::Builder::new()
        .name("hearth-fuse".into())
        .spawn(move || session.run())
        .map_err(MountError::Server)?;
    Ok(Mounted {
        dir,
        unmounter,
        thread,
    })
}

/// A mounted household.
pub struct Mounted {
    dir: PathBuf,
    unmounter: Unmounter,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Mounted {
    /// Where it is mounted (the folder's canonical path).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What another thread (one that waits for signals) unmounts it with.
    pub fn unmounter(&self) -> Unmounter {
        self.unmounter.clone()
    }

    /// Waits until it is unmounted, by an [`Unmounter`] or from outside.
    pub fn join(self) -> Result<(), MountError> {
        let ended = self.thread.join().map_err(|_| MountError::Session {
            dir: self.dir.clone(),
            source: std::io::Error::other("a thread of the file system panicked"),
        })?;
        ended.map_err(|source| MountError::Session {
            dir: self.dir,
            source,
        })
    }
}

/// How an unmount went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmounted {
    /// The folder is the plain folder again (or was already).
    Now,
    /// A program still had something open in it: the tree is detached from the folder now,
    /// and the file system ends when the last such program closes it.
    Detached,
}

#[derive(Clone)]
pub struct Unmounter {
    dir: PathBuf,
    inner: Arc<Mutex<SessionUnmounter>>,
}

impl Unmounter {
    pub fn unmount(&self) -> Result<Unmounted, MountError> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match inner.unmount() {
            Ok(()) => Ok(Unmounted::Now),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => self.detach(),
            Err(source) => Err(MountError::Unmount {
                dir: self.dir.clone(),
                source,
            }),
        }
    }

    /// `umount -l`: as root with umount2(2), else through `fusermount -u -z`.
    fn detach(&self) -> Result<Unmounted, MountError> {
        let failed = |source| MountError::Unmount {
            dir: self.dir.clone(),
            source,
        };
        let path = std::ffi::CString::new(self.dir.as_os_str().as_encoded_bytes())
            .map_err(|e| failed(std::io::Error::other(e)))?;
        // SAFETY: a NUL-terminated path and a valid flag.
        if unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) } == 0 {
            return Ok(Unmounted::Detached);
        }
        let errno = std::io::Error::last_os_error();
        if errno.raw_os_error() != Some(libc::EPERM) {
            return Err(failed(errno));
        }
        for program in ["fusermount3", "fusermount"] {
            let status = std::process::Command::new(program)
                .args(["-u", "-z", "--"])
                .arg(&self.dir)
                .status();
            if status.is_ok_and(|s| s.success()) {
                return Ok(Unmounted::Detached);
            }
        }
        Err(failed(errno))
    }
}

/// An open file: its reader, and its path for reports.
struct OpenFile {
    reader: FileReader<'static>,
    path: String,
}

struct HouseholdFs {
    household: Household<'static>,
    inodes: Inodes,
    report: Arc<dyn Report>,
    open: Mutex<HashMap<u64, Arc<Mutex<OpenFile>>>>,
    next_handle: AtomicU64,
    uid: u32,
    gid: u32,
}

/// A place in the tree, its inode resolved.
enum Node {
    Root,
    Device(usize),
    Files {
        device: usize,
        snapshot: usize,
        latest: bool,
        files: Arc<SnapshotFiles>,
        node: u32,
    },
}

impl HouseholdFs {
    fn new(household: Household<'static>, report: Arc<dyn Report>) -> Self {
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        Self {
            inodes: Inodes::new(&household),
            household,
            report,
            open: Mutex::default(),
            next_handle: AtomicU64::new(1),
            uid,
            gid,
        }
    }

    /// The node an inode names; `ENOENT` for none, `EIO` (reported) when its snapshot's file
    /// list does not read.
    fn node(&self, ino: INodeNo) -> Result<Node, Errno> {
        match self.inodes.parse(ino.0).ok_or(Errno::ENOENT)? {
            Ino::Root => Ok(Node::Root),
            Ino::Device(d) => Ok(Node::Device(d)),
            Ino::Files {
                device,
                snapshot,
                latest,
                node,
            } => {
                let files = self.files(device, snapshot, latest)?;
                files.get(node).ok_or(Errno::ENOENT)?;
                Ok(Node::Files {
                    device,
                    snapshot,
                    latest,
                    files,
                    node,
                })
            }
        }
    }

    fn files(
        &self,
        device: usize,
        snapshot: usize,
        latest: bool,
    ) -> Result<Arc<SnapshotFiles>, Errno> {
        self.household.files(device, snapshot).map_err(|e| {
            let path = self.snapshot_path(device, snapshot, latest);
            self.fail(&path, &e)
        })
    }

    /// Reports `e` about `path`; the errno for the program that asked.
    fn fail(&self, path: &str, e: &BrowseError) -> Errno {
        self.report.unreadable(path, e);
        Errno::from_i32(errno(e))
    }

    fn snapshot_path(&self, device: usize, snapshot: usize, latest: bool) -> String {
        let d = &self.household.devices()[device];
        let name = if latest {
            LATEST
        } else {
            &d.snapshots[snapshot].name
        };
        format!("/{}/{name}", d.name)
    }

    fn path(&self, node: &Node) -> String {
        match node {
            Node::Root => "/".into(),
            Node::Device(d) => format!("/{}", self.household.devices()[*d].name),
            Node::Files {
                device,
                snapshot,
                latest,
                files,
                node,
            } => {
                let mut p = self.snapshot_path(*device, *snapshot, *latest);
                if *node != SnapshotFiles::ROOT {
                    p.push('/');
                    p.push_str(&files.path(*node));
                }
                p
            }
        }
    }

    fn ino(&self, node: &Node) -> INodeNo {
        INodeNo(match node {
            Node::Root => ROOT,
            Node::Device(d) => self.inodes.number(Ino::Device(*d)),
            Node::Files {
                device,
                snapshot,
                latest,
                node,
                ..
            } => self.inodes.number(Ino::Files {
                device: *device,
                snapshot: *snapshot,
                latest: *latest,
                node: *node,
            }),
        })
    }

    fn attr(&self, node: &Node) -> FileAttr {
        let a = match node {
            Node::Root => Attr::of_root(&self.household),
            Node::Device(d) => Attr::of_device(&self.household, *d),
            Node::Files { files, node, .. } => Attr::of_node(files, *node),
        };
        self.file_attr(self.ino(node), &a)
    }

    fn file_attr(&self, ino: INodeNo, a: &Attr) -> FileAttr {
        FileAttr {
            ino,
            size: a.size,
            blocks: a.size.div_ceil(512),
            atime: a.mtime,
            mtime: a.mtime,
            ctime: a.mtime,
            crtime: a.mtime,
            kind: match a.kind {
                Kind::Folder => FileType::Directory,
                Kind::File => FileType::RegularFile,
            },
            perm: a.perm,
            nlink: a.nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            flags: 0,
            blksize: BLOCK_SIZE,
        }
    }

    /// The child `name` of folder `parent`.
    fn child(&self, parent: &Node, name: &OsStr) -> Result<Node, Errno> {
        let name = name.to_str().ok_or(Errno::ENOENT)?;
        match parent {
            Node::Root => {
                let devices = self.household.devices();
                let d = devices.iter().position(|d| d.name == name);
                d.map(Node::Device).ok_or(Errno::ENOENT)
            }
            Node::Device(d) => {
                let snapshot = self
                    .household
                    .snapshot_named(*d, name)
                    .ok_or(Errno::ENOENT)?;
                let latest = name == LATEST;
                Ok(Node::Files {
                    device: *d,
                    snapshot,
                    latest,
                    files: self.files(*d, snapshot, latest)?,
                    node: SnapshotFiles::ROOT,
                })
            }
            Node::Files {
                device,
                snapshot,
                latest,
                files,
                node,
            } => {
                if !matches!(files.node(*node).kind, NodeKind::Folder(_)) {
                    return Err(Errno::ENOTDIR);
                }
                let child = files.child(*node, name).ok_or(Errno::ENOENT)?;
                Ok(Node::Files {
                    device: *device,
                    snapshot: *snapshot,
                    latest: *latest,
                    files: Arc::clone(files),
                    node: child,
                })
            }
        }
    }

    /// The inode of a folder's `..`.
    fn parent_ino(&self, node: &Node) -> INodeNo {
        INodeNo(match node {
            Node::Root | Node::Device(_) => ROOT,
            Node::Files {
                device,
                snapshot,
                latest,
                files,
                node,
            } => match *node {
                SnapshotFiles::ROOT => self.inodes.number(Ino::Device(*device)),
                n => self.inodes.number(Ino::Files {
                    device: *device,
                    snapshot: *snapshot,
                    latest: *latest,
                    node: files.node(n).parent,
                }),
            },
        })
    }

    /// A folder's listing from entry `from` on (0 is `.`, 1 is `..`, then the children in
    /// order), each entry with its inode, name and kind; the attributes are made only for
    /// what `add` takes, and `add` returns true when the reply is full.
    fn list(
        &self,
        ino: INodeNo,
        from: u64,
        mut add: impl FnMut(INodeNo, u64, &str, &dyn Fn() -> FileAttr) -> bool,
    ) -> Result<(), Errno> {
        let dir = self.node(ino)?;
        let dir_attr = || self.attr(&dir);
        let parent = self.parent_ino(&dir);
        let parent_attr = || match self.node(parent) {
            Ok(p) => self.attr(&p),
            Err(_) => self.attr(&Node::Root),
        };
        let dots: [(INodeNo, &str, &dyn Fn() -> FileAttr); 2] =
            [(ino, ".", &dir_attr), (parent, "..", &parent_attr)];
        let mut i = from;
        while let Some((ino, name, attr)) = dots.get(i as usize) {
            i += 1;
            if add(*ino, i, name, attr) {
                return Ok(());
            }
        }
        let skip = usize::try_from(i - 2).unwrap_or(usize::MAX);
        match &dir {
            Node::Root => {
                for (d, device) in self.household.devices().iter().enumerate().skip(skip) {
                    i += 1;
                    let node = Node::Device(d);
                    if add(self.ino(&node), i, &device.name, &|| self.attr(&node)) {
                        break;
                    }
                }
            }
            Node::Device(d) => {
                for name in self.household.device_listing(*d).into_iter().skip(skip) {
                    i += 1;
                    let snapshot = self.household.snapshot_named(*d, name).unwrap_or(0);
                    let latest = name == LATEST;
                    let ino = INodeNo(self.inodes.number(Ino::Files {
                        device: *d,
                        snapshot,
                        latest,
                        node: SnapshotFiles::ROOT,
                    }));
                    let attr = Attr::of_snapshot(&self.household, *d, snapshot);
                    if add(ino, i, name, &|| self.file_attr(ino, &attr)) {
                        break;
                    }
                }
            }
            Node::Files {
                device,
                snapshot,
                latest,
                files,
                node,
            } => {
                let children = files.children(*node);
                for &child in children.get(skip..).unwrap_or(&[]) {
                    i += 1;
                    let ino = INodeNo(self.inodes.number(Ino::Files {
                        device: *device,
                        snapshot: *snapshot,
                        latest: *latest,
                        node: child,
                    }));
                    let name = &files.node(child).name;
                    let attr = || self.file_attr(ino, &Attr::of_node(files, child));
                    if add(ino, i, name, &attr) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}

fn kind(attr: &FileAttr) -> FileType {
    attr.kind
}

impl Filesystem for HouseholdFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Listings with attributes (one request instead of one lookup per entry), where the
        // kernel has them; without, plain listings.
        let wanted = InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO;
        let _ = config.add_capabilities(wanted & config.capabilities());
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.node(parent).and_then(|p| self.child(&p, name)) {
            Ok(node) => reply.entry(&TTL, &self.attr(&node), Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.node(ino) {
            Ok(node) => reply.attr(&TTL, &self.attr(&node)),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.node(ino) {
            Ok(node) if self.attr(&node).kind == FileType::Directory => {
                // Listings do not change: the kernel may keep them, across opens too.
                reply.opened(
                    FileHandle(0),
                    FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE,
                )
            }
            Ok(_) => reply.error(Errno::ENOTDIR),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let listed = self.list(ino, offset, |ino, next, name, attr| {
            reply.add(ino, next, kind(&attr()), name)
        });
        match listed {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let listed = self.list(ino, offset, |ino, next, name, attr| {
            reply.add(ino, next, name, &TTL, &attr(), Generation(0))
        });
        match listed {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.acc_mode() != OpenAccMode::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
            return reply.error(Errno::EROFS);
        }
        let node = match self.node(ino) {
            Ok(n) => n,
            Err(e) => return reply.error(e),
        };
        let Node::Files { files, node: n, .. } = &node else {
            return reply.error(Errno::EISDIR);
        };
        let Some(data) = files.file(*n) else {
            return reply.error(Errno::EISDIR);
        };
        let path = self.path(&node);
        let reader = match FileReader::open(self.household.repo(), data) {
            Ok(r) => r,
            Err(e) => return reply.error(self.fail(&path, &e)),
        };
        let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
        let file = Arc::new(Mutex::new(OpenFile { reader, path }));
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.insert(fh, file);
        // The bytes do not change: pages read stay good across opens.
        reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE);
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let file = {
            let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            open.get(&fh.0).cloned()
        };
        let Some(file) = file else {
            return reply.error(Errno::EBADF);
        };
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        let want = (size as u64).min(file.reader.size().saturating_sub(offset));
        let mut buf = vec![0; want as usize];
        match file.reader.read_at(offset, &mut buf) {
            Ok(n) => reply.data(&buf[..n]),
            Err(e) => {
                let errno = self.fail(&file.path, &e);
                reply.error(errno)
            }
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.remove(&fh.0);
        reply.ok();
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Nothing is free: nothing can be written.
        reply.statfs(0, 0, 0, 0, 0, BLOCK_SIZE, 255, BLOCK_SIZE);
    }

    // Every change is refused; the kernel refuses most before they get here (the mount is
    // read-only).

    fn setattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<fuser::TimeOrNow>,
        _mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(Errno::EROFS);
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn mkdir(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn symlink(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _link_name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EROFS);
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::EROFS);
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        reply.error(Errno::EROFS);
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EROFS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_repo::{NoProgress, RepoOptions, Repository};

    /// A test where something does not read has failed.
    struct Quiet;
    impl Report for Quiet {
        fn unreadable(&self, path: &str, error: &BrowseError) {
            panic!("{path}: {error}");
        }
    }

    /// The tiny household backed up into a fresh repository (leaked, as `hearth mount` does).
    fn fs() -> (tempfile::TempDir, HouseholdFs) {
        let dir = tempfile::tempdir().unwrap();
        let house = hearth_testkit::generate(
            &hearth_testkit::HouseholdSpec::tiny(),
            &dir.path().join("house"),
        )
        .unwrap();
        let options = RepoOptions {
            kdf: cheap_kdf(),
            cache_root: Some(dir.path().join("cache")),
            ..RepoOptions::default()
        };
        let backend = hearth_storage::LocalBackend::create(&dir.path().join("repo")).unwrap();
        let repo = Repository::init(Arc::new(backend), b"pw", &options).unwrap();
        let repo: &'static Repository = Box::leak(Box::new(repo));
        let lock = repo.lock_shared(Duration::ZERO, &|_| {}).unwrap();
        let session = repo.write_session(&lock).unwrap();
        for d in &house.devices {
            let opts = hearth_ingest::IngestOptions::default();
            hearth_ingest::backup_device(repo, &session, &d.folder, &opts, &NoProgress).unwrap();
        }
        session.finish().unwrap();
        drop(lock);
        let household = Household::open(repo).unwrap();
        (dir, HouseholdFs::new(household, Arc::new(Quiet)))
    }

    fn cheap_kdf() -> hearth_crypto::KdfParams {
        hearth_crypto::KdfParams {
            memory_kib: 64,
            time: 1,
            parallelism: 1,
        }
    }

    /// (inode, next offset, name) of a listing from `from` on, up to `room` entries.
    fn listing(fs: &HouseholdFs, ino: INodeNo, from: u64, room: usize) -> Vec<(u64, u64, String)> {
        let mut out = Vec::new();
        fs.list(ino, from, |ino, next, name, attr| {
            assert_eq!(attr().ino, ino, "{name}");
            out.push((ino.0, next, name.to_owned()));
            out.len() == room
        })
        .unwrap();
        out
    }

    #[test]
    fn listings_resume_at_every_offset_and_their_inodes_are_what_lookups_give() {
        let (_dir, fs) = fs();
        let device = fs.child(&Node::Root, OsStr::new("Mum's iPhone")).unwrap();
        let latest = fs.child(&device, OsStr::new(LATEST)).unwrap();
        let home = fs.child(&latest, OsStr::new("HomeDomain")).unwrap();
        let library = fs.child(&home, OsStr::new("Library")).unwrap();
        for dir in [Node::Root, device, latest, home, library] {
            let ino = fs.ino(&dir);
            let all = listing(&fs, ino, 0, usize::MAX);
            assert_eq!((all[0].2.as_str(), all[1].2.as_str()), (".", ".."));
            assert_eq!(all[0].0, ino.0);
            assert_eq!(all[1].0, fs.parent_ino(&dir).0);
            for (i, (child, next, name)) in all.iter().enumerate() {
                assert_eq!(*next, i as u64 + 1, "offsets count entries");
                // Resumed where the kernel's buffer was full: the same entries on.
                assert_eq!(
                    listing(&fs, ino, i as u64, 3),
                    all[i..(i + 3).min(all.len())]
                );
                if i >= 2 {
                    let found = fs.child(&dir, OsStr::new(name)).unwrap();
                    assert_eq!(fs.ino(&found).0, *child, "{name}");
                    assert_eq!(
                        fs.node(INodeNo(*child)).map(|n| fs.path(&n)).ok(),
                        Some(fs.path(&found))
                    );
                }
            }
            assert!(
                listing(&fs, ino, all.len() as u64, 10).is_empty(),
                "past the end"
            );
        }
    }

    #[test]
    fn latest_has_inodes_of_its_own_and_the_same_attributes() {
        let (_dir, fs) = fs();
        let device = fs.child(&Node::Root, OsStr::new("Dad's iPhone")).unwrap();
        let names = fs.household.device_listing(0).len();
        assert_eq!(names, 2, "one snapshot and latest");
        let snapshot_name = fs.household.devices()[0].snapshots[0].name.clone();
        let snapshot = fs.child(&device, OsStr::new(&snapshot_name)).unwrap();
        let latest = fs.child(&device, OsStr::new(LATEST)).unwrap();
        let (a, b) = (
            fs.child(&snapshot, OsStr::new("Manifest.db")).unwrap(),
            fs.child(&latest, OsStr::new("Manifest.db")).unwrap(),
        );
        assert_ne!(fs.ino(&a), fs.ino(&b));
        let (mut aa, ab) = (fs.attr(&a), fs.attr(&b));
        aa.ino = ab.ino;
        assert_eq!(aa, ab);
        assert_eq!(fs.path(&b), "/Dad's iPhone/latest/Manifest.db");
        assert_eq!(fs.parent_ino(&b), fs.ino(&latest));
        assert_eq!(fs.parent_ino(&latest), fs.ino(&device));
        assert!(matches!(fs.child(&a, OsStr::new("x")), Err(e) if e == Errno::ENOTDIR));
        assert!(matches!(fs.node(INodeNo(0)), Err(e) if e == Errno::ENOENT));
    }
}
