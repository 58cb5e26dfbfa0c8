//! Correlation of an intake batch into incidents, written in the batch's own
//! transaction: the store looks up the open incidents that share the batch's
//! keys (one query on `incident_observables(value, incident_id)` for
//! observables, one on `incident_keys` for a rule, a host or both), hands
//! them to the caller's decision (`muster-intake` owns the rules), and writes
//! the incidents it opens, the links with their reasons, the observables the
//! incidents gain, the keys they keep, and one timeline entry per incident and reason.
//!
//! Links are written in bulk here rather than through `incidents::link_alert`
//! (one alert, five statements): a batch may link thousands of alerts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use muster_core::Tlp;
use sqlx::Row;

use crate::Result;
use crate::alerts::NewAlert;
use crate::params::{Params, backend_of, rows_per_statement};

/// An open incident of the organisation that holds one of the looked-up observables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenMatch {
    pub incident: String,
    /// When the incident was created (ms), for the oldest-first tie break.
    pub opened: i64,
    pub kind: String,
    pub value: String,
}

/// An incident a batch opens.
#[derive(Debug, Clone)]
pub struct OpenedIncident {
    /// Chosen by the caller, so its decisions can refer to it.
    pub id: String,
    pub title: String,
    pub severity: String,
    pub rsit_type: Option<String>,
    pub tlp: Tlp,
    pub pap: String,
    /// Why it was opened (`rule=severity-threshold, severity=high`).
    pub reason: String,
}

/// One alert of the batch grouped into an incident.
#[derive(Debug, Clone)]
pub struct BatchLink {
    /// Index into the batch's alerts.
    pub alert: usize,
    pub incident: String,
    /// `rule=shared-address, shared=ipv4:192.0.2.7`.
    pub reason: String,
}

/// The correlation decision, called inside the batch's transaction with the
/// indices of the alerts stored as new rows and the matching open incidents.
pub type Decide<'a> = Box<dyn FnOnce(&[usize], Vec<OpenMatch>) -> (Vec<OpenedIncident>, Vec<BatchLink>) + Send + 'a>;

/// Correlation for one batch.
pub struct Correlation<'a> {
    /// `(kind, value)` keys whose open incidents the batch may join: found
    /// among incidents' observables and the keys incidents keep.
    pub lookup: BTreeSet<(String, String)>,
    pub decide: Decide<'a>,
    /// Per batch alert, the keys that are not observables (a rule on a host,
    /// say) which an incident it joins keeps, so later batches find it by them.
    pub kept: Vec<Vec<(String, String)>>,
}

/// Values per lookup query; both backends take far more bound values.
const LOOKUP_VALUES: usize = 5_000;
const ROWS: usize = 1_000;

type Tx<'t> = sqlx::Transaction<'t, sqlx::Any>;

pub(crate) async fn open_matches(
    tx: &mut Tx<'_>,
    org: &str,
    lookup: &BTreeSet<(String, String)>,
) -> Result<(Vec<OpenMatch>, HashMap<String, (String, String)>)> {
    let values: BTreeSet<&str> = lookup.iter().map(|(_, v)| v.as_str()).collect();
    let values: Vec<&str> = values.into_iter().collect();
    let mut out = Vec::new();
    let mut markings = HashMap::new();
    let backend = backend_of(tx);
    // Observables, then the keys incidents keep; each table indexed by (value, incident_id).
    // (A plain list, not an iterator of closures: the future must stay `Send`.)
    let mut queries: Vec<(&str, &[&str])> = Vec::new();
    for table in ["incident_observables", "incident_keys"] {
        queries.extend(values.chunks(rows_per_statement(backend, 1, LOOKUP_VALUES)).map(|c| (table, c)));
    }
    for (table, chunk) in queries {
        let mut sql = format!(
            "SELECT o.incident_id, o.kind, o.value, i.created_at, i.tlp, i.pap FROM {table} o \
             JOIN incidents i ON i.id = o.incident_id WHERE o.org_id = "
        );
        let mut p = Params::new(backend);
        p.one(&mut sql);
        sql.push_str(" AND o.value IN (");
        p.list(&mut sql, chunk.len());
        sql.push_str(") AND i.status <> 'closed'");
        let mut q = sqlx::query(&sql).bind(org);
        for v in chunk {
            q = q.bind(*v);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let m = OpenMatch {
                incident: row.try_get("incident_id")?,
                opened: row.try_get("created_at")?,
                kind: row.try_get("kind")?,
                value: row.try_get("value")?,
            };
            if lookup.contains(&(m.kind.clone(), m.value.clone())) {
                markings.insert(m.incident.clone(), (row.try_get("tlp")?, row.try_get("pap")?));
                out.push(m);
            }
        }
    }
    out.sort_by(|a, b| (&a.incident, &a.kind, &a.value).cmp(&(&b.incident, &b.kind, &b.value)));
    Ok((out, markings))
}

