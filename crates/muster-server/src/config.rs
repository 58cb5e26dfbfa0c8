//! Server configuration: an optional TOML file, then `MUSTER_*` environment
//! overrides, then command-line flags. Nothing is required: the default runs
//! on SQLite in `./muster-data` at `127.0.0.1:8080`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the server can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data directory (SQLite file, attachments).
    pub data_dir: PathBuf,
    /// `postgres://user:pass@host/db` to use PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// Mark the session cookie `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Session lifetime in hours.
    pub session_hours: u32,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Largest evidence attachment in bytes (an upload is not bound by `max_body_bytes`).
    pub max_attachment_bytes: usize,
    /// Longest a request may take, in seconds.
    pub request_timeout_secs: u64,
    /// Failed logins per account (or per client address) before a lockout.
    pub login_max_failures: u32,
    /// Largest number of database connections.
    pub max_db_connections: u32,
    /// A repeat of an alert (same fingerprint) within this many seconds updates it instead of adding one.
    pub dedup_window_secs: u64,
    /// Alert batches processed at once; further ones get 503 with `Retry-After`.
    pub intake_concurrency: usize,
    /// Syslog (RFC 5424/3164 carrying CEF or LEEF) over UDP on this address; off when unset.
    pub syslog_udp: Option<SocketAddr>,
    /// Syslog over TCP (newline or octet-counted framing) on this address; off when unset.
    pub syslog_tcp: Option<SocketAddr>,
    /// Slug of the organisation that syslog alerts belong to (required when a listener is on).
    pub syslog_org: Option<String>,
    /// Playbook runs executing at once; API starts beyond it get 503, automation waits.
    pub playbook_concurrency: usize,
    /// Egress allow-list of playbook network commands (names, `*.suffix`, addresses, CIDR, `*`).
    pub playbook_allow_hosts: Vec<String>,
    /// Re-run an automated command that was running when the server stopped (default: mark the run interrupted).
    pub playbook_rerun_interrupted: bool,
    /// Key sealing playbook authentication info; default `<data_dir>/playbook-secrets.key`, made on first start.
    pub playbook_key_file: Option<PathBuf>,
    /// Allow `bash` commands in playbooks.
    pub playbook_bash: bool,
    /// Incident events waiting for the automation worker; beyond it events are dropped with a warning.
    pub automation_queue: usize,
    /// Detection over raw log events (`[detection]` in the file).
    pub detection: Detection,
    /// How intake groups alerts into incidents (`[correlation]`, docs/configuration.md).
    pub correlation: muster_intake::correlate::CorrelationConfig,
}

/// `[detection]`: Sigma rules run over raw events posted to `/api/v1/events`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Detection {
    /// Folder of Sigma rules (`.yml`/`.yaml`, read recursively at start); detection is off when unset.
    pub sigma_rules: Option<PathBuf>,
    /// TLP of the alerts Sigma rules raise; TLP:AMBER when unset.
    pub tlp: Option<muster_core::Tlp>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./muster-data"),
            database_url: None,
            secure_cookies: false,
            session_hours: 12,
            max_body_bytes: 10 * 1024 * 1024,
            max_attachment_bytes: 25 * 1024 * 1024,
            request_timeout_secs: 30,
            login_max_failures: 5,
            max_db_connections: 8,
            dedup_window_secs: 3600,
            intake_concurrency: 4,
            syslog_udp: None,
            syslog_tcp: None,
            syslog_org: None,
            playbook_concurrency: 32,
            playbook_allow_hosts: Vec::new(),
            playbook_rerun_interrupted: false,
            playbook_key_file: None,
            playbook_bash: false,
            automation_queue: 1024,
            detection: Detection::default(),
            correlation: muster_intake::correlate::CorrelationConfig::default(),
        }
    }
}

/// A configuration problem, naming the file or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
}

