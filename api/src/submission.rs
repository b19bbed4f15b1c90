//! Storing a submission: one transaction for the key, the row and the
//! subscribers' work.
//!
//! Inside one transaction the idempotency key is claimed and the submission
//! inserted (one statement), and `ContactSubmitted` is dispatched, so the outbox rows that
//! subscribers enqueue commit with the submission or not at all. Only after
//! the commit does the caller answer 2xx, which is why an acknowledged
//! submission is never lost.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;
use crate::events::{ContactSubmitted, Dispatcher};
use crate::form::ContactForm;
use crate::idempotency::{self, IdempotencyKey, StoredAnswer};
use crate::spam::Verdict;

/// The status of a stored submission's answer.
pub const CREATED: i16 = 201;

/// Everything known about a submission that is about to be stored.
#[derive(Debug)]
pub struct NewSubmission<'a> {
    /// The validated fields.
    pub form: &'a ContactForm,
    /// The spam verdict.
    pub verdict: &'a Verdict,
    /// The keyed hash of the client IP.
    pub client: &'a [u8],
    /// The key the answer is remembered under.
    pub key: &'a IdempotencyKey,
}

/// The answer given for every stored submission, accepted or not, so that a
/// bot cannot tell a honeypot hit from a success.
pub fn success_answer(id: Uuid) -> StoredAnswer {
    let body = json!({
        "id": id,
        "status": "received",
        "message": "Thank you! Your message has been received.",
    });
    StoredAnswer { status: CREATED, body }
}

/// Stores the submission and its side effects; returns the answer to give,
/// which is the first answer when the key was already taken.
pub async fn store(
    pool: &PgPool,
    events: &Dispatcher,
    new: NewSubmission<'_>,
) -> Result<StoredAnswer, ApiError> {
    let id = Uuid::new_v4();
    let answer = success_answer(id);
    let mut tx = pool.begin().await?;

    if !claim_and_insert(&mut tx, id, &new, &answer).await? {
        tx.rollback().await?;
        return replayed(pool, new).await;
    }
    let event = ContactSubmitted { submission_id: id, status: new.verdict.status() };
    events.dispatch(&event, &mut tx).await.map_err(ApiError::Internal)?;

    tx.commit().await?;
    Ok(answer)
}

/// Claims the idempotency key and inserts the submission in one statement
/// (one round trip). The key is claimed when it is new or its answer has
/// expired; otherwise nothing is inserted and false is returned, and the
/// caller answers with the answer that holds the key.
async fn claim_and_insert(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    new: &NewSubmission<'_>,
    answer: &StoredAnswer,
) -> Result<bool, ApiError> {
    let challenge_id = match new.verdict {
        Verdict::Accept { challenge_id } => challenge_id.as_deref(),
        _ => None,
    };
    let inserted = sqlx::query(
        "WITH claim AS ( \
           INSERT INTO idempotency_keys (client_hash, key, expires_at, submission_id, status, body) \
           VALUES ($8, $10, now() + make_interval(secs => $11), $1, $12, $13) \
           ON CONFLICT (client_hash, key) DO UPDATE SET \
             created_at = now(), expires_at = EXCLUDED.expires_at, \
             submission_id = EXCLUDED.submission_id, status = EXCLUDED.status, body = EXCLUDED.body \
           WHERE idempotency_keys.expires_at <= now() \
           RETURNING 1) \
         INSERT INTO submissions \
           (id, name, email, subject, message, status, spam_reason, client_hash, challenge_id) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM claim",
    )
    .bind(id)
    .bind(&new.form.name)
    .bind(&new.form.email)
    .bind(&new.form.subject)
    .bind(&new.form.message)
    .bind(new.verdict.status())
    .bind(new.verdict.reason())
    .bind(new.client)
    .bind(challenge_id)
    .bind(&new.key.key)
    .bind(new.key.ttl.as_secs_f64())
    .bind(answer.status)
    .bind(&answer.body)
    .execute(conn)
    .await;
    match inserted {
        Ok(done) => Ok(done.rows_affected() == 1),
        // A challenge is good for one submission; the same text under the
        // same key was already answered by the claim, so this is a replay.
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("submissions_challenge_id_key") => {
            Err(ApiError::SpamRefused("challenge_reused"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The first answer for a key another request claimed first.
async fn replayed(pool: &PgPool, new: NewSubmission<'_>) -> Result<StoredAnswer, ApiError> {
    let answer = idempotency::lookup(pool, new.client, new.key).await?;
    answer.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("idempotency key claimed but its answer is gone"))
    })
}
