//! `ui`: the household's dashboard, served until stopped.

use super::backup::{ios_passwords, sources};
use super::serving::stop_on_signal;
use crate::Outcome;
use crate::cli::UiArgs;
use crate::context::{Context, read_password_file};
use crate::signals::Stop;
use anyhow::{Context as _, Result};
use hearth_repo::Repository;
use hearth_ui::{Server, UiOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

pub fn run(ctx: &Context, args: &UiArgs) -> Result<Outcome> {
    // First: every thread started from here on leaves the stop signals to the signal thread.
    let stop = Stop::install()?;
    let password = match &args.login_password_file {
        Some(f) => Some(read_password_file(f)?),
        None => None,
    };
    // The server lives until the process ends; so may the repository it reads.
    let repo: &'static Repository = Box::leak(Box::new(ctx.open()?));
    // None when this computer has no MobileSync folder: "Back up now" then says so.
    let sources = sources(ctx, &args.sources).unwrap_or_default();
    let options = UiOptions {
        listen: args.listen,
        password,
        backup_sources: sources,
        ios_passwords: Some(Arc::new(ios_passwords(
            (ctx.settings
                .ios_password_file(args.ios_password_file.clone())
                .value)
                .as_deref(),
            false,
        )?)),
        library: args.library.clone().unwrap_or_else(default_library),
        lock_wait: ctx.settings.lock_wait.value,
    };
    let server = Server::bind(repo, options)?;
    let url = server.url();
    // The first line on stdout, for scripts and remote shells.
    println!("{url}");
    std::io::stdout().flush()?;
    if !args.no_browser {
        open_browser(&url);
    }
    eprintln!(
        "serving the dashboard of {}; stop with Ctrl-C",
        repo.location()
    );
    let stopper = server.stopper();
    stop_on_signal(&stop, "the dashboard", move || stopper.stop());
    server.run().context("the dashboard stopped")?;
    eprintln!("stopped");
    Ok(Outcome::Success)
}

/// `~/Hearth`: where a person looks for what they exported.
fn default_library() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("Hearth")
}

/// The system's browser on the URL; when there is none, the printed URL is the way in.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        eprintln!("no browser could be opened ({opener}); open the URL above");
    }
}
