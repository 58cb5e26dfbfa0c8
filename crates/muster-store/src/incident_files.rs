//! Evidence attachments and incident templates.
//!
//! Attachments are content-addressed by SHA-256: the bytes are stored once
//! per distinct content in `attachment_blobs`, in the database on both
//! backends, so an attachment is committed (SQLite `synchronous=FULL` fsyncs
//! the commit), backed up (`muster backup`, `pg_dump`) and restored together
//! with the incident that names it, and no file can be orphaned or missing.
//! A blob is only ever read through an attachment row of an incident, so the
//! incident's marking governs who may download it.

use muster_core::OrgId;
use muster_core::incident_work::{BUILTIN_TEMPLATES, Severity, builtin_template};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::incident_work::{NewTask, insert_task, load, touch};
use crate::incidents::timeline;
use crate::{Result, Store, StoreError, from_ms, now_ms, parse_col};

/// An attachment of an incident (without its content).
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentRow {
    pub id: String,
    pub incident_id: String,
    pub filename: String,
    pub size: i64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    pub uploaded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// One predefined task of a template.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TemplateTask {
    pub title: String,
    #[serde(default)]
    pub description: String,
}

/// An incident template: built in (no organisation) or an organisation's own.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateRow {
    pub id: String,
    /// `None` for the built-in templates every organisation has.
    pub org: Option<OrgId>,
    pub name: String,
    pub description: String,
    pub severity: Severity,
    pub rsit_type: Option<String>,
    pub tasks: Vec<TemplateTask>,
}

/// A template to create.
#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub name: String,
    pub description: String,
    pub severity: Severity,
    pub rsit_type: Option<String>,
    pub tasks: Vec<TemplateTask>,
}

const ATTACHMENT_COLUMNS: &str = "id, incident_id, filename, size, sha256, uploaded_by, created_at";

