//! The REST API under `/api/v1`. Handlers are thin: extract, check the role,
//! call the store, filter through the gate, map the error.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};

use crate::state::AppState;

pub mod alerts;
pub mod audit;
pub mod circles;
pub mod events;
pub mod incident_files;
pub mod incident_work;
pub mod incidents;
pub mod me;
pub mod orgs;
pub mod playbooks;
pub mod thehive;
pub mod tokens;
pub mod users;

/// Every `/api/v1` route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::get_me))
        .route("/alerts", get(alerts::list).post(alerts::ingest))
        .route("/incidents", get(incidents::list).post(incidents::create))
        .route("/incidents/bulk", post(incident_work::bulk))
        .route("/incidents/{id}", get(incidents::get_one).patch(incident_work::update))
        .route("/incidents/{id}/tasks", get(incident_work::list_tasks).post(incident_work::create_task))
        .route("/incidents/{id}/tasks/{task_id}", patch(incident_work::update_task))
        .route("/incidents/{id}/comments", get(incident_work::list_comments).post(incident_work::create_comment))
        .route(
            "/incidents/{id}/observables",
            get(incident_work::list_observables).post(incident_work::create_observable),
        )
        .route("/incidents/{id}/observables/{observable_id}", patch(incident_work::update_observable))
        .route("/incidents/{id}/alerts", get(incident_work::list_alerts).post(incident_work::link_alerts))
        .route("/incidents/{id}/alerts/{alert_id}", delete(incident_work::unlink_alert))
        .route("/incidents/{id}/merge", post(incident_work::merge))
        .route("/incidents/{id}/template", post(incident_files::apply_template))
        .route(
            "/incidents/{id}/attachments",
            // Uploads have their own limit (max_attachment_bytes), enforced while reading.
            get(incident_files::list_attachments).post(incident_files::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/incidents/{id}/attachments/{attachment_id}", get(incident_files::download))
        .route("/incident-templates", get(incident_files::list_templates).post(incident_files::create_template))
        .route("/incident-templates/{id}", get(incident_files::get_template))
        .route("/incidents/{id}/status", post(incidents::change_status))
        .route("/incidents/{id}/timeline", post(incidents::add_note))
        .route("/alerts/events", get(alerts::events))
        .route("/alerts/{id}", get(alerts::get_one))
        .route("/alerts/{id}/intelmq", get(alerts::intelmq))
        .route("/alert", post(thehive::create_alert))
        .route("/playbooks", get(playbooks::list).post(playbooks::import))
        .route("/playbooks/{id}", get(playbooks::get_one).delete(playbooks::archive))
        .route("/playbooks/{id}/versions", get(playbooks::versions))
        .route("/playbooks/{id}/export", get(playbooks::export))
        .route("/playbooks/{id}/runs", post(playbooks::start_run))
        .route("/playbook-runs", get(playbooks::list_runs))
        .route("/playbook-runs/{id}", get(playbooks::get_run))
        .route("/playbook-runs/{id}/cancel", post(playbooks::cancel_run))
        .route("/playbook-tasks", get(playbooks::list_tasks))
        .route("/playbook-tasks/{id}", get(playbooks::get_task))
        .route("/playbook-tasks/{id}/complete", post(playbooks::complete_task))
        .route("/automation-rules", get(playbooks::list_rules).post(playbooks::create_rule))
        .route("/automation-rules/{id}", get(playbooks::get_rule).patch(playbooks::patch_rule))
        .route("/automation-proposals", get(playbooks::list_proposals))
        .route("/automation-proposals/{id}/start", post(playbooks::approve))
        .route("/automation-proposals/{id}/dismiss", post(playbooks::dismiss))
        .route("/events", post(events::ingest))
        .route("/organisations", get(orgs::list).post(orgs::create))
        .route("/organisations/{id}", get(orgs::get_one))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get_one).patch(users::update))
        .route("/users/{id}/password", post(users::set_password))
        .route("/users/{id}/memberships", post(users::add_membership))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", get(tokens::get_one).delete(tokens::revoke))
        .route("/trust-circles", get(circles::list).post(circles::create))
        .route("/trust-circles/{id}", get(circles::get_one))
        .route("/trust-circles/{id}/members/{org}", put(circles::add_member).delete(circles::remove_member))
        .route("/audit", get(audit::list))
        .route("/audit/verify", get(audit::verify))
        .route("/openapi.json", get(crate::openapi::json))
        .fallback(|| async { crate::error::AppError::NotFound("API route".into()) })
        .route("/session/organisation", post(me::switch_org))
        .route("/session", delete(me::logout))
}
