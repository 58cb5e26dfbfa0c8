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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};

use super::shadowserver_reports::{self as reports};
pub use super::shadowserver_reports::{Conversion, Field, Kind, Mapping, REPORTS, ReportType, Target, find};
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

/// A converted value.
#[derive(Debug, Clone)]
enum Val<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Float(f64),
    Time(OffsetDateTime),
}

impl Val<'_> {
    fn into_json(self) -> Value {
        match self {
            Val::Str(s) => Value::String(s.into_owned()),
            Val::Bool(b) => Value::Bool(b),
            Val::Int(n) => Value::from(n),
            Val::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Val::Time(t) => Value::String(python_iso(t)),
        }
    }

    /// The text IntelMQ's generic sanitiser makes of a value (`str(value)`);
    /// `None` for Python-falsy values.
    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Val::Str(s) if s.is_empty() => None,
            Val::Str(s) => Some(Cow::Borrowed(s.trim())),
            Val::Bool(false) | Val::Int(0) => None,
            Val::Float(f) if *f == 0.0 => None,
            Val::Bool(true) => Some("True".into()),
            Val::Int(n) => Some(n.to_string().into()),
            Val::Float(f) => Some(format!("{f:?}").into()),
            Val::Time(t) => Some(python_iso(*t).into()),
        }
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

/// IntelMQ drops these values instead of adding them.
fn is_ignored(v: &Val) -> bool {
    matches!(v, Val::Str(s) if matches!(s.as_ref(), "" | "-" | "N/A"))
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

fn printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// A sanitised value: text borrowed where it can be, written out only when
/// it is stored (see [`Building::put_clean`]).
enum Clean<'v> {
    Text(Cow<'v, str>),
    Json(Value),
    Time(OffsetDateTime),
    Ip(IpAddr),
}

impl Clean<'_> {
    fn into_value(self) -> Value {
        match self {
            Clean::Text(s) => Value::String(s.into_owned()),
            Clean::Json(v) => v,
            Clean::Time(t) => Value::String(python_iso(t)),
            Clean::Ip(ip) => Value::String(ip.to_string()),
        }
    }

    /// Writes the text into `out`; `false` (and nothing written) for a JSON value.
    fn write_text(&self, out: &mut String) -> bool {
        match self {
            Clean::Text(s) => out.push_str(s),
            Clean::Time(t) => push_python_iso(out, *t),
            Clean::Ip(ip) => {
                use std::fmt::Write as _;
                let _ = write!(out, "{ip}");
            }
            Clean::Json(_) => return false,
        }
        true
    }
}

/// `s` without surrounding blanks, borrowed where it was.
fn trim_cow(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) if o.trim().len() == o.len() => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

/// The result of a string sanitiser applied to `t`, borrowing from `t` where it did.
fn through<'v>(t: Cow<'v, str>, f: impl for<'s> Fn(&'s str) -> Option<Cow<'s, str>>) -> Option<Cow<'v, str>> {
    match t {
        Cow::Borrowed(b) => f(b),
        Cow::Owned(o) => f(&o).map(|c| Cow::Owned(c.into_owned())),
    }
}

fn sanitize<'v>(kind: Kind, v: &'v Val<'_>) -> Option<Clean<'v>> {
    fn str_only<'v>(v: &'v Val) -> Option<&'v str> {
        match v {
            Val::Str(s) => Some(s.trim()),
            _ => None,
        }
    }
    fn lower(s: &str) -> Cow<'_, str> {
        if s.chars().any(char::is_uppercase) { Cow::Owned(s.to_lowercase()) } else { Cow::Borrowed(s) }
    }
    match kind {
        Kind::Classification => v.text().map(Clean::Text),
        Kind::Text => v.text().filter(|s| !s.is_empty()).map(Clean::Text),
        Kind::Printable { max } => {
            let s = v.text()?;
            (printable(&s) && s.chars().count() <= max).then_some(Clean::Text(s))
        }
        Kind::Lowercase { max, printable: p } => {
            let s = trim_cow(lower(str_only(v)?));
            let ok = !s.is_empty() && (!p || printable(&s)) && s.chars().count() <= max;
            ok.then_some(Clean::Text(s))
        }
        Kind::Transport => {
            let s = trim_cow(lower(str_only(v)?));
            (s.len() <= 11 && TRANSPORTS.contains(&&*s)).then_some(Clean::Text(s))
        }
        Kind::CountryCode => {
            let s = str_only(v)?;
            let s = if s.chars().any(char::is_lowercase) { Cow::Owned(s.to_uppercase()) } else { Cow::Borrowed(s) };
            let s = trim_cow(s);
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(Clean::Text(s))
        }
        Kind::Integer { max_len } => {
            let n = match v {
                Val::Int(n) => *n,
                Val::Bool(b) => i64::from(*b),
                #[allow(clippy::cast_possible_truncation)]
                Val::Float(f) if f.is_finite() => f.trunc() as i64,
                Val::Str(s) => py_int(s)?,
                _ => return None,
            };
            (decimal_len(n) <= max_len).then(|| Clean::Json(Value::from(n)))
        }
        Kind::Asn => {
            let n = match v {
                Val::Int(n) => *n,
                Val::Str(s) => {
                    let s = s.as_ref();
                    let s = if s.len() >= 2 && s[..2].eq_ignore_ascii_case("as") { &s[2..] } else { s };
                    py_int(s)?
                }
                _ => return None,
            };
            (1..=4_294_967_295).contains(&n).then(|| Clean::Json(Value::from(n)))
        }
        Kind::Ip => sanitize_ip(&v.text()?).filter(|ip| !ip.is_unspecified() || ip.is_ipv6()).map(Clean::Ip),
        Kind::Network => sanitize_network(&v.text()?).map(|s| Clean::Text(Cow::Owned(s))),
        Kind::Fqdn => through(v.text()?, sanitize_fqdn).map(Clean::Text),
        Kind::Url => through(v.text()?, sanitize_url).map(Clean::Text),
        Kind::DateTime => match v {
            Val::Time(t) => Some(Clean::Time(*t)),
            Val::Str(s) => crate::timefmt::parse_iso(s).map(Clean::Time),
            _ => None,
        },
    }
}

