//! Incremental builds must write exactly what a clean build writes.
//!
//! [`kiln::Engine`] keeps a site in memory and re-renders only what the changes it is told
//! about affect. These tests hold it to one rule: after every apply, its output folder is
//! byte for byte the output of a clean build of the same sources into an empty folder, with no
//! empty folder left behind; apply fails exactly when the clean build fails, with the same
//! errors, and then leaves the output as it was. A property test drives random edits (posts,
//! front matter, renames, templates, the config, static files, section indexes) on a generated
//! site; the named tests hold case G15 of `shared/cases/generator.md` and what the write
//! report says.
//!
//! `KILN_PROP_SEED` replays one sequence, `KILN_PROP_STEPS` sets its length; a failure prints
//! both; `KILN_PROP_VERBOSE=1` lists the errors the broken steps met.
//! `cargo test -p kiln --test incremental -- --ignored` runs the long sequences.

mod common;
#[path = "incremental/model.rs"]
mod model;
#[path = "incremental/tree.rs"]
mod tree;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kiln::{BuildFailed, BuildReport, BuildRequest, Change, Engine};

use common::{attrs, texts, xml_texts};
use model::Model;
use tree::{Tree, copy_site};

/// A temporary folder, on a memory file system where there is one: builds sync their record
/// to disk, which on a loaded disk takes longer than the rest of a small build.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    match shm.is_dir() {
        true => tempfile::tempdir_in(shm).unwrap(),
        false => tempfile::tempdir().unwrap(),
    }
}

/// A request for the site at `root` into `output`, with "now" fixed.
fn request(root: &Path, output: &Path) -> BuildRequest {
    let mut request = BuildRequest::new(root);
    request.output = Some(output.to_path_buf());
    request.now = Some(common::NOW.parse().unwrap());
    request
}

/// The errors of a failed build, each as one line, with the root's path taken out.
fn errors(failed: &BuildFailed, root: &Path) -> Vec<String> {
    lines_of(failed.errors(), root)
}

/// Diagnostics as sorted lines, with the root's path taken out.
fn lines_of<'a>(
    diagnostics: impl Iterator<Item = &'a kiln::Diagnostic>,
    root: &Path,
) -> Vec<String> {
    let root = root.to_string_lossy();
    let mut lines: Vec<String> =
        diagnostics.map(|d| d.to_string().replace(root.as_ref(), "<root>")).collect();
    lines.sort();
    lines
}

/// A clean build of a copy of the sources at `root` into an empty folder: what every other
/// build of the same sources must produce.
struct Clean {
    result: Result<(), Vec<String>>,
    tree: Tree,
}

fn clean_build(root: &Path) -> Clean {
    clean_build_at(root, common::NOW)
}

/// [`clean_build`] with another "now".
fn clean_build_at(root: &Path, now: &str) -> Clean {
    clean_build_with(root, now, false).0
}

/// A clean build of a copy of the sources at `root` with that "now", with or without drafts,
/// and what it reports besides its writes ([`summary_of`]).
fn clean_build_with(root: &Path, now: &str, drafts: bool) -> (Clean, Vec<String>) {
    let dir = scratch();
    let (site, output) = (dir.path().join("site"), dir.path().join("out"));
    std::fs::create_dir(&site).unwrap();
    copy_site(root, &site);
    let mut request = request(&site, &output);
    request.now = Some(now.parse().unwrap());
    request.drafts = drafts;
    let (result, summary) = match kiln::build(&request) {
        Ok(report) => (Ok(()), summary_of(&report, &site)),
        Err(failed) => (Err(errors(&failed, &site)), Vec::new()),
    };
    (Clean { result, tree: Tree::read(&output) }, summary)
}

/// Checks an output folder after a build whose outcome was `result`, against the clean build
/// and, for a failure, against the folder as it was before.
fn check_output(
    what: &str,
    result: Result<(), Vec<String>>,
    output: &Path,
    before: &Tree,
    clean: &Clean,
) -> Result<(), String> {
    let tree = Tree::read(output);
    match (&result, &clean.result) {
        (Ok(()), Ok(())) => {
            if let Some(diff) = tree.difference(&clean.tree, what, "clean build") {
                return Err(format!("{what} differs from a clean build:\n{diff}"));
            }
            let empty = tree.empty_dirs();
            if !empty.is_empty() {
                return Err(format!("{what} left empty folders: {empty:?}"));
            }
            Ok(())
        }
        (Err(got), Err(want)) => {
            if got != want {
                return Err(format!(
                    "{what} failed with other errors than a clean build:\n{}\nclean build:\n{}",
                    got.join("\n"),
                    want.join("\n")
                ));
            }
            if let Some(diff) = tree.difference(before, what, "the folder before") {
                return Err(format!("failed {what} changed the output:\n{diff}"));
            }
            if tree.dirs != before.dirs {
                return Err(format!("failed {what} changed the folders of the output"));
            }
            Ok(())
        }
        (Ok(()), Err(want)) => {
            Err(format!("{what} succeeded but a clean build fails:\n{}", want.join("\n")))
        }
        (Err(got), Ok(())) => {
            Err(format!("{what} failed but a clean build succeeds:\n{}", got.join("\n")))
        }
    }
}

// The property test.

/// How a sequence checks the engine.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Only the engine writes output A.
    Engine,
    /// After each apply a one-shot `kiln::build` also runs on output A, and must find it
    /// already right or make it so.
    WithOneShotBuilds,
}

/// What a finished sequence did.
struct Stats {
    steps: usize,
    failed_steps: usize,
}

/// Runs `steps` random steps from `seed`; panics with the seed, the step and the recent
/// history at the first difference.
fn run_sequence(seed: u64, steps: usize, mode: Mode) -> Stats {
    let dir = scratch();
    let root = dir.path().join("site");
    let output = dir.path().join("out-a");
    std::fs::create_dir(&root).unwrap();
    let mut model = Model::generate(&root, seed);
    let mut engine = Engine::new(request(&root, &output));
    let mut history: Vec<String> = Vec::new();
    let mut failed_steps = 0;
    let mut errors_seen = std::collections::BTreeSet::new();
    let mut last_failed = false;

    let fail = |history: &[String], step: usize, message: String| {
        let recent = history.iter().rev().take(12).rev().cloned().collect::<Vec<_>>().join("\n");
        panic!(
            "seed {seed}, step {step} of {steps} ({mode:?}); replay with \
             KILN_PROP_SEED={seed} KILN_PROP_STEPS={steps}\n{message}\nrecent steps:\n{recent}"
        )
    };

    for step in 0..=steps {
        // Step 0 is the first build of the generated site.
        let changes = if step == 0 {
            history.push("step 0: first build".into());
            Vec::new()
        } else {
            let batch = if model.rng.u8(..10) < 3 { model.rng.usize(2..=3) } else { 1 };
            let mut changes = Vec::new();
            let mut described = format!("step {step}:");
            for n in 0..batch {
                let repair = n == 0 && last_failed && model.rng.bool();
                let (what, more) = model.edit(repair);
                write!(described, "\n  {what}\n    -> {more:?}").unwrap();
                changes.extend(more);
            }
            history.push(described);
            changes
        };

        let before = Tree::read(&output);
        let applied = engine.apply(&changes).map(drop).map_err(|f| errors(&f, &root));
        let clean = clean_build(&root);
        last_failed = clean.result.is_err();
        failed_steps += usize::from(last_failed);
        if let Err(errors) = &clean.result {
            errors_seen.extend(errors.iter().cloned());
        }
        if let Err(message) = check_output("apply", applied, &output, &before, &clean) {
            fail(&history, step, message);
        }

        if let Mode::WithOneShotBuilds = mode {
            let before = Tree::read(&output);
            let built =
                kiln::build(&request(&root, &output)).map(drop).map_err(|f| errors(&f, &root));
            if let Err(message) =
                check_output("one-shot build on output A", built, &output, &before, &clean)
            {
                fail(&history, step, message);
            }
        }
    }
    if std::env::var_os("KILN_PROP_VERBOSE").is_some() {
        eprintln!("seed {seed}: errors met:\n  {}", Vec::from_iter(errors_seen).join("\n  "));
    }
    Stats { steps, failed_steps }
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.parse().unwrap_or_else(|_| panic!("{name} must be a number, not `{value}`")))
}

