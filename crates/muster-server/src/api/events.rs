//! Raw log events for Sigma detection.
//!
//! `POST /api/v1/events` takes raw events (JSON array or NDJSON, gzip
//! accepted: Windows event logs as JSON, Zeek logs, DNS or firewall logs),
//! runs the configured Sigma rules over each, and stores an alert per match
//! through the same fold-and-commit path as `POST /api/v1/alerts`: the answer
//! is sent only after the commit, and an `Idempotency-Key` makes a re-sent
//! batch change nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use muster_core::Role;
use muster_intake::ParseOptions;
use muster_intake::batch::{Limits, read_records};
use muster_intake::dedup::merge_batch;
use muster_intake::sigma::{EventSource, RuleSet};
use muster_store::{IngestCounts, Ingested, NewAlert};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::alerts::{Rejection, commit, idempotency_key, to_new_alert};
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Body, Json, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Sigma `logsource.product` of every event (e.g. `windows`, `zeek`); else read from each event.
    pub product: Option<String>,
    /// Sigma `logsource.service` (e.g. `dns`, `rdp`, `security`).
    pub service: Option<String>,
    /// Sigma `logsource.category` (e.g. `process_creation`, `dns`, `firewall`).
    pub category: Option<String>,
}

/// The answer to a batch of events, sent after its alerts are durably committed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventsResult {
    /// Events read and evaluated.
    pub events: u64,
    /// Events that matched at least one rule.
    pub matched: u64,
    /// Alerts raised: one per matching rule and event.
    pub alerts: u64,
    /// New alerts stored.
    pub created: u64,
    /// Raised alerts that repeated a stored alert (or one raised earlier in this batch) and updated it.
    pub duplicates: u64,
    /// Events refused, each with where and why.
    pub rejected: Vec<Rejection>,
    /// True when this is the stored answer to an earlier batch with the same Idempotency-Key.
    #[serde(default)]
    pub replayed: bool,
}

/// One batch of raw events as received.
pub struct EventBatch {
    pub body: axum::body::Bytes,
    /// What the sender says the events are.
    pub source: EventSource,
    /// Idempotency key: a repeat of a committed key changes nothing.
    pub key: Option<String>,
}

fn logsource_part(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    let Some(v) = v.filter(|v| !v.is_empty()) else { return Ok(None) };
    let ok = v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !ok {
        return Err(AppError::Unprocessable(format!(
            "{field}: {:?} is not a Sigma logsource name (letters, digits, _ - ., at most 64)",
            v.chars().take(64).collect::<String>()
        )));
    }
    Ok(Some(v.to_ascii_lowercase()))
}

/// Runs the configured Sigma rules over a batch of raw events and stores an alert per match.
#[utoipa::path(post, path = "/api/v1/events", tag = "alerts", params(EventsQuery),
    request_body(content = String, description = "Raw log events: a JSON array or NDJSON of JSON objects; gzip accepted",
        content_type = "application/json"),
    responses((status = 200, body = EventsResult), (status = 403), (status = 409, description = "Sigma detection is off"),
        (status = 413), (status = 422), (status = 503, description = "intake busy; see Retry-After")))]
