//! Information-sharing markings: TLP 2.0, PAP and the FIRST IEP 2.0 policy.

use serde::{Deserialize, Serialize};

use crate::{UnknownValue, vocabulary};

/// Traffic Light Protocol 2.0. Ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    /// Public: no restriction.
    Clear,
    /// Community-wide.
    Green,
    /// Recipient organisation and its clients, on a need-to-know basis.
    Amber,
    /// Recipient organisation only.
    AmberStrict,
    /// Named individuals only.
    Red,
}

impl Tlp {
    pub const ALL: &'static [Tlp] = &[Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red];
    pub const NAMES: &'static [&'static str] = &["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"];

    /// Canonical TLP 2.0 spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

    /// Parses `TLP:AMBER`, `amber`, `tlp:amber+strict`, … `TLP:WHITE` (TLP 1.0) is read as CLEAR.
    ///
    /// # Errors
    /// [`UnknownValue`] when the text names no TLP level.
    pub fn parse(s: &str) -> Result<Self, UnknownValue> {
        let t = s.trim();
        let bare = if t.len() >= 4 && t[..4].eq_ignore_ascii_case("tlp:") { &t[4..] } else { t };
        let level = match bare.to_ascii_lowercase().as_str() {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => {
                return Err(UnknownValue { vocabulary: "TLP", value: s.to_owned(), expected: Self::NAMES });
            }
        };
        Ok(level)
    }

    /// TheHive's numeric TLP scale (0 white/clear … 3 red; 4 amber+strict in TheHive 5).
    #[must_use]
    pub const fn thehive_number(self) -> i64 {
        match self {
            Tlp::Clear => 0,
            Tlp::Green => 1,
            Tlp::Amber => 2,
            Tlp::Red => 3,
            Tlp::AmberStrict => 4,
        }
    }
}

impl std::str::FromStr for Tlp {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        Self::parse(s)
    }
}

impl std::fmt::Display for Tlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Tlp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Tlp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Tlp::parse(&s).map_err(serde::de::Error::custom)
    }
}

vocabulary! {
    /// Permissible Actions Protocol: what the recipient may do with the information.
    pub enum Pap ("PAP") {
        /// No restriction.
        Clear => "PAP:CLEAR",
        /// Active actions allowed.
        Green => "PAP:GREEN",
        /// Passive cross-checks only.
        Amber => "PAP:AMBER",
        /// No action on the network.
        Red => "PAP:RED",
    }
}

impl Pap {
    /// Whether an automated step may act on (touch the network with) data so marked.
    #[must_use]
    pub const fn allows_active_action(self) -> bool {
        matches!(self, Pap::Clear | Pap::Green)
    }
}

vocabulary! {
    /// IEP 2.0 `encrypt_in_transit`.
    pub enum IepEncrypt ("IEP encrypt_in_transit") { Must => "must", May => "may" }
}

vocabulary! {
    /// IEP 2.0 `permitted_actions`.
    pub enum IepPermittedActions ("IEP permitted_actions") {
        None => "none",
        ContactForInstruction => "contact-for-instruction",
        InternallyVisible => "internally-visible-actions",
        ExternallyVisibleIndirect => "externally-visible-indirect-actions",
        ExternallyVisibleDirect => "externally-visible-direct-actions",
    }
}

vocabulary! {
    /// IEP 2.0 `affected_party_notifications` and `unmodified_resale`.
    pub enum IepMayMustNot ("IEP may/must-not") { May => "may", MustNot => "must-not" }
}

vocabulary! {
    /// IEP 2.0 `attribution`.
    pub enum IepAttribution ("IEP attribution") { May => "may", Must => "must", MustNot => "must-not" }
}

/// An IEP 2.0 policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iep {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub iep_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    pub encrypt_in_transit: IepEncrypt,
    pub permitted_actions: IepPermittedActions,
    pub affected_party_notifications: IepMayMustNot,
    pub tlp: Tlp,
    pub attribution: IepAttribution,
    pub unmodified_resale: IepMayMustNot,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_white_is_read_as_clear() {
        assert_eq!(Tlp::parse("TLP:WHITE"), Ok(Tlp::Clear));
        assert_eq!(Tlp::parse("white"), Ok(Tlp::Clear));
    }

    #[test]
    fn tlp_round_trips_every_level() {
        for t in Tlp::ALL {
            assert_eq!(Tlp::parse(t.as_str()), Ok(*t));
            let json = serde_json::to_string(t).unwrap_or_default();
            assert_eq!(serde_json::from_str::<Tlp>(&json).ok(), Some(*t));
        }
    }

    #[test]
    fn unknown_tlp_names_the_accepted_values() {
        let err = Tlp::parse("TLP:PURPLE").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("TLP:AMBER+STRICT") && err.contains("PURPLE"), "{err}");
    }

    #[test]
    fn pap_amber_and_red_forbid_active_actions() {
        assert!(Pap::Green.allows_active_action());
        assert!(!Pap::Amber.allows_active_action());
        assert!(!Pap::Red.allows_active_action());
    }

    #[test]
    fn iep_policy_parses_and_rejects_bad_values() {
        let ok = r#"{"id":"x","name":"n","iep_version":"2.0","encrypt_in_transit":"must",
            "permitted_actions":"internally-visible-actions","affected_party_notifications":"may",
            "tlp":"TLP:AMBER","attribution":"must-not","unmodified_resale":"must-not"}"#;
        let iep: Iep = serde_json::from_str(ok).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(iep.tlp, Tlp::Amber);
        let bad = ok.replace("\"must-not\"}", "\"perhaps\"}");
        let err = serde_json::from_str::<Iep>(&bad).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("perhaps"), "{err}");
    }
}
