//! A small generated site on disk and the random edits made to it, each returning the changes
//! a file watcher would report for it.
//!
//! The site has three sections: `blog` (an `_index.md` with pagination, a sort order and a
//! custom list template), `notes` (whose `_index.md` comes and goes) and the root. Posts carry
//! tags, categories, dates (some in the future), drafts, slugs, aliases and `@/` links to each
//! other. `templates/post.html` extends the default `page.html` and shows another page through
//! `get_page` and the blog through `get_section`; `templates/blog-list.html` extends
//! `section.html` and shows every tag through `get_taxonomy`. A stale dependency in an
//! incremental build shows in those.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kiln::Change;

/// The sections posts live in; `""` is the root section.
const SECTIONS: [&str; 3] = ["blog", "notes", ""];
const TAGS: [&str; 6] = ["rust", "web", "Rust", "notes", "x y", "café"];
const CATEGORIES: [&str; 3] = ["tech", "life", "Tech"];
const ALIASES: [&str; 3] = ["/old/", "/legacy/post/", "/one/"];
/// The slug two posts may both take, which makes the build fail until one gives it up.
const CLASH: &str = "clash";

#[derive(Clone, Debug)]
struct Post {
    section: &'static str,
    /// The file name without `.md` (or the bundle folder's name), date prefix included.
    stem: String,
    /// `stem/index.md` with an asset beside it, instead of `stem.md`.
    bundle: bool,
    title: Option<String>,
    date: Option<String>,
    draft: bool,
    slug: Option<String>,
    tags: Vec<&'static str>,
    categories: Vec<&'static str>,
    aliases: Vec<&'static str>,
    /// Content paths this post links to with `@/`, some with an anchor.
    links: Vec<String>,
    weight: Option<i32>,
    /// `template = "post.html"`.
    template: bool,
    /// Changes the body text.
    rev: u32,
}

impl Post {
    fn content_path(&self) -> String {
        let dir =
            if self.section.is_empty() { String::new() } else { format!("{}/", self.section) };
        if self.bundle {
            format!("{dir}{}/index.md", self.stem)
        } else {
            format!("{dir}{}.md", self.stem)
        }
    }

    /// The file (or bundle folder) under the site root.
    fn file(&self) -> String {
        let path = format!("content/{}", self.content_path());
        match self.bundle {
            true => path.trim_end_matches("/index.md").to_string(),
            false => path,
        }
    }

    /// Whether a default build publishes it: not a draft, not dated after "now".
    fn published(&self) -> bool {
        !self.draft && self.date.as_deref().is_none_or(|d| d < "2025-06-01")
    }

    fn text(&self) -> String {
        let mut t = String::from("+++\n");
        if let Some(title) = &self.title {
            writeln!(t, "title = {title:?}").unwrap();
        }
        if let Some(date) = &self.date {
            // Quoted and bare dates must read the same; both forms are used.
            match self.rev.is_multiple_of(2) && !date.contains('+') {
                true => writeln!(t, "date = {date:?}").unwrap(),
                false => writeln!(t, "date = {date}").unwrap(),
            }
        }
        if self.draft {
            t.push_str("draft = true\n");
        }
        if let Some(slug) = &self.slug {
            writeln!(t, "slug = {slug:?}").unwrap();
        }
        if let Some(weight) = self.weight {
            writeln!(t, "weight = {weight}").unwrap();
        }
        if self.template {
            t.push_str("template = \"post.html\"\n");
        }
        if !self.aliases.is_empty() {
            writeln!(t, "aliases = {:?}", self.aliases).unwrap();
        }
        if !self.tags.is_empty() {
            writeln!(t, "tags = {:?}", self.tags).unwrap();
        }
        if !self.categories.is_empty() {
            writeln!(t, "categories = {:?}", self.categories).unwrap();
        }
        t.push_str("+++\n");
        writeln!(t, "Intro of {} at revision {}.\n", self.stem, self.rev).unwrap();
        if !self.rev.is_multiple_of(3) {
            t.push_str("<!-- more -->\n\n");
        }
        writeln!(t, "## Part {}\n\nThe rest of revision {}.\n", self.rev % 2, self.rev).unwrap();
        for link in &self.links {
            writeln!(t, "See [this]({link}).\n").unwrap();
        }
        if self.rev % 4 == 1 {
            t.push_str("```rust\nfn main() { println!(\"{}\", 1); }\n```\n");
        }
        t
    }
}

