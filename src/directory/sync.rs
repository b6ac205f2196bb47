//! The LDAP / Active Directory sync: one run reads every person (paged), upserts them by
//! external id in batches, then deactivates the people it did not see. A run that cannot
//! reach or bind to the directory, or fails part-way, deactivates nobody and is reported (its
//! `directory_syncs` row, [`Directory::status`], `/metrics`); the next interval tries again.
//! The runs belong to one task ([`Directory::start`]); "sync now" asks it over a bounded
//! channel. Nothing on the call path waits on it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::DirectorySection;
use super::ldap::{self, LdapFailure};
use super::mapping::synced_fields;
use crate::store::{CustomerSource, Store, SyncOutcome, now_ms};

/// People per write transaction.
const BATCH: usize = 500;
/// "Sync now" requests waiting for the task.
const REQUESTS: usize = 4;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No `[directory] url`.
    #[error("no directory is configured ([directory] url)")]
    NotConfigured,
    /// The directory.
    #[error(transparent)]
    Ldap(#[from] LdapFailure),
    /// The search found nobody while people from it are active: a wrong base DN or filter
    /// would otherwise deactivate everyone.
    #[error("the search found nobody; refusing to deactivate the {0} people from the directory")]
    Empty(i64),
    /// The database.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The sync task is gone or busy.
    #[error("the directory sync is not running or is busy; try again")]
    Unavailable,
}

/// What a run did.
pub type RunResult = Result<SyncOutcome, String>;

/// The sync's state for `GET /api/admin/directory` and `/metrics`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DirectoryStatus {
    /// Whether `[directory] url` is set.
    pub configured: bool,
    /// The server (no credentials are ever in it).
    pub url: String,
    /// Seconds between runs (0: on demand only).
    pub interval_secs: u64,
    /// Whether desk sign-in with directory accounts is on.
    pub sign_in: bool,
    /// Runs that ended well.
    pub syncs_ok: u64,
    /// Runs that failed.
    pub sync_failures: u64,
    /// Epoch ms of the last run that ended well (0: never).
    pub last_success_at: i64,
    /// Why the last run failed, if it did.
    pub last_error: Option<String>,
    /// Whether a run is going on.
    pub running: bool,
}

struct Shared {
    cfg: DirectorySection,
    ok: AtomicU64,
    failures: AtomicU64,
    last_success_ms: AtomicI64,
    last_error: Mutex<Option<String>>,
    running: std::sync::atomic::AtomicBool,
}

/// A cheap handle on the directory sync (and its config, for sign-in).
#[derive(Clone)]
pub struct Directory {
    shared: Arc<Shared>,
    requests: Option<mpsc::Sender<oneshot::Sender<RunResult>>>,
}

impl Directory {
    /// A handle with no task: no directory, or tests.
    pub fn disabled() -> Directory {
        Directory::new(DirectorySection::default(), None)
    }

    fn new(
        cfg: DirectorySection,
        requests: Option<mpsc::Sender<oneshot::Sender<RunResult>>>,
    ) -> Self {
        Directory {
            shared: Arc::new(Shared {
                cfg,
                ok: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                last_success_ms: AtomicI64::new(0),
                last_error: Mutex::new(None),
                running: std::sync::atomic::AtomicBool::new(false),
            }),
            requests,
        }
    }

    /// Starts the sync task when a directory is configured (its first run at once, then every
    /// `interval_secs`); stops with `stop`.
    pub fn start(
        cfg: &DirectorySection,
        country_code: &str,
        store: Store,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) -> Directory {
        if !cfg.enabled() {
            return Directory::new(cfg.clone(), None);
        }
        let (tx, rx) = mpsc::channel(REQUESTS);
        let dir = Directory::new(cfg.clone(), Some(tx));
        let task = dir.clone();
        let cc = country_code.to_owned();
        tasks.spawn(async move { task.run_loop(rx, store, cc, stop).await });
        dir
    }

    /// The `[directory]` section.
    pub fn config(&self) -> &DirectorySection {
        &self.shared.cfg
    }

    async fn run_loop(
        self,
        mut rx: mpsc::Receiver<oneshot::Sender<RunResult>>,
        store: Store,
        cc: String,
        stop: CancellationToken,
    ) {
        let interval = self.shared.cfg.interval_secs;
        let mut next = (interval > 0).then(tokio::time::Instant::now);
        loop {
            let due = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let reply = tokio::select! {
                () = stop.cancelled() => return,
                () = due => None,
                asked = rx.recv() => match asked {
                    Some(reply) => Some(reply),
                    None => return,
                },
            };
            let result = tokio::select! {
                () = stop.cancelled() => return,
                r = self.run(&store, &cc) => r,
            };
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
            if interval > 0 {
                next = Some(tokio::time::Instant::now() + Duration::from_secs(interval));
            }
        }
    }

