//! Go's `time.Duration`: `time.ParseDuration` and `Duration.String`, byte for byte.
//!
//! TiDB Operator, BR and TiDB store `tikvGCLifeTime`, `timeAgo`, `maxReservedTime` and
//! `tikv_gc_life_time` as Go duration strings. `humantime` accepts a different language
//! (`3d`, `1h 30m`, `1M` = a month), so it cannot be used to decide what Go will accept.

use std::fmt;
use std::str::FromStr;

use super::go_quote::quote;

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// Go's `1<<63`: the magnitude bound used by its overflow checks.
const LIMIT: u64 = 1 << 63;

/// A Go `time.Duration`: signed nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(i64);

/// The error `time.ParseDuration` returns; `Display` prints Go's exact text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(String);

impl DurationError {
    fn invalid(orig: &str) -> Self {
        Self(format!("time: invalid duration {}", quote(orig)))
    }
}

impl GoDuration {
    pub const ZERO: GoDuration = GoDuration(0);

    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(SECOND as i64))
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// The duration as a std `Duration`, `None` when negative.
    pub fn to_std(self) -> Option<std::time::Duration> {
        u64::try_from(self.0)
            .ok()
            .map(std::time::Duration::from_nanos)
    }

    /// Parses like Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, with
    /// units `ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`; a bare `0` needs no unit.
    pub fn parse(orig: &str) -> Result<Self, DurationError> {
        let mut s = orig.as_bytes();
        let mut neg = false;
        if let Some(&c) = s.first()
            && (c == b'-' || c == b'+')
        {
            neg = c == b'-';
            s = &s[1..];
        }
        if s == b"0" {
            return Ok(Self(0));
        }
        if s.is_empty() {
            return Err(DurationError::invalid(orig));
        }
        let mut total: u64 = 0;
        while let Some(&first) = s.first() {
            if !(first == b'.' || first.is_ascii_digit()) {
                return Err(DurationError::invalid(orig));
            }
            let before = s.len();
            let (mut value, rest) = leading_int(s).ok_or_else(|| DurationError::invalid(orig))?;
            s = rest;
            let has_int_digits = before != s.len();

            let mut fraction = 0u64;
            let mut scale = 1f64;
            let mut has_frac_digits = false;
            if s.first() == Some(&b'.') {
                s = &s[1..];
                let before = s.len();
                let (f, sc, rest) = leading_fraction(s);
                fraction = f;
                scale = sc;
                s = rest;
                has_frac_digits = before != s.len();
            }
            if !has_int_digits && !has_frac_digits {
                return Err(DurationError::invalid(orig));
            }

            let unit_len = s
                .iter()
                .position(|&c| c == b'.' || c.is_ascii_digit())
                .unwrap_or(s.len());
            if unit_len == 0 {
                return Err(DurationError(format!(
                    "time: missing unit in duration {}",
                    quote(orig)
                )));
            }
            let (unit_bytes, rest) = s.split_at(unit_len);
            s = rest;
            // The unit ends at an ASCII byte or at the end, so it is whole UTF-8.
            let unit_text = String::from_utf8_lossy(unit_bytes);
            let unit = unit_nanos(&unit_text).ok_or_else(|| {
                DurationError(format!(
                    "time: unknown unit {} in duration {}",
                    quote(&unit_text),
                    quote(orig)
                ))
            })?;
            if value > LIMIT / unit {
                return Err(DurationError::invalid(orig));
            }
            value *= unit;
            if fraction > 0 {
                // Go uses float64 here; truncation matches its uint64 conversion.
                value += (fraction as f64 * (unit as f64 / scale)) as u64;
                if value > LIMIT {
                    return Err(DurationError::invalid(orig));
                }
            }
            total += value;
            if total > LIMIT {
                return Err(DurationError::invalid(orig));
            }
        }
        if neg {
            // total <= 1<<63, so the negation fits (i64::MIN included).
            return Ok(Self(0i64.wrapping_sub_unsigned(total)));
        }
        i64::try_from(total)
            .map(Self)
            .map_err(|_| DurationError::invalid(orig))
    }
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NANOSECOND,
        "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

/// Consumes leading ASCII digits; `None` on overflow past `1<<63`, like Go's `leadingInt`.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(c - b'0');
        if x > LIMIT {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Consumes leading fraction digits, silently dropping precision once it would overflow.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale = 1f64;
    let mut overflow = false;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        i += 1;
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[i..])
}

impl FromStr for GoDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Go's `Duration.String`: `72h0m0s`, `1h30m0s`, `1.5s`, `300ms`, `1µs`, `0s`.
impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let mut u = self.0.unsigned_abs();
        let mut out = String::new();
        if u < SECOND {
            let (prec, unit) = match u {
                0 => return f.write_str("0s"),
                u if u < MICROSECOND => (0, "ns"),
                u if u < MILLISECOND => (3, "\u{b5}s"),
                _ => (6, "ms"),
            };
            let (frac, whole) = fmt_frac(u, prec);
            out.push_str(&whole.to_string());
            out.push_str(&frac);
            out.push_str(unit);
        } else {
            let (frac, whole) = fmt_frac(u, 9);
            u = whole;
            let secs = u % 60;
            u /= 60;
            if u > 0 {
                let mins = u % 60;
                u /= 60;
                if u > 0 {
                    out.push_str(&format!("{u}h"));
                }
                out.push_str(&format!("{mins}m"));
            }
            out.push_str(&format!("{secs}{frac}s"));
        }
        if neg {
            f.write_str("-")?;
        }
        f.write_str(&out)
    }
}

