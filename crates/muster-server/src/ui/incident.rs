//! The incident page (summary, status, tasks, comments, observables, alerts,
//! attachments, merge, templates, timeline), its forms, bulk actions from the
//! list, and the template page. Every form goes through the API handler of
//! the same action, so the page obeys exactly the API's rules; a refused form
//! shows the page again with the reason.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use muster_core::incident_work::{Severity, TaskStatus};
use muster_core::taxonomy::{NisRootCause, RsitType};
use muster_core::{Pap, Role, Tlp};
use serde::Deserialize;

use super::{Nav, Opt, PageResult, UiPrincipal, render};
use crate::api::incident_files::{self as files, AttachmentView, TemplateView};
use crate::api::incident_work::{self as work, CommentView, ObservableView, TaskView};
use crate::api::incidents::{self as incidents, IncidentDetail};
use crate::error::{AppError, Form, Json, Path};
use crate::state::AppState;
use crate::visibility::can_see;

/// One choice of a select whose values are not static.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(askama::Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    nav: Nav,
    i: IncidentDetail,
    can_work: bool,
    error: Option<String>,
    statuses: Vec<&'static str>,
    resolutions: &'static [&'static str],
    severities: Vec<Opt>,
    tlps: Vec<Opt>,
    paps: Vec<Opt>,
    rsit: Vec<Choice>,
    nis: Vec<Choice>,
    assignees: Vec<Choice>,
    members: Vec<Choice>,
    task_statuses: &'static [&'static str],
    kinds: Vec<&'static str>,
    tasks: Vec<TaskView>,
    comments: Vec<CommentView>,
    observables: Vec<ObservableView>,
    /// The incident has more observables than the page lists ([`PAGE_OBSERVABLES`]).
    observables_more: bool,
    /// The incident links more alerts than the page lists.
    alerts_truncated: bool,
    attachments: Vec<AttachmentView>,
    templates: Vec<TemplateView>,
    mergeable: Vec<Choice>,
    max_attachment_bytes: usize,
}

/// Alerts the page lists, newest first: correlation may link hundreds of
/// thousands to one incident; the API lists them all.
const PAGE_ALERTS: i64 = 200;
/// Observables the page lists (an incident takes every observable of its alerts).
const PAGE_OBSERVABLES: usize = 1_000;

/// The intake's observable kinds, for the add form (the API validates).
const OBSERVABLE_KINDS: &[&str] = &[
    "ipv4",
    "ipv6",
    "cidr",
    "domain",
    "url",
    "email",
    "md5",
    "sha1",
    "sha256",
    "file-name",
    "hostname",
    "user-account",
    "cve",
    "asn",
];

fn choices(values: impl IntoIterator<Item = (String, String)>, selected: Option<&str>) -> Vec<Choice> {
    values
        .into_iter()
        .map(|(value, label)| Choice { selected: Some(value.as_str()) == selected, value, label })
        .collect()
}

