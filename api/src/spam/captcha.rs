//! A captcha verifier that speaks the siteverify protocol.
//!
//! reCAPTCHA v3, hCaptcha and Turnstile all take a urlencoded POST of
//! `secret` and `response` and answer JSON with `success`, and optionally
//! `score`, `action` and `hostname`. The verifier fails closed: a network
//! error, a non-2xx answer, a body it cannot read, a missing or different
//! hostname, a different action or a low score all refuse the submission.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Deserialize;

/// The future a verifier returns: `Err` carries the reason code shown to the client.
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), &'static str>> + Send + 'a>>;

/// A captcha check. [`CaptchaVerifier`] speaks siteverify; another service
/// can be plugged in with [`super::SpamGuard::with_verifier`]. An
/// implementation must fail closed.
pub trait Verify: Send + Sync + std::fmt::Debug {
    /// Checks the token the page sent (`None` when it sent none).
    fn verify<'a>(&'a self, token: Option<&'a str>) -> VerifyFuture<'a>;
}

/// The part of a siteverify answer that is checked.
#[derive(Debug, Deserialize)]
struct SiteverifyAnswer {
    success: bool,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    hostname: Option<String>,
}

/// Checks captcha tokens against one siteverify endpoint.
#[derive(Debug, Clone)]
pub struct CaptchaVerifier {
    client: reqwest::Client,
    url: String,
    secret: String,
    min_score: f64,
    hostname: String,
    action: String,
}

impl CaptchaVerifier {
    /// A verifier for `url` that expects `hostname` and `action`.
    pub fn new(url: &str, secret: &str, min_score: f64, hostname: &str, action: &str) -> Self {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("reqwest client builds once the rustls provider is installed");
        Self {
            client,
            url: url.to_owned(),
            secret: secret.to_owned(),
            min_score,
            hostname: hostname.to_owned(),
            action: action.to_owned(),
        }
    }

    /// Verifies a token; the error is the reason code reported to the client.
    pub async fn check(&self, token: Option<&str>) -> Result<(), &'static str> {
        let token = token.filter(|t| !t.is_empty()).ok_or("captcha_missing")?;
        let answer = self.ask(token).await.map_err(|e| {
            tracing::warn!(error = %e, "captcha verifier unreachable; refusing");
            "captcha_unavailable"
        })?;
        self.judge(&answer)
    }

    async fn ask(&self, token: &str) -> reqwest::Result<SiteverifyAnswer> {
        let form = [("secret", self.secret.as_str()), ("response", token)];
        let response = self.client.post(&self.url).form(&form).send().await?;
        response.error_for_status()?.json().await
    }

    fn judge(&self, answer: &SiteverifyAnswer) -> Result<(), &'static str> {
        if !answer.success {
            return Err("captcha_failed");
        }
        if answer.hostname.as_deref() != Some(self.hostname.as_str()) {
            return Err("captcha_hostname");
        }
        if answer.action.as_deref().is_some_and(|a| a != self.action) {
            return Err("captcha_action");
        }
        if answer.score.is_some_and(|s| s < self.min_score) {
            return Err("captcha_score");
        }
        Ok(())
    }
}

impl Verify for CaptchaVerifier {
    fn verify<'a>(&'a self, token: Option<&'a str>) -> VerifyFuture<'a> {
        Box::pin(self.check(token))
    }
}
