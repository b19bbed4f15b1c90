//! Watching a site's sources and turning what editors do into [`Change`]s: the loop behind
//! `kiln watch` and `kiln serve`.
//!
//! The watcher looks at `content/`, `templates/`, `themes/` and `static/` (recursively, through
//! symlinked folders as the build's walk does) and at `kiln.toml` and `config.toml`. Raw file
//! system events go through notify's full debouncer, which pairs the two halves of a rename,
//! and then through a settling step of our own: a burst is over only when nothing has
//! happened for one debounce period, so an editor's save (swap file, write probe, backup
//! rename, temporary file renamed over the original) gives one set of changes, not several.
//!
//! Editor artifacts (see [`crate::content::is_editor_artifact`]) never count as changes on
//! their own; a rename from one onto a real file counts as that file appearing, a rename of a
//! real file to one as that file going away. The watcher reads nothing but file names and
//! never writes.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use notify_debouncer_full::notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
use notify_debouncer_full::notify::event::{EventKind, RenameMode};
use notify_debouncer_full::notify::{self, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache};

use crate::content::is_editor_artifact;
use crate::diagnostic::BuildFailed;
use crate::engine::{ApplyReport, Change, Engine};

/// The folders under the site root whose files are sources of the build.
pub const SOURCE_DIRS: [&str; 4] = ["content", "templates", "themes", "static"];

/// The configuration files at the site root (`config.toml` is read when a Zola site has no
/// `kiln.toml`).
pub const CONFIG_FILES: [&str; 2] = ["kiln.toml", "config.toml"];

/// How long the file system must stay quiet before a burst of events becomes a rebuild,
/// unless told otherwise.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(150);

/// Why watching failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The operating system refused to watch a path.
    #[error("cannot watch `{}`: {source}", path.display())]
    Watch {
        /// The path that could not be watched.
        path: PathBuf,
        /// What the watcher said.
        #[source]
        source: notify::Error,
    },
    /// The site root could not be made absolute.
    #[error("cannot find the site root `{}`: {source}", path.display())]
    Root {
        /// The root as given.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The watcher's background thread is gone; nothing more will be reported.
    #[error("the file watcher stopped")]
    Stopped,
}

/// Watches the sources of one site and reports settled bursts of changes.
pub struct SiteWatcher {
    root: PathBuf,
    output: PathBuf,
    debounce: Duration,
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    events: Receiver<DebounceEventResult>,
    /// The source folders that are watched now (they may come and go).
    watched_dirs: BTreeSet<&'static str>,
    /// Symlinked folders that appeared after their parent was watched, watched on their own.
    links: BTreeSet<PathBuf>,
    /// Symlinked files (and a symlinked config): each target, canonical, with the links to it
    /// relative to the root. An edit of a target is reported as an edit of its links.
    file_links: HashMap<PathBuf, Vec<PathBuf>>,
    /// Folders outside the watched sources that hold link targets, watched on their own
    /// (the folder rather than the file, so that a save by rename is seen too).
    target_dirs: BTreeSet<PathBuf>,
}

impl SiteWatcher {
    /// Starts watching the site at `root`. Events under `output` (should it lie inside a source
    /// folder) are ignored. Folders that do not exist yet are watched once they appear.
    pub fn new(root: &Path, output: &Path, debounce: Duration) -> Result<Self, WatchError> {
        let root = std::path::absolute(root)
            .map_err(|source| WatchError::Root { path: root.to_path_buf(), source })?;
        let output = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
        let (sender, events) = mpsc::channel();
        let debouncer = notify_debouncer_full::new_debouncer(debounce, None, sender)
            .map_err(|source| WatchError::Watch { path: root.clone(), source })?;
        let mut watcher = SiteWatcher {
            root,
            output,
            debounce,
            debouncer,
            events,
            watched_dirs: BTreeSet::new(),
            links: BTreeSet::new(),
            file_links: HashMap::new(),
            target_dirs: BTreeSet::new(),
        };

        // The root itself, not recursively: that sees the config files and the source folders
        // being created, removed or renamed, but not the output folder's churn.
        let root = watcher.root.clone();
        watcher
            .debouncer
            .watch(&root, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError::Watch { path: root.clone(), source })?;
        for dir in SOURCE_DIRS {
            watcher.watch_dir(dir, false)?;
        }
        watcher.follow_file_links();
        Ok(watcher)
    }

