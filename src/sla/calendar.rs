//! A business-hours calendar: weekly opening hours in a local zone plus whole-day holidays
//! (pure, no I/O).
//!
//! Everything is worked out day by day in local dates: each open interval of a local date is
//! turned into two UTC instants and clipped, so the switch days of summer time come out right
//! (08:00–17:30 is 9.5 h on both). An interval's length is the real time between its two
//! instants, so a 00:00–24:00 day lasts 23 h or 25 h on those days. Loops run over days, never
//! minutes, and stop after [`MAX_SCAN_DAYS`] so a calendar with rare open days still ends.

use std::collections::BTreeSet;

use crate::store::reports::{Date, Zone};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z: instants are clamped into the years the
/// date arithmetic covers, so a garbage timestamp cannot overflow it.
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_800_000;

/// Minutes in a local day; an interval may end at 24:00.
pub const DAY_MINUTES: u16 = 1440;

/// The most local days one computation scans (about ten years). `add_business_ms` answers the
/// end of the scanned span if the business time is not reached by then; `business_ms_between`
/// counts the first ten years of a longer span only.
pub const MAX_SCAN_DAYS: i64 = 3_660;

/// Day names, Monday first (the index of `Calendar::new`'s `week`).
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Why a week of opening hours was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// An interval ends after 24:00 (or starts there).
    #[error("{day}: {} is past 24:00", hhmm(*.minute))]
    OutOfRange { day: &'static str, minute: u16 },
    /// An interval does not end after it starts.
    #[error(
        "{day}: {} is empty (write a night shift as two intervals: ...-24:00 and 00:00-...)",
        span(.interval)
    )]
    Empty {
        day: &'static str,
        interval: (u16, u16),
    },
    /// An interval starts before the one listed before it.
    #[error("{day}: {} is listed after {} (list intervals in order)", span(.next), span(.prev))]
    Unsorted {
        day: &'static str,
        prev: (u16, u16),
        next: (u16, u16),
    },
    /// Two intervals of one day overlap.
    #[error("{day}: {} overlaps {}", span(.second), span(.first))]
    Overlap {
        day: &'static str,
        first: (u16, u16),
        second: (u16, u16),
    },
    /// No day of the week has an open minute.
    #[error("the week has no open hours")]
    NeverOpen,
}

/// `HH:MM` for a minute of the day.
fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn span(interval: &(u16, u16)) -> String {
    format!("{}-{}", hhmm(interval.0), hhmm(interval.1))
}

/// Weekly opening hours in a zone, with closed holidays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    zone: Zone,
    /// Monday … Sunday: sorted, non-overlapping `[start, end)` minutes of the local day.
    week: [Vec<(u16, u16)>; 7],
    /// Local dates closed all day.
    holidays: BTreeSet<Date>,
    /// Open every instant: the arithmetic is plain subtraction.
    always: bool,
}

impl Calendar {
    /// Open around the clock, no holidays (the zone does not matter).
    pub fn always() -> Calendar {
        Calendar {
            zone: Zone::Utc,
            week: std::array::from_fn(|_| vec![(0, DAY_MINUTES)]),
            holidays: BTreeSet::new(),
            always: true,
        }
    }

