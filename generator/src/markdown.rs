//! Markdown bodies to HTML, together with what the rest of the build needs to know about them:
//! the table of contents, the summary, the word count, the links to check and the problems found.
//!
//! Rendering never fails. A broken internal link or two headings given the same explicit id
//! become [`Issue`]s with the line within the body, for the caller to report with the file name.
//!
//! The body is markdown and nothing else: it is never run through a template engine, so
//! `{{ x }}` or `{% block %}` in prose or code comes out as written. Code spans and code blocks
//! are plain text to this module; a link inside them is never resolved or rewritten.
//!
//! The summary (everything before a top-level `<!-- more -->`) is shown away from its page, on
//! list pages beside the summaries of other pages, so it carries nothing that only works on the
//! page itself: its headings have no id and no anchor link, a footnote reference is a bare
//! `<sup class="footnote-reference">1</sup>` marker with neither id nor link (the notes stay on
//! the page, whether at the bottom or in place), and a link to a `#fragment` of the page keeps
//! its text but is no longer a link. The page's own URL is not known here, so pointing those
//! links at `{permalink}#fragment` is left to whoever knows it. Raw HTML is kept as written.
//!
//! Each call is independent and allocation-light, so pages can be rendered in parallel.
//!
//! The body is parsed once into a list of events, because heading ids and footnote numbers
//! depend on the whole page. The rewritten events are then streamed straight into the HTML
//! writer, and the summary is cut from the page's HTML when nothing in it had to change.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::highlight::{Highlighter, escape_html, fence_language, push_escaped_html};
use crate::slug::{SlugStrategy, slugify_or};

/// The id a heading gets when its text gives an empty slug (an emoji-only heading, say).
const HEADING_FALLBACK_ID: &str = "heading";

/// Reading speed behind [`Rendered::reading_time`], in words per minute.
const WORDS_PER_MINUTE: usize = 200;

/// How a body is turned into HTML.
///
/// Deserialises from a configuration table in which every field is optional.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct MarkdownOptions {
    /// Turn straight quotes, `--` and `...` into typographic ones. Off by default.
    pub smart_punctuation: bool,
    /// Highlight fenced code when a [`Highlighter`] is given. Off by default.
    pub highlight_code: bool,
    /// Gather footnote definitions into a `<section class="footnotes">` at the end of the page
    /// instead of leaving them where they were written. On by default.
    pub footnotes_at_bottom: bool,
    /// Open `http` and `https` links in a new tab. Off by default.
    pub external_links_new_tab: bool,
    /// How heading ids are made from heading texts. Under [`SlugStrategy::Off`] an id keeps
    /// the heading's spaces, which browsers follow but HTML validators flag.
    pub slug_strategy: SlugStrategy,
    /// Put a `#` link to itself inside every heading. On by default.
    pub insert_anchor_links: bool,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        Self {
            smart_punctuation: false,
            highlight_code: false,
            footnotes_at_bottom: true,
            external_links_new_tab: false,
            slug_strategy: SlugStrategy::default(),
            insert_anchor_links: true,
        }
    }
}

/// One entry of a page's table of contents.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Heading {
    /// 1 for `<h1>` through 6 for `<h6>`.
    pub level: u8,
    /// The heading's `id`, unique within the page.
    pub id: String,
    /// The heading's text without markup.
    pub title: String,
    /// The headings of deeper levels that follow this one, up to the next heading of this
    /// level or above.
    pub children: Vec<Heading>,
}

/// How serious an [`Issue`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The page is wrong and the build should fail.
    Error,
    /// The page builds, but probably not as its author meant.
    Warning,
}

/// A problem found in a body while rendering it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    /// Whether the build should fail.
    pub severity: Severity,
    /// The 1-based line within the body text given to [`render`].
    pub line: usize,
    /// What is wrong, as a lowercase clause.
    pub message: String,
}

/// Whether the page behind an internal link will be published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetStatus {
    /// A page that is part of the build.
    Published,
    /// A page marked `draft = true`.
    Draft,
    /// A page dated after now.
    Future,
}

/// Where an internal `@/…` link points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkTarget {
    /// The URL written into the HTML in place of the `@/…` path.
    pub url: String,
    /// Whether that page will be published.
    pub status: TargetStatus,
}

/// Looks up the pages that internal links name.
pub trait LinkResolver: Sync {
    /// Returns the target of `content_path`, the path below the content folder without the
    /// leading `@/` (for example `blog/post.md`), or `None` when no such page exists.
    fn resolve(&self, content_path: &str) -> Option<LinkTarget>;
}

/// A map from content paths to targets is the simplest resolver.
impl<S: BuildHasher + Sync> LinkResolver for HashMap<String, LinkTarget, S> {
    fn resolve(&self, content_path: &str) -> Option<LinkTarget> {
        self.get(content_path).cloned()
    }
}

/// A `#fragment` in a link, for the caller to check against the target page's ids.
///
/// A fragment written as visible heading text (`#Über Größe` or `#پارسی`) is slugified the way
/// heading ids are, so `anchor` is the id the link now points at, the same one written into the
/// HTML. On the same page the fragment is kept as written when a heading has exactly that id.
/// On another page, whose ids are not known yet, a fragment that is not already in slug form is
/// always slugified; an explicit `{#id}` that is not in slug form can only be linked to from its
/// own page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorRef {
    /// The linked page's content path, or `None` for the page itself.
    pub content_path: Option<String>,
    /// The id the link points at, percent-decoded.
    pub anchor: String,
    /// The 1-based line of the link within the body.
    pub line: usize,
}

/// Everything [`render`] learns from a body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The page's HTML, ending with the footnotes section when footnotes go to the bottom.
    pub html: String,
    /// The HTML of everything before a `<!-- more -->` line, or `None` without one (or when
    /// nothing comes before it).
    pub summary: Option<String>,
    /// The headings, nested by level.
    pub toc: Vec<Heading>,
    /// The id of every heading, in page order.
    pub heading_ids: Vec<String>,
    /// Words of prose: whitespace-separated runs of text outside code blocks and raw HTML.
    /// Inline code counts; fenced and indented code blocks do not.
    pub word_count: usize,
    /// Minutes to read at 200 words a minute, rounded up, at least 1.
    pub reading_time: usize,
    /// The fragments of same-page and internal links, to check once every page is known.
    pub anchor_refs: Vec<AnchorRef>,
    /// Every distinct `http` and `https` link target, in order of first appearance.
    pub external_links: Vec<String>,
    /// Problems found, in page order.
    pub issues: Vec<Issue>,
}

/// Renders a markdown `body` (the text after the front matter) to HTML.
///
/// Fenced code is highlighted with `highlighter` when one is given and
/// [`MarkdownOptions::highlight_code`] is set; otherwise it is escaped as is. Internal links
/// (`@/blog/post.md`, optionally with `#fragment`) are resolved through `links`.
pub fn render(
    body: &str,
    opts: &MarkdownOptions,
    highlighter: Option<&Highlighter>,
    links: &dyn LinkResolver,
) -> Rendered {
    let lines = LineIndex::new(body);
    let written = Cell::new(0);
    let context = Context {
        opts,
        highlighter: highlighter.filter(|_| opts.highlight_code),
        links,
        lines: &lines,
        written: &written,
        may_have_summary: may_hold_more_marker(body),
    };

    render_streamed(body, context).unwrap_or_else(|| render_parsed(body, context))
}

/// Renders `body` in one pass, straight from the parser, giving each heading its id as it comes.
///
/// The ids are the ones [`render_parsed`] would give as long as no id is wanted twice, no
/// same-page link depends on the ids of headings further down, and there are no footnotes,
/// whose numbers and ids depend on the whole page. Returns `None`, as soon as it knows, when
/// the page turns out not to be like that; nothing of the attempt is kept then. Scanning every
/// body for footnotes first cost more than the wasted starts on the few pages that have them.
fn render_streamed(body: &str, context: Context<'_>) -> Option<Rendered> {
    let events = Parser::new_ext(body, parser_options(context.opts)).into_offset_iter();
    let headings = Headings { as_they_come: true, ..Headings::default() };
    let footnotes = Footnotes::default();
    let mut rewriter =
        Rewriter::new(context, events, IdSet::default(), headings, footnotes, Vec::new());
    let html = rewriter.write_page();
    (!rewriter.gave_up).then(|| rewriter.into_rendered(html))
}

/// Renders `body` in two passes: the first parses it all to learn every heading and the order
/// of the footnotes, so that ids can be given out page-wide; the second rewrites the events.
fn render_parsed(body: &str, context: Context<'_>) -> Rendered {
    let parsed = parse(body, context.opts);

    let (opts, lines) = (context.opts, context.lines);
    let mut ids = IdSet::default();
    let mut issues = Vec::new();
    let heading_ids = assign_heading_ids(&parsed.headings, opts, &mut ids, lines, &mut issues);
    let headings = Headings { sources: parsed.headings, ids: heading_ids, ..Headings::default() };
    let footnotes = Footnotes::new(parsed.footnote_numbers, parsed.has_definitions, &mut ids);

    let events = parsed.events.into_iter();
    let mut rewriter = Rewriter::new(context, events, ids, headings, footnotes, issues);
    let html = rewriter.write_page();
    rewriter.into_rendered(html)
}

thread_local! {
    /// The buffer each thread writes pages into; see [`Rewriter::write_page`].
    static PAGE_BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A page buffer that an unusually long page grew past this is let go rather than kept.
const PAGE_BUFFER_LIMIT: usize = 1 << 20;

/// Whether `body` might hold a `<!-- more -->` line. Only then are the page's events copied
/// aside for a summary; without any HTML comment there is none to make.
fn may_hold_more_marker(body: &str) -> bool {
    body.contains("<!--")
}

fn parser_options(opts: &MarkdownOptions) -> Options {
    let mut options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES;
    if opts.smart_punctuation {
        options |= Options::ENABLE_SMART_PUNCTUATION;
    }
    options
}

/// Maps byte offsets to 1-based line numbers, built only if some line is asked for.
struct LineIndex<'a> {
    body: &'a str,
    starts: OnceCell<Vec<usize>>,
}

impl<'a> LineIndex<'a> {
    fn new(body: &'a str) -> Self {
        Self { body, starts: OnceCell::new() }
    }

    fn line_of(&self, offset: usize) -> usize {
        let starts = self.starts.get_or_init(|| {
            let newlines = self.body.match_indices('\n').map(|(index, _)| index + 1);
            std::iter::once(0).chain(newlines).collect()
        });
        starts.partition_point(|&start| start <= offset)
    }
}

/// What is learnt about one heading from its events.
struct HeadingSource {
    level: u8,
    explicit_id: Option<String>,
    text: String,
    offset: usize,
}

