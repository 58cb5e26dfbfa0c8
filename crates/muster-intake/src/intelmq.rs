//! IntelMQ events: import (an event JSON object → [`Alert`]) and export
//! ([`Alert`] → event with IntelMQ harmonisation field names such as
//! `source.ip`, `destination.port`, `classification.taxonomy`,
//! `classification.type`, `feed.name`, `time.source`). The Shadowserver
//! parser builds IntelMQ events and imports them through here.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::alert::{Alert, Format, Rule, Severity};
use crate::observable::{Observable, ObservableKind, Role};
use crate::parse::ParseOptions;
use crate::parse::json::JsonRecord;
use crate::reject::Reject;
use crate::timefmt;

/// An IntelMQ event: flat harmonisation field names to values.
pub type Event = Map<String, Value>;

/// Parses one IntelMQ event JSON object into an alert.
///
/// # Errors
/// Malformed JSON, or a field with a wrong type or invalid value (named).
pub fn parse(record: &[u8], options: &ParseOptions) -> Result<Alert, Reject> {
    let r = JsonRecord::parse(record, options)?;
    let mut alert = import_owned(flatten(&r.root), Format::Intelmq, options)?;
    alert.original = record.to_vec();
    Ok(alert)
}

/// Flattens nested objects into dotted keys (IntelMQ's JSON may be nested).
#[must_use]
pub fn flatten(v: &Value) -> Event {
    fn walk(prefix: &str, v: &Value, out: &mut Event) {
        match v {
            Value::Object(m) if prefix != "extra" || !m.is_empty() => {
                for (k, inner) in m {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, inner, out);
                }
            }
            other => {
                out.insert(prefix.to_owned(), other.clone());
            }
        }
    }
    let mut out = Event::new();
    walk("", v, &mut out);
    out
}

/// IntelMQ classification types that RSIT v1003 renamed or folded.
fn rsit_for_intelmq_type(t: &str) -> &str {
    match t {
        "vulnerable service" | "vulnerable-service" => "vulnerable-system",
        "blacklist" | "blocklist" | "unknown" => "other",
        "backdoor" | "compromised" => "system-compromise",
        "c&c" | "c2server" => "c2-server",
        "infected system" | "malware" => "infected-system",
        "scanner " => "scanner",
        "ddos amplifier" => "ddos-amplifier",
        "potentially unwanted accessible" => "potentially-unwanted-accessible",
        "leak" => "data-leak",
        "defacement" => "unauthorised-information-modification",
        other => other,
    }
}

/// A flat event being imported: looked up by field name, then its
/// remaining fields moved into the alert's extras. A JSON [`Event`] is one;
/// the Shadowserver parser builds its rows' fields in per-report slots instead
/// of a map.
pub trait Fields {
    fn get(&self, key: &str) -> Option<&Value>;
    /// A field the import reads. By name unless the event can do better (the
    /// Shadowserver parser knows each one's slot per report).
    fn known(&self, k: Known) -> Option<&Value> {
        self.get(k.name())
    }
    /// Takes a field the import reads and consumes, so that its value moves
    /// into the alert instead of being copied.
    fn take_known(&mut self, k: Known) -> Option<Value>;
    /// Every field, in key order.
    fn entries(&self) -> impl Iterator<Item = (&str, &Value)>;
    /// The fields the import does not consume ([`consumed`]) and that are not
    /// null, as extras.
    fn into_extras(self) -> BTreeMap<Cow<'static, str>, Value>;
}

impl Fields for Event {
    fn get(&self, key: &str) -> Option<&Value> {
        Map::get(self, key)
    }

    fn take_known(&mut self, k: Known) -> Option<Value> {
        self.remove(k.name())
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn into_extras(self) -> BTreeMap<Cow<'static, str>, Value> {
        self.into_iter().filter(|(k, v)| !consumed(k) && !v.is_null()).map(|(k, v)| (Cow::Owned(k), v)).collect()
    }
}

