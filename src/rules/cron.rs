//! robfig/cron **v1.1.0** `ParseStandard` and `Schedule.Next`, reproduced exactly.
//!
//! TiDB Operator parses `BackupSchedule.spec.schedule` with that library version, so the
//! webhook must accept exactly its language (5 fields or an `@` descriptor; no seconds field, no
//! `TZ=` prefix, no `L`/`W`/`#`), report its exact error text, and compute fire times with its
//! wall-clock search, including Go's `time.Date` resolution of DST gaps and folds.
//!
//! Two of robfig's rules surprise users, and both are reproduced, not corrected:
//!
//! - A field written with `*` or `?` carries [`STAR_BIT`], *with or without a step*
//!   (`getRange`), and `dayMatches` AND-s day-of-month and day-of-week when either carries
//!   it, OR-s them otherwise: `0 0 */31 1 2` is "1 January, and a Tuesday", while
//!   `0 0 1 1 2` is "1 January, or any Tuesday in January".
//! - `Next` gives up, returning Go's zero time, when its search passes the start's year
//!   plus five. A schedule whose matching days can be further apart than that stops for
//!   good; [`Schedule::silence`] says when and why, and validation rejects it.
//!
//! The parser and the fields' rules are here; `Next` is in `next.rs`, the never-fires
//! analysis in [`silence`]. Both build on this module and never the other way round.

mod next;
pub mod silence;
#[cfg(test)]
mod tests;

use super::duration::GoDuration;
use super::go_quote::quote;

/// Bit 63 of a field: set when the field contained `*` or `?` (with or without a step).
/// It decides whether day-of-month and day-of-week are AND-ed or OR-ed.
pub const STAR_BIT: u64 = 1 << 63;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A parse error; `Display` is robfig's exact message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(String);

impl CronError {
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// A parsed schedule: robfig's `*SpecSchedule` or `ConstantDelaySchedule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Spec(SpecSchedule),
    /// `@every <duration>`: the delay in whole seconds (at least 1).
    Every {
        seconds: u64,
    },
}

/// robfig's `SpecSchedule`: one bit per allowed value (bit `n` = value `n`), plus
/// [`STAR_BIT`]. `second` is always `1` (second 0) for standard specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpecSchedule {
    pub second: u64,
    pub minute: u64,
    pub hour: u64,
    pub dom: u64,
    pub month: u64,
    pub dow: u64,
}

struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

impl Bounds {
    const fn numeric(min: u64, max: u64) -> Bounds {
        Bounds {
            min,
            max,
            names: &[],
        }
    }
}

const SECONDS: Bounds = Bounds::numeric(0, 59);
const MINUTES: Bounds = Bounds::numeric(0, 59);
const HOURS: Bounds = Bounds::numeric(0, 23);
const DOM: Bounds = Bounds::numeric(1, 31);
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

fn err(msg: String) -> CronError {
    CronError(msg)
}

/// Parses a schedule exactly as robfig/cron v1.1.0 `cron.ParseStandard`.
pub fn parse_standard(spec: &str) -> Result<Schedule, CronError> {
    if spec.is_empty() {
        return Err(err("Empty spec string".to_owned()));
    }
    // Only the very first byte counts: " @daily" is a (wrong) field count, not a descriptor.
    if spec.starts_with('@') {
        return parse_descriptor(spec);
    }
    // Go's strings.Fields splits on unicode.IsSpace, which is Rust's char::is_whitespace.
    let fields: Vec<&str> = spec.split_whitespace().collect();
    let &[minute, hour, dom, month, dow] = fields.as_slice() else {
        return Err(err(format!(
            "Expected exactly 5 fields, found {}: {spec}",
            fields.len()
        )));
    };
    parse_fields(["0", minute, hour, dom, month, dow]).map(Schedule::Spec)
}

