//! Working an incident: summary edits (with optimistic concurrency), tasks,
//! comments, observables, linked alerts, merge and bulk actions. The rules
//! live in `muster_core::incident_work` and the store; handlers check who may
//! act and translate.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use muster_core::incident::{IncidentStatus, Resolution};
use muster_core::incident_work::{Severity, TaskStatus};
use muster_core::taxonomy::{NisRootCause, RsitType};
use muster_core::{Pap, Role, Tlp, UserId};
use muster_intake::observable::{Observable, ObservableKind};
use muster_store::{
    CommentRow, IncidentChanges, IncidentObservable, IncidentRow, Merged, NewObservable, NewTask, ObservableChanges,
    TaskChanges, TaskRow,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::incidents::{ChangeStatus, IncidentDetail, detail};
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Json, Path, Query};
use crate::state::AppState;
use crate::visibility::can_see;

/// Reads a field that may be present as `null` (clear it) or absent (leave it).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn check_id(field: &str, prefix: &str, id: &str) -> ApiResult<()> {
    if id.starts_with(prefix) && id.len() <= 80 && id.is_ascii() {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "{field}: invalid id {:?}; expected {prefix}<uuid>",
            id.chars().take(80).collect::<String>()
        )))
    }
}

/// The incident, when the caller may see it (404 otherwise, as if it did not exist).
pub(crate) async fn visible_incident(state: &AppState, p: &Principal, id: &str) -> ApiResult<IncidentRow> {
    check_id("id", "incident--", id)?;
    gated_incident(state, p, id).await
}

/// The incident's row through the gate, for an id already checked (404 when hidden).
pub(crate) async fn gated_incident(state: &AppState, p: &Principal, id: &str) -> ApiResult<IncidentRow> {
    let row = state.store.incident(id).await?;
    if !can_see(p, &row) {
        return Err(AppError::NotFound(format!("incident {id}")));
    }
    Ok(row)
}

/// The incident, when the caller may work it: an analyst (or more) of its organisation.
pub(crate) async fn workable_incident(state: &AppState, p: &Principal, id: &str) -> ApiResult<IncidentRow> {
    p.require(Role::Analyst)?;
    let row = visible_incident(state, p, id).await?;
    if row.org != p.org.id {
        return Err(AppError::Forbidden("only the owning organisation works an incident".into()));
    }
    Ok(row)
}

fn text_field(field: &str, v: &str, max: usize) -> ApiResult<()> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(AppError::Unprocessable(format!("{field}: must be 1-{max} characters")));
    }
    Ok(())
}

fn due_date(v: &str) -> ApiResult<String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(v.trim(), &fmt)
        .map(|d| d.format(&fmt).unwrap_or_default())
        .map_err(|_| AppError::Unprocessable(format!("due_date: {v:?} is not a date (YYYY-MM-DD)")))
}

// ---------------------------------------------------------------- edits

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIncident {
    pub title: Option<String>,
    pub description: Option<String>,
    /// info, low, medium, high, critical
    #[schema(value_type = Option<String>)]
    pub severity: Option<Severity>,
    /// RSIT v1003 type, e.g. `phishing`; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub rsit_type: Option<Option<RsitType>>,
    /// system-failures, natural-phenomena, human-errors, malicious-actions, third-party-failures; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub nis_root_cause: Option<Option<NisRootCause>>,
    /// An active member of the incident's organisation; `null` unassigns.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<UserId>>,
    #[schema(value_type = Option<String>)]
    pub tlp: Option<Tlp>,
    #[schema(value_type = Option<String>)]
    pub pap: Option<Pap>,
    /// `true` records the time it was reported (the first time only).
    #[serde(default)]
    pub reported: bool,
    /// The `updated_at` you read; a change made since then is a 409. The `If-Match` header works too.
    pub expected_updated_at: Option<String>,
}

