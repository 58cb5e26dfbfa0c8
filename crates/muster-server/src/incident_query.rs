//! The incident search parameters, parsed once at the edge (API and list page
//! share them): raw `key=value` pairs in, a typed [`IncidentQuery`] out, or a
//! 400 naming the parameter.

use muster_core::UserId;
use muster_core::incident::IncidentStatus;
use muster_core::taxonomy::{NisRootCause, RsitClass, RsitType};
use muster_store::{AssigneeFilter, IncidentCursor, IncidentQuery, IncidentSort, search_words};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::incidents::SEVERITIES;
use crate::error::AppError;

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 50;

/// The parameters of `GET /api/v1/incidents` (and of the `/incidents` page).
/// Multi-valued ones take repeats (`status=new&status=triage`) or commas
/// (`status=new,triage`). Empty values count as absent, so a submitted form
/// with blank fields is a valid query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Documents the parameters; parsing is by hand (repeats, clear errors).
pub struct IncidentSearchParams {
    /// Status, any of: new, triage, in-progress, contained, eradicated, recovered, closed.
    status: Option<Vec<String>>,
    /// Severity, any of: info, low, medium, high, critical.
    severity: Option<Vec<String>>,
    /// A user id, `me`, or `none` (unassigned).
    assignee: Option<String>,
    /// RSIT v1003 class, e.g. `intrusion-attempts`.
    rsit_class: Option<String>,
    /// RSIT v1003 type, e.g. `brute-force`.
    rsit_type: Option<String>,
    /// NIS root cause: system-failures, natural-phenomena, human-errors, malicious-actions, third-party-failures.
    nis_root_cause: Option<String>,
    /// TLP, any of: TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED.
    tlp: Option<Vec<String>>,
    /// Detected at or after (RFC 3339).
    detected_from: Option<String>,
    /// Detected before (RFC 3339).
    detected_to: Option<String>,
    /// Changed at or after (RFC 3339).
    updated_from: Option<String>,
    /// Changed before (RFC 3339).
    updated_to: Option<String>,
    /// An observable value on the incident, matched exactly (e.g. `203.0.113.7`).
    observable: Option<String>,
    /// Words that must all occur in the title, description or timeline, except entries linking alerts (whole words, any case).
    q: Option<String>,
    /// updated_at (default), detected_at, severity (info < … < critical), status (lifecycle order), title.
    sort: Option<String>,
    /// desc (default) or asc.
    order: Option<String>,
    /// Page size, 1-200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same filters and sort.
    cursor: Option<String>,
}

const PARAMS: &[&str] = &[
    "status",
    "severity",
    "assignee",
    "rsit_class",
    "rsit_type",
    "nis_root_cause",
    "tlp",
    "detected_from",
    "detected_to",
    "updated_from",
    "updated_to",
    "observable",
    "q",
    "sort",
    "order",
    "limit",
    "cursor",
];

/// Parameters the list page adds to the search's own (ignored by the parser).
const PAGE_ONLY: &[&str] = &["count"];

fn bad(param: &str, msg: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(format!("{param}: {msg}"))
}

/// Parses a raw query string (`None` or empty: every visible incident, newest
/// change first). `me` is the caller, for `assignee=me`.
///
/// # Errors
/// [`AppError::BadRequest`] naming the first bad or unknown parameter.
pub fn parse(raw: Option<&str>, me: UserId) -> Result<IncidentQuery, AppError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or_default()).map_err(|e| AppError::BadRequest(format!("query: {e}")))?;
    parse_pairs(&pairs, me)
}

