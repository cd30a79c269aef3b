//! `hearth webdav`: the household as a read-only WebDAV server (dav-server over hyper).
//!
//! - PROPFIND (depth 0 and 1), GET (with `Range`), HEAD and OPTIONS; every other method is
//!   refused with `405 Method Not Allowed`. No LOCK either, so macOS Finder mounts the share
//!   read-only.
//! - No authentication and plain HTTP. [`Hosts::Loopback`] (the default) also refuses requests
//!   whose `Host` is not a loopback name or address: a web page cannot reach the server
//!   through a name of its own that resolves to 127.0.0.1 (DNS rebinding).
//! - Blocking work (reading a snapshot's file list, a file's bytes) runs on tokio's blocking
//!   threads; a GET streams the file a buffer at a time, never whole.

use crate::Report;
use crate::attr::{Attr, Kind};
use crate::error::MountError;
use bytes::Bytes;
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, FsError, FsFuture, FsResult, FsStream,
    OpenOptions, ReadDirMeta,
};
use dav_server::{DavHandler, DavMethodSet};
use futures_util::FutureExt;
use hearth_browse::{BrowseError, FileReader, Household, Place};
use hyper_util::rt::TokioIo;
use std::io::SeekFrom;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;

/// What a GET reads from a file at a time.
const READ_BUFFER: usize = 256 * 1024;

/// How long requests under way may take to finish once the server is stopped.
const FINISH_WITHIN: Duration = Duration::from_secs(5);

/// Which `Host` headers requests may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hosts {
    /// `localhost`, loopback addresses, or none: a server on loopback.
    Loopback,
    /// Any: a server others reach by the computer's name or address.
    Any,
}

impl Hosts {
    fn allows(self, host: Option<&http::HeaderValue>) -> bool {
        let Some(host) = host else { return true };
        match self {
            Hosts::Any => true,
            Hosts::Loopback => host.to_str().is_ok_and(is_loopback_host),
        }
    }
}

/// `localhost`, `127.0.0.1:8090`, `[::1]:8090`, ...
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A WebDAV server bound to its address, not yet serving.
pub struct WebDav {
    listener: TcpListener,
    handler: DavHandler,
    hosts: Hosts,
    stop: Arc<Notify>,
}

/// Stops a running [`WebDav`] from another thread.
#[derive(Clone)]
pub struct Stopper(Arc<Notify>);

impl Stopper {
    /// The server takes no more connections, gives requests under way a few seconds, and
    /// [`WebDav::run`] returns. A stop before `run` makes it return at once.
    pub fn stop(&self) {
        self.0.notify_one();
    }
}

impl WebDav {
    /// Binds `addr` (port 0 picks a free one), so that an address in use fails here.
    pub fn bind(
        household: Household<'static>,
        addr: SocketAddr,
        hosts: Hosts,
        report: Arc<dyn Report>,
    ) -> Result<Self, MountError> {
        let listener =
            TcpListener::bind(addr).map_err(|source| MountError::Bind { addr, source })?;
        let fs = DavHousehold {
            household: Arc::new(household),
            report,
        };
        let handler = DavHandler::builder()
            .filesystem(Box::new(fs))
            .methods(DavMethodSet::WEBDAV_RO)
            .read_buf_size(READ_BUFFER)
            .build_handler();
        Ok(Self {
            listener,
            handler,
            hosts,
            stop: Arc::default(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound socket has an address")
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.stop))
    }

    /// Serves until stopped (blocking).
    pub fn run(self) -> Result<(), MountError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hearth-webdav")
            .enable_all()
            .build()
            .map_err(MountError::Server)?;
        let served = runtime.block_on(self.serve());
        runtime.shutdown_timeout(Duration::from_secs(1));
        served
    }

    async fn serve(self) -> Result<(), MountError> {
        self.listener
            .set_nonblocking(true)
            .map_err(MountError::Server)?;
        let listener =
            tokio::net::TcpListener::from_std(self.listener).map_err(MountError::Server)?;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        loop {
            let (stream, _) = tokio::select! {
                _ = self.stop.notified() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    // Out of file descriptors, or a connection reset before it was taken:
                    // the server goes on.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            // Answers go out at once: without it, a small response written in two parts
            // waits for the client's delayed ACK (40 ms a request on Linux).
            let _ = stream.set_nodelay(true);
            let (handler, hosts) = (self.handler.clone(), self.hosts);
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move {
                    if !hosts.allows(req.headers().get(http::header::HOST)) {
                        return Ok::<_, std::convert::Infallible>(misdirected());
                    }
                    let mut response = handler.handle(req).await;
                    read_only_class(&mut response);
                    Ok(response)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                // A client that goes away mid-response is its own business.
                let _ = connection.await;
            });
        }
        drop(listener);
        let _ = tokio::time::timeout(FINISH_WITHIN, graceful.shutdown()).await;
        Ok(())
    }
}

