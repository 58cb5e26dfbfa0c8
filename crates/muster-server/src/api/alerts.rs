//! Alert intake over HTTP and alert reads.
//!
//! `POST /api/v1/alerts` takes a batch (JSON array, NDJSON, text lines of
//! CEF/LEEF, or a Shadowserver CSV; gzip accepted), parses it with
//! `muster-intake`, folds repeats, and answers only after the batch is
//! committed. With an `Idempotency-Key` header a re-sent batch is answered
//! from the first commit and changes nothing.

use axum::extract::State;
use axum::http::HeaderMap;
use muster_core::Role;
use muster_intake::batch::{Limits, read_batch};
use muster_intake::correlate::{AlertKeys, CorrelationConfig, Key, lookup_keys_of, open_incident, plan_batch_keyed};
use muster_intake::dedup::{Decision, Seen, decide_seen, merge_batch};
use muster_intake::{Alert, Format, ParseOptions};
use muster_store::{
    AlertRow, BatchLink, Correlation, IngestCounts, Ingested, NewAlert, OpenMatch, OpenedIncident, Sighting,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiResult, AppError, Body, Json, Path, Query};
use crate::state::AppState;
use crate::visibility::can_see;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IntakeQuery {
    /// eve, wazuh, ecs, cef, leef, intelmq, shadowserver; absent: detected per record.
    pub format: Option<String>,
    /// Shadowserver report type (the file name, e.g. `scan_smb`), for CSV reports.
    pub report: Option<String>,
}

/// One refused record of a batch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Rejection {
    /// 0-based position in the batch.
    pub index: u64,
    /// 1-based line where the record starts.
    pub line: u64,
    pub reason: String,
}

/// The answer to a batch, sent after it is durably committed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntakeResult {
    /// Records parsed into alerts.
    pub accepted: u64,
    /// New alerts stored.
    pub created: u64,
    /// Records that repeated a stored alert (or an earlier record of this batch) and updated it.
    pub duplicates: u64,
    /// Records of event types not taken in (e.g. Suricata flow or stats).
    pub ignored: u64,
    /// Records refused, each with where and why.
    pub rejected: Vec<Rejection>,
    /// True when this is the stored answer to an earlier batch with the same Idempotency-Key.
    #[serde(default)]
    pub replayed: bool,
}

pub(crate) fn to_new_alert(a: &Alert, packer: &muster_store::Packer) -> NewAlert {
    NewAlert {
        fingerprint: a.fingerprint.to_hex(),
        format: a.format.as_str().to_owned(),
        source: a.source.clone(),
        source_ref: a.source_ref.clone(),
        title: a.title.clone(),
        severity: a.severity.as_str().to_owned(),
        rsit_type: a.rsit.as_str().to_owned(),
        tlp: a.tlp,
        pap: a.pap.as_str().to_owned(),
        first_seen: muster_store::to_ms(a.first_seen),
        last_seen: muster_store::to_ms(a.last_seen),
        count: i64::try_from(a.count).unwrap_or(i64::MAX),
        // The summary is in the row's own columns; the document keeps the rest,
        // packed with the original (here, while parsing, outside the store's write lock).
        body: packer.pack(&a.body_json(), &a.original),
        observables: a.observables.iter().map(|o| (o.kind().as_str().to_owned(), o.value().to_owned())).collect(),
    }
}

/// A stored alert's whole JSON: its document plus the summary fields the row
/// keeps in columns (see [`Alert::body_json`]). The columns win: they carry the
/// sightings folded in since (documents written before the split still hold a
/// copy of the summary as first stored).
pub(crate) fn full_doc(row: &muster_store::AlertRow, doc: &str) -> serde_json::Value {
    use serde_json::Value;
    let mut doc = match serde_json::from_str(doc) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let time = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339).map_or(Value::Null, Value::String)
    };
    let summary = [
        ("format", Value::from(row.format.as_str())),
        ("source", Value::from(row.source.as_str())),
        ("source_ref", row.source_ref.as_deref().map_or(Value::Null, Value::from)),
        ("fingerprint", Value::from(row.fingerprint.as_str())),
        ("title", Value::from(row.title.as_str())),
        ("severity", Value::from(row.severity.as_str())),
        ("first_seen", time(row.first_seen)),
        ("last_seen", time(row.last_seen)),
        ("count", Value::from(row.count)),
        ("tlp", Value::from(row.tlp.as_str())),
        ("pap", Value::from(row.pap.as_str())),
    ];
    for (field, value) in summary {
        if value.is_null() {
            doc.remove(field);
        } else {
            doc.insert(field.to_owned(), value);
        }
    }
    Value::Object(doc)
}

