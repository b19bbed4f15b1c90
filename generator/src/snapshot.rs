//! What a one-shot `kiln build` needs to tell, without building, that nothing changed.
//!
//! After a successful one-shot build, `.kiln/inputs-<id>.json` records the length and
//! modification time of every input file (content, templates, themes, static files, the
//! config), taken before the build read them; what the build was asked (drafts, base URL,
//! "now" when it matters); the stamp of the record it committed and of every output. The next
//! `kiln build` of the same output first compares those with the disk. When they all match,
//! the output is already what a build would write, and it stops there, having written nothing.
//!
//! Anything it cannot be sure of sends it to a real build: an input or output whose time is
//! too close to the build to be trusted (it may have changed within one clock tick), a page
//! whose future date has come, an output that used the clock through `now()`, an interrupted
//! commit, a different Kiln.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use crate::diagnostic::{Diagnostic, Source};
use crate::output::{self, FileStamp, KnownRecord};
use crate::pipeline::BuildRequest;
use crate::site::Skip;

/// Inputs whose modification time is this close to the start of a build are not trusted:
/// an edit in the same clock tick would not change it.
const RACY_NANOS: u64 = 2_000_000_000;

/// One input file or folder as the file system described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputStamp {
    /// Path relative to the site root.
    pub path: String,
    /// Length, or `u64::MAX` for a folder.
    pub len: u64,
    /// Modification time in nanoseconds since the epoch; 0 for a folder.
    pub modified: u64,
}

/// The saved state of the last one-shot build.
#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    kiln: String,
    request: String,
    inputs: Vec<InputStamp>,
    record: FileStamp,
    journal: Option<FileStamp>,
    /// Every output with its stamp.
    pub outputs: Vec<(String, FileStamp)>,
    next_future: Option<DateTime<Utc>>,
    /// The latest date of a published page: a "now" before it would leave that page out.
    #[serde(default)]
    latest_published: Option<DateTime<Utc>>,
    uses_clock: bool,
    now: Option<DateTime<Utc>>,
    /// What the build reported, to report again.
    pub pages: usize,
    /// Sections of the build.
    pub sections: usize,
    /// Pages left out.
    pub skipped: Vec<(Source, Skip)>,
    /// Warnings of the build.
    pub warnings: Vec<Diagnostic>,
}

/// What the build reported, as the snapshot keeps it.
pub struct Summary {
    /// Published pages.
    pub pages: usize,
    /// Sections.
    pub sections: usize,
    /// Pages left out.
    pub skipped: Vec<(Source, Skip)>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
    /// The earliest future date of a page left out.
    pub next_future: Option<DateTime<Utc>>,
    /// The latest date of a published page.
    pub latest_published: Option<DateTime<Utc>>,
    /// Whether an output called `now()`.
    pub uses_clock: bool,
}

/// What the build was asked, and by which binary: a rebuilt Kiln of the same version may
/// render differently (its embedded theme, say), so the binary's own length and time count.
fn request_key(request: &BuildRequest, output: &Path) -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| FileStamp::of(&exe))
        .map_or_else(String::new, |s| format!("{}:{}", s.len, s.modified));
    format!(
        "drafts={} base_url={:?} output={} binary={binary}",
        request.drafts,
        request.base_url,
        output.display()
    )
}

/// Where the snapshot of the last one-shot build of `output` (a canonical path) is kept.
pub(crate) fn snapshot_path(state_dir: &Path, output: &Path) -> PathBuf {
    let (record, _) = output::record_paths(state_dir, output);
    snapshot_beside(&record)
}

/// The snapshot of the output whose record is at `record`.
pub(crate) fn snapshot_beside(record: &Path) -> PathBuf {
    let name = record.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    record.with_file_name(name.replace("record-", "inputs-"))
}

