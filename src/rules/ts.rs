//! TiDB Operator's timestamp grammar (`config.ParseTSString`, release-1.6), used for
//! `commitTs`, `logTruncateUntil` and `minCompactStartTs`: a TSO (an unsigned 64-bit
//! decimal, as `strconv.ParseUint(s, 10, 64)` reads it), else a datetime in Go's layout
//! `2006-01-02 15:04:05`, else RFC 3339 (`2006-01-02T15:04:05Z07:00`), both as Go's
//! `time.Parse` reads them (a fractional second after the seconds is accepted, a space in
//! the layout matches any run of spaces, days are checked against the month).

use std::fmt;

/// How a timestamp was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ts {
    /// Empty: the field is unset (TiDB Operator reads 0).
    Unset,
    /// A TSO.
    Tso(u64),
    /// A datetime (`2006-01-02 15:04:05`, the backup manager's local time zone).
    Datetime,
    /// An RFC 3339 timestamp.
    Rfc3339,
}

/// Why TiDB Operator cannot read a timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsError {
    /// The part of the datetime that is out of range (`month`, `day`, …), if that was the
    /// reason rather than the shape.
    pub out_of_range: Option<&'static str>,
}

impl fmt::Display for TsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.out_of_range {
            Some(part) => write!(f, "{part} out of range"),
            None => f.write_str(
                "not a TSO (e.g. 400036290571534337), a datetime \"2006-01-02 15:04:05\" or RFC 3339 \"2006-01-02T15:04:05Z\"",
            ),
        }
    }
}