#[derive(Clone, Debug)]
struct Config {
    title_rev: u32,
    paginate_by: Option<u32>,
    tags_feed: bool,
    categories_feed: bool,
    banner_rev: u32,
    search_index: bool,
    feed_limit: Option<u32>,
}

#[derive(Clone, Debug)]
struct BlogIndex {
    title_rev: u32,
    paginate_by: u32,
    sort_by: &'static str,
    generate_feeds: bool,
}

#[derive(Clone, Debug)]
struct NotesIndex {
    rev: u32,
    sort_by: &'static str,
    paginate_by: Option<u32>,
    transparent: bool,
}

#[derive(Clone, Debug)]
struct PostTemplate {
    rev: u32,
    /// The content path `get_page` shows.
    pinned: String,
}

/// The generated site: its model, and the root where it is written.
pub(crate) struct Model {
    root: PathBuf,
    pub(crate) rng: fastrand::Rng,
    posts: Vec<Post>,
    next_id: u32,
    config: Config,
    blog: BlogIndex,
    notes: Option<NotesIndex>,
    /// The paginate_by of `content/_index.md` while it exists.
    home: Option<u32>,
    post_template: PostTemplate,
    list_template_rev: u32,
    /// The revision of `templates/page.html`, a copy of the default one, while it exists.
    page_override: Option<u32>,
    statics: BTreeMap<String, u32>,
}

impl Model {
    /// Generates a site of 8 to 20 posts from `seed` and writes it under `root`.
    pub(crate) fn generate(root: &Path, seed: u64) -> Model {
        let mut rng = fastrand::Rng::with_seed(seed);
        let config = Config {
            title_rev: 0,
            paginate_by: None,
            tags_feed: true,
            categories_feed: false,
            banner_rev: 0,
            search_index: false,
            feed_limit: None,
        };
        let blog = BlogIndex {
            title_rev: 0,
            paginate_by: rng.u32(2..=3),
            sort_by: "date",
            generate_feeds: rng.bool(),
        };
        let mut model = Model {
            root: root.to_path_buf(),
            rng,
            posts: Vec::new(),
            next_id: 0,
            config,
            blog,
            notes: Some(NotesIndex {
                rev: 0,
                sort_by: "title",
                paginate_by: None,
                transparent: false,
            }),
            home: None,
            post_template: PostTemplate { rev: 0, pinned: String::new() },
            list_template_rev: 0,
            page_override: None,
            statics: BTreeMap::new(),
        };
        let count = model.rng.usize(8..=20);
        for _ in 0..count {
            let post = model.new_post();
            model.posts.push(post);
        }
        model.post_template.pinned = model.pick_published().unwrap_or_default();
        model.statics.insert("files/a.txt".into(), 0);
        model.write_all();
        model
    }

    fn write_all(&mut self) {
        let mut files = vec![
            ("kiln.toml".to_string(), self.config_text()),
            ("content/blog/_index.md".to_string(), self.blog_text()),
            ("templates/post.html".to_string(), self.post_template_text()),
            ("templates/blog-list.html".to_string(), self.list_template_text()),
        ];
        if let Some(notes) = &self.notes {
            files.push(("content/notes/_index.md".to_string(), notes_text(notes)));
        }
        for (name, rev) in &self.statics {
            files.push((format!("static/{name}"), static_text(name, *rev)));
        }
        for post in self.posts.clone() {
            self.write_post(&post);
        }
        for (path, text) in files {
            self.write(&path, &text);
        }
    }

