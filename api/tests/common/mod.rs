//! Shared test harness: a fresh PostgreSQL database per test, a real SMTP
//! server (aiosmtpd) per test, and the service started in-process on port 0.
//!
//! PostgreSQL is found through `KILN_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); the role must be allowed
//! to create databases. Each test creates `kiln_test_<random>` and drops it
//! when its guard goes out of scope, panics included.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use kiln_api::app::Service;
use kiln_api::config::{DEFAULT_DATABASE_URL, JsCheck, NoJsPolicy, ServeConfig};
use kiln_api::spam::challenge::solve;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, PgPool};

/// The site origin every test service is configured with.
pub const ORIGIN: &str = "http://kiln.test";

pub fn admin_url() -> String {
    std::env::var("KILN_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// A database that exists for one test.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("kiln_test_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at KILN_DATABASE_URL ({admin}): {e}; run scripts/ensure-postgres")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        let url = with_database(&admin, &name);
        Self { name, url }
    }

    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any async context we could block on, so the
        // cleanup gets a small runtime of its own on a plain thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    pub fn raw_text(&self) -> String {
        String::from_utf8(self.raw.clone()).expect("mail on the wire is 7-bit or UTF-8")
    }

    /// The header block, as sent.
    pub fn raw_headers(&self) -> String {
        let text = self.raw_text();
        let end = text.find("\r\n\r\n").or_else(|| text.find("\n\n")).unwrap_or(text.len());
        text[..end].to_owned()
    }

    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(&self.raw).expect("a parsable message")
    }
}

pub fn python() -> String {
    std::env::var("KILN_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_owned())
}

/// A real SMTP server (aiosmtpd) writing what it receives to a folder.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start() -> Self {
        Self::start_on(0)
    }

    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new(python())
            .arg(&script)
            .arg(dir.path())
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot run python3 with aiosmtpd: run scripts/install-test-deps");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("smtp sink did not start (is python3-aiosmtpd installed?): {line:?}")
        });
        Self { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p.file_name().unwrap().to_string_lossy().starts_with('.')
            })
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
                Received {
                    mail_from: v["mail_from"].as_str().unwrap().to_owned(),
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect(),
                    raw: base64::engine::general_purpose::STANDARD
                        .decode(v["data"].as_str().unwrap())
                        .unwrap(),
                }
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived and returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n || Instant::now() > deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound and released; good enough on loopback).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A test configuration: fast retries, easy proof of work, no fill time.
pub fn config(db: &TestDb, smtp_url: &str) -> ServeConfig {
    let mut c = ServeConfig::defaults();
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.site_origin = ORIGIN.to_owned();
    c.secret = Some("test-secret".to_owned());
    c.rate_limit_burst = 1000;
    c.database.database_url = db.url.clone();
    c.database.db_pool_size = 5;
    c.spam.spam_check = JsCheck::Challenge;
    c.spam.no_js_policy = NoJsPolicy::Accept;
    c.spam.challenge_difficulty = 6;
    c.spam.challenge_min_fill = Duration::ZERO;
    c.mail.smtp_url = smtp_url.to_owned();
    c.mail.mail_from = "Kiln <kiln@kiln.test>".to_owned();
    c.mail.mail_to = "Owner <owner@kiln.test>".to_owned();
    c.mail.outbox_backoff = Duration::from_millis(50);
    c.mail.outbox_poll = Duration::from_millis(100);
    c.mail.smtp_timeout = Duration::from_secs(3);
    c
}

