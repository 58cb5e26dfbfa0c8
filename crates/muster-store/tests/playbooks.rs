//! The playbook tables on SQLite (a real file) and PostgreSQL (started by `scripts/test`):
//! library versions, runs with records upserted by id, manual tasks, rules, proposals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use muster_core::{OrgKind, Tlp};
use muster_store::{
    NewIncident, NewManualTask, NewOrganisation, NewPlaybookVersion, NewProposal, NewRule, NewRun, StepRecord, Store,
    StoreError, StoreOptions,
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
    library_keeps_every_version_and_refuses_a_repeat,
    archived_playbooks_leave_the_list_until_reimported,
    run_lifecycle_with_records_tasks_and_timeline,
    rules_and_proposals,
);

async fn org(s: &Store, slug: &str) -> muster_core::OrgId {
    let new = NewOrganisation {
        slug: slug.into(),
        name: slug.into(),
        kind: OrgKind::NationalCsirt,
        country: None,
        sectors: vec![],
        client_of: None,
        tlp: Tlp::Green,
    };
    s.create_org(&new, false).await.unwrap().id
}

fn version(org: muster_core::OrgId, id: &str, modified: &str) -> NewPlaybookVersion {
    NewPlaybookVersion {
        org,
        playbook_id: id.into(),
        modified: modified.into(),
        name: format!("Playbook {id}"),
        description: "d".into(),
        document: format!("{{\"id\":\"{id}\",\"modified\":\"{modified}\"}}"),
        auth_sealed: Some("sealed".into()),
        imported_by: "user:a".into(),
    }
}

async fn library_keeps_every_version_and_refuses_a_repeat(s: &Store) {
    let a = org(s, "org-a").await;
    let b = org(s, "org-b").await;
    let v1 = s.import_playbook_version(&version(a, "playbook--1", "2026-01-01T00:00:00Z")).await.unwrap();
    let v2 = s.import_playbook_version(&version(a, "playbook--1", "2026-02-01T00:00:00Z")).await.unwrap();
    s.import_playbook_version(&version(a, "playbook--2", "2026-01-01T00:00:00Z")).await.unwrap();
    // Another organisation's library is its own: the same id and version is no conflict there.
    s.import_playbook_version(&version(b, "playbook--1", "2026-01-01T00:00:00Z")).await.unwrap();
    let err = s.import_playbook_version(&version(a, "playbook--1", "2026-01-01T00:00:00Z")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    let list = s.list_playbooks(a, false).await.unwrap();
    assert_eq!(list.len(), 2);
    let one = list.iter().find(|p| p.latest.playbook_id == "playbook--1").unwrap();
    assert_eq!((one.versions, one.latest.id.as_str()), (2, v2.id.as_str()));
    assert!(one.latest.document.is_empty(), "lists carry no documents");
    let versions = s.playbook_versions(a, "playbook--1").await.unwrap();
    assert_eq!(versions.iter().map(|v| v.id.clone()).collect::<Vec<_>>(), vec![v2.id.clone(), v1.id.clone()]);
    assert_eq!(s.latest_playbook_version(a, "playbook--1").await.unwrap().document, v2.document);
    let got = s.get_playbook_version(&v1.id).await.unwrap();
    assert_eq!((got.document.as_str(), got.auth_sealed.as_deref()), (v1.document.as_str(), Some("sealed")));
    assert!(matches!(s.latest_playbook_version(b, "playbook--2").await, Err(StoreError::NotFound(_))));
}

async fn archived_playbooks_leave_the_list_until_reimported(s: &Store) {
    let a = org(s, "org-a").await;
    s.import_playbook_version(&version(a, "playbook--1", "2026-01-01T00:00:00Z")).await.unwrap();
    s.archive_playbook(a, "playbook--1").await.unwrap();
    assert!(s.list_playbooks(a, false).await.unwrap().is_empty());
    assert!(s.list_playbooks(a, true).await.unwrap()[0].latest.archived);
    assert!(matches!(s.archive_playbook(a, "playbook--none").await, Err(StoreError::NotFound(_))));
    s.import_playbook_version(&version(a, "playbook--1", "2026-03-01T00:00:00Z")).await.unwrap();
    assert_eq!(s.list_playbooks(a, false).await.unwrap()[0].versions, 2);
}

async fn incident(s: &Store, org: muster_core::OrgId) -> String {
    let new = NewIncident {
        title: "Phishing wave".into(),
        description: String::new(),
        severity: "high".into(),
        tlp: Tlp::Amber,
        pap: "PAP:GREEN".into(),
        rsit_type: None,
        alert_ids: vec![],
    };
    s.create_incident(org, &new, "user:a").await.unwrap().id
}

fn record(run: &str, id: &str, occurrence: &str, status: &str) -> StepRecord {
    StepRecord {
        id: id.into(),
        run_id: run.into(),
        occurrence: occurrence.into(),
        workflow_step: occurrence.split('#').next().unwrap().into(),
        playbook_id: "playbook--1".into(),
        status: status.into(),
        record: format!("{{\"status\":\"{status}\"}}"),
    }
}

async fn run_lifecycle_with_records_tasks_and_timeline(s: &Store) {
    let a = org(s, "org-a").await;
    let v = s.import_playbook_version(&version(a, "playbook--1", "2026-01-01T00:00:00Z")).await.unwrap();
    let inc = incident(s, a).await;
    let run_id = uuid::Uuid::new_v4().to_string();
    let run = s
        .create_run(&NewRun {
            id: run_id.clone(),
            org: a,
            version_id: v.id.clone(),
            playbook_id: "playbook--1".into(),
            playbook_name: "Block".into(),
            incident_id: Some(inc.clone()),
            rule_id: None,
            inputs_sealed: "sealed-inputs".into(),
            variables: "{\"__ip__\":\"192.0.2.1\"}".into(),
            started_by: "user:a".into(),
        })
        .await
        .unwrap();
    assert_eq!(run.status, "running");
    assert_eq!(s.running_runs().await.unwrap().len(), 1);

    s.upsert_step_record(&record(&run_id, "execution-status--1", "start#1", "successfully_completed")).await.unwrap();
    s.upsert_step_record(&record(&run_id, "execution-status--2", "ask#1", "ongoing")).await.unwrap();
    s.upsert_step_record(&record(&run_id, "execution-status--2", "ask#1", "successfully_completed")).await.unwrap();
    let recs = s.step_records(&run_id).await.unwrap();
    assert_eq!(
        recs.iter().map(|r| (r.occurrence.as_str(), r.status.as_str())).collect::<Vec<_>>(),
        vec![("start#1", "successfully_completed"), ("ask#1", "successfully_completed")]
    );

    let new_task = NewManualTask {
        run_id: run_id.clone(),
        org: a,
        incident_id: Some(inc.clone()),
        occurrence: "ask#1".into(),
        step_id: "ask".into(),
        title: "Confirm the block".into(),
        instructions: "Check the firewall".into(),
        out_args: "[\"__answer__\"]".into(),
    };
    let t = s.open_task(&new_task).await.unwrap();
    // The same step execution asking again (after a restart) gets the same task.
    assert_eq!(s.open_task(&new_task).await.unwrap().id, t.id);
    assert_eq!(s.open_tasks(a).await.unwrap().len(), 1);
    let done = s.complete_task(&t.id, "{\"__answer__\":\"yes\"}", "user:a").await.unwrap();
    assert_eq!((done.status.as_str(), done.result.as_deref()), ("completed", Some("{\"__answer__\":\"yes\"}")));
    assert!(matches!(s.complete_task(&t.id, "{}", "user:a").await, Err(StoreError::Conflict(_))));
    assert_eq!(s.open_task(&new_task).await.unwrap().status, "completed");

    assert!(s.finish_run(&run_id, "completed", None, "{}").await.unwrap());
    assert!(!s.finish_run(&run_id, "failed", Some("late"), "{}").await.unwrap(), "an ended run stays ended");
    assert!(matches!(s.finish_run(&run_id, "running", None, "{}").await, Err(StoreError::Invalid(_))));
    let run = s.get_run(&run_id).await.unwrap();
    assert_eq!(run.status, "completed");
    assert!(run.ended_at.is_some());
    assert!(s.running_runs().await.unwrap().is_empty());
    assert_eq!(s.list_runs(a, Some("playbook--1"), None, 10).await.unwrap().len(), 1);
    assert_eq!(s.list_runs(a, None, Some(&inc), 10).await.unwrap().len(), 1);
    assert!(s.list_runs(a, Some("playbook--2"), None, 10).await.unwrap().is_empty());

    let (_, _, timeline) = s.get_incident(&inc).await.unwrap();
    let lines: Vec<&str> = timeline.iter().filter(|t| t.kind == "playbook").map(|t| t.text.as_str()).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[0].starts_with("playbook run started: Block"));
    assert!(lines[1].starts_with("task for an analyst: Confirm the block"));
    assert!(lines[2].starts_with("task completed"));
    assert!(lines[3].starts_with("playbook run completed"));
}

