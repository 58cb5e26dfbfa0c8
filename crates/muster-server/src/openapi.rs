//! The OpenAPI 3 document (`/api/v1/openapi.json`) and a server-rendered page
//! listing every operation (`/api/docs`), with no JavaScript and no CDN.

use axum::response::IntoResponse;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(title = "Muster API", description = "Joint cyber-incident coordination and response platform. \
        Authenticate with `Authorization: Bearer <token>` (create one with `muster token create`) \
        or a browser session plus the `X-CSRF-Token` header for writes. \
        Errors are `{\"error\": {\"code\", \"message\"}}`."),
    paths(
        api::me::get_me, api::me::switch_org, api::me::logout,
        api::orgs::list, api::orgs::get_one, api::orgs::create,
        api::users::list, api::users::get_one, api::users::create, api::users::update,
        api::users::set_password, api::users::add_membership,
        api::tokens::list, api::tokens::get_one, api::tokens::create, api::tokens::revoke,
        api::circles::list, api::circles::get_one, api::circles::create,
        api::circles::add_member, api::circles::remove_member,
        api::audit::list, api::audit::verify,
        api::alerts::ingest, api::events::ingest, api::alerts::list, api::alerts::get_one, api::alerts::events, api::alerts::intelmq,
        api::incidents::create, api::incidents::list, api::incidents::get_one, api::incidents::change_status, api::incidents::add_note,
        api::incident_work::update, api::incident_work::list_tasks, api::incident_work::create_task,
        api::incident_work::update_task, api::incident_work::list_comments, api::incident_work::create_comment,
        api::incident_work::list_observables, api::incident_work::create_observable,
        api::incident_work::update_observable, api::incident_work::list_alerts, api::incident_work::link_alerts, api::incident_work::unlink_alert,
        api::incident_work::merge, api::incident_work::bulk,
        api::incident_files::list_attachments, api::incident_files::upload, api::incident_files::download,
        api::incident_files::list_templates, api::incident_files::get_template, api::incident_files::create_template,
        api::incident_files::apply_template,
        api::thehive::create_alert,
        api::playbooks::list, api::playbooks::import, api::playbooks::get_one, api::playbooks::versions,
        api::playbooks::export, api::playbooks::archive, api::playbooks::start_run,
        api::playbooks::list_runs, api::playbooks::get_run, api::playbooks::cancel_run,
        api::playbooks::list_tasks, api::playbooks::get_task, api::playbooks::complete_task,
        api::playbooks::list_rules, api::playbooks::create_rule, api::playbooks::get_rule, api::playbooks::patch_rule,
        api::playbooks::list_proposals, api::playbooks::approve, api::playbooks::dismiss,
    ),
    modifiers(&Security),
    tags(
        (name = "session", description = "Who am I, organisation switching"),
        (name = "organisations", description = "The community directory"),
        (name = "users", description = "Accounts"),
        (name = "tokens", description = "API tokens"),
        (name = "trust-circles", description = "Groups of organisations that share"),
        (name = "audit", description = "The append-only audit log"),
        (name = "alerts", description = "Alert intake from monitoring systems, and the alert queue"),
        (name = "incidents", description = "Incidents from analysis to closure"),
        (name = "playbooks", description = "CACAO 2.0 playbook library, runs, manual tasks and automation rules"),
    )
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
        openapi.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
    }
}

/// The document.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /api/v1/openapi.json` (public).
pub async fn json() -> impl IntoResponse {
    axum::Json(document())
}

/// One operation of the document, for the docs page.
pub struct Operation {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub tag: String,
    pub responses: String,
}

/// Every operation, sorted by tag and path.
#[must_use]
pub fn operations() -> Vec<Operation> {
    let doc = serde_json::to_value(document()).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let summary = op["summary"].as_str().or_else(|| op["description"].as_str()).unwrap_or("").to_owned();
                let tag = op["tags"][0].as_str().unwrap_or("").to_owned();
                let responses = op["responses"]
                    .as_object()
                    .map(|r| r.keys().cloned().collect::<Vec<_>>().join(" "))
                    .unwrap_or_default();
                out.push(Operation { method: method.to_uppercase(), path: path.clone(), summary, tag, responses });
            }
        }
    }
    out.sort_by(|a, b| (&a.tag, &a.path, &a.method).cmp(&(&b.tag, &b.path, &b.method)));
    out
}

#[derive(askama::Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    operations: Vec<Operation>,
}

/// `GET /api/docs` (public).
pub async fn page() -> impl IntoResponse {
    crate::ui::render(&DocsPage { operations: operations() })
}
