//! Browser tests: headless Chromium driven through WebDriver (`fantoccini`)
//! against the real server on 127.0.0.1 with a fresh SQLite store.
//!
//! `scripts/test` starts chromedriver and sets `MUSTER_TEST_WEBDRIVER`; without
//! it these tests skip, unless `MUSTER_REQUIRE_BROWSER` says a browser is
//! required. Each step leaves a screenshot in
//! `test-output/browser/<test-name>/NN-step.png`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::TestServer;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use muster_core::Role;
use serde_json::json;

/// How long a page may take to appear after a click before the test fails.
const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// The WebDriver URL, or `None` when the test should skip.
fn webdriver_url() -> Option<String> {
    match std::env::var("MUSTER_TEST_WEBDRIVER") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("MUSTER_REQUIRE_BROWSER").is_none(),
                "MUSTER_REQUIRE_BROWSER is set but MUSTER_TEST_WEBDRIVER is not; run scripts/test, \
                 or start chromedriver and set MUSTER_TEST_WEBDRIVER=http://127.0.0.1:<port>"
            );
            eprintln!("skipping browser test: MUSTER_TEST_WEBDRIVER is not set (scripts/test sets it)");
            None
        }
    }
}

/// One headless Chromium session pointed at one test server.
struct Browser {
    c: Client,
    base: String,
    shots: PathBuf,
    step: AtomicU32,
}