/// Applies an edit through the store (the one path single and bulk edits take).
pub(crate) async fn edit(
    state: &AppState,
    p: &Principal,
    id: &str,
    body: UpdateIncident,
    if_match: Option<&str>,
) -> ApiResult<IncidentRow> {
    workable_incident(state, p, id).await?;
    if let Some(t) = &body.title {
        text_field("title", t, 300)?;
    }
    if body.description.as_ref().is_some_and(|d| d.chars().count() > 20_000) {
        return Err(AppError::Unprocessable("description: at most 20000 characters".into()));
    }
    let expected = match body.expected_updated_at.as_deref().or(if_match) {
        Some(v) => {
            let v = v.trim().trim_matches('"');
            let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).map_err(|_| {
                AppError::Unprocessable(format!(
                    "expected_updated_at: {v:?} is not an RFC 3339 time (send the updated_at you read)"
                ))
            })?;
            Some(muster_store::to_ms(t))
        }
        None => None,
    };
    let ch = IncidentChanges {
        title: body.title,
        description: body.description,
        severity: body.severity,
        rsit_type: body.rsit_type.map(|r| r.map(|r| r.as_str().to_owned())),
        nis_root_cause: body.nis_root_cause,
        assignee: body.assignee_id,
        tlp: body.tlp,
        pap: body.pap,
        reported: body.reported,
    };
    Ok(state.store.update_incident(id, expected, &ch, &p.actor()).await?)
}

/// Edits an incident's summary. Each changed field lands on the timeline as
/// "old → new". Send `expected_updated_at` (or `If-Match`) to be refused with
/// 409 when someone changed the incident since you read it.
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = String, Path)),
    request_body = UpdateIncident,
    responses((status = 200, body = IncidentDetail), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<UpdateIncident>,
) -> ApiResult<Json<IncidentDetail>> {
    let if_match = headers.get(axum::http::header::IF_MATCH).and_then(|v| v.to_str().ok());
    edit(&state, &p, &id, body, if_match).await?;
    Ok(Json(detail(&state, &p, &id).await?))
}

// ---------------------------------------------------------------- tasks

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: String,
    pub title: String,
    pub description: String,
    /// todo, in-progress, done, cancelled
    pub status: String,
    pub assignee_id: Option<String>,
    /// YYYY-MM-DD
    pub due_date: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&TaskRow> for TaskView {
    fn from(t: &TaskRow) -> Self {
        Self {
            id: t.id.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            status: t.status.to_string(),
            assignee_id: t.assignee.map(|u| u.to_string()),
            due_date: t.due_date.clone(),
            created_by: t.created_by.clone(),
            created_at: crate::rfc3339(t.created_at),
            updated_at: crate::rfc3339(t.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<UserId>,
    /// YYYY-MM-DD
    pub due_date: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    pub title: Option<String>,
    pub description: Option<String>,
    /// todo, in-progress, done, cancelled
    #[schema(value_type = Option<String>)]
    pub status: Option<TaskStatus>,
    /// `null` unassigns.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<UserId>>,
    /// YYYY-MM-DD; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub due_date: Option<Option<String>>,
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}/tasks", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = [TaskView]), (status = 404)))]
pub async fn list_tasks(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<TaskView>>> {
    visible_incident(&state, &p, &id).await?;
    Ok(Json(state.store.list_tasks(&id).await?.iter().map(Into::into).collect()))
}

/// Adds a task (status `todo`).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/tasks", tag = "incidents", params(("id" = String, Path)),
    request_body = CreateTask,
    responses((status = 201, body = TaskView), (status = 403), (status = 404), (status = 422)))]
pub async fn create_task(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<CreateTask>,
) -> ApiResult<(StatusCode, Json<TaskView>)> {
    workable_incident(&state, &p, &id).await?;
    text_field("title", &body.title, 300)?;
    let new = NewTask {
        title: body.title,
        description: body.description,
        assignee: body.assignee_id,
        due_date: body.due_date.as_deref().map(due_date).transpose()?,
    };
    let t = state.store.add_task(&id, &new, &p.actor()).await?;
    Ok((StatusCode::CREATED, Json((&t).into())))
}

/// Changes a task: status, assignee, due date, title, description.
#[utoipa::path(patch, path = "/api/v1/incidents/{id}/tasks/{task_id}", tag = "incidents",
    params(("id" = String, Path), ("task_id" = String, Path)), request_body = UpdateTask,
    responses((status = 200, body = TaskView), (status = 403), (status = 404), (status = 422)))]
pub async fn update_task(
    State(state): State<AppState>,
    p: Principal,
    Path((id, task)): Path<(String, String)>,
    Json(body): Json<UpdateTask>,
) -> ApiResult<Json<TaskView>> {
    workable_incident(&state, &p, &id).await?;
    check_id("task_id", "task--", &task)?;
    if let Some(t) = &body.title {
        text_field("title", t, 300)?;
    }
    let ch = TaskChanges {
        title: body.title,
        description: body.description,
        status: body.status,
        assignee: body.assignee_id,
        due_date: body.due_date.map(|d| d.as_deref().map(due_date).transpose()).transpose()?,
    };
    Ok(Json((&state.store.update_task(&id, &task, &ch, &p.actor()).await?).into()))
}

