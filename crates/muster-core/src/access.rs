//! The one access-policy function.
//!
//! Every read that can cross an organisation boundary (API lists and search,
//! TAXII, exports, situation reports, UI pages, playbook variables) asks
//! [`decide`]. Routes never filter by hand. Stores may pre-select candidate rows
//! with [`Viewer`]-derived SQL for speed, but the final word is this function's.
//!
//! TLP 2.0 semantics, as the architecture describes them:
//! - `CLEAR`: everyone.
//! - `GREEN`: every member of the community (every authenticated viewer).
//! - `AMBER`: the owner organisation, organisations and trust circles it was
//!   explicitly shared with, the recorded clients of those recipient
//!   organisations, and named individuals.
//! - `AMBER+STRICT`: the owner organisation, explicitly named organisations and
//!   named individuals; no circles, no clients, no onward sharing.
//! - `RED`: named individuals only; not even the owner organisation's admins.
//!
//! A viewer's role never widens what they may see.

use std::collections::BTreeSet;

use crate::Tlp;
use crate::ids::{CircleId, OrgId, UserId};
use crate::org::Role;

/// Who is looking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub user: UserId,
    /// The organisation the viewer acts for now.
    pub org: OrgId,
    pub role: Role,
    /// Trust circles the viewer's organisation belongs to.
    pub circles: BTreeSet<CircleId>,
    /// Organisations the viewer's organisation is a recorded client of.
    pub client_of: BTreeSet<OrgId>,
}

impl Viewer {
    /// A viewer with no circle memberships and no client relations.
    #[must_use]
    pub fn plain(user: UserId, org: OrgId, role: Role) -> Self {
        Self { user, org, role, circles: BTreeSet::new(), client_of: BTreeSet::new() }
    }
}

/// What an object says about who may see it.
#[derive(Debug, Clone, Copy)]
pub struct Marking<'a> {
    pub owner_org: OrgId,
    pub tlp: Tlp,
    /// Organisations the object was explicitly shared with.
    pub shared_orgs: &'a [OrgId],
    /// Trust circles the object was shared with (honoured for AMBER and below).
    pub shared_circles: &'a [CircleId],
    /// Individuals named on the object (the only audience of RED).
    pub named_users: &'a [UserId],
}

impl<'a> Marking<'a> {
    /// An object with no explicit shares.
    #[must_use]
    pub const fn owned(owner_org: OrgId, tlp: Tlp) -> Self {
        Self { owner_org, tlp, shared_orgs: &[], shared_circles: &[], named_users: &[] }
    }
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Visible,
    Hidden,
}

impl Visibility {
    #[must_use]
    pub const fn is_visible(self) -> bool {
        matches!(self, Visibility::Visible)
    }
}

/// Decides whether `viewer` may see an object marked `object`.
#[must_use]
pub fn decide(viewer: &Viewer, object: &Marking<'_>) -> Visibility {
    let named = object.named_users.contains(&viewer.user);
    let own = object.owner_org == viewer.org;
    let recipient = object.shared_orgs.contains(&viewer.org);
    let visible = match object.tlp {
        Tlp::Clear | Tlp::Green => true,
        Tlp::Amber => {
            named
                || own
                || recipient
                || object.shared_circles.iter().any(|c| viewer.circles.contains(c))
                || object.shared_orgs.iter().any(|o| viewer.client_of.contains(o))
        }
        Tlp::AmberStrict => named || own || recipient,
        Tlp::Red => named,
    };
    if visible { Visibility::Visible } else { Visibility::Hidden }
}