    /// Finds every symlinked file among the sources (the build reads through them) and
    /// watches the folders of their targets.
    fn follow_file_links(&mut self) {
        let mut links: HashMap<PathBuf, Vec<PathBuf>> = HashMap::new();
        let mut add = |link: &Path| {
            if let Ok(target) = link.canonicalize()
                && let Ok(rel) = link.strip_prefix(&self.root)
            {
                links.entry(target).or_default().push(rel.to_path_buf());
            }
        };
        for name in CONFIG_FILES {
            let path = self.root.join(name);
            if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                add(&path);
            }
        }
        for dir in SOURCE_DIRS {
            let walker = walkdir::WalkDir::new(self.root.join(dir)).follow_links(true);
            for entry in walker.into_iter().filter_map(Result::ok) {
                if entry.path_is_symlink() && entry.file_type().is_file() {
                    add(entry.path());
                }
            }
        }
        let sources: Vec<PathBuf> = SOURCE_DIRS
            .iter()
            .filter_map(|dir| self.root.join(dir).canonicalize().ok())
            .chain(std::iter::once(self.root.clone()))
            .collect();
        let wanted: BTreeSet<PathBuf> = links
            .keys()
            .filter_map(|target| target.parent())
            .filter(|dir| !sources.iter().any(|s| dir.starts_with(s) && s != &self.root))
            .filter(|dir| *dir != self.root)
            .map(Path::to_path_buf)
            .collect();
        for dir in self.target_dirs.difference(&wanted) {
            let _ = self.debouncer.unwatch(dir);
        }
        for dir in wanted.difference(&self.target_dirs) {
            if let Err(err) = self.debouncer.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!("cannot watch `{}`: {err}", dir.display());
            }
        }
        self.target_dirs = wanted;
        self.file_links = links;
    }

    /// The links whose targets the events touched, as modifications of the links.
    fn linked_changes(&self, events: &[DebouncedEvent]) -> Vec<Change> {
        let mut out = Vec::new();
        for path in events.iter().flat_map(|e| e.paths.iter()) {
            let target = path.canonicalize().unwrap_or_else(|_| path.clone());
            if let Some(links) = self.file_links.get(&target).or_else(|| self.file_links.get(path))
            {
                out.extend(links.iter().map(|link| Change::Modified(link.clone())));
            }
        }
        out
    }

    /// The absolute site root the watcher reports paths against.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The source folders that exist and are watched now, relative to the root.
    pub fn watched_dirs(&self) -> impl Iterator<Item = &str> {
        self.watched_dirs.iter().copied()
    }

    /// Blocks until a burst of events has settled and holds at least one change to a source,
    /// and returns those changes with paths relative to the site root. Bursts of editor
    /// artifacts only are swallowed.
    pub fn next_changes(&mut self) -> Result<Vec<Change>, WatchError> {
        loop {
            let mut events = Vec::new();
            let first = self.events.recv().map_err(|_| WatchError::Stopped)?;
            collect(first, &mut events);
            loop {
                match self.events.recv_timeout(self.debounce) {
                    Ok(more) => collect(more, &mut events),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return Err(WatchError::Stopped),
                }
            }

            let mut changes = self.follow_structure(&events);
            changes.extend(changes_from_events(&self.root, &self.output, &events));
            changes.extend(self.linked_changes(&events));
            let changes = settle(&self.root, changes);
            if !changes.is_empty() {
                return Ok(changes);
            }
        }
    }

    /// Keeps the watches in step with folders that appeared, vanished or were replaced, and
    /// returns the changes that the watches could not have reported themselves.
    fn follow_structure(&mut self, events: &[DebouncedEvent]) -> Vec<Change> {
        let mut changes = Vec::new();
        if events.iter().any(|e| e.need_rescan()) {
            // The kernel dropped events: rebuild everything that exists and watch it all anew.
            tracing::warn!("the file watcher lost events; rebuilding everything");
            for dir in SOURCE_DIRS {
                self.rewatch_dir(dir);
            }
            changes.extend(
                SOURCE_DIRS
                    .iter()
                    .chain(CONFIG_FILES.iter())
                    .filter(|name| self.root.join(name).exists())
                    .map(|name| Change::Modified(PathBuf::from(name))),
            );
            return changes;
        }

        // Paths that appeared, vanished or moved; reads and writes change no watch.
        let touched: BTreeSet<&Path> = events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::Create(_)
                        | EventKind::Remove(_)
                        | EventKind::Modify(ModifyKind::Name(_))
                        | EventKind::Any
                        | EventKind::Other
                )
            })
            .flat_map(|e| e.paths.iter().map(PathBuf::as_path))
            .collect();
        for dir in SOURCE_DIRS {
            let path = self.root.join(dir);
            let exists = path.is_dir();
            let was_watched = self.watched_dirs.contains(dir);
            // A folder removed and made again within one burst exists now, but its old watch
            // died with it: any event on the folder itself means "watch it anew".
            if touched.contains(path.as_path()) || exists != was_watched {
                self.rewatch_dir(dir);
                if exists {
                    // Files written into it before the new watch was in place were not seen.
                    changes.push(Change::Created(PathBuf::from(dir)));
                }
            }
        }

        let relinked = touched.iter().any(|path| {
            path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink() || m.is_dir())
                || self.file_links.values().flatten().any(|link| self.root.join(link) == *path)
        });
        for path in touched {
            let is_link = path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink());
            if is_link && path.is_dir() && !self.links.contains(path) {
                // A new symlink to a folder: the recursive watch above it does not follow it.
                match self.debouncer.watch(path, RecursiveMode::Recursive) {
                    Ok(()) => {
                        self.links.insert(path.to_path_buf());
                    }
                    Err(err) => tracing::warn!("cannot watch `{}`: {err}", path.display()),
                }
            } else if !path.exists() && self.links.remove(path) {
                let _ = self.debouncer.unwatch(path);
            }
        }
        if relinked {
            self.follow_file_links();
        }
        changes
    }

    fn rewatch_dir(&mut self, dir: &'static str) {
        if self.watched_dirs.remove(dir) {
            let _ = self.debouncer.unwatch(self.root.join(dir));
        }
        if let Err(err) = self.watch_dir(dir, true) {
            tracing::warn!("{err}");
        }
    }

    fn watch_dir(&mut self, dir: &'static str, again: bool) -> Result<(), WatchError> {
        let path = self.root.join(dir);
        if !path.is_dir() {
            return Ok(());
        }
        self.debouncer
            .watch(&path, RecursiveMode::Recursive)
            .map_err(|source| WatchError::Watch { path: path.clone(), source })?;
        if again {
            tracing::debug!("watching {dir}/ again");
        }
        self.watched_dirs.insert(dir);
        Ok(())
    }
}

