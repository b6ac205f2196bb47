//! Persistence: one sqlx `AnyPool` over SQLite (default) or PostgreSQL, one migration folder.
//!
//! The store knows tables, not calls: it is given records and events to keep and answers
//! queries. Every query is a runtime `&'static str` with `$N` placeholders, which both engines
//! accept; times are `i64` epoch milliseconds; see docs/schema.md for every table.
//! Repositories per table live in the submodules (`customers`, `calls`, `intakes`, `events`,
//! `agents`, `quality`, `demo`; the desk's work lists in `desk`, `worklist`, `notes`,
//! `tickets`, `my_calls`); `sql` assembles the few statements whose shape depends on the
//! request; `testing` gives each test a fresh database.

mod accounts;
mod agents;
mod audit;
mod call_legs;
mod calls;
mod claims;
mod codec;
mod customer_edit;
mod customers;
mod demo;
mod desk;
mod directory;
mod error;
mod escalations;
mod events;
mod intakes;
pub mod journal;
mod migrations;
mod my_calls;
mod notes;
mod outbound;
pub mod outbox;
mod outbox_intake;
mod quality;
mod queue;
pub(crate) mod reports;
mod sessions;
mod sla_rows;
mod sql;
mod targets;
pub mod testing;
mod tickets;
mod vendor_cases;
mod work;
mod worklist;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use accounts::{AgentPatch, agent_audit_view};
pub use agents::{AgentRow, NewAgent, ROLES};
pub use audit::{AuditRow, DayCalls, EscalationCount, NewAudit};
pub use call_legs::{CallLeg, Transfer};
pub use calls::{CallEnd, CallRow, CallTransport, HangupBy, NewCall, Outcome};
pub use customer_edit::{CustomerData, CustomerQuery};
pub use customers::Customer;
pub use demo::DemoSummary;
pub use desk::{IntakeEdit, NewManualIntake};
pub use directory::{
    CustomerSource, DirectoryPerson, SyncOutcome, SyncRun, SyncedFields, UpsertCounts,
};
pub use error::StoreError;
pub use escalations::{EscalationRow, NewEscalation};
pub use events::{EventRow, NewEvent};
pub use intakes::{IntakeRecord, IntakeStatus, NewIntake, WorkState, search_text};
pub use journal::{Journal, JournalSnapshot, Write};
pub use my_calls::{AnsweredCall, CallIntake};
pub use notes::{NoteKind, NoteRow};
pub use outbound::{NewOutboundCall, OutboundCallRow, OutboundEnd, OutboundKind, OutboundOutcome};
pub use outbox::{DeliveryState, KindFilter, OutboxRoutes, OutboxRow};
pub use outbox_intake::{CustomerRef, ExternalTicket, IntakeSnapshot, PersonRef};
pub use quality::{QualitySample, QualitySource};
pub use queue::{
    CallbackInsert, CallbackRow, NewCallback, NewVoiceMessage, OfferResult, new_voice_message_id,
};
pub use reports::{
    AgentFigures, Cell, Date, DayReport, ExportTable, MAX_REPORT_DAYS, QueueFigures, ReportRange,
    Zone,
};
pub use sessions::SessionRow;
pub use sla_rows::{MAX_SLA_ROWS, SlaRow};
pub use targets::{Target, TargetKind};
pub use tickets::{format_ticket_no, parse_ticket_no};
pub use vendor_cases::{DueFollowUp, VendorCase, VendorCaseEdit};
pub use work::{SlaPause, WorkRefusal};
pub use worklist::{GroupCount, IntakeFilter, IntakeSort, OwnerFilter, TextQuery};

/// Milliseconds since the Unix epoch, the unit of every time column.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Which engine a pool talks to; a few statements differ (`BEGIN IMMEDIATE`, PRAGMAs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Read-only SQLite connections for the work lists and the call set-up's look-ups (customer by
/// number, agent by id), which so never queue behind the writer (`Store::read`).
const READERS: u32 = 4;

/// Handle to the database; cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// The work lists' reads: read-only connections on a SQLite file, else `pool`.
    read: AnyPool,
    backend: Backend,
    /// The zone whose calendar year numbers tickets (`[desk] time_zone`).
    zone: Zone,
    /// The write-behind journal the server attached ([`Store::attach_journal`]), for
    /// [`Store::synced`].
    journal: std::sync::Arc<std::sync::OnceLock<Journal>>,
    /// The integration targets' routes and their workers' wake-up (`outbox`).
    outbox: std::sync::Arc<outbox::OutboxShared>,
}

