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
    alerts_dedup_by_fingerprint_inside_the_window,
    a_repeated_batch_key_changes_nothing,
    alert_list_shows_own_and_green_alerts_newest_first,
    an_incident_takes_the_observables_of_its_alerts,
    incident_edits_are_on_the_timeline_and_refuse_stale_versions,
    tasks_comments_observables_and_attachments_of_an_incident,
    merging_moves_everything_and_closes_the_source_as_duplicate,
    templates_add_their_tasks,
    a_correlated_batch_opens_and_joins_incidents_in_its_transaction,
    concurrent_batches_store_a_shared_repeat_once_and_open_one_incident,
    an_incident_keeps_its_rule_on_host_key_for_later_batches,
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
    let sess = Session { user: u.id, active_org: a.id, csrf: "c".into(), expires_at: muster_store::now_ms() + 60_000 };
    s.create_session("secret-1", &sess).await.unwrap();
    assert!(s.get_session("secret-1").await.unwrap().is_some());
    s.set_password_hash(u.id, "h2", false).await.unwrap();
    assert!(s.get_session("secret-1").await.unwrap().is_none());
    assert_eq!(s.get_user_for_login("carol").await.unwrap().password_hash.as_deref(), Some("h2"));
}

async fn sessions_expire(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let u = s.create_user(&user("dave", a.id, Role::Analyst), None).await.unwrap();
    let past = Session { user: u.id, active_org: a.id, csrf: "c".into(), expires_at: muster_store::now_ms() - 1 };
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
    assert_eq!(Store::latest_schema_version(), 18);
}

fn alert(fp: &str, at: i64, tlp: Tlp) -> muster_store::NewAlert {
    muster_store::NewAlert {
        fingerprint: fp.into(),
        format: "eve".into(),
        source: "suricata".into(),
        source_ref: None,
        title: format!("alert {fp}"),
        severity: "high".into(),
        rsit_type: "ids-alert".into(),
        tlp,
        pap: "PAP:AMBER".into(),
        first_seen: at,
        last_seen: at,
        count: 1,
        body: muster_store::AlertBody::pack("{}", &[1, 2, 3]),
        observables: Vec::new(),
    }
}

/// A window rule like intake's: repeats at most 1000 ms apart fold.
fn window(s: &muster_store::Sighting, a: &muster_store::NewAlert) -> Option<muster_store::Sighting> {
    (a.first_seen - s.last_seen <= 1000).then(|| muster_store::Sighting {
        first_seen: s.first_seen.min(a.first_seen),
        last_seen: s.last_seen.max(a.last_seen),
        count: s.count + a.count,
    })
}

async fn alerts_dedup_by_fingerprint_inside_the_window(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let b = s.create_org(&org("org-b"), false).await.unwrap();
    let batch = [
        alert("f1", 10_000, Tlp::Amber),
        alert("f1", 10_500, Tlp::Amber),
        alert("f2", 10_000, Tlp::Amber),
        alert("f1", 20_000, Tlp::Amber),
    ];
    let r = s.ingest_alerts(a.id, None, &batch, 1000, window, |_| String::new()).await.unwrap();
    assert_eq!(r, muster_store::Ingested::Committed(muster_store::IngestCounts { created: 3, duplicates: 1 }));
    // The same fingerprint in another organisation is another alert.
    let r = s.ingest_alerts(b.id, None, &batch[..1], 1000, window, |_| String::new()).await.unwrap();
    assert_eq!(r, muster_store::Ingested::Committed(muster_store::IngestCounts { created: 1, duplicates: 0 }));
    let rows = s.list_alerts(a.id, None, 10).await.unwrap();
    let folded = rows.iter().find(|r| r.fingerprint == "f1" && r.count == 2).expect("folded alert");
    assert_eq!(muster_store::to_ms(folded.last_seen), 10_500);
    let (_, content) = s.get_alert(&folded.id).await.unwrap();
    assert_eq!(content, muster_store::AlertContent { doc: "{}".into(), original: vec![1, 2, 3] });
    assert_eq!(s.count_alerts(a.id).await.unwrap(), 3);
}

async fn a_repeated_batch_key_changes_nothing(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let batch = [alert("k1", 1_000, Tlp::Amber), alert("k2", 1_000, Tlp::Amber)];
    let first = s
        .ingest_alerts(a.id, Some("batch-1"), &batch, 1000, window, |c| format!("{}+{}", c.created, c.duplicates))
        .await
        .unwrap();
    assert_eq!(first, muster_store::Ingested::Committed(muster_store::IngestCounts { created: 2, duplicates: 0 }));
    let again = s.ingest_alerts(a.id, Some("batch-1"), &batch, 1000, window, |_| "never".into()).await.unwrap();
    assert_eq!(again, muster_store::Ingested::Replayed("2+0".into()));
    let rows = s.list_alerts(a.id, None, 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.count == 1), "a replay is not another sighting");
}

async fn alert_list_shows_own_and_green_alerts_newest_first(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let b = s.create_org(&org("org-b"), false).await.unwrap();
    s.ingest_alerts(
        a.id,
        None,
        &[alert("a-amber", 1, Tlp::Amber), alert("a-green", 2, Tlp::Green)],
        1000,
        window,
        |_| String::new(),
    )
    .await
    .unwrap();
    s.ingest_alerts(b.id, None, &[alert("b-1", 3, Tlp::Amber), alert("b-2", 4, Tlp::Red)], 1000, window, |_| {
        String::new()
    })
    .await
    .unwrap();
    let seen: Vec<String> = s.list_alerts(b.id, None, 10).await.unwrap().into_iter().map(|r| r.fingerprint).collect();
    assert_eq!(seen, ["b-2", "b-1", "a-green"]);
    let page1 = s.list_alerts(b.id, None, 2).await.unwrap();
    let last = page1.last().unwrap();
    let page2 = s.list_alerts(b.id, Some((muster_store::to_ms(last.last_seen), &last.id)), 2).await.unwrap();
    assert_eq!(page2.iter().map(|r| r.fingerprint.as_str()).collect::<Vec<_>>(), ["a-green"]);
}

