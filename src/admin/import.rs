//! `firstline admin import-customers` and `firstline admin sync-directory`: the CSV import and
//! the LDAP sync from the command line, against the server's own database, with the same code
//! as the REST routes (`directory::importer`, `directory::sync`). Each run is recorded in
//! `directory_syncs`.

use std::io::Write;
use std::path::PathBuf;

use super::AdminError;
use crate::config::Config;
use crate::directory::importer::{self, ImportOptions, ImportReport, PREVIEW_ROWS};
use crate::store::Store;

/// Imports (or with `preview`, only checks) the CSV file at `path`.
pub(super) async fn import_customers(
    cfg: &Config,
    path: PathBuf,
    valid_only: bool,
    preview: bool,
    map: &[String],
    out: &mut impl Write,
) -> Result<(), AdminError> {
    let overrides = importer::parse_overrides(map).map_err(AdminError::Invalid)?;
    let opts = ImportOptions {
        preview,
        valid_only,
        overrides,
        country_code: cfg.numbers.default_country_code.clone(),
        preview_rows: if preview { PREVIEW_ROWS } else { 0 },
    };
    let store = Store::connect(&cfg.database.url).await?;
    let report = importer::import_file(&store, path, opts).await;
    store.close().await;
    let report = report.map_err(|e| AdminError::Invalid(e.to_string()))?;
    print_report(&report, out)?;
    if !preview && !report.committed {
        return Err(AdminError::Invalid(format!(
            "{} rows have errors: nothing imported (run again with --valid-only to import the \
             {} valid rows)",
            report.rejected, report.valid
        )));
    }
    Ok(())
}

fn print_report(r: &ImportReport, out: &mut impl Write) -> std::io::Result<()> {
    let mapped: Vec<String> = r
        .columns
        .iter()
        .map(|c| format!("{} -> {}", c.title, c.field.unwrap_or("(ignored)")))
        .collect();
    writeln!(out, "columns: {}", mapped.join(", "))?;
    for p in &r.preview {
        writeln!(
            out,
            "preview: {}",
            serde_json::to_string(p).unwrap_or_default()
        )?;
    }
    for e in &r.errors {
        match &e.column {
            Some(c) => writeln!(out, "row {}, column {c:?}: {}", e.row, e.message)?,
            None => writeln!(out, "row {}: {}", e.row, e.message)?,
        }
    }
    if r.errors_truncated {
        writeln!(out, "(more errors not listed)")?;
    }
    writeln!(out, "{}", r.message)
}

/// Runs one directory sync now and prints what it did.
pub(super) async fn sync_directory(cfg: &Config, out: &mut impl Write) -> Result<(), AdminError> {
    if !cfg.directory.enabled() {
        return Err(AdminError::Invalid(
            "no directory is configured ([directory] url in the config file)".into(),
        ));
    }
    let store = Store::connect(&cfg.database.url).await?;
    let result = crate::directory::sync::run_recorded(
        &cfg.directory,
        &store,
        &cfg.numbers.default_country_code,
    )
    .await;
    store.close().await;
    let o = result.map_err(|e| AdminError::Invalid(format!("directory sync failed: {e}")))?;
    writeln!(
        out,
        "synced {} people: {} new, {} updated, {} deactivated, {} skipped",
        o.seen, o.counts.inserted, o.counts.updated, o.deactivated, o.rejected
    )?;
    Ok(())
}