    fn new_post(&mut self) -> Post {
        let id = self.next_id;
        self.next_id += 1;
        let rng = &mut self.rng;
        let section = SECTIONS[[0, 0, 0, 1, 1, 2][rng.usize(..6)]];
        let date = random_date(rng);
        let stem = match (rng.u8(..4), &date) {
            (0, Some(d)) if d.len() == 10 => format!("{d}-p{id}"),
            _ => format!("p{id}"),
        };
        let mut post = Post {
            section,
            stem,
            bundle: rng.u8(..8) == 0,
            title: (rng.u8(..10) != 0).then(|| format!("Post {id}")),
            date,
            draft: rng.u8(..10) == 0,
            slug: None,
            tags: pick_some(rng, &TAGS, 3),
            categories: pick_some(rng, &CATEGORIES, 1),
            aliases: Vec::new(),
            links: Vec::new(),
            weight: (rng.u8(..3) == 0).then(|| rng.i32(1..5)),
            template: section == "blog" && rng.u8(..3) == 0,
            rev: rng.u32(..4),
        };
        if self.rng.u8(..3) == 0
            && let Some(target) = self.pick_existing()
        {
            post.links.push(link_to(&target, self.rng.u8(..4) == 0));
        }
        post
    }

    /// The content path of a random post, if there is one.
    fn pick_existing(&mut self) -> Option<String> {
        let i = self.pick_post()?;
        Some(self.posts[i].content_path())
    }

    /// The content path of a random published post, if there is one.
    fn pick_published(&mut self) -> Option<String> {
        let published: Vec<String> =
            self.posts.iter().filter(|p| p.published()).map(Post::content_path).collect();
        (!published.is_empty()).then(|| published[self.rng.usize(..published.len())].clone())
    }

    fn pick_post(&mut self) -> Option<usize> {
        (!self.posts.is_empty()).then(|| self.rng.usize(..self.posts.len()))
    }

    // Writing files, and the changes a watcher would report.

    /// The path a watcher reports for `rel`: absolute or relative to the root, at random.
    fn reported(&mut self, rel: &str) -> PathBuf {
        match self.rng.bool() {
            true => self.root.join(rel),
            false => PathBuf::from(rel),
        }
    }

    /// Writes `text` to `rel`: `Created` for every new folder and for a new file, `Modified`
    /// for an existing one whose bytes change, nothing for the same bytes.
    fn write(&mut self, rel: &str, text: &str) -> Vec<Change> {
        let full = self.root.join(rel);
        let mut changes = self.create_parents(&full);
        match std::fs::read(&full) {
            Ok(old) if old == text.as_bytes() => {}
            Ok(_) => {
                std::fs::write(&full, text).unwrap();
                changes.push(Change::Modified(self.reported(rel)));
            }
            Err(_) => {
                std::fs::write(&full, text).unwrap();
                changes.push(Change::Created(self.reported(rel)));
            }
        }
        changes
    }

    fn create_parents(&mut self, full: &Path) -> Vec<Change> {
        let mut missing = Vec::new();
        let mut dir = full.parent().unwrap();
        while !dir.exists() {
            missing.push(dir.to_path_buf());
            dir = dir.parent().unwrap();
        }
        let mut changes = Vec::new();
        for dir in missing.into_iter().rev() {
            std::fs::create_dir(&dir).unwrap();
            let rel = dir.strip_prefix(&self.root).unwrap().to_string_lossy().into_owned();
            changes.push(Change::Created(self.reported(&rel)));
        }
        changes
    }

    /// Removes a file, or a folder with everything in it: one `Removed` for each file, then
    /// one for the folder, as inotify reports `rm -r`.
    fn remove(&mut self, rel: &str) -> Vec<Change> {
        let full = self.root.join(rel);
        let mut changes = Vec::new();
        if full.is_dir() {
            let mut inside: Vec<PathBuf> = walkdir::WalkDir::new(&full)
                .min_depth(1)
                .contents_first(true)
                .into_iter()
                .map(|e| e.unwrap().path().to_path_buf())
                .collect();
            inside.push(full.clone());
            std::fs::remove_dir_all(&full).unwrap();
            for path in inside {
                let rel = path.strip_prefix(&self.root).unwrap().to_string_lossy().into_owned();
                changes.push(Change::Removed(self.reported(&rel)));
            }
        } else {
            std::fs::remove_file(&full).unwrap();
            changes.push(Change::Removed(self.reported(rel)));
        }
        changes
    }

