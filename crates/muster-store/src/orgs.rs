//! Organisations.

use muster_core::{Country, OrgId, OrgKind, Organisation, Sector, Tlp};
use serde::Deserialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, from_ms, parse_col};

/// Fields of a new organisation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    pub slug: String,
    pub name: String,
    pub kind: OrgKind,
    #[serde(default)]
    pub country: Option<Country>,
    #[serde(default)]
    pub sectors: Vec<Sector>,
    #[serde(default)]
    pub client_of: Option<OrgId>,
    #[serde(default = "default_org_tlp")]
    pub tlp: Tlp,
}

fn default_org_tlp() -> Tlp {
    Tlp::Green
}

const ORG_COLUMNS: &str = "id, slug, name, kind, country, sectors, client_of, operator, tlp, created_at";

fn org_from_row(row: &AnyRow) -> Result<Organisation> {
    let sectors: String = row.try_get("sectors")?;
    Ok(Organisation {
        id: parse_col("id", &row.try_get::<String, _>("id")?)?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        kind: parse_col("kind", &row.try_get::<String, _>("kind")?)?,
        country: row.try_get::<Option<String>, _>("country")?.map(|c| parse_col("country", &c)).transpose()?,
        sectors: serde_json::from_str(&sectors).map_err(|e| StoreError::Corrupt(format!("sectors: {e}")))?,
        client_of: row.try_get::<Option<String>, _>("client_of")?.map(|c| parse_col("client_of", &c)).transpose()?,
        operator: row.try_get::<i64, _>("operator")? != 0,
        tlp: parse_col("tlp", &row.try_get::<String, _>("tlp")?)?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

impl Store {
    /// Creates an organisation. `operator` marks the platform operator's own.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the slug is taken.
    pub async fn create_org(&self, new: &NewOrganisation, operator: bool) -> Result<Organisation> {
        muster_core::org::validate_handle("slug", &new.slug).map_err(StoreError::Invalid)?;
        let org = Organisation {
            id: OrgId::new(),
            slug: new.slug.clone(),
            name: new.name.trim().to_owned(),
            kind: new.kind,
            country: new.country,
            sectors: new.sectors.clone(),
            client_of: new.client_of,
            operator,
            tlp: new.tlp,
            created_at: crate::from_ms(crate::now_ms()),
        };
        sqlx::query(&format!(
            "INSERT INTO organisations ({ORG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(org.id.uuid().to_string())
        .bind(&org.slug)
        .bind(&org.name)
        .bind(org.kind.as_str())
        .bind(org.country.map(|c| c.to_string()))
        .bind(serde_json::to_string(&org.sectors).unwrap_or_else(|_| "[]".into()))
        .bind(org.client_of.map(|c| c.uuid().to_string()))
        .bind(i64::from(operator))
        .bind(org.tlp.as_str())
        .bind(crate::to_ms(org.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "organisation"))?;
        Ok(org)
    }

    /// One organisation by id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_org(&self, id: OrgId) -> Result<Organisation> {
        let row = sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM organisations WHERE id = $1"))
            .bind(id.uuid().to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {id}")))?;
        org_from_row(&row)
    }

    /// One organisation by slug.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    pub async fn get_org_by_slug(&self, slug: &str) -> Result<Organisation> {
        let row = sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM organisations WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organisation {slug:?}")))?;
        org_from_row(&row)
    }

    /// Every organisation, by name. Callers filter through the access policy.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_orgs(&self) -> Result<Vec<Organisation>> {
        let rows = sqlx::query(&format!("SELECT {ORG_COLUMNS} FROM organisations ORDER BY name, id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(org_from_row).collect()
    }

    /// Number of organisations.
    ///
    /// # Errors
    /// Database errors.
    pub async fn count_orgs(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM organisations").fetch_one(&self.pool).await?)
    }
}
