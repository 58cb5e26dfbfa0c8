//! Data types shared by several CACAO objects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Extra;

/// Extension properties keyed by `extension-definition--…` identifier.
pub type Extensions = BTreeMap<String, serde_json::Value>;

/// A reference to information held outside the playbook (CACAO 10.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ExternalReference {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Contact information (CACAO 10.6): e-mail and phone keyed by kind (`work`, `home`…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_details: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A civic location (CACAO 10.5). Coordinates are strings, as in the specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CivicLocation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building_details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administrative_area: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}