    fn rename(&mut self, from: &str, to: &str) -> Vec<Change> {
        let target = self.root.join(to);
        let mut changes = self.create_parents(&target);
        std::fs::rename(self.root.join(from), &target).unwrap();
        changes.push(Change::Renamed { from: self.reported(from), to: self.reported(to) });
        changes
    }

    /// Saves `text` to the existing file `rel` as vim does: the old file is renamed to a
    /// backup, the new one written, the backup deleted. A swap file and the `4913` probe come
    /// and go around it. None of those leftovers is content.
    fn save_like_vim(&mut self, rel: &str, text: &str) -> Vec<Change> {
        let (dir, name) = rel.rsplit_once('/').unwrap();
        let swap = format!("{dir}/.{name}.swp");
        let probe = format!("{dir}/4913");
        let backup = format!("{rel}~");
        let mut changes = self.write(&swap, "swap");
        changes.extend(self.write(&probe, ""));
        changes.extend(self.remove(&probe));
        changes.extend(self.rename(rel, &backup));
        changes.extend(self.write(rel, text));
        changes.extend(self.remove(&backup));
        // The swap file lives on while the editor is open; it goes with a later save.
        if self.rng.bool() {
            changes.extend(self.remove(&swap));
        }
        changes
    }

    /// Writes a post's file, and its asset if it is a bundle.
    fn write_post(&mut self, post: &Post) -> Vec<Change> {
        let mut changes = self.write(&format!("content/{}", post.content_path()), &post.text());
        if post.bundle {
            let asset = format!("{}/photo.txt", post.file());
            changes.extend(self.write(&asset, &format!("photo of {}\n", post.stem)));
        }
        changes
    }

    // The texts of the site's other files.

    fn config_text(&self) -> String {
        let c = &self.config;
        let mut t = format!(
            "base_url = \"https://example.org\"\ntitle = \"Site {}\"\n\
             description = \"A generated site.\"\n",
            c.title_rev
        );
        if let Some(n) = c.paginate_by {
            writeln!(t, "paginate_by = {n}").unwrap();
        }
        writeln!(
            t,
            "taxonomies = [\n  {{ name = \"tags\", feed = {}, paginate_by = 2 }},\n  \
             {{ name = \"categories\", feed = {} }},\n]",
            c.tags_feed, c.categories_feed
        )
        .unwrap();
        if c.search_index {
            t.push_str("search_index = true\n");
        }
        if let Some(limit) = c.feed_limit {
            writeln!(t, "\n[feeds]\nlimit = {limit}").unwrap();
        }
        writeln!(t, "\n[extra]\nbanner = \"Banner {}\"", c.banner_rev).unwrap();
        t
    }

    fn blog_text(&self) -> String {
        let b = &self.blog;
        format!(
            "+++\ntitle = \"Blog {}\"\npaginate_by = {}\nsort_by = \"{}\"\ngenerate_feeds = {}\n\
             template = \"blog-list.html\"\n+++\nAll the posts, revision {}.\n",
            b.title_rev, b.paginate_by, b.sort_by, b.generate_feeds, b.title_rev
        )
    }

    fn post_template_text(&self) -> String {
        let t = &self.post_template;
        format!(
            "{{% extends \"page.html\" %}}\n\
             {{% block page_after_content %}}\n\
             <aside class=\"extra\" data-rev=\"{rev}\">{{{{ config.extra.banner }}}}\n\
             {{% set pinned = get_page(path=\"{pinned}\") %}}\
             <p id=\"pinned\"><a href=\"{{{{ pinned.permalink }}}}\">{{{{ pinned.title }}}}</a> \
             {{{{ pinned.date }}}} {{{{ pinned.taxonomies | json_encode }}}}</p>\n\
             {{% set blog = get_section(path=\"blog/_index.md\") %}}\
             <p id=\"blog\">{{{{ blog.title }}}}: {{% for p in blog.pages %}}{{{{ p.title }}}}, \
             {{% endfor %}}</p>\n</aside>\n{{% endblock page_after_content %}}\n",
            rev = t.rev,
            pinned = t.pinned,
        )
    }