/// Keeps only the items `viewer` may see.
pub fn filter_visible<T>(viewer: &Viewer, items: Vec<T>, marking: impl Fn(&T) -> Marking<'_>) -> Vec<T> {
    items.into_iter().filter(|it| decide(viewer, &marking(it)).is_visible()).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ids<T: Copy>(pool: &[T], mask: u8) -> Vec<T> {
        pool.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, x)| *x).collect()
    }

    fn tlp() -> impl Strategy<Value = Tlp> {
        prop::sample::select(Tlp::ALL.to_vec())
    }

    fn role() -> impl Strategy<Value = Role> {
        prop::sample::select(Role::ALL.to_vec())
    }

    struct World {
        orgs: Vec<OrgId>,
        users: Vec<UserId>,
        circles: Vec<CircleId>,
    }

    fn world() -> World {
        World {
            orgs: (0..6).map(|_| OrgId::new()).collect(),
            users: (0..6).map(|_| UserId::new()).collect(),
            circles: (0..4).map(|_| CircleId::new()).collect(),
        }
    }

    proptest! {
        #[test]
        fn red_is_never_visible_to_someone_not_named(
            owner in 0usize..6, viewer_org in 0usize..6, viewer_user in 0usize..6,
            shared in any::<u8>(), circles in any::<u8>(), named in any::<u8>(),
            vcircles in any::<u8>(), vclient in any::<u8>(), role in role(),
        ) {
            let w = world();
            let (so, sc, nu) = (ids(&w.orgs, shared), ids(&w.circles, circles), ids(&w.users, named));
            let m = Marking { owner_org: w.orgs[owner], tlp: Tlp::Red, shared_orgs: &so, shared_circles: &sc, named_users: &nu };
            let v = Viewer {
                user: w.users[viewer_user], org: w.orgs[viewer_org], role,
                circles: ids(&w.circles, vcircles).into_iter().collect(),
                client_of: ids(&w.orgs, vclient).into_iter().collect(),
            };
            prop_assert_eq!(decide(&v, &m).is_visible(), nu.contains(&v.user));
        }

        #[test]
        fn amber_strict_reaches_only_owner_named_orgs_and_named_people(
            owner in 0usize..6, viewer_org in 0usize..6, viewer_user in 0usize..6,
            shared in any::<u8>(), circles in any::<u8>(), named in any::<u8>(),
            vcircles in any::<u8>(), vclient in any::<u8>(), role in role(),
        ) {
            let w = world();
            let (so, sc, nu) = (ids(&w.orgs, shared), ids(&w.circles, circles), ids(&w.users, named));
            let m = Marking { owner_org: w.orgs[owner], tlp: Tlp::AmberStrict, shared_orgs: &so, shared_circles: &sc, named_users: &nu };
            let v = Viewer {
                user: w.users[viewer_user], org: w.orgs[viewer_org], role,
                circles: ids(&w.circles, vcircles).into_iter().collect(),
                client_of: ids(&w.orgs, vclient).into_iter().collect(),
            };
            let expected = v.org == m.owner_org || so.contains(&v.org) || nu.contains(&v.user);
            prop_assert_eq!(decide(&v, &m).is_visible(), expected);
        }

        #[test]
        fn unshared_amber_stays_inside_the_owner_org(
            owner in 0usize..6, viewer_org in 0usize..6, viewer_user in 0usize..6,
            vcircles in any::<u8>(), vclient in any::<u8>(), role in role(),
        ) {
            let w = world();
            let m = Marking::owned(w.orgs[owner], Tlp::Amber);
            let v = Viewer {
                user: w.users[viewer_user], org: w.orgs[viewer_org], role,
                circles: ids(&w.circles, vcircles).into_iter().collect(),
                client_of: ids(&w.orgs, vclient).into_iter().collect(),
            };
            prop_assert_eq!(decide(&v, &m).is_visible(), viewer_org == owner);
        }

        #[test]
        fn a_more_restrictive_tlp_never_shows_more(
            owner in 0usize..6, viewer_org in 0usize..6, viewer_user in 0usize..6,
            shared in any::<u8>(), circles in any::<u8>(), named in any::<u8>(),
            vcircles in any::<u8>(), vclient in any::<u8>(), a in tlp(), b in tlp(),
        ) {
            let w = world();
            let (so, sc, nu) = (ids(&w.orgs, shared), ids(&w.circles, circles), ids(&w.users, named));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let v = Viewer {
                user: w.users[viewer_user], org: w.orgs[viewer_org], role: Role::Admin,
                circles: ids(&w.circles, vcircles).into_iter().collect(),
                client_of: ids(&w.orgs, vclient).into_iter().collect(),
            };
            let at = |t| decide(&v, &Marking { owner_org: w.orgs[owner], tlp: t, shared_orgs: &so, shared_circles: &sc, named_users: &nu }).is_visible();
            prop_assert!(!at(hi) || at(lo), "{hi} visible but {lo} hidden");
        }

        #[test]
        fn role_never_changes_the_answer(
            owner in 0usize..6, viewer_org in 0usize..6, viewer_user in 0usize..6,
            shared in any::<u8>(), named in any::<u8>(), t in tlp(), r1 in role(), r2 in role(),
        ) {
            let w = world();
            let (so, nu) = (ids(&w.orgs, shared), ids(&w.users, named));
            let m = Marking { owner_org: w.orgs[owner], tlp: t, shared_orgs: &so, shared_circles: &[], named_users: &nu };
            let v1 = Viewer::plain(w.users[viewer_user], w.orgs[viewer_org], r1);
            let v2 = Viewer { role: r2, ..v1.clone() };
            prop_assert_eq!(decide(&v1, &m), decide(&v2, &m));
        }
    }

    #[test]
    fn green_is_visible_to_any_member() {
        let v = Viewer::plain(UserId::new(), OrgId::new(), Role::Observer);
        assert!(decide(&v, &Marking::owned(OrgId::new(), Tlp::Green)).is_visible());
    }

    #[test]
    fn amber_reaches_circle_members_and_clients_of_recipients() {
        let (owner, recipient, client) = (OrgId::new(), OrgId::new(), OrgId::new());
        let circle = CircleId::new();
        let shared = [recipient];
        let circles = [circle];
        let m = Marking {
            owner_org: owner,
            tlp: Tlp::Amber,
            shared_orgs: &shared,
            shared_circles: &circles,
            named_users: &[],
        };
        let mut v = Viewer::plain(UserId::new(), client, Role::Analyst);
        assert!(!decide(&v, &m).is_visible());
        v.client_of.insert(recipient);
        assert!(decide(&v, &m).is_visible());
        let mut in_circle = Viewer::plain(UserId::new(), OrgId::new(), Role::Analyst);
        in_circle.circles.insert(circle);
        assert!(decide(&in_circle, &m).is_visible());
        let strict = Marking { tlp: Tlp::AmberStrict, ..m };
        assert!(!decide(&v, &strict).is_visible());
        assert!(!decide(&in_circle, &strict).is_visible());
    }
}
