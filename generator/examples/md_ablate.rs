//! Temporary: times variants of the markdown renderer, interleaved in one process.
#![allow(missing_docs, unreachable_pub, dead_code, unused)]
mod highlight { pub use kiln::highlight::*; }
mod slug { pub use kiln::slug::*; }
#[path = "/tmp/var_v4.rs"] mod v4;
#[path = "/tmp/var_cur.rs"] mod cur;
#[path = "/tmp/var_swar.rs"] mod swar;
#[path = "/tmp/var_nowords.rs"] mod nowords;
use std::collections::HashMap;
use std::time::{Duration, Instant};
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

macro_rules! runner {
    ($m:ident, $bodies:expr, $h:expr) => {{
        let links: HashMap<String, $m::LinkTarget> = $bodies.iter().map(|(p, _): &(String, String)| {
            (p.clone(), $m::LinkTarget { url: format!("/{}/", p.trim_end_matches(".md")), status: $m::TargetStatus::Published })
        }).collect();
        let opts = $m::MarkdownOptions { highlight_code: true, ..Default::default() };
        move || { for (_, body) in $bodies.iter() { std::hint::black_box($m::render(body, &opts, Some($h), &links)); } }
    }};
}
fn main() {
    let root = "/dev/shm/kiln-bench/site-10000";
    let rounds: u32 = std::env::args().nth(1).map_or(5, |r| r.parse().unwrap());
    let mut bodies = Vec::new();
    for entry in walkdir::WalkDir::new(format!("{root}/content")) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let key = entry.path().strip_prefix(format!("{root}/content")).unwrap().to_string_lossy().into_owned();
            let body = match text.strip_prefix("+++\n").and_then(|r| r.split_once("\n+++\n")) { Some((_, b)) => b.to_owned(), None => text };
            bodies.push((key, body));
        }
    }
    bodies.sort();
    let h_owned = kiln::highlight::Highlighter::with_default_themes().unwrap(); let h = &h_owned;
    let bodies = &bodies;
    let bare = || { for (_, body) in bodies.iter() {
        let mut html = String::new();
        let o = pulldown_cmark::Options::ENABLE_TABLES | pulldown_cmark::Options::ENABLE_FOOTNOTES | pulldown_cmark::Options::ENABLE_STRIKETHROUGH | pulldown_cmark::Options::ENABLE_TASKLISTS | pulldown_cmark::Options::ENABLE_HEADING_ATTRIBUTES;
        pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new_ext(body, o).into_offset_iter().map(|(e, _)| e));
        std::hint::black_box(html);
    }};
    let fns: Vec<(&str, Box<dyn Fn()>)> = vec![
        ("bare(offset)", Box::new(bare)),
        ("v4", Box::new(runner!(v4, bodies, h))),
        ("cur", Box::new(runner!(cur, bodies, h))),
        ("swar", Box::new(runner!(swar, bodies, h))),
        ("nowords", Box::new(runner!(nowords, bodies, h))),
    ];
    for (_, f) in &fns { f(); }
    let mut best = vec![Duration::MAX; fns.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in fns.iter().enumerate() { let t = Instant::now(); f(); best[i] = best[i].min(t.elapsed()); }
    }
    for ((name, _), t) in fns.iter().zip(&best) { println!("{name:14} {t:?}"); }
}
