//! Egress policy: where network runners may connect.
//!
//! A target must match the allow-list. Names are checked as written, then
//! every address they *resolve to* is checked again, at connection time, by the
//! resolver the HTTP client uses (so a name that later re-resolves to
//! 169.254.169.254 is still refused). Private, loopback, link-local,
//! unique-local, unspecified and other non-public addresses are reached only
//! when an allow-list entry names that address or a network that contains it.
//! Redirects are checked the same way before they are followed.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `*`: any host name, any public address.
    Any,
    /// `api.example.org` (lower case, no trailing dot).
    Name(String),
    /// `*.example.org`: any name below `example.org`.
    Suffix(String),
    /// `192.0.2.10`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    Net { addr: IpAddr, prefix: u8 },
}

/// Why a destination is refused. The message says what to allow to permit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("egress policy refused {target}: {reason}")]
pub struct EgressDenied {
    pub target: String,
    pub reason: String,
}

/// A malformed allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("allow-list entry {entry:?}: {reason}")]
pub struct BadEntry {
    pub entry: String,
    pub reason: &'static str,
}

/// The allow-list of outbound destinations. Empty (the default) refuses everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    entries: Vec<Entry>,
}

impl EgressPolicy {
    /// A policy that refuses every destination.
    #[must_use]
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// A policy allowing `entries`: `*`, a host name, `*.domain`, an IP address
    /// (`[::1]` accepted) or a network in CIDR notation.
    ///
    /// # Errors
    /// [`BadEntry`] for an entry that is none of these.
    pub fn allowing<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<Self, BadEntry> {
        let mut policy = Self::default();
        for e in entries {
            policy.allow(e.as_ref())?;
        }
        Ok(policy)
    }

    /// Adds one entry (see [`EgressPolicy::allowing`]).
    ///
    /// # Errors
    /// [`BadEntry`] for a malformed entry.
    pub fn allow(&mut self, entry: &str) -> Result<(), BadEntry> {
        let bad = |reason| BadEntry { entry: entry.to_owned(), reason };
        let e = entry.trim();
        let parsed = if e == "*" {
            Entry::Any
        } else if let Some(domain) = e.strip_prefix("*.") {
            Entry::Suffix(normalise_name(domain).ok_or_else(|| bad("not a domain name"))?)
        } else if let Some((addr, prefix)) = e.split_once('/') {
            let addr: IpAddr = strip_brackets(addr).parse().map_err(|_| bad("not an IP network"))?;
            let prefix: u8 = prefix.parse().map_err(|_| bad("the prefix length is not a number"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if prefix > max {
                return Err(bad("the prefix length is too long for the address"));
            }
            Entry::Net { addr, prefix }
        } else if let Ok(addr) = strip_brackets(e).parse::<IpAddr>() {
            Entry::Net { addr, prefix: if addr.is_ipv4() { 32 } else { 128 } }
        } else {
            Entry::Name(normalise_name(e).ok_or_else(|| bad("not a host name, IP address or network"))?)
        };
        self.entries.push(parsed);
        Ok(())
    }

    /// Whether the list is empty (every destination refused).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn name_allowed(&self, name: &str) -> bool {
        self.entries.iter().any(|e| match e {
            Entry::Any => true,
            Entry::Name(n) => n == name,
            Entry::Suffix(d) => name.strip_suffix(d.as_str()).is_some_and(|rest| rest.ends_with('.')),
            Entry::Net { .. } => false,
        })
    }

    fn net_allows(&self, ip: IpAddr) -> bool {
        self.entries.iter().any(|e| matches!(e, Entry::Net { addr, prefix } if in_network(ip, *addr, *prefix)))
    }

    /// Checks a host name (before resolution).
    ///
    /// # Errors
    /// [`EgressDenied`] when no entry allows the name.
    pub fn check_name(&self, host: &str) -> Result<(), EgressDenied> {
        if let Ok(ip) = strip_brackets(host).parse::<IpAddr>() {
            return self.check_ip(host, ip);
        }
        let name = normalise_name(host).unwrap_or_else(|| host.to_ascii_lowercase());
        if self.name_allowed(&name) {
            Ok(())
        } else {
            Err(EgressDenied {
                target: host.to_owned(),
                reason: format!("{name} is not on the allow-list (add it, e.g. --allow-host {name})"),
            })
        }
    }

    /// Checks one address `host` resolved to (or an address literal, with `host` = the address).
    ///
    /// # Errors
    /// [`EgressDenied`] for a non-public address that no network entry allows,
    /// or a public address literal that no entry allows.
    pub fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), EgressDenied> {
        let ip = canonical(ip);
        if self.net_allows(ip) {
            return Ok(());
        }
        let literal = strip_brackets(host).parse::<IpAddr>().is_ok();
        let shown = if literal { ip.to_string() } else { format!("{host} (resolved to {ip})") };
        if let Some(kind) = special(ip) {
            return Err(EgressDenied {
                target: shown,
                reason: format!(
                    "{ip} is a {kind} address; only an allow-list entry naming it (or its network) permits it"
                ),
            });
        }
        if literal && !self.entries.contains(&Entry::Any) {
            return Err(EgressDenied {
                target: shown,
                reason: format!("{ip} is not on the allow-list (add it, e.g. --allow-host {ip})"),
            });
        }
        Ok(())
    }

