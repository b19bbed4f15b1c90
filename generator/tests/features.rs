//! One test per generator feature that a user relies on, each building a fixture site and
//! asserting the real values of the real output, parsed as HTML, XML or JSON.
//!
//! The field cases of `shared/cases/generator.md` live in `cases.rs`; these tests cover the
//! features themselves. A test that shows a bug asserts the right behaviour and is marked
//! `#[ignore = "bug: …"]` until the bug is fixed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Site, attrs, error_lines, inner, texts, xml_texts};

/// A dated post with a one-line body.
fn post(title: &str, date: &str) -> String {
    format!("+++\ntitle = \"{title}\"\ndate = {date}\n+++\nBody of {title}.\n")
}

/// The titles of the pages a list page of the default theme shows, in order: post cards on
/// section pages, one-line entries on term pages.
fn card_titles(html: &scraper::Html) -> Vec<String> {
    texts(html, ".post-card__title, .archive-list__title")
}

/// The text of the element with that id.
fn by_id(html: &scraper::Html, id: &str) -> String {
    let found = texts(html, &format!("#{id}"));
    found.into_iter().next().unwrap_or_else(|| panic!("no element with id `{id}`"))
}

/// The `content` of the `<meta>` with that `name` or `property`.
fn meta(html: &scraper::Html, key: &str) -> String {
    let mut found = attrs(html, &format!("meta[name=\"{key}\"]"), "content");
    found.extend(attrs(html, &format!("meta[property=\"{key}\"]"), "content"));
    assert_eq!(found.len(), 1, "one <meta> for {key}: {found:?}");
    found.remove(0)
}

fn warning_lines(report: &kiln::BuildReport) -> Vec<String> {
    report.warnings.iter().map(|w| w.to_string()).collect()
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// Every folder under `dir`, relative.
fn folders(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"))
        .collect()
}

/// The `<entry>` or `<item>` children named `child` of a feed, in order.
fn entries(xml: &str, parent: &str, child: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    doc.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == parent)
        .map(|n| {
            let c = n.children().find(|c| c.is_element() && c.tag_name().name() == child);
            c.and_then(|c| c.text()).unwrap_or("").to_string()
        })
        .collect()
}

/// The `content` URL of a redirect page's meta refresh, and its canonical link.
fn redirect_target(site: &Site, file: &str) -> (String, String) {
    let html = site.html(file);
    let refresh = attrs(&html, "meta[http-equiv=\"refresh\"]", "content");
    assert_eq!(refresh.len(), 1, "{file} has one meta refresh");
    let url = refresh[0].strip_prefix("0; url=").unwrap_or_else(|| panic!("{}", refresh[0]));
    let canonical = attrs(&html, "link[rel=canonical]", "href");
    (url.to_string(), canonical[0].clone())
}

// Sections and pagination.

#[test]
fn section_pagination_writes_pagers_with_links_and_redirects_page_one() {
    let site = Site::new();
    site.write("content/blog/_index.md", "+++\ntitle = \"Blog\"\npaginate_by = 2\n+++\n");
    for n in 1..=5 {
        site.write(
            &format!("content/blog/p{n}.md"),
            post(&format!("Post {n}"), &format!("2024-01-0{n}")),
        );
    }
    site.build_ok();

    let one = site.html("blog/index.html");
    let two = site.html("blog/page/2/index.html");
    let three = site.html("blog/page/3/index.html");
    assert_eq!(card_titles(&one), ["Post 5", "Post 4"]);
    assert_eq!(card_titles(&two), ["Post 3", "Post 2"]);
    assert_eq!(card_titles(&three), ["Post 1"]);
    assert!(!site.exists("blog/page/4/index.html"));

    // Previous and next links.
    assert!(attrs(&one, ".pagination a[rel=prev]", "href").is_empty());
    assert_eq!(
        attrs(&one, ".pagination a[rel=next]", "href"),
        ["https://example.org/blog/page/2/"]
    );
    assert_eq!(attrs(&two, ".pagination a[rel=prev]", "href"), ["https://example.org/blog/"]);
    assert_eq!(
        attrs(&two, ".pagination a[rel=next]", "href"),
        ["https://example.org/blog/page/3/"]
    );
    assert_eq!(
        attrs(&three, ".pagination a[rel=prev]", "href"),
        ["https://example.org/blog/page/2/"]
    );
    assert!(attrs(&three, ".pagination a[rel=next]", "href").is_empty());

    // First and last links.
    assert_eq!(texts(&two, ".pagination__status a"), ["First", "Last"]);
    assert_eq!(
        attrs(&two, ".pagination__status a", "href"),
        ["https://example.org/blog/", "https://example.org/blog/page/3/"]
    );
    assert_eq!(texts(&two, ".page-header__meta")[0], "5 posts · page 2 of 3");
    assert_eq!(attrs(&two, "link[rel=canonical]", "href"), ["https://example.org/blog/page/2/"]);
    assert_eq!(texts(&two, "title")[0], "Blog, page 2 · Test");

    // `/blog/page/1/` sends readers to `/blog/`.
    let (to, canonical) = redirect_target(&site, "blog/page/1/index.html");
    assert_eq!(to, "https://example.org/blog/");
    assert_eq!(canonical, "https://example.org/blog/");
}

#[test]
fn paginator_values_follow_config_and_section_settings() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\npaginate_by = 2\n",
    );
    site.write(
        "templates/pager.html",
        "<ul id=\"pages\">{% for p in paginator.pages %}<li>{{ p.title }}</li>{% endfor %}</ul>\n\
         <p id=\"index\">{{ paginator.current_index }}</p><p id=\"count\">{{ paginator.number_pagers }}</p>\n\
         <p id=\"total\">{{ paginator.total_pages }}</p><p id=\"by\">{{ paginator.paginate_by }}</p>\n\
         <p id=\"first\">{{ paginator.first }}</p><p id=\"last\">{{ paginator.last }}</p>\n\
         <p id=\"prev\">{% if paginator.previous %}{{ paginator.previous }}{% else %}-{% endif %}</p>\n\
         <p id=\"next\">{% if paginator.next %}{{ paginator.next }}{% else %}-{% endif %}</p>\n\
         <p id=\"page-count\">{{ section.page_count }}</p>\n",
    );
    // A section with its own page size, pager path and reversed order.
    site.write(
        "content/blog/_index.md",
        "+++\ntemplate = \"pager.html\"\npaginate_by = 3\npaginate_path = \"p\"\npaginate_reversed = true\n+++\n",
    );
    for n in 1..=4 {
        site.write(
            &format!("content/blog/b{n}.md"),
            post(&format!("B{n}"), &format!("2024-02-0{n}")),
        );
    }
    // A folder without `_index.md` takes the site's page size.
    for n in 1..=3 {
        site.write(
            &format!("content/notes/n{n}.md"),
            post(&format!("N{n}"), &format!("2024-03-0{n}")),
        );
    }
    site.build_ok();

    let one = site.html("blog/index.html");
    assert_eq!(texts(&one, "#pages li"), ["B1", "B2", "B3"], "reversed: oldest first");
    assert_eq!(by_id(&one, "index"), "1");
    assert_eq!(by_id(&one, "count"), "2");
    assert_eq!(by_id(&one, "total"), "4");
    assert_eq!(by_id(&one, "by"), "3");
    assert_eq!(by_id(&one, "first"), "https://example.org/blog/");
    assert_eq!(by_id(&one, "last"), "https://example.org/blog/p/2/");
    assert_eq!(by_id(&one, "prev"), "-");
    assert_eq!(by_id(&one, "next"), "https://example.org/blog/p/2/");
    assert_eq!(by_id(&one, "page-count"), "4");
    let two = site.html("blog/p/2/index.html");
    assert_eq!(texts(&two, "#pages li"), ["B4"]);
    assert_eq!(by_id(&two, "prev"), "https://example.org/blog/");
    assert_eq!(by_id(&two, "next"), "-");
    assert!(!site.exists("blog/page/2/index.html"));
    assert_eq!(redirect_target(&site, "blog/p/1/index.html").0, "https://example.org/blog/");

    let notes = site.html("notes/index.html");
    assert_eq!(card_titles(&notes), ["N3", "N2"]);
    assert_eq!(card_titles(&site.html("notes/page/2/index.html")), ["N1"]);

    // The home page lists all seven dated pages, two a pager.
    assert_eq!(card_titles(&site.html("index.html")), ["N3", "N2"]);
    assert_eq!(card_titles(&site.html("page/4/index.html")), ["B1"]);
    assert!(!site.exists("page/5/index.html"));
}

/// Four pages whose order differs under every `sort_by` value.
fn sort_fixture(site: &Site) {
    site.write(
        "templates/order.html",
        "<ol id=\"order\">{% for p in section.pages %}<li>{{ p.title }}</li>{% endfor %}</ol>\n",
    );
    let pages = [
        ("a", "delta", "banana", "2024-01-01", Some("2024-09-01"), 3),
        ("b", "alpha", "Cherry", "2024-02-01", None, 4),
        ("c", "charlie", "apple", "2024-04-01", Some("2024-06-01"), 1),
        ("d", "bravo", "date", "2024-03-01", Some("2024-05-01"), 2),
    ];
    for value in ["date", "update_date", "title", "title_bytes", "weight", "slug", "none"] {
        site.write(
            &format!("content/{value}/_index.md"),
            format!("+++\nsort_by = \"{value}\"\ntemplate = \"order.html\"\n+++\n"),
        );
        for (file, slug, title, date, updated, weight) in pages {
            let updated = updated.map_or(String::new(), |u| format!("updated = {u}\n"));
            site.write(
                &format!("content/{value}/{file}.md"),
                format!(
                    "+++\ntitle = \"{title}\"\nslug = \"{slug}\"\ndate = {date}\n{updated}weight = {weight}\n+++\n"
                ),
            );
        }
    }
}

#[test]
fn sort_by_orders_each_section_by_its_value() {
    let site = Site::new();
    sort_fixture(&site);
    site.build_ok();
    let expected: [(&str, [&str; 4]); 7] = [
        ("date", ["apple", "date", "Cherry", "banana"]),
        ("update_date", ["banana", "apple", "date", "Cherry"]),
        ("title", ["apple", "banana", "Cherry", "date"]),
        ("title_bytes", ["Cherry", "apple", "banana", "date"]),
        ("weight", ["apple", "date", "banana", "Cherry"]),
        ("slug", ["Cherry", "date", "apple", "banana"]),
        ("none", ["banana", "Cherry", "apple", "date"]),
    ];
    for (value, order) in expected {
        let dir = value.replace('_', "-");
        let html = site.html(&format!("{dir}/index.html"));
        assert_eq!(texts(&html, "#order li"), order, "sort_by = {value}");
    }
}

#[test]
fn page_neighbours_follow_the_section_order() {
    let site = Site::new();
    sort_fixture(&site);
    site.build_ok();
    // By weight: apple (c), date (d), banana (a), Cherry (b). `lower` is the next in order.
    let html = site.html("weight/bravo/index.html");
    assert_eq!(texts(&html, "a[rel=prev] .post-nav__title"), ["banana"]);
    assert_eq!(attrs(&html, "a[rel=prev]", "href"), ["https://example.org/weight/delta/"]);
    assert_eq!(texts(&html, "a[rel=next] .post-nav__title"), ["apple"]);
    let first = site.html("weight/charlie/index.html");
    assert!(attrs(&first, "a[rel=next]", "href").is_empty());
    let last = site.html("weight/alpha/index.html");
    assert!(attrs(&last, "a[rel=prev]", "href").is_empty());
}

#[test]
fn sort_by_title_orders_numbers_naturally() {
    let site = Site::new();
    site.write(
        "templates/order.html",
        "<ol id=\"order\">{% for p in section.pages %}<li>{{ p.title }}</li>{% endfor %}</ol>\n",
    );
    site.write(
        "content/parts/_index.md",
        "+++\nsort_by = \"title\"\ntemplate = \"order.html\"\n+++\n",
    );
    for (file, title) in [("a", "Part 10"), ("b", "part 2"), ("c", "Part 1")] {
        site.write(&format!("content/parts/{file}.md"), format!("+++\ntitle = \"{title}\"\n+++\n"));
    }
    site.build_ok();
    let html = site.html("parts/index.html");
    assert_eq!(texts(&html, "#order li"), ["Part 1", "part 2", "Part 10"]);
}

#[test]
fn unknown_sort_by_warns_naming_the_file_and_sorts_by_date() {
    let site = Site::new();
    site.write("content/misc/_index.md", "+++\ntitle = \"Misc\"\nsort_by = \"popularity\"\n+++\n");
    site.write("content/misc/old.md", post("Old", "2024-01-01"));
    site.write("content/misc/new.md", post("New", "2024-05-01"));
    site.write("content/misc/mid.md", post("Mid", "2024-03-01"));
    let report = site.build_ok();
    let warnings = warning_lines(&report);
    let warning = warnings
        .iter()
        .find(|w| w.contains("popularity"))
        .unwrap_or_else(|| panic!("no warning about the value: {warnings:?}"));
    assert!(warning.contains("content/misc/_index.md:3"), "{warning}");
    assert!(warning.contains("sort_by"), "{warning}");
    assert_eq!(card_titles(&site.html("misc/index.html")), ["New", "Mid", "Old"]);
}

