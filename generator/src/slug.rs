//! Slugs: the one function that turns titles, file names and heading texts into URL path
//! segments and HTML ids.
//!
//! Page slugs, heading ids and the check of `#fragment` links all go through [`slugify`], so a
//! character is treated the same way wherever it appears: a link written from a heading's visible
//! text and slugified here lands on the id that the heading got from the same call.
//!
//! A slug may come out empty (an emoji-only title under [`SlugStrategy::On`], for example). This
//! module never invents a replacement name on its own; callers pick the fallback that fits their
//! context, usually through [`slugify_or`].

use std::borrow::Cow;

use deunicode::deunicode_char;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// How much of the original text a slug keeps.
///
/// Read from configuration as `"on"`, `"safe"` or `"off"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlugStrategy {
    /// ASCII only: letters and digits are transliterated and lowercased, everything else
    /// separates words. `Über Größe` becomes `uber-grosse`.
    #[default]
    On,
    /// Unicode letters, digits and combining marks are kept (lowercased where the script has
    /// case); whitespace, punctuation, symbols and the characters that are unsafe in URLs or file
    /// names separate words. `Über Größe` becomes `über-größe`, `پارسی` stays as it is.
    Safe,
    /// The text as written, trimmed, with only the characters that could escape a folder
    /// replaced by `-`.
    Off,
}

/// Turns `text` into a slug following `strategy`.
///
/// Under [`SlugStrategy::On`] and [`SlugStrategy::Safe`] the result never starts or ends with
/// `-` and never holds two `-` in a row. Under every strategy the result holds no `/`, `\`,
/// control character or leading `.`, so it is always a single, visible path segment.
///
/// The result may be empty, or (under `Off`) consist of `-` only; see [`slugify_or`]. Applying
/// the function to its own output changes nothing.
pub fn slugify(text: &str, strategy: SlugStrategy) -> String {
    match strategy {
        SlugStrategy::On => ascii_slug(text),
        SlugStrategy::Safe => unicode_slug(text),
        SlugStrategy::Off => raw_name(text),
    }
}

/// Like [`slugify`], but returns `fallback` when the slug would be empty or only `-`.
///
/// Such a slug would make an empty URL segment or an id nobody can link to, so the caller's
/// stable name is used instead.
pub fn slugify_or(text: &str, strategy: SlugStrategy, fallback: &str) -> String {
    let slug = slugify(text, strategy);
    if is_blank(&slug) { fallback.to_owned() } else { slug }
}

/// Whether a slug is unusable as a name: empty or made of `-` only.
pub fn is_blank(slug: &str) -> bool {
    slug.bytes().all(|b| b == b'-')
}

/// Builds a slug from kept characters and separators, writing one `-` for each run of separators
/// and none at either end.
struct Joiner {
    out: String,
    pending_dash: bool,
}

impl Joiner {
    fn with_capacity(capacity: usize) -> Self {
        Self { out: String::with_capacity(capacity), pending_dash: false }
    }

    fn push(&mut self, c: char) {
        // The dash is written lazily so that a run of separators, and separators at the start or
        // the end, leave nothing behind.
        if self.pending_dash && !self.out.is_empty() {
            self.out.push('-');
        }
        self.pending_dash = false;
        self.out.push(c);
    }

    fn separate(&mut self) {
        self.pending_dash = true;
    }

    fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    fn finish(self) -> String {
        self.out
    }
}

fn ascii_slug(text: &str) -> String {
    let mut joiner = Joiner::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            push_ascii(&mut joiner, c);
        } else if c.is_alphanumeric() || is_combining_mark(c) {
            // Only letters and digits are transliterated: deunicode would spell an emoji or a
            // currency sign out as a word (`⚡` as "lightning"), which reads as noise in a URL.
            // Combining marks map to nothing, so decomposed text slugs like composed text.
            for b in deunicode_char(c).unwrap_or("-").chars() {
                push_ascii(&mut joiner, b);
            }
        } else {
            joiner.separate();
        }
    }
    joiner.finish()
}

fn push_ascii(joiner: &mut Joiner, c: char) {
    if c.is_ascii_alphanumeric() {
        joiner.push(c.to_ascii_lowercase());
    } else {
        joiner.separate();
    }
}

fn unicode_slug(text: &str) -> String {
    // File names written on macOS arrive decomposed (NFD) while text typed in an editor is
    // usually composed (NFC); composing first makes both give the same slug.
    let text = compose(text);
    let mut joiner = Joiner::with_capacity(text.len());
    for c in text.chars() {
        let leading_dot = c == '.' && joiner.is_empty();
        if !kept_by_safe(c) || leading_dot {
            joiner.separate();
            continue;
        }
        for lower in c.to_lowercase() {
            joiner.push(lower);
        }
    }

    // A trailing dot is dropped too: Windows cannot keep it in a file name.
    let mut slug = joiner.finish();
    while slug.ends_with(['.', '-']) {
        slug.pop();
    }
    slug
}

fn compose(text: &str) -> Cow<'_, str> {
    match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => Cow::Borrowed(text),
        IsNormalized::No | IsNormalized::Maybe => Cow::Owned(text.nfc().collect()),
    }
}

fn kept_by_safe(c: char) -> bool {
    // Zero-width (non-)joiners are part of how Persian and Indic words are spelled, so removing
    // them would change the word rather than its punctuation.
    c.is_alphanumeric() || is_combining_mark(c) || matches!(c, '_' | '.' | '\u{200C}' | '\u{200D}')
}

