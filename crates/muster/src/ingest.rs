//! `muster ingest`: alert files and folders (plain or .gz) into a running
//! server or straight into the local store, with a progress bar and a summary.
//!
//! Files are sent in chunks of whole lines; each chunk carries an idempotency
//! key derived from its content, so running the same command twice (say,
//! after an interruption) adds nothing twice.
//!
//! `--format sigma-events` reads raw log events instead and runs Sigma rules
//! over them: the server's own rules with `--server`, or `--rules DIR` (else
//! the configured `[detection] sigma_rules`) on the local store.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use muster_intake::Format;
use muster_intake::sigma::{EventSource, RuleSet};
use muster_server::api::alerts::{Batch, IntakeResult, ingest_batch, parse_format};
use muster_server::api::events::{EventBatch, EventsResult, ingest_events};
use sha2::{Digest, Sha256};

/// Largest chunk sent at once (below the server's default body limit).
const CHUNK_BYTES: usize = 4 << 20;
/// Largest file read (after decompression).
const MAX_FILE_BYTES: u64 = 2 << 30;
/// Rejections listed in the summary.
const SHOWN_REJECTIONS: usize = 10;

/// The `--format` that reads raw events for Sigma detection.
pub const SIGMA_EVENTS: &str = "sigma-events";

/// Where batches go.
pub enum Target {
    Server {
        url: String,
        token: String,
    },
    Local {
        store: muster_store::Store,
        org: muster_core::OrgId,
        window_secs: u64,
        correlation: muster_intake::correlate::CorrelationConfig,
        /// Rules for `sigma-events`, and the TLP of the alerts they raise.
        sigma: Option<(std::sync::Arc<RuleSet>, Option<muster_core::Tlp>)>,
    },
}

/// Parses `--logsource product=zeek,service=dns,category=…`.
///
/// # Errors
/// An unknown key or a pair without `=`.
pub fn parse_logsource(s: Option<&str>) -> Result<EventSource> {
    let mut out = EventSource::default();
    for pair in s.unwrap_or_default().split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair.split_once('=').with_context(|| format!("--logsource: {pair:?} is not KEY=VALUE"))?;
        let v = Some(v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty());
        match k.trim() {
            "product" => out.product = v,
            "service" => out.service = v,
            "category" => out.category = v,
            other => bail!("--logsource: unknown key {other:?}; use product, service or category"),
        }
    }
    Ok(out)
}

/// Totals over every file.
#[derive(Default)]
pub struct Summary {
    pub read: u64,
    pub created: u64,
    pub duplicates: u64,
    pub ignored: u64,
    pub rejected: u64,
    /// `file:line: reason` of the first rejections.
    pub first_rejections: Vec<String>,
}

impl Summary {
    fn add(&mut self, file: &Path, first_line: u64, r: &IntakeResult) {
        self.read += r.accepted + r.ignored;
        if r.replayed {
            // This chunk was committed by an earlier run: everything in it is a repeat now.
            self.duplicates += r.accepted;
        } else {
            self.created += r.created;
            self.duplicates += r.duplicates;
        }
        self.ignored += r.ignored;
        self.add_rejections(file, first_line, &r.rejected);
    }

    fn add_events(&mut self, file: &Path, first_line: u64, r: &EventsResult) {
        self.read += r.events;
        if r.replayed {
            // Committed by an earlier run: every alert of this chunk is a repeat now.
            self.duplicates += r.alerts;
        } else {
            self.created += r.created;
            self.duplicates += r.duplicates;
        }
        self.add_rejections(file, first_line, &r.rejected);
    }

    fn add_rejections(&mut self, file: &Path, first_line: u64, rejected: &[muster_server::api::alerts::Rejection]) {
        self.read += rejected.len() as u64;
        self.rejected += rejected.len() as u64;
        for x in rejected {
            if self.first_rejections.len() < SHOWN_REJECTIONS {
                let reason = x
                    .reason
                    .split_once(": ")
                    .filter(|(h, _)| h.starts_with("line "))
                    .map_or(x.reason.as_str(), |(_, r)| r);
                self.first_rejections.push(format!("{}:{}: {reason}", file.display(), first_line + x.line - 1));
            }
        }
    }

    /// The one-line summary.
    #[must_use]
    pub fn line(&self) -> String {
        format!(
            "read {}, created {}, duplicates {}, rejected {}",
            self.read, self.created, self.duplicates, self.rejected
        )
    }
}

/// Files under `paths`, folders walked recursively, in name order.
fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            out.extend(files(&entries)?);
        } else if !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut raw = Vec::new();
    let mut head = [0u8; 2];
    let mut reader = std::io::BufReader::new(file);
    let n = reader.read(&mut head)?;
    let chained = std::io::Read::chain(&head[..n], reader);
    if head[..n] == [0x1f, 0x8b] {
        flate2::read::MultiGzDecoder::new(chained).take(MAX_FILE_BYTES).read_to_end(&mut raw)?;
    } else {
        chained.take(MAX_FILE_BYTES).read_to_end(&mut raw)?;
    }
    Ok(raw)
}

/// The Shadowserver report type of a file: its name without extensions.
fn report_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    Some(name.split('.').next().unwrap_or_default().to_owned())
}

/// Splits into chunks of whole lines: (first line number, bytes). JSON arrays
/// and CSV reports stay whole (their records need their surroundings).
fn chunks(data: &[u8], whole: bool) -> Vec<(u64, &[u8])> {
    if whole || data.len() <= CHUNK_BYTES {
        return vec![(1, data)];
    }
    let mut out = Vec::new();
    let (mut start, mut line, mut start_line) = (0, 1u64, 1u64);
    for (i, b) in data.iter().enumerate() {
        if *b == b'\n' {
            line += 1;
            if i + 1 - start >= CHUNK_BYTES {
                out.push((start_line, &data[start..=i]));
                start = i + 1;
                start_line = line;
            }
        }
    }
    if start < data.len() {
        out.push((start_line, &data[start..]));
    }
    out
}

