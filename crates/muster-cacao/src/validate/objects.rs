//! Checks of the playbook's own properties and of the objects it defines:
//! variables, agents and targets, authentication info, markings, extension
//! definitions and signatures.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::{Options, Report, Strictness, seg};
use crate::model::{
    AgentTarget, AgentTargetType, AuthenticationInfo, AuthenticationInfoType, DataMarkingType, Playbook, Signature,
    Variables,
};
use crate::vars::{TypedValue, is_valid_name};

static IDENTIFIER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[a-z][a-z0-9-]+[a-z0-9]--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$",
    )
    .unwrap_or_else(|_| unreachable!())
});

static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[0-9]{4}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(\.[0-9]+)?Z$",
    )
    .unwrap_or_else(|_| unreachable!())
});

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[A-Za-z0-9.!#$%&'*+/=?^_{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$",
    )
    .unwrap_or_else(|_| unreachable!())
});

/// Whether `s` is a CACAO identifier (`type--uuid`).
#[must_use]
pub fn is_identifier(s: &str) -> bool {
    IDENTIFIER.is_match(s)
}

/// The object-type prefix of an identifier.
pub(crate) fn prefix(id: &str) -> &str {
    id.split_once("--").map_or(id, |(p, _)| p)
}

/// Whether `s` is a CACAO timestamp (RFC 3339, UTC, `Z`).
#[must_use]
pub fn is_timestamp(s: &str) -> bool {
    TIMESTAMP.is_match(s)
}

/// Whether `s` is a plausible e-mail address (no spaces, quotes, `;` or shell characters).
#[must_use]
pub fn is_email(s: &str) -> bool {
    s.len() <= 254 && EMAIL.is_match(s)
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

pub(super) struct Checker<'a> {
    pub pb: &'a Playbook,
    pub options: &'a Options,
    pub report: Report,
}