/// As [`parse`], from decoded pairs.
///
/// # Errors
/// [`AppError::BadRequest`] naming the first bad or unknown parameter.
pub fn parse_pairs(pairs: &[(String, String)], me: UserId) -> Result<IncidentQuery, AppError> {
    let mut q = IncidentQuery { limit: DEFAULT_LIMIT, ..IncidentQuery::default() };
    let mut cursor = None;
    let mut seen_single: Vec<&str> = Vec::new();
    for (k, v) in pairs {
        let key = k.as_str();
        if !PARAMS.contains(&key) {
            if PAGE_ONLY.contains(&key) {
                continue;
            }
            return Err(bad(&k.chars().take(40).collect::<String>(), "unknown parameter"));
        }
        if v.len() > 1000 {
            return Err(bad(key, "longer than 1000 characters"));
        }
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let multi = matches!(key, "status" | "severity" | "tlp");
        if !multi {
            if seen_single.contains(&key) {
                return Err(bad(key, "given more than once"));
            }
            seen_single.push(key);
        }
        let items = || v.split(',').map(str::trim).filter(|s| !s.is_empty());
        match key {
            "status" => {
                for s in items() {
                    let s = IncidentStatus::parse(s).map_err(|e| bad(key, e))?;
                    if !q.statuses.contains(&s) {
                        q.statuses.push(s);
                    }
                }
            }
            "severity" => {
                for s in items() {
                    let s = s.to_ascii_lowercase();
                    if !SEVERITIES.contains(&s.as_str()) {
                        return Err(bad(key, format!("{s:?} is not one of {}", SEVERITIES.join(", "))));
                    }
                    if !q.severities.contains(&s) {
                        q.severities.push(s);
                    }
                }
            }
            "tlp" => {
                for s in items() {
                    let t: muster_core::Tlp = s.parse().map_err(|e| bad(key, e))?;
                    if !q.tlps.contains(&t) {
                        q.tlps.push(t);
                    }
                }
            }
            "assignee" => {
                q.assignee = Some(match v {
                    "me" => AssigneeFilter::User(me),
                    "none" => AssigneeFilter::Unassigned,
                    id => AssigneeFilter::User(id.parse().map_err(|_| bad(key, "expected a user id, `me` or `none`"))?),
                });
            }
            "rsit_class" => q.rsit_class = Some(RsitClass::parse(v).map_err(|e| bad(key, e))?),
            "rsit_type" => q.rsit_type = Some(RsitType::parse(v).map_err(|e| bad(key, e))?),
            "nis_root_cause" => q.nis_root_cause = Some(NisRootCause::parse(v).map_err(|e| bad(key, e))?),
            "detected_from" => q.detected_from = Some(time_ms(key, v)?),
            "detected_to" => q.detected_to = Some(time_ms(key, v)?),
            "updated_from" => q.updated_from = Some(time_ms(key, v)?),
            "updated_to" => q.updated_to = Some(time_ms(key, v)?),
            "observable" => q.observable = Some(v.to_owned()),
            "q" => q.text = search_words(v),
            "sort" => q.sort = IncidentSort::parse(v).map_err(|e| bad(key, e))?,
            "order" => {
                q.descending = match v.to_ascii_lowercase().as_str() {
                    "desc" => true,
                    "asc" => false,
                    _ => return Err(bad(key, "expected asc or desc")),
                };
            }
            "limit" => {
                q.limit = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| bad(key, "must be a whole number from 1 to 200"))?;
            }
            "cursor" => cursor = Some(IncidentCursor::decode(v).map_err(|e| AppError::BadRequest(e.to_string()))?),
            _ => {}
        }
    }
    if let Some(c) = cursor {
        if c.sort != q.sort || c.descending != q.descending {
            return Err(bad("cursor", "was made for another sort or order; start again from the first page"));
        }
        q.after = Some(c);
    }
    Ok(q)
}

fn time_ms(param: &str, v: &str) -> Result<i64, AppError> {
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad(param, format!("{:?} is not an RFC 3339 time", v.chars().take(40).collect::<String>())))?;
    Ok(muster_store::to_ms(t))
}

/// The query string that reproduces `q` (cursor excluded), for bookmarkable
/// links: the list page's sort headers and next-page link.
#[must_use]
pub fn to_pairs(q: &IncidentQuery) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let join = |v: Vec<&str>| v.join(",");
    if !q.statuses.is_empty() {
        out.push(("status", join(q.statuses.iter().map(|s| s.as_str()).collect())));
    }
    if !q.severities.is_empty() {
        out.push(("severity", join(q.severities.iter().map(String::as_str).collect())));
    }
    match q.assignee {
        Some(AssigneeFilter::User(u)) => out.push(("assignee", u.to_string())),
        Some(AssigneeFilter::Unassigned) => out.push(("assignee", "none".into())),
        None => {}
    }
    if let Some(c) = q.rsit_class {
        out.push(("rsit_class", c.to_string()));
    }
    if let Some(t) = q.rsit_type {
        out.push(("rsit_type", t.to_string()));
    }
    if let Some(c) = q.nis_root_cause {
        out.push(("nis_root_cause", c.to_string()));
    }
    if !q.tlps.is_empty() {
        out.push(("tlp", join(q.tlps.iter().map(|t| t.as_str()).collect())));
    }
    for (k, v) in [
        ("detected_from", q.detected_from),
        ("detected_to", q.detected_to),
        ("updated_from", q.updated_from),
        ("updated_to", q.updated_to),
    ] {
        if let Some(ms) = v {
            out.push((k, crate::rfc3339(muster_store::from_ms(ms))));
        }
    }
    if let Some(o) = &q.observable {
        out.push(("observable", o.clone()));
    }
    if !q.text.is_empty() {
        out.push(("q", q.text.join(" ")));
    }
    out.push(("sort", q.sort.to_string()));
    out.push(("order", if q.descending { "desc" } else { "asc" }.into()));
    if q.limit != DEFAULT_LIMIT {
        out.push(("limit", q.limit.to_string()));
    }
    out
}
