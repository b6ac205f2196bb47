//! The schema migrations in `migrations/`, embedded at compile time without sqlx's macros.
//!
//! `sqlx::migrate!` needs sqlx's `macros` feature; listing the files here keeps the build
//! lighter and gives the same checksums, so `sqlx migrate info` agrees with what ran.
//! A new migration is a new `NNNN_name.sql` file and a new line in `MIGRATIONS`.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQL) in order; versions match the file-name prefixes.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "agent_sip",
        include_str!("../../migrations/0002_agent_sip.sql"),
    ),
    (
        3,
        "queues",
        include_str!("../../migrations/0003_queues.sql"),
    ),
    (4, "desk", include_str!("../../migrations/0004_desk.sql")),
    (
        5,
        "supervisor",
        include_str!("../../migrations/0005_supervisor.sql"),
    ),
    (
        6,
        "webrtc",
        include_str!("../../migrations/0006_webrtc.sql"),
    ),
    (
        7,
        "worklists",
        include_str!("../../migrations/0007_worklists.sql"),
    ),
    (
        8,
        "callback_once",
        include_str!("../../migrations/0008_callback_once.sql"),
    ),
    (
        9,
        "interrupted",
        include_str!("../../migrations/0009_interrupted.sql"),
    ),
    (10, "admin", include_str!("../../migrations/0010_admin.sql")),
    (
        11,
        "directory",
        include_str!("../../migrations/0011_directory.sql"),
    ),
    (
        12,
        "outbox",
        include_str!("../../migrations/0012_outbox.sql"),
    ),
    (
        13,
        "second_level",
        include_str!("../../migrations/0013_second_level.sql"),
    ),
    (
        14,
        "vendor_cases",
        include_str!("../../migrations/0014_vendor_cases.sql"),
    ),
    (
        15,
        "outbound_calls",
        include_str!("../../migrations/0015_outbound_calls.sql"),
    ),
    (
        16,
        "call_legs",
        include_str!("../../migrations/0016_call_legs.sql"),
    ),
];

/// A migrator over every embedded migration; `run` is idempotent.
pub(crate) fn migrator() -> Migrator {
    migrator_upto(i64::MAX)
}

