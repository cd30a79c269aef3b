//! One module per command.

mod backup;
mod check;
mod config;
mod copy;
mod demo;
mod diff;
mod dump;
mod export;
mod find;
mod forget;
mod key;
mod list;
mod mount;
pub mod notify;
mod repair;
mod restore;
mod schedule;
mod serving;
mod stats;
mod ui;
mod watch;
mod webdav;

use crate::Outcome;
use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::settings::{Settings, Source};
use anyhow::{Result, bail};

pub fn run(cli: Cli) -> Result<Outcome> {
    let settings = Settings::load(&cli.global)?;
    let named = settings.config.named_by != Source::Default;
    if named && !settings.config.exists && !matches!(cli.command, Command::Config) {
        bail!(
            "config file {} (named by {}) does not exist",
            settings.config.path.display(),
            settings.config.named_by
        );
    }
    let ctx = Context {
        global: cli.global,
        settings,
    };
    match cli.command {
        Command::Config => config::show(&ctx),
        Command::Schedule { command } => schedule::run(&ctx, command),
        Command::Init(args) => key::init(&ctx, &args),
        Command::Copy(args) => copy::run(&ctx, &args),
        Command::Backup(args) => backup::run(&ctx, &args),
        Command::Snapshots { device } => list::snapshots(&ctx, device.as_deref()),
        Command::Devices => list::devices(&ctx),
        Command::Ls { snapshot, filter } => list::ls(&ctx, &snapshot, filter.as_deref()),
        Command::Restore(args) if args.files => dump::restore_files(&ctx, &args),
        Command::Restore(args) => restore::run(&ctx, &args),
        Command::Dump(args) => dump::run(&ctx, &args),
        Command::Forget(args) => forget::forget(&ctx, &args),
        Command::Prune(args) => forget::prune(&ctx, args.dry_run, args.max_unused),
        Command::Pin { snapshot } => forget::pin(&ctx, &snapshot, true),
        Command::Unpin { snapshot } => forget::pin(&ctx, &snapshot, false),
        Command::Check {
            read_data,
            read_data_subset,
            notify,
        } => check::run(&ctx, read_data, read_data_subset, &notify),
        Command::Stats => stats::run(&ctx),
        Command::Key { command } => key::run(&ctx, command),
        Command::Unlock => repair::unlock(&ctx),
        Command::Repair { command } => repair::run(&ctx, command),
        Command::Diff(args) => diff::run(&ctx, &args),
        Command::Find(args) => find::run(&ctx, &args),
        Command::Export(args) => export::run(&ctx, &args),
        Command::Mount(args) => mount::run(&ctx, &args),
        Command::Webdav(args) => webdav::run(&ctx, &args),
        Command::Ui(args) => ui::run(&ctx, &args),
        Command::Watch(args) => watch::run(&ctx, &args),
        Command::Demo { dir } => demo::run(&ctx, &dir),
    }
}
