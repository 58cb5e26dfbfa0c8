//! Login, logout, home, account and the area pages.

use std::net::{IpAddr, SocketAddr};

use crate::error::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Nav, PageError, PageResult, UiPrincipal, render};
use crate::auth::{self, LOGIN_CSRF_COOKIE, SESSION_COOKIE, random_secret, secrets_equal, verify_password};
use crate::error::AppError;
use crate::state::AppState;

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
    username: String,
}

fn cookie_header(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn login_page(state: &AppState, status: StatusCode, error: Option<String>, username: String) -> Response {
    let csrf = random_secret("");
    let mut resp = render(&LoginPage { csrf: csrf.clone(), error, username });
    *resp.status_mut() = status;
    resp.headers_mut().append(header::SET_COOKIE, cookie_header(state, LOGIN_CSRF_COOKIE, &csrf, 3600));
    resp
}

/// `GET /login`.
pub async fn login_form(State(state): State<AppState>) -> Response {
    login_page(&state, StatusCode::OK, None, String::new())
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// `POST /login`.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, AppError>,
) -> Response {
    let Ok(Form(form)) = form else {
        return login_page(
            &state,
            StatusCode::BAD_REQUEST,
            Some("The login form was incomplete.".into()),
            String::new(),
        );
    };
    let cookie_csrf = auth::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if cookie_csrf.is_empty() || !secrets_equal(cookie_csrf, &form.csrf) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("Your login form expired; please try again.".into()),
            form.username,
        );
    }
    if let Some(wait) = state.throttle.locked_for(&form.username, ip) {
        let mut resp = login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            Some(format!("Too many failed attempts. Try again in {wait} seconds.")),
            form.username,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }
    match check_credentials(&state, &form.username, &form.password).await {
        Ok(Some(user)) => {
            state.throttle.succeed(&form.username);
            start_session(&state, user).await.unwrap_or_else(|e| super::error_page(&e))
        }
        Ok(None) => {
            state.throttle.fail(&form.username, ip);
            tracing::info!(username = %form.username, "failed login");
            login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("Unknown username or wrong password.".into()),
                form.username,
            )
        }
        Err(e) => super::error_page(&e),
    }
}

/// The client's address, when the server was started with connect info.
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

async fn check_credentials(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<Option<muster_core::User>, AppError> {
    let found = match state.store.get_user_for_login(username.trim()).await {
        Ok(u) => Some(u),
        Err(muster_store::StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    // Hash even for unknown users so timing does not reveal which names exist.
    let hash = found.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_owned());
    let ok = tokio::task::spawn_blocking({
        let password = password.to_owned();
        move || verify_password(&hash, &password)
    })
    .await
    .unwrap_or(false);
    Ok(found.filter(|u| ok && !u.user.disabled && u.password_hash.is_some()).map(|u| u.user))
}

/// argon2id hash of a random string, used to spend the same time on unknown users.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1jHOiCOY8xYk1Ra0m8ZbEaw9G3XZCmYoFDE3cyAf0iA";

async fn start_session(state: &AppState, user: muster_core::User) -> Result<Response, AppError> {
    let secret = random_secret("");
    let hours = i64::from(state.config.session_hours.max(1));
    let session = muster_store::Session {
        user: user.id,
        active_org: user.org,
        csrf: random_secret(""),
        expires_at: muster_store::now_ms() + hours * 3_600_000,
    };
    state.store.create_session(&secret, &session).await?;
    state
        .store
        .audit(&muster_store::NewAuditEntry {
            actor: format!("user:{}", user.username),
            org: Some(user.org.to_string()),
            action: "session.login".into(),
            target: user.id.to_string(),
            detail: json!({}),
        })
        .await?;
    let to = if user.must_change_password { "/account/password" } else { "/" };
    let mut resp = Redirect::to(to).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie_header(state, SESSION_COOKIE, &secret, hours * 3600));
    resp.headers_mut().append(header::SET_COOKIE, cookie_header(state, LOGIN_CSRF_COOKIE, "", 0));
    Ok(resp)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// `POST /logout`.
pub async fn logout(State(state): State<AppState>, ui: UiPrincipal, Form(form): Form<CsrfForm>) -> PageResult {
    ui.check_csrf(&form.csrf)?;
    if let auth::Via::Session { secret, .. } = &ui.0.via {
        state.store.delete_session(secret).await?;
    }
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie_header(&state, SESSION_COOKIE, "", 0));
    Ok(resp)
}

#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    organisation_id: String,
    #[serde(default)]
    back: String,
}

