//! Customers from the desk: search by name, organisation, e-mail or number typed in any
//! format (issues 4 and 10), create, edit, and add a caller's number to a customer.

use std::collections::HashMap;

use super::codec::get;
use super::sql::Sql;
use super::tickets::parse_ticket_no;
use super::worklist::{contains_pattern, is_phone_shaped};
use super::{Backend, Customer, Store, StoreError};
use crate::domain::CustomerId;

/// A customer's fields; on update `None` leaves a column alone and `Some("")` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerData {
    /// Full name (required on insert, never cleared).
    pub name: Option<String>,
    /// Company or institution.
    pub organisation: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Main number, E.164.
    pub phone: Option<String>,
    /// Site, building or room.
    pub location: Option<String>,
    /// Free text.
    pub notes: Option<String>,
}

/// What a customer search looks for, read once from the typed text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CustomerQuery {
    /// A blank query: everyone.
    #[default]
    All,
    /// Nobody can match: the text is a ticket number, or a number too short to search.
    Nothing,
    /// `%text%` (lower-cased) over name, organisation and e-mail.
    Text(String),
    /// A number typed in any format (only digits and separators).
    Number {
        /// The number in E.164 when it reads as one (`020 123 4567`, `0031201234567`,
        /// `+31 20 123 4567`, …): matches main and extra numbers exactly.
        e164: Option<String>,
        /// `%digits%` for 4 or more digits (a national `0` read as the country code, an
        /// international `00` dropped): matches inside main and extra numbers.
        digits: Option<String>,
    },
}

/// Fewest digits a partial number needs to be searched by digits.
const MIN_PARTIAL_DIGITS: usize = 4;

impl CustomerQuery {
    /// Reads `q` with `country_code` for national numbers.
    pub fn parse(q: &str, country_code: &str) -> CustomerQuery {
        let q = q.trim();
        if q.is_empty() {
            return CustomerQuery::All;
        }
        if parse_ticket_no(q).is_some() {
            return CustomerQuery::Nothing;
        }
        if !is_phone_shaped(q) {
            return CustomerQuery::Text(contains_pattern(q));
        }
        let e164 = crate::phone::normalize(q, country_code)
            .ok()
            .map(crate::phone::E164::into_string);
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        let digits = (digits.len() >= MIN_PARTIAL_DIGITS).then(|| {
            let international = if q.starts_with('+') {
                digits
            } else if let Some(rest) = digits.strip_prefix("00") {
                rest.to_owned()
            } else if let Some(rest) = digits.strip_prefix('0') {
                format!("{country_code}{rest}")
            } else {
                digits
            };
            format!("%{international}%")
        });
        match (e164, digits) {
            (None, None) => CustomerQuery::Nothing,
            (e164, digits) => CustomerQuery::Number { e164, digits },
        }
    }
}

