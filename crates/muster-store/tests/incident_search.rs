//! Incident search on SQLite (a real file) and PostgreSQL (a real server
//! started by `scripts/test`): filters, full text, sorting, cursor paging and
//! visibility.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use muster_core::access::{Marking, Viewer, decide};
use muster_core::incident::IncidentStatus;
use muster_core::taxonomy::{NisRootCause, RsitClass, RsitType};
use muster_core::{OrgId, OrgKind, Role, Tlp, UserId};
use muster_store::{
    AssigneeFilter, IncidentCursor, IncidentQuery, IncidentRow, IncidentScope, IncidentSort, NewIncident,
    NewOrganisation, NewUser, SortKey, Store, StoreOptions, search_words,
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
    filters_narrow_the_list,
    full_text_searches_title_description_and_timeline,
    alert_links_on_the_timeline_are_not_searched,
    full_text_input_cannot_break_the_query,
    full_text_gives_the_same_rows_when_probing_row_by_row,
    severity_sorts_by_rank_not_alphabet,
    paging_visits_every_row_exactly_once_with_each_sort,
    observable_filter_matches_the_value_exactly,
    other_orgs_amber_never_appears_and_green_does,
    rows_the_gate_refuses_are_skipped_without_losing_or_repeating,
    full_text_follows_status_severity_and_tlp_changes_with_either_plan,
);

struct World {
    a: OrgId,
    b: OrgId,
    alice: UserId,
    viewer: Viewer,
}

async fn world(s: &Store) -> World {
    let org = |slug: &str| NewOrganisation {
        slug: slug.into(),
        name: format!("Org {slug}"),
        kind: OrgKind::NationalCsirt,
        country: None,
        sectors: vec![],
        client_of: None,
        tlp: Tlp::Green,
    };
    let a = s.create_org(&org("search-a"), false).await.unwrap().id;
    let b = s.create_org(&org("search-b"), false).await.unwrap().id;
    let alice = s
        .create_user(
            &NewUser {
                username: "alice".into(),
                display_name: "Alice".into(),
                email: None,
                org: a,
                role: Role::Analyst,
            },
            None,
        )
        .await
        .unwrap()
        .id;
    World { a, b, alice, viewer: Viewer::plain(alice, a, Role::Analyst) }
}

async fn incident(s: &Store, org: OrgId, title: &str, severity: &str, tlp: Tlp) -> String {
    let new = NewIncident {
        title: title.into(),
        description: String::new(),
        severity: severity.into(),
        tlp,
        pap: "PAP:AMBER".into(),
        rsit_type: None,
        alert_ids: vec![],
    };
    s.create_incident(org, &new, "test").await.unwrap().id
}

async fn set(s: &Store, id: &str, assignments: &str) {
    s.tamper_for_tests(&format!("UPDATE incidents SET {assignments} WHERE id = '{id}'")).await;
}

fn gate(v: &Viewer) -> impl Fn(&IncidentRow) -> bool + '_ {
    move |r| decide(v, &Marking::owned(r.org, r.tlp)).is_visible()
}