fn collect(result: DebounceEventResult, events: &mut Vec<DebouncedEvent>) {
    match result {
        Ok(batch) => events.extend(batch),
        Err(errors) => {
            for err in errors {
                tracing::warn!("file watcher: {err}");
            }
        }
    }
}

/// Turns debounced events into changes of sources, paths relative to `root`, in event order.
/// Events on editor artifacts, on files outside the sources and under `output` are dropped;
/// reads are not changes.
pub fn changes_from_events(root: &Path, output: &Path, events: &[DebouncedEvent]) -> Vec<Change> {
    let source = |path: &Path| -> Option<PathBuf> {
        if path.starts_with(output) {
            return None;
        }
        let rel = path.strip_prefix(root).ok()?;
        is_source(rel).then(|| rel.to_path_buf())
    };
    let mut changes = Vec::new();
    for event in events {
        let paths = &event.paths;
        match event.kind {
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if paths.len() == 2 => {
                match (source(&paths[0]), source(&paths[1])) {
                    (Some(from), Some(to)) => changes.push(Change::Renamed { from, to }),
                    (Some(from), None) => changes.push(Change::Removed(from)),
                    (None, Some(to)) => changes.push(Change::Created(to)),
                    (None, None) => {}
                }
            }
            _ => {
                let Some(change) = change_kind(&event.kind) else { continue };
                // A folder's metadata changes when entries come and go inside it; those
                // entries have events of their own.
                let metadata = matches!(event.kind, EventKind::Modify(ModifyKind::Metadata(_)));
                let paths = paths.iter().filter(|p| !(metadata && p.is_dir()));
                for path in paths.filter_map(|p| source(p)) {
                    changes.push(match change {
                        Kind::Created => Change::Created(path),
                        Kind::Modified => Change::Modified(path),
                        Kind::Removed => Change::Removed(path),
                        Kind::Unknown if root.join(&path).exists() => Change::Modified(path),
                        Kind::Unknown => Change::Removed(path),
                    });
                }
            }
        }
    }
    changes
}

#[derive(Clone, Copy)]
enum Kind {
    Created,
    Modified,
    Removed,
    /// Look at the file system to decide.
    Unknown,
}

