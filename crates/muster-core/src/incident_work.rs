//! The work on an incident beyond its lifecycle: severity, tasks, the rule
//! for observable markings, merging, and the built-in incident templates.
//! Pure rules; the store and API apply them.

use crate::incident::{IncidentStatus, Lifecycle, Resolution};
use crate::{OrgId, Tlp, vocabulary};

vocabulary! {
    /// How bad an incident (or alert) is.
    pub enum Severity ("severity") {
        Info => "info",
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
}

vocabulary! {
    /// Where a task of an incident stands.
    pub enum TaskStatus ("task status") {
        Todo => "todo",
        InProgress => "in-progress",
        Done => "done",
        Cancelled => "cancelled",
    }
}

/// A refused marking on an observable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tlp: an observable of a {incident} incident must be {incident} or more restrictive, not {observable}")]
pub struct ObservableMarkingError {
    pub incident: Tlp,
    pub observable: Tlp,
}

/// An observable is read in the context of its incident, so it may narrow the
/// incident's TLP but never widen it: whoever may see the observable may see
/// the incident it came from. (Sharing an observable more widely is the
/// intel layer's job, as an indicator with its own marking.)
///
/// # Errors
/// [`ObservableMarkingError`] when `observable` is less restrictive than `incident`.
pub fn check_observable_tlp(incident: Tlp, observable: Tlp) -> Result<(), ObservableMarkingError> {
    if observable < incident { Err(ObservableMarkingError { incident, observable }) } else { Ok(()) }
}

/// The TLP an observable keeps when its incident's TLP changes to `incident`:
/// raised to the incident's when it was less restrictive, otherwise unchanged.
#[must_use]
pub fn observable_tlp_after_incident_change(incident: Tlp, observable: Tlp) -> Tlp {
    observable.max(incident)
}

/// A refused merge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("into: an incident cannot be merged into itself")]
    Itself,
    #[error("into: only incidents of the same organisation can be merged")]
    OtherOrganisation,
    #[error("into: the target incident is closed; reopen it first")]
    TargetClosed,
    #[error("the merged incident is already closed; reopen it first")]
    SourceClosed,
}

/// The two sides of a merge, as the rules need them.
#[derive(Debug, Clone, Copy)]
pub struct MergeSide<'a> {
    pub id: &'a str,
    pub org: OrgId,
    pub lifecycle: &'a Lifecycle,
}

/// Checks that `source` may be merged into `target` and returns the source's
/// lifecycle closed as a duplicate at `at`.
///
/// # Errors
/// [`MergeError`] naming the rule broken.
pub fn merge(target: MergeSide<'_>, source: MergeSide<'_>, at: time::OffsetDateTime) -> Result<Lifecycle, MergeError> {
    if target.id == source.id {
        return Err(MergeError::Itself);
    }
    if target.org != source.org {
        return Err(MergeError::OtherOrganisation);
    }
    if target.lifecycle.status == IncidentStatus::Closed {
        return Err(MergeError::TargetClosed);
    }
    let mut closed = *source.lifecycle;
    // Closing with a resolution is refused only when it is closed already.
    closed.transition(IncidentStatus::Closed, Some(Resolution::Duplicate), at).map_err(|_| MergeError::SourceClosed)?;
    Ok(closed)
}

/// A built-in incident template, available to every organisation.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinTemplate {
    /// Stable id, `template--builtin-<name>`.
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub severity: Severity,
    pub rsit_type: &'static str,
    /// (title, description) of each predefined task.
    pub tasks: &'static [(&'static str, &'static str)],
}

