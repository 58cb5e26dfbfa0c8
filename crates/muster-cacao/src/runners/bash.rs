//! `bash` commands: disabled unless configured, bounded in time and output.
//!
//! Variable values never become shell code. The runner takes the command as
//! the playbook wrote it (before substitution) and replaces each
//! `__name__:value` with a reference to an environment variable holding the
//! value, quoted for where it stands: `"${MUSTER_VAR_0}"` outside quotes,
//! `${MUSTER_VAR_0}` inside double quotes, `'"${MUSTER_VAR_0}"'` inside single
//! quotes. A parameter expansion is not parsed again as code, so a value such
//! as `x; rm -rf /` stays one argument. (Code the author wrote, such as `eval`,
//! is the author's.) The process gets an empty environment apart from `PATH`,
//! `LANG` and those variables, no standard input, its own process group
//! (killed whole on timeout), and its output is capped.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::outputs::{RawResult, map_out_args};
use super::{BashConfig, failure};
use crate::engine::{CommandFailure, CommandOutput, CommandRequest, FailureKind};
use crate::vars::reference_spans;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quote {
    None,
    Single,
    Double,
}

/// Advances the quoting state over literal shell text.
pub(crate) fn scan(text: &str, mut state: Quote) -> Quote {
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        state = match (state, c) {
            (Quote::None | Quote::Double, '\\') => {
                chars.next();
                state
            }
            (Quote::None, '\'') => Quote::Single,
            (Quote::None, '"') => Quote::Double,
            (Quote::Single, '\'') | (Quote::Double, '"') => Quote::None,
            _ => state,
        };
    }
    state
}

/// The script with variable references bound to environment variables, and those variables.
pub(crate) fn bind(
    template: &str,
    values: &BTreeMap<String, String>,
) -> Result<(String, Vec<(String, String)>), String> {
    let mut script = String::with_capacity(template.len());
    let mut env: Vec<(String, String)> = Vec::new();
    let mut names: BTreeMap<&str, String> = BTreeMap::new();
    let mut state = Quote::None;
    let mut last = 0;
    for (range, name) in reference_spans(template) {
        let literal = &template[last..range.start];
        state = scan(literal, state);
        script.push_str(literal);
        let value = values.get(name).ok_or_else(|| format!("variable {name} has no value for this command"))?;
        let var = names
            .entry(name)
            .or_insert_with(|| {
                let v = format!("MUSTER_VAR_{}", env.len());
                env.push((v.clone(), value.clone()));
                v
            })
            .clone();
        script.push_str(&match state {
            Quote::None => format!("\"${{{var}}}\""),
            Quote::Double => format!("${{{var}}}"),
            Quote::Single => format!("'\"${{{var}}}\"'"),
        });
        last = range.end;
    }
    script.push_str(&template[last..]);
    Ok((script, env))
}

async fn read_capped<R: AsyncRead + Unpin>(reader: Option<R>, cap: usize) -> Vec<u8> {
    let Some(mut reader) = reader else { return Vec::new() };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

#[cfg(unix)]
fn kill_group(pid: Option<u32>) {
    use nix::sys::signal::{Signal, killpg};
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // The group may already be gone; nothing to do then.
        let _ = killpg(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: Option<u32>) {}

pub(crate) async fn run(config: &BashConfig, request: &CommandRequest) -> Result<CommandOutput, CommandFailure> {
    if !config.enabled {
        return Err(failure(
            FailureKind::Failed,
            "bash commands are disabled: enable the bash runner in the runner configuration \
             (muster playbook run --enable-bash) to run them; the step was not run",
        ));
    }
    let template = match (&request.template.command, &request.template.command_b64) {
        (Some(c), _) => c.clone(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| failure(FailureKind::ClientSideError, "command_b64 is not base64 of UTF-8 text"))?,
        (None, None) => return Err(failure(FailureKind::ClientSideError, "the bash command has no command text")),
    };
    let (script, env) = bind(&template, &request.referenced).map_err(|m| failure(FailureKind::ClientSideError, m))?;
    let mut cmd = tokio::process::Command::new(&config.shell);
    cmd.args(["--noprofile", "--norc", "-c", &script])
        .env_clear()
        .env("PATH", &config.path)
        .env("LANG", "C.UTF-8")
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = &config.working_dir {
        cmd.current_dir(dir);
    }
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| failure(FailureKind::Failed, format!("could not start {}: {e}", config.shell.display())))?;
    let pid = child.id();
    let limit = match request.timeout_ms {
        Some(ms) => config.timeout.min(Duration::from_millis(ms)),
        None => config.timeout,
    };
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let cap = config.max_output_bytes;
    let work = async {
        let (out, err, status) = tokio::join!(read_capped(stdout, cap), read_capped(stderr, cap), child.wait());
        (out, err, status)
    };
    let Ok((out, err, status)) = tokio::time::timeout(limit, work).await else {
        kill_group(pid);
        return Err(failure(
            FailureKind::Timeout,
            format!("the bash command timed out after {} ms", limit.as_millis()),
        ));
    };
    let status = status.map_err(|e| failure(FailureKind::Failed, format!("waiting for bash failed: {e}")))?;
    let stdout = String::from_utf8_lossy(&out).into_owned();
    let stderr = String::from_utf8_lossy(&err).into_owned();
    let code = status.code().map_or_else(|| "killed by a signal".to_owned(), |c| c.to_string());
    if !status.success() {
        let tail: String = stderr.chars().rev().take(200).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(failure(FailureKind::Failed, format!("bash exited with status {code}: {}", tail.trim())));
    }
    let mut result = RawResult { document: stdout.clone(), ..RawResult::default() };
    result.parts.insert("stdout", stdout);
    result.parts.insert("stderr", stderr);
    result.parts.insert("exit_code", code);
    Ok(CommandOutput { variables: map_out_args(request, &result)? })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vals() -> BTreeMap<String, String> {
        [("__ip__".to_owned(), "1.2.3.4; rm -rf /".to_owned())].into_iter().collect()
    }

    #[test]
    fn references_become_quoted_environment_expansions_in_every_quoting_context() {
        let (s, env) = bind("ping __ip__:value \"at __ip__:value\" 'x __ip__:value'", &vals()).unwrap();
        assert_eq!(s, "ping \"${MUSTER_VAR_0}\" \"at ${MUSTER_VAR_0}\" 'x '\"${MUSTER_VAR_0}\"''");
        assert_eq!(env, vec![("MUSTER_VAR_0".to_owned(), "1.2.3.4; rm -rf /".to_owned())]);
    }

    #[test]
    fn escaped_quotes_do_not_flip_the_state() {
        let (s, _) = bind("echo \\' __ip__:value", &vals()).unwrap();
        assert_eq!(s, "echo \\' \"${MUSTER_VAR_0}\"");
    }
}
