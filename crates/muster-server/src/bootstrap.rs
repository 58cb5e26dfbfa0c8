//! First start and the demo data set.
//!
//! An empty store gets the platform operator's organisation and an `admin`
//! account with a random one-time password, printed once by the caller. No
//! password ships with Muster, the demo's included: its passwords are random too.

use muster_core::{OrgKind, Role, Tlp};
use muster_store::{NewAuditEntry, NewCircle, NewOrganisation, NewUser, Store, StoreError};
use serde_json::json;

use crate::auth::{hash_password, random_password};

/// A login created now, to be shown to the operator once.
#[derive(Debug, Clone)]
pub struct Credential {
    pub username: String,
    pub password: String,
    pub organisation: String,
    pub role: Role,
    pub one_time: bool,
}

fn internal(e: &crate::error::AppError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

async fn system_audit(store: &Store, action: &str, target: &str, detail: serde_json::Value) -> Result<(), StoreError> {
    store
        .audit(&NewAuditEntry {
            actor: "system".into(),
            org: None,
            action: action.into(),
            target: target.into(),
            detail,
        })
        .await
        .map(|_| ())
}

/// Creates the operator organisation and the first admin when the store has no users.
///
/// # Errors
/// Store errors.
pub async fn ensure_admin(store: &Store) -> Result<Option<Credential>, StoreError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let org = match store.get_org_by_slug("operator").await {
        Ok(o) => o,
        Err(StoreError::NotFound(_)) => {
            let new = NewOrganisation {
                slug: "operator".into(),
                name: "Platform operator".into(),
                kind: OrgKind::Other,
                country: None,
                sectors: Vec::new(),
                client_of: None,
                tlp: Tlp::Green,
            };
            store.create_org(&new, true).await?
        }
        Err(e) => return Err(e),
    };
    let password = random_password();
    let hash = hash_password(&password).map_err(|e| internal(&e))?;
    let user = NewUser {
        username: "admin".into(),
        display_name: "Administrator".into(),
        email: None,
        org: org.id,
        role: Role::Admin,
    };
    store.create_user_with(&user, Some(&hash), true).await?;
    system_audit(store, "platform.bootstrap", &org.id.to_string(), json!({ "admin": "admin" })).await?;
    Ok(Some(Credential {
        username: "admin".into(),
        password,
        organisation: org.name,
        role: Role::Admin,
        one_time: true,
    }))
}

struct DemoOrg {
    slug: &'static str,
    name: &'static str,
    kind: OrgKind,
    country: &'static str,
    sectors: &'static [&'static str],
    client_of: Option<&'static str>,
}

const DEMO_ORGS: &[DemoOrg] = &[
    DemoOrg {
        slug: "cert-de",
        name: "CERT Germany (demo)",
        kind: OrgKind::NationalCsirt,
        country: "DE",
        sectors: &[],
        client_of: None,
    },
    DemoOrg {
        slug: "cert-fr",
        name: "CERT France (demo)",
        kind: OrgKind::NationalCsirt,
        country: "FR",
        sectors: &[],
        client_of: None,
    },
    DemoOrg {
        slug: "eu-cert",
        name: "EU-level CERT (demo)",
        kind: OrgKind::EuCert,
        country: "EU",
        sectors: &[],
        client_of: None,
    },
    DemoOrg {
        slug: "energy-isac",
        name: "Energy ISAC (demo)",
        kind: OrgKind::SectoralCsirt,
        country: "EU",
        sectors: &["energy"],
        client_of: None,
    },
    DemoOrg {
        slug: "gridco",
        name: "GridCo Transmission (demo)",
        kind: OrgKind::PrivatePartner,
        country: "DE",
        sectors: &["energy"],
        client_of: Some("cert-de"),
    },
    DemoOrg {
        slug: "police-nl",
        name: "National Police NL (demo)",
        kind: OrgKind::LawEnforcement,
        country: "NL",
        sectors: &[],
        client_of: None,
    },
    DemoOrg {
        slug: "crisis-fr",
        name: "Crisis Authority FR (demo)",
        kind: OrgKind::CrisisAuthority,
        country: "FR",
        sectors: &["public-administration"],
        client_of: None,
    },
];

/// (username, display name, home org slug, role, further org slugs)
const DEMO_USERS: &[(&str, &str, &str, Role, &[&str])] = &[
    ("alice", "Alice Analyst", "cert-de", Role::Analyst, &[]),
    ("bob", "Bob Coordinator", "eu-cert", Role::Coordinator, &["cert-de", "cert-fr", "energy-isac"]),
    ("carol", "Carol Admin", "cert-fr", Role::Admin, &[]),
    ("dave", "Dave Observer", "gridco", Role::Observer, &[]),
    ("erin", "Erin Investigator", "police-nl", Role::Analyst, &[]),
];

