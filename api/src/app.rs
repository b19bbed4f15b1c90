//! The service: shared state, the router, and running it until SIGTERM.
//!
//! [`Service::start`] builds everything from config and spawns the HTTP
//! server and the outbox worker; [`Service::shutdown`] stops accepting,
//! lets the requests in flight and the mail job in hand finish, and returns.
//! Tests start the same service on port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{MatchedPath, State};
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use rand::Rng;
use serde_json::json;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::client::ClientIpSource;
use crate::config::ServeConfig;
use crate::csrf::OriginGuard;
use crate::events::Dispatcher;
use crate::mail::Mailer;
use crate::outbox::{RetryPolicy, Worker};
use crate::ratelimit::RateLimiter;
use crate::spam::SpamGuard;
use crate::subscribers::{ActivityLog, MailNotification, SpamGate};
use crate::{contact, db};

/// Everything a request handler needs.
#[derive(Debug)]
pub struct AppState {
    /// The configuration the service started with.
    pub config: ServeConfig,
    /// The database pool.
    pub pool: PgPool,
    /// The event dispatcher, with the default subscribers added.
    pub events: Arc<Dispatcher>,
    /// The per-client rate limiter.
    pub limiter: RateLimiter,
    /// The spam checks.
    pub spam: SpamGuard,
    /// The cross-origin check.
    pub origin: OriginGuard,
    /// Where the client address comes from.
    pub client_ip: ClientIpSource,
    /// Key for challenges and client hashes.
    pub secret: Vec<u8>,
    /// Wakes the outbox worker after a commit.
    pub wake: Arc<Notify>,
}

impl AppState {
    /// Builds the state from config; connects to nothing yet.
    pub fn new(config: ServeConfig, pool: PgPool) -> Self {
        let secret = secret(&config);
        let events = Arc::new(Dispatcher::new());
        events.add(Arc::new(ActivityLog));
        events.add(Arc::new(SpamGate));
        events.add(Arc::new(MailNotification));
        Self {
            limiter: RateLimiter::new(config.rate_limit_burst, config.rate_limit_period),
            spam: SpamGuard::new(&config.spam, &secret, config.site_host()),
            origin: OriginGuard::new(&config.site_origin),
            client_ip: ClientIpSource::new(config.trusted_proxy.clone(), &config.client_ip_header),
            secret,
            events,
            pool,
            config,
            wake: Arc::new(Notify::new()),
        }
    }
}

fn secret(config: &ServeConfig) -> Vec<u8> {
    if let Some(secret) = config.secret.as_deref().filter(|s| !s.is_empty()) {
        return secret.as_bytes().to_vec();
    }
    tracing::warn!(
        "KILN_SECRET is not set: using a random one, so challenges and client hashes \
         do not survive a restart and differ between processes"
    );
    rand::rng().random::<[u8; 32]>().to_vec()
}

/// The router with every route and layer.
pub fn router(state: Arc<AppState>) -> Router {
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/api/health", get(health))
        .route("/api/contact", post(contact::post))
        .route("/api/contact/challenge", get(contact::challenge))
        .route("/api/contact/error", get(contact::error_help))
        .fallback(not_found)
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// One span per request with its id, method and route, never the client's
/// address or body.
fn request_span<B>(request: &Request<B>) -> Span {
    let id = request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok());
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str());
    tracing::info_span!("request", request_id = id.unwrap_or("-"), method = %request.method(), route)
}

fn log_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    let ms = latency.as_secs_f64() * 1000.0;
    tracing::info!(status = response.status().as_u16(), latency_ms = format!("{ms:.2}"), "request");
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": {"code": "not_found", "message": "no such endpoint"}})),
    )
}

/// `GET /api/health`: the database state and the outbox backlog.
async fn health(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    // Two counts over partial indexes, so the check stays cheap however many
    // sent jobs the table holds.
    let counts: Result<(i64, i64), _> = sqlx::query_as(
        "SELECT (SELECT count(*) FROM outbox WHERE status = 'pending'), \
                (SELECT count(*) FROM outbox WHERE status = 'parked')",
    )
    .fetch_one(&app.pool)
    .await;
    match counts {
        Ok((pending, parked)) => (
            StatusCode::OK,
            axum::Json(
                json!({"status": "ok", "database": "ok", "outbox": {"pending": pending, "parked": parked}}),
            ),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
        }
    }
}

/// A running service: the HTTP server and, if configured, the outbox worker.
#[derive(Debug)]
pub struct Service {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state, shared with the handlers.
    pub state: Arc<AppState>,
    stop: CancellationToken,
    stop_worker: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    worker: Option<JoinHandle<()>>,
    janitor: JoinHandle<()>,
}

impl Service {
    /// Migrates the database, binds the listener and spawns everything.
    pub async fn start(config: ServeConfig) -> anyhow::Result<Self> {
        let pool = db::pool(&config.database)?;
        db::migrate(&pool).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState::new(config, pool));
        let stop = CancellationToken::new();
        let stop_worker = CancellationToken::new();

        let worker = match state.config.outbox_worker {
            true => Some(tokio::spawn(worker(&state)?.run(stop_worker.clone()))),
            false => None,
        };
        let app = router(Arc::clone(&state)).into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        let janitor = tokio::spawn(shrink_limiter(Arc::clone(&state), stop.clone()));
        tracing::info!(%addr, subscribers = ?state.events.describe(), "kiln-api listening");
        Ok(Self { addr, state, stop, stop_worker, server, worker, janitor })
    }

    /// Stops accepting, waits up to the grace period for requests in flight
    /// and then for the mail job in hand, then returns. The worker stops only
    /// after the server, so mail committed by the last requests can still
    /// leave; whatever it does not reach stays due in the outbox.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop.cancel();
        let grace = self.state.config.shutdown_grace;
        let stop_worker = self.stop_worker.clone();
        let drained = async {
            let served = self.server.await;
            stop_worker.cancel();
            if let Some(worker) = self.worker {
                let _ = worker.await;
            }
            served
        };
        match tokio::time::timeout(grace, drained).await {
            Ok(served) => served.context("server task failed")?.context("server failed")?,
            Err(_) => tracing::warn!(
                grace_s = grace.as_secs(),
                "shutdown grace period passed; exiting anyway"
            ),
        }
        self.janitor.abort();
        self.state.pool.close().await;
        Ok(())
    }

    /// Runs until SIGTERM or Ctrl-C, then shuts down.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing requests in flight");
        self.shutdown().await?;
        tracing::info!("kiln-api stopped");
        Ok(())
    }
}

fn worker(state: &AppState) -> anyhow::Result<Worker> {
    let mail = &state.config.mail;
    let retry =
        RetryPolicy { max_attempts: mail.outbox_max_attempts.max(1), backoff: mail.outbox_backoff };
    let mailer = Mailer::new(mail)?;
    Ok(Worker::new(state.pool.clone(), mailer, retry, mail.outbox_poll, Arc::clone(&state.wake)))
}

async fn shrink_limiter(state: Arc<AppState>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => state.limiter.shrink(),
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("can install a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