/// The service under test with its database and mail server.
pub struct TestApp {
    pub db: TestDb,
    pub smtp: SmtpSink,
    pub service: Option<Service>,
    pub base: String,
    pub http: reqwest::Client,
    pub pool: PgPool,
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        kiln_api::install_crypto_provider();
        let db = TestDb::new().await;
        let smtp = SmtpSink::start();
        let mut c = config(&db, &smtp.url());
        adjust(&mut c);
        let service = Service::start(c).await.expect("service starts");
        let base = format!("http://{}", service.addr);
        let http =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let pool = db.pool().await;
        Self { db, smtp, service: Some(service), base, http, pool }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A fresh challenge, solved.
    pub async fn solved_challenge(&self) -> (String, String) {
        let issued: Value = self
            .http
            .get(self.url("/api/contact/challenge"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = issued["token"].as_str().unwrap().to_owned();
        let pow = solve(&token, issued["difficulty"].as_u64().unwrap() as u8);
        (token, pow)
    }

    /// `fields` plus a solved challenge, as `contact.js` sends it.
    pub async fn with_challenge(&self, mut fields: Value) -> Value {
        let (token, pow) = self.solved_challenge().await;
        fields["challenge"] = json!(token);
        fields["pow"] = json!(pow);
        fields
    }

    /// A same-origin JSON post from the client at `ip`.
    pub fn post_json(&self, ip: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url("/api/contact"))
            .header("origin", ORIGIN)
            .header("sec-fetch-site", "same-origin")
            .header("x-kiln-client-ip", ip)
            .json(body)
    }

    /// A same-origin urlencoded post (a form without JavaScript) from `ip`.
    pub fn post_form(&self, ip: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.http
            .post(self.url("/api/contact"))
            .header("origin", ORIGIN)
            .header("sec-fetch-site", "same-origin")
            .header("x-kiln-client-ip", ip)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).unwrap())
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&self.pool).await.unwrap()
    }

    pub async fn stop(&mut self) {
        if let Some(service) = self.service.take() {
            service.shutdown().await.unwrap();
        }
    }
}

/// A valid submission's four fields.
pub fn fields(name: &str, email: &str, subject: &str, message: &str) -> Value {
    json!({ "name": name, "email": email, "subject": subject, "message": message })
}

/// Caddy from Debian's package, running the project's Caddyfile.
pub struct Caddy {
    child: Child,
    pub port: u16,
    pub public: tempfile::TempDir,
}

impl Caddy {
    /// The origin a Caddy on `port` serves, for `KILN_SITE_ORIGIN`.
    pub fn origin(port: u16) -> String {
        format!("http://127.0.0.1:{port}")
    }

    /// Starts Caddy on `port` serving `public`, proxying /api/* to `upstream`.
    pub async fn start(port: u16, public: tempfile::TempDir, upstream: &str) -> Self {
        let caddyfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Caddyfile");
        let child =
            Command::new(std::env::var("KILN_TEST_CADDY").unwrap_or_else(|_| "caddy".into()))
                .args(["run", "--config"])
                .arg(&caddyfile)
                .args(["--adapter", "caddyfile"])
                .env("KILN_SITE_ADDRESS", Self::origin(port))
                .env("KILN_PUBLIC_DIR", public.path())
                .env("KILN_API_UPSTREAM", upstream)
                .env("KILN_CADDY_ADMIN", "off")
                .env("HOME", public.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot run caddy: run scripts/install-test-deps");
        let caddy = Self { child, port, public };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return caddy;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("caddy did not start listening on {port}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", Self::origin(self.port))
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small built site: a home page (with a precompressed sibling), the
/// contact page fixture, a fingerprinted stylesheet, `/contact.js` and a 404 page.
pub fn fixture_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::write(
        root.join("index.html"),
        "<!doctype html><title>Kiln</title><h1>plain home</h1>",
    )
    .unwrap();
    std::fs::write(root.join("index.html.gz"), gzip_marker()).unwrap();
    std::fs::write(root.join("style.0123abcd.css"), "body{}").unwrap();
    std::fs::write(
        root.join("404.html"),
        "<!doctype html><title>Not found</title><h1>no such page</h1>",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("contact")).unwrap();
    let page = std::fs::read_to_string(repo.join("tests/e2e/fixtures/contact/index.html")).unwrap();
    std::fs::write(root.join("contact/index.html"), page).unwrap();
    std::fs::copy(repo.join("themes/default/static/contact.js"), root.join("contact.js")).unwrap();
    dir
}

/// The repository's example site, built by the real generator with `base_url` set to the
/// origin Caddy serves it on, so the browser drives the contact page the theme produces.
pub fn built_site(base_url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut request = kiln::BuildRequest::new(&repo);
    request.output = Some(dir.path().to_path_buf());
    request.base_url = Some(base_url.to_string());
    if let Err(failed) = kiln::build(&request) {
        panic!("the example site does not build:\n{failed}");
    }
    dir
}

/// Bytes that stand for a precompressed file: Caddy serves them as they are.
pub fn gzip_marker() -> Vec<u8> {
    b"\x1f\x8b precompressed marker".to_vec()
}
