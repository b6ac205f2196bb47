//! Tests of the business-hours calendar: hand-computed instants in Europe/Amsterdam, summer-time
//! switch days, holidays, and the scan guard (pure, no I/O).

use super::*;

const MIN: i64 = MINUTE_MS;
const H: i64 = HOUR_MS;

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

/// `"YYYY-MM-DD HH:MM"` read as UTC (the local times below are converted by hand).
fn utc(s: &str) -> i64 {
    let (date, time) = s.split_once(' ').unwrap();
    let (h, m) = time.split_once(':').unwrap();
    d(date).days_since_epoch() * DAY_MS
        + h.parse::<i64>().unwrap() * H
        + m.parse::<i64>().unwrap() * MIN
}

fn weekdays(intervals: &[(u16, u16)]) -> [Vec<(u16, u16)>; 7] {
    std::array::from_fn(|i| {
        if i < 5 {
            intervals.to_vec()
        } else {
            Vec::new()
        }
    })
}

/// Europe/Amsterdam, mon-fri 08:00-17:30, Christmas closed.
fn office() -> Calendar {
    let holidays = [d("2026-12-25"), d("2026-12-26")];
    Calendar::new(Zone::CentralEurope, weekdays(&[(480, 1050)]), holidays).unwrap()
}

#[test]
fn weekdays_count_from_a_thursday() {
    assert_eq!(weekday(d("1970-01-01")), 3);
    assert_eq!(weekday(d("2026-12-24")), 3);
    assert_eq!(weekday(d("2026-12-27")), 6);
    assert_eq!(weekday(d("2026-12-28")), 0);
    assert_eq!(weekday(d("1969-12-29")), 0);
}

#[test]
fn wall_clock_times_convert_across_the_switches() {
    let z = Zone::CentralEurope;
    assert_eq!(
        local_to_utc(z, d("2026-12-24"), 990),
        utc("2026-12-24 15:30")
    );
    assert_eq!(
        local_to_utc(z, d("2026-07-01"), 480),
        utc("2026-07-01 06:00")
    );
    assert_eq!(
        local_to_utc(z, d("2026-12-24"), 1440),
        utc("2026-12-24 23:00")
    );
    // Spring: 02:00-03:00 does not exist; it maps to the jump (01:00 UTC), never backwards.
    assert_eq!(
        local_to_utc(z, d("2026-03-29"), 119),
        utc("2026-03-29 00:59")
    );
    assert_eq!(
        local_to_utc(z, d("2026-03-29"), 150),
        utc("2026-03-29 01:00")
    );
    assert_eq!(
        local_to_utc(z, d("2026-03-29"), 180),
        utc("2026-03-29 01:00")
    );
    // Autumn: 02:00-03:00 happens twice; the first (summer-time) occurrence is chosen.
    assert_eq!(
        local_to_utc(z, d("2026-10-25"), 150),
        utc("2026-10-25 00:30")
    );
    assert_eq!(
        local_to_utc(z, d("2026-10-25"), 180),
        utc("2026-10-25 02:00")
    );
    assert_eq!(
        local_to_utc(Zone::Fixed(-330), d("2026-03-02"), 0),
        utc("2026-03-02 05:30")
    );
}

#[test]
fn bad_weeks_are_refused() {
    let z = Zone::Utc;
    let one = |day: Vec<(u16, u16)>| {
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        week[2] = day;
        Calendar::new(z, week, [])
    };
    let err = one(vec![(480, 720), (700, 1000)]).unwrap_err();
    assert_eq!(err.to_string(), "wed: 11:40-16:40 overlaps 08:00-12:00");
    assert!(matches!(
        one(vec![(780, 1000), (480, 720)]),
        Err(CalendarError::Unsorted { .. })
    ));
    assert!(matches!(
        one(vec![(600, 600)]),
        Err(CalendarError::Empty { .. })
    ));
    assert!(matches!(
        one(vec![(1320, 360)]),
        Err(CalendarError::Empty { .. })
    ));
    let err = one(vec![(480, 1441)]).unwrap_err();
    assert_eq!(
        err,
        CalendarError::OutOfRange {
            day: "wed",
            minute: 1441
        }
    );
    assert_eq!(one(vec![]).unwrap_err(), CalendarError::NeverOpen);
    // Touching intervals do not overlap; 24:00 is a valid end.
    assert!(one(vec![(480, 720), (720, 1440)]).is_ok());
}

