//! The site configuration, read from `kiln.toml` at the site root.
//!
//! Every key is optional. A site that has no `kiln.toml` but a Zola `config.toml` is read
//! from that file instead, since the keys Kiln shares with Zola have the same names (or are
//! accepted under Zola's name as an alias). Unknown keys are warnings, never errors, so that a
//! config written for another generator still builds.

use std::path::Path;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Source};
use crate::slug::SlugStrategy;

/// The parsed site configuration, with defaults filled in and values checked.
#[derive(Clone, Debug)]
pub struct Config {
    /// The site's title, shown in the header, `<title>` and feeds.
    pub title: String,
    /// A one-line description of the site.
    pub description: String,
    /// The absolute URL the site is served from, without a trailing slash.
    pub base_url: String,
    /// The language of the content, as a BCP 47 tag (`en`, `fr-CA`).
    pub language: String,
    /// The timezone that dates without an offset are read in.
    pub timezone: Tz,
    /// The theme under `themes/` whose templates and static files are used.
    pub theme: Option<String>,
    /// The site's author, used in feeds and JSON-LD when a page names none.
    pub author: Option<String>,
    /// The default page size of section lists; `None` lists every page on one page.
    pub paginate_by: Option<usize>,
    /// The taxonomies of the site: `tags`, `categories` and `authors`, plus declared ones.
    pub taxonomies: Vec<TaxonomyConfig>,
    /// Atom and RSS feed settings.
    pub feeds: FeedConfig,
    /// How page paths, taxonomy terms and heading ids are turned into slugs.
    pub slugify: SlugConfig,
    /// Markdown rendering options.
    pub markdown: MarkdownConfig,
    /// Whether `search_index.json` is written.
    pub search_index: bool,
    /// The free `[extra]` table, given to templates as `config.extra`.
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// Where the config was read from, for messages.
    pub source: Source,
}

/// One taxonomy, such as `tags`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TaxonomyConfig {
    /// The name used in front matter and in URLs (`/tags/`).
    pub name: String,
    /// Page size of the term pages; `None` lists every page of a term on one page.
    #[serde(default)]
    pub paginate_by: Option<usize>,
    /// Whether each term gets its own feeds.
    #[serde(default = "yes")]
    pub feed: bool,
    /// Whether the taxonomy's pages are written at all.
    #[serde(default = "yes")]
    pub render: bool,
}

impl TaxonomyConfig {
    fn named(name: &str) -> Self {
        Self { name: name.to_string(), paginate_by: None, feed: true, render: true }
    }
}

/// Feed settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedConfig {
    /// Whether any feed is written.
    #[serde(alias = "generate")]
    pub enabled: bool,
    /// The most entries a feed carries, newest first.
    pub limit: usize,
    /// Whether `atom.xml` feeds are written.
    pub atom: bool,
    /// Whether `rss.xml` feeds are written.
    pub rss: bool,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self { enabled: true, limit: 20, atom: true, rss: true }
    }
}

/// The slug rule for each kind of name.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlugConfig {
    /// Page and section paths.
    pub paths: SlugStrategy,
    /// Taxonomy terms.
    pub taxonomies: SlugStrategy,
    /// Heading ids and the anchors written to them.
    pub anchors: SlugStrategy,
}

/// Markdown rendering options.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarkdownConfig {
    /// Highlight fenced code blocks.
    pub highlight_code: bool,
    /// Turn straight quotes, `--` and `...` into typographic ones.
    pub smart_punctuation: bool,
    /// Open links to other sites in a new tab.
    #[serde(alias = "external_links_target_blank")]
    pub external_links_new_tab: bool,
    /// Gather footnote definitions at the end of the page.
    pub footnotes_at_bottom: bool,
    /// Put a `#` link to each heading inside it.
    pub insert_anchor_links: bool,
    /// Zola's theme name for highlighting; accepted and ignored (Kiln's CSS decides colours).
    pub highlight_theme: Option<String>,
}

