//! `customers` and `customer_phones`: caller identification by E.164 number; customers read
//! one at a time or a page at a time (two queries for any page, numbers included).

use std::collections::HashMap;

use sqlx::any::AnyRow;

use super::codec::get;
use super::sql::{Sql, names_by_id};
use super::{Store, StoreError};
use crate::domain::CustomerId;

/// A known customer with all their numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// `customers.id`.
    pub id: CustomerId,
    /// Full name.
    pub name: String,
    /// Company or institution.
    pub organisation: Option<String>,
    /// Department within the organisation.
    pub department: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Main number, E.164.
    pub phone: Option<String>,
    /// Further numbers (mobile, direct line), E.164, sorted.
    pub extra_phones: Vec<String>,
    /// Site, building or room.
    pub location: Option<String>,
    /// Free text for agents.
    pub notes: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
    /// Where the record comes from: `manual`, `csv` or `ldap` (schema 11).
    pub source: String,
    /// The fields its source owns (a hand edit keeps them): `name`, `department`, …
    pub synced_fields: Vec<String>,
}

impl Store {
    /// The active customer whose main or extra number is `e164`, if exactly one matches (a
    /// customer deactivated by a directory sync is no longer recognised).
    ///
    /// A number shared by several customers (a switchboard) identifies nobody: showing an
    /// agent the wrong person's record is worse than none; [`Store::customers_by_phone`]
    /// gives the candidates.
    pub async fn find_customer_by_phone(&self, e164: &str) -> Result<Option<Customer>, StoreError> {
        match self.customer_id_by_phone(e164).await? {
            Some(id) => self.get_customer(&id).await,
            None => Ok(None),
        }
    }

    /// The id of the one active customer with `e164`, as [`Store::find_customer_by_phone`] finds
    /// them, in one indexed query: what the call set-up needs (the record itself is read when
    /// the pop is built).
    pub async fn customer_id_by_phone(&self, e164: &str) -> Result<Option<CustomerId>, StoreError> {
        let mut ids = self.customer_ids_by_phone(e164).await?;
        Ok(match ids.len() {
            1 => ids.pop(),
            _ => None,
        })
    }

    /// Every active customer with `e164` as main or extra number, by name.
    pub async fn customers_by_phone(&self, e164: &str) -> Result<Vec<Customer>, StoreError> {
        let ids = self.customer_ids_by_phone(e164).await?;
        let mut out = self.customers_by_ids(&ids).await?;
        out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn customer_ids_by_phone(&self, e164: &str) -> Result<Vec<CustomerId>, StoreError> {
        const OP: &str = "find_customer_by_phone";
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM customers WHERE phone = $1 AND active = 1 \
             UNION SELECT p.customer_id FROM customer_phones p \
             JOIN customers c ON c.id = p.customer_id WHERE p.number = $1 AND c.active = 1",
        )
        .bind(e164)
        .fetch_all(&self.read)
        .await
        .map_err(StoreError::query(OP))?;
        Ok(ids.into_iter().map(CustomerId::from_string).collect())
    }

    /// One customer by id.
    pub async fn get_customer(&self, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
        Ok(self
            .customers_by_ids(std::slice::from_ref(id))
            .await?
            .into_iter()
            .next())
    }

    /// A page of customers ordered by name then id.
    pub async fn list_customers(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Customer>, StoreError> {
        const OP: &str = "list_customers";
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM customers ORDER BY name, id LIMIT $1 OFFSET $2")
                .bind(limit.max(0))
                .bind(offset.max(0))
                .fetch_all(&self.read)
                .await
                .map_err(StoreError::query(OP))?;
        let ids: Vec<CustomerId> = ids.into_iter().map(CustomerId::from_string).collect();
        self.customers_by_ids(&ids).await
    }

    /// The customers with these ids, in the order given (unknown ids left out), with their
    /// extra numbers: two queries however many.
    pub async fn customers_by_ids(&self, ids: &[CustomerId]) -> Result<Vec<Customer>, StoreError> {
        const OP: &str = "customers_by_ids";
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = || ids.iter().map(CustomerId::as_str);
        let mut rows = Sql::new(
            "SELECT id, name, organisation, department, email, phone, location, notes, \
             created_at, updated_at, source, synced_fields FROM customers WHERE id IN ",
        );
        rows.list(list());
        let mut phones =
            Sql::new("SELECT customer_id, number FROM customer_phones WHERE customer_id IN ");
        phones.list(list()).push(" ORDER BY customer_id, number");
        let phone_rows = phones
            .query()
            .fetch_all(&self.read)
            .await
            .map_err(StoreError::query(OP))?;
        let mut extra: HashMap<String, Vec<String>> = HashMap::new();
        for r in &phone_rows {
            extra
                .entry(get(r, "customer_id", OP)?)
                .or_default()
                .push(get(r, "number", OP)?);
        }
        let rows = rows
            .query()
            .fetch_all(&self.read)
            .await
            .map_err(StoreError::query(OP))?;
        let mut found: HashMap<CustomerId, Customer> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let c = customer_from_row(row, &mut extra, OP)?;
            found.insert(c.id.clone(), c);
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }
}

impl Store {
    /// The names of `customers` (one query); unknown ids are left out.
    pub async fn customer_names(
        &self,
        customers: &[CustomerId],
    ) -> Result<HashMap<CustomerId, String>, StoreError> {
        let ids = customers.iter().map(CustomerId::as_str);
        let query = "SELECT id, name FROM customers WHERE id IN ";
        let rows = names_by_id(self, query, ids, "customer_names").await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| (CustomerId::from_string(id), name))
            .collect())
    }
}