/// `POST /switch-org`: the organisation switcher in the header.
pub async fn switch_org(State(state): State<AppState>, ui: UiPrincipal, Form(form): Form<SwitchForm>) -> PageResult {
    ui.check_csrf(&form.csrf)?;
    let org = crate::parse_id("organisation_id", &form.organisation_id)?;
    crate::api::me::switch_session_org(&state, &ui.0, org).await?;
    // Only same-site paths, so the switcher cannot become an open redirect.
    let back = if form.back.starts_with('/') && !form.back.starts_with("//") { form.back } else { "/".into() };
    Ok(Redirect::to(&back).into_response())
}

#[derive(askama::Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    org_kind: String,
    org_country: String,
    users_in_org: usize,
    visible_orgs: usize,
    circles: usize,
}

/// `GET /`: the organisation's overview.
pub async fn home(State(state): State<AppState>, ui: UiPrincipal) -> PageResult {
    let p = &ui.0;
    let users_in_org = state.store.list_users(Some(p.org.id)).await?.len();
    let visible_orgs = crate::visibility::visible(p, state.store.list_orgs().await?).len();
    let circles = crate::visibility::visible(p, state.store.list_circles().await?).len();
    let page = HomePage {
        org_kind: p.org.kind.to_string(),
        org_country: p.org.country.map(|c| c.to_string()).unwrap_or_else(|| "—".into()),
        users_in_org,
        visible_orgs,
        circles,
        nav: ui.nav(&state, "home").await,
    };
    Ok(render(&page))
}

struct Area {
    path: &'static str,
    key: &'static str,
    title: &'static str,
    summary: &'static str,
    coming: &'static [&'static str],
}

const AREAS: &[Area] = &[
    Area {
        path: "/playbooks",
        key: "playbooks",
        title: "Playbooks",
        summary: "OASIS CACAO 2.0 playbooks that drive security tools and analysts from an incident to containment.",
        coming: &[
            "playbook library and validation",
            "workflow graph",
            "runs with live step status",
            "manual step forms",
        ],
    },
    Area {
        path: "/intel",
        key: "intel",
        title: "Intel",
        summary: "Indicators and threat intelligence: STIX 2.1, TAXII 2.1 collections and MISP exchange.",
        coming: &["indicator index and matching", "TAXII 2.1 server and client", "MISP import and export"],
    },
    Area {
        path: "/coordination",
        key: "coordination",
        title: "Coordination",
        summary: "The joint layer: members, capabilities, agreements, the crisis plan, assistance requests and rapid reaction teams.",
        coming: &[
            "capability inventory",
            "agreements (MoUs) and the sharing engine",
            "escalation tiers",
            "assistance requests",
        ],
    },
    Area {
        path: "/reports",
        key: "reports",
        title: "Reports",
        summary: "Situation reports and NIS2 notifications with their deadlines.",
        coming: &["NIS2 early warning, notification and final report", "integrated situation reports"],
    },
];

#[derive(askama::Template)]
#[template(path = "area.html")]
struct AreaPage {
    nav: Nav,
    title: &'static str,
    summary: &'static str,
    coming: &'static [&'static str],
}

