//! Incidents: opened from alerts, moved through the lifecycle whose rules live
//! in `muster_core::incident`, with a timeline of every change.

use axum::extract::State;
use axum::http::StatusCode;
use muster_core::incident::{IncidentStatus, Resolution};
use muster_core::{Role, Tlp, UserId};
use muster_store::{IncidentRow, NewIncident, TimelineEntry};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Json, Path};
use crate::state::AppState;
use crate::visibility::can_see;

pub const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical"];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIncident {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// info, low, medium, high, critical
    pub severity: String,
    /// Default TLP:AMBER.
    #[schema(value_type = Option<String>)]
    pub tlp: Option<Tlp>,
    /// Default PAP:AMBER.
    #[schema(value_type = Option<String>)]
    pub pap: Option<muster_core::Pap>,
    /// RSIT v1003 type, e.g. `brute-force`.
    pub rsit_type: Option<String>,
    /// Alerts of your organisation the incident is opened from.
    #[serde(default)]
    pub alert_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    pub id: String,
    pub organisation_id: String,
    pub title: String,
    pub description: String,
    pub severity: String,
    /// new, triage, in-progress, contained, eradicated, recovered, closed
    pub status: String,
    /// true-positive, false-positive, benign, duplicate, other (closed incidents only)
    pub resolution: Option<String>,
    pub rsit_type: Option<String>,
    /// NIS root cause: system-failures, natural-phenomena, human-errors, malicious-actions, third-party-failures.
    pub nis_root_cause: Option<String>,
    /// Id of the user the incident is assigned to.
    pub assignee_id: Option<String>,
    pub tlp: String,
    pub pap: String,
    pub occurred_at: Option<String>,
    pub detected_at: String,
    pub reported_at: Option<String>,
    pub contained_at: Option<String>,
    pub closed_at: Option<String>,
    pub updated_at: String,
    /// Seconds from detection to containment / closure, when reached.
    pub seconds_to_contain: Option<i64>,
    pub seconds_to_close: Option<i64>,
}

