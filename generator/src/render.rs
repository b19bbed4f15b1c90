//! Planning and rendering every output of a build.
//!
//! [`plan`] lists each output file with the sources it is made from; two outputs with one
//! path are an error naming both sources. [`render`] then turns one planned output into its
//! bytes. Rendering depends only on the model, the templates and the config, so outputs can
//! be rendered in any order, on any thread, and come out the same.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use tera::{Context, Value};

use crate::diagnostic::{Diagnostic, Source};
use crate::digest::{Digest, Digester};
use crate::feed::{self, FeedScope, SitemapEntry};
use crate::site::Site;
use crate::templates::{self, Call, Templates};
use crate::url;
use crate::values::{self, Values};

/// What one output is made of.
#[derive(Clone, Debug)]
pub enum Job {
    /// A page through its template.
    Page(usize),
    /// One pager of a section list (1-based).
    SectionPager(usize, usize),
    /// The list of a taxonomy's terms.
    TaxonomyList(usize),
    /// One pager of a term's page list (1-based).
    TermPager(usize, usize, usize),
    /// A page that sends readers to another URL.
    Redirect(String),
    /// An Atom feed over a scope.
    Atom(FeedOf),
    /// An RSS feed over a scope.
    Rss(FeedOf),
    /// `sitemap.xml`.
    Sitemap,
    /// `robots.txt`.
    Robots,
    /// `404.html`.
    NotFound,
    /// `search_index.json`.
    SearchIndex,
    /// A file copied as it is.
    Copy(PathBuf),
    /// Bytes the build holds: a file of the embedded theme, or one it generated.
    Embedded(std::sync::Arc<[u8]>),
}

/// The pages a feed covers.
#[derive(Clone, Copy, Debug)]
pub enum FeedOf {
    /// Every page of the site.
    Site,
    /// A section's pages.
    Section(usize),
    /// A term's pages.
    Term(usize, usize),
}

/// One planned output.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Its path in the output folder.
    pub path: String,
    /// What it is made of.
    pub job: Job,
    /// The sources it comes from.
    pub sources: Vec<Source>,
}

/// A file to copy into the output, found by the build.
pub struct CopyFile {
    /// Its output path.
    pub path: String,
    /// Where it is read from.
    pub from: PathBuf,
    /// Its source.
    pub source: Source,
}

/// Lists every output, with an error for each path that two sources would both write.
pub fn plan(
    site: &Site,
    copies: Vec<CopyFile>,
    embedded: Vec<(String, std::sync::Arc<[u8]>)>,
) -> (Vec<Planned>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let push = |out: &mut Vec<Planned>, path: String, job: Job, sources: Vec<Source>| {
        out.push(Planned { path, job, sources });
    };
    for (i, page) in site.pages.iter().enumerate() {
        if !page.front.render {
            continue;
        }
        push(&mut out, url::output_file(&page.path), Job::Page(i), vec![page.source.clone()]);
        for (n, alias) in page.front.aliases.iter().enumerate() {
            let line = page.front.lines.alias(n);
            push_alias(&mut out, &mut errors, alias, &page.permalink, &page.source, line);
        }
    }
    for (i, section) in site.sections.iter().enumerate() {
        plan_section(site, i, &mut out);
        for (n, alias) in section.front.aliases.iter().enumerate() {
            let line = section.front.lines.alias(n);
            push_alias(&mut out, &mut errors, alias, &section.permalink, &section.blame(), line);
        }
    }
    for (t, tax) in site.taxonomies.iter().enumerate() {
        if tax.render {
            plan_taxonomy(site, t, &mut out);
        }
    }
    plan_site_files(site, &mut out);
    let mut taken: rustc_hash::FxHashSet<&str> = out.iter().map(|p| p.path.as_str()).collect();
    let mut extra = Vec::new();
    for copy in &copies {
        extra.push(Planned {
            path: copy.path.clone(),
            job: Job::Copy(copy.from.clone()),
            sources: vec![copy.source.clone()],
        });
    }
    for p in &extra {
        taken.insert(p.path.as_str());
    }
    // Theme files give way to anything the site writes at the same path.
    let theme: Vec<Planned> = embedded
        .into_iter()
        .filter(|(path, _)| !taken.contains(path.as_str()))
        .map(|(path, bytes)| Planned {
            sources: vec![Source::Embedded(format!("static/{path}"))],
            path,
            job: Job::Embedded(bytes),
        })
        .collect();
    out.extend(extra);
    out.extend(theme);
    errors.extend(check_duplicates(&out, site));
    (out, errors)
}