/// Loads the demo organisations, users and a trust circle. Does nothing when
/// they are already there (returns no credentials then).
///
/// # Errors
/// Store errors.
pub async fn load_demo(store: &Store) -> Result<Vec<Credential>, StoreError> {
    if store.get_org_by_slug("cert-de").await.is_ok() {
        return Ok(Vec::new());
    }
    let mut ids = std::collections::HashMap::new();
    for o in DEMO_ORGS {
        let parse = |e: muster_core::UnknownValue| StoreError::Invalid(e.to_string());
        let new = NewOrganisation {
            slug: o.slug.into(),
            name: o.name.into(),
            kind: o.kind,
            country: Some(o.country.parse().map_err(parse)?),
            sectors: o.sectors.iter().map(|s| s.parse()).collect::<Result<_, _>>().map_err(parse)?,
            client_of: o.client_of.and_then(|c| ids.get(c).copied()),
            tlp: Tlp::Green,
        };
        ids.insert(o.slug, store.create_org(&new, false).await?.id);
    }
    let org =
        |slug: &str| ids.get(slug).copied().ok_or_else(|| StoreError::NotFound(format!("demo organisation {slug}")));
    let mut creds = Vec::new();
    for (username, name, home, role, more) in DEMO_USERS {
        let password = random_password();
        let hash = hash_password(&password).map_err(|e| internal(&e))?;
        let new = NewUser {
            username: (*username).into(),
            display_name: (*name).into(),
            email: None,
            org: org(home)?,
            role: *role,
        };
        let user = store.create_user(&new, Some(&hash)).await?;
        for m in *more {
            store.add_membership(user.id, org(m)?, *role).await?;
        }
        let organisation = DEMO_ORGS.iter().find(|o| o.slug == *home).map_or("", |o| o.name).to_owned();
        creds.push(Credential { username: (*username).into(), password, organisation, role: *role, one_time: false });
    }
    store
        .create_circle(
            org("energy-isac")?,
            &NewCircle {
                name: "Energy sector circle".into(),
                description: "Energy-sector CSIRTs and operators sharing TLP:AMBER material (demo)".into(),
                members: vec![org("cert-de")?, org("gridco")?, org("eu-cert")?],
                tlp: Tlp::Amber,
            },
        )
        .await?;
    demo_alerts(store, org("cert-de")?, &["cert-de-sensor", "dmz-ids"]).await?;
    demo_alerts(store, org("gridco")?, &["scada-gw-ids"]).await?;
    system_audit(
        store,
        "platform.demo",
        "demo",
        json!({ "organisations": DEMO_ORGS.len(), "users": DEMO_USERS.len() }),
    )
    .await?;
    Ok(creds)
}

/// Demo signatures: (signature id, signature, category, severity 1-3).
/// Written for the demo (documentation address ranges, invented rule ids).
const DEMO_SIGNATURES: &[(u32, &str, &str, u8)] = &[
    (9_100_001, "DEMO Possible SSH brute force attempt", "Attempted Administrator Privilege Gain", 1),
    (9_100_002, "DEMO Cobalt Strike beacon HTTP check-in", "A Network Trojan was detected", 1),
    (9_100_003, "DEMO Inbound Modbus write to coil from external host", "Attempted Information Leak", 2),
    (9_100_004, "DEMO Nmap SYN scan detected", "Detection of a Network Scan", 3),
    (9_100_005, "DEMO DNS query for known phishing domain", "Potential Corporate Privacy Violation", 2),
];

/// A few Suricata EVE alerts for a demo organisation, through the real intake.
async fn demo_alerts(store: &Store, org: muster_core::OrgId, sensors: &[&str]) -> Result<(), StoreError> {
    let now = time::OffsetDateTime::now_utc();
    let mut lines = Vec::new();
    for (n, (sid, sig, cat, sev)) in DEMO_SIGNATURES.iter().enumerate() {
        for (k, sensor) in sensors.iter().enumerate() {
            let at = now - time::Duration::minutes(i64::try_from(7 * n + 3 * k).unwrap_or(0));
            let port = [22, 443, 502, 80, 53][n % 5];
            let ts = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            let record = json!({
                "timestamp": ts,
                "event_type": "alert",
                "host": sensor,
                "src_ip": format!("203.0.113.{}", 10 + n),
                "src_port": 40_000 + n,
                "dest_ip": format!("192.0.2.{}", 20 + k),
                "dest_port": port,
                "proto": if n == 4 { "UDP" } else { "TCP" },
                "alert": { "action": "allowed", "gid": 1, "signature_id": sid, "rev": 1, "signature": sig, "category": cat, "severity": sev }
            });
            lines.push(record.to_string());
        }
    }
    let batch = crate::api::alerts::Batch {
        body: lines.join("\n").into_bytes().into(),
        format: Some(muster_intake::Format::Eve),
        report: None,
        key: Some("demo-alerts".into()),
    };
    crate::api::alerts::ingest_batch(store, org, 3600, &muster_intake::correlate::CorrelationConfig::default(), batch)
        .await
        .map_err(|e| StoreError::Invalid(format!("demo alerts: {e}")))?;
    Ok(())
}
