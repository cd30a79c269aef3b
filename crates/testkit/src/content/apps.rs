//! A catalog of real-world apps, with the device families each supports.

/// App Store device family ids in `softwareSupportedDeviceIds`.
pub(crate) const UNIVERSAL: &[i64] = &[1, 2, 4, 9];
pub(crate) const IPHONE_ONLY: &[i64] = &[1, 2, 9];
pub(crate) const IPAD_ONLY: &[i64] = &[4];
/// A sideloaded app: no App Store metadata, so no device ids are known.
pub(crate) const UNKNOWN: &[i64] = &[];

/// One installable app and the containers it brings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct App {
    pub(crate) bundle_id: &'static str,
    pub(crate) name: &'static str,
    pub(crate) artist: &'static str,
    pub(crate) version: &'static str,
    pub(crate) genre: &'static str,
    /// Empty ([`UNKNOWN`]) for a sideloaded app, which has no `iTunesMetadata`.
    pub(crate) device_ids: &'static [i64],
    /// The app group container suffix, if the app has one (`group.<bundle id>.shared`).
    pub(crate) has_group: bool,
    /// App extension suffixes: each gives an `AppDomainPlugin-<bundle id>.<suffix>` domain.
    pub(crate) plugins: &'static [&'static str],
}

impl App {
    pub(crate) fn is_ipad_only(&self) -> bool {
        self.device_ids.contains(&4)
            && !self.device_ids.contains(&1)
            && !self.device_ids.contains(&9)
    }

    /// Whether Info.plist carries the app's App Store metadata (not for sideloaded apps).
    pub(crate) fn has_metadata(&self) -> bool {
        !self.device_ids.is_empty()
    }

    pub(crate) fn runs_on(&self, ipad: bool) -> bool {
        if ipad {
            self.device_ids.contains(&4) || !self.is_ipad_only()
        } else {
            !self.is_ipad_only()
        }
    }

    /// Bundle id of the app group container (`group.<bundle id>.shared`).
    pub(crate) fn group_id(&self) -> String {
        format!("group.{}.shared", self.bundle_id)
    }
}

// One positional argument per catalog column keeps CATALOG a readable table.
#[allow(clippy::too_many_arguments)]
const fn app(
    bundle_id: &'static str,
    name: &'static str,
    artist: &'static str,
    version: &'static str,
    genre: &'static str,
    device_ids: &'static [i64],
    has_group: bool,
    plugins: &'static [&'static str],
) -> App {
    App {
        bundle_id,
        name,
        artist,
        version,
        genre,
        device_ids,
        has_group,
        plugins,
    }
}

/// WhatsApp comes first: every device with apps has it (ChatStorage.sqlite lives in its group).
pub(crate) const WHATSAPP: App = app(
    "net.whatsapp.WhatsApp",
    "WhatsApp Messenger",
    "WhatsApp Inc.",
    "24.10.74",
    "Social Networking",
    UNIVERSAL,
    true,
    &["ShareExtension", "Intents", "NotificationService", "Widget"],
);