/// The first pass of [`render_parsed`]: the events, kept for the second pass, and the facts the
/// second pass needs before it starts (every heading, and the order in which footnotes are first
/// referenced).
#[derive(Default)]
struct Parsed<'a> {
    events: Vec<(Event<'a>, Range<usize>)>,
    headings: Vec<HeadingSource>,
    footnote_numbers: HashMap<String, usize>,
    has_definitions: bool,
}

/// Prose gives about one event per 35 bytes and lists and tables more; reserving for one per
/// 16 bytes means the list is almost never grown and copied.
const BYTES_PER_EVENT: usize = 16;

fn parse<'a>(body: &'a str, opts: &MarkdownOptions) -> Parsed<'a> {
    let events = Vec::with_capacity(body.len() / BYTES_PER_EVENT + 16);
    let mut parsed = Parsed { events, ..Parsed::default() };
    let mut heading: Option<HeadingSource> = None;

    for (event, range) in Parser::new_ext(body, parser_options(opts)).into_offset_iter() {
        match &event {
            Event::Start(Tag::Heading { level, id, .. }) => {
                heading = Some(HeadingSource {
                    level: heading_level(*level),
                    explicit_id: id.as_deref().map(str::to_owned),
                    text: String::new(),
                    offset: range.start,
                });
            }
            Event::End(TagEnd::Heading(_)) => parsed.headings.extend(heading.take()),
            Event::Text(text) | Event::Code(text) => {
                if let Some(heading) = &mut heading {
                    heading.text.push_str(text);
                }
            }
            Event::FootnoteReference(label) => {
                let next = parsed.footnote_numbers.len() + 1;
                parsed.footnote_numbers.entry(footnote_key(label)).or_insert(next);
            }
            Event::Start(Tag::FootnoteDefinition(_)) => parsed.has_definitions = true,
            _ => {}
        }
        parsed.events.push((event, range));
    }
    parsed
}

fn heading_level(level: HeadingLevel) -> u8 {
    level as u8
}

/// Footnote labels match case-insensitively, as link labels do.
fn footnote_key(label: &str) -> String {
    label.to_lowercase()
}

/// Counts whitespace-separated words across text events.
///
/// A word may be split over several events (smart punctuation makes `’` its own event, and
/// `un*believ*able` spans three), so "inside a word" carries over inline markup and is reset only
/// by breaks and block boundaries.
#[derive(Default)]
struct WordCounter {
    count: usize,
    in_word: bool,
    in_code_block: bool,
}

impl WordCounter {
    /// Runs for every event of the body, so it is kept small enough to be inlined; the counting
    /// itself is not.
    #[inline]
    fn observe(&mut self, event: &Event<'_>) {
        match event {
            Event::Text(text) | Event::Code(text) if !self.in_code_block => self.count_in(text),
            Event::Start(Tag::CodeBlock(_)) => self.in_code_block = true,
            Event::End(TagEnd::CodeBlock) => self.in_code_block = false,
            Event::Start(tag) if is_inline(tag) => {}
            Event::End(tag) if is_inline_end(*tag) => {}
            _ => self.in_word = false,
        }
    }

    /// Works on bytes rather than chars: prose is nearly all ASCII, and decoding every char
    /// cost more than the rest of the first pass. Only where a whitespace char outside ASCII
    /// may begin is a char decoded, so the count is still the one [`char::is_whitespace`] gives.
    #[inline(never)]
    fn count_in(&mut self, text: &str) {
        let bytes = text.as_bytes();
        if text.is_ascii() || !bytes.iter().copied().any(may_begin_unicode_space) {
            return self.count_in_ascii(bytes);
        }
        let mut start = 0;
        while let Some(found) = bytes[start..].iter().copied().position(may_begin_unicode_space) {
            let at = start + found;
            self.count_in_ascii(&bytes[start..at]);
            let Some(c) = text[at..].chars().next() else { return };
            self.count += usize::from(!c.is_whitespace() && !self.in_word);
            self.in_word = !c.is_whitespace();
            start = at + c.len_utf8();
        }
        self.count_in_ascii(&bytes[start..]);
    }

    /// Counts as if only ASCII whitespace separated words. A char of several bytes is then a
    /// run of non-space bytes, which starts one word at most, as the char alone would.
    ///
    /// Eight bytes are looked at together, as one `u64`: a word starts at every byte that is not
    /// a space while the byte before it is.
    fn count_in_ascii(&mut self, bytes: &[u8]) {
        let Some(&last) = bytes.last() else { return };
        let (blocks, rest) = bytes.as_chunks::<8>();
        // The count is kept in a local, which the compiler keeps in a register.
        let mut space_before = u64::from(!self.in_word) << 7;
        let mut count = 0;
        for block in blocks {
            count += word_starts(u64::from_le_bytes(*block), &mut space_before);
        }
        // Padding with spaces starts no word. The bytes are put in one by one: copying so few
        // is cheaper by hand than through a call to `memcpy`.
        let spaces = u64::from_le_bytes([b' '; 8]);
        let padded = rest.iter().rev().fold(spaces, |block, &byte| block << 8 | u64::from(byte));
        count += word_starts(padded, &mut space_before);

        self.count += count;
        self.in_word = !is_space(last);
    }
}

/// How many words start in the eight bytes of `block`, given whether the byte before it was a
/// space (by the highest bit of `space_before`), which is then updated for the next block.
fn word_starts(block: u64, space_before: &mut u64) -> usize {
    let spaces = space_bits(block);
    let starts = !spaces & ((spaces << 8) | *space_before) & HIGH_BITS;
    *space_before = spaces >> 56;
    // Each byte of `starts >> 7` is 0 or 1; the multiplication adds them up in the top byte.
    ((starts >> 7).wrapping_mul(LOW_BITS) >> 56) as usize
}

/// The lowest bit of every byte of a `u64`.
const LOW_BITS: u64 = 0x0101_0101_0101_0101;

/// The highest bit of every byte of a `u64`.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Marks, by its highest bit, every byte of `block` that [`is_space`] holds for.
///
/// The sums below stay inside their bytes because the highest bits are cleared first, and a
/// byte with its highest bit set is not ASCII, so never a space.
fn space_bits(block: u64) -> u64 {
    let low = block & !HIGH_BITS;
    let not_blank = low ^ (u64::from(b' ') * LOW_BITS);
    let blank = !((not_blank + 0x7F * LOW_BITS) | not_blank);
    let from_tab = low + (0x80 - u64::from(b'\t')) * LOW_BITS;
    let past_return = low + (0x80 - u64::from(b'\r') - 1) * LOW_BITS;
    (blank | (from_tab & !past_return)) & !block & HIGH_BITS
}

/// ASCII whitespace as [`char::is_whitespace`] sees it, which includes the vertical tab.
fn is_space(byte: u8) -> bool {
    matches!(byte, b'\t'..=b'\r' | b' ')
}

/// The first bytes of the UTF-8 forms of U+0085, U+00A0, U+1680, U+2000 to U+205F and U+3000,
/// the only whitespace chars outside ASCII.
fn may_begin_unicode_space(byte: u8) -> bool {
    matches!(byte, 0xC2 | 0xE1..=0xE3)
}

fn is_inline(tag: &Tag<'_>) -> bool {
    matches!(
        tag,
        Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript
            | Tag::Link { .. }
            | Tag::Image { .. }
    )
}

fn is_inline_end(tag: TagEnd) -> bool {
    matches!(
        tag,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::Link
            | TagEnd::Image
    )
}

/// The ids used on a page, so that every new one can be made unique.
#[derive(Default)]
struct IdSet {
    used: HashSet<String, BuildHasherDefault<IdHasher>>,
    /// The next suffix to try for a base, so that a page with many equal headings does not
    /// try `-1`, `-2`… from the start each time.
    next_suffix: HashMap<String, usize>,
}

/// A hash of eight bytes at a time, in the manner of rustc's FxHash, for the short ids of one
/// page. They come from the site's own content, so the resistance to crafted collisions of the
/// standard SipHash buys nothing, while its cost was a good part of giving headings their ids.
#[derive(Default)]
struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let (words, rest) = bytes.as_chunks::<8>();
        for word in words {
            self.add(u64::from_le_bytes(*word));
        }
        if !rest.is_empty() {
            self.add(rest.iter().rev().fold(0, |word, &byte| word << 8 | u64::from(byte)));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Room for the ids of a page with a good number of headings, reserved with the first one so
/// that the set is not grown step by step.
const IDS_PER_PAGE: usize = 16;

impl IdSet {
    /// Takes `id` if it is free; returns whether it was.
    fn claim(&mut self, id: &str) -> bool {
        if self.used.capacity() == 0 {
            self.used.reserve(IDS_PER_PAGE);
        }
        // Ids are nearly always free, so copying first saves looking the id up twice.
        self.used.insert(id.to_owned())
    }

    /// Takes the first free id among `base-1`, `base-2`, ….
    fn claim_suffixed(&mut self, base: &str) -> String {
        let mut n = self.next_suffix.get(base).copied().unwrap_or(1);
        loop {
            let candidate = format!("{base}-{n}");
            n += 1;
            if self.claim(&candidate) {
                self.next_suffix.insert(base.to_owned(), n);
                return candidate;
            }
        }
    }

    /// Takes `base` if it is free, and a suffixed form of it otherwise.
    fn claim_unique(&mut self, base: String) -> String {
        if self.claim(&base) { base } else { self.claim_suffixed(&base) }
    }

    fn contains(&self, id: &str) -> bool {
        self.used.contains(id)
    }
}

/// Gives every heading an id that is unique on the page.
///
/// Explicit `{#id}`s are kept as written and claimed first. Then each heading whose own slug is
/// still free takes it, and only after that do the rest get `-1`, `-2`… suffixes. So a suffix can
/// never take the id another heading's text gives: in `# Header`, `# Header 1`, `# Header`, the
/// third heading becomes `header-2`, never `header-1`.
fn assign_heading_ids(
    headings: &[HeadingSource],
    opts: &MarkdownOptions,
    ids: &mut IdSet,
    lines: &LineIndex<'_>,
    issues: &mut Vec<Issue>,
) -> Vec<String> {
    claim_explicit_ids(headings, ids, lines, issues);

    let mut assigned: Vec<Option<String>> =
        headings.iter().map(|heading| heading.explicit_id.clone()).collect();
    let mut clashing = Vec::new();
    for (index, heading) in headings.iter().enumerate() {
        if heading.explicit_id.is_some() {
            continue;
        }
        let natural = heading_slug(&heading.text, opts.slug_strategy);
        if ids.claim(&natural) {
            assigned[index] = Some(natural);
        } else {
            clashing.push((index, natural));
        }
    }
    for (index, natural) in clashing {
        assigned[index] = Some(ids.claim_suffixed(&natural));
    }

    assigned.into_iter().map(Option::unwrap_or_default).collect()
}

fn claim_explicit_ids(
    headings: &[HeadingSource],
    ids: &mut IdSet,
    lines: &LineIndex<'_>,
    issues: &mut Vec<Issue>,
) {
    let mut first_lines: HashMap<&str, usize> = HashMap::new();
    for heading in headings {
        let Some(id) = heading.explicit_id.as_deref() else { continue };
        let line = lines.line_of(heading.offset);
        if let Some(first) = first_lines.get(id) {
            let message = format!("heading id `{id}` is already set explicitly on line {first}");
            issues.push(Issue { severity: Severity::Error, line, message });
            continue;
        }
        first_lines.insert(id, line);
        ids.claim(id);
    }
}

/// The id a heading's text gives, before any suffix. Anchor links written as visible heading
/// text are resolved through this same function.
fn heading_slug(text: &str, strategy: SlugStrategy) -> String {
    slugify_or(text.trim(), strategy, HEADING_FALLBACK_ID)
}

fn build_toc(headings: Vec<HeadingSource>, ids: &[String]) -> Vec<Heading> {
    let mut toc = Vec::new();
    for (heading, id) in headings.into_iter().zip(ids) {
        let entry = Heading {
            level: heading.level,
            id: id.clone(),
            title: trimmed(heading.text),
            children: Vec::new(),
        };
        insert_into_toc(&mut toc, entry);
    }
    toc
}

/// `text` without surrounding whitespace, reusing its buffer when there is none to cut.
fn trimmed(text: String) -> String {
    if text.trim().len() == text.len() { text } else { text.trim().to_owned() }
}

/// A heading goes under the last heading of a lower level, or at this level when there is none.
fn insert_into_toc(siblings: &mut Vec<Heading>, entry: Heading) {
    match siblings.last_mut() {
        Some(last) if last.level < entry.level => insert_into_toc(&mut last.children, entry),
        _ => siblings.push(entry),
    }
}

/// What the second pass reads but never changes.
#[derive(Clone, Copy)]
struct Context<'r> {
    opts: &'r MarkdownOptions,
    highlighter: Option<&'r Highlighter>,
    links: &'r dyn LinkResolver,
    lines: &'r LineIndex<'r>,
    /// How many bytes of the page's HTML the writer has produced so far, while the page is
    /// streamed. It tells where in the HTML a `<!-- more -->` starts.
    written: &'r Cell<usize>,
    /// Whether the body might hold a `<!-- more -->` line at all.
    may_have_summary: bool,
}

