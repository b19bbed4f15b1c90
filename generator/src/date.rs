//! Dates and times as authors write them, read with one grammar.
//!
//! Every date Kiln reads goes through this module: TOML date literals (which the front matter
//! module renders back to their text form first), TOML and YAML strings, and the date prefix of
//! a file name such as `2024-03-05-hello.md`. One grammar for all of them means a quoted date and
//! a bare one always give the same instant, whatever format the file is in.
//!
//! # Grammar
//!
//! Surrounding whitespace is ignored. What is left must match one of these forms exactly:
//!
//! ```text
//! value  = date [ sep time [ offset ] ]
//! date   = YYYY "-" MM "-" DD
//! sep    = "T" / "t" / " "
//! time   = HH ":" MM [ ":" SS [ "." 1*DIGIT ] ]
//! offset = "Z" / "z" / ( "+" / "-" ) HH ":" MM
//! ```
//!
//! - `YYYY-MM-DD` alone is midnight of that day in the site time zone.
//! - A date and a time without an offset is a wall-clock time in the site time zone.
//! - A date and a time with `Z` or `±HH:MM` is an absolute instant; the site time zone is not
//!   used.
//!
//! Every field has exactly the number of digits shown. Fractions of a second keep nanosecond
//! precision; digits past the ninth are dropped. Leap seconds (`:60`) are not accepted.
//!
//! # Clock changes
//!
//! A wall-clock time can be missing or doubled in the site time zone when clocks change. The rule
//! is the earliest valid instant at or after what the author wrote:
//!
//! - a doubled time (clocks going back) is the earlier of its two instants;
//! - a missing time (clocks going forward) is the instant the clocks jump, so `02:30` on the
//!   night Europe/Berlin skips from `02:00` to `03:00` becomes `03:00` local time.
//!
//! # What this module never does
//!
//! It never guesses: no `03/05/2024`, no month names, no RFC 2822, no trailing text. A value that
//! does not match is a [`DateError`] that lists the accepted forms, so the author can fix it.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The accepted forms in words, for error messages here and in callers.
pub const ACCEPTED_FORMS: &str = "`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fraction]]` (`T` or a \
     space between date and time; read in the site time zone) and the same followed by `Z` or \
     `±HH:MM`";

/// A date value that does not match the grammar or names a day or time that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read `{text}` as a date: {reason}; accepted forms are {ACCEPTED_FORMS}")]
pub struct DateError {
    text: String,
    reason: Reason,
}

impl DateError {
    /// The text that was rejected, without surrounding whitespace.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Why a value was rejected; kept private because callers only show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum Reason {
    #[error("it does not match any accepted form")]
    Shape,
    #[error("there is no month {0}")]
    NoSuchMonth(u32),
    #[error("that day does not exist")]
    NoSuchDay,
    #[error("that time of day does not exist")]
    NoSuchTime,
    #[error("the offset is out of range")]
    BadOffset,
}

/// Parses `text` with the grammar in the module documentation.
///
/// Values without an offset are read in `tz`; the result is always in UTC.
pub fn parse_date(text: &str, tz: Tz) -> Result<DateTime<Utc>, DateError> {
    let text = text.trim();
    let fail = |reason| DateError { text: text.to_owned(), reason };
    let parts = Parts::parse(text).ok_or_else(|| fail(Reason::Shape))?;
    let month = parts.ymd.1;
    if !(1..=12).contains(&month) {
        return Err(fail(Reason::NoSuchMonth(month)));
    }
    let date = parts.date().ok_or_else(|| fail(Reason::NoSuchDay))?;
    let Some(clock) = parts.clock else {
        return Ok(resolve_local(date.and_time(NaiveTime::MIN), tz));
    };
    let naive = date.and_time(clock.time().ok_or_else(|| fail(Reason::NoSuchTime))?);
    let Some(offset) = parts.offset else {
        return Ok(resolve_local(naive, tz));
    };
    let offset = offset.to_fixed().ok_or_else(|| fail(Reason::BadOffset))?;
    Ok(naive.and_utc() - offset)
}

