//! How fast the dashboard's pages are on a household of real size (issue 17): each page of
//! `hearth ui` requested over HTTP from a server in this process, cold (the first request, which
//! reads a snapshot's file list) and warm (the same again), with the server's memory.
//!
//! Usage: `cargo run -p hearth-benches --release --bin ui_report -- [BYTES [FILES [NIGHTS [WORKDIR]]]]`
//! (default 1000000000 bytes, 500000 files: `HouseholdSpec::real`, whose first device holds
//! about 200,000 files; 1 night of edits, so that each device has two snapshots). A WORKDIR an
//! earlier report (this one or `export_report`) left is used again.

use hearth_benches::{peak_rss, rss};
use hearth_browse::SnapshotFiles;
use hearth_format::{Snapshot, SnapshotId};
use hearth_repo::Repository;
use hearth_ui::{Server, UiOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "ui_report [BYTES [FILES [NIGHTS [WORKDIR]]]]";
    let num = |i, default| hearth_benches::num_arg(&args, i, default, usage);
    let (bytes, files, nights) = (num(0, 1_000_000_000), num(1, 500_000) as usize, num(2, 1));
    let work = hearth_benches::WorkDir::new(args.get(3));
    let w = work.path();
    println!(
        "ui_report: HouseholdSpec::real({bytes}, {files}), {nights} nights, under {}; {}",
        w.display(),
        hearth_benches::machine()
    );
    if !work.has_repo() {
        hearth_benches::make_household(w, bytes, files, nights as u32);
    }
    let repo: &'static Repository = Box::leak(Box::new(work.open_repo()));
    let all = repo.snapshots().expect("listing snapshots");
    let biggest = biggest_device(&all);
    let (id, snap) = biggest.last().expect("a snapshot").clone();
    let other = all
        .iter()
        .rfind(|(_, s)| s.device.udid != snap.device.udid)
        .map(|(_, s)| s.device.udid.clone());
    let files = SnapshotFiles::load(repo, &snap).expect("the snapshot's files");
    let (wide, children) = widest_folder(&files);
    let photo = files
        .lookup(&wide)
        .and_then(|dir| files.children(dir).first().copied())
        .map(|n| files.path(n));
    drop(files);
    println!(
        "{} snapshots; the biggest device ({}) has {} files in its latest, {} in its widest folder {wide}",
        all.len(),
        snap.device.label(),
        snap.summary.files,
        children
    );

    let before = rss();
    let server = Server::bind(
        repo,
        UiOptions {
            listen: "127.0.0.1:0".parse().expect("an address"),
            password: None,
            backup_sources: Vec::new(),
            ios_passwords: None,
            library: w.join("ui-library"),
            lock_wait: Duration::from_secs(60),
        },
    )
    .expect("binding the dashboard");
    let addr = server.local_addr();
    let url = server.url();
    let stopper = server.stopper();
    let serving = std::thread::spawn(move || server.run());
    let token_path = &url[url.find("/?").expect("a token")..];
    let cookie = session(addr, token_path);

    let hex = id.to_hex();
    let enc = hearth_ui::encode_path;
    let mut pages = vec![
        ("overview", "/".to_owned()),
        ("device timeline", format!("/device/{}", snap.device.udid)),
        ("snapshot tree, root", format!("/snapshot/{hex}/tree/")),
        (
            "widest folder",
            format!("/snapshot/{hex}/tree/{}", enc(&wide)),
        ),
    ];
    if let Some(p) = &photo {
        pages.push(("a file's page", format!("/snapshot/{hex}/file/{}", enc(p))));
        pages.push(("a file's bytes", format!("/snapshot/{hex}/raw/{}", enc(p))));
    }
    if let Some((prev, _)) = biggest.iter().rev().nth(1) {
        pages.push((
            "diff of the last two",
            format!("/diff?from={}&to={hex}", prev.to_hex()),
        ));
    }
    pages.push(("photos of the snapshot", format!("/photos?snapshot={hex}")));
    pages.push((
        "photos of the household",
        "/photos?scope=household".to_owned(),
    ));
    pages.push(("conversations", format!("/messages?snapshot={hex}")));
    if let Some(o) = &other {
        pages.push((
            "restore plan onto another device",
            format!("/restore?snapshot={hex}&target={o}"),
        ));
    }
    // The first overview starts counting the storage figures in the background.
    let t = Instant::now();
    let _ = timed(addr, "/", &cookie);
    loop {
        let (status, _, _) = timed(addr, "/storage", &cookie);
        if status == 200 || t.elapsed() > Duration::from_secs(600) {
            println!(
                "storage figures (hearth stats) ready {:.1} s after the first overview",
                t.elapsed().as_secs_f64()
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "{:<34} {:>6} {:>10} {:>10} {:>10}",
        "page", "status", "cold ms", "warm ms", "KiB"
    );
    for (name, path) in &pages {
        let (status, cold, len) = timed(addr, path, &cookie);
        let (_, warm, _) = timed(addr, path, &cookie);
        println!(
            "{name:<34} {status:>6} {:>10.1} {:>10.1} {:>10}",
            ms(cold),
            ms(warm),
            len / 1024
        );
    }
    println!(
        "server memory: {} MiB resident more than before it started, peak {} MiB",
        rss().saturating_sub(before) / (1 << 20),
        peak_rss().unwrap_or(0) / (1 << 20)
    );
    stopper.stop();
    let _ = serving.join();
}

/// The device with the most files in its latest snapshot: its snapshots, oldest first.
fn biggest_device(all: &[(SnapshotId, Snapshot)]) -> Vec<(SnapshotId, Snapshot)> {
    let latest = all
        .iter()
        .max_by_key(|(_, s)| s.summary.files)
        .expect("a snapshot");
    let udid = &latest.1.device.udid;
    all.iter()
        .filter(|(_, s)| &s.device.udid == udid)
        .cloned()
        .collect()
}

/// The folder with the most children, and how many.
fn widest_folder(files: &SnapshotFiles) -> (String, usize) {
    files
        .walk(SnapshotFiles::ROOT)
        .filter(|n| files.file(*n).is_none())
        .map(|n| (n, files.children(n).len()))
        .max_by_key(|(_, c)| *c)
        .map(|(n, c)| (files.path(n), c))
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The session cookie the token URL sets.
fn session(addr: SocketAddr, token_path: &str) -> String {
    let (status, head, _) = get(addr, token_path, "");
    assert_eq!(status, 303, "the token URL redirects");
    let line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a cookie");
    line["set-cookie:".len()..]
        .trim()
        .split(';')
        .next()
        .expect("name=value")
        .to_owned()
}

fn timed(addr: SocketAddr, path: &str, cookie: &str) -> (u16, Duration, usize) {
    let t = Instant::now();
    let (status, _, body) = get(addr, path, cookie);
    (status, t.elapsed(), body.len())
}

/// One HTTP/1.1 GET, the whole answer read.
fn get(addr: SocketAddr, path: &str, cookie: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connecting");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .expect("sending");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("reading");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, answer[split + 4..].to_vec())
}
