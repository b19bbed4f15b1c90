//! The steps of a build that the engine ([`crate::engine`]) runs in order: rendering
//! markdown, checking anchors and named templates, finding files to copy, and preparing what
//! template functions look up. Every step adds its problems to one list; the build stops
//! before writing anything if that list holds an error, and reports the whole list.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::config::Config;
use crate::content::{self, AssetFile};
use crate::diagnostic::{BuildFailed, Diagnostic, Source};
use crate::digest::{Digest, Digester};
use crate::highlight::Highlighter;
use crate::markdown::{
    self, LinkResolver, LinkTarget, MarkdownOptions, Rendered, Severity, TargetStatus,
};
use crate::output::WriteReport;
use crate::render::CopyFile;
use crate::site::{Site, Skip};
use crate::templates::{self, Lookup, PageEntry, Templates};
use crate::values::Values;

/// What to build and how.
#[derive(Clone, Debug)]
pub struct BuildRequest {
    /// The site root: the folder with `kiln.toml` and `content/`.
    pub root: PathBuf,
    /// The output folder; `<root>/public` when `None`.
    pub output: Option<PathBuf>,
    /// Include drafts.
    pub drafts: bool,
    /// Replace the config's `base_url`.
    pub base_url: Option<String>,
    /// The instant that decides what is future-dated; the clock when `None`.
    pub now: Option<DateTime<Utc>>,
    /// Render every output and compare it with the file in the output folder, trusting
    /// neither the snapshot of the last build's inputs nor the record of its outputs: for
    /// files changed behind Kiln's back in a way their length and time do not show.
    pub force: bool,
}

impl BuildRequest {
    /// A request for the site at `root` with every default.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            output: None,
            drafts: false,
            base_url: None,
            now: None,
            force: false,
        }
    }
}

/// What a successful build did.
#[derive(Debug)]
pub struct BuildReport {
    /// Published pages.
    pub pages: usize,
    /// Sections.
    pub sections: usize,
    /// Output files of the build.
    pub outputs: usize,
    /// What the write step did.
    pub write: WriteReport,
    /// Pages left out, and why.
    pub skipped: Vec<(Source, Skip)>,
    /// Warnings, in report order.
    pub warnings: Vec<Diagnostic>,
    /// Wall time of the build.
    pub elapsed: Duration,
}

/// Builds the site of `request` into its output folder: one apply of a fresh
/// [`Engine`](crate::Engine).
///
/// When the snapshot of the last one-shot build shows that no input and no output changed
/// since, nothing is built or written ([`crate::snapshot`]).
pub fn build(request: &BuildRequest) -> Result<BuildReport, BuildFailed> {
    let mut engine = crate::Engine::one_shot(request.clone());
    if !request.force
        && let Some(report) = engine.unchanged_since_last_build()
    {
        return Ok(report);
    }
    let mut clock = StepClock::new();
    let inputs = crate::snapshot::stamp_inputs(engine.root());
    clock.step("stamp inputs");
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let report = engine.apply(&[])?.build;
    let mut clock = StepClock::new();
    engine.save_snapshot(inputs, started, &report);
    clock.step("save the snapshot");
    // The engine's caches are of no further use.
    crate::engine::free_later(engine);
    Ok(report)
}

/// Logs the time each step of a build took, at debug level.
pub(crate) struct StepClock(Instant);

impl StepClock {
    pub(crate) fn new() -> Self {
        StepClock(Instant::now())
    }

    pub(crate) fn step(&mut self, name: &str) {
        let now = Instant::now();
        tracing::debug!("{name}: {:.1} ms", (now - self.0).as_secs_f64() * 1000.0);
        self.0 = now;
    }
}

/// Resolves `@/` links against the model.
struct Links<'a>(&'a Site);

fn link_status(skip: Option<Skip>) -> TargetStatus {
    match skip {
        None => TargetStatus::Published,
        Some(Skip::Draft) => TargetStatus::Draft,
        Some(Skip::Future) => TargetStatus::Future,
    }
}

