//! The outbox: work committed with a submission and done after it.
//!
//! Subscribers write jobs into `outbox` inside the submission's transaction,
//! so a job exists exactly when its submission does. The worker claims one
//! due job at a time with `FOR UPDATE SKIP LOCKED` and keeps the row locked
//! while it sends, so workers in several processes or on several hosts never
//! take the same job, and a worker that dies mid-send releases its lock with
//! its connection: the job is simply due again. Delivery is therefore at
//! least once. A failure schedules a retry with exponential backoff; after
//! the configured number of failures the job is parked for an operator.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::mail::{Mailer, Notification};

/// Job kind: mail the owner about one submission.
pub const MAIL_CONTACT: &str = "mail.contact";

/// Longest delay between two attempts, however many failures came before.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// Writes a job inside the caller's transaction.
pub async fn enqueue(conn: &mut PgConnection, kind: &str, submission_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO outbox (kind, payload, submission_id) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(json!({ "submission_id": submission_id }))
        .bind(submission_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A claimed job.
#[derive(Debug, sqlx::FromRow)]
struct Job {
    id: i64,
    kind: String,
    submission_id: Option<Uuid>,
    attempts: i32,
}

/// How the worker retries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Failures after which a job is parked.
    pub max_attempts: i32,
    /// Delay after the first failure; doubled after each further one.
    pub backoff: Duration,
}

impl RetryPolicy {
    /// The delay before the next attempt, after `failures` failures.
    pub fn delay(&self, failures: i32) -> Duration {
        let exponent = failures.saturating_sub(1).clamp(0, 30) as u32;
        self.backoff.saturating_mul(1 << exponent).min(MAX_BACKOFF)
    }
}

/// What one pass of the worker did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No job was due.
    Idle,
    /// A job was done.
    Sent,
    /// A job failed and will be retried.
    Retrying,
    /// A job failed for the last time and was parked.
    Parked,
}

/// Claims and runs outbox jobs.
#[derive(Clone)]
pub struct Worker {
    pool: PgPool,
    mailer: Mailer,
    retry: RetryPolicy,
    poll: Duration,
    wake: Arc<Notify>,
}

impl Worker {
    /// A worker that sends mail with `mailer`; `wake` is notified after each
    /// committed submission so mail leaves without waiting for the next poll.
    pub fn new(
        pool: PgPool,
        mailer: Mailer,
        retry: RetryPolicy,
        poll: Duration,
        wake: Arc<Notify>,
    ) -> Self {
        Self { pool, mailer, retry, poll, wake }
    }

    /// Runs until `shutdown`, which it checks only between jobs, so a job in
    /// hand is always finished (or its lock released) before it returns.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!("outbox worker started");
        while !shutdown.is_cancelled() {
            match self.run_once().await {
                Ok(Outcome::Idle) => {}
                Ok(_) => continue,
                Err(e) => tracing::warn!(error = format!("{e:#}"), "outbox pass failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// Claims one due job, runs it and records the result.
    pub async fn run_once(&self) -> anyhow::Result<Outcome> {
        let mut tx = self.pool.begin().await.context("cannot begin outbox transaction")?;
        let job: Option<Job> = sqlx::query_as(
            "SELECT id, kind, submission_id, attempts FROM outbox \
             WHERE status = 'pending' AND run_at <= now() \
             ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .fetch_optional(&mut *tx)
        .await
        .context("cannot claim an outbox job")?;
        let Some(job) = job else { return Ok(Outcome::Idle) };

        let result = self.perform(&job, &mut tx).await;
        let outcome = self.record(&job, result, &mut tx).await?;
        tx.commit().await.context("cannot record outbox result")?;
        Ok(outcome)
    }

    async fn perform(&self, job: &Job, conn: &mut PgConnection) -> anyhow::Result<()> {
        anyhow::ensure!(job.kind == MAIL_CONTACT, "unknown job kind `{}`", job.kind);
        let id = job.submission_id.context("mail job has no submission")?;
        let note: Notification = sqlx::query_as(
            "SELECT id, created_at, name, email, subject, message FROM submissions WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .context("cannot load the submission")?;
        let message = self.mailer.build(&note)?;
        self.mailer.send(message).await
    }

    async fn record(
        &self,
        job: &Job,
        result: anyhow::Result<()>,
        conn: &mut PgConnection,
    ) -> anyhow::Result<Outcome> {
        let attempts = job.attempts + 1;
        let Err(error) = result else {
            sqlx::query("UPDATE outbox SET status = 'sent', attempts = $2, last_error = NULL, updated_at = now() WHERE id = $1")
                .bind(job.id)
                .bind(attempts)
                .execute(conn)
                .await?;
            tracing::info!(job_id = job.id, kind = %job.kind, attempts, "outbox job done");
            return Ok(Outcome::Sent);
        };

        let parked = attempts >= self.retry.max_attempts;
        let delay = self.retry.delay(attempts);
        let error = format!("{error:#}");
        sqlx::query(
            "UPDATE outbox SET status = $2, attempts = $3, last_error = $4, \
             run_at = now() + make_interval(secs => $5), updated_at = now() WHERE id = $1",
        )
        .bind(job.id)
        .bind(if parked { "parked" } else { "pending" })
        .bind(attempts)
        .bind(&error)
        .bind(delay.as_secs_f64())
        .execute(conn)
        .await?;
        if parked {
            tracing::warn!(
                job_id = job.id,
                attempts,
                error,
                "outbox job parked; requeue it with `kiln-api jobs requeue`"
            );
            return Ok(Outcome::Parked);
        }
        tracing::warn!(
            job_id = job.id,
            attempts,
            retry_in_s = delay.as_secs_f64(),
            error,
            "outbox job failed; will retry"
        );
        Ok(Outcome::Retrying)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy { max_attempts: 5, backoff: Duration::from_secs(30) };
        let delays: Vec<u64> = (1..=4).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240]);
        assert_eq!(policy.delay(40), MAX_BACKOFF);
    }
}
