//! Writing audit entries from handlers.

use muster_store::NewAuditEntry;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;

/// Appends an entry for an action of `p`. `detail` must never hold secrets.
pub async fn record(
    state: &AppState,
    p: &Principal,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> ApiResult<()> {
    state
        .store
        .audit(&NewAuditEntry {
            actor: p.actor(),
            org: Some(p.org.id.to_string()),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
        })
        .await?;
    Ok(())
}
