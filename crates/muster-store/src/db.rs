//! Opening the store: backend choice, connection pool, pragmas, migrations, backup.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::{Result, StoreError};

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `postgres://…` for PostgreSQL; `sqlite://…` or `None` for the embedded default.
    pub database_url: Option<String>,
    /// Data directory; the SQLite file lives at `<data_dir>/muster.db`.
    pub data_dir: PathBuf,
    /// Maximum pooled connections.
    pub max_connections: u32,
}

impl StoreOptions {
    /// The embedded default in `data_dir`.
    #[must_use]
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> Self {
        Self { database_url: None, data_dir: data_dir.into(), max_connections: 8 }
    }
}

/// The store: a connection pool plus what it needs to know about the backend.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Serialises SQLite write transactions that read before they write.
    pub(crate) write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
    backend: Backend,
    sqlite_path: Option<PathBuf>,
    /// SQLite only: WAL checkpoints off the writers' path.
    checkpointer: Option<std::sync::Arc<crate::checkpoint::Checkpointer>>,
    /// The zstd dictionaries alert bodies are packed with.
    pub(crate) dictionaries: std::sync::Arc<crate::dictionaries::Dictionaries>,
}

impl Store {
    /// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`:
    /// it takes the write lock up front and waits for it (`busy_timeout`),
    /// where a deferred transaction that reads first fails at once with
    /// "database is locked" when another writer committed meanwhile (WAL
    /// cannot upgrade a stale read snapshot).
    pub(crate) async fn begin_write(&self) -> crate::Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Opens (creating when needed) the store and applies pending migrations.
    ///
    /// # Errors
    /// When the database cannot be reached or a migration fails.
    pub async fn open(opts: &StoreOptions) -> Result<Self> {
        let store = Self::connect(opts).await?;
        crate::migrate::run(&store).await?;
        store.load_dictionaries().await?;
        Ok(store)
    }

    /// Opens without migrating (for `muster migrate --status` and tests).
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn connect(opts: &StoreOptions) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (url, backend, sqlite_path) = match opts.database_url.as_deref() {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                (u.to_owned(), Backend::Postgres, None)
            }
            Some(u) if u.starts_with("sqlite:") => {
                let path = PathBuf::from(u.trim_start_matches("sqlite://").trim_start_matches("sqlite:"));
                let path = PathBuf::from(path.to_string_lossy().split('?').next().unwrap_or_default());
                (format!("sqlite://{}?mode=rwc", path.display()), Backend::Sqlite, Some(path))
            }
            Some(other) => {
                return Err(StoreError::Conflict(format!(
                    "database_url {:?}: expected postgres://… or sqlite://…",
                    other.split('@').next_back().unwrap_or_default()
                )));
            }
            None => {
                std::fs::create_dir_all(&opts.data_dir)?;
                let path = opts.data_dir.join("muster.db");
                (format!("sqlite://{}?mode=rwc", path.display()), Backend::Sqlite, Some(path))
            }
        };
        if let Some(parent) = sqlite_path.as_deref().and_then(Path::parent)
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let connect = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite {
                opts.max_connections.max(1)
            } else {
                opts.max_connections
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL for concurrent readers; FULL so a commit survives power loss,
                        // not only a process crash; foreign keys on; wait instead of failing
                        // when another writer holds the lock. A 32 MiB page cache (at most,
                        // per connection): the alert indexes of a busy intake outgrow the
                        // 2 MiB default, and each batch then rereads index pages it just wrote.
                        // Statement journals in memory (a multi-row INSERT keeps one). WAL
                        // checkpoints are the checkpointer's job (see `checkpoint`). Reads
                        // through a memory map of up to 2 GiB (SQLite's default ceiling): a
                        // full-text search touches thousands of scattered pages, and without
                        // it each is a read(2) and a copy (half the time of such a search).
                        conn.execute(
                            format!(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
                                 PRAGMA busy_timeout=10000; PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY; \
                                 PRAGMA wal_autocheckpoint={}; PRAGMA journal_size_limit={}; \
                                 PRAGMA mmap_size=2147418112;",
                                crate::checkpoint::SAFETY_NET_PAGES,
                                crate::checkpoint::WAL_SIZE_LIMIT
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect.clone())
            .await?;
        let checkpointer = match backend {
            // The pool's first connection has switched the file to WAL by now.
            Backend::Sqlite => Some(std::sync::Arc::new(crate::checkpoint::Checkpointer::start(&connect).await?)),
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            write_gate: std::sync::Arc::default(),
            backend,
            sqlite_path,
            checkpointer,
            dictionaries: std::sync::Arc::default(),
        })
    }

    /// The backend in use.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file, when on SQLite.
    #[must_use]
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite_path.as_deref()
    }

    /// Answers whether the database responds.
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Writes a consistent snapshot of a live SQLite store to `dest` (`VACUUM INTO`).
    /// For PostgreSQL use `pg_dump` (see docs/operations.md).
    ///
    /// # Errors
    /// On PostgreSQL, when `dest` exists, or when SQLite fails.
    pub async fn backup_to(&self, dest: &Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Conflict(
                "backup is built in for SQLite only; on PostgreSQL use pg_dump (docs/operations.md)".into(),
            ));
        }
        if dest.exists() {
            return Err(StoreError::Conflict(format!("{} already exists; choose a new file", dest.display())));
        }
        let target = dest.to_string_lossy().replace('\'', "''");
        sqlx::query(&format!("VACUUM INTO '{target}'")).execute(&self.pool).await?;
        Ok(())
    }

    /// Asks for a WAL checkpoint soon, after a large commit (SQLite; no-op on PostgreSQL).
    pub(crate) fn nudge_checkpoint(&self) {
        if let Some(c) = &self.checkpointer {
            c.nudge();
        }
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        if let Some(c) = &self.checkpointer {
            c.stop();
        }
        self.pool.close().await;
    }
}

/// Restores a SQLite backup into `data_dir` (the server must be stopped). The
/// backup is checked with `PRAGMA integrity_check` first; the current store, if
/// any, is kept beside it as `muster.db.before-restore-<ms>`.
///
/// # Errors
/// When the backup is not a sound Muster store.
pub async fn restore_sqlite(backup: &Path, data_dir: &Path) -> Result<PathBuf> {
    let probe = Store::connect(&StoreOptions {
        database_url: Some(format!("sqlite://{}", backup.display())),
        data_dir: data_dir.to_path_buf(),
        max_connections: 1,
    })
    .await?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&probe.pool).await?;
    let has_schema: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'")
        .fetch_one(&probe.pool)
        .await?;
    probe.close().await;
    if verdict != "ok" || has_schema == 0 {
        return Err(StoreError::Corrupt(format!("{} is not a sound Muster backup ({verdict})", backup.display())));
    }
    std::fs::create_dir_all(data_dir)?;
    let live = data_dir.join("muster.db");
    if live.exists() {
        let aside = data_dir.join(format!("muster.db.before-restore-{}", crate::now_ms()));
        std::fs::rename(&live, &aside)?;
        for ext in ["-wal", "-shm"] {
            let side = data_dir.join(format!("muster.db{ext}"));
            if side.exists() {
                std::fs::remove_file(side)?;
            }
        }
    }
    std::fs::copy(backup, &live)?;
    Ok(live)
}