impl From<&IncidentRow> for IncidentView {
    fn from(i: &IncidentRow) -> Self {
        let l = &i.lifecycle;
        Self {
            id: i.id.clone(),
            organisation_id: i.org.to_string(),
            title: i.title.clone(),
            description: i.description.clone(),
            severity: i.severity.clone(),
            status: l.status.to_string(),
            resolution: l.resolution.map(|r| r.to_string()),
            rsit_type: i.rsit_type.clone(),
            nis_root_cause: i.nis_root_cause.clone(),
            assignee_id: i
                .assignee
                .as_deref()
                .map(|a| a.parse::<UserId>().map_or_else(|_| a.to_owned(), |u| u.to_string())),
            tlp: i.tlp.to_string(),
            pap: i.pap.clone(),
            occurred_at: l.milestones.occurred_at.map(crate::rfc3339),
            detected_at: crate::rfc3339(l.milestones.detected_at),
            reported_at: l.milestones.reported_at.map(crate::rfc3339),
            contained_at: l.milestones.contained_at.map(crate::rfc3339),
            closed_at: l.milestones.closed_at.map(crate::rfc3339),
            updated_at: crate::rfc3339(i.updated_at),
            seconds_to_contain: l.time_to_contain().map(|d| d.whole_seconds()),
            seconds_to_close: l.time_to_close().map(|d| d.whole_seconds()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineView {
    pub at: String,
    pub actor: String,
    /// created, alert, status, note
    pub kind: String,
    pub text: String,
}

impl From<&TimelineEntry> for TimelineView {
    fn from(t: &TimelineEntry) -> Self {
        Self { at: crate::rfc3339(t.at), actor: t.actor.clone(), kind: t.kind.clone(), text: t.text.clone() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentView,
    /// How many alerts the incident links.
    pub alert_count: i64,
    /// The linked alerts' ids, oldest first (all of them).
    pub alert_ids: Vec<String>,
    pub timeline: Vec<TimelineView>,
}

/// Opens an incident (analysts and up).
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = CreateIncident,
    responses((status = 201, body = IncidentDetail), (status = 403), (status = 404), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<CreateIncident>,
) -> ApiResult<(StatusCode, Json<IncidentDetail>)> {
    p.require(Role::Analyst)?;
    let title = body.title.trim();
    if title.is_empty() || title.len() > 300 {
        return Err(AppError::Unprocessable("title: must be 1-300 characters".into()));
    }
    if !SEVERITIES.contains(&body.severity.as_str()) {
        return Err(AppError::Unprocessable(format!(
            "severity: {:?} is not one of {}",
            body.severity,
            SEVERITIES.join(", ")
        )));
    }
    if let Some(t) = &body.rsit_type {
        muster_core::taxonomy::RsitType::parse(t).map_err(|e| AppError::Unprocessable(format!("rsit_type: {e}")))?;
    }
    if body.alert_ids.len() > 1000 {
        return Err(AppError::Unprocessable("alert_ids: at most 1000".into()));
    }
    let new = NewIncident {
        title: title.to_owned(),
        description: body.description,
        severity: body.severity,
        tlp: body.tlp.unwrap_or(Tlp::Amber),
        pap: body.pap.unwrap_or(muster_core::Pap::Amber).as_str().to_owned(),
        rsit_type: body.rsit_type,
        alert_ids: body.alert_ids,
    };
    let row = state.store.create_incident(p.org.id, &new, &p.actor()).await?;
    crate::playbooks::automation::on_incident_event(
        &state,
        crate::playbooks::automation::IncidentEvent::Created { incident_id: row.id.clone() },
    );
    Ok((StatusCode::CREATED, Json(detail(&state, &p, &row.id).await?)))
}

pub(crate) async fn detail(state: &AppState, p: &Principal, id: &str) -> ApiResult<IncidentDetail> {
    let row = visible_row(state, p, id).await?;
    let alert_ids = state.store.incident_alert_ids(id).await?;
    let timeline = state.store.incident_timeline(id).await?;
    Ok(IncidentDetail {
        incident: (&row).into(),
        alert_count: i64::try_from(alert_ids.len()).unwrap_or(i64::MAX),
        alert_ids,
        timeline: timeline.iter().map(Into::into).collect(),
    })
}

/// [`detail`] with only the newest `alerts` alert ids, newest first (`alert_count`
/// still counts all): what the incident page shows of an incident that may link
/// hundreds of thousands.
pub(crate) async fn detail_newest(state: &AppState, p: &Principal, id: &str, alerts: i64) -> ApiResult<IncidentDetail> {
    let row = visible_row(state, p, id).await?;
    let (alert_count, alert_ids) = state.store.newest_incident_alerts(id, None, alerts).await?;
    let timeline = state.store.incident_timeline(id).await?;
    Ok(IncidentDetail {
        incident: (&row).into(),
        alert_count,
        alert_ids,
        timeline: timeline.iter().map(Into::into).collect(),
    })
}

/// The incident's row when the caller may see it (404 otherwise, as if it did not exist).
async fn visible_row(state: &AppState, p: &Principal, id: &str) -> ApiResult<muster_store::IncidentRow> {
    if !id.starts_with("incident--") || id.len() > 64 {
        return Err(AppError::BadRequest(format!(
            "id: invalid incident id {:?}",
            id.chars().take(64).collect::<String>()
        )));
    }
    crate::api::incident_work::gated_incident(state, p, id).await
}

// --- Search and list (filters, sort, cursor paging): see crate::incident_query. ---

/// One page of a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentPage {
    pub items: Vec<IncidentView>,
    /// Pass as `cursor` (with the same filters and sort) for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Searches the incidents the caller may see: filters, full text, sort and cursor paging.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(crate::incident_query::IncidentSearchParams),
    responses((status = 200, body = IncidentPage), (status = 400, description = "A bad parameter, named in the message")))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> ApiResult<Json<IncidentPage>> {
    let q = crate::incident_query::parse(raw.as_deref(), p.user.id)?;
    Ok(Json(search(&state, &p, &q).await?))
}

/// Runs a parsed search through the store's SQL pre-selection and the gate.
pub(crate) async fn search(
    state: &AppState,
    p: &Principal,
    q: &muster_store::IncidentQuery,
) -> ApiResult<IncidentPage> {
    let scope = muster_store::IncidentScope::of(&p.viewer);
    let page = state.store.search_incidents(&scope, q, |r| can_see(p, r)).await?;
    Ok(IncidentPage { items: page.items.iter().map(Into::into).collect(), next_cursor: page.next.map(|c| c.encode()) })
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = IncidentDetail), (status = 404)))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentDetail>> {
    Ok(Json(detail(&state, &p, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatus {
    /// triage, in-progress, contained, eradicated, recovered, closed
    #[schema(value_type = String)]
    pub status: IncidentStatus,
    /// Required when closing: true-positive, false-positive, benign, duplicate, other.
    #[schema(value_type = Option<String>)]
    pub resolution: Option<Resolution>,
}

/// Moves an incident through its lifecycle; every move lands on the timeline.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/status", tag = "incidents", params(("id" = String, Path)), request_body = ChangeStatus,
    responses((status = 200, body = IncidentDetail), (status = 404), (status = 409), (status = 422)))]
pub async fn change_status(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<ChangeStatus>,
) -> ApiResult<Json<IncidentDetail>> {
    p.require(Role::Analyst)?;
    let row = visible_row(&state, &p, &id).await?;
    if row.org != p.org.id {
        return Err(AppError::Forbidden("only the owning organisation works an incident".into()));
    }
    let mut l = row.lifecycle;
    let from = l.status;
    l.transition(body.status, body.resolution, time::OffsetDateTime::now_utc())
        .map_err(|e| AppError::Unprocessable(format!("status: {e}")))?;
    state.store.save_lifecycle(&row.id, from, &l, &p.actor()).await?;
    crate::playbooks::automation::on_incident_event(
        &state,
        crate::playbooks::automation::IncidentEvent::Updated { incident_id: id.clone() },
    );
    Ok(Json(detail(&state, &p, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub text: String,
}

/// Adds an analyst's entry to the timeline.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/timeline", tag = "incidents", params(("id" = String, Path)), request_body = Note,
    responses((status = 200, body = IncidentDetail), (status = 404), (status = 422)))]
pub async fn add_note(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<Note>,
) -> ApiResult<Json<IncidentDetail>> {
    p.require(Role::Analyst)?;
    let text = body.text.trim();
    if text.is_empty() || text.len() > 10_000 {
        return Err(AppError::Unprocessable("text: must be 1-10000 characters".into()));
    }
    let current = detail(&state, &p, &id).await?;
    if current.incident.organisation_id != p.org.id.to_string() {
        return Err(AppError::Forbidden("only the owning organisation works an incident".into()));
    }
    state.store.add_incident_note(&id, &p.actor(), text).await?;
    Ok(Json(detail(&state, &p, &id).await?))
}
