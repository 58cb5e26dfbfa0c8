//! `ssh` commands: run the command on the step's `ssh` agent or target.
//!
//! The host is the agent's (when it is of type `ssh`) or the one `ssh`
//! target's `address` (`dname`, `ipv4`, `ipv6` or `url`) and `port` (22 by
//! default). The egress policy judges the name and every address it resolves
//! to before a connection is made, as for `http-api`.
//!
//! Host keys: a connection proceeds only when the server's host key has a
//! configured SHA-256 fingerprint (`SHA256:…`, as `ssh-keygen -lf` prints it),
//! either in [`SshConfig::known_hosts`] or in the target's Muster extension
//! (`host_key_sha256`). [`SshConfig::accept_any_host_key`] turns the check off
//! for tests and labs; it is off by default.
//!
//! Authentication (`user-auth`): `username` with `password`, or with a private
//! key: `kms: true` and `kms_key_identifier` naming a key in
//! [`SshConfig::key_store`], or an OpenSSH private key inline in the
//! authentication info's Muster extension (`private_key`, optional
//! `passphrase`); both are secrets and redacted everywhere.
//!
//! Variable values never become shell code: each `__name__:value` in the
//! command is replaced by the value quoted for the POSIX shell at that spot
//! (the remote login shell parses the command). The exit status, stdout and
//! stderr (each capped) are the results; a non-zero status fails the step.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use russh::client;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use serde_json::Value;

use super::bash::{Quote, scan};
use super::outputs::{MUSTER_EXTENSION, RawResult, map_out_args};
use super::{RunnerConfig, failure};
use crate::engine::{CommandFailure, CommandOutput, CommandRequest, FailureKind};
use crate::model::{AgentTarget, AgentTargetType, AuthenticationInfo, AuthenticationInfoType};
use crate::vars::reference_spans;

/// SSH runner settings.
#[derive(Clone)]
pub struct SshConfig {
    /// Host key SHA-256 fingerprints (`SHA256:…`) by host as the target writes
    /// it (`host` for port 22, else `host:port`). Connections to a host whose
    /// key is listed neither here nor in the target's Muster extension are refused.
    pub known_hosts: BTreeMap<String, BTreeSet<String>>,
    /// Accept any host key without checking. Only for tests and labs: anyone
    /// between Muster and the host could read the password and the command.
    pub accept_any_host_key: bool,
    /// Private keys (OpenSSH or PEM text) by identifier, the key store that
    /// `user-auth` objects with `kms: true` name through `kms_key_identifier`.
    pub key_store: BTreeMap<String, String>,
    /// Connection (TCP and SSH handshake) limit.
    pub connect_timeout: Duration,
    /// Whole-command limit (the step's own `timeout` applies too, whichever is shorter).
    pub timeout: Duration,
    /// Bytes kept of stdout and of stderr each; the rest is read and dropped.
    pub max_output_bytes: usize,
}

impl Default for SshConfig {
    fn default() -> Self {
        Self {
            known_hosts: BTreeMap::new(),
            accept_any_host_key: false,
            key_store: BTreeMap::new(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            max_output_bytes: 1024 * 1024,
        }
    }
}

impl std::fmt::Debug for SshConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshConfig")
            .field("known_hosts", &self.known_hosts)
            .field("accept_any_host_key", &self.accept_any_host_key)
            .field("key_store", &self.key_store.keys().collect::<Vec<_>>())
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_output_bytes", &self.max_output_bytes)
            .finish()
    }
}

/// Where the command runs.
struct Endpoint<'a> {
    target: &'a AgentTarget,
    host: String,
    port: u16,
}

