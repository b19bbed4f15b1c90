//! Finding the content of a site: which files under `content/` are pages, which are section
//! settings and which are assets.
//!
//! The layout follows Zola's. Every folder is a section, whether or not it has an `_index.md`
//! holding its settings; `name.md` is a page; a folder with an `index.md` is a page bundle,
//! whose other files are the page's assets, copied beside its output. Files that editors
//! leave behind while saving (swap files, backups, write probes) are never content.
//!
//! This module only finds and reads files. It must never decide URLs or parse front matter:
//! that belongs to [`crate::site`], so that content from a database row goes through the same
//! rules as content from a file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use walkdir::WalkDir;

use crate::diagnostic::{Diagnostic, Source};

/// What a markdown document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocKind {
    /// `name.md`, or `name/index.md` when `bundle` is true.
    Page {
        /// Whether the page is a bundle folder with co-located assets.
        bundle: bool,
    },
    /// `_index.md`: the settings and text of the folder's section.
    Section,
}

/// A markdown document as read, before parsing.
#[derive(Clone, Debug)]
pub struct RawDoc {
    /// Where it came from.
    pub source: Source,
    /// Its path within `content/`, with forward slashes: `blog/a.md`, `blog/_index.md`.
    pub content_path: String,
    /// Page or section.
    pub kind: DocKind,
    /// The bytes as stored; decoding is part of parsing so that its errors are reported
    /// with the others.
    pub bytes: Vec<u8>,
}

/// A file under `content/` that is not markdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetFile {
    /// Its path within `content/`.
    pub content_path: String,
    /// Its path on disk.
    pub path: PathBuf,
    /// The content path of the bundle page it belongs to, if any.
    pub bundle: Option<String>,
}

/// Everything found under `content/`.
#[derive(Debug, Default)]
pub struct ContentTree {
    /// Pages and section settings, sorted by content path.
    pub docs: Vec<RawDoc>,
    /// Every folder that is a section, as a content path (`""` is the root), sorted.
    pub section_dirs: Vec<String>,
    /// Non-markdown files, sorted by content path.
    pub assets: Vec<AssetFile>,
}

/// Whether a file name is one that editors write while saving, never content: vim's swap
/// files and write probe (`4913`), backups ending in `~`, emacs lock and autosave files, and
/// any hidden file.
pub fn is_editor_artifact(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || name == "4913"
        || (name.starts_with('#') && name.ends_with('#'))
        || [".swp", ".swx", ".swo", ".tmp", ".bak", ".part", ".crdownload"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Whether a file or folder name is one that an editor or a version control system leaves
/// beside real files: vim's swap files and write probe, backups ending in `~`, emacs lock and
/// autosave files, `.DS_Store`, `.git`, and the build's own temporary files. Unlike
/// [`is_editor_artifact`] it lets other hidden names through, for `static/`, where
/// `.htaccess` or `.well-known/` are meant to be published.
pub fn is_editor_leftover(name: &str) -> bool {
    name.ends_with('~')
        || name == "4913"
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        || [".swp", ".swx", ".swo", crate::output::TEMP_SUFFIX]
            .iter()
            .any(|ext| name.ends_with(ext))
        || matches!(name, ".DS_Store" | ".git" | ".hg" | ".svn")
}

/// Walks `content_dir` (following symlinked folders) and reads every markdown file.
///
/// A missing folder is an empty site, not an error. Files that cannot be read are errors
/// naming them; the walk goes on so that every such error is reported.
pub fn load(root: &Path, content_dir: &Path) -> (ContentTree, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut files = Vec::new();
    let mut dirs = BTreeSet::new();
    if !content_dir.is_dir() {
        return (
            ContentTree { section_dirs: vec![String::new()], ..Default::default() },
            diagnostics,
        );
    }
    let walker = WalkDir::new(content_dir).follow_links(true).sort_by_file_name();
    let entries = walker
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_editor_artifact(&e.file_name().to_string_lossy()));
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let path = err.path().map(|p| relative_to(root, p)).unwrap_or_default();
                let message = format!("cannot read: {err}");
                diagnostics.push(Diagnostic::error(Source::File(path.into()), None, message));
                continue;
            }
        };
        let rel = relative_to(content_dir, entry.path());
        if entry.file_type().is_dir() {
            dirs.insert(rel);
        } else {
            files.push((rel, entry.into_path()));
        }
    }
    let tree = classify(root, dirs, files, &mut diagnostics);
    (tree, diagnostics)
}

