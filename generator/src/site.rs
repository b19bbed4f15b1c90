//! The site model: sections, pages and taxonomies, with their URLs, order and neighbours.
//!
//! [`Site::assemble`] turns parsed documents into the model every output is rendered from.
//! It decides what is published (drafts and future-dated pages are left out unless asked
//! for), assigns each page and section its path, sorts section lists, links neighbours,
//! gathers taxonomy terms and reports every path that two sources would both write.
//! Nothing here reads files or renders HTML.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::config::Config;
use crate::content::{self, DocKind, RawDoc};
use crate::date;
use crate::diagnostic::{Diagnostic, Source};
use crate::digest::Digest;
use crate::frontmatter::{self, PageFront, SectionFront, SortBy};
use crate::markdown::Rendered;
use crate::slug::{SlugStrategy, slugify};
use crate::url;

/// What a build is asked to include.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Include pages marked `draft = true`.
    pub drafts: bool,
    /// The instant that decides which pages are future-dated. Fixed in tests.
    pub now: DateTime<Utc>,
}

/// Why a page was left out of the build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Skip {
    /// `draft = true` and no `--drafts`.
    Draft,
    /// Dated after the build's "now".
    Future,
}

/// A page: one markdown document and the output it becomes.
#[derive(Debug)]
pub struct Page {
    /// The file or row it came from.
    pub source: Source,
    /// Its path within `content/`: `blog/a.md` or `blog/a/index.md`.
    pub content_path: String,
    /// Its front matter, shared with the engine's cache of parsed documents.
    pub front: Arc<PageFront>,
    /// The markdown body, shared with the engine's cache of parsed documents.
    pub body: Arc<str>,
    /// The file line the body starts on, to turn body lines into file lines.
    pub body_line: usize,
    /// The index of its section in [`Site::sections`].
    pub section: usize,
    /// Its date: from the front matter, else from a `YYYY-MM-DD-` file name prefix.
    pub date: Option<DateTime<Utc>>,
    /// The last part of its URL.
    pub slug: String,
    /// Its raw URL path, e.g. `/blog/a/`.
    pub path: String,
    /// Its absolute URL, percent-encoded.
    pub permalink: String,
    /// For a bundle, the folder within `content/` that holds its assets.
    pub bundle_dir: Option<String>,
    /// Taxonomy name to the terms the page lists, as written.
    pub taxonomies: BTreeMap<String, Vec<String>>,
    /// The terms the page is filed under, as (index in [`Site::taxonomies`], index of the
    /// term), in the order the page names them.
    pub terms: Vec<(usize, usize)>,
    /// The next page in its section's order (older, for date order).
    pub lower: Option<usize>,
    /// The previous page in its section's order (newer, for date order).
    pub higher: Option<usize>,
    /// The digest of its front matter and body as read.
    pub digest: Digest,
    /// The digest of its front matter's text.
    pub front_digest: Digest,
    /// The rendered markdown, once [`crate::build`] has rendered it. Its HTML is in
    /// `content`, not here.
    pub rendered: Option<Arc<Rendered>>,
    /// The digest of the rendered markdown, HTML included.
    pub md_digest: Digest,
    /// The page's HTML as the value templates read (`page.content`): the one copy of it the
    /// build keeps, since on a large site the pages' HTML is most of the memory.
    pub content: tera::Value,
}

/// A section: a folder of content, with or without an `_index.md`.
#[derive(Debug)]
pub struct Section {
    /// The `_index.md` it came from, or `None` for a folder without one.
    pub source: Option<Source>,
    /// Its folder within `content/` (`""` for the root).
    pub dir: String,
    /// `dir/_index.md`, the name templates and internal links use for it.
    pub content_path: String,
    /// Its settings.
    pub front: SectionFront,
    /// The markdown body of its `_index.md`.
    pub body: String,
    /// The file line the body starts on.
    pub body_line: usize,
    /// Its raw URL path, e.g. `/blog/`.
    pub path: String,
    /// Its absolute URL.
    pub permalink: String,
    /// The enclosing section; `None` for the root.
    pub parent: Option<usize>,
    /// Sections directly inside it, by `weight` (lowest first, unweighted last), then in
    /// folder order.
    pub subsections: Vec<usize>,
    /// The pages it lists, sorted: its own and those of transparent subsections.
    pub pages: Vec<usize>,
    /// The page size of its list, if paginated.
    pub paginate_by: Option<usize>,
    /// The rendered markdown of its `_index.md`.
    pub rendered: Option<Arc<Rendered>>,
    /// The digest of its `_index.md` as read; zeros for a folder without one.
    pub digest: Digest,
}

impl Section {
    /// The source to name in messages: the `_index.md`, or the folder.
    pub fn blame(&self) -> Source {
        self.source.clone().unwrap_or_else(|| Source::File(format!("content/{}", self.dir).into()))
    }
}

/// A taxonomy such as `tags`, with its terms.
#[derive(Debug)]
pub struct Taxonomy {
    /// Its name, as used in front matter.
    pub name: String,
    /// Its URL slug.
    pub slug: String,
    /// Its raw URL path, e.g. `/tags/`.
    pub path: String,
    /// Its absolute URL.
    pub permalink: String,
    /// Page size of its term pages.
    pub paginate_by: Option<usize>,
    /// Whether terms get feeds.
    pub feed: bool,
    /// Whether its pages are written.
    pub render: bool,
    /// Its terms, sorted by slug.
    pub terms: Vec<Term>,
}

