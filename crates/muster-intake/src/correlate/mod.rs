//! Correlation: grouping alerts into incidents. Pure and deterministic: given
//! the same state and alerts, the same decisions, each with its reason
//! (which rule, which shared value). The store persists what is decided.
//!
//! For each incoming alert, in rule order:
//! 1. attach it to an open incident that shares a key (observable, rule or
//!    host, as the rule says) — incidents opened in this batch must have been
//!    active inside the rule's window, incidents loaded from the store attach
//!    for as long as they are open;
//! 2. otherwise open an incident when the alert is at or above
//!    [`CorrelationConfig::open_at`], taking along recent alerts sharing a key;
//! 3. otherwise open one when a rule's `min_alerts` recent alerts share a key;
//! 4. otherwise leave it standalone (remembered for steps 2 and 3).

mod batch;
mod config;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

pub use batch::{BatchPlan, Link, lookup_keys, lookup_keys_of, open_incident, plan_batch, plan_batch_keyed};
pub use config::{CorrelationConfig, CorrelationRule, DEFAULT_IGNORED_NETWORKS, GroupBy, Network};

use crate::alert::{Alert, Fingerprint};

/// Why an alert was grouped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reason {
    /// The correlation rule's name, or `severity-threshold`.
    pub rule: String,
    /// What was shared: an observable kind, `rule`, `host`, `rule-host` or `severity`.
    pub key: String,
    /// The shared value.
    pub value: String,
}

impl fmt::Display for Reason {
    /// `rule=shared-address, shared=ipv4:192.0.2.7`, or
    /// `rule=severity-threshold, severity=high` for an alert that opened an incident on its own.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key == "severity" {
            write!(f, "rule={}, severity={}", self.rule, self.value)
        } else {
            write!(f, "rule={}, shared={}:{}", self.rule, self.key, self.value)
        }
    }
}

/// A grouping key: (kind, value).
pub type Key = (String, String);

/// An open incident as correlation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    pub id: String,
    pub opened: OffsetDateTime,
    /// The latest alert time; `None` for an incident loaded from the store,
    /// which takes sharing alerts for as long as it stays open.
    pub last_activity: Option<OffsetDateTime>,
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

/// Open incidents and recent standalone alerts, each indexed by key so a
/// decision costs the alert's keys, not the number of incidents or alerts.
#[derive(Debug, Clone, Default)]
pub struct CorrelationState {
    incidents: Vec<OpenIncident>,
    incidents_by_key: HashMap<Key, Vec<usize>>,
    /// Standalone alerts by arrival sequence (removed ones are gone from here
    /// but may linger in the key index, which skips them).
    recent: BTreeMap<u64, Recent>,
    recent_by_key: HashMap<Key, Vec<u64>>,
    next_seq: u64,
}

/// The kinds of grouping key that are not observables.
const KEPT_KINDS: [&str; 3] = ["rule", "host", "rule-host"];

fn keys_for(config: &CorrelationConfig, rule: &CorrelationRule, alert: &Alert) -> BTreeSet<Key> {
    let rule_id = || alert.rule.as_ref().and_then(|r| r.id.as_ref()).map(|id| format!("{}:{id}", alert.source));
    match &rule.group_by {
        GroupBy::Observable { kinds } => alert
            .observables
            .iter()
            .filter(|o| kinds.contains(&o.kind()) && !config.ignores(o.kind(), o.value()))
            .map(|o| (o.kind().as_str().to_owned(), o.value().to_owned()))
            .collect(),
        GroupBy::Rule => rule_id().map(|r| ("rule".to_owned(), r)).into_iter().collect(),
        GroupBy::Host => alert.host.iter().map(|h| ("host".to_owned(), h.clone())).collect(),
        GroupBy::RuleHost => match (rule_id(), alert.host.as_deref()) {
            (Some(r), Some(h)) => [("rule-host".to_owned(), format!("{r}@{h}"))].into(),
            _ => BTreeSet::new(),
        },
    }
}

/// An alert's grouping keys, computed once: per rule, in the configuration's
/// order (empty for a rule above the alert's severity), and all together.
/// A decision reads them several times; computing them allocates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertKeys {
    per_rule: Vec<BTreeSet<Key>>,
    all: BTreeSet<Key>,
}

impl AlertKeys {
    /// The keys of `alert` under `config`'s rules.
    #[must_use]
    pub fn of(config: &CorrelationConfig, alert: &Alert) -> Self {
        let per_rule: Vec<BTreeSet<Key>> = config
            .rules
            .iter()
            .map(|r| if alert.severity >= r.min_severity { keys_for(config, r, alert) } else { BTreeSet::new() })
            .collect();
        let all = per_rule.iter().flatten().cloned().collect();
        Self { per_rule, all }
    }

