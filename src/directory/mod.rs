//! The company directory as a source of customers and desk accounts (issue 13 points 3 and 4;
//! docs/directory.md): CSV imports (`csv_import` reads rows, `importer` checks then writes them
//! in batches), LDAP / Active Directory sync (`ldap` talks to the server, `sync` runs it on a
//! schedule in its own task and keeps its status), and desk sign-in with directory accounts
//! (`sign_in`). `mapping` turns a source's raw values into a checked person, numbers in E.164;
//! `config` is the `[directory]` section. Nothing on the call path waits on this module: the
//! screen pop reads the customers tables as before.

pub mod config;
pub mod csv_import;
pub mod importer;
pub mod mapping;

pub use config::DirectorySection;
pub use importer::{ImportError, ImportOptions, ImportReport, import_file};
pub use mapping::Field;
pub mod ldap;
pub mod sign_in;
pub mod sync;

pub use sign_in::{DirectoryAccount, SignInResult, authenticate};
pub use sync::{Directory, DirectoryStatus, SyncError};
