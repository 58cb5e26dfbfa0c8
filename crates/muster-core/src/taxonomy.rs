//! Taxonomies: the Reference Security Incident Taxonomy (RSIT v1003) and the
//! NIS incident-nature and impact vocabularies.

use serde::{Deserialize, Serialize};

use crate::{UnknownValue, vocabulary};

vocabulary! {
    /// RSIT v1003 incident class.
    pub enum RsitClass ("RSIT class") {
        AbusiveContent => "abusive-content",
        MaliciousCode => "malicious-code",
        InformationGathering => "information-gathering",
        IntrusionAttempts => "intrusion-attempts",
        Intrusions => "intrusions",
        Availability => "availability",
        InformationContentSecurity => "information-content-security",
        Fraud => "fraud",
        Vulnerable => "vulnerable",
        Other => "other",
        Test => "test",
    }
}

/// The RSIT v1003 types of each class, spelled as the taxonomy spells them.
const RSIT_TYPES: &[(RsitClass, &[&str])] = &[
    (RsitClass::AbusiveContent, &["spam", "harmful-speech", "violence"]),
    (RsitClass::MaliciousCode, &["infected-system", "c2-server", "malware-distribution", "malware-configuration"]),
    (RsitClass::InformationGathering, &["scanner", "sniffing", "social-engineering"]),
    (RsitClass::IntrusionAttempts, &["ids-alert", "brute-force", "exploit"]),
    (
        RsitClass::Intrusions,
        &[
            "privileged-account-compromise",
            "unprivileged-account-compromise",
            "application-compromise",
            "system-compromise",
            "burglary",
        ],
    ),
    (RsitClass::Availability, &["dos", "ddos", "misconfiguration", "sabotage", "outage"]),
    (
        RsitClass::InformationContentSecurity,
        &["unauthorised-information-access", "unauthorised-information-modification", "data-loss", "data-leak"],
    ),
    (RsitClass::Fraud, &["unauthorised-use-of-resources", "copyright", "masquerade", "phishing"]),
    (
        RsitClass::Vulnerable,
        &[
            "weak-crypto",
            "ddos-amplifier",
            "potentially-unwanted-accessible",
            "information-disclosure",
            "vulnerable-system",
        ],
    ),
    (RsitClass::Other, &["other", "undetermined"]),
    (RsitClass::Test, &["test"]),
];

impl RsitClass {
    /// The types of this class.
    #[must_use]
    pub fn types(self) -> &'static [&'static str] {
        RSIT_TYPES.iter().find(|(c, _)| *c == self).map_or(&[], |(_, t)| t)
    }
}

/// A classified RSIT type: a class and one of its types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RsitType {
    class: RsitClass,
    name: &'static str,
}

impl RsitType {
    /// Looks a type up by its name (types are unique across classes in v1003,
    /// except `other`, which belongs to class `other`).
    ///
    /// # Errors
    /// [`UnknownValue`] when no class has a type of that name.
    pub fn parse(s: &str) -> Result<Self, UnknownValue> {
        for (class, types) in RSIT_TYPES {
            if let Some(name) = types.iter().find(|t| t.eq_ignore_ascii_case(s.trim())) {
                return Ok(Self { class: *class, name });
            }
        }
        Err(UnknownValue { vocabulary: "RSIT type", value: s.to_owned(), expected: &["see RSIT v1003"] })
    }

    /// The class this type belongs to.
    #[must_use]
    pub const fn class(self) -> RsitClass {
        self.class
    }

    /// The type's name, e.g. `brute-force`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        self.name
    }

    /// Every type of every class.
    pub fn all() -> impl Iterator<Item = RsitType> {
        RSIT_TYPES.iter().flat_map(|(class, types)| types.iter().map(|name| RsitType { class: *class, name }))
    }
}

impl std::str::FromStr for RsitType {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::fmt::Display for RsitType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Serialize for RsitType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for RsitType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        RsitType::parse(&s).map_err(serde::de::Error::custom)
    }
}

vocabulary! {
    /// NIS incident root cause.
    pub enum NisRootCause ("NIS root cause") {
        SystemFailures => "system-failures",
        NaturalPhenomena => "natural-phenomena",
        HumanErrors => "human-errors",
        MaliciousActions => "malicious-actions",
        ThirdPartyFailures => "third-party-failures",
    }
}

vocabulary! {
    /// NIS impact severity.
    pub enum NisImpactSeverity ("NIS impact severity") {
        Red => "red", Yellow => "yellow", Green => "green", White => "white",
    }
}

vocabulary! {
    /// NIS impact outlook.
    pub enum NisOutlook ("NIS outlook") {
        Improving => "improving", Stable => "stable", Worsening => "worsening",
    }
}

vocabulary! {
    /// NIS threat severity.
    pub enum ThreatSeverity ("threat severity") {
        High => "high", Medium => "medium", Low => "low",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_types_and_types_resolve_to_their_class() {
        for class in RsitClass::ALL {
            assert!(!class.types().is_empty(), "{class}");
            for t in class.types() {
                assert_eq!(RsitType::parse(t).map(RsitType::class), Ok(*class));
            }
        }
        assert_eq!(RsitType::all().count(), 39);
    }

    /// The MISP `rsit` machinetag taxonomy in `shared/data` is the oracle.
    #[test]
    fn rsit_matches_the_misp_taxonomy_v1003() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/taxonomies/rsit/machinetag.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc["version"], 1003);
        let classes: Vec<&str> =
            doc["predicates"].as_array().into_iter().flatten().filter_map(|p| p["value"].as_str()).collect();
        assert_eq!(classes, RsitClass::NAMES);
        for v in doc["values"].as_array().into_iter().flatten() {
            let class = RsitClass::parse(v["predicate"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
            let types: Vec<&str> =
                v["entry"].as_array().into_iter().flatten().filter_map(|e| e["value"].as_str()).collect();
            assert_eq!(types, class.types(), "{class}");
        }
    }

    #[test]
    fn unknown_rsit_type_is_rejected() {
        assert!(RsitType::parse("hacking").is_err());
    }
}
