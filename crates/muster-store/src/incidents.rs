//! Incidents: opened from alerts, moved through their lifecycle (rules in
//! `muster_core::incident`), each change written with a timeline entry in the
//! same transaction.

use muster_core::incident::{IncidentStatus, Lifecycle, Milestones};
use muster_core::{OrgId, Tlp};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

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

const COLUMNS: &str = "id, org_id, title, description, severity, status, resolution, rsit_type, tlp, pap, \
                       occurred_at, detected_at, contained_at, closed_at, updated_at";

fn row_to_incident(row: &AnyRow) -> Result<IncidentRow> {
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
                contained_at: opt_time("contained_at")?,
                closed_at: opt_time("closed_at")?,
            },
        },
        rsit_type: row.try_get("rsit_type")?,
        tlp: parse_col("tlp", &row.try_get::<String, _>("tlp")?)?,
        pap: row.try_get("pap")?,
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

async fn timeline(
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

impl Store {
    /// Opens an incident for `org` from its alerts, marking them triaged.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] naming an alert that is not the organisation's; nothing is written then.
    pub async fn create_incident(&self, org: OrgId, new: &NewIncident, actor: &str) -> Result<IncidentRow> {
        let org_s = org.uuid().to_string();
        let id = format!("incident--{}", uuid::Uuid::now_v7());
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
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
            "INSERT INTO incidents ({COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11, NULL, NULL, $12, $13)"
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
        for a in &new.alert_ids {
            sqlx::query("INSERT INTO incident_alerts (incident_id, alert_id) VALUES ($1, $2) ON CONFLICT (incident_id, alert_id) DO NOTHING")
                .bind(&id)
                .bind(a)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE alerts SET status = 'triaged' WHERE id = $1").bind(a).execute(&mut *tx).await?;
            timeline(&mut tx, &id, actor, "alert", &format!("linked {a}")).await?;
        }
        tx.commit().await?;
        Ok(self.get_incident(&id).await?.0)
    }

    /// One incident with its alert ids and timeline (oldest first).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_incident(&self, id: &str) -> Result<(IncidentRow, Vec<String>, Vec<TimelineEntry>)> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
        let alerts =
            sqlx::query_scalar("SELECT alert_id FROM incident_alerts WHERE incident_id = $1 ORDER BY alert_id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
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
        Ok((row_to_incident(&row)?, alerts, entries))
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
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
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
}
