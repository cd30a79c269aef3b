//! App containers: `AppDomain-<id>` (Documents, Library, caches), `AppDomainGroup-<group>`
//! (WhatsApp's ChatStorage.sqlite among them) and `AppDomainPlugin-<id>.<ext>` (mostly empty
//! directories, as in real backups).

use rand::RngExt;

use super::home::{cache_name, small_file};
use super::writer::{BlobWriter, CLASS_DEFAULT};
use super::{BigDb, Ctx};
use crate::content::apps::{App, WHATSAPP};
use crate::content::databases::misc::{self, SmallDb};
use crate::content::databases::{notes, whatsapp};
use crate::content::{Rng, plists, text};
use crate::error::Error;

pub(crate) const CHAT_STORAGE: &str = "ChatStorage.sqlite";
/// The Notes app's group container (every device has one: Notes is part of iOS).
pub(crate) const NOTES_GROUP: &str = "AppDomainGroup-group.com.apple.notes";
pub(crate) const NOTE_STORE: &str = "NoteStore.sqlite";

pub(crate) fn app_domain(app: &App) -> String {
    format!("AppDomain-{}", app.bundle_id)
}

pub(crate) fn group_domain(app: &App) -> String {
    format!("AppDomainGroup-{}", app.group_id())
}

const CONTAINER_DIRS: &[&str] = &[
    "Documents",
    "Library/Preferences",
    "Library/Caches",
    "Library/Application Support",
    "Library/SplashBoard/Snapshots",
    "SystemData",
    "tmp",
];

/// Where an app keeps its small files, by share of the app's budget.
const FILE_DIRS: &[&str] = &[
    "Library/Caches/com.hackemist.SDImageCache/default",
    "Library/Caches",
    "Library/Application Support",
    "Documents",
];

pub(crate) fn write(w: &mut BlobWriter, ctx: &Ctx) -> Result<(), Error> {
    let (seeds, now) = (ctx.seeds.label(NOTE_STORE), w.now());
    w.file(NOTES_GROUP, NOTE_STORE, CLASS_DEFAULT, |b| {
        notes::create_db(b, seeds, now)
    })?;
    for (i, app) in ctx.apps.iter().enumerate() {
        let mut rng = ctx.seeds.label("app").child(i as u64).rng();
        write_container(w, ctx, app, ctx.small.per_app[i], &mut rng)?;
        if app.has_group {
            write_group(w, ctx, app, &mut rng)?;
        }
        for plugin in app.plugins {
            write_plugin(w, app, plugin, &mut rng)?;
        }
    }
    Ok(())
}

fn write_container(
    w: &mut BlobWriter,
    ctx: &Ctx,
    app: &App,
    files: usize,
    rng: &mut Rng,
) -> Result<(), Error> {
    let domain = app_domain(app);
    for dir in CONTAINER_DIRS {
        w.dir(&domain, dir);
    }
    let prefs = plists::preferences_file(rng, w.now());
    w.bytes(
        &domain,
        &format!("Library/Preferences/{}.plist", app.bundle_id),
        &prefs,
    )?;
    for _ in 0..files.saturating_sub(1) {
        let dir = FILE_DIRS[rng.random_range(0..FILE_DIRS.len())];
        let path = format!("{dir}/{}", cache_name(rng));
        small_file(w, rng, &domain, &path)?;
    }
    if rng.random_bool(0.35) {
        let (seeds, now) = (ctx.seeds.label(&domain), w.now());
        let rows = rng.random_range(20..ctx.small_db_rows().max(21));
        w.file(&domain, "Documents/store.sqlite", CLASS_DEFAULT, |b| {
            misc::create_db(b, SmallDb::AppStore, seeds, rows, now)
        })?;
    }
    if rng.random_bool(0.25) {
        let target = format!(
            "/var/mobile/Containers/Data/Application/{}/Library/WebKit/WebsiteData/IndexedDB",
            text::uuid(rng)
        );
        w.symlink(&domain, "Library/WebKit/WebsiteData/IndexedDB/v0", &target);
    }
    Ok(())
}

fn write_group(w: &mut BlobWriter, ctx: &Ctx, app: &App, rng: &mut Rng) -> Result<(), Error> {
    let domain = group_domain(app);
    w.dir(&domain, "Library/Caches");
    let prefs = plists::preferences_file(rng, w.now());
    w.bytes(
        &domain,
        &format!("Library/Preferences/{}.plist", app.group_id()),
        &prefs,
    )?;
    if app.bundle_id == WHATSAPP.bundle_id {
        let (seeds, target, now) = (
            ctx.seeds.label(CHAT_STORAGE),
            ctx.db_target(BigDb::ChatStorage),
            w.now(),
        );
        w.file(&domain, CHAT_STORAGE, CLASS_DEFAULT, |b| {
            whatsapp::create_db(b, seeds, target, now)
        })?;
        for name in ["Media/Profile", "Message/Media", "Stickers"] {
            w.dir(&domain, name);
        }
    }
    Ok(())
}

fn write_plugin(w: &mut BlobWriter, app: &App, plugin: &str, rng: &mut Rng) -> Result<(), Error> {
    let domain = format!("AppDomainPlugin-{}.{plugin}", app.bundle_id);
    for dir in ["Library/Preferences", "Library/Caches", "SystemData", "tmp"] {
        w.dir(&domain, dir);
    }
    if rng.random_bool(0.2) {
        let prefs = plists::preferences_file(rng, w.now());
        w.bytes(
            &domain,
            &format!("Library/Preferences/{}.{plugin}.plist", app.bundle_id),
            &prefs,
        )?;
    }
    Ok(())
}