/// A file of the embedded theme: its output path and bytes.
pub type EmbeddedFile = (String, std::sync::Arc<[u8]>);

/// The copied and embedded files of a plan, as [`plan`] takes them: to plan a site again
/// without looking for its files again.
pub fn files_of(plan: &[Planned]) -> (Vec<CopyFile>, Vec<EmbeddedFile>) {
    let mut copies = Vec::new();
    let mut embedded = Vec::new();
    for planned in plan {
        match &planned.job {
            Job::Copy(from) => copies.push(CopyFile {
                path: planned.path.clone(),
                from: from.clone(),
                source: planned.sources.first().cloned().unwrap_or(Source::Site),
            }),
            Job::Embedded(bytes) => embedded.push((planned.path.clone(), bytes.clone())),
            _ => {}
        }
    }
    (copies, embedded)
}

/// Plans the redirect of an alias, or reports why the alias cannot be a path in the output
/// folder, on the alias's own line.
fn push_alias(
    out: &mut Vec<Planned>,
    errors: &mut Vec<Diagnostic>,
    alias: &str,
    target: &str,
    source: &Source,
    line: Option<usize>,
) {
    match url::clean_path(alias) {
        Ok(path) => {
            let path = if url::names_file(&path) { path } else { url::as_dir(&path) };
            out.push(Planned {
                path: url::output_file(&path),
                job: Job::Redirect(target.to_string()),
                sources: vec![source.clone()],
            });
        }
        Err(message) => errors.push(Diagnostic::error(source.clone(), line, message)),
    }
}

fn pager_count(items: usize, by: Option<usize>) -> usize {
    by.map_or(1, |by| items.div_ceil(by).max(1))
}

/// Puts `outputs` (indices into `plan`) in the order to render them in on the thread pool:
/// the outputs that list the most pages first, so that none of them is left to run alone
/// at the end, and the same pager of different lists side by side, so that one thread
/// renders the pagers that show the same pages (a section's and the home page's) while
/// those pages' values are in its cache.
pub fn render_order(site: &Site, plan: &[Planned], outputs: &mut [usize]) {
    outputs.sort_by_cached_key(|&i| {
        let (listed, n) = listed(site, &plan[i].job);
        (std::cmp::Reverse(listed), n, i)
    });
}

/// About how many pages an output shows, for [`render_order`], with its pager number.
fn listed(site: &Site, job: &Job) -> (usize, usize) {
    match *job {
        Job::Page(_) => (1, 0),
        Job::SectionPager(i, n) => {
            let section = &site.sections[i];
            (pager_slice(&section.pages, section.paginate_by, n).len(), n)
        }
        Job::TermPager(t, k, n) => {
            let tax = &site.taxonomies[t];
            (pager_slice(&tax.terms[k].pages, tax.paginate_by, n).len(), n)
        }
        Job::TaxonomyList(t) => (site.taxonomies[t].terms.len(), 0),
        // A feed entry carries the page's whole text.
        Job::Atom(_) | Job::Rss(_) => (site.config.feeds.limit * 10, 0),
        Job::Sitemap | Job::SearchIndex => (site.pages.len(), 0),
        _ => (0, 0),
    }
}

/// The raw path of pager `n` (1-based) of a list at `base`.
pub fn pager_path(base: &str, paginate_path: &str, n: usize) -> String {
    if n == 1 { base.to_string() } else { format!("{base}{paginate_path}/{n}/") }
}

fn plan_section(site: &Site, i: usize, out: &mut Vec<Planned>) {
    let section = &site.sections[i];
    let source = section.blame();
    if let Some(target) = &section.front.redirect_to {
        let target = absolute(site, target);
        out.push(Planned {
            path: url::output_file(&section.path),
            job: Job::Redirect(target),
            sources: vec![source],
        });
        return;
    }
    if !section.front.render {
        return;
    }
    let pagers = pager_count(section.pages.len(), section.paginate_by);
    let pp = &section.front.paginate_path;
    for n in 1..=pagers {
        let path = pager_path(&section.path, pp, n);
        let on_pager = pager_slice(&section.pages, section.paginate_by, n);
        let sources = list_sources(site, on_pager, &source);
        out.push(Planned { path: url::output_file(&path), job: Job::SectionPager(i, n), sources });
    }
    if section.paginate_by.is_some() {
        let first = url::output_file(&format!("{}{pp}/1/", section.path));
        out.push(Planned {
            path: first,
            job: Job::Redirect(section.permalink.clone()),
            sources: vec![source.clone()],
        });
    }
    if section.front.generate_feeds && site.config.feeds.enabled {
        plan_feeds(site, &section.path, FeedOf::Section(i), &source, out);
    }
}

