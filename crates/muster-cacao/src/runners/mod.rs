//! Command runners: what a [`Host`](crate::Host) calls to run an automated command.
//!
//! [`Runners::run`] checks PAP first (a step acting on a PAP:AMBER/RED value
//! is refused before anything runs), then dispatches on the command type:
//! `http-api` and `openc2-http` through one HTTP client bound to the
//! [`EgressPolicy`], `ssh` under the same policy with a host-key check, `bash` only when enabled, `manual` never (the host's
//! task queue answers those), anything else fails its step with a message
//! naming the type. Every failure message is scrubbed of the request's secrets.
//!
//! Out-args: a step's results are assigned to the out-args it lists. By
//! default `__http_status__`, `__http_headers__`, `__http_body__` (HTTP) and
//! `__bash_stdout__`, `__bash_stderr__`, `__bash_exit_code__` (bash),
//! `__ssh_stdout__`, `__ssh_stderr__`, `__ssh_exit_code__` (ssh). A step can
//! map any out-arg to a source under `step_extensions` → [`MUSTER_EXTENSION`] →
//! `out_args` (see [`outputs`]), including JSON paths into the body.

mod auth;
mod bash;
pub mod egress;
mod http;
pub mod outputs;
mod ssh;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use muster_core::Pap;
use serde_json::Value;

pub use egress::{EgressDenied, EgressPolicy, HostResolver, StaticResolver, SystemResolver};
pub use outputs::MUSTER_EXTENSION;
pub use ssh::SshConfig;

use crate::engine::{CommandFailure, CommandOutput, CommandRequest, FailureKind};
use crate::model::CommandType;
use crate::redact::Redactor;

/// Tells the PAP marking of a value the step acts on (an IP address, a domain,
/// a hash…), or `None` when the value carries no marking. Supplied by the caller
/// (the server looks values up among the incident's observables).
pub type PapLookup = Arc<dyn Fn(&str) -> Option<Pap> + Send + Sync>;

/// HTTP runner limits.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whole-request limit (the step's own `timeout` applies too, whichever is shorter).
    pub timeout: Duration,
    /// Connection establishment limit.
    pub connect_timeout: Duration,
    /// Largest response body read; a longer one fails the step.
    pub max_response_bytes: usize,
    /// Most redirects followed (each one checked against the egress policy).
    pub max_redirects: usize,
    /// Most requests in flight at once across all runs; further steps wait for
    /// a slot. Bounds sockets and file descriptors however many runs are active.
    pub max_in_flight: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_response_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            max_in_flight: 256,
        }
    }
}

/// Bash runner settings. Disabled unless `enabled`.
#[derive(Debug, Clone)]
pub struct BashConfig {
    pub enabled: bool,
    /// The shell binary.
    pub shell: std::path::PathBuf,
    pub timeout: Duration,
    /// Bytes kept of stdout and of stderr each; the rest is read and dropped.
    pub max_output_bytes: usize,
    /// Working directory (the process's own when `None`).
    pub working_dir: Option<std::path::PathBuf>,
    /// `PATH` for the command; the environment is otherwise empty.
    pub path: String,
}

impl Default for BashConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            shell: "/bin/bash".into(),
            timeout: Duration::from_secs(60),
            max_output_bytes: 1024 * 1024,
            working_dir: None,
            path: "/usr/local/bin:/usr/bin:/bin".into(),
        }
    }
}

/// Everything the runners need to know.
#[derive(Clone)]
pub struct RunnerConfig {
    pub egress: EgressPolicy,
    pub http: HttpConfig,
    pub bash: BashConfig,
    /// SSH runner settings: known host keys (required by default) and the key store.
    pub ssh: SshConfig,
    /// PAP of values; `None` means no value is marked.
    pub pap: Option<PapLookup>,
    /// Name resolution for network runners (checked against `egress` after resolving).
    pub resolver: Arc<dyn HostResolver>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            egress: EgressPolicy::deny_all(),
            http: HttpConfig::default(),
            bash: BashConfig::default(),
            ssh: SshConfig::default(),
            pap: None,
            resolver: Arc::new(SystemResolver),
        }
    }
}

