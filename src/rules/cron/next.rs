//! robfig's `SpecSchedule.Next` and `ConstantDelaySchedule.Next` on jiff instants, with
//! Go's `time.Date`/`AddDate` wall-clock arithmetic replayed exactly.

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::silence::no_date;
use super::{NANOS_PER_SECOND, Schedule, SpecSchedule, bit, days_from_civil};

/// Upper bound on search steps in [`next_spec`]. A real search needs at most a few
/// thousand; Go can loop forever where a whole day is skipped (see `next_spec`).
const STEP_BUDGET: u32 = 1_000_000;

impl Schedule {
    /// robfig's `Next`: the first activation strictly after `after`, evaluated on the wall
    /// clock of `after`'s time zone. `None` stands for Go's zero time ("never", or nothing
    /// within five years), and also for results outside jiff's supported range.
    pub fn next(&self, after: &Zoned) -> Option<Zoned> {
        let tz = after.time_zone();
        let floor = floor_seconds(after.timestamp())?;
        let secs = match self {
            Schedule::Every { seconds } => floor.checked_add(i64::try_from(*seconds).ok()?)?,
            Schedule::Spec(spec) => next_spec(spec, tz, floor.checked_add(1)?)?,
        };
        Some(Timestamp::from_second(secs).ok()?.to_zoned(tz.clone()))
    }
}

/// Whole Unix seconds of `ts`, rounded down (Go's `t.Nanosecond()` is never negative).
fn floor_seconds(ts: Timestamp) -> Option<i64> {
    i64::try_from(ts.as_nanosecond().div_euclid(i128::from(NANOS_PER_SECOND))).ok()
}

/// Wall-clock fields of an instant in a zone, as Go's `Time` accessors report them.
struct Wall {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    weekday: i64,
}

fn wall(tz: &TimeZone, secs: i64) -> Option<Wall> {
    let dt = tz.to_datetime(Timestamp::from_second(secs).ok()?);
    Some(Wall {
        year: dt.year().into(),
        month: dt.month().into(),
        day: dt.day().into(),
        hour: dt.hour().into(),
        minute: dt.minute().into(),
        second: dt.second().into(),
        weekday: dt.weekday().to_sunday_zero_offset().into(),
    })
}

