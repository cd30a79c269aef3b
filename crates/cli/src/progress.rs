//! Progress bars on stderr when it is a terminal; nothing otherwise.

use hearth_repo::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    enabled: bool,
}

impl Bars {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            enabled: std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for Bars {
    fn start(&self, phase: &str, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t).with_style(
                ProgressStyle::with_template(
                    "{msg:>16} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_message(phase.to_string());
        *self.bar.lock().expect("bar") = Some(bar);
    }

    fn advance(&self, n: u64) {
        if let Some(b) = &*self.bar.lock().expect("bar") {
            b.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("bar").take() {
            b.finish_and_clear();
        }
    }
}
