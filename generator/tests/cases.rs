//! The field cases of `shared/cases/generator.md`, each built as a fixture site.
//!
//! Each test is named after the symptom users met in other generators; its doc comment gives
//! the case number.

mod common;

use common::{Site, attrs, error_lines, inner, texts, xml_texts};

/// G01: a UTF-8 BOM before the front matter stopped the build.
#[test]
fn bom_before_front_matter_builds_and_leaves_no_bom_in_output() {
    let site = Site::new();
    site.write("content/bom.md", b"\xef\xbb\xbf+++\ntitle = \"Bom test\"\n+++\nBody text\n");
    site.write("content/bom-yaml.md", b"\xef\xbb\xbf---\ntitle: Bom test\n---\nBody text\n");
    site.write("content/inner.md", "+++\ntitle = \"Inner\"\n+++\nA\u{feff}B\n");
    site.build_ok();
    for path in ["bom/index.html", "bom-yaml/index.html"] {
        let html = site.html(path);
        assert_eq!(texts(&html, "h1")[0], "Bom test");
        assert!(texts(&html, "title")[0].starts_with("Bom test"));
        assert!(inner(&html, "main").contains("<p>Body text</p>"), "{path}");
    }
    for file in site.files() {
        if file.starts_with("inner/") || file.ends_with(".svg") || file.ends_with(".css") {
            continue;
        }
        let text = site.read(&file);
        if file.ends_with(".xml") || file.ends_with(".json") {
            // The inner page's own U+FEFF is text and may appear in feeds.
            let without_inner: String = text.replace("A\u{feff}B", "");
            assert!(!without_inner.contains('\u{feff}'), "U+FEFF in {file}");
        } else {
            assert!(!text.contains('\u{feff}'), "U+FEFF in {file}");
        }
    }
    assert!(site.read("inner/index.html").contains("A\u{feff}B"), "a BOM in the body is text");
}

/// G02: CRLF line endings hid the front matter or left `\r` in the title.
#[test]
fn crlf_front_matter_gives_clean_title_and_tags() {
    let site = Site::new();
    site.write("content/crlf.md", "+++\r\ntitle = \"Windows post\"\r\ntags = [\"a\", \"b\"]\r\n+++\r\nLine one\r\nLine two\r\n");
    site.write(
        "content/crlf-yaml.md",
        "---\r\ntitle: Windows post\r\ntags: [a, b]\r\n---\r\nLine one\r\n",
    );
    site.write(
        "content/mixed.md",
        "+++\r\ntitle = \"Mixed\"\ntags = [\"a\"]\r\n+++\nLine one\r\nLine two\n",
    );
    site.build_ok();
    let html = site.html("crlf/index.html");
    assert_eq!(texts(&html, "h1")[0], "Windows post");
    assert!(!site.read("crlf/index.html").contains('\r'));
    let body = inner(&html, "main");
    assert!(body.contains("<p>Line one\nLine two</p>"), "{body}");
    let tags = site.html("tags/index.html");
    let names = texts(&tags, "main a");
    assert!(
        names.iter().any(|n| n.starts_with('a')) && names.iter().any(|n| n.starts_with('b')),
        "{names:?}"
    );
    assert_eq!(texts(&site.html("crlf-yaml/index.html"), "h1")[0], "Windows post");
    assert!(site.exists("mixed/index.html"));
    assert!(!site.read("sitemap.xml").contains('\r'));
}

/// G03: empty front matter, or front matter with no final newline, was rejected.
#[test]
fn empty_or_unterminated_front_matter_builds_untitled_pages() {
    let site = Site::new();
    site.write("content/_index.md", "+++\ntitle = \"Home\"\n+++");
    site.write("content/empty.md", "+++\n+++\nHello\n");
    site.write("content/empty-yaml.md", "---\n---\nHello\n");
    site.write("content/latest.md", "+++\ntemplate = \"latest.html\"\n+++");
    site.write(
        "templates/latest.html",
        "{% extends \"page.html\" %}{% block content %}latest{% endblock content %}",
    );
    site.build_ok();
    assert!(inner(&site.html("empty/index.html"), "main").contains("<p>Hello</p>"));
    assert!(inner(&site.html("empty-yaml/index.html"), "main").contains("<p>Hello</p>"));
    assert!(site.read("latest/index.html").contains("latest"));
    assert_eq!(texts(&site.html("index.html"), "h1")[0], "Home");
}