fn seen(first: i64, last: i64, count: i64) -> Seen {
    Seen {
        first_seen: muster_store::from_ms(first),
        last_seen: muster_store::from_ms(last),
        count: u64::try_from(count).unwrap_or(0),
    }
}

/// Accepts a batch of alerts for the organisation acted for.
#[utoipa::path(post, path = "/api/v1/alerts", tag = "alerts", params(IntakeQuery),
    request_body(content = String, description = "JSON array, NDJSON, CEF/LEEF lines or a Shadowserver CSV; gzip accepted",
        content_type = "application/json"),
    responses((status = 200, body = IntakeResult), (status = 403), (status = 413), (status = 503, description = "intake busy; see Retry-After")))]
pub async fn ingest(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<IntakeQuery>,
    headers: HeaderMap,
    Body(body): Body,
) -> ApiResult<Json<IntakeResult>> {
    p.require(Role::Analyst)?;
    let format = parse_format(q.format.as_deref())?;
    let key = idempotency_key(&headers)?;
    let _permit = state.intake.try_acquire().map_err(|_| AppError::Unavailable(1))?;
    let batch = Batch { body, format, report: q.report, key };
    let result =
        ingest_batch(&state.store, p.org.id, state.config.dedup_window_secs, &state.config.correlation, batch).await?;
    if !result.replayed {
        state.alerts_committed(p.org.id, result.created, result.duplicates);
    }
    Ok(Json(result))
}

/// Server-sent events: `event: alerts` with `{"created", "duplicates"}` each
/// time a batch is committed for the organisation acted for; `event: lagged`
/// when events were missed (reload the list then).
#[utoipa::path(get, path = "/api/v1/alerts/events", tag = "alerts",
    responses((status = 200, description = "text/event-stream of `alerts` and `lagged` events", content_type = "text/event-stream")))]