fn raw_name(text: &str) -> String {
    let text = text.trim();
    let mut out = String::with_capacity(text.len());
    let mut leading = true;
    for c in text.chars() {
        // Leading dots are replaced as well: `..` alone would climb out of the folder, and a
        // name starting with a dot is hidden on most systems.
        let escapes = c == '/' || c == '\\' || c.is_control() || (leading && c == '.');
        leading &= c == '.';
        out.push(if escapes { '-' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use SlugStrategy::{Off, On, Safe};

    #[test]
    fn on_transliterates_german_to_ascii() {
        assert_eq!(slugify("Über Größe", On), "uber-grosse");
        assert_eq!(slugify("Ölmühle", On), "olmuhle");
    }

    #[test]
    fn on_drops_emoji_instead_of_spelling_them_out() {
        assert_eq!(slugify("fast build ⚡", On), "fast-build");
        assert_eq!(slugify("🦀🦀", On), "");
    }

    #[test]
    fn on_transliterates_other_scripts() {
        assert_eq!(slugify("東京タワー", On), "dong-jing-tawa");
        assert_eq!(slugify("پارسی", On), "prsy");
    }

    #[test]
    fn on_gives_the_same_slug_for_decomposed_text() {
        assert_eq!(slugify("O\u{308}lmu\u{308}hle", On), "olmuhle");
    }

    #[test]
    fn on_collapses_and_trims_separators() {
        assert_eq!(slugify("  --Hello,   World!--  ", On), "hello-world");
        assert_eq!(slugify("snake_case and C++", On), "snake-case-and-c");
    }

    #[test]
    fn safe_keeps_letters_of_every_script() {
        assert_eq!(slugify("پارسی", Safe), "پارسی");
        assert_eq!(slugify("東京タワー", Safe), "東京タワー");
        assert_eq!(slugify("Über Größe", Safe), "über-größe");
        assert_eq!(slugify("हिन्दी भाषा", Safe), "हिन्दी-भाषा");
        assert_eq!(slugify("می\u{200C}خواهم", Safe), "می\u{200C}خواهم");
    }

    #[test]
    fn safe_replaces_url_and_file_system_characters() {
        let unsafe_text = r#"a/b\c?d#e%f&g<h>i"j'k:l*m|n"#;
        assert_eq!(slugify(unsafe_text, Safe), "a-b-c-d-e-f-g-h-i-j-k-l-m-n");
        assert_eq!(slugify("tab\there\u{0}nul", Safe), "tab-here-nul");
        assert_eq!(slugify("fast build ⚡", Safe), "fast-build");
    }

    #[test]
    fn safe_drops_dots_at_either_end_only() {
        assert_eq!(slugify(".hidden", Safe), "hidden");
        assert_eq!(slugify(". .config", Safe), "config");
        assert_eq!(slugify("v1.2 is out.", Safe), "v1.2-is-out");
        assert_eq!(slugify("..", Safe), "");
    }

    #[test]
    fn safe_gives_the_same_slug_for_decomposed_text() {
        assert_eq!(slugify("O\u{308}lmu\u{308}hle", Safe), slugify("Ölmühle", Safe));
        assert_eq!(slugify("Ölmühle", Safe), "ölmühle");
    }

    #[test]
    fn off_only_trims_and_neutralises_path_characters() {
        assert_eq!(slugify("  Hello World  ", Off), "Hello World");
        assert_eq!(slugify("a/b\\c\u{0}d\u{7}e", Off), "a-b-c-d-e");
        assert_eq!(slugify("..", Off), "--");
        assert_eq!(slugify("../etc/passwd", Off), "---etc-passwd");
        assert_eq!(slugify("a..b", Off), "a..b");
    }

    #[test]
    fn slugify_or_falls_back_on_blank_slugs() {
        assert_eq!(slugify_or("🦀🦀", On, "page"), "page");
        assert_eq!(slugify_or("//", Off, "page"), "page");
        assert_eq!(slugify_or("...", Safe, "page"), "page");
        assert_eq!(slugify_or("Ölmühle", On, "page"), "olmuhle");
    }

    #[test]
    fn slugify_is_idempotent() {
        let inputs = [
            "Über Größe",
            "Ölmühle",
            "O\u{308}lmu\u{308}hle",
            "東京タワー",
            "🦀🦀",
            "fast build ⚡",
            "پارسی",
            "हिन्दी भाषा",
            " .dots. and -- dashes ",
            r#"a/b\c?d#e%f&g<h>i"j'k:l*m|n"#,
            "../etc/passwd",
            "İstanbul ΣΊΣΥΦΟΣ",
        ];
        for strategy in [On, Safe, Off] {
            for input in inputs {
                let once = slugify(input, strategy);
                assert_eq!(slugify(&once, strategy), once, "{strategy:?} on {input:?}");
            }
        }
    }

    #[test]
    fn strategy_reads_from_lowercase_names() {
        let parse = |text: &str| -> SlugStrategy {
            let value = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(text);
            serde::Deserialize::deserialize(value).expect("strategy name")
        };
        assert_eq!(parse("on"), On);
        assert_eq!(parse("safe"), Safe);
        assert_eq!(parse("off"), Off);
    }
}
