//! Test support shared by Muster's test suites: a fresh PostgreSQL database per
//! test (on the server that `scripts/test` starts), the shared third-party data
//! folder, and the test output folder for screenshots and logs.
//!
//! Not for production code.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::PathBuf;

/// `../shared/data` beside the checkout.
#[must_use]
pub fn shared_data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
}

/// `<workspace>/test-output/<name>`, created.
#[must_use]
pub fn output_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../test-output")).join(name);
    std::fs::create_dir_all(&dir).expect("create test-output folder");
    dir
}

/// The URL of a new, empty PostgreSQL database, or `None` when no test server
/// is configured. With `MUSTER_REQUIRE_PG=1` (set by `scripts/test`) a missing
/// server is a failure, not a skip.
pub async fn fresh_pg_database() -> Option<String> {
    let Ok(base) = std::env::var("MUSTER_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("MUSTER_REQUIRE_PG").is_err(),
            "MUSTER_REQUIRE_PG is set but MUSTER_TEST_DATABASE_URL is not"
        );
        eprintln!("skipping the PostgreSQL half: MUSTER_TEST_DATABASE_URL is not set (scripts/test sets it)");
        return None;
    };
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&base).await.expect("connect to the test PostgreSQL server");
    let name = format!("muster_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
    conn.close().await.ok();
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    Some(format!("{prefix}/{name}"))
}
