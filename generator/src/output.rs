//! Writing the output folder safely.
//!
//! Every output is first written under a temporary name beside its final place; only when
//! the whole build has succeeded are the temporary files renamed into place, the outputs that
//! no longer have a source removed, and the record of what was written saved. A build that
//! fails removes its temporary files and leaves the folder exactly as it was, so the live
//! site is always the last good build.
//!
//! A file whose bytes did not change is not touched. The record in `<root>/.kiln/` says which
//! bytes each output had and which sources it came from. While a commit is under way a
//! marker file says so; if a run finds that marker (a crash or a full disk interrupted the
//! last commit), it sweeps leftover temporary files and trusts no recorded hash, so every
//! output is compared and rewritten as needed: the next run always repairs the folder.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Source};

/// The suffix of temporary files. Nothing else in an output folder ends with it.
pub const TEMP_SUFFIX: &str = ".kiln-tmp";

/// What the record keeps of one output file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// The BLAKE3 hash of the file's bytes, in hex.
    pub hash: String,
    /// The sources the file was made from.
    pub sources: Vec<Source>,
}

/// The record of one output folder: every file the last good build wrote there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The output folder the record is for.
    pub output: String,
    /// Output path (relative, forward slashes) to what was written.
    pub files: BTreeMap<String, FileRecord>,
}

/// What a commit did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Output paths written because they are new or their bytes changed.
    pub written: Vec<String>,
    /// Output paths left alone because their bytes are the same.
    pub unchanged: usize,
    /// Output paths removed because their source is gone.
    pub removed: Vec<String>,
}

/// Holds `<root>/.kiln/lock` for as long as it lives: one writer at a time per site.
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the site's lock, waiting for another writer to finish if there is one.
    pub fn acquire(state_dir: &Path) -> io::Result<Lock> {
        fs::create_dir_all(state_dir)?;
        let file = File::options().create(true).truncate(false).write(true).open(state_dir.join("lock"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                tracing::info!("another kiln process is writing this site; waiting for it");
                file.lock()?;
            }
            Err(fs::TryLockError::Error(err)) => return Err(err),
        }
        Ok(Lock { _file: file })
    }
}

/// Stages outputs for one build of one output folder.
pub struct Stager {
    output: PathBuf,
    record_path: PathBuf,
    marker_path: PathBuf,
    old: Record,
    trust_old: bool,
    staged: Mutex<Vec<(PathBuf, PathBuf)>>,
    created_dirs: Mutex<Vec<PathBuf>>,
    new: Mutex<BTreeMap<String, FileRecord>>,
    unchanged: Mutex<usize>,
}

