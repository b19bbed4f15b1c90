//! A typed event dispatcher whose subscribers run inside the caller's
//! database transaction.
//!
//! A subscriber declares which events it handles, each with a priority.
//! Dispatch runs the handlers of one event from the highest priority down
//! (ties in the order they were added); a handler may stop propagation, and
//! an error from any handler fails the dispatch so that the caller rolls the
//! transaction back. Subscribers are added and removed while the service runs.
//! Handlers must stay quick: work that is slow (mail, rebuilds) is written to
//! the outbox through the transaction they are given, never done inline.

use std::any::{Any, TypeId};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use sqlx::PgConnection;
use uuid::Uuid;

/// An event that can be dispatched.
pub trait Event: Any + Send + Sync {
    /// A stable name for logs.
    const NAME: &'static str;
}

/// Whether lower-priority handlers still see the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Pass the event on.
    Continue,
    /// Stop here: no handler of lower priority runs.
    Stop,
}

/// The future a handler returns; it may borrow the event and the connection.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Propagation>> + Send + 'a>>;

/// Handles one event type `E`.
pub trait Handler<E: Event>: Send + Sync + 'static {
    /// Reacts to `event`, writing through `conn`, the caller's open transaction.
    fn handle<'a>(&'a self, event: &'a E, conn: &'a mut PgConnection) -> HandlerFuture<'a>;
}

/// Something that reacts to events: it names itself and lists what it handles.
pub trait Subscriber: Send + Sync + 'static {
    /// A name for logs.
    fn name(&self) -> &'static str;
    /// The events this subscriber handles, each with its priority.
    fn subscriptions(self: Arc<Self>) -> Vec<Subscription>;
}

/// One event type handled by a subscriber, at one priority.
pub struct Subscription {
    event: TypeId,
    event_name: &'static str,
    priority: i32,
    handler: Arc<dyn ErasedHandler>,
}

impl Subscription {
    /// `handler` handles `E` at `priority` (higher runs first).
    pub fn to<E: Event, H: Handler<E>>(priority: i32, handler: Arc<H>) -> Self {
        let typed = Typed::<E, H> { handler, event: PhantomData };
        Self { event: TypeId::of::<E>(), event_name: E::NAME, priority, handler: Arc::new(typed) }
    }
}

trait ErasedHandler: Send + Sync {
    fn call<'a>(
        &'a self,
        event: &'a (dyn Any + Send + Sync),
        conn: &'a mut PgConnection,
    ) -> HandlerFuture<'a>;
}

struct Typed<E, H> {
    handler: Arc<H>,
    event: PhantomData<fn(E)>,
}

impl<E: Event, H: Handler<E>> ErasedHandler for Typed<E, H> {
    fn call<'a>(
        &'a self,
        event: &'a (dyn Any + Send + Sync),
        conn: &'a mut PgConnection,
    ) -> HandlerFuture<'a> {
        // The dispatcher files handlers under `TypeId::of::<E>()`, so the
        // downcast only fails on a bug in this module.
        let event = event.downcast_ref::<E>().expect("handler filed under its own event type");
        self.handler.handle(event, conn)
    }
}

/// Identifies an added subscriber, for removing it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriberId(Uuid);

struct Entry {
    id: SubscriberId,
    name: &'static str,
    subscription: Subscription,
}

/// What a dispatch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    /// Names of the subscribers that ran, in the order they ran.
    pub ran: Vec<&'static str>,
    /// Whether one of them stopped propagation.
    pub stopped: bool,
}

/// The registry of subscribers and the entry point for dispatching.
#[derive(Default)]
pub struct Dispatcher {
    entries: RwLock<Vec<Entry>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("subscriptions", &self.read().len()).finish()
    }
}

impl Dispatcher {
    /// An empty dispatcher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a subscriber with all its subscriptions.
    pub fn add<S: Subscriber>(&self, subscriber: Arc<S>) -> SubscriberId {
        let id = SubscriberId(Uuid::new_v4());
        let name = subscriber.name();
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for subscription in subscriber.subscriptions() {
            entries.push(Entry { id, name, subscription });
        }
        id
    }

    /// Removes a subscriber; says whether it was there.
    pub fn remove(&self, id: SubscriberId) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let before = entries.len();
        entries.retain(|e| e.id != id);
        entries.len() != before
    }

    /// Runs the handlers of `event` inside the caller's transaction.
    pub async fn dispatch<E: Event>(
        &self,
        event: &E,
        conn: &mut PgConnection,
    ) -> anyhow::Result<Dispatched> {
        let handlers = self.handlers_for::<E>();
        let mut ran = Vec::with_capacity(handlers.len());
        for (name, handler) in handlers {
            ran.push(name);
            let flow = handler.call(event, &mut *conn).await.map_err(|e| {
                e.context(format!("subscriber `{name}` failed on event `{}`", E::NAME))
            })?;
            if flow == Propagation::Stop {
                tracing::debug!(event = E::NAME, subscriber = name, "propagation stopped");
                return Ok(Dispatched { ran, stopped: true });
            }
        }
        Ok(Dispatched { ran, stopped: false })
    }

    /// A snapshot of the handlers for `E`, highest priority first, so that
    /// no lock is held while they run.
    fn handlers_for<E: Event>(&self) -> Vec<(&'static str, Arc<dyn ErasedHandler>)> {
        let entries = self.read();
        let mut matching: Vec<(i32, usize, &Entry)> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.subscription.event == TypeId::of::<E>())
            .map(|(order, e)| (e.subscription.priority, order, e))
            .collect();
        matching.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        matching
            .into_iter()
            .map(|(_, _, e)| (e.name, Arc::clone(&e.subscription.handler)))
            .collect()
    }

    /// The events each subscriber handles, for logs at start-up.
    pub fn describe(&self) -> Vec<(&'static str, &'static str, i32)> {
        self.read()
            .iter()
            .map(|e| (e.name, e.subscription.event_name, e.subscription.priority))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Entry>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// A contact submission was stored; dispatched inside its transaction.
#[derive(Debug, Clone)]
pub struct ContactSubmitted {
    /// The stored submission.
    pub submission_id: Uuid,
    /// Its status: `accepted`, `held` or `spam`.
    pub status: &'static str,
}

impl Event for ContactSubmitted {
    const NAME: &'static str = "contact_submitted";
}
