//! The `kiln-api` binary as an operator runs it: shutdown on SIGTERM, a kill
//! -9 after an acknowledged submission, and the operator subcommands.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{ORIGIN, SmtpSink, TestDb, fields};
use kiln_api::spam::challenge::solve;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_kiln-api");

/// The service as a child process, configured through the environment only.
struct Running {
    child: Child,
    port: u16,
}

fn serve(db: &TestDb, smtp_url: &str) -> Command {
    let port = common::free_port();
    let mut cmd = Command::new(BIN);
    cmd.env("KILN_LISTEN", format!("127.0.0.1:{port}"))
        .env("KILN_DATABASE_URL", &db.url)
        .env("KILN_SITE_ORIGIN", ORIGIN)
        .env("KILN_SECRET", "process-test-secret")
        .env("KILN_CHALLENGE_DIFFICULTY", "4")
        .env("KILN_CHALLENGE_MIN_FILL", "0s")
        .env("KILN_SMTP_URL", smtp_url)
        .env("KILN_MAIL_TO", "owner@kiln.test")
        .env("KILN_OUTBOX_BACKOFF", "100ms")
        .env("KILN_OUTBOX_POLL", "100ms")
        .env("KILN_OUTBOX_MAX_ATTEMPTS", "1000")
        .env("KILN_LOG", "info")
        .env("KILN_PORT_FOR_TEST", port.to_string())
        .stderr(Stdio::piped());
    cmd
}

