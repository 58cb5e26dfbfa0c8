//! Embedded migrations, applied in order at start and by `muster migrate`.
//!
//! Each migration is portable SQL; where the dialects differ, a migration
//! carries an extra text per backend.

use sqlx::Executor;

use crate::db::Backend;
use crate::{Result, Store, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    /// Data the SQL cannot compute, filled in by the store in the same transaction.
    backfill: Option<Backfill>,
}

/// A data step run after a migration's SQL, inside its transaction.
#[derive(Clone, Copy)]
enum Backfill {
    /// `alerts.dedup_key` from each stored fingerprint (migration 12).
    AlertDedupKeys,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../migrations/0001_foundation.sql"),
        sqlite: "",
        postgres: "",
        backfill: None,
    },
    Migration {
        version: 2,
        name: "alerts",
        sql: include_str!("../migrations/0002_alerts.sql"),
        // The compressed original record: the one column whose type the dialects spell apart.
        sqlite: "ALTER TABLE alerts ADD COLUMN original BLOB;",
        postgres: "ALTER TABLE alerts ADD COLUMN original BYTEA;",
        backfill: None,
    },
    Migration {
        version: 3,
        name: "incidents",
        sql: include_str!("../migrations/0003_incidents.sql"),
        sqlite: "",
        postgres: "",
        backfill: None,
    },
    Migration {
        version: 4,
        name: "incident_fields",
        sql: include_str!("../migrations/0004_incident_fields.sql"),
        sqlite: "",
        postgres: "",
        backfill: None,
    },
    Migration {
        version: 5,
        name: "incident_work",
        sql: include_str!("../migrations/0005_incident_work.sql"),
        // Attachment content: the one column whose type the dialects spell apart.
        sqlite: "ALTER TABLE attachment_blobs ADD COLUMN content BLOB;",
        postgres: "ALTER TABLE attachment_blobs ADD COLUMN content BYTEA;",
        backfill: None,
    },
    Migration {
        version: 6,
        name: "incident_search",
        sql: include_str!("../migrations/0006_incident_search.sql"),
        // Generated sort/visibility keys and the full-text index: FTS5 and tsvector.
        sqlite: include_str!("../migrations/0006_incident_search.sqlite.sql"),
        postgres: include_str!("../migrations/0006_incident_search.postgres.sql"),
        backfill: None,
    },
    Migration {
        version: 7,
        name: "playbooks",
        sql: include_str!("../migrations/0007_playbooks.sql"),
        sqlite: "",
        postgres: "",
        backfill: None,
    },
    Migration {
        version: 8,
        name: "incident_search_keys",
        sql: "",
        // SQLite only: filter keys beside the FTS5 document (PostgreSQL's planner joins the GIN matches itself).
        sqlite: include_str!("../migrations/0008_incident_search_keys.sqlite.sql"),
        postgres: "",
        backfill: None,
    },
    Migration {
        version: 9,
        name: "alert_dedup_key",
        sql: include_str!("../migrations/0009_alert_dedup_key.sql"),
        sqlite: "",
        postgres: "",
        backfill: None,
    },
    Migration {
        version: 10,
        name: "incident_search_upsert",
        sql: "",
        // PostgreSQL only: SQLite serialises writers, so its triggers cannot race.
        sqlite: "",
        postgres: include_str!("../migrations/0010_incident_search_upsert.postgres.sql"),
        backfill: None,
    },
    Migration {
        version: 11,
        name: "incident_alerts_compact",
        sql: "",
        // SQLite only: a rowid table stores each link twice (row and key index).
        sqlite: include_str!("../migrations/0011_incident_alerts_compact.sqlite.sql"),
        postgres: "",
        backfill: None,
    },
    Migration {
        version: 12,
        name: "alert_dedup_int_key",
        sql: include_str!("../migrations/0012_alert_dedup_int_key.sql"),
        sqlite: "",
        postgres: "",
        backfill: Some(Backfill::AlertDedupKeys),
    },
    Migration {
        version: 13,
        name: "alert_body",
        sql: "",
        sqlite: include_str!("../migrations/0013_alert_body.sqlite.sql"),
        postgres: include_str!("../migrations/0013_alert_body.postgres.sql"),
        backfill: None,
    },
    Migration {
        version: 14,
        name: "alert_dictionaries",
        sql: "",
        sqlite: include_str!("../migrations/0014_alert_dictionaries.sqlite.sql"),
        postgres: include_str!("../migrations/0014_alert_dictionaries.postgres.sql"),
        backfill: None,
    },
    Migration {
        version: 15,
        name: "incident_observables_one_value_index",
        sql: include_str!("../migrations/0015_incident_observables_one_value_index.sql"),
        sqlite: "",
        postgres: "",
        backfill: None,
    },
    Migration {
        version: 16,
        name: "incident_keys",
        sql: include_str!("../migrations/0016_incident_keys.sql"),
        sqlite: "",
        postgres: "",
        backfill: None,
    },
    Migration {
        version: 17,
        name: "incident_observables_by_value",
        sql: "",
        sqlite: include_str!("../migrations/0017_incident_observables_by_value.sqlite.sql"),
        postgres: include_str!("../migrations/0017_incident_observables_by_value.postgres.sql"),
        backfill: None,
    },
    Migration {
        version: 18,
        name: "incident_search_without_alert_links",
        sql: "",
        sqlite: include_str!("../migrations/0018_incident_search_without_alert_links.sqlite.sql"),
        postgres: include_str!("../migrations/0018_incident_search_without_alert_links.postgres.sql"),
        backfill: None,
    },
];

/// Applies pending migrations; returns the versions applied.
pub(crate) async fn run(store: &Store) -> Result<Vec<i64>> {
    run_to(store, i64::MAX).await
}

/// Applies pending migrations up to and including `last`.
async fn run_to(store: &Store, last: i64) -> Result<Vec<i64>> {
    store
        .pool
        .execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version <= last) {
        let mut tx = store.pool.begin().await?;
        // Lock out a concurrent migrator on PostgreSQL; SQLite serialises writers anyway.
        if store.backend() == Backend::Postgres {
            tx.execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE").await?;
        }
        let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_one(&mut *tx)
            .await?;
        if done > 0 {
            continue;
        }
        let extra = match store.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        if !m.sql.is_empty() {
            sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(|e| migration_error(m, &e))?;
        }
        if !extra.is_empty() {
            sqlx::raw_sql(extra).execute(&mut *tx).await.map_err(|e| migration_error(m, &e))?;
        }
        match m.backfill {
            Some(Backfill::AlertDedupKeys) => crate::alerts::backfill_dedup_keys(&mut tx).await?,
            None => {}
        }
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(crate::now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        applied.push(m.version);
    }
    Ok(applied)
}

fn migration_error(m: &Migration, e: &sqlx::Error) -> StoreError {
    StoreError::Corrupt(format!("migration {} ({}) failed: {e}", m.version, m.name))
}

impl Store {
    /// Applies pending migrations and returns the versions applied now.
    ///
    /// # Errors
    /// When a migration fails; nothing of that migration is kept.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        run(self).await
    }

    /// Applies pending migrations up to `version` only: tests build a store as
    /// an older release left it, then migrate it the rest of the way.
    ///
    /// # Errors
    /// When a migration fails.
    #[doc(hidden)]
    pub async fn migrate_to(&self, version: i64) -> Result<Vec<i64>> {
        run_to(self, version).await
    }

    /// The latest schema version this binary knows.
    #[must_use]
    pub fn latest_schema_version() -> i64 {
        MIGRATIONS.last().map_or(0, |m| m.version)
    }
}