/// One term of a taxonomy, such as the tag `rust`.
#[derive(Debug)]
pub struct Term {
    /// Its display name: the spelling most pages use.
    pub name: String,
    /// Its URL slug; names that slug alike are one term.
    pub slug: String,
    /// Its raw URL path, e.g. `/tags/rust/`.
    pub path: String,
    /// Its absolute URL.
    pub permalink: String,
    /// The pages that list it, newest first.
    pub pages: Vec<usize>,
}

/// Where a content path points, for internal links and template functions.
#[derive(Clone, Debug)]
pub enum Target {
    /// A published page.
    Page(usize),
    /// A section.
    Section(usize),
    /// A page left out of this build, with its would-be permalink.
    Skipped(Skip, String),
    /// A document that failed to parse; it already has its error.
    Broken,
}

/// The whole model of a site.
#[derive(Debug)]
pub struct Site {
    /// The configuration.
    pub config: Config,
    /// Published pages, sorted by content path.
    pub pages: Vec<Page>,
    /// Sections; index 0 is the root.
    pub sections: Vec<Section>,
    /// Taxonomies with at least one term, in config order.
    pub taxonomies: Vec<Taxonomy>,
    /// Pages left out, with the reason.
    pub skipped: Vec<(Source, Skip)>,
    /// Content path (`blog/a.md`, `blog/_index.md`) to what it is.
    pub targets: HashMap<String, Target>,
    /// The earliest date of a page left out as future-dated: the build's output stays the
    /// same until "now" reaches it.
    pub next_future: Option<DateTime<Utc>>,
    /// Content path of each file under `content/` that is not markdown (an image beside a
    /// page, say) to its permalink, for `@/` links to it. Filled in once the model is built.
    pub files: HashMap<String, String>,
}

/// What the model keeps of a document besides its parsed text.
#[derive(Clone, Debug)]
pub struct DocMeta {
    /// Where it came from.
    pub source: Source,
    /// Its path within `content/`.
    pub content_path: String,
    /// Page or section.
    pub kind: DocKind,
    /// The digest of its bytes as read.
    pub digest: Digest,
    /// The digest of its front matter's text alone: what does not change when only the
    /// body is edited.
    pub front_digest: Digest,
}

/// A parsed document, before the model is built. Cheap to clone: the engine keeps one per
/// document and assembles the model from clones.
#[derive(Clone, Debug)]
pub enum Parsed {
    /// A page.
    Page {
        /// The document.
        doc: DocMeta,
        /// Its front matter.
        front: Arc<PageFront>,
        /// Its markdown body.
        body: Arc<str>,
        /// The file line the body starts on.
        body_line: usize,
    },
    /// Section settings from an `_index.md`.
    Section {
        /// The document.
        doc: DocMeta,
        /// Its settings.
        front: Arc<SectionFront>,
        /// Its markdown body.
        body: Arc<str>,
        /// The file line the body starts on.
        body_line: usize,
    },
}

/// Decodes and parses every document in parallel. Returns the parsed ones and every
/// diagnostic, so that one bad file does not hide the others.
fn parse_docs(docs: Vec<RawDoc>, config: &Config) -> (Vec<Parsed>, Vec<String>, Vec<Diagnostic>) {
    let results: Vec<_> =
        docs.par_iter().map(|doc| (doc.content_path.clone(), parse_doc(doc, config))).collect();
    let mut parsed = Vec::with_capacity(results.len());
    let mut broken = Vec::new();
    let mut diagnostics = Vec::new();
    for (content_path, (item, diags)) in results {
        match item {
            Some(item) => parsed.push(item),
            None => broken.push(content_path),
        }
        diagnostics.extend(diags);
    }
    (parsed, broken, diagnostics)
}

/// Decodes and parses one document: `None` with its errors when it cannot be used.
pub fn parse_doc(doc: &RawDoc, config: &Config) -> (Option<Parsed>, Vec<Diagnostic>) {
    parse_doc_digested(doc, config, None)
}

/// [`parse_doc`] for a caller that already has the digest of the document's bytes.
pub fn parse_doc_digested(
    doc: &RawDoc,
    config: &Config,
    digest: Option<Digest>,
) -> (Option<Parsed>, Vec<Diagnostic>) {
    let source = doc.source.clone();
    let problem = |p: frontmatter::Problem| {
        let message = match &p.key {
            Some(key) if !p.message.contains(key.as_str()) => format!("`{key}`: {}", p.message),
            _ => p.message,
        };
        if p.is_warning {
            Diagnostic::warning(source.clone(), p.line, message)
        } else {
            Diagnostic::error(source.clone(), p.line, message)
        }
    };
    let text = match frontmatter::decode(&doc.bytes) {
        Ok(text) => text,
        Err(err) => return (None, vec![problem(err.into())]),
    };
    let split = match frontmatter::split(text) {
        Ok(split) => split,
        Err(err) => return (None, vec![problem(err.into())]),
    };
    let body: Arc<str> = Arc::from(split.body);
    let body_line = split.body_line;
    let tz = config.timezone;
    let doc = DocMeta {
        source: doc.source.clone(),
        content_path: doc.content_path.clone(),
        kind: doc.kind,
        digest: digest.unwrap_or_else(|| *blake3::hash(&doc.bytes).as_bytes()),
        front_digest: *blake3::hash(split.front.as_bytes()).as_bytes(),
    };
    match doc.kind {
        DocKind::Page { .. } => match frontmatter::parse_page(&split, tz) {
            Ok((front, warnings)) => {
                let diags = warnings.into_iter().map(problem).collect();
                (Some(Parsed::Page { doc, front: Arc::new(front), body, body_line }), diags)
            }
            Err(errors) => (None, errors.into_iter().map(problem).collect()),
        },
        DocKind::Section => match frontmatter::parse_section(&split, tz) {
            Ok((front, warnings)) => {
                let diags = warnings.into_iter().map(problem).collect();
                (Some(Parsed::Section { doc, front: Arc::new(front), body, body_line }), diags)
            }
            Err(errors) => (None, errors.into_iter().map(problem).collect()),
        },
    }
}