fn row_to_attachment(r: &AnyRow) -> Result<AttachmentRow> {
    Ok(AttachmentRow {
        id: r.try_get("id")?,
        incident_id: r.try_get("incident_id")?,
        filename: r.try_get("filename")?,
        size: r.try_get("size")?,
        sha256: r.try_get("sha256")?,
        uploaded_by: r.try_get("uploaded_by")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

fn row_to_template(r: &AnyRow) -> Result<TemplateRow> {
    let tasks: String = r.try_get("tasks")?;
    Ok(TemplateRow {
        id: r.try_get("id")?,
        org: Some(parse_col("org_id", &r.try_get::<String, _>("org_id")?)?),
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        severity: parse_col("severity", &r.try_get::<String, _>("severity")?)?,
        rsit_type: r.try_get("rsit_type")?,
        tasks: serde_json::from_str(&tasks).map_err(|e| StoreError::Corrupt(format!("tasks: {e}")))?,
    })
}

fn builtin_rows() -> impl Iterator<Item = TemplateRow> {
    BUILTIN_TEMPLATES.iter().map(|t| TemplateRow {
        id: t.id.to_owned(),
        org: None,
        name: t.name.to_owned(),
        description: t.description.to_owned(),
        severity: t.severity,
        rsit_type: Some(t.rsit_type.to_owned()),
        tasks: t
            .tasks
            .iter()
            .map(|(title, d)| TemplateTask { title: (*title).to_owned(), description: (*d).to_owned() })
            .collect(),
    })
}

impl Store {
    /// Stores an attachment: the content once per SHA-256, the attachment row,
    /// a timeline entry; durable when this returns.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for the incident.
    pub async fn add_attachment(
        &self,
        incident: &str,
        filename: &str,
        content: &[u8],
        actor: &str,
    ) -> Result<AttachmentRow> {
        let sha = hex::encode(Sha256::digest(content));
        let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let inc = load(&mut tx, incident).await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO attachment_blobs (sha256, size, created_at, content) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&sha)
        .bind(size)
        .bind(now)
        .bind(content.to_vec())
        .execute(&mut *tx)
        .await?;
        let id = format!("attachment--{}", uuid::Uuid::now_v7());
        sqlx::query(
            "INSERT INTO incident_attachments (id, incident_id, org_id, sha256, filename, size, uploaded_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(incident)
        .bind(inc.org.uuid().to_string())
        .bind(&sha)
        .bind(filename)
        .bind(size)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        touch(&mut tx, incident).await?;
        timeline(&mut tx, incident, actor, "attachment", &format!("attached {filename} ({size} bytes, sha256 {sha})"))
            .await?;
        tx.commit().await?;
        Ok(AttachmentRow {
            id,
            incident_id: incident.to_owned(),
            filename: filename.to_owned(),
            size,
            sha256: sha,
            uploaded_by: actor.to_owned(),
            created_at: from_ms(now),
        })
    }

    /// The attachments of an incident, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_attachments(&self, incident: &str) -> Result<Vec<AttachmentRow>> {
        sqlx::query(&format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM incident_attachments WHERE incident_id = $1 ORDER BY created_at, id"
        ))
        .bind(incident)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(row_to_attachment)
        .collect()
    }

    /// One attachment of `incident` with its content.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the incident has no such attachment.
    pub async fn get_attachment(&self, incident: &str, id: &str) -> Result<(AttachmentRow, Vec<u8>)> {
        let row = sqlx::query(
            "SELECT a.id, a.incident_id, a.filename, a.size, a.sha256, a.uploaded_by, a.created_at, b.content \
             FROM incident_attachments a JOIN attachment_blobs b ON b.sha256 = a.sha256 \
             WHERE a.id = $1 AND a.incident_id = $2",
        )
        .bind(id)
        .bind(incident)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("attachment {id} of incident {incident}")))?;
        let content = row.try_get::<Option<Vec<u8>>, _>("content")?.unwrap_or_default();
        Ok((row_to_attachment(&row)?, content))
    }

    /// Creates a template of `org`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the organisation has a template of that name.
    pub async fn create_template(&self, org: OrgId, new: &NewTemplate) -> Result<TemplateRow> {
        let id = format!("template--{}", uuid::Uuid::now_v7());
        let tasks = serde_json::to_string(&new.tasks).map_err(|e| StoreError::Invalid(format!("tasks: {e}")))?;
        sqlx::query(
            "INSERT INTO incident_templates (id, org_id, name, description, severity, rsit_type, tasks, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(org.uuid().to_string())
        .bind(new.name.trim())
        .bind(&new.description)
        .bind(new.severity.as_str())
        .bind(new.rsit_type.clone())
        .bind(tasks)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, &format!("template {:?}", new.name.trim())))?;
        self.get_template(&id).await
    }

    /// The built-in templates, then `org`'s own by name.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_templates(&self, org: OrgId) -> Result<Vec<TemplateRow>> {
        let rows = sqlx::query(
            "SELECT id, org_id, name, description, severity, rsit_type, tasks FROM incident_templates \
             WHERE org_id = $1 ORDER BY name",
        )
        .bind(org.uuid().to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<TemplateRow> = builtin_rows().collect();
        for r in &rows {
            out.push(row_to_template(r)?);
        }
        Ok(out)
    }

    /// One template, built in or stored.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_template(&self, id: &str) -> Result<TemplateRow> {
        if builtin_template(id).is_some() {
            return builtin_rows().find(|t| t.id == id).ok_or_else(|| StoreError::NotFound(format!("template {id}")));
        }
        let row = sqlx::query(
            "SELECT id, org_id, name, description, severity, rsit_type, tasks FROM incident_templates WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("template {id}")))?;
        row_to_template(&row)
    }

    /// Applies a template (built in, or of the incident's organisation) to an
    /// incident: adds its tasks, and its RSIT type when the incident has none.
    /// Returns how many tasks were added.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown template or another organisation's.
    pub async fn apply_template(&self, incident: &str, template: &str, actor: &str) -> Result<usize> {
        let t = self.get_template(template).await?;
        let _gate = self.gate().await;
        let mut tx = self.begin_write().await?;
        let inc = load(&mut tx, incident).await?;
        if t.org.is_some_and(|o| o != inc.org) {
            return Err(StoreError::NotFound(format!("template_id: template {template}")));
        }
        for task in &t.tasks {
            let new =
                NewTask { title: task.title.clone(), description: task.description.clone(), ..NewTask::default() };
            insert_task(&mut tx, &inc, &new, actor).await?;
        }
        if inc.rsit_type.is_none()
            && let Some(r) = &t.rsit_type
        {
            sqlx::query("UPDATE incidents SET rsit_type = $1 WHERE id = $2")
                .bind(r)
                .bind(incident)
                .execute(&mut *tx)
                .await?;
            timeline(&mut tx, incident, actor, "edit", &format!("RSIT type: none → {r}")).await?;
        }
        touch(&mut tx, incident).await?;
        timeline(
            &mut tx,
            incident,
            actor,
            "template",
            &format!("applied template {} ({} tasks)", t.name, t.tasks.len()),
        )
        .await?;
        tx.commit().await?;
        Ok(t.tasks.len())
    }
}