async fn an_incident_takes_the_observables_of_its_alerts(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let mut one = alert("o1", 1_000, Tlp::Amber);
    one.body = muster_store::AlertBody::pack(
        r#"{"observables":[{"kind":"ipv4","value":"192.0.2.7","role":"source"},{"kind":"domain","value":"evil.example"}]}"#,
        b"original one",
    );
    let mut two = alert("o2", 2_000, Tlp::Amber);
    two.body = muster_store::AlertBody::pack(r#"{"observables":[{"kind":"ipv4","value":"192.0.2.7"}]}"#, b"two");
    s.ingest_alerts(a.id, None, &[one, two], 1000, window, |_| String::new()).await.unwrap();
    let ids: Vec<String> = s.list_alerts(a.id, None, 10).await.unwrap().into_iter().map(|r| r.id).collect();
    let new = muster_store::NewIncident {
        title: "scan".into(),
        description: String::new(),
        severity: "high".into(),
        tlp: Tlp::Green,
        pap: "PAP:GREEN".into(),
        rsit_type: None,
        alert_ids: ids.clone(),
    };
    let inc = s.create_incident(a.id, &new, "analyst").await.unwrap();
    assert_eq!(inc.assignee, None);
    assert_eq!(inc.lifecycle.milestones.reported_at, None);
    let obs = s.incident_observables(&inc.id).await.unwrap();
    let pairs: Vec<(&str, &str)> = obs.iter().map(|o| (o.kind.as_str(), o.value.as_str())).collect();
    assert_eq!(pairs, [("domain", "evil.example"), ("ipv4", "192.0.2.7")], "shared values are kept once");
    assert!(obs.iter().all(|o| o.tlp == Tlp::Green && o.pap == "PAP:GREEN" && !o.ioc && !o.sighted));
    assert!(obs.iter().all(|o| ids.contains(&o.source)));
    // Its alerts read back a page at a time (here one a page), oldest first, with their documents.
    let mut read = Vec::new();
    s.each_incident_alert(&inc.id, 1, |row, content| read.push((row.fingerprint, content.doc))).await.unwrap();
    let fingerprints: Vec<&str> = read.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fingerprints, ["o1", "o2"]);
    assert!(read[0].1.contains("evil.example") && read[1].1.contains("192.0.2.7"));
    let mut none = 0;
    s.each_incident_alert("incident--none", 10, |_, _| none += 1).await.unwrap();
    assert_eq!(none, 0);
    // The newest alert alone, with the count of all; the row alone.
    let (total, newest) = s.newest_incident_alerts(&inc.id, None, 1).await.unwrap();
    let o2 = s.find_alert_by_fingerprint(a.id, "o2").await.unwrap().unwrap().id;
    let o1 = s.find_alert_by_fingerprint(a.id, "o1").await.unwrap().unwrap().id;
    assert_eq!((total, newest), (2, vec![o2.clone()]));
    assert_eq!(s.newest_incident_alerts(&inc.id, Some(&o2), 5).await.unwrap(), (2, vec![o1.clone()]));
    assert_eq!(s.newest_incident_alerts(&inc.id, Some(&o1), 5).await.unwrap(), (2, vec![]));
    assert_eq!(s.incident(&inc.id).await.unwrap().title, "scan");
    assert!(matches!(s.incident("incident--none").await, Err(StoreError::NotFound(_))));
}

fn plain_incident(title: &str, tlp: Tlp) -> muster_store::NewIncident {
    muster_store::NewIncident {
        title: title.into(),
        description: String::new(),
        severity: "medium".into(),
        tlp,
        pap: "PAP:AMBER".into(),
        rsit_type: None,
        alert_ids: vec![],
    }
}

async fn incident_edits_are_on_the_timeline_and_refuse_stale_versions(s: &Store) {
    use muster_core::incident_work::Severity;
    use muster_store::IncidentChanges;
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let b = s.create_org(&org("org-b"), false).await.unwrap();
    let ana = s.create_user(&user("ana", a.id, Role::Analyst), None).await.unwrap();
    let outsider = s.create_user(&user("olga", b.id, Role::Analyst), None).await.unwrap();
    let inc = s.create_incident(a.id, &plain_incident("edit me", Tlp::Amber), "ana").await.unwrap();
    let read_at = muster_store::to_ms(inc.updated_at);
    let ch = IncidentChanges {
        severity: Some(Severity::High),
        assignee: Some(Some(ana.id)),
        nis_root_cause: Some(Some(muster_core::taxonomy::NisRootCause::MaliciousActions)),
        tlp: Some(Tlp::AmberStrict),
        reported: true,
        ..IncidentChanges::default()
    };
    let after = s.update_incident(&inc.id, Some(read_at), &ch, "ana").await.unwrap();
    assert_eq!(after.severity, "high");
    assert_eq!(after.assignee, Some(ana.id.uuid().to_string()));
    assert_eq!(after.tlp, Tlp::AmberStrict);
    assert!(after.lifecycle.milestones.reported_at.is_some());
    assert!(after.updated_at > inc.updated_at);
    let (_, _, tl) = s.get_incident(&inc.id).await.unwrap();
    let edits: Vec<&str> = tl.iter().filter(|t| t.kind == "edit").map(|t| t.text.as_str()).collect();
    assert!(edits.contains(&"severity: medium → high"), "{edits:?}");
    assert!(edits.contains(&"assignee: nobody → ana"), "{edits:?}");
    assert!(edits.contains(&"marked reported"), "{edits:?}");
    // A second writer that read the old version is refused, and nothing changes.
    let stale = IncidentChanges { severity: Some(Severity::Low), ..IncidentChanges::default() };
    assert!(matches!(s.update_incident(&inc.id, Some(read_at), &stale, "bo").await, Err(StoreError::Conflict(_))));
    // An assignee of another organisation is refused.
    let wrong = IncidentChanges { assignee: Some(Some(outsider.id)), ..IncidentChanges::default() };
    let e = s.update_incident(&inc.id, None, &wrong, "ana").await.unwrap_err();
    assert!(matches!(&e, StoreError::Invalid(m) if m.contains("assignee_id")), "{e}");
    let (now, _, _) = s.get_incident(&inc.id).await.unwrap();
    assert_eq!((now.severity.as_str(), now.assignee.clone()), ("high", Some(ana.id.uuid().to_string())));
}