#[test]
fn transparent_section_hands_its_pages_to_its_parent() {
    let site = Site::new();
    site.write("content/blog/_index.md", "+++\ntitle = \"Blog\"\n+++\n");
    site.write(
        "content/blog/2024/_index.md",
        "+++\ntitle = \"Year 2024\"\ntransparent = true\n+++\n",
    );
    site.write("content/blog/2024/a.md", post("In 2024", "2024-02-01"));
    site.write("content/blog/2023/_index.md", "+++\ntitle = \"Year 2023\"\n+++\n");
    site.write("content/blog/2023/c.md", post("In 2023", "2023-06-01"));
    site.write("content/blog/b.md", post("Direct", "2024-03-01"));
    site.build_ok();

    assert_eq!(
        card_titles(&site.html("blog/index.html")),
        ["Direct", "In 2024"],
        "2023 is not transparent"
    );
    assert_eq!(card_titles(&site.html("blog/2024/index.html")), ["In 2024"]);
    assert_eq!(texts(&site.html("blog/2024/a/index.html"), "main h1")[0], "In 2024");
    let sections = texts(&site.html("blog/index.html"), ".subsections a");
    assert_eq!(sections, ["Year 2023", "Year 2024"]);
}

#[test]
fn folders_without_index_are_sections_that_list_their_pages() {
    let site = Site::new();
    site.write("content/notes/a.md", post("Note A", "2024-01-01"));
    site.write("content/notes/b.md", post("Note B", "2024-02-01"));
    site.write("content/notes/deep/c.md", post("Note C", "2024-03-01"));
    site.build_ok();

    let notes = site.html("notes/index.html");
    assert_eq!(texts(&notes, "main h1")[0], "Notes");
    assert_eq!(card_titles(&notes), ["Note B", "Note A"]);
    assert_eq!(attrs(&notes, ".subsections a", "href"), ["https://example.org/notes/deep/"]);
    assert_eq!(card_titles(&site.html("notes/deep/index.html")), ["Note C"]);
    assert!(site.exists("notes/deep/c/index.html"));
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    assert!(locs.contains(&"https://example.org/notes/".to_string()), "{locs:?}");
    assert!(locs.contains(&"https://example.org/notes/deep/".to_string()), "{locs:?}");
}

#[test]
fn home_page_lists_dated_posts_of_every_section_newest_first() {
    let site = Site::new();
    site.write("content/about.md", "+++\ntitle = \"About\"\n+++\nWho we are.\n");
    site.write("content/root-post.md", post("Root post", "2024-02-01"));
    site.write("content/blog/a.md", post("Blog post", "2024-03-01"));
    site.write("content/blog/deep/c.md", post("Deep post", "2024-04-01"));
    site.write("content/notes/b.md", post("Note", "2024-01-01"));
    site.build_ok();

    let home = site.html("index.html");
    assert_eq!(card_titles(&home), ["Deep post", "Blog post", "Root post", "Note"]);
    assert!(site.exists("about/index.html"), "an undated root page is still a page");
    assert_eq!(
        attrs(&home, ".post-card__title a", "href"),
        [
            "https://example.org/blog/deep/c/",
            "https://example.org/blog/a/",
            "https://example.org/root-post/",
            "https://example.org/notes/b/",
        ]
    );
}

// URLs.

#[test]
fn page_path_is_taken_as_written_from_the_site_root() {
    let site = Site::new();
    site.write(
        "content/blog/some.md",
        "+++\ntitle = \"Some\"\npath = \"2019/05/15/Some-Post\"\n+++\n",
    );
    site.write("content/blog/me.md", "+++\ntitle = \"Me\"\npath = \"/about-me/\"\n+++\n");
    site.write("content/blog/v.md", "+++\ntitle = \"V\"\npath = \"docs/v1.2\"\n+++\n");
    site.build_ok();

    let html = site.html("2019/05/15/Some-Post/index.html");
    assert_eq!(texts(&html, "main h1")[0], "Some");
    assert_eq!(
        attrs(&html, "link[rel=canonical]", "href"),
        ["https://example.org/2019/05/15/Some-Post/"]
    );
    assert!(site.exists("about-me/index.html"));
    assert!(site.exists("docs/v1.2/index.html"), "{:?}", site.files());
    assert!(!site.exists("blog/some/index.html") && !site.exists("blog/me/index.html"));
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    for url in [
        "https://example.org/2019/05/15/Some-Post/",
        "https://example.org/about-me/",
        "https://example.org/docs/v1.2/",
    ] {
        assert!(locs.contains(&url.to_string()), "{url}: {locs:?}");
    }
}

#[test]
fn slug_replaces_the_file_name_in_the_url() {
    let site = Site::new();
    site.write(
        "content/blog/original-name.md",
        "+++\ntitle = \"Renamed\"\nslug = \"Better Name\"\n+++\n",
    );
    site.write("content/blog/kept.md", "+++\ntitle = \"Kept\"\nslug = \"kept-as-is\"\n+++\n");
    site.build_ok();
    assert_eq!(texts(&site.html("blog/better-name/index.html"), "main h1")[0], "Renamed");
    assert!(site.exists("blog/kept-as-is/index.html"));
    assert!(!site.exists("blog/original-name/index.html"));
    assert!(!site.exists("blog/kept/index.html"));
}

#[test]
fn date_prefix_in_the_file_name_gives_the_date_and_leaves_the_slug() {
    let site = Site::new();
    site.write("content/blog/2024-03-05-hello.md", "+++\ntitle = \"Hello\"\n+++\n");
    site.write("content/blog/2024-03-06_under.md", "+++\ntitle = \"Under\"\n+++\n");
    site.write(
        "content/blog/2024-03-07-both.md",
        "+++\ntitle = \"Both\"\ndate = 2023-01-01\n+++\n",
    );
    site.write("content/blog/2024-03-not-a-prefix.md", "+++\ntitle = \"Partial\"\n+++\n");
    site.write("content/blog/2024-03-08-trip/index.md", "+++\ntitle = \"Bundle\"\n+++\n");
    site.build_ok();
    let bundle = site.html("blog/trip/index.html");
    assert_eq!(
        attrs(&bundle, "main time", "datetime")[0],
        "2024-03-08T00:00:00Z",
        "a bundle folder's prefix"
    );

    let hello = site.html("blog/hello/index.html");
    assert_eq!(attrs(&hello, "main time", "datetime")[0], "2024-03-05T00:00:00Z");
    let under = site.html("blog/under/index.html");
    assert_eq!(attrs(&under, "main time", "datetime")[0], "2024-03-06T00:00:00Z");
    let both = site.html("blog/both/index.html");
    assert_eq!(
        attrs(&both, "main time", "datetime")[0],
        "2023-01-01T00:00:00Z",
        "front matter wins"
    );
    assert!(site.exists("blog/2024-03-not-a-prefix/index.html"), "{:?}", site.files());
    assert!(
        attrs(&site.html("blog/2024-03-not-a-prefix/index.html"), "main time", "datetime")
            .is_empty()
    );
    assert_eq!(
        card_titles(&site.html("blog/index.html"))[..4],
        ["Bundle", "Under", "Hello", "Both"]
    );

    // The prefix is midnight in the site timezone.
    let berlin = Site::new();
    berlin.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\ntimezone = \"Europe/Berlin\"\n",
    );
    berlin.write("content/2024-03-05-hello.md", "+++\ntitle = \"Hello\"\n+++\n");
    berlin.build_ok();
    assert_eq!(
        attrs(&berlin.html("hello/index.html"), "main time", "datetime")[0],
        "2024-03-04T23:00:00Z"
    );
}

#[test]
fn aliases_write_redirect_pages_to_the_absolute_url() {
    let site = Site::new();
    site.write(
        "content/blog/moved.md",
        "+++\ntitle = \"Moved\"\naliases = [\"/old/path/\", \"legacy.html\", \"2019/01/x\"]\n+++\n",
    );
    site.build_ok();
    for file in ["old/path/index.html", "legacy.html", "2019/01/x/index.html"] {
        let (to, canonical) = redirect_target(&site, file);
        assert_eq!(to, "https://example.org/blog/moved/", "{file}");
        assert_eq!(canonical, "https://example.org/blog/moved/", "{file}");
        let html = site.html(file);
        assert_eq!(attrs(&html, "meta[name=robots]", "content"), ["noindex"], "{file}");
        assert_eq!(attrs(&html, "body a", "href"), ["https://example.org/blog/moved/"], "{file}");
    }
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    assert!(locs.iter().all(|l| !l.contains("old/path") && !l.contains("legacy")), "{locs:?}");
}

#[test]
fn bundle_assets_are_copied_beside_the_page_and_listed() {
    let site = Site::new();
    site.write(
        "templates/bundle.html",
        "<ul id=\"assets\">{% for a in page.assets %}<li>{{ a }}</li>{% endfor %}</ul>\n\
         <div id=\"content\">{{ page.content | safe }}</div>\n",
    );
    site.write(
        "content/blog/trip/index.md",
        "+++\ntitle = \"Trip\"\ntemplate = \"bundle.html\"\n+++\n![A photo](photo.jpg)\n",
    );
    let photo: &[u8] = b"\xff\xd8\xff\xe0 not really a jpeg";
    site.write("content/blog/trip/photo.jpg", photo);
    site.write("content/blog/trip/files/data.txt", "1,2,3\n");
    site.build_ok();

    assert_eq!(std::fs::read(site.out().join("blog/trip/photo.jpg")).unwrap(), photo);
    assert_eq!(site.read("blog/trip/files/data.txt"), "1,2,3\n");
    let html = site.html("blog/trip/index.html");
    assert_eq!(
        texts(&html, "#assets li"),
        ["https://example.org/blog/trip/files/data.txt", "https://example.org/blog/trip/photo.jpg"]
    );
    assert_eq!(
        attrs(&html, "#content img", "src"),
        ["photo.jpg"],
        "a relative link resolves beside the page"
    );
    assert!(!site.exists("blog/trip/files/index.html"), "a folder in a bundle is not a section");
}

// Taxonomies.

#[test]
fn taxonomies_write_index_and_term_pages_and_merge_terms_that_slug_alike() {
    let site = Site::new();
    site.write(
        "content/a.md",
        "+++\ntitle = \"A\"\ndate = 2024-01-01\ntags = [\"Rust\", \"Web Dev\"]\ncategories = [\"Code\"]\nauthors = [\"Ann Lee\"]\n+++\n",
    );
    site.write(
        "content/b.md",
        "+++\ntitle = \"B\"\ndate = 2024-02-01\n[taxonomies]\ntags = [\"rust\", \"web-dev\"]\ncategories = [\"Code\"]\n+++\n",
    );
    site.write("content/c.md", "---\ntitle: C\ndate: 2024-03-01\ntags: [Rust]\n---\n");
    site.build_ok();

    let tags = site.html("tags/index.html");
    assert_eq!(texts(&tags, "main h1")[0], "Tags");
    assert_eq!(
        attrs(&tags, ".term-list a", "href"),
        ["https://example.org/tags/rust/", "https://example.org/tags/web-dev/"]
    );
    assert_eq!(texts(&tags, ".tag__count"), ["3 pages", "2 pages"]);
    assert_eq!(texts(&tags, ".term-list a")[0].split_whitespace().next(), Some("Rust"));

    let rust = site.html("tags/rust/index.html");
    assert_eq!(texts(&rust, "main h1")[0], "Rust", "the spelling most pages use");
    assert_eq!(card_titles(&rust), ["C", "B", "A"]);
    assert_eq!(texts(&site.html("tags/web-dev/index.html"), "main h1")[0], "Web Dev");
    assert_eq!(card_titles(&site.html("tags/web-dev/index.html")), ["B", "A"]);
    assert_eq!(card_titles(&site.html("categories/code/index.html")), ["B", "A"]);
    assert_eq!(card_titles(&site.html("authors/ann-lee/index.html")), ["A"]);
    assert!(site.exists("categories/index.html") && site.exists("authors/index.html"));
    let author = texts(&site.html("authors/index.html"), ".term-list a");
    assert_eq!(author[0].split_whitespace().collect::<Vec<_>>(), ["Ann", "Lee", "1", "page"]);

    // A page links each of its terms once.
    let b = site.html("b/index.html");
    assert_eq!(
        attrs(&b, ".post__footer a.tag", "href"),
        [
            "https://example.org/categories/code/",
            "https://example.org/tags/rust/",
            "https://example.org/tags/web-dev/"
        ]
    );
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    for url in [
        "tags/",
        "tags/rust/",
        "tags/web-dev/",
        "categories/",
        "categories/code/",
        "authors/ann-lee/",
    ] {
        assert!(locs.contains(&format!("https://example.org/{url}")), "{url}: {locs:?}");
    }
}

