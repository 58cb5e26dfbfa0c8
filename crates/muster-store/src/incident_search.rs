//! Incident search: filters, sorting and keyset (cursor) paging over the
//! incidents a viewer may see.
//!
//! Visibility is pre-selected in SQL from an [`IncidentScope`] (which TLPs the
//! viewer may see on its own organisation's incidents and on everyone else's,
//! derived by the caller from `muster_core::access::decide`), then every row is
//! still handed to the caller's gate. The pre-selection is two ordered index
//! ranges — the community's (`audience = '*'`, TLP:CLEAR/GREEN) and the
//! viewer's own organisation's — merged with `UNION ALL`, so the first page of
//! any sort reads a few index entries instead of sorting every visible row.
//!
//! Full text is the one place the dialects differ: FTS5 on SQLite, `tsvector`
//! on PostgreSQL (migration 6 keeps both in sync with triggers); see
//! [`text_predicate`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use muster_core::incident::IncidentStatus;
use muster_core::taxonomy::{NisRootCause, RsitClass, RsitType};
use muster_core::{Marking, OrgId, Tlp, UserId, Viewer, decide};
use sha2::Digest as _;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::Backend;
use crate::incidents::{COLUMNS, row_to_incident};
use crate::{IncidentRow, Result, Store};

mod probe;

muster_core::vocabulary! {
    /// What an incident list is ordered by (ties broken by id, in the same direction).
    pub enum IncidentSort ("sort") {
        UpdatedAt => "updated_at",
        DetectedAt => "detected_at",
        /// info < low < medium < high < critical.
        Severity => "severity",
        /// The lifecycle order, new … closed.
        Status => "status",
        Title => "title",
    }
}

impl IncidentSort {
    /// The column (generated where needed, migration 6) holding the sort key.
    const fn column(self) -> &'static str {
        match self {
            Self::UpdatedAt => "updated_at",
            Self::DetectedAt => "detected_at",
            Self::Severity => "severity_rank",
            Self::Status => "status_rank",
            Self::Title => "title",
        }
    }

    const fn is_text(self) -> bool {
        matches!(self, Self::Title)
    }
}

/// Whose incidents: a user's, or nobody's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    User(UserId),
    Unassigned,
}

/// A sort key value as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Int(i64),
    Text(String),
}

/// Where a page ends: the last row's sort key and id, for one sort and direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentCursor {
    pub sort: IncidentSort,
    pub descending: bool,
    pub key: SortKey,
    pub id: String,
}

/// A cursor that is not one this server handed out (or not for this sort).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor: {0}")]
pub struct BadCursor(pub String);

impl IncidentCursor {
    /// The opaque form handed to clients: URL-safe base64 of the sort, the
    /// direction, the key and the id, with a short checksum so an edited
    /// cursor is refused instead of silently paging from somewhere else.
    #[must_use]
    pub fn encode(&self) -> String {
        let key = match &self.key {
            SortKey::Int(n) => n.to_string(),
            SortKey::Text(s) => s.clone(),
        };
        let dir = if self.descending { "desc" } else { "asc" };
        let payload = format!("1|{}|{dir}|{}|{key}", self.sort, self.id);
        URL_SAFE_NO_PAD.encode(format!("{payload}|{}", checksum(&payload)))
    }

    /// Reads a cursor back.
    ///
    /// # Errors
    /// [`BadCursor`] when it is not well formed or its checksum does not match.
    pub fn decode(s: &str) -> Result<Self, BadCursor> {
        let bad = |why: &str| BadCursor(why.to_owned());
        if s.len() > 2048 {
            return Err(bad("too long"));
        }
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| bad("not a cursor from this server"))?;
        let text = String::from_utf8(bytes).map_err(|_| bad("not a cursor from this server"))?;
        let (payload, sum) = text.rsplit_once('|').ok_or_else(|| bad("not a cursor from this server"))?;
        if checksum(payload) != sum {
            return Err(bad("damaged or edited; start again from the first page"));
        }
        let mut parts = payload.splitn(5, '|');
        let (Some("1"), Some(sort), Some(dir), Some(id), Some(key)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not a cursor from this server"));
        };
        let sort = IncidentSort::parse(sort).map_err(|_| bad("unknown sort"))?;
        let descending = match dir {
            "desc" => true,
            "asc" => false,
            _ => return Err(bad("unknown order")),
        };
        if !id.starts_with("incident--") || id.len() > 64 {
            return Err(bad("bad incident id"));
        }
        let key = if sort.is_text() {
            SortKey::Text(key.to_owned())
        } else {
            SortKey::Int(key.parse().map_err(|_| bad("bad sort key"))?)
        };
        Ok(Self { sort, descending, key, id: id.to_owned() })
    }
}

