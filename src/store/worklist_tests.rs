//! Tests of the work-list queries (SQLite, or PostgreSQL with `TEST_DATABASE_URL`).

use super::*;
