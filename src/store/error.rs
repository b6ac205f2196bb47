//! Errors of the persistence layer (`StoreError`), with the failed operation as context.

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported database URL scheme in {0:?} (expected sqlite: or postgres:)")]
    UnsupportedUrl(String),
    /// Opening the pool failed (file not creatable, server unreachable, …).
    #[error("cannot connect to {url}")]
    Connect {
        /// The URL without its password.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Running the migrations in `migrations/` failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query failed; `op` names the store method.
    #[error("database error in {op}")]
    Query {
        /// The store operation, e.g. `insert_call`.
        op: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// An update addressed a row that does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// The kind of row, e.g. `call`.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// Rows kept changing under an operation that retried (a conflict that did not settle).
    #[error("{0}: the rows kept changing; try again")]
    Conflict(&'static str),
    /// A stored value that the code cannot read back (a newer schema, or a hand edit).
    #[error("unexpected value {value:?} in column {column}")]
    Corrupt {
        /// `table.column`.
        column: &'static str,
        /// The value found.
        value: String,
    },
    /// The embedded demo data file does not parse.
    #[error("demo data is invalid")]
    DemoData(#[source] toml::de::Error),
    /// A number in the demo data is not in E.164 form.
    #[error("demo customer {customer} has number {number:?} that is not E.164")]
    DemoNumber {
        /// The customer's id.
        customer: String,
        /// The number as written.
        number: String,
        /// Why it is not E.164 (`None`: valid, but not written in E.164 form).
        #[source]
        source: Option<crate::phone::PhoneError>,
    },
    /// Hashing a demo agent's password failed.
    #[error("cannot hash the password of demo agent {login}: {message}")]
    PasswordHash {
        /// The agent's login.
        login: String,
        /// argon2's message (its error type is not `std::error::Error` in 0.5).
        message: String,
    },
}

impl StoreError {
    /// Wraps a driver error with the operation that failed; for `map_err`.
    pub(crate) fn query(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| StoreError::Query { op, source }
    }

    /// True when the database refused a row for a unique, foreign-key or check constraint.
    pub fn is_constraint_violation(&self) -> bool {
        match self {
            StoreError::Query {
                source: sqlx::Error::Database(e),
                ..
            } => {
                use sqlx::error::ErrorKind;
                matches!(
                    e.kind(),
                    ErrorKind::UniqueViolation
                        | ErrorKind::ForeignKeyViolation
                        | ErrorKind::CheckViolation
                        | ErrorKind::NotNullViolation
                )
            }
            _ => false,
        }
    }

    /// True when trying again later may succeed: the database was busy or locked (SQLite's
    /// writer lock held elsewhere), unreachable, restarting, or the transaction lost a
    /// serialization race. The journal retries these; everything else is a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Query { source, .. } | StoreError::Connect { source, .. } => {
                transient(source)
            }
            StoreError::Conflict(_) => true,
            _ => false,
        }
    }
}

fn transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else { return false };
            // PostgreSQL gives a five-character SQLSTATE: class 08 connection exception, 40
            // transaction rollback (serialization, deadlock), 53 insufficient resources, 57P0x
            // the server shutting down. SQLite gives its extended result code, a number below
            // 10000 whose low byte is the primary code: 5 SQLITE_BUSY, 6 SQLITE_LOCKED.
            if code.len() == 5 {
                ["08", "40", "53", "57P0"]
                    .iter()
                    .any(|c| code.starts_with(c))
            } else {
                code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
            }
        }
        _ => false,
    }
}