async fn ids(s: &Store, v: &Viewer, q: &IncidentQuery) -> Vec<String> {
    s.search_incidents(&IncidentScope::of(v), q, gate(v)).await.unwrap().items.into_iter().map(|r| r.id).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn filters_narrow_the_list(s: &Store) {
    let w = world(s).await;
    let one = incident(s, w.a, "Phishing wave", "high", Tlp::Amber).await;
    let two = incident(s, w.a, "Brute force on VPN", "low", Tlp::Amber).await;
    let three = incident(s, w.a, "Ransomware", "critical", Tlp::Amber).await;
    set(s, &one, &format!("status = 'triage', assignee_id = '{}', rsit_type = 'spam'", w.alice.uuid())).await;
    set(s, &two, "status = 'contained', rsit_type = 'brute-force', nis_root_cause = 'malicious-actions'").await;
    set(s, &three, "detected_at = 1000, updated_at = 2000, tlp = 'TLP:GREEN'").await;
    let v = &w.viewer;
    let all = IncidentQuery::default();
    assert_eq!(sorted(ids(s, v, &all).await), sorted(vec![one.clone(), two.clone(), three.clone()]));

    let q = IncidentQuery { statuses: vec![IncidentStatus::Triage, IncidentStatus::Contained], ..all.clone() };
    assert_eq!(sorted(ids(s, v, &q).await), sorted(vec![one.clone(), two.clone()]));
    let q = IncidentQuery { severities: vec!["critical".into(), "low".into()], ..all.clone() };
    assert_eq!(sorted(ids(s, v, &q).await), sorted(vec![two.clone(), three.clone()]));
    let q = IncidentQuery { assignee: Some(AssigneeFilter::User(w.alice)), ..all.clone() };
    assert_eq!(ids(s, v, &q).await, vec![one.clone()]);
    let q = IncidentQuery { assignee: Some(AssigneeFilter::Unassigned), ..all.clone() };
    assert_eq!(sorted(ids(s, v, &q).await), sorted(vec![two.clone(), three.clone()]));
    let q = IncidentQuery { rsit_class: Some(RsitClass::IntrusionAttempts), ..all.clone() };
    assert_eq!(ids(s, v, &q).await, vec![two.clone()]);
    let q = IncidentQuery { rsit_type: Some(RsitType::parse("spam").unwrap()), ..all.clone() };
    assert_eq!(ids(s, v, &q).await, vec![one.clone()]);
    let q = IncidentQuery { nis_root_cause: Some(NisRootCause::MaliciousActions), ..all.clone() };
    assert_eq!(ids(s, v, &q).await, vec![two.clone()]);
    let q = IncidentQuery { tlps: vec![Tlp::Green], ..all.clone() };
    assert_eq!(ids(s, v, &q).await, vec![three.clone()]);
    let q = IncidentQuery { detected_to: Some(1001), ..all.clone() };
    assert_eq!(ids(s, v, &q).await, vec![three.clone()]);
    let q = IncidentQuery { detected_from: Some(1001), ..all.clone() };
    assert_eq!(sorted(ids(s, v, &q).await), sorted(vec![one.clone(), two.clone()]));
    let q = IncidentQuery { updated_from: Some(2000), updated_to: Some(2001), ..all.clone() };
    assert_eq!(ids(s, v, &q).await, vec![three.clone()]);
    let q = IncidentQuery { statuses: vec![IncidentStatus::Contained], severities: vec!["high".into()], ..all.clone() };
    assert!(ids(s, v, &q).await.is_empty(), "filters combine with AND");
}

async fn full_text_searches_title_description_and_timeline(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    let title = incident(s, w.a, "Credential phishing against finance", "high", Tlp::Amber).await;
    let desc = incident(s, w.a, "Unusual traffic", "low", Tlp::Amber).await;
    set(s, &desc, "description = 'Beaconing to a Cobalt Strike team server'").await;
    let note = incident(s, w.a, "Mailbox rule", "low", Tlp::Amber).await;
    s.add_incident_note(&note, "alice", "Attacker exfiltrated payroll data via OAuth consent").await.unwrap();
    let q = |t: &str| IncidentQuery { text: search_words(t), ..IncidentQuery::default() };
    assert_eq!(ids(s, v, &q("phishing")).await, vec![title.clone()]);
    assert_eq!(ids(s, v, &q("FINANCE credential")).await, vec![title.clone()], "case-insensitive, all words");
    assert_eq!(ids(s, v, &q("cobalt strike")).await, vec![desc.clone()]);
    assert_eq!(ids(s, v, &q("payroll")).await, vec![note.clone()], "timeline text is searched");
    assert!(ids(s, v, &q("phishing payroll")).await.is_empty(), "every word must match");
    // A description edited later is found by its new words only.
    set(s, &desc, "description = 'Benign backup job'").await;
    assert!(ids(s, v, &q("cobalt")).await.is_empty());
    assert_eq!(ids(s, v, &q("backup")).await, vec![desc.clone()]);
    // Words of an incident's title stay searchable after its timeline grows.
    s.add_incident_note(&title, "alice", "second note").await.unwrap();
    assert_eq!(ids(s, v, &q("phishing")).await, vec![title]);
}

/// Links to alerts (intake's "linked N alerts (…)" entries, an analyst's link and
/// unlink) stay out of the search document, so intake linking alerts to an old
/// incident never rebuilds it; an analyst's note after them is searched, and the
/// incident's own words stay.
async fn alert_links_on_the_timeline_are_not_searched(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    let inc = incident(s, w.a, "Scanning from one address", "high", Tlp::Amber).await;
    s.tamper_for_tests(&format!(
        "INSERT INTO incident_timeline (id, incident_id, at, actor, kind, text) VALUES \
         ('timeline--l1', '{inc}', 1000, 'correlation', 'alert', 'linked 5000 alerts (rule=shared-address, shared=ipv4:198.51.100.77)')"
    ))
    .await;
    let q = |t: &str| IncidentQuery { text: search_words(t), ..IncidentQuery::default() };
    assert!(ids(s, v, &q("linked")).await.is_empty(), "a link entry is not searched");
    assert!(ids(s, v, &q("198.51.100.77")).await.is_empty());
    s.add_incident_note(&inc, "alice", "Blocked the scanner upstream").await.unwrap();
    assert_eq!(ids(s, v, &q("upstream")).await, vec![inc.clone()], "a note after a link is searched");
    assert!(ids(s, v, &q("linked")).await.is_empty(), "the rebuild leaves links out");
    assert_eq!(ids(s, v, &q("scanning")).await, vec![inc.clone()]);
    s.tamper_for_tests("DELETE FROM incident_timeline WHERE id = 'timeline--l1'").await;
    assert_eq!(ids(s, v, &q("upstream scanning")).await, vec![inc]);
}

async fn full_text_input_cannot_break_the_query(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    let id = incident(s, w.a, "NEAR miss: \"quoted\" title with 203.0.113.7 and o'brien", "high", Tlp::Amber).await;
    for input in [
        "\"",
        "NEAR(",
        "NEAR(miss quoted)",
        "\"quoted\"",
        "miss*",
        "quoted OR nothing",
        "-title",
        "o'brien",
        "'; DROP TABLE incidents; --",
        "title AND",
        "(((",
        "col:title",
        "^miss",
        "{title}",
        "203.0.113.7",
        "⚠ ünïcödé",
    ] {
        let q = IncidentQuery { text: search_words(input), ..IncidentQuery::default() };
        let page = s.search_incidents(&IncidentScope::of(v), &q, gate(v)).await;
        assert!(page.is_ok(), "{input:?}: {:?}", page.err());
    }
    let q = |t: &str| IncidentQuery { text: search_words(t), ..IncidentQuery::default() };
    assert_eq!(ids(s, v, &q("\"quoted\"")).await, vec![id.clone()]);
    assert_eq!(ids(s, v, &q("203.0.113.7")).await, vec![id.clone()]);
    assert_eq!(ids(s, v, &q("NEAR(miss")).await, vec![id.clone()]);
    assert!(ids(s, v, &q("quoted OR nothing")).await.is_empty(), "OR is a word, not an operator");
    assert_eq!(s.list_incidents(w.a, 10).await.unwrap().len(), 1, "nothing dropped");
}

async fn severity_sorts_by_rank_not_alphabet(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    for sev in ["medium", "critical", "info", "low", "high"] {
        incident(s, w.a, &format!("sev {sev}"), sev, Tlp::Amber).await;
    }
    let q = IncidentQuery { sort: IncidentSort::Severity, descending: true, ..IncidentQuery::default() };
    let page = s.search_incidents(&IncidentScope::of(v), &q, gate(v)).await.unwrap();
    let sevs: Vec<&str> = page.items.iter().map(|r| r.severity.as_str()).collect();
    assert_eq!(sevs, ["critical", "high", "medium", "low", "info"]);
    let q = IncidentQuery { descending: false, ..q };
    let page = s.search_incidents(&IncidentScope::of(v), &q, gate(v)).await.unwrap();
    let sevs: Vec<&str> = page.items.iter().map(|r| r.severity.as_str()).collect();
    assert_eq!(sevs, ["info", "low", "medium", "high", "critical"]);
}

async fn pages(s: &Store, v: &Viewer, q: &IncidentQuery) -> Vec<IncidentRow> {
    let mut out = Vec::new();
    let mut q = q.clone();
    for _ in 0..100 {
        let page = s.search_incidents(&IncidentScope::of(v), &q, gate(v)).await.unwrap();
        assert!(page.items.len() <= q.limit as usize);
        out.extend(page.items);
        match page.next {
            Some(c) => q.after = Some(IncidentCursor::decode(&c.encode()).unwrap()),
            None => return out,
        }
    }
    panic!("paging did not end");
}

async fn paging_visits_every_row_exactly_once_with_each_sort(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    let sevs = ["info", "low", "medium", "high", "critical"];
    let mut expected = BTreeSet::new();
    for i in 0..23 {
        let tlp = [Tlp::Amber, Tlp::Green, Tlp::Clear][i % 3];
        let org = if i % 4 == 0 && tlp != Tlp::Amber { w.b } else { w.a };
        let id = incident(s, org, &format!("incident {} {i}", ["b", "a", "c"][i % 3]), sevs[i % 5], tlp).await;
        // Many ties on every key, so the id tie-break is exercised.
        set(s, &id, &format!("updated_at = {}, detected_at = {}", 1000 + (i % 4) as i64, 500 + (i % 2) as i64)).await;
        if i % 3 == 0 {
            set(s, &id, "status = 'closed'").await;
        }
        expected.insert(id);
    }
    // Hidden ones must not show up either.
    incident(s, w.b, "b amber", "high", Tlp::Amber).await;
    for sort in IncidentSort::ALL {
        for descending in [true, false] {
            for limit in [1, 4, 50] {
                let q = IncidentQuery { sort: *sort, descending, limit, ..IncidentQuery::default() };
                let rows = pages(s, v, &q).await;
                let got: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                let unique: BTreeSet<String> = got.iter().cloned().collect();
                assert_eq!(unique.len(), got.len(), "{sort} desc={descending} limit={limit}: repeated rows");
                assert_eq!(unique, expected, "{sort} desc={descending} limit={limit}");
                // And in order.
                let key = |r: &IncidentRow| -> (SortKey, String) {
                    let k = match sort {
                        IncidentSort::UpdatedAt => SortKey::Int(muster_store::to_ms(r.updated_at)),
                        IncidentSort::DetectedAt => {
                            SortKey::Int(muster_store::to_ms(r.lifecycle.milestones.detected_at))
                        }
                        IncidentSort::Severity => {
                            SortKey::Int(sevs.iter().position(|x| *x == r.severity).unwrap() as i64)
                        }
                        IncidentSort::Status => SortKey::Int(
                            IncidentStatus::ALL.iter().position(|x| *x == r.lifecycle.status).unwrap() as i64,
                        ),
                        IncidentSort::Title => SortKey::Text(r.title.clone()),
                    };
                    (k, r.id.clone())
                };
                let keys: Vec<_> = rows.iter().map(key).collect();
                let mut want = keys.clone();
                want.sort_by(cmp_keys);
                if descending {
                    want.reverse();
                }
                assert_eq!(keys, want, "{sort} desc={descending} limit={limit}: order");
            }
        }
    }
    // A filtered walk also sees each matching row once.
    let q = IncidentQuery { statuses: vec![IncidentStatus::Closed], limit: 2, ..IncidentQuery::default() };
    assert_eq!(pages(s, v, &q).await.len(), 8);
}

fn cmp_keys(x: &(SortKey, String), y: &(SortKey, String)) -> std::cmp::Ordering {
    let k = match (&x.0, &y.0) {
        (SortKey::Int(a), SortKey::Int(b)) => a.cmp(b),
        (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
        _ => std::cmp::Ordering::Equal,
    };
    k.then_with(|| x.1.cmp(&y.1))
}

async fn observable_filter_matches_the_value_exactly(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    let hit = incident(s, w.a, "with observable", "high", Tlp::Amber).await;
    let near = incident(s, w.a, "with a similar observable", "high", Tlp::Amber).await;
    let theirs = incident(s, w.b, "theirs, shared", "high", Tlp::Green).await;
    let observable = |inc: &str, org: OrgId, value: &str, tlp: &str| {
        format!(
            "INSERT INTO incident_observables (id, incident_id, org_id, kind, value, ioc, sighted, tlp, pap, source, created_at) \
             VALUES ('observable--{}', '{inc}', '{}', 'ipv4-addr', '{value}', 1, 0, '{tlp}', 'PAP:AMBER', 'analyst', 0)",
            uuid_like(),
            org.uuid()
        )
    };
    s.tamper_for_tests(&observable(&hit, w.a, "198.51.100.7", "TLP:AMBER")).await;
    s.tamper_for_tests(&observable(&near, w.a, "198.51.100.70", "TLP:AMBER")).await;
    s.tamper_for_tests(&observable(&theirs, w.b, "198.51.100.7", "TLP:GREEN")).await;
    let q = |o: &str| IncidentQuery { observable: Some(o.into()), ..IncidentQuery::default() };
    assert_eq!(sorted(ids(s, v, &q("198.51.100.7")).await), sorted(vec![hit.clone(), theirs.clone()]));
    assert_eq!(ids(s, v, &q("198.51.100.70")).await, vec![near.clone()]);
    assert!(ids(s, v, &q("198.51.100")).await.is_empty(), "no prefix match");
    // A RED observable of B on its GREEN incident does not reveal itself through the filter.
    s.tamper_for_tests(&observable(&theirs, w.b, "secret.example", "TLP:RED")).await;
    assert!(ids(s, v, &q("secret.example")).await.is_empty());
}

fn uuid_like() -> String {
    format!("{}", OrgId::new().uuid())
}

async fn other_orgs_amber_never_appears_and_green_does(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    let own_amber = incident(s, w.a, "own amber", "high", Tlp::Amber).await;
    let own_strict = incident(s, w.a, "own strict", "high", Tlp::AmberStrict).await;
    let own_red = incident(s, w.a, "own red", "high", Tlp::Red).await;
    let their_green = incident(s, w.b, "their green", "high", Tlp::Green).await;
    let their_clear = incident(s, w.b, "their clear", "high", Tlp::Clear).await;
    for t in [Tlp::Amber, Tlp::AmberStrict, Tlp::Red] {
        incident(s, w.b, &format!("their {t}"), "high", t).await;
    }
    let scope = IncidentScope::of(v);
    assert_eq!(scope.others, vec![Tlp::Clear, Tlp::Green]);
    // The SQL pre-selection alone already gives the gate's answer.
    let page = s.search_incidents(&scope, &IncidentQuery::default(), |_| true).await.unwrap();
    let got: BTreeSet<String> = page.items.iter().map(|r| r.id.clone()).collect();
    let want: BTreeSet<String> = [own_amber, own_strict, their_green, their_clear].into_iter().collect();
    assert_eq!(got, want);
    assert!(!got.contains(&own_red), "RED reaches named individuals only");
    for r in &page.items {
        assert!(gate(v)(r), "{} passed the SQL but not the gate", r.title);
    }
    // Searching for B's AMBER words finds nothing.
    let q = IncidentQuery { text: search_words("their"), ..IncidentQuery::default() };
    let titles: BTreeSet<String> =
        s.search_incidents(&scope, &q, gate(v)).await.unwrap().items.into_iter().map(|r| r.title).collect();
    assert_eq!(titles, ["their clear", "their green"].map(String::from).into_iter().collect());
    // B sees only its own and A's nothing (all of A's are AMBER or stricter).
    let bob = Viewer::plain(UserId::new(), w.b, Role::Admin);
    let titles: BTreeSet<String> = s
        .search_incidents(&IncidentScope::of(&bob), &IncidentQuery::default(), gate(&bob))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| r.title)
        .collect();
    assert!(titles.iter().all(|t| t.starts_with("their")), "{titles:?}");
}

async fn rows_the_gate_refuses_are_skipped_without_losing_or_repeating(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    let mut kept = BTreeSet::new();
    for i in 0..40 {
        let id = incident(s, w.a, &format!("gated {i:02}"), "medium", Tlp::Amber).await;
        if i % 7 == 0 {
            kept.insert(id);
        }
    }
    // A gate stricter than the SQL pre-selection: whole pages of refusals.
    let allow = kept.clone();
    let strict = move |r: &IncidentRow| allow.contains(&r.id);
    let mut q = IncidentQuery { limit: 2, ..IncidentQuery::default() };
    let mut seen = Vec::new();
    for _ in 0..100 {
        let page = s.search_incidents(&IncidentScope::of(v), &q, &strict).await.unwrap();
        seen.extend(page.items.into_iter().map(|r| r.id));
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), kept.len(), "{seen:?}");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), kept);
}

