//! CACAO playbooks in the server: the library, durable runs of
//! `muster_cacao`'s engine through a [`host::RunHost`], manual tasks, and
//! automation rules fired by incident events.
//!
//! Runs are tokio tasks bounded by `playbook_concurrency`. Every
//! execution-status record is committed before the engine's next step, so on
//! start-up ([`Playbooks::start`]) each run still marked `running` resumes
//! from its records (completed steps are replayed, not run again) or, when it
//! cannot, is marked `interrupted`: never silently lost.

pub mod automation;
pub mod host;
pub mod library;
pub mod secrets;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};

use muster_cacao::engine::ExecutionRecord;
use muster_cacao::model::Variables;
use muster_cacao::redact::Redactor;
use muster_cacao::runners::{BashConfig, EgressPolicy, RunnerConfig, Runners};
use muster_cacao::{Cancellation, Engine, EngineConfig, Playbook, RunStatus};
use muster_core::{OrgId, Pap};
use muster_store::{ManualTaskRow, NewRun, PlaybookVersionRow, RunRow, Store, StoreError};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore, mpsc};

use crate::config::Config;
use secrets::Sealer;

/// The playbook settings of the server configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub concurrency: usize,
    pub allow_hosts: Vec<String>,
    pub rerun_interrupted: bool,
    pub key_file: PathBuf,
    pub bash: bool,
    pub automation_queue: usize,
}

impl Settings {
    fn from_config(c: &Config) -> Self {
        Self {
            concurrency: c.playbook_concurrency.max(1),
            allow_hosts: c.playbook_allow_hosts.clone(),
            rerun_interrupted: c.playbook_rerun_interrupted,
            key_file: c.playbook_key_file.clone().unwrap_or_else(|| c.data_dir.join("playbook-secrets.key")),
            bash: c.playbook_bash,
            automation_queue: c.automation_queue.max(1),
        }
    }
}

/// State shared by the service, its runs and the automation worker.
pub struct Shared {
    pub(crate) store: Store,
    pub(crate) config: Settings,
    pub(crate) sealer: OnceLock<Sealer>,
    pub(crate) runners: OnceLock<Runners>,
    permits: Arc<Semaphore>,
    active: Mutex<HashMap<String, Cancellation>>,
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    events: mpsc::Sender<automation::IncidentEvent>,
    events_rx: Mutex<Option<mpsc::Receiver<automation::IncidentEvent>>>,
}

impl Shared {
    pub(crate) fn waiter(&self, task_id: &str) -> Arc<Notify> {
        let mut w = self.waiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(w.entry(task_id.to_owned()).or_default())
    }

    pub(crate) fn forget_waiter(&self, task_id: &str) {
        self.waiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(task_id);
    }

    fn wake(&self, task_id: &str) {
        let w = self.waiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = w.get(task_id) {
            n.notify_waiters();
        }
    }

    fn sealer(&self) -> Result<&Sealer, RunError> {
        self.sealer.get().ok_or(RunError::NotStarted)
    }
}

/// The playbook service held in the application state. Cheap to clone.
#[derive(Clone)]
pub struct Playbooks(pub(crate) Arc<Shared>);

/// Why a run did not start, or a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the playbook service is not started yet")]
    NotStarted,
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("playbook_concurrency runs are already running; retry shortly")]
    Busy,
    #[error(transparent)]
    Load(#[from] library::LoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RunError> for crate::error::AppError {
    fn from(e: RunError) -> Self {
        use crate::error::AppError;
        match e {
            RunError::NotStarted => AppError::Unavailable(5),
            RunError::Busy => AppError::Unavailable(2),
            RunError::Invalid(m) => AppError::Unprocessable(m.join("; ")),
            RunError::Load(e) => AppError::Internal(e.to_string()),
            RunError::Store(e) => e.into(),
        }
    }
}

