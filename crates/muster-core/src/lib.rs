//! Muster's domain core: typed ids, organisations and users, the marking
//! vocabularies (TLP 2.0, PAP, IEP 2.0), taxonomies (RSIT, NIS) and the one
//! access-policy function every cross-organisation read goes through.
//!
//! This crate is pure: no I/O, no async, no database. Everything that decides
//! *who may see what* lives in [`access`], so a reviewer has one place to read.

pub mod access;
pub mod ids;
pub mod incident;
pub mod incident_work;
pub mod markings;
pub mod org;
pub mod taxonomy;
mod vocab;

pub use access::{Marking, Viewer, Visibility, decide};
pub use ids::{CircleId, OrgId, TokenId, UserId};
pub use markings::{Iep, Pap, Tlp};
pub use org::{Country, OrgKind, Organisation, Role, Sector, TrustCircle, User};
pub use vocab::UnknownValue;
