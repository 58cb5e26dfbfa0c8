//! Evidence attachments of an incident and incident templates.
//!
//! An upload is either a raw body (`?filename=…`) or `multipart/form-data`
//! with a `file` field. It is read up to `max_attachment_bytes` (413 beyond,
//! with nothing stored), hashed, and stored content-addressed by SHA-256 in
//! the database; the answer comes after the commit. Downloads are served as
//! `application/octet-stream` with `Content-Disposition: attachment` and
//! `nosniff`, so no browser renders evidence as a page.

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use muster_core::Role;
use muster_core::incident_work::Severity;
use muster_core::taxonomy::RsitType;
use muster_store::{AttachmentRow, NewTemplate, TemplateRow, TemplateTask};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use utoipa::ToSchema;

use super::incident_work::{visible_incident, workable_incident};
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Json, Path, Query};
use crate::state::AppState;
use crate::visibility::can_see;

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub filename: String,
    pub size: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub uploaded_by: String,
    pub created_at: String,
    pub download: String,
}

impl From<&AttachmentRow> for AttachmentView {
    fn from(a: &AttachmentRow) -> Self {
        Self {
            id: a.id.clone(),
            filename: a.filename.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            uploaded_by: a.uploaded_by.clone(),
            created_at: crate::rfc3339(a.created_at),
            download: format!("/api/v1/incidents/{}/attachments/{}", a.incident_id, a.id),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    filename: Option<String>,
}

/// A file name safe to store and to echo in a header: no path, no control
/// characters, at most 200 characters.
fn clean_filename(raw: &str) -> ApiResult<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = base.chars().filter(|c| !c.is_control() && *c != '"').take(200).collect();
    let name = name.trim().to_owned();
    if name.is_empty() || name == "." || name == ".." {
        return Err(AppError::Unprocessable("filename: give the file a name (e.g. ?filename=mail.eml)".into()));
    }
    Ok(name)
}

fn too_large(limit: usize, len: usize) -> ApiResult<()> {
    if len > limit { Err(AppError::AttachmentTooLarge(limit)) } else { Ok(()) }
}

/// Reads an upload (raw or multipart) up to `limit` bytes.
async fn read_upload(req: Request, query_name: Option<String>, limit: usize) -> ApiResult<(String, Vec<u8>)> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if let Some(len) = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok()) {
        // A multipart body carries a little framing around the file.
        too_large(limit.saturating_add(if multipart { 16 * 1024 } else { 0 }), len)?;
    }
    if multipart {
        let mut form = axum::extract::Multipart::from_request(req, &())
            .await
            .map_err(|e| AppError::BadRequest(format!("multipart body: {}", e.body_text())))?;
        while let Some(mut field) =
            form.next_field().await.map_err(|e| AppError::BadRequest(format!("multipart body: {}", e.body_text())))?
        {
            if field.name() != Some("file") {
                continue;
            }
            let name = query_name.clone().or_else(|| field.file_name().map(str::to_owned)).unwrap_or_default();
            let mut buf = Vec::new();
            while let Some(chunk) =
                field.chunk().await.map_err(|e| AppError::BadRequest(format!("multipart body: {}", e.body_text())))?
            {
                too_large(limit, buf.len() + chunk.len())?;
                buf.extend_from_slice(&chunk);
            }
            return Ok((clean_filename(&name)?, buf));
        }
        return Err(AppError::Unprocessable("file: the form has no file field".into()));
    }
    let name = clean_filename(query_name.as_deref().unwrap_or_default())?;
    let mut stream = req.into_body().into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("cannot read the request body: {e}")))?;
        too_large(limit, buf.len() + chunk.len())?;
        buf.extend_from_slice(&chunk);
    }
    Ok((name, buf))
}

#[utoipa::path(get, path = "/api/v1/incidents/{id}/attachments", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = [AttachmentView]), (status = 404)))]
pub async fn list_attachments(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AttachmentView>>> {
    visible_incident(&state, &p, &id).await?;
    Ok(Json(state.store.list_attachments(&id).await?.iter().map(Into::into).collect()))
}

/// Uploads evidence: the raw body with `?filename=`, or `multipart/form-data`
/// with a `file` field. Stored once per SHA-256; 413 above `max_attachment_bytes`.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/attachments", tag = "incidents",
    params(("id" = String, Path), ("filename" = Option<String>, Query)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentView), (status = 403), (status = 404), (status = 413), (status = 422)))]
pub async fn upload(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    workable_incident(&state, &p, &id).await?;
    let (name, content) = read_upload(req, q.filename, state.config.max_attachment_bytes).await?;
    let row = store_upload(&state, &p, &id, &name, &content).await?;
    Ok((StatusCode::CREATED, Json((&row).into())))
}

/// Stores an uploaded file on an incident the caller works (the one path API and page uploads take).
pub(crate) async fn store_upload(
    state: &AppState,
    p: &Principal,
    id: &str,
    name: &str,
    content: &[u8],
) -> ApiResult<AttachmentRow> {
    workable_incident(state, p, id).await?;
    let name = clean_filename(name)?;
    if content.is_empty() {
        return Err(AppError::Unprocessable("file: the upload is empty".into()));
    }
    too_large(state.config.max_attachment_bytes, content.len())?;
    Ok(state.store.add_attachment(id, &name, content, &p.actor()).await?)
}

/// Downloads an attachment (always `application/octet-stream`, as an attachment).
#[utoipa::path(get, path = "/api/v1/incidents/{id}/attachments/{attachment_id}", tag = "incidents",
    params(("id" = String, Path), ("attachment_id" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404)))]
