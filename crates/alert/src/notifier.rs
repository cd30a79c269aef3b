//! The queue and the threads that send: one lane per target, each a bounded queue and one
//! thread, so that a slow or dead target delays no other.
//!
//! Invariants: `send` holds a lane's mutex only to push (never during I/O), so it never waits
//! for the network; a full queue drops its oldest notification and counts it; `finish`
//! returns by its deadline whatever the threads are doing (they are detached, and end with
//! the process).

use crate::deliver::{Http, Post, RetryPolicy, Verdict, judge};
use crate::error::AlertError;
use crate::event::{Event, Stamped};
use crate::target::{Request, Target};
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Notifications a lane holds before it drops the oldest.
pub const QUEUE: usize = 64;

/// A notification that did not reach its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailure {
    /// The target as [`Target::shown`] names it: no secret parts.
    pub target: String,
    /// The event's kind (`backup_failed`, ...).
    pub event: &'static str,
    pub reason: String,
}

impl fmt::Display for DeliveryFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.target, self.event, self.reason)
    }
}

/// Sends events to every target given, in the background. See the crate's documentation.
pub struct Notifier {
    lanes: Vec<Lane>,
    host: String,
}

struct Lane {
    target: Target,
    shared: Arc<Shared>,
}

struct Job {
    event: &'static str,
    request: Request,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// The thread is sending a job (taken off the queue).
    busy: bool,
    /// Of the kinds of the jobs a full queue dropped, the first, and how many.
    dropped: Option<(&'static str, u64)>,
    failures: Vec<DeliveryFailure>,
    /// No more jobs will come: the thread ends when the queue is empty.
    closing: bool,
    /// After it, nothing is tried (set by `finish`).
    deadline: Option<Instant>,
}

impl Notifier {
    /// A notifier for `urls` (see [`Target`] for what each kind of URL gets); none is fine
    /// and sends nothing.
    pub fn new(urls: &[String]) -> Result<Notifier, AlertError> {
        Self::with_policy(urls, RetryPolicy::default())
    }

    pub fn with_policy(urls: &[String], policy: RetryPolicy) -> Result<Notifier, AlertError> {
        Self::with_transport(urls, policy, || Box::new(Http::new()))
    }

    fn with_transport(
        urls: &[String],
        policy: RetryPolicy,
        transport: impl Fn() -> Box<dyn Post>,
    ) -> Result<Notifier, AlertError> {
        let targets = urls
            .iter()
            .map(|u| Target::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        let mut lanes = Vec::new();
        for target in targets {
            let shared = Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
            });
            let worker = Worker {
                shared: shared.clone(),
                post: transport(),
                policy: policy.clone(),
                target: target.clone(),
            };
            std::thread::Builder::new()
                .name("hearth-notify".into())
                .spawn(move || worker.run())
                .map_err(AlertError::Thread)?;
            lanes.push(Lane { target, shared });
        }
        Ok(Notifier {
            lanes,
            host: hearth_repo::hostname(),
        })
    }

    /// No target: `send` does nothing.
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// The targets as messages may name them.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.lanes.iter().map(|l| l.target.shown())
    }

    /// Queues `event` for every target that is told of its kind; returns at once.
    pub fn send(&self, event: Event) {
        let stamped = Stamped::new(event, hearth_repo::unix_now(), &self.host);
        for lane in &self.lanes {
            if let Some(request) = lane.target.request(&stamped) {
                lane.shared.push(Job {
                    event: stamped.event.kind(),
                    request,
                });
            }
        }
    }

    /// The failures so far, taken (a long-running `hearth watch` logs them as they come).
    pub fn take_failures(&self) -> Vec<DeliveryFailure> {
        let mut all = Vec::new();
        for lane in &self.lanes {
            all.append(&mut lane.shared.lock().failures);
        }
        all
    }

    /// Waits at most `within` for what is queued to be sent; returns what was not.
    pub fn finish(self, within: Duration) -> Vec<DeliveryFailure> {
        let deadline = Instant::now() + within;
        for lane in &self.lanes {
            lane.shared.close(Some(deadline));
        }
        let mut all = Vec::new();
        for lane in &self.lanes {
            all.extend(lane.shared.wait_idle(deadline, lane.target.shown(), within));
        }
        all
    }
}

