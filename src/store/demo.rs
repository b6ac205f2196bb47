//! Demo data: about 20 customers and a few agents from `demo_data.toml`, loaded idempotently.

use serde::Deserialize;

use super::agents::{NewAgent, groups_to_text, insert_agent};
use super::{Store, StoreError, now_ms};
use crate::domain::{AgentId, Category, Device};

/// The demo data file, embedded; readable and editable without touching code.
const DEMO_TOML: &str = include_str!("demo_data.toml");

/// Realm the demo SIP passwords are hashed for (the registrar's default).
const DEMO_SIP_REALM: &str = "firstline";

/// Country code used only to check that demo numbers are already in E.164 form.
const DEMO_COUNTRY: &str = "31";

/// What the tables hold after [`Store::load_demo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    /// Rows in `customers`.
    pub customers: i64,
    /// Rows in `customer_phones`.
    pub extra_phones: i64,
    /// Rows in `agents`.
    pub agents: i64,
    /// Demo agents created by this run (0 when they existed already).
    pub agents_created: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoFile {
    customer: Vec<DemoCustomer>,
    agent: Vec<DemoAgent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoCustomer {
    id: String,
    name: String,
    organisation: Option<String>,
    department: Option<String>,
    email: Option<String>,
    phone: String,
    #[serde(default)]
    extra_phones: Vec<String>,
    location: Option<String>,
    notes: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoAgent {
    id: String,
    name: String,
    login: String,
    password: String,
    extension: Option<String>,
    /// SIP digest password of the agent's phone (user = extension, realm `firstline`).
    sip_password: Option<String>,
    categories: Vec<Category>,
    level: i64,
    /// Desk role: `agent` (default), `supervisor` or `admin`.
    #[serde(default = "agent_role")]
    role: String,
    /// How the agent answers calls: `phone` (default) or `browser` (the desk's softphone).
    #[serde(default)]
    device: Device,
    /// Second-level groups (the agent's inbox).
    #[serde(default)]
    groups: Vec<String>,
}

fn agent_role() -> String {
    "agent".to_owned()
}

fn parse_demo() -> Result<DemoFile, StoreError> {
    let file: DemoFile = toml::from_str(DEMO_TOML).map_err(StoreError::DemoData)?;
    for c in &file.customer {
        for number in std::iter::once(&c.phone).chain(&c.extra_phones) {
            match crate::phone::normalize(number, DEMO_COUNTRY) {
                Ok(e164) if e164.as_str() == number => {}
                Ok(_) => return Err(demo_number(c, number, None)),
                Err(e) => return Err(demo_number(c, number, Some(e))),
            }
        }
    }
    Ok(file)
}

fn demo_number(
    c: &DemoCustomer,
    number: &str,
    source: Option<crate::phone::PhoneError>,
) -> StoreError {
    StoreError::DemoNumber {
        customer: c.id.clone(),
        number: number.to_owned(),
        source,
    }
}

fn hash_password(login: &str, password: &str) -> Result<String, StoreError> {
    crate::password::hash(password).map_err(|e| StoreError::PasswordHash {
        login: login.to_owned(),
        message: e.to_string(),
    })
}

impl Store {
    /// Loads the demo customers and agents; running it again updates the same rows.
    ///
    /// Customers are upserted by id; extra numbers already present are kept; agents are
    /// created once (an existing demo agent keeps its password hash).
    pub async fn load_demo(&self) -> Result<DemoSummary, StoreError> {
        const OP: &str = "load_demo";
        let demo = parse_demo()?;
        let now = now_ms();
        let mut tx = self.begin_write(OP).await?;
        for c in &demo.customer {
            sqlx::query(
                "INSERT INTO customers (id, name, organisation, department, email, phone, location, notes, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, organisation = excluded.organisation, \
                 department = excluded.department, email = excluded.email, phone = excluded.phone, \
                 location = excluded.location, notes = excluded.notes, updated_at = excluded.updated_at",
            )
            .bind(&c.id)
            .bind(&c.name)
            .bind(c.organisation.as_deref())
            .bind(c.department.as_deref())
            .bind(c.email.as_deref())
            .bind(&c.phone)
            .bind(c.location.as_deref())
            .bind(c.notes.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
            for number in &c.extra_phones {
                sqlx::query(
                    "INSERT INTO customer_phones (customer_id, number, label) VALUES ($1, $2, 'mobile') \
                     ON CONFLICT (customer_id, number) DO NOTHING",
                )
                .bind(&c.id)
                .bind(number)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            }
        }
        let mut agents_created = 0;
        for a in &demo.agent {
            let exists: Option<String> =
                sqlx::query_scalar("SELECT id FROM agents WHERE id = $1 OR login = $2")
                    .bind(&a.id)
                    .bind(&a.login)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::query(OP))?;
            if exists.is_none() {
                let new = NewAgent {
                    id: AgentId::from_string(a.id.as_str()),
                    name: a.name.clone(),
                    login: a.login.clone(),
                    password_hash: hash_password(&a.login, &a.password)?,
                    extension: a.extension.clone(),
                    categories: a.categories.clone(),
                    level: a.level,
                    role: a.role.clone(),
                    device: a.device,
                    // Set below, once.
                    groups: Vec::new(),
                };
                insert_agent(&mut tx, &new, now, OP).await?;
                agents_created += 1;
            }
            // Groups are set once too: an agent whose groups were changed since keeps them.
            sqlx::query("UPDATE agents SET groups = $2 WHERE id = $1 AND groups = ''")
                .bind(&a.id)
                .bind(groups_to_text(&a.groups))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            if let (Some(ext), Some(pw)) = (&a.extension, &a.sip_password) {
                // HA1s for realm `firstline`, set once: a password changed later is kept.
                sqlx::query(
                    "UPDATE agents SET sip_ha1_md5 = $1, sip_ha1_sha256 = $2 \
                     WHERE id = $3 AND sip_ha1_md5 IS NULL AND sip_ha1_sha256 IS NULL",
                )
                .bind(crate::sip::ha1_md5(ext, DEMO_SIP_REALM, pw))
                .bind(crate::sip::ha1_sha256(ext, DEMO_SIP_REALM, pw))
                .bind(&a.id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(OP))?;
            }
        }
        tx.commit().await.map_err(StoreError::query(OP))?;
        let count = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::query(OP))
        };
        Ok(DemoSummary {
            customers: count("SELECT COUNT(*) FROM customers").await?,
            extra_phones: count("SELECT COUNT(*) FROM customer_phones").await?,
            agents: count("SELECT COUNT(*) FROM agents").await?,
            agents_created,
        })
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    use super::*;
    use crate::domain::CustomerId;
    use crate::store::testing::test_store;

    #[test]
    fn demo_file_is_valid_and_realistic() {
        let demo = parse_demo().unwrap();
        assert_eq!(demo.customer.len(), 21);
        let mobiles = demo
            .customer
            .iter()
            .flat_map(|c| &c.extra_phones)
            .filter(|n| n.starts_with("+316"))
            .count();
        assert!(mobiles >= 5, "only {mobiles} Dutch mobiles");
        assert!(
            demo.customer.iter().any(|c| c.phone.starts_with("+32")),
            "no Belgian customer"
        );
        let levels: Vec<i64> = demo.agent.iter().map(|a| a.level).collect();
        assert_eq!(levels, vec![1, 1, 1, 1, 2, 2, 1, 1]);
        let supervisors: Vec<&str> = (demo.agent.iter())
            .filter(|a| a.role == "supervisor")
            .map(|a| a.login.as_str())
            .collect();
        assert_eq!(supervisors, vec!["sanne"]);
    }

    #[tokio::test]
    async fn load_twice_keeps_one_copy() {
        let (store, guard) = test_store().await;
        let first = store.load_demo().await.unwrap();
        assert_eq!(
            first,
            DemoSummary {
                customers: 21,
                extra_phones: 9,
                agents: 8,
                agents_created: 8
            }
        );
        let second = store.load_demo().await.unwrap();
        assert_eq!(
            second,
            DemoSummary {
                agents_created: 0,
                ..first
            }
        );
        guard.cleanup().await;
    }

    #[tokio::test]
    async fn demo_customers_are_found_by_number_and_agents_can_sign_in() {
        let (store, guard) = test_store().await;
        store.load_demo().await.unwrap();
        let anouk = store
            .find_customer_by_phone("+31612345678")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(anouk.id, CustomerId::from_string("cust-demo-01"));
        assert_eq!(anouk.organisation.as_deref(), Some("Gemeente Zaanwijk"));
        let thomas = store
            .find_customer_by_phone("+32475123456")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(thomas.name, "Thomas Peeters");

        let anna = store.agent_by_login("anna").await.unwrap().unwrap();
        assert_eq!(
            anna.categories,
            vec![Category::Hardware, Category::Software]
        );
        assert_eq!((anna.level, anna.extension.as_deref()), (1, Some("2001")));
        assert!(
            anna.password_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            anna.password_hash
        );
        let parsed = PasswordHash::new(&anna.password_hash).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"anna-demo", &parsed)
                .is_ok()
        );
        assert!(
            argon2::Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
        let names: Vec<String> = store
            .list_agents()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.login)
            .collect();
        assert_eq!(
            names,
            vec![
                "anna", "bas", "chantal", "dirk", "femke", "sanne", "eva", "gijs"
            ]
        );
        let eva = store.agent_by_login("eva").await.unwrap().unwrap();
        assert_eq!(eva.groups, vec!["Applications", "Workplace"]);
        let gijs = store.agent_by_login("gijs").await.unwrap().unwrap();
        assert_eq!(
            (gijs.name.as_str(), gijs.level, gijs.extension.as_deref()),
            ("Gijs Smit", 2, Some("2006"))
        );
        assert_eq!(gijs.groups, vec!["Network", "Servers"]);
        assert_eq!((anna.groups.len(), anna.language), (0, None));
        assert_eq!(store.agent_by_login("nobody").await.unwrap(), None);
        guard.cleanup().await;
    }

    #[tokio::test]
    async fn demo_agents_get_sip_ha1s_and_a_new_password_replaces_them() {
        let (store, _guard) = test_store().await;
        store.load_demo().await.unwrap();
        let creds = store.sip_credentials().await.unwrap();
        assert_eq!(creds.len(), 6);
        let anna = &creds[0];
        assert_eq!(anna.extension, "2001");
        assert_eq!(anna.agent_id.as_str(), "agent-demo-anna");
        // MD5("2001:firstline:2001-sip"), computed independently with coreutils md5sum.
        assert_eq!(
            anna.ha1_md5.as_deref(),
            Some("5103f823619a19c731d9bb5755aac651")
        );
        let id = anna.agent_id.clone();
        assert!(
            store
                .set_agent_sip_password(&id, "firstline", "new")
                .await
                .unwrap()
        );
        store.load_demo().await.unwrap();
        let after = store.sip_credentials().await.unwrap();
        assert_eq!(
            after[0].ha1_sha256.as_deref(),
            Some(crate::sip::ha1_sha256("2001", "firstline", "new").as_str())
        );
        let nobody = crate::domain::AgentId::from_string("agent-none");
        assert!(
            !store
                .set_agent_sip_password(&nobody, "firstline", "x")
                .await
                .unwrap()
        );
    }
}
