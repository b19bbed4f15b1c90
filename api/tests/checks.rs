//! Each check of `POST /api/contact` in turn: content type, origin, rate
//! limit, spam policy (honeypot, challenge, captcha, no-JavaScript policy),
//! the form answers without JavaScript, and `/api/health`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::Form;
use axum::routing::post;
use common::{ORIGIN, TestApp, fields};
use kiln_api::config::{JsCheck, NoJsPolicy};
use serde_json::{Value, json};

fn valid() -> Value {
    fields("Ann", "ann@example.org", "Hello", "A message.")
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_site_post_is_refused_with_403_and_nothing_stored() {
    let app = TestApp::start().await;
    let body = app.with_challenge(valid()).await;
    let url = app.url("/api/contact");
    let attempts = [
        vec![("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")],
        vec![("origin", ORIGIN), ("sec-fetch-site", "cross-site")],
        vec![("origin", "http://kiln.test.evil.example")],
        vec![("sec-fetch-site", "same-origin")],
        vec![],
    ];
    for headers in attempts {
        let mut request = app.http.post(&url).json(&body);
        for (k, v) in &headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403, "{headers:?}");
        assert_eq!(error_code(response).await, "cross_origin");
    }
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn other_content_types_get_415() {
    let app = TestApp::start().await;
    let response = app
        .http
        .post(app.url("/api/contact"))
        .header("origin", ORIGIN)
        .header("content-type", "text/plain")
        .body("name=Ann")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(error_code(response).await, "unsupported_media_type");
}

#[tokio::test(flavor = "multi_thread")]
async fn sixth_post_in_the_period_gets_429_with_retry_after_for_that_ip_only() {
    let app = TestApp::start_with(|c| c.rate_limit_burst = 5).await;
    for i in 0..5 {
        let body = app
            .with_challenge(fields("Ann", "ann@example.org", "Hi", &format!("message {i}")))
            .await;
        assert_eq!(app.post_json("203.0.113.10", &body).send().await.unwrap().status(), 201);
    }
    let body = app.with_challenge(fields("Ann", "ann@example.org", "Hi", "message 6")).await;
    let response = app
        .post_json("203.0.113.10", &body)
        .header("x-forwarded-for", "192.0.2.99")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((100..=120).contains(&retry), "Retry-After {retry}");
    assert_eq!(error_code(response).await, "rate_limited");

    let response = app.post_json("203.0.113.11", &body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn repeat_with_known_key_is_answered_even_when_rate_limited() {
    let app = TestApp::start_with(|c| c.rate_limit_burst = 1).await;
    let body = app.with_challenge(valid()).await;
    let first =
        app.post_json("203.0.113.12", &body).header("idempotency-key", "k-1").send().await.unwrap();
    let first: Value = first.json().await.unwrap();
    let again =
        app.post_json("203.0.113.12", &body).header("idempotency-key", "k-1").send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
}

#[tokio::test(flavor = "multi_thread")]
async fn honeypot_hit_looks_like_success_is_stored_as_spam_and_mails_nobody() {
    let app = TestApp::start().await;
    let mut body = app.with_challenge(valid()).await;
    body["website"] = json!("http://spam.example");
    let response = app.post_json("203.0.113.13", &body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "received");
    let (status, reason): (String, Option<String>) =
        sqlx::query_as("SELECT status, spam_reason FROM submissions WHERE id = $1::uuid")
            .bind(answer["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), reason.as_deref()), ("spam", Some("honeypot")));
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 0);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(app.smtp.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn json_post_without_or_with_a_forged_challenge_is_refused() {
    let app = TestApp::start().await;
    let response = app.post_json("203.0.113.14", &valid()).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "spam_refused");
    assert_eq!(body["error"]["message"], "submission refused: challenge_invalid");

    let mut body = app.with_challenge(valid()).await;
    body["pow"] = json!("not-the-proof");
    let body: Value =
        app.post_json("203.0.113.14", &body).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error"]["message"], "submission refused: proof_of_work_invalid");
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn challenge_used_for_a_second_message_is_refused() {
    let app = TestApp::start().await;
    let first = app.with_challenge(valid()).await;
    assert_eq!(app.post_json("203.0.113.15", &first).send().await.unwrap().status(), 201);
    let mut second = fields("Ann", "ann@example.org", "Hello", "A different message.");
    second["challenge"] = first["challenge"].clone();
    second["pow"] = first["pow"].clone();
    let body: Value =
        app.post_json("203.0.113.15", &second).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error"]["message"], "submission refused: challenge_reused");
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn form_filled_faster_than_minimum_fill_time_is_refused() {
    let app = TestApp::start_with(|c| c.spam.challenge_min_fill = Duration::from_secs(30)).await;
    let body = app.with_challenge(valid()).await;
    let body: Value =
        app.post_json("203.0.113.16", &body).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error"]["message"], "submission refused: too_fast");
}

#[tokio::test(flavor = "multi_thread")]
async fn challenge_endpoint_is_not_cached_and_carries_the_policy() {
    let app =
        TestApp::start_with(|c| c.spam.challenge_min_fill = Duration::from_millis(1500)).await;
    let response = app.http.get(app.url("/api/contact/challenge")).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let issued: Value = response.json().await.unwrap();
    assert_eq!(issued["difficulty"], 6);
    assert_eq!(issued["min_fill_ms"], 1500);
    assert!(issued["token"].as_str().unwrap().starts_with("v1."));
}

#[tokio::test(flavor = "multi_thread")]
async fn form_post_without_javascript_redirects_303_to_the_thank_you_page() {
    let app = TestApp::start().await;
    let form = [
        ("name", "Ann"),
        ("email", "ann@example.org"),
        ("subject", "Hi"),
        ("message", "By form."),
        ("website", ""),
    ];
    let response = app.post_form("203.0.113.17", &form).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/contact/#contact-sent");
    let (message, status): (String, String) =
        sqlx::query_as("SELECT message, status FROM submissions")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((message.as_str(), status.as_str()), ("By form.", "accepted"));
    assert_eq!(app.smtp.wait_for(1, Duration::from_secs(10)).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn form_post_with_field_errors_redirects_to_a_page_naming_them() {
    let app = TestApp::start().await;
    let form = [("name", ""), ("email", "not-an-address"), ("message", "Hi")];
    let response = app.post_form("203.0.113.18", &form).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/api/contact/error?field=email&field=name");

    let page = app.http.get(app.url(&location)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<strong>Email</strong>"), "{html}");
    assert!(html.contains("<strong>Name</strong>"), "{html}");
    assert!(!html.contains("<strong>Message</strong>"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn error_page_never_reflects_query_text() {
    let app = TestApp::start().await;
    let url = app.url("/api/contact/error?field=%3Cscript%3Ealert(1)%3C/script%3E&reason=%3Cb%3E");
    let html = app.http.get(url).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("<script>") && !html.contains("<b>"), "{html}");
    assert!(html.contains("Please check the form"), "{html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_javascript_hold_policy_stores_as_held_and_mails_nobody() {
    let app = TestApp::start_with(|c| c.spam.no_js_policy = NoJsPolicy::Hold).await;
    let form = [("name", "Ann"), ("email", "ann@example.org"), ("message", "Held.")];
    let response = app.post_form("203.0.113.19", &form).send().await.unwrap();
    assert_eq!(response.headers()["location"], "/contact/#contact-sent");
    let status: String =
        sqlx::query_scalar("SELECT status FROM submissions").fetch_one(&app.pool).await.unwrap();
    assert_eq!(status, "held");
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_javascript_refuse_policy_redirects_with_the_reason() {
    let app = TestApp::start_with(|c| c.spam.no_js_policy = NoJsPolicy::Refuse).await;
    let form = [("name", "Ann"), ("email", "ann@example.org"), ("message", "Refused.")];
    let response = app.post_form("203.0.113.20", &form).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/api/contact/error?reason=no_javascript");
    let html = app.http.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("needs JavaScript"), "{html}");
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_form_post_gets_429_page_with_retry_after() {
    let app = TestApp::start_with(|c| c.rate_limit_burst = 1).await;
    let form = [("name", "Ann"), ("email", "ann@example.org"), ("message", "One.")];
    assert_eq!(app.post_form("203.0.113.21", &form).send().await.unwrap().status(), 303);
    let form = [("name", "Ann"), ("email", "ann@example.org"), ("message", "Two.")];
    let response = app.post_form("203.0.113.21", &form).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert!(response.text().await.unwrap().contains("Too many messages"));
}

/// A stand-in for a siteverify endpoint: the token says what to answer.
async fn siteverify() -> String {
    async fn verify(Form(form): Form<std::collections::HashMap<String, String>>) -> Json<Value> {
        assert_eq!(form.get("secret").map(String::as_str), Some("captcha-secret"));
        let good =
            json!({"success": true, "hostname": "kiln.test", "action": "contact", "score": 0.9});
        Json(match form.get("response").map(String::as_str) {
            Some("good") => good,
            Some("hcaptcha-style") => json!({"success": true, "hostname": "kiln.test"}),
            Some("low-score") => {
                json!({"success": true, "hostname": "kiln.test", "action": "contact", "score": 0.1})
            }
            Some("other-host") => {
                json!({"success": true, "hostname": "evil.example", "action": "contact", "score": 0.9})
            }
            Some("other-action") => {
                json!({"success": true, "hostname": "kiln.test", "action": "login", "score": 0.9})
            }
            Some("no-host") => json!({"success": true, "action": "contact", "score": 0.9}),
            _ => json!({"success": false, "error-codes": ["invalid-input-response"]}),
        })
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/siteverify", post(verify))).await
    });
    format!("http://{addr}/siteverify")
}

#[tokio::test(flavor = "multi_thread")]
async fn captcha_verifier_checks_success_score_hostname_and_action() {
    let url = siteverify().await;
    let app = TestApp::start_with(|c| {
        c.spam.spam_check = JsCheck::Captcha;
        c.spam.captcha_verify_url = Some(url);
        c.spam.captcha_secret = "captcha-secret".into();
    })
    .await;
    let cases = [
        ("good", None),
        ("hcaptcha-style", None),
        ("low-score", Some("captcha_score")),
        ("other-host", Some("captcha_hostname")),
        ("other-action", Some("captcha_action")),
        ("no-host", Some("captcha_hostname")),
        ("rejected", Some("captcha_failed")),
    ];
    for (i, (token, refusal)) in cases.into_iter().enumerate() {
        let mut body = fields("Ann", "ann@example.org", "Hi", &format!("captcha case {i}"));
        body["captcha_token"] = json!(token);
        let response = app.post_json("203.0.113.22", &body).send().await.unwrap();
        match refusal {
            None => assert_eq!(response.status(), 201, "{token}"),
            Some(reason) => {
                assert_eq!(response.status(), 400, "{token}");
                let body: Value = response.json().await.unwrap();
                assert_eq!(
                    body["error"]["message"],
                    format!("submission refused: {reason}"),
                    "{token}"
                );
            }
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn captcha_verifier_that_is_down_fails_closed() {
    let port = common::free_port();
    let app = TestApp::start_with(|c| {
        c.spam.spam_check = JsCheck::Captcha;
        c.spam.captcha_verify_url = Some(format!("http://127.0.0.1:{port}/siteverify"));
    })
    .await;
    let mut body = valid();
    body["captcha_token"] = json!("good");
    let body: Value =
        app.post_json("203.0.113.23", &body).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error"]["message"], "submission refused: captcha_unavailable");
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_reports_database_and_outbox_state() {
    let app = TestApp::start().await;
    let body: Value =
        app.http.get(app.url("/api/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "ok", "database": "ok", "outbox": {"pending": 0, "parked": 0}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_503_when_the_database_is_unreachable() {
    use tower::ServiceExt;

    let db = common::TestDb::new().await;
    let mut config = common::config(&db, "smtp://127.0.0.1:1");
    config.database.database_url =
        format!("postgres://postgres@127.0.0.1:{}/none", common::free_port());
    let pool = kiln_api::db::pool(&config.database).unwrap();
    let app = kiln_api::app::router(Arc::new(kiln_api::app::AppState::new(config, pool)));
    let request = axum::http::Request::get("/api/health").body(axum::body::Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["database"], "unreachable");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_carries_a_request_id() {
    let app = TestApp::start().await;
    let response = app.http.get(app.url("/api/health")).send().await.unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "{id}");
}

#[tokio::test(flavor = "multi_thread")]
async fn body_sent_too_slowly_gets_408_and_nothing_stored() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::start_with(|c| c.request_timeout = Duration::from_millis(500)).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/contact HTTP/1.1\r\nHost: kiln.test\r\nOrigin: {ORIGIN}\r\n\
         Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"name\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 0);
}

/// A verifier of another kind, plugged in place of siteverify.
#[derive(Debug)]
struct OnlyOpenSesame;

impl kiln_api::spam::captcha::Verify for OnlyOpenSesame {
    fn verify<'a>(&'a self, token: Option<&'a str>) -> kiln_api::spam::captcha::VerifyFuture<'a> {
        Box::pin(async move {
            if token == Some("open sesame") { Ok(()) } else { Err("captcha_failed") }
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugged_in_verifier_decides_captcha_posts() {
    let mut config = common::config(&common::TestDb::new().await, "smtp://127.0.0.1:1");
    config.spam.spam_check = JsCheck::Captcha;
    let guard = kiln_api::spam::SpamGuard::new(&config.spam, b"k", "kiln.test")
        .with_verifier(Arc::new(OnlyOpenSesame));
    let mut raw: Value = valid();
    raw["captcha_token"] = json!("open sesame");
    let decode = |v: &Value| {
        kiln_api::form::RawSubmission::decode(
            kiln_api::body::BodyKind::Json,
            v.to_string().as_bytes(),
        )
        .unwrap()
    };
    let verdict = guard.judge(kiln_api::body::BodyKind::Json, &decode(&raw)).await.unwrap();
    assert_eq!(verdict, kiln_api::spam::Verdict::Accept { challenge_id: None });
    raw["captcha_token"] = json!("guess");
    let refused = guard.judge(kiln_api::body::BodyKind::Json, &decode(&raw)).await.unwrap_err();
    assert_eq!(refused.to_string(), "submission refused: captcha_failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn same_text_after_the_dedupe_window_is_a_new_submission() {
    let app = TestApp::start_with(|c| c.dedupe_window = Duration::from_millis(300)).await;
    let first = app.with_challenge(valid()).await;
    let first: Value =
        app.post_json("203.0.113.30", &first).send().await.unwrap().json().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let again = app.with_challenge(valid()).await;
    let again = app.post_json("203.0.113.30", &again).send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert!(!again.headers().contains_key("idempotent-replayed"));
    let again: Value = again.json().await.unwrap();
    assert_ne!(first["id"], again["id"]);
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM idempotency_keys").await,
        1,
        "the expired key was taken over"
    );
}