impl Endpoint<'_> {
    /// The host as known-host keys are written: `host` on port 22, else
    /// `host:port` (`[v6]:port` for an IPv6 address).
    fn known_host_keys(&self) -> Vec<String> {
        let host = self.host.to_ascii_lowercase();
        let with_port =
            if host.contains(':') { format!("[{host}]:{}", self.port) } else { format!("{host}:{}", self.port) };
        if self.port == 22 { vec![host, with_port] } else { vec![with_port] }
    }

    fn shown(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn client_err(message: impl Into<String>) -> CommandFailure {
    failure(FailureKind::ClientSideError, message)
}

fn first_address(at: &AgentTarget, key: &str) -> Option<String> {
    at.address.as_ref()?.get(key)?.iter().find_map(|v| v.as_str().map(str::to_owned))
}

fn endpoint(request: &CommandRequest) -> Result<Endpoint<'_>, CommandFailure> {
    let ssh_agent = request.agent.as_ref().map(|(_, at)| at).filter(|at| at.kind == AgentTargetType::Ssh);
    let target = if let Some(agent) = ssh_agent {
        agent
    } else {
        let ssh: Vec<&AgentTarget> =
            request.targets.iter().map(|(_, at)| at).filter(|at| at.kind == AgentTargetType::Ssh).collect();
        match ssh.as_slice() {
            [one] => *one,
            [] => return Err(client_err("the ssh command has no ssh agent or target to run on")),
            many => {
                return Err(client_err(format!(
                    "the step names {} ssh targets; Muster runs an ssh command on one host per step \
                     (use one step per host, in a parallel step)",
                    many.len()
                )));
            }
        }
    };
    let mut port = None;
    let host = if let Some(h) = first_address(target, "dname").or_else(|| first_address(target, "ipv4")) {
        h
    } else if let Some(h) = first_address(target, "ipv6") {
        h.trim_start_matches('[').trim_end_matches(']').to_owned()
    } else if let Some(u) = first_address(target, "url") {
        let with_scheme = if u.contains("://") { u } else { format!("ssh://{u}") };
        let url = url::Url::parse(&with_scheme).map_err(|e| client_err(format!("the ssh url {with_scheme:?}: {e}")))?;
        port = url.port();
        let host = url.host_str().ok_or_else(|| client_err(format!("the ssh url {with_scheme:?} has no host")))?;
        host.trim_start_matches('[').trim_end_matches(']').to_owned()
    } else {
        return Err(client_err("the ssh agent or target has no dname, ipv4, ipv6 or url address"));
    };
    let port = match (&target.port, port) {
        (Some(p), _) => p.trim().parse().map_err(|_| client_err(format!("port {p:?} is not a TCP port")))?,
        (None, Some(p)) => p,
        (None, None) => 22,
    };
    Ok(Endpoint { target, host, port })
}

/// The fingerprints accepted for `endpoint`: configured ones and the target's own.
fn accepted_fingerprints(config: &SshConfig, endpoint: &Endpoint<'_>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    for key in endpoint.known_host_keys() {
        out.extend(config.known_hosts.get(&key).into_iter().flatten().cloned());
    }
    let ext = endpoint.target.agent_target_extensions.as_ref().and_then(|e| e.get(MUSTER_EXTENSION));
    match ext.and_then(|e| e.get("host_key_sha256")) {
        Some(Value::String(s)) => {
            out.insert(s.clone());
        }
        Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    out.into_iter().map(|f| normalise_fingerprint(&f)).collect()
}

/// `SHA256:abc` whatever the case of the prefix and with padding removed.
fn normalise_fingerprint(f: &str) -> String {
    let f = f.trim();
    let body = f.split_once(':').filter(|(p, _)| p.eq_ignore_ascii_case("sha256")).map_or(f, |(_, b)| b);
    format!("SHA256:{}", body.trim_end_matches('='))
}

/// How the client authenticates.
enum Credentials {
    Password(String),
    /// Boxed: a decoded key is much larger than a password.
    Key(Box<PrivateKey>),
}

fn credentials(
    config: &SshConfig,
    request: &CommandRequest,
    endpoint: &Endpoint<'_>,
) -> Result<(String, Credentials), CommandFailure> {
    let auth: &AuthenticationInfo = endpoint
        .target
        .authentication_info
        .as_deref()
        .and_then(|id| request.authentications.get(id))
        .or(request.authentication.as_ref())
        .ok_or_else(|| client_err("the ssh agent or target has no authentication_info (user-auth)"))?;
    if auth.kind != AuthenticationInfoType::UserAuth {
        return Err(client_err(format!("ssh needs user-auth authentication info, not '{}'", auth.kind)));
    }
    let user = auth.username.clone().ok_or_else(|| client_err("the user-auth authentication info has no username"))?;
    let ext = auth.authentication_info_extensions.as_ref().and_then(|e| e.get(MUSTER_EXTENSION));
    let field = |name: &str| ext.and_then(|e| e.get(name)).and_then(Value::as_str);
    let decode = |text: &str, passphrase: Option<&str>, what: &str| {
        russh::keys::decode_secret_key(text, passphrase)
            .map_err(|e| client_err(format!("{what} is not a usable private key: {e}")))
    };
    if auth.kms == Some(true) {
        let id = auth
            .kms_key_identifier
            .as_deref()
            .ok_or_else(|| client_err("user-auth has kms: true but no kms_key_identifier"))?;
        let text = config.key_store.get(id).ok_or_else(|| {
            client_err(format!("the ssh key store has no key {id:?} (kms_key_identifier); add it to the configuration"))
        })?;
        return Ok((user, Credentials::Key(Box::new(decode(text, None, &format!("key store entry {id:?}"))?))));
    }
    if let Some(text) = field("private_key") {
        return Ok((user, Credentials::Key(Box::new(decode(text, field("passphrase"), "the inline private_key")?))));
    }
    match &auth.password {
        Some(p) => Ok((user, Credentials::Password(p.clone()))),
        None => Err(client_err("the user-auth authentication info has neither a password nor a private key")),
    }
}

