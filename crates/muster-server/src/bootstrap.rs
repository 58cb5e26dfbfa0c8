//! First start and the demo data set.
//!
//! An empty store gets the platform operator's organisation and an `admin`
//! account with a random one-time password, printed once by the caller. No
//! password ships with Muster, the demo's included: its passwords are random too.

use muster_core::incident::{IncidentStatus, Resolution};
use muster_core::incident_work::TaskStatus;
use muster_core::{OrgKind, Role, Tlp};
use muster_store::{
    IncidentChanges, NewAuditEntry, NewCircle, NewIncident, NewObservable, NewOrganisation, NewTask, NewUser,
    ObservableChanges, Store, StoreError, TaskChanges,
};
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
    let alice = store.get_user_for_login("alice").await?.user.id;
    demo_incidents(store, org("cert-de")?, Some(alice), "user:alice").await?;
    demo_incidents(store, org("gridco")?, None, "user:dave").await?;
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

/// Moves a demo incident along `path` through the lifecycle rules.
async fn demo_moves(
    store: &Store,
    id: &str,
    path: &[(IncidentStatus, Option<Resolution>)],
    actor: &str,
) -> Result<(), StoreError> {
    for (to, resolution) in path {
        let row = store.incident(id).await?;
        let mut l = row.lifecycle;
        let from = l.status;
        l.transition(*to, *resolution, time::OffsetDateTime::now_utc())
            .map_err(|e| StoreError::Invalid(format!("demo incident: {e}")))?;
        store.save_lifecycle(id, from, &l, actor).await?;
    }
    Ok(())
}

/// A few incidents in different states for a demo organisation, opened from
/// its demo alerts and worked through the same store functions the API uses.
async fn demo_incidents(
    store: &Store,
    org: muster_core::OrgId,
    assignee: Option<muster_core::UserId>,
    actor: &str,
) -> Result<(), StoreError> {
    use IncidentStatus::{Closed, Contained, InProgress, Triage};
    let alerts = store.list_alerts(org, None, 100).await?;
    let from = |needle: &str| -> Vec<String> {
        alerts.iter().filter(|a| a.title.contains(needle)).map(|a| a.id.clone()).collect()
    };
    let open = |title: &str, severity: &str, rsit: &str, alert_ids: Vec<String>| NewIncident {
        title: title.into(),
        description: String::new(),
        severity: severity.into(),
        tlp: Tlp::Amber,
        pap: "PAP:AMBER".into(),
        rsit_type: Some(rsit.into()),
        alert_ids,
    };
    // New: a scan nobody has looked at yet.
    store.create_incident(org, &open("Network scan from 203.0.113.13", "low", "scanner", from("Nmap")), actor).await?;

    // In progress: brute force, assigned, with tasks, a comment and an IoC.
    let brute = store
        .create_incident(org, &open("SSH brute force against the jump host", "high", "brute-force", from("SSH")), actor)
        .await?;
    demo_moves(store, &brute.id, &[(Triage, None), (InProgress, None)], actor).await?;
    if assignee.is_some() {
        let ch = IncidentChanges { assignee: Some(assignee), ..IncidentChanges::default() };
        store.update_incident(&brute.id, None, &ch, actor).await?;
    }
    let t = store
        .add_task(
            &brute.id,
            &NewTask { title: "Block 203.0.113.10 at the edge firewall".into(), ..NewTask::default() },
            actor,
        )
        .await?;
    let done = TaskChanges { status: Some(TaskStatus::Done), ..TaskChanges::default() };
    store.update_task(&brute.id, &t.id, &done, actor).await?;
    store
        .add_task(
            &brute.id,
            &NewTask { title: "Check auth logs for a successful login".into(), assignee, ..NewTask::default() },
            actor,
        )
        .await?;
    store.add_comment(&brute.id, actor, "Around 400 attempts per minute, all from one address.").await?;
    let ioc = NewObservable {
        kind: "ipv4".into(),
        value: "203.0.113.10".into(),
        ioc: true,
        sighted: true,
        tlp: None,
        pap: None,
    };
    if store.add_observable(&brute.id, &ioc, actor).await.is_err() {
        // Copied from the alert already: flag it instead.
        if let Some(o) = store.incident_observables(&brute.id).await?.into_iter().find(|o| o.value == "203.0.113.10") {
            let ch = ObservableChanges { ioc: Some(true), sighted: Some(true), ..ObservableChanges::default() };
            store.update_observable(&brute.id, &o.id, &ch, actor).await?;
        }
    }

    // Contained: a beacon, worked with the ransomware template.
    let beacon = store
        .create_incident(
            org,
            &open("Cobalt Strike beacon on a workstation", "critical", "c2-server", from("Cobalt")),
            actor,
        )
        .await?;
    store.apply_template(&beacon.id, "template--builtin-ransomware", actor).await?;
    demo_moves(store, &beacon.id, &[(Triage, None), (InProgress, None), (Contained, None)], actor).await?;
    store.add_comment(&beacon.id, actor, "Workstation isolated; memory image taken.").await?;
    store
        .add_attachment(&beacon.id, "triage-notes.txt", b"Beacon interval 60 s, jitter 10 %. Host isolated.\n", actor)
        .await?;

    // Closed: a phishing-domain lookup that turned out harmless.
    let dns = store
        .create_incident(
            org,
            &open("DNS lookup of a known phishing domain", "medium", "phishing", from("phishing")),
            actor,
        )
        .await?;
    store.add_comment(&dns.id, actor, "The lookup came from the mail sandbox detonating a reported e-mail.").await?;
    demo_moves(store, &dns.id, &[(Triage, None), (Closed, Some(Resolution::Benign))], actor).await?;
    Ok(())
}