/// The templates every organisation starts with.
pub const BUILTIN_TEMPLATES: &[BuiltinTemplate] = &[
    BuiltinTemplate {
        id: "template--builtin-phishing",
        name: "Phishing",
        description: "A phishing e-mail reached users.",
        severity: Severity::Medium,
        rsit_type: "phishing",
        tasks: &[
            ("Collect the original e-mail with headers", "Save it as an attachment (.eml)."),
            ("Find every recipient", "Search the mail gateway for the sender, subject and URLs."),
            ("Block sender, URLs and domains", "Mail gateway, proxy and DNS filter."),
            ("Reset credentials of users who clicked", "And revoke their sessions."),
            ("Report the phishing site for takedown", ""),
        ],
    },
    BuiltinTemplate {
        id: "template--builtin-ransomware",
        name: "Ransomware",
        description: "Files encrypted, ransom note found.",
        severity: Severity::Critical,
        rsit_type: "infected-system",
        tasks: &[
            ("Isolate affected hosts from the network", "Do not power them off: memory may hold keys."),
            ("Identify patient zero and the entry vector", ""),
            ("Check that backups are intact and offline", ""),
            ("Collect the ransom note and a sample", "Attach them; identify the family."),
            ("Notify management, legal and the national CSIRT", "NIS2 early warning within 24 h if significant."),
            ("Restore from clean backups", ""),
        ],
    },
    BuiltinTemplate {
        id: "template--builtin-ddos",
        name: "DDoS",
        description: "A service is flooded.",
        severity: Severity::High,
        rsit_type: "ddos",
        tasks: &[
            ("Confirm the attack and its vectors", "Traffic volume, protocols, source spread."),
            ("Engage the upstream provider or scrubbing service", ""),
            ("Apply rate limits and filters", ""),
            ("Monitor until traffic is back to normal", ""),
        ],
    },
];

/// The built-in template with `id`.
#[must_use]
pub fn builtin_template(id: &str) -> Option<&'static BuiltinTemplate> {
    BUILTIN_TEMPLATES.iter().find(|t| t.id == id)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const T0: time::OffsetDateTime = datetime!(2026-11-27 03:00 UTC);

    #[test]
    fn an_observable_may_narrow_but_not_widen_its_incident_marking() {
        assert!(check_observable_tlp(Tlp::Amber, Tlp::Red).is_ok());
        assert!(check_observable_tlp(Tlp::Amber, Tlp::Amber).is_ok());
        assert!(check_observable_tlp(Tlp::Amber, Tlp::Green).is_err());
        assert_eq!(observable_tlp_after_incident_change(Tlp::AmberStrict, Tlp::Green), Tlp::AmberStrict);
        assert_eq!(observable_tlp_after_incident_change(Tlp::Green, Tlp::Red), Tlp::Red);
    }

    #[test]
    fn merging_closes_the_source_as_a_duplicate_within_one_organisation() {
        let org = OrgId::from_uuid(uuid::Uuid::from_u128(1));
        let other = OrgId::from_uuid(uuid::Uuid::from_u128(2));
        let open = Lifecycle::open(T0, None);
        let a = MergeSide { id: "a", org, lifecycle: &open };
        let b = MergeSide { id: "b", org, lifecycle: &open };
        let closed = merge(a, b, T0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((closed.status, closed.resolution), (IncidentStatus::Closed, Some(Resolution::Duplicate)));
        assert_eq!(merge(a, a, T0), Err(MergeError::Itself));
        assert_eq!(merge(a, MergeSide { org: other, ..b }, T0), Err(MergeError::OtherOrganisation));
        assert_eq!(merge(a, MergeSide { lifecycle: &closed, ..b }, T0), Err(MergeError::SourceClosed));
        assert_eq!(merge(MergeSide { lifecycle: &closed, ..a }, b, T0), Err(MergeError::TargetClosed));
    }

    #[test]
    fn builtin_templates_use_real_rsit_types() {
        for t in BUILTIN_TEMPLATES {
            assert!(crate::taxonomy::RsitType::parse(t.rsit_type).is_ok(), "{}", t.rsit_type);
            assert!(t.id.starts_with("template--builtin-") && !t.tasks.is_empty());
        }
    }
}
