//! Hand-off to the helpdesk's ticket system and to any webhook receiver (docs/integrations.md):
//! the store writes an outbox row in the transaction of each change (`store::outbox`), one
//! worker per target delivers them in order ([`worker`]), retried with back-off
//! ([`retry`]) and dead-lettered when refused; admins and supervisors see, retry and pause
//! them (`http::integrations`). Adapters: signed webhooks ([`webhook`]), Request Tracker 5
//! ([`rt`]) and Zammad ([`zammad`]). Nothing here is on the call path: a slow receiver only
//! delays its own target.

pub mod client;
pub mod config;
pub mod retry;
pub mod rt;
mod stats;
mod ticket_text;
pub mod webhook;
pub mod wire;
mod worker;
pub mod zammad;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::store::{KindFilter, OutboxRoutes, OutboxRow, Store, StoreError, now_ms};
pub use config::{IntegrationsSection, Secret};
use retry::{Outcome, RetryPolicy};
pub use stats::StatsSnapshot;

/// What a target is.
#[derive(Debug)]
pub enum Adapter {
    /// A signed JSON webhook.
    Webhook(webhook::Webhook),
    /// Request Tracker 5.
    Rt(rt::Rt),
    /// Zammad.
    Zammad(zammad::Zammad),
}

impl Adapter {
    /// Delivers one row.
    async fn deliver(&self, row: &OutboxRow, store: &Store, target: &str) -> Outcome {
        match self {
            Adapter::Webhook(w) => w.deliver(row).await,
            Adapter::Rt(r) => r.deliver(row, store, target).await,
            Adapter::Zammad(z) => z.deliver(row, store, target).await,
        }
    }

    /// The admin's "test delivery": a ping, or a look at the ticket system with our account.
    async fn test(&self, target: &str) -> Outcome {
        match self {
            Adapter::Webhook(w) => w.ping(target).await,
            Adapter::Rt(r) => r.check().await,
            Adapter::Zammad(z) => z.check().await,
        }
    }

    /// `webhook`, `rt`, `zammad`.
    pub fn kind(&self) -> &'static str {
        match self {
            Adapter::Webhook(_) => "webhook",
            Adapter::Rt(_) => "rt",
            Adapter::Zammad(_) => "zammad",
        }
    }

    /// Whether it keeps a ticket per intake (`external_tickets`), so a dead row is an error
    /// shown on the intake.
    fn keeps_tickets(&self) -> bool {
        !matches!(self, Adapter::Webhook(_))
    }
}

/// One configured target.
#[derive(Debug)]
pub struct Target {
    /// Its unique name.
    pub name: String,
    /// Where it goes (no secrets).
    pub url: String,
    /// What it is.
    pub adapter: Adapter,
    /// The event kinds it takes.
    pub events: Vec<String>,
    paused: AtomicBool,
    /// Wakes the worker on resume.
    wake: tokio::sync::Notify,
    stats: stats::Stats,
}

/// A target as the admin page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetStatus {
    /// Name.
    pub name: String,
    /// `webhook`, `rt`, `zammad`.
    pub kind: &'static str,
    /// Address (no secrets).
    pub url: String,
    /// Event kinds; empty: all.
    pub events: Vec<String>,
    /// Paused by an admin.
    pub paused: bool,
    /// Rows waiting.
    pub pending: i64,
    /// The oldest waiting row's time (epoch ms).
    pub oldest_pending_at: Option<i64>,
    /// Rows given up.
    pub dead: i64,
    /// Rows delivered and still kept.
    pub delivered_kept: i64,
    /// Since start.
    pub stats: StatsSnapshot,
}

/// Called with an intake's id after a ticket system took (or refused) one of its events, so
/// the desks showing it get the ticket's number or error (`DeskHub::refresh_intake`).
pub type TicketChanged = Arc<dyn Fn(String) + Send + Sync>;

/// The running integrations; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Integrations {
    targets: Arc<Vec<Arc<Target>>>,
    store: Option<Store>,
}

