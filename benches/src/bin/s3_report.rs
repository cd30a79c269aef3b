//! Backup, restore and `check --read-data` of one generated household into a repository on the
//! local disk and into one on S3 (moto's `moto_server` on loopback), alternating, with the
//! throughput of each and the S3/local ratios.
//!
//! Usage: `cargo run -p hearth-benches --release --bin s3_report -- [--no-check] [BYTES [WORKDIR]]`
//! (default 300000000 bytes, in the system's temporary folder). It needs `moto_server` in the
//! venv of `scripts/python-env`: the `bin` folder of `HEARTH_PYTHON`, else
//! `target/python-venv/bin` (`export HEARTH_PYTHON="$(scripts/python-env)"` makes it).
//!
//! What it does, all through the library in this one process:
//! 1. starts `moto_server -H 127.0.0.1 -p PORT` (in memory; killed at the end, also on a panic)
//!    (`hearth_testkit::servers::MotoServer`) and creates a bucket;
//! 2. generates `HouseholdSpec::bench(BYTES)` and `sync`s it;
//! 3. initialises two repositories with the cheap benchmark KDF: a local one in WORKDIR and one
//!    at `s3:http://127.0.0.1:PORT/hearth-bench/household` (its redb cache in WORKDIR);
//! 4. for each phase, local then S3: the first backup of every device into the empty
//!    repository (one write session under the exclusive lock), the restore of the first device,
//!    and `check --read-data` (every pack read and every blob verified).
//!
//! Printed per phase and repository: bytes, wall seconds, MB/s, this process's CPU seconds,
//! moto's CPU seconds and the requests it answered in that window (`/proc/PID/stat`, its log),
//! peak RSS; then a table with the S3/local
//! throughput ratios (below 1: S3 slower). Backup MB/s are of the household's bytes, restore
//! MB/s of the restored files' bytes, check MB/s of the pack bytes read.

use hearth_benches::{
    PASSWORD, Usage, backup_household, fresh_repo, generate_bench_household, load_average,
    peak_rss, repo_options, reset_peak_rss, usage,
};
use hearth_repo::{CheckOptions, NoProgress, ReadData, Repository};
use hearth_storage::{S3Backend, S3Location};
use hearth_testkit::servers::{self, MotoServer, S3Server};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEFAULT_BYTES: u64 = 300_000_000;
const BUCKET: &str = "hearth-bench";
const PREFIX: &str = "household";

/// moto's server, from the test kit, and what this report measures of it.
struct Moto(MotoServer);

impl Moto {
    /// Starts `<bin>/moto_server` on a free port and waits until it answers HTTP.
    fn start(bin: &Path) -> Moto {
        let t = Instant::now();
        let server = MotoServer::start_in(bin);
        println!(
            "moto_server (pid {}) answers on 127.0.0.1:{} after {:.1} s",
            server.pid(),
            server.port(),
            t.elapsed().as_secs_f64()
        );
        Moto(server)
    }

    fn log(&self) -> String {
        self.0.log()
    }

    /// moto's CPU time so far (user + system, all its threads), from `/proc/PID/stat`.
    fn cpu(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0.pid())).ok()?;
        // The command name may hold spaces; the fields after it are fixed.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (hz > 0).then(|| Duration::from_secs_f64(ticks as f64 / hz as f64))
    }

    /// moto's peak resident memory in bytes (`VmHWM`).
    fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line["VmHWM:".len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    }

    /// Requests moto has answered so far, by method (one log line each).
    fn requests(&self) -> Requests {
        let mut r = Requests::default();
        for line in self.log().lines() {
            let line = strip_colours(line);
            if !line.contains(" HTTP/1.1\" ") {
                continue;
            }
            if line.contains("\"GET ") {
                r.get += 1;
            } else if line.contains("\"PUT ") {
                r.put += 1;
            } else {
                r.other += 1;
            }
        }
        r
    }

    /// Stops it (SIGKILL, reaped).
    fn stop(self) {
        drop(self.0);
        println!("moto_server stopped");
    }
}