    /// Checks the week (Monday first; intervals sorted, non-empty, within 00:00–24:00, not
    /// overlapping; at least one open minute) and builds the calendar.
    pub fn new(
        zone: Zone,
        week: [Vec<(u16, u16)>; 7],
        holidays: impl IntoIterator<Item = Date>,
    ) -> Result<Calendar, CalendarError> {
        for (&day, intervals) in DAY_NAMES.iter().zip(&week) {
            let mut prev: Option<(u16, u16)> = None;
            for &(start, end) in intervals {
                if start > DAY_MINUTES || end > DAY_MINUTES {
                    let minute = start.max(end);
                    return Err(CalendarError::OutOfRange { day, minute });
                }
                if start >= end {
                    let interval = (start, end);
                    return Err(CalendarError::Empty { day, interval });
                }
                if let Some(prev) = prev {
                    let next = (start, end);
                    if start < prev.0 {
                        return Err(CalendarError::Unsorted { day, prev, next });
                    }
                    if start < prev.1 {
                        let (first, second) = (prev, next);
                        return Err(CalendarError::Overlap { day, first, second });
                    }
                }
                prev = Some((start, end));
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(CalendarError::NeverOpen);
        }
        let holidays: BTreeSet<Date> = holidays.into_iter().collect();
        let always = holidays.is_empty() && week.iter().all(|d| d[..] == [(0, DAY_MINUTES)]);
        Ok(Calendar {
            zone,
            week,
            holidays,
            always,
        })
    }

    /// The zone whose local dates and wall-clock hours the calendar follows.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// Whether `at_ms` falls in an open interval (start inclusive, end exclusive).
    pub fn is_open(&self, at_ms: i64) -> bool {
        if self.always {
            return true;
        }
        let at = at_ms.clamp(MIN_MS, MAX_MS);
        let date = self.zone.date_of(at);
        self.open_spans(date).any(|(a, b)| a <= at && at < b)
    }

    /// Open time (ms) in `[from_ms, to_ms)`; 0 when `to_ms <= from_ms`.
    pub fn business_ms_between(&self, from_ms: i64, to_ms: i64) -> i64 {
        let (from, to) = (from_ms.clamp(MIN_MS, MAX_MS), to_ms.clamp(MIN_MS, MAX_MS));
        if to <= from {
            return 0;
        }
        if self.always {
            return to - from;
        }
        // Intervals of earlier dates end by this date's midnight, which is <= `from`.
        let mut date = self.zone.date_of(from);
        let mut total = 0;
        for _ in 0..MAX_SCAN_DAYS {
            if self.zone.day_start_ms(date) >= to {
                break;
            }
            for (a, b) in self.open_spans(date) {
                let (a, b) = (a.max(from), b.min(to));
                if b > a {
                    total += b - a;
                }
            }
            date = date.succ();
        }
        total
    }

    /// The first instant `t >= from_ms` with `business_ms_between(from_ms, t) == ms`
    /// (`from_ms` itself when `ms <= 0`). Past [`MAX_SCAN_DAYS`] days: the end of the scan.
    pub fn add_business_ms(&self, from_ms: i64, ms: i64) -> i64 {
        if ms <= 0 {
            return from_ms;
        }
        if self.always {
            return from_ms.saturating_add(ms);
        }
        let from = from_ms.clamp(MIN_MS, MAX_MS);
        let mut left = ms;
        let mut date = self.zone.date_of(from);
        for _ in 0..MAX_SCAN_DAYS {
            for (a, b) in self.open_spans(date) {
                let a = a.max(from);
                if b > a {
                    if left <= b - a {
                        return a + left;
                    }
                    left -= b - a;
                }
            }
            date = date.succ();
        }
        self.zone.day_start_ms(date)
    }

    /// The open intervals of a local date as UTC instants `[a, b)` (none on a holiday).
    fn open_spans(&self, date: Date) -> impl Iterator<Item = (i64, i64)> + '_ {
        let intervals = if self.holidays.contains(&date) {
            &[][..]
        } else {
            &self.week[weekday(date)][..]
        };
        let zone = self.zone;
        intervals
            .iter()
            .map(move |&(s, e)| (local_to_utc(zone, date, s), local_to_utc(zone, date, e)))
    }
}

/// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
fn weekday(date: Date) -> usize {
    // rem_euclid(7) is 0..=6, so the cast is exact.
    (date.days_since_epoch() + 3).rem_euclid(7) as usize
}

/// The UTC instant of the wall-clock time `minute` (0..=1440) on local `date`.
///
/// Same guess-and-confirm as `Zone::day_start_ms`. A wall time that occurs twice (autumn,
/// 02:00–03:00 in the EU) gives its first occurrence, so an interval across it spans both; a
/// wall time that does not exist (spring, 02:00–03:00) gives the instant the clocks jumped, so
/// the mapping never runs backwards and an interval keeps its real length.
fn local_to_utc(zone: Zone, date: Date, minute: u16) -> i64 {
    let local = date.days_since_epoch() * DAY_MS + i64::from(minute) * MINUTE_MS;
    let guess = local - zone.offset_ms(local - 12 * HOUR_MS);
    let utc = local - zone.offset_ms(guess);
    let wall = |t: i64| t + zone.offset_ms(t);
    if wall(utc) == local {
        return utc;
    }
    // In a gap: `utc` reads earlier than `local`; find the first instant that reads later.
    let (mut lo, mut hi) = (utc, local - zone.offset_ms(utc));
    if hi <= lo || wall(lo) > local || wall(hi) < local {
        return utc;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if wall(mid) < local {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
