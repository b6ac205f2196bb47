//! Calendar days and report time zones without a time-zone database (pure, no I/O).
//!
//! Reports group calls by the local calendar day, so the day boundaries are computed here in
//! Rust and the queries only compare epoch-ms columns (`arrived_at >= $1 AND arrived_at < $2`),
//! which reads the same on SQLite and PostgreSQL. Supported zones: `UTC`, a fixed offset
//! (`+02:00`, `-0530`), and `Europe/Amsterdam` / `Europe/Brussels` with the EU summer-time rule
//! (Directive 2000/84/EC: CEST from 01:00 UTC on the last Sunday of March to 01:00 UTC on the
//! last Sunday of October; CET otherwise). The civil-date arithmetic is Howard Hinnant's
//! `days_from_civil` / `civil_from_days` (proleptic Gregorian calendar).

use std::fmt;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// The date, if it exists (`2026-02-29` does not).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=days_in_month).contains(&day) && (1..=9999).contains(&year)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// Parses `YYYY-MM-DD` (ISO 8601 calendar date, extended format).
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        let year = s.get(0..4)?.parse().ok()?;
        let month = s.get(5..7)?.parse().ok()?;
        let day = s.get(8..10)?.parse().ok()?;
        if !s
            .bytes()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        {
            return None;
        }
        Date::new(year, month, day)
    }

    /// The year (e.g. for ticket numbers counted per calendar year).
    pub fn year(self) -> i32 {
        self.year
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        // The ranges are fixed by the algorithm: day 1..=31, month 1..=12; the year fits i32
        // for any epoch-ms instant an i64 holds.
        Date {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }

    /// The next day.
    pub fn succ(self) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + 1)
    }

    /// Weekday with Monday = 0 … Sunday = 6.
    fn weekday(self) -> i64 {
        // 1970-01-01 was a Thursday (3).
        (self.days_since_epoch() + 3).rem_euclid(7)
    }

    /// The last Sunday of `month` in `year`.
    fn last_sunday(year: i32, month: u8) -> Date {
        let first_next = if month == 12 {
            Date {
                year: year + 1,
                month: 1,
                day: 1,
            }
        } else {
            Date {
                year,
                month: month + 1,
                day: 1,
            }
        };
        let last = first_next.days_since_epoch() - 1;
        let last_date = Date::from_days_since_epoch(last);
        Date::from_days_since_epoch(last - (last_date.weekday() + 1) % 7)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A time zone for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Coordinated Universal Time.
    Utc,
    /// A fixed offset east of UTC, in minutes (−14:00 … +14:00).
    Fixed(i32),
    /// Central European Time with EU summer time (`Europe/Amsterdam`, `Europe/Brussels`).
    CentralEurope,
}

impl Zone {
    /// Parses `UTC`, `Z`, `Europe/Amsterdam`, `Europe/Brussels`, `+HH:MM`, `-HH:MM`, `+HHMM`.
    pub fn parse(s: &str) -> Option<Zone> {
        match s {
            "UTC" | "utc" | "Z" | "Etc/UTC" => return Some(Zone::Utc),
            "Europe/Amsterdam" | "Europe/Brussels" => return Some(Zone::CentralEurope),
            _ => {}
        }
        let sign = match s.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let rest = s.get(1..)?;
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        let well_formed = digits.len() == 4
            && digits.bytes().all(|c| c.is_ascii_digit())
            && (rest.len() == 4 || (rest.len() == 5 && rest.as_bytes().get(2) == Some(&b':')));
        if !well_formed {
            return None;
        }
        let hours: i32 = digits.get(0..2)?.parse().ok()?;
        let minutes: i32 = digits.get(2..4)?.parse().ok()?;
        let total = hours * 60 + minutes;
        (minutes < 60 && total <= 14 * 60).then_some(Zone::Fixed(sign * total))
    }

    /// The offset from UTC (ms) in force at the instant `utc_ms`.
    pub fn offset_ms(self, utc_ms: i64) -> i64 {
        match self {
            Zone::Utc => 0,
            Zone::Fixed(minutes) => i64::from(minutes) * MINUTE_MS,
            Zone::CentralEurope => {
                let year = Date::from_days_since_epoch(utc_ms.div_euclid(DAY_MS)).year;
                // Both switches happen at 01:00 UTC.
                let start = Date::last_sunday(year, 3).days_since_epoch() * DAY_MS + HOUR_MS;
                let end = Date::last_sunday(year, 10).days_since_epoch() * DAY_MS + HOUR_MS;
                if (start..end).contains(&utc_ms) {
                    2 * HOUR_MS
                } else {
                    HOUR_MS
                }
            }
        }
    }

    /// The UTC instant (epoch ms) at which local `date` begins (00:00 local time).
    ///
    /// Midnight always exists in the supported zones (EU switches happen at 02:00/03:00 local).
    pub fn day_start_ms(self, date: Date) -> i64 {
        let local = date.days_since_epoch() * DAY_MS;
        // Guess with the offset a few hours earlier, then confirm at the candidate instant.
        let guess = local - self.offset_ms(local - 12 * HOUR_MS);
        let offset = self.offset_ms(guess);
        local - offset
    }

    /// The local calendar date of the instant `utc_ms`.
    pub fn date_of(self, utc_ms: i64) -> Date {
        Date::from_days_since_epoch((utc_ms + self.offset_ms(utc_ms)).div_euclid(DAY_MS))
    }

