//! OASIS CACAO Security Playbooks 2.0 for Muster.
//!
//! What it is: the CACAO object model ([`model`]), validation with errors located
//! by JSON path ([`validate`]), typed variables and STIX-pattern conditions
//! ([`vars`], [`condition`]), JSS signatures ([`signature`]) and an async
//! execution engine ([`engine`]) whose every side effect goes through a [`Host`].
//!
//! What it is not: a transport. It makes no HTTP call, opens no SSH session and
//! touches no database; the server (or the CLI) supplies a `Host` that does.

pub mod condition;
pub mod engine;
pub mod model;
pub mod signature;
pub mod validate;
pub mod vars;
mod vocab;

pub use engine::{Cancellation, Engine, EngineConfig, Host, RunOutcome, RunStatus};
pub use model::Playbook;
pub use validate::{Issue, Report, validate};
