//! Benchmark 4: incident search with 1,000,000 incidents in the store —
//! filtered, sorted first page, p50/p99 per query kind, through
//! `Store::search_incidents` (SQL pre-selection plus the access gate).
//!
//! ```text
//! cargo bench -p muster-store --bench incident_search            # SQLite in /tmp/muster-bench-search
//! MUSTER_BENCH_DATABASE_URL=postgres://… cargo bench -p muster-store --bench incident_search
//! MUSTER_BENCH_INCIDENTS=100000 MUSTER_BENCH_RUNS=100 …          # smaller / fewer
//! ```
//!
//! The loaded database is kept and reused by later runs (it takes minutes to
//! build); delete `/tmp/muster-bench-search` (or drop the PostgreSQL database)
//! to rebuild it. `MUSTER_BENCH_EXPLAIN=1` prints each kind's query plan.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::time::{Duration, Instant};

use muster_core::access::{Marking, Viewer, decide};
use muster_core::incident::IncidentStatus;
use muster_core::{OrgId, OrgKind, Role, Tlp, UserId};
use muster_store::{
    AssigneeFilter, IncidentQuery, IncidentScope, IncidentSort, NewOrganisation, NewUser, Store, StoreOptions,
    search_words,
};
use sqlx::Executor;

/// One generated incident's bound values: id, organisation, title, description,
/// severity, status, TLP, PAP, created and updated times, assignee, RSIT type.
type IncidentValues<'a> =
    (String, String, String, String, &'a str, &'a str, &'a str, &'a str, i64, i64, Option<&'a str>, Option<String>);

const ORGS: usize = 20;
const USERS_PER_ORG: usize = 10;
const ROWS_PER_INSERT: usize = 400;
const ROWS_PER_TX: usize = 40_000;

/// xorshift64*: reproducible data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    /// Picks by weight.
    fn weighted<'a, T>(&mut self, xs: &'a [(T, u32)]) -> &'a T {
        let total: u32 = xs.iter().map(|(_, w)| w).sum();
        let mut r = (self.next() % u64::from(total)) as u32;
        for (x, w) in xs {
            if r < *w {
                return x;
            }
            r -= w;
        }
        &xs[0].0
    }
}

const WORDS: &[&str] = &[
    "phishing",
    "credential",
    "harvesting",
    "ransomware",
    "encryption",
    "lateral",
    "movement",
    "beacon",
    "cobalt",
    "strike",
    "exfiltration",
    "payroll",
    "finance",
    "invoice",
    "mailbox",
    "rule",
    "forwarding",
    "oauth",
    "consent",
    "token",
    "theft",
    "brute",
    "force",
    "vpn",
    "gateway",
    "firewall",
    "scan",
    "port",
    "sweep",
    "web",
    "shell",
    "upload",
    "sql",
    "injection",
    "xss",
    "deface",
    "ddos",
    "amplification",
    "dns",
    "tunnel",
    "c2",
    "domain",
    "typosquat",
    "malware",
    "dropper",
    "loader",
    "emotet",
    "qakbot",
    "icedid",
    "agent",
    "tesla",
    "keylogger",
    "infostealer",
    "browser",
    "cookies",
    "session",
    "hijack",
    "mfa",
    "fatigue",
    "push",
    "bombing",
    "helpdesk",
    "social",
    "engineering",
    "vishing",
    "smishing",
    "usb",
    "insider",
    "data",
    "leak",
    "cloud",
    "bucket",
    "public",
    "exposure",
    "misconfiguration",
    "patch",
    "missing",
    "exchange",
    "proxylogon",
    "citrix",
    "fortinet",
    "ivanti",
    "zero",
    "day",
    "exploit",
    "privilege",
    "escalation",
    "kerberoasting",
    "golden",
    "ticket",
    "domain",
    "admin",
    "backup",
    "deletion",
    "shadow",
    "copies",
    "wiper",
    "ot",
    "plc",
    "scada",
    "hospital",
    "energy",
    "grid",
    "substation",
    "water",
    "treatment",
    "telecom",
    "outage",
    "fibre",
    "cut",
    "power",
    "failure",
    "storm",
    "flooding",
    "human",
    "error",
    "wrong",
    "recipient",
    "lost",
    "laptop",
    "supplier",
    "compromise",
    "update",
    "server",
    "workstation",
    "printer",
    "camera",
    "router",
    "switch",
    "wifi",
    "guest",
    "network",
    "segment",
    "suspicious",
    "login",
    "impossible",
    "travel",
    "anomalous",
    "traffic",
    "spike",
    "outbound",
    "smtp",
    "relay",
    "spam",
    "campaign",
    "botnet",
    "node",
    "cryptominer",
    "container",
    "kubernetes",
    "api",
    "key",
    "github",
    "repository",
    "secret",
    "certificate",
    "expired",
    "tls",
    "downgrade",
    "ssh",
    "rdp",
    "exposed",
    "honeypot",
    "sinkhole",
    "takedown",
    "notification",
    "national",
    "csirt",
    "sector",
    "advisory",
    "vulnerability",
    "cve",
];

