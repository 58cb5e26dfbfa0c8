//! Login sessions and API tokens. Only SHA-256 hashes of their secrets are
//! stored; the secrets themselves never reach the database.

use muster_core::{OrgId, Role, TokenId, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, from_ms, now_ms, parse_col};

/// The stored form of a session id or token secret.
#[must_use]
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A login session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: UserId,
    pub active_org: OrgId,
    pub csrf: String,
    pub expires_at: i64,
}

/// An API token's metadata (never its secret or hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub name: String,
    pub user: UserId,
    pub org: OrgId,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<time::OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<time::OffsetDateTime>,
}

impl ApiToken {
    /// Whether the token can be used at `now_ms`.
    #[must_use]
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| crate::to_ms(e) > now)
    }
}

/// What a new token is for.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub user: UserId,
    pub org: OrgId,
    pub role: Role,
    pub expires_at: Option<i64>,
}

const TOKEN_COLUMNS: &str = "id, name, user_id, org_id, role, created_at, expires_at, revoked_at, last_used_at";

fn token_from_row(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: parse_col("id", &row.try_get::<String, _>("id")?)?,
        name: row.try_get("name")?,
        user: parse_col("user_id", &row.try_get::<String, _>("user_id")?)?,
        org: parse_col("org_id", &row.try_get::<String, _>("org_id")?)?,
        role: parse_col("role", &row.try_get::<String, _>("role")?)?,
        created_at: from_ms(row.try_get("created_at")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
    })
}

impl Store {
    /// Records a session under the hash of its secret id.
    ///
    /// # Errors
    /// Database errors.
    pub async fn create_session(&self, secret: &str, session: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, active_org, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash_secret(secret))
        .bind(session.user.uuid().to_string())
        .bind(session.active_org.uuid().to_string())
        .bind(&session.csrf)
        .bind(now_ms())
        .bind(session.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "session"))?;
        Ok(())
    }

    /// The unexpired session with this secret id, if any.
    ///
    /// # Errors
    /// Database errors.
    pub async fn get_session(&self, secret: &str) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT user_id, active_org, csrf, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(hash_secret(secret))
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Session {
                user: parse_col("user_id", &row.try_get::<String, _>("user_id")?)?,
                active_org: parse_col("active_org", &row.try_get::<String, _>("active_org")?)?,
                csrf: row.try_get("csrf")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    /// Switches the organisation a session acts for.
    ///
    /// # Errors
    /// Database errors.
    pub async fn set_session_org(&self, secret: &str, org: OrgId) -> Result<()> {
        sqlx::query("UPDATE sessions SET active_org = $1 WHERE id_hash = $2")
            .bind(org.uuid().to_string())
            .bind(hash_secret(secret))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a session.
    ///
    /// # Errors
    /// Database errors.
    pub async fn delete_session(&self, secret: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(hash_secret(secret)).execute(&self.pool).await?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    ///
    /// # Errors
    /// Database errors.
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Stores a new token under the hash of `secret`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when user or organisation is missing.
    pub async fn create_token(&self, secret: &str, new: &NewToken) -> Result<ApiToken> {
        let id = TokenId::new();
        let now = now_ms();
        sqlx::query(&format!(
            "INSERT INTO api_tokens (token_hash, {TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)"
        ))
        .bind(hash_secret(secret))
        .bind(id.uuid().to_string())
        .bind(new.name.trim())
        .bind(new.user.uuid().to_string())
        .bind(new.org.uuid().to_string())
        .bind(new.role.as_str())
        .bind(now)
        .bind(new.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "token"))?;
        self.get_token(id).await
    }

    /// A token's metadata by id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_token(&self, id: TokenId) -> Result<ApiToken> {
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"))
            .bind(id.uuid().to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
        token_from_row(&row)
    }

    /// The active token with this secret, marking it used.
    ///
    /// # Errors
    /// Database errors.
    pub async fn use_token(&self, secret: &str) -> Result<Option<ApiToken>> {
        let hash = hash_secret(secret);
        let row = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"))
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from_row(&row)?;
        let now = now_ms();
        if !token.is_active(now) {
            return Ok(None);
        }
        // Coarse last-used stamp: at most one write a minute per token.
        if token.last_used_at.is_none_or(|t| now - crate::to_ms(t) > 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(&hash)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(token))
    }

    /// Tokens of one organisation, newest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_tokens(&self, org: OrgId) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE org_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(org.uuid().to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes a token (idempotent).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn revoke_token(&self, id: TokenId) -> Result<ApiToken> {
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(id.uuid().to_string())
            .execute(&self.pool)
            .await?;
        self.get_token(id).await
    }
}