impl Site {
    /// Builds the model from the documents found under `content/`, with every diagnostic.
    ///
    /// A document that cannot be parsed is left out and reported; the rest of the site is
    /// still assembled, so that one build reports the problems of every file. Links to a
    /// broken document are not reported again.
    pub fn assemble(
        config: Config,
        tree: content::ContentTree,
        options: &BuildOptions,
    ) -> (Site, Vec<Diagnostic>) {
        let (parsed, broken, diagnostics) = parse_docs(tree.docs, &config);
        Self::assemble_parsed(config, parsed, broken, &tree.section_dirs, diagnostics, options)
    }

    /// Builds the model from documents parsed already ([`parse_doc`]): `broken` are the
    /// content paths of documents that failed to parse, `diagnostics` their problems so far.
    pub fn assemble_parsed(
        mut config: Config,
        parsed: Vec<Parsed>,
        broken: Vec<String>,
        section_dirs: &[String],
        mut diagnostics: Vec<Diagnostic>,
        options: &BuildOptions,
    ) -> (Site, Vec<Diagnostic>) {
        let mut builder = Builder::new(&mut config, options, &mut diagnostics);
        builder.add_sections(section_dirs, &parsed);
        builder.add_pages(parsed);
        let (mut sections, pages, skipped, mut targets, builder_next_future) = builder.finish();
        let mut pages = pages;
        list_pages(&mut sections, &mut pages);
        let taxonomies = gather_taxonomies(&mut config, &mut pages, &mut diagnostics);
        for (i, page) in pages.iter().enumerate() {
            targets.insert(page.content_path.clone(), Target::Page(i));
        }
        for (i, section) in sections.iter().enumerate() {
            targets.insert(section.content_path.clone(), Target::Section(i));
        }
        for content_path in broken {
            targets.entry(content_path).or_insert(Target::Broken);
        }
        let next_future = builder_next_future;
        let files = HashMap::new();
        let site =
            Site { config, pages, sections, taxonomies, skipped, targets, next_future, files };
        (site, diagnostics)
    }

    /// Like [`Site::resolve`], without copying the permalink.
    pub fn resolve_ref(&self, content_path: &str) -> Option<(&str, Option<Skip>)> {
        match self.targets.get(content_path.trim_start_matches('/'))? {
            Target::Page(i) => Some((&self.pages[*i].permalink, None)),
            Target::Section(i) => Some((&self.sections[*i].permalink, None)),
            Target::Skipped(skip, permalink) => Some((permalink, Some(*skip))),
            Target::Broken => Some(("", None)),
        }
    }

    /// The permalink and publication state of a content path, for internal links.
    pub fn resolve(&self, content_path: &str) -> Option<(String, Option<Skip>)> {
        match self.targets.get(content_path.trim_start_matches('/'))? {
            Target::Page(i) => Some((self.pages[*i].permalink.clone(), None)),
            Target::Section(i) => Some((self.sections[*i].permalink.clone(), None)),
            Target::Skipped(skip, permalink) => Some((permalink.clone(), Some(*skip))),
            Target::Broken => Some((String::new(), None)),
        }
    }
}

/// A page document as parsed, for [`Site::reassemble`]: its metadata, front matter, body and
/// the file line its body starts on.
pub type PageDoc = (DocMeta, Arc<PageFront>, Arc<str>, usize);

/// What [`Site::reassemble`] did to the page list.
#[derive(Debug)]
pub struct Reassembled {
    /// For each page index before, its index now; `None` for a page that is gone.
    pub old_to_new: Vec<Option<usize>>,
    /// The indices now of the pages made again from their documents.
    pub fresh: Vec<usize>,
    /// Per taxonomy (by name) and term slug, whether the term's display name, permalink or
    /// existence changed: the pages of such a term show it differently now.
    pub renamed_terms: Vec<(String, String)>,
    /// The pages (indices now) whose neighbours in their section changed, fresh ones too.
    pub moved: Vec<usize>,
    /// Whether any section's page list changed: its members or their order.
    pub lists_changed: bool,
}

