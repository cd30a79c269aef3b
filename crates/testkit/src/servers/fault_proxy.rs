//! A TCP proxy that injects faults between `hearth` and an S3 server: it forwards one HTTP/1.1
//! request per connection and, by its [`FaultPlan`], answers `503 Service Unavailable` itself,
//! closes the connection in the middle of a request, or passes a request on and loses the
//! response. It reads requests and responses only as far as their framing (heads,
//! `Content-Length`, chunks), so that it can count them and cut them where it wants.

use super::location;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

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
// HTTP/1.1 framing, as far as the proxy needs it.

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
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
