//! Automation rules: when an incident is created or updated, or alerts are
//! matched to it, each enabled rule of its organisation for that trigger is
//! checked against the incident (severity, RSIT type, alert sources,
//! observable kinds); a match runs the rule's playbook with variables mapped
//! from the incident (mode `automatic`), or proposes the run on the incident
//! (`suggested`: an analyst starts it; `approval`: a coordinator or admin does).
//!
//! Request handlers only [`on_incident_event`]: a channel send after their
//! commit. The worker here does the rest.

use std::collections::{BTreeMap, BTreeSet};

use muster_core::Pap;
use muster_store::{IncidentRow, NewProposal, RuleRow, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::{Playbooks, StartRun};
use crate::state::AppState;

/// What happened to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentEvent {
    /// Opened (from its alerts, when any).
    Created { incident_id: String },
    /// Its status or content changed.
    Updated { incident_id: String },
}

/// The triggers a rule can name.
pub const TRIGGERS: &[&str] = &["incident-created", "incident-updated", "alert-matched"];
/// The modes a rule can have.
pub const MODES: &[&str] = &["automatic", "suggested", "approval"];
/// The incident fields a rule may map into playbook variables.
pub const SOURCES: &[&str] = &[
    "incident.id",
    "incident.title",
    "incident.description",
    "incident.severity",
    "incident.rsit_type",
    "incident.tlp",
    "incident.pap",
    "incident.status",
    "alert_ids",
    "observables",
    "hosts",
    "host",
    "sources",
];

/// Tells the automation worker about an incident event, after its commit. Never blocks.
pub fn on_incident_event(state: &AppState, event: IncidentEvent) {
    state.playbooks.incident_event(event);
}

/// A rule's conditions; every list given must contain a value of the incident (empty lists match all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// info, low, medium, high, critical
    #[serde(default)]
    pub severities: Vec<String>,
    /// RSIT types, e.g. `phishing`.
    #[serde(default)]
    pub rsit_types: Vec<String>,
    /// Alert sources (the monitoring tool) of the incident's alerts.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Observable kinds present among the incident's alerts (ipv4, domain, sha256…).
    #[serde(default)]
    pub observable_kinds: Vec<String>,
}

/// What an incident offers to conditions and variables.
#[derive(Debug, Clone)]
pub struct IncidentContext {
    pub incident: IncidentRow,
    pub alert_ids: Vec<String>,
    /// (kind, value, PAP of the alert it came from)
    pub observables: Vec<(String, String, Pap)>,
    pub hosts: Vec<String>,
    pub sources: Vec<String>,
}

/// Alerts read a query at a time by [`incident_context`].
const CONTEXT_PAGE: i64 = 500;

/// Loads an incident with what its alerts say.
///
/// # Errors
/// Store errors.
pub async fn incident_context(store: &Store, id: &str) -> Result<IncidentContext, StoreError> {
    let incident = store.incident(id).await?;
    let mut alert_ids = Vec::new();
    // In the alerts' order, each (kind, value, PAP) once: an incident correlation
    // fed repeats its attacker's address in every alert.
    let mut observables = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut hosts = BTreeSet::new();
    let mut sources = BTreeSet::new();
    store
        .each_incident_alert(id, CONTEXT_PAGE, |alert, content| {
            sources.insert(alert.source.clone());
            let pap = alert.pap.parse::<Pap>().unwrap_or(Pap::Amber);
            let doc: Value = serde_json::from_str(&content.doc).unwrap_or(Value::Null);
            if let Some(h) = doc.get("host").and_then(Value::as_str) {
                hosts.insert(h.to_owned());
            }
            for o in doc.get("observables").and_then(Value::as_array).into_iter().flatten() {
                if let (Some(k), Some(v)) =
                    (o.get("kind").and_then(Value::as_str), o.get("value").and_then(Value::as_str))
                {
                    if k == "hostname" {
                        hosts.insert(v.to_owned());
                    }
                    let o = (k.to_owned(), v.to_owned(), pap);
                    if seen.insert(o.clone()) {
                        observables.push(o);
                    }
                }
            }
            alert_ids.push(alert.id);
        })
        .await?;
    Ok(IncidentContext {
        incident,
        alert_ids,
        observables,
        hosts: hosts.into_iter().collect(),
        sources: sources.into_iter().collect(),
    })
}

/// Observable values of an incident that playbooks may not act on (PAP:AMBER or PAP:RED).
///
/// # Errors
/// Store errors.
pub async fn restricted_values(store: &Store, incident_id: &str) -> Result<BTreeMap<String, Pap>, StoreError> {
    let cx = incident_context(store, incident_id).await?;
    Ok(cx.observables.into_iter().filter(|(_, _, p)| !p.allows_active_action()).map(|(_, v, p)| (v, p)).collect())
}

/// Whether `cx` meets the conditions.
#[must_use]
pub fn matches(c: &Conditions, cx: &IncidentContext) -> bool {
    let any = |list: &[String], have: &[&str]| list.is_empty() || list.iter().any(|l| have.contains(&l.as_str()));
    let kinds: Vec<&str> = cx.observables.iter().map(|(k, _, _)| k.as_str()).collect();
    any(&c.severities, &[cx.incident.severity.as_str()])
        && any(&c.rsit_types, &cx.incident.rsit_type.as_deref().into_iter().collect::<Vec<_>>())
        && any(&c.sources, &cx.sources.iter().map(String::as_str).collect::<Vec<_>>())
        && any(&c.observable_kinds, &kinds)
}

