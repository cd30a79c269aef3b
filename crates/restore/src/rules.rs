//! What does not transfer to another kind of device, and what is dropped to fit, as data: each
//! rule has a name (the contract's `rule`), what it covers, and where the rule comes from.

/// Apple's support article every cross-device rule comes from.
pub const APPLE_BACKUP_METHODS: &str = "Apple support: \"Backup methods for iPhone, iPad, and iPod touch\" (HT204136), \"Can I use my device's backup for another kind of device?\"";
/// Where the fit rules come from.
pub const FIT_SOURCE: &str = "--fit: the target's capacity (--to-capacity)";
/// Where the rule of an unencrypted image of an encrypted backup comes from.
pub const DECRYPTED_SOURCE: &str = "--decrypted: an unencrypted image holds only plaintext";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    /// What it skips, for people.
    pub what: &'static str,
    pub source: &'static str,
}

impl Rule {
    /// The reason printed for every entry this rule skips.
    pub fn reason(&self) -> String {
        format!("{} ({})", self.what, self.source)
    }
}

const fn cross(name: &'static str, what: &'static str) -> Rule {
    Rule {
        name,
        what,
        source: APPLE_BACKUP_METHODS,
    }
}

const fn fit(name: &'static str, what: &'static str) -> Rule {
    Rule {
        name,
        what,
        source: FIT_SOURCE,
    }
}

pub const PHOTOS: Rule = cross("photos", "photos do not transfer to another kind of device");
pub const MESSAGES: Rule = cross(
    "messages",
    "Messages and their attachments do not transfer to another kind of device",
);
pub const VOICE_MEMOS: Rule = cross(
    "voice-memos",
    "Voice Memos do not transfer to another kind of device",
);
pub const INCOMPATIBLE_APP: Rule = cross(
    "incompatible-app",
    "the app does not run on the target device (its App Store metadata lists no such device)",
);

/// In an unencrypted image of an encrypted backup (`--decrypted`): a file that was stored as
/// found, still encrypted, because it did not decrypt when it was backed up (a blob shorter or
/// longer than its Size, or one its key does not open). Its bytes are ciphertext, which an
/// unencrypted backup's reader would take for the file.
pub const UNDECRYPTABLE: Rule = Rule {
    name: "undecryptable",
    what: "its blob did not decrypt when it was backed up (the snapshot's warnings say why) and was kept encrypted, as found: an unencrypted image cannot hold it",
    source: DECRYPTED_SOURCE,
};

/// Dropped by `--fit`, in this order, until the image fits.
pub const FIT_ORDER: [Rule; 5] = [
    fit("fit-videos", "videos dropped to fit the target's capacity"),
    fit("fit-photos", "photos dropped to fit the target's capacity"),
    fit(
        "fit-message-attachments",
        "Messages attachments dropped to fit the target's capacity",
    ),
    fit(
        "fit-voice-memos",
        "Voice Memos dropped to fit the target's capacity",
    ),
    fit(
        "fit-app-data",
        "app data dropped to fit the target's capacity",
    ),
];

const VOICE_MEMOS_GROUP: &str = "AppDomainGroup-group.com.apple.VoiceMemos.shared";
const VIDEO_EXTENSIONS: [&str; 3] = [".mov", ".mp4", ".m4v"];

/// True when `path` is `prefix` or below it.
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The cross-device rule (other than apps) that skips this row, if any.
pub fn other_family_rule(domain: &str, relative_path: &str) -> Option<Rule> {
    match domain {
        "CameraRollDomain" => Some(PHOTOS),
        "HomeDomain" | "MediaDomain" if under(relative_path, "Library/SMS") => Some(MESSAGES),
        "MediaDomain" if under(relative_path, "Media/Recordings") => Some(VOICE_MEMOS),
        VOICE_MEMOS_GROUP => Some(VOICE_MEMOS),
        _ => None,
    }
}

/// Which of [`FIT_ORDER`] a row belongs to (its index), if any.
pub fn fit_category(domain: &str, relative_path: &str) -> Option<usize> {
    let lower = relative_path.to_ascii_lowercase();
    match domain {
        "CameraRollDomain" if VIDEO_EXTENSIONS.iter().any(|e| lower.ends_with(e)) => Some(0),
        "CameraRollDomain" => Some(1),
        "MediaDomain" if under(relative_path, "Library/SMS/Attachments") => Some(2),
        _ if other_family_rule(domain, relative_path) == Some(VOICE_MEMOS) => Some(3),
        d if d.starts_with("AppDomain") => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_map_to_rules_by_domain_and_path() {
        assert_eq!(
            other_family_rule("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC"),
            Some(PHOTOS)
        );
        assert_eq!(other_family_rule("CameraRollDomain", ""), Some(PHOTOS));
        assert_eq!(
            other_family_rule("HomeDomain", "Library/SMS/sms.db"),
            Some(MESSAGES)
        );
        assert_eq!(
            other_family_rule("HomeDomain", "Library/SMS"),
            Some(MESSAGES)
        );
        assert_eq!(
            other_family_rule("HomeDomain", "Library/SMSBackup/x"),
            None,
            "whole components"
        );
        assert_eq!(
            other_family_rule("MediaDomain", "Library/SMS/Attachments/ab/cd/x.jpg"),
            Some(MESSAGES)
        );
        assert_eq!(
            other_family_rule("MediaDomain", "Media/Recordings/CloudRecordings.db"),
            Some(VOICE_MEMOS)
        );
        assert_eq!(
            other_family_rule(VOICE_MEMOS_GROUP, "Recordings/a.m4a"),
            Some(VOICE_MEMOS)
        );
        assert_eq!(
            other_family_rule("HomeDomain", "Library/Notes/NoteStore.sqlite"),
            None
        );
        assert!(
            PHOTOS
                .reason()
                .contains("Backup methods for iPhone, iPad, and iPod touch")
        );
    }

    #[test]
    fn fit_categories_follow_the_stated_order() {
        let cat = |d, p| fit_category(d, p).map(|i| FIT_ORDER[i].name);
        assert_eq!(
            cat("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0002.MOV"),
            Some("fit-videos")
        );
        assert_eq!(
            cat("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC"),
            Some("fit-photos")
        );
        assert_eq!(
            cat("MediaDomain", "Library/SMS/Attachments/a/b.jpg"),
            Some("fit-message-attachments")
        );
        assert_eq!(
            cat("MediaDomain", "Media/Recordings/x.m4a"),
            Some("fit-voice-memos")
        );
        assert_eq!(
            cat("AppDomain-net.whatsapp.WhatsApp", "Documents/x"),
            Some("fit-app-data")
        );
        assert_eq!(cat("HomeDomain", "Library/SMS/sms.db"), None);
    }
}
