//! Suricata EVE JSON. `alert` and `anomaly` events become alerts; other event
//! types are ignored unless listed in [`ParseOptions::eve_extra_event_types`].
//! The record is deserialised into a borrowed struct (no DOM) because this is
//! the highest-volume source; on a type error it is decoded again with the
//! field path so the rejection can name it.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use muster_core::taxonomy::RsitType;
use serde::Deserialize;

use super::json::{JStr, json_error};
use super::{ParseOptions, text};
use crate::alert::{Alert, Format, Network, Rule, Severity};
use crate::observable::{ObservableKind, Role};
use crate::reject::Reject;
use crate::timefmt;

type Str<'a> = JStr<'a>;

#[derive(Deserialize)]
struct Eve<'a> {
    #[serde(borrow)]
    timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    event_type: Option<Str<'a>>,
    flow_id: Option<u64>,
    #[serde(borrow)]
    in_iface: Option<Str<'a>>,
    #[serde(borrow)]
    host: Option<Str<'a>>,
    #[serde(borrow)]
    src_ip: Option<Str<'a>>,
    src_port: Option<u16>,
    #[serde(borrow)]
    dest_ip: Option<Str<'a>>,
    dest_port: Option<u16>,
    #[serde(borrow)]
    proto: Option<Str<'a>>,
    #[serde(borrow)]
    app_proto: Option<Str<'a>>,
    #[serde(borrow)]
    community_id: Option<Str<'a>>,
    #[serde(borrow)]
    alert: Option<EveAlert<'a>>,
    #[serde(borrow)]
    anomaly: Option<EveAnomaly<'a>>,
    #[serde(borrow)]
    http: Option<EveHttp<'a>>,
    #[serde(borrow)]
    tls: Option<EveTls<'a>>,
    #[serde(borrow)]
    dns: Option<EveDns<'a>>,
    #[serde(borrow)]
    fileinfo: Option<EveFile<'a>>,
}

#[derive(Deserialize)]
struct EveAlert<'a> {
    #[serde(borrow)]
    action: Option<Str<'a>>,
    gid: Option<u64>,
    signature_id: Option<u64>,
    rev: Option<u64>,
    #[serde(borrow)]
    signature: Option<Str<'a>>,
    #[serde(borrow)]
    category: Option<Str<'a>>,
    severity: Option<u64>,
    #[serde(borrow, default)]
    metadata: BTreeMap<Str<'a>, Vec<Str<'a>>>,
}

#[derive(Deserialize)]
struct EveAnomaly<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    event: Option<Str<'a>>,
    #[serde(borrow)]
    layer: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct EveHttp<'a> {
    #[serde(borrow)]
    hostname: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    http_user_agent: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct EveTls<'a> {
    #[serde(borrow)]
    sni: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct EveDns<'a> {
    #[serde(borrow)]
    rrname: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct EveFile<'a> {
    #[serde(borrow)]
    filename: Option<Str<'a>>,
    #[serde(borrow)]
    md5: Option<Str<'a>>,
    #[serde(borrow)]
    sha1: Option<Str<'a>>,
    #[serde(borrow)]
    sha256: Option<Str<'a>>,
}

