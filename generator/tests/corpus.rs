//! Builds the real 43-post blog in `shared/corpus/tokio-blog`, unchanged, and checks that every
//! post comes out as a page, in the sitemap and, up to the feed limit, in both feeds.
//!
//! The corpus is MIT-licensed and lives outside this repository; the test copies it (with its
//! LICENSE beside it) into a temporary folder at run time and never commits a copy. Without the
//! folder the test prints a note and passes, so a checkout without `shared/` still runs green.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use common::{Site, texts};

/// "Now" for the corpus build: after its newest post (2026-03-12), so that none is future-dated.
const CORPUS_NOW: &str = "2027-01-01T00:00:00Z";

/// The number of posts in the corpus.
const POSTS: usize = 43;

/// The default feed limit.
const FEED_LIMIT: usize = 20;

/// One post as its front matter gives it.
struct Post {
    /// The file stem, e.g. `2025-01-01-announcing-axum-0-8-0`.
    stem: String,
    title: String,
    date: DateTime<Utc>,
}

fn corpus_dir() -> PathBuf {
    match std::env::var_os("KILN_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/tokio-blog"),
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).into_iter().map(Result::unwrap) {
        let rel = entry.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Reads `title` and `date` from the YAML front matter of a post, with a YAML parser rather
/// than Kiln's own, so that the test does not share a bug with the code it checks.
fn read_post(path: &Path) -> Post {
    let text = std::fs::read_to_string(path).unwrap();
    let front = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map(|(front, _)| front)
        .unwrap_or_else(|| panic!("no YAML front matter in {}", path.display()));
    let map: BTreeMap<String, String> =
        serde_saphyr::from_str(front).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let day = NaiveDate::parse_from_str(&map["date"], "%Y-%m-%d").unwrap();
    Post {
        stem: path.file_stem().unwrap().to_string_lossy().into_owned(),
        title: map["title"].clone(),
        date: day.and_hms_opt(0, 0, 0).unwrap().and_utc(),
    }
}

/// The URL path a post gets: its file stem without a full `YYYY-MM-DD-` prefix, lowercased,
/// with every run of other characters than ASCII letters and digits turned into one `-`.
fn post_path(stem: &str) -> String {
    let bytes = stem.as_bytes();
    let has_prefix = bytes.len() > 11
        && bytes[..10]
            .iter()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() })
        && bytes[10] == b'-';
    let bare = if has_prefix { &stem[11..] } else { stem };
    let mut slug = String::new();
    for c in bare.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    format!("/blog/{}/", slug.trim_matches('-'))
}

