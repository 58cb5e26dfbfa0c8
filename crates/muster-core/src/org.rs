//! Organisations, users, roles and trust circles: who is in the community.

use serde::{Deserialize, Serialize};

use crate::ids::{CircleId, OrgId, UserId};
use crate::{Tlp, UnknownValue, vocabulary};

vocabulary! {
    /// What kind of body an organisation is.
    pub enum OrgKind ("organisation kind") {
        NationalCsirt => "national-csirt",
        SectoralCsirt => "sectoral-csirt",
        EuCert => "eu-cert",
        Agency => "agency",
        LawEnforcement => "law-enforcement",
        CrisisAuthority => "crisis-authority",
        ExternalAction => "external-action",
        DefenceAgency => "defence-agency",
        CyberHub => "cyber-hub",
        PrivatePartner => "private-partner",
        Other => "other",
    }
}

vocabulary! {
    /// NIS2 sectors (Annex I and II), as the MISP `nis2` taxonomy spells them.
    pub enum Sector ("sector") {
        Energy => "energy",
        Transport => "transport",
        Banking => "banking",
        Financial => "financial",
        Health => "health",
        DrinkingWater => "drinking-water",
        WasteWater => "waste-water",
        DigitalInfrastructure => "digital-infrastructure",
        IctServices => "ict-services",
        PublicAdministration => "public-administration",
        Space => "space",
        Courier => "courier",
        WasteManagement => "waste-management",
        Chemical => "chemical",
        Food => "food",
        Manufacturing => "manufacturing",
        DigitalProviders => "digital-providers",
        Research => "research",
    }
}

vocabulary! {
    /// What a user may do inside their organisation. Ordered by power.
    pub enum Role ("role") {
        /// Read only.
        Observer => "observer",
        /// Works alerts and incidents.
        Analyst => "analyst",
        /// Coordinates across organisations; may switch the organisation it acts for.
        Coordinator => "coordinator",
        /// Manages users and tokens of the organisation (and, in the operator
        /// organisation, the whole platform).
        Admin => "admin",
    }
}

impl Role {
    /// Whether this role includes every right of `other`.
    #[must_use]
    pub fn at_least(self, other: Role) -> bool {
        self >= other
    }
}

/// ISO 3166-1 alpha-2 country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Country([u8; 2]);

/// Every officially assigned ISO 3166-1 alpha-2 code, plus `EU` (exceptionally
/// reserved, used for EU-level bodies).
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET EU FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT \
MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG \
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

impl Country {
    /// Parses a two-letter code, case-insensitive.
    ///
    /// # Errors
    /// [`UnknownValue`] when the code is not an assigned ISO 3166-1 alpha-2 code.
    pub fn parse(s: &str) -> Result<Self, UnknownValue> {
        let up = s.trim().to_ascii_uppercase();
        if up.len() == 2 && ISO_3166_ALPHA2.split_ascii_whitespace().any(|c| c == up) {
            let b = up.as_bytes();
            Ok(Country([b[0], b[1]]))
        } else {
            Err(UnknownValue {
                vocabulary: "ISO 3166-1 alpha-2 country",
                value: s.to_owned(),
                expected: &["e.g. DE, FR, EU"],
            })
        }
    }

    /// The code, e.g. `DE`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::str::FromStr for Country {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        Self::parse(s)
    }
}

impl std::fmt::Display for Country {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Country {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Country::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A member organisation of the community.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: OrgId,
    /// Short unique handle, e.g. `cert-de`.
    pub slug: String,
    pub name: String,
    pub kind: OrgKind,
    pub country: Option<Country>,
    pub sectors: Vec<Sector>,
    /// The organisation this one is a client (constituent) of, if recorded.
    /// Clients of a recipient may see its TLP:AMBER material.
    pub client_of: Option<OrgId>,
    /// The platform operator's organisation: its admins administer everything.
    pub operator: bool,
    /// Marking of the directory entry itself (default TLP:GREEN: the community sees it).
    pub tlp: Tlp,
    pub created_at: time::OffsetDateTime,
}

/// A user account, with its home organisation and role there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub org: OrgId,
    pub role: Role,
    pub disabled: bool,
    /// Set for a one-time password: the user must choose a new one at next login.
    pub must_change_password: bool,
    pub created_at: time::OffsetDateTime,
}

/// A named group of organisations that share with each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustCircle {
    pub id: CircleId,
    pub name: String,
    pub description: String,
    pub owner_org: OrgId,
    pub members: Vec<OrgId>,
    /// Marking of the circle record (default TLP:AMBER: its members and owner see it).
    pub tlp: Tlp,
    pub created_at: time::OffsetDateTime,
}

/// Validates a slug or username: 2–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
///
/// # Errors
/// A message saying what is wrong.
pub fn validate_handle(field: &str, s: &str) -> Result<(), String> {
    let ok_len = (2..=64).contains(&s.len());
    let ok_chars = s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    let ok_start = s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(format!(
            "{field}: {s:?} must be 2-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_parse_case_insensitively_and_reject_unknown() {
        assert_eq!(Country::parse("de").map(|c| c.to_string()), Ok("DE".to_owned()));
        assert!(Country::parse("EU").is_ok());
        assert!(Country::parse("XX").is_err());
        assert!(Country::parse("DEU").is_err());
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin.at_least(Role::Coordinator));
        assert!(Role::Coordinator.at_least(Role::Analyst));
        assert!(!Role::Observer.at_least(Role::Analyst));
    }

    #[test]
    fn handles_are_validated() {
        assert!(validate_handle("slug", "cert-de").is_ok());
        assert!(validate_handle("slug", "-x").is_err());
        assert!(validate_handle("slug", "Upper").is_err());
        assert!(validate_handle("slug", "a").is_err());
    }
}
