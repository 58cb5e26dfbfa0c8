//! Bound-value placeholders for the large generated statements of bulk paths
//! (alert batches, correlation), in the form each backend binds fastest.
//!
//! Everywhere else the store writes portable `$n`. For statements with
//! thousands of values that form is slow on SQLite: sqlx asks SQLite for each
//! parameter's name, and SQLite finds a `$n` name by scanning the statement's
//! list of names, so binding costs grow with the square of the values (a
//! 1,700-value INSERT spent a third of the intake's time there). Anonymous
//! `?` parameters have no name and bind in order, so on SQLite the bulk
//! statements use `?` only (never mixed with `$n`: sqlx would number them
//! apart) and can carry thousands of values. PostgreSQL keeps `$n`.

use std::fmt::Write as _;

use crate::db::Backend;

/// Most values bound by one SQLite statement (its limit is 32,766).
const SQLITE_MAX_VALUES: usize = 16_000;
/// Most values bound by one PostgreSQL statement (its limit is 65,535).
const POSTGRES_MAX_VALUES: usize = 30_000;

/// Writes placeholders in order: `?` on SQLite, `$1`, `$2`, … on PostgreSQL.
pub(crate) struct Params {
    backend: Backend,
    next: usize,
}

impl Params {
    pub(crate) fn new(backend: Backend) -> Self {
        Self { backend, next: 1 }
    }

    /// One placeholder.
    pub(crate) fn one(&mut self, sql: &mut String) {
        match self.backend {
            Backend::Sqlite => sql.push('?'),
            Backend::Postgres => {
                let _ = write!(sql, "${}", self.next);
            }
        }
        self.next += 1;
    }

    /// `p, p, …` for `n` values (an `IN (…)` list).
    pub(crate) fn list(&mut self, sql: &mut String, n: usize) {
        for i in 0..n {
            if i > 0 {
                sql.push_str(", ");
            }
            self.one(sql);
        }
    }

    /// `(p, …, p<extra>)` for one row of `cols` values.
    pub(crate) fn row(&mut self, sql: &mut String, cols: usize, extra: &str) {
        sql.push('(');
        self.list(sql, cols);
        sql.push_str(extra);
        sql.push(')');
    }

    /// `(…), (…)` for `n` rows of `cols` values each.
    pub(crate) fn rows(&mut self, sql: &mut String, n: usize, cols: usize, extra: &str) {
        for r in 0..n {
            if r > 0 {
                sql.push_str(", ");
            }
            self.row(sql, cols, extra);
        }
    }
}

/// Rows per statement for rows of `cols` bound values, at most `max`.
pub(crate) fn rows_per_statement(backend: Backend, cols: usize, max: usize) -> usize {
    let values = match backend {
        Backend::Sqlite => SQLITE_MAX_VALUES,
        Backend::Postgres => POSTGRES_MAX_VALUES,
    };
    (values / cols.max(1)).clamp(1, max.max(1))
}

/// The backend of an open transaction or connection.
pub(crate) fn backend_of(conn: &sqlx::AnyConnection) -> Backend {
    if conn.backend_name().eq_ignore_ascii_case("postgresql") { Backend::Postgres } else { Backend::Sqlite }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_rows_are_anonymous_and_postgres_rows_numbered_in_order() {
        let mut sql = String::new();
        Params::new(Backend::Sqlite).rows(&mut sql, 2, 2, ", 0");
        assert_eq!(sql, "(?, ?, 0), (?, ?, 0)");
        let mut sql = String::new();
        let mut p = Params::new(Backend::Postgres);
        p.one(&mut sql);
        sql.push_str(" IN (");
        p.list(&mut sql, 2);
        sql.push(')');
        assert_eq!(sql, "$1 IN ($2, $3)");
    }

    #[test]
    fn statements_stay_under_each_backends_value_limit() {
        assert_eq!(rows_per_statement(Backend::Sqlite, 17, 10_000), 941);
        assert!(rows_per_statement(Backend::Sqlite, 17, 10_000) * 17 <= 32_766);
        assert_eq!(rows_per_statement(Backend::Postgres, 17, 100), 100);
        assert_eq!(rows_per_statement(Backend::Sqlite, 100_000, 10), 1);
    }
}
