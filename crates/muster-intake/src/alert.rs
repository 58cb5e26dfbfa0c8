//! The normalised alert every parser produces, its fingerprint, and the
//! helpers that keep the original record compressed at the storage edge.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use muster_core::taxonomy::{RsitClass, RsitType};
use muster_core::{Pap, Tlp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::observable::{AttackTechnique, Observable, ObservableKind, Role};

/// How bad an alert is, on the scale every source is mapped onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Lower-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Parses a name (`informational`, `med`, `crit` accepted too).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "info" | "informational" | "information" | "none" | "unknown" => Self::Info,
            "low" => Self::Low,
            "medium" | "med" | "moderate" => Self::Medium,
            "high" => Self::High,
            "critical" | "crit" | "very-high" | "very high" => Self::Critical,
            _ => return None,
        })
    }

    /// A 0–10 scale (CEF, Elastic `event.severity` scaled): 0–1 info, 2–3 low,
    /// 4–6 medium, 7–8 high, 9–10 critical.
    #[must_use]
    pub const fn from_0_to_10(n: u64) -> Self {
        match n {
            0 | 1 => Self::Info,
            2 | 3 => Self::Low,
            4..=6 => Self::Medium,
            7 | 8 => Self::High,
            _ => Self::Critical,
        }
    }

    /// TheHive's 1 (low) – 4 (critical).
    #[must_use]
    pub const fn from_thehive(n: u64) -> Self {
        match n {
            0 => Self::Info,
            1 => Self::Low,
            2 => Self::Medium,
            3 => Self::High,
            _ => Self::Critical,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The input format a record came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Suricata EVE JSON.
    Eve,
    /// Wazuh `alerts.json`.
    Wazuh,
    /// Elastic Common Schema document.
    Ecs,
    /// Kibana / Elastic Security detection alert.
    ElasticSecurity,
    /// ArcSight Common Event Format.
    Cef,
    /// IBM QRadar Log Event Extended Format.
    Leef,
    /// IntelMQ event JSON.
    Intelmq,
    /// Shadowserver CSV report row.
    Shadowserver,
    /// TheHive 5 alert creation document (`POST /api/v1/alert`).
    #[serde(rename = "thehive")]
    TheHive,
    /// Raised by Muster's own Sigma detection from a raw log event
    /// ([`crate::sigma`]). Not a record format: not in [`Format::ALL`].
    Sigma,
}

impl Format {
    /// Every record format [`crate::parse_record`] reads.
    pub const ALL: &'static [Format] = &[
        Format::Eve,
        Format::Wazuh,
        Format::Ecs,
        Format::ElasticSecurity,
        Format::Cef,
        Format::Leef,
        Format::Intelmq,
        Format::Shadowserver,
        Format::TheHive,
    ];

    /// The name used in `?format=` and `--format`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eve => "eve",
            Self::Wazuh => "wazuh",
            Self::Ecs => "ecs",
            Self::ElasticSecurity => "elastic-security",
            Self::Cef => "cef",
            Self::Leef => "leef",
            Self::Intelmq => "intelmq",
            Self::Shadowserver => "shadowserver",
            Self::TheHive => "thehive",
            Self::Sigma => "sigma",
        }
    }

    /// Parses a format name (`suricata` is accepted for `eve`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        if s == "suricata" {
            return Some(Self::Eve);
        }
        Self::ALL.iter().copied().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SHA-256 of the fields that identify "the same alert": format, source,
/// rule id and title, the sorted observables with their roles, and any extra
/// identity a parser adds (e.g. the Shadowserver report and port). Times and
/// counts are excluded, so a repeat of the same alert has the same fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The raw digest.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// When `s` is not 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, hex::FromHexError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)?;
        Ok(Self(out))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = hex::FromHexError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::from_hex(&s)
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.to_hex()
    }
}

/// The detection rule or signature that raised the alert.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rule {
    /// Stable id within the source (Suricata `gid:sid`, Wazuh rule id, CEF signature id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Human name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The source's own category (Suricata `category`, Wazuh groups…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// Connection details, when the alert is about traffic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Network {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<u16>,
    /// `tcp`, `udp`, `icmp`… lower case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// `http`, `dns`, `smb`… lower case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
}

impl Network {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

mod rsit_serde {
    use super::{RsitClass, RsitType};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Pair {
        class: RsitClass,
        #[serde(rename = "type")]
        kind: RsitType,
    }