async fn tasks_comments_observables_and_attachments_of_an_incident(s: &Store) {
    use muster_core::incident_work::TaskStatus;
    use muster_store::{NewObservable, NewTask, ObservableChanges, TaskChanges};
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let inc = s.create_incident(a.id, &plain_incident("work", Tlp::Amber), "ana").await.unwrap();
    let t = s
        .add_task(
            &inc.id,
            &NewTask { title: "Isolate host".into(), due_date: Some("2026-12-01".into()), ..NewTask::default() },
            "ana",
        )
        .await
        .unwrap();
    assert_eq!(t.status, TaskStatus::Todo);
    let done = TaskChanges { status: Some(TaskStatus::Done), ..TaskChanges::default() };
    assert_eq!(s.update_task(&inc.id, &t.id, &done, "ana").await.unwrap().status, TaskStatus::Done);
    assert_eq!(s.list_tasks(&inc.id).await.unwrap()[0].status, TaskStatus::Done);
    s.add_comment(&inc.id, "ana", "Host isolated at 10:02.").await.unwrap();
    assert_eq!(s.list_comments(&inc.id).await.unwrap()[0].text, "Host isolated at 10:02.");

    let new = NewObservable {
        kind: "ipv4".into(),
        value: "198.51.100.9".into(),
        ioc: true,
        sighted: false,
        tlp: None,
        pap: None,
    };
    let o = s.add_observable(&inc.id, &new, "ana").await.unwrap();
    assert_eq!((o.tlp, o.ioc, o.source.as_str()), (Tlp::Amber, true, "analyst"));
    assert!(matches!(s.add_observable(&inc.id, &new, "ana").await, Err(StoreError::Conflict(_))));
    let wider = NewObservable { value: "198.51.100.10".into(), tlp: Some(Tlp::Green), ..new.clone() };
    assert!(matches!(s.add_observable(&inc.id, &wider, "ana").await, Err(StoreError::Invalid(_))));
    let red = ObservableChanges { sighted: Some(true), tlp: Some(Tlp::Red), ..ObservableChanges::default() };
    let o2 = s.update_observable(&inc.id, &o.id, &red, "ana").await.unwrap();
    assert_eq!((o2.tlp, o2.sighted), (Tlp::Red, true));

    let one = s.add_attachment(&inc.id, "mail.eml", b"From: x\r\n\r\nhello", "ana").await.unwrap();
    let two = s.add_attachment(&inc.id, "copy.eml", b"From: x\r\n\r\nhello", "ana").await.unwrap();
    assert_eq!(one.sha256, two.sha256, "content-addressed");
    assert_eq!(one.sha256.len(), 64);
    let (row, content) = s.get_attachment(&inc.id, &two.id).await.unwrap();
    assert_eq!((row.filename.as_str(), content.as_slice()), ("copy.eml", b"From: x\r\n\r\nhello".as_slice()));
    assert_eq!(s.list_attachments(&inc.id).await.unwrap().len(), 2);
    let (_, _, tl) = s.get_incident(&inc.id).await.unwrap();
    let kinds: Vec<&str> = tl.iter().map(|t| t.kind.as_str()).collect();
    for k in ["task", "comment", "observable", "attachment"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
}

async fn merging_moves_everything_and_closes_the_source_as_duplicate(s: &Store) {
    use muster_core::incident::{IncidentStatus, Resolution};
    use muster_store::{NewObservable, NewTask};
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let b = s.create_org(&org("org-b"), false).await.unwrap();
    s.ingest_alerts(a.id, None, &[alert("m1", 1_000, Tlp::Amber)], 1000, window, |_| String::new()).await.unwrap();
    let alert_id = s.list_alerts(a.id, None, 1).await.unwrap().remove(0).id;
    let target = s.create_incident(a.id, &plain_incident("target", Tlp::Amber), "ana").await.unwrap();
    let mut src = plain_incident("source", Tlp::Amber);
    src.alert_ids = vec![alert_id.clone()];
    let source = s.create_incident(a.id, &src, "ana").await.unwrap();
    let obs = NewObservable {
        kind: "domain".into(),
        value: "evil.example".into(),
        ioc: false,
        sighted: true,
        tlp: None,
        pap: None,
    };
    s.add_observable(&target.id, &NewObservable { sighted: false, ioc: true, ..obs.clone() }, "ana").await.unwrap();
    s.add_observable(&source.id, &obs, "ana").await.unwrap();
    s.add_task(&source.id, &NewTask { title: "t".into(), ..NewTask::default() }, "ana").await.unwrap();
    s.add_comment(&source.id, "ana", "c").await.unwrap();
    s.add_attachment(&source.id, "f.txt", b"x", "ana").await.unwrap();
    let elsewhere = s.create_incident(b.id, &plain_incident("other org", Tlp::Amber), "bo").await.unwrap();
    assert!(matches!(s.merge_incidents(&target.id, &elsewhere.id, "ana").await, Err(StoreError::Invalid(_))));

    let m = s.merge_incidents(&target.id, &source.id, "ana").await.unwrap();
    assert_eq!((m.alerts, m.tasks, m.comments, m.attachments), (1, 1, 1, 1));
    let (t, alerts, tl) = s.get_incident(&target.id).await.unwrap();
    assert_eq!(alerts, vec![alert_id]);
    assert!(tl.iter().any(|e| e.kind == "merge" && e.text.contains(&source.id)));
    assert_eq!(t.lifecycle.status, IncidentStatus::New);
    let o = s.incident_observables(&target.id).await.unwrap();
    let dom: Vec<_> = o.iter().filter(|o| o.value == "evil.example").collect();
    assert_eq!(dom.len(), 1);
    assert!(dom[0].ioc && dom[0].sighted, "flags combined");
    assert_eq!(s.list_tasks(&target.id).await.unwrap().len(), 1);
    assert_eq!(s.list_attachments(&target.id).await.unwrap().len(), 1);
    let (b_row, b_alerts, b_tl) = s.get_incident(&source.id).await.unwrap();
    assert_eq!(
        (b_row.lifecycle.status, b_row.lifecycle.resolution),
        (IncidentStatus::Closed, Some(Resolution::Duplicate))
    );
    assert!(b_alerts.is_empty());
    assert!(b_tl.iter().any(|e| e.kind == "merge" && e.text.contains(&target.id)));
    assert!(
        matches!(s.merge_incidents(&target.id, &source.id, "ana").await, Err(StoreError::Invalid(_))),
        "already closed"
    );
}

async fn templates_add_their_tasks(s: &Store) {
    use muster_core::incident_work::Severity;
    use muster_store::{NewTemplate, TemplateTask};
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let b = s.create_org(&org("org-b"), false).await.unwrap();
    let builtins = s.list_templates(a.id).await.unwrap();
    assert!(builtins.iter().any(|t| t.name == "Phishing" && t.org.is_none()));
    let new = NewTemplate {
        name: "Lost laptop".into(),
        description: String::new(),
        severity: Severity::Low,
        rsit_type: Some("data-loss".into()),
        tasks: vec![TemplateTask { title: "Wipe remotely".into(), description: String::new() }],
    };
    let mine = s.create_template(a.id, &new).await.unwrap();
    assert!(matches!(s.create_template(a.id, &new).await, Err(StoreError::Conflict(_))));
    let inc = s.create_incident(a.id, &plain_incident("phish", Tlp::Amber), "ana").await.unwrap();
    let n = s.apply_template(&inc.id, "template--builtin-phishing", "ana").await.unwrap();
    assert_eq!(s.list_tasks(&inc.id).await.unwrap().len(), n);
    assert_eq!(s.get_incident(&inc.id).await.unwrap().0.rsit_type.as_deref(), Some("phishing"));
    assert_eq!(s.apply_template(&inc.id, &mine.id, "ana").await.unwrap(), 1);
    let theirs = s.create_incident(b.id, &plain_incident("b", Tlp::Amber), "bo").await.unwrap();
    assert!(matches!(s.apply_template(&theirs.id, &mine.id, "bo").await, Err(StoreError::NotFound(_))));
}

fn observed(fp: &str, at: i64, ip: &str) -> muster_store::NewAlert {
    muster_store::NewAlert { observables: vec![("ipv4".into(), ip.into())], ..alert(fp, at, Tlp::Amber) }
}

/// A decision like intake's, reduced to: join the first matching open incident,
/// else open `opens` (when given) with every new alert.
fn decide_with(
    opens: Option<&'static str>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<muster_store::OpenMatch>>>,
) -> muster_store::Correlation<'static> {
    let lookup = [("ipv4".to_owned(), "192.0.2.7".to_owned())].into();
    let decide = move |rows: &[usize], matches: Vec<muster_store::OpenMatch>| {
        seen.lock().unwrap().extend(matches.iter().cloned());
        let (target, opened) = match (matches.first(), opens) {
            (Some(m), _) => (m.incident.clone(), Vec::new()),
            (None, Some(id)) => (
                id.to_owned(),
                vec![muster_store::OpenedIncident {
                    id: id.to_owned(),
                    title: "scan".into(),
                    severity: "high".into(),
                    rsit_type: Some("scanner".into()),
                    tlp: Tlp::Amber,
                    pap: "PAP:AMBER".into(),
                    reason: "rule=severity-threshold, severity=high".into(),
                }],
            ),
            (None, None) => return (Vec::new(), Vec::new()),
        };
        let links = rows
            .iter()
            .map(|&i| muster_store::BatchLink {
                alert: i,
                incident: target.clone(),
                reason: "rule=shared-address, shared=ipv4:192.0.2.7".into(),
            })
            .collect();
        (opened, links)
    };
    muster_store::Correlation { lookup, decide: Box::new(decide), kept: Vec::new() }
}