/// Reads a timestamp as TiDB Operator's `ParseTSString` does.
pub fn parse_ts(value: &str) -> Result<Ts, TsError> {
    if value.is_empty() {
        return Ok(Ts::Unset);
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // ParseUint's only other failure is overflow, which falls through to the
        // datetime layouts and fails there too.
        if let Ok(tso) = value.parse::<u64>() {
            return Ok(Ts::Tso(tso));
        }
    }
    let datetime = parse_layout(value, Separator::Space, Zone::None);
    if datetime.is_ok() {
        return Ok(Ts::Datetime);
    }
    // TiDB Operator reports the RFC 3339 attempt's error; a range error of either
    // layout is the more useful hint.
    match parse_layout(value, Separator::T, Zone::Rfc3339) {
        Ok(()) => Ok(Ts::Rfc3339),
        Err(rfc) => Err(match datetime {
            Err(TsError {
                out_of_range: Some(part),
            }) => TsError {
                out_of_range: Some(part),
            },
            _ => rfc,
        }),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Separator {
    /// `2006-01-02 15:04:05`: a layout space matches any run of spaces, also none at
    /// the end of the value (Go's `skip`).
    Space,
    /// `2006-01-02T15:04:05`: a literal `T`.
    T,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Zone {
    None,
    /// `Z07:00`: `Z`, or `±hh:mm`.
    Rfc3339,
}

const SHAPE: TsError = TsError { out_of_range: None };

fn range(part: &'static str) -> TsError {
    TsError {
        out_of_range: Some(part),
    }
}

/// Go's `getnum`: one or two digits, two required when `fixed`.
fn number(s: &[u8], fixed: bool) -> Result<(u32, &[u8]), TsError> {
    let digit = |i: usize| {
        s.get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| u32::from(b - b'0'))
    };
    let first = digit(0).ok_or(SHAPE)?;
    match digit(1) {
        Some(second) => Ok((first * 10 + second, &s[2..])),
        None if fixed => Err(SHAPE),
        None => Ok((first, &s[1..])),
    }
}

fn literal(s: &[u8], byte: u8) -> Result<&[u8], TsError> {
    match s.split_first() {
        Some((first, rest)) if *first == byte => Ok(rest),
        _ => Err(SHAPE),
    }
}

fn parse_layout(value: &str, separator: Separator, zone: Zone) -> Result<(), TsError> {
    let s = value.as_bytes();
    // stdLongYear: exactly four characters, the first a digit, all of them digits.
    let (year_text, s) = s.split_at_checked(4).ok_or(SHAPE)?;
    if !year_text.iter().all(u8::is_ascii_digit) {
        return Err(SHAPE);
    }
    let year: i64 = year_text
        .iter()
        .fold(0, |n, b| n * 10 + i64::from(b - b'0'));
    let s = literal(s, b'-')?;
    let (month, s) = number(s, true)?;
    let s = literal(s, b'-')?;
    let (day, s) = number(s, true)?;
    let s = match separator {
        Separator::T => literal(s, b'T')?,
        Separator::Space => {
            if s.first().is_some_and(|b| *b != b' ') {
                return Err(SHAPE);
            }
            let spaces = s.iter().take_while(|b| **b == b' ').count();
            &s[spaces..]
        }
    };
    let (hour, s) = number(s, false)?;
    let s = literal(s, b':')?;
    let (minute, s) = number(s, true)?;
    let s = literal(s, b':')?;
    let (second, mut s) = number(s, true)?;
    // A fractional second is accepted although the layout has none.
    if s.len() >= 2 && matches!(s[0], b'.' | b',') && s[1].is_ascii_digit() {
        let digits = s[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        s = &s[1 + digits..];
    }
    if zone == Zone::Rfc3339 {
        s = match s.split_first() {
            Some((b'Z', rest)) => rest,
            _ => {
                if s.len() < 6 || s[3] != b':' || !matches!(s[0], b'+' | b'-') {
                    return Err(SHAPE);
                }
                let (hh, _) = number(&s[1..3], true)?;
                let (mm, _) = number(&s[4..6], true)?;
                if hh > 24 {
                    return Err(range("time zone offset hour"));
                }
                if mm > 60 {
                    return Err(range("time zone offset minute"));
                }
                &s[6..]
            }
        };
    }
    if !s.is_empty() {
        return Err(SHAPE);
    }
    if !(1..=12).contains(&month) {
        return Err(range("month"));
    }
    if hour > 23 {
        return Err(range("hour"));
    }
    if minute > 59 {
        return Err(range("minute"));
    }
    if second > 59 {
        return Err(range("second"));
    }
    if day < 1 || day > days_in(month, year) {
        return Err(range("day"));
    }
    Ok(())
}

fn days_in(month: u32, year: i64) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tso_and_the_two_datetime_layouts() {
        assert_eq!(parse_ts(""), Ok(Ts::Unset));
        assert_eq!(
            parse_ts("400036290571534337"),
            Ok(Ts::Tso(400036290571534337))
        );
        assert_eq!(parse_ts("0"), Ok(Ts::Tso(0)));
        assert_eq!(parse_ts("18446744073709551615"), Ok(Ts::Tso(u64::MAX)));
        // The examples of TiDB Operator's field documentation.
        assert_eq!(parse_ts("2018-05-11 01:42:23"), Ok(Ts::Datetime));
        assert_eq!(parse_ts("2022-10-10T17:21:00+08:00"), Ok(Ts::Rfc3339));
        assert_eq!(parse_ts("2022-10-10T09:21:00Z"), Ok(Ts::Rfc3339));
    }

    #[test]
    fn go_time_parse_leniencies() {
        // stdHour takes one digit; a fraction follows the seconds; spaces collapse.
        assert_eq!(parse_ts("2018-05-11 1:42:23"), Ok(Ts::Datetime));
        assert_eq!(parse_ts("2018-05-11 01:42:23.123456"), Ok(Ts::Datetime));
        assert_eq!(parse_ts("2018-05-11 01:42:23,5"), Ok(Ts::Datetime));
        assert_eq!(parse_ts("2018-05-11   01:42:23"), Ok(Ts::Datetime));
        assert_eq!(parse_ts("2018-05-11T01:42:23.5-07:00"), Ok(Ts::Rfc3339));
        assert_eq!(parse_ts("2024-02-29 00:00:00"), Ok(Ts::Datetime));
    }

    #[test]
    fn what_go_rejects() {
        for bad in [
            "18446744073709551616", // overflows uint64
            "-1",
            "+1",
            "1_000",
            " 1",
            "2018-5-11 01:42:23",  // month needs two digits
            "2018-05-1 01:42:23",  // day needs two digits
            "2018-05-11 01:42",    // no seconds
            "2018-05-1101:42:23",  // no space
            "2018/05/11 01:42:23", // wrong separator
            "2018-05-11t01:42:23Z",
            "2018-05-11T01:42:23z",
            "2018-05-11T01:42:23",        // RFC 3339 needs a zone
            "2018-05-11T01:42:23+0800",   // the zone needs a colon
            "2018-05-11 01:42:23 +08:00", // extra text
            "2018-05-11 01:42:23.",
            "18-05-11 01:42:23",
            "yesterday",
        ] {
            assert_eq!(parse_ts(bad), Err(SHAPE), "{bad:?}");
        }
    }

    #[test]
    fn ranges_are_checked_like_go() {
        assert_eq!(parse_ts("2018-13-11 01:42:23"), Err(range("month")));
        assert_eq!(parse_ts("2018-00-11 01:42:23"), Err(range("month")));
        assert_eq!(parse_ts("2023-02-29 01:42:23"), Err(range("day")));
        assert_eq!(parse_ts("2018-04-31 01:42:23"), Err(range("day")));
        assert_eq!(parse_ts("2018-04-00 01:42:23"), Err(range("day")));
        assert_eq!(parse_ts("2018-04-01 24:00:00"), Err(range("hour")));
        assert_eq!(parse_ts("2018-04-01 23:60:00"), Err(range("minute")));
        assert_eq!(parse_ts("2018-04-01 23:59:60"), Err(range("second")));
        assert_eq!(
            parse_ts("2018-04-01T23:59:59+25:00"),
            Err(range("time zone offset hour"))
        );
        assert_eq!(
            range("day").to_string(),
            "day out of range",
            "the message names the part"
        );
    }
}