fn change_kind(kind: &EventKind) -> Option<Kind> {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(Kind::Modified),
        EventKind::Access(_) => None,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => None,
        EventKind::Create(_) => Some(Kind::Created),
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => Some(Kind::Removed),
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => Some(Kind::Created),
        EventKind::Modify(ModifyKind::Name(_)) => Some(Kind::Unknown),
        EventKind::Modify(_) => Some(Kind::Modified),
        EventKind::Remove(_) => Some(Kind::Removed),
        EventKind::Any | EventKind::Other => Some(Kind::Unknown),
    }
}

/// Whether `rel` (relative to the site root) is something the build reads: a config file, a
/// source folder, or a file under one that no part of the path marks as an editor artifact
/// (the build skips hidden folders and their files too).
pub fn is_source(rel: &Path) -> bool {
    let mut components = rel.components();
    let Some(Component::Normal(first)) = components.next() else { return false };
    let Some(first) = first.to_str() else { return false };
    let rest: Vec<Component> = components.collect();
    if rest.is_empty() {
        return SOURCE_DIRS.contains(&first) || CONFIG_FILES.contains(&first);
    }
    SOURCE_DIRS.contains(&first)
        && rest.iter().all(|c| match c {
            Component::Normal(name) => !is_editor_artifact(&name.to_string_lossy()),
            _ => false,
        })
}

/// Reduces a burst's changes to one per path, as the file system stands now: a file removed
/// and made again is modified, one made and removed again is removed, a rename whose ends
/// were touched otherwise becomes a removal and a creation. Paths are relative to `root`.
pub fn settle(root: &Path, changes: Vec<Change>) -> Vec<Change> {
    let mut order: Vec<PathBuf> = Vec::new();
    let mut state: HashMap<PathBuf, Change> = HashMap::new();
    let mut record = |path: PathBuf, change: Change| {
        let merged = match (state.remove(&path), change) {
            (None, change) => change,
            (Some(Change::Removed(_)), Change::Created(p)) => Change::Modified(p),
            (Some(Change::Created(_)), Change::Modified(p)) => Change::Created(p),
            (Some(_), change) => change,
        };
        if !order.contains(&path) {
            order.push(path.clone());
        }
        state.insert(path, merged);
    };

    let touched_twice = |from: &Path, to: &Path, all: &[Change]| {
        all.iter().filter(|c| change_paths(c).any(|p| p == from || p == to)).count() > 1
    };
    for change in &changes {
        match change {
            Change::Renamed { from, to } if !touched_twice(from, to, &changes) => {
                record(to.clone(), change.clone());
            }
            Change::Renamed { from, to } => {
                record(from.clone(), Change::Removed(from.clone()));
                record(to.clone(), Change::Created(to.clone()));
            }
            other => {
                let path = change_paths(other).next().map(Path::to_path_buf).unwrap_or_default();
                record(path, other.clone());
            }
        }
    }

    // Whatever the events said, the file system has the last word.
    order
        .into_iter()
        .filter_map(|path| state.remove(&path))
        .flat_map(|change| {
            let exists = |p: &Path| root.join(p).symlink_metadata().is_ok();
            match change {
                Change::Created(p) | Change::Modified(p) if !exists(&p) => {
                    vec![Change::Removed(p)]
                }
                Change::Removed(p) if exists(&p) => vec![Change::Modified(p)],
                Change::Renamed { from, to } if exists(&from) || !exists(&to) => {
                    let first =
                        if exists(&from) { Change::Modified(from) } else { Change::Removed(from) };
                    let second =
                        if exists(&to) { Change::Created(to) } else { Change::Removed(to) };
                    vec![first, second]
                }
                change => vec![change],
            }
        })
        .collect()
}

/// The paths a change names, the source first.
pub fn change_paths(change: &Change) -> impl Iterator<Item = &Path> {
    let (a, b) = match change {
        Change::Created(p) | Change::Modified(p) | Change::Removed(p) => (p.as_path(), None),
        Change::Renamed { from, to } => (from.as_path(), Some(to.as_path())),
    };
    std::iter::once(a).chain(b)
}

