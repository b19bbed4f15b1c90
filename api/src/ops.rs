//! Operator commands: export, forget, purge, and the parked mail jobs.
//!
//! Each command works on the database alone and prints a one-line summary
//! on stderr, so stdout can be piped (the CSV export writes to it).

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// Writes submissions as CSV, oldest first; `status` filters when given.
pub async fn export(pool: &PgPool, status: Option<&str>, out: impl Write) -> anyhow::Result<u64> {
    use futures_util::TryStreamExt;

    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "id",
        "created_at",
        "status",
        "spam_reason",
        "name",
        "email",
        "subject",
        "message",
    ])?;
    let mut rows = sqlx::query(
        "SELECT id, created_at, status, spam_reason, name, email, subject, message FROM submissions \
         WHERE $1::text IS NULL OR status = $1 ORDER BY created_at, id",
    )
    .bind(status)
    .fetch(pool);
    let mut count = 0;
    while let Some(row) = rows.try_next().await.context("cannot read submissions")? {
        let id: Uuid = row.get("id");
        let created_at: DateTime<Utc> = row.get("created_at");
        let reason: Option<String> = row.get("spam_reason");
        let text = |c: &str| row.get::<String, _>(c);
        writer.write_record([
            id.to_string(),
            created_at.to_rfc3339(),
            text("status"),
            reason.unwrap_or_default(),
            text("name"),
            text("email"),
            text("subject"),
            text("message"),
        ])?;
        count += 1;
    }
    writer.flush()?;
    Ok(count)
}

/// Deletes every submission from `email` (case-insensitive), and with them
/// their pending mail and remembered answers. Returns how many were deleted.
pub async fn forget(pool: &PgPool, email: &str) -> anyhow::Result<u64> {
    let done = sqlx::query("DELETE FROM submissions WHERE lower(email) = lower($1)")
        .bind(email.trim())
        .execute(pool)
        .await
        .context("cannot delete submissions")?;
    Ok(done.rows_affected())
}

/// Deletes submissions older than `retention`, and expired remembered answers.
pub async fn purge(pool: &PgPool, retention: Duration) -> anyhow::Result<u64> {
    let done =
        sqlx::query("DELETE FROM submissions WHERE created_at < now() - make_interval(secs => $1)")
            .bind(retention.as_secs_f64())
            .execute(pool)
            .await
            .context("cannot purge submissions")?;
    sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= now()")
        .execute(pool)
        .await
        .context("cannot purge expired idempotency keys")?;
    Ok(done.rows_affected())
}

/// One outbox job as listed for the operator.
#[derive(Debug, sqlx::FromRow)]
pub struct JobRow {
    /// The job id.
    pub id: i64,
    /// Its kind, e.g. `mail.contact`.
    pub kind: String,
    /// `pending`, `sent` or `parked`.
    pub status: String,
    /// Failed or successful attempts so far.
    pub attempts: i32,
    /// When it is next due.
    pub run_at: DateTime<Utc>,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// Lists jobs with `status` (all when `None`), oldest first.
pub async fn list_jobs(pool: &PgPool, status: Option<&str>) -> anyhow::Result<Vec<JobRow>> {
    sqlx::query_as(
        "SELECT id, kind, status, attempts, run_at, last_error FROM outbox \
         WHERE $1::text IS NULL OR status = $1 ORDER BY id",
    )
    .bind(status)
    .fetch_all(pool)
    .await
    .context("cannot list outbox jobs")
}

/// Makes parked jobs due again with a fresh attempt count; `ids` empty means
/// every parked job. Returns how many were requeued.
pub async fn requeue(pool: &PgPool, ids: &[i64]) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'pending', attempts = 0, run_at = now(), updated_at = now() \
         WHERE status = 'parked' AND (cardinality($1::bigint[]) = 0 OR id = ANY($1))",
    )
    .bind(ids)
    .execute(pool)
    .await
    .context("cannot requeue jobs")?;
    Ok(done.rows_affected())
}

/// Prints jobs as an aligned table.
pub fn print_jobs(jobs: &[JobRow], mut out: impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>8}  {:<14} {:<8} {:>8}  {:<25} last error",
        "id", "kind", "status", "attempts", "next run"
    )?;
    for job in jobs {
        let error = job.last_error.as_deref().unwrap_or("-").replace('\n', " ");
        writeln!(
            out,
            "{:>8}  {:<14} {:<8} {:>8}  {:<25} {}",
            job.id,
            job.kind,
            job.status,
            job.attempts,
            job.run_at.format("%Y-%m-%d %H:%M:%S UTC"),
            error
        )?;
    }
    Ok(())
}