/// `None` and `Some("")` both mean "no value" in the database.
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl Store {
    /// Customers whose name, organisation or e-mail contains the text (any case), or whose
    /// main or extra number is the typed number or contains its digits; by name. A blank
    /// query lists everyone.
    ///
    /// The matches are read without `ORDER BY` and sorted here: ordered by name, SQLite walks
    /// the name index and reads every row at random to test it; unordered, it scans the table
    /// once (a text query), or uses the number indexes (an exact number).
    pub async fn search_customers(
        &self,
        q: &CustomerQuery,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Customer>, StoreError> {
        const OP: &str = "search_customers";
        let sql = match q {
            CustomerQuery::All => return self.list_customers(limit, offset).await,
            CustomerQuery::Nothing => return Ok(Vec::new()),
            CustomerQuery::Text(pattern) => {
                // SQLite's LIKE folds ASCII case by itself (and its LOWER folds nothing more),
                // so LOWER there only costs time; PostgreSQL's LIKE is case-sensitive.
                let mut sql = match self.backend {
                    Backend::Sqlite => Sql::new(
                        "SELECT id, name FROM customers WHERE name LIKE $1 ESCAPE '\\' \
                         OR organisation LIKE $1 ESCAPE '\\' OR email LIKE $1 ESCAPE '\\'",
                    ),
                    Backend::Postgres => Sql::new(
                        "SELECT id, name FROM customers WHERE LOWER(name) LIKE $1 ESCAPE '\\' \
                         OR LOWER(COALESCE(organisation, '')) LIKE $1 ESCAPE '\\' \
                         OR LOWER(COALESCE(email, '')) LIKE $1 ESCAPE '\\'",
                    ),
                };
                sql.bound_text(pattern.as_str());
                sql
            }
            CustomerQuery::Number { e164, digits } => {
                let mut sql = Sql::new("SELECT id, name FROM customers WHERE 1 = 0");
                if let Some(e164) = e164 {
                    sql.push(" OR phone = ")
                        .text(e164.as_str())
                        .push(" OR id IN (SELECT customer_id FROM customer_phones WHERE number = ")
                        .text(e164.as_str())
                        .push(")");
                }
                if let Some(digits) = digits {
                    sql.push(" OR phone LIKE ")
                        .text(digits.as_str())
                        .push(
                            " OR id IN (SELECT customer_id FROM customer_phones WHERE number LIKE ",
                        )
                        .text(digits.as_str())
                        .push(")");
                }
                sql
            }
        };
        let rows = sql
            .query()
            .fetch_all(self.read_pool())
            .await
            .map_err(StoreError::query(OP))?;
        let mut found = rows
            .iter()
            .map(|r| Ok((get::<String>(r, "name", OP)?, get::<String>(r, "id", OP)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        found.sort_unstable();
        let skip = usize::try_from(offset.max(0)).unwrap_or(usize::MAX);
        let take = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
        let ids: Vec<CustomerId> = found
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|(_, id)| CustomerId::from_string(id))
            .collect();
        self.customers_by_ids(&ids).await
    }

    /// How many draft, open and escalated intakes each of `customers` has (one query).
    pub async fn open_intake_counts(
        &self,
        customers: &[CustomerId],
    ) -> Result<HashMap<CustomerId, i64>, StoreError> {
        const OP: &str = "open_intake_counts";
        if customers.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::new(
            "SELECT customer_id, COUNT(*) AS n FROM intakes \
             WHERE status IN ('draft', 'open', 'escalated') AND customer_id IN ",
        );
        sql.list(customers.iter().map(CustomerId::as_str))
            .push(" GROUP BY customer_id");
        let rows = sql
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        rows.iter()
            .map(|r| {
                Ok((
                    CustomerId::from_string(get::<String>(r, "customer_id", OP)?),
                    get(r, "n", OP)?,
                ))
            })
            .collect()
    }

    /// Stores a new customer under a fresh id; `data.name` must be set.
    pub async fn insert_customer(
        &self,
        data: &CustomerData,
        at: i64,
    ) -> Result<CustomerId, StoreError> {
        let id = CustomerId::new_random();
        sqlx::query(
            "INSERT INTO customers (id, name, organisation, department, email, phone, location, \
             notes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(id.as_str())
        .bind(data.name.as_deref().unwrap_or_default())
        .bind(non_empty(&data.organisation))
        .bind(non_empty(&data.department))
        .bind(non_empty(&data.email))
        .bind(non_empty(&data.phone))
        .bind(non_empty(&data.location))
        .bind(non_empty(&data.notes))
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("insert_customer"))?;
        Ok(id)
    }

    /// Overwrites the given fields (`Some("")` clears one) except those a directory source
    /// owns (`synced_fields`), which keep their synced value; `false` when the customer is
    /// unknown.
    pub async fn update_customer(
        &self,
        id: &CustomerId,
        data: &CustomerData,
        at: i64,
    ) -> Result<bool, StoreError> {
        // Per column: $flag = 1 means "set to $value" (NULL when empty), 0 means "keep". A
        // column a directory sync or CSV import set (`synced_fields`, schema 11) is kept: the
        // source owns it, and its next run would undo the edit (docs/directory.md).
        let flag = |v: &Option<String>| i32::from(v.is_some());
        let done = sqlx::query(
            "UPDATE customers SET \
             name = CASE WHEN (',' || synced_fields || ',') LIKE '%,name,%' THEN name \
             ELSE COALESCE($2, name) END, \
             organisation = CASE WHEN $3 = 1 AND (',' || synced_fields || ',') NOT LIKE \
             '%,organisation,%' THEN $4 ELSE organisation END, \
             department = CASE WHEN $5 = 1 AND (',' || synced_fields || ',') NOT LIKE \
             '%,department,%' THEN $6 ELSE department END, \
             email = CASE WHEN $7 = 1 AND (',' || synced_fields || ',') NOT LIKE '%,email,%' \
             THEN $8 ELSE email END, \
             phone = CASE WHEN $9 = 1 AND (',' || synced_fields || ',') NOT LIKE '%,phone,%' \
             THEN $10 ELSE phone END, \
             location = CASE WHEN $11 = 1 AND (',' || synced_fields || ',') NOT LIKE \
             '%,location,%' THEN $12 ELSE location END, \
             notes = CASE WHEN $13 = 1 AND (',' || synced_fields || ',') NOT LIKE '%,notes,%' \
             THEN $14 ELSE notes END, \
             updated_at = $15 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(non_empty(&data.name))
        .bind(flag(&data.organisation))
        .bind(non_empty(&data.organisation))
        .bind(flag(&data.department))
        .bind(non_empty(&data.department))
        .bind(flag(&data.email))
        .bind(non_empty(&data.email))
        .bind(flag(&data.phone))
        .bind(non_empty(&data.phone))
        .bind(flag(&data.location))
        .bind(non_empty(&data.location))
        .bind(flag(&data.notes))
        .bind(non_empty(&data.notes))
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("update_customer"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Makes `number` (E.164) one of the customer's: their main number when they have none,
    /// else an extra number. `false` when it is already theirs or another customer's extra
    /// number (extra numbers are unique), so nothing changed.
    pub async fn add_customer_number(
        &self,
        id: &CustomerId,
        number: &str,
        label: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "add_customer_number";
        let mut tx = self.begin_write(OP).await?;
        let main = sqlx::query(
            "UPDATE customers SET phone = $2, updated_at = $3 WHERE id = $1 AND phone IS NULL \
             AND NOT EXISTS (SELECT 1 FROM customer_phones WHERE number = $2)",
        )
        .bind(id.as_str())
        .bind(number)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        let added = if main.rows_affected() == 1 {
            true
        } else {
            let extra = sqlx::query(
                "INSERT INTO customer_phones (customer_id, number, label) \
                 SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM customers WHERE id = $1 \
                 AND (phone IS NULL OR phone <> $2)) \
                 AND NOT EXISTS (SELECT 1 FROM customer_phones WHERE number = $2)",
            )
            .bind(id.as_str())
            .bind(number)
            .bind(label)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
            extra.rows_affected() == 1
        };
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(contains_pattern("De Vries"), "%de vries%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn numbers_in_any_format_read_as_e164_and_partial_digits() {
        let number = |q: &str| match CustomerQuery::parse(q, "31") {
            CustomerQuery::Number { e164, digits } => (e164, digits),
            other => panic!("{q}: {other:?}"),
        };
        for typed in [
            "020 123 4567",
            "0201234567",
            "+31 20 123 4567",
            "0031201234567",
            "31201234567",
            "(020) 123-45.67",
        ] {
            assert_eq!(number(typed).0.as_deref(), Some("+31201234567"), "{typed}");
        }
        assert_eq!(number("020 123").1.as_deref(), Some("%3120123%"));
        assert_eq!(number("4567"), (None, Some("%4567%".into())));
        assert_eq!(
            CustomerQuery::parse("456", "31"),
            CustomerQuery::Nothing,
            "too short"
        );
        assert_eq!(
            CustomerQuery::parse("Gemeente 020", "31"),
            CustomerQuery::Text("%gemeente 020%".into())
        );
        assert_eq!(
            CustomerQuery::parse("fl-2026-42", "31"),
            CustomerQuery::Nothing
        );
        assert_eq!(
            CustomerQuery::parse("2026-00042", "31"),
            CustomerQuery::Nothing
        );
        assert_eq!(CustomerQuery::parse("  ", "31"), CustomerQuery::All);
    }
}

#[cfg(test)]
#[path = "customer_edit_tests.rs"]
mod store_tests;
