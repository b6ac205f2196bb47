//! Wiring: `App::start(Config)` opens the store, loads prompts, binds SIP and HTTP, and runs the
//! dispatcher that gives every incoming call its own task and the devices' watcher (`devices`);
//! the queue engine publishes its agent state changes into the event stream itself.
//! `App::shutdown` drains. With a certificate (`[tls]`, or a self-signed one for `--demo`) SIP
//! over TLS and HTTPS listen too (`tls`).

mod devices;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::acd::AcdService;
use crate::call::{CallContext, CallStats};
use crate::config::{Config, DigestSetting};
use crate::events::EventBus;
use crate::http;
use crate::media::prompts::PromptLibrary;
use crate::sip::{DigestChallenge, IncomingCall, SipConfig, SipEndpoint};
use crate::store::Store;

/// How long `shutdown` lets calls end on their own before they are cut.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// A running firstline server.
pub struct App {
    sip: SipEndpoint,
    http_addr: SocketAddr,
    /// The one-time setup token when no admin existed at start (`/setup.html#<token>`).
    setup_token: Option<String>,
    https_addr: Option<SocketAddr>,
    certs: Option<crate::tls::Certs>,
    store: Store,
    calls: Arc<CallContext>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    /// The journal's writer runs on its own tracker and token: it stops last, after every
    /// other task handed in its final writes.
    journal_stop: CancellationToken,
    journal_tasks: TaskTracker,
}

impl App {
    /// Starts every subsystem; returns once all listeners are bound.
    pub async fn start(cfg: Config) -> anyhow::Result<App> {
        // Boxed: the start-up state machine is large, and callers (tests on a 2 MiB thread
        // stack among them) should not carry it inline.
        Box::pin(Self::start_boxed(cfg)).await
    }

