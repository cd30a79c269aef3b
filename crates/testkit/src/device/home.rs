//! `HomeDomain` (Messages, contacts with their photos, calls, voicemail, Safari, preferences,
//! caches) and `MediaDomain`
//! (Messages attachments, Voice Memos).

use rand::RngExt;

use super::writer::{BlobWriter, CLASS_DEFAULT};
use super::{BigDb, Ctx};
use crate::content::databases::address_book::{self, Book};
use crate::content::databases::calendar;
use crate::content::databases::misc::{self, SmallDb};
use crate::content::databases::sms::{self, Attachment};
use crate::content::databases::voicemail;
use crate::content::media::{MediaKind, write_media};
use crate::content::small::{self, SmallKind};
use crate::content::{Rng, Seeds, plists, text};
use crate::error::Error;

pub(crate) const HOME: &str = "HomeDomain";
pub(crate) const MEDIA: &str = "MediaDomain";
pub(crate) const SMS_DB: &str = "Library/SMS/sms.db";
pub(crate) const CALL_HISTORY: &str = "Library/CallHistoryDB/CallHistory.storedata";
pub(crate) const SAFARI_HISTORY: &str = "Library/Safari/History.db";
pub(crate) const ADDRESS_BOOK: &str = "Library/AddressBook/AddressBook.sqlitedb";
pub(crate) const ADDRESS_BOOK_IMAGES: &str = "Library/AddressBook/AddressBookImages.sqlitedb";
pub(crate) const VOICEMAIL_DB: &str = "Library/Voicemail/voicemail.db";
pub(crate) const CALENDAR_DB: &str = "Library/Calendar/Calendar.sqlitedb";

const SYSTEM_PREFS: &[&str] = &[
    "com.apple.springboard",
    "com.apple.Preferences",
    "com.apple.mobilesafari",
    "com.apple.MobileSMS",
    "com.apple.mobilephone",
    "com.apple.camera",
    "com.apple.mobileslideshow",
    "com.apple.weather",
    "com.apple.stocks",
    "com.apple.Maps",
    "com.apple.mobilenotes",
    "com.apple.mobilecal",
    "com.apple.reminders",
    "com.apple.Music",
    "com.apple.podcasts",
    "com.apple.AppStore",
    "com.apple.assistant.support",
    "com.apple.voicemail",
    "com.apple.keyboard",
    "com.apple.locationd",
    "com.apple.itunesstored",
    "com.apple.purplebuddy",
    "com.apple.Fitness",
    "com.apple.Health",
    "com.apple.tips",
    "com.apple.findmy",
    "com.apple.news",
    "com.apple.TVRemote",
];

pub(crate) fn write(w: &mut BlobWriter, ctx: &Ctx) -> Result<(), Error> {
    let mut rng = ctx.seeds.label("home").rng();
    let attachments = write_attachments(w, ctx, &mut rng)?;
    let (now, rows) = (w.now(), ctx.small_db_rows());
    // Contacts first: some of Messages' handles are the address book's mobile numbers, so
    // that senders have names, as on a real phone.
    let book = write_contacts(w, ctx, rows)?;
    let (seeds, target) = (ctx.seeds.label("sms.db"), ctx.db_target(BigDb::Sms));
    w.file(HOME, SMS_DB, CLASS_DEFAULT, |b| {
        sms::create_db(b, seeds, target, now, &attachments, &book.mobiles)
    })?;
    let seeds = ctx.seeds.label(CALL_HISTORY);
    w.file(HOME, CALL_HISTORY, CLASS_DEFAULT, |b| {
        misc::create_call_history(b, seeds, rows * 2, now, &book.mobiles)
    })?;
    let seeds = ctx.seeds.label(SAFARI_HISTORY);
    w.file(HOME, SAFARI_HISTORY, CLASS_DEFAULT, |b| {
        misc::create_db(b, SmallDb::SafariHistory, seeds, rows * 2, now)
    })?;
    write_voicemail(w, ctx, &book.mobiles)?;
    let seeds = ctx.seeds.label(CALENDAR_DB);
    w.file(HOME, CALENDAR_DB, CLASS_DEFAULT, |b| {
        calendar::create_db(b, seeds, now)
    })?;
    for i in 0..ctx.small.home_prefs {
        let name = SYSTEM_PREFS[i % SYSTEM_PREFS.len()];
        let suffix = if i < SYSTEM_PREFS.len() {
            String::new()
        } else {
            format!(".{}", i / SYSTEM_PREFS.len())
        };
        let bytes = plists::preferences_file(&mut rng, now);
        w.bytes(
            HOME,
            &format!("Library/Preferences/{name}{suffix}.plist"),
            &bytes,
        )?;
    }
    for i in 0..ctx.small.home_caches {
        let dir = SYSTEM_PREFS[i % SYSTEM_PREFS.len()];
        let path = format!("Library/Caches/{dir}/{}", cache_name(&mut rng));
        small_file(w, &mut rng, HOME, &path)?;
    }
    for dir in [
        "Library/Voicemail",
        "Library/Cookies",
        "Library/Mail",
        "Media/Books",
    ] {
        w.dir(HOME, dir);
    }
    write_recordings(w, ctx, &mut rng)
}

