//! Start-up of Sigma detection: load the configured rule folder once, log
//! what loaded and every refused rule (file and reason), and refuse to start
//! only when the folder itself cannot be read.

use muster_intake::sigma::{LoadError, RuleSet};

use crate::config::Detection;

/// The configured rule set, or `None` when detection is off.
///
/// # Errors
/// [`LoadError`] when `sigma_rules` names a folder that cannot be read.
pub fn load(cfg: &Detection) -> Result<Option<RuleSet>, LoadError> {
    let Some(dir) = &cfg.sigma_rules else { return Ok(None) };
    let set = RuleSet::load_dir(dir)?;
    let r = set.report();
    for e in &r.errors {
        tracing::warn!(folder = %dir.display(), "Sigma rule refused: {e}");
    }
    if set.rule_count() == 0 {
        tracing::warn!(folder = %dir.display(), files = r.files, "no usable Sigma rule; POST /api/v1/events raises nothing");
    }
    tracing::info!(
        folder = %dir.display(),
        files = r.files,
        rules = r.rules,
        filters = r.filters,
        refused = r.errors.len(),
        "Sigma rules loaded"
    );
    Ok(Some(set))
}
