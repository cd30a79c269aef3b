//! `rclone serve s3` over a folder.

use super::{S3Client, S3Server, Server, venv_bin};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `rclone serve s3` over a temporary folder: a bucket is a sub-folder, an object a file. It
/// checks signatures (keys [`RcloneS3::ACCESS_KEY`], [`RcloneS3::SECRET_KEY`]) and ignores
/// `If-None-Match`. Killed when dropped.
pub struct RcloneS3 {
    server: Server,
    client: S3Client,
    dir: tempfile::TempDir,
}

impl RcloneS3 {
    pub const ACCESS_KEY: &'static str = "hearthrcloneaccess";
    pub const SECRET_KEY: &'static str = "hearthrclonesecret";

    /// Starts the server and waits until it answers; `None` only when the test may skip.
    pub fn start() -> Option<RcloneS3> {
        let bin = venv_bin()?;
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("the served folder");
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
        let client = S3Client::new(server.port, Self::ACCESS_KEY, Self::SECRET_KEY);
        Some(RcloneS3 {
            server,
            client,
            dir,
        })
    }

    /// A client of the test's own, signed with this server's credentials.
    pub fn client(&self) -> &S3Client {
        &self.client
    }

    /// The folder the server serves: `<root>/<bucket>/<key>`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A bucket is a folder of the served root.
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir_all(self.root().join(name)).expect("bucket folder");
    }

    /// Every key in the bucket (the files under its folder, read from the disk, not through the
    /// server), sorted.
    pub fn list_keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = Vec::new();
        walk(&self.root().join(bucket), "", &mut keys);
        keys.sort();
        keys
    }

    pub fn log(&self) -> String {
        self.server.log()
    }
}

impl S3Server for RcloneS3 {
    fn port(&self) -> u16 {
        self.server.port
    }

    fn credentials(&self) -> (&'static str, &'static str) {
        (Self::ACCESS_KEY, Self::SECRET_KEY)
    }
}

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