fn checksum(payload: &str) -> String {
    hex::encode(&sha2::Sha256::digest(payload.as_bytes())[..6])
}

/// A search over incidents. Every field narrows; the default lists everything
/// visible, most recently changed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentQuery {
    /// Any of these statuses (empty: all).
    pub statuses: Vec<IncidentStatus>,
    /// Any of these severities: `info`, `low`, `medium`, `high`, `critical` (empty: all).
    pub severities: Vec<String>,
    pub assignee: Option<AssigneeFilter>,
    pub rsit_class: Option<RsitClass>,
    pub rsit_type: Option<RsitType>,
    pub nis_root_cause: Option<NisRootCause>,
    /// Any of these TLPs (empty: all the viewer may see).
    pub tlps: Vec<Tlp>,
    /// Milliseconds; `from` inclusive, `to` exclusive.
    pub detected_from: Option<i64>,
    pub detected_to: Option<i64>,
    pub updated_from: Option<i64>,
    pub updated_to: Option<i64>,
    /// An observable value on the incident, exactly.
    pub observable: Option<String>,
    /// Words that must all occur in the title, description or timeline.
    pub text: Vec<String>,
    pub sort: IncidentSort,
    pub descending: bool,
    /// Page size, 1-200.
    pub limit: u32,
    /// Continue after this row.
    pub after: Option<IncidentCursor>,
}

impl Default for IncidentQuery {
    fn default() -> Self {
        Self {
            statuses: Vec::new(),
            severities: Vec::new(),
            assignee: None,
            rsit_class: None,
            rsit_type: None,
            nis_root_cause: None,
            tlps: Vec::new(),
            detected_from: None,
            detected_to: None,
            updated_from: None,
            updated_to: None,
            observable: None,
            text: Vec::new(),
            sort: IncidentSort::UpdatedAt,
            descending: true,
            limit: 50,
            after: None,
        }
    }
}

/// Splits free text into search words: whitespace-separated, each keeping at
/// least one letter or digit (pure punctuation says nothing to either index).
#[must_use]
pub fn search_words(q: &str) -> Vec<String> {
    q.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .take(32)
        .map(|w| w.chars().take(100).collect())
        .collect()
}

/// What a viewer may see of incidents, as the gate answers it for an
/// incident with no explicit shares: which TLPs on its own organisation's
/// incidents, and which on everyone else's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentScope {
    pub org: OrgId,
    pub own: Vec<Tlp>,
    pub others: Vec<Tlp>,
}

impl IncidentScope {
    /// Asks the gate, TLP by TLP, what `viewer` may see of an incident of its
    /// own organisation and of another's (incidents carry no explicit shares).
    #[must_use]
    pub fn of(viewer: &Viewer) -> Self {
        let elsewhere = OrgId::new();
        let sees = |owner: OrgId| -> Vec<Tlp> {
            Tlp::ALL.iter().copied().filter(|t| decide(viewer, &Marking::owned(owner, *t)).is_visible()).collect()
        };
        Self { org: viewer.org, own: sees(viewer.org), others: sees(elsewhere) }
    }
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct IncidentPage {
    pub items: Vec<IncidentRow>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<IncidentCursor>,
}

/// Rounds of fetching when the gate drops rows, before handing back a short
/// page whose cursor continues after the last row looked at.
const MAX_ROUNDS: usize = 8;

/// The TLPs the `audience = '*'` range holds (migration 6 spells the same set).
const COMMUNITY: [Tlp; 2] = [Tlp::Clear, Tlp::Green];

#[derive(Clone)]
enum Arg {
    Int(i64),
    Text(String),
}

#[derive(Default, Clone)]
struct Args(Vec<Arg>);

impl Args {
    fn int(&mut self, v: i64) -> String {
        self.0.push(Arg::Int(v));
        format!("${}", self.0.len())
    }
    fn text(&mut self, v: impl Into<String>) -> String {
        self.0.push(Arg::Text(v.into()));
        format!("${}", self.0.len())
    }
    fn texts<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, vs: I) -> String {
        vs.into_iter().map(|v| self.text(v)).collect::<Vec<_>>().join(", ")
    }
}

