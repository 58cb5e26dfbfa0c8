//! `GET /me`, switching the organisation acted for, logging out.

use axum::extract::State;
use axum::http::StatusCode;
use muster_core::{OrgId, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Principal, Via};
use crate::error::{ApiResult, AppError, Json};
use crate::state::AppState;

/// The caller and the organisations it may act for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// Organisation acted for now.
    pub organisation: crate::api::orgs::OrganisationView,
    /// Role held there.
    #[schema(value_type = String, example = "analyst")]
    pub role: Role,
    /// `session` or `token`.
    pub authenticated_by: String,
    pub memberships: Vec<MembershipView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub organisation_id: String,
    #[schema(value_type = String)]
    pub role: Role,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "session", responses((status = 200, body = Me), (status = 401)))]
pub async fn get_me(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Me>> {
    let memberships = state.store.memberships(&p.user).await?;
    Ok(Json(Me {
        user_id: p.user.id.to_string(),
        username: p.user.username.clone(),
        display_name: p.user.display_name.clone(),
        organisation: (&p.org).into(),
        role: p.role,
        authenticated_by: match p.via {
            Via::Session { .. } => "session".into(),
            Via::Token { .. } => "token".into(),
        },
        memberships: memberships
            .into_iter()
            .map(|m| MembershipView { organisation_id: m.org.to_string(), role: m.role })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchOrg {
    pub organisation_id: String,
}

/// Switches the organisation a browser session acts for (coordinators with
/// several memberships). Tokens are bound to one organisation and cannot switch.
#[utoipa::path(post, path = "/api/v1/session/organisation", tag = "session", request_body = SwitchOrg,
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn switch_org(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<SwitchOrg>,
) -> ApiResult<StatusCode> {
    let org: OrgId = body
        .organisation_id
        .parse()
        .map_err(|e: muster_core::ids::BadId| AppError::Unprocessable(format!("organisation_id: {e}")))?;
    switch_session_org(&state, &p, org).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn switch_session_org(state: &AppState, p: &Principal, org: OrgId) -> ApiResult<()> {
    let Via::Session { secret, .. } = &p.via else {
        return Err(AppError::Forbidden("an API token is bound to one organisation".into()));
    };
    let memberships = state.store.memberships(&p.user).await?;
    if !memberships.iter().any(|m| m.org == org) {
        return Err(AppError::Forbidden("you are not a member of that organisation".into()));
    }
    state.store.set_session_org(secret, org).await?;
    Ok(())
}

/// Ends the browser session.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204)))]
pub async fn logout(State(state): State<AppState>, p: Principal) -> ApiResult<StatusCode> {
    if let Via::Session { secret, .. } = &p.via {
        state.store.delete_session(secret).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The role an admin route needs, checked in one place.
pub(crate) fn require_admin(p: &Principal) -> ApiResult<()> {
    p.require(Role::Admin)
}
