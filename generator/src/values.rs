//! The values templates are given: one prebuilt value per page and section.
//!
//! Values are built once per build, in parallel, and then shared. Tera's values hold their
//! strings, lists and maps behind reference counts, so a listing of ten thousand pages costs
//! ten thousand pointer copies, not ten thousand copies of the text.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use rayon::prelude::*;
use serde::Serialize;
use tera::Value;

use crate::digest::{Digest, Digester};
use crate::site::{Page, Section, Site};
use crate::url;

/// A link to a taxonomy term, as a page lists it.
#[derive(Clone, Debug, Serialize)]
pub struct TermLink {
    /// The term's display name.
    pub name: String,
    /// Its slug.
    pub slug: String,
    /// Its absolute URL.
    pub permalink: String,
}

/// Every prebuilt value of a build.
pub struct Values {
    /// The digest of each value, in the same places.
    pub digests: ValueDigests,
    /// `config`, shared by every template.
    pub config: Value,
    /// Each page as lists show it: everything but its content.
    pub summaries: Vec<Value>,
    /// Each page as its own template and `get_page` see it, but for its `toc`, which
    /// [`with_toc`] adds.
    pub pages: Vec<Value>,
    /// Each section with its full page list.
    pub sections: Vec<Value>,
    /// Each section as a paginated list of it sees it: an empty page list.
    pub section_briefs: Vec<Value>,
    /// Each section as its pages see it: no page list and no page count.
    pub section_heads: Vec<Value>,
}

/// RFC 3339 in UTC, the one form dates take in templates.
pub fn date_text(date: &DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Serialize)]
struct ConfigValue<'a> {
    title: &'a str,
    description: &'a str,
    base_url: &'a str,
    language: &'a str,
    timezone: String,
    author: Option<&'a str>,
    extra: &'a serde_json::Map<String, serde_json::Value>,
    taxonomies: Vec<TaxonomyRef<'a>>,
    feeds: FeedsValue,
    menu: serde_json::Value,
}

#[derive(Serialize)]
struct TaxonomyRef<'a> {
    name: &'a str,
    slug: &'a str,
    permalink: &'a str,
    feed: bool,
}

#[derive(Serialize)]
struct FeedsValue {
    atom: bool,
    rss: bool,
    atom_url: String,
    rss_url: String,
}

#[derive(Serialize)]
struct Summary<'a> {
    title: Option<&'a str>,
    description: Option<&'a str>,
    date: Option<String>,
    updated: Option<String>,
    path: String,
    permalink: &'a str,
    slug: &'a str,
    content_path: &'a str,
    summary: Option<&'a str>,
    reading_time: usize,
    taxonomies: BTreeMap<&'a str, Vec<Value>>,
    authors: &'a [String],
    extra: &'a serde_json::Map<String, serde_json::Value>,
    draft: bool,
    weight: Option<i64>,
}

#[derive(Serialize)]
struct FullPage<'a> {
    content: Value,
    word_count: usize,
    lower: Option<Value>,
    higher: Option<Value>,
    assets: Vec<String>,
    aliases: &'a [String],
    section_path: &'a str,
    json_ld: String,
}

#[derive(Serialize)]
struct SectionValue<'a> {
    title: Option<&'a str>,
    description: Option<&'a str>,
    path: String,
    permalink: &'a str,
    content_path: &'a str,
    content: &'a str,
    extra: &'a serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<Vec<Value>>,
    subsections: Vec<SubsectionRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_count: Option<usize>,
}

/// How much of a section a value shows.
#[derive(Clone, Copy)]
enum SectionView<'a> {
    /// Everything, with the summaries of its pages.
    Full(&'a [Value], &'a [Digest]),
    /// An empty page list and the page count: a paginated list's `section`.
    Paged,
    /// Neither page list nor count: a page's `section`, which then does not change whenever
    /// a page is added to the section or removed from it.
    Head,
}

#[derive(Serialize)]
struct SubsectionRef<'a> {
    title: Option<&'a str>,
    path: String,
    permalink: &'a str,
}

