//! Sigma detection: rules loaded from a folder run over raw log events
//! (Windows process creation, Zeek, DNS, firewall logs… as JSON) and every
//! match becomes a normalised [`Alert`].
//!
//! Parsing and matching are `rsigma-parser` and `rsigma-eval`; this module
//! loads a rule folder (a bad rule is reported with its file and reason and
//! the rest still load), shapes events the way Sigma rules expect them
//! (EVTX-as-JSON records are flattened to `EventData` fields), and maps each
//! match onto the alert: title, level, ATT&CK tags, observables, RSIT.

mod event;
mod map;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rsigma_eval::{Engine, JsonEvent};
use rsigma_parser::{SigmaRule, parse_sigma_yaml};

use crate::alert::Alert;
use crate::parse::ParseOptions;
use crate::parse::json::JsonRecord;
use crate::reject::Reject;

pub use event::normalise;

/// Largest rule file read.
const MAX_RULE_FILE: u64 = 1 << 20;
/// Most rule files read from one folder.
const MAX_RULE_FILES: usize = 20_000;

/// Where a raw event comes from, in Sigma's `logsource` terms (lower case).
/// Rules for another product, service or category are not evaluated on it.
/// A rule naming a product or service runs only on events known to be from
/// it (rules of a product name that product's fields, and a `not selection`
/// rule would otherwise fire on every unrelated event); a rule naming only a
/// category also runs on events whose category is unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

impl EventSource {
    fn to_logsource(&self) -> rsigma_parser::LogSource {
        rsigma_parser::LogSource {
            product: self.product.clone(),
            service: self.service.clone(),
            category: self.category.clone(),
            ..rsigma_parser::LogSource::default()
        }
    }
}

/// A rule file that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The file, as found under the folder (or the name given to [`RuleSet::from_sources`]).
    pub file: PathBuf,
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.reason)
    }
}

/// The rule folder itself could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the Sigma rules folder {path}: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a folder of Sigma rules (.yml/.yaml)")]
    NotAFolder { path: PathBuf },
    #[error("the Sigma rules folder {path} has more than {MAX_RULE_FILES} files; point at a smaller folder")]
    TooManyFiles { path: PathBuf },
}

/// What loading found: counts and the files that were refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Rule files read (`.yml`/`.yaml`).
    pub files: usize,
    /// Detection rules compiled and active.
    pub rules: usize,
    /// Filter rules applied to the detection rules.
    pub filters: usize,
    /// Problems, one per refused rule or document.
    pub errors: Vec<RuleError>,
}

/// What an alert keeps of the rule that raised it, beyond what the match carries.
#[derive(Debug, Clone)]
pub(crate) struct RuleInfo {
    pub file: PathBuf,
    pub description: Option<String>,
    pub author: Option<String>,
    pub license: Option<String>,
    pub status: Option<&'static str>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub logsource: String,
    /// The rule's `logsource.product` and `service`, lower case.
    pub product: Option<String>,
    pub service: Option<String>,
}

/// A compiled set of Sigma detection rules. Cheap to share behind an `Arc`;
/// evaluation takes `&self`.
pub struct RuleSet {
    engine: Engine,
    /// By rule id, or by title for rules without one.
    info: HashMap<String, Arc<RuleInfo>>,
    report: LoadReport,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet").field("report", &self.report).finish_non_exhaustive()
    }
}

impl RuleSet {
    /// Loads every `.yml`/`.yaml` file under `dir`, recursively, in name order.
    /// Bad rules are listed in [`RuleSet::report`]; the rest are active.
    ///
    /// # Errors
    /// [`LoadError`] when the folder itself cannot be read.
    pub fn load_dir(dir: &Path) -> Result<Self, LoadError> {
        let meta = std::fs::metadata(dir).map_err(|source| LoadError::Unreadable { path: dir.into(), source })?;
        if !meta.is_dir() {
            return Err(LoadError::NotAFolder { path: dir.into() });
        }
        let mut files = Vec::new();
        walk(dir, &mut files)?;
        files.sort();
        let mut errors = Vec::new();
        let mut sources = Vec::with_capacity(files.len());
        for path in files {
            let shown = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
            match read_rule_file(&path) {
                Ok(text) => sources.push((shown, text)),
                Err(reason) => errors.push(RuleError { file: shown, reason }),
            }
        }
        let file_count = sources.len() + errors.len();
        let mut set = Self::from_sources(sources);
        set.report.files = file_count;
        errors.append(&mut set.report.errors);
        // Stable: a file's own problems stay in the order they were found.
        errors.sort_by(|a, b| a.file.cmp(&b.file));
        set.report.errors = errors;
        Ok(set)
    }