impl Integrations {
    /// Builds every configured target (reading its secrets), routes the outbox to them, and
    /// starts their workers and the retention purge. `public_url` is the desk's address for
    /// links back to intakes.
    pub async fn start(
        cfg: &IntegrationsSection,
        public_url: &str,
        store: Store,
        tasks: &TaskTracker,
        stop: CancellationToken,
        on_ticket: Option<TicketChanged>,
    ) -> Result<Integrations, String> {
        cfg.check()?;
        let public_url = cfg.public_url.as_deref().unwrap_or(public_url).to_owned();
        let timeout = Duration::from_secs(cfg.retry.timeout_secs);
        let mut targets = Vec::new();
        for w in &cfg.webhook {
            let secret = config::read_secret(
                w.secret_env.as_deref(),
                w.secret_file.as_deref(),
                &format!("integrations.webhook {} secret", w.name),
            )?
            .ok_or_else(|| {
                format!(
                    "integration {}: a webhook needs secret_env or secret_file",
                    w.name
                )
            })?;
            let http = client::Http::new(w.ca_file.as_deref(), timeout)?;
            let adapter = Adapter::Webhook(webhook::Webhook {
                url: w.url.clone(),
                secret,
                http,
                public_url: public_url.clone(),
            });
            targets.push(target(&w.name, &w.url, adapter, w.events.clone()));
        }
        for r in &cfg.rt {
            let adapter = Adapter::Rt(rt::Rt::new(r, &public_url, timeout)?);
            targets.push(target(
                &r.name,
                &r.url,
                adapter,
                vec!["intake.*".to_owned()],
            ));
        }
        for z in &cfg.zammad {
            let z2 = zammad::Zammad::new(z, &public_url, timeout)?;
            let events = z2.events();
            targets.push(target(&z.name, &z.url, Adapter::Zammad(z2), events));
        }
        store.set_outbox_routes(OutboxRoutes::new(
            targets
                .iter()
                .map(|t| (t.name.clone(), KindFilter::new(&t.events)))
                .collect(),
        ));
        for t in &targets {
            let paused = store
                .integration_paused(&t.name)
                .await
                .map_err(|e| e.to_string())?;
            t.paused.store(paused, Ordering::Relaxed);
            let span =
                tracing::info_span!("integration", target = %t.name, kind = t.adapter.kind());
            tasks.spawn(
                worker::run(
                    t.clone(),
                    store.clone(),
                    RetryPolicy::new(&cfg.retry),
                    on_ticket.clone(),
                    stop.clone(),
                )
                .instrument(span),
            );
        }
        if !targets.is_empty() {
            let keep = Duration::from_secs(cfg.keep_delivered_days.max(1) * 86_400);
            tasks.spawn(purge(store.clone(), keep, stop));
            tracing::info!(targets = targets.len(), "integrations started");
        }
        Ok(Integrations {
            targets: Arc::new(targets),
            store: Some(store),
        })
    }

    /// The target called `name`.
    pub fn target(&self, name: &str) -> Option<&Arc<Target>> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// Every target, in configuration order.
    pub fn targets(&self) -> &[Arc<Target>] {
        &self.targets
    }

    /// Every target with its outbox counts.
    pub async fn status(&self) -> Result<Vec<TargetStatus>, StoreError> {
        let counts = match &self.store {
            Some(s) if !self.targets.is_empty() => s.outbox_counts().await?,
            _ => Vec::new(),
        };
        Ok(self
            .targets
            .iter()
            .map(|t| {
                let count = |state: &str| {
                    counts
                        .iter()
                        .find(|c| c.0 == t.name && c.1 == state)
                        .map(|c| (c.2, c.3))
                };
                TargetStatus {
                    name: t.name.clone(),
                    kind: t.adapter.kind(),
                    url: t.url.clone(),
                    events: t.events.clone(),
                    paused: t.paused.load(Ordering::Relaxed),
                    pending: count("pending").map_or(0, |c| c.0),
                    oldest_pending_at: count("pending").map(|c| c.1),
                    dead: count("dead").map_or(0, |c| c.0),
                    delivered_kept: count("delivered").map_or(0, |c| c.0),
                    stats: t.stats.snapshot(),
                }
            })
            .collect())
    }

    /// Pauses or resumes `name` (remembered across restarts); `false` when there is no such
    /// target.
    pub async fn set_paused(&self, name: &str, paused: bool, by: &str) -> Result<bool, StoreError> {
        let (Some(t), Some(store)) = (self.target(name), &self.store) else {
            return Ok(false);
        };
        store
            .set_integration_paused(name, paused, by, now_ms())
            .await?;
        t.paused.store(paused, Ordering::Relaxed);
        t.wake.notify_waiters();
        tracing::info!(target = name, paused, by, "integration paused or resumed");
        Ok(true)
    }

    /// Runs the target's test delivery; `None` when there is no such target.
    pub async fn test(&self, name: &str) -> Option<Outcome> {
        let t = self.target(name)?;
        Some(t.adapter.test(&t.name).await)
    }
}

fn target(name: &str, url: &str, adapter: Adapter, events: Vec<String>) -> Arc<Target> {
    Arc::new(Target {
        name: name.to_owned(),
        url: url.to_owned(),
        adapter,
        events,
        paused: AtomicBool::new(false),
        wake: tokio::sync::Notify::new(),
        stats: stats::Stats::default(),
    })
}

/// Deletes delivered rows older than `keep`, hourly.
async fn purge(store: Store, keep: Duration, stop: CancellationToken) {
    let keep_ms = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX / 2);
    loop {
        match store.outbox_purge(now_ms() - keep_ms).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "purged delivered outbox rows"),
            Err(e) => tracing::warn!(error = %crate::error_chain(&e), "outbox purge failed"),
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}