#[rustfmt::skip]
pub(crate) const CATALOG: &[App] = &[
    app("com.savageinteractive.procreate", "Procreate", "Savage Interactive", "5.2.9", "Graphics & Design", IPAD_ONLY, false, &["ShareExtension"]),
    app("com.apple.mobilelogic", "Logic Pro for iPad", "Apple", "1.1.2", "Music", IPAD_ONLY, false, &[]),
    app("com.spotify.client", "Spotify", "Spotify", "8.9.38", "Music", UNIVERSAL, true, &["widget", "WatchKitExtension"]),
    app("com.burbn.instagram", "Instagram", "Instagram, Inc.", "330.0", "Photo & Video", IPHONE_ONLY, true, &["shareextension", "notificationcontent"]),
    app("com.google.Maps", "Google Maps", "Google LLC", "6.113.1", "Navigation", UNIVERSAL, false, &["widget"]),
    app("com.netflix.Netflix", "Netflix", "Netflix, Inc.", "16.31.0", "Entertainment", UNIVERSAL, false, &[]),
    app("com.duolingo.DuolingoMobile", "Duolingo", "Duolingo", "7.29.0", "Education", UNIVERSAL, true, &["widget", "NotificationService"]),
    app("com.zhiliaoapp.musically", "TikTok", "TikTok Ltd.", "34.8.0", "Entertainment", UNIVERSAL, true, &["AwemeShareExtension"]),
    app("com.microsoft.Office.Word", "Microsoft Word", "Microsoft Corporation", "2.85", "Productivity", UNIVERSAL, true, &["FileProvider"]),
    app("com.getdropbox.Dropbox", "Dropbox", "Dropbox, Inc.", "375.2", "Productivity", UNIVERSAL, true, &["FileProvider", "ShareExtension"]),
    app("org.whispersystems.signal", "Signal", "Signal Messenger, LLC", "7.10", "Social Networking", UNIVERSAL, true, &["SignalNSE", "SignalShareExtension"]),
    app("com.facebook.Facebook", "Facebook", "Meta Platforms, Inc.", "465.0", "Social Networking", UNIVERSAL, true, &["ShareExtension"]),
    app("com.amazon.Amazon", "Amazon Shopping", "AMZN Mobile LLC", "24.11.0", "Shopping", UNIVERSAL, false, &["widget"]),
    app("uk.co.bbc.iplayer", "BBC iPlayer", "BBC Media Applications Technologies", "4.152.0", "Entertainment", UNIVERSAL, false, &[]),
    app("uk.co.bbc.news", "BBC News", "BBC Media Applications Technologies", "7.5.1", "News", UNIVERSAL, true, &["widget"]),
    app("com.apple.Pages", "Pages", "Apple", "14.0", "Productivity", UNIVERSAL, false, &["ShareExtension"]),
    app("com.apple.Keynote", "Keynote", "Apple", "14.0", "Productivity", UNIVERSAL, false, &[]),
    app("com.apple.iMovie", "iMovie", "Apple", "3.5.1", "Photo & Video", UNIVERSAL, false, &[]),
    app("com.goodnotesapp.x", "Goodnotes 6", "Goodnotes Limited", "6.4.9", "Productivity", UNIVERSAL, true, &["ShareExtension", "widget"]),
    app("com.toyopagroup.picaboo", "Snapchat", "Snap, Inc.", "13.3.0", "Photo & Video", IPHONE_ONLY, true, &["ShareExtension"]),
    app("com.ubercab.UberClient", "Uber", "Uber Technologies, Inc.", "3.612.10000", "Travel", UNIVERSAL, false, &["widget"]),
    app("com.trainline.TrainlineAndroid", "Trainline", "Trainline", "228.0", "Travel", UNIVERSAL, false, &["widget"]),
    app("com.monzo.bank", "Monzo", "Monzo Bank Limited", "5.112.0", "Finance", IPHONE_ONLY, true, &["widget", "Intents"]),
    app("com.strava.stravaride", "Strava", "Strava Inc.", "370.0", "Health & Fitness", UNIVERSAL, true, &["widget"]),
    app("com.king.candycrushsaga", "Candy Crush Saga", "King", "1.278.0", "Games", UNIVERSAL, false, &[]),
    app("com.mojang.minecraftpe", "Minecraft", "Mojang", "1.20.81", "Games", UNIVERSAL, false, &[]),
    app("com.roblox.robloxmobile", "Roblox", "Roblox Corporation", "2.626.541", "Games", UNIVERSAL, false, &[]),
    app("com.google.chrome.ios", "Google Chrome", "Google LLC", "125.0.6422.80", "Utilities", UNIVERSAL, true, &["widget", "ShareExtension", "CredentialProvider"]),
    app("org.mozilla.ios.Firefox", "Firefox", "Mozilla", "126.0", "Utilities", UNIVERSAL, true, &["ShareTo", "WidgetKit"]),
    app("com.google.Gmail", "Gmail", "Google LLC", "6.0.240512", "Productivity", UNIVERSAL, true, &["NotificationService", "ShareExtension"]),
    app("com.microsoft.Office.Outlook", "Microsoft Outlook", "Microsoft Corporation", "4.2419.0", "Productivity", UNIVERSAL, true, &["widget", "ShareExtension"]),
    app("com.zoomvideo.zoomclient", "Zoom", "Zoom Video Communications", "6.0.10", "Business", UNIVERSAL, false, &["ShareExtension"]),
    app("com.tinyspeck.chatlyio", "Slack", "Slack Technologies", "24.05.10", "Business", UNIVERSAL, true, &["ShareExtension"]),
    app("com.deliveroo.orderapp", "Deliveroo", "Deliveroo", "3.168.0", "Food & Drink", UNIVERSAL, false, &["widget"]),
    app("com.citymapper.citymapper", "Citymapper", "Citymapper Limited", "11.24", "Navigation", UNIVERSAL, true, &["widget"]),
    app("com.shazam.Shazam", "Shazam", "Apple", "17.10", "Music", UNIVERSAL, true, &["widget"]),
    app("com.audible.iphone", "Audible", "Audible, Inc.", "3.99.0", "Books", UNIVERSAL, false, &["widget"]),
    app("com.headspace.headspace", "Headspace", "Headspace Inc.", "4.9.0", "Health & Fitness", UNIVERSAL, false, &["widget"]),
    app("com.nianticlabs.pokemongo", "Pokémon GO", "Niantic, Inc.", "0.313.2", "Games", IPHONE_ONLY, false, &[]),
    app("com.toca.tocaworld", "Toca Boca World", "Toca Boca", "1.86", "Education", UNIVERSAL, false, &[]),
];

