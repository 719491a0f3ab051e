//! Trading calendars: business days, sessions, phases and the trading day.
//!
//! A [`Calendar`] answers four questions for the scheduler and the core, all as pure functions
//! of their arguments (no clock is read):
//!
//! - is a date a business day ([`Calendar::is_business_day`], [`Calendar::last_business_day`]);
//! - which trading day an instant belongs to ([`Calendar::trading_day_of`]);
//! - which [`Phase`] the market is in at an instant ([`Calendar::phase_at`]);
//! - which phase changes and end-of-trading-day points fall in a window
//!   ([`Calendar::transitions`]) — what a scheduler turns into journaled commands.
//!
//! ## Model
//!
//! Times of day are local wall-clock times in the calendar's time zone (chrono-tz; exact, with
//! daylight-saving time handled by the zone database). A **trading day** `T` is a business day;
//! it ends at `trading_day_end` local time on date `T` (the daily settlement point) and begins
//! where the previous trading day ended. Every instant belongs to exactly one trading day:
//! an instant before `trading_day_end` on a business day belongs to that day, anything later
//! (or on a weekend or holiday) belongs to the next business day. Windows are half-open, so the
//! end-of-day instant itself belongs to the *next* trading day.
//!
//! A [`Session`] is a pre-open call auction (optional), an uncross instant, continuous trading
//! with optional breaks, and a close. A *day* session is held on the date of its trading day; a
//! *night* session (`night = true`) belongs to trading day `T` but is held on the evening of the
//! previous business day (as on SHFE: Friday night trades for Monday). A night session may run
//! past midnight (close earlier than open on the clock means the next calendar day).
//!
//! **Night session before a holiday** (`night_before_holiday`, default `false`): when a listed
//! holiday falls strictly between the previous business day and `T`, the night session for `T`
//! is not held (SHFE holds no night session on the eve of a public holiday). Ordinary weekends
//! do not suppress it.
//!
//! Between sessions the phase is [`Phase::Closed`]; inside a session between two continuous
//! periods it is [`Phase::Break`]. `Closed` does not end the trading day: only the
//! [`PhaseTransition::EndOfTradingDay`] point does (good-for-day orders expire there, the daily
//! settlement is computed there).
//!
//! Two calendars are built in: [`Calendar::shfe`] (`"shfe"`) and [`Calendar::always_open`]
//! (`"24x7"`). Custom calendars come from the products TOML (see [`crate::product`]).

use std::collections::BTreeSet;
use std::fmt;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::Timestamp;

/// Seconds in a calendar day (local clock).
pub const DAY_SECS: u32 = 86_400;
/// Most holidays one calendar may list.
pub const CALENDAR_HOLIDAYS_MAX: usize = 10_000;
/// Most sessions one calendar may define per trading day.
pub const CALENDAR_SESSIONS_MAX: usize = 16;
/// Most breaks one session may contain.
pub const SESSION_BREAKS_MAX: usize = 16;

/// Most trading days one [`Calendar::transitions`] call covers; a longer window is cut there.
pub const TRANSITIONS_TRADING_DAYS_MAX: usize = 1_000;

/// Name of the built-in SHFE-like calendar.
pub const SHFE: &str = "shfe";
/// Name of the built-in always-open calendar.
pub const ALWAYS_OPEN: &str = "24x7";

