//! A self-hosted signed challenge with a proof of work.
//!
//! `GET /api/contact/challenge` hands the page a token that carries its issue
//! time, a random nonce and the difficulty, signed with HMAC-SHA256 under the
//! server secret, so no state is kept until the form comes back. The page
//! then searches for a `pow` string such that
//! `SHA-256(token ":" pow)` starts with `difficulty` zero bits, which costs a
//! browser a fraction of a second and a bulk sender that much per message.
//! The issue time enforces a minimum fill time and a maximum age; the nonce is
//! stored with the submission under a unique index, so a token is good once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Why a challenge was refused; the text is the reason shown to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    /// No token, or one that is not ours.
    Invalid,
    /// The token is older than the maximum age.
    Expired,
    /// The form came back sooner than a person can fill it in.
    TooFast,
    /// The proof of work is missing or wrong.
    WrongProof,
}

impl ChallengeError {
    /// The reason code reported to the client.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Invalid => "challenge_invalid",
            Self::Expired => "challenge_expired",
            Self::TooFast => "too_fast",
            Self::WrongProof => "proof_of_work_invalid",
        }
    }
}

/// What the page receives from `GET /api/contact/challenge`.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedChallenge {
    /// The signed token to send back as `challenge`.
    pub token: String,
    /// Leading zero bits the proof must reach.
    pub difficulty: u8,
    /// Milliseconds the page must wait after fetching before it submits.
    pub min_fill_ms: u64,
}

/// Issues and checks challenges under one secret.
#[derive(Debug, Clone)]
pub struct Challenger {
    secret: Vec<u8>,
    difficulty: u8,
    min_fill: Duration,
    max_age: Duration,
}

impl Challenger {
    /// A challenger with the given secret and policy.
    pub fn new(secret: &[u8], difficulty: u8, min_fill: Duration, max_age: Duration) -> Self {
        Self { secret: secret.to_vec(), difficulty: difficulty.min(32), min_fill, max_age }
    }

    /// A fresh challenge issued now.
    pub fn issue(&self) -> IssuedChallenge {
        let nonce: [u8; 16] = rand::random();
        let payload = format!("v1.{}.{}.{}", now_ms(), hex::encode(nonce), self.difficulty);
        let token = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(self.sign(&payload)));
        IssuedChallenge {
            token,
            difficulty: self.difficulty,
            min_fill_ms: self.min_fill.as_millis() as u64,
        }
    }

    /// Checks a returned token and proof; on success gives the nonce, which
    /// the caller stores so the token cannot be used twice.
    pub fn verify(&self, token: &str, pow: &str) -> Result<Vec<u8>, ChallengeError> {
        let (payload, signature) = token.rsplit_once('.').ok_or(ChallengeError::Invalid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| ChallengeError::Invalid)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).map_err(|_| ChallengeError::Invalid)?;

        let fields: Vec<&str> = payload.split('.').collect();
        let ["v1", issued, nonce, difficulty] = fields[..] else {
            return Err(ChallengeError::Invalid);
        };
        let issued: u64 = issued.parse().map_err(|_| ChallengeError::Invalid)?;
        let difficulty: u8 = difficulty.parse().map_err(|_| ChallengeError::Invalid)?;
        let nonce = hex::decode(nonce).map_err(|_| ChallengeError::Invalid)?;

        let age = Duration::from_millis(now_ms().saturating_sub(issued));
        if age > self.max_age {
            return Err(ChallengeError::Expired);
        }
        if age < self.min_fill {
            return Err(ChallengeError::TooFast);
        }
        // The difficulty signed into the token is the one the page was asked
        // for, so lowering the configured difficulty never rejects old tokens.
        if pow.len() > 32 || leading_zero_bits(&proof_hash(token, pow)) < u32::from(difficulty) {
            return Err(ChallengeError::WrongProof);
        }
        Ok(nonce)
    }

    fn mac(&self) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("hmac takes any key length");
        mac.update(b"kiln-challenge\0");
        mac
    }

    fn sign(&self, payload: &str) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// The hash the proof of work is judged by.
pub fn proof_hash(token: &str, pow: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    hasher.update(b":");
    hasher.update(pow.as_bytes());
    hasher.finalize().into()
}

/// Finds a proof for `token` the way the page does: counting up from zero.
pub fn solve(token: &str, difficulty: u8) -> String {
    (0u64..)
        .map(|n| n.to_string())
        .find(|pow| leading_zero_bits(&proof_hash(token, pow)) >= u32::from(difficulty))
        .expect("a proof exists below u64::MAX")
}

fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in hash {
        bits += byte.leading_zeros();
        if *byte != 0 {
            break;
        }
    }
    bits
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenger(min_fill_ms: u64) -> Challenger {
        Challenger::new(b"secret", 8, Duration::from_millis(min_fill_ms), Duration::from_secs(60))
    }

    #[test]
    fn solved_challenge_verifies_once_per_nonce() {
        let c = challenger(0);
        let issued = c.issue();
        let pow = solve(&issued.token, issued.difficulty);
        let nonce = c.verify(&issued.token, &pow).unwrap();
        assert_eq!(nonce.len(), 16);
        assert_ne!(c.issue().token, issued.token);
    }

    #[test]
    fn wrong_proof_is_refused() {
        let c = challenger(0);
        let issued = c.issue();
        let pow = solve(&issued.token, issued.difficulty);
        let wrong = (0u64..)
            .map(|n| n.to_string())
            .find(|p| leading_zero_bits(&proof_hash(&issued.token, p)) < 8);
        assert_eq!(c.verify(&issued.token, &wrong.unwrap()), Err(ChallengeError::WrongProof));
        assert!(c.verify(&issued.token, &pow).is_ok());
    }

    #[test]
    fn tampered_or_foreign_tokens_are_invalid() {
        let c = challenger(0);
        let issued = c.issue();
        let pow = solve(&issued.token, 8);
        let easier = issued.token.replacen(".8.", ".0.", 1);
        assert_eq!(c.verify(&easier, "0"), Err(ChallengeError::Invalid));
        let other = Challenger::new(b"other", 8, Duration::ZERO, Duration::from_secs(60));
        assert_eq!(other.verify(&issued.token, &pow), Err(ChallengeError::Invalid));
        assert_eq!(c.verify("garbage", "0"), Err(ChallengeError::Invalid));
    }

    #[test]
    fn submission_before_min_fill_time_is_too_fast() {
        let c = challenger(60_000);
        let issued = c.issue();
        let pow = solve(&issued.token, 8);
        assert_eq!(c.verify(&issued.token, &pow), Err(ChallengeError::TooFast));
    }

    #[test]
    fn zero_bits_are_counted_across_bytes() {
        assert_eq!(leading_zero_bits(&[0, 0x10, 0xff]), 11);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
    }
}
