//! Writing the output folder safely.
//!
//! Every output is first written under a temporary name beside its final place; only when
//! the whole build has succeeded are the temporary files renamed into place, the outputs that
//! no longer have a source removed, and the record of what was written saved. A build that
//! fails removes its temporary files and leaves the folder exactly as it was, so the live
//! site is always the last good build.
//!
//! A file whose bytes did not change is not touched. The record in `<root>/.kiln/` says which
//! bytes each output had, which sources it came from, and the length and modification time it
//! had when it was last written or verified. An output whose length and modification time are
//! still the recorded ones is taken to hold the recorded bytes without being read, so a build
//! that changes nothing reads no output file; any other output (edited or replaced by hand,
//! say) is read and hashed, and rewritten if its bytes are not the ones wanted. A file whose
//! recorded time is not older than the record itself may have been edited within the same
//! clock tick, too soon for its time to differ, so it is read as well (git treats its index
//! the same way); the next build records it with an older time and trusts it again. An edit
//! that keeps the length and puts the old modification time back is not seen.
//!
//! While a commit is under way a marker file says so; if a run finds that marker (a crash or a
//! full disk interrupted the last commit), it sweeps leftover temporary files and trusts no
//! recorded hash, so every output is compared and rewritten as needed: the next run always
//! repairs the folder.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

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
    /// The file's length and modification time when it was written or last verified; `None`
    /// when they could not be read (or in a record from an older Kiln), so that the file is
    /// read and hashed the next time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<FileStamp>,
}

/// What the file system says about a file without reading it: enough to tell that it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// The length in bytes.
    pub len: u64,
    /// The modification time in nanoseconds since the Unix epoch.
    pub modified: u64,
}

impl FileStamp {
    /// The stamp of the regular file at `path`, or `None` if it is not one or has no usable
    /// modification time.
    fn of(path: &Path) -> Option<FileStamp> {
        let meta = fs::metadata(path).ok().filter(fs::Metadata::is_file)?;
        Some(FileStamp { len: meta.len(), modified: nanos_since_epoch(meta.modified().ok()?)? })
    }
}

fn nanos_since_epoch(time: SystemTime) -> Option<u64> {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    u64::try_from(since.as_nanos()).ok()
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
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(state_dir.join("lock"))?;
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

/// An output written under its temporary name, waiting for the commit.
struct StagedFile {
    temp: PathBuf,
    target: PathBuf,
    rel: String,
}

/// A [`Record`] borrowed for saving; it serializes exactly as one.
#[derive(Serialize)]
struct RecordRef<'a> {
    output: &'a str,
    files: &'a BTreeMap<String, FileRecord>,
}

/// Stages outputs for one build of one output folder.
pub struct Stager {
    output: PathBuf,
    record_path: PathBuf,
    marker_path: PathBuf,
    old: Record,
    trust_old: bool,
    /// When the old record was saved, as the file system's clock said (see the module doc).
    old_saved: Option<u64>,
    /// Whether the output folder did not exist before this build: then no output exists yet,
    /// and none is looked for.
    fresh: bool,
    staged: Mutex<Vec<StagedFile>>,
    created_dirs: Mutex<Vec<PathBuf>>,
    /// Folders known to exist, so that each is looked at or made once per build.
    known_dirs: Mutex<HashSet<PathBuf>>,
    new: Mutex<BTreeMap<String, FileRecord>>,
    unchanged: Mutex<usize>,
}