/// Runs the sequences of `seeds` with `steps` steps each, or only the one `KILN_PROP_SEED`
/// names, with `KILN_PROP_STEPS` steps when set.
fn run_sequences(seeds: &[u64], steps: usize, mode: Mode) {
    let steps = env_number("KILN_PROP_STEPS").map_or(steps, |n| n as usize);
    let seeds = env_number("KILN_PROP_SEED").map_or(seeds.to_vec(), |seed| vec![seed]);
    let (mut total, mut failed) = (0, 0);
    for &seed in &seeds {
        let stats = run_sequence(seed, steps, mode);
        eprintln!(
            "seed {seed}: {} steps, {} of them on a failing site",
            stats.steps, stats.failed_steps
        );
        total += stats.steps;
        failed += stats.failed_steps;
    }
    // A sequence that spends most of its steps on a broken site compares little output.
    assert!(failed * 2 <= total, "{failed} of {total} steps were on a failing site");
}

#[test]
fn engine_output_matches_a_clean_build_after_random_edits() {
    run_sequences(&[1, 2, 3, 4], 50, Mode::Engine);
}

#[test]
fn one_shot_build_over_engine_output_matches_a_clean_build() {
    run_sequences(&[101, 102], 30, Mode::WithOneShotBuilds);
}

#[test]
#[ignore = "long: thousands of steps; run with --ignored"]
fn engine_output_matches_a_clean_build_after_many_random_edits() {
    let base = env_number("KILN_PROP_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        now.as_secs() % 1_000_000
    });
    eprintln!("base seed {base}");
    let seeds: Vec<u64> = (0..8).map(|n| base * 100 + n).collect();
    run_sequences(&seeds[..6], 400, Mode::Engine);
    run_sequences(&seeds[6..], 300, Mode::WithOneShotBuilds);
}

// Case G15: deleted or renamed content lingering in incremental builds.

/// A site in a temporary folder driven through one engine, with a clean build to compare.
struct Served {
    dir: tempfile::TempDir,
    engine: Engine,
    /// Whether the engine and the clean builds include drafts.
    drafts: bool,
}

impl Served {
    fn new(files: &[(&str, &str)]) -> Served {
        Self::with_drafts(files, false)
    }

