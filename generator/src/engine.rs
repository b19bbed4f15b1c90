//! The incremental engine: a site kept in memory between builds, brought up to date by the
//! changes it is told about.
//!
//! [`Engine::apply`] takes a set of changed paths and rebuilds only what they affect. It is
//! what `kiln watch`, `kiln serve` and the sidecar call; `kiln build` is one call on a fresh
//! engine.
//!
//! What must be redone is found from data, not from rules about which output shows what:
//!
//! - Each document is parsed again only when its bytes changed, and its markdown rendered
//!   again only when its text changed or an `@/` link in it now resolves differently.
//! - Each page value is rebuilt only when the digest of what it is built from changed.
//! - Each output has a fingerprint: the digest of its template set and of every value its
//!   context is given. Rendering also records each template function call and the digest of
//!   what it returned. An output is rendered again only when its fingerprint changed or one of
//!   its recorded calls now returns something else; otherwise the file already in the output
//!   folder is kept as it is.
//!
//! A failed apply writes nothing. The caches it filled are keyed by content, so they stay
//! valid, and the record of what is in the output folder is only replaced by a commit.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rayon::prelude::*;

use crate::config::Config;
use crate::content::{self, AssetFile, DocKind, RawDoc};
use crate::diagnostic::{self, BuildFailed, Diagnostic, Source};
use crate::digest::{Digest, Digester};
use crate::frontmatter::PageFront;
use crate::highlight::Highlighter;
use crate::output::{Keep, KnownRecord, Lock, Stager};
use crate::pipeline::{self, BuildReport, BuildRequest, MdCache, StepClock};
use crate::render::{self, Bytes, Renderer};
use crate::site::{self, BuildOptions, Parsed, Site, Skip};
use crate::snapshot::{self, InputStamp};
use crate::templates::{Call, Function, PageEntry, Templates};
use crate::values::{ValueCache, Values};

/// One change to a file under the site root, as a watcher or an API call reports it. Paths
/// may be absolute or relative to the site root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A file or folder appeared.
    Created(PathBuf),
    /// A file's bytes changed.
    Modified(PathBuf),
    /// A file or folder is gone.
    Removed(PathBuf),
    /// A file or folder moved.
    Renamed {
        /// Where it was.
        from: PathBuf,
        /// Where it is now.
        to: PathBuf,
    },
}

/// What one [`Engine::apply`] did.
#[derive(Debug)]
pub struct ApplyReport {
    /// The build's report: pages, outputs, what was written and removed, warnings.
    pub build: BuildReport,
    /// Outputs rendered again because their inputs changed (unchanged bytes are not written).
    pub rendered: usize,
    /// Wall time from the call to the last output written.
    pub elapsed: Duration,
}

/// The documents under `content/` as last read.
struct Tree {
    /// Documents by content path, each with the digest of its bytes.
    docs: BTreeMap<String, (RawDoc, Digest)>,
    section_dirs: Vec<String>,
    assets: Vec<AssetFile>,
    /// Problems of reading.
    diags: Vec<Diagnostic>,
}

/// A document as last parsed.
struct ParsedDoc {
    /// The digest of its bytes and of the config it was parsed under.
    key: Digest,
    parsed: Option<Parsed>,
    diags: Vec<Diagnostic>,
}

/// What the engine knows of one output in the folder: how it was made, and its bytes' hash.
#[derive(Clone)]
struct OutputMemo {
    fingerprint: Digest,
    /// The value digests the fingerprint was made of.
    inputs: Vec<Digest>,
    calls: Vec<Call>,
    hash: String,
}

/// Which outputs read what, from their memos: the outputs a patch must look at again.
#[derive(Default)]
struct DepIndex {
    /// Value digest to the plan indices of outputs whose fingerprint includes it.
    by_input: rustc_hash::FxHashMap<Digest, Vec<u32>>,
    /// (function, first argument) to the outputs that called it.
    by_call: rustc_hash::FxHashMap<(Function, String), Vec<u32>>,
    /// Outputs that called `now()`.
    clock: Vec<u32>,
    /// Outputs whose fingerprint reads the model itself: the sitemap and the search index.
    model: Vec<u32>,
    /// Outputs that asked `get_url` for an `@/` link or `get_taxonomy_url` for a term: what
    /// they got can change when pages come, go or move.
    links: Vec<u32>,
}

impl DepIndex {
    fn add(&mut self, index: usize, memo: &OutputMemo) {
        let index = index as u32;
        for input in &memo.inputs {
            self.by_input.entry(*input).or_default().push(index);
        }
        for call in &memo.calls {
            match call.function {
                Function::GetPage | Function::GetSection | Function::GetTaxonomy => {
                    let arg = call.args.first().cloned().unwrap_or_default();
                    self.by_call.entry((call.function, arg)).or_default().push(index);
                }
                Function::Now => self.clock.push(index),
                Function::GetUrl if call.args.first().is_some_and(|a| a.starts_with("@/")) => {
                    self.links.push(index);
                }
                Function::GetTaxonomyUrl => self.links.push(index),
                Function::GetUrl => {}
            }
        }
    }

    fn of(plan: &[render::Planned], memo: &rustc_hash::FxHashMap<String, OutputMemo>) -> Self {
        let mut index = Self::default();
        for (i, planned) in plan.iter().enumerate() {
            if matches!(planned.job, render::Job::Sitemap | render::Job::SearchIndex) {
                index.model.push(i as u32);
            }
            if let Some(memo) = memo.get(&planned.path) {
                index.add(i, memo);
            }
        }
        index
    }

    /// Moves the index onto a new plan: `old_to_new` gives each old plan index its index in
    /// the new plan, `None` for an output no longer planned.
    fn remap(&mut self, old_to_new: &[Option<u32>]) {
        let map = |list: &mut Vec<u32>| {
            list.retain_mut(|i| match old_to_new.get(*i as usize).copied().flatten() {
                Some(new) => {
                    *i = new;
                    true
                }
                None => false,
            });
        };
        self.by_input.values_mut().for_each(map);
        self.by_call.values_mut().for_each(map);
        map(&mut self.clock);
        map(&mut self.model);
        map(&mut self.links);
    }

    /// The outputs that read any of `affected`.
    fn outputs(&self, affected: &Affected) -> Vec<usize> {
        let mut out: Vec<u32> = self.model.clone();
        for input in &affected.inputs {
            out.extend(self.by_input.get(input).into_iter().flatten());
        }
        for call in &affected.calls {
            out.extend(self.by_call.get(call).into_iter().flatten());
        }
        if affected.clock {
            out.extend(&self.clock);
        }
        if affected.links {
            out.extend(&self.links);
        }
        out.sort_unstable();
        out.dedup();
        out.into_iter().map(|i| i as usize).collect()
    }
}

/// What a patch changed: the old digests of rebuilt values, the lookup entries rebuilt, and
/// whether "now" moved.
#[derive(Default)]
struct Affected {
    inputs: Vec<Digest>,
    calls: Vec<(Function, String)>,
    clock: bool,
    /// Whether pages came, went or moved, so that links and term URLs may resolve otherwise.
    links: bool,
}

