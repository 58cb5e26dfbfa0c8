//! `http-api` and `openc2-http` commands.
//!
//! The command is an HTTP start line (`GET /api/v1/items?id=1 HTTP/1.1`); the
//! request target is an absolute URL or is resolved against the address of
//! the step's `http-api` agent (preferred: the agent executes commands) or
//! first `http-api` target: `url`, else `dname`/`ipv4`/`ipv6` with `port`
//! (https when the port is 443). That agent-target's authentication info is used.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::auth::{self, TokenCache};
use super::egress::{PolicyResolver, find_denial};
use super::outputs::{RawResult, map_out_args};
use super::{EgressPolicy, HttpConfig, RunnerConfig, failure};
use crate::engine::{CommandFailure, CommandOutput, CommandRequest, FailureKind};
use crate::model::{AgentTarget, AgentTargetType, AuthenticationInfo};

const OPENC2_CONTENT_TYPE: &str = "application/openc2+json;version=1.0";

#[derive(Debug, Clone)]
pub(crate) struct HttpRunner {
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
    config: HttpConfig,
    tokens: Arc<TokenCache>,
    /// Shared by every clone: the in-flight request limit.
    slots: Arc<tokio::sync::Semaphore>,
}

impl HttpRunner {
    pub(crate) fn new(config: &RunnerConfig) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(config.egress.clone());
        let redirect_policy = Arc::clone(&policy);
        let max_redirects = config.http.max_redirects;
        let client = reqwest::Client::builder()
            // A proxy would resolve names itself, out of the policy's reach.
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver { policy: Arc::clone(&policy), inner: Arc::clone(&config.resolver) }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > max_redirects {
                    return attempt.error(format!("more than {max_redirects} redirects"));
                }
                match redirect_policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(denied) => attempt.error(denied),
                }
            }))
            .connect_timeout(config.http.connect_timeout)
            .user_agent(concat!("muster-cacao/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            policy,
            config: config.http.clone(),
            tokens: Arc::new(TokenCache::default()),
            slots: Arc::new(tokio::sync::Semaphore::new(config.http.max_in_flight.max(1))),
        })
    }

    pub(crate) async fn http_api(&self, request: &CommandRequest) -> Result<CommandOutput, CommandFailure> {
        let body = body_of(request)?;
        let (result, _) = self.exchange(request, body, &[]).await?;
        Ok(CommandOutput { variables: map_out_args(request, &result)? })
    }

    pub(crate) async fn openc2(&self, request: &CommandRequest) -> Result<CommandOutput, CommandFailure> {
        let body = body_of(request)?.ok_or_else(|| {
            failure(FailureKind::ClientSideError, "openc2-http needs the OpenC2 command in content or content_b64")
        })?;
        if serde_json::from_slice::<Value>(&body).is_err() {
            return Err(failure(FailureKind::ClientSideError, "the openc2-http content is not a JSON OpenC2 command"));
        }
        let defaults = [("content-type", OPENC2_CONTENT_TYPE), ("accept", OPENC2_CONTENT_TYPE)];
        let (result, _) = self.exchange(request, Some(body), &defaults).await?;
        // An OpenC2 response carries its own status (RFC-style codes) in the body.
        if let Ok(doc) = serde_json::from_str::<Value>(&result.document) {
            let response = doc.pointer("/body/openc2/response").unwrap_or(&doc);
            if let Some(code) = response.get("status").and_then(Value::as_u64)
                && code >= 400
            {
                let text = response.get("status_text").and_then(Value::as_str).unwrap_or("");
                let kind = if code >= 500 { FailureKind::ServerSideError } else { FailureKind::ClientSideError };
                return Err(failure(kind, format!("the OpenC2 consumer answered status {code} {text}")));
            }
        }
        Ok(CommandOutput { variables: map_out_args(request, &result)? })
    }

    /// Sends the request and returns the response parts; a non-2xx status is a failure.
    async fn exchange(
        &self,
        request: &CommandRequest,
        body: Option<Vec<u8>>,
        default_headers: &[(&str, &str)],
    ) -> Result<(RawResult, u16), CommandFailure> {
        let client_err = |m: String| failure(FailureKind::ClientSideError, m);
        let line = request.command.command.as_deref().unwrap_or_default();
        let mut parts = line.split_whitespace();
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return Err(client_err(format!(
                "the command must be an HTTP start line such as 'GET /path HTTP/1.1', not {line:?}"
            )));
        };
        let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| client_err(format!("{method:?} is not an HTTP method")))?;
        let (url, auth) = target_url(request, target).map_err(client_err)?;
        self.policy.check_url(&url).map_err(|e| client_err(e.to_string()))?;

        let mut builder = self.client.request(method, url.clone()).timeout(self.timeout(request));
        let mut given: Vec<String> = Vec::new();
        for (name, values) in request.command.headers.iter().flatten() {
            given.push(name.to_ascii_lowercase());
            for v in values {
                let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| client_err(format!("{name:?} is not a valid header name")))?;
                let value = reqwest::header::HeaderValue::from_str(v)
                    .map_err(|_| client_err(format!("the value of header {name} is not valid")))?;
                builder = builder.header(name, value);
            }
        }
        for (name, value) in default_headers {
            if !given.iter().any(|g| g == name) {
                builder = builder.header(*name, *value);
            }
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        builder = auth::apply(builder, auth, &self.client, &self.policy, &self.tokens).await?;

        // The semaphore is never closed, so acquiring only waits.
        let _slot =
            self.slots.acquire().await.map_err(|_| failure(FailureKind::Failed, "the HTTP runner is shut down"))?;
        let response = builder.send().await.map_err(|e| transport_failure(&e))?;
        let status = response.status();
        let mut headers = serde_json::Map::new();
        for (name, value) in response.headers() {
            let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&text);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(text));
                }
            }
        }
        let body = read_capped(response, self.config.max_response_bytes).await?;
        let text = String::from_utf8_lossy(&body).into_owned();
        if !status.is_success() {
            let kind =
                if status.is_server_error() { FailureKind::ServerSideError } else { FailureKind::ClientSideError };
            let excerpt: String = text.chars().take(200).collect();
            let sep = if excerpt.is_empty() { "" } else { ": " };
            return Err(failure(kind, format!("{} answered HTTP {status}{sep}{excerpt}", without_secrets(&url))));
        }
        let mut result = RawResult { headers, document: text.clone(), ..RawResult::default() };
        result.parts.insert("status", status.as_u16().to_string());
        result.parts.insert("body", text);
        Ok((result, status.as_u16()))
    }

    fn timeout(&self, request: &CommandRequest) -> Duration {
        match request.timeout_ms {
            Some(ms) => self.config.timeout.min(Duration::from_millis(ms)),
            None => self.config.timeout,
        }
    }
}

