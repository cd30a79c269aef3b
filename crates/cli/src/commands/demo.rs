//! `demo`: a sample household end to end, in a folder the user can look at afterwards.

use crate::Outcome;
use crate::context::Context;
use crate::output::{bytes, esc};
use crate::progress::Bars;
use anyhow::{Context as _, Result, bail};
use hearth_ingest::{IngestOptions, PasswordMap, backup_device};
use hearth_repo::{CheckOptions, ReadData, RepoOptions, Repository};
use hearth_storage::LocalBackend;
use hearth_testkit::{DayOptions, HouseholdSpec, generate, next_day, tree_digest};
use std::path::Path;
use std::sync::Arc;

const DEMO_PASSWORD: &str = "hearth-demo";
/// The backup password of the demo's encrypted iPhone.
const DEMO_IOS_PASSWORD: &str = "demo-iphone";

pub fn run(ctx: &Context, dir: &Path) -> Result<Outcome> {
    if dir.exists() {
        bail!(
            "{} already exists; remove it or pass --dir with a new folder",
            dir.display()
        );
    }
    let (source, repo_dir, restored) = (dir.join("source"), dir.join("repo"), dir.join("restored"));
    println!(
        "1. generating a sample household in {}",
        esc(&source.display().to_string())
    );
    let spec = HouseholdSpec::demo().encrypt_device(0, DEMO_IOS_PASSWORD);
    let household = generate(&spec, &source).context("generating the demo household")?;
    for d in &household.devices {
        println!(
            "   {:<14} {:<11} iOS {:<7} {:>5} files {:>10}{}",
            d.name,
            d.product_type,
            d.ios_version,
            d.files,
            bytes(d.bytes),
            if d.encrypted {
                format!("  encrypted backup (password {DEMO_IOS_PASSWORD:?})")
            } else {
                String::new()
            }
        );
    }

    println!(
        "2. creating an encrypted repository in {} (password {DEMO_PASSWORD:?})",
        esc(&repo_dir.display().to_string())
    );
    let options = RepoOptions {
        cache_root: Some(dir.join("cache")),
        ..ctx.options()
    };
    let repo = Repository::init(
        Arc::new(LocalBackend::create(&repo_dir)?),
        DEMO_PASSWORD.as_bytes(),
        &options,
    )?;

    println!("3. backing up every device (day 1)");
    backup_all(&repo, &household)?;
    println!("4. a day of changes, then an incremental backup (day 2)");
    next_day(&household, 1, &DayOptions::default())?;
    backup_all(&repo, &household)?;

    let s = repo.stats()?;
    println!(
        "5. stats: {} logical in {} snapshots, {} stored: dedup {:.2}x, compression {:.2}x",
        bytes(s.logical_bytes),
        s.snapshots,
        bytes(s.stored_bytes),
        s.dedup_ratio(),
        s.compression_ratio()
    );
    for d in &s.devices {
        println!(
            "   {:<14} unique {:>10}, shared with other devices {:>10}",
            d.name,
            bytes(d.unique_bytes),
            bytes(d.shared_bytes)
        );
    }

    // The encrypted iPhone: its image is encrypted again with the same keys, without its password.
    let device = &household.devices[0];
    println!(
        "6. restoring {} into {}",
        device.name,
        esc(&restored.display().to_string())
    );
    let (_, snap) = repo.find_snapshot(&format!("{}@latest", device.udid))?;
    let plan = hearth_restore::plan_restore(&repo, &snap, &Default::default())?;
    let report = hearth_restore::execute(&repo, &plan, &restored, &Bars::new())?;
    let same = tree_digest(&report.folder)? == tree_digest(&device.folder)?;
    println!(
        "   {} files, {}: {}",
        report.files,
        bytes(report.bytes),
        if same {
            "byte-identical to the source folder"
        } else {
            "DIFFERENT from the source"
        }
    );
    let check = repo.check(
        CheckOptions {
            read_data: ReadData::All,
        },
        &Bars::new(),
    )?;
    println!(
        "7. check --read-data: {}",
        if check.is_ok() {
            "no errors"
        } else {
            "DAMAGE FOUND"
        }
    );
    if !same || !check.is_ok() {
        bail!("the demo's verification failed");
    }
    println!(
        "\nTry it yourself:\n  export HEARTH_REPO={} HEARTH_PASSWORD={DEMO_PASSWORD} HEARTH_CACHE_DIR={}\n  hearth snapshots; hearth devices; hearth stats; hearth ls \"{}@latest\" HomeDomain/Library\n  hearth ui    # the household's dashboard in the browser",
        esc(&repo_dir.display().to_string()),
        esc(&dir.join("cache").display().to_string()),
        device.name
    );
    Ok(Outcome::Success)
}

fn backup_all(repo: &Repository, household: &hearth_testkit::Household) -> Result<()> {
    let lock = repo.lock_shared(std::time::Duration::ZERO, &|_| {})?;
    let session = repo.write_session(&lock)?;
    let passwords = PasswordMap {
        default: Some(DEMO_IOS_PASSWORD.into()),
        by_device: Vec::new(),
    };
    let options = IngestOptions {
        ios_passwords: Some(Arc::new(passwords)),
        ..IngestOptions::default()
    };
    for d in &household.devices {
        let outcome = backup_device(repo, &session, &d.folder, &options, &Bars::new())?;
        let Some(r) = outcome.report() else {
            bail!("the demo backup of {} is not finished", d.name);
        };
        println!(
            "   {:<14} {} new, {} changed, {} unmodified files; read {}, added {}",
            r.device.name,
            r.summary.files_new,
            r.summary.files_changed,
            r.summary.files_unmodified,
            bytes(r.summary.bytes_read),
            bytes(r.summary.bytes_added)
        );
    }
    session.finish()?;
    Ok(())
}
