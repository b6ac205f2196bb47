//! The `[sla]` settings as written in `firstline.toml`, and their check into an [`SlaPolicy`]
//! (pure, no I/O).
//!
//! ```toml
//! [sla]
//! time_zone = "Europe/Amsterdam"      # optional: the desk's zone when absent
//! hours = "mon-fri 08:00-12:00,13:00-17:30; sat 09:00-12:00"
//! # hours = { mon = "08:00-17:30", sat = "" }   # or per day; a missing or empty day is closed
//! holidays = ["2026-12-25", "2026-12-26"]
//! warn_percent = 75                   # 1 to 99
//! default_priority = 3                # absent: intakes without a priority have no SLA
//! [[sla.target]]
//! priority = 1
//! response = "30m"                    # 90s, 30m, 4h, 2d (d = 24 h of the clock), 1h30m
//! resolution = "4h"
//! clock = "24x7"                      # or "business" (the default)
//! ```
//!
//! Errors name the setting; `sla.target[i]` counts from 0 in file order.

use serde::Deserialize;

use super::calendar::Calendar;
use super::hours::{HoursConfig, HoursError, parse_hours};
use super::{ClockKind, MAX_PRIORITY, SlaPolicy, SlaTarget};
use crate::store::reports::{Date, Zone};

/// `warn_percent` when not set.
pub(super) const DEFAULT_WARN_PERCENT: u8 = 75;
/// The longest target: a year of the target's clock.
const MAX_TARGET_MS: i64 = 365 * 86_400_000;

/// `[sla]`. The default (no section) has no targets: SLA is off.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaConfig {
    /// Zone of the opening hours and holidays; absent: the desk's zone.
    pub time_zone: Option<String>,
    /// Opening hours, required when a target counts business hours.
    pub hours: Option<HoursConfig>,
    /// Local dates closed all day, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    /// A running timer warns once this share (percent, 1 to 99) of its target has elapsed.
    pub warn_percent: u8,
    /// The priority whose target applies to intakes without one.
    pub default_priority: Option<u8>,
    /// `[[sla.target]]`: one per priority; a priority without one has no SLA.
    #[serde(rename = "target")]
    pub targets: Vec<SlaTargetConfig>,
}

/// `[[sla.target]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTargetConfig {
    /// The priority (1 to 5).
    pub priority: u8,
    /// Time to first response, e.g. `"30m"`.
    pub response: String,
    /// Time to resolution, pauses excluded, e.g. `"1d"`.
    pub resolution: String,
    /// `"business"` (the default) or `"24x7"`.
    #[serde(default)]
    pub clock: Option<String>,
}

/// Why `[sla]` was refused; the message names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaConfigError {
    /// `sla.time_zone` is not a supported zone.
    #[error(
        "sla.time_zone: {0:?} is not a supported zone (Europe/Amsterdam, Europe/Brussels, UTC, \
         or an offset such as +01:00)"
    )]
    Zone(String),
    /// `sla.hours` (or `sla.hours.<day>`) does not parse or is not a valid week.
    #[error("{setting}: {error}")]
    Hours { setting: String, error: HoursError },
    /// A business-clock target, but no `sla.hours`.
    #[error(
        "sla.hours: missing, but sla.target[{index}] counts business hours (set sla.hours, \
         or clock = \"24x7\")"
    )]
    HoursMissing { index: usize },
    /// A holiday is not a date.
    #[error("sla.holidays[{index}]: {value:?} is not a date (YYYY-MM-DD)")]
    Holiday { index: usize, value: String },
    /// `sla.warn_percent` is outside 1..=99.
    #[error("sla.warn_percent: {0} is out of range (1 to 99)")]
    WarnPercent(u8),
    /// `sla.default_priority` is outside 1..=5.
    #[error("sla.default_priority: {0} is out of range (1 to 5)")]
    DefaultPriority(u8),
    /// A target's priority is outside 1..=5.
    #[error("sla.target[{index}].priority: {priority} is out of range (1 to 5)")]
    Priority { index: usize, priority: u8 },
    /// Two targets for one priority.
    #[error("sla.target[{index}].priority: priority {priority} already has sla.target[{first}]")]
    DuplicatePriority {
        index: usize,
        first: usize,
        priority: u8,
    },
    /// A target's `response` or `resolution` is not a duration.
    #[error(
        "sla.target[{index}].{field}: {value:?} is not a duration: {reason} \
         (e.g. 90s, 30m, 4h, 2d, 1h30m)"
    )]
    Duration {
        index: usize,
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    /// A target's clock is neither `business` nor `24x7`.
    #[error("sla.target[{index}].clock: {value:?} is not a clock (\"business\" or \"24x7\")")]
    Clock { index: usize, value: String },
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            time_zone: None,
            hours: None,
            holidays: Vec::new(),
            warn_percent: DEFAULT_WARN_PERCENT,
            default_priority: None,
            targets: Vec::new(),
        }
    }
}

