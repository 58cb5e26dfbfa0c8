//! CACAO playbooks: the per-organisation library (every imported version
//! kept), runs and their execution-status records, analysts' manual tasks,
//! automation rules and the runs they propose.
//!
//! The store keeps what it is given: the server parses and validates
//! playbooks, seals authentication info (`auth_sealed`, `inputs_sealed` are
//! opaque here) and redacts variables before they arrive. A run's start and
//! end, a manual task and a proposal are written with their incident timeline
//! entry in one transaction.

use muster_core::OrgId;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, from_ms, now_ms, parse_col};

/// A playbook version to add to an organisation's library.
#[derive(Debug, Clone)]
pub struct NewPlaybookVersion {
    pub org: OrgId,
    /// The CACAO `id` (`playbook--…`).
    pub playbook_id: String,
    /// The CACAO `modified` timestamp: with the id, it names the version.
    pub modified: String,
    pub name: String,
    pub description: String,
    /// The playbook JSON with authentication secrets redacted.
    pub document: String,
    /// The original `authentication_info_definitions`, sealed.
    pub auth_sealed: Option<String>,
    pub imported_by: String,
}

/// A stored playbook version. List reads leave `document` and `auth_sealed` empty.
#[derive(Debug, Clone, Serialize)]
pub struct PlaybookVersionRow {
    /// Muster's id of this version (`playbook-version--…`).
    pub id: String,
    pub org: OrgId,
    pub playbook_id: String,
    pub modified: String,
    pub name: String,
    pub description: String,
    #[serde(skip)]
    pub document: String,
    #[serde(skip)]
    pub auth_sealed: Option<String>,
    pub imported_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub imported_at: time::OffsetDateTime,
    pub archived: bool,
}

/// The newest version of each playbook of a library, with its version count.
#[derive(Debug, Clone, Serialize)]
pub struct PlaybookSummary {
    pub latest: PlaybookVersionRow,
    pub versions: i64,
}

/// A run to record as started.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The execution id (a UUID string).
    pub id: String,
    pub org: OrgId,
    pub version_id: String,
    pub playbook_id: String,
    /// For the timeline entry.
    pub playbook_name: String,
    pub incident_id: Option<String>,
    pub rule_id: Option<String>,
    /// The caller's inputs, sealed (the engine needs them to resume).
    pub inputs_sealed: String,
    /// The inputs as shown, secrets redacted (JSON object).
    pub variables: String,
    pub started_by: String,
}

/// Run states.
pub const RUN_STATUSES: &[&str] = &["running", "completed", "failed", "cancelled", "interrupted"];

/// A stored run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: String,
    pub org: OrgId,
    pub version_id: String,
    pub playbook_id: String,
    pub incident_id: Option<String>,
    pub rule_id: Option<String>,
    /// running, completed, failed, cancelled, interrupted
    pub status: String,
    pub status_text: Option<String>,
    #[serde(skip)]
    pub inputs_sealed: String,
    /// JSON object, secrets redacted.
    pub variables: String,
    pub started_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<time::OffsetDateTime>,
}

/// One execution-status record of a run, as JSON plus the columns it is found by.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// The record's `id` (`execution-status--…`): the same for its `ongoing` and final versions.
    pub id: String,
    pub run_id: String,
    pub occurrence: String,
    pub workflow_step: String,
    pub playbook_id: String,
    pub status: String,
    /// The record itself (JSON).
    pub record: String,
}

/// A manual step waiting for (or answered by) an analyst.
#[derive(Debug, Clone)]
pub struct NewManualTask {
    pub run_id: String,
    pub org: OrgId,
    pub incident_id: Option<String>,
    pub occurrence: String,
    pub step_id: String,
    pub title: String,
    pub instructions: String,
    /// JSON array of the out-arg names the analyst fills in.
    pub out_args: String,
}