/// The text of an HTML document outside `<code>` elements, with every attribute value.
fn text_outside_code(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let mut out = String::new();
    for node in doc.tree.nodes() {
        match node.value() {
            scraper::Node::Text(text) => {
                let in_code = node
                    .ancestors()
                    .any(|a| a.value().as_element().is_some_and(|e| e.name() == "code"));
                if !in_code {
                    out.push_str(text);
                    out.push('\n');
                }
            }
            scraper::Node::Element(element) => {
                for (_, value) in element.attrs() {
                    out.push_str(value);
                    out.push('\n');
                }
            }
            scraper::Node::Comment(comment) => {
                out.push_str(comment);
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

fn assert_no_template_syntax(text: &str, file: &str) {
    for needle in ["{{", "}}", "{%", "%}"] {
        if let Some(at) = text.find(needle) {
            let start = text[..at].char_indices().rev().nth(60).map_or(0, |(i, _)| i);
            let end = (at + 60).min(text.len());
            let end = (end..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            panic!("`{needle}` outside code in {file}: …{}…", &text[start..end]);
        }
    }
}

/// The texts of `child` under each element named `parent`, in document order.
fn child_texts(xml: &str, parent: &str, child: &str) -> Vec<String> {
    let doc =
        roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    doc.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == parent)
        .map(|n| {
            let c = n.children().find(|c| c.is_element() && c.tag_name().name() == child);
            c.and_then(|c| c.text()).unwrap_or("").to_string()
        })
        .collect()
}

#[test]
fn tokio_blog_builds_every_post_into_pages_sitemap_and_feeds() {
    let corpus = corpus_dir();
    if !corpus.join("content/blog").is_dir() {
        eprintln!("note: {} is missing; skipping the corpus build", corpus.display());
        return;
    }

    // The fixture site: the corpus content and licence, with the fixture kiln.toml.
    let site = Site::new();
    copy_tree(&corpus, site.root());
    site.write("kiln.toml", "base_url = \"https://example.org\"\ntitle = \"Test\"\n");
    let mut posts: Vec<Post> = std::fs::read_dir(corpus.join("content/blog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| read_post(&p))
        .collect();
    posts.sort_by(|a, b| a.stem.cmp(&b.stem));
    assert_eq!(posts.len(), POSTS, "the corpus has {POSTS} posts");

    let mut request = site.request();
    request.now = Some(CORPUS_NOW.parse().unwrap());
    let report = kiln::build(&request).unwrap_or_else(|failed| panic!("build failed:\n{failed}"));
    assert_eq!(report.pages, POSTS);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);

    // Every post is a page whose heading is its title.
    let mut paths: Vec<String> = posts.iter().map(|p| post_path(&p.stem)).collect();
    for (post, path) in posts.iter().zip(&paths) {
        let file = format!("{}index.html", path.trim_start_matches('/'));
        assert!(site.exists(&file), "{} gave no {file}", post.stem);
        let html = site.html(&file);
        let h1 = texts(&html, "main h1");
        assert_eq!(h1.first(), Some(&post.title), "{file}");
        assert_eq!(texts(&html, "title")[0], format!("{} · Test", post.title), "{file}");
    }
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), POSTS, "two posts share a URL");

    // Every post is in the sitemap, which parses strictly.
    let locs = common::xml_texts(&site.read("sitemap.xml"), "loc");
    for path in &paths {
        let url = format!("https://example.org{path}");
        assert!(locs.contains(&url), "{url} missing from the sitemap");
    }
    assert!(locs.contains(&"https://example.org/blog/".to_string()), "{locs:?}");

    // The feeds hold the newest twenty, newest first.
    let mut newest: Vec<&Post> = posts.iter().collect();
    newest.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.stem.cmp(&b.stem)));
    newest.truncate(FEED_LIMIT);
    let titles: Vec<String> = newest.iter().map(|p| p.title.clone()).collect();
    let urls: Vec<String> =
        newest.iter().map(|p| format!("https://example.org{}", post_path(&p.stem))).collect();

    let atom = site.read("atom.xml");
    assert_eq!(child_texts(&atom, "entry", "title"), titles, "atom.xml titles");
    assert_eq!(child_texts(&atom, "entry", "id"), urls, "atom.xml ids");
    let published = child_texts(&atom, "entry", "published");
    let expected_dates: Vec<String> =
        newest.iter().map(|p| p.date.format("%Y-%m-%dT%H:%M:%S").to_string()).collect();
    for (got, want) in published.iter().zip(&expected_dates) {
        assert!(got.starts_with(want), "published {got}, front matter {want}");
    }

    let rss = site.read("rss.xml");
    assert_eq!(child_texts(&rss, "item", "title"), titles, "rss.xml titles");
    assert_eq!(child_texts(&rss, "item", "link"), urls, "rss.xml links");

    // No template syntax leaks into any output, except inside code.
    for file in site.files() {
        let Ok(text) = String::from_utf8(std::fs::read(site.out().join(&file)).unwrap()) else {
            continue;
        };
        if file.ends_with(".html") {
            assert_no_template_syntax(&text_outside_code(&text), &file);
        } else if file.ends_with(".xml") {
            let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            for node in doc.descendants().filter(|n| n.is_text()) {
                let inner = node.text().unwrap_or("");
                assert_no_template_syntax(&text_outside_code(inner), &file);
            }
        } else if file.ends_with(".json") || file.ends_with(".txt") {
            assert_no_template_syntax(&text, &file);
        }
    }

    // The two posts with braces in code keep them, in their code.
    let backtrace = site.html("blog/2022-10-announcing-async-backtrace/index.html");
    let code = texts(&backtrace, "main code");
    assert!(
        code.iter()
            .any(|c| c
                .contains("╼ multiple::foo::{{closure}} at backtrace/examples/multiple.rs:22:1")),
        "{code:?}"
    );
    let axum = site.html("blog/announcing-axum-0-8-0/index.html");
    let code = texts(&axum, "main code");
    assert!(code.iter().any(|c| c == "{{"), "{code:?}");
    assert!(code.iter().any(|c| c == "}}"), "{code:?}");
}
