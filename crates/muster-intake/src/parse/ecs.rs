//! Elastic Common Schema documents and Kibana / Elastic Security detection
//! alerts (`kibana.alert.*`, and the 7.x `signal.*` spelling). A search hit
//! (`{"_id":…, "_source":{…}}`) is unwrapped.

use serde_json::Value;

use super::json::{JsonRecord, lookup};
use super::{ParseOptions, classify, clip};
use crate::alert::{Alert, Format, Network, Rule, Severity};
use crate::observable::{ObservableKind, Role};
use crate::reject::Reject;
use crate::timefmt;

/// Parses one ECS document or detection alert.
///
/// # Errors
/// Malformed JSON, no `@timestamp`, wrong field types (named).
pub fn parse(record: &[u8], options: &ParseOptions) -> Result<Alert, Reject> {
    let mut r = JsonRecord::parse(record, options)?;
    let mut hit_id = None;
    if let Some(Value::Object(src)) = r.root.get("_source") {
        hit_id = r.root.get("_id").and_then(Value::as_str).map(str::to_owned);
        r.root = Value::Object(src.clone());
    }
    let security = lookup(&r.root, "kibana.alert.rule.name").is_some() || lookup(&r.root, "signal.rule.name").is_some();
    let (format, rule_prefix) = if security {
        if lookup(&r.root, "kibana.alert.rule.name").is_some() {
            (Format::ElasticSecurity, "kibana.alert.rule")
        } else {
            (Format::ElasticSecurity, "signal.rule")
        }
    } else {
        (Format::Ecs, "rule")
    };
    let ts = r.required_text("@timestamp")?;
    let time =
        timefmt::parse_iso(&ts).ok_or_else(|| Reject::invalid("@timestamp", format!("{ts:?} is not ISO 8601")))?;
    let rule_name = r.text(&format!("{rule_prefix}.name"))?;
    let message = r.text("message")?;
    let reason = r.text("kibana.alert.reason")?;
    let action = r.text("event.action")?;
    let title = rule_name
        .as_deref()
        .or(action.as_deref())
        .or(message.as_deref())
        .map_or_else(|| "Elastic event".to_owned(), |t| clip(t, 1024).to_owned());
    let categories = r.strings("event.category")?;
    let mut texts: Vec<&str> = categories.iter().map(AsRef::as_ref).collect();
    texts.push(&title);
    let rsit = classify::or_undetermined(&texts);
    let vendor = r.text("observer.vendor")?;
    let product = r.text("observer.product")?;
    let source = if security {
        "elastic-security".to_owned()
    } else {
        match (vendor.as_deref(), product.as_deref()) {
            (Some(v), Some(p)) => format!("{v} {p}"),
            (Some(v), None) => v.to_owned(),
            (None, Some(p)) => p.to_owned(),
            (None, None) => r.text("event.module")?.map_or_else(|| "elastic".to_owned(), |m| m.into_owned()),
        }
    };
    let mut alert = Alert::new(format, source, title, time, rsit);
    alert.severity = severity(&r, rule_prefix)?;
    alert.description = reason.or(message).map(|d| clip(&d, options.max_field_len).to_owned());
    let rule_id = match r.text(&format!("{rule_prefix}.rule_id"))? {
        Some(id) => Some(id),
        None => r.text(&format!("{rule_prefix}.id"))?,
    };
    let rule_id = match rule_id {
        Some(id) => Some(id),
        None => r.text(&format!("{rule_prefix}.uuid"))?,
    };
    if rule_id.is_some() || rule_name.is_some() {
        alert.rule = Some(Rule {
            id: rule_id.map(|s| s.into_owned()),
            name: rule_name.map(|s| s.into_owned()),
            category: (!categories.is_empty()).then(|| categories.join(",")),
        });
    }
    alert.source_ref = match hit_id {
        Some(id) => Some(id),
        None => match r.text("kibana.alert.uuid")? {
            Some(id) => Some(id.into_owned()),
            None => r.text("event.id")?.map(|s| s.into_owned()),
        },
    };
    alert.host = match r.text("host.name")? {
        Some(h) => Some(h.into_owned()),
        None => r.text("host.hostname")?.map(|s| s.into_owned()),
    };
    observe_all(&mut alert, &r)?;
    for path in [
        format!("{rule_prefix}.threat.technique.id"),
        "threat.technique.id".to_owned(),
        format!("{rule_prefix}.threat.technique.subtechnique.id"),
    ] {
        for t in techniques(&r.root, &path) {
            alert.add_technique(&t, &path);
        }
    }
    alert.tags = r.strings("tags")?.iter().map(ToString::to_string).collect();
    alert.network = Network {
        source_port: port(&r, "source.port")?,
        destination_port: port(&r, "destination.port")?,
        transport: r.text("network.transport")?.map(|s| s.to_ascii_lowercase()),
        application: r.text("network.protocol")?.map(|s| s.to_ascii_lowercase()),
    };
    for path in ["event.kind", "event.module", "event.dataset", "event.outcome", "kibana.alert.workflow_status"] {
        if let Some(v) = r.text(path)? {
            alert.extra.insert(path.into(), v.as_ref().into());
        }
    }
    options.apply_markings(&mut alert);
    alert.original = record.to_vec();
    Ok(alert.seal(&[]))
}