impl Stager {
    /// Opens the record of `output` kept in `state_dir`. Cleans up after an interrupted
    /// commit if the last run left one.
    pub fn open(state_dir: &Path, output: &Path) -> io::Result<Stager> {
        fs::create_dir_all(state_dir)?;
        let fresh = !output.exists();
        fs::create_dir_all(output)?;
        let output = output.canonicalize()?;
        let id = blake3::hash(output.to_string_lossy().as_bytes()).to_hex();
        let record_path = state_dir.join(format!("record-{}.json", &id[..16]));
        let marker_path = state_dir.join(format!("record-{}.writing", &id[..16]));
        let old: Record = fs::read(&record_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let old_saved = fs::metadata(&record_path)
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(nanos_since_epoch);
        let interrupted = marker_path.exists();
        if interrupted {
            tracing::warn!("the last build was interrupted while writing; repairing the output");
            sweep_temp_files(&output);
        }
        Ok(Stager {
            trust_old: !interrupted && old.output == output.to_string_lossy(),
            known_dirs: Mutex::new(HashSet::from([output.clone()])),
            output,
            record_path,
            marker_path,
            old,
            old_saved,
            fresh,
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
        let stamp;
        match self.unchanged_stamp(rel, &hash, &target) {
            Some(verified) => {
                stamp = verified;
                *lock(&self.unchanged) += 1;
            }
            None => {
                // The temporary file's stamp, read from the open file after writing: the
                // rename at the commit keeps its length and modification time.
                let (temp, written) = self.write_temp(&target, bytes).map_err(|err| {
                    let message = format!("cannot write output `{rel}`: {err}");
                    Diagnostic::error(sources.first().cloned(), None, message)
                })?;
                stamp = written;
                lock(&self.staged).push(StagedFile { temp, target, rel: rel.to_string() });
            }
        }
        lock(&self.new).insert(rel.to_string(), FileRecord { hash, sources, stamp });
        Ok(())
    }

    /// Stages a copy of the file at `from` for the output path `rel`.
    pub fn stage_copy(
        &self,
        rel: &str,
        from: &Path,
        sources: Vec<Source>,
    ) -> Result<(), Diagnostic> {
        let bytes = fs::read(from).map_err(|err| {
            Diagnostic::error(sources.first().cloned(), None, format!("cannot read: {err}"))
        })?;
        self.stage(rel, &bytes, sources)
    }

    /// Whether the file at `target` already holds the bytes hashing to `hash`: `Some` with its
    /// stamp if it does, `None` if it must be written.
    ///
    /// A file that the record says has these bytes, and whose stamp is still the recorded one,
    /// is not read: that is what keeps a build that changes nothing from reading every output.
    fn unchanged_stamp(&self, rel: &str, hash: &str, target: &Path) -> Option<Option<FileStamp>> {
        if self.fresh {
            return None;
        }
        let recorded = self.old.files.get(rel).filter(|f| self.trust_old && f.hash == hash);
        if self.trust_old && recorded.is_none() {
            // The bytes differ from the last build's, so the file is rewritten unread.
            return None;
        }
        // Without a stamp there is no regular file to compare with.
        let stamp = Some(FileStamp::of(target)?);
        let trusted = recorded.and_then(|f| f.stamp).filter(|old| !self.is_racy(old));
        if trusted.is_some() && trusted == stamp {
            return Some(stamp);
        }
        let bytes = fs::read(target).ok()?;
        (blake3::hash(&bytes).to_hex().as_str() == hash).then_some(stamp)
    }

    /// Whether a recorded stamp is as new as the record: the file may have been edited within
    /// the same clock tick as it was written, so its stamp proves nothing.
    fn is_racy(&self, stamp: &FileStamp) -> bool {
        self.old_saved.is_none_or(|saved| stamp.modified >= saved)
    }

    /// Writes `bytes` beside `target` under the temporary name; returns that name and the
    /// written file's stamp.
    fn write_temp(&self, target: &Path, bytes: &[u8]) -> io::Result<(PathBuf, Option<FileStamp>)> {
        let parent = target.parent().unwrap_or(&self.output);
        self.create_dirs(parent)?;
        let name = target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let temp = parent.join(format!(".{name}{TEMP_SUFFIX}"));
        let mut file = File::create(&temp)?;
        let written = file.write_all(bytes).and_then(|()| file.metadata());
        match written {
            Ok(meta) => {
                let modified = meta.modified().ok().and_then(nanos_since_epoch);
                Ok((temp, modified.map(|modified| FileStamp { len: meta.len(), modified })))
            }
            Err(err) => {
                drop(file);
                let _ = fs::remove_file(&temp);
                Err(err)
            }
        }
    }

    /// Creates `dir` and any missing parents, remembering which ones it made so that a failed
    /// build can remove them again. A folder is made or found once per build: most outputs
    /// have a folder of their own, which the first attempt to make it creates.
    fn create_dirs(&self, dir: &Path) -> io::Result<()> {
        if lock(&self.known_dirs).contains(dir) || !dir.starts_with(&self.output) {
            return Ok(());
        }
        match fs::create_dir(dir) {
            Ok(()) => lock(&self.created_dirs).push(dir.to_path_buf()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let Some(parent) = dir.parent() else { return Err(err) };
                self.create_dirs(parent)?;
                match fs::create_dir(dir) {
                    Ok(()) => lock(&self.created_dirs).push(dir.to_path_buf()),
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(err) => return Err(err),
                }
            }
            // Made by another thread, or by an earlier build; a file in its place fails the
            // write that follows.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
        lock(&self.known_dirs).insert(dir.to_path_buf());
        Ok(())
    }

    /// Puts every staged file in place, removes outputs whose source is gone, and saves the
    /// record.
    pub fn commit(self) -> io::Result<WriteReport> {
        let staged = self.staged.into_inner().unwrap_or_else(|e| e.into_inner());
        let new = self.new.into_inner().unwrap_or_else(|e| e.into_inner());
        write_synced(&self.marker_path, b"a commit is under way\n")?;

        // The record is complete before the renames (every stamp is known), so it is
        // serialized while they run; it is saved only after them, as before.
        let output = self.output.to_string_lossy();
        let (renamed, json) = rayon::join(
            || staged.par_iter().try_for_each(|file| fs::rename(&file.temp, &file.target)),
            || serde_json::to_vec(&RecordRef { output: &output, files: &new }),
        );
        renamed?;
        let json = json.map_err(io::Error::other)?;
        let mut written: Vec<String> = staged.into_iter().map(|file| file.rel).collect();
        written.sort();

        let removed = remove_stale(&self.output, &self.old, &new)?;
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
        for file in staged {
            let _ = fs::remove_file(file.temp);
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
        if entry.file_type().is_file() && entry.file_name().to_string_lossy().ends_with(TEMP_SUFFIX)
        {
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

    fn build(state: &Path, out: &Path, bytes: &[u8]) -> WriteReport {
        let stager = Stager::open(state, out).unwrap();
        stager.stage("index.html", bytes, src()).unwrap();
        stager.commit().unwrap()
    }

    /// Sets a file's modification time to `secs` after the Unix epoch.
    fn set_mtime(path: &Path, secs: u64) {
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        File::options().write(true).open(path).unwrap().set_modified(time).unwrap();
    }

    #[test]
    fn output_edited_by_hand_to_the_same_length_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let (state, out) = (dir.path().join(".kiln"), dir.path().join("public"));
        build(&state, &out, b"<h1>A</h1>");
        fs::write(out.join("index.html"), b"<h2>A</h2>").unwrap();
        set_mtime(&out.join("index.html"), 1_000_000_000);
        assert_eq!(build(&state, &out, b"<h1>A</h1>").written, ["index.html"]);
        assert_eq!(fs::read(out.join("index.html")).unwrap(), b"<h1>A</h1>");
    }

    #[test]
    fn unchanged_outputs_with_their_recorded_stamp_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let (state, out) = (dir.path().join(".kiln"), dir.path().join("public"));
        let file = out.join("index.html");
        build(&state, &out, b"one");
        // An old time, so that the stamp the next build records is older than its record.
        set_mtime(&file, 1_000_000_000);
        assert_eq!(build(&state, &out, b"one").unchanged, 1, "read, found equal, stamped");
        // Different bytes behind the recorded stamp are only seen by reading: they are not.
        fs::write(&file, b"two").unwrap();
        set_mtime(&file, 1_000_000_000);
        let report = build(&state, &out, b"one");
        assert_eq!((report.written.len(), report.unchanged), (0, 1));
        assert_eq!(fs::read(&file).unwrap(), b"two");
    }

    #[test]
    fn output_stamped_as_new_as_the_record_is_read_in_case_of_a_same_tick_edit() {
        let dir = tempfile::tempdir().unwrap();
        let (state, out) = (dir.path().join(".kiln"), dir.path().join("public"));
        let file = out.join("index.html");
        build(&state, &out, b"one");
        // A time after the record's, as when a file is edited in the tick the record is saved.
        let future = 4_000_000_000;
        set_mtime(&file, future);
        build(&state, &out, b"one");
        fs::write(&file, b"two").unwrap();
        set_mtime(&file, future);
        assert_eq!(build(&state, &out, b"one").written, ["index.html"]);
        assert_eq!(fs::read(&file).unwrap(), b"one");
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