/// A short list of the paths of `changes` for a log line: up to four, then how many more.
pub fn describe(changes: &[Change]) -> String {
    let mut paths: Vec<String> = Vec::new();
    for change in changes {
        let text = match change {
            Change::Renamed { from, to } => format!("{} -> {}", from.display(), to.display()),
            Change::Removed(p) => format!("{} (removed)", p.display()),
            Change::Created(p) | Change::Modified(p) => p.display().to_string(),
        };
        if !paths.contains(&text) {
            paths.push(text);
        }
    }
    const SHOWN: usize = 4;
    if paths.len() > SHOWN {
        let more = paths.len() - SHOWN;
        paths.truncate(SHOWN);
        format!("{} and {more} more", paths.join(", "))
    } else {
        paths.join(", ")
    }
}

/// Applies every settled burst of `watcher` to `engine`, handing each result to `on_apply`,
/// until the watcher stops. A failed apply leaves the last good output; the next burst tries
/// again.
pub fn run(
    engine: &mut Engine,
    watcher: &mut SiteWatcher,
    mut on_apply: impl FnMut(&[Change], &Result<ApplyReport, BuildFailed>),
) -> Result<(), WatchError> {
    loop {
        let changes = watcher.next_changes()?;
        tracing::debug!("changes: {changes:?}");
        let result = engine.apply(&changes);
        on_apply(&changes, &result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, RemoveKind};
    use std::time::Instant;

    fn event(kind: EventKind, paths: &[&str]) -> DebouncedEvent {
        let mut event = notify::Event::new(kind);
        for p in paths {
            event = event.add_path(PathBuf::from("/site").join(p));
        }
        DebouncedEvent::new(event, Instant::now())
    }

    fn changes(events: &[DebouncedEvent]) -> Vec<Change> {
        changes_from_events(Path::new("/site"), Path::new("/site/public"), events)
    }

    #[test]
    fn editor_artifacts_and_outside_files_are_not_sources() {
        for path in [
            "content/.post.md.swp",
            "content/4913",
            "content/post.md~",
            "content/.git/HEAD",
            "content/#post.md#",
            "public/index.html",
            ".kiln/lock",
            "kiln.toml~",
            "README.md",
        ] {
            assert!(!is_source(Path::new(path)), "{path}");
        }
        for path in ["content/post.md", "content", "kiln.toml", "config.toml", "static/a.css"] {
            assert!(is_source(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn vim_save_events_become_a_removal_and_a_creation_of_the_post() {
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        let events = [
            event(EventKind::Create(CreateKind::File), &["content/.post.md.swp"]),
            event(EventKind::Create(CreateKind::File), &["content/4913"]),
            event(EventKind::Remove(RemoveKind::File), &["content/4913"]),
            event(rename, &["content/post.md", "content/post.md~"]),
            event(rename, &["content/post.md.tmp", "content/post.md"]),
            event(EventKind::Remove(RemoveKind::File), &["content/post.md~"]),
        ];
        assert_eq!(
            changes(&events),
            vec![
                Change::Removed("content/post.md".into()),
                Change::Created("content/post.md".into())
            ]
        );
    }

    #[test]
    fn reads_and_output_files_are_not_changes() {
        let events = [
            event(EventKind::Access(AccessKind::Open(AccessMode::Read)), &["content/a.md"]),
            event(EventKind::Modify(ModifyKind::Data(DataChange::Any)), &["public/a.html"]),
        ];
        assert!(changes(&events).is_empty());
    }

    #[test]
    fn settle_merges_a_removal_and_creation_into_a_modification() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("content")).unwrap();
        std::fs::write(dir.path().join("content/post.md"), "x").unwrap();
        let settled = settle(
            dir.path(),
            vec![
                Change::Removed("content/post.md".into()),
                Change::Created("content/post.md".into()),
                Change::Created("content/gone.md".into()),
            ],
        );
        assert_eq!(
            settled,
            vec![
                Change::Modified("content/post.md".into()),
                Change::Removed("content/gone.md".into())
            ]
        );
    }

    #[test]
    fn settle_keeps_a_clean_rename() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("content")).unwrap();
        std::fs::write(dir.path().join("content/b.md"), "x").unwrap();
        let rename = Change::Renamed { from: "content/a.md".into(), to: "content/b.md".into() };
        assert_eq!(settle(dir.path(), vec![rename.clone()]), vec![rename]);
    }

    #[test]
    fn describe_lists_a_few_paths_then_counts() {
        let many: Vec<Change> =
            (0..6).map(|i| Change::Modified(format!("content/{i}.md").into())).collect();
        assert_eq!(
            describe(&many),
            "content/0.md, content/1.md, content/2.md, content/3.md and 2 more"
        );
    }
}