/// A migrator over the migrations up to `version` (tests of a data migration).
fn migrator_upto(version: i64) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .filter(|m| m.0 <= version)
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{TestDbGuard, test_database_url};

    /// A fresh test database (SQLite, or `TEST_DATABASE_URL`'s PostgreSQL) migrated up to
    /// `version`: its URL, a pool on it and the guard that drops it.
    async fn database_at(version: i64) -> (String, sqlx::AnyPool, TestDbGuard) {
        sqlx::any::install_default_drivers();
        let (url, guard) = test_database_url().await;
        let pool_url = if url.starts_with("sqlite:") {
            format!("{url}?mode=rwc")
        } else {
            url.clone()
        };
        let pool = sqlx::AnyPool::connect(&pool_url).await.unwrap();
        migrator_upto(version).run(&pool).await.unwrap();
        (url, pool, guard)
    }

    /// Every `migrations/*.sql` file is listed, with the version and name of its file name.
    #[test]
    fn every_migration_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect();
        assert_eq!(files, listed);
    }

    /// Migration 6 replaces `calls.hangup_by` (to allow `agent`): the values of calls
    /// recorded before it are kept.
    #[tokio::test]
    async fn migration_6_keeps_who_hung_up() {
        let (_, pool, guard) = database_at(5).await;
        for (id, by) in [
            ("c-1", Some("caller")),
            ("c-2", Some("server")),
            ("c-3", None),
        ] {
            sqlx::query(
                "INSERT INTO calls (id, sip_call_id, caller, transport, arrived_at, hangup_by) \
                 VALUES ($1, $1, '+31201234567', 'udp', 0, $2)",
            )
            .bind(id)
            .bind(by)
            .execute(&pool)
            .await
            .unwrap();
        }
        migrator().run(&pool).await.unwrap();
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, hangup_by FROM calls ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
        let expected = [
            ("c-1", Some("caller")),
            ("c-2", Some("server")),
            ("c-3", None),
        ]
        .map(|(i, b)| (i.to_owned(), b.map(str::to_owned)));
        assert_eq!(rows, expected);
        pool.close().await;
        guard.cleanup().await;
    }

    /// Migration 7 gives escalated intakes their group (the latest target) and the first
    /// start after it numbers every older intake, oldest first, in the Amsterdam year.
    #[tokio::test]
    async fn migration_7_keeps_groups_and_numbers_older_intakes() {
        let (url, pool, guard) = database_at(6).await;
        sqlx::query(
            "INSERT INTO agents (id, name, login, password_hash, created_at) \
             VALUES ('agent-a', 'A', 'a', 'x', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        // 2025-12-31 23:30 UTC is 2026 in Amsterdam; the other two are plainly 2025.
        for (id, level, at) in [
            ("intake-1", 1, 1_767_223_800_000_i64),
            ("intake-2", 3, 1_760_000_000_000),
            ("intake-3", 1, 1_750_000_000_000),
        ] {
            sqlx::query(
                "INSERT INTO intakes (id, category, ivr_path, status, level, created_at, updated_at) \
                 VALUES ($1, 'software', '', 'open', $2, $3, $3)",
            )
            .bind(id)
            .bind(level)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
        }
        for (seq, to, target) in [(1, 2, "Network"), (2, 3, "Cisco")] {
            sqlx::query(
                "INSERT INTO escalations (id, intake_id, seq, from_level, to_level, target, reason, \
                 agent_id, at) VALUES ($1, 'intake-2', $2, $3, $4, $5, 'r', 'agent-a', 0)",
            )
            .bind(format!("esc-{seq}"))
            .bind(seq)
            .bind(to - 1)
            .bind(to)
            .bind(target)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
        let store = crate::store::Store::connect(&url).await.unwrap();
        let rows: Vec<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT id, ticket_no, group_name FROM intakes ORDER BY id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let expected = [
            ("intake-1", Some("FL-2026-00001"), None),
            ("intake-2", Some("FL-2025-00002"), Some("Cisco")),
            ("intake-3", Some("FL-2025-00001"), None),
        ]
        .map(|(i, t, g)| (i.to_owned(), t.map(str::to_owned), g.map(str::to_owned)));
        assert_eq!(rows, expected);
        store.close().await;
        guard.cleanup().await;
    }

    /// Migration 8 holds one open callback per number: open duplicates from before it are
    /// closed as cancelled (each number keeps its earliest), closed ones are untouched.
    #[tokio::test]
    async fn migration_8_keeps_the_earliest_open_callback_per_number() {
        let (_, pool, guard) = database_at(7).await;
        for (id, number, at, status) in [
            ("cb-1", "+31201", 30, "pending"),
            ("cb-2", "+31201", 10, "offered"),
            ("cb-3", "+31201", 20, "pending"),
            ("cb-4", "+31201", 5, "done"),
            ("cb-5", "+31202", 40, "pending"),
        ] {
            sqlx::query(
                "INSERT INTO callbacks (id, number, category, queued_at, requested_at, status) \
                 VALUES ($1, $2, 'hardware', 0, $3, $4)",
            )
            .bind(id)
            .bind(number)
            .bind(at)
            .bind(status)
            .execute(&pool)
            .await
            .unwrap();
        }
        migrator().run(&pool).await.unwrap();
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, status FROM callbacks ORDER BY id")
                .fetch_all(&pool)
                .await
                .unwrap();
        let expected = [
            ("cb-1", "cancelled"),
            ("cb-2", "offered"),
            ("cb-3", "cancelled"),
            ("cb-4", "done"),
            ("cb-5", "pending"),
        ]
        .map(|(i, s)| (i.to_owned(), s.to_owned()));
        assert_eq!(rows, expected);
        // The index now refuses a second open one.
        let second = sqlx::query(
            "INSERT INTO callbacks (id, number, category, queued_at, requested_at) \
             VALUES ('cb-6', '+31202', 'hardware', 0, 50)",
        )
        .execute(&pool)
        .await;
        assert!(
            second.is_err(),
            "a second open callback for +31202 was stored"
        );
        pool.close().await;
        guard.cleanup().await;
    }
}