#[test]
fn christmas_eve_intake_is_due_monday_eleven() {
    let cal = office();
    let created = utc("2026-12-24 15:30"); // Thu 16:30 local
    // 1 h on the 24th; 25th/26th holidays; 27th Sunday; 3 h from Mon 08:00.
    let due = cal.add_business_ms(created, 4 * H);
    assert_eq!(due, utc("2026-12-28 10:00")); // Mon 11:00 local
    assert_eq!(cal.business_ms_between(created, due), 4 * H);
    assert_eq!(cal.business_ms_between(created, utc("2026-12-28 07:00")), H);
    assert!(!cal.is_open(utc("2026-12-25 10:00")));
    assert!(!cal.is_open(utc("2026-12-27 10:00")));
    assert!(cal.is_open(utc("2026-12-28 07:00"))); // 08:00 local opens
    assert!(!cal.is_open(utc("2026-12-28 06:59")));
    assert!(!cal.is_open(utc("2026-12-28 16:30"))); // 17:30 local closes
    assert!(cal.is_open(utc("2026-12-28 16:29")));
}

#[test]
fn time_outside_hours_starts_at_the_next_opening() {
    let cal = office();
    // Fri 2026-12-18 20:00 local: nothing until Mon 08:00, then 1 h.
    assert_eq!(
        cal.add_business_ms(utc("2026-12-18 19:00"), H),
        utc("2026-12-21 08:00")
    );
    // Saturday start.
    assert_eq!(
        cal.add_business_ms(utc("2026-12-19 09:00"), 30 * MIN),
        utc("2026-12-21 07:30")
    );
    // Before opening on a weekday, and exactly at closing (the end is the first instant).
    assert_eq!(
        cal.add_business_ms(utc("2026-12-22 05:00"), 90 * MIN),
        utc("2026-12-22 08:30")
    );
    assert_eq!(
        cal.add_business_ms(utc("2026-12-22 07:00"), 9 * H + 30 * MIN),
        utc("2026-12-22 16:30")
    );
    assert_eq!(
        cal.add_business_ms(utc("2026-12-22 07:00"), 0),
        utc("2026-12-22 07:00")
    );
    assert_eq!(
        cal.add_business_ms(utc("2026-12-22 07:00"), -5),
        utc("2026-12-22 07:00")
    );
    assert_eq!(
        cal.business_ms_between(utc("2026-12-22 09:00"), utc("2026-12-22 08:00")),
        0
    );
}

#[test]
fn saturday_hours_count_when_open() {
    let mut week = weekdays(&[(480, 1050)]);
    week[5] = vec![(540, 720)];
    let cal = Calendar::new(Zone::CentralEurope, week, []).unwrap();
    // Sat 2026-12-19 11:00 local: 1 h left on Saturday, then Monday from 08:00.
    assert_eq!(
        cal.add_business_ms(utc("2026-12-19 10:00"), 2 * H),
        utc("2026-12-21 08:00")
    );
}

#[test]
fn summer_time_switch_days_keep_their_hours() {
    let every_day: [Vec<(u16, u16)>; 7] = std::array::from_fn(|_| vec![(480, 1050)]);
    let cal = Calendar::new(Zone::CentralEurope, every_day, []).unwrap();
    let z = Zone::CentralEurope;
    for day in ["2026-03-29", "2026-10-25"] {
        let (start, end) = (z.day_start_ms(d(day)), z.day_start_ms(d(day).succ()));
        assert_eq!(
            cal.business_ms_between(start, end),
            9 * H + 30 * MIN,
            "{day}"
        );
    }
    // Sunday 29 March opens at 08:00 CEST = 06:00 UTC; the Saturday before at 07:00 UTC.
    assert!(cal.is_open(utc("2026-03-29 06:00")) && !cal.is_open(utc("2026-03-29 05:59")));
    assert!(cal.is_open(utc("2026-03-28 07:00")) && !cal.is_open(utc("2026-03-28 06:59")));

    let office = office();
    // Fri 27 March 16:30 CET + 2 h: 1 h Friday, then Mon 30 March 08:00-09:00 CEST.
    assert_eq!(
        office.add_business_ms(utc("2026-03-27 15:30"), 2 * H),
        utc("2026-03-30 07:00")
    );
    // Fri 23 October 16:30 CEST + 2 h: Mon 26 October 09:00 CET.
    assert_eq!(
        office.add_business_ms(utc("2026-10-23 14:30"), 2 * H),
        utc("2026-10-26 08:00")
    );

    // A 24-hour opening day lasts as long as the day really does.
    let round: [Vec<(u16, u16)>; 7] = std::array::from_fn(|i| vec![(0, 1440 - u16::from(i == 0))]);
    let cal = Calendar::new(z, round, []).unwrap();
    let len =
        |day: &str| cal.business_ms_between(z.day_start_ms(d(day)), z.day_start_ms(d(day).succ()));
    assert_eq!(len("2026-03-29"), 23 * H);
    assert_eq!(len("2026-10-25"), 25 * H);
    // Opening hours across the gap keep their real length (01:00-03:30 local is 1.5 h).
    let mut week: [Vec<(u16, u16)>; 7] = Default::default();
    week[6] = vec![(60, 210)];
    let cal = Calendar::new(z, week, []).unwrap();
    assert_eq!(len_of(&cal, "2026-03-29"), 90 * MIN);
    assert_eq!(len_of(&cal, "2026-10-25"), 210 * MIN);
}