pub(crate) async fn incident_view(state: &AppState, ui: &UiPrincipal, id: String, error: Option<String>) -> PageResult {
    let p = &ui.0;
    let i = incidents::detail_newest(state, p, &id, PAGE_ALERTS).await?;
    let current = i.incident.status.clone();
    let statuses =
        muster_core::incident::IncidentStatus::NAMES.iter().copied().filter(|s| *s != "new" && *s != current).collect();
    let can_work = i.incident.organisation_id == p.org.id.to_string() && p.role.at_least(Role::Analyst);
    let users: Vec<(String, String)> = state
        .store
        .list_users(Some(p.org.id))
        .await?
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| (u.id.to_string(), u.username))
        .collect();
    let mut mergeable = Vec::new();
    if can_work {
        for r in state.store.list_incidents(p.org.id, 200).await? {
            if r.org == p.org.id && r.id != i.incident.id && r.lifecycle.status.as_str() != "closed" {
                mergeable.push((r.id.clone(), r.title.clone()));
            }
        }
    }
    let tasks = work::list_tasks(State(state.clone()), p.clone(), Path(id.clone())).await?.0;
    let comments = work::list_comments(State(state.clone()), p.clone(), Path(id.clone())).await?.0;
    // The first of the incident's observables (IoCs first), each through the gate;
    // one more is read to know whether there are more than the page shows.
    let mut first = state.store.first_incident_observables(&id, PAGE_OBSERVABLES as i64 + 1).await?;
    let observables_more = first.len() > PAGE_OBSERVABLES;
    first.truncate(PAGE_OBSERVABLES);
    let observables: Vec<ObservableView> = first.iter().filter(|o| can_see(p, *o)).map(Into::into).collect();
    let alerts_truncated = usize::try_from(i.alert_count).unwrap_or(usize::MAX) > i.alert_ids.len();
    let attachments = files::list_attachments(State(state.clone()), p.clone(), Path(id.clone())).await?.0;
    let templates = files::list_templates(State(state.clone()), p.clone()).await?.0;
    let failed = error.is_some();
    let page = IncidentPage {
        severities: super::options(Severity::NAMES, &i.incident.severity),
        tlps: super::options(Tlp::NAMES, &i.incident.tlp),
        paps: super::options(Pap::NAMES, &i.incident.pap),
        rsit: choices(
            RsitType::all().map(|r| (r.as_str().to_owned(), format!("{} / {}", r.class(), r.as_str()))),
            i.incident.rsit_type.as_deref(),
        ),
        nis: choices(
            NisRootCause::NAMES.iter().map(|n| ((*n).to_owned(), (*n).to_owned())),
            i.incident.nis_root_cause.as_deref(),
        ),
        assignees: choices(users.clone(), i.incident.assignee_id.as_deref()),
        members: choices(users, None),
        task_statuses: TaskStatus::NAMES,
        kinds: OBSERVABLE_KINDS.to_vec(),
        mergeable: choices(mergeable, None),
        i,
        can_work,
        error,
        statuses,
        resolutions: muster_core::incident::Resolution::NAMES,
        tasks,
        comments,
        observables,
        observables_more,
        alerts_truncated,
        attachments,
        templates,
        max_attachment_bytes: state.config.max_attachment_bytes,
        nav: ui.nav(state, "incidents").await,
    };
    let mut resp = render(&page);
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// Back to the incident page after a form: on success a redirect, on a
/// refusal the page again with the reason.
async fn after(state: &AppState, ui: &UiPrincipal, id: String, result: Result<(), AppError>) -> PageResult {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/incidents/{id}")).into_response()),
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_) | AppError::AttachmentTooLarge(_))) => {
            let status = e.status_and_code().0;
            let mut resp = incident_view(state, ui, id, Some(e.to_string())).await?;
            *resp.status_mut() = status;
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

fn parse_opt<T: std::str::FromStr>(field: &str, v: &str) -> Result<Option<T>, AppError>
where
    T::Err: std::fmt::Display,
{
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|e| AppError::Unprocessable(format!("{field}: {e}")))
}

/// `GET /incidents/{id}`.
pub async fn incident(State(state): State<AppState>, ui: UiPrincipal, Path(id): Path<String>) -> PageResult {
    incident_view(&state, &ui, id, None).await
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    status: String,
    #[serde(default)]
    resolution: String,
}

/// `POST /incidents/{id}/status`.
pub async fn incident_status(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let result = async {
        let body = incidents::ChangeStatus {
            status: f.status.parse().map_err(|e| AppError::Unprocessable(format!("status: {e}")))?,
            resolution: parse_opt("resolution", &f.resolution)?,
        };
        incidents::change_status(State(state.clone()), ui.0.clone(), Path(id.clone()), Json(body)).await.map(|_| ())
    }
    .await;
    after(&state, &ui, id, result).await
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    text: String,
}

/// `POST /incidents/{id}/timeline`.
pub async fn incident_note(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let body = incidents::Note { text: f.text };
    let r = incidents::add_note(State(state.clone()), ui.0.clone(), Path(id.clone()), Json(body)).await.map(|_| ());
    after(&state, &ui, id, r).await
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    title: Option<String>,
    severity: String,
    #[serde(default)]
    assignee_id: String,
    #[serde(default)]
    rsit_type: String,
    #[serde(default)]
    nis_root_cause: String,
    tlp: String,
    pap: String,
    #[serde(default)]
    reported: Option<String>,
    #[serde(default)]
    expected_updated_at: Option<String>,
}