    async fn start_boxed(cfg: Config) -> anyhow::Result<App> {
        cfg.validate().context("invalid configuration")?;
        let store = Store::connect_in_zone(&cfg.database.url, cfg.desk.zone())
            .await
            .with_context(|| format!("cannot open database {}", cfg.database.url))?;
        if cfg.load_demo {
            let summary = store.load_demo().await.context("cannot load demo data")?;
            tracing::info!(?summary, "demo data loaded");
        }
        let prompts = PromptLibrary::load(&cfg.media.prompts_dir).with_context(|| {
            format!(
                "cannot load prompts from {}",
                cfg.media.prompts_dir.display()
            )
        })?;
        prompts
            .validate_menu(&cfg.ivr)
            .context("the [ivr] menu names a prompt that does not exist")?;

        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        // Calls the last run left open (it was killed: nothing ended them) are closed first.
        let interrupted = store
            .close_interrupted_calls(crate::store::now_ms())
            .await
            .context("cannot close the calls the last run left open")?;
        if interrupted > 0 {
            tracing::warn!(
                calls = interrupted,
                "closed calls the last run left open as interrupted"
            );
        }
        let (journal_stop, journal_tasks) = (CancellationToken::new(), TaskTracker::new());
        let journal = store.start_journal(&journal_tasks, journal_stop.clone());
        let first_seq = store
            .next_event_seq()
            .await
            .context("cannot read the event log")?;
        let events = EventBus::start(journal.clone(), first_seq);

        let certs = tls::certificate(&cfg).context("cannot load the TLS certificate")?;
        if let Some(c) = &certs {
            tasks.spawn(c.clone().watch(
                Duration::from_secs(cfg.tls.reload_secs),
                shutdown.child_token(),
            ));
        }
        let streams = tls::sip_streams(&cfg, certs.as_ref())?;
        let (sip, incoming) = SipEndpoint::start_with(
            SipConfig {
                udp_listen: cfg.sip.udp_listen,
                tcp_listen: cfg.sip.tcp_listen,
                max_message_bytes: cfg.sip.max_message_bytes,
                max_pending_calls: cfg.sip.max_pending_calls,
                user_agent: cfg.sip.user_agent.clone(),
            },
            streams,
            shutdown.child_token(),
        )
        .await
        .context("cannot start SIP")?;

        sip.set_realm_credentials(
            &cfg.sip.realm,
            store
                .sip_credentials()
                .await
                .context("cannot read the agents' SIP credentials")?,
        );
        sip.set_digest_challenge(match cfg.sip.digest {
            DigestSetting::Sha256AndMd5 => DigestChallenge::Sha256AndMd5,
            DigestSetting::Md5First => DigestChallenge::Md5First,
            DigestSetting::Md5Only => DigestChallenge::Md5Only,
        });
        // Checked by `Config::validate`: every entry parses.
        sip.set_trusted_proxies(
            (cfg.sip.trusted_proxies.iter())
                .filter_map(|p| p.parse().ok())
                .collect(),
        );
        sip.set_rate_limits(cfg.sip.rate_limit.clone());
        sip.set_timer_t1(std::time::Duration::from_millis(cfg.sip.timer_t1_ms));
        sip.set_agents_require_tls(cfg.sip.agents_require_tls);

        // The engine's owner task publishes every agent state change itself (no forwarder that
        // could fall behind and lose one).
        let acd = AcdService::start_recording(
            cfg.acd.clone(),
            events.clone(),
            &tasks,
            shutdown.child_token(),
        );

        let calls = Arc::new(CallContext {
            store: store.clone(),
            journal,
            prompts: Arc::new(prompts),
            ivr: Arc::new(cfg.ivr.clone()),
            call: cfg.call.clone(),
            default_country_code: cfg.numbers.default_country_code.clone(),
            events: events.clone(),
            stats: CallStats::default(),
            shutdown: shutdown.child_token(),
            acd: acd.clone(),
            sip: sip.clone(),
            recordings_dir: cfg.media.recordings_dir.clone(),
            tasks: tasks.clone(),
            max_setting_up: cfg.sip.max_pending_calls,
            extensions: crate::call::ExtensionCache::default(),
            browser: crate::call::browser::BrowserCalls::default(),
            webrtc: cfg.webrtc.clone(),
            rtp: crate::media::strict::StrictConfig::from_media(&cfg.media),
            srtp: crate::media::srtp::SrtpConfig::from_media(&cfg.media),
            pacer: crate::call::pacer::Pacer::start(cfg.media.pacer_threads)
                .context("cannot start the RTP pacer")?,
            trunk: cfg
                .trunk
                .check(&cfg.numbers.default_country_code)
                .context("[trunk]")?
                .map(Arc::new),
        });
        if let Some(reg) = calls.trunk.as_ref().and_then(|t| t.register.clone()) {
            sip.register_trunk(reg).await;
        }
        requeue_callbacks(&calls).await;
        tasks.spawn(purge_sessions(store.clone(), shutdown.clone()));

        let http_listener = tokio::net::TcpListener::bind(cfg.http.listen)
            .await
            .with_context(|| format!("cannot bind HTTP on {}", cfg.http.listen))?;
        let http_addr = http_listener.local_addr()?;
        let https = match &certs {
            Some(c) => {
                let l = tokio::net::TcpListener::bind(cfg.http.https_listen)
                    .await
                    .with_context(|| format!("cannot bind HTTPS on {}", cfg.http.https_listen))?;
                let acceptor = tokio_rustls::TlsAcceptor::from(c.https_config()?);
                Some((l.local_addr()?, l, acceptor))
            }
            None => None,
        };
        let https_addr = https.as_ref().map(|(a, _, _)| *a);
        let sla = cfg.sla.check(cfg.desk.zone()).context("[sla]")?;
        let intake_ops = crate::desk::intakes::IntakeOps::new(store.clone(), cfg.desk.clone())
            .with_country_code(&cfg.numbers.default_country_code)
            .with_sla(sla);
        let accounts = {
            let registrar = sip.clone();
            crate::accounts::Accounts::new(
                store.clone(),
                acd.clone(),
                intake_ops.clone(),
                &cfg.sip.realm,
                Arc::new(move |creds| registrar.set_credentials(creds)),
                tokio::sync::broadcast::channel(64).0,
            )
        };
        // The groups and vendors live in the database from schema 10 on, seeded from `[desk]`.
        store
            .seed_targets(
                &cfg.desk.second_level,
                &cfg.desk.third_level,
                crate::store::now_ms(),
            )
            .await
            .context("cannot seed the escalation groups and vendors")?;
        accounts
            .reload_lists()
            .await
            .context("cannot read the escalation groups and vendors")?;
        let setup_token = accounts
            .open_setup_if_needed()
            .await
            .context("cannot look for an admin account")?;
        let follow_ups = intake_ops.follow_ups_changed();
        let desk = crate::desk::hub::DeskHub::start(
            &events,
            intake_ops,
            acd.clone(),
            store.clone(),
            cfg.desk.require_outcome,
            &tasks,
            shutdown.child_token(),
        );
        tasks.spawn(crate::desk::follow_ups::run(
            store.clone(),
            desk.clone(),
            follow_ups,
            shutdown.child_token(),
        ));
        let supervisor = crate::supervisor::SupervisorFeed::start(
            crate::supervisor::SupervisorConfig {
                zone: cfg.desk.zone(),
                ..cfg.supervisor.clone()
            },
            &events,
            acd.clone(),
            store.clone(),
            &tasks,
            shutdown.child_token(),
        );
        // Before the HTTP listener serves: every agent's reachability is known at their login.
        let (watch, feeds) =
            devices::DeviceWatch::start(sip.clone(), acd.clone(), events.clone(), store.clone())
                .await;
        tasks.spawn(watch.run(feeds, shutdown.child_token()));
        // The directory sync runs in its own task; the call path never waits on it.
        let directory = crate::directory::Directory::start(
            &cfg.directory,
            &cfg.numbers.default_country_code,
            store.clone(),
            &tasks,
            shutdown.child_token(),
        );
        // Before the first call: the outbox needs its routes before the journal writes.
        let integrations = crate::integrations::Integrations::start(
            &cfg.integrations,
            &format!("http://{http_addr}"),
            store.clone(),
            &tasks,
            shutdown.child_token(),
            Some({
                let (hub, tasks) = (desk.clone(), tasks.clone());
                Arc::new(move |id: String| {
                    let hub = hub.clone();
                    tasks.spawn(async move {
                        hub.refresh_intake(&crate::domain::IntakeId::from_string(id))
                            .await;
                    });
                })
            }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("integrations: {e}"))?;
        let open = http::OpenConns::default();
        let state = http::HttpState {
            accounts,
            http_conns: open.clone(),
            sip: sip.clone(),
            calls: calls.clone(),
            store: store.clone(),
            acd: acd.clone(),
            auth: http::AuthConfig::from(&cfg.http),
            web_dir: cfg.http.web_dir.clone(),
            desk,
            supervisor,
            directory,
            integrations,
            edge: Arc::new(http::Edge {
                https_port: https_addr.map(|a| a.port()),
                plain: cfg.http.plain_http,
                hsts_max_age_secs: cfg.http.hsts_max_age_secs,
                ops: cfg.http.ops_access(),
            }),
        };
        let router = http::router(state);
        let serve = Arc::new(http::ServeSettings {
            header_read: Duration::from_secs(cfg.http.header_read_timeout_secs),
            idle: Duration::from_secs(cfg.http.idle_timeout_secs),
            max_connections: cfg.http.max_connections,
            ..http::ServeSettings::default()
        });
        tasks.spawn(http::serve(
            http_listener,
            None,
            router.clone(),
            serve.clone(),
            open.clone(),
            shutdown.clone(),
        ));
        if let Some((_, l, acceptor)) = https {
            tasks.spawn(http::serve(
                l,
                Some(acceptor),
                router,
                serve,
                open,
                shutdown.clone(),
            ));
        }

        tasks.spawn(dispatch(incoming, calls.clone(), tasks.clone()));
        tracing::info!(
            sip_udp = %sip.udp_addr(),
            sip_tcp = %sip.tcp_addr(),
            sip_tls = ?sip.tls_addr(),
            http = %http_addr,
            https = ?https_addr,
            "firstline started"
        );
        Ok(App {
            setup_token,
            sip,
            http_addr,
            https_addr,
            certs,
            store,
            calls,
            shutdown,
            tasks,
            journal_stop,
            journal_tasks,
        })
    }

    /// The bound SIP UDP address.
    pub fn sip_udp_addr(&self) -> SocketAddr {
        self.sip.udp_addr()
    }

    /// The bound SIP TCP address.
    pub fn sip_tcp_addr(&self) -> SocketAddr {
        self.sip.tcp_addr()
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The path of the one-time link that creates the first admin, when no admin existed at
    /// start (`/setup.html#<token>`; the token works once and only until a restart).
    pub fn setup_path(&self) -> Option<String> {
        self.setup_token
            .as_ref()
            .map(|t| format!("/setup.html#{t}"))
    }

    /// The bound SIP over TLS address, when a certificate is configured.
    pub fn sip_tls_addr(&self) -> Option<SocketAddr> {
        self.sip.tls_addr()
    }

    /// The bound HTTPS address, when a certificate is configured.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    /// The certificate served now (PEM), when TLS is on: a client of the demo's self-signed
    /// certificate trusts exactly this.
    pub fn tls_certificate_pem(&self) -> Option<String> {
        self.certs.as_ref().map(|c| c.certificate_pem())
    }

    /// The store (for tests and tools).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// SIP counters.
    pub fn sip(&self) -> &SipEndpoint {
        &self.sip
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.stats.active()
    }

    /// Stops taking calls (503), ends the calls in progress politely, flushes, closes sockets.
    pub async fn shutdown(self) {
        self.sip.set_accepting(false);
        self.calls.shutdown.cancel();
        self.tasks.close();
        let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
            while self.calls.stats.active() > 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                active = self.calls.stats.active(),
                "calls still active at the drain deadline"
            );
        }
        self.shutdown.cancel();
        if tokio::time::timeout(DRAIN_DEADLINE, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some tasks did not stop in time");
        }
        // Everything else has stopped: the journal commits what it holds, then ends.
        self.journal_stop.cancel();
        self.journal_tasks.close();
        self.journal_tasks.wait().await;
        self.store.close().await;
    }
}

