//! Real `hearth` processes for the tests that orchestrate several at once: spawn with output
//! captured to files, wait with a deadline, stop and resume (SIGSTOP/SIGCONT) at exact moments.

use super::World;
use serde_json::Value;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Longest a process may run in these tests (debug build, loaded machine).
pub const LIMIT: Duration = Duration::from_secs(150);
const POLL: Duration = Duration::from_millis(2);

/// A running process; killed if the test ends (or panics) while it runs.
pub struct Proc {
    child: Child,
    name: String,
    out: PathBuf,
    err: PathBuf,
}

pub struct Ended {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Ended {
    pub fn describe(&self) -> String {
        format!(
            "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status.code(),
            self.stdout,
            self.stderr
        )
    }

    pub fn ok(&self, what: &str) -> &Self {
        assert_eq!(self.status.code(), Some(0), "{what}:\n{}", self.describe());
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", self.describe()))
    }
}

impl Proc {
    /// Starts `cmd`, its stdout and stderr going to `<world>/<name>.stdout|stderr`.
    pub fn spawn(mut cmd: Command, w: &World, name: &str) -> Proc {
        let out = w.path(&format!("{name}.stdout"));
        let err = w.path(&format!("{name}.stderr"));
        let child = cmd
            .stdout(Stdio::from(fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(fs::File::create(&err).unwrap()))
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Proc {
            child,
            name: name.to_owned(),
            out,
            err,
        }
    }

    /// `hearth ARGS` in the world `w`.
    pub fn run(w: &World, name: &str, args: &[&str]) -> Proc {
        Proc::spawn(w.cmd(args), w, name)
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    pub fn wait(self) -> Ended {
        let name = self.name.clone();
        self.wait_named(&name)
    }

    /// Waits up to [`LIMIT`], naming the process `what` if it overruns.
    pub fn wait_named(mut self, what: &str) -> Ended {
        let start = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if start.elapsed() > LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("{what} did not end within {LIMIT:?}:\n{}", self.stderr());
            }
            std::thread::sleep(POLL);
        };
        Ended {
            status,
            stdout: fs::read_to_string(&self.out).unwrap(),
            stderr: fs::read_to_string(&self.err).unwrap(),
        }
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Sends `signal` (SIGTERM, SIGINT).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) with a signal number; the child is ours and not yet reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
    }

    /// Polls this process's stdout until a line contains `text`, and returns that line;
    /// panics if it ends first.
    pub fn wait_for_stdout(&mut self, text: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.stdout().lines().find(|l| l.contains(text)) {
                return line.to_owned();
            }
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "{} ended ({st}) without printing {text:?}:\n{}\n{}",
                    self.name,
                    self.stdout(),
                    self.stderr()
                );
            }
            assert!(
                start.elapsed() < LIMIT,
                "{}: no {text:?} within {LIMIT:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls this process's stderr until it contains `text`; panics if it ends first.
    pub fn wait_for_stderr(&mut self, text: &str) {
        let start = Instant::now();
        loop {
            if self.stderr().contains(text) {
                return;
            }
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "{} ended ({st}) without printing {text:?}:\n{}\n{}",
                    self.name,
                    fs::read_to_string(&self.out).unwrap_or_default(),
                    self.stderr()
                );
            }
            assert!(
                start.elapsed() < LIMIT,
                "{}: no {text:?} within {LIMIT:?}",
                self.name
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A test that panics while a process runs does not leave it behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn freeze(pid: u32) {
    // SAFETY: kill(2) with a signal number; the child is ours and not yet reaped.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
    let start = Instant::now();
    loop {
        let stopped = match fs::read_dir(format!("/proc/{pid}/task")) {
            Err(_) => true,
            Ok(rd) => rd.flatten().all(|t| {
                fs::read_to_string(t.path().join("stat")).map_or(true, |st| {
                    let state = st
                        .rsplit_once(')')
                        .and_then(|(_, r)| r.trim_start().chars().next());
                    matches!(state, Some('T' | 't' | 'Z' | 'X'))
                })
            }),
        };
        if stopped {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pid {pid} does not stop"
        );
        std::thread::yield_now();
    }
}

pub fn thaw(pid: u32) {
    // SAFETY: as in `freeze`.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGCONT) };
}
