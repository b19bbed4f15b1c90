//! `POST /api/contact` and the two small endpoints around it.
//!
//! The handler runs the checks cheapest first: content type, the origin, the
//! body under its cap (a declared length over it is refused unread), a remembered answer, the rate
//! limit, validation, the spam policy, and only then the one transaction that
//! stores. A JSON request gets JSON back; a form posted without JavaScript
//! gets `303 See Other` to the thank-you page or to the error page.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::app::AppState;
use crate::body::{self, BodyKind};
use crate::client::client_hash;
use crate::error::ApiError;
use crate::form::RawSubmission;
use crate::idempotency::{self, IdempotencyKey, StoredAnswer};
use crate::submission::{self, NewSubmission};

/// How a stored answer was reached, for the `Idempotent-Replayed` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Fresh,
    Replayed,
}

/// `POST /api/contact`.
pub async fn post(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The content type decides the shape of every answer, errors included; a
    // request with neither type gets JSON.
    let kind = body::body_kind(&headers);
    let shape = *kind.as_ref().unwrap_or(&BodyKind::Json);
    let result = match kind {
        Ok(kind) => accept(&app, peer, &headers, kind, body).await,
        Err(e) => Err(e),
    };
    match (shape, result) {
        (BodyKind::Json, Ok((answer, origin))) => json_answer(answer, origin),
        (BodyKind::Json, Err(e)) => e.into_response(),
        (BodyKind::Form, Ok(_)) => see_other(&app.config.thanks_url),
        (BodyKind::Form, Err(e)) => form_error(&app.config.error_url, e),
    }
}

async fn accept(
    app: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    kind: BodyKind,
    body: Body,
) -> Result<(StoredAnswer, Origin), ApiError> {
    let config = &app.config;
    app.origin.check(headers)?;
    let drain = if app.client_ip.is_trusted(peer) { config.proxy_drain_limit } else { 0 };
    let cap = body::BodyLimit { limit: config.body_limit, drain };
    let bytes = body::read_capped(headers, body, cap).await?;
    let ip = app.client_ip.client_ip(peer, headers);
    let client = client_hash(&app.secret, ip);
    let raw = RawSubmission::decode(kind, &bytes)?;

    let key =
        IdempotencyKey::for_request(headers, &raw, config.idempotency_ttl, config.dedupe_window)?;
    if let Some(answer) = idempotency::lookup(&app.pool, &client, &key).await? {
        return Ok((answer, Origin::Replayed));
    }
    app.limiter.check(ip)?;
    let form = raw.validate()?;
    let verdict = app.spam.judge(kind, &raw).await?;

    let new = NewSubmission { form: &form, verdict: &verdict, client: &client, key: &key };
    let answer = submission::store(&app.pool, &app.events, new).await?;
    app.wake.notify_one();
    Ok((answer, Origin::Fresh))
}

fn json_answer(answer: StoredAnswer, origin: Origin) -> Response {
    let status = StatusCode::from_u16(answer.status as u16).unwrap_or(StatusCode::OK);
    let mut response = (status, Json(answer.body)).into_response();
    if origin == Origin::Replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => ApiError::Internal(anyhow::anyhow!("redirect target is not a valid header"))
            .into_response(),
    }
}

/// A form post that must be fixed is sent to the error page with the fields
/// or the reason in the query; refusals that are not the visitor's to fix
/// keep their status and get a short page.
fn form_error(error_url: &str, error: ApiError) -> Response {
    let query = match &error {
        ApiError::InvalidFields(fields) => {
            fields.keys().map(|f| format!("field={f}")).collect::<Vec<_>>().join("&")
        }
        ApiError::SpamRefused(reason) => format!("reason={reason}"),
        ApiError::MalformedBody(_) => "reason=malformed_body".to_owned(),
        _ => return error_page(error),
    };
    tracing::debug!(code = error.code(), "form post refused");
    see_other(&with_query(error_url, &query))
}