/// The trading phase of an instrument governed by a calendar.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// No session: orders are neither accepted nor matched.
    Closed,
    /// Call auction: orders may be entered and cancelled, nothing matches.
    PreOpen,
    /// The auction is being uncrossed: the book is frozen until continuous trading starts.
    Uncross,
    /// Continuous matching (price-time priority).
    Continuous,
    /// A break inside a session: orders rest, nothing matches, no entry.
    Break,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Closed => "closed",
            Phase::PreOpen => "pre_open",
            Phase::Uncross => "uncross",
            Phase::Continuous => "continuous",
            Phase::Break => "break",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scheduled change, as listed by [`Calendar::transitions`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhaseTransition {
    /// The phase changes from `from` to `to`. `trading_day` is the trading day of the session
    /// that causes the change (a session's close carries the day it closes).
    Phase {
        trading_day: NaiveDate,
        from: Phase,
        to: Phase,
    },
    /// Trading day `trading_day` ends: daily settlement, expiry of good-for-day orders. Listed
    /// after any phase change at the same instant.
    EndOfTradingDay { trading_day: NaiveDate },
}

/// Seconds after local midnight. Values `>= DAY_SECS` mean the next calendar day (a night
/// session past midnight, or `24:00`).
pub type LocalSecs = u32;

/// One trading session. Times are seconds after local midnight of the date the session is held
/// on, strictly increasing: `auction < uncross < open < breaks… < close`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    name: String,
    night: bool,
    auction: Option<(LocalSecs, LocalSecs)>,
    open: LocalSecs,
    breaks: Vec<(LocalSecs, LocalSecs)>,
    close: LocalSecs,
}

/// What is wrong with a calendar or session definition. `field` names the offending field
/// relative to the calendar (`sessions[1].open`); the loader prefixes the calendar's path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CalendarError {
    pub field: String,
    pub message: String,
}

fn cal_err(field: impl Into<String>, message: impl Into<String>) -> CalendarError {
    CalendarError {
        field: field.into(),
        message: message.into(),
    }
}

