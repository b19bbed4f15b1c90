//! Atom and RSS feeds, and the sitemap.
//!
//! Feeds are written with the `atom_syndication` and `rss` crates so that escaping is theirs,
//! not ours; the sitemap is small enough to write directly, escaping through quick-xml. All
//! URLs are absolute and percent-encoded. Dates come from the content only, never from the
//! build's clock, so an unchanged site gives unchanged feeds.
//!
//! An entry's content is the page's HTML with every relative URL made absolute. Feed readers
//! resolve a relative `src` or `href` against the feed's URL, or against nothing at all, never
//! against the page, so a bundle's `photo.jpg` or a footnote's `#fn-1` would point at nothing.
//! URLs are resolved against the page's permalink as a browser on the page would, except that
//! a root-relative `/x` is taken within the base URL, which may have a path of its own. Atom
//! could say the same with `xml:base`, but RSS has nothing like it, so both feeds carry
//! absolute URLs.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use atom_syndication as atom;
use chrono::{DateTime, FixedOffset, Utc};
use lol_html::html_content::Element;
use lol_html::{RewriteStrSettings, element, errors::RewritingError, rewrite_str};
use url::Url;

use crate::site::{Page, Site};

/// Which pages a feed covers and where it lives.
pub struct FeedScope {
    /// The feed's title.
    pub title: String,
    /// The URL of the page the feed belongs to (the home page, a section or a term).
    pub home: String,
    /// The raw URL path of the folder the feed files go in (`/`, `/blog/`, `/tags/rust/`).
    pub dir: String,
    /// The entries: dated pages, newest first, already cut to the feed limit.
    pub pages: Vec<usize>,
}

fn fixed(date: DateTime<Utc>) -> DateTime<FixedOffset> {
    date.fixed_offset()
}

fn entry_pages<'a>(site: &'a Site, scope: &FeedScope) -> Vec<(usize, &'a Page)> {
    scope.pages.iter().map(|&i| (i, &site.pages[i])).collect()
}

/// The rendered HTML of page `i`. The build keeps one copy of each page's HTML, inside the
/// values templates read, so feeds take it from there.
pub type HtmlOf<'a> = &'a dyn Fn(usize) -> &'a str;

fn page_title(page: &Page) -> String {
    page.front.title.clone().unwrap_or_else(|| page.slug.clone())
}

fn page_authors<'a>(site: &'a Site, page: &'a Page) -> Vec<&'a str> {
    if page.front.authors.is_empty() {
        site.config.author.as_deref().into_iter().collect()
    } else {
        page.front.authors.iter().map(String::as_str).collect()
    }
}

/// Entry HTML already made, by the hash of what it is made from (see [`content_html`]).
type EntryCache = Mutex<HashMap<[u8; 32], Arc<OnceLock<Arc<str>>>>>;

static ENTRY_HTML: LazyLock<EntryCache> = LazyLock::new(Mutex::default);

/// Entries kept before the cache starts over; a build needs a few per feed at most.
const ENTRY_CACHE_LIMIT: usize = 4096;

/// The page's HTML for a feed entry, with its relative URLs made absolute.
///
/// A page is in several feeds (Atom and RSS, the site's, its section's, each of its terms'),
/// and rewriting its HTML is the most expensive part of a feed, so each entry is made once and
/// kept by the hash of the HTML and the two URLs it depends on. The same inputs always give
/// the same entry, so the cache is shared by every build of the process.
fn content_html(site: &Site, page: &Page, html: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(page.permalink.as_bytes()).update(&[0]);
    hasher.update(site.config.base_url.as_bytes()).update(&[0]);
    let key = *hasher.update(html.as_bytes()).finalize().as_bytes();
    let slot = {
        let mut cache = ENTRY_HTML.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= ENTRY_CACHE_LIMIT && !cache.contains_key(&key) {
            cache.clear();
        }
        cache.entry(key).or_default().clone()
    };
    // Another feed asking for the same entry meanwhile waits for this one instead of
    // rewriting the page again.
    slot.get_or_init(|| Arc::from(rewrite_content_html(site, page, html))).to_string()
}

fn rewrite_content_html(site: &Site, page: &Page, html: &str) -> String {
    let Some(base) = UrlBase::new(&page.permalink, &site.config.base_url) else {
        return html.to_string();
    };
    absolute_urls(html, &base).unwrap_or_else(|err| {
        tracing::warn!(
            source = %page.source,
            "relative links stay relative in the feeds: cannot read the page's HTML: {err}"
        );
        html.to_string()
    })
}

/// What a page's relative URLs are resolved against.
struct UrlBase {
    /// The page's permalink, for `photo.jpg`, `../x/` and `#fn-1`.
    page: Url,
    /// The base URL as a folder, for root-relative `/x`.
    root: Url,
}

impl UrlBase {
    fn new(permalink: &str, base_url: &str) -> Option<UrlBase> {
        let page = Url::parse(permalink).ok()?;
        let root = Url::parse(&format!("{}/", base_url.trim_end_matches('/'))).ok()?;
        Some(UrlBase { page, root })
    }