async fn send(
    target: &Target,
    format: Option<Format>,
    report: Option<String>,
    chunk: &[u8],
    key: String,
) -> Result<IntakeResult> {
    match target {
        Target::Local { store, org, window_secs, correlation, .. } => {
            let batch = Batch { body: chunk.to_vec().into(), format, report, key: Some(key) };
            ingest_batch(store, *org, *window_secs, correlation, batch).await.map_err(|e| anyhow::anyhow!("{e}"))
        }
        Target::Server { url, token } => {
            let client = reqwest::Client::new();
            let mut query: Vec<(&str, String)> = Vec::new();
            if let Some(f) = format {
                query.push(("format", f.as_str().to_owned()));
            }
            if let Some(r) = report {
                query.push(("report", r));
            }
            post_batch(&client, url, "/api/v1/alerts", &query, token, &key, chunk).await
        }
    }
}

/// Posts one batch to `path` of the server, waiting out 429/503 answers
/// (`Retry-After`, at most 60 tries); the idempotency key makes a retry safe.
async fn post_batch<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    query: &[(&str, impl serde::Serialize)],
    token: &str,
    key: &str,
    chunk: &[u8],
) -> Result<T> {
    for attempt in 0..60 {
        let resp = client
            .post(format!("{}{path}", url.trim_end_matches('/')))
            .query(query)
            .bearer_auth(token)
            .header("idempotency-key", key)
            .body(chunk.to_vec())
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        if status.as_u16() == 503 || status.as_u16() == 429 {
            let wait = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(1u64);
            tokio::time::sleep(Duration::from_secs(wait.min(30)) + Duration::from_millis(50 * attempt)).await;
            continue;
        }
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("server answered {status}: {text}");
        }
        return serde_json::from_str(&text).with_context(|| format!("unexpected answer: {text}"));
    }
    bail!("the server stayed busy; try again later")
}

async fn send_events(target: &Target, source: &EventSource, chunk: &[u8], key: String) -> Result<EventsResult> {
    match target {
        Target::Local { store, org, window_secs, sigma, correlation } => {
            let (rules, tlp) = sigma
                .clone()
                .context("--format sigma-events on the local store needs --rules DIR (or [detection] sigma_rules)")?;
            let batch = EventBatch { body: chunk.to_vec().into(), source: source.clone(), key: Some(key) };
            ingest_events(store, *org, *window_secs, rules, tlp, correlation, batch)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
        Target::Server { url, token } => {
            let client = reqwest::Client::new();
            let query: Vec<(&str, &String)> =
                [("product", &source.product), ("service", &source.service), ("category", &source.category)]
                    .into_iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
                    .collect();
            post_batch(&client, url, "/api/v1/events", &query, token, &key, chunk).await
        }
    }
}

/// Runs Sigma rules over raw event files (NDJSON or JSON arrays); returns the totals.
///
/// # Errors
/// Unreadable files, an unreachable server, or a refused request.
pub async fn run_events(target: &Target, source: &EventSource, paths: &[PathBuf]) -> Result<Summary> {
    let files = files(paths)?;
    let mut summary = Summary::default();
    for file in &files {
        let data = read_file(file)?;
        let whole = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        for (first_line, chunk) in chunks(&data, whole) {
            let key = format!("ingest-{}", hex::encode(Sha256::digest(chunk)));
            let r = send_events(target, source, chunk, key).await?;
            summary.add_events(file, first_line, &r);
        }
    }
    Ok(summary)
}

/// Ingests every file; returns the totals.
///
/// # Errors
/// Unreadable files, an unreachable server, or a refused request.
pub async fn run(target: &Target, format: Option<&str>, paths: &[PathBuf]) -> Result<Summary> {
    let format = parse_format(format).map_err(|e| anyhow::anyhow!("--format {e}"))?;
    let files = files(paths)?;
    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summary = Summary::default();
    for file in &files {
        bar.set_message(file.display().to_string());
        let data = read_file(file)?;
        let report = report_name(file);
        let csv = matches!(format, Some(Format::Shadowserver))
            || file.to_string_lossy().trim_end_matches(".gz").ends_with(".csv");
        let whole = csv || data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        let chunk_format = if csv && format.is_none() { Some(Format::Shadowserver) } else { format };
        for (first_line, chunk) in chunks(&data, whole) {
            let key = format!("ingest-{}", hex::encode(Sha256::digest(chunk)));
            let r = send(target, chunk_format, csv.then(|| report.clone()).flatten(), chunk, key).await?;
            summary.add(file, first_line, &r);
        }
        bar.inc(std::fs::metadata(file).map(|m| m.len()).unwrap_or(0));
    }
    bar.finish_and_clear();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_whole_lines_and_their_numbers() {
        let line = vec![b'x'; 1000];
        let mut data = Vec::new();
        for _ in 0..10_000 {
            data.extend_from_slice(&line);
            data.push(b'\n');
        }
        let cs = chunks(&data, false);
        assert!(cs.len() > 1);
        let mut expected_line = 1;
        for (first, c) in &cs {
            assert_eq!(*first, expected_line);
            assert!(c.ends_with(b"\n"));
            expected_line += c.iter().filter(|b| **b == b'\n').count() as u64;
        }
        assert_eq!(cs.iter().map(|(_, c)| c.len()).sum::<usize>(), data.len());
        assert_eq!(chunks(&data, true).len(), 1);
    }
}
