//! How a step, a branch and a run end, as the interpreter passes them around.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::RunError;
use super::host::FailureKind;
use super::record::ExecutionStatus;

/// Why the run stops where it is (as opposed to a step failing).
pub(super) enum Stop {
    Error(RunError),
    Cancelled,
    Interrupted(String),
}

impl From<RunError> for Stop {
    fn from(e: RunError) -> Self {
        Self::Error(e)
    }
}

/// How a branch ended.
pub(super) enum BranchEnd {
    Ended,
    Failed(String),
}

/// How one step ended.
pub(super) struct Outcome {
    pub(super) status: ExecutionStatus,
    pub(super) text: Option<String>,
    pub(super) commands: Vec<String>,
    pub(super) assigned: BTreeMap<String, Value>,
    pub(super) executed_by: Option<String>,
    pub(super) automated: bool,
}

impl Outcome {
    pub(super) fn ok() -> Self {
        Self {
            status: ExecutionStatus::SuccessfullyCompleted,
            text: None,
            commands: Vec::new(),
            assigned: BTreeMap::new(),
            executed_by: None,
            automated: true,
        }
    }
    pub(super) fn fail(status: ExecutionStatus, text: impl Into<String>) -> Self {
        Self { status, text: Some(text.into()), ..Self::ok() }
    }
    pub(super) fn from_branch(end: BranchEnd) -> Self {
        match end {
            BranchEnd::Ended => Self::ok(),
            BranchEnd::Failed(m) => Self::fail(ExecutionStatus::Failed, m),
        }
    }
}

pub(super) fn failure_status(kind: FailureKind) -> ExecutionStatus {
    match kind {
        FailureKind::Failed => ExecutionStatus::Failed,
        FailureKind::ServerSideError => ExecutionStatus::ServerSideError,
        FailureKind::ClientSideError => ExecutionStatus::ClientSideError,
        FailureKind::Timeout => ExecutionStatus::TimeoutError,
    }
}

pub(super) fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}