/// The digests of [`Values`]: equal digests mean equal values.
#[derive(Default)]
pub struct ValueDigests {
    /// Of `config`.
    pub config: Digest,
    /// Of each summary.
    pub summaries: Vec<Digest>,
    /// Of each full page.
    pub pages: Vec<Digest>,
    /// Of each section with its page list.
    pub sections: Vec<Digest>,
    /// Of each section with an empty page list.
    pub section_briefs: Vec<Digest>,
    /// Of each section without page list or count.
    pub section_heads: Vec<Digest>,
}

/// Page values kept between builds of one engine, by content path.
#[derive(Default)]
pub struct ValueCache {
    pages: HashMap<String, CachedPage>,
}

struct CachedPage {
    summary_key: Digest,
    summary: Value,
    page_key: Digest,
    page: Value,
}

impl Values {
    /// Builds every value of `site` (`assets` gives each bundle page's asset URLs), taking from `cache` each page value whose inputs are the
    /// same as when it was built, and keeping the new ones there. `site_digest` stands for
    /// everything site-wide that a page value can read: the config and the build options.
    pub fn build_cached(
        site: &Site,
        assets: &HashMap<String, Vec<String>>,
        cache: &mut ValueCache,
        site_digest: &Digest,
    ) -> Values {
        let summary_keys: Vec<Digest> =
            site.pages.par_iter().map(|page| summary_key(site, page, site_digest)).collect();
        let links = term_links(site);
        let no_assets = Vec::new();
        let page_keys: Vec<Digest> = site
            .pages
            .par_iter()
            .enumerate()
            .map(|(i, page)| {
                let own = assets.get(&page.content_path).unwrap_or(&no_assets);
                page_key(site, page, &summary_keys, i, own)
            })
            .collect();
        let summaries: Vec<Value> = site
            .pages
            .par_iter()
            .zip(&summary_keys)
            .map(|(page, key)| match cache.pages.get(&page.content_path) {
                Some(cached) if cached.summary_key == *key => cached.summary.clone(),
                _ => summary(site, page, &links),
            })
            .collect();
        let pages: Vec<Value> = site
            .pages
            .par_iter()
            .enumerate()
            .map(|(i, page)| match cache.pages.get(&page.content_path) {
                Some(cached) if cached.page_key == page_keys[i] => cached.page.clone(),
                _ => full_page(site, page, &summaries, i, assets),
            })
            .collect();
        cache.pages = site
            .pages
            .iter()
            .enumerate()
            .map(|(i, page)| {
                let cached = CachedPage {
                    summary_key: summary_keys[i],
                    summary: summaries[i].clone(),
                    page_key: page_keys[i],
                    page: pages[i].clone(),
                };
                (page.content_path.clone(), cached)
            })
            .collect();
        let (sections, section_digests): (Vec<Value>, Vec<Digest>) = site
            .sections
            .iter()
            .map(|s| section(site, s, SectionView::Full(&summaries, &summary_keys)))
            .unzip();
        let (section_briefs, brief_digests): (Vec<Value>, Vec<Digest>) =
            site.sections.iter().map(|s| section(site, s, SectionView::Paged)).unzip();
        let (section_heads, head_digests): (Vec<Value>, Vec<Digest>) =
            site.sections.iter().map(|s| section(site, s, SectionView::Head)).unzip();
        let (config, config_digest) = config_value(site, site_digest);
        Values {
            config,
            summaries,
            pages,
            sections,
            section_briefs,
            section_heads,
            digests: ValueDigests {
                config: config_digest,
                summaries: summary_keys,
                pages: page_keys,
                sections: section_digests,
                section_briefs: brief_digests,
                section_heads: head_digests,
            },
        }
    }
}

