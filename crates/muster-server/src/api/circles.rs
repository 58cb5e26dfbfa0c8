//! Trust circles.

use axum::extract::State;
use axum::http::StatusCode;
use muster_core::{CircleId, OrgId, Role, TrustCircle};
use muster_store::NewCircle;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::audit_log::record;
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Json, Path};
use crate::state::AppState;
use crate::visibility::{can_see, visible};

#[derive(Debug, Serialize, ToSchema)]
pub struct CircleView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner_organisation_id: String,
    pub members: Vec<String>,
    pub tlp: String,
    pub created_at: String,
}

impl From<&TrustCircle> for CircleView {
    fn from(c: &TrustCircle) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            description: c.description.clone(),
            owner_organisation_id: c.owner_org.to_string(),
            members: c.members.iter().map(ToString::to_string).collect(),
            tlp: c.tlp.to_string(),
            created_at: crate::rfc3339(c.created_at),
        }
    }
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NewCircleDoc {
    pub name: String,
    pub description: Option<String>,
    /// Member organisation ids; the owner is always a member.
    pub members: Option<Vec<String>>,
    /// Default TLP:AMBER (members and owner see the circle).
    pub tlp: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/trust-circles", tag = "trust-circles", responses((status = 200, body = [CircleView])))]
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Vec<CircleView>>> {
    Ok(Json(visible(&p, state.store.list_circles().await?).iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/trust-circles/{id}", tag = "trust-circles", params(("id" = String, Path)),
    responses((status = 200, body = CircleView), (status = 404)))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CircleView>> {
    Ok(Json((&visible_circle(&state, &p, &id).await?).into()))
}

async fn visible_circle(state: &AppState, p: &Principal, id: &str) -> ApiResult<TrustCircle> {
    let id: CircleId = crate::parse_id("id", id)?;
    let c = state.store.get_circle(id).await?;
    if can_see(p, &c) { Ok(c) } else { Err(AppError::NotFound(format!("trust circle {id}"))) }
}

/// Creates a circle owned by the organisation acted for (coordinators and admins).
#[utoipa::path(post, path = "/api/v1/trust-circles", tag = "trust-circles", request_body = NewCircleDoc,
    responses((status = 201, body = CircleView), (status = 403), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(new): Json<NewCircle>,
) -> ApiResult<(StatusCode, Json<CircleView>)> {
    let c = create_circle(&state, &p, &new).await?;
    Ok((StatusCode::CREATED, Json((&c).into())))
}

pub(crate) async fn create_circle(state: &AppState, p: &Principal, new: &NewCircle) -> ApiResult<TrustCircle> {
    p.require(Role::Coordinator)?;
    for m in &new.members {
        state.store.get_org(*m).await.map_err(|_| AppError::Unprocessable(format!("members: no organisation {m}")))?;
    }
    let c = state.store.create_circle(p.org.id, new).await?;
    record(state, p, "circle.create", &c.id.to_string(), json!({ "name": c.name, "members": c.members })).await?;
    Ok(c)
}

async fn owned_circle(state: &AppState, p: &Principal, id: &str) -> ApiResult<TrustCircle> {
    let c = visible_circle(state, p, id).await?;
    p.require(Role::Coordinator)?;
    if c.owner_org != p.org.id {
        return Err(AppError::Forbidden("only the owner organisation changes a circle's members".into()));
    }
    Ok(c)
}

#[utoipa::path(put, path = "/api/v1/trust-circles/{id}/members/{org}", tag = "trust-circles",
    params(("id" = String, Path), ("org" = String, Path)), responses((status = 200, body = CircleView), (status = 403), (status = 404)))]
pub async fn add_member(
    State(state): State<AppState>,
    p: Principal,
    Path((id, org)): Path<(String, String)>,
) -> ApiResult<Json<CircleView>> {
    set_member(&state, &p, &id, &org, true).await
}

#[utoipa::path(delete, path = "/api/v1/trust-circles/{id}/members/{org}", tag = "trust-circles",
    params(("id" = String, Path), ("org" = String, Path)), responses((status = 200, body = CircleView), (status = 403), (status = 404)))]
pub async fn remove_member(
    State(state): State<AppState>,
    p: Principal,
    Path((id, org)): Path<(String, String)>,
) -> ApiResult<Json<CircleView>> {
    set_member(&state, &p, &id, &org, false).await
}

async fn set_member(state: &AppState, p: &Principal, id: &str, org: &str, member: bool) -> ApiResult<Json<CircleView>> {
    let c = owned_circle(state, p, id).await?;
    let org: OrgId = crate::parse_id("org", org)?;
    state.store.get_org(org).await?;
    let c = state.store.set_circle_member(c.id, org, member).await?;
    record(
        state,
        p,
        if member { "circle.member.add" } else { "circle.member.remove" },
        &c.id.to_string(),
        json!({ "organisation": org }),
    )
    .await?;
    Ok(Json((&c).into()))
}
