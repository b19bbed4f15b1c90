//! A fixture site in a temporary folder, built through the library, with helpers that parse
//! its output as HTML and XML.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use kiln::{BuildFailed, BuildReport, BuildRequest};

/// "Now" for every fixture build, so that future-dated posts are decided the same way always.
pub const NOW: &str = "2025-06-01T00:00:00Z";

pub struct Site {
    dir: tempfile::TempDir,
    pub drafts: bool,
}

impl Site {
    /// A fresh site with `base_url = "https://example.org"`.
    pub fn new() -> Self {
        let site = Site { dir: tempfile::tempdir().unwrap(), drafts: false };
        site.write("kiln.toml", "base_url = \"https://example.org\"\ntitle = \"Test\"\n");
        site
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("public")
    }

    /// Writes a file under the site root, creating folders.
    pub fn write(&self, path: &str, bytes: impl AsRef<[u8]>) -> &Self {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, bytes).unwrap();
        self
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.dir.path().join(path)).unwrap();
    }

    pub fn request(&self) -> BuildRequest {
        let mut request = BuildRequest::new(self.dir.path());
        request.now = Some(NOW.parse::<DateTime<Utc>>().unwrap());
        request.drafts = self.drafts;
        request
    }

    pub fn build(&self) -> Result<BuildReport, BuildFailed> {
        kiln::build(&self.request())
    }

    /// Builds and panics with every diagnostic if the build fails.
    pub fn build_ok(&self) -> BuildReport {
        match self.build() {
            Ok(report) => report,
            Err(failed) => panic!("build failed:\n{failed}"),
        }
    }

    /// Builds and returns the failure, panicking if the build succeeds.
    pub fn build_err(&self) -> BuildFailed {
        match self.build() {
            Ok(_) => panic!("build succeeded but should have failed"),
            Err(failed) => failed,
        }
    }

    pub fn exists(&self, path: &str) -> bool {
        self.out().join(path).exists()
    }

    pub fn read(&self, path: &str) -> String {
        let full = self.out().join(path);
        std::fs::read_to_string(&full)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
    }

    pub fn html(&self, path: &str) -> scraper::Html {
        scraper::Html::parse_document(&self.read(path))
    }

    /// Every file in the output folder, relative, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut out: Vec<String> = walkdir::WalkDir::new(self.out())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                e.path().strip_prefix(self.out()).unwrap().to_string_lossy().replace('\\', "/")
            })
            .collect();
        out.sort();
        out
    }
}

/// The text of every element matching `selector`.
pub fn texts(html: &scraper::Html, selector: &str) -> Vec<String> {
    let sel = scraper::Selector::parse(selector).unwrap();
    html.select(&sel).map(|e| e.text().collect::<String>().trim().to_string()).collect()
}

/// The value of `attr` on every element matching `selector`.
pub fn attrs(html: &scraper::Html, selector: &str, attr: &str) -> Vec<String> {
    let sel = scraper::Selector::parse(selector).unwrap();
    html.select(&sel).filter_map(|e| e.value().attr(attr).map(str::to_string)).collect()
}

/// The inner HTML of the first element matching `selector`.
pub fn inner(html: &scraper::Html, selector: &str) -> String {
    let sel = scraper::Selector::parse(selector).unwrap();
    html.select(&sel).next().map(|e| e.inner_html()).unwrap_or_else(|| panic!("no `{selector}`"))
}

/// Parses XML strictly and returns the text of every element with that local name.
pub fn xml_texts(xml: &str, name: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml)
        .unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{xml}"));
    doc.descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == name)
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

/// The error messages of a failed build, each as `source:line: message`.
pub fn error_lines(failed: &BuildFailed) -> Vec<String> {
    failed.errors().map(|d| d.to_string()).collect()
}