    fn list_template_text(&self) -> String {
        format!(
            "{{% extends \"section.html\" %}}\n\
             {{% block section_pages %}}{{{{ super() }}}}\n\
             <aside id=\"tags\" data-rev=\"{}\">\
             {{% set tags = get_taxonomy(kind=\"tags\") %}}\
             {{% for t in tags.terms %}}<a href=\"{{{{ t.permalink }}}}\">{{{{ t.name }}}} \
             ({{{{ t.page_count }}}})</a> {{% endfor %}}</aside>\n\
             {{% endblock section_pages %}}\n",
            self.list_template_rev
        )
    }

    fn page_override_text(rev: u32) -> String {
        let default = include_str!("../../../themes/default/templates/page.html");
        default.replacen(
            "<div class=\"wrap\">",
            &format!("<div class=\"wrap\" data-override=\"{rev}\">"),
            1,
        )
    }

    // The edits.

    /// Makes one random edit; returns what it did and the changes a watcher reports.
    /// `repair` asks for the edit that makes a failing site valid again.
    pub(crate) fn edit(&mut self, repair: bool) -> (String, Vec<Change>) {
        if repair {
            return self.repair();
        }
        let roll = self.rng.u32(..100);
        let Some(i) = self.pick_post() else { return self.create_post() };
        match roll {
            0..=9 => self.create_post(),
            10..=19 => self.edit_post(i, "body", |p, _| p.rev += 1),
            20..=25 => self.edit_post(i, "title", |p, rng| {
                p.title = (rng.u8(..6) != 0).then(|| format!("Title {}", rng.u32(..1000)));
            }),
            26..=31 => self.edit_post(i, "tags", |p, rng| {
                p.tags = pick_some(rng, &TAGS, 3);
                p.categories = pick_some(rng, &CATEGORIES, 1);
            }),
            32..=37 => self.edit_post(i, "date", |p, rng| p.date = random_date(rng)),
            38..=41 => self.edit_post(i, "draft", |p, _| p.draft = !p.draft),
            42..=46 => self.edit_post(i, "slug", |p, rng| {
                p.slug = match rng.u8(..4) {
                    0 => None,
                    1 => Some(CLASH.to_string()),
                    _ => Some(format!("s{}", rng.u32(..50))),
                };
            }),
            47..=49 => {
                self.edit_post(i, "aliases", |p, rng| p.aliases = pick_some(rng, &ALIASES, 1))
            }
            50..=53 => self.edit_post(i, "weight", |p, rng| {
                p.weight = (rng.u8(..3) != 0).then(|| rng.i32(1..5));
            }),
            54..=58 => {
                let target = self.pick_existing();
                let anchor = self.rng.u8(..4) == 0;
                self.edit_post(i, "links", move |p, rng| match (rng.u8(..3), &target) {
                    (0, _) => p.links.clear(),
                    (_, Some(t)) => p.links.push(link_to(t, anchor)),
                    _ => {}
                })
            }
            59..=64 => self.delete_post(i),
            65..=70 => self.rename_post(i),
            71..=74 => self.edit_post_template(),
            75..=77 => {
                self.list_template_rev += 1;
                let text = self.list_template_text();
                (
                    "edit templates/blog-list.html".into(),
                    self.write("templates/blog-list.html", &text),
                )
            }
            78..=80 => self.toggle_page_override(),
            81..=85 => self.edit_config(),
            86..=88 => self.edit_blog_index(),
            89..=91 => self.toggle_notes_index(),
            _ => self.edit_static(),
        }
    }

    fn create_post(&mut self) -> (String, Vec<Change>) {
        let post = self.new_post();
        let changes = self.write_post(&post);
        let what = format!("create {}", post.content_path());
        self.posts.push(post);
        (what, changes)
    }