    /// [`Served::new`], building with `--drafts` when `drafts` is set.
    fn with_drafts(files: &[(&str, &str)], drafts: bool) -> Served {
        let dir = scratch();
        std::fs::create_dir(dir.path().join("site")).unwrap();
        let mut request = request(&dir.path().join("site"), &dir.path().join("out"));
        request.drafts = drafts;
        let engine = Engine::new(request);
        let served = Served { dir, engine, drafts };
        served.write("kiln.toml", "base_url = \"https://example.org\"\ntitle = \"Test\"\n");
        for (path, text) in files {
            served.write(path, text);
        }
        served
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("site")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn write(&self, rel: &str, text: &str) {
        let full = self.root().join(rel);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    fn apply(&mut self, changes: &[Change]) -> kiln::ApplyReport {
        self.engine.apply(changes).unwrap_or_else(|f| panic!("apply failed:\n{f}"))
    }

    /// Applies `changes` and asserts the output is that of a clean build.
    fn apply_and_compare(&mut self, changes: &[Change]) -> kiln::ApplyReport {
        let report = self.apply(changes);
        self.assert_clean();
        report
    }

    fn assert_clean(&self) {
        self.assert_clean_at(common::NOW);
    }

    fn assert_clean_at(&self, now: &str) {
        let clean = clean_build_at(&self.root(), now);
        assert_eq!(clean.result, Ok(()));
        let tree = Tree::read(&self.out());
        if let Some(diff) = tree.difference(&clean.tree, "output", "clean build") {
            panic!("output differs from a clean build:\n{diff}");
        }
        assert_eq!(tree.empty_dirs(), Vec::<String>::new(), "empty folders in the output");
    }

    fn exists(&self, rel: &str) -> bool {
        self.out().join(rel).exists()
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.out().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn html(&self, rel: &str) -> scraper::Html {
        scraper::Html::parse_document(&self.read(rel))
    }

    /// The titles a list page of the default theme shows.
    fn list_titles(&self, rel: &str) -> Vec<String> {
        texts(&self.html(rel), ".post-card__title, .archive-list__title")
    }

    /// Every link in a feed or the sitemap: Atom `link@href`, RSS `link` and sitemap `loc`.
    fn xml_links(&self, rel: &str) -> Vec<String> {
        let xml = self.read(rel);
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut links: Vec<String> = doc
            .descendants()
            .filter(|n| n.is_element() && n.tag_name().name() == "link")
            .filter_map(|n| n.attribute("href").map(str::to_string))
            .collect();
        links.extend(xml_texts(&xml, "link"));
        links.extend(xml_texts(&xml, "loc"));
        links.retain(|l| !l.is_empty());
        links
    }
}

fn tagged(title: &str, date: &str, tags: &str) -> String {
    format!(
        "+++\ntitle = \"{title}\"\ndate = {date}\ntags = {tags}\n+++\nBody of {title}.\n\n<!-- more -->\n\nThe rest.\n"
    )
}

const FEEDS: [&str; 4] = ["atom.xml", "rss.xml", "tags/x/atom.xml", "tags/x/rss.xml"];

#[test]
fn deleted_post_lingers_in_home_tag_page_feeds_and_sitemap() {
    let mut site = Served::new(&[
        ("content/a.md", &tagged("A", "2024-01-01", "[\"x\"]")),
        ("content/b.md", &tagged("B", "2024-02-01", "[\"x\"]")),
    ]);
    site.apply_and_compare(&[]);
    assert!(site.exists("b/index.html"));
    assert_eq!(site.list_titles("index.html"), ["B", "A"]);
    assert_eq!(site.list_titles("tags/x/index.html"), ["B", "A"]);
    for feed in FEEDS.into_iter().chain(["sitemap.xml"]) {
        let links = site.xml_links(feed);
        assert!(links.contains(&"https://example.org/b/".to_string()), "{feed}: {links:?}");
    }

    std::fs::remove_file(site.root().join("content/b.md")).unwrap();
    let report = site.apply_and_compare(&[Change::Removed("content/b.md".into())]);
    assert!(!site.out().join("b").exists(), "b/ is left in the output");
    assert!(report.build.write.removed.contains(&"b/index.html".to_string()));
    assert_eq!(site.list_titles("index.html"), ["A"]);
    assert_eq!(site.list_titles("tags/x/index.html"), ["A"]);
    for feed in FEEDS.into_iter().chain(["sitemap.xml"]) {
        let links = site.xml_links(feed);
        assert!(links.iter().all(|l| !l.ends_with("/b/")), "{feed} still has b: {links:?}");
        assert!(links.contains(&"https://example.org/a/".to_string()), "{feed}: {links:?}");
    }
}

#[test]
fn term_of_a_deleted_post_lingers_when_no_other_post_has_it() {
    let mut site = Served::new(&[
        ("content/a.md", &tagged("A", "2024-01-01", "[\"keep\"]")),
        ("content/b.md", &tagged("B", "2024-02-01", "[\"x\"]")),
    ]);
    site.apply_and_compare(&[]);
    assert!(site.exists("tags/x/index.html"));

    std::fs::remove_file(site.root().join("content/b.md")).unwrap();
    site.apply_and_compare(&[Change::Removed(site.root().join("content/b.md"))]);
    assert!(!site.out().join("tags/x").exists(), "tags/x/ is left in the output");
    let terms = texts(&site.html("tags/index.html"), "main a");
    assert!(terms.iter().any(|t| t.contains("keep")), "{terms:?}");
    assert!(terms.iter().all(|t| !t.contains('x')), "x is still listed: {terms:?}");
    let locs = site.xml_links("sitemap.xml");
    assert!(locs.iter().all(|l| !l.contains("/tags/x/")), "{locs:?}");
}

fn with_slug(slug: &str, aliases: &str) -> String {
    format!(
        "+++\ntitle = \"A\"\ndate = 2024-01-01\nslug = \"{slug}\"\n{aliases}tags = [\"x\"]\n+++\nBody.\n"
    )
}

#[test]
fn old_slug_url_lingers_after_the_slug_changes() {
    let mut site = Served::new(&[("content/a.md", &with_slug("one", ""))]);
    site.apply_and_compare(&[]);
    assert!(site.exists("one/index.html"));

    site.write("content/a.md", &with_slug("two", ""));
    site.apply_and_compare(&[Change::Modified("content/a.md".into())]);
    assert!(!site.out().join("one").exists(), "/one/ is still served");
    assert!(site.exists("two/index.html"));
    let home = attrs(&site.html("index.html"), ".post-card__title a", "href");
    assert_eq!(home, ["https://example.org/two/"]);
    let locs = site.xml_links("sitemap.xml");
    assert!(locs.contains(&"https://example.org/two/".to_string()), "{locs:?}");
    assert!(locs.iter().all(|l| !l.contains("/one/")), "{locs:?}");
}

#[test]
fn alias_keeps_the_old_slug_url_as_a_redirect() {
    let mut site = Served::new(&[("content/a.md", &with_slug("one", ""))]);
    site.apply_and_compare(&[]);
    site.write("content/a.md", &with_slug("two", "aliases = [\"/one/\"]\n"));
    site.apply_and_compare(&[Change::Modified(site.root().join("content/a.md"))]);
    let old = site.html("one/index.html");
    assert_eq!(attrs(&old, "link[rel=canonical]", "href"), ["https://example.org/two/"]);
    assert_eq!(
        attrs(&old, "meta[http-equiv=refresh]", "content"),
        ["0; url=https://example.org/two/"]
    );
    assert!(site.html("two/index.html").html().contains("<h1 class=\"post__title\">A</h1>"));

    // Dropping the alias again removes the redirect.
    site.write("content/a.md", &with_slug("two", ""));
    site.apply_and_compare(&[Change::Modified("content/a.md".into())]);
    assert!(!site.out().join("one").exists(), "the redirect outlives its alias");
}

#[test]
fn one_shot_build_after_the_engine_leaves_no_orphan_files() {
    let mut site = Served::new(&[
        ("content/a.md", &with_slug("one", "")),
        ("content/b.md", &tagged("B", "2024-02-01", "[\"x\", \"only-b\"]")),
    ]);
    site.apply_and_compare(&[]);
    std::fs::remove_file(site.root().join("content/b.md")).unwrap();
    site.apply_and_compare(&[Change::Removed("content/b.md".into())]);
    site.write("content/a.md", &with_slug("two", ""));
    site.apply_and_compare(&[Change::Modified("content/a.md".into())]);

    // The engine brought the folder up to date: a one-shot build has nothing left to do.
    let output = site.out();
    let report = kiln::build(&request(&site.root(), &output)).unwrap();
    assert_eq!(report.write.written, Vec::<String>::new());
    assert_eq!(report.write.removed, Vec::<String>::new());
    site.assert_clean();

    // What the engine wrote is on record: a one-shot build after the last post is gone, with
    // no engine running, removes every output of it.
    std::fs::remove_file(site.root().join("content/a.md")).unwrap();
    let report = kiln::build(&request(&site.root(), &output)).unwrap();
    assert!(report.write.removed.contains(&"two/index.html".to_string()), "{report:?}");
    assert!(!output.join("two").exists() && !output.join("tags/x").exists());
    site.assert_clean();
}

// What the write report says.

fn assert_writes_nothing(report: &BuildReport, what: &str) {
    assert_eq!(report.write.written, Vec::<String>::new(), "{what} wrote files");
    assert_eq!(report.write.removed, Vec::<String>::new(), "{what} removed files");
    assert_eq!(report.write.unchanged, report.outputs, "{what}: every output is unchanged");
}

fn small_blog() -> Vec<(&'static str, String)> {
    vec![
        ("content/blog/_index.md", "+++\ntitle = \"Blog\"\npaginate_by = 2\n+++\n".to_string()),
        ("content/blog/a.md", tagged("A", "2024-01-01", "[\"x\"]")),
        ("content/blog/b.md", tagged("B", "2024-02-01", "[\"y\"]")),
        ("content/blog/c.md", tagged("C", "2024-03-01", "[\"x\"]")),
        ("content/notes/n.md", tagged("N", "2023-06-01", "[\"z\"]")),
        ("static/robots-extra.txt", "static\n".to_string()),
    ]
}

fn served_small_blog() -> Served {
    let files = small_blog();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    Served::new(&files)
}

#[test]
fn apply_without_changes_rewrites_unchanged_files() {
    let mut site = served_small_blog();
    let first = site.apply(&[]);
    assert!(first.build.write.written.contains(&"blog/a/index.html".to_string()));
    assert_eq!(first.build.write.written.len(), first.build.outputs, "the first apply writes all");
    let second = site.apply(&[]);
    assert_writes_nothing(&second.build, "a second apply with no changes");
    site.assert_clean();
}

#[test]
fn second_one_shot_build_rewrites_unchanged_files() {
    let site = served_small_blog();
    let request = request(&site.root(), &site.out());
    let first = kiln::build(&request).unwrap();
    assert_eq!(first.write.written.len(), first.outputs);
    let second = kiln::build(&request).unwrap();
    assert_writes_nothing(&second, "a second build");
}

#[test]
fn body_edit_rewrites_unrelated_pages() {
    let mut site = served_small_blog();
    site.apply(&[]);
    site.write(
        "content/blog/a.md",
        &tagged("A", "2024-01-01", "[\"x\"]").replace("Body of A.", "New words."),
    );
    let report = site.apply_and_compare(&[Change::Modified(site.root().join("content/blog/a.md"))]);
    let written = &report.build.write.written;
    // The page, and the lists and feeds that show its summary or content.
    for path in
        ["blog/a/index.html", "blog/page/2/index.html", "index.html", "atom.xml", "tags/x/atom.xml"]
    {
        assert!(written.contains(&path.to_string()), "{path} not written: {written:?}");
    }
    // Nothing the body does not reach: other posts, in this section or another, other terms.
    for path in [
        "blog/b/index.html",
        "blog/c/index.html",
        "blog/index.html",
        "notes/n/index.html",
        "tags/y/index.html",
        "robots-extra.txt",
        "style.css",
    ] {
        assert!(!written.contains(&path.to_string()), "{path} written: {written:?}");
    }
    assert_eq!(report.build.write.removed, Vec::<String>::new());
    assert!(
        report.rendered >= written.len(),
        "{} rendered, {} written",
        report.rendered,
        written.len()
    );
}

// One-shot builds that reuse what the last build left.

/// Sets the modification time of every file under `dir` to one in 2001: files copied with
/// their times, or checked out long ago, which a build may trust without reading.
fn age_files(dir: &Path) {
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(978_307_200);
    for entry in walkdir::WalkDir::new(dir).into_iter().filter_map(Result::ok) {
        if entry.file_type().is_file() {
            set_mtime(entry.path(), old);
        }
    }
}

/// Gives the outputs old times and builds twice, so that the next build may take the outputs
/// and the inputs as they are recorded without reading them.
fn settle(request: &BuildRequest) {
    age_files(request.output.as_deref().unwrap());
    for _ in 0..2 {
        assert_writes_nothing(&kiln::build(request).unwrap(), "a build of old, unchanged files");
    }
}

fn set_mtime(path: &Path, time: std::time::SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(time).unwrap();
}

#[test]
fn one_shot_build_misses_edits_to_files_with_old_times() {
    let site = served_small_blog();
    let (root, output) = (site.root(), site.out());
    let request = request(&root, &output);
    age_files(&root);
    kiln::build(&request).unwrap();
    settle(&request);

    // An edit of the same length, with a time that is old but not the recorded one.
    let later = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let a = root.join("content/blog/a.md");
    let text = std::fs::read_to_string(&a).unwrap().replace("Body of A.", "Body of Z.");
    std::fs::write(&a, text).unwrap();
    set_mtime(&a, later);
    let report = kiln::build(&request).unwrap();
    assert!(report.write.written.contains(&"blog/a/index.html".to_string()), "{report:?}");
    site.assert_clean();

    // An output deleted by hand comes back.
    settle(&request);
    std::fs::remove_file(output.join("blog/b/index.html")).unwrap();
    let report = kiln::build(&request).unwrap();
    assert_eq!(report.write.written, ["blog/b/index.html"]);
    site.assert_clean();

    // A static file removed, and a post added with an old time (as `cp -p` leaves it).
    settle(&request);
    std::fs::remove_file(root.join("static/robots-extra.txt")).unwrap();
    site.write("content/blog/d.md", &tagged("D", "2024-04-01", "[\"x\"]"));
    set_mtime(&root.join("content/blog/d.md"), later);
    let report = kiln::build(&request).unwrap();
    assert_eq!(report.write.removed, ["robots-extra.txt"]);
    assert!(report.write.written.contains(&"blog/d/index.html".to_string()), "{report:?}");
    site.assert_clean();
}

#[test]
fn future_post_stays_hidden_after_its_date_has_come() {
    let site = served_small_blog();
    site.write("content/blog/soon.md", &tagged("Soon", "2025-07-01", "[\"x\"]"));
    let mut request = request(&site.root(), &site.out());
    age_files(&site.root());
    kiln::build(&request).unwrap();
    assert!(!site.exists("blog/soon/index.html"));
    site.assert_clean();

    settle(&request);
    let later = "2025-08-01T00:00:00Z";
    request.now = Some(later.parse().unwrap());
    let report = kiln::build(&request).unwrap();
    assert!(report.write.written.contains(&"blog/soon/index.html".to_string()), "{report:?}");
    assert_eq!(site.list_titles("tags/x/index.html"), ["Soon", "C", "A"]);
    site.assert_clean_at(later);
}

// Structure patches: edits of page files in known section folders that change the page
// list, its order, the terms, or any front matter besides text, title, description and extra.

/// What a build reports besides its writes: its counts, the pages it left out and its
/// warnings, each as one line, with the root's path taken out.
fn summary_of(report: &BuildReport, root: &Path) -> Vec<String> {
    let mut lines = vec![format!(
        "{} pages, {} sections, {} outputs",
        report.pages, report.sections, report.outputs
    )];
    lines.extend(report.skipped.iter().map(|(source, skip)| format!("skipped {source}: {skip:?}")));
    lines.extend(lines_of(report.warnings.iter(), root));
    lines
}

impl Served {
    /// Writes (`Some`) or removes (`None`) each file, applies the changes a watcher reports
    /// for that, and checks the output (and the report) against a clean build: the same
    /// files, or the same errors and the output as it was. Returns the apply's outcome.
    fn step(&mut self, edits: &[(&str, Option<&str>)]) -> Result<(), Vec<String>> {
        let mut changes = Vec::new();
        for (rel, text) in edits {
            let full = self.root().join(rel);
            match text {
                Some(text) => {
                    let existed = full.exists();
                    self.write(rel, text);
                    changes.push(match existed {
                        true => Change::Modified(full),
                        false => Change::Created(full),
                    });
                }
                None => {
                    std::fs::remove_file(&full).unwrap();
                    changes.push(Change::Removed(full));
                }
            }
        }
        self.step_changes(&changes)
    }

    /// Applies `changes` and checks the output as [`Served::step`] does.
    fn step_changes(&mut self, changes: &[Change]) -> Result<(), Vec<String>> {
        let root = self.root();
        let before = Tree::read(&self.out());
        let applied = self.engine.apply(changes);
        let (clean, clean_summary) = clean_build_with(&root, common::NOW, self.drafts);
        let summary = applied.as_ref().ok().map(|report| summary_of(&report.build, &root));
        let result = applied.map(drop).map_err(|f| errors(&f, &root));
        if let Err(message) = check_output("apply", result.clone(), &self.out(), &before, &clean) {
            panic!("{message}");
        }
        if let Some(summary) = summary {
            assert_eq!(summary, clean_summary, "apply reports otherwise than a clean build");
        }
        result
    }

    /// [`Served::step`] that must succeed.
    fn ok(&mut self, edits: &[(&str, Option<&str>)]) {
        if let Err(errors) = self.step(edits) {
            panic!("apply failed:\n{}", errors.join("\n"));
        }
    }

    /// [`Served::step`] that must fail; returns the errors.
    fn fails(&mut self, edits: &[(&str, Option<&str>)]) -> Vec<String> {
        match self.step(edits) {
            Ok(()) => panic!("apply succeeded, and so did a clean build"),
            Err(errors) => errors,
        }
    }
}

/// A page with front matter `front` (TOML lines) and body `body`.
fn doc(front: &str, body: &str) -> String {
    format!("+++\n{front}+++\n{body}\n")
}

/// A dated post with `more` front matter lines.
fn post(title: &str, date: &str, more: &str) -> String {
    doc(
        &format!("title = \"{title}\"\ndate = {date}\n{more}"),
        &format!("Intro of {title}.\n\n<!-- more -->\n\n## Part one\n\nThe rest of {title}."),
    )
}

/// A site of `kiln.toml` with `config` added to the default one, and `files`.
fn site_with(config: &str, files: &[(&str, String)]) -> Served {
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let mut served = Served::new(&files);
    served.write(
        "kiln.toml",
        &format!("base_url = \"https://example.org\"\ntitle = \"Test\"\n{config}"),
    );
    served.ok(&[]);
    served
}

fn blog_posts(n: usize, more: &str) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| {
            let path = format!("content/blog/p{i}.md");
            (path, post(&format!("Post {i}"), &format!("2024-01-{:02}", i * 2), more))
        })
        .collect()
}

fn files_of<'a>(index: &'a str, posts: &'a [(String, String)]) -> Vec<(&'a str, String)> {
    let mut files = vec![("content/blog/_index.md", index.to_string())];
    files.extend(posts.iter().map(|(p, t)| (p.as_str(), t.clone())));
    files
}

