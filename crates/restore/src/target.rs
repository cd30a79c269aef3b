//! The device a restore image is for: its kind (family) and iOS version.

use crate::error::RestoreError;
use hearth_format::DeviceIdentity;
use hearth_repo::{RepoError, Repository};
use std::cmp::Ordering;
use thiserror::Error;

/// Apple's device families, from the product type (`iPhone15,2`, `iPad13,1`, `iPod9,1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    IPhone,
    IPad,
    IPod,
    Unknown,
}

impl Family {
    pub fn of(product_type: &str) -> Family {
        let p = product_type.to_ascii_lowercase();
        if p.starts_with("iphone") {
            Family::IPhone
        } else if p.starts_with("ipad") {
            Family::IPad
        } else if p.starts_with("ipod") {
            Family::IPod
        } else {
            Family::Unknown
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::IPhone => "iPhone",
            Family::IPad => "iPad",
            Family::IPod => "iPod",
            Family::Unknown => "unknown",
        }
    }

    /// Whether an app whose App Store `softwareSupportedDeviceIds` are `ids` runs on this family
    /// (1 iPhone, 2 iPod touch, 4 iPad, 9 iPhone; iPads also run iPhone apps).
    pub fn runs(self, ids: &[i64]) -> bool {
        let iphone = ids.contains(&1) || ids.contains(&9);
        match self {
            Family::IPhone => iphone,
            Family::IPod => ids.contains(&2),
            Family::IPad => ids.contains(&4) || iphone,
            Family::Unknown => true,
        }
    }
}

/// What Apple calls a model (`iPhone14,5` → "iPhone 13"), for the models Hearth knows by
/// name; others are shown by their product type alone.
pub fn model_name(product_type: &str) -> Option<&'static str> {
    const NAMES: &[(&[&str], &str)] = &[
        (&["iPhone10,1", "iPhone10,4"], "iPhone 8"),
        (&["iPhone10,2", "iPhone10,5"], "iPhone 8 Plus"),
        (&["iPhone10,3", "iPhone10,6"], "iPhone X"),
        (&["iPhone11,2"], "iPhone XS"),
        (&["iPhone11,4", "iPhone11,6"], "iPhone XS Max"),
        (&["iPhone11,8"], "iPhone XR"),
        (&["iPhone12,1"], "iPhone 11"),
        (&["iPhone12,3"], "iPhone 11 Pro"),
        (&["iPhone12,5"], "iPhone 11 Pro Max"),
        (&["iPhone12,8"], "iPhone SE (2nd generation)"),
        (&["iPhone13,1"], "iPhone 12 mini"),
        (&["iPhone13,2"], "iPhone 12"),
        (&["iPhone13,3"], "iPhone 12 Pro"),
        (&["iPhone13,4"], "iPhone 12 Pro Max"),
        (&["iPhone14,4"], "iPhone 13 mini"),
        (&["iPhone14,5"], "iPhone 13"),
        (&["iPhone14,2"], "iPhone 13 Pro"),
        (&["iPhone14,3"], "iPhone 13 Pro Max"),
        (&["iPhone14,6"], "iPhone SE (3rd generation)"),
        (&["iPhone14,7"], "iPhone 14"),
        (&["iPhone14,8"], "iPhone 14 Plus"),
        (&["iPhone15,2"], "iPhone 14 Pro"),
        (&["iPhone15,3"], "iPhone 14 Pro Max"),
        (&["iPhone15,4"], "iPhone 15"),
        (&["iPhone15,5"], "iPhone 15 Plus"),
        (&["iPhone16,1"], "iPhone 15 Pro"),
        (&["iPhone16,2"], "iPhone 15 Pro Max"),
        (&["iPhone17,3"], "iPhone 16"),
        (&["iPhone17,4"], "iPhone 16 Plus"),
        (&["iPhone17,1"], "iPhone 16 Pro"),
        (&["iPhone17,2"], "iPhone 16 Pro Max"),
        (&["iPad12,1", "iPad12,2"], "iPad (9th generation)"),
        (&["iPad13,18", "iPad13,19"], "iPad (10th generation)"),
        (&["iPad13,1", "iPad13,2"], "iPad Air (4th generation)"),
        (&["iPad13,16", "iPad13,17"], "iPad Air (5th generation)"),
        (&["iPad14,1", "iPad14,2"], "iPad mini (6th generation)"),
        (
            &["iPad13,4", "iPad13,5", "iPad13,6", "iPad13,7"],
            "iPad Pro 11-inch (3rd generation)",
        ),
        (
            &["iPad13,8", "iPad13,9", "iPad13,10", "iPad13,11"],
            "iPad Pro 12.9-inch (5th generation)",
        ),
    ];
    NAMES
        .iter()
        .find(|(types, _)| types.contains(&product_type))
        .map(|(_, name)| *name)
}

