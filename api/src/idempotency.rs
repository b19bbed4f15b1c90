//! Remembered answers, so that a repeated submission gets the first answer.
//!
//! A key is scoped to the client (its keyed IP hash). It is the client's
//! `Idempotency-Key` header when sent, remembered for the configured TTL;
//! without one it is a hash of the four fields, remembered for the shorter
//! dedupe window, so a double click or a Back-and-resend of the same text
//! stores one message while a different message from the same person is a
//! new submission. The key row is claimed in the same statement that inserts
//! the submission (see [`crate::submission`]): a concurrent repeat blocks on it
//! until the first commits, then finds it, so even two requests in flight at
//! once store one submission.

use std::time::Duration;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::error::ApiError;
use crate::form::RawSubmission;

/// The first answer to a submission, as remembered.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredAnswer {
    /// The HTTP status of the first answer.
    pub status: i16,
    /// Its JSON body.
    pub body: serde_json::Value,
}

/// The key a submission is remembered under, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// `key:` + the client's header, or `body:` + a hash of the fields.
    pub key: String,
    /// How long it is remembered.
    pub ttl: Duration,
}

impl IdempotencyKey {
    /// The client's `Idempotency-Key`, or the fields' fingerprint without one.
    pub fn for_request(
        headers: &HeaderMap,
        raw: &RawSubmission,
        key_ttl: Duration,
        dedupe_window: Duration,
    ) -> Result<Self, ApiError> {
        let Some(value) = headers.get("idempotency-key") else {
            return Ok(Self { key: format!("body:{}", raw.fingerprint()), ttl: dedupe_window });
        };
        let value = value.to_str().unwrap_or_default();
        let printable = value.bytes().all(|b| b.is_ascii_graphic());
        if value.is_empty() || value.len() > 255 || !printable {
            return Err(ApiError::MalformedBody(
                "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            ));
        }
        Ok(Self { key: format!("key:{value}"), ttl: key_ttl })
    }
}

impl RawSubmission {
    /// A hash of the four stored fields, each length-prefixed so that no two
    /// different submissions share it.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for field in self.fields() {
            let field = field.unwrap_or_default();
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// The remembered answer for `key`, if there is one that has not expired.
pub async fn lookup(
    pool: &PgPool,
    client: &[u8],
    key: &IdempotencyKey,
) -> sqlx::Result<Option<StoredAnswer>> {
    sqlx::query_as(
        "SELECT status, body FROM idempotency_keys \
         WHERE client_hash = $1 AND key = $2 AND expires_at > now()",
    )
    .bind(client)
    .bind(&key.key)
    .fetch_optional(pool)
    .await
}