async fn a_correlated_batch_opens_and_joins_incidents_in_its_transaction(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let b = s.create_org(&org("org-b"), false).await.unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let first = [observed("c1", 1_000, "192.0.2.7"), observed("c2", 2_000, "192.0.2.7")];
    let corr = decide_with(Some("incident--c1"), seen.clone());
    s.ingest_alerts_correlated(a.id, None, &first, 1000, window, Some(corr), |_| String::new()).await.unwrap();
    let (inc, ids, timeline) = s.get_incident("incident--c1").await.unwrap();
    assert_eq!((inc.severity.as_str(), ids.len()), ("high", 2));
    assert_eq!(inc.lifecycle.milestones.occurred_at.map(muster_store::to_ms), Some(1_000));
    let texts: Vec<&str> = timeline.iter().map(|t| t.text.as_str()).collect();
    assert!(texts.contains(&"linked 2 alerts (rule=shared-address, shared=ipv4:192.0.2.7)"), "{texts:?}");
    let obs = s.incident_observables("incident--c1").await.unwrap();
    assert_eq!(obs.iter().map(|o| o.value.as_str()).collect::<Vec<_>>(), ["192.0.2.7"]);
    assert!(s.list_alerts(a.id, None, 10).await.unwrap().iter().all(|r| r.status == "triaged"));

    // A later batch sees the open incident through its shared observable; another organisation does not.
    let corr = decide_with(None, seen.clone());
    s.ingest_alerts_correlated(a.id, None, &[observed("c3", 9_000, "192.0.2.7")], 1000, window, Some(corr), |_| {
        String::new()
    })
    .await
    .unwrap();
    assert_eq!(seen.lock().unwrap().iter().map(|m| m.incident.as_str()).collect::<Vec<_>>(), ["incident--c1"]);
    assert_eq!(s.get_incident("incident--c1").await.unwrap().1.len(), 3);
    seen.lock().unwrap().clear();
    let corr = decide_with(None, seen.clone());
    s.ingest_alerts_correlated(b.id, None, &[observed("c3", 9_000, "192.0.2.7")], 1000, window, Some(corr), |_| {
        String::new()
    })
    .await
    .unwrap();
    assert!(seen.lock().unwrap().is_empty(), "another organisation's incident is not offered");

    // Repeats fold into stored alerts and are not correlated again; a closed incident is not offered.
    let corr = decide_with(Some("incident--never"), seen.clone());
    s.ingest_alerts_correlated(a.id, None, &first, 1000, window, Some(corr), |_| String::new()).await.unwrap();
    assert!(seen.lock().unwrap().is_empty());
    assert!(s.get_incident("incident--never").await.is_err());
    s.tamper_for_tests("UPDATE incidents SET status = 'closed'").await;
    let corr = decide_with(Some("incident--c4"), seen.clone());
    s.ingest_alerts_correlated(a.id, None, &[observed("c4", 20_000, "192.0.2.7")], 1000, window, Some(corr), |_| {
        String::new()
    })
    .await
    .unwrap();
    assert!(seen.lock().unwrap().is_empty(), "closed incidents take no alerts");
    assert_eq!(s.get_incident("incident--c4").await.unwrap().1.len(), 1);
}