/// Reads a `YYYY-MM-DD` prefix from a file stem such as `2024-03-05-hello`.
///
/// The date must be followed by `-` or `_` and at least one more character; the result is
/// midnight of that day in `tz` and the rest of the stem after the separator (`hello`). A stem
/// without a whole valid date there (`2018-03-tokio-runtime`, `2024-02-30-x`, `2024-03-05`) gives
/// `None`, and the caller keeps the stem as it is.
pub fn date_from_file_stem(stem: &str, tz: Tz) -> Option<(DateTime<Utc>, &str)> {
    let bytes = stem.as_bytes();
    if bytes.len() < 12 || !matches!(bytes[10], b'-' | b'_') {
        return None;
    }

    // Byte 10 is ASCII, so both slices below fall on character boundaries.
    let mut cursor = Cursor::new(&stem[..10]);
    let ymd = cursor.ymd()?;
    let date = NaiveDate::from_ymd_opt(ymd.0, ymd.1, ymd.2)?;
    Some((resolve_local(date.and_time(NaiveTime::MIN), tz), &stem[11..]))
}

/// Turns a wall-clock time in `tz` into an instant, following the clock-change rule above.
fn resolve_local(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => first_instant_after_gap(naive, tz),
    }
}

/// Finds the instant the clocks jump past a wall-clock time that `tz` skips.
///
/// Wall-clock time only moves forward across a gap, so "the local time at instant `u` is at or
/// after `naive`" is false before the jump and true from it on, and a binary search over whole
/// seconds finds the jump. Every offset in the time zone database, old local mean times included,
/// lies within ±16 hours, which bounds the search.
fn first_instant_after_gap(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    const SPAN: i64 = 17 * 3600;
    let wall_at = |secs: i64| Utc.timestamp_opt(secs, 0).single().map(|u| u.with_timezone(&tz));
    let reached = |secs: i64| wall_at(secs).is_none_or(|t| t.naive_local() >= naive);
    let target = naive.and_utc().timestamp();
    let (mut low, mut high) = (target - SPAN, target + SPAN);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if reached(mid) { high = mid } else { low = mid }
    }
    Utc.timestamp_opt(high, 0).single().unwrap_or_else(|| naive.and_utc())
}

/// The fields of a value that matched the grammar, before calendar checks.
struct Parts {
    ymd: (i32, u32, u32),
    clock: Option<Clock>,
    offset: Option<Offset>,
}

/// A `±HH:MM` offset as written; `Z` is `+00:00`.
struct Offset {
    east: bool,
    hours: u32,
    minutes: u32,
}

impl Offset {
    /// The offset as a duration east of UTC, if its fields are in range.
    fn to_fixed(&self) -> Option<chrono::TimeDelta> {
        if self.hours > 23 || self.minutes > 59 {
            return None;
        }
        let seconds = i64::from(self.hours * 3600 + self.minutes * 60);
        Some(chrono::TimeDelta::seconds(if self.east { seconds } else { -seconds }))
    }
}

/// Hours, minutes, seconds and nanoseconds as written.
struct Clock {
    hour: u32,
    minute: u32,
    second: u32,
    nano: u32,
}

impl Parts {
    /// Matches the grammar; `None` when the shape is wrong anywhere.
    fn parse(text: &str) -> Option<Parts> {
        let mut cursor = Cursor::new(text);
        let ymd = cursor.ymd()?;
        if cursor.is_done() {
            return Some(Parts { ymd, clock: None, offset: None });
        }
        if !cursor.eat_any(b"Tt ") {
            return None;
        }
        let clock = cursor.clock()?;
        let offset = if cursor.is_done() { None } else { Some(cursor.offset()?) };
        cursor.is_done().then_some(Parts { ymd, clock: Some(clock), offset })
    }

    /// The calendar day, if it exists.
    fn date(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.ymd.0, self.ymd.1, self.ymd.2)
    }
}

impl Clock {
    /// The time of day, if it exists.
    fn time(&self) -> Option<NaiveTime> {
        NaiveTime::from_hms_nano_opt(self.hour, self.minute, self.second, self.nano)
    }
}

