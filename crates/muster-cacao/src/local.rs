//! [`LocalHost`]: runs playbooks on this machine, without a server or a database.
//!
//! Automated commands go to the [`Runners`]; manual steps are answered from a
//! map given up front (a local run has no analyst queue), or fail with a message
//! saying how to answer them; each execution-status record goes to a sink
//! (stdout as JSON lines by default) as it is made. "Durable" here means
//! "handed to the sink": a local run does not resume after a crash.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use serde_json::Value;

use crate::engine::{CommandFailure, CommandOutput, CommandRequest, ExecutionRecord, Host, HostError};
use crate::model::Playbook;
use crate::runners::Runners;

/// Receives each record as it is persisted (an `ongoing` record when a step
/// starts, then its final one with the same `id`).
pub type RecordSink = Arc<dyn Fn(&ExecutionRecord) -> Result<(), HostError> + Send + Sync>;

/// Out-arg values of manual steps, by step id.
pub type ManualAnswers = BTreeMap<String, BTreeMap<String, Value>>;

/// A `Host` for local runs.
#[derive(Clone)]
pub struct LocalHost {
    runners: Runners,
    sink: RecordSink,
    manual: ManualAnswers,
    library: BTreeMap<String, Playbook>,
}

impl std::fmt::Debug for LocalHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalHost")
            .field("runners", &self.runners)
            .field("manual_steps", &self.manual.keys().collect::<Vec<_>>())
            .field("library", &self.library.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// One record as a JSON line (the CACAO execution-status shape plus Muster's run fields).
///
/// # Errors
/// Only if serialisation fails, which plain records never do.
pub fn json_line(record: &ExecutionRecord) -> Result<String, HostError> {
    serde_json::to_string(record).map_err(|e| HostError(format!("could not serialise a record: {e}")))
}

/// A sink writing each record to standard output as one JSON line.
#[must_use]
pub fn stdout_sink() -> RecordSink {
    Arc::new(|record| {
        let line = json_line(record)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| HostError(format!("stdout: {e}")))
    })
}

impl LocalHost {
    /// A host over `runners`, printing records to stdout, with no manual answers.
    #[must_use]
    pub fn new(runners: Runners) -> Self {
        Self { runners, sink: stdout_sink(), manual: ManualAnswers::new(), library: BTreeMap::new() }
    }

    /// Sends records to `sink` instead of stdout.
    #[must_use]
    pub fn with_sink(mut self, sink: RecordSink) -> Self {
        self.sink = sink;
        self
    }

    /// Answers manual steps (by step id) with these out-arg values.
    #[must_use]
    pub fn with_manual_answers(mut self, answers: ManualAnswers) -> Self {
        self.manual = answers;
        self
    }

    /// Playbooks that `playbook-action` steps may run, by id.
    #[must_use]
    pub fn with_library(mut self, playbooks: impl IntoIterator<Item = Playbook>) -> Self {
        self.library.extend(playbooks.into_iter().map(|p| (p.id.clone(), p)));
        self
    }

    /// The runners automated commands go to.
    #[must_use]
    pub fn runners(&self) -> &Runners {
        &self.runners
    }
}

impl Host for LocalHost {
    async fn run_command(&self, request: CommandRequest) -> Result<CommandOutput, CommandFailure> {
        self.runners.run(request).await
    }

    async fn manual_task(&self, request: CommandRequest) -> Result<CommandOutput, CommandFailure> {
        match self.manual.get(&request.step_id) {
            Some(values) => Ok(CommandOutput { variables: values.clone() }),
            None => {
                let what = request.command.command.as_deref().or(request.command.description.as_deref()).unwrap_or("");
                Err(CommandFailure::failed(format!(
                    "manual step {} needs an analyst ({what:?}), and this local run is not interactive: \
                     answer it in advance (muster playbook run --answer {}:__name__=VALUE, or \
                     LocalHost::with_manual_answers)",
                    request.step_id, request.step_id
                )))
            }
        }
    }

    async fn persist(&self, record: &ExecutionRecord) -> Result<(), HostError> {
        (self.sink)(record)
    }

    async fn load_playbook(&self, id: &str, _version: Option<&str>) -> Option<Playbook> {
        self.library.get(id).cloned()
    }
}
