//! TheHive 5's alert creation route, `POST /api/v1/alert`, so that SIEM
//! integrations written for TheHive (thehive4py, Splunk and Wazuh alert
//! actions…) can send to Muster unchanged.
//!
//! The alert goes through the same intake as `POST /api/v1/alerts` (parse,
//! dedup by fingerprint, commit before answering). Answers and errors are
//! TheHive's shapes, because TheHive clients read them: the created alert
//! with `_id`, or `400 {"type": "CreateError", "message": "Alert already
//! exists"}` for a second alert with the same type, source and sourceRef.
//! Error bodies carry Muster's `{"error": {"code", "message"}}` as well.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use muster_core::Role;
use muster_intake::parse::thehive::{pap_number, severity_number};
use muster_intake::{Alert, Format, ParseOptions, parse_record};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::api::alerts::{Batch, ingest_batch};
use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Body};
use crate::state::AppState;

/// The created alert, as TheHive 5 answers it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TheHiveAlert {
    /// Muster's alert id (`alert--…`), usable with `GET /api/v1/alerts/{id}`.
    #[serde(rename = "_id")]
    pub id: String,
    /// Always `Alert`.
    #[serde(rename = "_type")]
    pub kind_name: &'static str,
    #[serde(rename = "_createdBy")]
    pub created_by: String,
    /// Milliseconds since 1970.
    #[serde(rename = "_createdAt")]
    pub created_at: i64,
    #[serde(rename = "type")]
    pub alert_type: String,
    pub source: String,
    pub source_ref: String,
    pub title: String,
    pub description: String,
    /// 1 low, 2 medium, 3 high, 4 critical.
    pub severity: u64,
    pub severity_label: &'static str,
    /// Milliseconds since 1970.
    pub date: i64,
    pub tags: Vec<String>,
    /// 0 clear, 1 green, 2 amber, 3 red, 4 amber+strict.
    pub tlp: i64,
    pub tlp_label: &'static str,
    /// 0 clear, 1 green, 2 amber, 3 red.
    pub pap: u64,
    pub pap_label: &'static str,
    pub follow: bool,
    pub observable_count: u64,
    /// Always `New`.
    pub status: &'static str,
    pub stage: &'static str,
    #[schema(value_type = Object)]
    pub extra_data: Value,
    pub new_date: i64,
    pub time_to_detect: i64,
}

/// A 400 as TheHive sends it, `{"type", "message"}` (what TheHive clients
/// read), plus Muster's own `{"error": {"code", "message"}}`.
fn thehive_error(kind: &str, code: &str, message: impl Into<String>) -> Response {
    let message = message.into();
    let body = json!({ "type": kind, "message": message, "error": { "code": code, "message": message } });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// Creates one alert from a TheHive 5 alert document (needs Analyst).
#[utoipa::path(post, path = "/api/v1/alert", tag = "alerts",
    request_body(content = Object, description = "A TheHive 5 alert: type, source, sourceRef, title, description, \
        severity 1-4, date (ms), tags, tlp 0-4, pap 0-3, observables [{dataType, data, …}]", content_type = "application/json"),
    responses((status = 201, body = TheHiveAlert),
        (status = 400, description = "`{\"type\": \"CreateError\", \"message\": \"Alert already exists\"}` for a repeated \
            type+source+sourceRef, `AttributeCheckingError` for a malformed alert"),
        (status = 403), (status = 413), (status = 503, description = "intake busy; see Retry-After")))]
pub async fn create_alert(State(state): State<AppState>, p: Principal, Body(body): Body) -> ApiResult<Response> {
    p.require(Role::Analyst)?;
    let _permit = state.intake.try_acquire().map_err(|_| AppError::Unavailable(1))?;
    // Parsed here too for the answer and for TheHive-shaped errors; a single
    // alert costs microseconds.
    let alert = match parse_record(&body, Some(Format::TheHive), &ParseOptions::new(time::OffsetDateTime::now_utc())) {
        Ok(a) => a,
        Err(e) => return Ok(thehive_error("AttributeCheckingError", "bad_request", e.to_string())),
    };
    // TheHive refuses a second alert with the same type, source and
    // sourceRef (whatever its age) and records nothing; so does Muster, instead
    // of counting a sighting on the stored one. Two racing first sends may
    // still fold into one alert with count 2, which loses nothing.
    let fingerprint = alert.fingerprint.to_hex();
    if state.store.find_alert_by_fingerprint(p.org.id, &fingerprint).await?.is_some() {
        return Ok(thehive_error("CreateError", "duplicate", "Alert already exists"));
    }
    // The batch reader splits JSON by lines unless it is an array; one
    // element keeps a pretty-printed alert whole. The parse above proved
    // the body is exactly one object, so the brackets cannot change it.
    let mut one = Vec::with_capacity(body.len() + 2);
    one.push(b'[');
    one.extend_from_slice(&body);
    one.push(b']');
    let batch = Batch { body: one.into(), format: Some(Format::TheHive), report: None, key: None };
    let result =
        ingest_batch(&state.store, p.org.id, state.config.dedup_window_secs, &state.config.correlation, batch).await?;
    state.alerts_committed(p.org.id, result.created, result.duplicates);
    if let Some(r) = result.rejected.first() {
        return Ok(thehive_error("AttributeCheckingError", "bad_request", r.reason.clone()));
    }
    if result.created == 0 {
        return Ok(thehive_error("CreateError", "duplicate", "Alert already exists"));
    }
    let row = state
        .store
        .find_alert_by_fingerprint(p.org.id, &fingerprint)
        .await?
        .ok_or_else(|| AppError::Internal(format!("TheHive alert {fingerprint} committed but not found")))?;
    let answer = answer(&alert, &row, p.user.username.clone());
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

fn answer(alert: &Alert, row: &muster_store::AlertRow, created_by: String) -> TheHiveAlert {
    let severity = severity_number(alert.severity);
    let date = muster_store::to_ms(row.first_seen);
    let created_at = muster_store::to_ms(time::OffsetDateTime::now_utc());
    let kept = alert.extra.get("observables").and_then(Value::as_array).map_or(0, Vec::len);
    let text = |k: &str| alert.extra.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    TheHiveAlert {
        id: row.id.clone(),
        kind_name: "Alert",
        created_by,
        created_at,
        alert_type: text("type"),
        source: alert.source.clone(),
        source_ref: alert.source_ref.clone().unwrap_or_default(),
        title: alert.title.clone(),
        description: alert.description.clone().unwrap_or_default(),
        severity,
        severity_label: ["LOW", "LOW", "MEDIUM", "HIGH", "CRITICAL"][usize::try_from(severity).unwrap_or(0).min(4)],
        date,
        tags: alert.tags.clone(),
        tlp: alert.tlp.thehive_number(),
        tlp_label: match alert.tlp {
            muster_core::Tlp::Clear => "WHITE",
            muster_core::Tlp::Green => "GREEN",
            muster_core::Tlp::Amber => "AMBER",
            muster_core::Tlp::AmberStrict => "AMBER+STRICT",
            muster_core::Tlp::Red => "RED",
        },
        pap: pap_number(alert.pap),
        pap_label: ["WHITE", "GREEN", "AMBER", "RED"][usize::try_from(pap_number(alert.pap)).unwrap_or(2).min(3)],
        follow: true,
        observable_count: (alert.observables.len() + kept) as u64,
        status: "New",
        stage: "New",
        extra_data: json!({}),
        new_date: created_at,
        time_to_detect: (created_at - date).max(0),
    }
}
