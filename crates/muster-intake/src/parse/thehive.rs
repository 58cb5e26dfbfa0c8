//! TheHive 5 alert creation documents (`POST /api/v1/alert`), so that a SIEM
//! integration written for TheHive can send to Muster unchanged.
//!
//! TheHive keeps one alert per `type` + `source` + `sourceRef` and refuses a
//! second one; the fingerprint here is exactly that triple, so a re-sent alert
//! is a duplicate even when its title or observables changed.

use muster_core::{Pap, Tlp};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::json::JsonRecord;
use super::{ParseOptions, classify, clip};
use crate::alert::{Alert, Fingerprint, Format, Severity};
use crate::observable::{AttackTechnique, Observable, ObservableKind};
use crate::reject::Reject;
use crate::timefmt;

/// TheHive 5 dataTypes with no Muster observable kind: kept under
/// `extra.observables` as they came, without a warning.
const KEPT_DATA_TYPES: &[&str] =
    &["other", "user-agent", "mail-subject", "mail_subject", "regexp", "registry", "uri_path", "file"];

/// Parses one TheHive 5 alert.
///
/// # Errors
/// Malformed JSON; a missing `type`, `source`, `sourceRef` or `title`;
/// `severity` outside 1–4, `tlp` outside 0–4, `pap` outside 0–3; an
/// observable without `dataType` or `data`; wrong field types (named).
pub fn parse(record: &[u8], options: &ParseOptions) -> Result<Alert, Reject> {
    let r = JsonRecord::parse(record, options)?;
    let kind = r.required_text("type")?;
    let source = r.required_text("source")?;
    let source_ref = r.required_text("sourceRef")?;
    let title = r.required_text("title")?;
    let description = r.text("description")?;
    let severity = match r.u64("severity")? {
        None => Severity::Medium,
        Some(n @ 1..=4) => Severity::from_thehive(n),
        Some(n) => return Err(Reject::invalid("severity", format!("{n} is not 1 (low) to 4 (critical)"))),
    };
    let time =
        match r.get("date") {
            None => options.received_at,
            Some(Value::Number(n)) => n
                .as_i64()
                .and_then(from_ms)
                .ok_or_else(|| Reject::invalid("date", format!("{n} is not milliseconds since 1970")))?,
            Some(Value::String(s)) => {
                s.trim().parse::<i64>().ok().and_then(from_ms).or_else(|| timefmt::parse_iso(s)).ok_or_else(|| {
                    Reject::invalid("date", format!("{s:?} is neither epoch milliseconds nor ISO 8601"))
                })?
            }
            Some(_) => return Err(Reject::wrong_type("date", "epoch milliseconds")),
        };
    let tags = r.strings("tags")?;
    let texts: Vec<&str> = tags.iter().map(AsRef::as_ref).chain([kind.as_ref(), title.as_ref()]).collect();
    let mut alert = Alert::new(
        Format::TheHive,
        clip(&source, 1024),
        clip(&title, options.max_field_len),
        time,
        classify::or_undetermined(&texts),
    );
    alert.source_ref = Some(clip(&source_ref, 1024).to_owned());
    alert.severity = severity;
    alert.description = description.map(|d| clip(&d, options.max_field_len).to_owned());
    alert.tags = tags.iter().map(|t| clip(t, 1024).to_owned()).collect();
    alert.tlp = match r.u64("tlp")? {
        None => Tlp::Amber,
        Some(n) => tlp_from_number(n)
            .ok_or_else(|| Reject::invalid("tlp", format!("{n} is not 0 (clear) to 4 (amber+strict)")))?,
    };
    alert.pap = match r.u64("pap")? {
        None => Pap::Amber,
        Some(n) => {
            pap_from_number(n).ok_or_else(|| Reject::invalid("pap", format!("{n} is not 0 (clear) to 3 (red)")))?
        }
    };
    alert.extra.insert("type".into(), Value::String(kind.to_string()));
    for field in ["externalLink", "summary", "caseTemplate", "assignee", "status", "flag", "customFields"] {
        if let Some(v) = r.get(field) {
            alert.extra.insert(field.into(), v.clone());
        }
    }
    procedures(&r, &mut alert)?;
    observables(&r, &mut alert)?;
    options.apply_markings(&mut alert);
    alert.original = record.to_vec();
    let alert = alert.seal(&[]);
    let fingerprint = identity(&alert.source, &kind, &source_ref)?;
    Ok(Alert { fingerprint, ..alert })
}