#[test]
fn undeclared_taxonomy_builds_with_a_warning_naming_the_file() {
    let site = Site::new();
    site.write(
        "content/d.md",
        "+++\ntitle = \"D\"\ndate = 2024-01-01\n[taxonomies]\nseries = [\"Part One\"]\n+++\n",
    );
    let report = site.build_ok();
    let warnings = warning_lines(&report);
    assert!(
        warnings.iter().any(|w| w.contains("content/d.md") && w.contains("`series`")),
        "{warnings:?}"
    );
    assert_eq!(card_titles(&site.html("series/part-one/index.html")), ["D"]);
    assert!(site.exists("series/index.html"));

    // Declared, it builds without the warning.
    site.write("kiln.toml", "base_url = \"https://example.org\"\ntitle = \"Test\"\ntaxonomies = [{ name = \"series\" }]\n");
    let report = site.build_ok();
    assert!(warning_lines(&report).iter().all(|w| !w.contains("series")), "{:?}", report.warnings);
}

#[test]
fn each_term_has_its_own_feeds() {
    let site = Site::new();
    site.write(
        "content/a.md",
        "+++\ntitle = \"A\"\ndate = 2024-01-01\ntags = [\"rust\", \"web\"]\n+++\n",
    );
    site.write("content/b.md", "+++\ntitle = \"B\"\ndate = 2024-02-01\ntags = [\"rust\"]\n+++\n");
    site.write("content/c.md", "+++\ntitle = \"C\"\ndate = 2024-03-01\ntags = [\"web\"]\n+++\n");
    site.build_ok();
    let atom = site.read("tags/rust/atom.xml");
    assert_eq!(entries(&atom, "entry", "title"), ["B", "A"]);
    assert_eq!(entries(&site.read("tags/rust/rss.xml"), "item", "title"), ["B", "A"]);
    assert_eq!(entries(&site.read("tags/web/atom.xml"), "entry", "title"), ["C", "A"]);
    let doc = roxmltree::Document::parse(&atom).unwrap();
    let self_link = doc
        .descendants()
        .find(|n| n.tag_name().name() == "link" && n.attribute("rel") == Some("self"))
        .and_then(|n| n.attribute("href"));
    assert_eq!(self_link, Some("https://example.org/tags/rust/atom.xml"));
}

// Feeds, sitemap and the site files.

#[test]
fn feeds_take_the_limit_from_config_per_site_and_per_section() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\n[feeds]\nlimit = 2\n",
    );
    site.write("content/blog/_index.md", "+++\ntitle = \"Blog\"\ngenerate_feeds = true\n+++\n");
    site.write("content/blog/b1.md", post("B1", "2024-01-01"));
    site.write("content/blog/b2.md", post("B2", "2024-01-03"));
    site.write("content/blog/b3.md", post("B3", "2024-01-05"));
    site.write(
        "content/blog/draft.md",
        "+++\ntitle = \"Draft\"\ndate = 2024-01-06\ndraft = true\n+++\n",
    );
    site.write("content/notes/n1.md", post("N1", "2024-01-04"));
    site.write("content/about.md", "+++\ntitle = \"About\"\n+++\n");
    site.build_ok();

    let atom = site.read("atom.xml");
    assert_eq!(entries(&atom, "entry", "title"), ["B3", "N1"]);
    assert_eq!(entries(&site.read("rss.xml"), "item", "title"), ["B3", "N1"]);
    let blog_atom = site.read("blog/atom.xml");
    assert_eq!(entries(&blog_atom, "entry", "title"), ["B3", "B2"]);
    assert_eq!(entries(&site.read("blog/rss.xml"), "item", "title"), ["B3", "B2"]);
    assert!(!site.exists("notes/atom.xml") && !site.exists("notes/rss.xml"), "no generate_feeds");

    // Every link is absolute.
    for file in ["atom.xml", "blog/atom.xml"] {
        let xml = site.read(file);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let hrefs: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("href")).collect();
        assert!(!hrefs.is_empty());
        assert!(hrefs.iter().all(|h| h.starts_with("https://example.org")), "{file}: {hrefs:?}");
        let ids = entries(&xml, "entry", "id");
        assert!(ids.iter().all(|h| h.starts_with("https://example.org/")), "{file}: {ids:?}");
    }
    for file in ["rss.xml", "blog/rss.xml"] {
        let links = xml_texts(&site.read(file), "link");
        assert!(links.iter().all(|l| l.starts_with("https://example.org")), "{file}: {links:?}");
        assert_eq!(entries(&site.read(file), "item", "link")[0], "https://example.org/blog/b3/");
    }
    let home = site.html("index.html");
    assert_eq!(
        attrs(&home, "link[type=\"application/atom+xml\"]", "href"),
        ["https://example.org/atom.xml"]
    );
    assert_eq!(
        attrs(&home, "link[type=\"application/rss+xml\"]", "href"),
        ["https://example.org/rss.xml"]
    );
    assert!(!atom.contains("Draft") && !blog_atom.contains("Draft"));
}

#[test]
fn site_feeds_link_to_the_home_page_url() {
    let site = Site::new();
    site.write("content/a.md", post("A", "2024-01-01"));
    site.build_ok();
    let home = attrs(&site.html("index.html"), "link[rel=canonical]", "href").remove(0);
    assert_eq!(home, "https://example.org/");
    let atom = site.read("atom.xml");
    let doc = roxmltree::Document::parse(&atom).unwrap();
    let feed = doc.root_element();
    let alternate = feed
        .children()
        .find(|n| n.tag_name().name() == "link" && n.attribute("rel") == Some("alternate"))
        .and_then(|n| n.attribute("href"));
    assert_eq!(alternate, Some(home.as_str()));
    let id = feed.children().find(|n| n.tag_name().name() == "id").and_then(|n| n.text());
    assert_eq!(id, Some(home.as_str()));
    let rss = site.read("rss.xml");
    let doc = roxmltree::Document::parse(&rss).unwrap();
    let channel = doc.descendants().find(|n| n.tag_name().name() == "channel").unwrap();
    let link = channel.children().find(|n| n.tag_name().name() == "link").and_then(|n| n.text());
    assert_eq!(link, Some(home.as_str()));
}

#[test]
fn feeds_turned_off_write_no_feed_and_no_feed_links() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\ngenerate_feeds = false\n",
    );
    site.write("content/a.md", "+++\ntitle = \"A\"\ndate = 2024-01-01\ntags = [\"x\"]\n+++\n");
    site.build_ok();
    let files = site.files();
    assert!(files.iter().all(|f| !f.ends_with("atom.xml") && !f.ends_with("rss.xml")), "{files:?}");
    let home = site.html("index.html");
    assert!(attrs(&home, "link[rel=alternate]", "href").is_empty());
}

#[test]
fn sitemap_lists_pages_sections_pagers_and_taxonomy_pages() {
    let site = Site::new();
    site.write("content/about.md", "+++\ntitle = \"About\"\n+++\n");
    site.write("content/blog/_index.md", "+++\ntitle = \"Blog\"\npaginate_by = 1\n+++\n");
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\ndate = 2024-01-01\ntags = [\"x\"]\n+++\n");
    site.write(
        "content/blog/b.md",
        "+++\ntitle = \"B\"\ndate = 2024-02-01\nupdated = 2024-05-01T10:00:00Z\naliases = [\"/old/\"]\n+++\n",
    );
    site.write("content/draft.md", "+++\ntitle = \"Draft\"\ndraft = true\n+++\n");
    site.build_ok();

    let xml = site.read("sitemap.xml");
    let mut locs = xml_texts(&xml, "loc");
    locs.sort();
    let expected: Vec<String> =
        ["", "about/", "blog/", "blog/a/", "blog/b/", "blog/page/2/", "tags/", "tags/x/"]
            .iter()
            .map(|p| format!("https://example.org/{p}"))
            .collect();
    assert_eq!(locs, expected);

    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(
        doc.root_element().tag_name().namespace(),
        Some("http://www.sitemaps.org/schemas/sitemap/0.9")
    );
    let lastmod = |url: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == "url" && n.children().any(|c| c.text() == Some(url)))
            .and_then(|n| n.children().find(|c| c.tag_name().name() == "lastmod"))
            .and_then(|n| n.text())
            .map(str::to_string)
    };
    assert_eq!(lastmod("https://example.org/blog/b/").as_deref(), Some("2024-05-01T10:00:00Z"));
    assert_eq!(lastmod("https://example.org/blog/a/").as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(lastmod("https://example.org/blog/").as_deref(), Some("2024-05-01T10:00:00Z"));
}

#[test]
fn robots_txt_points_at_the_sitemap() {
    let site = Site::new();
    site.build_ok();
    let robots = site.read("robots.txt");
    assert!(robots.lines().any(|l| l == "Sitemap: https://example.org/sitemap.xml"), "{robots}");
    assert!(robots.lines().any(|l| l == "User-agent: *"), "{robots}");

    site.write(
        "templates/robots.txt",
        "User-agent: *\nDisallow: /private/\nSitemap: {{ config.base_url }}/sitemap.xml\n",
    );
    site.build_ok();
    assert_eq!(
        site.read("robots.txt"),
        "User-agent: *\nDisallow: /private/\nSitemap: https://example.org/sitemap.xml\n"
    );
}

#[test]
fn not_found_page_is_written_and_kept_out_of_search_engines() {
    let site = Site::new();
    site.build_ok();
    let html = site.html("404.html");
    assert_eq!(texts(&html, "main h1"), ["Page not found"]);
    assert_eq!(texts(&html, "title")[0], "Page not found · Test");
    assert_eq!(meta(&html, "robots"), "noindex");
    assert_eq!(attrs(&html, "main a.button", "href"), ["https://example.org/"]);
    assert!(!xml_texts(&site.read("sitemap.xml"), "loc").iter().any(|l| l.contains("404")));
}

#[test]
fn search_index_holds_every_searchable_page() {
    let site = Site::new();
    site.write(
        "content/a.md",
        "+++\ntitle = \"A & B\"\ndescription = \"About A\"\ndate = 2024-01-01\n+++\n",
    );
    site.write("content/blog/undated.md", "+++\ntitle = \"Undated\"\n+++\n");
    site.write("content/hidden.md", "+++\ntitle = \"Hidden\"\nin_search_index = false\n+++\n");
    site.write("content/draft.md", "+++\ntitle = \"Draft\"\ndraft = true\n+++\n");
    site.build_ok();
    let index: serde_json::Value = serde_json::from_str(&site.read("search_index.json")).unwrap();
    let expected = serde_json::json!([
        { "title": "A & B", "url": "https://example.org/a/", "description": "About A", "date": "2024-01-01T00:00:00Z" },
        { "title": "Undated", "url": "https://example.org/blog/undated/", "description": null, "date": null },
    ]);
    assert_eq!(index, expected);

    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\nbuild_search_index = false\n",
    );
    site.build_ok();
    assert!(!site.exists("search_index.json"));
}

#[test]
fn static_files_are_copied_and_replace_theme_files() {
    let site = Site::new();
    let logo: &[u8] = b"\x89PNG\r\n\x1a\nfake";
    site.write("static/img/logo.png", logo);
    site.write("static/CNAME", "example.org\n");
    site.write("static/style.css", "body { color: red; }\n");
    site.write("static/.hidden", "secret");
    site.build_ok();
    assert_eq!(std::fs::read(site.out().join("img/logo.png")).unwrap(), logo);
    assert_eq!(site.read("CNAME"), "example.org\n");
    assert_eq!(site.read("style.css"), "body { color: red; }\n", "the site's file wins");
    assert!(site.exists("favicon.svg"), "other theme files are still copied");
    // Hidden files are published too, as `.nojekyll` and `.htaccess` must be.
    assert_eq!(site.read(".hidden"), "secret");
}

// Templates.

#[test]
fn site_template_overrides_the_default_one() {
    let site = Site::new();
    site.write(
        "templates/page.html",
        "<h1 id=\"custom\">{{ page.title }}</h1>{{ page.content | safe }}",
    );
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\nHello.\n");
    site.build_ok();
    assert_eq!(site.read("a/index.html"), "<h1 id=\"custom\">A</h1><p>Hello.</p>\n");
    assert!(site.read("index.html").contains("<main"), "other defaults still apply");
}

/// A theme folder that overrides `page.html` and `section.html` and ships its own stylesheet.
fn partial_theme(site: &Site, with_stylesheet: bool) {
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\ntheme = \"mine\"\n",
    );
    site.write("themes/mine/templates/page.html", "theme page: {{ page.title }}");
    site.write("themes/mine/templates/section.html", "theme section: {{ section.title }}");
    site.write("themes/mine/static/theme.css", "/* theme */\n");
    if with_stylesheet {
        site.write("themes/mine/static/style.css", "/* theme style */\n");
    }
    site.write("templates/section.html", "site section: {{ section.title }}");
    site.write("content/blog/_index.md", "+++\ntitle = \"Blog\"\n+++\n");
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\n+++\n");
}

#[test]
fn theme_templates_override_defaults_and_site_templates_override_the_theme() {
    let site = Site::new();
    partial_theme(&site, true);
    site.build_ok();
    assert_eq!(site.read("blog/a/index.html"), "theme page: A");
    assert_eq!(site.read("blog/index.html"), "site section: Blog");
    assert_eq!(site.read("theme.css"), "/* theme */\n");
    assert_eq!(site.read("style.css"), "/* theme style */\n");
    assert!(site.read("index.html").contains("<main"), "the default index.html is still there");
}

