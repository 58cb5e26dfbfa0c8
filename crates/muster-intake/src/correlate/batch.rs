//! Correlating one intake batch: the incidents already open in the store that
//! share its keys, plus the batch's own alerts, in time order, give every
//! alert its decision. The store writes the plan in the batch's transaction.

use std::collections::BTreeSet;

use time::OffsetDateTime;

use super::{AlertKeys, CorrelationConfig, CorrelationState, Decision, Key, OpenIncident, Reason};
use crate::alert::Alert;

/// One alert grouped into an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Index of the alert in the slice given to [`plan_batch`].
    pub alert: usize,
    pub incident: String,
    pub reason: Reason,
}

/// What a batch does to incidents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchPlan {
    /// Incidents the batch opens: their new id and the alert that opened each, in opening order.
    pub opened: Vec<(String, usize)>,
    /// Every grouped alert (openers included) with its incident and why, in decision order.
    pub links: Vec<Link>,
}

/// The `(kind, value)` keys of `alerts` through which they could attach to an
/// incident already open in the store: observables of the observable rules'
/// kinds (ignored values left out), which the store finds among incidents'
/// observables, and `rule`, `host` and `rule-host` keys, which it finds among
/// the keys incidents keep (see [`AlertKeys::kept`]).
#[must_use]
pub fn lookup_keys<'a>(config: &CorrelationConfig, alerts: impl IntoIterator<Item = &'a Alert>) -> BTreeSet<Key> {
    if !config.enabled {
        return BTreeSet::new();
    }
    let keys: Vec<AlertKeys> = alerts.into_iter().map(|a| AlertKeys::of(config, a)).collect();
    lookup_keys_of(config, &keys)
}

/// [`lookup_keys`] from the alerts' keys computed beforehand.
#[must_use]
pub fn lookup_keys_of(config: &CorrelationConfig, alerts: &[AlertKeys]) -> BTreeSet<Key> {
    if !config.enabled {
        return BTreeSet::new();
    }
    // A rule above an alert's severity has no keys for it.
    alerts.iter().flat_map(|a| a.all.iter().cloned()).collect()
}

/// Decides the batch: `open` are the store's open incidents sharing its keys
/// (each with the shared keys), `alerts` the batch's new alerts. Alerts are
/// taken by first-seen time, then fingerprint, then position, so the same
/// input gives the same plan. `new_id` names each incident the batch opens.
#[must_use]
pub fn plan_batch(
    config: &CorrelationConfig,
    open: Vec<OpenIncident>,
    alerts: &[&Alert],
    new_id: impl FnMut() -> String,
) -> BatchPlan {
    let keys: Vec<AlertKeys> = alerts.iter().map(|a| AlertKeys::of(config, a)).collect();
    let keys: Vec<&AlertKeys> = keys.iter().collect();
    plan_batch_keyed(config, open, alerts, &keys, new_id)
}

/// [`plan_batch`] with each alert's keys computed beforehand (`keys[i]` are `alerts[i]`'s).
#[must_use]
pub fn plan_batch_keyed(
    config: &CorrelationConfig,
    open: Vec<OpenIncident>,
    alerts: &[&Alert],
    keys: &[&AlertKeys],
    mut new_id: impl FnMut() -> String,
) -> BatchPlan {
    let mut plan = BatchPlan::default();
    if !config.enabled || alerts.is_empty() {
        return plan;
    }
    let mut state = CorrelationState::new();
    let mut open = open;
    open.sort_by(|a, b| (a.opened, &a.id).cmp(&(b.opened, &b.id)));
    for inc in open {
        state.add_incident(inc);
    }
    let mut order: Vec<usize> = (0..alerts.len()).collect();
    order.sort_by_key(|&i| (alerts[i].first_seen, alerts[i].fingerprint, i));
    let mut standalone: Vec<usize> = Vec::new();
    for i in order {
        let a = alerts[i];
        let decision = state.decide_keyed(config, a, keys[i]);
        let id = if matches!(decision, Decision::Open { .. }) { new_id() } else { String::new() };
        state.apply_keyed(config, a, keys[i], &decision, &id);
        match decision {
            Decision::Attach { incident, reason } => plan.links.push(Link { alert: i, incident, reason }),
            Decision::Open { reason, related } => {
                plan.opened.push((id.clone(), i));
                let (taken, rest): (Vec<usize>, Vec<usize>) =
                    standalone.into_iter().partition(|&j| related.binary_search(&alerts[j].fingerprint).is_ok());
                standalone = rest;
                for j in taken {
                    let why = shared_reason(config, keys[j], keys[i]).unwrap_or_else(|| reason.clone());
                    plan.links.push(Link { alert: j, incident: id.clone(), reason: why });
                }
                plan.links.push(Link { alert: i, incident: id, reason });
            }
            Decision::Standalone => standalone.push(i),
        }
    }
    plan
}

/// The first rule (in order) by which `a` and `b` share a key, as a reason.
/// (A rule above either alert's severity has no keys for it.)
fn shared_reason(config: &CorrelationConfig, a: &AlertKeys, b: &AlertKeys) -> Option<Reason> {
    config.rules.iter().zip(a.per_rule.iter().zip(&b.per_rule)).find_map(|(r, (ours, theirs))| {
        ours.iter().find(|k| theirs.contains(*k)).map(|(key, value)| Reason {
            rule: r.name.clone(),
            key: key.clone(),
            value: value.clone(),
        })
    })
}