impl Default for MarkdownConfig {
    fn default() -> Self {
        Self {
            highlight_code: true,
            smart_punctuation: false,
            external_links_new_tab: false,
            footnotes_at_bottom: true,
            insert_anchor_links: true,
            highlight_theme: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// The file as written, before defaults are applied and values checked.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawConfig {
    title: String,
    description: String,
    base_url: Option<String>,
    #[serde(alias = "default_language")]
    language: Option<String>,
    timezone: Option<String>,
    theme: Option<String>,
    author: Option<String>,
    paginate_by: Option<usize>,
    taxonomies: Vec<TaxonomyConfig>,
    feeds: Option<FeedConfig>,
    slugify: SlugConfig,
    markdown: MarkdownConfig,
    search_index: Option<bool>,
    extra: Option<toml::Table>,
    // Zola's spellings of feed and search settings.
    generate_feeds: Option<bool>,
    generate_feed: Option<bool>,
    feed_limit: Option<usize>,
    build_search_index: Option<bool>,
}

/// The default base URL when the config gives none: the address `kiln serve` uses.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:1111";

/// Top-level keys of Zola's config that Kiln accepts without using, so they raise no warning.
const IGNORED_ZOLA_KEYS: &[&str] =
    &["compile_sass", "minify_html", "ignored_content", "ignored_static", "hard_link_static"];

impl Config {
    /// Reads `kiln.toml` (or a Zola `config.toml`) from `root`. A site with neither gets the
    /// defaults. Returns the config and its warnings, or every error found.
    pub fn load(root: &Path) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        for name in ["kiln.toml", "config.toml"] {
            let path = root.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => return Config::parse(&text, Source::File(name.into())),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => {
                    let source = Source::File(name.into());
                    return Err(vec![Diagnostic::error(
                        source,
                        None,
                        format!("cannot read: {err}"),
                    )]);
                }
            }
        }
        Config::parse("", Source::File("kiln.toml".into()))
    }

    /// Parses config text that came from `source`.
    pub fn parse(text: &str, source: Source) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut warnings = Vec::new();
        let raw = parse_raw(text, &source, &mut warnings)?;
        let config = Config::from_raw(raw, &source, text, &mut warnings)?;
        Ok((config, warnings))
    }

    fn from_raw(
        raw: RawConfig,
        source: &Source,
        text: &str,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<Config, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let line = |key: &str| top_level_key_line(text, key);
        let base_url = match raw.base_url {
            Some(url) => check_base_url(&url).unwrap_or_else(|message| {
                errors.push(Diagnostic::error(source.clone(), line("base_url"), message));
                String::new()
            }),
            None => DEFAULT_BASE_URL.to_string(),
        };
        let timezone = match raw.timezone.as_deref() {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().unwrap_or_else(|_| {
                let message = format!(
                    "`timezone` is `{name}`, which is not an IANA zone name; use e.g. `UTC` or \
                     `Europe/Berlin`"
                );
                errors.push(Diagnostic::error(source.clone(), line("timezone"), message));
                Tz::UTC
            }),
        };
        if raw.paginate_by == Some(0) {
            errors.push(Diagnostic::error(
                source.clone(),
                line("paginate_by"),
                "`paginate_by` must be at least 1",
            ));
        }
        let mut feeds = raw.feeds.unwrap_or_default();
        if let Some(enabled) = raw.generate_feeds.or(raw.generate_feed) {
            feeds.enabled = enabled;
        }
        if let Some(limit) = raw.feed_limit {
            feeds.limit = limit;
        }
        let extra = match raw.extra {
            Some(table) => match toml_to_json(toml::Value::Table(table)) {
                serde_json::Value::Object(map) => map,
                _ => serde_json::Map::new(),
            },
            None => serde_json::Map::new(),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let _ = warnings;
        Ok(Config {
            title: raw.title,
            description: raw.description,
            base_url,
            language: raw.language.unwrap_or_else(|| "en".to_string()),
            timezone,
            theme: raw.theme,
            author: raw.author,
            paginate_by: raw.paginate_by,
            taxonomies: with_default_taxonomies(raw.taxonomies),
            feeds,
            slugify: raw.slugify,
            markdown: raw.markdown,
            search_index: raw.search_index.or(raw.build_search_index).unwrap_or(true),
            extra,
            source: source.clone(),
        })
    }

    /// Replaces the base URL, as `--base-url` does.
    pub fn set_base_url(&mut self, url: &str) -> Result<(), String> {
        self.base_url = check_base_url(url)?;
        Ok(())
    }

    /// The taxonomy of that name, if the site has it.
    pub fn taxonomy(&self, name: &str) -> Option<&TaxonomyConfig> {
        self.taxonomies.iter().find(|t| t.name == name)
    }

    /// Adds a taxonomy that content uses but the config does not declare.
    pub fn add_taxonomy(&mut self, name: &str) {
        if self.taxonomy(name).is_none() {
            self.taxonomies.push(TaxonomyConfig::named(name));
        }
    }
}