/// A correlation that offers the key `rule-host:ids:1@h1`, keeps it for
/// the incidents its alerts join, and joins the first matching open incident
/// or opens `opens`.
fn by_rule_on_host(
    opens: &'static str,
    rows: usize,
    seen: std::sync::Arc<std::sync::Mutex<Vec<muster_store::OpenMatch>>>,
) -> muster_store::Correlation<'static> {
    let key = ("rule-host".to_owned(), "ids:1@h1".to_owned());
    let decide = move |new: &[usize], matches: Vec<muster_store::OpenMatch>| {
        seen.lock().unwrap().extend(matches.iter().cloned());
        let (target, opened) = match matches.first() {
            Some(m) => (m.incident.clone(), Vec::new()),
            None => (
                opens.to_owned(),
                vec![muster_store::OpenedIncident {
                    id: opens.to_owned(),
                    title: "rule on host".into(),
                    severity: "high".into(),
                    rsit_type: None,
                    tlp: Tlp::Amber,
                    pap: "PAP:AMBER".into(),
                    reason: "rule=severity-threshold, severity=high".into(),
                }],
            ),
        };
        let reason = "rule=same-rule-on-host, shared=rule-host:ids:1@h1".to_owned();
        let links =
            new.iter().map(|&i| muster_store::BatchLink { alert: i, incident: target.clone(), reason: reason.clone() });
        (opened, links.collect())
    };
    muster_store::Correlation { lookup: [key.clone()].into(), decide: Box::new(decide), kept: vec![vec![key]; rows] }
}

/// "Same rule on the same host" groups across batches: the incident keeps the
/// key (not an observable) and a later batch finds it open by it; the key
/// moves with a merge; other organisations and closed incidents are not offered.
async fn an_incident_keeps_its_rule_on_host_key_for_later_batches(s: &Store) {
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let b = s.create_org(&org("org-b"), false).await.unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let ingest = |org: muster_core::OrgId, fp: &'static str, at: i64, opens: &'static str| {
        let corr = by_rule_on_host(opens, 1, seen.clone());
        async move {
            s.ingest_alerts_correlated(org, None, &[alert(fp, at, Tlp::Amber)], 1000, window, Some(corr), |_| {
                String::new()
            })
            .await
            .unwrap()
        }
    };
    ingest(a.id, "rh-1", 1_000, "incident--rh").await;
    assert!(seen.lock().unwrap().is_empty());
    ingest(a.id, "rh-2", 3_600_000, "incident--never").await;
    let offered: Vec<(String, String, String)> =
        seen.lock().unwrap().drain(..).map(|m| (m.incident, m.kind, m.value)).collect();
    assert_eq!(offered, [("incident--rh".into(), "rule-host".into(), "ids:1@h1".into())]);
    assert_eq!(s.get_incident("incident--rh").await.unwrap().1.len(), 2);
    assert!(s.get_incident("incident--never").await.is_err());
    ingest(b.id, "rh-3", 3_600_000, "incident--b").await;
    assert!(seen.lock().unwrap().is_empty(), "another organisation's incident is not offered");
    // Merged into another incident, the key follows: the next alert joins the target.
    let target = s.create_incident(a.id, &plain_incident("target", Tlp::Amber), "ana").await.unwrap();
    s.merge_incidents(&target.id, "incident--rh", "ana").await.unwrap();
    ingest(a.id, "rh-4", 7_200_000, "incident--never").await;
    let offered: Vec<String> = seen.lock().unwrap().drain(..).map(|m| m.incident).collect();
    assert_eq!(offered, std::slice::from_ref(&target.id));
    s.tamper_for_tests("UPDATE incidents SET status = 'closed'").await;
    ingest(a.id, "rh-5", 9_000_000, "incident--rh-2").await;
    assert!(seen.lock().unwrap().is_empty(), "closed incidents are not offered");
    assert_eq!(s.get_incident("incident--rh-2").await.unwrap().1.len(), 1);
}

