//! OASIS CACAO Security Playbooks 2.0 for Muster.
//!
//! What it is: the CACAO object model ([`model`]), validation with errors located
//! by JSON path ([`validate`]), typed variables and STIX-pattern conditions
//! ([`vars`], [`condition`]), JSS signatures ([`signature`]) and an async
//! execution engine ([`engine`]) whose every side effect goes through a [`Host`].
//! With the `runners` feature (on by default): command runners (`http-api`,
//! `openc2-http`, `ssh`, `bash`) behind an egress policy and PAP checks, and a
//! `LocalHost` that runs playbooks on this machine without a server. And the
//! workflow drawn as SVG for web pages ([`graph`]).
//!
//! What it is not: a store. It touches no database; the engine itself makes no
//! call either, it asks its `Host` (the server's, or `LocalHost`).

pub mod condition;
pub mod engine;
pub mod graph;
#[cfg(feature = "runners")]
pub mod local;
pub mod model;
pub mod redact;
#[cfg(feature = "runners")]
pub mod runners;
pub mod signature;
pub mod validate;
pub mod vars;
mod vocab;

pub use engine::{Cancellation, Engine, EngineConfig, Host, RunOutcome, RunStatus};
#[cfg(feature = "runners")]
pub use local::LocalHost;
pub use model::Playbook;
pub use validate::{Issue, Report, validate};
