//! Progress bars on stderr when it is a terminal; nothing otherwise. Devices backed up at the
//! same time each draw their own bar ([`Bars::child`]).

use hearth_repo::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

pub struct Bars {
    /// Where bars are drawn; `None` when stderr is not a terminal.
    multi: Option<MultiProgress>,
    /// Shown before each phase's name.
    label: String,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            multi,
            label: String::new(),
            bar: Mutex::new(None),
        }
    }

    /// Bars drawn beside this one's, their phases labelled `label`.
    pub fn child(&self, label: &str) -> Self {
        Self {
            multi: self.multi.clone(),
            label: format!("{label}: "),
            bar: Mutex::new(None),
        }
    }
}

impl Progress for Bars {
    fn start(&self, phase: &str, total: Option<u64>) {
        let Some(multi) = &self.multi else {
            return;
        };
        let bar = match total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template(
                    "{msg:>16} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            ),
            // What is left is not known up front (a backup reads files as it finds them).
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{msg:>16} {spinner} {bytes} {bytes_per_sec}")
                    .expect("valid template"),
            ),
        };
        let bar = multi.add(bar);
        // The label is escaped by the caller; a phase may name a file.
        bar.set_message(format!("{}{}", self.label, crate::output::esc_text(phase)));
        if let Some(old) = self.bar.lock().expect("bar").replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64) {
        if let Some(b) = &*self.bar.lock().expect("bar") {
            b.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("bar").take() {
            b.finish_and_clear();
            if let Some(multi) = &self.multi {
                multi.remove(&b);
            }
        }
    }
}
