//! The `hearth` binary: parse arguments, call the libraries, draw progress, map errors to exit
//! codes (0 success, 1 failure, 2 usage, 3 done with warnings). Glue only.

mod cli;
mod commands;
mod context;
mod output;
mod progress;

use clap::Parser;
use std::process::ExitCode;

/// How a command that did not fail ended.
pub enum Outcome {
    Success,
    /// Done, but something was not captured or not as it should be (exit 3).
    Warnings,
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `println!` into a closed pipe (`hearth ls … | head`) panics.
    // Restore the default: the process ends quietly, as `ls` and `cat` do.
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match commands::run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Warnings) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