    fn edit_post(
        &mut self,
        i: usize,
        what: &str,
        edit: impl FnOnce(&mut Post, &mut fastrand::Rng),
    ) -> (String, Vec<Change>) {
        let mut post = self.posts[i].clone();
        edit(&mut post, &mut self.rng);
        let path = format!("content/{}", post.content_path());
        let changes = match self.rng.u8(..4) {
            0 => self.save_like_vim(&path, &post.text()),
            _ => self.write(&path, &post.text()),
        };
        let described = format!("edit {} of {}: {post:?}", what, post.content_path());
        self.posts[i] = post;
        (described, changes)
    }

    fn delete_post(&mut self, i: usize) -> (String, Vec<Change>) {
        let post = self.posts.remove(i);
        let changes = self.remove(&post.file());
        (format!("delete {}", post.content_path()), changes)
    }

    /// Renames within the section (adding or dropping a date prefix, or a new name), or moves
    /// the post to another section.
    fn rename_post(&mut self, i: usize) -> (String, Vec<Change>) {
        let mut post = self.posts[i].clone();
        let from = post.file();
        if self.rng.u8(..5) == 0 {
            return self.toggle_bundle(i);
        }
        let id = self.next_id;
        self.next_id += 1;
        match self.rng.u8(..3) {
            0 => post.section = SECTIONS[self.rng.usize(..SECTIONS.len())],
            1 => match post.date.clone().filter(|d| d.len() == 10) {
                Some(date) if !post.stem.starts_with("20") => {
                    post.stem = format!("{date}-{}", post.stem);
                }
                _ => post.stem = format!("r{id}"),
            },
            _ => post.stem = format!("r{id}"),
        }
        if post.file() == from {
            post.stem = format!("r{id}");
        }
        let to = post.file();
        let changes = self.rename(&from, &to);
        self.posts[i] = post;
        (format!("rename {from} to {to}"), changes)
    }

    /// Turns `name.md` into `name/index.md` with an asset, or back: a new file and a removed
    /// one, as a watcher sees an editor's "save as" followed by a delete.
    fn toggle_bundle(&mut self, i: usize) -> (String, Vec<Change>) {
        let old = self.posts[i].clone();
        let mut post = old.clone();
        post.bundle = !post.bundle;
        let mut changes = self.write_post(&post);
        changes.extend(self.remove(&old.file()));
        let what = format!("turn {} into {}", old.content_path(), post.content_path());
        self.posts[i] = post;
        (what, changes)
    }

    fn edit_post_template(&mut self) -> (String, Vec<Change>) {
        self.post_template.rev += 1;
        if self.rng.bool()
            && let Some(pinned) = self.pick_existing()
        {
            self.post_template.pinned = pinned;
        }
        let text = self.post_template_text();
        let what = format!("edit templates/post.html, pinned {}", self.post_template.pinned);
        (what, self.write("templates/post.html", &text))
    }

    fn toggle_page_override(&mut self) -> (String, Vec<Change>) {
        match (self.page_override, self.rng.u8(..3)) {
            (Some(_), 0) => {
                self.page_override = None;
                ("remove templates/page.html".into(), self.remove("templates/page.html"))
            }
            (rev, _) => {
                let rev = rev.map_or(0, |r| r + 1);
                self.page_override = Some(rev);
                let text = Self::page_override_text(rev);
                (
                    format!("write templates/page.html rev {rev}"),
                    self.write("templates/page.html", &text),
                )
            }
        }
    }

    fn edit_config(&mut self) -> (String, Vec<Change>) {
        let c = &mut self.config;
        let what = match self.rng.u8(..7) {
            0 => {
                c.title_rev += 1;
                "title"
            }
            1 => {
                c.paginate_by = [None, Some(2), Some(3), Some(5)][self.rng.usize(..4)];
                "paginate_by"
            }
            2 => {
                c.tags_feed = !c.tags_feed;
                "tags feed"
            }
            3 => {
                c.categories_feed = !c.categories_feed;
                "categories feed"
            }
            4 => {
                c.search_index = !c.search_index;
                "search_index"
            }
            5 => {
                c.feed_limit = [None, Some(2), Some(5)][self.rng.usize(..3)];
                "feeds.limit"
            }
            _ => {
                c.banner_rev += 1;
                "extra.banner"
            }
        };
        let what = format!("edit kiln.toml {what}: {:?}", self.config);
        let text = self.config_text();
        (what, self.write("kiln.toml", &text))
    }