/// How a patch found the outputs to look at again.
enum Patched {
    /// The plan is the last one; these are what its edits changed.
    Values(Affected),
    /// The plan was made again: look at these outputs of it.
    Structure(Vec<usize>),
}

/// What the edits since the last apply need.
enum Patchable {
    /// Values only: for each edited page its index, front matter, body, body line and
    /// digests.
    Values(Vec<ValueEdit>),
    /// The page list, its order or the terms change: each edited content path with its
    /// document now (`None` when it is gone).
    Structure(Vec<(String, Option<site::PageDoc>)>),
}

/// An edit of a page that changes only values: its index, front matter, body, body line,
/// digest and front matter digest.
type ValueEdit = (usize, Arc<PageFront>, Arc<str>, usize, Digest, Digest);

/// The loaded config, with its digest and the warnings loading it gave.
struct LoadedConfig {
    config: Config,
    warnings: Vec<Diagnostic>,
    digest: Digest,
}

/// A site kept in memory, ready to take changes.
pub struct Engine {
    request: BuildRequest,
    root: PathBuf,
    state_dir: PathBuf,
    output: PathBuf,
    config: Option<LoadedConfig>,
    tree: Option<Tree>,
    parsed: HashMap<String, ParsedDoc>,
    markdown: MdCache,
    /// Who links to what, from `markdown`; built when a structure patch first needs it.
    backlinks: Option<pipeline::Backlinks>,
    values: ValueCache,
    highlighter: Option<Option<Arc<Highlighter>>>,
    templates: Option<Templates>,
    memo: rustc_hash::FxHashMap<String, OutputMemo>,
    known: Option<KnownRecord>,
    /// From the last good build: the earliest date of a future page left out.
    next_future: Option<chrono::DateTime<Utc>>,
    /// From the last good build: the latest date of a published page.
    latest_published: Option<chrono::DateTime<Utc>>,
    /// What the last good apply built, while the site's structure may still be the same.
    kept: Option<Prepared>,
    /// Pages whose files changed and nothing else, since the last apply: the edits that a
    /// patch of `kept` may be enough for.
    edited: Vec<String>,
    /// Which outputs of `kept`'s plan read what; built when a patch first needs it.
    index: Option<DepIndex>,
    /// Short hashes of copied files, for `get_url(cachebust=true)`.
    file_hashes: pipeline::FileHashes,
    /// Built for one apply only: keeps nothing for a next one.
    one_shot: bool,
    /// Whether `.kiln/` has been rid of what it kept for output folders that are gone.
    swept: bool,
    /// Whether an output of the last good apply called `now()`.
    uses_clock: bool,
}

/// What a set of changes means for the engine's caches.
#[derive(Default, Debug)]
struct Dirty {
    config: bool,
    templates: bool,
    content: bool,
    /// Static files.
    other: bool,
    docs: Vec<String>,
}

impl Engine {
    /// An engine for the site of `request`. Nothing is read or written until the first
    /// [`Engine::apply`], which builds everything.
    pub fn new(request: BuildRequest) -> Self {
        let root = request.root.canonicalize().unwrap_or_else(|_| request.root.clone());
        let state_dir = root.join(".kiln");
        let output = request.output.clone().unwrap_or_else(|| root.join("public"));
        Self {
            request,
            root,
            state_dir,
            output,
            config: None,
            tree: None,
            parsed: HashMap::new(),
            markdown: MdCache::new(),
            backlinks: None,
            values: ValueCache::default(),
            highlighter: None,
            templates: None,
            memo: Default::default(),
            known: None,
            next_future: None,
            latest_published: None,
            kept: None,
            edited: Vec::new(),
            index: None,
            file_hashes: HashMap::new(),
            one_shot: false,
            swept: false,
            uses_clock: false,
        }
    }

    /// An engine for one build only, as `kiln build` runs it: it frees what a next apply
    /// would reuse as soon as this one is done with it. A second apply still works; it
    /// builds everything.
    pub fn one_shot(request: BuildRequest) -> Self {
        Self { one_shot: true, ..Self::new(request) }
    }

    /// The request the engine builds.
    pub fn request(&self) -> &BuildRequest {
        &self.request
    }

    /// The output folder.
    pub fn output(&self) -> &Path {
        &self.output
    }

    /// Brings the output up to date after `changes`. An empty slice after the first call means
    /// "nothing changed"; the first call builds everything whatever it is given.
    ///
    /// A failed apply changes nothing in the output folder and keeps the last good state, so
    /// the next apply starts from it.
    pub fn apply(&mut self, changes: &[Change]) -> Result<ApplyReport, BuildFailed> {
        let started = Instant::now();
        self.refuse_output_among_inputs()?;
        let lock = Lock::acquire(&self.state_dir).map_err(|err| {
            fail(vec![Diagnostic::error(
                None,
                None,
                format!("cannot lock {}: {err}", self.state_dir.display()),
            )])
        })?;
        if !self.swept {
            crate::output::sweep_gone(&self.state_dir);
            self.swept = true;
        }
        self.forget(changes);
        let result = self.build(started);
        drop(lock);
        result
    }

    /// When the last one-shot build of this output left a snapshot that still matches every
    /// input and output ([`crate::snapshot`]), the report of a build that would change nothing.
    pub fn unchanged_since_last_build(&self) -> Option<BuildReport> {
        let started = Instant::now();
        let output = self.output.canonicalize().ok()?;
        let _lock = Lock::acquire(&self.state_dir).ok()?;
        let now = self.request.now.unwrap_or_else(Utc::now);
        let snapshot =
            snapshot::unchanged(&self.root, &self.state_dir, &output, &self.request, now)?;
        Some(BuildReport {
            pages: snapshot.pages,
            sections: snapshot.sections,
            outputs: snapshot.outputs.len(),
            write: crate::output::WriteReport {
                written: Vec::new(),
                unchanged: snapshot.outputs.len(),
                removed: Vec::new(),
            },
            skipped: snapshot.skipped,
            warnings: snapshot.warnings,
            elapsed: started.elapsed(),
        })
    }

    /// The site root, canonical when it exists.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Saves the snapshot of a one-shot build that just succeeded with `report`, from input
    /// stamps taken before it started at `started` (nanoseconds since the epoch).
    pub fn save_snapshot(&self, inputs: Vec<InputStamp>, started: u64, report: &BuildReport) {
        let (Some(known), Ok(output)) = (&self.known, self.output.canonicalize()) else { return };
        let uses_clock = self.uses_clock;
        let summary = snapshot::Summary {
            pages: report.pages,
            sections: report.sections,
            skipped: report.skipped.clone(),
            warnings: report.warnings.clone(),
            next_future: self.next_future,
            latest_published: self.latest_published,
            uses_clock,
        };
        snapshot::save(&self.state_dir, &output, &self.request, inputs, started, known, summary);
    }

