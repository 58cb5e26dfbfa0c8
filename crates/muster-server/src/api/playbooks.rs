//! Playbooks: the organisation's CACAO library (import, versions, export,
//! archive), runs (start, history, detail with execution-status records,
//! cancel), analysts' manual tasks, automation rules and the runs they propose.
//!
//! Roles: observers read; analysts start and cancel runs, complete manual
//! tasks and start suggested runs; coordinators and admins manage the library
//! and the rules and approve runs that need approval.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use muster_core::Role;
use muster_core::access::Marking;
use muster_store::{ManualTaskRow, PlaybookVersionRow, ProposalRow, RuleRow, RunRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Body, Json, Path, Query};
use crate::playbooks::automation::{self, Conditions};
use crate::playbooks::{StartRun, library};
use crate::state::AppState;
use crate::visibility::{Marked, can_see};

impl Marked for PlaybookVersionRow {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, muster_core::Tlp::AmberStrict)
    }
}
impl Marked for RunRow {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, muster_core::Tlp::AmberStrict)
    }
}
impl Marked for ManualTaskRow {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, muster_core::Tlp::AmberStrict)
    }
}
impl Marked for RuleRow {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, muster_core::Tlp::AmberStrict)
    }
}
impl Marked for ProposalRow {
    fn marking(&self) -> Marking<'_> {
        Marking::owned(self.org, muster_core::Tlp::AmberStrict)
    }
}

fn check_id(field: &str, prefix: &str, id: &str) -> ApiResult<()> {
    let ok = id.starts_with(prefix)
        && id.len() <= 120
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || c == ':');
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!("{field}: invalid id {:?}", id.chars().take(64).collect::<String>())))
    }
}

/// One version of a playbook in the library.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    /// Muster's id of this version.
    pub version_id: String,
    /// The CACAO playbook id.
    pub playbook_id: String,
    /// The CACAO `modified` timestamp naming this version.
    pub modified: String,
    pub name: String,
    pub description: String,
    pub imported_by: String,
    pub imported_at: String,
    pub archived: bool,
}

impl From<&PlaybookVersionRow> for VersionView {
    fn from(v: &PlaybookVersionRow) -> Self {
        Self {
            version_id: v.id.clone(),
            playbook_id: v.playbook_id.clone(),
            modified: v.modified.clone(),
            name: v.name.clone(),
            description: v.description.clone(),
            imported_by: v.imported_by.clone(),
            imported_at: crate::rfc3339(v.imported_at),
            archived: v.archived,
        }
    }
}

/// A playbook of the library: its newest version and how many there are.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybookView {
    #[serde(flatten)]
    pub latest: VersionView,
    pub versions: i64,
}

/// A validator finding, located by JSON pointer.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueView {
    pub path: String,
    pub message: String,
}

/// The outcome of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    #[serde(flatten)]
    pub version: VersionView,
    pub warnings: Vec<IssueView>,
}

/// One workflow step, for the steps table.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub commands: Vec<String>,
    pub next: Vec<String>,
}

/// A playbook with its steps, external variables and versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybookDetail {
    #[serde(flatten)]
    pub latest: VersionView,
    pub workflow_start: String,
    pub steps: Vec<StepView>,
    /// External variables a run can be given: name → CACAO type.
    pub inputs: BTreeMap<String, String>,
    pub versions: Vec<VersionView>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Include archived playbooks.
    #[serde(default)]
    pub archived: bool,
}

/// The organisation's playbook library.
#[utoipa::path(get, path = "/api/v1/playbooks", tag = "playbooks", params(ListQuery),
    responses((status = 200, body = [PlaybookView])))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<PlaybookView>>> {
    let rows = state.store.list_playbooks(p.org.id, q.archived).await?;
    Ok(Json(
        rows.iter()
            .filter(|s| can_see(&p, &s.latest))
            .map(|s| PlaybookView { latest: (&s.latest).into(), versions: s.versions })
            .collect(),
    ))
}