    /// Checks a URL's scheme and host (address literals included). Resolved
    /// addresses of a name are checked separately, at connection time.
    ///
    /// # Errors
    /// [`EgressDenied`] when refused.
    pub fn check_url(&self, url: &url::Url) -> Result<(), EgressDenied> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EgressDenied {
                target: url.scheme().to_owned(),
                reason: "only http and https URLs are allowed".into(),
            });
        }
        match url.host() {
            Some(url::Host::Domain(d)) => self.check_name(d),
            Some(url::Host::Ipv4(ip)) => self.check_ip(&ip.to_string(), IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(&ip.to_string(), IpAddr::V6(ip)),
            None => Err(EgressDenied { target: url.as_str().to_owned(), reason: "the URL has no host".into() }),
        }
    }
}

fn strip_brackets(s: &str) -> &str {
    s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s)
}

fn normalise_name(s: &str) -> Option<String> {
    let n = s.trim_end_matches('.').to_ascii_lowercase();
    let ok = !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(n)
}

/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (canonical(ip), canonical(net)) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix.min(32))) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix.min(128))) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

const V4_SPECIAL: [(Ipv4Addr, u8, &str); 15] = [
    (Ipv4Addr::new(0, 0, 0, 0), 8, "unspecified (this-network)"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "shared (carrier-grade NAT)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local (cloud metadata lives here)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignment"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved or broadcast"),
];

const V6_SPECIAL: [(Ipv6Addr, u8, &str); 9] = [
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified"),
    (Ipv6Addr::LOCALHOST, 128, "loopback"),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, "IPv4-compatible (deprecated)"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "discard-only"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignment (Teredo and others)"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "unique-local"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local (deprecated)"),
];

/// The kind of a non-public address, `None` for a public one. Translation
/// prefixes (NAT64, 6to4) are judged by the IPv4 address they embed.
#[must_use]
pub fn special(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => V4_SPECIAL.iter().find(|(n, p, _)| in_network(ip_v4(v4), ip_v4(*n), *p)).map(|s| s.2),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            if v6.segments()[0] & 0xff00 == 0xff00 {
                return Some("multicast");
            }
            // NAT64 well-known prefix 64:ff9b::/96 and 6to4 2002::/16 embed an IPv4 address.
            if in_network(IpAddr::V6(v6), IpAddr::V6(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0)), 96) {
                #[allow(clippy::cast_possible_truncation)]
                let embedded = Ipv4Addr::from(bits as u32);
                return special(IpAddr::V4(embedded));
            }
            if v6.segments()[0] == 0x2002 {
                #[allow(clippy::cast_possible_truncation)]
                let embedded = Ipv4Addr::from((bits >> 80) as u32);
                if let Some(kind) = special(IpAddr::V4(embedded)) {
                    return Some(kind);
                }
            }
            V6_SPECIAL.iter().find(|(n, p, _)| in_network(IpAddr::V6(v6), IpAddr::V6(*n), *p)).map(|s| s.2)
        }
    }
}

