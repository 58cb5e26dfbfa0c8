//! The work on an incident: edits of its summary, tasks, comments,
//! observables, linked alerts and merging. Each change is written with its
//! timeline entry in one transaction and bumps the incident's `updated_at`,
//! which is what optimistic concurrency compares.

use muster_core::incident_work::{
    MergeSide, Severity, TaskStatus, check_observable_tlp, merge, observable_tlp_after_incident_change,
};
use muster_core::taxonomy::NisRootCause;
use muster_core::{OrgId, Pap, Tlp, UserId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::Backend;
use crate::incidents::{COLUMNS, IncidentObservable, IncidentRow, LinkTarget, link_alert, row_to_incident, timeline};
use crate::{Result, Store, StoreError, from_ms, now_ms, parse_col, to_ms};

pub(crate) type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Changes to an incident's summary; `None` leaves a field as it is, and
/// `Some(None)` clears a field that may be empty.
#[derive(Debug, Clone, Default)]
pub struct IncidentChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub severity: Option<Severity>,
    pub rsit_type: Option<Option<String>>,
    pub nis_root_cause: Option<Option<NisRootCause>>,
    pub assignee: Option<Option<UserId>>,
    pub tlp: Option<Tlp>,
    pub pap: Option<Pap>,
    /// Marks the incident reported (the first time only).
    pub reported: bool,
}

/// A task of an incident.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    pub id: String,
    pub incident_id: String,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub assignee: Option<UserId>,
    /// `YYYY-MM-DD`.
    pub due_date: Option<String>,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

/// A task to add.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub title: String,
    pub description: String,
    pub assignee: Option<UserId>,
    pub due_date: Option<String>,
}

/// Changes to a task.
#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub assignee: Option<Option<UserId>>,
    pub due_date: Option<Option<String>>,
}

/// An analyst's comment. Comments are not edited: the incident record is
/// evidence, so a correction is a new comment.
#[derive(Debug, Clone, Serialize)]
pub struct CommentRow {
    pub id: String,
    pub incident_id: String,
    pub author: String,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// An observable to add by hand (kind and value already validated).
#[derive(Debug, Clone)]
pub struct NewObservable {
    pub kind: String,
    pub value: String,
    pub ioc: bool,
    pub sighted: bool,
    /// Defaults to the incident's.
    pub tlp: Option<Tlp>,
    pub pap: Option<Pap>,
}

/// Changes to an observable's flags and markings.
#[derive(Debug, Clone, Default)]
pub struct ObservableChanges {
    pub ioc: Option<bool>,
    pub sighted: Option<bool>,
    pub tlp: Option<Tlp>,
    pub pap: Option<Pap>,
}

/// What a merge moved.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Merged {
    pub alerts: u64,
    pub observables: u64,
    pub tasks: u64,
    pub comments: u64,
    pub attachments: u64,
}

const TASK_COLUMNS: &str =
    "id, incident_id, title, description, status, assignee_id, due_date, created_by, created_at, updated_at";

