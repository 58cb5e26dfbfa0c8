//! Scrubbing secrets (authentication passwords, tokens, client secrets) out of
//! text before it reaches a record, a log or an error message.
//!
//! Records never hold authentication info by construction, but a playbook can
//! still paste a secret into a command line through a variable, and a server
//! can echo it in an error body. [`Redactor`] replaces every known secret with
//! [`REDACTED`](crate::model::REDACTED) wherever it appears.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::Value;

use crate::engine::ExecutionRecord;
use crate::model::{AuthenticationInfo, REDACTED};

/// A set of secret strings to scrub from text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor that knows no secret yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the secrets of `auth`.
    pub fn add_auth(&mut self, auth: &AuthenticationInfo) {
        for s in auth.secrets() {
            self.add(s);
        }
    }

    /// Adds one secret (empty strings are ignored).
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() || self.secrets.iter().any(|s| s == secret) {
            return;
        }
        self.secrets.push(secret.to_owned());
        // The base64 form too: an `Authorization: Basic` value or a `*_b64` field.
        let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
        if encoded.len() >= 8 && !self.secrets.contains(&encoded) {
            self.secrets.push(encoded);
        }
        self.secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// Whether no secret is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every known secret replaced.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }

    /// Scrubs every string inside a JSON value.
    pub fn scrub_value(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                let clean = self.scrub(s);
                if clean != *s {
                    *s = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.scrub_value(i)),
            Value::Object(m) => m.values_mut().for_each(|i| self.scrub_value(i)),
            _ => {}
        }
    }

    /// Scrubs a record: its status text, notes, assigned values and the
    /// decoded text of each `command_b64` entry.
    pub fn scrub_record(&self, record: &mut ExecutionRecord) {
        if self.is_empty() {
            return;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        for text in [&mut record.status_text, &mut record.notes].into_iter().flatten() {
            *text = self.scrub(text);
        }
        for v in record.assigned.values_mut() {
            self.scrub_value(v);
        }
        for c in &mut record.command_b64 {
            let decoded = b64.decode(c.as_bytes()).ok().and_then(|d| String::from_utf8(d).ok());
            if let Some(text) = decoded {
                let clean = self.scrub(&text);
                if clean != text {
                    *c = b64.encode(clean);
                }
            }
        }
    }
}

/// The distinct secrets of several authentication infos.
#[must_use]
pub fn secrets_of<'a>(auths: impl IntoIterator<Item = &'a AuthenticationInfo>) -> BTreeSet<String> {
    auths.into_iter().flat_map(|a| a.secrets()).map(str::to_owned).collect()
}