/// The address book with `people` people, and the photos of some of them.
fn write_contacts(w: &mut BlobWriter, ctx: &Ctx, people: usize) -> Result<Book, Error> {
    let (seeds, now) = (ctx.seeds.label(ADDRESS_BOOK), w.now());
    let mut book = Book::default();
    w.file(HOME, ADDRESS_BOOK, CLASS_DEFAULT, |b| {
        book = address_book::create_db(b, seeds, people, now)?;
        Ok(())
    })?;
    w.file(HOME, ADDRESS_BOOK_IMAGES, CLASS_DEFAULT, |b| {
        address_book::create_images(b, &book.photos)
    })?;
    Ok(book)
}

/// `voicemail.db` and its messages' `<ROWID>.amr` audio and `<ROWID>.transcript` files.
fn write_voicemail(w: &mut BlobWriter, ctx: &Ctx, callers: &[String]) -> Result<(), Error> {
    let (seeds, now) = (ctx.seeds.label(VOICEMAIL_DB), w.now());
    let mut messages = Vec::new();
    w.file(HOME, VOICEMAIL_DB, CLASS_DEFAULT, |b| {
        messages = voicemail::create_db(b, seeds, callers, now)?;
        Ok(())
    })?;
    for m in &messages {
        if let Some(audio) = &m.audio {
            w.bytes(HOME, &format!("Library/Voicemail/{}.amr", m.id), audio)?;
        }
        if let Some(transcript) = &m.transcript {
            w.bytes(
                HOME,
                &format!("Library/Voicemail/{}.transcript", m.id),
                transcript,
            )?;
        }
    }
    Ok(())
}

/// A cache file name with an extension matching its kind.
pub(crate) fn cache_name(rng: &mut Rng) -> String {
    let kind = SmallKind::random(rng);
    match kind.extension() {
        "" => text::hex_token(rng, 20),
        ext => format!("{}.{ext}", text::hex_token(rng, 8)),
    }
}

/// A small file whose kind follows its name's extension.
pub(crate) fn small_file(
    w: &mut BlobWriter,
    rng: &mut Rng,
    domain: &str,
    path: &str,
) -> Result<u64, Error> {
    let kind = SmallKind::from_name(path);
    let len = small::size(rng);
    let bytes = small::bytes(rng, kind, len, w.now());
    w.bytes(domain, path, &bytes)
}

/// A few Messages photo attachments in `Library/SMS/Attachments/xx/yy/<UUID>/`.
fn write_attachments(
    w: &mut BlobWriter,
    ctx: &Ctx,
    rng: &mut Rng,
) -> Result<Vec<Attachment>, Error> {
    let n = (ctx.spec.photos / 8).clamp(1, 40);
    let avg = (ctx.spec.photo_bytes / 3).clamp(5_000, 800_000);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("IMG_{}.jpeg", rng.random_range(1000..9999));
        let dir = format!(
            "{:02x}/{:02}/{}",
            rng.random::<u8>(),
            rng.random_range(0..100),
            text::uuid(rng)
        );
        let relative_path = format!("Library/SMS/Attachments/{dir}/{name}");
        let len = (avg as f64 * rng.random_range(0.5..1.5)) as u64;
        let seeds = ctx.seeds.label("attachment").child(i as u64);
        w.file(MEDIA, &relative_path, CLASS_DEFAULT, |b| {
            write_media(b, MediaKind::Jpeg, len, seeds)
        })?;
        out.push(Attachment {
            relative_path,
            transfer_name: name,
            bytes: len,
        });
    }
    Ok(out)
}

/// The app group where iOS 15 and later keep Voice Memos.
pub(crate) const VOICE_MEMOS_GROUP: &str = "AppDomainGroup-group.com.apple.VoiceMemos.shared";

/// Voice Memos: `Media/Recordings/CloudRecordings.db` and a few `.m4a` files; with
/// [`crate::Extras::voice_memos_group`], `Recordings/` of [`VOICE_MEMOS_GROUP`] too.
fn write_recordings(w: &mut BlobWriter, ctx: &Ctx, rng: &mut Rng) -> Result<(), Error> {
    let seeds = ctx.seeds;
    write_recordings_in(w, ctx, rng, (MEDIA, "Media/Recordings"), seeds)?;
    if ctx.spec.extras.voice_memos_group {
        let seeds = ctx.seeds.label(VOICE_MEMOS_GROUP);
        let mut rng = seeds.rng();
        write_recordings_in(w, ctx, &mut rng, (VOICE_MEMOS_GROUP, "Recordings"), seeds)?;
    }
    Ok(())
}

fn write_recordings_in(
    w: &mut BlobWriter,
    ctx: &Ctx,
    rng: &mut Rng,
    (domain, dir): (&str, &str),
    seeds: Seeds,
) -> Result<(), Error> {
    let avg = (ctx.spec.video_bytes / 5).clamp(20_000, 4_000_000);
    let mut recordings = Vec::new();
    for i in 0..rng.random_range(2..5u64) {
        let at = w.now() - rng.random_range(0..365 * 86_400);
        let name = format!(
            "{}-{}.m4a",
            text::timestamp_name(at),
            text::hex_token(rng, 4).to_uppercase()
        );
        let len = (avg as f64 * rng.random_range(0.5..1.5)) as u64;
        let seeds = seeds.label("recording").child(i);
        w.file(domain, &format!("{dir}/{name}"), CLASS_DEFAULT, |b| {
            write_media(b, MediaKind::M4a, len, seeds)
        })?;
        recordings.push((name, at));
    }
    let seeds = seeds.label("CloudRecordings.db");
    w.file(
        domain,
        &format!("{dir}/CloudRecordings.db"),
        CLASS_DEFAULT,
        |b| misc::cloud_recordings(b, seeds, &recordings),
    )?;
    Ok(())
}