impl Store {
    /// Opens `url` (`sqlite://firstline.db`, `sqlite::memory:`, `postgres://…`), migrates, and
    /// numbers older intakes; tickets count per year in `Europe/Amsterdam`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_in_zone(url, Zone::CentralEurope).await
    }

    /// [`Store::connect`] with ticket numbers counted per calendar year in `zone`.
    ///
    /// SQLite files are created when missing and run in WAL mode with `foreign_keys=ON` and a
    /// busy timeout; `sqlite::memory:` gets a single, never-recycled connection (each SQLite
    /// connection to `:memory:` is its own database). After the migrations, intakes from
    /// before migration 7 get their ticket numbers (idempotent).
    pub async fn connect_in_zone(url: &str, zone: Zone) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let memory = backend == Backend::Sqlite && is_memory(url);
        let url = match backend {
            Backend::Sqlite if !memory => with_create_mode(url),
            _ => url.to_owned(),
        };
        let options = match (backend, memory) {
            (Backend::Sqlite, true) => AnyPoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            // SQLite has one writer: several connections only take turns sleeping in its busy
            // handler (measured: BENCHMARKS.md). One connection queues work in the pool instead,
            // without sleeps. Never hold a transaction while awaiting another pool query.
            (Backend::Sqlite, false) => AnyPoolOptions::new().max_connections(1),
            (Backend::Postgres, _) => AnyPoolOptions::new().max_connections(10),
        };
        let options = match backend {
            Backend::Sqlite => sqlite_settings(options, memory, false),
            Backend::Postgres => options,
        };
        let pool = open(options, &url).await?;
        migrations::migrator()
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        // The work lists' long reads (the word search scans every intake's text when a word is
        // rare) run on their own read-only connections over the WAL, so they neither wait for
        // nor hold up the one writer connection the calls and screen pops use, and a search's
        // customer and intake halves run side by side. PostgreSQL's pool serves both.
        let read = if backend == Backend::Sqlite && !memory {
            let options = AnyPoolOptions::new().max_connections(READERS);
            open(sqlite_settings(options, false, true), &url).await?
        } else {
            pool.clone()
        };
        let store = Store {
            pool,
            read,
            backend,
            zone,
            journal: std::sync::Arc::default(),
            outbox: std::sync::Arc::default(),
        };
        store.backfill_ticket_numbers().await?;
        if backend == Backend::Postgres {
            store.postgres_trigram_indexes().await;
        }
        Ok(store)
    }

    /// On PostgreSQL, trigram indexes serve the work lists' `LIKE '%word%'` (intake words,
    /// customer names, organisations, e-mail) instead of a scan: a rare word or a name is found
    /// in a few ms at 100,000 intakes (BENCHMARKS.md, issue 10). They need the `pg_trgm`
    /// extension (PostgreSQL's contrib); a role that may not create it gets the same answers
    /// from a scan, with a warning in the log. `fastupdate = off`: a new intake's words go into
    /// the index at once instead of a pending list every search must scan until a vacuum. Not
    /// in the portable migrations: SQLite has no
    /// equivalent (docs/schema.md).
    async fn postgres_trigram_indexes(&self) {
        const STATEMENTS: [&str; 3] = [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            "CREATE INDEX IF NOT EXISTS intake_search_trgm_idx ON intake_search \
             USING gin (words gin_trgm_ops) WITH (fastupdate = off)",
            "CREATE INDEX IF NOT EXISTS customers_search_trgm_idx ON customers USING gin \
             (LOWER(name) gin_trgm_ops, LOWER(COALESCE(organisation, '')) gin_trgm_ops, \
             LOWER(COALESCE(email, '')) gin_trgm_ops) WITH (fastupdate = off)",
        ];
        for sql in STATEMENTS {
            if let Err(e) = sqlx::query(sql).execute(&self.pool).await {
                tracing::warn!(error = %e, "no trigram index for the work lists: searches scan");
                return;
            }
        }
    }

    /// The zone whose calendar year numbers tickets.
    pub fn time_zone(&self) -> Zone {
        self.zone
    }

    /// Starts the write-behind journal on this store and attaches it, so [`Store::synced`]
    /// waits for it; `stop` ends it after it committed what is queued.
    pub fn start_journal(
        &self,
        tasks: &tokio_util::task::TaskTracker,
        stop: tokio_util::sync::CancellationToken,
    ) -> Journal {
        let journal = Journal::start(self.clone(), tasks, stop);
        if self.journal.set(journal.clone()).is_err() {
            tracing::warn!("a second journal was started on one store");
        }
        journal
    }

    /// Returns once everything the journal was handed before this call is committed (at once
    /// without a journal): a reader that must see what the call path just wrote (the screen
    /// pop, the API) awaits this first. Never on the call or media path.
    pub async fn synced(&self) {
        if let Some(j) = self.journal.get() {
            j.synced().await;
        }
    }

    /// The pool, for reports and tests that read tables directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection; pending queries finish first.
    pub async fn close(&self) {
        self.read.close().await;
        self.pool.close().await;
    }

    /// The pool of the work lists' long reads (the same as [`Store::pool`] but on a SQLite
    /// file, where it is read-only connections beside the one writer).
    pub(crate) fn read_pool(&self) -> &AnyPool {
        &self.read
    }

    /// A connection of the writer pool for one statement (the `_on` query functions take it).
    pub(crate) async fn writer(
        &self,
        op: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        self.pool.acquire().await.map_err(StoreError::query(op))
    }

    /// Starts a write transaction; on SQLite `BEGIN IMMEDIATE` takes the writer lock up front,
    /// so the busy timeout applies (a deferred upgrade can fail with SQLITE_BUSY at once).
    pub(crate) async fn begin_write(
        &self,
        op: &'static str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(StoreError::query(op))
    }
}

