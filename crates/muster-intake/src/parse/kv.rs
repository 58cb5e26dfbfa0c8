//! Mapping of the key=value attributes CEF and LEEF share (and their
//! spellings in each) onto the alert. Custom `csN`/`cnN`/`c6aN` fields are
//! stored under their `…Label` names.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::alert::Alert;
use crate::observable::{ObservableKind, Role};
use crate::timefmt;

/// Finishes a CEF or LEEF alert the same way: the header's device version,
/// the syslog header's host and time where the attributes gave none, the
/// markings, the original record.
pub(crate) fn finish(
    mut alert: Alert,
    dev_version: &str,
    sys: &crate::syslog::SyslogMessage<'_>,
    time: Option<OffsetDateTime>,
    options: &super::ParseOptions,
    record: &[u8],
) -> Alert {
    alert.extra.insert("device.version".into(), dev_version.trim().into());
    if alert.host.is_none() {
        alert.host = sys.header.hostname.map(str::to_owned);
    }
    if let Some(t) = time.or(sys.header.timestamp) {
        alert.first_seen = t;
        alert.last_seen = t;
    }
    options.apply_markings(&mut alert);
    alert.original = record.to_vec();
    alert.seal(&[])
}

/// Applies `pairs` to `alert`; returns the event time if one was given.
pub fn apply(alert: &mut Alert, pairs: &[(String, String)], year: i32) -> Option<OffsetDateTime> {
    let labels: HashMap<&str, &str> =
        pairs.iter().filter_map(|(k, v)| k.strip_suffix("Label").map(|base| (base, v.as_str()))).collect();
    let mut time = None;
    let mut time_format = None;
    for (k, v) in pairs {
        if k == "devTimeFormat" {
            time_format = Some(v.as_str());
        }
    }
    for (key, value) in pairs {
        let v = value.as_str();
        if v.is_empty() || key.ends_with("Label") || key == "devTimeFormat" {
            continue;
        }
        let k = key.as_str();
        match k {
            "src" | "sourceAddress" => {
                alert.observe_ip(v, Some(Role::Source), k);
            }
            "dst" | "destinationAddress" => alert.observe_ip(v, Some(Role::Destination), k),
            "c6a2" if labels.get(k).is_some_and(|l| l.contains("Source")) => {
                alert.observe_ip(v, Some(Role::Source), k);
            }
            "c6a3" if labels.get(k).is_some_and(|l| l.contains("Destination")) => {
                alert.observe_ip(v, Some(Role::Destination), k);
            }
            "spt" | "srcPort" | "sourcePort" => alert.network.source_port = port(alert, k, v),
            "dpt" | "dstPort" | "destinationPort" => {
                alert.network.destination_port = port(alert, k, v);
            }
            "proto" | "transportProtocol" => {
                alert.network.transport = Some(v.to_ascii_lowercase());
            }
            "app" | "applicationProtocol" => {
                alert.network.application = Some(v.to_ascii_lowercase());
            }
            "shost" | "sourceHostName" | "identHostName" | "HostName" | "srcHostName" => {
                alert.observe(ObservableKind::Hostname, v, Some(Role::Source), k);
            }
            "dhost" | "destinationHostName" | "dstHostName" => {
                alert.observe(ObservableKind::Hostname, v, Some(Role::Destination), k);
            }
            "suser" | "sourceUserName" | "usrName" | "userName" | "accountName" => {
                alert.observe(ObservableKind::UserAccount, v, Some(Role::Source), k);
            }
            "duser" | "destinationUserName" => {
                alert.observe(ObservableKind::UserAccount, v, Some(Role::Destination), k);
            }
            "fname" | "fileName" | "filePath" | "Path" => {
                let name = v.rsplit(['/', '\\', '|']).next().unwrap_or(v);
                alert.observe(ObservableKind::FileName, name, None, k);
                if k != "fname" && k != "fileName" {
                    alert.extra.insert(k.to_owned().into(), v.into());
                }
            }
            "fileHash" | "oldFileHash" | "Hash" | "md5" | "sha1" | "sha256" => {
                let kind = match v.len() {
                    32 => Some(ObservableKind::Md5),
                    40 => Some(ObservableKind::Sha1),
                    64 => Some(ObservableKind::Sha256),
                    _ => None,
                };
                match kind {
                    Some(kind) => alert.observe(kind, v, None, k),
                    None => {
                        alert.extra.insert(k.to_owned().into(), v.into());
                    }
                }
            }
            "request" | "requestURL" | "url" => {
                if v.contains("://") {
                    alert.observe(ObservableKind::Url, v, None, k);
                } else {
                    let host = v.split('/').next().unwrap_or(v);
                    alert.observe(ObservableKind::Domain, host, None, k);
                }
            }
            "dvchost" | "deviceHostName" => alert.host = Some(v.to_owned()),
            "dvc" | "deviceAddress" => {
                if alert.host.is_none() {
                    alert.host = Some(v.to_owned());
                }
                alert.extra.insert(k.to_owned().into(), v.into());
            }
            "msg" | "message" => alert.description = Some(v.trim().to_owned()),
            "externalId" | "eventId" | "EventID" => alert.source_ref = Some(v.to_owned()),
            "rt" | "start" | "devTime" | "deviceReceiptTime" => {
                let t = time_format
                    .filter(|_| k == "devTime")
                    .and_then(|f| with_java_format(v, f))
                    .or_else(|| timefmt::parse_any(v, year));
                match t {
                    Some(t) => time = time.or(Some(t)),
                    None => alert.warnings.push(format!("{k}: unrecognised time {v:?}")),
                }
            }
            _ => {
                let name = labels.get(k).filter(|l| !l.is_empty()).map_or(k, |l| l.trim());
                alert.extra.insert(name.to_owned().into(), v.into());
            }
        }
    }
    time
}

fn port(alert: &mut Alert, k: &str, v: &str) -> Option<u16> {
    match v.trim().parse() {
        Ok(p) => Some(p),
        Err(_) => {
            alert.warnings.push(format!("{k}: {v:?} is not a port"));
            None
        }
    }
}

/// LEEF `devTimeFormat` uses Java's SimpleDateFormat; the common ones are
/// ISO-like or `MMM dd yyyy HH:mm:ss`, which the generic parsers handle.
fn with_java_format(v: &str, format: &str) -> Option<OffsetDateTime> {
    if format.starts_with("yyyy-MM-dd") || format.starts_with("MMM") {
        timefmt::parse_iso(v).or_else(|| timefmt::parse_bsd(v, 1970))
    } else {
        None
    }
}
