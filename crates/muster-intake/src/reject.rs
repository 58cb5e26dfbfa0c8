//! Why a record was not turned into an alert, and where.

use std::fmt;

use serde::Serialize;

/// What was wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RejectKind {
    /// The record is not well-formed in its format (bad JSON, no `CEF:` header…).
    Syntax { message: String },
    /// A field the format requires is absent.
    MissingField,
    /// A field is present with the wrong JSON type.
    WrongType { expected: &'static str },
    /// A field has the right type but an unusable value.
    InvalidValue { message: String },
    /// The record or one of its fields exceeds a size limit.
    TooLarge { limit: usize },
    /// The bytes are not UTF-8.
    InvalidUtf8 { offset: usize },
    /// The record is well-formed but not an alert (e.g. a Suricata `flow`
    /// event when only alerts are configured). Not an error for the sender.
    Ignored { reason: String },
    /// No parser recognises the record.
    UnknownFormat,
}

/// A rejected record: what was wrong, in which field, on which line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Reject {
    /// The problem.
    #[serde(flatten)]
    pub kind: RejectKind,
    /// Dotted path of the offending field, e.g. `alert.signature_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// 1-based line number in the input, when the input is line-oriented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 0-based index of the record in a batch (JSON array element or line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

impl Reject {
    /// A reject of this kind, without position.
    #[must_use]
    pub const fn new(kind: RejectKind) -> Self {
        Self { kind, field: None, line: None, index: None }
    }

    /// Malformed input.
    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new(RejectKind::Syntax { message: message.into() })
    }

    /// A required field is absent.
    pub fn missing(field: impl Into<String>) -> Self {
        Self::new(RejectKind::MissingField).at_field(field)
    }

    /// A field has the wrong type.
    pub fn wrong_type(field: impl Into<String>, expected: &'static str) -> Self {
        Self::new(RejectKind::WrongType { expected }).at_field(field)
    }

    /// A field has an unusable value.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(RejectKind::InvalidValue { message: message.into() }).at_field(field)
    }

    /// The record is fine but is not an alert.
    pub fn ignored(reason: impl Into<String>) -> Self {
        Self::new(RejectKind::Ignored { reason: reason.into() })
    }

    /// Over a size limit.
    #[must_use]
    pub const fn too_large(limit: usize) -> Self {
        Self::new(RejectKind::TooLarge { limit })
    }

    /// Names the offending field.
    #[must_use]
    pub fn at_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Sets the 1-based line number.
    #[must_use]
    pub const fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Sets the 0-based batch index.
    #[must_use]
    pub const fn at_index(mut self, index: u64) -> Self {
        self.index = Some(index);
        self
    }

    /// Whether the record was merely skipped (not an error for the sender).
    #[must_use]
    pub const fn is_ignored(&self) -> bool {
        matches!(self.kind, RejectKind::Ignored { .. })
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        } else if let Some(index) = self.index {
            write!(f, "record {index}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        match &self.kind {
            RejectKind::Syntax { message } => write!(f, "malformed record: {message}"),
            RejectKind::MissingField => f.write_str("required field is missing"),
            RejectKind::WrongType { expected } => write!(f, "expected {expected}"),
            RejectKind::InvalidValue { message } => write!(f, "invalid value: {message}"),
            RejectKind::TooLarge { limit } => {
                write!(f, "too large: the limit is {limit} bytes; split or trim it")
            }
            RejectKind::InvalidUtf8 { offset } => {
                write!(f, "invalid UTF-8 at byte {offset}; send UTF-8 text")
            }
            RejectKind::Ignored { reason } => write!(f, "ignored: {reason}"),
            RejectKind::UnknownFormat => {
                f.write_str("format not recognised; pass format=eve|wazuh|ecs|cef|leef|intelmq|shadowserver|thehive")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_line_field_and_problem() {
        let r = Reject::wrong_type("alert.signature_id", "an integer").at_line(7);
        assert_eq!(r.to_string(), "line 7: field `alert.signature_id`: expected an integer");
    }

    #[test]
    fn only_ignored_rejects_are_ignored() {
        assert!(Reject::ignored("flow").is_ignored());
        assert!(!Reject::missing("x").is_ignored());
    }
}