/// G04: `+++` and `---` lines later in the file were taken for fences.
#[test]
fn delimiter_lines_in_the_body_stay_body() {
    let site = Site::new();
    site.write(
        "content/diff.md",
        "+++\ntitle = \"Diff post\"\n+++\nIntro.\n\n```diff\n--- a/lib.rs\n+++ b/lib.rs\n```\n\n```toml\n+++\n```\n\n---\n\nOutro.\n",
    );
    site.write(
        "content/diff-yaml.md",
        "---\ntitle: Yaml diff\n---\nIntro.\n\n```\n---\n```\n\n---\n\nOutro.\n",
    );
    site.build_ok();
    let body = inner(&site.html("diff/index.html"), "main");
    let code = texts(&site.html("diff/index.html"), "pre code");
    assert_eq!(code.len(), 2, "{body}");
    assert!(code[0].contains("--- a/lib.rs\n+++ b/lib.rs"), "{code:?}");
    assert_eq!(code[1], "+++");
    assert!(body.contains("<hr"), "{body}");
    assert!(body.contains("<p>Outro.</p>"));
    assert_eq!(texts(&site.html("diff/index.html"), "h1")[0], "Diff post");
    let yaml = inner(&site.html("diff-yaml/index.html"), "main");
    assert!(yaml.contains("<hr") && yaml.contains("<p>Outro.</p>"), "{yaml}");
}

/// G05: template-looking braces in code were run through the template engine.
#[test]
fn template_braces_in_code_come_out_literally() {
    let site = Site::new();
    site.write(
        "content/braces.md",
        "+++\ntitle = \"Braces\"\n+++\nThe frame is `std::rt::lang_start::{{closure}}`.\n\n```yaml\ntoken: ${{ secrets.PUBLISH_TOKEN }}\n```\n\n```jinja\n{% block head %}{{ super() }}{% endblock head %}\n```\n",
    );
    site.build_ok();
    let html = site.html("braces/index.html");
    let code = texts(&html, "main code");
    assert!(code.iter().any(|c| c == "std::rt::lang_start::{{closure}}"), "{code:?}");
    assert!(code.iter().any(|c| c.contains("token: ${{ secrets.PUBLISH_TOKEN }}")), "{code:?}");
    assert!(
        code.iter().any(|c| c.contains("{% block head %}{{ super() }}{% endblock head %}")),
        "{code:?}"
    );
}

/// G06: a quoted date and a TOML date literal gave different results.
#[test]
fn quoted_and_literal_dates_parse_the_same() {
    let site = Site::new();
    site.write("content/a.md", "+++\ntitle = \"A\"\ndate = 2024-03-05\n+++\n");
    site.write("content/b.md", "+++\ntitle = \"B\"\ndate = \"2024-03-05\"\n+++\n");
    site.write("content/c.md", "+++\ntitle = \"C\"\ndate = 2024-03-05T10:00:00+02:00\n+++\n");
    site.build_ok();
    let lastmod = |path: &str| {
        let xml = site.read("sitemap.xml");
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let url = doc
            .descendants()
            .find(|n| {
                n.tag_name().name() == "url"
                    && n.children()
                        .any(|c| c.text() == Some(&format!("https://example.org/{path}/")))
            })
            .unwrap();
        url.children()
            .find(|c| c.tag_name().name() == "lastmod")
            .unwrap()
            .text()
            .unwrap()
            .to_string()
    };
    assert_eq!(lastmod("a"), "2024-03-05T00:00:00Z");
    assert_eq!(lastmod("b"), "2024-03-05T00:00:00Z");
    assert_eq!(lastmod("c"), "2024-03-05T08:00:00Z");

    let bad = Site::new();
    bad.write("content/bad.md", "+++\ntitle = \"Bad\"\ndate = \"March 5th\"\n+++\n");
    let lines = error_lines(&bad.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("content/bad.md:3"), "{}", lines[0]);
    assert!(lines[0].contains("date") && lines[0].contains("YYYY-MM-DD"), "{}", lines[0]);
}

/// G07: duplicate keys were silently resolved to the last value.
#[test]
fn duplicate_front_matter_keys_fail_naming_both_lines() {
    let site = Site::new();
    site.write("content/t.md", "+++\ntitle = \"A\"\ntitle = \"B\"\n+++\n");
    site.write("content/y.md", "---\ntitle: A\ntitle: B\n---\n");
    site.write("content/e.md", "+++\n[extra]\na = 1\n[extra]\nb = 2\n+++\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 3, "{lines:?}");
    let find = |file: &str| {
        lines
            .iter()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file}: {lines:?}"))
            .clone()
    };
    for (file, key, a, b) in [
        ("content/t.md", "title", "2", "3"),
        ("content/y.md", "title", "2", "3"),
        ("content/e.md", "extra", "2", "4"),
    ] {
        let line = find(file);
        assert!(line.contains(key) && line.contains(a) && line.contains(b), "{line}");
    }
    assert!(!site.exists("index.html"), "a failed build writes nothing");
}

