//! When robfig's `Next` returns its zero time, decided from the fields alone (no clock).
//!
//! Two ways. The schedule matches no date at all: a field of only commas, or a day that
//! no allowed month has (`30 2`). Or its matching days can be further apart than `Next`
//! searches: spec.go sets `yearLimit := t.Year() + 5` from its start and returns the zero
//! time once its search wraps into a later year, so after a backup in year Y the next
//! one must fall in Y+5 at the latest, or TiDB Operator never schedules another.
//!
//! Only the AND of day-of-month and day-of-week (robfig's star-bit rule, see
//! [`super::SpecSchedule::day_matches`]) makes matching days that rare, and how rare
//! follows the weekdays of the calendar, which repeat every 28 years from 1901 to 2099.
//! The analysis walks one such cycle. The next irregularity, 2100 not being a leap year
//! (it leaves `0 0 29 2 *` eight years without a 29 February), is beyond it and left
//! alone, as are time zones: a zone that skips a matching day's midnight can make a
//! schedule rarer still (see the Havana vectors in the tests).

use std::fmt;

use super::{
    Bounds, DOM, DOW, HOURS, MINUTES, MONTHS, SECONDS, STAR_BIT, Schedule, SpecSchedule, bit,
    days_from_civil, get_bits,
};

/// Years after the start's year in which robfig's `Next` still finds a match.
pub const SEARCH_YEARS: i64 = 5;

/// The 28-year cycle walked: the calendar of 1901–2099 repeats with it. Starting in 2025
/// keeps the years named in messages ones a reader may still live through.
const CYCLE_START: i64 = 2025;
const CYCLE_YEARS: i64 = 28;

/// 1970-01-01 was a Thursday (Go's `time.Weekday`: Sunday is 0).
const EPOCH_WEEKDAY: i64 = 4;

/// The day field(s) carrying [`STAR_BIT`], which make robfig AND the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayField {
    DayOfMonth,
    DayOfWeek,
    Both,
}

/// Why robfig's `Next` returns its zero time, from some start on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Silence {
    /// A field allows no value (a list of only commas): `second`, `minute`, `hour`,
    /// `day-of-month`, `month` or `day-of-week`.
    EmptyField(&'static str),
    /// Neither day field allows a day (no star, so either would have done).
    NoDay,
    /// No allowed month has an allowed day: `30 2`, `31 4,6,9,11`.
    NoSuchDate,
    /// After a backup in `last`, the next day matching both day fields is in `next`,
    /// more than [`SEARCH_YEARS`] later; `star` made the fields AND-ed.
    BeyondSearch {
        last: i64,
        next: i64,
        star: DayField,
    },
}

impl fmt::Display for Silence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Silence::EmptyField(field) => {
                write!(f, "the {field} field allows no value; list at least one")
            }
            Silence::NoDay => {
                f.write_str("neither day-of-month nor day-of-week allows a day; list at least one")
            }
            Silence::NoSuchDate => {
                f.write_str("no month has that day; check the day-of-month and month fields")
            }
            Silence::BeyondSearch { last, next, star } => {
                let starred = match star {
                    DayField::DayOfMonth => "day-of-month is",
                    DayField::DayOfWeek => "day-of-week is",
                    DayField::Both => "both day fields are",
                };
                write!(
                    f,
                    "it fires only on days that match both day-of-month and day-of-week, and after {last} the next such day is in {next}, beyond the {SEARCH_YEARS} years robfig/cron's Next searches, so TiDB Operator would stop scheduling backups; robfig/cron v1 AND-s the two fields because {starred} written with \"*\" or \"?\" and a step: list the days without \"*\" (e.g. \"1\" instead of \"*/31\") to fire on the days of either field, or restrict only one of the two"
                )
            }
        }
    }
}

impl Schedule {
    /// Why robfig's `Next` would return its zero time for this schedule from some start
    /// on: it matches no date at all, or its matching days can be further apart than the
    /// five years `Next` searches. `None` for a schedule that keeps firing.
    pub fn silence(&self) -> Option<Silence> {
        match self {
            Schedule::Every { .. } => None,
            Schedule::Spec(spec) => silence(spec),
        }
    }

