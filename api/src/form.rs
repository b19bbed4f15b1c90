//! The contact form's fields: decoding them and checking them.
//!
//! Decoding accepts JSON and urlencoded bodies into one allow-listed shape;
//! keys outside it are skipped by serde without being stored. Validation
//! (validator) caps every length and refuses line breaks and other control
//! characters in single-line fields, because those fields end up in mail
//! headers, where a line break would start a new header.

use std::borrow::Cow;
use std::str::FromStr;

use serde::Deserialize;
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use crate::body::BodyKind;
use crate::error::{ApiError, FieldErrors};

/// Longest name, in characters.
pub const NAME_MAX: u64 = 100;
/// Longest email address, in characters (the SMTP path limit).
pub const EMAIL_MAX: u64 = 254;
/// Longest subject, in characters.
pub const SUBJECT_MAX: u64 = 150;
/// Longest message, in characters.
pub const MESSAGE_MAX: u64 = 10_000;

/// The body as posted, before any check. Every field is optional here so
/// that a missing one becomes a field error rather than a decoding error.
#[derive(Debug, Default, Deserialize)]
pub struct RawSubmission {
    name: Option<String>,
    email: Option<String>,
    subject: Option<String>,
    message: Option<String>,
    /// The honeypot: hidden from people, filled in by naive bots.
    #[serde(default)]
    pub website: Option<String>,
    /// A signed challenge from `GET /api/contact/challenge`.
    #[serde(default)]
    pub challenge: Option<String>,
    /// The proof of work found for `challenge`.
    #[serde(default)]
    pub pow: Option<String>,
    /// A captcha token for the siteverify check.
    #[serde(default, alias = "cf-turnstile-response", alias = "h-captcha-response")]
    #[serde(alias = "g-recaptcha-response")]
    pub captcha_token: Option<String>,
}

/// The four fields that are stored and mailed, after validation.
#[derive(Debug, Clone, PartialEq, Eq, Validate)]
pub struct ContactForm {
    /// The visitor's name, one line.
    #[validate(length(min = 1, max = NAME_MAX), custom(function = "single_line"))]
    #[validate(custom(function = "not_blank"))]
    pub name: String,
    /// The visitor's address, used only as Reply-To.
    #[validate(length(max = EMAIL_MAX), custom(function = "single_line"))]
    #[validate(email(message = "must be an email address"), custom(function = "mailbox"))]
    pub email: String,
    /// The subject, one line, may be empty.
    #[validate(length(max = SUBJECT_MAX), custom(function = "single_line"))]
    pub subject: String,
    /// The message, any number of lines.
    #[validate(length(min = 1, max = MESSAGE_MAX), custom(function = "multi_line"))]
    #[validate(custom(function = "not_blank"))]
    pub message: String,
}

impl RawSubmission {
    /// Decodes a JSON or urlencoded body.
    pub fn decode(kind: BodyKind, bytes: &[u8]) -> Result<Self, ApiError> {
        let decoded = match kind {
            BodyKind::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            BodyKind::Form => serde_urlencoded::from_bytes(bytes).map_err(|e| e.to_string()),
        };
        decoded.map_err(ApiError::MalformedBody)
    }

    /// Checks the fields and returns the form to store, or every field error.
    pub fn validate(&self) -> Result<ContactForm, ApiError> {
        let mut missing = FieldErrors::new();
        for (field, value) in
            [("name", &self.name), ("email", &self.email), ("message", &self.message)]
        {
            if value.is_none() {
                missing.insert(field.to_owned(), "is required".to_owned());
            }
        }
        let form = ContactForm {
            name: self.name.clone().unwrap_or_default(),
            email: self.email.clone().unwrap_or_default(),
            subject: self.subject.clone().unwrap_or_default(),
            message: self.message.clone().unwrap_or_default(),
        };
        let mut errors = match form.validate() {
            Ok(()) => FieldErrors::new(),
            Err(errors) => field_errors(&errors),
        };
        errors.extend(missing);
        if errors.is_empty() { Ok(form) } else { Err(ApiError::InvalidFields(errors)) }
    }

    /// The four stored fields as sent, in a fixed order.
    pub(crate) fn fields(&self) -> [Option<&str>; 4] {
        [
            self.name.as_deref(),
            self.email.as_deref(),
            self.subject.as_deref(),
            self.message.as_deref(),
        ]
    }

    /// Whether the honeypot field holds anything.
    pub fn honeypot_hit(&self) -> bool {
        self.website.as_deref().is_some_and(|v| !v.trim().is_empty())
    }
}

/// Turns validator's nested errors into one message per field (the first).
fn field_errors(errors: &ValidationErrors) -> FieldErrors {
    let mut out = FieldErrors::new();
    for (field, kind) in errors.errors() {
        let ValidationErrorsKind::Field(list) = kind else { continue };
        let Some(first) = list.first() else { continue };
        out.insert(field.to_string(), describe(first));
    }
    out
}