/// The answer to a request whose `Host` is not this server's loopback name.
fn misdirected() -> http::Response<dav_server::body::Body> {
    let mut response = http::Response::new(dav_server::body::Body::from(
        "hearth webdav answers only requests to localhost, 127.0.0.1 or [::1]\n",
    ));
    *response.status_mut() = http::StatusCode::FORBIDDEN;
    response
}

/// dav-server says it is a class 2 server (locks) whatever its methods; a read-only one is
/// class 1, which is also what makes macOS Finder mount it read-only.
fn read_only_class<B>(response: &mut http::Response<B>) {
    if response.headers().contains_key("dav") {
        response
            .headers_mut()
            .insert("dav", http::HeaderValue::from_static("1"));
    }
}

/// The household as dav-server's file system.
#[derive(Clone)]
struct DavHousehold {
    household: Arc<Household<'static>>,
    report: Arc<dyn Report>,
}

/// A request's path as the tree's (`/Device/latest/HomeDomain/...`); `None` when it is not
/// UTF-8, which no name in the tree is.
fn tree_path(path: &DavPath) -> Option<String> {
    let p = std::str::from_utf8(path.as_bytes()).ok()?;
    Some(p.trim_end_matches('/').to_owned()).map(|p| if p.is_empty() { "/".into() } else { p })
}

impl DavHousehold {
    /// Runs `work` on a blocking thread; its error is reported with `path`.
    async fn blocking<T: Send + 'static>(
        &self,
        path: String,
        work: impl FnOnce(&Household<'static>) -> Result<T, BrowseError> + Send + 'static,
    ) -> FsResult<T> {
        let household = Arc::clone(&self.household);
        let report = Arc::clone(&self.report);
        tokio::task::spawn_blocking(move || {
            work(&household).map_err(|e| {
                report.unreadable(&path, &e);
                FsError::GeneralFailure
            })
        })
        .await
        .map_err(|_| FsError::GeneralFailure)?
    }

    /// Where `path` leads, with what a client sees of it.
    async fn place(&self, path: &DavPath) -> FsResult<(Place, Attr)> {
        let p = tree_path(path).ok_or(FsError::NotFound)?;
        self.blocking(p.clone(), move |h| {
            Ok(h.resolve(&p)?.map(|place| {
                let attr = Attr::of_place(h, &place);
                (place, attr)
            }))
        })
        .await?
        .ok_or(FsError::NotFound)
    }
}

/// A folder's entries with their attributes, in order.
fn listing(h: &Household<'_>, place: &Place) -> Vec<(String, Attr)> {
    match place {
        Place::Root => (h.devices().iter().enumerate())
            .map(|(d, device)| (device.name.clone(), Attr::of_device(h, d)))
            .collect(),
        Place::Device(d) => (h.device_listing(*d).into_iter())
            .map(|name| {
                let s = h.snapshot_named(*d, name).unwrap_or(0);
                (name.to_owned(), Attr::of_snapshot(h, *d, s))
            })
            .collect(),
        Place::Files { files, node, .. } => (files.children(*node).iter())
            .map(|&c| (files.node(c).name.to_string(), Attr::of_node(files, c)))
            .collect(),
    }
}

