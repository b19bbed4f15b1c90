//! The field cases C01–C04 of `shared/cases/contact-api.md`, through the real
//! HTTP server, a real PostgreSQL and a real SMTP server.

mod common;

use std::time::Duration;

use common::{TestApp, fields};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAIL_WAIT: Duration = Duration::from_secs(10);

#[derive(sqlx::FromRow, Debug, PartialEq)]
struct Row {
    name: String,
    email: String,
    subject: String,
    message: String,
    status: String,
}

async fn row(app: &TestApp, id: &str) -> Row {
    sqlx::query_as(
        "SELECT name, email, subject, message, status FROM submissions WHERE id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// C01.
#[tokio::test(flavor = "multi_thread")]
async fn unicode_and_emoji_fields_are_stored_byte_identical_and_mailed_encoded() {
    let app = TestApp::start().await;
    let sent = fields("Zoë Ñandú 🦀", "zoe@example.org", "Café ☕", "Grüße 👋\nsecond line");
    let response = app
        .post_json("198.51.100.1", &app.with_challenge(sent.clone()).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();

    let stored = row(&app, &id).await;
    assert_eq!(stored.name.as_bytes(), "Zoë Ñandú 🦀".as_bytes());
    assert_eq!(stored.subject.as_bytes(), "Café ☕".as_bytes());
    assert_eq!(stored.message.as_bytes(), "Grüße 👋\nsecond line".as_bytes());
    assert!(!stored.name.contains("\\u"), "no escapes stored: {:?}", stored.name);

    let mails = app.smtp.wait_for(1, MAIL_WAIT).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.rcpt_tos, ["owner@kiln.test"]);
    let headers = mail.raw_headers();
    assert!(headers.is_ascii(), "headers are 7-bit on the wire:\n{headers}");
    assert!(headers.contains("Subject: [Contact] =?utf-8?"), "{headers}");
    assert!(headers.contains("Reply-To: =?utf-8?"), "{headers}");
    assert!(headers.contains("Content-Type: text/plain; charset=utf-8"), "{headers}");

    let parsed = mail.parsed();
    assert_eq!(parsed.subject(), Some("[Contact] Café ☕"));
    let reply_to = parsed.reply_to().and_then(|a| a.first()).unwrap();
    assert_eq!(reply_to.name(), Some("Zoë Ñandú 🦀"));
    assert_eq!(reply_to.address(), Some("zoe@example.org"));
    // Mail lines end in CRLF on the wire; the newline itself must survive.
    let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(text.contains("\n\nGrüße 👋\nsecond line\n"), "body keeps the newline: {text:?}");
}

/// C02.
#[tokio::test(flavor = "multi_thread")]
async fn header_injection_in_single_line_fields_is_a_field_error_and_nothing_is_stored() {
    let app = TestApp::start().await;
    let cases = [
        (
            "name",
            fields(
                "Bob\r\nBcc: one@example.net, two@example.net",
                "bob@example.org",
                "Hi",
                "hello",
            ),
        ),
        ("subject", fields("Bob", "bob@example.org", "Hi\r\n\r\nfake body", "hello")),
        ("email", fields("Bob", "x@example.org\r\nCc: three@example.net", "Hi", "hello")),
        ("name", fields("Bob\0", "bob@example.org", "Hi", "hello")),
    ];
    for (field, body) in cases {
        let response =
            app.post_json("198.51.100.2", &app.with_challenge(body).await).send().await.unwrap();
        assert_eq!(response.status(), 422, "{field}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_fields");
        let named: Vec<&String> = error["error"]["fields"].as_object().unwrap().keys().collect();
        assert_eq!(named, [field]);
    }
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 0);

    // Line breaks are fine in the message, and cannot reach the headers from there.
    let body = fields(
        "Bob",
        "bob@example.org",
        "Hi",
        "line one\r\nBcc: four@example.net\r\n\r\nfake body",
    );
    let response =
        app.post_json("198.51.100.2", &app.with_challenge(body).await).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let mails = app.smtp.wait_for(1, MAIL_WAIT).await;
    assert_eq!(mails[0].rcpt_tos, ["owner@kiln.test"]);
    let headers = mails[0].raw_headers();
    for line in headers.lines() {
        let lower = line.to_ascii_lowercase();
        assert!(
            !lower.starts_with("bcc:") && !lower.starts_with("cc:"),
            "unexpected header {line}"
        );
    }
    assert_eq!(headers.lines().filter(|l| l.starts_with("To:")).count(), 1);
    let parsed = mails[0].parsed();
    assert_eq!(parsed.subject(), Some("[Contact] Hi"));
    assert!(parsed.body_text(0).unwrap().contains("fake body"));
}

/// Sends raw bytes on a fresh connection and returns what the server answered.
async fn raw_exchange(app: &TestApp, head: String, body: &[u8]) -> String {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer and close before the body is written; that is the point.
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn request_head(extra: &str) -> String {
    format!(
        "POST /api/contact HTTP/1.1\r\nHost: kiln.test\r\nOrigin: {}\r\nSec-Fetch-Site: same-origin\r\n\
         Content-Type: application/json\r\n{extra}\r\n",
        common::ORIGIN
    )
}

/// C03: a 5 MiB body with its length declared is refused before it is sent.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_declared_body_gets_413_without_the_body_being_read() {
    let app = TestApp::start().await;
    let head = request_head("Content-Length: 5242880\r\n");
    // Not one byte of the body is sent: a 413 proves nothing waited for it.
    let answer = raw_exchange(&app, head, b"").await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"payload_too_large\""), "{answer}");
}