impl SlaConfig {
    /// Checks every setting; `desk_zone` applies when `sla.time_zone` is absent.
    pub fn check(&self, desk_zone: Zone) -> Result<SlaPolicy, SlaConfigError> {
        let zone = match &self.time_zone {
            Some(name) => {
                Zone::parse(name.trim()).ok_or_else(|| SlaConfigError::Zone(name.clone()))?
            }
            None => desk_zone,
        };
        let mut holidays = Vec::with_capacity(self.holidays.len());
        for (index, value) in self.holidays.iter().enumerate() {
            let date = Date::parse(value.trim());
            holidays.push(date.ok_or_else(|| SlaConfigError::Holiday {
                index,
                value: value.clone(),
            })?);
        }
        let calendar = match &self.hours {
            Some(hours) => parse_hours(hours, zone, holidays)?,
            None => Calendar::always(),
        };
        if !(1..=99).contains(&self.warn_percent) {
            return Err(SlaConfigError::WarnPercent(self.warn_percent));
        }
        if let Some(p) = self
            .default_priority
            .filter(|p| !(1..=MAX_PRIORITY).contains(p))
        {
            return Err(SlaConfigError::DefaultPriority(p));
        }
        let mut policy = SlaPolicy::disabled();
        let mut first_of: [Option<usize>; MAX_PRIORITY as usize] = [None; MAX_PRIORITY as usize];
        for (index, t) in self.targets.iter().enumerate() {
            let slot = usize::from(t.priority).wrapping_sub(1);
            let priority = t.priority;
            let Some(first) = first_of.get_mut(slot) else {
                return Err(SlaConfigError::Priority { index, priority });
            };
            if let Some(first) = *first {
                return Err(SlaConfigError::DuplicatePriority {
                    index,
                    first,
                    priority,
                });
            }
            *first = Some(index);
            let duration = |field: &'static str, value: &str| {
                parse_duration(value).map_err(|reason| SlaConfigError::Duration {
                    index,
                    field,
                    value: value.to_owned(),
                    reason,
                })
            };
            let response_ms = duration("response", &t.response)?;
            let resolution_ms = duration("resolution", &t.resolution)?;
            let clock = match t.clock.as_deref().map(str::trim) {
                None | Some("business") => ClockKind::Business,
                Some("24x7") => ClockKind::AllHours,
                Some(_) => {
                    let value = t.clock.clone().unwrap_or_default();
                    return Err(SlaConfigError::Clock { index, value });
                }
            };
            if clock == ClockKind::Business && self.hours.is_none() {
                return Err(SlaConfigError::HoursMissing { index });
            }
            policy.targets[slot] = Some(SlaTarget {
                response_ms,
                resolution_ms,
                clock,
            });
        }
        policy.calendar = calendar;
        policy.warn_percent = self.warn_percent;
        policy.default_priority = self.default_priority;
        Ok(policy)
    }
}

/// Parses `90s`, `30m`, `4h`, `2d`, `1h30m` (units d > h > m > s, each once, in that order).
fn parse_duration(text: &str) -> Result<i64, &'static str> {
    const UNITS: [(char, i64); 4] = [
        ('d', 86_400_000),
        ('h', 3_600_000),
        ('m', 60_000),
        ('s', 1000),
    ];
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty");
    }
    let mut total: i64 = 0;
    let mut next_unit = 0; // units before this index are used up
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err("expected a number");
        }
        let number: i64 = rest[..digits].parse().map_err(|_| "too long")?;
        rest = &rest[digits..];
        let unit = rest
            .chars()
            .next()
            .ok_or("a number needs a unit (d, h, m or s)")?;
        let Some(pos) = UNITS.iter().position(|(c, _)| *c == unit) else {
            return Err("a number needs a unit (d, h, m or s)");
        };
        if pos < next_unit {
            return Err("write units largest first, each once");
        }
        next_unit = pos + 1;
        total = number
            .checked_mul(UNITS[pos].1)
            .and_then(|ms| total.checked_add(ms))
            .filter(|ms| *ms <= MAX_TARGET_MS)
            .ok_or("longer than 365d")?;
        rest = rest[unit.len_utf8()..].trim_start();
    }
    if total == 0 {
        return Err("must be longer than zero");
    }
    Ok(total)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