/// A position in an ASCII grammar; any non-ASCII byte simply fails to match.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { bytes: text.as_bytes(), pos: 0 }
    }

    fn is_done(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Consumes one byte if it is one of `set`.
    fn eat_any(&mut self, set: &[u8]) -> bool {
        let hit = self.peek().is_some_and(|b| set.contains(&b));
        self.pos += usize::from(hit);
        hit
    }

    /// Reads exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let run = self.bytes.get(self.pos..self.pos + count)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += count;
        Some(run.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
    }

    /// Reads a required separator followed by exactly `count` digits.
    fn sep_digits(&mut self, sep: u8, count: usize) -> Option<u32> {
        if !self.eat_any(&[sep]) {
            return None;
        }
        self.digits(count)
    }

    fn ymd(&mut self) -> Option<(i32, u32, u32)> {
        let year = self.digits(4)?;
        let month = self.sep_digits(b'-', 2)?;
        let day = self.sep_digits(b'-', 2)?;
        Some((i32::try_from(year).ok()?, month, day))
    }

    fn clock(&mut self) -> Option<Clock> {
        let hour = self.digits(2)?;
        let minute = self.sep_digits(b':', 2)?;
        let mut clock = Clock { hour, minute, second: 0, nano: 0 };
        if self.peek() == Some(b':') {
            clock.second = self.sep_digits(b':', 2)?;
            if self.eat_any(b".") {
                clock.nano = self.fraction()?;
            }
        }
        Some(clock)
    }

    /// Reads one or more digits after the decimal point as nanoseconds.
    fn fraction(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let run = &self.bytes[start..self.pos];
        if run.is_empty() {
            return None;
        }
        let kept = run.iter().chain(std::iter::repeat(&b'0')).take(9);
        Some(kept.fold(0, |n, b| n * 10 + u32::from(b - b'0')))
    }

    /// Reads `Z` or `±HH:MM`.
    fn offset(&mut self) -> Option<Offset> {
        if self.eat_any(b"Zz") {
            return Some(Offset { east: true, hours: 0, minutes: 0 });
        }
        let east = match self.peek()? {
            b'+' => true,
            b'-' => false,
            _ => return None,
        };
        self.pos += 1;
        let hours = self.digits(2)?;
        let minutes = self.sep_digits(b':', 2)?;
        Some(Offset { east, hours, minutes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{Europe::Berlin, UTC};

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn date_alone_is_midnight_in_site_zone() {
        assert_eq!(parse_date("2024-03-05", UTC).unwrap(), utc("2024-03-05T00:00:00Z"));
        assert_eq!(parse_date("2024-03-05", Berlin).unwrap(), utc("2024-03-04T23:00:00Z"));
    }

    #[test]
    fn local_date_times_are_read_in_site_zone() {
        let winter = utc("2024-03-05T09:00:00Z");
        assert_eq!(parse_date("2024-03-05T10:00:00", Berlin).unwrap(), winter);
        assert_eq!(parse_date("2024-03-05 10:00:00", Berlin).unwrap(), winter);
        assert_eq!(parse_date("2024-03-05t10:00", Berlin).unwrap(), winter);
        let summer = utc("2024-07-05T08:00:00Z");
        assert_eq!(parse_date("2024-07-05T10:00", Berlin).unwrap(), summer);
    }

    #[test]
    fn fractions_keep_nanoseconds() {
        let parsed = parse_date("2024-03-05T10:00:00.123456789", UTC).unwrap();
        assert_eq!(parsed, utc("2024-03-05T10:00:00.123456789Z"));
        let short = parse_date("2024-03-05T10:00:00.5", UTC).unwrap();
        assert_eq!(short, utc("2024-03-05T10:00:00.5Z"));
        let long = parse_date("2024-03-05T10:00:00.1234567891234", UTC).unwrap();
        assert_eq!(long, utc("2024-03-05T10:00:00.123456789Z"));
    }

    #[test]
    fn offsets_are_absolute_whatever_the_site_zone() {
        let expected = utc("2024-03-05T08:00:00Z");
        assert_eq!(parse_date("2024-03-05T10:00:00+02:00", UTC).unwrap(), expected);
        assert_eq!(parse_date("2024-03-05T10:00:00+02:00", Berlin).unwrap(), expected);
        assert_eq!(parse_date("2024-03-05 03:30-04:30", Berlin).unwrap(), expected);
        assert_eq!(parse_date("2024-03-05T08:00:00Z", Berlin).unwrap(), expected);
        assert_eq!(parse_date("2024-03-05T08:00:00z", Berlin).unwrap(), expected);
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let parsed = parse_date(" \t2024-03-05T10:00:00Z\r\n", UTC).unwrap();
        assert_eq!(parsed, utc("2024-03-05T10:00:00Z"));
    }

    #[test]
    fn clocks_going_back_take_the_earlier_instant() {
        // Berlin leaves summer time at 03:00 CEST on 2024-10-27, so 02:30 happens twice.
        let parsed = parse_date("2024-10-27T02:30:00", Berlin).unwrap();
        assert_eq!(parsed, utc("2024-10-27T00:30:00Z"));
    }

    #[test]
    fn clocks_going_forward_take_the_jump() {
        // Berlin skips from 02:00 to 03:00 CET→CEST on 2024-03-31 (01:00 UTC).
        let parsed = parse_date("2024-03-31T02:30:00", Berlin).unwrap();
        assert_eq!(parsed, utc("2024-03-31T01:00:00Z"));
        assert_eq!(parsed.with_timezone(&Berlin).to_string(), "2024-03-31 03:00:00 CEST");
    }

    #[test]
    fn midnight_skipped_by_the_site_zone_is_the_jump() {
        // Chile moves its clocks from 00:00 to 01:00 on 2024-09-08, so that day has no midnight.
        let santiago = chrono_tz::America::Santiago;
        let expected = utc("2024-09-08T04:00:00Z");
        assert_eq!(parse_date("2024-09-08", santiago).unwrap(), expected);
        assert_eq!(date_from_file_stem("2024-09-08-spring", santiago).unwrap().0, expected);
    }

    #[test]
    fn month_thirteen_was_reported_as_a_day_that_does_not_exist() {
        let err = parse_date("2024-13-45", UTC).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("cannot read `2024-13-45` as a date: there is no month 13;"),
            "{message}"
        );
    }

    #[test]
    fn impossible_days_and_times_are_errors() {
        for text in ["2024-02-30", "2023-02-29", "2024-01-32"] {
            let err = parse_date(text, UTC).unwrap_err();
            assert_eq!(err.reason, Reason::NoSuchDay, "{text}");
        }
        for (text, month) in [("2024-13-01", 13), ("2024-00-10", 0)] {
            let err = parse_date(text, UTC).unwrap_err();
            assert_eq!(err.reason, Reason::NoSuchMonth(month), "{text}");
        }
        for text in ["2024-03-05T24:00", "2024-03-05T10:60", "2024-03-05T23:59:60"] {
            let err = parse_date(text, UTC).unwrap_err();
            assert_eq!(err.reason, Reason::NoSuchTime, "{text}");
        }
        for text in ["2024-03-05T10:00+24:00", "2024-03-05T10:00-02:60"] {
            let err = parse_date(text, UTC).unwrap_err();
            assert_eq!(err.reason, Reason::BadOffset, "{text}");
        }
    }

    #[test]
    fn leap_day_exists_in_leap_years() {
        assert_eq!(parse_date("2024-02-29", UTC).unwrap(), utc("2024-02-29T00:00:00Z"));
    }

    #[test]
    fn other_shapes_are_errors_that_list_the_forms() {
        let bad = [
            "",
            "2024",
            "2024-03",
            "2024-3-5",
            "03/05/2024",
            "2024/03/05",
            "March 5, 2024",
            "2024-03-05T",
            "2024-03-05T10",
            "2024-03-05T10:00:00.",
            "2024-03-05T10:00+0200",
            "2024-03-05T10:00:00 +02:00",
            "2024-03-05 extra",
            "2024-03-05T10:00Zjunk",
            "2024-03-05T10:00.5",
            "２０２４-03-05",
        ];
        for text in bad {
            let err = parse_date(text, UTC).unwrap_err();
            assert_eq!(err.reason, Reason::Shape, "{text:?}");
        }
        let message = parse_date("2024/03/05", UTC).unwrap_err().to_string();
        assert!(message.starts_with("cannot read `2024/03/05` as a date:"), "{message}");
        assert!(message.contains("`YYYY-MM-DD`"), "{message}");
        assert!(message.contains("`±HH:MM`"), "{message}");
    }

    #[test]
    fn file_stem_with_full_date_prefix() {
        let (date, rest) = date_from_file_stem("2024-03-05-hello", UTC).unwrap();
        assert_eq!((date, rest), (utc("2024-03-05T00:00:00Z"), "hello"));
        let (date, rest) = date_from_file_stem("2024-03-05_hello-world", Berlin).unwrap();
        assert_eq!((date, rest), (utc("2024-03-04T23:00:00Z"), "hello-world"));
    }

    #[test]
    fn file_stem_with_time_like_rest_keeps_it() {
        let (date, rest) = date_from_file_stem("2022-11-29-23-06", UTC).unwrap();
        assert_eq!((date, rest), (utc("2022-11-29T00:00:00Z"), "23-06"));
    }

    #[test]
    fn file_stem_without_a_whole_date_is_not_dated() {
        let stems = [
            "2018-03-tokio-runtime",
            "2024-02-30-leap",
            "2024-03-05",
            "2024-03-05-",
            "2024-03-05.hello",
            "hello",
            "",
            "2024-03-0x-hello",
            "2024-03-05é",
        ];
        for stem in stems {
            assert_eq!(date_from_file_stem(stem, UTC), None, "{stem:?}");
        }
    }

    #[test]
    fn file_stem_rest_may_be_non_ascii() {
        let (_, rest) = date_from_file_stem("2024-03-05-über", UTC).unwrap();
        assert_eq!(rest, "über");
    }
}
