//! Syntax highlighting of fenced code blocks, with giallo's TextMate grammars.
//!
//! The highlighter writes CSS classes, not inline styles: every token carries one class for the
//! light theme and one for the dark theme, and [`Highlighter::css`] gives the stylesheet that
//! switches between them with `prefers-color-scheme`. One stylesheet thus serves both schemes,
//! and a site can restyle its code without rebuilding.
//!
//! Highlighting never fails on input. A block without a language, with a language giallo does not
//! know, or one that giallo's tokenizer trips over comes out as escaped plain text.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use giallo::{
    DataAttrPosition, GIALLO_CSS, HighlightOptions, HtmlRenderer, Registry, RenderOptions,
    ThemeVariant,
};

/// The light theme used by [`Highlighter::with_default_themes`].
pub const DEFAULT_LIGHT_THEME: &str = "github-light";

/// The dark theme used by [`Highlighter::with_default_themes`].
pub const DEFAULT_DARK_THEME: &str = "github-dark";

/// Prefix of every class the highlighter writes; giallo adds `l-` or `d-` for the two themes.
const CLASS_PREFIX: &str = "hl-";

/// Languages that giallo maps to its `plain` grammar: they are escaped without token spans.
const PLAIN_LANGUAGES: [&str; 3] = ["plain", "text", "txt"];

/// The grammars and themes, decompressed once per process.
///
/// Loading takes tens of milliseconds, so it must not happen per page or per thread; every
/// [`Highlighter`] borrows this one registry.
static REGISTRY: LazyLock<Result<Registry, String>> =
    LazyLock::new(|| Registry::builtin().map_err(|error| error.to_string()));

/// Starts loading the grammar registry on a thread of its own and returns at once.
///
/// The first [`Highlighter`] waits for that load instead of doing it, so a caller that starts
/// it before reading the site has it ready by the time markdown is rendered: on a large site
/// the load overlaps the reading of the content, much of which is one thread walking folders.
pub fn preload() {
    std::thread::spawn(|| LazyLock::force(&REGISTRY));
}

/// Why a [`Highlighter`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HighlightError {
    /// The grammar and theme dump shipped inside giallo could not be read.
    #[error("cannot load the built-in highlighting grammars: {0}")]
    Registry(String),
    /// A configured theme name is not one of giallo's themes.
    #[error(
        "unknown highlighting theme `{0}`; built-in themes include `github-light`, `github-dark`"
    )]
    UnknownTheme(String),
}

/// One highlighted block, filled by the first thread that asks for it.
type BlockSlot = Arc<OnceLock<Arc<str>>>;

/// Highlights code blocks for one pair of light and dark themes.
///
/// Build it once per site and share it by reference: it is `Send + Sync`, and the grammar
/// registry behind it is loaded only the first time any highlighter is created.
#[derive(Debug)]
pub struct Highlighter {
    /// Highlighted blocks by the hash of their language and text. Highlighting costs tens of
    /// microseconds a line, and the same block recurs: across posts of a site, and in every
    /// rebuild of a post whose code did not change. Each block is highlighted once: a thread
    /// that wants a block another thread is highlighting waits for it.
    cache: Mutex<HashMap<[u8; 32], BlockSlot>>,
    /// Per language, whether a first block has been highlighted. giallo compiles a grammar's
    /// regular expressions on first use, outside any lock, so two threads starting on the
    /// same language at once would both compile them (about 100M instructions for Rust); the
    /// first block of each language is highlighted alone.
    warmed: Mutex<HashMap<String, Arc<OnceLock<()>>>>,
    registry: &'static Registry,
    light: String,
    dark: String,
    renderer: HtmlRenderer,
}

