//! Customers from the company directory (schema 11, docs/directory.md): people upserted by
//! their source's own id (`external_id`) in one transaction per batch, people who left an LDAP
//! directory deactivated (never deleted), and the run history in `directory_syncs`.

use std::collections::HashMap;

use super::codec::get;
use super::sql::Sql;
use super::{Store, StoreError};
use crate::domain::CustomerId;

/// Where a customer record came from (`customers.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomerSource {
    /// Created or edited by hand at the desk.
    Manual,
    /// A CSV import.
    Csv,
    /// An LDAP / Active Directory sync.
    Ldap,
}

impl CustomerSource {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerSource::Manual => "manual",
            CustomerSource::Csv => "csv",
            CustomerSource::Ldap => "ldap",
        }
    }
}

/// One person as a directory source gives them: values already checked and numbers in E.164.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryPerson {
    /// The source's own id (CSV column, `entryUUID`, `objectGUID` or the DN).
    pub external_id: String,
    /// Full name.
    pub name: String,
    /// Company or institution.
    pub organisation: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Main number, E.164.
    pub phone: Option<String>,
    /// Further numbers, E.164, with a label (`mobile`, `ipphone`, …); none equal to `phone`.
    pub extra_phones: Vec<(String, String)>,
    /// Site, building or room.
    pub location: Option<String>,
    /// Free text.
    pub notes: Option<String>,
}

/// The customer columns a source sets (the others keep what a hand edit put there). The names
/// are those of `customers.synced_fields`: `organisation`, `department`, `email`, `phone`,
/// `extra_phones`, `location`, `notes` (the name is always synced).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncedFields {
    /// `organisation`.
    pub organisation: bool,
    /// `department`.
    pub department: bool,
    /// `email`.
    pub email: bool,
    /// `phone`.
    pub phone: bool,
    /// `customer_phones` (replaced as a whole).
    pub extra_phones: bool,
    /// `location`.
    pub location: bool,
    /// `notes`.
    pub notes: bool,
}

impl SyncedFields {
    /// The comma list stored in `customers.synced_fields`, e.g. `name,department,phone`.
    pub fn to_text(self) -> String {
        let all = [
            (true, "name"),
            (self.organisation, "organisation"),
            (self.department, "department"),
            (self.email, "email"),
            (self.phone, "phone"),
            (self.extra_phones, "extra_phones"),
            (self.location, "location"),
            (self.notes, "notes"),
        ];
        let on: Vec<&str> = all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
        on.join(",")
    }
}

/// What one batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpsertCounts {
    /// New customers.
    pub inserted: u64,
    /// Customers found by external id and overwritten (and made active again).
    pub updated: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: UpsertCounts) {
        self.inserted += other.inserted;
        self.updated += other.updated;
    }
}

/// People per multi-row statement (13 values each: well under both engines' parameter limits).
const UPSERT_ROWS: usize = 200;

/// A placeholder bound to `value`, or `NULL`.
fn opt<'s>(sql: &'s mut Sql, value: Option<&str>) -> &'s mut Sql {
    match value {
        Some(v) => sql.text(v),
        None => sql.push("NULL"),
    }
}