impl DavFileSystem for DavHousehold {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        async move {
            if options.write || options.append || options.truncate || options.create {
                return Err(FsError::Forbidden);
            }
            let (place, attr) = self.place(path).await?;
            let Place::Files { files, node, .. } = place else {
                return Err(FsError::Forbidden);
            };
            if attr.is_folder() {
                return Err(FsError::Forbidden);
            }
            let shown = tree_path(path).unwrap_or_default();
            let reader = self
                .blocking(shown.clone(), move |h| {
                    let data = files.file(node).expect("a file, by its attributes");
                    FileReader::open(h.repo(), data)
                })
                .await?;
            let file = OpenFile {
                reader: Arc::new(Mutex::new(reader)),
                at: 0,
                attr,
                path: shown,
                fs: self.clone(),
            };
            Ok(Box::new(file) as Box<dyn DavFile>)
        }
        .boxed()
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let (place, attr) = self.place(path).await?;
            if !attr.is_folder() {
                return Err(FsError::Forbidden);
            }
            let shown = tree_path(path).unwrap_or_default();
            let entries = self
                .blocking(shown, move |h| Ok(listing(h, &place)))
                .await?;
            let entries = entries.into_iter().map(|(name, attr)| {
                Ok(Box::new(Entry {
                    name,
                    attr: Meta(attr),
                }) as Box<dyn DavDirEntry>)
            });
            Ok(Box::pin(futures_util::stream::iter(entries)) as FsStream<Box<dyn DavDirEntry>>)
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            let (_, attr) = self.place(path).await?;
            Ok(Box::new(Meta(attr)) as Box<dyn DavMetaData>)
        }
        .boxed()
    }
}

#[derive(Debug, Clone)]
struct Meta(Attr);

impl DavMetaData for Meta {
    fn len(&self) -> u64 {
        self.0.size
    }

    fn modified(&self) -> FsResult<SystemTime> {
        Ok(self.0.mtime)
    }

    fn is_dir(&self) -> bool {
        self.0.kind == Kind::Folder
    }

    fn executable(&self) -> FsResult<bool> {
        Ok(self.0.kind == Kind::File && self.0.perm & 0o111 != 0)
    }
}

struct Entry {
    name: String,
    attr: Meta,
}

impl DavDirEntry for Entry {
    fn name(&self) -> Vec<u8> {
        self.name.clone().into_bytes()
    }

    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta = Box::new(self.attr.clone()) as Box<dyn DavMetaData>;
        std::future::ready(Ok(meta)).boxed()
    }
}

/// A file opened for a GET: its reader (used on a blocking thread) and where the next read
/// starts.
struct OpenFile {
    reader: Arc<Mutex<FileReader<'static>>>,
    at: u64,
    attr: Attr,
    path: String,
    fs: DavHousehold,
}

impl std::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenFile")
            .field("path", &self.path)
            .field("at", &self.at)
            .finish()
    }
}

impl DavFile for OpenFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta = Box::new(Meta(self.attr)) as Box<dyn DavMetaData>;
        std::future::ready(Ok(meta)).boxed()
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        async move {
            let (reader, at) = (Arc::clone(&self.reader), self.at);
            let want = (count as u64).min(self.attr.size.saturating_sub(at)) as usize;
            let bytes = self
                .fs
                .blocking(self.path.clone(), move |_| {
                    let mut reader = reader.lock().unwrap_or_else(PoisonError::into_inner);
                    let mut buf = vec![0; want];
                    let n = reader.read_at(at, &mut buf)?;
                    buf.truncate(n);
                    Ok(buf)
                })
                .await?;
            self.at += bytes.len() as u64;
            Ok(Bytes::from(bytes))
        }
        .boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        let to = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.at.checked_add_signed(d),
            SeekFrom::End(d) => self.attr.size.checked_add_signed(d),
        };
        let result = match to {
            Some(n) => {
                self.at = n;
                Ok(n)
            }
            None => Err(FsError::GeneralFailure),
        };
        std::future::ready(result).boxed()
    }

    fn write_buf(&mut self, _buf: Box<dyn bytes::Buf + Send>) -> FsFuture<'_, ()> {
        std::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn write_bytes(&mut self, _buf: Bytes) -> FsFuture<'_, ()> {
        std::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        std::future::ready(Ok(())).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_pass_the_loopback_check() {
        for ok in [
            "localhost",
            "LOCALHOST:8090",
            "127.0.0.1",
            "127.0.0.1:8090",
            "127.1.2.3:80",
            "[::1]:8090",
            "[::1]",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for refused in [
            "evil.example:8090",
            "localhost.evil.example",
            "192.168.1.2:8090",
            "[::2]:8090",
            "0.0.0.0:8090",
            "",
        ] {
            assert!(!is_loopback_host(refused), "{refused}");
        }
        let any = http::HeaderValue::from_static("evil.example");
        assert!(Hosts::Any.allows(Some(&any)));
        assert!(!Hosts::Loopback.allows(Some(&any)));
        assert!(Hosts::Loopback.allows(None), "HTTP/1.0 clients send none");
    }
}
