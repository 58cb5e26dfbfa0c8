//! Shadowserver CSV reports, mapped as IntelMQ's Shadowserver parser maps
//! them: each row becomes an IntelMQ event (`source.ip`, `source.port`,
//! `source.asn`, `source.geolocation.cc`, `extra.*` …, with the report's
//! `classification.*` and `feed.name`), which is then imported as an alert.
//! The report type comes from the file name, as in IntelMQ.

use serde_json::Value;

use super::shadowserver_reports::{self, ReportType};
use super::{ParseOptions, clip};
use crate::alert::{Alert, Format};
use crate::intelmq::{self, Event};
use crate::reject::{Reject, RejectKind};

pub use super::shadowserver_reports::REPORTS;

/// A report being read: its type and the header row.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: &'static ReportType,
    header: Vec<String>,
}

impl Report {
    /// Prepares to read rows of the report named by `file_name` with this header row.
    ///
    /// # Errors
    /// When the file name names no known report, or the header lacks `timestamp`.
    pub fn new(file_name: &str, header: &[&str]) -> Result<Self, Reject> {
        let kind = shadowserver_reports::find(file_name).ok_or_else(|| {
            Reject::invalid("file_name", format!("{file_name:?} names no known Shadowserver report (e.g. scan_redis)"))
        })?;
        let header: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
        if !header.iter().any(|h| h == "timestamp") {
            return Err(Reject::missing("timestamp").at_line(1));
        }
        Ok(Self { kind, header })
    }

    /// Maps one row to an IntelMQ event.
    ///
    /// # Errors
    /// When the row has more columns than the header, or lacks a time or an
    /// address. Missing trailing columns are read as empty, as IntelMQ's
    /// CSV reader does (real reports have such rows).
    pub fn event(&self, row: &[&str], options: &ParseOptions) -> Result<Event, Reject> {
        if row.len() > self.header.len() {
            return Err(Reject::syntax(format!("{} columns where the header has {}", row.len(), self.header.len())));
        }
        let mut e = Event::new();
        let k = self.kind;
        e.insert("feed.name".into(), k.feed_name.into());
        e.insert("classification.identifier".into(), k.identifier.into());
        e.insert("classification.type".into(), k.rsit_type.into());
        if let Ok(t) = muster_core::taxonomy::RsitType::parse(k.rsit_type) {
            e.insert("classification.taxonomy".into(), t.class().as_str().into());
        }
        let mut url_host = None;
        let mut url_path = None;
        for (col, raw) in self.header.iter().zip(row) {
            let v = clip(raw.trim(), options.max_field_len);
            if v.is_empty() {
                continue;
            }
            if col == "http_host" {
                url_host = Some(v);
            }
            if col == "http_url" || (col == "url" && !v.contains("://")) {
                url_path = Some(v);
                continue;
            }
            match (self.kind.file, col.as_str()) {
                ("sandbox_dns", "request") => {
                    e.insert("destination.fqdn".into(), v.into());
                }
                ("sandbox_dns", "response") if v.parse::<std::net::IpAddr>().is_ok() => {
                    e.insert("destination.ip".into(), v.into());
                }
                (_, "ip" | "src_ip") if v.contains('/') => {
                    // IntelMQ: a network in the ip column is source.network.
                    e.insert("source.network".into(), v.into());
                }
                _ => map_column(&mut e, col, v),
            }
        }
        // IntelMQ applies a report's constant fields last, over any column.
        if let Some(app) = k.application {
            e.insert("protocol.application".into(), app.into());
        }
        if let Some(transport) = k.transport {
            e.insert("protocol.transport".into(), transport.into());
        }
        match (url_host, url_path) {
            (Some(host), Some(path)) => {
                // IntelMQ's convert_http_host_and_url: host + path, request line stripped.
                let path = path.trim_start_matches(|c| c != '/');
                let path = path.split_whitespace().next().unwrap_or("");
                let field = if self.kind.file.starts_with("event") { "destination.url" } else { "source.url" };
                e.insert(field.into(), format!("http://{host}{path}").into());
            }
            (None, Some(path)) => {
                e.insert("extra.url".into(), path.into());
            }
            _ => {}
        }
        if !e.contains_key("time.source") {
            return Err(Reject::missing("timestamp"));
        }
        let identifying = [
            "source.ip",
            "destination.ip",
            "source.network",
            "source.url",
            "source.fqdn",
            "destination.fqdn",
            "malware.hash.md5",
            "malware.hash.sha256",
        ];
        if !identifying.iter().any(|k| e.contains_key(*k)) {
            return Err(Reject::new(RejectKind::MissingField).at_field("ip"));
        }
        Ok(e)
    }

    /// Maps one row to an alert.
    ///
    /// # Errors
    /// As [`Report::event`], plus invalid values found while importing.
    pub fn parse_row(&self, row: &[&str], options: &ParseOptions) -> Result<Alert, Reject> {
        let e = self.event(row, options)?;
        let mut alert = intelmq::import_owned(e, Format::Shadowserver, options)?;
        alert.extra.insert("report".into(), self.kind.file.into());
        alert.original = row.join(",").into_bytes();
        Ok(alert)
    }
}