/// A run to start.
#[derive(Debug, Clone)]
pub struct StartRun {
    pub org: OrgId,
    pub version: PlaybookVersionRow,
    pub inputs: BTreeMap<String, Value>,
    pub incident_id: Option<String>,
    pub rule_id: Option<String>,
    pub actor: String,
    /// Wait for a free slot instead of refusing with [`RunError::Busy`] (automation).
    pub wait: bool,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Key(#[from] secrets::SealError),
    #[error("playbook_allow_hosts: {0}")]
    Egress(String),
    #[error("playbook runners: {0}")]
    Runners(String),
    #[error("resuming playbook runs: {0}")]
    Store(#[from] StoreError),
}

const SECRET_NAME_PARTS: [&str; 5] = ["password", "secret", "token", "api_key", "apikey"];

/// Variables as shown: values of secret-named variables and every known
/// authentication secret replaced by `[REDACTED]`.
fn redacted_variables(values: &BTreeMap<String, Value>, pb: &Playbook) -> String {
    let mut r = Redactor::new();
    for a in pb.authentication_info_definitions.iter().flat_map(|m| m.values()) {
        r.add_auth(a);
    }
    let mut out = serde_json::Map::new();
    for (name, v) in values {
        let lower = name.to_ascii_lowercase();
        let mut v = v.clone();
        if SECRET_NAME_PARTS.iter().any(|p| lower.contains(p)) && !v.is_null() {
            v = Value::String(muster_cacao::model::REDACTED.into());
        } else {
            r.scrub_value(&mut v);
        }
        out.insert(name.clone(), v);
    }
    Value::Object(out).to_string()
}

fn values_of(vars: &Variables) -> BTreeMap<String, Value> {
    vars.iter().map(|(k, v)| (k.clone(), v.value.clone().unwrap_or(Value::Null))).collect()
}

impl Playbooks {
    /// The service for `config`; [`Playbooks::start`] loads the key and resumes runs.
    #[must_use]
    pub fn new(store: Store, config: &Config) -> Self {
        let settings = Settings::from_config(config);
        let (tx, rx) = mpsc::channel(settings.automation_queue);
        Self(Arc::new(Shared {
            store,
            permits: Arc::new(Semaphore::new(settings.concurrency)),
            config: settings,
            sealer: OnceLock::new(),
            runners: OnceLock::new(),
            active: Mutex::new(HashMap::new()),
            waiters: Mutex::new(HashMap::new()),
            events: tx,
            events_rx: Mutex::new(Some(rx)),
        }))
    }

    /// Loads (or makes) the secrets key, builds the runners, resumes the runs
    /// left `running` and starts the automation worker. Idempotent.
    ///
    /// # Errors
    /// [`StartError`] when the key, the allow-list or the store fails.
    pub async fn start(&self) -> Result<(), StartError> {
        let s = &self.0;
        if s.sealer.get().is_some() {
            return Ok(());
        }
        let sealer = Sealer::load_or_create(&s.config.key_file)?;
        let egress = EgressPolicy::allowing(&s.config.allow_hosts).map_err(|e| StartError::Egress(e.to_string()))?;
        let runners = Runners::new(RunnerConfig {
            egress,
            bash: BashConfig { enabled: s.config.bash, ..BashConfig::default() },
            ..RunnerConfig::default()
        })
        .map_err(|e| StartError::Runners(e.to_string()))?;
        let _ = s.runners.set(runners);
        let _ = s.sealer.set(sealer);
        let rx = s.events_rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(rx) = rx {
            tokio::spawn(automation::worker(self.clone(), rx));
        }
        for run in s.store.running_runs().await? {
            if let Err(e) = self.resume(&run).await {
                tracing::warn!(run = %run.id, error = %e, "playbook run cannot resume; marked interrupted");
                s.store
                    .finish_run(&run.id, "interrupted", Some(&format!("could not resume: {e}")), &run.variables)
                    .await?;
            }
        }
        Ok(())
    }

    /// The sealer, once started.
    ///
    /// # Errors
    /// [`RunError::NotStarted`].
    pub fn sealer(&self) -> Result<&Sealer, RunError> {
        self.0.sealer()
    }

    /// Tells the automation worker about an incident event. Never blocks: when the
    /// queue is full the event is dropped with a warning.
    pub fn incident_event(&self, event: automation::IncidentEvent) {
        if let Err(e) = self.0.events.try_send(event) {
            tracing::warn!(error = %e, "automation queue full; an incident event was not evaluated");
        }
    }

    /// Starts a run: records it (and its timeline entry) and spawns it.
    ///
    /// # Errors
    /// [`RunError`]: not started, invalid playbook or inputs, no free slot, store errors.
    pub async fn start_run(&self, req: StartRun) -> Result<RunRow, RunError> {
        let s = &self.0;
        let sealer = s.sealer()?;
        let pb = library::load_runnable(&req.version, sealer)?;
        let problems = library::check_run(&pb, &req.inputs);
        if !problems.is_empty() {
            return Err(RunError::Invalid(problems));
        }
        let permit =
            if req.wait { None } else { Some(Arc::clone(&s.permits).try_acquire_owned().map_err(|_| RunError::Busy)?) };
        let id = uuid::Uuid::new_v4();
        let restricted = match &req.incident_id {
            Some(i) => automation::restricted_values(&s.store, i).await?,
            None => BTreeMap::new(),
        };
        let run = s
            .store
            .create_run(&NewRun {
                id: id.to_string(),
                org: req.org,
                version_id: req.version.id.clone(),
                playbook_id: req.version.playbook_id.clone(),
                playbook_name: req.version.name.clone(),
                incident_id: req.incident_id.clone(),
                rule_id: req.rule_id.clone(),
                inputs_sealed: sealer.seal(&serde_json::to_string(&req.inputs).unwrap_or_else(|_| "{}".into())),
                variables: redacted_variables(&req.inputs, &pb),
                started_by: req.actor.clone(),
            })
            .await?;
        self.spawn(run.clone(), pb, req.inputs, Vec::new(), BTreeSet::new(), restricted, permit);
        Ok(run)
    }

    async fn resume(&self, run: &RunRow) -> Result<(), RunError> {
        let s = &self.0;
        let sealer = s.sealer()?;
        let version = s.store.get_playbook_version(&run.version_id).await?;
        let pb = library::load_runnable(&version, sealer)?;
        let inputs: BTreeMap<String, Value> =
            serde_json::from_str(&sealer.open(&run.inputs_sealed).map_err(library::LoadError::from)?)
                .map_err(|e| RunError::Invalid(vec![format!("stored inputs: {e}")]))?;
        let mut records = Vec::new();
        let mut interrupted = BTreeSet::new();
        for r in s.store.step_records(&run.id).await? {
            let rec: ExecutionRecord = serde_json::from_str(&r.record)
                .map_err(|e| RunError::Invalid(vec![format!("stored record {}: {e}", r.id)]))?;
            if !rec.status.is_terminal() && rec.automated_execution {
                interrupted.insert(rec.occurrence.clone());
            }
            records.push(rec);
        }
        let restricted = match &run.incident_id {
            Some(i) => automation::restricted_values(&s.store, i).await?,
            None => BTreeMap::new(),
        };
        tracing::info!(run = %run.id, records = records.len(), "resuming playbook run");
        self.spawn(run.clone(), pb, inputs, records, interrupted, restricted, None);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &self,
        run: RunRow,
        pb: Playbook,
        inputs: BTreeMap<String, Value>,
        records: Vec<ExecutionRecord>,
        interrupted: BTreeSet<String>,
        restricted: BTreeMap<String, Pap>,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) {
        let shared = Arc::clone(&self.0);
        let cancel = Cancellation::new();
        shared.active.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(run.id.clone(), cancel.clone());
        tokio::spawn(async move {
            let _permit = match permit {
                Some(p) => p,
                None => match Arc::clone(&shared.permits).acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => return,
                },
            };
            let host = Arc::new(host::RunHost {
                shared: Arc::clone(&shared),
                run_id: run.id.clone(),
                org: run.org,
                incident_id: run.incident_id.clone(),
                interrupted,
                hit_interrupted: AtomicBool::new(false),
                restricted,
            });
            let engine =
                Engine::new(Arc::clone(&host), EngineConfig { rerun_interrupted: true, ..EngineConfig::default() });
            let exec_id = uuid::Uuid::parse_str(&run.id).unwrap_or_else(|_| uuid::Uuid::new_v4());
            let result = engine.resume(&pb, &inputs, exec_id, records, &cancel).await;
            let (status, text, vars) = match result {
                Ok(o) => {
                    let vars = redacted_variables(&values_of(&o.variables), &pb);
                    match o.status {
                        RunStatus::Completed => ("completed", None, vars),
                        RunStatus::Failed(m) if host.hit_interrupted.load(std::sync::atomic::Ordering::SeqCst) => {
                            ("interrupted", Some(m), vars)
                        }
                        RunStatus::Failed(m) => ("failed", Some(m), vars),
                        RunStatus::Cancelled => ("cancelled", None, vars),
                        RunStatus::Interrupted(m) => ("interrupted", Some(m), vars),
                    }
                }
                Err(e) => ("failed", Some(e.to_string()), run.variables.clone()),
            };
            let mut scrub = Redactor::new();
            for a in pb.authentication_info_definitions.iter().flat_map(|m| m.values()) {
                scrub.add_auth(a);
            }
            let text = text.map(|t| scrub.scrub(&t));
            if let Err(e) = shared.store.finish_run(&run.id, status, text.as_deref(), &vars).await {
                tracing::error!(run = %run.id, error = %e, "could not record the end of a playbook run");
            }
            shared.active.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&run.id);
        });
    }

