//! Correlation settings: the rules, the severity that opens an incident, and
//! the values too common to group by. Read from the server's `[correlation]`
//! table (docs/configuration.md); the defaults are what a SOC starts with.

use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::alert::Severity;
use crate::observable::ObservableKind;

/// What alerts must share to be grouped by a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "by")]
pub enum GroupBy {
    /// An observable of one of these kinds.
    Observable { kinds: Vec<ObservableKind> },
    /// The detection rule (source + rule id).
    Rule,
    /// The reporting / affected host.
    Host,
    /// The same detection rule firing on the same host.
    RuleHost,
}

/// One correlation rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelationRule {
    pub name: String,
    #[serde(flatten)]
    pub group_by: GroupBy,
    /// How far apart alerts may be and still be grouped.
    #[serde(rename = "window_secs", with = "seconds")]
    pub window: Duration,
    /// Alerts below this severity are not grouped by this rule.
    #[serde(default = "lowest")]
    pub min_severity: Severity,
    /// When set: this many alerts of one batch sharing a key (this one
    /// included) open an incident even below [`CorrelationConfig::open_at`].
    #[serde(default)]
    pub min_alerts: Option<usize>,
}

const fn lowest() -> Severity {
    Severity::Info
}

mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.whole_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = i64::deserialize(d)?;
        if secs <= 0 {
            return Err(serde::de::Error::custom(format!("window_secs: {secs} must be positive")));
        }
        Ok(Duration::seconds(secs))
    }
}

/// An address range (`10.0.0.0/8`, `fc00::/7`) whose addresses are never grouping keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` lies inside.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) };
                (u32::from(n) & mask) == (u32::from(a) & mask)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
                (u128::from(n) & mask) == (u128::from(a) & mask)
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("{s:?}: not an address/prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() { max } else { p.trim().parse().map_err(|_| format!("{s:?}: bad prefix"))? };
        if prefix > max {
            return Err(format!("{s:?}: prefix longer than {max}"));
        }
        Ok(Self { addr, prefix })
    }
}

impl TryFrom<String> for Network {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Network> for String {
    fn from(n: Network) -> Self {
        format!("{}/{}", n.addr, n.prefix)
    }
}

/// The correlation settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrelationConfig {
    /// Off: alerts are stored without being grouped.
    pub enabled: bool,
    /// Tried in order; the first rule that finds a shared key decides.
    pub rules: Vec<CorrelationRule>,
    /// An alert at or above this opens an incident on its own (unless it attaches).
    pub open_at: Severity,
    /// Addresses in these ranges never group alerts (they are on every network).
    pub ignore_networks: Vec<Network>,
    /// Exact observable values that never group alerts (e.g. the organisation's
    /// own resolver, a scanner it runs itself).
    pub ignore_values: Vec<String>,
    /// Most standalone alerts remembered while a batch is correlated.
    pub max_recent: usize,
}

/// Ranges on every network: loopback, unspecified, "this network",
/// link-local, multicast, broadcast, and the private ranges (RFC 1918, shared
/// address space RFC 6598, unique-local fc00::/7). Every organisation's own
/// hosts live in the private ranges, so one internal server or gateway would
/// otherwise glue unrelated alerts into one incident; alerts about one internal
/// host are grouped by its host name (`same-rule-on-host`) instead.
pub const DEFAULT_IGNORED_NETWORKS: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "255.255.255.255/32",
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

