//! `firstline admin …`: scripting and first set-up against the server's own database (create
//! and list desk accounts, import customers from CSV, run a directory sync, check a config
//! file). The same store code as the server.

mod check;
mod import;

use std::io::{BufRead, Write};

use crate::config::Config;
use crate::domain::{AgentId, Category, Device};
use crate::store::{NewAgent, Store, StoreError};

pub use check::{Problem, check_config};

/// The `admin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Creates a desk account (the first admin, say). The desk password is read from standard
    /// input (its first line), never from the command line.
    CreateUser {
        /// Login for the desk.
        #[arg(long)]
        login: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// `agent`, `supervisor` or `admin`.
        #[arg(long, default_value = "agent")]
        role: String,
        /// Support level: 1 (first level) or 2.
        #[arg(long, default_value_t = 1)]
        level: i64,
        /// Categories served, comma-separated (hardware,software,service).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "hardware,software,service"
        )]
        categories: Vec<Category>,
        /// SIP extension of the agent's phone.
        #[arg(long)]
        extension: Option<String>,
        /// `phone` or `browser`.
        #[arg(long, default_value = "phone")]
        device: String,
        /// Second-level groups, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
    /// Lists the desk accounts: login, name, role, level, extension, device, categories.
    ListUsers,
    /// Imports customers from a CSV file (UTF-8, RFC 4180, a header row); a file with bad rows
    /// imports nothing unless `--valid-only` (docs/directory.md).
    ImportCustomers {
        /// The CSV file.
        file: std::path::PathBuf,
        /// Import the valid rows even when some rows are bad.
        #[arg(long)]
        valid_only: bool,
        /// Only check the file and show the first rows; write nothing.
        #[arg(long)]
        preview: bool,
        /// Map a column to a field, e.g. `--map "Personnel no.=external_id"` (repeatable).
        #[arg(long = "map", value_name = "COLUMN=FIELD")]
        map: Vec<String>,
    },
    /// Runs one LDAP / Active Directory sync now (`[directory]` of the config file).
    SyncDirectory,
    /// Checks a config file and prints what is wrong, with line numbers.
    CheckConfig {
        /// The file (TOML).
        path: std::path::PathBuf,
    },
}

/// What makes an admin command fail (printed for the user; exit status 1).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A value the command cannot use.
    #[error("{0}")]
    Invalid(String),
    /// The new password does not meet the policy.
    #[error(transparent)]
    Password(#[from] crate::password::PolicyError),
    /// The login or extension is taken.
    #[error("an account with login {login:?} or that extension exists already")]
    Taken {
        /// The login asked for.
        login: String,
    },
    /// The config file has problems (printed before).
    #[error("{0} problem(s) in the config file")]
    Config(usize),
    /// Reading standard input or writing the output failed.
    #[error("input/output")]
    Io(#[from] std::io::Error),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs `cmd` against the database of `cfg`, reading a password from `input`, writing to `out`.
pub async fn run(
    cmd: AdminCommand,
    cfg: &Config,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> Result<(), AdminError> {
    match cmd {
        AdminCommand::CheckConfig { path } => check_file(&path, out),
        AdminCommand::ImportCustomers {
            file,
            valid_only,
            preview,
            map,
        } => import::import_customers(cfg, file, valid_only, preview, &map, out).await,
        AdminCommand::SyncDirectory => import::sync_directory(cfg, out).await,
        AdminCommand::ListUsers => {
            let store = Store::connect(&cfg.database.url).await?;
            for a in store.list_agents().await? {
                let cats: Vec<&str> = a.categories.iter().map(|c| c.as_str()).collect();
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    a.login,
                    a.name,
                    a.role,
                    a.level,
                    a.extension.as_deref().unwrap_or("-"),
                    a.device.as_str(),
                    cats.join(",")
                )?;
            }
            store.close().await;
            Ok(())
        }
        AdminCommand::CreateUser {
            login,
            name,
            role,
            level,
            categories,
            extension,
            device,
            groups,
        } => {
            // The same rules as the admin pages (`crate::accounts::validate`).
            use crate::accounts::validate;
            let invalid = |e: validate::Invalid| AdminError::Invalid(e.0);
            let login = validate::login(&login).map_err(invalid)?;
            let name = validate::name(&name).map_err(invalid)?;
            let role = validate::role(&role).map_err(invalid)?;
            let level = validate::level(level).map_err(invalid)?;
            let extension = match extension {
                Some(e) => validate::extension(&e).map_err(invalid)?,
                None => None,
            };
            let device = Device::parse(&device).ok_or_else(|| {
                AdminError::Invalid(format!("device {device:?}: phone or browser"))
            })?;
            let mut password = String::new();
            input.read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            crate::password::check_policy(&login, password)?;
            let password_hash =
                crate::password::hash(password).map_err(|e| AdminError::Invalid(e.to_string()))?;
            let agent = NewAgent {
                id: AgentId::from_string(format!("agent-{:016x}", rand::random::<u64>())),
                name,
                login: login.clone(),
                password_hash,
                extension,
                categories,
                level,
                role,
                device,
                groups,
            };
            let store = Store::connect(&cfg.database.url).await?;
            let created = store.create_agent(&agent).await;
            store.close().await;
            match created {
                Ok(()) => {
                    writeln!(out, "created {} ({})", agent.login, agent.id.as_str())?;
                    Ok(())
                }
                Err(e) if e.is_constraint_violation() => Err(AdminError::Taken { login }),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Prints the problems of the config file at `path` (or that it is fine).
fn check_file(path: &std::path::Path, out: &mut impl Write) -> Result<(), AdminError> {
    let text = std::fs::read_to_string(path)?;
    let problems = check_config(&text);
    for p in &problems {
        writeln!(out, "{}: {p}", path.display())?;
    }
    if problems.is_empty() {
        writeln!(out, "{}: ok", path.display())?;
        return Ok(());
    }
    Err(AdminError::Config(problems.len()))
}