#[test]
fn new_post_in_a_reversed_paginated_section_shifts_every_pager() {
    let index = doc("title = \"Blog\"\npaginate_by = 2\npaginate_reversed = true\n", "");
    let posts = blog_posts(5, "");
    let mut site = site_with("", &files_of(&index, &posts));
    assert!(site.exists("blog/page/3/index.html"));
    site.ok(&[("content/blog/new.md", Some(&post("New", "2024-01-05", "")))]);
    site.ok(&[("content/blog/new.md", Some(&post("New", "2023-01-05", "")))]);
    site.ok(&[("content/blog/p1.md", None)]);
    site.ok(&[("content/blog/new.md", None)]);
    assert!(!site.exists("blog/page/3"));
}

#[test]
fn weight_change_reorders_a_weight_sorted_section() {
    let index = doc("title = \"Blog\"\nsort_by = \"weight\"\npaginate_by = 2\n", "");
    let posts: Vec<(String, String)> = (1..=4)
        .map(|i| {
            let path = format!("content/blog/p{i}.md");
            (path, post(&format!("Post {i}"), "2024-01-01", &format!("weight = {i}\n")))
        })
        .collect();
    let mut site = site_with("", &files_of(&index, &posts));
    site.ok(&[("content/blog/p1.md", Some(&post("Post 1", "2024-01-01", "weight = 9\n")))]);
    site.ok(&[("content/blog/p2.md", Some(&post("Post 2", "2024-01-01", "")))]);
    site.ok(&[("content/blog/w.md", Some(&post("W", "2024-01-01", "weight = 0\n")))]);
    assert_eq!(site.list_titles("blog/index.html"), ["W", "Post 3"]);
}

#[test]
fn title_change_reorders_a_title_sorted_section() {
    let index = doc("title = \"Blog\"\nsort_by = \"title\"\n", "");
    let posts = blog_posts(4, "tags = [\"x\"]\n");
    let mut site = site_with("", &files_of(&index, &posts));
    // A title change with a tag change, so that it is not a values patch.
    let edited = post("A first", "2024-01-08", "tags = [\"y\"]\n");
    site.ok(&[("content/blog/p4.md", Some(&edited))]);
    assert_eq!(site.list_titles("blog/index.html")[0], "A first");
    site.ok(&[("content/blog/p4.md", Some(&post("Zed", "2024-01-08", "")))]);
    site.ok(&[("content/blog/untitled.md", Some(&doc("date = 2024-02-01\n", "No title.")))]);
}

#[test]
fn updated_date_change_reorders_an_update_date_section() {
    let index = doc("title = \"Blog\"\nsort_by = \"update_date\"\n", "");
    let posts = blog_posts(4, "");
    let mut site = site_with("", &files_of(&index, &posts));
    site.ok(&[(
        "content/blog/p1.md",
        Some(&post("Post 1", "2024-01-02", "updated = 2024-06-01\n")),
    )]);
    assert_eq!(site.list_titles("blog/index.html")[0], "Post 1");
    site.ok(&[(
        "content/blog/p2.md",
        Some(&post("Post 2", "2024-01-04", "updated = 2024-07-01\n")),
    )]);
    site.ok(&[("content/blog/p1.md", Some(&post("Post 1", "2024-01-02", "")))]);
}

