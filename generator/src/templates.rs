//! The template engine: the embedded default theme, an on-disk theme, the site's own
//! templates, and the functions and filters Kiln gives them.
//!
//! Templates are looked up by name in three layers, later ones winning: the default theme
//! compiled into the binary, `themes/<theme>/templates/`, and the site's `templates/`. So a
//! site overrides any default template by writing one of the same name, or adds one that
//! extends a default one. Content is never run through Tera.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use include_dir::{Dir, include_dir};
use tera::{Kwargs, State, Tera, TeraResult, Value};

use crate::content::relative_to;
use crate::diagnostic::{Diagnostic, Source};
use crate::digest::Digest;
use crate::slug::{SlugStrategy, slugify};

/// The default theme, compiled into the binary so that any site builds without one.
pub static DEFAULT_THEME: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../themes/default");

/// A page as `get_page` finds it: its full value, the digest of that value and the rendered
/// markdown its table of contents comes from (see [`crate::values::with_toc`]).
#[derive(Clone)]
pub struct PageEntry {
    /// The full page value, without `toc`.
    pub value: Value,
    /// The digest of the page value, contents included.
    pub digest: Digest,
    /// The rendered markdown.
    pub rendered: Option<std::sync::Arc<crate::markdown::Rendered>>,
}

impl PageEntry {
    /// The entry of page `i` of `site`, whose values are `values`.
    pub fn of(site: &crate::site::Site, values: &crate::values::Values, i: usize) -> PageEntry {
        PageEntry {
            value: values.pages[i].clone(),
            digest: values.digests.pages[i],
            rendered: site.pages[i].rendered.clone(),
        }
    }
}

/// What template functions look things up in. Replaced at each build, read at each call.
#[derive(Clone, Default)]
pub struct Lookup {
    /// The site's base URL.
    pub base_url: String,
    /// Content path to full page, as `get_page` returns it.
    pub pages: HashMap<String, PageEntry>,
    /// Content path (`blog/_index.md`) to section value, with its digest.
    pub sections: HashMap<String, (Value, Digest)>,
    /// Content path to permalink, for every page and section, published or not.
    pub permalinks: HashMap<String, String>,
    /// Taxonomy name to its value for `get_taxonomy`, with its digest.
    pub taxonomies: HashMap<String, (Value, Digest)>,
    /// (taxonomy, term slug) to the term's permalink.
    pub term_urls: HashMap<(String, String), String>,
    /// Output path of a static file to the first 8 hex digits of its hash, for cache busting.
    pub static_hashes: HashMap<String, String>,
    /// The rule that turns term names into slugs.
    pub term_slugs: SlugStrategy,
    /// What `now()` returns: the build's "now", in RFC 3339.
    pub now: String,
    /// The `config` value, which `render_each` gives the templates it renders.
    pub config: Option<Value>,
}

/// A template function that reads the [`Lookup`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// `get_url(path, cachebust)`.
    GetUrl,
    /// `get_page(path)`.
    GetPage,
    /// `get_section(path)`.
    GetSection,
    /// `get_taxonomy(kind)`.
    GetTaxonomy,
    /// `get_taxonomy_url(kind, name)`.
    GetTaxonomyUrl,
    /// `now()`.
    Now,
}

/// One call of a template function made while rendering an output, with the digest of what
/// it returned. Replaying the calls against a newer lookup tells whether the output would
/// still see the same results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The function.
    pub function: Function,
    /// Its arguments, as the lookup reads them.
    pub args: Vec<String>,
    /// The digest of its result (or of its error).
    pub result: Digest,
}

thread_local! {
    /// The calls of the output being rendered on this thread, while one is being traced.
    static TRACE: RefCell<Option<Vec<Call>>> = const { RefCell::new(None) };
}

