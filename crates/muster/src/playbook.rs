//! `muster playbook`: validate CACAO 2.0 playbooks, and run one on this
//! machine without a server (`muster_cacao::LocalHost`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::Subcommand;
use muster_cacao::engine::{ExecutionRecord, ExecutionStatus, HostError};
use muster_cacao::local::{LocalHost, ManualAnswers, json_line};
use muster_cacao::runners::{EgressPolicy, RunnerConfig, Runners};
use muster_cacao::validate::Options;
use muster_cacao::{Cancellation, Engine, EngineConfig, Playbook, RunStatus};
use serde_json::Value;

/// `muster playbook …`
#[derive(Debug, Subcommand)]
pub enum PlaybookCommand {
    /// Check playbooks against the CACAO 2.0 rules (schema and semantics); each
    /// problem is printed with its JSON path. Exit 0 only when every file is valid.
    #[command(after_help = "Example:\n  muster playbook validate block-ip.json playbooks/*.json")]
    Validate {
        /// Playbook files (JSON).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Run a playbook here, without a server, printing each step as it runs.
    /// Network commands reach only hosts allowed with --allow-host. Exit 0 when the run completes.
    #[command(after_help = "Example:\n  muster playbook run block-ip.json --var __ip__=203.0.113.9 \
                            --allow-host fw.example.org --json")]
    Run {
        /// The playbook file (JSON).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Value of an external playbook variable (`__ip__=…` or `ip=…`); repeatable.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Host the runners may connect to: a name, `*.domain`, an IP address or a
        /// network (CIDR); repeatable. Private, loopback and link-local addresses
        /// need an entry naming the address or its network.
        #[arg(long = "allow-host", value_name = "HOST")]
        allow_hosts: Vec<String>,
        /// Answer of a manual step, given in advance: `STEP_ID:NAME=VALUE`; repeatable.
        #[arg(long = "answer", value_name = "STEP:NAME=VALUE")]
        answers: Vec<String>,
        /// Allow `bash` commands (off by default).
        #[arg(long)]
        enable_bash: bool,
        /// Print one CACAO execution-status record per line instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Where the command writes its report.
pub type Output = Arc<Mutex<dyn Write + Send>>;

/// Runs `cmd`, writing to standard output.
///
/// # Errors
/// When the output cannot be written or the run cannot be set up.
pub async fn run(cmd: PlaybookCommand) -> Result<ExitCode> {
    run_with_output(cmd, Arc::new(Mutex::new(std::io::stdout()))).await
}

/// Runs `cmd`, writing to `out` (tests capture it).
///
/// # Errors
/// As [`run`].
pub async fn run_with_output(cmd: PlaybookCommand, out: Output) -> Result<ExitCode> {
    match cmd {
        PlaybookCommand::Validate { files } => validate_files(&files, &out),
        PlaybookCommand::Run { file, vars, allow_hosts, answers, enable_bash, json } => {
            let options = RunOptions { vars, allow_hosts, answers, enable_bash, json };
            run_file(&file, &options, out).await
        }
    }
}

fn emit(out: &Output, text: &str) -> Result<()> {
    let mut w = out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    writeln!(w, "{text}").and_then(|()| w.flush()).context("writing the output")
}

fn validate_files(files: &[PathBuf], out: &Output) -> Result<ExitCode> {
    let mut all_valid = true;
    for file in files {
        let name = file.display();
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                all_valid = false;
                emit(out, &format!("{name}: cannot read: {e}"))?;
                continue;
            }
        };
        let report = muster_cacao::validate(&bytes);
        all_valid &= report.is_valid();
        let verdict = if report.is_valid() { "valid" } else { "INVALID" };
        let counts = format!("{} error(s), {} warning(s)", report.errors.len(), report.warnings.len());
        emit(out, &format!("{name}: {verdict} ({counts})"))?;
        for e in &report.errors {
            emit(out, &format!("  error   {e}"))?;
        }
        for w in &report.warnings {
            emit(out, &format!("  warning {w}"))?;
        }
    }
    Ok(if all_valid { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

struct RunOptions {
    vars: Vec<String>,
    allow_hosts: Vec<String>,
    answers: Vec<String>,
    enable_bash: bool,
    json: bool,
}

/// `__name__` from `name` or `__name__`.
fn var_name(name: &str) -> String {
    if name.starts_with("__") && name.ends_with("__") && name.len() > 4 {
        name.to_owned()
    } else {
        format!("__{}__", name.trim_matches('_'))
    }
}

/// A command-line value for `name`: JSON for a dictionary variable, a string otherwise.
fn var_value(pb: &Playbook, name: &str, value: &str) -> Result<Value> {
    let is_dictionary = pb
        .playbook_variables
        .as_ref()
        .and_then(|v| v.get(name))
        .is_some_and(|v| v.kind == muster_cacao::model::VariableType::Dictionary);
    if is_dictionary {
        serde_json::from_str(value).with_context(|| format!("--var {name}: a dictionary value must be a JSON object"))
    } else {
        Ok(Value::String(value.to_owned()))
    }
}

fn parse_inputs(pb: &Playbook, vars: &[String]) -> Result<BTreeMap<String, Value>> {
    let mut inputs = BTreeMap::new();
    for v in vars {
        let (name, value) = v.split_once('=').with_context(|| format!("--var {v:?}: expected NAME=VALUE"))?;
        let name = var_name(name);
        let value = var_value(pb, &name, value)?;
        inputs.insert(name, value);
    }
    Ok(inputs)
}

fn parse_answers(answers: &[String]) -> Result<ManualAnswers> {
    let mut out = ManualAnswers::new();
    for a in answers {
        let bad = || format!("--answer {a:?}: expected STEP_ID:NAME=VALUE");
        let (step, assignment) = a.split_once(':').with_context(bad)?;
        let (name, value) = assignment.split_once('=').with_context(bad)?;
        out.entry(step.to_owned()).or_default().insert(var_name(name), Value::String(value.to_owned()));
    }
    Ok(out)
}

/// One line of text for a record, or `None` for records not worth a line.
fn describe(record: &ExecutionRecord, names: &BTreeMap<String, String>) -> String {
    let step = names.get(&record.workflow_step).cloned().unwrap_or_else(|| record.workflow_step.clone());
    let how = if record.automated_execution { "" } else { " (manual)" };
    match record.status {
        ExecutionStatus::Ongoing => format!("▶ {step}{how}"),
        ExecutionStatus::SuccessfullyCompleted => {
            format!("✓ {step}{how} completed in {} ms", record.duration.unwrap_or(0))
        }
        other => {
            let status =
                serde_json::to_value(other).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let text = record.status_text.as_deref().unwrap_or("");
            format!("✗ {step}{how} {status}: {text}")
        }
    }
}

async fn run_file(file: &Path, options: &RunOptions, out: Output) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let pb = match muster_cacao::validate::parse(&bytes, &Options::default()) {
        Ok((pb, _)) => pb,
        Err(report) => {
            emit(&out, &format!("{}: INVALID, not run", file.display()))?;
            for e in &report.errors {
                emit(&out, &format!("  error   {e}"))?;
            }
            return Ok(ExitCode::from(2));
        }
    };
    let inputs = parse_inputs(&pb, &options.vars)?;
    let mut config = RunnerConfig {
        egress: EgressPolicy::allowing(&options.allow_hosts).context("--allow-host")?,
        ..RunnerConfig::default()
    };
    config.bash.enabled = options.enable_bash;
    let runners = Runners::new(config)?;

    let names: BTreeMap<String, String> = pb
        .workflow
        .iter()
        .map(|(id, step)| {
            (id.clone(), step.common().name.clone().map_or_else(|| id.clone(), |n| format!("{n} [{id}]")))
        })
        .collect();
    let json = options.json;
    let sink_out = Arc::clone(&out);
    let host = LocalHost::new(runners).with_manual_answers(parse_answers(&options.answers)?).with_sink(Arc::new(
        move |record: &ExecutionRecord| {
            let line = if json { json_line(record)? } else { describe(record, &names) };
            emit(&sink_out, &line).map_err(|e| HostError(e.to_string()))
        },
    ));
    let engine = Engine::new(Arc::new(host), EngineConfig::default());
    let outcome = match engine.run(&pb, &inputs, &Cancellation::new()).await {
        Ok(o) => o,
        Err(e) => {
            // Text mode reports on stdout; JSON mode keeps stdout for records.
            if json {
                eprintln!("error: {e}");
            } else {
                emit(&out, &format!("not run: {e}"))?;
            }
            return Ok(ExitCode::from(2));
        }
    };
    let (summary, code) = match &outcome.status {
        RunStatus::Completed => ("completed".to_owned(), ExitCode::SUCCESS),
        RunStatus::Failed(m) => (format!("failed: {m}"), ExitCode::FAILURE),
        RunStatus::Cancelled => ("cancelled".to_owned(), ExitCode::FAILURE),
        RunStatus::Interrupted(m) => (format!("interrupted: {m}"), ExitCode::FAILURE),
    };
    let line = format!("playbook {} {summary} (execution {})", pb.id, outcome.execution_id);
    if json {
        eprintln!("{line}");
    } else {
        emit(&out, &line)?;
    }
    Ok(code)
}