/// G08: two sources with one output path silently overwrote each other.
#[test]
fn colliding_outputs_fail_listing_every_source() {
    let site = Site::new();
    site.write("content/diary/2022-11-29-23-06.md", "+++\ntitle = \"One\"\n+++\n");
    site.write("content/diary/2022-12-05-23-06.md", "+++\ntitle = \"Two\"\n+++\n");
    site.write("content/blog/hello.md", "+++\ntitle = \"Hello\"\n+++\n");
    site.write("content/blog/hello/index.md", "+++\ntitle = \"Hello bundle\"\n+++\n");
    site.write("content/x.md", "+++\npath = \"2024/01/01/same\"\n+++\n");
    site.write("content/y.md", "+++\npath = \"2024/01/01/same\"\n+++\n");
    let failed = site.build_err();
    let lines = error_lines(&failed);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let all = lines.join("\n");
    for needle in [
        "diary/23-06/index.html",
        "content/diary/2022-11-29-23-06.md",
        "content/diary/2022-12-05-23-06.md",
        "blog/hello/index.html",
        "content/blog/hello.md",
        "content/blog/hello/index.md",
        "2024/01/01/same/index.html",
        "content/x.md",
        "content/y.md",
    ] {
        assert!(all.contains(needle), "missing {needle} in:\n{all}");
    }
    // The same report every time, whatever the thread order.
    for _ in 0..3 {
        assert_eq!(error_lines(&site.build_err()), lines);
    }
}

/// G09: non-ASCII names gave broken anchors, empty slugs or unencoded URLs.
#[test]
fn non_ascii_slugs_and_anchors_resolve() {
    let site = Site::new();
    site.write("content/Über Größe.md", "+++\ntitle = \"Über Größe\"\n+++\n");
    site.write("content/Ölmühle.md", "+++\ntitle = \"Ölmühle\"\n+++\n");
    site.write("content/東京タワー.md", "+++\ntitle = \"東京タワー\"\n+++\n");
    site.write("content/🦀🦀.md", "+++\ntitle = \"🦀🦀\"\n+++\n");
    site.write("content/headings.md", "+++\ntitle = \"Headings\"\n+++\n## پارسی\n\n## fast build ⚡\n\n[a](#پارسی) and [b](#fast-build)\n");
    let report = site.build_ok();
    assert!(site.exists("uber-grosse/index.html"), "{:?}", site.files());
    assert!(site.exists("olmuhle/index.html"));
    for file in site.files() {
        assert!(
            !file.starts_with("-/") && !file.starts_with("/") && !file.contains("//"),
            "{file}"
        );
    }
    let html = site.html("headings/index.html");
    let ids = attrs(&html, "main h2", "id");
    let hrefs = attrs(&html, "main p a", "href");
    for href in &hrefs {
        let anchor = href.trim_start_matches('#');
        assert!(ids.iter().any(|id| id == anchor), "link {href} has no target among {ids:?}");
    }
    assert!(report.warnings.iter().all(|w| !w.message.contains("anchor")), "{:?}", report.warnings);
    let sitemap = site.read("sitemap.xml");
    let locs = xml_texts(&sitemap, "loc");
    assert!(locs.iter().all(|l| l.is_ascii()), "{locs:?}");
}

/// G10: heading id suffixes collided with explicit or other generated ids.
#[test]
fn heading_ids_are_unique_and_explicit_ones_kept() {
    let site = Site::new();
    site.write("content/h.md", "+++\ntitle = \"H\"\n+++\n# Header\n# Header 1\n# Header\n## Header {#header-2}\n## FAQ {#header}\n");
    site.build_ok();
    let html = site.html("h/index.html");
    let ids: Vec<String> = attrs(&html, "main :is(h1,h2)[id]", "id");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    assert!(
        ids.contains(&"header-2".to_string()) && ids.contains(&"header".to_string()),
        "{ids:?}"
    );
    assert_eq!(ids.iter().filter(|i| *i == "header-1").count(), 1, "{ids:?}");

    let clash = Site::new();
    clash.write("content/c.md", "+++\ntitle = \"C\"\n+++\n## A {#same}\n## B {#same}\n");
    let lines = error_lines(&clash.build_err());
    assert!(lines[0].contains("content/c.md") && lines[0].contains("same"), "{lines:?}");
}