/// Runs `render` and returns, with its result, every template function call it made.
/// Rendering is synchronous, so the calls of one render all happen on this thread.
pub fn traced<T>(render: impl FnOnce() -> T) -> (T, Vec<Call>) {
    let outer = TRACE.with(|trace| trace.borrow_mut().replace(Vec::new()));
    let result = render();
    let calls = TRACE.with(|trace| std::mem::replace(&mut *trace.borrow_mut(), outer));
    (result, calls.unwrap_or_default())
}

/// Adds calls made in a render of their own to the trace of the render that asked for it.
pub(crate) fn record_calls(calls: Vec<Call>) {
    if calls.is_empty() {
        return;
    }
    TRACE.with(|trace| {
        if let Some(outer) = trace.borrow_mut().as_mut() {
            outer.extend(calls);
        }
    });
}

fn record(lookup: &Lookup, function: Function, args: Vec<String>) {
    TRACE.with(|trace| {
        if let Some(calls) = trace.borrow_mut().as_mut() {
            let result = lookup.digest_of(function, &args);
            calls.push(Call { function, args, result });
        }
    });
}

impl Lookup {
    /// The digest of what `function` returns for `args` with this lookup.
    pub fn digest_of(&self, function: Function, args: &[String]) -> Digest {
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        let found = |entry: Option<&(Value, Digest)>| {
            entry.map_or_else(|| crate::digest::of_str("missing", ""), |(_, digest)| *digest)
        };
        let text = |result: TeraResult<String>| match result {
            Ok(text) => crate::digest::of_str("ok", &text),
            Err(err) => crate::digest::of_str("error", &err.to_string()),
        };
        match function {
            Function::GetPage => match self.pages.get(arg(0)) {
                Some(entry) => entry.digest,
                None => found(None),
            },
            Function::GetSection => found(self.sections.get(arg(0))),
            Function::GetTaxonomy => found(self.taxonomies.get(arg(0))),
            Function::GetUrl => text(get_url(self, arg(0), arg(1) == "true")),
            Function::GetTaxonomyUrl => text(get_taxonomy_url(self, arg(0), arg(1))),
            Function::Now => crate::digest::of_str("now", &self.now),
        }
    }

    /// Whether every call in `calls` still returns what it returned then.
    pub fn replays(&self, calls: &[Call]) -> bool {
        calls.iter().all(|call| self.digest_of(call.function, &call.args) == call.result)
    }
}

/// A shared, swappable [`Lookup`].
pub type LookupSlot = Arc<RwLock<Arc<Lookup>>>;

/// The loaded templates and where each came from.
pub struct Templates {
    /// The engine, with every template, function and filter registered.
    pub tera: Tera,
    /// Template name to the file (or embedded file) it was read from.
    pub sources: BTreeMap<String, Source>,
    /// Template name to its text, to quote the expression an error points at.
    pub texts: BTreeMap<String, String>,
    /// The lookup that template functions read.
    pub lookup: LookupSlot,
    /// Default templates left out because a site override broke them, with the reason.
    pub dropped: BTreeMap<String, String>,
    /// The digest of every template's name and text: what rendering through them reads.
    pub digest: Digest,
    /// What `render_each` rendered, for the next builds.
    pub fragments: crate::fragments::Fragments,
}

