//! Tests of the SLA settings and timers: both `hours` forms, refused settings, and due times with
//! business hours, holidays and pauses checked against the configured calendar (pure, no I/O).

use super::*;
use crate::store::reports::{Date, Zone};

pub(super) const MIN: i64 = 60_000;
pub(super) const H: i64 = 3_600_000;

/// `"YYYY-MM-DD HH:MM"` read as UTC (Amsterdam local times are converted by hand: CET = +1).
pub(super) fn utc(s: &str) -> i64 {
    let (date, time) = s.split_once(' ').unwrap();
    let (h, m) = time.split_once(':').unwrap();
    Date::parse(date).unwrap().days_since_epoch() * 24 * H
        + h.parse::<i64>().unwrap() * H
        + m.parse::<i64>().unwrap() * MIN
}

#[derive(serde::Deserialize)]
pub(super) struct File {
    #[serde(default)]
    pub(super) sla: SlaConfig,
}

pub(super) fn parse(toml_text: &str) -> Result<SlaPolicy, String> {
    let file: File = toml::from_str(toml_text).map_err(|e| e.to_string())?;
    file.sla.check(Zone::Utc).map_err(|e| e.to_string())
}

pub(super) const DESK: &str = r#"
[sla]
time_zone = "Europe/Amsterdam"
hours = "mon-fri 08:00-17:30"
holidays = ["2026-12-25", "2026-12-26", "2027-01-01"]
default_priority = 3
[[sla.target]]
priority = 1
response = "30m"
resolution = "4h"
clock = "24x7"
[[sla.target]]
priority = 3
response = "1h30m"
resolution = "4h"
[[sla.target]]
priority = 4
response = "90s"
resolution = "2d"
clock = "business"
"#;

pub(super) fn desk() -> SlaPolicy {
    parse(DESK).unwrap()
}

pub(super) fn clock(created: &str) -> SlaClock {
    SlaClock {
        created_at: utc(created),
        ..SlaClock::default()
    }
}

#[test]
fn christmas_intake_runs_warns_breaches() {
    let p = desk();
    let c = clock("2026-12-24 15:30"); // Thu 16:30 local; priority 3: 1h30m / 4h business
    let at = |now: &str| p.evaluate(Some(3), &c, utc(now)).unwrap();
    let v = at("2026-12-24 16:00"); // Thu 17:00 local
    assert_eq!(v.priority, 3);
    // 1 h on the 24th, 25th/26th holidays, 27th Sunday, then 3 h: Mon 11:00 local.
    let resolution_due = Some(utc("2026-12-28 10:00"));
    let want = Timer {
        state: TimerState::Running,
        due_at: resolution_due,
        target_ms: 4 * H,
        elapsed_ms: 30 * MIN,
    };
    assert_eq!(v.resolution, want);
    // Response 1h30m: 1 h on Thursday, 30 min on Monday: 08:30 local.
    assert_eq!(v.response.due_at, Some(utc("2026-12-28 07:30")));
    assert_eq!(v.response.state, TimerState::Running);
    // Nothing elapses over the holidays and the Sunday.
    let v = at("2026-12-26 11:00");
    assert_eq!((v.response.elapsed_ms, v.resolution.elapsed_ms), (H, H));
    assert_eq!(v.response.state, TimerState::Running); // 60 of 90 min is below 75 %
    let v = at("2026-12-28 07:15"); // Mon 08:15 local: 75 of 90 min
    assert_eq!(
        (v.response.state, v.resolution.state),
        (TimerState::Warning, TimerState::Running)
    );
    let v = at("2026-12-28 07:31");
    assert_eq!(v.response.state, TimerState::Breached);
    assert_eq!(v.response.due_at, Some(utc("2026-12-28 07:30")));
    assert_eq!(at("2026-12-28 09:00").resolution.state, TimerState::Warning); // 3 of 4 h
    assert_eq!(at("2026-12-28 10:00").resolution.state, TimerState::Warning); // due, not past
    let v = at("2026-12-28 10:01");
    assert_eq!(
        (v.resolution.state, v.resolution.elapsed_ms),
        (TimerState::Breached, 4 * H + MIN)
    );
    assert_eq!(v.resolution.due_at, resolution_due);
}

