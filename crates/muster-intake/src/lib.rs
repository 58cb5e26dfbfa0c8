//! Alert intake for Muster: parsers for the monitoring sources a SOC or CSIRT
//! receives (Suricata EVE, Wazuh, Elastic ECS and Elastic Security, CEF, LEEF,
//! IntelMQ, Shadowserver, over syslog or in batches), the one normalised
//! [`Alert`] they all produce, its [`Fingerprint`], and the pure dedup and
//! correlation decisions that group alerts into incidents, and Sigma detection
//! over raw log events ([`sigma`]).
//!
//! This crate is pure: it reads bytes it is given and returns values. It opens
//! no sockets and no files (except [`sigma::RuleSet::load_dir`], which reads a rule folder) and keeps no database; the server persists what
//! these functions decide. Every parser returns `Result<Alert, Reject>` and
//! never panics on any input (checked by property tests and fuzz targets).

pub mod alert;
pub mod batch;
pub mod correlate;
pub mod dedup;
pub mod framing;
pub mod intelmq;
pub mod observable;
pub mod parse;
pub mod reject;
pub mod sigma;
pub mod syslog;
pub mod timefmt;

pub use alert::{Alert, Fingerprint, Format, Network, Rule, Severity};
pub use observable::{AttackTechnique, Observable, ObservableKind, Role};
pub use parse::{ParseOptions, detect, parse_record};
pub use reject::{Reject, RejectKind};
