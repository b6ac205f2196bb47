//! `support_groups` and `vendors` (schema 10): the second-level groups and third-level vendors
//! that escalation offers, edited on the admin pages with an audit row per change, seeded from
//! `[desk]` at the first start that finds both tables empty.

use serde::Serialize;
use serde_json::json;

use super::audit::insert_audit;
use super::codec::get;
use super::{NewAudit, Store, StoreError};
use crate::domain::AgentId;

/// Which list a target belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A second-level group (`support_groups`).
    Group,
    /// A third-level vendor (`vendors`).
    Vendor,
}

impl TargetKind {
    fn audit_action(self, created: bool) -> &'static str {
        match (self, created) {
            (TargetKind::Group, true) => "group_create",
            (TargetKind::Group, false) => "group_update",
            (TargetKind::Vendor, true) => "vendor_create",
            (TargetKind::Vendor, false) => "vendor_update",
        }
    }
}

/// A group or vendor. Groups use `contact` for their description and have no notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Unique name (what intakes and `agents.groups` store).
    pub name: String,
    /// A vendor's contact (phone, e-mail, portal); a group's description.
    pub contact: Option<String>,
    /// Notes for agents (vendors: contract, customer number, hours).
    pub notes: Option<String>,
    /// Offered by escalation; an inactive target stays on the intakes that name it.
    pub active: bool,
}

/// Every target of `kind`, by name.
fn select_all(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Group => {
            "SELECT name, description AS contact, NULL AS notes, active FROM support_groups \
             ORDER BY name"
        }
        TargetKind::Vendor => "SELECT name, contact, notes, active FROM vendors ORDER BY name",
    }
}

/// The target of `kind` named `$1`.
fn select_one(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Group => {
            "SELECT name, description AS contact, NULL AS notes, active FROM support_groups \
             WHERE name = $1"
        }
        TargetKind::Vendor => "SELECT name, contact, notes, active FROM vendors WHERE name = $1",
    }
}

/// Inserts a name (`$1`) at `$2` unless it exists.
fn seed_one(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Group => {
            "INSERT INTO support_groups (name, active, created_at, updated_at) \
             VALUES ($1, 1, $2, $2) ON CONFLICT (name) DO NOTHING"
        }
        TargetKind::Vendor => {
            "INSERT INTO vendors (name, active, created_at, updated_at) \
             VALUES ($1, 1, $2, $2) ON CONFLICT (name) DO NOTHING"
        }
    }
}

fn target_from(r: &sqlx::any::AnyRow, op: &'static str) -> Result<Target, StoreError> {
    Ok(Target {
        name: get(r, "name", op)?,
        contact: get(r, "contact", op)?,
        notes: get(r, "notes", op)?,
        active: get::<i64>(r, "active", op)? != 0,
    })
}

impl Store {
    /// Every group or vendor, by name.
    pub async fn targets(&self, kind: TargetKind) -> Result<Vec<Target>, StoreError> {
        const OP: &str = "targets";
        let rows = sqlx::query(select_all(kind))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query(OP))?;
        rows.iter().map(|r| target_from(r, OP)).collect()
    }

    /// Stores the `[desk]` lists when both tables are empty (the first start on schema 10);
    /// returns whether it did.
    pub async fn seed_targets(
        &self,
        groups: &[String],
        vendors: &[String],
        now: i64,
    ) -> Result<bool, StoreError> {
        const OP: &str = "seed_targets";
        let mut tx = self.begin_write(OP).await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM support_groups) + (SELECT COUNT(*) FROM vendors)",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::query(OP))?;
        if n > 0 {
            return Ok(false);
        }
        for (kind, names) in [(TargetKind::Group, groups), (TargetKind::Vendor, vendors)] {
            for name in names {
                sqlx::query(seed_one(kind))
                    .bind(name)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query(OP))?;
            }
        }
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(true)
    }

    /// Creates or updates a group or vendor with its audit row (before/after); returns the row
    /// before, `None` when it is new.
    pub async fn save_target(
        &self,
        kind: TargetKind,
        t: &Target,
        by: &AgentId,
        now: i64,
    ) -> Result<Option<Target>, StoreError> {
        const OP: &str = "save_target";
        let mut tx = self.begin_write(OP).await?;
        let before = sqlx::query(select_one(kind))
            .bind(&t.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?
            .map(|r| target_from(&r, OP))
            .transpose()?;
        let query = match kind {
            TargetKind::Group => sqlx::query(
                "INSERT INTO support_groups (name, description, active, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (name) DO UPDATE SET \
                 description = $2, active = $3, updated_at = $4",
            )
            .bind(&t.name)
            .bind(t.contact.as_deref()),
            TargetKind::Vendor => sqlx::query(
                "INSERT INTO vendors (name, contact, notes, active, created_at, updated_at) \
                 VALUES ($1, $2, $5, $3, $4, $4) ON CONFLICT (name) DO UPDATE SET \
                 contact = $2, notes = $5, active = $3, updated_at = $4",
            )
            .bind(&t.name)
            .bind(t.contact.as_deref()),
        };
        let query = query.bind(i64::from(t.active)).bind(now);
        let query = match kind {
            TargetKind::Group => query,
            TargetKind::Vendor => query.bind(t.notes.as_deref()),
        };
        query
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(OP))?;
        let entry = NewAudit {
            at: now,
            actor: by.clone(),
            action: kind.audit_action(before.is_none()).to_owned(),
            target: t.name.clone(),
            details: json!({ "before": before, "after": t }),
        };
        insert_audit(&mut tx, &entry, OP).await?;
        tx.commit().await.map_err(StoreError::query(OP))?;
        Ok(before)
    }
}
