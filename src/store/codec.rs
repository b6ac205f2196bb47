//! Conversions between stored TEXT/INTEGER values and domain types; pure, no I/O.

use sqlx::any::AnyRow;
use sqlx::{Any, Decode, Row, Type};

use super::StoreError;
use crate::domain::{Category, DtmfMode, Language, Priority};

/// Reads column `col` of `row`; a decoding failure is reported against `op`.
pub(crate) fn get<'r, T>(
    row: &'r AnyRow,
    col: &'static str,
    op: &'static str,
) -> Result<T, StoreError>
where
    T: Decode<'r, Any> + Type<Any>,
{
    row.try_get(col).map_err(StoreError::query(op))
}

/// `[Rfc4733, Info]` → `Some("rfc4733,info")` in first-seen order without repeats; `None` if empty.
pub(crate) fn dtmf_to_text(modes: &[DtmfMode]) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for m in modes {
        if !seen.contains(&m.as_str()) {
            seen.push(m.as_str());
        }
    }
    (!seen.is_empty()).then(|| seen.join(","))
}

/// The inverse of [`dtmf_to_text`]; `column` names the source in errors.
pub(crate) fn dtmf_from_text(
    text: Option<String>,
    column: &'static str,
) -> Result<Vec<DtmfMode>, StoreError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| match s.trim() {
            "rfc4733" => Ok(DtmfMode::Rfc4733),
            "info" => Ok(DtmfMode::Info),
            "inband" => Ok(DtmfMode::Inband),
            _ => Err(StoreError::Corrupt {
                column,
                value: text.clone(),
            }),
        })
        .collect()
}

/// A nullable `language` column.
pub(crate) fn language_from(
    text: Option<String>,
    column: &'static str,
) -> Result<Option<Language>, StoreError> {
    text.map(|t| {
        t.parse()
            .map_err(|_| StoreError::Corrupt { column, value: t })
    })
    .transpose()
}

/// The `category` column.
pub(crate) fn category_from(text: String, column: &'static str) -> Result<Category, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt {
        column,
        value: text,
    })
}

/// A nullable `priority` column (1..=5).
pub(crate) fn priority_from(
    value: Option<i64>,
    column: &'static str,
) -> Result<Option<Priority>, StoreError> {
    value
        .map(|v| {
            u8::try_from(v)
                .ok()
                .and_then(Priority::new)
                .ok_or(StoreError::Corrupt {
                    column,
                    value: v.to_string(),
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_round_trip_keeps_order_and_drops_repeats() {
        let text = dtmf_to_text(&[DtmfMode::Info, DtmfMode::Inband, DtmfMode::Info]);
        assert_eq!(text.as_deref(), Some("info,inband"));
        assert_eq!(
            dtmf_from_text(text, "c").unwrap(),
            vec![DtmfMode::Info, DtmfMode::Inband]
        );
        assert_eq!(dtmf_to_text(&[]), None);
        assert!(dtmf_from_text(None, "c").unwrap().is_empty());
        assert!(matches!(
            dtmf_from_text(Some("rfc4733,pulse".into()), "c"),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn priority_out_of_range_is_corrupt() {
        assert_eq!(priority_from(Some(3), "p").unwrap(), Priority::new(3));
        assert_eq!(priority_from(None, "p").unwrap(), None);
        assert!(priority_from(Some(0), "p").is_err());
        assert!(priority_from(Some(300), "p").is_err());
    }

    #[test]
    fn language_and_category() {
        assert_eq!(
            language_from(Some("nl".into()), "l").unwrap(),
            Some(Language::Nl)
        );
        assert!(language_from(Some("de".into()), "l").is_err());
        assert_eq!(
            category_from("service".into(), "c").unwrap(),
            Category::Service
        );
        assert!(category_from("printer".into(), "c").is_err());
    }
}