impl<'a> Checker<'a> {
    pub fn new(pb: &'a Playbook, options: &'a Options) -> Self {
        Self { pb, options, report: Report::default() }
    }

    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.report.error(path, message);
    }

    pub fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.report.warning(path, message);
    }

    /// A reference to an object the playbook does not define: an error only
    /// when checking fitness to run.
    pub fn unresolved(&mut self, path: impl Into<String>, message: impl Into<String>) {
        match self.options.strictness {
            Strictness::Document => self.warn(path, message),
            Strictness::Execution => self.error(path, message),
        }
    }

    pub fn identifier(&mut self, path: &str, value: &str, expected_prefix: Option<&str>) -> bool {
        if !is_identifier(value) {
            self.error(path, format!("{value:?} is not an identifier of the form type--UUID"));
            return false;
        }
        if let Some(p) = expected_prefix
            && prefix(value) != p
        {
            self.error(path, format!("{value:?} must identify a {p} object"));
            return false;
        }
        true
    }

    pub fn timestamp(&mut self, path: &str, value: &str) {
        if !is_timestamp(value) {
            self.error(path, format!("{value:?} is not a UTC RFC 3339 timestamp (yyyy-mm-ddThh:mm:ss[.s+]Z)"));
        }
    }

    pub fn playbook(&mut self) {
        let pb = self.pb;
        if pb.kind != "playbook" {
            self.error("/type", "must be \"playbook\"");
        }
        if pb.spec_version != "cacao-2.0" {
            self.error("/spec_version", "must be \"cacao-2.0\"");
        }
        self.identifier("/id", &pb.id, Some("playbook"));
        self.identifier("/created_by", &pb.created_by, None);
        for (p, v) in [("/created", &pb.created), ("/modified", &pb.modified)] {
            self.timestamp(p, v);
        }
        if let (Some(c), Some(m)) = (parse_time(&pb.created), parse_time(&pb.modified))
            && m < c
        {
            self.error("/modified", "must not be earlier than created");
        }
        for (p, v) in [("/valid_from", &pb.valid_from), ("/valid_until", &pb.valid_until)] {
            if let Some(v) = v {
                self.timestamp(p, v);
            }
        }
        if let (Some(f), Some(u)) =
            (pb.valid_from.as_deref().and_then(parse_time), pb.valid_until.as_deref().and_then(parse_time))
            && u <= f
        {
            self.error("/valid_until", "must be later than valid_from");
        }
        for (p, v) in [("/priority", pb.priority), ("/severity", pb.severity), ("/impact", pb.impact)] {
            if v.is_some_and(|v| v > 100) {
                self.error(p, "must be between 0 and 100");
            }
        }
        for (name, list) in [("derived_from", &pb.derived_from), ("related_to", &pb.related_to)] {
            for (i, id) in list.iter().flatten().enumerate() {
                self.identifier(&format!("/{name}/{i}"), id, None);
            }
        }
        for (i, id) in pb.markings.iter().flatten().enumerate() {
            let path = format!("/markings/{i}");
            if self.identifier(&path, id, None)
                && !pb.data_marking_definitions.as_ref().is_some_and(|d| d.contains_key(id))
            {
                self.unresolved(path, format!("marking {id} is not in data_marking_definitions"));
            }
        }
        if let Some(vars) = &pb.playbook_variables {
            self.variables("/playbook_variables", vars, true);
        }
        self.auth_infos();
        for (prop, defs) in
            [("agent_definitions", &pb.agent_definitions), ("target_definitions", &pb.target_definitions)]
        {
            for (id, at) in defs.iter().flatten() {
                self.agent_target(&format!("/{prop}/{}", seg(id)), id, at);
            }
        }
        self.markings();
        for (id, ext) in pb.extension_definitions.iter().flatten() {
            let path = format!("/extension_definitions/{}", seg(id));
            self.identifier(&path, id, Some("extension-definition"));
            if ext.kind != "extension-definition" {
                self.error(format!("{path}/type"), "must be \"extension-definition\"");
            }
            self.identifier(&format!("{path}/created_by"), &ext.created_by, None);
        }
        for (i, s) in pb.signatures.iter().flatten().enumerate() {
            self.signature(&format!("/signatures/{i}"), s);
        }
    }

    pub fn variables(&mut self, path: &str, vars: &Variables, playbook_scope: bool) {
        for (name, var) in vars {
            let p = format!("{path}/{}", seg(name));
            if !is_valid_name(name) {
                self.warn(&p, "variable names should be __name__ with letters, digits, '_' or '-'");
            }
            if !var.kind.is_known() {
                self.warn(format!("{p}/type"), format!("{} is not a CACAO variable type", var.kind));
            }
            if let Some(value) = &var.value
                && let Err(e) = TypedValue::parse(&var.kind, value)
            {
                self.error(format!("{p}/value"), e.to_string());
            }
            if !playbook_scope && var.external == Some(true) {
                self.warn(format!("{p}/external"), "external applies only to playbook variables");
            }
        }
    }

    fn auth_infos(&mut self) {
        let pb = self.pb;
        for (id, auth) in pb.authentication_info_definitions.iter().flatten() {
            let path = format!("/authentication_info_definitions/{}", seg(id));
            if !self.identifier(&path, id, None) {
                continue;
            }
            self.auth_info(&path, id, auth);
        }
    }

    fn auth_info(&mut self, path: &str, id: &str, auth: &AuthenticationInfo) {
        let p = prefix(id);
        let known = AuthenticationInfoType::from(p);
        if known.is_known() && known != auth.kind {
            self.error(format!("{path}/type"), format!("type {} does not match the identifier's type {p}", auth.kind));
        }
        if auth.kind == AuthenticationInfoType::Oauth2 {
            for (field, v) in [("oauth_header", &auth.oauth_header), ("token", &auth.token)] {
                if v.is_none() {
                    self.error(path, format!("oauth2 authentication info requires {field}"));
                }
            }
        }
        if auth.kms_key_identifier.is_some() && auth.kms != Some(true) {
            self.error(format!("{path}/kms"), "kms must be true when kms_key_identifier is set");
        }
    }

    fn agent_target(&mut self, path: &str, id: &str, at: &AgentTarget) {
        if !self.identifier(path, id, None) {
            return;
        }
        let p = prefix(id);
        let declared = AgentTargetType::from(p);
        if declared.is_known() {
            if declared != at.kind {
                self.error(
                    format!("{path}/type"),
                    format!("type {} does not match the identifier's type {p}", at.kind),
                );
            }
            if at.name.is_none() {
                self.error(path, "agents and targets require a name");
            }
        } else if at.kind.as_str() != p {
            self.warn(format!("{path}/type"), format!("type {} differs from the identifier's type {p}", at.kind));
        }
        use AgentTargetType as T;
        let needs = match at.kind {
            T::HttpApi | T::Linux | T::NetAddress | T::Ssh => Some(("address", at.address.is_some())),
            T::SecurityCategory => Some(("category", at.category.is_some())),
            T::Sector => Some(("sector", at.sector.is_some())),
            _ => None,
        };
        if let Some((field, present)) = needs
            && !present
        {
            self.error(path, format!("a {} requires {field}", at.kind));
        }
        if let Some(contact) = &at.contact {
            for (k, email) in contact.email.iter().flatten() {
                if !email.contains("__:value") && !is_email(email) {
                    self.error(
                        format!("{path}/contact/email/{}", seg(k)),
                        format!("{email:?} is not a valid e-mail address"),
                    );
                }
            }
        }
        if let Some(address) = &at.address {
            self.address(&format!("{path}/address"), address);
        }
        if let Some(auth) = &at.authentication_info {
            let ap = format!("{path}/authentication_info");
            if self.identifier(&ap, auth, None) && self.pb.authentication_info(auth).is_none() {
                self.unresolved(ap, format!("{auth} is not in authentication_info_definitions"));
            }
        }
    }

    fn address(&mut self, path: &str, address: &BTreeMap<String, Vec<serde_json::Value>>) {
        for (kind, values) in address {
            let kp = format!("{path}/{}", seg(kind));
            for (i, v) in values.iter().enumerate() {
                let vp = format!("{kp}/{i}");
                let text = v.as_str().unwrap_or_default();
                if text.contains("__:value") {
                    continue;
                }
                let ok = match kind.as_str() {
                    "vlan" => v.as_u64().is_some_and(|n| n <= 4095),
                    "ipv4" => TypedValue::parse_str(&"ipv4-addr".into(), text).is_ok(),
                    "ipv6" => TypedValue::parse_str(&"ipv6-addr".into(), text).is_ok(),
                    "l2mac" => TypedValue::parse_str(&"mac-addr".into(), text).is_ok(),
                    "url" | "dname" => v.is_string() && !text.is_empty(),
                    _ => {
                        self.warn(&kp, "address kinds are dname, ipv4, ipv6, l2mac, vlan and url");
                        break;
                    }
                };
                if !ok {
                    self.error(vp, format!("{v} is not a valid {kind} address"));
                }
            }
        }
    }

    fn markings(&mut self) {
        let pb = self.pb;
        for (id, m) in pb.data_marking_definitions.iter().flatten() {
            let path = format!("/data_marking_definitions/{}", seg(id));
            if !self.identifier(&path, id, None) {
                continue;
            }
            let expected = match m.kind {
                DataMarkingType::MarkingStatement => "marking-statement",
                DataMarkingType::MarkingTlp => "marking-tlp",
                DataMarkingType::MarkingIep => "marking-iep",
            };
            if prefix(id) != expected {
                self.error(format!("{path}/type"), format!("type {expected} does not match the identifier"));
            }
            if &m.id != id {
                self.warn(format!("{path}/id"), "id differs from the dictionary key");
            }
            self.identifier(&format!("{path}/created_by"), &m.created_by, None);
            self.timestamp(&format!("{path}/created"), &m.created);
            match m.kind {
                DataMarkingType::MarkingTlp if m.tlp().is_none() => self.error(
                    format!("{path}/tlpv2_level"),
                    "must be one of TLP:RED, TLP:AMBER, TLP:AMBER+STRICT, TLP:GREEN, TLP:CLEAR",
                ),
                DataMarkingType::MarkingStatement if m.statement.is_none() => {
                    self.error(&path, "a marking-statement requires statement");
                }
                DataMarkingType::MarkingIep => {
                    for field in [
                        "tlp",
                        "iep_version",
                        "start_date",
                        "end_date",
                        "encrypt_in_transit",
                        "permitted_actions",
                        "affected_party_notifications",
                        "attribution",
                        "unmodified_resale",
                    ] {
                        if !m.extra.contains_key(field) {
                            self.error(&path, format!("a marking-iep requires {field}"));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn signature(&mut self, path: &str, s: &Signature) {
        if s.kind != "jss" {
            self.error(format!("{path}/type"), "must be \"jss\"");
        }
        self.identifier(&format!("{path}/id"), &s.id, None);
        self.identifier(&format!("{path}/related_to"), &s.related_to, None);
        for (p, v) in [("created", &s.created), ("modified", &s.modified), ("related_version", &s.related_version)] {
            self.timestamp(&format!("{path}/{p}"), v);
        }
        let keys =
            [s.public_key.is_some(), s.public_cert_chain.is_some(), s.cert_url.is_some(), s.thumbprint.is_some()];
        if keys.iter().filter(|k| **k).count() != 1 {
            self.error(path, "exactly one of public_key, public_cert_chain, cert_url or thumbprint is required");
        }
        if s.value.is_empty() {
            self.error(format!("{path}/value"), "signature value is missing");
        }
        if let Some(counter) = &s.signature {
            self.signature(&format!("{path}/signature"), counter);
        }
    }
}
