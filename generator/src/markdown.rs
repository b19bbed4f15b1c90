//! placeholder until the real module lands
use crate::highlight::Highlighter;
use crate::slug::SlugStrategy;
pub struct MarkdownOptions { pub smart_punctuation: bool, pub highlight_code: bool, pub footnotes_at_bottom: bool, pub external_links_new_tab: bool, pub slug_strategy: SlugStrategy, pub insert_anchor_links: bool }
#[derive(Clone, Debug, serde::Serialize)]
pub struct Heading { pub level: u8, pub id: String, pub title: String, pub children: Vec<Heading> }
#[derive(Clone, Copy, Debug)]
pub enum Severity { Error, Warning }
#[derive(Debug)]
pub struct Issue { pub severity: Severity, pub line: usize, pub message: String }
pub enum TargetStatus { Published, Draft, Future }
pub struct LinkTarget { pub url: String, pub status: TargetStatus }
pub trait LinkResolver: Sync { fn resolve(&self, content_path: &str) -> Option<LinkTarget>; }
#[derive(Debug)]
pub struct AnchorRef { pub content_path: Option<String>, pub anchor: String, pub line: usize }
#[derive(Debug)]
pub struct Rendered { pub html: String, pub summary: Option<String>, pub toc: Vec<Heading>, pub heading_ids: Vec<String>, pub word_count: usize, pub reading_time: usize, pub anchor_refs: Vec<AnchorRef>, pub external_links: Vec<String>, pub issues: Vec<Issue> }
pub fn render(body: &str, _o: &MarkdownOptions, _h: Option<&Highlighter>, _l: &dyn LinkResolver) -> Rendered { Rendered { html: body.to_string(), summary: None, toc: vec![], heading_ids: vec![], word_count: 0, reading_time: 1, anchor_refs: vec![], external_links: vec![], issues: vec![] } }
