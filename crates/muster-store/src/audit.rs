//! The append-only audit log. Each entry carries the hash of the previous one,
//! and `audit_head` records the newest sequence number and hash, so editing,
//! deleting or reordering any entry (the newest included) is detected by
//! [`Store::verify_audit`].

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, from_ms, now_ms};

/// What to record.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    /// Who acted: `user:<username>`, `token:<id>`, `cli`, `system`.
    pub actor: String,
    /// The organisation the actor acted for, if any.
    pub org: Option<String>,
    /// Dotted verb, e.g. `user.create`.
    pub action: String,
    /// What was acted on (an id or handle).
    pub target: String,
    /// Non-secret details.
    pub detail: serde_json::Value,
}

/// A stored entry.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    pub actor: String,
    pub org: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of checking the chain.
#[derive(Debug, Clone, Serialize)]
pub struct AuditVerdict {
    pub entries: i64,
    pub problems: Vec<String>,
}

impl AuditVerdict {
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The hash of an entry: its link to the previous entry, its position and time,
/// and its fields (actor, organisation, action, target, detail), each length-prefixed.
fn entry_hash(prev: &str, seq: i64, at: i64, fields: [&str; 5]) -> String {
    let mut h = Sha256::new();
    for part in [prev, &seq.to_string(), &at.to_string()].into_iter().chain(fields) {
        h.update(part.len().to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

fn entry_from_row(row: &AnyRow) -> Result<(AuditEntry, i64, String)> {
    let detail_text: String = row.try_get("detail")?;
    let at: i64 = row.try_get("at")?;
    let entry = AuditEntry {
        seq: row.try_get("seq")?,
        at: from_ms(at),
        actor: row.try_get("actor")?,
        org: row.try_get("org_id")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        detail: serde_json::from_str(&detail_text).unwrap_or(serde_json::Value::String(detail_text.clone())),
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    };
    Ok((entry, at, detail_text))
}

impl Store {
    /// Appends an entry; returns its sequence number.
    ///
    /// # Errors
    /// Database errors.
    pub async fn audit(&self, e: &NewAuditEntry) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        // Update first: takes the write lock before reading the head, so
        // concurrent appenders queue up instead of forking the chain.
        let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *tx)
            .await?;
        let seq: i64 = head.try_get("seq")?;
        let prev: String = head.try_get("hash")?;
        let at = now_ms();
        let detail = e.detail.to_string();
        let hash =
            entry_hash(&prev, seq, at, [&e.actor, e.org.as_deref().unwrap_or(""), &e.action, &e.target, &detail]);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, org_id, action, target, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(seq)
        .bind(at)
        .bind(&e.actor)
        .bind(e.org.clone())
        .bind(&e.action)
        .bind(&e.target)
        .bind(&detail)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&hash).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Entries newest first, optionally of one organisation, before a sequence number.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_audit(&self, org: Option<&str>, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, org_id, action, target, detail, prev_hash, hash FROM audit_log \
             WHERE ($1 IS NULL OR org_id = $1) AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(org.map(str::to_owned))
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| entry_from_row(r).map(|(e, _, _)| e)).collect()
    }

    /// Walks the whole chain and reports every inconsistency.
    ///
    /// # Errors
    /// Database errors.
    pub async fn verify_audit(&self) -> Result<AuditVerdict> {
        let mut problems = Vec::new();
        let mut expected_seq = 1;
        let mut prev = "0".repeat(64);
        let mut entries = 0;
        let mut last_id = 0;
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, actor, org_id, action, target, detail, prev_hash, hash FROM audit_log \
                 WHERE seq > $1 ORDER BY seq LIMIT 5000",
            )
            .bind(last_id)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let (e, at, detail) = entry_from_row(row)?;
                entries += 1;
                last_id = e.seq;
                if e.seq != expected_seq {
                    problems.push(format!("entries {expected_seq}..{} are missing", e.seq - 1));
                }
                if e.prev_hash != prev {
                    problems.push(format!("entry {}: previous-hash link is broken", e.seq));
                }
                let h = entry_hash(
                    &e.prev_hash,
                    e.seq,
                    at,
                    [&e.actor, e.org.as_deref().unwrap_or(""), &e.action, &e.target, &detail],
                );
                if h != e.hash {
                    problems.push(format!("entry {}: content does not match its hash (edited)", e.seq));
                }
                prev = e.hash;
                expected_seq = e.seq + 1;
            }
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::Corrupt("audit_head row is missing".into()))?;
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        if head_seq != expected_seq - 1 {
            problems.push(format!(
                "the log ends at entry {} but {head_seq} were written (newest entries deleted)",
                expected_seq - 1
            ));
        } else if head_hash != prev {
            problems.push(format!("entry {head_seq}: does not match the recorded head hash"));
        }
        Ok(AuditVerdict { entries, problems })
    }
}

#[cfg(test)]
mod tests {
    use super::entry_hash;

    #[test]
    fn hash_separates_fields_unambiguously() {
        let a = entry_hash("p", 1, 2, ["ab", "", "c", "t", "{}"]);
        let b = entry_hash("p", 1, 2, ["a", "b", "c", "t", "{}"]);
        assert_ne!(a, b);
    }
}
