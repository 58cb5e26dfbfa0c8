//! The zstd dictionaries alert bodies are packed with (see `packing`): when
//! a store trains one, which one new bodies use, and finding the one a stored
//! body needs.
//!
//! The first is trained once [`FIRST_AFTER`] alerts have been stored without
//! one, a new one after every [`RETRAIN_AFTER`] alerts since, so the
//! dictionary follows what the sources send. Training samples the most recent
//! [`SAMPLES`] alerts of all organisations; a dictionary is internal to the
//! store like its pages (never served, exported or shared) and, like every
//! body packed with it, kept as long as the store. Training runs in the
//! background, after a commit; a dictionary that would not pack the samples at
//! least a tenth smaller is not kept.
//!
//! On PostgreSQL several servers may share a store: each trains its own, and
//! finds the ones others trained when it meets a body that needs one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::alerts::CONTENT_COLUMNS;
use crate::packing::{AlertContent, Dictionary, Packer, dictionary_of, train};
use crate::{Result, Store, now_ms};

/// Alerts stored without a dictionary before the first is trained.
const FIRST_AFTER: u64 = 2_000;
/// Alerts stored with a dictionary before the next is trained.
const RETRAIN_AFTER: u64 = 1_000_000;
/// Recent alerts a dictionary is trained on.
const SAMPLES: i64 = 2_000;

/// A store's dictionaries: the one new bodies are packed with, and every one known.
#[derive(Debug, Default)]
pub(crate) struct Dictionaries {
    current: RwLock<Packer>,
    known: RwLock<HashMap<u32, Arc<Dictionary>>>,
    /// Alerts stored since the current dictionary (or since none) was chosen.
    since: AtomicU64,
    training: AtomicBool,
}

impl Dictionaries {
    fn packer(&self) -> Packer {
        self.current.read().map(|p| p.clone()).unwrap_or_default()
    }

    fn cached(&self, id: u32) -> Option<Arc<Dictionary>> {
        self.known.read().ok().and_then(|k| k.get(&id).cloned())
    }

    fn remember(&self, d: Dictionary) -> Arc<Dictionary> {
        let d = Arc::new(d);
        if let Ok(mut k) = self.known.write() {
            k.insert(d.id(), Arc::clone(&d));
        }
        d
    }

    fn adopt(&self, d: Arc<Dictionary>) {
        if let Ok(mut c) = self.current.write() {
            *c = Packer::with(d);
        }
    }
}

impl Store {
    /// What new alert bodies are packed with: the store's current dictionary, if any.
    #[must_use]
    pub fn packer(&self) -> Packer {
        self.dictionaries.packer()
    }

    /// Loads the stored dictionaries; the latest trained packs new bodies.
    pub(crate) async fn load_dictionaries(&self) -> Result<()> {
        let rows =
            sqlx::query("SELECT dict FROM alert_dictionaries ORDER BY trained_at, id").fetch_all(&self.pool).await?;
        for row in rows {
            if let Some(d) = Dictionary::new(row.try_get("dict")?) {
                let d = self.dictionaries.remember(d);
                self.dictionaries.adopt(d);
            }
        }
        Ok(())
    }

    /// A row's document and original record (its [`CONTENT_COLUMNS`]),
    /// finding the dictionary its body needs through `conn` when it is not known yet.
    pub(crate) async fn content_of(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
        row: &AnyRow,
    ) -> Result<AlertContent> {
        let body: Option<Vec<u8>> = row.try_get("body")?;
        let doc: String = row.try_get("doc")?;
        let original: Option<Vec<u8>> = row.try_get("original")?;
        let dictionary = match body.as_deref().and_then(dictionary_of) {
            Some(needed) => match self.dictionaries.cached(needed) {
                Some(d) => Some(d),
                None => {
                    let stored: Option<Vec<u8>> =
                        sqlx::query_scalar("SELECT dict FROM alert_dictionaries WHERE id = $1")
                            .bind(i64::from(needed))
                            .fetch_optional(&mut *conn)
                            .await?;
                    stored.and_then(Dictionary::new).map(|d| self.dictionaries.remember(d))
                }
            },
            None => None,
        };
        AlertContent::unpack(id, body.as_deref(), &doc, original.as_deref(), dictionary.as_deref())
    }

    /// Counts alerts just stored and, when it is time, trains a dictionary in the background.
    pub(crate) fn after_intake(&self, created: u64) {
        let d = &self.dictionaries;
        let since = d.since.fetch_add(created, Ordering::Relaxed) + created;
        let due = if d.packer().dictionary_id().is_some() { RETRAIN_AFTER } else { FIRST_AFTER };
        if since < due || d.training.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(e) = store.train_alert_dictionary().await {
                tracing::warn!(error = %e, "training an alert dictionary failed; retried later");
            }
            store.dictionaries.since.store(0, Ordering::Relaxed);
            store.dictionaries.training.store(false, Ordering::Release);
        });
    }

    /// Trains a dictionary on the most recent alerts, stores it and packs new
    /// bodies with it; its id, or `None` when it would not pay (too few alerts,
    /// or alerts too unlike each other).
    ///
    /// # Errors
    /// Database errors; [`crate::StoreError::Corrupt`] when a sampled alert does not unpack.
    pub async fn train_alert_dictionary(&self) -> Result<Option<u32>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(&format!("SELECT id, {CONTENT_COLUMNS} FROM alerts ORDER BY id DESC LIMIT $1"))
            .bind(SAMPLES)
            .fetch_all(&mut *conn)
            .await?;
        let mut samples = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            samples.push(self.content_of(&mut conn, &id, row).await?);
        }
        drop(conn);
        let sampled = samples.len();
        let trained = tokio::task::spawn_blocking(move || train(&samples))
            .await
            .map_err(|e| std::io::Error::other(format!("dictionary training stopped: {e}")))?;
        let Some(dictionary) = trained else {
            tracing::info!(alerts = sampled, "no alert dictionary trained: it would not pack these alerts smaller");
            return Ok(None);
        };
        let id = dictionary.id();
        // zstd derives the id from the content: an equal id is the same dictionary or, rarely, a clash.
        let stored = sqlx::query(
            "INSERT INTO alert_dictionaries (id, trained_at, samples, dict) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(i64::from(id))
        .bind(now_ms())
        .bind(i64::try_from(sampled).unwrap_or(i64::MAX))
        .bind(dictionary.bytes())
        .execute(&self.pool)
        .await?
        .rows_affected();
        let dictionary = match (self.dictionaries.cached(id), stored) {
            (Some(known), _) => known,
            // Another server stored one under this id first (the same or, rarely, a clash): keep packing as before.
            (None, 0) => return Ok(None),
            (None, _) => self.dictionaries.remember(dictionary),
        };
        self.dictionaries.adopt(dictionary);
        tracing::info!(dictionary = id, alerts = sampled, "alert dictionary trained");
        Ok(Some(id))
    }
}