// ---------------------------------------------------------------- comments

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: String,
    pub author: String,
    pub text: String,
    pub created_at: String,
}

impl From<&CommentRow> for CommentView {
    fn from(c: &CommentRow) -> Self {
        Self {
            id: c.id.clone(),
            author: c.author.clone(),
            text: c.text.clone(),
            created_at: crate::rfc3339(c.created_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    /// Plain text (no markup is rendered).
    pub text: String,
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}/comments", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = [CommentView]), (status = 404)))]
pub async fn list_comments(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<CommentView>>> {
    visible_incident(&state, &p, &id).await?;
    Ok(Json(state.store.list_comments(&id).await?.iter().map(Into::into).collect()))
}

/// Adds an analyst's comment (also shown on the timeline). Comments are not
/// edited afterwards: the record is evidence; correct with a new comment.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/comments", tag = "incidents", params(("id" = String, Path)),
    request_body = CreateComment,
    responses((status = 201, body = CommentView), (status = 403), (status = 404), (status = 422)))]
pub async fn create_comment(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<CreateComment>,
) -> ApiResult<(StatusCode, Json<CommentView>)> {
    workable_incident(&state, &p, &id).await?;
    text_field("text", &body.text, 10_000)?;
    let c = state.store.add_comment(&id, &p.actor(), body.text.trim()).await?;
    Ok((StatusCode::CREATED, Json((&c).into())))
}

// ---------------------------------------------------------------- observables

#[derive(Debug, Serialize, ToSchema)]
pub struct ObservableView {
    pub id: String,
    /// ipv4, ipv6, cidr, domain, url, email, md5, sha1, sha256, file-name, hostname, user-account, cve, asn
    pub kind: String,
    pub value: String,
    pub ioc: bool,
    pub sighted: bool,
    pub tlp: String,
    pub pap: String,
    /// The alert it was copied from, or `analyst`.
    pub source: String,
}

impl From<&IncidentObservable> for ObservableView {
    fn from(o: &IncidentObservable) -> Self {
        Self {
            id: o.id.clone(),
            kind: o.kind.clone(),
            value: o.value.clone(),
            ioc: o.ioc,
            sighted: o.sighted,
            tlp: o.tlp.to_string(),
            pap: o.pap.clone(),
            source: o.source.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateObservable {
    #[schema(value_type = String)]
    pub kind: ObservableKind,
    pub value: String,
    #[serde(default)]
    pub ioc: bool,
    #[serde(default)]
    pub sighted: bool,
    /// Default: the incident's. Never less restrictive than the incident's.
    #[schema(value_type = Option<String>)]
    pub tlp: Option<Tlp>,
    #[schema(value_type = Option<String>)]
    pub pap: Option<Pap>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateObservable {
    pub ioc: Option<bool>,
    pub sighted: Option<bool>,
    #[schema(value_type = Option<String>)]
    pub tlp: Option<Tlp>,
    #[schema(value_type = Option<String>)]
    pub pap: Option<Pap>,
}

/// The observables of an incident the caller may see, each through the gate with its own marking.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/observables", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = [ObservableView]), (status = 404)))]
pub async fn list_observables(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ObservableView>>> {
    visible_incident(&state, &p, &id).await?;
    let all = state.store.incident_observables(&id).await?;
    Ok(Json(all.iter().filter(|o| can_see(&p, *o)).map(Into::into).collect()))
}

/// Adds an observable by hand; the value is validated and put in canonical form for its kind.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/observables", tag = "incidents", params(("id" = String, Path)),
    request_body = CreateObservable,
    responses((status = 201, body = ObservableView), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn create_observable(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<CreateObservable>,
) -> ApiResult<(StatusCode, Json<ObservableView>)> {
    workable_incident(&state, &p, &id).await?;
    let o = Observable::new(body.kind, &body.value).map_err(|e| AppError::Unprocessable(format!("value: {e}")))?;
    let new = NewObservable {
        kind: body.kind.as_str().to_owned(),
        value: o.value().to_owned(),
        ioc: body.ioc,
        sighted: body.sighted,
        tlp: body.tlp,
        pap: body.pap,
    };
    let row = state.store.add_observable(&id, &new, &p.actor()).await?;
    Ok((StatusCode::CREATED, Json((&row).into())))
}

/// Marks an observable as IoC / sighted, or changes its TLP/PAP.
#[utoipa::path(patch, path = "/api/v1/incidents/{id}/observables/{observable_id}", tag = "incidents",
    params(("id" = String, Path), ("observable_id" = String, Path)), request_body = UpdateObservable,
    responses((status = 200, body = ObservableView), (status = 403), (status = 404), (status = 422)))]
pub async fn update_observable(
    State(state): State<AppState>,
    p: Principal,
    Path((id, obs)): Path<(String, String)>,
    Json(body): Json<UpdateObservable>,
) -> ApiResult<Json<ObservableView>> {
    workable_incident(&state, &p, &id).await?;
    check_id("observable_id", "observable--", &obs)?;
    let ch = ObservableChanges { ioc: body.ioc, sighted: body.sighted, tlp: body.tlp, pap: body.pap };
    Ok(Json((&state.store.update_observable(&id, &obs, &ch, &p.actor()).await?).into()))
}

// ---------------------------------------------------------------- alerts

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkAlerts {
    /// Alerts of the incident's organisation.
    pub alert_ids: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IncidentAlertsQuery {
    /// Page size, 1-1000 (default 100).
    pub limit: Option<i64>,
    /// The previous page's `next_before`: alerts linked before that one.
    pub before: Option<String>,
}

/// A page of an incident's linked alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentAlertsPage {
    /// How many alerts the incident links in all.
    pub alert_count: i64,
    pub alert_ids: Vec<String>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<String>,
}

/// The incident's linked alerts a page at a time, newest first (for incidents that
/// correlation fed with more alerts than one answer should carry).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/alerts", tag = "incidents",
    params(("id" = String, Path), IncidentAlertsQuery),
    responses((status = 200, body = IncidentAlertsPage), (status = 400), (status = 404), (status = 422)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<IncidentAlertsQuery>,
) -> ApiResult<Json<IncidentAlertsPage>> {
    visible_incident(&state, &p, &id).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::Unprocessable("limit: must be 1-1000".into()));
    }
    if let Some(b) = &q.before {
        check_id("before", "alert--", b)?;
    }
    let (alert_count, alert_ids) = state.store.newest_incident_alerts(&id, q.before.as_deref(), limit).await?;
    let next_before =
        if i64::try_from(alert_ids.len()).unwrap_or(i64::MAX) == limit { alert_ids.last().cloned() } else { None };
    Ok(Json(IncidentAlertsPage { alert_count, alert_ids, next_before }))
}

/// Links further alerts of the organisation (their observables are copied onto the incident).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/alerts", tag = "incidents", params(("id" = String, Path)),
    request_body = LinkAlerts,
    responses((status = 200, body = IncidentDetail), (status = 403), (status = 404), (status = 422)))]
pub async fn link_alerts(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<LinkAlerts>,
) -> ApiResult<Json<IncidentDetail>> {
    workable_incident(&state, &p, &id).await?;
    if body.alert_ids.is_empty() || body.alert_ids.len() > 1000 {
        return Err(AppError::Unprocessable("alert_ids: 1-1000 alert ids".into()));
    }
    state.store.link_alerts(&id, &body.alert_ids, &p.actor()).await?;
    Ok(Json(detail(&state, &p, &id).await?))
}

/// Unlinks an alert (observables copied from it stay on the incident).
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/alerts/{alert_id}", tag = "incidents",
    params(("id" = String, Path), ("alert_id" = String, Path)),
    responses((status = 200, body = IncidentDetail), (status = 403), (status = 404)))]