impl Session {
    /// A session from its clock times. `auction` is `(auction start, uncross instant)`. In a
    /// night session, a time not later than the previous one is taken to be on the next
    /// calendar day (past midnight); at most one such wrap. In a day session times must simply
    /// increase. Errors name the field (`open`, `breaks[0][1]`, …).
    pub fn new(
        name: &str,
        night: bool,
        auction: Option<(LocalSecs, LocalSecs)>,
        open: LocalSecs,
        breaks: &[(LocalSecs, LocalSecs)],
        close: LocalSecs,
    ) -> Result<Session, CalendarError> {
        if name.is_empty() || name.len() > 32 {
            return Err(cal_err("name", "must be 1 to 32 characters"));
        }
        if breaks.len() > SESSION_BREAKS_MAX {
            return Err(cal_err(
                "breaks",
                format!("at most {SESSION_BREAKS_MAX} breaks"),
            ));
        }
        // Unwrap the clock times into a strictly increasing sequence.
        let mut labelled: Vec<(String, LocalSecs)> = Vec::new();
        if let Some((a, u)) = auction {
            labelled.push(("auction".into(), a));
            labelled.push(("uncross".into(), u));
        }
        labelled.push(("open".into(), open));
        for (i, (s, e)) in breaks.iter().enumerate() {
            labelled.push((format!("breaks[{i}][0]"), *s));
            labelled.push((format!("breaks[{i}][1]"), *e));
        }
        labelled.push(("close".into(), close));
        let mut wrapped = false;
        let mut prev: Option<LocalSecs> = None;
        let mut out = Vec::with_capacity(labelled.len());
        for (field, t) in labelled {
            let mut t = t;
            if t > DAY_SECS {
                return Err(cal_err(field, "time of day must be at most 24:00"));
            }
            if let Some(p) = prev {
                if t <= p {
                    // Only a night session may run past midnight; a day session must close by
                    // the end of its trading day.
                    if !night || wrapped || t + DAY_SECS <= p {
                        return Err(cal_err(
                            field,
                            format!("must be later than the previous time ({})", fmt_secs(p)),
                        ));
                    }
                    t += DAY_SECS;
                    wrapped = true;
                }
            }
            prev = Some(t);
            out.push(t);
        }
        if out[out.len() - 1] - out[0] > DAY_SECS {
            return Err(cal_err("close", "a session must last at most 24 hours"));
        }
        let mut it = out.into_iter();
        let auction = auction.map(|_| (it.next().unwrap(), it.next().unwrap()));
        let open = it.next().unwrap();
        let mut bs = Vec::with_capacity(breaks.len());
        for _ in 0..breaks.len() {
            bs.push((it.next().unwrap(), it.next().unwrap()));
        }
        let close = it.next().unwrap();
        Ok(Session {
            name: name.to_string(),
            night,
            auction,
            open,
            breaks: bs,
            close,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    /// Held on the evening of the previous business day, for the next trading day.
    pub fn is_night(&self) -> bool {
        self.night
    }
    /// `(auction start, uncross)`, seconds after local midnight of the session's date.
    pub fn auction(&self) -> Option<(LocalSecs, LocalSecs)> {
        self.auction
    }
    pub fn open(&self) -> LocalSecs {
        self.open
    }
    pub fn breaks(&self) -> &[(LocalSecs, LocalSecs)] {
        &self.breaks
    }
    pub fn close(&self) -> LocalSecs {
        self.close
    }
    /// First instant of the session (auction start, or open).
    pub fn start(&self) -> LocalSecs {
        self.auction.map_or(self.open, |(a, _)| a)
    }

    /// The phase changes of this session, as offsets from the session date's midnight.
    fn points(&self) -> Vec<(LocalSecs, Phase)> {
        let mut p = Vec::with_capacity(4 + 2 * self.breaks.len());
        if let Some((a, u)) = self.auction {
            p.push((a, Phase::PreOpen));
            p.push((u, Phase::Uncross));
        }
        p.push((self.open, Phase::Continuous));
        for &(s, e) in &self.breaks {
            p.push((s, Phase::Break));
            p.push((e, Phase::Continuous));
        }
        p.push((self.close, Phase::Closed));
        p
    }
}

/// A trading calendar: time zone, weekend, holidays, sessions and the end of the trading day.
/// Fields are private: a calendar is valid by construction ([`Calendar::new`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    name: String,
    time_zone: Tz,
    /// Indexed by `Weekday::num_days_from_monday()`.
    weekend: [bool; 7],
    holidays: BTreeSet<NaiveDate>,
    sessions: Vec<Session>,
    trading_day_end: LocalSecs,
    night_before_holiday: bool,
}

/// The phase changes of one trading day as absolute instants.
struct DayPlan {
    day: NaiveDate,
    points: Vec<(Timestamp, Phase)>,
    end: Timestamp,
}

impl Calendar {
    /// A validated calendar. `trading_day_end` is the local time on the trading day's date at
    /// which the trading day ends (`DAY_SECS` = 24:00).
    pub fn new(
        name: &str,
        time_zone: Tz,
        weekend: &[Weekday],
        holidays: impl IntoIterator<Item = NaiveDate>,
        sessions: Vec<Session>,
        trading_day_end: LocalSecs,
        night_before_holiday: bool,
    ) -> Result<Calendar, CalendarError> {
        if name.is_empty() || name.len() > 32 {
            return Err(cal_err("name", "must be 1 to 32 characters"));
        }
        let mut wk = [false; 7];
        for d in weekend {
            wk[d.num_days_from_monday() as usize] = true;
        }
        if wk.iter().all(|w| *w) {
            return Err(cal_err(
                "weekend",
                "at least one weekday must be a business day",
            ));
        }
        let holidays: BTreeSet<NaiveDate> = holidays.into_iter().collect();
        if holidays.len() > CALENDAR_HOLIDAYS_MAX {
            return Err(cal_err(
                "holidays",
                format!("at most {CALENDAR_HOLIDAYS_MAX} holidays"),
            ));
        }
        if sessions.is_empty() {
            return Err(cal_err("sessions", "at least one session is required"));
        }
        if sessions.len() > CALENDAR_SESSIONS_MAX {
            return Err(cal_err(
                "sessions",
                format!("at most {CALENDAR_SESSIONS_MAX} sessions"),
            ));
        }
        if trading_day_end == 0 || trading_day_end > DAY_SECS {
            return Err(cal_err(
                "trading_day_end",
                "must be after 00:00 and at most 24:00",
            ));
        }
        // Place every session on one axis: the trading day's date starts at DAY_SECS, the
        // previous calendar day (the earliest a night session can be held) at 0.
        let mut spans: Vec<(LocalSecs, LocalSecs, usize)> = Vec::new();
        for (i, s) in sessions.iter().enumerate() {
            let f = |x: &str| format!("sessions[{i}].{x}");
            if s.night {
                if s.start() < trading_day_end {
                    return Err(cal_err(
                        f(if s.auction.is_some() { "auction" } else { "open" }),
                        format!(
                            "a night session must start at or after the end of the trading day ({})",
                            fmt_secs(trading_day_end)
                        ),
                    ));
                }
                if s.close > DAY_SECS + trading_day_end {
                    return Err(cal_err(
                        f("close"),
                        "a night session must close before its trading day ends",
                    ));
                }
                spans.push((s.start(), s.close, i));
            } else {
                if s.close > trading_day_end {
                    return Err(cal_err(
                        f("close"),
                        format!(
                            "a day session must close at or before the end of the trading day ({})",
                            fmt_secs(trading_day_end)
                        ),
                    ));
                }
                if s.start() + DAY_SECS < trading_day_end {
                    return Err(cal_err(
                        f("open"),
                        "a day session must start after the previous trading day ended",
                    ));
                }
                spans.push((s.start() + DAY_SECS, s.close + DAY_SECS, i));
            }
        }
        spans.sort();
        for w in spans.windows(2) {
            if w[1].0 < w[0].1 {
                return Err(cal_err(
                    format!("sessions[{}]", w[1].2),
                    format!("overlaps session `{}`", sessions[w[0].2].name),
                ));
            }
        }
        let mut names = BTreeSet::new();
        for (i, s) in sessions.iter().enumerate() {
            if !names.insert(s.name.as_str()) {
                return Err(cal_err(
                    format!("sessions[{i}].name"),
                    format!("duplicate session name `{}`", s.name),
                ));
            }
        }
        // Sessions in the order they are held within a trading day.
        let mut sessions = sessions;
        sessions.sort_by_key(|s| {
            if s.night {
                s.start()
            } else {
                s.start() + DAY_SECS
            }
        });
        Ok(Calendar {
            name: name.to_string(),
            time_zone,
            weekend: wk,
            holidays,
            sessions,
            trading_day_end,
            night_before_holiday,
        })
    }

    /// The built-in SHFE-like calendar (`"shfe"`), Asia/Shanghai, Saturday and Sunday off, no
    /// holidays (add them with [`Calendar::with_holidays`] or a `base = "shfe"` calendar in the
    /// products file). Night: auction 20:55, uncross 20:59, continuous 21:00–23:00, for the next
    /// business day. Day: auction 08:55, uncross 08:59, continuous 09:00–10:15, 10:30–11:30,
    /// 13:30–15:00. The trading day ends at 15:00.
    pub fn shfe() -> Calendar {
        let hm = |h: u32, m: u32| h * 3600 + m * 60;
        let night = Session::new(
            "night",
            true,
            Some((hm(20, 55), hm(20, 59))),
            hm(21, 0),
            &[],
            hm(23, 0),
        )
        .expect("built-in night session");
        let day = Session::new(
            "day",
            false,
            Some((hm(8, 55), hm(8, 59))),
            hm(9, 0),
            &[(hm(10, 15), hm(10, 30)), (hm(11, 30), hm(13, 30))],
            hm(15, 0),
        )
        .expect("built-in day session");
        Calendar::new(
            SHFE,
            chrono_tz::Asia::Shanghai,
            &[Weekday::Sat, Weekday::Sun],
            [],
            vec![night, day],
            hm(15, 0),
            false,
        )
        .expect("built-in shfe calendar")
    }

    /// The built-in always-open calendar (`"24x7"`) for demos and tests: UTC, every day a
    /// business day, continuous trading around the clock, no auction. The trading day is the
    /// UTC calendar day; it ends (daily settlement) at 00:00 UTC.
    pub fn always_open() -> Calendar {
        let s = Session::new("continuous", false, None, 0, &[], DAY_SECS)
            .expect("built-in 24x7 session");
        Calendar::new(
            ALWAYS_OPEN,
            chrono_tz::UTC,
            &[],
            [],
            vec![s],
            DAY_SECS,
            true,
        )
        .expect("built-in 24x7 calendar")
    }

    /// A built-in calendar by name.
    pub fn builtin(name: &str) -> Option<Calendar> {
        match name {
            SHFE => Some(Calendar::shfe()),
            ALWAYS_OPEN => Some(Calendar::always_open()),
            _ => None,
        }
    }

    /// Names of the built-in calendars.
    pub const BUILTIN_NAMES: [&'static str; 2] = [SHFE, ALWAYS_OPEN];

    /// The same calendar under another name.
    pub fn renamed(mut self, name: &str) -> Calendar {
        self.name = name.to_string();
        self
    }
    /// The same calendar with more holidays.
    pub fn with_holidays(mut self, holidays: impl IntoIterator<Item = NaiveDate>) -> Calendar {
        self.holidays.extend(holidays);
        self
    }
    /// The same sessions read in another time zone.
    pub fn with_time_zone(mut self, tz: Tz) -> Calendar {
        self.time_zone = tz;
        self
    }
    /// Whether the night session is held when a holiday follows (see the module doc).
    pub fn with_night_before_holiday(mut self, held: bool) -> Calendar {
        self.night_before_holiday = held;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }
    pub fn holidays(&self) -> &BTreeSet<NaiveDate> {
        &self.holidays
    }
    pub fn weekend(&self) -> Vec<Weekday> {
        ALL_WEEKDAYS
            .iter()
            .copied()
            .filter(|d| self.weekend[d.num_days_from_monday() as usize])
            .collect()
    }
    /// Sessions in the order they are held within a trading day (night first).
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }
    /// Local time (seconds after midnight of the trading day's date) at which a trading day ends.
    pub fn trading_day_end(&self) -> LocalSecs {
        self.trading_day_end
    }
    pub fn night_before_holiday(&self) -> bool {
        self.night_before_holiday
    }

    /// Not a weekend day and not a holiday.
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        !self.weekend[date.weekday().num_days_from_monday() as usize]
            && !self.holidays.contains(&date)
    }

    /// The first business day on or after `date`.
    pub fn business_day_on_or_after(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        // Terminates: at least one weekday is a business day and holidays are finite.
        while !self.is_business_day(d) {
            d = d.succ_opt().expect("date in range");
        }
        d
    }

    /// The first business day strictly after `date`.
    pub fn next_business_day(&self, date: NaiveDate) -> NaiveDate {
        self.business_day_on_or_after(date.succ_opt().expect("date in range"))
    }

    /// The last business day strictly before `date`.
    pub fn prev_business_day(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date.pred_opt().expect("date in range");
        while !self.is_business_day(d) {
            d = d.pred_opt().expect("date in range");
        }
        d
    }

    /// The last business day of a month, or `None` if the month is invalid or has none (every
    /// day a weekend day or holiday).
    pub fn last_business_day(&self, year: i32, month: u32) -> Option<NaiveDate> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let mut d = last_day_of_month(year, month)?;
        loop {
            if self.is_business_day(d) {
                return Some(d);
            }
            if d == first {
                return None;
            }
            d = d.pred_opt()?;
        }
    }

