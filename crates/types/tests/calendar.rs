//! Trading calendars: business days, phases at boundary instants, trading days, transitions.

use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;
use tokex_types::calendar::{Calendar, Phase, PhaseTransition, Session};
use tokex_types::Timestamp;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
    let dt = tz.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap();
    Timestamp(dt.timestamp_nanos_opt().unwrap() as u64)
}

/// Asia/Shanghai wall-clock time.
fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
    at(chrono_tz::Asia::Shanghai, y, mo, d, h, mi, s)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Timestamp {
    at(chrono_tz::UTC, y, mo, d, h, mi, s)
}

#[test]
fn shanghai_is_utc_plus_8_exactly() {
    // 2026-03-04 09:00 Shanghai = 01:00 UTC; no DST in either January or July.
    assert_eq!(sh(2026, 3, 4, 9, 0, 0), utc(2026, 3, 4, 1, 0, 0));
    assert_eq!(sh(2026, 7, 1, 21, 0, 0), utc(2026, 7, 1, 13, 0, 0));
    assert_eq!(sh(2026, 1, 1, 0, 0, 0), utc(2025, 12, 31, 16, 0, 0));
}

#[test]
fn shfe_phases_at_boundary_instants() {
    let c = Calendar::shfe();
    // Wednesday 2026-03-04, an ordinary business day.
    let cases = [
        ((0, 0, 0), Phase::Closed),
        ((8, 54, 59), Phase::Closed),
        ((8, 55, 0), Phase::PreOpen),
        ((8, 58, 59), Phase::PreOpen),
        ((8, 59, 0), Phase::Uncross),
        ((8, 59, 59), Phase::Uncross),
        ((9, 0, 0), Phase::Continuous),
        ((10, 14, 59), Phase::Continuous),
        ((10, 15, 0), Phase::Break),
        ((10, 29, 59), Phase::Break),
        ((10, 30, 0), Phase::Continuous),
        ((11, 29, 59), Phase::Continuous),
        ((11, 30, 0), Phase::Break),
        ((13, 29, 59), Phase::Break),
        ((13, 30, 0), Phase::Continuous),
        ((14, 59, 59), Phase::Continuous),
        ((15, 0, 0), Phase::Closed),
        ((20, 54, 59), Phase::Closed),
        ((20, 55, 0), Phase::PreOpen),
        ((20, 59, 0), Phase::Uncross),
        ((21, 0, 0), Phase::Continuous),
        ((22, 59, 59), Phase::Continuous),
        ((23, 0, 0), Phase::Closed),
        ((23, 59, 59), Phase::Closed),
    ];
    for ((h, m, s), want) in cases {
        assert_eq!(
            c.phase_at(sh(2026, 3, 4, h, m, s)),
            want,
            "at {h:02}:{m:02}:{s:02}"
        );
    }
    // One nanosecond before a boundary is still the old phase.
    assert_eq!(
        c.phase_at(Timestamp(sh(2026, 3, 4, 9, 0, 0).0 - 1)),
        Phase::Uncross
    );
}

#[test]
fn trading_day_runs_from_the_night_session_to_15_00() {
    let c = Calendar::shfe();
    let wed = date(2026, 3, 4);
    let thu = date(2026, 3, 5);
    assert_eq!(c.trading_day_of(sh(2026, 3, 4, 9, 0, 0)), wed);
    assert_eq!(c.trading_day_of(sh(2026, 3, 4, 14, 59, 59)), wed);
    assert_eq!(
        c.trading_day_of(sh(2026, 3, 4, 15, 0, 0)),
        thu,
        "the end-of-day instant starts the next day"
    );
    assert_eq!(c.trading_day_of(sh(2026, 3, 4, 21, 0, 0)), thu);
    assert_eq!(c.trading_day_of(sh(2026, 3, 5, 2, 0, 0)), thu);
    assert_eq!(c.trading_day_of(sh(2026, 3, 5, 14, 0, 0)), thu);
}

