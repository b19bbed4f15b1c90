//! Times [`kiln::markdown::render`] over every page of a site, one page after another on one
//! core, for profiling the markdown step apart from the rest of a build.
//!
//! ```text
//! cargo run --release -p kiln --example md_timing -- [--render-only] [site] [runs] [dump]
//! ```
//!
//! With a `dump` file, every page's HTML, summary, word count and links are written to it, so
//! that two versions of the renderer can be compared byte for byte. `--render-only` skips the
//! bare pulldown-cmark runs, for `perf stat` figures of rendering alone.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use kiln::highlight::Highlighter;
use kiln::markdown::{LinkTarget, MarkdownOptions, Rendered, TargetStatus, render};

// The `kiln` binary's allocator, so that allocation costs are the ones a build pays.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let render_only = args.next_if(|arg| arg == "--render-only").is_some();
    let root = args.next().unwrap_or_else(|| "/dev/shm/kiln-bench/site-10000".to_owned());
    let runs: u32 = args.next().map_or(5, |runs| runs.parse().expect("runs is a number"));
    let dump = args.next();

    let bodies = read_bodies(&Path::new(&root).join("content"));
    let links = links_to(&bodies);
    let highlighter = Highlighter::with_default_themes().expect("built-in themes load");
    let opts = MarkdownOptions { highlight_code: true, ..MarkdownOptions::default() };
    let bytes: usize = bodies.iter().map(|(_, body)| body.len()).sum();

    let render_all = || {
        for (_, body) in &bodies {
            std::hint::black_box(render(body, &opts, Some(&highlighter), &links));
        }
    };
    let bare_all = || {
        for (_, body) in &bodies {
            let mut html = String::new();
            let parser = pulldown_cmark::Parser::new_ext(body, bare_options());
            pulldown_cmark::html::push_html(&mut html, parser);
            std::hint::black_box(html);
        }
    };
    // The first run fills the highlighter's cache, as the first pages of a build do.
    render_all();
    let render_time = best_of(runs, render_all);
    let rate = bytes as f64 / render_time.as_secs_f64() / 1e6;
    println!("{} pages, {bytes} bytes, best of {runs} runs:", bodies.len());
    println!("  render:              {render_time:?} ({rate:.1} MB/s)");
    if !render_only {
        println!("  bare pulldown-cmark: {:?}", best_of(runs, bare_all));
    }

    if let Some(dump) = dump {
        let render_one =
            |(_, body): &(String, String)| render(body, &opts, Some(&highlighter), &links);
        let rendered: Vec<Rendered> = bodies.iter().map(render_one).collect();
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

/// The shortest of `runs` timings of `work`: other processes on the machine only ever add time.
fn best_of(runs: u32, work: impl Fn()) -> Duration {
    let time = || {
        let started = Instant::now();
        work();
        started.elapsed()
    };
    (0..runs.max(1)).map(|_| time()).min().unwrap_or_default()
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
