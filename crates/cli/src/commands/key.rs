//! `init` and `key add | list | remove | passwd`.

use crate::Outcome;
use crate::cli::{KeyCommand, NewPassword};
use crate::context::{Context, prompt, read_password_file};
use crate::output::{print_json, time};
use anyhow::{Result, bail};
use hearth_repo::Repository;
use serde_json::json;

pub fn init(ctx: &Context) -> Result<Outcome> {
    let backend = ctx.create_backend()?;
    let location = backend.location();
    let password = ctx.password(true)?;
    let repo = Repository::init(backend, &password, &ctx.options())?;
    if ctx.global.json {
        print_json(
            &json!({ "repository": location, "id": hex::encode(repo.config().repository_id) }),
        );
    } else {
        println!("created repository at {location}");
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
            .map(|k| json!({"id": k.id.to_hex(), "current": k.current, "host": k.meta.host, "user": k.meta.user, "created": time(k.meta.created * 1_000_000)}))
            .collect();
        print_json(&json!({ "keys": v }));
        return Ok(());
    }
    for k in keys {
        let mark = if k.current { "*" } else { " " };
        println!(
            "{mark} {}  {}@{}  {}",
            k.id.short(),
            k.meta.user,
            k.meta.host,
            time(k.meta.created * 1_000_000)
        );
    }
    Ok(())
}

fn new_password(new: &NewPassword) -> Result<Vec<u8>> {
    if let Ok(p) = std::env::var("HEARTH_NEW_PASSWORD") {
        return Ok(p.into_bytes());
    }
    match &new.new_password_file {
        Some(f) => read_password_file(f),
        None => prompt("new password", true),
    }
}