    /// An output folder inside a folder the build reads would be read back in as input by
    /// the next build: refused before anything is written.
    fn refuse_output_among_inputs(&self) -> Result<(), BuildFailed> {
        let output = self.output.canonicalize().unwrap_or_else(|_| normalize(&self.output));
        for input in ["content", "static", "templates", "themes"] {
            let dir = self.root.join(input);
            if output.starts_with(&dir) {
                let message = format!(
                    "the output folder {} is inside {input}/, which the build reads: choose an \
                     output folder outside content/, static/, templates/ and themes/",
                    self.output.display()
                );
                return Err(fail(vec![Diagnostic::error(None, None, message)]));
            }
        }
        Ok(())
    }

    /// Drops whatever `changes` make stale.
    fn forget(&mut self, changes: &[Change]) {
        let mut dirty = Dirty::default();
        for change in changes {
            match change {
                Change::Created(path) | Change::Modified(path) | Change::Removed(path) => {
                    self.mark(path, &mut dirty);
                }
                Change::Renamed { from, to } => {
                    self.mark(from, &mut dirty);
                    self.mark(to, &mut dirty);
                }
            }
        }
        let only_pages = !dirty.config && !dirty.templates && !dirty.content && !dirty.other;
        if only_pages {
            self.edited.extend(dirty.docs.iter().cloned());
        } else {
            self.kept = None;
            self.edited.clear();
        }
        if dirty.config {
            self.config = None;
            self.parsed.clear();
            // Parsing again needs the bytes, which the tree does not keep.
            self.tree = None;
            self.highlighter = None;
            self.templates = None;
        }
        if dirty.templates {
            self.templates = None;
        }
        if dirty.content {
            self.tree = None;
        } else if let Some(tree) = &mut self.tree {
            for content_path in dirty.docs {
                if !reread(&self.root, tree, &content_path) {
                    self.tree = None;
                    self.kept = None;
                    break;
                }
            }
        }
    }

    fn mark(&self, path: &Path, dirty: &mut Dirty) {
        match self.classify(path) {
            Class::Ignored => {}
            Class::Config => dirty.config = true,
            Class::Templates => dirty.templates = true,
            Class::Static => dirty.other = true,
            Class::Doc(content_path) => {
                let known_dir = self.tree.as_ref().is_some_and(|tree| {
                    tree.section_dirs
                        .binary_search_by(|d| d.as_str().cmp(content::parent_of(&content_path)))
                        .is_ok()
                });
                if known_dir && !self.root.join("content").join(&content_path).is_dir() {
                    dirty.docs.push(content_path);
                } else {
                    dirty.content = true;
                }
            }
            Class::Content => dirty.content = true,
            Class::Unknown => {
                dirty.content = true;
                dirty.templates = true;
            }
        }
    }

    /// What a changed path is to the build.
    fn classify(&self, path: &Path) -> Class {
        let absolute = if path.is_absolute() { path.to_path_buf() } else { self.root.join(path) };
        let absolute = normalize(&absolute);
        let output = normalize(&self.output);
        if absolute.starts_with(&output) || absolute.starts_with(&self.state_dir) {
            return Class::Ignored;
        }
        let Ok(rel) = absolute.strip_prefix(&self.root) else {
            // Somewhere else: a folder that a symlink under the root points to.
            return Class::Unknown;
        };
        let parts: Vec<String> =
            rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let Some(first) = parts.first() else { return Class::Unknown };
        // `static/` publishes hidden files; elsewhere they are never inputs.
        let leftover = |part: &String| match first.as_str() {
            "static" => content::is_editor_leftover(part),
            _ => content::is_editor_artifact(part),
        };
        if parts.iter().skip(1).any(leftover) {
            return Class::Ignored;
        }
        match (first.as_str(), parts.len()) {
            ("kiln.toml" | "config.toml", 1) => Class::Config,
            ("templates" | "themes", _) => Class::Templates,
            ("static", _) => Class::Static,
            ("content", 1) => Class::Content,
            ("content", _) => {
                let content_path = parts[1..].join("/");
                let name = parts.last().map_or("", String::as_str);
                if name.ends_with(".md") && name != "index.md" {
                    Class::Doc(content_path)
                } else {
                    Class::Content
                }
            }
            _ => Class::Ignored,
        }
    }

    fn build(&mut self, started: Instant) -> Result<ApplyReport, BuildFailed> {
        let mut clock = StepClock::new();
        let edited = std::mem::take(&mut self.edited);
        let patched = match self.kept.take() {
            Some(kept) => self.patch(kept, &edited),
            None => None,
        };
        let prepared = match patched {
            Some(prepared) => {
                clock.step("patch");
                prepared
            }
            None => self.prepare(&mut clock)?,
        };
        self.finish(prepared, started, clock)
    }

    /// Builds the model, markdown, values, lookup and plan from the caches. Fails, having
    /// written nothing, when the site has errors.
    fn prepare(&mut self, clock: &mut StepClock) -> Result<Prepared, BuildFailed> {
        let mut fixed = Vec::new();

        // Config and options.
        if self.config.is_none() {
            self.config = Some(load_config(&self.root, &self.request)?);
        }
        let Some(loaded) = &self.config else { unreachable!("the config was just loaded") };
        fixed.extend(loaded.warnings.iter().cloned());
        let now = self.request.now.unwrap_or_else(Utc::now);
        let options = BuildOptions { drafts: self.request.drafts, now };
        let site_digest = loaded.digest;

        // Content.
        if self.tree.is_none() {
            self.tree = Some(read_tree(&self.root));
        }
        let Some(tree) = &mut self.tree else { unreachable!("the tree was just read") };
        fixed.extend(tree.diags.iter().cloned());
        clock.step("load content");
        let (parsed, broken, parse_diags) =
            parse_cached(tree, &mut self.parsed, &loaded.config, &site_digest);
        let tree = &*tree;
        let (mut site, site_diags) = Site::assemble_parsed(
            loaded.config.clone(),
            parsed,
            broken,
            &tree.section_dirs,
            Vec::new(),
            &options,
        );
        fixed.extend(site_diags);
        site.files = pipeline::file_targets(&site, &tree.assets);
        clock.step("parse and assemble");
        for (source, skip) in &site.skipped {
            let why = match skip {
                Skip::Draft => "a draft (build with --drafts to include it)",
                Skip::Future => "dated in the future",
            };
            tracing::info!("skipped {source}: {why}");
        }

        // Markdown.
        let highlighter = self
            .highlighter
            .get_or_insert_with(|| {
                site.config
                    .markdown
                    .highlight_code
                    .then(Highlighter::with_default_themes)
                    .and_then(Result::ok)
                    .map(Arc::new)
            })
            .clone();
        // The markdown text is most of what the engine would keep of the content, and it is
        // only read again when a page must be rendered again without having changed (a link
        // in it now resolves differently): let go of it, and read it again then. The model's
        // copy goes as each page is rendered. (Only text that came from a file can be read
        // again.)
        for doc in self.parsed.values_mut() {
            if let Some(Parsed::Page { body, doc, .. }) = &mut doc.parsed
                && matches!(doc.source, Source::File(_))
            {
                *body = Arc::from("");
            }
        }
        let root = self.root.clone();
        let config = &loaded.config;
        let reload = |page: &crate::site::Page| reload_body(&root, config, page);
        let markdown_diags = pipeline::render_markdown(
            &mut site,
            highlighter.as_deref(),
            &mut self.markdown,
            None,
            &reload,
        );
        self.backlinks = None;
        if self.one_shot {
            // Nothing will be rendered again: the sections' markdown and the parsed documents
            // are not needed any more (the pages' text went as each was rendered).
            for section in &mut site.sections {
                section.body = String::new();
            }
            self.parsed.clear();
        }
        clock.step("markdown");

        // Templates and files.
        if self.templates.is_none() {
            match Templates::load(&self.root, site.config.theme.as_deref(), site.config.timezone) {
                Ok(templates) => {
                    // Only an engine that builds again has a use for the partials kept.
                    if !self.one_shot {
                        templates.fragments.keep();
                    }
                    self.templates = Some(templates)
                }
                Err(errors) => {
                    let mut diags = fixed;
                    diags.extend(parse_diags);
                    diags.extend(markdown_diags);
                    diags.extend(errors);
                    return Err(fail(diags));
                }
            }
        }
        let Some(templates) = &self.templates else { unreachable!("templates were just loaded") };
        fixed.extend(pipeline::check_named_templates(&site, templates));
        let (copies, asset_urls) = pipeline::files_to_copy(&self.root, &site, &tree.assets);
        let embedded = pipeline::embedded_static(highlighter.as_deref());
        clock.step("templates and files");

        // Values and the plan.
        let values = Values::build_cached(&site, &asset_urls, &mut self.values, &site_digest);
        clock.step("page values");
        let mut lookup =
            pipeline::lookup(&site, &values, &copies, &embedded, &mut self.file_hashes);
        lookup.now = crate::values::date_text(&now);
        templates.set_lookup(lookup);
        clock.step("template values");
        let (plan, plan_errors) = render::plan(&site, copies, embedded);
        fixed.extend(plan_errors);
        if self.one_shot {
            // The parsed documents are gone, so a next apply reads everything again.
            self.tree = None;
        }
        Ok(Prepared {
            site,
            values,
            plan,
            fixed,
            parse_diags,
            markdown_diags,
            asset_urls,
            patched: None,
        })
    }

