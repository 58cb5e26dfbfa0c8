//! Admin pages: organisations, users, tokens, trust circles, audit log.
//! They call the same functions as the API, so rules live in one place.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use muster_core::{OrgId, OrgKind, Role, Sector, Tlp};
use serde::Deserialize;

use super::{Nav, Opt, PageResult, UiPrincipal, options, render};
use crate::error::{AppError, Form, Path, Query};
use crate::state::AppState;
use crate::visibility::{can_administer, visible};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/organisations", get(orgs_page).post(org_create))
        .route("/admin/users", get(users_page).post(user_create))
        .route("/admin/users/{id}/{action}", post(user_set_enabled))
        .route("/admin/users/{id}/password", post(user_reset_password))
        .route("/admin/tokens", get(tokens_page).post(token_create))
        .route("/admin/tokens/{id}/revoke", post(token_revoke))
        .route("/admin/circles", get(circles_page).post(circle_create))
        .route("/admin/audit", get(audit_page))
}

#[derive(Deserialize, Default)]
pub struct Notice {
    ok: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "org-created" => "Organisation created.",
        "user-created" => "User created. They must choose a new password at first login.",
        "user-disabled" => "User disabled; their sessions ended and their tokens were revoked.",
        "user-enabled" => "User enabled.",
        "password-reset" => "One-time password set. The user must change it at next login.",
        "token-revoked" => "Token revoked.",
        "circle-created" => "Trust circle created.",
        _ => return None,
    })
}

fn ok(path: &str, code: &str) -> axum::response::Response {
    Redirect::to(&format!("{path}?ok={code}")).into_response()
}

// ---------- organisations ----------

pub struct OrgRow {
    id: String,
    slug: String,
    name: String,
    kind: String,
    country: String,
    sectors: String,
    tlp: String,
    operator: bool,
}

#[derive(askama::Template)]
#[template(path = "admin_orgs.html")]
struct OrgsPage {
    nav: Nav,
    notice: Option<&'static str>,
    error: Option<String>,
    rows: Vec<OrgRow>,
    kinds: &'static [&'static str],
    sectors: &'static [&'static str],
    tlps: Vec<Opt>,
}

async fn orgs_view(
    state: &AppState,
    ui: &UiPrincipal,
    notice: Option<&'static str>,
    error: Option<String>,
) -> PageResult {
    let rows = visible(&ui.0, state.store.list_orgs().await?)
        .into_iter()
        .map(|o| OrgRow {
            id: o.id.to_string(),
            slug: o.slug,
            name: o.name,
            kind: o.kind.to_string(),
            country: o.country.map(|c| c.to_string()).unwrap_or_default(),
            sectors: o.sectors.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            tlp: o.tlp.to_string(),
            operator: o.operator,
        })
        .collect();
    let mut nav = ui.nav(state, "admin").await;
    nav.sub = "organisations";
    let page = OrgsPage {
        nav,
        notice,
        error: error.clone(),
        rows,
        kinds: OrgKind::NAMES,
        sectors: Sector::NAMES,
        tlps: options(Tlp::NAMES, Tlp::Amber.as_str()),
    };
    let mut resp = render(&page);
    if error.is_some() {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

async fn orgs_page(State(state): State<AppState>, ui: UiPrincipal, Query(n): Query<Notice>) -> PageResult {
    orgs_view(&state, &ui, notice_text(n.ok.as_deref()), None).await
}

#[derive(Deserialize)]
pub struct OrgForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    slug: String,
    name: String,
    kind: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    sector: String,
    #[serde(default)]
    tlp: String,
}

async fn org_create(State(state): State<AppState>, ui: UiPrincipal, Form(f): Form<OrgForm>) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let parsed = (|| -> Result<muster_store::NewOrganisation, String> {
        Ok(muster_store::NewOrganisation {
            slug: f.slug.trim().to_owned(),
            name: f.name.clone(),
            kind: f.kind.parse().map_err(|e| format!("kind: {e}"))?,
            country: Some(f.country.trim())
                .filter(|c| !c.is_empty())
                .map(str::parse)
                .transpose()
                .map_err(|e| format!("country: {e}"))?,
            sectors: Some(f.sector.trim())
                .filter(|c| !c.is_empty())
                .map(str::parse)
                .transpose()
                .map_err(|e| format!("sector: {e}"))?
                .into_iter()
                .collect(),
            client_of: None,
            tlp: if f.tlp.is_empty() { Tlp::Green } else { f.tlp.parse().map_err(|e| format!("tlp: {e}"))? },
        })
    })();
    let result = match parsed {
        Ok(new) => crate::api::orgs::create_org(&state, &ui.0, &new).await.map(|_| ()),
        Err(msg) => Err(AppError::Unprocessable(msg)),
    };
    match result {
        Ok(()) => Ok(ok("/admin/organisations", "org-created")),
        // Errors the user can fix are shown above the form they came from.
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_))) => {
            orgs_view(&state, &ui, None, Some(e.to_string())).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---------- users ----------

pub struct UserRow {
    id: String,
    username: String,
    display_name: String,
    org: String,
    role: String,
    disabled: bool,
    is_self: bool,
}

#[derive(askama::Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    nav: Nav,
    notice: Option<&'static str>,
    error: Option<String>,
    rows: Vec<UserRow>,
    roles: Vec<Opt>,
    orgs: Vec<(String, String)>,
    form: UserFormValues,
}

