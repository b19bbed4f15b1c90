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
use std::io::{self, Read, Write};
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
    /// The hash of the file's bytes ([`content_hash`]).
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
    pub fn of(path: &Path) -> Option<FileStamp> {
        let meta = fs::metadata(path).ok().filter(fs::Metadata::is_file)?;
        Some(FileStamp { len: meta.len(), modified: nanos_since_epoch(meta.modified().ok()?)? })
    }
}

fn nanos_since_epoch(time: SystemTime) -> Option<u64> {
    let since = time.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    u64::try_from(since.as_nanos()).ok()
}

/// The record of one output folder: every file the last good build wrote there.
///
/// It is saved whole now and then; in between, each commit appends only what it changed to a
/// journal beside it, so that a rebuild that writes a few files does not rewrite a record of
/// tens of thousands. Journal lines carry the generation of the record they follow, so lines
/// left from before the last whole save are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The output folder the record is for.
    pub output: String,
    /// Counts the whole saves of the record.
    #[serde(default)]
    pub generation: u64,
    /// Output path (relative, forward slashes) to what was written.
    pub files: BTreeMap<String, FileRecord>,
}

/// Which outputs of the last good build a commit keeps besides those staged.
pub enum Keep<'a> {
    /// None: whatever was not staged is stale and removed.
    Nothing,
    /// Those planned (and not staged, the caller having found them unchanged).
    Planned(&'a rustc_hash::FxHashSet<&'a str>),
    /// All of them: the build planned exactly what the last one did.
    All,
}

/// A record as an engine keeps it in memory, with the stamp its file had when saved.
#[derive(Clone, Debug)]
pub struct KnownRecord {
    /// The record.
    pub record: Record,
    /// The stamp of the record file just after it was saved.
    pub stamp: FileStamp,
    /// The stamp of the journal after the last append, if there is one.
    pub journal: Option<FileStamp>,
    /// Lines in the journal.
    pub journal_len: usize,
}

/// One line of the journal: an output written (with its record) or removed.
#[derive(Deserialize)]
struct JournalLine {
    generation: u64,
    path: String,
    file: Option<FileRecord>,
}

/// A [`JournalLine`] to write, borrowing from the record.
#[derive(Serialize)]
struct JournalEntry<'a> {
    generation: u64,
    path: &'a str,
    file: Option<&'a FileRecord>,
}

/// Reads the journal at `path` onto `record`; returns how many lines it holds. A line that
/// does not parse (the end of an append cut short) ends the reading.
fn replay_journal(path: &Path, record: &mut Record) -> usize {
    let Ok(text) = fs::read_to_string(path) else { return 0 };
    let mut count = 0;
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<JournalLine>(line) else { break };
        count += 1;
        if entry.generation != record.generation {
            continue;
        }
        match entry.file {
            Some(file) => {
                record.files.insert(entry.path, file);
            }
            None => {
                record.files.remove(&entry.path);
            }
        }
    }
    count
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

/// The paths of the record and of the interrupted-commit marker of `output` in `state_dir`.
/// `output` must be canonical.
pub fn record_paths(state_dir: &Path, output: &Path) -> (PathBuf, PathBuf) {
    let id = blake3::hash(output.to_string_lossy().as_bytes()).to_hex();
    (
        state_dir.join(format!("record-{}.json", &id[..16])),
        state_dir.join(format!("record-{}.writing", &id[..16])),
    )
}

