//! Shadowserver CSV reports, mapped as IntelMQ's Shadowserver parser (3.2.1)
//! maps them: each row becomes an IntelMQ event (`source.ip`, `source.port`,
//! `source.asn`, `source.geolocation.cc`, `extra.*` …, with the report's
//! constant `classification.*`, `protocol.*` and `feed.name`), which is then
//! imported as an alert. The report type comes from the file name, as in
//! IntelMQ; its columns are mapped by the per-report table in
//! [`shadowserver_reports`](super::shadowserver_reports).
//!
//! The rules IntelMQ applies, which the mapping follows:
//! * mapped columns are converted ([`Conversion`]); a conversion that yields
//!   nothing drops the column; a number that does not parse fails the row;
//! * a value for a harmonisation field is sanitised and checked for that
//!   field ([`Kind`]); `""`, `-` and `N/A` are dropped; an invalid value of an
//!   optional column is kept as `extra.<column>` (the raw text), of a required
//!   column fails the row;
//! * every column no mapping consumed lands in `extra.<column>` as text;
//! * constant fields go on last, over any column's value.

use std::borrow::Cow;

use serde_json::Value;

use super::shadowserver_reports::{self as reports};
pub use super::shadowserver_reports::{Conversion, Field, Kind, Mapping, REPORTS, ReportType, Target, find};
use super::shadowserver_values::{
    Clean, Val, base64, is_base64, is_ignored, parse_http_date, py_int, sanitize, sanitize_fqdn, sanitize_ip,
    sanitize_network,
};
use super::{ParseOptions, clip};
use crate::alert::{Alert, Format};
use crate::intelmq::{self, Event, Fields, Known};
use crate::reject::{Reject, RejectKind};

/// A report being read: its type, the header row and, per mapping, the
/// header column it reads.
///
/// Every field name a row of the report can have is known from the header
/// and the report type, so it is worked out once here: the names sorted (the
/// order of the event and of the alert's extras), and for each thing that
/// writes a field, its slot in that order. A row's fields are then values in
/// slots: no per-row names, sorting or look-ups by name.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: &'static ReportType,
    header: Vec<String>,
    /// Every field name a row can have, sorted, each once.
    keys: Vec<Cow<'static, str>>,
    /// Per slot: whether importing consumes the field ([`intelmq::consumed`]).
    consumed: Vec<bool>,
    /// Slot of each field the import reads ([`Known`], by `as usize`), when a row can have it.
    known: Vec<Option<usize>>,
    feed_slot: usize,
    /// Slot of the alert's `report` extra (the report type; alerts only, not events).
    report_slot: usize,
    /// The report type's constant fields: slot and value (sanitised once here).
    constants: Vec<(Field, usize, Value)>,
    /// Slot of `extra.<column>` for each header column.
    extra_slots: Vec<usize>,
    /// Header index of each required and optional mapping present, and the
    /// slot it writes.
    required: Vec<Column>,
    optional: Vec<Column>,
    /// Columns `HttpHostAndUrl` reads.
    cc_dns: Option<usize>,
    http_host: Option<usize>,
    url: Option<usize>,
    http_url: Option<usize>,
    application: Option<usize>,
}

/// A mapping bound to its header column and to the slot it writes.
#[derive(Debug, Clone)]
struct Column {
    index: usize,
    mapping: &'static Mapping,
    slot: usize,
}

/// The field a mapping writes, if any.
const fn target_key(target: Target) -> Option<&'static str> {
    match target {
        Target::Field(f) => Some(f.name()),
        Target::Extra(key) | Target::NotHarmonised(key) => Some(key),
        Target::Ignore => None,
    }
}

/// Why a value was not added.
enum AddError {
    Invalid,
    Exists,
}

