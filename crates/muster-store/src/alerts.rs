//! Alerts: batch ingest with fingerprint dedup in one transaction, and reads.
//!
//! The dedup *decision* (is this a repeat inside the window?) belongs to
//! `muster-intake`; the store hands it the stored sighting and applies the
//! answer, so the rule lives in one place and the write stays atomic.

use std::collections::HashMap;

use muster_core::{OrgId, Tlp};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::correlation::Correlation;
use crate::db::Backend;
use crate::packing::{AlertBody, AlertContent};
use crate::params::{Params, rows_per_statement};
use crate::{Result, Store, StoreError, from_ms, now_ms, parse_col};

/// One normalised alert to store.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// Hex SHA-256 fingerprint.
    pub fingerprint: String,
    pub format: String,
    pub source: String,
    pub source_ref: Option<String>,
    pub title: String,
    pub severity: String,
    pub rsit_type: String,
    pub tlp: Tlp,
    pub pap: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
    /// The normalised alert as JSON and the original record, packed.
    pub body: AlertBody,
    /// Its observables as `(kind, value)`, copied onto an incident it joins.
    pub observables: Vec<(String, String)>,
}

/// What the store remembers of an alert for dedup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: i64,
}

/// The outcome of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct IngestCounts {
    pub created: u64,
    pub duplicates: u64,
}

/// A first ingest, or the stored answer to an earlier batch with the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Committed(IngestCounts),
    /// The batch key was seen before; this is what was answered then.
    Replayed(String),
}

/// A stored alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    pub id: String,
    pub org: OrgId,
    pub fingerprint: String,
    pub format: String,
    pub source: String,
    pub source_ref: Option<String>,
    pub title: String,
    pub severity: String,
    pub rsit_type: String,
    pub tlp: Tlp,
    pub pap: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: time::OffsetDateTime,
    pub count: i64,
    pub status: String,
}

const ALERT_COLUMNS: &str = "id, org_id, fingerprint, format, source, source_ref, title, severity, rsit_type, tlp, pap, \
                             first_seen, last_seen, count, status";

fn alert_from_row(row: &AnyRow) -> Result<AlertRow> {
    Ok(AlertRow {
        id: row.try_get("id")?,
        org: parse_col("org_id", &row.try_get::<String, _>("org_id")?)?,
        fingerprint: row.try_get("fingerprint")?,
        format: row.try_get("format")?,
        source: row.try_get("source")?,
        source_ref: row.try_get("source_ref")?,
        title: row.try_get("title")?,
        severity: row.try_get("severity")?,
        rsit_type: row.try_get("rsit_type")?,
        tlp: parse_col("tlp", &row.try_get::<String, _>("tlp")?)?,
        pap: row.try_get("pap")?,
        first_seen: from_ms(row.try_get("first_seen")?),
        last_seen: from_ms(row.try_get("last_seen")?),
        count: row.try_get("count")?,
        status: row.try_get("status")?,
    })
}

/// What [`Store::content_of`] reads.
pub(crate) const CONTENT_COLUMNS: &str = "body, doc, original";

/// Rows per multi-row INSERT (at most: see [`rows_per_statement`]), and the values each row binds.
const INSERT_ROWS: usize = 1_000;
const INSERT_COLS: usize = 17;
/// Fingerprints per lookup query.
const LOOKUP: usize = 5_000;

type Known = HashMap<String, Vec<(String, Sighting)>>;

/// The integer the dedup index keys on (migration 12): the fingerprint's first
/// 32 bits (8 hex digits), as a signed value so SQLite stores it in 4 bytes.
/// A fingerprint that does not start with 8 hex digits (never one intake
/// makes) is hashed instead. Keys may collide; lookups check the whole
/// fingerprint on the row.
pub(crate) fn dedup_key(fingerprint: &str) -> i64 {
    let hex = fingerprint.get(..8).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    let bits = match hex.map(|h| u32::from_str_radix(h, 16)) {
        Some(Ok(v)) => v,
        // FNV-1a.
        _ => fingerprint.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193)),
    };
    i64::from(bits.cast_signed())
}