impl Highlighter {
    /// Creates a highlighter with giallo's built-in themes named `light_theme` and `dark_theme`
    /// (for example `github-light` and `github-dark`; names are case-insensitive).
    pub fn new(light_theme: &str, dark_theme: &str) -> Result<Self, HighlightError> {
        let registry =
            REGISTRY.as_ref().map_err(|error| HighlightError::Registry(error.clone()))?;
        for theme in [light_theme, dark_theme] {
            if !registry.contains_theme(theme) {
                return Err(HighlightError::UnknownTheme(theme.to_owned()));
            }
        }
        let renderer = HtmlRenderer {
            css_class_prefix: Some(CLASS_PREFIX.to_owned()),
            data_attr_position: DataAttrPosition::None,
            ..HtmlRenderer::default()
        };
        Ok(Self {
            cache: Mutex::default(),
            warmed: Mutex::default(),
            registry,
            light: light_theme.to_owned(),
            dark: dark_theme.to_owned(),
            renderer,
        })
    }

    /// Creates a highlighter with [`DEFAULT_LIGHT_THEME`] and [`DEFAULT_DARK_THEME`].
    pub fn with_default_themes() -> Result<Self, HighlightError> {
        Self::new(DEFAULT_LIGHT_THEME, DEFAULT_DARK_THEME)
    }

    /// Whether `lang` (a fence info string or a bare language name) gets token highlighting.
    pub fn knows(&self, lang: &str) -> bool {
        fence_language(lang).is_some_and(|lang| self.grammar_for(lang))
    }

    /// Returns the inner HTML of a `<pre><code>` block for `code`: escaped text, wrapped in
    /// `<span>`s with classes when `lang` names a known grammar.
    ///
    /// `lang` may be a whole fence info string such as `rust,ignore` or `toml title="x"`; only
    /// the part before the first `,` or space counts. Lines keep their order and text exactly,
    /// and a final newline in `code` is kept.
    pub fn highlight(&self, code: &str, lang: Option<&str>) -> String {
        let Some(lang) = lang.and_then(fence_language).filter(|lang| self.grammar_for(lang)) else {
            return escape_html(code);
        };
        let mut hasher = blake3::Hasher::new();
        hasher.update(lang.as_bytes()).update(&[0]).update(code.as_bytes());
        let key = *hasher.finalize().as_bytes();
        let slot =
            self.cache.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone();
        slot.get_or_init(|| self.highlight_warmed(code, lang).into()).to_string()
    }

    /// Highlights a block, alone if it is the first of its language (see `warmed`).
    fn highlight_warmed(&self, code: &str, lang: &str) -> String {
        let gate = {
            let mut warmed = self.warmed.lock().unwrap_or_else(|e| e.into_inner());
            warmed.entry(lang.to_ascii_lowercase()).or_default().clone()
        };
        if gate.get().is_none() {
            let mut first = None;
            gate.get_or_init(|| first = Some(self.highlight_uncached(code, lang)));
            if let Some(html) = first {
                return html;
            }
        }
        self.highlight_uncached(code, lang)
    }

    fn highlight_uncached(&self, code: &str, lang: &str) -> String {
        let themes = ThemeVariant::Dual { light: self.light.as_str(), dark: self.dark.as_str() };
        let options = HighlightOptions::new(lang, themes);

        // giallo can fail on a grammar's runtime-built regex; plain text is a better page than
        // a failed build, and the code stays readable.
        let Ok(highlighted) = self.registry.highlight(code, &options) else {
            return escape_html(code);
        };
        let rendered = self.renderer.render(&highlighted, &RenderOptions::default());
        let Some(inner) = code_element_content(&rendered) else {
            return escape_html(code);
        };

        let mut html = String::with_capacity(inner.len() + 1);
        html.push_str(inner);
        if code.ends_with('\n') {
            html.push('\n');
        }
        html
    }