/// C03: from a client that is not the proxy, the connection is closed after
/// the 413 rather than read any further.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_body_from_direct_client_is_answered_and_connection_closed_unread() {
    let app = TestApp::start_with(|c| c.trusted_proxy = vec![]).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request_head("Content-Length: 5242880\r\n").as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // Well under the 2 s a drain for the proxy would hold the connection.
    let closed =
        tokio::time::timeout(Duration::from_millis(1500), stream.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "connection left open");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 413"));
}

/// C03: a chunked body with no length is cut off at the cap.
#[tokio::test(flavor = "multi_thread")]
async fn oversized_chunked_body_gets_413_and_server_stays_responsive() {
    let app = TestApp::start().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request_head("Transfer-Encoding: chunked\r\n").as_bytes()).await.unwrap();
    let chunk = format!("4000\r\n{}\r\n", "a".repeat(0x4000));
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        let mut sent = 0usize;
        while sent < 5 * 1024 * 1024 {
            if writer.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            sent += 0x4000;
        }
        sent
    });
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    drop(reader);
    let _ = tokio::time::timeout(Duration::from_secs(5), sender).await;

    let health = app.http.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

/// C03: a valid submission whose message alone passes the body cap.
#[tokio::test(flavor = "multi_thread")]
async fn message_of_200_kb_gets_413_and_one_of_20_000_chars_a_field_error() {
    let app = TestApp::start().await;
    let huge =
        app.with_challenge(fields("Bob", "bob@example.org", "Hi", &"x".repeat(200_000))).await;
    let response = app.post_json("198.51.100.3", &huge).send().await.unwrap();
    assert_eq!(response.status(), 413);

    let long =
        app.with_challenge(fields("Bob", "bob@example.org", "Hi", &"x".repeat(20_000))).await;
    let response = app.post_json("198.51.100.3", &long).send().await.unwrap();
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["fields"]["message"], "must be between 1 and 10000 characters");

    let long_name =
        app.with_challenge(fields(&"n".repeat(101), "bob@example.org", "Hi", "hello")).await;
    let response = app.post_json("198.51.100.3", &long_name).send().await.unwrap();
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["fields"]["name"], "must be between 1 and 100 characters");
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 0);
}