/// The six positional fields (seconds first); the first error in field order wins.
fn parse_fields(f: [&str; 6]) -> Result<SpecSchedule, CronError> {
    Ok(SpecSchedule {
        second: get_field(f[0], &SECONDS)?,
        minute: get_field(f[1], &MINUTES)?,
        hour: get_field(f[2], &HOURS)?,
        dom: get_field(f[3], &DOM)?,
        month: get_field(f[4], &MONTHS)?,
        dow: get_field(f[5], &DOW)?,
    })
}

/// A comma-separated list of ranges. Empty items are dropped (Go's `strings.FieldsFunc`), so
/// a field of only commas yields no bits at all and no error.
fn get_field(field: &str, r: &Bounds) -> Result<u64, CronError> {
    field
        .split(',')
        .filter(|s| !s.is_empty())
        .try_fold(0, |bits, expr| Ok(bits | get_range(expr, r)?))
}

/// `*|?|N|N-M` optionally followed by `/step`, following robfig's checks in its order.
fn get_range(expr: &str, r: &Bounds) -> Result<u64, CronError> {
    let mut range_and_step = expr.split('/');
    let range = range_and_step.next().unwrap_or_default();
    let step_text = range_and_step.next();
    let too_many_slashes = range_and_step.next().is_some();

    let mut low_and_high = range.split('-');
    let low = low_and_high.next().unwrap_or_default();
    let high = low_and_high.next();
    let too_many_hyphens = low_and_high.next().is_some();
    let single = high.is_none();

    // A star ignores whatever follows its hyphen ("*-5" is "*"), as robfig does.
    let (start, mut end, extra) = if low == "*" || low == "?" {
        (r.min, r.max, STAR_BIT)
    } else {
        let start = parse_int_or_name(low, r)?;
        let end = match high {
            None => start,
            Some(_) if too_many_hyphens => {
                return Err(err(format!("Too many hyphens: {expr}")));
            }
            Some(high) => parse_int_or_name(high, r)?,
        };
        (start, end, 0)
    };

    let step = match step_text {
        None => 1,
        Some(_) if too_many_slashes => return Err(err(format!("Too many slashes: {expr}"))),
        Some(text) => {
            let step = must_parse_int(text)?;
            // "N/step" means "N-max/step".
            if single {
                end = r.max;
            }
            step
        }
    };

    if start < r.min {
        return Err(err(format!(
            "Beginning of range ({start}) below minimum ({}): {expr}",
            r.min
        )));
    }
    if end > r.max {
        return Err(err(format!(
            "End of range ({end}) above maximum ({}): {expr}",
            r.max
        )));
    }
    if start > end {
        return Err(err(format!(
            "Beginning of range ({start}) beyond end of range ({end}): {expr}"
        )));
    }
    if step == 0 {
        return Err(err(format!(
            "Step of range should be a positive number: {expr}"
        )));
    }
    Ok(get_bits(start, end, step) | extra)
}

fn parse_int_or_name(expr: &str, r: &Bounds) -> Result<u64, CronError> {
    if let Some(&(_, value)) = r.names.iter().find(|(name, _)| go_lower_eq(expr, name)) {
        return Ok(value);
    }
    must_parse_int(expr)
}

/// `strings.ToLower(expr) == name` for an ASCII lower-case `name`. Go lower-cases with simple
/// case mappings, under which U+0130 (İ) becomes `i` and U+212A (Kelvin sign) becomes `k`; no
/// other non-ASCII character lower-cases to ASCII.
fn go_lower_eq(expr: &str, name: &str) -> bool {
    let mut lowered = expr.chars().map(|c| match c {
        '\u{130}' => 'i',
        '\u{212a}' => 'k',
        c => c.to_ascii_lowercase(),
    });
    name.chars().all(|n| lowered.next() == Some(n)) && lowered.next().is_none()
}

fn must_parse_int(expr: &str) -> Result<u64, CronError> {
    let num = atoi(expr).map_err(|e| err(format!("Failed to parse int from {expr}: {e}")))?;
    u64::try_from(num).map_err(|_| err(format!("Negative number ({num}) not allowed: {expr}")))
}