fn row_to_task(r: &AnyRow) -> Result<TaskRow> {
    Ok(TaskRow {
        id: r.try_get("id")?,
        incident_id: r.try_get("incident_id")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        status: parse_col("status", &r.try_get::<String, _>("status")?)?,
        assignee: r.try_get::<Option<String>, _>("assignee_id")?.map(|a| parse_col("assignee_id", &a)).transpose()?,
        due_date: r.try_get("due_date")?,
        created_by: r.try_get("created_by")?,
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

fn row_to_comment(r: &AnyRow) -> Result<CommentRow> {
    Ok(CommentRow {
        id: r.try_get("id")?,
        incident_id: r.try_get("incident_id")?,
        author: r.try_get("author")?,
        text: r.try_get("text")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

fn row_to_observable(r: &AnyRow) -> Result<IncidentObservable> {
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
}

const OBSERVABLE_COLUMNS: &str = "id, org_id, kind, value, ioc, sighted, tlp, pap, source";

/// The incident as read inside `tx`.
pub(crate) async fn load(tx: &mut Tx<'_>, id: &str) -> Result<IncidentRow> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    row_to_incident(&row)
}

/// Marks the incident changed now; `updated_at` always moves forward, so two
/// changes in one millisecond still compare different.
pub(crate) async fn touch(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    let n = sqlx::query(
        "UPDATE incidents SET updated_at = CASE WHEN updated_at >= $1 THEN updated_at + 1 ELSE $1 END WHERE id = $2",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound(format!("incident {id}")));
    }
    Ok(())
}

/// Fails unless `user` is an active (not disabled) member of `org`, by home organisation or membership.
pub(crate) async fn check_member(tx: &mut Tx<'_>, field: &str, user: UserId, org: OrgId) -> Result<String> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT u.username FROM users u WHERE u.id = $1 AND u.disabled = 0 AND (u.org_id = $2 OR EXISTS \
         (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.org_id = $2))",
    )
    .bind(user.uuid().to_string())
    .bind(org.uuid().to_string())
    .fetch_optional(&mut **tx)
    .await?;
    name.ok_or_else(|| {
        StoreError::Invalid(format!("{field}: {user} is not an active member of the incident's organisation"))
    })
}

async fn username(tx: &mut Tx<'_>, user: Option<&str>) -> Result<String> {
    let Some(u) = user else { return Ok("nobody".into()) };
    let name: Option<String> =
        sqlx::query_scalar("SELECT username FROM users WHERE id = $1").bind(u).fetch_optional(&mut **tx).await?;
    Ok(name.unwrap_or_else(|| u.to_owned()))
}

fn show(v: Option<&str>) -> &str {
    v.unwrap_or("none")
}

impl Store {
    /// Serialises SQLite writers that read first (see `write_gate`).
    pub(crate) async fn gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.backend() == Backend::Sqlite { Some(self.write_gate.lock().await) } else { None }
    }

    /// Changes an incident's summary: one timeline entry per changed field
    /// ("old → new"). `expected_updated_at` (ms) is the version the caller
    /// read; when someone changed the incident since, nothing is written.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] on a concurrent change, [`StoreError::Invalid`]
    /// for an assignee who is not an active member of the organisation,
    /// [`StoreError::NotFound`].
    pub async fn update_incident(
        &self,
        id: &str,
        expected_updated_at: Option<i64>,
        ch: &IncidentChanges,
        actor: &str,
    ) -> Result<IncidentRow> {
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let cur = load(&mut tx, id).await?;
        let read_at = to_ms(cur.updated_at);
        if let Some(e) = expected_updated_at
            && e != read_at
        {
            return Err(conflict(id));
        }
        let mut next = cur.clone();
        let mut entries: Vec<String> = Vec::new();
        if let Some(t) = &ch.title
            && t.trim() != cur.title
        {
            entries.push(format!("title: {} → {}", cur.title, t.trim()));
            next.title = t.trim().to_owned();
        }
        if let Some(d) = &ch.description
            && *d != cur.description
        {
            entries.push("description changed".into());
            next.description.clone_from(d);
        }
        if let Some(s) = ch.severity
            && s.as_str() != cur.severity
        {
            entries.push(format!("severity: {} → {s}", cur.severity));
            next.severity = s.as_str().to_owned();
        }
        if let Some(r) = &ch.rsit_type
            && *r != cur.rsit_type
        {
            entries.push(format!("RSIT type: {} → {}", show(cur.rsit_type.as_deref()), show(r.as_deref())));
            next.rsit_type.clone_from(r);
        }
        if let Some(n) = ch.nis_root_cause {
            let n = n.map(|n| n.as_str().to_owned());
            if n != cur.nis_root_cause {
                entries.push(format!(
                    "NIS root cause: {} → {}",
                    show(cur.nis_root_cause.as_deref()),
                    show(n.as_deref())
                ));
                next.nis_root_cause = n;
            }
        }
        if let Some(a) = ch.assignee {
            let a_s = a.map(|u| u.uuid().to_string());
            if a_s != cur.assignee {
                let new_name = match a {
                    Some(u) => check_member(&mut tx, "assignee_id", u, cur.org).await?,
                    None => "nobody".into(),
                };
                let old_name = username(&mut tx, cur.assignee.as_deref()).await?;
                entries.push(format!("assignee: {old_name} → {new_name}"));
                next.assignee = a_s;
            }
        }
        if let Some(t) = ch.tlp
            && t != cur.tlp
        {
            entries.push(format!("TLP: {} → {t}", cur.tlp));
            next.tlp = t;
        }
        if let Some(p) = ch.pap
            && p.as_str() != cur.pap
        {
            entries.push(format!("PAP: {} → {p}", cur.pap));
            next.pap = p.as_str().to_owned();
        }
        if ch.reported && cur.lifecycle.milestones.reported_at.is_none() {
            next.lifecycle.mark_reported(time::OffsetDateTime::now_utc());
            entries.push("marked reported".into());
        }
        if entries.is_empty() {
            return Ok(cur);
        }
        let n = sqlx::query(
            "UPDATE incidents SET title = $1, description = $2, severity = $3, rsit_type = $4, nis_root_cause = $5, \
             assignee_id = $6, tlp = $7, pap = $8, reported_at = $9 WHERE id = $10 AND updated_at = $11",
        )
        .bind(&next.title)
        .bind(&next.description)
        .bind(&next.severity)
        .bind(next.rsit_type.clone())
        .bind(next.nis_root_cause.clone())
        .bind(next.assignee.clone())
        .bind(next.tlp.as_str())
        .bind(&next.pap)
        .bind(next.lifecycle.milestones.reported_at.map(to_ms))
        .bind(id)
        .bind(read_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(conflict(id));
        }
        touch(&mut tx, id).await?;
        if next.tlp != cur.tlp {
            // Observables may narrow their incident's marking, never widen it.
            let obs = sqlx::query("SELECT id, tlp FROM incident_observables WHERE incident_id = $1")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            for o in obs {
                let was: Tlp = parse_col("tlp", &o.try_get::<String, _>("tlp")?)?;
                let now = observable_tlp_after_incident_change(next.tlp, was);
                if now != was {
                    sqlx::query("UPDATE incident_observables SET tlp = $1 WHERE id = $2")
                        .bind(now.as_str())
                        .bind(o.try_get::<String, _>("id")?)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        for e in &entries {
            timeline(&mut tx, id, actor, "edit", e).await?;
        }
        let out = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Adds a task (its assignee, if any, an active member of the organisation).
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Invalid`] for the assignee.
    pub async fn add_task(&self, incident: &str, new: &NewTask, actor: &str) -> Result<TaskRow> {
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let inc = load(&mut tx, incident).await?;
        let id = insert_task(&mut tx, &inc, new, actor).await?;
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM incident_tasks WHERE id = $1"))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        row_to_task(&row)
    }

    /// Changes a task of `incident`; each changed field lands on the timeline.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for a task that is not the incident's, [`StoreError::Invalid`] for the assignee.
    pub async fn update_task(&self, incident: &str, task: &str, ch: &TaskChanges, actor: &str) -> Result<TaskRow> {
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let inc = load(&mut tx, incident).await?;
        let cur = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM incident_tasks WHERE id = $1 AND incident_id = $2"))
            .bind(task)
            .bind(incident)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("task {task} of incident {incident}")))?;
        let cur = row_to_task(&cur)?;
        let mut next = cur.clone();
        let mut entries = Vec::new();
        if let Some(t) = &ch.title
            && t.trim() != cur.title
        {
            entries.push(format!("task \"{}\" renamed to \"{}\"", cur.title, t.trim()));
            next.title = t.trim().to_owned();
        }
        if let Some(d) = &ch.description
            && *d != cur.description
        {
            entries.push(format!("task \"{}\": description changed", next.title));
            next.description.clone_from(d);
        }
        if let Some(s) = ch.status
            && s != cur.status
        {
            entries.push(format!("task \"{}\": {} → {s}", next.title, cur.status));
            next.status = s;
        }
        if let Some(a) = ch.assignee
            && a != cur.assignee
        {
            let new_name = match a {
                Some(u) => check_member(&mut tx, "assignee_id", u, inc.org).await?,
                None => "nobody".into(),
            };
            entries.push(format!("task \"{}\": assigned to {new_name}", next.title));
            next.assignee = a;
        }
        if let Some(d) = &ch.due_date
            && *d != cur.due_date
        {
            entries.push(format!("task \"{}\": due {}", next.title, show(d.as_deref())));
            next.due_date.clone_from(d);
        }
        if entries.is_empty() {
            return Ok(cur);
        }
        let now = now_ms();
        sqlx::query(
            "UPDATE incident_tasks SET title = $1, description = $2, status = $3, assignee_id = $4, due_date = $5, \
             updated_at = $6 WHERE id = $7",
        )
        .bind(&next.title)
        .bind(&next.description)
        .bind(next.status.as_str())
        .bind(next.assignee.map(|u| u.uuid().to_string()))
        .bind(next.due_date.clone())
        .bind(now)
        .bind(task)
        .execute(&mut *tx)
        .await?;
        touch(&mut tx, incident).await?;
        for e in &entries {
            timeline(&mut tx, incident, actor, "task", e).await?;
        }
        tx.commit().await?;
        next.updated_at = from_ms(now);
        Ok(next)
    }

    /// The tasks of an incident, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_tasks(&self, incident: &str) -> Result<Vec<TaskRow>> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM incident_tasks WHERE incident_id = $1 ORDER BY created_at, id"
        ))
        .bind(incident)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(row_to_task)
        .collect()
    }

    /// Adds an analyst's comment; it also lands on the timeline.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn add_comment(&self, incident: &str, author: &str, text: &str) -> Result<CommentRow> {
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let inc = load(&mut tx, incident).await?;
        let id = format!("comment--{}", uuid::Uuid::now_v7());
        let now = now_ms();
        sqlx::query(
            "INSERT INTO incident_comments (id, incident_id, org_id, author, text, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(incident)
        .bind(inc.org.uuid().to_string())
        .bind(author)
        .bind(text)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        touch(&mut tx, incident).await?;
        timeline(&mut tx, incident, author, "comment", text).await?;
        tx.commit().await?;
        Ok(CommentRow {
            id,
            incident_id: incident.to_owned(),
            author: author.to_owned(),
            text: text.to_owned(),
            created_at: from_ms(now),
        })
    }

    /// The comments of an incident, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_comments(&self, incident: &str) -> Result<Vec<CommentRow>> {
        sqlx::query(
            "SELECT id, incident_id, author, text, created_at FROM incident_comments WHERE incident_id = $1 \
             ORDER BY created_at, id",
        )
        .bind(incident)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(row_to_comment)
        .collect()
    }

    /// Adds an observable by hand (source `analyst`). Its TLP defaults to the
    /// incident's and may only be as or more restrictive.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the incident has it already, [`StoreError::Invalid`] for the TLP.
    pub async fn add_observable(&self, incident: &str, new: &NewObservable, actor: &str) -> Result<IncidentObservable> {
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let inc = load(&mut tx, incident).await?;
        let tlp = new.tlp.unwrap_or(inc.tlp);
        check_observable_tlp(inc.tlp, tlp).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let pap = new.pap.map_or_else(|| inc.pap.clone(), |p| p.as_str().to_owned());
        let id = format!("observable--{}", uuid::Uuid::now_v7());
        sqlx::query(
            "INSERT INTO incident_observables (id, incident_id, org_id, kind, value, ioc, sighted, tlp, pap, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'analyst', $10)",
        )
        .bind(&id)
        .bind(incident)
        .bind(inc.org.uuid().to_string())
        .bind(&new.kind)
        .bind(&new.value)
        .bind(i64::from(new.ioc))
        .bind(i64::from(new.sighted))
        .bind(tlp.as_str())
        .bind(&pap)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_insert(e, &format!("observable {} {}", new.kind, new.value)))?;
        touch(&mut tx, incident).await?;
        timeline(&mut tx, incident, actor, "observable", &format!("added {} {}", new.kind, new.value)).await?;
        let row = sqlx::query(&format!("SELECT {OBSERVABLE_COLUMNS} FROM incident_observables WHERE id = $1"))
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        row_to_observable(&row)
    }

    /// Marks an observable (IoC, sighted) or changes its markings.
    ///
    /// # Errors
    /// [`StoreError::NotFound`], [`StoreError::Invalid`] for a TLP wider than the incident's.
    pub async fn update_observable(
        &self,
        incident: &str,
        observable: &str,
        ch: &ObservableChanges,
        actor: &str,
    ) -> Result<IncidentObservable> {
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let inc = load(&mut tx, incident).await?;
        let row = sqlx::query(&format!(
            "SELECT {OBSERVABLE_COLUMNS} FROM incident_observables WHERE id = $1 AND incident_id = $2"
        ))
        .bind(observable)
        .bind(incident)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("observable {observable} of incident {incident}")))?;
        let cur = row_to_observable(&row)?;
        let mut next = cur.clone();
        let mut changes = Vec::new();
        let flag = |b: bool| if b { "yes" } else { "no" };
        if let Some(v) = ch.ioc
            && v != cur.ioc
        {
            changes.push(format!("IoC {} → {}", flag(cur.ioc), flag(v)));
            next.ioc = v;
        }
        if let Some(v) = ch.sighted
            && v != cur.sighted
        {
            changes.push(format!("sighted {} → {}", flag(cur.sighted), flag(v)));
            next.sighted = v;
        }
        if let Some(t) = ch.tlp
            && t != cur.tlp
        {
            check_observable_tlp(inc.tlp, t).map_err(|e| StoreError::Invalid(e.to_string()))?;
            changes.push(format!("{} → {t}", cur.tlp));
            next.tlp = t;
        }
        if let Some(p) = ch.pap
            && p.as_str() != cur.pap
        {
            changes.push(format!("{} → {p}", cur.pap));
            next.pap = p.as_str().to_owned();
        }
        if changes.is_empty() {
            return Ok(cur);
        }
        sqlx::query("UPDATE incident_observables SET ioc = $1, sighted = $2, tlp = $3, pap = $4 WHERE id = $5")
            .bind(i64::from(next.ioc))
            .bind(i64::from(next.sighted))
            .bind(next.tlp.as_str())
            .bind(&next.pap)
            .bind(observable)
            .execute(&mut *tx)
            .await?;
        touch(&mut tx, incident).await?;
        let text = format!("{} {}: {}", cur.kind, cur.value, changes.join(", "));
        timeline(&mut tx, incident, actor, "observable", &text).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Links further alerts of the incident's organisation; returns how many were new links.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] naming an alert that is not the organisation's; nothing is linked then.
    pub async fn link_alerts(&self, incident: &str, alerts: &[String], actor: &str) -> Result<u64> {
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let inc = load(&mut tx, incident).await?;
        let org_s = inc.org.uuid().to_string();
        let mut linked = 0;
        for a in alerts {
            let mine: Option<String> = sqlx::query_scalar("SELECT id FROM alerts WHERE id = $1 AND org_id = $2")
                .bind(a)
                .bind(&org_s)
                .fetch_optional(&mut *tx)
                .await?;
            if mine.is_none() {
                return Err(StoreError::NotFound(format!("alert_ids: alert {a}")));
            }
            let before: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM incident_alerts WHERE incident_id = $1 AND alert_id = $2")
                    .bind(incident)
                    .bind(a)
                    .fetch_one(&mut *tx)
                    .await?;
            if before == 0 {
                let target = LinkTarget { incident, org: &org_s, tlp: inc.tlp.as_str(), pap: &inc.pap };
                link_alert(self, &mut tx, &target, a, None, actor).await?;
                linked += 1;
            }
        }
        if linked > 0 {
            touch(&mut tx, incident).await?;
        }
        tx.commit().await?;
        Ok(linked)
    }

    /// Unlinks an alert. Observables copied from it stay (an analyst may have
    /// flagged them); the alert goes back to `new` when no incident links it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the alert is not linked to the incident.
    pub async fn unlink_alert(&self, incident: &str, alert: &str, actor: &str) -> Result<()> {
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM incident_alerts WHERE incident_id = $1 AND alert_id = $2")
            .bind(incident)
            .bind(alert)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("alert {alert} linked to incident {incident}")));
        }
        let others: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incident_alerts WHERE alert_id = $1")
            .bind(alert)
            .fetch_one(&mut *tx)
            .await?;
        if others == 0 {
            sqlx::query("UPDATE alerts SET status = 'new' WHERE id = $1").bind(alert).execute(&mut *tx).await?;
        }
        touch(&mut tx, incident).await?;
        timeline(&mut tx, incident, actor, "alert", &format!("unlinked {alert}")).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Merges incident `source` into `target` (same organisation): its alerts,
    /// observables (flags combined, the stricter TLP kept), tasks, comments and
    /// attachments move; `source` is closed as a duplicate; both timelines
    /// point at each other. All in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] naming the merge rule broken, [`StoreError::NotFound`].
    pub async fn merge_incidents(&self, target: &str, source: &str, actor: &str) -> Result<Merged> {
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let a = load(&mut tx, target).await?;
        let b = load(&mut tx, source).await?;
        let closed = merge(
            MergeSide { id: target, org: a.org, lifecycle: &a.lifecycle },
            MergeSide { id: source, org: b.org, lifecycle: &b.lifecycle },
            time::OffsetDateTime::now_utc(),
        )
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let alerts = sqlx::query(
            "INSERT INTO incident_alerts (incident_id, alert_id, reason) \
             SELECT $1, alert_id, reason FROM incident_alerts WHERE incident_id = $2 \
             ON CONFLICT (incident_id, alert_id) DO NOTHING",
        )
        .bind(target)
        .bind(source)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let mut m = Merged { alerts, ..Merged::default() };
        sqlx::query("DELETE FROM incident_alerts WHERE incident_id = $1").bind(source).execute(&mut *tx).await?;
        // The grouping keys move too, so later alerts sharing them join the target.
        sqlx::query(
            "INSERT INTO incident_keys (incident_id, org_id, kind, value, created_at) \
             SELECT $1, org_id, kind, value, created_at FROM incident_keys WHERE incident_id = $2 \
             ON CONFLICT (incident_id, kind, value) DO NOTHING",
        )
        .bind(target)
        .bind(source)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM incident_keys WHERE incident_id = $1").bind(source).execute(&mut *tx).await?;
        let theirs =
            sqlx::query(&format!("SELECT {OBSERVABLE_COLUMNS} FROM incident_observables WHERE incident_id = $1"))
                .bind(source)
                .fetch_all(&mut *tx)
                .await?;
        for row in &theirs {
            let o = row_to_observable(row)?;
            let ours = sqlx::query(&format!(
                "SELECT {OBSERVABLE_COLUMNS} FROM incident_observables WHERE incident_id = $1 AND kind = $2 AND value = $3"
            ))
            .bind(target)
            .bind(&o.kind)
            .bind(&o.value)
            .fetch_optional(&mut *tx)
            .await?;
            match ours {
                Some(ours) => {
                    let ours = row_to_observable(&ours)?;
                    sqlx::query("UPDATE incident_observables SET ioc = $1, sighted = $2, tlp = $3 WHERE id = $4")
                        .bind(i64::from(ours.ioc || o.ioc))
                        .bind(i64::from(ours.sighted || o.sighted))
                        .bind(ours.tlp.max(o.tlp).max(a.tlp).as_str())
                        .bind(&ours.id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM incident_observables WHERE id = $1").bind(&o.id).execute(&mut *tx).await?;
                }
                None => {
                    sqlx::query("UPDATE incident_observables SET incident_id = $1, tlp = $2 WHERE id = $3")
                        .bind(target)
                        .bind(observable_tlp_after_incident_change(a.tlp, o.tlp).as_str())
                        .bind(&o.id)
                        .execute(&mut *tx)
                        .await?;
                    m.observables += 1;
                }
            }
        }
        for (table, count) in [
            ("incident_tasks", &mut m.tasks),
            ("incident_comments", &mut m.comments),
            ("incident_attachments", &mut m.attachments),
        ] {
            *count = sqlx::query(&format!("UPDATE {table} SET incident_id = $1 WHERE incident_id = $2"))
                .bind(target)
                .bind(source)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        let n = sqlx::query(
            "UPDATE incidents SET status = $1, resolution = $2, closed_at = $3 WHERE id = $4 AND status = $5",
        )
        .bind(closed.status.as_str())
        .bind(closed.resolution.map(|r| r.as_str()))
        .bind(closed.milestones.closed_at.map(to_ms))
        .bind(source)
        .bind(b.lifecycle.status.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(conflict(source));
        }
        touch(&mut tx, source).await?;
        touch(&mut tx, target).await?;
        timeline(&mut tx, source, actor, "status", &format!("{} → closed (duplicate)", b.lifecycle.status)).await?;
        timeline(&mut tx, source, actor, "merge", &format!("merged into {target}")).await?;
        let text = format!(
            "merged {source} ({}) into this incident: {} alerts, {} observables, {} tasks, {} comments, {} attachments",
            b.title, m.alerts, m.observables, m.tasks, m.comments, m.attachments
        );
        timeline(&mut tx, target, actor, "merge", &text).await?;
        tx.commit().await?;
        Ok(m)
    }
}

/// Inserts a task with its timeline entry inside `tx`; returns its id.
pub(crate) async fn insert_task(tx: &mut Tx<'_>, inc: &IncidentRow, new: &NewTask, actor: &str) -> Result<String> {
    if let Some(u) = new.assignee {
        check_member(tx, "assignee_id", u, inc.org).await?;
    }
    let id = format!("task--{}", uuid::Uuid::now_v7());
    let now = now_ms();
    sqlx::query(
        "INSERT INTO incident_tasks (id, incident_id, org_id, title, description, status, assignee_id, due_date, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(&inc.id)
    .bind(inc.org.uuid().to_string())
    .bind(new.title.trim())
    .bind(&new.description)
    .bind(TaskStatus::Todo.as_str())
    .bind(new.assignee.map(|u| u.uuid().to_string()))
    .bind(new.due_date.clone())
    .bind(actor)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    touch(tx, &inc.id).await?;
    timeline(tx, &inc.id, actor, "task", &format!("task added: {}", new.title.trim())).await?;
    Ok(id)
}

fn conflict(id: &str) -> StoreError {
    StoreError::Conflict(format!(
        "incident {id} was changed by someone else since you read it; reload it, check the changes and try again"
    ))
}