/// How a full-text condition meets the sort on SQLite: a search matching few
/// incidents is best driven from the FTS index (look the matches up, sort
/// them); one matching many is best checked row by row while walking the sort
/// index, which stops after a page. PostgreSQL's planner chooses by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextPlan {
    Drive,
    Probe,
}

/// What one fetch runs: one statement, or (probing on SQLite) the visibility
/// ranges to walk with the conditions and arguments they share.
enum Fetch {
    One(String, Args),
    Walks { ranges: Vec<String>, common: String, args: Args },
}

/// Forces the match count above which SQLite full-text searches probe row by
/// row (tests; negative: choose by the store's size, the default).
static DRIVE_MAX_MATCHES: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(-1);

/// Sets the match count above which SQLite full-text searches probe row by row (tests and tuning;
/// negative restores the automatic choice). Both plans give the same rows.
#[doc(hidden)]
pub fn set_fts_drive_max_matches(n: i64) {
    DRIVE_MAX_MATCHES.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// Driving from `m` matches costs about `m` reads of the narrow docs table
/// (migration 8; ≈ 1.5 µs each at 1M incidents) plus the incident rows of the
/// few that pass its keys; probing costs the match set (≈ 0.1 µs a match) and
/// walks about `page × docs / m` rows (more when other filters thin them
/// out), each ≈ 3 µs with its row and docid. The two meet near
/// `2 × sqrt(page × docs)`, higher with other filters.
fn drive_max_matches(page: usize, docs: i64, other_filters: bool) -> i64 {
    let forced = DRIVE_MAX_MATCHES.load(std::sync::atomic::Ordering::Relaxed);
    if forced >= 0 {
        return forced;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let meet = 2 * ((page as f64) * (docs.max(1) as f64)).sqrt() as i64;
    (if other_filters { meet * 2 } else { meet }).clamp(500, 100_000)
}

/// The one dialect-specific piece: "this incident's text matches `ph`", as a
/// condition on `incidents`. (On SQLite a search driven from its matches joins
/// them in instead, [`DRIVE_FROM`], and a probed one checks rows in Rust, see
/// `probe`; this form is PostgreSQL's.)
fn text_predicate(backend: Backend, plan: TextPlan, ph: &str) -> String {
    match (backend, plan) {
        (Backend::Sqlite, _) => format!(
            "(SELECT d.docid FROM incident_search_docs d WHERE d.incident_id = incidents.id) \
             IN (SELECT rowid FROM incident_fts WHERE incident_fts MATCH {ph})"
        ),
        (Backend::Postgres, TextPlan::Drive) => {
            format!("id IN (SELECT incident_id FROM incident_search_text WHERE doc @@ plainto_tsquery('simple', {ph}))")
        }
        // A scalar subquery is not turned into a join: the planner walks the
        // sort index and tests each row's own document until the page is full.
        (Backend::Postgres, TextPlan::Probe) => format!(
            "(SELECT t.doc @@ plainto_tsquery('simple', {ph}) FROM incident_search_text t \
             WHERE t.incident_id = incidents.id)"
        ),
    }
}

/// A full-text search driven from its FTS5 matches on SQLite: the matches in
/// docid order, each one's filter keys beside it in `incident_search_docs`
/// (migration 8), so most are dropped before their incident row is read.
/// `CROSS JOIN` keeps this order; the column names of the three tables do not
/// clash, so the shared filters apply unqualified.
const DRIVE_FROM: &str = "incident_fts CROSS JOIN incident_search_docs ON incident_search_docs.docid = incident_fts.rowid \
                          CROSS JOIN incidents ON incidents.id = incident_search_docs.incident_id";

/// The bound argument for [`text_predicate`]: on SQLite every word becomes a
/// quoted FTS5 string (`"` doubled), so operators and syntax in the input are
/// just words; `plainto_tsquery` on PostgreSQL ignores operators by itself.
fn text_argument(backend: Backend, words: &[String]) -> String {
    match backend {
        Backend::Sqlite => {
            words.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect::<Vec<_>>().join(" ")
        }
        Backend::Postgres => words.join(" "),
    }
}

fn tlp_names(tlps: &[Tlp]) -> Vec<&'static str> {
    tlps.iter().map(|t| t.as_str()).collect()
}

/// The filter conditions shared by both visibility ranges (each starting with ` AND `).
fn filters(
    backend: Backend,
    plan: TextPlan,
    driven: bool,
    scope: &IncidentScope,
    q: &IncidentQuery,
    org_ph: &str,
    args: &mut Args,
) -> String {
    let mut w = String::new();
    if !q.statuses.is_empty() {
        let list = args.texts(q.statuses.iter().map(|s| s.as_str()));
        w.push_str(&format!(" AND status IN ({list})"));
    }
    if !q.severities.is_empty() {
        let list = args.texts(q.severities.iter().cloned());
        w.push_str(&format!(" AND severity IN ({list})"));
    }
    match q.assignee {
        Some(AssigneeFilter::User(u)) => {
            let ph = args.text(u.uuid().to_string());
            w.push_str(&format!(" AND assignee_id = {ph}"));
        }
        Some(AssigneeFilter::Unassigned) => w.push_str(" AND assignee_id IS NULL"),
        None => {}
    }
    if let Some(class) = q.rsit_class {
        let list = args.texts(class.types().iter().copied());
        w.push_str(&format!(" AND rsit_type IN ({list})"));
    }
    if let Some(t) = q.rsit_type {
        let ph = args.text(t.as_str());
        w.push_str(&format!(" AND rsit_type = {ph}"));
    }
    if let Some(c) = q.nis_root_cause {
        let ph = args.text(c.as_str());
        w.push_str(&format!(" AND nis_root_cause = {ph}"));
    }
    if !q.tlps.is_empty() {
        let list = args.texts(tlp_names(&q.tlps));
        w.push_str(&format!(" AND tlp IN ({list})"));
    }
    for (col, op, v) in [
        ("detected_at", ">=", q.detected_from),
        ("detected_at", "<", q.detected_to),
        ("updated_at", ">=", q.updated_from),
        ("updated_at", "<", q.updated_to),
    ] {
        if let Some(v) = v {
            let ph = args.int(v);
            w.push_str(&format!(" AND {col} {op} {ph}"));
        }
    }
    if let Some(value) = &q.observable {
        // Only observables the viewer may see themselves can select an incident.
        let ph = args.text(value.clone());
        let mut seen = Vec::new();
        if !scope.others.is_empty() {
            seen.push(format!("o.tlp IN ({})", args.texts(tlp_names(&scope.others))));
        }
        if !scope.own.is_empty() {
            seen.push(format!("(o.org_id = {org_ph} AND o.tlp IN ({}))", args.texts(tlp_names(&scope.own))));
        }
        let seen = if seen.is_empty() { "1 = 0".to_owned() } else { seen.join(" OR ") };
        w.push_str(&format!(
            " AND id IN (SELECT o.incident_id FROM incident_observables o WHERE o.value = {ph} AND ({seen}))"
        ));
    }
    if !q.text.is_empty() && !driven {
        let ph = args.text(text_argument(backend, &q.text));
        w.push_str(" AND ");
        w.push_str(&text_predicate(backend, plan, &ph));
    }
    w
}

fn cursor_key(row: &AnyRow, sort: IncidentSort) -> Result<SortKey> {
    Ok(if sort.is_text() { SortKey::Text(row.try_get("sort_key")?) } else { SortKey::Int(row.try_get("sort_key")?) })
}

impl Store {
    /// One page of the incidents `scope` may see that match `q`. Every row is
    /// also put to `gate` (the access-policy function); rows it refuses are
    /// skipped and more are fetched, so a page is short only at the end (or
    /// after [`MAX_ROUNDS`] rounds of refusals, with a cursor that continues
    /// after the last row looked at, so nothing is skipped or repeated).
    ///
    /// # Errors
    /// Database errors; a cursor made for another sort is the caller's to refuse.
    pub async fn search_incidents(
        &self,
        scope: &IncidentScope,
        q: &IncidentQuery,
        gate: impl Fn(&IncidentRow) -> bool,
    ) -> Result<IncidentPage> {
        let limit = q.limit.clamp(1, 200) as usize;
        let mut position = q.after.clone();
        let mut items = Vec::with_capacity(limit + 1);
        let mut exhausted = false;
        let plan = self.text_plan(q).await?;
        let matches = if plan == TextPlan::Probe && self.backend() == Backend::Sqlite {
            Some(self.fts_matches(q).await?)
        } else {
            None
        };
        for _ in 0..MAX_ROUNDS {
            let batch = limit + 1;
            let rows = self.fetch_incidents(scope, q, plan, matches.as_ref(), position.as_ref(), batch).await?;
            exhausted = rows.len() < batch;
            for (row, key) in rows {
                position = Some(IncidentCursor { sort: q.sort, descending: q.descending, key, id: row.id.clone() });
                if gate(&row) {
                    items.push((row, position.clone()));
                    if items.len() > limit {
                        break;
                    }
                }
            }
            if exhausted || items.len() > limit {
                break;
            }
        }
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().and_then(|(_, c)| c.clone())
        } else if exhausted {
            None
        } else {
            position
        };
        Ok(IncidentPage { items: items.into_iter().map(|(r, _)| r).collect(), next })
    }

    /// Counts (up to a bound) what the full-text words match, to choose a [`TextPlan`].
    async fn text_plan(&self, q: &IncidentQuery) -> Result<TextPlan> {
        if q.text.is_empty() {
            return Ok(TextPlan::Drive);
        }
        if self.backend() == Backend::Postgres {
            return self.text_plan_postgres(q).await;
        }
        let docs: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(docid), 0) FROM incident_search_docs")
            .fetch_one(&self.pool)
            .await?;
        let others = q
            != &IncidentQuery {
                text: q.text.clone(),
                sort: q.sort,
                descending: q.descending,
                limit: q.limit,
                after: q.after.clone(),
                ..IncidentQuery::default()
            };
        let max = drive_max_matches(q.limit.clamp(1, 200) as usize + 1, docs, others);
        // A large store counts the matches among its newest eighth of documents
        // only and scales up: the choice needs the order of magnitude, and a
        // full count would cost a driven search as much FTS5 work again.
        let sampled = docs >= 100_000 && DRIVE_MAX_MATCHES.load(std::sync::atomic::Ordering::Relaxed) < 0;
        let window = if sampled { docs / 8 } else { docs.max(1) };
        let in_window: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT rowid FROM incident_fts WHERE incident_fts MATCH $1 AND rowid > $2 LIMIT $3) AS m",
        )
        .bind(text_argument(self.backend(), &q.text))
        .bind(docs - window)
        .bind(max.saturating_mul(window) / docs.max(1) + 1)
        .fetch_one(&self.pool)
        .await?;
        let n = in_window.saturating_mul(docs.max(1)) / window;
        Ok(if n > max { TextPlan::Probe } else { TextPlan::Drive })
    }

    /// PostgreSQL: the same choice, from the planner's row estimate and a
    /// bounded count of the GIN matches. Driven, the planner joins the matches;
    /// probed, it walks the sort index (see [`text_predicate`]).
    async fn text_plan_postgres(&self, q: &IncidentQuery) -> Result<TextPlan> {
        let docs: i64 = sqlx::query_scalar(
            "SELECT CAST(GREATEST(reltuples, 0) AS BIGINT) FROM pg_class WHERE relname = 'incident_search_text'",
        )
        .fetch_optional(&self.pool)
        .await?
        .unwrap_or(0);
        let others = q.statuses.len() + q.severities.len() + q.tlps.len() > 0
            || q.assignee.is_some()
            || q.rsit_class.is_some()
            || q.rsit_type.is_some()
            || q.nis_root_cause.is_some()
            || q.observable.is_some()
            || q.detected_from.or(q.detected_to).or(q.updated_from).or(q.updated_to).is_some();
        // With other filters the planner's own join measured better (at 1M the
        // bounded count cost as much as the search); probing is for bare words.
        if others && DRIVE_MAX_MATCHES.load(std::sync::atomic::Ordering::Relaxed) < 0 {
            return Ok(TextPlan::Drive);
        }
        let max = drive_max_matches(q.limit.clamp(1, 200) as usize + 1, docs, others);
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM incident_search_text \
             WHERE doc @@ plainto_tsquery('simple', $1) LIMIT $2) AS m",
        )
        .bind(text_argument(self.backend(), &q.text))
        .bind(max.saturating_add(1))
        .fetch_one(&self.pool)
        .await?;
        Ok(if n > max { TextPlan::Probe } else { TextPlan::Drive })
    }

    async fn fetch_incidents(
        &self,
        scope: &IncidentScope,
        q: &IncidentQuery,
        plan: TextPlan,
        matches: Option<&probe::Matches>,
        after: Option<&IncidentCursor>,
        batch: usize,
    ) -> Result<Vec<(IncidentRow, SortKey)>> {
        match self.search_sql(scope, q, plan, after, batch) {
            None => Ok(Vec::new()),
            Some(Fetch::One(sql, args)) => {
                let rows = bind(sqlx::query(&sql), args).fetch_all(&self.pool).await?;
                rows.iter().map(|r| Ok((row_to_incident(r)?, cursor_key(r, q.sort)?))).collect()
            }
            Some(Fetch::Walks { ranges, common, args }) => {
                let Some(matches) = matches else { return Ok(Vec::new()) };
                self.walk_and_probe(q, matches, &ranges, &common, &args, batch).await
            }
        }
    }

    /// The SQL of one fetch and its arguments (or, for a full-text search
    /// probed row by row on SQLite, the ranges to walk); `None` when the scope
    /// sees nothing.
    fn search_sql(
        &self,
        scope: &IncidentScope,
        q: &IncidentQuery,
        plan: TextPlan,
        after: Option<&IncidentCursor>,
        batch: usize,
    ) -> Option<Fetch> {
        let mut args = Args::default();
        let org_ph = args.text(scope.org.uuid().to_string());
        let sqlite_text = self.backend() == Backend::Sqlite && !q.text.is_empty();
        let driven = sqlite_text && plan == TextPlan::Drive;
        let walked = sqlite_text && plan == TextPlan::Probe;
        let mut common = filters(self.backend(), plan, driven || walked, scope, q, &org_ph, &mut args);
        let col = q.sort.column();
        let (dir, cmp) = if q.descending { ("DESC", "<") } else { ("ASC", ">") };
        if let Some(c) = after {
            let key_ph = match &c.key {
                SortKey::Int(n) => args.int(*n),
                SortKey::Text(s) => args.text(s.clone()),
            };
            let id_ph = args.text(c.id.clone());
            common.push_str(&format!(" AND ({col}, id) {cmp} ({key_ph}, {id_ph})"));
        }
        // The viewer's own organisation's non-community incidents (audience = its id) …
        let own_private: Vec<Tlp> = scope.own.iter().copied().filter(|t| !COMMUNITY.contains(t)).collect();
        // … and the community range, of which the scope may allow some TLPs.
        let others: Vec<Tlp> = scope.others.iter().copied().filter(|t| COMMUNITY.contains(t)).collect();
        let own_public: Vec<Tlp> = scope.own.iter().copied().filter(|t| COMMUNITY.contains(t)).collect();
        // Each range once on the incident row and once, when driven, on the
        // docs table's keys (all its TLPs lie on one side of the audience split,
        // so owner and TLP say the same as audience and TLP).
        let mut ranges = Vec::new();
        let mut key_ranges = Vec::new();
        for (tlp_col, org_col, keys) in [("tlp", "org_id", false), ("tlp_key", "org_key", true)] {
            if keys && !driven {
                continue;
            }
            let mut community = Vec::new();
            if !others.is_empty() {
                community.push(format!("{tlp_col} IN ({})", args.texts(tlp_names(&others))));
            }
            if !own_public.is_empty() {
                community
                    .push(format!("({org_col} = {org_ph} AND {tlp_col} IN ({}))", args.texts(tlp_names(&own_public))));
            }
            let into = if keys { &mut key_ranges } else { &mut ranges };
            if !own_private.is_empty() {
                let tlps = args.texts(tlp_names(&own_private));
                let owner = if keys { "org_key" } else { "audience" };
                into.push(format!("{owner} = {org_ph} AND {tlp_col} IN ({tlps})"));
            }
            if !community.is_empty() {
                let audience = if keys { "" } else { "audience = '*' AND " };
                into.push(format!("{audience}({})", community.join(" OR ")));
            }
        }
        if walked {
            return Some(Fetch::Walks { ranges, common, args });
        }
        let lim = args.int(i64::try_from(batch).unwrap_or(201));
        let branch = |from: &str, cond: String| {
            format!(
                "SELECT {COLUMNS}, {col} AS sort_key FROM {from} WHERE {cond}{common} \
                 ORDER BY {col} {dir}, id {dir} LIMIT {lim}"
            )
        };
        let mut branches: Vec<String> = if ranges.is_empty() {
            Vec::new()
        } else if driven {
            // One pass over the matches: the keys drop most of them, the
            // incident row then answers every condition itself.
            let text_ph = args.text(text_argument(self.backend(), &q.text));
            let mut keys = format!("incident_fts MATCH {text_ph} AND (({}))", key_ranges.join(") OR ("));
            if !q.statuses.is_empty() {
                keys.push_str(&format!(" AND status_key IN ({})", args.texts(q.statuses.iter().map(|s| s.as_str()))));
            }
            if !q.severities.is_empty() {
                keys.push_str(&format!(" AND severity_key IN ({})", args.texts(q.severities.iter().cloned())));
            }
            vec![branch(DRIVE_FROM, format!("{keys} AND (({}))", ranges.join(") OR (")))]
        } else if !q.text.is_empty() && plan == TextPlan::Drive && ranges.len() > 1 {
            // PostgreSQL: one pass over the (planner-chosen) matches instead of one per range.
            vec![branch("incidents", format!("(({}))", ranges.join(") OR (")))]
        } else {
            ranges.into_iter().map(|r| branch("incidents", r)).collect()
        };
        let sql = match branches.len() {
            0 => return None,
            1 => branches.swap_remove(0),
            _ => {
                let union = branches
                    .iter()
                    .enumerate()
                    .map(|(i, b)| format!("SELECT * FROM ({b}) AS range{i}"))
                    .collect::<Vec<_>>()
                    .join(" UNION ALL ");
                format!("{union} ORDER BY sort_key {dir}, id {dir} LIMIT {lim}")
            }
        };
        Some(Fetch::One(sql, args))
    }

    /// The database's plan for the first page of a search (`EXPLAIN QUERY PLAN`
    /// on SQLite, `EXPLAIN ANALYZE` on PostgreSQL), for benchmarks and tuning.
    ///
    /// # Errors
    /// Database errors.
    #[doc(hidden)]
    pub async fn explain_incident_search(&self, scope: &IncidentScope, q: &IncidentQuery) -> Result<String> {
        let batch = q.limit.clamp(1, 200) as usize + 1;
        let plan = self.text_plan(q).await?;
        let (sql, args) = match self.search_sql(scope, q, plan, q.after.as_ref(), batch) {
            None => return Ok(String::new()),
            Some(Fetch::One(sql, args)) => (sql, args),
            // Probed: the walk of the first range (the match set is read once, apart).
            Some(Fetch::Walks { ranges, common, args }) => {
                let Some(range) = ranges.first() else { return Ok(String::new()) };
                (probe::walk_sql(q, range, &common, None, 64), args)
            }
        };
        let (prefix, column) = match self.backend() {
            Backend::Sqlite => ("EXPLAIN QUERY PLAN ", 3),
            Backend::Postgres => ("EXPLAIN ANALYZE ", 0),
        };
        let rows = bind(sqlx::query(&format!("{prefix}{sql}")), args).fetch_all(&self.pool).await?;
        let lines: Vec<String> = rows.iter().map(|r| r.try_get::<String, _>(column)).collect::<Result<_, _>>()?;
        Ok(lines.join("\n"))
    }
}

fn bind<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: Args,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args.0 {
        query = match a {
            Arg::Int(n) => query.bind(n),
            Arg::Text(s) => query.bind(s),
        };
    }
    query
}
