//! Errors and warnings of a build, each tied to the source it came from.
//!
//! A build collects every problem it meets instead of stopping at the first one, so that an
//! author fixes them all in one pass. Each diagnostic names its source (a content file, a
//! template, the config, later a database row) and, where known, the line.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a piece of content, a template or an output came from.
///
/// Files are named by their path relative to the site root, with forward slashes, so that
/// messages and build records read the same on every platform.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Source {
    /// A file under the site root, e.g. `content/blog/a.md`.
    File(std::sync::Arc<str>),
    /// A database row, e.g. table `posts`, id `42`.
    Row {
        /// The table the row lives in.
        table: String,
        /// The row's primary key, as text.
        id: String,
    },
    /// A template of the embedded default theme.
    Embedded(String),
    /// Something the build derives from the whole site (feeds, sitemap, robots.txt).
    Site,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => f.write_str(path),
            Source::Row { table, id } => write!(f, "row {table}#{id}"),
            Source::Embedded(name) => write!(f, "(default theme) {name}"),
            Source::Site => f.write_str("(site)"),
        }
    }
}

/// How serious a diagnostic is: errors fail the build, warnings are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// The build cannot produce a correct site.
    Error,
    /// Something the author should look at; the build goes on.
    Warning,
}

/// One problem found during a build.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The source the problem is in, if it is in one.
    pub source: Option<Source>,
    /// The 1-based line within the source, if known.
    pub line: Option<usize>,
    /// What is wrong, as one lowercase sentence with a hint where one helps.
    pub message: String,
}

impl Diagnostic {
    /// An error in `source`, optionally at `line`.
    pub fn error(
        source: impl Into<Option<Source>>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self { severity: Severity::Error, source: source.into(), line, message: message.into() }
    }

    /// A warning in `source`, optionally at `line`.
    pub fn warning(
        source: impl Into<Option<Source>>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Self { severity: Severity::Warning, source: source.into(), line, message: message.into() }
    }

    /// Whether this diagnostic fails the build.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match (&self.source, self.line) {
            (Some(source), Some(line)) => write!(f, "{level}: {source}:{line}: {}", self.message),
            (Some(source), None) => write!(f, "{level}: {source}: {}", self.message),
            (None, _) => write!(f, "{level}: {}", self.message),
        }
    }
}

/// A build that found errors. It carries every diagnostic of the build, warnings included,
/// sorted by source and line so that the report does not depend on thread order.
#[derive(Debug)]
pub struct BuildFailed {
    /// All diagnostics of the failed build.
    pub diagnostics: Vec<Diagnostic>,
}

impl BuildFailed {
    /// The errors only, in report order.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

impl fmt::Display for BuildFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors().count();
        for error in self.errors() {
            writeln!(f, "{error}")?;
        }
        write!(f, "build failed with {count} error{}", if count == 1 { "" } else { "s" })
    }
}

impl std::error::Error for BuildFailed {}

/// Sorts diagnostics into report order: by source, then line, then message.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.source, a.line, a.severity, &a.message)
            .cmp(&(&b.source, b.line, b.severity, &b.message))
    });
}
