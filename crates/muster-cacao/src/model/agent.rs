//! Agents, targets (CACAO 7) and authentication information (CACAO 6).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CivicLocation, Contact, Extensions, Extra};
use crate::vocab::open_vocab;

open_vocab! {
    /// `agent-target-type-ov`: the ten agent and target types.
    AgentTargetType {
        Group => "group",
        Individual => "individual",
        Location => "location",
        Organization => "organization",
        Sector => "sector",
        HttpApi => "http-api",
        Linux => "linux",
        NetAddress => "net-address",
        SecurityCategory => "security-category",
        Ssh => "ssh",
    }
}

/// An agent or target. One struct for all ten types: the type-specific
/// properties are optional here and checked by validation per type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentTarget {
    #[serde(rename = "type")]
    pub kind: AgentTargetType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<CivicLocation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_target_extensions: Option<Extensions>,
    /// group, individual, organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical: Option<Vec<String>>,
    /// sector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    /// http-api, linux, net-address, ssh: address kind (`url`, `dname`, `ipv4`,
    /// `ipv6`, `l2mac`, `vlan`) to a list of addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<BTreeMap<String, Vec<serde_json::Value>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

open_vocab! {
    /// `authentication-info-type-ov`.
    AuthenticationInfoType {
        HttpBasic => "http-basic",
        Oauth2 => "oauth2",
        UserAuth => "user-auth",
    }
}

/// Authentication information. Secrets (`password`, `token`) are redacted by
/// [`AuthenticationInfo::redacted`] before anything leaves the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticationInfo {
    #[serde(rename = "type")]
    pub kind: AuthenticationInfoType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_info_extensions: Option<Extensions>,
    /// http-basic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// user-auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// oauth2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl AuthenticationInfo {
    /// A copy with every secret replaced by `"[REDACTED]"`.
    #[must_use]
    pub fn redacted(&self) -> Self {
        let hide = |v: &Option<String>| v.as_ref().map(|_| "[REDACTED]".to_owned());
        Self { password: hide(&self.password), token: hide(&self.token), ..self.clone() }
    }
}