/// Imports a CACAO 2.0 playbook (the JSON document as the body) as a new
/// version. Invalid documents are refused with the validator's errors by JSON
/// path; authentication info is encrypted at rest and redacted in every output.
#[utoipa::path(post, path = "/api/v1/playbooks", tag = "playbooks", request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = Imported), (status = 403), (status = 409), (status = 422)))]
pub async fn import(State(state): State<AppState>, p: Principal, Body(body): Body) -> ApiResult<Response> {
    p.require(Role::Coordinator)?;
    let sealer = state.playbooks.sealer()?;
    let prepared = match library::prepare(&body, p.org.id, &p.actor(), sealer) {
        Ok(prepared) => prepared,
        Err(library::ImportError::Invalid(report)) => {
            let errors: Vec<Value> =
                report.errors.iter().map(|e| serde_json::json!({ "path": e.path, "message": e.message })).collect();
            let message = report.errors.iter().take(5).map(ToString::to_string).collect::<Vec<_>>().join("; ");
            let body = serde_json::json!({ "error": { "code": "invalid", "message": format!("the playbook is invalid: {message}"), "errors": errors } });
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response());
        }
    };
    let row = state.store.import_playbook_version(&prepared.version).await?;
    let out = Imported {
        version: (&row).into(),
        warnings: prepared
            .warnings
            .iter()
            .map(|w| IssueView { path: w.path.clone(), message: w.message.clone() })
            .collect(),
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn versions_of(state: &AppState, p: &Principal, id: &str) -> ApiResult<Vec<PlaybookVersionRow>> {
    check_id("id", "playbook--", id)?;
    let versions = state.store.playbook_versions(p.org.id, id).await?;
    let versions: Vec<PlaybookVersionRow> = versions.into_iter().filter(|v| can_see(p, v)).collect();
    if versions.is_empty() {
        return Err(AppError::NotFound(format!("playbook {id}")));
    }
    Ok(versions)
}

/// Builds the detail view of a version.
pub(crate) fn detail_of(latest: &PlaybookVersionRow, versions: &[PlaybookVersionRow]) -> ApiResult<PlaybookDetail> {
    let pb = library::parse_stored(latest).map_err(|e| AppError::Internal(e.to_string()))?;
    let steps = pb
        .workflow
        .iter()
        .map(|(id, s)| {
            let c = s.common();
            let commands = match s {
                muster_cacao::model::WorkflowStep::Action(a) => a
                    .commands
                    .iter()
                    .map(|c| {
                        let text = c.command.clone().or_else(|| c.description.clone()).unwrap_or_default();
                        format!("{}: {}", c.kind, text.chars().take(200).collect::<String>())
                    })
                    .collect(),
                _ => Vec::new(),
            };
            use muster_cacao::model::WorkflowStep as W;
            let mut next: Vec<String> = match s {
                W::Parallel(p) => p.next_steps.clone(),
                W::IfCondition(i) => std::iter::once(i.on_true.clone()).chain(i.on_false.clone()).collect(),
                W::WhileCondition(w) => vec![w.on_true.clone()],
                W::SwitchCondition(w) => w.cases.values().cloned().collect(),
                _ => Vec::new(),
            };
            next.extend([&c.on_success, &c.on_failure, &c.on_completion].into_iter().flatten().cloned());
            StepView {
                id: id.clone(),
                kind: s.step_type().as_str().to_owned(),
                name: c.name.clone(),
                description: c.description.clone(),
                commands,
                next,
            }
        })
        .collect::<Vec<StepView>>();
    // In the order the workflow reaches them from its start (unreached steps last).
    let mut order: Vec<String> = Vec::new();
    let mut queue = std::collections::VecDeque::from([pb.workflow_start.clone()]);
    while let Some(id) = queue.pop_front() {
        if order.contains(&id) || !pb.workflow.contains_key(&id) {
            continue;
        }
        order.push(id.clone());
        if let Some(step) = steps.iter().find(|s: &&StepView| s.id == id) {
            queue.extend(step.next.iter().cloned());
        }
    }
    let mut steps = steps;
    steps.sort_by_key(|s: &StepView| order.iter().position(|o| *o == s.id).unwrap_or(usize::MAX));
    let inputs = pb
        .playbook_variables
        .iter()
        .flatten()
        .filter(|(_, v)| v.is_external())
        .map(|(k, v)| (k.clone(), v.kind.as_str().to_owned()))
        .collect();
    Ok(PlaybookDetail {
        latest: latest.into(),
        workflow_start: pb.workflow_start.clone(),
        steps,
        inputs,
        versions: versions.iter().map(Into::into).collect(),
    })
}

/// A playbook's newest version with its steps and the versions kept.
#[utoipa::path(get, path = "/api/v1/playbooks/{id}", tag = "playbooks", params(("id" = String, Path)),
    responses((status = 200, body = PlaybookDetail), (status = 404)))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<PlaybookDetail>> {
    let versions = versions_of(&state, &p, &id).await?;
    Ok(Json(detail_of(&versions[0], &versions)?))
}

