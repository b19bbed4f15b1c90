//! The contact page in headless Chromium, through Caddy, with `contact.js`:
//! fill the form, submit, see the thank-you message; and the same form with
//! JavaScript turned off, answered by a redirect to the thank-you notice.
//!
//! Chromium is driven over the DevTools protocol on a loopback WebSocket.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Caddy, TestApp, built_site};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    socket: Socket,
    next_id: u64,
}

impl Browser {
    async fn launch() -> Self {
        let profile = tempfile::tempdir().unwrap();
        let binary = std::env::var("KILN_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
            ])
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run chromium: run scripts/install-test-deps");
        let port = wait_for_devtools_port(profile.path()).await;
        let targets: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target");
        let (socket, _) =
            tokio_tungstenite::connect_async(page["webSocketDebuggerUrl"].as_str().unwrap())
                .await
                .unwrap();
        Self { child, _profile: profile, socket, next_id: 0 }
    }

    /// Sends one DevTools command and waits for its result.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::text(request)).await.unwrap();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let Message::Text(text) = frame else { continue };
            let reply: Value = serde_json::from_str(&text).unwrap();
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true}))
            .await;
        result["result"]["value"].clone()
    }

    async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for(
            "document.readyState === 'complete' && !!document.getElementById('contact-form')",
        )
        .await;
    }

    /// Polls a JavaScript condition until it holds.
    async fn wait_for(&mut self, condition: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let value = self.eval(condition).await;
            if value.as_bool() == Some(true)
                || (value.is_string() && !value.as_str().unwrap().is_empty())
            {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {condition}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&mut self, fields: &[(&str, &str)]) {
        for (name, value) in fields {
            let script = format!(
                "document.getElementById('contact-form').elements[{}].value = {}",
                json!(name),
                json!(value)
            );
            self.eval(&script).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for_devtools_port(profile: &Path) -> u16 {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some(port) = text.lines().next().and_then(|l| l.trim().parse().ok())
        {
            return port;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromium did not open its DevTools port");
}

async fn site(adjust: impl FnOnce(&mut kiln_api::config::ServeConfig)) -> (TestApp, Caddy) {
    kiln_api::install_crypto_provider();
    let port = common::free_port();
    let app = TestApp::start_with(|c| {
        c.site_origin = Caddy::origin(port);
        c.spam.challenge_difficulty = 12;
        c.spam.challenge_min_fill = Duration::from_millis(800);
        adjust(c);
    })
    .await;
    let upstream = app.base.trim_start_matches("http://").to_owned();
    // The real contact page: the example site built by the generator, for this origin.
    let caddy = Caddy::start(port, built_site(&Caddy::origin(port)), &upstream).await;
    (app, caddy)
}

const FIELDS: [(&str, &str); 4] = [
    ("name", "Zoë Browser 🦀"),
    ("email", "zoe@example.org"),
    ("subject", "From Chromium"),
    ("message", "Typed in a real browser.\nSecond line."),
];

#[tokio::test(flavor = "multi_thread")]
async fn contact_page_in_headless_chromium_submits_and_shows_thank_you() {
    let (app, caddy) = site(|_| {}).await;
    let mut browser = Browser::launch().await;
    browser.goto(&caddy.url("/contact/")).await;
    browser.fill(&FIELDS).await;
    browser.eval("document.querySelector('#contact-form [type=submit]').click()").await;

    let status = browser.wait_for("document.getElementById('contact-status').textContent.startsWith('Thank you') && document.getElementById('contact-status').textContent").await;
    assert_eq!(status, "Thank you! Your message has been received.");
    assert_eq!(
        browser.eval("document.getElementById('contact-name').value").await,
        "",
        "the form was reset"
    );
    assert_eq!(
        browser.eval("location.pathname + location.hash").await,
        "/contact/",
        "no navigation happened"
    );

    let (name, message, status): (String, String, String) =
        sqlx::query_as("SELECT name, message, status FROM submissions")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((name.as_str(), status.as_str()), ("Zoë Browser 🦀", "accepted"));
    assert_eq!(message, "Typed in a real browser.\nSecond line.");
    let key: String =
        sqlx::query_scalar("SELECT key FROM idempotency_keys").fetch_one(&app.pool).await.unwrap();
    assert!(key.starts_with("key:"), "contact.js sends an Idempotency-Key: {key}");

    let mails = app.smtp.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].parsed().subject(), Some("[Contact] From Chromium"));
}

#[tokio::test(flavor = "multi_thread")]
async fn field_errors_from_the_server_are_shown_next_to_the_form() {
    let (_app, caddy) = site(|_| {}).await;
    let mut browser = Browser::launch().await;
    browser.goto(&caddy.url("/contact/")).await;
    // The browser's own checks would stop a bad address; the server must too.
    browser.eval("document.getElementById('contact-email').type = 'text'").await;
    browser
        .fill(&[
            ("name", "Zoë"),
            ("email", "not an address"),
            ("subject", "Hi"),
            ("message", "Hello"),
        ])
        .await;
    browser.eval("document.querySelector('#contact-form [type=submit]').click()").await;
    let status = browser.wait_for("document.getElementById('contact-status').textContent.startsWith('Please fix') && document.getElementById('contact-status').textContent").await;
    assert_eq!(status, "Please fix: Email must be an email address.");
    assert_eq!(
        browser.eval("document.getElementById('contact-email').getAttribute('aria-invalid')").await,
        "true"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn contact_page_without_javascript_posts_and_lands_on_the_thank_you_notice() {
    let (app, caddy) = site(|c| c.spam.no_js_policy = kiln_api::config::NoJsPolicy::Accept).await;
    let mut browser = Browser::launch().await;
    browser.call("Emulation.setScriptExecutionDisabled", json!({"value": true})).await;
    browser.call("Page.navigate", json!({"url": caddy.url("/contact/")})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Scripts are off for the page, not for DevTools' own evaluation.
    browser
        .wait_for("document.readyState === 'complete' && !!document.getElementById('contact-form')")
        .await;
    browser.fill(&FIELDS).await;
    browser.eval("document.getElementById('contact-form').requestSubmit()").await;

    let landed = browser.wait_for("location.hash === '#contact-sent' && location.pathname").await;
    assert_eq!(landed, "/contact/");
    let visible = browser
        .eval("getComputedStyle(document.getElementById('contact-sent')).display !== 'none'")
        .await;
    assert_eq!(visible, true);
    let message: String =
        sqlx::query_scalar("SELECT message FROM submissions").fetch_one(&app.pool).await.unwrap();
    assert_eq!(
        message, "Typed in a real browser.\r\nSecond line.",
        "a form post sends CRLF, stored as sent"
    );
    assert_eq!(app.smtp.wait_for(1, Duration::from_secs(10)).await.len(), 1);
}