impl Running {
    async fn start(mut cmd: Command) -> Self {
        kiln_api::install_crypto_provider();
        let port: u16 = cmd
            .get_envs()
            .find(|(k, _)| *k == "KILN_PORT_FOR_TEST")
            .unwrap()
            .1
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let child = cmd.spawn().unwrap();
        let running = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(running.url("/api/health")).await
                && r.status() == 200
            {
                return running;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("kiln-api did not become healthy");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn body_with_challenge(&self, message: &str) -> Value {
        let issued: Value =
            reqwest::get(self.url("/api/contact/challenge")).await.unwrap().json().await.unwrap();
        let token = issued["token"].as_str().unwrap().to_owned();
        let mut body = fields("Ann", "ann@example.org", "Process", message);
        body["pow"] = json!(solve(&token, issued["difficulty"].as_u64().unwrap() as u8));
        body["challenge"] = json!(token);
        body
    }

    async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    let db = TestDb::new().await;
    let smtp = SmtpSink::start();
    let mut running = Running::start(serve(&db, &smtp.url())).await;
    let body =
        serde_json::to_vec(&running.body_with_challenge("Sent across a SIGTERM.").await).unwrap();

    let mut stream = TcpStream::connect(("127.0.0.1", running.port)).await.unwrap();
    let head = format!(
        "POST /api/contact HTTP/1.1\r\nHost: kiln.test\r\nOrigin: {ORIGIN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    running.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(running.child.try_wait().unwrap().is_none(), "exited with a request in flight");
    assert!(
        TcpStream::connect(("127.0.0.1", running.port)).await.is_err(),
        "still accepting after SIGTERM"
    );

    stream.write_all(&body[10..]).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let status = running.wait_exit(Duration::from_secs(10)).await.expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");

    // The mail either left before the worker stopped or waits in the outbox
    // for the next start; either way it arrives exactly once.
    let _restarted = Running::start(serve(&db, &smtp.url())).await;
    assert_eq!(smtp.wait_for(1, Duration::from_secs(10)).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_submission_survives_kill_9_and_is_mailed_after_restart() {
    let db = TestDb::new().await;
    let smtp_port = common::free_port();
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}");
    let running = Running::start(serve(&db, &smtp_url)).await;
    let body = running.body_with_challenge("Survives a crash.").await;
    let response = reqwest::Client::new()
        .post(running.url("/api/contact"))
        .header("origin", ORIGIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    running.signal("KILL");
    drop(running);

    let smtp = SmtpSink::start_on(smtp_port);
    let _restarted = Running::start(serve(&db, &smtp_url)).await;
    let mails = smtp.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].parsed().body_text(0).unwrap().contains(&id));
}

fn run(db: &TestDb, args: &[&str]) -> Output {
    let output = Command::new(BIN).args(args).env("KILN_DATABASE_URL", &db.url).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

async fn seed(db: &TestDb) -> sqlx::PgPool {
    run(db, &["migrate"]);
    let pool = db.pool().await;
    let rows = [
        ("Zoë", "Zoe@Example.org", "accepted", "400 days"),
        ("Bob", "bob@example.org", "spam", "1 day"),
        ("Zoë", "zoe@example.org", "accepted", "2 days"),
        ("Cy, \"the\" tester", "cy@example.org", "held", "3 days"),
    ];
    for (name, email, status, age) in rows {
        let id = uuid::Uuid::new_v4();
        sqlx::query(
            "INSERT INTO submissions (id, created_at, name, email, subject, message, status, client_hash) \
             VALUES ($1, now() - $2::interval, $3, $4, 'Hi', E'line 1\\nline 2', $5, '\\x00')",
        )
        .bind(id)
        .bind(age)
        .bind(name)
        .bind(email)
        .bind(status)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO outbox (kind, payload, submission_id, status, attempts, last_error) VALUES ('mail.contact', '{}', $1, 'parked', 8, 'smtp delivery failed')")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool
}

#[tokio::test(flavor = "multi_thread")]
async fn export_writes_every_submission_as_csv() {
    let db = TestDb::new().await;
    seed(&db).await;
    let output = run(&db, &["export"]);
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        ["id", "created_at", "status", "spam_reason", "name", "email", "subject", "message"]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 4);
    assert_eq!(&records[0][4], "Zoë", "oldest first");
    assert_eq!(&records[1][4], "Cy, \"the\" tester");
    assert_eq!(&records[1][7], "line 1\nline 2");

    let held = run(&db, &["export", "--status", "held"]);
    assert_eq!(csv::Reader::from_reader(held.stdout.as_slice()).records().count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn forget_deletes_every_submission_and_job_for_an_address() {
    let db = TestDb::new().await;
    let pool = seed(&db).await;
    let output = run(&db, &["forget", "ZOE@example.org"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "Deleted 2 submission(s) and their mail jobs for that address"
    );
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM submissions WHERE lower(email) = 'zoe@example.org'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    let jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&pool).await.unwrap();
    assert_eq!(jobs, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_deletes_submissions_older_than_retention() {
    let db = TestDb::new().await;
    let pool = seed(&db).await;
    run(&db, &["purge", "--retention", "365d"]);
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM submissions ORDER BY created_at")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(names, ["Cy, \"the\" tester", "Zoë", "Bob"]);
    let output = Command::new(BIN)
        .args(["purge"])
        .env("KILN_DATABASE_URL", &db.url)
        .env("KILN_RETENTION", "36h")
        .output()
        .unwrap();
    assert!(output.status.success());
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM submissions").fetch_all(&pool).await.unwrap();
    assert_eq!(names, ["Bob"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_list_shows_parked_jobs_and_requeue_makes_them_due() {
    let db = TestDb::new().await;
    let pool = seed(&db).await;
    let listed = String::from_utf8(run(&db, &["jobs", "list"]).stdout).unwrap();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 5, "{listed}");
    assert!(
        lines[1].contains("mail.contact")
            && lines[1].contains("parked")
            && lines[1].contains("smtp delivery failed"),
        "{listed}"
    );

    let first: i64 =
        sqlx::query_scalar("SELECT min(id) FROM outbox").fetch_one(&pool).await.unwrap();
    run(&db, &["jobs", "requeue", &first.to_string()]);
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM outbox WHERE id = $1")
            .bind(first)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("pending", 0));

    let output = run(&db, &["jobs", "requeue", "--all"]);
    assert_eq!(String::from_utf8_lossy(&output.stderr).trim(), "Requeued 3 parked job(s)");
    let pending =
        String::from_utf8(run(&db, &["jobs", "list", "--status", "pending"]).stdout).unwrap();
    assert_eq!(pending.lines().count(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_hold_one_line_per_request_and_no_bodies_emails_or_client_ips() {
    use std::io::Read;

    let db = TestDb::new().await;
    let smtp = SmtpSink::start();
    let mut running = Running::start(serve(&db, &smtp.url())).await;
    let mut body = running.body_with_challenge("very private words").await;
    body["email"] = json!("secret.person@example.org");
    let client = reqwest::Client::new();
    let post = |body: &Value| {
        client
            .post(running.url("/api/contact"))
            .header("origin", ORIGIN)
            .header("x-kiln-client-ip", "198.51.100.77")
            .json(body)
            .send()
    };
    assert_eq!(post(&body).await.unwrap().status(), 201);
    let mut bad = body.clone();
    bad["name"] = json!("Bob\r\nBcc: x@example.net");
    assert_eq!(post(&bad).await.unwrap().status(), 422);
    assert_eq!(smtp.wait_for(1, Duration::from_secs(10)).await.len(), 1);

    running.signal("TERM");
    running.wait_exit(Duration::from_secs(10)).await.expect("exits after SIGTERM");
    let mut logs = String::new();
    running.child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();

    let request_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("route=\"/api/contact\"") && l.contains(" request "))
        .collect();
    assert_eq!(request_lines.len(), 2, "{logs}");
    assert!(request_lines.iter().all(|l| l.contains("request_id=")), "{logs}");
    assert!(
        request_lines[0].contains("status=201") && request_lines[1].contains("status=422"),
        "{logs}"
    );
    for secret in ["secret.person@example.org", "very private words", "198.51.100.77", "Bcc", "Ann"]
    {
        assert!(!logs.contains(secret), "`{secret}` leaked into the logs:\n{logs}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_in_the_middle_of_a_burst_loses_no_acknowledged_submission() {
    let db = TestDb::new().await;
    let smtp_port = common::free_port();
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}");
    let running = Running::start(serve(&db, &smtp_url)).await;
    let mut bodies = Vec::new();
    for i in 0..60 {
        let mut body = running.body_with_challenge(&format!("burst message {i}")).await;
        body["subject"] = json!(format!("burst {i}"));
        bodies.push(body);
    }

    let client = reqwest::Client::new();
    let url = running.url("/api/contact");
    let answered = Arc::new(AtomicUsize::new(0));
    let sends = bodies.into_iter().enumerate().map(|(i, body)| {
        let (client, url, answered) = (client.clone(), url.clone(), answered.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i as u64 * 10)).await;
            let response =
                client.post(url).header("origin", ORIGIN).json(&body).send().await.ok()?;
            let created = response.status() == 201;
            let id = response.json::<Value>().await.ok()?["id"].as_str()?.to_owned();
            answered.fetch_add(1, Ordering::SeqCst);
            created.then_some(id)
        })
    });
    let sends: Vec<_> = sends.collect();
    // Kill once a few answers are in, while the rest are still being sent.
    let deadline = Instant::now() + Duration::from_secs(10);
    while answered.load(Ordering::SeqCst) < 5 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.signal("KILL");
    let mut acknowledged = Vec::new();
    for send in sends {
        if let Some(id) = send.await.unwrap() {
            acknowledged.push(id);
        }
    }
    drop(running);
    assert!(
        !acknowledged.is_empty() && acknowledged.len() < 60,
        "the kill landed mid-burst: {}",
        acknowledged.len()
    );

    let smtp = SmtpSink::start_on(smtp_port);
    let _restarted = Running::start(serve(&db, &smtp_url)).await;
    let pool = db.pool().await;
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM submissions").fetch_one(&pool).await.unwrap();
    let mails = smtp.wait_for(stored as usize, Duration::from_secs(20)).await;
    assert_eq!(mails.len() as i64, stored, "every stored submission is mailed once");
    for id in &acknowledged {
        let found =
            mails.iter().filter(|m| m.parsed().body_text(0).unwrap().contains(id.as_str())).count();
        assert_eq!(found, 1, "acknowledged submission {id} was mailed {found} times");
    }
}