/// C03: unknown keys cost nothing: over the cap they are refused with the
/// rest of the body, under it they are skipped and never stored.
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_extra_keys_are_refused_by_size_and_fewer_are_ignored() {
    let app = TestApp::start().await;
    let mut body = app.with_challenge(fields("Bob", "bob@example.org", "Hi", "hello")).await;
    for i in 0..10_000 {
        body[format!("k{i}")] = json!(i);
    }
    let response = app.post_json("198.51.100.4", &body).send().await.unwrap();
    assert_eq!(response.status(), 413);

    let mut body = app.with_challenge(fields("Bob", "bob@example.org", "Hi", "hello")).await;
    for i in 0..2_000 {
        body[format!("k{i}")] = json!(i);
    }
    body["status"] = json!("accepted");
    body["id"] = json!("00000000-0000-0000-0000-000000000000");
    let response = app.post_json("198.51.100.4", &body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    assert_ne!(answer["id"], "00000000-0000-0000-0000-000000000000");
    let stored = row(&app, answer["id"].as_str().unwrap()).await;
    assert_eq!((stored.name.as_str(), stored.message.as_str()), ("Bob", "hello"));
}

/// C03: the declared length wins; what follows it is not this request's body.
#[tokio::test(flavor = "multi_thread")]
async fn content_length_100_followed_by_5_mib_reads_only_100_bytes() {
    let app = TestApp::start().await;
    let mut body = br#"{"name":"Bob","email":"bob@example.org","message":""#.to_vec();
    body.resize(100, b'x');
    body.extend(std::iter::repeat_n(b'y', 5 * 1024 * 1024));
    let answer = raw_exchange(&app, request_head("Content-Length: 100\r\n"), &body).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"malformed_body\""), "{answer}");
    assert!(!answer.contains(" 500 "), "{answer}");

    let health = app.http.get(app.url("/api/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 0);
}

/// C04: a double click, then Back and resend, all with one key.
#[tokio::test(flavor = "multi_thread")]
async fn double_submit_with_same_idempotency_key_stores_and_mails_once() {
    let app = TestApp::start().await;
    let body =
        app.with_challenge(fields("Ann", "ann@example.org", "Hello", "Only once, please.")).await;
    let send =
        || app.post_json("198.51.100.5", &body).header("idempotency-key", "2f1c0a8e-double").send();

    let first = send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = send().await.unwrap();
    let third = send().await.unwrap();
    assert_eq!(
        [first.status(), second.status(), third.status()].map(|s| s.as_u16()),
        [201, 201, 201]
    );
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let first: Value = first.json().await.unwrap();
    let second: Value = second.json().await.unwrap();
    let third: Value = third.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(first, third);

    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 1);
    assert_eq!(app.smtp.wait_for(1, MAIL_WAIT).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.smtp.messages().len(), 1);
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 1);
}

/// C04: two requests with one key in flight at the same moment.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_with_same_key_get_the_same_id() {
    let app = TestApp::start().await;
    let body = app.with_challenge(fields("Ann", "ann@example.org", "Hello", "Racing.")).await;
    let send = || app.post_json("198.51.100.6", &body).header("idempotency-key", "race-1").send();
    let (a, b) = tokio::join!(send(), send());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!([a.status().as_u16(), b.status().as_u16()], [201, 201]);
    let a: Value = a.json().await.unwrap();
    let b: Value = b.json().await.unwrap();
    assert_eq!(a["id"], b["id"]);
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 1);
}

/// C04: without a key, the same text from the same client collapses into one
/// submission within the dedupe window; a new message is still accepted.
#[tokio::test(flavor = "multi_thread")]
async fn identical_bodies_without_key_collapse_and_new_message_is_accepted() {
    let app = TestApp::start().await;
    let text = fields("Ann", "ann@example.org", "Hello", "Same words.");
    let first: Value = app
        .post_json("198.51.100.7", &app.with_challenge(text.clone()).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A fresh challenge (a reloaded page) does not make the same text new.
    let again = app
        .post_json("198.51.100.7", &app.with_challenge(text.clone()).await)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);

    // The same text from another client is its own submission.
    let other: Value = app
        .post_json("198.51.100.8", &app.with_challenge(text).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(first["id"], other["id"]);

    let new = fields("Ann", "ann@example.org", "Hello", "Something else entirely.");
    let new = app.post_json("198.51.100.7", &app.with_challenge(new).await).send().await.unwrap();
    assert_eq!(new.status(), 201);
    let new: Value = new.json().await.unwrap();
    assert_ne!(first["id"], new["id"]);
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 3);
    assert_eq!(app.smtp.wait_for(3, MAIL_WAIT).await.len(), 3);
}