/// The fields [`import_fields`] reads, by name. An event that knows where
/// each one is (the Shadowserver parser, per report) answers
/// [`Fields::known`] without comparing names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    ClassificationType,
    ClassificationIdentifier,
    ClassificationTaxonomy,
    TimeSource,
    TimeObservation,
    FeedName,
    FeedProvider,
    EventDescriptionText,
    ExtraSeverity,
    ExtraRuleId,
    ExtraDescription,
    Comment,
    Tlp,
    SourcePort,
    DestinationPort,
    ProtocolTransport,
    ProtocolApplication,
    ExtraObservables,
    ExtraAttack,
    ExtraTags,
    ExtraCount,
    ExtraLastSeen,
    ExtraHost,
    SourceIp,
    DestinationIp,
    SourceNetwork,
    DestinationNetwork,
    SourceFqdn,
    DestinationFqdn,
    SourceReverseDns,
    DestinationReverseDns,
    SourceLocalHostname,
    SourceUrl,
    DestinationUrl,
    SourceAsn,
    DestinationAsn,
    SourceAccount,
    DestinationAccount,
    MalwareHashMd5,
    MalwareHashSha1,
    MalwareHashSha256,
}

impl Known {
    /// Every one, in declaration order (`k as usize` indexes this).
    pub const ALL: &'static [Known] = &[
        Self::ClassificationType,
        Self::ClassificationIdentifier,
        Self::ClassificationTaxonomy,
        Self::TimeSource,
        Self::TimeObservation,
        Self::FeedName,
        Self::FeedProvider,
        Self::EventDescriptionText,
        Self::ExtraSeverity,
        Self::ExtraRuleId,
        Self::ExtraDescription,
        Self::Comment,
        Self::Tlp,
        Self::SourcePort,
        Self::DestinationPort,
        Self::ProtocolTransport,
        Self::ProtocolApplication,
        Self::ExtraObservables,
        Self::ExtraAttack,
        Self::ExtraTags,
        Self::ExtraCount,
        Self::ExtraLastSeen,
        Self::ExtraHost,
        Self::SourceIp,
        Self::DestinationIp,
        Self::SourceNetwork,
        Self::DestinationNetwork,
        Self::SourceFqdn,
        Self::DestinationFqdn,
        Self::SourceReverseDns,
        Self::DestinationReverseDns,
        Self::SourceLocalHostname,
        Self::SourceUrl,
        Self::DestinationUrl,
        Self::SourceAsn,
        Self::DestinationAsn,
        Self::SourceAccount,
        Self::DestinationAccount,
        Self::MalwareHashMd5,
        Self::MalwareHashSha1,
        Self::MalwareHashSha256,
    ];

    /// The harmonisation field name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::ClassificationType => "classification.type",
            Self::ClassificationIdentifier => "classification.identifier",
            Self::ClassificationTaxonomy => "classification.taxonomy",
            Self::TimeSource => "time.source",
            Self::TimeObservation => "time.observation",
            Self::FeedName => "feed.name",
            Self::FeedProvider => "feed.provider",
            Self::EventDescriptionText => "event_description.text",
            Self::ExtraSeverity => "extra.severity",
            Self::ExtraRuleId => "extra.rule.id",
            Self::ExtraDescription => "extra.description",
            Self::Comment => "comment",
            Self::Tlp => "tlp",
            Self::SourcePort => "source.port",
            Self::DestinationPort => "destination.port",
            Self::ProtocolTransport => "protocol.transport",
            Self::ProtocolApplication => "protocol.application",
            Self::ExtraObservables => "extra.observables",
            Self::ExtraAttack => "extra.attack",
            Self::ExtraTags => "extra.tags",
            Self::ExtraCount => "extra.count",
            Self::ExtraLastSeen => "extra.last_seen",
            Self::ExtraHost => "extra.host",
            Self::SourceIp => "source.ip",
            Self::DestinationIp => "destination.ip",
            Self::SourceNetwork => "source.network",
            Self::DestinationNetwork => "destination.network",
            Self::SourceFqdn => "source.fqdn",
            Self::DestinationFqdn => "destination.fqdn",
            Self::SourceReverseDns => "source.reverse_dns",
            Self::DestinationReverseDns => "destination.reverse_dns",
            Self::SourceLocalHostname => "source.local_hostname",
            Self::SourceUrl => "source.url",
            Self::DestinationUrl => "destination.url",
            Self::SourceAsn => "source.asn",
            Self::DestinationAsn => "destination.asn",
            Self::SourceAccount => "source.account",
            Self::DestinationAccount => "destination.account",
            Self::MalwareHashMd5 => "malware.hash.md5",
            Self::MalwareHashSha1 => "malware.hash.sha1",
            Self::MalwareHashSha256 => "malware.hash.sha256",
        }
    }
}