#[test]
fn slug_change_reorders_a_slug_sorted_section() {
    let index = doc("title = \"Blog\"\nsort_by = \"slug\"\npaginate_by = 3\n", "");
    let posts = blog_posts(4, "");
    let mut site = site_with("", &files_of(&index, &posts));
    site.ok(&[("content/blog/p4.md", Some(&post("Post 4", "2024-01-08", "slug = \"a-first\"\n")))]);
    assert_eq!(site.list_titles("blog/index.html")[0], "Post 4");
    assert!(site.exists("blog/a-first/index.html") && !site.exists("blog/p4"));
    site.ok(&[("content/blog/p1.md", Some(&post("Post 1", "2024-01-02", "slug = \"zz\"\n")))]);
}

#[test]
fn post_in_a_transparent_subsection_moves_the_parent_lists() {
    let files = vec![
        ("content/blog/_index.md", doc("title = \"Blog\"\npaginate_by = 2\n", "")),
        ("content/blog/2024/_index.md", doc("title = \"2024\"\ntransparent = true\n", "")),
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/2024/b.md", post("B", "2024-02-01", "")),
        ("content/blog/2024/c.md", post("C", "2024-03-01", "")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[("content/blog/2024/d.md", Some(&post("D", "2024-04-01", "")))]);
    assert_eq!(site.list_titles("blog/index.html"), ["D", "C"]);
    site.ok(&[("content/blog/2024/b.md", Some(&post("B", "2024-05-01", "")))]);
    site.ok(&[("content/blog/2024/c.md", None)]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-06-01", "")))]);
}

#[test]
fn new_post_in_a_section_with_feeds_updates_the_section_feeds() {
    let index = doc("title = \"Blog\"\ngenerate_feeds = true\n", "");
    let posts = blog_posts(3, "");
    let mut site = site_with("[feeds]\nlimit = 2\n", &files_of(&index, &posts));
    site.ok(&[("content/blog/new.md", Some(&post("New", "2024-03-01", "")))]);
    let links = site.xml_links("blog/atom.xml");
    assert!(links.contains(&"https://example.org/blog/new/".to_string()), "{links:?}");
    site.ok(&[("content/blog/p3.md", Some(&post("Post 3", "2023-01-01", "")))]);
    site.ok(&[("content/blog/new.md", None)]);
    site.ok(&[("content/notes/n.md", Some(&post("N", "2024-09-01", "")))]);
}

const TAX: &str = "taxonomies = [\n  { name = \"tags\", feed = true, paginate_by = 2 },\n  \
                   { name = \"categories\", feed = true },\n]\n";

#[test]
fn new_post_in_a_paginated_term_shifts_its_term_pagers() {
    let posts = blog_posts(4, "tags = [\"x\"]\n");
    let mut site = site_with(TAX, &files_of(&doc("title = \"Blog\"\n", ""), &posts));
    assert!(site.exists("tags/x/page/2/index.html"));
    site.ok(&[("content/blog/new.md", Some(&post("New", "2024-01-05", "tags = [\"x\"]\n")))]);
    assert!(site.exists("tags/x/page/3/index.html"));
    site.ok(&[("content/blog/new.md", Some(&post("New", "2024-01-05", "tags = [\"y\"]\n")))]);
    assert!(!site.exists("tags/x/page/3"));
    site.ok(&[("content/blog/p1.md", None)]);
    site.ok(&[("content/blog/p2.md", Some(&post("Post 2", "2025-01-01", "tags = [\"x\"]\n")))]);
}

#[test]
fn term_display_name_follows_the_spelling_most_pages_use() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "tags = [\"Rust\"]\n")),
        ("content/blog/b.md", post("B", "2024-02-01", "tags = [\"rust\"]\n")),
        ("content/blog/c.md", post("C", "2024-03-01", "tags = [\"web\"]\n")),
    ];
    let mut site = site_with(TAX, &files);
    // A tie goes to the smallest spelling, "Rust"; a third vote for "rust" wins it.
    site.ok(&[("content/blog/c.md", Some(&post("C", "2024-03-01", "tags = [\"rust\"]\n")))]);
    let terms = texts(&site.html("tags/index.html"), "main a");
    assert!(terms.iter().any(|t| t.contains("rust")), "{terms:?}");
    site.ok(&[("content/blog/d.md", Some(&post("D", "2024-04-01", "tags = [\"Rust\"]\n")))]);
    site.ok(&[("content/blog/b.md", None)]);
}

#[test]
fn term_disappears_when_its_last_page_loses_it() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "tags = [\"keep\"]\n")),
        ("content/blog/b.md", post("B", "2024-02-01", "tags = [\"gone\", \"keep\"]\n")),
    ];
    let mut site = site_with(TAX, &files);
    assert!(site.exists("tags/gone/atom.xml"));
    site.ok(&[("content/blog/b.md", Some(&post("B", "2024-02-01", "tags = [\"keep\"]\n")))]);
    assert!(!site.exists("tags/gone"));
    // The last tag of the site goes: no tags list at all.
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "")))]);
    site.ok(&[("content/blog/b.md", Some(&post("B", "2024-02-01", "")))]);
    assert!(!site.exists("tags"));
}

#[test]
fn first_page_of_a_taxonomy_creates_its_lists_and_the_last_removes_them() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "tags = [\"x\"]\n")),
        ("content/blog/b.md", post("B", "2024-02-01", "")),
    ];
    let mut site = site_with(TAX, &files);
    assert!(!site.exists("categories"));
    site.ok(&[("content/blog/b.md", Some(&post("B", "2024-02-01", "categories = [\"Tech\"]\n")))]);
    assert!(site.exists("categories/tech/index.html"));
    site.ok(&[("content/blog/c.md", Some(&post("C", "2024-03-01", "categories = [\"tech\"]\n")))]);
    site.ok(&[("content/blog/b.md", None), ("content/blog/c.md", None)]);
    assert!(!site.exists("categories"));
}

#[test]
fn authors_added_and_removed_update_the_author_pages() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/b.md", post("B", "2024-02-01", "authors = [\"Ada\"]\n")),
    ];
    let mut site = site_with("author = \"Site Owner\"\n", &files);
    assert!(site.exists("authors/ada/index.html"));
    site.ok(&[(
        "content/blog/a.md",
        Some(&post("A", "2024-01-01", "authors = [\"Ada\", \"Bob\"]\n")),
    )]);
    site.ok(&[("content/blog/b.md", Some(&post("B", "2024-02-01", "authors = [\"Bob\"]\n")))]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "")))]);
    site.ok(&[("content/blog/b.md", Some(&post("B", "2024-02-01", "")))]);
    assert!(!site.exists("authors"));
}

#[test]
fn aliases_added_and_removed_with_other_front_matter() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/b.md", post("B", "2024-02-01", "")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[(
        "content/blog/a.md",
        Some(&post("A", "2024-03-01", "aliases = [\"/old/a/\", \"/x.html\"]\n")),
    )]);
    assert!(site.exists("old/a/index.html") && site.exists("x.html"));
    site.ok(&[(
        "content/blog/a.md",
        Some(&post("A", "2024-03-01", "aliases = [\"/x.html\"]\nslug = \"aa\"\n")),
    )]);
    assert!(!site.exists("old"));
    // Another page takes the alias the first one gave up, in one apply.
    site.ok(&[
        ("content/blog/a.md", Some(&post("A", "2024-03-01", ""))),
        ("content/blog/b.md", Some(&post("B", "2024-02-01", "aliases = [\"/x.html\"]\n"))),
    ]);
    // Two pages claim one alias: an error, then fixed.
    site.fails(&[(
        "content/blog/a.md",
        Some(&post("A", "2024-03-01", "aliases = [\"/x.html\"]\n")),
    )]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-03-01", "")))]);
}

#[test]
fn path_front_matter_moves_the_page_output() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/b.md", post("B", "2024-02-01", "")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[(
        "content/blog/a.md",
        Some(&post("A", "2024-01-01", "path = \"2024/01/Some-Post\"\n")),
    )]);
    assert!(site.exists("2024/01/Some-Post/index.html") && !site.exists("blog/a"));
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "path = \"elsewhere\"\n")))]);
    assert!(!site.exists("2024"));
    // A path onto another page's output is an error, and leaves the output as it was.
    site.fails(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "path = \"blog/b\"\n")))]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "")))]);
}

