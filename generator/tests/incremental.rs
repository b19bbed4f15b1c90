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
    let root = root.to_string_lossy();
    let mut lines: Vec<String> =
        failed.errors().map(|d| d.to_string().replace(root.as_ref(), "<root>")).collect();
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
    let dir = scratch();
    let (site, output) = (dir.path().join("site"), dir.path().join("out"));
    std::fs::create_dir(&site).unwrap();
    copy_site(root, &site);
    let mut request = request(&site, &output);
    request.now = Some(now.parse().unwrap());
    let result = kiln::build(&request).map(drop).map_err(|f| errors(&f, &site));
    Clean { result, tree: Tree::read(&output) }
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
}

impl Served {
    fn new(files: &[(&str, &str)]) -> Served {
        let dir = scratch();
        std::fs::create_dir(dir.path().join("site")).unwrap();
        let engine = Engine::new(request(&dir.path().join("site"), &dir.path().join("out")));
        let served = Served { dir, engine };
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