/// The pages of pager `n` (1-based) of a list paginated by `by`.
pub fn pager_slice(pages: &[usize], by: Option<usize>, n: usize) -> &[usize] {
    match by {
        None => pages,
        Some(by) => {
            let start = ((n - 1) * by).min(pages.len());
            &pages[start..(start + by).min(pages.len())]
        }
    }
}

fn absolute(site: &Site, target: &str) -> String {
    if target.starts_with("http://") || target.starts_with("https://") {
        target.to_string()
    } else if let Some(content) = target.strip_prefix("@/") {
        site.resolve(content).map(|(url, _)| url).unwrap_or_else(|| target.to_string())
    } else {
        url::permalink(
            &site.config.base_url,
            &url::as_dir(&format!("/{}", target.trim_start_matches('/'))),
        )
    }
}

fn list_sources(site: &Site, pages: &[usize], own: &Source) -> Vec<Source> {
    let mut sources = vec![own.clone()];
    sources.extend(pages.iter().map(|&p| site.pages[p].source.clone()));
    sources
}

/// Plans the Atom and RSS feeds of a scope. Their sources are the entries they carry.
fn plan_feeds(site: &Site, dir: &str, of: FeedOf, own: &Source, out: &mut Vec<Planned>) {
    let base = dir.trim_start_matches('/');
    let entries = feed_pages(site, of);
    let sources = list_sources(site, &entries, own);
    if site.config.feeds.atom {
        out.push(Planned {
            path: format!("{base}atom.xml"),
            job: Job::Atom(of),
            sources: sources.clone(),
        });
    }
    if site.config.feeds.rss {
        out.push(Planned { path: format!("{base}rss.xml"), job: Job::Rss(of), sources });
    }
}

/// The pages a feed carries: the dated pages of its scope, newest first, up to the limit.
/// Feeds are always newest first, whatever order the section lists its pages in.
pub fn feed_pages(site: &Site, of: FeedOf) -> Vec<usize> {
    let mut pages: Vec<usize> = match of {
        FeedOf::Site => (0..site.pages.len()).collect(),
        FeedOf::Section(i) => site.sections[i].pages.clone(),
        FeedOf::Term(t, k) => site.taxonomies[t].terms[k].pages.clone(),
    };
    pages.retain(|&p| site.pages[p].date.is_some());
    crate::site::sort_pages(&mut pages, &site.pages, crate::frontmatter::SortBy::Date);
    pages.truncate(site.config.feeds.limit);
    pages
}

