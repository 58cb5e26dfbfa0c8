//! Typed variables, `__name__:value` substitution and scoping.
//!
//! CACAO stores every value as a JSON string (or `null`, or an object for
//! `dictionary`). [`TypedValue::parse`] turns that string into a value of the
//! declared type once, at the edge; a value that does not fit its type is an
//! error, not a string that fails later.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::model::{Variable, VariableType, Variables};

/// A variable value checked against its declared type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedValue {
    /// `null`: the value is unknown.
    Null,
    Bool(bool),
    Integer(i64),
    Long(i64),
    Float(f64),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// `mac-addr`, normalised to lower case.
    Mac(String),
    /// `hash`, `md5-hash`, `sha256-hash`, `hexstring`: lower-case hex.
    Hex(String),
    Uuid(uuid::Uuid),
    Uri(String),
    Dictionary(serde_json::Map<String, Value>),
    /// `string`, or a type outside the vocabulary.
    String(String),
}

/// Why a value does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("value {value:?} is not a valid {kind}: {reason}")]
pub struct ValueError {
    pub kind: String,
    pub value: String,
    pub reason: &'static str,
}

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    // Same as the schema's key pattern: __ + letter/underscore + up to 199 more + __.
    Regex::new(r"^__[a-zA-Z_][a-zA-Z0-9_-]{0,199}__$").unwrap_or_else(|_| unreachable!())
});

/// A reference in text: `__name__:value`. Dots are accepted inside names
/// because real playbooks use them (SOARCA's `__should.execute.true__`).
static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"__[a-zA-Z_][a-zA-Z0-9_.-]{0,199}?__:value").unwrap_or_else(|_| unreachable!()));

/// Whether `name` is a well-formed variable name (`__name__`).
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    NAME.is_match(name)
}

/// Every variable name referenced as `__name__:value` in `text`, in order.
pub fn references(text: &str) -> impl Iterator<Item = &str> {
    REFERENCE.find_iter(text).map(|m| &text[m.start()..m.end() - ":value".len()])
}

/// Every `__name__:value` reference in `text`: its byte range and the name.
pub fn reference_spans(text: &str) -> impl Iterator<Item = (std::ops::Range<usize>, &str)> {
    REFERENCE.find_iter(text).map(|m| (m.range(), &text[m.start()..m.end() - ":value".len()]))
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl TypedValue {
    /// Checks `value` (as written in the playbook) against `kind`.
    ///
    /// # Errors
    /// [`ValueError`] when the value does not fit the type.
    pub fn parse(kind: &VariableType, value: &Value) -> Result<Self, ValueError> {
        let err = |reason| ValueError { kind: kind.to_string(), value: value.to_string(), reason };
        let s = match value {
            Value::Null => return Ok(Self::Null),
            Value::Object(m) if *kind == VariableType::Dictionary => {
                return Ok(Self::Dictionary(m.clone()));
            }
            Value::String(s) => s.as_str(),
            _ => return Err(err("CACAO values are JSON strings (or null)")),
        };
        Self::parse_str(kind, s).map_err(|reason| ValueError { kind: kind.to_string(), value: s.to_owned(), reason })
    }

    /// Checks a string value against `kind`.
    ///
    /// # Errors
    /// A short reason when the value does not fit the type.
    pub fn parse_str(kind: &VariableType, s: &str) -> Result<Self, &'static str> {
        use VariableType as T;
        Ok(match kind {
            T::Bool => match s {
                "true" => Self::Bool(true),
                "false" => Self::Bool(false),
                _ => return Err("expected \"true\" or \"false\""),
            },
            T::Integer => Self::Integer(s.parse().map_err(|_| "expected a whole number")?),
            T::Long => Self::Long(s.parse().map_err(|_| "expected a 64-bit whole number")?),
            T::Float => {
                let f: f64 = s.parse().map_err(|_| "expected a number")?;
                if !f.is_finite() {
                    return Err("expected a finite number");
                }
                Self::Float(f)
            }
            T::Ipv4Addr => Self::Ipv4(parse_ip_or_cidr(s).ok_or("expected an IPv4 address")?),
            T::Ipv6Addr => {
                Self::Ipv6(s.split('/').next().and_then(|a| a.parse().ok()).ok_or("expected an IPv6 address")?)
            }
            T::MacAddr => {
                let parts: Vec<&str> = s.split([':', '-']).collect();
                if parts.len() != 6 || !parts.iter().all(|p| p.len() == 2 && is_hex(p)) {
                    return Err("expected six hex octets separated by ':'");
                }
                Self::Mac(s.to_ascii_lowercase())
            }
            T::HexString => {
                if !(is_hex(s) && s.len().is_multiple_of(2)) {
                    return Err("expected an even number of hex digits");
                }
                Self::Hex(s.to_ascii_lowercase())
            }
            T::Md5Hash => {
                if !(is_hex(s) && s.len() == 32) {
                    return Err("expected 32 hex digits");
                }
                Self::Hex(s.to_ascii_lowercase())
            }
            T::Sha256Hash => {
                if !(is_hex(s) && s.len() == 64) {
                    return Err("expected 64 hex digits");
                }
                Self::Hex(s.to_ascii_lowercase())
            }
            T::Hash => {
                if !(is_hex(s) && [32, 40, 56, 64, 96, 128].contains(&s.len())) {
                    return Err("expected an MD5/SHA-1/SHA-2 digest in hex");
                }
                Self::Hex(s.to_ascii_lowercase())
            }
            T::Uuid => Self::Uuid(uuid::Uuid::parse_str(s).map_err(|_| "expected a UUID")?),
            T::Uri => {
                let (scheme, rest) = s.split_once(':').ok_or("expected scheme:rest")?;
                let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
                if !scheme_ok || rest.is_empty() || s.chars().any(char::is_whitespace) {
                    return Err("expected an absolute URI");
                }
                Self::Uri(s.to_owned())
            }
            T::Dictionary => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => Self::Dictionary(m),
                _ => return Err("expected a JSON object"),
            },
            T::String | T::Other(_) => Self::String(s.to_owned()),
        })
    }

    /// The value as text, as substituted into commands.
    #[must_use]
    pub fn to_text(&self) -> String {
        match self {
            Self::Null => String::new(),
            Self::Bool(b) => b.to_string(),
            Self::Integer(i) | Self::Long(i) => i.to_string(),
            Self::Float(f) => f.to_string(),
            Self::Ipv4(a) => a.to_string(),
            Self::Ipv6(a) => a.to_string(),
            Self::Uuid(u) => u.to_string(),
            Self::Dictionary(m) => Value::Object(m.clone()).to_string(),
            Self::Mac(s) | Self::Hex(s) | Self::Uri(s) | Self::String(s) => s.clone(),
        }
    }
}