    /// Patches what the last good apply built after edits of the pages at `edited` (content
    /// paths) that leave the site's structure as it was: only their text, title,
    /// description or `extra` changed. Returns `None`, having changed nothing the next full
    /// preparation needs, for any other edit.
    fn patch(&mut self, kept: Prepared, edited: &[String]) -> Option<Prepared> {
        match self.patchable(&kept, edited) {
            Some(Patchable::Values(changed)) => self.patch_values(kept, changed),
            Some(Patchable::Structure(edits)) => self.patch_structure(kept, edits),
            None => discard(kept),
        }
    }

    /// The patch for edits that change only values ([`Patchable::Values`]).
    fn patch_values(&mut self, kept: Prepared, changed: Vec<ValueEdit>) -> Option<Prepared> {
        let Prepared {
            mut site,
            mut values,
            plan,
            fixed,
            parse_diags,
            markdown_diags,
            asset_urls,
            ..
        } = kept;
        let site_digest = self.config.as_ref()?.digest;
        self.templates.as_ref()?;
        let now = self.request.now.unwrap_or_else(Utc::now);
        let mut pages = Vec::with_capacity(changed.len());
        for (i, front, body, body_line, digest, front_digest) in changed {
            let page = &mut site.pages[i];
            page.front = front;
            page.body = body;
            page.body_line = body_line;
            page.digest = digest;
            page.front_digest = front_digest;
            pages.push(i);
        }
        pages.sort_unstable();
        pages.dedup();
        let sources: Vec<Source> = pages.iter().map(|&i| site.pages[i].source.clone()).collect();
        let mut parse_diags = parse_diags;
        parse_diags.retain(|d| d.source.as_ref().is_none_or(|s| !sources.contains(s)));
        for &i in &pages {
            parse_diags.extend(self.parsed[&site.pages[i].content_path].diags.iter().cloned());
        }
        let markdown_diags = self.render_pages(&mut site, &pages, &sources, markdown_diags);

        let old_summaries: Vec<Digest> =
            pages.iter().map(|&i| values.digests.summaries[i]).collect();
        let old_pages = values.digests.pages.clone();
        let old_sections = values.digests.sections.clone();
        let (rebuilt, sections) =
            values.patch(&site, &asset_urls, &mut self.values, &site_digest, &pages);
        let mut affected = Affected { clock: self.request.now.is_none(), ..Affected::default() };
        // Only digests that changed can change a fingerprint.
        let summaries =
            pages.iter().zip(old_summaries).map(|(&i, old)| (old, values.digests.summaries[i]));
        let full = rebuilt.iter().map(|&i| (old_pages[i], values.digests.pages[i]));
        let lists = sections.iter().map(|&s| (old_sections[s], values.digests.sections[s]));
        affected
            .inputs
            .extend(summaries.chain(full).chain(lists).filter(|(a, b)| a != b).map(|(a, _)| a));
        for &i in &rebuilt {
            affected.calls.push((Function::GetPage, site.pages[i].content_path.clone()));
        }
        for &s in &sections {
            affected.calls.push((Function::GetSection, site.sections[s].content_path.clone()));
        }
        let Some(templates) = &self.templates else { unreachable!("templates are loaded") };
        templates.update_lookup(|lookup| {
            for &i in &rebuilt {
                let entry = PageEntry::of(&site, &values, i);
                lookup.pages.insert(site.pages[i].content_path.clone(), entry);
            }
            for &s in &sections {
                let entry = (values.sections[s].clone(), values.digests.sections[s]);
                lookup.sections.insert(site.sections[s].content_path.clone(), entry);
            }
            let mut taxonomies: Vec<usize> =
                pages.iter().flat_map(|&i| site.pages[i].terms.iter().map(|&(t, _)| t)).collect();
            taxonomies.sort_unstable();
            taxonomies.dedup();
            for t in taxonomies {
                let tax = &site.taxonomies[t];
                affected.calls.push((Function::GetTaxonomy, tax.name.clone()));
                let entry = pipeline::taxonomy_value(&site, &values, tax);
                lookup.taxonomies.insert(tax.name.clone(), entry);
            }
            lookup.now = crate::values::date_text(&now);
        });
        Some(Prepared {
            site,
            values,
            plan,
            fixed,
            parse_diags,
            markdown_diags,
            asset_urls,
            patched: Some(Patched::Values(affected)),
        })
    }

