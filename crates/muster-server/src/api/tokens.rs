//! API tokens: bearer secrets scoped to one organisation and a role.

use axum::extract::State;
use axum::http::StatusCode;
use muster_core::{Role, TokenId};
use muster_store::{ApiToken, NewToken};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit_log::record;
use crate::auth::{Principal, TOKEN_PREFIX, random_secret};
use crate::error::{ApiResult, AppError, Json, Path};
use crate::state::AppState;
use crate::visibility::can_see;

/// A token's metadata. The secret is shown once, at creation, and never stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub organisation_id: String,
    pub role: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    pub active: bool,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            user_id: t.user.to_string(),
            organisation_id: t.org.to_string(),
            role: t.role.to_string(),
            created_at: crate::rfc3339(t.created_at),
            expires_at: t.expires_at.map(crate::rfc3339),
            revoked_at: t.revoked_at.map(crate::rfc3339),
            last_used_at: t.last_used_at.map(crate::rfc3339),
            active: t.is_active(muster_store::now_ms()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    /// At most the caller's own role; default the caller's role.
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    /// Lifetime in days (1-3650); default no expiry.
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The bearer secret. Shown only now; store it safely.
    pub token: String,
    #[serde(flatten)]
    pub meta: TokenView,
}

/// Whether `p` may see or revoke `t`: its owner, or an admin of its organisation.
fn may_manage(p: &Principal, t: &ApiToken) -> bool {
    can_see(p, t) && (t.user == p.user.id || p.role == Role::Admin)
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = [TokenView])))]
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<Vec<TokenView>>> {
    let tokens = state.store.list_tokens(p.org.id).await?;
    Ok(Json(tokens.iter().filter(|t| may_manage(&p, t)).map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 200, body = TokenView), (status = 404)))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenView>> {
    let t = managed_token(&state, &p, &id).await?;
    Ok(Json((&t).into()))
}

async fn managed_token(state: &AppState, p: &Principal, id: &str) -> ApiResult<ApiToken> {
    let id: TokenId = crate::parse_id("id", id)?;
    let t = state.store.get_token(id).await?;
    if may_manage(p, &t) { Ok(t) } else { Err(AppError::NotFound(format!("token {id}"))) }
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 403), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(body): Json<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let (secret, meta) = create_token(&state, &p, body).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token: secret, meta: (&meta).into() })))
}

pub(crate) async fn create_token(state: &AppState, p: &Principal, body: CreateToken) -> ApiResult<(String, ApiToken)> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 120 {
        return Err(AppError::Unprocessable("name: must be 1-120 characters".into()));
    }
    let role = body.role.unwrap_or(p.role);
    if !p.role.at_least(role) {
        return Err(AppError::Forbidden(format!("role: a token cannot exceed your own role ({})", p.role)));
    }
    let expires_at = match body.expires_in_days {
        Some(d) if (1..=3650).contains(&d) => Some(muster_store::now_ms() + i64::from(d) * 86_400_000),
        Some(_) => return Err(AppError::Unprocessable("expires_in_days: must be 1-3650".into())),
        None => None,
    };
    let secret = random_secret(TOKEN_PREFIX);
    let t = state
        .store
        .create_token(&secret, &NewToken { name: name.to_owned(), user: p.user.id, org: p.org.id, role, expires_at })
        .await?;
    record(state, p, "token.create", &t.id.to_string(), json!({ "name": t.name, "role": t.role })).await?;
    Ok((secret, t))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 200, body = TokenView), (status = 404)))]
pub async fn revoke(State(state): State<AppState>, p: Principal, Path(id): Path<String>) -> ApiResult<Json<TokenView>> {
    let t = managed_token(&state, &p, &id).await?;
    let t = state.store.revoke_token(t.id).await?;
    record(&state, &p, "token.revoke", &t.id.to_string(), json!({ "name": t.name })).await?;
    Ok(Json((&t).into()))
}