    /// True when [`Schedule::silence`] has a reason.
    pub fn never_fires(&self) -> bool {
        self.silence().is_some()
    }
}

impl SpecSchedule {
    /// True when [`silence`] has a reason for this spec.
    pub fn never_fires(&self) -> bool {
        silence(self).is_some()
    }
}

/// [`Schedule::silence`] of a spec.
pub fn silence(spec: &SpecSchedule) -> Option<Silence> {
    no_date(spec).or_else(|| beyond_search(spec))
}

/// Why no date can ever match, if none can; then `Next` gives up from any start.
pub(super) fn no_date(spec: &SpecSchedule) -> Option<Silence> {
    let empty = |bits: u64, r: &Bounds| bits & get_bits(r.min, r.max, 1) == 0;
    let fields = [
        (spec.second, &SECONDS, "second"),
        (spec.minute, &MINUTES, "minute"),
        (spec.hour, &HOURS, "hour"),
        (spec.month, &MONTHS, "month"),
    ];
    if let Some((_, _, name)) = fields.iter().find(|(bits, r, _)| empty(*bits, r)) {
        return Some(Silence::EmptyField(name));
    }
    let (no_dom, no_dow) = (empty(spec.dom, &DOM), empty(spec.dow, &DOW));
    if spec.and_rule() {
        if no_dom {
            return Some(Silence::EmptyField("day-of-month"));
        }
        if no_dow {
            return Some(Silence::EmptyField("day-of-week"));
        }
    } else if no_dom && no_dow {
        return Some(Silence::NoDay);
    }
    // Feb 29 counts as existing, and every existing date falls on every weekday in some
    // year, so with the AND rule any allowed weekday will do, and with the OR rule an
    // allowed weekday alone suffices.
    let some_date = (1..=12).any(|month| {
        let longest = match month {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let some_dom = spec.dom & get_bits(1, longest, 1) != 0;
        spec.month & bit(month) != 0
            && if spec.and_rule() {
                some_dom
            } else {
                some_dom || !no_dow
            }
    });
    (!some_date).then_some(Silence::NoSuchDate)
}

/// The first pair of consecutive years with a matching day that are more than
/// [`SEARCH_YEARS`] apart, over the 28-year cycle (wrapping around).
fn beyond_search(spec: &SpecSchedule) -> Option<Silence> {
    let every_day = get_bits(1, 31, 1);
    let every_weekday = get_bits(0, 6, 1);
    // Under the OR rule, or with one day field unrestricted, some day matches every year.
    if !spec.and_rule()
        || spec.dom & every_day == every_day
        || spec.dow & every_weekday == every_weekday
    {
        return None;
    }
    let years: Vec<i64> = (CYCLE_START..CYCLE_START + CYCLE_YEARS)
        .filter(|year| has_matching_day(spec, *year))
        .collect();
    let following = years
        .iter()
        .skip(1)
        .copied()
        .chain(years.first().map(|first| first + CYCLE_YEARS));
    let (last, next) = years
        .iter()
        .copied()
        .zip(following)
        .find(|(last, next)| next - last > SEARCH_YEARS)?;
    let star = match (spec.dom & STAR_BIT != 0, spec.dow & STAR_BIT != 0) {
        (true, true) => DayField::Both,
        (true, false) => DayField::DayOfMonth,
        _ => DayField::DayOfWeek,
    };
    Some(Silence::BeyondSearch { last, next, star })
}

/// Whether some day of `year` in an allowed month passes robfig's `dayMatches`.
fn has_matching_day(spec: &SpecSchedule, year: i64) -> bool {
    (1..=12)
        .filter(|month| spec.month & bit(*month) != 0)
        .any(|month| {
            let first = days_from_civil(year, month, 1);
            let length = days_from_civil(year + month / 12, month % 12 + 1, 1) - first;
            (1..=length).any(|day| {
                let weekday = (first + day - 1 + EPOCH_WEEKDAY).rem_euclid(7);
                spec.day_matches(day, weekday)
            })
        })
}

/// Each vector cites the robfig/cron v1.1.0 rule it mirrors; `Next` is run from a start
/// where the analysis says it gives up, and from one where it still fires.
#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use jiff::tz::TimeZone;

    use super::super::parse_standard;
    use super::*;

    fn parse(spec: &str) -> Schedule {
        parse_standard(spec).unwrap_or_else(|e| panic!("{spec:?} should parse: {e}"))
    }

    fn spec(spec_text: &str) -> SpecSchedule {
        match parse(spec_text) {
            Schedule::Spec(spec) => spec,
            Schedule::Every { .. } => panic!("{spec_text:?} is not a cron spec"),
        }
    }

    /// robfig's `Next` from `after` (UTC) as RFC 3339, or "never" for its zero time.
    fn next(spec_text: &str, after: &str) -> String {
        let after = after
            .parse::<Timestamp>()
            .unwrap_or_else(|e| panic!("{after}: {e}"))
            .to_zoned(TimeZone::UTC);
        match parse(spec_text).next(&after) {
            Some(at) => at.timestamp().to_string(),
            None => "never".to_owned(),
        }
    }

    /// parser.go `getRange`: `*` and `?` set the star bit whatever follows them, so
    /// `*/31` is day 1 plus the star bit; spec.go `dayMatches` then AND-s the two day
    /// fields: 1 January that is a Tuesday. spec.go `Next`: `yearLimit := t.Year() + 5`.
    #[test]
    fn star_step_in_day_of_month_ands_the_day_fields_past_the_search() {
        let s = spec("0 0 */31 1 2");
        assert_eq!(s.dom, 1 << 1 | STAR_BIT);
        assert_eq!(
            silence(&s),
            Some(Silence::BeyondSearch {
                last: 2030,
                next: 2036,
                star: DayField::DayOfMonth
            })
        );
        assert_eq!(
            silence(&s).map(|why| why.to_string()).as_deref(),
            Some(
                "it fires only on days that match both day-of-month and day-of-week, and after 2030 the next such day is in 2036, beyond the 5 years robfig/cron's Next searches, so TiDB Operator would stop scheduling backups; robfig/cron v1 AND-s the two fields because day-of-month is written with \"*\" or \"?\" and a step: list the days without \"*\" (e.g. \"1\" instead of \"*/31\") to fire on the days of either field, or restrict only one of the two"
            )
        );
        // It fires once more from today (2030-01-01 is a Tuesday), then never again.
        assert_eq!(
            next("0 0 */31 1 2", "2026-12-04T00:00:00Z"),
            "2030-01-01T00:00:00Z"
        );
        assert_eq!(next("0 0 */31 1 2", "2030-01-01T00:00:00Z"), "never");
        // From 2031 the next Tuesday-1-January (2036) is within the search again.
        assert_eq!(
            next("0 0 */31 1 2", "2031-01-01T00:00:00Z"),
            "2036-01-01T00:00:00Z"
        );
    }

    /// parser.go `getRange`: the same bits written without `*` carry no star bit, and
    /// spec.go `dayMatches` OR-s the fields: 1 January, or any Tuesday in January.
    #[test]
    fn the_same_days_without_a_star_or_the_day_fields() {
        let starred = spec("0 0 */31 1 2");
        let plain = spec("0 0 1-31/31 1 2");
        assert_eq!(plain.dom, starred.dom & !STAR_BIT);
        assert_eq!(silence(&plain), None);
        assert_eq!(silence(&spec("0 0 1 1 2")), None);
        // 2021-01-01 is a Friday: the next fire is Tuesday the 5th, not a 1 January.
        assert_eq!(
            next("0 0 1 1 2", "2021-01-01T00:00:00Z"),
            "2021-01-05T00:00:00Z"
        );
        assert_eq!(
            next("0 0 1-31/31 1 2", "2021-01-01T00:00:00Z"),
            "2021-01-05T00:00:00Z"
        );
    }

    /// parser.go `getRange`: a star in day-of-week (`*/7` is Sunday plus the star bit)
    /// AND-s the fields just the same; `?` counts as `*`.
    #[test]
    fn star_step_in_day_of_week_or_both() {
        assert_eq!(
            silence(&spec("0 0 1 1 */7")),
            Some(Silence::BeyondSearch {
                last: 2034,
                next: 2040,
                star: DayField::DayOfWeek
            })
        );
        assert_eq!(
            silence(&spec("0 0 ?/31 1 ?/7")),
            Some(Silence::BeyondSearch {
                last: 2034,
                next: 2040,
                star: DayField::Both
            })
        );
        // 29 February that is a Sunday: once in 28 years.
        assert_eq!(
            silence(&spec("0 0 29 2 */7")),
            Some(Silence::BeyondSearch {
                last: 2032,
                next: 2060,
                star: DayField::DayOfWeek
            })
        );
        assert_eq!(next("0 0 29 2 */7", "2032-03-01T00:00:00Z"), "never");
        // Without the star: 29 February, or any Sunday in February.
        assert_eq!(silence(&spec("0 0 29 2 0")), None);
        // A plain star leaves the other field alone to decide: AND with "every day".
        assert_eq!(silence(&spec("0 0 ? 1 2")), None);
        assert_eq!(silence(&spec("0 0 1 1 ?")), None);
        assert_eq!(silence(&spec("0 0 13 * */5")), None, "every Friday 13th");
    }

    /// spec.go `Next`: a match in the fifth year after the start is still found (the
    /// limit is checked as `t.Year() > yearLimit`); the sixth is not.
    #[test]
    fn five_years_is_within_the_search() {
        // 1 January on a Tuesday or a Wednesday: at most five years apart.
        assert_eq!(silence(&spec("0 0 */31 1 2,3")), None);
        // 2025-01-01 is a Wednesday, 2030-01-01 the next Tuesday or Wednesday.
        assert_eq!(
            next("0 0 */31 1 2,3", "2025-01-01T00:00:00Z"),
            "2030-01-01T00:00:00Z"
        );
        assert_eq!(next("0 0 */31 1 2", "2030-01-01T00:00:00Z"), "never");
        // The leap day is four years apart within 1901–2099, the cycle judged; the gap
        // across 2100 (not a leap year) is beyond it.
        assert_eq!(silence(&spec("0 0 29 2 *")), None);
        assert_eq!(next("0 0 29 2 *", "2097-03-01T00:00:00Z"), "never");
    }

    /// No date at all: robfig's `Next` searches five years and returns the zero time.
    #[test]
    fn no_date_reasons() {
        let cases = [
            (
                ", * * * *",
                "the minute field allows no value; list at least one",
            ),
            (
                "0 , * * *",
                "the hour field allows no value; list at least one",
            ),
            (
                "0 0 * , *",
                "the month field allows no value; list at least one",
            ),
            (
                "0 0 , * *",
                "the day-of-month field allows no value; list at least one",
            ),
            (
                "0 0 * * ,",
                "the day-of-week field allows no value; list at least one",
            ),
            (
                "0 0 , * ,",
                "neither day-of-month nor day-of-week allows a day; list at least one",
            ),
            (
                "0 0 30 2 *",
                "no month has that day; check the day-of-month and month fields",
            ),
            (
                "0 0 31 4,6,9,11 */2",
                "no month has that day; check the day-of-month and month fields",
            ),
        ];
        for (spec_text, message) in cases {
            let why = silence(&spec(spec_text)).map(|why| why.to_string());
            assert_eq!(why.as_deref(), Some(message), "{spec_text}");
            assert_eq!(
                next(spec_text, "2021-01-01T00:00:00Z"),
                "never",
                "{spec_text}"
            );
        }
        // Without a star an empty day-of-month leaves day-of-week to decide.
        assert_eq!(silence(&spec("0 0 , * MON")), None);
        assert_eq!(
            next("0 0 , * MON", "2021-01-01T00:00:00Z"),
            "2021-01-04T00:00:00Z"
        );
        // The seconds field of a hand-built spec counts too.
        let no_second = SpecSchedule {
            second: 0,
            ..spec("* * * * *")
        };
        assert_eq!(silence(&no_second), Some(Silence::EmptyField("second")));
    }

    /// `@every` never stops.
    #[test]
    fn constant_delay_always_fires() {
        assert_eq!(parse("@every 1h").silence(), None);
        assert!(!parse("@every 1h").never_fires());
    }
}