/// `POST /incidents/{id}/edit`: the summary form.
pub async fn edit(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<EditForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let result = async {
        let body = work::UpdateIncident {
            title: f.title.clone(),
            description: None,
            severity: parse_opt("severity", &f.severity)?,
            rsit_type: Some(parse_opt("rsit_type", &f.rsit_type)?),
            nis_root_cause: Some(parse_opt("nis_root_cause", &f.nis_root_cause)?),
            assignee_id: Some(parse_opt("assignee_id", &f.assignee_id)?),
            tlp: parse_opt("tlp", &f.tlp)?,
            pap: parse_opt("pap", &f.pap)?,
            reported: f.reported.is_some(),
            expected_updated_at: f.expected_updated_at.clone().filter(|v| !v.is_empty()),
        };
        work::edit(&state, &ui.0, &id, body, None).await.map(|_| ())
    }
    .await;
    after(&state, &ui, id, result).await
}

#[derive(Deserialize)]
pub struct TaskForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    title: String,
    #[serde(default)]
    assignee_id: String,
    #[serde(default)]
    due_date: String,
}

/// `POST /incidents/{id}/tasks`.
pub async fn add_task(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<TaskForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let result = async {
        let body = work::CreateTask {
            title: f.title.clone(),
            description: String::new(),
            assignee_id: parse_opt("assignee_id", &f.assignee_id)?,
            due_date: Some(f.due_date.clone()).filter(|d| !d.trim().is_empty()),
        };
        work::create_task(State(state.clone()), ui.0.clone(), Path(id.clone()), Json(body)).await.map(|_| ())
    }
    .await;
    after(&state, &ui, id, result).await
}

#[derive(Deserialize)]
pub struct TaskStatusForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    status: String,
}

/// `POST /incidents/{id}/tasks/{task_id}`: move a task.
pub async fn task_status(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path((id, task)): Path<(String, String)>,
    Form(f): Form<TaskStatusForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let result = async {
        let body = work::UpdateTask { status: parse_opt("status", &f.status)?, ..work::UpdateTask::default() };
        work::update_task(State(state.clone()), ui.0.clone(), Path((id.clone(), task)), Json(body)).await.map(|_| ())
    }
    .await;
    after(&state, &ui, id, result).await
}

/// `POST /incidents/{id}/comments`.
pub async fn add_comment(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<NoteForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let body = work::CreateComment { text: f.text };
    let r = work::create_comment(State(state.clone()), ui.0.clone(), Path(id.clone()), Json(body)).await.map(|_| ());
    after(&state, &ui, id, r).await
}

#[derive(Deserialize)]
pub struct ObservableForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    kind: String,
    value: String,
    #[serde(default)]
    ioc: Option<String>,
    #[serde(default)]
    sighted: Option<String>,
}

/// `POST /incidents/{id}/observables`.
pub async fn add_observable(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<ObservableForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let result = async {
        let kind = serde_json::from_value(serde_json::Value::String(f.kind.clone()))
            .map_err(|_| AppError::Unprocessable(format!("kind: {:?} is not an observable kind", f.kind)))?;
        let body = work::CreateObservable {
            kind,
            value: f.value.clone(),
            ioc: f.ioc.is_some(),
            sighted: f.sighted.is_some(),
            tlp: None,
            pap: None,
        };
        work::create_observable(State(state.clone()), ui.0.clone(), Path(id.clone()), Json(body)).await.map(|_| ())
    }
    .await;
    after(&state, &ui, id, result).await
}

#[derive(Deserialize)]
pub struct FlagForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    ioc: String,
    #[serde(default)]
    sighted: String,
    #[serde(default)]
    tlp: String,
}