impl Links<'_> {
    /// Whether `content_path` still resolves to `then`, without copying anything.
    fn still(&self, content_path: &str, then: Option<&LinkTarget>) -> bool {
        let now = self.0.resolve_ref(content_path).or_else(|| {
            let file = self.0.files.get(content_path.trim_start_matches('/'))?;
            Some((file.as_str(), None))
        });
        match (now, then) {
            (None, None) => true,
            (Some((url, skip)), Some(then)) => url == then.url && link_status(skip) == then.status,
            _ => false,
        }
    }
}

impl LinkResolver for Links<'_> {
    /// A page or section, else a file beside them (an image, a PDF), which is always
    /// published.
    fn resolve(&self, content_path: &str) -> Option<LinkTarget> {
        if let Some((url, skip)) = self.0.resolve(content_path) {
            return Some(LinkTarget { url, status: link_status(skip) });
        }
        let url = self.0.files.get(content_path.trim_start_matches('/'))?.clone();
        Some(LinkTarget { url, status: TargetStatus::Published })
    }
}

/// The content files of `assets` with the permalink each is copied to, for [`Site::files`].
pub(crate) fn file_targets(site: &Site, assets: &[AssetFile]) -> HashMap<String, String> {
    assets
        .iter()
        .filter_map(|asset| {
            let raw = asset_output(site, asset)?;
            Some((asset.content_path.clone(), crate::url::permalink(&site.config.base_url, &raw)))
        })
        .collect()
}

/// The raw output path (`/blog/post/pic.png`) a content file is copied to: beside its page
/// for a bundle's file, else in its section's folder. `None` for a file of a bundle whose
/// page is not published.
fn asset_output(site: &Site, asset: &AssetFile) -> Option<String> {
    let (dir_path, rel) = match &asset.bundle {
        Some(page_path) => {
            let Some(crate::site::Target::Page(i)) = site.targets.get(page_path) else {
                return None;
            };
            let page = &site.pages[*i];
            let bundle_dir = content::parent_of(page_path);
            let rel = asset.content_path.strip_prefix(bundle_dir).unwrap_or(&asset.content_path);
            (page.path.clone(), rel.trim_start_matches('/').to_string())
        }
        None => {
            let dir = content::parent_of(&asset.content_path);
            let section = site.sections.iter().find(|s| s.dir == dir);
            let base = section.map_or("/".to_string(), |s| s.path.clone());
            let name = asset.content_path.rsplit('/').next().unwrap_or(&asset.content_path);
            (base, name.to_string())
        }
    };
    Some(format!("{dir_path}{rel}"))
}

fn markdown_options(config: &Config) -> MarkdownOptions {
    let md = &config.markdown;
    MarkdownOptions {
        smart_punctuation: md.smart_punctuation,
        highlight_code: md.highlight_code,
        footnotes_at_bottom: md.footnotes_at_bottom,
        external_links_new_tab: md.external_links_new_tab,
        slug_strategy: config.slugify.anchors,
        insert_anchor_links: md.insert_anchor_links,
    }
}

/// A document's rendered markdown, kept between builds of one engine.
pub(crate) struct MdEntry {
    /// The digest of what the rendering read from the document and the options.
    key: Digest,
    /// Every `@/` link the rendering resolved, with what it found then.
    links: Vec<(String, Option<LinkTarget>)>,
    rendered: Arc<Rendered>,
    /// The page's HTML as a template value; for a section it stays in `rendered`.
    content: tera::Value,
    digest: Digest,
    diags: Vec<Diagnostic>,
}

/// Rendered markdown by content path.
pub(crate) type MdCache = HashMap<String, MdEntry>;

/// Content path to the documents whose cached rendering resolved an `@/` link to it: the
/// ones to check again when it comes, goes or moves. Kept up to date with
/// [`add_backlinks`], it may name documents that no longer link there, never miss one that
/// does.
pub(crate) type Backlinks = HashMap<String, Vec<String>>;

