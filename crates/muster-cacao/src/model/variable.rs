//! Playbook and step variables (CACAO 10.18).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Extra;
use crate::vocab::open_vocab;

open_vocab! {
    /// `variable-type-ov`: the fifteen CACAO variable types.
    VariableType {
        Bool => "bool",
        Dictionary => "dictionary",
        Float => "float",
        HexString => "hexstring",
        Integer => "integer",
        Ipv4Addr => "ipv4-addr",
        Ipv6Addr => "ipv6-addr",
        Long => "long",
        MacAddr => "mac-addr",
        Hash => "hash",
        Md5Hash => "md5-hash",
        Sha256Hash => "sha256-hash",
        String => "string",
        Uri => "uri",
        Uuid => "uuid",
    }
}

/// Variables keyed by their `__name__`.
pub type Variables = BTreeMap<String, Variable>;

/// A variable declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    #[serde(rename = "type")]
    pub kind: VariableType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `None`: absent; `Some(Null)`: explicitly unknown; otherwise the value as written.
    #[serde(default, deserialize_with = "super::present", skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<bool>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Variable {
    /// A variable of `kind` holding `value` as a string.
    #[must_use]
    pub fn new(kind: VariableType, value: impl Into<String>) -> Self {
        Self {
            kind,
            description: None,
            value: Some(serde_json::Value::String(value.into())),
            constant: None,
            external: None,
            extra: Extra::new(),
        }
    }

    /// Whether the variable is immutable.
    #[must_use]
    pub fn is_constant(&self) -> bool {
        self.constant.unwrap_or(false)
    }

    /// Whether the variable's initial value comes from the calling context.
    #[must_use]
    pub fn is_external(&self) -> bool {
        self.external.unwrap_or(false)
    }
}
