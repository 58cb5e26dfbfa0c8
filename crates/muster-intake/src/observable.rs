//! Typed observables: the values an alert is about (addresses, names, hashes,
//! accounts), each validated and put in one canonical spelling at the edge so
//! that equal things compare equal in dedup and correlation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// The kinds of observable Muster knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObservableKind {
    Ipv4,
    Ipv6,
    Cidr,
    Domain,
    Url,
    Email,
    Md5,
    Sha1,
    Sha256,
    FileName,
    Hostname,
    UserAccount,
    Cve,
    Asn,
}

impl ObservableKind {
    /// The kebab-case name used in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Cidr => "cidr",
            Self::Domain => "domain",
            Self::Url => "url",
            Self::Email => "email",
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::FileName => "file-name",
            Self::Hostname => "hostname",
            Self::UserAccount => "user-account",
            Self::Cve => "cve",
            Self::Asn => "asn",
        }
    }
}

impl fmt::Display for ObservableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of a connection an observable was on, when the source says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Source,
    Destination,
}

/// A value that is not a valid observable of the kind claimed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind}: {why}")]
pub struct InvalidObservable {
    pub kind: ObservableKind,
    pub value: String,
    pub why: &'static str,
}

/// A validated observable in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawObservable")]
pub struct Observable {
    kind: ObservableKind,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
}

#[derive(Deserialize)]
struct RawObservable {
    kind: ObservableKind,
    value: String,
    #[serde(default)]
    role: Option<Role>,
}

impl TryFrom<RawObservable> for Observable {
    type Error = InvalidObservable;
    fn try_from(r: RawObservable) -> Result<Self, InvalidObservable> {
        Observable::new(r.kind, &r.value).map(|o| o.with_role(r.role))
    }
}

/// Longest observable value accepted (URLs are the long ones).
pub const MAX_OBSERVABLE_LEN: usize = 8192;

impl Observable {
    /// Validates `raw` as a `kind` and stores it canonically (lower-case
    /// names and hashes, upper-case CVE ids, compressed IPv6).
    ///
    /// # Errors
    /// [`InvalidObservable`] saying why the value does not fit the kind.
    pub fn new(kind: ObservableKind, raw: &str) -> Result<Self, InvalidObservable> {
        let bad = |why| InvalidObservable { kind, value: raw.chars().take(200).collect(), why };
        let s = raw.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.len() > MAX_OBSERVABLE_LEN {
            return Err(bad("too long"));
        }
        let value = match kind {
            ObservableKind::Ipv4 => ipv4_text(s.parse().map_err(|_| bad("not a dotted-quad IPv4 address"))?),
            ObservableKind::Ipv6 => s
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<Ipv6Addr>()
                .map_err(|_| bad("not an IPv6 address"))?
                .to_string(),
            ObservableKind::Cidr => canonical_cidr(s).ok_or_else(|| bad("not address/prefix"))?,
            ObservableKind::Domain => {
                let d = canonical_hostname(s).ok_or_else(|| bad("not a DNS name"))?;
                if !d.contains('.') || d.parse::<IpAddr>().is_ok() {
                    return Err(bad("a domain needs at least two labels"));
                }
                d
            }
            ObservableKind::Hostname => canonical_hostname(s).ok_or_else(|| bad("not a host name"))?,
            ObservableKind::Url => canonical_url(s).ok_or_else(|| bad("not scheme://host…"))?,
            ObservableKind::Email => canonical_email(s).ok_or_else(|| bad("not local@domain"))?,
            ObservableKind::Md5 => hex_digest(s, 32).ok_or_else(|| bad("not 32 hex digits"))?,
            ObservableKind::Sha1 => hex_digest(s, 40).ok_or_else(|| bad("not 40 hex digits"))?,
            ObservableKind::Sha256 => hex_digest(s, 64).ok_or_else(|| bad("not 64 hex digits"))?,
            ObservableKind::FileName | ObservableKind::UserAccount => {
                if s.len() > 1024 || s.chars().any(char::is_control) {
                    return Err(bad("control characters or longer than 1024 bytes"));
                }
                s.to_owned()
            }
            ObservableKind::Cve => canonical_cve(s).ok_or_else(|| bad("not CVE-YYYY-NNNN"))?,
            ObservableKind::Asn => {
                let digits = s.strip_prefix("AS").or_else(|| s.strip_prefix("as")).unwrap_or(s);
                let n: u32 = digits.parse().map_err(|_| bad("not AS<number>"))?;
                if n == 0 {
                    return Err(bad("AS0 is reserved"));
                }
                n.to_string()
            }
        };
        Ok(Self { kind, value, role: None })
    }