/// Writes the plan: `ids[i]` is the stored id of batch alert `i` (new rows only).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write(
    tx: &mut Tx<'_>,
    org: &str,
    now: i64,
    alerts: &[NewAlert],
    ids: &HashMap<usize, &str>,
    opened: &[OpenedIncident],
    links: &[BatchLink],
    kept: &[Vec<(String, String)>],
    mut markings: HashMap<String, (String, String)>,
) -> Result<()> {
    let links: Vec<&BatchLink> = links.iter().filter(|l| ids.contains_key(&l.alert)).collect();
    if links.is_empty() {
        return Ok(());
    }
    let t0 = std::time::Instant::now();
    for inc in opened {
        let occurred = links.iter().filter(|l| l.incident == inc.id).map(|l| alerts[l.alert].first_seen).min();
        sqlx::query(
            "INSERT INTO incidents (id, org_id, title, description, severity, status, rsit_type, tlp, pap, \
             occurred_at, detected_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'new', $6, $7, $8, $9, $10, $10, $10)",
        )
        .bind(&inc.id)
        .bind(org)
        .bind(&inc.title)
        .bind(format!("Opened by correlation ({}).", inc.reason))
        .bind(&inc.severity)
        .bind(inc.rsit_type.clone())
        .bind(inc.tlp.as_str())
        .bind(&inc.pap)
        .bind(occurred)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        markings.insert(inc.id.clone(), (inc.tlp.as_str().to_owned(), inc.pap.clone()));
    }
    let backend = backend_of(tx);
    for chunk in links.chunks(rows_per_statement(backend, 3, ROWS)) {
        let mut sql = String::from("INSERT INTO incident_alerts (incident_id, alert_id, reason) VALUES ");
        Params::new(backend).rows(&mut sql, chunk.len(), 3, "");
        sql.push_str(" ON CONFLICT (incident_id, alert_id) DO NOTHING");
        let mut q = sqlx::query(&sql);
        for l in chunk {
            q = q.bind(l.incident.as_str()).bind(ids[&l.alert]).bind(l.reason.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    let t_links = t0.elapsed();
    // Each incident gains the observables of its new alerts, once per (kind, value).
    let mut gained: BTreeMap<(&str, &str, &str), &str> = BTreeMap::new();
    for l in &links {
        for (kind, value) in &alerts[l.alert].observables {
            gained.entry((l.incident.as_str(), kind.as_str(), value.as_str())).or_insert(ids[&l.alert]);
        }
    }
    let gained: Vec<_> = gained.into_iter().collect();
    for chunk in gained.chunks(rows_per_statement(backend, 9, ROWS)) {
        let mut sql = String::from(
            "INSERT INTO incident_observables (id, incident_id, org_id, kind, value, tlp, pap, source, created_at, ioc, sighted) VALUES ",
        );
        Params::new(backend).rows(&mut sql, chunk.len(), 9, ", 0, 0");
        sql.push_str(" ON CONFLICT (incident_id, kind, value) DO NOTHING");
        let mut q = sqlx::query(&sql);
        for ((incident, kind, value), source) in chunk {
            let (tlp, pap) =
                markings.get(*incident).cloned().unwrap_or_else(|| ("TLP:AMBER".into(), "PAP:AMBER".into()));
            q = q
                .bind(format!("observable--{}", uuid::Uuid::now_v7()))
                .bind(*incident)
                .bind(org)
                .bind(*kind)
                .bind(*value)
                .bind(tlp)
                .bind(pap)
                .bind(*source)
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    // The keys that are not observables, kept by each incident for later batches.
    let mut kept_keys: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    for l in &links {
        for (kind, value) in kept.get(l.alert).map_or(&[][..], Vec::as_slice) {
            kept_keys.insert((l.incident.as_str(), kind.as_str(), value.as_str()));
        }
    }
    let kept_keys: Vec<_> = kept_keys.into_iter().collect();
    for chunk in kept_keys.chunks(rows_per_statement(backend, 5, ROWS)) {
        let mut sql = String::from("INSERT INTO incident_keys (incident_id, org_id, kind, value, created_at) VALUES ");
        Params::new(backend).rows(&mut sql, chunk.len(), 5, "");
        sql.push_str(" ON CONFLICT (incident_id, kind, value) DO NOTHING");
        let mut q = sqlx::query(&sql);
        for (incident, kind, value) in chunk {
            q = q.bind(*incident).bind(org).bind(*kind).bind(*value).bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    let t_obs = t0.elapsed();
    // The timeline: the opening, then per incident and reason the alerts linked.
    let mut entries: Vec<(String, &'static str, String)> = opened
        .iter()
        .map(|inc| (inc.id.clone(), "created", format!("opened by correlation: {} ({})", inc.title, inc.reason)))
        .collect();
    let mut by_reason: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for l in &links {
        by_reason.entry((l.incident.as_str(), l.reason.as_str())).or_default().push(ids[&l.alert]);
    }
    for ((incident, reason), alert_ids) in &by_reason {
        let text = match alert_ids.as_slice() {
            [one] => format!("linked {one} ({reason})"),
            many => format!("linked {} alerts ({reason})", many.len()),
        };
        entries.push(((*incident).to_owned(), "alert", text));
    }
    for chunk in entries.chunks(rows_per_statement(backend, 6, ROWS)) {
        let mut sql = String::from("INSERT INTO incident_timeline (id, incident_id, at, actor, kind, text) VALUES ");
        Params::new(backend).rows(&mut sql, chunk.len(), 6, "");
        let mut q = sqlx::query(&sql);
        for (incident, kind, text) in chunk {
            q = q
                .bind(format!("timeline--{}", uuid::Uuid::now_v7()))
                .bind(incident.as_str())
                .bind(now)
                .bind("correlation")
                .bind(*kind)
                .bind(text.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    let t_timeline = t0.elapsed();
    let fresh: BTreeSet<&str> = opened.iter().map(|i| i.id.as_str()).collect();
    let touched: BTreeSet<&str> = links.iter().map(|l| l.incident.as_str()).filter(|i| !fresh.contains(i)).collect();
    for incident in touched {
        sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(incident)
            .execute(&mut **tx)
            .await?;
    }
    tracing::debug!(
        links = links.len(),
        links_us = t_links.as_micros(),
        observables_us = (t_obs - t_links).as_micros(),
        timeline_us = (t_timeline - t_obs).as_micros(),
        touched_us = (t0.elapsed() - t_timeline).as_micros(),
        "correlation written"
    );
    Ok(())
}