/// Fills `alerts.dedup_key` for rows stored before migration 12, inside its transaction.
pub(crate) async fn backfill_dedup_keys(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
    loop {
        let rows = sqlx::query("SELECT id, fingerprint FROM alerts WHERE dedup_key IS NULL LIMIT 5000")
            .fetch_all(&mut **tx)
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for row in rows {
            let fingerprint: String = row.try_get("fingerprint")?;
            sqlx::query("UPDATE alerts SET dedup_key = $1 WHERE id = $2")
                .bind(dedup_key(&fingerprint))
                .bind(row.try_get::<String, _>("id")?)
                .execute(&mut **tx)
                .await?;
        }
    }
}

impl Store {
    async fn sightings(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        org: &str,
        alerts: &[NewAlert],
    ) -> Result<Known> {
        let wanted: std::collections::HashSet<&str> = alerts.iter().map(|a| a.fingerprint.as_str()).collect();
        // Looked up by key (the index's, see migration 12); the whole
        // fingerprint is checked here.
        let mut keys: Vec<i64> = wanted.iter().map(|fp| dedup_key(fp)).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut known = Known::new();
        for chunk in keys.chunks(rows_per_statement(self.backend(), 1, LOOKUP)) {
            // The organisation is checked here too: given `org_id = …` the planner
            // prefers the organisation's time index and walks all its alerts.
            let mut sql = String::from(
                "SELECT id, org_id, fingerprint, first_seen, last_seen, count FROM alerts WHERE dedup_key IN (",
            );
            Params::new(self.backend()).list(&mut sql, chunk.len());
            sql.push(')');
            let mut q = sqlx::query(&sql);
            for key in chunk {
                q = q.bind(*key);
            }
            for row in q.fetch_all(&mut **tx).await? {
                let fingerprint: String = row.try_get("fingerprint")?;
                if !wanted.contains(fingerprint.as_str()) || row.try_get::<String, _>("org_id")? != org {
                    continue;
                }
                let s = Sighting {
                    first_seen: row.try_get("first_seen")?,
                    last_seen: row.try_get("last_seen")?,
                    count: row.try_get("count")?,
                };
                known.entry(fingerprint).or_default().push((row.try_get("id")?, s));
            }
        }
        Ok(known)
    }

    /// Stores a batch for `org` atomically: every alert is either a new row
    /// or folded into a stored alert with its fingerprint seen within
    /// `window_ms` of it, as `merge` decides (`Some(new state)` folds, `None`
    /// makes a new row).
    /// With a `batch_key`, a repeat of the same key changes nothing and gets
    /// the answer recorded by `answer` the first time.
    ///
    /// Returns only after the commit, so an acknowledgement means durable.
    ///
    /// # Errors
    /// Database errors; nothing of the batch is kept then.
    pub async fn ingest_alerts(
        &self,
        org: OrgId,
        batch_key: Option<&str>,
        alerts: &[NewAlert],
        window_ms: i64,
        merge: impl Fn(&Sighting, &NewAlert) -> Option<Sighting>,
        answer: impl FnOnce(IngestCounts) -> String,
    ) -> Result<Ingested> {
        self.ingest_alerts_correlated(org, batch_key, alerts, window_ms, merge, None, answer).await
    }

