//! A full-text search that matches many incidents, on SQLite: walk each
//! visibility range in sort order and keep the rows whose FTS5 document
//! matches, until a page is full.
//!
//! The match set is read once per search as one list of docids (a bitset
//! here), not rebuilt by SQLite as an `IN` table inside every range's
//! statement: with a common word that set is the bulk of the work (≈ 100,000
//! docids at 1M incidents). The walks and the final read of the page's rows
//! share one read transaction, so they see one snapshot.

use std::cmp::Ordering;

use sqlx::Row;

use super::{Args, COLUMNS, IncidentQuery, SortKey, bind, text_argument};
use crate::incidents::row_to_incident;
use crate::{IncidentRow, Result, Store};

/// The docids whose document matches the search words.
pub(crate) struct Matches {
    bits: Vec<u64>,
    count: usize,
}

impl Matches {
    fn parse(list: &str) -> Self {
        let mut bits = Vec::new();
        let mut count = 0;
        for docid in list.split(',').filter_map(|d| d.trim().parse::<usize>().ok()) {
            let (word, bit) = (docid / 64, docid % 64);
            if bits.len() <= word {
                bits.resize(word + 1, 0);
            }
            bits[word] |= 1 << bit;
            count += 1;
        }
        Self { bits, count }
    }

    fn contains(&self, docid: i64) -> bool {
        usize::try_from(docid).is_ok_and(|d| self.bits.get(d / 64).is_some_and(|w| w & (1 << (d % 64)) != 0))
    }
}

/// One range's walk: the next `chunk` rows after `from` (a sort key and id), each with its docid.
pub(super) fn walk_sql(
    q: &IncidentQuery,
    range: &str,
    common: &str,
    from: Option<(&str, &str)>,
    chunk: usize,
) -> String {
    let col = q.sort.column();
    let (dir, cmp) = if q.descending { ("DESC", "<") } else { ("ASC", ">") };
    let from = from.map(|(k, i)| format!(" AND ({col}, id) {cmp} ({k}, {i})")).unwrap_or_default();
    format!(
        "SELECT (SELECT d.docid FROM incident_search_docs d WHERE d.incident_id = incidents.id) AS docid, \
         id, {col} AS sort_key FROM incidents WHERE {range}{common}{from} \
         ORDER BY {col} {dir}, id {dir} LIMIT {chunk}"
    )
}

fn cmp_keys(a: &(SortKey, String), b: &(SortKey, String)) -> Ordering {
    let keys = match (&a.0, &b.0) {
        (SortKey::Int(x), SortKey::Int(y)) => x.cmp(y),
        // SQLite's BINARY collation compares the UTF-8 bytes, as `str` does.
        (SortKey::Text(x), SortKey::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (SortKey::Int(_), SortKey::Text(_)) => Ordering::Less,
        (SortKey::Text(_), SortKey::Int(_)) => Ordering::Greater,
    };
    keys.then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
}

impl Store {
    /// Reads the search's FTS5 matches once, as docids.
    pub(super) async fn fts_matches(&self, q: &IncidentQuery) -> Result<Matches> {
        let list: Option<String> =
            sqlx::query_scalar("SELECT group_concat(rowid) FROM incident_fts WHERE incident_fts MATCH $1")
                .bind(text_argument(self.backend(), &q.text))
                .fetch_one(&self.pool)
                .await?;
        Ok(Matches::parse(list.as_deref().unwrap_or_default()))
    }

    /// The first `batch` matching rows over all `ranges`, in the query's order.
    pub(super) async fn walk_and_probe(
        &self,
        q: &IncidentQuery,
        matches: &Matches,
        ranges: &[String],
        common: &str,
        args: &Args,
        batch: usize,
    ) -> Result<Vec<(IncidentRow, SortKey)>> {
        if matches.count == 0 {
            return Ok(Vec::new());
        }
        let docs = matches.bits.len() * 64;
        // Rows to walk for a page if matches are spread evenly, with some slack.
        let first_chunk = (batch * docs / matches.count).saturating_mul(5) / 4 + 16;
        let mut tx = self.pool.begin().await?;
        let mut found: Vec<(SortKey, String)> = Vec::new();
        for range in ranges {
            let mut kept = 0;
            let mut chunk = first_chunk.clamp(64, 4096);
            let mut last: Option<(SortKey, String)> = None;
            loop {
                let mut a = args.clone();
                let from = last.as_ref().map(|(k, i)| {
                    let k = match k {
                        SortKey::Int(n) => a.int(*n),
                        SortKey::Text(s) => a.text(s.clone()),
                    };
                    (k, a.text(i.clone()))
                });
                let sql = walk_sql(q, range, common, from.as_ref().map(|(k, i)| (k.as_str(), i.as_str())), chunk);
                let rows = bind(sqlx::query(&sql), a).fetch_all(&mut *tx).await?;
                for row in &rows {
                    let id: String = row.try_get("id")?;
                    let key = super::cursor_key(row, q.sort)?;
                    let docid: Option<i64> = row.try_get("docid")?;
                    if docid.is_some_and(|d| matches.contains(d)) && kept < batch {
                        found.push((key.clone(), id.clone()));
                        kept += 1;
                    }
                    last = Some((key, id));
                }
                if kept >= batch || rows.len() < chunk {
                    break;
                }
                chunk = (chunk * 2).min(16_384);
            }
        }
        found.sort_by(|a, b| if q.descending { cmp_keys(b, a) } else { cmp_keys(a, b) });
        found.truncate(batch);
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let mut a = Args::default();
        let list = a.texts(found.iter().map(|(_, id)| id.clone()));
        let sql = format!("SELECT {COLUMNS}, {} AS sort_key FROM incidents WHERE id IN ({list})", q.sort.column());
        let rows = bind(sqlx::query(&sql), a).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut by_id = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            let incident = row_to_incident(row)?;
            by_id.insert(incident.id.clone(), (incident, super::cursor_key(row, q.sort)?));
        }
        Ok(found.into_iter().filter_map(|(_, id)| by_id.remove(&id)).collect())
    }
}