fn classify(
    root: &Path,
    dirs: BTreeSet<String>,
    files: Vec<(String, PathBuf)>,
    diagnostics: &mut Vec<Diagnostic>,
) -> ContentTree {
    let bundles: BTreeSet<String> =
        files.iter().filter_map(|(rel, _)| bundle_dir_of_index(rel)).collect();
    let bundle_of = |rel: &str| -> Option<String> {
        let mut dir = parent_of(rel);
        loop {
            if bundles.contains(dir) {
                return Some(dir.to_string());
            }
            if dir.is_empty() {
                return None;
            }
            dir = parent_of(dir);
        }
    };

    let mut docs = Vec::new();
    let mut assets = Vec::new();
    for (rel, path) in files {
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        let bundle = bundle_of(&rel);
        let is_md = name.ends_with(".md");
        let kind = match (is_md, name, &bundle) {
            (true, "index.md", Some(dir)) if parent_of(&rel) == dir => {
                DocKind::Page { bundle: true }
            }
            (true, "_index.md", None) => DocKind::Section,
            (true, _, None) => DocKind::Page { bundle: false },
            (_, _, bundle) => {
                let bundle = bundle.as_ref().map(|dir| join(dir, "index.md"));
                assets.push(AssetFile { content_path: rel, path, bundle });
                continue;
            }
        };
        docs.push((rel, path, kind));
    }

    let read: Vec<_> = docs
        .into_par_iter()
        .map(|(rel, path, kind)| {
            let source = Source::File(relative_to(root, &path).into());
            match std::fs::read(&path) {
                Ok(bytes) => Ok(RawDoc { source, content_path: rel, kind, bytes }),
                Err(err) => Err(Diagnostic::error(source, None, format!("cannot read: {err}"))),
            }
        })
        .collect();
    let mut docs = Vec::with_capacity(read.len());
    for item in read {
        match item {
            Ok(doc) => docs.push(doc),
            Err(diag) => diagnostics.push(diag),
        }
    }
    let section_dirs =
        dirs.into_iter().filter(|dir| bundle_of(&join(dir, "x")).is_none()).collect();
    ContentTree { docs, section_dirs, assets }
}

/// For `a/b/index.md`, the bundle folder `a/b`; for anything else, `None`.
fn bundle_dir_of_index(rel: &str) -> Option<String> {
    let dir = rel.strip_suffix("/index.md")?;
    Some(dir.to_string())
}

/// The parent folder of a content path (`""` for a top-level file).
pub fn parent_of(rel: &str) -> &str {
    rel.rfind('/').map_or("", |i| &rel[..i])
}

/// Joins a content folder and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") }
}

/// `path` relative to `base`, with forward slashes; `path` itself when it is not below `base`.
pub fn relative_to(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_artifacts_are_recognised() {
        for name in [".post.md.swp", "post.md~", "4913", "#post.md#", ".#post.md", "post.md.swp"] {
            assert!(is_editor_artifact(name), "{name}");
        }
        for name in ["post.md", "_index.md", "photo.jpg", "4914"] {
            assert!(!is_editor_artifact(name), "{name}");
        }
    }

    #[test]
    fn classifies_sections_pages_bundles_and_assets() {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("content");
        for (path, text) in [
            ("_index.md", "+++\n+++\n"),
            ("blog/_index.md", "+++\n+++\n"),
            ("blog/a.md", "a"),
            ("blog/b/index.md", "b"),
            ("blog/b/photo.jpg", "jpg"),
            ("blog/b/extra/notes.md", "notes"),
            ("notes/c.md", "c"),
            ("notes/.c.md.swp", "swap"),
            ("file.txt", "txt"),
        ] {
            let path = content.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let (tree, diags) = load(dir.path(), &content);
        assert!(diags.is_empty(), "{diags:?}");
        let docs: Vec<_> = tree.docs.iter().map(|d| (d.content_path.as_str(), d.kind)).collect();
        assert_eq!(
            docs,
            [
                ("_index.md", DocKind::Section),
                ("blog/_index.md", DocKind::Section),
                ("blog/a.md", DocKind::Page { bundle: false }),
                ("blog/b/index.md", DocKind::Page { bundle: true }),
                ("notes/c.md", DocKind::Page { bundle: false }),
            ]
        );
        assert_eq!(tree.docs[2].source, Source::File("content/blog/a.md".into()));
        assert_eq!(tree.section_dirs, ["", "blog", "notes"]);
        let assets: Vec<_> =
            tree.assets.iter().map(|a| (a.content_path.as_str(), a.bundle.as_deref())).collect();
        assert_eq!(
            assets,
            [
                ("blog/b/extra/notes.md", Some("blog/b/index.md")),
                ("blog/b/photo.jpg", Some("blog/b/index.md")),
                ("file.txt", None),
            ]
        );
    }
}