/// Quotes `value` as one POSIX shell word.
fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The command with every variable reference replaced by its value, quoted for where it stands.
fn bind_literals(template: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut state = Quote::None;
    let mut last = 0;
    for (range, name) in reference_spans(template) {
        let literal = &template[last..range.start];
        state = scan(literal, state);
        out.push_str(literal);
        let value = values.get(name).ok_or_else(|| format!("variable {name} has no value for this command"))?;
        match state {
            Quote::None => out.push_str(&sh_quote(value)),
            Quote::Single => {
                out.push('\'');
                out.push_str(&sh_quote(value));
                out.push('\'');
            }
            Quote::Double => {
                for c in value.chars() {
                    if matches!(c, '"' | '\\' | '$' | '`') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
        }
        last = range.end;
    }
    out.push_str(&template[last..]);
    Ok(out)
}

fn command_text(request: &CommandRequest) -> Result<String, CommandFailure> {
    let template = match (&request.template.command, &request.template.command_b64) {
        (Some(c), _) => c.clone(),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| client_err("command_b64 is not base64 of UTF-8 text"))?,
        (None, None) => return Err(client_err("the ssh command has no command text")),
    };
    bind_literals(&template, &request.referenced).map_err(client_err)
}

/// Checks the server's host key against the accepted fingerprints and remembers what it saw.
struct HostKeyCheck {
    accept_any: bool,
    accepted: BTreeSet<String>,
    seen: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let fingerprint = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key().fingerprint(HashAlg::Sha256),
        }
        .to_string();
        let ok = self.accept_any || self.accepted.contains(&fingerprint);
        *self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fingerprint);
        Ok(ok)
    }
}

/// Resolves and checks the endpoint against the egress policy; returns the addresses to try.
async fn allowed_addresses(runner: &RunnerConfig, endpoint: &Endpoint<'_>) -> Result<Vec<SocketAddr>, CommandFailure> {
    let denied = |e: super::EgressDenied| client_err(e.to_string());
    runner.egress.check_name(&endpoint.host).map_err(denied)?;
    let ips: Vec<IpAddr> = if let Ok(ip) = endpoint.host.parse::<IpAddr>() {
        vec![ip]
    } else {
        runner
            .resolver
            .lookup(&endpoint.host)
            .await
            .map_err(|e| failure(FailureKind::Failed, format!("could not resolve {}: {e}", endpoint.host)))?
    };
    if ips.is_empty() {
        return Err(failure(FailureKind::Failed, format!("{} has no address", endpoint.host)));
    }
    for ip in &ips {
        runner.egress.check_ip(&endpoint.host, *ip).map_err(denied)?;
    }
    Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, endpoint.port)).collect())
}

pub(crate) async fn run(runner: &RunnerConfig, request: &CommandRequest) -> Result<CommandOutput, CommandFailure> {
    let config = &runner.ssh;
    let endpoint = endpoint(request)?;
    let command = command_text(request)?;
    let (user, credentials) = credentials(config, request, &endpoint)?;
    let addresses = allowed_addresses(runner, &endpoint).await?;
    // With no accepted key the handshake still runs far enough to learn the
    // server's key (so the refusal can name it); no credential is ever sent.
    let accepted = accepted_fingerprints(config, &endpoint);
    let limit = match request.timeout_ms {
        Some(ms) => config.timeout.min(Duration::from_millis(ms)),
        None => config.timeout,
    };
    let work = session(config, &endpoint, &addresses, accepted, user, credentials, command);
    match tokio::time::timeout(limit, work).await {
        Ok(result) => {
            let result = result?;
            Ok(CommandOutput { variables: map_out_args(request, &result)? })
        }
        Err(_) => Err(failure(
            FailureKind::Timeout,
            format!("the ssh command on {} timed out after {} ms", endpoint.shown(), limit.as_millis()),
        )),
    }
}