/// The per-connection SQLite settings: WAL, foreign keys, a busy timeout, and pages through a
/// memory map into a 64 MiB cache (the work lists' scans read far more than SQLite's 2 MiB
/// default cache holds); `read_only` connections refuse writes (`query_only`).
fn sqlite_settings(options: AnyPoolOptions, memory: bool, read_only: bool) -> AnyPoolOptions {
    options.after_connect(move |conn, _meta| {
        Box::pin(async move {
            // Per-connection settings; journal_mode is persistent but cheap to repeat.
            if !memory && !read_only {
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&mut *conn)
                    .await?;
            }
            if !memory {
                sqlx::query("PRAGMA synchronous = NORMAL")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("PRAGMA mmap_size = 268435456")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("PRAGMA cache_size = -65536")
                    .execute(&mut *conn)
                    .await?;
            }
            if read_only {
                sqlx::query("PRAGMA query_only = ON")
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query("PRAGMA foreign_keys = ON")
                .execute(&mut *conn)
                .await?;
            // Wait up to 5 s for the writer lock before failing with SQLITE_BUSY.
            sqlx::query("PRAGMA busy_timeout = 5000")
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    })
}

async fn open(options: AnyPoolOptions, url: &str) -> Result<AnyPool, StoreError> {
    options
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .map_err(|source| StoreError::Connect {
            url: redact(url),
            source,
        })
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    let lower = url.get(..11).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if lower.starts_with("postgres://") || lower.starts_with("postgresql:") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl(redact(url)))
    }
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Adds `mode=rwc` (create if missing) unless the URL sets a mode itself.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The URL with any password replaced by `***`, for errors and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_helpers() {
        assert_eq!(backend_of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(
            backend_of("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(matches!(
            backend_of("mysql://h/db"),
            Err(StoreError::UnsupportedUrl(_))
        ));
        assert!(matches!(
            backend_of("é"),
            Err(StoreError::UnsupportedUrl(_))
        ));
        assert_eq!(with_create_mode("sqlite://x.db"), "sqlite://x.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://x.db?cache=shared"),
            "sqlite://x.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://x.db?mode=ro"),
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(
            redact("postgres://fl:secret@db:5432/fl"),
            "postgres://fl:***@db:5432/fl"
        );
        assert_eq!(redact("postgres://fl@db/fl"), "postgres://fl@db/fl");
    }

    #[test]
    fn now_ms_is_after_2025() {
        assert!(now_ms() > 1_735_689_600_000);
    }

    #[tokio::test]
    async fn memory_database_keeps_its_data_and_enforces_foreign_keys() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(busy, 5000);
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn file_database_is_created_in_wal_mode_and_reopens() {
        let (url, guard) = testing::sqlite_test_url();
        let store = Store::connect(&url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        store.close().await;
        // Reopening runs the (already applied) migrations again without error.
        let again = Store::connect(&url).await.unwrap();
        again.close().await;
        guard.cleanup().await;
    }
}