/// The footnotes of a page: their numbers, their element ids and their collected definitions.
#[derive(Default)]
struct Footnotes<'a> {
    numbers: HashMap<String, usize>,
    /// Indexed by number - 1.
    definition_ids: Vec<String>,
    /// Indexed by number - 1: the ids of the references, for the back-links.
    reference_ids: Vec<Vec<String>>,
    definitions: Vec<FootnoteDefinition<'a>>,
    /// Indices into `definitions` of those still being read, innermost last.
    open: Vec<usize>,
    /// Whether the first pass saw any definition.
    has_definitions: bool,
}

/// One footnote definition's events, rendered once every reference to it is known.
struct FootnoteDefinition<'a> {
    number: usize,
    events: Vec<Event<'a>>,
    /// Where the rendered definition goes when footnotes stay in place: the index of the
    /// definition holding it (`None` for the page) and of the event to replace there.
    placeholder: Option<(Option<usize>, usize)>,
    duplicate: bool,
}

impl<'a> Footnotes<'a> {
    /// Numbers follow the order of first reference; the ids are claimed now so that references
    /// can link to definitions written further down.
    fn new(numbers: HashMap<String, usize>, has_definitions: bool, ids: &mut IdSet) -> Self {
        let count = numbers.len();
        let definition_ids = (1..=count).map(|n| ids.claim_unique(format!("fn-{n}"))).collect();
        Self {
            numbers,
            definition_ids,
            reference_ids: vec![Vec::new(); count],
            definitions: Vec::new(),
            open: Vec::new(),
            has_definitions,
        }
    }

    /// The number of `label`, giving the next one to a definition that nothing references.
    fn number_of(&mut self, label: &str, ids: &mut IdSet) -> usize {
        let key = footnote_key(label);
        if let Some(&number) = self.numbers.get(&key) {
            return number;
        }
        let number = self.definition_ids.len() + 1;
        self.numbers.insert(key, number);
        self.definition_ids.push(ids.claim_unique(format!("fn-{number}")));
        self.reference_ids.push(Vec::new());
        number
    }

    fn is_defined(&self, number: usize) -> bool {
        self.definitions.iter().any(|definition| definition.number == number)
    }
}

/// The summary, gathered while the page is rewritten: a copy of the page's events up to the
/// first top-level `<!-- more -->`, in the versions that work away from the page.
///
/// When no copied event had to change, the summary is simply the start of the page's HTML and
/// the copy is never rendered.
struct Summary<'a> {
    /// Whether page events are still being copied: a marker may come and none has yet.
    recording: bool,
    events: Vec<Event<'a>>,
    /// Whether some copied event differs from the page's.
    swapped: bool,
    /// The top-level HTML block being read, which may turn out to be the marker.
    html_block: Option<(SummaryCut, String)>,
    /// Where the summary ends, once its marker is found.
    end: Option<SummaryCut>,
}

/// A place in the page: the number of events before it, and the length of the page's HTML
/// before it when the page is being streamed.
#[derive(Clone, Copy)]
struct SummaryCut {
    events: usize,
    html: Option<usize>,
}

impl<'a> Summary<'a> {
    fn new(may_have_summary: bool) -> Self {
        Self {
            recording: may_have_summary,
            // Summaries are mostly a paragraph or two, a few dozen events.
            events: if may_have_summary { Vec::with_capacity(32) } else { Vec::new() },
            swapped: false,
            html_block: None,
            end: None,
        }
    }

    /// Copies an event that went to the page, and keeps the text of a possible marker. Runs
    /// for every event of the page, nearly always only to find that nothing is being recorded.
    #[inline]
    fn copy(&mut self, event: &Event<'a>) {
        if self.recording {
            self.record(event);
        }
    }

    fn record(&mut self, event: &Event<'a>) {
        if let (Some((_, text)), Event::Html(html)) = (&mut self.html_block, event) {
            text.push_str(html);
        }
        self.events.push(event.clone());
    }

    /// Changes the copy of the event the page got last; returns whether there was one to change.
    fn swap_last(&mut self, change: impl FnOnce(&mut Event<'a>)) -> bool {
        let Some(last) = self.events.last_mut().filter(|_| self.recording) else { return false };
        change(last);
        self.swapped = true;
        true
    }

    fn open_html_block(&mut self, html: Option<usize>) {
        if self.recording {
            let cut = SummaryCut { events: self.events.len(), html };
            self.html_block = Some((cut, String::new()));
        }
    }

    /// Ends the summary at a top-level `<!-- more -->` block, the first one only.
    fn close_html_block(&mut self) {
        let Some((cut, text)) = self.html_block.take() else { return };
        if is_more_marker(&text) {
            self.recording = false;
            self.events.truncate(cut.events);
            self.end = Some(cut);
        }
    }

    /// The summary's HTML given the page's, or `None` without a marker or if it is blank.
    fn html(self, page: &str) -> Option<String> {
        let cut = self.end?;
        let html = match cut.html {
            Some(len) if !self.swapped => page[..len].to_owned(),
            _ => {
                let mut html = String::with_capacity(cut.html.unwrap_or_default() + 64);
                pulldown_cmark::html::push_html(&mut html, self.events.into_iter());
                html
            }
        };
        (!html.trim().is_empty()).then_some(html)
    }
}

/// Where the streamed page goes: the HTML, with its length published for the rewriter, which
/// runs between the writer's writes.
struct PageSink<'h, 'c> {
    html: &'h mut String,
    written: &'c Cell<usize>,
}

impl fmt::Write for PageSink<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.html.push_str(text);
        self.written.set(self.html.len());
        Ok(())
    }
}

/// The headings of a page with their ids, all of them or those seen so far.
#[derive(Default)]
struct Headings {
    sources: Vec<HeadingSource>,
    ids: Vec<String>,
    /// The index of the next heading to be rewritten.
    next: usize,
    /// Whether each heading is given its id when it comes, rather than all being known ahead.
    as_they_come: bool,
}

/// The second pass: rewrites headings, links, code blocks and footnotes, and collects what it
/// finds on the way.
///
/// It is an iterator over the page's rewritten events, so that they go to the HTML writer as
/// they are made instead of being gathered first. Its `input` is either the parser itself or
/// the events of a first pass.
struct Rewriter<'a, 'r, I> {
    context: Context<'r>,
    input: I,
    /// Events of the body read ahead of the one being rewritten, to learn a heading's text.
    lookahead: VecDeque<(Event<'a>, Range<usize>)>,
    /// Rewritten page events not yet taken by the writer; one event may become several.
    ready: VecDeque<Event<'a>>,
    /// How many events went to the page so far.
    page_events: usize,
    /// Whether `context.written` follows the page, which is so only while it is streamed.
    streaming: bool,
    /// Set when ids are given as headings come and the page turns out to need them all known
    /// ahead; the rewriter then ends the page early and its results are worthless.
    gave_up: bool,
    words: WordCounter,
    ids: IdSet,
    headings: Headings,
    footnotes: Footnotes<'a>,
    /// Open tags around the current event; 0 at the top level of the page.
    depth: usize,
    image_depth: usize,
    code: Option<CodeBlock>,
    summary: Summary<'a>,
    /// Whether the same-page link now open is being dropped from the summary.
    summary_unlinking: bool,
    issues: Vec<Issue>,
    anchor_refs: Vec<AnchorRef>,
    external_links: Vec<String>,
}

/// A code block whose text is still being read.
struct CodeBlock {
    lang: Option<String>,
    text: String,
}

impl<'a, I> Iterator for Rewriter<'a, '_, I>
where
    I: Iterator<Item = (Event<'a>, Range<usize>)>,
{
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            if self.gave_up {
                return None;
            }
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            let (event, range) = self.pull()?;
            if let Some(event) = self.rewrite(event, range) {
                return Some(event);
            }
        }
    }
}