    /// Returns the stylesheet for the classes [`Highlighter::highlight`] writes.
    ///
    /// It colours `pre.code` blocks with the light theme, and with the dark theme under
    /// `@media (prefers-color-scheme: dark)`.
    pub fn css(&self) -> String {
        let (light_css, dark_css) = self
            .registry
            .generate_dual_css(&self.light, &self.dark, CLASS_PREFIX)
            .unwrap_or_default();
        let (light_base, dark_base) = self.block_colours();

        let mut css = String::with_capacity(light_css.len() + dark_css.len() + 1024);
        let _ = writeln!(css, "/* code highlighting: `{}` and `{}` */", self.light, self.dark);
        css.push_str(&light_base);
        css.push_str(&light_css);
        css.push_str(GIALLO_CSS);
        css.push_str("@media (prefers-color-scheme: dark) {\n");
        css.push_str(&dark_base);
        // A token may carry a light-theme class and no dark one (when its dark colour is the
        // dark default), so the light classes are neutralised before the dark rules apply.
        let _ = writeln!(
            css,
            "[class*=\"{CLASS_PREFIX}l-\"] {{ color: inherit; background-color: transparent; \
             font-weight: inherit; font-style: inherit; text-decoration: inherit; }}"
        );
        css.push_str(&dark_css);
        css.push_str("}\n");
        css
    }

    fn grammar_for(&self, lang: &str) -> bool {
        !PLAIN_LANGUAGES.iter().any(|plain| lang.eq_ignore_ascii_case(plain))
            && self.registry.contains_grammar(lang)
    }

    /// The `pre.code` rules for each theme's default text and background colours.
    fn block_colours(&self) -> (String, String) {
        let themes = ThemeVariant::Dual { light: self.light.as_str(), dark: self.dark.as_str() };
        let options = HighlightOptions::new("plain", themes);
        let Ok(empty) = self.registry.highlight("", &options) else {
            return (String::new(), String::new());
        };
        let ThemeVariant::Dual { light, dark } = empty.theme else {
            return (String::new(), String::new());
        };
        let rule = |style: giallo::Style| {
            format!(
                "pre.code {{ color: {}; background-color: {}; }}\n",
                style.foreground.as_hex(),
                style.background.as_hex()
            )
        };
        (rule(light.default_style), rule(dark.default_style))
    }
}

/// Returns the language of a fence info string: the part before the first `,` or whitespace,
/// or `None` when that part is empty.
pub fn fence_language(info: &str) -> Option<&str> {
    let lang = info.trim_start().split([',', ' ', '\t']).next().unwrap_or_default();
    (!lang.is_empty()).then_some(lang)
}

/// Returns `text` with `&`, `<`, `>`, `"` and `'` escaped, safe in element text and in quoted
/// attribute values alike.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    push_escaped_html(&mut out, text);
    out
}

/// Appends `text` to `out`, escaped as by [`escape_html`].
pub fn push_escaped_html(out: &mut String, text: &str) {
    let mut last = 0;
    for (index, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[last..index]);
        out.push_str(entity);
        last = index + 1;
    }
    out.push_str(&text[last..]);
}