/// G11: `&` and spaces in URLs made the sitemap invalid XML.
#[test]
fn ampersands_and_spaces_in_urls_keep_sitemap_and_feeds_valid() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"T\"\n[slugify]\npaths = \"off\"\n",
    );
    site.write(
        "content/amp.md",
        "+++\ntitle = \"Fish <and> chips\"\npath = \"apples-&-oranges\"\ndate = 2024-01-01\n+++\n",
    );
    site.write("content/apples & oranges.md", "+++\ntitle = \"Spaces\"\ndate = 2024-01-02\n+++\n");
    site.build_ok();
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    assert!(locs.contains(&"https://example.org/apples-%26-oranges/".to_string()), "{locs:?}");
    assert!(locs.contains(&"https://example.org/apples%20%26%20oranges/".to_string()), "{locs:?}");
    let titles = xml_texts(&site.read("atom.xml"), "title");
    assert!(titles.contains(&"Fish <and> chips".to_string()), "{titles:?}");
    xml_texts(&site.read("rss.xml"), "title");
    assert!(site.exists("apples-&-oranges/index.html"));
}

/// G12: feed text was double-escaped or links were percent-encoded wrongly.
#[test]
fn feed_text_round_trips_and_links_stay_readable() {
    let site = Site::new();
    site.write("kiln.toml", "base_url = \"https://example.org\"\ntitle = \"Foo & Bar <Blog>\"\n");
    site.write(
        "content/q.md",
        "+++\ntitle = 'Rust & \"quotes\" <tags>'\nauthors = [\"Seán O'Neill\"]\ndescription = \"ends with ]]> here\"\ndate = 2024-01-01\n+++\nBody & more.\n",
    );
    site.build_ok();
    for feed in ["atom.xml", "rss.xml"] {
        let xml = site.read(feed);
        let titles = xml_texts(&xml, "title");
        assert!(titles.contains(&"Foo & Bar <Blog>".to_string()), "{feed}: {titles:?}");
        assert!(titles.contains(&"Rust & \"quotes\" <tags>".to_string()), "{feed}: {titles:?}");
    }
    let atom = site.read("atom.xml");
    assert!(xml_texts(&atom, "summary").contains(&"ends with ]]> here".to_string()));
    assert!(xml_texts(&atom, "name").contains(&"Seán O'Neill".to_string()));
    let doc_text = site.read("atom.xml");
    let doc = roxmltree::Document::parse(&doc_text).unwrap();
    let hrefs: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("href")).collect();
    assert!(hrefs.contains(&"https://example.org/q/"), "{hrefs:?}");
    let rss_links = xml_texts(&site.read("rss.xml"), "link");
    assert!(rss_links.contains(&"https://example.org/q/".to_string()), "{rss_links:?}");
}

/// G13: drafts and future posts leaked into lists, or links to them failed confusingly.
#[test]
fn drafts_and_future_posts_stay_out_everywhere() {
    let site = Site::new();
    site.write(
        "content/draft.md",
        "+++\ntitle = \"Draft\"\ndraft = true\ntags = [\"news\"]\n+++\n",
    );
    site.write(
        "content/later.md",
        "+++\ntitle = \"Later\"\ndate = 2099-01-01\ntags = [\"news\"]\n+++\n",
    );
    site.write(
        "content/index-post.md",
        "+++\ntitle = \"Index post\"\ndate = 2024-01-01\ntags = [\"news\"]\n+++\n[d](@/draft.md) and [l](@/later.md)\n",
    );
    let report = site.build_ok();
    // Titles appear only where a page is listed; the index post's own links to the two
    // pages are content, and are reported as warnings below.
    for file in [
        "index.html",
        "tags/news/index.html",
        "atom.xml",
        "rss.xml",
        "sitemap.xml",
        "search_index.json",
    ] {
        let text = site.read(file);
        assert!(!text.contains("Draft"), "draft leaked into {file}");
        assert!(!text.contains("Later"), "future post leaked into {file}");
    }
    for file in ["sitemap.xml", "search_index.json"] {
        let text = site.read(file);
        assert!(!text.contains("/draft/") && !text.contains("/later/"), "{file}: {text}");
    }
    let listed = attrs(&site.html("tags/news/index.html"), "main a", "href");
    assert!(listed.contains(&"https://example.org/index-post/".to_string()), "{listed:?}");
    assert!(!site.exists("draft/index.html") && !site.exists("later/index.html"));
    let warnings: Vec<String> = report.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warnings.iter().any(|w| w.contains("content/index-post.md") && w.contains("draft")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("content/index-post.md") && w.contains("future")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().all(|w| !w.contains("not found") && !w.contains("points to no page")),
        "{warnings:?}"
    );
    let skipped: Vec<String> =
        report.skipped.iter().map(|(s, why)| format!("{s} {why:?}")).collect();
    assert_eq!(skipped, ["content/draft.md Draft", "content/later.md Future"]);

    let mut with_drafts = Site::new();
    with_drafts.drafts = true;
    for (path, text) in [
        ("content/draft.md", "+++\ntitle = \"Draft\"\ndraft = true\ntags = [\"news\"]\n+++\n"),
        ("content/later.md", "+++\ntitle = \"Later\"\ndate = 2099-01-01\n+++\n"),
    ] {
        with_drafts.write(path, text);
    }
    with_drafts.build_ok();
    assert!(with_drafts.exists("draft/index.html"));
    assert!(!with_drafts.exists("later/index.html"));
    assert!(with_drafts.read("tags/news/index.html").contains("Draft"));
}

