//! A statement assembled at run time from `&'static str` fragments and `$N` placeholders, for
//! the queries whose shape depends on the request (filters, `IN (…)` lists of a page's ids),
//! and [`Store::by_intake`]: a child table's rows for a page of intakes.
//!
//! Only static text and placeholders ever enter the SQL; every value is a bound argument, so
//! the assembled text is as safe as a literal (hence the `AssertSqlSafe` in [`Sql::query`]).
//! sqlx's own `QueryBuilder` writes `?` for the `Any` driver, which PostgreSQL does not read.
//! Each distinct shape is one prepared statement in sqlx's per-connection cache.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

/// One bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Text(String),
    Int(i64),
}

/// SQL text with numbered placeholders and the values bound to them, in order.
#[derive(Debug, Clone, Default)]
pub(super) struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Starts with a static fragment.
    pub(super) fn new(head: &'static str) -> Sql {
        Sql {
            text: head.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends a static fragment.
    pub(super) fn push(&mut self, fragment: &'static str) -> &mut Sql {
        self.text.push_str(fragment);
        self
    }

    /// Appends the next placeholder (`$N`) bound to `value`.
    pub(super) fn text(&mut self, value: impl Into<String>) -> &mut Sql {
        self.args.push(Arg::Text(value.into()));
        self.placeholder()
    }

    /// Binds the next value to a placeholder the static text already wrote (`$1` used
    /// several times in a fragment).
    pub(super) fn bound_text(&mut self, value: impl Into<String>) -> &mut Sql {
        self.args.push(Arg::Text(value.into()));
        self
    }

    /// Appends the next placeholder bound to an integer.
    pub(super) fn int(&mut self, value: i64) -> &mut Sql {
        self.args.push(Arg::Int(value));
        self.placeholder()
    }

    /// Appends `($1, $2, …)` bound to `values`; `(NULL)` for none, which matches nothing.
    ///
    /// The list is padded to a power of two by repeating its last value (the same set for
    /// `IN`), so a page of 1 to 200 ids is one of nine statements, not 200: prepared
    /// statements and PostgreSQL's plans are reused instead of re-made per length.
    pub(super) fn list<I, S>(&mut self, values: I) -> &mut Sql
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        self.padded(values, |sql, v| {
            sql.text(v);
        })
    }

    /// [`Sql::list`] of integers (`BIGINT` columns: PostgreSQL compares no text with them).
    pub(super) fn int_list(&mut self, values: &[i64]) -> &mut Sql {
        self.padded(values.to_vec(), |sql, v| {
            sql.int(v);
        })
    }

    /// `(…)` of `values` padded to a power of two by repeating the last, each pushed by `push`.
    fn padded<T: Clone>(&mut self, mut values: Vec<T>, push: impl Fn(&mut Sql, T)) -> &mut Sql {
        self.text.push('(');
        if let Some(last) = values.last().cloned() {
            values.resize(values.len().next_power_of_two(), last);
        } else {
            self.text.push_str("NULL");
        }
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            push(self, v);
        }
        self.text.push(')');
        self
    }

    fn placeholder(&mut self) -> &mut Sql {
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = write!(self.text, "${}", self.args.len());
        self
    }

    /// The SQL text (for tests and logs).
    #[cfg(test)]
    pub(super) fn as_str(&self) -> &str {
        &self.text
    }

    /// The statement with every value bound.
    pub(super) fn query(&self) -> Query<'static, Any, AnyArguments> {
        // Only `&'static str` fragments and `$N` placeholders are ever written into `text`.
        let mut q = sqlx::query(AssertSqlSafe(self.text.clone()));
        for arg in &self.args {
            q = match arg {
                Arg::Text(s) => q.bind(s.clone()),
                Arg::Int(n) => q.bind(*n),
            };
        }
        q
    }
}

/// `(id, name)` of the rows of `names_query` (`SELECT id, name FROM … WHERE id IN `, followed by
/// the list of `ids`), one query; unknown ids are left out. The one shape behind the agent and
/// customer name lookups of the work lists.
pub(super) async fn names_by_id<'a>(
    store: &super::Store,
    names_query: &'static str,
    ids: impl Iterator<Item = &'a str>,
    op: &'static str,
) -> Result<Vec<(String, String)>, super::StoreError> {
    let mut sql = Sql::new(names_query);
    sql.list(ids);
    if sql.args.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sql
        .query()
        .fetch_all(&store.pool)
        .await
        .map_err(super::StoreError::query(op))?;
    rows.iter()
        .map(|r| {
            Ok((
                super::codec::get(r, "id", op)?,
                super::codec::get(r, "name", op)?,
            ))
        })
        .collect()
}

impl super::Store {
    /// The rows of `head (…ids…) tail` (`head` ends in `IN `), each mapped by `map` to its
    /// intake and value, grouped by intake in row order: the one shape of "this child table
    /// for a page of intakes", one query whatever the page's size.
    pub(super) async fn by_intake<T>(
        &self,
        head: &'static str,
        tail: &'static str,
        ids: &[crate::domain::IntakeId],
        op: &'static str,
        map: impl Fn(&sqlx::any::AnyRow) -> Result<(crate::domain::IntakeId, T), super::StoreError>,
    ) -> Result<std::collections::HashMap<crate::domain::IntakeId, Vec<T>>, super::StoreError> {
        let mut out: std::collections::HashMap<_, Vec<T>> = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut sql = Sql::new(head);
        sql.list(ids.iter().map(crate::domain::IntakeId::as_str))
            .push(tail);
        let rows = sql
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(super::StoreError::query(op))?;
        for row in &rows {
            let (id, value) = map(row)?;
            out.entry(id).or_default().push(value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut sql = Sql::new("SELECT id FROM intakes WHERE status IN ");
        sql.list(["open", "escalated"]).push(" AND level = ").int(2);
        sql.push(" AND id IN ").list(Vec::<String>::new());
        sql.push(" AND group_name IN ").list(["a", "b", "c"]);
        assert_eq!(
            sql.as_str(),
            "SELECT id FROM intakes WHERE status IN ($1, $2) AND level = $3 AND id IN (NULL) \
             AND group_name IN ($4, $5, $6, $7)"
        );
        assert_eq!(sql.args.len(), 7);
        assert_eq!(sql.args[2], Arg::Int(2));
        assert_eq!(
            sql.args[6],
            Arg::Text("c".into()),
            "padded with the last value"
        );
    }
}
