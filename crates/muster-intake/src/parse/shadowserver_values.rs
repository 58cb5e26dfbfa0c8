//! The values of the Shadowserver parser ([`super::shadowserver`]): a
//! column's converted value, and IntelMQ's sanitisers and checks per
//! harmonisation field kind ([`Kind`]), with the text formats IntelMQ writes
//! (Python's `isoformat()`, base64). Sanitised text is borrowed from the row
//! where it can be.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;
use time::{OffsetDateTime, UtcOffset};

use super::shadowserver_reports::Kind;

/// A converted value.
#[derive(Debug, Clone)]
pub(super) enum Val<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Float(f64),
    Time(OffsetDateTime),
}

impl Val<'_> {
    pub(super) fn into_json(self) -> Value {
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
    pub(super) fn text(&self) -> Option<Cow<'_, str>> {
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

/// IntelMQ drops these values instead of adding them.
pub(super) fn is_ignored(v: &Val) -> bool {
    matches!(v, Val::Str(s) if matches!(s.as_ref(), "" | "-" | "N/A"))
}

fn printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// A sanitised value: text borrowed where it can be, written out only when
/// it is stored (the parser writes a field the import only reads over the
/// string an earlier row left in its slot).
pub(super) enum Clean<'v> {
    Text(Cow<'v, str>),
    Json(Value),
    Time(OffsetDateTime),
    Ip(IpAddr),
}

impl Clean<'_> {
    pub(super) fn into_value(self) -> Value {
        match self {
            Clean::Text(s) => Value::String(s.into_owned()),
            Clean::Json(v) => v,
            Clean::Time(t) => Value::String(python_iso(t)),
            Clean::Ip(ip) => Value::String(ip.to_string()),
        }
    }

    /// Writes the text into `out`; `false` (and nothing written) for a JSON value.
    pub(super) fn write_text(&self, out: &mut String) -> bool {
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

pub(super) fn sanitize<'v>(kind: Kind, v: &'v Val<'_>) -> Option<Clean<'v>> {
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
pub(super) fn py_int(s: &str) -> Option<i64> {
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
pub(super) fn sanitize_ip(s: &str) -> Option<IpAddr> {
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
pub(super) fn sanitize_network(s: &str) -> Option<String> {
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
pub(super) fn sanitize_fqdn(s: &str) -> Option<Cow<'_, str>> {
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

pub(super) fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let body = s.trim_end_matches('=');
    b.len() - body.len() <= 2 && body.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

/// An HTTP date, `Thu, 19 Apr 2018 00:02:28 GMT` (weekday optional).
pub(super) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
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
pub(super) fn base64(data: &[u8]) -> String {
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
pub(super) fn python_iso(t: OffsetDateTime) -> String {
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
