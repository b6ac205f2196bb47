//! Tests of the `[sla]` settings: the desk example, both `hours` forms, and refused settings
//! named in their messages (pure, no I/O).

use super::super::tests::{H, MIN, clock, desk, parse, utc};
use super::*;
use crate::sla::{ClockKind, SlaPolicy};

#[test]
fn the_desk_example_parses() {
    let p = desk();
    assert!(p.enabled());
    assert_eq!(p.warn_percent(), 75);
    assert_eq!(p.calendar().zone(), Zone::CentralEurope);
    let t = |prio| p.target(Some(prio)).map(|(_, t)| t);
    assert_eq!(t(1).unwrap().clock, ClockKind::AllHours);
    assert_eq!(t(3).unwrap().response_ms, 90 * MIN);
    assert_eq!(t(4).unwrap().response_ms, 90_000);
    assert_eq!(t(4).unwrap().resolution_ms, 48 * H);
    assert_eq!(t(4).unwrap().clock, ClockKind::Business);
    assert_eq!((t(2), t(5), t(0), t(9)), (None, None, None, None));
    assert_eq!(p.target(None).map(|(prio, _)| prio), Some(3));
}

#[test]
fn both_hours_forms_give_the_same_calendar() {
    let text =
        parse("[sla]\nhours = \"mon-fri 08:00-12:00, 13:00-17:30; sat 09:00-12:00\"\n").unwrap();
    let table = parse(
        "[sla.hours]\nmon = \"08:00-12:00,13:00-17:30\"\ntue = \"08:00-12:00,13:00-17:30\"\n\
         wed = \"08:00-12:00,13:00-17:30\"\nthu = \"08:00-12:00,13:00-17:30\"\n\
         fri = \"08:00-12:00,13:00-17:30\"\nsat = \"09:00-12:00\"\nsun = \"\"\n",
    )
    .unwrap();
    assert_eq!(text.calendar(), table.calendar());
    let inline = parse("[sla]\nhours = { Mon = \"8:00-17:30\" }\n").unwrap();
    let cal = inline.calendar();
    // Mon 2026-12-21 in UTC (the desk's zone here): open 08:00 to 17:30.
    assert!(cal.is_open(utc("2026-12-21 08:00")) && !cal.is_open(utc("2026-12-21 17:30")));
    assert!(!cal.is_open(utc("2026-12-22 09:00")));
    // Wrapping ranges and lists; a day in two groups gets both.
    let p = parse("[sla]\nhours = \"sun-tue,thu 09:00-10:00; mon 11:00-12:00\"\n").unwrap();
    let week = utc("2026-12-20 00:00"); // a Sunday
    assert_eq!(
        p.calendar().business_ms_between(week, week + 7 * 24 * H),
        5 * H
    );
    // No [sla] section: SLA off.
    let off = parse("").unwrap();
    assert!(!off.enabled());
    assert_eq!(off, SlaPolicy::default());
    assert_eq!(
        off.evaluate(Some(1), &clock("2026-12-24 15:30"), utc("2026-12-24 16:00")),
        None
    );
}