/// Go's `strconv.Atoi` on a 64-bit platform, with its `*NumError` text as the error.
fn atoi(s: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.Atoi: parsing {}: invalid syntax", quote(s));
    let range = || format!("strconv.Atoi: parsing {}: value out of range", quote(s));
    let bytes = s.as_bytes();
    let (neg, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        Some(_) => (false, bytes),
        None => return Err(syntax()),
    };
    if digits.is_empty() {
        return Err(syntax());
    }
    let mut n: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(syntax());
        }
        // ParseUint reports overflow as soon as it happens, before looking at later bytes.
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or_else(range)?;
    }
    if neg {
        0i64.checked_sub_unsigned(n).ok_or_else(range)
    } else {
        i64::try_from(n).map_err(|_| range())
    }
}

/// Bits `min, min+step, …` up to `max` (inclusive).
fn get_bits(min: u64, max: u64, step: u64) -> u64 {
    let mut bits = 0;
    let mut i = min;
    while i <= max && i < 64 {
        bits |= 1 << i;
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    bits
}

fn all(r: &Bounds) -> u64 {
    get_bits(r.min, r.max, 1) | STAR_BIT
}

fn parse_descriptor(descriptor: &str) -> Result<Schedule, CronError> {
    let at_midnight = |dom, month, dow| {
        Schedule::Spec(SpecSchedule {
            second: 1,
            minute: 1,
            hour: 1,
            dom,
            month,
            dow,
        })
    };
    match descriptor {
        "@yearly" | "@annually" => return Ok(at_midnight(1 << 1, 1 << 1, all(&DOW))),
        "@monthly" => return Ok(at_midnight(1 << 1, all(&MONTHS), all(&DOW))),
        "@weekly" => return Ok(at_midnight(all(&DOM), all(&MONTHS), 1)),
        "@daily" | "@midnight" => return Ok(at_midnight(all(&DOM), all(&MONTHS), all(&DOW))),
        "@hourly" => {
            return Ok(Schedule::Spec(SpecSchedule {
                second: 1,
                minute: 1,
                hour: all(&HOURS),
                dom: all(&DOM),
                month: all(&MONTHS),
                dow: all(&DOW),
            }));
        }
        _ => {}
    }
    if let Some(text) = descriptor.strip_prefix("@every ") {
        let duration = GoDuration::parse(text)
            .map_err(|e| err(format!("Failed to parse duration {descriptor}: {e}")))?;
        return Ok(Schedule::every(duration));
    }
    Err(err(format!("Unrecognized descriptor: {descriptor}")))
}

impl Schedule {
    /// robfig's `Every`: below one second becomes one second, the rest is cut to whole seconds.
    pub fn every(duration: GoDuration) -> Schedule {
        let nanos = duration.as_nanos().max(NANOS_PER_SECOND);
        Schedule::Every {
            seconds: nanos.unsigned_abs() / NANOS_PER_SECOND.unsigned_abs(),
        }
    }
}

impl SpecSchedule {
    /// robfig's `dayMatches`: with [`STAR_BIT`] in either day field both must match,
    /// otherwise either suffices.
    pub fn day_matches(&self, day: i64, weekday: i64) -> bool {
        let dom = self.dom & bit(day) != 0;
        let dow = self.dow & bit(weekday) != 0;
        if self.and_rule() {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Whether day-of-month and day-of-week are AND-ed (either carries [`STAR_BIT`]).
    fn and_rule(&self) -> bool {
        (self.dom | self.dow) & STAR_BIT != 0
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (month 1..=12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The bit of `value` in a field; none for values no field has.
fn bit(value: i64) -> u64 {
    u32::try_from(value)
        .ok()
        .filter(|v| *v < 64)
        .map_or(0, |v| 1u64 << v)
}