fn ip_v4(a: Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}

type LookupFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Turns a host name into addresses. The system resolver by default; tests
/// and deployments that pin names supply their own.
pub trait HostResolver: Send + Sync + 'static {
    /// The addresses of `host`.
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a>;
}

/// The operating system's resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, 0)).await?.map(|s| s.ip()).collect()) })
    }
}

/// Fixed answers (an `/etc/hosts` of its own); names it does not know fail.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver(pub BTreeMap<String, Vec<IpAddr>>);

impl HostResolver for StaticResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> LookupFuture<'a> {
        let found = self.0.get(&host.to_ascii_lowercase()).cloned();
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host} is not known to the resolver")))
        })
    }
}

/// The resolver the HTTP client uses: refuses names and resolved addresses the policy does not allow.
pub(crate) struct PolicyResolver {
    pub(crate) policy: Arc<EgressPolicy>,
    pub(crate) inner: Arc<dyn HostResolver>,
}

impl fmt::Debug for PolicyResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyResolver").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.policy);
        let inner = Arc::clone(&self.inner);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            policy.check_name(&host)?;
            let addrs = inner.lookup(&host).await?;
            if addrs.is_empty() {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address")).into());
            }
            for ip in &addrs {
                policy.check_ip(&host, *ip)?;
            }
            let out: reqwest::dns::Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(out)
        })
    }
}

/// The first [`EgressDenied`] in an error's source chain, if the policy caused it.
pub(crate) fn find_denial<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a EgressDenied> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(d) = e.downcast_ref::<EgressDenied>() {
            return Some(d);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn special_ranges_are_recognised_and_public_ones_are_not() {
        for s in [
            "169.254.169.254",
            "10.1.2.3",
            "172.31.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "ff02::1",
        ] {
            assert!(special(ip(s)).is_some(), "{s} should be special");
        }
        for s in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "64:ff9b::808:808"] {
            assert_eq!(special(ip(s)), None, "{s} should be public");
        }
    }

    #[test]
    fn names_suffixes_and_networks_match_as_written() {
        let p = EgressPolicy::allowing(["api.example.org", "*.corp.example", "10.0.0.0/8", "[::1]"]).unwrap();
        assert!(p.check_name("API.example.org.").is_ok());
        assert!(p.check_name("x.corp.example").is_ok());
        assert!(p.check_name("corp.example").is_err());
        assert!(p.check_name("evilcorp.example").is_err());
        assert!(p.check_ip("10.2.3.4", ip("10.2.3.4")).is_ok());
        assert!(p.check_ip("::1", ip("::1")).is_ok());
        assert!(p.check_ip("api.example.org", ip("93.184.216.34")).is_ok());
        let err = p.check_ip("api.example.org", ip("169.254.169.254")).unwrap_err();
        assert!(err.to_string().contains("link-local"), "{err}");
        assert!(p.check_ip("8.8.8.8", ip("8.8.8.8")).is_err(), "a public literal needs an entry");
        assert!(EgressPolicy::allowing(["10.0.0.0/33"]).is_err());
        assert!(EgressPolicy::allowing(["bad host!"]).is_err());
    }

    #[test]
    fn decimal_and_mapped_forms_of_the_metadata_address_are_refused() {
        let p = EgressPolicy::allowing(["*"]).unwrap();
        for u in
            ["http://2852039166/latest", "http://[::ffff:a9fe:a9fe]/", "http://169.254.169.254/", "file:///etc/passwd"]
        {
            assert!(p.check_url(&url::Url::parse(u).unwrap()).is_err(), "{u}");
        }
        assert!(p.check_url(&url::Url::parse("https://example.org/").unwrap()).is_ok());
    }
}
