//! Correlation: grouping alerts into incidents. Pure and deterministic: given
//! the same state and alert, the same decision, with the reason recorded
//! (which rule, which shared value). The server persists the state.
//!
//! For each incoming alert, in rule order:
//! 1. attach it to an open incident that shares a key (observable, rule or
//!    host, as the rule says) and was active inside the rule's window;
//! 2. otherwise open an incident when the alert is at or above
//!    [`CorrelationConfig::open_at`], taking along recent alerts sharing a key;
//! 3. otherwise open one when a rule's `min_alerts` recent alerts share a key;
//! 4. otherwise leave it standalone (remembered for step 3).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::alert::{Alert, Fingerprint, Severity};
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
}

/// One correlation rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelationRule {
    pub name: String,
    pub group_by: GroupBy,
    /// How far apart alerts may be and still be grouped.
    #[serde(with = "seconds")]
    pub window: Duration,
    /// Alerts below this severity are not grouped by this rule.
    pub min_severity: Severity,
    /// Recent standalone alerts sharing a key (this one included) that open an incident.
    pub min_alerts: usize,
}

mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.whole_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        i64::deserialize(d).map(Duration::seconds)
    }
}

/// The correlation settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelationConfig {
    pub rules: Vec<CorrelationRule>,
    /// An alert at or above this opens an incident on its own.
    pub open_at: Severity,
    /// Most standalone alerts remembered (oldest forgotten first).
    pub max_recent: usize,
}

impl Default for CorrelationConfig {
    /// Shared IP within 1 h, shared indicator (domain, URL, hash, CVE) within
    /// 24 h, same rule on the same host within 1 h; 5 related low alerts or
    /// one high alert open an incident.
    fn default() -> Self {
        use ObservableKind as K;
        Self {
            rules: vec![
                CorrelationRule {
                    name: "shared-indicator".into(),
                    group_by: GroupBy::Observable {
                        kinds: vec![K::Domain, K::Url, K::Md5, K::Sha1, K::Sha256, K::Cve, K::Email],
                    },
                    window: Duration::hours(24),
                    min_severity: Severity::Low,
                    min_alerts: 3,
                },
                CorrelationRule {
                    name: "shared-address".into(),
                    group_by: GroupBy::Observable { kinds: vec![K::Ipv4, K::Ipv6] },
                    window: Duration::hours(1),
                    min_severity: Severity::Low,
                    min_alerts: 5,
                },
                CorrelationRule {
                    name: "same-host".into(),
                    group_by: GroupBy::Host,
                    window: Duration::hours(1),
                    min_severity: Severity::Medium,
                    min_alerts: 5,
                },
                CorrelationRule {
                    name: "same-rule".into(),
                    group_by: GroupBy::Rule,
                    window: Duration::hours(1),
                    min_severity: Severity::Medium,
                    min_alerts: 10,
                },
            ],
            open_at: Severity::High,
            max_recent: 100_000,
        }
    }
}

/// Why an alert was grouped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reason {
    /// The correlation rule's name, or `severity-threshold`.
    pub rule: String,
    /// What was shared: an observable kind, `rule`, `host` or `severity`.
    pub key: String,
    /// The shared value.
    pub value: String,
}

/// A grouping key: (kind, value).
pub type Key = (String, String);

/// An open incident as correlation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    pub id: String,
    pub opened: OffsetDateTime,
    pub last_activity: OffsetDateTime,
    pub keys: BTreeSet<Key>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Recent {
    fingerprint: Fingerprint,
    time: OffsetDateTime,
    keys: BTreeSet<Key>,
}

/// The decision for one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Add the alert to this open incident.
    Attach { incident: String, reason: Reason },
    /// Open a new incident with this alert and the `related` recent ones.
    Open { reason: Reason, related: Vec<Fingerprint> },
    /// No incident (yet).
    Standalone,
}

/// Open incidents and recent standalone alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorrelationState {
    pub incidents: Vec<OpenIncident>,
    recent: Vec<Recent>,
}

fn keys_for(rule: &CorrelationRule, alert: &Alert) -> BTreeSet<Key> {
    match &rule.group_by {
        GroupBy::Observable { kinds } => alert
            .observables
            .iter()
            .filter(|o| kinds.contains(&o.kind()))
            .map(|o| (o.kind().as_str().to_owned(), o.value().to_owned()))
            .collect(),
        GroupBy::Rule => alert
            .rule
            .as_ref()
            .and_then(|r| r.id.as_ref())
            .map(|id| ("rule".to_owned(), format!("{}:{id}", alert.source)))
            .into_iter()
            .collect(),
        GroupBy::Host => alert.host.iter().map(|h| ("host".to_owned(), h.clone())).collect(),
    }
}

fn all_keys(config: &CorrelationConfig, alert: &Alert) -> BTreeSet<Key> {
    config.rules.iter().filter(|r| alert.severity >= r.min_severity).flat_map(|r| keys_for(r, alert)).collect()
}

fn within(a: OffsetDateTime, b: OffsetDateTime, window: Duration) -> bool {
    (a - b).abs() <= window
}