impl Values {
    /// Brings the values up to date after the pages `changed` were edited in ways that leave
    /// the site's structure as it was: the same pages, URLs, order and terms. Rebuilds their
    /// summaries, the full values of them and their neighbours, and the full values of the
    /// sections that list them. Returns the pages and the sections whose values were rebuilt.
    pub fn patch(
        &mut self,
        site: &Site,
        assets: &HashMap<String, Vec<String>>,
        cache: &mut ValueCache,
        site_digest: &Digest,
        changed: &[usize],
    ) -> (Vec<usize>, Vec<usize>) {
        let no_assets = Vec::new();
        let links = term_links(site);
        for &i in changed {
            let page = &site.pages[i];
            let key = summary_key(site, page, site_digest);
            self.digests.summaries[i] = key;
            self.summaries[i] = summary(site, page, &links);
        }
        let mut pages: Vec<usize> = changed
            .iter()
            .flat_map(|&i| [Some(i), site.pages[i].lower, site.pages[i].higher])
            .flatten()
            .collect();
        pages.sort_unstable();
        pages.dedup();
        for &i in &pages {
            let page = &site.pages[i];
            let own = assets.get(&page.content_path).unwrap_or(&no_assets);
            self.digests.pages[i] = page_key(site, page, &self.digests.summaries, i, own);
            self.pages[i] = full_page(site, page, &self.summaries, i, assets);
            let cached = CachedPage {
                summary_key: self.digests.summaries[i],
                summary: self.summaries[i].clone(),
                page_key: self.digests.pages[i],
                page: self.pages[i].clone(),
            };
            cache.pages.insert(page.content_path.clone(), cached);
        }
        let sections: Vec<usize> = (0..site.sections.len())
            .filter(|&s| changed.iter().any(|i| site.sections[s].pages.contains(i)))
            .collect();
        for &s in &sections {
            let view = SectionView::Full(&self.summaries, &self.digests.summaries);
            let (value, digest) = section(site, &site.sections[s], view);
            self.sections[s] = value;
            self.digests.sections[s] = digest;
        }
        (pages, sections)
    }
}

/// What [`Values::reassembled`] rebuilt.
#[derive(Default)]
pub struct Refreshed {
    /// The digests, before, of every value rebuilt with a different digest.
    pub old_digests: Vec<Digest>,
    /// The pages (indices now) whose full value changed, fresh pages included.
    pub pages: Vec<usize>,
    /// The sections whose full value changed.
    pub sections: Vec<usize>,
}

