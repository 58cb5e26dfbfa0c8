//! One store suite, run against SQLite (a real file) and PostgreSQL (a real
//! server started by `scripts/test`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use muster_core::{OrgKind, Role, Tlp};
use muster_store::{
    NewAuditEntry, NewCircle, NewOrganisation, NewToken, NewUser, Session, Store, StoreError, StoreOptions,
};

async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Store::open(&StoreOptions::sqlite(dir.path())).await.unwrap(), dir)
}

async fn pg_store() -> Option<Store> {
    let url = muster_testkit::fresh_pg_database().await?;
    let opts = StoreOptions { database_url: Some(url), data_dir: "unused".into(), max_connections: 4 };
    Some(Store::open(&opts).await.unwrap())
}

macro_rules! suite {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { let (s, _dir) = super::sqlite_store().await; super::$name(&s).await; })+
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { if let Some(s) = super::pg_store().await { super::$name(&s).await; } })+
        }
    };
}

suite!(
    organisations_round_trip,
    duplicate_slug_is_a_conflict,
    users_and_memberships,
    password_change_ends_sessions,
    sessions_expire,
    tokens_are_found_by_secret_only_while_active,
    circles_keep_the_owner_as_member,
    audit_chain_detects_edit_and_deletion,
    migrations_are_idempotent,
);

fn org(slug: &str) -> NewOrganisation {
    NewOrganisation {
        slug: slug.into(),
        name: format!("Org {slug}"),
        kind: OrgKind::NationalCsirt,
        country: Some("DE".parse().unwrap()),
        sectors: vec!["energy".parse().unwrap()],
        client_of: None,
        tlp: Tlp::Green,
    }
}

fn user(name: &str, org: muster_core::OrgId, role: Role) -> NewUser {
    NewUser { username: name.into(), display_name: name.to_uppercase(), email: None, org, role }
}

async fn organisations_round_trip(s: &Store) {
    let a = s.create_org(&org("cert-a"), true).await.unwrap();
    let b = s.create_org(&NewOrganisation { client_of: Some(a.id), ..org("client-b") }, false).await.unwrap();
    assert_eq!(s.get_org(a.id).await.unwrap(), a);
    assert_eq!(s.get_org_by_slug("client-b").await.unwrap().client_of, Some(a.id));
    let all = s.list_orgs().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|o| o.id == b.id && !o.operator));
    assert!(matches!(s.get_org(muster_core::OrgId::new()).await, Err(StoreError::NotFound(_))));
}

async fn duplicate_slug_is_a_conflict(s: &Store) {
    s.create_org(&org("dup"), false).await.unwrap();
    let err = s.create_org(&org("dup"), false).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(s.count_orgs().await.unwrap(), 1);
}

async fn users_and_memberships(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let b = s.create_org(&org("org-b"), false).await.unwrap();
    let u = s.create_user(&user("alice", a.id, Role::Coordinator), Some("hash1")).await.unwrap();
    assert!(matches!(s.create_user(&user("alice", b.id, Role::Analyst), None).await, Err(StoreError::Conflict(_))));
    let bad_org = s.create_user(&user("bob", muster_core::OrgId::new(), Role::Analyst), None).await;
    assert!(bad_org.is_err());
    let login = s.get_user_for_login("alice").await.unwrap();
    assert_eq!(login.password_hash.as_deref(), Some("hash1"));
    assert_eq!(login.user, u);
    s.add_membership(u.id, b.id, Role::Analyst).await.unwrap();
    let m = s.memberships(&u).await.unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].org, a.id);
    assert_eq!(s.list_users(Some(b.id)).await.unwrap().len(), 0);
    assert_eq!(s.list_users(Some(a.id)).await.unwrap().len(), 1);
}

async fn password_change_ends_sessions(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let u = s.create_user(&user("carol", a.id, Role::Analyst), Some("h")).await.unwrap();
    let sess = Session {
        user: u.id,
        active_org: a.id,
        csrf: "c".into(),
        expires_at: muster_store::now_ms_for_tests() + 60_000,
    };
    s.create_session("secret-1", &sess).await.unwrap();
    assert!(s.get_session("secret-1").await.unwrap().is_some());
    s.set_password_hash(u.id, "h2", false).await.unwrap();
    assert!(s.get_session("secret-1").await.unwrap().is_none());
    assert_eq!(s.get_user_for_login("carol").await.unwrap().password_hash.as_deref(), Some("h2"));
}