#[test]
fn cursors_round_trip_and_refuse_edits() {
    let c = IncidentCursor {
        sort: IncidentSort::Title,
        descending: false,
        key: SortKey::Text("a | tricky | title".into()),
        id: "incident--0192f1a2-0000-7000-8000-000000000000".into(),
    };
    let s = c.encode();
    assert_eq!(IncidentCursor::decode(&s).unwrap(), c);
    assert!(s.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'), "URL-safe: {s}");
    let mut bytes = s.clone().into_bytes();
    bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
    assert!(IncidentCursor::decode(std::str::from_utf8(&bytes).unwrap()).is_err());
    for bad in ["", "!!!", "bm90IGEgY3Vyc29y", &"A".repeat(5000)] {
        assert!(IncidentCursor::decode(bad).is_err(), "{bad}");
    }
    let n = IncidentCursor { sort: IncidentSort::UpdatedAt, descending: true, key: SortKey::Int(-5), ..c };
    assert_eq!(IncidentCursor::decode(&n.encode()).unwrap(), n);
}

#[test]
fn search_words_drop_pure_punctuation() {
    assert_eq!(search_words("  a \"b\" (( -- NEAR( "), vec!["a", "\"b\"", "NEAR("]);
    assert!(search_words("\" ( ) *").is_empty());
}

/// SQLite walks the sort index and probes each row when a search matches many
/// incidents; forcing that plan must not change the answer.
async fn full_text_gives_the_same_rows_when_probing_row_by_row(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    let mut want = BTreeSet::new();
    for i in 0..12 {
        let title = if i % 3 == 0 { format!("lateral movement {i}") } else { format!("quiet {i}") };
        let id = incident(s, w.a, &title, "high", if i % 2 == 0 { Tlp::Amber } else { Tlp::Green }).await;
        if i % 3 == 0 {
            want.insert(id);
        }
    }
    let q = IncidentQuery { text: search_words("movement LATERAL"), limit: 2, ..IncidentQuery::default() };
    let driven: BTreeSet<String> = pages(s, v, &q).await.into_iter().map(|r| r.id).collect();
    muster_store::set_fts_drive_max_matches(0);
    let probed: BTreeSet<String> = pages(s, v, &q).await.into_iter().map(|r| r.id).collect();
    muster_store::set_fts_drive_max_matches(-1);
    assert_eq!(driven, want);
    assert_eq!(probed, want);
    // Same rows in the same order, page by page, for every sort and direction
    // (titles with equal keys make the id tie-break count).
    for i in 0..9 {
        let title = if i % 2 == 0 { "movement lateral".to_owned() } else { format!("lateral movement {}", i % 4) };
        incident(s, if i % 3 == 0 { w.b } else { w.a }, &title, ["low", "high", "critical"][i % 3], Tlp::Green).await;
    }
    for sort in [IncidentSort::UpdatedAt, IncidentSort::Title, IncidentSort::Severity, IncidentSort::Status] {
        for descending in [true, false] {
            let q = IncidentQuery { sort, descending, limit: 3, ..q.clone() };
            muster_store::set_fts_drive_max_matches(-1);
            let driven: Vec<String> = pages(s, v, &q).await.into_iter().map(|r| r.id).collect();
            muster_store::set_fts_drive_max_matches(0);
            let probed: Vec<String> = pages(s, v, &q).await.into_iter().map(|r| r.id).collect();
            muster_store::set_fts_drive_max_matches(-1);
            assert_eq!(driven.len(), want.len() + 9, "{sort:?}");
            assert_eq!(driven, probed, "{sort:?} descending={descending}");
        }
    }
}

/// Both full-text plans, after the filter keys (owner, TLP, status, severity)
/// of matching incidents changed under them.
async fn full_text_follows_status_severity_and_tlp_changes_with_either_plan(s: &Store) {
    let w = world(s).await;
    let v = &w.viewer;
    let mine = incident(s, w.a, "beacon to c2 one", "low", Tlp::Amber).await;
    let theirs = incident(s, w.b, "beacon to c2 two", "low", Tlp::Amber).await;
    let closed = incident(s, w.a, "beacon to c2 three", "high", Tlp::Amber).await;
    incident(s, w.a, "nothing to see", "low", Tlp::Amber).await;
    set(s, &closed, "status = 'closed'").await;
    set(s, &mine, "severity = 'critical'").await;
    // Another organisation's AMBER incident becomes GREEN: now visible.
    set(s, &theirs, "tlp = 'TLP:GREEN'").await;
    let q = |statuses: Vec<IncidentStatus>, severities: Vec<&str>| IncidentQuery {
        text: search_words("beacon c2"),
        statuses,
        severities: severities.into_iter().map(str::to_owned).collect(),
        sort: IncidentSort::Severity,
        ..IncidentQuery::default()
    };
    for forced in [-1, 0] {
        muster_store::set_fts_drive_max_matches(forced);
        assert_eq!(ids(s, v, &q(vec![], vec![])).await, vec![mine.clone(), closed.clone(), theirs.clone()]);
        assert_eq!(sorted(ids(s, v, &q(vec![IncidentStatus::Closed], vec![])).await), vec![closed.clone()]);
        assert_eq!(
            sorted(ids(s, v, &q(vec![IncidentStatus::New], vec![])).await),
            sorted(vec![mine.clone(), theirs.clone()])
        );
        assert_eq!(ids(s, v, &q(vec![], vec!["critical"])).await, vec![mine.clone()]);
        assert!(ids(s, v, &q(vec![IncidentStatus::Closed], vec!["critical"])).await.is_empty());
    }
    // And back to AMBER: hidden again.
    set(s, &theirs, "tlp = 'TLP:AMBER'").await;
    for forced in [-1, 0] {
        muster_store::set_fts_drive_max_matches(forced);
        assert_eq!(ids(s, v, &q(vec![], vec![])).await, vec![mine.clone(), closed.clone()]);
    }
    muster_store::set_fts_drive_max_matches(-1);
}

/// A store an older release left at migration 7, with incidents in it, gets
/// their filter keys backfilled by migration 8, and full-text search (driven
/// from the matches, which reads those keys) finds exactly what it should.
#[tokio::test]
async fn sqlite_store_from_migration_7_gets_its_search_keys_backfilled() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::connect(&StoreOptions::sqlite(dir.path())).await.unwrap();
    assert_eq!(s.migrate_to(7).await.unwrap(), vec![1, 2, 3, 4, 5, 6, 7]);
    let w = world(&s).await;
    let v = &w.viewer;
    let open = incident(&s, w.a, "ransomware on payroll server", "high", Tlp::Amber).await;
    let closed = incident(&s, w.a, "ransomware on backup server", "medium", Tlp::AmberStrict).await;
    let green = incident(&s, w.b, "ransomware note found", "low", Tlp::Green).await;
    incident(&s, w.b, "ransomware elsewhere", "low", Tlp::Amber).await;
    incident(&s, w.a, "phishing", "low", Tlp::Amber).await;
    set(&s, &closed, "status = 'closed'").await;
    assert_eq!(s.migrate().await.unwrap(), vec![8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    for forced in [-1, 0] {
        muster_store::set_fts_drive_max_matches(forced);
        let q = IncidentQuery {
            text: search_words("ransomware"),
            sort: IncidentSort::Severity,
            ..IncidentQuery::default()
        };
        assert_eq!(ids(&s, v, &q).await, vec![open.clone(), closed.clone(), green.clone()]);
        let q = IncidentQuery { statuses: vec![IncidentStatus::Closed], ..q };
        assert_eq!(ids(&s, v, &q).await, vec![closed.clone()]);
    }
    muster_store::set_fts_drive_max_matches(-1);
    // New incidents after the migration carry their keys from the start.
    let later = incident(&s, w.a, "ransomware again", "critical", Tlp::Red).await;
    set(&s, &later, "tlp = 'TLP:AMBER'").await;
    let q = IncidentQuery {
        text: search_words("ransomware"),
        severities: vec!["critical".into()],
        ..IncidentQuery::default()
    };
    assert_eq!(ids(&s, v, &q).await, vec![later]);
}
