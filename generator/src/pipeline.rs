//! One build, from the site root to the output folder, as a sequence of labelled steps.
//!
//! Load the config and content, assemble the model, render markdown, load templates, plan
//! the outputs, render and stage them, and commit. Every step adds its problems to one list;
//! the build stops before writing anything if that list holds an error, and reports the
//! whole list.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::config::Config;
use crate::content::{self, AssetFile};
use crate::diagnostic::{self, BuildFailed, Diagnostic, Source};
use crate::highlight::Highlighter;
use crate::markdown::{
    self, LinkResolver, LinkTarget, MarkdownOptions, Rendered, Severity, TargetStatus,
};
use crate::output::{Lock, Stager, WriteReport};
use crate::render::{self, Bytes, CopyFile, Renderer};
use crate::site::{BuildOptions, Site, Skip};
use crate::templates::{self, Lookup, Templates};
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
}

impl BuildRequest {
    /// A request for the site at `root` with every default.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), output: None, drafts: false, base_url: None, now: None }
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

/// Builds the site of `request` into its output folder.
pub fn build(request: &BuildRequest) -> Result<BuildReport, BuildFailed> {
    let started = Instant::now();
    let root = &request.root;
    let state_dir = root.join(".kiln");
    let output = request.output.clone().unwrap_or_else(|| root.join("public"));
    let mut diags = Vec::new();
    let fail = |mut diagnostics: Vec<Diagnostic>| {
        diagnostic::sort(&mut diagnostics);
        BuildFailed { diagnostics }
    };

    let _lock = Lock::acquire(&state_dir).map_err(|err| {
        fail(vec![Diagnostic::error(
            None,
            None,
            format!("cannot lock {}: {err}", state_dir.display()),
        )])
    })?;
    let config = match Config::load(root) {
        Ok((mut config, warnings)) => {
            diags.extend(warnings);
            if let Some(url) = &request.base_url
                && let Err(message) = config.set_base_url(url)
            {
                diags.push(Diagnostic::error(None, None, format!("--base-url: {message}")));
            }
            config
        }
        Err(errors) => return Err(fail(errors)),
    };
    let options =
        BuildOptions { drafts: request.drafts, now: request.now.unwrap_or_else(Utc::now) };

    let mut clock = StepClock::new();

    // Model.
    let (tree, load_diags) = content::load(root, &root.join("content"));
    clock.step("load content");
    diags.extend(load_diags);
    let assets = tree.assets.clone();
    let (site, site_diags) = Site::assemble(config, tree, &options);
    diags.extend(site_diags);
    let mut site = site;
    clock.step("parse and assemble");
    for (source, skip) in &site.skipped {
        let why = match skip {
            Skip::Draft => "a draft (build with --drafts to include it)",
            Skip::Future => "dated in the future",
        };
        tracing::info!("skipped {source}: {why}");
    }

    // Markdown.
    let highlighter = site
        .config
        .markdown
        .highlight_code
        .then(Highlighter::with_default_themes)
        .and_then(Result::ok);
    diags.extend(render_markdown(&mut site, highlighter.as_ref()));
    diags.extend(check_anchors(&site));
    clock.step("markdown");

    // Templates and files.
    let templates = match Templates::load(
        root,
        site.config.theme.as_deref(),
        site.config.timezone,
        options.now,
    ) {
        Ok(templates) => templates,
        Err(errors) => {
            diags.extend(errors);
            return Err(fail(diags));
        }
    };
    diags.extend(check_named_templates(&site, &templates));
    let (copies, asset_urls) = files_to_copy(root, &site, &assets);
    let embedded = embedded_static(highlighter.as_ref());

    clock.step("templates and files");

    // Values and the plan.
    let values = Values::build(&site, &asset_urls);
    clock.step("page values");
    release_page_text(&mut site);
    templates.set_lookup(lookup(&site, &values, &copies, &embedded));
    clock.step("template values");
    let (plan, plan_errors) = render::plan(&site, copies, embedded);
    diags.extend(plan_errors);
    let renderer = Renderer { site: &site, values: &values, templates: &templates };

    // With errors already found, render without writing, only to report the render errors
    // too; the output folder is not touched.
    if diags.iter().any(Diagnostic::is_error) {
        // A template already reported missing would only be reported again per output.
        let usable = |planned: &&render::Planned| {
            planned.template(&site).is_none_or(|name| templates.has(name))
        };
        let errors: Vec<Diagnostic> = plan
            .par_iter()
            .filter(usable)
            .filter_map(|planned| renderer.render(planned).err())
            .collect();
        diags.extend(errors);
        return Err(fail(diags));
    }

    // Render, stage and commit.
    let stager = Stager::open(&state_dir, &output).map_err(|err| {
        fail(vec![Diagnostic::error(
            None,
            None,
            format!("cannot open output {}: {err}", output.display()),
        )])
    })?;
    let timings = KindTimings::default();
    let errors: Vec<Diagnostic> = plan
        .par_iter()
        .filter_map(|planned| {
            let started = Instant::now();
            let bytes = renderer.render(planned);
            timings.add(&planned.job, started.elapsed());
            let staged = bytes.and_then(|bytes| match bytes {
                Bytes::Owned(bytes) => stager.stage(&planned.path, &bytes, planned.sources.clone()),
                Bytes::Shared(bytes) => {
                    stager.stage(&planned.path, &bytes, planned.sources.clone())
                }
                Bytes::File(from) => {
                    stager.stage_copy(&planned.path, &from, planned.sources.clone())
                }
            });
            staged.err()
        })
        .collect();
    clock.step("render and stage");
    timings.log();
    if !errors.is_empty() {
        stager.abort();
        diags.extend(errors);
        return Err(fail(diags));
    }
    let write = stager.commit().map_err(|err| {
        fail(vec![Diagnostic::error(None, None, format!("cannot write the output folder: {err}"))])
    })?;

    clock.step("commit");
    diagnostic::sort(&mut diags);
    let report = BuildReport {
        pages: site.pages.len(),
        sections: site.sections.len(),
        outputs: plan.len(),
        write,
        skipped: site.skipped.clone(),
        warnings: diags,
        elapsed: started.elapsed(),
    };
    // Freeing the model, its values and the templates takes a tenth of a second on one core
    // for a site of 10,000 pages; nothing the caller does waits for it.
    std::thread::spawn(move || drop((site, values, templates, plan)));
    Ok(report)
}

/// Drops each page's summary once the template values hold it: the values are the one copy
/// the rest of the build reads.
fn release_page_text(site: &mut Site) {
    for page in &mut site.pages {
        if let Some(rendered) = &mut page.rendered {
            rendered.summary = None;
        }
    }
}

/// CPU time spent rendering each kind of output, logged at debug level to show where a
/// build's time goes.
#[derive(Default)]
struct KindTimings {
    nanos: [std::sync::atomic::AtomicU64; 6],
    counts: [std::sync::atomic::AtomicU64; 6],
}

impl KindTimings {
    const NAMES: [&'static str; 6] = ["pages", "section lists", "taxonomy pages", "feeds", "site files", "copies"];

    fn add(&self, job: &render::Job, elapsed: Duration) {
        use render::Job;
        let kind = match job {
            Job::Page(_) => 0,
            Job::SectionPager(..) | Job::Redirect(_) => 1,
            Job::TaxonomyList(_) | Job::TermPager(..) => 2,
            Job::Atom(_) | Job::Rss(_) => 3,
            Job::Sitemap | Job::Robots | Job::NotFound | Job::SearchIndex => 4,
            Job::Copy(_) | Job::Embedded(_) => 5,
        };
        let ordering = std::sync::atomic::Ordering::Relaxed;
        self.nanos[kind].fetch_add(elapsed.as_nanos() as u64, ordering);
        self.counts[kind].fetch_add(1, ordering);
    }

    fn log(&self) {
        let ordering = std::sync::atomic::Ordering::Relaxed;
        for (i, name) in Self::NAMES.iter().enumerate() {
            let count = self.counts[i].load(ordering);
            let ms = self.nanos[i].load(ordering) as f64 / 1e6;
            tracing::debug!("  render {name}: {count} in {ms:.1} ms of CPU");
        }
    }
}

/// Logs the time each step of a build took, at debug level.
struct StepClock(Instant);

impl StepClock {
    fn new() -> Self {
        StepClock(Instant::now())
    }

