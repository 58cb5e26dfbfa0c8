//! Data markings (CACAO 9), extension definitions (CACAO 8) and signatures (CACAO 10.15).

use serde::{Deserialize, Serialize};

use super::{Extensions, ExternalReference, Extra};

/// `data-marking-type-enum` (a closed enumeration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataMarkingType {
    MarkingStatement,
    MarkingTlp,
    MarkingIep,
}

/// A data marking definition: statement, TLP 2.0 or IEP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataMarking {
    #[serde(rename = "type")]
    pub kind: DataMarkingType,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_by: String,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// External references. IEP markings use plain strings here, the others objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_references: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marking_extensions: Option<Extensions>,
    /// marking-statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// marking-tlp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlpv2_level: Option<String>,
    /// marking-iep: every other IEP property (tlp, iep_version, dates, policies)
    /// is kept in `extra` and checked by validation.
    #[serde(flatten)]
    pub extra: Extra,
}

impl DataMarking {
    /// The TLP 2.0 level of a `marking-tlp`, when it names one exactly.
    #[must_use]
    pub fn tlp(&self) -> Option<muster_core::Tlp> {
        let level = self.tlpv2_level.as_deref()?;
        muster_core::Tlp::parse(level).ok().filter(|t| t.as_str() == level)
    }
}

/// An extension definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionDefinition {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_by: String,
    pub schema: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_references: Option<Vec<ExternalReference>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A JSS signature (`type: "jss"`), possibly countersigned by `signature`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub created: String,
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<bool>,
    pub signee: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    pub related_to: String,
    pub related_version: String,
    pub hash_algorithm: String,
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_cert_chain: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// base64url signature value; empty while the signature is being computed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Box<Signature>>,
    #[serde(flatten)]
    pub extra: Extra,
}
