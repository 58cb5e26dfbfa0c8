//! How each kind of object the server returns is marked, so lists and reads
//! can ask `muster_core::access::decide` — the one gate — and nothing else.
//!
//! Directory records that carry no TLP of their own (users, tokens, audit
//! entries) are treated as TLP:AMBER+STRICT owned by their organisation: only
//! that organisation sees them. The platform operator's admins additionally
//! administer every organisation's accounts; that is the one widening, and it
//! lives here.

use muster_core::access::{Marking, decide};
use muster_core::{OrgId, Organisation, Tlp, TrustCircle, User};
use muster_store::{AlertRow, ApiToken, AuditEntry, IncidentObservable, IncidentRow, TemplateRow};

use crate::auth::Principal;

/// Anything with a marking.
pub trait Marked {
    fn marking(&self) -> Marking<'_>;
}

impl Marked for Organisation {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.id, self.tlp)
    }
}

impl Marked for TrustCircle {
    fn marking(&self) -> Marking<'_> {
        Marking {
            owner_org: self.owner_org,
            tlp: self.tlp,
            shared_orgs: &self.members,
            shared_circles: &[],
            named_users: &[],
        }
    }
}

impl Marked for User {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, Tlp::AmberStrict)
    }
}

impl Marked for ApiToken {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, Tlp::AmberStrict)
    }
}

impl Marked for AlertRow {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, self.tlp)
    }
}

impl Marked for IncidentRow {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, self.tlp)
    }
}

/// An observable carries its own marking, as or more restrictive than its
/// incident's (`muster_core::incident_work::check_observable_tlp`).
impl Marked for IncidentObservable {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, self.tlp)
    }
}

/// An organisation's incident templates are its own working material; the
/// built-in ones (no organisation) are public.
impl Marked for TemplateRow {
    fn marking(&self) -> Marking<'_> {
        match self.org {
            Some(org) => Marking::owned(org, Tlp::AmberStrict),
            None => Marking::owned(OrgId::from_uuid(uuid::Uuid::nil()), Tlp::Clear),
        }
    }
}

/// Audit entries with an organisation belong to it. Platform-wide entries
/// (no organisation) belong to nobody, so only operator admins see them.
impl Marked for AuditEntry {
    fn marking(&self) -> Marking<'_> {
        let owner = self
            .org
            .as_deref()
            .and_then(|o| o.parse::<OrgId>().ok())
            .unwrap_or_else(|| OrgId::from_uuid(uuid::Uuid::nil()));
        Marking::owned(owner, Tlp::AmberStrict)
    }
}

/// Whether the principal may see `item`.
#[must_use]
pub fn can_see<T: Marked>(p: &Principal, item: &T) -> bool {
    decide(&p.viewer, &item.marking()).is_visible()
}

/// Whether the principal may see an account record (user or token) of `org`:
/// the gate's answer, or platform administration by an operator admin.
#[must_use]
pub fn can_administer<T: Marked>(p: &Principal, item: &T) -> bool {
    p.is_operator_admin() || can_see(p, item)
}

/// Keeps the visible items.
#[must_use]
pub fn visible<T: Marked>(p: &Principal, items: Vec<T>) -> Vec<T> {
    items.into_iter().filter(|i| can_see(p, i)).collect()
}