/// An IPv4 address, optionally written as CIDR (`10.0.0.0/8`); the prefix is checked.
fn parse_ip_or_cidr(s: &str) -> Option<Ipv4Addr> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    if let Some(p) = prefix {
        let bits: u8 = p.parse().ok()?;
        if bits > 32 {
            return None;
        }
    }
    addr.parse().ok()
}

/// The text form of a declared variable's current value.
#[must_use]
pub fn text_of(var: &Variable) -> String {
    match &var.value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Errors raised while reading or writing variables at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    #[error("variable {0} is not defined in this scope")]
    Undefined(String),
    #[error("variable {0} is constant and cannot be assigned")]
    Constant(String),
    #[error(transparent)]
    Type(#[from] ValueError),
}

/// Variable scopes, innermost last: playbook variables, then step variables.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    layers: Vec<Variables>,
}

impl Scope {
    /// A scope holding the playbook variables.
    #[must_use]
    pub fn new(playbook: Variables) -> Self {
        Self { layers: vec![playbook] }
    }

    /// Opens an inner scope (a step's `step_variables`).
    pub fn push(&mut self, vars: Variables) {
        self.layers.push(vars);
    }

    /// Closes the innermost scope and returns it.
    pub fn pop(&mut self) -> Option<Variables> {
        if self.layers.len() > 1 { self.layers.pop() } else { None }
    }