/// Every version of a playbook, newest first.
#[utoipa::path(get, path = "/api/v1/playbooks/{id}/versions", tag = "playbooks", params(("id" = String, Path)),
    responses((status = 200, body = [VersionView]), (status = 404)))]
pub async fn versions(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<VersionView>>> {
    Ok(Json(versions_of(&state, &p, &id).await?.iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// The `modified` timestamp of the version (default: the newest).
    pub modified: Option<String>,
}

/// The stored CACAO document of a version, as imported (authentication secrets redacted).
#[utoipa::path(get, path = "/api/v1/playbooks/{id}/export", tag = "playbooks", params(("id" = String, Path), ExportQuery),
    responses((status = 200, content_type = "application/json", body = Object), (status = 404)))]
pub async fn export(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let versions = versions_of(&state, &p, &id).await?;
    let v = match &q.modified {
        Some(m) => versions
            .iter()
            .find(|v| &v.modified == m)
            .ok_or_else(|| AppError::NotFound(format!("version {m} of {id}")))?,
        None => &versions[0],
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], v.document.clone()).into_response())
}

/// Archives a playbook: it leaves the library list and cannot be started; its runs and exports stay.
#[utoipa::path(delete, path = "/api/v1/playbooks/{id}", tag = "playbooks", params(("id" = String, Path)),
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn archive(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<StatusCode> {
    p.require(Role::Coordinator)?;
    versions_of(&state, &p, &id).await?;
    state.store.archive_playbook(p.org.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// Values of the playbook's external variables, by `__name__`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, Value>,
    /// The incident the run works on (its timeline records the run).
    pub incident_id: Option<String>,
    /// The `modified` of the version to run (default: the newest).
    pub modified: Option<String>,
}

/// A run, without its records.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub playbook_id: String,
    pub version_id: String,
    pub incident_id: Option<String>,
    pub rule_id: Option<String>,
    /// running, completed, failed, cancelled, interrupted
    pub status: String,
    pub status_text: Option<String>,
    /// Inputs at the start, final variables at the end; secrets redacted.
    #[schema(value_type = Object)]
    pub variables: Value,
    pub started_by: String,
    pub started_at: String,
    pub ended_at: Option<String>,
}

impl From<&RunRow> for RunView {
    fn from(r: &RunRow) -> Self {
        Self {
            id: r.id.clone(),
            playbook_id: r.playbook_id.clone(),
            version_id: r.version_id.clone(),
            incident_id: r.incident_id.clone(),
            rule_id: r.rule_id.clone(),
            status: r.status.clone(),
            status_text: r.status_text.clone(),
            variables: serde_json::from_str(&r.variables).unwrap_or(Value::Null),
            started_by: r.started_by.clone(),
            started_at: crate::rfc3339(r.started_at),
            ended_at: r.ended_at.map(crate::rfc3339),
        }
    }
}

/// An analyst's task from a manual step.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: String,
    pub run_id: String,
    pub incident_id: Option<String>,
    pub step_id: String,
    pub title: String,
    pub instructions: String,
    pub out_args: Vec<String>,
    /// open, completed, cancelled, expired
    pub status: String,
    #[schema(value_type = Object)]
    pub result: Option<Value>,
    pub completed_by: Option<String>,
    pub created_at: String,
}

impl From<&ManualTaskRow> for TaskView {
    fn from(t: &ManualTaskRow) -> Self {
        Self {
            id: t.id.clone(),
            run_id: t.run_id.clone(),
            incident_id: t.incident_id.clone(),
            step_id: t.step_id.clone(),
            title: t.title.clone(),
            instructions: t.instructions.clone(),
            out_args: serde_json::from_str(&t.out_args).unwrap_or_default(),
            status: t.status.clone(),
            result: t.result.as_deref().and_then(|r| serde_json::from_str(r).ok()),
            completed_by: t.completed_by.clone(),
            created_at: crate::rfc3339(t.created_at),
        }
    }
}

