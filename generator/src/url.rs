//! URL paths and the output files they are written to.
//!
//! A page has one raw path (`/blog/Über/`, as the slug rules made it) from which two things
//! follow: the percent-encoded URL used in every link, feed and sitemap, and the file under
//! the output folder. Keeping both derivations here is what guarantees that no slug, `path`
//! or alias can name a file outside the output folder.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters that stay as they are in an encoded path: letters, digits, `-._~` and `/`.
const PATH_KEEP: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

/// Percent-encodes a raw URL path, so that non-ASCII text, spaces and `&` are safe in HTML
/// attributes, XML and HTTP alike.
pub fn encode_path(raw: &str) -> String {
    utf8_percent_encode(raw, PATH_KEEP).to_string()
}

/// Normalises a path written by an author (`path`, `aliases`, `redirect_to` targets) to a raw
/// URL path that starts with `/`. Returns an error message when the path would leave the site
/// root or holds characters that cannot be a file name.
pub fn clean_path(written: &str) -> Result<String, String> {
    let trimmed = written.trim();
    if trimmed.contains('\\') || trimmed.chars().any(char::is_control) {
        return Err(format!("path `{written}` holds a backslash or a control character"));
    }
    let mut parts = Vec::new();
    for part in trimmed.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("path `{written}` climbs out of the site with `..`")),
            _ if part.starts_with(".kiln") => {
                return Err(format!("path `{written}` uses the reserved name `{part}`"));
            }
            _ => parts.push(part),
        }
    }
    let mut path = String::from("/");
    path.push_str(&parts.join("/"));
    Ok(path)
}

/// A directory-style path: `/a/b` becomes `/a/b/`, `/` stays `/`.
pub fn as_dir(path: &str) -> String {
    if path.ends_with('/') { path.to_string() } else { format!("{path}/") }
}

/// Whether a path names a file (its last part has an extension, like `old.html`).
pub fn names_file(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    !path.ends_with('/') && last.contains('.') && !last.starts_with('.')
}

/// The output file, relative to the output folder, for a raw URL path: `/blog/a/` is
/// `blog/a/index.html`, `/old.html` is `old.html`.
pub fn output_file(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    if names_file(path) {
        trimmed.to_string()
    } else if trimmed.is_empty() {
        "index.html".to_string()
    } else {
        format!("{}/index.html", trimmed.trim_end_matches('/'))
    }
}

/// The absolute URL of a raw path on a site whose base URL is `base_url`.
pub fn permalink(base_url: &str, path: &str) -> String {
    format!("{base_url}{}", encode_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_non_ascii_spaces_and_ampersands() {
        assert_eq!(encode_path("/apples-&-oranges/"), "/apples-%26-oranges/");
        assert_eq!(encode_path("/a b/"), "/a%20b/");
        assert_eq!(encode_path("/über/"), "/%C3%BCber/");
        assert_eq!(encode_path("/2019/05/15/Some-Post/"), "/2019/05/15/Some-Post/");
    }

    #[test]
    fn clean_path_refuses_escapes() {
        assert_eq!(clean_path("2019/05/15/Some-Post").unwrap(), "/2019/05/15/Some-Post");
        assert_eq!(clean_path("/a//b/./c/").unwrap(), "/a/b/c");
        assert!(clean_path("../etc/passwd").is_err());
        assert!(clean_path("a/../../b").is_err());
        assert!(clean_path("a\\b").is_err());
        assert!(clean_path(".kiln/record").is_err());
    }

    #[test]
    fn output_files_follow_paths() {
        assert_eq!(output_file("/"), "index.html");
        assert_eq!(output_file("/blog/a/"), "blog/a/index.html");
        assert_eq!(output_file("/old.html"), "old.html");
        assert_eq!(output_file("/v1.2/"), "v1.2/index.html");
    }
}
