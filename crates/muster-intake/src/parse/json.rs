//! Field access on a parsed JSON document by dotted path, accepting both the
//! nested (`{"source":{"ip":…}}`) and the flattened (`{"source.ip":…}`)
//! spellings, with rejections that name the path.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::{Deserialize, Deserializer, Unexpected, Visitor};
use serde_json::{Map, Value};

use super::{ParseOptions, text};
use crate::reject::Reject;

/// Looks `path` up, trying at each level both the next segment and the whole
/// remaining dotted path as a literal key.
#[must_use]
pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    lookup_in(obj, path)
}

fn lookup_in<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    let mut split = path.match_indices('.');
    loop {
        let (i, _) = split.next()?;
        if let Some(Value::Object(inner)) = obj.get(&path[..i])
            && let Some(v) = lookup_in(inner, &path[i + 1..])
        {
            return Some(v);
        }
    }
}

/// The string at `path`, if it is one.
#[cfg(test)]
fn lookup_str<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    lookup(v, path).and_then(Value::as_str)
}

/// Scalars as text; arrays and objects as compact JSON; null as `None`.
#[must_use]
pub fn value_to_string(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// A JSON string that borrows from the record when it has no escapes.
///
/// serde's own `Cow<str>` only borrows when it is a field's whole type: inside
/// an `Option`, a `Vec` or a map it always allocates, one allocation per field
/// on the hot EVE path. Accepts and rejects exactly what `Cow<str>` does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JStr<'a>(pub Cow<'a, str>);

impl Deref for JStr<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for JStr<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                std::str::from_utf8(v)
                    .map(|s| Cow::Owned(s.to_owned()))
                    .map_err(|_| E::invalid_value(Unexpected::Bytes(v), &self))
            }
        }
        d.deserialize_string(V).map(JStr)
    }
}

/// A JSON object record with typed getters that reject with the field path.
pub struct JsonRecord {
    pub root: Value,
}

impl JsonRecord {
    /// Parses `record` as one JSON object.
    ///
    /// # Errors
    /// Too large, not UTF-8, not JSON (with line and column), not an object.
    pub fn parse(record: &[u8], options: &ParseOptions) -> Result<Self, Reject> {
        let s = text(record, options)?;
        let root: Value = serde_json::from_str(s).map_err(|e| json_error(&e))?;
        if !root.is_object() {
            return Err(Reject::syntax("expected a JSON object"));
        }
        Ok(Self { root })
    }

    /// The raw value at `path`; JSON null counts as absent.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&Value> {
        lookup(&self.root, path).filter(|v| !v.is_null())
    }

    /// An optional string field; numbers and booleans are rendered as text.
    ///
    /// # Errors
    /// When the field is an array or object.
    pub fn text(&self, path: &str) -> Result<Option<Cow<'_, str>>, Reject> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::Array(_) | Value::Object(_)) => Err(Reject::wrong_type(path, "a string")),
            Some(v) => Ok(value_to_string(v)),
        }
    }

    /// A required string field.
    ///
    /// # Errors
    /// When absent, empty or not a scalar.
    pub fn required_text(&self, path: &str) -> Result<Cow<'_, str>, Reject> {
        match self.text(path)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(Reject::missing(path)),
        }
    }

    /// An optional unsigned integer (a JSON number or a numeric string).
    ///
    /// # Errors
    /// When present but not a non-negative integer.
    pub fn u64(&self, path: &str) -> Result<Option<u64>, Reject> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                n.as_u64().map(Some).ok_or_else(|| Reject::wrong_type(path, "a non-negative integer"))
            }
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => {
                s.trim().parse().map(Some).map_err(|_| Reject::wrong_type(path, "a non-negative integer"))
            }
            Some(_) => Err(Reject::wrong_type(path, "a non-negative integer")),
        }
    }

    /// A list of strings; a single string counts as a one-element list.
    ///
    /// # Errors
    /// When present but neither a string nor an array of scalars.
    pub fn strings(&self, path: &str) -> Result<Vec<Cow<'_, str>>, Reject> {
        match self.get(path) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| match v {
                    Value::Array(_) | Value::Object(_) => Err(Reject::wrong_type(path, "an array of strings")),
                    v => Ok(value_to_string(v).unwrap_or_default()),
                })
                .collect(),
            Some(Value::Object(_)) => Err(Reject::wrong_type(path, "an array of strings")),
            Some(v) => Ok(value_to_string(v).into_iter().collect()),
        }
    }
}

/// A serde_json error as a syntax rejection with its position.
pub fn json_error(e: &serde_json::Error) -> Reject {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "unexpected JSON value",
        serde_json::error::Category::Io => "read error",
    };
    Reject::syntax(format!("{what} at line {} column {}: {e}", e.line(), e.column()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_nested_and_flattened_paths() {
        let v: Value = serde_json::json!({
            "source": {"ip": "1.2.3.4"},
            "kibana.alert.rule": {"name": "r"},
            "destination.ip": "5.6.7.8",
        });
        assert_eq!(lookup_str(&v, "source.ip"), Some("1.2.3.4"));
        assert_eq!(lookup_str(&v, "kibana.alert.rule.name"), Some("r"));
        assert_eq!(lookup_str(&v, "destination.ip"), Some("5.6.7.8"));
        assert_eq!(lookup_str(&v, "source.port"), None);
    }

    #[test]
    fn typed_getters_name_the_field_on_wrong_types() {
        let o = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
        let r = JsonRecord::parse(br#"{"a":{"b":[1]},"n":"x","m":-1}"#, &o).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.text("a.b").err().and_then(|e| e.field), Some("a.b".into()));
        assert_eq!(r.u64("n").err().and_then(|e| e.field), Some("n".into()));
        assert_eq!(r.u64("m").err().and_then(|e| e.field), Some("m".into()));
        assert_eq!(r.required_text("zz").err().and_then(|e| e.field), Some("zz".into()));
    }

    #[test]
    fn truncated_json_says_so() {
        let o = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
        let e = JsonRecord::parse(br#"{"a": "b"#, &o).err().map(|e| e.to_string());
        assert!(e.as_deref().is_some_and(|m| m.contains("truncated JSON")), "{e:?}");
    }
}
