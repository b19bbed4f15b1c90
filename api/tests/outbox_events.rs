//! The outbox worker against a real SMTP server that comes and goes, and the
//! event dispatcher inside real transactions.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{SmtpSink, TestApp, TestDb, fields};
use kiln_api::events::{
    ContactSubmitted, Dispatcher, Event, Handler, HandlerFuture, Propagation, Subscriber,
    Subscription,
};
use kiln_api::mail::Mailer;
use kiln_api::outbox::{Outcome, RetryPolicy, Worker};
use serde_json::Value;
use sqlx::PgConnection;

async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn job_state(app: &TestApp) -> (String, i32, Option<String>) {
    sqlx::query_as("SELECT status, attempts, last_error FROM outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_waits_in_outbox_while_smtp_is_down_and_goes_out_when_it_returns() {
    let port = common::free_port();
    let app = TestApp::start_with(|c| {
        c.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        c.mail.outbox_max_attempts = 1000;
    })
    .await;
    let body = app.with_challenge(fields("Ann", "ann@example.org", "Down", "SMTP is down.")).await;
    assert_eq!(app.post_json("198.51.100.30", &body).send().await.unwrap().status(), 201);

    assert!(wait_until(Duration::from_secs(10), || async { job_state(&app).await.1 >= 2 }).await);
    let (status, _, error) = job_state(&app).await;
    assert_eq!(status, "pending");
    assert!(error.unwrap().contains("smtp delivery failed"));

    let sink = SmtpSink::start_on(port);
    let mails = sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].parsed().subject(), Some("[Contact] Down"));
    assert!(
        wait_until(Duration::from_secs(5), || async { job_state(&app).await.0 == "sent" }).await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn job_that_keeps_failing_is_parked_and_requeue_sends_it() {
    let port = common::free_port();
    let app = TestApp::start_with(|c| {
        c.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        c.mail.outbox_max_attempts = 3;
    })
    .await;
    let body =
        app.with_challenge(fields("Ann", "ann@example.org", "Parked", "Keeps failing.")).await;
    assert_eq!(app.post_json("198.51.100.31", &body).send().await.unwrap().status(), 201);

    assert!(
        wait_until(Duration::from_secs(10), || async { job_state(&app).await.0 == "parked" }).await
    );
    assert_eq!(job_state(&app).await.1, 3);
    let health: Value =
        app.http.get(app.url("/api/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["outbox"]["parked"], 1);

    let sink = SmtpSink::start_on(port);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink.messages().is_empty(), "a parked job stays parked");
    assert_eq!(kiln_api::ops::requeue(&app.pool, &[]).await.unwrap(), 1);
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_never_send_the_same_job() {
    let app = TestApp::start_with(|c| c.outbox_worker = false).await;
    for i in 0..20 {
        let body = app
            .with_challenge(fields("Ann", "ann@example.org", &format!("n{i}"), "Count me once."))
            .await;
        assert_eq!(app.post_json("198.51.100.32", &body).send().await.unwrap().status(), 201);
    }
    let config = common::config(&app.db, &app.smtp.url());
    let retry = RetryPolicy { max_attempts: 3, backoff: Duration::from_millis(50) };
    let worker = |pool| {
        Worker::new(
            pool,
            Mailer::new(&config.mail).unwrap(),
            retry,
            Duration::from_millis(50),
            Default::default(),
        )
    };
    let (a, b) = (worker(app.db.pool().await), worker(app.db.pool().await));
    let drain = |w: Worker| async move {
        let mut sent = 0;
        while w.run_once().await.unwrap() == Outcome::Sent {
            sent += 1;
        }
        sent
    };
    let (sent_a, sent_b) = tokio::join!(tokio::spawn(drain(a)), tokio::spawn(drain(b)));
    assert_eq!(sent_a.unwrap() + sent_b.unwrap(), 20);

    let mails = app.smtp.wait_for(20, Duration::from_secs(5)).await;
    let mut subjects: Vec<String> =
        mails.iter().map(|m| m.parsed().subject().unwrap().to_owned()).collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 20);
}

/// Records the order handlers ran in, and optionally stops or fails.
struct Probe {
    name: &'static str,
    priority: i32,
    flow: Propagation,
    fail: bool,
    log: Arc<Mutex<Vec<&'static str>>>,
}

impl Handler<ContactSubmitted> for Probe {
    fn handle<'a>(
        &'a self,
        _event: &'a ContactSubmitted,
        conn: &'a mut PgConnection,
    ) -> HandlerFuture<'a> {
        Box::pin(async move {
            self.log.lock().unwrap().push(self.name);
            sqlx::query("SELECT 1").execute(conn).await?;
            anyhow::ensure!(!self.fail, "probe `{}` fails on purpose", self.name);
            Ok(self.flow)
        })
    }
}

