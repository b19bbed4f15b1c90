//! Front matter: finding it in a content file and reading it into typed page and section fields.
//!
//! A content file is an opening fence, the front matter, a closing fence and the Markdown body.
//! As in Zola, `+++` fences hold TOML and `---` fences hold YAML. The work is done in three steps
//! so that the caller can report each failure against the file it came from:
//!
//! 1. [`decode`] turns bytes into text. It refuses anything that is not UTF-8, so no U+FFFD ever
//!    reaches the output, and drops a UTF-8 byte-order mark at the very start of the file.
//! 2. [`split`] finds the fences and slices the text, without copying, into front matter and body.
//! 3. [`parse_page`] and [`parse_section`] read the front matter into [`PageFront`] and
//!    [`SectionFront`].
//!
//! Both formats are first read into one small tree that keeps the file line of every key and
//! value, and the fields are then read from that tree by the same code. TOML and YAML files
//! therefore get the same checks and the same messages, and every [`Problem`] names a line of the
//! file, so the caller can print `content/a.md:3`.
//!
//! Rules that are easy to miss:
//!
//! - Only the first line of the file can open front matter, and only the first later line that
//!   holds the same fence (trailing whitespace allowed) closes it; `---` and `+++` lines further
//!   down belong to the body. A file without an opening fence is all body.
//! - Duplicate keys are errors at any depth and in both formats, and name both lines.
//! - Unknown top-level keys are warnings, not errors: custom values belong under `extra`.
//! - `tags` and `categories` may also be written at the top level; they are merged into
//!   `taxonomies`. A single string where a list of strings is expected is a one-item list.
//! - A YAML value left empty (`title:`) counts as not given.
//! - YAML follows the 1.2 core schema that Zola's YAML reader uses: `yes` and `off` are strings.
//!   Where a string is expected, a plain YAML scalar that YAML would read as a number or a
//!   boolean is taken as written, so `title: 2024` is the title `2024`.
//! - `date` and `updated` are read with the one grammar of [`crate::date`], whether they are TOML
//!   date literals, TOML strings or YAML scalars.
//!
//! This module never reads files, never looks at the body beyond slicing it off, and never
//! decides what a field means for the site (slugs, URLs, which taxonomies exist): it reports what
//! the author wrote, or why it cannot be read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::{Location, MessageFormatter, Spanned};
use toml::Spanned as TomlSpanned;
use toml::de::{DeTable, DeValue};

use crate::date;

/// The syntax of a file's front matter, chosen by its opening fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML between `+++` lines.
    Toml,
    /// YAML between `---` lines.
    Yaml,
    /// No front matter: the file did not start with a fence.
    None,
}

/// A content file cut into front matter and body; both borrow the text given to [`split`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split<'a> {
    /// The syntax of `front`.
    pub format: Format,
    /// The text between the fences, fence lines excluded; empty for [`Format::None`].
    pub front: &'a str,
    /// Everything after the closing fence line; the whole text for [`Format::None`].
    pub body: &'a str,
    /// The 1-based file line of the first front matter line (2 when there is front matter).
    pub front_line: usize,
    /// The 1-based file line where the body starts.
    pub body_line: usize,
}

/// A file that cannot be decoded or split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontError {
    /// The bytes are not UTF-8; `offset` is the file byte where the first bad sequence starts.
    #[error(
        "invalid UTF-8 at byte {offset} (line {line}); the file may be in Latin-1 or \
         Windows-1252, save it as UTF-8"
    )]
    InvalidUtf8 {
        /// 0-based byte offset in the file.
        offset: usize,
        /// 1-based line of that byte.
        line: usize,
    },
    /// The file starts with a UTF-16 byte-order mark.
    #[error("the file is UTF-16 ({}); save it as UTF-8", endianness(*big_endian))]
    Utf16 {
        /// Whether the mark was `FE FF` (big-endian) rather than `FF FE`.
        big_endian: bool,
    },
    /// The first line opens front matter but no later line closes it.
    #[error(
        "front matter opened with `{fence}` on line {line} is never closed; add a line holding \
         only `{fence}` after the last front matter line"
    )]
    Unclosed {
        /// The opening fence, `+++` or `---`.
        fence: &'static str,
        /// The 1-based line of the opening fence.
        line: usize,
    },
}

impl FrontError {
    /// The 1-based file line the error points at, when it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            FrontError::InvalidUtf8 { line, .. } | FrontError::Unclosed { line, .. } => Some(*line),
            FrontError::Utf16 { .. } => None,
        }
    }
}

fn endianness(big_endian: bool) -> &'static str {
    if big_endian { "big-endian" } else { "little-endian" }
}

/// One error or warning about a file's front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The 1-based line of the file, when known.
    pub line: Option<usize>,
    /// The key the problem is about, as a dotted path for nested keys (`extra.links`).
    pub key: Option<String>,
    /// One lowercase sentence, with a hint where one helps.
    pub message: String,
    /// Whether the build can go on despite this problem.
    pub is_warning: bool,
}

impl Problem {
    fn new(line: usize, key: Option<&str>, message: String, is_warning: bool) -> Self {
        let line = (line > 0).then_some(line);
        Problem { line, key: key.map(str::to_owned), message, is_warning }
    }
}

impl From<FrontError> for Problem {
    /// Lets a caller report decoding and splitting errors in the same list as the rest.
    fn from(error: FrontError) -> Self {
        // Invalid UTF-8 is located by its byte offset, which the message already gives together
        // with the line; repeating the line as `file:2:` would suggest a line-level problem.
        let line = match error {
            FrontError::Unclosed { line, .. } => Some(line),
            FrontError::InvalidUtf8 { .. } | FrontError::Utf16 { .. } => None,
        };
        Problem { line, key: None, message: error.to_string(), is_warning: false }
    }
}

impl fmt::Display for Problem {
    /// Writes `line 3: message`, or just the message when the line is unknown, so the caller
    /// only has to put the file path in front.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The fields of a page's front matter, with Zola's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct PageFront {
    /// The page title.
    pub title: Option<String>,
    /// A short description for listings and `<meta>`.
    pub description: Option<String>,
    /// When the page was published.
    pub date: Option<DateTime<Utc>>,
    /// When the page was last changed.
    pub updated: Option<DateTime<Utc>>,
    /// Whether the page is left out of normal builds.
    pub draft: bool,
    /// Replaces the slug taken from the file name; never empty.
    pub slug: Option<String>,
    /// Replaces the whole URL path of the page; never empty.
    pub path: Option<String>,
    /// Other paths that redirect to this page.
    pub aliases: Vec<String>,
    /// A template other than `page.html`.
    pub template: Option<String>,
    /// Sort key for sections sorted by weight.
    pub weight: Option<i64>,
    /// The page's authors; the caller also files them under the `authors` taxonomy.
    pub authors: Vec<String>,
    /// Terms per taxonomy, from `[taxonomies]` and top-level `tags` and `categories` together.
    pub taxonomies: BTreeMap<String, Vec<String>>,
    /// Custom values for templates; TOML dates become RFC 3339 strings.
    pub extra: Map<String, Value>,
    /// Whether the page goes into the search index.
    pub in_search_index: bool,
    /// Whether the page is rendered to its own file.
    pub render: bool,
    /// Where `slug`, `path`, `template` and each alias were written.
    pub lines: KeyLines,
}

impl Default for PageFront {
    fn default() -> Self {
        PageFront {
            title: None,
            description: None,
            date: None,
            updated: None,
            draft: false,
            slug: None,
            path: None,
            aliases: Vec::new(),
            template: None,
            weight: None,
            authors: Vec::new(),
            taxonomies: BTreeMap::new(),
            extra: Map::new(),
            in_search_index: true,
            render: true,
            lines: KeyLines::default(),
        }
    }
}

/// The file lines some front matter keys were written on, for problems found after parsing
/// (a `path` that leaves the output folder, an alias that cannot be a URL, a template nobody
/// provides). Where a key was written is not what the front matter says: two `KeyLines` are
/// always equal, so front matter that only moved between lines compares equal.
#[derive(Debug, Clone, Default)]
pub struct KeyLines {
    keys: Vec<(&'static str, usize)>,
    aliases: Vec<usize>,
}

impl PartialEq for KeyLines {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl KeyLines {
    /// The line `key` was written on, if it was written.
    pub fn of(&self, key: &str) -> Option<usize> {
        self.keys.iter().find(|(k, _)| *k == key).map(|&(_, line)| line).filter(|&l| l > 0)
    }

    /// The line of the `n`th alias (0-based).
    pub fn alias(&self, n: usize) -> Option<usize> {
        self.aliases.get(n).copied().filter(|&l| l > 0)
    }