    /// The absolute form of `written`, or `None` when it is absolute already (it has a scheme,
    /// like `https:` or `mailto:`, or starts with `//`) or cannot be resolved.
    fn absolute(&self, written: &str) -> Option<String> {
        let written = written.trim_matches(|c: char| c.is_ascii_whitespace());
        if has_scheme(written) || written.starts_with("//") {
            return None;
        }
        let joined = match written.strip_prefix('/') {
            Some(within_root) => self.root.join(within_root),
            None => self.page.join(written),
        };
        joined.ok().map(String::from)
    }
}

/// Whether a URL starts with a scheme (`https:`, `mailto:`, `data:`), as RFC 3986 spells one.
fn has_scheme(url: &str) -> bool {
    let Some((scheme, _)) = url.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Rewrites the URL attributes of every element in `html` (Kiln's markdown output plus the
/// author's raw HTML) to absolute URLs. `lol_html` tokenizes the HTML as a browser would, so
/// text that merely looks like an attribute, in code or comments, is left alone.
fn absolute_urls(html: &str, base: &UrlBase) -> Result<String, RewritingError> {
    let handler = element!("[href], [src], [poster], [srcset]", |el| {
        for name in ["href", "src", "poster"] {
            rewrite_attribute(el, name, |url| base.absolute(url))?;
        }
        rewrite_attribute(el, "srcset", |srcset| Some(absolute_srcset(srcset, base)))?;
        Ok(())
    });
    rewrite_str(html, RewriteStrSettings::new().append_element_content_handler(handler))
}

/// Replaces the attribute `name` with what `rewrite` makes of its decoded value. A value that
/// does not decode (an HTML-only entity such as `&nbsp;`) is left as written.
fn rewrite_attribute(
    el: &mut Element<'_, '_>,
    name: &str,
    rewrite: impl Fn(&str) -> Option<String>,
) -> Result<(), lol_html::errors::AttributeNameError> {
    let Some(raw) = el.get_attribute(name) else { return Ok(()) };
    let Ok(value) = quick_xml::escape::unescape(&raw) else { return Ok(()) };
    match rewrite(&value) {
        // `set_attribute` escapes quotes but not ampersands.
        Some(new) => el.set_attribute(name, &new.replace('&', "&amp;")),
        None => Ok(()),
    }
}

/// A `srcset` with each candidate's URL made absolute. A URL runs to the next whitespace and
/// may hold commas (`data:` URLs do); a comma after it, or after its descriptors, ends the
/// candidate.
fn absolute_srcset(srcset: &str, base: &UrlBase) -> String {
    let mut candidates = Vec::new();
    let mut rest = srcset;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let url_end = rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len());
        let (url, after) = rest.split_at(url_end);
        let (url, descriptors, after) = match url.strip_suffix(',') {
            Some(_) => (url.trim_end_matches(','), "", after),
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (url, after[..end].trim(), &after[end..])
            }
        };
        let url = base.absolute(url).unwrap_or_else(|| url.to_string());
        candidates.push(if descriptors.is_empty() { url } else { format!("{url} {descriptors}") });
        rest = after;
    }
    candidates.join(", ")
}