/// What the add-user form shows: empty, or what was typed when it was refused.
#[derive(Default)]
pub struct UserFormValues {
    username: String,
    display_name: String,
    email: String,
    role: String,
    organisation_id: String,
}

async fn users_view(
    state: &AppState,
    ui: &UiPrincipal,
    notice: Option<&'static str>,
    error: Option<String>,
    form: UserFormValues,
) -> PageResult {
    let p = &ui.0;
    let org_names: Vec<(OrgId, String)> = state.store.list_orgs().await?.into_iter().map(|o| (o.id, o.name)).collect();
    let name_of =
        |id: OrgId| org_names.iter().find(|(i, _)| *i == id).map_or_else(|| id.to_string(), |(_, n)| n.clone());
    let rows = state
        .store
        .list_users(None)
        .await?
        .into_iter()
        .filter(|u| can_administer(p, u))
        .map(|u| UserRow {
            id: u.id.to_string(),
            is_self: u.id == p.user.id,
            username: u.username,
            display_name: u.display_name,
            org: name_of(u.org),
            role: u.role.to_string(),
            disabled: u.disabled,
        })
        .collect();
    let orgs = if p.is_operator_admin() {
        org_names.iter().map(|(i, n)| (i.to_string(), n.clone())).collect()
    } else {
        vec![(p.org.id.to_string(), p.org.name.clone())]
    };
    let form = UserFormValues {
        role: if form.role.is_empty() { "analyst".into() } else { form.role },
        organisation_id: if form.organisation_id.is_empty() { p.org.id.to_string() } else { form.organisation_id },
        ..form
    };
    let mut nav = ui.nav(state, "admin").await;
    nav.sub = "users";
    let failed = error.is_some();
    let mut resp = render(&UsersPage { notice, error, rows, roles: options(Role::NAMES, &form.role), orgs, form, nav });
    if failed {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

async fn users_page(State(state): State<AppState>, ui: UiPrincipal, Query(n): Query<Notice>) -> PageResult {
    users_view(&state, &ui, notice_text(n.ok.as_deref()), None, UserFormValues::default()).await
}

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    username: String,
    display_name: String,
    #[serde(default)]
    email: String,
    role: String,
    organisation_id: String,
    password: String,
}

async fn user_create(State(state): State<AppState>, ui: UiPrincipal, Form(f): Form<UserForm>) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let typed = UserFormValues {
        username: f.username.clone(),
        display_name: f.display_name.clone(),
        email: f.email.clone(),
        role: f.role.clone(),
        organisation_id: f.organisation_id.clone(),
    };
    let result = async {
        let role: Role = f.role.parse().map_err(|e| AppError::Unprocessable(format!("role: {e}")))?;
        let org: OrgId = crate::parse_id("organisation_id", &f.organisation_id)?;
        let body = crate::api::users::CreateUser {
            username: f.username.trim().to_owned(),
            display_name: f.display_name,
            email: Some(f.email).filter(|e| !e.trim().is_empty()),
            role,
            organisation_id: Some(org),
            password: f.password,
            temporary: Some(true),
        };
        crate::api::users::create_user(&state, &ui.0, body).await
    }
    .await;
    match result {
        Ok(_) => Ok(ok("/admin/users", "user-created")),
        // Errors the user can fix are shown above the form, with what they typed (not the password).
        Err(e @ (AppError::Unprocessable(_) | AppError::Conflict(_))) => {
            users_view(&state, &ui, None, Some(e.to_string()), typed).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(rename = "_csrf")]
    csrf: String,
}

/// `POST /admin/users/{id}/disable` and `/enable`.
async fn user_set_enabled(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let disabled = match action.as_str() {
        "disable" => true,
        "enable" => false,
        _ => return Err(AppError::NotFound("page".into()).into()),
    };
    crate::api::users::set_disabled(&state, &ui.0, &id, disabled).await?;
    Ok(ok("/admin/users", if disabled { "user-disabled" } else { "user-enabled" }))
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    password: String,
}

async fn user_reset_password(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<ResetForm>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let user = crate::api::users::visible_user(&state, &ui.0, &id).await?;
    crate::api::users::change_password(&state, &ui.0, &user, None, &f.password).await?;
    Ok(ok("/admin/users", "password-reset"))
}

// ---------- tokens ----------

pub struct TokenRow {
    id: String,
    name: String,
    role: String,
    created_at: String,
    expires_at: String,
    last_used_at: String,
    active: bool,
}

#[derive(askama::Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    nav: Nav,
    notice: Option<&'static str>,
    new_token: Option<String>,
    rows: Vec<TokenRow>,
    roles: Vec<&'static str>,
}