impl CorrelationState {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an incident opened elsewhere (e.g. loaded from the store).
    pub fn add_incident(&mut self, incident: OpenIncident) {
        self.incidents.push(incident);
    }

    /// Removes an incident that was closed.
    pub fn close_incident(&mut self, id: &str) {
        self.incidents.retain(|i| i.id != id);
    }

    /// Decides what to do with `alert`. Does not change the state.
    #[must_use]
    pub fn decide(&self, config: &CorrelationConfig, alert: &Alert) -> Decision {
        let t = alert.first_seen;
        for rule in config.rules.iter().filter(|r| alert.severity >= r.min_severity) {
            let keys = keys_for(rule, alert);
            let mut best: Option<(&OpenIncident, &Key)> = None;
            for inc in &self.incidents {
                if !within(t, inc.last_activity, rule.window) {
                    continue;
                }
                if let Some(k) = keys.iter().find(|k| inc.keys.contains(*k)) {
                    let better = best.is_none_or(|(b, _)| (inc.opened, &inc.id) < (b.opened, &b.id));
                    if better {
                        best = Some((inc, k));
                    }
                }
            }
            if let Some((inc, (kind, value))) = best {
                return Decision::Attach {
                    incident: inc.id.clone(),
                    reason: Reason { rule: rule.name.clone(), key: kind.clone(), value: value.clone() },
                };
            }
        }
        if alert.severity >= config.open_at {
            let keys = all_keys(config, alert);
            let related = self.related(config, alert, &keys);
            return Decision::Open {
                reason: Reason {
                    rule: "severity-threshold".into(),
                    key: "severity".into(),
                    value: alert.severity.as_str().into(),
                },
                related,
            };
        }
        for rule in config.rules.iter().filter(|r| alert.severity >= r.min_severity) {
            let mut by_key: BTreeMap<&Key, Vec<Fingerprint>> = BTreeMap::new();
            let keys = keys_for(rule, alert);
            for r in self.recent.iter().filter(|r| within(t, r.time, rule.window)) {
                for k in keys.iter().filter(|k| r.keys.contains(*k)) {
                    by_key.entry(k).or_default().push(r.fingerprint);
                }
            }
            // Deterministic: the key with the most alerts, then the smallest key.
            let pick = by_key
                .into_iter()
                .filter(|(_, fps)| fps.len() + 1 >= rule.min_alerts)
                .max_by(|a, b| a.1.len().cmp(&b.1.len()).then_with(|| b.0.cmp(a.0)));
            if let Some(((kind, value), mut fps)) = pick {
                fps.sort();
                fps.dedup();
                return Decision::Open {
                    reason: Reason { rule: rule.name.clone(), key: kind.clone(), value: value.clone() },
                    related: fps,
                };
            }
        }
        Decision::Standalone
    }

    fn related(&self, config: &CorrelationConfig, alert: &Alert, keys: &BTreeSet<Key>) -> Vec<Fingerprint> {
        let window = config.rules.iter().map(|r| r.window).max().unwrap_or(Duration::ZERO);
        let mut fps: Vec<Fingerprint> = self
            .recent
            .iter()
            .filter(|r| within(alert.first_seen, r.time, window) && !r.keys.is_disjoint(keys))
            .map(|r| r.fingerprint)
            .collect();
        fps.sort();
        fps.dedup();
        fps
    }

    /// Records a decision. `new_id` names an incident this decision opens.
    pub fn apply(&mut self, config: &CorrelationConfig, alert: &Alert, decision: &Decision, new_id: &str) {
        let keys = all_keys(config, alert);
        let t = alert.last_seen;
        match decision {
            Decision::Attach { incident, .. } => {
                if let Some(inc) = self.incidents.iter_mut().find(|i| &i.id == incident) {
                    inc.keys.extend(keys);
                    inc.last_activity = inc.last_activity.max(t);
                }
            }
            Decision::Open { related, .. } => {
                let mut inc_keys = keys;
                self.recent.retain(|r| {
                    let taken = related.contains(&r.fingerprint);
                    if taken {
                        inc_keys.extend(r.keys.iter().cloned());
                    }
                    !taken
                });
                self.incidents.push(OpenIncident {
                    id: new_id.to_owned(),
                    opened: alert.first_seen,
                    last_activity: t,
                    keys: inc_keys,
                });
            }
            Decision::Standalone => {
                self.recent.push(Recent { fingerprint: alert.fingerprint, time: t, keys });
                let window = config.rules.iter().map(|r| r.window).max().unwrap_or(Duration::ZERO);
                self.recent.retain(|r| within(t, r.time, window));
                if self.recent.len() > config.max_recent {
                    let excess = self.recent.len() - config.max_recent;
                    self.recent.drain(..excess);
                }
            }
        }
    }