/// The body: `content` as written, or `content_b64` decoded.
fn body_of(request: &CommandRequest) -> Result<Option<Vec<u8>>, CommandFailure> {
    match (&request.command.content, &request.command.content_b64) {
        (Some(c), _) => Ok(Some(c.clone().into_bytes())),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map(Some)
            .map_err(|_| failure(FailureKind::ClientSideError, "content_b64 is not valid base64")),
        (None, None) => Ok(None),
    }
}

/// The agent-target whose address the request goes to, with its authentication.
fn endpoint(request: &CommandRequest) -> Option<&AgentTarget> {
    request
        .agent
        .iter()
        .chain(&request.targets)
        .map(|(_, at)| at)
        .find(|at| at.kind == AgentTargetType::HttpApi && at.address.as_ref().is_some_and(|a| !a.is_empty()))
}

fn first(at: &AgentTarget, key: &str) -> Option<String> {
    at.address.as_ref()?.get(key)?.iter().find_map(|v| v.as_str().map(str::to_owned))
}

fn base_url(at: &AgentTarget) -> Result<url::Url, String> {
    if let Some(u) = first(at, "url") {
        let with_scheme = if u.contains("://") { u } else { format!("http://{u}") };
        return url::Url::parse(&with_scheme).map_err(|e| format!("the agent's url {with_scheme:?} is invalid: {e}"));
    }
    let port = at.port.as_deref().unwrap_or("80");
    let port: u16 = port.trim().parse().map_err(|_| format!("port {port:?} is not a TCP port"))?;
    let scheme = if port == 443 { "https" } else { "http" };
    let host = if let Some(h) = first(at, "dname").or_else(|| first(at, "ipv4")) {
        h
    } else if let Some(h) = first(at, "ipv6") {
        format!("[{}]", h.trim_start_matches('[').trim_end_matches(']'))
    } else {
        return Err("the http-api agent or target has no url, dname, ipv4 or ipv6 address".into());
    };
    url::Url::parse(&format!("{scheme}://{host}:{port}/")).map_err(|e| format!("address {host:?}: {e}"))
}

fn target_url<'a>(
    request: &'a CommandRequest,
    target: &str,
) -> Result<(url::Url, Option<&'a AuthenticationInfo>), String> {
    let at = endpoint(request);
    let auth = at
        .and_then(|at| at.authentication_info.as_deref())
        .and_then(|id| request.authentications.get(id))
        .or(request.authentication.as_ref());
    if target.starts_with("http://") || target.starts_with("https://") {
        let url = url::Url::parse(target).map_err(|e| format!("request target {target:?}: {e}"))?;
        return Ok((url, auth));
    }
    let at = at.ok_or("the request target is a path, but the step has no http-api agent or target with an address")?;
    let base = base_url(at)?;
    let url = base.join(target).map_err(|e| format!("request target {target:?}: {e}"))?;
    Ok((url, auth))
}

/// A URL for messages: no user info, no query (either may hold a secret).
fn without_secrets(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}

/// A failure for a request that got no response.
pub(crate) fn transport_failure(e: &reqwest::Error) -> CommandFailure {
    if let Some(denied) = find_denial(e) {
        return failure(FailureKind::ClientSideError, denied.to_string());
    }
    if e.is_timeout() {
        return failure(FailureKind::Timeout, "the HTTP request timed out");
    }
    let mut message = format!("HTTP request failed: {}", e.without_url_ref());
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    failure(FailureKind::Failed, message)
}

trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    /// The error's own text without the URL (which may carry credentials).
    fn without_url_ref(&self) -> String {
        let text = self.to_string();
        match self.url() {
            Some(u) => text.replace(&format!(" ({u})"), "").replace(u.as_str(), &without_secrets(u)),
            None => text,
        }
    }
}

/// Reads at most `limit` bytes of body; more is a failure.
pub(crate) async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, CommandFailure> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(failure(
                        FailureKind::ServerSideError,
                        format!("the response body exceeds the {limit}-byte limit"),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(transport_failure(&e)),
        }
    }
}
