//! Times [`kiln::markdown::render`] over every page of a site, one page after another on one
//! core, for profiling the markdown step apart from the rest of a build.
//!
//! ```text
//! cargo run --release -p kiln --example md_timing -- /dev/shm/kiln-bench/site-10000 [runs] [dump]
//! ```
//!
//! With a third argument, every page's HTML, summary, word count and links are written to that
//! file, so that two versions of the renderer can be compared byte for byte.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use kiln::highlight::Highlighter;
use kiln::markdown::{LinkTarget, MarkdownOptions, Rendered, TargetStatus, render};

// The `kiln` binary's allocator, so that allocation costs are the ones a build pays.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let root = args.next().unwrap_or_else(|| "/dev/shm/kiln-bench/site-10000".to_owned());
    let runs: u32 = args.next().map_or(3, |runs| runs.parse().expect("runs is a number"));
    let dump = args.next();

    let bodies = read_bodies(&Path::new(&root).join("content"));
    let links = links_to(&bodies);
    let highlighter = Highlighter::with_default_themes().expect("built-in themes load");
    let opts = MarkdownOptions { highlight_code: true, ..MarkdownOptions::default() };
    let bytes: usize = bodies.iter().map(|(_, body)| body.len()).sum();

    // The first run fills the highlighter's cache, as the first pages of a build do.
    let rendered: Vec<Rendered> =
        bodies.iter().map(|(_, body)| render(body, &opts, Some(&highlighter), &links)).collect();
    for _ in 0..runs {
        let started = Instant::now();
        for (_, body) in &bodies {
            std::hint::black_box(render(body, &opts, Some(&highlighter), &links));
        }
        let elapsed = started.elapsed();
        let rate = bytes as f64 / elapsed.as_secs_f64() / 1e6;
        println!("{} pages, {bytes} bytes: {elapsed:?} ({rate:.1} MB/s)", bodies.len());
    }

    let started = Instant::now();
    for (_, body) in &bodies {
        let mut html = String::new();
        let parser = pulldown_cmark::Parser::new_ext(body, bare_options());
        pulldown_cmark::html::push_html(&mut html, parser);
        std::hint::black_box(html);
    }
    println!("bare pulldown-cmark for comparison: {:?}", started.elapsed());

    let started = Instant::now();
    let mut events = 0;
    for (_, body) in &bodies {
        let mut html = String::with_capacity(body.len() * 3 / 2);
        let parser = pulldown_cmark::Parser::new_ext(body, bare_options()).into_offset_iter();
        let v: Vec<_> = parser.collect();
        events += v.len();
        pulldown_cmark::html::push_html(&mut html, v.into_iter().map(|(e, _)| e));
        std::hint::black_box(html);
    }
    println!("EXPERIMENT collect: {:?} {events} events {}", started.elapsed(), std::mem::size_of::<(pulldown_cmark::Event, std::ops::Range<usize>)>());
    let started = Instant::now();
    for (_, body) in &bodies {
        let mut html = String::with_capacity(body.len() * 3 / 2);
        let parser = pulldown_cmark::Parser::new_ext(body, bare_options()).into_offset_iter();
        pulldown_cmark::html::push_html(&mut html, parser.map(|(e, _)| e));
        std::hint::black_box(html);
    }
    println!("EXPERIMENT offset stream presized: {:?}", started.elapsed());

    if let Some(dump) = dump {
        std::fs::write(dump, describe(&bodies, &rendered)).expect("dump is written");
    }
}

/// Every markdown file below `content`, by its content path, with the front matter cut off.
fn read_bodies(content: &Path) -> Vec<(String, String)> {
    let mut bodies = Vec::new();
    let mut dirs = vec![content.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("content folder is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                let text = std::fs::read_to_string(&path).expect("markdown is readable");
                let key = path.strip_prefix(content).expect("below content");
                bodies.push((key.to_string_lossy().into_owned(), strip_front_matter(text)));
            }
        }
    }
    bodies.sort();
    bodies
}

/// The text after a `+++` front matter block, or all of it without one.
fn strip_front_matter(text: String) -> String {
    let Some(rest) = text.strip_prefix("+++\n") else { return text };
    rest.split_once("\n+++\n").map_or(text.clone(), |(_, body)| body.to_owned())
}

/// Every page is published at a URL made from its content path.
fn links_to(bodies: &[(String, String)]) -> HashMap<String, LinkTarget> {
    let target = |path: &str| LinkTarget {
        url: format!("/{}/", path.trim_end_matches(".md")),
        status: TargetStatus::Published,
    };
    bodies.iter().map(|(path, _)| (path.clone(), target(path))).collect()
}

fn describe(bodies: &[(String, String)], rendered: &[Rendered]) -> String {
    let mut out = String::new();
    for ((path, _), page) in bodies.iter().zip(rendered) {
        let _ = writeln!(out, "== {path}\n{}\n-- summary\n{:?}", page.html, page.summary);
        let _ = writeln!(out, "-- words {} minutes {}", page.word_count, page.reading_time);
        let _ = writeln!(out, "-- toc {:?}\n-- ids {:?}", page.toc, page.heading_ids);
        let _ = writeln!(out, "-- anchors {:?}", page.anchor_refs);
        let _ = writeln!(out, "-- external {:?}\n-- issues {:?}", page.external_links, page.issues);
    }
    out
}

/// The extensions [`render`] turns on, so that the bare figure parses the same markdown.
fn bare_options() -> pulldown_cmark::Options {
    use pulldown_cmark::Options;
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}