    /// Number of remembered standalone alerts.
    #[must_use]
    pub fn recent_len(&self) -> usize {
        self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Format, Rule};
    use crate::observable::Role;
    use muster_core::taxonomy::RsitType;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-01-01 00:00 UTC);

    fn alert(minute: i64, severity: Severity, src: &str, domain: Option<&str>) -> Alert {
        let rsit = RsitType::parse("ids-alert").unwrap_or_else(|e| panic!("{e}"));
        let mut a = Alert::new(Format::Eve, "suricata", "x", T0 + Duration::minutes(minute), rsit);
        a.severity = severity;
        a.observe_ip(src, Some(Role::Source), "src");
        if let Some(d) = domain {
            a.observe(ObservableKind::Domain, d, None, "d");
        }
        a.rule = Some(Rule { id: Some(format!("1:{minute}")), ..Rule::default() });
        a.seal(&[])
    }

    fn run(state: &mut CorrelationState, config: &CorrelationConfig, a: &Alert, id: &str) -> Decision {
        let d = state.decide(config, a);
        state.apply(config, a, &d, id);
        d
    }

    #[test]
    fn high_alert_opens_and_a_sharing_alert_attaches_with_its_reason() {
        let c = CorrelationConfig::default();
        let mut s = CorrelationState::new();
        let d = run(&mut s, &c, &alert(0, Severity::High, "203.0.113.9", None), "inc-1");
        assert!(matches!(&d, Decision::Open { reason, .. } if reason.rule == "severity-threshold"));
        let d = run(&mut s, &c, &alert(30, Severity::Low, "203.0.113.9", None), "inc-2");
        assert_eq!(
            d,
            Decision::Attach {
                incident: "inc-1".into(),
                reason: Reason { rule: "shared-address".into(), key: "ipv4".into(), value: "203.0.113.9".into() },
            }
        );
        // Outside the 1 h address window: not attached.
        let d = s.decide(&c, &alert(200, Severity::Low, "203.0.113.9", None));
        assert_eq!(d, Decision::Standalone);
    }

    #[test]
    fn enough_low_alerts_sharing_an_indicator_open_an_incident() {
        let c = CorrelationConfig::default();
        let mut s = CorrelationState::new();
        let a1 = alert(0, Severity::Low, "10.0.0.1", Some("evil.example"));
        let a2 = alert(5, Severity::Low, "10.0.0.2", Some("evil.example"));
        assert_eq!(run(&mut s, &c, &a1, "i1"), Decision::Standalone);
        assert_eq!(run(&mut s, &c, &a2, "i2"), Decision::Standalone);
        let d = run(&mut s, &c, &alert(9, Severity::Low, "10.0.0.3", Some("evil.example")), "i3");
        let mut related = vec![a1.fingerprint, a2.fingerprint];
        related.sort();
        assert_eq!(
            d,
            Decision::Open {
                reason: Reason { rule: "shared-indicator".into(), key: "domain".into(), value: "evil.example".into() },
                related,
            }
        );
        assert_eq!(s.recent_len(), 0, "grouped alerts leave the recent list");
        // The incident now knows 10.0.0.1, so a later alert from it attaches.
        let d = s.decide(&c, &alert(20, Severity::Low, "10.0.0.1", None));
        assert!(matches!(d, Decision::Attach { ref incident, .. } if incident == "i3"), "{d:?}");
    }

    #[test]
    fn decisions_are_deterministic_and_prefer_the_oldest_incident() {
        let c = CorrelationConfig::default();
        let mut s = CorrelationState::new();
        for (id, minute) in [("b", 1), ("a", 0)] {
            s.add_incident(OpenIncident {
                id: id.into(),
                opened: T0 + Duration::minutes(minute),
                last_activity: T0 + Duration::minutes(minute),
                keys: [("ipv4".to_owned(), "10.9.9.9".to_owned())].into(),
            });
        }
        let a = alert(10, Severity::Low, "10.9.9.9", None);
        let first = s.decide(&c, &a);
        assert!(matches!(&first, Decision::Attach { incident, .. } if incident == "a"));
        assert_eq!(s.decide(&c, &a), first);
        s.close_incident("a");
        assert!(matches!(s.decide(&c, &a), Decision::Attach { incident, .. } if incident == "b"));
    }

    #[test]
    fn below_a_rules_severity_the_rule_does_not_group() {
        let c = CorrelationConfig::default();
        let mut s = CorrelationState::new();
        let mut a = alert(0, Severity::Info, "10.0.0.1", Some("x.example"));
        a.host = Some("web-1".into());
        for i in 0..10 {
            let mut b = alert(i, Severity::Info, "10.0.0.1", Some("x.example"));
            b.host = Some("web-1".into());
            assert_eq!(run(&mut s, &c, &b, "i"), Decision::Standalone);
        }
        assert_eq!(s.decide(&c, &a), Decision::Standalone);
    }

    #[test]
    fn recent_memory_is_bounded() {
        let c = CorrelationConfig { max_recent: 3, ..CorrelationConfig::default() };
        let mut s = CorrelationState::new();
        for i in 0..10 {
            let a = alert(i, Severity::Low, &format!("10.0.1.{i}"), None);
            run(&mut s, &c, &a, "i");
        }
        assert_eq!(s.recent_len(), 3);
    }
}