impl Store {
    /// Upserts `people` by external id in one transaction: new ones get a fresh `cust-…` id,
    /// known ones have the `fields` overwritten; all become active, from `source`, synced at
    /// `at` (epoch ms). With `fields.extra_phones` a person's extra numbers are replaced. A
    /// person given twice counts once, as the last given.
    ///
    /// Multi-row statements ([`UPSERT_ROWS`] people, one `DELETE` and a few `INSERT`s of
    /// numbers per batch): on PostgreSQL each statement is a round trip.
    pub async fn upsert_directory_people(
        &self,
        people: &[DirectoryPerson],
        source: CustomerSource,
        fields: SyncedFields,
        at: i64,
    ) -> Result<UpsertCounts, StoreError> {
        const OP: &str = "upsert_directory_people";
        let mut counts = UpsertCounts::default();
        // The last of each external id (one statement may not update a row twice).
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(people.len());
        for (i, p) in people.iter().enumerate() {
            last.insert(p.external_id.as_str(), i);
        }
        let people: Vec<&DirectoryPerson> = (people.iter().enumerate())
            .filter(|(i, p)| last.get(p.external_id.as_str()) == Some(i))
            .map(|(_, p)| p)
            .collect();
        if people.is_empty() {
            return Ok(counts);
        }
        let synced = fields.to_text();
        let mut tx = self.begin_write(OP).await?;
        let mut ids: HashMap<String, String> = HashMap::with_capacity(people.len());
        for chunk in people.chunks(UPSERT_ROWS) {
            let mut sql = Sql::new(
                "INSERT INTO customers (id, name, organisation, department, email, phone, \
                 location, notes, created_at, updated_at, external_id, source, active, synced_at, \
                 synced_fields) VALUES ",
            );
            let mut fresh: HashMap<&str, String> = HashMap::with_capacity(chunk.len());
            for (i, p) in chunk.iter().enumerate() {
                let id = CustomerId::new_random().as_str().to_owned();
                fresh.insert(p.external_id.as_str(), id.clone());
                sql.push(if i == 0 { "(" } else { ", (" });
                sql.text(id).push(", ").text(p.name.as_str()).push(", ");
                opt(&mut sql, p.organisation.as_deref()).push(", ");
                opt(&mut sql, p.department.as_deref()).push(", ");
                opt(&mut sql, p.email.as_deref()).push(", ");
                opt(&mut sql, p.phone.as_deref()).push(", ");
                opt(&mut sql, p.location.as_deref()).push(", ");
                opt(&mut sql, p.notes.as_deref()).push(", ");
                sql.int(at).push(", ").int(at).push(", ");
                sql.text(p.external_id.as_str()).push(", ");
                sql.text(source.as_str()).push(", 1, ").int(at).push(", ");
                sql.text(synced.as_str()).push(")");
            }
            // The columns a known person gets from the source (the others keep theirs).
            let set = |on: bool, col: &'static str| -> &'static str {
                match (on, col) {
                    (false, _) => "",
                    (true, "organisation") => ", organisation = excluded.organisation",
                    (true, "department") => ", department = excluded.department",
                    (true, "email") => ", email = excluded.email",
                    (true, "phone") => ", phone = excluded.phone",
                    (true, "location") => ", location = excluded.location",
                    (true, _) => ", notes = excluded.notes",
                }
            };
            sql.push(
                " ON CONFLICT (external_id) DO UPDATE SET name = excluded.name, \
                 updated_at = excluded.updated_at, source = excluded.source, active = 1, \
                 deactivated_at = NULL, synced_at = excluded.synced_at, \
                 synced_fields = excluded.synced_fields",
            );
            for (on, col) in [
                (fields.organisation, "organisation"),
                (fields.department, "department"),
                (fields.email, "email"),
                (fields.phone, "phone"),
                (fields.location, "location"),
                (fields.notes, "notes"),
            ] {
                sql.push(set(on, col));
            }
            sql.push(" RETURNING id, external_id");
            let rows = sql
                .query()
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            for row in &rows {
                let id: String = get(row, "id", OP)?;
                let external: String = get(row, "external_id", OP)?;
                if fresh.get(external.as_str()) == Some(&id) {
                    counts.inserted += 1;
                } else {
                    counts.updated += 1;
                }
                ids.insert(external, id);
            }
        }
        if fields.extra_phones {
            let owners: Vec<&str> = (people.iter())
                .filter_map(|p| ids.get(&p.external_id).map(String::as_str))
                .collect();
            for chunk in owners.chunks(UPSERT_ROWS) {
                let mut sql = Sql::new("DELETE FROM customer_phones WHERE customer_id IN ");
                sql.list(chunk.iter().copied());
                sql.query()
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(OP))?;
            }
            let numbers: Vec<(&str, &str, &str)> = (people.iter())
                .filter_map(|p| Some((ids.get(&p.external_id)?.as_str(), p)))
                .flat_map(|(id, p)| {
                    (p.extra_phones.iter()).map(move |(n, l)| (id, n.as_str(), l.as_str()))
                })
                .collect();
            for chunk in numbers.chunks(UPSERT_ROWS) {
                let mut sql =
                    Sql::new("INSERT INTO customer_phones (customer_id, number, label) VALUES ");
                for (i, (id, number, label)) in chunk.iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" });
                    sql.text(*id)
                        .push(", ")
                        .text(*number)
                        .push(", ")
                        .text(*label);
                    sql.push(")");
                }
                sql.push(" ON CONFLICT (customer_id, number) DO NOTHING");
                sql.query()
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(OP))?;
            }
        }
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(counts)
    }

    /// Deactivates the active customers from `source` that the run started at `run_started`
    /// did not see (their `synced_at` is older): they left the directory. Their records, calls
    /// and intakes stay; they are no longer recognised by number.
    pub async fn deactivate_unseen(
        &self,
        source: CustomerSource,
        run_started: i64,
        at: i64,
    ) -> Result<u64, StoreError> {
        const OP: &str = "deactivate_unseen";
        let done = sqlx::query(
            "UPDATE customers SET active = 0, deactivated_at = $3, updated_at = $3 \
             WHERE source = $1 AND active = 1 AND (synced_at IS NULL OR synced_at < $2)",
        )
        .bind(source.as_str())
        .bind(run_started)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        Ok(done.rows_affected())
    }

    /// How many customers there are (`active_only`: only those recognised by number).
    pub async fn count_customers(&self, active_only: bool) -> Result<i64, StoreError> {
        let sql = if active_only {
            "SELECT COUNT(*) FROM customers WHERE active = 1"
        } else {
            "SELECT COUNT(*) FROM customers"
        };
        sqlx::query_scalar(sql)
            .fetch_one(&self.read)
            .await
            .map_err(StoreError::query("count_customers"))
    }

    /// How many active customers came from `source`.
    pub async fn count_directory_customers(
        &self,
        source: CustomerSource,
    ) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE source = $1 AND active = 1")
            .bind(source.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("count_directory_customers"))
    }

    /// Where customer `id` came from: `{source, external_id, active, synced_fields,
    /// synced_at, deactivated_at}` for the admin pages; `None` when unknown.
    pub async fn customer_origin(
        &self,
        id: &CustomerId,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        const OP: &str = "customer_origin";
        let row = sqlx::query(
            "SELECT source, external_id, active, synced_fields, synced_at, deactivated_at \
             FROM customers WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await
        .map_err(StoreError::query(OP))?;
        row.map(|r| {
            let fields: String = get(&r, "synced_fields", OP)?;
            Ok(serde_json::json!({
                "source": get::<String>(&r, "source", OP)?,
                "external_id": get::<Option<String>>(&r, "external_id", OP)?,
                "active": get::<i64>(&r, "active", OP)? == 1,
                "synced_fields": fields.split(',').filter(|f| !f.is_empty()).collect::<Vec<_>>(),
                "synced_at": get::<Option<i64>>(&r, "synced_at", OP)?,
                "deactivated_at": get::<Option<i64>>(&r, "deactivated_at", OP)?,
            }))
        })
        .transpose()
    }

    /// A customer's source, active flag and synced fields, by external id.
    pub async fn directory_state(
        &self,
        external_id: &str,
    ) -> Result<Option<(CustomerId, String, bool, String)>, StoreError> {
        const OP: &str = "directory_state";
        let row = sqlx::query(
            "SELECT id, source, active, synced_fields FROM customers WHERE external_id = $1",
        )
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        row.map(|r| {
            Ok((
                CustomerId::from_string(get::<String>(&r, "id", OP)?),
                get(&r, "source", OP)?,
                get::<i64>(&r, "active", OP)? == 1,
                get(&r, "synced_fields", OP)?,
            ))
        })
        .transpose()
    }
}

#[path = "directory_agents.rs"]
mod agents;
#[path = "directory_runs.rs"]
mod runs;
pub use runs::{SyncOutcome, SyncRun};

#[cfg(test)]
#[path = "directory_tests.rs"]
mod tests;