/// One `customers` row with its extra numbers (taken from `extra`).
fn customer_from_row(
    row: &AnyRow,
    extra: &mut HashMap<String, Vec<String>>,
    op: &'static str,
) -> Result<Customer, StoreError> {
    let id: String = get(row, "id", op)?;
    Ok(Customer {
        extra_phones: extra.remove(&id).unwrap_or_default(),
        id: CustomerId::from_string(id),
        name: get(row, "name", op)?,
        organisation: get(row, "organisation", op)?,
        department: get(row, "department", op)?,
        email: get(row, "email", op)?,
        phone: get(row, "phone", op)?,
        location: get(row, "location", op)?,
        notes: get(row, "notes", op)?,
        created_at: get(row, "created_at", op)?,
        updated_at: get(row, "updated_at", op)?,
        source: get(row, "source", op)?,
        synced_fields: (get::<String>(row, "synced_fields", op)?.split(','))
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use crate::domain::CustomerId;
    use crate::store::now_ms;
    use crate::store::testing::test_store;

    async fn add(store: &crate::store::Store, id: &str, name: &str, phone: &str) {
        sqlx::query(
            "INSERT INTO customers (id, name, phone, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(phone)
        .bind(now_ms())
        .execute(store.pool())
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn lookup_by_main_and_extra_number() {
        let (store, guard) = test_store().await;
        add(&store, "cust-a", "Anouk de Vries", "+31201234567").await;
        sqlx::query("INSERT INTO customer_phones (customer_id, number, label) VALUES ($1, $2, $3)")
            .bind("cust-a")
            .bind("+31612345678")
            .bind("mobile")
            .execute(store.pool())
            .await
            .unwrap();

        let by_main = store
            .find_customer_by_phone("+31201234567")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_main.id, CustomerId::from_string("cust-a"));
        assert_eq!(by_main.name, "Anouk de Vries");
        assert_eq!(by_main.extra_phones, vec!["+31612345678".to_owned()]);
        assert_eq!(by_main.organisation, None);
        let by_mobile = store
            .find_customer_by_phone("+31612345678")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_mobile, by_main);
        assert_eq!(
            store.find_customer_by_phone("+31209999999").await.unwrap(),
            None
        );
        assert_eq!(
            store
                .get_customer(&CustomerId::from_string("cust-x"))
                .await
                .unwrap(),
            None
        );
        guard.cleanup().await;
    }

    #[tokio::test]
    async fn shared_number_identifies_nobody_but_lists_candidates() {
        let (store, guard) = test_store().await;
        add(&store, "cust-b", "Bram Janssen", "+31301112233").await;
        add(&store, "cust-c", "Carla Peeters", "+31301112233").await;
        assert_eq!(
            store.find_customer_by_phone("+31301112233").await.unwrap(),
            None
        );
        let names: Vec<String> = store
            .customers_by_phone("+31301112233")
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, vec!["Bram Janssen", "Carla Peeters"]);
        guard.cleanup().await;
    }

    #[tokio::test]
    async fn extra_number_is_unique_and_needs_a_customer() {
        let (store, guard) = test_store().await;
        add(&store, "cust-d", "Daan Smit", "+31401234567").await;
        let insert = "INSERT INTO customer_phones (customer_id, number) VALUES ($1, $2)";
        sqlx::query(insert)
            .bind("cust-d")
            .bind("+31687654321")
            .execute(store.pool())
            .await
            .unwrap();
        let dup = sqlx::query(insert)
            .bind("cust-d")
            .bind("+31687654321")
            .execute(store.pool())
            .await;
        assert!(dup.is_err(), "duplicate extra number accepted");
        let orphan = sqlx::query(insert)
            .bind("cust-nobody")
            .bind("+31611111111")
            .execute(store.pool())
            .await;
        assert!(
            orphan.is_err(),
            "extra number of an unknown customer accepted"
        );
        guard.cleanup().await;
    }

    #[tokio::test]
    async fn list_is_paged_by_name() {
        let (store, guard) = test_store().await;
        add(&store, "cust-3", "Cees", "+31100000003").await;
        add(&store, "cust-1", "Aaf", "+31100000001").await;
        add(&store, "cust-2", "Bob", "+31100000002").await;
        let page = |l, o| {
            let store = store.clone();
            async move {
                store
                    .list_customers(l, o)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(page(2, 0).await, vec!["Aaf", "Bob"]);
        assert_eq!(page(2, 2).await, vec!["Cees"]);
        assert!(page(2, 4).await.is_empty());
        guard.cleanup().await;
    }
}
