//! The PostgreSQL pool and the schema migrations.
//!
//! Migrations are the files in the workspace's `migrations/` folder, embedded
//! into the binary at build time, so `kiln-api migrate` and start-up apply
//! exactly the schema the code was built against.

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::config::DatabaseConfig;

/// The embedded migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Opens a pool sized by config. It connects lazily, so a sidecar whose
/// database is down still starts and reports that on `/api/health`.
pub fn pool(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    // No ping before each acquire: it doubles the round trips of every
    // request, and a dead connection already fails its query with an error
    // that the pool then discards.
    PgPoolOptions::new()
        .max_connections(config.db_pool_size.max(1))
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy(&config.database_url)
        .context("cannot parse KILN_DATABASE_URL")
}

/// Applies every migration not applied yet.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("cannot apply migrations")?;
    Ok(())
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}