/// A stored manual task.
#[derive(Debug, Clone, Serialize)]
pub struct ManualTaskRow {
    pub id: String,
    pub run_id: String,
    pub org: OrgId,
    pub incident_id: Option<String>,
    pub occurrence: String,
    pub step_id: String,
    pub title: String,
    pub instructions: String,
    /// JSON array of names.
    pub out_args: String,
    /// open, completed, cancelled, expired
    pub status: String,
    /// JSON object of out-arg values, once completed.
    pub result: Option<String>,
    pub completed_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<time::OffsetDateTime>,
}

/// An automation rule to create.
#[derive(Debug, Clone)]
pub struct NewRule {
    pub org: OrgId,
    pub name: String,
    pub enabled: bool,
    /// incident-created, incident-updated, alert-matched
    pub trigger_on: String,
    /// JSON object of conditions.
    pub conditions: String,
    /// CACAO id of the playbook; runs take its newest version.
    pub playbook_id: String,
    /// automatic, suggested, approval
    pub mode: String,
    /// JSON object: playbook variable name → incident field.
    pub variables: String,
    pub created_by: String,
}

/// A stored automation rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRow {
    pub id: String,
    pub org: OrgId,
    pub name: String,
    pub enabled: bool,
    pub trigger_on: String,
    pub conditions: String,
    pub playbook_id: String,
    pub mode: String,
    pub variables: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
}

/// A run a rule proposes for an incident (modes suggested and approval).
#[derive(Debug, Clone)]
pub struct NewProposal {
    pub rule_id: String,
    pub rule_name: String,
    pub org: OrgId,
    pub incident_id: String,
    pub playbook_id: String,
    pub mode: String,
    pub inputs_sealed: String,
}

/// A stored proposal.
#[derive(Debug, Clone, Serialize)]
pub struct ProposalRow {
    pub id: String,
    pub rule_id: String,
    pub org: OrgId,
    pub incident_id: String,
    pub playbook_id: String,
    pub mode: String,
    /// pending, started, dismissed
    pub status: String,
    #[serde(skip)]
    pub inputs_sealed: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    pub decided_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<time::OffsetDateTime>,
    pub run_id: Option<String>,
}

const VERSION_COLUMNS: &str = "id, org_id, playbook_id, modified, name, description, document, auth_sealed, \
                               imported_by, imported_at, archived_at";
const VERSION_LIST_COLUMNS: &str = "id, org_id, playbook_id, modified, name, description, '' AS document, \
                                    NULL AS auth_sealed, imported_by, imported_at, archived_at";
const RUN_COLUMNS: &str = "id, org_id, version_id, playbook_id, incident_id, rule_id, status, status_text, \
                           inputs_sealed, variables, started_by, started_at, ended_at";
const TASK_COLUMNS: &str = "id, run_id, org_id, incident_id, occurrence, step_id, title, instructions, out_args, \
                            status, result, completed_by, created_at, completed_at";
const RULE_COLUMNS: &str =
    "id, org_id, name, enabled, trigger_on, conditions, playbook_id, mode, variables, created_by, created_at";
const PROPOSAL_COLUMNS: &str = "id, rule_id, org_id, incident_id, playbook_id, mode, status, inputs_sealed, \
                                created_at, decided_by, decided_at, run_id";

fn org_of(row: &AnyRow) -> Result<OrgId> {
    parse_col("org_id", &row.try_get::<String, _>("org_id")?)
}

fn opt_time(row: &AnyRow, col: &str) -> Result<Option<time::OffsetDateTime>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_ms))
}

fn version_from_row(row: &AnyRow) -> Result<PlaybookVersionRow> {
    Ok(PlaybookVersionRow {
        id: row.try_get("id")?,
        org: org_of(row)?,
        playbook_id: row.try_get("playbook_id")?,
        modified: row.try_get("modified")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        document: row.try_get("document")?,
        auth_sealed: row.try_get("auth_sealed")?,
        imported_by: row.try_get("imported_by")?,
        imported_at: from_ms(row.try_get("imported_at")?),
        archived: row.try_get::<Option<i64>, _>("archived_at")?.is_some(),
    })
}

