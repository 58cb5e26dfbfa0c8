//! A real HTTP test server on 127.0.0.1 and a playbook builder for the runner tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use muster_cacao::engine::ExecutionRecord;
use muster_cacao::local::{LocalHost, ManualAnswers};
use muster_cacao::runners::{EgressPolicy, RunnerConfig, Runners};
use muster_cacao::{Cancellation, Engine, EngineConfig, Playbook, RunOutcome};
use serde_json::{Value, json};

pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cret-pw-0071";
pub const CLIENT_ID: &str = "muster";
pub const CLIENT_SECRET: &str = "client-secret-xyz-0042";
pub const ACCESS_TOKEN: &str = "tok-abc-123-fetched";
pub const STATIC_TOKEN: &str = "static-bearer-token-9";

/// Counts of what the server received.
#[derive(Default)]
pub struct Seen {
    pub requests: AtomicUsize,
    pub token_requests: AtomicUsize,
    pub last_openc2: Mutex<Option<(String, Value)>>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
}

impl TestServer {
    pub fn requests(&self) -> usize {
        self.seen.requests.load(Ordering::SeqCst)
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

fn basic(user: &str, pw: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}")))
}

fn auth_header(h: &HeaderMap) -> String {
    h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

async fn count(State(seen): State<Arc<Seen>>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    next.run(req).await
}

pub async fn start() -> TestServer {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route(
            "/api/item",
            get(|| async {
                (
                    [("x-request-id", "req-77")],
                    axum::Json(json!({"data": {"ip": "198.51.100.7", "count": 3, "tags": ["a", "b"]}})),
                )
            }),
        )
        .route("/api/fail", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "database on fire") }))
        .route("/api/missing", get(|| async { (StatusCode::NOT_FOUND, "no such item") }))
        .route("/api/text", get(|| async { "plain words" }))
        .route(
            "/api/basic",
            get(|h: HeaderMap| async move {
                if auth_header(&h) == basic(USER, PASSWORD) {
                    (StatusCode::OK, "welcome alice".to_owned())
                } else {
                    // A careless server that echoes what it was sent.
                    (StatusCode::FORBIDDEN, format!("refused credentials {}", auth_header(&h)))
                }
            }),
        )
        .route(
            "/api/echo-password",
            get(|| async { (StatusCode::FORBIDDEN, format!("wrong password {PASSWORD} for {USER}")) }),
        )
        .route(
            "/api/bearer",
            get(|h: HeaderMap| async move {
                let a = auth_header(&h);
                if a == format!("Bearer {ACCESS_TOKEN}") || a == format!("Bearer {STATIC_TOKEN}") {
                    (StatusCode::OK, "token accepted")
                } else {
                    (StatusCode::UNAUTHORIZED, "no token")
                }
            }),
        )
        .route(
            "/oauth/token",
            post(|State(seen): State<Arc<Seen>>, h: HeaderMap, body: String| async move {
                seen.token_requests.fetch_add(1, Ordering::SeqCst);
                if auth_header(&h) != basic(CLIENT_ID, CLIENT_SECRET) || !body.contains("grant_type=client_credentials")
                {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"})));
                }
                (
                    StatusCode::OK,
                    axum::Json(json!({"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600})),
                )
            }),
        )
        .route(
            "/api/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/redirect/metadata",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "http://169.254.169.254/latest/meta-data/")]) }),
        )
        .route(
            "/redirect/private",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "http://10.0.0.1/admin")]) }),
        )
        .route(
            "/openc2",
            post(|State(seen): State<Arc<Seen>>, h: HeaderMap, body: Bytes| async move {
                let ct = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let cmd: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                *seen.last_openc2.lock().unwrap() = Some((ct, cmd.clone()));
                let resp = if cmd["action"] == "deny" {
                    json!({"status": 200, "status_text": "denied", "results": {"rule": "r-1"}})
                } else {
                    json!({"status": 501, "status_text": "action not implemented"})
                };
                ([(header::CONTENT_TYPE, "application/openc2+json;version=1.0")], axum::Json(resp)).into_response()
            }),
        )
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&seen), count))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    TestServer { addr, seen }
}

pub const AGENT: &str = "http-api--00000000-0000-4000-8000-0000000000a1";
pub const AUTH: &str = "http-basic--00000000-0000-4000-8000-0000000000b1";