/// Stamps every input of the site at `root`, sorted by path.
///
/// The walk only lists the paths; the files are stamped in parallel, since asking the file
/// system about each one is most of the work.
pub fn stamp_inputs(root: &Path) -> Vec<InputStamp> {
    let mut paths: Vec<PathBuf> =
        ["kiln.toml", "config.toml"].iter().map(|name| root.join(name)).collect();
    for dir in ["content", "templates", "themes", "static"] {
        let dir = root.join(dir);
        if !dir.is_dir() {
            continue;
        }
        let entries = WalkDir::new(&dir).follow_links(true).into_iter().filter_map(Result::ok);
        paths.extend(entries.map(walkdir::DirEntry::into_path));
    }
    let mut out: Vec<InputStamp> = paths.par_iter().filter_map(|path| stamp(root, path)).collect();
    out.par_sort_unstable_by(|a, b| a.path.cmp(&b.path));
    out
}

fn stamp(root: &Path, path: &Path) -> Option<InputStamp> {
    let meta = std::fs::metadata(path).ok()?;
    let rel = crate::content::relative_to(root, path);
    if meta.is_dir() {
        return Some(InputStamp { path: rel, len: u64::MAX, modified: 0 });
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(u64::MAX, |d| d.as_nanos() as u64);
    Some(InputStamp { path: rel, len: meta.len(), modified })
}

/// The snapshot of the last one-shot build of `output`, if it shows that building again now
/// would change nothing. `output` must be canonical.
pub fn unchanged(
    root: &Path,
    state_dir: &Path,
    output: &Path,
    request: &BuildRequest,
    now: DateTime<Utc>,
) -> Option<Snapshot> {
    let path = snapshot_path(state_dir, output);
    let snapshot: Snapshot = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    let (record, marker) = output::record_paths(state_dir, output);
    let fresh = snapshot.kiln == env!("CARGO_PKG_VERSION")
        && snapshot.request == request_key(request, output)
        && !marker.exists()
        && FileStamp::of(&record) == Some(snapshot.record)
        && FileStamp::of(&record.with_extension("journal")) == snapshot.journal
        && snapshot.next_future.is_none_or(|date| now < date)
        && snapshot.latest_published.is_none_or(|date| date <= now)
        && (!snapshot.uses_clock || (request.now.is_some() && snapshot.now == request.now));
    if !fresh {
        return None;
    }
    let saved = snapshot
        .journal
        .map_or(snapshot.record.modified, |j| j.modified.max(snapshot.record.modified));
    let outputs_same = snapshot.outputs.iter().all(|(rel, stamp)| {
        stamp.modified < saved && FileStamp::of(&output.join(rel)) == Some(*stamp)
    });
    (outputs_same && stamp_inputs(root) == snapshot.inputs).then_some(snapshot)
}

/// Saves the snapshot of a one-shot build that just committed `known`, with the input stamps
/// taken before it started at `started` (nanoseconds since the epoch). Saves nothing when an
/// input is too new to be trusted, and removes any older snapshot then.
pub fn save(
    state_dir: &Path,
    output: &Path,
    request: &BuildRequest,
    inputs: Vec<InputStamp>,
    started: u64,
    known: &KnownRecord,
    summary: Summary,
) {
    let path = snapshot_path(state_dir, output);
    let racy = inputs.iter().any(|s| s.len != u64::MAX && s.modified + RACY_NANOS > started);
    let outputs: Option<Vec<(String, FileStamp)>> = known
        .record
        .files
        .iter()
        .map(|(rel, file)| file.stamp.map(|stamp| (rel.clone(), stamp)))
        .collect();
    let Some(outputs) = outputs.filter(|_| !racy) else {
        let _ = std::fs::remove_file(&path);
        return;
    };
    let snapshot = Snapshot {
        kiln: env!("CARGO_PKG_VERSION").to_string(),
        request: request_key(request, output),
        inputs,
        record: known.stamp,
        journal: known.journal,
        outputs,
        next_future: summary.next_future,
        latest_published: summary.latest_published,
        uses_clock: summary.uses_clock,
        now: request.now,
        pages: summary.pages,
        sections: summary.sections,
        skipped: summary.skipped,
        warnings: summary.warnings,
    };
    let Ok(json) = serde_json::to_vec(&snapshot) else { return };
    let temp = path.with_extension(format!("json{}", output::TEMP_SUFFIX));
    if std::fs::write(&temp, json).is_err() || std::fs::rename(&temp, &path).is_err() {
        let _ = std::fs::remove_file(&temp);
        let _ = std::fs::remove_file(&path);
    }
}