pub async fn unlink_alert(
    State(state): State<AppState>,
    p: Principal,
    Path((id, alert)): Path<(String, String)>,
) -> ApiResult<Json<IncidentDetail>> {
    workable_incident(&state, &p, &id).await?;
    check_id("alert_id", "alert--", &alert)?;
    state.store.unlink_alert(&id, &alert, &p.actor()).await?;
    Ok(Json(detail(&state, &p, &id).await?))
}

// ---------------------------------------------------------------- merge

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The incident to merge into this one; it is closed as a duplicate.
    pub source_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergeResult {
    pub alerts: u64,
    pub observables: u64,
    pub tasks: u64,
    pub comments: u64,
    pub attachments: u64,
    pub incident: IncidentDetail,
}

/// Merges `source` into `target` through the store (the one path single and bulk merges take).
pub(crate) async fn merge_into(state: &AppState, p: &Principal, target: &str, source: &str) -> ApiResult<Merged> {
    workable_incident(state, p, target).await?;
    check_id("source_id", "incident--", source)?;
    let src = visible_incident(state, p, source).await?;
    if src.org != p.org.id {
        return Err(AppError::Unprocessable("source_id: only incidents of the same organisation can be merged".into()));
    }
    Ok(state.store.merge_incidents(target, source, &p.actor()).await?)
}