impl Config {
    /// Loads `file` (if given) and applies `MUSTER_*` variables from `env`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, line or variable at fault.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })?
            }
            None => Config::default(),
        };
        for (name, value) in env {
            let Some(key) = name.strip_prefix("MUSTER_") else { continue };
            let bad = |message: String| ConfigError::Env { name: name.clone(), message };
            match key {
                "LISTEN" => cfg.listen = value.parse().map_err(|e| bad(format!("{e}; expected ADDR:PORT")))?,
                "DATA_DIR" => cfg.data_dir = PathBuf::from(&value),
                "DATABASE_URL" => cfg.database_url = Some(value.clone()).filter(|v| !v.is_empty()),
                "SECURE_COOKIES" => cfg.secure_cookies = parse_bool(&value).map_err(bad)?,
                "SESSION_HOURS" => cfg.session_hours = value.parse().map_err(|e| bad(format!("{e}")))?,
                "MAX_BODY_BYTES" => cfg.max_body_bytes = value.parse().map_err(|e| bad(format!("{e}")))?,
                "MAX_ATTACHMENT_BYTES" => cfg.max_attachment_bytes = value.parse().map_err(|e| bad(format!("{e}")))?,
                "REQUEST_TIMEOUT_SECS" => cfg.request_timeout_secs = value.parse().map_err(|e| bad(format!("{e}")))?,
                "LOGIN_MAX_FAILURES" => cfg.login_max_failures = value.parse().map_err(|e| bad(format!("{e}")))?,
                "MAX_DB_CONNECTIONS" => cfg.max_db_connections = value.parse().map_err(|e| bad(format!("{e}")))?,
                "DEDUP_WINDOW_SECS" => cfg.dedup_window_secs = value.parse().map_err(|e| bad(format!("{e}")))?,
                "INTAKE_CONCURRENCY" => cfg.intake_concurrency = value.parse().map_err(|e| bad(format!("{e}")))?,
                "SYSLOG_UDP" => {
                    cfg.syslog_udp = Some(value.parse().map_err(|e| bad(format!("{e}; expected ADDR:PORT")))?)
                }
                "SYSLOG_TCP" => {
                    cfg.syslog_tcp = Some(value.parse().map_err(|e| bad(format!("{e}; expected ADDR:PORT")))?)
                }
                "SYSLOG_ORG" => cfg.syslog_org = Some(value.clone()),
                "PLAYBOOK_CONCURRENCY" => cfg.playbook_concurrency = value.parse().map_err(|e| bad(format!("{e}")))?,
                "PLAYBOOK_ALLOW_HOSTS" => {
                    cfg.playbook_allow_hosts =
                        value.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned).collect();
                }
                "PLAYBOOK_RERUN_INTERRUPTED" => cfg.playbook_rerun_interrupted = parse_bool(&value).map_err(bad)?,
                "PLAYBOOK_KEY_FILE" => cfg.playbook_key_file = Some(PathBuf::from(&value)),
                "PLAYBOOK_BASH" => cfg.playbook_bash = parse_bool(&value).map_err(bad)?,
                "AUTOMATION_QUEUE" => cfg.automation_queue = value.parse().map_err(|e| bad(format!("{e}")))?,
                "SIGMA_RULES" => cfg.detection.sigma_rules = Some(PathBuf::from(&value)).filter(|_| !value.is_empty()),
                "SIGMA_TLP" => {
                    cfg.detection.tlp = Some(muster_core::Tlp::parse(&value).map_err(|e| bad(e.to_string()))?);
                }
                "CORRELATION" => cfg.correlation.enabled = parse_bool(&value).map_err(bad)?,
                // Variables of other components (tests, CLI) are not ours to reject.
                _ => {}
            }
        }
        Ok(cfg)
    }

    /// The store options this configuration implies.
    #[must_use]
    pub fn store_options(&self) -> muster_store::StoreOptions {
        muster_store::StoreOptions {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            max_connections: self.max_db_connections,
        }
    }
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{v:?} is not a boolean (true/false)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_and_no_env_gives_the_embedded_default() {
        let c = Config::load(None, Vec::new()).unwrap_or_default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.database_url.is_none());
    }

    #[test]
    fn env_overrides_file_and_bad_values_name_the_variable() {
        let dir = std::env::temp_dir().join(format!("muster-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join("muster.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nsession_hours = 2\n").ok();
        let c = Config::load(Some(&file), vec![("MUSTER_SESSION_HOURS".into(), "5".into())]).ok();
        assert_eq!(c.as_ref().map(|c| (c.listen.port(), c.session_hours)), Some((9000, 5)));
        let err = Config::load(Some(&file), vec![("MUSTER_LISTEN".into(), "nowhere".into())]).err();
        assert!(err.is_some_and(|e| e.to_string().contains("MUSTER_LISTEN")));
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nunknown_key = 1\n").ok();
        let err = Config::load(Some(&file), Vec::new()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("unknown_key") && err.contains("muster.toml"), "{err}");
    }

    #[test]
    fn detection_table_sets_the_sigma_folder_and_tlp() {
        let dir = std::env::temp_dir().join(format!("muster-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok();
        let file = dir.join("muster.toml");
        std::fs::write(&file, "[detection]\nsigma_rules = \"/etc/muster/sigma\"\ntlp = \"TLP:GREEN\"\n").ok();
        let c = Config::load(Some(&file), Vec::new()).map_err(|e| e.to_string());
        let d = c.as_ref().map(|c| (c.detection.sigma_rules.clone(), c.detection.tlp));
        assert_eq!(d, Ok((Some(PathBuf::from("/etc/muster/sigma")), Some(muster_core::Tlp::Green))));
        let off = Config::load(None, vec![("MUSTER_SIGMA_RULES".into(), String::new())]).ok();
        assert!(off.is_some_and(|c| c.detection.sigma_rules.is_none()));
        let err = Config::load(None, vec![("MUSTER_SIGMA_TLP".into(), "purple".into())]).err();
        assert!(err.is_some_and(|e| e.to_string().contains("MUSTER_SIGMA_TLP")));
    }
}
