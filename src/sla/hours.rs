//! `sla.hours`, the opening hours in either form: `"mon-fri 08:00-12:00,13:00-17:30; sat
//! 09:00-12:00"` or a table `{ mon = "08:00-17:30", sat = "" }`, parsed into a [`Calendar`]
//! (pure, no I/O).
//!
//! Day names are `mon` … `sun` in any case; a day range may wrap (`sun-thu`); a day named in two
//! groups of the string form gets the intervals of both. Times are `HH:MM` (or `H:MM`) from
//! 00:00 to 24:00; a night shift is two intervals (`mon 22:00-24:00; tue 00:00-06:00`).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use super::SlaConfigError;
use super::calendar::{Calendar, CalendarError, DAY_MINUTES, DAY_NAMES};
use crate::store::reports::{Date, Zone};

/// `sla.hours`: a string of day groups, or a table with a string per day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoursConfig {
    /// `"mon-fri 08:00-12:00,13:00-17:30; sat 09:00-12:00"`.
    Text(String),
    /// `{ mon = "08:00-17:30", sat = "" }`, keyed by day name.
    Days(BTreeMap<String, String>),
}

/// Why `sla.hours` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    /// Not one of `mon` … `sun`.
    #[error("unknown day {0:?} (mon, tue, wed, thu, fri, sat, sun)")]
    UnknownDay(String),
    /// A group of the string form starts with hours instead of days.
    #[error("{0:?} names no days before its hours")]
    NoDays(String),
    /// A group of the string form has days but no hours.
    #[error("{0:?} has no hours after its days")]
    NoHours(String),
    /// Not `HH:MM` within 00:00–24:00.
    #[error("{0:?} is not a time (HH:MM, 00:00 to 24:00)")]
    BadTime(String),
    /// Not `HH:MM-HH:MM`.
    #[error("{0:?} is not an interval (HH:MM-HH:MM)")]
    BadInterval(String),
    /// The table form names a day twice (e.g. `mon` and `Mon`).
    #[error("day {0:?} is given twice")]
    DayTwice(String),
    /// The week itself is refused (overlap, empty interval, never open).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// Builds the calendar from either form of `sla.hours`.
pub(super) fn parse_hours(
    hours: &HoursConfig,
    zone: Zone,
    holidays: Vec<Date>,
) -> Result<Calendar, SlaConfigError> {
    let err = |setting: String| move |error: HoursError| SlaConfigError::Hours { setting, error };
    let mut week: [Vec<(u16, u16)>; 7] = Default::default();
    match hours {
        HoursConfig::Text(text) => {
            for group in text.split(';').map(str::trim).filter(|g| !g.is_empty()) {
                parse_group(group, &mut week).map_err(err("sla.hours".into()))?;
            }
        }
        HoursConfig::Days(table) => {
            let mut seen = [false; 7];
            for (name, value) in table {
                let setting = format!("sla.hours.{name}");
                let day = day_index(name).ok_or_else(|| HoursError::UnknownDay(name.clone()));
                let day = day.map_err(err(setting.clone()))?;
                if std::mem::replace(&mut seen[day], true) {
                    return Err(err(setting)(HoursError::DayTwice(name.clone())));
                }
                if !value.trim().is_empty() {
                    week[day] = parse_intervals(value).map_err(err(setting))?;
                }
            }
        }
    }
    for day in &mut week {
        day.sort_unstable();
    }
    Calendar::new(zone, week, holidays).map_err(|e| err("sla.hours".into())(e.into()))
}

/// One group of the string form, `mon-fri,sat 08:00-12:00,13:00-17:30`, added to `week`.
fn parse_group(group: &str, week: &mut [Vec<(u16, u16)>; 7]) -> Result<(), HoursError> {
    let cut = group.find(|c: char| c.is_ascii_digit());
    let cut = cut.ok_or_else(|| HoursError::NoHours(group.to_owned()))?;
    let (days, intervals) = group.split_at(cut);
    if days.trim().is_empty() {
        return Err(HoursError::NoDays(group.to_owned()));
    }
    let intervals = parse_intervals(intervals)?;
    let index = |name: &str| day_index(name).ok_or_else(|| HoursError::UnknownDay(name.to_owned()));
    for item in days.split(',').map(str::trim) {
        let (first, last) = item.split_once('-').unwrap_or((item, item));
        let (first, last) = (index(first.trim())?, index(last.trim())?);
        // A range may wrap around the week: `sun-thu`.
        let len = (last + 7 - first) % 7 + 1;
        for i in 0..len {
            week[(first + i) % 7].extend_from_slice(&intervals);
        }
    }
    Ok(())
}

/// `mon` … `sun` (any case) to 0 … 6.
fn day_index(name: &str) -> Option<usize> {
    let name = name.trim();
    DAY_NAMES.iter().position(|d| d.eq_ignore_ascii_case(name))
}

/// `08:00-12:00,13:00-17:30` to minutes of the day.
fn parse_intervals(text: &str) -> Result<Vec<(u16, u16)>, HoursError> {
    text.split(',')
        .map(|item| {
            let item = item.trim();
            let (start, end) = item
                .split_once('-')
                .ok_or_else(|| HoursError::BadInterval(item.to_owned()))?;
            Ok((parse_time(start)?, parse_time(end)?))
        })
        .collect()
}

/// `HH:MM` (or `H:MM`) within 00:00–24:00 to minutes of the day.
fn parse_time(text: &str) -> Result<u16, HoursError> {
    let text = text.trim();
    let bad = || HoursError::BadTime(text.to_owned());
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let digits =
        |s: &str, lens: &[usize]| lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h, &[1, 2]) || !digits(m, &[2]) {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let minute = h * 60 + m;
    if m >= 60 || minute > DAY_MINUTES {
        return Err(bad());
    }
    Ok(minute)
}

impl<'de> Deserialize<'de> for HoursConfig {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HoursVisitor;
        impl<'de> Visitor<'de> for HoursVisitor {
            type Value = HoursConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a string like \"mon-fri 08:00-17:30\" or a table like \
                     { mon = \"08:00-17:30\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HoursConfig, E> {
                Ok(HoursConfig::Text(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HoursConfig, A::Error> {
                let mut days = BTreeMap::new();
                while let Some((day, hours)) = map.next_entry::<String, String>()? {
                    days.insert(day, hours);
                }
                Ok(HoursConfig::Days(days))
            }
        }
        deserializer.deserialize_any(HoursVisitor)
    }
}