/// Whether importing consumes the field `key` (so it does not land in the
/// alert's extras).
#[must_use]
pub fn consumed(key: &str) -> bool {
    // Per field of every event: a set, not two linear scans of string compares.
    static CONSUMED: LazyLock<HashSet<&'static str, BuildHasherDefault<Fnv>>> = LazyLock::new(|| {
        KNOWN_FIELDS.iter().copied().chain(OBSERVABLE_FIELDS.iter().map(|(f, _, _)| f.name())).collect()
    });
    CONSUMED.contains(key)
}

/// As [`text`], borrowing the string when it is one.
fn text_ref(e: &impl Fields, key: Known) -> Option<Cow<'_, str>> {
    match e.known(key)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(Cow::Owned(v.to_string())),
        _ => None,
    }
}

/// As [`text`], moving the value out of the event (for consumed fields only).
fn take_text(e: &mut impl Fields, key: Known) -> Option<String> {
    match e.take_known(key)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

fn text(e: &impl Fields, key: Known) -> Option<String> {
    match e.known(key)? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// Builds an alert from a flat IntelMQ event.
///
/// # Errors
/// An unknown `classification.type`, an unparseable `time.source`, a bad
/// port, or a wrong-typed field.
pub fn import(e: &Event, format: Format, options: &ParseOptions) -> Result<Alert, Reject> {
    import_owned(e.clone(), format, options)
}

/// As [`import`], taking the event so that its unmapped fields move into
/// `extra` instead of being copied (Shadowserver rows go through here).
///
/// # Errors
/// As [`import`].
pub fn import_owned(event: Event, format: Format, options: &ParseOptions) -> Result<Alert, Reject> {
    import_fields(event, format, options)
}

/// As [`import_owned`], for any [`Fields`].
///
/// # Errors
/// As [`import`].
pub fn import_fields(mut event: impl Fields, format: Format, options: &ParseOptions) -> Result<Alert, Reject> {
    for (k, v) in event.entries() {
        if matches!(v, Value::Object(_) | Value::Array(_)) && !k.starts_with("extra") {
            return Err(Reject::wrong_type(k.to_owned(), "a scalar"));
        }
    }
    // Consumed text fields the alert keeps: moved out, not copied.
    let described = take_text(&mut event, Known::EventDescriptionText);
    let identifier = take_text(&mut event, Known::ClassificationIdentifier);
    let taxonomy = take_text(&mut event, Known::ClassificationTaxonomy);
    let transport = take_text(&mut event, Known::ProtocolTransport);
    let application = take_text(&mut event, Known::ProtocolApplication);
    let e = &event;
    let ctype = text_ref(e, Known::ClassificationType).unwrap_or(Cow::Borrowed("undetermined"));
    let rsit = muster_core::taxonomy::RsitType::parse(rsit_for_intelmq_type(&ctype))
        .map_err(|_| Reject::invalid("classification.type", format!("{ctype:?} is not an RSIT type")))?;
    let time = match text_ref(e, Known::TimeSource).or_else(|| text_ref(e, Known::TimeObservation)) {
        Some(t) => {
            timefmt::parse_iso(&t).ok_or_else(|| Reject::invalid("time.source", format!("{t:?} is not ISO 8601")))?
        }
        None => options.received_at,
    };
    let feed = text_ref(e, Known::FeedName);
    let title = described.unwrap_or_else(|| {
        let what = identifier.as_deref().unwrap_or(&ctype);
        feed.as_ref().map_or_else(|| what.to_owned(), |f| format!("{f}: {what}"))
    });
    let source = match format {
        Format::Shadowserver => "shadowserver".to_owned(),
        _ => text(e, Known::FeedProvider)
            .or_else(|| feed.as_deref().map(str::to_owned))
            .unwrap_or_else(|| "intelmq".into()),
    };
    let mut alert = Alert::new(format, source, title, time, rsit);
    alert.severity = text_ref(e, Known::ExtraSeverity)
        .and_then(|s| Severity::parse(&s))
        .unwrap_or_else(|| default_severity(rsit.class()));
    alert.rule = identifier.map(|id| Rule {
        id: text(e, Known::ExtraRuleId).or_else(|| Some(id.clone())),
        name: Some(id),
        category: taxonomy,
    });
    alert.description = text(e, Known::ExtraDescription).or_else(|| text(e, Known::Comment));
    if let Some(t) = text_ref(e, Known::Tlp) {
        alert.tlp = muster_core::Tlp::parse(&t).map_err(|err| Reject::invalid("tlp", err.to_string()))?;
    }
    alert.network.source_port = port(e, Known::SourcePort)?;
    alert.network.destination_port = port(e, Known::DestinationPort)?;
    alert.network.application = application;
    for (field, kind, role) in OBSERVABLE_FIELDS {
        if let Some(v) = text_ref(e, *field) {
            if matches!(kind, ObservableKind::Ipv4) {
                alert.observe_ip(&v, *role, field.name());
            } else {
                alert.observe(*kind, &v, *role, field.name());
            }
        }
    }
    if let Some(Value::Array(list)) = e.known(Known::ExtraObservables) {
        for item in list {
            match serde_json::from_value::<Observable>(item.clone()) {
                Ok(o) => alert.observables.push(o),
                Err(err) => alert.warnings.push(format!("extra.observables: {err}")),
            }
        }
    }
    if let Some(Value::Array(list)) = e.known(Known::ExtraAttack) {
        for t in list.iter().filter_map(Value::as_str) {
            alert.add_technique(t, "extra.attack");
        }
    }
    if let Some(Value::Array(list)) = e.known(Known::ExtraTags) {
        alert.tags = list.iter().filter_map(Value::as_str).map(str::to_owned).collect();
    }
    if let Some(n) = e.known(Known::ExtraCount).and_then(Value::as_u64) {
        alert.count = n.max(1);
    }
    if let Some(t) = text_ref(e, Known::ExtraLastSeen).and_then(|t| timefmt::parse_iso(&t)) {
        alert.last_seen = t.max(alert.first_seen);
    }
    alert.host = text(e, Known::ExtraHost);
    // At most four pairs: on the stack, values borrowed where they are
    // strings. `protocol.transport` was taken out of the event: read it from
    // there (the same text, as `text` and `text_ref` agree).
    let mut identity: [(&str, Cow<'_, str>); 4] = Default::default();
    let mut digits = [[0u8; 20]; 4];
    let mut n = 0;
    for (f, buf) in IDENTITY_FIELDS.iter().zip(&mut digits) {
        let v = match (f, e.known(*f)) {
            (Known::ProtocolTransport, _) => transport.as_deref().map(Cow::Borrowed),
            // Ports: written out on the stack (as `to_string` writes them).
            (_, Some(Value::Number(num))) if num.is_u64() => num.as_u64().map(|u| Cow::Borrowed(decimal(u, buf))),
            _ => text_ref(e, *f),
        };
        if let Some(v) = v {
            identity[n] = (f.name(), v);
            n += 1;
        }
    }
    let mut pairs: [(&str, &str); 4] = [("", ""); 4];
    for (p, (k, v)) in pairs.iter_mut().zip(&identity[..n]) {
        *p = (k, v);
    }
    options.apply_markings(&mut alert);
    // Sealed before the extras move in (the fingerprint does not read them),
    // so that the identity can borrow from the event until then.
    let mut alert = alert.seal(&pairs[..n]);
    drop(identity);
    alert.network.transport = transport;
    let kept = event.into_extras();
    if alert.extra.is_empty() {
        alert.extra = kept;
    } else {
        alert.extra.extend(kept);
    }
    Ok(alert)
}

/// `n` in decimal, written into `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

/// FNV-1a: the consumed-field set is looked up once per field of every
/// event, with short trusted keys, where SipHash's cost shows.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Fields besides observables that tell two events apart.
const IDENTITY_FIELDS: &[Known] =
    &[Known::FeedName, Known::SourcePort, Known::DestinationPort, Known::ProtocolTransport];

const KNOWN_FIELDS: &[&str] = &[
    "classification.type",
    "classification.identifier",
    "classification.taxonomy",
    "time.source",
    "event_description.text",
    "extra.severity",
    "extra.rule.id",
    "extra.description",
    "comment",
    "tlp",
    "source.port",
    "destination.port",
    "protocol.transport",
    "protocol.application",
    "extra.observables",
    "extra.attack",
    "extra.tags",
    "extra.count",
    "extra.last_seen",
    "extra.host",
    "raw",
    "__type",
];

const OBSERVABLE_FIELDS: &[(Known, ObservableKind, Option<Role>)] = &[
    (Known::SourceIp, ObservableKind::Ipv4, Some(Role::Source)),
    (Known::DestinationIp, ObservableKind::Ipv4, Some(Role::Destination)),
    (Known::SourceNetwork, ObservableKind::Cidr, Some(Role::Source)),
    (Known::DestinationNetwork, ObservableKind::Cidr, Some(Role::Destination)),
    (Known::SourceFqdn, ObservableKind::Domain, Some(Role::Source)),
    (Known::DestinationFqdn, ObservableKind::Domain, Some(Role::Destination)),
    (Known::SourceReverseDns, ObservableKind::Hostname, Some(Role::Source)),
    (Known::DestinationReverseDns, ObservableKind::Hostname, Some(Role::Destination)),
    (Known::SourceLocalHostname, ObservableKind::Hostname, Some(Role::Source)),
    (Known::SourceUrl, ObservableKind::Url, Some(Role::Source)),
    (Known::DestinationUrl, ObservableKind::Url, Some(Role::Destination)),
    (Known::SourceAsn, ObservableKind::Asn, Some(Role::Source)),
    (Known::DestinationAsn, ObservableKind::Asn, Some(Role::Destination)),
    (Known::SourceAccount, ObservableKind::UserAccount, Some(Role::Source)),
    (Known::DestinationAccount, ObservableKind::UserAccount, Some(Role::Destination)),
    (Known::MalwareHashMd5, ObservableKind::Md5, None),
    (Known::MalwareHashSha1, ObservableKind::Sha1, None),
    (Known::MalwareHashSha256, ObservableKind::Sha256, None),
];

fn default_severity(class: muster_core::taxonomy::RsitClass) -> Severity {
    use muster_core::taxonomy::RsitClass as C;
    match class {
        C::MaliciousCode | C::Intrusions | C::Fraud => Severity::High,
        C::IntrusionAttempts | C::Availability | C::InformationContentSecurity => Severity::Medium,
        C::Vulnerable | C::InformationGathering | C::AbusiveContent => Severity::Low,
        C::Other | C::Test => Severity::Info,
    }
}

fn port(e: &impl Fields, key: Known) -> Result<Option<u16>, Reject> {
    let (e, key) = (e.known(key), key.name());
    match e {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| Reject::invalid(key, format!("{n} is not a port"))),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| Reject::invalid(key, format!("{s:?} is not a port"))),
        Some(_) => Err(Reject::wrong_type(key, "a port number")),
    }
}

/// Exports an alert as an IntelMQ event. The first source and destination
/// addresses, domains, URLs and hashes take the harmonisation fields; the
/// full typed observable list, severity, rule, ATT&CK ids, tags and count go
/// under `extra.*` so [`import`] restores them.
#[must_use]
pub fn export(alert: &Alert) -> Event {
    let mut e = Event::new();
    let mut put = |k: &str, v: Value| {
        e.entry(k.to_owned()).or_insert(v);
    };
    let rsit = alert.rsit;
    put("classification.taxonomy", rsit.class().as_str().into());
    put("classification.type", rsit.as_str().into());
    if let Some(r) = &alert.rule {
        if let Some(name) = r.name.as_ref().or(r.id.as_ref()) {
            put("classification.identifier", name.as_str().into());
        }
        if let Some(id) = &r.id {
            put("extra.rule.id", id.as_str().into());
        }
    }
    put("event_description.text", alert.title.as_str().into());
    if let Some(d) = &alert.description {
        put("extra.description", d.as_str().into());
    }
    put("time.source", timefmt::format_rfc3339(alert.first_seen).into());
    put("extra.last_seen", timefmt::format_rfc3339(alert.last_seen).into());
    put("extra.count", alert.count.into());
    put("extra.severity", alert.severity.as_str().into());
    put("tlp", alert.tlp.as_str().trim_start_matches("TLP:").into());
    put("feed.name", alert.source.as_str().into());
    put("extra.format", alert.format.as_str().into());
    put("extra.fingerprint", alert.fingerprint.to_hex().into());
    if let Some(h) = &alert.host {
        put("extra.host", h.as_str().into());
    }
    if let Some(p) = alert.network.source_port {
        put("source.port", p.into());
    }
    if let Some(p) = alert.network.destination_port {
        put("destination.port", p.into());
    }
    if let Some(t) = &alert.network.transport {
        put("protocol.transport", t.as_str().into());
    }
    if let Some(a) = &alert.network.application {
        put("protocol.application", a.as_str().into());
    }
    for o in &alert.observables {
        let field = OBSERVABLE_FIELDS.iter().find(|(_, kind, role)| {
            let kind_ok = *kind == o.kind() || (*kind == ObservableKind::Ipv4 && o.is_ip());
            kind_ok && (*role == o.role() || role.is_none())
        });
        if let Some((f, _, _)) = field {
            let f = f.name();
            let v = if o.kind() == ObservableKind::Asn {
                o.value().parse::<u64>().map_or_else(|_| o.value().into(), Value::from)
            } else {
                o.value().into()
            };
            put(f, v);
        }
    }
    put("extra.observables", serde_json::to_value(&alert.observables).unwrap_or_default());
    if !alert.attack.is_empty() {
        put("extra.attack", alert.attack.iter().map(|t| Value::from(t.as_str())).collect());
    }
    if !alert.tags.is_empty() {
        put("extra.tags", alert.tags.iter().map(|t| Value::from(t.as_str())).collect());
    }
    for (k, v) in &alert.extra {
        let harmonised = k.starts_with("extra.")
            || k.starts_with("source.")
            || k.starts_with("destination.")
            || k.starts_with("feed.")
            || k.starts_with("malware.")
            || k.starts_with("time.")
            || k.starts_with("protocol.")
            || k == "user_agent";
        if harmonised {
            put(k, v.clone());
        } else {
            put(&format!("extra.{k}"), v.clone());
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_intelmq_types_map_to_rsit() {
        for t in ["vulnerable service", "blacklist", "backdoor", "c2server", "malware"] {
            let mapped = rsit_for_intelmq_type(t);
            assert!(muster_core::taxonomy::RsitType::parse(mapped).is_ok(), "{t} -> {mapped}");
        }
    }

    #[test]
    fn known_fields_are_listed_in_declaration_order_once() {
        // The Shadowserver parser indexes its per-report slots by `k as usize`.
        for (i, k) in Known::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{k:?}");
        }
        let names: HashSet<&str> = Known::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), Known::ALL.len());
    }

    #[test]
    fn decimal_writes_as_to_string() {
        for n in [0, 7, 10, 22, 443, 65_535, 1_000_000, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string());
        }
    }

    #[test]
    fn flatten_joins_nested_keys() {
        let v = serde_json::json!({"source": {"ip": "1.2.3.4", "geolocation": {"cc": "AT"}}, "feed.name": "x"});
        let f = flatten(&v);
        assert_eq!(f.get("source.geolocation.cc"), Some(&Value::from("AT")));
        assert_eq!(f.get("feed.name"), Some(&Value::from("x")));
    }
}
