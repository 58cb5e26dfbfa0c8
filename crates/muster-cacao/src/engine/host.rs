//! The `Host` trait: every side effect of a run goes through it.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;

use super::record::ExecutionRecord;
use crate::model::{AgentTarget, AuthenticationInfo, CommandData, Extensions, Playbook};

/// One command to run, with every `__name__:value` already substituted.
#[derive(Debug, Clone)]
pub struct CommandRequest {
    pub execution_id: uuid::Uuid,
    pub playbook_id: String,
    pub step_id: String,
    /// Unique, deterministic key of this step execution within the run.
    pub occurrence: String,
    pub command: CommandData,
    /// The command as the playbook wrote it, before substitution. Runners that
    /// build code (bash, ssh) bind variable values as data instead of pasting
    /// them into the code; see [`CommandRequest::referenced`].
    pub template: CommandData,
    /// Text value of every variable that the command, the agent or the targets
    /// reference as `__name__:value`, by name (what the step acts on).
    pub referenced: BTreeMap<String, String>,
    /// The agent's identifier and definition (substituted), when defined.
    pub agent: Option<(String, AgentTarget)>,
    pub targets: Vec<(String, AgentTarget)>,
    /// The agent's authentication information (substituted, not redacted: the
    /// host needs it). Never write it into a record or a log.
    pub authentication: Option<AuthenticationInfo>,
    /// Authentication information of the agent and of every target
    /// (substituted, not redacted), by `authentication_info` id.
    pub authentications: BTreeMap<String, AuthenticationInfo>,
    /// The step's `step_extensions` (runners read Muster's out-arg mapping there).
    pub step_extensions: Option<Extensions>,
    /// Values of the step's `in_args`.
    pub in_args: BTreeMap<String, Value>,
    /// Names the step wants back.
    pub out_args: Vec<String>,
    /// Milliseconds the step may take (the engine also enforces it).
    pub timeout_ms: Option<u64>,
}

/// What a successful command returns: values for the step's `out_args`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandOutput {
    pub variables: BTreeMap<String, Value>,
}

/// How a command failed; maps onto the execution-status enumeration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Failed,
    ServerSideError,
    ClientSideError,
    Timeout,
}

/// A failed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandFailure {
    pub kind: FailureKind,
    pub message: String,
}

impl CommandFailure {
    /// A plain failure with a message.
    #[must_use]
    pub fn failed(message: impl Into<String>) -> Self {
        Self { kind: FailureKind::Failed, message: message.into() }
    }
}

/// The host could not do what the engine asked (for example, persist a record).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostError(pub String);

/// The engine's only door to the world. The server implements it with the
/// database, HTTP/SSH runners and the analyst task queue; tests implement it in memory.
pub trait Host: Send + Sync + 'static {
    /// Runs an automated command.
    fn run_command(
        &self,
        request: CommandRequest,
    ) -> impl Future<Output = Result<CommandOutput, CommandFailure>> + Send;

    /// Creates a task for an analyst and resolves when it is completed (with
    /// its out-args) or refused. The engine applies the step timeout.
    fn manual_task(
        &self,
        request: CommandRequest,
    ) -> impl Future<Output = Result<CommandOutput, CommandFailure>> + Send;

    /// Durably stores a record. The engine does not start the next step
    /// until this resolves; an error stops the run.
    fn persist(&self, record: &ExecutionRecord) -> impl Future<Output = Result<(), HostError>> + Send;

    /// Finds a playbook for a `playbook-action` step.
    fn load_playbook(&self, id: &str, version: Option<&str>) -> impl Future<Output = Option<Playbook>> + Send;

    /// The current time.
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }

    /// Waits (step delays and timeouts).
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}