impl Site {
    /// Brings the model up to date after the page documents at the given content paths were
    /// edited, created or removed (`None`), without building it again: the other pages are
    /// kept as they are, and the lists, neighbours, taxonomies and targets are made again
    /// from them. The result is the model a full [`Site::assemble_parsed`] gives.
    ///
    /// Returns `None`, with the model unchanged, for an edit that would need the full build:
    /// one that gives a diagnostic, names an undeclared taxonomy, or changes what a future
    /// page left out means for the next build.
    pub fn reassemble(
        &mut self,
        edits: Vec<(String, Option<PageDoc>)>,
        options: &BuildOptions,
    ) -> Option<Reassembled> {
        // Check everything before touching the model.
        for (path, doc) in &edits {
            match self.targets.get(path) {
                None | Some(Target::Page(_)) | Some(Target::Skipped(Skip::Draft, _)) => {}
                Some(_) => return None,
            }
            if let Some((_, front, ..)) = doc {
                let declared = |name: &String| self.config.taxonomy(name).is_some();
                let authors = front.authors.is_empty() || self.config.taxonomy("authors").is_some();
                if !front.taxonomies.keys().all(declared) || !authors {
                    return None;
                }
            }
        }
        let mut diagnostics = Vec::new();
        let section_by_dir: HashMap<String, usize> =
            self.sections.iter().enumerate().map(|(i, s)| (s.dir.clone(), i)).collect();
        let mut builder = Builder::new(&mut self.config, options, &mut diagnostics);
        builder.sections = std::mem::take(&mut self.sections);
        builder.section_by_dir = section_by_dir;
        let mut made = Vec::new();
        let mut refused = false;
        for (path, doc) in &edits {
            let Some((doc, front, body, body_line)) = doc.clone() else {
                made.push((path.clone(), Made::Gone));
                continue;
            };
            let dir = content::parent_of(&doc.content_path);
            let page =
                builder.section_by_dir.get(dir).copied().and_then(|section| {
                    builder.make_page(doc, front, body, body_line, section, false)
                });
            match page.map(|page| (builder.skip_reason(&page), page)) {
                Some((None, page)) => made.push((path.clone(), Made::Published(Box::new(page)))),
                Some((Some(Skip::Draft), page)) => {
                    made.push((path.clone(), Made::Draft(page.permalink)));
                }
                // A future page changes when the next build must run; a page without a
                // place in the model is the full build's to report.
                _ => refused = true,
            }
        }
        self.sections = std::mem::take(&mut builder.sections);
        drop(builder);
        if refused || !diagnostics.is_empty() {
            return None;
        }

        // Old terms, to tell which ones show differently now.
        let old_terms: HashMap<(String, String), (String, String)> = self
            .taxonomies
            .iter()
            .flat_map(|t| {
                t.terms.iter().map(|k| {
                    ((t.name.clone(), k.slug.clone()), (k.name.clone(), k.permalink.clone()))
                })
            })
            .collect();

        // The page list: the pages kept, and the ones made again, by content path.
        let gone: std::collections::HashSet<String> = made.iter().map(|(p, _)| p.clone()).collect();
        let was_published = gone
            .iter()
            .filter(|p| matches!(self.targets.get(p.as_str()), Some(Target::Page(_))))
            .count();
        let mut fresh_pages = Vec::new();
        for (path, outcome) in made {
            self.targets.remove(&path);
            self.skipped.retain(|(source, _)| source_path(source) != Some(path.as_str()));
            match outcome {
                Made::Published(page) => fresh_pages.push(*page),
                Made::Draft(permalink) => {
                    let source = Source::File(format!("content/{path}").into());
                    self.skipped.push((source, Skip::Draft));
                    self.targets.insert(path, Target::Skipped(Skip::Draft, permalink));
                }
                Made::Gone => {}
            }
        }
        self.skipped.sort_by(|a, b| source_path(&a.0).cmp(&source_path(&b.0)));
        fresh_pages.sort_by(|a, b| a.content_path.cmp(&b.content_path));
        let old_count = self.pages.len();
        let in_place: Option<Vec<usize>> = fresh_pages
            .iter()
            .map(|page| {
                self.pages.binary_search_by(|p| p.content_path.cmp(&page.content_path)).ok()
            })
            .collect();
        // Whether the lists stay as they are: every page keeps its place and its sort keys.
        let mut same_lists = false;
        let (pages, old_to_new, fresh) = match in_place {
            // Every page made again was published before, and none is gone: same places.
            Some(places) if places.len() == was_published => {
                let mut pages = std::mem::take(&mut self.pages);
                same_lists =
                    places.iter().zip(&fresh_pages).all(|(&i, page)| same_place(&pages[i], page));
                for (&i, page) in places.iter().zip(fresh_pages) {
                    let old = std::mem::replace(&mut pages[i], page);
                    if same_lists {
                        pages[i].lower = old.lower;
                        pages[i].higher = old.higher;
                    }
                }
                let old_to_new = (0..old_count).map(|i| (!places.contains(&i)).then_some(i));
                (pages, old_to_new.collect(), places)
            }
            _ => merge_pages(std::mem::take(&mut self.pages), fresh_pages, &gone),
        };
        let mut pages = pages;
        let neighbours: Vec<(Option<usize>, Option<usize>)> =
            pages.iter().map(|p| (p.lower, p.higher)).collect();
        for page in &mut pages {
            page.terms.clear();
        }
        if !same_lists {
            for page in &mut pages {
                page.lower = None;
                page.higher = None;
            }
            for section in &mut self.sections {
                section.pages.clear();
            }
            list_pages(&mut self.sections, &mut pages);
        }
        let mut diagnostics = Vec::new();
        self.taxonomies = gather_taxonomies(&mut self.config, &mut pages, &mut diagnostics);
        // Neighbours as they were, in the indices of now; a fresh page had none.
        // A neighbour that is gone maps to `Some(None)`, unlike having none.
        let new_of = |old: Option<usize>| old.map(|o| old_to_new.get(o).copied().flatten());
        let now_of = |new: Option<usize>| new.map(Some);
        let moved: Vec<usize> = (0..pages.len())
            .filter(|&i| !same_lists || fresh.contains(&i))
            .filter(|&i| {
                let (lower, higher) = neighbours[i];
                fresh.contains(&i)
                    || (new_of(lower), new_of(higher))
                        != (now_of(pages[i].lower), now_of(pages[i].higher))
            })
            .collect();
        for target in self.targets.values_mut() {
            if let Target::Page(i) = target {
                // Every page target left is of a kept page.
                *i = old_to_new[*i].unwrap_or(usize::MAX);
            }
        }
        for &i in &fresh {
            self.targets.insert(pages[i].content_path.clone(), Target::Page(i));
        }
        self.pages = pages;

        let mut renamed_terms = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for tax in &self.taxonomies {
            for term in &tax.terms {
                let key = (tax.name.clone(), term.slug.clone());
                let now = (term.name.clone(), term.permalink.clone());
                if old_terms.get(&key) != Some(&now) {
                    renamed_terms.push(key.clone());
                }
                seen.insert(key);
            }
        }
        renamed_terms.extend(old_terms.into_keys().filter(|key| !seen.contains(key)));
        renamed_terms.sort();
        Some(Reassembled { old_to_new, fresh, renamed_terms, moved, lists_changed: !same_lists })
    }
}