async fn sessions_expire(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let u = s.create_user(&user("dave", a.id, Role::Analyst), None).await.unwrap();
    let past =
        Session { user: u.id, active_org: a.id, csrf: "c".into(), expires_at: muster_store::now_ms_for_tests() - 1 };
    s.create_session("old", &past).await.unwrap();
    assert!(s.get_session("old").await.unwrap().is_none());
    assert_eq!(s.purge_expired_sessions().await.unwrap(), 1);
}

async fn tokens_are_found_by_secret_only_while_active(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let u = s.create_user(&user("erin", a.id, Role::Analyst), None).await.unwrap();
    let t = s
        .create_token(
            "mst_secret",
            &NewToken { name: "siem".into(), user: u.id, org: a.id, role: Role::Analyst, expires_at: None },
        )
        .await
        .unwrap();
    assert_eq!(s.use_token("mst_secret").await.unwrap().map(|t| t.id), Some(t.id));
    assert!(s.use_token("mst_other").await.unwrap().is_none());
    let expired = s
        .create_token(
            "mst_old",
            &NewToken { name: "old".into(), user: u.id, org: a.id, role: Role::Analyst, expires_at: Some(1) },
        )
        .await
        .unwrap();
    assert!(s.use_token("mst_old").await.unwrap().is_none());
    assert!(s.revoke_token(t.id).await.unwrap().revoked_at.is_some());
    assert!(s.use_token("mst_secret").await.unwrap().is_none());
    let listed = s.list_tokens(a.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|x| x.id == expired.id));
}

async fn circles_keep_the_owner_as_member(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let b = s.create_org(&org("org-b"), false).await.unwrap();
    let c = s
        .create_circle(
            a.id,
            &NewCircle { name: "energy-isac".into(), description: String::new(), members: vec![b.id], tlp: Tlp::Amber },
        )
        .await
        .unwrap();
    assert_eq!(c.members.len(), 2);
    assert!(s.circles_of(b.id).await.unwrap().contains(&c.id));
    assert!(matches!(s.set_circle_member(c.id, a.id, false).await, Err(StoreError::Conflict(_))));
    let c2 = s.set_circle_member(c.id, b.id, false).await.unwrap();
    assert_eq!(c2.members, vec![a.id]);
    let bad = s
        .create_circle(
            a.id,
            &NewCircle {
                name: "x".into(),
                description: String::new(),
                members: vec![muster_core::OrgId::new()],
                tlp: Tlp::Amber,
            },
        )
        .await;
    assert!(bad.is_err());
    assert_eq!(s.list_circles().await.unwrap().len(), 1, "a failed create leaves nothing behind");
}

async fn audit_chain_detects_edit_and_deletion(s: &Store) {
    for i in 0..5 {
        s.audit(&NewAuditEntry {
            actor: "cli".into(),
            org: None,
            action: "test.step".into(),
            target: format!("t{i}"),
            detail: serde_json::json!({ "i": i }),
        })
        .await
        .unwrap();
    }
    assert!(s.verify_audit().await.unwrap().is_intact());
    assert_eq!(s.list_audit(None, None, 2).await.unwrap().len(), 2);
    s.tamper_for_tests("UPDATE audit_log SET target = 'forged' WHERE seq = 3").await;
    let v = s.verify_audit().await.unwrap();
    assert!(v.problems.iter().any(|p| p.contains("entry 3")), "{v:?}");
    s.tamper_for_tests("DELETE FROM audit_log WHERE seq = 5").await;
    let v = s.verify_audit().await.unwrap();
    assert!(v.problems.iter().any(|p| p.contains("deleted")), "{v:?}");
}

async fn migrations_are_idempotent(s: &Store) {
    assert!(s.migrate().await.unwrap().is_empty());
    assert_eq!(Store::latest_schema_version(), 1);
}
