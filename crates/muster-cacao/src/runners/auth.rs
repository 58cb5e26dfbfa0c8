//! Authentication for HTTP runners: http-basic, user-auth (as HTTP Basic),
//! oauth2 bearer tokens, and the OAuth 2.0 client-credentials grant.
//!
//! CACAO's `oauth2` object carries a ready bearer `token`. To have Muster fetch
//! one instead, add Muster's extension to the authentication info:
//!
//! ```json
//! "authentication_info_extensions": {
//!   "extension-definition--6b0d3a3c-8a44-4d8e-9a43-6d7573746572": {
//!     "token_url": "https://idp.example.org/oauth2/token", "client_id": "muster", "scope": "fw.write"
//!   }
//! }
//! ```
//!
//! The client secret is the extension's `client_secret`, or else the object's
//! `token` (the schema requires `token`, so it holds the secret). The token
//! endpoint is under the same egress policy; tokens are cached until shortly
//! before they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::outputs::MUSTER_EXTENSION;
use super::{EgressPolicy, failure};
use crate::engine::{CommandFailure, FailureKind};
use crate::model::{AuthenticationInfo, AuthenticationInfoType};

/// Most cached tokens; the cache is emptied when full.
const MAX_CACHED_TOKENS: usize = 256;
/// Largest token response read.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    url: String,
    client_id: String,
    scope: Option<String>,
}

/// Access tokens fetched with the client-credentials grant.
#[derive(Debug, Default)]
pub(crate) struct TokenCache(Mutex<HashMap<TokenKey, (String, Instant)>>);

struct ClientCredentials {
    key: TokenKey,
    secret: String,
}

fn client_credentials(auth: &AuthenticationInfo) -> Result<Option<ClientCredentials>, CommandFailure> {
    let Some(ext) = auth.authentication_info_extensions.as_ref().and_then(|e| e.get(MUSTER_EXTENSION)) else {
        return Ok(None);
    };
    let field = |name: &str| ext.get(name).and_then(Value::as_str).map(str::to_owned);
    let missing = |name: &str| {
        failure(FailureKind::ClientSideError, format!("oauth2 client credentials: the Muster extension needs {name}"))
    };
    let url = field("token_url").ok_or_else(|| missing("token_url"))?;
    let client_id = field("client_id").ok_or_else(|| missing("client_id"))?;
    let secret = field("client_secret").or_else(|| auth.token.clone()).ok_or_else(|| missing("client_secret"))?;
    Ok(Some(ClientCredentials { key: TokenKey { url, client_id, scope: field("scope") }, secret }))
}

impl TokenCache {
    fn get(&self, key: &TokenKey) -> Option<String> {
        let cache = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(key).filter(|(_, until)| Instant::now() < *until).map(|(t, _)| t.clone())
    }

    fn put(&self, key: TokenKey, token: String, lifetime: Duration) {
        let mut cache = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_TOKENS {
            cache.clear();
        }
        cache.insert(key, (token, Instant::now() + lifetime));
    }
}

/// Adds the authentication `auth` asks for to `builder`.
pub(crate) async fn apply(
    builder: reqwest::RequestBuilder,
    auth: Option<&AuthenticationInfo>,
    client: &reqwest::Client,
    policy: &EgressPolicy,
    tokens: &TokenCache,
) -> Result<reqwest::RequestBuilder, CommandFailure> {
    let Some(auth) = auth else { return Ok(builder) };
    if auth.kms == Some(true) {
        return Err(failure(
            FailureKind::ClientSideError,
            "authentication info uses a key management store (kms), which this runner is not configured for",
        ));
    }
    let need =
        |what: &str| failure(FailureKind::ClientSideError, format!("{} authentication info has no {what}", auth.kind));
    match &auth.kind {
        AuthenticationInfoType::HttpBasic => {
            let user = auth.user_id.as_deref().ok_or_else(|| need("user_id"))?;
            Ok(builder.basic_auth(user, Some(auth.password.as_deref().unwrap_or_default())))
        }
        AuthenticationInfoType::UserAuth => {
            let user = auth.username.as_deref().ok_or_else(|| need("username"))?;
            Ok(builder.basic_auth(user, Some(auth.password.as_deref().unwrap_or_default())))
        }
        AuthenticationInfoType::Oauth2 => {
            if let Some(cc) = client_credentials(auth)? {
                let token = fetch_token(&cc, client, policy, tokens).await?;
                return Ok(builder.bearer_auth(token));
            }
            match (auth.token.as_deref().filter(|t| !t.is_empty()), auth.oauth_header.as_deref()) {
                (Some(token), _) => Ok(builder.bearer_auth(token)),
                // No token: the header value is given whole (RFC 5849 section 3.5.1 style).
                (None, Some(header)) if !header.is_empty() => {
                    Ok(builder.header(reqwest::header::AUTHORIZATION, header))
                }
                _ => Err(need("token")),
            }
        }
        other => Err(failure(
            FailureKind::ClientSideError,
            format!("authentication type '{other}' is not supported by HTTP runners"),
        )),
    }
}

async fn fetch_token(
    cc: &ClientCredentials,
    client: &reqwest::Client,
    policy: &EgressPolicy,
    tokens: &TokenCache,
) -> Result<String, CommandFailure> {
    if let Some(t) = tokens.get(&cc.key) {
        return Ok(t);
    }
    let fail = |kind, msg: String| failure(kind, format!("oauth2 token request to {}: {msg}", cc.key.url));
    let url = url::Url::parse(&cc.key.url).map_err(|e| fail(FailureKind::ClientSideError, e.to_string()))?;
    policy.check_url(&url).map_err(|e| fail(FailureKind::ClientSideError, e.to_string()))?;
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &cc.key.scope {
        form.push(("scope", scope));
    }
    let response = client
        .post(url)
        .basic_auth(&cc.key.client_id, Some(&cc.secret))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| super::http::transport_failure(&e))
        .map_err(|f| fail(f.kind, f.message))?;
    let status = response.status();
    let body = super::http::read_capped(response, MAX_TOKEN_RESPONSE).await.map_err(|f| fail(f.kind, f.message))?;
    if !status.is_success() {
        return Err(fail(FailureKind::ClientSideError, format!("the token endpoint answered HTTP {status}")));
    }
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|_| fail(FailureKind::ServerSideError, "the token response is not JSON".into()))?;
    let token = doc
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| fail(FailureKind::ServerSideError, "the token response has no access_token".into()))?
        .to_owned();
    let expires_in = doc.get("expires_in").and_then(Value::as_u64).unwrap_or(300);
    // Renew a little early so a token does not expire in flight.
    let lifetime = Duration::from_secs(expires_in.saturating_sub(30).max(1));
    tokens.put(cc.key.clone(), token.clone(), lifetime);
    Ok(token)
}