/// Harmonisation fields for the columns IntelMQ maps by name; everything
/// else becomes `extra.<column>`.
fn map_column(e: &mut Event, col: &str, v: &str) {
    let int = |v: &str| v.parse::<u64>().ok();
    let direct: Option<&str> = match col {
        "timestamp" => {
            // Shadowserver times are UTC without a zone.
            let t = crate::timefmt::parse_iso(v).map(crate::timefmt::format_rfc3339);
            e.insert("time.source".into(), t.unwrap_or_else(|| v.to_owned()).into());
            return;
        }
        "ip" | "src_ip" | "http_referer_ip" => Some("source.ip"),
        "hostname" | "src_hostname" | "http_referer_hostname" => Some("source.reverse_dns"),
        "geo" | "src_geo" | "http_referer_geo" => Some("source.geolocation.cc"),
        "region" | "src_region" | "http_referer_region" => Some("source.geolocation.region"),
        "city" | "src_city" | "http_referer_city" => Some("source.geolocation.city"),
        "dst_ip" => Some("destination.ip"),
        "dst_hostname" => Some("destination.reverse_dns"),
        "dst_geo" => Some("destination.geolocation.cc"),
        "dst_region" => Some("destination.geolocation.region"),
        "dst_city" => Some("destination.geolocation.city"),
        "protocol" => Some("protocol.transport"),
        "application" => Some("protocol.application"),
        "infection" => Some("malware.name"),
        "http_agent" | "user_agent" => Some("user_agent"),
        "md5" | "md5hash" => Some("malware.hash.md5"),
        "sha256" => Some("malware.hash.sha256"),
        "network" => Some("source.network"),
        "dns_host_name" => Some("source.local_hostname"),
        _ => None,
    };
    if let Some(field) = direct {
        let v = if field == "protocol.transport" || field == "protocol.application" {
            v.to_ascii_lowercase()
        } else {
            v.to_owned()
        };
        e.insert(field.into(), v.into());
        return;
    }
    let numeric: Option<&str> = match col {
        "port" | "src_port" | "http_referer_port" => Some("source.port"),
        "dst_port" => Some("destination.port"),
        "asn" | "src_asn" | "http_referer_asn" => Some("source.asn"),
        "dst_asn" => Some("destination.asn"),
        "naics" | "src_naics" | "http_referer_naics" => Some("extra.source.naics"),
        "sic" => Some("extra.source.sic"),
        "dst_naics" => Some("extra.destination.naics"),
        _ => None,
    };
    if let Some(field) = numeric {
        // IntelMQ's invalidate_zero: 0 means unknown.
        match int(v) {
            Some(0) => {}
            Some(n) => {
                e.insert(field.into(), n.into());
            }
            None => {
                e.insert(format!("extra.{col}"), v.into());
            }
        }
        return;
    }
    match col {
        "sector" | "src_sector" => {
            e.insert("extra.source.sector".into(), v.into());
        }
        "dst_sector" => {
            e.insert("extra.destination.sector".into(), v.into());
        }
        "url" if !e.contains_key("source.url") && (v.contains("://") || col == "url") => {
            let full = if v.contains("://") { v.to_owned() } else { format!("http://{v}") };
            e.insert("source.url".into(), full.into());
        }
        // IntelMQ's validate_fqdn drops addresses in the host column.
        "host" if v.parse::<std::net::IpAddr>().is_err() => {
            e.insert("source.fqdn".into(), v.into());
        }
        "host" => {}
        _ => {
            let value = match int(v) {
                Some(n) if !v.starts_with('0') || v == "0" => Value::from(n),
                _ => Value::from(v),
            };
            e.insert(format!("extra.{col}"), value);
        }
    }
}

/// Reads a whole report (`file_name` names its type) into per-row results,
/// with 1-based line numbers of each row's first line.
///
/// # Errors
/// Per row; the outer error is for an unknown report or an unreadable header.
pub fn parse_report(
    file_name: &str,
    data: &[u8],
    options: &ParseOptions,
) -> Result<Vec<(u64, Result<Alert, Reject>)>, Reject> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(Reject::syntax(e.to_string()).at_line(1)),
        None => return Err(Reject::syntax("empty report").at_line(1)),
    };
    let header: Vec<&str> = header.iter().map(|f| std::str::from_utf8(f).unwrap_or("")).collect();
    let report = Report::new(file_name, &header)?;
    let mut out = Vec::new();
    for rec in records {
        match rec {
            Ok(rec) => {
                let line = rec.position().map_or(0, csv::Position::line);
                let row: Result<Vec<&str>, Reject> = rec
                    .iter()
                    .map(|f| {
                        std::str::from_utf8(f)
                            .map_err(|e| Reject::new(RejectKind::InvalidUtf8 { offset: e.valid_up_to() }))
                    })
                    .collect();
                let result = row.and_then(|row| report.parse_row(&row, options)).map_err(|e| e.at_line(line));
                out.push((line, result));
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                out.push((line, Err(Reject::syntax(e.to_string()).at_line(line))));
            }
        }
    }
    Ok(out)
}