#[test]
fn stopped_timers_are_met_or_late() {
    let p = desk();
    let stopped = |responded: Option<&str>, resolved: Option<&str>| {
        let c = SlaClock {
            responded_at: responded.map(utc),
            resolved_at: resolved.map(utc),
            ..clock("2026-12-24 15:30")
        };
        p.evaluate(Some(3), &c, utc("2027-02-01 12:00")).unwrap()
    };
    let v = stopped(Some("2026-12-28 07:30"), Some("2026-12-28 10:00"));
    assert_eq!(
        (v.response.state, v.resolution.state),
        (TimerState::Met, TimerState::Met)
    );
    assert_eq!(
        (v.response.elapsed_ms, v.resolution.elapsed_ms),
        (90 * MIN, 4 * H)
    );
    let v = stopped(Some("2026-12-28 07:31"), Some("2026-12-28 10:01"));
    assert_eq!(
        (v.response.state, v.resolution.state),
        (TimerState::MetLate, TimerState::MetLate)
    );
    assert_eq!(v.resolution.due_at, Some(utc("2026-12-28 10:00")));
    // Resolved without a recorded response: the resolution answered.
    let v = stopped(None, Some("2026-12-24 16:00"));
    assert_eq!(
        (v.response.state, v.response.elapsed_ms),
        (TimerState::Met, 30 * MIN)
    );
    // Due at closing (Mon 13:30 local + 4 h = 17:30) and resolved at 18:00: late, though no
    // business time passed after the due time.
    let c = SlaClock {
        resolved_at: Some(utc("2026-12-28 17:00")),
        ..clock("2026-12-28 12:30")
    };
    let v = p.evaluate(Some(3), &c, utc("2026-12-29 12:00")).unwrap();
    assert_eq!(v.resolution.due_at, Some(utc("2026-12-28 16:30")));
    assert_eq!(
        (v.resolution.state, v.resolution.elapsed_ms),
        (TimerState::MetLate, 4 * H)
    );
}

#[test]
fn pauses_push_the_resolution_due_time() {
    let p = desk();
    let base = SlaClock {
        responded_at: Some(utc("2026-12-24 16:00")),
        ..clock("2026-12-24 15:30")
    };
    // A finished pause Mon 09:00-10:00 local moves the due time from 11:00 to 12:00.
    let paused_ms = p.pause_ms(Some(3), utc("2026-12-28 08:00"), utc("2026-12-28 09:00"));
    assert_eq!(paused_ms, H);
    let c = SlaClock { paused_ms, ..base };
    let v = p.evaluate(Some(3), &c, utc("2026-12-28 10:30")).unwrap();
    assert_eq!(v.resolution.due_at, Some(utc("2026-12-28 11:00")));
    assert_eq!(
        (v.resolution.state, v.resolution.elapsed_ms),
        (TimerState::Warning, 3 * H + 30 * MIN)
    );
    assert_eq!(v.response.state, TimerState::Met);
    // A pause in progress since Mon 09:00: paused, no due time; the response is never paused.
    let c = SlaClock {
        paused_since: Some(utc("2026-12-28 08:00")),
        ..clock("2026-12-24 15:30")
    };
    let v = p.evaluate(Some(3), &c, utc("2026-12-28 08:30")).unwrap();
    let want = Timer {
        state: TimerState::Paused,
        due_at: None,
        target_ms: 4 * H,
        elapsed_ms: 2 * H,
    };
    assert_eq!(v.resolution, want);
    assert_eq!(v.response.state, TimerState::Breached);
    // Paused after the breach (Mon 11:30 local): it stays breached.
    let c = SlaClock {
        paused_since: Some(utc("2026-12-28 10:30")),
        ..base
    };
    let v = p.evaluate(Some(3), &c, utc("2026-12-28 11:00")).unwrap();
    assert_eq!(v.resolution.state, TimerState::Breached);
    assert_eq!(v.resolution.due_at, Some(utc("2026-12-28 10:00")));
    assert_eq!(v.resolution.elapsed_ms, 4 * H + 30 * MIN);
    // Resolved with the pause still open (Mon 09:00-12:00 local): the pause ends with it.
    let c = SlaClock {
        paused_since: Some(utc("2026-12-28 08:00")),
        resolved_at: Some(utc("2026-12-28 11:00")),
        ..base
    };
    let v = p.evaluate(Some(3), &c, utc("2026-12-29 12:00")).unwrap();
    assert_eq!(v.resolution.state, TimerState::Met);
    assert_eq!(v.resolution.due_at, Some(utc("2026-12-28 13:00")));
    assert_eq!(v.resolution.elapsed_ms, 2 * H);
    // A weekend pause Fri 17:00 to Mon 09:00 local: 30 min + 1 h of business time, 64 h 24x7.
    let (from, to) = (utc("2026-12-18 16:00"), utc("2026-12-21 08:00"));
    assert_eq!(p.pause_ms(Some(3), from, to), 90 * MIN);
    assert_eq!(p.pause_ms(Some(1), from, to), 64 * H);
    assert_eq!(p.pause_ms(Some(2), from, to), 0);
}