    /// What the edits at `edited` (content paths of page files in known section folders)
    /// need from a patch of `kept`; `None` when they need a full preparation.
    fn patchable(&mut self, kept: &Prepared, edited: &[String]) -> Option<Patchable> {
        let site = &kept.site;
        let loaded = self.config.as_ref()?;
        let tree = self.tree.as_ref()?;
        let templates = self.templates.as_ref()?;
        let now = self.request.now.unwrap_or_else(Utc::now);
        if site.next_future.is_some_and(|date| date <= now) {
            return None;
        }
        let site_digest = loaded.digest;
        let mut edited: Vec<&String> = edited.iter().collect();
        edited.sort_unstable();
        edited.dedup();
        let mut values = Vec::new();
        let mut structure = Vec::new();
        let mut same = true;
        for path in edited {
            let Some((doc, digest)) = tree.docs.get(path) else {
                same = false;
                structure.push((path.clone(), None));
                continue;
            };
            let key = parse_key(&site_digest, digest);
            if self.parsed.get(path).is_none_or(|cached| cached.key != key) {
                let (parsed, diags) = site::parse_doc_digested(doc, &loaded.config, Some(*digest));
                self.parsed.insert(path.clone(), ParsedDoc { key, parsed, diags });
            }
            let Some(Parsed::Page { doc, front, body, body_line }) = &self.parsed[path].parsed
            else {
                return None;
            };
            match site.targets.get(path.as_str()) {
                Some(site::Target::Page(i)) if same_structure(site, *i, front) => {
                    values.push((
                        *i,
                        front.clone(),
                        body.clone(),
                        *body_line,
                        doc.digest,
                        doc.front_digest,
                    ));
                }
                _ => same = false,
            }
            // A template that is missing is reported by the full preparation.
            if front
                .template
                .as_deref()
                .is_some_and(|name| !templates.has(name) || templates.dropped.contains_key(name))
            {
                return None;
            }
            structure
                .push((path.clone(), Some((doc.clone(), front.clone(), body.clone(), *body_line))));
        }
        if same {
            return Some(Patchable::Values(values));
        }
        // So is a taxonomy that kiln.toml does not declare: the model's config has it once a
        // build added it, but its warning names the first page that uses it.
        let undeclared = |front: &PageFront| {
            front.taxonomies.keys().any(|name| loaded.config.taxonomy(name).is_none())
        };
        if structure.iter().any(|(_, doc)| doc.as_ref().is_some_and(|(_, f, ..)| undeclared(f))) {
            return None;
        }
        // Problems the full preparation found with an edited page may be gone now; only it
        // can tell.
        let blamed = |d: &Diagnostic| {
            d.source.as_ref().is_some_and(|source| {
                structure
                    .iter()
                    .any(|(path, _)| *source == Source::File(format!("content/{path}").into()))
            })
        };
        if kept.fixed.iter().any(blamed) {
            return None;
        }
        Some(Patchable::Structure(structure))
    }