#[test]
fn render_false_drops_the_page_output_but_keeps_it_listed() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "tags = [\"x\"]\n")),
        ("content/blog/b.md", post("B", "2024-02-01", "tags = [\"x\"]\n")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[(
        "content/blog/a.md",
        Some(&post("A", "2024-01-01", "tags = [\"x\"]\nrender = false\n")),
    )]);
    assert!(!site.exists("blog/a"));
    site.ok(&[("content/blog/c.md", Some(&post("C", "2024-03-01", "render = false\n")))]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "tags = [\"x\"]\n")))]);
    assert!(site.exists("blog/a/index.html"));
}

#[test]
fn in_search_index_false_takes_the_page_out_of_the_search_index() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/b.md", post("B", "2024-02-01", "")),
    ];
    let mut site = site_with("search_index = true\n", &files);
    assert!(site.read("search_index.json").contains("/blog/a/"));
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "in_search_index = false\n")))]);
    assert!(!site.read("search_index.json").contains("/blog/a/"));
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "")))]);
    assert!(site.read("search_index.json").contains("/blog/a/"));
}

fn linking(target: &str) -> String {
    post("L", "2024-05-01", "").replace("Intro of L.", &format!("Intro of L, see [it]({target})."))
}

#[test]
fn deleting_a_linked_post_fails_until_it_is_restored() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/l.md", linking("@/blog/a.md")),
    ];
    let mut site = site_with("", &files);
    let errors = site.fails(&[("content/blog/a.md", None)]);
    assert!(errors.iter().any(|e| e.contains("blog/a.md")), "{errors:?}");
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "")))]);
    // Deleted again with an unrelated edit, then the link removed.
    site.fails(&[("content/blog/a.md", None)]);
    site.ok(&[("content/blog/l.md", Some(&post("L", "2024-05-01", "")))]);
}

#[test]
fn renaming_a_linked_post_fails_until_the_link_follows() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/l.md", linking("@/blog/a.md#part-one")),
    ];
    let mut site = site_with("", &files);
    let from = site.root().join("content/blog/a.md");
    let to = site.root().join("content/blog/b.md");
    std::fs::rename(&from, &to).unwrap();
    site.step_changes(&[Change::Renamed { from, to }]).unwrap_err();
    site.ok(&[("content/blog/l.md", Some(&linking("@/blog/b.md#part-one")))]);
    assert!(site.read("blog/l/index.html").contains("https://example.org/blog/b/#part-one"));
    // A re-slug of the target changes the link's URL.
    site.ok(&[("content/blog/b.md", Some(&post("A", "2024-01-01", "slug = \"bee\"\n")))]);
    assert!(site.read("blog/l/index.html").contains("https://example.org/blog/bee/#part-one"));
    // And the anchor goes from the target: a warning.
    let plain = doc("title = \"A\"\ndate = 2024-01-01\nslug = \"bee\"\n", "No parts.");
    site.ok(&[("content/blog/b.md", Some(&plain))]);
}

#[test]
fn drafting_a_linked_post_and_undrafting_it() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/l.md", linking("@/blog/a.md")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "draft = true\n")))]);
    assert!(!site.exists("blog/a"));
    site.ok(&[(
        "content/blog/a.md",
        Some(&post("A", "2024-01-01", "draft = true\nslug = \"d\"\n")),
    )]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "slug = \"d\"\n")))]);
    assert!(site.read("blog/l/index.html").contains("https://example.org/blog/d/"));
}

#[test]
fn post_created_after_being_linked_as_a_draft() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "draft = true\n")),
        ("content/blog/b.md", post("B", "2024-02-01", "")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[("content/blog/l.md", Some(&linking("@/blog/a.md")))]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "")))]);
    site.ok(&[("content/blog/a.md", None), ("content/blog/l.md", None)]);
}

/// Templates that show other content through every template function.
fn function_templates() -> Vec<(&'static str, String)> {
    let page = "{% extends \"page.html\" %}\n{% block page_after_content %}\n\
        {% set x = get_page(path=\"blog/x.md\") %}<p id=\"x\">{{ x.title }} {{ x.date }} \
        {{ x.permalink }} {{ x.taxonomies | json_encode }} {% if x.lower %}{{ x.lower.title }}{% endif %}</p>\n\
        {% set blog = get_section(path=\"blog/_index.md\") %}<p id=\"blog\">{% for p in blog.pages %}\
        {{ p.title }} {% endfor %}{{ blog.page_count }}</p>\n\
        {% set tags = get_taxonomy(kind=\"tags\") %}<p id=\"tags\">{% for t in tags.terms %}\
        {{ t.name }}={{ t.page_count }} {% endfor %}</p>\n\
        <p id=\"url\">{{ get_url(path=\"@/blog/x.md\") }} {{ get_url(path=\"@/blog/x.md#part-one\") }}</p>\n\
        <p id=\"term\">{{ get_taxonomy_url(kind=\"tags\", name=\"Keep\") }}</p>\n\
        {% endblock page_after_content %}\n";
    vec![("templates/shows.html", page.to_string())]
}

#[test]
fn template_functions_follow_their_targets() {
    let mut files = function_templates();
    files.extend([
        ("content/blog/_index.md", doc("title = \"Blog\"\n", "")),
        ("content/blog/x.md", post("X", "2024-01-01", "tags = [\"t1\", \"keep\"]\n")),
        ("content/blog/y.md", post("Y", "2023-01-01", "tags = [\"keep\"]\n")),
        ("content/pages/show.md", doc("title = \"Show\"\ntemplate = \"shows.html\"\n", "Shows.")),
    ]);
    let mut site = site_with(TAX, &files);
    let x = |date: &str, more: &str| post("X", date, &format!("tags = [\"t1\", \"keep\"]\n{more}"));
    site.ok(&[("content/blog/x.md", Some(&x("2024-02-01", "")))]);
    site.ok(&[("content/blog/x.md", Some(&x("2024-02-01", "slug = \"ex\"\n")))]);
    assert!(site.read("pages/show/index.html").contains("https://example.org/blog/ex/#part-one"));
    site.ok(&[(
        "content/blog/x.md",
        Some(&post("X", "2024-02-01", "tags = [\"t2\", \"keep\"]\n")),
    )]);
    site.ok(&[("content/blog/z.md", Some(&post("Z", "2024-03-01", "tags = [\"Keep\"]\n")))]);
    site.ok(&[("content/blog/z.md", Some(&post("Z", "2022-03-01", "tags = [\"Keep\"]\n")))]);
    site.ok(&[("content/blog/y.md", None)]);
    // The page `get_page` shows becomes a draft: the template fails, as in a clean build.
    site.fails(&[("content/blog/x.md", Some(&x("2024-02-01", "draft = true\n")))]);
    site.ok(&[("content/blog/x.md", Some(&x("2024-02-01", "")))]);
    // The term `get_taxonomy_url` asks for goes: an error too.
    site.fails(&[
        ("content/blog/x.md", Some(&post("X", "2024-02-01", ""))),
        ("content/blog/z.md", None),
    ]);
    site.ok(&[("content/blog/x.md", Some(&x("2024-02-01", "")))]);
}

