//! Ending a long-running command cleanly on Ctrl-C, SIGTERM and SIGHUP (`mount`, `webdav`).
//!
//! The signals are blocked in every thread and taken by one thread of their own with
//! sigwait(2), so no signal handler runs and no other thread is interrupted; the command says
//! what a signal does once it is serving ([`Stop::on_signal`]). Until then, a signal ends the
//! process at once, as it would without any of this (a command waiting up to `--lock-wait`
//! for a prune can be stopped).

use anyhow::{Result, bail};
use std::sync::{Arc, Mutex, PoisonError};

/// The signals that stop a server.
const STOP: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

type Handler = Box<dyn FnMut(libc::c_int) + Send>;

pub struct Stop {
    handler: Arc<Mutex<Option<Handler>>>,
}

impl Stop {
    /// Blocks the stop signals in this thread, and so in every thread it starts afterwards,
    /// and starts the thread that waits for them. Call it before any other thread is started
    /// (the lock's refresher, a runtime's workers): a thread that does not block them would
    /// be ended by them.
    pub fn install() -> Result<Self> {
        let set = stop_set();
        // SAFETY: `set` is an initialised signal set; the old mask is not asked for.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            bail!(
                "cannot block SIGINT and SIGTERM: {}",
                std::io::Error::from_raw_os_error(rc)
            );
        }
        let handler: Arc<Mutex<Option<Handler>>> = Arc::default();
        let taken = Arc::clone(&handler);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                loop {
                    let mut signal = 0;
                    // SAFETY: `set` is initialised and `signal` a valid place for the result.
                    if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                        continue;
                    }
                    let mut handler = taken.lock().unwrap_or_else(PoisonError::into_inner);
                    match handler.as_mut() {
                        Some(h) => h(signal),
                        // Not serving yet: end as the signal would have.
                        None => std::process::exit(128 + signal),
                    }
                }
            })?;
        Ok(Self { handler })
    }

    /// What each stop signal does from now on (called on the signal thread, one at a time).
    pub fn on_signal(&self, handler: impl FnMut(libc::c_int) + Send + 'static) {
        let mut slot = self.handler.lock().unwrap_or_else(PoisonError::into_inner);
        *slot = Some(Box::new(handler));
    }
}

fn stop_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset adds valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in STOP {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// A signal's name, for messages.
pub fn name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGINT => "Ctrl-C (SIGINT)",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
