//! Configuration read from environment variables (or the matching flags).
//!
//! Every setting has a default that works on a developer's machine, so
//! `kiln-api` starts with no configuration at all next to a local PostgreSQL.
//! This module only parses and checks values; it never opens a connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Args, ValueEnum};

/// The default database URL, shared by the service, the operator commands and
/// the test suite.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Where the database lives and how many connections to hold.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// PostgreSQL URL (Kiln reads `KILN_DATABASE_URL`, never `DATABASE_URL`).
    #[arg(long, env = "KILN_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Maximum number of pooled connections.
    #[arg(long, env = "KILN_DB_POOL_SIZE", default_value_t = 10)]
    pub db_pool_size: u32,
}

/// What to do with a form posted without JavaScript, which carries neither a
/// signed challenge nor a captcha token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NoJsPolicy {
    /// Store it and mail it like any other submission.
    Accept,
    /// Store it as suspected spam for the operator to review; mail nobody.
    Hold,
    /// Refuse it with a page that explains why.
    Refuse,
}

/// Which proof a JSON (JavaScript) submission must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JsCheck {
    /// A signed challenge from `GET /api/contact/challenge` with its proof of work.
    Challenge,
    /// A captcha token checked by a siteverify endpoint.
    Captcha,
    /// Nothing beyond the honeypot (for development only).
    None,
}

/// Settings of the spam checks.
#[derive(Debug, Clone, Args)]
pub struct SpamConfig {
    /// Proof required from JSON submissions.
    #[arg(long, env = "KILN_SPAM_CHECK", value_enum, default_value_t = JsCheck::Challenge)]
    pub spam_check: JsCheck,

    /// Policy for urlencoded submissions (no JavaScript).
    #[arg(long, env = "KILN_NO_JS_POLICY", value_enum, default_value_t = NoJsPolicy::Hold)]
    pub no_js_policy: NoJsPolicy,

    /// Leading zero bits the proof of work must reach.
    #[arg(long, env = "KILN_CHALLENGE_DIFFICULTY", default_value_t = 16)]
    pub challenge_difficulty: u8,

    /// Minimum time between fetching a challenge and submitting the form.
    #[arg(long, env = "KILN_CHALLENGE_MIN_FILL", default_value = "3s", value_parser = humantime::parse_duration)]
    pub challenge_min_fill: Duration,

    /// How long a challenge stays valid.
    #[arg(long, env = "KILN_CHALLENGE_MAX_AGE", default_value = "2h", value_parser = humantime::parse_duration)]
    pub challenge_max_age: Duration,

    /// Siteverify endpoint (reCAPTCHA v3, hCaptcha and Turnstile share the protocol).
    #[arg(long, env = "KILN_CAPTCHA_VERIFY_URL")]
    pub captcha_verify_url: Option<String>,

    /// Secret sent to the siteverify endpoint.
    #[arg(long, env = "KILN_CAPTCHA_SECRET", default_value = "", hide_env_values = true)]
    pub captcha_secret: String,

    /// Lowest score accepted when the verifier returns one (reCAPTCHA v3).
    #[arg(long, env = "KILN_CAPTCHA_MIN_SCORE", default_value_t = 0.5)]
    pub captcha_min_score: f64,

    /// Hostname the verifier must report; defaults to the site origin's host.
    #[arg(long, env = "KILN_CAPTCHA_HOSTNAME")]
    pub captcha_hostname: Option<String>,

    /// Action the verifier must report when it reports one.
    #[arg(long, env = "KILN_CAPTCHA_ACTION", default_value = "contact")]
    pub captcha_action: String,
}

/// Settings of the mail notification and its outbox worker.
#[derive(Debug, Clone, Args)]
pub struct MailConfig {
    /// SMTP relay, e.g. `smtp://127.0.0.1:25` or `smtps://user:pass@host`.
    #[arg(long, env = "KILN_SMTP_URL", default_value = "smtp://127.0.0.1:25")]
    pub smtp_url: String,

    /// Sender of the notification mail.
    #[arg(long, env = "KILN_MAIL_FROM", default_value = "Kiln <kiln@localhost>")]
    pub mail_from: String,

    /// The one recipient of every notification mail.
    #[arg(long, env = "KILN_MAIL_TO", default_value = "owner@localhost")]
    pub mail_to: String,

    /// Failed attempts after which a mail job is parked.
    #[arg(long, env = "KILN_OUTBOX_MAX_ATTEMPTS", default_value_t = 8)]
    pub outbox_max_attempts: i32,