/// A restore target: a household device, or a model and iOS version given by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The device's name when it is a household device.
    pub name: Option<String>,
    pub product_type: String,
    pub ios_version: String,
}

/// Why a target given by model and iOS version is refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TargetError {
    #[error(
        "unknown model {model:?}: Hearth knows iPhone, iPad and iPod touch models, named by Apple's product type: iPhone<N>,<M>, iPad<N>,<M> or iPod<N>,<M> (e.g. iPhone16,1, iPad13,1, iPod9,1)"
    )]
    UnknownModel { model: String },
    #[error(
        "invalid iOS version {version:?}: expected up to three numbers separated by dots, the first at least 1 (e.g. 18, 18.1 or 17.4.1)"
    )]
    BadIosVersion { version: String },
}

/// Apple's spelling of each family's product type prefix.
const PRODUCT_PREFIXES: [&str; 3] = ["iPhone", "iPad", "iPod"];

impl Target {
    /// A device that is not in the household, by product type and iOS version. The product
    /// type must be `<family><N>,<M>` (the family's case as Apple writes it is restored), the
    /// version one to three dot-separated numbers.
    pub fn model(product_type: &str, ios_version: &str) -> Result<Target, TargetError> {
        let product_type =
            normalize_product_type(product_type).ok_or_else(|| TargetError::UnknownModel {
                model: product_type.to_owned(),
            })?;
        if !is_ios_version(ios_version) {
            return Err(TargetError::BadIosVersion {
                version: ios_version.to_owned(),
            });
        }
        Ok(Target {
            name: None,
            product_type,
            ios_version: ios_version.to_owned(),
        })
    }

    /// A household device as it was at a snapshot: its name, model and iOS version.
    pub fn of_device(device: &DeviceIdentity) -> Target {
        Target {
            name: Some(device.name.clone()),
            product_type: device.product_type.clone(),
            ios_version: device.ios_version.clone(),
        }
    }

    /// A household device (name, UDID, or a unique UDID prefix) as it is now: as its latest
    /// snapshot records it.
    pub fn household(repo: &Repository, device: &str) -> Result<Target, RestoreError> {
        match repo.device_snapshots(device)?.pop() {
            Some((_, latest)) => Ok(Target::of_device(&latest.device)),
            None => Err(RestoreError::NoDeviceSnapshot {
                device: device.to_owned(),
            }),
        }
    }

    pub fn family(&self) -> Family {
        Family::of(&self.product_type)
    }

    /// How the target is named in messages.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} ({}, iOS {})", self.product_type, self.ios_version),
            None => format!("model {} on iOS {}", self.product_type, self.ios_version),
        }
    }
}

/// Every household device as its latest snapshot records it, in the order the devices first
/// appear among the snapshots (oldest first): the targets a restore may name.
pub fn household_devices(repo: &Repository) -> Result<Vec<DeviceIdentity>, RepoError> {
    let mut devices: Vec<DeviceIdentity> = Vec::new();
    for (_, s) in repo.snapshots()? {
        match devices.iter_mut().find(|d| d.udid == s.device.udid) {
            Some(slot) => *slot = s.device,
            None => devices.push(s.device),
        }
    }
    Ok(devices)
}

/// `iphone16,1` → `iPhone16,1`; `None` unless it is a family prefix, digits, a comma, digits.
fn normalize_product_type(s: &str) -> Option<String> {
    let prefix = PRODUCT_PREFIXES.iter().find(|p| {
        s.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    })?;
    let (major, minor) = s[prefix.len()..].split_once(',')?;
    let digits = |d: &str| !d.is_empty() && d.len() <= 4 && d.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then(|| format!("{prefix}{major},{minor}"))
}

/// `18`, `18.1`, `17.4.1`: one to three numbers of at most four digits, the first not 0.
fn is_ios_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    let number = |p: &&str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit());
    (1..=3).contains(&parts.len())
        && parts.iter().all(number)
        && parts[0].bytes().any(|b| b != b'0')
}

/// A capacity as people write it, `64G`, `500MB`, `1.5GiB`, `123456`: bytes (K, M, G, T are
/// powers of 1000; KiB... of 1024).
pub fn parse_capacity(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 64G, 500MB, 123456)"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    let bytes = (number * scale).round();
    // `as` would saturate silently; 2^64 is the first value that does not fit.
    if bytes >= u64::MAX as f64 {
        return Err(format!(
            "{s:?} is too big a size (at most {} bytes)",
            u64::MAX
        ));
    }
    Ok(bytes as u64)
}