#[test]
fn draft_toggles_with_drafts_included_keep_the_page() {
    let files = [
        ("kiln.toml", format!("base_url = \"https://example.org\"\ntitle = \"Test\"\n{TAX}")),
        ("content/blog/a.md", post("A", "2024-01-01", "tags = [\"x\"]\n")),
        ("content/blog/b.md", post("B", "2024-02-01", "draft = true\ntags = [\"x\"]\n")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    let mut site = Served::with_drafts(&files, true);
    site.ok(&[]);
    assert!(site.exists("blog/b/index.html"));
    site.ok(&[(
        "content/blog/a.md",
        Some(&post("A", "2024-01-01", "draft = true\ntags = [\"x\"]\n")),
    )]);
    assert!(site.exists("blog/a/index.html"));
    site.ok(&[("content/blog/b.md", Some(&post("B", "2024-02-01", "tags = [\"y\"]\n")))]);
    site.ok(&[("content/blog/c.md", Some(&post("C", "2024-03-01", "draft = true\n")))]);
    site.ok(&[("content/blog/c.md", None)]);
}

#[test]
fn create_delete_and_edit_in_one_apply() {
    let index = doc("title = \"Blog\"\npaginate_by = 2\n", "");
    let posts = blog_posts(4, "tags = [\"x\"]\n");
    let mut site = site_with(TAX, &files_of(&index, &posts));
    site.ok(&[
        ("content/blog/new.md", Some(&post("New", "2024-01-03", "tags = [\"y\"]\n"))),
        ("content/blog/p2.md", None),
        ("content/blog/p3.md", Some(&post("Post 3", "2023-01-01", "tags = [\"y\"]\n"))),
        ("content/blog/p4.md", Some(&post("Post 4 edited", "2024-01-08", "tags = [\"x\"]\n"))),
    ]);
    site.ok(&[
        ("content/blog/p2.md", Some(&post("Post 2", "2024-01-04", ""))),
        ("content/blog/new.md", None),
        ("content/blog/p1.md", Some(&post("Post 1", "2024-01-02", "draft = true\n"))),
    ]);
}

#[test]
fn renamed_post_moves_its_output() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "tags = [\"x\"]\n")),
        ("content/blog/b.md", post("B", "2024-02-01", "tags = [\"x\"]\n")),
    ];
    let mut site = site_with(TAX, &files);
    let from = site.root().join("content/blog/a.md");
    let to = site.root().join("content/blog/2024-01-01-c.md");
    std::fs::rename(&from, &to).unwrap();
    site.step_changes(&[Change::Renamed { from, to }]).unwrap();
    assert!(site.exists("blog/c/index.html") && !site.exists("blog/a"));
    // Into another known section, with a relative path.
    std::fs::create_dir_all(site.root().join("content/notes")).unwrap();
    site.ok(&[("content/notes/n.md", Some(&post("N", "2024-01-01", "")))]);
    let from = PathBuf::from("content/blog/2024-01-01-c.md");
    let to = PathBuf::from("content/notes/c.md");
    std::fs::rename(site.root().join(&from), site.root().join(&to)).unwrap();
    site.step_changes(&[Change::Renamed { from, to }]).unwrap();
}

#[test]
fn same_post_edited_twice_in_a_row() {
    let posts = blog_posts(3, "tags = [\"x\"]\n");
    let mut site = site_with(TAX, &files_of(&doc("title = \"Blog\"\n", ""), &posts));
    site.ok(&[("content/blog/p1.md", Some(&post("Post 1", "2024-05-01", "tags = [\"y\"]\n")))]);
    site.ok(&[("content/blog/p1.md", Some(&post("Post 1", "2024-05-01", "tags = [\"z\"]\n")))]);
    site.ok(&[("content/blog/p1.md", Some(&post("Post 1", "2024-01-02", "tags = [\"x\"]\n")))]);
    // Two edits of one file reported in one apply.
    site.write("content/blog/p1.md", &post("Post 1", "2024-06-01", ""));
    let path = site.root().join("content/blog/p1.md");
    site.step_changes(&[Change::Modified(path.clone()), Change::Modified(path)]).unwrap();
}

#[test]
fn post_edited_into_a_parse_error_then_fixed() {
    let posts = blog_posts(3, "tags = [\"x\"]\n");
    let mut site = site_with(TAX, &files_of(&doc("title = \"Blog\"\n", ""), &posts));
    site.fails(&[(
        "content/blog/p2.md",
        Some("+++\ntitle = \"Broken\ndate = 2024-01-04\n+++\nx\n"),
    )]);
    site.fails(&[(
        "content/blog/p2.md",
        Some("+++\ntitle = \"Broken\"\ndate = 2024-13-04\n+++\nx\n"),
    )]);
    site.ok(&[("content/blog/p2.md", Some(&post("Post 2", "2024-03-01", "tags = [\"y\"]\n")))]);
    site.ok(&[("content/blog/p2.md", Some(&post("Post 2", "2024-03-01", "tags = [\"x\"]\n")))]);
}

#[test]
fn section_redirect_to_a_page_follows_the_page() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/latest/_index.md", doc("redirect_to = \"@/blog/a.md\"\n", "")),
    ];
    let mut site = site_with("", &files);
    assert!(site.read("latest/index.html").contains("https://example.org/blog/a/"));
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "slug = \"moved\"\n")))]);
    assert!(site.read("latest/index.html").contains("https://example.org/blog/moved/"));
    site.step(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "draft = true\n")))]).ok();
    site.step(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "")))]).ok();
    site.step(&[("content/blog/a.md", None)]).ok();
    site.step(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "")))]).ok();
}

#[test]
fn deleted_post_takes_its_warnings_with_it() {
    let files = vec![
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/b.md", post("B", "2024-02-01", "colour = \"red\"\n")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[("content/blog/b.md", None)]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "colour = \"blue\"\n")))]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-03-01", "colour = \"blue\"\n")))]);
}

#[test]
fn undeclared_taxonomy_warning_names_the_first_page_that_uses_it() {
    let files = vec![
        ("content/blog/m.md", post("M", "2024-01-01", "[taxonomies]\nseries = [\"one\"]\n")),
        ("content/blog/n.md", post("N", "2024-02-01", "")),
    ];
    let mut site = site_with("", &files);
    // A page before the first one takes the series too: the warning names it now.
    site.ok(&[(
        "content/blog/a.md",
        Some(&post("A", "2024-03-01", "[taxonomies]\nseries = [\"one\"]\n")),
    )]);
    site.ok(&[(
        "content/blog/n.md",
        Some(&post("N", "2024-02-01", "[taxonomies]\nseries = [\"two\"]\n")),
    )]);
    site.ok(&[("content/blog/a.md", None)]);
}

#[test]
fn undated_root_page_gets_a_date_and_joins_the_home_list() {
    let files = vec![
        ("content/about.md", doc("title = \"About\"\n", "About us.")),
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        (
            "content/_index.md",
            doc("title = \"Home\"\npaginate_by = 1\npaginate_path = \"p\"\n", ""),
        ),
    ];
    let mut site = site_with("", &files);
    site.ok(&[(
        "content/about.md",
        Some(&doc("title = \"About\"\ndate = 2024-02-01\n", "About us.")),
    )]);
    assert!(site.exists("p/2/index.html"));
    site.ok(&[("content/contact-me.md", Some(&doc("title = \"Contact\"\n", "Write.")))]);
    site.ok(&[("content/about.md", Some(&doc("title = \"About\"\n", "About us.")))]);
    assert!(!site.exists("p/2"));
}

#[test]
fn sections_sorted_by_title_bytes_and_none_follow_edits() {
    let files = vec![
        ("content/a/_index.md", doc("title = \"A\"\nsort_by = \"title_bytes\"\n", "")),
        (
            "content/b/_index.md",
            doc("title = \"B\"\nsort_by = \"none\"\npage_template = \"page.html\"\n", ""),
        ),
        ("content/a/x.md", post("beta", "2024-01-01", "")),
        ("content/a/y.md", post("Alpha", "2024-02-01", "")),
        ("content/b/x.md", post("X", "2024-01-01", "")),
        ("content/b/y.md", post("Y", "2024-02-01", "")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[("content/a/z.md", Some(&post("Zed", "2024-03-01", "tags = [\"t\"]\n")))]);
    site.ok(&[("content/a/x.md", Some(&post("Beta", "2024-01-01", "tags = [\"t\"]\n")))]);
    site.ok(&[("content/b/a.md", Some(&post("First", "2023-01-01", "")))]);
    site.ok(&[("content/b/y.md", Some(&post("Y", "2022-02-01", "tags = [\"t\"]\n")))]);
}

#[test]
fn taxonomy_list_templates_follow_a_taxonomy_that_comes_and_goes() {
    let list = "{% extends \"section.html\" %}\n{% block section_pages %}{{ super() }}\
        {% set c = get_taxonomy(kind=\"tags\") %}<aside>{% for t in c.terms %}{{ t.name }} \
        {% for p in t.pages %}{{ p.title }},{% endfor %};{% endfor %}</aside>\
        {% endblock section_pages %}\n";
    let files = vec![
        ("templates/list.html", list.to_string()),
        ("content/blog/_index.md", doc("title = \"Blog\"\ntemplate = \"list.html\"\n", "")),
        ("content/blog/a.md", post("A", "2024-01-01", "tags = [\"x\"]\n")),
        ("content/notes/n.md", post("N", "2024-02-01", "")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[("content/notes/n.md", Some(&post("N2", "2024-02-01", "tags = [\"x\", \"y\"]\n")))]);
    site.ok(&[("content/notes/n.md", Some(&post("N2", "2024-02-01", "tags = [\"X\"]\n")))]);
    // The last tag goes: `get_taxonomy` fails, as in a clean build; then it comes back.
    site.fails(&[
        ("content/blog/a.md", Some(&post("A", "2024-01-01", ""))),
        ("content/notes/n.md", Some(&post("N2", "2024-02-01", ""))),
    ]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "tags = [\"z\"]\n")))]);
}