/// Parses one EVE JSON line.
///
/// # Errors
/// Malformed JSON, wrong field types (named), a missing `event_type`, or an
/// event type that is not configured ([`Reject::is_ignored`]).
pub fn parse(record: &[u8], options: &ParseOptions) -> Result<Alert, Reject> {
    let s = text(record, options)?;
    let eve: Eve<'_> = match serde_json::from_str(s) {
        Ok(e) => e,
        Err(e) => return Err(diagnose(s, &e)),
    };
    let event_type = eve.event_type.as_deref().ok_or_else(|| Reject::missing("event_type"))?;
    let time = match eve.timestamp.as_deref() {
        Some(t) => {
            timefmt::parse_iso(t).ok_or_else(|| Reject::invalid("timestamp", format!("{t:?} is not ISO 8601")))?
        }
        None => options.received_at,
    };
    let mut alert = match (event_type, &eve.alert, &eve.anomaly) {
        ("alert", Some(a), _) => from_alert(a, time),
        ("alert", None, _) => return Err(Reject::missing("alert")),
        ("anomaly", _, anomaly) => from_anomaly(anomaly.as_ref(), time),
        (other, _, _) if options.eve_extra_event_types.contains(other) => {
            let mut a = Alert::new(Format::Eve, "suricata", format!("Suricata {other} event"), time, rsit("other"));
            a.severity = Severity::Info;
            a
        }
        (other, _, _) => {
            return Err(Reject::ignored(format!("Suricata event_type `{other}` is not configured for intake"))
                .at_field("event_type"));
        }
    };
    alert.source_ref = eve.flow_id.map(|f| f.to_string());
    alert.host = eve.host.as_deref().map(str::to_owned);
    alert.network = Network {
        source_port: eve.src_port,
        destination_port: eve.dest_port,
        transport: eve.proto.as_deref().map(str::to_ascii_lowercase),
        application: eve.app_proto.as_deref().filter(|p| *p != "failed").map(str::to_ascii_lowercase),
    };
    if let Some(ip) = eve.src_ip.as_deref() {
        alert.observe_ip(ip, Some(Role::Source), "src_ip");
    }
    if let Some(ip) = eve.dest_ip.as_deref() {
        alert.observe_ip(ip, Some(Role::Destination), "dest_ip");
    }
    if let Some(http) = &eve.http {
        if let Some(host) = http.hostname.as_deref() {
            observe_host(&mut alert, host, "http.hostname");
            if let Some(url) = http.url.as_deref() {
                let scheme = if eve.dest_port == Some(443) { "https" } else { "http" };
                let mut full = String::with_capacity(scheme.len() + 3 + host.len() + url.len());
                for part in [scheme, "://", host, url] {
                    full.push_str(part);
                }
                alert.observe(ObservableKind::Url, &full, None, "http.url");
            }
        }
        if let Some(ua) = http.http_user_agent.as_deref() {
            alert.extra.insert("http.user_agent".into(), ua.into());
        }
    }
    if let Some(sni) = eve.tls.as_ref().and_then(|t| t.sni.as_deref()) {
        observe_host(&mut alert, sni, "tls.sni");
    }
    if let Some(name) = eve.dns.as_ref().and_then(|d| d.rrname.as_deref()) {
        observe_host(&mut alert, name, "dns.rrname");
    }
    if let Some(f) = &eve.fileinfo {
        let pairs = [
            (ObservableKind::FileName, &f.filename, "fileinfo.filename"),
            (ObservableKind::Md5, &f.md5, "fileinfo.md5"),
            (ObservableKind::Sha1, &f.sha1, "fileinfo.sha1"),
            (ObservableKind::Sha256, &f.sha256, "fileinfo.sha256"),
        ];
        for (kind, value, field) in pairs {
            if let Some(v) = value.as_deref() {
                let v = if kind == ObservableKind::FileName { v.rsplit(['/', '\\']).next().unwrap_or(v) } else { v };
                alert.observe(kind, v, None, field);
            }
        }
    }
    if let Some(a) = &eve.alert {
        for (key, values) in &a.metadata {
            let field = format!("alert.metadata.{key}");
            match key.as_ref() {
                "cve" => values.iter().for_each(|v| {
                    let id =
                        if v.to_ascii_uppercase().starts_with("CVE-") { v.to_string() } else { format!("CVE-{v}") };
                    alert.observe(ObservableKind::Cve, &id, None, &field);
                }),
                "mitre_attack" | "mitre_technique_id" => {
                    values.iter().for_each(|v| alert.add_technique(v, &field));
                }
                _ => {}
            }
        }
        if let Some(action) = a.action.as_deref() {
            alert.extra.insert("alert.action".into(), action.into());
        }
    }
    if let Some(i) = eve.in_iface.as_deref() {
        alert.extra.insert("in_iface".into(), i.into());
    }
    if let Some(c) = eve.community_id.as_deref() {
        alert.extra.insert("community_id".into(), c.into());
    }
    options.apply_markings(&mut alert);
    alert.original = record.to_vec();
    Ok(alert.seal(&[]))
}