    /// An IPv4 or IPv6 observable, whichever `raw` is.
    ///
    /// # Errors
    /// When `raw` is neither.
    pub fn ip(raw: &str) -> Result<Self, InvalidObservable> {
        match raw.trim().parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => Ok(Self::from_ip(IpAddr::V4(a))),
            Ok(IpAddr::V6(a)) => Ok(Self::from_ip(IpAddr::V6(a))),
            Err(_) => Err(InvalidObservable {
                kind: ObservableKind::Ipv4,
                value: raw.chars().take(200).collect(),
                why: "not an IPv4 or IPv6 address",
            }),
        }
    }

    /// An observable from a parsed address (IPv4-mapped IPv6 stays IPv6).
    #[must_use]
    pub fn from_ip(ip: IpAddr) -> Self {
        let (kind, value) = match ip {
            IpAddr::V4(a) => (ObservableKind::Ipv4, ipv4_text(a)),
            IpAddr::V6(a) => (ObservableKind::Ipv6, a.to_string()),
        };
        Self { kind, value, role: None }
    }

    /// Sets the connection side.
    #[must_use]
    pub fn with_role(mut self, role: Option<Role>) -> Self {
        self.role = role;
        self
    }

    /// The kind.
    #[must_use]
    pub const fn kind(&self) -> ObservableKind {
        self.kind
    }

    /// The canonical value.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The connection side, if known.
    #[must_use]
    pub const fn role(&self) -> Option<Role> {
        self.role
    }

    /// Whether this is an IP address (v4 or v6).
    #[must_use]
    pub const fn is_ip(&self) -> bool {
        matches!(self.kind, ObservableKind::Ipv4 | ObservableKind::Ipv6)
    }
}

impl fmt::Display for Observable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// The same text as `Ipv4Addr`'s `Display`, without the formatting machinery
/// (a measurable share of EVE parsing, where every alert has two addresses).
fn ipv4_text(a: Ipv4Addr) -> String {
    let mut s = String::with_capacity(15);
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if o >= 100 {
            s.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            s.push(char::from(b'0' + o / 10 % 10));
        }
        s.push(char::from(b'0' + o % 10));
    }
    s
}

fn canonical_cidr(s: &str) -> Option<String> {
    let (addr, prefix) = s.split_once('/')?;
    let prefix: u8 = prefix.parse().ok()?;
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then(|| format!("{ip}/{prefix}"))
}

/// Lower-cases and checks a DNS name (labels of letters, digits, `-`, `_`).
fn canonical_hostname(s: &str) -> Option<String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 253 {
        return None;
    }
    for label in s.split('.') {
        let ok_len = !label.is_empty() && label.len() <= 63;
        let ok_chars = label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok_len || !ok_chars || label.starts_with('-') || label.ends_with('-') {
            return None;
        }
    }
    Some(s.to_ascii_lowercase())
}