fn run_from_row(row: &AnyRow) -> Result<RunRow> {
    Ok(RunRow {
        id: row.try_get("id")?,
        org: org_of(row)?,
        version_id: row.try_get("version_id")?,
        playbook_id: row.try_get("playbook_id")?,
        incident_id: row.try_get("incident_id")?,
        rule_id: row.try_get("rule_id")?,
        status: row.try_get("status")?,
        status_text: row.try_get("status_text")?,
        inputs_sealed: row.try_get("inputs_sealed")?,
        variables: row.try_get("variables")?,
        started_by: row.try_get("started_by")?,
        started_at: from_ms(row.try_get("started_at")?),
        ended_at: opt_time(row, "ended_at")?,
    })
}

fn task_from_row(row: &AnyRow) -> Result<ManualTaskRow> {
    Ok(ManualTaskRow {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        org: org_of(row)?,
        incident_id: row.try_get("incident_id")?,
        occurrence: row.try_get("occurrence")?,
        step_id: row.try_get("step_id")?,
        title: row.try_get("title")?,
        instructions: row.try_get("instructions")?,
        out_args: row.try_get("out_args")?,
        status: row.try_get("status")?,
        result: row.try_get("result")?,
        completed_by: row.try_get("completed_by")?,
        created_at: from_ms(row.try_get("created_at")?),
        completed_at: opt_time(row, "completed_at")?,
    })
}