fn describe(error: &ValidationError) -> String {
    if let Some(message) = &error.message {
        return message.to_string();
    }
    match error.code.as_ref() {
        "length" => {
            let max = error.params.get("max").map(|m| m.to_string());
            let min = error.params.get("min").map(|m| m.to_string());
            match (min, max) {
                (Some(_), Some(max)) => format!("must be between 1 and {max} characters"),
                (None, Some(max)) => format!("must be at most {max} characters"),
                _ => "has the wrong length".to_owned(),
            }
        }
        other => other.replace('_', " "),
    }
}

fn fail(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(Cow::Borrowed(message))
}

/// Single-line fields go into mail headers: no CR, LF, NUL or other control
/// characters, and none of the Unicode line and paragraph separators.
fn single_line(value: &str) -> Result<(), ValidationError> {
    let bad = value.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}');
    if bad {
        return Err(fail("control_character", "must be one line without control characters"));
    }
    Ok(())
}

/// The message may hold line breaks and tabs but no other control character;
/// NUL in particular cannot be stored in a PostgreSQL `text` column.
fn multi_line(value: &str) -> Result<(), ValidationError> {
    let bad = value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    if bad {
        return Err(fail("control_character", "must not contain control characters"));
    }
    Ok(())
}

fn not_blank(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(fail("blank", "must not be blank"));
    }
    Ok(())
}

/// The address becomes the Reply-To of the mail, so lettre must accept it
/// too; checking here keeps an unsendable job out of the outbox.
fn mailbox(value: &str) -> Result<(), ValidationError> {
    match lettre::Address::from_str(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(fail("email", "must be an email address")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(name: &str, email: &str, subject: &str, message: &str) -> RawSubmission {
        RawSubmission {
            name: Some(name.into()),
            email: Some(email.into()),
            subject: Some(subject.into()),
            message: Some(message.into()),
            ..Default::default()
        }
    }

    fn errors_of(raw: RawSubmission) -> FieldErrors {
        match raw.validate() {
            Err(ApiError::InvalidFields(fields)) => fields,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn unicode_fields_pass_unchanged() {
        let form = raw("Zoë Ñandú 🦀", "zoe@example.org", "Café ☕", "Grüße 👋\nsecond line");
        let form = form.validate().unwrap();
        assert_eq!(form.name, "Zoë Ñandú 🦀");
        assert_eq!(form.message, "Grüße 👋\nsecond line");
    }

    #[test]
    fn line_breaks_in_single_line_fields_name_the_field() {
        let errors = errors_of(raw(
            "Bob\r\nBcc: a@example.net",
            "x@example.org\r\nCc: b@example.net",
            "Hi\r\n\r\nfake",
            "ok",
        ));
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["email", "name", "subject"]);
        assert_eq!(errors["name"], "must be one line without control characters");
    }

    #[test]
    fn nul_in_message_is_a_field_error_not_a_database_error() {
        let errors = errors_of(raw("Bob", "bob@example.org", "", "a\0b"));
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["message"]);
    }

    #[test]
    fn unicode_line_separator_in_name_is_refused() {
        let errors = errors_of(raw("Bob\u{2028}Bcc: x", "bob@example.org", "", "hi"));
        assert!(errors.contains_key("name"));
    }

    #[test]
    fn length_caps_count_characters() {
        let long = "é".repeat(MESSAGE_MAX as usize + 1);
        let errors = errors_of(raw("Bob", "bob@example.org", "", &long));
        assert_eq!(errors["message"], "must be between 1 and 10000 characters");
        assert!(
            raw("Bob", "bob@example.org", "", &"é".repeat(MESSAGE_MAX as usize)).validate().is_ok()
        );
    }

    #[test]
    fn missing_and_blank_fields_are_named() {
        let errors = errors_of(RawSubmission { name: Some("  ".into()), ..Default::default() });
        assert_eq!(errors["email"], "is required");
        assert_eq!(errors["message"], "is required");
        assert_eq!(errors["name"], "must not be blank");
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let body = br#"{"name":"A","email":"a@example.org","message":"m","admin":true,"x":[1,2]}"#;
        let raw = RawSubmission::decode(BodyKind::Json, body).unwrap();
        assert_eq!(raw.validate().unwrap().name, "A");
    }

    #[test]
    fn urlencoded_bodies_decode_to_the_same_fields() {
        let raw = RawSubmission::decode(
            BodyKind::Form,
            b"name=Zo%C3%AB&email=z%40example.org&message=a%0D%0Ab&website=",
        )
        .unwrap();
        let form = raw.validate().unwrap();
        assert_eq!((form.name.as_str(), form.message.as_str()), ("Zoë", "a\r\nb"));
        assert!(!raw.honeypot_hit());
    }
}
