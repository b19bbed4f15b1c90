//! Temporary: times the original markdown renderer against the current one, interleaved in one
//! process, and checks that both give the same results for every page.
#![allow(missing_docs, unreachable_pub, dead_code)]

#[path = "/tmp/markdown_orig.rs"]
mod markdown_orig;
mod highlight {
    pub use kiln::highlight::*;
}
mod slug {
    pub use kiln::slug::*;
}

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Orig(HashMap<String, kiln::markdown::LinkTarget>);
impl markdown_orig::LinkResolver for Orig {
    fn resolve(&self, p: &str) -> Option<markdown_orig::LinkTarget> {
        self.0.get(p).map(|t| markdown_orig::LinkTarget {
            url: t.url.clone(),
            status: match t.status {
                kiln::markdown::TargetStatus::Published => markdown_orig::TargetStatus::Published,
                kiln::markdown::TargetStatus::Draft => markdown_orig::TargetStatus::Draft,
                kiln::markdown::TargetStatus::Future => markdown_orig::TargetStatus::Future,
            },
        })
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let root = args.next().unwrap_or_else(|| "/dev/shm/kiln-bench/site-10000".to_owned());
    let rounds: u32 = args.next().map_or(5, |r| r.parse().unwrap());
    let mut bodies = Vec::new();
    for entry in walkdir::WalkDir::new(format!("{root}/content")) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let key = entry.path().strip_prefix(format!("{root}/content")).unwrap();
            let body = match text.strip_prefix("+++\n").and_then(|r| r.split_once("\n+++\n")) {
                Some((_, body)) => body.to_owned(),
                None => text,
            };
            bodies.push((key.to_string_lossy().into_owned(), body));
        }
    }
    bodies.sort();
    let links: HashMap<String, kiln::markdown::LinkTarget> = bodies
        .iter()
        .map(|(p, _)| {
            let url = format!("/{}/", p.trim_end_matches(".md"));
            (p.clone(), kiln::markdown::LinkTarget { url, status: kiln::markdown::TargetStatus::Published })
        })
        .collect();
    let orig_links = Orig(links.clone());
    let h = kiln::highlight::Highlighter::with_default_themes().unwrap();
    let new_opts = kiln::markdown::MarkdownOptions { highlight_code: true, ..Default::default() };
    let old_opts = markdown_orig::MarkdownOptions { highlight_code: true, ..Default::default() };

    let mut mismatches = 0;
    for (path, body) in &bodies {
        let a = markdown_orig::render(body, &old_opts, Some(&h), &orig_links);
        let b = kiln::markdown::render(body, &new_opts, Some(&h), &links);
        let same = a.html == b.html
            && a.summary == b.summary
            && a.word_count == b.word_count
            && a.reading_time == b.reading_time
            && format!("{:?}", a.toc) == format!("{:?}", b.toc)
            && a.heading_ids == b.heading_ids
            && format!("{:?}", a.anchor_refs) == format!("{:?}", b.anchor_refs)
            && a.external_links == b.external_links
            && format!("{:?}", a.issues) == format!("{:?}", b.issues);
        if !same {
            mismatches += 1;
            if mismatches < 5 {
                println!("MISMATCH {path}");
            }
        }
    }
    println!("{} pages compared, {mismatches} mismatches", bodies.len());

    let old = || {
        for (_, body) in &bodies {
            std::hint::black_box(markdown_orig::render(body, &old_opts, Some(&h), &orig_links));
        }
    };
    let new = || {
        for (_, body) in &bodies {
            std::hint::black_box(kiln::markdown::render(body, &new_opts, Some(&h), &links));
        }
    };
    let bare = || {
        for (_, body) in &bodies {
            let mut html = String::new();
            let opts = pulldown_cmark::Options::ENABLE_TABLES
                | pulldown_cmark::Options::ENABLE_FOOTNOTES
                | pulldown_cmark::Options::ENABLE_STRIKETHROUGH
                | pulldown_cmark::Options::ENABLE_TASKLISTS
                | pulldown_cmark::Options::ENABLE_HEADING_ATTRIBUTES;
            pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new_ext(body, opts));
            std::hint::black_box(html);
        }
    };
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        f();
        t.elapsed()
    };
    let (mut o, mut n, mut b) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        o = o.min(time(&old));
        n = n.min(time(&new));
        b = b.min(time(&bare));
    }
    println!("best of {rounds}: old {o:?}  new {n:?}  bare {b:?}  speedup {:.2}x", o.as_secs_f64() / n.as_secs_f64());
}