    /// The variable visible under `name` (inner scopes shadow outer ones).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.layers.iter().rev().find_map(|l| l.get(name))
    }

    /// The outermost (playbook) scope.
    #[must_use]
    pub fn playbook_vars(&self) -> &Variables {
        static EMPTY: Variables = BTreeMap::new();
        self.layers.first().unwrap_or(&EMPTY)
    }

    /// Assigns `value` to the visible variable `name`, checking its type and
    /// constness. An undeclared name is created as a `string` in the innermost scope.
    ///
    /// # Errors
    /// [`VarError::Constant`] or [`VarError::Type`].
    pub fn assign(&mut self, name: &str, value: Value) -> Result<(), VarError> {
        for layer in self.layers.iter_mut().rev() {
            if let Some(var) = layer.get_mut(name) {
                if var.is_constant() {
                    return Err(VarError::Constant(name.to_owned()));
                }
                TypedValue::parse(&var.kind, &value)?;
                var.value = Some(value);
                return Ok(());
            }
        }
        if let Some(inner) = self.layers.last_mut() {
            let mut var = Variable::new(VariableType::String, String::new());
            var.value = Some(value);
            inner.insert(name.to_owned(), var);
        }
        Ok(())
    }

    /// Replaces every `__name__:value` in `text` with the variable's value.
    ///
    /// # Errors
    /// [`VarError::Undefined`] for a reference to an undeclared variable.
    pub fn substitute(&self, text: &str) -> Result<String, VarError> {
        if !text.contains("__:value") {
            return Ok(text.to_owned());
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in REFERENCE.find_iter(text) {
            let name = &text[m.start()..m.end() - ":value".len()];
            let var = self.get(name).ok_or_else(|| VarError::Undefined(name.to_owned()))?;
            out.push_str(&text[last..m.start()]);
            out.push_str(&text_of(var));
            last = m.end();
        }
        out.push_str(&text[last..]);
        Ok(out)
    }

    /// The typed value of `name`.
    ///
    /// # Errors
    /// [`VarError::Undefined`] or [`VarError::Type`].
    pub fn typed(&self, name: &str) -> Result<TypedValue, VarError> {
        let var = self.get(name).ok_or_else(|| VarError::Undefined(name.to_owned()))?;
        Ok(TypedValue::parse(&var.kind, var.value.as_ref().unwrap_or(&Value::Null))?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(kind: &str, v: &str) -> bool {
        TypedValue::parse_str(&VariableType::from(kind), v).is_ok()
    }

    #[test]
    fn each_of_the_fifteen_types_accepts_a_good_value_and_rejects_a_bad_one() {
        let cases = [
            ("bool", "true", "yes"),
            ("dictionary", r#"{"a":"b"}"#, "[1]"),
            ("float", "1.5", "one"),
            ("hexstring", "0aff", "0xz"),
            ("integer", "-42", "4.2"),
            ("ipv4-addr", "10.0.0.1", "10.0.0.256"),
            ("ipv6-addr", "2001:db8::1", "2001:db8::g"),
            ("long", "9007199254740993", "1e3"),
            ("mac-addr", "00:1A:2b:3c:4d:5e", "00:1a:2b:3c:4d"),
            ("hash", "d41d8cd98f00b204e9800998ecf8427e", "abc"),
            ("md5-hash", "d41d8cd98f00b204e9800998ecf8427e", "d41d8cd9"),
            (
                "sha256-hash",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "d41d8cd98f00b204e9800998ecf8427e",
            ),
            ("uri", "https://example.org/x", "not a uri"),
            ("uuid", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810"),
        ];
        for (kind, good, bad) in cases {
            assert!(ok(kind, good), "{kind} should accept {good}");
            assert!(!ok(kind, bad), "{kind} should reject {bad}");
        }
        assert!(ok("string", "anything at all"));
        assert_eq!(VariableType::KNOWN.len(), 15);
    }

    #[test]
    fn typed_values_are_real_types() {
        let v = TypedValue::parse(&VariableType::Integer, &json!("7")).unwrap();
        assert_eq!(v, TypedValue::Integer(7));
        let v = TypedValue::parse(&VariableType::Bool, &json!("false")).unwrap();
        assert_eq!(v, TypedValue::Bool(false));
        assert!(TypedValue::parse(&VariableType::Integer, &json!(7)).is_err());
        assert_eq!(TypedValue::parse(&VariableType::Ipv4Addr, &Value::Null).unwrap(), TypedValue::Null);
    }

    #[test]
    fn substitution_replaces_references_and_rejects_undefined_ones() {
        let mut vars = Variables::new();
        vars.insert("__ip__".into(), Variable::new(VariableType::Ipv4Addr, "192.0.2.7"));
        let scope = Scope::new(vars);
        assert_eq!(scope.substitute("block __ip__:value now").unwrap(), "block 192.0.2.7 now");
        assert_eq!(scope.substitute("plain __ip__").unwrap(), "plain __ip__");
        assert_eq!(scope.substitute("x __nope__:value").unwrap_err(), VarError::Undefined("__nope__".into()));
    }

    #[test]
    fn step_scope_shadows_and_constants_refuse_assignment() {
        let mut global = Variables::new();
        global.insert("__a__".into(), Variable::new(VariableType::String, "g"));
        let mut scope = Scope::new(global);
        let mut local = Variables::new();
        let mut c = Variable::new(VariableType::String, "l");
        c.constant = Some(true);
        local.insert("__a__".into(), c);
        scope.push(local);
        assert_eq!(scope.substitute("__a__:value").unwrap(), "l");
        assert_eq!(scope.assign("__a__", json!("x")), Err(VarError::Constant("__a__".into())));
        scope.pop();
        assert_eq!(scope.substitute("__a__:value").unwrap(), "g");
        scope.assign("__a__", json!("h")).unwrap();
        assert_eq!(scope.substitute("__a__:value").unwrap(), "h");
    }

    #[test]
    fn assignment_checks_the_declared_type() {
        let mut vars = Variables::new();
        vars.insert("__n__".into(), Variable::new(VariableType::Integer, "1"));
        let mut scope = Scope::new(vars);
        assert!(matches!(scope.assign("__n__", json!("one")), Err(VarError::Type(_))));
        scope.assign("__n__", json!("2")).unwrap();
        assert_eq!(scope.typed("__n__").unwrap(), TypedValue::Integer(2));
    }

    #[test]
    fn references_finds_names_with_dots() {
        let found: Vec<&str> = references("__should.execute.true__:value = yes AND __b__:value").collect();
        assert_eq!(found, vec!["__should.execute.true__", "__b__"]);
    }
}
