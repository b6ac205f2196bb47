//! CSV rows to people (RFC 4180 through the `csv` crate): the header row and its column
//! mapping (titles read as fields, `--map column=field` overrides), then one record at a time,
//! so memory holds one record, never the file. Row numbers are a spreadsheet's: the header is
//! row 1. Sync I/O over any `Read`; the importer runs it on a blocking thread.

use std::io::Read;

use super::mapping::{Field, RawPerson};
use crate::store::DirectoryPerson;

/// At most this many data rows per file.
pub const MAX_ROWS: u64 = 1_000_000;

/// What stops a whole file (a bad row only gets a [`RowError`]).
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// Reading the file failed.
    #[error("cannot read the CSV file")]
    Io(#[source] std::io::Error),
    /// The file has no header row.
    #[error("the file is empty: the first row must name the columns")]
    NoHeader,
    /// A header cell is not UTF-8.
    #[error("row 1, column {column}: the header is not UTF-8 (save the file as CSV UTF-8)")]
    HeaderEncoding {
        /// 1-based.
        column: usize,
    },
    /// A `--map` names a column the header does not have.
    #[error("column {column:?} (mapped to {field}) is not in the header row")]
    MissingColumn {
        /// As given.
        column: String,
        /// The field it was mapped to.
        field: &'static str,
    },
    /// A required field has no column.
    #[error(
        "no column for {field}: name one in the header or map one (e.g. --map \"Personnel no.={field}\")"
    )]
    MissingField {
        /// `external_id` or `name`.
        field: &'static str,
    },
    /// Two columns map to a single-valued field.
    #[error("columns {first:?} and {second:?} both map to {field}")]
    DuplicateField {
        /// The field.
        field: &'static str,
        /// The first column.
        first: String,
        /// The second column.
        second: String,
    },
    /// More than [`MAX_ROWS`] rows.
    #[error("more than {MAX_ROWS} rows: split the file")]
    TooManyRows,
}

/// What is wrong with one row, for the person fixing the file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// The spreadsheet row (the header is row 1).
    pub row: u64,
    /// The column title, when one column is at fault.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// How the header's columns map to fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// The header titles.
    pub titles: Vec<String>,
    /// The field of each column (`None`: ignored).
    pub fields: Vec<Option<Field>>,
}

impl Columns {
    /// Maps `titles`; `overrides` are (column title, field), matched without regard to case.
    pub fn map(titles: Vec<String>, overrides: &[(String, Field)]) -> Result<Columns, CsvError> {
        for (column, field) in overrides {
            if !titles.iter().any(|t| t.eq_ignore_ascii_case(column.trim())) {
                return Err(CsvError::MissingColumn {
                    column: column.clone(),
                    field: field.name(),
                });
            }
        }
        let fields: Vec<Option<Field>> = titles
            .iter()
            .map(|t| {
                overrides
                    .iter()
                    .find(|(c, _)| t.eq_ignore_ascii_case(c.trim()))
                    .map(|(_, f)| *f)
                    .or_else(|| Field::parse(t))
            })
            .collect();
        let multi = [Field::Phone, Field::Mobile, Field::ExtraPhones];
        for field in Field::ALL.iter().filter(|f| !multi.contains(f)) {
            let mut at = fields
                .iter()
                .enumerate()
                .filter(|(_, f)| **f == Some(*field));
            if let (Some((a, _)), Some((b, _))) = (at.next(), at.next()) {
                return Err(CsvError::DuplicateField {
                    field: field.name(),
                    first: titles[a].clone(),
                    second: titles[b].clone(),
                });
            }
        }
        for required in [Field::ExternalId, Field::Name] {
            if !fields.contains(&Some(required)) {
                return Err(CsvError::MissingField {
                    field: required.name(),
                });
            }
        }
        Ok(Columns { titles, fields })
    }

    /// The fields mapped.
    pub fn mapped(&self) -> Vec<Field> {
        self.fields.iter().flatten().copied().collect()
    }

    fn title_of(&self, field: Field) -> Option<String> {
        let i = self.fields.iter().position(|f| *f == Some(field))?;
        self.titles.get(i).cloned()
    }
}

/// One data row: the person, or what is wrong with it.
pub type Row = Result<DirectoryPerson, Vec<RowError>>;

/// The rows of a CSV file, one at a time.
pub struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
    columns: Columns,
    record: csv::ByteRecord,
    country_code: String,
    rows: u64,
}

impl<R: Read> CsvRows<R> {
    /// Reads the header of `input` and maps its columns.
    pub fn open(
        input: R,
        overrides: &[(String, Field)],
        country_code: &str,
    ) -> Result<CsvRows<R>, CsvError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(false)
            .from_reader(input);
        let mut header = csv::ByteRecord::new();
        if !reader.read_byte_record(&mut header).map_err(io_error)? {
            return Err(CsvError::NoHeader);
        }
        let mut titles = Vec::with_capacity(header.len());
        for (i, cell) in header.iter().enumerate() {
            let text = std::str::from_utf8(cell)
                .map_err(|_| CsvError::HeaderEncoding { column: i + 1 })?;
            titles.push(text.trim_start_matches('\u{feff}').trim().to_owned());
        }
        let columns = Columns::map(titles, overrides)?;
        Ok(CsvRows {
            reader,
            columns,
            record: csv::ByteRecord::new(),
            country_code: country_code.to_owned(),
            rows: 0,
        })
    }

    /// The column mapping.
    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    /// The next row and its spreadsheet number; `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<(u64, Row)>, CsvError> {
        let row = self.rows + 2;
        let read = match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => Ok(()),
            Err(e) => match e.kind() {
                csv::ErrorKind::UnequalLengths { len, .. } => Err(*len),
                _ => return Err(io_error(e)),
            },
        };
        self.rows += 1;
        if self.rows > MAX_ROWS {
            return Err(CsvError::TooManyRows);
        }
        if let Err(len) = read {
            return Ok(Some((
                row,
                Err(vec![RowError {
                    row,
                    column: None,
                    message: format!(
                        "has {len} fields, the header has {}",
                        self.columns.titles.len()
                    ),
                }]),
            )));
        }
        Ok(Some((row, self.person(row))))
    }

    fn person(&self, row: u64) -> Row {
        let mut raw = RawPerson::default();
        let mut errors = Vec::new();
        for (i, cell) in self.record.iter().enumerate() {
            let Some(field) = self.columns.fields.get(i).copied().flatten() else {
                continue;
            };
            match std::str::from_utf8(cell) {
                Ok(text) => raw.push(field, text),
                Err(_) => errors.push(RowError {
                    row,
                    column: self.columns.titles.get(i).cloned(),
                    message: "is not UTF-8 (save the file as CSV UTF-8)".into(),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        raw.build(&self.country_code).map_err(|problems| {
            problems
                .into_iter()
                .map(|p| RowError {
                    row,
                    column: self.columns.title_of(p.field),
                    message: format!("{}: {}", p.field.name(), p.message),
                })
                .collect()
        })
    }
}

fn io_error(e: csv::Error) -> CsvError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => CsvError::Io(io),
        // Only I/O and unequal lengths can come from a byte-record read without serde.
        other => CsvError::Io(std::io::Error::other(format!("{other:?}"))),
    }
}

#[cfg(test)]
#[path = "csv_import_tests.rs"]
mod tests;