/// The content of the first `<code …>` element in giallo's rendered `<pre>` block.
fn code_element_content(rendered: &str) -> Option<&str> {
    let open = rendered.find("<code")?;
    let content_start = open + rendered[open..].find('>')? + 1;
    rendered[content_start..].strip_suffix("</code></pre>")
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn highlighter() -> Highlighter {
        Highlighter::with_default_themes().expect("built-in themes load")
    }

    /// Removes tags and decodes the escapes, giving back the text a reader sees.
    fn visible_text(html: &str) -> String {
        let mut text = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                _ if !in_tag => text.push(c),
                _ => {}
            }
        }
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    #[test]
    fn highlighter_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Highlighter>();
    }

    #[test]
    fn registry_is_loaded_once_for_all_highlighters() {
        let started = Instant::now();
        let first = highlighter();
        let first_cost = started.elapsed();
        let started = Instant::now();
        let second = highlighter();
        let second_cost = started.elapsed();
        assert!(std::ptr::eq(first.registry, second.registry));
        println!("highlighter creation: first {first_cost:?}, second {second_cost:?}");
    }

    #[test]
    fn unknown_theme_is_an_error_naming_it() {
        let error = Highlighter::new("github-light", "no-such-theme").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown highlighting theme `no-such-theme`; built-in themes include `github-light`, \
             `github-dark`"
        );
    }

    #[test]
    fn rust_gets_light_and_dark_classes() {
        let html = highlighter().highlight("fn main() {}\n", Some("rust"));
        assert!(html.contains("class=\"hl-l-"), "{html}");
        assert!(html.contains("hl-d-"), "{html}");
        assert!(!html.contains("style="), "{html}");
        assert!(!html.contains("<pre"), "{html}");
        assert_eq!(visible_text(&html), "fn main() {}\n");
    }

    #[test]
    fn fence_info_strings_pick_the_language() {
        assert_eq!(fence_language("rust,ignore"), Some("rust"));
        assert_eq!(fence_language("toml title=\"a\""), Some("toml"));
        assert_eq!(fence_language(""), None);
        assert_eq!(fence_language(",ignore"), None);

        let highlighter = highlighter();
        for lang in ["rust,ignore", "toml", "diff", "jinja", "yaml", "shell", "console"] {
            assert!(highlighter.knows(lang), "{lang} should be highlighted");
        }
        assert!(!highlighter.knows("text"));
        assert!(!highlighter.knows("no-such-language"));
    }

    #[test]
    fn every_fence_language_keeps_the_text_verbatim() {
        let highlighter = highlighter();
        let samples = [
            ("rust,ignore", "let x: Vec<&str> = vec![\"a\"]; // 'c'\n"),
            ("toml", "[package]\nname = \"kiln\"\n+++\n"),
            ("diff", "--- a/lib.rs\n+++ b/lib.rs\n@@ -1 +1 @@\n-old\n+new\n"),
            ("jinja", "{% block head %}{{ super() }}{% endblock head %}\n"),
            ("yaml", "token: ${{ secrets.PUBLISH_TOKEN }}\n---\n"),
            ("shell", "echo \"$HOME\" > /tmp/x && cat <<EOF\n"),
            ("console", "$ cargo build\n   Compiling kiln\n"),
            ("text", "<b>not bold</b>\n"),
        ];
        for (lang, code) in samples {
            let html = highlighter.highlight(code, Some(lang));
            assert_eq!(visible_text(&html), code, "{lang}");
            assert!(!html.contains("<b>"), "{lang}: {html}");
        }
    }

    #[test]
    fn unknown_or_missing_language_is_escaped_plain_text() {
        let highlighter = highlighter();
        let code = "<script>alert('x') & \"y\"</script>\n";
        let expected = "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;\n";
        assert_eq!(highlighter.highlight(code, None), expected);
        assert_eq!(highlighter.highlight(code, Some("klingon")), expected);
        assert_eq!(highlighter.highlight(code, Some("text")), expected);
        assert_eq!(highlighter.highlight(code, Some("")), expected);
    }

    #[test]
    fn css_covers_both_schemes() {
        let css = highlighter().css();
        assert!(css.contains("pre.code { color: #"), "{css}");
        assert!(css.contains(".hl-l-1 {"), "{css}");
        assert!(css.contains("@media (prefers-color-scheme: dark) {"), "{css}");
        assert!(css.contains(".hl-d-1 {"), "{css}");
        assert!(css.trim_end().ends_with('}'));
    }

    /// Run with `cargo test --release -- --ignored --nocapture` for figures worth quoting.
    #[test]
    #[ignore = "timing printout, meaningful only in release builds"]
    fn timing_of_a_300_line_rust_block() {
        let function = "/// Adds two numbers.\npub fn add(a: u32, b: u32) -> Option<u32> {\n    \
                        let sum = a.checked_add(b)?; // overflow is None\n    \
                        println!(\"{a} + {b} = {sum}\");\n    Some(sum)\n}\n";
        let code: String = function.repeat(50);
        assert_eq!(code.lines().count(), 300);

        // Run alone, this test is the first to touch the registry, so the first creation
        // includes loading it.
        let started = Instant::now();
        let highlighter = highlighter();
        let load = started.elapsed();
        let started = Instant::now();
        let _second = self::highlighter();
        println!("highlighter creation: first {load:?}, second {:?}", started.elapsed());

        let started = Instant::now();
        let _ = highlighter.highlight(&code, Some("rust"));
        println!("300-line rust block, first call: {:?}", started.elapsed());

        let runs = 50;
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(highlighter.highlight(&code, Some("rust")));
        }
        println!("300-line rust block: {:?} per block", started.elapsed() / runs);
    }
}