/// Adds `query` to `url`, before its fragment if it has one.
fn with_query(url: &str, query: &str) -> String {
    let (base, fragment) = url.split_once('#').map_or((url, None), |(b, f)| (b, Some(f)));
    let sep = if base.contains('?') { '&' } else { '?' };
    match fragment {
        Some(fragment) => format!("{base}{sep}{query}#{fragment}"),
        None => format!("{base}{sep}{query}"),
    }
}

fn error_page(error: ApiError) -> Response {
    let status = error.status();
    let retry = error.retry_after_secs();
    error.log();
    let text = match retry {
        Some(secs) => format!(
            "Too many messages from your address. Please try again in {} minutes.",
            secs.div_ceil(60)
        ),
        None if status == StatusCode::PAYLOAD_TOO_LARGE => {
            "Your message is too long to send.".to_owned()
        }
        None if status == StatusCode::FORBIDDEN => {
            "This form can only be sent from the site's own contact page.".to_owned()
        }
        None => "Your message could not be sent. Please try again later.".to_owned(),
    };
    let mut response =
        (status, Html(page("Message not sent", &format!("<p>{text}</p>")))).into_response();
    if let Some(secs) = retry {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// `GET /api/contact/challenge`: a fresh signed challenge.
pub async fn challenge(State(app): State<Arc<AppState>>) -> Response {
    let issued = app.spam.challenger().issue();
    ([(header::CACHE_CONTROL, "no-store")], Json(issued)).into_response()
}

/// `GET /api/contact/error`: what to fix, for forms posted without JavaScript.
/// Only known field names and reasons are shown, never text from the query.
pub async fn error_help(RawQuery(query): RawQuery) -> Html<String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let mut items = String::new();
    for (key, value) in &pairs {
        let line = match key.as_str() {
            "field" => field_help(value),
            "reason" => reason_help(value),
            _ => None,
        };
        if let Some(line) = line {
            items.push_str(&format!("<li>{line}</li>\n"));
        }
    }
    if items.is_empty() {
        items.push_str("<li>Please check the form and send it again.</li>\n");
    }
    let body = format!(
        "<p>Your message was not sent. Please fix the following and send it again:</p>\n<ul>\n{items}</ul>\n\
         <p><a href=\"/contact/\">Back to the contact form</a> (your browser's Back button keeps what you typed).</p>"
    );
    Html(page("Please fix the form", &body))
}

fn field_help(field: &str) -> Option<&'static str> {
    Some(match field {
        "name" => "<strong>Name</strong>: required, one line, at most 100 characters.",
        "email" => "<strong>Email</strong>: a valid address on one line, so the reply reaches you.",
        "subject" => "<strong>Subject</strong>: one line, at most 150 characters.",
        "message" => "<strong>Message</strong>: required, at most 10,000 characters.",
        _ => return None,
    })
}

fn reason_help(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "no_javascript" => "This form needs JavaScript turned on to protect it from spam.",
        "malformed_body" => {
            "The form could not be read. Please send it again from the contact page."
        }
        "too_fast" => "The form was sent too quickly. Please wait a few seconds and send it again.",
        _ if reason.starts_with("challenge") || reason.starts_with("proof") => {
            "The spam check expired. Please reload the contact page and send the form again."
        }
        _ if reason.starts_with("captcha") => {
            "The spam check failed. Please reload the page and try again."
        }
        _ => return None,
    })
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n<body>\n<main>\n<h1>{title}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn query_goes_before_the_fragment() {
        assert_eq!(
            with_query("/contact/#contact-error", "field=name"),
            "/contact/?field=name#contact-error"
        );
        assert_eq!(with_query("/e?lang=en", "reason=x"), "/e?lang=en&reason=x");
        assert_eq!(
            with_query("/api/contact/error", "field=email&field=name"),
            "/api/contact/error?field=email&field=name"
        );
    }
}