async fn session(
    config: &SshConfig,
    endpoint: &Endpoint<'_>,
    addresses: &[SocketAddr],
    accepted: BTreeSet<String>,
    user: String,
    credentials: Credentials,
    command: String,
) -> Result<RawResult, CommandFailure> {
    let shown = endpoint.shown();
    let failed = |m: String| failure(FailureKind::Failed, m);
    let connect = async {
        let mut last_err = None;
        for addr in addresses {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.map_or_else(|| "no address".to_owned(), |e| e.to_string()))
    };
    let stream = tokio::time::timeout(config.connect_timeout, connect)
        .await
        .map_err(|_| failure(FailureKind::Timeout, format!("connecting to {shown} timed out")))?
        .map_err(|e| failed(format!("could not connect to {shown}: {e}")))?;
    let _ = stream.set_nodelay(true);

    let seen = Arc::new(Mutex::new(None));
    let handler = HostKeyCheck { accept_any: config.accept_any_host_key, accepted, seen: Arc::clone(&seen) };
    let ssh_config = Arc::new(client::Config { nodelay: true, ..client::Config::default() });
    let handshake = client::connect_stream(ssh_config, stream, handler);
    let handshake = tokio::time::timeout(config.connect_timeout, handshake)
        .await
        .map_err(|_| failure(FailureKind::Timeout, format!("the ssh handshake with {shown} timed out")))?;
    let mut handle = match handshake {
        Ok(h) => h,
        Err(e) => {
            let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            return Err(match (e, seen) {
                (russh::Error::UnknownKey, Some(fingerprint)) => client_err(format!(
                    "the host key of {shown} ({fingerprint}) is not a known host key: refusing to connect. \
                     If it is the right key, add it to the ssh known hosts for {} or to the target's \
                     Muster extension as host_key_sha256",
                    endpoint.known_host_keys().into_iter().next().unwrap_or_default()
                )),
                (e, _) => failed(format!("the ssh handshake with {shown} failed: {e}")),
            });
        }
    };

    let (method, result) = match credentials {
        Credentials::Password(password) => ("password", handle.authenticate_password(user.clone(), password).await),
        Credentials::Key(key) => {
            // Only RSA keys need the server's preferred signature hash (asking may wait for it).
            let hash = if key.algorithm().is_rsa() {
                handle.best_supported_rsa_hash().await.ok().flatten().flatten()
            } else {
                None
            };
            let key = PrivateKeyWithHashAlg::new(Arc::new(*key), hash);
            ("public key", handle.authenticate_publickey(user.clone(), key).await)
        }
    };
    let authenticated = result.map_err(|e| failed(format!("ssh authentication with {shown} failed: {e}")))?;
    if !authenticated.success() {
        return Err(client_err(format!("{shown} refused {method} authentication for user {user}")));
    }

    let mut channel = handle
        .channel_open_session()
        .await
        .map_err(|e| failed(format!("could not open an ssh session on {shown}: {e}")))?;
    channel.exec(true, command).await.map_err(|e| failed(format!("could not start the command on {shown}: {e}")))?;

    let cap = config.max_output_bytes;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let keep = |buf: &mut Vec<u8>, data: &[u8]| {
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&data[..data.len().min(room)]);
    };
    let mut status: Option<String> = None;
    while let Some(message) = channel.wait().await {
        match message {
            russh::ChannelMsg::Data { data } => keep(&mut stdout, &data),
            russh::ChannelMsg::ExtendedData { data, ext: 1 } => keep(&mut stderr, &data),
            russh::ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status.to_string()),
            russh::ChannelMsg::ExitSignal { signal_name, .. } => {
                status = Some(format!("killed by signal {signal_name:?}"));
            }
            _ => {}
        }
    }
    // The command is done; a failed goodbye changes nothing.
    let _ = handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;

    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let code = status.ok_or_else(|| failed(format!("{shown} closed the session without an exit status")))?;
    if code != "0" {
        let tail: String = stderr.chars().rev().take(200).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(failed(format!("the ssh command on {shown} exited with status {code}: {}", tail.trim())));
    }
    let mut result = RawResult { document: stdout.clone(), ..RawResult::default() };
    result.parts.insert("stdout", stdout);
    result.parts.insert("stderr", stderr);
    result.parts.insert("exit_code", code);
    Ok(result)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_as_single_shell_words_wherever_they_stand() {
        let vals: BTreeMap<String, String> =
            [("__p__".to_owned(), "a'b; rm -rf / $(x) `y`".to_owned())].into_iter().collect();
        let s = bind_literals("ls __p__:value \"in __p__:value\" 'x __p__:value'", &vals).unwrap();
        assert_eq!(
            s,
            r#"ls 'a'\''b; rm -rf / $(x) `y`' "in a'b; rm -rf / \$(x) \`y\`" 'x ''a'\''b; rm -rf / $(x) `y`'''"#
        );
    }

    #[test]
    fn fingerprints_compare_without_padding_or_prefix_case() {
        assert_eq!(normalise_fingerprint("sha256:AbC="), "SHA256:AbC");
        assert_eq!(normalise_fingerprint("AbC"), "SHA256:AbC");
    }
}