/// Whether `new` sits where `old` did in every list: the same section, dates, title, weight
/// and slug, which are all that lists place and sort pages by.
fn same_place(old: &Page, new: &Page) -> bool {
    old.content_path == new.content_path
        && old.section == new.section
        && old.date == new.date
        && old.front.updated == new.front.updated
        && old.front.title == new.front.title
        && old.front.weight == new.front.weight
        && old.slug == new.slug
}

/// The page list after edits: `old` without the pages at the content paths `gone`, with
/// `fresh` (sorted by content path) merged in by content path. Returns it with each old
/// page's index now and the indices of the fresh pages.
fn merge_pages(
    old: Vec<Page>,
    fresh: Vec<Page>,
    gone: &std::collections::HashSet<String>,
) -> (Vec<Page>, Vec<Option<usize>>, Vec<usize>) {
    let mut old_to_new = vec![None; old.len()];
    let mut fresh_at = Vec::with_capacity(fresh.len());
    let mut pages = Vec::with_capacity(old.len() + fresh.len());
    let mut kept = old.into_iter().enumerate().filter(|(_, p)| !gone.contains(&p.content_path));
    let mut next_kept = kept.next();
    let mut fresh = fresh.into_iter().peekable();
    loop {
        let take_fresh = match (&next_kept, fresh.peek()) {
            (Some((_, k)), Some(f)) => f.content_path < k.content_path,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if take_fresh {
            let Some(page) = fresh.next() else { break };
            fresh_at.push(pages.len());
            pages.push(page);
        } else {
            let Some((i, page)) = next_kept.take() else { break };
            old_to_new[i] = Some(pages.len());
            pages.push(page);
            next_kept = kept.next();
        }
    }
    (pages, old_to_new, fresh_at)
}

/// What became of one edited document in [`Site::reassemble`].
enum Made {
    /// It is gone.
    Gone,
    /// A published page.
    Published(Box<Page>),
    /// A draft left out, with its would-be permalink.
    Draft(String),
}

/// The content path of a document's source file, for sources under `content/`.
fn source_path(source: &Source) -> Option<&str> {
    match source {
        Source::File(path) => path.strip_prefix("content/"),
        _ => None,
    }
}

/// What the builder hands on: sections, pages, skipped pages, targets, the next future date.
type Assembled =
    (Vec<Section>, Vec<Page>, Vec<(Source, Skip)>, HashMap<String, Target>, Option<DateTime<Utc>>);

/// The state of model building, so that each step is a short method.
struct Builder<'a> {
    config: &'a mut Config,
    options: &'a BuildOptions,
    diagnostics: &'a mut Vec<Diagnostic>,
    sections: Vec<Section>,
    section_by_dir: HashMap<String, usize>,
    pages: Vec<Page>,
    skipped: Vec<(Source, Skip)>,
    targets: HashMap<String, Target>,
    next_future: Option<DateTime<Utc>>,
}

impl<'a> Builder<'a> {
    fn new(
        config: &'a mut Config,
        options: &'a BuildOptions,
        diagnostics: &'a mut Vec<Diagnostic>,
    ) -> Self {
        Self {
            config,
            options,
            diagnostics,
            sections: Vec::new(),
            section_by_dir: HashMap::new(),
            pages: Vec::new(),
            skipped: Vec::new(),
            next_future: None,
            targets: HashMap::new(),
        }
    }