fn rule_from_row(row: &AnyRow) -> Result<RuleRow> {
    Ok(RuleRow {
        id: row.try_get("id")?,
        org: org_of(row)?,
        name: row.try_get("name")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        trigger_on: row.try_get("trigger_on")?,
        conditions: row.try_get("conditions")?,
        playbook_id: row.try_get("playbook_id")?,
        mode: row.try_get("mode")?,
        variables: row.try_get("variables")?,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

fn proposal_from_row(row: &AnyRow) -> Result<ProposalRow> {
    Ok(ProposalRow {
        id: row.try_get("id")?,
        rule_id: row.try_get("rule_id")?,
        org: org_of(row)?,
        incident_id: row.try_get("incident_id")?,
        playbook_id: row.try_get("playbook_id")?,
        mode: row.try_get("mode")?,
        status: row.try_get("status")?,
        inputs_sealed: row.try_get("inputs_sealed")?,
        created_at: from_ms(row.try_get("created_at")?),
        decided_by: row.try_get("decided_by")?,
        decided_at: opt_time(row, "decided_at")?,
        run_id: row.try_get("run_id")?,
    })
}

/// Adds an incident timeline entry inside `tx` (kind `playbook`).
async fn timeline(tx: &mut sqlx::Transaction<'_, sqlx::Any>, incident: &str, actor: &str, text: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_timeline (id, incident_id, at, actor, kind, text) VALUES ($1, $2, $3, $4, 'playbook', $5)",
    )
    .bind(format!("timeline--{}", uuid::Uuid::now_v7()))
    .bind(incident)
    .bind(now_ms())
    .bind(actor)
    .bind(text)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE incidents SET updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(incident)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Adds a playbook version to the organisation's library (un-archiving the playbook).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when this id and `modified` are already in the library.
    pub async fn import_playbook_version(&self, new: &NewPlaybookVersion) -> Result<PlaybookVersionRow> {
        let id = format!("playbook-version--{}", uuid::Uuid::now_v7());
        let org = new.org.uuid().to_string();
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO playbooks ({VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)"
        ))
        .bind(&id)
        .bind(&org)
        .bind(&new.playbook_id)
        .bind(&new.modified)
        .bind(&new.name)
        .bind(&new.description)
        .bind(&new.document)
        .bind(new.auth_sealed.clone())
        .bind(&new.imported_by)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::from_insert(e, &format!("playbook {} version modified {}", new.playbook_id, new.modified))
        })?;
        sqlx::query("UPDATE playbooks SET archived_at = NULL WHERE org_id = $1 AND playbook_id = $2")
            .bind(&org)
            .bind(&new.playbook_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.get_playbook_version(&id).await
    }

    /// One version by Muster's version id, with its document.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_playbook_version(&self, id: &str) -> Result<PlaybookVersionRow> {
        let row = sqlx::query(&format!("SELECT {VERSION_COLUMNS} FROM playbooks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("playbook version {id}")))?;
        version_from_row(&row)
    }

    /// Every version of a playbook in the organisation's library, newest first, with documents.
    ///
    /// # Errors
    /// Database errors (an unknown playbook gives an empty list).
    pub async fn playbook_versions(&self, org: OrgId, playbook_id: &str) -> Result<Vec<PlaybookVersionRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM playbooks WHERE org_id = $1 AND playbook_id = $2 \
             ORDER BY modified DESC, imported_at DESC, id DESC"
        ))
        .bind(org.uuid().to_string())
        .bind(playbook_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// The newest version (by `modified`) of a playbook, with its document.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the library has no such playbook.
    pub async fn latest_playbook_version(&self, org: OrgId, playbook_id: &str) -> Result<PlaybookVersionRow> {
        self.playbook_versions(org, playbook_id)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound(format!("playbook {playbook_id}")))
    }

    /// The organisation's library: the newest version of each playbook and
    /// how many versions it has, by name. Archived playbooks only when asked.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_playbooks(&self, org: OrgId, archived: bool) -> Result<Vec<PlaybookSummary>> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_LIST_COLUMNS} FROM playbooks WHERE org_id = $1 ORDER BY playbook_id, modified DESC, imported_at DESC"
        ))
        .bind(org.uuid().to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<PlaybookSummary> = Vec::new();
        for row in &rows {
            let v = version_from_row(row)?;
            match out.last_mut() {
                Some(last) if last.latest.playbook_id == v.playbook_id => last.versions += 1,
                _ => out.push(PlaybookSummary { latest: v, versions: 1 }),
            }
        }
        out.retain(|s| archived || !s.latest.archived);
        out.sort_by_key(|s| s.latest.name.to_lowercase());
        Ok(out)
    }

    /// Archives every version of a playbook: it leaves the library list and
    /// rules can no longer start it; runs and exports keep working.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the library has no such playbook.
    pub async fn archive_playbook(&self, org: OrgId, playbook_id: &str) -> Result<()> {
        let n = sqlx::query("UPDATE playbooks SET archived_at = $1 WHERE org_id = $2 AND playbook_id = $3")
            .bind(now_ms())
            .bind(org.uuid().to_string())
            .bind(playbook_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("playbook {playbook_id}")));
        }
        Ok(())
    }

    /// Records a run as `running`, with a timeline entry on its incident.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown version or incident.
    pub async fn create_run(&self, new: &NewRun) -> Result<RunRow> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO playbook_runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'running', NULL, $7, $8, $9, $10, NULL)"
        ))
        .bind(&new.id)
        .bind(new.org.uuid().to_string())
        .bind(&new.version_id)
        .bind(&new.playbook_id)
        .bind(new.incident_id.clone())
        .bind(new.rule_id.clone())
        .bind(&new.inputs_sealed)
        .bind(&new.variables)
        .bind(&new.started_by)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "playbook run"))?;
        if let Some(incident) = &new.incident_id {
            let text = format!("playbook run started: {} (run {})", new.playbook_name, new.id);
            timeline(&mut tx, incident, &new.started_by, &text).await?;
        }
        tx.commit().await?;
        self.get_run(&new.id).await
    }

    /// Ends a running run (`completed`, `failed`, `cancelled`, `interrupted`),
    /// closes its open tasks, and notes it on the incident's timeline.
    /// Returns `false` when the run had already ended (nothing is changed then).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an unknown status; database errors.
    pub async fn finish_run(&self, id: &str, status: &str, text: Option<&str>, variables: &str) -> Result<bool> {
        if status == "running" || !RUN_STATUSES.contains(&status) {
            return Err(StoreError::Invalid(format!("status: {status:?} is not an end state of a run")));
        }
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let n = sqlx::query(
            "UPDATE playbook_runs SET status = $1, status_text = $2, variables = $3, ended_at = $4 \
             WHERE id = $5 AND status = 'running'",
        )
        .bind(status)
        .bind(text.map(str::to_owned))
        .bind(variables)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        let task_status = if status == "interrupted" { "expired" } else { "cancelled" };
        sqlx::query("UPDATE playbook_tasks SET status = $1, completed_at = $2 WHERE run_id = $3 AND status = 'open'")
            .bind(task_status)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT incident_id, started_by FROM playbook_runs WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if let Some(incident) = row.try_get::<Option<String>, _>("incident_id")? {
            let mut line = format!("playbook run {status}: run {id}");
            if let Some(t) = text {
                line.push_str(": ");
                line.push_str(&t.chars().take(300).collect::<String>());
            }
            timeline(&mut tx, &incident, "system:playbooks", &line).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// One run.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_run(&self, id: &str) -> Result<RunRow> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM playbook_runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("playbook run {id}")))?;
        run_from_row(&row)
    }

    /// Runs of an organisation, newest first, optionally of one playbook or one incident.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_runs(
        &self,
        org: OrgId,
        playbook_id: Option<&str>,
        incident_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RunRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM playbook_runs WHERE org_id = $1 \
             AND ($2 = '' OR playbook_id = $2) AND ($3 = '' OR incident_id = $3) \
             ORDER BY started_at DESC, id DESC LIMIT $4"
        ))
        .bind(org.uuid().to_string())
        .bind(playbook_id.unwrap_or(""))
        .bind(incident_id.unwrap_or(""))
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Every run still marked `running` (at start-up: the ones to resume).
    ///
    /// # Errors
    /// Database errors.
    pub async fn running_runs(&self) -> Result<Vec<RunRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM playbook_runs WHERE status = 'running' ORDER BY started_at"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Stores an execution-status record, replacing the earlier version with
    /// the same id (a step's `ongoing` record, then its final one). Durable on return.
    ///
    /// # Errors
    /// Database errors.
    pub async fn upsert_step_record(&self, r: &StepRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO playbook_run_steps (id, run_id, seq, occurrence, workflow_step, playbook_id, status, updated_at, record) \
             VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM playbook_run_steps WHERE run_id = $2), $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, record = excluded.record",
        )
        .bind(&r.id)
        .bind(&r.run_id)
        .bind(&r.occurrence)
        .bind(&r.workflow_step)
        .bind(&r.playbook_id)
        .bind(&r.status)
        .bind(now_ms())
        .bind(&r.record)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "execution record"))?;
        Ok(())
    }

    /// A run's records in the order their steps started.
    ///
    /// # Errors
    /// Database errors.
    pub async fn step_records(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query(
            "SELECT id, run_id, occurrence, workflow_step, playbook_id, status, record FROM playbook_run_steps \
             WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StepRecord {
                    id: r.try_get("id")?,
                    run_id: r.try_get("run_id")?,
                    occurrence: r.try_get("occurrence")?,
                    workflow_step: r.try_get("workflow_step")?,
                    playbook_id: r.try_get("playbook_id")?,
                    status: r.try_get("status")?,
                    record: r.try_get("record")?,
                })
            })
            .collect()
    }

    /// Opens the analyst task of a manual step, or returns the one this run
    /// already has for that step execution (after a restart it may be answered already).
    /// A new task is noted on the incident's timeline.
    ///
    /// # Errors
    /// Database errors.
    pub async fn open_task(&self, new: &NewManualTask) -> Result<ManualTaskRow> {
        // Write first (insert or nothing), so a SQLite transaction never upgrades a read lock.
        let mut tx = self.begin_write().await?;
        let id = format!("task--{}", uuid::Uuid::now_v7());
        let inserted = sqlx::query(&format!(
            "INSERT INTO playbook_tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', NULL, NULL, $10, NULL) \
             ON CONFLICT (run_id, occurrence) DO NOTHING"
        ))
        .bind(&id)
        .bind(&new.run_id)
        .bind(new.org.uuid().to_string())
        .bind(new.incident_id.clone())
        .bind(&new.occurrence)
        .bind(&new.step_id)
        .bind(&new.title)
        .bind(&new.instructions)
        .bind(&new.out_args)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "task"))?
        .rows_affected();
        if inserted > 0
            && let Some(incident) = &new.incident_id
        {
            let text = format!("task for an analyst: {} (run {}, task {id})", new.title, new.run_id);
            timeline(&mut tx, incident, "system:playbooks", &text).await?;
        }
        tx.commit().await?;
        let row =
            sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM playbook_tasks WHERE run_id = $1 AND occurrence = $2"))
                .bind(&new.run_id)
                .bind(&new.occurrence)
                .fetch_one(&self.pool)
                .await?;
        task_from_row(&row)
    }

    /// One task.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_task(&self, id: &str) -> Result<ManualTaskRow> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM playbook_tasks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("task {id}")))?;
        task_from_row(&row)
    }

    /// The tasks of a run, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn tasks_of_run(&self, run_id: &str) -> Result<Vec<ManualTaskRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM playbook_tasks WHERE run_id = $1 ORDER BY created_at, id"
        ))
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Open tasks of an organisation, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn open_tasks(&self, org: OrgId) -> Result<Vec<ManualTaskRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM playbook_tasks WHERE org_id = $1 AND status = 'open' ORDER BY created_at, id LIMIT 500"
        ))
        .bind(org.uuid().to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Completes an open task with its out-arg values (JSON object), noted on the incident's timeline.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the task is no longer open; [`StoreError::NotFound`].
    pub async fn complete_task(&self, id: &str, result: &str, actor: &str) -> Result<ManualTaskRow> {
        self.close_task(id, "completed", Some(result), Some(actor)).await
    }

    /// Marks an open task `expired` (its step timed out) or `cancelled`.
    ///
    /// # Errors
    /// As [`Store::complete_task`].
    pub async fn expire_task(&self, id: &str, status: &str) -> Result<ManualTaskRow> {
        self.close_task(id, status, None, None).await
    }

    async fn close_task(
        &self,
        id: &str,
        status: &str,
        result: Option<&str>,
        actor: Option<&str>,
    ) -> Result<ManualTaskRow> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE playbook_tasks SET status = $1, result = $2, completed_by = $3, completed_at = $4 \
             WHERE id = $5 AND status = 'open'",
        )
        .bind(status)
        .bind(result.map(str::to_owned))
        .bind(actor.map(str::to_owned))
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            drop(tx);
            let t = self.get_task(id).await?;
            return Err(StoreError::Conflict(format!("task {id} is {}, not open", t.status)));
        }
        let row = sqlx::query("SELECT incident_id, title FROM playbook_tasks WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if let Some(incident) = row.try_get::<Option<String>, _>("incident_id")? {
            let title: String = row.try_get("title")?;
            timeline(&mut tx, &incident, actor.unwrap_or("system:playbooks"), &format!("task {status}: {title}"))
                .await?;
        }
        tx.commit().await?;
        self.get_task(id).await
    }

    /// Creates an automation rule.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an empty name; database errors.
    pub async fn create_rule(&self, new: &NewRule) -> Result<RuleRow> {
        let name = new.name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(StoreError::Invalid("name: must be 1-200 characters".into()));
        }
        let id = format!("automation-rule--{}", uuid::Uuid::now_v7());
        sqlx::query(&format!(
            "INSERT INTO automation_rules ({RULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&id)
        .bind(new.org.uuid().to_string())
        .bind(name)
        .bind(i64::from(new.enabled))
        .bind(&new.trigger_on)
        .bind(&new.conditions)
        .bind(&new.playbook_id)
        .bind(&new.mode)
        .bind(&new.variables)
        .bind(&new.created_by)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "automation rule"))?;
        self.get_rule(&id).await
    }

    /// One rule.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_rule(&self, id: &str) -> Result<RuleRow> {
        let row = sqlx::query(&format!("SELECT {RULE_COLUMNS} FROM automation_rules WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("automation rule {id}")))?;
        rule_from_row(&row)
    }

    /// An organisation's rules; with `trigger`, only the enabled ones for it.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_rules(&self, org: OrgId, trigger: Option<&str>) -> Result<Vec<RuleRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLUMNS} FROM automation_rules WHERE org_id = $1 \
             AND ($2 = '' OR (trigger_on = $2 AND enabled = 1)) ORDER BY created_at, id"
        ))
        .bind(org.uuid().to_string())
        .bind(trigger.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rule_from_row).collect()
    }

    /// Turns a rule on or off.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn set_rule_enabled(&self, id: &str, enabled: bool) -> Result<RuleRow> {
        let n = sqlx::query("UPDATE automation_rules SET enabled = $1 WHERE id = $2")
            .bind(i64::from(enabled))
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("automation rule {id}")));
        }
        self.get_rule(id).await
    }

    /// Records a proposed run, with a timeline entry on the incident.
    ///
    /// # Errors
    /// Database errors.
    pub async fn create_proposal(&self, new: &NewProposal) -> Result<ProposalRow> {
        let id = format!("automation-proposal--{}", uuid::Uuid::now_v7());
        let mut tx = self.begin_write().await?;
        sqlx::query(&format!(
            "INSERT INTO automation_proposals ({PROPOSAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, NULL, NULL, NULL)"
        ))
        .bind(&id)
        .bind(&new.rule_id)
        .bind(new.org.uuid().to_string())
        .bind(&new.incident_id)
        .bind(&new.playbook_id)
        .bind(&new.mode)
        .bind(&new.inputs_sealed)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "automation proposal"))?;
        let what = if new.mode == "approval" { "awaits approval" } else { "suggested" };
        let text = format!("playbook {} {what} by rule {} (proposal {id})", new.playbook_id, new.rule_name);
        timeline(&mut tx, &new.incident_id, "system:automation", &text).await?;
        tx.commit().await?;
        self.get_proposal(&id).await
    }

    /// One proposal.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_proposal(&self, id: &str) -> Result<ProposalRow> {
        let row = sqlx::query(&format!("SELECT {PROPOSAL_COLUMNS} FROM automation_proposals WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("automation proposal {id}")))?;
        proposal_from_row(&row)
    }

    /// Proposals of an organisation (optionally of one incident), newest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_proposals(&self, org: OrgId, incident_id: Option<&str>) -> Result<Vec<ProposalRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {PROPOSAL_COLUMNS} FROM automation_proposals WHERE org_id = $1 AND ($2 = '' OR incident_id = $2) \
             ORDER BY created_at DESC, id DESC LIMIT 500"
        ))
        .bind(org.uuid().to_string())
        .bind(incident_id.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(proposal_from_row).collect()
    }

    /// Decides a pending proposal: `started` (with the run it started) or `dismissed`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when it was already decided.
    pub async fn decide_proposal(
        &self,
        id: &str,
        status: &str,
        actor: &str,
        run_id: Option<&str>,
    ) -> Result<ProposalRow> {
        let n = sqlx::query(
            "UPDATE automation_proposals SET status = $1, decided_by = $2, decided_at = $3, run_id = $4 \
             WHERE id = $5 AND status = 'pending'",
        )
        .bind(status)
        .bind(actor)
        .bind(now_ms())
        .bind(run_id.map(str::to_owned))
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            let p = self.get_proposal(id).await?;
            return Err(StoreError::Conflict(format!("proposal {id} is already {}", p.status)));
        }
        self.get_proposal(id).await
    }
}

impl Store {
    /// Puts a proposal back to `pending` when the run it was to start could not start.
    ///
    /// # Errors
    /// Database errors.
    pub async fn reopen_proposal(&self, id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE automation_proposals SET status = 'pending', decided_by = NULL, decided_at = NULL \
             WHERE id = $1 AND status = 'started' AND run_id IS NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Links a started proposal to the run it started.
    ///
    /// # Errors
    /// Database errors.
    pub async fn set_proposal_run(&self, id: &str, run_id: &str) -> Result<()> {
        sqlx::query("UPDATE automation_proposals SET run_id = $1 WHERE id = $2")
            .bind(run_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
