//! The CSV import as a whole (issue 13 point 3): a first pass over the file checks every row
//! (the preview, the error report); only a file without bad rows, or one whose caller chose
//! "import the valid rows", is read a second time and upserted by external id in batched
//! transactions. Both passes stream the file on a blocking thread; memory is bounded by the
//! batch and the reported errors, never by the file. Used by the REST route and the CLI.

use std::path::PathBuf;

use serde::Serialize;
use tokio::sync::mpsc;

use super::csv_import::{CsvError, CsvRows, RowError};
use super::mapping::{Field, synced_fields};
use crate::store::{
    CustomerSource, DirectoryPerson, Store, StoreError, SyncOutcome, UpsertCounts, now_ms,
};

/// People per write transaction.
pub const BATCH: usize = 500;
/// At most this many row errors are listed (all are counted).
pub const MAX_REPORTED_ERRORS: usize = 1000;
/// Largest file accepted (bytes).
pub const MAX_FILE_BYTES: u64 = 128 * 1024 * 1024;
/// Rows shown in a preview by default.
pub const PREVIEW_ROWS: usize = 20;

/// What the caller asks for.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Only check and preview; write nothing.
    pub preview: bool,
    /// Import the valid rows even when some are bad.
    pub valid_only: bool,
    /// (column title, field) overrides of the header mapping.
    pub overrides: Vec<(String, Field)>,
    /// For national numbers.
    pub country_code: String,
    /// Rows in the preview.
    pub preview_rows: usize,
}

/// A column and the field it maps to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ColumnView {
    /// The header title.
    pub title: String,
    /// The field, `null` when ignored.
    pub field: Option<&'static str>,
}

/// A row of the preview, as it would be stored.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PreviewRow {
    /// Spreadsheet row.
    pub row: u64,
    external_id: String,
    name: String,
    organisation: Option<String>,
    department: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    extra_phones: Vec<String>,
    location: Option<String>,
    notes: Option<String>,
}

impl PreviewRow {
    fn new(row: u64, p: DirectoryPerson) -> PreviewRow {
        PreviewRow {
            row,
            external_id: p.external_id,
            name: p.name,
            organisation: p.organisation,
            department: p.department,
            email: p.email,
            phone: p.phone,
            extra_phones: p.extra_phones.into_iter().map(|(n, _)| n).collect(),
            location: p.location,
            notes: p.notes,
        }
    }
}

/// The answer to an import or a preview.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Rows without a problem.
    pub valid: u64,
    /// Rows with at least one problem.
    pub rejected: u64,
    /// The problems (the first [`MAX_REPORTED_ERRORS`]).
    pub errors: Vec<RowError>,
    /// More problems than listed.
    pub errors_truncated: bool,
    /// How the header mapped.
    pub columns: Vec<ColumnView>,
    /// The first rows as parsed.
    pub preview: Vec<PreviewRow>,
    /// Whether anything was written.
    pub committed: bool,
    /// New customers.
    pub inserted: u64,
    /// Customers updated by external id.
    pub updated: u64,
    /// One sentence for the user.
    pub message: String,
}