pub async fn ingest(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> ApiResult<Json<EventsResult>> {
    p.require(Role::Analyst)?;
    let source = EventSource {
        product: logsource_part("product", q.product)?,
        service: logsource_part("service", q.service)?,
        category: logsource_part("category", q.category)?,
    };
    let key = idempotency_key(&headers)?;
    let Some(rules) = state.sigma.clone() else {
        return Err(AppError::Conflict(
            "Sigma detection is off: set [detection] sigma_rules (or MUSTER_SIGMA_RULES) to a rule folder and restart"
                .into(),
        ));
    };
    let _permit = state.intake.try_acquire().map_err(|_| AppError::Unavailable(1))?;
    let cfg = &state.config;
    let batch = EventBatch { body, source, key };
    let result =
        ingest_events(&state.store, p.org.id, cfg.dedup_window_secs, rules, cfg.detection.tlp, &cfg.correlation, batch)
            .await?;
    if !result.replayed {
        state.alerts_committed(p.org.id, result.created, result.duplicates);
    }
    Ok(Json(result))
}

/// Evaluates, folds and commits one batch of events for `org`; the answer is
/// sent only after the commit. Shared by the HTTP route and `muster ingest
/// --format sigma-events` on a local store.
///
/// # Errors
/// Store errors; nothing of the batch is kept then.
pub async fn ingest_events(
    store: &muster_store::Store,
    org: muster_core::OrgId,
    window_secs: u64,
    rules: Arc<RuleSet>,
    tlp: Option<muster_core::Tlp>,
    correlation: &muster_intake::correlate::CorrelationConfig,
    batch: EventBatch,
) -> ApiResult<EventsResult> {
    let window = time::Duration::seconds(i64::try_from(window_secs).unwrap_or(i64::MAX));
    let EventBatch { body, source, key } = batch;
    let packer = store.packer();
    let (merged, alerts, result) =
        tokio::task::spawn_blocking(move || evaluate(&body, &rules, &source, tlp, window, &packer))
            .await
            .map_err(|e| AppError::Internal(format!("detection task: {e}")))?;
    let folded_in_batch = result.duplicates;
    let answer = |c: IngestCounts| {
        let stored = EventsResult {
            events: result.events,
            matched: result.matched,
            alerts: result.alerts,
            created: c.created,
            duplicates: folded_in_batch + c.duplicates,
            rejected: result
                .rejected
                .iter()
                .map(|r| Rejection { index: r.index, line: r.line, reason: r.reason.clone() })
                .collect(),
            replayed: true,
        };
        serde_json::to_string(&stored).unwrap_or_default()
    };
    // Event batches have their own key space, so a key reused across the two intakes cannot answer for the other.
    let key = key.map(|k| format!("events:{k}"));
    match commit(store, org, window, key.as_deref(), (&alerts, &merged), correlation, answer).await? {
        Ingested::Committed(c) => {
            Ok(EventsResult { created: c.created, duplicates: folded_in_batch + c.duplicates, ..result })
        }
        Ingested::Replayed(stored) => {
            serde_json::from_str(&stored).map_err(|e| AppError::Internal(format!("stored intake answer: {e}")))
        }
    }
}

/// Evaluates and folds a batch: the folded alerts, what the store gets of each, and the answer so far.
fn evaluate(
    body: &[u8],
    rules: &RuleSet,
    source: &EventSource,
    tlp: Option<muster_core::Tlp>,
    window: time::Duration,
    packer: &muster_store::Packer,
) -> (Vec<muster_intake::Alert>, Vec<NewAlert>, EventsResult) {
    let mut options = ParseOptions::new(time::OffsetDateTime::now_utc());
    options.tlp = tlp;
    let records = read_records(body, Limits::default(), |r| rules.evaluate(r, source, &options));
    let mut result = EventsResult {
        events: 0,
        matched: 0,
        alerts: 0,
        created: 0,
        duplicates: 0,
        rejected: Vec::new(),
        replayed: false,
    };
    let mut alerts = Vec::new();
    for r in records {
        match r.result {
            Ok(raised) => {
                result.events += 1;
                result.matched += u64::from(!raised.is_empty());
                result.alerts += raised.len() as u64;
                alerts.extend(raised);
            }
            Err(e) => result.rejected.push(Rejection { index: r.index, line: r.line, reason: e.to_string() }),
        }
    }
    let before = alerts.len();
    let (merged, _) = merge_batch(window, alerts);
    result.duplicates = (before - merged.len()) as u64;
    let stored = merged.iter().map(|a| to_new_alert(a, packer)).collect();
    (merged, stored, result)
}