impl Report {
    /// Prepares to read rows of the report named by `file_name` with this header row.
    ///
    /// # Errors
    /// When the file name names no known report, or the header lacks a column
    /// the report requires (e.g. `timestamp`).
    pub fn new(file_name: &str, header: &[&str]) -> Result<Self, Reject> {
        let kind = reports::find(file_name).ok_or_else(|| {
            Reject::invalid("file_name", format!("{file_name:?} names no known Shadowserver report (e.g. scan_redis)"))
        })?;
        let header: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
        // A duplicated column name reads its last occurrence, as a CSV dict reader does.
        let index = |name: &str| header.iter().rposition(|h| h == name);
        if index("timestamp").is_none() {
            return Err(Reject::missing("timestamp").at_line(1));
        }
        let mut keys: Vec<Cow<'static, str>> = vec![Cow::Borrowed("feed.name"), Cow::Borrowed("report")];
        keys.extend(kind.required.iter().chain(kind.optional).filter_map(|m| target_key(m.target)).map(Cow::Borrowed));
        keys.extend(kind.constants.iter().map(|(f, _)| Cow::Borrowed(f.name())));
        keys.extend(header.iter().map(|h| Cow::Owned(format!("extra.{h}"))));
        // A mapped `extra.*` name is also its column's `extra.<column>`: keep
        // the borrowed one (sorted first), so that no row allocates its name.
        keys.sort_unstable_by(|a, b| a.cmp(b).then(matches!(a, Cow::Owned(_)).cmp(&matches!(b, Cow::Owned(_)))));
        keys.dedup();
        // Every name looked up here was put in above.
        let slot_of = |name: &str| keys.binary_search_by(|k| k.as_ref().cmp(name)).ok();
        let slot = |name: &str| slot_of(name).unwrap_or(0);
        let column = |index: usize, mapping: &'static Mapping| Column {
            index,
            mapping,
            slot: target_key(mapping.target).map_or(0, slot),
        };
        let mut required = Vec::with_capacity(kind.required.len());
        for m in kind.required {
            let i = index(m.column).ok_or_else(|| Reject::missing(m.column).at_line(1))?;
            required.push(column(i, m));
        }
        let optional = kind.optional.iter().filter_map(|m| Some(column(index(m.column)?, m))).collect();
        let known = Known::ALL.iter().map(|k| slot_of(k.name())).collect();
        let feed_slot = slot("feed.name");
        let report_slot = slot("report");
        let constants = kind
            .constants
            .iter()
            .map(|(f, v)| {
                // IntelMQ sets a constant as it is when valid, else sanitised (`CouchDB` → `couchdb`).
                let value = sanitize(f.kind(), &Val::Str((*v).into())).map_or_else(|| (*v).into(), Clean::into_value);
                (*f, slot(f.name()), value)
            })
            .collect();
        let extra_slots = header.iter().map(|h| slot(&format!("extra.{h}"))).collect();
        Ok(Self {
            kind,
            consumed: keys.iter().map(|k| intelmq::consumed(k)).collect(),
            known,
            feed_slot,
            report_slot,
            constants,
            extra_slots,
            keys,
            required,
            optional,
            cc_dns: index("cc_dns"),
            http_host: index("http_host"),
            url: index("url"),
            http_url: index("http_url"),
            application: index("application"),
            header,
        })
    }

    fn convert<'a>(&self, m: &Mapping, raw: &'a str, row: &[&'a str]) -> Result<Option<Val<'a>>, Reject> {
        use Conversion as C;
        let bad_number = || Reject::invalid(m.column, format!("{raw:?} is not a number"));
        Ok(match m.conversion {
            C::Plain => Some(Val::Str(raw.into())),
            C::TimeUtc => Some(match crate::timefmt::parse_iso(raw) {
                Some(t) => Val::Time(t),
                None => Val::Str(raw.into()),
            }),
            // ASCII case folding is Unicode lower-casing here: no other character lower-cases into these words.
            C::Bool => {
                let is = |words: &[&str]| words.iter().any(|w| raw.eq_ignore_ascii_case(w));
                if is(&["y", "yes", "true", "enabled", "1"]) {
                    Some(Val::Bool(true))
                } else if is(&["n", "no", "false", "disabled", "0"]) {
                    Some(Val::Bool(false))
                } else {
                    None
                }
            }
            C::NoneIfUnknown => (!matches!(raw, "" | "0" | "unknown")).then(|| Val::Str(raw.into())),
            C::Int if raw.is_empty() => None,
            C::Int => Some(Val::Int(py_int(raw).ok_or_else(bad_number)?)),
            C::Float if raw.is_empty() => None,
            C::Float => Some(Val::Float(raw.trim().parse::<f64>().map_err(|_| bad_number())?)),
            C::NonZeroInt if raw.is_empty() => None,
            C::NonZeroInt => Some(py_int(raw).ok_or_else(bad_number)?).filter(|n| *n != 0).map(Val::Int),
            C::TorNode => (!raw.is_empty()).then_some(Val::Bool(true)),
            C::ValidIp => {
                (raw != "0.0.0.0" && !raw.contains('/') && sanitize_ip(raw).is_some()).then(|| Val::Str(raw.into()))
            }
            C::ValidNetwork => (raw.contains('/') && sanitize_network(raw).is_some()).then(|| Val::Str(raw.into())),
            C::ValidFqdn => (!raw.is_empty() && sanitize_fqdn(raw).is_some()).then(|| Val::Str(raw.into())),
            C::Date | C::DateUtc => crate::timefmt::parse_iso(raw).or_else(|| parse_http_date(raw)).map(Val::Time),
            C::Base64 if raw.is_empty() => None,
            C::Base64 if is_base64(raw) => Some(Val::Str(raw.into())),
            C::Base64 => Some(Val::Str(base64(raw.as_bytes()).into())),
            C::ExchangeTaxonomy => {
                Some(Val::Str(if raw == "exchange;webshell" { "intrusions" } else { "vulnerable" }.into()))
            }
            C::ExchangeType => {
                Some(Val::Str(if raw == "exchange;webshell" { "system-compromise" } else { "infected-system" }.into()))
            }
            C::ExchangeIdentifier => Some(Val::Str(
                if raw == "exchange;webshell" { "exchange-server-webshell" } else { "vulnerable-exchange-server" }
                    .into(),
            )),
            C::HttpHostAndUrl => {
                let get = |i: Option<usize>| i.and_then(|i| row.get(i).copied());
                let host = if self.cc_dns.is_some() { get(self.cc_dns) } else { get(self.http_host) }.unwrap_or("");
                let path = if self.url.is_some() { get(self.url) } else { get(self.http_url) }.unwrap_or("");
                if host.is_empty() || path.is_empty() {
                    Some(Val::Str(raw.into()))
                } else {
                    // Request line stripped: from the first '/' up to the first blank.
                    let path = path.find('/').map_or("", |i| &path[i..]);
                    let path = path.find(char::is_whitespace).map_or(path, |i| &path[..i]);
                    let scheme = get(self.application).filter(|a| matches!(*a, "http" | "https")).unwrap_or("http");
                    Some(Val::Str(format!("{scheme}://{host}{path}").into()))
                }
            }
        })
    }

    /// Maps one row to an IntelMQ event.
    ///
    /// # Errors
    /// When the row has more columns than the header, a number column does
    /// not parse, a required column is invalid, or the row has no time or no
    /// address. Missing trailing columns are read as absent, as IntelMQ's CSV
    /// reader does (real reports have such rows).
    pub fn event(&self, row: &[&str], options: &ParseOptions) -> Result<Event, Reject> {
        let mut slots = Slots::default();
        self.fields(row, options, &mut slots)?;
        let values = slots.values.into_iter().zip(slots.present);
        Ok(self
            .keys
            .iter()
            .zip(values)
            .filter(|(_, (_, present))| *present)
            .map(|(k, (v, _))| (k.to_string(), v))
            .collect())
    }

    /// The event's fields, into `slots` (one per [`Report::keys`]), and
    /// which harmonisation fields are among them.
    fn fields(&self, row: &[&str], options: &ParseOptions, slots: &mut Slots) -> Result<u64, Reject> {
        if row.len() > self.header.len() {
            return Err(Reject::syntax(format!("{} columns where the header has {}", row.len(), self.header.len())));
        }
        let clipped: Vec<&str>;
        let row = if row.iter().any(|v| v.len() > options.max_field_len) {
            clipped = row.iter().map(|v| clip(v, options.max_field_len)).collect();
            &clipped[..]
        } else {
            row
        };
        slots.reset(self.keys.len());
        let mut e = Building { slots, consumed: &self.consumed, set: 0 };
        let k = self.kind;
        e.put(self.feed_slot, k.feed_name.into());
        // Columns not yet consumed by a mapping (IntelMQ's `fields`); on the
        // stack for the usual header widths. Extra values go straight into the
        // event: a later one for the same key wins, as in IntelMQ's dict.
        let (mut small, mut big) = ([true; 128], Vec::new());
        let unused: &mut [bool] = if self.header.len() <= small.len() {
            &mut small[..self.header.len()]
        } else {
            big.resize(self.header.len(), true);
            &mut big
        };
        for c in &self.required {
            let (i, m) = (c.index, c.mapping);
            unused[i] = true;
            let Some(raw) = row.get(i).copied() else { continue };
            let Some(v) = self.convert(m, raw, row)? else { continue };
            match m.target {
                Target::Field(f) => match e.add(f, c.slot, v) {
                    Ok(()) => {}
                    Err(AddError::Invalid) => {
                        return Err(Reject::invalid(m.column, format!("{raw:?} is not a valid {}", f.name())));
                    }
                    Err(AddError::Exists) => return Err(Reject::invalid(f.name(), "set by two columns")),
                },
                Target::Extra(_) | Target::NotHarmonised(_) => e.put(c.slot, v.into_json()),
                Target::Ignore => {}
            }
            unused[i] = false;
        }
        for c in &self.optional {
            let (i, m) = (c.index, c.mapping);
            unused[i] = false;
            let Some(raw) = row.get(i).copied() else { continue };
            let Some(v) = self.convert(m, raw, row)? else { continue };
            match m.target {
                Target::Field(f) => match e.add(f, c.slot, v) {
                    Ok(()) => {}
                    // Kept: the raw text lands in extra.<column>.
                    Err(AddError::Invalid) => unused[i] = true,
                    Err(AddError::Exists) => return Err(Reject::invalid(f.name(), "set by two columns")),
                },
                Target::NotHarmonised(_) if is_ignored(&v) => {}
                Target::Extra(_) | Target::NotHarmonised(_) => e.put(c.slot, v.into_json()),
                Target::Ignore => {}
            }
        }
        for (f, slot, value) in &self.constants {
            match value {
                Value::String(s) => e.set(*f, *slot, Clean::Text(Cow::Borrowed(s))),
                other => e.set(*f, *slot, Clean::Json(other.clone())),
            }
        }
        for (i, used) in unused.iter().enumerate() {
            if *used && let Some(raw) = row.get(i).filter(|r| !r.is_empty()) {
                e.put(self.extra_slots[i], (*raw).into());
            }
        }
        if !e.has(Field::TimeSource) {
            return Err(Reject::missing("timestamp"));
        }
        Ok(e.set)
    }

    /// Maps one row to an alert.
    ///
    /// # Errors
    /// As [`Report::event`], plus rows without an address (IntelMQ keeps
    /// those; an alert needs one) and invalid values found while importing.
    pub fn parse_row(&self, row: &[&str], options: &ParseOptions) -> Result<Alert, Reject> {
        self.parse_row_in(row, options, &mut Slots::default())
    }

    /// As [`Report::parse_row`], with `slots` reused from row to row.
    fn parse_row_in(&self, row: &[&str], options: &ParseOptions, slots: &mut Slots) -> Result<Alert, Reject> {
        let set = self.fields(row, options, slots)?;
        let identifying = [
            Field::SourceIp,
            Field::DestinationIp,
            Field::SourceNetwork,
            Field::SourceUrl,
            Field::DestinationUrl,
            Field::SourceFqdn,
            Field::DestinationFqdn,
            Field::SourceReverseDns,
            Field::DestinationReverseDns,
            Field::MalwareHashMd5,
            Field::MalwareHashSha256,
        ];
        if !identifying.iter().any(|f| set & Building::bit(*f) != 0) {
            return Err(Reject::new(RejectKind::MissingField).at_field("ip"));
        }
        // In the extras from the start: one map built at once, not an insert after.
        slots.put(self.report_slot, self.kind.file.into());
        let mut alert = intelmq::import_fields(Row { report: self, slots }, Format::Shadowserver, options)?;
        alert.original = row.join(",").into_bytes();
        Ok(alert)
    }
}