/// Merges another incident of the organisation into this one: its alerts,
/// observables, tasks, comments and attachments move here; it is closed as a
/// duplicate; both timelines point at each other. One transaction.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/merge", tag = "incidents", params(("id" = String, Path)),
    request_body = MergeRequest,
    responses((status = 200, body = MergeResult), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub async fn merge(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<MergeRequest>,
) -> ApiResult<Json<MergeResult>> {
    let m = merge_into(&state, &p, &id, &body.source_id).await?;
    Ok(Json(MergeResult {
        alerts: m.alerts,
        observables: m.observables,
        tasks: m.tasks,
        comments: m.comments,
        attachments: m.attachments,
        incident: detail(&state, &p, &id).await?,
    }))
}

// ---------------------------------------------------------------- bulk

/// One bulk action.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum BulkAction {
    /// Move each incident to `status` (closing needs a resolution).
    Status {
        #[schema(value_type = String)]
        status: IncidentStatus,
        #[schema(value_type = Option<String>)]
        resolution: Option<Resolution>,
    },
    /// Assign each to a member of the organisation (`null` unassigns).
    Assign {
        #[schema(value_type = Option<String>)]
        assignee_id: Option<UserId>,
    },
    /// Set each one's severity.
    Severity {
        #[schema(value_type = String)]
        severity: Severity,
    },
    /// Apply an incident template to each.
    Template { template_id: String },
    /// Merge each into the incident `into`.
    Merge { into: String },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Up to 500 incident ids.
    pub ids: Vec<String>,
    pub action: BulkAction,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItemResult {
    pub id: String,
    /// applied or refused
    pub result: String,
    /// Why it was refused.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    pub applied: usize,
    pub refused: usize,
    pub results: Vec<BulkItemResult>,
}

/// Applies one action to one incident through the same path as the single-incident route.
async fn bulk_one(state: &AppState, p: &Principal, id: &str, action: &BulkAction) -> ApiResult<()> {
    match action {
        BulkAction::Status { status, resolution } => {
            let body = ChangeStatus { status: *status, resolution: *resolution };
            super::incidents::change_status(State(state.clone()), p.clone(), Path(id.to_owned()), Json(body))
                .await
                .map(|_| ())
        }
        BulkAction::Assign { assignee_id } => {
            let body = UpdateIncident { assignee_id: Some(*assignee_id), ..UpdateIncident::default() };
            edit(state, p, id, body, None).await.map(|_| ())
        }
        BulkAction::Severity { severity } => {
            let body = UpdateIncident { severity: Some(*severity), ..UpdateIncident::default() };
            edit(state, p, id, body, None).await.map(|_| ())
        }
        BulkAction::Template { template_id } => {
            super::incident_files::apply(state, p, id, template_id).await.map(|_| ())
        }
        BulkAction::Merge { into } => merge_into(state, p, into, id).await.map(|_| ()),
    }
}

/// Applies one action to many incidents; each is done (or refused, with the
/// reason) on its own through the same rules as the single-incident routes.
#[utoipa::path(post, path = "/api/v1/incidents/bulk", tag = "incidents", request_body = BulkRequest,
    responses((status = 200, body = BulkResponse), (status = 403), (status = 422)))]
pub async fn bulk(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<BulkRequest>,
) -> ApiResult<Json<BulkResponse>> {
    p.require(Role::Analyst)?;
    if body.ids.is_empty() || body.ids.len() > 500 {
        return Err(AppError::Unprocessable("ids: 1-500 incident ids".into()));
    }
    Ok(Json(run_bulk(&state, &p, &body.ids, &body.action).await))
}

pub(crate) async fn run_bulk(state: &AppState, p: &Principal, ids: &[String], action: &BulkAction) -> BulkResponse {
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let r = bulk_one(state, p, id, action).await;
        results.push(match r {
            Ok(()) => BulkItemResult { id: id.clone(), result: "applied".into(), reason: None },
            Err(e) => {
                let reason = match &e {
                    AppError::Internal(d) => {
                        tracing::error!(detail = %d, "bulk action failed");
                        "internal error; see the server log".to_owned()
                    }
                    other => other.to_string(),
                };
                BulkItemResult { id: id.clone(), result: "refused".into(), reason: Some(reason) }
            }
        });
    }
    let applied = results.iter().filter(|r| r.result == "applied").count();
    BulkResponse { applied, refused: results.len() - applied, results }
}
