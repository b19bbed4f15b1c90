//! Cross-site request refusal: Fetch Metadata and an exact Origin match.
//!
//! Browsers send `Origin` on every POST and, since 2020-2023, also
//! `Sec-Fetch-Site`. A post is accepted only when `Origin` equals the
//! configured site origin byte for byte (scheme, host and port), and, when
//! `Sec-Fetch-Site` is present, it says `same-origin`. A request without
//! `Origin` is refused too: every browser that can submit the form sends it,
//! so its absence means a client that is not the site's own page.

use axum::http::HeaderMap;

use crate::error::ApiError;

/// The origin check for one site.
#[derive(Debug, Clone)]
pub struct OriginGuard {
    origin: String,
}

impl OriginGuard {
    /// Accepts posts from `origin` only (a trailing slash in config is dropped).
    pub fn new(origin: &str) -> Self {
        Self { origin: origin.trim_end_matches('/').to_owned() }
    }

    /// Refuses the request unless it comes from the site's own pages.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(site) = headers.get("sec-fetch-site")
            && site.as_bytes() != b"same-origin"
        {
            return Err(ApiError::CrossOrigin);
        }
        match headers.get("origin") {
            Some(origin) if origin.as_bytes() == self.origin.as_bytes() => Ok(()),
            _ => Err(ApiError::CrossOrigin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[(&'static str, &'static str)]) -> bool {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.insert(*k, v.parse().unwrap());
        }
        OriginGuard::new("https://blog.example.org/").check(&headers).is_ok()
    }

    #[test]
    fn same_origin_post_passes() {
        assert!(check(&[
            ("origin", "https://blog.example.org"),
            ("sec-fetch-site", "same-origin")
        ]));
        assert!(check(&[("origin", "https://blog.example.org")]));
    }

    #[test]
    fn cross_site_fetch_metadata_is_refused_even_with_matching_origin() {
        assert!(!check(&[
            ("origin", "https://blog.example.org"),
            ("sec-fetch-site", "cross-site")
        ]));
        assert!(!check(&[("origin", "https://blog.example.org"), ("sec-fetch-site", "same-site")]));
    }

    #[test]
    fn origin_must_match_exactly() {
        assert!(!check(&[("origin", "https://blog.example.org.evil.net")]));
        assert!(!check(&[("origin", "http://blog.example.org")]));
        assert!(!check(&[("origin", "https://blog.example.org:8443")]));
        assert!(!check(&[("origin", "null")]));
        assert!(!check(&[]));
    }
}