/// Removes the output folder `output` and everything `state_dir` keeps about it (its record,
/// journal, commit marker and input snapshot): for an output that is never built again, such
/// as that of `kiln serve` on a port the system picked. The caller holds the site's [`Lock`].
pub fn forget(state_dir: &Path, output: &Path) -> io::Result<()> {
    let output = match output.canonicalize() {
        Ok(output) => output,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    let (record, _) = record_paths(state_dir, &output);
    for path in kept_about(&record) {
        match fs::remove_file(&path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
    }
    fs::remove_dir_all(&output)
}

/// Removes what `state_dir` keeps about output folders that no longer exist: the record,
/// journal, commit marker and input snapshot of each. A build into such a folder starts from
/// nothing anyway, so they only take room. A record whose output cannot be read from its
/// first bytes (one of an older Kiln, say) is left alone. The caller holds the site's
/// [`Lock`].
pub fn sweep_gone(state_dir: &Path) {
    let Ok(entries) = fs::read_dir(state_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("record-") && name.ends_with(".json")) {
            continue;
        }
        let record = entry.path();
        let Some(output) = recorded_output(&record) else { continue };
        if !Path::new(&output).exists() {
            for path in kept_about(&record) {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// Everything `.kiln/` keeps about the output whose record is at `record`: its journal, its
/// input snapshot, its record's temporary file, the record and its commit marker.
fn kept_about(record: &Path) -> [PathBuf; 5] {
    [
        journal_path(record),
        crate::snapshot::snapshot_beside(record),
        record.with_extension(format!("json{TEMP_SUFFIX}")),
        record.to_path_buf(),
        record.with_extension("writing"),
    ]
}

/// The output folder a record is for, from the start of the file: the record's first field.
fn recorded_output(record: &Path) -> Option<String> {
    let mut start = vec![0; 8192];
    let read = File::open(record).ok()?.read(&mut start).ok()?;
    let rest = start.get(..read)?.strip_prefix(b"{\"output\":")?;
    serde_json::Deserializer::from_slice(rest).into_iter::<String>().next()?.ok()
}

fn journal_path(record_path: &Path) -> PathBuf {
    record_path.with_extension("journal")
}

/// Stages outputs for one build of one output folder.
pub struct Stager {
    output: PathBuf,
    record_path: PathBuf,
    marker_path: PathBuf,
    old: Record,
    trust_old: bool,
    /// Lines in the journal of `old`.
    journal_len: usize,
    /// Whether `old` is the caller's own record, not one read from disk.
    from_known: bool,
    /// Outputs staged by this build (written or verified), as opposed to kept.
    touched: Mutex<Vec<String>>,
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
        Self::open_known(state_dir, output, None)
    }

    /// Like [`Stager::open`], but takes the record from `known` instead of reading it when
    /// the record file is still the one `known` was saved as: an engine that keeps running
    /// does not read back what it wrote itself.
    pub fn open_known(
        state_dir: &Path,
        output: &Path,
        known: Option<KnownRecord>,
    ) -> io::Result<Stager> {
        fs::create_dir_all(state_dir)?;
        let fresh = !output.exists();
        fs::create_dir_all(output)?;
        let output = output.canonicalize()?;
        let (record_path, marker_path) = record_paths(state_dir, &output);
        let on_disk = FileStamp::of(&record_path);
        let journal_on_disk = FileStamp::of(&journal_path(&record_path));
        let mut from_known = false;
        let (old, journal_len) = match known {
            Some(known) if on_disk == Some(known.stamp) && journal_on_disk == known.journal => {
                from_known = true;
                (known.record, known.journal_len)
            }
            _ => {
                let mut record: Record = fs::read(&record_path)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                    .unwrap_or_default();
                let journal_len = replay_journal(&journal_path(&record_path), &mut record);
                (record, journal_len)
            }
        };
        // The record was last saved when its file or its journal was last written.
        let old_saved = on_disk.map(|s| s.modified).max(journal_on_disk.map(|s| s.modified));
        let interrupted = marker_path.exists();
        if interrupted {
            tracing::warn!("the last build was interrupted while writing; repairing the output");
            sweep_temp_files(&output);
        }
        Ok(Stager {
            trust_old: !interrupted && old.output == output.to_string_lossy(),
            journal_len,
            from_known,
            touched: Mutex::default(),
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

    /// Trusts nothing the record says of the files in the output folder: every staged
    /// output is compared with the file by its bytes. What the record lists is still
    /// removed when the build does not write it again.
    pub fn distrust_record(&mut self) {
        self.trust_old = false;
    }

    /// The record of the last good build.
    pub fn previous(&self) -> &Record {
        &self.old
    }

    /// Whether the record is the one the caller kept from its own last commit: no other
    /// writer has committed since.
    pub fn record_is_known(&self) -> bool {
        self.from_known
    }

    /// Whether the output `rel` can be kept as the last good build wrote it, without
    /// rendering or reading it: the record holds it with the bytes hashing to `hash`. The
    /// caller then leaves it out of staging and names it in the [`Keep`] of the commit; any
    /// other output must be staged.
    pub fn can_keep(&self, rel: &str, hash: &str) -> bool {
        self.trust_old && self.old.files.get(rel).is_some_and(|f| f.hash == hash)
    }

    /// Stages `bytes` for the output path `rel`. Unchanged bytes stage nothing.
    pub fn stage(&self, rel: &str, bytes: &[u8], sources: Vec<Source>) -> Result<(), Diagnostic> {
        let hash = content_hash(bytes);
        let target = self.output.join(rel);
        let stamp;
        match self.unchanged_stamp(rel, &hash, &target) {
            Some(verified) => {
                stamp = verified;
                *lock(&self.unchanged) += 1;
            }
            None => {
                // A folder that held this output at the last commit is still there: making
                // it again would cost a system call for nothing.
                let known = self.trust_old && self.old.files.contains_key(rel);
                // The temporary file's stamp, read from the open file after writing: the
                // rename at the commit keeps its length and modification time.
                let (temp, written) = self.write_temp(&target, bytes, known).map_err(|err| {
                    let message = format!("cannot write output `{rel}`: {err}");
                    Diagnostic::error(sources.first().cloned(), None, message)
                })?;
                stamp = written;
                lock(&self.staged).push(StagedFile { temp, target, rel: rel.to_string() });
            }
        }
        lock(&self.new).insert(rel.to_string(), FileRecord { hash, sources, stamp });
        lock(&self.touched).push(rel.to_string());
        Ok(())
    }

    /// The hash recorded for `rel` by this build's staging, once it is staged or kept.
    pub fn staged_hash(&self, rel: &str) -> Option<String> {
        lock(&self.new).get(rel).map(|record| record.hash.clone())
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
        (content_hash(&bytes) == hash).then_some(stamp)
    }

    /// Whether a recorded stamp is as new as the record: the file may have been edited within
    /// the same clock tick as it was written, so its stamp proves nothing.
    fn is_racy(&self, stamp: &FileStamp) -> bool {
        self.old_saved.is_none_or(|saved| stamp.modified >= saved)
    }

    /// Writes `bytes` beside `target` under the temporary name; returns that name and the
    /// written file's stamp.
    ///
    /// The folder is made first unless `known` says it held the output at the last commit;
    /// should it have gone since, it is made then.
    fn write_temp(
        &self,
        target: &Path,
        bytes: &[u8],
        known: bool,
    ) -> io::Result<(PathBuf, Option<FileStamp>)> {
        let parent = target.parent().unwrap_or(&self.output);
        if !known {
            self.create_dirs(parent)?;
        }
        let name = target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        let temp = parent.join(format!(".{name}{TEMP_SUFFIX}"));
        let mut file = match File::create(&temp) {
            Err(err) if known && err.kind() == io::ErrorKind::NotFound => {
                self.create_dirs(parent)?;
                File::create(&temp)?
            }
            opened => opened?,
        };
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
        self.commit_known(Keep::Nothing).map(|(report, _)| report)
    }

    /// Like [`Stager::commit`], keeping the unstaged outputs that `keep` says, and returning
    /// the record as saved, for [`Stager::open_known`].
    pub fn commit_known(mut self, keep: Keep<'_>) -> io::Result<(WriteReport, KnownRecord)> {
        let staged = self.staged.into_inner().unwrap_or_else(|e| e.into_inner());
        let overlay = self.new.into_inner().unwrap_or_else(|e| e.into_inner());
        let touched = self.touched.into_inner().unwrap_or_else(|e| e.into_inner());
        let old = std::mem::take(&mut self.old.files);
        let on_record = self.trust_old && FileStamp::of(&self.record_path).is_some();
        let journal = journal_path(&self.record_path);
        let (journal_len, generation) = (self.journal_len, self.old.generation);
        let output = self.output.to_string_lossy().into_owned();
        write_synced(&self.marker_path, b"a commit is under way\n")?;

        // The new record, and its text, are made while the files are renamed into place; the
        // text is written after them.
        let (renamed, merged) = rayon::join(
            || staged.par_iter().try_for_each(|file| fs::rename(&file.temp, &file.target)),
            || {
                let merged = merge_record(old, overlay, touched, keep);
                let changes = merged.touched.len() + merged.stale.len();
                // The journal may grow to as many lines as the record has files: replaying it
                // then costs about what reading the record does, and a large site's new post
                // (which shifts every pager) appends instead of rewriting the whole record
                // every other time.
                let room = merged.files.len().max(1024);
                let append = on_record && journal_len + changes <= room;
                // A whole save starts a generation: the journal lines of the last are ignored.
                let generation = if append { generation } else { generation + 1 };
                let record = Record { output, generation, files: merged.files };
                let text = if append {
                    journal_text(&record, &merged.touched, &merged.stale)
                } else {
                    serde_json::to_vec(&record)
                };
                (record, merged.stale, merged.kept, changes, append, text)
            },
        );
        let (record, stale, kept, changes, append, text) = merged;
        renamed?;
        let text = text.map_err(io::Error::other)?;
        let mut written: Vec<String> = staged.into_iter().map(|file| file.rel).collect();
        written.sort();

        let removed = remove_stale(&self.output, &stale)?;
        let journal_len = if append {
            let mut file = File::options().create(true).append(true).open(&journal)?;
            file.write_all(&text)?;
            file.sync_all()?;
            journal_len + changes
        } else {
            let temp = self.record_path.with_extension(format!("json{TEMP_SUFFIX}"));
            write_synced(&temp, &text)?;
            fs::rename(&temp, &self.record_path)?;
            match fs::remove_file(&journal) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
            0
        };
        fs::remove_file(&self.marker_path)?;
        let unchanged = kept + self.unchanged.into_inner().unwrap_or_else(|e| e.into_inner());
        let stamp = FileStamp::of(&self.record_path)
            .ok_or_else(|| io::Error::other(format!("{} vanished", self.record_path.display())))?;
        let known = KnownRecord { record, stamp, journal: FileStamp::of(&journal), journal_len };
        Ok((WriteReport { written, unchanged, removed }, known))
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

/// A commit's record, made from the last one.
struct Merged {
    /// Every output on record after the commit.
    files: BTreeMap<String, FileRecord>,
    /// The staged outputs whose entry differs from the last record's.
    touched: Vec<String>,
    /// The outputs on the last record that the commit removes.
    stale: Vec<String>,
    /// How many outputs stay on record without being staged.
    kept: usize,
}

/// Lays what was staged (`overlay`) over the `old` record, less what `keep` does not keep.
fn merge_record(
    mut files: BTreeMap<String, FileRecord>,
    overlay: BTreeMap<String, FileRecord>,
    mut touched: Vec<String>,
    keep: Keep<'_>,
) -> Merged {
    let mut stale = Vec::new();
    let mut keeps = |rel: &String, planned: bool| {
        let keep = planned || overlay.contains_key(rel);
        if !keep {
            stale.push(rel.clone());
        }
        keep
    };
    match keep {
        Keep::All => {}
        Keep::Planned(planned) => files.retain(|rel, _| keeps(rel, planned.contains(rel.as_str()))),
        Keep::Nothing => files.retain(|rel, _| keeps(rel, false)),
    }
    // What the overlay does not replace: the record's files less those the overlay has too
    // (counted over the overlay, which a large site's commit makes far smaller).
    let kept = files.len() - overlay.keys().filter(|rel| files.contains_key(*rel)).count();
    // Only entries that differ from the old record need a journal line: an output staged with
    // the bytes, sources and stamp it had is on record already.
    touched.retain(|rel| files.get(rel) != overlay.get(rel));
    files.extend(overlay);
    Merged { files, touched, stale, kept }
}

/// The journal lines of a commit: each output it `touched` with its record, then each `stale`
/// one as removed.
fn journal_text(
    record: &Record,
    touched: &[String],
    stale: &[String],
) -> serde_json::Result<Vec<u8>> {
    let mut lines = Vec::new();
    let entries = touched.iter().map(|rel| (rel, record.files.get(rel)));
    for (path, file) in entries.chain(stale.iter().map(|rel| (rel, None))) {
        let line = JournalEntry { generation: record.generation, path, file };
        serde_json::to_writer(&mut lines, &line)?;
        lines.push(b'\n');
    }
    Ok(lines)
}

/// The hash the record keeps of an output's bytes: 128-bit XXH3, in hex. It only tells
/// whether an output's bytes changed since Kiln wrote them, so it needs no cryptographic
/// strength, and it hashes a large site's shifted pagers many times faster than BLAKE3.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
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
fn remove_stale(output: &Path, stale: &[String]) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut parents = BTreeSet::new();
    for rel in stale {
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
    fn output_whose_folder_was_deleted_by_hand_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let (state, out) = (dir.path().join(".kiln"), dir.path().join("public"));
        let stager = Stager::open(&state, &out).unwrap();
        stager.stage("blog/page/2/index.html", b"one", src()).unwrap();
        stager.commit().unwrap();
        // The record says the folder holds the output, so staging does not make it first.
        fs::remove_dir_all(out.join("blog")).unwrap();
        for bytes in [&b"one"[..], b"two"] {
            let stager = Stager::open(&state, &out).unwrap();
            stager.stage("blog/page/2/index.html", bytes, src()).unwrap();
            assert_eq!(stager.commit().unwrap().written, ["blog/page/2/index.html"]);
            assert_eq!(fs::read(out.join("blog/page/2/index.html")).unwrap(), bytes);
            fs::remove_dir_all(out.join("blog")).unwrap();
        }
    }

    #[test]
    fn a_commit_that_changes_no_record_entry_adds_no_journal_line() {
        let dir = tempfile::tempdir().unwrap();
        let (state, out) = (dir.path().join(".kiln"), dir.path().join("public"));
        let stager = Stager::open(&state, &out).unwrap();
        stager.stage("a.html", b"a", src()).unwrap();
        stager.stage("b.html", b"b", src()).unwrap();
        let (_, known) = stager.commit_known(Keep::Nothing).unwrap();
        // The same bytes: both outputs are staged again but nothing in the record changes.
        let stager = Stager::open_known(&state, &out, Some(known)).unwrap();
        stager.stage("a.html", b"a", src()).unwrap();
        stager.stage("b.html", b"b", src()).unwrap();
        let (report, known) = stager.commit_known(Keep::Nothing).unwrap();
        assert_eq!((report.written.len(), report.unchanged), (0, 2));
        assert_eq!(known.journal_len, 0);
        // One changed output is one line, and the record read back holds it.
        let stager = Stager::open_known(&state, &out, Some(known)).unwrap();
        stager.stage("a.html", b"a2", src()).unwrap();
        stager.stage("b.html", b"b", src()).unwrap();
        let (report, known) = stager.commit_known(Keep::Nothing).unwrap();
        assert_eq!(report.written, ["a.html"]);
        assert_eq!(known.journal_len, 1);
        let reread = Stager::open(&state, &out).unwrap();
        assert_eq!(reread.previous().files, known.record.files);
        assert_eq!(reread.previous().files["a.html"].hash, content_hash(b"a2"));
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