/// A run with its execution-status records (CACAO shape) and tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunView,
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Value>,
    pub tasks: Vec<TaskView>,
}

async fn incident_of_org(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    if !id.starts_with("incident--") || id.len() > 64 {
        return Err(AppError::BadRequest(format!(
            "incident_id: invalid incident id {:?}",
            id.chars().take(64).collect::<String>()
        )));
    }
    let row = state.store.incident(id).await.map_err(|_| AppError::NotFound(format!("incident_id: incident {id}")))?;
    if row.org != p.org.id {
        return Err(AppError::NotFound(format!("incident_id: incident {id}")));
    }
    Ok(())
}

/// Starts a run of a playbook (analysts and up).
#[utoipa::path(post, path = "/api/v1/playbooks/{id}/runs", tag = "playbooks", params(("id" = String, Path)), request_body = StartBody,
    responses((status = 201, body = RunView), (status = 404), (status = 422), (status = 503)))]
pub async fn start_run(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<StartBody>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    p.require(Role::Analyst)?;
    let versions = versions_of(&state, &p, &id).await?;
    let version = match &body.modified {
        Some(m) => versions
            .into_iter()
            .find(|v| &v.modified == m)
            .ok_or_else(|| AppError::NotFound(format!("modified: version {m}")))?,
        None => versions.into_iter().next().ok_or_else(|| AppError::NotFound(format!("playbook {id}")))?,
    };
    if version.archived {
        return Err(AppError::Conflict(format!("playbook {id} is archived; import it again to run it")));
    }
    if let Some(i) = &body.incident_id {
        incident_of_org(&state, &p, i).await?;
    }
    let run = state
        .playbooks
        .start_run(StartRun {
            org: p.org.id,
            version,
            inputs: body.variables,
            incident_id: body.incident_id,
            rule_id: None,
            actor: p.actor(),
            wait: false,
        })
        .await?;
    Ok((StatusCode::CREATED, Json((&run).into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RunsQuery {
    pub playbook_id: Option<String>,
    pub incident_id: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Run history, newest first.
#[utoipa::path(get, path = "/api/v1/playbook-runs", tag = "playbooks", params(RunsQuery),
    responses((status = 200, body = [RunView])))]
pub async fn list_runs(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Json<Vec<RunView>>> {
    let rows = state
        .store
        .list_runs(p.org.id, q.playbook_id.as_deref(), q.incident_id.as_deref(), q.limit.unwrap_or(100))
        .await?;
    Ok(Json(rows.iter().filter(|r| can_see(&p, *r)).map(Into::into).collect()))
}

pub(crate) async fn run_detail(state: &AppState, p: &Principal, id: &str) -> ApiResult<RunDetail> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(AppError::BadRequest(format!("id: invalid run id {:?}", id.chars().take(64).collect::<String>())));
    }
    let run = state.store.get_run(id).await?;
    if !can_see(p, &run) {
        return Err(AppError::NotFound(format!("playbook run {id}")));
    }
    let records =
        state.store.step_records(id).await?.iter().filter_map(|r| serde_json::from_str(&r.record).ok()).collect();
    let tasks = state.store.tasks_of_run(id).await?.iter().map(Into::into).collect();
    Ok(RunDetail { run: (&run).into(), records, tasks })
}

/// A run with its step records and tasks.
#[utoipa::path(get, path = "/api/v1/playbook-runs/{id}", tag = "playbooks", params(("id" = String, Path)),
    responses((status = 200, body = RunDetail), (status = 404)))]
pub async fn get_run(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<RunDetail>> {
    Ok(Json(run_detail(&state, &p, &id).await?))
}

/// Cancels a running run (analysts and up): the current step is abandoned, no new step starts.
#[utoipa::path(post, path = "/api/v1/playbook-runs/{id}/cancel", tag = "playbooks", params(("id" = String, Path)),
    responses((status = 202, body = RunView), (status = 404), (status = 409)))]
pub async fn cancel_run(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    p.require(Role::Analyst)?;
    let d = run_detail(&state, &p, &id).await?;
    if d.run.status != "running" {
        return Err(AppError::Conflict(format!("run {id} is {}, not running", d.run.status)));
    }
    if !state.playbooks.cancel(&id) {
        // Running in the store but not in this process (another node, or not resumed): end it here.
        state.store.finish_run(&id, "cancelled", Some("cancelled while not executing on this server"), "{}").await?;
    }
    Ok((StatusCode::ACCEPTED, Json(d.run)))
}