async fn tokens_view(
    state: &AppState,
    ui: &UiPrincipal,
    notice: Option<&'static str>,
    new_token: Option<String>,
) -> PageResult {
    let api = crate::api::tokens::list(State(state.clone()), ui.0.clone()).await?.0;
    let rows = api
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            role: t.role,
            created_at: t.created_at,
            expires_at: t.expires_at.unwrap_or_else(|| "never".into()),
            last_used_at: t.last_used_at.unwrap_or_else(|| "—".into()),
            active: t.active,
        })
        .collect();
    let roles = Role::ALL.iter().filter(|r| ui.0.role.at_least(**r)).map(|r| r.as_str()).collect();
    let mut nav = ui.nav(state, "admin").await;
    nav.sub = "tokens";
    Ok(render(&TokensPage { notice, new_token, rows, roles, nav }))
}

async fn tokens_page(State(state): State<AppState>, ui: UiPrincipal, Query(n): Query<Notice>) -> PageResult {
    tokens_view(&state, &ui, notice_text(n.ok.as_deref()), None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    role: String,
    #[serde(default)]
    expires_in_days: String,
}

async fn token_create(State(state): State<AppState>, ui: UiPrincipal, Form(f): Form<TokenForm>) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    let role: Role = f.role.parse().map_err(|e| AppError::Unprocessable(format!("role: {e}")))?;
    let days = Some(f.expires_in_days.trim())
        .filter(|d| !d.is_empty())
        .map(str::parse::<u32>)
        .transpose()
        .map_err(|e| AppError::Unprocessable(format!("expires_in_days: {e}")))?;
    let body = crate::api::tokens::CreateToken { name: f.name, role: Some(role), expires_in_days: days };
    let (secret, _) = crate::api::tokens::create_token(&state, &ui.0, body).await?;
    // Shown once, on this response only; never redirected through a URL.
    let mut resp = tokens_view(&state, &ui, None, Some(secret)).await?;
    resp.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn token_revoke(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    ui.check_csrf(&f.csrf)?;
    crate::api::tokens::revoke(State(state.clone()), ui.0.clone(), Path(id)).await?;
    Ok(ok("/admin/tokens", "token-revoked"))
}

// ---------- trust circles ----------

pub struct CircleRow {
    name: String,
    description: String,
    owner: String,
    members: String,
    tlp: String,
}

#[derive(askama::Template)]
#[template(path = "admin_circles.html")]
struct CirclesPage {
    nav: Nav,
    notice: Option<&'static str>,
    rows: Vec<CircleRow>,
    orgs: Vec<(String, String)>,
    tlps: Vec<Opt>,
    can_create: bool,
}

async fn circles_page(State(state): State<AppState>, ui: UiPrincipal, Query(n): Query<Notice>) -> PageResult {
    let p = &ui.0;
    let all_orgs = visible(p, state.store.list_orgs().await?);
    let name_of = |id: OrgId| {
        all_orgs.iter().find(|o| o.id == id).map_or_else(|| "(hidden organisation)".to_owned(), |o| o.name.clone())
    };
    let rows = visible(p, state.store.list_circles().await?)
        .into_iter()
        .map(|c| CircleRow {
            owner: name_of(c.owner_org),
            members: c.members.iter().map(|m| name_of(*m)).collect::<Vec<_>>().join(", "),
            name: c.name,
            description: c.description,
            tlp: c.tlp.to_string(),
        })
        .collect();
    let orgs = all_orgs.iter().filter(|o| o.id != p.org.id).map(|o| (o.id.to_string(), o.name.clone())).collect();
    let page = CirclesPage {
        notice: notice_text(n.ok.as_deref()),
        rows,
        orgs,
        tlps: options(Tlp::NAMES, Tlp::Amber.as_str()),
        can_create: p.role.at_least(Role::Coordinator),
        nav: Nav { sub: "circles", ..ui.nav(&state, "admin").await },
    };
    Ok(render(&page))
}

async fn circle_create(
    State(state): State<AppState>,
    ui: UiPrincipal,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    // `members` repeats, so the form arrives as pairs.
    let mut csrf = String::new();
    let mut new = muster_store::NewCircle {
        name: String::new(),
        description: String::new(),
        members: Vec::new(),
        tlp: Tlp::Amber,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "_csrf" => csrf = v,
            "name" => new.name = v,
            "description" => new.description = v,
            "members" => new.members.push(crate::parse_id("members", &v)?),
            "tlp" if !v.is_empty() => new.tlp = v.parse().map_err(|e| AppError::Unprocessable(format!("tlp: {e}")))?,
            _ => {}
        }
    }
    ui.check_csrf(&csrf)?;
    crate::api::circles::create_circle(&state, &ui.0, &new).await?;
    Ok(ok("/admin/circles", "circle-created"))
}

// ---------- audit ----------

pub struct AuditRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

#[derive(askama::Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    nav: Nav,
    rows: Vec<AuditRow>,
    verdict: Option<(i64, Vec<String>)>,
}

async fn audit_page(State(state): State<AppState>, ui: UiPrincipal) -> PageResult {
    let q = crate::api::audit::AuditQuery { before: None, limit: Some(200) };
    let entries = crate::api::audit::list(State(state.clone()), ui.0.clone(), Query(q)).await?.0;
    let rows = entries
        .into_iter()
        .map(|e| AuditRow {
            seq: e.seq,
            at: crate::rfc3339(e.at),
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail.to_string(),
        })
        .collect();
    let verdict = if ui.0.is_operator_admin() {
        let v = state.store.verify_audit().await?;
        Some((v.entries, v.problems))
    } else {
        None
    };
    Ok(render(&AuditPage { rows, verdict, nav: Nav { sub: "audit", ..ui.nav(&state, "admin").await } }))
}