fn parse_raw(
    text: &str,
    source: &Source,
    warnings: &mut Vec<Diagnostic>,
) -> Result<RawConfig, Vec<Diagnostic>> {
    let deserializer = toml::de::Deserializer::parse(text).map_err(|err| {
        let line = err.span().map(|span| line_of(text, span.start));
        vec![Diagnostic::error(source.clone(), line, format!("cannot parse: {}", err.message()))]
    })?;
    let mut unknown = Vec::new();
    let raw: RawConfig = serde_ignored::deserialize(deserializer, |path| {
        unknown.push(path.to_string());
    })
    .map_err(|err| {
        let line = err.span().map(|span| line_of(text, span.start));
        vec![Diagnostic::error(source.clone(), line, err.message().to_string())]
    })?;
    for key in unknown {
        if IGNORED_ZOLA_KEYS.contains(&key.as_str()) {
            continue;
        }
        let message = format!("unknown key `{key}`, ignored; put values for templates in [extra]");
        warnings.push(Diagnostic::warning(source.clone(), None, message));
    }
    Ok(raw)
}

fn check_base_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(trimmed.to_string())
        }
        _ => Err(format!(
            "`base_url` is `{url}`, but it must be an absolute http(s) URL such as \
             `https://example.org`, so that feeds and the sitemap hold absolute links"
        )),
    }
}

/// `tags`, `categories` and `authors` exist on every site; declared ones keep their settings.
fn with_default_taxonomies(mut declared: Vec<TaxonomyConfig>) -> Vec<TaxonomyConfig> {
    for name in ["tags", "categories", "authors"] {
        if !declared.iter().any(|t| t.name == name) {
            declared.push(TaxonomyConfig::named(name));
        }
    }
    declared
}

/// Converts a TOML value to JSON, writing datetimes as their RFC 3339 text.
pub fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => {
            J::Object(table.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// The 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The 1-based line of `key = …` at the top level of TOML `text` (before any `[table]`), for
/// errors about a value that parsed but makes no sense.
fn top_level_key_line(text: &str, key: &str) -> Option<usize> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.starts_with('[') {
            return None;
        }
        let Some(rest) = line.strip_prefix(key) else { continue };
        if rest.trim_start().starts_with('=') {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values_that_make_no_sense_named_no_line() {
        let text = "title = \"T\"\nbase_url = \"not a url\"\ntimezone = \"Mars/Olympus\"\n\
                    paginate_by = 0\n[extra]\ntimezone = \"x\"\n";
        let errors = Config::parse(text, Source::File("kiln.toml".into())).unwrap_err();
        let lines: Vec<Option<usize>> = errors.iter().map(|d| d.line).collect();
        assert_eq!(lines, [Some(2), Some(3), Some(4)], "{errors:?}");
    }

    fn parse(text: &str) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        Config::parse(text, Source::File("kiln.toml".into()))
    }

    #[test]
    fn empty_config_gets_defaults() {
        let (config, warnings) = parse("").unwrap();
        assert_eq!(config.base_url, DEFAULT_BASE_URL);
        assert_eq!(config.language, "en");
        assert_eq!(config.timezone, Tz::UTC);
        assert_eq!(config.feeds.limit, 20);
        let names: Vec<_> = config.taxonomies.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["tags", "categories", "authors"]);
        assert!(warnings.is_empty());
    }

    #[test]
    fn zola_spellings_are_accepted() {
        let text = "base_url = \"https://example.org/\"\ndefault_language = \"fr\"\n\
                    generate_feeds = false\nfeed_limit = 5\ncompile_sass = true\n\
                    [markdown]\nexternal_links_target_blank = true\n";
        let (config, warnings) = parse(text).unwrap();
        assert_eq!(config.base_url, "https://example.org");
        assert_eq!(config.language, "fr");
        assert!(!config.feeds.enabled);
        assert_eq!(config.feeds.limit, 5);
        assert!(config.markdown.external_links_new_tab);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn unknown_key_is_a_warning_naming_it() {
        let (_, warnings) = parse("colour = \"red\"\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.contains("`colour`"), "{}", warnings[0].message);
    }

    #[test]
    fn bad_timezone_and_base_url_are_both_reported() {
        let errors = parse("base_url = \"example.org\"\ntimezone = \"Mars/Base\"\n").unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(errors[0].message.contains("base_url"));
        assert!(errors[1].message.contains("Mars/Base"));
    }

    #[test]
    fn syntax_error_names_the_line() {
        let errors = parse("title = \"a\"\nbase_url = \n").unwrap_err();
        assert_eq!(errors[0].line, Some(2), "{:?}", errors[0]);
    }

    #[test]
    fn extra_keeps_nested_values() {
        let (config, _) = parse("[extra]\nmenu = [{name = \"Blog\", url = \"/blog/\"}]\n").unwrap();
        assert_eq!(config.extra["menu"][0]["name"], "Blog");
    }
}
