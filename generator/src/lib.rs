//! Kiln's static-site generator.
//!
//! [`pipeline::build`] turns a site root (a `kiln.toml`, `content/`, optional `templates/`,
//! `static/` and `themes/`) into a folder of static files. The stages of the data's path each
//! have a module: [`content`] finds files, [`frontmatter`] and [`date`] read their headers,
//! [`site`] assembles the model, [`markdown`] renders bodies, [`values`] and [`templates`]
//! prepare rendering, [`render`] and [`feed`] produce outputs, and [`output`] writes them
//! safely.
//!
//! [`watch`] turns file system events into [`Change`]s for an [`Engine`], and [`serve`] is the
//! local preview server with live reload behind `kiln serve`.

pub mod config;
pub mod content;
pub mod date;
pub mod diagnostic;
pub mod digest;
pub mod engine;
pub mod feed;
pub mod fragments;
pub mod frontmatter;
pub mod highlight;
pub mod markdown;
pub mod output;
pub mod pipeline;
pub mod render;
pub mod serve;
pub mod site;
pub mod slug;
pub mod snapshot;
pub mod templates;
pub mod url;
pub mod values;
pub mod watch;

pub use diagnostic::{BuildFailed, Diagnostic, Severity, Source};
pub use engine::{ApplyReport, Change, Engine};
pub use pipeline::{BuildReport, BuildRequest, build};