/// Open manual tasks of the organisation, oldest first.
#[utoipa::path(get, path = "/api/v1/playbook-tasks", tag = "playbooks", responses((status = 200, body = [TaskView])))]
pub async fn list_tasks(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TaskView>>> {
    let rows = state.store.open_tasks(p.org.id).await?;
    Ok(Json(rows.iter().filter(|t| can_see(&p, *t)).map(Into::into).collect()))
}

pub(crate) async fn visible_task(state: &AppState, p: &Principal, id: &str) -> ApiResult<ManualTaskRow> {
    check_id("id", "task--", id)?;
    let t = state.store.get_task(id).await?;
    if !can_see(p, &t) {
        return Err(AppError::NotFound(format!("task {id}")));
    }
    Ok(t)
}

/// One task.
#[utoipa::path(get, path = "/api/v1/playbook-tasks/{id}", tag = "playbooks", params(("id" = String, Path)),
    responses((status = 200, body = TaskView), (status = 404)))]
pub async fn get_task(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json((&visible_task(&state, &p, &id).await?).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// Values of the step's out-args, by `__name__`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub out_args: BTreeMap<String, Value>,
}

/// Completes a manual step with its out-args (analysts and up); the run continues.
#[utoipa::path(post, path = "/api/v1/playbook-tasks/{id}/complete", tag = "playbooks", params(("id" = String, Path)), request_body = CompleteBody,
    responses((status = 200, body = TaskView), (status = 404), (status = 409), (status = 422)))]
pub async fn complete_task(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<CompleteBody>,
) -> ApiResult<Json<TaskView>> {
    p.require(Role::Analyst)?;
    let t = visible_task(&state, &p, &id).await?;
    let done = state.playbooks.complete_task(&t, &body.out_args, &p.actor()).await?;
    Ok(Json((&done).into()))
}

/// An automation rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// incident-created, incident-updated, alert-matched
    pub trigger: String,
    pub conditions: Conditions,
    pub playbook_id: String,
    /// automatic, suggested, approval
    pub mode: String,
    /// Playbook variable → incident field.
    pub variables: BTreeMap<String, String>,
    pub created_by: String,
    pub created_at: String,
}