#[test]
fn theme_that_overrides_some_templates_builds_with_the_default_rest() {
    let site = Site::new();
    partial_theme(&site, false);
    site.build_ok();
    assert_eq!(site.read("blog/a/index.html"), "theme page: A");
    let home = site.html("index.html");
    let css = attrs(&home, "link[rel=stylesheet]", "href");
    assert_eq!(css.len(), 1);
    let file =
        css[0].trim_start_matches("https://example.org/").split('?').next().unwrap().to_string();
    assert!(site.exists(&file), "the stylesheet the default templates link to, {file}, is missing");
    assert!(site.exists("favicon.svg"), "the icon the default templates link to is missing");
}

#[test]
fn custom_template_can_extend_a_default_one() {
    let site = Site::new();
    site.write(
        "templates/wide.html",
        "{% extends \"page.html\" %}{% block page_content %}<div id=\"wide\">{{ page.content | safe }}</div>{% endblock page_content %}",
    );
    site.write(
        "content/a.md",
        "+++\ntitle = \"Wide page\"\ntemplate = \"wide.html\"\n+++\nWide text.\n",
    );
    site.write("content/shelf/_index.md", "+++\npage_template = \"wide.html\"\n+++\n");
    site.write("content/shelf/b.md", "+++\ntitle = \"Shelf page\"\n+++\nShelf text.\n");
    site.build_ok();
    for (file, title, text) in [
        ("a/index.html", "Wide page", "Wide text."),
        ("shelf/b/index.html", "Shelf page", "Shelf text."),
    ] {
        let html = site.html(file);
        assert_eq!(texts(&html, "h1.post__title"), [title], "{file}: the default frame stays");
        assert_eq!(inner(&html, "#wide").trim(), format!("<p>{text}</p>"), "{file}");
        assert!(texts(&html, ".post__content").is_empty(), "{file}: the block is replaced");
    }
}

#[test]
fn page_template_applies_to_pages_of_subsections() {
    let site = Site::new();
    site.write("templates/post.html", "post template: {{ page.title }}");
    site.write("content/blog/_index.md", "+++\npage_template = \"post.html\"\n+++\n");
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\n+++\n");
    site.write("content/blog/2024/b.md", "+++\ntitle = \"B\"\n+++\n");
    site.write("content/blog/2023/_index.md", "+++\ntitle = \"2023\"\n+++\n");
    site.write("content/blog/2023/c.md", "+++\ntitle = \"C\"\n+++\n");
    site.build_ok();
    assert_eq!(site.read("blog/a/index.html"), "post template: A");
    assert_eq!(site.read("blog/2024/b/index.html"), "post template: B");
    assert_eq!(site.read("blog/2023/c/index.html"), "post template: C");
}

/// A page and a section that name templates nobody provides.
fn missing_templates(site: &Site) {
    site.write("content/a.md", "+++\ntitle = \"A\"\ntemplate = \"nope.html\"\n+++\n");
    site.write(
        "content/blog/_index.md",
        "+++\ntemplate = \"gone.html\"\npage_template = \"missing.html\"\n+++\n",
    );
    site.write("content/blog/b.md", "+++\ntitle = \"B\"\n+++\n");
}

#[test]
fn content_naming_a_missing_template_fails_naming_the_content_file() {
    let site = Site::new();
    missing_templates(&site);
    let lines = error_lines(&site.build_err());
    let find = |needle: &str| {
        lines.iter().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {lines:?}"))
    };
    assert!(find("nope.html").contains("content/a.md"));
    assert!(find("gone.html").contains("content/blog/_index.md"));
    assert!(find("missing.html").contains("content/blog/_index.md"));
    assert!(
        find("`template` names the template `nope.html`")
            .contains("neither templates/ nor the theme")
    );
    assert!(!site.out().exists() || site.files().is_empty(), "a failed build writes nothing");
}

#[test]
fn missing_template_is_reported_once() {
    let site = Site::new();
    missing_templates(&site);
    let lines = error_lines(&site.build_err());
    for name in ["nope.html", "gone.html", "missing.html"] {
        let about: Vec<&String> = lines.iter().filter(|l| l.contains(name)).collect();
        assert_eq!(about.len(), 1, "{name}: {about:#?}");
    }
}

#[test]
fn pages_carry_title_description_canonical_open_graph_and_json_ld() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\ndescription = \"A test site\"\n",
    );
    site.write(
        "content/blog/seo.md",
        "+++\ntitle = \"Hello & </script> welcome\"\ndescription = \"A page about SEO\"\ndate = 2024-01-02T03:04:05Z\nauthors = [\"Ann\"]\ntags = [\"Rust\"]\n+++\nBody.\n",
    );
    site.build_ok();
    let html = site.html("blog/seo/index.html");
    let url = "https://example.org/blog/seo/";
    assert_eq!(texts(&html, "title"), ["Hello & </script> welcome · Test"]);
    assert_eq!(meta(&html, "description"), "A page about SEO");
    assert_eq!(attrs(&html, "link[rel=canonical]", "href"), [url]);
    assert_eq!(meta(&html, "og:title"), "Hello & </script> welcome");
    assert_eq!(meta(&html, "og:description"), "A page about SEO");
    assert_eq!(meta(&html, "og:url"), url);
    assert_eq!(meta(&html, "og:type"), "article");
    assert_eq!(meta(&html, "og:site_name"), "Test");
    assert_eq!(meta(&html, "article:published_time"), "2024-01-02T03:04:05Z");
    assert_eq!(meta(&html, "article:tag"), "Rust");

    let scripts = texts(&html, "script[type=\"application/ld+json\"]");
    assert_eq!(scripts.len(), 1);
    let ld: serde_json::Value =
        serde_json::from_str(&scripts[0]).unwrap_or_else(|e| panic!("{e}: {}", scripts[0]));
    assert_eq!(ld["@type"], "BlogPosting");
    assert_eq!(ld["headline"], "Hello & </script> welcome");
    assert_eq!(ld["datePublished"], "2024-01-02T03:04:05Z");
    assert_eq!(ld["url"], url);
    assert_eq!(ld["description"], "A page about SEO");
    assert_eq!(ld["author"][0]["name"], "Ann");

    // A list page is a website, described by the site.
    let blog = site.html("blog/index.html");
    assert_eq!(meta(&blog, "og:type"), "website");
    assert_eq!(meta(&blog, "description"), "A test site");
    assert_eq!(attrs(&blog, "link[rel=canonical]", "href"), ["https://example.org/blog/"]);
    assert!(texts(&blog, "script[type=\"application/ld+json\"]").is_empty());
}

// Config and the command's options.

#[test]
fn base_url_option_replaces_the_config_everywhere() {
    let site = Site::new();
    site.write(
        "content/blog/a.md",
        "+++\ntitle = \"A\"\ndate = 2024-01-01\ntags = [\"x\"]\n+++\n[self](@/blog/a.md)\n",
    );
    let mut request = site.request();
    request.base_url = Some("https://staging.example.net/".to_string());
    kiln::build(&request).unwrap_or_else(|f| panic!("{f}"));

    let html = site.html("blog/a/index.html");
    assert_eq!(
        attrs(&html, "link[rel=canonical]", "href"),
        ["https://staging.example.net/blog/a/"]
    );
    assert_eq!(attrs(&html, ".post__content a", "href"), ["https://staging.example.net/blog/a/"]);
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    assert!(locs.iter().all(|l| l.starts_with("https://staging.example.net/")), "{locs:?}");
    assert_eq!(
        entries(&site.read("atom.xml"), "entry", "id"),
        ["https://staging.example.net/blog/a/"]
    );
    assert!(site.read("robots.txt").contains("Sitemap: https://staging.example.net/sitemap.xml"));
    for file in site.files() {
        let Ok(text) = String::from_utf8(std::fs::read(site.out().join(&file)).unwrap()) else {
            continue;
        };
        assert!(!text.contains("example.org"), "the config's base_url is left in {file}");
    }
}

#[test]
fn bad_base_url_fails_naming_the_setting() {
    let site = Site::new();
    site.write("kiln.toml", "base_url = \"example.org\"\ntitle = \"Test\"\n");
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("kiln.toml")
            && lines[0].contains("base_url")
            && lines[0].contains("example.org"),
        "{}",
        lines[0]
    );
    assert!(!site.exists("index.html"));

    let site = Site::new();
    let mut request = site.request();
    request.base_url = Some("ftp://example.org".to_string());
    let failed = kiln::build(&request).expect_err("a bad --base-url fails");
    let lines = error_lines(&failed);
    assert!(
        lines.iter().any(|l| l.contains("--base-url") && l.contains("ftp://example.org")),
        "{lines:?}"
    );
    assert!(!site.exists("index.html"));
}

#[test]
fn unknown_key_inside_a_config_table_fails_naming_the_line_and_the_choices() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\n[feeds]\nlimt = 3\n",
    );
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("kiln.toml:4")
            && lines[0].contains("`limt`")
            && lines[0].contains("`limit`"),
        "{}",
        lines[0]
    );
}

#[test]
fn unknown_config_key_is_a_warning_naming_it() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\ncolour = \"red\"\n",
    );
    let report = site.build_ok();
    let warnings = warning_lines(&report);
    assert!(
        warnings.iter().any(|w| w.contains("kiln.toml") && w.contains("`colour`")),
        "{warnings:?}"
    );
    assert!(site.exists("index.html"));
}

// Safe writing.

#[test]
fn paths_and_aliases_that_climb_out_are_refused_naming_the_file() {
    let site = Site::new();
    site.write("content/evil.md", "+++\ntitle = \"Evil\"\npath = \"../x\"\n+++\n");
    site.write("content/alias.md", "+++\ntitle = \"Alias\"\naliases = [\"../../etc\"]\n+++\n");
    site.write("content/ok.md", "+++\ntitle = \"Ok\"\n+++\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("content/evil.md") && l.contains("../x")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("content/alias.md") && l.contains("../../etc")),
        "{lines:?}"
    );
    assert!(!site.root().join("x").exists());
    assert!(!site.root().join("etc").exists());
    assert!(!site.root().parent().unwrap().join("etc/index.html").exists());
    assert!(!site.out().exists() || site.files().is_empty(), "{:?}", site.files());
}

#[test]
fn raw_slugs_cannot_leave_the_output_folder() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\n[slugify]\npaths = \"off\"\n",
    );
    site.write("content/a.md", "+++\ntitle = \"Evil\"\nslug = \"../../evil\"\n+++\n");
    site.build_ok();
    let everywhere: Vec<std::path::PathBuf> = walkdir::WalkDir::new(site.root())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "index.html")
        .map(|e| e.into_path())
        .collect();
    let pages: Vec<&std::path::PathBuf> =
        everywhere.iter().filter(|p| **p != site.out().join("index.html")).collect();
    assert_eq!(pages.len(), 1, "{everywhere:?}");
    let page = pages[0].strip_prefix(site.out()).expect("the page is inside the output folder");
    assert_eq!(page.components().count(), 2, "one folder for the slug: {}", page.display());
    let html = scraper::Html::parse_document(&std::fs::read_to_string(pages[0]).unwrap());
    assert_eq!(texts(&html, "main h1"), ["Evil"]);
    assert!(!site.root().parent().unwrap().join("evil").exists());
}

#[test]
fn failed_build_leaves_the_output_folder_unchanged() {
    let site = Site::new();
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\ndate = 2024-01-01\ntags = [\"x\"]\n+++\n");
    site.write("content/blog/b.md", "+++\ntitle = \"B\"\ndate = 2024-01-02\n+++\n");
    site.build_ok();
    let before = snapshot(&site.out());
    let folders_before = folders(&site.out());

    site.write(
        "content/blog/a.md",
        "+++\ntitle = \"A changed\"\ndate = 2024-01-01\ntags = [\"y\"]\n+++\n",
    );
    site.write("content/blog/new/index.md", "+++\ntitle = \"New\"\ndate = 2024-01-03\n+++\n");
    site.write("content/blog/new/pic.png", "png");
    site.write("content/blog/b.md", "+++\ntitle = \"B\"\ndate = \"not a date\"\n+++\n");
    let failed = site.build_err();
    assert!(error_lines(&failed).iter().any(|l| l.contains("content/blog/b.md:3")), "{failed}");
    assert_eq!(snapshot(&site.out()), before, "a failed build changed the output");
    assert_eq!(folders(&site.out()), folders_before);

    // A render error, found while staging, changes nothing either.
    site.write("content/blog/b.md", "+++\ntitle = \"B\"\ndate = 2024-01-02\n+++\n");
    site.write("templates/page.html", "{{ page.extra.missing | upper }}");
    site.build_err();
    assert_eq!(snapshot(&site.out()), before, "a failed render changed the output");
    assert_eq!(folders(&site.out()), folders_before);

    site.remove("templates/page.html");
    site.build_ok();
    assert_eq!(texts(&site.html("blog/a/index.html"), "main h1")[0], "A changed");
}