pub fn id(kind: &str, n: u32) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012}")
}

/// A playbook: start → the given `steps` (the first is `action--…2`) → end `end--…9`.
/// `extra` is merged into the top level (agents, auth infos, variables…).
pub fn playbook(steps: Vec<(String, Value)>, extra: Value) -> Playbook {
    let mut workflow: serde_json::Map<String, Value> = steps.into_iter().collect();
    workflow.insert(id("start", 1), json!({"type": "start", "on_completion": id("action", 2)}));
    workflow.insert(id("end", 9), json!({"type": "end"}));
    let mut doc = json!({
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": "playbook--00000000-0000-4000-8000-000000000001", "name": "runner test",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "workflow_start": id("start", 1),
        "workflow": workflow,
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    let (pb, report) =
        muster_cacao::validate::parse(&serde_json::to_vec(&doc).unwrap(), &muster_cacao::validate::Options::default())
            .unwrap_or_else(|r| panic!("test playbook invalid: {:#?}", r.errors));
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    pb
}

/// An `http-api` agent at the test server (127.0.0.1:port), optionally with authentication info.
pub fn agent(port: u16, auth: Option<&str>) -> Value {
    let mut a =
        json!({"type": "http-api", "name": "test api", "address": {"ipv4": ["127.0.0.1"]}, "port": port.to_string()});
    if let Some(auth) = auth {
        a["authentication_info"] = json!(auth);
    }
    json!({ AGENT: a })
}

/// An action step with one command, going to `next` on success (a failure is unhandled).
pub fn step(command: Value, next: &str) -> Value {
    json!({"type": "action", "agent": AGENT, "commands": [command], "on_success": next})
}

pub fn http(line: &str) -> Value {
    json!({"type": "http-api", "command": line})
}

/// Runner configuration allowing the test server's address only.
pub fn allow_local() -> RunnerConfig {
    RunnerConfig { egress: EgressPolicy::allowing(["127.0.0.1"]).unwrap(), ..RunnerConfig::default() }
}

/// The records a run persisted, in order.
#[derive(Clone, Default)]
pub struct Records(pub Arc<Mutex<Vec<ExecutionRecord>>>);

impl Records {
    pub fn all(&self) -> Vec<ExecutionRecord> {
        self.0.lock().unwrap().clone()
    }
    /// The final record of `step`.
    pub fn last_of(&self, step: &str) -> ExecutionRecord {
        self.all().into_iter().rev().find(|r| r.workflow_step == step).unwrap_or_else(|| panic!("no record of {step}"))
    }
    /// Every record as its JSON line.
    pub fn lines(&self) -> Vec<String> {
        self.all().iter().map(|r| muster_cacao::local::json_line(r).unwrap()).collect()
    }
}

pub fn host(config: RunnerConfig, manual: ManualAnswers) -> (LocalHost, Records) {
    let records = Records::default();
    let sink = Arc::clone(&records.0);
    let host = LocalHost::new(Runners::new(config).unwrap()).with_manual_answers(manual).with_sink(Arc::new(
        move |r: &ExecutionRecord| {
            sink.lock().unwrap().push(r.clone());
            Ok(())
        },
    ));
    (host, records)
}

pub async fn run_with(config: RunnerConfig, pb: &Playbook) -> (RunOutcome, Records) {
    run_full(config, pb, BTreeMap::new(), BTreeMap::new()).await
}

pub async fn run_full(
    config: RunnerConfig,
    pb: &Playbook,
    inputs: BTreeMap<String, Value>,
    manual: ManualAnswers,
) -> (RunOutcome, Records) {
    let (host, records) = host(config, manual);
    let engine = Engine::new(Arc::new(host), EngineConfig::default());
    let out = engine.run(pb, &inputs, &Cancellation::new()).await.unwrap();
    (out, records)
}

/// The current value of playbook variable `name` after a run.
pub fn var(out: &RunOutcome, name: &str) -> Value {
    out.variables.get(name).and_then(|v| v.value.clone()).unwrap_or(Value::Null)
}

/// A playbook variable declaration of `kind` with no value yet.
pub fn declare(kind: &str) -> Value {
    json!({"type": kind})
}