    /// Creates one section per folder, root first, with the settings of its `_index.md`.
    fn add_sections(&mut self, dirs: &[String], parsed: &[Parsed]) {
        let mut settings: HashMap<&str, (&DocMeta, &SectionFront, &str, usize)> = HashMap::new();
        for item in parsed {
            if let Parsed::Section { doc, front, body, body_line } = item {
                settings
                    .insert(content::parent_of(&doc.content_path), (doc, front, body, *body_line));
            }
        }
        let mut dirs: Vec<&String> = dirs.iter().collect();
        if !dirs.iter().any(|d| d.is_empty()) {
            dirs.insert(0, &EMPTY);
        }
        for dir in dirs {
            let parent = (!dir.is_empty())
                .then(|| self.section_by_dir.get(content::parent_of(dir)).copied())
                .flatten();
            let (source, front, body, body_line, digest) = match settings.get(dir.as_str()) {
                Some((doc, front, body, line)) => (
                    Some(doc.source.clone()),
                    (*front).clone(),
                    body.to_string(),
                    *line,
                    doc.digest,
                ),
                None => (None, SectionFront::default(), String::new(), 1, Digest::default()),
            };
            let path = match parent {
                Some(p) => {
                    let name = dir.rsplit('/').next().unwrap_or(dir);
                    let slug = self.slug_or_fallback(name, name, source.as_ref(), None);
                    url::as_dir(&format!("{}{slug}", self.sections[p].path))
                }
                None => "/".to_string(),
            };
            let paginate_by = front.paginate_by.or(self.config.paginate_by).filter(|&n| n > 0);
            let index = self.sections.len();
            self.sections.push(Section {
                source,
                dir: dir.clone(),
                content_path: content::join(dir, "_index.md"),
                permalink: url::permalink(&self.config.base_url, &path),
                path,
                front,
                body,
                body_line,
                parent,
                subsections: Vec::new(),
                pages: Vec::new(),
                paginate_by,
                rendered: None,
                digest,
            });
            if let Some(p) = parent {
                self.sections[p].subsections.push(index);
            }
            self.section_by_dir.insert(dir.clone(), index);
        }
        self.sort_subsections();
    }

    /// Orders every section's subsections by weight. The sort is stable and the lists were
    /// filled in folder order, so that order breaks ties; unweighted sections go last, as
    /// unweighted pages do under `sort_by = "weight"`.
    fn sort_subsections(&mut self) {
        let weights: Vec<Option<i64>> = self.sections.iter().map(|s| s.front.weight).collect();
        for section in &mut self.sections {
            section.subsections.sort_by(|&a, &b| asc_option(weights[a], weights[b]));
        }
    }

    /// Adds every page, leaving out drafts and future-dated pages unless asked for.
    fn add_pages(&mut self, parsed: Vec<Parsed>) {
        for item in parsed {
            let Parsed::Page { doc, front, body, body_line } = item else { continue };
            let bundle = matches!(doc.kind, DocKind::Page { bundle: true });
            let dir = content::parent_of(&doc.content_path);
            let section_dir = if bundle { content::parent_of(dir) } else { dir };
            let section = self.section_by_dir.get(section_dir).copied().unwrap_or(0);
            let page = self.make_page(doc, front, body, body_line, section, bundle);
            let Some(page) = page else { continue };
            match self.skip_reason(&page) {
                Some(skip) => {
                    if skip == Skip::Future
                        && let Some(date) = page.date
                    {
                        self.next_future = Some(self.next_future.map_or(date, |d| d.min(date)));
                    }
                    let target = Target::Skipped(skip, page.permalink.clone());
                    self.targets.insert(page.content_path.clone(), target);
                    self.skipped.push((page.source.clone(), skip));
                }
                None => self.pages.push(page),
            }
        }
    }

    fn skip_reason(&self, page: &Page) -> Option<Skip> {
        if page.front.draft && !self.options.drafts {
            return Some(Skip::Draft);
        }
        match page.date {
            Some(date) if date > self.options.now => Some(Skip::Future),
            _ => None,
        }
    }

    fn make_page(
        &mut self,
        doc: DocMeta,
        front: Arc<PageFront>,
        body: Arc<str>,
        body_line: usize,
        section: usize,
        bundle: bool,
    ) -> Option<Page> {
        let dir = content::parent_of(&doc.content_path).to_string();
        let stem = if bundle {
            dir.rsplit('/').next().unwrap_or(&dir).to_string()
        } else {
            let name = doc.content_path.rsplit('/').next().unwrap_or(&doc.content_path);
            name.strip_suffix(".md").unwrap_or(name).to_string()
        };
        let prefix = date::date_from_file_stem(&stem, self.config.timezone);
        let date = front.date.or(prefix.as_ref().map(|(d, _)| *d));
        let bare = prefix.as_ref().map_or(stem.as_str(), |(_, rest)| rest);
        let slug = match &front.slug {
            Some(written) => {
                self.slug_or_fallback(written, &stem, Some(&doc.source), front.lines.of("slug"))
            }
            None => self.slug_or_fallback(bare, &stem, Some(&doc.source), None),
        };
        let path = match &front.path {
            Some(written) => match url::clean_path(written) {
                Ok(path) => url::as_dir(&path),
                Err(message) => {
                    let line = front.lines.of("path");
                    self.diagnostics.push(Diagnostic::error(doc.source.clone(), line, message));
                    return None;
                }
            },
            None => url::as_dir(&format!("{}{slug}", self.sections[section].path)),
        };
        let mut taxonomies = front.taxonomies.clone();
        if !front.authors.is_empty() {
            taxonomies.entry("authors".to_string()).or_default().extend(front.authors.clone());
        }
        Some(Page {
            permalink: url::permalink(&self.config.base_url, &path),
            source: doc.source,
            content_path: doc.content_path,
            bundle_dir: bundle.then_some(dir),
            front,
            body,
            body_line,
            section,
            date,
            slug,
            path,
            taxonomies,
            terms: Vec::new(),
            lower: None,
            higher: None,
            digest: doc.digest,
            front_digest: doc.front_digest,
            rendered: None,
            md_digest: Digest::default(),
            content: tera::Value::none(),
        })
    }