impl Values {
    /// Brings the values up to date after [`Site::reassemble`] changed the page list:
    /// moves each kept value to its page's new index, builds the values of the fresh pages,
    /// of the pages in `touched` (whose markdown was rendered again), of the pages whose
    /// terms show differently and of the pages whose neighbours changed, and rebuilds every
    /// section's and the config's. `gone` are the content paths of pages no longer in the
    /// list.
    #[allow(clippy::too_many_arguments)]
    pub fn reassembled(
        &mut self,
        site: &Site,
        assets: &HashMap<String, Vec<String>>,
        cache: &mut ValueCache,
        site_digest: &Digest,
        re: &crate::site::Reassembled,
        touched: &[usize],
        gone: &[String],
    ) -> Refreshed {
        let n = site.pages.len();
        let mut summaries = vec![Value::none(); n];
        let mut pages = vec![Value::none(); n];
        let mut summary_keys = vec![Digest::default(); n];
        let mut page_keys = vec![Digest::default(); n];
        let mut known = vec![false; n];
        for (old, new) in re.old_to_new.iter().enumerate() {
            let Some(new) = *new else { continue };
            summaries[new] = std::mem::replace(&mut self.summaries[old], Value::none());
            pages[new] = std::mem::replace(&mut self.pages[old], Value::none());
            summary_keys[new] = self.digests.summaries[old];
            page_keys[new] = self.digests.pages[old];
            known[new] = true;
        }
        for path in gone {
            cache.pages.remove(path);
        }
        let mut refreshed = Refreshed::default();

        // Summaries: of fresh and re-rendered pages, and of pages in a term shown differently.
        let renamed: std::collections::HashSet<(&str, &str)> =
            re.renamed_terms.iter().map(|(t, k)| (t.as_str(), k.as_str())).collect();
        let shows_renamed = |page: &Page| {
            page.terms.iter().any(|&(t, k)| {
                let tax = &site.taxonomies[t];
                renamed.contains(&(tax.name.as_str(), tax.terms[k].slug.as_str()))
            })
        };
        let mut candidates: Vec<usize> = re.fresh.iter().chain(touched).copied().collect();
        if !renamed.is_empty() {
            candidates.extend((0..n).filter(|&i| known[i] && shows_renamed(&site.pages[i])));
        }
        candidates.sort_unstable();
        candidates.dedup();
        let links = term_links(site);
        let rebuilt: Vec<(usize, Digest, Option<Value>)> = candidates
            .par_iter()
            .map(|&i| {
                let page = &site.pages[i];
                let key = summary_key(site, page, site_digest);
                let stale = !known[i] || key != summary_keys[i];
                (i, key, stale.then(|| summary(site, page, &links)))
            })
            .collect();
        // Full values: of the pages whose summary, neighbours or markdown changed, and of
        // the neighbours of a changed summary.
        let mut candidates: Vec<usize> = re.moved.iter().chain(touched).copied().collect();
        for (i, key, value) in rebuilt {
            if let Some(value) = value {
                if known[i] {
                    refreshed.old_digests.push(summary_keys[i]);
                }
                summaries[i] = value;
                summary_keys[i] = key;
                let page = &site.pages[i];
                candidates.extend([Some(i), page.lower, page.higher].into_iter().flatten());
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let no_assets = Vec::new();
        let keyed: Vec<(usize, Digest)> = candidates
            .iter()
            .map(|&i| {
                let page = &site.pages[i];
                let own = assets.get(&page.content_path).unwrap_or(&no_assets);
                (i, page_key(site, page, &summary_keys, i, own))
            })
            .filter(|&(i, key)| !known[i] || key != page_keys[i])
            .collect();
        let stale: Vec<usize> = keyed.iter().map(|&(i, _)| i).collect();
        let fulls: Vec<Value> = stale
            .par_iter()
            .map(|&i| full_page(site, &site.pages[i], &summaries, i, assets))
            .collect();
        for (&(i, key), value) in keyed.iter().zip(fulls) {
            if known[i] {
                refreshed.old_digests.push(page_keys[i]);
            }
            pages[i] = value;
            page_keys[i] = key;
            let cached = CachedPage {
                summary_key: summary_keys[i],
                summary: summaries[i].clone(),
                page_key: key,
                page: pages[i].clone(),
            };
            cache.pages.insert(site.pages[i].content_path.clone(), cached);
        }
        refreshed.pages = stale;
        self.summaries = summaries;
        self.pages = pages;
        self.digests.summaries = summary_keys;
        self.digests.pages = page_keys;

        // Sections and the config: few, and rebuilt whole.
        for (s, section_ref) in site.sections.iter().enumerate() {
            let view = SectionView::Full(&self.summaries, &self.digests.summaries);
            let (full, full_digest) = section(site, section_ref, view);
            let (brief, brief_digest) = section(site, section_ref, SectionView::Paged);
            let (head, head_digest) = section(site, section_ref, SectionView::Head);
            if self.digests.sections[s] != full_digest {
                refreshed.sections.push(s);
            }
            let digests = &mut self.digests;
            for (old, new) in [
                (&mut digests.sections[s], full_digest),
                (&mut digests.section_briefs[s], brief_digest),
                (&mut digests.section_heads[s], head_digest),
            ] {
                if *old != new {
                    refreshed.old_digests.push(*old);
                    *old = new;
                }
            }
            self.sections[s] = full;
            self.section_briefs[s] = brief;
            self.section_heads[s] = head;
        }
        let (config, config_digest) = config_value(site, site_digest);
        if config_digest != self.digests.config {
            refreshed.old_digests.push(self.digests.config);
        }
        self.config = config;
        self.digests.config = config_digest;
        refreshed
    }
}

/// The digest of what a page's summary is built from.
fn summary_key(site: &Site, page: &Page, site_digest: &Digest) -> Digest {
    let mut d = Digester::new("summary");
    // What the summary reads of the page's text: the part before `<!-- more -->` and the
    // reading time, not the rest of the body.
    let rendered = page.rendered.as_deref();
    d.digest(site_digest).digest(&page.front_digest);
    d.opt_str(rendered.and_then(|r| r.summary.as_deref()));
    d.u64(rendered.map_or(1, |r| r.reading_time) as u64);
    d.str(&page.content_path).str(&page.path).str(&page.permalink).str(&page.slug);
    d.u64(page.date.map_or(u64::MAX, |date| date.timestamp() as u64));
    for &(t, k) in &page.terms {
        let tax = &site.taxonomies[t];
        let term = &tax.terms[k];
        d.str(&tax.name).str(&term.name).str(&term.slug).str(&term.permalink);
    }
    d.finish()
}

/// The digest of what a page's full value is built from, its summary's included.
fn page_key(
    site: &Site,
    page: &Page,
    summary_keys: &[Digest],
    i: usize,
    assets: &[String],
) -> Digest {
    let mut d = Digester::new("page");
    d.digest(&summary_keys[i]).digest(&page.md_digest);
    for neighbour in [page.lower, page.higher] {
        match neighbour {
            Some(n) => d.u64(1).digest(&summary_keys[n]),
            None => d.u64(0),
        };
    }
    d.u64(assets.len() as u64);
    for asset in assets {
        d.str(asset);
    }
    d.str(&site.sections[page.section].path);
    d.finish()
}

fn config_value(site: &Site, site_digest: &Digest) -> (Value, Digest) {
    let config = &site.config;
    let feeds = FeedsValue {
        atom: config.feeds.enabled && config.feeds.atom,
        rss: config.feeds.enabled && config.feeds.rss,
        atom_url: format!("{}/atom.xml", config.base_url),
        rss_url: format!("{}/rss.xml", config.base_url),
    };
    let taxonomies = site
        .taxonomies
        .iter()
        .map(|t| TaxonomyRef {
            name: &t.name,
            slug: &t.slug,
            permalink: &t.permalink,
            feed: t.feed,
        })
        .collect();
    let menu = config.extra.get("menu").cloned().unwrap_or(serde_json::Value::Array(Vec::new()));
    let value = ConfigValue {
        title: &config.title,
        description: &config.description,
        base_url: &config.base_url,
        language: &config.language,
        timezone: config.timezone.name().to_string(),
        author: config.author.as_deref(),
        extra: &config.extra,
        taxonomies,
        feeds,
        menu,
    };
    let digest = Digester::new("config").digest(site_digest).json(&value).finish();
    (Value::from_serializable(&value), digest)
}

/// The link value of every taxonomy term, by taxonomy and term index: made once and shared
/// by the summaries of all the pages filed under the term.
fn term_links(site: &Site) -> Vec<Vec<Value>> {
    site.taxonomies
        .iter()
        .map(|tax| {
            let link = |term: &crate::site::Term| {
                Value::from_serializable(&TermLink {
                    name: term.name.clone(),
                    slug: term.slug.clone(),
                    permalink: term.permalink.clone(),
                })
            };
            tax.terms.iter().map(link).collect()
        })
        .collect()
}

/// The term links of a page by taxonomy, in the order the page names them.
fn page_terms<'a>(
    site: &'a Site,
    page: &Page,
    links: &[Vec<Value>],
) -> BTreeMap<&'a str, Vec<Value>> {
    let mut out: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for &(t, k) in &page.terms {
        out.entry(site.taxonomies[t].name.as_str()).or_default().push(links[t][k].clone());
    }
    out
}

