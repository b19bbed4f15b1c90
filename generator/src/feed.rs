//! Atom and RSS feeds, and the sitemap.
//!
//! Feeds are written with the `atom_syndication` and `rss` crates so that escaping is theirs,
//! not ours; the sitemap is small enough to write directly, escaping through quick-xml. All
//! URLs are absolute and percent-encoded. Dates come from the content only, never from the
//! build's clock, so an unchanged site gives unchanged feeds.

use atom_syndication as atom;
use chrono::{DateTime, FixedOffset, Utc};

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

fn entry_pages<'a>(site: &'a Site, scope: &FeedScope) -> Vec<&'a Page> {
    scope.pages.iter().map(|&i| &site.pages[i]).collect()
}

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

fn content_html(page: &Page) -> String {
    page.rendered.as_ref().map(|r| r.html.clone()).unwrap_or_default()
}

/// The Atom feed of a scope.
pub fn atom(site: &Site, scope: &FeedScope) -> String {
    let pages = entry_pages(site, scope);
    let self_url = crate::url::permalink(&site.config.base_url, &format!("{}atom.xml", scope.dir));
    let entries: Vec<atom::Entry> = pages.iter().map(|page| atom_entry(site, page)).collect();
    let updated = pages.iter().filter_map(|p| p.front.updated.or(p.date)).max().unwrap_or_default();
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

fn atom_entry(site: &Site, page: &Page) -> atom::Entry {
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
            value: Some(content_html(page)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The RSS 2.0 feed of a scope.
pub fn rss(site: &Site, scope: &FeedScope) -> String {
    let pages = entry_pages(site, scope);
    let items: Vec<rss::Item> = pages.iter().map(|page| rss_item(site, page)).collect();
    let updated = pages.iter().filter_map(|p| p.front.updated.or(p.date)).max();
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

fn rss_item(site: &Site, page: &Page) -> rss::Item {
    let authors = page_authors(site, page);
    let dublin_core = (!authors.is_empty()).then(|| rss::extension::dublincore::DublinCoreExtension {
        creators: authors.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    });
    rss::Item {
        title: Some(page_title(page)),
        link: Some(page.permalink.clone()),
        guid: Some(rss::Guid { value: page.permalink.clone(), permalink: true }),
        pub_date: page.date.map(|d| d.to_rfc2822()),
        description: Some(content_html(page)),
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