#[test]
fn a_24x7_target_ignores_hours_and_holidays() {
    let p = desk();
    let c = clock("2026-12-24 15:30"); // Thu 16:30 local
    let v = p.evaluate(Some(1), &c, utc("2026-12-24 18:30")).unwrap();
    assert_eq!(v.response.due_at, Some(utc("2026-12-24 16:00")));
    assert_eq!(v.resolution.due_at, Some(utc("2026-12-24 19:30"))); // 20:30 local
    assert_eq!(v.response.state, TimerState::Breached);
    assert_eq!(
        (v.resolution.state, v.resolution.elapsed_ms),
        (TimerState::Warning, 3 * H)
    );
    let v = p.evaluate(Some(1), &c, utc("2026-12-25 03:00")).unwrap(); // a holiday night
    assert_eq!(
        (v.resolution.state, v.resolution.elapsed_ms),
        (TimerState::Breached, 11 * H + 30 * MIN)
    );
}

#[test]
fn priorities_defaults_and_warn_share() {
    let p = desk();
    let c = clock("2026-12-24 15:30");
    let now = utc("2026-12-24 16:00");
    assert_eq!(p.evaluate(None, &c, now).map(|v| v.priority), Some(3));
    assert_eq!(p.evaluate(Some(2), &c, now), None);
    assert_eq!(p.evaluate(Some(0), &c, now), None);
    assert_eq!(p.evaluate(Some(200), &c, now), None);
    // 2d on the business clock is 48 business hours: about five office days.
    let v = p.evaluate(Some(4), &c, now).unwrap();
    assert_eq!(v.resolution.target_ms, 48 * H);
    // 1 h on 24 Dec, 9.5 h on each of 28-31 Dec, 1 Jan a holiday, 9 h on Mon 4 Jan: 17:00 local.
    assert_eq!(v.resolution.due_at, Some(utc("2027-01-04 16:00")));
    // warn_percent = 50: half the target warns.
    let half = parse(&DESK.replace(
        "default_priority = 3",
        "default_priority = 3\nwarn_percent = 50",
    ))
    .unwrap();
    let at = |now: &str| {
        half.evaluate(Some(3), &c, utc(now))
            .unwrap()
            .resolution
            .state
    };
    assert_eq!(at("2026-12-28 07:59"), TimerState::Running);
    assert_eq!(at("2026-12-28 08:00"), TimerState::Warning); // 1 h + 1 h of 4 h
    // No time zone in [sla]: the desk's zone applies.
    let file: File = toml::from_str("[sla]\nhours = \"mon 08:00-09:00\"\n").unwrap();
    let p = file.sla.check(Zone::Fixed(120)).unwrap();
    assert_eq!(p.calendar().zone(), Zone::Fixed(120));
}

#[test]
fn the_view_serialises_in_snake_case() {
    let p = desk();
    let c = SlaClock {
        responded_at: Some(utc("2026-12-28 07:31")),
        ..clock("2026-12-24 15:30")
    };
    let v = p.evaluate(None, &c, utc("2026-12-28 08:00")).unwrap();
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["priority"], 3);
    assert_eq!(json["response"]["state"], "met_late");
    assert_eq!(json["response"]["due_at"], utc("2026-12-28 07:30"));
    assert_eq!(json["resolution"]["state"], "running");
    assert_eq!(json["resolution"]["target_ms"], 4 * H);
    assert_eq!(serde_json::to_value(ClockKind::AllHours).unwrap(), "24x7");
}