impl Default for CorrelationConfig {
    /// Shared indicator (domain, URL, hash, CVE, e-mail) within 24 h, shared
    /// public address within 1 h, same rule on the same host within 1 h; an
    /// alert of high severity or above opens an incident.
    fn default() -> Self {
        use ObservableKind as K;
        Self {
            enabled: true,
            rules: vec![
                CorrelationRule {
                    name: "shared-indicator".into(),
                    group_by: GroupBy::Observable {
                        kinds: vec![K::Domain, K::Url, K::Md5, K::Sha1, K::Sha256, K::Cve, K::Email],
                    },
                    window: Duration::hours(24),
                    min_severity: Severity::Low,
                    min_alerts: None,
                },
                CorrelationRule {
                    name: "shared-address".into(),
                    group_by: GroupBy::Observable { kinds: vec![K::Ipv4, K::Ipv6] },
                    window: Duration::hours(1),
                    min_severity: Severity::Low,
                    min_alerts: None,
                },
                CorrelationRule {
                    name: "same-rule-on-host".into(),
                    group_by: GroupBy::RuleHost,
                    window: Duration::hours(1),
                    min_severity: Severity::Low,
                    min_alerts: None,
                },
            ],
            open_at: Severity::High,
            ignore_networks: DEFAULT_IGNORED_NETWORKS.iter().filter_map(|n| n.parse().ok()).collect(),
            ignore_values: Vec::new(),
            max_recent: 100_000,
        }
    }
}

impl CorrelationConfig {
    /// Whether `(kind, value)` is too common to group by.
    #[must_use]
    pub fn ignores(&self, kind: ObservableKind, value: &str) -> bool {
        if self.ignore_values.iter().any(|v| v == value) {
            return true;
        }
        match kind {
            ObservableKind::Ipv4 | ObservableKind::Ipv6 => {
                value.parse::<IpAddr>().map_or(true, |ip| self.ignore_networks.iter().any(|n| n.contains(ip)))
            }
            _ => false,
        }
    }

    /// The largest window of any rule.
    #[must_use]
    pub fn longest_window(&self) -> Duration {
        self.rules.iter().map(|r| r.window).max().unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_ignored_public_ones_are_not() {
        let c = CorrelationConfig::default();
        for ip in ["10.1.2.3", "172.31.0.1", "192.168.1.1", "127.0.0.1", "fd00::1", "fe80::1", "::1", "224.0.0.251"] {
            let kind = if ip.contains(':') { ObservableKind::Ipv6 } else { ObservableKind::Ipv4 };
            assert!(c.ignores(kind, ip), "{ip}");
        }
        for ip in ["192.0.2.7", "172.32.0.1", "8.8.8.8", "2001:db8::1"] {
            let kind = if ip.contains(':') { ObservableKind::Ipv6 } else { ObservableKind::Ipv4 };
            assert!(!c.ignores(kind, ip), "{ip}");
        }
        assert!(!c.ignores(ObservableKind::Domain, "10.example"));
    }

    #[test]
    fn networks_parse_and_reject_bad_prefixes() {
        let n: Network = "192.0.2.0/24".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(n.contains("192.0.2.200".parse().unwrap_or_else(|e| panic!("{e}"))));
        assert!(!n.contains("192.0.3.1".parse().unwrap_or_else(|e| panic!("{e}"))));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("nonsense/8".parse::<Network>().is_err());
        let all: Network = "0.0.0.0/0".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(all.contains("203.0.113.1".parse().unwrap_or_else(|e| panic!("{e}"))));
    }

    #[test]
    fn rules_read_from_toml_like_input() {
        let c: CorrelationConfig = serde_json::from_str(
            r#"{"open_at":"critical","rules":[{"name":"ip","by":"observable","kinds":["ipv4"],"window_secs":600},
                {"name":"rh","by":"rule-host","window_secs":60,"min_severity":"medium","min_alerts":3}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.open_at, Severity::Critical);
        assert_eq!(c.rules[0].group_by, GroupBy::Observable { kinds: vec![ObservableKind::Ipv4] });
        assert_eq!(c.rules[1].window, Duration::minutes(1));
        assert_eq!(c.rules[1].min_alerts, Some(3));
        assert!(c.enabled, "unset fields keep their defaults");
        assert!(
            serde_json::from_str::<CorrelationConfig>(r#"{"rules":[{"name":"x","by":"host","window_secs":0}]}"#)
                .is_err()
        );
    }
}