    /// First retry delay; each further failure doubles it.
    #[arg(long, env = "KILN_OUTBOX_BACKOFF", default_value = "30s", value_parser = humantime::parse_duration)]
    pub outbox_backoff: Duration,

    /// How often the worker looks for due jobs when nothing wakes it.
    #[arg(long, env = "KILN_OUTBOX_POLL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub outbox_poll: Duration,

    /// Time allowed for one SMTP delivery.
    #[arg(long, env = "KILN_SMTP_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub smtp_timeout: Duration,
}

/// Everything `kiln-api serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "KILN_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// The site's origin, matched exactly against a request's `Origin`.
    #[arg(long, env = "KILN_SITE_ORIGIN", default_value = "http://localhost:8080")]
    pub site_origin: String,

    /// Peers whose client-IP header is trusted (comma-separated), i.e. Caddy.
    #[arg(
        long,
        env = "KILN_TRUSTED_PROXY",
        default_value = "127.0.0.1,::1",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<IpAddr>,

    /// Header in which the trusted proxy reports the client's IP.
    #[arg(long, env = "KILN_CLIENT_IP_HEADER", default_value = "x-kiln-client-ip")]
    pub client_ip_header: String,

    /// Key for signing challenges and hashing client IPs; random when unset.
    #[arg(long, env = "KILN_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// Submissions allowed per client in one rate-limit period.
    #[arg(long, env = "KILN_RATE_LIMIT_BURST", default_value_t = 5)]
    pub rate_limit_burst: u32,

    /// The rate-limit period.
    #[arg(long, env = "KILN_RATE_LIMIT_PERIOD", default_value = "10m", value_parser = humantime::parse_duration)]
    pub rate_limit_period: Duration,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "KILN_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,

    /// Bytes of an over-size body discarded, when it comes through the trusted
    /// proxy, so that the proxy reads the 413 instead of a reset; set it to
    /// the proxy's own cap (the shipped Caddyfile's `max_size`).
    #[arg(long, env = "KILN_PROXY_DRAIN_LIMIT", default_value_t = 8 * 1024 * 1024)]
    pub proxy_drain_limit: usize,

    /// Time allowed for one request, body included.
    #[arg(long, env = "KILN_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Window in which identical bodies from one client without an
    /// `Idempotency-Key` collapse into one submission.
    #[arg(long, env = "KILN_DEDUPE_WINDOW", default_value = "10m", value_parser = humantime::parse_duration)]
    pub dedupe_window: Duration,

    /// How long an `Idempotency-Key` is remembered.
    #[arg(long, env = "KILN_IDEMPOTENCY_TTL", default_value = "24h", value_parser = humantime::parse_duration)]
    pub idempotency_ttl: Duration,

    /// Where a form posted without JavaScript is sent after success (the
    /// default theme shows its thank-you notice on `#contact-sent`).
    #[arg(long, env = "KILN_THANKS_URL", default_value = "/contact/#contact-sent")]
    pub thanks_url: String,

    /// Where it is sent when something must be fixed; the sidecar serves the
    /// default itself; `?field=…` or `?reason=…` is added before any `#fragment`.
    #[arg(long, env = "KILN_ERROR_URL", default_value = "/api/contact/error")]
    pub error_url: String,

    /// Time allowed for requests in flight to finish after SIGTERM.
    #[arg(long, env = "KILN_SHUTDOWN_GRACE", default_value = "20s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// Run the outbox worker inside this process.
    #[arg(long, env = "KILN_OUTBOX_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub outbox_worker: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub spam: SpamConfig,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub mail: MailConfig,
}

impl ServeConfig {
    /// A configuration with every default, as if no variable were set.
    pub fn defaults() -> Self {
        use clap::Parser;

        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: ServeConfig,
        }
        // Parsing an empty command line can only fail on a broken default,
        // which is a programmer error caught by the unit test below.
        Wrapper::try_parse_from(["kiln-api"]).expect("defaults parse").config
    }

    /// The host part of the site origin (`example.org` for `https://example.org`).
    pub fn site_host(&self) -> &str {
        let rest = self.site_origin.split_once("://").map_or(&*self.site_origin, |(_, r)| r);
        let host_port = rest.split('/').next().unwrap_or(rest);
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_work_locally() {
        let config = ServeConfig::defaults();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.rate_limit_burst, 5);
        assert_eq!(config.rate_limit_period, Duration::from_secs(600));
        assert_eq!(config.body_limit, 65536);
        assert_eq!(config.site_host(), "localhost");
    }
}