impl Browser {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Opens `path` on the test server.
    async fn goto(&self, path: &str) {
        self.c.goto(&self.url(path)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// The path of the page shown now.
    async fn path(&self) -> String {
        self.c.current_url().await.expect("current URL").path().to_owned()
    }

    async fn find(&self, css: &str) -> Element {
        match self.c.find(Locator::Css(css)).await {
            Ok(el) => el,
            Err(e) => {
                let path = self.path().await;
                let body = self.body_text().await;
                panic!("no element {css} on {path}: {e}\npage text:\n{body}")
            }
        }
    }

    async fn exists(&self, css: &str) -> bool {
        !self.c.find_all(Locator::Css(css)).await.expect("find_all").is_empty()
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text").trim().to_owned()
    }

    async fn body_text(&self) -> String {
        match self.c.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn fill(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.clear().await.expect("clear field");
        el.send_keys(value).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Runs `action`, which must make the browser load a new document, and
    /// waits until the old one is gone (a POST to the same URL counts too).
    async fn navigating<F: Future<Output = Result<(), fantoccini::error::CmdError>>>(&self, what: &str, action: F) {
        let old = self.find("html").await;
        action.await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let start = Instant::now();
        loop {
            match old.tag_name().await {
                Err(e) if e.is_stale_element_reference() || e.is_no_such_element() => break,
                // Chromium sometimes reports the old document's node this way instead of as stale.
                Err(e) if e.to_string().contains("does not belong to the document") => break,
                Err(e) => panic!("{what}: waiting for the next page: {e}"),
                Ok(_) => {}
            }
            assert!(start.elapsed() < PAGE_TIMEOUT, "{what}: no new page after {PAGE_TIMEOUT:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Commands wait for the new document to load; this one also proves it is there.
        self.c.wait().at_most(PAGE_TIMEOUT).for_element(Locator::Css("body")).await.expect("new page has a body");
    }

    /// Clicks the element and waits for the page it leads to.
    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.navigating(&format!("click {css}"), el.click()).await;
    }

    /// Saves a screenshot as `NN-name.png`.
    async fn shot(&self, name: &str) {
        let n = self.step.fetch_add(1, Ordering::Relaxed) + 1;
        let png = self.c.screenshot().await.expect("screenshot");
        let file = self.shots.join(format!("{n:02}-{name}.png"));
        std::fs::write(&file, png).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    }

    /// Fills and submits the login form; the caller checks where it leads.
    async fn log_in(&self, username: &str, password: &str) {
        if self.path().await != "/login" {
            self.goto("/login").await;
        }
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#login-submit").await;
    }

    async fn h1(&self) -> String {
        self.text("h1").await
    }

    /// The id of the focused element, polled until it is `want` or a few seconds
    /// pass: autofocus lands after the document loads, later on a busy machine.
    async fn focused_id(&self, want: &str) -> Option<String> {
        let start = Instant::now();
        loop {
            let id = self.c.active_element().await.expect("active element").attr("id").await.expect("id attribute");
            if id.as_deref() == Some(want) || start.elapsed() > Duration::from_secs(5) {
                return id;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the selected option of a `<select>`.
    async fn selected_option(&self, select_css: &str) -> String {
        self.text(&format!("{select_css} option:checked")).await
    }
}

/// Starts Chromium for `test`, runs `scenario` with it and closes the browser
/// even when the scenario fails, then re-raises the failure.
async fn with_browser<F, Fut>(test: &str, server: &TestServer, scenario: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(webdriver) = webdriver_url() else { return };
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ]
    .iter()
    .map(ToString::to_string)
    .chain([format!("--user-data-dir={}", profile.path().display())])
    .collect::<Vec<_>>();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), json!({ "binary": "/usr/bin/chromium", "args": args }));
    // Both of rustls' providers are compiled in (see the workspace manifest), so choose one;
    // another test thread may have done so already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = ClientBuilder::rustls()
        .expect("TLS roots for the WebDriver client")
        .capabilities(caps)
        .connect(&webdriver)
        .await
        .unwrap_or_else(|e| panic!("start Chromium through chromedriver at {webdriver}: {e}"));

    let shots = muster_testkit::output_dir(&format!("browser/{test}"));
    for old in std::fs::read_dir(&shots).expect("list screenshot folder").flatten() {
        if old.path().extension().is_some_and(|e| e == "png") {
            std::fs::remove_file(old.path()).ok();
        }
    }
    let browser = Browser { c: client.clone(), base: server.base.clone(), shots, step: AtomicU32::new(0) };
    // A panic inside the task becomes a JoinError, so the browser is closed either way.
    let outcome = tokio::spawn(scenario(browser)).await;
    if let Err(e) = client.close().await {
        eprintln!("closing Chromium failed: {e}");
    }
    drop(profile);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_first_login_changes_password_creates_user_and_logs_out() {
    let server = TestServer::start().await;
    let one_time = server.admin_password.clone();
    with_browser("admin_first_login_changes_password_creates_user_and_logs_out", &server, |b| async move {
        // Anonymous visitors are sent to the login page.
        b.goto("/").await;
        assert_eq!(b.path().await, "/login");
        assert!(b.exists("#login-form").await);
        b.shot("login-page").await;

        b.log_in("admin", &one_time).await;
        assert_eq!(b.path().await, "/account/password", "a one-time password leads to the password page");
        assert!(b.text("#forced-notice").await.contains("one-time password"));
        b.shot("forced-password-page").await;

        // Every other page sends the user back here until the password is changed.
        b.goto("/alerts").await;
        assert_eq!(b.path().await, "/account/password");

        let new_password = "correct horse battery staple";
        b.fill("#current_password", &one_time).await;
        b.fill("#new_password", new_password).await;
        b.fill("#confirm_password", new_password).await;
        b.click("#password-submit").await;
        assert_eq!(b.path().await, "/");
        assert_eq!(b.h1().await, "Platform operator");
        assert_eq!(b.text("#current-org").await, "Platform operator");
        assert_eq!(b.text("#current-user").await, "admin");
        assert_eq!(b.text("#users-in-org").await, "1");
        b.shot("home").await;

        // Every area in the navigation.
        let areas = [
            ("Alerts", "/alerts", "Alerts"),
            ("Incidents", "/incidents", "Incidents"),
            ("Playbooks", "/playbooks", "Playbooks"),
            ("Intel", "/intel", "Intel"),
            ("Coordination", "/coordination", "Coordination"),
            ("Reports", "/reports", "Reports"),
            ("Admin", "/admin/users", "Users"),
        ];
        for (label, path, h1) in areas {
            let link = b.c.find(Locator::LinkText(label)).await.unwrap_or_else(|e| panic!("nav link {label}: {e}"));
            b.navigating(&format!("nav {label}"), link.click()).await;
            assert_eq!(b.path().await, path, "nav link {label}");
            assert_eq!(b.h1().await, h1, "heading of {path}");
            let current = b.text("nav.areas a[aria-current=page]").await;
            assert_eq!(current, label, "{label} is marked as the current area");
            b.shot(&format!("area-{}", label.to_lowercase())).await;
        }

        // Admin → Users → add a user.
        b.click("nav.sub a[href='/admin/users']").await;
        assert_eq!(b.h1().await, "Users");
        assert!(b.exists("#users tr[data-username=admin]").await);
        assert!(!b.exists("#users tr[data-username='ana.lyst']").await);
        b.fill("#new-username", "ana.lyst").await;
        b.fill("#new-display-name", "Ana Lyst").await;
        b.find("#new-role").await.select_by_label("analyst").await.expect("choose role");
        let ana_one_time = "ana-one-time-pass-1";
        b.fill("#new-password", ana_one_time).await;
        b.shot("user-form-filled").await;
        b.click("#user-submit").await;
        assert_eq!(b.path().await, "/admin/users");
        assert!(b.text("#notice").await.starts_with("User created."));
        let row = b.text("#users tr[data-username='ana.lyst']").await;
        for want in ["ana.lyst", "Ana Lyst", "Platform operator", "analyst", "active"] {
            assert!(row.contains(want), "new user's row {row:?} lacks {want:?}");
        }
        b.shot("user-created").await;

        // Log out: back on the login page, and the session is gone.
        b.click("#logout").await;
        assert_eq!(b.path().await, "/login");
        assert!(b.exists("#login-form").await);
        b.shot("logged-out").await;
        b.goto("/admin/users").await;
        assert_eq!(b.path().await, "/login", "the old session no longer opens pages");

        // The new user logs in with the one-time password and must change it.
        b.log_in("ana.lyst", ana_one_time).await;
        assert_eq!(b.path().await, "/account/password");
        assert!(b.exists("#forced-notice").await);
        assert_eq!(b.text("#current-user").await, "ana.lyst");
        b.shot("new-user-forced-password").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_shows_error_and_keeps_user_on_login() {
    let server = TestServer::start().await;
    let org = server.org("cert-wp").await;
    server.user("wanda", org.id, Role::Analyst, "wandas-real-password").await;
    with_browser("wrong_password_shows_error_and_keeps_user_on_login", &server, |b| async move {
        b.goto("/login").await;
        assert_eq!(
            b.focused_id("username").await.as_deref(),
            Some("username"),
            "an empty login form starts at the username"
        );
        b.log_in("wanda", "not-her-password").await;
        assert_eq!(b.path().await, "/login");
        assert_eq!(b.text("#login-error").await, "Unknown username or wrong password.");
        assert_eq!(b.find("#username").await.prop("value").await.unwrap().as_deref(), Some("wanda"));
        assert_eq!(b.find("#password").await.prop("value").await.unwrap().as_deref(), Some(""));
        assert_eq!(
            b.focused_id("password").await.as_deref(),
            Some("password"),
            "the password field has the focus for the retry"
        );
        assert!(!b.exists("#logout").await, "no session after a failed login");
        b.shot("wrong-password").await;

        // Still not logged in.
        b.goto("/").await;
        assert_eq!(b.path().await, "/login");

        // One mistake does not lock the account: the right password works.
        b.log_in("wanda", "wandas-real-password").await;
        assert_eq!(b.path().await, "/");
        assert_eq!(b.h1().await, "Org cert-wp");
        b.shot("then-right-password").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_switches_organisation() {
    let server = TestServer::start().await;
    let home = server.org("cert-home").await;
    let other = server.org("cert-other").await;
    let coord = server.user("cora", home.id, Role::Coordinator, "coras-long-password").await;
    server.store.add_membership(coord.id, other.id, Role::Coordinator).await.unwrap();
    let other_id = other.id.to_string();
    let home_id = home.id.to_string();
    with_browser("coordinator_switches_organisation", &server, |b| async move {
        b.log_in("cora", "coras-long-password").await;
        assert_eq!(b.path().await, "/");
        assert_eq!(b.h1().await, "Org cert-home");
        assert_eq!(b.selected_option("#org-select").await, "Org cert-home");
        let options = b.c.find_all(Locator::Css("#org-select option")).await.unwrap();
        assert_eq!(options.len(), 2, "both memberships are offered");
        b.shot("home-org").await;

        // Choosing an organisation submits the switcher (static/app.js).
        let select = b.find("#org-select").await;
        b.navigating("switch organisation", select.select_by_value(&other_id)).await;
        assert_eq!(b.path().await, "/");
        assert_eq!(b.h1().await, "Org cert-other");
        assert_eq!(b.selected_option("#org-select").await, "Org cert-other");
        assert_eq!(b.find("#org-select").await.prop("value").await.unwrap().as_deref(), Some(other_id.as_str()));
        b.shot("other-org").await;

        // The choice holds for later pages, and switching returns to the page it was made on.
        b.goto("/incidents").await;
        assert_eq!(b.selected_option("#org-select").await, "Org cert-other");
        let select = b.find("#org-select").await;
        b.navigating("switch back", select.select_by_value(&home_id)).await;
        assert_eq!(b.path().await, "/incidents");
        assert_eq!(b.selected_option("#org-select").await, "Org cert-home");
        b.goto("/").await;
        assert_eq!(b.h1().await, "Org cert-home");
        b.shot("switched-back").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_created_in_ui_is_shown_once_and_works_for_the_api() {
    let server = TestServer::start().await;
    let org = server.org("cert-tok").await;
    server.user("tess", org.id, Role::Admin, "tess-long-password").await;
    let api_base = server.base.clone();
    with_browser("token_created_in_ui_is_shown_once_and_works_for_the_api", &server, |b| async move {
        b.log_in("tess", "tess-long-password").await;
        assert_eq!(b.path().await, "/");
        b.click("#nav-admin").await;
        b.click("nav.sub a[href='/admin/tokens']").await;
        assert_eq!(b.h1().await, "API tokens");
        assert!(!b.exists("#new-token").await);
        b.shot("tokens-page").await;

        b.fill("#token-form input[name=name]", "siem-prod").await;
        b.find("#token-form select[name=role]").await.select_by_label("analyst").await.expect("choose role");
        b.click("#token-form button[type=submit]").await;
        let secret = b.text("#new-token").await;
        assert!(secret.starts_with("mst_") && secret.len() > 20, "a token secret is shown: {secret:?}");
        let row = b.text("#tokens tbody tr").await;
        assert!(row.contains("siem-prod") && row.contains("analyst") && row.contains("active"), "row {row:?}");
        b.shot("token-shown-once").await;

        // The token works for the API, as the user who made it, with the role chosen.
        let me: serde_json::Value = reqwest::Client::new()
            .get(format!("{api_base}/api/v1/me"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .expect("/api/v1/me accepts the new token")
            .json()
            .await
            .unwrap();
        assert_eq!(me["username"], "tess");
        assert_eq!(me["authenticated_by"], "token");
        assert_eq!(me["role"], "analyst");
        assert_eq!(me["organisation"]["slug"], "cert-tok");

        // Opening the page again shows the token's row but never its secret.
        b.goto("/admin/tokens").await;
        assert!(!b.exists("#new-token").await);
        assert!(b.text("#tokens tbody tr").await.contains("siem-prod"));
        let source = b.c.source().await.unwrap();
        assert!(!source.contains(&secret), "the secret is on the page again");
        b.shot("token-hidden-after-reload").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_page_shows_error_page_whose_back_link_returns() {
    let server = TestServer::start().await;
    let org = server.org("cert-err").await;
    server.user("eric", org.id, Role::Analyst, "erics-long-password").await;
    with_browser("unknown_page_shows_error_page_whose_back_link_returns", &server, |b| async move {
        b.log_in("eric", "erics-long-password").await;
        b.goto("/reports").await;
        b.goto("/no-such-page").await;
        assert_eq!(b.h1().await, "404 Not Found");
        assert!(b.text("#error-message").await.contains("/no-such-page"));
        b.shot("not-found").await;
        // The CSP forbids `javascript:` links; static/app.js makes this one go back.
        b.click("#error-back").await;
        assert_eq!(b.path().await, "/reports", "Back returns to the page before the error");
        assert_eq!(b.h1().await, "Reports");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyst_triages_an_alert_into_an_incident_and_closes_it() {
    let server = TestServer::start().await;
    let org = server.org("soc-ui").await;
    let analyst = server.user("tess", org.id, Role::Analyst, "tess-long-password").await;
    let token = server.token(&analyst, Role::Analyst).await;
    let eve = std::fs::read(muster_testkit::shared_data().join("samples/suricata-eve/elastic-beats/eve-metadata.log"))
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/alerts?format=eve", server.base))
        .bearer_auth(&token)
        .body(eve)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    with_browser("analyst_triages_an_alert_into_an_incident_and_closes_it", &server, |b| async move {
        b.log_in("tess", "tess-long-password").await;
        b.click("a[href='/alerts']").await;
        assert_eq!(b.h1().await, "Alerts");
        b.shot("queue").await;
        b.find("#alerts input[name='alert_ids']").await.click().await.unwrap();
        b.fill("#incident-title-input", "Suspicious traffic flagged by Suricata").await;
        b.click("#open-incident").await;
        assert!(b.path().await.starts_with("/incidents/incident--"));
        assert_eq!(b.text("#incident-title").await, "Suspicious traffic flagged by Suricata");
        assert_eq!(b.text("#incident-status").await, "new");
        b.shot("incident-new").await;

        b.find("#next-status").await.select_by_value("contained").await.unwrap();
        b.click("#status-submit").await;
        assert_eq!(b.text("#incident-status").await, "contained");
        b.find("#next-status").await.select_by_value("closed").await.unwrap();
        b.find("#resolution").await.select_by_value("true-positive").await.unwrap();
        b.click("#status-submit").await;
        assert_eq!(b.text("#incident-status").await, "closed");
        assert_eq!(b.text("#incident-resolution").await, "true-positive");
        let timeline = b.text("#timeline").await;
        assert!(timeline.contains("contained → closed (true-positive)"), "{timeline}");
        b.shot("incident-closed").await;

        b.click("a[href='/incidents']").await;
        assert!(b.text("#incidents").await.contains("Suspicious traffic flagged by Suricata"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyst_edits_an_incident_adds_a_task_a_comment_and_evidence() {
    let server = TestServer::start().await;
    let org = server.org("soc-work").await;
    let analyst = server.user("tess", org.id, Role::Analyst, "tess-long-password").await;
    server.user("cole", org.id, Role::Analyst, "cole-long-password").await;
    let token = server.token(&analyst, Role::Analyst).await;
    let inc: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/incidents", server.base))
        .bearer_auth(&token)
        .json(&json!({"title": "Phishing wave against finance", "severity": "medium"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/incidents/{}", inc["id"].as_str().unwrap());
    let evidence = tempfile::NamedTempFile::with_suffix(".eml").unwrap();
    std::fs::write(evidence.path(), b"From: ceo@example.org\r\nSubject: urgent transfer\r\n\r\nPay now.\r\n").unwrap();
    let evidence_path = evidence.path().to_string_lossy().into_owned();
    let evidence_name = evidence.path().file_name().unwrap().to_string_lossy().into_owned();
    with_browser("analyst_edits_an_incident_adds_a_task_a_comment_and_evidence", &server, |b| async move {
        b.log_in("tess", "tess-long-password").await;
        b.goto(&path).await;
        assert_eq!(b.text("#incident-severity").await, "medium");
        b.shot("incident").await;

        b.find("#edit-severity").await.select_by_value("critical").await.unwrap();
        b.find("#edit-assignee").await.select_by_label("cole").await.unwrap();
        b.click("#edit-submit").await;
        assert_eq!(b.text("#incident-severity").await, "critical");
        assert_eq!(b.text("#incident-assignee").await, "cole");
        let timeline = b.text("#timeline").await;
        assert!(timeline.contains("severity: medium → critical") && timeline.contains("assignee: nobody → cole"));
        b.shot("edited").await;

        b.fill("#task-title", "Block the sender domain").await;
        b.click("#task-form button[type=submit]").await;
        assert!(b.text("#tasks").await.contains("Block the sender domain"));
        assert_eq!(b.text("#tasks .task-status").await, "todo");
        b.find("#tasks select[name=status]").await.select_by_value("done").await.unwrap();
        b.click("#tasks .task-set").await;
        assert_eq!(b.text("#tasks .task-status").await, "done");
        b.shot("task-done").await;

        b.fill("#comment-text", "Twelve users received it; two clicked.").await;
        b.click("#comment-form button[type=submit]").await;
        assert!(b.text("#comments").await.contains("Twelve users received it; two clicked."));

        b.find("#upload-file").await.send_keys(&evidence_path).await.unwrap();
        b.click("#upload-submit").await;
        let table = b.text("#attachments").await;
        assert!(table.contains(&evidence_name), "{table}");
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&evidence_path).unwrap()));
        assert!(table.contains(&sha), "the hash is shown: {table}");
        b.shot("evidence").await;
    })
    .await;
}

/// Presses keys on the page as a user would (WebDriver key actions on whatever has focus).
async fn press(b: &Browser, keys: &str) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut actions = KeyActions::new("keyboard".into());
    for k in keys.chars() {
        actions = actions.then(KeyAction::Down { value: k }).then(KeyAction::Up { value: k });
    }
    b.c.perform_actions(actions).await.unwrap_or_else(|e| panic!("press {keys:?}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyst_filters_incidents_by_status_and_text_and_opens_one_with_the_keyboard() {
    let server = TestServer::start().await;
    let org = server.org("soc-search").await;
    let _analyst = server.user("sam", org.id, Role::Analyst, "sam-long-password").await;
    for (title, status) in
        [("Payroll phishing wave", "triage"), ("Payroll export misconfigured", "closed"), ("VPN brute force", "triage")]
    {
        let new = muster_store::NewIncident {
            title: title.into(),
            description: String::new(),
            severity: "high".into(),
            tlp: muster_core::Tlp::Amber,
            pap: "PAP:AMBER".into(),
            rsit_type: None,
            alert_ids: vec![],
        };
        let id = server.store.create_incident(org.id, &new, "test").await.unwrap().id;
        server.store.tamper_for_tests(&format!("UPDATE incidents SET status = '{status}' WHERE id = '{id}'")).await;
    }
    with_browser(
        "analyst_filters_incidents_by_status_and_text_and_opens_one_with_the_keyboard",
        &server,
        |b| async move {
            b.log_in("sam", "sam-long-password").await;
            b.click("a[href='/incidents']").await;
            assert_eq!(b.find("#incidents tbody").await.find_all(Locator::Css("tr")).await.unwrap().len(), 3);
            // "/" jumps to the search box.
            press(&b, "/").await;
            assert_eq!(b.focused_id("q").await.as_deref(), Some("q"));
            b.fill("#q", "payroll").await;
            b.find("#status option[value='triage']").await.click().await.unwrap();
            b.shot("filter").await;
            b.click("#search-button").await;
            let rows = b.text("#incidents tbody").await;
            assert!(rows.contains("Payroll phishing wave"), "{rows}");
            assert!(!rows.contains("misconfigured") && !rows.contains("VPN"), "{rows}");
            let url = b.c.current_url().await.unwrap();
            assert!(url.query().unwrap_or_default().contains("q=payroll"), "bookmarkable: {url}");
            b.shot("filtered").await;
            // j selects the first row, Enter opens it.
            press(&b, "j").await;
            assert!(b.exists("#incidents tbody tr.current").await);
            let enter = async {
                use fantoccini::actions::{InputSource, KeyAction, KeyActions};
                let actions = KeyActions::new("keyboard".into())
                    .then(KeyAction::Down { value: '\u{E007}' })
                    .then(KeyAction::Up { value: '\u{E007}' });
                b.c.perform_actions(actions).await
            };
            b.navigating("press Enter", enter).await;
            assert!(b.path().await.starts_with("/incidents/incident--"));
            assert_eq!(b.text("#incident-title").await, "Payroll phishing wave");
            b.shot("opened").await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_imports_a_playbook_runs_it_and_completes_its_manual_step() {
    let server = TestServer::start_with(common::Backend::Sqlite, |c| c.playbook_allow_hosts = vec!["127.0.0.1".into()])
        .await
        .unwrap();
    let org = server.org("soc-pb").await;
    server.user("cleo", org.id, Role::Coordinator, "cleo-long-password").await;
    // The security tool the playbook calls.
    let calls = std::sync::Arc::new(AtomicU32::new(0));
    let seen = std::sync::Arc::clone(&calls);
    let app = axum::Router::new().fallback(move || {
        let seen = std::sync::Arc::clone(&seen);
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = |k: &str, n: u32| format!("{k}--00000000-0000-4000-8000-{n:012}");
    let agent = s("http-api", 100);
    let doc = json!({
        "type": "playbook", "spec_version": "cacao-2.0", "id": "playbook--00000000-0000-4000-8000-0000000b0001",
        "name": "Contain a host", "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "workflow_start": s("start", 1),
        "workflow": {
            s("start", 1): {"type": "start", "on_completion": s("action", 2)},
            s("action", 2): {"type": "action", "name": "Isolate", "agent": agent, "on_success": s("action", 3),
                "commands": [{"type": "http-api", "command": "POST /isolate/__host__:value HTTP/1.1"}]},
            s("action", 3): {"type": "action", "name": "Check", "agent": agent, "on_success": s("end", 9), "out_args": ["__note__"],
                "commands": [{"type": "manual", "command": "Confirm the host is isolated", "description": "Confirm isolation"}]},
            s("end", 9): {"type": "end"}
        },
        "playbook_variables": {"__host__": {"type": "string", "external": true}, "__note__": {"type": "string", "value": ""}},
        "agent_definitions": {agent: {"type": "http-api", "name": "edr", "address": {"ipv4": ["127.0.0.1"]}, "port": port.to_string()}}
    })
    .to_string();
    with_browser("coordinator_imports_a_playbook_runs_it_and_completes_its_manual_step", &server, |b| async move {
        b.log_in("cleo", "cleo-long-password").await;
        b.click("a[href='/playbooks']").await;
        assert_eq!(b.h1().await, "Playbooks");
        b.fill("#playbook-document", &doc).await;
        b.click("#import-submit").await;
        assert_eq!(b.text("#playbook-name").await, "Contain a host");
        assert!(b.exists(".workflow-graph").await);
        b.shot("playbook").await;
        b.fill("input[data-var='__host__']", "ws-042").await;
        b.click("#start-run-submit").await;
        assert!(b.path().await.starts_with("/playbook-runs/"));
        // The page follows the run by itself until the analyst's form appears.
        let start = Instant::now();
        while !b.exists("form.task").await {
            assert!(start.elapsed() < Duration::from_secs(15), "no task form: {}", b.body_text().await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        b.shot("task").await;
        b.fill("input[data-out='__note__']", "isolated, EDR shows no traffic").await;
        b.click(".task-complete").await;
        let run_page = b.path().await;
        let start = Instant::now();
        loop {
            b.goto(&run_page).await;
            if b.text("#run-status").await == "completed" {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "run did not complete: {}", b.body_text().await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(b.text("#run-variables").await.contains("isolated, EDR shows no traffic"));
        b.shot("completed").await;
    })
    .await;
    // The tool is called by the run the browser started (none when the browser part is skipped).
    let expected = u32::from(webdriver_url().is_some());
    assert_eq!(calls.load(Ordering::SeqCst), expected, "calls to the security tool");
}