pub async fn events(
    State(state): State<AppState>,
    p: Principal,
) -> axum::response::Sse<impl tokio_stream::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>>
{
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio_stream::StreamExt;
    use tokio_stream::wrappers::BroadcastStream;
    use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
    let org = p.org.id;
    let stream = BroadcastStream::new(state.alert_events.subscribe()).filter_map(move |ev| match ev {
        Ok(e) if e.org == org => {
            Some(Ok(Event::default().event("alerts").data(serde_json::to_string(&e).unwrap_or_default())))
        }
        Ok(_) => None,
        Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(Event::default().event("lagged").data(n.to_string()))),
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The `Idempotency-Key` header, checked.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("idempotency-key") {
        Some(v) => {
            let k = v.to_str().map_err(|_| AppError::BadRequest("Idempotency-Key: must be ASCII".into()))?;
            if k.is_empty() || k.len() > 200 {
                return Err(AppError::BadRequest("Idempotency-Key: must be 1-200 characters".into()));
            }
            Ok(Some(k.to_owned()))
        }
        None => Ok(None),
    }
}

/// `format=` as the API and CLI spell it; `auto` or nothing detects per record.
///
/// # Errors
/// [`AppError::Unprocessable`] naming the accepted formats.
pub fn parse_format(s: Option<&str>) -> ApiResult<Option<Format>> {
    match s {
        None | Some("auto" | "") => Ok(None),
        Some(f) => Format::parse(f).map(Some).ok_or_else(|| {
            AppError::Unprocessable(format!(
                "format: unknown {f:?}; expected one of: auto, {}",
                Format::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
            ))
        }),
    }
}

/// One batch as received.
#[derive(Clone)]
pub struct Batch {
    pub body: axum::body::Bytes,
    pub format: Option<Format>,
    /// Shadowserver report type (file name).
    pub report: Option<String>,
    /// Idempotency key: a repeat of a committed key changes nothing.
    pub key: Option<String>,
}

/// Parses, folds, correlates and commits one batch for `org`; the answer is
/// sent only after the commit. Shared by the HTTP route, syslog, the TheHive
/// endpoint and `muster ingest` on a local store.
///
/// # Errors
/// Store errors; nothing of the batch is kept then.
pub async fn ingest_batch(
    store: &muster_store::Store,
    org: muster_core::OrgId,
    window_secs: u64,
    correlation: &CorrelationConfig,
    batch: Batch,
) -> ApiResult<IntakeResult> {
    let window = time::Duration::seconds(i64::try_from(window_secs).unwrap_or(i64::MAX));
    let Batch { body, format, report, key } = batch;
    let started = std::time::Instant::now();
    let packer = store.packer();
    let (merged, alerts, mut result) =
        tokio::task::spawn_blocking(move || parse(&body, format, report.as_deref(), window, &packer))
            .await
            .map_err(|e| AppError::Internal(format!("parser task: {e}")))?;
    let folded_in_batch = result.duplicates;
    let rejected = std::mem::take(&mut result.rejected);
    let answer = |c: IngestCounts| {
        let stored = IntakeResult {
            accepted: result.accepted,
            created: c.created,
            duplicates: folded_in_batch + c.duplicates,
            ignored: result.ignored,
            rejected: rejected
                .iter()
                .map(|r| Rejection { index: r.index, line: r.line, reason: r.reason.clone() })
                .collect(),
            replayed: true,
        };
        serde_json::to_string(&stored).unwrap_or_default()
    };
    let parsed = started.elapsed();
    let committed = commit(store, org, window, key.as_deref(), (&alerts, &merged), correlation, answer).await?;
    tracing::debug!(
        alerts = alerts.len(),
        parse_ms = parsed.as_millis(),
        commit_ms = (started.elapsed() - parsed).as_millis(),
        "intake batch"
    );
    match committed {
        Ingested::Committed(c) => Ok(IntakeResult {
            created: c.created,
            duplicates: folded_in_batch + c.duplicates,
            replayed: false,
            rejected,
            ..result
        }),
        Ingested::Replayed(stored) => {
            serde_json::from_str(&stored).map_err(|e| AppError::Internal(format!("stored intake answer: {e}")))
        }
    }
}

/// Stores `alerts` for `org` in one transaction, folding repeats of stored
/// alerts inside `window` and correlating the new ones into incidents (when
/// `correlation` is on) in the same transaction; with a `key`, a repeat batch
/// gets the stored `answer` instead. `alerts.1` are the normalised alerts the
/// rows of `alerts.0` were made from, in the same order. Shared by alert and
/// event intake.
///
/// # Errors
/// Store errors; nothing is kept then.
pub(crate) async fn commit(
    store: &muster_store::Store,
    org: muster_core::OrgId,
    window: time::Duration,
    key: Option<&str>,
    alerts: (&[NewAlert], &[Alert]),
    correlation: &CorrelationConfig,
    answer: impl FnOnce(IngestCounts) -> String,
) -> ApiResult<Ingested> {
    let merge = move |stored: &Sighting, a: &NewAlert| match decide_seen(
        window,
        &seen(stored.first_seen, stored.last_seen, stored.count),
        &seen(a.first_seen, a.last_seen, a.count),
    ) {
        Decision::New => None,
        Decision::Duplicate(s) => Some(Sighting {
            first_seen: muster_store::to_ms(s.first_seen),
            last_seen: muster_store::to_ms(s.last_seen),
            count: i64::try_from(s.count).unwrap_or(i64::MAX),
        }),
    };
    let window_ms = window.whole_milliseconds().try_into().unwrap_or(i64::MAX);
    let (rows, merged) = alerts;
    let correlation = correlation.enabled.then(|| correlate(correlation, merged));
    Ok(store.ingest_alerts_correlated(org, key, rows, window_ms, merge, correlation, answer).await?)
}

/// The correlation of a batch's alerts (`merged`, parallel to what the store
/// gets): the store looks up the open incidents sharing these keys and asks
/// `muster-intake`'s rules what to do with the alerts it stores as new.
fn correlate<'a>(config: &'a CorrelationConfig, merged: &'a [Alert]) -> Correlation<'a> {
    // Each alert's keys once, here, before the store's write lock; the decision reuses them.
    let keys: Vec<AlertKeys> = merged.iter().map(|a| AlertKeys::of(config, a)).collect();
    let lookup = lookup_keys_of(config, &keys);
    let kept = keys.iter().map(AlertKeys::kept).collect();
    let decide = move |new_rows: &[usize], matches: Vec<OpenMatch>| {
        let mut open: std::collections::BTreeMap<String, (i64, std::collections::BTreeSet<Key>)> =
            std::collections::BTreeMap::new();
        for m in matches {
            open.entry(m.incident)
                .or_insert_with(|| (m.opened, std::collections::BTreeSet::new()))
                .1
                .insert((m.kind, m.value));
        }
        let open = open
            .into_iter()
            .map(|(id, (opened, keys))| open_incident(id, muster_store::from_ms(opened), keys))
            .collect();
        let refs: Vec<&Alert> = new_rows.iter().map(|&i| &merged[i]).collect();
        let refs_keys: Vec<&AlertKeys> = new_rows.iter().map(|&i| &keys[i]).collect();
        let plan = plan_batch_keyed(config, open, &refs, &refs_keys, || format!("incident--{}", uuid::Uuid::now_v7()));
        let opened = plan
            .opened
            .iter()
            .map(|(id, opener)| {
                let a = refs[*opener];
                let severity = plan
                    .links
                    .iter()
                    .filter(|l| &l.incident == id)
                    .map(|l| refs[l.alert].severity)
                    .max()
                    .unwrap_or(a.severity);
                let reason = plan.links.iter().find(|l| l.alert == *opener).map(|l| l.reason.to_string());
                OpenedIncident {
                    id: id.clone(),
                    title: a.title.clone(),
                    severity: severity.as_str().to_owned(),
                    rsit_type: Some(a.rsit.as_str().to_owned()),
                    tlp: a.tlp,
                    pap: a.pap.as_str().to_owned(),
                    reason: reason.unwrap_or_default(),
                }
            })
            .collect();
        let links = plan
            .links
            .into_iter()
            .map(|l| BatchLink { alert: new_rows[l.alert], incident: l.incident, reason: l.reason.to_string() })
            .collect();
        (opened, links)
    };
    Correlation { lookup: lookup.into_iter().collect(), decide: Box::new(decide), kept }
}

/// Parses and folds a batch: the folded alerts, what the store gets of each, and the answer so far.
fn parse(
    body: &[u8],
    format: Option<Format>,
    report: Option<&str>,
    window: time::Duration,
    packer: &muster_store::Packer,
) -> (Vec<Alert>, Vec<NewAlert>, IntakeResult) {
    let options = ParseOptions::new(time::OffsetDateTime::now_utc());
    let records = read_batch(body, format, report, &options, Limits::default());
    let mut result =
        IntakeResult { accepted: 0, created: 0, duplicates: 0, ignored: 0, rejected: Vec::new(), replayed: false };
    let mut alerts = Vec::new();
    for r in records {
        match r.result {
            Ok(a) => {
                result.accepted += 1;
                alerts.push(a);
            }
            Err(e) if e.is_ignored() => result.ignored += 1,
            Err(e) => result.rejected.push(Rejection { index: r.index, line: r.line, reason: e.to_string() }),
        }
    }
    let before = alerts.len();
    let (merged, _) = merge_batch(window, alerts);
    result.duplicates = (before - merged.len()) as u64;
    let stored = merged.iter().map(|a| to_new_alert(a, packer)).collect();
    (merged, stored, result)
}

/// An alert as lists show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertSummary {
    pub id: String,
    pub organisation_id: String,
    pub fingerprint: String,
    pub format: String,
    pub source: String,
    pub source_ref: Option<String>,
    pub title: String,
    /// info, low, medium, high, critical
    pub severity: String,
    /// RSIT v1003 type
    pub rsit_type: String,
    pub tlp: String,
    pub pap: String,
    pub first_seen: String,
    pub last_seen: String,
    pub count: i64,
    pub status: String,
}