    /// Slugs a name by the site's path rule; a name that slugs to nothing (an emoji-only
    /// file name under the ASCII rule, say) gets the stable fallback `n-` plus eight hex
    /// digits of the name's hash, and a warning that says so.
    fn slug_or_fallback(
        &mut self,
        name: &str,
        original: &str,
        source: Option<&Source>,
        line: Option<usize>,
    ) -> String {
        let slug = slugify(name, self.config.slugify.paths);
        if !slug.is_empty() && slug != "-" {
            return slug;
        }
        let fallback = fallback_slug(original);
        let message = format!(
            "`{name}` gives an empty slug under the `{:?}` rule; using `{fallback}`; set `slug` \
             in the front matter to choose one",
            self.config.slugify.paths
        );
        self.diagnostics.push(Diagnostic::warning(source.cloned(), line, message));
        fallback
    }

    fn finish(self) -> Assembled {
        (self.sections, self.pages, self.skipped, self.targets, self.next_future)
    }
}

static EMPTY: String = String::new();

/// The stable slug for a name that slugs to nothing.
pub fn fallback_slug(name: &str) -> String {
    let hash = blake3::hash(name.as_bytes());
    format!("n-{}", &hash.to_hex()[..8])
}

/// Fills each section's sorted page list (passing pages of transparent sections up to their
/// parent) and links each page to its neighbours.
///
/// The root section is the home page of a blog, so it lists every dated page of the site,
/// wherever it lives; undated pages at the root (an about page, a contact page) are pages of
/// the root but not in its list. Every other section lists its own pages.
fn list_pages(sections: &mut [Section], pages: &mut [Page]) {
    for (i, page) in pages.iter().enumerate() {
        let mut section = page.section;
        if section != 0 {
            sections[section].pages.push(i);
        }
        while section != 0 && sections[section].front.transparent {
            let Some(parent) = sections[section].parent else { break };
            if parent != 0 {
                sections[parent].pages.push(i);
            }
            section = parent;
        }
        if page.date.is_some() {
            sections[0].pages.push(i);
        }
    }
    for section in sections.iter_mut() {
        let sort_by = section.front.sort_by;
        sort_pages(&mut section.pages, pages, sort_by);
        if section.front.paginate_reversed {
            section.pages.reverse();
        }
    }
    for (index, section) in sections.iter().enumerate() {
        let own: Vec<usize> =
            section.pages.iter().copied().filter(|&p| pages[p].section == index).collect();
        for (n, &p) in own.iter().enumerate() {
            pages[p].higher = n.checked_sub(1).map(|m| own[m]);
            pages[p].lower = own.get(n + 1).copied();
        }
    }
}

/// Sorts page indices by a section's rule. Ties, and pages that lack the sort key (which go
/// last), are ordered by content path, so the order never depends on the file system.
pub fn sort_pages(list: &mut [usize], pages: &[Page], sort_by: SortBy) {
    let key_path = |i: &usize| pages[*i].content_path.as_str();
    match sort_by {
        SortBy::Date => list.sort_by(|a, b| {
            desc_option(pages[*a].date, pages[*b].date).then_with(|| key_path(a).cmp(key_path(b)))
        }),
        SortBy::UpdateDate => list.sort_by(|a, b| {
            let ua = pages[*a].front.updated.or(pages[*a].date);
            let ub = pages[*b].front.updated.or(pages[*b].date);
            desc_option(ua, ub).then_with(|| key_path(a).cmp(key_path(b)))
        }),
        SortBy::Title => sort_by_natural_title(list, pages),
        SortBy::TitleBytes => list.sort_by(|a, b| {
            let ta = pages[*a].front.title.as_deref();
            let tb = pages[*b].front.title.as_deref();
            asc_option(ta, tb).then_with(|| key_path(a).cmp(key_path(b)))
        }),
        SortBy::Weight => list.sort_by(|a, b| {
            asc_option(pages[*a].front.weight, pages[*b].front.weight)
                .then_with(|| key_path(a).cmp(key_path(b)))
        }),
        SortBy::Slug => list.sort_by(|a, b| {
            pages[*a].slug.cmp(&pages[*b].slug).then_with(|| key_path(a).cmp(key_path(b)))
        }),
        SortBy::None => list.sort_by(|a, b| key_path(a).cmp(key_path(b))),
    }
}

/// Sorts by title in natural order, ignoring case: "Part 1", "part 2", "Part 10". Ties (titles
/// that differ only in case) and untitled pages, which go last, are ordered by content path.
///
/// The comparison is `alphanumeric-sort`'s: it is maintained, has no dependencies and compares
/// digit runs digit by digit, so a title with a very long number cannot overflow. (`natord`
/// has not been released since 2016; `lexical-sort` adds digits up in a `u64`, which overflows
/// on a run of 20 digits.) It is case-sensitive, so titles are lowercased once, up front.
fn sort_by_natural_title(list: &mut [usize], pages: &[Page]) {
    let mut keyed: Vec<(Option<String>, usize)> =
        list.iter().map(|&i| (pages[i].front.title.as_deref().map(str::to_lowercase), i)).collect();
    keyed.sort_by(|(ta, a), (tb, b)| {
        let natural = match (ta, tb) {
            (Some(ta), Some(tb)) => alphanumeric_sort::compare_str(ta, tb),
            (ta, tb) => asc_option(ta.as_ref(), tb.as_ref()),
        };
        natural.then_with(|| pages[*a].content_path.cmp(&pages[*b].content_path))
    });
    for (slot, (_, i)) in list.iter_mut().zip(keyed) {
        *slot = i;
    }
}

