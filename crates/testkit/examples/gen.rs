//! Writes a synthetic household of MobileSync backups and reports what it wrote.
//!
//! ```text
//! cargo run -p hearth-testkit --release --example gen -- <out> [tiny|demo|bench BYTES|real BYTES FILES] [--encrypt PASSWORD] [--day N]
//! ```
//!
//! Without `--day`, generates the preset into `<out>` (default `tiny`); `--encrypt` makes its
//! first device an encrypted backup with that password (a fast key derivation). With `--day N`,
//! applies night N to the household already in `<out>` (generating it first if `<out>` holds
//! none), so `--day 1`, `--day 2`, … replay successive nights.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use hearth_testkit::{DayOptions, Household, HouseholdSpec, generate, next_day};

struct Args {
    out: PathBuf,
    spec: HouseholdSpec,
    day: Option<u32>,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or(
        "usage: gen <out> [tiny|demo|bench BYTES|real BYTES FILES] [--encrypt PASSWORD] [--day N]",
    )?;
    let (mut spec, mut day, mut password) = (HouseholdSpec::tiny(), None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "tiny" => spec = HouseholdSpec::tiny(),
            "demo" => spec = HouseholdSpec::demo(),
            "bench" => {
                spec = HouseholdSpec::bench(number(args.next(), "bench needs a byte count")?)
            }
            "real" => {
                let bytes = number(args.next(), "real needs a byte count")?;
                let files = number(args.next(), "real needs a file count")?;
                spec = HouseholdSpec::real(bytes, files as usize);
            }
            "--encrypt" => password = Some(args.next().ok_or("--encrypt needs a password")?),
            "--day" => {
                let n = args.next().ok_or("--day needs a number")?;
                day = Some(n.parse().map_err(|e| format!("--day {n}: {e}"))?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(password) = password {
        spec = spec.encrypt_device(0, &password);
    }
    Ok(Args {
        out: PathBuf::from(out),
        spec,
        day,
    })
}

/// A whole number that may hold `_` separators (`8_500_000_000`).
fn number(arg: Option<String>, missing: &str) -> Result<u64, String> {
    let arg = arg.ok_or(missing)?;
    arg.replace('_', "")
        .parse()
        .map_err(|e| format!("{arg}: {e}"))
}

fn print_household(h: &Household) {
    for d in &h.devices {
        println!(
            "  {} {:<14} {:<11} iOS {:<7} {:>6} files {:>10.1} MB",
            d.udid,
            d.name,
            d.product_type,
            d.ios_version,
            d.files,
            d.bytes as f64 / 1e6
        );
    }
    println!(
        "  total {} files, {:.1} MB",
        h.files(),
        h.bytes() as f64 / 1e6
    );
}

fn run(args: Args) -> Result<(), hearth_testkit::Error> {
    let has_household = args.out.is_dir() && Household::load(&args.out).is_ok();
    let household = if has_household && args.day.is_some() {
        Household::load(&args.out)?
    } else {
        let start = Instant::now();
        let h = generate(&args.spec, &args.out)?;
        println!(
            "generated {} in {:.2} s",
            args.out.display(),
            start.elapsed().as_secs_f64()
        );
        print_household(&h);
        h
    };
    if let Some(day) = args.day {
        let start = Instant::now();
        let night = next_day(&household, day, &DayOptions::default())?;
        println!("day {day} in {:.2} s", start.elapsed().as_secs_f64());
        for d in &night.devices {
            println!(
                "  {}: {} of {} files changed ({} modified, {} added, {} deleted), {} rows inserted, {} updated, {:.1} MB written",
                d.udid,
                d.changed_files(),
                d.files_before,
                d.modified.len(),
                d.added.len(),
                d.deleted.len(),
                d.rows_inserted,
                d.rows_updated,
                d.bytes_written as f64 / 1e6
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gen: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen: {e}");
            ExitCode::FAILURE
        }
    }
}