impl Templates {
    /// Loads the three layers of templates. Returns every template error at once.
    pub fn load(root: &Path, theme: Option<&str>, tz: Tz) -> Result<Templates, Vec<Diagnostic>> {
        let mut layers: BTreeMap<String, (Source, String)> = BTreeMap::new();
        let mut errors = Vec::new();
        // Each theme's templates also go by Zola's names for them, `<theme>/templates/<name>`,
        // so that a site template can extend the one it replaces: a `templates/page.html` of
        // `{% extends "default/templates/page.html" %}` changes one block of the default.
        let mut themes: Vec<(String, (Source, String))> = Vec::new();
        if let Some(templates) = DEFAULT_THEME.get_dir("templates") {
            add_embedded(templates, &mut layers);
            themes.extend(prefixed("default", &layers));
        }
        if let Some(name) = theme.filter(|name| *name != "default") {
            let dir = root.join("themes").join(name);
            if !dir.is_dir() {
                let message = format!("theme `{name}` not found: there is no folder themes/{name}");
                errors.push(Diagnostic::error(Source::File("kiln.toml".into()), None, message));
            }
            let mut own = BTreeMap::new();
            add_folder(root, &dir.join("templates"), &mut own, &mut errors);
            themes.extend(prefixed(name, &own));
            layers.extend(own);
        }
        add_folder(root, &root.join("templates"), &mut layers, &mut errors);
        for (name, template) in themes {
            layers.entry(name).or_insert(template);
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let lookup: LookupSlot = Arc::default();
        let (tera, dropped) = compile(&mut layers, &lookup, tz)?;
        let sources: BTreeMap<String, Source> =
            layers.iter().map(|(name, (source, _))| (name.clone(), source.clone())).collect();
        let mut digester = crate::digest::Digester::new("templates");
        for (name, (_, text)) in &layers {
            digester.str(name).str(text);
        }
        digester.json(&dropped);
        let digest = digester.finish();
        let texts = layers.into_iter().map(|(name, (_, text))| (name, text)).collect();
        let fragments = crate::fragments::Fragments::default();
        Ok(Templates { tera, sources, texts, lookup, dropped, digest, fragments })
    }

    /// Whether a template of that name exists in any layer.
    pub fn has(&self, name: &str) -> bool {
        self.sources.contains_key(name)
    }

    /// The lookup template functions read now.
    pub fn current_lookup(&self) -> Arc<Lookup> {
        read(&self.lookup)
    }

    /// Changes the current lookup in place (copying it first if a render still holds it).
    pub fn update_lookup(&self, change: impl FnOnce(&mut Lookup)) {
        let mut slot = self.lookup.write().unwrap_or_else(|e| e.into_inner());
        change(Arc::make_mut(&mut slot));
    }

    /// Installs the lookup of a new build.
    pub fn set_lookup(&self, lookup: Lookup) {
        *self.lookup.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(lookup);
    }
}

/// Compiles the layers into one engine. A default template that only fails because the site
/// overrides something it builds on (a `page.html` without the blocks the default
/// `contact.html` fills, say) is left out instead of failing the build; it is an error only if
/// content asks for it. Errors in the site's own templates are reported as they are.
fn compile(
    layers: &mut BTreeMap<String, (Source, String)>,
    lookup: &LookupSlot,
    tz: Tz,
) -> Result<(Tera, BTreeMap<String, String>), Vec<Diagnostic>> {
    let mut dropped = BTreeMap::new();
    loop {
        let mut tera = Tera::new();
        register(&mut tera, lookup, tz);
        let texts = layers.iter().map(|(name, (_, text))| (name.as_str(), text.as_str()));
        let Err(err) = tera.add_raw_templates(texts) else { return Ok((tera, dropped)) };
        let report = err.to_string();
        let culprits: Vec<String> = failing_templates(&err)
            .into_iter()
            .filter(|name| matches!(layers.get(name), Some((Source::Embedded(_), _))))
            .collect();
        let overridden = layers.values().any(|(source, _)| !matches!(source, Source::Embedded(_)));
        if culprits.is_empty() || !overridden {
            return Err(vec![template_error(&err, layers)]);
        }
        for name in culprits {
            tracing::debug!(template = %name, "default template left out: {report}");
            layers.remove(&name);
            dropped.insert(name, first_line(&report));
        }
    }
}

/// The names of the templates a Tera error points at.
fn failing_templates(err: &tera::Error) -> Vec<String> {
    let mut names = Vec::new();
    match err.kind() {
        tera::ErrorKind::SyntaxError(report) | tera::ErrorKind::RenderingError(report) => {
            names.push(report.filename().to_string());
        }
        tera::ErrorKind::MissingParent { current, .. } => names.push(current.clone()),
        tera::ErrorKind::CircularExtend { tpl, .. } => names.push(tpl.clone()),
        _ => {}
    }
    for line in err.to_string().lines() {
        if let Some(rest) = line.trim_start().strip_prefix("--> ")
            && let Some((name, _)) = rest.split_once(':')
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string()
}

/// The templates of the theme `theme` under Zola's names for them. A file that defines
/// components is left out: Tera registers components by name for every template, so a second
/// copy would define each of them twice.
fn prefixed(
    theme: &str,
    templates: &BTreeMap<String, (Source, String)>,
) -> Vec<(String, (Source, String))> {
    let defines_components =
        |text: &str| text.contains("{% component ") || text.contains("{%- component ");
    templates
        .iter()
        .filter(|(_, (_, text))| !defines_components(text))
        .map(|(name, t)| (format!("{theme}/templates/{name}"), t.clone()))
        .collect()
}

fn add_embedded(dir: &Dir<'static>, layers: &mut BTreeMap<String, (Source, String)>) {
    for file in dir.files() {
        let name = file.path().strip_prefix("templates").unwrap_or(file.path());
        let name = name.to_string_lossy().replace('\\', "/");
        if let Some(text) = file.contents_utf8() {
            layers.insert(
                name.clone(),
                (Source::Embedded(format!("templates/{name}")), text.to_string()),
            );
        }
    }
    for sub in dir.dirs() {
        add_embedded(sub, layers);
    }
}

fn add_folder(
    root: &Path,
    dir: &Path,
    layers: &mut BTreeMap<String, (Source, String)>,
    errors: &mut Vec<Diagnostic>,
) {
    if !dir.is_dir() {
        return;
    }
    let walker = walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name();
    for entry in walker.into_iter().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || crate::content::is_editor_artifact(&name) {
            continue;
        }
        let template_name = relative_to(dir, entry.path());
        let source = Source::File(relative_to(root, entry.path()).into());
        match std::fs::read_to_string(entry.path()) {
            Ok(text) => {
                layers.insert(template_name, (source, text));
            }
            Err(err) => errors.push(Diagnostic::error(source, None, format!("cannot read: {err}"))),
        }
    }
}

/// Turns a Tera error into a diagnostic that names the template file, its line and column,
/// and the cause.
pub fn template_error(
    err: &tera::Error,
    layers: &BTreeMap<String, (Source, String)>,
) -> Diagnostic {
    let (name, mut line, column, mut message) = describe(err);
    // Tera names the template of an inheritance problem but no line: the line is that of
    // its `extends`.
    let extending = match err.kind() {
        tera::ErrorKind::CircularExtend { tpl, .. } => Some(tpl),
        tera::ErrorKind::MissingParent { current, .. } => Some(current),
        _ => None,
    };
    let name = name.or_else(|| extending.cloned());
    if let Some(tpl) = extending
        && let Some((_, text)) = layers.get(tpl)
    {
        line = text.lines().position(|l| l.contains("extends")).map(|i| i + 1);
        if let tera::ErrorKind::CircularExtend { inheritance_chain, .. } = err.kind()
            && inheritance_chain.len() == 1
        {
            message.push_str(&format!(
                "; a template cannot extend itself: to build on the theme's `{tpl}`, extend \
                 \"default/templates/{tpl}\" (or \"<theme>/templates/{tpl}\" for a theme of \
                 themes/)"
            ));
        }
    }
    let source = name.as_deref().and_then(|n| layers.get(n)).map(|(source, _)| source.clone());
    let location = match (column, &name) {
        (Some(col), Some(_)) => format!(" (column {col})"),
        _ => String::new(),
    };
    Diagnostic::error(source, line, format!("{message}{location}"))
}

/// A render error as one sentence: where in which template, the expression, and the cause,
/// with Tera's generic "got `undefined`" turned into a plain statement of what is missing.
pub fn explain_render_error(err: &tera::Error, templates: &Templates, template: &str) -> String {
    let (name, line, column, message) = describe(err);
    let name = name.unwrap_or_else(|| template.to_string());
    let file = templates.sources.get(&name).map_or(name.clone(), ToString::to_string);
    let at = match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
        (Some(l), None) => format!("{file}:{l}"),
        _ => file,
    };
    let expression = match err.kind() {
        tera::ErrorKind::RenderingError(report) => templates
            .texts
            .get(&name)
            .and_then(|text| enclosing_tag(text, report.span().range.start))
            .map(str::to_string),
        _ => None,
    };
    let Some(expression) = expression.filter(|e| !e.is_empty() && e.len() < 200) else {
        return format!("template `{at}`: {message}");
    };
    let variable = expression.split('|').next().unwrap_or(&expression).trim();
    if message.contains("got `undefined`") || message.contains("not found") {
        format!(
            "template `{at}`: `{variable}` is not defined for this page, in `{expression}`; \
             guard it with `{{% if {variable} is defined %}}` or give it a `default`"
        )
    } else {
        format!("template `{at}`: in `{expression}`: {message}")
    }
}

