//! The subscribers the service starts with.
//!
//! In priority order for `ContactSubmitted`: the activity log records every
//! stored submission (by id and status only), the spam gate stops the event
//! for anything not accepted, and the mail notification enqueues the owner's
//! mail in the outbox. Because the gate stops propagation, a held or spam
//! submission never reaches the mail subscriber.

use std::sync::Arc;

use sqlx::PgConnection;

use crate::events::{
    ContactSubmitted, Handler, HandlerFuture, Propagation, Subscriber, Subscription,
};
use crate::outbox;

/// Priority of the activity log: before anything can stop the event.
pub const ACTIVITY_LOG_PRIORITY: i32 = 100;
/// Priority of the spam gate.
pub const SPAM_GATE_PRIORITY: i32 = 50;
/// Priority of the mail notification.
pub const MAIL_PRIORITY: i32 = 0;

/// Logs each stored submission as one line with its id and status.
#[derive(Debug, Default)]
pub struct ActivityLog;

impl Handler<ContactSubmitted> for ActivityLog {
    fn handle<'a>(
        &'a self,
        event: &'a ContactSubmitted,
        _conn: &'a mut PgConnection,
    ) -> HandlerFuture<'a> {
        Box::pin(async move {
            tracing::info!(submission_id = %event.submission_id, status = event.status, "contact submission stored");
            Ok(Propagation::Continue)
        })
    }
}

impl Subscriber for ActivityLog {
    fn name(&self) -> &'static str {
        "activity_log"
    }

    fn subscriptions(self: Arc<Self>) -> Vec<Subscription> {
        vec![Subscription::to::<ContactSubmitted, _>(ACTIVITY_LOG_PRIORITY, self)]
    }
}

/// Stops the event for submissions that are held or spam.
#[derive(Debug, Default)]
pub struct SpamGate;

impl Handler<ContactSubmitted> for SpamGate {
    fn handle<'a>(
        &'a self,
        event: &'a ContactSubmitted,
        _conn: &'a mut PgConnection,
    ) -> HandlerFuture<'a> {
        let flow =
            if event.status == "accepted" { Propagation::Continue } else { Propagation::Stop };
        Box::pin(async move { Ok(flow) })
    }
}

impl Subscriber for SpamGate {
    fn name(&self) -> &'static str {
        "spam_gate"
    }

    fn subscriptions(self: Arc<Self>) -> Vec<Subscription> {
        vec![Subscription::to::<ContactSubmitted, _>(SPAM_GATE_PRIORITY, self)]
    }
}

/// Enqueues the owner's notification mail in the same transaction.
#[derive(Debug, Default)]
pub struct MailNotification;

impl Handler<ContactSubmitted> for MailNotification {
    fn handle<'a>(
        &'a self,
        event: &'a ContactSubmitted,
        conn: &'a mut PgConnection,
    ) -> HandlerFuture<'a> {
        Box::pin(async move {
            outbox::enqueue(conn, outbox::MAIL_CONTACT, event.submission_id).await?;
            Ok(Propagation::Continue)
        })
    }
}

impl Subscriber for MailNotification {
    fn name(&self) -> &'static str {
        "mail_notification"
    }

    fn subscriptions(self: Arc<Self>) -> Vec<Subscription> {
        vec![Subscription::to::<ContactSubmitted, _>(MAIL_PRIORITY, self)]
    }
}