    /// The patch for edits that change the page list, its order or the terms
    /// ([`Patchable::Structure`]): the model is reassembled around the edited pages, their
    /// markdown and values made, and the outputs are planned again. `None` when the edits
    /// need a full preparation after all.
    fn patch_structure(
        &mut self,
        mut kept: Prepared,
        edits: Vec<(String, Option<site::PageDoc>)>,
    ) -> Option<Prepared> {
        let now = self.request.now.unwrap_or_else(Utc::now);
        let options = BuildOptions { drafts: self.request.drafts, now };
        let (Some(loaded), Some(_)) = (self.config.as_ref(), self.templates.as_ref()) else {
            return discard(kept);
        };
        let site_digest = loaded.digest;
        let paths: Vec<String> = edits.iter().map(|(path, _)| path.clone()).collect();
        let mut clock = StepClock::new();
        let gone: Vec<String> =
            edits.iter().filter(|(_, doc)| doc.is_none()).map(|(path, _)| path.clone()).collect();
        // What `@/` links to the edited pages resolved to.
        let resolved: Vec<Option<(String, Option<Skip>)>> =
            paths.iter().map(|path| kept.site.resolve(path)).collect();
        // The values of the edited pages as they were: outputs that read them must be looked
        // at again.
        let mut was: Vec<Digest> = Vec::new();
        for path in &paths {
            if let Some(site::Target::Page(i)) = kept.site.targets.get(path.as_str()) {
                was.push(kept.values.digests.summaries[*i]);
                was.push(kept.values.digests.pages[*i]);
            }
        }
        let Some(re) = kept.site.reassemble(edits, &options) else { return discard(kept) };
        clock.step("  reassemble");
        let Prepared {
            mut site,
            mut values,
            plan: old_plan,
            fixed,
            parse_diags,
            markdown_diags,
            asset_urls,
            ..
        } = kept;

        // Documents that link to an edited page that now resolves otherwise render their
        // links again; a section among them is left to the full preparation.
        let moved: Vec<&str> = paths
            .iter()
            .zip(&resolved)
            .filter(|(path, then)| site.resolve(path) != **then)
            .map(|(path, _)| path.as_str())
            .collect();
        let mut linking: Vec<String> = Vec::new();
        if !moved.is_empty() {
            let markdown = &self.markdown;
            let index = self.backlinks.get_or_insert_with(|| pipeline::backlinks(markdown));
            linking.extend(moved.iter().filter_map(|path| index.get(*path)).flatten().cloned());
            linking.sort_unstable();
            linking.dedup();
        }
        if linking
            .iter()
            .any(|path| matches!(site.targets.get(path.as_str()), Some(site::Target::Section(_))))
        {
            return discard(Prepared {
                site,
                values,
                plan: old_plan,
                fixed,
                parse_diags,
                markdown_diags,
                asset_urls,
                patched: None,
            });
        }

        // Markdown of the fresh pages and of those that link to a moved one.
        let mut touched: Vec<usize> = re.fresh.clone();
        for path in &linking {
            if let Some(site::Target::Page(i)) = site.targets.get(path.as_str()) {
                touched.push(*i);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        let sources: Vec<Source> = paths
            .iter()
            .chain(&linking)
            .map(|p| Source::File(format!("content/{p}").into()))
            .collect();
        let mut parse_diags = parse_diags;
        parse_diags.retain(|d| d.source.as_ref().is_none_or(|s| !sources.contains(s)));
        // A deleted document's problems go with it.
        for path in &gone {
            self.parsed.remove(path);
        }
        for path in &paths {
            if let Some(doc) = self.parsed.get(path) {
                parse_diags.extend(doc.diags.iter().cloned());
            }
        }
        for path in &gone {
            self.markdown.remove(path);
        }
        let markdown_diags = self.render_pages(&mut site, &touched, &sources, markdown_diags);

        // Values, the lookup and the plan.
        clock.step("  markdown");
        let refreshed = values.reassembled(
            &site,
            &asset_urls,
            &mut self.values,
            &site_digest,
            &re,
            &touched,
            &gone,
        );
        clock.step("  values");
        let mut affected = Affected {
            inputs: refreshed.old_digests.into_iter().chain(was).collect(),
            clock: self.request.now.is_none(),
            links: true,
            ..Affected::default()
        };
        for path in &paths {
            affected.calls.push((Function::GetPage, path.clone()));
        }
        for &i in &refreshed.pages {
            affected.calls.push((Function::GetPage, site.pages[i].content_path.clone()));
        }
        for &s in &refreshed.sections {
            affected.calls.push((Function::GetSection, site.sections[s].content_path.clone()));
        }
        let Some(templates) = &self.templates else { unreachable!("templates are loaded") };
        let old_taxonomies =
            templates.current_lookup().taxonomies.keys().cloned().collect::<Vec<_>>();
        for name in old_taxonomies.into_iter().chain(site.taxonomies.iter().map(|t| t.name.clone()))
        {
            affected.calls.push((Function::GetTaxonomy, name));
        }
        // The lookup and the plan read the model and nothing of each other.
        let update_lookup = || {
            templates.update_lookup(|lookup| {
                for path in &paths {
                    lookup.pages.remove(path);
                    match site.resolve(path) {
                        Some((url, _)) => lookup.permalinks.insert(path.clone(), url),
                        None => lookup.permalinks.remove(path),
                    };
                }
                for &i in &refreshed.pages {
                    let entry = PageEntry::of(&site, &values, i);
                    lookup.pages.insert(site.pages[i].content_path.clone(), entry);
                }
                for &s in &refreshed.sections {
                    let entry = (values.sections[s].clone(), values.digests.sections[s]);
                    lookup.sections.insert(site.sections[s].content_path.clone(), entry);
                }
                lookup.term_urls.clear();
                lookup.taxonomies.clear();
                for tax in &site.taxonomies {
                    for term in &tax.terms {
                        let key = (tax.name.clone(), term.slug.clone());
                        lookup.term_urls.insert(key, term.permalink.clone());
                    }
                    lookup
                        .taxonomies
                        .insert(tax.name.clone(), pipeline::taxonomy_value(&site, &values, tax));
                }
                lookup.now = crate::values::date_text(&now);
            })
        };
        let ((), (plan, plan_errors)) = rayon::join(update_lookup, || {
            let (copies, embedded) = render::files_of(&old_plan);
            render::plan(&site, copies, embedded)
        });
        clock.step("  lookup and plan");
        if !plan_errors.is_empty() {
            return discard(Prepared {
                site,
                values,
                plan,
                fixed,
                parse_diags,
                markdown_diags,
                asset_urls,
                patched: None,
            });
        }

        // The outputs to look at: those that read what changed, every list and feed, every
        // output of an edited page, and every output that is new or made from something else
        // than before.
        let index = self.index.get_or_insert_with(|| DepIndex::of(&old_plan, &self.memo));
        clock.step("  index");
        let position: rustc_hash::FxHashMap<&str, u32> =
            plan.iter().enumerate().map(|(i, p)| (p.path.as_str(), i as u32)).collect();
        let old_to_new: Vec<Option<u32>> =
            old_plan.iter().map(|p| position.get(p.path.as_str()).copied()).collect();
        let mut new_to_old: Vec<Option<usize>> = vec![None; plan.len()];
        for (old, new) in old_to_new.iter().enumerate() {
            if let Some(new) = new {
                new_to_old[*new as usize] = Some(old);
            }
        }
        let mut subset: Vec<usize> = index
            .outputs(&affected)
            .into_iter()
            .filter_map(|i| old_to_new[i].map(|new| new as usize))
            .collect();
        let looked_at = |(i, planned): (usize, &render::Planned)| {
            // Section lists and their feeds only when a section's list changed; those that
            // show a changed page are found through the index.
            let list = match &planned.job {
                render::Job::SectionPager(..) => re.lists_changed,
                render::Job::Atom(of) | render::Job::Rss(of) => {
                    re.lists_changed || matches!(of, render::FeedOf::Term(..))
                }
                render::Job::TermPager(..)
                | render::Job::TaxonomyList(_)
                | render::Job::Sitemap
                | render::Job::SearchIndex => true,
                _ => false,
            };
            let edited = planned.sources.iter().any(|source| sources.contains(source));
            let moved = new_to_old[i].is_none_or(|old| {
                // A section's `redirect_to = "@/…"` follows a page that is not among its
                // sources.
                let retargeted = match (&old_plan[old].job, &planned.job) {
                    (render::Job::Redirect(then), render::Job::Redirect(now)) => then != now,
                    _ => false,
                };
                old_plan[old].sources != planned.sources || retargeted
            });
            (list || edited || moved).then_some(i)
        };
        subset.par_extend(plan.par_iter().enumerate().with_min_len(256).filter_map(looked_at));
        subset.sort_unstable();
        subset.dedup();
        index.remap(&old_to_new);
        // The last plan holds a string and a list of sources per output.
        free_later(old_plan);
        clock.step("  subset");
        Some(Prepared {
            site,
            values,
            plan,
            fixed,
            parse_diags,
            markdown_diags,
            asset_urls,
            patched: Some(Patched::Structure(subset)),
        })
    }

    /// Renders the markdown of the pages at `pages` of a patched model (again only where
    /// their text or links changed), keeps the backlinks up to date and lets go of the
    /// parsed copies of their texts. Returns `markdown_diags` with the problems of `sources`
    /// replaced by the fresh ones.
    fn render_pages(
        &mut self,
        site: &mut Site,
        pages: &[usize],
        sources: &[Source],
        mut markdown_diags: Vec<Diagnostic>,
    ) -> Vec<Diagnostic> {
        let highlighter = self.highlighter.clone().flatten();
        let root = &self.root;
        let config = self.config.as_ref().map(|loaded| &loaded.config);
        let reload = |page: &crate::site::Page| config.and_then(|c| reload_body(root, c, page));
        let fresh = pipeline::render_markdown(
            site,
            highlighter.as_deref(),
            &mut self.markdown,
            Some(pages),
            &reload,
        );
        if let Some(index) = &mut self.backlinks {
            let paths = pages.iter().map(|&i| &site.pages[i].content_path);
            pipeline::add_backlinks(&self.markdown, paths, index);
        }
        // The model's copy of each text went as it was rendered; let go of the parsed one.
        for &i in pages {
            if !matches!(site.pages[i].source, Source::File(_)) {
                continue;
            }
            if let Some(ParsedDoc { parsed: Some(Parsed::Page { body, .. }), .. }) =
                self.parsed.get_mut(&site.pages[i].content_path)
            {
                *body = Arc::from("");
            }
        }
        markdown_diags.retain(|d| d.source.as_ref().is_none_or(|s| !sources.contains(s)));
        markdown_diags.extend(fresh);
        markdown_diags
    }

    /// Renders what changed, stages and commits it, and keeps what was built for the next
    /// apply.
    fn finish(
        &mut self,
        prepared: Prepared,
        started: Instant,
        mut clock: StepClock,
    ) -> Result<ApplyReport, BuildFailed> {
        let Some(templates) = &self.templates else { unreachable!("templates are loaded") };
        let site = &prepared.site;
        let mut diags = prepared.fixed.clone();
        diags.extend(prepared.parse_diags.iter().cloned());
        diags.extend(prepared.markdown_diags.iter().cloned());
        diags.extend(pipeline::check_anchors(site));
        let lookup = templates.current_lookup();
        let plan = &prepared.plan;
        let renderer = Renderer { site, values: &prepared.values, templates };
        let values = &prepared.values;
        templates.fragments.know(&values.summaries, &values.digests.summaries);

        // With errors already found, render without writing, only to report the render errors
        // too; the output folder is not touched.
        if diags.iter().any(Diagnostic::is_error) {
            // A template already reported missing would only be reported again per output.
            let usable = |planned: &&render::Planned| {
                planned.template(site).is_none_or(|name| templates.has(name))
            };
            let errors: Vec<Diagnostic> = plan
                .par_iter()
                .filter(usable)
                .filter_map(|planned| renderer.render(planned).err())
                .collect();
            diags.extend(errors);
            return Err(fail(diags));
        }

        // Render what changed, stage, and commit.
        let mut stager = Stager::open_known(&self.state_dir, &self.output, self.known.take())
            .map_err(|err| {
                fail(vec![Diagnostic::error(
                    None,
                    None,
                    format!("cannot open output {}: {err}", self.output.display()),
                )])
            })?;
        if self.request.force {
            stager.distrust_record();
        }
        // A patch looks again only at the outputs that read what it changed.
        let mut subset: Vec<usize> = match &prepared.patched {
            Some(Patched::Values(affected)) if stager.record_is_known() => {
                let index = self.index.get_or_insert_with(|| DepIndex::of(plan, &self.memo));
                index.outputs(affected)
            }
            Some(Patched::Structure(subset)) if stager.record_is_known() => subset.clone(),
            _ => (0..plan.len()).collect(),
        };
        render::render_order(site, plan, &mut subset);
        let old_memo = &self.memo;
        let one_shot = self.one_shot;
        // A one-shot build keeps no memo, so it only notes whether any output read the clock.
        let clock_read = std::sync::atomic::AtomicBool::new(false);
        // Outputs differ in cost by a thousandfold (a term's list of every page against a
        // post), so each is its own task: rayon would otherwise render a long run of them on
        // one thread while the other waits.
        let outcomes: Vec<Outcome> = subset
            .par_iter()
            .with_max_len(1)
            .map(|&i| {
                let planned = &plan[i];
                let (fingerprint, inputs) =
                    match (!one_shot).then(|| renderer.fingerprint(planned)).flatten() {
                        Some((fingerprint, inputs)) => (Some(fingerprint), inputs),
                        None => (None, Vec::new()),
                    };
                if let Some(fingerprint) = fingerprint
                    && let Some(known) = old_memo.get(&planned.path)
                    && known.fingerprint == fingerprint
                    && lookup.replays(&known.calls)
                    && stager.can_keep(&planned.path, &known.hash)
                {
                    return Outcome::Kept;
                }
                let (bytes, calls) = renderer.render_traced(planned);
                if calls.iter().any(|call| call.function == Function::Now) {
                    clock_read.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                let staged = bytes.and_then(|bytes| match bytes {
                    Bytes::Owned(bytes) => {
                        stager.stage(&planned.path, &bytes, planned.sources.clone())
                    }
                    Bytes::Shared(bytes) => {
                        stager.stage(&planned.path, &bytes, planned.sources.clone())
                    }
                    Bytes::File(from) => {
                        stager.stage_copy(&planned.path, &from, planned.sources.clone())
                    }
                });
                match (staged, fingerprint, stager.staged_hash(&planned.path)) {
                    (Err(err), ..) => Outcome::Failed(err),
                    (Ok(()), Some(fingerprint), Some(hash)) => {
                        Outcome::Rendered(Some(OutputMemo { fingerprint, inputs, calls, hash }))
                    }
                    (Ok(()), ..) => Outcome::Rendered(None),
                }
            })
            .collect();
        clock.step("render and stage");
        drop(lookup);
        let mut errors = Vec::new();
        let mut fresh = Vec::new();

        let mut rendered = 0;
        for (&i, outcome) in subset.iter().zip(outcomes) {
            match outcome {
                Outcome::Failed(err) => errors.push(err),
                Outcome::Kept => {}
                Outcome::Rendered(known) => {
                    rendered += 1;
                    fresh.push((i, known));
                }
            }
        }
        if !errors.is_empty() {
            // Nothing was written, and the memo still describes the output folder.
            stager.abort();
            diags.extend(errors);
            return Err(fail(diags));
        }
        // What is kept: with a patched model the plan is the last one, so everything not
        // staged; otherwise what is planned.
        let known_record = stager.record_is_known();
        let planned: Option<rustc_hash::FxHashSet<&str>> = match &prepared.patched {
            Some(Patched::Values(_)) if known_record => None,
            patched => {
                // A structure patch moved the index onto its plan already.
                if !(matches!(patched, Some(Patched::Structure(_))) && known_record) {
                    self.index = None;
                }
                Some(plan.iter().map(|p| p.path.as_str()).collect())
            }
        };
        let keep = planned.as_ref().map_or(Keep::All, Keep::Planned);
        // The memo learns how each fresh output was made while the commit renames the files.
        let (memo, index, one_shot) = (&mut self.memo, &mut self.index, self.one_shot);
        let (committed, clock_used) = rayon::join(
            || stager.commit_known(keep),
            || {
                if let Some(planned) = &planned {
                    memo.retain(|path, _| planned.contains(path.as_str()));
                }
                // For the snapshot of a one-shot build, which renders every output.
                let mut clock_used = clock_read.into_inner();
                for (i, known) in fresh {
                    let path = &plan[i].path;
                    match known {
                        Some(known) => {
                            clock_used |= known.calls.iter().any(|c| c.function == Function::Now);
                            if let Some(index) = index.as_mut() {
                                index.add(i, &known);
                            }
                            // A one-shot build renders nothing again: how it made each output
                            // is of no use after it.
                            if !one_shot {
                                memo.insert(path.clone(), known);
                            }
                        }
                        None => {
                            memo.remove(path);
                        }
                    }
                }
                clock_used
            },
        );
        self.uses_clock = clock_used;
        let (write, known) = committed.map_err(|err| {
            fail(vec![Diagnostic::error(
                None,
                None,
                format!("cannot write the output folder: {err}"),
            )])
        })?;
        self.known = Some(known);
        self.next_future = site.next_future;
        self.latest_published = site.pages.iter().filter_map(|p| p.date).max();
        clock.step("commit");

        diagnostic::sort(&mut diags);
        let build = BuildReport {
            pages: site.pages.len(),
            sections: site.sections.len(),
            outputs: plan.len(),
            write,
            skipped: site.skipped.clone(),
            warnings: diags,
            elapsed: started.elapsed(),
        };
        if self.one_shot {
            free_later(prepared);
        } else {
            self.kept = Some(prepared);
        }
        Ok(ApplyReport { rendered, elapsed: build.elapsed, build })
    }
}

/// Lets go of a model that a full preparation replaces.
fn discard(kept: Prepared) -> Option<Prepared> {
    free_later(kept);
    None
}

/// Frees `value` on a thread of its own: a large site's model, plan or caches take
/// milliseconds to free, and nothing needs to wait for that.
pub(crate) fn free_later<T: Send + 'static>(value: T) {
    std::thread::spawn(move || drop(value));
}

/// Whether giving page `i` the front matter `front` leaves the site's structure as it is:
/// the same URL, date, order, terms, template and publication, so that only values change.
/// Title, description and `extra` may differ, unless a list the page is on sorts by title.
fn same_structure(site: &Site, i: usize, front: &crate::frontmatter::PageFront) -> bool {
    use crate::frontmatter::SortBy;
    let old = &site.pages[i].front;
    let by_title = site.sections.iter().any(|s| {
        matches!(s.front.sort_by, SortBy::Title | SortBy::TitleBytes) && s.pages.contains(&i)
    });
    if by_title && old.title != front.title {
        return false;
    }
    let mut a = (**old).clone();
    let mut b = front.clone();
    for f in [&mut a, &mut b] {
        f.title = None;
        f.description = None;
        f.extra = Default::default();
    }
    a == b
}

/// What an apply prepares and then renders from; kept after a good apply so that the next
/// can patch it.
struct Prepared {
    site: Site,
    values: Values,
    plan: Vec<render::Planned>,
    /// Problems that only a full preparation can change: the config's, reading's, the
    /// model's, the templates', the plan's.
    fixed: Vec<Diagnostic>,
    /// Problems of parsing each document.
    parse_diags: Vec<Diagnostic>,
    /// Problems of each document's markdown.
    markdown_diags: Vec<Diagnostic>,
    asset_urls: HashMap<String, Vec<String>>,
    /// For a patch of the last apply's model, how to find the outputs to look at again.
    patched: Option<Patched>,
}

/// What became of one planned output.
enum Outcome {
    /// The file in the output folder is still right.
    Kept,
    /// Rendered and staged; with how it was made when it has a fingerprint.
    Rendered(Option<OutputMemo>),
    Failed(Diagnostic),
}

/// What a changed path is to the build.
enum Class {
    Ignored,
    Config,
    Templates,
    Static,
    /// A markdown document, by content path.
    Doc(String),
    /// Anything else under `content/`: assets, folders, bundles.
    Content,
    /// A path outside the site root.
    Unknown,
}

/// `path` with `.` and `..` taken out, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn fail(mut diagnostics: Vec<Diagnostic>) -> BuildFailed {
    diagnostic::sort(&mut diagnostics);
    BuildFailed { diagnostics }
}

fn load_config(root: &Path, request: &BuildRequest) -> Result<LoadedConfig, BuildFailed> {
    let (mut config, warnings) = Config::load(root).map_err(fail)?;
    if let Some(url) = &request.base_url
        && let Err(message) = config.set_base_url(url)
    {
        let mut diags = warnings;
        diags.push(Diagnostic::error(None, None, format!("--base-url: {message}")));
        return Err(fail(diags));
    }
    let mut d = Digester::new("site");
    d.str(&format!("{config:?}")).u64(u64::from(request.drafts));
    let digest = d.finish();
    Ok(LoadedConfig { config, warnings, digest })
}

fn read_tree(root: &Path) -> Tree {
    let (tree, diags) = content::load(root, &root.join("content"));
    let docs = tree
        .docs
        .into_par_iter()
        .map(|doc| {
            let digest = *blake3::hash(&doc.bytes).as_bytes();
            (doc.content_path.clone(), (doc, digest))
        })
        .collect();
    Tree { docs, section_dirs: tree.section_dirs, assets: tree.assets, diags }
}

/// The markdown body of `page`, read again from its file, for a page whose body the engine
/// let go of. `None` when the file cannot be read or parsed any more; the next change event
/// for it will say why.
fn reload_body(root: &Path, config: &Config, page: &crate::site::Page) -> Option<Arc<str>> {
    let Source::File(path) = &page.source else { return None };
    let bytes = std::fs::read(root.join(&**path)).ok()?;
    let doc = RawDoc {
        source: page.source.clone(),
        content_path: page.content_path.clone(),
        kind: DocKind::Page { bundle: page.bundle_dir.is_some() },
        bytes,
    };
    match site::parse_doc(&doc, config).0? {
        Parsed::Page { body, .. } => Some(body),
        Parsed::Section { .. } => None,
    }
}

/// Reads one markdown file of a known section folder again, or notes that it is gone.
/// Returns `false` when that is not enough and the whole tree must be read.
fn reread(root: &Path, tree: &mut Tree, content_path: &str) -> bool {
    let path = root.join("content").join(content_path);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let name = content_path.rsplit('/').next().unwrap_or(content_path);
            let kind = if name == "_index.md" {
                DocKind::Section
            } else {
                DocKind::Page { bundle: false }
            };
            let digest = *blake3::hash(&bytes).as_bytes();
            let doc = RawDoc {
                source: Source::File(format!("content/{content_path}").into()),
                content_path: content_path.to_string(),
                kind,
                bytes,
            };
            tree.docs.insert(content_path.to_string(), (doc, digest));
            true
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            tree.docs.remove(content_path);
            true
        }
        Err(_) => false,
    }
}