impl From<&AlertRow> for AlertSummary {
    fn from(a: &AlertRow) -> Self {
        Self {
            id: a.id.clone(),
            organisation_id: a.org.to_string(),
            fingerprint: a.fingerprint.clone(),
            format: a.format.clone(),
            source: a.source.clone(),
            source_ref: a.source_ref.clone(),
            title: a.title.clone(),
            severity: a.severity.clone(),
            rsit_type: a.rsit_type.clone(),
            tlp: a.tlp.to_string(),
            pap: a.pap.clone(),
            first_seen: crate::rfc3339(a.first_seen),
            last_seen: crate::rfc3339(a.last_seen),
            count: a.count,
            status: a.status.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertListQuery {
    /// Page size, 1-500 (default 100).
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next`.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    pub alerts: Vec<AlertSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// Alerts the caller may see, most recently seen first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertListQuery), responses((status = 200, body = AlertPage)))]
pub async fn list(
    State(state): State<AppState>,
    p: Principal,
    Query(q): Query<AlertListQuery>,
) -> ApiResult<Json<AlertPage>> {
    Ok(Json(page(&state, &p, q.limit.unwrap_or(100), q.cursor.as_deref()).await?))
}

pub(crate) async fn page(state: &AppState, p: &Principal, limit: i64, cursor: Option<&str>) -> ApiResult<AlertPage> {
    if !(1..=500).contains(&limit) {
        return Err(AppError::Unprocessable("limit: must be 1-500".into()));
    }
    let before = match cursor {
        Some(c) => {
            let (ms, id) = c.split_once('_').ok_or_else(|| AppError::BadRequest("cursor: malformed".into()))?;
            Some((ms.parse::<i64>().map_err(|_| AppError::BadRequest("cursor: malformed".into()))?, id))
        }
        None => None,
    };
    let rows = state.store.list_alerts(p.org.id, before, limit).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| format!("{}_{}", muster_store::to_ms(r.last_seen), r.id)))
        .flatten();
    let alerts = rows.iter().filter(|a| can_see(p, *a)).map(Into::into).collect();
    Ok(AlertPage { alerts, next })
}

/// One alert with its normalised document and original record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub summary: AlertSummary,
    /// The normalised alert (observables, rule, network, ATT&CK, tags, extra fields).
    #[schema(value_type = Object)]
    pub alert: serde_json::Value,
    /// The record as received (UTF-8, lossy).
    pub original: String,
}

#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", params(("id" = String, Path)),
    responses((status = 200, body = AlertDetail), (status = 404)))]
pub async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AlertDetail>> {
    if !id.starts_with("alert--") || id.len() > 64 {
        return Err(AppError::BadRequest(format!(
            "id: invalid alert id {:?}",
            id.chars().take(64).collect::<String>()
        )));
    }
    let (row, content) = state.store.get_alert(&id).await?;
    if !can_see(&p, &row) {
        return Err(AppError::NotFound(format!("alert {id}")));
    }
    Ok(Json(AlertDetail {
        summary: (&row).into(),
        alert: full_doc(&row, &content.doc),
        original: String::from_utf8_lossy(&content.original).into_owned(),
    }))
}

/// The alert as an IntelMQ event (harmonization field names), e.g. to feed an
/// IntelMQ pipeline or a CSIRT partner; `POST /api/v1/alerts?format=intelmq` takes it back.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/intelmq", tag = "alerts", params(("id" = String, Path)),
    responses((status = 200, description = "IntelMQ event JSON", body = Object), (status = 404)))]
pub async fn intelmq(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<muster_intake::intelmq::Event>> {
    let detail = get_one(State(state), p, Path(id)).await?.0;
    let mut alert: Alert =
        serde_json::from_value(detail.alert).map_err(|e| AppError::Internal(format!("stored alert document: {e}")))?;
    alert.original = detail.original.into_bytes();
    Ok(Json(muster_intake::intelmq::export(&alert)))
}