impl From<&RuleRow> for RuleView {
    fn from(r: &RuleRow) -> Self {
        Self {
            id: r.id.clone(),
            name: r.name.clone(),
            enabled: r.enabled,
            trigger: r.trigger_on.clone(),
            conditions: serde_json::from_str(&r.conditions).unwrap_or_default(),
            playbook_id: r.playbook_id.clone(),
            mode: r.mode.clone(),
            variables: serde_json::from_str(&r.variables).unwrap_or_default(),
            created_by: r.created_by.clone(),
            created_at: crate::rfc3339(r.created_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    pub name: String,
    /// incident-created, incident-updated, alert-matched
    pub trigger: String,
    #[serde(default)]
    pub conditions: Conditions,
    /// The CACAO id of a playbook of the library; runs take its newest version.
    pub playbook_id: String,
    /// automatic, suggested, approval
    pub mode: String,
    /// Playbook external variable → incident field: incident.id, incident.title, incident.severity,
    /// incident.rsit_type, incident.tlp, incident.pap, incident.status, incident.description, alert_ids,
    /// observables, observables:KIND, observable:KIND, hosts, host, sources.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Validates a rule and stores it (used by the API and the page).
pub(crate) async fn create_rule_for(state: &AppState, p: &Principal, body: CreateRule) -> ApiResult<RuleRow> {
    p.require(Role::Coordinator)?;
    if !automation::TRIGGERS.contains(&body.trigger.as_str()) {
        return Err(AppError::Unprocessable(format!(
            "trigger: {:?} is not one of {}",
            body.trigger,
            automation::TRIGGERS.join(", ")
        )));
    }
    if !automation::MODES.contains(&body.mode.as_str()) {
        return Err(AppError::Unprocessable(format!(
            "mode: {:?} is not one of {}",
            body.mode,
            automation::MODES.join(", ")
        )));
    }
    for s in &body.conditions.severities {
        if !crate::api::incidents::SEVERITIES.contains(&s.as_str()) {
            return Err(AppError::Unprocessable(format!("conditions.severities: {s:?} is not a severity")));
        }
    }
    for t in &body.conditions.rsit_types {
        muster_core::taxonomy::RsitType::parse(t)
            .map_err(|e| AppError::Unprocessable(format!("conditions.rsit_types: {e}")))?;
    }
    for (var, src) in &body.variables {
        if !muster_cacao::vars::is_valid_name(var) {
            return Err(AppError::Unprocessable(format!("variables: {var:?} is not a CACAO variable name (__name__)")));
        }
        if !automation::known_source(src) {
            return Err(AppError::Unprocessable(format!(
                "variables.{var}: {src:?} is not an incident field Muster maps"
            )));
        }
    }
    check_id("playbook_id", "playbook--", &body.playbook_id).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let latest =
        state.store.latest_playbook_version(p.org.id, &body.playbook_id).await.map_err(|_| {
            AppError::Unprocessable(format!("playbook_id: {} is not in your library", body.playbook_id))
        })?;
    let pb = library::parse_stored(&latest).map_err(|e| AppError::Internal(e.to_string()))?;
    let vars = pb.playbook_variables.unwrap_or_default();
    for var in body.variables.keys() {
        if !vars.get(var).is_some_and(muster_cacao::model::Variable::is_external) {
            return Err(AppError::Unprocessable(format!("variables.{var}: not an external variable of the playbook")));
        }
    }
    let new = muster_store::NewRule {
        org: p.org.id,
        name: body.name,
        enabled: body.enabled,
        trigger_on: body.trigger,
        conditions: serde_json::to_string(&body.conditions).unwrap_or_else(|_| "{}".into()),
        playbook_id: body.playbook_id,
        mode: body.mode,
        variables: serde_json::to_string(&body.variables).unwrap_or_else(|_| "{}".into()),
        created_by: p.actor(),
    };
    Ok(state.store.create_rule(&new).await?)
}

/// Creates an automation rule (coordinators and admins).
#[utoipa::path(post, path = "/api/v1/automation-rules", tag = "playbooks", request_body = CreateRule,
    responses((status = 201, body = RuleView), (status = 403), (status = 422)))]
pub async fn create_rule(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<CreateRule>,
) -> ApiResult<(StatusCode, Json<RuleView>)> {
    let row = create_rule_for(&state, &p, body).await?;
    Ok((StatusCode::CREATED, Json((&row).into())))
}

/// The organisation's automation rules.
#[utoipa::path(get, path = "/api/v1/automation-rules", tag = "playbooks", responses((status = 200, body = [RuleView])))]
pub async fn list_rules(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Vec<RuleView>>> {
    let rows = state.store.list_rules(p.org.id, None).await?;
    Ok(Json(rows.iter().filter(|r| can_see(&p, *r)).map(Into::into).collect()))
}

async fn visible_rule(state: &AppState, p: &Principal, id: &str) -> ApiResult<RuleRow> {
    check_id("id", "automation-rule--", id)?;
    let r = state.store.get_rule(id).await?;
    if !can_see(p, &r) {
        return Err(AppError::NotFound(format!("automation rule {id}")));
    }
    Ok(r)
}

/// One automation rule.
#[utoipa::path(get, path = "/api/v1/automation-rules/{id}", tag = "playbooks", params(("id" = String, Path)),
    responses((status = 200, body = RuleView), (status = 404)))]
pub async fn get_rule(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<RuleView>> {
    Ok(Json((&visible_rule(&state, &p, &id).await?).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRule {
    pub enabled: bool,
}

/// Turns a rule on or off (coordinators and admins).
#[utoipa::path(patch, path = "/api/v1/automation-rules/{id}", tag = "playbooks", params(("id" = String, Path)), request_body = PatchRule,
    responses((status = 200, body = RuleView), (status = 403), (status = 404)))]
pub async fn patch_rule(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<PatchRule>,
) -> ApiResult<Json<RuleView>> {
    p.require(Role::Coordinator)?;
    visible_rule(&state, &p, &id).await?;
    Ok(Json((&state.store.set_rule_enabled(&id, body.enabled).await?).into()))
}

/// A run proposed by a rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalView {
    pub id: String,
    pub rule_id: String,
    pub incident_id: String,
    pub playbook_id: String,
    /// suggested (an analyst starts it) or approval (a coordinator or admin does)
    pub mode: String,
    /// pending, started, dismissed
    pub status: String,
    pub created_at: String,
    pub decided_by: Option<String>,
    pub run_id: Option<String>,
}

impl From<&ProposalRow> for ProposalView {
    fn from(r: &ProposalRow) -> Self {
        Self {
            id: r.id.clone(),
            rule_id: r.rule_id.clone(),
            incident_id: r.incident_id.clone(),
            playbook_id: r.playbook_id.clone(),
            mode: r.mode.clone(),
            status: r.status.clone(),
            created_at: crate::rfc3339(r.created_at),
            decided_by: r.decided_by.clone(),
            run_id: r.run_id.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ProposalsQuery {
    pub incident_id: Option<String>,
}

/// Runs proposed by rules, newest first.
#[utoipa::path(get, path = "/api/v1/automation-proposals", tag = "playbooks", params(ProposalsQuery),
    responses((status = 200, body = [ProposalView])))]
pub async fn list_proposals(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<ProposalsQuery>,
) -> ApiResult<Json<Vec<ProposalView>>> {
    let rows = state.store.list_proposals(p.org.id, q.incident_id.as_deref()).await?;
    Ok(Json(rows.iter().filter(|r| can_see(&p, *r)).map(Into::into).collect()))
}

/// Starts a proposed run: analysts for `suggested`, coordinators and admins for `approval`.
pub(crate) async fn start_proposal(state: &AppState, p: &Principal, id: &str) -> ApiResult<RunRow> {
    check_id("id", "automation-proposal--", id)?;
    let prop = state.store.get_proposal(id).await?;
    if !can_see(p, &prop) {
        return Err(AppError::NotFound(format!("automation proposal {id}")));
    }
    p.require(if prop.mode == "approval" { Role::Coordinator } else { Role::Analyst })?;
    let sealer = state.playbooks.sealer()?;
    let inputs: BTreeMap<String, Value> =
        serde_json::from_str(&sealer.open(&prop.inputs_sealed).map_err(|e| AppError::Internal(e.to_string()))?)
            .unwrap_or_default();
    let version = state.store.latest_playbook_version(prop.org, &prop.playbook_id).await?;
    if version.archived {
        return Err(AppError::Conflict(format!("playbook {} is archived", prop.playbook_id)));
    }
    state.store.decide_proposal(id, "started", &p.actor(), None).await?;
    let started = state
        .playbooks
        .start_run(StartRun {
            org: prop.org,
            version,
            inputs,
            incident_id: Some(prop.incident_id.clone()),
            rule_id: Some(prop.rule_id.clone()),
            actor: p.actor(),
            wait: false,
        })
        .await;
    let run = match started {
        Ok(run) => run,
        Err(e) => {
            // Nothing ran: the proposal stays for a later attempt.
            state.store.reopen_proposal(id).await?;
            return Err(e.into());
        }
    };
    state.store.set_proposal_run(id, &run.id).await?;
    Ok(run)
}

/// Starts (approves) a proposed run.
#[utoipa::path(post, path = "/api/v1/automation-proposals/{id}/start", tag = "playbooks", params(("id" = String, Path)),
    responses((status = 201, body = RunView), (status = 403), (status = 404), (status = 409)))]
pub async fn approve(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let run = start_proposal(&state, &p, &id).await?;
    Ok((StatusCode::CREATED, Json((&run).into())))
}

/// Dismisses a proposed run (the role that could start it).
#[utoipa::path(post, path = "/api/v1/automation-proposals/{id}/dismiss", tag = "playbooks", params(("id" = String, Path)),
    responses((status = 200, body = ProposalView), (status = 403), (status = 404), (status = 409)))]
pub async fn dismiss(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ProposalView>> {
    check_id("id", "automation-proposal--", &id)?;
    let prop = state.store.get_proposal(&id).await?;
    if !can_see(&p, &prop) {
        return Err(AppError::NotFound(format!("automation proposal {id}")));
    }
    p.require(if prop.mode == "approval" { Role::Coordinator } else { Role::Analyst })?;
    Ok(Json((&state.store.decide_proposal(&id, "dismissed", &p.actor(), None).await?).into()))
}
