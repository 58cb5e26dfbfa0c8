//! User accounts.

use axum::extract::State;
use axum::http::StatusCode;
use muster_core::{OrgId, Role, User, UserId};
use muster_store::NewUser;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit_log::record;
use crate::auth::{Principal, check_password_policy, hash_password, verify_password};
use crate::error::{ApiResult, AppError, Json, Path};
use crate::state::AppState;
use crate::visibility::can_administer;

/// A user as the API shows it. Never carries a password or hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub organisation_id: String,
    /// observer, analyst, coordinator, admin
    pub role: String,
    pub disabled: bool,
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            organisation_id: u.org.to_string(),
            role: u.role.to_string(),
            disabled: u.disabled,
            created_at: crate::rfc3339(u.created_at),
        }
    }
}

/// A user to create. The password is set by the admin and must be changed by nobody else.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// observer, analyst, coordinator, admin
    #[schema(value_type = String)]
    pub role: Role,
    /// Defaults to the organisation acted for; another one needs a platform operator admin.
    #[schema(value_type = Option<String>)]
    pub organisation_id: Option<OrgId>,
    /// At least 12 characters.
    pub password: String,
    /// A one-time password the user must replace at first login (default true).
    pub temporary: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// Required when changing one's own password.
    pub current_password: Option<String>,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembership {
    #[schema(value_type = String)]
    pub organisation_id: OrgId,
    #[schema(value_type = String)]
    pub role: Role,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = [UserView])))]
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Vec<UserView>>> {
    let users = state.store.list_users(None).await?;
    Ok(Json(users.iter().filter(|u| can_administer(&p, *u)).map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404)))]
pub async fn get_one(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<UserView>> {
    let user = visible_user(&state, &p, &id).await?;
    Ok(Json((&user).into()))
}

pub(crate) async fn visible_user(state: &AppState, p: &Principal, id: &str) -> ApiResult<User> {
    let id: UserId = crate::parse_id("id", id)?;
    let user = state.store.get_user(id).await?;
    if can_administer(p, &user) { Ok(user) } else { Err(AppError::NotFound(format!("user {id}"))) }
}

/// Fails unless `p` administers accounts of `org`.
fn require_admin_of(p: &Principal, org: OrgId) -> ApiResult<()> {
    p.require(Role::Admin)?;
    if p.is_operator_admin() || p.org.id == org {
        Ok(())
    } else {
        Err(AppError::Forbidden("you administer only your own organisation's accounts".into()))
    }
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 403), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = create_user(&state, &p, body).await?;
    Ok((StatusCode::CREATED, Json((&user).into())))
}

pub(crate) async fn create_user(state: &AppState, p: &Principal, body: CreateUser) -> ApiResult<User> {
    let org = body.organisation_id.unwrap_or(p.org.id);
    require_admin_of(p, org)?;
    check_password_policy(&body.password)?;
    if body.display_name.trim().is_empty() {
        return Err(AppError::Unprocessable("display_name: must not be empty".into()));
    }
    state
        .store
        .get_org(org)
        .await
        .map_err(|_| AppError::Unprocessable(format!("organisation_id: no organisation {org}")))?;
    let hash = hash_password(&body.password)?;
    let new =
        NewUser { username: body.username, display_name: body.display_name, email: body.email, org, role: body.role };
    let user = state.store.create_user_with(&new, Some(&hash), body.temporary.unwrap_or(true)).await?;
    record(
        state,
        p,
        "user.create",
        &user.id.to_string(),
        json!({ "username": user.username, "role": user.role, "organisation": org }),
    )
    .await?;
    Ok(user)
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 403), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    if body.display_name.is_some() || body.email.is_some() {
        return Err(AppError::Unprocessable(
            "display_name, email: editing profile fields is not supported yet; only disabled".into(),
        ));
    }
    let user = match body.disabled {
        Some(disabled) => set_disabled(&state, &p, &id, disabled).await?,
        None => visible_user(&state, &p, &id).await?,
    };
    Ok(Json((&user).into()))
}

/// Enables or disables an account that `p` administers; disabling ends its
/// sessions and revokes its tokens. Shared by the API and the admin page.
pub(crate) async fn set_disabled(state: &AppState, p: &Principal, id: &str, disabled: bool) -> ApiResult<User> {
    let user = visible_user(state, p, id).await?;
    require_admin_of(p, user.org)?;
    if disabled && user.id == p.user.id {
        return Err(AppError::Conflict("you cannot disable your own account".into()));
    }
    state.store.set_user_disabled(user.id, disabled).await?;
    let action = if disabled { "user.disable" } else { "user.enable" };
    record(state, p, action, &user.id.to_string(), json!({ "username": user.username })).await?;
    Ok(state.store.get_user(user.id).await?)
}

#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "users", params(("id" = String, Path)), request_body = SetPassword,
    responses((status = 204), (status = 403), (status = 422)))]
pub async fn set_password(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<SetPassword>,
) -> ApiResult<StatusCode> {
    let user = visible_user(&state, &p, &id).await?;
    change_password(&state, &p, &user, body.current_password.as_deref(), &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn change_password(
    state: &AppState,
    p: &Principal,
    user: &User,
    current: Option<&str>,
    new: &str,
) -> ApiResult<()> {
    if user.id == p.user.id {
        let stored = state.store.get_user_for_login(&user.username).await?.password_hash.unwrap_or_default();
        if !current.is_some_and(|c| verify_password(&stored, c)) {
            return Err(AppError::Forbidden("current_password: does not match".into()));
        }
    } else {
        require_admin_of(p, user.org)?;
    }
    check_password_policy(new)?;
    state.store.set_password_hash(user.id, &hash_password(new)?, user.id != p.user.id).await?;
    record(state, p, "user.password", &user.id.to_string(), json!({ "username": user.username })).await?;
    Ok(())
}

/// Lets a user act for a further organisation (platform operator admins only).
#[utoipa::path(post, path = "/api/v1/users/{id}/memberships", tag = "users", params(("id" = String, Path)), request_body = AddMembership,
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn add_membership(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Json(body): Json<AddMembership>,
) -> ApiResult<StatusCode> {
    if !p.is_operator_admin() {
        return Err(AppError::Forbidden("only admins of the platform operator may add memberships".into()));
    }
    let user = visible_user(&state, &p, &id).await?;
    state.store.get_org(body.organisation_id).await?;
    state.store.add_membership(user.id, body.organisation_id, body.role).await?;
    record(
        &state,
        &p,
        "user.membership",
        &user.id.to_string(),
        json!({ "organisation": body.organisation_id, "role": body.role }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