/// The backlinks of every rendering in `cache`.
pub(crate) fn backlinks(cache: &MdCache) -> Backlinks {
    let mut index = Backlinks::new();
    for (path, entry) in cache {
        for (target, _) in &entry.links {
            index.entry(target.trim_start_matches('/').to_string()).or_default().push(path.clone());
        }
    }
    index
}

/// Adds the links of the renderings of `paths` in `cache` to `index`.
pub(crate) fn add_backlinks<'a>(
    cache: &MdCache,
    paths: impl IntoIterator<Item = &'a String>,
    index: &mut Backlinks,
) {
    for path in paths {
        let Some(entry) = cache.get(path) else { continue };
        for (target, _) in &entry.links {
            let linking = index.entry(target.trim_start_matches('/').to_string()).or_default();
            if !linking.contains(path) {
                linking.push(path.clone());
            }
        }
    }
}

/// A resolver that remembers what it was asked and what it answered, so that a cached
/// rendering can be checked against the site as it is now.
struct Recording<'a> {
    links: &'a Links<'a>,
    asked: std::sync::Mutex<Vec<(String, Option<LinkTarget>)>>,
}

impl LinkResolver for Recording<'_> {
    fn resolve(&self, content_path: &str) -> Option<LinkTarget> {
        let found = self.links.resolve(content_path);
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((content_path.to_string(), found.clone()));
        found
    }
}

/// The digest of everything templates can read of a rendering.
fn rendered_digest(rendered: &Rendered, html: &str) -> Digest {
    let mut d = Digester::new("markdown");
    d.str(html).opt_str(rendered.summary.as_deref()).json(&rendered.toc);
    d.u64(rendered.word_count as u64).u64(rendered.reading_time as u64);
    d.finish()
}