/// Splits `v` into `v / 10^prec` and the fraction text (`.5`, trailing zeros and the dot
/// omitted when zero), as Go's `fmtFrac`.
fn fmt_frac(v: u64, prec: u32) -> (String, u64) {
    let divisor = 10u64.pow(prec);
    let mut frac = v % divisor;
    let whole = v / divisor;
    if frac == 0 {
        return (String::new(), whole);
    }
    let mut digits = prec as usize;
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    (format!(".{frac:0digits$}"), whole)
}

impl serde::Serialize for GoDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> i64 {
        match GoDuration::parse(s) {
            Ok(d) => d.as_nanos(),
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn err(s: &str) -> String {
        match GoDuration::parse(s) {
            Ok(d) => panic!("{s:?} should fail, got {d}"),
            Err(e) => e.to_string(),
        }
    }

    const H: i64 = HOUR as i64;
    const M: i64 = MINUTE as i64;
    const S: i64 = SECOND as i64;

    #[test]
    fn accepts_the_go_grammar() {
        // Vectors from the reference §3.5, checked with Go's time.ParseDuration.
        assert_eq!(ok("72h"), 72 * H);
        assert_eq!(ok("1h30m"), H + 30 * M);
        assert_eq!(ok("2h45m"), 2 * H + 45 * M);
        assert_eq!(ok("1.5h"), 90 * M);
        assert_eq!(ok(".5h"), 30 * M);
        assert_eq!(ok("5.h"), 5 * H);
        assert_eq!(ok("1h1h"), 2 * H);
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("-0"), 0);
        assert_eq!(ok("+0"), 0);
        assert_eq!(ok("0s"), 0);
        assert_eq!(ok("+5m"), 5 * M);
        assert_eq!(ok("-1h"), -H);
        assert_eq!(ok("3ms"), 3_000_000);
        assert_eq!(ok("1µs"), 1_000);
        assert_eq!(ok("1μs"), 1_000);
        assert_eq!(ok("1us"), 1_000);
        assert_eq!(ok("7ns"), 7);
        assert_eq!(ok("1h30m0.5s"), H + 30 * M + S / 2);
        assert_eq!(ok("0.000000001s"), 1);
        // Fractions beyond 19 digits lose precision instead of failing, as in Go.
        assert_eq!(ok("0.12345678901234567890123s"), 123_456_789);
        assert_eq!(ok("2562047h47m16.854775807s"), i64::MAX);
        assert_eq!(ok("-2562047h47m16.854775808s"), i64::MIN);
    }

    #[test]
    fn rejects_with_go_messages() {
        assert_eq!(err(""), r#"time: invalid duration """#);
        assert_eq!(err("1"), r#"time: missing unit in duration "1""#);
        assert_eq!(err("00"), r#"time: missing unit in duration "00""#);
        assert_eq!(err("1d"), r#"time: unknown unit "d" in duration "1d""#);
        assert_eq!(err("3d"), r#"time: unknown unit "d" in duration "3d""#);
        assert_eq!(
            err("1h 30m"),
            r#"time: unknown unit "h " in duration "1h 30m""#
        );
        assert_eq!(err("10M"), r#"time: unknown unit "M" in duration "10M""#);
        assert_eq!(err("1e3s"), r#"time: unknown unit "e" in duration "1e3s""#);
        assert_eq!(err("."), r#"time: invalid duration ".""#);
        assert_eq!(err(".s"), r#"time: invalid duration ".s""#);
        assert_eq!(err("-"), r#"time: invalid duration "-""#);
        assert_eq!(err("h"), r#"time: invalid duration "h""#);
        assert_eq!(err(" 1h"), r#"time: invalid duration " 1h""#);
        assert_eq!(err("--1h"), r#"time: invalid duration "--1h""#);
        assert_eq!(
            err("9999999999h"),
            r#"time: invalid duration "9999999999h""#
        );
        assert_eq!(
            err("2562047h47m16.854775808s"),
            r#"time: invalid duration "2562047h47m16.854775808s""#
        );
        assert_eq!(
            err("1h\n"),
            r#"time: unknown unit "h\n" in duration "1h\n""#
        );
        assert_eq!(
            err("5 minutes"),
            r#"time: unknown unit " minutes" in duration "5 minutes""#
        );
    }

    #[test]
    fn formats_like_go_duration_string() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (S, "1s"),
            (S + S / 2, "1.5s"),
            (10 * M, "10m0s"),
            (72 * H, "72h0m0s"),
            (H + 30 * M, "1h30m0s"),
            (-H, "-1h0m0s"),
            (H + S / 1000, "1h0m0.001s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for &(nanos, text) in cases {
            assert_eq!(GoDuration::from_nanos(nanos).to_string(), text);
            assert_eq!(ok(text), nanos, "round trip of {text}");
        }
    }
}
