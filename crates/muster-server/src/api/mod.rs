//! The REST API under `/api/v1`. Handlers are thin: extract, check the role,
//! call the store, filter through the gate, map the error.

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::state::AppState;

pub mod alerts;
pub mod audit;
pub mod circles;
pub mod events;
pub mod incidents;
pub mod me;
pub mod orgs;
pub mod thehive;
pub mod tokens;
pub mod users;

/// Every `/api/v1` route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::get_me))
        .route("/alerts", get(alerts::list).post(alerts::ingest))
        .route("/incidents", get(incidents::list).post(incidents::create))
        .route("/incidents/{id}", get(incidents::get_one))
        .route("/incidents/{id}/status", post(incidents::change_status))
        .route("/incidents/{id}/timeline", post(incidents::add_note))
        .route("/alerts/events", get(alerts::events))
        .route("/alerts/{id}", get(alerts::get_one))
        .route("/alerts/{id}/intelmq", get(alerts::intelmq))
        .route("/alert", post(thehive::create_alert))
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
