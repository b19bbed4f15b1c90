//! Times incremental applies on a site made by `scripts/bench-build`: a body edit, a title
//! change, a tag change, a new post and a delete, each measured from the call to
//! `Engine::apply` until every affected output is written, and a no-change apply.
//!
//!     cargo run --release -p kiln --example apply_bench -- SITE OUTPUT [ROUNDS]
//!
//! Run by `scripts/bench-incremental`, which generates the site first. Every edit is undone
//! afterwards, so the site is left as it was found.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kiln::{BuildRequest, Change, Engine};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("KILN_LOG") {
        tracing_subscriber::fmt().with_env_filter(filter).without_time().init();
    }
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().expect("usage: apply_bench SITE OUTPUT [ROUNDS]"));
    let output = PathBuf::from(args.next().expect("usage: apply_bench SITE OUTPUT [ROUNDS]"));
    let rounds: usize = args.next().map_or(3, |n| n.parse().expect("ROUNDS is a number"));
    let now = "2030-01-01T00:00:00Z".parse().expect("a valid instant");
    let request = BuildRequest {
        root: root.clone(),
        output: Some(output),
        drafts: false,
        base_url: None,
        now: Some(now),
        force: false,
    };
    let mut engine = Engine::new(request);
    let started = Instant::now();
    let first = engine.apply(&[]).unwrap_or_else(|err| panic!("first build failed:\n{err}"));
    println!(
        "first apply (full build): {:.1} ms, {} outputs, {} written",
        started.elapsed().as_secs_f64() * 1000.0,
        first.build.outputs,
        first.build.write.written.len()
    );

    // For profiling: only no-change applies, as many as asked. APPLY_BENCH_ONLY, a
    // comma-separated list of edit names, times only those edits.
    if let Some(n) = std::env::var("APPLY_BENCH_IDLE").ok().and_then(|n| n.parse::<usize>().ok()) {
        let started = Instant::now();
        for _ in 0..n {
            engine.apply(&[]).unwrap_or_else(|err| panic!("apply failed:\n{err}"));
        }
        println!(
            "{n} no-change applies: {:.1} ms each",
            started.elapsed().as_secs_f64() * 1e3 / n as f64
        );
        return;
    }
    let blog = root.join("content/blog");
    let count = std::fs::read_dir(&blog).expect("content/blog exists").count() - 1;
    let middle = blog.join(format!("post-{:05}.md", count / 2));
    let original = std::fs::read_to_string(&middle).expect("the middle post reads");
    println!(
        "{:<14} {:>9} {:>7} {:>9} {:>9} {:>8}",
        "edit", "apply ms", "cpu ms", "rendered", "written", "removed"
    );
    for round in 0..rounds {
        let edits: Vec<(&str, Edit)> = vec![
            ("no change", Box::new(Vec::new)),
            (
                "body edit",
                Box::new(|| {
                    let text = original.replacen(
                        "\n## Part 1:",
                        &format!("\nAn added sentence, round {round}.\n\n## Part 1:"),
                        1,
                    );
                    write(&middle, &text)
                }),
            ),
            (
                "title change",
                Box::new(|| {
                    let text = original.replacen("title = \"Post", "title = \"Renamed post", 1);
                    write(&middle, &text)
                }),
            ),
            (
                "tag change",
                Box::new(|| {
                    let text = original.replacen("tags = [\"", "tags = [\"fresh-tag\", \"", 1);
                    write(&middle, &text)
                }),
            ),
            (
                "new post",
                Box::new(|| {
                    let path = blog.join("a-new-post.md");
                    let text = "+++\ntitle = \"A new post\"\ndate = 2029-12-31\n\
                                tags = [\"topic-01\"]\n+++\n\nFresh text.\n";
                    std::fs::write(&path, text).expect("the new post writes");
                    vec![Change::Created(path)]
                }),
            ),
            (
                "delete",
                Box::new(|| {
                    let path = blog.join("a-new-post.md");
                    std::fs::remove_file(&path).expect("the new post is there");
                    vec![Change::Removed(path)]
                }),
            ),
        ];
        let only = std::env::var("APPLY_BENCH_ONLY").ok();
        for (name, edit) in edits {
            if only.as_deref().is_some_and(|only| !only.split(',').any(|one| one == name)) {
                continue;
            }
            let changes = edit();
            let cpu = cpu_ns();
            let started = Instant::now();
            let report =
                engine.apply(&changes).unwrap_or_else(|err| panic!("{name} failed:\n{err}"));
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let cpu_ms = (cpu_ns() - cpu) as f64 / 1e6;
            println!(
                "{name:<14} {ms:>9.1} {cpu_ms:>7.1} {:>9} {:>9} {:>8}",
                report.rendered,
                report.build.write.written.len(),
                report.build.write.removed.len()
            );
            if name != "new post" && name != "no change" {
                // Put the post back for the next edit; that apply is not timed.
                let undo = write(&middle, &original);
                engine.apply(&undo).unwrap_or_else(|err| panic!("undo failed:\n{err}"));
            }
        }
    }
}

/// One edit of the benchmark: it changes files and says what changed.
type Edit<'a> = Box<dyn Fn() -> Vec<Change> + 'a>;

fn write(path: &Path, text: &str) -> Vec<Change> {
    std::fs::write(path, text).expect("the post writes");
    vec![Change::Modified(path.to_path_buf())]
}

/// The CPU time all threads of this process have run, in nanoseconds, from the scheduler's
/// per-thread counters: steadier than wall time on a shared machine.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
