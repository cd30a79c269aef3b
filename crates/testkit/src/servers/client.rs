//! The tests' own S3 client: requests signed by `rusty-s3` (presigned URLs, SigV4), sent by a
//! blocking `ureq` agent. Nothing of Hearth's S3 backend is shared, so what a test sees in a
//! bucket is what another client would see.

use super::REGION;
use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use std::time::Duration;

/// How long a signed URL is valid; a request is sent right after it is signed.
const SIGNED_FOR: Duration = Duration::from_secs(600);
/// Longest one request may take (a debug test run keeps both cores busy).
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest body read (packs are at most 16 MiB and a bit).
const MAX_BODY: u64 = 1 << 30;

/// A request's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// `Content-Length`, when the server sent one (a HEAD's tells the object's size).
    pub content_length: Option<u64>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What to do with one object.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    Get,
    Head,
    Put(&'a [u8]),
    Delete,
}

/// A client of one S3 endpoint on 127.0.0.1, path-style, with one pair of credentials (or
/// none: unsigned requests).
#[derive(Debug)]
pub struct S3Client {
    endpoint: url::Url,
    credentials: Option<Credentials>,
    agent: ureq::Agent,
}

impl S3Client {
    /// A client of `http://127.0.0.1:PORT` (a server, or a proxy in front of one).
    pub fn new(port: u16, access_key: &str, secret_key: &str) -> S3Client {
        S3Client {
            credentials: Some(Credentials::new(access_key, secret_key)),
            ..Self::anonymous(port)
        }
    }

    /// A client that signs nothing (a server that wants signatures refuses it).
    pub fn anonymous(port: u16) -> S3Client {
        S3Client {
            endpoint: format!("http://127.0.0.1:{port}")
                .parse()
                .expect("a loopback URL"),
            credentials: None,
            agent: agent(),
        }
    }

    fn signer(&self) -> &Credentials {
        self.credentials
            .as_ref()
            .expect("bucket requests of the tests are signed")
    }

    fn bucket(&self, name: &str) -> Bucket {
        Bucket::new(
            self.endpoint.clone(),
            UrlStyle::Path,
            name.to_owned(),
            REGION,
        )
        .unwrap_or_else(|e| panic!("bucket {name:?}: {e}"))
    }

    /// One request on one object, whatever its answer; `Err` when no answer came (the
    /// connection was refused, closed or timed out).
    pub fn send(&self, bucket: &str, key: &str, op: Op<'_>) -> Result<Reply, ureq::Error> {
        let b = self.bucket(bucket);
        let c = self.credentials.as_ref();
        let sent = match op {
            Op::Get => {
                let url = b.get_object(c, key).sign(SIGNED_FOR);
                self.agent.get(url.as_str()).call()
            }
            Op::Head => {
                let url = b.head_object(c, key).sign(SIGNED_FOR);
                self.agent.head(url.as_str()).call()
            }
            Op::Put(bytes) => {
                let url = b.put_object(c, key).sign(SIGNED_FOR);
                self.agent.put(url.as_str()).send(bytes)
            }
            Op::Delete => {
                let url = b.delete_object(c, key).sign(SIGNED_FOR);
                self.agent.delete(url.as_str()).call()
            }
        };
        reply(sent?, matches!(op, Op::Head))
    }

    /// Creates a bucket (names are 3 to 63 characters).
    pub fn create_bucket(&self, name: &str) {
        let b = self.bucket(name);
        let action = b.create_bucket(self.signer());
        let r = self
            .agent
            .put(action.sign(SIGNED_FOR).as_str())
            .send(action.body())
            .and_then(|r| reply(r, false))
            .unwrap_or_else(|e| panic!("create bucket {name}: {e}"));
        assert_eq!(r.status, 200, "create bucket {name}: {}", r.text());
    }

