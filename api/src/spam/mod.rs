//! The spam policy: honeypot, signed challenge, captcha, and the rule for
//! forms posted without JavaScript.
//!
//! The policy gives a [`Verdict`] for a submission that already passed
//! validation. A honeypot hit is answered like a success on purpose, so a bot
//! learns nothing; it is stored as spam and mails nobody.

pub mod captcha;
pub mod challenge;

use crate::body::BodyKind;
use crate::config::{JsCheck, NoJsPolicy, SpamConfig};
use crate::error::ApiError;
use crate::form::RawSubmission;

use std::sync::Arc;

use captcha::{CaptchaVerifier, Verify};
use challenge::Challenger;

/// How a submission is stored, if it is stored at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Store it and notify the owner. Carries the challenge nonce, if any.
    Accept {
        /// The nonce of the challenge the submission used.
        challenge_id: Option<Vec<u8>>,
    },
    /// Store it for review, notify nobody, answer like a success.
    Hold {
        /// Why it was held.
        reason: &'static str,
    },
    /// Store it as spam, notify nobody, answer like a success.
    Spam {
        /// Why it is spam.
        reason: &'static str,
    },
}

impl Verdict {
    /// The `status` column value for this verdict.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Accept { .. } => "accepted",
            Self::Hold { .. } => "held",
            Self::Spam { .. } => "spam",
        }
    }

    /// Why the submission is not accepted, if it is not.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Self::Accept { .. } => None,
            Self::Hold { reason } | Self::Spam { reason } => Some(reason),
        }
    }
}

/// The configured spam checks.
#[derive(Debug, Clone)]
pub struct SpamGuard {
    js_check: JsCheck,
    no_js: NoJsPolicy,
    challenger: Challenger,
    captcha: Option<Arc<dyn Verify>>,
}

impl SpamGuard {
    /// Builds the checks from config; `site_host` is the hostname a captcha
    /// verifier must report unless config names another.
    pub fn new(config: &SpamConfig, secret: &[u8], site_host: &str) -> Self {
        let challenger = Challenger::new(
            secret,
            config.challenge_difficulty,
            config.challenge_min_fill,
            config.challenge_max_age,
        );
        let captcha = config.captcha_verify_url.as_deref().map(|url| {
            let host = config.captcha_hostname.as_deref().unwrap_or(site_host);
            let verifier = CaptchaVerifier::new(
                url,
                &config.captcha_secret,
                config.captcha_min_score,
                host,
                &config.captcha_action,
            );
            Arc::new(verifier) as Arc<dyn Verify>
        });
        Self { js_check: config.spam_check, no_js: config.no_js_policy, challenger, captcha }
    }

    /// Replaces the captcha verifier, for a service that does not speak siteverify.
    pub fn with_verifier(mut self, verifier: Arc<dyn Verify>) -> Self {
        self.captcha = Some(verifier);
        self
    }

    /// The challenge issuer, for `GET /api/contact/challenge`.
    pub fn challenger(&self) -> &Challenger {
        &self.challenger
    }

    /// Judges a submission; `Err` refuses it outright.
    pub async fn judge(&self, kind: BodyKind, raw: &RawSubmission) -> Result<Verdict, ApiError> {
        if raw.honeypot_hit() {
            return Ok(Verdict::Spam { reason: "honeypot" });
        }
        match kind {
            BodyKind::Form => self.judge_without_js(),
            BodyKind::Json => self.judge_with_js(raw).await,
        }
    }

    fn judge_without_js(&self) -> Result<Verdict, ApiError> {
        match self.no_js {
            NoJsPolicy::Accept => Ok(Verdict::Accept { challenge_id: None }),
            NoJsPolicy::Hold => Ok(Verdict::Hold { reason: "no_javascript" }),
            NoJsPolicy::Refuse => Err(ApiError::SpamRefused("no_javascript")),
        }
    }

    async fn judge_with_js(&self, raw: &RawSubmission) -> Result<Verdict, ApiError> {
        match self.js_check {
            JsCheck::None => Ok(Verdict::Accept { challenge_id: None }),
            JsCheck::Challenge => {
                let token = raw.challenge.as_deref().unwrap_or_default();
                let pow = raw.pow.as_deref().unwrap_or_default();
                let nonce = self
                    .challenger
                    .verify(token, pow)
                    .map_err(|e| ApiError::SpamRefused(e.reason()))?;
                Ok(Verdict::Accept { challenge_id: Some(nonce) })
            }
            JsCheck::Captcha => {
                // Without a verifier configured there is nothing to pass: fail closed.
                let verifier =
                    self.captcha.as_ref().ok_or(ApiError::SpamRefused("captcha_unavailable"))?;
                verifier
                    .verify(raw.captcha_token.as_deref())
                    .await
                    .map_err(ApiError::SpamRefused)?;
                Ok(Verdict::Accept { challenge_id: None })
            }
        }
    }
}
