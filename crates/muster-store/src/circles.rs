//! Trust circles: named groups of organisations that share with each other.

use std::collections::BTreeSet;

use muster_core::{CircleId, OrgId, Tlp, TrustCircle};
use serde::Deserialize;
use sqlx::Row;

use crate::{Result, Store, StoreError, from_ms, now_ms, parse_col};

/// Fields of a new trust circle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCircle {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub members: Vec<OrgId>,
    #[serde(default = "default_circle_tlp")]
    pub tlp: Tlp,
}

fn default_circle_tlp() -> Tlp {
    Tlp::Amber
}

impl Store {
    /// Creates a circle owned by `owner`; the owner is always a member.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] on a duplicate name, [`StoreError::NotFound`] for an unknown member.
    pub async fn create_circle(&self, owner: OrgId, new: &NewCircle) -> Result<TrustCircle> {
        let name = new.name.trim();
        if name.is_empty() || name.len() > 120 {
            return Err(StoreError::Invalid("name: must be 1-120 characters".into()));
        }
        let id = CircleId::new();
        let mut members: BTreeSet<OrgId> = new.members.iter().copied().collect();
        members.insert(owner);
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO trust_circles (id, name, description, owner_org, tlp, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id.uuid().to_string())
            .bind(name)
            .bind(&new.description)
            .bind(owner.uuid().to_string())
            .bind(new.tlp.as_str())
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_insert(e, "trust circle"))?;
        for m in &members {
            sqlx::query("INSERT INTO circle_members (circle_id, org_id) VALUES ($1, $2)")
                .bind(id.uuid().to_string())
                .bind(m.uuid().to_string())
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from_insert(e, "circle member"))?;
        }
        tx.commit().await?;
        self.get_circle(id).await
    }

    /// One circle with its members.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_circle(&self, id: CircleId) -> Result<TrustCircle> {
        self.list_circles()
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("trust circle {id}")))
    }

    /// Every circle with its members. Callers filter through the access policy.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_circles(&self) -> Result<Vec<TrustCircle>> {
        let rows =
            sqlx::query("SELECT id, name, description, owner_org, tlp, created_at FROM trust_circles ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        let members = sqlx::query("SELECT circle_id, org_id FROM circle_members ORDER BY circle_id, org_id")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let mut m = Vec::new();
            for r in &members {
                if r.try_get::<String, _>("circle_id")? == id {
                    m.push(parse_col("org_id", &r.try_get::<String, _>("org_id")?)?);
                }
            }
            out.push(TrustCircle {
                id: parse_col("id", &id)?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                owner_org: parse_col("owner_org", &row.try_get::<String, _>("owner_org")?)?,
                members: m,
                tlp: parse_col("tlp", &row.try_get::<String, _>("tlp")?)?,
                created_at: from_ms(row.try_get("created_at")?),
            });
        }
        Ok(out)
    }

    /// Circles an organisation belongs to.
    ///
    /// # Errors
    /// Database errors.
    pub async fn circles_of(&self, org: OrgId) -> Result<BTreeSet<CircleId>> {
        let rows = sqlx::query("SELECT circle_id FROM circle_members WHERE org_id = $1")
            .bind(org.uuid().to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| parse_col("circle_id", &r.try_get::<String, _>("circle_id")?)).collect()
    }

    /// Adds or removes a member organisation.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown circle or organisation.
    pub async fn set_circle_member(&self, circle: CircleId, org: OrgId, member: bool) -> Result<TrustCircle> {
        let existing = self.get_circle(circle).await?;
        if member {
            sqlx::query("INSERT INTO circle_members (circle_id, org_id) VALUES ($1, $2) ON CONFLICT (circle_id, org_id) DO NOTHING")
                .bind(circle.uuid().to_string())
                .bind(org.uuid().to_string())
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::from_insert(e, "circle member"))?;
        } else {
            if org == existing.owner_org {
                return Err(StoreError::Conflict("the owner organisation cannot leave its own circle".into()));
            }
            sqlx::query("DELETE FROM circle_members WHERE circle_id = $1 AND org_id = $2")
                .bind(circle.uuid().to_string())
                .bind(org.uuid().to_string())
                .execute(&self.pool)
                .await?;
        }
        self.get_circle(circle).await
    }
}