#[test]
fn unchanged_rebuild_writes_nothing() {
    let site = Site::new();
    site.write("content/blog/_index.md", "+++\ntitle = \"Blog\"\npaginate_by = 1\n+++\n");
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\ndate = 2024-01-01\ntags = [\"x\"]\n+++\n");
    site.write("content/blog/b/index.md", "+++\ntitle = \"B\"\ndate = 2024-01-02\n+++\n");
    site.write("content/blog/b/pic.png", "png");
    site.write("static/robots-extra.txt", "x");
    let first = site.build_ok();
    assert_eq!(first.write.written.len(), first.outputs);
    let bytes = snapshot(&site.out());

    let second = site.build_ok();
    assert!(second.write.written.is_empty(), "{:?}", second.write.written);
    assert!(second.write.removed.is_empty(), "{:?}", second.write.removed);
    assert_eq!(second.write.unchanged, second.outputs);

    // Saving a file again with the same bytes changes nothing either.
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\ndate = 2024-01-01\ntags = [\"x\"]\n+++\n");
    let third = site.build_ok();
    assert!(third.write.written.is_empty(), "{:?}", third.write.written);
    assert_eq!(snapshot(&site.out()), bytes);

    // One changed title rewrites the outputs that show it, not the rest.
    site.write(
        "content/blog/a.md",
        "+++\ntitle = \"A2\"\ndate = 2024-01-01\ntags = [\"x\"]\n+++\n",
    );
    let fourth = site.build_ok();
    assert!(
        fourth.write.written.contains(&"blog/a/index.html".to_string()),
        "{:?}",
        fourth.write.written
    );
    assert!(!fourth.write.written.contains(&"blog/b/pic.png".to_string()));
    assert!(!fourth.write.written.contains(&"style.css".to_string()));
}

#[test]
fn deleting_a_post_removes_its_outputs_and_empty_folders() {
    let site = Site::new();
    site.write(
        "content/blog/keep.md",
        "+++\ntitle = \"Keep\"\ndate = 2024-01-01\ntags = [\"common\"]\n+++\n",
    );
    site.write(
        "content/blog/trip/index.md",
        "+++\ntitle = \"Trip\"\ndate = 2024-01-02\ntags = [\"common\", \"solo\"]\naliases = [\"/old/trip/\"]\n+++\n",
    );
    site.write("content/blog/trip/pics/photo.jpg", "jpg");
    site.build_ok();
    assert!(site.exists("blog/trip/pics/photo.jpg") && site.exists("tags/solo/index.html"));

    site.remove("content/blog/trip/index.md");
    site.remove("content/blog/trip/pics/photo.jpg");
    std::fs::remove_dir_all(site.root().join("content/blog/trip")).unwrap();
    let report = site.build_ok();
    for gone in [
        "blog/trip/index.html",
        "blog/trip/pics/photo.jpg",
        "old/trip/index.html",
        "tags/solo/index.html",
        "tags/solo/atom.xml",
    ] {
        assert!(
            report.write.removed.contains(&gone.to_string()),
            "{gone}: {:?}",
            report.write.removed
        );
        assert!(!site.exists(gone), "{gone}");
    }
    for dir in ["blog/trip", "old", "tags/solo"] {
        assert!(!site.out().join(dir).exists(), "the empty folder {dir} is left");
    }
    assert_eq!(card_titles(&site.html("blog/index.html")), ["Keep"]);
    assert!(site.exists("tags/common/index.html"));
}

#[test]
fn builds_are_byte_for_byte_deterministic() {
    let files: Vec<(String, String)> = {
        let mut files = vec![
            (
                "content/blog/_index.md".to_string(),
                "+++\ntitle = \"Blog\"\npaginate_by = 3\ngenerate_feeds = true\n+++\n".to_string(),
            ),
            (
                "content/about.md".to_string(),
                "+++\ntitle = \"About\"\n[extra]\nz = 1\na = 2\nm = 3\n+++\n".to_string(),
            ),
        ];
        for n in 0..12 {
            let tags = format!("[\"t{}\", \"t{}\", \"Shared\"]", n % 4, n % 3);
            files.push((
                format!("content/blog/post-{n:02}.md"),
                format!("+++\ntitle = \"Post {n}\"\ndate = 2024-01-{:02}\ntags = {tags}\ncategories = [\"c{}\"]\n+++\n## Part\n\nText {n}.\n", n % 5 + 1, n % 2),
            ));
        }
        files.push(("content/notes/n/index.md".to_string(), post("Bundle", "2024-02-01")));
        files.push(("content/notes/n/a.txt".to_string(), "a".to_string()));
        files.push(("content/notes/n/b.txt".to_string(), "b".to_string()));
        files
    };
    let one = Site::new();
    for (path, text) in &files {
        one.write(path, text);
    }
    // The second copy is written in the opposite order, with file times that run backwards.
    let two = Site::new();
    for (i, (path, text)) in files.iter().rev().enumerate() {
        two.write(path, text);
        let time = std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(1_000_000 * (i as u64 + 1));
        std::fs::File::options()
            .write(true)
            .open(two.root().join(path))
            .unwrap()
            .set_modified(time)
            .unwrap();
    }

    // Each build runs on a pool of its own size, so thread order differs too.
    let build_into = |site: &Site, name: &str, threads: usize| {
        let mut request = site.request();
        let out = site.root().join(name);
        request.output = Some(out.clone());
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| kiln::build(&request)).unwrap_or_else(|f| panic!("{f}"));
        snapshot(&out)
    };
    let a = build_into(&one, "out-a", 1);
    let b = build_into(&one, "out-b", 4);
    let c = build_into(&two, "out-c", 3);
    assert!(a.len() > 30, "{}", a.len());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert_eq!(a.keys().collect::<Vec<_>>(), c.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(b[path] == *bytes, "{path} differs between two builds");
        assert!(c[path] == *bytes, "{path} differs with another file order and file times");
    }
}

// Drafts and future posts.

#[test]
fn drafts_are_published_when_asked_for() {
    let mut site = Site::new();
    site.write(
        "content/blog/draft.md",
        "+++\ntitle = \"Draft\"\ndate = 2024-02-01\ndraft = true\ntags = [\"x\"]\n+++\n",
    );
    site.write("content/blog/live.md", post("Live", "2024-01-01"));
    let report = site.build_ok();
    assert_eq!(report.pages, 1);
    assert!(!site.exists("blog/draft/index.html"));

    site.drafts = true;
    let report = site.build_ok();
    assert_eq!(report.pages, 2);
    assert!(report.skipped.is_empty());
    assert_eq!(texts(&site.html("blog/draft/index.html"), "main h1")[0], "Draft");
    assert_eq!(card_titles(&site.html("blog/index.html")), ["Draft", "Live"]);
    assert_eq!(card_titles(&site.html("index.html")), ["Draft", "Live"]);
    assert_eq!(card_titles(&site.html("tags/x/index.html")), ["Draft"]);
}

#[test]
fn future_posts_are_decided_against_the_fixed_now() {
    // NOW is 2025-06-01T00:00:00Z.
    let site = Site::new();
    site.write("content/at-now.md", "+++\ntitle = \"At now\"\ndate = 2025-06-01T00:00:00Z\n+++\n");
    site.write(
        "content/just-after.md",
        "+++\ntitle = \"Just after\"\ndate = 2025-06-01T00:00:01Z\n+++\n",
    );
    site.write(
        "content/offset.md",
        "+++\ntitle = \"Offset\"\ndate = 2025-06-01T01:30:00+02:00\n+++\n",
    );
    site.write("content/day.md", "+++\ntitle = \"Day\"\ndate = 2025-06-01\n+++\n");
    site.write("content/prefix/2025-06-02-tomorrow.md", "+++\ntitle = \"Tomorrow\"\n+++\n");
    let report = site.build_ok();
    let skipped: Vec<String> =
        report.skipped.iter().map(|(s, why)| format!("{s} {why:?}")).collect();
    assert_eq!(
        skipped,
        ["content/just-after.md Future", "content/prefix/2025-06-02-tomorrow.md Future"]
    );
    assert_eq!(card_titles(&site.html("index.html")), ["At now", "Day", "Offset"]);

    // A date without an offset is read in the site timezone: midnight in New York is later.
    let ny = Site::new();
    ny.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\ntimezone = \"America/New_York\"\n",
    );
    ny.write("content/day.md", "+++\ntitle = \"Day\"\ndate = 2025-06-01\n+++\n");
    ny.write("content/eve.md", "+++\ntitle = \"Eve\"\ndate = 2025-05-31T19:59:59\n+++\n");
    let report = ny.build_ok();
    let skipped: Vec<String> =
        report.skipped.iter().map(|(s, why)| format!("{s} {why:?}")).collect();
    assert_eq!(skipped, ["content/day.md Future"]);
    assert!(ny.exists("eve/index.html"));
}

// Template functions.

#[test]
fn template_functions_and_date_filter_work_from_a_site_template() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\ntimezone = \"Europe/Berlin\"\n",
    );
    site.write("static/img/logo.png", "logo bytes");
    site.write("content/blog/_index.md", "+++\ntitle = \"The blog\"\n+++\n");
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\ndate = 2024-03-05T23:30:00Z\ntags = [\"Rust\"]\n+++\n## Part\nText of A.\n");
    site.write("content/blog/b.md", "+++\ntitle = \"B\"\ndate = 2024-01-01\n+++\n");
    site.write("content/funcs.md", "+++\ntitle = \"Funcs\"\ntemplate = \"funcs.html\"\n+++\n");
    site.write(
        "templates/funcs.html",
        r##"<p id="url-page">{{ get_url(path="@/blog/a.md") }}</p>
<p id="url-section">{{ get_url(path="@/blog/_index.md") }}</p>
<p id="url-anchor">{{ get_url(path="@/blog/a.md#part") }}</p>
<p id="url-static">{{ get_url(path="img/logo.png") }}</p>
<p id="url-bust">{{ get_url(path="img/logo.png", cachebust=true) }}</p>
{% set a = get_page(path="blog/a.md") %}<p id="page-title">{{ a.title }}</p><div id="page-content">{{ a.content | safe }}</div>
{% set s = get_section(path="blog/_index.md") %}<p id="section-title">{{ s.title }}</p>
<ul id="section-pages">{% for p in s.pages %}<li>{{ p.title }}</li>{% endfor %}</ul>
{% set tags = get_taxonomy(kind="tags") %}<ul id="tax-terms">{% for t in tags.terms %}<li>{{ t.name }} {{ t.page_count }} {{ t.permalink }}</li>{% endfor %}</ul>
<ul id="tax-items">{% for t in tags.items %}<li>{{ t.name }} {{ t.path }} {% for p in t.pages %}{{ p.title }}{% endfor %}</li>{% endfor %}</ul><p id="tax-kind">{{ tags.kind.name }}</p>
<p id="tax-url">{{ get_taxonomy_url(kind="tags", name="Rust") }}</p>
<p id="tax-url-lower">{{ get_taxonomy_url(kind="tags", name="rust") }}</p>
<p id="date">{{ a.date | date(format="%Y-%m-%d %H:%M") }}</p>
<p id="date-utc">{{ a.date | date(format="%Y-%m-%d %H:%M", timezone="UTC") }}</p>
<p id="date-plain">{{ "2024-07-01" | date(format="%d.%m.%Y") }}</p>
"##,
    );
    site.build_ok();
    let html = site.html("funcs/index.html");
    assert_eq!(by_id(&html, "url-page"), "https://example.org/blog/a/");
    assert_eq!(by_id(&html, "url-section"), "https://example.org/blog/");
    assert_eq!(by_id(&html, "url-anchor"), "https://example.org/blog/a/#part");
    assert_eq!(by_id(&html, "url-static"), "https://example.org/img/logo.png");
    let hash = blake3::hash(b"logo bytes").to_hex();
    assert_eq!(
        by_id(&html, "url-bust"),
        format!("https://example.org/img/logo.png?h={}", &hash[..8])
    );
    assert_eq!(by_id(&html, "page-title"), "A");
    assert!(
        inner(&html, "#page-content").contains("<p>Text of A.</p>"),
        "{}",
        inner(&html, "#page-content")
    );
    assert_eq!(by_id(&html, "section-title"), "The blog");
    assert_eq!(texts(&html, "#section-pages li"), ["A", "B"]);
    assert_eq!(texts(&html, "#tax-terms li"), ["Rust 1 https://example.org/tags/rust/"]);
    // Zola's names for the same: `items` and `kind`.
    assert_eq!(texts(&html, "#tax-items li"), ["Rust /tags/rust/ A"]);
    assert_eq!(by_id(&html, "tax-kind"), "tags");
    assert_eq!(by_id(&html, "tax-url"), "https://example.org/tags/rust/");
    assert_eq!(by_id(&html, "tax-url-lower"), "https://example.org/tags/rust/");
    assert_eq!(by_id(&html, "date"), "2024-03-06 00:30", "shown in the site timezone");
    assert_eq!(by_id(&html, "date-utc"), "2024-03-05 23:30");
    assert_eq!(by_id(&html, "date-plain"), "01.07.2024");
}