const RSIT: &[&str] = &[
    "spam",
    "infected-system",
    "c2-server",
    "malware-distribution",
    "scanner",
    "social-engineering",
    "ids-alert",
    "brute-force",
    "exploit",
    "system-compromise",
    "application-compromise",
    "ddos",
    "data-leak",
    "phishing",
    "vulnerable-system",
];

const NIS: &[&str] =
    &["system-failures", "natural-phenomena", "human-errors", "malicious-actions", "third-party-failures"];

fn sentence(r: &mut Rng, min: usize, max: usize) -> String {
    let n = min + r.below(max - min + 1);
    (0..n).map(|_| *r.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

fn ip(r: &mut Rng) -> String {
    // A few thousand distinct documentation-range addresses, repeated across incidents.
    let net = r.pick(&["192.0.2", "198.51.100", "203.0.113"]);
    format!("{net}.{}", r.below(256))
}

struct Fixture {
    orgs: Vec<OrgId>,
    users: Vec<Vec<UserId>>,
}

async fn fixture(store: &Store) -> Fixture {
    let existing = store.list_orgs().await.unwrap();
    let mut orgs: Vec<OrgId> = existing.iter().filter(|o| o.slug.starts_with("bench-")).map(|o| o.id).collect();
    if orgs.is_empty() {
        for i in 0..ORGS {
            let o = store
                .create_org(
                    &NewOrganisation {
                        slug: format!("bench-{i:02}"),
                        name: format!("Bench org {i}"),
                        kind: OrgKind::NationalCsirt,
                        country: None,
                        sectors: vec![],
                        client_of: None,
                        tlp: Tlp::Green,
                    },
                    false,
                )
                .await
                .unwrap();
            for u in 0..USERS_PER_ORG {
                let nu = NewUser {
                    username: format!("bench-{i:02}-{u}"),
                    display_name: format!("Analyst {u}"),
                    email: None,
                    org: o.id,
                    role: Role::Analyst,
                };
                store.create_user(&nu, None).await.unwrap();
            }
            orgs.push(o.id);
        }
    }
    let existing = store.list_orgs().await.unwrap();
    orgs.sort_by_key(|id| existing.iter().find(|o| o.id == *id).map(|o| o.slug.clone()));
    let mut users = Vec::new();
    for o in &orgs {
        users.push(store.list_users(Some(*o)).await.unwrap().into_iter().map(|u| u.id).collect());
    }
    Fixture { orgs, users }
}

async fn load(url: &str, f: &Fixture, n: usize, sqlite: bool) {
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await.unwrap();
    if sqlite {
        pool.execute("PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL; PRAGMA cache_size=-200000;").await.unwrap();
    }
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incidents").fetch_one(&pool).await.unwrap();
    let have = usize::try_from(have).unwrap();
    if have >= n {
        println!("reusing {have} incidents already loaded");
        return;
    }
    println!("loading {} incidents …", n - have);
    let started = Instant::now();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ have as u64);
    let now: i64 = 1_790_000_000_000;
    let two_years: i64 = 2 * 365 * 86_400_000;
    let statuses = [
        ("new", 8),
        ("triage", 7),
        ("in-progress", 10),
        ("contained", 6),
        ("eradicated", 4),
        ("recovered", 5),
        ("closed", 60),
    ];
    let severities = [("info", 15), ("low", 30), ("medium", 30), ("high", 18), ("critical", 7)];
    let tlps = [("TLP:AMBER", 55), ("TLP:GREEN", 25), ("TLP:CLEAR", 10), ("TLP:AMBER+STRICT", 7), ("TLP:RED", 3)];
    let cols = "id, org_id, title, description, severity, status, resolution, rsit_type, tlp, pap, occurred_at, \
                detected_at, contained_at, closed_at, created_at, updated_at, nis_root_cause, assignee_id";
    let per_row = 13;
    let mut done = have;
    while done < n {
        let mut tx = pool.begin().await.unwrap();
        let tx_end = (done + ROWS_PER_TX).min(n);
        while done < tx_end {
            let rows = ROWS_PER_INSERT.min(tx_end - done);
            let mut sql = format!("INSERT INTO incidents ({cols}) VALUES ");
            let mut obs_sql =
                "INSERT INTO incident_observables (id, incident_id, org_id, kind, value, ioc, sighted, tlp, pap, source, created_at) VALUES "
                    .to_owned();
            let mut obs_rows: Vec<[String; 5]> = Vec::new();
            let mut vals: Vec<IncidentValues<'_>> = Vec::with_capacity(rows);
            for i in 0..rows {
                let o = r.below(f.orgs.len());
                let id = format!("incident--{}", uuid::Uuid::now_v7());
                let status = *r.weighted(&statuses);
                let detected = now - (r.next() % two_years as u64) as i64;
                let updated = detected + (r.next() % (30 * 86_400_000)) as i64;
                let title = format!("{} on host-{}", sentence(&mut r, 3, 7), r.below(5000));
                let description = sentence(&mut r, 8, 20);
                let tlp = *r.weighted(&tlps);
                let assignee = (r.below(10) < 7).then(|| r.pick(&f.users[o]).uuid().to_string());
                let nis = (r.below(3) == 0).then(|| *r.pick(NIS));
                if r.below(10) < 3 {
                    for _ in 0..1 + r.below(3) {
                        let value = if r.below(2) == 0 { ip(&mut r) } else { format!("{}.example", r.pick(WORDS)) };
                        obs_rows.push([id.clone(), f.orgs[o].uuid().to_string(), value, tlp.to_owned(), String::new()]);
                    }
                }
                let b = i * per_row;
                sql.push_str(&format!(
                    "{}(${}, ${}, ${}, ${}, ${}, ${}, NULL, ${}, ${}, 'PAP:AMBER', NULL, ${}, NULL, NULL, ${}, ${}, ${}, ${})",
                    if i == 0 { "" } else { ", " },
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9,
                    b + 10,
                    b + 11,
                    b + 12,
                    b + 13,
                ));
                vals.push((
                    id,
                    f.orgs[o].uuid().to_string(),
                    title,
                    description,
                    *r.weighted(&severities),
                    status,
                    *r.pick(RSIT),
                    tlp,
                    detected,
                    updated,
                    nis,
                    assignee,
                ));
            }
            let mut q = sqlx::query(&sql);
            for v in vals {
                q = q
                    .bind(v.0)
                    .bind(v.1)
                    .bind(v.2)
                    .bind(v.3)
                    .bind(v.4)
                    .bind(v.5)
                    .bind(v.6)
                    .bind(v.7)
                    .bind(v.8)
                    .bind(v.8)
                    .bind(v.9)
                    .bind(v.10)
                    .bind(v.11);
            }
            q.execute(&mut *tx).await.unwrap();
            if !obs_rows.is_empty() {
                let mut q_obs = Vec::new();
                for (i, _) in obs_rows.iter().enumerate() {
                    let b = i * 5;
                    q_obs.push(format!(
                        "(${}, ${}, ${}, 'ipv4-addr', ${}, 0, 0, ${}, 'PAP:AMBER', 'bench', 0)",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5
                    ));
                }
                obs_sql.push_str(&q_obs.join(", "));
                obs_sql.push_str(" ON CONFLICT DO NOTHING");
                let mut q = sqlx::query(&obs_sql);
                for [inc, org, value, tlp, _] in obs_rows {
                    q = q
                        .bind(format!("observable--{}", uuid::Uuid::now_v7()))
                        .bind(inc)
                        .bind(org)
                        .bind(value)
                        .bind(tlp);
                }
                q.execute(&mut *tx).await.unwrap();
            }
            done += rows;
        }
        tx.commit().await.unwrap();
        println!("  {done} ({:.0} incidents/s)", (done - have) as f64 / started.elapsed().as_secs_f64());
    }
    if sqlite {
        pool.execute("ANALYZE").await.unwrap();
    } else {
        pool.execute("VACUUM ANALYZE").await.unwrap();
    }
    println!("loaded in {:.1} s", started.elapsed().as_secs_f64());
    pool.close().await;
}

/// CPU time this process (every thread: the SQLite workers too) has used, in ms
/// (Linux `/proc`, 10 ms ticks; 0 elsewhere). Over 100 searches it gives the CPU
/// cost per search, which a loaded machine does not inflate the way it does wall time.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name.
    (tick(11) + tick(12)) * 10.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("MUSTER_BENCH_INCIDENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let runs: usize = std::env::var("MUSTER_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let explain = std::env::var("MUSTER_BENCH_EXPLAIN").is_ok();
    // Prints every search's time and words (to see which searches make the tail).
    let trace = std::env::var("MUSTER_BENCH_TRACE").is_ok();
    let (opts, url, sqlite) = match std::env::var("MUSTER_BENCH_DATABASE_URL") {
        Ok(url) => (
            StoreOptions { database_url: Some(url.clone()), data_dir: "unused".into(), max_connections: 4 },
            url,
            false,
        ),
        Err(_) => {
            let dir = std::path::PathBuf::from(format!("/tmp/muster-bench-search-{n}"));
            let url = format!("sqlite://{}?mode=rwc", dir.join("muster.db").display());
            (StoreOptions::sqlite(&dir), url, true)
        }
    };
    let store = Store::open(&opts).await.unwrap();
    let f = fixture(&store).await;
    load(&url, &f, n, sqlite).await;

    // The viewer: an analyst of the first organisation.
    let viewer = Viewer::plain(f.users[0][0], f.orgs[0], Role::Analyst);
    let scope = IncidentScope::of(&viewer);
    let gate = |r: &muster_store::IncidentRow| decide(&viewer, &Marking::owned(r.org, r.tlp)).is_visible();

    let mut r = Rng(42);
    let observables: Vec<String> = (0..64).map(|_| ip(&mut r)).collect();
    type Make = Box<dyn Fn(&mut Rng) -> IncidentQuery>;
    let users = f.users[0].clone();
    let kinds: Vec<(&str, Make)> = vec![
        (
            "status+severity, by updated_at",
            Box::new(|r: &mut Rng| IncidentQuery {
                statuses: vec![*r.pick(&[IncidentStatus::New, IncidentStatus::Triage]), IncidentStatus::InProgress],
                severities: vec!["high".into(), r.pick::<&str>(&["critical", "medium"]).to_string()],
                ..IncidentQuery::default()
            }),
        ),
        (
            "status, by severity",
            Box::new(|r: &mut Rng| IncidentQuery {
                statuses: vec![*r.pick(&[IncidentStatus::New, IncidentStatus::Triage, IncidentStatus::Contained])],
                sort: IncidentSort::Severity,
                ..IncidentQuery::default()
            }),
        ),
        (
            "assignee, by updated_at",
            Box::new(move |r: &mut Rng| IncidentQuery {
                assignee: Some(AssigneeFilter::User(*r.pick(&users))),
                ..IncidentQuery::default()
            }),
        ),
        (
            "full text (1 word), by updated_at",
            Box::new(|r: &mut Rng| IncidentQuery {
                text: search_words(r.pick::<&str>(WORDS)),
                ..IncidentQuery::default()
            }),
        ),
        (
            "full text (2 words) + open, by severity",
            Box::new(|r: &mut Rng| IncidentQuery {
                text: search_words(&format!("{} {}", r.pick::<&str>(WORDS), r.pick::<&str>(WORDS))),
                statuses: vec![IncidentStatus::New, IncidentStatus::Triage, IncidentStatus::InProgress],
                sort: IncidentSort::Severity,
                ..IncidentQuery::default()
            }),
        ),
        (
            "observable, by updated_at",
            Box::new(move |r: &mut Rng| IncidentQuery {
                observable: Some(r.pick(&observables).clone()),
                ..IncidentQuery::default()
            }),
        ),
        (
            "TLP:GREEN, by title asc",
            Box::new(|_: &mut Rng| IncidentQuery {
                tlps: vec![Tlp::Green],
                sort: IncidentSort::Title,
                descending: false,
                ..IncidentQuery::default()
            }),
        ),
    ];
    println!(
        "\n{n} incidents, {} organisations; viewer sees own + TLP:CLEAR/GREEN; page size 50; {runs} runs per kind",
        f.orgs.len()
    );
    println!("{:<42} {:>9} {:>9} {:>9} {:>8} {:>9}", "query", "p50 ms", "p99 ms", "max ms", "rows", "cpu ms/q");
    let mut worst: f64 = 0.0;
    // Runs only the kinds whose name contains this (for profiling one kind).
    let only = std::env::var("MUSTER_BENCH_ONLY").unwrap_or_default();
    for (name, make) in kinds.iter().filter(|(name, _)| name.contains(only.as_str())) {
        if explain {
            let plan = store.explain_incident_search(&scope, &make(&mut Rng(7))).await.unwrap();
            println!("--- {name}\n{plan}");
        }
        // Warm-up.
        for _ in 0..5 {
            store.search_incidents(&scope, &make(&mut r), gate).await.unwrap();
        }
        let mut times = Vec::with_capacity(runs);
        let mut rows = 0usize;
        let cpu_before = cpu_ms();
        for _ in 0..runs {
            let q = make(&mut r);
            let t = Instant::now();
            let page = store.search_incidents(&scope, &q, gate).await.unwrap();
            times.push(t.elapsed());
            rows += page.items.len();
            if trace {
                println!("  {:>8.2} ms  {:?}", t.elapsed().as_secs_f64() * 1000.0, q.text);
            }
        }
        let cpu = (cpu_ms() - cpu_before) / runs as f64;
        times.sort();
        let p99 = percentile(&times, 0.99);
        worst = worst.max(p99);
        println!(
            "{name:<42} {:>9.2} {:>9.2} {:>9.2} {:>8.1} {cpu:>9.1}",
            percentile(&times, 0.5),
            p99,
            percentile(&times, 1.0),
            rows as f64 / runs as f64
        );
    }
    println!("worst p99: {worst:.2} ms (target ≤ 50 ms)");
}
