//! moto's S3 server, in memory.

use super::{S3Client, S3Server, Server, venv_bin};
use std::path::Path;
use std::process::Command;

/// moto's S3 on a free port of 127.0.0.1, in memory; killed when dropped. It takes any
/// credentials (it checks no signature) and honours conditional writes.
pub struct MotoServer {
    server: Server,
    client: S3Client,
    _dir: tempfile::TempDir,
}

impl MotoServer {
    /// The credentials `hearth` and [`MotoServer::client`] are given.
    pub const ACCESS_KEY: &'static str = "hearthtestaccesskey";
    pub const SECRET_KEY: &'static str = "hearthtestsecretkey";

    /// Starts `moto_server` from the test venv and waits until it answers; `None` only when
    /// the test may skip (see [`super`]).
    pub fn start() -> Option<MotoServer> {
        Some(Self::start_in(&venv_bin()?))
    }

    /// Starts `<bin>/moto_server` and waits until it answers; panics if it does not.
    pub fn start_in(bin: &Path) -> MotoServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = Server::start("moto_server", dir.path().join("moto.log"), |port| {
            let mut c = Command::new(bin.join("moto_server"));
            c.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir.path())
                .env_remove("INITIAL_NO_AUTH_ACTION_COUNT")
                .env("MOTO_ALLOW_NONEXISTENT_REGION", "true");
            c
        });
        let client = S3Client::new(server.port, Self::ACCESS_KEY, Self::SECRET_KEY);
        MotoServer {
            server,
            client,
            _dir: dir,
        }
    }

    /// The server's process id (for its CPU time and memory in `/proc`).
    pub fn pid(&self) -> u32 {
        self.server.child.id()
    }

    /// A client of the test's own, signed with this server's credentials.
    pub fn client(&self) -> &S3Client {
        &self.client
    }

    pub fn create_bucket(&self, name: &str) {
        self.client.create_bucket(name);
    }

    /// Every key in the bucket, sorted.
    pub fn list_keys(&self, bucket: &str) -> Vec<String> {
        self.client.list_keys(bucket)
    }

    /// The bytes of one object; `None` when there is none.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.client.get(bucket, key)
    }

    /// Replaces (or creates) one object: damage done behind Hearth's back.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        self.client.put(bucket, key, bytes);
    }

    pub fn delete(&self, bucket: &str, key: &str) {
        self.client.delete(bucket, key);
    }

    /// What moto printed (one line per request).
    pub fn log(&self) -> String {
        self.server.log()
    }
}

impl S3Server for MotoServer {
    fn port(&self) -> u16 {
        self.server.port
    }

    fn credentials(&self) -> (&'static str, &'static str) {
        (Self::ACCESS_KEY, Self::SECRET_KEY)
    }
}
