//! Words, names and identifiers: compressible text like real message bodies and contacts.

use rand::{Rng as _, RngExt};

use super::Rng;

const WORDS: &[&str] = &[
    "the",
    "a",
    "to",
    "and",
    "you",
    "I",
    "it",
    "is",
    "of",
    "for",
    "on",
    "in",
    "that",
    "me",
    "we",
    "my",
    "so",
    "just",
    "are",
    "be",
    "at",
    "with",
    "have",
    "what",
    "can",
    "this",
    "ok",
    "yes",
    "no",
    "not",
    "do",
    "get",
    "was",
    "will",
    "up",
    "time",
    "now",
    "love",
    "home",
    "tonight",
    "tomorrow",
    "later",
    "dinner",
    "school",
    "work",
    "pick",
    "call",
    "sorry",
    "thanks",
    "great",
    "see",
    "soon",
    "there",
    "here",
    "going",
    "back",
    "out",
    "good",
    "lol",
    "haha",
    "when",
    "where",
    "how",
    "today",
    "weekend",
    "train",
    "late",
    "running",
    "bus",
    "shop",
    "milk",
    "bread",
    "need",
    "anything",
    "else",
    "car",
    "keys",
    "door",
    "garden",
    "football",
    "practice",
    "match",
    "cinema",
    "film",
    "photo",
    "photos",
    "send",
    "sent",
    "message",
    "phone",
    "charger",
    "battery",
    "dog",
    "walk",
    "park",
    "rain",
    "sunny",
    "cold",
    "holiday",
    "flight",
    "booked",
    "hotel",
    "beach",
    "birthday",
    "party",
    "present",
    "cake",
    "granny",
    "grandad",
    "visit",
    "Sunday",
    "Monday",
    "Friday",
    "morning",
    "evening",
    "night",
    "meeting",
    "finished",
    "started",
    "done",
    "ready",
    "leaving",
    "arrived",
    "parking",
    "traffic",
    "again",
    "remember",
    "forgot",
    "bring",
    "coat",
    "homework",
    "teacher",
    "exam",
    "results",
    "doctor",
    "appointment",
    "dentist",
    "10",
    "5",
    "half",
    "past",
    "quarter",
    "about",
    "maybe",
    "probably",
    "definitely",
    "sure",
    "fine",
    "nice",
    "lovely",
    "brilliant",
    "xx",
    "x",
    "😂",
    "❤️",
    "👍",
    "🎉",
    "really",
    "very",
    "too",
    "much",
    "all",
    "some",
    "more",
    "pizza",
    "pasta",
    "chicken",
    "takeaway",
    "order",
    "left",
    "right",
    "outside",
    "inside",
];

const FIRST_NAMES: &[&str] = &[
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Grace", "Sophia", "Freya", "Noah",
    "Oliver", "George", "Leo", "Arthur", "Muhammad", "Harry", "Oscar", "Jack", "Charlie", "Sarah",
    "David", "Emma", "James", "Laura", "Tom", "Priya", "Aisha", "Chen", "Lucas", "Sofia", "Mateo",
    "Hannah", "Ben", "Kate", "Sam", "Nina", "Ravi", "Zoe", "Max",
];

const LAST_NAMES: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Lewis", "Harris", "Martin", "Cooper", "King", "Lee",
];

const SITES: &[&str] = &[
    "www.bbc.co.uk",
    "www.google.com",
    "en.wikipedia.org",
    "www.amazon.co.uk",
    "www.youtube.com",
    "www.theguardian.com",
    "www.reddit.com",
    "www.netflix.com",
    "www.ebay.co.uk",
    "www.tesco.com",
    "www.nhs.uk",
    "www.gov.uk",
    "www.apple.com",
    "github.com",
    "www.booking.com",
    "www.rightmove.co.uk",
    "www.metoffice.gov.uk",
    "www.instagram.com",
];

pub(crate) fn pick<'a>(rng: &mut Rng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// A chat message body of `min..=max` words.
pub(crate) fn sentence(rng: &mut Rng, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    let mut s = String::with_capacity(n * 6);
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(pick(rng, WORDS));
    }
    if rng.random_bool(0.5) {
        s.push(if rng.random_bool(0.7) { '.' } else { '?' });
    }
    s
}

pub(crate) fn first_name(rng: &mut Rng) -> &'static str {
    pick(rng, FIRST_NAMES)
}

pub(crate) fn last_name(rng: &mut Rng) -> &'static str {
    pick(rng, LAST_NAMES)
}

/// A UK mobile number in E.164 form.
pub(crate) fn phone_number(rng: &mut Rng) -> String {
    format!("+447{:09}", rng.random_range(0..1_000_000_000u32))
}

pub(crate) fn email(rng: &mut Rng) -> String {
    let first = first_name(rng).to_lowercase();
    let last = last_name(rng).to_lowercase();
    format!("{first}.{last}{}@example.com", rng.random_range(1..100u32))
}

/// A web address on a popular site with a random path.
pub(crate) fn url(rng: &mut Rng) -> String {
    let site = pick(rng, SITES);
    let slug: Vec<&str> = (0..rng.random_range(1..5))
        .map(|_| pick(rng, WORDS))
        .collect();
    format!("https://{site}/{}", slug.join("-").to_lowercase())
}

pub(crate) fn site(rng: &mut Rng) -> &'static str {
    pick(rng, SITES)
}

/// An upper-case UUID string, as iOS writes them in databases and folder names.
pub(crate) fn uuid(rng: &mut Rng) -> String {
    let b: [u8; 16] = rng.random();
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `n` random bytes.
pub(crate) fn bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

/// Between `range.start` and `range.end` random bytes.
pub(crate) fn bytes_in(rng: &mut Rng, range: std::ops::Range<usize>) -> Vec<u8> {
    let n = rng.random_range(range);
    bytes(rng, n)
}

/// A lower-case hex string of `n` random bytes.
pub(crate) fn hex_token(rng: &mut Rng, n: usize) -> String {
    hex::encode(bytes(rng, n))
}

/// `YYYYMMDD HHMMSS` (UTC) for Unix seconds, as Voice Memos names recordings.
pub(crate) fn timestamp_name(unix: i64) -> String {
    let t = jiff::Timestamp::from_second(unix).expect("a time within years -9999 to 9999");
    t.strftime("%Y%m%d %H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_names_match_the_calendar() {
        assert_eq!(timestamp_name(0), "19700101 000000");
        assert_eq!(timestamp_name(1_717_268_400), "20240601 190000");
        assert_eq!(timestamp_name(951_782_400), "20000229 000000");
    }
}