/// The value of one mapping source (`observables:ipv4` picks one kind; `observable:ipv4` the first of it).
/// Lists are given as comma-separated text, the form CACAO string variables take.
#[must_use]
pub fn source_value(source: &str, cx: &IncidentContext) -> Option<Value> {
    let i = &cx.incident;
    let s = |v: &str| Some(Value::String(v.to_owned()));
    let join = |v: Vec<&str>| Some(Value::String(v.join(",")));
    match source {
        "incident.id" => s(&i.id),
        "incident.title" => s(&i.title),
        "incident.description" => s(&i.description),
        "incident.severity" => s(&i.severity),
        "incident.rsit_type" => i.rsit_type.as_deref().and_then(s),
        "incident.tlp" => s(i.tlp.as_str()),
        "incident.pap" => s(&i.pap),
        "incident.status" => s(i.lifecycle.status.as_str()),
        "alert_ids" => join(cx.alert_ids.iter().map(String::as_str).collect()),
        "observables" => join(cx.observables.iter().map(|(_, v, _)| v.as_str()).collect()),
        "hosts" => join(cx.hosts.iter().map(String::as_str).collect()),
        "host" => cx.hosts.first().and_then(|h| s(h)),
        "sources" => join(cx.sources.iter().map(String::as_str).collect()),
        other => {
            if let Some(kind) = other.strip_prefix("observables:") {
                join(cx.observables.iter().filter(|(k, _, _)| k == kind).map(|(_, v, _)| v.as_str()).collect())
            } else if let Some(kind) = other.strip_prefix("observable:") {
                cx.observables.iter().find(|(k, _, _)| k == kind).and_then(|(_, v, _)| s(v))
            } else {
                None
            }
        }
    }
}

/// Checks a mapping source is one of the known ones.
#[must_use]
pub fn known_source(source: &str) -> bool {
    SOURCES.contains(&source)
        || source.strip_prefix("observables:").or_else(|| source.strip_prefix("observable:")).is_some_and(|k| {
            !k.is_empty() && k.len() < 32 && k.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
        })
}

/// The run inputs a rule maps from an incident. A source with no value is left out.
#[must_use]
pub fn map_inputs(mapping: &BTreeMap<String, String>, cx: &IncidentContext) -> BTreeMap<String, Value> {
    mapping.iter().filter_map(|(var, src)| source_value(src, cx).map(|v| (var.clone(), v))).collect()
}

pub(super) async fn worker(service: Playbooks, mut rx: mpsc::Receiver<IncidentEvent>) {
    while let Some(event) = rx.recv().await {
        if let Err(e) = handle(&service, &event).await {
            tracing::warn!(?event, error = %e, "automation rules could not be evaluated");
        }
    }
}

async fn handle(service: &Playbooks, event: &IncidentEvent) -> Result<(), super::RunError> {
    let store = &service.0.store;
    let (id, triggers): (&str, &[&str]) = match event {
        IncidentEvent::Created { incident_id } => (incident_id, &["incident-created", "alert-matched"]),
        IncidentEvent::Updated { incident_id } => (incident_id, &["incident-updated"]),
    };
    let cx = incident_context(store, id).await?;
    for trigger in triggers {
        if *trigger == "alert-matched" && cx.alert_ids.is_empty() {
            continue;
        }
        for rule in store.list_rules(cx.incident.org, Some(*trigger)).await? {
            if let Err(e) = apply(service, &rule, &cx).await {
                tracing::warn!(rule = %rule.id, incident = %cx.incident.id, error = %e, "automation rule failed");
            }
        }
    }
    Ok(())
}

async fn apply(service: &Playbooks, rule: &RuleRow, cx: &IncidentContext) -> Result<(), super::RunError> {
    let store = &service.0.store;
    let conditions: Conditions = serde_json::from_str(&rule.conditions).unwrap_or_default();
    if !matches(&conditions, cx) {
        return Ok(());
    }
    // One open run or proposal per rule and incident: an update does not pile up duplicates.
    let runs = store.list_runs(cx.incident.org, Some(&rule.playbook_id), Some(&cx.incident.id), 100).await?;
    if runs.iter().any(|r| r.rule_id.as_deref() == Some(rule.id.as_str()) && r.status == "running") {
        return Ok(());
    }
    let proposals = store.list_proposals(cx.incident.org, Some(&cx.incident.id)).await?;
    if proposals.iter().any(|p| p.rule_id == rule.id && p.status == "pending") {
        return Ok(());
    }
    let mapping: BTreeMap<String, String> = serde_json::from_str(&rule.variables).unwrap_or_default();
    let inputs = map_inputs(&mapping, cx);
    let version = store.latest_playbook_version(cx.incident.org, &rule.playbook_id).await?;
    if version.archived {
        return Err(super::RunError::Invalid(vec![format!("playbook {} is archived", rule.playbook_id)]));
    }
    if rule.mode == "automatic" {
        service
            .start_run(StartRun {
                org: cx.incident.org,
                version,
                inputs,
                incident_id: Some(cx.incident.id.clone()),
                rule_id: Some(rule.id.clone()),
                actor: format!("automation:{}", rule.name),
                wait: true,
            })
            .await?;
    } else {
        let sealer = service.sealer()?;
        store
            .create_proposal(&NewProposal {
                rule_id: rule.id.clone(),
                rule_name: rule.name.clone(),
                org: cx.incident.org,
                incident_id: cx.incident.id.clone(),
                playbook_id: rule.playbook_id.clone(),
                mode: rule.mode.clone(),
                inputs_sealed: sealer.seal(&serde_json::to_string(&inputs).unwrap_or_else(|_| "{}".into())),
            })
            .await?;
    }
    Ok(())
}
