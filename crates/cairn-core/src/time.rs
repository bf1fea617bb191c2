//! Times as cairn prints, records and reads them: RFC 3339, UTC, microseconds since the epoch.
//! One implementation of civil dates for every crate (`format_micros` writes, `parse_time`
//! reads what a user types as a moment: `--start`, `--end`, `--at` and the like).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the epoch (UTC) as RFC 3339 (`2026-11-26T08:30:00Z`, with a fraction
/// only when there is one).
pub fn format_micros(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}Z")
    }
}

/// Parses a moment as a user writes it, in UTC: `YYYY-MM-DD` (midnight),
/// `YYYY-MM-DDTHH:MM[:SS]` (a space may stand for the `T`), with an optional fraction of a
/// second (up to 9 digits, cut to microseconds) and an optional `Z`. Returns microseconds
/// since the epoch; `None` for anything else, an offset such as `+01:00` included, and for a
/// day or an hour that does not exist (`2026-02-29`, `25:00`). A leap second (`:60`) is
/// accepted and counts as the next second. Reads everything [`format_micros`] writes.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let y: i64 = digits(parts.next()?)?;
    let m: i64 = digits(parts.next()?)?;
    let d: i64 = digits(parts.next()?)?;
    let mut micros = days_from_civil(y, m, d)? * 86_400_000_000;
    if let Some(time) = time {
        let (hms, frac) = match time.split_once('.') {
            Some((hms, frac)) => (hms, Some(frac)),
            None => (time, None),
        };
        let mut hms = hms.splitn(3, ':');
        let h: i64 = digits(hms.next()?)?;
        let mi: i64 = digits(hms.next()?)?;
        let s: i64 = hms.next().map_or(Some(0), digits)?;
        if h > 23 || mi > 59 || s > 60 {
            return None;
        }
        micros += (h * 3600 + mi * 60 + s) * 1_000_000;
        if let Some(frac) = frac {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let padded = format!("{frac:0<6}");
            micros += padded[..6].parse::<i64>().ok()?;
        }
    }
    Some(micros)
}

/// A field of ASCII digits (no sign, no spaces), as a number.
fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date, if the date exists (Howard Hinnant's
/// days-from-civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&d) {
        return None;
    }
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Now, in microseconds since the epoch.
pub fn now_micros() -> i64 {
    micros_of(SystemTime::now())
}

/// A moment in microseconds since the epoch (negative before 1970; saturating far away).
pub fn micros_of(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |us| -us),
    }
}

/// Microseconds since the epoch as a moment.
pub fn system_time(us: i64) -> SystemTime {
    let magnitude = Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_micros(1_795_695_676_000_000), "2026-11-26T12:21:16Z");
        assert_eq!(format_micros(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            format_micros(951_782_400_000_000 + 1_500),
            "2000-02-29T00:00:00.001500Z"
        );
    }

    #[test]
    fn parse_reads_what_format_writes() {
        for us in [
            0,
            1_795_695_676_000_000,
            -1,
            951_782_400_001_500,
            -62_135_596_800_000_000, // 0001-01-01
            253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
        ] {
            assert_eq!(parse_time(&format_micros(us)), Some(us), "{us}");
        }
    }

    #[test]
    fn the_forms_a_user_writes() {
        let day = 1_767_312_000_000_000; // 2026-01-02
        assert_eq!(parse_time("2026-01-02"), Some(day));
        assert_eq!(parse_time(" 2026-01-02 "), Some(day));
        assert_eq!(parse_time("2026-01-02T00:00:01"), Some(day + 1_000_000));
        assert_eq!(parse_time("2026-01-02 00:00:01"), Some(day + 1_000_000));
        assert_eq!(parse_time("2026-01-02T10:30"), Some(day + 37_800_000_000));
        assert_eq!(parse_time("2026-01-02T10:30Z"), Some(day + 37_800_000_000));
        assert_eq!(parse_time("2026-01-02T00:00:00.5"), Some(day + 500_000));
        assert_eq!(parse_time("2026-01-02T00:00:00.000001Z"), Some(day + 1));
        // Nanoseconds are cut to microseconds, not rounded.
        assert_eq!(
            parse_time("2026-01-02T00:00:00.123456789"),
            Some(day + 123_456)
        );
        // A leap second is the next second.
        assert_eq!(
            parse_time("2026-01-01T23:59:60"),
            parse_time("2026-01-02T00:00:00")
        );
        assert_eq!(parse_time("2024-02-29"), Some(1_709_164_800_000_000));
        assert_eq!(parse_time("2000-02-29"), Some(951_782_400_000_000));
        assert_eq!(parse_time("1969-12-31T23:59:59"), Some(-1_000_000));
    }

    #[test]
    fn what_is_not_a_time() {
        for bad in [
            "",
            "Z",
            "yesterday",
            "2026",
            "2026-01",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-11-31",
            "2026-02-29",
            "1900-02-29",
            "2026-01-02T",
            "2026-01-02T25:00:00",
            "2026-01-02T10",
            "2026-01-02T10:60",
            "2026-01-02T10:00:61",
            "2026-01-02T00:00:00.",
            "2026-01-02T00:00:00.x",
            "2026-01-02T00:00:00.1234567890",
            "2026-01-02T00:00:00+01:00",
            "2026-01-02T00:00:00-01:00",
            "+2026-01-02",
            "2026-+1-02",
            "2026-01-02ZZ",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn system_times_round_trip() {
        for us in [0, 1, -1, 1_795_695_676_123_456, -86_400_000_001] {
            assert_eq!(micros_of(system_time(us)), us);
        }
    }
}