/// The inside of the `{{ … }}` or `{% … %}` tag around byte `at` of a template.
fn enclosing_tag(text: &str, at: usize) -> Option<&str> {
    let before = text.get(..at)?;
    let open = before.rfind("{{").into_iter().chain(before.rfind("{%")).max()?;
    let after = text.get(at..)?;
    let close = at + after.find("}}").into_iter().chain(after.find("%}")).min()?;
    let inner = text.get(open + 2..close)?;
    Some(inner.trim_matches(|c: char| c == '-' || c.is_whitespace()))
}

/// The template name, line, column and one-line cause of a Tera error, following its chain.
pub fn describe(err: &tera::Error) -> (Option<String>, Option<usize>, Option<usize>, String) {
    let (mut name, mut line, mut column) = (None, None, None);
    let mut message = match err.kind() {
        tera::ErrorKind::SyntaxError(report) | tera::ErrorKind::RenderingError(report) => {
            name = Some(report.filename().to_string());
            line = Some(report.span().start_line);
            column = Some(report.span().start_col + 1);
            report.message().to_string()
        }
        other => {
            let text = other.to_string();
            // Errors found while checking templates against each other (an unknown filter,
            // say) arrive already formatted: `error: …`, then ` --> name:line:column` and
            // the quoted line. Take them apart like the others.
            match report_location(&text) {
                Some((file, at_line, at_column)) => {
                    name = Some(file);
                    line = Some(at_line);
                    column = Some(at_column);
                    let first = text.lines().next().unwrap_or_default();
                    first.trim().trim_start_matches("error:").trim().to_string()
                }
                None => text,
            }
        }
    };
    message.push_str(&causes(err));
    (name, line, column, message)
}