fn summary<'a>(site: &'a Site, page: &'a Page, links: &[Vec<Value>]) -> Value {
    let rendered = page.rendered.as_ref();
    Value::from_serializable(&Summary {
        title: page.front.title.as_deref(),
        description: page.front.description.as_deref(),
        date: page.date.as_ref().map(date_text),
        updated: page.front.updated.as_ref().map(date_text),
        path: url::encode_path(&page.path),
        permalink: &page.permalink,
        slug: &page.slug,
        content_path: &page.content_path,
        summary: rendered.and_then(|r| r.summary.as_deref()),
        reading_time: rendered.map_or(1, |r| r.reading_time),
        taxonomies: page_terms(site, page, links),
        authors: &page.front.authors,
        extra: &page.front.extra,
        draft: page.front.draft,
        weight: page.front.weight,
    })
}

fn full_page(
    site: &Site,
    page: &Page,
    summaries: &[Value],
    index: usize,
    assets: &HashMap<String, Vec<String>>,
) -> Value {
    let rendered = page.rendered.as_ref();
    let section = &site.sections[page.section];
    let own = Value::from_serializable(&FullPage {
        content: page.content.clone(),
        word_count: rendered.map_or(0, |r| r.word_count),
        lower: page.lower.map(|i| summaries[i].clone()),
        higher: page.higher.map(|i| summaries[i].clone()),
        assets: assets.get(&page.content_path).cloned().unwrap_or_default(),
        aliases: &page.front.aliases,
        section_path: &section.path,
        json_ld: json_ld(site, page),
    });
    merge(&summaries[index], own)
}

