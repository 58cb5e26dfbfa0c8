//! Playbook pages: the library (import, proposals, open tasks), a playbook
//! (metadata, steps, versions, start-run form, its runs), run history, a run
//! with live step status and manual step forms, and automation rules. Every
//! handler goes through the API handlers, so roles and the gate are the API's.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use muster_core::Role;
use serde_json::Value;

use super::{Nav, PageResult, UiPrincipal, render};
use crate::api::playbooks as api;
use crate::error::{AppError, Form, Json, Path, Query};
use crate::state::AppState;

fn field(pairs: &[(String, String)], k: &str) -> String {
    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default()
}

#[derive(askama::Template)]
#[template(path = "playbooks.html")]
struct LibraryPage {
    nav: Nav,
    rows: Vec<api::PlaybookView>,
    proposals: Vec<api::ProposalView>,
    tasks: Vec<api::TaskView>,
    can_manage: bool,
    error: Option<String>,
    errors: Vec<(String, String)>,
}

async fn library_view(
    state: &AppState,
    ui: &UiPrincipal,
    error: Option<String>,
    errors: Vec<(String, String)>,
) -> PageResult {
    let p = &ui.0;
    let rows = api::list(State(state.clone()), p.clone(), Query(api::ListQuery { archived: false })).await?.0;
    let proposals =
        api::list_proposals(State(state.clone()), p.clone(), Query(api::ProposalsQuery { incident_id: None }))
            .await?
            .0
            .into_iter()
            .filter(|x| x.status == "pending")
            .collect();
    let tasks = api::list_tasks(State(state.clone()), p.clone()).await?.0;
    let failed = error.is_some();
    let page = LibraryPage {
        rows,
        proposals,
        tasks,
        can_manage: p.role.at_least(Role::Coordinator),
        error,
        errors,
        nav: ui.nav(state, "playbooks").await,
    };
    let mut resp = render(&page);
    if failed {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /playbooks`.
pub async fn library(State(state): State<AppState>, ui: UiPrincipal) -> PageResult {
    library_view(&state, &ui, None, Vec::new()).await
}

/// `POST /playbooks`: import the pasted (or file-loaded) document.
pub async fn import(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ui.check_csrf(&field(&pairs, "_csrf"))?;
    ui.0.require(Role::Coordinator)?;
    let doc = field(&pairs, "document");
    let sealer = state.playbooks.sealer()?;
    match crate::playbooks::library::prepare(doc.as_bytes(), ui.0.org.id, &ui.0.actor(), sealer) {
        Ok(prepared) => match state.store.import_playbook_version(&prepared.version).await {
            Ok(row) => Ok(Redirect::to(&format!("/playbooks/{}", row.playbook_id)).into_response()),
            Err(e) => library_view(&state, &ui, Some(AppError::from(e).to_string()), Vec::new()).await,
        },
        Err(crate::playbooks::library::ImportError::Invalid(report)) => {
            let errors = report.errors.iter().map(|e| (e.path.clone(), e.message.clone())).collect();
            library_view(&state, &ui, Some("The playbook is invalid; nothing was imported.".into()), errors).await
        }
    }
}

#[derive(askama::Template)]
#[template(path = "playbook.html")]
struct PlaybookPage {
    nav: Nav,
    pb: api::PlaybookDetail,
    runs: Vec<api::RunView>,
    incidents: Vec<(String, String)>,
    can_run: bool,
    can_manage: bool,
    error: Option<String>,
    /// The workflow drawn as SVG (muster_cacao::graph), escaped there; empty when it cannot be read.
    graph: String,
}

async fn playbook_view(state: &AppState, ui: &UiPrincipal, id: String, error: Option<String>) -> PageResult {
    let p = &ui.0;
    let pb = api::get_one(State(state.clone()), p.clone(), Path(id.clone())).await?.0;
    // get_one passed the access gate for this id; draw the newest version it showed.
    let graph = state
        .store
        .playbook_versions(p.org.id, &id)
        .await?
        .iter()
        .find(|v| v.modified == pb.latest.modified)
        .and_then(|v| crate::playbooks::library::parse_stored(v).ok())
        .map(|model| muster_cacao::graph::to_svg(&model))
        .unwrap_or_default();
    let runs = api::list_runs(
        State(state.clone()),
        p.clone(),
        Query(api::RunsQuery { playbook_id: Some(id), incident_id: None, limit: Some(50) }),
    )
    .await?
    .0;
    let incidents = state
        .store
        .list_incidents(p.org.id, 200)
        .await?
        .into_iter()
        .filter(|i| i.org == p.org.id)
        .map(|i| (i.id, i.title))
        .collect();
    let failed = error.is_some();
    let page = PlaybookPage {
        pb,
        runs,
        incidents,
        can_run: p.role.at_least(Role::Analyst),
        can_manage: p.role.at_least(Role::Coordinator),
        error,
        graph,
        nav: ui.nav(state, "playbooks").await,
    };
    let mut resp = render(&page);
    if failed {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /playbooks/{id}`.
pub async fn playbook(State(state): State<AppState>, ui: UiPrincipal, Path(id): Path<String>) -> PageResult {
    playbook_view(&state, &ui, id, None).await
}

/// `POST /playbooks/{id}/runs`: start a run with the form's `var.__name__` fields.
pub async fn start_run(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ui.check_csrf(&field(&pairs, "_csrf"))?;
    let variables: BTreeMap<String, Value> =
        pairs.iter().filter_map(|(k, v)| k.strip_prefix("var.").map(|n| (n.to_owned(), form_value(v)))).collect();
    let incident = field(&pairs, "incident_id");
    let body = api::StartBody { variables, incident_id: Some(incident).filter(|i| !i.is_empty()), modified: None };
    match api::start_run(State(state.clone()), ui.0.clone(), Path(id.clone()), Json(body)).await {
        Ok((_, run)) => Ok(Redirect::to(&format!("/playbook-runs/{}", run.0.id)).into_response()),
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_) | AppError::Unavailable(_))) => {
            playbook_view(&state, &ui, id, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A form value as JSON: JSON when it parses as a number, boolean, object or array; text otherwise.
fn form_value(v: &str) -> Value {
    match serde_json::from_str::<Value>(v) {
        Ok(j @ (Value::Number(_) | Value::Bool(_) | Value::Object(_) | Value::Array(_))) => j,
        _ => Value::String(v.to_owned()),
    }
}

/// `POST /playbooks/{id}/archive`.
pub async fn archive(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ui.check_csrf(&field(&pairs, "_csrf"))?;
    api::archive(State(state), ui.0.clone(), Path(id)).await?;
    Ok(Redirect::to("/playbooks").into_response())
}

#[derive(askama::Template)]
#[template(path = "playbook_runs.html")]
struct RunsPage {
    nav: Nav,
    runs: Vec<api::RunView>,
}

/// `GET /playbook-runs`: run history.
pub async fn runs(State(state): State<AppState>, ui: UiPrincipal, Query(q): Query<api::RunsQuery>) -> PageResult {
    let runs = api::list_runs(State(state.clone()), ui.0.clone(), Query(q)).await?.0;
    Ok(render(&RunsPage { runs, nav: ui.nav(&state, "playbooks").await }))
}

/// One step record, for the run page.
struct RecordLine {
    step: String,
    status: String,
    start: String,
    duration: String,
    text: String,
    automated: bool,
}

#[derive(askama::Template)]
#[template(path = "playbook_run.html")]
struct RunPage {
    nav: Nav,
    run: api::RunView,
    records: Vec<RecordLine>,
    tasks: Vec<api::TaskView>,
    variables: String,
    signature: String,
    can_work: bool,
    error: Option<String>,
}

async fn run_view(state: &AppState, ui: &UiPrincipal, id: &str, error: Option<String>) -> PageResult {
    let d = api::run_detail(state, &ui.0, id).await?;
    let records = d
        .records
        .iter()
        .map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            RecordLine {
                step: s("workflow_step"),
                status: s("status"),
                start: s("start_time"),
                duration: r.get("duration").and_then(Value::as_u64).map(|d| format!("{d} ms")).unwrap_or_default(),
                text: s("status_text"),
                automated: r.get("automated_execution").and_then(Value::as_bool).unwrap_or(true),
            }
        })
        .collect::<Vec<_>>();
    let signature = format!(
        "{}:{}:{}",
        d.run.status,
        d.records.iter().filter_map(|r| r.get("status").and_then(Value::as_str)).collect::<Vec<_>>().join(","),
        d.tasks.iter().map(|t| t.status.as_str()).collect::<Vec<_>>().join(",")
    );
    let failed = error.is_some();
    let page = RunPage {
        variables: serde_json::to_string_pretty(&d.run.variables).unwrap_or_default(),
        run: d.run,
        records,
        tasks: d.tasks,
        signature,
        can_work: ui.0.role.at_least(Role::Analyst),
        error,
        nav: ui.nav(state, "playbooks").await,
    };
    let mut resp = render(&page);
    if failed {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /playbook-runs/{id}`.
pub async fn run(State(state): State<AppState>, ui: UiPrincipal, Path(id): Path<String>) -> PageResult {
    run_view(&state, &ui, &id, None).await
}

/// `POST /playbook-runs/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ui.check_csrf(&field(&pairs, "_csrf"))?;
    match api::cancel_run(State(state.clone()), ui.0.clone(), Path(id.clone())).await {
        Ok(_) => Ok(Redirect::to(&format!("/playbook-runs/{id}")).into_response()),
        Err(e @ AppError::Conflict(_)) => run_view(&state, &ui, &id, Some(e.to_string())).await,
        Err(e) => Err(e.into()),
    }
}

/// `POST /playbook-tasks/{id}/complete`: the manual step form (`out.__name__` fields).
pub async fn complete_task(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ui.check_csrf(&field(&pairs, "_csrf"))?;
    let out_args: BTreeMap<String, Value> =
        pairs.iter().filter_map(|(k, v)| k.strip_prefix("out.").map(|n| (n.to_owned(), form_value(v)))).collect();
    let task = api::visible_task(&state, &ui.0, &id).await?;
    let body = api::CompleteBody { out_args };
    match api::complete_task(State(state.clone()), ui.0.clone(), Path(id), Json(body)).await {
        Ok(_) => Ok(Redirect::to(&format!("/playbook-runs/{}", task.run_id)).into_response()),
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_))) => {
            run_view(&state, &ui, &task.run_id, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(askama::Template)]
#[template(path = "automation.html")]
struct RulesPage {
    nav: Nav,
    rules: Vec<api::RuleView>,
    playbooks: Vec<(String, String)>,
    proposals: Vec<api::ProposalView>,
    can_manage: bool,
    triggers: &'static [&'static str],
    modes: &'static [&'static str],
    severities: &'static [&'static str],
    error: Option<String>,
}

