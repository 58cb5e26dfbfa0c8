//! The `ssh` runner against a real OpenSSH server started by each test on
//! 127.0.0.1 (its own host key, `authorized_keys` and configuration).
//!
//! Skipped with a message when `/usr/sbin/sshd` or `ssh-keygen` is missing,
//! unless `MUSTER_REQUIRE_SSH=1` (set by `scripts/test`). Password
//! authentication needs a real account: `scripts/test` (as root) creates
//! `muster-ssh-test` with a fresh password and passes it in
//! `MUSTER_TEST_SSH_USER` / `MUSTER_TEST_SSH_PASSWORD`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod runner_env;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use muster_cacao::RunStatus;
use muster_cacao::engine::ExecutionStatus;
use muster_cacao::runners::{EgressPolicy, MUSTER_EXTENSION, RunnerConfig};
use runner_env::{Records, declare, id, playbook, run_with, var};
use serde_json::{Value, json};

const SSHD: &str = "/usr/sbin/sshd";
const TARGET: &str = "ssh--00000000-0000-4000-8000-0000000000c1";
const AUTH: &str = "user-auth--00000000-0000-4000-8000-0000000000c2";
/// The executing agent (the ssh host is the target).
const AGENT: &str = "organization--00000000-0000-4000-8000-0000000000c3";

fn required() -> bool {
    std::env::var("MUSTER_REQUIRE_SSH").is_ok_and(|v| v == "1")
}

fn skip(why: &str) -> Option<Sshd> {
    assert!(!required(), "MUSTER_REQUIRE_SSH=1 but {why}");
    eprintln!("skipping: {why} (install openssh-server, or run scripts/test)");
    None
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run helper command");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn keygen(path: &Path) -> String {
    output(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "muster-test", "-f"]).arg(path));
    std::fs::read_to_string(path).unwrap()
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")) == "0"
}