/// Renders the markdown of every page and section in parallel and keeps the result on the
/// model. A document whose text, options and link targets are those of an entry in `cache`
/// takes that entry instead of being rendered again. Returns the problems, with lines of
/// the source file.
///
/// With `only`, just those pages are looked at (the engine's patch of edited bodies), and
/// the problems returned are theirs.
///
/// A page whose body the engine let go of (an empty body) and that must be rendered again
/// gets its text from `reload`.
pub(crate) fn render_markdown(
    site: &mut Site,
    highlighter: Option<&Highlighter>,
    cache: &mut MdCache,
    only: Option<&[usize]>,
    reload: &(dyn Fn(&crate::site::Page) -> Option<Arc<str>> + Sync),
) -> Vec<Diagnostic> {
    let options = markdown_options(&site.config);
    let without_anchors = MarkdownOptions { insert_anchor_links: false, ..options.clone() };
    let with_anchors = MarkdownOptions { insert_anchor_links: true, ..options.clone() };
    // A section's `insert_anchor_links` decides for its own text and its pages.
    let section_options: Vec<&MarkdownOptions> = site
        .sections
        .iter()
        .map(|s| match s.front.insert_anchor_links {
            Some(crate::frontmatter::InsertAnchor::None) => &without_anchors,
            Some(_) => &with_anchors,
            None => &options,
        })
        .collect();
    let option_keys: Vec<Digest> = [&options, &without_anchors, &with_anchors]
        .iter()
        .map(|o| crate::digest::of_str("options", &format!("{o:?}{}", highlighter.is_some())))
        .collect();
    let option_key = |o: &MarkdownOptions| {
        if std::ptr::eq(o, &without_anchors) {
            option_keys[1]
        } else if std::ptr::eq(o, &with_anchors) {
            option_keys[2]
        } else {
            option_keys[0]
        }
    };
    let all: Vec<usize>;
    let chosen: &[usize] = match only {
        Some(list) => list,
        None => {
            all = (0..site.pages.len()).collect();
            &all
        }
    };
    // Each page's text is taken out of the model and dropped as soon as it is rendered, so
    // that the texts of the whole site and all their HTML are never held at once. Text that
    // did not come from a file stays, since it could not be read again.
    let bodies: Vec<Arc<str>> = chosen
        .iter()
        .map(|&i| {
            let page = &mut site.pages[i];
            match page.source {
                Source::File(_) => std::mem::replace(&mut page.body, Arc::from("")),
                _ => page.body.clone(),
            }
        })
        .collect();
    let links = Links(site);
    let cached = |content_path: &str, key: &Digest| -> Option<&MdEntry> {
        let entry = cache.get(content_path).filter(|e| e.key == *key)?;
        entry.links.iter().all(|(path, then)| links.still(path, then.as_ref())).then_some(entry)
    };
    let render_one = |body: &str,
                      body_line: usize,
                      source: &Source,
                      section: usize,
                      key: Digest,
                      is_page: bool|
     -> MdEntry {
        let recording = Recording { links: &links, asked: Default::default() };
        let mut rendered =
            markdown::render(body, section_options[section], highlighter, &recording);
        let diags = rendered
            .issues
            .iter()
            .map(|issue| {
                let line = Some(body_line + issue.line.saturating_sub(1));
                match issue.severity {
                    Severity::Error => {
                        Diagnostic::error(source.clone(), line, issue.message.clone())
                    }
                    Severity::Warning => {
                        Diagnostic::warning(source.clone(), line, issue.message.clone())
                    }
                }
            })
            .collect();
        let digest = rendered_digest(&rendered, &rendered.html);
        let content = if is_page {
            tera::Value::safe_string(&std::mem::take(&mut rendered.html))
        } else {
            tera::Value::none()
        };
        let links = recording.asked.into_inner().unwrap_or_else(|e| e.into_inner());
        MdEntry { key, links, rendered: Arc::new(rendered), content, digest, diags }
    };
    let doc_key = |digest: &Digest, body_line: usize, section: usize| {
        let mut d = Digester::new("markdown input");
        d.digest(digest).digest(&option_key(section_options[section])).u64(body_line as u64);
        d.finish()
    };
    // One task per page: pages differ enough in length that rayon's default runs of them
    // leave one thread rendering the last run alone.
    let pages: Vec<Option<MdEntry>> = chosen
        .par_iter()
        .zip(bodies)
        .with_max_len(1)
        .map(|(&i, body)| {
            let p = &site.pages[i];
            let key = doc_key(&p.digest, p.body_line, p.section);
            match cached(&p.content_path, &key) {
                Some(_) => None,
                None => {
                    let reloaded = body.is_empty().then(|| reload(p)).flatten();
                    let body = reloaded.as_deref().unwrap_or(&body);
                    Some(render_one(body, p.body_line, &p.source, p.section, key, true))
                }
            }
        })
        .collect();
    let sections: Vec<Option<MdEntry>> = site
        .sections
        .par_iter()
        .enumerate()
        .filter(|_| only.is_none())
        .map(|(i, s)| {
            let key = doc_key(&s.digest, s.body_line, i);
            match cached(&s.content_path, &key) {
                Some(_) => None,
                None => Some(render_one(&s.body, s.body_line, &s.blame(), i, key, false)),
            }
        })
        .collect();
    let mut diags = Vec::new();
    let paths = chosen
        .iter()
        .map(|&i| &site.pages[i].content_path)
        .chain(site.sections.iter().filter(|_| only.is_none()).map(|s| &s.content_path));
    for (path, fresh) in paths.zip(pages.into_iter().chain(sections)) {
        if let Some(entry) = fresh {
            cache.insert(path.clone(), entry);
        }
    }
    for &i in chosen {
        let page = &mut site.pages[i];
        if let Some(entry) = cache.get(&page.content_path) {
            page.rendered = Some(entry.rendered.clone());
            page.content = entry.content.clone();
            page.md_digest = entry.digest;
            diags.extend(entry.diags.iter().cloned());
        }
    }
    for section in site.sections.iter_mut().filter(|_| only.is_none()) {
        if let Some(entry) = cache.get(&section.content_path) {
            section.rendered = Some(entry.rendered.clone());
            diags.extend(entry.diags.iter().cloned());
        }
    }
    diags
}

