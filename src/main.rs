//! The `firstline` binary: parse the command line, load the config, run the server until a signal.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use firstline::app::App;
use firstline::config::Config;

/// Telephony server for IT helpdesk hotlines.
///
/// Settings come from the config file, then `FIRSTLINE_*` environment variables, then flags
/// (each overriding the one before).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Config file (TOML). Without it, `firstline.toml` in the working directory is read if present.
    #[arg(long, env = "FIRSTLINE_CONFIG")]
    config: Option<PathBuf>,
    /// SIP listen address for both UDP and TCP (port 0 picks a free port).
    #[arg(long, env = "FIRSTLINE_SIP_LISTEN")]
    sip_listen: Option<SocketAddr>,
    /// HTTP listen address (port 0 picks a free port).
    #[arg(long, env = "FIRSTLINE_HTTP_LISTEN")]
    http_listen: Option<SocketAddr>,
    /// SIP over TLS listen address, used once a certificate is configured or `--demo` made one.
    #[arg(long, env = "FIRSTLINE_SIP_TLS_LISTEN")]
    sip_tls_listen: Option<SocketAddr>,
    /// HTTPS listen address, used once a certificate is configured or `--demo` made one.
    #[arg(long, env = "FIRSTLINE_HTTPS_LISTEN")]
    https_listen: Option<SocketAddr>,
    /// Database URL: `sqlite://firstline.db` or `postgres://user@host/db`.
    #[arg(long, env = "FIRSTLINE_DATABASE_URL")]
    database_url: Option<String>,
    /// Folder with the IVR prompts (WAV, 8 kHz mono 16-bit).
    #[arg(long, env = "FIRSTLINE_PROMPTS_DIR")]
    prompts_dir: Option<PathBuf>,
    /// Load the demo customers and agents (idempotent); without a configured certificate, make a
    /// self-signed one so SIP over TLS and HTTPS work out of the box.
    #[arg(long, env = "FIRSTLINE_DEMO")]
    demo: bool,
    /// Without a command, the server runs.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Administration against the server's database and config (see docs/admin.md).
    Admin {
        #[command(subcommand)]
        cmd: firstline::admin::AdminCommand,
    },
}

impl Cli {
    fn into_config(self) -> anyhow::Result<Config> {
        let default_path = PathBuf::from("firstline.toml");
        let mut cfg = match &self.config {
            Some(path) => Config::from_file(path)?,
            None if default_path.exists() => Config::from_file(&default_path)?,
            None => Config::default(),
        };
        if let Some(addr) = self.sip_listen {
            cfg.sip.udp_listen = addr;
            cfg.sip.tcp_listen = addr;
        }
        if let Some(addr) = self.http_listen {
            cfg.http.listen = addr;
        }
        if let Some(addr) = self.sip_tls_listen {
            cfg.sip.tls_listen = addr;
        }
        if let Some(addr) = self.https_listen {
            cfg.http.https_listen = addr;
        }
        if let Some(url) = self.database_url {
            cfg.database.url = url;
        }
        if let Some(dir) = self.prompts_dir {
            cfg.media.prompts_dir = dir;
        }
        cfg.load_demo |= self.demo;
        Ok(cfg)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let mut cli = Cli::parse();
    if let Some(Command::Admin { cmd }) = cli.command.take() {
        return admin(cli, cmd).await;
    }
    let cfg = cli.into_config()?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cfg.log))
        .context("invalid log filter")?;
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let app = App::start(cfg).await?;
    // One machine-readable line for scripts and tests that start the binary with port 0.
    let mut ready = format!(
        "firstline ready sip_udp={} sip_tcp={} http={}",
        app.sip_udp_addr(),
        app.sip_tcp_addr(),
        app.http_addr()
    );
    if let Some(a) = app.sip_tls_addr() {
        ready.push_str(&format!(" sip_tls={a}"));
    }
    if let Some(a) = app.https_addr() {
        ready.push_str(&format!(" https={a}"));
    }
    println!("{ready}");
    if let Some(path) = app.setup_path() {
        // Printed, never logged to a file: whoever has it can create the first admin.
        println!(
            "firstline: no admin account yet. Create one at http://{}{path} (works once), \
             or with `firstline admin create-user --role admin`.",
            app.http_addr()
        );
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    app.shutdown().await;
    Ok(std::process::ExitCode::SUCCESS)
}

/// `firstline admin …`: the config file is not needed (nor loaded) to check it.
async fn admin(
    cli: Cli,
    cmd: firstline::admin::AdminCommand,
) -> anyhow::Result<std::process::ExitCode> {
    use firstline::admin::AdminCommand;
    let cfg = match cmd {
        AdminCommand::CheckConfig { .. } => Config::default(),
        _ => cli.into_config()?,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut input = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    match firstline::admin::run(cmd, &cfg, &mut input, &mut out).await {
        Ok(()) => Ok(std::process::ExitCode::SUCCESS),
        Err(e) => {
            let msg = firstline::error_chain(&e);
            eprintln!("firstline admin: {msg}");
            Ok(std::process::ExitCode::FAILURE)
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