/// Apps never chosen at random, installed only when a spec names them
/// ([`crate::Extras::apps`]): adding them to [`CATALOG`] would change every household.
#[rustfmt::skip]
pub(crate) const MORE_APPS: &[App] = &[
    app(crate::spec::FINAL_CUT_PRO, "Final Cut Pro", "Apple", "2.0", "Photo & Video", IPAD_ONLY, true, &["ShareExtension"]),
    app(crate::spec::SIDELOADED_APP, "UTM", "UTM", "4.5.2", "Developer Tools", UNKNOWN, false, &["FileProvider"]),
];

/// The app with this bundle id, from [`WHATSAPP`], [`CATALOG`] or [`MORE_APPS`].
pub(crate) fn find(bundle_id: &str) -> Option<App> {
    std::iter::once(&WHATSAPP)
        .chain(CATALOG)
        .chain(MORE_APPS)
        .find(|a| a.bundle_id == bundle_id)
        .copied()
}

/// The apps a device installs: WhatsApp, then iPad-only apps on an iPad, then the catalog
/// from a device-specific offset. Never more than the catalog holds.
pub(crate) fn choose(count: usize, ipad: bool, offset: usize) -> Vec<App> {
    if count == 0 {
        return Vec::new();
    }
    let mut chosen = vec![WHATSAPP];
    let (ipad_first, rest): (Vec<App>, Vec<App>) = CATALOG
        .iter()
        .copied()
        .filter(|a| a.runs_on(ipad))
        .partition(App::is_ipad_only);
    chosen.extend(ipad_first);
    let n = rest.len();
    chosen.extend((0..n).map(|i| rest[(i + offset) % n]));
    chosen.truncate(count);
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipad_gets_ipad_only_apps_and_iphone_never_does() {
        let ipad = choose(5, true, 3);
        assert_eq!(ipad[0].bundle_id, WHATSAPP.bundle_id);
        assert!(ipad[1].is_ipad_only());
        let phone = choose(40, false, 3);
        assert!(phone.iter().all(|a| !a.is_ipad_only()));
        assert!(choose(0, false, 0).is_empty());
    }

    #[test]
    fn more_apps_are_found_and_never_chosen() {
        let fcp = find(crate::spec::FINAL_CUT_PRO).unwrap();
        assert!(fcp.is_ipad_only() && fcp.has_group && !fcp.plugins.is_empty());
        let utm = find(crate::spec::SIDELOADED_APP).unwrap();
        assert!(!utm.has_metadata() && !utm.is_ipad_only());
        assert!(CATALOG.iter().all(App::has_metadata));
        for ipad in [false, true] {
            let all = choose(100, ipad, 0);
            assert!(
                all.iter()
                    .all(|a| MORE_APPS.iter().all(|m| m.bundle_id != a.bundle_id))
            );
        }
        assert!(find("com.example.nothing").is_none());
    }
}