#[test]
fn bad_settings_are_refused_by_name() {
    let target = |line: &str| {
        format!(
            "[sla]\nhours = \"mon-fri 08:00-17:30\"\n[[sla.target]]\npriority = 2\n\
             response = \"1h\"\nresolution = \"8h\"\n{line}\n"
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            target("").replace("\"1h\"", "\"4x\""),
            "sla.target[0].response: \"4x\" is not a duration",
        ),
        (
            target("").replace("\"8h\"", "\"30m1h\""),
            "sla.target[0].resolution",
        ),
        (target("").replace("\"8h\"", "\"0m\""), "longer than zero"),
        (target("").replace("\"8h\"", "\"1h30\""), "needs a unit"),
        (target("").replace("\"8h\"", "\"400d\""), "longer than 365d"),
        (target("").replace("\"8h\"", "\"\""), "empty"),
        (
            target("").replace("08:00-17:30", "08:00-25:00"),
            "sla.hours: \"25:00\" is not a time",
        ),
        (
            target("").replace("08:00-17:30", "08:00-12:00,11:00-17:30"),
            "sla.hours: mon: 11:00-17:30 overlaps 08:00-12:00",
        ),
        (
            target("").replace("08:00-17:30", "17:30-08:00"),
            "sla.hours: mon: 17:30-08:00 is empty",
        ),
        (
            target("").replace("mon-fri", "mon-fry"),
            "sla.hours: unknown day \"fry\"",
        ),
        (
            target("").replace("mon-fri 08:00", "08:00"),
            "names no days",
        ),
        (
            target("").replace("08:00-17:30", "8-17"),
            "\"8\" is not a time",
        ),
        (target("").replace("08:00-17:30", ""), "has no hours"),
        (
            target("").replace("08:00-17:30", "08:00"),
            "is not an interval",
        ),
        (target("clock = \"24/7\""), "sla.target[0].clock: \"24/7\""),
        (
            target("").replace("priority = 2", "priority = 6"),
            "sla.target[0].priority: 6 is out of range",
        ),
        (
            target("").replace("priority = 2", "priority = 0"),
            "sla.target[0].priority: 0",
        ),
        (
            target("[[sla.target]]\npriority = 2\nresponse = \"1h\"\nresolution = \"1d\""),
            "sla.target[1].priority: priority 2 already has sla.target[0]",
        ),
        (
            "[sla]\nwarn_percent = 0\n".into(),
            "sla.warn_percent: 0 is out of range",
        ),
        (
            "[sla]\nwarn_percent = 100\n".into(),
            "sla.warn_percent: 100",
        ),
        (
            "[sla]\ndefault_priority = 0\n".into(),
            "sla.default_priority: 0",
        ),
        (
            "[sla]\ntime_zone = \"Mars/Olympus\"\n".into(),
            "sla.time_zone: \"Mars/Olympus\"",
        ),
        (
            "[sla]\nholidays = [\"2026-12-25\", \"2026-13-01\"]\n".into(),
            "sla.holidays[1]: \"2026-13-01\"",
        ),
        (
            "[sla]\nhours = { mox = \"08:00-17:00\" }\n".into(),
            "sla.hours.mox: unknown day \"mox\"",
        ),
        (
            "[sla]\nhours = { mon = \"08:00-17:00\", Mon = \"09:00-10:00\" }\n".into(),
            "given twice",
        ),
        (
            "[sla]\nhours = { tue = \"08:00-24:30\" }\n".into(),
            "sla.hours.tue: \"24:30\"",
        ),
        (
            "[sla]\nhours = { sat = \"\" }\n".into(),
            "sla.hours: the week has no open hours",
        ),
        ("[sla]\nhours = 8\n".into(), "a string like"),
        (
            "[[sla.target]]\npriority = 1\nresponse = \"1h\"\nresolution = \"8h\"\n".into(),
            "sla.hours: missing, but sla.target[0]",
        ),
        (
            "[sla]\nwarn_percnt = 80\n".into(),
            "unknown field `warn_percnt`",
        ),
        (target("escalate = true"), "unknown field `escalate`"),
    ];
    for (text, want) in cases {
        let err = parse(&text).unwrap_err();
        assert!(err.contains(want), "{text}\n=> {err}\n(wanted {want:?})");
    }
    // 24x7 targets need no hours.
    let all_hours = "[[sla.target]]\npriority = 1\nresponse = \"1h\"\nresolution = \"8h\"\n\
                     clock = \"24x7\"\n";
    assert!(parse(all_hours).is_ok());
}

#[test]
fn durations_read_largest_unit_first() {
    assert_eq!(parse_duration("90s"), Ok(90_000));
    assert_eq!(parse_duration("30m"), Ok(30 * MIN));
    assert_eq!(parse_duration("4h"), Ok(4 * H));
    assert_eq!(parse_duration("2d"), Ok(48 * H));
    assert_eq!(parse_duration(" 1h30m "), Ok(90 * MIN));
    assert_eq!(parse_duration("1d 2h 3m 4s"), Ok(26 * H + 3 * MIN + 4000));
    assert_eq!(parse_duration("365d"), Ok(365 * 24 * H));
    for bad in [
        "",
        "h",
        "4",
        "4x",
        "-1h",
        "1.5h",
        "30m1h",
        "1h1h",
        "0s",
        "366d",
        "99999999999999999999d",
        "4 h",
        "４h",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
}
