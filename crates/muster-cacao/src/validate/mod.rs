//! Validation of CACAO playbooks: limits, structure and semantics, each problem
//! located by a JSON pointer.
//!
//! The official JSON schemas are used by the tests as an oracle; at run time
//! every check here is Rust, so the crate needs no schema files.
//!
//! Errors make a playbook invalid. Warnings are kept for problems that real,
//! published playbooks have and that the specification's own examples and the
//! schemas tolerate (a dangling `workflow_exception`, an agent referenced but
//! not defined, a `workflow_start` that is not a start step). With
//! [`Strictness::Execution`] the unresolved references become errors, because
//! an engine cannot run a step whose agent it cannot resolve.

mod graph;
mod limits;
mod objects;
mod steps;

use serde::Serialize;

use crate::model::Playbook;

/// Input limits. Exceeding one is an error, never a panic.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest document accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of JSON arrays and objects.
    pub max_depth: usize,
    /// Most workflow steps in one playbook.
    pub max_steps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 16 * 1024 * 1024, max_depth: 64, max_steps: 10_000 }
    }
}

/// How strict validation is about references that point nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// Document validity, matching the schemas and the published examples.
    #[default]
    Document,
    /// Fit to run: unresolved agents, targets, authentication info and
    /// markings are errors.
    Execution,
}

/// Validation options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub limits: Limits,
    pub strictness: Strictness,
}

/// One problem, located by a JSON pointer (RFC 6901) into the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() { "/" } else { &self.path };
        write!(f, "{path}: {}", self.message)
    }
}

/// The outcome of validating one document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

impl Report {
    /// `true` when there is no error (warnings allowed).
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Issue { path: path.into(), message: message.into() });
    }

    pub(crate) fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Issue { path: path.into(), message: message.into() });
    }
}

/// Escapes one JSON-pointer segment.
pub(crate) fn seg(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Validates a playbook document with the default options.
#[must_use]
pub fn validate(json: &[u8]) -> Report {
    validate_with(json, &Options::default())
}

/// Validates a playbook document.
#[must_use]
pub fn validate_with(json: &[u8], options: &Options) -> Report {
    match parse(json, options) {
        Ok((_, report)) | Err(report) => report,
    }
}

/// Parses and validates a playbook. On success the report holds only warnings.
///
/// # Errors
/// The report, when the document is invalid.
pub fn parse(json: &[u8], options: &Options) -> Result<(Playbook, Report), Report> {
    let mut report = Report::default();
    if let Err(issue) = limits::check(json, &options.limits) {
        report.errors.push(issue);
        return Err(report);
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let playbook: Playbook = match serde_path_to_error::deserialize(&mut de) {
        Ok(p) => p,
        Err(e) => {
            report.error(limits::pointer(e.path()), e.inner().to_string());
            return Err(report);
        }
    };
    if let Err(e) = de.end() {
        report.error("", e.to_string());
        return Err(report);
    }
    let checked = check(&playbook, options);
    if checked.is_valid() { Ok((playbook, checked)) } else { Err(checked) }
}

/// Checks an already-parsed playbook (for example one built in code before export).
#[must_use]
pub fn check(playbook: &Playbook, options: &Options) -> Report {
    let mut cx = objects::Checker::new(playbook, options);
    cx.playbook();
    steps::check(&mut cx);
    graph::check(&mut cx);
    cx.report
}