/// TheHive's uniqueness key: `type`, `source`, `sourceRef`.
fn identity(source: &str, kind: &str, source_ref: &str) -> Result<Fingerprint, Reject> {
    let mut h = Sha256::new();
    for s in [Format::TheHive.as_str(), source, kind, source_ref] {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    // 32 bytes always make 64 hex digits; the error arm cannot happen.
    Fingerprint::from_hex(&hex::encode(h.finalize())).map_err(|e| Reject::syntax(format!("fingerprint: {e}")))
}

fn from_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// TheHive 5's TLP numbers: 0 clear (white), 1 green, 2 amber, 3 red, 4 amber+strict.
#[must_use]
pub fn tlp_from_number(n: u64) -> Option<Tlp> {
    Tlp::ALL.iter().copied().find(|t| u64::try_from(t.thehive_number()).ok() == Some(n))
}

/// TheHive's PAP numbers: 0 clear (white), 1 green, 2 amber, 3 red.
#[must_use]
pub fn pap_from_number(n: u64) -> Option<Pap> {
    Some(match n {
        0 => Pap::Clear,
        1 => Pap::Green,
        2 => Pap::Amber,
        3 => Pap::Red,
        _ => return None,
    })
}

/// TheHive's PAP number for a PAP level.
#[must_use]
pub const fn pap_number(p: Pap) -> u64 {
    match p {
        Pap::Clear => 0,
        Pap::Green => 1,
        Pap::Amber => 2,
        Pap::Red => 3,
    }
}

/// TheHive's severity number (1 low … 4 critical; Muster's `info` answers as 1).
#[must_use]
pub const fn severity_number(s: Severity) -> u64 {
    match s {
        Severity::Info | Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

/// `procedures: [{patternId, tactic, occurDate, description}]`: ATT&CK ids.
fn procedures(r: &JsonRecord, alert: &mut Alert) -> Result<(), Reject> {
    let Some(v) = r.get("procedures") else { return Ok(()) };
    let Value::Array(items) = v else { return Err(Reject::wrong_type("procedures", "an array of objects")) };
    for (i, p) in items.iter().enumerate() {
        let path = format!("procedures[{i}].patternId");
        match p.get("patternId") {
            Some(Value::String(id)) => match AttackTechnique::parse(id) {
                Ok(t) => alert.attack.push(t),
                Err(e) => alert.warnings.push(format!("{path}: {e}")),
            },
            _ => return Err(Reject::missing(path)),
        }
    }
    alert.extra.insert("procedures".into(), v.clone());
    Ok(())
}

/// `observables: [{dataType, data, message, tags, ioc, sighted, tlp, pap}]`.
/// Values with a Muster kind become observables; the rest, and values that
/// fail validation, go to `extra.observables` as received. What only TheHive
/// records about a typed observable (message, ioc, sighted…) goes to
/// `extra.observable_details`.
fn observables(r: &JsonRecord, alert: &mut Alert) -> Result<(), Reject> {
    let Some(v) = r.get("observables") else { return Ok(()) };
    let Value::Array(items) = v else { return Err(Reject::wrong_type("observables", "an array of objects")) };
    let mut kept = Vec::new();
    let mut details = Vec::new();
    for (i, o) in items.iter().enumerate() {
        let at = |f: &str| format!("observables[{i}].{f}");
        let Value::Object(o) = o else { return Err(Reject::wrong_type(format!("observables[{i}]"), "an object")) };
        let data_type = match o.get("dataType") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
            Some(Value::String(_)) | None | Some(Value::Null) => return Err(Reject::missing(at("dataType"))),
            Some(_) => return Err(Reject::wrong_type(at("dataType"), "a string")),
        };
        let values: Vec<&str> = match o.get("data") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().ok_or_else(|| Reject::wrong_type(at("data"), "a string or an array of strings")))
                .collect::<Result<_, _>>()?,
            None | Some(Value::Null) if o.contains_key("attachment") => {
                alert
                    .warnings
                    .push(format!("{}: file attachments are not stored; kept the description", at("attachment")));
                kept.push(Value::Object(o.clone()));
                continue;
            }
            None | Some(Value::Null) => return Err(Reject::missing(at("data"))),
            Some(_) => return Err(Reject::wrong_type(at("data"), "a string or an array of strings")),
        };
        let mapped = kind_of(data_type);
        if mapped.is_none() && !KEPT_DATA_TYPES.contains(&data_type.to_ascii_lowercase().as_str()) {
            alert.warnings.push(format!(
                "{}: unknown TheHive dataType {data_type:?}; kept under extra.observables",
                at("dataType")
            ));
        }
        for value in values {
            let typed = match mapped {
                Some(m) => match m.observable(value) {
                    Ok(obs) => Some(obs),
                    Err(e) => {
                        alert.warnings.push(format!("{}: {e}; kept under extra.observables", at("data")));
                        None
                    }
                },
                None => None,
            };
            let Some(obs) = typed else {
                kept.push(with_data(o, value));
                continue;
            };
            if let Some(d) = thehive_details(o, &obs) {
                details.push(d);
            }
            alert.observables.push(obs);
        }
    }
    if !kept.is_empty() {
        alert.extra.insert("observables".into(), Value::Array(kept));
    }
    if !details.is_empty() {
        alert.extra.insert("observable_details".into(), Value::Array(details));
    }
    Ok(())
}

