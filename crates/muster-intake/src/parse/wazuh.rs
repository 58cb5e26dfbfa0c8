//! Wazuh `alerts.json` lines (one alert object per line).

use super::json::JsonRecord;
use super::{ParseOptions, classify, clip};
use crate::alert::{Alert, Format, Network, Rule, Severity};
use crate::observable::{ObservableKind, Role};
use crate::reject::Reject;
use crate::timefmt;

/// Parses one Wazuh alert.
///
/// # Errors
/// Malformed JSON, a missing `rule.id`, wrong field types (named).
pub fn parse(record: &[u8], options: &ParseOptions) -> Result<Alert, Reject> {
    let r = JsonRecord::parse(record, options)?;
    let rule_id = r.required_text("rule.id")?;
    let description = r.text("rule.description")?;
    let level = r.u64("rule.level")?.unwrap_or(3);
    let groups = r.strings("rule.groups")?;
    let time = match r.text("timestamp")? {
        Some(t) => {
            timefmt::parse_iso(&t).ok_or_else(|| Reject::invalid("timestamp", format!("{t:?} is not ISO 8601")))?
        }
        None => options.received_at,
    };
    let title =
        description.as_deref().filter(|d| !d.is_empty()).map_or_else(|| format!("Wazuh rule {rule_id}"), str::to_owned);
    let texts: Vec<&str> = groups.iter().map(AsRef::as_ref).chain([title.as_str()]).collect();
    let mut alert = Alert::new(
        Format::Wazuh,
        "wazuh",
        clip(&title, options.max_field_len),
        time,
        classify::or_undetermined(&texts),
    );
    alert.severity = match level {
        0..=2 => Severity::Info,
        3..=6 => Severity::Low,
        7..=9 => Severity::Medium,
        10..=12 => Severity::High,
        _ => Severity::Critical,
    };
    alert.rule = Some(Rule {
        id: Some(rule_id.into_owned()),
        name: description.map(|d| d.into_owned()),
        category: (!groups.is_empty()).then(|| groups.join(",")),
    });
    alert.tags = groups.iter().map(|g| g.to_string()).collect();
    alert.source_ref = r.text("id")?.map(|s| s.into_owned());
    alert.host = r.text("agent.name")?.map(|s| s.into_owned());
    alert.description = r.text("full_log")?.map(|s| clip(&s, options.max_field_len).to_owned());
    for t in r.strings("rule.mitre.id")? {
        alert.add_technique(&t, "rule.mitre.id");
    }
    if let Some(ip) = r.text("agent.ip")? {
        alert.observe_ip(&ip, None, "agent.ip");
    }
    let ips = [
        ("data.srcip", Role::Source),
        ("data.src_ip", Role::Source),
        ("data.win.eventdata.sourceIp", Role::Source),
        ("data.dstip", Role::Destination),
        ("data.dst_ip", Role::Destination),
        ("data.win.eventdata.destinationIp", Role::Destination),
    ];
    for (path, role) in ips {
        if let Some(ip) = r.text(path)? {
            alert.observe_ip(&ip, Some(role), path);
        }
    }
    let others = [
        ("data.srcuser", ObservableKind::UserAccount, Some(Role::Source)),
        ("data.dstuser", ObservableKind::UserAccount, Some(Role::Destination)),
        ("data.win.eventdata.targetUserName", ObservableKind::UserAccount, Some(Role::Destination)),
        ("data.win.eventdata.user", ObservableKind::UserAccount, None),
        ("data.url", ObservableKind::Url, None),
        ("data.win.eventdata.hashes", ObservableKind::Sha256, None),
        ("syscheck.md5_after", ObservableKind::Md5, None),
        ("syscheck.sha1_after", ObservableKind::Sha1, None),
        ("syscheck.sha256_after", ObservableKind::Sha256, None),
    ];
    for (path, kind, role) in others {
        if let Some(v) = r.text(path)? {
            if path.ends_with("hashes") {
                // Sysmon: "SHA1=…,MD5=…,SHA256=…,IMPHASH=…"
                for part in v.split(',') {
                    if let Some((algo, h)) = part.split_once('=') {
                        let kind = match algo.trim() {
                            "MD5" => ObservableKind::Md5,
                            "SHA1" => ObservableKind::Sha1,
                            "SHA256" => ObservableKind::Sha256,
                            _ => continue,
                        };
                        alert.observe(kind, h, None, path);
                    }
                }
            } else {
                alert.observe(kind, &v, role, path);
            }
        }
    }
    if let Some(p) = r.text("syscheck.path")? {
        let name = p.rsplit(['/', '\\']).next().unwrap_or(&p);
        alert.observe(ObservableKind::FileName, name, None, "syscheck.path");
        alert.extra.insert("syscheck.path".into(), p.as_ref().into());
    }
    alert.network = Network {
        source_port: port(&r, "data.srcport")?,
        destination_port: port(&r, "data.dstport")?,
        transport: r.text("data.protocol")?.map(|p| p.to_ascii_lowercase()),
        application: None,
    };
    for path in ["location", "decoder.name", "agent.id", "manager.name"] {
        if let Some(v) = r.text(path)? {
            alert.extra.insert(path.into(), v.as_ref().into());
        }
    }
    options.apply_markings(&mut alert);
    alert.original = record.to_vec();
    Ok(alert.seal(&[]))
}

fn port(r: &JsonRecord, path: &str) -> Result<Option<u16>, Reject> {
    match r.u64(path)? {
        None => Ok(None),
        Some(p) => u16::try_from(p).map(Some).map_err(|_| Reject::invalid(path, format!("{p} is not a port"))),
    }
}