/// Gives each incoming call its own task, refusing calls over the configured limit.
async fn dispatch(
    mut incoming: mpsc::Receiver<IncomingCall>,
    calls: Arc<CallContext>,
    tasks: TaskTracker,
) {
    loop {
        let call = tokio::select! {
            c = incoming.recv() => c,
            _ = calls.shutdown.cancelled() => None,
        };
        let Some(call) = call else { break };
        // Overload: too many calls at once, or too many still being set up (the database or the
        // machine cannot keep up). 503 with Retry-After now beats a caller waiting for seconds.
        // A journal that cannot keep up (or a database that is away) refuses new calls too, so
        // the writes waiting in memory stay bounded.
        if calls.stats.active() >= calls.call.max_calls
            || calls.stats.setting_up() >= calls.max_setting_up
            || calls.journal.pending() >= crate::call::MAX_JOURNAL_PENDING
        {
            calls.stats.count_refused();
            call.leg.reject(503, "Service Unavailable").await;
            continue;
        }
        let setup = crate::call::SetupGuard::new(&calls);
        tasks.spawn(crate::call::run(calls.clone(), call, setup));
    }
    // Refuse whatever is still queued so no caller waits on a dead server.
    incoming.close();
    while let Some(call) = incoming.recv().await {
        call.leg.reject(503, "Service Unavailable").await;
    }
}

/// Puts callbacks that were still open at the last stop back in the queue, with their places.
async fn requeue_callbacks(calls: &Arc<CallContext>) {
    match calls.store.open_callbacks().await {
        Ok(open) => {
            for row in &open {
                crate::call::callback::spawn(calls.clone(), row.into());
            }
            if !open.is_empty() {
                tracing::info!(count = open.len(), "open callbacks re-queued");
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot read open callbacks"),
    }
}

/// Removes expired desk sessions once an hour.
async fn purge_sessions(store: Store, stop: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.cancelled() => break,
        }
        match store.purge_sessions(crate::store::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "expired sessions removed"),
            Err(e) => tracing::warn!(error = %e, "cannot remove expired sessions"),
        }
    }
}