/// A row's field values, one slot per [`Report::keys`], kept from row to
/// row: a slot the import only reads keeps its string, which the next row
/// overwrites instead of allocating another.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    values: Vec<Value>,
    /// Whether the slot has a value in this row (else `values` holds an earlier row's).
    present: Vec<bool>,
}

impl Slots {
    fn reset(&mut self, n: usize) {
        if self.values.len() != n {
            self.values.clear();
            self.values.resize(n, Value::Null);
        }
        self.present.clear();
        self.present.resize(n, false);
    }

    fn get(&self, slot: usize) -> Option<&Value> {
        self.present[slot].then(|| &self.values[slot])
    }

    fn take(&mut self, slot: usize) -> Option<Value> {
        std::mem::replace(&mut self.present[slot], false).then(|| std::mem::take(&mut self.values[slot]))
    }

    fn put(&mut self, slot: usize, value: Value) {
        self.values[slot] = value;
        self.present[slot] = true;
    }
}

/// A row's fields as the import reads them: values in the report's slots.
struct Row<'r> {
    report: &'r Report,
    slots: &'r mut Slots,
}

impl Fields for Row<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        let i = self.report.keys.binary_search_by(|k| k.as_ref().cmp(key)).ok()?;
        self.slots.get(i)
    }

    fn known(&self, k: Known) -> Option<&Value> {
        self.slots.get(self.report.known[k as usize]?)
    }

    fn take_known(&mut self, k: Known) -> Option<Value> {
        self.slots.take(self.report.known[k as usize]?)
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        let values = self.slots.values.iter().zip(&self.slots.present);
        self.report.keys.iter().zip(values).filter_map(|(k, (v, p))| p.then_some((k.as_ref(), v)))
    }

    fn into_extras(self) -> std::collections::BTreeMap<Cow<'static, str>, Value> {
        let Slots { values, present } = self.slots;
        let slots = self.report.keys.iter().zip(&self.report.consumed).zip(values.iter_mut().zip(present.iter_mut()));
        slots
            .filter(|((_, consumed), (v, p))| **p && !**consumed && !v.is_null())
            .map(|((k, _), (v, p))| {
                *p = false;
                (k.clone(), std::mem::take(v))
            })
            .collect()
    }
}