/// Batches of one organisation arriving together (PostgreSQL runs them
/// concurrently) fold a fingerprint they share into one alert and open one
/// incident for an observable they share, not one each.
async fn concurrent_batches_store_a_shared_repeat_once_and_open_one_incident(s: &Store) {
    const OPENS: [&str; 6] =
        ["incident--p0", "incident--p1", "incident--p2", "incident--p3", "incident--p4", "incident--p5"];
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut batches = tokio::task::JoinSet::new();
    for (n, opens) in OPENS.into_iter().enumerate() {
        let (s, corr) = (s.clone(), decide_with(Some(opens), seen.clone()));
        let batch =
            [observed("shared", 1_000 + n as i64, "192.0.2.7"), observed(&format!("own-{n}"), 1_000, "192.0.2.7")];
        batches.spawn(async move {
            s.ingest_alerts_correlated(a.id, None, &batch, 1000, window, Some(corr), |_| String::new()).await.unwrap()
        });
    }
    while let Some(done) = batches.join_next().await {
        done.unwrap();
    }
    assert_eq!(s.alert_totals(a.id).await.unwrap(), (7, 12), "6 own alerts and 1 shared one seen 6 times");
    let shared = s.find_alert_by_fingerprint(a.id, "shared").await.unwrap().unwrap();
    assert_eq!(shared.count, 6);
    let mut opened = Vec::new();
    for id in OPENS {
        if let Ok((_, alerts, _)) = s.get_incident(id).await {
            opened.push((id, alerts.len()));
        }
    }
    assert_eq!(opened.len(), 1, "one incident for the shared address: {opened:?}");
    assert_eq!(opened[0].1, 7);
}

/// A SQLite store an older release left at migration 10, with an incident
/// opened from alerts, keeps every link and its reason when migration 11
/// rebuilds `incident_alerts` without a rowid, and links made afterwards land
/// in the rebuilt table.
#[tokio::test]
async fn sqlite_links_survive_the_compact_incident_alerts_table() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::connect(&StoreOptions::sqlite(dir.path())).await.unwrap();
    assert_eq!(s.migrate_to(10).await.unwrap(), (1..=10).collect::<Vec<_>>());
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    for (n, fp) in ["m1", "m2", "m3"].into_iter().enumerate() {
        store_as_before_migration_12(&s, a.id, &format!("alert--{n}"), fp, 1_000).await;
    }
    let ids: Vec<String> = (0..3).map(|n| format!("alert--{n}")).collect();
    // The incident and its links as that release wrote them.
    let inc = "incident--old";
    s.tamper_for_tests(&format!(
        "INSERT INTO incidents (id, org_id, title, severity, status, tlp, pap, detected_at, created_at, updated_at) \
         VALUES ('{inc}', '{}', 'old', 'high', 'new', 'TLP:AMBER', 'PAP:AMBER', 1000, 1000, 1000)",
        a.id.uuid()
    ))
    .await;
    s.tamper_for_tests(&format!(
        "INSERT INTO incident_alerts (incident_id, alert_id, reason) VALUES \
         ('{inc}', '{}', 'rule=r, shared=ipv4:192.0.2.7'), ('{inc}', '{}', NULL)",
        ids[0], ids[1]
    ))
    .await;
    assert_eq!(s.migrate().await.unwrap(), vec![11, 12, 13, 14, 15, 16, 17, 18]);
    assert_eq!(s.get_incident(inc).await.unwrap().1, ids[..2].to_vec());
    assert_eq!(s.link_alerts(inc, &ids[2..], "ana").await.unwrap(), 1);
    assert_eq!(s.get_incident(inc).await.unwrap().1, ids);
    assert_eq!(s.link_alerts(inc, &ids[2..], "ana").await.unwrap(), 0, "a link is made once");
    // The reason came along: deleting by it removes exactly that link.
    s.tamper_for_tests("DELETE FROM incident_alerts WHERE reason = 'rule=r, shared=ipv4:192.0.2.7'").await;
    assert_eq!(s.get_incident(inc).await.unwrap().1, ids[1..].to_vec());
}