/// A running sshd; killed when dropped.
struct Sshd {
    _dir: tempfile::TempDir,
    child: Child,
    log: PathBuf,
    port: u16,
    /// `SHA256:…` of the host key, as `ssh-keygen -l` prints it.
    host_fingerprint: String,
    /// The account this process runs as (key authentication logs in as it).
    user: String,
    /// A private key listed in `authorized_keys`, and one that is not.
    client_key: String,
    stranger_key: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_sshd() -> Option<Sshd> {
    if !Path::new(SSHD).exists() {
        return skip(&format!("{SSHD} is not installed"));
    }
    if Command::new("ssh-keygen").arg("-?").stderr(Stdio::null()).status().is_err() {
        return skip("ssh-keygen is not installed");
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(&d.join("host_key"));
    let client_key = keygen(&d.join("client_key"));
    let stranger_key = keygen(&d.join("stranger_key"));
    std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
    let fp = output(Command::new("ssh-keygen").args(["-l", "-E", "sha256", "-f"]).arg(d.join("host_key.pub")));
    let host_fingerprint = fp.split_whitespace().nth(1).unwrap().to_owned();
    let root = is_root();
    if root {
        // sshd's privilege separation directory (absent on machines that never ran sshd).
        std::fs::create_dir_all("/run/sshd").unwrap();
    }
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPubkeyAuthentication yes\n\
         PasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n\
         PermitRootLogin prohibit-password\nPermitEmptyPasswords no\nLogLevel VERBOSE\n",
        d = d.display()
    );
    std::fs::write(d.join("sshd_config"), config).unwrap();
    let log = d.join("sshd.log");
    let child = Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start sshd");
    let sshd = Sshd {
        _dir: dir,
        child,
        log,
        port,
        host_fingerprint,
        user: output(Command::new("id").arg("-un")),
        client_key,
        stranger_key,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not start listening:\n{}", sshd.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(sshd)
}

fn ext_def() -> Value {
    json!({ MUSTER_EXTENSION: {
        "type": "extension-definition", "name": "muster runner settings",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "schema": "https://example.invalid/muster-runner-extension.json", "version": "1.0.0"
    }})
}

/// `user-auth` with an inline private key.
fn key_auth(user: &str, key: &str) -> Value {
    json!({"type": "user-auth", "username": user,
           "authentication_info_extensions": { MUSTER_EXTENSION: { "private_key": key } }})
}

/// A playbook whose one step runs `command` over ssh on 127.0.0.1:`port`, then ends.
/// `step` is merged into the action step (timeouts, variables, out-args).
fn ssh_playbook(
    port: u16,
    auth: &Value,
    command: &str,
    target_ext: Option<Value>,
    step: &Value,
) -> muster_cacao::Playbook {
    let mut target = json!({"type": "ssh", "name": "test host", "address": {"ipv4": ["127.0.0.1"]}, "port": port.to_string(),
               "authentication_info": AUTH});
    if let Some(ext) = target_ext {
        target["agent_target_extensions"] = json!({ MUSTER_EXTENSION: ext });
    }
    let mut s = json!({"type": "action", "agent": AGENT, "targets": [TARGET], "commands": [{"type": "ssh", "command": command}],
                       "on_success": id("end", 9)});
    for (k, v) in step.as_object().unwrap() {
        s[k] = v.clone();
    }
    playbook(
        vec![(id("action", 2), s)],
        json!({
            "agent_definitions": { AGENT: {"type": "organization", "name": "Muster"} },
            "target_definitions": { TARGET: target },
            "authentication_info_definitions": { AUTH: auth },
            "extension_definitions": ext_def(),
            "playbook_variables": {
                "__ssh_stdout__": declare("string"), "__ssh_stderr__": declare("string"),
                "__ssh_exit_code__": declare("string")
            }
        }),
    )
}

/// Loopback allowed and the test server's host key known.
fn config_for(sshd: &Sshd) -> RunnerConfig {
    let mut config = RunnerConfig { egress: EgressPolicy::allowing(["127.0.0.1"]).unwrap(), ..RunnerConfig::default() };
    config.ssh.known_hosts.insert(format!("127.0.0.1:{}", sshd.port), BTreeSet::from([sshd.host_fingerprint.clone()]));
    config
}

fn outputs() -> Value {
    json!({"out_args": ["__ssh_stdout__", "__ssh_stderr__", "__ssh_exit_code__"]})
}

fn status_text(records: &Records) -> String {
    records.last_of(&id("action", 2)).status_text.unwrap_or_default()
}

#[tokio::test]
async fn key_auth_from_the_key_store_runs_a_command_and_captures_stdout_stderr_and_exit_code() {
    let Some(sshd) = start_sshd() else { return };
    let auth = json!({"type": "user-auth", "username": sshd.user, "kms": true, "kms_key_identifier": "ops-key"});
    let mut step = outputs();
    // A value full of shell syntax must arrive as one literal argument.
    step["step_variables"] = json!({"__who__": {"type": "string", "value": "it's $HOME; `id` \"q\""}});
    let pb = ssh_playbook(
        sshd.port,
        &auth,
        "printf '%s|' __who__:value \"x __who__:value\"; echo; echo to-stderr >&2",
        None,
        &step,
    );
    let mut config = config_for(&sshd);
    config.ssh.key_store = BTreeMap::from([("ops-key".to_owned(), sshd.client_key.clone())]);
    let (out, records) = run_with(config, &pb).await;
    assert_eq!(out.status, RunStatus::Completed, "{}\n{}", status_text(&records), sshd.log());
    assert_eq!(var(&out, "__ssh_stdout__"), json!("it's $HOME; `id` \"q\"|x it's $HOME; `id` \"q\"|\n"));
    assert_eq!(var(&out, "__ssh_stderr__"), json!("to-stderr\n"));
    assert_eq!(var(&out, "__ssh_exit_code__"), json!("0"));
    let rec = records.last_of(&id("action", 2));
    assert_eq!(rec.status, ExecutionStatus::SuccessfullyCompleted);
    assert!(rec.automated_execution);
}

#[tokio::test]
async fn a_non_zero_exit_status_fails_the_step_with_the_status_and_stderr() {
    let Some(sshd) = start_sshd() else { return };
    let pb =
        ssh_playbook(sshd.port, &key_auth(&sshd.user, &sshd.client_key), "echo broken >&2; exit 3", None, &outputs());
    let (out, records) = run_with(config_for(&sshd), &pb).await;
    assert!(matches!(out.status, RunStatus::Failed(_)));
    let text = status_text(&records);
    assert!(text.contains("exited with status 3") && text.contains("broken"), "{text}");
    // The inline private key is a secret: no record carries it.
    let needle = sshd.client_key.lines().nth(1).unwrap();
    assert!(records.lines().iter().all(|l| !l.contains(needle)));
}

#[tokio::test]
async fn password_auth_logs_in_to_a_real_account() {
    let Some(sshd) = start_sshd() else { return };
    let (Ok(user), Ok(password)) = (std::env::var("MUSTER_TEST_SSH_USER"), std::env::var("MUSTER_TEST_SSH_PASSWORD"))
    else {
        assert!(
            !(required() && is_root()),
            "MUSTER_REQUIRE_SSH=1 but MUSTER_TEST_SSH_USER/MUSTER_TEST_SSH_PASSWORD are not set (scripts/test sets them)"
        );
        eprintln!("skipping: no password account (scripts/test creates one when run as root)");
        return;
    };
    let auth = json!({"type": "user-auth", "username": user, "password": password});
    let pb = ssh_playbook(sshd.port, &auth, "id -un", None, &outputs());
    let (out, records) = run_with(config_for(&sshd), &pb).await;
    assert_eq!(out.status, RunStatus::Completed, "{}\n{}", status_text(&records), sshd.log());
    assert_eq!(var(&out, "__ssh_stdout__"), json!(format!("{user}\n")));

    // A wrong password is refused and never shows in a record.
    let wrong = "not-the-password-8812";
    let auth = json!({"type": "user-auth", "username": user, "password": wrong});
    let pb = ssh_playbook(sshd.port, &auth, "id -un", None, &outputs());
    let (out, records) = run_with(config_for(&sshd), &pb).await;
    assert!(matches!(out.status, RunStatus::Failed(_)));
    assert!(status_text(&records).contains("refused password authentication"), "{}", status_text(&records));
    assert!(records.lines().iter().all(|l| !l.contains(wrong) && !l.contains(&password)));
}

#[tokio::test]
async fn a_key_the_server_does_not_know_is_refused_with_a_clear_failure() {
    let Some(sshd) = start_sshd() else { return };
    let pb = ssh_playbook(sshd.port, &key_auth(&sshd.user, &sshd.stranger_key), "true", None, &outputs());
    let (out, records) = run_with(config_for(&sshd), &pb).await;
    assert!(matches!(out.status, RunStatus::Failed(_)));
    let rec = records.last_of(&id("action", 2));
    assert_eq!(rec.status, ExecutionStatus::ClientSideError);
    let text = rec.status_text.unwrap();
    assert!(text.contains(&format!("refused public key authentication for user {}", sshd.user)), "{text}");
}

#[tokio::test]
async fn an_unknown_host_key_is_refused_by_default_and_accepted_once_pinned_on_the_target() {
    let Some(sshd) = start_sshd() else { return };
    let auth = key_auth(&sshd.user, &sshd.client_key);
    let pb = ssh_playbook(sshd.port, &auth, "echo ran", None, &outputs());
    let config = RunnerConfig { egress: EgressPolicy::allowing(["127.0.0.1"]).unwrap(), ..RunnerConfig::default() };
    let (out, records) = run_with(config.clone(), &pb).await;
    assert!(matches!(out.status, RunStatus::Failed(_)));
    let text = status_text(&records);
    assert!(text.contains("not a known host key") && text.contains(&sshd.host_fingerprint), "{text}");
    // Refused during the handshake: the server saw no authentication attempt.
    assert!(!sshd.log().contains("Accepted publickey"), "{}", sshd.log());

    // A different pinned key is refused too.
    let wrong = json!({"host_key_sha256": "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
    let pb = ssh_playbook(sshd.port, &auth, "echo ran", Some(wrong), &outputs());
    let (out, _) = run_with(config.clone(), &pb).await;
    assert!(matches!(out.status, RunStatus::Failed(_)));

    let pinned = json!({"host_key_sha256": sshd.host_fingerprint});
    let pb = ssh_playbook(sshd.port, &auth, "echo ran", Some(pinned), &outputs());
    let (out, records) = run_with(config.clone(), &pb).await;
    assert_eq!(out.status, RunStatus::Completed, "{}", status_text(&records));
    assert_eq!(var(&out, "__ssh_stdout__"), json!("ran\n"));

    // accept_any_host_key (tests and labs only) skips the check.
    let mut lab = config;
    lab.ssh.accept_any_host_key = true;
    let pb = ssh_playbook(sshd.port, &auth, "echo ran", None, &outputs());
    let (out, _) = run_with(lab, &pb).await;
    assert_eq!(out.status, RunStatus::Completed);
}

#[tokio::test]
async fn a_step_timeout_stops_a_long_command_with_timeout_error() {
    let Some(sshd) = start_sshd() else { return };
    let mut step = outputs();
    step["timeout"] = json!(1000);
    let pb = ssh_playbook(sshd.port, &key_auth(&sshd.user, &sshd.client_key), "sleep 30", None, &step);
    let started = Instant::now();
    let (out, records) = run_with(config_for(&sshd), &pb).await;
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(matches!(out.status, RunStatus::Failed(_)));
    assert_eq!(records.last_of(&id("action", 2)).status, ExecutionStatus::TimeoutError);
}

#[tokio::test]
async fn egress_refuses_a_host_that_is_not_allowed_before_connecting() {
    // No sshd needed: a listener that must never see a connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let auth = json!({"type": "user-auth", "username": "root", "password": "pw-never-sent-123"});
    let pb = ssh_playbook(port, &auth, "id", None, &outputs());
    for config in [
        RunnerConfig::default(),
        RunnerConfig { egress: EgressPolicy::allowing(["*"]).unwrap(), ..RunnerConfig::default() },
    ] {
        let (out, records) = run_with(config, &pb).await;
        assert!(matches!(out.status, RunStatus::Failed(_)));
        let text = status_text(&records);
        assert!(text.contains("egress policy refused 127.0.0.1") && text.contains("loopback"), "{text}");
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "the runner connected to a refused host");
}