pub async fn download(
    State(state): State<AppState>,
    p: Principal,
    Path((id, att)): Path<(String, String)>,
) -> ApiResult<Response> {
    visible_incident(&state, &p, &id).await?;
    if !att.starts_with("attachment--") || att.len() > 80 {
        return Err(AppError::BadRequest("attachment_id: invalid attachment id".into()));
    }
    let (row, content) = state.store.get_attachment(&id, &att).await?;
    let ascii: String = row.filename.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).collect();
    let encoded = percent_encoding::utf8_percent_encode(&row.filename, percent_encoding::NON_ALPHANUMERIC);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let mut resp = content.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("\"sha256-{}\"", row.sha256)) {
        h.insert(header::ETAG, v);
    }
    Ok(resp)
}

// ---------------------------------------------------------------- templates

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateTaskView {
    pub title: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: String,
    /// Built-in templates are available to every organisation and cannot be changed.
    pub builtin: bool,
    pub name: String,
    pub description: String,
    pub severity: String,
    pub rsit_type: Option<String>,
    pub tasks: Vec<TemplateTaskView>,
}

impl From<&TemplateRow> for TemplateView {
    fn from(t: &TemplateRow) -> Self {
        Self {
            id: t.id.clone(),
            builtin: t.org.is_none(),
            name: t.name.clone(),
            description: t.description.clone(),
            severity: t.severity.to_string(),
            rsit_type: t.rsit_type.clone(),
            tasks: t
                .tasks
                .iter()
                .map(|k| TemplateTaskView { title: k.title.clone(), description: k.description.clone() })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplate {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Default severity: info, low, medium, high, critical.
    #[schema(value_type = String)]
    pub severity: Severity,
    #[schema(value_type = Option<String>)]
    pub rsit_type: Option<RsitType>,
    /// 1-50 predefined tasks.
    pub tasks: Vec<TemplateTaskView>,
}

/// The built-in templates and your organisation's own.
#[utoipa::path(get, path = "/api/v1/incident-templates", tag = "incidents",
    responses((status = 200, body = [TemplateView])))]
pub async fn list_templates(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TemplateView>>> {
    let all = state.store.list_templates(p.org.id).await?;
    Ok(Json(all.iter().filter(|t| can_see(&p, *t)).map(Into::into).collect()))
}

async fn visible_template(state: &AppState, p: &Principal, id: &str) -> ApiResult<TemplateRow> {
    if !id.starts_with("template--") || id.len() > 80 {
        return Err(AppError::BadRequest("id: invalid template id; expected template--…".into()));
    }
    let t = state.store.get_template(id).await?;
    if !can_see(p, &t) {
        return Err(AppError::NotFound(format!("template {id}")));
    }
    Ok(t)
}

#[utoipa::path(get, path = "/api/v1/incident-templates/{id}", tag = "incidents", params(("id" = String, Path)),
    responses((status = 200, body = TemplateView), (status = 404)))]
pub async fn get_template(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TemplateView>> {
    Ok(Json((&visible_template(&state, &p, &id).await?).into()))
}

/// Creates a template of your organisation (analysts and up).
#[utoipa::path(post, path = "/api/v1/incident-templates", tag = "incidents", request_body = CreateTemplate,
    responses((status = 201, body = TemplateView), (status = 403), (status = 409), (status = 422)))]
pub async fn create_template(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<CreateTemplate>,
) -> ApiResult<(StatusCode, Json<TemplateView>)> {
    p.require(Role::Analyst)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::Unprocessable("name: must be 1-100 characters".into()));
    }
    if body.tasks.is_empty() || body.tasks.len() > 50 {
        return Err(AppError::Unprocessable("tasks: 1-50 tasks".into()));
    }
    for (i, t) in body.tasks.iter().enumerate() {
        if t.title.trim().is_empty() || t.title.chars().count() > 300 {
            return Err(AppError::Unprocessable(format!("tasks[{i}].title: must be 1-300 characters")));
        }
    }
    let new = NewTemplate {
        name: name.to_owned(),
        description: body.description,
        severity: body.severity,
        rsit_type: body.rsit_type.map(|r| r.as_str().to_owned()),
        tasks: body
            .tasks
            .into_iter()
            .map(|t| TemplateTask { title: t.title.trim().to_owned(), description: t.description })
            .collect(),
    };
    let t = state.store.create_template(p.org.id, &new).await?;
    Ok((StatusCode::CREATED, Json((&t).into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyTemplate {
    pub template_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Applied {
    /// Tasks added.
    pub tasks: usize,
}

/// Applies a template through the store (the one path single and bulk applications take).
pub(crate) async fn apply(state: &AppState, p: &Principal, incident: &str, template: &str) -> ApiResult<usize> {
    workable_incident(state, p, incident).await?;
    visible_template(state, p, template).await.map_err(|e| match e {
        AppError::NotFound(_) | AppError::BadRequest(_) => {
            AppError::NotFound(format!("template_id: template {template}"))
        }
        other => other,
    })?;
    Ok(state.store.apply_template(incident, template, &p.actor()).await?)
}

/// Applies a template to an incident: adds its tasks (and its RSIT type when the incident has none).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/template", tag = "incidents", params(("id" = String, Path)),
    request_body = ApplyTemplate,
    responses((status = 200, body = Applied), (status = 403), (status = 404)))]
pub async fn apply_template(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<ApplyTemplate>,
) -> ApiResult<Json<Applied>> {
    Ok(Json(Applied { tasks: apply(&state, &p, &id, &body.template_id).await? }))
}
