//! Organisations: the community directory.

use axum::extract::State;
use axum::http::StatusCode;
use muster_core::{OrgId, Organisation};
use muster_store::NewOrganisation;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::audit_log::record;
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Json, Path};
use crate::state::AppState;
use crate::visibility::{can_see, visible};

/// An organisation as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationView {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// national-csirt, sectoral-csirt, eu-cert, agency, law-enforcement, crisis-authority,
    /// external-action, defence-agency, cyber-hub, private-partner, other
    pub kind: String,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub sectors: Vec<String>,
    pub client_of: Option<String>,
    pub operator: bool,
    pub tlp: String,
    pub created_at: String,
}

impl From<&Organisation> for OrganisationView {
    fn from(o: &Organisation) -> Self {
        Self {
            id: o.id.to_string(),
            slug: o.slug.clone(),
            name: o.name.clone(),
            kind: o.kind.to_string(),
            country: o.country.map(|c| c.to_string()),
            sectors: o.sectors.iter().map(ToString::to_string).collect(),
            client_of: o.client_of.map(|c| c.to_string()),
            operator: o.operator,
            tlp: o.tlp.to_string(),
            created_at: crate::rfc3339(o.created_at),
        }
    }
}

/// The organisation to create.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NewOrganisationDoc {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub country: Option<String>,
    pub sectors: Option<Vec<String>>,
    pub client_of: Option<String>,
    /// Marking of the directory entry; default TLP:GREEN.
    pub tlp: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/organisations", tag = "organisations",
    responses((status = 200, body = [OrganisationView])))]
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Vec<OrganisationView>>> {
    let orgs = visible(&p, state.store.list_orgs().await?);
    Ok(Json(orgs.iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/organisations/{id}", tag = "organisations",
    params(("id" = String, Path, description = "organisation id")),
    responses((status = 200, body = OrganisationView), (status = 404)))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<OrganisationView>> {
    let id: OrgId = crate::parse_id("id", &id)?;
    let org = state.store.get_org(id).await?;
    if !can_see(&p, &org) {
        return Err(AppError::NotFound(format!("organisation {id}")));
    }
    Ok(Json((&org).into()))
}

/// Creates an organisation (platform operator admins only).
#[utoipa::path(post, path = "/api/v1/organisations", tag = "organisations", request_body = NewOrganisationDoc,
    responses((status = 201, body = OrganisationView), (status = 403), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(new): Json<NewOrganisation>,
) -> ApiResult<(StatusCode, Json<OrganisationView>)> {
    let org = create_org(&state, &p, &new).await?;
    Ok((StatusCode::CREATED, Json((&org).into())))
}

pub(crate) async fn create_org(state: &AppState, p: &Principal, new: &NewOrganisation) -> ApiResult<Organisation> {
    if !p.is_operator_admin() {
        return Err(AppError::Forbidden("only admins of the platform operator may create organisations".into()));
    }
    if new.name.trim().is_empty() {
        return Err(AppError::Unprocessable("name: must not be empty".into()));
    }
    if let Some(parent) = new.client_of {
        state
            .store
            .get_org(parent)
            .await
            .map_err(|_| AppError::Unprocessable(format!("client_of: no organisation {parent}")))?;
    }
    let org = state.store.create_org(new, false).await?;
    record(state, p, "organisation.create", &org.id.to_string(), json!({ "slug": org.slug, "kind": org.kind })).await?;
    Ok(org)
}
