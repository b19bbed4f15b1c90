//! `kiln-api`: the sidecar that handles Kiln's contact form.
//!
//! The modules follow a submission's path: [`body`] and [`form`] read and
//! check it, [`csrf`], [`client`] and [`ratelimit`] decide whether it may
//! come in, [`spam`] judges it, [`idempotency`] and [`submission`] store it
//! once, [`events`] and [`subscribers`] react inside the same transaction,
//! and [`outbox`] with [`mail`] deliver the notification afterwards.
//! [`app`] wires them into an axum service and [`ops`] holds the operator
//! commands.

pub mod app;
pub mod body;
pub mod client;
pub mod config;
pub mod contact;
pub mod csrf;
pub mod db;
pub mod error;
pub mod events;
pub mod form;
pub mod idempotency;
pub mod mail;
pub mod ops;
pub mod outbox;
pub mod ratelimit;
pub mod spam;
pub mod submission;
pub mod subscribers;

/// Installs rustls' ring provider for the process; reqwest needs one before
/// any client is built. Calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