/// Warns about `#anchor` and `@/page.md#anchor` links whose target has no such id.
pub(crate) fn check_anchors(site: &Site) -> Vec<Diagnostic> {
    // A page's HTML lives in its template value by now; a section's in its rendering.
    fn page_doc(p: &crate::site::Page) -> Option<(&Rendered, &str)> {
        p.rendered.as_deref().map(|r| (r, p.content.as_str().unwrap_or("")))
    }
    fn section_doc(s: &crate::site::Section) -> Option<(&Rendered, &str)> {
        s.rendered.as_deref().map(|r| (r, r.html.as_str()))
    }
    let has_anchor = |target: Option<(&Rendered, &str)>, anchor: &str| {
        target.is_some_and(|(r, html)| {
            r.heading_ids.iter().any(|id| id == anchor)
                || html.contains(&format!("id=\"{anchor}\""))
                || html.contains(&format!("name=\"{anchor}\""))
        })
    };
    let mut diags = Vec::new();
    let docs = site.pages.iter().map(|p| (&p.source, page_doc(p), p.body_line)).chain(
        site.sections
            .iter()
            .filter(|s| s.source.is_some())
            .map(|s| (s.source.as_ref().unwrap_or(&Source::Site), section_doc(s), s.body_line)),
    );
    for (source, own, body_line) in docs {
        let Some(own) = own else { continue };
        for anchor in own.0.anchor_refs.iter().filter(|a| !a.anchor.is_empty()) {
            let target = match &anchor.content_path {
                None => Some(own),
                Some(path) => match site.targets.get(path.trim_start_matches('/')) {
                    Some(crate::site::Target::Page(i)) => page_doc(&site.pages[*i]),
                    Some(crate::site::Target::Section(i)) => section_doc(&site.sections[*i]),
                    _ => continue,
                },
            };
            if !has_anchor(target, &anchor.anchor) {
                let place = anchor
                    .content_path
                    .as_deref()
                    .map_or("this page".to_string(), |p| format!("`@/{p}`"));
                let message =
                    format!("link to `#{}` finds no such anchor in {place}", anchor.anchor);
                let line = Some(body_line + anchor.line.saturating_sub(1));
                diags.push(Diagnostic::warning(source.clone(), line, message));
            }
        }
    }
    diags
}

/// Errors for each custom template that content names and no layer provides.
pub(crate) fn check_named_templates(site: &Site, templates: &Templates) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut check = |name: &str, source: Source, key: &str, line: Option<usize>| {
        if let Some(reason) = templates.dropped.get(name) {
            let message = format!(
                "`{key}` names the default template `{name}`, which cannot be used with this \
                 site's templates: {reason}"
            );
            diags.push(Diagnostic::error(source, line, message));
        } else if !templates.has(name) {
            let message = format!(
                "`{key}` names the template `{name}`, which neither templates/ nor the theme has"
            );
            diags.push(Diagnostic::error(source, line, message));
        }
    };
    for page in &site.pages {
        if let Some(name) = &page.front.template {
            check(name, page.source.clone(), "template", page.front.lines.of("template"));
        }
    }
    for section in &site.sections {
        let lines = &section.front.lines;
        if let Some(name) = &section.front.template {
            check(name, section.blame(), "template", lines.of("template"));
        }
        if let Some(name) = &section.front.page_template {
            check(name, section.blame(), "page_template", lines.of("page_template"));
        }
    }
    diags
}

/// The site's `static/` folder, the theme's on-disk static files, and content assets, with
/// the URL of every bundle asset by page.
pub(crate) fn files_to_copy(
    root: &Path,
    site: &Site,
    assets: &[AssetFile],
) -> (Vec<CopyFile>, HashMap<String, Vec<String>>) {
    let mut copies = Vec::new();
    if let Some(theme) = site.config.theme.as_deref().filter(|t| *t != "default") {
        walk_static(root, &root.join("themes").join(theme).join("static"), &mut copies);
    }
    let mut site_static = Vec::new();
    walk_static(root, &root.join("static"), &mut site_static);
    copies.retain(|c| !site_static.iter().any(|s| s.path == c.path));
    copies.extend(site_static);

    let mut urls: HashMap<String, Vec<String>> = HashMap::new();
    for asset in assets {
        let Some(raw) = asset_output(site, asset) else { continue };
        if let Some(page_path) = &asset.bundle {
            urls.entry(page_path.clone())
                .or_default()
                .push(crate::url::permalink(&site.config.base_url, &raw));
        }
        copies.push(CopyFile {
            path: raw.trim_start_matches('/').to_string(),
            from: asset.path.clone(),
            source: Source::File(format!("content/{}", asset.content_path).into()),
        });
    }
    (copies, urls)
}