#[test]
fn friday_night_belongs_to_monday() {
    let c = Calendar::shfe();
    let mon = date(2026, 3, 9);
    assert_eq!(date(2026, 3, 6).weekday(), Weekday::Fri);
    assert_eq!(c.trading_day_of(sh(2026, 3, 6, 21, 0, 0)), mon);
    assert_eq!(c.phase_at(sh(2026, 3, 6, 21, 30, 0)), Phase::Continuous);
    assert_eq!(c.trading_day_of(sh(2026, 3, 7, 12, 0, 0)), mon, "Saturday");
    assert_eq!(
        c.trading_day_of(sh(2026, 3, 8, 21, 30, 0)),
        mon,
        "Sunday evening"
    );
    // No night session on Saturday or Sunday evening.
    assert_eq!(c.phase_at(sh(2026, 3, 7, 21, 30, 0)), Phase::Closed);
    assert_eq!(c.phase_at(sh(2026, 3, 8, 21, 30, 0)), Phase::Closed);
    assert_eq!(c.phase_at(sh(2026, 3, 9, 9, 30, 0)), Phase::Continuous);
}

#[test]
fn no_night_session_on_the_eve_of_a_holiday_unless_configured() {
    // Monday 2026-03-09 is a holiday: Friday night would belong to Tuesday, and is not held.
    let c = Calendar::shfe().with_holidays([date(2026, 3, 9)]);
    let tue = date(2026, 3, 10);
    assert_eq!(c.trading_day_of(sh(2026, 3, 6, 21, 30, 0)), tue);
    assert_eq!(c.phase_at(sh(2026, 3, 6, 21, 30, 0)), Phase::Closed);
    assert_eq!(
        c.phase_at(sh(2026, 3, 9, 9, 30, 0)),
        Phase::Closed,
        "the holiday itself"
    );
    assert_eq!(
        c.phase_at(sh(2026, 3, 9, 21, 30, 0)),
        Phase::Closed,
        "no session on the holiday evening"
    );
    assert_eq!(c.trading_day_of(sh(2026, 3, 9, 21, 30, 0)), tue);
    assert_eq!(c.phase_at(sh(2026, 3, 10, 9, 30, 0)), Phase::Continuous);
    assert_eq!(
        c.phase_at(sh(2026, 3, 10, 21, 30, 0)),
        Phase::Continuous,
        "Tuesday night trades for Wednesday"
    );
    assert_eq!(
        c.trading_day_of(sh(2026, 3, 10, 21, 30, 0)),
        date(2026, 3, 11)
    );
    let c = c.with_night_before_holiday(true);
    assert_eq!(c.phase_at(sh(2026, 3, 6, 21, 30, 0)), Phase::Continuous);
}

#[test]
fn last_business_day_skips_weekends_and_holidays() {
    let c = Calendar::shfe();
    assert_eq!(
        c.last_business_day(2026, 2),
        Some(date(2026, 2, 27)),
        "Feb 28 2026 is a Saturday"
    );
    assert_eq!(
        c.last_business_day(2026, 5),
        Some(date(2026, 5, 29)),
        "May 31 2026 is a Sunday"
    );
    assert_eq!(
        c.last_business_day(2026, 12),
        Some(date(2026, 12, 31)),
        "a Thursday"
    );
    let c = c.with_holidays([date(2026, 12, 31), date(2026, 12, 30)]);
    assert_eq!(c.last_business_day(2026, 12), Some(date(2026, 12, 29)));
    assert_eq!(c.last_business_day(2026, 13), None);
    assert!(c.is_business_day(date(2026, 12, 29)));
    assert!(!c.is_business_day(date(2026, 12, 31)));
    assert!(!c.is_business_day(date(2027, 1, 2)), "Saturday");
    let always = Calendar::always_open();
    assert_eq!(always.last_business_day(2026, 2), Some(date(2026, 2, 28)));
    assert_eq!(always.business_days_in_month(2026, 2).len(), 28);
    assert_eq!(Calendar::shfe().business_days_in_month(2026, 2).len(), 20);
}