fn observe_host(alert: &mut Alert, host: &str, field: &str) {
    let host = host
        .rsplit_once(':')
        .map_or(host, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') { h } else { host });
    if host.parse::<std::net::IpAddr>().is_ok() {
        alert.observe_ip(host, None, field);
    } else {
        alert.observe(ObservableKind::Domain, host, None, field);
    }
}

fn from_alert(a: &EveAlert<'_>, time: time::OffsetDateTime) -> Alert {
    let category = a.category.as_deref().unwrap_or("");
    let title = a
        .signature
        .as_deref()
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("Suricata signature {}", a.signature_id.unwrap_or(0)), str::to_owned);
    let mut alert = Alert::new(Format::Eve, "suricata", title, time, classify(category));
    alert.severity = match a.severity {
        Some(1) => Severity::High,
        Some(2) => Severity::Medium,
        Some(3) => Severity::Low,
        Some(_) => Severity::Info,
        None => Severity::Medium,
    };
    alert.rule = Some(Rule {
        id: a.signature_id.map(|sid| format!("{}:{sid}", a.gid.unwrap_or(1))),
        name: a.signature.as_deref().map(str::to_owned),
        category: Some(category.to_owned()).filter(|c| !c.is_empty()),
    });
    if let Some(rev) = a.rev {
        alert.extra.insert("alert.rev".into(), rev.into());
    }
    alert
}

fn from_anomaly(a: Option<&EveAnomaly<'_>>, time: time::OffsetDateTime) -> Alert {
    let kind = a.and_then(|a| a.kind.as_deref()).unwrap_or("unknown");
    let event = a.and_then(|a| a.event.as_deref()).unwrap_or("unknown");
    let mut alert =
        Alert::new(Format::Eve, "suricata", format!("Suricata {kind} anomaly: {event}"), time, rsit("undetermined"));
    alert.severity = Severity::Low;
    alert.rule = Some(Rule {
        id: Some(format!("anomaly:{kind}:{event}")),
        name: Some(event.to_owned()),
        category: a.and_then(|a| a.layer.as_deref()).map(str::to_owned),
    });
    alert
}

pub(crate) fn rsit(name: &str) -> RsitType {
    // `RsitType::parse` scans every class; parsers call this once per record.
    static BY_NAME: LazyLock<HashMap<&'static str, RsitType>> = LazyLock::new(|| {
        let mut m = HashMap::new();
        for t in RsitType::all() {
            m.entry(t.as_str()).or_insert(t); // first wins, as in `parse`
        }
        m
    });
    if let Some(t) = BY_NAME.get(name) {
        return *t;
    }
    // Every name used in this crate is in RSIT v1003; tests check each table.
    RsitType::parse(name)
        .or_else(|_| RsitType::parse("undetermined"))
        .unwrap_or_else(|_| RsitType::all().next().unwrap_or_else(|| unreachable!()))
}