impl std::fmt::Debug for RunnerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerConfig")
            .field("egress", &self.egress)
            .field("http", &self.http)
            .field("bash", &self.bash)
            .field("ssh", &self.ssh)
            .field("pap", &self.pap.is_some())
            .finish_non_exhaustive()
    }
}

/// The runners a host dispatches automated commands to.
#[derive(Debug, Clone)]
pub struct Runners {
    config: Arc<RunnerConfig>,
    http: http::HttpRunner,
}

/// Runners could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP client: {0}")]
pub struct SetupError(String);

impl Runners {
    /// Runners with `config`.
    ///
    /// # Errors
    /// [`SetupError`] when the HTTP client cannot be built (TLS backend).
    pub fn new(config: RunnerConfig) -> Result<Self, SetupError> {
        let config = Arc::new(config);
        let http = http::HttpRunner::new(&config).map_err(|e| SetupError(e.to_string()))?;
        Ok(Self { config, http })
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// Runs one automated command.
    ///
    /// # Errors
    /// [`CommandFailure`] when the command is refused (PAP, egress, disabled
    /// runner, unknown type) or fails; its message holds no secret.
    pub async fn run(&self, request: CommandRequest) -> Result<CommandOutput, CommandFailure> {
        let mut redactor = Redactor::new();
        for auth in request.authentications.values().chain(request.authentication.as_ref()) {
            redactor.add_auth(auth);
        }
        let result = match self.check_pap(&request) {
            Err(refusal) => Err(refusal),
            Ok(()) => self.dispatch(&request).await,
        };
        result.map_err(|f| CommandFailure { kind: f.kind, message: redactor.scrub(&f.message) })
    }

    async fn dispatch(&self, request: &CommandRequest) -> Result<CommandOutput, CommandFailure> {
        let kind = &request.command.kind;
        match kind {
            CommandType::HttpApi => self.http.http_api(request).await,
            CommandType::Openc2Http => self.http.openc2(request).await,
            CommandType::Bash => bash::run(&self.config.bash, request).await,
            CommandType::Ssh => ssh::run(&self.config, request).await,
            CommandType::Manual => Err(CommandFailure::failed(
                "manual commands are answered through the host's analyst tasks, not by a runner",
            )),
            other => Err(CommandFailure::failed(format!(
                "command type '{other}' has no runner configured in Muster (available: http-api, openc2-http, \
                 ssh, bash when enabled, manual); the step was not run"
            ))),
        }
    }

    /// Refuses the step when a value it acts on is marked PAP:AMBER or PAP:RED.
    fn check_pap(&self, request: &CommandRequest) -> Result<(), CommandFailure> {
        let Some(lookup) = &self.config.pap else { return Ok(()) };
        for value in acted_on(request) {
            if let Some(pap) = lookup(&value)
                && !pap.allows_active_action()
            {
                return Err(CommandFailure::failed(format!(
                    "refused by PAP: this step acts on {value}, marked {pap} ({}); nothing was run",
                    match pap {
                        Pap::Amber => "passive cross-checks only",
                        _ => "no action on the network",
                    }
                )));
            }
        }
        Ok(())
    }
}

/// The values a step acts on: the variables its command, agent and targets
/// reference, its in-args, and its targets' addresses.
fn acted_on(request: &CommandRequest) -> Vec<String> {
    let mut out: Vec<String> = request.referenced.values().cloned().collect();
    for v in request.in_args.values() {
        collect_strings(v, &mut out);
    }
    for (_, target) in &request.targets {
        for addresses in target.address.iter().flat_map(BTreeMap::values) {
            addresses.iter().for_each(|a| collect_strings(a, &mut out));
        }
    }
    out.retain(|v| !v.is_empty());
    out.sort();
    out.dedup();
    out
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect_strings(i, out)),
        _ => {}
    }
}

/// A failure of the given kind.
fn failure(kind: FailureKind, message: impl Into<String>) -> CommandFailure {
    CommandFailure { kind, message: message.into() }
}
