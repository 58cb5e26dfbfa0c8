//! Users and their memberships.

use muster_core::{OrgId, Role, User, UserId};
use serde::Deserialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, from_ms, now_ms, parse_col};

/// Fields of a new user. The password hash is made by the caller (argon2).
#[derive(Debug, Clone, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub org: OrgId,
    pub role: Role,
}

/// A user together with the stored password hash, for login only.
#[derive(Debug, Clone)]
pub struct UserWithSecret {
    pub user: User,
    pub password_hash: Option<String>,
}

/// A further organisation a user may act for, with the role held there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Membership {
    pub org: OrgId,
    pub role: Role,
}

const USER_COLUMNS: &str =
    "id, username, display_name, email, org_id, role, disabled, created_at, password_hash, must_change_password";

fn user_from_row(row: &AnyRow) -> Result<UserWithSecret> {
    Ok(UserWithSecret {
        user: User {
            id: parse_col("id", &row.try_get::<String, _>("id")?)?,
            username: row.try_get("username")?,
            display_name: row.try_get("display_name")?,
            email: row.try_get("email")?,
            org: parse_col("org_id", &row.try_get::<String, _>("org_id")?)?,
            role: parse_col("role", &row.try_get::<String, _>("role")?)?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
            must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
            created_at: from_ms(row.try_get("created_at")?),
        },
        password_hash: row.try_get("password_hash")?,
    })
}

impl Store {
    /// Creates a user with an optional password hash.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the username is taken; [`StoreError::NotFound`]
    /// when the organisation does not exist.
    pub async fn create_user(&self, new: &NewUser, password_hash: Option<&str>) -> Result<User> {
        self.create_user_with(new, password_hash, false).await
    }

    /// Creates a user; `one_time` makes the password a one-time password that
    /// must be replaced at first login.
    ///
    /// # Errors
    /// As [`Store::create_user`].
    pub async fn create_user_with(&self, new: &NewUser, password_hash: Option<&str>, one_time: bool) -> Result<User> {
        muster_core::org::validate_handle("username", &new.username).map_err(StoreError::Invalid)?;
        let now = now_ms();
        let user = User {
            id: UserId::new(),
            username: new.username.clone(),
            display_name: new.display_name.trim().to_owned(),
            email: new.email.clone().filter(|e| !e.trim().is_empty()),
            org: new.org,
            role: new.role,
            disabled: false,
            must_change_password: one_time,
            created_at: from_ms(now),
        };
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}, password_set_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10)"
        ))
        .bind(user.id.uuid().to_string())
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(user.email.clone())
        .bind(user.org.uuid().to_string())
        .bind(user.role.as_str())
        .bind(now)
        .bind(password_hash.map(str::to_owned))
        .bind(i64::from(one_time))
        .bind(password_hash.map(|_| now))
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "user"))?;
        Ok(user)
    }

    /// One user by id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_user(&self, id: UserId) -> Result<User> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.uuid().to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        Ok(user_from_row(&row)?.user)
    }

    /// A user and the password hash, by username.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_user_for_login(&self, username: &str) -> Result<UserWithSecret> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound("user".into()))?;
        user_from_row(&row)
    }

    /// Users, optionally of one organisation only, by username.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_users(&self, org: Option<OrgId>) -> Result<Vec<User>> {
        let rows = match org {
            Some(org) => {
                sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 ORDER BY username"))
                    .bind(org.uuid().to_string())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(|r| user_from_row(r).map(|u| u.user)).collect()
    }

    /// Number of users.
    ///
    /// # Errors
    /// Database errors.
    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?)
    }

    /// Replaces a user's password hash and ends their sessions. `one_time`
    /// marks it as a one-time password (set by an admin or the CLI).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn set_password_hash(&self, id: UserId, hash: &str, one_time: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE users SET password_hash = $1, password_set_at = $2, must_change_password = $3 WHERE id = $4",
        )
        .bind(hash)
        .bind(now_ms())
        .bind(i64::from(one_time))
        .bind(id.uuid().to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {id}")));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id.uuid().to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enables or disables a user; disabling ends their sessions and revokes their tokens.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id.uuid().to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {id}")));
        }
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id.uuid().to_string())
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(id.uuid().to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lets a user act for a further organisation with a role.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when user or organisation is missing.
    pub async fn add_membership(&self, user: UserId, org: OrgId, role: Role) -> Result<()> {
        sqlx::query(
            "INSERT INTO memberships (user_id, org_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, org_id) DO UPDATE SET role = excluded.role",
        )
        .bind(user.uuid().to_string())
        .bind(org.uuid().to_string())
        .bind(role.as_str())
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "membership"))?;
        Ok(())
    }

    /// Every organisation a user may act for: the home organisation first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn memberships(&self, user: &User) -> Result<Vec<Membership>> {
        let rows = sqlx::query("SELECT org_id, role FROM memberships WHERE user_id = $1 ORDER BY org_id")
            .bind(user.id.uuid().to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut out = vec![Membership { org: user.org, role: user.role }];
        for row in rows {
            let org: OrgId = parse_col("org_id", &row.try_get::<String, _>("org_id")?)?;
            if org != user.org {
                out.push(Membership { org, role: parse_col("role", &row.try_get::<String, _>("role")?)? });
            }
        }
        Ok(out)
    }
}