fn len_of(cal: &Calendar, day: &str) -> i64 {
    let z = cal.zone();
    cal.business_ms_between(z.day_start_ms(d(day)), z.day_start_ms(d(day).succ()))
}

#[test]
fn night_shifts_join_across_midnight() {
    let mut week: [Vec<(u16, u16)>; 7] = Default::default();
    week[0] = vec![(1320, 1440)];
    week[1] = vec![(0, 360)];
    let cal = Calendar::new(Zone::Utc, week, []).unwrap();
    // Mon 2026-12-21 23:00 + 2 h = Tue 01:00.
    assert_eq!(
        cal.add_business_ms(utc("2026-12-21 23:00"), 2 * H),
        utc("2026-12-22 01:00")
    );
    assert_eq!(
        cal.business_ms_between(utc("2026-12-21 00:00"), utc("2026-12-28 00:00")),
        8 * H
    );
}

#[test]
fn a_year_counts_day_by_day() {
    let cal = office();
    let z = Zone::CentralEurope;
    let (start, end) = (
        z.day_start_ms(d("2026-01-01")),
        z.day_start_ms(d("2027-01-01")),
    );
    // 2026 starts on a Thursday: 52 weeks + Thu 31 Dec = 261 weekdays, minus Fri 25 Dec.
    let year = cal.business_ms_between(start, end);
    assert_eq!(year, 260 * (9 * H + 30 * MIN));
    let mut by_day = 0;
    let mut day = d("2026-01-01");
    while day != d("2027-01-01") {
        by_day += len_of(&cal, &day.to_string());
        day = day.succ();
    }
    assert_eq!(year, by_day);
    // The year's business time ends at the last closing: Thu 31 Dec 17:30 CET.
    assert_eq!(cal.add_business_ms(start, year), utc("2026-12-31 16:30"));
}

#[test]
fn adding_is_the_inverse_of_counting() {
    let cal = office();
    let mut from = utc("2026-03-20 00:00");
    while from < utc("2026-04-06 00:00") {
        for ms in [1, 59 * MIN, 9 * H + 30 * MIN, 30 * H + 7 * MIN] {
            let due = cal.add_business_ms(from, ms);
            assert_eq!(cal.business_ms_between(from, due), ms, "{from} + {ms}");
            assert_eq!(
                cal.business_ms_between(from, due - 1),
                ms - 1,
                "{from} + {ms}: first instant"
            );
        }
        from += 37 * MIN;
    }
}

#[test]
fn rare_openings_end_the_scan() {
    // Open one minute on Sundays, but every Sunday for twelve years is a holiday.
    let mut week: [Vec<(u16, u16)>; 7] = Default::default();
    week[6] = vec![(600, 601)];
    let first = d("2026-01-04");
    let sundays = (0..700).map(|w| Date::from_days_since_epoch(first.days_since_epoch() + 7 * w));
    let cal = Calendar::new(Zone::Utc, week, sundays).unwrap();
    let from = utc("2026-01-01 00:00");
    let bound = Zone::Utc.day_start_ms(Date::from_days_since_epoch(
        d("2026-01-01").days_since_epoch() + MAX_SCAN_DAYS,
    ));
    assert_eq!(cal.add_business_ms(from, MIN), bound);
    assert_eq!(cal.business_ms_between(from, utc("2040-01-01 00:00")), 0);
    assert!(!cal.is_open(utc("2026-01-04 10:00")));
}

#[test]
fn always_open_is_plain_arithmetic() {
    let cal = Calendar::always();
    let t = utc("2026-12-25 03:00");
    assert!(cal.is_open(t));
    assert_eq!(cal.add_business_ms(t, 4 * H), t + 4 * H);
    assert_eq!(cal.business_ms_between(t, t + 90 * MIN), 90 * MIN);
    assert_eq!(cal.business_ms_between(i64::MIN, i64::MAX), MAX_MS - MIN_MS);
    // A week open around the clock with no holidays takes the same shortcut.
    let round: [Vec<(u16, u16)>; 7] = std::array::from_fn(|_| vec![(0, 1440)]);
    assert!(
        Calendar::new(Zone::CentralEurope, round, [])
            .unwrap()
            .always
    );
    // Garbage instants neither overflow nor loop for long.
    assert_eq!(office().business_ms_between(i64::MIN, i64::MIN + 1), 0);
    let _ = office().add_business_ms(i64::MAX, H);
    let _ = office().is_open(i64::MAX);
}
