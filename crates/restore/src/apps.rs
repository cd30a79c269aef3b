//! The apps a backup holds (Info.plist `Applications`), which device families each supports,
//! and which app owns an `AppDomain*` domain.

use crate::target::Family;
use plist::{Dictionary, Value};
use std::collections::BTreeMap;

/// Bundle id → the app's `softwareSupportedDeviceIds`, or `None` when unknown (no or
/// unreadable `iTunesMetadata`: sideloaded apps, or a backup tool that did not record it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppCatalog {
    pub apps: BTreeMap<String, Option<Vec<i64>>>,
}

impl AppCatalog {
    /// From Info.plist's top-level dictionary.
    pub fn from_info_plist(info: &Dictionary) -> AppCatalog {
        let mut apps = BTreeMap::new();
        if let Some(Value::Dictionary(all)) = info.get("Applications") {
            for (id, app) in all {
                apps.insert(id.clone(), supported_ids(app));
            }
        }
        if let Some(Value::Array(installed)) = info.get("Installed Applications") {
            for id in installed.iter().filter_map(Value::as_string) {
                apps.entry(id.to_string()).or_insert(None);
            }
        }
        AppCatalog { apps }
    }

    /// The app that owns `domain`: `AppDomain-<id>`, `AppDomainPlugin-<id>.<ext>` (longest id
    /// prefix), `AppDomainGroup-<group>` (longest id the group id contains). `None` for other
    /// domains and for containers no known app owns.
    pub fn owner(&self, domain: &str) -> Option<&str> {
        if let Some(id) = domain.strip_prefix("AppDomain-") {
            return self.apps.get_key_value(id).map(|(k, _)| k.as_str());
        }
        let longest = |matches: &dyn Fn(&str) -> bool| {
            self.apps
                .keys()
                .filter(|id| matches(id))
                .max_by_key(|id| id.len())
                .map(String::as_str)
        };
        if let Some(plugin) = domain.strip_prefix("AppDomainPlugin-") {
            return longest(&|id| {
                plugin
                    .strip_prefix(id)
                    .is_some_and(|rest| rest.starts_with('.'))
            });
        }
        if let Some(group) = domain.strip_prefix("AppDomainGroup-") {
            return longest(&|id| contains_component_run(group, id));
        }
        None
    }

    /// Apps that do not run on `family`, and apps whose support is unknown.
    pub fn split(&self, family: Family) -> (Vec<String>, Vec<String>) {
        let mut incompatible = Vec::new();
        let mut unknown = Vec::new();
        for (id, ids) in &self.apps {
            match ids {
                Some(ids) if !family.runs(ids) => incompatible.push(id.clone()),
                None => unknown.push(id.clone()),
                Some(_) => {}
            }
        }
        (incompatible, unknown)
    }
}

/// True when `id` appears in `group` as whole dot-separated components
/// (`group.net.whatsapp.WhatsApp.shared` contains `net.whatsapp.WhatsApp`).
fn contains_component_run(group: &str, id: &str) -> bool {
    format!(".{group}.").contains(&format!(".{id}."))
}

fn supported_ids(app: &Value) -> Option<Vec<i64>> {
    let meta = app.as_dictionary()?.get("iTunesMetadata")?;
    let meta = match meta {
        Value::Data(bytes) => hearth_mobilesync::parse_plist(bytes).ok()?,
        Value::Dictionary(_) => meta.clone(),
        _ => return None,
    };
    let ids = meta
        .as_dictionary()?
        .get("softwareSupportedDeviceIds")?
        .as_array()?;
    let ids: Vec<i64> = ids.iter().filter_map(|v| v.as_signed_integer()).collect();
    (!ids.is_empty()).then_some(ids)
}

/// `info` without the apps in `dropped` (from `Applications` and `Installed Applications`).
pub fn without_apps(info: &Dictionary, dropped: &[String]) -> Dictionary {
    let mut out = info.clone();
    if let Some(Value::Dictionary(apps)) = out.get_mut("Applications") {
        for id in dropped {
            apps.remove(id);
        }
    }
    if let Some(Value::Array(installed)) = out.get_mut("Installed Applications") {
        installed.retain(|v| {
            v.as_string()
                .is_none_or(|id| !dropped.iter().any(|d| d == id))
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(ids: &[i64]) -> Value {
        let mut d = Dictionary::new();
        d.insert(
            "softwareSupportedDeviceIds".into(),
            Value::Array(ids.iter().map(|&i| Value::Integer(i.into())).collect()),
        );
        let mut bytes = Vec::new();
        Value::Dictionary(d).to_writer_binary(&mut bytes).unwrap();
        let mut app = Dictionary::new();
        app.insert("iTunesMetadata".into(), Value::Data(bytes));
        Value::Dictionary(app)
    }

    fn info() -> Dictionary {
        let mut apps = Dictionary::new();
        apps.insert("com.example.padonly".into(), metadata(&[4]));
        apps.insert("net.whatsapp.WhatsApp".into(), metadata(&[1, 2, 4, 9]));
        apps.insert(
            "com.example.sideloaded".into(),
            Value::Dictionary(Dictionary::new()),
        );
        let mut info = Dictionary::new();
        info.insert("Applications".into(), Value::Dictionary(apps));
        info.insert(
            "Installed Applications".into(),
            Value::Array(
                [
                    "com.example.padonly",
                    "net.whatsapp.WhatsApp",
                    "com.example.other",
                ]
                .iter()
                .map(|s| Value::String((*s).into()))
                .collect(),
            ),
        );
        info
    }

    #[test]
    fn compatibility_comes_from_itunes_metadata() {
        let c = AppCatalog::from_info_plist(&info());
        let (incompatible, unknown) = c.split(Family::IPhone);
        assert_eq!(incompatible, ["com.example.padonly"]);
        assert_eq!(unknown, ["com.example.other", "com.example.sideloaded"]);
        assert_eq!(c.split(Family::IPad).0, Vec::<String>::new());
    }

    #[test]
    fn domains_belong_to_their_app() {
        let c = AppCatalog::from_info_plist(&info());
        assert_eq!(
            c.owner("AppDomain-com.example.padonly"),
            Some("com.example.padonly")
        );
        assert_eq!(
            c.owner("AppDomainPlugin-com.example.padonly.widget"),
            Some("com.example.padonly")
        );
        assert_eq!(c.owner("AppDomainPlugin-com.example.padonlyx.widget"), None);
        assert_eq!(
            c.owner("AppDomainGroup-group.net.whatsapp.WhatsApp.shared"),
            Some("net.whatsapp.WhatsApp")
        );
        assert_eq!(
            c.owner("AppDomainGroup-group.com.apple.VoiceMemos.shared"),
            None
        );
        assert_eq!(c.owner("HomeDomain"), None);
    }

    #[test]
    fn dropped_apps_leave_info_plist_and_nothing_else_changes() {
        let out = without_apps(&info(), &["com.example.padonly".to_string()]);
        let apps = out["Applications"].as_dictionary().unwrap();
        assert!(!apps.contains_key("com.example.padonly") && apps.len() == 2);
        assert_eq!(out["Installed Applications"].as_array().unwrap().len(), 2);
        assert_eq!(without_apps(&info(), &[]), info());
    }
}
