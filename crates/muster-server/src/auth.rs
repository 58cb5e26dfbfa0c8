//! Who is calling: password hashing, session cookies, API tokens, CSRF and
//! login throttling. A request becomes a [`Principal`] here, once.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use muster_core::{Organisation, Role, User, Viewer};
use rand::RngCore;

use crate::error::AppError;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "muster_session";
/// Name of the pre-login CSRF cookie (double-submit for the login form).
pub const LOGIN_CSRF_COOKIE: &str = "muster_login_csrf";
/// Header carrying the CSRF token for cookie-authenticated API writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Prefix of every API token, so secret scanners can find leaked ones.
pub const TOKEN_PREFIX: &str = "mst_";
/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 12;

/// A fresh random secret: 32 bytes, URL-safe base64, with a prefix.
#[must_use]
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A random password a person can type: 20 characters from an unambiguous alphabet.
#[must_use]
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20).map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char).collect()
}

/// Checks the password policy.
///
/// # Errors
/// A message saying what is wrong.
pub fn check_password_policy(pw: &str) -> Result<(), AppError> {
    if pw.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::Unprocessable(format!("password: must be at least {MIN_PASSWORD_LEN} characters")));
    }
    if pw.len() > 1024 {
        return Err(AppError::Unprocessable("password: must be at most 1024 bytes".into()));
    }
    Ok(())
}

/// An argon2id hash in PHC string format.
///
/// # Errors
/// When hashing fails (never for valid input).
pub fn hash_password(pw: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Whether `pw` matches the stored hash.
#[must_use]
pub fn verify_password(hash: &str, pw: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// Compares two secrets without an early exit.
#[must_use]
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    Session { secret: String, csrf: String },
    Token { id: muster_core::TokenId },
}

/// An authenticated caller acting for one organisation.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The organisation acted for now.
    pub org: Organisation,
    /// The role held in that organisation (a token's own role for tokens).
    pub role: Role,
    pub viewer: Viewer,
    pub via: Via,
}

impl Principal {
    /// `user:<name>` or `token:<id>`, for the audit log.
    #[must_use]
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Session { .. } => format!("user:{}", self.user.username),
            Via::Token { id } => format!("token:{id} (user:{})", self.user.username),
        }
    }

    /// Fails unless the role includes `needed`.
    ///
    /// # Errors
    /// [`AppError::Forbidden`].
    pub fn require(&self, needed: Role) -> Result<(), AppError> {
        if self.role.at_least(needed) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("this needs the {needed} role; you act as {}", self.role)))
        }
    }

    /// An admin of the platform operator's organisation.
    #[must_use]
    pub fn is_operator_admin(&self) -> bool {
        self.org.operator && self.role == Role::Admin
    }

    /// The CSRF token of a cookie session.
    #[must_use]
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Token { .. } => "",
        }
    }
}