    pub fn serialize<S: Serializer>(t: &RsitType, s: S) -> Result<S::Ok, S::Error> {
        Pair { class: t.class(), kind: *t }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RsitType, D::Error> {
        let p = Pair::deserialize(d)?;
        if p.kind.class() == p.class {
            Ok(p.kind)
        } else {
            Err(serde::de::Error::custom(format!("RSIT type {} is not in class {}", p.kind, p.class)))
        }
    }
}

/// One normalised alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub format: Format,
    /// The product that raised it, e.g. `suricata`, `wazuh`, `Trend Micro Deep Security`.
    pub source: String,
    /// The source's own id for this alert (Wazuh `id`, Elastic `_id`, EVE `flow_id`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    pub fingerprint: Fingerprint,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub severity: Severity,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    pub count: u64,
    /// RSIT class and type, serialised as `{"class": …, "type": …}`.
    #[serde(with = "rsit_serde")]
    pub rsit: RsitType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
    /// The host that reported or is affected (Wazuh agent, CEF `dvchost`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Network::is_empty")]
    pub network: Network,
    #[serde(default)]
    pub observables: Vec<Observable>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack: Vec<AttackTechnique>,
    pub tlp: Tlp,
    pub pap: Pap,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Source fields with no place above, under their source names. Keys are
    /// `Cow` because parsers mostly use fixed names, and allocating each one
    /// per record was a measurable share of EVE intake.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<Cow<'static, str>, serde_json::Value>,
    /// Values a parser found but could not use (e.g. an invalid IP in an
    /// optional field), so an analyst can see what was dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The record as received. The store keeps it packed with the normalised document (`muster_store::AlertBody`).
    #[serde(skip)]
    pub original: Vec<u8>,
}

impl Alert {
    /// A fresh alert seen once at `time`, TLP:AMBER / PAP:AMBER until the
    /// parser or options say otherwise. Call [`Alert::seal`] when done.
    #[must_use]
    pub fn new(
        format: Format,
        source: impl Into<String>,
        title: impl Into<String>,
        time: OffsetDateTime,
        rsit: RsitType,
    ) -> Self {
        Self {
            format,
            source: source.into(),
            source_ref: None,
            fingerprint: Fingerprint([0; 32]),
            title: title.into(),
            description: None,
            severity: Severity::Medium,
            first_seen: time,
            last_seen: time,
            count: 1,
            rsit,
            rule: None,
            host: None,
            network: Network::default(),
            // Most alerts carry a few; this saves the first regrowths.
            observables: Vec::with_capacity(4),
            attack: Vec::new(),
            tlp: Tlp::Amber,
            pap: Pap::Amber,
            tags: Vec::new(),
            extra: BTreeMap::new(),
            warnings: Vec::new(),
            original: Vec::new(),
        }
    }

    /// Adds an observable when `raw` is valid for `kind`; otherwise records
    /// a warning naming `field`. Empty values are skipped silently.
    pub fn observe(&mut self, kind: ObservableKind, raw: &str, role: Option<Role>, field: &str) {
        if raw.trim().is_empty() || raw == "-" {
            return;
        }
        match Observable::new(kind, raw) {
            Ok(o) => self.observables.push(o.with_role(role)),
            Err(e) => self.warnings.push(format!("{field}: {e}")),
        }
    }

    /// Adds an IPv4 or IPv6 observable, warning on anything else.
    pub fn observe_ip(&mut self, raw: &str, role: Option<Role>, field: &str) {
        if raw.trim().is_empty() || raw == "-" {
            return;
        }
        match Observable::ip(raw) {
            Ok(o) => self.observables.push(o.with_role(role)),
            Err(e) => self.warnings.push(format!("{field}: {e}")),
        }
    }

    /// Adds an ATT&CK technique, warning when it is not one.
    pub fn add_technique(&mut self, raw: &str, field: &str) {
        match AttackTechnique::parse(raw) {
            Ok(t) => self.attack.push(t),
            Err(e) => self.warnings.push(format!("{field}: {e}")),
        }
    }

    /// Sorts and de-duplicates the lists and computes the fingerprint, with
    /// `identity` as extra (name, value) pairs that distinguish alerts.
    #[must_use]
    pub fn seal(mut self, identity: &[(&str, &str)]) -> Self {
        self.observables.sort();
        self.observables.dedup();
        self.attack.sort();
        self.attack.dedup();
        self.tags.sort();
        self.tags.dedup();
        self.fingerprint = self.compute_fingerprint(identity);
        self
    }

    fn compute_fingerprint(&self, identity: &[(&str, &str)]) -> Fingerprint {
        let mut h = Sha256::new();
        let mut put = |s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        put(self.format.as_str());
        put(&self.source);
        put(self.rule.as_ref().and_then(|r| r.id.as_deref()).unwrap_or(""));
        put(&self.title);
        for o in &self.observables {
            put(o.kind().as_str());
            put(o.value());
            put(match o.role() {
                Some(Role::Source) => "s",
                Some(Role::Destination) => "d",
                None => "",
            });
        }
        put(self.host.as_deref().unwrap_or(""));
        for (k, v) in identity {
            put(k);
            put(v);
        }
        Fingerprint(h.finalize().into())
    }

    /// The observables of one kind.
    pub fn observables_of(&self, kind: ObservableKind) -> impl Iterator<Item = &Observable> {
        self.observables.iter().filter(move |o| o.kind() == kind)
    }