/// The area pages whose content later work fills in.
pub async fn area(State(state): State<AppState>, ui: UiPrincipal, uri: axum::http::Uri) -> PageResult {
    let area = AREAS.iter().find(|a| a.path == uri.path()).ok_or_else(|| AppError::NotFound("page".into()))?;
    let page =
        AreaPage { title: area.title, summary: area.summary, coming: area.coming, nav: ui.nav(&state, area.key).await };
    Ok(render(&page))
}

#[derive(askama::Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Nav,
    forced: bool,
    error: Option<String>,
}

/// `GET /account/password`.
pub async fn password_form(State(state): State<AppState>, ui: UiPrincipal) -> PageResult {
    let forced = ui.0.user.must_change_password;
    Ok(render(&PasswordPage { forced, error: None, nav: ui.nav(&state, "account").await }))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// `POST /account/password`.
pub async fn change_password(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    ui.check_csrf(&form.csrf)?;
    let p = &ui.0;
    let result = if form.new_password == form.confirm_password {
        crate::api::users::change_password(&state, p, &p.user, Some(&form.current_password), &form.new_password).await
    } else {
        Err(AppError::Unprocessable("The two new passwords differ.".into()))
    };
    match result {
        Ok(()) => {
            // Changing the password ends every session; start a fresh one.
            let user = state.store.get_user(p.user.id).await?;
            Ok(start_session(&state, user).await?)
        }
        Err(e @ (AppError::Forbidden(_) | AppError::Unprocessable(_))) => {
            let forced = p.user.must_change_password;
            let mut resp =
                render(&PasswordPage { forced, error: Some(e.to_string()), nav: ui.nav(&state, "account").await });
            *resp.status_mut() = e.status_and_code().0;
            Ok(resp)
        }
        Err(e) => Err(PageError(e)),
    }
}

#[derive(askama::Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Nav,
    rows: Vec<crate::api::alerts::AlertSummary>,
    next: Option<String>,
    severities: Vec<super::Opt>,
}

#[derive(Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

/// `GET /alerts`: the alert queue.
pub async fn alerts(
    State(state): State<AppState>,
    ui: UiPrincipal,
    crate::error::Query(q): crate::error::Query<CursorQuery>,
) -> PageResult {
    let page = crate::api::alerts::page(&state, &ui.0, 100, q.cursor.as_deref()).await?;
    let severities = super::options(crate::api::incidents::SEVERITIES, "medium");
    Ok(render(&AlertsPage { rows: page.alerts, next: page.next, severities, nav: ui.nav(&state, "alerts").await }))
}

#[derive(askama::Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    nav: Nav,
    rows: Vec<crate::api::incidents::IncidentView>,
    bulk: super::incident::BulkOptions,
    /// Filters, sort links and paging (ui::incident_list).
    search: super::incident_list::SearchForm,
}

/// `GET /incidents`: the list, with the search's filters, sort and paging in the query string.
pub async fn incidents(
    State(state): State<AppState>,
    ui: UiPrincipal,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> PageResult {
    let (rows, search) = super::incident_list::run(&state, &ui, raw.as_deref()).await?;
    let bulk = super::incident::bulk_options(&state, &ui).await?;
    Ok(render(&IncidentsPage { rows, bulk, search, nav: ui.nav(&state, "incidents").await }))
}

/// `POST /incidents`: open an incident from the alerts selected in the queue.
pub async fn open_incident(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    ui.check_csrf(&field("_csrf"))?;
    let alert_ids: Vec<String> = pairs.iter().filter(|(k, _)| k == "alert_ids").map(|(_, v)| v.clone()).collect();
    if alert_ids.is_empty() {
        return Err(AppError::Unprocessable("select at least one alert".into()).into());
    }
    let body = crate::api::incidents::CreateIncident {
        title: field("title"),
        description: String::new(),
        severity: field("severity"),
        tlp: None,
        pap: None,
        rsit_type: None,
        alert_ids,
    };
    let (_, created) = crate::api::incidents::create(State(state), ui.0.clone(), crate::error::Json(body)).await?;
    Ok(Redirect::to(&format!("/incidents/{}", created.0.incident.id)).into_response())
}
