//! The repository on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, Garage, B2, R2),
//! through Apache OpenDAL's blocking operator, with retries and backoff on transient errors.
//!
//! Location: `s3:<endpoint URL>/<bucket>/<prefix>`; credentials and region from the standard
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION` (default
//! `us-east-1`); path-style requests. Objects are laid out exactly as on disk
//! (`packs/<pp>/<id>`, `index/<id>`, ...), under the prefix.
//!
//! Put-if-absent uses a conditional create (`If-None-Match: *`). Some servers accept the header
//! and ignore it, so before its first put-if-absent the backend probes: it creates a scratch
//! object twice and checks that the second create is refused. Where it is not, put-if-absent
//! falls back to "look, then write". That is safe for Hearth's objects: index segments,
//! snapshots and device keys are named by the keyed hash of their bytes (two writers of one name
//! write the same bytes), packs by that of their sealed header (a random nonce keeps two
//! writers' packs apart), key files and locks by random ids, and `config` is written once by
//! `init`.

use crate::backend::{Backend, FileType, ObjectInfo, PutOutcome, StorageError, valid_name};
use opendal::blocking;
use opendal::layers::RetryLayer;
use opendal::options::{ListOptions, ReadOptions, WriteOptions};
use opendal::{EntryMode, ErrorKind, Operator, services};
use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

/// The runtime OpenDAL's blocking operator drives its requests on.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("starting the runtime for object storage")
});

/// Where a repository lives in a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// `http(s)://host[:port]`, no trailing slash.
    pub endpoint: String,
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3:<endpoint URL>/<bucket>/<prefix>`.
    pub fn parse(location: &str) -> Result<S3Location, String> {
        let bad = |why: &str| {
            format!(
                "{location}: {why}; write s3:<endpoint URL>/<bucket>/<prefix>, e.g. s3:http://127.0.0.1:9000/household/hearth"
            )
        };
        let url = location
            .strip_prefix("s3:")
            .ok_or_else(|| bad("not an s3: location"))?;
        let (scheme, rest) = url
            .split_once("://")
            .filter(|(s, _)| *s == "http" || *s == "https")
            .ok_or_else(|| bad("the endpoint must start with http:// or https://"))?;
        let mut parts = rest.splitn(3, '/');
        let host = parts
            .next()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let bucket = parts
            .next()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| bad("no bucket"))?;
        let prefix = parts.next().unwrap_or("").trim_matches('/').to_string();
        Ok(S3Location {
            endpoint: format!("{scheme}://{host}"),
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// `s3:<endpoint>/<bucket>/<prefix>`.
    pub fn display(&self) -> String {
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("/{}", self.prefix)
        };
        format!("s3:{}/{}{prefix}", self.endpoint, self.bucket)
    }
}

pub struct S3Backend {
    op: blocking::Operator,
    location: S3Location,
    /// Probed on the first put-if-absent, so that a command that takes no lock never writes.
    conditional: OnceLock<bool>,
}

impl S3Backend {
    /// Prepares the client (credentials from the environment); nothing is sent yet.
    pub fn open(location: &S3Location) -> Result<S3Backend, StorageError> {
        opendal::install_default();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut builder = services::S3::default()
            .endpoint(&location.endpoint)
            .bucket(&location.bucket)
            .root(&format!("/{}", location.prefix))
            .region(
                &env("AWS_REGION")
                    .or_else(|| env("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|| "us-east-1".into()),
            )
            .disable_ec2_metadata();
        if let Some(k) = env("AWS_ACCESS_KEY_ID") {
            builder = builder.access_key_id(&k);
        }
        if let Some(k) = env("AWS_SECRET_ACCESS_KEY") {
            builder = builder.secret_access_key(&k);
        }
        if let Some(t) = env("AWS_SESSION_TOKEN") {
            builder = builder.session_token(&t);
        }
        let remote = |e: opendal::Error| StorageError::Remote {
            op: "connecting to",
            path: location.display(),
            detail: e.to_string(),
        };
        let retry = RetryLayer::new()
            .with_max_times(6)
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(5))
            .with_jitter();
        let op = Operator::new(builder).map_err(remote)?.layer(retry);
        let _guard = RUNTIME.enter();
        let op = blocking::Operator::new(op).map_err(remote)?;
        Ok(S3Backend {
            op,
            location: location.clone(),
            conditional: OnceLock::new(),
        })
    }

    /// Whether the server refuses a conditional create of an existing object (probed once).
    pub fn conditional_writes(&self) -> Result<bool, StorageError> {
        if let Some(c) = self.conditional.get() {
            return Ok(*c);
        }
        let probed = self.probe_conditional_create()?;
        Ok(*self.conditional.get_or_init(|| probed))
    }

    fn probe_conditional_create(&self) -> Result<bool, StorageError> {
        let key = format!("hearth-probe-{}", crate::local::hex_random());
        let create = |body: &'static [u8]| {
            self.op.write_options(
                &key,
                body,
                WriteOptions {
                    if_not_exists: true,
                    ..WriteOptions::default()
                },
            )
        };
        let supported = match create(b"1") {
            // A server (or OpenDAL) that rejects the header outright has no conditional creates.
            Err(e) if e.kind() == ErrorKind::Unsupported => false,
            // A retried create whose first response was lost: the server refused to create an
            // existing object, which is what the probe wants to know.
            Err(e) if refused(&e) => true,
            Err(e) => return Err(self.err("writing a probe object", &key, e)),
            Ok(_) => match create(b"2") {
                Err(e) if refused(&e) => true,
                Err(e) => return Err(self.err("writing a probe object", &key, e)),
                Ok(_) => false,
            },
        };
        self.op
            .delete(&key)
            .map_err(|e| self.err("removing the probe object", &key, e))?;
        Ok(supported)
    }

    fn key(&self, t: FileType, name: &str) -> Result<String, StorageError> {
        if !valid_name(t, name) {
            return Err(StorageError::InvalidName {
                path: format!("{}/{name}", t.dir()),
            });
        }
        Ok(match t {
            FileType::Config => "config".to_string(),
            FileType::Pack => format!("{}/{}/{name}", t.dir(), &name[..2]),
            _ => format!("{}/{name}", t.dir()),
        })
    }

    fn err(&self, op: &'static str, key: &str, e: opendal::Error) -> StorageError {
        let path = format!("{}/{key}", self.location.display());
        if e.kind() == ErrorKind::NotFound {
            StorageError::NotFound { path }
        } else {
            StorageError::Remote {
                op,
                path,
                detail: explain(&e),
            }
        }
    }
}

/// A conditional create refused because the object exists.
fn refused(e: &opendal::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConditionNotMatch | ErrorKind::AlreadyExists
    )
}

/// What went wrong, in words a user can act on; OpenDAL's own text otherwise.
fn explain(e: &opendal::Error) -> String {
    let text = format!("{e:?}");
    let known = [
        ("NoSuchBucket", "the bucket does not exist; create it first"),
        (
            "signing credential",
            "no usable credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
        (
            "InvalidAccessKeyId",
            "the access key is not known to the server (AWS_ACCESS_KEY_ID)",
        ),
        (
            "SignatureDoesNotMatch",
            "the secret key is wrong (AWS_SECRET_ACCESS_KEY)",
        ),
        (
            "AccessDenied",
            "access denied: check the credentials and the bucket's policy",
        ),
        (
            "error sending request",
            "cannot reach the server (is it running, and is the endpoint right?)",
        ),
    ];
    let code = text
        .split("code: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|c| format!(", {c}"))
        .unwrap_or_default();
    match known.iter().find(|(needle, _)| text.contains(needle)) {
        Some((_, meaning)) => format!("{meaning} [{}]", e.kind()),
        // One line: the kind, the server's error code if any, OpenDAL's message.
        None => format!("{}{code}: {}", e.kind(), e.message()),
    }
}

impl Backend for S3Backend {
    fn location(&self) -> String {
        self.location.display()
    }

    fn put_if_absent(
        &self,
        t: FileType,
        name: &str,
        bytes: &[u8],
    ) -> Result<PutOutcome, StorageError> {
        let key = self.key(t, name)?;
        if !self.conditional_writes()? {
            if self
                .op
                .exists(&key)
                .map_err(|e| self.err("looking for", &key, e))?
            {
                return Ok(PutOutcome::AlreadyExists);
            }
            self.op
                .write(&key, bytes.to_vec())
                .map_err(|e| self.err("writing", &key, e))?;
            return Ok(PutOutcome::Created);
        }
        let options = WriteOptions {
            if_not_exists: true,
            ..WriteOptions::default()
        };
        match self.op.write_options(&key, bytes.to_vec(), options) {
            Ok(_) => Ok(PutOutcome::Created),
            Err(e) if refused(&e) => Ok(PutOutcome::AlreadyExists),
            Err(e) => Err(self.err("writing", &key, e)),
        }
    }

    fn get(&self, t: FileType, name: &str) -> Result<Vec<u8>, StorageError> {
        let key = self.key(t, name)?;
        let data = self
            .op
            .read(&key)
            .map_err(|e| self.err("reading", &key, e))?;
        Ok(data.to_vec())
    }

    fn read_range_into(
        &self,
        t: FileType,
        name: &str,
        offset: u64,
        len: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), StorageError> {
        buf.clear();
        let key = self.key(t, name)?;
        let options = ReadOptions {
            range: (offset..offset + len).into(),
            ..ReadOptions::default()
        };
        let short = || StorageError::ShortRead {
            path: format!("{}/{key}", self.location.display()),
            offset,
            len,
        };
        let data = self
            .op
            .read_options(&key, options)
            .map_err(|e| match e.kind() {
                // A range that starts past the end: the object is shorter than the index says.
                ErrorKind::RangeNotSatisfied => short(),
                _ => self.err("reading", &key, e),
            })?;
        if data.len() as u64 != len {
            return Err(short());
        }
        buf.reserve_exact(data.len());
        for part in data {
            buf.extend_from_slice(&part);
        }
        Ok(())
    }

    fn list(&self, t: FileType) -> Result<Vec<ObjectInfo>, StorageError> {
        let dir = match t {
            FileType::Config => return Ok(Vec::new()),
            _ => format!("{}/", t.dir()),
        };
        let options = ListOptions {
            recursive: true,
            ..ListOptions::default()
        };
        let entries = match self.op.list_options(&dir, options) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.err("listing", &dir, e)),
        };
        Ok(entries
            .into_iter()
            .filter(|e| e.metadata().mode() == EntryMode::FILE)
            .filter_map(|e| {
                let name = e.name().to_string();
                valid_name(t, &name).then(|| ObjectInfo {
                    name,
                    size: e.metadata().content_length(),
                })
            })
            .collect())
    }

    fn delete(&self, t: FileType, name: &str) -> Result<(), StorageError> {
        let key = self.key(t, name)?;
        match self.op.delete(&key) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err("deleting", &key, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_into_endpoint_bucket_and_prefix() {
        let l = S3Location::parse("s3:http://127.0.0.1:9000/household/hearth").unwrap();
        assert_eq!(l.endpoint, "http://127.0.0.1:9000");
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("household", "hearth")
        );
        assert_eq!(l.display(), "s3:http://127.0.0.1:9000/household/hearth");
        let l = S3Location::parse("s3:https://s3.eu-west-1.amazonaws.com/b/a/deeper/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("b", "a/deeper"));
        let l = S3Location::parse("s3:https://minio.local/bucket").unwrap();
        assert_eq!(l.prefix, "");
        for bad in [
            "s3:ftp://x/b",
            "s3:http:///b",
            "s3:http://host",
            "s3:http://host/",
            "http://x/b",
        ] {
            assert!(S3Location::parse(bad).is_err(), "{bad}");
        }
    }
}