#[test]
fn template_function_errors_name_the_missing_target() {
    let site = Site::new();
    site.write("templates/bad.html", "{{ get_url(path=\"@/nowhere.md\") }}");
    site.write("content/a.md", "+++\ntitle = \"A\"\ntemplate = \"bad.html\"\n+++\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("content/a.md") && lines[0].contains("nowhere.md"), "{}", lines[0]);
    assert!(lines[0].contains("templates/bad.html:1"), "{}", lines[0]);
}

// Markdown.

#[test]
fn markdown_features_render_end_to_end() {
    let site = Site::new();
    site.write(
        "templates/md.html",
        "{% extends \"page.html\" %}{% block page_after_content %}\
         <ul id=\"toc\">{% for h in page.toc %}<li data-level=\"{{ h.level }}\" data-id=\"{{ h.id }}\">{{ h.title }}\
         {% for c in h.children %}<i data-level=\"{{ c.level }}\" data-id=\"{{ c.id }}\">{{ c.title }}</i>{% endfor %}</li>{% endfor %}</ul>\
         <p id=\"words\">{{ page.word_count }}</p><p id=\"minutes\">{{ page.reading_time }}</p>\
         <div id=\"summary\">{{ page.summary | safe }}</div>{% endblock page_after_content %}",
    );
    site.write(
        "content/blog/md.md",
        "+++\ntitle = \"Markdown\"\ndate = 2024-01-02\ntemplate = \"md.html\"\n+++\n\
         Intro with ~~gone~~ text and a note.[^n]\n\n<!-- more -->\n\n## First part\n\n\
         | Name | Value |\n|------|------:|\n| one  | 1     |\n\n- [x] done\n- [ ] todo\n\n\
         ### Sub part\n\nLink to [the top](#first-part).\n\n## Second part\n\nAfter the fold.\n\n[^n]: The note.\n",
    );
    site.build_ok();
    let html = site.html("blog/md/index.html");

    assert_eq!(texts(&html, ".post__content del"), ["gone"]);
    assert_eq!(texts(&html, ".post__content table th"), ["Name", "Value"]);
    assert_eq!(texts(&html, ".post__content table td"), ["one", "1"]);
    assert_eq!(attrs(&html, ".post__content table td", "style").len(), 1, "the right-aligned cell");
    let boxes = scraper::Selector::parse(".post__content li input[type=checkbox]").unwrap();
    let checked: Vec<bool> =
        html.select(&boxes).map(|b| b.value().attr("checked").is_some()).collect();
    assert_eq!(checked, [true, false]);
    assert!(html.select(&boxes).all(|b| b.value().attr("disabled").is_some()));

    // The footnote reference and its definition link to each other.
    let reference = attrs(&html, ".post__content sup a", "href");
    assert_eq!(reference.len(), 1);
    let target = reference[0].trim_start_matches('#');
    let definition = scraper::Selector::parse(&format!("[id=\"{target}\"]")).unwrap();
    let def = html.select(&definition).next().expect("the footnote definition");
    assert!(def.text().collect::<String>().contains("The note."));

    // Heading ids, anchor links and the table of contents.
    assert_eq!(attrs(&html, ".post__content h2", "id"), ["first-part", "second-part"]);
    assert_eq!(
        attrs(&html, ".post__content h2 a.heading-anchor", "href"),
        ["#first-part", "#second-part"]
    );
    assert_eq!(attrs(&html, ".post__content h3", "id"), ["sub-part"]);
    assert_eq!(attrs(&html, "#toc > li", "data-id"), ["first-part", "second-part"]);
    assert_eq!(attrs(&html, "#toc > li", "data-level"), ["2", "2"]);
    assert_eq!(attrs(&html, "#toc li i", "data-id"), ["sub-part"]);
    assert_eq!(attrs(&html, "#toc li i", "data-level"), ["3"]);
    assert_eq!(attrs(&html, "nav.toc a", "href"), ["#first-part", "#sub-part", "#second-part"]);
    assert_eq!(
        texts(&html, "nav.toc a"),
        ["First part", "Sub part", "Second part"],
        "no `#` in titles"
    );

    // The summary is what comes before `<!-- more -->`, and lists show it.
    let summary = inner(&html, "#summary");
    assert!(summary.contains("Intro with <del>gone</del> text"), "{summary}");
    assert!(!summary.contains("First part") && !summary.contains("After the fold"), "{summary}");
    let list = site.html("blog/index.html");
    let card = texts(&list, ".post-card__summary");
    assert_eq!(card.len(), 1);
    assert!(card[0].starts_with("Intro with gone text and a note."), "{card:?}");
    assert!(!card[0].contains("After the fold"));
    assert_eq!(attrs(&list, ".post-card__more a", "href"), ["https://example.org/blog/md/"]);
    assert_eq!(by_id(&html, "minutes"), "1");
}

#[test]
fn word_count_and_reading_time_count_prose_only() {
    let site = Site::new();
    site.write(
        "templates/count.html",
        "<p id=\"words\">{{ page.word_count }}</p><p id=\"minutes\">{{ page.reading_time }}</p>",
    );
    let prose = vec!["word"; 450].join(" ");
    let code = vec!["code"; 500].join(" ");
    site.write(
        "content/long.md",
        format!(
            "+++\ntitle = \"Long\"\ntemplate = \"count.html\"\n+++\n{prose}\n\n```\n{code}\n```\n"
        ),
    );
    site.write(
        "content/short.md",
        "+++\ntitle = \"Short\"\ntemplate = \"count.html\"\n+++\nJust three words.\n",
    );
    site.write(
        "content/listed.md",
        format!("+++\ntitle = \"Listed\"\ndate = 2024-01-01\n+++\n{prose}\n"),
    );
    site.build_ok();
    let long = site.html("long/index.html");
    assert_eq!(by_id(&long, "words"), "450");
    assert_eq!(by_id(&long, "minutes"), "3");
    let short = site.html("short/index.html");
    assert_eq!(by_id(&short, "words"), "3");
    assert_eq!(by_id(&short, "minutes"), "1");
    let listed = site.html("listed/index.html");
    assert!(texts(&listed, ".post__header .meta__item").contains(&"3 min read".to_string()));
}

#[test]
fn internal_links_resolve_and_a_missing_target_fails_naming_the_line() {
    let site = Site::new();
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\n+++\n");
    site.write("content/blog/_index.md", "+++\ntitle = \"Blog\"\n+++\n");
    site.write(
        "content/b.md",
        "+++\ntitle = \"B\"\n+++\nSee [a](@/blog/a.md), [its part](@/blog/a.md#top) and [the blog](@/blog/_index.md).\n",
    );
    site.build_ok();
    let html = site.html("b/index.html");
    assert_eq!(
        attrs(&html, ".post__content a", "href"),
        [
            "https://example.org/blog/a/",
            "https://example.org/blog/a/#top",
            "https://example.org/blog/"
        ]
    );

    site.write("content/c.md", "+++\ntitle = \"C\"\n+++\nLine one.\n\n[gone](@/blog/gone.md)\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("content/c.md:6") && lines[0].contains("blog/gone.md"),
        "{}",
        lines[0]
    );
}

#[test]
fn image_with_an_internal_link_was_written_unresolved_without_a_warning() {
    let site = Site::new();
    site.write("content/blog/_index.md", "+++\ntitle = \"Blog\"\n+++\n");
    site.write("content/blog/gallery/index.md", "+++\ntitle = \"Gallery\"\n+++\n");
    site.write("content/blog/gallery/pic2.png", b"png bytes");
    site.write("content/blog/notes.pdf", b"pdf bytes");
    site.write(
        "content/b.md",
        "+++\ntitle = \"B\"\n+++\n![a picture](@/blog/gallery/pic2.png)\n\n\
         [the picture](@/blog/gallery/pic2.png) and [the notes](@/blog/notes.pdf)\n",
    );
    site.build_ok();
    let html = site.html("b/index.html");
    assert_eq!(
        attrs(&html, ".post__content img", "src"),
        ["https://example.org/blog/gallery/pic2.png"]
    );
    assert_eq!(
        attrs(&html, ".post__content a", "href"),
        ["https://example.org/blog/gallery/pic2.png", "https://example.org/blog/notes.pdf"]
    );
    assert_eq!(site.read("blog/gallery/pic2.png"), "png bytes");
    assert_eq!(site.read("blog/notes.pdf"), "pdf bytes");

    // An image that names no file fails the build like a link does, with its line.
    site.write("content/c.md", "+++\ntitle = \"C\"\n+++\nText.\n\n![gone](@/blog/gone.png)\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("content/c.md:6") && lines[0].contains("@/blog/gone.png"),
        "{}",
        lines[0]
    );
    // Once the file exists, the same text builds.
    site.write("content/blog/gone.png", b"now here");
    site.build_ok();
    assert_eq!(
        attrs(&site.html("c/index.html"), ".post__content img", "src"),
        ["https://example.org/blog/gone.png"]
    );
}

#[test]
fn smart_punctuation_is_an_option() {
    let site = Site::new();
    site.write("content/q.md", "+++\ntitle = \"Q\"\n+++\n\"Quoted\" -- and... done\n");
    site.build_ok();
    assert!(
        inner(&site.html("q/index.html"), ".post__content").contains("\"Quoted\" -- and... done")
    );
    site.write("kiln.toml", "base_url = \"https://example.org\"\ntitle = \"Test\"\n[markdown]\nsmart_punctuation = true\n");
    site.build_ok();
    let text = texts(&site.html("q/index.html"), ".post__content p");
    assert_eq!(text, ["“Quoted” – and… done"]);
}

#[test]
fn list_pages_with_footnoted_summaries_keep_ids_unique_and_links_working() {
    let site = Site::new();
    for (file, date) in [("a", "2024-01-01"), ("b", "2024-01-02")] {
        site.write(
            &format!("content/{file}.md"),
            format!("+++\ntitle = \"{file}\"\ndate = {date}\n+++\nIntro.[^1]\n\n[^1]: Note of {file}.\n\n<!-- more -->\n\nRest.\n"),
        );
    }
    site.build_ok();
    let home = site.html("index.html");
    let mut ids = attrs(&home, "[id]", "id");
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "duplicate ids on the home page");
    for href in attrs(&home, "main a[href^=\"#\"]", "href") {
        let id = href.trim_start_matches('#');
        assert!(ids.iter().any(|i| i == id), "`{href}` points at nothing on the home page");
    }
}

// Section settings beyond sorting and pagination.

#[test]
fn section_extra_redirect_to_and_render_false_are_honoured() {
    let site = Site::new();
    site.write("templates/extra.html", "<p id=\"colour\">{{ section.extra.colour }}</p>");
    site.write(
        "content/styled/_index.md",
        "+++\ntemplate = \"extra.html\"\n[extra]\ncolour = \"teal\"\n+++\n",
    );
    site.write("content/moved/_index.md", "+++\nredirect_to = \"styled\"\n+++\n");
    site.write("content/hidden/_index.md", "+++\nrender = false\n+++\n");
    site.write("content/hidden/p.md", "+++\ntitle = \"P\"\n+++\n");
    site.build_ok();
    assert_eq!(by_id(&site.html("styled/index.html"), "colour"), "teal");
    assert_eq!(redirect_target(&site, "moved/index.html").0, "https://example.org/styled/");
    assert!(!site.exists("hidden/index.html"));
    assert!(
        site.exists("hidden/p/index.html"),
        "the pages of an unrendered section are still written"
    );
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    assert!(!locs.iter().any(|l| l.ends_with("/hidden/") || l.ends_with("/moved/")), "{locs:?}");
}

#[test]
fn subsections_are_ordered_by_weight() {
    let site = Site::new();
    site.write("content/docs/_index.md", "+++\ntitle = \"Docs\"\n+++\n");
    for (dir, title, weight) in
        [("a-last", "Last", 30), ("b-first", "First", 10), ("c-middle", "Middle", 20)]
    {
        site.write(
            &format!("content/docs/{dir}/_index.md"),
            format!("+++\ntitle = \"{title}\"\nweight = {weight}\n+++\n"),
        );
    }
    site.build_ok();
    assert_eq!(texts(&site.html("docs/index.html"), ".subsections a"), ["First", "Middle", "Last"]);
}

#[test]
fn section_in_search_index_false_leaves_its_pages_out_of_the_index() {
    let site = Site::new();
    site.write("content/private/_index.md", "+++\nin_search_index = false\n+++\n");
    site.write("content/private/p.md", "+++\ntitle = \"Private\"\n+++\n");
    site.write("content/public.md", "+++\ntitle = \"Public\"\n+++\n");
    site.build_ok();
    let index: Vec<serde_json::Value> =
        serde_json::from_str(&site.read("search_index.json")).unwrap();
    let titles: Vec<&str> = index.iter().map(|e| e["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Public"]);
}

#[test]
fn heading_anchor_links_can_be_turned_off_for_the_site() {
    let site = Site::new();
    site.write("kiln.toml", "base_url = \"https://example.org\"\ntitle = \"Test\"\n[markdown]\ninsert_anchor_links = false\n");
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\n## Part\n");
    site.build_ok();
    let html = site.html("a/index.html");
    assert_eq!(attrs(&html, ".post__content h2", "id"), ["part"]);
    assert!(attrs(&html, ".post__content a.heading-anchor", "href").is_empty());
}