fn plan_taxonomy(site: &Site, t: usize, out: &mut Vec<Planned>) {
    let tax = &site.taxonomies[t];
    let config_source = site.config.source.clone();
    // The term list shows each term's name and count, which the pages decide.
    let mut all: Vec<usize> =
        tax.terms.iter().flat_map(|term| term.pages.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    let sources = list_sources(site, &all, &config_source);
    out.push(Planned { path: url::output_file(&tax.path), job: Job::TaxonomyList(t), sources });
    for (k, term) in tax.terms.iter().enumerate() {
        for n in 1..=pager_count(term.pages.len(), tax.paginate_by) {
            let path = pager_path(&term.path, "page", n);
            let on_pager = pager_slice(&term.pages, tax.paginate_by, n);
            let sources = list_sources(site, on_pager, &config_source);
            out.push(Planned {
                path: url::output_file(&path),
                job: Job::TermPager(t, k, n),
                sources,
            });
        }
        if tax.paginate_by.is_some() {
            let first = url::output_file(&format!("{}page/1/", term.path));
            out.push(Planned {
                path: first,
                job: Job::Redirect(term.permalink.clone()),
                sources: vec![config_source.clone()],
            });
        }
        if tax.feed && site.config.feeds.enabled {
            plan_feeds(site, &term.path, FeedOf::Term(t, k), &config_source, out);
        }
    }
}

fn plan_site_files(site: &Site, out: &mut Vec<Planned>) {
    if site.config.feeds.enabled {
        plan_feeds(site, "/", FeedOf::Site, &site.sections[0].blame(), out);
    }
    out.push(Planned {
        path: "sitemap.xml".into(),
        job: Job::Sitemap,
        sources: vec![Source::Site],
    });
    out.push(Planned { path: "robots.txt".into(), job: Job::Robots, sources: vec![Source::Site] });
    out.push(Planned { path: "404.html".into(), job: Job::NotFound, sources: vec![Source::Site] });
    if site.config.search_index {
        out.push(Planned {
            path: "search_index.json".into(),
            job: Job::SearchIndex,
            sources: vec![Source::Site],
        });
    }
}

fn check_duplicates(out: &[Planned], site: &Site) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let mut seen: rustc_hash::FxHashMap<&str, usize> = Default::default();
    for planned in out {
        *seen.entry(&planned.path).or_default() += 1;
    }
    // Outputs are many and clashes rare: only the clashing paths are gathered.
    let mut by_path: BTreeMap<&str, Vec<&Planned>> = BTreeMap::new();
    for planned in out.iter().filter(|p| seen.get(p.path.as_str()).is_some_and(|&n| n > 1)) {
        by_path.entry(&planned.path).or_default().push(planned);
    }
    for (path, list) in by_path {
        let mut owners: Vec<&Source> = list.iter().map(|p| &p.sources[0]).collect();
        owners.sort();
        owners.dedup();
        let names: Vec<String> = owners.iter().map(|s| format!("`{s}`")).collect();
        let message = format!(
            "{} sources would all be written to `{path}`: {}; give all but one a different \
             `slug`, `path` or alias",
            names.len(),
            names.join(", ")
        );
        // A page's URL comes from its `path` or `slug` when it has them: point there.
        let line = match owners[0] {
            Source::File(file) => file
                .strip_prefix("content/")
                .and_then(|content_path| site.targets.get(content_path))
                .and_then(|target| match target {
                    crate::site::Target::Page(i) => {
                        let lines = &site.pages[*i].front.lines;
                        lines.of("path").or_else(|| lines.of("slug"))
                    }
                    _ => None,
                }),
            _ => None,
        };
        errors.push(Diagnostic::error(owners[0].clone(), line, message));
    }
    errors
}

/// What rendering needs besides the job.
pub struct Renderer<'a> {
    /// The model.
    pub site: &'a Site,
    /// The prebuilt values.
    pub values: &'a Values,
    /// The template engine.
    pub templates: &'a Templates,
}

impl Planned {
    /// The template this output renders through, if it renders through one.
    pub fn template<'s>(&self, site: &'s Site) -> Option<&'s str> {
        match self.job {
            Job::Page(i) => Some(page_template(site, i)),
            Job::SectionPager(i, _) => Some(section_template(site, i)),
            Job::TaxonomyList(_) => Some("taxonomy_list.html"),
            Job::TermPager(..) => Some("taxonomy_single.html"),
            Job::NotFound => Some("404.html"),
            _ => None,
        }
    }
}

/// The bytes of an output: rendered in memory, or a file to copy.
pub enum Bytes {
    /// Rendered bytes.
    Owned(Vec<u8>),
    /// Bytes the build already holds.
    Shared(std::sync::Arc<[u8]>),
    /// A file to copy.
    File(PathBuf),
}