/// A log line without its ANSI colour codes (werkzeug colours the request by its status, 206
/// and errors included, even into a file).
fn strip_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        rest = &rest[i + 2..];
        match rest.find('m') {
            Some(j) => rest = &rest[j + 1..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// The `bin` folder of the venv holding `moto_server`: `HEARTH_PYTHON`'s folder, else
/// `HEARTH_PY_VENV` or `target/python-venv`.
fn venv_bin() -> PathBuf {
    servers::find_venv_bin(&["moto_server"]).unwrap_or_else(|why| {
        eprintln!(
            "s3_report needs moto_server: {why}; run scripts/python-env (it installs moto[s3] \
             into the venv) and export HEARTH_PYTHON=\"$(scripts/python-env)\""
        );
        std::process::exit(2)
    })
}

/// HTTP requests moto answered.
#[derive(Clone, Copy, Default)]
struct Requests {
    get: u64,
    put: u64,
    /// HEAD, DELETE, POST, ...
    other: u64,
}

impl Requests {
    fn total(&self) -> u64 {
        self.get + self.put + self.other
    }
}

impl std::ops::Sub for Requests {
    type Output = Requests;
    fn sub(self, o: Requests) -> Requests {
        Requests {
            get: self.get.saturating_sub(o.get),
            put: self.put.saturating_sub(o.put),
            other: self.other.saturating_sub(o.other),
        }
    }
}

/// What one phase cost on one repository.
#[derive(Clone, Copy)]
struct Measured {
    bytes: u64,
    wall: Duration,
    used: Usage,
    /// moto's CPU time in the same window.
    server_cpu: Option<Duration>,
    /// Requests moto answered in the same window.
    requests: Requests,
    peak_rss: Option<u64>,
}

impl Measured {
    fn run<T>(moto: &Moto, bytes: impl FnOnce(&T) -> u64, f: impl FnOnce() -> T) -> (T, Measured) {
        reset_peak_rss();
        let r0 = moto.requests();
        let (u0, s0, t0) = (usage(), moto.cpu(), Instant::now());
        let out = f();
        let wall = t0.elapsed();
        let used = usage() - u0;
        let peak_rss = peak_rss();
        // Outside the timed window: moto logs a request just after answering it.
        std::thread::sleep(Duration::from_millis(200));
        let requests = moto.requests() - r0;
        let server_cpu = match (s0, moto.cpu()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let m = Measured {
            bytes: bytes(&out),
            wall,
            used,
            server_cpu,
            requests,
            peak_rss,
        };
        (out, m)
    }

    fn mb_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }

    fn print(&self, name: &str) {
        let wall = self.wall.as_secs_f64();
        println!(
            "  {name:<34} {:>11} bytes {wall:7.2} s {:7.1} MB/s | CPU {:6.2} s ({:.2} cores), moto {} | peak RSS {}",
            self.bytes,
            self.mb_s(),
            self.used.cpu.as_secs_f64(),
            self.used.cpu.as_secs_f64() / wall,
            self.server_cpu
                .map_or("?".into(), |c| format!("{:6.2} s", c.as_secs_f64())),
            self.peak_rss
                .map_or("?".into(), |b| format!("{:.0} MiB", b as f64 / 1048576.0)),
        );
        let r = self.requests;
        if r.total() > 0 {
            println!(
                "  {:<34} {} requests to moto ({} GET, {} PUT, {} other), {:.0} bytes per request",
                "",
                r.total(),
                r.get,
                r.put,
                r.other,
                self.bytes as f64 / r.total() as f64
            );
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() {
    let mut check = true;
    let mut rest = Vec::new();
    for a in std::env::args().skip(1) {
        if a == "--no-check" {
            check = false;
        } else {
            rest.push(a);
        }
    }
    let usage_exit = || -> ! {
        eprintln!(
            "usage: s3_report [--no-check] [BYTES [WORKDIR]]   (a household of about BYTES bytes, \
             default {DEFAULT_BYTES}, backed up to the local disk under WORKDIR and to moto on loopback)"
        );
        std::process::exit(2)
    };
    if rest.len() > 2 {
        usage_exit();
    }
    let bytes = match rest.first() {
        None => DEFAULT_BYTES,
        Some(a) => a.parse().unwrap_or_else(|_| usage_exit()),
    };

    // The S3 backend reads credentials and region from the environment; give it moto's and
    // nothing else of the caller's AWS set-up, and keep loopback away from any proxy.
    // SAFETY: no other thread exists yet (nothing has been spawned, the runtimes start later).
    unsafe {
        for var in servers::FOREIGN_ENV {
            std::env::remove_var(var);
        }
        std::env::set_var("AWS_ACCESS_KEY_ID", MotoServer::ACCESS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", MotoServer::SECRET_KEY);
        std::env::set_var("AWS_REGION", servers::REGION);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
        std::env::set_var("no_proxy", "127.0.0.1,localhost");
    }

    let bin = venv_bin();
    let work = match rest.get(1) {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("a temporary folder");
    let moto = Moto::start(&bin);
    moto.0.create_bucket(BUCKET);

    let household = generate_bench_household(bytes, work.path());

    // Initialise both repositories outside the timed phases.
    let t = Instant::now();
    let local = fresh_repo(&work.path().join("local"));
    let local_init = t.elapsed();
    let location = moto.0.repo_location(BUCKET, PREFIX);
    let t = Instant::now();
    let s3_dir = work.path().join("s3");
    let backend = S3Backend::open(&S3Location::parse(&location).expect("an s3: location"))
        .unwrap_or_else(|e| {
            panic!(
                "opening {location}: {e}\nmoto's log:\n{}",
                tail(&moto.log())
            )
        });
    // Probed here, inside the timed init, rather than at the backup's first put-if-absent.
    let conditional = backend.conditional_writes().unwrap_or_else(|e| {
        panic!(
            "probing conditional creates on {location}: {e}\nmoto's log:\n{}",
            tail(&moto.log())
        )
    });
    let s3 = Repository::init(Arc::new(backend), PASSWORD, &repo_options(&s3_dir))
        .unwrap_or_else(|e| panic!("initialising {location}: {e}"));
    let s3_init = t.elapsed();
    println!(
        "repositories: local {} (init {:.3} s), {location} (init {:.3} s; conditional creates: {})",
        work.path().join("local/repo").display(),
        local_init.as_secs_f64(),
        s3_init.as_secs_f64(),
        if conditional { "yes" } else { "no, fallback" }
    );
    println!(
        "{} cores, load average before the backups: {}",
        cores(),
        load_average().map_or("unknown".into(), |l| format!("{l:.2}"))
    );

    let repos = [("local", &local), ("S3", &s3)];
    let mut rows: Vec<(String, [Measured; 2])> = Vec::new();

    println!("\nbackup of every device into the empty repository:");
    let mut backups = Vec::new();
    for (name, repo) in repos {
        let (stats, m) = Measured::run(
            &moto,
            |_| household.bytes(),
            || backup_household(repo, &household),
        );
        m.print(name);
        println!(
            "  {:<34} wrote {} blobs, {} raw bytes, {} stored bytes",
            "", stats.blobs, stats.raw_bytes, stats.stored_bytes
        );
        backups.push(m);
    }
    rows.push(("backup (all devices)".into(), [backups[0], backups[1]]));

    let device = &household.devices[0];
    println!("\nrestore of {} ({} bytes):", device.name, device.bytes);
    let mut restores = Vec::new();
    let mut reports = Vec::new();
    for (name, repo) in repos {
        let out = work.path().join(format!("restored-{name}"));
        let (report, m) = Measured::run(
            &moto,
            |r: &hearth_restore::RestoreReport| r.bytes,
            || {
                let (_, snap) = repo
                    .find_snapshot(&format!("{}@latest", device.udid))
                    .expect("the device's snapshot");
                let plan = hearth_restore::plan_restore(repo, &snap, &Default::default())
                    .expect("planning the restore");
                hearth_restore::execute(repo, &plan, &out, &NoProgress).expect("restoring")
            },
        );
        m.print(name);
        reports.push((report.files, report.bytes));
        restores.push(m);
    }
    assert_eq!(
        reports[0], reports[1],
        "the restores from the two repositories differ in files or bytes"
    );
    rows.push((
        format!("restore ({})", device.name),
        [restores[0], restores[1]],
    ));

    if check {
        println!("\ncheck --read-data:");
        let mut checks = Vec::new();
        for (name, repo) in repos {
            let (report, m) = Measured::run(
                &moto,
                |r: &hearth_repo::CheckReport| r.bytes_read,
                || {
                    repo.check(
                        CheckOptions {
                            read_data: ReadData::All,
                        },
                        &NoProgress,
                    )
                    .expect("checking")
                },
            );
            m.print(name);
            assert!(report.is_ok(), "check found damage: {:?}", report.damage);
            println!(
                "  {:<34} {} packs read, {} blobs verified",
                "", report.packs_read, report.blobs_checked
            );
            checks.push(m);
        }
        rows.push(("check --read-data".into(), [checks[0], checks[1]]));
    }

    let moto_rss = moto.peak_rss();
    let errors = moto
        .log()
        .lines()
        .map(strip_colours)
        .filter(|l| l.contains("\" 5") || l.contains("Traceback"))
        .count();
    moto.stop();

    println!(
        "\nmoto: peak RSS {}, {errors} log lines with a 5xx answer or a traceback",
        moto_rss.map_or("?".into(), |b| format!("{:.0} MiB", b as f64 / 1048576.0))
    );
    println!();
    println!(
        "| phase | local MB/s | S3 MB/s | S3/local | local s | S3 s | hearth CPU s local / S3 | moto CPU s | S3 requests |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (phase, [l, s]) in &rows {
        println!(
            "| {phase} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} / {:.2} | {} | {} |",
            l.mb_s(),
            s.mb_s(),
            s.mb_s() / l.mb_s(),
            l.wall.as_secs_f64(),
            s.wall.as_secs_f64(),
            l.used.cpu.as_secs_f64(),
            s.used.cpu.as_secs_f64(),
            s.server_cpu
                .map_or("?".into(), |c| format!("{:.2}", c.as_secs_f64())),
            s.requests.total()
        );
    }
}

/// The last lines of a log, for error messages.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
