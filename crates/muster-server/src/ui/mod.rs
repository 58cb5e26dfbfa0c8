//! The web UI: server-rendered HTML (askama), no build step, one small script.
//!
//! Every page is reached through [`UiPrincipal`], which sends anonymous
//! visitors to the login page and users with a one-time password to the
//! password page. Forms carry the session's CSRF token.

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use muster_core::{Organisation, Role};

use crate::auth::{Principal, secrets_equal};
use crate::error::AppError;
use crate::state::AppState;

mod admin;
mod incident;
mod incident_list;
mod pages;
mod playbooks;

/// Renders a template, or a plain 500 page when rendering fails.
pub fn render<T: askama::Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log").into_response()
        }
    }
}

/// Navigation context every logged-in page carries.
pub struct Nav {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub org_name: String,
    pub org_id: String,
    pub csrf: String,
    pub area: &'static str,
    /// The admin sub-page, for marking the current entry of the admin menu.
    pub sub: &'static str,
    /// The user must replace a one-time password; the page hides navigation.
    pub locked: bool,
    pub is_admin: bool,
    pub is_operator_admin: bool,
    /// (id, name) of every organisation the user may act for.
    pub orgs: Vec<(String, String)>,
}

/// One `<option>` of a select.
pub struct Opt {
    pub value: &'static str,
    pub selected: bool,
}

/// The options for `names`, with `selected` marked.
#[must_use]
pub fn options(names: &'static [&'static str], selected: &str) -> Vec<Opt> {
    names.iter().map(|n| Opt { value: n, selected: *n == selected }).collect()
}

/// A logged-in user on a UI page.
pub struct UiPrincipal(pub Principal);

impl FromRequestParts<AppState> for UiPrincipal {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Principal::from_request_parts(parts, state).await {
            Ok(p) => {
                let path = parts.uri.path();
                if p.user.must_change_password && path != "/account/password" && path != "/logout" {
                    return Err(Redirect::to("/account/password").into_response());
                }
                Ok(UiPrincipal(p))
            }
            Err(AppError::Unauthenticated) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(error_page(&e)),
        }
    }
}

impl UiPrincipal {
    /// Builds the navigation context for `area`.
    pub async fn nav(&self, state: &AppState, area: &'static str) -> Nav {
        let p = &self.0;
        let mut orgs = Vec::new();
        if let Ok(ms) = state.store.memberships(&p.user).await {
            for m in ms {
                let name =
                    state.store.get_org(m.org).await.map_or_else(|_| m.org.to_string(), |o: Organisation| o.name);
                orgs.push((m.org.to_string(), name));
            }
        }
        Nav {
            username: p.user.username.clone(),
            display_name: p.user.display_name.clone(),
            role: p.role.to_string(),
            org_name: p.org.name.clone(),
            org_id: p.org.id.to_string(),
            csrf: p.csrf().to_owned(),
            area,
            sub: "",
            locked: p.user.must_change_password,
            is_admin: p.role == Role::Admin,
            is_operator_admin: p.is_operator_admin(),
            orgs,
        }
    }

    /// Fails unless the form's CSRF token matches the session's.
    ///
    /// # Errors
    /// [`AppError::Forbidden`].
    pub fn check_csrf(&self, sent: &str) -> Result<(), AppError> {
        if secrets_equal(sent, self.0.csrf()) && !sent.is_empty() {
            Ok(())
        } else {
            Err(AppError::Forbidden("the form's CSRF token is missing or stale; reload the page and try again".into()))
        }
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    message: String,
}

/// An error as an HTML page.
#[must_use]
pub fn error_page(e: &AppError) -> Response {
    let (status, _) = e.status_and_code();
    let message = match e {
        AppError::Internal(_) => "internal error; see the server log".to_owned(),
        other => other.to_string(),
    };
    let title = status.canonical_reason().unwrap_or("Error").to_owned();
    let mut resp = render(&ErrorPage { status: status.as_u16(), title, message });
    *resp.status_mut() = status;
    resp
}

/// A UI handler's error: rendered as a page.
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(&self.0)
    }
}

pub type PageResult = Result<Response, PageError>;

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");

/// Serves an embedded asset with a content-hash ETag, so browsers revalidate
/// cheaply (304) and never run a stale script after an upgrade.
fn asset(headers: &axum::http::HeaderMap, content_type: &'static str, body: &'static str) -> Response {
    use sha2::{Digest, Sha256};
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(body.as_bytes()))[..16]);
    let cached = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let common = [(header::CACHE_CONTROL, "no-cache".to_owned()), (header::ETAG, etag)];
    if cached {
        (StatusCode::NOT_MODIFIED, common).into_response()
    } else {
        (common, [(header::CONTENT_TYPE, content_type)], body).into_response()
    }
}

/// Every UI route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/switch-org", post(pages::switch_org))
        .route("/account/password", get(pages::password_form).post(pages::change_password))
        .route("/alerts", get(pages::alerts))
        .route("/incidents", get(pages::incidents).post(pages::open_incident))
        .route("/incidents/bulk", post(incident::bulk))
        .route("/incidents/{id}", get(incident::incident))
        .route("/incidents/{id}/status", post(incident::incident_status))
        .route("/incidents/{id}/timeline", post(incident::incident_note))
        .route("/incidents/{id}/edit", post(incident::edit))
        .route("/incidents/{id}/tasks", post(incident::add_task))
        .route("/incidents/{id}/tasks/{task_id}", post(incident::task_status))
        .route("/incidents/{id}/comments", post(incident::add_comment))
        .route("/incidents/{id}/observables", post(incident::add_observable))
        .route("/incidents/{id}/observables/{observable_id}", post(incident::flag_observable))
        .route("/incidents/{id}/attachments", post(incident::upload).layer(axum::extract::DefaultBodyLimit::disable()))
        .route("/incidents/{id}/alerts", post(incident::link_alerts))
        .route("/incidents/{id}/alerts/{alert_id}/unlink", post(incident::unlink_alert))
        .route("/incidents/{id}/merge", post(incident::merge))
        .route("/incidents/{id}/template", post(incident::apply_template))
        .route("/incident-templates", get(incident::templates).post(incident::create_template))
        .route("/playbooks", get(playbooks::library).post(playbooks::import))
        .route("/playbooks/{id}", get(playbooks::playbook))
        .route("/playbooks/{id}/runs", post(playbooks::start_run))
        .route("/playbooks/{id}/archive", post(playbooks::archive))
        .route("/playbook-runs", get(playbooks::runs))
        .route("/playbook-runs/{id}", get(playbooks::run))
        .route("/playbook-runs/{id}/cancel", post(playbooks::cancel))
        .route("/playbook-tasks/{id}/complete", post(playbooks::complete_task))
        .route("/automation", get(playbooks::rules).post(playbooks::create_rule))
        .route("/automation/{id}/enabled", post(playbooks::toggle_rule))
        .route("/automation-proposals/{id}/start", post(playbooks::start_proposal))
        .route("/automation-proposals/{id}/dismiss", post(playbooks::dismiss_proposal))
        .route("/intel", get(pages::area))
        .route("/coordination", get(pages::area))
        .route("/reports", get(pages::area))
        .merge(admin::router())
        .route("/api/docs", get(crate::openapi::page))
        .route(
            "/static/app.css",
            get(|h: axum::http::HeaderMap| async move { asset(&h, "text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/static/app.js",
            get(|h: axum::http::HeaderMap| async move { asset(&h, "text/javascript; charset=utf-8", APP_JS) }),
        )
}