fn walk_static(root: &Path, dir: &Path, out: &mut Vec<CopyFile>) {
    if !dir.is_dir() {
        return;
    }
    // Everything in `static/` is copied, hidden files too (`.htaccess`, `.nojekyll`,
    // `.well-known/`): only what an editor or a version control system leaves is not.
    let walker = walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name();
    let entries = walker.into_iter().filter_entry(|e| {
        let name = e.file_name().to_string_lossy();
        e.depth() == 0 || !content::is_editor_leftover(&name)
    });
    for entry in entries.filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        out.push(CopyFile {
            path: content::relative_to(dir, entry.path()),
            from: entry.path().to_path_buf(),
            source: Source::File(content::relative_to(root, entry.path()).into()),
        });
    }
}

/// Where the stylesheet of the default theme takes the generated highlighting rules.
const HIGHLIGHT_MARKERS: (&str, &str) =
    ("/* BEGIN GENERATED SYNTAX HIGHLIGHTING */", "/* END GENERATED SYNTAX HIGHLIGHTING */");

/// The embedded default theme's static files, unless another theme is chosen, with the
/// highlighting rules of `highlighter` written into its stylesheet.
///
/// They are the lowest layer whatever the theme: a theme that overrides only some templates
/// still gets the default ones, and those link to these files. A theme's own files of the same
/// name replace them.
pub(crate) fn embedded_static(highlighter: Option<&Highlighter>) -> Vec<(String, Arc<[u8]>)> {
    let mut out = Vec::new();
    if let Some(dir) = templates::DEFAULT_THEME.get_dir("static") {
        collect_embedded(dir, &mut out);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, bytes) in out.iter_mut() {
        if path == "style.css"
            && let Some(highlighter) = highlighter
            && let Ok(text) = std::str::from_utf8(bytes)
        {
            *bytes = fill_highlight_css(text, &highlighter.css()).into_bytes().into();
        }
    }
    out
}

/// Replaces the text between the highlighting markers of a stylesheet with `css`.
fn fill_highlight_css(stylesheet: &str, css: &str) -> String {
    let (begin, end) = HIGHLIGHT_MARKERS;
    match (stylesheet.find(begin), stylesheet.find(end)) {
        (Some(start), Some(stop)) if start < stop => {
            let head = &stylesheet[..start + begin.len()];
            format!("{head}\n{}\n{}", css.trim(), &stylesheet[stop..])
        }
        _ => stylesheet.to_string(),
    }
}

fn collect_embedded(dir: &'static include_dir::Dir<'static>, out: &mut Vec<(String, Arc<[u8]>)>) {
    for file in dir.files() {
        let path = file.path().strip_prefix("static").unwrap_or(file.path());
        out.push((path.to_string_lossy().replace('\\', "/"), Arc::from(file.contents())));
    }
    for sub in dir.dirs() {
        collect_embedded(sub, out);
    }
}