/// Reads one cookie from the request headers.
#[must_use]
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Builds the principal for a user acting for `org_id` (which must be one of their memberships).
pub(crate) async fn principal_for(
    state: &AppState,
    user: User,
    org_id: muster_core::OrgId,
    role: Option<Role>,
    via: Via,
) -> Result<Principal, AppError> {
    let store = &state.store;
    let memberships = store.memberships(&user).await?;
    let held = memberships.iter().find(|m| m.org == org_id).map(|m| m.role);
    let Some(held) = held else { return Err(AppError::Unauthenticated) };
    // A token never exceeds the role its user holds in the organisation now.
    let role = role.map_or(held, |r| r.min(held));
    let org = store.get_org(org_id).await?;
    let viewer = Viewer {
        user: user.id,
        org: org.id,
        role,
        circles: store.circles_of(org.id).await?,
        client_of: org.client_of.into_iter().collect::<BTreeSet<_>>(),
    };
    Ok(Principal { user, org, role, viewer, via })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let principal = authenticate(parts, state).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, AppError> {
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let value = auth.to_str().map_err(|_| AppError::Unauthenticated)?;
        let secret = value.strip_prefix("Bearer ").ok_or(AppError::Unauthenticated)?.trim();
        let token = state.store.use_token(secret).await?.ok_or(AppError::Unauthenticated)?;
        let user = state.store.get_user(token.user).await?;
        if user.disabled {
            return Err(AppError::Unauthenticated);
        }
        return principal_for(state, user, token.org, Some(token.role), Via::Token { id: token.id }).await;
    }
    let secret = cookie(&parts.headers, SESSION_COOKIE).ok_or(AppError::Unauthenticated)?;
    let session = state.store.get_session(secret).await?.ok_or(AppError::Unauthenticated)?;
    let user = state.store.get_user(session.user).await?;
    if user.disabled {
        return Err(AppError::Unauthenticated);
    }
    let via = Via::Session { secret: secret.to_owned(), csrf: session.csrf };
    let principal = principal_for(state, user, session.active_org, None, via).await?;
    // Cookie-authenticated writes to the API must echo the CSRF token in a header.
    // Nested routers see a stripped path; the original one says whether this is the API.
    let path = parts.extensions.get::<axum::extract::OriginalUri>().map_or_else(|| parts.uri.path(), |u| u.0.path());
    if !parts.method.is_safe() && path.starts_with("/api/") {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !secrets_equal(sent, principal.csrf()) {
            return Err(AppError::Forbidden(format!(
                "missing or wrong {CSRF_HEADER} header for a cookie-authenticated write"
            )));
        }
    }
    Ok(principal)
}

/// Counts failed logins per account and per client address, and locks out
/// with a growing delay. Bounded: the oldest records go first when full.
#[derive(Debug)]
pub struct Throttle {
    max_failures: u32,
    entries: Mutex<HashMap<String, (u32, Instant)>>,
}

const THROTTLE_CAPACITY: usize = 100_000;
const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);

impl Throttle {
    #[must_use]
    pub fn new(max_failures: u32) -> Self {
        Self { max_failures: max_failures.max(1), entries: Mutex::new(HashMap::new()) }
    }

    fn keys(username: &str, ip: Option<IpAddr>) -> [String; 2] {
        [
            format!("u:{}", username.to_ascii_lowercase()),
            format!("ip:{}", ip.map(|i| i.to_string()).unwrap_or_default()),
        ]
    }

    /// Seconds to wait before another attempt is allowed, if locked out.
    #[must_use]
    pub fn locked_for(&self, username: &str, ip: Option<IpAddr>) -> Option<u64> {
        let entries = self.entries.lock().ok()?;
        Self::keys(username, ip)
            .iter()
            .filter_map(|k| entries.get(k))
            .filter(|(n, _)| *n >= self.max_failures)
            .filter_map(|(n, last)| {
                let lock = Duration::from_secs(30u64 << (n - self.max_failures).min(6));
                lock.checked_sub(last.elapsed()).map(|d| d.as_secs().max(1))
            })
            .max()
    }

    /// Records a failure.
    pub fn fail(&self, username: &str, ip: Option<IpAddr>) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= THROTTLE_CAPACITY {
            entries.retain(|_, (_, last)| last.elapsed() < THROTTLE_WINDOW);
            if entries.len() >= THROTTLE_CAPACITY {
                entries.clear();
            }
        }
        for k in Self::keys(username, ip) {
            let e = entries.entry(k).or_insert((0, Instant::now()));
            if e.1.elapsed() > THROTTLE_WINDOW {
                e.0 = 0;
            }
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    /// Clears the account's record after a success.
    pub fn succeed(&self, username: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&format!("u:{}", username.to_ascii_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "wrong horse battery"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn throttle_locks_after_the_limit_and_success_clears_the_account() {
        let t = Throttle::new(3);
        for _ in 0..2 {
            t.fail("bob", None);
        }
        assert!(t.locked_for("bob", None).is_none());
        t.fail("bob", None);
        assert!(t.locked_for("bob", None).is_some_and(|s| s >= 1));
        t.succeed("bob");
        // The address is still counted, so a spray from one client stays locked.
        assert!(t.locked_for("bob", None).is_some());
        assert!(t.locked_for("other", Some(IpAddr::from([10, 0, 0, 1]))).is_none());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy("long enough password").is_ok());
    }
}