/// Compares iOS versions numerically, component by component; a missing component is 0
/// (`17.5` = `17.5.0` < `17.10`). A component that is not a number compares as 0 after its
/// leading digits (`18.1b2` ≈ `18.1`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<u64> {
        v.trim()
            .split('.')
            .map(|c| {
                let digits: String = c.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().unwrap_or(0)
            })
            .collect()
    };
    let (a, b) = (parts(a), parts(b));
    let n = a.len().max(b.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..n)
        .map(|i| at(&a, i).cmp(&at(&b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn models_are_named_as_apple_names_them_and_unknown_ones_are_not_guessed() {
        assert_eq!(model_name("iPhone14,5"), Some("iPhone 13"));
        assert_eq!(model_name("iPhone15,2"), Some("iPhone 14 Pro"));
        assert_eq!(model_name("iPad13,1"), Some("iPad Air (4th generation)"));
        assert_eq!(
            model_name("iPad13,11"),
            Some("iPad Pro 12.9-inch (5th generation)")
        );
        assert_eq!(model_name("iPhone14"), None);
        assert_eq!(model_name("iPhone99,1"), None);
        assert_eq!(model_name(""), None);
    }

    #[test]
    fn capacities_read_as_people_write_them() {
        assert_eq!(parse_capacity("64G"), Ok(64_000_000_000));
        assert_eq!(parse_capacity(" 500MB "), Ok(500_000_000));
        assert_eq!(parse_capacity("1.5GiB"), Ok(1_610_612_736));
        assert_eq!(parse_capacity("123456"), Ok(123_456));
        assert!(parse_capacity("lots").unwrap_err().contains("not a size"));
        assert!(
            parse_capacity("5 parsecs")
                .unwrap_err()
                .contains("unknown size unit")
        );
        for s in [
            "99999999999999999999999T",
            "18446744073709551616",
            "20000000000000000000",
        ] {
            let err = parse_capacity(s).unwrap_err();
            assert!(err.contains("too big a size"), "{s}: {err}");
        }
    }

    #[test]
    fn versions_compare_as_numbers_per_component() {
        for (a, b, o) in [
            ("17.10", "17.9", Greater),
            ("17.5", "17.4.1", Greater),
            ("17.4.1", "17.5", Less),
            ("17.5", "17.5.0", Equal),
            ("9.3", "10.2", Less),
            ("18.1", "18.1.1", Less),
            ("18.1b2", "18.1", Equal),
            ("", "0", Equal),
        ] {
            assert_eq!(compare_versions(a, b), o, "{a} vs {b}");
        }
    }

    #[test]
    fn a_model_target_is_a_known_family_and_a_numeric_version() {
        let t = Target::model("iphone16,1", "18.1").unwrap();
        assert_eq!(t.product_type, "iPhone16,1", "Apple's spelling");
        assert_eq!(t.family(), Family::IPhone);
        assert!(Target::model("iPad13,1", "17").is_ok());
        assert!(Target::model("iPod9,1", "15.7.9").is_ok());
        for model in [
            "Watch6,1",
            "iPhone",
            "iPhone16",
            "iPhone16,",
            "iPhone,1",
            "iPhone16,1x",
            "Pixel 8",
            "",
        ] {
            let err = Target::model(model, "18.1").unwrap_err();
            assert_eq!(
                err,
                TargetError::UnknownModel {
                    model: model.into()
                }
            );
            assert!(err.to_string().contains("iPhone<N>,<M>"), "{err}");
        }
        for version in [
            "banana", "18.x", "", "18..1", "0", "0.1", "18.1.1.1", "-1", " 18.1", "18.1b2", "99999",
        ] {
            let err = Target::model("iPhone16,1", version).unwrap_err();
            assert_eq!(
                err,
                TargetError::BadIosVersion {
                    version: version.into()
                }
            );
            assert!(err.to_string().contains("e.g. 18, 18.1 or 17.4.1"), "{err}");
        }
    }

    #[test]
    fn families_and_app_support() {
        assert_eq!(Family::of("iPhone16,1"), Family::IPhone);
        assert_eq!(Family::of("iPad13,1"), Family::IPad);
        assert_eq!(Family::of("iPod9,1"), Family::IPod);
        assert_eq!(Family::of("Watch6,1"), Family::Unknown);
        let (universal, ipad_only, iphone_only) = (&[1, 2, 4, 9][..], &[4][..], &[1, 2, 9][..]);
        assert!(Family::IPhone.runs(universal) && !Family::IPhone.runs(ipad_only));
        assert!(Family::IPad.runs(iphone_only), "iPads run iPhone apps");
        assert!(Family::IPod.runs(iphone_only) && !Family::IPod.runs(ipad_only));
    }
}
