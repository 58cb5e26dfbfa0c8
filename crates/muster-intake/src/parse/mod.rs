//! One parser per source format, each `parse(record, options) -> Result<Alert, Reject>`,
//! plus format auto-detection and the shared helpers they use.

pub mod cef;
pub mod ecs;
pub mod leef;
pub mod shadowserver;
pub mod suricata;
pub mod thehive;
pub mod wazuh;

mod classify;
pub(crate) mod json;
mod kv;
mod shadowserver_reports;
mod shadowserver_table;
mod shadowserver_values;

use std::collections::BTreeSet;

use muster_core::{Pap, Tlp};
use time::OffsetDateTime;

use crate::alert::{Alert, Format};
use crate::reject::{Reject, RejectKind};

/// Knobs every parser shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// When the record arrived; the alert time when the record has none.
    pub received_at: OffsetDateTime,
    /// Marking forced on every alert; `None` keeps the record's own or TLP:AMBER.
    pub tlp: Option<Tlp>,
    /// Likewise for PAP.
    pub pap: Option<Pap>,
    /// Suricata `event_type`s taken in besides `alert` and `anomaly` (e.g. `dns`).
    pub eve_extra_event_types: BTreeSet<String>,
    /// Longest record accepted, in bytes.
    pub max_record_len: usize,
    /// Longest single field value kept, in bytes (longer values are cut with a warning).
    pub max_field_len: usize,
}

impl ParseOptions {
    /// Defaults: 1 MiB records, 64 KiB fields, alerts and anomalies only.
    #[must_use]
    pub fn new(received_at: OffsetDateTime) -> Self {
        Self {
            received_at,
            tlp: None,
            pap: None,
            eve_extra_event_types: BTreeSet::new(),
            max_record_len: 1 << 20,
            max_field_len: 64 << 10,
        }
    }

    pub(crate) fn apply_markings(&self, alert: &mut Alert) {
        if let Some(t) = self.tlp {
            alert.tlp = t;
        }
        if let Some(p) = self.pap {
            alert.pap = p;
        }
    }

    pub(crate) fn year(&self) -> i32 {
        self.received_at.year()
    }
}

/// Checks size and UTF-8 (reporting the byte offset of the first bad byte).
pub(crate) fn text<'a>(record: &'a [u8], options: &ParseOptions) -> Result<&'a str, Reject> {
    if record.len() > options.max_record_len {
        return Err(Reject::too_large(options.max_record_len));
    }
    std::str::from_utf8(record).map_err(|e| Reject::new(RejectKind::InvalidUtf8 { offset: e.valid_up_to() }))
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Guesses the format of one record (a JSON document, a text line or a CSV header).
#[must_use]
pub fn detect(record: &[u8]) -> Option<Format> {
    let start = record.iter().position(|b| !b.is_ascii_whitespace())?;
    let body = &record[start..];
    let has = |needle: &str| memchr::memmem::find(body, needle.as_bytes()).is_some();
    if body.first() == Some(&b'{') {
        if has("\"event_type\"") && (has("\"src_ip\"") || has("\"flow_id\"") || has("\"timestamp\"")) {
            return Some(Format::Eve);
        }
        if has("kibana.alert.rule") || has("\"signal\"") || has("\"kibana\"") {
            return Some(Format::ElasticSecurity);
        }
        if has("\"rule\"") && has("\"agent\"") && (has("\"manager\"") || has("\"decoder\"")) {
            return Some(Format::Wazuh);
        }
        if has("\"classification.taxonomy\"") || has("\"feed.name\"") || has("\"time.observation\"") {
            return Some(Format::Intelmq);
        }
        if has("\"@timestamp\"") || has("\"ecs\"") || has("\"event\"") {
            return Some(Format::Ecs);
        }
        return None;
    }
    let head = &body[..body.len().min(4096)];
    let find = |n: &[u8]| memchr::memmem::find(head, n);
    match (find(b"CEF:"), find(b"LEEF:")) {
        (Some(c), Some(l)) => return Some(if c < l { Format::Cef } else { Format::Leef }),
        (Some(_), None) => return Some(Format::Cef),
        (None, Some(_)) => return Some(Format::Leef),
        (None, None) => {}
    }
    if head.starts_with(b"\"timestamp\",") || head.starts_with(b"timestamp,") {
        return Some(Format::Shadowserver);
    }
    None
}

/// Parses one record in `format`, or the detected format when `None`.
/// Shadowserver rows need their header and report, so go through
/// [`shadowserver::Report`] or [`crate::batch`] for those.
///
/// # Errors
/// A [`Reject`] naming what was wrong and where.
pub fn parse_record(record: &[u8], format: Option<Format>, options: &ParseOptions) -> Result<Alert, Reject> {
    let format = match format.or_else(|| detect(record)) {
        Some(f) => f,
        None => {
            text(record, options)?;
            return Err(Reject::new(RejectKind::UnknownFormat));
        }
    };
    match format {
        Format::Eve => suricata::parse(record, options),
        Format::Wazuh => wazuh::parse(record, options),
        Format::Ecs | Format::ElasticSecurity => ecs::parse(record, options),
        Format::Cef => cef::parse(record, options),
        Format::Leef => leef::parse(record, options),
        Format::Intelmq => crate::intelmq::parse(record, options),
        Format::TheHive => thehive::parse(record, options),
        Format::Shadowserver => Err(Reject::syntax("a Shadowserver row needs its CSV header; send the whole report")),
        Format::Sigma => {
            Err(Reject::syntax("raw events for Sigma detection go to the events intake, not the alert parsers"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_from_its_shape() {
        let cases: &[(&str, Option<Format>)] = &[
            (r#"{"timestamp":"x","event_type":"alert","src_ip":"1.2.3.4"}"#, Some(Format::Eve)),
            (r#"{"rule":{"id":"5712"},"agent":{"id":"000"},"manager":{"name":"m"}}"#, Some(Format::Wazuh)),
            (r#"{"@timestamp":"x","kibana.alert.rule.name":"r"}"#, Some(Format::ElasticSecurity)),
            (r#"{"@timestamp":"x","event":{"kind":"alert"}}"#, Some(Format::Ecs)),
            (r#"{"feed.name":"x","classification.taxonomy":"other"}"#, Some(Format::Intelmq)),
            ("<134>Oct 11 22:14:15 host CEF:0|a|b|1|2|n|5|", Some(Format::Cef)),
            ("LEEF:1.0|a|b|1|e|k=v", Some(Format::Leef)),
            ("\"timestamp\",\"ip\",\"port\"", Some(Format::Shadowserver)),
            ("hello world", None),
            (r#"{"unrelated":1}"#, None),
        ];
        for (input, want) in cases {
            assert_eq!(detect(input.as_bytes()), *want, "{input}");
        }
    }

    #[test]
    fn unknown_format_is_a_clear_rejection() {
        let o = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
        let r = parse_record(b"hello", None, &o).err();
        assert_eq!(r.map(|r| r.kind), Some(RejectKind::UnknownFormat));
        let r = parse_record(b"\xff\xfe", None, &o).err();
        assert_eq!(r.map(|r| r.kind), Some(RejectKind::InvalidUtf8 { offset: 0 }));
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("abc", 10), "abc");
    }
}