    /// [`Store::ingest_alerts`], with the alerts stored as new rows correlated
    /// into incidents in the same transaction (see [`Correlation`]): a batch
    /// is committed with all its incident changes or not at all. Repeats
    /// folded into stored alerts keep the incident links they have.
    ///
    /// # Errors
    /// Database errors; nothing of the batch is kept then.
    #[allow(clippy::too_many_arguments)]
    pub async fn ingest_alerts_correlated(
        &self,
        org: OrgId,
        batch_key: Option<&str>,
        alerts: &[NewAlert],
        window_ms: i64,
        merge: impl Fn(&Sighting, &NewAlert) -> Option<Sighting>,
        correlation: Option<Correlation<'_>>,
        answer: impl FnOnce(IngestCounts) -> String,
    ) -> Result<Ingested> {
        // SQLite has one writer; queueing here avoids a reader-turned-writer
        // transaction failing with SQLITE_BUSY when another batch commits first.
        let _gate = if self.backend() == Backend::Sqlite { Some(self.write_gate.lock().await) } else { None };
        let org_s = org.uuid().to_string();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if let Some(key) = batch_key {
            // Claim the key first (a write), so a concurrent twin waits for us.
            let claimed = sqlx::query(
                "INSERT INTO intake_batches (org_id, batch_key, result, created_at) VALUES ($1, $2, '', $3) \
                 ON CONFLICT (org_id, batch_key) DO NOTHING",
            )
            .bind(&org_s)
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                let result: String =
                    sqlx::query_scalar("SELECT result FROM intake_batches WHERE org_id = $1 AND batch_key = $2")
                        .bind(&org_s)
                        .bind(key)
                        .fetch_one(&mut *tx)
                        .await?;
                return Ok(Ingested::Replayed(result));
            }
        }
        if self.backend() == Backend::Postgres {
            // PostgreSQL runs batches concurrently. Two batches of one organisation
            // would each find no stored sighting of a shared fingerprint (and store it
            // twice), and no open incident for a shared observable (and each open one).
            // Its batches therefore take turns, like SQLite's, from here to the commit.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("muster-intake:{org_s}"))
                .execute(&mut *tx)
                .await?;
        }
        let mut counts = IngestCounts::default();
        // Stored sightings of this batch's fingerprints, looked up in a few
        // queries (not one per alert), then kept current as the batch folds in.
        let t_begin = std::time::Instant::now();
        let mut known = self.sightings(&mut tx, &org_s, alerts).await?;
        let t_lookup = t_begin.elapsed();
        let mut inserts: Vec<(String, &NewAlert)> = Vec::new();
        let mut new_rows: Vec<usize> = Vec::new();
        for (index, a) in alerts.iter().enumerate() {
            let candidates = known.entry(a.fingerprint.clone()).or_default();
            // The most recent stored sighting that overlaps the window around this one.
            let candidate = candidates
                .iter_mut()
                .filter(|(_, s)| {
                    s.last_seen >= a.first_seen.saturating_sub(window_ms)
                        && s.first_seen <= a.last_seen.saturating_add(window_ms)
                })
                .max_by_key(|(_, s)| s.last_seen);
            match candidate.and_then(|(id, seen)| merge(seen, a).map(|next| (id, seen, next))) {
                Some((id, seen, next)) => {
                    *seen = next;
                    match inserts.iter_mut().find(|(i, _)| i == id) {
                        // Folded into an alert of this very batch: nothing stored yet to update.
                        Some(_) => {}
                        None => {
                            sqlx::query("UPDATE alerts SET first_seen = $1, last_seen = $2, count = $3 WHERE id = $4")
                                .bind(next.first_seen)
                                .bind(next.last_seen)
                                .bind(next.count)
                                .bind(id.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    counts.duplicates += 1;
                }
                None => {
                    let id = format!("alert--{}", uuid::Uuid::now_v7());
                    candidates.push((
                        id.clone(),
                        Sighting { first_seen: a.first_seen, last_seen: a.last_seen, count: a.count },
                    ));
                    inserts.push((id, a));
                    new_rows.push(index);
                    counts.created += 1;
                }
            }
        }
        let t_fold = t_begin.elapsed();
        // Correlation decides before the rows are written, so linked alerts are stored triaged.
        let ids: HashMap<usize, &str> = new_rows.iter().zip(&inserts).map(|(i, (id, _))| (*i, id.as_str())).collect();
        let plan = match correlation {
            Some(c) if !new_rows.is_empty() => {
                let (matches, markings) = crate::correlation::open_matches(&mut tx, &org_s, &c.lookup).await?;
                let (opened, links) = (c.decide)(&new_rows, matches);
                Some((opened, links, markings, c.kept))
            }
            _ => None,
        };
        let triaged: std::collections::HashSet<&str> =
            plan.iter().flat_map(|(_, links, _, _)| links.iter().filter_map(|l| ids.get(&l.alert).copied())).collect();
        // Sightings folded into alerts of this batch end up in their insert.
        let folded: HashMap<&str, Sighting> = known.values().flatten().map(|(id, s)| (id.as_str(), *s)).collect();
        for chunk in inserts.chunks(rows_per_statement(self.backend(), INSERT_COLS, INSERT_ROWS)) {
            let mut sql = String::from(
                "INSERT INTO alerts (id, org_id, fingerprint, dedup_key, format, source, source_ref, title, severity, \
                 rsit_type, tlp, pap, first_seen, last_seen, count, created_at, body, doc, status) VALUES ",
            );
            let mut p = Params::new(self.backend());
            for (r, (id, _)) in chunk.iter().enumerate() {
                if r > 0 {
                    sql.push_str(", ");
                }
                // The document is in the packed body; the text column stays empty.
                let status = if triaged.contains(id.as_str()) { ", '', 'triaged'" } else { ", '', 'new'" };
                p.row(&mut sql, INSERT_COLS, status);
            }
            let mut q = sqlx::query(&sql);
            for (id, a) in chunk {
                let s = folded.get(id.as_str()).copied().unwrap_or(Sighting {
                    first_seen: a.first_seen,
                    last_seen: a.last_seen,
                    count: a.count,
                });
                q = q
                    .bind(id.as_str())
                    .bind(&org_s)
                    .bind(&a.fingerprint)
                    .bind(dedup_key(&a.fingerprint))
                    .bind(&a.format)
                    .bind(&a.source)
                    .bind(a.source_ref.as_deref())
                    .bind(&a.title)
                    .bind(&a.severity)
                    .bind(&a.rsit_type)
                    .bind(a.tlp.as_str())
                    .bind(&a.pap)
                    .bind(s.first_seen)
                    .bind(s.last_seen)
                    .bind(s.count)
                    .bind(now)
                    .bind(a.body.as_bytes());
            }
            q.execute(&mut *tx).await.map_err(|e| StoreError::from_insert(e, "alert"))?;
        }
        let t_insert = t_begin.elapsed();
        if let Some((opened, links, markings, kept)) = &plan {
            crate::correlation::write(&mut tx, &org_s, now, alerts, &ids, opened, links, kept, markings.clone())
                .await?;
        }
        if let Some(key) = batch_key {
            sqlx::query("UPDATE intake_batches SET result = $1 WHERE org_id = $2 AND batch_key = $3")
                .bind(answer(counts))
                .bind(&org_s)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        let t_write = t_begin.elapsed();
        tx.commit().await?;
        self.nudge_checkpoint();
        self.after_intake(counts.created);
        tracing::debug!(
            alerts = alerts.len(),
            lookup_us = t_lookup.as_micros(),
            fold_us = (t_fold - t_lookup).as_micros(),
            insert_us = (t_insert - t_fold).as_micros(),
            correlate_us = (t_write - t_insert).as_micros(),
            commit_us = (t_begin.elapsed() - t_write).as_micros(),
            "alert batch stored"
        );
        Ok(Ingested::Committed(counts))
    }

    /// Alerts that may be visible to a viewer of `org` (its own, and
    /// TLP:CLEAR/GREEN ones of others), newest first, before a cursor.
    /// Callers still pass each row through the access policy.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_alerts(&self, org: OrgId, before: Option<(i64, &str)>, limit: i64) -> Result<Vec<AlertRow>> {
        let (before_ms, before_id) = before.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts \
             WHERE (org_id = $1 OR tlp IN ('TLP:CLEAR', 'TLP:GREEN')) \
               AND (last_seen < $2 OR (last_seen = $2 AND id < $3) OR $3 = '') \
             ORDER BY last_seen DESC, id DESC LIMIT $4"
        ))
        .bind(org.uuid().to_string())
        .bind(before_ms)
        .bind(before_id)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_from_row).collect()
    }

    /// One alert by id, with its document and original record.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Corrupt`] when its stored record does not unpack.
    pub async fn get_alert(&self, id: &str) -> Result<(AlertRow, AlertContent)> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(&format!("SELECT {ALERT_COLUMNS}, {CONTENT_COLUMNS} FROM alerts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("alert {id}")))?;
        let content = self.content_of(&mut conn, id, &row).await?;
        Ok((alert_from_row(&row)?, content))
    }

    /// The alerts an incident links, oldest first, with their documents and
    /// originals, read `page` at a time (one query a page, not one per alert)
    /// and handed to `each`, so memory stays bounded however many it links.
    ///
    /// # Errors
    /// Database errors; [`StoreError::Corrupt`] when a stored record does not unpack.
    pub async fn each_incident_alert(
        &self,
        incident: &str,
        page: i64,
        mut each: impl FnMut(AlertRow, AlertContent),
    ) -> Result<()> {
        let page = page.max(1);
        let mut conn = self.pool.acquire().await?;
        let mut after = String::new();
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {ALERT_COLUMNS}, {CONTENT_COLUMNS} FROM alerts WHERE id IN \
                 (SELECT alert_id FROM incident_alerts WHERE incident_id = $1 AND alert_id > $2 \
                  ORDER BY alert_id LIMIT $3) ORDER BY id"
            ))
            .bind(incident)
            .bind(&after)
            .bind(page)
            .fetch_all(&mut *conn)
            .await?;
            let Some(last) = rows.last() else { return Ok(()) };
            after = last.try_get("id")?;
            for row in &rows {
                let alert = alert_from_row(row)?;
                let content = self.content_of(&mut conn, &alert.id, row).await?;
                each(alert, content);
            }
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) < page {
                return Ok(());
            }
        }
    }

    /// Stored alerts of an organisation and the sightings they add up to.
    ///
    /// # Errors
    /// Database errors.
    pub async fn alert_totals(&self, org: OrgId) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(count), 0) AS BIGINT) AS s FROM alerts WHERE org_id = $1",
        )
        .bind(org.uuid().to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("n")?, row.try_get("s")?))
    }

    /// Number of stored alerts of an organisation.
    ///
    /// # Errors
    /// Database errors.
    pub async fn count_alerts(&self, org: OrgId) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE org_id = $1")
            .bind(org.uuid().to_string())
            .fetch_one(&self.pool)
            .await?)
    }

    /// The newest alert of `org` with `fingerprint`, if any (uses the dedup index).
    ///
    /// # Errors
    /// Database errors.
    pub async fn find_alert_by_fingerprint(&self, org: OrgId, fingerprint: &str) -> Result<Option<AlertRow>> {
        // By the key index alone (see `sightings`), the newest of the organisation's picked here.
        let rows =
            sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE dedup_key = $1 AND fingerprint = $2"))
                .bind(dedup_key(fingerprint))
                .bind(fingerprint)
                .fetch_all(&self.pool)
                .await?;
        let mut newest: Option<AlertRow> = None;
        for row in &rows {
            let a = alert_from_row(row)?;
            if a.org == org && newest.as_ref().is_none_or(|n| (a.last_seen, &a.id) > (n.last_seen, &n.id)) {
                newest = Some(a);
            }
        }
        Ok(newest)
    }
}

#[cfg(test)]
mod tests {
    use super::dedup_key;

    #[test]
    fn the_dedup_key_is_the_fingerprints_first_32_bits_signed() {
        assert_eq!(dedup_key("0000002a9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15"), 42);
        assert_eq!(dedup_key("ffffffff00"), -1, "stored in 4 bytes by SQLite");
        assert_eq!(dedup_key("7fffffff"), i64::from(i32::MAX));
    }

    #[test]
    fn other_fingerprints_are_hashed_into_the_same_range() {
        for fp in ["o1", "+1234567abc", "ü1234567", ""] {
            let k = dedup_key(fp);
            assert!(i64::from(i32::MIN) <= k && k <= i64::from(i32::MAX), "{fp}: {k}");
            assert_eq!(k, dedup_key(fp), "deterministic");
        }
        assert_ne!(dedup_key("o1"), dedup_key("o2"));
    }
}