impl Drop for Notifier {
    /// The threads send what is queued (with no deadline), then end.
    fn drop(&mut self) {
        for lane in &self.lanes {
            lane.shared.close(None);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, job: Job) {
        let mut s = self.lock();
        if s.queue.len() >= QUEUE
            && let Some(oldest) = s.queue.pop_front()
        {
            s.dropped.get_or_insert((oldest.event, 0)).1 += 1;
        }
        s.queue.push_back(job);
        self.changed.notify_all();
    }

    fn close(&self, deadline: Option<Instant>) {
        let mut s = self.lock();
        s.closing = true;
        s.deadline = s.deadline.or(deadline);
        self.changed.notify_all();
    }

    /// The next job, waiting for one; `None` once closing and empty.
    fn next(&self) -> Option<Job> {
        let mut s = self.lock();
        loop {
            if let Some(job) = s.queue.pop_front() {
                s.busy = true;
                return Some(job);
            }
            if s.closing {
                return None;
            }
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn done(&self, failure: Option<DeliveryFailure>) {
        let mut s = self.lock();
        s.busy = false;
        s.failures.extend(failure);
        self.changed.notify_all();
    }

    /// Waits `pause`; false (at once) when a deadline falls before its end.
    fn pause(&self, pause: Duration) -> bool {
        let until = Instant::now() + pause;
        let mut s = self.lock();
        loop {
            if s.deadline.is_some_and(|d| until >= d) {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            s = (self.changed.wait_timeout(s, until - now))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// How long the next attempt may take: `most`, or less when a deadline is near; `None`
    /// when it has passed.
    fn time_left(&self, most: Duration) -> Option<Duration> {
        match self.lock().deadline {
            None => Some(most),
            Some(d) => (d.checked_duration_since(Instant::now()))
                .filter(|left| !left.is_zero())
                .map(|left| left.min(most)),
        }
    }

    /// Waits until nothing is queued or sending, or `deadline`; then the failures, with one
    /// for what was dropped and one for what is left.
    fn wait_idle(&self, deadline: Instant, shown: &str, within: Duration) -> Vec<DeliveryFailure> {
        let mut s = self.lock();
        while !s.queue.is_empty() || s.busy {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            s = (self.changed.wait_timeout(s, left))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let mut all = std::mem::take(&mut s.failures);
        let failure = |event, reason| DeliveryFailure {
            target: shown.to_owned(),
            event,
            reason,
        };
        if let Some((event, n)) = s.dropped {
            all.push(failure(
                event,
                format!("{n} notification(s) dropped: more were waiting than could be sent"),
            ));
        }
        let left = s.queue.len() + usize::from(s.busy);
        if left > 0 {
            let event = (s.queue.front()).map_or("notification", |j| j.event);
            all.push(failure(
                event,
                format!(
                    "{left} notification(s) not sent within {} s",
                    within.as_secs_f64()
                ),
            ));
        }
        all
    }
}

/// A lane's thread.
struct Worker {
    shared: Arc<Shared>,
    post: Box<dyn Post>,
    policy: RetryPolicy,
    target: Target,
}

impl Worker {
    fn run(mut self) {
        while let Some(job) = self.shared.next() {
            let failure = self.deliver(&job.request).err().map(|why| DeliveryFailure {
                target: self.target.shown().to_owned(),
                event: job.event,
                reason: why.replace(self.target.secret_url(), self.target.shown()),
            });
            self.shared.done(failure);
        }
    }

    /// Tries `request` by the policy: Ok once delivered, else why not.
    fn deliver(&mut self, request: &Request) -> Result<(), String> {
        let attempts = self.policy.delays.len() + 1;
        let mut last = String::from("not tried");
        for attempt in 0..attempts {
            let no_time = |last: &str| format!("{last} (no time left to try again)");
            if attempt > 0 && !self.shared.pause(self.policy.delays[attempt - 1]) {
                return Err(no_time(&last));
            }
            let Some(timeout) = self.shared.time_left(self.policy.timeout) else {
                return Err(no_time(&last));
            };
            match judge(&self.post.post(request, timeout)) {
                Verdict::Delivered => return Ok(()),
                Verdict::GiveUp(why) => return Err(why),
                Verdict::Retry(why) => last = why,
            }
        }
        let plural = if attempts == 1 { "" } else { "s" };
        Err(format!("{last} (after {attempts} attempt{plural})"))
    }
}

#[cfg(test)]
mod tests;
