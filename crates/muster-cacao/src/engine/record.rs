//! Execution-status records: the CACAO execution-status shape, plus the
//! fields Muster needs to resume a run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `execution-status-enum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    SuccessfullyCompleted,
    Failed,
    Ongoing,
    ServerSideError,
    ClientSideError,
    TimeoutError,
    ExceptionConditionInvoked,
}

impl ExecutionStatus {
    /// Whether the step finished (successfully or not).
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        !matches!(self, Self::Ongoing)
    }

    /// Whether the step succeeded.
    #[must_use]
    pub const fn is_success(self) -> bool {
        matches!(self, Self::SuccessfullyCompleted)
    }
}

/// One step execution. Persisted as `ongoing` when the step starts and again
/// with its final status when it ends (same `id`: the host upserts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub workflow_step: String,
    pub start_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    pub status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed_by: Option<String>,
    /// Base64 of each command as executed (after substitution). Control steps
    /// record the condition or switch they evaluated.
    pub command_b64: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub automated_execution: bool,
    /// Muster: the run this record belongs to.
    pub execution_id: uuid::Uuid,
    /// Muster: the playbook whose step this is (nested playbooks have their own).
    pub playbook_id: String,
    /// Muster: deterministic key of this step execution within the run.
    pub occurrence: String,
    /// Muster: variables this step assigned, replayed on resume.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub assigned: BTreeMap<String, Value>,
}

pub(crate) fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}