impl<'a, 'r, I> Rewriter<'a, 'r, I>
where
    I: Iterator<Item = (Event<'a>, Range<usize>)>,
{
    fn new(
        context: Context<'r>,
        input: I,
        ids: IdSet,
        headings: Headings,
        footnotes: Footnotes<'a>,
        issues: Vec<Issue>,
    ) -> Self {
        let summary = Summary::new(context.may_have_summary);
        Self {
            context,
            input,
            lookahead: VecDeque::new(),
            ready: VecDeque::new(),
            page_events: 0,
            streaming: false,
            gave_up: false,
            words: WordCounter::default(),
            ids,
            headings,
            footnotes,
            depth: 0,
            image_depth: 0,
            code: None,
            summary,
            summary_unlinking: false,
            issues,
            anchor_refs: Vec::new(),
            external_links: Vec::new(),
        }
    }

    /// The next event of the body: one read ahead, or else a new one from the input.
    fn pull(&mut self) -> Option<(Event<'a>, Range<usize>)> {
        if self.lookahead.is_empty() { self.pull_new() } else { self.lookahead.pop_front() }
    }

    /// A new event from the input, counted for the word count as it is first seen. The
    /// input's answer is handed on as it is: taking it apart and putting it together again
    /// copied every event twice more.
    fn pull_new(&mut self) -> Option<(Event<'a>, Range<usize>)> {
        let next = self.input.next();
        if let Some((event, _)) = &next {
            self.words.observe(event);
        }
        next
    }

    /// Rewrites one event of the body. Most events come out as they went in, as the only
    /// event for the page; such an event is returned, so that it goes straight to the writer
    /// instead of through the queue, which on a page of plain prose took a third of the time.
    /// Everything else is emitted and `None` returned.
    fn rewrite(&mut self, event: Event<'a>, range: Range<usize>) -> Option<Event<'a>> {
        if self.code.is_some() {
            self.read_code(event);
            return None;
        }
        match event {
            Event::Start(tag) => {
                self.depth += 1;
                self.start(tag, range)
            }
            Event::End(tag) => {
                self.depth -= 1;
                self.end(tag)
            }
            Event::FootnoteReference(label) => {
                self.footnote_reference(&label);
                None
            }
            other => self.pass(other),
        }
    }

    /// Events go to the innermost footnote definition being read, or to the page.
    fn emit(&mut self, event: Event<'a>) {
        if let Some(event) = self.pass(event) {
            self.ready.push_back(event);
        }
    }

    /// Puts `event` into the innermost footnote definition being read, or else returns it for
    /// the page. Only what nothing else was emitted for yet may be passed.
    fn pass(&mut self, event: Event<'a>) -> Option<Event<'a>> {
        if let Some(&index) = self.footnotes.open.last() {
            self.footnotes.definitions[index].events.push(event);
            return None;
        }
        self.summary.copy(&event);
        self.page_events += 1;
        Some(event)
    }

    /// Rewrites the start of `tag`; returns the event for the page as [`Self::rewrite`] does.
    fn start(&mut self, tag: Tag<'a>, range: Range<usize>) -> Option<Event<'a>> {
        match tag {
            Tag::Heading { level, id, classes, attrs } => {
                self.start_heading(level, id, (classes, attrs), range.start);
            }
            Tag::CodeBlock(kind) => self.start_code(kind),
            link @ Tag::Link { .. } if self.image_depth == 0 => self.start_link(link, range),
            Tag::Image { link_type, dest_url, title, id } => {
                self.image_depth += 1;
                // `![…](@/blog/post/pic.png)` names a file under content/, as a link does.
                let dest_url = match dest_url.starts_with("@/") {
                    true => self
                        .resolve_internal_link(&dest_url, range.start)
                        .map_or(dest_url, CowStr::from),
                    false => dest_url,
                };
                return self.pass(Event::Start(Tag::Image { link_type, dest_url, title, id }));
            }
            Tag::FootnoteDefinition(label) => {
                self.start_footnote_definition(&label, range.start);
            }
            Tag::HtmlBlock => {
                if self.depth == 1 && self.footnotes.open.is_empty() {
                    // Every event before this one has been written, since the writer asks for
                    // the next event only once it is done with the last.
                    let html = self.streaming.then(|| self.context.written.get());
                    self.summary.open_html_block(html);
                }
                return self.pass(Event::Start(Tag::HtmlBlock));
            }
            other => return self.pass(Event::Start(other)),
        }
        None
    }

    /// Rewrites the end of a tag; returns the event for the page as [`Self::rewrite`] does.
    fn end(&mut self, tag: TagEnd) -> Option<Event<'a>> {
        match tag {
            TagEnd::Heading(_) if self.context.opts.insert_anchor_links => {
                let current = self.headings.next.checked_sub(1);
                let id = current.and_then(|index| self.headings.ids.get(index));
                let anchor = anchor_link_html(id.map_or("", String::as_str));
                self.emit(Event::InlineHtml(anchor.into()));
                self.swap_for_summary(|event| *event = Event::InlineHtml(CowStr::Borrowed("")));
                self.emit(Event::End(tag));
            }
            TagEnd::Link if self.summary_unlinking && self.image_depth == 0 => {
                self.summary_unlinking = false;
                self.emit(Event::End(tag));
                self.swap_for_summary(|event| *event = Event::InlineHtml(CowStr::Borrowed("")));
            }
            TagEnd::Image => {
                self.image_depth -= 1;
                return self.pass(Event::End(tag));
            }
            TagEnd::FootnoteDefinition => {
                self.footnotes.open.pop();
            }
            TagEnd::HtmlBlock => {
                let event = self.pass(Event::End(tag));
                if self.depth == 0 {
                    self.summary.close_html_block();
                }
                return event;
            }
            other => return self.pass(Event::End(other)),
        }
        None
    }

    fn start_heading(
        &mut self,
        level: HeadingLevel,
        explicit_id: Option<CowStr<'a>>,
        (classes, attrs): HeadingAttributes<'a>,
        offset: usize,
    ) {
        if self.headings.as_they_come {
            self.give_heading_its_id(level, explicit_id.as_deref(), offset);
        }
        let id = self.headings.ids.get(self.headings.next).cloned().unwrap_or_default();
        self.headings.next += 1;
        self.emit(Event::Start(Tag::Heading { level, id: Some(id.into()), classes, attrs }));
        self.swap_for_summary(|event| {
            if let Event::Start(Tag::Heading { id, .. }) = event {
                *id = None;
            }
        });
    }

    /// Reads the heading that starts now ahead to its end, for its text, and gives it its id.
    ///
    /// An id wanted a second time is where streaming stops: given out page-wide, explicit ids
    /// would come first and suffixes last, which a heading further up cannot know about.
    fn give_heading_its_id(
        &mut self,
        level: HeadingLevel,
        explicit_id: Option<&str>,
        offset: usize,
    ) {
        let text = self.read_heading_ahead();
        let strategy = self.context.opts.slug_strategy;
        let id = explicit_id.map_or_else(|| heading_slug(&text, strategy), str::to_owned);
        self.gave_up |= !self.ids.claim(&id);
        self.headings.ids.push(id);
        let explicit_id = explicit_id.map(str::to_owned);
        let source = HeadingSource { level: heading_level(level), explicit_id, text, offset };
        self.headings.sources.push(source);
    }

    /// Moves the events of the heading just started, up to its end, to the lookahead, and
    /// returns the heading's text.
    fn read_heading_ahead(&mut self) -> String {
        let mut text = String::new();
        while let Some((event, range)) = self.pull_new() {
            if let Event::Text(part) | Event::Code(part) = &event {
                text.push_str(part);
            }
            let is_end = matches!(event, Event::End(TagEnd::Heading(_)));
            self.lookahead.push_back((event, range));
            if is_end {
                break;
            }
        }
        text
    }

    fn start_code(&mut self, kind: CodeBlockKind<'a>) {
        let lang = match &kind {
            CodeBlockKind::Fenced(info) => fence_language(info).map(str::to_owned),
            CodeBlockKind::Indented => None,
        };
        self.code = Some(CodeBlock { lang, text: String::new() });
    }

    fn read_code(&mut self, event: Event<'a>) {
        match event {
            Event::Text(text) => {
                if let Some(code) = &mut self.code {
                    code.text.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                self.depth -= 1;
                self.finish_code();
            }
            _ => {}
        }
    }

    fn finish_code(&mut self) {
        let Some(code) = self.code.take() else { return };
        let body = match self.context.highlighter {
            Some(highlighter) => highlighter.highlight(&code.text, code.lang.as_deref()),
            None => escape_html(&code.text),
        };
        let lang_len = code.lang.as_ref().map_or(0, String::len);
        let mut html = String::with_capacity(body.len() + 2 * lang_len + 80);
        html.push_str("<pre class=\"code\"");
        if let Some(lang) = &code.lang {
            html.push_str(" data-lang=\"");
            push_escaped_html(&mut html, lang);
            html.push_str("\"><code class=\"language-");
            push_escaped_html(&mut html, lang);
            html.push_str("\">");
        } else {
            html.push_str("><code>");
        }
        html.push_str(&body);
        html.push_str("</code></pre>\n");
        self.emit(Event::Html(html.into()));
    }

    fn start_link(&mut self, tag: Tag<'a>, range: Range<usize>) {
        let Tag::Link { link_type, dest_url, title, id } = tag else { return };
        let new_url = if dest_url.starts_with("@/") {
            self.resolve_internal_link(&dest_url, range.start)
        } else if let Some(fragment) = dest_url.strip_prefix('#') {
            Some(self.resolve_same_page_anchor(fragment, range.start))
        } else if is_external(&dest_url) {
            self.note_external_link(&dest_url);
            if self.context.opts.external_links_new_tab {
                return self.emit(Event::InlineHtml(new_tab_link_html(&dest_url, &title).into()));
            }
            None
        } else {
            None
        };
        let dest_url = new_url.map_or(dest_url, CowStr::from);
        let same_page = dest_url.starts_with('#');
        self.emit(Event::Start(Tag::Link { link_type, dest_url, title, id }));
        if same_page {
            self.summary_unlinking =
                self.swap_for_summary(|event| *event = Event::InlineHtml(CowStr::Borrowed("")));
        }
    }

    /// The URL of an `@/` link written at byte `offset`. The line is looked up only when an
    /// issue or a fragment needs it, since most pages never need the line index.
    fn resolve_internal_link(&mut self, written: &str, offset: usize) -> Option<String> {
        let (path, fragment) = match written[2..].split_once('#') {
            Some((path, fragment)) => (path, Some(fragment)),
            None => (&written[2..], None),
        };
        let lines = self.context.lines;
        let Some(target) = self.context.links.resolve(path) else {
            let message = format!("internal link `{written}` points to no page or file");
            self.issue(Severity::Error, lines.line_of(offset), message);
            return None;
        };
        if let Some(problem) = status_problem(target.status) {
            let message = format!("internal link `{written}`: {problem}");
            self.issue(Severity::Warning, lines.line_of(offset), message);
        }

        let mut url = target.url;
        if let Some(fragment) = fragment {
            let anchor = self.other_page_anchor(fragment);
            url.push('#');
            url.push_str(&anchor);
            let content_path = Some(path.to_owned());
            self.anchor_refs.push(AnchorRef { content_path, anchor, line: lines.line_of(offset) });
        }
        Some(url)
    }

    /// A fragment on another page is written into the HTML in slug form, since the visible
    /// heading text an author may have written cannot be an id there.
    fn other_page_anchor(&self, fragment: &str) -> String {
        let decoded = percent_decode(fragment);
        heading_slug(&decoded, self.context.opts.slug_strategy)
    }

    fn resolve_same_page_anchor(&mut self, fragment: &str, offset: usize) -> String {
        let decoded = percent_decode(fragment);
        if self.headings.as_they_come {
            // A fragment in slug form is kept whatever the ids; any other may name a heading
            // further down by its text, which is not known yet.
            self.gave_up |= heading_slug(&decoded, self.context.opts.slug_strategy) != *decoded;
        }
        let anchor = if self.ids.contains(&decoded) {
            decoded.into_owned()
        } else {
            // Written from the heading's visible text: slugified as the heading was.
            let slug = heading_slug(&decoded, self.context.opts.slug_strategy);
            if self.ids.contains(&slug) { slug } else { decoded.into_owned() }
        };
        let line = self.context.lines.line_of(offset);
        self.anchor_refs.push(AnchorRef { content_path: None, anchor: anchor.clone(), line });
        format!("#{anchor}")
    }

    fn note_external_link(&mut self, url: &str) {
        if !self.external_links.iter().any(|known| known == url) {
            self.external_links.push(url.to_owned());
        }
    }

    fn start_footnote_definition(&mut self, label: &str, offset: usize) {
        if self.headings.as_they_come {
            // Its number and id depend on references further down.
            self.gave_up = true;
            return;
        }
        let number = self.footnotes.number_of(label, &mut self.ids);
        let duplicate = self.footnotes.is_defined(number);
        if duplicate {
            // Its events are still collected, to keep the nesting straight, but never shown.
            let line = self.context.lines.line_of(offset);
            let message = format!("footnote `[^{label}]` is defined again; only the first counts");
            self.issue(Severity::Warning, line, message);
        }

        let placeholder = (!self.context.opts.footnotes_at_bottom && !duplicate).then(|| {
            let container = self.footnotes.open.last().copied();
            self.emit(Event::Html(CowStr::Borrowed("")));
            // The note stays on the page: in the summary the placeholder stays empty.
            self.swap_for_summary(|_| {});
            let index = match container {
                Some(open) => self.footnotes.definitions[open].events.len() - 1,
                None => self.page_events - 1,
            };
            (container, index)
        });

        let definition = FootnoteDefinition { number, events: Vec::new(), placeholder, duplicate };
        self.footnotes.definitions.push(definition);
        self.footnotes.open.push(self.footnotes.definitions.len() - 1);
    }

    fn footnote_reference(&mut self, label: &str) {
        if self.headings.as_they_come {
            // Its id depends on every heading of the page.
            self.gave_up = true;
            return;
        }
        let number = self.footnotes.number_of(label, &mut self.ids);
        if self.image_depth > 0 {
            // Image alt text is plain text: markup there would show as escaped tags.
            return self.emit(Event::Text(format!("[{number}]").into()));
        }
        let references = &self.footnotes.reference_ids[number - 1];
        let base = match references.len() {
            0 => format!("fnref-{number}"),
            count => format!("fnref-{number}-{}", count + 1),
        };
        let reference_id = self.ids.claim_unique(base);
        let html = footnote_reference_html(
            &reference_id,
            &self.footnotes.definition_ids[number - 1],
            number,
        );
        self.footnotes.reference_ids[number - 1].push(reference_id);
        self.emit(Event::InlineHtml(html.into()));
        self.swap_for_summary(|event| {
            *event = Event::InlineHtml(detached_footnote_reference_html(number).into());
        });
    }

    /// Gives the summary its own version of the event just emitted, when that event went to
    /// the page (not into a footnote definition) before any `<!-- more -->`. Returns whether it
    /// did. `change` turns the page's version into the summary's, and runs only when needed.
    fn swap_for_summary(&mut self, change: impl FnOnce(&mut Event<'a>)) -> bool {
        self.footnotes.open.is_empty() && self.summary.swap_last(change)
    }

    fn issue(&mut self, severity: Severity, line: usize, message: String) {
        self.issues.push(Issue { severity, line, message });
    }

    /// Writes the whole page, ending with the footnotes section when notes go to the bottom.
    ///
    /// The page is written into this thread's buffer and copied out at its exact length. A
    /// page's HTML is kept until the site is written, and a string grown while writing would
    /// keep its spare room and take fresh memory at every step of growth; in a build of many
    /// pages, the kernel handing out and clearing that memory cost more than the copy does.
    fn write_page(&mut self) -> String {
        PAGE_BUFFER.with_borrow_mut(|buffer| {
            buffer.clear();
            self.write_page_into(buffer);
            let html = buffer.as_str().to_owned();
            if buffer.capacity() > PAGE_BUFFER_LIMIT {
                *buffer = String::new();
            }
            html
        })
    }

    fn write_page_into(&mut self, html: &mut String) {
        let bottom = self.context.opts.footnotes_at_bottom;
        // Notes kept in place take the place of events on the page, and can be rendered only
        // once every reference to them is known; such a page is gathered before it is written.
        let notes = if !bottom && self.footnotes.has_definitions {
            self.write_gathered(html)
        } else {
            self.write_streamed(html)
        };
        if bottom && !notes.is_empty() {
            html.push_str("<section class=\"footnotes\">\n<ol>\n");
            notes.iter().for_each(|(_, note)| html.push_str(note));
            html.push_str("</ol>\n</section>\n");
        }
    }

    /// Everything learnt from the page, whose HTML `write_page` gave.
    fn into_rendered(self, html: String) -> Rendered {
        let toc = build_toc(self.headings.sources, &self.headings.ids);
        let word_count = self.words.count;
        Rendered {
            summary: self.summary.html(&html),
            html,
            toc,
            heading_ids: self.headings.ids,
            word_count,
            reading_time: word_count.div_ceil(WORDS_PER_MINUTE).max(1),
            anchor_refs: self.anchor_refs,
            external_links: self.external_links,
            issues: self.issues,
        }
    }

    /// Writes the page as its events are rewritten, then renders the notes for the bottom.
    fn write_streamed(&mut self, html: &mut String) -> Vec<(usize, String)> {
        self.streaming = true;
        let mut sink = PageSink { html, written: self.context.written };
        // Writing to a `String` cannot fail, so the result carries nothing.
        let _ = pulldown_cmark::html::write_html_fmt(&mut sink, &mut *self);
        self.streaming = false;
        self.render_footnotes(&mut [])
    }

    /// Gathers the page's events, puts the notes kept in place into them, then writes them.
    fn write_gathered(&mut self, html: &mut String) -> Vec<(usize, String)> {
        let mut page: Vec<Event<'a>> = self.by_ref().collect();
        let notes = self.render_footnotes(&mut page);
        pulldown_cmark::html::push_html(html, page.into_iter());
        notes
    }

    /// Renders every footnote definition, now that all references are known. When footnotes
    /// stay in place, each one's HTML replaces its placeholder (among the `page` events or in
    /// the definition holding it) and nothing is returned; otherwise the list items for the
    /// bottom section are returned in number order.
    fn render_footnotes(&mut self, page: &mut [Event<'a>]) -> Vec<(usize, String)> {
        let bottom = self.context.opts.footnotes_at_bottom;
        let mut items = Vec::new();
        // Inner definitions come after outer ones, so going backwards fills every placeholder
        // inside a definition before that definition is rendered.
        for index in (0..self.footnotes.definitions.len()).rev() {
            let definition = &mut self.footnotes.definitions[index];
            if definition.duplicate {
                continue;
            }
            let number = definition.number;
            let events = std::mem::take(&mut definition.events);
            let placeholder = definition.placeholder;
            let html = self.footnote_html(number, events, bottom);
            match placeholder {
                Some((Some(container), at)) => {
                    self.footnotes.definitions[container].events[at] = Event::Html(html.into());
                }
                Some((None, at)) => page[at] = Event::Html(html.into()),
                None => items.push((number, html)),
            }
        }
        items.sort_by_key(|(number, _)| *number);
        items
    }

    fn footnote_html(&self, number: usize, mut events: Vec<Event<'a>>, bottom: bool) -> String {
        let id = &self.footnotes.definition_ids[number - 1];
        let back_links = back_links_html(number, &self.footnotes.reference_ids[number - 1]);
        // The back-links read best at the end of the last paragraph, as on GitHub.
        match events.last() {
            Some(Event::End(TagEnd::Paragraph)) => {
                events.insert(events.len() - 1, Event::InlineHtml(back_links.into()));
            }
            _ => events.push(Event::Html(back_links.into())),
        }

        let mut html = String::new();
        if bottom {
            html.push_str("<li id=\"");
            push_escaped_html(&mut html, id);
            html.push_str("\">\n");
        } else {
            html.push_str("<div class=\"footnote-definition\" id=\"");
            push_escaped_html(&mut html, id);
            html.push_str(&format!("\"><sup class=\"footnote-definition-label\">{number}</sup>\n"));
        }
        pulldown_cmark::html::push_html(&mut html, events.into_iter());
        html.push_str(if bottom { "</li>\n" } else { "</div>\n" });
        html
    }
}

/// A heading's classes and other attributes, as the parser gives them.
type HeadingAttributes<'a> = (Vec<CowStr<'a>>, Vec<(CowStr<'a>, Option<CowStr<'a>>)>);

/// Why a link to a page with this status needs the author's attention, if it does.
fn status_problem(status: TargetStatus) -> Option<&'static str> {
    match status {
        TargetStatus::Published => None,
        TargetStatus::Draft => Some("target is a draft"),
        TargetStatus::Future => Some("target is future-dated"),
    }
}

fn anchor_link_html(id: &str) -> String {
    const START: &str = "<a class=\"heading-anchor\" href=\"#";
    const END: &str = "\" aria-label=\"Link to this section\">#</a>";
    // Exactly the room an id without escapes needs, so that the string is not grown here and
    // shrunk again when it becomes an event.
    let mut html = String::with_capacity(START.len() + id.len() + END.len());
    html.push_str(START);
    push_escaped_html(&mut html, id);
    html.push_str(END);
    html
}

fn footnote_reference_html(reference_id: &str, definition_id: &str, number: usize) -> String {
    let mut html = String::with_capacity(96);
    html.push_str("<sup class=\"footnote-reference\" id=\"");
    push_escaped_html(&mut html, reference_id);
    html.push_str("\"><a href=\"#");
    push_escaped_html(&mut html, definition_id);
    html.push_str(&format!("\">{number}</a></sup>"));
    html
}

/// A footnote reference for the summary: the number alone, since neither the reference's id
/// nor the note it links to may be on the list page that shows the summary.
fn detached_footnote_reference_html(number: usize) -> String {
    format!("<sup class=\"footnote-reference\">{number}</sup>")
}

fn back_links_html(number: usize, reference_ids: &[String]) -> String {
    let mut html = String::new();
    for (index, reference_id) in reference_ids.iter().enumerate() {
        html.push_str(" <a href=\"#");
        push_escaped_html(&mut html, reference_id);
        html.push_str(&format!(
            "\" class=\"footnote-backref\" aria-label=\"Back to reference {number}\">↩"
        ));
        if index > 0 {
            html.push_str(&format!("<sup>{}</sup>", index + 1));
        }
        html.push_str("</a>");
    }
    html
}

fn new_tab_link_html(url: &str, title: &str) -> String {
    let mut html = String::with_capacity(url.len() + title.len() + 48);
    html.push_str("<a href=\"");
    push_escaped_href(&mut html, url);
    html.push('"');
    if !title.is_empty() {
        html.push_str(" title=\"");
        push_escaped_html(&mut html, title);
        html.push('"');
    }
    html.push_str(" target=\"_blank\" rel=\"noopener\">");
    html
}

/// Appends a URL for an `href`: bytes that are not printable ASCII are percent-encoded, as
/// pulldown-cmark does for the links it writes, and the rest is HTML-escaped.
fn push_escaped_href(out: &mut String, url: &str) {
    let mut plain = 0;
    for (index, c) in url.char_indices() {
        if c.is_ascii_graphic() {
            continue;
        }
        push_escaped_html(out, &url[plain..index]);
        for byte in c.encode_utf8(&mut [0; 4]).bytes() {
            out.push_str(&format!("%{byte:02X}"));
        }
        plain = index + c.len_utf8();
    }
    push_escaped_html(out, &url[plain..]);
}

fn is_external(url: &str) -> bool {
    let starts_with = |prefix: &str| {
        url.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    starts_with("http://") || starts_with("https://")
}

/// `<!-- more -->`, with any spacing inside the comment and any letter case.
fn is_more_marker(html: &str) -> bool {
    html.trim()
        .strip_prefix("<!--")
        .and_then(|rest| rest.strip_suffix("-->"))
        .is_some_and(|inner| inner.trim().eq_ignore_ascii_case("more"))
}

/// Decodes `%XX` escapes, keeping the text as written when they do not make UTF-8.
fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes.get(index + 1..index + 3).and_then(|hex| {
            std::str::from_utf8(hex).ok().and_then(|hex| u8::from_str_radix(hex, 16).ok())
        });
        match (bytes[index], escaped) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).map_or(Cow::Borrowed(text), Cow::Owned)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn page(url: &str, status: TargetStatus) -> LinkTarget {
        LinkTarget { url: url.to_owned(), status }
    }

    fn site() -> HashMap<String, LinkTarget> {
        HashMap::from([
            ("blog/post.md".to_owned(), page("/blog/post/", TargetStatus::Published)),
            ("blog/draft.md".to_owned(), page("/blog/draft/", TargetStatus::Draft)),
            ("blog/later.md".to_owned(), page("/blog/later/", TargetStatus::Future)),
        ])
    }

    /// Options without anchor links, so that expected HTML stays short.
    fn plain() -> MarkdownOptions {
        MarkdownOptions { insert_anchor_links: false, ..MarkdownOptions::default() }
    }

    fn html(body: &str) -> String {
        render(body, &plain(), None, &site()).html
    }

    fn with(opts: &MarkdownOptions, body: &str) -> Rendered {
        render(body, opts, None, &site())
    }

    fn safe() -> MarkdownOptions {
        MarkdownOptions { slug_strategy: SlugStrategy::Safe, ..plain() }
    }

    #[test]
    fn tables_render_with_alignment() {
        let body = "| a | b |\n|:--|--:|\n| 1 | 2 |\n";
        assert_eq!(
            html(body),
            "<table><thead><tr><th style=\"text-align: left\">a</th>\
             <th style=\"text-align: right\">b</th></tr></thead><tbody>\n\
             <tr><td style=\"text-align: left\">1</td><td style=\"text-align: right\">2</td></tr>\n\
             </tbody></table>\n"
        );
    }

    #[test]
    fn task_lists_render_checkboxes() {
        assert_eq!(
            html("- [x] done\n- [ ] to do\n"),
            "<ul>\n<li><input disabled=\"\" type=\"checkbox\" checked=\"\"/>\ndone</li>\n\
             <li><input disabled=\"\" type=\"checkbox\"/>\nto do</li>\n</ul>\n"
        );
    }

    #[test]
    fn strikethrough_renders_del() {
        assert_eq!(html("~~gone~~ kept\n"), "<p><del>gone</del> kept</p>\n");
    }

    #[test]
    fn raw_html_passes_through() {
        let body = "<div class=\"note\">\n<b>hi</b>\n</div>\n\nText with <kbd>Ctrl</kbd>.\n";
        assert_eq!(
            html(body),
            "<div class=\"note\">\n<b>hi</b>\n</div>\n<p>Text with <kbd>Ctrl</kbd>.</p>\n"
        );
    }

    const G18_BODY: &str = "Lorem ipsum.[^a]\n\nA list:\n* Ipsum\n* Lorem\n\n[^a]: Cool.\n";

    #[test]
    fn footnote_after_list_keeps_the_list_tight_and_moves_to_the_bottom_g18() {
        assert_eq!(
            html(G18_BODY),
            "<p>Lorem ipsum.<sup class=\"footnote-reference\" id=\"fnref-1\">\
             <a href=\"#fn-1\">1</a></sup></p>\n\
             <p>A list:</p>\n<ul>\n<li>Ipsum</li>\n<li>Lorem</li>\n</ul>\n\
             <section class=\"footnotes\">\n<ol>\n<li id=\"fn-1\">\n\
             <p>Cool. <a href=\"#fnref-1\" class=\"footnote-backref\" \
             aria-label=\"Back to reference 1\">↩</a></p>\n</li>\n</ol>\n</section>\n"
        );
    }

    #[test]
    fn footnote_after_list_stays_in_place_when_asked_g18() {
        let opts = MarkdownOptions { footnotes_at_bottom: false, ..plain() };
        assert_eq!(
            with(&opts, G18_BODY).html,
            "<p>Lorem ipsum.<sup class=\"footnote-reference\" id=\"fnref-1\">\
             <a href=\"#fn-1\">1</a></sup></p>\n\
             <p>A list:</p>\n<ul>\n<li>Ipsum</li>\n<li>Lorem</li>\n</ul>\n\
             <div class=\"footnote-definition\" id=\"fn-1\">\
             <sup class=\"footnote-definition-label\">1</sup>\n\
             <p>Cool. <a href=\"#fnref-1\" class=\"footnote-backref\" \
             aria-label=\"Back to reference 1\">↩</a></p>\n</div>\n"
        );
    }

    #[test]
    fn footnotes_are_numbered_by_first_reference_with_a_back_link_per_reference() {
        let body = "One[^z] two[^y] three[^Z].\n\n[^y]: Why.\n[^z]: Zed.\n";
        let rendered = html(body);
        assert!(rendered.starts_with(
            "<p>One<sup class=\"footnote-reference\" id=\"fnref-1\"><a href=\"#fn-1\">1</a></sup> \
             two<sup class=\"footnote-reference\" id=\"fnref-2\"><a href=\"#fn-2\">2</a></sup> \
             three<sup class=\"footnote-reference\" id=\"fnref-1-2\"><a href=\"#fn-1\">1</a></sup>.</p>"
        ));
        assert!(rendered.ends_with(
            "<li id=\"fn-1\">\n<p>Zed. \
             <a href=\"#fnref-1\" class=\"footnote-backref\" aria-label=\"Back to reference 1\">↩</a> \
             <a href=\"#fnref-1-2\" class=\"footnote-backref\" aria-label=\"Back to reference 1\">\
             ↩<sup>2</sup></a></p>\n</li>\n\
             <li id=\"fn-2\">\n<p>Why. \
             <a href=\"#fnref-2\" class=\"footnote-backref\" aria-label=\"Back to reference 2\">↩</a>\
             </p>\n</li>\n</ol>\n</section>\n"
        ));
    }

    #[test]
    fn footnote_inside_a_quote_stays_in_place_when_asked() {
        let opts = MarkdownOptions { footnotes_at_bottom: false, ..plain() };
        assert_eq!(
            with(&opts, "> Quote[^q].\n>\n> [^q]: Source.\n").html,
            "<blockquote>\n<p>Quote<sup class=\"footnote-reference\" id=\"fnref-1\">\
             <a href=\"#fn-1\">1</a></sup>.</p>\n\
             <div class=\"footnote-definition\" id=\"fn-1\">\
             <sup class=\"footnote-definition-label\">1</sup>\n\
             <p>Source. <a href=\"#fnref-1\" class=\"footnote-backref\" \
             aria-label=\"Back to reference 1\">↩</a></p>\n</div>\n</blockquote>\n"
        );
    }

    #[test]
    fn footnote_ids_never_clash_with_heading_ids() {
        let rendered = html("## fn 1\n\nText[^a].\n\n[^a]: Note.\n");
        assert!(rendered.contains("<h2 id=\"fn-1\">"), "{rendered}");
        assert!(rendered.contains("<a href=\"#fn-1-1\">1</a>"), "{rendered}");
        assert!(rendered.contains("<li id=\"fn-1-1\">"), "{rendered}");
    }

    #[test]
    fn duplicate_footnote_definition_is_a_warning_and_shown_once() {
        let rendered = with(&plain(), "A[^a].\n\n[^a]: First.\n\n[^a]: Second.\n");
        assert!(rendered.html.contains("First."));
        assert!(!rendered.html.contains("Second."));
        assert_eq!(
            rendered.issues,
            vec![Issue {
                severity: Severity::Warning,
                line: 5,
                message: "footnote `[^a]` is defined again; only the first counts".to_owned(),
            }]
        );
    }

    const G10_BODY: &str =
        "# Header\n# Header 1\n# Header\n## Header {#header-2}\n## FAQ {#header}\n";

    #[test]
    fn heading_ids_are_unique_and_keep_explicit_ids_g10() {
        let rendered = with(&plain(), G10_BODY);
        assert_eq!(
            rendered.heading_ids,
            ["header-3", "header-1", "header-4", "header-2", "header"]
        );
        assert_eq!(
            rendered.html,
            "<h1 id=\"header-3\">Header</h1>\n<h1 id=\"header-1\">Header 1</h1>\n\
             <h1 id=\"header-4\">Header</h1>\n<h2 id=\"header-2\">Header</h2>\n\
             <h2 id=\"header\">FAQ</h2>\n"
        );
        assert!(rendered.issues.is_empty());
    }

    #[test]
    fn repeated_heading_gets_the_next_free_suffix() {
        let rendered = with(&plain(), "# Intro\n# Intro\n# Intro 1\n");
        assert_eq!(rendered.heading_ids, ["intro", "intro-2", "intro-1"]);
    }

    #[test]
    fn clashing_explicit_ids_are_an_error_naming_both_lines() {
        let rendered = with(&plain(), "# One {#same}\n\ntext\n\n# Two {#same}\n");
        assert_eq!(
            rendered.issues,
            vec![Issue {
                severity: Severity::Error,
                line: 5,
                message: "heading id `same` is already set explicitly on line 1".to_owned(),
            }]
        );
    }

    #[test]
    fn headings_get_anchor_links_after_their_text() {
        let rendered =
            render("## Hello *world* `now`\n", &MarkdownOptions::default(), None, &site());
        assert_eq!(
            rendered.html,
            "<h2 id=\"hello-world-now\">Hello <em>world</em> <code>now</code>\
             <a class=\"heading-anchor\" href=\"#hello-world-now\" aria-label=\"Link to this section\">#</a>\
             </h2>\n"
        );
        assert_eq!(rendered.toc[0].title, "Hello world now");
    }

    #[test]
    fn heading_attributes_keep_classes() {
        assert_eq!(html("## Title {#top .wide}\n"), "<h2 id=\"top\" class=\"wide\">Title</h2>\n");
    }

    #[test]
    fn emoji_only_heading_falls_back_to_a_stable_id() {
        let rendered = with(&plain(), "## 🦀🦀\n## 🦀🦀\n");
        assert_eq!(rendered.heading_ids, ["heading", "heading-1"]);
    }

    #[test]
    fn toc_nests_by_level() {
        let rendered = with(&plain(), "# A\n## B\n### C\n## D\n# E\n### F\n");
        let entry = |level, id: &str, children| Heading {
            level,
            id: id.to_owned(),
            title: id.to_uppercase(),
            children,
        };
        assert_eq!(
            rendered.toc,
            vec![
                entry(
                    1,
                    "a",
                    vec![entry(2, "b", vec![entry(3, "c", vec![])]), entry(2, "d", vec![])]
                ),
                entry(1, "e", vec![entry(3, "f", vec![])]),
            ]
        );
    }

    const G09_BODY: &str =
        "## پارسی\n\n## fast build ⚡\n\nSee [a](#پارسی) and [b](<#fast build ⚡>).\n";

    #[test]
    fn non_ascii_anchor_resolves_under_safe_g09() {
        let rendered = with(&safe(), G09_BODY);
        assert_eq!(rendered.heading_ids, ["پارسی", "fast-build"]);
        assert_eq!(
            rendered.html,
            "<h2 id=\"پارسی\">پارسی</h2>\n<h2 id=\"fast-build\">fast build ⚡</h2>\n\
             <p>See <a href=\"#%D9%BE%D8%A7%D8%B1%D8%B3%DB%8C\">a</a> and \
             <a href=\"#fast-build\">b</a>.</p>\n"
        );
        let anchors: Vec<_> = rendered.anchor_refs.iter().map(|a| a.anchor.as_str()).collect();
        assert_eq!(anchors, ["پارسی", "fast-build"]);
    }

    #[test]
    fn non_ascii_anchor_resolves_under_on_by_slugifying_the_link_text_g09() {
        // Under `On` the heading id is the transliteration, so a link written with the visible
        // Persian text is slugified the same way and points at that id.
        let rendered = with(&plain(), G09_BODY);
        assert_eq!(rendered.heading_ids, ["prsy", "fast-build"]);
        assert!(rendered.html.contains("<a href=\"#prsy\">a</a>"), "{}", rendered.html);
        assert!(rendered.html.contains("<a href=\"#fast-build\">b</a>"), "{}", rendered.html);
        for anchor in &rendered.anchor_refs {
            assert!(rendered.heading_ids.contains(&anchor.anchor), "{anchor:?}");
            assert_eq!(anchor.content_path, None);
            assert_eq!(anchor.line, 5);
        }
    }

    #[test]
    fn toc_ids_are_the_ids_in_the_html_g09() {
        for opts in [plain(), safe()] {
            let rendered = with(&opts, G09_BODY);
            for entry in &rendered.toc {
                assert!(rendered.html.contains(&format!("<h2 id=\"{}\">", entry.id)));
            }
        }
    }

    #[test]
    fn percent_encoded_fragment_resolves_like_the_written_text() {
        let rendered = with(&safe(), "## پارسی\n\n[a](#%D9%BE%D8%A7%D8%B1%D8%B3%DB%8C)\n");
        assert_eq!(rendered.anchor_refs[0].anchor, "پارسی");
    }

    #[test]
    fn unknown_same_page_anchor_is_left_for_the_caller_to_report() {
        let rendered = with(&plain(), "## Intro\n\n[x](#nowhere)\n");
        assert!(rendered.html.contains("<a href=\"#nowhere\">x</a>"));
        assert_eq!(
            rendered.anchor_refs,
            vec![AnchorRef { content_path: None, anchor: "nowhere".to_owned(), line: 3 }]
        );
    }

    #[test]
    fn summary_is_the_html_before_the_more_marker() {
        let rendered = with(&plain(), "First *para*.\n\n<!-- more -->\n\nSecond.\n");
        assert_eq!(rendered.summary.as_deref(), Some("<p>First <em>para</em>.</p>\n"));
        assert_eq!(rendered.html, "<p>First <em>para</em>.</p>\n<!-- more -->\n<p>Second.</p>\n");
    }

    #[test]
    fn summary_marker_tolerates_spacing() {
        for marker in ["<!--more-->", "<!--   more -->", "  <!-- MORE -->"] {
            let rendered = with(&plain(), &format!("Intro.\n\n{marker}\n\nRest.\n"));
            assert_eq!(rendered.summary.as_deref(), Some("<p>Intro.</p>\n"), "{marker}");
        }
    }

    #[test]
    fn summary_is_none_without_a_top_level_marker() {
        assert_eq!(with(&plain(), "Just text.\n").summary, None);
        assert_eq!(with(&plain(), "Text <!-- more --> inline.\n").summary, None);
        assert_eq!(with(&plain(), "- item\n\n  <!-- more -->\n").summary, None);
        assert_eq!(with(&plain(), "<!-- more -->\n\nAll after.\n").summary, None);
    }

    #[test]
    fn footnotes_do_not_break_the_summary() {
        let body = "Intro[^1].\n\n[^1]: Early note.\n\n<!-- more -->\n\nRest[^2].\n\n[^2]: Late.\n";
        let rendered = with(&plain(), body);
        // Beside other summaries the reference may neither repeat `fnref-1` nor link to a
        // `#fn-1` that is not on the list page: it is the bare marker.
        assert_eq!(
            rendered.summary.as_deref(),
            Some("<p>Intro<sup class=\"footnote-reference\">1</sup>.</p>\n")
        );
        assert!(rendered.html.starts_with(
            "<p>Intro<sup class=\"footnote-reference\" id=\"fnref-1\"><a href=\"#fn-1\">1</a></sup>"
        ));
        assert!(rendered.html.ends_with("</ol>\n</section>\n"));
        assert!(rendered.html.contains("Early note."));
    }

    #[test]
    fn summary_footnotes_kept_in_place_stay_on_the_page() {
        let opts = MarkdownOptions { footnotes_at_bottom: false, ..plain() };
        let body = "Intro[^1].\n\n[^1]: Early note.\n\n<!-- more -->\n\nRest.\n";
        let rendered = with(&opts, body);
        assert_eq!(
            rendered.summary.as_deref(),
            Some("<p>Intro<sup class=\"footnote-reference\">1</sup>.</p>\n")
        );
        assert!(rendered.html.contains("<div class=\"footnote-definition\" id=\"fn-1\">"));
    }

    #[test]
    fn summaries_on_list_pages_repeat_no_heading_ids_and_keep_no_same_page_links() {
        let opts = MarkdownOptions { insert_anchor_links: true, ..plain() };
        let body = "## Intro\n\nSee [below](#more-text) or [elsewhere](https://a.example/).\n\n\
                    <!-- more -->\n\n## More text\n";
        let rendered = with(&opts, body);
        assert_eq!(
            rendered.summary.as_deref(),
            Some(
                "<h2>Intro</h2>\n<p>See below or <a href=\"https://a.example/\">elsewhere</a>.</p>\n"
            )
        );
        let heading = "<h2 id=\"intro\">Intro<a class=\"heading-anchor\" href=\"#intro\"";
        assert!(rendered.html.starts_with(heading));
        assert!(rendered.html.contains("<a href=\"#more-text\">below</a>"));
    }

    #[test]
    fn internal_links_resolve_to_urls_and_record_fragments() {
        let rendered =
            with(&plain(), "Read [this](@/blog/post.md) and [that](@/blog/post.md#Über Größe).\n");
        // A space ends a bare destination, so the second link is not a link at all; the angle
        // bracket form is how such a fragment is written.
        assert!(rendered.html.contains("<a href=\"/blog/post/\">this</a>"));

        let rendered =
            with(&plain(), "\n[that](<@/blog/post.md#Über Größe>) [top](@/blog/post.md#top)\n");
        assert_eq!(
            rendered.html,
            "<p><a href=\"/blog/post/#uber-grosse\">that</a> <a href=\"/blog/post/#top\">top</a></p>\n"
        );
        assert_eq!(
            rendered.anchor_refs,
            vec![
                AnchorRef {
                    content_path: Some("blog/post.md".to_owned()),
                    anchor: "uber-grosse".to_owned(),
                    line: 2,
                },
                AnchorRef {
                    content_path: Some("blog/post.md".to_owned()),
                    anchor: "top".to_owned(),
                    line: 2
                },
            ]
        );
        assert!(rendered.issues.is_empty());
    }

    #[test]
    fn internal_link_to_no_page_is_an_error_with_its_line() {
        let rendered = with(&plain(), "Intro.\n\nSee [gone](@/blog/gone.md).\n");
        assert_eq!(
            rendered.issues,
            vec![Issue {
                severity: Severity::Error,
                line: 3,
                message: "internal link `@/blog/gone.md` points to no page or file".to_owned(),
            }]
        );
    }

    #[test]
    fn internal_links_to_drafts_and_future_posts_warn_and_still_link() {
        let rendered = with(&plain(), "[d](@/blog/draft.md)\n\n[l](@/blog/later.md#x)\n");
        assert_eq!(
            rendered.html,
            "<p><a href=\"/blog/draft/\">d</a></p>\n<p><a href=\"/blog/later/#x\">l</a></p>\n"
        );
        assert_eq!(
            rendered.issues,
            vec![
                Issue {
                    severity: Severity::Warning,
                    line: 1,
                    message: "internal link `@/blog/draft.md`: target is a draft".to_owned(),
                },
                Issue {
                    severity: Severity::Warning,
                    line: 3,
                    message: "internal link `@/blog/later.md#x`: target is future-dated".to_owned(),
                },
            ]
        );
    }

    #[test]
    fn reference_style_internal_links_resolve() {
        let rendered = with(&plain(), "[post][p]\n\n[p]: @/blog/post.md\n");
        assert_eq!(rendered.html, "<p><a href=\"/blog/post/\">post</a></p>\n");
    }

    #[test]
    fn links_inside_code_are_never_touched() {
        let body = "`[x](@/blog/gone.md)` and `https://a.example`\n\n\
                    ```md\n[y](@/blog/gone.md) <https://b.example>\n```\n";
        let rendered = with(&plain(), body);
        assert!(rendered.issues.is_empty());
        assert!(rendered.external_links.is_empty());
        assert_eq!(
            rendered.html,
            "<p><code>[x](@/blog/gone.md)</code> and <code>https://a.example</code></p>\n\
             <pre class=\"code\" data-lang=\"md\"><code class=\"language-md\">\
             [y](@/blog/gone.md) &lt;https://b.example&gt;\n</code></pre>\n"
        );
    }

    #[test]
    fn external_links_are_collected_once_and_left_as_written() {
        let body = "[a](https://a.example/x?y=1&z=2) [b](HTTP://b.example) \
                    [a again](https://a.example/x?y=1&z=2) \
                    [rel](../other/) [abs](/about/) <https://c.example>\n";
        let rendered = with(&plain(), body);
        assert_eq!(
            rendered.external_links,
            ["https://a.example/x?y=1&z=2", "HTTP://b.example", "https://c.example"]
        );
        assert!(rendered.html.contains("<a href=\"https://a.example/x?y=1&amp;z=2\">a</a>"));
        assert!(rendered.html.contains("<a href=\"../other/\">rel</a>"));
        assert!(rendered.html.contains("<a href=\"/about/\">abs</a>"));
    }

    #[test]
    fn external_links_open_in_a_new_tab_when_asked() {
        let opts = MarkdownOptions { external_links_new_tab: true, ..plain() };
        let rendered = with(&opts, "[a](https://a.example/ü?q=\"x\" \"T&C\") [local](/about/)\n");
        assert_eq!(
            rendered.html,
            "<p><a href=\"https://a.example/%C3%BC?q=&quot;x&quot;\" title=\"T&amp;C\" \
             target=\"_blank\" rel=\"noopener\">a</a> <a href=\"/about/\">local</a></p>\n"
        );
    }

    const G05_BODY: &str = "The frame is `std::rt::lang_start::{{closure}}`.\n\n\
                            ```yaml\ntoken: ${{ secrets.PUBLISH_TOKEN }}\n```\n\n\
                            ```jinja\n{% block head %}{{ super() }}{% endblock head %}\n```\n";

    #[test]
    fn template_braces_in_code_come_out_literally_g05() {
        assert_eq!(
            html(G05_BODY),
            "<p>The frame is <code>std::rt::lang_start::{{closure}}</code>.</p>\n\
             <pre class=\"code\" data-lang=\"yaml\"><code class=\"language-yaml\">\
             token: ${{ secrets.PUBLISH_TOKEN }}\n</code></pre>\n\
             <pre class=\"code\" data-lang=\"jinja\"><code class=\"language-jinja\">\
             {% block head %}{{ super() }}{% endblock head %}\n</code></pre>\n"
        );
    }

    #[test]
    fn template_braces_survive_highlighting_g05() {
        let highlighter = Highlighter::with_default_themes().expect("built-in themes load");
        let opts = MarkdownOptions { highlight_code: true, ..plain() };
        let rendered = render(G05_BODY, &opts, Some(&highlighter), &site());
        assert_eq!(visible_text(&rendered.html), visible_text(&html(G05_BODY)));
        assert!(rendered.html.contains("<span"), "{}", rendered.html);
    }

    const G04_BODY: &str = "Intro.\n\n```diff\n--- a/lib.rs\n+++ b/lib.rs\n```\n\n\
                            ```toml\n+++\n```\n\n---\n\nOutro.\n";

    #[test]
    fn delimiter_lines_inside_fences_stay_verbatim_g04() {
        assert_eq!(
            html(G04_BODY),
            "<p>Intro.</p>\n\
             <pre class=\"code\" data-lang=\"diff\"><code class=\"language-diff\">\
             --- a/lib.rs\n+++ b/lib.rs\n</code></pre>\n\
             <pre class=\"code\" data-lang=\"toml\"><code class=\"language-toml\">+++\n</code></pre>\n\
             <hr />\n<p>Outro.</p>\n"
        );
    }

    #[test]
    fn delimiter_lines_survive_highlighting_g04() {
        let highlighter = Highlighter::with_default_themes().expect("built-in themes load");
        let opts = MarkdownOptions { highlight_code: true, ..plain() };
        let rendered = render(G04_BODY, &opts, Some(&highlighter), &site());
        assert_eq!(visible_text(&rendered.html), visible_text(&html(G04_BODY)));
        assert!(rendered.html.contains("<hr />\n<p>Outro.</p>\n"));
    }

    #[test]
    fn highlighted_blocks_use_the_agreed_wrapper() {
        let highlighter = Highlighter::with_default_themes().expect("built-in themes load");
        let opts = MarkdownOptions { highlight_code: true, ..plain() };
        let body = "```rust,ignore\nfn main() {}\n```\n\n```\nno lang\n```\n\n    indented\n";
        let rendered = render(body, &opts, Some(&highlighter), &site());
        assert!(rendered.html.starts_with(
            "<pre class=\"code\" data-lang=\"rust\"><code class=\"language-rust\"><span class=\"giallo-l\">"
        ));
        assert!(rendered.html.ends_with(
            "<pre class=\"code\"><code>no lang\n</code></pre>\n\
             <pre class=\"code\"><code>indented\n</code></pre>\n"
        ));

        let off = MarkdownOptions { highlight_code: false, ..plain() };
        let rendered = render("```rust\nlet a = 1 < 2;\n```\n", &off, Some(&highlighter), &site());
        assert_eq!(
            rendered.html,
            "<pre class=\"code\" data-lang=\"rust\"><code class=\"language-rust\">let a = 1 &lt; 2;\n\
             </code></pre>\n"
        );
    }

    #[test]
    fn smart_punctuation_only_when_enabled() {
        let body = "\"Quoted\" -- it's done...\n";
        assert_eq!(html(body), "<p>\"Quoted\" -- it's done...</p>\n");
        let opts = MarkdownOptions { smart_punctuation: true, ..plain() };
        assert_eq!(with(&opts, body).html, "<p>“Quoted” – it’s done…</p>\n");
        assert_eq!(with(&opts, body).word_count, 4);
    }

    #[test]
    fn word_count_skips_code_blocks_and_rounds_reading_time_up() {
        let body = "One two *three*.\n\n```\nnot counted at all\n```\n\n- four `five`\n";
        let rendered = with(&plain(), body);
        assert_eq!(rendered.word_count, 5);
        assert_eq!(rendered.reading_time, 1);

        let long = "word ".repeat(401);
        assert_eq!(with(&plain(), &long).reading_time, 3);
        assert_eq!(with(&plain(), "").reading_time, 1);
    }

    #[test]
    fn lines_are_counted_in_crlf_bodies() {
        let rendered = with(&plain(), "a\r\n\r\n[x](@/gone.md)\r\n");
        assert_eq!(rendered.issues[0].line, 3);
        assert_eq!(rendered.html, "<p>a</p>\n<p><a href=\"@/gone.md\">x</a></p>\n");
    }

    #[test]
    fn options_read_from_a_partial_table() {
        let opts: MarkdownOptions =
            serde::Deserialize::deserialize(serde::de::value::MapDeserializer::<
                _,
                serde::de::value::Error,
            >::new(
                [("smart_punctuation", true)].into_iter()
            ))
            .expect("options");
        assert!(opts.smart_punctuation);
        assert!(opts.footnotes_at_bottom);
        assert!(opts.insert_anchor_links);
    }

    /// Removes tags and decodes the escapes, giving back the text a reader sees.
    fn visible_text(html: &str) -> String {
        let mut text = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                _ if !in_tag => text.push(c),
                _ => {}
            }
        }
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    /// Run with `cargo test --release -- --ignored --nocapture` for figures worth quoting.
    #[test]
    #[ignore = "timing printout, meaningful only in release builds"]
    fn timing_of_a_long_post() {
        let section = "## Section title\n\nSome *prose* with a [link](https://example.org) and \
                       `code`, a footnote[^n] and more words to count.\n\n- one\n- two\n\n\
                       ```rust\nfn main() { println!(\"hi\"); }\n```\n\n";
        let mut body = section.repeat(100);
        body.push_str("[^n]: The note.\n");
        let highlighter = Highlighter::with_default_themes().expect("built-in themes load");
        let runs = 50;

        let started = Instant::now();
        for _ in 0..runs {
            let mut html = String::new();
            let parser = Parser::new_ext(&body, parser_options(&plain()));
            pulldown_cmark::html::push_html(&mut html, parser);
            std::hint::black_box(html);
        }
        println!(
            "{} bytes, bare pulldown-cmark: {:?} per render",
            body.len(),
            started.elapsed() / runs
        );

        for (label, opts, highlighter) in [
            ("no highlighting", plain(), None),
            (
                "highlighting",
                MarkdownOptions { highlight_code: true, ..plain() },
                Some(&highlighter),
            ),
        ] {
            let _ = render(&body, &opts, highlighter, &site());
            let started = Instant::now();
            for _ in 0..runs {
                std::hint::black_box(render(&body, &opts, highlighter, &site()));
            }
            println!("{} bytes, {label}: {:?} per render", body.len(), started.elapsed() / runs);
        }
    }
}
