//! Output folders read into memory and compared file by file, and site roots copied.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Every file (relative path, forward slashes, to its bytes) and folder under an output root.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Tree {
    pub(crate) files: BTreeMap<String, Vec<u8>>,
    pub(crate) dirs: BTreeSet<String>,
}

impl Tree {
    /// Reads the whole folder at `root`; a missing folder is an empty tree.
    pub(crate) fn read(root: &Path) -> Tree {
        let mut tree = Tree::default();
        if !root.exists() {
            return tree;
        }
        for entry in walkdir::WalkDir::new(root).min_depth(1) {
            let entry = entry.unwrap();
            let rel = entry.path().strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            if entry.file_type().is_dir() {
                tree.dirs.insert(rel);
            } else {
                tree.files.insert(rel, std::fs::read(entry.path()).unwrap());
            }
        }
        tree
    }

    /// Folders that hold no file at any depth.
    pub(crate) fn empty_dirs(&self) -> Vec<String> {
        self.dirs
            .iter()
            .filter(|dir| {
                let prefix = format!("{dir}/");
                !self.files.keys().any(|f| f.starts_with(&prefix))
            })
            .cloned()
            .collect()
    }

    /// `None` when both trees hold the same files with the same bytes; otherwise what differs,
    /// with an excerpt around the first differing line of the first differing file.
    pub(crate) fn difference(
        &self,
        want: &Tree,
        got_name: &str,
        want_name: &str,
    ) -> Option<String> {
        let only_got: Vec<&String> =
            self.files.keys().filter(|k| !want.files.contains_key(*k)).collect();
        let only_want: Vec<&String> =
            want.files.keys().filter(|k| !self.files.contains_key(*k)).collect();
        let differing: Vec<&String> = self
            .files
            .iter()
            .filter(|(k, v)| want.files.get(*k).is_some_and(|w| w != *v))
            .map(|(k, _)| k)
            .collect();
        if only_got.is_empty() && only_want.is_empty() && differing.is_empty() {
            return None;
        }
        let mut report = String::new();
        if !only_got.is_empty() {
            writeln!(report, "only in {got_name}: {only_got:?}").unwrap();
        }
        if !only_want.is_empty() {
            writeln!(report, "only in {want_name}: {only_want:?}").unwrap();
        }
        if let Some(first) = differing.first() {
            writeln!(report, "{} files differ: {differing:?}", differing.len()).unwrap();
            writeln!(report, "first difference in `{first}` (- {got_name}, + {want_name}):")
                .unwrap();
            report.push_str(&excerpt(&self.files[*first], &want.files[*first]));
        }
        Some(report)
    }
}

/// A few lines around the first line where `got` and `want` differ, as a small diff.
fn excerpt(got: &[u8], want: &[u8]) -> String {
    let got = String::from_utf8_lossy(got);
    let want = String::from_utf8_lossy(want);
    let got: Vec<&str> = got.lines().collect();
    let want: Vec<&str> = want.lines().collect();
    let first = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)).unwrap_or(0);
    let from = first.saturating_sub(3);
    let mut out = String::new();
    for i in from..first {
        writeln!(out, "  {:>4} | {}", i + 1, got.get(i).unwrap_or(&"")).unwrap();
    }
    for i in first..(first + 4) {
        match (got.get(i), want.get(i)) {
            (Some(g), Some(w)) if g == w => writeln!(out, "  {:>4} | {g}", i + 1).unwrap(),
            (g, w) => {
                if let Some(g) = g {
                    writeln!(out, "- {:>4} | {g}", i + 1).unwrap();
                }
                if let Some(w) = w {
                    writeln!(out, "+ {:>4} | {w}", i + 1).unwrap();
                }
            }
        }
    }
    out
}

/// Copies the sources of the site at `from` (config, content, templates, static files,
/// themes; empty folders too) into the empty folder `to`. The build state in `.kiln/` is left
/// behind, so a build of the copy knows nothing of earlier builds.
pub(crate) fn copy_site(from: &Path, to: &Path) {
    for name in ["kiln.toml", "config.toml", "content", "templates", "static", "themes"] {
        let source = from.join(name);
        if source.is_file() {
            std::fs::copy(&source, to.join(name)).unwrap();
            continue;
        }
        if !source.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&source) {
            let entry = entry.unwrap();
            let target = to.join(entry.path().strip_prefix(from).unwrap());
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&target).unwrap();
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
}
