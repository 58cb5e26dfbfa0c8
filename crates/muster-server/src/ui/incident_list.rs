//! The incident list page's search: the filter form's state, sortable column
//! headers and the next-page link, all plain GET links (bookmarkable). The
//! search itself is the API's (`crate::incident_query`, `api::incidents::search`).

use muster_core::incident::IncidentStatus;
use muster_core::taxonomy::{NisRootCause, RsitClass};
use muster_store::{AssigneeFilter, IncidentQuery, IncidentSort};

use super::{Opt, UiPrincipal};
use crate::api::incidents::{IncidentView, SEVERITIES};
use crate::error::AppError;
use crate::incident_query;
use crate::state::AppState;

/// What the filter form shows and the links it needs.
pub struct SearchForm {
    pub q: String,
    pub observable: String,
    /// `""`, `me`, `none` or a user id.
    pub assignee: String,
    pub detected_from: String,
    pub detected_to: String,
    pub statuses: Vec<Opt>,
    pub severities: Vec<Opt>,
    pub tlps: Vec<Opt>,
    pub rsit_classes: Vec<Opt>,
    pub root_causes: Vec<Opt>,
    /// Rows on this page.
    pub count: usize,
    /// The next page's URL, when there is one.
    pub next: Option<String>,
    /// Whether any filter narrows the list.
    pub filtered: bool,
    query: IncidentQuery,
}

impl SearchForm {
    /// The link that sorts by `sort` (flipping the direction when it is the current sort).
    #[must_use]
    pub fn sort_href(&self, sort: &str) -> String {
        let sort = IncidentSort::parse(sort).unwrap_or(IncidentSort::UpdatedAt);
        let descending = if sort == self.query.sort { !self.query.descending } else { sort != IncidentSort::Title };
        let q = IncidentQuery { sort, descending, after: None, ..self.query.clone() };
        href(&q, None)
    }

    /// ▲ or ▼ beside the current sort's header.
    #[must_use]
    pub fn mark(&self, sort: &str) -> &'static str {
        match IncidentSort::parse(sort) {
            Ok(s) if s == self.query.sort => {
                if self.query.descending {
                    "▼"
                } else {
                    "▲"
                }
            }
            _ => "",
        }
    }

    /// `aria-sort` for a header.
    #[must_use]
    pub fn aria(&self, sort: &str) -> &'static str {
        match IncidentSort::parse(sort) {
            Ok(s) if s == self.query.sort => {
                if self.query.descending {
                    "descending"
                } else {
                    "ascending"
                }
            }
            _ => "none",
        }
    }

    #[must_use]
    pub fn sort(&self) -> &'static str {
        self.query.sort.as_str()
    }

    #[must_use]
    pub fn order(&self) -> &'static str {
        if self.query.descending { "desc" } else { "asc" }
    }
}

fn href(q: &IncidentQuery, cursor: Option<String>) -> String {
    let mut pairs: Vec<(&str, String)> = incident_query::to_pairs(q);
    if let Some(c) = cursor {
        pairs.push(("cursor", c));
    }
    format!("/incidents?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
}

fn multi<T: PartialEq + Copy>(names: &'static [&'static str], all: &[T], chosen: &[T]) -> Vec<Opt> {
    names.iter().zip(all).map(|(n, v)| Opt { value: n, selected: chosen.contains(v) }).collect()
}

fn single(names: &'static [&'static str], chosen: Option<&str>) -> Vec<Opt> {
    names.iter().map(|n| Opt { value: n, selected: Some(*n) == chosen }).collect()
}

/// Parses the page's query string, runs the search and fills the form.
///
/// # Errors
/// A 400 naming a bad parameter; store errors.
pub async fn run(
    state: &AppState,
    ui: &UiPrincipal,
    raw: Option<&str>,
) -> Result<(Vec<IncidentView>, SearchForm), AppError> {
    let p = &ui.0;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or_default()).map_err(|e| AppError::BadRequest(format!("query: {e}")))?;
    let query = incident_query::parse_pairs(&pairs, p.user.id)?;
    let page = crate::api::incidents::search(state, p, &query).await?;
    let raw_value =
        |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let severity_all: Vec<String> = SEVERITIES.iter().map(|s| (*s).to_owned()).collect();
    let form = SearchForm {
        q: query.text.join(" "),
        observable: query.observable.clone().unwrap_or_default(),
        assignee: match query.assignee {
            Some(AssigneeFilter::Unassigned) => "none".into(),
            Some(AssigneeFilter::User(u)) if u == p.user.id => "me".into(),
            Some(AssigneeFilter::User(u)) => u.to_string(),
            None => String::new(),
        },
        detected_from: raw_value("detected_from"),
        detected_to: raw_value("detected_to"),
        statuses: multi(IncidentStatus::NAMES, IncidentStatus::ALL, &query.statuses),
        severities: SEVERITIES
            .iter()
            .zip(&severity_all)
            .map(|(n, s)| Opt { value: n, selected: query.severities.contains(s) })
            .collect(),
        tlps: multi(
            &["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"],
            muster_core::Tlp::ALL,
            &query.tlps,
        ),
        rsit_classes: single(RsitClass::NAMES, query.rsit_class.map(RsitClass::as_str)),
        root_causes: single(NisRootCause::NAMES, query.nis_root_cause.map(NisRootCause::as_str)),
        count: page.items.len(),
        next: page.next_cursor.map(|c| href(&query, Some(c))),
        filtered: query
            != IncidentQuery {
                limit: query.limit,
                sort: query.sort,
                descending: query.descending,
                after: query.after.clone(),
                ..IncidentQuery::default()
            },
        query,
    };
    Ok((page.items, form))
}
