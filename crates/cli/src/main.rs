//! The `hearth` binary: parse arguments, call the libraries, draw progress, map errors to exit
//! codes (0 success, 1 failure, 2 usage, 3 done with warnings). Glue only.

mod cli;
mod commands;
mod config_file;
mod context;
mod output;
mod progress;
mod settings;
mod signals;

use clap::Parser;
use std::process::ExitCode;

/// How a command that did not fail ended.
pub enum Outcome {
    Success,
    /// Done, but something was not captured or not as it should be (exit 3).
    Warnings,
}

/// Media chunks (0.5-2 MiB) are sealed on one thread and freed on another once their pack is
/// written. glibc raises its mmap threshold past such sizes after the first free, then keeps
/// them in its heaps, where they fragment: a backup's peak memory grew by 10-15 MB. A fixed
/// threshold maps and unmaps each one instead (about 0.05 s of system time per GB of media).
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before any thread exists; M_MMAP_THRESHOLD takes a byte count.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 512 * 1024);
    }
}

/// redb panics on some damaged cache files. hearth-index catches those panics and the cache is
/// deleted and rebuilt, so their message would only alarm; every other panic is reported as
/// before. Set once, before any thread exists: the library never touches the hook.
fn quiet_caught_cache_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !hearth_index::redb_panic_is_caught() {
            report(info);
        }
    }));
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `println!` into a closed pipe (`hearth ls … | head`) panics.
    // Restore the default: the process ends quietly, as `ls` and `cat` do.
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    fixed_mmap_threshold();
    quiet_caught_cache_panics();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if e.use_stderr() => {
            // A usage error quotes what was typed: escaped, uncoloured.
            eprint!("{}", output::esc_text(&e.render().to_string()));
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match commands::run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Warnings) => ExitCode::from(3),
        Err(e) => {
            // Library errors name devices, folders and paths from backups as they are.
            eprintln!("error: {}", output::esc_text(&output::error_text(&e)));
            let usage = e.downcast_ref::<settings::UsageError>().is_some()
                || matches!(
                    e.downcast_ref::<hearth_export::ExportError>(),
                    Some(hearth_export::ExportError::Usage(_))
                )
                || matches!(
                    e.downcast_ref::<hearth_alert::AlertError>(),
                    Some(hearth_alert::AlertError::BadUrl { .. })
                );
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