    fn edit_blog_index(&mut self) -> (String, Vec<Change>) {
        let b = &mut self.blog;
        match self.rng.u8(..4) {
            0 => b.title_rev += 1,
            1 => b.paginate_by = self.rng.u32(2..=3),
            2 => b.sort_by = ["date", "title", "weight", "slug"][self.rng.usize(..4)],
            _ => b.generate_feeds = !b.generate_feeds,
        }
        let what = format!("edit content/blog/_index.md: {:?}", self.blog);
        let text = self.blog_text();
        (what, self.write("content/blog/_index.md", &text))
    }

    fn toggle_home_index(&mut self) -> (String, Vec<Change>) {
        let path = "content/_index.md";
        match self.home.take() {
            Some(_) if self.rng.bool() => ("remove content/_index.md".into(), self.remove(path)),
            _ => {
                let paginate_by = self.rng.u32(2..=4);
                self.home = Some(paginate_by);
                let text =
                    format!("+++\ntitle = \"Home\"\npaginate_by = {paginate_by}\n+++\nHello.\n");
                (
                    format!("write content/_index.md, paginate_by {paginate_by}"),
                    self.write(path, &text),
                )
            }
        }
    }

    fn toggle_notes_index(&mut self) -> (String, Vec<Change>) {
        if self.rng.u8(..3) == 0 {
            return self.toggle_home_index();
        }
        let path = "content/notes/_index.md";
        match self.notes.take() {
            Some(_) if self.rng.bool() => ("remove notes/_index.md".into(), self.remove(path)),
            old => {
                let rev = old.map_or(0, |n| n.rev + 1);
                let notes = NotesIndex {
                    rev,
                    sort_by: ["title", "date", "weight"][self.rng.usize(..3)],
                    paginate_by: [None, Some(2)][self.rng.usize(..2)],
                    transparent: self.rng.bool(),
                };
                let what = format!("write notes/_index.md: {notes:?}");
                let changes = self.write(path, &notes_text(&notes));
                self.notes = Some(notes);
                (what, changes)
            }
        }
    }

    fn edit_static(&mut self) -> (String, Vec<Change>) {
        let bundles: Vec<String> = self.posts.iter().filter(|p| p.bundle).map(Post::file).collect();
        if !bundles.is_empty() && self.rng.u8(..4) == 0 {
            let bundle = &bundles[self.rng.usize(..bundles.len())];
            let asset = format!("{bundle}/{}", ["photo.txt", "notes.txt"][self.rng.usize(..2)]);
            let changes = match self.root.join(&asset).exists() && self.rng.bool() {
                true => self.remove(&asset),
                false => {
                    let text = format!("asset {}\n", self.rng.u32(..1000));
                    self.write(&asset, &text)
                }
            };
            return (format!("change asset {asset}"), changes);
        }
        let names: Vec<String> = self.statics.keys().cloned().collect();
        let roll = self.rng.u8(..4);
        if roll == 0 || names.is_empty() {
            let name = format!("files/s{}.txt", self.rng.u32(..20));
            let rev = self.statics.get(&name).map_or(0, |r| r + 1);
            self.statics.insert(name.clone(), rev);
            let changes = self.write(&format!("static/{name}"), &static_text(&name, rev));
            return (format!("write static/{name}"), changes);
        }
        let name = names[self.rng.usize(..names.len())].clone();
        match roll {
            1 => {
                self.statics.remove(&name);
                (format!("remove static/{name}"), self.remove(&format!("static/{name}")))
            }
            2 => {
                let rev = self.statics[&name] + 1;
                self.statics.insert(name.clone(), rev);
                let changes = self.write(&format!("static/{name}"), &static_text(&name, rev));
                (format!("edit static/{name}"), changes)
            }
            _ => {
                let to = format!("moved/m{}.txt", self.rng.u32(..20));
                if self.statics.contains_key(&to) {
                    return (format!("keep static/{name}"), Vec::new());
                }
                let rev = self.statics.remove(&name).unwrap();
                self.statics.insert(to.clone(), rev);
                let changes = self.rename(&format!("static/{name}"), &format!("static/{to}"));
                (format!("rename static/{name} to static/{to}"), changes)
            }
        }
    }

