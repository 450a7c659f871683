//! Date parsing shared by the date operators (`isAfter`, `isBefore`, `isSameAs`) and the date
//! transformers.
//!
//! XSOAR accepts "many formats" for dates (§7.4). Rather than a list of exact layouts this
//! accepts the families content produces, so a date written by one integration compares with
//! one written by another:
//!
//! * ISO 8601 / RFC 3339: `2006-01-02T15:04:05Z`, fractions, `+07:00` / `+0700` offsets, a space
//!   instead of `T`, no seconds, no offset (UTC assumed), a bare date `2006-01-02`, `/` as the
//!   date separator;
//! * textual dates in any token order: RFC 1123 (`Mon, 02 Jan 2006 15:04:05 MST`), RFC 1123Z,
//!   ANSIC (`Mon Jan  2 15:04:05 2006`), Unix date (`Mon Jan  2 15:04:05 MST 2006`), Ruby date,
//!   RFC 822 (`02 Jan 06 15:04 MST`, two-digit years read as Go does), RFC 850
//!   (`Monday, 02-Jan-06 15:04:05 MST`), `Jan 2, 2006 3:04 PM`; zone names UTC/GMT/UT/Z and the US zones, or numeric offsets;
//! * Unix epochs as numbers or digit strings: seconds, or milliseconds when the magnitude is
//!   at least 10^11 (year 5138 in seconds, 1973 in milliseconds).
//!
//! Output is always RFC 3339 (UTC shown as `Z`).

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A date from a JSON value: a number is an epoch, a string is parsed.
pub(crate) fn parse_value(v: &Value) -> Option<OffsetDateTime> {
    match v {
        Value::Number(n) => from_epoch(n.as_f64()?),
        Value::String(s) => parse_str(s),
        _ => None,
    }
}

/// A date from text in any of the accepted formats.
pub(crate) fn parse_str(text: &str) -> Option<OffsetDateTime> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
        && t.chars().any(|c| c.is_ascii_digit())
        && !t[1..].contains(['-', '+'])
    {
        return from_epoch(t.parse::<f64>().ok()?);
    }
    parse_iso(t).or_else(|| parse_textual(t))
}

/// An epoch in seconds, or milliseconds when `|n| >= 1e11`.
pub fn from_epoch(n: f64) -> Option<OffsetDateTime> {
    if !n.is_finite() {
        return None;
    }
    let seconds = if n.abs() >= 1e11 { n / 1000.0 } else { n };
    let nanos = (seconds * 1e9).round();
    if nanos.abs() > 1e28 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(nanos as i128).ok()
}

/// RFC 3339 text (`2006-01-02T15:04:05Z`, fractional seconds only when present).
pub(crate) fn format(dt: OffsetDateTime) -> Option<String> {
    dt.format(&Rfc3339).ok()
}

/// A relative time such as `1 day`, `-2 hours`, `+30m`, `in 3 days`, `2 weeks ago`,
/// `1 day, 2 hours`. Months and years are not fixed durations and are rejected.
pub(crate) fn parse_variation(text: &str) -> Option<Duration> {
    static PART: OnceLock<Option<Regex>> = OnceLock::new();
    let re = PART
        .get_or_init(|| Regex::new(r"([+-]?\s*\d+(?:\.\d+)?)\s*([a-z]+)").ok())
        .as_ref()?;
    let lower = text.trim().to_ascii_lowercase();
    let (body, sign) = match lower.strip_suffix("ago") {
        Some(rest) => (rest.trim(), -1.0),
        None => (lower.strip_prefix("in ").unwrap_or(&lower).trim(), 1.0),
    };
    let mut total = 0.0f64;
    let mut consumed = String::new();
    for cap in re.captures_iter(body) {
        let number: f64 = cap.get(1)?.as_str().replace(' ', "").parse().ok()?;
        let unit = match cap.get(2)?.as_str() {
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "week" | "weeks" => 604_800.0,
            _ => return None,
        };
        total += number * unit;
        consumed.push_str(cap.get(0)?.as_str());
    }
    let leftover: String = re.replace_all(body, "").replace("and", "");
    if consumed.is_empty() || leftover.chars().any(|c| !c.is_whitespace() && c != ',') {
        return None;
    }
    let seconds = sign * total;
    (seconds.is_finite() && seconds.abs() < 1e13).then(|| Duration::seconds_f64(seconds))
}

fn parse_iso(t: &str) -> Option<OffsetDateTime> {
    static ISO: OnceLock<Option<Regex>> = OnceLock::new();
    let re = ISO
        .get_or_init(|| {
            Regex::new(
                r"(?i)^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[t ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9})\d*)?)?)?\s*(z|utc|gmt|[+-]\d{2}(?::?\d{2})?)?$",
            )
            .ok()
        })
        .as_ref()?;
    let c = re.captures(t)?;
    let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let nanos = match c.get(7) {
        Some(m) => {
            let digits = m.as_str();
            let scale = 10u32.checked_pow(9 - digits.len() as u32)?;
            digits.parse::<u32>().ok()? * scale
        }
        None => 0,
    };
    let offset = match c.get(8) {
        Some(z) => zone_offset(z.as_str())?,
        None => 0,
    };
    build(
        i32::try_from(num(1)?).ok()?,
        num(2)?,
        num(3)?,
        (
            num(4).unwrap_or(0),
            num(5).unwrap_or(0),
            num(6).unwrap_or(0),
            nanos,
        ),
        offset,
    )
}

