//! Long operations: one at a time per repository, on their own thread, with progress the pages
//! poll.
//!
//! A [`Job`] lives in the server, not in a page: a reloaded page (or another tab) finds the job
//! running and its progress where it is. [`Jobs::start`] refuses a second job while one runs,
//! naming the one that runs. Finished jobs are kept ([`KEPT`]) with their outcome.

use hearth_repo::Progress;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Finished jobs kept for the jobs page.
pub const KEPT: usize = 20;
/// Log lines kept per job (the last ones).
const LOG_LINES: usize = 200;

/// How a job ended, or that it has not.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    Running,
    /// Done; `warnings` when something was skipped or left out.
    Finished {
        summary: String,
        warnings: bool,
    },
    Failed {
        error: String,
    },
}

/// What a job's work returns: a sentence for the page, whether there were warnings, and where
/// its result can be seen (a page of this server).
pub struct Finished {
    pub summary: String,
    pub warnings: bool,
    pub link: Option<String>,
}

pub struct Job {
    pub id: u64,
    pub title: String,
    pub started: i64,
    pub progress: JobProgress,
    state: Mutex<(JobState, Option<String>, Option<i64>)>,
}

/// A job's progress as the libraries report it ([`Progress`]): the phase, how much of it is
/// done, and log lines.
#[derive(Default)]
pub struct JobProgress {
    phase: Mutex<String>,
    /// `u64::MAX` when the phase's total is not known.
    total: AtomicU64,
    done: AtomicU64,
    log: Mutex<VecDeque<String>>,
}

impl Progress for JobProgress {
    fn start(&self, phase: &str, total: Option<u64>) {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase.to_owned();
        self.total
            .store(total.unwrap_or(u64::MAX), Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

impl JobProgress {
    /// A line for the job's log on the page.
    pub fn log(&self, line: impl Into<String>) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.len() == LOG_LINES {
            log.pop_front();
        }
        log.push_back(line.into());
    }
}

/// A job as pages and `/api/jobs` show it.
#[derive(Serialize, Clone, Debug)]
pub struct JobView {
    pub id: u64,
    pub title: String,
    pub started: i64,
    pub ended: Option<i64>,
    #[serde(flatten)]
    pub state: JobState,
    pub phase: String,
    pub done: u64,
    pub total: Option<u64>,
    /// Done of total, 0 to 1, when the total is known.
    pub fraction: Option<f64>,
    pub log: Vec<String>,
    pub link: Option<String>,
}

impl Job {
    pub fn view(&self) -> JobView {
        let p = &self.progress;
        let total = Some(p.total.load(Ordering::Relaxed)).filter(|t| *t != u64::MAX);
        let done = p.done.load(Ordering::Relaxed);
        let (state, link, ended) = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        JobView {
            id: self.id,
            title: self.title.clone(),
            started: self.started,
            ended,
            state,
            phase: p
                .phase
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            done,
            total,
            fraction: total
                .filter(|t| *t > 0)
                .map(|t| (done as f64 / t as f64).min(1.0)),
            log: p
                .log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .cloned()
                .collect(),
            link,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(
            self.state.lock().unwrap_or_else(PoisonError::into_inner).0,
            JobState::Running
        )
    }

    fn end(&self, result: Result<Finished, String>) {
        let ended = Some(hearth_repo::unix_now());
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = match result {
            Ok(f) => (
                JobState::Finished {
                    summary: f.summary,
                    warnings: f.warnings,
                },
                f.link,
                ended,
            ),
            Err(error) => (JobState::Failed { error }, None, ended),
        };
    }
}

#[derive(Default)]
pub struct Jobs {
    inner: Mutex<JobsInner>,
}

#[derive(Default)]
struct JobsInner {
    next_id: u64,
    /// Newest last; the running one (if any) is the last.
    jobs: VecDeque<Arc<Job>>,
}

impl Jobs {
    /// Starts `work` on a thread of its own, unless a job runs (then the error names it).
    pub fn start(
        &self,
        title: impl Into<String>,
        work: impl FnOnce(&JobProgress) -> Result<Finished, String> + Send + 'static,
    ) -> Result<Arc<Job>, String> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = inner.jobs.iter().find(|j| j.is_running()) {
            return Err(format!(
                "“{}” is running; one operation at a time: wait for it to finish",
                running.title
            ));
        }
        inner.next_id += 1;
        let job = Arc::new(Job {
            id: inner.next_id,
            title: title.into(),
            started: hearth_repo::unix_now(),
            progress: JobProgress::default(),
            state: Mutex::new((JobState::Running, None, None)),
        });
        inner.jobs.push_back(job.clone());
        while inner.jobs.len() > KEPT + 1 {
            inner.jobs.pop_front();
        }
        let running = job.clone();
        std::thread::Builder::new()
            .name(format!("hearth-ui-job-{}", job.id))
            .spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    work(&running.progress)
                }))
                .unwrap_or_else(|_| {
                    Err("the operation stopped unexpectedly (a bug: please report it)".into())
                });
                running.end(result);
            })
            .map_err(|e| format!("cannot start a thread for the operation: {e}"))?;
        Ok(job)
    }

    /// Every kept job, newest first.
    pub fn all(&self) -> Vec<Arc<Job>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.jobs.iter().rev().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.all().into_iter().find(|j| j.id == id)
    }

    /// The job that runs now, if any.
    pub fn running(&self) -> Option<Arc<Job>> {
        self.all().into_iter().find(|j| j.is_running())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn wait_done(job: &Job) -> JobView {
        for _ in 0..500 {
            if !job.is_running() {
                return job.view();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("job did not finish");
    }

    #[test]
    fn one_job_at_a_time_and_its_progress_is_kept() {
        let jobs = Jobs::default();
        let (go, wait) = mpsc::channel::<()>();
        let first = jobs
            .start("check", move |p| {
                p.start("reading packs", Some(4));
                p.advance(1);
                wait.recv().unwrap();
                p.advance(3);
                Ok(Finished {
                    summary: "no errors".into(),
                    warnings: false,
                    link: None,
                })
            })
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let busy = jobs.start("prune", |_| unreachable!()).err().unwrap();
        assert!(busy.contains("“check” is running"), "{busy}");
        let view = first.view();
        assert_eq!(
            (view.phase.as_str(), view.done, view.total),
            ("reading packs", 1, Some(4))
        );
        go.send(()).unwrap();
        let done = wait_done(&first);
        assert_eq!(done.fraction, Some(1.0));
        assert_eq!(
            done.state,
            JobState::Finished {
                summary: "no errors".into(),
                warnings: false
            }
        );
        let second = jobs
            .start("prune", |_| Err("repository locked".into()))
            .unwrap();
        assert_eq!(
            wait_done(&second).state,
            JobState::Failed {
                error: "repository locked".into()
            }
        );
        assert_eq!(jobs.all().iter().map(|j| j.id).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn a_panicking_job_fails_and_frees_the_runner() {
        let jobs = Jobs::default();
        let job = jobs.start("bad", |_| panic!("boom")).unwrap();
        assert!(matches!(wait_done(&job).state, JobState::Failed { .. }));
        assert!(jobs.running().is_none());
    }
}
