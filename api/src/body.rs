//! Reading a request body under a hard cap.
//!
//! The cap is enforced by the sidecar itself, because Caddy 2.6.2 turns its
//! own over-size refusal into a 502. A declared `Content-Length` above the cap
//! is refused before one byte of the body is read; a chunked body is read
//! frame by frame and refused as soon as the running total passes the cap, so
//! no request ever holds more than `limit` bytes in memory.
//!
//! The rest of an over-size body is never buffered, and from a direct client
//! it is never read: the connection is closed. From the trusted proxy it is
//! discarded instead: closing a socket with unread data makes the kernel send
//! a reset, and a proxy that is still writing the body (Caddy) then loses the
//! 413 and answers 502. So the 413 goes out at once while a background task
//! discards up to the drain limit (the proxy's own cap), for at most
//! [`DRAIN_TIME`], one frame at a time, before the connection is closed.

use std::time::Duration;

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

/// Longest time spent discarding after a 413.
pub const DRAIN_TIME: Duration = Duration::from_secs(2);

/// The cap, and what to do with the rest of a body that passes it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    /// Largest body accepted, in bytes.
    pub limit: usize,
    /// Bytes discarded after a 413 so the proxy can read it; 0 for a direct client.
    pub drain: usize,
}

/// Collects the body, failing with 413 before reading when the declared
/// length is over the limit, or the moment the bytes read pass it.
pub async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    cap: BodyLimit,
) -> Result<Bytes, ApiError> {
    let BodyLimit { limit, drain } = cap;
    if declared_length(headers).is_some_and(|len| len > limit as u64) {
        discard_in_background(body, drain);
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = body;
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::MalformedBody(format!("cannot read body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        if buf.len() + data.len() > limit {
            discard_in_background(body, drain);
            return Err(ApiError::PayloadTooLarge { limit });
        }
        buf.extend_from_slice(&data);
    }
    Ok(Bytes::from(buf))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

/// Reads and drops what follows, bounded in bytes and time, holding one
/// frame at a time; then drops the body, which closes the connection.
fn discard_in_background(mut body: Body, limit: usize) {
    if limit == 0 {
        return;
    }
    tokio::spawn(async move {
        let drain = async {
            let mut seen = 0usize;
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len());
                if seen > limit {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
    });
}