/// What a parsed document depends on: its bytes and the site (the config's timezone, say).
fn parse_key(site_digest: &Digest, digest: &Digest) -> Digest {
    Digester::new("parse").digest(site_digest).digest(digest).finish()
}

/// Parses every document whose bytes or config changed since it was last parsed, and returns
/// all of them in content path order, with the paths that failed and every problem.
///
/// The tree's bytes of each document are dropped once it is parsed: the parsed document is
/// what the engine keeps, and a document is only parsed again after it was read again.
fn parse_cached(
    tree: &mut Tree,
    cache: &mut HashMap<String, ParsedDoc>,
    config: &Config,
    site_digest: &Digest,
) -> (Vec<Parsed>, Vec<String>, Vec<Diagnostic>) {
    let key_of = |digest: &Digest| parse_key(site_digest, digest);
    let fresh: Vec<(String, ParsedDoc)> = tree
        .docs
        .par_iter()
        .filter(|(path, (_, digest))| cache.get(*path).is_none_or(|c| c.key != key_of(digest)))
        .map(|(path, (doc, digest))| {
            let (parsed, diags) = site::parse_doc_digested(doc, config, Some(*digest));
            (path.clone(), ParsedDoc { key: key_of(digest), parsed, diags })
        })
        .collect();
    cache.extend(fresh);
    cache.retain(|path, _| tree.docs.contains_key(path));
    for (doc, _) in tree.docs.values_mut() {
        doc.bytes = Vec::new();
    }
    let mut parsed = Vec::with_capacity(tree.docs.len());
    let mut broken = Vec::new();
    let mut diags = Vec::new();
    for path in tree.docs.keys() {
        let Some(doc) = cache.get(path) else { continue };
        diags.extend(doc.diags.iter().cloned());
        match &doc.parsed {
            Some(item) => parsed.push(item.clone()),
            None => broken.push(path.clone()),
        }
    }
    (parsed, broken, diags)
}
