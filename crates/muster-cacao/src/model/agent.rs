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

/// Authentication information. Secrets (`password`, `token`, and secret-named
/// extension properties such as `client_secret`) are redacted by
/// [`AuthenticationInfo::redacted`] before anything leaves the engine; its
/// `Debug` output is redacted too, so a stray `{:?}` in a log leaks nothing.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
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

/// Extension property names whose values are secrets.
const SECRET_KEYS: [&str; 7] = ["password", "token", "client_secret", "secret", "private_key", "passphrase", "api_key"];

/// The text shown instead of a secret.
pub const REDACTED: &str = "[REDACTED]";

fn hide_secret_properties(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, item) in m.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) && !item.is_null() {
                    *item = serde_json::Value::String(REDACTED.to_owned());
                } else {
                    hide_secret_properties(item);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(hide_secret_properties),
        _ => {}
    }
}

fn collect_secret_properties<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, item) in m {
                match item {
                    serde_json::Value::String(s) if SECRET_KEYS.contains(&k.as_str()) => out.push(s),
                    other => collect_secret_properties(other, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_secret_properties(i, out)),
        _ => {}
    }
}

impl std::fmt::Debug for AuthenticationInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.redacted();
        f.debug_struct("AuthenticationInfo")
            .field("kind", &r.kind)
            .field("name", &r.name)
            .field("user_id", &r.user_id)
            .field("username", &r.username)
            .field("password", &r.password)
            .field("oauth_header", &r.oauth_header)
            .field("token", &r.token)
            .field("kms", &r.kms)
            .field("kms_key_identifier", &r.kms_key_identifier)
            .field("authentication_info_extensions", &r.authentication_info_extensions)
            .finish_non_exhaustive()
    }
}

impl AuthenticationInfo {
    /// A copy with every secret replaced by `"[REDACTED]"`: `password`, `token`,
    /// and secret-named properties inside extensions and unknown properties.
    #[must_use]
    pub fn redacted(&self) -> Self {
        let hide = |v: &Option<String>| v.as_ref().map(|_| REDACTED.to_owned());
        let mut extensions = self.authentication_info_extensions.clone();
        for v in extensions.iter_mut().flat_map(|m| m.values_mut()) {
            hide_secret_properties(v);
        }
        let mut extra = serde_json::Value::Object(self.extra.clone());
        hide_secret_properties(&mut extra);
        Self {
            password: hide(&self.password),
            token: hide(&self.token),
            authentication_info_extensions: extensions,
            extra: match extra {
                serde_json::Value::Object(m) => m,
                _ => self.extra.clone(),
            },
            ..self.clone()
        }
    }

    /// Every secret value this object holds (non-empty), for scrubbing text.
    #[must_use]
    pub fn secrets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = [&self.password, &self.token].into_iter().flatten().map(String::as_str).collect();
        for v in self.authentication_info_extensions.iter().flat_map(|m| m.values()) {
            collect_secret_properties(v, &mut out);
        }
        for (k, v) in &self.extra {
            match v {
                serde_json::Value::String(s) if SECRET_KEYS.contains(&k.as_str()) => out.push(s),
                other => collect_secret_properties(other, &mut out),
            }
        }
        out.retain(|s| !s.is_empty());
        out
    }
}
