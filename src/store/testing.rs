//! Test support: a fresh, migrated database per test (SQLite temp file, or PostgreSQL when
//! `TEST_DATABASE_URL` is set). Not `cfg(test)`: the integration tests in `tests/` use it too.
//!
//! Every call makes a new database, so tests run in parallel without seeing each other's rows.
//! Call [`TestDbGuard::cleanup`] at the end of a test: `Drop` cannot be async, so on drop only
//! SQLite files are removed; a PostgreSQL database left by a failed test keeps its `fl_test_`
//! name and can be dropped by hand.

use std::path::PathBuf;

use sqlx::{AnyPool, AssertSqlSafe, Connection};

use super::Store;

/// Environment variable naming a PostgreSQL server for the store tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`; the tests create and drop their own databases.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// Removes a test database; see the module docs for why `cleanup` must be awaited.
#[derive(Debug)]
pub struct TestDbGuard {
    target: Target,
    pool: Option<AnyPool>,
    /// The store's read-only connections (SQLite files), closed with `pool`.
    read: Option<AnyPool>,
}

#[derive(Debug)]
enum Target {
    Sqlite(PathBuf),
    Postgres { admin_url: String, database: String },
    Done,
}

impl TestDbGuard {
    /// Closes the store's pool (when the guard came from [`test_store`]) and drops the database.
    pub async fn cleanup(mut self) {
        if let Some(pool) = self.read.take() {
            pool.close().await;
        }
        if let Some(pool) = self.pool.take() {
            pool.close().await;
        }
        match std::mem::replace(&mut self.target, Target::Done) {
            Target::Sqlite(path) => remove_sqlite_files(&path),
            Target::Postgres {
                admin_url,
                database,
            } => {
                if let Ok(mut conn) = sqlx::AnyConnection::connect(&admin_url).await {
                    // `database` is `fl_test_` plus hex digits (see `fresh_name`): safe to format.
                    let sql = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
                    let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            }
            Target::Done => {}
        }
    }
}

impl Drop for TestDbGuard {
    fn drop(&mut self) {
        if let Target::Sqlite(path) = &self.target {
            remove_sqlite_files(path);
        }
    }
}

fn remove_sqlite_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn fresh_name() -> String {
    format!("fl_test_{:016x}", rand::random::<u64>())
}

/// A URL for a new SQLite file in the temp directory (created on connect).
pub fn sqlite_test_url() -> (String, TestDbGuard) {
    let path = std::env::temp_dir().join(format!("{}.db", fresh_name()));
    let url = format!("sqlite://{}", path.display());
    (
        url,
        TestDbGuard {
            target: Target::Sqlite(path),
            pool: None,
            read: None,
        },
    )
}

/// A URL for a new, empty database: on the `TEST_DATABASE_URL` server when set, else a SQLite
/// temp file. Pass it to the server config; the server migrates it on start.
///
/// Panics when the PostgreSQL server refuses to create the database: a test cannot run then.
pub async fn test_database_url() -> (String, TestDbGuard) {
    let Ok(base) = std::env::var(TEST_DATABASE_URL) else {
        return sqlite_test_url();
    };
    let database = fresh_name();
    let mut admin = sqlx::AnyConnection::connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to {TEST_DATABASE_URL}={}: {e}",
                super::redact(&base)
            )
        });
    // `database` is `fl_test_` plus hex digits: safe to format into SQL.
    let sql = format!("CREATE DATABASE {database}");
    if let Err(e) = sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await {
        panic!("cannot create test database {database}: {e}");
    }
    let _ = admin.close().await;
    let url = with_database(&base, &database);
    (
        url,
        TestDbGuard {
            target: Target::Postgres {
                admin_url: base,
                database,
            },
            pool: None,
            read: None,
        },
    )
}

/// A connected, migrated [`Store`] on a fresh database (see [`test_database_url`]).
///
/// Panics when the database cannot be opened: a test cannot run then.
pub async fn test_store() -> (Store, TestDbGuard) {
    sqlx::any::install_default_drivers();
    let (url, mut guard) = test_database_url().await;
    let store = Store::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot open test database {}: {e:?}", super::redact(&url)));
    guard.pool = Some(store.pool().clone());
    guard.read = Some(store.read_pool().clone());
    (store, guard)
}

/// `postgres://u@h:5432/test?x=y` with database `name` → `postgres://u@h:5432/name?x=y`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    // Byte offsets from `find` of ASCII patterns are char boundaries, so `get` never fails.
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", base.get(..path_start).unwrap_or(base));
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "fl_x"),
            "postgres://postgres@127.0.0.1:5432/fl_x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "fl_x"),
            "postgres://u:p@h/fl_x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "fl_x"),
            "postgres://u@h:5432/fl_x"
        );
    }

    #[tokio::test]
    async fn two_test_stores_are_isolated_and_cleanup_removes_sqlite_files() {
        let (a, ga) = test_store().await;
        let (b, gb) = test_store().await;
        sqlx::query("INSERT INTO events (seq, at, kind, payload) VALUES (1, 0, 'x', '{}')")
            .execute(a.pool())
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(b.pool())
            .await
            .unwrap();
        assert_eq!(n, 0);
        let path = match &ga.target {
            Target::Sqlite(p) => Some(p.clone()),
            _ => None,
        };
        ga.cleanup().await;
        gb.cleanup().await;
        if let Some(p) = path {
            assert!(!p.exists(), "{} left behind", p.display());
        }
    }
}