/// A store an older release left at migration 16 keeps its incidents'
/// observables when migration 17 orders their uniqueness by value (SQLite
/// rebuilds the table, PostgreSQL swaps the constraint): they are listed as
/// before, a second copy of one is still refused, and correlation's bulk
/// insert still skips one the incident has.
async fn observables_survive_the_value_ordered_constraint(s: &Store) {
    assert_eq!(s.migrate_to(16).await.unwrap(), (1..=16).collect::<Vec<_>>());
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let inc = "incident--old";
    s.tamper_for_tests(&format!(
        "INSERT INTO incidents (id, org_id, title, severity, status, tlp, pap, detected_at, created_at, updated_at) \
         VALUES ('{inc}', '{org}', 'old', 'high', 'new', 'TLP:AMBER', 'PAP:AMBER', 1000, 1000, 1000); \
         INSERT INTO incident_observables (id, incident_id, org_id, kind, value, ioc, sighted, tlp, pap, source, created_at) \
         VALUES ('observable--1', '{inc}', '{org}', 'ipv4', '192.0.2.7', 1, 0, 'TLP:AMBER', 'PAP:AMBER', 'alert--x', 1000), \
                ('observable--2', '{inc}', '{org}', 'domain', 'evil.example', 0, 1, 'TLP:RED', 'PAP:AMBER', 'analyst', 1000)",
        org = a.id.uuid()
    ))
    .await;
    assert_eq!(s.migrate().await.unwrap(), vec![17, 18]);
    let listed = |o: Vec<muster_store::IncidentObservable>| {
        let mut v: Vec<(String, String, String, bool, bool)> =
            o.into_iter().map(|o| (o.id, o.kind, o.value, o.ioc, o.sighted)).collect();
        v.sort();
        v
    };
    let before = vec![
        ("observable--1".to_owned(), "ipv4".to_owned(), "192.0.2.7".to_owned(), true, false),
        ("observable--2".to_owned(), "domain".to_owned(), "evil.example".to_owned(), false, true),
    ];
    assert_eq!(listed(s.incident_observables(inc).await.unwrap()), before);
    let again = muster_store::NewObservable {
        kind: "ipv4".into(),
        value: "192.0.2.7".into(),
        ioc: false,
        sighted: false,
        tlp: None,
        pap: None,
    };
    assert!(matches!(s.add_observable(inc, &again, "ana").await, Err(StoreError::Conflict(_))));
    let other = muster_store::NewObservable { value: "192.0.2.8".into(), ..again };
    s.add_observable(inc, &other, "ana").await.unwrap();
    // Correlation joins a later alert carrying the stored address: its insert of
    // the incident's observables skips the one already there and adds the new one.
    let mut joining = alert("after-17", 2_000, Tlp::Amber);
    joining.observables = vec![("ipv4".into(), "192.0.2.7".into()), ("ipv4".into(), "198.51.100.9".into())];
    let correlation = muster_store::Correlation {
        lookup: [("ipv4".to_owned(), "192.0.2.7".to_owned())].into_iter().collect(),
        decide: Box::new(|rows: &[usize], matches: Vec<muster_store::OpenMatch>| {
            assert_eq!(matches.len(), 1, "the stored observable is found by value: {matches:?}");
            let links = rows
                .iter()
                .map(|&alert| muster_store::BatchLink {
                    alert,
                    incident: matches[0].incident.clone(),
                    reason: "rule=shared-address, shared=ipv4:192.0.2.7".into(),
                })
                .collect();
            (Vec::new(), links)
        }),
        kept: vec![Vec::new()],
    };
    s.ingest_alerts_correlated(a.id, None, &[joining], 1000, window, Some(correlation), |_| String::new())
        .await
        .unwrap();
    let values: Vec<String> = listed(s.incident_observables(inc).await.unwrap()).into_iter().map(|o| o.2).collect();
    assert_eq!(values.len(), 4, "{values:?}");
    for v in ["192.0.2.7", "192.0.2.8", "198.51.100.9", "evil.example"] {
        assert!(values.contains(&v.to_owned()), "{v} in {values:?}");
    }
}

#[tokio::test]
async fn sqlite_observables_survive_the_value_ordered_constraint() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::connect(&StoreOptions::sqlite(dir.path())).await.unwrap();
    observables_survive_the_value_ordered_constraint(&s).await;
}

#[tokio::test]
async fn postgres_observables_survive_the_value_ordered_constraint() {
    let Some(url) = muster_testkit::fresh_pg_database().await else { return };
    let opts = StoreOptions { database_url: Some(url), data_dir: "unused".into(), max_connections: 4 };
    observables_survive_the_value_ordered_constraint(&Store::connect(&opts).await.unwrap()).await;
}

/// An alert row as releases before migration 12 wrote it (no dedup key).
async fn store_as_before_migration_12(s: &Store, org: muster_core::OrgId, id: &str, fp: &str, at: i64) {
    s.tamper_for_tests(&format!(
        "INSERT INTO alerts (id, org_id, fingerprint, format, source, title, severity, rsit_type, tlp, pap, \
         first_seen, last_seen, count, doc, created_at) \
         VALUES ('{id}', '{}', '{fp}', 'eve', 'suricata', 'old {fp}', 'high', 'ids-alert', 'TLP:AMBER', 'PAP:AMBER', \
         {at}, {at}, 1, '{{}}', {at})",
        org.uuid()
    ))
    .await;
}