fn phase(day: NaiveDate, from: Phase, to: Phase) -> PhaseTransition {
    PhaseTransition::Phase {
        trading_day: day,
        from,
        to,
    }
}

#[test]
fn transitions_over_a_day_in_order() {
    use Phase::*;
    let c = Calendar::shfe();
    let thu = date(2026, 3, 5);
    let got = c.transitions(sh(2026, 3, 4, 15, 0, 0), sh(2026, 3, 5, 15, 0, 0));
    let want = vec![
        (sh(2026, 3, 4, 20, 55, 0), phase(thu, Closed, PreOpen)),
        (sh(2026, 3, 4, 20, 59, 0), phase(thu, PreOpen, Uncross)),
        (sh(2026, 3, 4, 21, 0, 0), phase(thu, Uncross, Continuous)),
        (sh(2026, 3, 4, 23, 0, 0), phase(thu, Continuous, Closed)),
        (sh(2026, 3, 5, 8, 55, 0), phase(thu, Closed, PreOpen)),
        (sh(2026, 3, 5, 8, 59, 0), phase(thu, PreOpen, Uncross)),
        (sh(2026, 3, 5, 9, 0, 0), phase(thu, Uncross, Continuous)),
        (sh(2026, 3, 5, 10, 15, 0), phase(thu, Continuous, Break)),
        (sh(2026, 3, 5, 10, 30, 0), phase(thu, Break, Continuous)),
        (sh(2026, 3, 5, 11, 30, 0), phase(thu, Continuous, Break)),
        (sh(2026, 3, 5, 13, 30, 0), phase(thu, Break, Continuous)),
        (sh(2026, 3, 5, 15, 0, 0), phase(thu, Continuous, Closed)),
        (
            sh(2026, 3, 5, 15, 0, 0),
            PhaseTransition::EndOfTradingDay { trading_day: thu },
        ),
    ];
    assert_eq!(got, want);
    // Each transition agrees with phase_at at its instant.
    for (t, tr) in &got {
        if let PhaseTransition::Phase { to, .. } = tr {
            assert_eq!(c.phase_at(*t), *to);
        }
    }
}

#[test]
fn transitions_over_a_weekend() {
    use Phase::*;
    let c = Calendar::shfe();
    let mon = date(2026, 3, 9);
    let got = c.transitions(sh(2026, 3, 6, 15, 0, 0), sh(2026, 3, 9, 9, 0, 0));
    let want = vec![
        (sh(2026, 3, 6, 20, 55, 0), phase(mon, Closed, PreOpen)),
        (sh(2026, 3, 6, 20, 59, 0), phase(mon, PreOpen, Uncross)),
        (sh(2026, 3, 6, 21, 0, 0), phase(mon, Uncross, Continuous)),
        (sh(2026, 3, 6, 23, 0, 0), phase(mon, Continuous, Closed)),
        (sh(2026, 3, 9, 8, 55, 0), phase(mon, Closed, PreOpen)),
        (sh(2026, 3, 9, 8, 59, 0), phase(mon, PreOpen, Uncross)),
        (sh(2026, 3, 9, 9, 0, 0), phase(mon, Uncross, Continuous)),
    ];
    assert_eq!(got, want);
}

#[test]
fn consecutive_windows_list_every_point_once() {
    let c = Calendar::shfe();
    let start = sh(2026, 3, 2, 0, 0, 0);
    let end = sh(2026, 3, 16, 0, 0, 0);
    let whole = c.transitions(start, end);
    // Windows of 7 minutes 13 seconds, so boundaries land on and off transition instants.
    let step = 433 * Timestamp::NANOS_PER_SEC;
    let mut pieces = Vec::new();
    let mut t = start;
    while t < end {
        let next = Timestamp((t.0 + step).min(end.0));
        pieces.extend(c.transitions(t, next));
        t = next;
    }
    assert_eq!(pieces, whole);
    // Two weeks: 10 trading days × 13 points. Monday 03-02 loses its night session (held on
    // Friday 02-27, before the window); Monday 03-16 contributes its night session (Friday 03-13).
    assert_eq!(whole.len(), 10 * 13 - 4 + 4);
    assert!(whole.windows(2).all(|w| w[0].0 <= w[1].0));
    let ends = whole
        .iter()
        .filter(|(_, t)| matches!(t, PhaseTransition::EndOfTradingDay { .. }))
        .count();
    assert_eq!(ends, 10);
    // Windows on exact boundaries.
    let at_open = sh(2026, 3, 4, 9, 0, 0);
    assert_eq!(c.transitions(Timestamp(at_open.0 - 1), at_open).len(), 1);
    assert!(c.transitions(at_open, Timestamp(at_open.0 + 1)).is_empty());
    assert!(c.transitions(at_open, at_open).is_empty());
}

