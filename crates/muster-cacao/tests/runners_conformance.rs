//! Runner conformance: our own playbooks run through `LocalHost` against a real
//! HTTP server on 127.0.0.1 (allowed explicitly by the egress policy): branches,
//! out-args, authentication, timeouts, SSRF refusals, redaction, PAP, bash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod runner_env;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use muster_cacao::RunStatus;
use muster_cacao::engine::ExecutionStatus;
use muster_cacao::runners::{EgressPolicy, MUSTER_EXTENSION, RunnerConfig, StaticResolver};
use muster_core::Pap;
use runner_env::*;
use serde_json::{Value, json};

fn ext(out: Value) -> Value {
    json!({ MUSTER_EXTENSION: { "out_args": out } })
}

fn ext_def() -> Value {
    json!({ MUSTER_EXTENSION: {
        "type": "extension-definition", "name": "muster runner settings",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "schema": "https://example.invalid/muster-runner-extension.json", "version": "1.0.0"
    }})
}

fn decoded(b64: &str) -> String {
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap()
}

#[tokio::test]
async fn http_get_captures_status_headers_body_and_json_paths_into_out_args() {
    let server = start().await;
    let mut s = step(http("GET /api/item HTTP/1.1"), &id("end", 9));
    s["out_args"] = json!(["__http_status__", "__http_body__", "__ip__", "__count__", "__req__", "__tags__"]);
    s["step_extensions"] = ext(
        json!({"__ip__": "$.data.ip", "__count__": "$.data.count", "__req__": "header:X-Request-Id", "__tags__": "$.data.tags[*]"}),
    );
    let pb = playbook(
        vec![(id("action", 2), s)],
        json!({
            "agent_definitions": agent(server.port(), None),
            "extension_definitions": ext_def(),
            "playbook_variables": {
                "__http_status__": declare("integer"), "__http_body__": declare("string"),
                "__ip__": declare("ipv4-addr"), "__count__": declare("integer"),
                "__req__": declare("string"), "__tags__": declare("string")
            }
        }),
    );
    let (out, records) = run_with(allow_local(), &pb).await;
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(var(&out, "__http_status__"), json!("200"));
    assert_eq!(var(&out, "__ip__"), json!("198.51.100.7"));
    assert_eq!(var(&out, "__count__"), json!("3"));
    assert_eq!(var(&out, "__req__"), json!("req-77"));
    assert_eq!(var(&out, "__tags__"), json!(r#"["a","b"]"#));
    assert!(var(&out, "__http_body__").as_str().unwrap().contains("198.51.100.7"));
    let rec = records.last_of(&id("action", 2));
    assert_eq!(rec.status, ExecutionStatus::SuccessfullyCompleted);
    assert_eq!(decoded(&rec.command_b64[0]), "GET /api/item HTTP/1.1");
    assert!(rec.automated_execution);
}

#[tokio::test]
async fn server_and_client_errors_take_the_failure_branch_with_their_status() {
    let server = start().await;
    for (path, status) in
        [("/api/fail", ExecutionStatus::ServerSideError), ("/api/missing", ExecutionStatus::ClientSideError)]
    {
        let mut s = step(http(&format!("GET {path} HTTP/1.1")), "");
        s["on_success"] = json!(id("end", 9));
        s["on_failure"] = json!(id("action", 3));
        let cleanup = step(http("GET /api/text HTTP/1.1"), &id("end", 9));
        let pb = playbook(
            vec![(id("action", 2), s), (id("action", 3), cleanup)],
            json!({"agent_definitions": agent(server.port(), None)}),
        );
        let (out, records) = run_with(allow_local(), &pb).await;
        assert_eq!(out.status, RunStatus::Completed, "the failure branch handles it");
        let rec = records.last_of(&id("action", 2));
        assert_eq!(rec.status, status);
        assert!(rec.status_text.as_deref().unwrap().contains("answered HTTP"), "{:?}", rec.status_text);
        assert_eq!(records.last_of(&id("action", 3)).status, ExecutionStatus::SuccessfullyCompleted);
    }
}

#[tokio::test]
async fn a_json_path_over_a_non_json_body_fails_the_step_and_says_why() {
    let server = start().await;
    let mut s = step(http("GET /api/text HTTP/1.1"), &id("end", 9));
    s["out_args"] = json!(["__x__"]);
    s["step_extensions"] = ext(json!({"__x__": "$.a"}));
    let pb = playbook(
        vec![(id("action", 2), s)],
        json!({"agent_definitions": agent(server.port(), None), "extension_definitions": ext_def(),
               "playbook_variables": {"__x__": declare("string")}}),
    );
    let (out, records) = run_with(allow_local(), &pb).await;
    assert!(matches!(out.status, RunStatus::Failed(_)));
    let text = records.last_of(&id("action", 2)).status_text.unwrap();
    assert!(text.contains("__x__") && text.contains("not JSON"), "{text}");
}

fn basic_auth_playbook(port: u16, path: &str, password: &str) -> muster_cacao::Playbook {
    playbook(
        vec![(id("action", 2), step(http(&format!("GET {path} HTTP/1.1")), &id("end", 9)))],
        json!({
            "agent_definitions": agent(port, Some(AUTH)),
            "authentication_info_definitions": {AUTH: {"type": "http-basic", "user_id": USER, "password": "__pw__:value"}},
            "playbook_variables": {"__pw__": {"type": "string", "value": password}}
        }),
    )
}

#[tokio::test]
async fn http_basic_credentials_are_sent_from_the_agents_authentication_info() {
    let server = start().await;
    let (out, records) = run_with(allow_local(), &basic_auth_playbook(server.port(), "/api/basic", PASSWORD)).await;
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(records.last_of(&id("action", 2)).status, ExecutionStatus::SuccessfullyCompleted);
}

#[tokio::test]
async fn secrets_echoed_by_a_server_are_redacted_in_every_record() {
    let server = start().await;
    for path in ["/api/echo-password", "/api/basic"] {
        // A wrong password makes /api/basic echo the whole Authorization header back.
        let pw = if path == "/api/basic" { "wrong-but-secret-55" } else { PASSWORD };
        let (out, records) = run_with(allow_local(), &basic_auth_playbook(server.port(), path, pw)).await;
        assert!(matches!(out.status, RunStatus::Failed(_)));
        let text = records.last_of(&id("action", 2)).status_text.unwrap();
        assert!(text.contains("[REDACTED]"), "{text}");
        for line in records.lines() {
            assert!(!line.contains(pw), "secret leaked: {line}");
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{pw}"));
            assert!(!line.contains(&b64), "encoded secret leaked: {line}");
        }
        let RunStatus::Failed(message) = out.status else { unreachable!() };
        assert!(!message.contains(pw), "{message}");
    }
}

#[tokio::test]
async fn a_secret_pasted_into_a_command_line_is_redacted_in_the_record() {
    let server = start().await;
    let pb = playbook(
        vec![(id("action", 2), step(http("GET /api/basic?pw=__pw__:value HTTP/1.1"), &id("end", 9)))],
        json!({
            "agent_definitions": agent(server.port(), Some(AUTH)),
            "authentication_info_definitions": {AUTH: {"type": "http-basic", "user_id": USER, "password": "__pw__:value"}},
            "playbook_variables": {"__pw__": {"type": "string", "value": PASSWORD}}
        }),
    );
    let (_, records) = run_with(allow_local(), &pb).await;
    let rec = records.last_of(&id("action", 2));
    assert_eq!(decoded(&rec.command_b64[0]), "GET /api/basic?pw=[REDACTED] HTTP/1.1");
    assert!(records.lines().iter().all(|l| !l.contains(PASSWORD)));
}

fn oauth_playbook(port: u16, auth: Value) -> muster_cacao::Playbook {
    let oauth = "oauth2--00000000-0000-4000-8000-0000000000b2";
    playbook(
        vec![
            (id("action", 2), step(http("GET /api/bearer HTTP/1.1"), &id("action", 3))),
            (id("action", 3), step(http("GET /api/bearer HTTP/1.1"), &id("end", 9))),
        ],
        json!({"agent_definitions": agent(port, Some(oauth)), "authentication_info_definitions": {oauth: auth},
               "extension_definitions": ext_def()}),
    )
}

#[tokio::test]
async fn oauth2_client_credentials_fetch_one_token_and_send_it_as_bearer() {
    let server = start().await;
    let auth = json!({
        "type": "oauth2", "oauth_header": "Authorization", "token": CLIENT_SECRET,
        "authentication_info_extensions": {MUSTER_EXTENSION: {
            "token_url": format!("http://127.0.0.1:{}/oauth/token", server.port()), "client_id": CLIENT_ID, "scope": "fw.write"
        }}
    });
    let (out, records) = run_with(allow_local(), &oauth_playbook(server.port(), auth)).await;
    assert_eq!(out.status, RunStatus::Completed, "{:?}", records.all());
    assert_eq!(server.seen.token_requests.load(Ordering::SeqCst), 1, "the token is cached between steps");
    for line in records.lines() {
        assert!(!line.contains(CLIENT_SECRET) && !line.contains(ACCESS_TOKEN), "{line}");
    }
}

#[tokio::test]
async fn oauth2_with_a_static_token_sends_it_as_bearer_and_a_wrong_one_fails() {
    let server = start().await;
    for (token, ok) in [(STATIC_TOKEN, true), ("not-the-token", false)] {
        let auth = json!({"type": "oauth2", "oauth_header": "Authorization", "token": token});
        let (out, records) = run_with(allow_local(), &oauth_playbook(server.port(), auth)).await;
        assert_eq!(out.status == RunStatus::Completed, ok, "{:?}", records.all());
        if !ok {
            assert_eq!(records.last_of(&id("action", 2)).status, ExecutionStatus::ClientSideError);
        }
    }
}

#[tokio::test]
async fn a_step_timeout_stops_a_slow_request_with_timeout_error() {
    let server = start().await;
    let mut s = step(http("GET /api/slow HTTP/1.1"), &id("end", 9));
    s["timeout"] = json!(300);
    let pb = playbook(vec![(id("action", 2), s)], json!({"agent_definitions": agent(server.port(), None)}));
    let started = std::time::Instant::now();
    let (out, records) = run_with(allow_local(), &pb).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(out.status, RunStatus::Failed(_)));
    assert_eq!(records.last_of(&id("action", 2)).status, ExecutionStatus::TimeoutError);
}

#[tokio::test]
async fn the_runner_timeout_applies_when_the_step_has_none() {
    let server = start().await;
    let pb = playbook(
        vec![(id("action", 2), step(http("GET /api/slow HTTP/1.1"), &id("end", 9)))],
        json!({"agent_definitions": agent(server.port(), None)}),
    );
    let mut config = allow_local();
    config.http.timeout = Duration::from_millis(300);
    let (_, records) = run_with(config, &pb).await;
    let rec = records.last_of(&id("action", 2));
    assert_eq!(rec.status, ExecutionStatus::TimeoutError, "{:?}", rec.status_text);
}

/// A playbook whose one step calls `url` (absolute request target).
fn call(url: &str) -> muster_cacao::Playbook {
    playbook(
        vec![(id("action", 2), step(http(&format!("GET {url} HTTP/1.1")), &id("end", 9)))],
        json!({
            "agent_definitions": {AGENT: {"type": "http-api", "name": "any", "address": {"dname": ["example.invalid"]}}}
        }),
    )
}

async fn refusal(config: RunnerConfig, url: &str) -> String {
    let (out, records) = run_with(config, &call(url)).await;
    assert!(matches!(out.status, RunStatus::Failed(_)), "{url} must not succeed");
    let rec = records.last_of(&id("action", 2));
    assert_eq!(rec.status, ExecutionStatus::ClientSideError);
    rec.status_text.unwrap()
}

#[tokio::test]
async fn ssrf_to_the_metadata_address_is_refused_even_with_a_wildcard_allow_list() {
    for allow in [vec!["127.0.0.1"], vec!["*"]] {
        let config = RunnerConfig { egress: EgressPolicy::allowing(allow).unwrap(), ..RunnerConfig::default() };
        for url in
            ["http://169.254.169.254/latest/meta-data/", "http://2852039166/", "http://[::ffff:169.254.169.254]/"]
        {
            let text = refusal(config.clone(), url).await;
            assert!(text.contains("egress policy refused"), "{text}");
        }
    }
}

#[tokio::test]
async fn private_addresses_are_refused_unless_their_network_is_allowed() {
    let text = refusal(
        RunnerConfig { egress: EgressPolicy::allowing(["*"]).unwrap(), ..RunnerConfig::default() },
        "http://10.0.0.1/",
    )
    .await;
    assert!(text.contains("private"), "{text}");
    let text = refusal(RunnerConfig::default(), "http://[fe80::1]/").await;
    assert!(text.contains("link-local"), "{text}");
}

#[tokio::test]
async fn an_allowed_name_that_resolves_to_a_refused_address_never_connects() {
    let server = start().await;
    let answers: BTreeMap<String, Vec<IpAddr>> = [
        ("metadata.test".to_owned(), vec!["169.254.169.254".parse().unwrap()]),
        // The name resolves to the live test server: a connection would be counted.
        ("rebind.test".to_owned(), vec!["127.0.0.1".parse().unwrap()]),
    ]
    .into_iter()
    .collect();
    let config = RunnerConfig {
        egress: EgressPolicy::allowing(["metadata.test", "rebind.test"]).unwrap(),
        resolver: Arc::new(StaticResolver(answers)),
        ..RunnerConfig::default()
    };
    let text = refusal(config.clone(), "http://metadata.test/latest/").await;
    assert!(text.contains("resolved to 169.254.169.254"), "{text}");
    let text = refusal(config, &format!("http://rebind.test:{}/api/item", server.port())).await;
    assert!(text.contains("loopback"), "{text}");
    assert_eq!(server.requests(), 0, "no request reached the server");
}

#[tokio::test]
async fn redirects_to_the_metadata_or_a_private_address_are_refused() {
    let server = start().await;
    for (path, what) in [("/redirect/metadata", "169.254.169.254"), ("/redirect/private", "10.0.0.1")] {
        let before = server.requests();
        let text = refusal(allow_local(), &format!("http://127.0.0.1:{}{path}", server.port())).await;
        assert!(text.contains("egress policy refused") && text.contains(what), "{text}");
        assert_eq!(server.requests(), before + 1, "only the first request was made");
    }
}

#[tokio::test]
async fn a_host_missing_from_the_allow_list_is_refused_before_connecting() {
    let server = start().await;
    let text = refusal(RunnerConfig::default(), &format!("http://127.0.0.1:{}/api/item", server.port())).await;
    assert!(text.contains("127.0.0.1"), "{text}");
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn openc2_is_posted_as_openc2_json_and_a_failing_consumer_status_fails_the_step() {
    let server = start().await;
    for (action, ok) in [("deny", true), ("contain", false)] {
        let cmd = json!({"action": action, "target": {"ipv4_net": "__ip__:value"}});
        let b64 = base64::engine::general_purpose::STANDARD.encode(cmd.to_string());
        let command = json!({"type": "openc2-http", "command": "POST /openc2 HTTP/1.1", "content_b64": b64});
        let mut s = step(command, &id("end", 9));
        s["out_args"] = json!(["__rule__"]);
        s["step_extensions"] = ext(json!({"__rule__": "$.results.rule"}));
        let pb = playbook(
            vec![(id("action", 2), s)],
            json!({"agent_definitions": agent(server.port(), None), "extension_definitions": ext_def(),
                   "playbook_variables": {"__ip__": {"type": "ipv4-addr", "value": "203.0.113.9"}, "__rule__": declare("string")}}),
        );
        let (out, records) = run_with(allow_local(), &pb).await;
        let (ct, sent) = server.seen.last_openc2.lock().unwrap().clone().unwrap();
        assert!(ct.starts_with("application/openc2+json"), "{ct}");
        assert_eq!(sent["target"]["ipv4_net"], "203.0.113.9");
        if ok {
            assert_eq!(out.status, RunStatus::Completed);
            assert_eq!(var(&out, "__rule__"), json!("r-1"));
        } else {
            let rec = records.last_of(&id("action", 2));
            assert_eq!(rec.status, ExecutionStatus::ServerSideError);
            assert!(rec.status_text.unwrap().contains("501"));
        }
    }
}

#[tokio::test]
async fn a_step_acting_on_a_pap_amber_or_red_value_is_refused_and_recorded() {
    let server = start().await;
    for (pap, refused) in [(Pap::Amber, true), (Pap::Red, true), (Pap::Green, false)] {
        let pb = playbook(
            vec![(id("action", 2), step(http("GET /api/item?block=__ip__:value HTTP/1.1"), &id("end", 9)))],
            json!({"agent_definitions": agent(server.port(), None),
                   "playbook_variables": {"__ip__": {"type": "ipv4-addr", "value": "198.51.100.7"}}}),
        );
        let mut config = allow_local();
        config.pap = Some(Arc::new(move |v: &str| (v == "198.51.100.7").then_some(pap)));
        let before = server.requests();
        let (out, records) = run_with(config, &pb).await;
        let rec = records.last_of(&id("action", 2));
        if refused {
            assert!(matches!(out.status, RunStatus::Failed(_)));
            let text = rec.status_text.unwrap();
            assert!(text.contains("refused by PAP") && text.contains(&pap.to_string()), "{text}");
            assert_eq!(server.requests(), before, "nothing was sent");
        } else {
            assert_eq!(rec.status, ExecutionStatus::SuccessfullyCompleted);
        }
    }
}

#[tokio::test]
async fn an_unknown_or_unbuilt_command_type_fails_its_step_with_a_clear_message() {
    for (kind, expect) in
        [("powershell", "no runner configured"), ("x-acme-tool", "'x-acme-tool'"), ("ssh", "no ssh agent or target")]
    {
        let pb = playbook(
            vec![(id("action", 2), step(json!({"type": kind, "command": "do it"}), &id("end", 9)))],
            json!({"agent_definitions": agent(1, None)}),
        );
        let (out, records) = run_with(allow_local(), &pb).await;
        assert!(matches!(out.status, RunStatus::Failed(_)));
        let text = records.last_of(&id("action", 2)).status_text.unwrap();
        assert!(text.contains(expect), "{kind}: {text}");
    }
}
