//! Incidents: opened from alerts, moved through their lifecycle (rules in
//! `muster_core::incident`), each change written with a timeline entry in the
//! same transaction.

use muster_core::incident::{IncidentStatus, Lifecycle, Milestones};
use muster_core::{OrgId, Tlp};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::alerts::CONTENT_COLUMNS;
use crate::{Result, Store, StoreError, from_ms, now_ms, parse_col, to_ms};

/// An incident to open.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub description: String,
    pub severity: String,
    pub tlp: Tlp,
    pub pap: String,
    pub rsit_type: Option<String>,
    /// Alerts of the same organisation it is opened from.
    pub alert_ids: Vec<String>,
}

/// A stored incident.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentRow {
    pub id: String,
    pub org: OrgId,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub lifecycle: Lifecycle,
    pub rsit_type: Option<String>,
    /// NIS root-cause category, once known.
    pub nis_root_cause: Option<String>,
    /// The user the incident is assigned to.
    pub assignee: Option<String>,
    pub tlp: Tlp,
    pub pap: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    pub actor: String,
    /// `created`, `alert`, `status`, `note`.
    pub kind: String,
    pub text: String,
}

pub(crate) const COLUMNS: &str = "id, org_id, title, description, severity, status, resolution, rsit_type, tlp, pap, \
                       occurred_at, detected_at, contained_at, closed_at, updated_at, \
                       reported_at, nis_root_cause, assignee_id";