/// The Atom feed of a scope.
pub fn atom(site: &Site, scope: &FeedScope, html_of: HtmlOf<'_>) -> String {
    let pages = entry_pages(site, scope);
    let self_url = crate::url::permalink(&site.config.base_url, &format!("{}atom.xml", scope.dir));
    let entries: Vec<atom::Entry> =
        pages.iter().map(|&(i, page)| atom_entry(site, page, html_of(i))).collect();
    let updated =
        pages.iter().filter_map(|(_, p)| p.front.updated.or(p.date)).max().unwrap_or_default();
    let feed = atom::Feed {
        title: atom::Text::plain(scope.title.clone()),
        id: scope.home.to_string(),
        updated: fixed(updated),
        links: vec![link(&self_url, "self"), link(&scope.home, "alternate")],
        lang: Some(site.config.language.clone()),
        subtitle: (!site.config.description.is_empty())
            .then(|| atom::Text::plain(site.config.description.clone())),
        generator: Some(atom::Generator {
            value: "Kiln".to_string(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        entries,
        ..Default::default()
    };
    feed.to_string()
}

fn link(href: &str, rel: &str) -> atom::Link {
    atom::Link { href: href.to_string(), rel: rel.to_string(), ..Default::default() }
}

fn atom_entry(site: &Site, page: &Page, html: &str) -> atom::Entry {
    let date = page.date.unwrap_or_default();
    let authors = page_authors(site, page)
        .into_iter()
        .map(|name| atom::Person { name: name.to_string(), ..Default::default() })
        .collect();
    atom::Entry {
        title: atom::Text::plain(page_title(page)),
        id: page.permalink.clone(),
        updated: fixed(page.front.updated.unwrap_or(date)),
        published: Some(fixed(date)),
        links: vec![link(&page.permalink, "alternate")],
        authors,
        summary: page.front.description.clone().map(atom::Text::plain),
        content: Some(atom::Content {
            content_type: Some("html".to_string()),
            value: Some(content_html(site, page, html)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The RSS 2.0 feed of a scope.
pub fn rss(site: &Site, scope: &FeedScope, html_of: HtmlOf<'_>) -> String {
    let pages = entry_pages(site, scope);
    let items: Vec<rss::Item> =
        pages.iter().map(|&(i, page)| rss_item(site, page, html_of(i))).collect();
    let updated = pages.iter().filter_map(|(_, p)| p.front.updated.or(p.date)).max();
    let channel = rss::Channel {
        title: scope.title.clone(),
        link: scope.home.to_string(),
        description: site.config.description.clone(),
        language: Some(site.config.language.clone()),
        last_build_date: updated.map(|d| d.to_rfc2822()),
        generator: Some("Kiln".to_string()),
        items,
        ..Default::default()
    };
    channel.to_string()
}

fn rss_item(site: &Site, page: &Page, html: &str) -> rss::Item {
    let authors = page_authors(site, page);
    let dublin_core =
        (!authors.is_empty()).then(|| rss::extension::dublincore::DublinCoreExtension {
            creators: authors.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        });
    rss::Item {
        title: Some(page_title(page)),
        link: Some(page.permalink.clone()),
        guid: Some(rss::Guid { value: page.permalink.clone(), permalink: true }),
        pub_date: page.date.map(|d| d.to_rfc2822()),
        description: Some(content_html(site, page, html)),
        dublin_core_ext: dublin_core,
        ..Default::default()
    }
}

/// One `<url>` of the sitemap.
pub struct SitemapEntry {
    /// The absolute, percent-encoded URL.
    pub permalink: String,
    /// The last change, if the content says.
    pub updated: Option<DateTime<Utc>>,
}

/// The sitemap of every listed URL, sorted by URL so that it does not depend on build order.
pub fn sitemap(mut entries: Vec<SitemapEntry>) -> String {
    entries.sort_by(|a, b| a.permalink.cmp(&b.permalink));
    entries.dedup_by(|a, b| a.permalink == b.permalink);
    let mut out = String::with_capacity(entries.len() * 96 + 128);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for entry in entries {
        out.push_str("  <url>\n    <loc>");
        out.push_str(&quick_xml::escape::escape(entry.permalink.as_str()));
        out.push_str("</loc>\n");
        if let Some(updated) = entry.updated {
            out.push_str("    <lastmod>");
            out.push_str(&crate::values::date_text(&updated));
            out.push_str("</lastmod>\n");
        }
        out.push_str("  </url>\n");
    }
    out.push_str("</urlset>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> UrlBase {
        UrlBase::new("https://example.org/site/blog/trip/", "https://example.org/site").unwrap()
    }

    #[test]
    fn feed_content_links_resolve_against_the_page_and_root_links_within_the_base_url() {
        let html = "<p><img src=\"photo.jpg\" alt=\"A\" /> <a href=\"../other/\">o</a> \
                    <a href=\"/tags/rust/\">t</a> <a href=\"#fn-1\">1</a></p>";
        assert_eq!(
            absolute_urls(html, &base()).unwrap(),
            "<p><img src=\"https://example.org/site/blog/trip/photo.jpg\" alt=\"A\" /> \
             <a href=\"https://example.org/site/blog/other/\">o</a> \
             <a href=\"https://example.org/site/tags/rust/\">t</a> \
             <a href=\"https://example.org/site/blog/trip/#fn-1\">1</a></p>"
        );
    }

    #[test]
    fn feed_content_keeps_absolute_urls_code_and_entities_as_written() {
        let html = "<a href=\"https://a.example/x?y=1&amp;z=2\">a</a><a href=\"mailto:me@a.example\">m</a>\
                    <a href=\"//cdn.example/x.js\">c</a><code>&lt;a href=\"x\"&gt;</code>\
                    <a href=\"it&#x27;s.html?a=1&amp;b=2\">q</a>";
        assert_eq!(
            absolute_urls(html, &base()).unwrap(),
            "<a href=\"https://a.example/x?y=1&amp;z=2\">a</a><a href=\"mailto:me@a.example\">m</a>\
             <a href=\"//cdn.example/x.js\">c</a><code>&lt;a href=\"x\"&gt;</code>\
             <a href=\"https://example.org/site/blog/trip/it's.html?a=1&amp;b=2\">q</a>"
        );
    }

    #[test]
    fn feed_content_srcset_candidates_each_resolve() {
        let srcset = "small.jpg 480w, /img/large.jpg 2x,data:image/png;base64,AAA= 3x";
        assert_eq!(
            absolute_srcset(srcset, &base()),
            "https://example.org/site/blog/trip/small.jpg 480w, \
             https://example.org/site/img/large.jpg 2x, data:image/png;base64,AAA= 3x"
        );
    }
}