/// An incident loaded from the store for [`plan_batch`].
#[must_use]
pub fn open_incident(id: String, opened: OffsetDateTime, keys: BTreeSet<Key>) -> OpenIncident {
    OpenIncident { id, opened, last_activity: None, keys }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Format, Rule, Severity};
    use crate::observable::Role;
    use muster_core::taxonomy::RsitType;
    use time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-01-01 00:00 UTC);

    fn alert(minute: i64, severity: Severity, src: &str, dst: &str, sid: u32) -> Alert {
        let rsit = RsitType::parse("ids-alert").unwrap_or_else(|e| panic!("{e}"));
        let mut a = Alert::new(Format::Eve, "suricata", "x", T0 + Duration::minutes(minute), rsit);
        a.severity = severity;
        a.observe_ip(src, Some(Role::Source), "src");
        a.observe_ip(dst, Some(Role::Destination), "dst");
        a.rule = Some(Rule { id: Some(format!("1:{sid}")), ..Rule::default() });
        a.seal(&[])
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("inc-{n}")
        }
    }

    #[test]
    fn a_high_alert_opens_one_incident_and_takes_earlier_and_later_sharing_alerts() {
        let c = CorrelationConfig::default();
        let batch = [
            alert(0, Severity::Medium, "192.0.2.7", "10.0.0.1", 1),
            alert(1, Severity::High, "192.0.2.7", "10.0.0.2", 2),
            alert(2, Severity::Low, "192.0.2.7", "10.0.0.3", 3),
            alert(3, Severity::Medium, "198.51.100.1", "10.0.0.1", 4),
        ];
        let refs: Vec<&Alert> = batch.iter().collect();
        let plan = plan_batch(&c, Vec::new(), &refs, ids());
        assert_eq!(plan.opened, [("inc-1".to_owned(), 1)]);
        let mut linked: Vec<(usize, String)> = plan.links.iter().map(|l| (l.alert, l.reason.to_string())).collect();
        linked.sort();
        let why = "rule=shared-address, shared=ipv4:192.0.2.7".to_owned();
        assert_eq!(
            linked,
            [(0, why.clone()), (1, "rule=severity-threshold, severity=high".to_owned()), (2, why)],
            "the private destination 10.0.0.1 groups nothing"
        );
        assert_eq!(plan_batch(&c, Vec::new(), &refs, ids()), plan, "deterministic");
    }

    #[test]
    fn an_incident_open_in_the_store_takes_sharing_alerts_at_any_time() {
        let c = CorrelationConfig::default();
        let late = alert(60 * 24 * 30, Severity::Low, "192.0.2.7", "10.0.0.9", 9);
        let keys = lookup_keys(&c, [&late]);
        assert_eq!(keys, [("ipv4".to_owned(), "192.0.2.7".to_owned())].into());
        let stored = open_incident("incident--old".into(), T0, keys);
        let plan = plan_batch(&c, vec![stored], &[&late], ids());
        assert!(plan.opened.is_empty());
        assert_eq!(plan.links.len(), 1);
        assert_eq!(plan.links[0].incident, "incident--old");
    }

    #[test]
    fn an_incident_open_in_the_store_takes_a_later_alert_of_the_same_rule_on_the_same_host() {
        let c = CorrelationConfig::default();
        let on = |host: &str, minute, severity| {
            // Private addresses only: nothing but the rule and the host can group these.
            let mut a = alert(minute, severity, "10.0.0.5", "10.0.0.6", 7);
            a.host = Some(host.into());
            a
        };
        let opener = on("sensor-1", 0, Severity::High);
        let kept = AlertKeys::of(&c, &opener).kept();
        assert_eq!(kept, [("rule-host".to_owned(), "suricata:1:7@sensor-1".to_owned())]);
        let stored = open_incident("incident--old".into(), T0, kept.into_iter().collect());
        let (later, elsewhere) = (on("sensor-1", 60 * 24, Severity::Low), on("sensor-2", 60 * 24, Severity::Low));
        assert!(lookup_keys(&c, [&later]).contains(&("rule-host".to_owned(), "suricata:1:7@sensor-1".to_owned())));
        let plan = plan_batch(&c, vec![stored], &[&later, &elsewhere], ids());
        assert!(plan.opened.is_empty());
        let linked: Vec<(usize, &str, String)> =
            plan.links.iter().map(|l| (l.alert, l.incident.as_str(), l.reason.to_string())).collect();
        assert_eq!(
            linked,
            [(0, "incident--old", "rule=same-rule-on-host, shared=rule-host:suricata:1:7@sensor-1".to_owned())]
        );
    }

    #[test]
    fn below_the_threshold_nothing_opens_and_disabled_decides_nothing() {
        let c = CorrelationConfig::default();
        let batch: Vec<Alert> = (0..20).map(|i| alert(i, Severity::Medium, "192.0.2.7", "10.0.0.1", 1)).collect();
        let refs: Vec<&Alert> = batch.iter().collect();
        assert_eq!(plan_batch(&c, Vec::new(), &refs, ids()), BatchPlan::default());
        let high = alert(0, Severity::Critical, "192.0.2.7", "10.0.0.1", 1);
        let off = CorrelationConfig { enabled: false, ..CorrelationConfig::default() };
        assert_eq!(plan_batch(&off, Vec::new(), &[&high], ids()), BatchPlan::default());
        assert!(lookup_keys(&off, [&high]).is_empty());
    }
}