#[test]
fn section_insert_anchor_links_none_drops_the_anchor_links_of_its_pages() {
    let site = Site::new();
    site.write("content/plain/_index.md", "+++\ninsert_anchor_links = \"none\"\n+++\n");
    site.write("content/plain/a.md", "+++\ntitle = \"A\"\n+++\n## Part\n");
    site.write("content/b.md", "+++\ntitle = \"B\"\n+++\n## Part\n");
    site.build_ok();
    let plain = site.html("plain/a/index.html");
    assert_eq!(attrs(&plain, ".post__content h2", "id"), ["part"]);
    assert!(attrs(&plain, ".post__content a.heading-anchor", "href").is_empty());
    assert_eq!(
        attrs(&site.html("b/index.html"), ".post__content a.heading-anchor", "href"),
        ["#part"]
    );
}

#[test]
fn section_feed_is_newest_first_whatever_the_section_order() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\n[feeds]\nlimit = 2\n",
    );
    site.write("content/docs/_index.md", "+++\nsort_by = \"weight\"\ngenerate_feeds = true\n+++\n");
    site.write(
        "content/docs/a.md",
        "+++\ntitle = \"Old, light\"\ndate = 2024-01-01\nweight = 1\n+++\n",
    );
    site.write(
        "content/docs/b.md",
        "+++\ntitle = \"New, heavy\"\ndate = 2024-03-01\nweight = 3\n+++\n",
    );
    site.write("content/docs/c.md", "+++\ntitle = \"Mid\"\ndate = 2024-02-01\nweight = 2\n+++\n");
    site.write(
        "content/log/_index.md",
        "+++\npaginate_reversed = true\npaginate_by = 5\ngenerate_feeds = true\n+++\n",
    );
    site.write("content/log/x.md", post("X old", "2024-01-01"));
    site.write("content/log/y.md", post("Y new", "2024-02-01"));
    site.build_ok();
    assert_eq!(card_titles(&site.html("docs/index.html")), ["Old, light", "Mid", "New, heavy"]);
    assert_eq!(entries(&site.read("docs/atom.xml"), "entry", "title"), ["New, heavy", "Mid"]);
    assert_eq!(entries(&site.read("docs/rss.xml"), "item", "title"), ["New, heavy", "Mid"]);
    assert_eq!(entries(&site.read("log/atom.xml"), "entry", "title"), ["Y new", "X old"]);
}

#[test]
fn taxonomy_terms_paginate_when_the_taxonomy_says() {
    let site = Site::new();
    site.write("kiln.toml", "base_url = \"https://example.org\"\ntitle = \"Test\"\ntaxonomies = [{ name = \"tags\", paginate_by = 2 }]\n");
    for n in 1..=3 {
        site.write(
            &format!("content/p{n}.md"),
            format!("+++\ntitle = \"P{n}\"\ndate = 2024-01-0{n}\ntags = [\"t\"]\n+++\n"),
        );
    }
    site.build_ok();
    assert_eq!(card_titles(&site.html("tags/t/index.html")), ["P3", "P2"]);
    let two = site.html("tags/t/page/2/index.html");
    assert_eq!(card_titles(&two), ["P1"]);
    assert_eq!(attrs(&two, ".pagination a[rel=prev]", "href"), ["https://example.org/tags/t/"]);
    assert_eq!(redirect_target(&site, "tags/t/page/1/index.html").0, "https://example.org/tags/t/");
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    assert!(locs.contains(&"https://example.org/tags/t/page/2/".to_string()), "{locs:?}");
}

#[test]
fn alias_onto_an_existing_page_fails_naming_both_sources() {
    let site = Site::new();
    site.write("content/about.md", "+++\ntitle = \"About\"\n+++\n");
    site.write("content/new.md", "+++\ntitle = \"New\"\naliases = [\"about\"]\n+++\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    for needle in ["about/index.html", "content/about.md", "content/new.md"] {
        assert!(lines[0].contains(needle), "{needle}: {}", lines[0]);
    }
}

#[test]
fn outputs_of_removed_static_files_and_unpublished_drafts_are_removed() {
    let mut site = Site::new();
    site.write("static/old.txt", "old");
    site.write("content/draft.md", "+++\ntitle = \"Draft\"\ndraft = true\n+++\n");
    site.drafts = true;
    site.build_ok();
    assert!(site.exists("old.txt") && site.exists("draft/index.html"));

    site.remove("static/old.txt");
    site.drafts = false;
    let report = site.build_ok();
    assert!(!site.exists("old.txt") && !site.exists("draft/index.html"));
    assert!(!site.out().join("draft").exists());
    assert!(report.write.removed.contains(&"old.txt".to_string()), "{:?}", report.write.removed);
    assert!(
        report.write.removed.contains(&"draft/index.html".to_string()),
        "{:?}",
        report.write.removed
    );
}

#[test]
fn base_url_with_a_path_prefixes_every_url() {
    let site = Site::new();
    site.write("kiln.toml", "base_url = \"https://example.org/site/\"\ntitle = \"Test\"\n");
    site.write(
        "content/blog/a.md",
        "+++\ntitle = \"A\"\ndate = 2024-01-01\n+++\n[home](@/_index.md)\n",
    );
    site.build_ok();
    let html = site.html("blog/a/index.html");
    assert_eq!(attrs(&html, "link[rel=canonical]", "href"), ["https://example.org/site/blog/a/"]);
    assert_eq!(attrs(&html, ".post__content a", "href"), ["https://example.org/site/"]);
    assert!(
        attrs(&html, "link[rel=stylesheet]", "href")[0]
            .starts_with("https://example.org/site/style.css?h=")
    );
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    assert!(locs.iter().all(|l| l.starts_with("https://example.org/site/")), "{locs:?}");
    assert!(site.read("robots.txt").contains("Sitemap: https://example.org/site/sitemap.xml"));
    assert!(site.exists("blog/a/index.html"), "files stay at the output root");
}

#[test]
fn feed_content_links_resolve_against_the_page() {
    let site = Site::new();
    site.write("content/blog/trip/index.md", "+++\ntitle = \"Trip\"\ndate = 2024-01-01\n+++\n![A photo](photo.jpg) and [the notes](notes/)\n");
    site.write("content/blog/trip/photo.jpg", "jpg");
    site.build_ok();
    let page = "https://example.org/blog/trip/";
    let expected_img = "https://example.org/blog/trip/photo.jpg";

    // RSS has no base URL mechanism, so its content must hold absolute links.
    let rss = site.read("rss.xml");
    let description = entries(&rss, "item", "description").remove(0);
    let html = scraper::Html::parse_fragment(&description);
    assert_eq!(attrs(&html, "img", "src"), [expected_img]);
    assert_eq!(attrs(&html, "a", "href"), ["https://example.org/blog/trip/notes/"]);

    // Atom may either write absolute links or give the content an `xml:base` of the page.
    let atom = site.read("atom.xml");
    let doc = roxmltree::Document::parse(&atom).unwrap();
    let content = doc.descendants().find(|n| n.tag_name().name() == "content").unwrap();
    let html = scraper::Html::parse_fragment(content.text().unwrap());
    let src = attrs(&html, "img", "src").remove(0);
    let base = content
        .ancestors()
        .find_map(|n| n.attribute(("http://www.w3.org/XML/1998/namespace", "base")));
    let resolved =
        if src.starts_with("https://") { src } else { format!("{}{src}", base.unwrap_or("")) };
    assert_eq!(resolved, expected_img, "xml:base {base:?}, page {page}");
}

#[test]
fn output_files_deleted_by_hand_are_restored_and_foreign_files_kept() {
    let site = Site::new();
    site.write("content/blog/a.md", post("A", "2024-01-01"));
    site.build_ok();
    let before = snapshot(&site.out());
    std::fs::remove_file(site.out().join("blog/a/index.html")).unwrap();
    std::fs::remove_file(site.out().join("style.css")).unwrap();
    std::fs::write(site.out().join("CNAME"), "example.org\n").unwrap();
    std::fs::create_dir_all(site.out().join(".git")).unwrap();
    std::fs::write(site.out().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();

    let report = site.build_ok();
    assert_eq!(report.write.written, ["blog/a/index.html", "style.css"]);
    let mut after = snapshot(&site.out());
    assert_eq!(
        after.remove("CNAME").as_deref(),
        Some(&b"example.org\n"[..]),
        "a file Kiln did not write stays"
    );
    assert!(after.remove(".git/HEAD").is_some());
    assert_eq!(after, before);

    std::fs::remove_dir_all(site.out()).unwrap();
    site.build_ok();
    assert_eq!(snapshot(&site.out()), before, "a deleted output folder is rebuilt whole");
}

#[test]
fn output_files_edited_by_hand_are_repaired_on_the_next_build() {
    let site = Site::new();
    site.write("content/a.md", post("A", "2024-01-01"));
    site.build_ok();
    let good = site.read("a/index.html");
    let tampered = good.replacen("<h1", "<h2", 1);
    assert_eq!(tampered.len(), good.len());
    std::fs::write(site.out().join("a/index.html"), &tampered).unwrap();
    site.build_ok();
    assert!(site.read("a/index.html") == good, "the hand-edited output was not repaired");
}

#[test]
fn renamed_post_moves_its_output() {
    let site = Site::new();
    site.write("content/blog/2024-01-01-first-name.md", "+++\ntitle = \"Post\"\n+++\n");
    site.build_ok();
    assert!(site.exists("blog/first-name/index.html"));
    site.remove("content/blog/2024-01-01-first-name.md");
    site.write("content/blog/2024-01-01-second-name/index.md", "+++\ntitle = \"Post\"\n+++\n");
    let report = site.build_ok();
    assert!(site.exists("blog/second-name/index.html"));
    assert!(!site.out().join("blog/first-name").exists());
    assert_eq!(report.write.removed, ["blog/first-name/index.html"]);
    let locs = xml_texts(&site.read("sitemap.xml"), "loc");
    assert!(locs.contains(&"https://example.org/blog/second-name/".to_string()));
    assert!(!locs.iter().any(|l| l.contains("first-name")), "{locs:?}");
}

#[test]
fn section_and_home_lists_never_show_the_tags_of_their_pages() {
    let site = Site::new();
    site.write(
        "content/blog/tagged.md",
        "+++\ntitle = \"Tagged\"\ndate = 2024-01-02\ntags = [\"Rust\", \"Web\"]\n+++\nText.\n",
    );
    site.write("content/blog/plain.md", "+++\ntitle = \"Plain\"\ndate = 2024-01-01\n+++\nText.\n");
    site.build_ok();

    for list in ["index.html", "blog/index.html"] {
        let html = site.html(list);
        // One term box, for the tagged post only, with its two tags linking to their pages.
        assert_eq!(texts(&html, ".post-card .terms .tag"), ["Rust", "Web"], "{list}");
        assert_eq!(
            attrs(&html, ".post-card .terms .tag", "href"),
            ["https://example.org/tags/rust/", "https://example.org/tags/web/"],
            "{list}"
        );
        assert_eq!(texts(&html, ".post-card .terms").len(), 1, "{list}");
    }
}

/// Dates every file of the site an hour back, as on a site written earlier: only then does a
/// second build trust the files' times and take the no-change shortcut.
fn age_files(root: &Path) {
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in walkdir::WalkDir::new(root).into_iter().filter_map(Result::ok) {
        if entry.file_type().is_file() {
            let file = std::fs::File::options().write(true).open(entry.path()).unwrap();
            file.set_modified(past).unwrap();
        }
    }
}

#[test]
fn build_with_another_now_keeps_the_output_of_the_last_one() {
    let site = Site::new();
    site.write("content/old.md", "+++\ntitle = \"Old\"\ndate = 2020-01-01\n+++\nOld.\n");
    site.write("content/later.md", "+++\ntitle = \"Later\"\ndate = 2026-06-01\n+++\nLater.\n");
    age_files(site.root());
    let at = |now: &str| {
        let mut request = site.request();
        request.now = Some(now.parse().unwrap());
        request
    };

    // Moving "now" back leaves out a page the last build published.
    kiln::build(&at("2030-01-01T00:00:00Z")).unwrap();
    assert!(site.exists("later/index.html"));
    let report = kiln::build(&at("2025-01-01T00:00:00Z")).unwrap();
    assert_eq!(report.pages, 1);
    assert!(!site.exists("later/index.html"));
    assert_eq!(report.write.removed.iter().filter(|p| p.starts_with("later/")).count(), 1);

    // Moving it forward past the future page's date brings it in.
    let report = kiln::build(&at("2030-01-01T00:00:00Z")).unwrap();
    assert_eq!(report.pages, 2);
    assert!(site.exists("later/index.html"));

    // With "now" between the two dates of the last build's pages, nothing changes.
    age_files(site.root());
    kiln::build(&at("2031-01-01T00:00:00Z")).unwrap();
    let report = kiln::build(&at("2032-01-01T00:00:00Z")).unwrap();
    assert!(report.write.written.is_empty() && report.write.removed.is_empty());
    assert_eq!(report.pages, 2);
}

#[test]
fn hidden_files_in_static_are_dropped_without_a_word() {
    let site = Site::new();
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\nA.\n");
    site.write("static/.htaccess", "Options -Indexes\n");
    site.write("static/.nojekyll", "");
    site.write("static/.well-known/security.txt", "Contact: mailto:a@example.org\n");
    site.write("static/notes.tmp", "kept\n");
    // What editors and version control leave is still not published.
    site.write("static/.style.css.swp", "swap");
    site.write("static/style.css~", "backup");
    site.write("static/.git/config", "[core]\n");
    site.build_ok();

    assert_eq!(site.read(".htaccess"), "Options -Indexes\n");
    assert!(site.exists(".nojekyll"));
    assert!(site.exists(".well-known/security.txt"));
    assert_eq!(site.read("notes.tmp"), "kept\n");
    for leftover in [".style.css.swp", "style.css~", ".git/config"] {
        assert!(!site.exists(leftover), "{leftover}");
    }
}

#[test]
fn output_folder_inside_static_is_read_back_in_and_nests_deeper_each_build() {
    let site = Site::new();
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\nA.\n");
    site.write("static/logo.txt", "logo\n");
    for inside in ["static/gen", "content/out", "templates/out"] {
        let mut request = site.request();
        request.output = Some(site.root().join(inside));
        let failed = kiln::build(&request).expect_err("an output among the inputs is refused");
        let lines = error_lines(&failed);
        let top = inside.split('/').next().unwrap();
        assert!(
            lines.iter().any(|l| l.contains("inside") && l.contains(&format!("{top}/"))),
            "{lines:?}"
        );
        assert!(!site.root().join(inside).exists(), "{inside} was created");
    }
}

#[test]
fn unknown_filter_error_says_error_twice_and_names_the_template_without_its_folder() {
    let site = Site::new();
    site.write("content/a.md", "+++\ntitle = \"A\"\ntemplate = \"fancy.html\"\n+++\nA\n");
    site.write(
        "templates/fancy.html",
        "{% extends \"page.html\" %}\n{% block content %}{{ page.title | nosuchfilter }}{% endblock %}\n",
    );
    let failed = site.build_err();
    let lines = error_lines(&failed);
    assert_eq!(
        lines,
        ["error: templates/fancy.html:2: Unknown filter `nosuchfilter` (column 36)"],
        "{lines:?}"
    );
}

/// Errors found after the front matter was read (a `path` or alias that leaves the output
/// folder, a template nobody provides) used to name the file but no line.
#[test]
fn path_alias_and_template_errors_lacked_the_line_of_their_key() {
    let site = Site::new();
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\n\npath = \"../../etc\"\n+++\n");
    site.write(
        "content/blog/b.md",
        "+++\ntitle = \"B\"\naliases = [\n  \"/fine/\",\n  \"../../escape\",\n]\n+++\n",
    );
    site.write("content/blog/c.md", "---\ntitle: C\n# a comment\ntemplate: nope.html\n---\n");
    site.write(
        "content/blog/_index.md",
        "+++\ntitle = \"Blog\"\npage_template = \"gone.html\"\n+++\n",
    );
    let failed = site.build_err();
    let find = |needle: &str| {
        failed
            .diagnostics
            .iter()
            .find(|d| d.message.contains(needle))
            .map(|d| (d.source.as_ref().map(|s| s.to_string()).unwrap_or_default(), d.line))
            .unwrap_or_else(|| panic!("no error about {needle}: {:#?}", failed.diagnostics))
    };
    assert_eq!(find("etc"), ("content/blog/a.md".to_string(), Some(4)));
    assert_eq!(find("escape"), ("content/blog/b.md".to_string(), Some(5)));
    assert_eq!(find("nope.html"), ("content/blog/c.md".to_string(), Some(4)));
    assert_eq!(find("gone.html"), ("content/blog/_index.md".to_string(), Some(3)));
}

