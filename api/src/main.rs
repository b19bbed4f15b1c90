//! The `kiln-api` binary: parses the command line and hands over to the library.
//!
//! With no subcommand it serves, configured from the environment alone.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use kiln_api::app::Service;
use kiln_api::config::{DatabaseConfig, ServeConfig};
use kiln_api::{db, ops};

#[derive(Parser)]
#[command(name = "kiln-api", version, about = "Kiln's sidecar: the contact form and its mail")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default); applies migrations first.
    Serve(Box<ServeConfig>),
    /// Apply the database migrations and exit.
    Migrate(DatabaseConfig),
    /// Write submissions as CSV to stdout (or --output).
    Export {
        #[command(flatten)]
        db: DatabaseConfig,
        /// Only submissions with this status.
        #[arg(long, value_enum)]
        status: Option<Status>,
        /// File to write instead of stdout.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Delete everything stored for an email address.
    Forget {
        #[command(flatten)]
        db: DatabaseConfig,
        /// The address, matched case-insensitively.
        email: String,
    },
    /// Delete submissions older than the retention period.
    Purge {
        #[command(flatten)]
        db: DatabaseConfig,
        /// How long submissions are kept.
        #[arg(long, env = "KILN_RETENTION", default_value = "365d", value_parser = humantime::parse_duration)]
        retention: Duration,
    },
    /// List or requeue outbox (mail) jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List jobs; parked ones by default.
    List {
        #[command(flatten)]
        db: DatabaseConfig,
        /// Which jobs to list.
        #[arg(long, value_enum, default_value_t = JobStatus::Parked)]
        status: JobStatus,
    },
    /// Make parked jobs due again.
    Requeue {
        #[command(flatten)]
        db: DatabaseConfig,
        /// Job ids; all parked jobs with --all.
        #[arg(required_unless_present = "all")]
        ids: Vec<i64>,
        /// Requeue every parked job.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Status {
    Accepted,
    Held,
    Spam,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JobStatus {
    Pending,
    Sent,
    Parked,
    All,
}

fn status_name<T: ValueEnum>(value: &T) -> String {
    value.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // sqlx reports harmless notices (such as "relation already exists,
    // skipping" from migrations) at info; operators only need its warnings.
    let filter =
        EnvFilter::try_from_env("KILN_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    kiln_api::install_crypto_provider();

    let command =
        Cli::parse().command.unwrap_or_else(|| Command::Serve(Box::new(ServeConfig::defaults())));
    match command {
        Command::Serve(config) => Service::start(*config).await?.run_until_signal().await,
        Command::Migrate(config) => {
            let started = Instant::now();
            db::migrate(&db::pool(&config)?).await?;
            eprintln!("Migrations applied in {:.1} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Export { db, status, output } => export(&db, status, output).await,
        Command::Forget { db, email } => {
            let deleted = ops::forget(&db::pool(&db)?, &email).await?;
            eprintln!("Deleted {deleted} submission(s) and their mail jobs for that address");
            Ok(())
        }
        Command::Purge { db, retention } => {
            let deleted = ops::purge(&db::pool(&db)?, retention).await?;
            eprintln!(
                "Deleted {deleted} submission(s) older than {}",
                humantime::format_duration(retention)
            );
            Ok(())
        }
        Command::Jobs { command } => jobs(command).await,
    }
}

async fn export(
    db: &DatabaseConfig,
    status: Option<Status>,
    output: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let pool = db::pool(db)?;
    let status = status.map(|s| status_name(&s));
    let count = match &output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create `{}`", path.display()))?;
            ops::export(&pool, status.as_deref(), std::io::BufWriter::new(file)).await?
        }
        None => ops::export(&pool, status.as_deref(), std::io::stdout().lock()).await?,
    };
    eprintln!("Exported {count} submission(s)");
    Ok(())
}

async fn jobs(command: JobsCommand) -> anyhow::Result<()> {
    match command {
        JobsCommand::List { db, status } => {
            let filter = (status != JobStatus::All).then(|| status_name(&status));
            let jobs = ops::list_jobs(&db::pool(&db)?, filter.as_deref()).await?;
            let mut out = std::io::stdout().lock();
            ops::print_jobs(&jobs, &mut out)?;
            out.flush()?;
            eprintln!("{} job(s)", jobs.len());
        }
        JobsCommand::Requeue { db, ids, all } => {
            let ids = if all { Vec::new() } else { ids };
            let requeued = ops::requeue(&db::pool(&db)?, &ids).await?;
            eprintln!("Requeued {requeued} parked job(s)");
        }
    }
    Ok(())
}