fn canonical_url(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let scheme_ok = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    // The byte test is the same as the char test for ASCII, the usual case.
    let bad_char = if s.is_ascii() {
        s.bytes().any(|b| b.is_ascii_control() || b == b' ')
    } else {
        s.chars().any(|c| c.is_control() || c == ' ')
    };
    if !scheme_ok || bad_char {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.is_empty() {
        return None;
    }
    let mut url = String::with_capacity(s.len());
    url.extend(scheme.chars().map(|c| c.to_ascii_lowercase()));
    url.push_str("://");
    url.push_str(rest);
    Some(url)
}

fn canonical_email(s: &str) -> Option<String> {
    let (local, domain) = s.rsplit_once('@')?;
    if local.is_empty() || local.len() > 64 || local.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    let domain = canonical_hostname(domain)?;
    domain.contains('.').then(|| format!("{local}@{domain}"))
}

fn hex_digest(s: &str, len: usize) -> Option<String> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

fn canonical_cve(s: &str) -> Option<String> {
    let upper = s.to_ascii_uppercase();
    let rest = upper.strip_prefix("CVE-")?;
    let (year, num) = rest.split_once('-')?;
    let ok = year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && num.len() >= 4
        && num.len() <= 19
        && num.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(upper)
}

/// A MITRE ATT&CK technique or sub-technique id, e.g. `T1059.001`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttackTechnique(String);

impl AttackTechnique {
    /// Parses `T1190`, `t1190`, `T1059.001`.
    ///
    /// # Errors
    /// When the text is not `T` + 4 digits, optionally `.` + 3 digits.
    pub fn parse(s: &str) -> Result<Self, InvalidObservable> {
        let upper = s.trim().to_ascii_uppercase();
        let body = upper.strip_prefix('T').unwrap_or("");
        let (main, sub) = body.split_once('.').map_or((body, None), |(m, s)| (m, Some(s)));
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if digits(main, 4) && sub.is_none_or(|s| digits(s, 3)) {
            Ok(Self(upper))
        } else {
            Err(InvalidObservable {
                kind: ObservableKind::Cve,
                value: s.chars().take(200).collect(),
                why: "not an ATT&CK technique id (T1234 or T1234.001)",
            })
        }
    }

    /// The id, e.g. `T1190`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AttackTechnique {
    type Error = InvalidObservable;
    fn try_from(s: String) -> Result<Self, InvalidObservable> {
        Self::parse(&s)
    }
}

impl From<AttackTechnique> for String {
    fn from(t: AttackTechnique) -> String {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObservableKind as K;

    fn ok(kind: K, s: &str) -> String {
        Observable::new(kind, s).map(|o| o.value().to_owned()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn each_kind_canonicalises_valid_values() {
        assert_eq!(ok(K::Ipv4, " 10.0.0.1 "), "10.0.0.1");
        assert_eq!(ok(K::Ipv6, "2001:DB8:0:0::1"), "2001:db8::1");
        assert_eq!(ok(K::Cidr, "192.0.2.0/24"), "192.0.2.0/24");
        assert_eq!(ok(K::Domain, "Example.COM."), "example.com");
        assert_eq!(ok(K::Hostname, "WIN-A8WCA1ISIEB"), "win-a8wca1isieb");
        assert_eq!(ok(K::Url, "HTTP://example.net/a?b"), "http://example.net/a?b");
        assert_eq!(ok(K::Email, "Bob@Example.org"), "Bob@example.org");
        assert_eq!(ok(K::Md5, &"A".repeat(32)), "a".repeat(32));
        assert_eq!(ok(K::Sha1, &"b".repeat(40)), "b".repeat(40));
        assert_eq!(ok(K::Sha256, &"C".repeat(64)), "c".repeat(64));
        assert_eq!(ok(K::FileName, "invoice.pdf.exe"), "invoice.pdf.exe");
        assert_eq!(ok(K::UserAccount, "DOMAIN\\alice"), "DOMAIN\\alice");
        assert_eq!(ok(K::Cve, "cve-2021-44228"), "CVE-2021-44228");
        assert_eq!(ok(K::Asn, "AS13335"), "13335");
    }

    #[test]
    fn each_kind_rejects_invalid_values() {
        let bad = [
            (K::Ipv4, "300.1.1.1"),
            (K::Ipv4, "::1"),
            (K::Ipv6, "1.2.3.4"),
            (K::Cidr, "10.0.0.0/33"),
            (K::Cidr, "10.0.0.0"),
            (K::Domain, "localhost"),
            (K::Domain, "1.2.3.4"),
            (K::Domain, "-bad.example"),
            (K::Hostname, "has space"),
            (K::Url, "example.com/path"),
            (K::Url, "http:///nohost"),
            (K::Email, "no-at-sign"),
            (K::Email, "a@localhost"),
            (K::Md5, "xyz"),
            (K::Sha1, &"g".repeat(40)),
            (K::Sha256, &"a".repeat(63)),
            (K::FileName, "a\u{0}b"),
            (K::UserAccount, ""),
            (K::Cve, "CVE-21-1"),
            (K::Asn, "AS0"),
            (K::Asn, "ASX"),
        ];
        for (kind, value) in bad {
            assert!(Observable::new(kind, value).is_err(), "{kind} {value:?}");
        }
    }

    #[test]
    fn ipv4_text_matches_display() {
        for a in [[0, 0, 0, 0], [255, 255, 255, 255], [10, 9, 99, 100], [1, 20, 200, 249], [192, 168, 1, 146]] {
            let ip = Ipv4Addr::from(a);
            assert_eq!(ipv4_text(ip), ip.to_string());
        }
        for n in (0..=u32::MAX).step_by(16_777_259) {
            let ip = Ipv4Addr::from(n);
            assert_eq!(ipv4_text(ip), ip.to_string());
        }
    }

    #[test]
    fn ip_picks_the_family() {
        assert_eq!(Observable::ip("::1").map(|o| o.kind()), Ok(K::Ipv6));
        assert_eq!(Observable::ip("8.8.8.8").map(|o| o.kind()), Ok(K::Ipv4));
        assert!(Observable::ip("example.com").is_err());
    }

    #[test]
    fn deserialising_validates() {
        let good: Result<Observable, _> = serde_json::from_str(r#"{"kind":"ipv4","value":"1.2.3.4","role":"source"}"#);
        assert_eq!(good.map(|o| o.role()).ok(), Some(Some(Role::Source)));
        let bad: Result<Observable, _> = serde_json::from_str(r#"{"kind":"ipv4","value":"x"}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn attack_ids_parse_and_reject() {
        assert_eq!(AttackTechnique::parse("t1190").map(|t| t.0), Ok("T1190".into()));
        assert!(AttackTechnique::parse("T1059.001").is_ok());
        assert!(AttackTechnique::parse("T15").is_err());
        assert!(AttackTechnique::parse("TA0001").is_err());
    }
}