    /// One run, recorded in `directory_syncs` and in the counters.
    async fn run(&self, store: &Store, cc: &str) -> RunResult {
        self.shared.running.store(true, Ordering::Relaxed);
        let result = run_recorded(&self.shared.cfg, store, cc).await;
        self.shared.running.store(false, Ordering::Relaxed);
        let mut last = self
            .shared
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(_) => {
                self.shared.ok.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .last_success_ms
                    .store(now_ms(), Ordering::Relaxed);
                *last = None;
            }
            Err(e) => {
                self.shared.failures.fetch_add(1, Ordering::Relaxed);
                *last = Some(e.clone());
            }
        }
        result
    }

    /// Runs a sync now (after the one going on, if any) and waits for it, at most `wait`.
    pub async fn sync_now(&self, wait: Duration) -> Result<RunResult, SyncError> {
        let requests = self.requests.as_ref().ok_or(SyncError::NotConfigured)?;
        let (tx, rx) = oneshot::channel();
        requests.try_send(tx).map_err(|_| SyncError::Unavailable)?;
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(result)) => Ok(result),
            _ => Err(SyncError::Unavailable),
        }
    }

    /// The state now.
    pub fn status(&self) -> DirectoryStatus {
        let s = &self.shared;
        DirectoryStatus {
            configured: s.cfg.enabled(),
            url: s.cfg.url.clone(),
            interval_secs: s.cfg.interval_secs,
            sign_in: s.cfg.enabled() && s.cfg.sign_in.enabled,
            syncs_ok: s.ok.load(Ordering::Relaxed),
            sync_failures: s.failures.load(Ordering::Relaxed),
            last_success_at: s.last_success_ms.load(Ordering::Relaxed),
            last_error: s.last_error.lock().map(|e| e.clone()).unwrap_or_default(),
            running: s.running.load(Ordering::Relaxed),
        }
    }
}

/// One run with its `directory_syncs` row; the error as text (for the status and the row).
pub async fn run_recorded(cfg: &DirectorySection, store: &Store, cc: &str) -> RunResult {
    let started = now_ms();
    let id = store
        .start_sync_run("ldap", started)
        .await
        .map_err(|e| e.to_string())?;
    let result = run_once(cfg, store, cc, started).await;
    let outcome = match &result {
        Ok(o) => o.clone(),
        Err(e) => SyncOutcome {
            error: Some(e.to_string()),
            ..SyncOutcome::default()
        },
    };
    if let Err(e) = store.finish_sync_run(&id, now_ms(), &outcome).await {
        tracing::warn!(error = %e, "cannot record the end of a directory sync");
    }
    match result {
        Ok(o) => {
            tracing::info!(
                seen = o.seen,
                inserted = o.counts.inserted,
                updated = o.counts.updated,
                deactivated = o.deactivated,
                rejected = o.rejected,
                "directory sync done"
            );
            Ok(o)
        }
        Err(e) => {
            tracing::warn!(error = %e, url = %cfg.url, "directory sync failed; nothing deactivated");
            Err(e.to_string())
        }
    }
}

/// Reads the directory and writes the customers; `started` stamps every person seen.
pub async fn run_once(
    cfg: &DirectorySection,
    store: &Store,
    cc: &str,
    started: i64,
) -> Result<SyncOutcome, SyncError> {
    if !cfg.enabled() {
        return Err(SyncError::NotConfigured);
    }
    let password = cfg.bind_password().map_err(LdapFailure::Config)?;
    let mut conn = ldap::connect(cfg).await?;
    conn.bind(cfg.bind_dn.trim(), password.as_deref().unwrap_or_default())
        .await?;
    let map = cfg.attribute_map();
    let fields = synced_fields(&ldap::mapped_fields(&map));
    let attrs = ldap::requested_attributes(&map);
    let mut entries = conn
        .search(
            &cfg.base_dn,
            &cfg.people_filter(),
            &attrs,
            cfg.page_size,
            cfg.max_entries,
        )
        .await?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut rejected = 0u64;
    let mut counts = crate::store::UpsertCounts::default();
    // One batch in memory: written (one transaction) before the next entries are read.
    while let Some(entry) = entries.next().await? {
        match ldap::person_of(&entry, &map).build(cc) {
            Ok(p) => batch.push(p),
            Err(problems) => {
                rejected += 1;
                let why: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field.name(), p.message))
                    .collect();
                tracing::info!(dn = %entry.dn, problems = %why.join("; "), "directory entry skipped");
            }
        }
        if batch.len() == BATCH {
            counts += store
                .upsert_directory_people(&batch, CustomerSource::Ldap, fields, started)
                .await?;
            batch.clear();
        }
    }
    let seen = entries.seen();
    drop(entries);
    conn.close().await;
    counts += store
        .upsert_directory_people(&batch, CustomerSource::Ldap, fields, started)
        .await?;
    let accepted = seen.saturating_sub(rejected);
    if accepted == 0 {
        let active = store
            .count_directory_customers(CustomerSource::Ldap)
            .await?;
        if active > 0 {
            return Err(SyncError::Empty(active));
        }
    }
    let deactivated = store
        .deactivate_unseen(CustomerSource::Ldap, started, now_ms())
        .await?;
    Ok(SyncOutcome {
        error: None,
        seen,
        counts,
        deactivated,
        rejected,
    })
}
