//! Muster's persistence layer.
//!
//! One [`Store`] with one query code path for both backends: SQLite (the
//! embedded default, a WAL-mode file under the data directory) and PostgreSQL
//! (scale-out, chosen by a `postgres://` database URL). Queries are portable
//! SQL with `$n` placeholders run through sqlx's `Any` driver; the only
//! per-backend text lives in [`migrate`], for DDL the two dialects spell apart.
//!
//! Not here: access decisions (those are `muster_core::access`), HTTP, or
//! business rules beyond keeping rows consistent.

mod alerts;
mod audit;
mod auth;
mod checkpoint;
mod circles;
mod correlation;
mod db;
mod dictionaries;
mod incident_files;
mod incident_search;
mod incident_work;
mod incidents;
mod migrate;
mod orgs;
mod packing;
mod params;
mod playbooks;
mod users;

pub use alerts::{AlertRow, IngestCounts, Ingested, NewAlert, Sighting};
pub use audit::{AuditEntry, AuditVerdict, NewAuditEntry};
pub use auth::{ApiToken, NewToken, Session, hash_secret};
pub use circles::NewCircle;
pub use correlation::{BatchLink, Correlation, Decide, OpenMatch, OpenedIncident};
pub use db::{Backend, Store, StoreOptions, restore_sqlite};
pub use incident_files::{AttachmentRow, NewTemplate, TemplateRow, TemplateTask};
pub use incident_search::{
    AssigneeFilter, BadCursor, IncidentCursor, IncidentPage, IncidentQuery, IncidentScope, IncidentSort, SortKey,
    search_words, set_fts_drive_max_matches,
};
pub use incident_work::{
    CommentRow, IncidentChanges, Merged, NewObservable, NewTask, ObservableChanges, TaskChanges, TaskRow,
};
pub use incidents::{IncidentObservable, IncidentRow, NewIncident, TimelineEntry};
pub use orgs::NewOrganisation;
pub use packing::{AlertBody, AlertContent, Packer};
pub use playbooks::{
    ManualTaskRow, NewManualTask, NewPlaybookVersion, NewProposal, NewRule, NewRun, PlaybookSummary,
    PlaybookVersionRow, ProposalRow, RUN_STATUSES, RuleRow, RunRow, StepRecord,
};
pub use users::{Membership, NewUser, UserWithSecret};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Input that breaks a rule of the stored data (a bad handle, an empty name).
    #[error("{0}")]
    Invalid(String),
    #[error("invalid stored data: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Turns a unique-constraint violation into [`StoreError::Conflict`].
    pub(crate) fn from_insert(e: sqlx::Error, what: &str) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let msg = db.message().to_ascii_lowercase();
            if msg.contains("unique") || msg.contains("duplicate key") {
                return StoreError::Conflict(format!("{what} already exists"));
            }
            if msg.contains("foreign key") {
                return StoreError::NotFound(format!("a record referenced by this {what}"));
            }
        }
        StoreError::Database(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Milliseconds since the Unix epoch, the stored time format.
#[must_use]
pub fn now_ms() -> i64 {
    to_ms(time::OffsetDateTime::now_utc())
}

/// Converts a time to stored milliseconds.
#[must_use]
pub fn to_ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Converts stored milliseconds to a UTC time.
#[must_use]
pub fn from_ms(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn parse_col<T: std::str::FromStr>(col: &str, s: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

#[cfg(feature = "test-support")]
impl Store {
    /// Runs raw SQL, for tests that simulate tampering (feature `test-support`).
    #[doc(hidden)]
    pub async fn tamper_for_tests(&self, sql: &str) {
        if let Err(e) = sqlx::raw_sql(sql).execute(&self.pool).await {
            tracing::error!("tamper_for_tests: {e}");
        }
    }
}