/// How many characters `n` takes written out in decimal (sign included).
fn decimal_len(n: i64) -> usize {
    let digits = n.unsigned_abs().checked_ilog10().map_or(1, |d| d as usize + 1);
    digits + usize::from(n < 0)
}

/// Python's `int()` of a string: surrounding blanks, a sign, digits with single underscores between.
fn py_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let mut n: i64 = 0;
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' => n = n.checked_mul(10)?.checked_add(i64::from(b - b'0'))?,
            b'_' => {}
            _ => return None,
        }
    }
    Some(if neg { -n } else { n })
}

/// IntelMQ's address sanitiser: an address, a decimal integer, or a
/// one-address network; a scope id is removed.
fn sanitize_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0')) {
        let n: u128 = s.parse().ok()?;
        return Some(match u32::try_from(n) {
            Ok(v4) => IpAddr::V4(Ipv4Addr::from(v4)),
            Err(_) => IpAddr::V6(Ipv6Addr::from(n)),
        });
    }
    let s = s.split('%').next().unwrap_or(s);
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    match prefix {
        None => Some(ip),
        Some(p) if p.parse::<u32>().ok() == Some(bits) => Some(ip),
        Some(_) => None,
    }
}

/// IntelMQ's network sanitiser: `address/prefix` with host bits cleared.
fn sanitize_network(s: &str) -> Option<String> {
    let s = s.trim();
    let (addr, prefix) = s.split_once('/').unwrap_or((s, ""));
    let ip: IpAddr = addr.parse().ok()?;
    match ip {
        IpAddr::V4(v4) => {
            let p: u32 = if prefix.is_empty() { 32 } else { prefix.parse().ok().filter(|p| *p <= 32)? };
            let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
            Some(format!("{}/{p}", Ipv4Addr::from(u32::from(v4) & mask)))
        }
        IpAddr::V6(v6) => {
            let p: u32 = if prefix.is_empty() { 128 } else { prefix.parse().ok().filter(|p| *p <= 128)? };
            let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
            Some(format!("{}/{p}", Ipv6Addr::from(u128::from(v6) & mask)))
        }
    }
}

/// IntelMQ's domain-name sanitiser and check: dots trimmed, lower-cased; no
/// address, no `:`, `/`, `?` or `#`, labels of 1–63 characters.
fn sanitize_fqdn(s: &str) -> Option<Cow<'_, str>> {
    let s = s.trim().trim_matches('.');
    if s.is_empty() || !s.is_ascii() {
        return None;
    }
    let s =
        if s.bytes().any(|b| b.is_ascii_uppercase()) { Cow::Owned(s.to_ascii_lowercase()) } else { Cow::Borrowed(s) };
    let bad = s.contains([':', '/', '?', '#'])
        || s.parse::<IpAddr>().is_ok()
        || s.split('.').any(|l| l.is_empty() || l.len() > 63);
    (!bad).then_some(s)
}

/// IntelMQ's URL sanitiser: `hxxp` defanging undone; a URL needs a host part.
fn sanitize_url(s: &str) -> Option<Cow<'_, str>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let s: Cow<'_, str> = if s.contains("hxxp") {
        Cow::Owned(s.replace("hxxp://", "http://").replace("hxxps://", "https://"))
    } else {
        Cow::Borrowed(s)
    };
    let rest = match s.find(':') {
        Some(i)
            if i > 0
                && s.as_bytes()[0].is_ascii_alphabetic()
                && s[..i].bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            if s[..i].eq_ignore_ascii_case("file") && s[i + 1..].starts_with("///") {
                return Some(Cow::Owned(format!("{}://localhost{}", &s[..i].to_ascii_lowercase(), &s[i + 3..])));
            }
            &s[i + 1..]
        }
        _ => &s[..],
    };
    let netloc = rest.strip_prefix("//").map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    netloc.is_some_and(|n| !n.is_empty()).then_some(s)
}

fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let body = s.trim_end_matches('=');
    b.len() - body.len() <= 2 && body.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