#[test]
fn bundle_next_to_an_edited_post_keeps_its_assets_and_neighbours() {
    let files = vec![
        ("content/blog/_index.md", doc("title = \"Blog\"\npaginate_by = 2\n", "")),
        ("content/blog/b/index.md", post("Bundle", "2024-02-01", "tags = [\"x\"]\n")),
        ("content/blog/b/photo.txt", "photo\n".to_string()),
        ("content/blog/a.md", post("A", "2024-01-01", "tags = [\"x\"]\n")),
        ("content/blog/c.md", post("C", "2024-03-01", "")),
        ("content/blog/b-side.md", post("B side", "2024-02-02", "")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[("content/blog/c.md", Some(&post("C", "2024-01-15", "tags = [\"x\"]\n")))]);
    site.ok(&[("content/blog/b-side.md", None)]);
    site.ok(&[("content/blog/ba.md", Some(&post("Ba", "2024-02-03", "")))]);
    assert!(site.exists("blog/b/photo.txt"));
}

#[test]
fn post_in_a_nested_section_with_an_inherited_page_template() {
    let shows = "{% extends \"page.html\" %}\n{% block page_after_content %}<p id=\"nav\">\
        {% if page.higher %}{{ page.higher.title }}{% endif %}|{% if page.lower %}\
        {{ page.lower.title }}{% endif %}|{{ section.title }}</p>{% endblock page_after_content %}\n";
    let files = vec![
        ("templates/nav.html", shows.to_string()),
        (
            "content/docs/_index.md",
            doc("title = \"Docs\"\npage_template = \"nav.html\"\nsort_by = \"weight\"\n", ""),
        ),
        ("content/docs/guide/_index.md", doc("title = \"Guide\"\nsort_by = \"weight\"\n", "")),
        ("content/docs/guide/one.md", doc("title = \"One\"\nweight = 1\n", "One.")),
        ("content/docs/guide/two.md", doc("title = \"Two\"\nweight = 2\n", "Two.")),
        ("content/docs/guide/three.md", doc("title = \"Three\"\nweight = 3\n", "Three.")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[(
        "content/docs/guide/three.md",
        Some(&doc("title = \"Three\"\nweight = 0\n", "Three.")),
    )]);
    site.ok(&[(
        "content/docs/guide/half.md",
        Some(&doc("title = \"Half\"\nweight = 1\n", "Half.")),
    )]);
    site.ok(&[("content/docs/guide/one.md", None)]);
    site.ok(&[(
        "content/docs/top.md",
        Some(&doc("title = \"Top\"\nweight = 1\ndate = 2024-01-01\n", "Top.")),
    )]);
}

#[test]
fn section_text_linking_a_reslugged_post_follows_it() {
    let files = vec![
        (
            "content/blog/_index.md",
            doc("title = \"Blog\"\n", "Start with [the first](@/blog/a.md)."),
        ),
        ("content/blog/a.md", post("A", "2024-01-01", "")),
        ("content/blog/b.md", post("B", "2024-02-01", "")),
    ];
    let mut site = site_with("", &files);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "slug = \"first\"\n")))]);
    assert!(site.read("blog/index.html").contains("https://example.org/blog/first/"));
    site.fails(&[("content/blog/a.md", None)]);
    site.ok(&[("content/blog/a.md", Some(&post("A", "2024-01-01", "")))]);
}

#[test]
fn image_linked_with_an_internal_link_follows_its_file_coming_and_going() {
    let index = doc("title = \"Blog\"\n", "");
    let body = "Look:\n\n![the picture](@/blog/pic.png) and [the notes](@/notes.txt)\n";
    let linking = doc("title = \"Pictures\"\ndate = 2024-01-03\n", body);
    let mut site = site_with(
        "",
        &[
            ("content/blog/_index.md", index),
            ("content/blog/pics.md", linking),
            ("content/blog/pic.png", "png".to_string()),
            ("content/notes.txt", "notes".to_string()),
        ],
    );
    assert!(site.exists("blog/pic.png"));
    let errors = site.fails(&[("content/blog/pic.png", None)]);
    assert!(errors.iter().any(|e| e.contains("@/blog/pic.png")), "{errors:?}");
    site.ok(&[("content/blog/pic.png", Some("png again"))]);
    site.ok(&[("content/notes.txt", Some("new notes"))]);
    let errors = site.fails(&[("content/notes.txt", None)]);
    assert!(errors.iter().any(|e| e.contains("@/notes.txt")), "{errors:?}");
}

/// A list entry that shows, besides its own page, the title of `blog/p1.md`.
const CARD_READING_P1: &str = "{#- An entry that reads another page. #}
  <article class=\"post-card\"><h{{ item_level }} class=\"post-card__title\">{{ item.title }}</h{{ item_level }}>\
{% set first = get_page(path=\"blog/p1.md\") %}<p class=\"first\">{{ first.title }}</p></article>";

#[test]
fn kept_list_entry_lingers_after_a_page_its_template_reads_changes() {
    let index = doc("title = \"Blog\"\npaginate_by = 2\n", "");
    let posts = blog_posts(5, "");
    let mut files = files_of(&index, &posts);
    files.push(("templates/partials/page_card.html", CARD_READING_P1.to_string()));
    let mut site = site_with("", &files);
    let firsts = |site: &Served| texts(&site.html("blog/page/2/index.html"), ".first");
    assert_eq!(firsts(&site), ["Post 1", "Post 1"]);
    // Kept entries of p3 and p4 read p1's title; p1 itself is on the last pager.
    site.ok(&[("content/blog/p1.md", Some(&post("First", "2024-01-02", "")))]);
    assert_eq!(firsts(&site), ["First", "First"]);
}

#[test]
fn kept_list_entries_linger_after_the_entry_template_changes() {
    let index = doc("title = \"Blog\"\npaginate_by = 2\n", "");
    let posts = blog_posts(5, "");
    let mut site = site_with("", &files_of(&index, &posts));
    site.ok(&[("content/blog/new.md", Some(&post("New", "2024-02-01", "")))]);
    let card = "{#- A bare entry. #}\n  <p class=\"bare\">{{ item.title }}</p>";
    site.ok(&[("templates/partials/page_card.html", Some(card))]);
    let bare = texts(&site.html("blog/page/2/index.html"), ".bare");
    assert_eq!(bare, ["Post 4", "Post 3"]);
    site.ok(&[("content/blog/new.md", None)]);
}

#[test]
fn kept_list_entries_linger_after_the_date_format_changes() {
    let index = doc("title = \"Blog\"\npaginate_by = 2\n", "");
    let posts = blog_posts(5, "");
    let mut site = site_with("", &files_of(&index, &posts));
    let dates = |site: &Served| texts(&site.html("blog/index.html"), ".post-card time");
    assert_eq!(dates(&site), ["10 January 2024", "8 January 2024"]);
    let config = "base_url = \"https://example.org\"\ntitle = \"Test\"\n\
                  [extra]\ndate_format = \"%Y-%m-%d\"\n";
    site.ok(&[("kiln.toml", Some(config))]);
    assert_eq!(dates(&site), ["2024-01-10", "2024-01-08"]);
}

#[test]
fn kept_entries_follow_an_argument_that_changes_kind() {
    let index = |n: &str| doc(&format!("title = \"Blog\"\n[extra]\nn = {n}\n"), "");
    let posts = blog_posts(2, "");
    let first = index("1");
    let mut files = files_of(&first, &posts);
    files.push((
        "templates/section.html",
        "{{ render_each(template=\"row.html\", items=section.pages, n=section.extra.n) }}".into(),
    ));
    files.push(("templates/row.html", "<p>{{ item.title }} {{ n }} {{ n is float }}</p>".into()));
    let mut site = site_with("", &files);
    assert!(site.read("blog/index.html").contains("<p>Post 2 1 false</p>"));
    site.ok(&[("content/blog/_index.md", Some(&index("1.0")))]);
    assert!(site.read("blog/index.html").contains("true</p>"), "{}", site.read("blog/index.html"));
    site.ok(&[("content/blog/_index.md", Some(&index("true")))]);
}