    /// Every business day of a month, in order (the days whose fixings an average final
    /// settlement uses).
    pub fn business_days_in_month(&self, year: i32, month: u32) -> Vec<NaiveDate> {
        let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(year, month, 1),
            last_day_of_month(year, month),
        ) else {
            return Vec::new();
        };
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| self.is_business_day(*d))
            .collect()
    }

    /// The trading day an instant belongs to (see the module doc: the end-of-day instant
    /// belongs to the next trading day).
    pub fn trading_day_of(&self, ts: Timestamp) -> NaiveDate {
        let local = to_utc(ts).with_timezone(&self.time_zone);
        let date = local.date_naive();
        let secs = local.time().num_seconds_from_midnight();
        let candidate = if secs < self.trading_day_end {
            date
        } else {
            date.succ_opt().expect("date in range")
        };
        self.business_day_on_or_after(candidate)
    }

    /// The instant a trading day ends (daily settlement point): `trading_day_end` local time
    /// on the date.
    pub fn trading_day_end_at(&self, day: NaiveDate) -> Timestamp {
        self.local_instant(day, self.trading_day_end)
    }

    /// The instant trading ends on a trading day: the close of its last session.
    pub fn trading_end_at(&self, day: NaiveDate) -> Timestamp {
        let plan = self.plan(day);
        plan.points.last().map_or(plan.end, |p| p.0)
    }

    /// The phase at an instant.
    pub fn phase_at(&self, ts: Timestamp) -> Phase {
        let plan = self.plan(self.trading_day_of(ts));
        plan.points
            .iter()
            .take_while(|(t, _)| *t <= ts)
            .last()
            .map_or(Phase::Closed, |p| p.1)
    }

    /// Every phase change and end-of-trading-day point `t` with `from < t <= to`, in time order
    /// (at one instant: the phase change first, then the end of day). Consecutive windows
    /// `(a, b]`, `(b, c]` list every point exactly once. Instants where the phase does not
    /// actually change (a session closing as the next opens) produce no phase transition.
    /// At most [`TRANSITIONS_TRADING_DAYS_MAX`] trading days are covered: for a longer window
    /// the list stops after that many end-of-day points (call again from the last instant).
    pub fn transitions(&self, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, PhaseTransition)> {
        let mut out = Vec::new();
        if to <= from {
            return out;
        }
        enum Ev {
            Phase(Phase, NaiveDate),
            End(NaiveDate),
        }
        // Collect the raw points of every trading day whose window meets (from, to].
        let mut evs: Vec<(Timestamp, Ev)> = Vec::new();
        let mut day = self.trading_day_of(from);
        let mut to = to;
        let mut days = 0usize;
        // One day past the last one listed, so that the points at a day boundary are complete.
        let mut last_round = false;
        loop {
            let plan = self.plan(day);
            for (t, p) in plan.points {
                evs.push((t, Ev::Phase(p, plan.day)));
            }
            evs.push((plan.end, Ev::End(plan.day)));
            days += 1;
            if last_round || plan.end > to {
                break;
            }
            if days >= TRANSITIONS_TRADING_DAYS_MAX {
                to = plan.end;
                last_round = true;
            }
            day = self.next_business_day(day);
        }
        let mut prev = self.phase_at(from);
        let mut i = 0;
        while i < evs.len() {
            let t = evs[i].0;
            let mut j = i;
            while j < evs.len() && evs[j].0 == t {
                j += 1;
            }
            if t > from && t <= to {
                let last_phase = evs[i..j].iter().rev().find_map(|(_, e)| match e {
                    Ev::Phase(p, d) => Some((*p, *d)),
                    Ev::End(_) => None,
                });
                if let Some((p, d)) = last_phase {
                    if p != prev {
                        out.push((
                            t,
                            PhaseTransition::Phase {
                                trading_day: d,
                                from: prev,
                                to: p,
                            },
                        ));
                        prev = p;
                    }
                }
                for (_, e) in &evs[i..j] {
                    if let Ev::End(d) = e {
                        out.push((t, PhaseTransition::EndOfTradingDay { trading_day: *d }));
                    }
                }
            }
            i = j;
        }
        out
    }

    /// Whether the night sessions for trading day `day` are held, and on which date.
    fn night_date(&self, day: NaiveDate) -> Option<NaiveDate> {
        let prev = self.prev_business_day(day);
        if !self.night_before_holiday {
            let gap_holiday = prev
                .iter_days()
                .skip(1)
                .take_while(|d| *d < day)
                .any(|d| self.holidays.contains(&d));
            if gap_holiday {
                return None;
            }
        }
        Some(prev)
    }

    fn plan(&self, day: NaiveDate) -> DayPlan {
        let night = if self.sessions.iter().any(|s| s.night) {
            self.night_date(day)
        } else {
            None
        };
        let mut points = Vec::new();
        for s in &self.sessions {
            let date = if s.night {
                match night {
                    Some(d) => d,
                    None => continue,
                }
            } else {
                day
            };
            for (secs, p) in s.points() {
                points.push((self.local_instant(date, secs), p));
            }
        }
        // Sessions are sorted and non-overlapping, so points are in order; sort anyway to stay
        // correct across a daylight-saving shift, then collapse equal instants (last wins).
        points.sort_by_key(|p| p.0);
        let mut collapsed: Vec<(Timestamp, Phase)> = Vec::with_capacity(points.len());
        for (t, p) in points {
            match collapsed.last_mut() {
                Some(last) if last.0 == t => last.1 = p,
                _ => collapsed.push((t, p)),
            }
        }
        DayPlan {
            day,
            points: collapsed,
            end: self.trading_day_end_at(day),
        }
    }

    /// The instant of local time `secs` after midnight of `date` (`secs` may exceed a day).
    /// An ambiguous local time (clocks going back) takes the earlier instant; a local time in a
    /// gap (clocks going forward) is read with the offset in force before the gap.
    fn local_instant(&self, date: NaiveDate, secs: LocalSecs) -> Timestamp {
        let naive: NaiveDateTime =
            date.and_hms_opt(0, 0, 0).expect("midnight") + Duration::seconds(secs as i64);
        let dt = match self.time_zone.from_local_datetime(&naive) {
            chrono::LocalResult::Single(dt) => dt.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
            chrono::LocalResult::None => {
                let before = self
                    .time_zone
                    .from_utc_datetime(&(naive - Duration::days(1)));
                let offset = chrono::Offset::fix(before.offset());
                (naive - Duration::seconds(offset.local_minus_utc() as i64)).and_utc()
            }
        };
        from_utc(dt)
    }
}

