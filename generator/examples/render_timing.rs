//! Times one pager render of the default theme's home list, single-threaded, with a context
//! shaped like the bench site's: for comparing template variants.
//!
//!     cargo run --release -p kiln --example render_timing -- [SITE_ROOT] [N]
//!
//! SITE_ROOT's `templates/` override the default theme's, as in a build. `DISTINCT=2000`
//! renders 2,000 different pagers in turn, so that each render reads values not in the cache,
//! as an apply does; `THREADS=1` renders on the thread pool; `TEMPLATE` picks another
//! template than `index.html`; `DUMP=1` prints the last render.

use std::time::Instant;

use kiln::templates::{Lookup, Templates};
use tera::{Context, Value};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let root = std::path::PathBuf::from(args.next().unwrap_or_else(|| "/nonexistent".into()));
    let n: usize = args.next().map_or(3000, |n| n.parse().expect("N is a number"));
    let template = std::env::var("TEMPLATE").unwrap_or_else(|_| "index.html".into());
    let templates =
        Templates::load(&root, None, chrono_tz::UTC).unwrap_or_else(|e| panic!("{e:?}"));
    let mut lookup = Lookup { base_url: "https://bench.example.org".into(), ..Lookup::default() };
    lookup.static_hashes.insert("style.css".into(), "03a11cde".into());
    templates.set_lookup(lookup);
    let json: serde_json::Value = serde_json::from_str(CONTEXT).expect("valid JSON");
    let distinct: usize = std::env::var("DISTINCT").ok().and_then(|d| d.parse().ok()).unwrap_or(1);
    let contexts: Vec<Context> = (0..distinct)
        .map(|c| {
            let mut summaries = Vec::new();
            for i in c * 10..c * 10 + 10 {
                let mut s = json["summary"].clone();
                s["title"] = format!("Post {i}: Heading merge markdown site").into();
                s["permalink"] = format!("https://bench.example.org/blog/post-{i:05}/").into();
                summaries.push(s);
            }
            let mut paginator = json["paginator"].clone();
            paginator["pages"] = summaries.into();
            let mut context = Context::new();
            context.insert_value("config", Value::from_serializable(&json["config"]));
            context.insert("current_url", "https://bench.example.org/page/5/");
            context.insert("current_path", "/page/5/");
            context.insert("kiln_version", "0.1.0");
            context.insert_value("section", Value::from_serializable(&json["section"]));
            context.insert_value("paginator", Value::from_serializable(&paginator));
            context
        })
        .collect();
    let threads = std::env::var("THREADS").is_ok();
    let mut out = Vec::with_capacity(32 << 10);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        if threads {
            use rayon::prelude::*;
            (0..n).into_par_iter().with_max_len(1).for_each(|k| {
                let mut out = Vec::with_capacity(32 << 10);
                let context = contexts[k % distinct].clone();
                templates.tera.render_to(&template, &context, &mut out).expect("renders");
            });
        } else {
            for k in 0..n {
                out.clear();
                let context = contexts[k % distinct].clone();
                templates.tera.render_to(&template, &context, &mut out).expect("renders");
            }
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    println!("{template}: {best:.1} µs per render, {} bytes", out.len());
    if std::env::var("DUMP").is_ok() {
        println!("{}", String::from_utf8_lossy(&out));
    }
}

const CONTEXT: &str = r#"{
 "config": {"title": "Bench", "base_url": "https://bench.example.org", "description": null,
   "language": "en", "author": null, "extra": {}, "menu": [],
   "feeds": {"atom": true, "rss": true, "atom_url": "https://bench.example.org/atom.xml",
             "rss_url": "https://bench.example.org/rss.xml"}},
 "section": {"title": "Home", "description": null, "path": "/", "permalink": "https://bench.example.org/",
   "content": "", "extra": {}, "pages": [], "subsections": [], "page_count": 10000},
 "paginator": {"paginate_by": 10, "current_index": 5, "number_pagers": 1000,
   "first": "https://bench.example.org/", "last": "https://bench.example.org/page/1000/",
   "previous": "https://bench.example.org/page/4/", "next": "https://bench.example.org/page/6/",
   "pages": [], "total_pages": 10000},
 "summary": {"title": "", "description": null, "date": "2029-08-20T00:00:00Z", "updated": null,
   "path": "/blog/post/", "permalink": "", "slug": "post-09959", "content_path": "blog/post-09959.md",
   "summary": "<p>Template template author author theme date draft commit layout site author bench client request. Date page author code client disk disk slug cache path render thread test page markdown client. Tag link tokio link theme path category branch author.</p>\n",
   "reading_time": 7,
   "taxonomies": {"tags": [
     {"name": "topic-18", "slug": "topic-18", "permalink": "https://bench.example.org/tags/topic-18/"},
     {"name": "topic-17", "slug": "topic-17", "permalink": "https://bench.example.org/tags/topic-17/"},
     {"name": "topic-10", "slug": "topic-10", "permalink": "https://bench.example.org/tags/topic-10/"}]},
   "authors": [], "extra": {}, "draft": false, "weight": null}
}"#;
