//! Engine overhead per step with a no-op host: a playbook of N sequential
//! action steps, each running one command that returns immediately, and
//! records that are dropped. Divide the time per iteration by N + 2 steps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use muster_cacao::engine::{CommandFailure, CommandOutput, CommandRequest, ExecutionRecord, Host, HostError};
use muster_cacao::{Cancellation, Engine, EngineConfig, Playbook};
use serde_json::{Value, json};

struct NoopHost;

impl Host for NoopHost {
    async fn run_command(&self, _: CommandRequest) -> Result<CommandOutput, CommandFailure> {
        Ok(CommandOutput::default())
    }
    async fn manual_task(&self, _: CommandRequest) -> Result<CommandOutput, CommandFailure> {
        Ok(CommandOutput::default())
    }
    async fn persist(&self, _: &ExecutionRecord) -> Result<(), HostError> {
        Ok(())
    }
    async fn load_playbook(&self, _: &str, _: Option<&str>) -> Option<Playbook> {
        None
    }
}

fn id(kind: &str, n: usize) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012}")
}

fn playbook(actions: usize) -> Playbook {
    let agent = "individual--00000000-0000-4000-8000-0000000000aa";
    let mut wf = serde_json::Map::new();
    wf.insert(id("start", 0), json!({"type": "start", "on_completion": id("action", 1)}));
    for i in 1..=actions {
        let next = if i == actions { id("end", 999_999) } else { id("action", i + 1) };
        wf.insert(
            id("action", i),
            json!({"type": "action", "agent": agent, "on_completion": next,
                   "commands": [{"type": "bash", "command": "noop __host__:value"}]}),
        );
    }
    wf.insert(id("end", 999_999), json!({"type": "end"}));
    serde_json::from_value(json!({
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": "playbook--00000000-0000-4000-8000-000000000000", "name": "bench",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "playbook_variables": {"__host__": {"type": "string", "value": "ws-1"}},
        "workflow_start": id("start", 0), "workflow": Value::Object(wf),
        "agent_definitions": {agent: {"type": "individual", "name": "n"}}
    }))
    .unwrap()
}

fn engine_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let engine = Engine::new(Arc::new(NoopHost), EngineConfig::default());
    let inputs = BTreeMap::new();
    let mut group = c.benchmark_group("engine_sequential_steps");
    for actions in [10usize, 100] {
        let pb = playbook(actions);
        group.throughput(Throughput::Elements(actions as u64 + 2));
        group.bench_with_input(BenchmarkId::from_parameter(actions + 2), &pb, |b, pb| {
            b.to_async(&rt).iter(|| async {
                let out = engine.run(pb, &inputs, &Cancellation::new()).await.unwrap();
                assert_eq!(out.status, muster_cacao::RunStatus::Completed);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, engine_overhead);
criterion_main!(benches);
