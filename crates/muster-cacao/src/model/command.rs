//! Commands (CACAO 5).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ExternalReference, Extra};
use crate::vocab::open_vocab;

open_vocab! {
    /// `command-type-ov`.
    CommandType {
        Manual => "manual",
        Bash => "bash",
        CalderaCmd => "caldera-cmd",
        Elastic => "elastic",
        HttpApi => "http-api",
        Jupyter => "jupyter",
        Kestrel => "kestrel",
        Openc2Http => "openc2-http",
        Powershell => "powershell",
        Sigma => "sigma",
        Ssh => "ssh",
        Yara => "yara",
    }
}

/// A command. One struct for all command types; which of `command`,
/// `command_b64`, `headers`, `content`, `content_b64` a type needs is checked
/// by validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandData {
    #[serde(rename = "type")]
    pub kind: CommandType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_activity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_references: Option<Vec<ExternalReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_b64: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl CommandData {
    /// A command of `kind` with a plain `command` string.
    #[must_use]
    pub fn new(kind: CommandType, command: impl Into<String>) -> Self {
        Self {
            kind,
            description: None,
            version: None,
            playbook_activity: None,
            external_references: None,
            command: Some(command.into()),
            command_b64: None,
            headers: None,
            content: None,
            content_b64: None,
            extra: Extra::new(),
        }
    }
}