fn severity(r: &JsonRecord, rule_prefix: &str) -> Result<Severity, Reject> {
    for path in ["kibana.alert.severity", &format!("{rule_prefix}.severity")] {
        if let Some(s) = r.text(path)? {
            return Severity::parse(&s)
                .ok_or_else(|| Reject::invalid(path, format!("{s:?} is not low/medium/high/critical")));
        }
    }
    for path in ["kibana.alert.risk_score", "event.risk_score"] {
        if let Some(n) = r.get(path).and_then(Value::as_f64) {
            // Elastic risk score 0-100: 0-21 low, 22-47 medium, 48-73 high, 74+ critical.
            return Ok(match n {
                n if n < 22.0 => Severity::Low,
                n if n < 48.0 => Severity::Medium,
                n if n < 74.0 => Severity::High,
                _ => Severity::Critical,
            });
        }
    }
    Ok(match r.u64("event.severity")? {
        // ECS leaves the scale to the source; most use 0-10 or syslog 0-7 reversed.
        Some(n) if n <= 10 => Severity::from_0_to_10(n),
        Some(_) => Severity::High,
        None => Severity::Medium,
    })
}

fn observe_all(alert: &mut Alert, r: &JsonRecord) -> Result<(), Reject> {
    let ips = [
        ("source.ip", Some(Role::Source)),
        ("destination.ip", Some(Role::Destination)),
        ("client.ip", Some(Role::Source)),
        ("server.ip", Some(Role::Destination)),
        ("host.ip", None),
    ];
    for (path, role) in ips {
        for ip in r.strings(path)? {
            alert.observe_ip(&ip, role, path);
        }
    }
    let others = [
        ("source.domain", ObservableKind::Domain, Some(Role::Source)),
        ("destination.domain", ObservableKind::Domain, Some(Role::Destination)),
        ("dns.question.name", ObservableKind::Domain, None),
        ("url.full", ObservableKind::Url, None),
        ("url.original", ObservableKind::Url, None),
        ("user.name", ObservableKind::UserAccount, None),
        ("source.user.name", ObservableKind::UserAccount, Some(Role::Source)),
        ("destination.user.name", ObservableKind::UserAccount, Some(Role::Destination)),
        ("file.name", ObservableKind::FileName, None),
        ("file.hash.md5", ObservableKind::Md5, None),
        ("file.hash.sha1", ObservableKind::Sha1, None),
        ("file.hash.sha256", ObservableKind::Sha256, None),
        ("process.hash.md5", ObservableKind::Md5, None),
        ("process.hash.sha1", ObservableKind::Sha1, None),
        ("process.hash.sha256", ObservableKind::Sha256, None),
        ("process.name", ObservableKind::FileName, None),
        ("email.from.address", ObservableKind::Email, Some(Role::Source)),
        ("email.to.address", ObservableKind::Email, Some(Role::Destination)),
        ("source.as.number", ObservableKind::Asn, Some(Role::Source)),
        ("destination.as.number", ObservableKind::Asn, Some(Role::Destination)),
        ("vulnerability.id", ObservableKind::Cve, None),
        ("host.name", ObservableKind::Hostname, None),
    ];
    for (path, kind, role) in others {
        for v in r.strings(path)? {
            if kind == ObservableKind::Cve && !v.to_ascii_uppercase().starts_with("CVE-") {
                continue;
            }
            alert.observe(kind, &v, role, path);
        }
    }
    Ok(())
}

/// Collects technique ids at `path`, descending through arrays
/// (`threat` and `technique` are arrays of objects in Elastic rules).
fn techniques(root: &Value, path: &str) -> Vec<String> {
    fn walk(v: &Value, segs: &[&str], out: &mut Vec<String>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, segs, out)),
            Value::String(s) if segs.is_empty() => out.push(s.clone()),
            Value::Object(_) if !segs.is_empty() => {
                for n in (1..=segs.len()).rev() {
                    let key = segs[..n].join(".");
                    if let Some(inner) = v.get(&key) {
                        walk(inner, &segs[n..], out);
                        return;
                    }
                }
            }
            _ => {}
        }
    }
    let segs: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    walk(root, &segs, &mut out);
    out
}

fn port(r: &JsonRecord, path: &str) -> Result<Option<u16>, Reject> {
    match r.u64(path)? {
        None => Ok(None),
        Some(p) => u16::try_from(p).map(Some).map_err(|_| Reject::invalid(path, format!("{p} is not a port"))),
    }
}
