//! Timestamp parsing for the spellings monitoring tools use: ISO 8601 with
//! `Z`, `+hh:mm` or `+hhmm` (Suricata), a space instead of `T` and no zone
//! (Shadowserver, read as UTC), epoch seconds or milliseconds (CEF `rt`), and
//! `MMM dd [yyyy] HH:mm:ss` (syslog, CEF). Hand-written because it is on the
//! hot path of every record.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Parses an ISO 8601 / RFC 3339-like timestamp. No zone means UTC.
#[must_use]
pub fn parse_iso(s: &str) -> Option<OffsetDateTime> {
    let b = s.trim().as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start).min(9)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i) {
        None => UtcOffset::UTC,
        Some(b'Z' | b'z') if i + 1 == b.len() => UtcOffset::UTC,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (h, m) = match rest.len() {
                2 => (digits(rest, 0, 2)?, 0),
                4 => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                5 if rest[2] == b':' => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                _ => return None,
            };
            let (h, m) = (i8::try_from(h).ok()?, i8::try_from(m).ok()?);
            if sign == b'-' { UtcOffset::from_hms(-h, -m, 0).ok()? } else { UtcOffset::from_hms(h, m, 0).ok()? }
        }
        Some(_) => {
            // " UTC" suffix (IntelMQ adds it to Shadowserver times).
            if s.trim()[i..].trim().eq_ignore_ascii_case("utc") {
                UtcOffset::UTC
            } else {
                return None;
            }
        }
    };
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second.min(59)).ok()?,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Epoch seconds (≤ 11 digits) or milliseconds (12–14 digits), optionally fractional.
#[must_use]
pub fn parse_epoch(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || int.len() > 14 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = int.parse().ok()?;
    let nanos: i128 = if int.len() >= 12 {
        i128::from(n) * 1_000_000
    } else {
        let mut f: i128 = 0;
        for (k, c) in frac.bytes().take(9).enumerate() {
            f += i128::from(c - b'0') * 10i128.pow(8 - u32::try_from(k).ok()?);
        }
        i128::from(n) * 1_000_000_000 + f
    };
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// `MMM dd yyyy HH:mm:ss` or `MMM dd HH:mm:ss` (then `default_year`), UTC,
/// with optional fractional seconds and a trailing zone name ignored.
#[must_use]
pub fn parse_bsd(s: &str, default_year: i32) -> Option<OffsetDateTime> {
    let mut parts = s.split_ascii_whitespace();
    let month = month_from_abbr(parts.next()?)?;
    let day: u8 = parts.next()?.parse().ok()?;
    let third = parts.next()?;
    let (year, clock) = if third.contains(':') { (default_year, third) } else { (third.parse().ok()?, parts.next()?) };
    let clock = clock.split('.').next()?;
    let mut hms = clock.split(':');
    let h: u8 = hms.next()?.parse().ok()?;
    let m: u8 = hms.next()?.parse().ok()?;
    let sec: u8 = hms.next()?.parse().ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(h, m, sec.min(59)).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// Any of the above, tried in order.
#[must_use]
pub fn parse_any(s: &str, default_year: i32) -> Option<OffsetDateTime> {
    parse_iso(s).or_else(|| parse_epoch(s)).or_else(|| parse_bsd(s, default_year))
}

/// RFC 3339 with `Z` for UTC, as IntelMQ and JSON APIs expect.
#[must_use]
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub(crate) fn month_from_abbr(s: &str) -> Option<Month> {
    const NAMES: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let s = s.get(..3)?;
    let i = NAMES.iter().position(|n| n.eq_ignore_ascii_case(s))?;
    Month::try_from(u8::try_from(i + 1).ok()?).ok()
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let mut v = 0u32;
    for &c in b.get(at..at + n)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> String {
        parse_iso(s).map(format_rfc3339).unwrap_or_default()
    }

    #[test]
    fn iso_variants_parse_to_the_same_instant() {
        assert_eq!(iso("2018-10-03T14:42:44.836744+0000"), "2018-10-03T14:42:44.836744Z");
        assert_eq!(iso("2021-01-27T01:28:11.5+0100"), "2021-01-27T01:28:11.5+01:00");
        assert_eq!(iso("2019-09-04 05:40:55"), "2019-09-04T05:40:55Z");
        assert_eq!(iso("2019-09-04T05:40:55Z"), "2019-09-04T05:40:55Z");
        assert_eq!(iso("2019-09-04 05:40:55 UTC"), "2019-09-04T05:40:55Z");
        assert_eq!(iso("2019-09-04T05:40:55-04:30"), "2019-09-04T05:40:55-04:30");
    }

    #[test]
    fn iso_rejects_garbage() {
        for s in [
            "",
            "2019-13-01T00:00:00Z",
            "2019-02-30 00:00:00",
            "2019-09-04T05:40",
            "2019-09-04T05:40:55+1",
            "2019-09-04T05:40:55.Z",
        ] {
            assert!(parse_iso(s).is_none(), "{s}");
        }
    }

    #[test]
    fn epoch_seconds_and_millis() {
        let a = parse_epoch("1538577764").map(format_rfc3339);
        let b = parse_epoch("1538577764000").map(format_rfc3339);
        assert_eq!(a.as_deref(), Some("2018-10-03T14:42:44Z"));
        assert_eq!(a, b);
        assert!(parse_epoch("12ab").is_none());
    }

    #[test]
    fn bsd_with_and_without_year() {
        let a = parse_bsd("Oct 11 2018 22:14:15", 2000).map(format_rfc3339);
        let b = parse_bsd("Oct 11 22:14:15", 2018).map(format_rfc3339);
        assert_eq!(a.as_deref(), Some("2018-10-11T22:14:15Z"));
        assert_eq!(a, b);
        assert!(parse_bsd("Foo 11 22:14:15", 2018).is_none());
    }
}
