//! Which part of a command's result goes into which out-arg.
//!
//! A step maps its out-args under its `step_extensions`:
//!
//! ```json
//! "step_extensions": {
//!   "extension-definition--6b0d3a3c-8a44-4d8e-9a43-6d7573746572": {
//!     "out_args": { "__code__": "status", "__ip__": "$.data.ip", "__ct__": "header:content-type" }
//!   }
//! }
//! ```
//!
//! Sources: `status`, `headers`, `body`, `header:NAME` (HTTP); `stdout`,
//! `stderr`, `exit_code` (bash, ssh); a JSON path starting with `$` (into the HTTP
//! body or bash stdout, parsed as JSON). Out-args without a mapping get the
//! default of their name: `__http_status__`, `__http_headers__`,
//! `__http_body__`, `__bash_stdout__`, `__bash_stderr__`, `__bash_exit_code__`,
//! `__ssh_stdout__`, `__ssh_stderr__`, `__ssh_exit_code__`.
//!
//! CACAO values are strings: scalars become their text, a JSON object a
//! dictionary, an array (or several path matches) its JSON text.

use std::collections::BTreeMap;

use serde_json::Value;

use super::failure;
use crate::engine::{CommandFailure, CommandRequest, FailureKind};

/// Muster's extension-definition id for runner settings in `step_extensions`.
pub const MUSTER_EXTENSION: &str = "extension-definition--6b0d3a3c-8a44-4d8e-9a43-6d7573746572";

/// The result a runner produced, before it is mapped onto out-args.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawResult {
    /// Named scalar parts (`status`, `stdout`, …) as text.
    pub parts: BTreeMap<&'static str, String>,
    /// Response headers, lower-case names (HTTP only).
    pub headers: serde_json::Map<String, Value>,
    /// The text JSON paths are evaluated over (HTTP body, bash stdout).
    pub document: String,
}

/// The default source of a well-known out-arg name.
fn default_source(name: &str) -> Option<&'static str> {
    Some(match name {
        "__http_status__" => "status",
        "__http_headers__" => "headers",
        "__http_body__" => "body",
        "__bash_stdout__" => "stdout",
        "__bash_stderr__" => "stderr",
        "__bash_exit_code__" => "exit_code",
        "__ssh_stdout__" => "stdout",
        "__ssh_stderr__" => "stderr",
        "__ssh_exit_code__" => "exit_code",
        _ => return None,
    })
}

fn explicit_mapping(request: &CommandRequest) -> Result<BTreeMap<String, String>, CommandFailure> {
    let Some(ext) = request.step_extensions.as_ref().and_then(|e| e.get(MUSTER_EXTENSION)) else {
        return Ok(BTreeMap::new());
    };
    let Some(map) = ext.get("out_args") else { return Ok(BTreeMap::new()) };
    let bad = || {
        failure(
            FailureKind::ClientSideError,
            "step_extensions out_args must map out-arg names to source strings (status, headers, body, \
             header:NAME, stdout, stderr, exit_code or a JSON path starting with $)",
        )
    };
    let obj = map.as_object().ok_or_else(bad)?;
    obj.iter().map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())).ok_or_else(bad)).collect()
}

/// Assigns the step's out-args from `result`.
pub(crate) fn map_out_args(
    request: &CommandRequest,
    result: &RawResult,
) -> Result<BTreeMap<String, Value>, CommandFailure> {
    let explicit = explicit_mapping(request)?;
    let mut out = BTreeMap::new();
    let mut document: Option<Value> = None;
    for name in &request.out_args {
        let Some(source) = explicit.get(name).map(String::as_str).or_else(|| default_source(name)) else {
            continue;
        };
        let err = |msg: String| failure(FailureKind::ClientSideError, format!("out-arg {name} ({source}): {msg}"));
        let value = if source.starts_with('$') {
            if document.is_none() {
                let parsed = serde_json::from_str(&result.document)
                    .map_err(|e| err(format!("the result is not JSON ({e}), so a JSON path cannot apply")))?;
                document = Some(parsed);
            }
            let path = serde_json_path::JsonPath::parse(source).map_err(|e| err(format!("bad JSON path: {e}")))?;
            let doc = document.as_ref().unwrap_or(&Value::Null);
            let found = path.query(doc).all();
            match found.as_slice() {
                [] => return Err(err("the JSON path matched nothing in the result".into())),
                [one] => to_cacao(one),
                many => Value::String(Value::Array(many.iter().map(|v| (*v).clone()).collect()).to_string()),
            }
        } else if source == "headers" {
            Value::Object(result.headers.clone())
        } else if let Some(h) = source.strip_prefix("header:") {
            match result.headers.get(&h.to_ascii_lowercase()) {
                Some(v) => v.clone(),
                None => return Err(err("the response has no such header".into())),
            }
        } else {
            match result.parts.get(source) {
                Some(text) => Value::String(text.clone()),
                None => return Err(err("this command type does not produce that source".into())),
            }
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// A JSON value as a CACAO variable value.
fn to_cacao(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(_) | Value::Object(_) => v.clone(),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Array(_) => Value::String(v.to_string()),
    }
}