    fn note(&mut self, key: &'static str, line: usize) {
        self.keys.push((key, line));
    }
}

/// The fields of a section's `_index.md` front matter, with Zola's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionFront {
    /// The section title.
    pub title: Option<String>,
    /// A short description for listings and `<meta>`.
    pub description: Option<String>,
    /// How the section's pages are ordered.
    pub sort_by: SortBy,
    /// Pages per pager; pagination is off when unset or 0.
    pub paginate_by: Option<usize>,
    /// The path segment before the pager number (`page` in `/blog/page/2/`).
    pub paginate_path: String,
    /// Whether pages are paginated in reverse order.
    pub paginate_reversed: bool,
    /// A template other than `section.html`.
    pub template: Option<String>,
    /// The default template for the pages of this section and its subsections.
    pub page_template: Option<String>,
    /// Whether the section hands its pages to its parent section.
    pub transparent: bool,
    /// Whether the section gets its own feed (`generate_feed` is read as an older spelling).
    pub generate_feeds: bool,
    /// Sort key among sibling sections.
    pub weight: Option<i64>,
    /// Whether the section is left out of normal builds.
    pub draft: bool,
    /// Whether the section page itself is rendered.
    pub render: bool,
    /// Where visitors of the section page are sent instead.
    pub redirect_to: Option<String>,
    /// Other paths that redirect to this section.
    pub aliases: Vec<String>,
    /// Where heading anchor links go; unset means the site default.
    pub insert_anchor_links: Option<InsertAnchor>,
    /// Whether the section and its pages go into the search index.
    pub in_search_index: bool,
    /// Custom values for templates; TOML dates become RFC 3339 strings.
    pub extra: Map<String, Value>,
    /// Where `template`, `page_template` and each alias were written.
    pub lines: KeyLines,
}

impl Default for SectionFront {
    fn default() -> Self {
        SectionFront {
            title: None,
            description: None,
            sort_by: SortBy::Date,
            paginate_by: None,
            paginate_path: "page".to_owned(),
            paginate_reversed: false,
            template: None,
            page_template: None,
            transparent: false,
            generate_feeds: false,
            weight: None,
            draft: false,
            render: true,
            redirect_to: None,
            aliases: Vec::new(),
            insert_anchor_links: None,
            in_search_index: true,
            extra: Map::new(),
            lines: KeyLines::default(),
        }
    }
}

/// How a section orders its pages; written as Zola's lowercase names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// `date`: newest first. The default: a section without `sort_by` is a list of posts.
    #[default]
    Date,
    /// `update_date`: most recently updated first.
    UpdateDate,
    /// `title`: by title, in natural order.
    Title,
    /// `title_bytes`: by title, byte by byte.
    TitleBytes,
    /// `weight`: lowest weight first.
    Weight,
    /// `slug`: by slug.
    Slug,
    /// `none`: in content path order.
    None,
}

const SORT_CHOICES: &[(&str, SortBy)] = &[
    ("date", SortBy::Date),
    ("update_date", SortBy::UpdateDate),
    ("title", SortBy::Title),
    ("title_bytes", SortBy::TitleBytes),
    ("weight", SortBy::Weight),
    ("slug", SortBy::Slug),
    ("none", SortBy::None),
];

/// Where anchor links are put next to headings; written as Zola's lowercase names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertAnchor {
    /// `left`: before the heading text.
    Left,
    /// `right`: after the heading text.
    Right,
    /// `heading`: the whole heading is the link.
    Heading,
    /// `none`: no anchor links.
    None,
}

const ANCHOR_CHOICES: &[(&str, InsertAnchor)] = &[
    ("left", InsertAnchor::Left),
    ("right", InsertAnchor::Right),
    ("heading", InsertAnchor::Heading),
    ("none", InsertAnchor::None),
];

/// Turns file bytes into text, refusing anything but UTF-8.
///
/// A UTF-8 byte-order mark at byte 0 is dropped; one anywhere else is text. A UTF-16 mark is an
/// error of its own, because the byte offset of "invalid UTF-8" would not help there.
pub fn decode(bytes: &[u8]) -> Result<&str, FrontError> {
    match bytes {
        [0xFF, 0xFE, ..] => return Err(FrontError::Utf16 { big_endian: false }),
        [0xFE, 0xFF, ..] => return Err(FrontError::Utf16 { big_endian: true }),
        _ => {}
    }
    let (skipped, rest) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (3, rest),
        None => (0, bytes),
    };
    std::str::from_utf8(rest).map_err(|err| {
        let offset = skipped + err.valid_up_to();
        let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
        FrontError::InvalidUtf8 { offset, line }
    })
}

/// Cuts `text` into front matter and body; see the module documentation for the fence rules.
///
/// A leading U+FEFF is skipped here too, for callers that did not go through [`decode`].
pub fn split(text: &str) -> Result<Split<'_>, FrontError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (first, front_start) = line_at(text, 0);
    let Some((format, fence)) = opening_fence(first) else {
        return Ok(Split {
            format: Format::None,
            front: "",
            body: text,
            front_line: 1,
            body_line: 1,
        });
    };

    let (mut start, mut line) = (front_start, 2);
    while start < text.len() {
        let (content, next) = line_at(text, start);
        if content.trim_end() == fence {
            let front = &text[front_start..start];
            let body = &text[next..];
            return Ok(Split { format, front, body, front_line: 2, body_line: line + 1 });
        }
        (start, line) = (next, line + 1);
    }
    Err(FrontError::Unclosed { fence, line: 1 })
}

/// The line starting at byte `start` without its `\n`, and where the next line starts.
fn line_at(text: &str, start: usize) -> (&str, usize) {
    match text[start..].find('\n') {
        Some(len) => (&text[start..start + len], start + len + 1),
        None => (&text[start..], text.len()),
    }
}

fn opening_fence(line: &str) -> Option<(Format, &'static str)> {
    match line.trim_end() {
        "+++" => Some((Format::Toml, "+++")),
        "---" => Some((Format::Yaml, "---")),
        _ => None,
    }
}

/// Reads a page's front matter.
///
/// On success, returns the page and its warnings. On failure, returns every problem found,
/// warnings included (each flagged), sorted by line, so one run shows the author everything.
/// `tz` is the site time zone, used for dates written without an offset.
pub fn parse_page(split: &Split, tz: Tz) -> Result<(PageFront, Vec<Problem>), Vec<Problem>> {
    let entries = read_tree(split)?;
    let mut reader = Reader::new(split.format, tz);
    let mut page = PageFront::default();
    for entry in &entries {
        read_page_key(&mut page, entry, &mut reader);
    }
    reader.finish(page)
}

/// Reads a section's front matter; results as for [`parse_page`].
pub fn parse_section(split: &Split, tz: Tz) -> Result<(SectionFront, Vec<Problem>), Vec<Problem>> {
    let entries = read_tree(split)?;
    let mut reader = Reader::new(split.format, tz);
    let mut section = SectionFront::default();
    for entry in &entries {
        read_section_key(&mut section, entry, &mut reader);
    }
    reader.finish(section)
}

fn read_page_key(page: &mut PageFront, entry: &Entry, r: &mut Reader) {
    match entry.key.as_ref() {
        "title" => page.title = r.string(entry),
        "description" => page.description = r.string(entry),
        "date" => page.date = r.date(entry),
        "updated" => page.updated = r.date(entry),
        "draft" => r.flag(entry, &mut page.draft),
        "slug" => {
            page.lines.note("slug", entry.line);
            page.slug = r.non_empty_string(entry, "to use the file name");
        }
        "path" => {
            page.lines.note("path", entry.line);
            page.path = r.non_empty_string(entry, "to use the default path");
        }
        "aliases" => {
            let items = r.string_items(&entry.key, entry.line, &entry.value);
            page.lines.aliases = items.iter().map(|&(_, line)| line).collect();
            page.aliases = items.into_iter().map(|(text, _)| text).collect();
        }
        "template" => {
            page.lines.note("template", entry.line);
            page.template = r.string(entry);
        }
        "weight" => page.weight = r.integer(entry),
        "authors" => page.authors = r.strings(entry),
        "taxonomies" => r.taxonomies(entry, &mut page.taxonomies),
        "tags" | "categories" => r.top_level_terms(entry, &mut page.taxonomies),
        "extra" => page.extra = r.extra(entry),
        "in_search_index" => r.flag(entry, &mut page.in_search_index),
        "render" => r.flag(entry, &mut page.render),
        _ => r.unknown(entry),
    }
}

fn read_section_key(section: &mut SectionFront, entry: &Entry, r: &mut Reader) {
    match entry.key.as_ref() {
        "title" => section.title = r.string(entry),
        "description" => section.description = r.string(entry),
        "sort_by" => section.sort_by = r.sort_by(entry),
        "paginate_by" => section.paginate_by = r.count(entry),
        "paginate_path" => {
            if let Some(path) = r.string(entry) {
                section.paginate_path = path;
            }
        }
        "paginate_reversed" => r.flag(entry, &mut section.paginate_reversed),
        "template" => {
            section.lines.note("template", entry.line);
            section.template = r.string(entry);
        }
        "page_template" => {
            section.lines.note("page_template", entry.line);
            section.page_template = r.string(entry);
        }
        "transparent" => r.flag(entry, &mut section.transparent),
        "generate_feeds" | "generate_feed" => r.flag(entry, &mut section.generate_feeds),
        "weight" => section.weight = r.integer(entry),
        "draft" => r.flag(entry, &mut section.draft),
        "render" => r.flag(entry, &mut section.render),
        "redirect_to" => section.redirect_to = r.string(entry),
        "aliases" => {
            let items = r.string_items(&entry.key, entry.line, &entry.value);
            section.lines.aliases = items.iter().map(|&(_, line)| line).collect();
            section.aliases = items.into_iter().map(|(text, _)| text).collect();
        }
        "insert_anchor_links" => section.insert_anchor_links = r.choice(entry, ANCHOR_CHOICES),
        "in_search_index" => r.flag(entry, &mut section.in_search_index),
        "extra" => section.extra = r.extra(entry),
        _ => r.unknown(entry),
    }
}