    /// Compiles rules from (file name, YAML text) pairs.
    #[must_use]
    pub fn from_sources(sources: impl IntoIterator<Item = (PathBuf, String)>) -> Self {
        let mut report = LoadReport::default();
        let mut rules: Vec<(PathBuf, SigmaRule)> = Vec::new();
        let mut filters = Vec::new();
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for (file, text) in sources {
            report.files += 1;
            let err = |reason: String| RuleError { file: file.clone(), reason };
            let collection = match parse_sigma_yaml(&text) {
                Ok(c) => c,
                Err(e) => {
                    report.errors.push(err(e.to_string()));
                    continue;
                }
            };
            report.errors.extend(collection.errors.iter().map(|e| err(e.clone())));
            for c in &collection.correlations {
                report.errors.push(err(format!(
                    "correlation rule {:?} skipped: only detection and filter rules are evaluated",
                    c.title
                )));
            }
            for rule in collection.rules {
                let key = rule_key(rule.id.as_deref(), &rule.title);
                if let Some(first) = seen.get(&key) {
                    report.errors.push(err(format!(
                        "rule {:?} skipped: its id {key} is already used by {}",
                        rule.title,
                        first.display()
                    )));
                    continue;
                }
                seen.insert(key, file.clone());
                rules.push((file.clone(), rule));
            }
            filters.extend(collection.filters.into_iter().map(|f| (file.clone(), f)));
        }
        let mut engine = Engine::new();
        let failed = engine.add_rules(rules.iter().map(|(_, r)| r));
        let mut failed_at: Vec<usize> = Vec::with_capacity(failed.len());
        for (i, e) in failed {
            if let Some((file, rule)) = rules.get(i) {
                report.errors.push(RuleError { file: file.clone(), reason: format!("rule {:?}: {e}", rule.title) });
            }
            failed_at.push(i);
        }
        for (file, f) in &filters {
            match engine.apply_filter(f) {
                Ok(()) => report.filters += 1,
                Err(e) => {
                    report.errors.push(RuleError { file: file.clone(), reason: format!("filter {:?}: {e}", f.title) })
                }
            }
        }
        let mut info = HashMap::with_capacity(rules.len());
        for (i, (file, rule)) in rules.into_iter().enumerate() {
            if !failed_at.contains(&i) {
                info.insert(rule_key(rule.id.as_deref(), &rule.title), Arc::new(rule_info(file, &rule)));
            }
        }
        report.rules = engine.rule_count();
        Self { engine, info, report }
    }

    /// Counts and refused rules from loading.
    #[must_use]
    pub const fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Active detection rules.
    #[must_use]
    pub fn rule_count(&self) -> usize {
        self.engine.rule_count()
    }

    /// Evaluates one raw event (a JSON object) from `source` (what the sender
    /// declared; the event's own fields fill the rest) and returns an alert
    /// per matching rule, in rule order; none when nothing matches.
    ///
    /// # Errors
    /// A [`Reject`] when the record is too large, not UTF-8, not JSON or not an object.
    pub fn evaluate(&self, record: &[u8], source: &EventSource, options: &ParseOptions) -> Result<Vec<Alert>, Reject> {
        let parsed = JsonRecord::parse(record, options)?;
        let event = event::normalise(parsed.root);
        let source = event::logsource(&event, source);
        let matches = self.engine.evaluate_pruned(&JsonEvent::borrow(&event), &source.to_logsource());
        let mut alerts = Vec::with_capacity(matches.len());
        for m in &matches {
            let Some(d) = m.as_detection() else { continue };
            let key = rule_key(m.header.rule_id.as_deref(), &m.header.rule_title);
            let info = self.info.get(&key).map(Arc::as_ref);
            if let Some(i) = info
                && ((i.product.is_some() && source.product.is_none())
                    || (i.service.is_some() && source.service.is_none()))
            {
                continue;
            }
            alerts.push(map::alert(&m.header, d, info, &event, record, options));
        }
        Ok(alerts)
    }
}

fn rule_key(id: Option<&str>, title: &str) -> String {
    id.map_or_else(|| format!("title:{title}"), str::to_owned)
}

fn rule_info(file: PathBuf, r: &SigmaRule) -> RuleInfo {
    let ls = &r.logsource;
    let logsource = [ls.product.as_deref(), ls.category.as_deref(), ls.service.as_deref()]
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    RuleInfo {
        file,
        description: r.description.clone(),
        author: r.author.clone(),
        license: r.license.clone(),
        status: r.status.map(status_name),
        references: r.references.clone(),
        falsepositives: r.falsepositives.clone(),
        logsource,
        product: ls.product.as_ref().map(|p| p.to_ascii_lowercase()),
        service: ls.service.as_ref().map(|p| p.to_ascii_lowercase()),
    }
}

fn status_name(s: rsigma_parser::Status) -> &'static str {
    use rsigma_parser::Status;
    match s {
        Status::Stable => "stable",
        Status::Test => "test",
        Status::Experimental => "experimental",
        Status::Deprecated => "deprecated",
        Status::Unsupported => "unsupported",
    }
}

fn is_rule_file(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Unreadable { path: dir.into(), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Unreadable { path: dir.into(), source })?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        // Follows links to folders; a link cycle ends at the file limit.
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_rule_file(&path) {
            out.push(path);
        }
        if out.len() > MAX_RULE_FILES {
            return Err(LoadError::TooManyFiles { path: dir.into() });
        }
    }
    Ok(())
}

fn read_rule_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_RULE_FILE + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_RULE_FILE {
        return Err(format!("larger than {MAX_RULE_FILE} bytes; not a Sigma rule"));
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()))
}