/// Go's `time.Date(year, month, day, hour, min, sec, 0, tz)` as Unix seconds: out-of-range
/// values carry over, then the wall time is resolved the way Go does it (see `resolve`).
pub(super) fn go_date(
    tz: &TimeZone,
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Option<i64> {
    let m0 = month.checked_sub(1)?;
    let year = year.checked_add(m0.div_euclid(12))?;
    let month = m0.rem_euclid(12) + 1;
    if year.unsigned_abs() > 1_000_000 {
        return None;
    }
    let days = days_from_civil(year, month, 1).checked_add(day.checked_sub(1)?)?;
    let local = days
        .checked_mul(86_400)?
        .checked_add(hour.checked_mul(3_600)?)?
        .checked_add(minute.checked_mul(60)?)?
        .checked_add(second)?;
    resolve(tz, local)
}

/// Go's zone lookup in `time.Date`: take the offset in force at the instant that has the wall
/// time's numbers in UTC; if subtracting it leaves that offset's period, use the offset of the
/// neighbouring period instead. In a gap this picks the earlier instant for zones west of UTC
/// and the later one east of it; in a fold, the first occurrence west and the second east. No
/// single jiff `Disambiguation` does that, so the rule is replayed on the zone's transitions.
fn resolve(tz: &TimeZone, local: i64) -> Option<i64> {
    let at = |secs: i64| -> Option<i64> {
        Some(
            tz.to_offset(Timestamp::from_second(secs).ok()?)
                .seconds()
                .into(),
        )
    };
    let offset = at(local)?;
    if offset == 0 {
        return Some(local);
    }
    let utc = local - offset;
    // The period in force at `local` is [start, end); transitions fall on whole seconds.
    let start = tz
        .preceding(Timestamp::from_second(local.checked_add(1)?).ok()?)
        .next()
        .map(|t| t.timestamp().as_second());
    let end = tz
        .following(Timestamp::from_second(local).ok()?)
        .next()
        .map(|t| t.timestamp().as_second());
    let offset = match (start, end) {
        (Some(start), _) if utc < start => at(start.checked_sub(1)?)?,
        (_, Some(end)) if utc >= end => at(end)?,
        _ => offset,
    };
    local.checked_sub(offset)
}

/// Go's `t.AddDate(0, months, days)`: date arithmetic on the wall clock, then `time.Date`.
fn add_date(tz: &TimeZone, t: &Wall, months: i64, days: i64) -> Option<i64> {
    go_date(
        tz,
        t.year,
        t.month + months,
        t.day + days,
        t.hour,
        t.minute,
        t.second,
    )
}

/// robfig's `SpecSchedule.Next` from `t` (already advanced to the next whole second), step by
/// step: each field is advanced on the wall clock (months and days with `AddDate`, hours,
/// minutes and seconds by adding absolute time), and every roll-over restarts the search from
/// the month. Gives up after five years like Go. Where Go would never return (a zone that skips
/// a whole day, e.g. Pacific/Apia on 2011-12-30, makes `AddDate` land on the same day again),
/// the step budget ends the search with `None`.
fn next_spec(s: &SpecSchedule, tz: &TimeZone, mut t: i64) -> Option<i64> {
    // Shortcut: such schedules make Go search five years and return the zero time.
    if no_date(s).is_some() {
        return None;
    }
    let mut budget = STEP_BUDGET;
    let mut step = || {
        budget = budget.checked_sub(1)?;
        Some(())
    };
    let mut added = false;
    let year_limit = wall(tz, t)?.year + 5;
    'wrap: loop {
        let mut w = wall(tz, t)?;
        if w.year > year_limit {
            return None;
        }

        while bit(w.month) & s.month == 0 {
            step()?;
            if !added {
                added = true;
                t = go_date(tz, w.year, w.month, 1, 0, 0, 0)?;
                w = wall(tz, t)?;
            }
            t = add_date(tz, &w, 1, 0)?;
            w = wall(tz, t)?;
            if w.month == 1 {
                continue 'wrap;
            }
        }

        while !s.day_matches(w.day, w.weekday) {
            step()?;
            if !added {
                added = true;
                t = go_date(tz, w.year, w.month, w.day, 0, 0, 0)?;
                w = wall(tz, t)?;
            }
            t = add_date(tz, &w, 0, 1)?;
            w = wall(tz, t)?;
            if w.day == 1 {
                continue 'wrap;
            }
        }

        while bit(w.hour) & s.hour == 0 {
            step()?;
            if !added {
                added = true;
                t = go_date(tz, w.year, w.month, w.day, w.hour, 0, 0)?;
            }
            t = t.checked_add(3_600)?;
            w = wall(tz, t)?;
            if w.hour == 0 {
                continue 'wrap;
            }
        }

        while bit(w.minute) & s.minute == 0 {
            step()?;
            if !added {
                added = true;
                // Go's Truncate counts from its zero time, a whole number of minutes before
                // the Unix epoch: it cuts absolute time, not the wall clock.
                t = t.div_euclid(60) * 60;
            }
            t = t.checked_add(60)?;
            w = wall(tz, t)?;
            if w.minute == 0 {
                continue 'wrap;
            }
        }

        while bit(w.second) & s.second == 0 {
            step()?;
            // Go truncates to the second here, a no-op: `t` never has a fraction.
            added = true;
            t = t.checked_add(1)?;
            w = wall(tz, t)?;
            if w.second == 0 {
                continue 'wrap;
            }
        }

        return Some(t);
    }
}