impl Subscriber for Probe {
    fn name(&self) -> &'static str {
        self.name
    }
    fn subscriptions(self: Arc<Self>) -> Vec<Subscription> {
        let priority = self.priority;
        vec![Subscription::to::<ContactSubmitted, _>(priority, self)]
    }
}

fn probe(
    name: &'static str,
    priority: i32,
    flow: Propagation,
    log: &Arc<Mutex<Vec<&'static str>>>,
) -> Arc<Probe> {
    Arc::new(Probe { name, priority, flow, fail: false, log: Arc::clone(log) })
}

/// An event no probe subscribes to.
struct Unrelated;
impl Event for Unrelated {
    const NAME: &'static str = "unrelated";
}

#[tokio::test(flavor = "multi_thread")]
async fn higher_priority_runs_first_and_stop_halts_lower_priorities() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let mut conn = pool.acquire().await.unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let events = Dispatcher::new();
    events.add(probe("low", -5, Propagation::Continue, &log));
    events.add(probe("high", 10, Propagation::Continue, &log));
    events.add(probe("middle", 0, Propagation::Continue, &log));
    let event = ContactSubmitted { submission_id: uuid::Uuid::nil(), status: "accepted" };

    let done = events.dispatch(&event, &mut conn).await.unwrap();
    assert_eq!(done.ran, ["high", "middle", "low"]);
    assert!(!done.stopped);

    let stopper = events.add(probe("stopper", 5, Propagation::Stop, &log));
    let done = events.dispatch(&event, &mut conn).await.unwrap();
    assert_eq!(done.ran, ["high", "stopper"]);
    assert!(done.stopped);

    assert!(events.remove(stopper));
    assert!(!events.remove(stopper));
    assert_eq!(events.dispatch(&event, &mut conn).await.unwrap().ran, ["high", "middle", "low"]);
    assert!(events.dispatch(&Unrelated, &mut conn).await.unwrap().ran.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_subscriber_added_at_run_time_rolls_back_the_submission() {
    let app = TestApp::start().await;
    let state = &app.service.as_ref().unwrap().state;
    let log = Arc::new(Mutex::new(Vec::new()));
    let failing = Arc::new(Probe {
        name: "failing",
        priority: -10,
        flow: Propagation::Continue,
        fail: true,
        log: Arc::clone(&log),
    });
    let id = state.events.add(failing);

    let body = app.with_challenge(fields("Ann", "ann@example.org", "Hi", "Rolled back.")).await;
    let response = app.post_json("198.51.100.33", &body).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(log.lock().unwrap().as_slice(), ["failing"]);
    assert_eq!(app.count("SELECT count(*) FROM submissions").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM idempotency_keys").await, 0);

    assert!(state.events.remove(id));
    let body = app.with_challenge(fields("Ann", "ann@example.org", "Hi", "Rolled back.")).await;
    assert_eq!(app.post_json("198.51.100.33", &body).send().await.unwrap().status(), 201);
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn default_subscribers_log_then_gate_then_mail() {
    let app = TestApp::start().await;
    let described = app.service.as_ref().unwrap().state.events.describe();
    let names: Vec<(&str, i32)> =
        described.iter().map(|(name, _, priority)| (*name, *priority)).collect();
    assert_eq!(names, [("activity_log", 100), ("spam_gate", 50), ("mail_notification", 0)]);
}