#[test]
fn two_pages_at_one_url_fail_naming_both_and_the_line_of_the_path() {
    let site = Site::new();
    site.write("content/blog/a.md", "+++\ntitle = \"A\"\npath = \"same\"\n+++\n");
    site.write("content/blog/b.md", "+++\ntitle = \"B\"\n\n\npath = \"same\"\n+++\n");
    let failed = site.build_err();
    let clash = failed
        .diagnostics
        .iter()
        .find(|d| d.message.contains("would all be written to `same/index.html`"))
        .unwrap_or_else(|| panic!("no clash error: {:#?}", failed.diagnostics));
    assert!(clash.message.contains("content/blog/a.md"), "{}", clash.message);
    assert!(clash.message.contains("content/blog/b.md"), "{}", clash.message);
    assert_eq!(clash.source.as_ref().map(|s| s.to_string()).as_deref(), Some("content/blog/a.md"));
    assert_eq!(clash.line, Some(3));
}

#[test]
fn site_template_extending_the_default_of_the_same_name_failed_as_circular() {
    let site = Site::new();
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\nText of A.\n");
    // Zola's way: the theme's template under `<theme>/templates/<name>`.
    site.write(
        "templates/page.html",
        "{% extends \"default/templates/page.html\" %}\n\
         {% block title %}Custom: {{ page.title }}{% endblock title %}\n",
    );
    site.build_ok();
    let html = site.html("a/index.html");
    assert_eq!(texts(&html, "title"), ["Custom: A · Test"]);
    assert!(inner(&html, ".post__content").contains("Text of A."), "the rest is the default's");

    // Extending its own name cannot work; the error names the file, the line of the
    // `extends` and the name that does work.
    site.write("templates/page.html", "{# mine #}\n{% extends \"page.html\" %}\n");
    let lines = error_lines(&site.build_err());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("templates/page.html:2: Circular extend"), "{}", lines[0]);
    assert!(lines[0].contains("\"default/templates/page.html\""), "{}", lines[0]);

    // A parent that does not exist names the file and line too.
    site.write("templates/page.html", "{% extends \"nowhere.html\" %}\n");
    let lines = error_lines(&site.build_err());
    assert!(lines[0].contains("templates/page.html:1: "), "{}", lines[0]);
    assert!(lines[0].contains("nowhere.html"), "{}", lines[0]);
}

#[test]
fn site_template_extends_the_template_of_its_theme_under_the_theme_name() {
    let site = Site::new();
    site.write(
        "kiln.toml",
        "base_url = \"https://example.org\"\ntitle = \"Test\"\ntheme = \"mine\"\n",
    );
    site.write(
        "themes/mine/templates/page.html",
        "{% extends \"base.html\" %}{% block content %}<p id=\"t\">theme {{ page.title }}</p>\
         {% block extra %}{% endblock extra %}{% endblock content %}",
    );
    site.write(
        "templates/page.html",
        "{% extends \"mine/templates/page.html\" %}{% block extra %}<p id=\"s\">site</p>{% endblock extra %}",
    );
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\n");
    site.build_ok();
    let html = site.html("a/index.html");
    assert_eq!(texts(&html, "#t"), ["theme A"]);
    assert_eq!(texts(&html, "#s"), ["site"]);
}

/// Sets the modification time of `path` to that of `like`.
fn same_mtime(path: &Path, like: &Path) {
    let time = std::fs::metadata(like).unwrap().modified().unwrap();
    std::fs::File::options().write(true).open(path).unwrap().set_modified(time).unwrap();
}

#[test]
fn edit_that_kept_size_and_time_was_missed_with_no_way_to_force_a_build() {
    let site = Site::new();
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\nSaid once.\n");
    site.write("content/b.md", "+++\ntitle = \"B\"\n+++\nText of B.\n");
    age_files(site.root());
    site.build_ok();
    age_files(&site.out());
    // Settles the record's stamps, so that the next build can take the no-change shortcut.
    site.build_ok();
    let source = site.root().join("content/a.md");
    let before = site.root().join("before");
    std::fs::copy(&source, &before).unwrap();
    same_mtime(&before, &source);
    // The same length and time, other bytes: only reading the file shows the edit.
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\nSaid twice\n");
    same_mtime(&source, &before);
    // An output edited by hand the same way.
    let output = site.out().join("b/index.html");
    let good = site.read("b/index.html");
    let tampered = good.replacen("Text of B.", "Text of X.", 1);
    std::fs::copy(&output, &before).unwrap();
    same_mtime(&before, &output);
    std::fs::write(&output, &tampered).unwrap();
    same_mtime(&output, &before);

    let trusting = site.build_ok();
    assert!(trusting.write.written.is_empty(), "the documented blind spot: {trusting:?}");
    assert!(site.read("a/index.html").contains("Said once."));

    let mut request = site.request();
    request.force = true;
    let forced = kiln::build(&request).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(forced.write.written, ["a/index.html", "b/index.html"], "{forced:?}");
    assert!(site.read("a/index.html").contains("Said twice"));
    assert_eq!(site.read("b/index.html"), good);
}

#[test]
fn render_each_renders_its_template_once_per_item_with_only_its_arguments() {
    let site = Site::new();
    site.write("content/a.md", post("Alpha", "2024-01-01"));
    site.write("content/b.md", post("Beta", "2024-02-01"));
    site.write(
        "templates/index.html",
        "{{ render_each(template=\"row.html\", items=section.pages, mark=\"*\", n=2) }}\
         [{{ render_each(template=\"row.html\", items=[]) }}]",
    );
    // A variable of the calling template is not the partial's.
    site.write(
        "templates/row.html",
        "<li>{{ mark | default(value=\"-\") }}{{ item.title }}/{{ n | default(value=0) }}/\
         {{ config.title }}/{{ page is defined }}</li>",
    );
    site.build_ok();
    assert_eq!(
        site.read("index.html"),
        "<li>*Beta/2/Test/false</li><li>*Alpha/2/Test/false</li>[]"
    );
}

#[test]
fn render_each_of_a_missing_template_or_a_non_list_names_it() {
    let site = Site::new();
    site.write("content/a.md", post("Alpha", "2024-01-01"));
    site.write("templates/index.html", "{{ render_each(template=\"nowhere.html\", items=[1]) }}");
    let lines = error_lines(&site.build_err());
    assert!(lines.iter().any(|l| l.contains("`nowhere.html`")), "{lines:?}");

    site.write("templates/row.html", "{{ item }}");
    site.write("templates/index.html", "{{ render_each(template=\"row.html\", items=3) }}");
    let lines = error_lines(&site.build_err());
    assert!(lines.iter().any(|l| l.contains("`items` must be a list")), "{lines:?}");
}

#[test]
fn render_each_of_a_template_that_renders_itself_overflowed_the_stack() {
    let site = Site::new();
    site.write("content/a.md", post("Alpha", "2024-01-01"));
    site.write(
        "templates/row.html",
        "<i>{{ item.title }}{{ render_each(template=\"row.html\", items=[item]) }}</i>",
    );
    site.write(
        "templates/index.html",
        "{{ render_each(template=\"row.html\", items=section.pages) }}",
    );
    let lines = error_lines(&site.build_err());
    assert!(lines.iter().any(|l| l.contains("`row.html` renders itself")), "{lines:?}");
}

#[test]
fn render_each_error_names_the_item_it_failed_on_and_its_misused_arguments() {
    let site = Site::new();
    site.write("content/a.md", post("Alpha", "2024-01-01"));
    site.write("content/b.md", post("Beta", "2024-02-01"));
    site.write(
        "templates/row.html",
        "{% if item.title == \"Alpha\" %}{{ item.extra.x.y }}{% endif %}",
    );
    let call = |args: &str| format!("{{{{ render_each(template=\"row.html\"{args}) }}}}");
    let failing = |args: &str| {
        site.write("templates/index.html", call(args));
        error_lines(&site.build_err()).join("\n")
    };
    let lines = failing(", items=section.pages");
    assert!(lines.contains("for the item `content/a.md`"), "{lines}");
    assert!(lines.contains("`x` is not defined"), "{lines}");
    // A misspelt `items` rendered nothing, silently.
    assert!(failing(", item=section.pages").contains("`items` is missing"));
    assert!(failing(", items=section.pages, config=1").contains("gets `config` from render_each"));
    assert!(failing(", items=section.pages, item=1").contains("gets `item` from render_each"));
    site.write("templates/index.html", "{{ render_each(template=5, items=[]) }}");
    let lines = error_lines(&site.build_err()).join("\n");
    assert!(lines.contains("`template` must be a template's name"), "{lines}");
}

#[test]
fn state_folder_kept_the_record_of_an_output_folder_long_gone() {
    let site = Site::new();
    site.write("content/a.md", post("Alpha", "2024-01-01"));
    let elsewhere = site.root().join("elsewhere");
    let mut request = site.request();
    request.output = Some(elsewhere.clone());
    kiln::build(&request).expect("the build into elsewhere/ succeeds");
    let state: Vec<String> = kept_state(&site);
    site.build_ok();
    let ids = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .filter_map(|n| n.strip_prefix("record-")?.strip_suffix(".json"))
            .map(String::from)
            .collect()
    };
    let gone = ids(&state);
    assert_eq!(gone.len(), 1, "{state:?}");
    assert_eq!(ids(&kept_state(&site)).len(), 2);

    std::fs::remove_dir_all(&elsewhere).unwrap();
    site.write("content/b.md", post("Beta", "2024-02-01"));
    site.build_ok();
    let left = kept_state(&site);
    assert_eq!(ids(&left).len(), 1, "{left:?}");
    assert!(left.iter().all(|name| !name.contains(&gone[0])), "{left:?}");
    assert!(site.exists("b/index.html"));
}

/// The names of the files in the site's `.kiln/`.
fn kept_state(site: &Site) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(site.root().join(".kiln"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