/// An event being built: values in the report's slots (a later value for a
/// slot wins, as in IntelMQ's dict), and which harmonisation fields are set.
struct Building<'v> {
    slots: &'v mut Slots,
    /// Per slot: whether the import consumes the field (only reads it).
    consumed: &'v [bool],
    set: u64,
}

impl Building<'_> {
    const fn bit(f: Field) -> u64 {
        1 << (f as u64)
    }

    fn put(&mut self, slot: usize, value: Value) {
        self.slots.put(slot, value);
    }

    /// Puts a sanitised value. A field the import only reads has its text
    /// written over the string an earlier row left in the slot.
    fn put_clean(&mut self, slot: usize, c: Clean<'_>) {
        if self.consumed[slot]
            && let Value::String(buf) = &mut self.slots.values[slot]
        {
            buf.clear();
            if c.write_text(buf) {
                self.slots.present[slot] = true;
                return;
            }
        }
        self.put(slot, c.into_value());
    }

    fn has(&self, f: Field) -> bool {
        self.set & Self::bit(f) != 0
    }

    /// Adds a value to a harmonisation field, sanitised and checked as IntelMQ does.
    fn add(&mut self, f: Field, slot: usize, v: Val) -> Result<(), AddError> {
        if is_ignored(&v) {
            return Ok(());
        }
        if self.has(f) {
            return Err(AddError::Exists);
        }
        let clean = sanitize(f.kind(), &v).ok_or(AddError::Invalid)?;
        self.put_clean(slot, clean);
        self.set |= Self::bit(f);
        Ok(())
    }

    /// Sets a field over any value it has.
    fn set(&mut self, f: Field, slot: usize, value: Clean<'_>) {
        self.put_clean(slot, value);
        self.set |= Self::bit(f);
    }
}