/// A front matter value from either format, with the file line where it starts (0 if unknown).
struct Node<'a> {
    line: usize,
    /// The scalar as written, for YAML plain scalars that YAML typed as numbers or booleans.
    text: Option<&'a str>,
    kind: Kind<'a>,
}

enum Kind<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Datetime(toml::value::Datetime),
    List(Vec<Node<'a>>),
    Table(Vec<Entry<'a>>),
}

/// A key of a table, the file line it is on, and its value.
struct Entry<'a> {
    key: Cow<'a, str>,
    line: usize,
    value: Node<'a>,
}

impl Node<'_> {
    /// The value as text, when it is a string or a YAML plain scalar.
    fn as_text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s.as_ref()),
            Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) => self.text,
            _ => None,
        }
    }

    /// What the value is, for "found …" in messages.
    fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Null => "an empty value",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a decimal number",
            Kind::Str(_) => "a string",
            Kind::Datetime(_) => "a date",
            Kind::List(_) => "a list",
            Kind::Table(_) => "a table",
        }
    }

    fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(n) => Value::from(*n),
            Kind::Float(x) => serde_json::Number::from_f64(*x)
                .map_or_else(|| Value::String(x.to_string()), Value::Number),
            Kind::Str(s) => Value::String(s.as_ref().to_owned()),
            Kind::Datetime(d) => Value::String(d.to_string()),
            Kind::List(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Table(entries) => Value::Object(table_to_json(entries)),
        }
    }
}

fn table_to_json(entries: &[Entry]) -> Map<String, Value> {
    entries.iter().map(|e| (e.key.as_ref().to_owned(), e.value.to_json())).collect()
}

/// Parses the front matter of either format into the top-level entries of the shared tree.
fn read_tree<'a>(split: &Split<'a>) -> Result<Vec<Entry<'a>>, Vec<Problem>> {
    if split.front.trim().is_empty() {
        return Ok(Vec::new());
    }
    match split.format {
        Format::None => Ok(Vec::new()),
        Format::Toml => toml_tree(split),
        Format::Yaml => yaml_tree(split),
    }
}

fn duplicate_problem(key: &str, first: Option<usize>, second: usize) -> Problem {
    let message = match first {
        Some(first) => format!("duplicate key `{key}` at lines {first} and {second}; keep one"),
        None => format!("duplicate key `{key}` at line {second}; keep one"),
    };
    Problem::new(second, Some(key), message, false)
}

/// Maps byte offsets in the front matter to file lines.
struct Lines {
    starts: Vec<usize>,
    first: usize,
}

impl Lines {
    fn new(text: &str, first: usize) -> Self {
        let breaks = text.match_indices('\n').map(|(at, _)| at + 1);
        Lines { starts: std::iter::once(0).chain(breaks).collect(), first }
    }

    fn line(&self, offset: usize) -> usize {
        self.first + self.starts.partition_point(|&start| start <= offset) - 1
    }
}

// TOML.
//
// The toml crate parses into `DeTable`, which keeps the byte span of every key and value. It
// reports a duplicate key with the span of the second occurrence only, so the first one is
// found by a second, error-path-only parse: see `first_toml_definition`.

fn toml_tree<'a>(split: &Split<'a>) -> Result<Vec<Entry<'a>>, Vec<Problem>> {
    let lines = Lines::new(split.front, split.front_line);
    let (root, errors) = DeTable::parse_recoverable(split.front);
    if errors.is_empty() {
        return Ok(toml_table(root.into_inner(), &lines));
    }

    // Recovery after a syntax error can report the same spot more than once.
    let mut problems: Vec<Problem> = Vec::new();
    for error in &errors {
        let problem = toml_problem(split.front, &lines, error);
        if !problems.iter().any(|p| p.line == problem.line) {
            problems.push(problem);
        }
    }
    Err(problems)
}

fn toml_table<'a>(table: DeTable<'a>, lines: &Lines) -> Vec<Entry<'a>> {
    let entry = |(key, value): (TomlSpanned<Cow<'a, str>>, TomlSpanned<DeValue<'a>>)| Entry {
        line: lines.line(key.span().start),
        key: key.into_inner(),
        value: toml_node(value, lines),
    };
    table.into_iter().map(entry).collect()
}

fn toml_node<'a>(value: TomlSpanned<DeValue<'a>>, lines: &Lines) -> Node<'a> {
    let line = lines.line(value.span().start);
    let kind = match value.into_inner() {
        DeValue::String(s) => Kind::Str(without_cr(s)),
        DeValue::Integer(n) => toml_integer(n.as_str(), n.radix()),
        DeValue::Float(x) => Kind::Float(x.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Kind::Bool(b),
        DeValue::Datetime(d) => Kind::Datetime(d),
        DeValue::Array(items) => {
            Kind::List(items.into_iter().map(|v| toml_node(v, lines)).collect())
        }
        DeValue::Table(table) => Kind::Table(toml_table(table, lines)),
    };
    Node { line, text: None, kind }
}

fn toml_integer(digits: &str, radix: u32) -> Kind<'static> {
    match i64::from_str_radix(digits, radix) {
        Ok(n) => Kind::Int(n),
        // Only integers past i64 get here; a float keeps them usable in `extra`.
        Err(_) => Kind::Float(u64::from_str_radix(digits, radix).map_or(f64::NAN, |n| n as f64)),
    }
}

/// Multi-line TOML strings keep the file's line breaks; a CRLF file must not put `\r` in values.
fn without_cr(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.contains('\r') { Cow::Owned(text.replace("\r\n", "\n")) } else { text }
}

fn toml_problem(front: &str, lines: &Lines, error: &toml::de::Error) -> Problem {
    let span = error.span();
    if error.message() == "duplicate key"
        && let Some(span) = span.clone()
    {
        return toml_duplicate(front, lines, span);
    }

    let at = span.map_or(0, |s| lines.line(s.start));
    let index = at.checked_sub(lines.first);
    let detail = error.message().replace('\n', "; ");
    let key = index.and_then(|index| key_on_line(front, index));
    let mut message = match key.as_deref() {
        Some(key @ ("date" | "updated")) => {
            format!("invalid `{key}`: {detail}; accepted forms are {}", date::ACCEPTED_FORMS)
        }
        _ => format!("cannot parse TOML front matter: {detail}"),
    };
    let line_text = index.and_then(|index| front.lines().nth(index));
    if line_text.is_some_and(looks_like_yaml) {
        message
            .push_str("; front matter between `+++` lines is TOML, YAML goes between `---` lines");
    }
    Problem::new(at, key.as_deref(), message, false)
}

/// The dotted key assigned on line `index` of the front matter, as far as a quick look can tell.
///
/// The toml crate does not say which key a malformed value belonged to, and the message is much
/// clearer with it. This is a best guess that only runs for syntax errors: a `[table]` header
/// before the line prefixes the key, and anything unusual gives `None`.
fn key_on_line(front: &str, index: usize) -> Option<String> {
    let mut table = None;
    for line in front.lines().take(index) {
        let line = line.trim();
        if line.starts_with('[') {
            table = Some(line.trim_matches(|c| c == '[' || c == ']').trim());
        }
    }
    let (key, _) = front.lines().nth(index)?.split_once('=')?;
    let key = key.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if key.is_empty() || !key.chars().all(bare) {
        return None;
    }
    Some(table.map_or_else(|| key.to_owned(), |table| format!("{table}.{key}")))
}

/// Whether a line reads like `key: value`, the usual sign of YAML inside `+++` fences.
fn looks_like_yaml(line: &str) -> bool {
    let Some((key, _)) = line.split_once(':') else {
        return false;
    };
    let key = key.trim();
    !key.is_empty() && !key.contains('=') && !key.contains(['"', '\''])
}

fn toml_duplicate(front: &str, lines: &Lines, span: Range<usize>) -> Problem {
    let second = lines.line(span.start);
    let written = front.get(span.clone()).unwrap_or_default();
    let name = written.trim_matches(|c| c == '"' || c == '\'');
    match first_toml_definition(front, span, name) {
        Some((path, offset)) => duplicate_problem(&path, Some(lines.line(offset)), second),
        None => duplicate_problem(name, None, second),
    }
}

/// A key name no front matter uses, put in place of a duplicate to find where it belongs.
const PROBE: &str = "kiln_duplicate_probe_4b1d";

/// Finds the first definition of the duplicate key at `span`: its dotted path and byte offset.
///
/// Replacing the second occurrence with [`PROBE`] makes the document valid at that spot, and the
/// table the probe lands in is exactly the table that holds the first occurrence, however the
/// key was written (plain, dotted, as a `[table]` header or inside an inline table).
fn first_toml_definition(front: &str, span: Range<usize>, name: &str) -> Option<(String, usize)> {
    let probed = format!("{}{PROBE}{}", front.get(..span.start)?, front.get(span.end..)?);
    let (root, _) = DeTable::parse_recoverable(&probed);
    let mut path = Vec::new();
    let parent = probe_parent(root.get_ref(), &mut path)?;
    let (key, _) = parent.iter().find(|(key, _)| key.get_ref() == name)?;
    path.push(name.to_owned());
    Some((path.join("."), key.span().start))
}

/// The table holding [`PROBE`], collecting the keys on the way to it in `path`.
fn probe_parent<'t, 'i>(table: &'t DeTable<'i>, path: &mut Vec<String>) -> Option<&'t DeTable<'i>> {
    if table.iter().any(|(key, _)| key.get_ref() == PROBE) {
        return Some(table);
    }
    for (key, value) in table {
        path.push(key.get_ref().to_string());
        if let Some(found) = probe_in_value(value.get_ref(), path) {
            return Some(found);
        }
        path.pop();
    }
    None
}