/// Newest first; missing values last.
fn desc_option<T: Ord>(a: Option<T>, b: Option<T>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.cmp(&a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// Smallest first; missing values last.
fn asc_option<T: Ord>(a: Option<T>, b: Option<T>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// Groups the pages' terms into taxonomies. Names that slug alike are one term, shown with
/// the spelling most pages use (the smallest such spelling on a tie). A taxonomy that content
/// uses but the config does not declare is built with defaults, with a warning.
fn gather_taxonomies(
    config: &mut Config,
    pages: &mut [Page],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Taxonomy> {
    let mut undeclared: BTreeMap<&str, &Source> = BTreeMap::new();
    for page in pages.iter() {
        for name in page.taxonomies.keys() {
            if config.taxonomy(name).is_none() {
                undeclared.entry(name).or_insert(&page.source);
            }
        }
    }
    for (name, source) in undeclared {
        let message = format!(
            "taxonomy `{name}` is not declared in kiln.toml; building it with default settings"
        );
        diagnostics.push(Diagnostic::warning(source.clone(), None, message));
        config.add_taxonomy(name);
    }
    let strategy = config.slugify.taxonomies;
    let base_url = config.base_url.clone();
    let mut taxonomies = Vec::new();
    for tax in &config.taxonomies {
        let Some((taxonomy, links)) = build_taxonomy(tax, pages, strategy, &base_url) else {
            continue;
        };
        let t = taxonomies.len();
        for (page, term) in links {
            if !pages[page].terms.contains(&(t, term)) {
                pages[page].terms.push((t, term));
            }
        }
        taxonomies.push(taxonomy);
    }
    taxonomies
}

/// Builds one taxonomy, and lists each (page, term index) pair in the order pages name them.
fn build_taxonomy(
    tax: &crate::config::TaxonomyConfig,
    pages: &[Page],
    strategy: SlugStrategy,
    base_url: &str,
) -> Option<(Taxonomy, Vec<(usize, usize)>)> {
    // A site uses a few names on many pages: each distinct name is slugged once, and the
    // loop over pages only counts and lists by small ids.
    let mut name_ids: rustc_hash::FxHashMap<&str, usize> = Default::default();
    let mut names: Vec<(&str, usize, usize)> = Vec::new(); // (name, slug id, uses)
    let mut slug_ids: rustc_hash::FxHashMap<String, usize> = Default::default();
    let mut lists: Vec<Vec<usize>> = Vec::new();
    let mut named: Vec<(usize, usize)> = Vec::new(); // (page, slug id)
    for (i, page) in pages.iter().enumerate() {
        let Some(page_names) = page.taxonomies.get(&tax.name) else { continue };
        for name in page_names {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let id = *name_ids.entry(name).or_insert_with(|| {
                let slug = match slugify(name, strategy) {
                    s if s.is_empty() || s == "-" => fallback_slug(name),
                    s => s,
                };
                let next = slug_ids.len();
                let slug_id = *slug_ids.entry(slug).or_insert(next);
                if slug_id == lists.len() {
                    lists.push(Vec::new());
                }
                names.push((name, slug_id, 0));
                names.len() - 1
            });
            names[id].2 += 1;
            let slug_id = names[id].1;
            named.push((i, slug_id));
            if lists[slug_id].last() != Some(&i) {
                lists[slug_id].push(i);
            }
        }
    }
    if slug_ids.is_empty() {
        return None;
    }
    // Terms in slug order, each with the spelling most pages use (the smallest on a tie).
    let mut by_slug: Vec<(String, usize)> = slug_ids.into_iter().collect();
    by_slug.sort_unstable();
    let mut term_of = vec![0; by_slug.len()];
    for (k, (_, slug_id)) in by_slug.iter().enumerate() {
        term_of[*slug_id] = k;
    }
    let mut spellings: Vec<BTreeMap<&str, usize>> = vec![BTreeMap::new(); by_slug.len()];
    for &(name, slug_id, uses) in &names {
        spellings[term_of[slug_id]].insert(name, uses);
    }
    let tax_slug = match slugify(&tax.name, strategy) {
        s if s.is_empty() => fallback_slug(&tax.name),
        s => s,
    };
    let tax_path = format!("/{tax_slug}/");
    let links = named.iter().map(|&(page, slug_id)| (page, term_of[slug_id])).collect();
    let terms = by_slug
        .into_iter()
        .zip(spellings)
        .map(|((slug, slug_id), spellings)| {
            let mut list = std::mem::take(&mut lists[slug_id]);
            // Listed in page order, which is content path order, so a stable sort by date
            // alone orders ties by content path as `sort_pages` does.
            list.sort_by(|a, b| desc_option(pages[*a].date, pages[*b].date));
            let name = spellings
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(name, _)| name.to_string())
                .unwrap_or_default();
            let path = format!("{tax_path}{slug}/");
            Term { name, permalink: url::permalink(base_url, &path), path, slug, pages: list }
        })
        .collect();
    let taxonomy = Taxonomy {
        name: tax.name.clone(),
        permalink: url::permalink(base_url, &tax_path),
        slug: tax_slug,
        path: tax_path,
        paginate_by: tax.paginate_by.filter(|&n| n > 0),
        feed: tax.feed,
        render: tax.render,
        terms,
    };
    Some((taxonomy, links))
}
