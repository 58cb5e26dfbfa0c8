//! The CACAO 2.0 object model as serde types.
//!
//! Every object keeps properties it does not know in an `extra` map, so custom
//! and extension properties survive a parse/serialise round trip. Optional
//! booleans stay `Option<bool>` for the same reason: an explicit `false` is
//! written back as it was read.

mod agent;
mod command;
mod common;
mod marking;
mod playbook;
mod variable;
mod workflow;

pub use agent::{AgentTarget, AgentTargetType, AuthenticationInfo, AuthenticationInfoType, REDACTED};
pub use command::{CommandData, CommandType};
pub use common::{CivicLocation, Contact, Extensions, ExternalReference};
pub use marking::{DataMarking, DataMarkingType, ExtensionDefinition, Signature};
pub use playbook::{Playbook, PlaybookProcessingSummary};
pub use variable::{Variable, VariableType, Variables};
pub use workflow::{
    ActionStep, EndStep, IfConditionStep, ParallelStep, PlaybookActionStep, StartStep, StepCommon, StepType,
    SwitchConditionStep, WhileConditionStep, WorkflowStep,
};

/// Unknown properties of an object, kept for the round trip.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Deserialises a present field as `Some`, even when it is JSON `null`, so that
/// "absent" and "explicitly null" stay distinct.
pub(crate) fn present<'de, D>(d: D) -> Result<Option<serde_json::Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    <serde_json::Value as serde::Deserialize>::deserialize(d).map(Some)
}