impl Renderer<'_> {
    /// Renders one planned output.
    pub fn render(&self, planned: &Planned) -> Result<Bytes, Diagnostic> {
        let site = self.site;
        let bytes = match &planned.job {
            Job::Page(i) => self.page(*i)?,
            Job::SectionPager(i, n) => self.section_pager(*i, *n)?,
            Job::TaxonomyList(t) => self.taxonomy_list(*t)?,
            Job::TermPager(t, k, n) => self.term_pager(*t, *k, *n)?,
            Job::Redirect(to) => redirect_page(to).into_bytes(),
            Job::Atom(of) => {
                feed::atom(site, &self.scope(*of), &|i| self.page_html(i)).into_bytes()
            }
            Job::Rss(of) => feed::rss(site, &self.scope(*of), &|i| self.page_html(i)).into_bytes(),
            Job::Sitemap => self.sitemap().into_bytes(),
            Job::Robots => self.robots()?,
            Job::NotFound => self.tera("404.html", self.context("/404.html"), &Source::Site, 0)?,
            Job::SearchIndex => self.search_index().into_bytes(),
            Job::Copy(from) => return Ok(Bytes::File(from.clone())),
            Job::Embedded(bytes) => return Ok(Bytes::Shared(bytes.clone())),
        };
        Ok(Bytes::Owned(bytes))
    }

    /// The digest of everything rendering `planned` reads besides template function
    /// results, with the value digests it was made of, or `None` for an output that is
    /// cheaper to render than to prove unchanged. Two equal fingerprints with the same
    /// function results mean the same bytes; an output whose fingerprint includes none of the
    /// digests that changed has the same fingerprint.
    pub fn fingerprint(&self, planned: &Planned) -> Option<(Digest, Vec<Digest>)> {
        let mut d = Digester::recording("output");
        self.feed(planned, &mut d)?;
        let inputs = d.take_recorded();
        Some((d.finish(), inputs))
    }

    /// Adds what rendering `planned` reads to `d`; `None` for an output that is cheaper to
    /// render than to prove unchanged.
    fn feed(&self, planned: &Planned, d: &mut Digester) -> Option<()> {
        let site = self.site;
        let digests = &self.values.digests;
        d.str(&planned.path).str(env!("CARGO_PKG_VERSION")).digest(&digests.config);
        if let Some(template) = planned.template(site) {
            d.digest(&self.templates.digest).str(template);
        }
        match &planned.job {
            Job::Page(i) => {
                d.str("page").digest(&digests.pages[*i]);
                d.digest(&digests.section_heads[site.pages[*i].section]);
            }
            Job::SectionPager(i, n) => {
                let section = &site.sections[*i];
                let value = match section.paginate_by {
                    Some(_) => &digests.section_briefs[*i],
                    None => &digests.sections[*i],
                };
                d.str("section").digest(value).u64(*n as u64);
                d.str(&section.path).str(&section.front.paginate_path);
                d.u64(section.paginate_by.unwrap_or(0) as u64);
                self.list_digest(d, pager_slice(&section.pages, section.paginate_by, *n));
                d.u64(section.pages.len() as u64);
            }
            Job::TaxonomyList(t) => {
                let tax = &site.taxonomies[*t];
                d.str("taxonomy").str(&tax.name).str(&tax.slug).str(&tax.permalink);
                for term in &tax.terms {
                    d.str(&term.name).str(&term.slug).str(&term.permalink);
                    d.u64(term.pages.len() as u64);
                }
            }
            Job::TermPager(t, k, n) => {
                let tax = &site.taxonomies[*t];
                let term = &tax.terms[*k];
                d.str("term").str(&tax.name).str(&tax.slug).str(&tax.permalink);
                d.str(&term.name).str(&term.slug).str(&term.permalink).str(&term.path);
                d.u64(*n as u64).u64(tax.paginate_by.unwrap_or(0) as u64);
                self.list_digest(d, &term.pages);
            }
            Job::Atom(of) | Job::Rss(of) => {
                d.str(if matches!(planned.job, Job::Atom(_)) { "atom" } else { "rss" });
                let scope = self.scope(*of);
                d.str(&scope.title).str(&scope.home).str(&scope.dir);
                for &p in &scope.pages {
                    d.digest(&digests.pages[p]);
                }
            }
            Job::NotFound => {
                d.str("404");
            }
            Job::Robots if self.templates.has("robots.txt") => {
                d.str("robots");
            }
            Job::Copy(from) => {
                let meta = std::fs::metadata(from).ok()?;
                let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
                d.str("copy").str(&from.to_string_lossy()).u64(meta.len());
                d.u64(modified.as_nanos() as u64);
            }
            Job::Sitemap => self.sitemap_digest(d),
            Job::SearchIndex => {
                d.str("search");
                for p in self.search_pages() {
                    d.opt_str(p.front.title.as_deref()).str(&p.permalink);
                    d.opt_str(p.front.description.as_deref());
                    d.u64(p.date.map_or(u64::MAX, |date| date.timestamp() as u64));
                }
            }
            Job::Robots | Job::Redirect(_) | Job::Embedded(_) => return None,
        }
        Some(())
    }

    /// Digests what [`Renderer::sitemap`] lists, from the same walk, without building it.
    fn sitemap_digest(&self, d: &mut Digester) {
        d.str("sitemap");
        self.sitemap_urls(|url, updated| {
            match url {
                SitemapUrl::Permalink(permalink) => d.u64(0).str(permalink),
                SitemapUrl::Pager { base, paginate_path, n } => {
                    d.u64(1).str(base).str(paginate_path).u64(n as u64)
                }
            };
            d.u64(updated.map_or(u64::MAX, |date| date.timestamp_nanos_opt().unwrap_or(0) as u64));
        });
    }

    /// Calls `each` with every URL the sitemap lists and its last change, in sitemap order:
    /// pages, each section's pagers, each taxonomy and its terms' pagers.
    fn sitemap_urls<'s>(
        &'s self,
        mut each: impl FnMut(SitemapUrl<'s>, Option<chrono::DateTime<chrono::Utc>>),
    ) {
        let site = self.site;
        for p in site.pages.iter().filter(|p| p.front.render) {
            each(SitemapUrl::Permalink(&p.permalink), p.front.updated.or(p.date));
        }
        for section in
            site.sections.iter().filter(|s| s.front.render && s.front.redirect_to.is_none())
        {
            let newest = section
                .pages
                .iter()
                .filter_map(|&p| site.pages[p].front.updated.or(site.pages[p].date))
                .max();
            for n in 1..=pager_count(section.pages.len(), section.paginate_by) {
                let paginate_path = section.front.paginate_path.as_str();
                each(SitemapUrl::Pager { base: &section.path, paginate_path, n }, newest);
            }
        }
        for tax in site.taxonomies.iter().filter(|t| t.render) {
            each(SitemapUrl::Permalink(&tax.permalink), None);
            for term in &tax.terms {
                for n in 1..=pager_count(term.pages.len(), tax.paginate_by) {
                    each(SitemapUrl::Pager { base: &term.path, paginate_path: "page", n }, None);
                }
            }
        }
    }

    /// The pages the search index lists.
    fn search_pages(&self) -> impl Iterator<Item = &crate::site::Page> {
        self.site.pages.iter().filter(|p| {
            let section = &self.site.sections[p.section];
            p.front.in_search_index && p.front.render && section.front.in_search_index
        })
    }

    fn list_digest(&self, d: &mut Digester, pages: &[usize]) {
        d.u64(pages.len() as u64);
        for &p in pages {
            d.digest(&self.values.digests.summaries[p]);
        }
    }

    /// Renders one planned output, with the template function calls it made.
    pub fn render_traced(&self, planned: &Planned) -> (Result<Bytes, Diagnostic>, Vec<Call>) {
        templates::traced(|| self.render(planned))
    }

    /// The rendered HTML of page `i`, from its template value.
    fn page_html(&self, i: usize) -> &str {
        self.values.pages[i].get_from_path("content").and_then(Value::as_str).unwrap_or("")
    }

    fn context(&self, raw_path: &str) -> Context {
        let mut context = Context::new();
        let encoded = url::encode_path(raw_path);
        context.insert_value("config", self.values.config.clone());
        context.insert("current_url", &format!("{}{encoded}", self.site.config.base_url));
        context.insert("current_path", &encoded);
        context.insert("kiln_version", env!("CARGO_PKG_VERSION"));
        context
    }

    /// Renders `template` into bytes, with room for `body` bytes (a page's HTML, say) besides
    /// what the template itself writes. Tera's own [`tera::Tera::render`] would check the
    /// whole output again for UTF-8 and grow its buffer from the template's size on.
    fn tera(
        &self,
        template: &str,
        context: Context,
        blame: &Source,
        body: usize,
    ) -> Result<Vec<u8>, Diagnostic> {
        let mut out = Vec::with_capacity(body + TEMPLATE_ROOM);
        let templates = self.templates;
        let rendered = crate::fragments::rendering(templates, || {
            templates.tera.render_to(template, &context, &mut out)
        });
        match rendered {
            Ok(()) => Ok(out),
            Err(err) => {
                let message = templates::explain_render_error(&err, self.templates, template);
                Err(Diagnostic::error(blame.clone(), None, format!("cannot render: {message}")))
            }
        }
    }

    fn page(&self, i: usize) -> Result<Vec<u8>, Diagnostic> {
        let page = &self.site.pages[i];
        let template = page_template(self.site, i);
        let mut context = self.context(&page.path);
        context.insert_value(
            "page",
            values::with_toc(&self.values.pages[i], page.rendered.as_deref()),
        );
        context.insert_value("section", self.values.section_heads[page.section].clone());
        let body = page.content.as_str().map_or(0, str::len);
        self.tera(template, context, &page.source, body)
    }

    fn section_pager(&self, i: usize, n: usize) -> Result<Vec<u8>, Diagnostic> {
        let section = &self.site.sections[i];
        let template = section_template(self.site, i);
        let path = pager_path(&section.path, &section.front.paginate_path, n);
        let mut context = self.context(&path);
        // A paginated list's pages are in the paginator; its section value has none.
        let section_value = match section.paginate_by {
            Some(_) => &self.values.section_briefs[i],
            None => &self.values.sections[i],
        };
        context.insert_value("section", section_value.clone());
        let paginator = section.paginate_by.map(|by| {
            self.paginator(&section.pages, by, n, &section.path, &section.front.paginate_path)
        });
        context.insert_value("paginator", paginator.unwrap_or_else(Value::none));
        let listed = pager_slice(&section.pages, section.paginate_by, n).len();
        self.tera(template, context, &section.blame(), listed * LIST_ENTRY_ROOM)
    }

    fn paginator(&self, pages: &[usize], by: usize, n: usize, base: &str, pp: &str) -> Value {
        let count = pager_count(pages.len(), Some(by));
        let link = |k: usize| url::permalink(&self.site.config.base_url, &pager_path(base, pp, k));
        let slice = pages.iter().skip((n - 1) * by).take(by);
        Value::from_serializable(&Paginator {
            paginate_by: by,
            current_index: n,
            number_pagers: count,
            first: link(1),
            last: link(count),
            previous: (n > 1).then(|| link(n - 1)),
            next: (n < count).then(|| link(n + 1)),
            pages: slice.map(|&p| self.values.summaries[p].clone()).collect(),
            total_pages: pages.len(),
        })
    }

    fn taxonomy_value(&self, t: usize) -> Value {
        let tax = &self.site.taxonomies[t];
        Value::from_serializable(&TaxonomyRef {
            name: &tax.name,
            slug: &tax.slug,
            permalink: &tax.permalink,
        })
    }

    fn taxonomy_list(&self, t: usize) -> Result<Vec<u8>, Diagnostic> {
        let tax = &self.site.taxonomies[t];
        let mut context = self.context(&tax.path);
        context.insert_value("taxonomy", self.taxonomy_value(t));
        let mut terms: Vec<TermBrief> = tax
            .terms
            .iter()
            .map(|term| TermBrief {
                name: &term.name,
                slug: &term.slug,
                permalink: &term.permalink,
                page_count: term.pages.len(),
            })
            .collect();
        terms.sort_by(|a, b| {
            a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.slug.cmp(b.slug))
        });
        context.insert("terms", &terms);
        self.tera("taxonomy_list.html", context, &self.site.config.source, 0)
    }

    fn term_pager(&self, t: usize, k: usize, n: usize) -> Result<Vec<u8>, Diagnostic> {
        let tax = &self.site.taxonomies[t];
        let term = &tax.terms[k];
        let path = pager_path(&term.path, "page", n);
        let mut context = self.context(&path);
        context.insert_value("taxonomy", self.taxonomy_value(t));
        let pages: Vec<Value> =
            term.pages.iter().map(|&p| self.values.summaries[p].clone()).collect();
        context.insert(
            "term",
            &TermFull {
                name: &term.name,
                slug: &term.slug,
                permalink: &term.permalink,
                page_count: term.pages.len(),
                pages,
            },
        );
        let paginator =
            tax.paginate_by.map(|by| self.paginator(&term.pages, by, n, &term.path, "page"));
        context.insert_value("paginator", paginator.unwrap_or_else(Value::none));
        let listed = pager_slice(&term.pages, tax.paginate_by, n).len();
        self.tera("taxonomy_single.html", context, &self.site.config.source, listed * 256)
    }

    fn scope(&self, of: FeedOf) -> FeedScope {
        let site = self.site;
        let title = &site.config.title;
        let pages = feed_pages(site, of);
        match of {
            FeedOf::Site => {
                let home = site.sections[0].permalink.clone();
                FeedScope { title: title.clone(), home, dir: "/".into(), pages }
            }
            FeedOf::Section(i) => {
                let s = &site.sections[i];
                let name = s.front.title.as_deref().unwrap_or(&s.dir);
                FeedScope {
                    title: format!("{title} - {name}"),
                    home: s.permalink.clone(),
                    dir: s.path.clone(),
                    pages,
                }
            }
            FeedOf::Term(t, k) => {
                let term = &site.taxonomies[t].terms[k];
                FeedScope {
                    title: format!("{title} - {}", term.name),
                    home: term.permalink.clone(),
                    dir: term.path.clone(),
                    pages,
                }
            }
        }
    }

    fn sitemap(&self) -> String {
        let base_url = &self.site.config.base_url;
        let mut entries = Vec::new();
        self.sitemap_urls(|url, updated| {
            let permalink = match url {
                SitemapUrl::Permalink(permalink) => permalink.to_string(),
                SitemapUrl::Pager { base, paginate_path, n } => {
                    url::permalink(base_url, &pager_path(base, paginate_path, n))
                }
            };
            entries.push(SitemapEntry { permalink, updated });
        });
        feed::sitemap(entries)
    }

    fn robots(&self) -> Result<Vec<u8>, Diagnostic> {
        if self.templates.has("robots.txt") {
            return self.tera("robots.txt", self.context("/robots.txt"), &Source::Site, 0);
        }
        let base_url = &self.site.config.base_url;
        Ok(format!("User-agent: *\nAllow: /\nSitemap: {base_url}/sitemap.xml\n").into_bytes())
    }

    fn search_index(&self) -> String {
        let entries: Vec<SearchEntry> = self
            .search_pages()
            .map(|p| SearchEntry {
                title: p.front.title.as_deref(),
                url: &p.permalink,
                description: p.front.description.as_deref(),
                date: p.date.as_ref().map(crate::values::date_text),
            })
            .collect();
        serde_json::to_string(&entries).unwrap_or_default()
    }
}