/// The value templates read as `page`: the full page value with the page's table of contents
/// as `toc`.
///
/// The contents are made into a value only when a template asks for the page: as template
/// values they take several times the memory of the headings they are made from, and a large
/// site's pages would hold them all for the length of `kiln watch`.
pub fn with_toc(page: &Value, rendered: Option<&crate::markdown::Rendered>) -> Value {
    let toc = rendered.map_or(&[][..], |r| r.toc.as_slice());
    let mut map = page.as_map().cloned().unwrap_or_default();
    map.insert("toc".into(), Value::from_serializable(&toc));
    Value::from(map)
}

/// A map value with the entries of both maps; `b` wins on shared keys.
fn merge(a: &Value, b: Value) -> Value {
    let mut map = a.as_map().cloned().unwrap_or_default();
    if let Some(extra) = b.into_map() {
        map.extend(extra);
    }
    Value::from(map)
}

/// A section's value as `view` shows it, and its digest.
fn section(site: &Site, section: &Section, view: SectionView) -> (Value, Digest) {
    let subsections = section
        .subsections
        .iter()
        .map(|&i| {
            let sub = &site.sections[i];
            SubsectionRef {
                title: sub.front.title.as_deref(),
                path: url::encode_path(&sub.path),
                permalink: &sub.permalink,
            }
        })
        .collect();
    let mut value = SectionValue {
        title: section.front.title.as_deref(),
        description: section.front.description.as_deref(),
        path: url::encode_path(&section.path),
        permalink: &section.permalink,
        content_path: &section.content_path,
        content: section.rendered.as_ref().map_or("", |r| r.html.as_str()),
        extra: &section.front.extra,
        pages: None,
        subsections,
        page_count: None,
    };
    let mut d = Digester::new("section");
    match view {
        SectionView::Full(all, keys) => {
            value.page_count = Some(section.pages.len());
            d.str("full").json(&value);
            for &i in &section.pages {
                d.digest(&keys[i]);
            }
            value.pages = Some(section.pages.iter().map(|&i| all[i].clone()).collect());
        }
        SectionView::Paged => {
            value.page_count = Some(section.pages.len());
            value.pages = Some(Vec::new());
            d.str("paged").json(&value);
        }
        SectionView::Head => {
            d.str("head").json(&value);
        }
    }
    (Value::from_serializable(&value), d.finish())
}

#[derive(Serialize)]
struct BlogPosting<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@type")]
    kind: &'static str,
    headline: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    url: &'a str,
    #[serde(rename = "mainEntityOfPage")]
    main_entity: &'a str,
    #[serde(rename = "datePublished", skip_serializing_if = "Option::is_none")]
    published: Option<String>,
    #[serde(rename = "dateModified", skip_serializing_if = "Option::is_none")]
    modified: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    author: Vec<Person<'a>>,
    #[serde(rename = "inLanguage")]
    language: &'a str,
}

#[derive(Serialize)]
struct Person<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    name: &'a str,
}

/// The JSON-LD `BlogPosting` of a page, escaped so that it can sit inside a `<script>`
/// element: `<`, `>` and `&` are written as JSON escapes, which no HTML parser reads as markup.
fn json_ld(site: &Site, page: &Page) -> String {
    let mut authors: Vec<Person> =
        page.front.authors.iter().map(|name| Person { kind: "Person", name }).collect();
    if authors.is_empty()
        && let Some(name) = &site.config.author
    {
        authors.push(Person { kind: "Person", name });
    }
    let posting = BlogPosting {
        context: "https://schema.org",
        kind: "BlogPosting",
        headline: page.front.title.as_deref().unwrap_or(&page.slug),
        description: page.front.description.as_deref(),
        url: &page.permalink,
        main_entity: &page.permalink,
        published: page.date.as_ref().map(date_text),
        modified: page.front.updated.or(page.date).as_ref().map(date_text),
        author: authors,
        language: &site.config.language,
    };
    let json = serde_json::to_string(&posting).unwrap_or_default();
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}
