//! placeholder until the real module lands
use std::collections::BTreeMap;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
pub enum Format { Toml, Yaml, None }
pub struct Split<'a> { pub format: Format, pub front: &'a str, pub body: &'a str, pub front_line: usize, pub body_line: usize }
#[derive(Debug)]
pub struct FrontError { pub line: Option<usize>, pub message: String }
impl From<FrontError> for Problem { fn from(e: FrontError) -> Problem { Problem { line: e.line, key: None, message: e.message, is_warning: false } } }
pub fn decode(bytes: &[u8]) -> Result<&str, FrontError> { std::str::from_utf8(bytes).map_err(|e| FrontError{line:None, message: e.to_string()}) }
pub fn split(text: &str) -> Result<Split<'_>, FrontError> { Ok(Split{format: Format::None, front: "", body: text, front_line: 1, body_line: 1}) }
#[derive(Clone, Debug, Default)]
pub struct PageFront { pub title: Option<String>, pub description: Option<String>, pub date: Option<DateTime<Utc>>, pub updated: Option<DateTime<Utc>>, pub draft: bool, pub slug: Option<String>, pub path: Option<String>, pub aliases: Vec<String>, pub template: Option<String>, pub weight: Option<i64>, pub authors: Vec<String>, pub taxonomies: BTreeMap<String, Vec<String>>, pub extra: serde_json::Map<String, serde_json::Value>, pub in_search_index: bool, pub render: bool }
#[derive(Clone, Debug, Default)]
pub struct SectionFront { pub title: Option<String>, pub description: Option<String>, pub sort_by: SortBy, pub paginate_by: Option<usize>, pub paginate_path: String, pub template: Option<String>, pub page_template: Option<String>, pub transparent: bool, pub generate_feeds: bool, pub weight: Option<i64>, pub draft: bool, pub render: bool, pub redirect_to: Option<String>, pub aliases: Vec<String>, pub insert_anchor_links: Option<bool>, pub in_search_index: bool, pub extra: serde_json::Map<String, serde_json::Value> }
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortBy { #[default] Date, UpdateDate, Title, TitleBytes, Weight, Slug, None }
pub struct Problem { pub line: Option<usize>, pub key: Option<String>, pub message: String, pub is_warning: bool }
pub fn parse_page(_s: &Split, _tz: Tz) -> Result<(PageFront, Vec<Problem>), Vec<Problem>> { Ok((PageFront::default(), vec![])) }
pub fn parse_section(_s: &Split, _tz: Tz) -> Result<(SectionFront, Vec<Problem>), Vec<Problem>> { Ok((SectionFront::default(), vec![])) }