/// An emptied vector of another lifetime, keeping its allocation (collected
/// in place: same element layout).
fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter().map(|_| "").collect()
}

/// One data row's line number and its alert or rejection.
pub type RowResult = (u64, Result<Alert, Reject>);

/// Reads a whole report (`file_name` names its type) into per-row results,
/// with 1-based line numbers of each row's first line.
///
/// # Errors
/// Per row; the outer error is for an unknown report or an unreadable header.
pub fn parse_report(file_name: &str, data: &[u8], options: &ParseOptions) -> Result<Vec<RowResult>, Reject> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
    // One record buffer for the whole report.
    let mut rec = csv::ByteRecord::new();
    match reader.read_byte_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => return Err(Reject::syntax("empty report").at_line(1)),
        Err(e) => return Err(Reject::syntax(e.to_string()).at_line(1)),
    }
    let header: Vec<&str> = rec.iter().map(|f| std::str::from_utf8(f).unwrap_or("")).collect();
    let report = Report::new(file_name, &header)?;
    // About one row per line: sized once, not regrown (alerts are large).
    let mut out = Vec::with_capacity(data.iter().filter(|b| **b == b'\n').count() + 1);
    // The row's fields, one buffer for all rows (emptied and handed back each time).
    let mut spare: Vec<&str> = Vec::new();
    // The row's field slots, likewise.
    let mut slots = Slots::default();
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec.position().map_or(0, csv::Position::line);
                let mut row = recycle(std::mem::take(&mut spare));
                let result = match std::str::from_utf8(rec.as_slice()) {
                    // Valid as a whole: fields are slices of it (cut at ASCII delimiters).
                    Ok(all) => {
                        row.extend((0..rec.len()).map(|i| rec.range(i).and_then(|r| all.get(r)).unwrap_or("")));
                        Ok(())
                    }
                    Err(_) => rec.iter().try_for_each(|f| {
                        row.push(
                            std::str::from_utf8(f)
                                .map_err(|e| Reject::new(RejectKind::InvalidUtf8 { offset: e.valid_up_to() }))?,
                        );
                        Ok(())
                    }),
                };
                let result =
                    result.and_then(|()| report.parse_row_in(&row, options, &mut slots)).map_err(|e| e.at_line(line));
                out.push((line, result));
                spare = recycle(row);
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                out.push((line, Err(Reject::syntax(e.to_string()).at_line(line))));
            }
        }
    }
    Ok(out)
}