/// What `err` was caused by, each cause after `: `; empty for an error with no cause.
pub(crate) fn causes(err: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// The template, line and column of a formatted report's ` --> name:line:column` line.
fn report_location(text: &str) -> Option<(String, usize, usize)> {
    let at = text.lines().find_map(|l| l.trim_start().strip_prefix("--> "))?;
    let mut parts = at.trim().rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    Some((parts.next()?.to_string(), line, column))
}

fn register(tera: &mut Tera, lookup: &LookupSlot, tz: Tz) {
    tera.register_filter("date", move |value: &Value, kwargs: Kwargs, _: &State| {
        date_filter(value, &kwargs, tz)
    });
    tera.register_filter("json_encode", tera_contrib::json::json_encode);
    tera.register_filter("urlencode", tera_contrib::urlencode::urlencode);
    tera.register_filter("urlencode_strict", tera_contrib::urlencode::urlencode_strict);
    tera.register_filter("striptags", tera_contrib::regex::striptags);
    let slot = lookup.clone();
    tera.register_filter("slugify", move |text: &str, _: Kwargs, _: &State| {
        slugify(text, read(&slot).term_slugs)
    });
    let slot = lookup.clone();
    tera.register_function("now", move |_: Kwargs, _: &State| {
        let lookup = read(&slot);
        record(&lookup, Function::Now, Vec::new());
        lookup.now.clone()
    });

    let slot = lookup.clone();
    tera.register_function("get_url", move |kwargs: Kwargs, _: &State| {
        let path: String = kwargs.must_get("path")?;
        let cachebust = kwargs.get::<bool>("cachebust")?.unwrap_or(false);
        let lookup = read(&slot);
        record(&lookup, Function::GetUrl, vec![path.clone(), cachebust.to_string()]);
        get_url(&lookup, &path, cachebust)
    });
    tera.register_function("render_each", |kwargs: Kwargs, _: &State| {
        crate::fragments::render_each(kwargs)
    });
    let slot = lookup.clone();
    tera.register_function("get_page", move |kwargs: Kwargs, _: &State| {
        let path: String = kwargs.must_get("path")?;
        let lookup = read(&slot);
        let key = path.trim_start_matches("@/").trim_start_matches('/');
        record(&lookup, Function::GetPage, vec![key.to_string()]);
        lookup
            .pages
            .get(key)
            .map(|entry| crate::values::with_toc(&entry.value, entry.rendered.as_deref()))
            .ok_or_else(|| tera::Error::message(format!("get_page: no published page at `{path}`")))
    });
    let slot = lookup.clone();
    tera.register_function("get_section", move |kwargs: Kwargs, _: &State| {
        let path: String = kwargs.must_get("path")?;
        let lookup = read(&slot);
        let key = path.trim_start_matches("@/").trim_start_matches('/');
        record(&lookup, Function::GetSection, vec![key.to_string()]);
        lookup
            .sections
            .get(key)
            .map(|(value, _)| value.clone())
            .ok_or_else(|| tera::Error::message(format!("get_section: no section at `{path}`")))
    });
    let slot = lookup.clone();
    tera.register_function("get_taxonomy", move |kwargs: Kwargs, _: &State| {
        let kind: String = kwargs.must_get("kind")?;
        let lookup = read(&slot);
        record(&lookup, Function::GetTaxonomy, vec![kind.clone()]);
        lookup.taxonomies.get(&kind).map(|(value, _)| value.clone()).ok_or_else(|| {
            tera::Error::message(format!("get_taxonomy: the site has no terms in `{kind}`"))
        })
    });
    let slot = lookup.clone();
    tera.register_function("get_taxonomy_url", move |kwargs: Kwargs, _: &State| {
        let kind: String = kwargs.must_get("kind")?;
        let name: String = kwargs.must_get("name")?;
        let lookup = read(&slot);
        record(&lookup, Function::GetTaxonomyUrl, vec![kind.clone(), name.clone()]);
        get_taxonomy_url(&lookup, &kind, &name)
    });
}

fn get_taxonomy_url(lookup: &Lookup, kind: &str, name: &str) -> TeraResult<String> {
    let slug = slugify(name.trim(), lookup.term_slugs);
    lookup.term_urls.get(&(kind.to_string(), slug)).cloned().ok_or_else(|| {
        tera::Error::message(format!("get_taxonomy_url: no term `{name}` in `{kind}`"))
    })
}

fn read(slot: &LookupSlot) -> Arc<Lookup> {
    slot.read().unwrap_or_else(|e| e.into_inner()).clone()
}

fn get_url(lookup: &Lookup, path: &str, cachebust: bool) -> TeraResult<String> {
    if let Some(content) = path.strip_prefix("@/") {
        let (content, fragment) =
            content.split_once('#').map_or((content, None), |(c, f)| (c, Some(f)));
        let url = lookup
            .permalinks
            .get(content)
            .ok_or_else(|| tera::Error::message(format!("get_url: no content at `{path}`")))?;
        return Ok(match fragment {
            Some(fragment) => format!("{url}#{fragment}"),
            None => url.clone(),
        });
    }
    let trimmed = path.trim_start_matches('/');
    let mut url = format!("{}/{}", lookup.base_url, crate::url::encode_path(trimmed));
    if cachebust {
        let hash = lookup.static_hashes.get(trimmed).ok_or_else(|| {
            tera::Error::message(format!(
                "get_url: cannot cache-bust `{path}`: no such static file"
            ))
        })?;
        url.push_str("?h=");
        url.push_str(hash);
    }
    Ok(url)
}

/// Formats a date (RFC 3339 text, a `YYYY-MM-DD` date, or Unix seconds) with a strftime
/// pattern, in the site timezone unless `timezone` says otherwise.
fn date_filter(value: &Value, kwargs: &Kwargs, site_tz: Tz) -> TeraResult<String> {
    let format: &str = kwargs.get("format")?.unwrap_or("%Y-%m-%d");
    let tz = match kwargs.get::<&str>("timezone")? {
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| tera::Error::message(format!("date: unknown timezone `{name}`")))?,
        None => site_tz,
    };
    let local = date_value(value, tz)?.with_timezone(&tz);
    if let Some(text) = common_date_format(format, &local) {
        return Ok(text);
    }
    let items: Vec<_> = chrono::format::StrftimeItems::new(format).collect();
    if items.iter().any(|item| matches!(item, chrono::format::Item::Error)) {
        return Err(tera::Error::message(format!(
            "date: `{format}` is not a valid strftime format"
        )));
    }
    Ok(local.format_with_items(items.into_iter()).to_string())
}