/// An HTTP date, `Thu, 19 Apr 2018 00:02:28 GMT` (weekday optional).
fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    let s = s.split_once(", ").map_or(s, |(_, rest)| rest);
    let mut parts = s.split_ascii_whitespace();
    let day: u8 = parts.next()?.parse().ok()?;
    let month = crate::timefmt::month_from_abbr(parts.next()?)?;
    let year: i32 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':');
    let (h, m, sec): (u8, u8, u8) = (hms.next()?.parse().ok()?, hms.next()?.parse().ok()?, hms.next()?.parse().ok()?);
    if !matches!(parts.next(), None | Some("GMT" | "UTC" | "UT" | "Z" | "+0000")) || parts.next().is_some() {
        return None;
    }
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(h, m, sec).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A time as Python's `isoformat()` writes it in UTC (IntelMQ's format).
fn python_iso(t: OffsetDateTime) -> String {
    let mut out = String::with_capacity(32);
    push_python_iso(&mut out, t);
    out
}

/// [`python_iso`], appended to `out`.
fn push_python_iso(out: &mut String, t: OffsetDateTime) {
    fn digits(out: &mut String, n: u32, width: u32) {
        for k in (0..width).rev() {
            out.push(char::from(b'0' + u8::try_from(n / 10u32.pow(k) % 10).unwrap_or(0)));
        }
    }
    let t = t.to_offset(UtcOffset::UTC);
    let year = t.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&t.to_string());
        return;
    }
    digits(out, year.unsigned_abs(), 4);
    out.push('-');
    digits(out, u32::from(u8::from(t.month())), 2);
    out.push('-');
    digits(out, u32::from(t.day()), 2);
    out.push('T');
    digits(out, u32::from(t.hour()), 2);
    out.push(':');
    digits(out, u32::from(t.minute()), 2);
    out.push(':');
    digits(out, u32::from(t.second()), 2);
    if t.microsecond() != 0 {
        out.push('.');
        digits(out, t.microsecond(), 6);
    }
    out.push_str("+00:00");
}

/// The IANA protocol names IntelMQ accepts in `protocol.transport`.
const TRANSPORTS: &[&str] = &[
    "ip",
    "icmp",
    "igmp",
    "ggp",
    "ipencap",
    "st2",
    "tcp",
    "cbt",
    "egp",
    "igp",
    "bbn-rcc",
    "nvp",
    "nvp-ii",
    "pup",
    "argus",
    "emcon",
    "xnet",
    "chaos",
    "udp",
    "mux",
    "dcn",
    "hmp",
    "prm",
    "xns-idp",
    "trunk-1",
    "trunk-2",
    "leaf-1",
    "leaf-2",
    "rdp",
    "irtp",
    "iso-tp4",
    "netblt",
    "mfe-nsp",
    "merit-inp",
    "sep",
    "3pc",
    "idpr",
    "xtp",
    "ddp",
    "idpr-cmtp",
    "tp++",
    "il",
    "ipv6",
    "sdrp",
    "ipv6-route",
    "ipv6-frag",
    "idrp",
    "rsvp",
    "gre",
    "mhrp",
    "bna",
    "esp",
    "ah",
    "i-nlsp",
    "swipe",
    "narp",
    "mobile",
    "tlsp",
    "skip",
    "ipv6-icmp",
    "ipv6-nonxt",
    "ipv6-opts",
    "cftp",
    "sat-expak",
    "kryptolan",
    "rvd",
    "ippc",
    "sat-mon",
    "visa",
    "ipcv",
    "cpnx",
    "cphb",
    "wsn",
    "pvp",
    "br-sat-mon",
    "sun-nd",
    "wb-mon",
    "wb-expak",
    "iso-ip",
    "vmtp",
    "secure-vmtp",
    "vines",
    "ttp",
    "nsfnet-igp",
    "dgp",
    "tcf",
    "eigrp",
    "ospf",
    "sprite-rpc",
    "larp",
    "mtp",
    "ax.25",
    "ipip",
    "micp",
    "scc-sp",
    "etherip",
    "encap",
    "gmtp",
    "ifmp",
    "pnni",
    "pim",
    "aris",
    "scps",
    "qnx",
    "a/n",
    "ipcomp",
    "snp",
    "compaq-peer",
    "ipx-in-ip",
    "vrrp",
    "pgm",
    "l2tp",
    "ddx",
    "iatp",
    "st",
    "srp",
    "uti",
    "smp",
    "sm",
    "ptp",
    "isis",
    "fire",
    "crtp",
    "crdup",
    "sscopmce",
    "iplt",
    "sps",
    "pipe",
    "sctp",
    "fc",
    "divert",
];

/// An emptied vector of another lifetime, keeping its allocation (collected
/// in place: same element layout).
fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter().map(|_| "").collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_len_is_the_length_written_out() {
        for n in [0, 1, 9, 10, 99, 100, 65_535, 65_536, -1, -9, -10, -99_999, i64::MAX, i64::MIN] {
            assert_eq!(decimal_len(n), n.to_string().len(), "{n}");
        }
    }
}