    fn step(&mut self, name: &str) {
        let now = Instant::now();
        tracing::debug!("{name}: {:.1} ms", (now - self.0).as_secs_f64() * 1000.0);
        self.0 = now;
    }
}

/// Resolves `@/` links against the model.
struct Links<'a>(&'a Site);

impl LinkResolver for Links<'_> {
    fn resolve(&self, content_path: &str) -> Option<LinkTarget> {
        let (url, skip) = self.0.resolve(content_path)?;
        let status = match skip {
            None => TargetStatus::Published,
            Some(Skip::Draft) => TargetStatus::Draft,
            Some(Skip::Future) => TargetStatus::Future,
        };
        Some(LinkTarget { url, status })
    }
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

/// Renders the markdown of every page and section in parallel and keeps the result on the
/// model. Returns the problems, with lines of the source file.
fn render_markdown(site: &mut Site, highlighter: Option<&Highlighter>) -> Vec<Diagnostic> {
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
    let links = Links(site);
    let render_one = |body: &str,
                      body_line: usize,
                      source: &Source,
                      section: usize|
     -> (Rendered, Vec<Diagnostic>) {
        let rendered = markdown::render(body, section_options[section], highlighter, &links);
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
        (rendered, diags)
    };
    let pages: Vec<_> = site
        .pages
        .par_iter()
        .map(|p| {
            let (mut rendered, diags) = render_one(&p.body, p.body_line, &p.source, p.section);
            let content = tera::Value::safe_string(&std::mem::take(&mut rendered.html));
            (rendered, content, diags)
        })
        .collect();
    let sections: Vec<_> = site
        .sections
        .par_iter()
        .enumerate()
        .map(|(i, s)| render_one(&s.body, s.body_line, &s.blame(), i))
        .collect();
    let mut diags = Vec::new();
    for (page, (rendered, content, d)) in site.pages.iter_mut().zip(pages) {
        page.rendered = Some(rendered);
        page.content = content;
        page.body = String::new();
        diags.extend(d);
    }
    for (section, (rendered, d)) in site.sections.iter_mut().zip(sections) {
        section.rendered = Some(rendered);
        diags.extend(d);
    }
    diags
}

/// Warns about `#anchor` and `@/page.md#anchor` links whose target has no such id.
fn check_anchors(site: &Site) -> Vec<Diagnostic> {
    // A page's HTML lives in its template value by now; a section's in its rendering.
    fn page_doc(p: &crate::site::Page) -> Option<(&Rendered, &str)> {
        p.rendered.as_ref().map(|r| (r, p.content.as_str().unwrap_or("")))
    }
    fn section_doc(s: &crate::site::Section) -> Option<(&Rendered, &str)> {
        s.rendered.as_ref().map(|r| (r, r.html.as_str()))
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
        site.sections.iter().filter(|s| s.source.is_some()).map(|s| {
            (s.source.as_ref().unwrap_or(&Source::Site), section_doc(s), s.body_line)
        }),
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
fn check_named_templates(site: &Site, templates: &Templates) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut check = |name: &str, source: Source, key: &str| {
        if let Some(reason) = templates.dropped.get(name) {
            let message = format!(
                "`{key}` names the default template `{name}`, which cannot be used with this \
                 site's templates: {reason}"
            );
            diags.push(Diagnostic::error(source, None, message));
        } else if !templates.has(name) {
            let message = format!(
                "`{key}` names the template `{name}`, which neither templates/ nor the theme has"
            );
            diags.push(Diagnostic::error(source, None, message));
        }
    };
    for page in &site.pages {
        if let Some(name) = &page.front.template {
            check(name, page.source.clone(), "template");
        }
    }
    for section in &site.sections {
        if let Some(name) = &section.front.template {
            check(name, section.blame(), "template");
        }
        if let Some(name) = &section.front.page_template {
            check(name, section.blame(), "page_template");
        }
    }
    diags
}

/// The site's `static/` folder, the theme's on-disk static files, and content assets, with
/// the URL of every bundle asset by page.
fn files_to_copy(
    root: &Path,
    site: &Site,
    assets: &[AssetFile],
) -> (Vec<CopyFile>, HashMap<String, Vec<String>>) {
    let mut copies = Vec::new();
    if let Some(theme) = site.config.theme.as_deref().filter(|t| *t != "default") {
        walk_static(root, &root.join("themes").join(theme).join("static"), &mut copies);
    }
    let theme_paths: HashSet<String> = copies.iter().map(|c| c.path.clone()).collect();
    let mut site_static = Vec::new();
    walk_static(root, &root.join("static"), &mut site_static);
    copies.retain(|c| !site_static.iter().any(|s| s.path == c.path));
    copies.extend(site_static);
    let _ = theme_paths;

    let mut urls: HashMap<String, Vec<String>> = HashMap::new();
    for asset in assets {
        let (dir_path, rel) = match &asset.bundle {
            Some(page_path) => {
                let Some(crate::site::Target::Page(i)) = site.targets.get(page_path) else {
                    continue;
                };
                let page = &site.pages[*i];
                let bundle_dir = content::parent_of(page_path);
                let rel =
                    asset.content_path.strip_prefix(bundle_dir).unwrap_or(&asset.content_path);
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
        let raw = format!("{dir_path}{rel}");
        if let Some(page_path) = &asset.bundle {
            urls.entry(page_path.clone())
                .or_default()
                .push(crate::url::permalink(&site.config.base_url, &raw));
        }
        copies.push(CopyFile {
            path: raw.trim_start_matches('/').to_string(),
            from: asset.path.clone(),
            source: Source::File(format!("content/{}", asset.content_path)),
        });
    }
    (copies, urls)
}

fn walk_static(root: &Path, dir: &Path, out: &mut Vec<CopyFile>) {
    if !dir.is_dir() {
        return;
    }
    let walker = walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name();
    for entry in walker.into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_file()
            || content::is_editor_artifact(&entry.file_name().to_string_lossy())
        {
            continue;
        }
        out.push(CopyFile {
            path: content::relative_to(dir, entry.path()),
            from: entry.path().to_path_buf(),
            source: Source::File(content::relative_to(root, entry.path())),
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
fn embedded_static(highlighter: Option<&Highlighter>) -> Vec<(String, Arc<[u8]>)> {
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

fn lookup(
    site: &Site,
    values: &Values,
    copies: &[CopyFile],
    embedded: &[(String, Arc<[u8]>)],
) -> Lookup {
    let mut lookup = Lookup {
        base_url: site.config.base_url.clone(),
        term_slugs: site.config.slugify.taxonomies,
        ..Default::default()
    };
    for (i, page) in site.pages.iter().enumerate() {
        lookup.pages.insert(page.content_path.clone(), values.pages[i].clone());
    }
    for (i, section) in site.sections.iter().enumerate() {
        lookup.sections.insert(section.content_path.clone(), values.sections[i].clone());
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
    for copy in copies {
        if let Ok(bytes) = std::fs::read(&copy.from) {
            lookup
                .static_hashes
                .insert(copy.path.clone(), blake3::hash(&bytes).to_hex()[..8].to_string());
        }
    }
    lookup
}

fn taxonomy_value(site: &Site, values: &Values, tax: &crate::site::Taxonomy) -> tera::Value {
    #[derive(serde::Serialize)]
    struct Term<'a> {
        name: &'a str,
        slug: &'a str,
        permalink: &'a str,
        page_count: usize,
        pages: Vec<tera::Value>,
    }
    #[derive(serde::Serialize)]
    struct Taxonomy<'a> {
        name: &'a str,
        slug: &'a str,
        permalink: &'a str,
        terms: Vec<Term<'a>>,
    }
    let _ = site;
    tera::Value::from_serializable(&Taxonomy {
        name: &tax.name,
        slug: &tax.slug,
        permalink: &tax.permalink,
        terms: tax
            .terms
            .iter()
            .map(|t| Term {
                name: &t.name,
                slug: &t.slug,
                permalink: &t.permalink,
                page_count: t.pages.len(),
                pages: t.pages.iter().map(|&p| values.summaries[p].clone()).collect(),
            })
            .collect(),
    })
}
