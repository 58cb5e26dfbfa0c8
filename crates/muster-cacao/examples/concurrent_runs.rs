//! Benchmark 2: many concurrent executions of a playbook of http-api steps
//! against a local HTTP server, reporting completion time and peak memory.
//!
//! Everything runs in this one process: an axum server on 127.0.0.1 (its own
//! one-thread runtime), and the engine with `LocalHost` (the real HTTP runner,
//! egress policy allowing 127.0.0.1) on the main runtime. Records go to an
//! in-memory sink that counts them — no database: this measures the engine
//! and runner, not a store. Peak RSS is the process's `VmHWM`, server included.
//!
//! ```text
//! cargo run --release -p muster-cacao --example concurrent_runs -- [--runs 10000] [--steps 10] [--in-flight 256]
//! ```
//!
//! Numbers and the exact command used for them: `docs/benchmarks.md` (benchmark 2).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use muster_cacao::engine::ExecutionRecord;
use muster_cacao::local::LocalHost;
use muster_cacao::runners::{EgressPolicy, RunnerConfig, Runners};
use muster_cacao::{Cancellation, Engine, EngineConfig, Playbook, RunStatus};
use serde_json::{Value, json};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().unwrap())
}

fn id(kind: &str, n: usize) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012}")
}

fn playbook(steps: usize, port: u16) -> Playbook {
    let agent = "http-api--00000000-0000-4000-8000-0000000000a1";
    let mut wf = serde_json::Map::new();
    wf.insert(id("start", 0), json!({"type": "start", "on_completion": id("action", 1)}));
    for i in 1..=steps {
        let next = if i == steps { id("end", 999_999) } else { id("action", i + 1) };
        wf.insert(
            id("action", i),
            json!({"type": "action", "agent": agent, "on_success": next, "out_args": ["__status__"],
                   "commands": [{"type": "http-api", "command": format!("GET /api/block?step={i} HTTP/1.1")}]}),
        );
    }
    wf.insert(id("end", 999_999), json!({"type": "end"}));
    serde_json::from_value(json!({
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": "playbook--00000000-0000-4000-8000-000000000000", "name": "bench: http-api chain",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "playbook_variables": {"__status__": {"type": "string"}},
        "workflow_start": id("start", 0), "workflow": Value::Object(wf),
        "agent_definitions": {agent: {"type": "http-api", "name": "local api",
            "address": {"ipv4": ["127.0.0.1"]}, "port": port.to_string()}}
    }))
    .unwrap()
}

/// `VmHWM` / `VmRSS` of this process in KiB.
fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn start_server() -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/api/block",
                axum::routing::get(move || {
                    let counter = Arc::clone(&counter);
                    async move {
                        counter.fetch_add(1, Ordering::Relaxed);
                        axum::Json(json!({"result": "blocked"}))
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), hits)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let runs = arg("--runs", 10_000);
    let steps = arg("--steps", 10);
    let in_flight = arg("--in-flight", 256);
    let (port, hits) = start_server();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let mut config =
            RunnerConfig { egress: EgressPolicy::allowing(["127.0.0.1"]).unwrap(), ..RunnerConfig::default() };
        config.http.max_in_flight = in_flight;
        let records = Arc::new(AtomicUsize::new(0));
        let sink_count = Arc::clone(&records);
        let host = LocalHost::new(Runners::new(config).unwrap()).with_sink(Arc::new(move |_: &ExecutionRecord| {
            sink_count.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }));
        let engine = Arc::new(Engine::new(Arc::new(host), EngineConfig::default()));
        let pb = Arc::new(playbook(steps, port));
        // Warm-up run: first connection, lazy statics.
        let warm = engine.run(&pb, &BTreeMap::new(), &Cancellation::new()).await.unwrap();
        assert_eq!(warm.status, RunStatus::Completed, "warm-up run failed: {:?}", warm.status);
        let rss_before = memory_kib("VmRSS:");

        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..runs {
            let (engine, pb) = (Arc::clone(&engine), Arc::clone(&pb));
            tasks.spawn(async move {
                let t = Instant::now();
                let out = engine.run(&pb, &BTreeMap::new(), &Cancellation::new()).await;
                (t.elapsed(), out.map(|o| o.status))
            });
        }
        let mut latencies = Vec::with_capacity(runs);
        let mut failed = 0usize;
        let mut first_failure = None;
        while let Some(joined) = tasks.join_next().await {
            let (took, status) = joined.unwrap();
            latencies.push(took);
            match status {
                Ok(RunStatus::Completed) => {}
                other => {
                    failed += 1;
                    first_failure.get_or_insert(format!("{other:?}"));
                }
            }
        }
        let total = started.elapsed();
        latencies.sort();
        let executed = runs * steps;
        println!(
            "runs: {runs} concurrent executions of a {steps}-step http-api playbook (in-flight limit {in_flight})"
        );
        println!(
            "completed: {} failed: {failed}{}",
            runs - failed,
            first_failure.map(|f| format!(" (first: {f})")).unwrap_or_default()
        );
        println!("wall time: {:.2} s", total.as_secs_f64());
        #[allow(clippy::cast_precision_loss)]
        let rate = executed as f64 / total.as_secs_f64();
        println!(
            "http-api steps: {executed} ({rate:.0} steps/s); server saw {} requests",
            hits.load(Ordering::Relaxed)
        );
        println!(
            "per-run latency: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
            latencies.last().unwrap().as_secs_f64() * 1000.0
        );
        println!("records persisted (in memory, counted): {}", records.load(Ordering::Relaxed));
        println!(
            "RSS before the runs: {:.1} MiB; peak RSS (VmHWM): {:.1} MiB",
            rss_before as f64 / 1024.0,
            memory_kib("VmHWM:") as f64 / 1024.0
        );
    });
}