fn probe_in_value<'t, 'i>(
    value: &'t DeValue<'i>,
    path: &mut Vec<String>,
) -> Option<&'t DeTable<'i>> {
    match value {
        DeValue::Table(table) => probe_parent(table, path),
        DeValue::Array(items) => items.iter().find_map(|item| probe_in_value(item.get_ref(), path)),
        _ => None,
    }
}

// YAML.
//
// serde-saphyr gives every node its line and byte span through `Spanned`. Its duplicate-key
// policy can reject duplicates, but then names only the second line; so duplicates are passed
// through to the tree and found there, where both lines are known.

/// A YAML node as serde-saphyr hands it over.
enum Yaml<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Seq(Vec<Spanned<Yaml<'a>>>),
    Map(Vec<(Spanned<String>, Spanned<Yaml<'a>>)>),
}

impl<'de> Deserialize<'de> for Yaml<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Yaml::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Yaml::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Yaml::deserialize(deserializer)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Yaml::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Yaml::Int(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(value).map_or(Yaml::Float(value as f64), Yaml::Int))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Yaml::Float(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Yaml::Str(Cow::Owned(value.to_owned())))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Yaml::Str(Cow::Borrowed(value)))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Yaml::Str(Cow::Owned(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Yaml::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Yaml::Map(entries))
    }
}

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        // These three make untyped values match serde_yaml, which Zola reads YAML with.
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        // JSON has no infinity, so `extra` keeps `.inf` and `.nan` as written.
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::AsString,
    }
}

fn yaml_tree<'a>(split: &Split<'a>) -> Result<Vec<Entry<'a>>, Vec<Problem>> {
    let parsed: Spanned<Yaml<'a>> =
        serde_saphyr::from_str_with_options(split.front, yaml_options())
            .map_err(|error| vec![yaml_problem(&error, split.front_line)])?;
    let mut builder =
        YamlBuilder { front: split.front, first: split.front_line, problems: Vec::new() };
    let root = builder.node(parsed, "");
    if !builder.problems.is_empty() {
        return Err(builder.problems);
    }
    match root.kind {
        Kind::Table(entries) => Ok(entries),
        Kind::Null => Ok(Vec::new()),
        _ => Err(vec![not_a_mapping(&root)]),
    }
}

fn not_a_mapping(root: &Node) -> Problem {
    let message = format!(
        "YAML front matter must be `key: value` lines, found {}; TOML front matter goes between \
         `+++` lines",
        root.describe()
    );
    Problem::new(root.line, None, message, false)
}

fn yaml_problem(error: &serde_saphyr::Error, first: usize) -> Problem {
    let detail = serde_saphyr::UserMessageFormatter.format_message(error.without_snippet());
    let line = error.location().map_or(0, |at| yaml_line(&at, first));
    Problem::new(line, None, format!("cannot parse YAML front matter: {detail}"), false)
}

fn yaml_line(at: &Location, first: usize) -> usize {
    let line = usize::try_from(at.line()).unwrap_or(0);
    if line == 0 { 0 } else { first + line - 1 }
}

/// Turns serde-saphyr's nodes into the shared tree, checking every mapping for duplicate keys.
struct YamlBuilder<'a> {
    front: &'a str,
    first: usize,
    problems: Vec<Problem>,
}

impl<'a> YamlBuilder<'a> {
    fn node(&mut self, node: Spanned<Yaml<'a>>, path: &str) -> Node<'a> {
        let line = yaml_line(&node.referenced, self.first);
        let kind = match node.value {
            Yaml::Null => Kind::Null,
            Yaml::Str(s) => Kind::Str(s),
            Yaml::Bool(b) => Kind::Bool(b),
            Yaml::Int(n) => Kind::Int(n),
            Yaml::Float(x) => Kind::Float(x),
            Yaml::Seq(items) => Kind::List(items.into_iter().map(|i| self.node(i, path)).collect()),
            Yaml::Map(entries) => Kind::Table(self.table(entries, path)),
        };
        let typed_scalar = matches!(kind, Kind::Bool(_) | Kind::Int(_) | Kind::Float(_));
        let text = if typed_scalar { self.written(&node.defined) } else { None };
        Node { line, text, kind }
    }

    /// The source text of a scalar, from its byte span.
    fn written(&self, at: &Location) -> Option<&'a str> {
        let span = at.span();
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        self.front.get(start..start + len)
    }

    fn table(
        &mut self,
        entries: Vec<(Spanned<String>, Spanned<Yaml<'a>>)>,
        path: &str,
    ) -> Vec<Entry<'a>> {
        let mut table: Vec<Entry<'a>> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let line = yaml_line(&key.referenced, self.first);

            // A linear search is fine: front matter mappings hold a handful of keys.
            if let Some(earlier) = table.iter().find(|e| e.key == key.value.as_str()) {
                let first = (earlier.line > 0).then_some(earlier.line);
                let problem = duplicate_problem(&join_path(path, &key.value), first, line);
                self.problems.push(problem);
                continue;
            }

            // Only containers need their path, to name duplicates found inside them.
            let nested = matches!(value.value, Yaml::Seq(_) | Yaml::Map(_));
            let child_path = if nested { join_path(path, &key.value) } else { String::new() };
            let value = self.node(value, &child_path);
            table.push(Entry { key: Cow::Owned(key.value), line, value });
        }
        table
    }
}

fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

/// Reads fields from the tree, collecting problems instead of stopping at the first.
struct Reader {
    tz: Tz,
    format: Format,
    problems: Vec<Problem>,
}

impl Reader {
    fn new(format: Format, tz: Tz) -> Self {
        Reader { tz, format, problems: Vec::new() }
    }

    fn error(&mut self, line: usize, key: &str, message: String) {
        self.problems.push(Problem::new(line, Some(key), message, false));
    }

    fn wrong_type(&mut self, entry: &Entry, expected: &str) {
        let message =
            format!("`{}` must be {expected}, found {}", entry.key, entry.value.describe());
        self.error(entry.line, &entry.key, message);
    }

    fn finish<T>(mut self, value: T) -> Result<(T, Vec<Problem>), Vec<Problem>> {
        self.problems.sort_by_key(|p| p.line);
        if self.problems.iter().all(|p| p.is_warning) {
            Ok((value, self.problems))
        } else {
            Err(self.problems)
        }
    }

    fn unknown(&mut self, entry: &Entry) {
        let place = if self.format == Format::Yaml { "`extra:`" } else { "[extra]" };
        let message = format!(
            "unknown front matter key `{}`, ignored; put custom values under {place}",
            entry.key
        );
        self.problems.push(Problem::new(entry.line, Some(&entry.key), message, true));
    }

    fn string(&mut self, entry: &Entry) -> Option<String> {
        if let Kind::Null = entry.value.kind {
            return None;
        }
        let text = entry.value.as_text().map(str::to_owned);
        if text.is_none() {
            self.wrong_type(entry, "a string");
        }
        text
    }

    /// A string that Zola also refuses to see empty, such as `slug` and `path`.
    fn non_empty_string(&mut self, entry: &Entry, remedy: &str) -> Option<String> {
        let text = self.string(entry)?;
        if text.trim().is_empty() {
            let message = format!("`{}` cannot be empty; remove the line {remedy}", entry.key);
            self.error(entry.line, &entry.key, message);
            return None;
        }
        Some(text)
    }

    fn flag(&mut self, entry: &Entry, target: &mut bool) {
        match entry.value.kind {
            Kind::Bool(value) => *target = value,
            Kind::Null => {}
            _ => self.wrong_type(entry, "true or false"),
        }
    }

    fn integer(&mut self, entry: &Entry) -> Option<i64> {
        match entry.value.kind {
            Kind::Int(value) => Some(value),
            Kind::Null => None,
            _ => {
                self.wrong_type(entry, "a whole number");
                None
            }
        }
    }

    fn count(&mut self, entry: &Entry) -> Option<usize> {
        let value = self.integer(entry)?;
        let count = usize::try_from(value).ok();
        if count.is_none() {
            let message = format!("`{}` must be 0 or more, found {value}", entry.key);
            self.error(entry.line, &entry.key, message);
        }
        count
    }

    fn choice<T: Copy>(&mut self, entry: &Entry, choices: &[(&str, T)]) -> Option<T> {
        let text = self.string(entry)?;
        if let Some((_, value)) = choices.iter().find(|(name, _)| *name == text) {
            return Some(*value);
        }
        let names: Vec<String> = choices.iter().map(|(name, _)| format!("`{name}`")).collect();
        let message =
            format!("`{}` must be one of {}, found `{text}`", entry.key, names.join(", "));
        self.error(entry.line, &entry.key, message);
        None
    }

    /// An unknown `sort_by` is a warning, not an error: the section still builds, in date
    /// order, which is what a blog section most likely wants.
    fn sort_by(&mut self, entry: &Entry) -> SortBy {
        let Some(text) = self.string(entry) else { return SortBy::Date };
        if let Some((_, value)) = SORT_CHOICES.iter().find(|(name, _)| *name == text) {
            return *value;
        }
        let names: Vec<String> = SORT_CHOICES.iter().map(|(name, _)| format!("`{name}`")).collect();
        let message = format!(
            "`sort_by` must be one of {}, found `{text}`; sorting by date",
            names.join(", ")
        );
        self.problems.push(Problem::new(entry.line, Some("sort_by"), message, true));
        SortBy::Date
    }