    /// The first IP observable with this role.
    #[must_use]
    pub fn ip_with_role(&self, role: Role) -> Option<&Observable> {
        self.observables.iter().find(|o| o.is_ip() && o.role() == Some(role))
    }
}

/// The fields of an alert that a store keeps in its document beside the
/// summary it keeps in columns of its own ([`Alert::SUMMARY_FIELDS`]); each
/// serialised exactly as in [`Alert`].
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a String>,
    #[serde(with = "rsit_serde")]
    rsit: RsitType,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a Rule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a String>,
    #[serde(skip_serializing_if = "empty_network")]
    network: &'a Network,
    observables: &'a [Observable],
    #[serde(skip_serializing_if = "empty_slice")]
    attack: &'a [AttackTechnique],
    #[serde(skip_serializing_if = "empty_slice")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "empty_map")]
    extra: &'a BTreeMap<Cow<'static, str>, serde_json::Value>,
    #[serde(skip_serializing_if = "empty_slice")]
    warnings: &'a [String],
}

fn empty_network(n: &&Network) -> bool {
    n.is_empty()
}

fn empty_slice<T>(v: &&[T]) -> bool {
    v.is_empty()
}

fn empty_map<K, V>(m: &&BTreeMap<K, V>) -> bool {
    m.is_empty()
}

impl Alert {
    /// The fields a store keeps as columns of their own (and which the
    /// document of [`Alert::body_json`] therefore leaves out).
    pub const SUMMARY_FIELDS: [&'static str; 11] = [
        "format",
        "source",
        "source_ref",
        "fingerprint",
        "title",
        "severity",
        "first_seen",
        "last_seen",
        "count",
        "tlp",
        "pap",
    ];

    /// The alert as JSON without its [`Alert::SUMMARY_FIELDS`]: what a store
    /// keeps beside its columns (a third fewer bytes per alert than the
    /// whole alert). Adding the summary fields back gives the alert's JSON.
    #[must_use]
    pub fn body_json(&self) -> String {
        serde_json::to_string(&Body {
            description: self.description.as_ref(),
            rsit: self.rsit,
            rule: self.rule.as_ref(),
            host: self.host.as_ref(),
            network: &self.network,
            observables: &self.observables,
            attack: &self.attack,
            tags: &self.tags,
            extra: &self.extra,
            warnings: &self.warnings,
        })
        .unwrap_or_else(|_| "{}".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(src: &str) -> Alert {
        let t = time::macros::datetime!(2024-01-01 00:00 UTC);
        let rsit = RsitType::parse("ids-alert").unwrap_or_else(|e| panic!("{e}"));
        let mut a = Alert::new(Format::Eve, "suricata", "x", t, rsit);
        a.observe_ip(src, Some(Role::Source), "src_ip");
        a
    }

    #[test]
    fn fingerprint_ignores_time_and_order_but_not_identity() {
        let a = sample("10.0.0.1").seal(&[]);
        let mut b = sample("10.0.0.1");
        b.last_seen += time::Duration::hours(1);
        b.count = 5;
        let b = b.seal(&[]);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_ne!(a.fingerprint, sample("10.0.0.2").seal(&[]).fingerprint);
        assert_ne!(a.fingerprint, sample("10.0.0.1").seal(&[("port", "22")]).fingerprint);
    }

    #[test]
    fn invalid_observable_becomes_a_warning() {
        let a = sample("999.1.1.1");
        assert!(a.observables.is_empty());
        assert_eq!(a.warnings.len(), 1);
        assert!(a.warnings[0].starts_with("src_ip:"), "{:?}", a.warnings);
    }

    #[test]
    fn body_json_plus_the_summary_fields_is_the_alert_json() {
        let mut a = sample("10.0.0.1");
        a.description = Some("probe".into());
        a.tags.push("scan".into());
        a.extra.insert("alert.rev".into(), serde_json::json!(7));
        let a = a.seal(&[]);
        let whole: serde_json::Value = serde_json::to_value(&a).unwrap_or_default();
        let mut body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&a.body_json()).unwrap_or_default();
        for field in Alert::SUMMARY_FIELDS {
            assert!(!body.contains_key(field), "{field} left in the body");
            if let Some(v) = whole.get(field) {
                body.insert(field.to_owned(), v.clone());
            }
        }
        assert_eq!(serde_json::Value::Object(body), whole);
    }

    #[test]
    fn alert_json_round_trips() {
        let a = sample("10.0.0.1").seal(&[]);
        let json = serde_json::to_string(&a).unwrap_or_default();
        let back: Alert = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(back, a);
    }

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!(Severity::parse("Informational"), Some(Severity::Info));
        assert_eq!(Severity::from_0_to_10(10), Severity::Critical);
        assert_eq!(Severity::from_0_to_10(5), Severity::Medium);
    }
}