    /// The keys an incident this alert joins keeps for later batches: those
    /// that are not observables (`rule`, `host`, `rule-host`), since the
    /// incident's observables already hold the others.
    #[must_use]
    pub fn kept(&self) -> Vec<Key> {
        self.all.iter().filter(|(kind, _)| KEPT_KINDS.contains(&kind.as_str())).cloned().collect()
    }

    /// The rules that apply to the alert, each with its keys.
    fn rules<'a>(
        &'a self,
        config: &'a CorrelationConfig,
        alert: &'a Alert,
    ) -> impl Iterator<Item = (&'a CorrelationRule, &'a BTreeSet<Key>)> {
        config.rules.iter().zip(&self.per_rule).filter(|(r, _)| alert.severity >= r.min_severity)
    }
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
        let i = self.incidents.len();
        for k in &incident.keys {
            self.incidents_by_key.entry(k.clone()).or_default().push(i);
        }
        self.incidents.push(incident);
    }

    /// Removes an incident that was closed.
    pub fn close_incident(&mut self, id: &str) {
        let kept: Vec<OpenIncident> = std::mem::take(&mut self.incidents).into_iter().filter(|i| i.id != id).collect();
        self.incidents_by_key.clear();
        for inc in kept {
            self.add_incident(inc);
        }
    }

    /// The open incidents known.
    #[must_use]
    pub fn incidents(&self) -> &[OpenIncident] {
        &self.incidents
    }

    /// Decides what to do with `alert`. Does not change the state.
    #[must_use]
    pub fn decide(&self, config: &CorrelationConfig, alert: &Alert) -> Decision {
        self.decide_keyed(config, alert, &AlertKeys::of(config, alert))
    }

    /// [`CorrelationState::decide`] with the alert's keys computed beforehand.
    #[must_use]
    pub fn decide_keyed(&self, config: &CorrelationConfig, alert: &Alert, alert_keys: &AlertKeys) -> Decision {
        let t = alert.first_seen;
        for (rule, keys) in alert_keys.rules(config, alert) {
            let mut best: Option<&OpenIncident> = None;
            for k in keys {
                for &i in self.incidents_by_key.get(k).map_or(&[][..], Vec::as_slice) {
                    let inc = &self.incidents[i];
                    if inc.last_activity.is_some_and(|last| !within(t, last, rule.window)) {
                        continue;
                    }
                    // Incidents already in the store first (their `opened` is a wall-clock
                    // time, not an alert time), then the oldest.
                    let rank = |i: &OpenIncident| (i.last_activity.is_some(), i.opened);
                    if best.is_none_or(|b| (rank(inc), &inc.id) < (rank(b), &b.id)) {
                        best = Some(inc);
                    }
                }
            }
            if let Some(inc) = best
                && let Some((kind, value)) = keys.iter().find(|k| inc.keys.contains(*k))
            {
                return Decision::Attach {
                    incident: inc.id.clone(),
                    reason: Reason { rule: rule.name.clone(), key: kind.clone(), value: value.clone() },
                };
            }
        }
        if alert.severity >= config.open_at {
            let related = self.related(config.longest_window(), t, &alert_keys.all);
            return Decision::Open {
                reason: Reason {
                    rule: "severity-threshold".into(),
                    key: "severity".into(),
                    value: alert.severity.as_str().into(),
                },
                related,
            };
        }
        for (rule, keys) in alert_keys.rules(config, alert) {
            let Some(min_alerts) = rule.min_alerts else { continue };
            // Deterministic: the key with the most alerts, then the smallest key.
            let pick = keys
                .iter()
                .map(|k| (k, self.related(rule.window, t, &[k.clone()].into())))
                .filter(|(_, fps)| fps.len() + 1 >= min_alerts)
                .max_by(|a, b| a.1.len().cmp(&b.1.len()).then_with(|| b.0.cmp(a.0)));
            if let Some(((kind, value), fps)) = pick {
                return Decision::Open {
                    reason: Reason { rule: rule.name.clone(), key: kind.clone(), value: value.clone() },
                    related: fps,
                };
            }
        }
        Decision::Standalone
    }

    /// Recent standalone alerts within `window` of `t` sharing one of `keys`.
    fn related(&self, window: Duration, t: OffsetDateTime, keys: &BTreeSet<Key>) -> Vec<Fingerprint> {
        let mut fps: Vec<Fingerprint> = keys
            .iter()
            .filter_map(|k| self.recent_by_key.get(k))
            .flatten()
            .filter_map(|seq| self.recent.get(seq))
            .filter(|r| within(t, r.time, window))
            .map(|r| r.fingerprint)
            .collect();
        fps.sort();
        fps.dedup();
        fps
    }

    /// Records a decision. `new_id` names an incident this decision opens.
    pub fn apply(&mut self, config: &CorrelationConfig, alert: &Alert, decision: &Decision, new_id: &str) {
        self.apply_keyed(config, alert, &AlertKeys::of(config, alert), decision, new_id);
    }

    /// [`CorrelationState::apply`] with the alert's keys computed beforehand.
    pub fn apply_keyed(
        &mut self,
        config: &CorrelationConfig,
        alert: &Alert,
        alert_keys: &AlertKeys,
        decision: &Decision,
        new_id: &str,
    ) {
        let t = alert.last_seen;
        match decision {
            Decision::Attach { incident, .. } => {
                if let Some(i) = self.incidents.iter().position(|i| &i.id == incident) {
                    for k in &alert_keys.all {
                        if !self.incidents[i].keys.contains(k) {
                            self.incidents[i].keys.insert(k.clone());
                            self.incidents_by_key.entry(k.clone()).or_default().push(i);
                        }
                    }
                    let inc = &mut self.incidents[i];
                    inc.last_activity = inc.last_activity.map(|last| last.max(t));
                }
            }
            Decision::Open { related, .. } => {
                let mut inc_keys = alert_keys.all.clone();
                if !related.is_empty() {
                    self.recent.retain(|_, r| {
                        let taken = related.binary_search(&r.fingerprint).is_ok();
                        if taken {
                            inc_keys.extend(r.keys.iter().cloned());
                        }
                        !taken
                    });
                }
                self.add_incident(OpenIncident {
                    id: new_id.to_owned(),
                    opened: alert.first_seen,
                    last_activity: Some(t),
                    keys: inc_keys,
                });
            }
            Decision::Standalone => {
                if alert_keys.all.is_empty() {
                    return;
                }
                let keys = alert_keys.all.clone();
                let seq = self.next_seq;
                self.next_seq += 1;
                for k in &keys {
                    self.recent_by_key.entry(k.clone()).or_default().push(seq);
                }
                self.recent.insert(seq, Recent { fingerprint: alert.fingerprint, time: t, keys });
                if self.recent.len() > config.max_recent {
                    let window = config.longest_window();
                    self.recent.retain(|_, r| within(t, r.time, window));
                    while self.recent.len() > config.max_recent {
                        self.recent.pop_first();
                    }
                    let live = &self.recent;
                    self.recent_by_key.retain(|_, seqs| {
                        seqs.retain(|s| live.contains_key(s));
                        !seqs.is_empty()
                    });
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
    use crate::alert::{Format, Rule, Severity};
    use crate::observable::{ObservableKind, Role};
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
        let mut c = CorrelationConfig::default();
        c.rules[0].min_alerts = Some(3);
        let mut s = CorrelationState::new();
        let a1 = alert(0, Severity::Low, "198.51.100.1", Some("evil.example"));
        let a2 = alert(5, Severity::Low, "198.51.100.2", Some("evil.example"));
        assert_eq!(run(&mut s, &c, &a1, "i1"), Decision::Standalone);
        assert_eq!(run(&mut s, &c, &a2, "i2"), Decision::Standalone);
        let d = run(&mut s, &c, &alert(9, Severity::Low, "198.51.100.3", Some("evil.example")), "i3");
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
        // The incident now knows 198.51.100.1, so a later alert from it attaches.
        let d = s.decide(&c, &alert(20, Severity::Low, "198.51.100.1", None));
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
                last_activity: Some(T0 + Duration::minutes(minute)),
                keys: [("ipv4".to_owned(), "198.51.100.99".to_owned())].into(),
            });
        }
        let a = alert(10, Severity::Low, "198.51.100.99", None);
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
        let mut a = alert(0, Severity::Info, "198.51.100.1", Some("x.example"));
        a.host = Some("web-1".into());
        for i in 0..10 {
            let mut b = alert(i, Severity::Info, "198.51.100.1", Some("x.example"));
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
            let a = alert(i, Severity::Low, &format!("203.0.113.{i}"), None);
            run(&mut s, &c, &a, "i");
        }
        assert_eq!(s.recent_len(), 3);
    }
}
