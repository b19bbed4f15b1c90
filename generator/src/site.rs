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
    /// `content` and its table of contents in `toc`, not here.
    pub rendered: Option<Arc<Rendered>>,
    /// The digest of the rendered markdown, HTML included.
    pub md_digest: Digest,
    /// The page's HTML as the value templates read (`page.content`): the one copy of it the
    /// build keeps, since on a large site the pages' HTML is most of the memory.
    pub content: tera::Value,
    /// The page's table of contents as the value templates read (`page.toc`), made once
    /// when the markdown is rendered; an empty list until then.
    pub toc: tera::Value,
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
        self.source.clone().unwrap_or_else(|| Source::File(format!("content/{}", self.dir)))
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
        let site = Site { config, pages, sections, taxonomies, skipped, targets, next_future };
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
                    let slug = self.slug_or_fallback(name, name, source.as_ref());
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
            Some(written) => self.slug_or_fallback(written, &stem, Some(&doc.source)),
            None => self.slug_or_fallback(bare, &stem, Some(&doc.source)),
        };
        let path = match &front.path {
            Some(written) => match url::clean_path(written) {
                Ok(path) => url::as_dir(&path),
                Err(message) => {
                    self.diagnostics.push(Diagnostic::error(doc.source.clone(), None, message));
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
            toc: tera::Value::from(Vec::<tera::Value>::new()),
        })
    }

    /// Slugs a name by the site's path rule; a name that slugs to nothing (an emoji-only
    /// file name under the ASCII rule, say) gets the stable fallback `n-` plus eight hex
    /// digits of the name's hash, and a warning that says so.
    fn slug_or_fallback(&mut self, name: &str, original: &str, source: Option<&Source>) -> String {
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
        self.diagnostics.push(Diagnostic::warning(source.cloned(), None, message));
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
    // slug -> (spelling -> count, pages)
    let mut terms: BTreeMap<String, (BTreeMap<&str, usize>, Vec<usize>)> = BTreeMap::new();
    let mut named: Vec<(usize, String)> = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let Some(names) = page.taxonomies.get(&tax.name) else { continue };
        for name in names {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let slug = match slugify(name, strategy) {
                s if s.is_empty() || s == "-" => fallback_slug(name),
                s => s,
            };
            named.push((i, slug.clone()));
            let entry = terms.entry(slug).or_default();
            *entry.0.entry(name).or_default() += 1;
            if entry.1.last() != Some(&i) {
                entry.1.push(i);
            }
        }
    }
    if terms.is_empty() {
        return None;
    }
    let tax_slug = match slugify(&tax.name, strategy) {
        s if s.is_empty() => fallback_slug(&tax.name),
        s => s,
    };
    let tax_path = format!("/{tax_slug}/");
    let index: HashMap<&str, usize> =
        terms.keys().enumerate().map(|(k, slug)| (slug.as_str(), k)).collect();
    let links = named.iter().map(|(page, slug)| (*page, index[slug.as_str()])).collect();
    let terms = terms
        .into_iter()
        .map(|(slug, (spellings, mut list))| {
            sort_pages(&mut list, pages, SortBy::Date);
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