/// The two formats the default theme shows dates in, written without chrono's format parser:
/// a big site's lists call the filter tens of thousands of times, and parsing the pattern
/// cost more than the formatting. `None` for any other format.
fn common_date_format(format: &str, local: &DateTime<Tz>) -> Option<String> {
    use chrono::Datelike;
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (year, month, day) = (local.year(), local.month(), local.day());
    // chrono writes a year outside 0..=9999 with a sign; leave those to it.
    if !(0..=9999).contains(&year) {
        return None;
    }
    match format {
        "%Y-%m-%d" => Some(format!("{year:04}-{month:02}-{day:02}")),
        "%-d %B %Y" => Some(format!("{day} {} {year:04}", MONTHS[month as usize - 1])),
        _ => None,
    }
}

fn date_value(value: &Value, tz: Tz) -> TeraResult<DateTime<Utc>> {
    if let Some(seconds) = value.as_i64() {
        return Utc
            .timestamp_opt(seconds, 0)
            .single()
            .ok_or_else(|| tera::Error::message(format!("date: {seconds} is out of range")));
    }
    let Some(text) = value.as_str() else {
        let kind = if value.is_none() || value.is_undefined() { "no value" } else { value.name() };
        return Err(tera::Error::message(format!(
            "the `date` filter needs a date, but got {kind}; guard it with an `if` on the value, as \
             `{{% if page.date %}}` (or `item.date` in a list entry)"
        )));
    };
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Ok(date.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        if let Some(local) = tz.from_local_datetime(&midnight).earliest() {
            return Ok(local.with_timezone(&Utc));
        }
    }
    Err(tera::Error::message(format!("the `date` filter cannot read `{text}` as a date")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_date_formats_match_chrono() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        for text in ["2024-03-05T08:00:00Z", "1999-12-31T23:30:00Z", "0042-01-09T00:00:00Z"] {
            let local = DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&tz);
            for format in ["%Y-%m-%d", "%-d %B %Y"] {
                let expected = local.format(format).to_string();
                assert_eq!(common_date_format(format, &local), Some(expected), "{text} {format}");
            }
        }
    }
}