async fn rules_view(state: &AppState, ui: &UiPrincipal, error: Option<String>) -> PageResult {
    let p = &ui.0;
    let rules = api::list_rules(State(state.clone()), p.clone()).await?.0;
    let playbooks = api::list(State(state.clone()), p.clone(), Query(api::ListQuery { archived: false }))
        .await?
        .0
        .into_iter()
        .map(|v| (v.latest.playbook_id, v.latest.name))
        .collect();
    let proposals =
        api::list_proposals(State(state.clone()), p.clone(), Query(api::ProposalsQuery { incident_id: None })).await?.0;
    let failed = error.is_some();
    let page = RulesPage {
        rules,
        playbooks,
        proposals,
        can_manage: p.role.at_least(Role::Coordinator),
        triggers: crate::playbooks::automation::TRIGGERS,
        modes: crate::playbooks::automation::MODES,
        severities: crate::api::incidents::SEVERITIES,
        error,
        nav: ui.nav(state, "playbooks").await,
    };
    let mut resp = render(&page);
    if failed {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /automation`.
pub async fn rules(State(state): State<AppState>, ui: UiPrincipal) -> PageResult {
    rules_view(&state, &ui, None).await
}

fn list_field(pairs: &[(String, String)], k: &str) -> Vec<String> {
    let mut out: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| n == k)
        .flat_map(|(_, v)| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>())
        .collect();
    out.dedup();
    out
}

/// `POST /automation`: create a rule. Variables are `__name__=source` lines.
pub async fn create_rule(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ui.check_csrf(&field(&pairs, "_csrf"))?;
    let mut variables = BTreeMap::new();
    for line in field(&pairs, "variables").lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((k, v)) => {
                variables.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            None => return rules_view(&state, &ui, Some(format!("variables: {line:?} is not NAME=SOURCE"))).await,
        }
    }
    let body = api::CreateRule {
        name: field(&pairs, "name"),
        trigger: field(&pairs, "trigger"),
        conditions: crate::playbooks::automation::Conditions {
            severities: list_field(&pairs, "severities"),
            rsit_types: list_field(&pairs, "rsit_types"),
            sources: list_field(&pairs, "sources"),
            observable_kinds: list_field(&pairs, "observable_kinds"),
        },
        playbook_id: field(&pairs, "playbook_id"),
        mode: field(&pairs, "mode"),
        variables,
        enabled: true,
    };
    match api::create_rule_for(&state, &ui.0, body).await {
        Ok(_) => Ok(Redirect::to("/automation").into_response()),
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_))) => {
            rules_view(&state, &ui, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /automation/{id}/enabled`: turn a rule on or off (`enabled` = true/false).
pub async fn toggle_rule(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ui.check_csrf(&field(&pairs, "_csrf"))?;
    let enabled = field(&pairs, "enabled") == "true";
    api::patch_rule(State(state), ui.0.clone(), Path(id), Json(api::PatchRule { enabled })).await?;
    Ok(Redirect::to("/automation").into_response())
}

/// `POST /automation-proposals/{id}/start`.
pub async fn start_proposal(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ui.check_csrf(&field(&pairs, "_csrf"))?;
    let run = api::start_proposal(&state, &ui.0, &id).await?;
    Ok(Redirect::to(&format!("/playbook-runs/{}", run.id)).into_response())
}

/// `POST /automation-proposals/{id}/dismiss`.
pub async fn dismiss_proposal(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ui.check_csrf(&field(&pairs, "_csrf"))?;
    api::dismiss(State(state), ui.0.clone(), Path(id)).await?;
    Ok(Redirect::to("/playbooks").into_response())
}