impl Stager {
    /// Opens the record of `output` kept in `state_dir`. Cleans up after an interrupted
    /// commit if the last run left one.
    pub fn open(state_dir: &Path, output: &Path) -> io::Result<Stager> {
        fs::create_dir_all(state_dir)?;
        fs::create_dir_all(output)?;
        let output = output.canonicalize()?;
        let id = blake3::hash(output.to_string_lossy().as_bytes()).to_hex();
        let record_path = state_dir.join(format!("record-{}.json", &id[..16]));
        let marker_path = state_dir.join(format!("record-{}.writing", &id[..16]));
        let old: Record = fs::read(&record_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let interrupted = marker_path.exists();
        if interrupted {
            tracing::warn!("the last build was interrupted while writing; repairing the output");
            sweep_temp_files(&output);
        }
        Ok(Stager {
            trust_old: !interrupted && old.output == output.to_string_lossy(),
            output,
            record_path,
            marker_path,
            old,
            staged: Mutex::default(),
            created_dirs: Mutex::default(),
            new: Mutex::default(),
            unchanged: Mutex::default(),
        })
    }

    /// The record of the last good build.
    pub fn previous(&self) -> &Record {
        &self.old
    }

    /// Stages `bytes` for the output path `rel`. Unchanged bytes stage nothing.
    pub fn stage(&self, rel: &str, bytes: &[u8], sources: Vec<Source>) -> Result<(), Diagnostic> {
        let hash = blake3::hash(bytes).to_hex().to_string();
        let target = self.output.join(rel);
        if self.is_unchanged(rel, &hash, bytes.len() as u64, &target) {
            *lock(&self.unchanged) += 1;
        } else {
            let temp = self.write_temp(&target, bytes).map_err(|err| {
                let message = format!("cannot write output `{rel}`: {err}");
                Diagnostic::error(sources.first().cloned(), None, message)
            })?;
            lock(&self.staged).push((temp, target));
        }
        lock(&self.new).insert(rel.to_string(), FileRecord { hash, sources });
        Ok(())
    }

    /// Stages a copy of the file at `from` for the output path `rel`.
    pub fn stage_copy(&self, rel: &str, from: &Path, sources: Vec<Source>) -> Result<(), Diagnostic> {
        let bytes = fs::read(from).map_err(|err| {
            Diagnostic::error(sources.first().cloned(), None, format!("cannot read: {err}"))
        })?;
        self.stage(rel, &bytes, sources)
    }

    fn is_unchanged(&self, rel: &str, hash: &str, len: u64, target: &Path) -> bool {
        if !self.trust_old {
            return fs::read(target).is_ok_and(|bytes| blake3::hash(&bytes).to_hex().as_str() == hash);
        }
        let recorded = self.old.files.get(rel).is_some_and(|f| f.hash == hash);
        recorded && fs::metadata(target).is_ok_and(|m| m.is_file() && m.len() == len)
    }

    fn write_temp(&self, target: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
        let parent = target.parent().unwrap_or(&self.output);
        self.create_dirs(parent)?;
        let name = target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let temp = parent.join(format!(".{name}{TEMP_SUFFIX}"));
        let mut file = File::create(&temp)?;
        let written = file.write_all(bytes);
        if let Err(err) = written {
            drop(file);
            let _ = fs::remove_file(&temp);
            return Err(err);
        }
        Ok(temp)
    }

    /// Creates `dir` and any missing parents, remembering which ones it made so that a failed
    /// build can remove them again.
    fn create_dirs(&self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut current = dir;
        while !current.exists() && current.starts_with(&self.output) {
            missing.push(current.to_path_buf());
            let Some(parent) = current.parent() else { break };
            current = parent;
        }
        for path in missing.iter().rev() {
            match fs::create_dir(path) {
                Ok(()) => lock(&self.created_dirs).push(path.clone()),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Puts every staged file in place, removes outputs whose source is gone, and saves the
    /// record.
    pub fn commit(self) -> io::Result<WriteReport> {
        let staged = self.staged.into_inner().unwrap_or_else(|e| e.into_inner());
        let new = self.new.into_inner().unwrap_or_else(|e| e.into_inner());
        write_synced(&self.marker_path, b"a commit is under way\n")?;

        staged.par_iter().try_for_each(|(temp, target)| fs::rename(temp, target))?;
        let mut written: Vec<String> =
            staged.iter().map(|(_, target)| rel_path(&self.output, target)).collect();
        written.sort();

        let removed = remove_stale(&self.output, &self.old, &new)?;
        let record = Record { output: self.output.to_string_lossy().into_owned(), files: new };
        let json = serde_json::to_vec(&record).map_err(io::Error::other)?;
        let temp = self.record_path.with_extension(format!("json{TEMP_SUFFIX}"));
        write_synced(&temp, &json)?;
        fs::rename(&temp, &self.record_path)?;
        fs::remove_file(&self.marker_path)?;
        let unchanged = self.unchanged.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(WriteReport { written, unchanged, removed })
    }

    /// Undoes everything staged: the output folder is left as it was.
    pub fn abort(self) {
        let staged = self.staged.into_inner().unwrap_or_else(|e| e.into_inner());
        for (temp, _) in staged {
            let _ = fs::remove_file(temp);
        }
        let mut dirs = self.created_dirs.into_inner().unwrap_or_else(|e| e.into_inner());
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn rel_path(base: &Path, path: &Path) -> String {
    crate::content::relative_to(base, path)
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes the outputs of the old record that the new build does not write, then any folder
/// that this leaves empty.
fn remove_stale(
    output: &Path,
    old: &Record,
    new: &BTreeMap<String, FileRecord>,
) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut parents = BTreeSet::new();
    for rel in old.files.keys().filter(|rel| !new.contains_key(*rel)) {
        let path = output.join(rel);
        match fs::remove_file(&path) {
            Ok(()) => removed.push(rel.clone()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        if let Some(parent) = path.parent() {
            parents.insert(parent.to_path_buf());
        }
    }
    let mut parents: Vec<PathBuf> = parents.into_iter().collect();
    parents.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in parents {
        let mut current = dir.as_path();
        while current != output && current.starts_with(output) {
            if fs::remove_dir(current).is_err() {
                break;
            }
            let Some(parent) = current.parent() else { break };
            current = parent;
        }
    }
    Ok(removed)
}

/// Deletes temporary files that an interrupted run left anywhere in the output folder.
fn sweep_temp_files(output: &Path) {
    for entry in walkdir::WalkDir::new(output).into_iter().filter_map(Result::ok) {
        if entry.file_type().is_file() && entry.file_name().to_string_lossy().ends_with(TEMP_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Vec<Source> {
        vec![Source::File("content/a.md".into())]
    }

    #[test]
    fn commit_writes_and_second_commit_skips_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (state, out) = (dir.path().join(".kiln"), dir.path().join("public"));
        fs::create_dir_all(&state).unwrap();
        let stager = Stager::open(&state, &out).unwrap();
        stager.stage("a/index.html", b"one", src()).unwrap();
        stager.stage("b/index.html", b"two", src()).unwrap();
        let report = stager.commit().unwrap();
        assert_eq!(report.written, ["a/index.html", "b/index.html"]);
        assert_eq!(fs::read(out.join("a/index.html")).unwrap(), b"one");

        let stager = Stager::open(&state, &out).unwrap();
        stager.stage("a/index.html", b"one", src()).unwrap();
        let report = stager.commit().unwrap();
        assert!(report.written.is_empty());
        assert_eq!(report.unchanged, 1);
        assert_eq!(report.removed, ["b/index.html"]);
        assert!(!out.join("b").exists(), "the emptied folder is removed");
    }

    #[test]
    fn abort_leaves_the_folder_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let (state, out) = (dir.path().join(".kiln"), dir.path().join("public"));
        let stager = Stager::open(&state, &out).unwrap();
        stager.stage("index.html", b"live", src()).unwrap();
        stager.commit().unwrap();

        let stager = Stager::open(&state, &out).unwrap();
        stager.stage("index.html", b"broken", src()).unwrap();
        stager.stage("new/deep/index.html", b"new", src()).unwrap();
        stager.abort();
        let names: Vec<_> = fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["index.html"]);
        assert_eq!(fs::read(out.join("index.html")).unwrap(), b"live");
    }

    #[test]
    fn interrupted_commit_is_repaired_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let (state, out) = (dir.path().join(".kiln"), dir.path().join("public"));
        let stager = Stager::open(&state, &out).unwrap();
        stager.stage("index.html", b"v1", src()).unwrap();
        stager.commit().unwrap();
        // A crash after the marker was written and one file renamed, before the record.
        let stager = Stager::open(&state, &out).unwrap();
        let marker = stager.marker_path.clone();
        drop(stager);
        fs::write(&marker, b"").unwrap();
        fs::write(out.join("index.html"), b"half-written").unwrap();
        fs::write(out.join(format!(".index.html{TEMP_SUFFIX}")), b"junk").unwrap();

        let stager = Stager::open(&state, &out).unwrap();
        stager.stage("index.html", b"v1", src()).unwrap();
        let report = stager.commit().unwrap();
        assert_eq!(report.written, ["index.html"], "the recorded hash is not trusted");
        assert_eq!(fs::read(out.join("index.html")).unwrap(), b"v1");
        assert!(!out.join(format!(".index.html{TEMP_SUFFIX}")).exists());
    }
}