    /// Cancels a running run of this server. Returns `false` when it is not running here.
    #[must_use]
    pub fn cancel(&self, run_id: &str) -> bool {
        let active = self.0.active.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match active.get(run_id) {
            Some(c) => {
                c.cancel();
                true
            }
            None => false,
        }
    }

    /// Completes an open manual task with its out-arg values and wakes its run.
    ///
    /// # Errors
    /// [`RunError::Invalid`] naming an out-arg the step does not ask for; store errors.
    pub async fn complete_task(
        &self,
        task: &ManualTaskRow,
        values: &BTreeMap<String, Value>,
        actor: &str,
    ) -> Result<ManualTaskRow, RunError> {
        let wanted: Vec<String> = serde_json::from_str(&task.out_args).unwrap_or_default();
        let unknown: Vec<String> = values
            .keys()
            .filter(|k| !wanted.contains(k))
            .map(|k| format!("out_args.{k}: the step does not ask for it (it asks for: {})", wanted.join(", ")))
            .collect();
        if !unknown.is_empty() {
            return Err(RunError::Invalid(unknown));
        }
        let json = serde_json::to_string(values).unwrap_or_else(|_| "{}".into());
        let done = self.0.store.complete_task(&task.id, &json, actor).await?;
        self.0.wake(&task.id);
        Ok(done)
    }
}