/// Textual dates: tokens are classified (weekday, month name, day, year, clock, AM/PM, zone)
/// regardless of their order.
fn parse_textual(t: &str) -> Option<OffsetDateTime> {
    let mut month = None;
    let mut day = None;
    let mut year = None;
    let mut clock = (0, 0, 0, 0);
    let mut pm = None;
    let mut offset = 0;
    for raw in t
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
    {
        let tok = raw.to_ascii_lowercase();
        if tok.contains(':') && tok.starts_with(|c: char| c.is_ascii_digit()) {
            clock = parse_clock(&tok)?;
        } else if tok == "am" || tok == "pm" {
            pm = Some(tok == "pm");
        } else if let Some(m) = month_of(&tok) {
            month = Some(m);
        } else if is_weekday(&tok) {
            continue;
        } else if let Some((d, m, y)) = dashed_date(&tok) {
            // RFC 850: `02-Jan-06`.
            (day, month, year) = (Some(d), Some(m), Some(y));
        } else if tok.chars().all(|c| c.is_ascii_digit()) {
            let n: u32 = tok.parse().ok()?;
            if tok.len() == 4 {
                year = Some(i32::try_from(n).ok()?);
            } else if tok.len() <= 2 && day.is_none() {
                day = Some(n);
            } else if tok.len() == 2 && year.is_none() {
                // RFC 822's two-digit year, after the day: `02 Jan 06`.
                year = Some(two_digit_year(n));
            } else {
                return None;
            }
        } else {
            offset = zone_offset(&tok)?;
        }
    }
    if let Some(pm) = pm {
        if clock.0 > 12 {
            return None;
        }
        clock.0 = (clock.0 % 12) + if pm { 12 } else { 0 };
    }
    build(year?, month?, day?, clock, offset)
}

/// Go's reading of a two-digit year: 69–99 are 1969–1999, 00–68 are 2000–2068.
fn two_digit_year(n: u32) -> i32 {
    let n = i32::try_from(n).unwrap_or(0);
    if n >= 69 {
        1900 + n
    } else {
        2000 + n
    }
}

/// `02-jan-06` or `02-jan-2006` (lower-cased): day, month, year.
fn dashed_date(tok: &str) -> Option<(u32, u32, i32)> {
    let mut parts = tok.split('-');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !(1..=2).contains(&d.len()) {
        return None;
    }
    let day = d.parse().ok()?;
    let month = month_of(m)?;
    let year = match y.len() {
        2 => two_digit_year(y.parse().ok()?),
        4 => y.parse().ok()?,
        _ => return None,
    };
    Some((day, month, year))
}

fn parse_clock(tok: &str) -> Option<(u32, u32, u32, u32)> {
    let mut parts = tok.split(':');
    let h = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let (s, nanos) = match parts.next() {
        Some(sec) => match sec.split_once(['.', ',']) {
            Some((s, frac)) => {
                let digits: String = frac.chars().take(9).collect();
                let scale = 10u32.checked_pow(9 - digits.len() as u32)?;
                (s.parse().ok()?, digits.parse::<u32>().ok()? * scale)
            }
            None => (sec.parse().ok()?, 0),
        },
        None => (0, 0),
    };
    if parts.next().is_some() {
        return None;
    }
    Some((h, m, s, nanos))
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_of(tok: &str) -> Option<u32> {
    let tok = tok.trim_end_matches('.');
    if tok.len() < 3 {
        return None;
    }
    let i = MONTHS
        .iter()
        .position(|m| m.starts_with(tok) || (tok == "sept" && *m == "september"))?;
    u32::try_from(i + 1).ok()
}

fn is_weekday(tok: &str) -> bool {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let tok = tok.trim_end_matches('.');
    tok.len() >= 3 && DAYS.iter().any(|d| d.starts_with(tok))
}

/// Offset in seconds for `Z`, `UTC`, `GMT`, `UT`, the US zone names, `+hh`, `+hhmm`, `+hh:mm`.
fn zone_offset(z: &str) -> Option<i32> {
    let lower = z.to_ascii_lowercase();
    let hours = match lower.as_str() {
        "z" | "utc" | "gmt" | "ut" => Some(0),
        "est" => Some(-5),
        "edt" | "ast" => Some(-4),
        "cst" => Some(-6),
        "cdt" => Some(-5),
        "mst" => Some(-7),
        "mdt" => Some(-6),
        "pst" => Some(-8),
        "pdt" => Some(-7),
        _ => None,
    };
    if let Some(h) = hours {
        return Some(h * 3600);
    }
    let (sign, rest) = match lower.as_bytes().first()? {
        b'+' => (1, &lower[1..]),
        b'-' => (-1, &lower[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

fn build(
    year: i32,
    month: u32,
    day: u32,
    (h, m, s, nanos): (u32, u32, u32, u32),
    offset: i32,
) -> Option<OffsetDateTime> {
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(s).ok()?,
        nanos,
    )
    .ok()?;
    let offset = UtcOffset::from_whole_seconds(offset).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}