/// Room for what a template writes around the text it is given: the default theme's frame
/// of a page (head, navigation, contents list, footer) is 6–10 KiB.
const TEMPLATE_ROOM: usize = 16 << 10;

/// Room for one entry of a section's list, beside [`TEMPLATE_ROOM`]: the default theme's
/// entry with a summary is about 1.5 KiB, so a pager of ten would otherwise outgrow its
/// buffer once and be copied. A term's list entries (a date and a title) get 256 bytes.
const LIST_ENTRY_ROOM: usize = 1536;

/// The template of a page: its own `template`, else the `page_template` of its closest
/// section that sets one, else `page.html`.
pub fn page_template(site: &Site, page: usize) -> &str {
    let page = &site.pages[page];
    if let Some(name) = page.front.template.as_deref() {
        return name;
    }
    let mut section = Some(page.section);
    while let Some(i) = section {
        if let Some(name) = site.sections[i].front.page_template.as_deref() {
            return name;
        }
        section = site.sections[i].parent;
    }
    "page.html"
}

/// The template of a section's list.
pub fn section_template(site: &Site, section: usize) -> &str {
    let s = &site.sections[section];
    let default = if s.parent.is_none() { "index.html" } else { "section.html" };
    s.front.template.as_deref().unwrap_or(default)
}