/// G16: files that are not UTF-8 panicked or came out with U+FFFD.
#[test]
fn non_utf8_files_fail_with_the_byte_offset_and_others_still_report() {
    let site = Site::new();
    site.write("content/latin1.md", b"+++\ntitle = \"Caf\xe9\"\n+++\nNa\xefve text\n");
    site.write("content/utf16.md", b"\xff\xfe+\x00+\x00+\x00\n\x00");
    site.write("content/dup.md", "+++\ntitle = \"A\"\ntitle = \"B\"\n+++\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("content/latin1.md") && l.contains("byte 16")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("content/utf16.md") && l.contains("UTF-16")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("content/dup.md")), "{lines:?}");
}

/// G17: template errors named neither the template line nor the content being rendered.
#[test]
fn template_errors_name_template_line_and_content_file() {
    let site = Site::new();
    site.write(
        "templates/page.html",
        "{% extends \"base.html\" %}\n{% block content %}\n<h1>{{ page.title }}</h1>\n\n\n\n{{ page.extra.subtitle | upper }}\n{% endblock content %}\n",
    );
    site.write("content/a.md", "+++\ntitle = \"A\"\n[extra]\nsubtitle = \"sub\"\n+++\n");
    site.write("content/b.md", "+++\ntitle = \"B\"\n+++\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("content/b.md"), "{}", lines[0]);
    assert!(lines[0].contains("templates/page.html:7"), "{}", lines[0]);
    assert!(lines[0].contains("subtitle"), "{}", lines[0]);
    let missing = lines[0].clone();

    let typed = Site::new();
    // The home page lists dated pages only, so the loop walks a section that has both.
    typed.write(
        "templates/index.html",
        "{% set blog = get_section(path=\"blog/_index.md\") %}{% for p in blog.pages %}{{ p.date | date(format=\"%Y\") }}{% endfor %}\n",
    );
    typed.write("content/blog/dated.md", "+++\ntitle = \"D\"\ndate = 2024-01-01\n+++\n");
    typed.write("content/blog/undated.md", "+++\ntitle = \"U\"\n+++\n");
    let lines = error_lines(&typed.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("templates/index.html:1"), "{}", lines[0]);
    assert!(lines[0].contains("date"), "{}", lines[0]);
    assert_ne!(
        strip_location(&lines[0]),
        strip_location(&missing),
        "missing value and wrong type read differently"
    );
}

fn strip_location(line: &str) -> String {
    line.rsplit(": ").next().unwrap_or(line).to_string()
}

/// G18: a footnote definition right after a list ended up inside the list.
#[test]
fn footnote_after_list_stays_out_of_the_list() {
    let site = Site::new();
    site.write(
        "content/f.md",
        "+++\ntitle = \"F\"\n+++\nLorem ipsum.[^a]\n\nA list:\n* Ipsum\n* Lorem\n\n[^a]: Cool.\n",
    );
    site.build_ok();
    let html = site.html("f/index.html");
    let lis = scraper::Selector::parse("main ul li").unwrap();
    for li in html.select(&lis) {
        assert!(!li.inner_html().contains("<p>"), "loose list item: {}", li.inner_html());
        assert!(!li.inner_html().contains("Cool"), "footnote inside the list");
    }
    let body = inner(&html, "main");
    let list_end = body.find("</ul>").unwrap();
    let def = body.find("Cool.").unwrap();
    assert!(def > list_end, "the definition comes after the list:\n{body}");
    let refs = attrs(&html, "main sup a", "href");
    assert!(!refs.is_empty());
    let target = refs[0].trim_start_matches('#');
    assert!(body.contains(&format!("id=\"{target}\"")), "reference {target} has a target:\n{body}");
}
