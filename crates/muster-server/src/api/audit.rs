//! Reading and verifying the audit log (admins).

use axum::extract::State;
use muster_store::{AuditEntry, AuditVerdict};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::api::me::require_admin;
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Json, Query};
use crate::state::AppState;
use crate::visibility::can_administer;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries with a sequence number below this (for paging back).
    pub before: Option<i64>,
    /// Page size, 1-500 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AuditEntryDoc {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub org: Option<String>,
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [AuditEntryDoc]), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    require_admin(&p)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::Unprocessable("limit: must be 1-500".into()));
    }
    let org = if p.is_operator_admin() { None } else { Some(p.org.id.to_string()) };
    let entries = state.store.list_audit(org.as_deref(), q.before, limit).await?;
    Ok(Json(entries.into_iter().filter(|e| can_administer(&p, e)).collect()))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AuditVerdictDoc {
    pub entries: i64,
    pub problems: Vec<String>,
}

/// Checks the whole hash chain (platform operator admins).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200, body = AuditVerdictDoc), (status = 403)))]
pub async fn verify(State(state): State<AppState>, p: Principal) -> ApiResult<Json<AuditVerdict>> {
    if !p.is_operator_admin() {
        return Err(AppError::Forbidden("only admins of the platform operator verify the audit log".into()));
    }
    Ok(Json(state.store.verify_audit().await?))
}