    /// `YYYY-MM-DD HH:MM:SS` in local time (for CSV cells).
    pub fn local_text(self, utc_ms: i64) -> String {
        let local = utc_ms + self.offset_ms(utc_ms);
        let date = Date::from_days_since_epoch(local.div_euclid(DAY_MS));
        let secs = local.rem_euclid(DAY_MS) / 1000;
        format!(
            "{date} {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Utc => f.write_str("UTC"),
            Zone::CentralEurope => f.write_str("Europe/Amsterdam"),
            Zone::Fixed(m) => {
                let sign = if *m < 0 { '-' } else { '+' };
                write!(f, "{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(d("1970-01-01").days_since_epoch(), 0);
        assert_eq!(d("2000-03-01").days_since_epoch(), 11_017);
        assert_eq!(d("2026-03-29").days_since_epoch(), 20_541);
        assert_eq!(d("1969-12-31").days_since_epoch(), -1);
        for days in [-1, 0, 11_016, 11_017, 20_541, 2_932_896] {
            assert_eq!(Date::from_days_since_epoch(days).days_since_epoch(), days);
        }
        assert_eq!(d("2024-02-28").succ(), d("2024-02-29"));
        assert_eq!(d("2026-12-31").succ(), d("2027-01-01"));
        assert_eq!(d("2026-03-02").to_string(), "2026-03-02");
    }

    #[test]
    fn date_parsing_refuses_bad_input() {
        for bad in [
            "",
            "2026-3-02",
            "2026-02-30",
            "2025-02-29",
            "2026-13-01",
            "2026-00-10",
            "20260302",
            "2026-03-0x",
            "+026-03-02",
            "2026-03-02T",
            "０２６-03-02",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad:?}");
        }
        assert!(Date::parse("2024-02-29").is_some());
    }

    #[test]
    fn eu_summer_time_switches_on_the_last_sundays_at_one_utc() {
        // 2026: CEST from Sunday 29 March 01:00 UTC to Sunday 25 October 01:00 UTC.
        assert_eq!(Date::last_sunday(2026, 3), d("2026-03-29"));
        assert_eq!(Date::last_sunday(2026, 10), d("2026-10-25"));
        assert_eq!(Date::last_sunday(2025, 3), d("2025-03-30"));
        let z = Zone::CentralEurope;
        let switch_on = 1_774_746_000_000; // 2026-03-29T01:00:00Z
        assert_eq!(z.offset_ms(switch_on - 1), HOUR_MS);
        assert_eq!(z.offset_ms(switch_on), 2 * HOUR_MS);
        let switch_off = 1_792_890_000_000; // 2026-10-25T01:00:00Z
        assert_eq!(z.offset_ms(switch_off - 1), 2 * HOUR_MS);
        assert_eq!(z.offset_ms(switch_off), HOUR_MS);
    }

    #[test]
    fn day_boundaries_in_amsterdam() {
        let z = Zone::CentralEurope;
        // Winter: 2026-03-02 00:00 CET = 2026-03-01T23:00:00Z.
        assert_eq!(z.day_start_ms(d("2026-03-02")), 1_772_406_000_000);
        // Summer: 2026-07-01 00:00 CEST = 2026-06-30T22:00:00Z.
        assert_eq!(z.day_start_ms(d("2026-07-01")), 1_782_856_800_000);
        // The spring-forward day has 23 hours, the fall-back day 25.
        let spring = z.day_start_ms(d("2026-03-30")) - z.day_start_ms(d("2026-03-29"));
        assert_eq!(spring, 23 * HOUR_MS);
        let autumn = z.day_start_ms(d("2026-10-26")) - z.day_start_ms(d("2026-10-25"));
        assert_eq!(autumn, 25 * HOUR_MS);
        assert_eq!(z.date_of(1_772_406_000_000), d("2026-03-02"));
        assert_eq!(z.date_of(1_772_406_000_000 - 1), d("2026-03-01"));
        assert_eq!(
            z.local_text(1_772_406_000_000 + 3_723_000),
            "2026-03-02 01:02:03"
        );
    }

    #[test]
    fn fixed_offsets_and_names() {
        assert_eq!(Zone::parse("UTC"), Some(Zone::Utc));
        assert_eq!(Zone::parse("Europe/Brussels"), Some(Zone::CentralEurope));
        assert_eq!(Zone::parse("+02:00"), Some(Zone::Fixed(120)));
        assert_eq!(Zone::parse("-0530"), Some(Zone::Fixed(-330)));
        for bad in [
            "",
            "+2",
            "+02:60",
            "+15:00",
            "America/New_York",
            "+02:00x",
            "02:00",
            "+0:200",
        ] {
            assert_eq!(Zone::parse(bad), None, "{bad:?}");
        }
        let minus = Zone::Fixed(-330);
        assert_eq!(minus.to_string(), "-05:30");
        // 2026-03-02 00:00 at -05:30 is 05:30 UTC.
        assert_eq!(
            minus.day_start_ms(d("2026-03-02")),
            1_772_409_600_000 + 19_800_000
        );
        assert_eq!(Zone::Utc.day_start_ms(d("2026-03-02")), 1_772_409_600_000);
    }
}