/// What stops an import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file as a whole (header, encoding, mapping, size).
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// The file could not be opened.
    #[error("cannot open {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Over [`MAX_FILE_BYTES`].
    #[error("the file is larger than {MAX_FILE_BYTES} bytes: split it")]
    TooLarge,
    /// Writing the customers.
    #[error("storing the customers failed")]
    Store(#[from] StoreError),
    /// The blocking reader died.
    #[error("the CSV reader stopped")]
    Task(#[from] tokio::task::JoinError),
}

/// Reads `column=field` mappings (`--map`, the API's `map`); the field by its exact name.
pub fn parse_overrides<S: AsRef<str>>(items: &[S]) -> Result<Vec<(String, Field)>, String> {
    items
        .iter()
        .map(|item| {
            let item = item.as_ref();
            let (column, field) = item
                .rsplit_once('=')
                .ok_or_else(|| format!("mapping {item:?} is not column=field"))?;
            let field = Field::ALL
                .into_iter()
                .find(|f| f.name() == field.trim())
                .ok_or_else(|| {
                    let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                    format!(
                        "mapping {item:?}: {field:?} is not one of {}",
                        names.join(", ")
                    )
                })?;
            if column.trim().is_empty() {
                return Err(format!("mapping {item:?} names no column"));
            }
            Ok((column.trim().to_owned(), field))
        })
        .collect()
}

/// Checks the file at `path` and, unless `opts.preview` (or it has bad rows and not
/// `opts.valid_only`), imports it.
pub async fn import_file(
    store: &Store,
    path: PathBuf,
    opts: ImportOptions,
) -> Result<ImportReport, ImportError> {
    let size = std::fs::metadata(&path)
        .map_err(|source| ImportError::Open {
            path: path.clone(),
            source,
        })?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge);
    }
    let scan = {
        let (path, opts) = (path.clone(), opts.clone());
        tokio::task::spawn_blocking(move || check(&path, &opts)).await??
    };
    let (mut report, mapped) = scan;
    if opts.preview {
        report.message = format!(
            "preview: {} rows, {} valid, {} with errors; nothing imported",
            report.rows, report.valid, report.rejected
        );
        return Ok(report);
    }
    if report.rejected > 0 && !opts.valid_only {
        report.message = format!(
            "{} of {} rows have errors: nothing imported (fix them, or import the valid rows)",
            report.rejected, report.rows
        );
        return Ok(report);
    }
    let started = now_ms();
    let run = store.start_sync_run("csv", started).await?;
    let written = write(store, path, &opts, &mapped, started).await;
    let outcome = SyncOutcome {
        error: written.as_ref().err().map(ToString::to_string),
        seen: report.rows,
        counts: written.as_ref().copied().unwrap_or_default(),
        deactivated: 0,
        rejected: report.rejected,
    };
    store.finish_sync_run(&run, now_ms(), &outcome).await?;
    let counts = written?;
    report.committed = true;
    report.inserted = counts.inserted;
    report.updated = counts.updated;
    report.message = format!(
        "imported {} rows: {} new, {} updated; {} rows with errors skipped",
        counts.inserted + counts.updated,
        counts.inserted,
        counts.updated,
        report.rejected
    );
    tracing::info!(
        rows = report.rows,
        inserted = counts.inserted,
        updated = counts.updated,
        rejected = report.rejected,
        "customers imported from CSV"
    );
    Ok(report)
}

fn open(path: &std::path::Path) -> Result<std::io::BufReader<std::fs::File>, ImportError> {
    let file = std::fs::File::open(path).map_err(|source| ImportError::Open {
        path: path.to_owned(),
        source,
    })?;
    Ok(std::io::BufReader::with_capacity(64 * 1024, file))
}

/// The first pass: every row checked, the preview and the errors kept (bounded).
fn check(
    path: &std::path::Path,
    opts: &ImportOptions,
) -> Result<(ImportReport, Vec<Field>), ImportError> {
    let mut rows = CsvRows::open(open(path)?, &opts.overrides, &opts.country_code)?;
    let columns = rows.columns();
    let mut report = ImportReport {
        columns: (columns.titles.iter().zip(&columns.fields))
            .map(|(t, f)| ColumnView {
                title: t.clone(),
                field: f.map(Field::name),
            })
            .collect(),
        ..ImportReport::default()
    };
    let mapped = columns.mapped();
    while let Some((row, parsed)) = rows.next_row()? {
        report.rows += 1;
        match parsed {
            Ok(person) => {
                report.valid += 1;
                if report.preview.len() < opts.preview_rows {
                    report.preview.push(PreviewRow::new(row, person));
                }
            }
            Err(errors) => {
                report.rejected += 1;
                for e in errors {
                    if report.errors.len() < MAX_REPORTED_ERRORS {
                        report.errors.push(e);
                    } else {
                        report.errors_truncated = true;
                    }
                }
            }
        }
    }
    Ok((report, mapped))
}

/// The second pass: valid rows in batches of [`BATCH`], one transaction each.
async fn write(
    store: &Store,
    path: PathBuf,
    opts: &ImportOptions,
    mapped: &[Field],
    at: i64,
) -> Result<UpsertCounts, ImportError> {
    let (tx, mut rx) = mpsc::channel::<Vec<DirectoryPerson>>(2);
    let (overrides, cc) = (opts.overrides.clone(), opts.country_code.clone());
    let reader = tokio::task::spawn_blocking(move || -> Result<(), ImportError> {
        let mut rows = CsvRows::open(open(&path)?, &overrides, &cc)?;
        let mut batch = Vec::with_capacity(BATCH);
        while let Some((_, parsed)) = rows.next_row()? {
            if let Ok(person) = parsed {
                batch.push(person);
            }
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.blocking_send(full).is_err() {
                    return Ok(()); // The writer stopped (an error): it reports.
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        Ok(())
    });
    let fields = synced_fields(mapped);
    let mut counts = UpsertCounts::default();
    let mut failed = None;
    while let Some(batch) = rx.recv().await {
        match store
            .upsert_directory_people(&batch, CustomerSource::Csv, fields, at)
            .await
        {
            Ok(c) => counts += c,
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(rx);
    reader.await??;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(counts),
    }
}

#[cfg(test)]
#[path = "importer_tests.rs"]
mod tests;
