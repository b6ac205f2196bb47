//! Customers from the desk: search by name, organisation or number, create, edit, and add a
//! caller's number to a customer (issue 4).

use super::{Customer, Store, StoreError};
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

/// `%text%` for `LIKE … ESCAPE '\'`, lower-cased, with `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The digits of a query that looks like a phone number (3 or more digits, only separators).
fn phone_digits(q: &str) -> Option<String> {
    let ok = q
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.' | '/'));
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    (ok && digits.len() >= 3).then_some(digits)
}

/// `None` and `Some("")` both mean "no value" in the database.
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl Store {
    /// Customers whose name or organisation contains `q` (any case), or whose main or extra
    /// number contains its digits; by name. An empty `q` lists everyone.
    pub async fn search_customers(
        &self,
        q: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Customer>, StoreError> {
        const OP: &str = "search_customers";
        let q = q.trim();
        if q.is_empty() {
            return self.list_customers(limit, offset).await;
        }
        let text = contains_pattern(q);
        let digits = phone_digits(q).map(|d| format!("%{d}%"));
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM customers WHERE LOWER(name) LIKE $1 ESCAPE '\\' \
             OR LOWER(COALESCE(organisation, '')) LIKE $1 ESCAPE '\\' \
             OR ($2 IS NOT NULL AND (phone LIKE $2 OR id IN \
                 (SELECT customer_id FROM customer_phones WHERE number LIKE $2))) \
             ORDER BY name, id LIMIT $3 OFFSET $4",
        )
        .bind(text)
        .bind(digits)
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query(OP))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.get_customer(&CustomerId::from_string(id)).await? {
                out.push(c);
            }
        }
        Ok(out)
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

    /// Overwrites the given fields (`Some("")` clears one); `false` when the customer is unknown.
    pub async fn update_customer(
        &self,
        id: &CustomerId,
        data: &CustomerData,
        at: i64,
    ) -> Result<bool, StoreError> {
        // Per column: $flag = 1 means "set to $value" (NULL when empty), 0 means "keep".
        let flag = |v: &Option<String>| i32::from(v.is_some());
        let done = sqlx::query(
            "UPDATE customers SET name = COALESCE($2, name), \
             organisation = CASE WHEN $3 = 1 THEN $4 ELSE organisation END, \
             department = CASE WHEN $5 = 1 THEN $6 ELSE department END, \
             email = CASE WHEN $7 = 1 THEN $8 ELSE email END, \
             phone = CASE WHEN $9 = 1 THEN $10 ELSE phone END, \
             location = CASE WHEN $11 = 1 THEN $12 ELSE location END, \
             notes = CASE WHEN $13 = 1 THEN $14 ELSE notes END, \
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
    fn phone_queries_are_digits_only() {
        assert_eq!(phone_digits("+31 20-123").as_deref(), Some("3120123"));
        assert_eq!(phone_digits("(020) 123").as_deref(), Some("020123"));
        assert_eq!(phone_digits("12"), None);
        assert_eq!(phone_digits("Gemeente 020"), None);
    }
}