pub(crate) fn row_to_incident(row: &AnyRow) -> Result<IncidentRow> {
    let opt_time =
        |c: &str| -> Result<Option<time::OffsetDateTime>> { Ok(row.try_get::<Option<i64>, _>(c)?.map(from_ms)) };
    Ok(IncidentRow {
        id: row.try_get("id")?,
        org: parse_col("org_id", &row.try_get::<String, _>("org_id")?)?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        severity: row.try_get("severity")?,
        lifecycle: Lifecycle {
            status: parse_col("status", &row.try_get::<String, _>("status")?)?,
            resolution: row
                .try_get::<Option<String>, _>("resolution")?
                .map(|r| parse_col("resolution", &r))
                .transpose()?,
            milestones: Milestones {
                occurred_at: opt_time("occurred_at")?,
                detected_at: from_ms(row.try_get("detected_at")?),
                reported_at: opt_time("reported_at")?,
                contained_at: opt_time("contained_at")?,
                closed_at: opt_time("closed_at")?,
            },
        },
        rsit_type: row.try_get("rsit_type")?,
        nis_root_cause: row.try_get("nis_root_cause")?,
        assignee: row.try_get("assignee_id")?,
        tlp: parse_col("tlp", &row.try_get::<String, _>("tlp")?)?,
        pap: row.try_get("pap")?,
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

pub(crate) async fn timeline(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    incident: &str,
    actor: &str,
    kind: &str,
    text: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_timeline (id, incident_id, at, actor, kind, text) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(format!("timeline--{}", uuid::Uuid::now_v7()))
    .bind(incident)
    .bind(now_ms())
    .bind(actor)
    .bind(kind)
    .bind(text)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An observable on an incident.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentObservable {
    pub id: String,
    /// The organisation of the incident.
    pub org: OrgId,
    pub kind: String,
    pub value: String,
    /// Marked as an indicator of compromise.
    pub ioc: bool,
    /// Seen in the organisation's own environment.
    pub sighted: bool,
    pub tlp: Tlp,
    pub pap: String,
    /// The alert it was copied from, or `analyst`.
    pub source: String,
}

/// The incident an alert is linked to, with what its copied observables inherit.
pub(crate) struct LinkTarget<'a> {
    pub incident: &'a str,
    pub org: &'a str,
    pub tlp: &'a str,
    pub pap: &'a str,
}

/// Links an alert (of the incident's organisation, checked by the caller) to
/// an incident inside `tx`: the link with its reason (`None` when an analyst
/// linked it), the alert marked triaged, its observables copied onto the
/// incident (existing ones kept), and a timeline entry.
pub(crate) async fn link_alert(
    store: &crate::Store,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    target: &LinkTarget<'_>,
    alert: &str,
    reason: Option<&str>,
    actor: &str,
) -> Result<()> {
    let n = sqlx::query(
        "INSERT INTO incident_alerts (incident_id, alert_id, reason) VALUES ($1, $2, $3) \
         ON CONFLICT (incident_id, alert_id) DO NOTHING",
    )
    .bind(target.incident)
    .bind(alert)
    .bind(reason)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(());
    }
    sqlx::query("UPDATE alerts SET status = 'triaged' WHERE id = $1").bind(alert).execute(&mut **tx).await?;
    let row = sqlx::query(&format!("SELECT {CONTENT_COLUMNS} FROM alerts WHERE id = $1"))
        .bind(alert)
        .fetch_optional(&mut **tx)
        .await?;
    let doc = match row {
        Some(r) => Some(store.content_of(tx, alert, &r).await?.doc),
        None => None,
    };
    let now = now_ms();
    for (kind, value) in doc.as_deref().map(alert_observables).unwrap_or_default() {
        sqlx::query(
            "INSERT INTO incident_observables (id, incident_id, org_id, kind, value, ioc, sighted, tlp, pap, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $7, $8, $9) ON CONFLICT (incident_id, kind, value) DO NOTHING",
        )
        .bind(format!("observable--{}", uuid::Uuid::now_v7()))
        .bind(target.incident)
        .bind(target.org)
        .bind(kind)
        .bind(value)
        .bind(target.tlp)
        .bind(target.pap)
        .bind(alert)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    let text = match reason {
        Some(r) => format!("linked {alert} ({r})"),
        None => format!("linked {alert}"),
    };
    timeline(tx, target.incident, actor, "alert", &text).await
}

/// The `(kind, value)` pairs of a stored alert document's `observables`.
fn alert_observables(doc: &str) -> Vec<(String, String)> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else { return Vec::new() };
    v.get("observables")
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|o| Some((o.get("kind")?.as_str()?.to_owned(), o.get("value")?.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

impl Store {
    /// Opens an incident for `org` from its alerts, marking them triaged.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] naming an alert that is not the organisation's; nothing is written then.
    pub async fn create_incident(&self, org: OrgId, new: &NewIncident, actor: &str) -> Result<IncidentRow> {
        let org_s = org.uuid().to_string();
        let id = format!("incident--{}", uuid::Uuid::now_v7());
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut occurred: Option<i64> = None;
        for a in &new.alert_ids {
            let first: Option<i64> = sqlx::query_scalar("SELECT first_seen FROM alerts WHERE id = $1 AND org_id = $2")
                .bind(a)
                .bind(&org_s)
                .fetch_optional(&mut *tx)
                .await?;
            let first = first.ok_or_else(|| StoreError::NotFound(format!("alert_ids: alert {a}")))?;
            occurred = Some(occurred.map_or(first, |o| o.min(first)));
        }
        sqlx::query(&format!(
            "INSERT INTO incidents ({COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11, NULL, NULL, $12, NULL, NULL, NULL, $13)"
        ))
        .bind(&id)
        .bind(&org_s)
        .bind(new.title.trim())
        .bind(&new.description)
        .bind(&new.severity)
        .bind(IncidentStatus::New.as_str())
        .bind(new.rsit_type.clone())
        .bind(new.tlp.as_str())
        .bind(&new.pap)
        .bind(occurred)
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        timeline(&mut tx, &id, actor, "created", &format!("opened: {}", new.title.trim())).await?;
        let target = LinkTarget { incident: &id, org: &org_s, tlp: new.tlp.as_str(), pap: &new.pap };
        for a in &new.alert_ids {
            link_alert(self, &mut tx, &target, a, None, actor).await?;
        }
        tx.commit().await?;
        Ok(self.get_incident(&id).await?.0)
    }

    /// One incident's row alone: what access checks need. An incident that
    /// correlation fed for a while links hundreds of thousands of alerts, which
    /// [`Store::get_incident`] would read in full.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn incident(&self, id: &str) -> Result<IncidentRow> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
        row_to_incident(&row)
    }

    /// How many alerts an incident links, and the ids of the newest `limit`
    /// of them older than `before` (an alert id; all when `None`), newest
    /// first (alert ids are time-ordered).
    ///
    /// # Errors
    /// Database errors.
    pub async fn newest_incident_alerts(
        &self,
        id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<(i64, Vec<String>)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incident_alerts WHERE incident_id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        let newest = sqlx::query_scalar(
            "SELECT alert_id FROM incident_alerts WHERE incident_id = $1 AND ($2 = '' OR alert_id < $2) \
             ORDER BY alert_id DESC LIMIT $3",
        )
        .bind(id)
        .bind(before.unwrap_or(""))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        Ok((total, newest))
    }

    /// One incident with all its alert ids (oldest first) and timeline (oldest first).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_incident(&self, id: &str) -> Result<(IncidentRow, Vec<String>, Vec<TimelineEntry>)> {
        let row = self.incident(id).await?;
        let alerts = self.incident_alert_ids(id).await?;
        let entries = self.incident_timeline(id).await?;
        Ok((row, alerts, entries))
    }

    /// Every alert id an incident links, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn incident_alert_ids(&self, id: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT alert_id FROM incident_alerts WHERE incident_id = $1 ORDER BY alert_id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// An incident's timeline, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn incident_timeline(&self, id: &str) -> Result<Vec<TimelineEntry>> {
        let entries =
            sqlx::query("SELECT at, actor, kind, text FROM incident_timeline WHERE incident_id = $1 ORDER BY at, id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(TimelineEntry {
                        at: from_ms(r.try_get("at")?),
                        actor: r.try_get("actor")?,
                        kind: r.try_get("kind")?,
                        text: r.try_get("text")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        Ok(entries)
    }

    /// Incidents that may be visible to a viewer of `org` (its own and
    /// TLP:CLEAR/GREEN ones), most recently changed first. Callers still gate each row.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_incidents(&self, org: OrgId, limit: i64) -> Result<Vec<IncidentRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM incidents WHERE org_id = $1 OR tlp IN ('TLP:CLEAR', 'TLP:GREEN') \
             ORDER BY updated_at DESC, id DESC LIMIT $2"
        ))
        .bind(org.uuid().to_string())
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_incident).collect()
    }

    /// Stores a lifecycle change made on `expected` (the status it was read
    /// in), with its timeline entry. Refused when someone changed it meanwhile.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the status is no longer `expected`.
    pub async fn save_lifecycle(&self, id: &str, expected: IncidentStatus, l: &Lifecycle, actor: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE incidents SET status = $1, resolution = $2, contained_at = $3, closed_at = $4, updated_at = $5 \
             WHERE id = $6 AND status = $7",
        )
        .bind(l.status.as_str())
        .bind(l.resolution.map(|r| r.as_str()))
        .bind(l.milestones.contained_at.map(to_ms))
        .bind(l.milestones.closed_at.map(to_ms))
        .bind(now_ms())
        .bind(id)
        .bind(expected.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!("incident {id} changed meanwhile; reload it and try again")));
        }
        let text = match l.resolution {
            Some(r) => format!("{expected} → {} ({r})", l.status),
            None => format!("{expected} → {}", l.status),
        };
        timeline(&mut tx, id, actor, "status", &text).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds an analyst's note to the timeline.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown incident.
    pub async fn add_incident_note(&self, id: &str, actor: &str, text: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("incident {id}")));
        }
        timeline(&mut tx, id, actor, "note", text).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The observables of an incident, by kind then value.
    ///
    /// # Errors
    /// Database errors.
    pub async fn incident_observables(&self, id: &str) -> Result<Vec<IncidentObservable>> {
        self.observables_of(id, "ORDER BY kind, value", i64::MAX).await
    }

    /// At most `limit` observables of an incident, IoCs first, then by kind and value.
    ///
    /// # Errors
    /// Database errors.
    pub async fn first_incident_observables(&self, id: &str, limit: i64) -> Result<Vec<IncidentObservable>> {
        self.observables_of(id, "ORDER BY ioc DESC, kind, value", limit).await
    }

    async fn observables_of(&self, id: &str, order: &str, limit: i64) -> Result<Vec<IncidentObservable>> {
        sqlx::query(&format!(
            "SELECT id, org_id, kind, value, ioc, sighted, tlp, pap, source FROM incident_observables \
             WHERE incident_id = $1 {order} LIMIT $2"
        ))
        .bind(id)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(IncidentObservable {
                id: r.try_get("id")?,
                org: parse_col("org_id", &r.try_get::<String, _>("org_id")?)?,
                kind: r.try_get("kind")?,
                value: r.try_get("value")?,
                ioc: r.try_get::<i64, _>("ioc")? != 0,
                sighted: r.try_get::<i64, _>("sighted")? != 0,
                tlp: parse_col("tlp", &r.try_get::<String, _>("tlp")?)?,
                pap: r.try_get("pap")?,
                source: r.try_get("source")?,
            })
        })
        .collect()
    }
}
