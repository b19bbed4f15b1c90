//! Reading a request body under a hard cap.
//!
//! The cap is enforced by the sidecar itself, because Caddy 2.6.2 turns its
//! own over-size refusal into a 502. A declared `Content-Length` above the cap
//! is refused before one byte of the body is read; a chunked body is read
//! frame by frame and refused as soon as the running total passes the cap, so
//! no request ever holds more than `limit` bytes in memory. The rest of the
//! body is never read: hyper closes the connection instead of draining it.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;

use crate::error::ApiError;

/// How the body is encoded, which also decides how the answer is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json`, sent by `fetch`; answered with JSON.
    Json,
    /// `application/x-www-form-urlencoded`, a form posted without JavaScript;
    /// answered with `303 See Other`.
    Form,
}

/// Reads the content type; anything but JSON or urlencoded is refused.
pub fn body_kind(headers: &HeaderMap) -> Result<BodyKind, ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::UnsupportedMediaType)?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(BodyKind::Json)
    } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(BodyKind::Form)
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// Refuses a body whose declared length is already over the cap.
pub fn check_declared_length(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => Err(ApiError::PayloadTooLarge { limit }),
        _ => Ok(()),
    }
}

/// Collects the body, failing with 413 the moment it passes `limit` bytes.
pub async fn read_capped(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = body;
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::MalformedBody(format!("cannot read body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        if buf.len() + data.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        buf.extend_from_slice(&data);
    }
    Ok(Bytes::from(buf))
}
