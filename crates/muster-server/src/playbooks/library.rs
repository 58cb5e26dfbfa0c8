//! The playbook library: importing a CACAO document (validated, its
//! authentication info sealed and redacted), and loading a stored version
//! back as a runnable playbook (authentication info opened again).

use std::collections::BTreeMap;

use muster_cacao::model::AuthenticationInfo;
use muster_cacao::validate::{Issue, Options, Report, Strictness};
use muster_cacao::{Playbook, validate};
use muster_core::OrgId;
use muster_store::{NewPlaybookVersion, PlaybookVersionRow};
use serde_json::Value;

use super::secrets::{SealError, Sealer};

/// Why a document was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The validator's errors, each located by JSON path.
    #[error("the playbook is invalid: {}", .0.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Report),
}

/// A document ready to be stored, and the validator's warnings.
pub struct Prepared {
    pub version: NewPlaybookVersion,
    pub warnings: Vec<Issue>,
}

/// Validates `bytes` and prepares the version to store: authentication info
/// sealed in `auth_sealed` and redacted in the document. A document without
/// authentication info is stored byte for byte as given.
///
/// # Errors
/// [`ImportError::Invalid`] with the validator's report.
pub fn prepare(bytes: &[u8], org: OrgId, actor: &str, sealer: &Sealer) -> Result<Prepared, ImportError> {
    let (playbook, report) = validate::parse(bytes, &Options::default()).map_err(ImportError::Invalid)?;
    let auths = playbook.authentication_info_definitions.as_ref().filter(|m| !m.is_empty());
    let (document, auth_sealed) = match auths {
        None => (String::from_utf8_lossy(bytes).into_owned(), None),
        Some(auths) => {
            let mut doc: Value = serde_json::from_slice(bytes).map_err(|e| {
                ImportError::Invalid(Report {
                    errors: vec![Issue { path: String::new(), message: e.to_string() }],
                    warnings: vec![],
                })
            })?;
            let original = doc.get("authentication_info_definitions").cloned().unwrap_or(Value::Null);
            let sealed = sealer.seal(&original.to_string());
            let redacted: serde_json::Map<String, Value> = auths
                .iter()
                .map(|(k, a)| (k.clone(), serde_json::to_value(a.redacted()).unwrap_or(Value::Null)))
                .collect();
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("authentication_info_definitions".into(), Value::Object(redacted));
            }
            (doc.to_string(), Some(sealed))
        }
    };
    Ok(Prepared {
        version: NewPlaybookVersion {
            org,
            playbook_id: playbook.id.clone(),
            modified: playbook.modified.clone(),
            name: playbook.name.clone(),
            description: playbook.description.clone().unwrap_or_default(),
            document,
            auth_sealed,
            imported_by: actor.to_owned(),
        },
        warnings: report.warnings,
    })
}

/// Why a stored version cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("stored playbook {0} does not parse: {1}")]
    Parse(String, String),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// The stored document as a playbook, without secrets (for pages and the API).
///
/// # Errors
/// [`LoadError::Parse`] when the stored document is not a playbook.
pub fn parse_stored(v: &PlaybookVersionRow) -> Result<Playbook, LoadError> {
    serde_json::from_str(&v.document).map_err(|e| LoadError::Parse(v.playbook_id.clone(), e.to_string()))
}

/// The stored version as a runnable playbook, authentication info opened.
///
/// # Errors
/// [`LoadError`] when the document does not parse or the secrets do not open.
pub fn load_runnable(v: &PlaybookVersionRow, sealer: &Sealer) -> Result<Playbook, LoadError> {
    let mut pb = parse_stored(v)?;
    if let Some(sealed) = &v.auth_sealed {
        let plain = sealer.open(sealed)?;
        let auths: BTreeMap<String, AuthenticationInfo> =
            serde_json::from_str(&plain).map_err(|e| LoadError::Parse(v.playbook_id.clone(), e.to_string()))?;
        pb.authentication_info_definitions = Some(auths);
    }
    Ok(pb)
}

/// Checks a playbook is fit to run and the caller's inputs against its
/// external variables, as the engine will, so a bad start is refused before a
/// run is recorded. Returns messages naming the field.
#[must_use]
pub fn check_run(pb: &Playbook, inputs: &BTreeMap<String, Value>) -> Vec<String> {
    let report =
        muster_cacao::validate::check(pb, &Options { strictness: Strictness::Execution, ..Options::default() });
    let mut out: Vec<String> = report.errors.iter().map(|e| format!("playbook {e}")).collect();
    let vars = pb.playbook_variables.clone().unwrap_or_default();
    for (name, value) in inputs {
        match vars.get(name) {
            None => out.push(format!("variables.{name}: not declared in the playbook's playbook_variables")),
            Some(v) if !v.is_external() => {
                out.push(format!("variables.{name}: not declared external; it cannot be set when starting a run"));
            }
            Some(v) => {
                if let Err(e) = muster_cacao::vars::TypedValue::parse(&v.kind, value) {
                    out.push(format!("variables.{name}: {e}"));
                }
            }
        }
    }
    for (name, v) in &vars {
        if v.is_external() && v.value.is_none() && !inputs.contains_key(name) {
            out.push(format!("variables.{name}: the playbook needs this external variable"));
        }
    }
    out
}
