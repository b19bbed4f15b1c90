//! Writes contact submissions for the load benchmark, one JSON body a line.
//!
//! Every body carries its own signed challenge and solved proof of work,
//! minted with the same secret and difficulty as the server under test, and
//! its own message text, so each request runs every check and stores a new
//! row rather than hitting the duplicate shortcut.
//!
//! Usage: `bench_bodies SECRET DIFFICULTY COUNT > bodies.jsonl`

use std::io::{BufWriter, Write};
use std::time::Duration;

use kiln_api::spam::challenge::{Challenger, solve};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [secret, difficulty, count] = &args[..] else {
        anyhow::bail!("usage: bench_bodies SECRET DIFFICULTY COUNT");
    };
    let difficulty: u8 = difficulty.parse()?;
    let count: usize = count.parse()?;
    let challenger =
        Challenger::new(secret.as_bytes(), difficulty, Duration::ZERO, Duration::from_secs(86_400));

    let mut out = BufWriter::new(std::io::stdout().lock());
    for n in 0..count {
        let issued = challenger.issue();
        let body = json!({
            "name": "Bench Marker",
            "email": "bench@example.org",
            "subject": "Load test",
            "message": format!("Benchmark message number {n}.\nIt has two lines."),
            "website": "",
            "pow": solve(&issued.token, issued.difficulty),
            "challenge": issued.token,
        });
        writeln!(out, "{body}")?;
    }
    out.flush()?;
    Ok(())
}