/// `POST /incidents/{id}/observables/{observable_id}`: flip a flag or tighten the TLP.
pub async fn flag_observable(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path((id, obs)): Path<(String, String)>,
    Form(f): Form<FlagForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let result = async {
        let body = work::UpdateObservable {
            ioc: parse_opt("ioc", &f.ioc)?,
            sighted: parse_opt("sighted", &f.sighted)?,
            tlp: parse_opt("tlp", &f.tlp)?,
            pap: None,
        };
        work::update_observable(State(state.clone()), ui.0.clone(), Path((id.clone(), obs)), Json(body))
            .await
            .map(|_| ())
    }
    .await;
    after(&state, &ui, id, result).await
}

/// `POST /incidents/{id}/attachments`: a multipart form with `_csrf` before `file`.
pub async fn upload(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> PageResult {
    let mut form = form.map_err(|e| AppError::BadRequest(format!("multipart form: {}", e.body_text())))?;
    let bad = |e: axum::extract::multipart::MultipartError| {
        AppError::BadRequest(format!("multipart form: {}", e.body_text()))
    };
    let mut csrf_ok = false;
    let mut file = None;
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("_csrf") => {
                let v = field.text().await.map_err(bad)?;
                ui.check_csrf(v.trim())?;
                csrf_ok = true;
            }
            Some("file") if csrf_ok => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let limit = state.config.max_attachment_bytes;
                let mut buf = Vec::new();
                let mut over = false;
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if buf.len() + chunk.len() > limit {
                        over = true;
                        break;
                    }
                    buf.extend_from_slice(&chunk);
                }
                file = Some((name, buf, over));
                break;
            }
            _ => {}
        }
    }
    if !csrf_ok {
        return Err(
            AppError::Forbidden("the form's CSRF token is missing; reload the page and try again".into()).into()
        );
    }
    let result = match file {
        None => Err(AppError::Unprocessable("file: choose a file to upload".into())),
        Some((_, _, true)) => Err(AppError::AttachmentTooLarge(state.config.max_attachment_bytes)),
        Some((name, content, false)) => files::store_upload(&state, &ui.0, &id, &name, &content).await.map(|_| ()),
    };
    after(&state, &ui, id, result).await
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    alert_ids: String,
}

/// `POST /incidents/{id}/alerts`: alert ids separated by spaces, commas or lines.
pub async fn link_alerts(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<LinkForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let alert_ids = f
        .alert_ids
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let body = work::LinkAlerts { alert_ids };
    let r = work::link_alerts(State(state.clone()), ui.0.clone(), Path(id.clone()), Json(body)).await.map(|_| ());
    after(&state, &ui, id, r).await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// `POST /incidents/{id}/alerts/{alert_id}/unlink`.
pub async fn unlink_alert(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path((id, alert)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let r = work::unlink_alert(State(state.clone()), ui.0.clone(), Path((id.clone(), alert))).await.map(|_| ());
    after(&state, &ui, id, r).await
}

#[derive(Deserialize)]
pub struct MergeForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    source_id: String,
}

/// `POST /incidents/{id}/merge`.
pub async fn merge(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<MergeForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let r = work::merge_into(&state, &ui.0, &id, f.source_id.trim()).await.map(|_| ());
    after(&state, &ui, id, r).await
}

#[derive(Deserialize)]
pub struct ApplyForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    template_id: String,
}

/// `POST /incidents/{id}/template`.
pub async fn apply_template(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<ApplyForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let r = files::apply(&state, &ui.0, &id, f.template_id.trim()).await.map(|_| ());
    after(&state, &ui, id, r).await
}

/// What the list page's bulk-action form offers.
pub struct BulkOptions {
    /// Analysts and up see the checkboxes and the form.
    pub enabled: bool,
    pub statuses: &'static [&'static str],
    pub resolutions: &'static [&'static str],
    pub severities: &'static [&'static str],
    pub assignees: Vec<Choice>,
    pub templates: Vec<Choice>,
}

