//! Starts the real server on 127.0.0.1 with a fresh store, for integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use muster_core::{OrgKind, Role, Tlp};
use muster_server::{AppState, Config};
use muster_store::{NewOrganisation, NewToken, NewUser, Store, StoreOptions};

pub struct TestServer {
    pub base: String,
    /// The syslog listeners, when configured.
    pub syslog: Option<muster_server::syslog::Syslog>,
    pub store: Store,
    pub admin_password: String,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestServer {
    /// A server on SQLite in a temp dir.
    pub async fn start() -> TestServer {
        Self::start_with(Backend::Sqlite, |_| {}).await.expect("sqlite always available")
    }

    /// A server on the chosen backend; `None` when PostgreSQL is not configured.
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestServer> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        if let Backend::Postgres = backend {
            config.database_url = Some(muster_testkit::fresh_pg_database().await?);
        }
        tweak(&mut config);
        let store = Store::open(&StoreOptions {
            database_url: config.database_url.clone(),
            data_dir: config.data_dir.clone(),
            max_connections: 8,
        })
        .await
        .unwrap();
        let admin = muster_server::bootstrap::ensure_admin(&store).await.unwrap().expect("fresh store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let needs_org = config.syslog_org.clone();
        if let Some(slug) = &needs_org
            && store.get_org_by_slug(slug).await.is_err()
        {
            {
                let new = NewOrganisation {
                    slug: slug.clone(),
                    name: slug.clone(),
                    kind: OrgKind::Other,
                    country: None,
                    sectors: vec![],
                    client_of: None,
                    tlp: Tlp::Green,
                };
                store.create_org(&new, false).await.unwrap();
            }
        }
        let state = AppState::start(store.clone(), config).unwrap();
        let syslog = muster_server::syslog::start(&state).await.unwrap();
        tokio::spawn(async move {
            muster_server::serve(listener, state, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Some(TestServer { base, syslog, store, admin_password: admin.password, _dir: Some(dir), shutdown: Some(tx) })
    }

    /// The data directory (SQLite file) of this server.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.as_ref().map(|d| d.path().to_path_buf()).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates an organisation directly in the store.
    pub async fn org(&self, slug: &str) -> muster_core::Organisation {
        let new = NewOrganisation {
            slug: slug.into(),
            name: format!("Org {slug}"),
            kind: OrgKind::NationalCsirt,
            country: None,
            sectors: vec![],
            client_of: None,
            tlp: Tlp::Green,
        };
        self.store.create_org(&new, false).await.unwrap()
    }

    /// Creates a user with a known (not one-time) password.
    pub async fn user(&self, username: &str, org: muster_core::OrgId, role: Role, password: &str) -> muster_core::User {
        let hash = muster_server::auth::hash_password(password).unwrap();
        let new = NewUser { username: username.into(), display_name: username.to_uppercase(), email: None, org, role };
        self.store.create_user(&new, Some(&hash)).await.unwrap()
    }

    /// Creates an API token and returns its secret.
    pub async fn token(&self, user: &muster_core::User, role: Role) -> String {
        let secret = muster_server::auth::random_secret(muster_server::auth::TOKEN_PREFIX);
        self.store
            .create_token(
                &secret,
                &NewToken { name: "test".into(), user: user.id, org: user.org, role, expires_at: None },
            )
            .await
            .unwrap();
        secret
    }

    /// Logs in through the form and returns a cookie-holding client plus the session's CSRF token
    /// (read from a page, as a browser would).
    pub async fn login(&self, username: &str, password: &str) -> (reqwest::Client, String) {
        let client =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let page = client.get(self.url("/login")).send().await.unwrap().text().await.unwrap();
        let csrf = extract_csrf(&page);
        let resp = client
            .post(self.url("/login"))
            .form(&[("username", username), ("password", password), ("_csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "login of {username} failed: {}", resp.text().await.unwrap_or_default());
        let mut home = client.get(self.url("/")).send().await.unwrap();
        if let Some(to) = home.headers().get("location").map(|l| l.to_str().unwrap().to_owned()) {
            home = client.get(self.url(&to)).send().await.unwrap();
        }
        let home = home.text().await.unwrap();
        let csrf = extract_csrf(&home);
        (client, csrf)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The value of the first `_csrf` hidden field on a page.
pub fn extract_csrf(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).map(|i| i + marker.len()).expect("page has a _csrf field");
    html[start..].split('"').next().unwrap().to_owned()
}

/// A response's body as text. An event stream never ends, so of one this
/// reads what arrives within half a second (still enough to catch a leak).
pub async fn body_text(mut resp: reqwest::Response) -> String {
    let streaming =
        resp.headers().get("content-type").is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
    if !streaming {
        return resp.text().await.unwrap();
    }
    let mut out = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, resp.chunk()).await {
        out.push_str(&String::from_utf8_lossy(&chunk));
    }
    out
}