pub(crate) fn lookup(
    site: &Site,
    values: &Values,
    copies: &[CopyFile],
    embedded: &[(String, Arc<[u8]>)],
    file_hashes: &mut FileHashes,
) -> Lookup {
    let mut lookup = Lookup {
        base_url: site.config.base_url.clone(),
        term_slugs: site.config.slugify.taxonomies,
        config: Some(values.config.clone()),
        ..Default::default()
    };
    for (i, page) in site.pages.iter().enumerate() {
        lookup.pages.insert(page.content_path.clone(), PageEntry::of(site, values, i));
    }
    for (i, section) in site.sections.iter().enumerate() {
        let entry = (values.sections[i].clone(), values.digests.sections[i]);
        lookup.sections.insert(section.content_path.clone(), entry);
    }
    for path in site.targets.keys() {
        if let Some((url, _)) = site.resolve(path) {
            lookup.permalinks.insert(path.clone(), url);
        }
    }
    for tax in &site.taxonomies {
        for term in &tax.terms {
            lookup.term_urls.insert((tax.name.clone(), term.slug.clone()), term.permalink.clone());
        }
        lookup.taxonomies.insert(tax.name.clone(), taxonomy_value(site, values, tax));
    }
    for (path, bytes) in embedded {
        lookup.static_hashes.insert(path.clone(), blake3::hash(bytes).to_hex()[..8].to_string());
    }
    // Files are hashed again only when their length or time changed.
    let hashed: Vec<(PathBuf, crate::output::FileStamp, String)> = copies
        .par_iter()
        .filter_map(|copy| {
            let stamp = crate::output::FileStamp::of(&copy.from)?;
            match file_hashes.get(&copy.from) {
                Some((known, hash)) if *known == stamp => None,
                _ => {
                    let bytes = std::fs::read(&copy.from).ok()?;
                    let hash = blake3::hash(&bytes).to_hex()[..8].to_string();
                    Some((copy.from.clone(), stamp, hash))
                }
            }
        })
        .collect();
    for (from, stamp, hash) in hashed {
        file_hashes.insert(from, (stamp, hash));
    }
    for copy in copies {
        if let Some((_, hash)) = file_hashes.get(&copy.from) {
            lookup.static_hashes.insert(copy.path.clone(), hash.clone());
        }
    }
    lookup
}

/// The short hash of each file copied into the output, by source path, with the stamp the
/// file had when hashed.
pub(crate) type FileHashes = HashMap<PathBuf, (crate::output::FileStamp, String)>;

/// The value `get_taxonomy` returns for `tax`, with its digest.
pub(crate) fn taxonomy_value(
    site: &Site,
    values: &Values,
    tax: &crate::site::Taxonomy,
) -> (tera::Value, Digest) {
    #[derive(serde::Serialize)]
    struct Term<'a> {
        name: &'a str,
        slug: &'a str,
        path: &'a str,
        permalink: &'a str,
        page_count: usize,
        pages: Vec<tera::Value>,
    }
    /// Zola's `kind`, the taxonomy's settings, as far as templates read them.
    #[derive(serde::Serialize)]
    struct Kind<'a> {
        name: &'a str,
        paginate_by: Option<usize>,
        feed: bool,
    }
    /// `terms` is also `items`, Zola's name for the list, so that a Zola template's
    /// `get_taxonomy(kind="tags").items` reads the same terms (one list, not a copy).
    #[derive(serde::Serialize)]
    struct Taxonomy<'a> {
        name: &'a str,
        slug: &'a str,
        permalink: &'a str,
        kind: Kind<'a>,
        terms: tera::Value,
        items: tera::Value,
    }
    let _ = site;
    let mut d = Digester::new("taxonomy");
    d.str(&tax.name).str(&tax.slug).str(&tax.permalink);
    for term in &tax.terms {
        d.str(&term.name).str(&term.slug).str(&term.permalink).u64(term.pages.len() as u64);
        for &p in &term.pages {
            d.digest(&values.digests.summaries[p]);
        }
    }
    let terms: Vec<Term> = tax
        .terms
        .iter()
        .map(|t| Term {
            name: &t.name,
            slug: &t.slug,
            path: &t.path,
            permalink: &t.permalink,
            page_count: t.pages.len(),
            pages: t.pages.iter().map(|&p| values.summaries[p].clone()).collect(),
        })
        .collect();
    let terms = tera::Value::from_serializable(&terms);
    let kind = Kind { name: &tax.name, paginate_by: tax.paginate_by, feed: tax.feed };
    let value = tera::Value::from_serializable(&Taxonomy {
        name: &tax.name,
        slug: &tax.slug,
        permalink: &tax.permalink,
        kind,
        items: terms.clone(),
        terms,
    });
    (value, d.finish())
}