/// The bulk form's choices for the list page.
pub(crate) async fn bulk_options(state: &AppState, ui: &UiPrincipal) -> Result<BulkOptions, AppError> {
    let p = &ui.0;
    let users = state.store.list_users(Some(p.org.id)).await?;
    let templates = files::list_templates(State(state.clone()), p.clone()).await?.0;
    Ok(BulkOptions {
        enabled: p.role.at_least(Role::Analyst),
        statuses: &muster_core::incident::IncidentStatus::NAMES[1..],
        resolutions: muster_core::incident::Resolution::NAMES,
        severities: Severity::NAMES,
        assignees: choices(users.into_iter().filter(|u| !u.disabled).map(|u| (u.id.to_string(), u.username)), None),
        templates: choices(templates.into_iter().map(|t| (t.id, t.name)), None),
    })
}

#[derive(askama::Template)]
#[template(path = "incident_bulk.html")]
struct BulkPage {
    nav: Nav,
    r: work::BulkResponse,
}

/// `POST /incidents/bulk`: the list page's bulk-action form.
pub async fn bulk(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    ui.check_csrf(&field("_csrf"))?;
    ui.0.require(Role::Analyst)?;
    let ids: Vec<String> = pairs.iter().filter(|(k, _)| k == "ids").map(|(_, v)| v.clone()).collect();
    if ids.is_empty() || ids.len() > 500 {
        return Err(AppError::Unprocessable("select 1-500 incidents".into()).into());
    }
    let action = match field("action").as_str() {
        "status" => work::BulkAction::Status {
            status: field("status").parse().map_err(|e| AppError::Unprocessable(format!("status: {e}")))?,
            resolution: parse_opt("resolution", &field("resolution"))?,
        },
        "assign" => work::BulkAction::Assign { assignee_id: parse_opt("assignee_id", &field("assignee_id"))? },
        "severity" => work::BulkAction::Severity {
            severity: field("severity").parse().map_err(|e| AppError::Unprocessable(format!("severity: {e}")))?,
        },
        "template" => work::BulkAction::Template { template_id: field("template_id") },
        "merge" => work::BulkAction::Merge { into: field("into") },
        other => {
            return Err(AppError::Unprocessable(format!(
                "action: {other:?} is not one of status, assign, severity, template, merge"
            ))
            .into());
        }
    };
    let r = work::run_bulk(&state, &ui.0, &ids, &action).await;
    Ok(render(&BulkPage { r, nav: ui.nav(&state, "incidents").await }))
}

#[derive(askama::Template)]
#[template(path = "incident_templates.html")]
struct TemplatesPage {
    nav: Nav,
    templates: Vec<TemplateView>,
    severities: Vec<Opt>,
    can_create: bool,
    error: Option<String>,
}

async fn templates_view(state: &AppState, ui: &UiPrincipal, error: Option<String>) -> PageResult {
    let templates = files::list_templates(State(state.clone()), ui.0.clone()).await?.0;
    let failed = error.is_some();
    let mut resp = render(&TemplatesPage {
        templates,
        severities: super::options(Severity::NAMES, "medium"),
        can_create: ui.0.role.at_least(Role::Analyst),
        error,
        nav: ui.nav(state, "incidents").await,
    });
    if failed {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /incident-templates`.
pub async fn templates(State(state): State<AppState>, ui: UiPrincipal) -> PageResult {
    templates_view(&state, &ui, None).await
}

#[derive(Deserialize)]
pub struct TemplateForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    severity: String,
    #[serde(default)]
    rsit_type: String,
    /// One task per line.
    tasks: String,
}

/// `POST /incident-templates`.
pub async fn create_template(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Form(f): Form<TemplateForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let result = async {
        let body = files::CreateTemplate {
            name: f.name.clone(),
            description: String::new(),
            severity: f.severity.parse().map_err(|e| AppError::Unprocessable(format!("severity: {e}")))?,
            rsit_type: parse_opt("rsit_type", &f.rsit_type)?,
            tasks: f
                .tasks
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| files::TemplateTaskView { title: l.to_owned(), description: String::new() })
                .collect(),
        };
        files::create_template(State(state.clone()), ui.0.clone(), Json(body)).await.map(|_| ())
    };
    match result.await {
        Ok(()) => Ok(Redirect::to("/incident-templates").into_response()),
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_))) => {
            templates_view(&state, &ui, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}