    fn date(&mut self, entry: &Entry) -> Option<DateTime<Utc>> {
        let text = match &entry.value.kind {
            Kind::Null => return None,
            Kind::Datetime(literal) => Cow::Owned(literal.to_string()),
            _ => match entry.value.as_text() {
                Some(text) => Cow::Borrowed(text),
                None => {
                    let expected = format!("a date ({})", date::ACCEPTED_FORMS);
                    self.wrong_type(entry, &expected);
                    return None;
                }
            },
        };
        match date::parse_date(&text, self.tz) {
            Ok(instant) => Some(instant),
            Err(err) => {
                self.error(entry.line, &entry.key, format!("invalid `{}`: {err}", entry.key));
                None
            }
        }
    }

    fn strings(&mut self, entry: &Entry) -> Vec<String> {
        let items = self.string_items(&entry.key, entry.line, &entry.value);
        items.into_iter().map(|(text, _)| text).collect()
    }

    /// A list of strings, each with its line; a single string is a list of one.
    fn string_items(&mut self, key: &str, line: usize, node: &Node) -> Vec<(String, usize)> {
        if let Some(text) = node.as_text() {
            return vec![(text.to_owned(), node.line)];
        }
        let items = match &node.kind {
            Kind::Null => return Vec::new(),
            Kind::List(items) => items,
            _ => {
                let message =
                    format!("`{key}` must be a list of strings, found {}", node.describe());
                self.error(line, key, message);
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item.as_text() {
                Some(text) => out.push((text.to_owned(), item.line)),
                None => {
                    let found = item.describe();
                    let message =
                        format!("`{key}` must be a list of strings; item {} is {found}", index + 1);
                    self.error(item.line, key, message);
                }
            }
        }
        out
    }

    fn taxonomies(&mut self, entry: &Entry, into: &mut BTreeMap<String, Vec<String>>) {
        let entries = match &entry.value.kind {
            Kind::Table(entries) => entries,
            Kind::Null => return,
            _ => {
                return self.wrong_type(entry, "a table of term lists such as `tags = [\"rust\"]`");
            }
        };
        for term_list in entries {
            if let Kind::Null = term_list.value.kind {
                continue;
            }
            let key = format!("taxonomies.{}", term_list.key);
            let terms = self.terms(&key, term_list.line, &term_list.value);
            merge_terms(into, &term_list.key, terms);
        }
    }

    fn top_level_terms(&mut self, entry: &Entry, into: &mut BTreeMap<String, Vec<String>>) {
        if let Kind::Null = entry.value.kind {
            return;
        }
        let terms = self.terms(&entry.key, entry.line, &entry.value);
        merge_terms(into, &entry.key, terms);
    }

    /// Taxonomy terms; an empty term would make an empty URL, so Zola refuses it and so do we.
    fn terms(&mut self, key: &str, line: usize, node: &Node) -> Vec<String> {
        let mut terms = Vec::new();
        for (term, term_line) in self.string_items(key, line, node) {
            if term.trim().is_empty() {
                self.error(term_line, key, format!("`{key}` has an empty term; remove it"));
            } else {
                terms.push(term);
            }
        }
        terms
    }

    fn extra(&mut self, entry: &Entry) -> Map<String, Value> {
        match &entry.value.kind {
            Kind::Table(entries) => table_to_json(entries),
            Kind::Null => Map::new(),
            _ => {
                self.wrong_type(entry, "a table of custom values");
                Map::new()
            }
        }
    }
}

/// Adds terms to a taxonomy, skipping any it already holds, so both places can name a term.
fn merge_terms(into: &mut BTreeMap<String, Vec<String>>, taxonomy: &str, terms: Vec<String>) {
    let list = into.entry(taxonomy.to_owned()).or_default();
    for term in terms {
        if !list.contains(&term) {
            list.push(term);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{Europe::Berlin, UTC};
    use serde_json::json;

    type PageResult = Result<(PageFront, Vec<Problem>), Vec<Problem>>;

    fn page_in(text: &str, tz: Tz) -> PageResult {
        parse_page(&split(text).expect("the test text splits"), tz)
    }

    fn page(text: &str) -> PageFront {
        let (page, warnings) = page_in(text, UTC).expect("the page parses");
        assert!(warnings.is_empty(), "unexpected warnings: {warnings:?}");
        page
    }

    fn page_errors(text: &str) -> Vec<Problem> {
        page_in(text, UTC).expect_err("the page must fail")
    }

    fn section(text: &str) -> Result<(SectionFront, Vec<Problem>), Vec<Problem>> {
        parse_section(&split(text).expect("the test text splits"), UTC)
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn from_bytes(bytes: &[u8]) -> PageFront {
        page(decode(bytes).expect("the bytes decode"))
    }

    // G01: a UTF-8 byte-order mark before the front matter.

    #[test]
    fn bom_before_toml_fence_is_dropped() {
        let text = decode(b"\xef\xbb\xbf+++\ntitle = \"Bom test\"\n+++\nBody text\n").unwrap();
        assert!(!text.contains('\u{feff}'));
        let parts = split(text).unwrap();
        assert_eq!((parts.format, parts.body), (Format::Toml, "Body text\n"));
        assert_eq!(page(text).title.as_deref(), Some("Bom test"));
    }

    #[test]
    fn bom_before_yaml_fence_is_dropped() {
        let page = from_bytes(b"\xef\xbb\xbf---\ntitle: Bom test\n---\nBody text\n");
        assert_eq!(page.title.as_deref(), Some("Bom test"));
    }

    #[test]
    fn bom_is_dropped_by_split_too() {
        let parts = split("\u{feff}+++\ntitle = \"x\"\n+++\nBody\n").unwrap();
        assert_eq!(
            (parts.format, parts.front, parts.body),
            (Format::Toml, "title = \"x\"\n", "Body\n")
        );
    }

    #[test]
    fn bom_later_in_the_file_is_text() {
        let text = decode("+++\n+++\nA\u{feff}B\n".as_bytes()).unwrap();
        assert_eq!(split(text).unwrap().body, "A\u{feff}B\n");
        let no_fence = decode("x\u{feff}".as_bytes()).unwrap();
        assert_eq!(no_fence, "x\u{feff}");
    }

    // G02: CRLF and mixed line endings.

    #[test]
    fn crlf_toml_values_have_no_carriage_return() {
        let text = "+++\r\ntitle = \"Windows post\"\r\ntags = [\"a\", \"b\"]\r\n+++\r\nLine one\r\nLine two\r\n";
        let parts = split(text).unwrap();
        assert_eq!(parts.body, "Line one\r\nLine two\r\n");
        assert_eq!(parts.body_line, 5);
        let page = page(text);
        assert_eq!(page.title.as_deref(), Some("Windows post"));
        assert_eq!(page.taxonomies["tags"], ["a", "b"]);
    }

    #[test]
    fn crlf_yaml_values_have_no_carriage_return() {
        let page = page("---\r\ntitle: Windows post\r\ntags: [a, b]\r\n---\r\nLine one\r\n");
        assert_eq!(page.title.as_deref(), Some("Windows post"));
        assert_eq!(page.taxonomies["tags"], ["a", "b"]);
    }

    #[test]
    fn mixed_line_endings_work() {
        let toml = page("+++\r\ntitle = \"Mixed\"\ndraft = true\r\n+++\nBody\r\n");
        assert_eq!((toml.title.as_deref(), toml.draft), (Some("Mixed"), true));
        let yaml = page("---\ntitle: Mixed\r\ntags:\r\n  - a\n  - b\r\n---\r\nBody\n");
        assert_eq!(yaml.title.as_deref(), Some("Mixed"));
        assert_eq!(yaml.taxonomies["tags"], ["a", "b"]);
    }

    #[test]
    fn crlf_multi_line_strings_have_no_carriage_return() {
        let toml = page("+++\r\ndescription = \"\"\"\r\none\r\ntwo\"\"\"\r\n+++\r\n");
        assert_eq!(toml.description.as_deref(), Some("one\ntwo"));
        let yaml = page("---\r\ndescription: |\r\n  one\r\n  two\r\n---\r\n");
        assert_eq!(yaml.description.as_deref(), Some("one\ntwo\n"));
    }

    // G03: empty front matter, and front matter with no final newline.

    #[test]
    fn end_of_file_right_after_closing_fence() {
        let parts = split("+++\ntitle = \"Home\"\n+++").unwrap();
        assert_eq!((parts.front, parts.body, parts.body_line), ("title = \"Home\"\n", "", 4));
        let (section, warnings) = parse_section(&parts, UTC).unwrap();
        assert_eq!((section.title.as_deref(), warnings.len()), (Some("Home"), 0));
    }

    #[test]
    fn empty_toml_front_matter_is_valid() {
        let parts = split("+++\n+++\nHello\n").unwrap();
        assert_eq!((parts.format, parts.front, parts.body), (Format::Toml, "", "Hello\n"));
        assert_eq!(page("+++\n+++\nHello\n"), PageFront::default());
    }

    #[test]
    fn empty_yaml_front_matter_is_valid() {
        let parts = split("---\n---\nHello\n").unwrap();
        assert_eq!((parts.format, parts.front, parts.body), (Format::Yaml, "", "Hello\n"));
        assert_eq!(page("---\n---\nHello\n"), PageFront::default());
        assert_eq!(page("---\n# only a comment\n---\n"), PageFront::default());
    }

    #[test]
    fn template_only_page_has_no_title_and_no_body() {
        let parts = split("+++\ntemplate = \"latest.html\"\n+++\n").unwrap();
        let (page, _) = parse_page(&parts, UTC).unwrap();
        assert_eq!((page.title, page.template.as_deref()), (None, Some("latest.html")));
        assert_eq!(parts.body, "");
    }

    // G04: fence-looking lines later in the file.

    #[test]
    fn fence_lines_in_the_body_stay_in_the_body() {
        let text = "+++\ntitle = \"Diff post\"\n+++\nIntro.\n\n```diff\n--- a/lib.rs\n+++ b/lib.rs\n```\n\n```toml\n+++\n```\n\n---\n\nOutro.\n";
        let parts = split(text).unwrap();
        assert_eq!(
            (parts.front, parts.front_line, parts.body_line),
            ("title = \"Diff post\"\n", 2, 4)
        );
        assert!(parts.body.starts_with("Intro.\n"));
        assert!(parts.body.contains("\n+++\n```\n\n---\n\nOutro.\n"));
        assert_eq!(page(text).title.as_deref(), Some("Diff post"));
    }

    #[test]
    fn yaml_fence_lines_in_the_body_stay_in_the_body() {
        let text = "---\ntitle: Rule\n---\nA\n\n---\n\nB\n---\n";
        let parts = split(text).unwrap();
        assert_eq!((parts.front, parts.body), ("title: Rule\n", "A\n\n---\n\nB\n---\n"));
    }

    #[test]
    fn fences_allow_trailing_whitespace_only() {
        let parts = split("+++  \ntitle = \"x\"\n+++\t\r\nBody").unwrap();
        assert_eq!((parts.front, parts.body), ("title = \"x\"\n", "Body"));
        let indented = split(" +++\ntitle = \"x\"\n+++\n").unwrap();
        assert_eq!(indented.format, Format::None);
        let closing_with_text = split("+++\na = 1\n+++ b\n+++\n").unwrap();
        assert_eq!(closing_with_text.front, "a = 1\n+++ b\n");
    }

    #[test]
    fn fence_only_counts_on_the_first_line() {
        let parts = split("\n+++\ntitle = \"x\"\n+++\n").unwrap();
        assert_eq!((parts.format, parts.body), (Format::None, "\n+++\ntitle = \"x\"\n+++\n"));
    }

    #[test]
    fn file_without_front_matter_is_all_body() {
        let text = "# Hello\n\nJust text.\n";
        let parts = split(text).unwrap();
        let expected =
            Split { format: Format::None, front: "", body: text, front_line: 1, body_line: 1 };
        assert_eq!(parts, expected);
        assert_eq!(parse_page(&parts, UTC).unwrap(), (PageFront::default(), vec![]));
        assert_eq!(split("").unwrap().body, "");
    }

    #[test]
    fn unclosed_front_matter_names_the_opening_line() {
        for (text, fence) in
            [("+++\ntitle = \"x\"\nBody\n", "+++"), ("---\ntitle: x\n", "---"), ("+++", "+++")]
        {
            let err = split(text).unwrap_err();
            assert_eq!(err, FrontError::Unclosed { fence, line: 1 });
            assert_eq!(err.line(), Some(1));
            let message = err.to_string();
            assert!(message.contains(&format!("opened with `{fence}` on line 1 is never closed")));
            assert!(message.contains(&format!("add a line holding only `{fence}`")), "{message}");
        }
    }

    // G06: dates as TOML literals, TOML strings and YAML values.

    #[test]
    fn toml_date_literal_and_quoted_date_agree() {
        let literal = page("+++\ndate = 2024-03-05\n+++\n").date;
        let quoted = page("+++\ndate = \"2024-03-05\"\n+++\n").date;
        assert_eq!(literal, Some(utc("2024-03-05T00:00:00Z")));
        assert_eq!(quoted, literal);
        let yaml = page("---\ndate: 2024-03-05\n---\n").date;
        let yaml_quoted = page("---\ndate: \"2024-03-05\"\n---\n").date;
        assert_eq!((yaml, yaml_quoted), (literal, literal));
    }

    #[test]
    fn offset_datetimes_are_absolute() {
        let expected = Some(utc("2024-03-05T08:00:00Z"));
        assert_eq!(page("+++\ndate = 2024-03-05T10:00:00+02:00\n+++\n").date, expected);
        assert_eq!(page("+++\ndate = \"2024-03-05T10:00:00+02:00\"\n+++\n").date, expected);
        assert_eq!(page("---\ndate: 2024-03-05T10:00:00+02:00\n---\n").date, expected);
        assert_eq!(page("+++\nupdated = 2024-03-05 08:00:00Z\n+++\n").updated, expected);
    }

    #[test]
    fn local_dates_use_the_site_time_zone() {
        let (page, _) =
            page_in("+++\ndate = 2024-03-05T10:00:00\nupdated = 2024-03-06\n+++\n", Berlin)
                .unwrap();
        assert_eq!(page.date, Some(utc("2024-03-05T09:00:00Z")));
        assert_eq!(page.updated, Some(utc("2024-03-05T23:00:00Z")));
        let (yaml, _) = page_in("---\ndate: 2024-03-05 10:00\n---\n", Berlin).unwrap();
        assert_eq!(yaml.date, Some(utc("2024-03-05T09:00:00Z")));
    }

    #[test]
    fn bad_dates_name_line_key_and_forms() {
        let cases = [
            "+++\ntitle = \"x\"\ndate = \"2024-02-30\"\n+++\n",
            "+++\ntitle = \"x\"\ndate = \"March 5\"\n+++\n",
            "---\ntitle: x\ndate: 2024/03/05\n---\n",
            "---\ntitle: x\ndate: 2024\n---\n",
            "+++\ntitle = \"x\"\ndate = 10:00:00\n+++\n",
        ];
        for text in cases {
            let errors = page_errors(text);
            assert_eq!(errors.len(), 1, "{text:?}: {errors:?}");
            let error = &errors[0];
            assert_eq!((error.line, error.key.as_deref()), (Some(3), Some("date")), "{text:?}");
            assert!(
                error.message.starts_with("invalid `date`: cannot read `"),
                "{}",
                error.message
            );
            assert!(error.message.contains(date::ACCEPTED_FORMS), "{}", error.message);
        }
    }

    #[test]
    fn malformed_toml_date_literals_name_the_key_and_forms() {
        for text in
            ["+++\ntitle = \"x\"\ndate = 2024-02-30\n+++\n", "+++\n\nupdated = 2024-3-05\n+++\n"]
        {
            let errors = page_errors(text);
            assert_eq!(errors.len(), 1, "{errors:?}");
            let key = if text.contains("updated") { "updated" } else { "date" };
            assert_eq!((errors[0].line, errors[0].key.as_deref()), (Some(3), Some(key)));
            assert!(
                errors[0].message.starts_with(&format!("invalid `{key}`: invalid date")),
                "{}",
                errors[0].message
            );
            assert!(errors[0].message.contains(date::ACCEPTED_FORMS), "{}", errors[0].message);
        }
        let nested = page_errors("+++\n[extra]\ndate = 2024-02-30\n+++\n");
        assert_eq!(nested[0].key.as_deref(), Some("extra.date"));
        assert!(nested[0].message.starts_with("cannot parse TOML front matter: invalid date"));
    }

    #[test]
    fn date_of_the_wrong_type_lists_the_forms() {
        let errors = page_errors("+++\ndate = 20240305\n+++\n");
        assert_eq!((errors[0].line, errors[0].key.as_deref()), (Some(2), Some("date")));
        assert!(
            errors[0].message.starts_with("`date` must be a date (`YYYY-MM-DD`"),
            "{}",
            errors[0].message
        );
        assert!(errors[0].message.ends_with("found an integer"));
    }

    // G07: duplicate keys, with both lines.

    #[test]
    fn toml_duplicate_key_names_both_lines() {
        let errors = page_errors("+++\ntitle = \"A\"\ntitle = \"B\"\n+++\n");
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].key.as_deref()), (Some(3), Some("title")));
        assert_eq!(errors[0].message, "duplicate key `title` at lines 2 and 3; keep one");
    }

    #[test]
    fn yaml_duplicate_key_names_both_lines() {
        let errors = page_errors("---\ntitle: A\ntitle: B\n---\n");
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].key.as_deref()), (Some(3), Some("title")));
        assert_eq!(errors[0].message, "duplicate key `title` at lines 2 and 3; keep one");
    }

    #[test]
    fn toml_table_written_twice_names_both_lines() {
        let text = "+++\ntitle = \"A\"\n[extra]\na = 1\n\n[extra]\nb = 2\n+++\n";
        let errors = page_errors(text);
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].line, errors[0].key.as_deref()), (Some(6), Some("extra")));
        assert_eq!(errors[0].message, "duplicate key `extra` at lines 3 and 6; keep one");
    }

    #[test]
    fn nested_duplicates_name_the_path_and_both_lines() {
        let cases = [
            ("+++\n[extra]\nx = 1\ny = 2\nx = 3\n+++\n", "extra.x", 3, 5),
            ("+++\nextra.x = 1\nextra.y = 2\nextra.x = 3\n+++\n", "extra.x", 2, 4),
            ("+++\nextra = { a = 1, a = 2 }\n+++\n", "extra.a", 2, 2),
            (
                "+++\n[taxonomies]\ntags = [\"a\"]\n[extra]\ntags = 1\n[taxonomies]\n+++\n",
                "taxonomies",
                2,
                6,
            ),
            ("+++\n[[extra.list]]\nk = 1\nk = 2\n+++\n", "extra.list.k", 3, 4),
            ("+++\n\"title\" = \"A\"\ntitle = \"B\"\n+++\n", "title", 2, 3),
            ("---\nextra:\n  x: 1\n  y: 2\n  x: 3\n---\n", "extra.x", 3, 5),
            ("---\nextra: {a: 1, a: 2}\n---\n", "extra.a", 2, 2),
            ("---\nextra:\n  list:\n    - k: 1\n      k: 2\n---\n", "extra.list.k", 4, 5),
        ];
        for (text, key, first, second) in cases {
            let errors = page_errors(text);
            assert_eq!(errors.len(), 1, "{text:?}: {errors:?}");
            let expected = format!("duplicate key `{key}` at lines {first} and {second}; keep one");
            assert_eq!(errors[0].message, expected, "{text:?}");
            assert_eq!((errors[0].line, errors[0].key.as_deref()), (Some(second), Some(key)));
        }
    }

    #[test]
    fn same_key_in_different_tables_is_not_a_duplicate() {
        let page = page("---\ntitle: A\nextra:\n  title: B\n---\n");
        assert_eq!(page.extra["title"], json!("B"));
        let toml = self::page("+++\ntitle = \"A\"\n[extra]\ntitle = \"B\"\n+++\n");
        assert_eq!(toml.extra["title"], json!("B"));
    }

    #[test]
    fn every_yaml_duplicate_is_reported() {
        let errors = page_errors("---\ntitle: A\ntitle: B\ndraft: true\ndraft: false\n---\n");
        let lines: Vec<_> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(3), Some(5)]);
    }

    // G16: files that are not UTF-8.

    #[test]
    fn latin1_file_names_the_first_bad_byte() {
        let err = decode(b"+++\ntitle = \"Caf\xe9\"\n+++\nNa\xefve text\n").unwrap_err();
        assert_eq!(err, FrontError::InvalidUtf8 { offset: 16, line: 2 });
        assert!(err.to_string().starts_with("invalid UTF-8 at byte 16 (line 2);"), "{err}");
        assert!(err.to_string().contains("save it as UTF-8"));
    }

    #[test]
    fn decode_and_split_errors_become_problems() {
        let latin1 = Problem::from(decode(b"+++\ntitle = \"Caf\xe9\"\n+++\n").unwrap_err());
        assert_eq!((latin1.line, latin1.key.as_deref(), latin1.is_warning), (None, None, false));
        assert!(latin1.to_string().starts_with("invalid UTF-8 at byte 16"), "{latin1}");
        let unclosed = Problem::from(split("---\ntitle: x\n").unwrap_err());
        assert_eq!(unclosed.line, Some(1));
        assert!(unclosed.to_string().starts_with("line 1: front matter opened with `---`"));
    }

    #[test]
    fn bad_byte_offset_counts_a_leading_bom() {
        let err = decode(b"\xef\xbb\xbfab\xff").unwrap_err();
        assert_eq!(err, FrontError::InvalidUtf8 { offset: 5, line: 1 });
    }

    #[test]
    fn utf16_files_are_named_as_such() {
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("+++\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let err = decode(&le).unwrap_err();
        assert_eq!(err, FrontError::Utf16 { big_endian: false });
        assert_eq!(err.to_string(), "the file is UTF-16 (little-endian); save it as UTF-8");
        assert_eq!(err.line(), None);
        let be = decode(&[0xFE, 0xFF, 0x00, b'+']).unwrap_err();
        assert_eq!(be, FrontError::Utf16 { big_endian: true });
    }

    // Line numbers are file lines.

    #[test]
    fn toml_syntax_error_points_at_the_file_line() {
        let errors = page_errors("+++\ntitle = \"ok\"\ndraft = \n+++\n");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, Some(3));
        assert!(
            errors[0].message.starts_with("cannot parse TOML front matter: "),
            "{}",
            errors[0].message
        );
        assert_eq!(errors[0].to_string(), format!("line 3: {}", errors[0].message));
    }

    #[test]
    fn yaml_inside_toml_fences_gets_a_hint() {
        let errors = page_errors("+++\ntitle: Hello\n+++\n");
        assert_eq!(errors[0].line, Some(2));
        assert!(
            errors[0].message.contains("`+++` lines is TOML, YAML goes between `---`"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn yaml_syntax_error_points_at_the_file_line() {
        let errors = page_errors("---\ntitle: ok\ntags: [a, b\n---\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(3));
        assert!(
            errors[0].message.starts_with("cannot parse YAML front matter: "),
            "{}",
            errors[0].message
        );
        assert!(!errors[0].message.contains('\n'), "{}", errors[0].message);
    }

    #[test]
    fn toml_inside_yaml_fences_gets_a_hint() {
        let errors = page_errors("---\ntitle = \"Hello\"\n---\n");
        assert_eq!(errors[0].line, Some(2));
        assert!(
            errors[0].message.contains("found a string; TOML front matter goes between `+++`"),
            "{}",
            errors[0].message
        );
    }

    // Unknown keys and type errors.

    #[test]
    fn unknown_top_level_keys_warn_with_line() {
        let (page, warnings) =
            page_in("+++\ntitle = \"x\"\nfoo = 1\n[extra]\nbar = 2\n+++\n", UTC).unwrap();
        assert_eq!(page.extra["bar"], json!(2));
        assert_eq!(warnings.len(), 1);
        let warning = &warnings[0];
        assert_eq!(
            (warning.line, warning.key.as_deref(), warning.is_warning),
            (Some(3), Some("foo"), true)
        );
        assert_eq!(
            warning.message,
            "unknown front matter key `foo`, ignored; put custom values under [extra]"
        );
        let (_, yaml) = page_in("---\nfoo: 1\n---\n", UTC).unwrap();
        assert_eq!(
            yaml[0].message,
            "unknown front matter key `foo`, ignored; put custom values under `extra:`"
        );
    }

    #[test]
    fn type_errors_name_key_line_and_expected_type() {
        let cases = [
            (
                "+++\ndraft = \"yes\"\n+++\n",
                "draft",
                2,
                "`draft` must be true or false, found a string",
            ),
            ("---\ndraft: yes\n---\n", "draft", 2, "`draft` must be true or false, found a string"),
            ("+++\n\ntitle = 1\n+++\n", "title", 3, "`title` must be a string, found an integer"),
            (
                "+++\nweight = \"1\"\n+++\n",
                "weight",
                2,
                "`weight` must be a whole number, found a string",
            ),
            (
                "+++\nextra = 1\n+++\n",
                "extra",
                2,
                "`extra` must be a table of custom values, found an integer",
            ),
            (
                "+++\naliases = { a = 1 }\n+++\n",
                "aliases",
                2,
                "`aliases` must be a list of strings, found a table",
            ),
            (
                "+++\naliases = [\n  \"/a\",\n  2,\n]\n+++\n",
                "aliases",
                4,
                "`aliases` must be a list of strings; item 2 is an integer",
            ),
            (
                "---\ntags:\n  - a\n  - [b]\n---\n",
                "tags",
                4,
                "`tags` must be a list of strings; item 2 is a list",
            ),
            (
                "+++\ntaxonomies = [\"a\"]\n+++\n",
                "taxonomies",
                2,
                "`taxonomies` must be a table of term lists such as `tags = [\"rust\"]`, found a list",
            ),
            (
                "+++\n[taxonomies]\ntags = 1\n+++\n",
                "taxonomies.tags",
                3,
                "`taxonomies.tags` must be a list of strings, found an integer",
            ),
            (
                "+++\nslug = \"\"\n+++\n",
                "slug",
                2,
                "`slug` cannot be empty; remove the line to use the file name",
            ),
            (
                "+++\npath = \" \"\n+++\n",
                "path",
                2,
                "`path` cannot be empty; remove the line to use the default path",
            ),
            ("+++\ntags = [\"a\", \"\"]\n+++\n", "tags", 2, "`tags` has an empty term; remove it"),
        ];
        for (text, key, line, message) in cases {
            let errors = page_errors(text);
            assert_eq!(errors.len(), 1, "{text:?}: {errors:?}");
            assert_eq!(errors[0].message, message, "{text:?}");
            assert_eq!(
                (errors[0].line, errors[0].key.as_deref()),
                (Some(line), Some(key)),
                "{text:?}"
            );
            assert!(!errors[0].is_warning);
        }
    }

    #[test]
    fn all_problems_are_reported_sorted_with_warnings_flagged() {
        let errors = page_errors("+++\nweight = \"x\"\nfoo = 1\ndraft = 3\n+++\n");
        let summary: Vec<_> = errors.iter().map(|p| (p.line, p.is_warning)).collect();
        assert_eq!(summary, [(Some(2), false), (Some(3), true), (Some(4), false)]);
    }

    // Values.

    #[test]
    fn every_page_field_is_read() {
        let text = r#"+++
title = "All"
description = "Every field"
date = 2024-03-05
updated = 2024-03-06T12:00:00Z
draft = true
slug = "all"
path = "x/all"
aliases = ["/old"]
template = "special.html"
weight = -3
authors = ["Seán O'Neill"]
in_search_index = false
render = false
[taxonomies]
series = ["one"]
+++
"#;
        let page = page(text);
        assert_eq!(page.title.as_deref(), Some("All"));
        assert_eq!(page.description.as_deref(), Some("Every field"));
        assert_eq!(page.date, Some(utc("2024-03-05T00:00:00Z")));
        assert_eq!(page.updated, Some(utc("2024-03-06T12:00:00Z")));
        assert!(page.draft && !page.in_search_index && !page.render);
        assert_eq!((page.slug.as_deref(), page.path.as_deref()), (Some("all"), Some("x/all")));
        assert_eq!(
            (page.aliases, page.template.as_deref()),
            (vec!["/old".to_owned()], Some("special.html"))
        );
        assert_eq!((page.weight, page.authors), (Some(-3), vec!["Seán O'Neill".to_owned()]));
        assert_eq!(page.taxonomies["series"], ["one"]);
    }

    #[test]
    fn page_defaults_match_zola() {
        let page = PageFront::default();
        assert!(page.in_search_index && page.render && !page.draft);
        assert!(page.taxonomies.is_empty() && page.extra.is_empty());
    }

    #[test]
    fn taxonomies_merge_table_and_top_level_keys() {
        let toml = page(
            "+++\ntags = [\"rust\", \"web\"]\ncategories = \"news\"\n[taxonomies]\ntags = [\"web\", \"async\"]\nseries = []\n+++\n",
        );
        let mut tags = toml.taxonomies["tags"].clone();
        tags.sort();
        assert_eq!(tags, ["async", "rust", "web"]);
        assert_eq!(toml.taxonomies["categories"], ["news"]);
        assert!(toml.taxonomies["series"].is_empty());

        let yaml =
            page("---\ntags: rust\ncategories:\n  - a\n  - b\ntaxonomies:\n  tags: [web]\n---\n");
        let mut tags = yaml.taxonomies["tags"].clone();
        tags.sort();
        assert_eq!(tags, ["rust", "web"]);
        assert_eq!(yaml.taxonomies["categories"], ["a", "b"]);
    }

    #[test]
    fn yaml_plain_scalars_are_taken_as_written_where_strings_are_expected() {
        let page =
            page("---\ntitle: 2024\ndescription: 1.10\ntags: [1.0, true, yes]\nslug: 007\n---\n");
        assert_eq!(page.title.as_deref(), Some("2024"));
        assert_eq!(page.description.as_deref(), Some("1.10"));
        assert_eq!(page.taxonomies["tags"], ["1.0", "true", "yes"]);
        assert_eq!(page.slug.as_deref(), Some("007"));
    }

    #[test]
    fn yaml_empty_values_count_as_not_given() {
        let page = page("---\ntitle:\ndraft:\ntags:\nextra:\ndate:\n---\n");
        assert_eq!(page, PageFront::default());
    }

    #[test]
    fn extra_values_become_json() {
        let toml = page(
            r#"+++
[extra]
text = "hi"
number = 3
ratio = 0.5
flag = true
when = 2024-03-05T10:00:00+02:00
day = 2024-03-05
list = [1, "two"]
nested = { inner = { deep = "yes" } }
[[extra.items]]
name = "a"
+++
"#,
        );
        let expected = json!({
            "text": "hi", "number": 3, "ratio": 0.5, "flag": true,
            "when": "2024-03-05T10:00:00+02:00", "day": "2024-03-05",
            "list": [1, "two"], "nested": {"inner": {"deep": "yes"}}, "items": [{"name": "a"}],
        });
        assert_eq!(Value::Object(toml.extra), expected);

        let yaml = page(
            "---\nextra:\n  text: hi\n  number: 3\n  flag: true\n  answer: yes\n  day: 2024-03-05\n  list: [1, two]\n  inf: .inf\n---\n",
        );
        let expected = json!({
            "text": "hi", "number": 3, "flag": true, "answer": "yes",
            "day": "2024-03-05", "list": [1, "two"], "inf": ".inf",
        });
        assert_eq!(Value::Object(yaml.extra), expected);
    }

    #[test]
    fn yaml_anchors_and_aliases_are_values() {
        let page = page("---\ntitle: &t Shared\ndescription: *t\n---\n");
        assert_eq!(page.description.as_deref(), Some("Shared"));
    }

    // Sections.

    #[test]
    fn section_defaults_match_zola() {
        let (section, warnings) = section("+++\n+++\n").unwrap();
        assert_eq!((section, warnings), (SectionFront::default(), vec![]));
        let defaults = SectionFront::default();
        assert_eq!((defaults.sort_by, defaults.paginate_path.as_str()), (SortBy::Date, "page"));
        assert!(defaults.render && defaults.in_search_index && !defaults.transparent);
    }

    #[test]
    fn every_section_field_is_read() {
        let text = r#"+++
title = "Blog"
description = "Posts"
sort_by = "update_date"
paginate_by = 10
paginate_path = "p"
paginate_reversed = true
template = "blog.html"
page_template = "post.html"
transparent = true
generate_feeds = true
weight = 2
draft = true
render = false
redirect_to = "/elsewhere/"
aliases = ["/old-blog/"]
insert_anchor_links = "heading"
in_search_index = false
[extra]
banner = "b.png"
+++
"#;
        let (section, warnings) = section(text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            (section.title.as_deref(), section.description.as_deref()),
            (Some("Blog"), Some("Posts"))
        );
        assert_eq!((section.sort_by, section.paginate_by), (SortBy::UpdateDate, Some(10)));
        assert_eq!((section.paginate_path.as_str(), section.paginate_reversed), ("p", true));
        assert_eq!(
            (section.template.as_deref(), section.page_template.as_deref()),
            (Some("blog.html"), Some("post.html"))
        );
        assert!(section.transparent && section.generate_feeds && section.draft);
        assert!(!section.render && !section.in_search_index);
        assert_eq!(
            (section.weight, section.redirect_to.as_deref()),
            (Some(2), Some("/elsewhere/"))
        );
        assert_eq!(section.aliases, ["/old-blog/"]);
        assert_eq!(section.insert_anchor_links, Some(InsertAnchor::Heading));
        assert_eq!(section.extra["banner"], json!("b.png"));
    }

    #[test]
    fn section_sort_by_takes_zola_names() {
        let names = ["date", "update_date", "title", "title_bytes", "weight", "slug", "none"];
        let expected = [
            SortBy::Date,
            SortBy::UpdateDate,
            SortBy::Title,
            SortBy::TitleBytes,
            SortBy::Weight,
            SortBy::Slug,
            SortBy::None,
        ];
        for (name, sort_by) in names.into_iter().zip(expected) {
            let (section, _) = section(&format!("---\nsort_by: {name}\n---\n")).unwrap();
            assert_eq!(section.sort_by, sort_by, "{name}");
        }
        let (unknown, warnings) = section("+++\nsort_by = \"order\"\n+++\n").unwrap();
        assert_eq!(unknown.sort_by, SortBy::Date);
        assert_eq!(
            warnings[0].message,
            "`sort_by` must be one of `date`, `update_date`, `title`, `title_bytes`, `weight`, `slug`, `none`, found `order`; sorting by date"
        );
        assert!(warnings[0].is_warning);
        assert_eq!((warnings[0].line, warnings[0].key.as_deref()), (Some(2), Some("sort_by")));
    }

    #[test]
    fn section_value_errors() {
        let errors =
            section("+++\npaginate_by = -1\ninsert_anchor_links = true\n+++\n").unwrap_err();
        assert_eq!(errors[0].message, "`paginate_by` must be 0 or more, found -1");
        assert_eq!(errors[1].message, "`insert_anchor_links` must be a string, found a boolean");
    }

    #[test]
    fn section_reads_older_generate_feed_and_warns_on_page_keys() {
        let (section, warnings) =
            section("+++\ngenerate_feed = true\ntags = [\"a\"]\n+++\n").unwrap();
        assert!(section.generate_feeds);
        assert_eq!(warnings.len(), 1);
        assert_eq!((warnings[0].key.as_deref(), warnings[0].line), (Some("tags"), Some(3)));
    }

    // The real corpus.

    #[test]
    fn tokio_blog_corpus_parses_without_problems() {
        // `shared/` sits beside the repository.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/corpus/tokio-blog/content/blog");
        let dir = dir.as_path();
        let Ok(listing) = std::fs::read_dir(dir) else {
            eprintln!("skipped: {} is not here", dir.display());
            return;
        };
        let mut files: Vec<_> = listing.map(|e| e.unwrap().path()).collect();
        files.retain(|p| p.extension().is_some_and(|x| x == "md"));
        files.sort();
        assert!(!files.is_empty());
        for path in &files {
            let bytes = std::fs::read(path).unwrap();
            let text = decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let parts = split(text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(parts.format, Format::Yaml, "{}", path.display());
            let (page, warnings) =
                parse_page(&parts, UTC).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
            assert!(
                page.title.is_some() && page.description.is_some() && page.date.is_some(),
                "{}",
                path.display()
            );
            assert_eq!(parts.body_line, 6, "{}", path.display());
        }
        let first = std::fs::read_to_string(dir.join("2017-01-tokio-0-1.md")).unwrap();
        let (page, _) = parse_page(&split(&first).unwrap(), UTC).unwrap();
        assert_eq!(page.title.as_deref(), Some("Announcing Tokio 0.1"));
        assert_eq!(page.date, Some(utc("2017-01-10T00:00:00Z")));
    }
}