/// Suricata's `classification.config`: (classtype, description, RSIT type).
/// EVE carries the description in `alert.category`; rules name the classtype.
pub const CLASSTYPES: &[(&str, &str, &str)] = &[
    ("not-suspicious", "Not Suspicious Traffic", "other"),
    ("unknown", "Unknown Traffic", "undetermined"),
    ("bad-unknown", "Potentially Bad Traffic", "ids-alert"),
    ("attempted-recon", "Attempted Information Leak", "scanner"),
    ("successful-recon-limited", "Information Leak", "information-disclosure"),
    ("successful-recon-largescale", "Large Scale Information Leak", "data-leak"),
    ("attempted-dos", "Attempted Denial of Service", "dos"),
    ("successful-dos", "Denial of Service", "dos"),
    ("attempted-user", "Attempted User Privilege Gain", "exploit"),
    ("unsuccessful-user", "Unsuccessful User Privilege Gain", "exploit"),
    ("successful-user", "Successful User Privilege Gain", "unprivileged-account-compromise"),
    ("attempted-admin", "Attempted Administrator Privilege Gain", "exploit"),
    ("successful-admin", "Successful Administrator Privilege Gain", "privileged-account-compromise"),
    ("rpc-portmap-decode", "Decode of an RPC Query", "scanner"),
    ("shellcode-detect", "Executable code was detected", "exploit"),
    ("string-detect", "A suspicious string was detected", "ids-alert"),
    ("suspicious-filename-detect", "A suspicious filename was detected", "ids-alert"),
    ("suspicious-login", "An attempted login using a suspicious username was detected", "brute-force"),
    ("system-call-detect", "A system call was detected", "ids-alert"),
    ("tcp-connection", "A TCP connection was detected", "other"),
    ("trojan-activity", "A Network Trojan was detected", "infected-system"),
    ("unusual-client-port-connection", "A client was using an unusual port", "ids-alert"),
    ("network-scan", "Detection of a Network Scan", "scanner"),
    ("denial-of-service", "Detection of a Denial of Service Attack", "dos"),
    ("non-standard-protocol", "Detection of a non-standard protocol or event", "ids-alert"),
    ("protocol-command-decode", "Generic Protocol Command Decode", "other"),
    ("web-application-activity", "access to a potentially vulnerable web application", "ids-alert"),
    ("web-application-attack", "Web Application Attack", "exploit"),
    ("misc-activity", "Misc activity", "other"),
    ("misc-attack", "Misc Attack", "ids-alert"),
    ("icmp-event", "Generic ICMP event", "other"),
    ("inappropriate-content", "Inappropriate Content was Detected", "unauthorised-use-of-resources"),
    ("policy-violation", "Potential Corporate Privacy Violation", "unauthorised-use-of-resources"),
    ("default-login-attempt", "Attempt to login by a default username and password", "brute-force"),
    ("targeted-activity", "Targeted Malicious Activity was Detected", "exploit"),
    ("exploit-kit", "Exploit Kit Activity Detected", "malware-distribution"),
    ("external-ip-check", "Device Retrieving External IP Address Detected", "ids-alert"),
    ("domain-c2", "Domain Observed Used for C2 Detected", "infected-system"),
    ("pup-activity", "Possibly Unwanted Program Detected", "infected-system"),
    ("credential-theft", "Successful Credential Theft Detected", "unauthorised-information-access"),
    ("social-engineering", "Possible Social Engineering Attempted", "social-engineering"),
    ("coin-mining", "Crypto Currency Mining Activity Detected", "unauthorised-use-of-resources"),
    ("command-and-control", "Malware Command and Control Activity Detected", "infected-system"),
];

/// Maps a Suricata classtype or its description to RSIT; unknown ones are
/// generic IDS alerts.
#[must_use]
pub fn classify(category: &str) -> RsitType {
    let c = category.trim();
    let hit = CLASSTYPES.iter().find(|(name, desc, _)| name.eq_ignore_ascii_case(c) || desc.eq_ignore_ascii_case(c));
    rsit(hit.map_or("ids-alert", |(_, _, t)| t))
}

fn diagnose(s: &str, e: &serde_json::Error) -> Reject {
    if e.classify() != serde_json::error::Category::Data {
        return json_error(e);
    }
    let de = &mut serde_json::Deserializer::from_str(s);
    match serde_path_to_error::deserialize::<_, Eve<'_>>(de) {
        Err(pe) if pe.path().to_string() == "." => Reject::syntax("expected a JSON object"),
        Err(pe) => {
            let path = pe.path().to_string();
            let msg = pe.inner().to_string();
            let expected = msg.split(", expected ").nth(1).unwrap_or("another type");
            let expected = expected.split(" at line").next().unwrap_or(expected);
            Reject::invalid(path, format!("expected {expected}"))
        }
        Ok(_) => json_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_classtype_maps_to_a_real_rsit_type() {
        for (name, _, t) in CLASSTYPES {
            assert!(RsitType::parse(t).is_ok(), "{name} -> {t}");
            assert_eq!(classify(name).as_str(), *t);
        }
        assert_eq!(classify("Attempted Information Leak").as_str(), "scanner");
        assert_eq!(classify("A Network Trojan was detected").as_str(), "infected-system");
        assert_eq!(classify("something new").as_str(), "ids-alert");
    }
}