#[test]
fn always_open_trades_around_the_clock_and_settles_at_midnight_utc() {
    let c = Calendar::always_open();
    for t in [
        utc(2026, 3, 7, 0, 0, 0),
        utc(2026, 3, 7, 12, 0, 0),
        utc(2026, 3, 7, 23, 59, 59),
    ] {
        assert_eq!(c.phase_at(t), Phase::Continuous);
        assert_eq!(c.trading_day_of(t), date(2026, 3, 7));
    }
    let got = c.transitions(utc(2026, 3, 6, 12, 0, 0), utc(2026, 3, 9, 0, 0, 0));
    let want: Vec<_> = [(7, 6), (8, 7), (9, 8)]
        .iter()
        .map(|&(d, td)| {
            (
                utc(2026, 3, d, 0, 0, 0),
                PhaseTransition::EndOfTradingDay {
                    trading_day: date(2026, 3, td),
                },
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        c.trading_end_at(date(2026, 3, 31)),
        utc(2026, 4, 1, 0, 0, 0)
    );
}

#[test]
fn daylight_saving_time_is_exact() {
    // A New York day session: 09:30 EST = 14:30 UTC, 09:30 EDT = 13:30 UTC (DST began 2026-03-08).
    let s = Session::new(
        "day",
        false,
        Some((9 * 3600, 9 * 3600 + 25 * 60)),
        9 * 3600 + 30 * 60,
        &[],
        16 * 3600,
    )
    .unwrap();
    let c = Calendar::new(
        "nyse",
        chrono_tz::America::New_York,
        &[Weekday::Sat, Weekday::Sun],
        [],
        vec![s],
        17 * 3600,
        false,
    )
    .unwrap();
    let before = c.transitions(utc(2026, 3, 6, 0, 0, 0), utc(2026, 3, 6, 23, 0, 0));
    assert_eq!(before[2].0, utc(2026, 3, 6, 14, 30, 0));
    let after = c.transitions(utc(2026, 3, 9, 0, 0, 0), utc(2026, 3, 9, 23, 0, 0));
    assert_eq!(after[2].0, utc(2026, 3, 9, 13, 30, 0));
    assert_eq!(c.phase_at(utc(2026, 3, 9, 13, 30, 0)), Phase::Continuous);
    assert_eq!(c.phase_at(utc(2026, 3, 6, 13, 30, 0)), Phase::Closed);
}

#[test]
fn night_session_past_midnight() {
    let h = |x: u32| x * 3600;
    let night = Session::new("night", true, None, h(21), &[], h(2) + 1800).unwrap();
    assert_eq!(night.close(), h(26) + 1800);
    let day = Session::new("day", false, None, h(9), &[], h(15)).unwrap();
    let c = Calendar::new(
        "late",
        chrono_tz::Asia::Shanghai,
        &[Weekday::Sat, Weekday::Sun],
        [],
        vec![day, night],
        h(15),
        false,
    )
    .unwrap();
    // Friday night runs into Saturday 02:30 and trades for Monday.
    assert_eq!(c.phase_at(sh(2026, 3, 7, 2, 0, 0)), Phase::Continuous);
    assert_eq!(c.trading_day_of(sh(2026, 3, 7, 2, 0, 0)), date(2026, 3, 9));
    assert_eq!(c.phase_at(sh(2026, 3, 7, 2, 30, 0)), Phase::Closed);
}

#[test]
fn invalid_sessions_are_refused_with_the_field() {
    let h = |x: u32| x * 3600;
    let e = Session::new("day", false, Some((h(9), h(8))), h(10), &[], h(11)).unwrap_err();
    assert_eq!(e.field, "uncross");
    let e = Session::new("day", false, None, h(9), &[(h(12), h(11))], h(15)).unwrap_err();
    assert_eq!(e.field, "breaks[0][1]");
    let e = Session::new("day", false, None, h(9), &[], 86_401).unwrap_err();
    assert_eq!(e.field, "close");
    let a = Session::new("a", false, None, h(9), &[], h(12)).unwrap();
    let b = Session::new("b", false, None, h(11), &[], h(15)).unwrap();
    let e = Calendar::new(
        "x",
        chrono_tz::UTC,
        &[],
        [],
        vec![a.clone(), b],
        h(15),
        false,
    )
    .unwrap_err();
    assert_eq!(e.field, "sessions[1]");
    assert!(e.message.contains("overlaps"), "{e}");
    let n = Session::new("n", true, None, h(14), &[], h(16)).unwrap();
    let e = Calendar::new(
        "x",
        chrono_tz::UTC,
        &[],
        [],
        vec![a.clone(), n],
        h(15),
        false,
    )
    .unwrap_err();
    assert_eq!(e.field, "sessions[1].open");
    let e = Calendar::new("x", chrono_tz::UTC, &[], [], vec![a.clone()], h(11), false).unwrap_err();
    assert_eq!(e.field, "sessions[0].close");
    let all = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    let e = Calendar::new("x", chrono_tz::UTC, &all, [], vec![a], h(15), false).unwrap_err();
    assert_eq!(e.field, "weekend");
    let e = Calendar::new("x", chrono_tz::UTC, &[], [], vec![], h(15), false).unwrap_err();
    assert_eq!(e.field, "sessions");
}

#[test]
fn a_huge_window_is_cut_at_the_day_limit() {
    use tokex_types::calendar::TRANSITIONS_TRADING_DAYS_MAX;
    let c = Calendar::always_open();
    let got = c.transitions(utc(2026, 1, 1, 12, 0, 0), Timestamp(u64::MAX));
    assert_eq!(got.len(), TRANSITIONS_TRADING_DAYS_MAX);
}

#[test]
fn a_huge_shfe_window_ends_on_a_complete_day() {
    use tokex_types::calendar::TRANSITIONS_TRADING_DAYS_MAX;
    let c = Calendar::shfe();
    let from = sh(2026, 3, 4, 15, 0, 0);
    let got = c.transitions(from, Timestamp(u64::MAX));
    let (last_t, last) = got.last().unwrap().clone();
    assert!(matches!(last, PhaseTransition::EndOfTradingDay { .. }));
    assert_eq!(got.len(), 13 * TRANSITIONS_TRADING_DAYS_MAX);
    // Continuing from the last instant picks up exactly where the list stopped.
    let more = c.transitions(
        last_t,
        Timestamp(last_t.0 + 86_400 * Timestamp::NANOS_PER_SEC),
    );
    assert_eq!(
        c.transitions(
            from,
            Timestamp(last_t.0 + 86_400 * Timestamp::NANOS_PER_SEC)
        )
        .len(),
        got.len()
    );
    assert_eq!(
        more[0].1,
        phase(
            c.next_business_day(c.trading_day_of(Timestamp(last_t.0 - 1))),
            Phase::Closed,
            Phase::PreOpen
        )
    );
}

#[test]
fn a_night_session_cannot_outlast_its_trading_day() {
    let h = |x: u32| x * 3600;
    // 21:00 → 16:00 next day: past the 15:00 end of the trading day it belongs to.
    let n = Session::new("n", true, None, h(21), &[], h(16)).unwrap();
    let e = Calendar::new("x", chrono_tz::UTC, &[], [], vec![n], h(15), false).unwrap_err();
    assert_eq!(e.field, "sessions[0].close");
}