/// The observable object with `data` narrowed to one value.
fn with_data(o: &Map<String, Value>, value: &str) -> Value {
    let mut o = o.clone();
    o.insert("data".into(), Value::String(value.to_owned()));
    Value::Object(o)
}

/// TheHive-only facts about a typed observable, or `None` when it has none.
fn thehive_details(o: &Map<String, Value>, obs: &Observable) -> Option<Value> {
    let mut d = Map::new();
    for f in ["message", "tags", "ioc", "sighted", "sightedAt", "tlp", "pap", "ignoreSimilarity", "startDate"] {
        if let Some(v) = o.get(f).filter(|v| !v.is_null()) {
            d.insert(f.into(), v.clone());
        }
    }
    if d.is_empty() {
        return None;
    }
    let mut out = Map::new();
    out.insert("kind".into(), json!(obs.kind()));
    out.insert("value".into(), json!(obs.value()));
    out.extend(d);
    Some(Value::Object(out))
}

/// How a TheHive dataType becomes a Muster observable.
#[derive(Clone, Copy)]
enum Mapping {
    Kind(ObservableKind),
    /// `ip`: IPv4, IPv6 or CIDR, whichever the value is.
    Ip,
    /// `hash`: MD5, SHA-1 or SHA-256 by length.
    Hash,
}

impl Mapping {
    fn observable(self, raw: &str) -> Result<Observable, crate::observable::InvalidObservable> {
        match self {
            Self::Kind(k) => Observable::new(k, raw),
            Self::Ip if raw.contains('/') => Observable::new(ObservableKind::Cidr, raw),
            Self::Ip => Observable::ip(raw),
            Self::Hash => {
                let kind = match raw.trim().len() {
                    32 => ObservableKind::Md5,
                    40 => ObservableKind::Sha1,
                    _ => ObservableKind::Sha256,
                };
                Observable::new(kind, raw)
            }
        }
    }
}

fn kind_of(data_type: &str) -> Option<Mapping> {
    let k = match data_type.to_ascii_lowercase().as_str() {
        "ip" => return Some(Mapping::Ip),
        "hash" => return Some(Mapping::Hash),
        "domain" => ObservableKind::Domain,
        "fqdn" | "hostname" => ObservableKind::Hostname,
        "url" => ObservableKind::Url,
        "mail" | "email" => ObservableKind::Email,
        "filename" => ObservableKind::FileName,
        "autonomous-system" | "asn" => ObservableKind::Asn,
        "cve" => ObservableKind::Cve,
        "user" | "username" | "user-account" => ObservableKind::UserAccount,
        "md5" => ObservableKind::Md5,
        "sha1" => ObservableKind::Sha1,
        "sha256" => ObservableKind::Sha256,
        _ => return None,
    };
    Some(Mapping::Kind(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_to_markings() {
        for t in Tlp::ALL {
            assert_eq!(tlp_from_number(u64::try_from(t.thehive_number()).unwrap_or(99)), Some(*t));
        }
        for n in 0..4 {
            assert_eq!(pap_from_number(n).map(pap_number), Some(n));
        }
        assert_eq!(tlp_from_number(5), None);
        assert_eq!(pap_from_number(4), None);
        for n in 1..=4 {
            assert_eq!(severity_number(Severity::from_thehive(n)), n);
        }
    }

    #[test]
    fn identity_is_type_source_and_source_ref() {
        let id = |s, k, r| identity(s, k, r).ok();
        assert_eq!(id("splunk", "external", "a1"), id("splunk", "external", "a1"));
        assert!(id("splunk", "external", "a1").is_some());
        assert_ne!(id("splunk", "external", "a1"), id("splunk", "external", "a2"));
        assert_ne!(id("splunk", "external", "a1"), id("splunk", "internal", "a1"));
        // Length prefixes keep field boundaries apart.
        assert_ne!(id("ab", "c", "d"), id("a", "bc", "d"));
    }
}