/// A page that sends the reader to `to` at once, for aliases and first pagers.
pub fn redirect_page(to: &str) -> String {
    let to = quick_xml::escape::escape(to);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Redirecting</title>\n\
         <link rel=\"canonical\" href=\"{to}\">\n<meta name=\"robots\" content=\"noindex\">\n\
         <meta http-equiv=\"refresh\" content=\"0; url={to}\">\n</head>\n<body>\n\
         <p>This page has moved to <a href=\"{to}\">{to}</a>.</p>\n</body>\n</html>\n"
    )
}

/// A URL of the sitemap: a permalink as it is, or pager `n` of a list at `base`.
enum SitemapUrl<'a> {
    Permalink(&'a str),
    Pager { base: &'a str, paginate_path: &'a str, n: usize },
}

#[derive(Serialize)]
struct Paginator {
    paginate_by: usize,
    current_index: usize,
    number_pagers: usize,
    first: String,
    last: String,
    previous: Option<String>,
    next: Option<String>,
    pages: Vec<Value>,
    total_pages: usize,
}

#[derive(Serialize)]
struct TaxonomyRef<'a> {
    name: &'a str,
    slug: &'a str,
    permalink: &'a str,
}

#[derive(Serialize)]
struct TermBrief<'a> {
    name: &'a str,
    slug: &'a str,
    permalink: &'a str,
    page_count: usize,
}

#[derive(Serialize)]
struct TermFull<'a> {
    name: &'a str,
    slug: &'a str,
    permalink: &'a str,
    page_count: usize,
    pages: Vec<Value>,
}

#[derive(Serialize)]
struct SearchEntry<'a> {
    title: Option<&'a str>,
    url: &'a str,
    description: Option<&'a str>,
    date: Option<String>,
}
