//! The whole path: the real Caddy (Debian's package) running the project's
//! Caddyfile in front of the real kiln-api, PostgreSQL and SMTP server.

mod common;

use std::time::Duration;

use common::{Caddy, TestApp, fields, fixture_site};
use serde_json::{Value, json};

struct Site {
    app: TestApp,
    caddy: Caddy,
}

impl Site {
    async fn start(burst: u32) -> Self {
        let port = common::free_port();
        let app = TestApp::start_with(|c| {
            c.site_origin = Caddy::origin(port);
            c.rate_limit_burst = burst;
            c.trusted_proxy = vec!["127.0.0.1".parse().unwrap()];
        })
        .await;
        let upstream = app.base.trim_start_matches("http://").to_owned();
        let caddy = Caddy::start(port, fixture_site(), &upstream).await;
        Self { app, caddy }
    }

    /// A same-origin JSON post through Caddy, as the contact page sends it.
    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        self.app
            .http
            .post(self.caddy.url("/api/contact"))
            .header("origin", Caddy::origin(self.caddy.port))
            .header("sec-fetch-site", "same-origin")
            .json(body)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn static_page_is_served_with_revalidation_and_security_headers() {
    let site = Site::start(100).await;
    let http = reqwest::Client::builder().no_gzip().build().unwrap();

    let home =
        http.get(site.caddy.url("/")).header("accept-encoding", "identity").send().await.unwrap();
    assert_eq!(home.status(), 200);
    let headers = home.headers().clone();
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("form-action 'self'"));
    assert!(home.text().await.unwrap().contains("plain home"));

    let gz = http.get(site.caddy.url("/")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(
        gz.bytes().await.unwrap().as_ref(),
        common::gzip_marker().as_slice(),
        "the precompressed file itself"
    );

    let css = http.get(site.caddy.url("/style.0123abcd.css")).send().await.unwrap();
    assert_eq!(css.headers()["cache-control"], "public, max-age=31536000, immutable");

    let missing = http.get(site.caddy.url("/no/such/page/")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("no such page"));

    let contact = http.get(site.caddy.url("/contact/")).send().await.unwrap();
    assert!(contact.text().await.unwrap().contains("id=\"contact-form\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn form_post_through_caddy_arrives_as_mail() {
    let site = Site::start(100).await;
    let body = site
        .app
        .with_challenge(fields("Zoë", "zoe@example.org", "Via Caddy", "Through the proxy."))
        .await;
    let response = site.post(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let form = [
        ("name", "Bob"),
        ("email", "bob@example.org"),
        ("subject", "No JS"),
        ("message", "Plain form."),
        ("website", ""),
    ];
    let response = site
        .app
        .http
        .post(site.caddy.url("/api/contact"))
        .header("origin", Caddy::origin(site.caddy.port))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/contact/#contact-sent");

    let mails = site.app.smtp.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 2);
    let mut subjects: Vec<String> =
        mails.iter().map(|m| m.parsed().subject().unwrap().to_owned()).collect();
    subjects.sort();
    assert_eq!(subjects, ["[Contact] No JS", "[Contact] Via Caddy"]);
    let via = mails.iter().find(|m| m.parsed().subject() == Some("[Contact] Via Caddy")).unwrap();
    assert!(via.parsed().body_text(0).unwrap().contains(&id));
    assert!(mails.iter().all(|m| m.rcpt_tos == ["owner@kiln.test"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn spoofed_x_forwarded_for_through_caddy_does_not_reset_the_rate_limit() {
    let site = Site::start(2).await;
    for i in 0..2 {
        let body = site
            .app
            .with_challenge(fields("Ann", "ann@example.org", "Hi", &format!("message {i}")))
            .await;
        assert_eq!(site.post(&body).send().await.unwrap().status(), 201);
    }
    let spoofs = [
        ("x-forwarded-for", "203.0.113.77"),
        ("x-real-ip", "203.0.113.78"),
        ("forwarded", "for=203.0.113.79"),
        ("x-kiln-client-ip", "203.0.113.80"),
    ];
    for (i, (header, value)) in spoofs.into_iter().enumerate() {
        let body = site
            .app
            .with_challenge(fields("Ann", "ann@example.org", "Hi", &format!("spoof {i}")))
            .await;
        let response = site.post(&body).header(header, value).send().await.unwrap();
        assert_eq!(response.status(), 429, "{header} changed the rate-limit key");
        assert!(response.headers().contains_key("retry-after"));
    }

    // Both stored submissions carry the hash of the address Caddy saw.
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT DISTINCT client_hash FROM submissions")
        .fetch_all(&site.app.pool)
        .await
        .unwrap();
    assert_eq!(
        hashes,
        [kiln_api::client::client_hash(b"test-secret", "127.0.0.1".parse().unwrap())]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_site_post_through_caddy_is_refused() {
    let site = Site::start(100).await;
    let body =
        site.app.with_challenge(fields("Eve", "eve@example.org", "Hi", "From elsewhere.")).await;
    let response = site
        .app
        .http
        .post(site.caddy.url("/api/contact"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "cross_origin");
    assert_eq!(site.app.count("SELECT count(*) FROM submissions").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_through_caddy_gets_the_sidecars_413_not_a_502() {
    let site = Site::start(100).await;
    let body = json!({"name": "Ann", "email": "ann@example.org", "message": "x".repeat(200_000)});
    let response = site.post(&body).send().await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "payload_too_large");

    // Past Caddy's own cap too: the sidecar's answer still reaches the client.
    let body =
        json!({"name": "Ann", "email": "ann@example.org", "message": "x".repeat(5 * 1024 * 1024)});
    for _ in 0..3 {
        let response = site.post(&body).send().await.unwrap();
        assert_eq!(response.status(), 413);
    }
}