/// Alerts stored before migration 12 get their dedup key in it: a repeat
/// arriving after the upgrade folds into them instead of making a second
/// row, and the fingerprint lookup finds them; new alerts dedup as before.
#[tokio::test]
async fn sqlite_alerts_stored_before_the_integer_dedup_key_still_dedup() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::connect(&StoreOptions::sqlite(dir.path())).await.unwrap();
    s.migrate_to(11).await.unwrap();
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    store_as_before_migration_12(&s, a.id, "alert--old-hex", hex, 1_000).await;
    store_as_before_migration_12(&s, a.id, "alert--old-short", "o1", 1_000).await;
    assert_eq!(s.migrate().await.unwrap(), vec![12, 13, 14, 15, 16, 17, 18]);
    let repeats = [alert(hex, 1_500, Tlp::Amber), alert("o1", 1_600, Tlp::Amber), alert("n1", 1_700, Tlp::Amber)];
    let c = s.ingest_alerts(a.id, None, &repeats, 1000, window, |_| String::new()).await.unwrap();
    assert_eq!(c, muster_store::Ingested::Committed(muster_store::IngestCounts { created: 1, duplicates: 2 }));
    assert_eq!(s.alert_totals(a.id).await.unwrap(), (3, 5));
    let found = s.find_alert_by_fingerprint(a.id, hex).await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), found.count), ("alert--old-hex", 2));
    let (_, old) = s.get_alert("alert--old-hex").await.unwrap();
    assert_eq!(old, muster_store::AlertContent { doc: "{}".into(), original: Vec::new() }, "read as it was stored");
    let later = [alert("n1", 1_800, Tlp::Amber)];
    let again = s.ingest_alerts(a.id, None, &later, 1000, window, |_| String::new()).await.unwrap();
    assert_eq!(again, muster_store::Ingested::Committed(muster_store::IngestCounts { created: 0, duplicates: 1 }));
}

/// A Suricata-like alert whose record varies where a sensor's stream varies.
fn sensor_alert(packer: &muster_store::Packer, i: u32) -> (muster_store::NewAlert, muster_store::AlertContent) {
    let original = format!(
        r#"{{"timestamp":"2026-11-29T06:{:02}:{:02}.{:06}+0000","flow_id":{},"event_type":"alert","src_ip":"203.0.113.{}","src_port":{},"dest_ip":"10.31.{}.{}","dest_port":443,"proto":"TCP","alert":{{"signature_id":{},"signature":"ET POLICY rule {}","category":"Potentially Bad Traffic","severity":2}}}}"#,
        i / 60 % 60,
        i % 60,
        i.wrapping_mul(7919) % 1_000_000,
        u64::from(i).wrapping_mul(2_654_435_761),
        i % 251,
        1024 + i.wrapping_mul(31) % 60_000,
        i / 256 % 256,
        i % 256,
        2_100_000 + i % 40,
        i % 40
    );
    let doc = format!(r#"{{"rule":{{"name":"ET POLICY rule {}"}}}}"#, i % 40);
    let mut a =
        alert(&format!("{:016x}", u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15)), 1_000 + i64::from(i), Tlp::Amber);
    a.body = packer.pack(&doc, original.as_bytes());
    (a, muster_store::AlertContent { doc, original: original.into_bytes() })
}

/// Once a store holds enough alerts it trains a dictionary in the background
/// and packs new bodies with it, smaller; bodies packed before and after read
/// back unchanged, through this store, a store opened later, and one that was
/// already open (another server on the same database) when it was trained.
async fn alert_bodies_are_packed_with_a_dictionary_once_enough_are_stored(opts: StoreOptions) {
    let s = Store::open(&opts).await.unwrap();
    let other = Store::open(&opts).await.unwrap();
    let a = s.create_org(&org("org-a"), false).await.unwrap();
    assert_eq!(s.packer().dictionary_id(), None);
    let mut before = Vec::new();
    for chunk in (0..2_500).collect::<Vec<u32>>().chunks(500) {
        let (rows, contents): (Vec<_>, Vec<_>) = chunk.iter().map(|&i| sensor_alert(&s.packer(), i)).unzip();
        s.ingest_alerts(a.id, None, &rows, 1000, window, |_| String::new()).await.unwrap();
        before.extend(rows.iter().map(|r| r.body.len()).zip(contents));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while s.packer().dictionary_id().is_none() {
        assert!(std::time::Instant::now() < deadline, "no dictionary trained after 2,500 alerts");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Trained again on the same alerts: a dictionary, and the one new bodies are packed with.
    let again = s.train_alert_dictionary().await.unwrap();
    assert!(again.is_some());
    assert_eq!(s.packer().dictionary_id(), again);
    let (rows, contents): (Vec<_>, Vec<_>) = (10_000..10_200).map(|i| sensor_alert(&s.packer(), i)).unzip();
    s.ingest_alerts(a.id, None, &rows, 1000, window, |_| String::new()).await.unwrap();
    let after: usize = rows.iter().map(|r| r.body.len()).sum();
    let plain: usize = before[..200].iter().map(|(len, _)| len).sum();
    assert!(after * 10 < plain * 9, "200 bodies with the dictionary {after} bytes, without {plain}");
    let later = Store::open(&opts).await.unwrap();
    for (row, content) in rows.iter().zip(&contents).step_by(40) {
        let found = s.find_alert_by_fingerprint(a.id, &row.fingerprint).await.unwrap().unwrap();
        for store in [&s, &later, &other] {
            assert_eq!(&store.get_alert(&found.id).await.unwrap().1, content);
        }
    }
    for (i, (_, content)) in before.iter().enumerate().step_by(600) {
        let fp = format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let found = s.find_alert_by_fingerprint(a.id, &fp).await.unwrap().unwrap();
        assert_eq!(&later.get_alert(&found.id).await.unwrap().1, content);
    }
}

#[tokio::test]
async fn sqlite_alert_bodies_are_packed_with_a_dictionary_once_enough_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    alert_bodies_are_packed_with_a_dictionary_once_enough_are_stored(StoreOptions::sqlite(dir.path())).await;
}

#[tokio::test]
async fn postgres_alert_bodies_are_packed_with_a_dictionary_once_enough_are_stored() {
    if let Some(url) = muster_testkit::fresh_pg_database().await {
        let opts = StoreOptions { database_url: Some(url), data_dir: "unused".into(), max_connections: 4 };
        alert_bodies_are_packed_with_a_dictionary_once_enough_are_stored(opts).await;
    }
}