    /// Undoes what makes a site fail: links to missing posts, the shared slug, aliases that
    /// two posts claim, a pinned page that is gone or unpublished.
    fn repair(&mut self) -> (String, Vec<Change>) {
        let existing: Vec<String> = self.posts.iter().map(Post::content_path).collect();
        let mut claimed = Vec::new();
        let mut slugs: Vec<(&str, String)> = Vec::new();
        let mut changes = Vec::new();
        for i in 0..self.posts.len() {
            let mut post = self.posts[i].clone();
            post.links.retain(|link| {
                let target = link.trim_start_matches("@/").split('#').next().unwrap_or("");
                existing.iter().any(|e| e == target)
            });
            let taken = post
                .slug
                .as_ref()
                .is_some_and(|slug| slugs.contains(&(post.section, slug.clone())));
            if taken || post.slug.as_deref() == Some(CLASH) {
                post.slug = None;
            }
            if let Some(slug) = &post.slug {
                slugs.push((post.section, slug.clone()));
            }
            post.aliases.retain(|a| !claimed.contains(a));
            claimed.extend(post.aliases.iter().copied());
            changes.extend(self.write(&format!("content/{}", post.content_path()), &post.text()));
            self.posts[i] = post;
        }
        let pinned_ok = self
            .posts
            .iter()
            .any(|p| p.published() && p.content_path() == self.post_template.pinned);
        if !pinned_ok {
            if self.pick_published().is_none() {
                let (_, created) = self.create_post();
                changes.extend(created);
                let last = self.posts.len() - 1;
                let mut post = self.posts[last].clone();
                post.draft = false;
                post.date = Some("2024-01-01".into());
                changes
                    .extend(self.write(&format!("content/{}", post.content_path()), &post.text()));
                self.posts[last] = post;
            }
            self.post_template.pinned = self.pick_published().unwrap();
            let text = self.post_template_text();
            changes.extend(self.write("templates/post.html", &text));
        }
        ("repair".into(), changes)
    }
}

fn notes_text(notes: &NotesIndex) -> String {
    let mut t = format!(
        "+++\ntitle = \"Notes {}\"\nsort_by = \"{}\"\npage_template = \"post.html\"\n",
        notes.rev, notes.sort_by
    );
    if let Some(n) = notes.paginate_by {
        writeln!(t, "paginate_by = {n}").unwrap();
    }
    if notes.transparent {
        t.push_str("transparent = true\n");
    }
    t.push_str("+++\nShort notes.\n");
    t
}

fn static_text(name: &str, rev: u32) -> String {
    format!("static file {name}, revision {rev}\n")
}

fn link_to(content_path: &str, anchor: bool) -> String {
    match anchor {
        true => format!("@/{content_path}#part-0"),
        false => format!("@/{content_path}"),
    }
}

/// A date in 2024 (as a day, or a time with an offset), one after "now", or none.
fn random_date(rng: &mut fastrand::Rng) -> Option<String> {
    let (month, day) = (rng.u32(1..=12), rng.u32(1..=28));
    match rng.u8(..10) {
        0 => None,
        1 => Some(format!("2026-{month:02}-{day:02}")),
        2 => Some(format!("2024-{month:02}-{day:02}T10:30:00+02:00")),
        _ => Some(format!("2024-{month:02}-{day:02}")),
    }
}

/// Up to `max` distinct items of `pool`.
fn pick_some<T: Copy + PartialEq>(rng: &mut fastrand::Rng, pool: &[T], max: usize) -> Vec<T> {
    let mut picked = Vec::new();
    for _ in 0..rng.usize(..=max) {
        let item = pool[rng.usize(..pool.len())];
        if !picked.contains(&item) {
            picked.push(item);
        }
    }
    picked
}