async fn rules_and_proposals(s: &Store) {
    let a = org(s, "org-a").await;
    let inc = incident(s, a).await;
    let rule = s
        .create_rule(&NewRule {
            org: a,
            name: "Block on high".into(),
            enabled: true,
            trigger_on: "incident-created".into(),
            conditions: "{\"severities\":[\"high\"]}".into(),
            playbook_id: "playbook--1".into(),
            mode: "approval".into(),
            variables: "{}".into(),
            created_by: "user:a".into(),
        })
        .await
        .unwrap();
    assert_eq!(s.list_rules(a, Some("incident-created")).await.unwrap().len(), 1);
    assert!(s.list_rules(a, Some("incident-updated")).await.unwrap().is_empty());
    s.set_rule_enabled(&rule.id, false).await.unwrap();
    assert!(s.list_rules(a, Some("incident-created")).await.unwrap().is_empty());
    assert_eq!(s.list_rules(a, None).await.unwrap().len(), 1);

    let p = s
        .create_proposal(&NewProposal {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            org: a,
            incident_id: inc.clone(),
            playbook_id: "playbook--1".into(),
            mode: "approval".into(),
            inputs_sealed: "x".into(),
        })
        .await
        .unwrap();
    assert_eq!(p.status, "pending");
    assert_eq!(s.list_proposals(a, Some(&inc)).await.unwrap().len(), 1);
    let d = s.decide_proposal(&p.id, "dismissed", "user:c", None).await.unwrap();
    assert_eq!(d.status, "dismissed");
    assert!(matches!(s.decide_proposal(&p.id, "started", "user:c", None).await, Err(StoreError::Conflict(_))));
}