    /// Whether the bucket exists (HeadBucket: 200 or 404; anything else panics).
    pub fn bucket_exists(&self, name: &str) -> bool {
        let b = self.bucket(name);
        let url = b.head_bucket(self.credentials.as_ref()).sign(SIGNED_FOR);
        let r = self
            .agent
            .head(url.as_str())
            .call()
            .and_then(|r| reply(r, true))
            .unwrap_or_else(|e| panic!("HEAD bucket {name}: {e}"));
        match r.status {
            200 => true,
            404 => false,
            s => panic!("HEAD bucket {name}: {s}"),
        }
    }

    /// Every key in the bucket, sorted (ListObjectsV2, page by page).
    pub fn list_keys(&self, bucket: &str) -> Vec<String> {
        self.list_keys_paged(bucket, 1000)
    }

    /// [`S3Client::list_keys`], at most `page` keys per request.
    pub fn list_keys_paged(&self, bucket: &str, page: usize) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let r = self
                .list_page(bucket, page, token.as_deref())
                .unwrap_or_else(|e| panic!("list {bucket}: {e}"));
            assert_eq!(r.status, 200, "list {bucket}: {}", r.text());
            let listed = ListObjectsV2::parse_response(&r.text())
                .unwrap_or_else(|e| panic!("list {bucket}: {e}:\n{}", r.text()));
            keys.extend(listed.contents.into_iter().map(|c| c.key));
            token = listed.next_continuation_token;
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        keys
    }

    /// One ListObjectsV2 request (`page` keys at most, from `token`), whatever its answer.
    pub fn list_page(
        &self,
        bucket: &str,
        page: usize,
        token: Option<&str>,
    ) -> Result<Reply, ureq::Error> {
        let b = self.bucket(bucket);
        let mut action = b.list_objects_v2(self.credentials.as_ref());
        action.with_max_keys(page);
        if let Some(t) = token {
            action.with_continuation_token(t);
        }
        let url = action.sign(SIGNED_FOR);
        reply(self.agent.get(url.as_str()).call()?, false)
    }

    /// The bytes of one object; `None` when there is none.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let r = self.expect(bucket, key, Op::Get);
        match r.status {
            200 => Some(r.body),
            404 => None,
            s => panic!("GET {bucket}/{key}: {s} {}", r.text()),
        }
    }

    /// The size of one object; `None` when there is none.
    pub fn head(&self, bucket: &str, key: &str) -> Option<u64> {
        let r = self.expect(bucket, key, Op::Head);
        match r.status {
            200 => Some(r.content_length.expect("a HEAD tells the size")),
            404 => None,
            s => panic!("HEAD {bucket}/{key}: {s}"),
        }
    }

    /// Replaces (or creates) one object.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let r = self.expect(bucket, key, Op::Put(bytes));
        assert_eq!(r.status, 200, "PUT {bucket}/{key}: {}", r.text());
    }

    /// Deletes one object (there or not).
    pub fn delete(&self, bucket: &str, key: &str) {
        let r = self.expect(bucket, key, Op::Delete);
        assert!(
            matches!(r.status, 200 | 204),
            "DELETE {bucket}/{key}: {} {}",
            r.status,
            r.text()
        );
    }

    fn expect(&self, bucket: &str, key: &str, op: Op<'_>) -> Reply {
        self.send(bucket, key, op)
            .unwrap_or_else(|e| panic!("{op:?} {bucket}/{key}: no answer: {e}"))
    }
}

/// Whether anything answers HTTP on 127.0.0.1:`port` (any status).
pub(super) fn answers(port: u16) -> bool {
    agent()
        .get(&format!("http://127.0.0.1:{port}/"))
        .call()
        .is_ok()
}

/// An agent that hands back every status (a 404 or 503 is an answer, not an error), reads no
/// proxy from the environment (only loopback is ours), and gives up after [`TIMEOUT`].
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(TIMEOUT))
        .build()
        .into()
}

fn reply(r: ureq::http::Response<ureq::Body>, head: bool) -> Result<Reply, ureq::Error> {
    let status = r.status().as_u16();
    let content_length = r
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = if head {
        Vec::new()
    } else {
        r.into_body()
            .into_with_config()
            .limit(MAX_BODY)
            .read_to_vec()?
    };
    Ok(Reply {
        status,
        content_length,
        body,
    })
}
