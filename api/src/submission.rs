//! Storing a submission: one transaction for the key, the row and the
//! subscribers' work.
//!
//! Inside one transaction the idempotency key is claimed, the submission is
//! inserted, and `ContactSubmitted` is dispatched, so the outbox rows that
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

    if !idempotency::claim(&mut tx, new.client, new.key, id, &answer).await? {
        tx.rollback().await?;
        return replayed(pool, new).await;
    }
    insert_row(&mut tx, id, &new).await?;
    let event = ContactSubmitted { submission_id: id, status: new.verdict.status() };
    events.dispatch(&event, &mut tx).await.map_err(ApiError::Internal)?;

    tx.commit().await?;
    Ok(answer)
}

async fn insert_row(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    new: &NewSubmission<'_>,
) -> Result<(), ApiError> {
    let challenge_id = match new.verdict {
        Verdict::Accept { challenge_id } => challenge_id.as_deref(),
        _ => None,
    };
    let inserted = sqlx::query(
        "INSERT INTO submissions (id, name, email, subject, message, status, spam_reason, client_hash, challenge_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
    .execute(conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        // A challenge is good for one submission; the same text under the
        // same key was already answered above, so this is a replay.
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
