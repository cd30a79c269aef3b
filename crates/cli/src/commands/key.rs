//! `init` and `key add | list | remove | passwd`.

use crate::Outcome;
use crate::cli::{InitArgs, KeyCommand, NewPassword};
use crate::context::{Context, PasswordSources};
use crate::output::{esc, print_json, time};
use anyhow::{Result, bail};
use hearth_repo::{RepoError, Repository};
use serde_json::json;

/// Looks before it writes: a location that holds repository objects is refused before a
/// password is asked for or a folder made; an empty password before anything is written.
/// With `--like REPO`, REPO is opened (with its own password) before anything is written, and
/// the new repository takes its chunking (`docs/format.md` §4).
pub fn init(ctx: &Context, args: &InitArgs) -> Result<Outcome> {
    Repository::check_can_init(&*ctx.backend()?)?;
    let like = match &args.like {
        Some(location) => {
            Some(ctx.open_other(location, &LIKE_PASSWORD, args.like_password_file.as_deref())?)
        }
        None => None,
    };
    let password = ctx.password(true)?;
    if password.is_empty() {
        return Err(RepoError::EmptyPassword.into());
    }
    let backend = ctx.create_backend()?;
    let location = backend.location();
    let repo = match &like {
        Some(like) => Repository::init_like(backend, &password, like, &ctx.options())?,
        None => Repository::init(backend, &password, &ctx.options())?,
    };
    let like_location = like.as_ref().map(Repository::location);
    if ctx.global.json {
        print_json(&json!({
            "repository": location,
            "id": hex::encode(repo.config().repository_id),
            "like": like_location,
        }));
    } else {
        println!("created repository at {}", esc(&location));
        if let Some(like) = &like_location {
            println!(
                "it chunks like {}: `hearth copy --repo {} --to {}` copies snapshots into it",
                esc(like),
                esc(like),
                esc(&location)
            );
        }
        println!("keep the password safe: without it the backups cannot be read");
    }
    Ok(Outcome::Success)
}

pub fn run(ctx: &Context, command: KeyCommand) -> Result<Outcome> {
    let mut repo = ctx.open()?;
    match command {
        KeyCommand::Add(new) => {
            let id = repo.add_key(&new_password(&new)?)?;
            println!("added key {}", id.short());
        }
        KeyCommand::Passwd(new) => {
            let id = repo.change_password(&new_password(&new)?)?;
            println!("password changed (new key {})", id.short());
        }
        KeyCommand::Remove { id } => {
            let keys = repo.list_keys()?;
            let hits: Vec<_> = keys
                .iter()
                .filter(|k| k.id.to_hex().starts_with(&id.to_lowercase()))
                .collect();
            let [key] = hits.as_slice() else {
                bail!("{id:?} matches {} keys; give more of the id", hits.len())
            };
            repo.remove_key(&key.id)?;
            println!("removed key {}", key.id.short());
        }
        KeyCommand::List => list(ctx, &repo)?,
    }
    Ok(Outcome::Success)
}

fn list(ctx: &Context, repo: &Repository) -> Result<()> {
    let keys = repo.list_keys()?;
    if ctx.global.json {
        let v: Vec<_> = keys
            .iter()
            .map(|k| {
                json!({
                    "id": k.id.to_hex(),
                    "current": k.current,
                    "host": k.meta.as_ref().map(|m| &m.host),
                    "user": k.meta.as_ref().map(|m| &m.user),
                    "created": k.meta.as_ref().map(|m| time(m.created.saturating_mul(1_000_000))),
                    "damaged": k.damaged,
                })
            })
            .collect();
        print_json(&json!({ "keys": v }));
        return Ok(());
    }
    for k in keys {
        let mark = if k.current { "*" } else { " " };
        match (&k.meta, &k.damaged) {
            (Some(m), _) => println!(
                "{mark} {}  {}@{}  {}",
                k.id.short(),
                esc(&m.user),
                esc(&m.host),
                time(m.created.saturating_mul(1_000_000))
            ),
            (None, why) => println!(
                "{mark} {}  DAMAGED: {} (no password opens it; `hearth key remove {}` removes it)",
                k.id.short(),
                why.as_deref().unwrap_or("cannot be parsed"),
                k.id.short()
            ),
        }
    }
    Ok(())
}

/// The `--like` repository's password (`init --like`).
const LIKE_PASSWORD: PasswordSources = PasswordSources {
    what: "password of the --like repository",
    flag: "--like-password-file",
    variable: "HEARTH_LIKE_PASSWORD",
    file_variable: "HEARTH_LIKE_PASSWORD_FILE",
    also: std::borrow::Cow::Borrowed(""),
};

/// The `--new-password-file` flag, else HEARTH_NEW_PASSWORD, else HEARTH_NEW_PASSWORD_FILE,
/// else a prompt on a terminal.
fn new_password(new: &NewPassword) -> Result<Vec<u8>> {
    let sources = PasswordSources {
        what: "new password",
        flag: "--new-password-file",
        variable: "HEARTH_NEW_PASSWORD",
        file_variable: "HEARTH_NEW_PASSWORD_FILE",
        also: std::borrow::Cow::Borrowed(""),
    };
    sources.read(new.new_password_file.as_deref(), true)
}