const ALL_WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// The last calendar day of a month.
pub fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let (ny, nm) = if month == 12 {
        (year.checked_add(1)?, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)?.pred_opt()
}

/// A UTC date-time from a timestamp (saturating at the end of `i64` nanoseconds).
pub fn to_utc(ts: Timestamp) -> DateTime<Utc> {
    Utc.timestamp_nanos(i64::try_from(ts.0).unwrap_or(i64::MAX))
}

/// A timestamp from a UTC date-time (instants before 1970 saturate to zero).
pub fn from_utc(dt: DateTime<Utc>) -> Timestamp {
    Timestamp(
        dt.timestamp_nanos_opt()
            .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
    )
}

/// Parses a local time of day `HH:MM` or `HH:MM:SS` (`24:00` allowed) into seconds.
pub fn parse_time_of_day(s: &str) -> Option<LocalSecs> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let n: Vec<u32> = parts.iter().map(|p| p.parse().unwrap()).collect();
    let (h, m, sec) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
    if m > 59 || sec > 59 || h > 24 || (h == 24 && (m, sec) != (0, 0)) {
        return None;
    }
    Some(h * 3600 + m * 60 + sec)
}

/// Formats seconds after midnight as `HH:MM` (or `HH:MM:SS`), with `+1d` past midnight.
pub fn fmt_secs(secs: LocalSecs) -> String {
    let (d, s) = (secs / DAY_SECS, secs % DAY_SECS);
    let base = if s % 60 == 0 {
        format!("{:02}:{:02}", s / 3600, s % 3600 / 60)
    } else {
        format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    };
    if secs == DAY_SECS {
        "24:00".to_string()
    } else if d > 0 {
        format!("{base}+1d")
    } else {
        base
    }
}

/// Parses a weekday name: `Mon` … `Sun` or the full English name, any case.
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    let l = s.to_ascii_lowercase();
    ALL_WEEKDAYS.iter().copied().find(|d| {
        let full = match d {
            Weekday::Mon => "monday",
            Weekday::Tue => "tuesday",
            Weekday::Wed => "wednesday",
            Weekday::Thu => "thursday",
            Weekday::Fri => "friday",
            Weekday::Sat => "saturday",
            Weekday::Sun => "sunday",
        };
        l == full || l == full[..3]
    })
}
